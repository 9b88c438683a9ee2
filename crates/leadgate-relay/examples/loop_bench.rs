//! The closed loop's benchmark (a script, not a timed test): fills a store with LEADS leads of
//! a 30-rule form (each lead hits about six rules) through `Store::insert`, posts outcomes for
//! 40% of them drawn from a known logistic model, then prints the median of 5 runs of: the
//! insights (`Store::aggregates` + `insights::build`, what `GET /v1/insights` does), the
//! suggested points (the judged-lead matrix + the fit), and the backtest of a draft that changes
//! points only (what `POST /v1/forms/{id}/backtest` does: its scores from the rule hits), the
//! same draft with every payload re-scored by core's `score` (the path of a draft that changes
//! conditions), and where that path's time goes.
//!
//! `cargo run --profile relay -p leadgate-relay --example loop_bench [LEADS]` on SQLite (a temp
//! file); with `LEADGATE_DATABASE_URL=postgres://…` on that database (an empty one).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use leadgate_core::payload::lead_id;
use leadgate_core::{score, FieldValue, FormConfig, Lead, LeadPayload, Timestamp, VisitorContext};
use leadgate_insights::{backtest, suggest_points, HitMatrix, SuggestOptions};
use leadgate_relay::backtest::{outcome_of, rescore, Rescoring};
use leadgate_relay::sales::{LeadRef, NewOutcome, OutcomeSource, Status};
use leadgate_relay::store::sales::AggFilter;
use leadgate_relay::store::{Database, NewLead, ScoreCheck, Store};

const FIELDS: usize = 6;
const VALUES: usize = 5;

/// A form of 6 select fields with 5 answers each, and a rule per (field, answer): 30 rules.
fn config(points: impl Fn(usize) -> i64) -> FormConfig {
    let mut fields = vec![
        serde_json::json!({"name": "email", "type": "email", "label": "E-mail", "required": true}),
    ];
    let mut rules = Vec::new();
    for f in 0..FIELDS {
        let options: Vec<serde_json::Value> = (0..VALUES)
            .map(|v| serde_json::json!({"value": format!("v{v}"), "label": format!("Answer {v}")}))
            .collect();
        fields.push(serde_json::json!({"name": format!("f{f}"), "type": "select", "label": format!("Question {f}"), "options": options}));
        for v in 0..VALUES {
            let i = f * VALUES + v;
            rules.push(serde_json::json!({"id": format!("r{i}"), "points": points(i),
                "when": {"op": "equals", "field": format!("f{f}"), "value": format!("v{v}")}}));
        }
    }
    let json = serde_json::json!({"form_id": "bench", "fields": fields,
        "scoring": {"threshold": 40, "rules": rules}});
    FormConfig::from_json(&json.to_string()).expect("the bench config reads")
}

/// A small deterministic generator (xorshift): the same leads on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let leads: usize = std::env::args().nth(1).map_or(100_000, |n| n.parse().expect("LEADS"));
    let dir = tempfile::tempdir().unwrap();
    // LEADGATE_BENCH_SQLITE=path keeps the SQLite file; a file already there is used as it is.
    let kept = std::env::var_os("LEADGATE_BENCH_SQLITE").map(std::path::PathBuf::from);
    let filled_before = kept.as_ref().is_some_and(|p| p.exists());
    let database = match (std::env::var("LEADGATE_DATABASE_URL"), kept) {
        (Ok(url), _) => Database::Postgres(url),
        (Err(_), Some(path)) => Database::Sqlite(path),
        (Err(_), None) => Database::Sqlite(dir.path().join("bench.db")),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let store = Store::open_database(&database).unwrap();
    let today = config(|i| [10, 5, 0, -5, 15][i % 5]);
    // The truth the outcomes are drawn from: rule i's weight on the log-odds of a win.
    let truth = |i: usize| [1.2, 0.6, 0.0, -0.8, 0.3][i % 5] * if i < 15 { 1.0 } else { 0.5 };
    let sources = ["google", "linkedin", "newsletter", "partner", ""];

    let started = Instant::now();
    let mut rng = Rng(0x5eed);
    let leads_to_store = if filled_before { 0 } else { leads };
    let mut ids = Vec::with_capacity(leads);
    runtime.block_on(async {
        let mut pending = Vec::new();
        for n in 0..leads_to_store {
            let mut lead = Lead::default();
            lead.fields
                .insert("email".into(), FieldValue::Text(format!("lead{n}@example{}.com", n % 97)));
            let mut log_odds: f64 = -1.5;
            for f in 0..FIELDS {
                let v = rng.below(VALUES);
                lead.fields.insert(format!("f{f}"), FieldValue::Text(format!("v{v}")));
                log_odds += truth(f * VALUES + v);
            }
            let mut context = VisitorContext {
                page_url: "https://www.example.com/".into(),
                ..Default::default()
            };
            context.utm.insert("utm_source".into(), sources[n % sources.len()].into());
            let mut bytes = [0u8; 16];
            // The first four bytes: a UUID's version and variant bits are elsewhere.
            bytes[..4].copy_from_slice(&(n as u32).to_be_bytes());
            let at = Timestamp(1_795_735_496_123 + n as u64 * 1000);
            let payload = LeadPayload::build(&today, lead_id(bytes), lead, context, at);
            let won = rng.unit() < 1.0 / (1.0 + (-log_odds).exp());
            ids.push((payload.id.clone(), won, rng.unit() < 0.4));
            let new = NewLead {
                email: format!("lead{n}@example{}.com", n % 97),
                received_at: at.to_rfc3339(),
                check: ScoreCheck::Match,
                idempotency_key: None,
                relay_score: Some(payload.score.clone()),
                spam: None,
                meta: None,
                deliveries: Vec::new(),
                payload,
            };
            let store = store.clone();
            pending.push(tokio::spawn(async move { store.insert(Box::new(new)).await.unwrap() }));
            if pending.len() >= 256 {
                for p in pending.drain(..) {
                    p.await.unwrap();
                }
            }
        }
        for p in pending {
            p.await.unwrap();
        }
    });
    let filled = started.elapsed();
    let started = Instant::now();
    let judged: Vec<&(String, bool, bool)> = ids.iter().filter(|(_, _, judged)| *judged).collect();
    runtime.block_on(async {
        for chunk in judged.chunks(1000) {
            let outcomes = chunk
                .iter()
                .map(|(id, won, _)| NewOutcome {
                    lead: LeadRef::Id(id.clone()),
                    status: if *won { Status::Won } else { Status::Rejected },
                    reason: (!*won).then(|| "no-budget".to_string()),
                    note: None,
                    amount_cents: won.then_some(100_000),
                    currency: won.then(|| "EUR".to_string()),
                    at: Timestamp(1_795_800_000_000),
                    by: None,
                    source: OutcomeSource::Api,
                    idempotency_key: None,
                })
                .collect();
            store.record_outcomes(outcomes, Timestamp(1_795_800_000_000)).await.unwrap();
        }
    });
    let judged_at = started.elapsed();
    println!(
        "{leads_to_store} leads stored in {filled:.1?} ({:.0} leads/s), {} outcomes in {judged_at:.1?} ({:?})",
        leads_to_store as f64 / filled.as_secs_f64(),
        judged.len(),
        database
    );

    if let Database::Sqlite(path) = &database {
        runtime.block_on(store.ping()).unwrap();
        let bytes: u64 = ["", "-wal"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
            .map(|m| m.len())
            .sum();
        println!(
            "database: {bytes} bytes, {:.0} bytes per lead (file + WAL)",
            bytes as f64 / leads as f64
        );
    }
    let mut insight_times = Vec::new();
    let mut rows = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let aggregates = runtime.block_on(store.aggregates(AggFilter::default())).unwrap();
        let body = leadgate_relay::http::insights::build(&aggregates, "2026-12-01");
        insight_times.push(t.elapsed());
        rows = aggregates.counts.len();
        assert!(
            body["rules"].as_array().is_some_and(|r| r.len() == 30),
            "30 rules in the insights"
        );
    }
    println!(
        "insights (GET /v1/insights): median {:.1?} of 5, from {rows} aggregate rows",
        median(insight_times)
    );

    let rule_ids: Vec<String> = today.scoring.rules.iter().map(|r| r.id.clone()).collect();
    let today_points: Vec<i64> = today.scoring.rules.iter().map(|r| r.points).collect();
    let mut fit_times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let judged = runtime.block_on(store.judged_leads(AggFilter::default())).unwrap();
        let mut matrix = HitMatrix::with_capacity(rule_ids.clone(), judged.len(), 6);
        let mut outcomes = Vec::with_capacity(judged.len());
        for lead in &judged {
            matrix.push_ids(lead.hits.iter().map(|(r, _)| r.as_str())).unwrap();
            outcomes.push(outcome_of(lead.flags));
        }
        let suggestion =
            suggest_points(&matrix, &outcomes, &today_points, &SuggestOptions::default());
        fit_times.push(t.elapsed());
        assert!(suggestion.is_ok(), "{suggestion:?}");
    }
    println!(
        "suggested points (matrix of judged leads + fit): median {:.1?} of 5",
        median(fit_times)
    );

    // The suggestion applied: new points, the same rules (its scores come from the rule hits).
    let draft = config(|i| [20, 8, 0, -10, 5][i % 5]);
    let models = [std::sync::Arc::new(today.clone())];
    for (what, how) in [
        ("points-only draft, from the rule hits", Rescoring::Fastest),
        ("the same draft, from every payload", Rescoring::Payloads),
    ] {
        let mut times = Vec::new();
        let mut statistics = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let rescored =
                runtime.block_on(rescore(&store, "bench", &draft, &models, how)).unwrap();
            let s = Instant::now();
            let input = rescored.inputs();
            let result = backtest(&input).unwrap();
            statistics.push(s.elapsed());
            times.push(t.elapsed());
            assert_eq!(result.all.leads, leads as u64);
            assert!(result.all.qualified.after > 0);
            let from =
                if how == Rescoring::Fastest { rescored.from_hits } else { rescored.from_payloads };
            assert_eq!(from, leads as u64);
        }
        println!(
            "backtest ({what}): median {:.1?} of 5, of which the statistics {:.1?}",
            median(times),
            median(statistics)
        );
    }

    // Where the payload path's time goes: the SQL read, the JSON, the scoring.
    let (mut read, mut parse, mut scoring) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let (mut r, mut p, mut s) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let mut after_id = None;
        loop {
            let t = Instant::now();
            let batch = runtime
                .block_on(store.scan_leads("bench".into(), after_id.clone(), 5000, Vec::new()))
                .unwrap();
            r += t.elapsed();
            let Some(last) = batch.last() else { break };
            after_id = Some(last.id.clone());
            for stored in &batch {
                let t = Instant::now();
                let payload: LeadPayload =
                    serde_json::from_str(stored.payload.as_deref().unwrap()).unwrap();
                p += t.elapsed();
                let t = Instant::now();
                let at = payload.submitted_time().unwrap_or(Timestamp(0));
                let lead = Lead { fields: payload.fields };
                std::hint::black_box(score(&lead, &payload.context, &draft.scoring, at));
                s += t.elapsed();
            }
        }
        read.push(r);
        parse.push(p);
        scoring.push(s);
    }
    let mut hits_read = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut after_id = None;
        loop {
            let batch = runtime
                .block_on(store.scan_leads(
                    "bench".into(),
                    after_id.clone(),
                    5000,
                    vec![today.scoring.model_id()],
                ))
                .unwrap();
            let Some(last) = batch.last() else { break };
            after_id = Some(last.id.clone());
        }
        hits_read.push(t.elapsed());
    }
    println!("  hits path: SQL read {:.1?} (median)", median(hits_read));
    println!(
        "  payload path split: SQL read {:.1?}, JSON parse {:.1?}, scoring {:.1?} (medians)",
        median(read),
        median(parse),
        median(scoring)
    );
}
