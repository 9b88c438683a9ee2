//! The public intake: `POST /v1/leads` and `POST /v1/events`, what the widget sends.
//!
//! A lead goes through named steps, each a function: [`admit`] (rate limit, `Origin`) →
//! [`parse`] (content type, body, payload, idempotency key) → [`check`] (the form is known, its
//! fields pass) → [`spam`] (honeypot, fill time) → [`rescore`] (the relay's own score) →
//! [`queue`] (the webhook messages its score routes it to) → [`store`] (lead and messages in one
//! transaction, then the forwarder is woken). Each refusal is an [`AppError`] with the reason.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::{QueryRejection, StringRejection};
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use leadgate_core::{
    score, FieldError, FieldKind, FieldValue, FormConfig, Lead, LeadPayload, Meta, Score,
    Timestamp, Visibility,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{AppError, Refused};
use crate::clock;
use crate::forward::message_body;
use crate::guard::check_origin;
use crate::logline::{log, Level};
use crate::store::{Insert, NewEvent, NewLead, ScoreCheck, StoreError};
use crate::versions::{self, SharedCatalog};
use crate::RelayState;

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

pub(super) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The connection's peer address, when the server recorded it.
pub(super) type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// `?idempotency_key=` of a beacon.
#[derive(Debug, Deserialize)]
pub(super) struct BeaconParams {
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// `POST /v1/leads`: checks, re-scores and stores a lead, and queues it for the webhooks
/// its (relay) score routes it to. 201 `{"id", "stored": true}` once it is committed; the same
/// answer for a repeat (with `Idempotent-Replayed: true`), and for spam (a bot learns nothing).
pub(super) async fn receive(
    State(state): State<RelayState>,
    peer: Peer,
    headers: HeaderMap,
    beacon: Result<Query<BeaconParams>, QueryRejection>,
    body: Result<String, StringRejection>,
) -> Result<Response, AppError> {
    let started = Instant::now();
    let ip = client_ip(&state, &headers, peer);
    admit(&state, &headers, ip, "/v1/leads")?;
    let refused = |why: Refused| why.from_client(ip);
    let received = parse(&headers, beacon, body).map_err(refused)?;
    let form = check(&state.catalog, &received.payload).map_err(refused)?;
    let form = form.as_deref();
    let spam = spam_reason(received.meta.as_ref(), state.min_fill_ms, state.require_meta);
    let now = clock::now();
    let (check, relay_score) = rescore(&received.payload, form, now);
    let received_at = now.to_rfc3339();
    let deliveries = match spam {
        None => queue(&state, &received.payload, relay_score.as_ref(), check, &received_at)?,
        Some(_) => Vec::new(),
    };
    // Boxed: the lead moves from this handler into the store's job through several futures,
    // and a kilobyte copied at each step was 10% of the relay's instructions (callgrind).
    let lead = Box::new(NewLead {
        email: lead_email(&received.payload, form),
        payload: received.payload,
        received_at,
        check,
        idempotency_key: received.idempotency_key,
        relay_score,
        spam: spam.map(str::to_string),
        meta: received.meta,
        deliveries,
    });
    let (id, form_id) = (lead.payload.id.clone(), lead.payload.form_id.clone());
    let qualified = lead.relay_score.as_ref().unwrap_or(&lead.payload.score).qualified;
    let queued = lead.deliveries.len();
    let inserted = store(&state, lead).await?;

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
    Ok(response)
}

/// Step 1 of both routes: the address is under the rate limit (else 429 with `Retry-After`),
/// and a browser page that sent the request is an allowed origin (else 403).
fn admit(
    state: &RelayState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    route: &'static str,
) -> Result<(), AppError> {
    if let (Some(limiter), Some(ip)) = (&state.limiter, ip) {
        if let Err(wait) = limiter.check(ip, Instant::now()) {
            return Err(AppError::RateLimited { ip, route, wait });
        }
    }
    check_origin(headers, &state.allowed_origins).map_err(|r| Refused::from(r).from_client(ip))
}

/// A lead as read from the request.
#[derive(Debug)]
struct Received {
    /// The payload, sanitized.
    payload: LeadPayload,
    /// The `Idempotency-Key` header, else the beacon's `?idempotency_key=`.
    idempotency_key: Option<String>,
    /// The widget's `meta` object (`LeadPayload.meta`) when it is one.
    meta: Option<Value>,
}

/// Step 2: the body, read as a lead: JSON (or `text/plain` with `?idempotency_key=`, as
/// `navigator.sendBeacon` sends it), within [`MAX_BODY`], a [`LeadPayload`] whose id agrees
/// with the idempotency key. NUL characters are taken out and context strings cut to their
/// limits: the lead is kept.
fn parse(
    headers: &HeaderMap,
    beacon: Result<Query<BeaconParams>, QueryRejection>,
    body: Result<String, StringRejection>,
) -> Result<Received, Refused> {
    let beacon_key = match beacon {
        Ok(Query(params)) => params.idempotency_key,
        Err(rejection) => return Err(Refused::BadRequest(rejection.body_text())),
    };
    content_type(headers, beacon_key.is_some(), "a lead")?;
    let body = body.map_err(|rejection| body_refused(rejection, MAX_BODY, "a lead"))?;
    let mut payload =
        LeadPayload::from_json(&body).map_err(|e| Refused::BadRequest(e.to_string()))?;
    payload.sanitize();
    let header_key = headers.get(IDEMPOTENCY_KEY).map(|k| String::from_utf8_lossy(k.as_bytes()));
    for (what, key) in [
        ("Idempotency-Key header", header_key.as_deref()),
        ("idempotency_key", beacon_key.as_deref()),
    ] {
        if let Some(key) = key.filter(|k| !k.eq_ignore_ascii_case(&payload.id)) {
            let message = format!("the {what} {key:?} does not match the lead id {:?}", payload.id);
            return Err(Refused::BadRequest(message));
        }
    }
    let meta = payload.meta.as_ref().map(Meta::value).filter(Value::is_object);
    Ok(Received { idempotency_key: header_key.map(String::from).or(beacon_key), meta, payload })
}

/// Step 3: the form, when the relay knows forms (a lead of another form is refused, 422):
/// the version that scored it in the browser (its `score.model`), else the current one; then
/// the fields: against that config (every field's own checks, and no field it does not know),
/// else generic bounds. The catalog's lock is let go before anything waits.
fn check(
    catalog: &SharedCatalog,
    payload: &LeadPayload,
) -> Result<Option<Arc<FormConfig>>, Refused> {
    let form = {
        let catalog = versions::read(catalog);
        if catalog.is_empty() {
            None
        } else if let Some(form) = catalog.for_lead(&payload.form_id, &payload.score.model) {
            Some(form)
        } else {
            return Err(Refused::Unprocessable(format!(
                "this relay does not know the form {:?} (it knows: {})",
                payload.form_id,
                catalog.form_ids().join(", ")
            )));
        }
    };
    check_fields(payload, form.as_deref()).map_err(Refused::Unprocessable)?;
    Ok(form)
}

/// The field checks of [`check`]; the message lists every field that fails.
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
    // The shown fields only, required as shown (the widget sends no hidden answers).
    let at = payload.submitted_time().unwrap_or(Timestamp(0));
    // Answers the widget remembered from an earlier visit were not asked (nor checked) again.
    let mut known = lead.clone();
    known.fields.retain(|name, _| payload.remembered.contains(name));
    let seen = Visibility::with_known(form, &lead, &known, &payload.context, at);
    let errors = seen.errors(form, &lead, None);
    if errors.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = errors
        .iter()
        .map(|(name, e)| {
            let what = match e {
                FieldError::Required => "is required".to_string(),
                FieldError::InvalidEmail => "is not an e-mail address".to_string(),
                FieldError::TooShort(n) => format!("is shorter than {n}"),
                FieldError::TooLong(n) => format!("is longer than {n}"),
                FieldError::NotAnOption => "is not one of the options".to_string(),
                _ => "is not valid".to_string(),
            };
            format!("fields.{name} {what}")
        })
        .collect();
    Err(list.join("; "))
}

/// Step 4: why the lead is spam (stored and answered like any lead, but never forwarded):
/// `honeypot` (the hidden field was filled in), `too_fast` (submitted less than `min_fill_ms`
/// after the form appeared), and with `require_meta`: `no_meta` (no `meta` object: not sent by
/// the widget) or `no_fill_time` (`meta.fill_ms` is not a number).
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

/// Step 5: the relay's own score when it knows the form, at the browser's submit time (so
/// engagement decays exactly as it did there), and whether the browser's agrees.
fn rescore(
    payload: &LeadPayload,
    form: Option<&FormConfig>,
    now: Timestamp,
) -> (ScoreCheck, Option<Score>) {
    let Some(form) = form else {
        return (ScoreCheck::Unchecked, None);
    };
    let lead = Lead { fields: payload.fields.clone() };
    let at = payload.submitted_time().unwrap_or(now);
    let relay = score(&lead, &payload.context, &form.scoring, at);
    let same = relay.total == payload.score.total && relay.qualified == payload.score.qualified;
    (if same { ScoreCheck::Match } else { ScoreCheck::Mismatch }, Some(relay))
}

/// Step 6: the webhook messages a lead goes out as (webhook name, body): one per webhook whose
/// route and forms want it.
fn queue(
    state: &RelayState,
    payload: &LeadPayload,
    relay_score: Option<&Score>,
    check: ScoreCheck,
    received_at: &str,
) -> Result<Vec<(String, String)>, AppError> {
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
    let body =
        message_body(payload, relay_score, check, received_at).map_err(StoreError::Encode)?;
    Ok(wanted.into_iter().map(|name| (name.to_string(), body.clone())).collect())
}

/// Step 7: the lead and its messages, committed in one transaction (once per lead id), then
/// the forwarder woken if anything was queued.
async fn store(state: &RelayState, lead: Box<NewLead>) -> Result<Insert, AppError> {
    let queued = !lead.deliveries.is_empty();
    let inserted = state.store.insert(lead).await?;
    if inserted == Insert::Stored && queued {
        state.wake.notify_one();
    }
    Ok(inserted)
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

/// Whether the body's `Content-Type` is JSON, or `text/plain` where a beacon may send it.
fn content_type(headers: &HeaderMap, text_ok: bool, what: &str) -> Result<(), Refused> {
    let given = headers.get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()));
    let essence = given.as_deref().and_then(|t| t.split(';').next()).map(str::trim);
    let essence = essence.map(str::to_ascii_lowercase);
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        Some("text/plain") if text_ok => Ok(()),
        _ => Err(Refused::UnsupportedType(format!(
            "send {what} as Content-Type: application/json{} (got {})",
            if text_ok { " or text/plain" } else { "" },
            given.as_deref().map_or("none".to_string(), |t| format!("{t:?}"))
        ))),
    }
}

/// A body that could not be read: too large (413 naming the limit), too slow, or not UTF-8.
fn body_refused(rejection: StringRejection, limit: usize, what: &str) -> Refused {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return Refused::TooLarge(format!(
            "the body is larger than {limit} bytes ({} KiB), the most {what} may be",
            limit / 1024
        ));
    }
    Refused::Unreadable { status, message: rejection.body_text() }
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
pub(super) async fn receive_events(
    State(state): State<RelayState>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Response, AppError> {
    let ip = client_ip(&state, &headers, peer);
    admit(&state, &headers, ip, "/v1/events")?;
    let events = parse_events(&state, &headers, body).map_err(|why| why.from_client(ip))?;
    let accepted = state.store.record_events(events).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"accepted": accepted}))).into_response())
}

/// A batch of events, read and checked (every event, or the first failure).
fn parse_events(
    state: &RelayState,
    headers: &HeaderMap,
    body: Result<String, StringRejection>,
) -> Result<Vec<NewEvent>, Refused> {
    content_type(headers, true, "events")?;
    let body =
        body.map_err(|rejection| body_refused(rejection, MAX_EVENTS_BODY, "a batch of events"))?;
    let batch: Vec<EventIn> = serde_json::from_str(&body).map_err(|e| {
        Refused::BadRequest(format!(
            "the body is not a list of events [{{\"form_id\", \"kind\": \"view\"|\"start\", \"at\"}}]: {e}"
        ))
    })?;
    if batch.len() > MAX_EVENTS {
        return Err(Refused::TooLarge(format!("send {MAX_EVENTS} events at most per batch")));
    }
    let now = clock::now();
    let day = clock::day(now);
    let mut events = Vec::with_capacity(batch.len());
    for (i, e) in batch.into_iter().enumerate() {
        if !["view", "start", "submit"].contains(&e.kind.as_str()) {
            let message =
                format!("[{i}].kind {:?} is not \"view\", \"start\" or \"submit\"", e.kind);
            return Err(Refused::Unprocessable(message));
        }
        let unknown = {
            let catalog = versions::read(&state.catalog);
            !catalog.is_empty() && !catalog.knows(&e.form_id)
        };
        if unknown {
            let message =
                format!("[{i}].form_id: this relay does not know the form {:?}", e.form_id);
            return Err(Refused::Unprocessable(message));
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
            return Err(Refused::Unprocessable(message));
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
    Ok(events)
}

/// The client's address (see [`crate::guard::client_ip`]).
fn client_ip(state: &RelayState, headers: &HeaderMap, peer: Peer) -> Option<IpAddr> {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    crate::guard::client_ip(headers, peer, state.trust_forwarded_for)
}
