//! The sales team's page: the funnel (views, starts, submissions, MQLs, forwarded) in all, by
//! day and by UTM source/campaign; the score distribution; the rules that fire most; then the
//! leads, newest first (searchable by e-mail or domain), each with its answers, its score and
//! *why* (every rule hit with its points and reason). `/leads.csv` exports the same leads.
//!
//! Every value that came from a visitor is HTML-escaped (and CSV cells that a spreadsheet
//! would run as a formula are defused). The page has no script and no inline style: its CSS
//! is `/leads.css`, bars are `<meter>` elements, and it is served under a CSP that allows
//! nothing else. It works without JavaScript: the search is a plain GET form.

use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
};
use axum::response::{IntoResponse, Response};
use leadgate_core::{FieldValue, LeadPayload, RuleHit};

use crate::routes::{unavailable, ListParams, Params, Reader};
use crate::store::{Funnel, FunnelRow, LeadQuery, ScoreCheck, StoredLead};
use crate::RelayState;

/// The page's CSP: its own stylesheet, nothing else (no script at all); the search form
/// submits to the page itself.
pub const DASHBOARD_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page's stylesheet, served at `/leads.css`.
pub const STYLESHEET: &str = include_str!("leads.css");

/// The most leads the page lists (the CSV has them all).
pub const PAGE_LEADS: u32 = 500;

/// `GET /leads?q=`.
pub(crate) async fn page(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<ListParams>,
) -> Response {
    let limit = Some(params.limit.unwrap_or(PAGE_LEADS).min(PAGE_LEADS));
    let query = LeadQuery { search: params.q.clone(), limit, before: params.before.clone() };
    let (leads, funnel) = match (state.store.list(query).await, state.store.funnel().await) {
        (Ok(leads), Ok(funnel)) => (leads, funnel),
        (Err(e), _) | (_, Err(e)) => return unavailable(&e),
    };
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, DASHBOARD_CSP),
            // Leads are personal data: no copies in caches.
            (CACHE_CONTROL, "no-store"),
        ],
        render_dashboard(&leads, &funnel, params.q.as_deref().unwrap_or_default()),
    )
        .into_response()
}

/// `GET /leads.csv?q=`: every matching lead, newest first.
pub(crate) async fn csv(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<ListParams>,
) -> Response {
    match state
        .store
        .list(LeadQuery { search: params.q, limit: params.limit, before: params.before })
        .await
    {
        Ok(leads) => (
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8"),
                (CONTENT_DISPOSITION, "attachment; filename=\"leads.csv\""),
                (CACHE_CONTROL, "no-store"),
            ],
            render_csv(&leads),
        )
            .into_response(),
        Err(e) => unavailable(&e),
    }
}

/// `GET /leads.css`.
pub(crate) async fn stylesheet() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "no-cache")], STYLESHEET)
        .into_response()
}

/// The page for `leads` (newest first) alone, with numbers computed from them.
pub fn render(leads: &[StoredLead]) -> String {
    let mut funnel = Funnel::default();
    for lead in leads.iter().filter(|l| l.spam.is_none()) {
        funnel.totals.submissions += 1;
        funnel.totals.mqls += u64::from(lead.score().qualified);
        funnel.totals.forwarded += u64::from(lead.forwarded > 0);
        funnel.mismatches += u64::from(lead.score_checked == ScoreCheck::Mismatch);
    }
    render_dashboard(leads, &funnel, "")
}

/// The whole page: `funnel`'s numbers, then `leads` (newest first), found by `search`.
pub fn render_dashboard(leads: &[StoredLead], funnel: &Funnel, search: &str) -> String {
    let mut html = String::with_capacity(8192 + leads.len() * 1024);
    html.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Leads · leadgate</title>\n<link rel=\"stylesheet\" href=\"/leads.css\">\n\
         </head>\n<body>\n<header>\n<h1>Leads</h1>\n",
    );
    push_kpis(&mut html, funnel);
    html.push_str("</header>\n<main>\n");
    push_funnel_tables(&mut html, funnel);
    push_search(&mut html, search);
    if leads.is_empty() {
        html.push_str("<p class=\"empty\">No leads yet.</p>\n");
    } else {
        html.push_str(
            "<table class=\"leads\">\n<thead><tr><th scope=\"col\">Received</th>\
             <th scope=\"col\">Form</th><th scope=\"col\">Lead</th>\
             <th scope=\"col\">Score</th><th scope=\"col\">Why</th>\
             <th scope=\"col\">Source</th></tr></thead>\n<tbody>\n",
        );
        for lead in leads {
            push_row(&mut html, lead);
        }
        html.push_str("</tbody>\n</table>\n");
    }
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

/// The headline numbers.
fn push_kpis(html: &mut String, funnel: &Funnel) {
    let t = funnel.totals;
    let rate = (t.mqls * 100 + t.submissions / 2).checked_div(t.submissions).unwrap_or(0);
    html.push_str("<dl class=\"kpis\">\n");
    for (label, value) in [
        ("Widget views", t.views.to_string()),
        ("Form starts", t.starts.to_string()),
        ("Leads", t.submissions.to_string()),
        ("Qualified (MQL)", t.mqls.to_string()),
        ("MQL rate", format!("{rate}%")),
        ("Forwarded", t.forwarded.to_string()),
        ("Score mismatches", funnel.mismatches.to_string()),
        ("Spam", funnel.spam.to_string()),
        ("Dead letters", funnel.dead_letters.to_string()),
    ] {
        html.push_str("<div><dt>");
        html.push_str(label);
        html.push_str("</dt><dd>");
        html.push_str(&value);
        html.push_str("</dd></div>\n");
    }
    html.push_str("</dl>\n");
}

fn push_funnel_cells(html: &mut String, row: &FunnelRow) {
    for n in [row.views, row.starts, row.submissions, row.mqls, row.forwarded] {
        html.push_str("<td class=\"num\">");
        html.push_str(&n.to_string());
        html.push_str("</td>");
    }
}

const FUNNEL_HEAD: &str = "<th scope=\"col\">Views</th><th scope=\"col\">Starts</th>\
    <th scope=\"col\">Leads</th><th scope=\"col\">MQL</th><th scope=\"col\">Forwarded</th>";

/// By day, by source/campaign, the histogram and the top rules.
fn push_funnel_tables(html: &mut String, funnel: &Funnel) {
    if funnel.by_day.is_empty() {
        return;
    }
    html.push_str("<section class=\"funnel\">\n<h2>By day</h2>\n<table class=\"by-day\"><thead><tr><th scope=\"col\">Day</th>");
    html.push_str(FUNNEL_HEAD);
    html.push_str("</tr></thead><tbody>\n");
    for (day, row) in funnel.by_day.iter().take(31) {
        html.push_str("<tr><th scope=\"row\">");
        push_escaped(html, day);
        html.push_str("</th>");
        push_funnel_cells(html, row);
        html.push_str("</tr>\n");
    }
    html.push_str(
        "</tbody></table>\n<h2>By source and campaign</h2>\n<table class=\"by-source\"><thead><tr>\
        <th scope=\"col\">Source</th><th scope=\"col\">Campaign</th>",
    );
    html.push_str(FUNNEL_HEAD);
    html.push_str("</tr></thead><tbody>\n");
    for (source, campaign, row) in funnel.by_source.iter().take(50) {
        html.push_str("<tr><th scope=\"row\">");
        push_escaped(html, if source.is_empty() { "(none)" } else { source });
        html.push_str("</th><td>");
        push_escaped(html, if campaign.is_empty() { "(none)" } else { campaign });
        html.push_str("</td>");
        push_funnel_cells(html, row);
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table>\n");
    if !funnel.histogram.is_empty() {
        let max = funnel.histogram.iter().map(|(_, n)| *n).max().unwrap_or(1);
        html.push_str("<h2>Score distribution</h2>\n<table class=\"histogram\"><thead><tr>\
            <th scope=\"col\">Score</th><th scope=\"col\">Leads</th><th scope=\"col\"></th></tr></thead><tbody>\n");
        for (low, n) in &funnel.histogram {
            html.push_str(&format!(
                "<tr><th scope=\"row\">{low} to {}</th><td class=\"num\">{n}</td>\
                 <td><meter min=\"0\" max=\"{max}\" value=\"{n}\">{n}</meter></td></tr>\n",
                low + 9
            ));
        }
        html.push_str("</tbody></table>\n");
    }
    if !funnel.top_rules.is_empty() {
        html.push_str("<h2>Top rules</h2>\n<table class=\"top-rules\"><thead><tr><th scope=\"col\">Rule</th>\
            <th scope=\"col\">Reason</th><th scope=\"col\">Leads</th><th scope=\"col\">Points</th></tr></thead><tbody>\n");
        for rule in &funnel.top_rules {
            html.push_str("<tr><th scope=\"row\"><code class=\"rule\">");
            push_escaped(html, &rule.rule);
            html.push_str("</code></th><td>");
            push_escaped(html, &rule.reason);
            html.push_str(&format!(
                "</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                rule.leads, rule.points
            ));
        }
        html.push_str("</tbody></table>\n");
    }
    html.push_str("</section>\n");
}

/// The search form and the CSV link (keeping the search).
fn push_search(html: &mut String, search: &str) {
    html.push_str(
        "<form class=\"search\" method=\"get\" action=\"/leads\" role=\"search\">\
         <label for=\"q\">E-mail or domain</label> \
         <input id=\"q\" name=\"q\" type=\"search\" value=\"",
    );
    push_escaped(html, search);
    html.push_str("\"> <button type=\"submit\">Search</button> <a href=\"/leads.csv");
    if !search.is_empty() {
        html.push_str("?q=");
        push_escaped(html, &percent_encode(search));
    }
    html.push_str("\" download>Export CSV</a></form>\n");
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The leads as CSV (RFC 4180), newest first.
pub fn render_csv(leads: &[StoredLead]) -> String {
    let mut out = String::from(
        "id,received_at,form_id,email,score,grade,stage,qualified,client_score,score_checked,\
         spam,forwarded,utm_source,utm_campaign,reasons,fields\r\n",
    );
    for lead in leads {
        let p = &lead.payload;
        let score = lead.score();
        let email = p
            .fields
            .iter()
            .find(|(n, _)| n.as_str() == "email")
            .or_else(|| p.fields.iter().find(|(_, v)| v.as_text().contains('@')))
            .map(|(_, v)| v.as_text().to_string())
            .unwrap_or_default();
        let reasons: Vec<String> = score
            .hits
            .iter()
            .map(|h| format!("{} ({:+}): {}", h.rule, h.points, h.reason))
            .collect();
        let fields = serde_json::to_string(&p.fields).unwrap_or_default();
        let utm = |k: &str| p.context.utm.get(k).cloned().unwrap_or_default();
        let cells = [
            lead.id.clone(),
            lead.received_at.clone(),
            lead.form_id.clone(),
            email,
            score.total.to_string(),
            score.grade.clone(),
            score.stage.as_str().to_string(),
            score.qualified.to_string(),
            p.score.total.to_string(),
            lead.score_checked.as_str().to_string(),
            lead.spam.clone().unwrap_or_default(),
            lead.forwarded.to_string(),
            utm("utm_source"),
            utm("utm_campaign"),
            reasons.join("; "),
            fields,
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV cell: quoted when needed; a text a spreadsheet would run as a formula (`=`, `+`,
/// `-`, `@`, tab, CR first) gets a leading `'` unless it is a number.
pub(crate) fn csv_cell(text: &str) -> String {
    let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']) && text.parse::<f64>().is_err();
    let text = if risky { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn push_row(html: &mut String, lead: &StoredLead) {
    let p: &LeadPayload = &lead.payload;
    let score = lead.score();
    html.push_str(match (&lead.spam, score.qualified) {
        (Some(_), _) => "<tr class=\"spam\">",
        (None, true) => "<tr class=\"mql\">",
        (None, false) => "<tr>",
    });

    // Received.
    html.push_str("<td class=\"when\"><time datetime=\"");
    push_escaped(html, &lead.received_at);
    html.push_str("\">");
    push_escaped(html, &readable_time(&lead.received_at));
    html.push_str("</time>");
    if lead.attempts > 1 {
        html.push_str("<div class=\"muted\">delivered ");
        html.push_str(&lead.attempts.to_string());
        html.push_str("×, stored once</div>");
    }
    if let Some(reason) = &lead.spam {
        html.push_str("<div class=\"spam-flag\">spam (");
        push_escaped(html, reason);
        html.push_str("): stored, not forwarded</div>");
    } else if lead.forwarded > 0 {
        html.push_str("<div class=\"forwarded\">forwarded</div>");
    }
    html.push_str("</td>");

    // Form.
    html.push_str("<td class=\"form\">");
    push_escaped(html, &lead.form_id);
    html.push_str("</td>");

    // The visitor's answers.
    html.push_str("<td><dl class=\"fields\">");
    for (name, value) in &p.fields {
        html.push_str("<dt>");
        push_escaped(html, name);
        html.push_str("</dt><dd>");
        match value {
            FieldValue::Checked(true) => html.push_str("yes"),
            FieldValue::Checked(false) => html.push_str("no"),
            FieldValue::Text(text) => push_escaped(html, text),
        }
        html.push_str("</dd>");
    }
    html.push_str("</dl></td>");

    // Score (the relay's when it has one), grade, stage, and whether the browser agreed.
    html.push_str("<td class=\"score\"><span class=\"total\">");
    html.push_str(&score.total.to_string());
    html.push_str("</span>");
    if !score.grade.is_empty() {
        html.push_str(" <span class=\"grade\">");
        push_escaped(html, &score.grade);
        html.push_str("</span>");
    }
    if score.qualified {
        html.push_str(" <span class=\"stage stage-mql\">MQL · qualified</span>");
    } else {
        html.push_str(" <span class=\"stage\">Lead · not qualified</span>");
    }
    html.push_str(match lead.score_checked {
        ScoreCheck::Match => "<div class=\"check check-match\">relay's score agrees</div>",
        ScoreCheck::Mismatch => {
            "<div class=\"check check-mismatch\">relay scored it differently: \
             the payload was changed or the page's config is not the relay's</div>"
        }
        ScoreCheck::Unchecked => "<div class=\"check muted\">score not re-checked</div>",
    });
    html.push_str("</td>");

    // Why: every rule hit (and, when they differ, what the browser claimed).
    html.push_str("<td class=\"why\">");
    push_hits(html, &score.hits);
    if lead.score_checked == ScoreCheck::Mismatch {
        html.push_str("<div class=\"muted\">the browser claimed ");
        html.push_str(&p.score.total.to_string());
        html.push_str(":</div>");
        push_hits(html, &p.score.hits);
    }
    html.push_str("</td>");

    // Source: UTM, referrer, page.
    html.push_str("<td class=\"source\">");
    for (key, value) in &p.context.utm {
        html.push_str("<div><span class=\"muted\">");
        push_escaped(html, key.strip_prefix("utm_").unwrap_or(key));
        html.push_str("</span> ");
        push_escaped(html, value);
        html.push_str("</div>");
    }
    if let Some(referrer) = p.context.referrer.as_deref().filter(|r| !r.is_empty()) {
        html.push_str("<div><span class=\"muted\">from</span> ");
        push_escaped(html, referrer);
        html.push_str("</div>");
    }
    if !p.context.page_url.is_empty() {
        html.push_str("<div><span class=\"muted\">on</span> ");
        push_escaped(html, &p.context.page_url);
        html.push_str("</div>");
    }
    html.push_str("</td></tr>\n");
}

fn push_hits(html: &mut String, hits: &[RuleHit]) {
    if hits.is_empty() {
        html.push_str("<span class=\"muted\">no rule matched</span>");
        return;
    }
    html.push_str("<ul class=\"hits\">");
    for hit in hits {
        html.push_str(if hit.points < 0 {
            "<li><span class=\"points neg\">"
        } else {
            "<li><span class=\"points\">+"
        });
        html.push_str(&hit.points.to_string());
        html.push_str("</span> <span class=\"reason\">");
        push_escaped(html, &hit.reason);
        html.push_str("</span> <code class=\"rule\">");
        push_escaped(html, &hit.rule);
        html.push_str("</code></li>");
    }
    html.push_str("</ul>");
}

/// `2026-11-26T23:24:56.123Z` as `2026-11-26 23:24:56 UTC`; anything else as it is.
fn readable_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..19)) {
        (Some(date), Some(time)) if rfc3339.ends_with('Z') => format!("{date} {time} UTC"),
        _ => rfc3339.to_string(),
    }
}

/// `text` with `& < > " '` replaced by entities: safe in element content and quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        let cases = [
            ("", ""),
            ("plain text", "plain text"),
            ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
            ("Tom & Jerry", "Tom &amp; Jerry"),
            (r#"" onmouseover="x"#, "&quot; onmouseover=&quot;x"),
            ("it's", "it&#39;s"),
            ("&lt;", "&amp;lt;"),
            ("Zoë 🚀 <b>", "Zoë 🚀 &lt;b&gt;"),
        ];
        for (input, want) in cases {
            assert_eq!(escape_html(input), want, "{input:?}");
        }
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        let cases = [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""),
            ("-5", "-5"),
            ("@evil", "'@evil"),
            ("two\nlines", "\"two\nlines\""),
        ];
        for (input, want) in cases {
            assert_eq!(csv_cell(input), want, "{input:?}");
        }
    }

    #[test]
    fn readable_times() {
        let cases = [
            ("2026-11-26T23:24:56.123Z", "2026-11-26 23:24:56 UTC"),
            ("yesterday", "yesterday"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(readable_time(input), want, "{input:?}");
        }
    }

    #[test]
    fn empty_page_has_no_script_and_no_inline_style() {
        let html = render(&[]);
        assert!(html.contains("No leads yet."));
        assert!(html.contains("href=\"/leads.css\""));
        for banned in ["<script", "style=", "<style"] {
            assert!(!html.contains(banned), "{banned}");
        }
    }
}
