//! Every way a request can fail, and the one place that turns a failure into an answer: a
//! status, a JSON body `{"error": "..."}` written for the developer reading it, the headers that
//! go with it (`Retry-After`, `WWW-Authenticate`), and the log line.
//!
//! | failure | status | extra | logged as |
//! | --- | --- | --- | --- |
//! | [`Refused`]: a bad lead or batch, a wrong origin, an unreadable body | its own (400, 403, 413, 415, 422) | | `request.refused` with the client's address |
//! | [`AppError::Token`]: no valid token | 401 | `WWW-Authenticate: Basic` | |
//! | [`AppError::RateLimited`] | 429 | `Retry-After` | `request.rate_limited` |
//! | [`AppError::BadQuery`]: a query string that does not read | 400 | | |
//! | [`AppError::Unavailable`]: the database failed | 503 | `Retry-After: 5` | `store.failed` |
//!
//! A 4xx tells the widget not to retry (the lead would be refused again); a 429 or 503 tells it
//! to keep the lead and retry.

use std::net::IpAddr;

use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::guard::Refusal;
use crate::logline::{log, Level};
use crate::store::StoreError;

/// Why a request failed; as a handler's error, it becomes the answer ([`IntoResponse`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The request was refused for what it is.
    #[error("{why}")]
    Refused {
        /// What was wrong.
        why: Refused,
        /// The client's address, for the log line.
        ip: Option<IpAddr>,
    },
    /// No valid token.
    #[error("{}", if *.bearer_only {
        "this needs the relay's token as Authorization: Bearer <token>"
    } else {
        "the dashboard needs the relay's token"
    })]
    Token {
        /// Whether only a Bearer token would do (basic auth is not enough).
        bearer_only: bool,
    },
    /// The client's address is over the rate limit.
    #[error("too many requests from this address; try again in {wait} s")]
    RateLimited {
        /// The client.
        ip: IpAddr,
        /// The route it posted to.
        route: &'static str,
        /// Seconds until it may try again.
        wait: u64,
    },
    /// A query string that does not read (serde's words).
    #[error("{0}")]
    BadQuery(String),
    /// The database failed: the sender should keep what it sent and retry.
    #[error("{0}")]
    Unavailable(#[from] StoreError),
}

/// What was wrong with a refused request: one variant per status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// 400: the body or the query does not read (not a lead, a key that does not match...).
    #[error("{0}")]
    BadRequest(String),
    /// 403: a [`crate::guard`] rule (another site's page, a `Host` the relay does not answer).
    #[error("{0}")]
    Forbidden(#[from] Refusal),
    /// 413: larger than the route accepts.
    #[error("{0}")]
    TooLarge(String),
    /// 415: not sent as JSON (or as text where a beacon may send it).
    #[error("{0}")]
    UnsupportedType(String),
    /// 422: it reads, but the relay won't take it (an unknown form, a field that fails).
    #[error("{0}")]
    Unprocessable(String),
    /// A body that could not be read otherwise (cut off, not UTF-8): axum's status and words.
    #[error("{message}")]
    Unreadable {
        /// The status axum gave the failure.
        status: StatusCode,
        /// axum's words.
        message: String,
    },
}

impl Refused {
    /// The status this refusal is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Refused::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refused::Forbidden(_) => StatusCode::FORBIDDEN,
            Refused::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refused::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refused::Unreadable { status, .. } => *status,
        }
    }

    /// This refusal of a request from `ip`.
    pub fn from_client(self, ip: Option<IpAddr>) -> AppError {
        AppError::Refused { why: self, ip }
    }
}

impl AppError {
    /// The status this failure is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Refused { why, .. } => why.status(),
            AppError::Token { .. } => StatusCode::UNAUTHORIZED,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadQuery(_) => StatusCode::BAD_REQUEST,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.to_string();
        let header = match &self {
            AppError::Refused { ip, .. } => {
                let ip = ip.map_or("-".to_string(), |ip| ip.to_string());
                log(
                    Level::Warn,
                    "request.refused",
                    &[("status", &status.as_u16()), ("ip", &ip), ("error", &message)],
                );
                None
            }
            AppError::Token { .. } => Some((
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"leadgate dashboard\", charset=\"UTF-8\""),
            )),
            AppError::RateLimited { ip, route, wait } => {
                log(
                    Level::Warn,
                    "request.rate_limited",
                    &[("ip", ip), ("route", route), ("retry_after", wait)],
                );
                HeaderValue::from_str(&wait.to_string()).ok().map(|v| (RETRY_AFTER, v))
            }
            AppError::BadQuery(_) => None,
            AppError::Unavailable(e) => return unavailable(e),
        };
        let mut response = error(status, message);
        if let Some((name, value)) = header {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// The JSON answer `{"error": message}` with `status`, which every failure gets. Handlers that
/// build their own answers (the sales routes, not yet returning [`AppError`]) call it too.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The answer to a storage failure: logged (`store.failed`), 503 with `Retry-After: 5`, so the
/// widget keeps the lead and retries. What [`AppError::Unavailable`] answers.
pub(crate) fn unavailable(e: &StoreError) -> Response {
    log(Level::Error, "store.failed", &[("error", e)]);
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_status_and_headers() {
        // (error, status, header that must be there)
        let cases = [
            (Refused::BadRequest("x".into()).from_client(None), 400, None),
            (Refused::Forbidden(Refusal::CrossSite("x".into())).from_client(None), 403, None),
            (Refused::TooLarge("x".into()).from_client(None), 413, None),
            (Refused::UnsupportedType("x".into()).from_client(None), 415, None),
            (Refused::Unprocessable("x".into()).from_client(None), 422, None),
            (
                Refused::Unreadable { status: StatusCode::REQUEST_TIMEOUT, message: "x".into() }
                    .from_client(None),
                408,
                None,
            ),
            (AppError::Token { bearer_only: true }, 401, Some("www-authenticate")),
            (
                AppError::RateLimited { ip: [127, 0, 0, 1].into(), route: "/v1/leads", wait: 7 },
                429,
                Some("retry-after"),
            ),
            (AppError::BadQuery("x".into()), 400, None),
            (AppError::Unavailable(StoreError::Poisoned), 503, Some("retry-after")),
        ];
        let mut failures = Vec::new();
        for (error, status, header) in cases {
            let text = error.to_string();
            let response = error.into_response();
            if response.status().as_u16() != status
                || header.is_some_and(|h| !response.headers().contains_key(h))
            {
                failures.push(format!("{text}: {} {:?}", response.status(), response.headers()));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn messages_are_todays() {
        let cases = [
            (AppError::Token { bearer_only: false }, "the dashboard needs the relay's token"),
            (
                AppError::Token { bearer_only: true },
                "this needs the relay's token as Authorization: Bearer <token>",
            ),
            (
                AppError::RateLimited { ip: [127, 0, 0, 1].into(), route: "/v1/leads", wait: 7 },
                "too many requests from this address; try again in 7 s",
            ),
        ];
        for (error, want) in cases {
            assert_eq!(error.to_string(), want);
        }
    }
}
