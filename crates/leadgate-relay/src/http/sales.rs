//! The routes of the sales loop:
//!
//! | route | who | what |
//! | --- | --- | --- |
//! | `POST /v1/leads/{id}/outcome` | dashboard or outcome token | one outcome (`Idempotency-Key` optional) |
//! | `POST /v1/outcomes` | dashboard or outcome token | a batch `{"outcomes": [...]}`, all or none |
//! | `GET /v1/leads/{id}/outcomes` | reader | a lead's outcome history |
//! | `GET /v1/forms/{form_id}/config` | public, CORS | the current config (ETag, short cache) |
//! | `GET /v1/forms/{form_id}/versions` | reader | every version, which is current |
//! | `POST /v1/forms/{form_id}/versions` | operator | publish a config (`{"config", "note", "publish"}`) |
//! | `POST /v1/forms/{form_id}/versions/{n}/publish` | operator | make version n current (rollback) |
//! | `GET /v1/insights`, `/v1/insights.csv`, `/v1/forms/{form_id}/suggestion`, `POST /v1/forms/{form_id}/backtest` | see [`super::insights`] | |
//! | `GET /v1/sla` | reader | the SLA and the leads past it ([`crate::sla`]) |
//!
//! Tokens are read from the `Authorization` header only: a request with a token in its URL
//! is refused, so a token never lands in access logs or browser history.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use leadgate_core::FormConfig;
use serde_json::{json, Value};

use super::auth::{Operator, Reader};
use super::error::{error, unavailable, Refused};
use crate::clock::now;
use crate::guard::token_matches;
use crate::sales::{read_outcome, NewOutcome, OutcomeError, OutcomeSource};
use crate::store::StoreError;
use crate::RelayState;

/// The most outcomes in one batch.
pub const MAX_OUTCOMES: usize = 1000;

/// The largest outcome body accepted (1 MiB: a batch of [`MAX_OUTCOMES`]).
pub const MAX_OUTCOME_BODY: usize = 1024 * 1024;

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The sales loop's routes (merged into the relay's router).
pub fn routes() -> Router<RelayState> {
    Router::new()
        .route("/v1/leads/{id}/outcome", post(post_outcome))
        .route("/v1/leads/{id}/outcomes", get(outcome_history))
        .route("/v1/outcomes", post(post_outcomes))
        .route("/v1/forms/{form_id}/config", get(current_config))
        .route("/v1/forms/{form_id}/versions", get(list_versions).post(publish))
        .route("/v1/forms/{form_id}/versions/{version}/publish", post(make_current))
        .route("/v1/forms/{form_id}/suggestion", get(super::insights::suggestion))
        .route("/v1/forms/{form_id}/backtest", post(super::insights::backtest_draft))
        .route("/v1/insights", get(super::insights::insights))
        .route("/v1/sla", get(sla_breaches))
        .route("/v1/insights.csv", get(super::insights::insights_csv))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_OUTCOME_BODY))
}

/// May post outcomes: the outcome token or the dashboard token as `Bearer`, or, on a relay
/// without a dashboard token, what [`Operator`] allows (same host, not cross-site).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SalesWriter;

impl FromRequestParts<RelayState> for SalesWriter {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &RelayState) -> Result<Self, Response> {
        refuse_token_in_url(parts).map_err(|why| why.from_client(None).into_response())?;
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let (Some(given), Some(token)) = (bearer, state.outcome_token.as_deref()) {
            if token_matches(given.as_bytes(), token.as_bytes()) {
                return Ok(SalesWriter);
            }
        }
        Operator::from_request_parts(parts, state)
            .await
            .map(|_| SalesWriter)
            .map_err(IntoResponse::into_response)
    }
}

/// 400 for a request that carries a token in its query string.
fn refuse_token_in_url(parts: &Parts) -> Result<(), Refused> {
    let query = parts.uri.query().unwrap_or_default();
    let names = query.split('&').map(|pair| pair.split('=').next().unwrap_or_default());
    for name in names {
        let name = name.to_ascii_lowercase();
        if ["token", "access_token", "outcome_token", "dashboard_token", "key", "api_key"]
            .contains(&name.as_str())
        {
            return Err(Refused::BadRequest(format!(
                "a token is never accepted in the URL ({name}=): send it as \
                 Authorization: Bearer <token>"
            )));
        }
    }
    Ok(())
}

/// The JSON body, or the 400/415 to answer.
fn json_body(headers: &HeaderMap, body: &str) -> Result<Value, Refused> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/json"));
    if !json {
        return Err(Refused::UnsupportedType(
            "send JSON, with Content-Type: application/json".into(),
        ));
    }
    serde_json::from_str(body)
        .map_err(|e| Refused::BadRequest(format!("the body is not JSON: {e}")))
}

fn bad_outcome(e: &OutcomeError) -> Response {
    error(StatusCode::BAD_REQUEST, e.to_string())
}

fn store_failed(e: &StoreError) -> Response {
    match e {
        StoreError::UnknownLead { .. } => error(StatusCode::NOT_FOUND, e.to_string()),
        _ => unavailable(e),
    }
}

/// `POST /v1/leads/{id}/outcome`.
async fn post_outcome(
    _: SalesWriter,
    State(state): State<RelayState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let value = match json_body(&headers, &body) {
        Ok(value) => value,
        Err(why) => return why.from_client(None).into_response(),
    };
    let now = now();
    let id = id.to_ascii_lowercase();
    let mut outcome =
        match read_outcome(&value, Some(&id), &state.outcome_rules, OutcomeSource::Api, now) {
            Ok(outcome) => outcome,
            Err(e) => return bad_outcome(&e),
        };
    outcome.idempotency_key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    record(&state, vec![outcome], now, false).await
}

/// Stores outcomes and answers: one (`batch` false) or a batch.
pub(crate) async fn record(
    state: &RelayState,
    outcomes: Vec<NewOutcome>,
    now: leadgate_core::Timestamp,
    batch: bool,
) -> Response {
    let stored = match state.store.record_outcomes(outcomes, now).await {
        Ok(stored) => stored,
        Err(e) => return store_failed(&e),
    };
    if batch {
        let recorded = stored.iter().filter(|s| s.recorded).count();
        let body = json!({
            "recorded": recorded,
            "repeated": stored.len() - recorded,
            "results": stored,
        });
        return (StatusCode::OK, Json(body)).into_response();
    }
    let Some(one) = stored.into_iter().next() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no outcome was stored");
    };
    let status = if one.recorded { StatusCode::CREATED } else { StatusCode::OK };
    let mut response = (status, Json(json!(one))).into_response();
    if !one.recorded {
        response.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// `POST /v1/outcomes`: `{"outcomes": [{"lead_id" | "email", "status", ...}]}` (or the array
/// alone). Every outcome is checked before any is stored; an unknown lead fails the batch.
async fn post_outcomes(
    _: SalesWriter,
    State(state): State<RelayState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let value = match json_body(&headers, &body) {
        Ok(value) => value,
        Err(why) => return why.from_client(None).into_response(),
    };
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(o) => match o.get("outcomes") {
            Some(Value::Array(items)) => items,
            _ => return error(StatusCode::BAD_REQUEST, "outcomes: expected an array"),
        },
        _ => return error(StatusCode::BAD_REQUEST, "expected {\"outcomes\": [...]}"),
    };
    if items.is_empty() || items.len() > MAX_OUTCOMES {
        let message = format!("outcomes: expected 1 to {MAX_OUTCOMES}, got {}", items.len());
        return error(StatusCode::BAD_REQUEST, message);
    }
    let now = now();
    let mut outcomes = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut item = item.clone();
        let key = item.as_object_mut().and_then(|o| o.remove("idempotency_key"));
        let key = match key {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) if !k.trim().is_empty() && k.len() <= 200 => {
                Some(k.trim().to_string())
            }
            Some(_) => {
                let message =
                    format!("outcomes[{i}].idempotency_key: expected 1 to 200 characters");
                return error(StatusCode::BAD_REQUEST, message);
            }
        };
        match read_outcome(&item, None, &state.outcome_rules, OutcomeSource::Api, now) {
            Ok(mut outcome) => {
                outcome.idempotency_key = key;
                outcomes.push(outcome);
            }
            Err(e) => {
                let e = OutcomeError { field: format!("outcomes[{i}].{}", e.field), ..e };
                return bad_outcome(&e);
            }
        }
    }
    record(&state, outcomes, now, true).await
}

/// `GET /v1/leads/{id}/outcomes`.
async fn outcome_history(
    _: Reader,
    State(state): State<RelayState>,
    Path(id): Path<String>,
) -> Response {
    match state.store.outcomes_of(id.to_ascii_lowercase()).await {
        Ok(Some(history)) => Json(json!({"lead_id": id, "outcomes": history})).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("there is no lead with id {id:?}")),
        Err(e) => unavailable(&e),
    }
}

/// `GET /v1/forms/{form_id}/config`: the current version's JSON, for
/// `data-config="https://relay.example/v1/forms/contact/config"`. Any page may read it (it is
/// what the page would embed anyway); cached for a minute, then revalidated by ETag.
async fn current_config(
    State(state): State<RelayState>,
    Path(form_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let current = crate::versions::read(&state.catalog).current(&form_id);
    let Some((config, version, json)) = current else {
        return error(StatusCode::NOT_FOUND, format!("this relay has no form {form_id:?}"));
    };
    let etag = format!("\"v{version}-{}\"", config.scoring.model_id().replace(':', "-"));
    let cors = (ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    let cache = (CACHE_CONTROL, HeaderValue::from_static("public, max-age=60, must-revalidate"));
    let tag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, [cors, cache, (ETAG, tag)]).into_response();
    }
    let content = (CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, [cors, cache, (ETAG, tag), content], json.to_string()).into_response()
}

/// A body `{"config": {...}, ...}` for form `form_id`: the config read exactly as a page would
/// read it (a bad one: 400 naming the place), its JSON text, and the whole body; its `form_id`
/// must be the URL's.
pub(crate) fn config_body(
    headers: &HeaderMap,
    body: &str,
    form_id: &str,
) -> Result<(FormConfig, String, Value), Refused> {
    let value = json_body(headers, body)?;
    let Some(config) = value.get("config").filter(|c| c.is_object()) else {
        return Err(Refused::BadRequest("config: expected the form config object".into()));
    };
    let text = config.to_string();
    let form =
        FormConfig::from_json(&text).map_err(|e| Refused::BadRequest(format!("config: {e}")))?;
    if form.form_id != form_id {
        let message =
            format!("config.form_id {:?} is not the form of the URL ({form_id:?})", form.form_id);
        return Err(Refused::BadRequest(message));
    }
    Ok((form, text, value))
}

/// `GET /v1/forms/{form_id}/versions`.
async fn list_versions(
    _: Reader,
    State(state): State<RelayState>,
    Path(form_id): Path<String>,
) -> Response {
    match state.store.config_versions(form_id.clone()).await {
        Ok(v) if v.is_empty() => {
            error(StatusCode::NOT_FOUND, format!("this relay has no form {form_id:?}"))
        }
        Ok(versions) => Json(json!({"form_id": form_id, "versions": versions})).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// `POST /v1/forms/{form_id}/versions`: `{"config": {...}, "note": "...", "publish": true}`.
/// The config is read exactly as a page would read it (a bad one: 400 naming the place); its
/// `form_id` must be the URL's. With `publish` (the default) it becomes current; else it is
/// kept as a draft version to publish later. The same model twice is one version.
async fn publish(
    _: Operator,
    State(state): State<RelayState>,
    Path(form_id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let (form, text, value) = match config_body(&headers, &body, &form_id) {
        Ok(read) => read,
        Err(why) => return why.from_client(None).into_response(),
    };
    let note = match value.get("note") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 1000 => Some(s.clone()),
        Some(_) => {
            return error(StatusCode::BAD_REQUEST, "note: expected text (≤ 1000 characters)")
        }
    };
    let make_current = match value.get("publish") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return error(StatusCode::BAD_REQUEST, "publish: expected true or false"),
    };
    let at = now().to_rfc3339();
    let model = form.scoring.model_id();
    let stored = state.store.add_config_version(form_id, model, text, note, make_current, at).await;
    let (version, added) = match stored {
        Ok(stored) => stored,
        Err(e) => return unavailable(&e),
    };
    if let Err(e) = state.reload_versions().await {
        return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    }
    let status = if added { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(json!({"version": version, "added": added}))).into_response()
}

/// `POST /v1/forms/{form_id}/versions/{n}/publish`: version `n` becomes current (a rollback,
/// or publishing a draft).
async fn make_current(
    _: Operator,
    State(state): State<RelayState>,
    Path((form_id, version)): Path<(String, i64)>,
) -> Response {
    let at = now().to_rfc3339();
    match state.store.set_current_version(form_id.clone(), version, at).await {
        Ok(true) => {}
        Ok(false) => {
            let message = format!("form {form_id:?} has no version {version}");
            return error(StatusCode::NOT_FOUND, message);
        }
        Err(e) => return unavailable(&e),
    }
    if let Err(e) = state.reload_versions().await {
        return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    }
    Json(json!({"form_id": form_id, "current_version": version})).into_response()
}

/// `GET /v1/sla`: the SLA and the leads past it, oldest first (at most 500).
pub(crate) async fn sla_breaches(_: Reader, State(state): State<RelayState>) -> Response {
    let now_ms = i64::try_from(now().0).unwrap_or(i64::MAX);
    match crate::sla::breaches(&state, now_ms, 500, false).await {
        Ok(list) => Json(json!({"sla": &*state.sla, "breaches": list})).into_response(),
        Err(e) => unavailable(&e),
    }
}
