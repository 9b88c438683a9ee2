//! The relay over real HTTP: a real server on 127.0.0.1 (port 0), a real SQLite file in a temp
//! dir, a real HTTP client (ureq).
// The whole file is test code; `allow-unwrap-in-tests` only covers `#[test]` fns, not helpers.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use leadgate_core::payload::lead_id;
use leadgate_core::LeadPayload;
use leadgate_relay::http::DEMO_CSP;
use serde_json::Value;

#[test]
fn a_lead_is_stored_once_and_repeats_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let lead = good_payload(1);

    let first = relay.post_lead(&lead);
    assert_eq!(first.status, 201, "{}", first.body);
    let json: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(json, serde_json::json!({"id": lead.id, "stored": true}));
    assert_eq!(relay.rows(), 1);
    let leads = relay.leads();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["id"], lead.id.as_str());
    assert_eq!(leads[0]["form_id"], "demo");
    assert_eq!(leads[0]["attempts"], 1);
    assert_eq!(leads[0]["score_checked"], "match");
    assert!(leads[0]["received_at"].as_str().unwrap().ends_with('Z'));
    let stored: LeadPayload = serde_json::from_value(leads[0]["payload"].clone()).unwrap();
    assert_eq!(stored, lead);

    assert_eq!(first.header("idempotent-replayed"), None);
    // A repeat gets the same answer (and says it is one).
    let again = relay.post_lead(&lead);
    assert_eq!((again.status, again.body.as_str()), (201, first.body.as_str()));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(relay.rows(), 1);
    let leads = relay.leads();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["attempts"], 2);

    let conn = rusqlite::Connection::open(dir.path().join("leads.db")).unwrap();
    let row: (i64, String, i64, String, String, String) = conn
        .query_row(
            "SELECT total, grade, qualified, stage, score_checked, submitted_at FROM leads",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!(
        row,
        (35, lead.score.grade.clone(), 1, "mql".into(), "match".into(), lead.submitted_at.clone())
    );
}

#[test]
fn bad_requests_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let lead = good_payload(2);
    let json = serde_json::to_string(&lead).unwrap();
    let mut tampered_sum = lead.clone();
    tampered_sum.score.total = 1000;
    let mut bad_id = lead.clone();
    bad_id.id = "42".into();
    let mut other_form = lead.clone();
    other_form.form_id = "pricing".into();
    let huge = payload(3, &[("email", "ada@example.com"), ("company", &"x".repeat(70 * 1024))]);
    let other_key = lead_id([9; 16]);
    let to_json = |p: &LeadPayload| serde_json::to_string(p).unwrap();
    let mut nil = lead.clone();
    nil.id = "00000000-0000-0000-0000-000000000000".into();
    // Hits of i64::MAX and 2: the sum used to wrap (and a histogram bucket with it).
    let mut overflow = lead.clone();
    overflow.score.hits[0].points = i64::MAX;
    overflow.score.hits[1].points = 2;
    overflow.score.total = i64::MIN + 1;
    let mut huge_hit = lead.clone();
    huge_hit.score.hits[0].points = 2_000_000_000_000;
    huge_hit.score.hits[1].points = -2_000_000_000_000;
    huge_hit.score.total = huge_hit.score.hits.iter().map(|h| h.points).sum();

    // (what, body, Idempotency-Key, status, words in the error)
    let cases: Vec<(&str, String, Option<&str>, u16, &str)> = vec![
        ("garbage", "this is not json".into(), None, 400, "the body is not a lead payload"),
        ("empty object", "{}".into(), None, 400, "the body is not a lead payload"),
        ("key mismatch", json.clone(), Some(&other_key), 400, "does not match the lead id"),
        ("hits don't add up", to_json(&tampered_sum), None, 400, "score.total is 1000"),
        ("id not a UUID", to_json(&bad_id), None, 400, "is not a UUID"),
        ("nil id", to_json(&nil), None, 400, "id is the nil UUID"),
        ("score overflow", to_json(&overflow), None, 400, "score.total is out of range"),
        (
            "points out of range",
            to_json(&huge_hit),
            None,
            400,
            "score.hits[0].points is out of range",
        ),
        ("unknown form", to_json(&other_form), None, 422, "does not know the form \"pricing\""),
        ("over 64 KiB", to_json(&huge), None, 413, "larger than 65536 bytes (64 KiB)"),
    ];
    for (what, body, key, status, words) in cases {
        let reply = relay.post(&body, "application/json", key);
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        let error = reply.error();
        assert!(error.contains(words), "{what}: {error:?} lacks {words:?}");
    }
    assert_eq!(relay.rows(), 0);
    assert!(relay.leads().is_empty());
}

#[test]
fn json_is_required_and_text_plain_only_from_a_beacon() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    // (content type, path suffix, expected status): sendBeacon sends text/plain with the key
    // in the URL and no custom header.
    let cases: [(Option<&str>, bool, u16); 8] = [
        (Some("text/plain;charset=UTF-8"), true, 201),
        (Some("application/json"), false, 201),
        (Some("application/json; charset=utf-8"), false, 201),
        (Some("Application/JSON"), false, 201),
        (Some("text/plain;charset=UTF-8"), false, 415),
        (Some("application/x-www-form-urlencoded"), false, 415),
        (Some("multipart/form-data; boundary=x"), true, 415),
        (None, false, 415),
    ];
    let mut stored = 0;
    for (i, (content_type, beacon, want)) in cases.into_iter().enumerate() {
        let lead = good_payload(10 + i as u8);
        let body = serde_json::to_string(&lead).unwrap();
        let path = if beacon {
            format!("/v1/leads?idempotency_key={}", lead.id)
        } else {
            "/v1/leads".into()
        };
        let headers: Vec<(&str, &str)> =
            content_type.map(|t| ("Content-Type", t)).into_iter().collect();
        let reply = relay.raw("POST", &path, &headers, &body);
        assert_eq!(reply.status, want, "{content_type:?} {beacon}: {}", reply.body);
        if want == 415 {
            assert!(reply.error().contains("Content-Type: application/json"), "{}", reply.body);
        } else {
            stored += 1;
        }
    }
    assert_eq!(relay.rows(), stored);
    // The beacon's key must be the lead's, like the header.
    let lead = good_payload(30);
    let path = format!("/v1/leads?idempotency_key={}", lead_id([31; 16]));
    let reply = relay.raw(
        "POST",
        &path,
        &[("Content-Type", "text/plain")],
        &serde_json::to_string(&lead).unwrap(),
    );
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("idempotency_key"), "{}", reply.body);
}

#[test]
fn cors_allows_only_the_configured_origins() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let mut any = options(dir.path());
    any.db_path = dir.path().join("any.db");
    any.allowed_origins = vec!["*".into()];
    let open = Relay::start(any);

    // (relay, origin, expected Access-Control-Allow-Origin)
    let cases = [
        (&relay, "http://shop.example", Some("http://shop.example")),
        (&relay, "http://evil.example", None),
        (&relay, "http://shop.example:8080", None),
        (&open, "http://anyone.example", Some("*")),
    ];
    for (relay, origin, want) in cases {
        let reply = send(
            ureq::request("OPTIONS", &relay.url("/v1/leads"))
                .set("Origin", origin)
                .set("Access-Control-Request-Method", "POST")
                .set("Access-Control-Request-Headers", "content-type,idempotency-key"),
            None,
        );
        assert!(reply.status < 300, "{origin}: {}", reply.status);
        assert_eq!(reply.header("access-control-allow-origin"), want, "{origin}");
        if want.is_some() {
            let headers = reply.header("access-control-allow-headers").unwrap().to_lowercase();
            assert!(headers.contains("idempotency-key"), "{headers}");
            assert!(headers.contains("content-type"), "{headers}");
            let methods = reply.header("access-control-allow-methods").unwrap();
            assert!(methods.contains("POST"), "{methods}");
        }
    }

    // The real POST from the allowed origin carries the header too.
    let lead = good_payload(20);
    let reply = send(
        ureq::post(&relay.url("/v1/leads"))
            .set("Origin", "http://shop.example")
            .set("Content-Type", "application/json")
            .set("Idempotency-Key", &lead.id),
        Some(&serde_json::to_string(&lead).unwrap()),
    );
    assert_eq!(reply.status, 201);
    assert_eq!(reply.header("access-control-allow-origin"), Some("http://shop.example"));
    // Other origins may post leads, never read them.
    let reply = send(ureq::get(&relay.url("/v1/leads")).set("Origin", "http://shop.example"), None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[test]
fn the_dashboard_shows_the_reasons_and_escapes_visitor_input() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let lead = payload(
        30,
        &[
            ("email", "eve@gmail.com"),
            ("company", "<script>alert('x')</script> & Co"),
            ("employees", "1,200"),
        ],
    );
    assert_eq!(relay.post_lead(&lead).status, 201);
    assert_eq!(relay.post_lead(&good_payload(31)).status, 201);

    let page = relay.get("/leads");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("style-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
    let html = &page.body;
    for reason in ["Gave an e-mail address", "Company has 200+ employees", "Free e-mail provider"] {
        assert!(html.contains(reason), "the page lacks the reason {reason:?}");
    }
    for want in [
        // maud escapes `& < > "`; a `'` is inert outside single-quoted attributes, which the
        // page has none of.
        "&lt;script&gt;alert('x')&lt;/script&gt; &amp; Co",
        "big-company",
        "+25",
        "-5",
        "MQL",
        "relay's score agrees",
        "newsletter",
        "href=\"/leads.css\"",
    ] {
        assert!(html.contains(want), "the page lacks {want:?}");
    }
    for banned in ["<script", "style=", "<style"] {
        assert!(!html.contains(banned), "the page contains {banned:?}");
    }
    // Newest first.
    let newer = html.find("Analytical").unwrap();
    let older = html.find("eve@gmail.com").unwrap();
    assert!(newer < older, "not newest first");

    let css = relay.get("/leads.css");
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(css.body.contains(".hits"));
}

#[test]
fn the_relay_re_scores_and_flags_tampered_leads() {
    let dir = tempfile::tempdir().unwrap();
    // A tampered lead keeps its sum consistent, so only re-scoring can notice.
    let mut tampered = good_payload(40);
    tamper(&mut tampered);
    let mut unqualified = payload(41, &[("email", "ada@example.com")]);
    unqualified.score.qualified = true;
    let honest = good_payload(42);

    let checked = Relay::start(options(dir.path()));
    let mut no_forms = options(dir.path());
    no_forms.db_path = dir.path().join("unchecked.db");
    no_forms.forms = vec![];
    let unchecked = Relay::start(no_forms);

    // (relay, lead, expected score_checked)
    let cases = [
        (&checked, &tampered, "mismatch"),
        (&checked, &unqualified, "mismatch"),
        (&checked, &honest, "match"),
        (&unchecked, &tampered, "unchecked"),
    ];
    for (relay, lead, want) in cases {
        let reply = relay.post_lead(lead);
        assert_eq!(reply.status, 201, "{want}: {}", reply.body);
        let leads = relay.leads();
        let stored = leads.iter().find(|l| l["id"] == lead.id.as_str()).unwrap();
        assert_eq!(stored["score_checked"], want, "{}", lead.id);
        assert_eq!(stored["payload"]["score"]["total"], lead.score.total);
    }
    let page = checked.get("/leads");
    assert!(page.body.contains("relay scored it differently"));
    assert!(page.body.contains("Trust me"));
}

#[test]
fn the_demo_dir_is_served_under_the_strict_csp() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>Demo landing</title>").unwrap();
    std::fs::write(dist.join("leadgate_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dist.join("leadgate.js"), "export default 1;").unwrap();
    let mut opts = options(dir.path());
    opts.demo_dir = Some(dist);
    let relay = Relay::start(opts);

    // (path, status, content type starts with)
    let cases = [
        ("/", 200, "text/html"),
        ("/index.html", 200, "text/html"),
        ("/leadgate_bg.wasm", 200, "application/wasm"),
        ("/leadgate.js", 200, "text/javascript"),
        ("/missing.png", 404, ""),
    ];
    for (path, status, content_type) in cases {
        let reply = relay.get(path);
        assert_eq!(reply.status, status, "{path}");
        assert_eq!(reply.header("content-security-policy"), Some(DEMO_CSP), "{path}");
        assert_eq!(reply.header("cache-control"), Some("no-cache"), "{path}");
        let got = reply.header("content-type").unwrap_or_default();
        assert!(got.starts_with(content_type), "{path}: {got}");
    }
    assert_eq!(
        DEMO_CSP,
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         connect-src 'self'; img-src 'self' data:"
    );
    assert!(relay.get("/").body.contains("Demo landing"));
    // The API still answers beside the files.
    let health = relay.get("/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    assert_eq!(relay.post_lead(&good_payload(50)).status, 201);
}

#[test]
fn leads_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = good_payload(60);
    let second = payload(61, &[("email", "bob@example.com")]);
    {
        let relay = Relay::start(options(dir.path()));
        assert_eq!(relay.post_lead(&first).status, 201);
        assert_eq!(relay.post_lead(&second).status, 201);
    } // dropped: shut down, connection closed

    let relay = Relay::start(options(dir.path()));
    let leads = relay.leads();
    let ids: Vec<&str> = leads.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.id.as_str(), first.id.as_str()], "newest first");
    // The idempotency key outlives the process too.
    let again = relay.post_lead(&first);
    assert_eq!((again.status, again.header("idempotent-replayed")), (201, Some("true")));
    let leads = relay.leads();
    assert_eq!(leads[1]["attempts"], 2);
    assert_eq!(relay.rows(), 2);
}

#[test]
fn a_database_failure_answers_503_so_the_widget_retries() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    assert_eq!(relay.get("/healthz").body, "ok");
    let conn = rusqlite::Connection::open(dir.path().join("leads.db")).unwrap();
    conn.execute_batch("DROP TABLE leads").unwrap();
    drop(conn);

    let reply = relay.post_lead(&good_payload(70));
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.error().contains("lead database"), "{}", reply.body);
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert_eq!(relay.get("/v1/leads").status, 503);
    assert_eq!(relay.get("/leads").status, 503);
}

#[test]
fn lead_lists_page_newest_first_with_before() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.rate_limit = None;
    let relay = Relay::start(opts);
    let mut ids = Vec::new();
    for seed in 1..=5 {
        let lead = good_payload(seed);
        assert_eq!(relay.post_lead(&lead).status, 201);
        ids.push(lead.id);
    }
    let page = |query: &str| -> Vec<String> {
        let reply = relay.get(&format!("/v1/leads?{query}"));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let leads: Vec<Value> = serde_json::from_str(&reply.body).unwrap();
        leads.iter().map(|l| l["id"].as_str().unwrap().to_string()).collect()
    };
    // Newest first; several leads can share a millisecond: then by id, still a total order.
    let all = page("limit=10");
    assert_eq!(all.len(), 5);
    let first = page("limit=2");
    assert_eq!(first, all[..2]);
    let second = page(&format!("limit=2&before={}", first[1]));
    assert_eq!(second, all[2..4]);
    let third = page(&format!("limit=2&before={}", second[1]));
    assert_eq!(third, all[4..]);
    assert!(page(&format!("limit=2&before={}", third[0])).is_empty());
    // Search by address prefix or domain prefix, through the indexes.
    assert_eq!(page("q=ADA@").len(), 5);
    assert_eq!(page("q=example").len(), 5);
    assert!(page("q=xample").is_empty(), "a prefix, not a substring");
}
