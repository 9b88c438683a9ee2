//! What the widget reads back from `localStorage` through core: any stored text under
//! `leadgate:visitor` (the visitor's memory) or `leadgate:outbox` (leads waiting to be sent)
//! is read or refused, never a panic, and a memory that reads becomes a visitor context that
//! scores (hits add up, within the caps) at the epoch, now and the end of time.
//!
//! The widget's readers (`Memory::read` in `src/signals.rs`, `Entry::read` in
//! `src/outbox.rs`, `EventDetail::read` in `src/events.rs`) are private to the wasm crate,
//! so they are repeated here read for read: the same core calls (`json::parse`, `Node`,
//! `Touch::read`, `PageView::read`) on the same keys, as `Store::get` makes them. Keep
//! them in step with the widget.
#![no_main]

use leadgate_core::json::{parse, Json, Node, Read};
use leadgate_core::{PageView, Timestamp, Touch, VisitorContext, MAX_PAGES};
use leadgate_fuzz::{model, score_all, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // `Store::get`: text → tree → reader; either failing is "nothing stored".
    let Ok(json) = parse(text) else { return };
    let root = Node::root(&json);
    if let Ok(memory) = read_memory(&root) {
        let context = collect(memory);
        assert!(context.recent_pages().len() <= MAX_PAGES);
        let lead = leadgate_fuzz::lead_from(model(), &leadgate_fuzz::words(&json, 8));
        score_all(&lead, &context, model());
    }
    let _ = read_outbox(&root);
});

/// `src/signals.rs` `Memory`.
struct Memory {
    first_seen: Option<Timestamp>,
    first_touch: Option<Touch>,
    last_touch: Option<Touch>,
    visits: u32,
    pages_seen: u32,
    landing_page: Option<String>,
    pages: Vec<PageView>,
    seconds_on_site: u64,
    last_activity: u64,
}

/// `Memory::read`.
fn read_memory(node: &Node) -> Read<Memory> {
    let obj = node.any_object()?;
    Ok(Memory {
        first_seen: obj.opt("first_seen", Node::unsigned)?.map(Timestamp),
        first_touch: obj.opt("first_touch", Touch::read)?,
        last_touch: obj.opt("last_touch", Touch::read)?,
        visits: obj.opt("visits", Node::count)?.unwrap_or_default(),
        pages_seen: obj.opt("pages_seen", Node::count)?.unwrap_or_default(),
        landing_page: obj.opt_string("landing_page")?,
        pages: obj.opt("pages", |n| n.list(|p| PageView::read(&p)))?.unwrap_or_default(),
        seconds_on_site: obj.opt("seconds_on_site", Node::unsigned)?.unwrap_or_default(),
        last_activity: obj.opt("last_activity", Node::unsigned)?.unwrap_or_default(),
    })
}

/// `signals::collect` on a page at `NOW` without URL parameters. The time on this page is
/// added with saturation here; the widget's plain `+` (and `record_page_view`'s `+= 1`s)
/// wrap in a release build on stored values near the top of their range.
fn collect(memory: Memory) -> VisitorContext {
    let touch = Touch { at: Timestamp(NOW).to_rfc3339(), ..Default::default() };
    let on_this_page = NOW.saturating_sub(memory.last_activity) / 1000;
    let mut context = VisitorContext {
        page_url: touch.page_url.clone(),
        first_touch: memory.first_touch.or_else(|| Some(touch.clone())),
        last_touch: memory.last_touch.or(Some(touch)),
        visits: memory.visits.max(1),
        pages_seen: memory.pages_seen.max(1),
        landing_page: memory.landing_page,
        pages: memory.pages,
        first_seen: memory.first_seen,
        seconds_on_site: memory.seconds_on_site.saturating_add(if memory.last_activity > 0 {
            on_this_page
        } else {
            0
        }),
        ..Default::default()
    };
    context.push_page("/pricing".into(), Timestamp(NOW));
    context
}

/// `src/outbox.rs` `load`: a list of entries, an entry that can't be read skipped.
fn read_outbox(node: &Node) -> Read<Vec<()>> {
    let Json::Array(_) = node.json() else { return Ok(Vec::new()) };
    Ok(node.list(|item| Ok(read_entry(&item).ok()))?.into_iter().flatten().collect())
}

/// `Entry::read`, with `EventDetail::read` for its `detail`.
fn read_entry(node: &Node) -> Read<()> {
    let obj = node.any_object()?;
    let number = |key| obj.opt(key, Node::unsigned).map(Option::unwrap_or_default);
    let _ = (obj.need("id")?.string()?, obj.need("body")?.string()?);
    if let Some(detail) = obj.get("detail") {
        let d = detail.any_object()?;
        let _ = (d.opt_string("form_id")?, d.opt_string("lead_id")?, d.opt("score", Node::int)?);
        let _ =
            (d.opt_string("grade")?, d.opt_string("stage")?, d.opt("qualified", Node::boolean)?);
        let _ = (d.opt_string("error")?, d.get("fields").map(|n| n.json().to_value()));
    }
    let _ = (obj.need("endpoint")?.string()?, number("created_at")?, number("expires_at")?);
    let _ = (obj.opt("attempts", Node::count)?, number("next_at")?);
    let _ = (obj.opt("dead_until", Node::unsigned)?, obj.opt_string("last_error")?);
    let _ = obj.opt("dead_letter_days", Node::count)?;
    Ok(())
}
