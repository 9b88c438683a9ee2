//! The relay's HTTP surface: receive leads, list them, show them, and (in demo mode) serve the
//! built widget.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v1/leads` | a [`LeadPayload`] (JSON, also as `text/plain` from `sendBeacon`) |
//! | `GET /v1/leads` | every stored lead, newest first ([`StoredLead`] as JSON) |
//! | `GET /leads`, `GET /leads.css` | the sales team's page ([`crate::dashboard`]) |
//! | `GET /healthz` | `ok` |
//! | `GET /*` | demo mode only: the files of `demo_dir` under [`DEMO_CSP`] |
//!
//! [`StoredLead`]: crate::store::StoredLead

use std::convert::Infallible;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::StringRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use leadgate_core::{score, Lead, LeadPayload, Timestamp};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::store::{Insert, ScoreCheck, StoreError};
use crate::{dashboard, RelayState};

/// The largest lead body accepted (64 KiB); a larger one gets 413.
pub const MAX_BODY: usize = 64 * 1024;

/// The Content-Security-Policy of the demo files: the strict policy the widget promises to
/// work under (the only extra a host needs is `'wasm-unsafe-eval'`).
pub const DEMO_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; connect-src 'self'; img-src 'self' data:";

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The relay's routes on `state` (see the module docs).
pub fn router(state: RelayState) -> Router {
    let leads: MethodRouter<RelayState> = post(receive)
        .layer::<_, Infallible>(DefaultBodyLimit::max(MAX_BODY))
        .layer::<_, Infallible>(cors(&state.allowed_origins))
        // Added after the CORS layer on purpose: other origins may post leads, not read them.
        .get(list);
    let mut app = Router::new()
        .route("/v1/leads", leads)
        .route("/leads", get(dashboard::page))
        .route("/leads.css", get(dashboard::stylesheet))
        .route("/healthz", get(|| async { "ok" }));
    if let Some(dir) = &state.demo_dir {
        app = app.fallback_service(demo_files(dir, &state.demo_connect_src));
    }
    app.with_state(state)
}

/// CORS for posting leads: `origins` (or any, with `"*"`), `POST` with the two headers the
/// widget sends. A preflight from any other origin gets no `Access-Control-Allow-Origin`.
fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Checked by `RelayState::open`; an invalid one could only match nothing anyway.
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE, IDEMPOTENCY_KEY])
        // The widget reads Retry-After to pace its retries.
        .expose_headers([RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

/// The demo directory's files (`index.html` at `/`) under [`DEMO_CSP`], revalidated on every
/// load so a rebuilt widget shows at once.
fn demo_files(dir: &Path, connect_src: &[String]) -> Router {
    let mut csp = DEMO_CSP.to_string();
    if !connect_src.is_empty() {
        csp = csp.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {}", connect_src.join(" ")),
        );
    }
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static(DEMO_CSP));
    Router::new()
        .fallback_service(ServeDir::new(dir))
        .layer(SetResponseHeaderLayer::overriding(CONTENT_SECURITY_POLICY, csp))
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
}

/// `POST /v1/leads`: checks, re-scores and stores a lead; 201 when new, 200 when already stored.
async fn receive(
    State(state): State<RelayState>,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Response {
    // Read as text whatever the content type: `navigator.sendBeacon` sends `text/plain`.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let payload = match LeadPayload::from_json(&body) {
        Ok(payload) => payload,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if let Some(key) = headers.get(IDEMPOTENCY_KEY) {
        if key.as_bytes() != payload.id.as_bytes() {
            let key = String::from_utf8_lossy(key.as_bytes());
            let message = format!(
                "the Idempotency-Key header {key:?} does not match the lead id {:?}",
                payload.id
            );
            return error(StatusCode::BAD_REQUEST, message);
        }
    }
    let now = now();
    let check = if state.forms.is_empty() {
        ScoreCheck::Unchecked
    } else if let Some(form) = state.forms.get(&payload.form_id) {
        let lead = Lead { fields: payload.fields.clone() };
        // Score at the browser's submit time, so engagement decays exactly as it did there.
        let at = payload.submitted_time().unwrap_or(now);
        let relay = score(&lead, &payload.context, &form.scoring, at);
        if relay.total == payload.score.total && relay.qualified == payload.score.qualified {
            ScoreCheck::Match
        } else {
            ScoreCheck::Mismatch
        }
    } else {
        let known: Vec<&str> = state.forms.keys().map(String::as_str).collect();
        let message = format!(
            "this relay does not know the form {:?} (it knows: {})",
            payload.form_id,
            known.join(", ")
        );
        return error(StatusCode::UNPROCESSABLE_ENTITY, message);
    };
    let key =
        headers.get(IDEMPOTENCY_KEY).map(|k| String::from_utf8_lossy(k.as_bytes()).into_owned());
    match state.store.insert(&payload, now.to_rfc3339(), check, key).await {
        Ok(Insert::Stored) => {
            (StatusCode::CREATED, Json(json!({"id": payload.id, "stored": true}))).into_response()
        }
        Ok(Insert::Repeated) => {
            (StatusCode::OK, Json(json!({"id": payload.id, "stored": false}))).into_response()
        }
        Err(e) => unavailable(&e),
    }
}

/// `GET /v1/leads`: every stored lead, newest first.
async fn list(State(state): State<RelayState>) -> Response {
    match state.store.list().await {
        Ok(leads) => Json(leads).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// A JSON error answer: `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// 503 for a storage failure, so the widget keeps the lead and retries.
pub(crate) fn unavailable(e: &StoreError) -> Response {
    eprintln!("leadgate relay: {e}");
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// The server's clock, for core (which has none of its own).
pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    Timestamp(ms)
}
