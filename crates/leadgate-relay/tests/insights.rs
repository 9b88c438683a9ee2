//! The loop back to marketing over real HTTP on a real SQLite file: insights counted from the
//! aggregates (checked against counts worked out by hand from the leads and outcomes posted
//! here), the suggestion's refusal on thin data, a backtest of a draft (from the rule hits and
//! from the payloads, the same numbers), and config versions:
//! publish, serve with caching and CORS, a lead scored by the previous version re-scored with
//! that version, rollback.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use leadgate_core::{FormConfig, LeadPayload};
use serde_json::{json, Value};

fn lead_with(config: &FormConfig, seed: u8, fields: &[(&str, &str)], source: &str) -> LeadPayload {
    payload_for(config, seed, fields, source)
}

fn get_json(relay: &Relay, path: &str) -> Value {
    let reply = relay.get(path);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

fn outcome(relay: &Relay, id: &str, body: Value) {
    let reply = relay.post_to(&format!("/v1/leads/{id}/outcome"), &body.to_string());
    assert_eq!(reply.status, 201, "{body}: {}", reply.body);
}

#[test]
fn insights_count_what_sales_said_by_rule_source_and_score() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.rate_limit = None;
    let relay = Relay::start(opts);

    // Empty: every number is zero and nothing fails.
    let empty = get_json(&relay, "/v1/insights");
    assert_eq!(empty["funnel"]["leads"], 0);
    assert_eq!(empty["auc"]["auc"], Value::Null);

    let config = config();
    // 6 big companies from linkedin (has-email + big-company = 35, qualified),
    // 4 small ones from ads (has-email only = 10, not qualified).
    let big = [("email", "a@corp.example"), ("company", "Corp"), ("employees", "500")];
    let small = [("email", "b@shop.example"), ("company", "Shop"), ("employees", "5")];
    let mut ids = Vec::new();
    for seed in 1..=6 {
        let lead = lead_with(&config, seed, &big, "linkedin");
        assert_eq!(relay.post_lead(&lead).status, 201);
        ids.push(lead.id);
    }
    for seed in 7..=10 {
        let lead = lead_with(&config, seed, &small, "ads");
        assert_eq!(relay.post_lead(&lead).status, 201);
        ids.push(lead.id);
    }
    // Widget submit events: 12 attempts (2 more than leads stored, e.g. failed validation).
    let events: Vec<Value> = (0..12)
        .map(|i| json!({"form_id": "demo", "kind": "submit", "id": format!("s{i}")}))
        .collect();
    let reply = relay.post_to("/v1/events", &Value::Array(events).to_string());
    assert_eq!(reply.status, 202, "{}", reply.body);

    // Sales: of the big ones, 4 accepted (2 of them won, 500 and 1,500), 1 rejected
    // (competitor); of the small ones, 3 rejected as no-budget, 1 untouched.
    for id in &ids[0..4] {
        outcome(&relay, id, json!({"status": "accepted"}));
    }
    outcome(&relay, &ids[0], json!({"status": "won", "amount": 500}));
    outcome(&relay, &ids[1], json!({"status": "won", "amount": 1500}));
    outcome(&relay, &ids[4], json!({"status": "rejected", "reason": "competitor"}));
    for id in &ids[6..9] {
        outcome(&relay, id, json!({"status": "rejected", "reason": "no-budget"}));
    }

    let v = get_json(&relay, "/v1/insights");
    let steps: Vec<(String, i64)> = v["funnel"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_string(), s["count"].as_i64().unwrap()))
        .collect();
    let want = [
        ("views", 0),
        ("starts", 0),
        ("submits", 12),
        ("mqls", 6),
        ("accepted", 4),
        ("opportunities", 2),
        ("won", 2),
    ];
    assert_eq!(steps, want.map(|(s, n)| (s.to_string(), n)));
    // The MQL rate counts the submits that did not qualify: 6 of 12, not 6 of 6.
    assert_eq!(
        (v["funnel"]["mql_rate"]["successes"].as_u64(), v["funnel"]["mql_rate"]["n"].as_u64()),
        (Some(6), Some(12))
    );
    assert_eq!(v["funnel"]["won_amount"].as_f64(), Some(2000.0));
    assert_eq!(v["funnel"]["rejected"], 4);
    // Judged = touched: 8 of 10 leads (one big and one small lead untouched).
    assert_eq!(v["judged"], json!({"leads": 8, "accepted": 4, "rejected": 4, "won": 2}));

    // Per rule: big-company hit 5 judged leads, 4 accepted; without it 3 judged, 0 accepted.
    let rules = v["rules"].as_array().unwrap();
    let big_rule = rules.iter().find(|r| r["rule"] == "big-company").unwrap();
    assert_eq!(big_rule["leads_hit"], 5);
    assert_eq!(big_rule["accepted"]["with"]["successes"], 4);
    assert_eq!(big_rule["accepted"]["without"]["successes"], 0);
    assert_eq!(big_rule["accepted"]["without"]["n"], 3);
    assert_eq!(big_rule["accepted"]["with"]["thin"], true, "5 leads is a thin rate");
    let email_rule = rules.iter().find(|r| r["rule"] == "has-email").unwrap();
    assert_eq!(email_rule["leads_hit"], 8);

    // By source: linkedin 6 leads, 5 judged; ads 4 leads, 3 judged, all rejected (no-budget).
    let sources = v["by_source"].as_array().unwrap();
    let ads = sources.iter().find(|s| s["utm_source"] == "ads").unwrap();
    assert_eq!(ads["judged"], json!({"leads": 3, "accepted": 0, "rejected": 3, "won": 0}));
    let totals = &v["rejection_reasons"]["totals"];
    assert_eq!(
        totals,
        &json!([{"reason": "competitor", "leads": 1}, {"reason": "no-budget", "leads": 3}])
    );
    let findings = v["rejection_reasons"]["findings"].as_array().unwrap();
    let ads_budget = findings
        .iter()
        .find(|f| f["segment"] == "utm_source=ads" && f["reason"] == "no-budget")
        .unwrap();
    assert_eq!(ads_budget["in_segment"]["successes"], 3);
    assert_eq!(ads_budget["rest"]["successes"], 0);

    // Calibration by grade and the AUC of won vs not (2 won of 8 judged).
    assert!(v["calibration"]["by_grade"]["rows"].as_array().unwrap().len() >= 2);
    assert_eq!(
        (v["auc"]["positives"].as_u64(), v["auc"]["negatives"].as_u64()),
        (Some(2), Some(6))
    );
    // Won leads scored 35; the other judged ones 35 (3) or 10 (3): ties count half,
    // (2·3 + 2·3·0.5) / 12 = 0.75.
    let auc = v["auc"]["auc"].as_f64().unwrap();
    assert!((auc - 0.75).abs() < 1e-9, "{auc}");

    // Speed to lead: 8 leads touched within seconds of arriving (first bucket, < 1 min).
    let speed = &v["speed_to_lead"]["overall"];
    assert_eq!(speed["leads"], 8);
    assert_eq!(speed["median_bucket"], json!([0, 60000]));

    // The suggestion refuses on 8 judged leads, and says why.
    let s = get_json(&relay, "/v1/forms/demo/suggestion");
    assert!(s["refused"].as_str().unwrap().len() > 10, "{s}");
    assert!(s.get("suggestion").is_none());

    // A backtest of a draft that drops the small companies' e-mail points changes nothing
    // of who qualifies; one that lowers the bar to 10 qualifies all 10.
    let mut draft: Value = serde_json::from_str(CONFIG).unwrap();
    draft["scoring"]["threshold"] = json!(10);
    let reply = relay.post_to("/v1/forms/demo/backtest", &json!({"config": draft}).to_string());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let b: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(b["leads"], 10);
    assert_eq!(b["backtest"]["all"]["qualified"]["before"], 6, "{b}");
    assert_eq!(b["backtest"]["all"]["qualified"]["after"], 10, "{b}");
    // Only the bar changed: every lead's score comes from its rule hits.
    assert_eq!(b["rescored"], json!({"from_hits": 10, "from_payloads": 0}), "{b}");

    // CSV: one row per source.
    let csv = relay.get("/v1/insights.csv");
    assert_eq!(csv.status, 200);
    assert!(csv.body.contains("\r\nads,,0,0,0,4,0,3,0,3,0,0,0,0.00,0.00\r\n"), "{}", csv.body);

    // Filters: a day range with no leads; a bad day is a 400 naming it.
    let none = get_json(&relay, "/v1/insights?from=2000-01-01&to=2000-01-02");
    assert_eq!(none["funnel"]["leads"], 0);
    assert_eq!(relay.get("/v1/insights?from=yesterday").status, 400);

    // The aggregates equal a recount from the rows.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = leadgate_relay::store::Store::open(&dir.path().join("leads.db")).unwrap();
    let recount = runtime.block_on(store.recount(false)).unwrap();
    assert!(recount.disagreements.is_empty(), "{:#?}", recount.disagreements);
}

#[test]
fn config_versions_publish_serve_rescore_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.rate_limit = None;
    let relay = Relay::start(opts);

    // The --form config is version 1, served with caching and CORS.
    let v1 = config();
    let reply = relay.get("/v1/forms/demo/config");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert!(reply.header("cache-control").unwrap().contains("max-age=60"));
    let etag = reply.header("etag").unwrap().to_string();
    assert!(etag.starts_with("\"v1-"), "{etag}");
    assert_eq!(
        FormConfig::from_json(&reply.body).unwrap().scoring.model_id(),
        v1.scoring.model_id()
    );
    let again = relay.raw("GET", "/v1/forms/demo/config", &[("If-None-Match", &etag)], "");
    assert_eq!(again.status, 304);
    assert_eq!(relay.get("/v1/forms/nope/config").status, 404);

    // Publish version 2: big companies are worth 40.
    let mut v2_json: Value = serde_json::from_str(CONFIG).unwrap();
    v2_json["scoring"]["rules"][1]["points"] = json!(40);
    let reply = relay.post_to(
        "/v1/forms/demo/versions",
        &json!({"config": v2_json, "note": "big is better"}).to_string(),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let v2 = FormConfig::from_json(&v2_json.to_string()).unwrap();
    let served = relay.get("/v1/forms/demo/config");
    assert_eq!(
        FormConfig::from_json(&served.body).unwrap().scoring.model_id(),
        v2.scoring.model_id()
    );
    assert!(served.header("etag").unwrap().starts_with("\"v2-"));
    // A bad config is refused, naming the place; another form's too.
    let bad = relay
        .post_to("/v1/forms/demo/versions", &json!({"config": {"form_id": "demo"}}).to_string());
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.error().starts_with("config:"), "{}", bad.body);
    let mut other = v2_json.clone();
    other["form_id"] = json!("other");
    assert_eq!(
        relay.post_to("/v1/forms/demo/versions", &json!({"config": other}).to_string()).status,
        400
    );

    // A page still on version 1 (cached) and one on version 2: each lead is re-scored with the
    // version that scored it, so both match.
    let big = [("email", "a@corp.example"), ("company", "Corp"), ("employees", "500")];
    let old_page = lead_with(&v1, 1, &big, "x");
    let new_page = lead_with(&v2, 2, &big, "x");
    assert_ne!(old_page.score.total, new_page.score.total);
    assert_eq!(relay.post_lead(&old_page).status, 201);
    assert_eq!(relay.post_lead(&new_page).status, 201);
    let leads = relay.leads();
    for lead in &leads {
        assert_eq!(lead["score_checked"], "match", "{lead}");
    }
    let models: Vec<&str> =
        leads.iter().map(|l| l["relay_score"]["model"].as_str().unwrap()).collect();
    assert!(
        models.contains(&v1.scoring.model_id().as_str())
            && models.contains(&v2.scoring.model_id().as_str())
    );
    // Insights by model version.
    let by_v1 = get_json(&relay, &format!("/v1/insights?model={}", v1.scoring.model_id()));
    assert_eq!(by_v1["funnel"]["leads"], 1);

    // Versions listed; rollback makes version 1 current again.
    let list = get_json(&relay, "/v1/forms/demo/versions");
    let versions = list["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (versions[0]["current"].as_bool(), versions[1]["current"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(versions[1]["note"], "big is better");
    let reply = relay.post_to("/v1/forms/demo/versions/1/publish", "");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let served = relay.get("/v1/forms/demo/config");
    assert_eq!(
        FormConfig::from_json(&served.body).unwrap().scoring.model_id(),
        v1.scoring.model_id()
    );
    assert_eq!(relay.post_to("/v1/forms/demo/versions/9/publish", "").status, 404);
}

/// A form whose scoring has a capped fit group, engagement evidence in a 30-day window, grades,
/// a label and bars: what the rule hits must reproduce.
fn backtest_form(extra_rule: bool) -> Value {
    let mut rules = vec![
        json!({"id": "has-email", "points": 10, "when": {"op": "present", "field": "email"}}),
        json!({"id": "big-company", "points": 25, "when": {"op": "at_least", "field": "employees", "value": 200}}),
        json!({"id": "free-mail", "points": -5, "when": {"op": "contains", "field": "email", "value": "gmail"}}),
        json!({"id": "pricing", "group": "engagement", "points": 15, "when": {"op": "pages_matching_at_least", "pattern": "/pricing"}}),
    ];
    if extra_rule {
        rules.push(
            json!({"id": "corp", "points": 5, "when": {"op": "present", "field": "company"}}),
        );
    }
    json!({"form_id": "demo", "fields": [
        {"name": "email", "type": "email", "label": "E-mail", "required": true},
        {"name": "company", "type": "text", "label": "Company"},
        {"name": "employees", "type": "text", "label": "Employees"}],
      "scoring": {
        "groups": {"fit": {"max": 30}, "engagement": {"decay": {"window_days": 30}}},
        "grades": [{"grade": "A", "min": 30}, {"grade": "B", "min": 15}, {"grade": "C", "min": -1000}],
        "label": {"levels": [{"level": "1", "min": 10}, {"level": "2", "min": -1000}]},
        "stages": {"mql": {"min_total": 20, "min_grade": "B"}},
        "rules": rules}})
}

/// The rule hits and the payloads give one backtest: drafts that change points, leave a rule
/// out or move the bars are scored from the hits of the leads whose model they keep, and the
/// numbers equal those of every payload re-scored; a draft that changes a condition re-scores
/// every payload.
#[test]
fn backtests_from_rule_hits_equal_backtests_from_payloads() {
    use leadgate_core::{score, FieldValue, Lead, PageView, Timestamp, VisitorContext};
    use leadgate_insights::backtest;
    use leadgate_relay::backtest::{rescore, Rescored, Rescoring};
    use leadgate_relay::sales::{LeadRef, NewOutcome, OutcomeSource, Status};
    use leadgate_relay::store::{NewLead, ScoreCheck, Store};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let store = Store::open(&dir.path().join("leads.db")).unwrap();
    let v1 = Arc::new(FormConfig::from_json(&backtest_form(false).to_string()).unwrap());
    let v2 = Arc::new(FormConfig::from_json(&backtest_form(true).to_string()).unwrap());
    let day = 86_400_000;
    let now = Timestamp(1_795_735_496_123);
    let mut stored = 0;
    for seed in 1..=60u8 {
        let n = usize::from(seed);
        let mut lead = Lead::default();
        let email = ["a@corp.example", "b@gmail.com", "c@shop.example"][n % 3];
        lead.fields.insert("email".into(), FieldValue::Text(email.into()));
        lead.fields
            .insert("employees".into(), FieldValue::Text(["5", "500", "200"][n % 4 % 3].into()));
        if n % 5 != 0 {
            lead.fields.insert("company".into(), FieldValue::Text("Corp".into()));
        }
        let mut context =
            VisitorContext { page_url: "https://www.example.com/".into(), ..Default::default() };
        context.utm.insert("utm_source".into(), ["ads", "mail", ""][n % 3].into());
        // A pricing page seen 2 days before the submit (in the window), 40 days (not), or never.
        if n % 4 != 3 {
            let ago = if n % 2 == 0 { 2 } else { 40 };
            context
                .pages
                .push(PageView { url: "/pricing".into(), at: Timestamp(now.0 - ago * day) });
        }
        // Leads 1..=20 from a page with version 1, the rest with version 2.
        let model = if seed <= 20 { &v1 } else { &v2 };
        let mut payload = leadgate_core::LeadPayload::build(
            model,
            leadgate_core::payload::lead_id([seed; 16]),
            lead.clone(),
            context.clone(),
            now,
        );
        // Every seventh lead's submit time does not read: the relay scored it at its arrival.
        let received = Timestamp(now.0 + 60_000);
        if n % 7 == 0 {
            payload.submitted_at = "yesterday".into();
        }
        let at = payload.submitted_time().unwrap_or(received);
        // Every eleventh lead reached a relay that did not know the form: unchecked.
        let relay_score = (n % 11 != 0).then(|| score(&lead, &context, &model.scoring, at));
        let new = NewLead {
            email: email.into(),
            received_at: received.to_rfc3339(),
            check: if relay_score.is_some() { ScoreCheck::Match } else { ScoreCheck::Unchecked },
            idempotency_key: None,
            relay_score,
            spam: (n % 13 == 0).then(|| "too_fast".to_string()),
            meta: None,
            deliveries: Vec::new(),
            payload: payload.clone(),
        };
        runtime.block_on(store.insert(Box::new(new))).unwrap();
        stored += usize::from(n % 13 != 0);
        if n % 3 != 2 {
            let won = n % 2 == 0;
            let outcome = NewOutcome {
                lead: LeadRef::Id(payload.id.clone()),
                status: if won {
                    Status::Won
                } else if n % 3 == 0 {
                    Status::Rejected
                } else {
                    Status::Accepted
                },
                reason: (!won && n % 3 == 0).then(|| "no-budget".to_string()),
                note: None,
                amount_cents: won.then_some(1000),
                currency: won.then(|| "EUR".to_string()),
                at: Timestamp(now.0 + day),
                by: None,
                source: OutcomeSource::Api,
                idempotency_key: None,
            };
            runtime.block_on(store.record_outcomes(vec![outcome], Timestamp(now.0 + day))).unwrap();
        }
    }
    let models = [Arc::clone(&v1), Arc::clone(&v2)];
    let run = |draft: &FormConfig, how| -> Rescored {
        runtime.block_on(rescore(&store, "demo", draft, &models, how)).unwrap()
    };
    let statistics = |r: &Rescored| {
        let input = r.inputs();
        backtest(&input).unwrap()
    };
    type Change = fn(&mut Value);
    // (the draft, made from version 2; whether the hits of version 1's, version 2's leads
    // decide it: version 2 less its new rule has version 1's rules)
    let drafts: &[(&str, Change, (bool, bool))] = &[
        ("the same config", |_| {}, (false, true)),
        (
            "points changed",
            |s| {
                s["rules"][0]["points"] = json!(4);
                s["rules"][1]["points"] = json!(40);
                s["rules"][2]["points"] = json!(-30);
                s["rules"][3]["points"] = json!(7);
            },
            (false, true),
        ),
        (
            "a rule removed",
            |s| {
                s["rules"].as_array_mut().unwrap().remove(4);
            },
            (true, true),
        ),
        ("the bar changed", |s| s["stages"] = json!({"mql": {"min_total": 5}}), (false, true)),
        (
            "caps and grades changed",
            |s| {
                s["groups"]["fit"] = json!({"max": 20, "min": 0});
                s["max_total"] = json!(25);
                s["grades"] = json!([{"grade": "A", "min": 20}, {"grade": "B", "min": 0}]);
            },
            (false, true),
        ),
        ("a condition changed", |s| s["rules"][1]["when"]["value"] = json!(100), (false, false)),
    ];
    let mut failures = Vec::new();
    for (name, change, from_hits) in drafts {
        let mut json = backtest_form(true);
        change(&mut json["scoring"]);
        let draft = FormConfig::from_json(&json.to_string()).unwrap();
        let fast = run(&draft, Rescoring::Fastest);
        let slow = run(&draft, Rescoring::Payloads);
        if fast.leads != slow.leads {
            failures.push(format!("{name}: the leads differ:\n{:?}\n{:?}", fast.leads, slow.leads));
        }
        if statistics(&fast) != statistics(&slow) {
            failures.push(format!("{name}: the backtests differ"));
        }
        if (slow.from_hits, slow.from_payloads) != (0, stored as u64) {
            failures.push(format!("{name}: the payload path read hits: {slow:?}"));
        }
        // Each version's leads, less the spam, the unchecked and those whose time does not read.
        let checked = |seeds: std::ops::RangeInclusive<u64>| {
            seeds.filter(|n| n % 13 != 0 && n % 11 != 0 && n % 7 != 0).count() as u64
        };
        let want = if from_hits.0 { checked(1..=20) } else { 0 }
            + if from_hits.1 { checked(21..=60) } else { 0 };
        if fast.from_hits != want || fast.from_hits + fast.from_payloads != stored as u64 {
            failures.push(format!(
                "{name}: {} from hits, {} from payloads; want {want} from hits of {stored}",
                fast.from_hits, fast.from_payloads
            ));
        }
    }
    // The draft changes something: it is not today's scores again.
    let mut json = backtest_form(true);
    json["scoring"]["stages"] = json!({"mql": {"min_total": 5}});
    let lower = run(&FormConfig::from_json(&json.to_string()).unwrap(), Rescoring::Fastest);
    let b = statistics(&lower);
    assert!(b.all.qualified.after > b.all.qualified.before, "{b:?}");
    assert!(failures.is_empty(), "{failures:#?}");
}
