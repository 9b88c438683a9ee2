//! The sales team's page: the funnel (views, starts, submissions, MQLs, forwarded) in all, by
//! day and by UTM source/campaign; the score distribution; the rules that fire most; then the
//! leads, newest first (searchable by e-mail or domain), each with its answers, its score and
//! *why* (every rule hit with its points and reason). `/leads.csv` exports the same leads.
//!
//! Every value that came from a visitor is HTML-escaped (and CSV cells that a spreadsheet
//! would run as a formula are defused). The page has no script and no inline style: its CSS
//! is `/leads.css`, bars are `<meter>` elements, and it is served under a CSP that allows
//! nothing else. It works without JavaScript: the search is a plain GET form.
//!
//! The HTML comes from maud templates (`page.rs`: one function per part of the page), which
//! escape every value by default. This module knows nothing of HTTP: [`crate::http::dashboard`]
//! serves what it renders.

mod insights;
mod page;

use crate::store::{Funnel, ScoreCheck, StoredLead};

/// The page's CSP: its own stylesheet, nothing else (no script at all); the search form
/// submits to the page itself.
pub const DASHBOARD_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page's stylesheet, served at `/leads.css`.
pub const STYLESHEET: &str = include_str!("leads.css");

/// The most leads the page lists (the CSV has them all): with six outcome forms a lead, 500 made
/// a page of 2.2–2.5 MB (100 of the tests' leads: 434 KB).
pub const PAGE_LEADS: u32 = 100;

/// The name of the hidden field that carries a form's CSRF token (made and checked by
/// [`crate::http::CsrfKey`]): `input type="hidden" name=(CSRF_FIELD) value=(token);`.
pub const CSRF_FIELD: &str = "csrf";

/// What the page's forms need, from the request that asked for it: without them (`None`) the
/// lead rows have no buttons.
#[derive(Debug, Clone, Default)]
pub struct Actions {
    /// The CSRF token of the outcome buttons (action [`OUTCOME_ACTION`]).
    pub outcome_csrf: String,
    /// The CSRF token of the CSV import (action [`IMPORT_ACTION`]).
    pub import_csrf: String,
    /// The reasons a rejection may give (the relay's `[outcomes]` list).
    pub reasons: Vec<String>,
    /// The page's search and page (`q`, `before`), sent back with each form so the answer
    /// returns to the same list.
    pub q: String,
    /// See `q`.
    pub before: String,
    /// The id of the page's last lead when the page is full: the "Older leads" link.
    pub older: Option<String>,
}

/// The CSRF action of the outcome buttons (`POST /leads/{id}/outcome`).
pub const OUTCOME_ACTION: &str = "outcome";

/// The CSRF action of the CSV import (`POST /leads/outcomes-import`).
pub const IMPORT_ACTION: &str = "outcome-import";

/// The page for `leads` (newest first) alone, with numbers computed from them.
pub fn render(leads: &[StoredLead]) -> String {
    let mut funnel = Funnel::default();
    for lead in leads.iter().filter(|l| l.spam.is_none()) {
        funnel.totals.submissions += 1;
        funnel.totals.mqls += u64::from(lead.score().qualified);
        funnel.totals.forwarded += u64::from(lead.forwarded > 0);
        funnel.mismatches += u64::from(lead.score_checked == ScoreCheck::Mismatch);
    }
    render_dashboard(leads, &funnel, "", None)
}

/// The whole page: `funnel`'s numbers, then `leads` (newest first), found by `search`; with
/// `actions`, each lead has its outcome buttons and the page the CSV import.
pub fn render_dashboard(
    leads: &[StoredLead],
    funnel: &Funnel,
    search: &str,
    actions: Option<&Actions>,
) -> String {
    page::dashboard(leads, funnel, search, actions).into_string()
}

/// The insights page (`/insights`) of `data`, the value `GET /v1/insights` answers, with the
/// filter it was made with (`form`, `from`, `to`: empty when not given).
pub fn render_insights(data: &serde_json::Value, form: &str, from: &str, to: &str) -> String {
    insights::page(data, form, from, to).into_string()
}

/// A rate of the insights JSON as the insights page writes it: `42.0% (21 of 50; 95% …)`.
pub fn rate_text(rate: &serde_json::Value) -> String {
    insights::rate_text(rate)
}

/// An amount of the insights JSON as the insights page writes it: `1234.50`.
pub fn amount_text(amount: &serde_json::Value) -> String {
    insights::amount_text(amount)
}

/// The AUC of the insights JSON (`auc`) as the insights page writes it.
pub fn auc_text(auc: &serde_json::Value) -> String {
    insights::auc_text(auc)
}

/// The lead velocity rate of the insights JSON (`lead_velocity.mqls`) as the page writes it.
pub fn velocity_text(mqls: &serde_json::Value) -> String {
    insights::velocity_text(mqls)
}

/// A short page with a `title` and `lines` (e.g. the errors of a CSV import) and a link back
/// to `back` (a path of the relay's own).
pub fn render_message(title: &str, lines: &[String], back: &str) -> String {
    page::message(title, lines, back).into_string()
}

/// `/leads` with the search `q` and page `before` (each left out when empty).
pub fn leads_url(q: &str, before: &str) -> String {
    let mut params = Vec::new();
    if !q.is_empty() {
        params.push(format!("q={}", page::percent_encode(q)));
    }
    if !before.is_empty() {
        params.push(format!("before={}", page::percent_encode(before)));
    }
    if params.is_empty() {
        "/leads".to_string()
    } else {
        format!("/leads?{}", params.join("&"))
    }
}

/// The first line of the leads' CSV export.
pub const CSV_HEADER: &str = "id,received_at,form_id,email,score,grade,stage,qualified,\
    client_score,score_checked,spam,forwarded,utm_source,utm_campaign,reasons,fields\r\n";

/// The leads as CSV (RFC 4180), in the order given: [`CSV_HEADER`], then a line each. The
/// relay streams the same lines a page at a time (`http::export`).
pub fn render_csv(leads: &[StoredLead]) -> String {
    let mut out = String::from(CSV_HEADER);
    for lead in leads {
        push_csv_line(&mut out, lead);
    }
    out
}

/// Appends one lead's CSV line (with its `\r\n`) to `out`. The e-mail is the one the relay
/// found when it stored the lead (the lead's e-mail has one rule, in `http::intake`).
pub fn push_csv_line(out: &mut String, lead: &StoredLead) {
    let p = &lead.payload;
    let score = lead.score();
    let reasons: Vec<String> =
        score.hits.iter().map(|h| format!("{} ({:+}): {}", h.rule, h.points, h.reason)).collect();
    let fields = serde_json::to_string(&p.fields).unwrap_or_default();
    let utm = |k: &str| p.context.utm.get(k).cloned().unwrap_or_default();
    let cells = [
        lead.id.clone(),
        lead.received_at.clone(),
        lead.form_id.clone(),
        lead.email.clone(),
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
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_cell(cell));
    }
    out.push_str("\r\n");
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A lead whose every visitor-supplied text is `evil`.
    fn hostile_lead(evil: &str) -> StoredLead {
        let hit =
            serde_json::json!({"rule": evil, "group": "", "points": -5, "reason": evil, "raw": -5});
        let score = serde_json::json!({
            "total": -5, "groups": {}, "grade": evil, "qualified": false, "stage": "lead",
            "hits": [hit]
        });
        let payload = serde_json::json!({
            "schema_version": 1, "id": "lead-1", "form_id": evil,
            "submitted_at": "2026-11-26T23:24:56.123Z",
            "fields": {evil: evil, "email": "eve@example.com"},
            "score": score,
            "context": {"page_url": evil, "referrer": evil, "utm": {"utm_source": evil}},
        });
        StoredLead {
            id: "lead-1".into(),
            form_id: evil.into(),
            received_at: evil.into(),
            attempts: 2,
            score_checked: ScoreCheck::Mismatch,
            idempotency_key: None,
            email: "eve@example.com".into(),
            payload: serde_json::from_value(payload).unwrap(),
            relay_score: Some(serde_json::from_value(score).unwrap()),
            spam: Some(evil.into()),
            forwarded: 0,
            sales_status: Some(evil.into()),
        }
    }

    #[test]
    fn visitor_text_is_escaped_everywhere_on_the_page() {
        let evil = r#"<script>alert('x')</script>" onmouseover="y" & Co"#;
        let escaped =
            "&lt;script&gt;alert('x')&lt;/script&gt;&quot; onmouseover=&quot;y&quot; &amp; Co";
        let mut funnel = Funnel::default();
        funnel.by_day.push((evil.into(), Default::default()));
        funnel.by_source.push((evil.into(), evil.into(), Default::default()));
        funnel.top_rules.push(crate::store::RuleCount {
            rule: evil.into(),
            reason: evil.into(),
            leads: 1,
            points: -5,
        });
        let actions = Actions {
            outcome_csrf: evil.into(),
            import_csrf: evil.into(),
            reasons: vec![evil.into()],
            q: evil.into(),
            before: evil.into(),
            older: Some(evil.into()),
        };
        let html = render_dashboard(&[hostile_lead(evil)], &funnel, evil, Some(&actions));
        for banned in ["<script", "style=", "<style", "\" onmouseover"] {
            assert!(!html.contains(banned), "{banned}: {html}");
        }
        // The form id, a field name and value, the grade, the rule and reason (twice: the
        // relay's and the browser's), spam, received_at (twice), the UTM source, the referrer,
        // the page, the search, and the day, source, campaign, rule and reason of the funnel.
        assert!(html.matches(escaped).count() >= 18, "{html}");
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
    fn empty_page_has_no_script_and_no_inline_style() {
        let html = render(&[]);
        assert!(html.contains("No leads yet."));
        assert!(html.contains("href=\"/leads.css\""));
        for banned in ["<script", "style=", "<style"] {
            assert!(!html.contains(banned), "{banned}");
        }
    }
}
