//! Network access: reading a config by URL, posting a lead, beacons. The one place that calls
//! fetch; [`crate::outbox`] decides when.
//!
//! Requests go through gloo-net (the design card's HTTP client): it sends them and reads the
//! answer. Each request itself is a `web_sys::Request`, converted into gloo-net's: the lead
//! POST needs `keepalive`, which gloo-net 0.6's builder cannot set, and its builder would also
//! re-parse every URL to merge query parameters we never add (`web_sys::Url`, `format!`).

use gloo_net::http::{Request, Response};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Headers, RequestInit};

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryError {
    /// No answer at all (offline, DNS, CORS refused, connection reset).
    Network(String),
    /// The server answered with a status other than 2xx (and maybe a `Retry-After`).
    Status(u16, Option<u64>),
}

impl DeliveryError {
    /// A sentence for the browser console.
    pub fn describe(&self) -> String {
        match self {
            DeliveryError::Network(e) => String::from("network error: ") + e,
            DeliveryError::Status(s, _) => {
                String::from("the endpoint answered HTTP ") + &s.to_string()
            }
        }
    }
}

fn js_text(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// Sends `url` with `init` through gloo-net; a 2xx answer is `Ok`.
async fn fetch(url: &str, init: &RequestInit) -> Result<Response, DeliveryError> {
    let request = web_sys::Request::new_with_str_and_init(url, init)
        .map_err(|e| DeliveryError::Network(js_text(&e)))?;
    let response =
        Request::from(request).send().await.map_err(|e| DeliveryError::Network(gloo_text(e)))?;
    if response.ok() {
        Ok(response)
    } else {
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| leadgate_core::delivery::parse_retry_after(&v));
        Err(DeliveryError::Status(response.status(), retry_after))
    }
}

/// gloo-net's error as the browser worded it (`Failed to fetch`), without the JS class name
/// its `Display` adds.
fn gloo_text(error: gloo_net::Error) -> String {
    match error {
        gloo_net::Error::JsError(e) => e.message,
        gloo_net::Error::GlooError(text) => text,
        // (Only JSON reading fails otherwise, and the widget reads no answer as JSON.)
        _ => "unreadable answer".into(),
    }
}

/// GETs `url` (relative URLs resolve against the page) and returns the body as text.
pub async fn fetch_text(url: &str) -> Result<String, DeliveryError> {
    let init = RequestInit::new();
    init.set_method("GET");
    let response = fetch(url, &init).await?;
    response.text().await.map_err(|e| DeliveryError::Network(gloo_text(e)))
}

/// What the endpoint said to one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status; `None` when there was no answer (offline, refused, timed out, CORS).
    pub status: Option<u16>,
    /// The `Retry-After` header in seconds, when the endpoint sent (and exposed) one.
    pub retry_after: Option<u64>,
    /// What went wrong, for the console and `leadgate:error`.
    pub problem: Option<String>,
}

/// How long one attempt may take before it counts as a network failure.
const ATTEMPT_TIMEOUT_MS: i32 = 15_000;

/// Bodies up to this size are sent with `keepalive`, so that leaving the page does not cancel
/// them (browsers allow 64 KiB of keepalive bodies in flight per page).
const KEEPALIVE_LIMIT: usize = 60 * 1024;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `RequestInit` with the `keepalive` member, which web-sys 0.3.107 lacks.
    #[wasm_bindgen(extends = RequestInit)]
    type KeepaliveInit;
    #[wasm_bindgen(method, setter = keepalive)]
    fn set_keepalive(this: &KeepaliveInit, value: bool);
}

/// POSTs the payload's JSON `body` with `Idempotency-Key: <lead id>`, with a timeout, and reports
/// the answer. Never fails: a failure is an [`Answer`] without a 2xx status.
pub async fn post_lead(endpoint: &str, id: &str, body: &str) -> Answer {
    let no_answer =
        |problem: String| Answer { status: None, retry_after: None, problem: Some(problem) };
    let headers = match Headers::new() {
        Ok(h) => h,
        Err(e) => return no_answer(js_text(&e)),
    };
    if let Err(e) = headers
        .set("Content-Type", "application/json")
        .and_then(|()| headers.set("Idempotency-Key", id))
    {
        return no_answer(js_text(&e));
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(body));
    if body.len() <= KEEPALIVE_LIMIT {
        init.unchecked_ref::<KeepaliveInit>().set_keepalive(true);
    }
    let timer = web_sys::AbortController::new().ok().map(|controller| {
        init.set_signal(Some(&controller.signal()));
        let abort = wasm_bindgen::closure::Closure::once_into_js(move || controller.abort());
        web_sys::window().and_then(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(
                abort.unchecked_ref(),
                ATTEMPT_TIMEOUT_MS,
            )
            .ok()
        })
    });
    let result = fetch(endpoint, &init).await;
    if let (Some(Some(id)), Some(window)) = (timer, web_sys::window()) {
        window.clear_timeout_with_handle(id);
    }
    match result {
        Ok(_) => Answer { status: Some(200), retry_after: None, problem: None },
        Err(DeliveryError::Status(status, retry_after)) => Answer {
            status: Some(status),
            retry_after,
            problem: Some(DeliveryError::Status(status, None).describe()),
        },
        Err(e) => no_answer(e.describe()),
    }
}

/// Hands the payload to `navigator.sendBeacon` (for a page that is going away): it arrives as
/// `text/plain`, without headers, so the idempotency key also goes into the URL.
pub fn beacon_lead(endpoint: &str, id: &str, body: &str) -> bool {
    let Some(window) = web_sys::window() else { return false };
    let separator = if endpoint.contains('?') { "&" } else { "?" };
    let url = String::from(endpoint) + separator + "idempotency_key=" + id;
    window.navigator().send_beacon_with_opt_str(&url, Some(body)).unwrap_or(false)
}

/// Waits `ms` milliseconds without blocking the page; `sleep(0)` ends the current task, so
/// the browser can paint and handle input before the caller goes on.
pub(crate) async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
