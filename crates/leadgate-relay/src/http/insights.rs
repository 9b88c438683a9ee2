//! What sales learned, given back to marketing: `GET /v1/insights` (and `.csv`), the suggested
//! points of a form, and the backtest of a draft config. The numbers come from the aggregate
//! rows (`store/sales.rs`), never from a scan of every lead, and the statistics from
//! `leadgate-insights` (every rate with its n and a 95% Wilson interval; thin ones marked).
//! The suggestion reads the judged leads (a compact hit matrix); the backtest scores every
//! stored lead with the draft ([`crate::backtest`]: from its stored rule hits when the draft
//! keeps the conditions of the model that scored it, else from its payload through core's
//! `score`, the engine the widget runs — the same numbers either way).
//!
//! Rates of sales' judgement (accepted, rejected, won) are counted among the leads sales
//! *touched*: a lead nobody looked at yet is not a rejection.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use leadgate_core::{FormConfig, Timestamp};
use leadgate_insights::{
    auc_with_interval, backtest, calibrate, compare_rules, lead_velocity, rejection_reasons,
    speed_from_buckets, suggest_points, BandCounts, BootstrapOptions, HitMatrix, LeadOutcome,
    OutcomeCounts, Rate, RuleCounts, SegmentKind, SegmentReasons, SuggestOptions, Target,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::Reader;
use super::error::{error, unavailable};
use super::Params;
use crate::backtest::{outcome_of, rescore, Rescoring};
use crate::clock::now;
use crate::sales::{dim, Counters, SPEED_BUCKETS};
use crate::store::sales::{AggFilter, AggRows};
use crate::RelayState;

/// `?form=&model=&from=&to=` of the insights.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InsightParams {
    /// Only this form.
    pub form: Option<String>,
    /// Only leads scored by this model (`score.model`, e.g. `fnv1a64:…`).
    pub model: Option<String>,
    /// From this day (`YYYY-MM-DD`), by the day leads arrived.
    pub from: Option<String>,
    /// Up to this day, inclusive.
    pub to: Option<String>,
}

impl InsightParams {
    /// The aggregate filter, or the 400 message for a bad day.
    pub fn filter(&self) -> Result<AggFilter, String> {
        for (name, day) in [("from", &self.from), ("to", &self.to)] {
            if let Some(day) = day {
                let ok = day.len() == 10
                    && Timestamp::parse_rfc3339(&format!("{day}T00:00:00Z")).is_some();
                if !ok {
                    return Err(format!("{name}: {day:?} is not a day (YYYY-MM-DD)"));
                }
            }
        }
        Ok(AggFilter {
            form_id: self.form.clone(),
            model: self.model.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        })
    }
}

/// One step of the funnel and the conversion into it from the step before.
#[derive(Debug, Clone, Serialize)]
pub struct FunnelStep {
    /// The step (`views`, `starts`, `submits`, `mqls`, `accepted`, `opportunities`, `won`).
    pub step: &'static str,
    /// How many reached it.
    pub count: i64,
    /// Reached it, of those at the step before (none for the first step).
    pub from_previous: Option<Rate>,
}

/// The funnel as both teams read it, for a set of counts.
#[derive(Debug, Clone, Serialize)]
pub struct FunnelView {
    /// Every step in order.
    pub steps: Vec<FunnelStep>,
    /// Leads stored (qualified or not; spam excluded).
    pub leads: i64,
    /// Rejected by sales.
    pub rejected: i64,
    /// Lost.
    pub lost: i64,
    /// Pipeline (opportunity amounts), in the currency's units.
    pub pipeline: f64,
    /// Won amounts.
    pub won_amount: f64,
    /// MQL rate: qualified leads of submit attempts (the widget reports every submit, so the
    /// leads that did not qualify count); of leads when no submit was reported.
    pub mql_rate: Rate,
}

impl FunnelView {
    fn of(c: &Counters) -> FunnelView {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let steps = [
            ("views", c.views),
            ("starts", c.starts),
            ("submits", c.submits.max(c.leads)),
            ("mqls", c.mqls),
            ("accepted", c.accepted),
            ("opportunities", c.opportunity),
            ("won", c.won),
        ];
        let mut out = Vec::with_capacity(steps.len());
        for (i, (step, count)) in steps.iter().enumerate() {
            let from_previous = (i > 0).then(|| Rate::new(n(*count), n(steps[i - 1].1)));
            out.push(FunnelStep { step, count: *count, from_previous });
        }
        FunnelView {
            steps: out,
            leads: c.leads,
            rejected: c.rejected,
            lost: c.lost,
            pipeline: c.pipeline_cents as f64 / 100.0,
            won_amount: c.won_cents as f64 / 100.0,
            mql_rate: Rate::new(n(c.mqls), n(c.submits.max(c.leads))),
        }
    }
}

/// Sales' judgement of a set of leads: counted among those sales touched.
fn judged(c: &Counters) -> OutcomeCounts {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    OutcomeCounts {
        leads: n(c.touched),
        accepted: n(c.accepted),
        rejected: n(c.rejected),
        won: n(c.won),
    }
}

/// The Monday of the ISO week of `day` (`YYYY-MM-DD`).
fn week_of(day: &str) -> String {
    let Some(t) = Timestamp::parse_rfc3339(&format!("{day}T00:00:00Z")) else {
        return day.to_string();
    };
    let days = t.0 / 86_400_000;
    // 1970-01-01 was a Thursday: days since a Monday are (days + 3) % 7.
    let monday = days - (days + 3) % 7;
    Timestamp(monday * 86_400_000).to_rfc3339().get(..10).unwrap_or(day).to_string()
}

/// Everything `GET /v1/insights` answers.
pub fn build(rows: &AggRows, today: &str) -> Value {
    let mut totals = Counters::default();
    let mut by_week: BTreeMap<String, Counters> = BTreeMap::new();
    let mut by_source: BTreeMap<(String, String), Counters> = BTreeMap::new();
    let mut by_first: BTreeMap<(String, String), Counters> = BTreeMap::new();
    let mut by_grade: BTreeMap<String, (Counters, i64)> = BTreeMap::new();
    let mut by_band: BTreeMap<i64, Counters> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, Counters> = BTreeMap::new();
    let mut scores: Vec<(i64, Counters)> = Vec::new();
    let mut mqls_by_month: BTreeMap<String, i64> = BTreeMap::new();
    for (d, day, k1, k2, c) in &rows.counts {
        match d.as_str() {
            dim::SOURCE => {
                totals.add(c, 1);
                by_week.entry(week_of(day)).or_default().add(c, 1);
                by_source.entry((k1.clone(), k2.clone())).or_default().add(c, 1);
                *mqls_by_month.entry(day.get(..7).unwrap_or_default().to_string()).or_default() +=
                    c.mqls;
            }
            dim::FIRST_TOUCH => by_first.entry((k1.clone(), k2.clone())).or_default().add(c, 1),
            dim::SCORE => {
                let total: i64 = k2.parse().unwrap_or(0);
                let g = by_grade.entry(k1.clone()).or_default();
                g.0.add(c, 1);
                g.1 += total.saturating_mul(c.leads);
                by_band.entry(total.div_euclid(10) * 10).or_default().add(c, 1);
                scores.push((total, *c));
            }
            dim::RULE => by_rule.entry(k1.clone()).or_default().add(c, 1),
            _ => {}
        }
    }
    let all_judged = judged(&totals);

    // Per rule, against the leads without it.
    let rule_counts: Vec<RuleCounts> =
        by_rule.iter().map(|(rule, c)| RuleCounts { rule: rule.clone(), hit: judged(c) }).collect();
    let rules = compare_rules(&all_judged, &rule_counts)
        .map(|r| json!(r))
        .unwrap_or_else(|e| json!({"error": e.to_string()}));

    // Calibration: grades from the best (highest mean score) down; score bands from the top.
    let mut grades: Vec<(&String, &(Counters, i64))> = by_grade.iter().collect();
    grades.sort_by(|a, b| {
        let mean = |x: &(Counters, i64)| x.1 as f64 / x.0.leads.max(1) as f64;
        mean(b.1).total_cmp(&mean(a.1))
    });
    let grade_bands: Vec<BandCounts> = grades
        .iter()
        .map(|(g, (c, _))| BandCounts { band: (*g).clone(), counts: judged(c) })
        .collect();
    let score_bands: Vec<BandCounts> = by_band
        .iter()
        .rev()
        .map(|(low, c)| BandCounts { band: format!("{low}–{}", low + 9), counts: judged(c) })
        .collect();
    let calibration = json!({
        "by_grade": calibrate(&grade_bands).map(|c| json!(c)).unwrap_or_else(|e| json!({"error": e.to_string()})),
        "by_score_band": calibrate(&score_bands).map(|c| json!(c)).unwrap_or_else(|e| json!({"error": e.to_string()})),
    });

    // AUC of the score for won vs not won, among judged leads (each score's counts expanded).
    let mut auc_scores = Vec::new();
    let mut auc_outcomes = Vec::new();
    for (total, c) in &scores {
        let j = judged(c);
        for i in 0..j.leads {
            auc_scores.push(*total as f64);
            auc_outcomes.push(LeadOutcome {
                accepted: i < j.accepted,
                rejected: false,
                won: i < j.won,
            });
        }
    }
    let auc =
        auc_with_interval(&auc_scores, &auc_outcomes, Target::Won, BootstrapOptions::default())
            .map(|a| json!(a))
            .unwrap_or_else(|e| json!({"error": e.to_string()}));

    // Rejection reasons by source, campaign and rule.
    let mut all_rejected: BTreeMap<String, u64> = BTreeMap::new();
    let mut segments: BTreeMap<(SegmentKind, String), BTreeMap<String, u64>> = BTreeMap::new();
    for (d, _, k1, k2, status, reason, n) in &rows.reasons {
        if status != "rejected" {
            continue;
        }
        let n = u64::try_from(*n).unwrap_or(0);
        match d.as_str() {
            dim::SOURCE => {
                *all_rejected.entry(reason.clone()).or_default() += n;
                let s =
                    segments.entry((SegmentKind::Source, format!("utm_source={k1}"))).or_default();
                *s.entry(reason.clone()).or_default() += n;
                let c = segments
                    .entry((SegmentKind::Campaign, format!("utm_campaign={k2}")))
                    .or_default();
                *c.entry(reason.clone()).or_default() += n;
            }
            dim::RULE => {
                let r = segments.entry((SegmentKind::Rule, format!("rule {k1}"))).or_default();
                *r.entry(reason.clone()).or_default() += n;
            }
            _ => {}
        }
    }
    let mut campaign_judged: BTreeMap<String, u64> = BTreeMap::new();
    let mut source_judged: BTreeMap<String, u64> = BTreeMap::new();
    for ((s, c), counts) in &by_source {
        *source_judged.entry(s.clone()).or_default() += judged(counts).leads;
        *campaign_judged.entry(c.clone()).or_default() += judged(counts).leads;
    }
    let segment_list: Vec<SegmentReasons> = segments
        .into_iter()
        .map(|((kind, segment), rejected)| {
            let leads = match kind {
                SegmentKind::Source => source_judged.get(&segment["utm_source=".len()..]).copied(),
                SegmentKind::Campaign => {
                    campaign_judged.get(&segment["utm_campaign=".len()..]).copied()
                }
                SegmentKind::Rule => {
                    by_rule.get(&segment["rule ".len()..]).map(|c| judged(c).leads)
                }
            };
            SegmentReasons { kind, segment, leads: leads.unwrap_or(0), rejected }
        })
        .collect();
    let reasons = rejection_reasons(all_judged.leads, &all_rejected, &segment_list)
        .map(|r| json!(r))
        .unwrap_or_else(|e| json!({"error": e.to_string()}));
    let reason_totals: Vec<Value> =
        all_rejected.iter().map(|(r, n)| json!({"reason": r, "leads": n})).collect();

    // Speed to lead, by week, grade and source.
    let uppers: Vec<u64> = SPEED_BUCKETS
        .iter()
        .map(|s| if *s == i64::MAX { u64::MAX } else { u64::try_from(*s).unwrap_or(0) * 1000 })
        .collect();
    let mut speed_all = vec![0u64; uppers.len()];
    let mut speed_week: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut speed_grade: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut speed_source: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (d, day, k1, _, bucket, n) in &rows.speed {
        let n = u64::try_from(*n).unwrap_or(0);
        let Some(slot) = speed_all.get(*bucket).map(|_| *bucket) else { continue };
        let add = |map: &mut BTreeMap<String, Vec<u64>>, key: String| {
            map.entry(key).or_insert_with(|| vec![0; uppers.len()])[slot] += n;
        };
        match d.as_str() {
            dim::SOURCE => {
                speed_all[slot] += n;
                add(&mut speed_week, week_of(day));
                add(&mut speed_source, k1.clone());
            }
            dim::GRADE => add(&mut speed_grade, k1.clone()),
            _ => {}
        }
    }
    let speed_map = |m: &BTreeMap<String, Vec<u64>>| -> Value {
        m.iter().map(|(k, v)| json!({"key": k, "speed": speed_from_buckets(&uppers, v)})).collect()
    };

    // Lead velocity: qualified leads this month against last month (by the relay's clock).
    let this_month = today.get(..7).unwrap_or_default().to_string();
    let last_month = previous_month(&this_month);
    let count = |m: &str| u64::try_from(*mqls_by_month.get(m).unwrap_or(&0)).unwrap_or(0);

    let rows_of = |map: &BTreeMap<(String, String), Counters>| -> Value {
        map.iter()
            .map(|((s, c), counts)| {
                json!({
                    "utm_source": s, "utm_campaign": c,
                    "funnel": FunnelView::of(counts),
                    "judged": judged(counts),
                    "accepted": Rate::new(judged(counts).accepted, judged(counts).leads),
                    "won": Rate::new(judged(counts).won, judged(counts).leads),
                })
            })
            .collect()
    };
    json!({
        "funnel": FunnelView::of(&totals),
        "judged": all_judged,
        "by_week": by_week.iter().map(|(w, c)| json!({"week": w, "funnel": FunnelView::of(c)})).collect::<Vec<_>>(),
        "by_source": rows_of(&by_source),
        "by_first_touch": rows_of(&by_first),
        "rejection_reasons": {"totals": reason_totals, "findings": reasons},
        "rules": rules,
        "calibration": calibration,
        "auc": auc,
        "lead_velocity": {"month": this_month, "previous": last_month, "mqls": lead_velocity(count(&this_month), count(&last_month))},
        "speed_to_lead": {
            "overall": speed_from_buckets(&uppers, &speed_all),
            "by_week": speed_map(&speed_week),
            "by_grade": speed_map(&speed_grade),
            "by_source": speed_map(&speed_source),
        },
    })
}

/// `YYYY-MM` of the month before.
fn previous_month(month: &str) -> String {
    let (y, m) = month.split_once('-').unwrap_or(("1970", "01"));
    let (y, m): (i32, u32) = (y.parse().unwrap_or(1970), m.parse().unwrap_or(1));
    if m <= 1 {
        format!("{:04}-12", y - 1)
    } else {
        format!("{y:04}-{:02}", m - 1)
    }
}

/// `GET /v1/insights?form=&model=&from=&to=`.
pub(crate) async fn insights(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<InsightParams>,
) -> Response {
    let rows = match aggregates(&state, &params).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let mut body = build(&rows, &now().to_rfc3339());
    body["filter"] =
        json!({"form": params.form, "model": params.model, "from": params.from, "to": params.to});
    ([(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `GET /insights?form=&from=&to=`: the insights as a page (the same numbers as the JSON),
/// under the dashboard's CSP.
pub(crate) async fn page(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<InsightParams>,
) -> Response {
    let rows = match aggregates(&state, &params).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let body = build(&rows, &now().to_rfc3339());
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let html = crate::dashboard::render_insights(
        &body,
        &text(&params.form),
        &text(&params.from),
        &text(&params.to),
    );
    super::dashboard::html_page(StatusCode::OK, html)
}

/// The aggregate rows `params` select, or the 400/503 to answer.
async fn aggregates(state: &RelayState, params: &InsightParams) -> Result<AggRows, Response> {
    let filter = params.filter().map_err(|message| error(StatusCode::BAD_REQUEST, message))?;
    state.store.aggregates(filter).await.map_err(|e| unavailable(&e))
}

/// `GET /v1/insights.csv`: the funnel by source and campaign (last touch), one row each, with
/// sales' judgement and amounts, for a spreadsheet.
pub(crate) async fn insights_csv(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<InsightParams>,
) -> Response {
    let rows = match aggregates(&state, &params).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    let mut by: BTreeMap<(String, String), Counters> = BTreeMap::new();
    for (d, _, k1, k2, c) in &rows.counts {
        if d == dim::SOURCE {
            by.entry((k1.clone(), k2.clone())).or_default().add(c, 1);
        }
    }
    let mut csv = String::from(
        "utm_source,utm_campaign,views,starts,submits,leads,mqls,touched,accepted,rejected,\
         opportunities,won,lost,pipeline,won_amount\r\n",
    );
    for ((s, c), n) in &by {
        let cells = [
            crate::dashboard::csv_cell(s),
            crate::dashboard::csv_cell(c),
            n.views.to_string(),
            n.starts.to_string(),
            n.submits.to_string(),
            n.leads.to_string(),
            n.mqls.to_string(),
            n.touched.to_string(),
            n.accepted.to_string(),
            n.rejected.to_string(),
            n.opportunity.to_string(),
            n.won.to_string(),
            n.lost.to_string(),
            format!("{:.2}", n.pipeline_cents as f64 / 100.0),
            format!("{:.2}", n.won_cents as f64 / 100.0),
        ];
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"insights.csv\""),
            (CACHE_CONTROL, "no-store"),
        ],
        csv,
    )
        .into_response()
}

/// The rules a suggestion weighs: the config's rules that are not disqualifiers (their leads
/// rarely reach sales), with today's points.
fn weighed_rules(form: &FormConfig) -> (Vec<String>, Vec<i64>) {
    form.scoring.rules.iter().filter(|r| !r.disqualify).map(|r| (r.id.clone(), r.points)).unzip()
}

/// `?target=won|accepted` of the suggestion.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SuggestParams {
    /// The outcome to learn; defaults to won when there are enough wins, else accepted.
    pub target: Option<Target>,
    /// The days of leads to learn from (see [`InsightParams`]).
    pub from: Option<String>,
    /// Up to this day.
    pub to: Option<String>,
}

/// `GET /v1/forms/{form_id}/suggestion`: suggested points for the current version's rules,
/// fitted on the leads sales judged, as a diff against today's points — or the refusal that
/// says why the data are too thin. Nothing is changed: publishing is a person's act.
pub(crate) async fn suggestion(
    _: Reader,
    State(state): State<RelayState>,
    Path(form_id): Path<String>,
    Params(params): Params<SuggestParams>,
) -> Response {
    let Some((form, version, _)) = crate::versions::read(&state.catalog).current(&form_id) else {
        return error(StatusCode::NOT_FOUND, format!("this relay has no form {form_id:?}"));
    };
    let filter =
        AggFilter { form_id: Some(form_id.clone()), model: None, from: params.from, to: params.to };
    let judged = match state.store.judged_leads(filter).await {
        Ok(leads) => leads,
        Err(e) => return unavailable(&e),
    };
    let (rules, today) = weighed_rules(&form);
    let mut matrix = HitMatrix::with_capacity(rules.clone(), judged.len(), 6);
    let mut outcomes = Vec::with_capacity(judged.len());
    for lead in &judged {
        if matrix.push_ids(lead.hits.iter().map(|(r, _)| r.as_str())).is_ok() {
            outcomes.push(outcome_of(lead.flags));
        }
    }
    let options = SuggestOptions { target: params.target, ..SuggestOptions::default() };
    let body = match suggest_points(&matrix, &outcomes, &today, &options) {
        Ok(s) => {
            json!({"form_id": form_id, "version": version, "judged_leads": judged.len(), "suggestion": s})
        }
        Err(e) => json!({"form_id": form_id, "version": version, "judged_leads": judged.len(),
            "refused": e.to_string(), "why": e}),
    };
    Json(body).into_response()
}

/// `POST /v1/forms/{form_id}/backtest` with `{"config": {...}}` (a draft, e.g. the suggestion
/// applied): every stored lead of the form scored with the draft at its own submit time (from
/// its rule hits or its payload, see [`crate::backtest`]; `rescored` says how many each way),
/// before → after: how many qualify, precision and recall for accepted and won, AUC, per
/// source. Nothing is stored.
pub(crate) async fn backtest_draft(
    _: Reader,
    State(state): State<RelayState>,
    Path(form_id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let draft = match super::sales::config_body(&headers, &body, &form_id) {
        Ok((draft, _, _)) => draft,
        Err(why) => return why.from_client(None).into_response(),
    };
    let started = std::time::Instant::now();
    let models = crate::versions::read(&state.catalog).versions(&form_id);
    let rescored = match rescore(&state.store, &form_id, &draft, &models, Rescoring::Fastest).await
    {
        Ok(rescored) => rescored,
        Err(e) => return unavailable(&e),
    };
    let input = rescored.inputs();
    match backtest(&input) {
        Ok(result) => Json(json!({
            "form_id": form_id,
            "draft_model": draft.scoring.model_id(),
            "leads": input.len(),
            "rescored": {"from_hits": rescored.from_hits, "from_payloads": rescored.from_payloads},
            "ms": started.elapsed().as_millis() as u64,
            "backtest": result,
        }))
        .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}
