//! The relay's HTTP surface: receive leads and widget events ([`intake`]), list and show leads
//! ([`api`], [`dashboard`]), manage the forwarding queue, and (in demo mode) serve the built
//! widget. Who may call what is [`auth`]'s (extractors a handler takes); every failure becomes
//! its answer in [`error`] ([`AppError`]). This file holds the route list, in one place.
//!
//! | route | who | what |
//! | --- | --- | --- |
//! | `POST /v1/leads` | public | a [`LeadPayload`] as `application/json` (or `text/plain` with `?idempotency_key=`: `sendBeacon`), with the widget's `meta` object (honeypot, fill time) |
//! | `POST /v1/events` | public | widget funnel events (`application/json` or `text/plain`): `[{"form_id", "kind": "view"\|"start", "at", "id"?, "utm_source"?, "utm_campaign"?}]` |
//! | `GET /v1/leads` | token | stored leads, newest first ([`StoredLead`] as JSON); `?q=` e-mail/domain, `?limit=` |
//! | `GET /v1/stats` | token | the dashboard's numbers ([`Funnel`] as JSON) |
//! | `GET /v1/deliveries` | token | webhook messages; `?status=pending\|delivered\|dead` |
//! | `POST /v1/deliveries/replay` | Bearer token | dead letters back in the queue; `?lead_id=`, `?webhook=` |
//! | `GET /leads`, `GET /leads.csv` | token | the dashboard ([`crate::dashboard`], served by [`dashboard`]) and its CSV export; `?q=` |
//! | `POST /leads/{id}/outcome` | token + CSRF, same site | the dashboard's outcome buttons (form: `status`, `reason`, `note`, `amount`); 303 back to `/leads` |
//! | `POST /leads/outcomes-import` | token + CSRF, same site | the dashboard's CSV import of outcomes (form: `csv`); all or none, 400 page naming bad lines |
//! | `GET /insights` | token | the insights as a page (funnel, score bands, speed to lead as SVG bars; rules, reasons); `?form=&from=&to=` |
//! | `GET /leads.css` | public | the dashboard's stylesheet |
//! | `GET /healthz` | public | `ok` when the database answers |
//! | `GET /*` | public | demo mode only: the files of `demo_dir` under [`DEMO_CSP`] |
//!
//! "token": `Authorization: Bearer <token>` or basic auth with the token as password; when the
//! relay has no `dashboard_token`, open to requests whose `Host` is localhost, an IP address or
//! one of `allowed_hosts` ([`auth::Reader`]). State-changing routes take the Bearer token only, or
//! without a token refuse requests from other sites ([`auth::Operator`]). Public routes refuse
//! `Origin`s that are not allowed ([`crate::guard`] has every rule).
//!
//! [`LeadPayload`]: leadgate_core::LeadPayload
//! [`StoredLead`]: crate::store::StoredLead
//! [`Funnel`]: crate::store::Funnel

pub mod api;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod export;
pub mod insights;
pub mod intake;
pub mod sales;

use std::convert::Infallible;
use std::path::Path;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Query};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde::de::DeserializeOwned;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

pub use self::auth::{credential, CsrfError, CsrfKey, CSRF_MAX_AGE_MS};
pub use self::error::{AppError, Refused};
use self::intake::IDEMPOTENCY_KEY;
pub use self::intake::{spam_reason, MAX_BODY, MAX_EVENTS, MAX_EVENTS_BODY, MAX_FIELDS};
use crate::RelayState;

/// The Content-Security-Policy of the demo files: the strict policy the widget promises to
/// work under (the only extra a host needs is `'wasm-unsafe-eval'`).
pub const DEMO_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; connect-src 'self'; img-src 'self' data:";

/// The relay's routes on `state` (see the module docs): the one list of them.
pub fn router(state: RelayState) -> Router {
    let leads: MethodRouter<RelayState> = post(intake::receive)
        .layer::<_, Infallible>(DefaultBodyLimit::max(MAX_BODY))
        .layer::<_, Infallible>(cors(&state.allowed_origins))
        // Added after the CORS layer on purpose: other origins may post leads, not read them.
        .get(api::list);
    let events: MethodRouter<RelayState> = post(intake::receive_events)
        .layer::<_, Infallible>(DefaultBodyLimit::max(MAX_EVENTS_BODY))
        .layer::<_, Infallible>(cors(&state.allowed_origins));
    let mut app = Router::new()
        .route("/v1/leads", leads)
        .route("/v1/events", events)
        .route("/v1/stats", get(api::stats))
        .route("/v1/deliveries", get(api::deliveries))
        .route("/v1/deliveries/replay", post(api::replay))
        .route("/leads", get(dashboard::page))
        .route("/leads/{id}/outcome", post(dashboard::post_outcome))
        .route("/leads/outcomes-import", post(dashboard::import_outcomes))
        .route("/leads.csv", get(dashboard::csv))
        .route("/leads.css", get(dashboard::stylesheet))
        .route("/insights", get(insights::page))
        .route("/healthz", get(api::health))
        // Outcomes, config versions, insights, the SLA (each route there).
        .merge(sales::routes());
    if let Some(dir) = &state.demo_dir {
        app = app.fallback_service(demo_files(dir, &state.demo_connect_src));
    }
    let body_timeout = std::time::Duration::from_millis(state.limits.body_timeout_ms.max(1));
    app.layer(RequestBodyTimeoutLayer::new(body_timeout)).with_state(state)
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

/// The demo directory's files (`index.html` at `/`) under [`DEMO_CSP`], served as
/// [`crate::widget_files`] says (CORS, revalidated on every load, content types).
fn demo_files(dir: &Path, connect_src: &[String]) -> Router {
    let mut csp = DEMO_CSP.to_string();
    if !connect_src.is_empty() {
        csp = csp.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {}", connect_src.join(" ")),
        );
    }
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static(DEMO_CSP));
    crate::widget_files::router(dir)
        .layer(SetResponseHeaderLayer::overriding(CONTENT_SECURITY_POLICY, csp))
}

/// A query string read into `T`; a bad one is a JSON 400 like every other error.
#[derive(Debug)]
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params<T>, AppError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(params)) => Ok(Params(params)),
            Err(rejection) => Err(AppError::BadQuery(rejection.body_text())),
        }
    }
}
