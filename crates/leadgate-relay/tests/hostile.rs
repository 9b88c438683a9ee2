//! The relay against hostile and careless clients, over real HTTP on 127.0.0.1: each test is
//! a probe that once got through (issue 10), with the answer the relay must give now.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use leadgate_relay::ConnectionLimits;
use serde_json::Value;

fn addr(relay: &Relay) -> String {
    relay.base.trim_start_matches("http://").to_string()
}

#[test]
fn pages_of_other_origins_may_not_post_leads_or_events() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let own = relay.base.clone();
    let lead = |seed| serde_json::to_string(&good_payload(seed)).unwrap();
    let events = r#"[{"form_id": "demo", "kind": "view"}]"#;
    // (path, Origin, body, expected status)
    let cases = [
        ("/v1/leads", Some("http://shop.example"), lead(1), 201),
        ("/v1/leads", None, lead(2), 201),
        ("/v1/leads", Some(own.as_str()), lead(3), 201),
        ("/v1/leads", Some("http://evil.example"), lead(4), 403),
        ("/v1/leads", Some("null"), lead(5), 403),
        ("/v1/leads", Some("http://shop.example:8080"), lead(6), 403),
        ("/v1/events", Some("http://shop.example"), events.to_string(), 202),
        ("/v1/events", Some("http://evil.example"), events.to_string(), 403),
    ];
    for (path, origin, body, want) in cases {
        let mut headers = vec![("Content-Type", "text/plain")];
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        let path = if path == "/v1/leads" {
            let id: Value = serde_json::from_str(&body).unwrap();
            format!("/v1/leads?idempotency_key={}", id["id"].as_str().unwrap())
        } else {
            path.to_string()
        };
        let reply = relay.raw("POST", &path, &headers, &body);
        assert_eq!(reply.status, want, "{path} from {origin:?}: {}", reply.body);
        if want == 403 {
            assert!(reply.error().contains("--allow-origin"), "{}", reply.body);
        }
    }
    assert_eq!(relay.rows(), 3, "refused leads are not stored");
}

#[test]
fn lead_ids_are_canonical_and_context_strings_bounded_and_nul_free() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let mut lead = payload(1, &[("email", "ada@example.com"), ("company", "Ac\u{0}me")]);
    lead.context.page_url = format!("http://127.0.0.1/landing?x={}", "a".repeat(60_000));
    lead.context.utm.insert("utm_campaign".into(), "spring\u{0}".into());
    let json = serde_json::to_string(&lead).unwrap();
    assert!(json.contains("\\u0000"), "the NUL travels as an escape");
    let first = relay.raw("POST", "/v1/leads", &[("Content-Type", "application/json")], &json);
    assert_eq!(first.status, 201, "{}", first.body);

    // An upper-case copy of the id is the same lead, replayed.
    let upper = json.replace(&lead.id, &lead.id.to_uppercase());
    let key = lead.id.to_uppercase();
    let headers = [("Content-Type", "application/json"), ("Idempotency-Key", key.as_str())];
    let again = relay.raw("POST", "/v1/leads", &headers, &upper);
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(relay.rows(), 1);

    let stored = &relay.leads()[0];
    assert_eq!(stored["id"], lead.id.as_str());
    let payload = &stored["payload"];
    assert_eq!(payload["fields"]["company"], "Acme");
    assert_eq!(payload["context"]["utm"]["utm_campaign"], "spring");
    let page_url = payload["context"]["page_url"].as_str().unwrap();
    assert_eq!(page_url.len(), leadgate_core::MAX_URL);
    for path in ["/leads", "/leads.csv", "/v1/leads"] {
        let reply = relay.get(path);
        assert_eq!(reply.status, 200);
        assert!(!reply.body.contains('\u{0}') && !reply.body.contains("\\u0000"), "{path}");
    }
}

#[test]
fn an_open_dashboard_answers_only_its_own_hosts_and_refuses_cross_site_actions() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.allowed_hosts = vec!["leads.internal".into()];
    let relay = Relay::start(opts);
    let port = addr(&relay).rsplit(':').next().unwrap().to_string();
    let own = addr(&relay);
    let rebound = format!("evil.example:{port}");
    let internal = format!("leads.internal:{port}");
    let localhost = format!("localhost:{port}");
    // Reading: (Host, expected status). DNS rebinding sends the attacker's host name.
    let cases = [
        (own.as_str(), 200),
        (localhost.as_str(), 200),
        (internal.as_str(), 200),
        (rebound.as_str(), 403),
    ];
    for (host, want) in cases {
        for path in ["/v1/leads", "/v1/stats", "/v1/deliveries", "/leads", "/leads.csv"] {
            let reply = relay.raw("GET", path, &[("Host", host)], "");
            assert_eq!(reply.status, want, "GET {path} Host: {host}");
            if want == 403 {
                assert!(reply.error().contains("--allow-host"), "{}", reply.body);
            }
        }
    }
    // A cross-site form post (text/plain, no preflight) must not replay dead letters.
    let own_origin = relay.base.clone();
    let rebound_origin = format!("http://{rebound}");
    // (headers, expected status)
    let cases: [(Vec<(&str, &str)>, u16); 6] = [
        (vec![("Origin", "http://evil.example"), ("Content-Type", "text/plain")], 403),
        (vec![("Sec-Fetch-Site", "cross-site")], 403),
        (vec![("Origin", own_origin.as_str()), ("Sec-Fetch-Site", "same-origin")], 200),
        (vec![], 200),
        // DNS rebinding: Origin and Host agree, but the host is not the relay's.
        (vec![("Host", rebound.as_str()), ("Origin", rebound_origin.as_str())], 403),
        (vec![("Sec-Fetch-Site", "none")], 200),
    ];
    for (headers, want) in cases {
        let reply = relay.raw("POST", "/v1/deliveries/replay", &headers, "");
        assert_eq!(reply.status, want, "{headers:?}: {}", reply.body);
        if want == 200 {
            assert_eq!(serde_json::from_str::<Value>(&reply.body).unwrap()["replayed"], 0);
        }
    }
    // A malformed query string is a JSON error like every other.
    let reply = relay.get("/v1/leads?limit=lots");
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("limit"), "{}", reply.body);
}

#[test]
fn half_open_and_idle_connections_are_closed_and_do_not_block_leads() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.limits = ConnectionLimits { header_timeout_ms: 1000, ..Default::default() };
    opts.rate_limit = None;
    let relay = Relay::start(opts);
    let target = addr(&relay);
    // 500 slowloris connections: headers started, never finished.
    let mut slow: Vec<TcpStream> = (0..500)
        .map(|_| {
            let mut s = TcpStream::connect(&target).unwrap();
            s.write_all(b"POST /v1/leads HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
            s
        })
        .collect();
    // An idle keep-alive connection after one complete request.
    let mut idle = TcpStream::connect(&target).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = [0u8; 512];
    assert!(idle.read(&mut answer).unwrap() > 0);

    let started = Instant::now();
    let reply = relay.post_lead(&good_payload(1));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "a lead took {took:?} beside 500 slow connections");

    // The relay hangs up on them after the header timeout (1 s here): read sees the end.
    let closed_by = |s: &mut TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1024];
        let t = Instant::now();
        loop {
            match s.read(&mut buf) {
                Ok(0) => return Some(t.elapsed()),
                Ok(_) => continue, // a 408 answer, if any, before the close
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Some(t.elapsed())
                }
                Err(_) => return None,
            }
        }
    };
    for (i, s) in slow.iter_mut().enumerate().step_by(50) {
        assert!(closed_by(s).is_some(), "slow connection {i} is still open after 5 s");
    }
    assert!(closed_by(&mut idle).is_some(), "the idle connection is still open after 5 s");
    assert_eq!(relay.get("/healthz").status, 200);
}

#[test]
fn an_empty_dashboard_token_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let relay = env!("CARGO_BIN_EXE_leadgate-relay");
    // (flags, LEADGATE_DASHBOARD_TOKEN)
    let cases: [(&[&str], Option<&str>); 3] =
        [(&["--dashboard-token", ""], None), (&["--dashboard-token", "  "], None), (&[], Some(""))];
    for (flags, env) in cases {
        let mut command = Command::new(relay);
        command
            .args(["--listen", "0.0.0.0:0", "--db"])
            .arg(&db)
            .args(flags)
            .env_remove("LEADGATE_DASHBOARD_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(value) = env {
            command.env("LEADGATE_DASHBOARD_TOKEN", value);
        }
        let mut child = command.spawn().unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(10) {
                child.kill().unwrap();
                panic!("{flags:?} {env:?}: the relay started with an empty token");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(2), "{flags:?} {env:?}: {stderr}");
        assert!(
            stderr.contains("dashboard token is empty") || stderr.contains("set --dashboard-token"),
            "{flags:?} {env:?}: {stderr}"
        );
    }
}
