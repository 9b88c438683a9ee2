//! The insights page (`/insights`): the insights JSON of `GET /v1/insights` (the same value,
//! so the page and the API can't disagree) as tables and server-rendered SVG bars. SVG with
//! presentation attributes only (no `style`), no script: it passes [`super::DASHBOARD_CSP`].
//! Every rate is shown with its counts ("12 of 40"); a rate over fewer than 10 leads is marked
//! "thin: n = 4".

use leadgate_insights::THIN_N;
use maud::{html, Markup};

use super::page::{col_heads, document};
use serde_json::Value;

/// The width of a chart's bar area, in SVG units.
const BAR_W: f64 = 420.0;

/// The page for the insights `data` (what `GET /v1/insights` answers) with the filter given.
pub fn page(data: &Value, form: &str, from: &str, to: &str) -> Markup {
    document(
        "Insights",
        html! {
            header {
                h1 { "Insights" }
                nav { a href="/leads" { "← Leads" } }
                form class="search" method="get" action="/insights" {
                    label for="form" { "Form" } " "
                    input id="form" name="form" type="text" value=(form); " "
                    label for="from" { "From" } " "
                    input id="from" name="from" type="date" value=(from); " "
                    label for="to" { "To" } " "
                    input id="to" name="to" type="date" value=(to); " "
                    button type="submit" { "Show" }
                }
            }
            main class="insights" {
                (funnel(&data["funnel"]))
                (lead_velocity(&data["lead_velocity"]))
                (touches(&data["by_source"], &data["by_first_touch"]))
                (score_bands(&data["calibration"]["by_score_band"]))
                (auc(&data["auc"]))
                (speed(&data["speed_to_lead"]))
                (rules(&data["rules"]))
                (reasons(&data["rejection_reasons"]))
            }
        },
    )
}

/// A rate as text: `42.0% (21 of 50; 95% 28.7–56.2%)`, or `no leads`.
pub fn rate_text(rate: &Value) -> String {
    let n = rate["n"].as_u64().unwrap_or(0);
    let successes = rate["successes"].as_u64().unwrap_or(0);
    match rate["rate"].as_f64() {
        None => "no leads (n = 0)".to_string(),
        Some(r) => {
            let (low, high) =
                (rate["low"].as_f64().unwrap_or(0.0), rate["high"].as_f64().unwrap_or(1.0));
            format!(
                "{:.1}% ({successes} of {n}; 95% {:.1}–{:.1}%)",
                r * 100.0,
                low * 100.0,
                high * 100.0
            )
        }
    }
}

/// A rate's cell: its text, and "thin: n = …" when it is over fewer than 10 leads.
fn rate_cell(rate: &Value) -> Markup {
    let thin = rate["thin"].as_bool().unwrap_or(false);
    html! {
        td class="num" {
            (rate_text(rate))
            @if thin {
                " " span class="thin" { "thin: n = " (rate["n"].as_u64().unwrap_or(0)) }
            }
        }
    }
}

/// A horizontal bar chart: one bar per `(label, value, text)`, widths relative to the largest
/// value (or to `max` when given: 1 for rates).
fn bars(title: &str, rows: &[(String, f64, String)], max: Option<f64>) -> Markup {
    let top =
        max.unwrap_or_else(|| rows.iter().map(|r| r.1).fold(0.0, f64::max)).max(f64::MIN_POSITIVE);
    let row_h = 26.0;
    let height = (rows.len() as f64 * row_h + 8.0).max(row_h);
    let view = format!("0 0 760 {height}");
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox=(view) width="760"
            height=(height) role="img" aria-label=(title) {
            title { (title) }
            @for (i, (label, value, text)) in rows.iter().enumerate() {
                @let y = i as f64 * row_h + 4.0;
                @let w = (value / top * BAR_W).clamp(0.0, BAR_W);
                text x="0" y=(y + 16.0) font-size="12" fill="#667085" { (label) }
                rect x="140" y=(y) width=(format!("{w:.1}")) height="18" rx="3" fill="#2f6feb" {}
                text x=(format!("{:.1}", 146.0 + w)) y=(y + 14.0) font-size="12" fill="#1d2330" { (text) }
            }
        }
    }
}

/// The funnel: views → starts → submits → MQL → accepted → opportunities → won.
fn funnel(f: &Value) -> Markup {
    let steps = f["steps"].as_array().cloned().unwrap_or_default();
    let rows: Vec<(String, f64, String)> = steps
        .iter()
        .map(|s| {
            let count = s["count"].as_i64().unwrap_or(0);
            (s["step"].as_str().unwrap_or_default().to_string(), count as f64, count.to_string())
        })
        .collect();
    html! {
        section {
            h2 { "Funnel" }
            (bars("The funnel, step by step", &rows, None))
            table class="funnel-steps" {
                thead { tr { (col_heads(&["Step", "Count", "From the step before"])) } }
                tbody {
                    @for s in &steps {
                        tr data-step=(s["step"].as_str().unwrap_or_default()) {
                            th scope="row" { (s["step"].as_str().unwrap_or_default()) }
                            td class="num" { (s["count"].as_i64().unwrap_or(0)) }
                            @if s["from_previous"].is_null() { td {} } @else { (rate_cell(&s["from_previous"])) }
                        }
                    }
                }
            }
            p {
                "MQL rate: " (rate_text(&f["mql_rate"]))
                " · leads " (f["leads"].as_i64().unwrap_or(0))
                " · rejected " (f["rejected"].as_i64().unwrap_or(0))
                " · lost " (f["lost"].as_i64().unwrap_or(0))
                " · pipeline " (f["pipeline"].as_f64().unwrap_or(0.0))
                " · won " (f["won_amount"].as_f64().unwrap_or(0.0))
            }
        }
    }
}

/// The "thin" mark of a number over `n` leads: fewer than 10.
fn thin_mark(n: u64) -> Markup {
    html! {
        @if n < THIN_N {
            " " span class="thin" { "thin: n = " (n) }
        }
    }
}

/// A money amount of the insights JSON (in the relay's currency units): `1234.50`.
pub fn amount_text(amount: &Value) -> String {
    format!("{:.2}", amount.as_f64().unwrap_or(0.0))
}

/// The lead velocity rate: qualified leads this month against last month.
fn lead_velocity(v: &Value) -> Markup {
    let m = &v["mqls"];
    let (this, last) =
        (m["this_month"].as_u64().unwrap_or(0), m["last_month"].as_u64().unwrap_or(0));
    html! {
        section {
            h2 { "Lead velocity" }
            p data-velocity {
                "Qualified leads (MQL) in " (v["month"].as_str().unwrap_or_default()) ": " (this)
                "; in " (v["previous"].as_str().unwrap_or_default()) ": " (last)
                "; change " (format!("{:+}", m["change"].as_i64().unwrap_or(0)))
                "; lead velocity rate "
                (velocity_text(m))
                (thin_mark(last))
            }
        }
    }
}

/// The lead velocity rate as text: `+20.0% (n = 10 last month)`, or why there is none.
pub fn velocity_text(mqls: &Value) -> String {
    let last = mqls["last_month"].as_u64().unwrap_or(0);
    match mqls["rate_percent"].as_f64() {
        Some(rate) => format!("{rate:+.1}% (n = {last} last month)"),
        None => "none: no qualified lead last month (n = 0)".to_string(),
    }
}

/// By source and campaign (the last touch: where the lead came from when it was submitted),
/// with each one's pipeline and won amount, then the same by first touch.
fn touches(last: &Value, first: &Value) -> Markup {
    let rows = last.as_array().cloned().unwrap_or_default();
    let chart: Vec<(String, f64, String)> = rows
        .iter()
        .map(|r| {
            let f = &r["funnel"];
            let text = format!(
                "won {} · pipeline {} (n = {})",
                amount_text(&f["won_amount"]),
                amount_text(&f["pipeline"]),
                f["leads"].as_i64().unwrap_or(0)
            );
            (touch_label(r), f["won_amount"].as_f64().unwrap_or(0.0), text)
        })
        .collect();
    html! {
        section {
            h2 { "By source and campaign (last touch)" }
            @if rows.is_empty() {
                p class="muted" { "No lead yet." }
            } @else {
                (bars("Won amount by source and campaign", &chart, None))
                (touch_table("last", &rows))
            }
            h2 { "First touch vs last touch" }
            p class="muted" {
                "The same leads by where they first came from (first touch), to set against \
                 the table above (last touch)."
            }
            @let firsts = first.as_array().cloned().unwrap_or_default();
            @if firsts.is_empty() {
                p class="muted" { "No lead yet." }
            } @else {
                (touch_table("first", &firsts))
            }
        }
    }
}

/// `source / campaign` of a row of `by_source` or `by_first_touch`.
fn touch_label(row: &Value) -> String {
    let none = |key: &str| match row[key].as_str() {
        Some(text) if !text.is_empty() => text.to_string(),
        _ => "(none)".to_string(),
    };
    format!("{} / {}", none("utm_source"), none("utm_campaign"))
}

/// One table of touches (`kind`: `first` or `last`): leads, MQLs, accept and win rates,
/// pipeline and won amount.
fn touch_table(kind: &str, rows: &[Value]) -> Markup {
    html! {
        table class={ "touches touches-" (kind) } {
            thead {
                tr {
                    (col_heads(&[
                        "Source / campaign", "Leads", "MQL", "Accepted", "Won", "Pipeline",
                        "Won amount",
                    ]))
                }
            }
            tbody {
                @for r in rows {
                    @let f = &r["funnel"];
                    @let leads = f["leads"].as_i64().unwrap_or(0);
                    tr data-touch=(kind) data-source=(r["utm_source"].as_str().unwrap_or_default())
                        data-campaign=(r["utm_campaign"].as_str().unwrap_or_default()) {
                        th scope="row" { (touch_label(r)) }
                        td class="num" data-leads { (leads) (thin_mark(u64::try_from(leads).unwrap_or(0))) }
                        (rate_cell(&f["mql_rate"]))
                        (rate_cell(&r["accepted"]))
                        (rate_cell(&r["won"]))
                        td class="num" data-pipeline { (amount_text(&f["pipeline"])) " (n = " (leads) ")" }
                        td class="num" data-won { (amount_text(&f["won_amount"])) " (n = " (leads) ")" }
                    }
                }
            }
        }
    }
}

/// The score's AUC for won deals, with its 95% interval and its counts.
fn auc(a: &Value) -> Markup {
    html! {
        section {
            h2 { "How well the score ranks won deals (AUC)" }
            @if let Some(e) = a["error"].as_str() {
                p class="muted" data-auc { (e) }
            } @else {
                p data-auc {
                    (auc_text(a))
                    @if a["thin"].as_bool().unwrap_or(false) {
                        " " span class="thin" {
                            "thin: n = " (a["positives"].as_u64().unwrap_or(0)) " won, "
                            (a["negatives"].as_u64().unwrap_or(0)) " not won"
                        }
                    }
                }
                p class="muted" {
                    "0.5: the score ranks won deals no better than chance; 1: every won deal \
                     scored above every other judged lead."
                }
            }
        }
    }
}

/// The AUC as text: `0.78 (95% 0.61–0.90; 4 won, 8 not won)`, or why there is none.
pub fn auc_text(a: &Value) -> String {
    let (won, not) = (a["positives"].as_u64().unwrap_or(0), a["negatives"].as_u64().unwrap_or(0));
    match a["auc"].as_f64() {
        None => format!("no AUC yet: it needs won and not-won leads ({won} won, {not} not won)"),
        Some(auc) => {
            let interval = match (a["low"].as_f64(), a["high"].as_f64()) {
                (Some(low), Some(high)) => format!("95% {low:.2}–{high:.2}; "),
                _ => String::new(),
            };
            format!("{auc:.2} ({interval}{won} won, {not} not won)")
        }
    }
}

/// Conversion by score band (the calibration table): accept and win rates.
fn score_bands(c: &Value) -> Markup {
    let rows = c["rows"].as_array().cloned().unwrap_or_default();
    let chart: Vec<(String, f64, String)> = rows
        .iter()
        .map(|r| {
            let a = &r["accepted"];
            let text = format!(
                "{} of {} accepted",
                a["successes"].as_u64().unwrap_or(0),
                a["n"].as_u64().unwrap_or(0)
            );
            (
                format!("score {}", r["band"].as_str().unwrap_or_default()),
                a["rate"].as_f64().unwrap_or(0.0),
                text,
            )
        })
        .collect();
    html! {
        section {
            h2 { "Conversion by score band" }
            @if let Some(e) = c["error"].as_str() {
                p class="muted" { (e) }
            } @else if rows.is_empty() {
                p class="muted" { "No lead was judged by sales yet." }
            } @else {
                (bars("Accept rate by score band", &chart, Some(1.0)))
                table class="bands" {
                    thead { tr { (col_heads(&["Score", "Accepted", "Won"])) } }
                    tbody {
                        @for r in &rows {
                            tr data-band=(r["band"].as_str().unwrap_or_default()) {
                                th scope="row" { (r["band"].as_str().unwrap_or_default()) }
                                (rate_cell(&r["accepted"]))
                                (rate_cell(&r["won"]))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Milliseconds as minutes, hours or days.
fn duration(ms: Option<f64>) -> String {
    let Some(ms) = ms else { return "–".to_string() };
    let minutes = ms / 60_000.0;
    if minutes < 120.0 {
        format!("{minutes:.0} min")
    } else if minutes < 48.0 * 60.0 {
        format!("{:.1} h", minutes / 60.0)
    } else {
        format!("{:.1} d", minutes / 1440.0)
    }
}

/// Speed to lead by week: median time to the first sales touch.
fn speed(s: &Value) -> Markup {
    let weeks = s["by_week"].as_array().cloned().unwrap_or_default();
    let chart: Vec<(String, f64, String)> = weeks
        .iter()
        .map(|w| {
            let sp = &w["speed"];
            let text = format!(
                "median {} (n = {})",
                duration(sp["median_ms"].as_f64()),
                sp["leads"].as_u64().unwrap_or(0)
            );
            (
                format!("week of {}", w["key"].as_str().unwrap_or_default()),
                sp["median_ms"].as_f64().unwrap_or(0.0),
                text,
            )
        })
        .collect();
    let all = &s["overall"];
    html! {
        section {
            h2 { "Speed to lead" }
            p {
                "Overall: median " (duration(all["median_ms"].as_f64()))
                ", p90 " (duration(all["p90_ms"].as_f64()))
                " (n = " (all["leads"].as_u64().unwrap_or(0)) ")"
                @if all["thin"].as_bool().unwrap_or(false) {
                    " " span class="thin" { "thin: n = " (all["leads"].as_u64().unwrap_or(0)) }
                }
            }
            @if !weeks.is_empty() {
                (bars("Median time to first touch by week", &chart, None))
                table class="speed" {
                    thead { tr { (col_heads(&["Week of", "Leads", "Median", "p90"])) } }
                    tbody {
                        @for w in &weeks {
                            tr {
                                th scope="row" { (w["key"].as_str().unwrap_or_default()) }
                                td class="num" {
                                    (w["speed"]["leads"].as_u64().unwrap_or(0))
                                    @if w["speed"]["thin"].as_bool().unwrap_or(false) {
                                        " " span class="thin" { "thin: n = " (w["speed"]["leads"].as_u64().unwrap_or(0)) }
                                    }
                                }
                                td class="num" { (duration(w["speed"]["median_ms"].as_f64())) }
                                td class="num" { (duration(w["speed"]["p90_ms"].as_f64())) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A lift (`comparison.ratio`) as text.
fn lift(comparison: &Value) -> String {
    match comparison["ratio"].as_object() {
        Some(r) => format!(
            "{:.2}× (95% {:.2}–{:.2})",
            r.get("ratio").and_then(Value::as_f64).unwrap_or(0.0),
            r.get("low").and_then(Value::as_f64).unwrap_or(0.0),
            r.get("high").and_then(Value::as_f64).unwrap_or(0.0)
        ),
        None => "–".to_string(),
    }
}

/// Per rule: leads hit, accept and win rates with and without it, the lift, and flags.
fn rules(r: &Value) -> Markup {
    let list = r.as_array().cloned().unwrap_or_default();
    html! {
        section {
            h2 { "Rules" }
            @if let Some(e) = r["error"].as_str() {
                p class="muted" { (e) }
            } @else if list.is_empty() {
                p class="muted" { "No rule has hit a lead yet." }
            } @else {
                table class="rules" {
                    thead {
                        tr {
                            (col_heads(&[
                                "Rule", "Leads hit", "Accepted with", "Accepted without", "Lift",
                                "Won with", "Won without", "Flags",
                            ]))
                        }
                    }
                    tbody {
                        @for rule in &list {
                            tr data-rule=(rule["rule"].as_str().unwrap_or_default()) {
                                th scope="row" { code class="rule" { (rule["rule"].as_str().unwrap_or_default()) } }
                                td class="num" { (rule["leads_hit"].as_u64().unwrap_or(0)) }
                                (rate_cell(&rule["accepted"]["with"]))
                                (rate_cell(&rule["accepted"]["without"]))
                                td class="num" { (lift(&rule["accepted"]["comparison"])) }
                                (rate_cell(&rule["won"]["with"]))
                                (rate_cell(&rule["won"]["without"]))
                                td {
                                    @if rule["no_separation"].as_bool().unwrap_or(false) {
                                        div class="muted" { "does not separate good from bad leads" }
                                    }
                                    @if rule["pushes_rejections"].as_bool().unwrap_or(false) {
                                        div class="flag-bad" { "its leads are rejected more often" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Rejection reasons: how often each was given, and the segments that stand out.
fn reasons(r: &Value) -> Markup {
    let totals = r["totals"].as_array().cloned().unwrap_or_default();
    let findings = r["findings"].as_array().cloned().unwrap_or_default();
    html! {
        section {
            h2 { "Rejection reasons" }
            @if totals.is_empty() {
                p class="muted" { "No lead was rejected yet." }
            } @else {
                table class="reasons" {
                    thead { tr { (col_heads(&["Reason", "Leads"])) } }
                    tbody {
                        @for t in &totals {
                            tr data-reason=(t["reason"].as_str().unwrap_or_default()) {
                                th scope="row" { (t["reason"].as_str().unwrap_or_default()) }
                                td class="num" { (t["leads"].as_u64().unwrap_or(0)) }
                            }
                        }
                    }
                }
            }
            @if let Some(e) = r["findings"]["error"].as_str() {
                p class="muted" { (e) }
            }
            @if !findings.is_empty() {
                h3 { "By source, campaign and rule" }
                ul class="findings" {
                    @for f in findings.iter().take(30) {
                        li {
                            (f["summary"].as_str().unwrap_or_default())
                            @if f["in_segment"]["thin"].as_bool().unwrap_or(false) {
                                " " span class="thin" { "thin: n = " (f["in_segment"]["n"].as_u64().unwrap_or(0)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
