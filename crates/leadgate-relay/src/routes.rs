//! The relay's HTTP surface: receive leads and widget events, list and show leads, manage
//! the forwarding queue, and (in demo mode) serve the built widget.
//!
//! | route | who | what |
//! | --- | --- | --- |
//! | `POST /v1/leads` | public | a [`LeadPayload`] as `application/json` (or `text/plain` with `?idempotency_key=`: `sendBeacon`), with the widget's `meta` object (honeypot, fill time) |
//! | `POST /v1/events` | public | widget funnel events (`application/json` or `text/plain`): `[{"form_id", "kind": "view"\|"start", "at", "id"?, "utm_source"?, "utm_campaign"?}]` |
//! | `GET /v1/leads` | token | stored leads, newest first ([`StoredLead`] as JSON); `?q=` e-mail/domain, `?limit=` |
//! | `GET /v1/stats` | token | the dashboard's numbers ([`Funnel`] as JSON) |
//! | `GET /v1/deliveries` | token | webhook messages; `?status=pending\|delivered\|dead` |
//! | `POST /v1/deliveries/replay` | Bearer token | dead letters back in the queue; `?lead_id=`, `?webhook=` |
//! | `GET /leads`, `GET /leads.csv` | token | the dashboard ([`crate::dashboard`]) and its CSV export; `?q=` |
//! | `GET /leads.css` | public | the dashboard's stylesheet |
//! | `GET /healthz` | public | `ok` when the database answers |
//! | `GET /*` | public | demo mode only: the files of `demo_dir` under [`DEMO_CSP`] |
//!
//! "token": `Authorization: Bearer <token>` or basic auth with the token as password; when the
//! relay has no `dashboard_token`, open to requests whose `Host` is localhost, an IP address or
//! one of `allowed_hosts` ([`Reader`]). State-changing routes take the Bearer token only, or
//! without a token refuse requests from other sites ([`Operator`]). Public routes refuse
//! `Origin`s that are not allowed ([`crate::guard`] has every rule).
//!
//! [`StoredLead`]: crate::store::StoredLead
//! [`Funnel`]: crate::store::Funnel

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::StringRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Query, State};
use axum::http::header::{
    AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Json, Router};
use base64::Engine;
use leadgate_core::{
    score, FieldKind, FieldValue, FormConfig, Lead, LeadPayload, Score, Timestamp,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::forward::message_body;
use crate::guard::{check_host, check_origin, check_same_site, token_matches, Refusal};
use crate::logline::{log, Level};
use crate::store::{DeliveryStatus, Insert, LeadQuery, NewEvent, NewLead, ScoreCheck, StoreError};
use crate::{dashboard, RelayState};

/// The largest lead body accepted (64 KiB); a larger one gets 413.
pub const MAX_BODY: usize = 64 * 1024;

/// The largest events body accepted (16 KiB).
pub const MAX_EVENTS_BODY: usize = 16 * 1024;

/// The most events in one batch.
pub const MAX_EVENTS: usize = 100;

/// Limits on a lead of a form the relay has no config for: fields, name length, value length.
pub const MAX_FIELDS: usize = 100;
const MAX_FIELD_NAME: usize = 100;
const MAX_FIELD_VALUE: usize = 10_000;

/// The Content-Security-Policy of the demo files: the strict policy the widget promises to
/// work under (the only extra a host needs is `'wasm-unsafe-eval'`).
pub const DEMO_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; connect-src 'self'; img-src 'self' data:";

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// The relay's routes on `state` (see the module docs).
pub fn router(state: RelayState) -> Router {
    let leads: MethodRouter<RelayState> = post(receive)
        .layer::<_, Infallible>(DefaultBodyLimit::max(MAX_BODY))
        .layer::<_, Infallible>(cors(&state.allowed_origins))
        // Added after the CORS layer on purpose: other origins may post leads, not read them.
        .get(list);
    let events: MethodRouter<RelayState> = post(receive_events)
        .layer::<_, Infallible>(DefaultBodyLimit::max(MAX_EVENTS_BODY))
        .layer::<_, Infallible>(cors(&state.allowed_origins));
    let mut app = Router::new()
        .route("/v1/leads", leads)
        .route("/v1/events", events)
        .route("/v1/stats", get(stats))
        .route("/v1/deliveries", get(deliveries))
        .route("/v1/deliveries/replay", post(replay))
        .route("/leads", get(dashboard::page))
        .route("/leads.csv", get(dashboard::csv))
        .route("/leads.css", get(dashboard::stylesheet))
        .route("/healthz", get(health))
        .merge(crate::sales_api::routes());
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

/// `POST /v1/leads`: checks, re-scores and stores a lead, and queues it for the webhooks
/// its (relay) score routes it to. 201 `{"id", "stored": true}` once it is committed; the same
/// answer for a repeat (with `Idempotent-Replayed: true`), and for spam (a bot learns nothing).
async fn receive(
    State(state): State<RelayState>,
    peer: Peer,
    headers: HeaderMap,
    beacon: Result<Query<BeaconParams>, axum::extract::rejection::QueryRejection>,
    body: Result<String, StringRejection>,
) -> Response {
    let started = Instant::now();
    let ip = client_ip(&state, &headers, peer);
    if let Some(response) = rate_limit(&state, ip, "/v1/leads") {
        return response;
    }
    if let Err(refusal) = check_origin(&headers, &state.allowed_origins) {
        return refuse(StatusCode::FORBIDDEN, refusal.to_string(), ip);
    }
    let beacon_key = match beacon {
        Ok(Query(params)) => params.idempotency_key,
        Err(rejection) => return refuse(StatusCode::BAD_REQUEST, rejection.body_text(), ip),
    };
    // `navigator.sendBeacon` can't set headers: it sends `text/plain` with the key in the URL.
    if let Err(message) = content_type(&headers, beacon_key.is_some(), "a lead") {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, message, ip);
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_refused(rejection, MAX_BODY, "a lead", ip),
    };
    let mut payload = match LeadPayload::from_json(&body) {
        Ok(payload) => payload,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string(), ip),
    };
    // NUL characters out, context strings within their limits: the lead is kept.
    payload.sanitize();
    let header_key = headers.get(IDEMPOTENCY_KEY).map(|k| String::from_utf8_lossy(k.as_bytes()));
    for (what, key) in [
        ("Idempotency-Key header", header_key.as_deref()),
        ("idempotency_key", beacon_key.as_deref()),
    ] {
        if let Some(key) = key.filter(|k| !k.eq_ignore_ascii_case(&payload.id)) {
            let message = format!("the {what} {key:?} does not match the lead id {:?}", payload.id);
            return refuse(StatusCode::BAD_REQUEST, message, ip);
        }
    }
    let now = now();
    // Scored by the version that scored it in the browser (its `score.model`), else the
    // current one; the catalog's lock is let go before anything waits.
    let known = {
        let catalog = crate::versions::read(&state.catalog);
        if catalog.is_empty() {
            Ok(None)
        } else {
            catalog
                .for_lead(&payload.form_id, &payload.score.model)
                .map(Some)
                .ok_or_else(|| catalog.form_ids())
        }
    };
    let form_arc = match known {
        Ok(form) => form,
        Err(known) => {
            let message = format!(
                "this relay does not know the form {:?} (it knows: {})",
                payload.form_id,
                known.join(", ")
            );
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, message, ip);
        }
    };
    let form = form_arc.as_deref();
    if let Err(message) = check_fields(&payload, form) {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, message, ip);
    }
    let (check, relay_score) = match form {
        None => (ScoreCheck::Unchecked, None),
        Some(form) => {
            let lead = Lead { fields: payload.fields.clone() };
            // Score at the browser's submit time, so engagement decays exactly as it did there.
            let at = payload.submitted_time().unwrap_or(now);
            let relay = score(&lead, &payload.context, &form.scoring, at);
            let same =
                relay.total == payload.score.total && relay.qualified == payload.score.qualified;
            (if same { ScoreCheck::Match } else { ScoreCheck::Mismatch }, Some(relay))
        }
    };
    let meta = payload.meta.clone().filter(Value::is_object);
    let spam = spam_reason(meta.as_ref(), state.min_fill_ms, state.require_meta);
    let received_at = now.to_rfc3339();
    let qualified = relay_score.as_ref().unwrap_or(&payload.score).qualified;
    let deliveries = match queue_for(&state, &payload, relay_score.as_ref(), check, &received_at) {
        Ok(deliveries) if spam.is_none() => deliveries,
        Ok(_) => Vec::new(),
        Err(e) => return unavailable(&StoreError::Encode(e)),
    };
    let queued = deliveries.len();
    let id = payload.id.clone();
    let form_id = payload.form_id.clone();
    let lead = NewLead {
        email: lead_email(&payload, form),
        payload,
        received_at,
        check,
        idempotency_key: header_key.map(String::from).or(beacon_key),
        relay_score,
        spam: spam.map(str::to_string),
        meta,
        deliveries,
    };
    let inserted = match state.store.insert(lead).await {
        Ok(inserted) => inserted,
        Err(e) => return unavailable(&e),
    };
    if inserted == Insert::Stored && queued > 0 {
        state.wake.notify_one();
    }
    let ms = started.elapsed().as_micros() as f64 / 1000.0;
    let ip_text = ip.map_or("-".to_string(), |ip| ip.to_string());
    let event = match (inserted, spam) {
        (Insert::Repeated, _) => "lead.repeated",
        (Insert::Stored, Some(_)) => "lead.spam",
        (Insert::Stored, None) => "lead.stored",
    };
    log(
        Level::Info,
        event,
        &[
            ("id", &id),
            ("form", &form_id),
            ("check", &check.as_str()),
            ("qualified", &qualified),
            ("spam", &spam.unwrap_or("-")),
            ("queued", &queued),
            ("ip", &ip_text),
            ("ms", &ms),
        ],
    );
    let mut response =
        (StatusCode::CREATED, Json(json!({"id": id, "stored": true}))).into_response();
    if inserted == Insert::Repeated {
        response.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// The webhook messages a lead goes out as: one per webhook whose route and forms want it.
fn queue_for(
    state: &RelayState,
    payload: &LeadPayload,
    relay_score: Option<&Score>,
    check: ScoreCheck,
    received_at: &str,
) -> Result<Vec<(String, String)>, serde_json::Error> {
    let qualified = relay_score.unwrap_or(&payload.score).qualified;
    let wanted: Vec<&str> = state
        .webhooks
        .iter()
        .filter(|w| w.wants(&payload.form_id, qualified))
        .map(|w| w.name.as_str())
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let body = message_body(payload, relay_score, check, received_at)?;
    Ok(wanted.into_iter().map(|name| (name.to_string(), body.clone())).collect())
}

/// Field limits: against the form's config when the relay has it (every field's own checks,
/// and no field it does not know), else generic bounds.
fn check_fields(payload: &LeadPayload, form: Option<&FormConfig>) -> Result<(), String> {
    let Some(form) = form else {
        if payload.fields.len() > MAX_FIELDS {
            return Err(format!("a lead may have {MAX_FIELDS} fields at most"));
        }
        for (name, value) in &payload.fields {
            if name.chars().count() > MAX_FIELD_NAME {
                return Err(format!("field names may be {MAX_FIELD_NAME} characters at most"));
            }
            if value.as_text().chars().count() > MAX_FIELD_VALUE {
                return Err(format!(
                    "fields.{name}: values may be {MAX_FIELD_VALUE} characters at most"
                ));
            }
        }
        return Ok(());
    };
    if let Some(name) = payload.fields.keys().find(|n| !form.fields.iter().any(|f| &f.name == *n)) {
        return Err(format!("fields.{name}: the form {:?} has no such field", form.form_id));
    }
    let lead = Lead { fields: payload.fields.clone() };
    let errors = lead.validate(form);
    if errors.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = errors
        .iter()
        .map(|(name, e)| {
            let what = match e {
                leadgate_core::FieldError::Required => "is required".to_string(),
                leadgate_core::FieldError::InvalidEmail => "is not an e-mail address".to_string(),
                leadgate_core::FieldError::TooShort(n) => format!("is shorter than {n}"),
                leadgate_core::FieldError::TooLong(n) => format!("is longer than {n}"),
                leadgate_core::FieldError::NotAnOption => "is not one of the options".to_string(),
                _ => "is not valid".to_string(),
            };
            format!("fields.{name} {what}")
        })
        .collect();
    Err(list.join("; "))
}

/// The visitor's e-mail, lowercased: the form's e-mail field, else a field named `email`, else
/// the first answer with an `@`.
fn lead_email(payload: &LeadPayload, form: Option<&FormConfig>) -> String {
    let configured = form
        .and_then(|f| f.fields.iter().find(|field| field.kind == FieldKind::Email))
        .and_then(|field| payload.fields.get(&field.name));
    configured
        .or_else(|| payload.fields.get("email"))
        .or_else(|| {
            payload.fields.values().find(|v| matches!(v, FieldValue::Text(t) if t.contains('@')))
        })
        .map(|v| v.as_text().trim().to_lowercase())
        .unwrap_or_default()
}

/// `?idempotency_key=` of a beacon.
#[derive(Debug, Deserialize)]
struct BeaconParams {
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// Whether the body's `Content-Type` is JSON, or `text/plain` where a beacon may send it.
fn content_type(headers: &HeaderMap, text_ok: bool, what: &str) -> Result<(), String> {
    let given = headers.get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()));
    let essence = given.as_deref().and_then(|t| t.split(';').next()).map(str::trim);
    let essence = essence.map(str::to_ascii_lowercase);
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some("text/plain") if text_ok => Ok(()),
        _ => Err(format!(
            "send {what} as Content-Type: application/json{} (got {})",
            if text_ok { " or text/plain" } else { "" },
            given.as_deref().map_or("none".to_string(), |t| format!("{t:?}"))
        )),
    }
}

/// A body that could not be read: too large (413 naming the limit), too slow, or not UTF-8.
fn body_refused(
    rejection: StringRejection,
    limit: usize,
    what: &str,
    ip: Option<IpAddr>,
) -> Response {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let message = format!(
            "the body is larger than {limit} bytes ({} KiB), the most {what} may be",
            limit / 1024
        );
        return refuse(status, message, ip);
    }
    refuse(status, rejection.body_text(), ip)
}

/// Why a lead is spam: `honeypot` (the hidden field was filled in), `too_fast` (submitted
/// less than `min_fill_ms` after the form appeared), and with `require_meta`: `no_meta` (no
/// `meta` object: not sent by the widget) or `no_fill_time` (`meta.fill_ms` is not a number).
pub fn spam_reason(
    meta: Option<&Value>,
    min_fill_ms: u64,
    require_meta: bool,
) -> Option<&'static str> {
    let Some(meta) = meta.filter(|m| m.is_object()) else {
        return require_meta.then_some("no_meta");
    };
    let honeypot = match meta.get("honeypot") {
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Null) | Some(Value::Bool(false)) | None => false,
        Some(_) => true,
    };
    if honeypot {
        return Some("honeypot");
    }
    match meta.get("fill_ms").map(Value::as_f64) {
        Some(Some(ms)) if ms < min_fill_ms as f64 => Some("too_fast"),
        Some(Some(_)) => None,
        // Missing, or a string, a list...: the widget always sends a number.
        Some(None) | None => require_meta.then_some("no_fill_time"),
    }
}

/// One widget event as posted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventIn {
    #[serde(default)]
    id: Option<String>,
    form_id: String,
    kind: String,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    utm_source: Option<String>,
    #[serde(default)]
    utm_campaign: Option<String>,
}

/// `POST /v1/events`: counts a batch of widget events; 202 `{"accepted": n}`.
async fn receive_events(
    State(state): State<RelayState>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Response {
    let ip = client_ip(&state, &headers, peer);
    if let Some(response) = rate_limit(&state, ip, "/v1/events") {
        return response;
    }
    if let Err(refusal) = check_origin(&headers, &state.allowed_origins) {
        return refuse(StatusCode::FORBIDDEN, refusal.to_string(), ip);
    }
    if let Err(message) = content_type(&headers, true, "events") {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, message, ip);
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_refused(rejection, MAX_EVENTS_BODY, "a batch of events", ip),
    };
    let batch: Vec<EventIn> = match serde_json::from_str(&body) {
        Ok(batch) => batch,
        Err(e) => {
            let message = format!(
                "the body is not a list of events [{{\"form_id\", \"kind\": \"view\"|\"start\", \"at\"}}]: {e}"
            );
            return refuse(StatusCode::BAD_REQUEST, message, ip);
        }
    };
    if batch.len() > MAX_EVENTS {
        let message = format!("send {MAX_EVENTS} events at most per batch");
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, message, ip);
    }
    let now = now();
    let day = now.to_rfc3339().get(..10).unwrap_or_default().to_string();
    let mut events = Vec::with_capacity(batch.len());
    for (i, e) in batch.into_iter().enumerate() {
        if !["view", "start", "submit"].contains(&e.kind.as_str()) {
            let message =
                format!("[{i}].kind {:?} is not \"view\", \"start\" or \"submit\"", e.kind);
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, message, ip);
        }
        let unknown = {
            let catalog = crate::versions::read(&state.catalog);
            !catalog.is_empty() && !catalog.knows(&e.form_id)
        };
        if unknown {
            let message =
                format!("[{i}].form_id: this relay does not know the form {:?}", e.form_id);
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, message, ip);
        }
        let texts = [
            Some(&e.form_id),
            e.id.as_ref(),
            e.at.as_ref(),
            e.utm_source.as_ref(),
            e.utm_campaign.as_ref(),
        ];
        let bad = |t: &&String| t.chars().count() > 200 || t.contains('\0');
        if e.form_id.is_empty() || texts.iter().flatten().any(bad) {
            let message = format!(
                "[{i}]: form_id is required and every value is 200 characters at most, \
                 without NUL characters"
            );
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, message, ip);
        }
        events.push(NewEvent {
            id: e.id,
            form_id: e.form_id,
            kind: e.kind,
            at: e.at.unwrap_or_else(|| now.to_rfc3339()),
            day: day.clone(),
            utm_source: e.utm_source.unwrap_or_default(),
            utm_campaign: e.utm_campaign.unwrap_or_default(),
        });
    }
    match state.store.record_events(events).await {
        Ok(accepted) => (StatusCode::ACCEPTED, Json(json!({"accepted": accepted}))).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// `?q=&limit=` of the lead lists.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParams {
    /// Search: e-mail address or domain.
    #[serde(default)]
    pub q: Option<String>,
    /// At most this many.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only leads older than this lead id (the next page).
    #[serde(default)]
    pub before: Option<String>,
}

/// `GET /v1/leads`: stored leads, newest first.
async fn list(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<ListParams>,
) -> Response {
    match state
        .store
        .list(LeadQuery { search: params.q, limit: params.limit, before: params.before })
        .await
    {
        Ok(leads) => Json(leads).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// `GET /v1/stats`: the dashboard's numbers.
async fn stats(_: Reader, State(state): State<RelayState>) -> Response {
    match state.store.funnel().await {
        Ok(funnel) => Json(funnel).into_response(),
        Err(e) => unavailable(&e),
    }
}

#[derive(Debug, Deserialize)]
struct DeliveryParams {
    #[serde(default)]
    status: Option<DeliveryStatus>,
}

/// `GET /v1/deliveries`: the webhook messages.
async fn deliveries(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<DeliveryParams>,
) -> Response {
    match state.store.deliveries(params.status).await {
        Ok(records) => Json(records).into_response(),
        Err(e) => unavailable(&e),
    }
}

#[derive(Debug, Deserialize)]
struct ReplayParams {
    #[serde(default)]
    lead_id: Option<String>,
    #[serde(default)]
    webhook: Option<String>,
}

/// `POST /v1/deliveries/replay`: dead letters back in the queue; `{"replayed": n}`.
async fn replay(
    _: Operator,
    State(state): State<RelayState>,
    Params(params): Params<ReplayParams>,
) -> Response {
    match state.store.replay_dead(params.lead_id, params.webhook, now().0).await {
        Ok(n) => {
            state.wake.notify_one();
            log(Level::Info, "forward.replayed", &[("messages", &n)]);
            Json(json!({"replayed": n})).into_response()
        }
        Err(e) => unavailable(&e),
    }
}

/// `GET /healthz`: `ok` when the database answers.
async fn health(State(state): State<RelayState>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ok".into_response(),
        Err(e) => unavailable(&e),
    }
}

/// Read access to leads: the token when the relay has one (Bearer, or basic auth with the
/// token as password), else a `Host` an open dashboard answers to. As an extractor, a handler
/// that takes it can't forget the check; its rejection is the 401 or 403 to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader;

/// Access to a state-changing route: the Bearer token when the relay has one (a browser never
/// adds that by itself, so no CSRF), else an allowed `Host` and a request not from another
/// site ([`check_same_site`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operator;

impl FromRequestParts<RelayState> for Reader {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, state: &RelayState) -> Result<Reader, Denied> {
        authorize(state, &parts.headers, false).map(|()| Reader)
    }
}

impl FromRequestParts<RelayState> for Operator {
    type Rejection = Denied;

    async fn from_request_parts(parts: &mut Parts, state: &RelayState) -> Result<Operator, Denied> {
        authorize(state, &parts.headers, true)?;
        if state.dashboard_token.is_none() {
            check_same_site(&parts.headers).map_err(Denied::Refused)?;
        }
        Ok(Operator)
    }
}

/// Why [`Reader`] or [`Operator`] turned a request away.
#[derive(Debug)]
pub(crate) enum Denied {
    /// No valid token: 401 (with `bearer_only`, only a Bearer token would do).
    Token {
        /// Whether basic auth was not enough.
        bearer_only: bool,
    },
    /// A [`crate::guard`] rule: 403.
    Refused(Refusal),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Token { bearer_only } => {
                let message = if bearer_only {
                    "this needs the relay's token as Authorization: Bearer <token>"
                } else {
                    "the dashboard needs the relay's token"
                };
                let mut response = error(StatusCode::UNAUTHORIZED, message);
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Basic realm=\"leadgate dashboard\", charset=\"UTF-8\"",
                    ),
                );
                response
            }
            Denied::Refused(refusal) => {
                log(Level::Warn, "request.refused", &[("status", &403), ("error", &refusal)]);
                error(StatusCode::FORBIDDEN, refusal.to_string())
            }
        }
    }
}

/// The token check behind [`Reader`] and [`Operator`]. With `bearer_only`, basic auth (which
/// browsers resend by themselves) is not enough.
fn authorize(state: &RelayState, headers: &HeaderMap, bearer_only: bool) -> Result<(), Denied> {
    let Some(token) = state.dashboard_token.as_deref() else {
        return check_host(headers, &state.allowed_hosts).map_err(Denied::Refused);
    };
    let given = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let ok = if let Some(bearer) = given.strip_prefix("Bearer ") {
        token_matches(bearer.trim().as_bytes(), token.as_bytes())
    } else if let Some(basic) = given.strip_prefix("Basic ").filter(|_| !bearer_only) {
        let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim());
        let decoded = decoded.ok().and_then(|d| String::from_utf8(d).ok()).unwrap_or_default();
        let password = decoded.split_once(':').map(|(_, p)| p).unwrap_or_default();
        token_matches(password.as_bytes(), token.as_bytes())
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(Denied::Token { bearer_only })
    }
}

/// A query string read into `T`; a bad one is a JSON 400 like every other error.
#[derive(Debug)]
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params<T>, Response> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(params)) => Ok(Params(params)),
            Err(rejection) => Err(error(StatusCode::BAD_REQUEST, rejection.body_text())),
        }
    }
}

/// The client's address (see [`crate::guard::client_ip`]).
fn client_ip(state: &RelayState, headers: &HeaderMap, peer: Peer) -> Option<IpAddr> {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    crate::guard::client_ip(headers, peer, state.trust_forwarded_for)
}

/// 429 with `Retry-After` when `ip` is over the limit.
fn rate_limit(state: &RelayState, ip: Option<IpAddr>, route: &str) -> Option<Response> {
    let (Some(limiter), Some(ip)) = (&state.limiter, ip) else {
        return None;
    };
    limiter.check(ip, Instant::now()).err().map(|wait| {
        log(
            Level::Warn,
            "request.rate_limited",
            &[("ip", &ip), ("route", &route), ("retry_after", &wait)],
        );
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests from this address; try again in {wait} s"),
        );
        if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        response
    })
}

/// A refused request: logged, answered with the reason.
fn refuse(status: StatusCode, message: impl Into<String>, ip: Option<IpAddr>) -> Response {
    let message = message.into();
    let ip = ip.map_or("-".to_string(), |ip| ip.to_string());
    log(
        Level::Warn,
        "request.refused",
        &[("status", &status.as_u16()), ("ip", &ip), ("error", &message)],
    );
    error(status, message)
}

/// A JSON error answer: `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// 503 for a storage failure, so the widget keeps the lead and retries.
pub(crate) fn unavailable(e: &StoreError) -> Response {
    log(Level::Error, "store.failed", &[("error", e)]);
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
