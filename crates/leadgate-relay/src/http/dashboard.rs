//! The dashboard's routes: the page, its CSV export and its stylesheet. What they show is
//! [`crate::dashboard`]'s (which knows nothing of HTTP); the headers are here.

use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
};
use axum::response::{IntoResponse, Response};

use super::api::ListParams;
use super::auth::Reader;
use super::error::AppError;
use super::Params;
use crate::dashboard::{render_csv, render_dashboard, DASHBOARD_CSP, PAGE_LEADS, STYLESHEET};
use crate::store::LeadQuery;
use crate::RelayState;

/// `GET /leads?q=`.
pub(super) async fn page(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<ListParams>,
) -> Result<Response, AppError> {
    let limit = Some(params.limit.unwrap_or(PAGE_LEADS).min(PAGE_LEADS));
    let query = LeadQuery { search: params.q.clone(), limit, before: params.before.clone() };
    let (leads, funnel) = (state.store.list(query).await?, state.store.funnel().await?);
    let html = render_dashboard(&leads, &funnel, params.q.as_deref().unwrap_or_default());
    Ok((
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, DASHBOARD_CSP),
            // Leads are personal data: no copies in caches.
            (CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}

/// `GET /leads.csv?q=`: every matching lead, newest first.
pub(super) async fn csv(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<ListParams>,
) -> Result<Response, AppError> {
    let query = LeadQuery { search: params.q, limit: params.limit, before: params.before };
    let leads = state.store.list(query).await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"leads.csv\""),
            (CACHE_CONTROL, "no-store"),
        ],
        render_csv(&leads),
    )
        .into_response())
}

/// `GET /leads.css`.
pub(super) async fn stylesheet() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "no-cache")], STYLESHEET)
        .into_response()
}
