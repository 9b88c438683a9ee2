//! The visitor context sent with a lead: this page (URL, referrer, UTM parameters, click ids)
//! and, where the config and the visitor allow it, what the widget remembers from earlier
//! pages of the site: first and last touch, visits (30 minutes idle ends one), pages seen with
//! their times (the last 100), first-seen time and time on site.

use std::cell::RefCell;

use leadgate_core::tracking::TrackingConfig;
use leadgate_core::{Timestamp, Touch, VisitorContext, VisitorMemory, CLICK_IDS};

use crate::storage::Store;

/// The UTM parameters read from the page URL.
pub const UTM_PARAMETERS: [&str; 5] =
    ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];

const VISITOR_KEY: &str = "visitor";
const CONSENT_KEY: &str = "tracking-consent";

thread_local! {
    /// This page's view of the memory, and whether it is stored.
    static PAGE: RefCell<Option<(VisitorMemory, bool)>> = const { RefCell::new(None) };
}

/// The current time, for scoring and `submitted_at`.
pub fn now() -> Timestamp {
    Timestamp(js_sys::Date::now() as u64)
}

/// This page as an arrival: URL, referrer, UTM parameters and click ids.
pub fn this_page() -> Touch {
    let mut touch = Touch { at: now().to_rfc3339(), ..Default::default() };
    let Some(window) = web_sys::window() else { return touch };
    let location = window.location();
    touch.page_url = location.href().unwrap_or_default();
    touch.referrer = window.document().map(|d| d.referrer()).filter(|r| !r.is_empty());
    let search = location.search().unwrap_or_default();
    if let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) {
        for (names, into) in
            [(&UTM_PARAMETERS[..], &mut touch.utm), (&CLICK_IDS[..], &mut touch.click_ids)]
        {
            for name in names {
                if let Some(value) = params.get(name).filter(|v| !v.is_empty()) {
                    into.insert((*name).into(), value);
                }
            }
        }
    }
    touch
}

/// Whether the browser sends Global Privacy Control.
fn global_privacy_control() -> bool {
    web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w.navigator(), &"globalPrivacyControl".into()).ok())
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Whether the widget may record anything about the visitor under `tracking` (funnel
/// events included).
pub fn may_track(tracking: &TrackingConfig) -> bool {
    let gpc = tracking.honor_gpc && global_privacy_control();
    match Store::local() {
        Some(store) => may_store(tracking, &store),
        // Without storage there is no consent record: only a config that needs none allows it.
        None => !tracking.require_consent && !gpc,
    }
}

/// The storage for what the widget keeps about the visitor (context, a half-filled form), if
/// `tracking` and the visitor allow keeping anything now.
pub fn keeping_store(tracking: &TrackingConfig) -> Option<Store> {
    Store::local().filter(|s| may_store(tracking, s))
}

/// Whether the widget may store the visitor's context under `tracking`.
fn may_store(tracking: &TrackingConfig, store: &Store) -> bool {
    if tracking.honor_gpc && global_privacy_control() {
        return false;
    }
    !tracking.require_consent || store.get(CONSENT_KEY, |n| n.boolean()).unwrap_or(false)
}

/// Records this page view, once per page: a new visit after `visit_timeout_minutes` idle or
/// when the visitor arrives from a campaign link. Stored only if `tracking` allows it now;
/// otherwise kept for this page until [`grant_consent`].
pub fn record_page_view(tracking: &TrackingConfig) {
    let store = Store::local();
    let allowed = store.as_ref().is_some_and(|s| may_store(tracking, s));
    let already = PAGE.with(|p| p.borrow().as_ref().map(|(_, stored)| *stored));
    match already {
        Some(true) => return,
        Some(false) => {
            if allowed {
                persist();
            }
            return;
        }
        None => {}
    }
    let mut memory: VisitorMemory =
        store.as_ref().and_then(|s| s.get(VISITOR_KEY, VisitorMemory::read)).unwrap_or_default();
    memory.record_page_view(this_page(), now(), tracking.visit_timeout_minutes);
    PAGE.with(|p| *p.borrow_mut() = Some((memory, false)));
    if allowed {
        persist();
    }
}

/// On a page without a widget: counts the page view only for a visitor the widget already
/// remembers (the form's page decided that it may), and never under Global Privacy Control.
pub fn resume_tracking() {
    let known = Store::local().is_some_and(|s| s.get(VISITOR_KEY, VisitorMemory::read).is_some());
    if known {
        record_page_view(&TrackingConfig::default());
    }
}

/// The visitor agreed (ticked a consent box): remember that, and store the context.
pub fn grant_consent(tracking: &TrackingConfig) {
    if !tracking.require_consent {
        return;
    }
    if let Some(store) = Store::local() {
        // Without storage there is nothing to remember, and nothing is stored either.
        let _ = store.set(CONSENT_KEY, &true);
        if may_store(tracking, &store) {
            persist();
        }
    }
}

fn persist() {
    let Some(store) = Store::local() else { return };
    PAGE.with(|p| {
        if let Some((memory, stored)) = p.borrow_mut().as_mut() {
            // Storage full or refused: the lead still carries this page's context.
            *stored = store.set(VISITOR_KEY, memory).is_ok();
        }
    });
}

/// The context to send with a lead now.
pub fn collect() -> VisitorContext {
    let memory = PAGE.with(|p| p.borrow().as_ref().map(|(m, _)| m.clone())).unwrap_or_default();
    memory.context(this_page(), now())
}

/// A fresh lead id (UUID v4) from the browser's cryptographic randomness.
pub fn new_lead_id() -> String {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if !filled {
        // No Web Crypto (very old browser): Math.random is still unique enough for an id.
        for b in bytes.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    leadgate_core::payload::lead_id(bytes)
}
