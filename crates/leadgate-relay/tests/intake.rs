//! Receiving over real HTTP: rate limit, spam checks, field limits, events, durability.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use leadgate_relay::RateLimit;
use serde_json::{json, Value};

#[test]
fn a_flood_from_one_address_gets_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.rate_limit = Some(RateLimit { per_minute: 60, burst: 3 });
    let relay = Relay::start(opts);
    let mut proxied = options(dir.path());
    proxied.db_path = dir.path().join("proxied.db");
    proxied.rate_limit = Some(RateLimit { per_minute: 60, burst: 1 });
    proxied.trust_forwarded_for = true;
    let behind_proxy = Relay::start(proxied);

    // Leads and events share the address's bucket.
    let statuses: Vec<u16> = vec![
        relay.post_lead(&good_payload(1)).status,
        relay.post_to("/v1/events", r#"[{"form_id": "demo", "kind": "view"}]"#).status,
        relay.post_lead(&good_payload(2)).status,
        relay.post_lead(&good_payload(3)).status,
    ];
    assert_eq!(statuses, [201, 202, 201, 429]);
    let limited = relay.post_lead(&good_payload(4));
    assert_eq!(limited.status, 429);
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(limited.error().contains("too many requests"), "{}", limited.body);
    // The dashboard and health are not limited.
    assert_eq!(relay.get("/healthz").status, 200);
    assert_eq!(relay.leads().len(), 2);

    // Behind a proxy, each client has its own bucket: the rightmost X-Forwarded-For entry
    // (the one the proxy appended), `ip:port` read as the ip, anything else as the proxy's
    // own address. Entries a client adds on the left change nothing.
    let post_from = |forwarded: &str, seed: u8| {
        let lead = good_payload(seed);
        send(
            ureq::post(&behind_proxy.url("/v1/leads"))
                .set("Content-Type", "application/json")
                .set("X-Forwarded-For", forwarded)
                .set("Idempotency-Key", &lead.id),
            Some(&serde_json::to_string(&lead).unwrap()),
        )
        .status
    };
    assert_eq!(
        [
            post_from("203.0.113.9, 198.51.100.1", 10),
            post_from("203.0.113.9, 198.51.100.1", 11),
            post_from("203.0.113.9, 198.51.100.2", 12),
            // The attack: a fresh left entry each time, the same client on the right.
            post_from("10.2.1.1, 198.51.100.3:443", 13),
            post_from("10.2.2.1, 198.51.100.3:443", 14),
            post_from("10.2.3.1, [2001:db8::3]:443", 15),
            post_from("10.2.4.1, 2001:db8::3", 16),
            // Unparsable on the right: the peer's (the proxy's) bucket, shared by all such.
            post_from("10.2.5.1, unknown", 17),
            post_from("10.2.6.1, unknown", 18),
            post_from("10.2.7.1, garbage", 19),
        ],
        [201, 429, 201, 201, 429, 201, 429, 201, 429, 429]
    );
}

#[test]
fn honeypots_fast_fills_and_missing_meta_are_stored_as_spam_with_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let mut lenient = options(dir.path());
    lenient.db_path = dir.path().join("lenient.db");
    lenient.require_meta = false;
    let lenient = Relay::start(lenient);
    // (meta, expected spam, expected spam with require_meta = false)
    let cases: Vec<(Option<Value>, Value, Value)> = vec![
        (None, json!("no_meta"), Value::Null),
        (Some(json!("not an object")), json!("no_meta"), Value::Null),
        (Some(json!({"honeypot": "", "fill_ms": 5400})), Value::Null, Value::Null),
        (
            Some(json!({"honeypot": "http://buy.example", "fill_ms": 5400})),
            json!("honeypot"),
            json!("honeypot"),
        ),
        (Some(json!({"honeypot": "", "fill_ms": 800})), json!("too_fast"), json!("too_fast")),
        (Some(json!({"fill_ms": 2000})), Value::Null, Value::Null),
        (Some(json!({"honeypot": true})), json!("honeypot"), json!("honeypot")),
        (Some(json!({"honeypot": "", "fill_ms": "1"})), json!("no_fill_time"), Value::Null),
        (Some(json!({"honeypot": ""})), json!("no_fill_time"), Value::Null),
    ];
    for (i, (meta, want, want_lenient)) in cases.iter().enumerate() {
        let mut lead = good_payload(100 + i as u8);
        lead.meta = meta.clone().map(Into::into);
        for (relay, want) in [(&relay, want), (&lenient, want_lenient)] {
            let reply = relay.post_lead(&lead);
            assert_eq!(reply.status, 201, "{meta:?}: {}", reply.body);
            assert_eq!(reply.body, json!({"id": lead.id, "stored": true}).to_string());
            let leads = relay.leads();
            let stored = leads.iter().find(|l| l["id"] == lead.id.as_str()).unwrap();
            assert_eq!(&stored["spam"], want, "{meta:?}");
        }
    }
    let page = relay.get("/leads");
    assert!(page.body.contains("spam (honeypot): stored, not forwarded"));
    assert!(page.body.contains("spam (no_meta): stored, not forwarded"));
    assert!(page.body.contains("<dt>Spam</dt><dd>7</dd>"), "spam KPI");
    assert!(page.body.contains("<dt>Leads</dt><dd>2</dd>"), "spam is not a lead in the KPIs");
}

#[test]
fn fields_are_checked_against_the_form_and_bounded_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let mut no_forms = options(dir.path());
    no_forms.db_path = dir.path().join("open.db");
    no_forms.forms = vec![];
    let open = Relay::start(no_forms);
    let many: Vec<(String, String)> = (0..101).map(|i| (format!("f{i}"), "x".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let long = "x".repeat(201);

    // (relay, lead, status, words)
    let cases = [
        (
            &relay,
            payload(1, &[("email", "ada@example.com"), ("fax", "1")]),
            422,
            "fields.fax: the form \"demo\" has no such field",
        ),
        (
            &relay,
            payload(2, &[("email", "not-an-address")]),
            422,
            "fields.email is not an e-mail address",
        ),
        (&relay, payload(3, &[("company", "x")]), 422, "fields.email is required"),
        (
            &relay,
            payload(4, &[("email", "ada@example.com"), ("company", &long)]),
            422,
            "fields.company is longer than 200",
        ),
        (&open, payload(5, &many), 422, "100 fields at most"),
        (
            &open,
            payload(6, &[("email", "ada@example.com"), ("note", &"y".repeat(10_001))]),
            422,
            "fields.note: values may be 10000",
        ),
        (&open, payload(7, &[("email", "ada@example.com"), ("fax", "1")]), 201, ""),
    ];
    for (relay, lead, status, words) in cases {
        let reply = relay.post_lead(&lead);
        assert_eq!(reply.status, status, "{words}: {}", reply.body);
        if status != 201 {
            assert!(reply.error().contains(words), "{:?} lacks {words:?}", reply.error());
        }
    }
    assert_eq!(relay.rows(), 0);
}

#[test]
fn events_are_validated_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let too_many = format!("[{}]", vec![r#"{"form_id":"demo","kind":"view"}"#; 101].join(","));
    // (body, status, words)
    let cases = [
        (r#"{"form_id": "demo"}"#.to_string(), 400, "not a list of events"),
        (r#"[{"form_id": "demo", "kind": "click"}]"#.into(), 422, "[0].kind \"click\""),
        (r#"[{"form_id": "pricing", "kind": "view"}]"#.into(), 422, "does not know the form"),
        (r#"[{"form_id": "demo", "kind": "view", "colour": 1}]"#.into(), 400, "unknown field"),
        (too_many, 413, "100 events at most"),
    ];
    for (body, status, words) in cases {
        let reply = relay.post_to("/v1/events", &body);
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(reply.error().contains(words), "{:?} lacks {words:?}", reply.error());
    }
    let batch = r#"[{"id": "e1", "form_id": "demo", "kind": "view", "at": "2026-11-26T10:00:00Z"},
        {"id": "e2", "form_id": "demo", "kind": "start", "utm_source": "newsletter"}]"#;
    let first = relay.post_to("/v1/events", batch);
    assert_eq!((first.status, first.body.as_str()), (202, r#"{"accepted":2}"#));
    // sendBeacon may send the same batch twice: ids are counted once.
    let again = send(
        ureq::post(&relay.url("/v1/events")).set("Content-Type", "text/plain;charset=UTF-8"),
        Some(batch),
    );
    assert_eq!((again.status, again.body.as_str()), (202, r#"{"accepted":0}"#));
    let stats: Value = serde_json::from_str(&relay.get("/v1/stats").body).unwrap();
    assert_eq!(
        (stats["totals"]["views"].as_u64(), stats["totals"]["starts"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn the_database_is_in_wal_mode_and_acknowledged_leads_are_committed() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    for seed in 0..20 {
        assert_eq!(relay.post_lead(&good_payload(seed)).status, 201);
        // Another connection sees every acknowledged lead at once: it was committed first.
        assert_eq!(relay.rows(), i64::from(seed) + 1);
    }
    let conn = rusqlite::Connection::open(&relay.db).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}
