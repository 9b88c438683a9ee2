//! What the relay checks about a request before it reads the body: who the client is (behind
//! a proxy), whether a browser page of another site is behind it (Origin, CSRF), whether the
//! Host is one the dashboard answers to (DNS rebinding), and the token.
//!
//! The rules, in one place:
//! - **Client address** ([`client_ip`]): the connection's peer; with `trust_forwarded_for`,
//!   the *rightmost* `X-Forwarded-For` entry (the one the trusted proxy appended), read as an
//!   IP, `ip:port` or `[ipv6]:port`. Anything else there (`unknown`, a name, garbage) means the
//!   peer address: a client can't choose its own bucket by adding entries.
//! - **Origin on public intake** ([`check_origin`]): a request with an `Origin` header (every
//!   browser sends one on a POST) must come from an allowed origin, or from the relay's own
//!   (same scheme-less host as `Host`). No `Origin`: not a browser page (a server, curl): allowed.
//! - **Host** ([`check_host`]): a relay without a token answers its dashboard and reading API
//!   only for `Host: localhost`, an IP literal, or a host in `allowed_hosts`, so a DNS
//!   rebinding page (`Host: evil.example`) can't read an open loopback dashboard.
//! - **State-changing routes** ([`check_same_site`]): without a Bearer token (which a browser
//!   never adds by itself), the request must not come from another site: `Origin`, when
//!   present, is the relay's own, and `Sec-Fetch-Site`, when present, is `same-origin` or
//!   `none`. A cross-site form post or `fetch` carries one of them, so it is refused.
//! - **Token** ([`token_matches`]): compared as SHA-256 digests in constant time, so neither
//!   the content nor the length of the token leaks through timing.

use std::net::{IpAddr, SocketAddr};

use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// The header a browser sends to say where a request comes from.
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// The client's address: `peer`, or with `trust_forwarded_for` the rightmost
/// `X-Forwarded-For` entry when it is an address (see the module docs).
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if !trust_forwarded_for {
        return peer;
    }
    let rightmost = headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim);
    rightmost.and_then(parse_address).or(peer)
}

/// `203.0.113.9`, `203.0.113.9:443`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| text.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// Why a request was refused before its body was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A page of another origin posted to the public intake.
    #[error(
        "the origin {0} may not post to this relay; allow it with --allow-origin \
         (allow_origins in relay.toml)"
    )]
    Origin(String),
    /// A state-changing request from another site (CSRF).
    #[error(
        "this request comes from another site ({0}); state-changing requests must come \
         from the dashboard itself or carry the Bearer token"
    )]
    CrossSite(String),
    /// The `Host` is not one the open dashboard answers to.
    #[error(
        "this relay has no dashboard token and answers only for localhost, an IP address or \
         its allowed_hosts; the host {0:?} is none of them (set --dashboard-token, or add \
         the host with --allow-host)"
    )]
    Host(String),
}

/// Whether `origin` may post to the public intake (see the module docs).
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), Refusal> {
    let Some(origin) = headers.get(ORIGIN) else { return Ok(()) };
    let text = String::from_utf8_lossy(origin.as_bytes());
    let ok = allowed.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(&text))
        || same_origin(origin, headers.get(HOST));
    if ok {
        Ok(())
    } else {
        Err(Refusal::Origin(text.into_owned()))
    }
}

/// Whether a state-changing request without a Bearer token comes from the relay's own pages
/// or from no browser page at all.
pub fn check_same_site(headers: &HeaderMap) -> Result<(), Refusal> {
    if let Some(origin) = headers.get(ORIGIN) {
        if !same_origin(origin, headers.get(HOST)) {
            return Err(Refusal::CrossSite(format!(
                "Origin: {}",
                String::from_utf8_lossy(origin.as_bytes())
            )));
        }
    }
    if let Some(site) = headers.get(SEC_FETCH_SITE) {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return Err(Refusal::CrossSite(format!(
                "Sec-Fetch-Site: {}",
                String::from_utf8_lossy(site.as_bytes())
            )));
        }
    }
    Ok(())
}

/// Whether the `Host` is one an open (token-less) dashboard answers to.
pub fn check_host(headers: &HeaderMap, allowed_hosts: &[String]) -> Result<(), Refusal> {
    let host = headers.get(HOST).map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned());
    let host = host.unwrap_or_default();
    let name = host_name(&host);
    let ok = name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok()
        || allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name));
    if ok {
        Ok(())
    } else {
        Err(Refusal::Host(host))
    }
}

/// `example.com` of `example.com:8080`, `::1` of `[::1]:8080`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    })
}

/// Whether `origin` (`http://host:port`) names the same host and port as the `Host` header.
fn same_origin(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let Some(host) = host else { return false };
    let origin = origin.as_bytes();
    let rest = origin
        .strip_prefix(b"http://")
        .or_else(|| origin.strip_prefix(b"https://"))
        .unwrap_or_default();
    !rest.is_empty() && rest.eq_ignore_ascii_case(host.as_bytes())
}

/// Whether `given` is the token, in time independent of both (see the module docs).
pub fn token_matches(given: &[u8], token: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(token));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_client_is_the_rightmost_forwarded_address_or_the_peer() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        // (X-Forwarded-For lines, expected client)
        let cases: [(&[&str], &str); 9] = [
            (&["203.0.113.9"], "203.0.113.9"),
            (&["10.2.3.1, 203.0.113.9"], "203.0.113.9"),
            (&["10.2.3.1, 203.0.113.9:443"], "203.0.113.9"),
            (&["10.2.3.1, [2001:db8::1]:443"], "2001:db8::1"),
            (&["10.2.3.1, 2001:db8::1"], "2001:db8::1"),
            (&["10.2.3.1, unknown"], "10.0.0.1"),
            (&["10.2.3.1, "], "10.0.0.1"),
            (&["198.51.100.7", "10.2.3.1,junk"], "10.0.0.1"),
            (&["10.2.3.1", "198.51.100.7"], "198.51.100.7"),
        ];
        for (lines, want) in cases {
            let map = headers(&lines.iter().map(|l| ("x-forwarded-for", *l)).collect::<Vec<_>>());
            let got = client_ip(&map, Some(peer), true).unwrap();
            assert_eq!(got.to_string(), want, "{lines:?}");
            assert_eq!(client_ip(&map, Some(peer), false), Some(peer), "untrusted: the peer");
        }
    }

    #[test]
    fn origins_hosts_and_sites_are_checked() {
        let allowed = ["https://shop.example".to_string()];
        let own = [("host", "relay.example:8080"), ("origin", "http://relay.example:8080")];
        assert_eq!(check_origin(&headers(&[]), &allowed), Ok(()));
        assert_eq!(check_origin(&headers(&[("origin", "https://shop.example")]), &allowed), Ok(()));
        assert_eq!(check_origin(&headers(&own), &allowed), Ok(()));
        let evil = headers(&[("host", "relay.example"), ("origin", "https://evil.example")]);
        assert_eq!(
            check_origin(&evil, &allowed),
            Err(Refusal::Origin("https://evil.example".into()))
        );
        assert_eq!(check_origin(&evil, &["*".to_string()]), Ok(()));
        assert!(check_origin(&headers(&[("origin", "null")]), &allowed).is_err());

        assert_eq!(check_same_site(&headers(&[])), Ok(()));
        assert_eq!(check_same_site(&headers(&own)), Ok(()));
        assert!(check_same_site(&evil).is_err());
        assert!(check_same_site(&headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(check_same_site(&headers(&[("sec-fetch-site", "same-site")])).is_err());
        assert_eq!(check_same_site(&headers(&[("sec-fetch-site", "none")])), Ok(()));

        let extra = ["leads.internal".to_string()];
        // (Host, allowed)
        let cases = [
            ("127.0.0.1:8080", true),
            ("localhost:8080", true),
            ("app.localhost", true),
            ("[::1]:8080", true),
            ("203.0.113.5", true),
            ("leads.internal:8080", true),
            ("evil.example:8080", false),
            ("evil.example", false),
            ("", false),
        ];
        for (host, ok) in cases {
            let map = if host.is_empty() { headers(&[]) } else { headers(&[("host", host)]) };
            assert_eq!(check_host(&map, &extra).is_ok(), ok, "{host}");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(token_matches(b"s3cret", b"s3cret"));
        assert!(!token_matches(b"s3cre", b"s3cret"));
        assert!(!token_matches(b"", b"s3cret"));
        assert!(!token_matches(b"s3cret-and-more", b"s3cret"));
    }
}
