//! What the visitor did before submitting: attribution and engagement, filled in by the widget
//! (from the page URL, `document.referrer` and its own small store) and read by engagement
//! rules. Every field has a default, so older payloads and partial contexts still parse.
//!
//! Times: new fields use [`Timestamp`] (milliseconds since the epoch, a JSON number); the
//! touches' `at` stays RFC 3339 text as in payload v1.

use serde::{Deserialize, Serialize};

use crate::json::{Node, Read};
use crate::map::Map;
use crate::time::Timestamp;

/// How many page views a context keeps (the most recent); scoring reads no more than these.
pub const MAX_PAGES: usize = 100;

/// The ad click ids the widget reads from the page URL, and the only ones a
/// `click_id_present` condition may name.
pub const CLICK_IDS: [&str; 7] =
    ["gclid", "gbraid", "wbraid", "fbclid", "msclkid", "li_fat_id", "ttclid"];

/// Where the visitor came from and what they did (attribution and engagement).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VisitorContext {
    /// The URL of the page the form was submitted on.
    pub page_url: String,
    /// `document.referrer` of that page, if any.
    pub referrer: Option<String>,
    /// `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content` from the page
    /// URL, by their full names (`"utm_source": "google"`).
    pub utm: Map<String>,
    /// Ad click ids from the page URL by name (those in [`CLICK_IDS`]).
    pub click_ids: Map<String>,
    /// The visitor's first recorded arrival on this site (kept across visits).
    pub first_touch: Option<Touch>,
    /// The arrival that started the current visit.
    pub last_touch: Option<Touch>,
    /// Visits to the site so far, this one included (a visit ends after 30 minutes idle).
    pub visits: u32,
    /// Pages seen so far, this one included (all of them, not only those in `pages`).
    pub pages_seen: u32,
    /// The URL of the first page of the current visit.
    pub landing_page: Option<String>,
    /// The most recent page views, oldest first, at most [`MAX_PAGES`] (the widget drops the
    /// oldest). Engagement rules count and decay these.
    pub pages: Vec<PageView>,
    /// When the visitor was first seen on this site.
    pub first_seen: Option<Timestamp>,
    /// Time spent on the site's pages, all visits together, in seconds.
    pub seconds_on_site: u64,
}

/// One page view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PageView {
    /// The page's URL or path (`https://example.com/pricing` or `/pricing`); rules match its
    /// path, without query and fragment.
    pub url: String,
    /// When the page was seen.
    pub at: Timestamp,
}

/// One arrival on the site, for attribution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Touch {
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The landing page URL.
    pub page_url: String,
    /// The referrer then, if any.
    pub referrer: Option<String>,
    /// UTM parameters then, by their full names.
    pub utm: Map<String>,
    /// Ad click ids then, by name.
    pub click_ids: Map<String>,
}

impl Touch {
    /// Reads a touch as written by `Serialize` (missing keys take their defaults).
    pub fn read(node: &Node) -> Read<Touch> {
        let obj = node.any_object()?;
        Ok(Touch {
            at: obj.opt_string("at")?.unwrap_or_default(),
            page_url: obj.opt_string("page_url")?.unwrap_or_default(),
            referrer: obj.opt_string("referrer")?,
            utm: obj.opt("utm", Node::string_map)?.unwrap_or_default(),
            click_ids: obj.opt("click_ids", Node::string_map)?.unwrap_or_default(),
        })
    }
}

impl PageView {
    /// Reads a page view as written by `Serialize` (missing keys take their defaults).
    pub fn read(node: &Node) -> Read<PageView> {
        let obj = node.any_object()?;
        Ok(PageView {
            url: obj.opt_string("url")?.unwrap_or_default(),
            at: Timestamp(obj.opt("at", Node::unsigned)?.unwrap_or_default()),
        })
    }
}

impl VisitorContext {
    /// Records a page view, dropping the oldest beyond [`MAX_PAGES`].
    pub fn push_page(&mut self, url: String, at: Timestamp) {
        push_page(&mut self.pages, PageView { url, at });
    }

    /// The page views scoring reads: the last [`MAX_PAGES`].
    pub fn recent_pages(&self) -> &[PageView] {
        &self.pages[self.pages.len().saturating_sub(MAX_PAGES)..]
    }
}

/// Adds `view` to `pages`, dropping the oldest beyond [`MAX_PAGES`] (a context's pages and the
/// widget's memory of them).
pub fn push_page(pages: &mut Vec<PageView>, view: PageView) {
    pages.push(view);
    let extra = pages.len().saturating_sub(MAX_PAGES);
    pages.drain(..extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded() {
        let mut c = VisitorContext::default();
        for i in 0..150 {
            c.push_page("/p".into(), Timestamp(i));
        }
        assert_eq!(c.pages.len(), MAX_PAGES);
        assert_eq!(c.pages[0].at, Timestamp(50));
        c.pages.extend(c.pages.clone());
        assert_eq!(c.recent_pages().len(), MAX_PAGES);
    }

    #[test]
    fn old_contexts_still_parse() {
        let c: VisitorContext =
            serde_json::from_str(r#"{"page_url": "https://x.com/", "visits": 2}"#).unwrap();
        assert_eq!((c.visits, c.pages.len(), c.seconds_on_site), (2, 0, 0));
        let c: VisitorContext = serde_json::from_str(
            r#"{"pages": [{"url": "/pricing", "at": 5}], "first_seen": 1,
                "last_touch": {"at": "2026-11-26T00:00:00Z", "click_ids": {"gclid": "x"}}}"#,
        )
        .unwrap();
        assert_eq!(c.pages[0].at, Timestamp(5));
        assert_eq!(c.last_touch.unwrap().click_ids["gclid"], "x");
    }
}
