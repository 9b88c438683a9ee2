//! Forwarding over real HTTP and HTTPS to real receivers: Standard Webhooks signatures, routing
//! by the relay's score, retries with backoff, dead letters, replay (endpoint and CLI),
//! restarts, one webhook's queue apart from another's, trusted and refused certificates,
//! redirects, and the rule that keeps webhooks off private addresses.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::receiver::{Receiver, TestCa};
use common::*;
use leadgate_relay::{Forwarding, RelayOptions, Route, Webhook, WebhookSecret};
use serde_json::{json, Value};

fn secret(byte: u8) -> WebhookSecret {
    WebhookSecret::from_bytes(&[byte; 32]).unwrap()
}

/// A webhook to a receiver of these tests (on 127.0.0.1, so allowed to be private).
fn hook(name: &str, url: &str, route: Route, secrets: Vec<WebhookSecret>) -> Webhook {
    Webhook { secrets, route, allow_private_network: true, ..Webhook::new(name, url) }
}

fn fast() -> Forwarding {
    Forwarding {
        max_attempts: 3,
        base_delay_ms: 100,
        max_delay_ms: 1000,
        timeout_ms: 2000,
        poll_ms: 20,
        concurrency: 4,
    }
}

fn forwarding_options(dir: &Path, webhooks: Vec<Webhook>) -> RelayOptions {
    let mut opts = options(dir);
    opts.webhooks = webhooks;
    opts.forwarding = fast();
    opts
}

fn deliveries(relay: &Relay, status: &str) -> Vec<Value> {
    serde_json::from_str(&relay.get(&format!("/v1/deliveries?status={status}")).body).unwrap()
}

#[test]
fn qualified_leads_are_forwarded_signed_and_the_rest_routed_by_the_relays_score() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Receiver::start(&[200]);
    let nurture = Receiver::start(&[204]);
    let (new_secret, old_secret) = (secret(1), secret(2));
    let relay = Relay::start(forwarding_options(
        dir.path(),
        vec![
            hook("crm", &crm.url, Route::Qualified, vec![new_secret.clone(), old_secret.clone()]),
            hook("nurture", &nurture.url, Route::Unqualified, vec![secret(3)]),
        ],
    ));
    let qualified = good_payload(1);
    let unqualified = payload(2, &[("email", "bob@example.com")]);
    // Claims to qualify, but the relay's score says no: routed as unqualified.
    let mut tampered = payload(3, &[("email", "eve@example.com")]);
    tamper(&mut tampered);
    tampered.score.qualified = true;
    let spam = good_payload(4);

    for lead in [&qualified, &unqualified, &tampered] {
        assert_eq!(relay.post_lead(lead).status, 201);
    }
    assert_eq!(relay.post_lead(&qualified).status, 201, "a repeat queues nothing more");
    assert_eq!(relay.post_lead_with_meta(&spam, json!({"honeypot": "x"})).status, 201);
    wait_until("3 deliveries", || deliveries(&relay, "delivered").len() == 3);
    std::thread::sleep(Duration::from_millis(200));

    let got = crm.seen();
    assert_eq!(got.len(), 1, "exactly once to the CRM");
    let message = &got[0];
    assert_eq!(message.header("content-type"), Some("application/json"));
    assert_eq!(message.header("webhook-id"), Some(format!("msg_{}_crm", qualified.id).as_str()));
    assert!(message.verify(&new_secret), "signed with the new secret");
    assert!(message.verify(&old_secret), "and the old one, for rotation");
    assert!(!message.verify(&secret(9)));
    let signatures = message.header("webhook-signature").unwrap();
    assert_eq!(signatures.split(' ').filter(|s| s.starts_with("v1,")).count(), 2);
    let body = message.json();
    assert_eq!(body["type"], "lead.qualified");
    assert_eq!(body["data"]["id"], qualified.id.as_str());
    assert_eq!(body["data"]["score"]["total"], 35);
    assert_eq!(body["data"]["score_checked"], "match");
    assert_eq!(body["data"]["fields"]["email"], "ada@example.com");

    let ids: Vec<String> =
        nurture.seen().iter().map(|m| m.json()["data"]["id"].as_str().unwrap().into()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&unqualified.id) && ids.contains(&tampered.id), "{ids:?}");
    let tampered_msg = nurture.seen().into_iter().find(|m| m.body.contains(&tampered.id)).unwrap();
    let body = tampered_msg.json();
    assert_eq!(body["type"], "lead.received");
    assert_eq!(
        (body["data"]["score"]["total"].as_i64(), body["data"]["client_score"]["total"].as_i64()),
        (Some(10), Some(110))
    );
    assert_eq!(body["data"]["score_checked"], "mismatch");

    let leads = relay.leads();
    let forwarded = |id: &str| leads.iter().find(|l| l["id"] == id).unwrap()["forwarded"].clone();
    assert_eq!(forwarded(&qualified.id), 1);
    assert_eq!(forwarded(&spam.id), 0, "spam is never forwarded");
}

#[test]
fn failures_are_retried_with_backoff_then_dead_lettered_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Receiver::start(&[503]);
    let strict = Receiver::start(&[400]);
    let relay = Relay::start(forwarding_options(
        dir.path(),
        vec![
            hook("flaky", &flaky.url, Route::Qualified, vec![secret(1)]),
            hook("strict", &strict.url, Route::Qualified, vec![]),
        ],
    ));
    let lead = good_payload(1);
    assert_eq!(relay.post_lead(&lead).status, 201);
    wait_until("2 dead letters", || deliveries(&relay, "dead").len() == 2);

    // 503 three times (max_attempts), waits doubling from 100 ms (±20% jitter).
    let tries = flaky.seen();
    assert_eq!(tries.len(), 3);
    let gaps: Vec<Duration> = tries.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(80), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(160), "{gaps:?}");
    let ids: Vec<&str> = tries.iter().map(|t| t.header("webhook-id").unwrap()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "the same webhook-id on every retry");
    // A 400 won't get better by retrying: a dead letter at once.
    assert_eq!(strict.seen().len(), 1);
    let dead = deliveries(&relay, "dead");
    let by_hook = |name: &str| dead.iter().find(|d| d["webhook"] == name).unwrap().clone();
    assert_eq!(
        (by_hook("flaky")["attempts"].as_u64(), by_hook("flaky")["last_status"].as_u64()),
        (Some(3), Some(503))
    );
    assert_eq!(
        (by_hook("strict")["attempts"].as_u64(), by_hook("strict")["last_status"].as_u64()),
        (Some(1), Some(400))
    );
    for (name, error) in
        [("flaky", "the webhook answered 503"), ("strict", "the webhook answered 400")]
    {
        assert_eq!(by_hook(name)["last_error"], error);
    }
    let page = relay.get("/leads");
    assert!(page.body.contains("<dt>Dead letters</dt><dd>2</dd>"));

    // Fixed receivers; replay one webhook's dead letters through the endpoint.
    flaky.answer(&[200]);
    strict.answer(&[200]);
    let replay = relay.post_to("/v1/deliveries/replay?webhook=flaky", "");
    assert_eq!((replay.status, replay.body.as_str()), (200, r#"{"replayed":1}"#));
    wait_until("flaky delivered", || deliveries(&relay, "delivered").len() == 1);
    assert_eq!(flaky.seen().len(), 4);
    assert!(flaky.seen()[3].verify(&secret(1)));
    assert_eq!(deliveries(&relay, "dead").len(), 1);

    // The rest with the CLI, against the same file, while the relay runs.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate-relay"))
        .args(["replay", "--db"])
        .arg(&relay.db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1 dead letter(s) queued again");
    wait_until("strict delivered", || deliveries(&relay, "delivered").len() == 2);
    assert_eq!(strict.seen().len(), 2);
}

#[test]
fn the_queue_survives_a_restart_and_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Receiver::start(&[503]);
    let webhooks = vec![hook("crm", &crm.url, Route::Qualified, vec![secret(1)])];
    let mut opts = forwarding_options(dir.path(), webhooks);
    opts.forwarding.max_attempts = 100;
    opts.forwarding.base_delay_ms = 50;
    opts.forwarding.max_delay_ms = 100;
    let lead = good_payload(1);
    {
        let relay = Relay::start(opts.clone());
        assert_eq!(relay.post_lead(&lead).status, 201);
        wait_until("a failed attempt", || !crm.seen().is_empty());
    } // stopped with the message pending
    crm.answer(&[200]);
    let relay = Relay::start(opts);
    wait_until("delivered after the restart", || deliveries(&relay, "delivered").len() == 1);
    std::thread::sleep(Duration::from_millis(300));
    let ok: Vec<_> = crm.seen().into_iter().filter(|m| m.answered == 200).collect();
    assert_eq!(ok.len(), 1, "accepted exactly once");
    assert_eq!(ok[0].json()["data"]["id"], lead.id.as_str());
}

#[test]
fn the_binary_explains_itself_and_makes_secrets() {
    let bin = env!("CARGO_BIN_EXE_leadgate-relay");
    let help = std::process::Command::new(bin).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for want in ["--config", "LEADGATE_DASHBOARD_TOKEN", "--rate-limit", "replay", "new-secret"] {
        assert!(help.contains(want), "--help lacks {want}");
    }
    let out = std::process::Command::new(bin).arg("new-secret").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(WebhookSecret::parse(text.trim()).is_ok(), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "[[webhooks]]\nname = \"crm\"\nurl = \"http://x\"\nsecrets = [\"nope\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin).arg("--config").arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("relay.toml") && err.contains("24 to 64 bytes"), "{err}");
}

fn delivery_of(relay: &Relay, webhook: &str) -> Vec<Value> {
    let all: Vec<Value> = serde_json::from_str(&relay.get("/v1/deliveries").body).unwrap();
    all.into_iter().filter(|d| d["webhook"] == webhook).collect()
}

#[test]
fn a_slow_receiver_holds_up_no_other_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let quick = Receiver::start(&[200]);
    let slow = Receiver::start(&[200]);
    slow.delay(Duration::from_secs(10));
    let mut opts = forwarding_options(
        dir.path(),
        vec![
            hook("quick", &quick.url, Route::Qualified, vec![]),
            hook("slow", &slow.url, Route::Qualified, vec![]),
        ],
    );
    opts.forwarding.timeout_ms = 1000;
    opts.forwarding.concurrency = 2;
    let relay = Relay::start(opts);
    let leads: Vec<_> = (1..=5).map(good_payload).collect();
    let mut posted = Vec::new();
    for lead in &leads {
        posted.push(Instant::now());
        assert_eq!(relay.post_lead(lead).status, 201);
    }
    wait_until("5 leads at the quick receiver", || quick.seen().len() == 5);
    for (lead, at) in leads.iter().zip(&posted) {
        let seen = quick.seen();
        let got = seen.iter().find(|m| m.body.contains(&lead.id)).unwrap();
        let waited = got.at - *at;
        assert!(waited < Duration::from_secs(1), "lead {} waited {waited:?}", lead.id);
    }
    // The slow one times out (1 s) and is tried again, with the reason recorded.
    wait_until("a second attempt at the slow receiver", || {
        let seen = slow.seen();
        let first = seen.first().and_then(|m| m.header("webhook-id").map(str::to_string));
        seen.iter().filter(|m| m.header("webhook-id").map(str::to_string) == first).count() >= 2
    });
    let slow_records = delivery_of(&relay, "slow");
    assert!(slow_records.iter().all(|d| d["status"] != "delivered"), "{slow_records:?}");
    let retried = slow_records.iter().find(|d| d["attempts"].as_u64() >= Some(1)).unwrap();
    let error = retried["last_error"].as_str().unwrap();
    assert!(error.contains("timed out"), "{error}");
}

#[test]
fn https_webhooks_trust_the_configured_ca_and_refuse_an_unknown_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let ca_file = dir.path().join("crm-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let crm = Receiver::start_tls(&[200], ca.server());
    let stranger = Receiver::start_tls(&[200], TestCa::self_signed());
    assert!(crm.url.starts_with("https://127.0.0.1:"));
    let mut trusted = hook("crm", &crm.url, Route::Qualified, vec![secret(1)]);
    trusted.ca_file = Some(ca_file);
    let relay = Relay::start(forwarding_options(
        dir.path(),
        vec![trusted, hook("stranger", &stranger.url, Route::Qualified, vec![secret(2)])],
    ));
    let lead = good_payload(1);
    assert_eq!(relay.post_lead(&lead).status, 201);
    wait_until("delivered over HTTPS", || deliveries(&relay, "delivered").len() == 1);
    let got = crm.seen();
    assert_eq!(got.len(), 1);
    assert!(got[0].verify(&secret(1)), "signed");
    assert_eq!(got[0].json()["data"]["id"], lead.id.as_str());

    // A certificate nobody vouches for: refused before a byte of the lead is sent.
    wait_until("the stranger given up on", || deliveries(&relay, "dead").len() == 1);
    let dead = &deliveries(&relay, "dead")[0];
    assert_eq!(dead["webhook"], "stranger");
    assert_eq!(dead["attempts"], 3);
    let error = dead["last_error"].as_str().unwrap();
    assert!(error.contains("certificate"), "{error}");
    assert!(stranger.seen().is_empty(), "nothing reached the stranger");
}

#[test]
fn a_redirect_is_a_dead_letter_that_says_where_it_points() {
    let dir = tempfile::tempdir().unwrap();
    let moved = Receiver::start(&[302]);
    let relay = Relay::start(forwarding_options(
        dir.path(),
        vec![hook("moved", &moved.url, Route::Qualified, vec![])],
    ));
    assert_eq!(relay.post_lead(&good_payload(1)).status, 201);
    wait_until("a dead letter", || deliveries(&relay, "dead").len() == 1);
    let dead = &deliveries(&relay, "dead")[0];
    assert_eq!((dead["attempts"].as_u64(), dead["last_status"].as_u64()), (Some(1), Some(302)));
    assert_eq!(
        dead["last_error"],
        "the webhook answered 302 (redirects are not followed; \
         Location: https://elsewhere.example/hook)"
    );
    assert_eq!(moved.seen().len(), 1, "not followed, not retried");
}

#[test]
fn a_webhook_on_a_private_address_is_refused_at_start_up() {
    let bin = env!("CARGO_BIN_EXE_leadgate-relay");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.toml");
    // (url, words in the error)
    let cases = [
        ("http://127.0.0.1:9/hook", "127.0.0.1 (loopback)"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 (link-local"),
        ("https://[fd00::1]/hook", "fd00::1 (unique-local)"),
        ("http://10.1.2.3/hook", "10.1.2.3 (private"),
    ];
    for (url, words) in cases {
        std::fs::write(&config, format!("[[webhooks]]\nname = \"crm\"\nurl = \"{url}\"\n"))
            .unwrap();
        let mut relay = std::process::Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--db")
            .arg(dir.path().join("leads.db"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = exit_within(&mut relay, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{url}: the relay started instead of refusing the webhook"));
        assert_eq!(status.code(), Some(2), "{url}");
        let mut err = String::new();
        relay.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        for want in ["relay.toml", "webhook crm", words, "allow_private_network = true"] {
            assert!(err.contains(want), "{url}: {err:?} lacks {want:?}");
        }
    }
}

#[test]
fn a_host_name_that_resolves_to_loopback_is_refused_when_sending() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Receiver::start(&[200]);
    let by_name = crm.url.replace("127.0.0.1", "localhost");
    let mut refused = Webhook::new("outside", &by_name);
    refused.route = Route::Qualified;
    let allowed = hook("inside", &by_name, Route::Qualified, vec![]);
    let relay = Relay::start(forwarding_options(dir.path(), vec![refused, allowed]));
    assert_eq!(relay.post_lead(&good_payload(1)).status, 201);
    wait_until("the allowed one delivered", || deliveries(&relay, "delivered").len() == 1);
    assert_eq!(deliveries(&relay, "delivered")[0]["webhook"], "inside");
    wait_until("the refused one given up on", || deliveries(&relay, "dead").len() == 1);
    let dead = &deliveries(&relay, "dead")[0];
    assert_eq!(dead["webhook"], "outside");
    let error = dead["last_error"].as_str().unwrap();
    for want in ["webhook outside", "localhost", "(loopback)", "allow_private_network = true"] {
        assert!(error.contains(want), "{error:?} lacks {want:?}");
    }
    assert_eq!(crm.seen().len(), 1, "only the allowed webhook's message arrived");
}

#[test]
fn messages_of_a_webhook_no_longer_configured_become_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let old = Receiver::start(&[503]);
    let mut opts = forwarding_options(dir.path(), vec![hook("old", &old.url, Route::All, vec![])]);
    opts.forwarding.max_attempts = 100;
    {
        let relay = Relay::start(opts.clone());
        assert_eq!(relay.post_lead(&good_payload(1)).status, 201);
        wait_until("a failed attempt", || !old.seen().is_empty());
    }
    let crm = Receiver::start(&[200]);
    opts.webhooks = vec![hook("crm", &crm.url, Route::All, vec![])];
    let relay = Relay::start(opts);
    wait_until("a dead letter", || deliveries(&relay, "dead").len() == 1);
    let dead = &deliveries(&relay, "dead")[0];
    assert_eq!(dead["webhook"], "old");
    assert_eq!(dead["last_error"], "the webhook \"old\" is no longer configured");
    assert_eq!(relay.post_lead(&good_payload(2)).status, 201);
    wait_until("the new webhook served", || deliveries(&relay, "delivered").len() == 1);
}

#[test]
fn one_connection_carries_a_webhooks_messages_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Receiver::start(&[200]);
    let mut opts = forwarding_options(dir.path(), vec![hook("crm", &crm.url, Route::All, vec![])]);
    opts.forwarding.concurrency = 1;
    let relay = Relay::start(opts);
    for n in 1..=3 {
        assert_eq!(relay.post_lead(&good_payload(n)).status, 201);
        wait_until("delivered", || crm.seen().len() == usize::from(n));
    }
    assert_eq!(crm.connections(), 1, "the connection is kept for the next message");
}
