//! Speed to lead, watched, over real HTTP: leads nobody touched within their grade's SLA are
//! listed oldest first, a touched lead leaves the list, and each breach reaches the notify
//! webhook (a Slack-compatible `{"text"}` message) exactly once, through the forwarding queue.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::receiver::Receiver;
use common::*;
use leadgate_relay::sla::SlaFile;
use leadgate_relay::{Route, Webhook};
use serde_json::{json, Value};

#[test]
fn leads_past_their_sla_are_listed_and_alerted_once() {
    let dir = tempfile::tempdir().unwrap();
    let slack = Receiver::start(&[200]);
    let mut opts = options(dir.path());
    opts.rate_limit = None;
    opts.forwarding.poll_ms = 20;
    opts.webhooks = vec![Webhook {
        route: Route::None,
        allow_private_network: true,
        ..Webhook::new("slack", &slack.url)
    }];
    opts.sla = SlaFile {
        default: Some("1s".into()),
        grades: [("no-such-grade".to_string(), "1h".to_string())].into(),
        notify_webhook: Some("slack".into()),
        check_ms: Some(200),
    }
    .sla()
    .unwrap();
    let relay = Relay::start(opts);
    let leads: Vec<_> = (1..=3).map(good_payload).collect();
    for lead in &leads {
        assert_eq!(relay.post_lead(lead).status, 201);
    }
    // Sales touches the second lead at once.
    let reply =
        relay.post_to(&format!("/v1/leads/{}/outcome", leads[1].id), r#"{"status": "contacted"}"#);
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(slack.seen().len(), 0, "a route = none webhook gets no leads");

    wait_until("two alerts", || slack.seen().len() >= 2);
    std::thread::sleep(Duration::from_millis(800));
    let seen = slack.seen();
    assert_eq!(seen.len(), 2, "each breach once");
    let bodies: Vec<Value> = seen.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect();
    let mut alerted: Vec<&str> = bodies.iter().map(|b| b["lead_id"].as_str().unwrap()).collect();
    alerted.sort_unstable();
    let mut want = vec![leads[0].id.as_str(), leads[2].id.as_str()];
    want.sort_unstable();
    assert_eq!(alerted, want);
    assert!(bodies[0]["text"].as_str().unwrap().contains("has waited"), "{}", bodies[0]);

    let list: Value = serde_json::from_str(&relay.get("/v1/sla").body).unwrap();
    let breaches = list["breaches"].as_array().unwrap();
    assert_eq!(breaches.len(), 2);
    assert!(breaches[0]["received_ms"].as_i64() <= breaches[1]["received_ms"].as_i64());
    assert_eq!(breaches[0]["sla_ms"], 1000);
    assert_eq!(breaches[0]["notified"], true);
    assert_eq!(list["sla"]["default_ms"], json!(1000));
}

#[test]
fn a_notify_webhook_that_does_not_exist_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.sla = SlaFile {
        default: Some("1h".into()),
        notify_webhook: Some("slack".into()),
        ..SlaFile::default()
    }
    .sla()
    .unwrap();
    let err = leadgate_relay::RelayState::open(opts).unwrap_err();
    assert!(err.to_string().contains("no [[webhooks]] entry named \"slack\""), "{err}");
}
