//! What the widget reads back from `localStorage` through core: any stored text under
//! `leadgate:visitor` (the visitor's memory) or `leadgate:outbox` (leads waiting to be sent)
//! is read or refused, never a panic, and a memory that reads records a page view and becomes
//! a visitor context that scores (hits add up, within the caps) at the epoch, now and the end
//! of time.
//!
//! The widget's own readers are core's (`VisitorMemory::read`, `outbox::read_entries`), so
//! this target calls exactly what `src/signals.rs` and `src/outbox.rs` call after
//! `Store::get`: text → tree → reader, either failing being "nothing stored".
#![no_main]

use leadgate_core::json::{parse, Node};
use leadgate_core::{outbox, Timestamp, Touch, VisitorMemory, MAX_PAGES};
use leadgate_fuzz::{model, score_all, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(json) = parse(text) else { return };
    let root = Node::root(&json);
    if let Ok(mut memory) = VisitorMemory::read(&root) {
        // `signals::record_page_view` and `signals::collect` on a page at `NOW` without URL
        // parameters.
        let page = || Touch { at: Timestamp(NOW).to_rfc3339(), ..Default::default() };
        memory.record_page_view(page(), Timestamp(NOW), 30);
        let mut context = memory.context(page(), Timestamp(NOW));
        context.push_page("/pricing".into(), Timestamp(NOW));
        assert!(context.pages.len() <= MAX_PAGES);
        let lead = leadgate_fuzz::lead_from(model(), &leadgate_fuzz::words(&json, 8));
        score_all(&lead, &context, model());
    }
    let _ = outbox::read_entries(&root);
});
