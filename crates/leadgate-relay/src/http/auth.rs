//! Who may do what: [`Reader`] (the dashboard and the reading API) and [`Operator`]
//! (state-changing routes) as extractors, so a handler that takes one can't forget the check,
//! and [`CsrfKey`], the tokens the dashboard's form buttons carry.
//!
//! - **Reader**: the relay's token when it has one (`Authorization: Bearer <token>`, or basic
//!   auth with any user name and the token as password), else a `Host` an open dashboard
//!   answers to ([`check_host`]).
//! - **Operator**: the Bearer token when the relay has one (a browser never adds that by
//!   itself, so no CSRF), else an allowed `Host` and a request not from another site
//!   ([`check_same_site`]).
//! - **CSRF tokens** for forms a browser posts with basic auth (which it resends by itself):
//!   `{issued_ms}.{base64url(HMAC-SHA256(key, action, issued_ms, SHA-256(credential)))}`, where
//!   the credential is the request's `Authorization` header (none on an open relay). A token is
//!   good for one action, one credential and [`CSRF_MAX_AGE_MS`]; another site can't read the
//!   page that holds it, and can't make one without the relay's key. The page puts it in a
//!   hidden field named [`CSRF_FIELD`] (the dashboard's: the templates know the name, and are
//!   handed the token).

use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use leadgate_core::Timestamp;
use sha2::{Digest, Sha256};

use super::error::{AppError, Refused};
#[cfg(doc)]
use crate::dashboard::CSRF_FIELD;
use crate::guard::{check_host, check_same_site, token_matches};
use crate::RelayState;

/// Read access to leads (see the module docs); its rejection is the 401 or 403 to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader;

/// Access to a state-changing route (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operator;

impl FromRequestParts<RelayState> for Reader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &RelayState) -> Result<Reader, AppError> {
        authorize(state, parts, false).map(|()| Reader)
    }
}

impl FromRequestParts<RelayState> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &RelayState,
    ) -> Result<Operator, AppError> {
        authorize(state, parts, true)?;
        if state.dashboard_token.is_none() {
            check_same_site(&parts.headers)
                .map_err(|r| Refused::from(r).from_client(peer_ip(state, parts)))?;
        }
        Ok(Operator)
    }
}

/// The token check behind [`Reader`] and [`Operator`]. With `bearer_only`, basic auth (which
/// browsers resend by themselves) is not enough.
fn authorize(state: &RelayState, parts: &Parts, bearer_only: bool) -> Result<(), AppError> {
    let headers = &parts.headers;
    let Some(token) = state.dashboard_token.as_deref() else {
        return check_host(headers, &state.allowed_hosts)
            .map_err(|r| Refused::from(r).from_client(peer_ip(state, parts)));
    };
    let given = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let ok = if let Some(bearer) = given.strip_prefix("Bearer ") {
        token_matches(bearer.trim().as_bytes(), token.as_bytes())
    } else if let Some(basic) = given.strip_prefix("Basic ").filter(|_| !bearer_only) {
        let decoded = STANDARD.decode(basic.trim());
        let decoded = decoded.ok().and_then(|d| String::from_utf8(d).ok()).unwrap_or_default();
        let password = decoded.split_once(':').map(|(_, p)| p).unwrap_or_default();
        token_matches(password.as_bytes(), token.as_bytes())
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(AppError::Token { bearer_only })
    }
}

/// The client's address, for the log line of a refusal.
fn peer_ip(state: &RelayState, parts: &Parts) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip());
    crate::guard::client_ip(&parts.headers, peer, state.trust_forwarded_for)
}

/// How long a CSRF token is good for: 12 hours (a dashboard left open over a working day).
pub const CSRF_MAX_AGE_MS: u64 = 12 * 60 * 60 * 1000;

/// How far in the future a token's time may be (clocks of relays sharing a key): 1 minute.
const CSRF_SKEW_MS: u64 = 60 * 1000;

/// The relay's key for CSRF tokens. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct CsrfKey {
    /// HMAC-SHA256 keyed with the secret, cloned for each token.
    mac: Hmac<Sha256>,
}

/// Why a CSRF token was not accepted (each a 403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrfError {
    /// The form carried no token.
    #[error("this form has no CSRF token; reload the dashboard and try again")]
    Missing,
    /// Not `{ms}.{base64url}`.
    #[error("this form's CSRF token is not one the relay makes; reload the dashboard")]
    Malformed,
    /// Older than [`CSRF_MAX_AGE_MS`] (or from the future).
    #[error("this form's CSRF token has expired; reload the dashboard and try again")]
    Expired,
    /// Made for another action or another credential, or not by this relay.
    #[error("this form's CSRF token is not valid for this action; reload the dashboard")]
    Invalid,
}

impl CsrfKey {
    /// A key from `secret`: 16 bytes at least (32 random bytes is right); `None` for a
    /// shorter one. Relays that share a database behind one address should share the secret,
    /// so a page from one can post to another.
    pub fn from_secret(secret: &[u8]) -> Option<CsrfKey> {
        if secret.len() < 16 {
            return None;
        }
        // RFC 2104: every key length is valid; the `hmac` API has an error all the same.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).ok()?;
        Some(CsrfKey { mac })
    }

    /// A key from 32 bytes of the system's random source: good until the relay stops.
    pub fn random() -> std::io::Result<CsrfKey> {
        use std::io::Read;
        let mut secret = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
        CsrfKey::from_secret(&secret).ok_or_else(|| std::io::Error::other("no CSRF key"))
    }

    /// The token for a form that does `action` (e.g. `"replay"`), shown to the holder of
    /// `credential` ([`credential`] of the page's request) at `now`.
    pub fn token(&self, action: &str, credential: &str, now: Timestamp) -> String {
        let tag = self.tag(action, credential, now.0).finalize().into_bytes();
        format!("{}.{}", now.0, URL_SAFE_NO_PAD.encode(tag))
    }

    /// Whether `given` (the form's [`CSRF_FIELD`] field; `None` when absent) is a token of this key
    /// for `action` and `credential` ([`credential`] of the posting request), made at most
    /// [`CSRF_MAX_AGE_MS`] before `now`. The tag is compared in constant time.
    pub fn check(
        &self,
        given: Option<&str>,
        action: &str,
        credential: &str,
        now: Timestamp,
    ) -> Result<(), CsrfError> {
        let given = given.map(str::trim).filter(|g| !g.is_empty()).ok_or(CsrfError::Missing)?;
        let (issued, tag) = given.split_once('.').ok_or(CsrfError::Malformed)?;
        let issued: u64 = issued.parse().map_err(|_| CsrfError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CsrfError::Malformed)?;
        if issued > now.0.saturating_add(CSRF_SKEW_MS)
            || now.0.saturating_sub(issued) > CSRF_MAX_AGE_MS
        {
            return Err(CsrfError::Expired);
        }
        self.tag(action, credential, issued).verify_slice(&tag).map_err(|_| CsrfError::Invalid)
    }

    /// The MAC over the action, the time and the credential's digest, not yet finalized.
    fn tag(&self, action: &str, credential: &str, issued: u64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        let credential = Sha256::digest(credential.as_bytes());
        let issued = issued.to_string();
        // NUL-separated: neither an action name nor a number holds one.
        for part in [b"leadgate-csrf-v1".as_slice(), action.as_bytes(), issued.as_bytes()] {
            mac.update(part);
            mac.update(b"\0");
        }
        mac.update(&credential);
        mac
    }
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

/// The credential a CSRF token is bound to: the request's `Authorization` header as sent
/// (`""` without one, as on an open relay). A token shown to one user of the dashboard is
/// refused for a request that authenticates differently.
pub fn credential(headers: &HeaderMap) -> &str {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 60 * 60 * 1000;

    #[test]
    fn csrf_tokens_are_bound_to_key_action_credential_and_time() {
        let key = CsrfKey::from_secret(b"relay secret of thirty-two bytes").unwrap();
        let other_key = CsrfKey::from_secret(b"another relay's secret, 32 bytes").unwrap();
        assert!(CsrfKey::from_secret(b"too short").is_none());
        let t0 = Timestamp(1_795_735_496_123);
        let basic = "Basic c2FsZXM6czNjcmV0";
        let token = key.token("replay", basic, t0);
        let later = |ms: u64| Timestamp(t0.0 + ms);
        let forged = format!("{}.{}", t0.0 + 1, token.split_once('.').unwrap().1);
        // (token, action, credential, now, expected)
        type Case<'a> = (Option<&'a str>, &'a str, &'a str, Timestamp, Result<(), CsrfError>);
        let cases: [Case; 12] = [
            (Some(&token), "replay", basic, t0, Ok(())),
            (Some(&token), "replay", basic, later(11 * HOUR), Ok(())),
            (Some(&token), "replay", basic, later(13 * HOUR), Err(CsrfError::Expired)),
            (
                Some(&token),
                "replay",
                basic,
                Timestamp(t0.0 - 2 * 60 * 1000),
                Err(CsrfError::Expired),
            ),
            (Some(&token), "delete", basic, t0, Err(CsrfError::Invalid)),
            (Some(&token), "replay", "Basic b3RoZXI6czNjcmV0", t0, Err(CsrfError::Invalid)),
            (Some(&token), "replay", "", t0, Err(CsrfError::Invalid)),
            (Some(&forged), "replay", basic, t0, Err(CsrfError::Invalid)),
            (None, "replay", basic, t0, Err(CsrfError::Missing)),
            (Some("  "), "replay", basic, t0, Err(CsrfError::Missing)),
            (Some("12345"), "replay", basic, t0, Err(CsrfError::Malformed)),
            (Some("x.AAAA"), "replay", basic, t0, Err(CsrfError::Malformed)),
        ];
        let mut failures = Vec::new();
        for (i, (given, action, credential, now, want)) in cases.into_iter().enumerate() {
            let got = key.check(given, action, credential, now);
            if got != want {
                failures.push(format!("case {i}: {given:?} {action} {credential:?}: {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        assert_eq!(other_key.check(Some(&token), "replay", basic, t0), Err(CsrfError::Invalid));
    }

    #[test]
    fn csrf_tokens_fit_a_form_field_and_keep_the_key_secret() {
        let key = CsrfKey::random().unwrap();
        let token = key.token("replay", "", Timestamp(1));
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
        assert_eq!(key.check(Some(&token), "replay", "", Timestamp(2)), Ok(()));
        assert_eq!(format!("{key:?}"), "CsrfKey(..)");
        assert_ne!(CsrfKey::random().unwrap().token("replay", "", Timestamp(1)), token);
    }

    #[test]
    fn the_credential_is_the_authorization_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(credential(&headers), "");
        headers.insert(AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(credential(&headers), "Bearer abc");
    }
}
