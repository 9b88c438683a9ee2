//! Speed to lead, watched, over real HTTP: leads nobody touched within their grade's SLA are
//! listed oldest first, a touched lead leaves the list, and each breach reaches the notify
//! webhook (a Slack-compatible `{"text"}` message) exactly once, through the forwarding queue;
//! an A lead past its 5 minutes is found behind a backlog of 10,000+ older untouched C leads,
//! on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::pg::cluster_or_skip;
use common::receiver::Receiver;
use common::*;
use leadgate_core::{FormConfig, LeadPayload};
use leadgate_relay::sla::SlaFile;
use leadgate_relay::{RelayOptions, Route, Webhook};
use serde_json::{json, Value};

#[test]
fn leads_past_their_sla_are_listed_and_alerted_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.rate_limit = None;
    let slack = alert_to_slack(&mut opts, "1s", ("no-such-grade", "1h"));
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

/// An SLA of `default` for every grade and `grade.1` for `grade.0`, checked every 200 ms and
/// alerted to a webhook receiver the test starts (returned).
fn alert_to_slack(opts: &mut RelayOptions, default: &str, grade: (&str, &str)) -> Receiver {
    let slack = Receiver::start(&[200]);
    opts.forwarding.poll_ms = 20;
    opts.webhooks = vec![Webhook {
        route: Route::None,
        allow_private_network: true,
        ..Webhook::new("slack", &slack.url)
    }];
    opts.sla = SlaFile {
        default: Some(default.into()),
        grades: [(grade.0.to_string(), grade.1.to_string())].into(),
        notify_webhook: Some("slack".into()),
        check_ms: Some(200),
    }
    .sla()
    .unwrap();
    slack
}

/// The test form with two grades: A for 35 points (an e-mail and 200+ employees), C below.
fn graded_form() -> FormConfig {
    let mut config: Value = serde_json::from_str(CONFIG).unwrap();
    config["scoring"]["grades"] = json!([{"grade": "A", "min": 35}, {"grade": "C", "min": -100}]);
    FormConfig::from_json(&config.to_string()).unwrap()
}

fn graded_lead(seed: u8, employees: &str) -> LeadPayload {
    let fields = [("email", "ada@example.com"), ("employees", employees)];
    payload_for(&graded_form(), seed, &fields, "newsletter")
}

/// More untouched leads than the check ever read (20 × its limit of 500), all older than the
/// A lead whose SLA it must find.
const BACKLOG: u32 = 10_050;

/// The columns a backlog lead copies from the stored C lead (all but its id, arrival and
/// idempotency key).
const COPIED: &str = "form_id, submitted_at, total, grade, qualified, stage, score_checked,
    attempts, payload, relay_total, relay_qualified, relay_score, spam, meta, email, utm_source,
    utm_campaign, model, relay_grade, first_source, first_campaign, rule_hits, forwarded,
    sales_status, sales_reason, sales_flags, pipeline_cents, won_cents, first_touch_ms,
    sla_notified, email_domain, packed";

/// Speed to lead behind a backlog: a team that records no outcome for most C leads has
/// thousands of them untouched, older than today's A leads; the A lead past its 5 minutes is
/// still listed and alerted, once, and so are leads past the default SLA, of a named grade or
/// of one no list names. `sql` runs statements on the relay's database (the backlog is written
/// there directly: 10,000 posts would make the test slow), `count` reads a number from it.
/// The database is turned back into a step-4 one first, so step 5 runs over the backlog.
fn a_late_lead_is_found_behind_a_backlog(
    base: RelayOptions,
    sql: &dyn Fn(&str),
    count: &dyn Fn(&str) -> i64,
) {
    let mut opts = base.clone();
    opts.forms = vec![graded_form()];
    let c_old = graded_lead(1, "");
    let a_late = graded_lead(2, "250");
    let a_fresh = graded_lead(3, "250");
    let a_touched = graded_lead(4, "250");
    let no_list = graded_lead(5, "");
    {
        let relay = Relay::start(opts.clone());
        for lead in [&c_old, &a_late, &a_fresh, &a_touched, &no_list] {
            assert_eq!(relay.post_lead(lead).status, 201);
        }
        let path = format!("/v1/leads/{}/outcome", a_touched.id);
        let reply = relay.post_to(&path, r#"{"status": "contacted"}"#);
        assert_eq!(reply.status, 201, "{}", reply.body);
        let leads = relay.get("/v1/leads").body;
        assert!(leads.contains(r#""grade":"A""#) && leads.contains(r#""grade":"C""#), "{leads}");
    }
    let now =
        i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let (minute, hour) = (60_000, 3_600_000);
    let at = |id: &str, ms: i64| format!("UPDATE leads SET received_ms = {ms} WHERE id = '{id}';");
    sql(&[
        at(&c_old.id, now - 25 * hour),
        at(&no_list.id, now - 25 * hour - 1000),
        at(&a_late.id, now - 10 * minute),
        at(&a_touched.id, now - 10 * minute),
        at(&a_fresh.id, now - minute),
        // A grade of an older config version, in no list: the default SLA holds for it.
        format!("UPDATE leads SET relay_grade = 'X' WHERE id = '{}';", no_list.id),
    ]
    .concat());
    // The database as step 4 left it (the untouched index by arrival only): step 5 runs over
    // the backlog when the relay below opens it.
    sql("DROP INDEX IF EXISTS leads_untouched_grade;
         CREATE INDEX IF NOT EXISTS leads_untouched ON leads (received_ms)
            WHERE first_touch_ms IS NULL AND spam IS NULL;
         DELETE FROM schema_migrations WHERE version >= 5;");
    sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BACKLOG})
         INSERT INTO leads (id, received_at, received_ms, {COPIED})
         SELECT 'backlog-' || i, received_at, {} + i, {COPIED} FROM leads, n
         WHERE id = '{}'",
        now - 2 * hour,
        c_old.id
    ));

    let slack = alert_to_slack(&mut opts, "24h", ("A", "5m"));
    let relay = Relay::start(opts);
    let want = [no_list.id.as_str(), c_old.id.as_str(), a_late.id.as_str()];

    let list: Value = serde_json::from_str(&relay.get("/v1/sla").body).unwrap();
    let breaches = list["breaches"].as_array().unwrap();
    let listed: Vec<&str> = breaches.iter().map(|b| b["lead_id"].as_str().unwrap()).collect();
    assert_eq!(listed, want, "every breach, oldest first: {list}");
    let grades: Vec<(&str, u64)> = breaches
        .iter()
        .map(|b| (b["grade"].as_str().unwrap(), b["sla_ms"].as_u64().unwrap()))
        .collect();
    assert_eq!(grades, [("X", 86_400_000), ("C", 86_400_000), ("A", 300_000)]);

    wait_until("three alerts", || slack.seen().len() >= 3);
    std::thread::sleep(Duration::from_millis(800));
    let mut alerted: Vec<String> =
        slack.seen().iter().map(|r| r.json()["lead_id"].as_str().unwrap().to_string()).collect();
    alerted.sort_unstable();
    let mut want_sorted = want.map(String::from).to_vec();
    want_sorted.sort_unstable();
    assert_eq!(alerted, want_sorted, "one alert per breach, the A lead's among them");
    let list: Value = serde_json::from_str(&relay.get("/v1/sla").body).unwrap();
    let notified: Vec<&Value> =
        list["breaches"].as_array().unwrap().iter().map(|b| &b["notified"]).collect();
    assert_eq!(notified, [true, true, true], "{list}");
    drop(relay);
    let kept = "SELECT count(*) FROM leads";
    assert_eq!(count(kept), 5 + i64::from(BACKLOG), "every lead kept through step 5");
}

#[test]
fn a_late_lead_is_found_behind_a_backlog_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.rate_limit = None;
    let db = opts.db_path.clone();
    let sql = |text: &str| rusqlite::Connection::open(&db).unwrap().execute_batch(text).unwrap();
    let count = |text: &str| {
        rusqlite::Connection::open(&db).unwrap().query_row(text, [], |r| r.get(0)).unwrap()
    };
    a_late_lead_is_found_behind_a_backlog(opts, &sql, &count);
    let index = "SELECT count(*) FROM sqlite_master WHERE name = 'leads_untouched_grade'";
    assert_eq!(count(index), 1);
}

#[test]
fn a_late_lead_is_found_behind_a_backlog_on_postgres() {
    let Some(cluster) = cluster_or_skip("a_late_lead_is_found_behind_a_backlog_on_postgres") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.rate_limit = None;
    opts.database_url = Some(cluster.url.clone());
    let connect = || postgres::Client::connect(&cluster.url, postgres::NoTls).unwrap();
    let sql = |text: &str| connect().batch_execute(text).unwrap();
    let count = |text: &str| connect().query_one(text, &[]).unwrap().get(0);
    a_late_lead_is_found_behind_a_backlog(opts, &sql, &count);
    let index = "SELECT count(*) FROM pg_indexes WHERE indexname = 'leads_untouched_grade'";
    assert_eq!(count(index), 1);
}
