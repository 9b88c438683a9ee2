//! What the widget remembers about the visitor between pages (kept in `localStorage` as JSON
//! under `leadgate:visitor`), how a page view updates it, and the [`VisitorContext`] it gives
//! a lead. Plain data and arithmetic: the widget reads the clock and the page, and the fuzz
//! target drives the same functions on any stored text. Counts saturate: a stored value near
//! the top of its range stays there instead of wrapping.

use serde::Serialize;

use crate::context::{push_page, PageView, Touch, VisitorContext};
use crate::json::{Node, Read};
use crate::time::Timestamp;

/// What the widget remembers about the visitor between pages.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VisitorMemory {
    /// When the visitor was first seen on this site.
    pub first_seen: Option<Timestamp>,
    /// The first recorded arrival.
    pub first_touch: Option<Touch>,
    /// The arrival that started the current visit.
    pub last_touch: Option<Touch>,
    /// Visits so far.
    pub visits: u32,
    /// Pages seen so far.
    pub pages_seen: u32,
    /// The first page of the current visit.
    pub landing_page: Option<String>,
    /// The most recent page views, oldest first (see [`crate::MAX_PAGES`]).
    pub pages: Vec<PageView>,
    /// Time on the site's pages before the last page view, in seconds.
    pub seconds_on_site: u64,
    /// When the last page was viewed (ms since the epoch); 0 for never.
    pub last_activity: u64,
}

/// A half-filled form kept in the browser across a reload (under `leadgate:draft:<form id>`,
/// by the same consent and GPC rules as [`VisitorMemory`]); never sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FormDraft {
    /// The step the visitor was on (an index into the form's pages).
    pub step: usize,
    /// The answers typed so far, by field name.
    pub answers: crate::Map<crate::lead::FieldValue>,
}

impl FormDraft {
    /// Reads what `Serialize` wrote; answers that are neither text nor a tick are dropped.
    pub fn read(node: &Node) -> Read<FormDraft> {
        let obj = node.any_object()?;
        let answers = obj.opt("answers", crate::lead::read_answers)?.unwrap_or_default();
        Ok(FormDraft { step: obj.opt("step", Node::count)?.unwrap_or_default() as usize, answers })
    }
}

impl VisitorMemory {
    /// Reads what `Serialize` wrote (missing keys take their defaults).
    pub fn read(node: &Node) -> Read<VisitorMemory> {
        let obj = node.any_object()?;
        Ok(VisitorMemory {
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

    /// Records a view of the page `touch` at `now`: a new visit after `visit_timeout_minutes`
    /// idle (at least 1) or when the visitor arrives from a campaign link (UTM or click id).
    pub fn record_page_view(&mut self, touch: Touch, now: Timestamp, visit_timeout_minutes: u32) {
        let idle_ms = u64::from(visit_timeout_minutes.max(1)) * 60_000;
        let idle = now.0.saturating_sub(self.last_activity);
        let campaign = !touch.utm.is_empty() || !touch.click_ids.is_empty();
        if self.visits == 0 || idle > idle_ms || campaign {
            self.visits = self.visits.saturating_add(1);
            self.landing_page = Some(touch.page_url.clone());
            self.last_touch = Some(touch.clone());
        } else {
            self.seconds_on_site = self.seconds_on_site.saturating_add(idle / 1000);
        }
        if self.first_seen.is_none() {
            self.first_seen = Some(now);
            self.first_touch = Some(touch.clone());
        }
        self.pages_seen = self.pages_seen.saturating_add(1);
        push_page(&mut self.pages, PageView { url: touch.page_url, at: now });
        self.last_activity = now.0;
    }

    /// The context to send with a lead submitted at `now` on the page `touch`.
    pub fn context(self, touch: Touch, now: Timestamp) -> VisitorContext {
        let on_this_page = if self.last_activity > 0 {
            now.0.saturating_sub(self.last_activity) / 1000
        } else {
            0
        };
        VisitorContext {
            page_url: touch.page_url.clone(),
            referrer: touch.referrer.clone(),
            utm: touch.utm.clone(),
            click_ids: touch.click_ids.clone(),
            first_touch: self.first_touch.or_else(|| Some(touch.clone())),
            last_touch: self.last_touch.or(Some(touch)),
            visits: self.visits.max(1),
            pages_seen: self.pages_seen.max(1),
            landing_page: self.landing_page,
            pages: self.pages,
            first_seen: self.first_seen,
            seconds_on_site: self.seconds_on_site.saturating_add(on_this_page),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn page(url: &str) -> Touch {
        Touch { page_url: url.into(), ..Default::default() }
    }

    #[test]
    fn page_views_make_visits_and_time_on_site() {
        let mut m = VisitorMemory::default();
        m.record_page_view(page("/a"), Timestamp(1_000_000), 30);
        m.record_page_view(page("/b"), Timestamp(1_060_000), 30);
        assert_eq!((m.visits, m.pages_seen, m.seconds_on_site), (1, 2, 60));
        // 31 minutes idle: a new visit, landing on /c.
        m.record_page_view(page("/c"), Timestamp(1_060_000 + 31 * 60_000), 30);
        assert_eq!((m.visits, m.landing_page.as_deref()), (2, Some("/c")));
        let mut ad = page("/d");
        ad.click_ids.insert("gclid".into(), "x".into());
        m.record_page_view(ad, Timestamp(1_060_000 + 32 * 60_000), 30);
        assert_eq!(m.visits, 3);
        assert_eq!(m.first_touch.as_ref().map(|t| t.page_url.as_str()), Some("/a"));
        let c = m.context(page("/d"), Timestamp(1_060_000 + 33 * 60_000));
        assert_eq!((c.visits, c.pages.len(), c.seconds_on_site), (3, 4, 120));
    }

    #[test]
    fn stored_counts_at_their_limits_saturate() {
        let text = r#"{"visits": 4294967295, "pages_seen": 4294967295,
            "seconds_on_site": 18446744073709551615, "last_activity": 1}"#;
        let mut m = VisitorMemory::read(&Node::root(&parse(text).unwrap())).unwrap();
        m.record_page_view(page("/a"), Timestamp(2_000), 30);
        m.record_page_view(page("/a"), Timestamp(u64::MAX), 30);
        assert_eq!((m.visits, m.pages_seen), (u32::MAX, u32::MAX));
        let c = m.clone().context(page("/a"), Timestamp(u64::MAX));
        assert_eq!(c.seconds_on_site, u64::MAX);
        assert_eq!(VisitorMemory::default().context(page("/x"), Timestamp(5)).visits, 1);
    }
}
