//! Sales answers back: the outcome API over real HTTP, on a real SQLite file and on a real
//! PostgreSQL cluster the test starts — auth, the field named in every 400, 404, idempotency,
//! all-or-nothing batches, concurrent outcomes for one lead — and, after all of it, the
//! aggregates equal a recount from the rows.
#![allow(clippy::unwrap_used)]

mod common;

use common::pg::cluster_or_skip;
use common::*;
use leadgate_relay::store::{Database, Store};
use leadgate_relay::RelayOptions;
use serde_json::{json, Value};

const DASH: &str = "dash-token-123";
const CRM: &str = "crm-token-456";

fn relay_options(dir: &std::path::Path, database_url: Option<String>) -> RelayOptions {
    let mut opts = options(dir);
    opts.database_url = database_url;
    opts.rate_limit = None;
    opts.dashboard_token = Some(DASH.into());
    opts.outcomes.token = Some(CRM.into());
    opts
}

fn post(relay: &Relay, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
    let mut request = ureq::post(&relay.url(path)).set("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.set(name, value);
    }
    send(request, Some(&body.to_string()))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn outcome(relay: &Relay, id: &str, body: Value) -> Reply {
    post(relay, &format!("/v1/leads/{id}/outcome"), &body, &[("Authorization", &bearer(CRM))])
}

fn stats(relay: &Relay) -> Value {
    let reply = relay.get_auth("/v1/stats", &bearer(DASH));
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

fn history(relay: &Relay, id: &str) -> Vec<Value> {
    let reply = relay.get_auth(&format!("/v1/leads/{id}/outcomes"), &bearer(DASH));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let v: Value = serde_json::from_str(&reply.body).unwrap();
    v["outcomes"].as_array().unwrap().clone()
}

/// The aggregates agree with a recount from the rows.
fn assert_aggregates_agree(database: &Database) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = Store::open_database(database).unwrap();
    let recount = runtime.block_on(store.recount(false)).unwrap();
    assert!(recount.leads > 0);
    assert!(recount.disagreements.is_empty(), "{:#?}", recount.disagreements);
}

/// Everything the outcome API promises, on whichever database `relay` uses.
fn outcome_api(relay: &Relay, database: &Database) {
    let leads: Vec<_> = (1..=4).map(good_payload).collect();
    for lead in &leads {
        assert_eq!(relay.post_lead(lead).status, 201);
    }
    let id = leads[0].id.clone();

    // Who may post: the outcome token or the dashboard token, as Bearer; nothing in the URL.
    let body = json!({"status": "accepted"});
    let path = format!("/v1/leads/{id}/outcome");
    for (headers, want) in [
        (vec![], 401),
        (vec![("Authorization", "Bearer wrong")], 401),
        (vec![("Authorization", "Basic OmNybS10b2tlbi00NTY=")], 401),
    ] {
        let reply = post(relay, &path, &body, &headers);
        assert_eq!(reply.status, want, "{headers:?}: {}", reply.body);
    }
    let reply = post(relay, &format!("{path}?token={CRM}"), &body, &[]);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.error().contains("never accepted in the URL"), "{}", reply.body);
    // The outcome token posts outcomes and reads nothing.
    assert_eq!(relay.get_auth("/v1/leads", &bearer(CRM)).status, 401);
    assert_eq!(relay.get_auth(&format!("/v1/leads/{id}/outcomes"), &bearer(CRM)).status, 401);

    // Every bad outcome names its field; nothing is written.
    for (body, field) in [
        (json!({}), "status"),
        (json!({"status": "signed"}), "status"),
        (json!({"status": "rejected"}), "reason"),
        (json!({"status": "rejected", "reason": "too-expensive"}), "reason"),
        (json!({"status": "accepted", "reason": "no-budget"}), "reason"),
        (json!({"status": "won", "amount": -5}), "amount"),
        (json!({"status": "won", "amount": "lots"}), "amount"),
        (json!({"status": "won", "amount": 1e13}), "amount"),
        (json!({"status": "accepted", "amount": 10}), "amount"),
        (json!({"status": "won", "amount": 10, "currency": "euros"}), "currency"),
        (json!({"status": "accepted", "at": "yesterday"}), "at"),
        (json!({"status": "accepted", "at": "2999-01-01T00:00:00Z"}), "at"),
        (json!({"status": "accepted", "color": "red"}), "color"),
        (json!({"status": "accepted", "lead_id": leads[1].id}), "lead_id"),
        (json!({"status": "accepted", "note": 5}), "note"),
    ] {
        let reply = outcome(relay, &id, body.clone());
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(reply.error().starts_with(&format!("{field}:")), "{body}: {}", reply.error());
    }
    assert!(history(relay, &id).is_empty());
    let reply = outcome(relay, "00000000-0000-4000-8000-000000000000", json!({"status": "won"}));
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert!(reply.error().contains("there is no lead"), "{}", reply.body);
    let reply = send(
        ureq::post(&relay.url(&path))
            .set("Authorization", &bearer(CRM))
            .set("Content-Type", "text/plain"),
        Some("{\"status\": \"accepted\"}"),
    );
    assert_eq!(reply.status, 415, "{}", reply.body);

    // Accepted, then a meeting, an opportunity and a win; a repeat with the same key or the
    // same status and time is one outcome.
    let t0 = "2026-11-02T09:00:00Z";
    let key = [("Authorization", bearer(CRM)), ("Idempotency-Key", "crm-event-1".to_string())];
    let headers: Vec<(&str, &str)> = key.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let first = post(relay, &path, &json!({"status": "accepted", "at": t0, "by": "sam"}), &headers);
    assert_eq!(first.status, 201, "{}", first.body);
    let again = post(relay, &path, &json!({"status": "accepted", "at": t0, "by": "sam"}), &headers);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let same = outcome(relay, &id, json!({"status": "accepted", "at": t0}));
    assert_eq!(same.status, 200, "{}", same.body);
    for body in [
        json!({"status": "meeting", "at": "2026-11-03T10:00:00Z"}),
        json!({"status": "opportunity", "amount": 1000, "at": "2026-11-04T10:00:00Z"}),
        json!({"status": "won", "amount": "1200.50", "currency": "usd", "at": "2026-11-05T10:00:00Z"}),
    ] {
        let reply = outcome(relay, &id, body.clone());
        assert_eq!(reply.status, 201, "{body}: {}", reply.body);
    }
    let h = history(relay, &id);
    let statuses: Vec<&str> = h.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["accepted", "meeting", "opportunity", "won"]);
    assert_eq!((h[0]["by"].as_str(), h[0]["source"].as_str()), (Some("sam"), Some("api")));
    assert_eq!((h[3]["amount"].as_f64(), h[3]["currency"].as_str()), (Some(1200.5), Some("USD")));

    // A batch from a CRM sync, by id and by e-mail; one unknown lead fails it all.
    let before = history(relay, &leads[1].id).len();
    let bad_batch = json!({"outcomes": [
        {"lead_id": leads[1].id, "status": "accepted"},
        {"lead_id": "00000000-0000-4000-8000-000000000001", "status": "accepted"},
    ]});
    let reply = post(relay, "/v1/outcomes", &bad_batch, &[("Authorization", &bearer(DASH))]);
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert!(reply.error().starts_with("outcome 1:"), "{}", reply.body);
    assert_eq!(history(relay, &leads[1].id).len(), before, "nothing of a failed batch stays");
    let reply = post(
        relay,
        "/v1/outcomes",
        &json!({"outcomes": [{"lead_id": leads[1].id, "status": "rejected", "reason": "no-budget"}, {"lead_id": leads[1].id, "status": "bad"}]}),
        &[("Authorization", &bearer(DASH))],
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.error().starts_with("outcomes[1].status:"), "{}", reply.body);
    let batch = json!({"outcomes": [
        {"lead_id": leads[1].id, "status": "rejected", "reason": "no-budget", "note": "next year", "idempotency_key": "k1"},
        {"lead_id": leads[1].id, "status": "rejected", "reason": "no-budget", "note": "next year", "idempotency_key": "k1"},
        {"email": "ADA@example.com", "status": "contacted"},
    ]});
    let reply = post(relay, "/v1/outcomes", &batch, &[("Authorization", &bearer(CRM))]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let v: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!((v["recorded"].as_u64(), v["repeated"].as_u64()), (Some(2), Some(1)));

    // Outcomes for one lead from many clients at once: every one is kept, the state is whole.
    let target = leads[2].id.clone();
    std::thread::scope(|s| {
        for i in 0..8 {
            let target = &target;
            s.spawn(move || {
                let at = format!("2026-11-10T10:00:0{i}Z");
                let status = if i % 2 == 0 { "contacted" } else { "meeting" };
                let reply = outcome(relay, target, json!({"status": status, "at": at}));
                assert_eq!(reply.status, 201, "{}", reply.body);
            });
        }
    });
    assert_eq!(history(relay, &target).len(), 8);

    // The funnel the dashboard shows counts them: lead 0 won (accepted, opportunity),
    // lead 1 rejected, lead 2 in meetings (accepted), the newest lead with ADA's e-mail
    // contacted (touched, not accepted).
    let s = stats(relay);
    let t = &s["totals"];
    assert_eq!(
        (
            t["accepted"].as_u64(),
            t["rejected"].as_u64(),
            t["opportunities"].as_u64(),
            t["won"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(1)),
        "{s}"
    );
    assert_aggregates_agree(database);
}

#[test]
fn outcomes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let opts = relay_options(dir.path(), None);
    let database = Database::Sqlite(opts.db_path.clone());
    let relay = Relay::start(opts);
    outcome_api(&relay, &database);
}

#[test]
fn outcomes_on_postgres() {
    let Some(cluster) = cluster_or_skip("outcomes_on_postgres") else { return };
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(relay_options(dir.path(), Some(cluster.url.clone())));
    outcome_api(&relay, &Database::Postgres(cluster.url.clone()));
}

#[test]
fn an_empty_outcome_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = relay_options(dir.path(), None);
    opts.outcomes.token = Some("  ".into());
    let err = leadgate_relay::RelayState::open(opts).unwrap_err();
    assert!(err.to_string().contains("outcome token is empty"), "{err}");
}
