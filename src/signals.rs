//! The visitor context sent with a lead: page, referrer, UTM parameters, click ids.

use leadgate_core::VisitorContext;

/// The UTM parameters read from the page URL.
pub const UTM_PARAMETERS: [&str; 5] =
    ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];

/// The ad click ids read from the page URL.
pub const CLICK_IDS: [&str; 7] =
    ["gclid", "gbraid", "wbraid", "fbclid", "msclkid", "li_fat_id", "ttclid"];

/// Reads the context of the current page.
pub fn collect() -> VisitorContext {
    let mut context = VisitorContext { visits: 1, pages_seen: 1, ..Default::default() };
    let Some(window) = web_sys::window() else { return context };
    let location = window.location();
    context.page_url = location.href().unwrap_or_default();
    if let Some(referrer) = window.document().map(|d| d.referrer()).filter(|r| !r.is_empty()) {
        context.referrer = Some(referrer);
    }
    if let Ok(params) =
        web_sys::UrlSearchParams::new_with_str(&location.search().unwrap_or_default())
    {
        for name in UTM_PARAMETERS {
            if let Some(value) = params.get(name).filter(|v| !v.is_empty()) {
                context.utm.insert(name.into(), value);
            }
        }
        for name in CLICK_IDS {
            if let Some(value) = params.get(name).filter(|v| !v.is_empty()) {
                context.click_ids.insert(name.into(), value);
            }
        }
    }
    context
}

/// The current time, for scoring and `submitted_at`.
pub fn now() -> leadgate_core::Timestamp {
    leadgate_core::Timestamp(js_sys::Date::now() as u64)
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
