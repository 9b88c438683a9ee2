//! The dashboard over real HTTP: its protection, its numbers against the inserted data, the
//! search and the CSV export.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::receiver::Receiver;
use common::*;
use leadgate_relay::Webhook;
use serde_json::{json, Value};

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

#[test]
fn with_a_token_the_dashboard_and_reading_api_need_it_and_intake_stays_public() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.dashboard_token = Some("s3cret-token".into());
    let relay = Relay::start(opts);
    assert_eq!(relay.post_lead(&good_payload(1)).status, 201, "intake is public");
    assert_eq!(relay.post_to("/v1/events", r#"[{"form_id":"demo","kind":"view"}]"#).status, 202);
    assert_eq!(relay.get("/healthz").status, 200);
    assert_eq!(relay.get("/leads.css").status, 200);

    let bearer = "Bearer s3cret-token".to_string();
    // (path, Authorization, status)
    let cases = [
        ("/leads", None, 401),
        ("/leads", Some("Bearer wrong".to_string()), 401),
        ("/leads", Some(basic("sales", "wrong")), 401),
        ("/leads", Some(bearer.clone()), 200),
        ("/leads", Some(basic("sales", "s3cret-token")), 200),
        ("/leads.csv", None, 401),
        ("/leads.csv", Some(basic("anyone", "s3cret-token")), 200),
        ("/v1/leads", None, 401),
        ("/v1/leads", Some(bearer.clone()), 200),
        ("/v1/stats", None, 401),
        ("/v1/stats", Some(bearer.clone()), 200),
        ("/v1/deliveries", None, 401),
        ("/v1/deliveries", Some(bearer.clone()), 200),
    ];
    for (path, auth, status) in cases {
        let reply = match &auth {
            Some(auth) => relay.get_auth(path, auth),
            None => relay.get(path),
        };
        assert_eq!(reply.status, status, "{path} {auth:?}");
        if status == 401 {
            let challenge = reply.header("www-authenticate").unwrap();
            assert!(challenge.starts_with("Basic realm="), "{challenge}");
            assert!(!reply.body.contains("ada@example.com"));
        }
    }
    // Replaying changes state: the Bearer token only (browsers resend basic auth by themselves).
    let replay = |auth: &str| {
        send(ureq::post(&relay.url("/v1/deliveries/replay")).set("Authorization", auth), Some(""))
            .status
    };
    assert_eq!(replay(&basic("sales", "s3cret-token")), 401);
    assert_eq!(replay(&bearer), 200);
}

#[test]
fn the_numbers_equal_the_inserted_data() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Receiver::start(&[200]);
    let mut opts = options(dir.path());
    opts.webhooks = vec![Webhook { allow_private_network: true, ..Webhook::new("crm", &crm.url) }];
    opts.forwarding.poll_ms = 20;
    let relay = Relay::start(opts);

    let mut events = Vec::new();
    for i in 0..5 {
        events.push(json!({"id": format!("v{i}"), "form_id": "demo", "kind": "view", "utm_source": "newsletter", "utm_campaign": "spring"}));
    }
    events.push(json!({"id": "v5", "form_id": "demo", "kind": "view", "utm_source": "ads"}));
    for i in 0..3 {
        events.push(json!({"id": format!("s{i}"), "form_id": "demo", "kind": "start", "utm_source": "newsletter", "utm_campaign": "spring"}));
    }
    assert_eq!(relay.post_to("/v1/events", &Value::Array(events).to_string()).status, 202);

    // Two MQLs from the newsletter's spring campaign (35 points), one lead from ads (10), and
    // one spam that counts nowhere but in "Spam".
    let mut spring = vec![good_payload(1), good_payload(2)];
    for lead in &mut spring {
        lead.context.utm.insert("utm_campaign".into(), "spring".into());
    }
    spring = spring
        .into_iter()
        .map(|mut l| {
            l.context.utm.insert("utm_source".into(), "newsletter".into());
            l
        })
        .collect();
    let mut ads = payload(3, &[("email", "bob@gmail.com")]);
    ads.context.utm.insert("utm_source".into(), "ads".into());
    // `payload` scored the lead before the source changed: the score does not depend on it.
    for lead in spring.iter().chain([&ads]) {
        assert_eq!(relay.post_lead(lead).status, 201);
    }
    assert_eq!(relay.post_lead_with_meta(&good_payload(4), json!({"fill_ms": 300})).status, 201);
    wait_until("2 forwarded", || crm.seen().len() == 2);
    wait_until("recorded", || {
        let stats: Value = serde_json::from_str(&relay.get("/v1/stats").body).unwrap();
        stats["totals"]["forwarded"] == 2
    });

    let stats: Value = serde_json::from_str(&relay.get("/v1/stats").body).unwrap();
    assert_eq!(
        stats["totals"],
        json!({"views": 6, "starts": 3, "submissions": 3, "mqls": 2, "forwarded": 2, "submits": 0, "accepted": 0, "rejected": 0, "opportunities": 0, "won": 0})
    );
    let day = stats["by_day"][0][0].as_str().unwrap().to_string();
    assert_eq!(
        stats["by_day"],
        json!([[day, {"views": 6, "starts": 3, "submissions": 3, "mqls": 2, "forwarded": 2, "submits": 0, "accepted": 0, "rejected": 0, "opportunities": 0, "won": 0}]])
    );
    assert_eq!(
        stats["by_source"],
        json!([
            ["newsletter", "spring", {"views": 5, "starts": 3, "submissions": 2, "mqls": 2, "forwarded": 2, "submits": 0, "accepted": 0, "rejected": 0, "opportunities": 0, "won": 0}],
            ["ads", "", {"views": 1, "starts": 0, "submissions": 1, "mqls": 0, "forwarded": 0, "submits": 0, "accepted": 0, "rejected": 0, "opportunities": 0, "won": 0}],
        ])
    );
    assert_eq!(stats["histogram"], json!([[0, 1], [30, 2]]));
    assert_eq!(
        stats["top_rules"],
        json!([
            {"rule": "has-email", "reason": "Gave an e-mail address", "leads": 3, "points": 30},
            {"rule": "big-company", "reason": "Company has 200+ employees", "leads": 2, "points": 50},
            {"rule": "free-mail", "reason": "Free e-mail provider", "leads": 1, "points": -5},
        ])
    );
    assert_eq!((stats["spam"].as_u64(), stats["dead_letters"].as_u64()), (Some(1), Some(0)));

    let html = relay.get("/leads").body;
    for want in [
        "<dt>Widget views</dt><dd>6</dd>",
        "<dt>Form starts</dt><dd>3</dd>",
        "<dt>Leads</dt><dd>3</dd>",
        "<dt>Qualified (MQL)</dt><dd>2</dd>",
        "<dt>MQL rate</dt><dd>67%</dd>",
        "<dt>Forwarded</dt><dd>2</dd>",
        "<dt>Spam</dt><dd>1</dd>",
        "<th scope=\"row\">newsletter</th><td>spring</td><td class=\"num\">5</td><td class=\"num\">3</td><td class=\"num\">2</td><td class=\"num\">2</td><td class=\"num\">2</td>",
        "<meter min=\"0\" max=\"2\" value=\"2\">2</meter>",
        "<code class=\"rule\">has-email</code></th><td>Gave an e-mail address</td><td class=\"num\">3</td>",
        "forwarded</div>",
    ] {
        assert!(html.contains(want), "the page lacks {want:?}");
    }
    for banned in ["<script", "style=", "<style"] {
        assert!(!html.contains(banned), "the page contains {banned:?}");
    }
}

#[test]
fn leads_are_found_by_email_or_domain_and_exported_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let ada = good_payload(1);
    let bob = payload(2, &[("email", "Bob@Example.org"), ("company", "=HYPERLINK(\"x\")")]);
    let eve = payload(3, &[("email", "eve@gmail.com")]);
    for lead in [&ada, &bob, &eve] {
        assert_eq!(relay.post_lead(lead).status, 201);
    }
    let ids = |path: &str| -> Vec<String> {
        let leads: Vec<Value> = serde_json::from_str(&relay.get(path).body).unwrap();
        leads.iter().map(|l| l["id"].as_str().unwrap().to_string()).collect()
    };
    // (query, ids newest first)
    let cases = [
        ("/v1/leads", vec![&eve.id, &bob.id, &ada.id]),
        ("/v1/leads?q=example", vec![&bob.id, &ada.id]),
        ("/v1/leads?q=EXAMPLE.ORG", vec![&bob.id]),
        ("/v1/leads?q=ada@example.com", vec![&ada.id]),
        ("/v1/leads?q=%25", vec![]),
        ("/v1/leads?limit=1", vec![&eve.id]),
    ];
    for (path, want) in cases {
        assert_eq!(ids(path), want.into_iter().cloned().collect::<Vec<_>>(), "{path}");
    }
    let page = relay.get("/leads?q=gmail.com").body;
    assert!(page.contains("eve@gmail.com") && !page.contains("ada@example.com"));
    assert!(
        page.contains("value=\"gmail.com\"") && page.contains("href=\"/leads.csv?q=gmail.com\"")
    );

    let csv = relay.get("/leads.csv?q=example");
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(csv.header("content-disposition").unwrap().contains("leads.csv"));
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(lines[0].starts_with("id,received_at,form_id,email,score,grade,stage,qualified"));
    assert!(lines[1].starts_with(&format!("{},", bob.id)));
    // The e-mail column is the address the relay stored (lowercased: what search matches);
    // the fields cell keeps it as typed.
    assert!(lines[1].contains(",bob@example.org,10,"), "{}", lines[1]);
    assert!(lines[1].contains("Bob@Example.org"), "{}", lines[1]);
    assert!(
        lines[2].contains("has-email (+10): Gave an e-mail address; big-company (+25)"),
        "{}",
        lines[2]
    );
    // The visitor's formula is inside the JSON fields cell, which starts with `{`: inert.
    assert!(lines[1].contains(r#""{""company"":""=HYPERLINK(\""x\"")"""#), "{}", lines[1]);
}

/// The exports stream: more leads than several of the store's pages, each exactly once, in the
/// list's order (newest first), sent chunked (no `Content-Length`: the relay never held the
/// whole file), with `?limit=` and `?before=` honoured across page boundaries.
#[test]
fn exports_stream_every_lead_once_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.rate_limit = None;
    let relay = Relay::start(opts);
    let page = leadgate_relay::http::export::PAGE as usize;
    let total = 2 * page + 7;
    for i in 0..total {
        let mut lead = good_payload(1);
        let mut bytes = [7u8; 16];
        bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
        lead.id = leadgate_core::payload::lead_id(bytes);
        assert_eq!(relay.post_lead(&lead).status, 201);
    }
    let json = relay.get("/v1/leads");
    assert_eq!(json.status, 200);
    assert!(json.header("content-type").unwrap().starts_with("application/json"));
    assert_eq!(json.header("content-length"), None, "a streamed body has no length up front");
    assert_eq!(json.header("transfer-encoding"), Some("chunked"));
    let leads: Vec<Value> = serde_json::from_str(&json.body).unwrap();
    // The truth: every posted lead, ordered as the list orders (received_at, then id, newest
    // first), from the rows themselves.
    let conn = rusqlite::Connection::open(&relay.db).unwrap();
    let mut select =
        conn.prepare("SELECT id FROM leads ORDER BY received_at DESC, id DESC").unwrap();
    let want: Vec<String> =
        select.query_map([], |row| row.get(0)).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(want.len(), total);
    let got: Vec<String> = leads.iter().map(|l| l["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, want, "the JSON export");
    assert!(leads.iter().all(|l| l["email"] == "ada@example.com"));

    let csv = relay.get("/leads.csv");
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-length"), None);
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("id,received_at,"));
    let csv_ids: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(csv_ids, want.iter().map(String::as_str).collect::<Vec<_>>(), "the CSV export");

    // A limit that ends inside the second page, and the page after it.
    let ids = |path: &str| -> Vec<String> {
        let leads: Vec<Value> = serde_json::from_str(&relay.get(path).body).unwrap();
        leads.iter().map(|l| l["id"].as_str().unwrap().to_string()).collect()
    };
    let first = ids(&format!("/v1/leads?limit={}", page + 3));
    assert_eq!(first, want[..page + 3]);
    let rest = ids(&format!("/v1/leads?before={}", first.last().unwrap()));
    assert_eq!(rest, want[page + 3..]);
    assert_eq!(ids("/v1/leads?limit=0"), Vec::<String>::new());
    let tail = relay.get(&format!("/leads.csv?limit=2&before={}", want[total - 3]));
    let tail_ids: Vec<&str> =
        tail.body.split("\r\n").skip(1).filter(|l| !l.is_empty()).map(|l| &l[..36]).collect();
    assert_eq!(tail_ids, want[total - 2..].iter().map(String::as_str).collect::<Vec<_>>());
}
