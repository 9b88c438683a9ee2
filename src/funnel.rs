//! Funnel events for the relay's dashboard: a form was *viewed*, *started* (first input), or
//! *submitted* (a valid submit, qualified or not; no answers in it). Batched per page and sent with `navigator.sendBeacon` (cheap, no preflight, survives
//! the page closing); never under Global Privacy Control or before consent when the config
//! requires it.

use std::cell::{Cell, RefCell};

use leadgate_core::tracking::TrackingConfig;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::signals;

/// One funnel event, as the relay's `POST /v1/events` takes it.
#[derive(Debug, Clone, Serialize)]
struct FunnelEvent {
    form_id: String,
    kind: &'static str,
    /// Unique, so that a resent batch is counted once.
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    utm_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    utm_campaign: Option<String>,
}

thread_local! {
    static QUEUE: RefCell<Vec<(String, FunnelEvent)>> = const { RefCell::new(Vec::new()) };
    static TIMER: Cell<bool> = const { Cell::new(false) };
}

/// Records that form `form_id` was viewed (`"view"`), started (`"start"`) or submitted
/// (`"submit"`), for `endpoint`.
pub fn record(
    endpoint: Option<&str>,
    form_id: &str,
    kind: &'static str,
    tracking: &TrackingConfig,
) {
    let Some(endpoint) = endpoint else { return };
    if !signals::may_track(tracking) {
        return;
    }
    let context = signals::collect();
    let event = FunnelEvent {
        form_id: form_id.into(),
        kind,
        id: signals::new_lead_id(),
        utm_source: context.utm.get("utm_source").cloned(),
        utm_campaign: context.utm.get("utm_campaign").cloned(),
    };
    QUEUE.with(|q| q.borrow_mut().push((endpoint.to_string(), event)));
    if !TIMER.with(|t| t.replace(true)) {
        let flush = Closure::once_into_js(|| {
            TIMER.with(|t| t.set(false));
            flush();
        });
        if let Some(window) = web_sys::window() {
            let _ = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(flush.unchecked_ref(), 1000);
        }
    }
}

/// Sends what is queued, one beacon per endpoint (also called when the page goes away).
pub fn flush() {
    let queued = QUEUE.with(|q| std::mem::take(&mut *q.borrow_mut()));
    let Some(window) = web_sys::window() else { return };
    let mut endpoints: Vec<&str> = queued.iter().map(|(e, _)| e.as_str()).collect();
    endpoints.dedup();
    for endpoint in endpoints {
        let batch: Vec<&FunnelEvent> =
            queued.iter().filter(|(e, _)| e == endpoint).map(|(_, ev)| ev).collect();
        if let Ok(body) = serde_json::to_string(&batch) {
            // Analytics only: a refused beacon loses a count, never a lead.
            let _ = window.navigator().send_beacon_with_opt_str(endpoint, Some(&body));
        }
    }
}
