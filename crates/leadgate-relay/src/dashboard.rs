//! The sales team's page: every lead, newest first, with its answers, its score and *why*
//! (every rule hit with its points and reason), plus the funnel's numbers.
//!
//! Every value that came from a visitor is HTML-escaped. The page has no script and no inline
//! style: its CSS is `/leads.css`, and it is served under a CSP that allows nothing else.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use leadgate_core::{FieldValue, LeadPayload};

use crate::routes::unavailable;
use crate::store::{ScoreCheck, StoredLead};
use crate::RelayState;

/// The page's CSP: its own stylesheet, nothing else (no script at all).
pub const DASHBOARD_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's stylesheet, served at `/leads.css`.
pub const STYLESHEET: &str = include_str!("leads.css");

/// `GET /leads`.
pub(crate) async fn page(State(state): State<RelayState>) -> Response {
    match state.store.list().await {
        Ok(leads) => (
            [
                (CONTENT_TYPE, "text/html; charset=utf-8"),
                (CONTENT_SECURITY_POLICY, DASHBOARD_CSP),
                // Leads are personal data: no copies in caches.
                (CACHE_CONTROL, "no-store"),
            ],
            render(&leads),
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

/// The whole page for `leads` (newest first).
pub fn render(leads: &[StoredLead]) -> String {
    let mut html = String::with_capacity(4096 + leads.len() * 1024);
    html.push_str(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Leads · leadgate</title>\n<link rel=\"stylesheet\" href=\"/leads.css\">\n\
         </head>\n<body>\n<header>\n<h1>Leads</h1>\n",
    );
    push_kpis(&mut html, leads);
    html.push_str("</header>\n<main>\n");
    if leads.is_empty() {
        html.push_str("<p class=\"empty\">No leads yet.</p>\n");
    } else {
        html.push_str(
            "<table>\n<thead><tr><th scope=\"col\">Received</th><th scope=\"col\">Form</th>\
             <th scope=\"col\">Lead</th><th scope=\"col\">Score</th>\
             <th scope=\"col\">Why</th><th scope=\"col\">Source</th></tr></thead>\n<tbody>\n",
        );
        for lead in leads {
            push_row(&mut html, lead);
        }
        html.push_str("</tbody>\n</table>\n");
    }
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

/// The funnel's numbers: leads, MQLs, MQL rate, score mismatches.
fn push_kpis(html: &mut String, leads: &[StoredLead]) {
    let total = leads.len();
    let mqls = leads.iter().filter(|l| l.payload.score.qualified).count();
    let mismatches = leads.iter().filter(|l| l.score_checked == ScoreCheck::Mismatch).count();
    let rate = (mqls * 100 + total / 2).checked_div(total).unwrap_or(0);
    html.push_str("<dl class=\"kpis\">\n");
    for (label, value) in [
        ("Leads", total.to_string()),
        ("Qualified (MQL)", mqls.to_string()),
        ("MQL rate", format!("{rate}%")),
        ("Score mismatches", mismatches.to_string()),
    ] {
        html.push_str("<div><dt>");
        html.push_str(label);
        html.push_str("</dt><dd>");
        html.push_str(&value);
        html.push_str("</dd></div>\n");
    }
    html.push_str("</dl>\n");
}

fn push_row(html: &mut String, lead: &StoredLead) {
    let p: &LeadPayload = &lead.payload;
    html.push_str(if p.score.qualified { "<tr class=\"mql\">" } else { "<tr>" });

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

    // Score, grade, stage, and whether the relay agrees.
    html.push_str("<td class=\"score\"><span class=\"total\">");
    html.push_str(&p.score.total.to_string());
    html.push_str("</span>");
    if !p.score.grade.is_empty() {
        html.push_str(" <span class=\"grade\">");
        push_escaped(html, &p.score.grade);
        html.push_str("</span>");
    }
    if p.score.qualified {
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

    // Why: every rule hit.
    html.push_str("<td class=\"why\">");
    if p.score.hits.is_empty() {
        html.push_str("<span class=\"muted\">no rule matched</span>");
    } else {
        html.push_str("<ul class=\"hits\">");
        for hit in &p.score.hits {
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
