//! The relay's intake path for a lead, in core terms (`leadgate-relay/src/routes.rs`
//! `receive`): `LeadPayload::from_json` (which runs `check`), then `sanitize`, then the
//! relay's field checks (`Lead::validate`) and its re-scoring at the browser's submit time
//! with a fixed config (the fuzz model and the demo's form). No panic anywhere; after
//! `sanitize` the payload still passes `check`, holds no NUL and no context text beyond its
//! limit, and a second `sanitize` changes nothing; the stored form (`Serialize`) reads back
//! to the same payload (a float in `meta` to within serde_json's reading precision).
#![no_main]

use leadgate_core::{score, Lead, LeadPayload, Timestamp, Visibility, MAX_CONTEXT_TEXT, MAX_URL};
use leadgate_fuzz::{check_score, demo, model, same_value, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut payload = match LeadPayload::from_json(text) {
        Ok(payload) => payload,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    payload.sanitize();
    assert_eq!(payload.sanitize(), 0, "sanitize is not idempotent: {payload:?}");
    if let Err(e) = payload.check() {
        panic!("a payload that passed check fails it after sanitize: {e}");
    }
    bounded(&payload);

    for form in [model(), demo()] {
        let lead = Lead { fields: payload.fields.clone() };
        let at = payload.submitted_time().unwrap_or(Timestamp(NOW));
        let _ = Visibility::of(form, &lead, &payload.context, at).errors(form, &lead, None);
        check_score(&score(&lead, &payload.context, &form.scoring, at), form);
    }
    for touch in [&payload.context.first_touch, &payload.context.last_touch].into_iter().flatten() {
        let _ = Timestamp::parse_rfc3339(&touch.at).map(Timestamp::to_rfc3339);
    }

    let stored = serde_json::to_string(&payload).unwrap_or_else(|e| panic!("{e}"));
    match LeadPayload::from_json(&stored) {
        Ok(mut again) => {
            // serde_json reads a float to within an ulp or so, not exactly (its
            // `float_roundtrip` feature is off), so a number in the free-form `meta` may move.
            let meta = again.meta.take();
            let same = meta.as_ref().map_or(payload.meta.is_none(), |m| {
                payload.meta.as_ref().is_some_and(|p| same_value(&m.value(), &p.value()))
            });
            assert!(same, "{stored}");
            again.meta = payload.meta.clone();
            assert_eq!(again, payload, "{stored}");
        }
        Err(e) => panic!("the stored payload does not read back: {e}\n{stored}"),
    }
});

/// No NUL in the answers or the context, and each context text within its limit.
fn bounded(payload: &LeadPayload) {
    let within = |text: &str, limit: usize| !text.contains('\0') && text.chars().count() <= limit;
    for (name, value) in &payload.fields {
        assert!(within(name, usize::MAX) && within(value.as_text(), usize::MAX), "{name:?}");
    }
    let c = &payload.context;
    let urls = [Some(&c.page_url), c.referrer.as_ref(), c.landing_page.as_ref()];
    for url in urls.into_iter().flatten().chain(c.pages.iter().map(|p| &p.url)) {
        assert!(within(url, MAX_URL), "{url:?}");
    }
    let touches = [&c.first_touch, &c.last_touch].into_iter().flatten();
    let mut maps = vec![&c.utm, &c.click_ids];
    for touch in touches {
        assert!(within(&touch.at, MAX_CONTEXT_TEXT) && within(&touch.page_url, MAX_URL));
        assert!(touch.referrer.as_deref().is_none_or(|r| within(r, MAX_URL)));
        maps.extend([&touch.utm, &touch.click_ids]);
    }
    for (key, value) in maps.into_iter().flatten() {
        assert!(within(key, MAX_CONTEXT_TEXT) && within(value, MAX_CONTEXT_TEXT), "{key:?}");
    }
}
