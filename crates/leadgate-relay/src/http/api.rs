//! The JSON API behind the token: stored leads, the dashboard's numbers, the forwarding queue
//! and its replay, and the health check.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Operator, Reader};
use super::error::AppError;
use super::export::{self, Format};
use super::Params;
use crate::clock;
use crate::logline::{log, Level};
use crate::store::{DeliveryRecord, DeliveryStatus, Funnel, LeadQuery};
use crate::RelayState;

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

/// `GET /v1/leads`: stored leads, newest first, as a JSON array streamed a page at a time
/// ([`super::export`]).
pub(super) async fn list(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<ListParams>,
) -> Result<Response, AppError> {
    let query = LeadQuery { search: params.q, limit: params.limit, before: params.before };
    let body = export::body(state.store.clone(), query, Format::Json).await?;
    Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /v1/stats`: the dashboard's numbers.
pub(super) async fn stats(
    _: Reader,
    State(state): State<RelayState>,
) -> Result<Json<Funnel>, AppError> {
    Ok(Json(state.store.funnel().await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct DeliveryParams {
    #[serde(default)]
    status: Option<DeliveryStatus>,
}

/// `GET /v1/deliveries`: the webhook messages.
pub(super) async fn deliveries(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<DeliveryParams>,
) -> Result<Json<Vec<DeliveryRecord>>, AppError> {
    Ok(Json(state.store.deliveries(params.status).await?))
}

#[derive(Debug, Deserialize)]
pub(super) struct ReplayParams {
    #[serde(default)]
    lead_id: Option<String>,
    #[serde(default)]
    webhook: Option<String>,
}

/// `POST /v1/deliveries/replay`: dead letters back in the queue; `{"replayed": n}`.
pub(super) async fn replay(
    _: Operator,
    State(state): State<RelayState>,
    Params(params): Params<ReplayParams>,
) -> Result<Json<Value>, AppError> {
    let n = state.store.replay_dead(params.lead_id, params.webhook, clock::unix_ms()).await?;
    state.wake.notify_one();
    log(Level::Info, "forward.replayed", &[("messages", &n)]);
    Ok(Json(json!({"replayed": n})))
}

/// `GET /healthz`: `ok` when the database answers.
pub(super) async fn health(State(state): State<RelayState>) -> Result<&'static str, AppError> {
    state.store.ping().await?;
    Ok("ok")
}
