//! Network access: reading a config by URL and posting a lead. The one place that calls fetch.

use leadgate_core::LeadPayload;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryError {
    /// No answer at all (offline, DNS, CORS refused, connection reset).
    Network(String),
    /// The server answered with a status other than 2xx.
    Status(u16),
}

impl DeliveryError {
    /// A sentence for the browser console.
    pub fn describe(&self) -> String {
        match self {
            DeliveryError::Network(e) => String::from("network error: ") + e,
            DeliveryError::Status(s) => {
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

async fn fetch(url: &str, init: &RequestInit) -> Result<Response, DeliveryError> {
    let window = web_sys::window().ok_or_else(|| DeliveryError::Network("no window".into()))?;
    let answer = JsFuture::from(window.fetch_with_str_and_init(url, init))
        .await
        .map_err(|e| DeliveryError::Network(js_text(&e)))?;
    let response: Response = answer.dyn_into().map_err(|e| DeliveryError::Network(js_text(&e)))?;
    if response.ok() {
        Ok(response)
    } else {
        Err(DeliveryError::Status(response.status()))
    }
}

/// GETs `url` (relative URLs resolve against the page) and returns the body as text.
pub async fn fetch_text(url: &str) -> Result<String, DeliveryError> {
    let init = RequestInit::new();
    init.set_method("GET");
    let response = fetch(url, &init).await?;
    let text = response.text().map_err(|e| DeliveryError::Network(js_text(&e)))?;
    let text = JsFuture::from(text).await.map_err(|e| DeliveryError::Network(js_text(&e)))?;
    Ok(text.as_string().unwrap_or_default())
}

/// POSTs the payload as JSON with `Idempotency-Key: <lead id>`. A 2xx answer is delivery.
pub async fn send(endpoint: &str, payload: &LeadPayload) -> Result<(), DeliveryError> {
    let body = serde_json::to_string(payload).map_err(|e| DeliveryError::Network(e.to_string()))?;
    let headers = Headers::new().map_err(|e| DeliveryError::Network(js_text(&e)))?;
    headers
        .set("Content-Type", "application/json")
        .and_then(|()| headers.set("Idempotency-Key", &payload.id))
        .map_err(|e| DeliveryError::Network(js_text(&e)))?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(&body));
    fetch(endpoint, &init).await.map(|_| ())
}
