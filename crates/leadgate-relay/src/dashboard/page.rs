//! The dashboard page as maud templates. maud escapes every `(value)` it is given (`& < > "`;
//! attributes are always double-quoted), and nothing here opts out (`PreEscaped` is not used),
//! so a visitor's text can't become markup. No script and no `style` attribute: classes only,
//! styled by `/leads.css`; bars are `<meter>` elements.

use leadgate_core::{FieldValue, RuleHit};
use maud::{html, Markup, DOCTYPE};

use super::{leads_url, Actions, CSRF_FIELD};
use crate::store::{Funnel, FunnelRow, ScoreCheck, StoredLead};

/// The whole page: `funnel`'s numbers, then `leads` (newest first), found by `search`.
pub fn dashboard(
    leads: &[StoredLead],
    funnel: &Funnel,
    search: &str,
    actions: Option<&Actions>,
) -> Markup {
    document(
        "Leads",
        html! {
            header {
                h1 { "Leads" }
                nav { a href="/insights" { "Insights: funnel, conversion, speed, rules, reasons" } }
                (kpis(funnel))
            }
            main {
                (funnel_tables(funnel))
                (search_form(search))
                @if leads.is_empty() {
                    p class="empty" { "No leads yet." }
                } @else {
                    table class="leads" {
                        thead {
                            tr {
                                (col_heads(&["Received", "Form", "Lead", "Score", "Why", "Source", "Sales"]))
                            }
                        }
                        tbody {
                            @for lead in leads {
                                (lead_row(lead, actions))
                            }
                        }
                    }
                    @if let Some(older) = actions.and_then(|a| a.older.as_deref()) {
                        p class="older" {
                            a href=(leads_url(search, older)) { "Older leads →" }
                        }
                    }
                }
                @if let Some(actions) = actions {
                    (import_form(actions))
                }
            }
        },
    )
}

/// The headline numbers.
fn kpis(funnel: &Funnel) -> Markup {
    let t = funnel.totals;
    let rate = (t.mqls * 100 + t.submissions / 2).checked_div(t.submissions).unwrap_or(0);
    let numbers = [
        ("Widget views", t.views.to_string()),
        ("Form starts", t.starts.to_string()),
        ("Leads", t.submissions.to_string()),
        ("Qualified (MQL)", t.mqls.to_string()),
        ("MQL rate", format!("{rate}%")),
        ("Forwarded", t.forwarded.to_string()),
        ("Score mismatches", funnel.mismatches.to_string()),
        ("Spam", funnel.spam.to_string()),
        ("Dead letters", funnel.dead_letters.to_string()),
    ];
    html! {
        dl class="kpis" {
            @for (label, value) in numbers {
                div { dt { (label) } dd { (value) } }
            }
        }
    }
}

/// The column heads of a funnel row.
fn funnel_head() -> Markup {
    col_heads(&["Views", "Starts", "Leads", "MQL", "Forwarded"])
}

/// A page of the dashboard: its `title` (the tab reads "<title> · leadgate"), the stylesheet,
/// and `body`.
pub(super) fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · leadgate" }
                link rel="stylesheet" href="/leads.css";
            }
            body { (body) }
        }
    }
}

/// A table's column headings (the `th`s of its head row), in order.
pub(super) fn col_heads(names: &[&str]) -> Markup {
    html! {
        @for name in names {
            th scope="col" { (name) }
        }
    }
}

/// The numbers of a funnel row.
fn funnel_cells(row: &FunnelRow) -> Markup {
    html! {
        @for n in [row.views, row.starts, row.submissions, row.mqls, row.forwarded] {
            td class="num" { (n) }
        }
    }
}

/// By day, by source/campaign, the histogram and the top rules (nothing before the first
/// event or lead).
fn funnel_tables(funnel: &Funnel) -> Markup {
    let none = |text: &str| if text.is_empty() { "(none)".to_string() } else { text.to_string() };
    let max = funnel.histogram.iter().map(|(_, n)| *n).max().unwrap_or(1);
    html! {
        @if !funnel.by_day.is_empty() {
            section class="funnel" {
                h2 { "By day" }
                table class="by-day" {
                    thead { tr { (col_heads(&["Day"])) (funnel_head()) } }
                    tbody {
                        @for (day, row) in funnel.by_day.iter().take(31) {
                            tr { th scope="row" { (day) } (funnel_cells(row)) }
                        }
                    }
                }
                h2 { "By source and campaign" }
                table class="by-source" {
                    thead {
                        tr {
                            (col_heads(&["Source", "Campaign"]))
                            (funnel_head())
                        }
                    }
                    tbody {
                        @for (source, campaign, row) in funnel.by_source.iter().take(50) {
                            tr {
                                th scope="row" { (none(source)) }
                                td { (none(campaign)) }
                                (funnel_cells(row))
                            }
                        }
                    }
                }
                @if !funnel.histogram.is_empty() {
                    h2 { "Score distribution" }
                    table class="histogram" {
                        thead {
                            tr {
                                (col_heads(&["Score", "Leads", "Share"]))
                            }
                        }
                        tbody {
                            @for (low, n) in &funnel.histogram {
                                tr {
                                    th scope="row" { (low) " to " (low + 9) }
                                    td class="num" { (n) }
                                    td { meter min="0" max=(max) value=(n) { (n) } }
                                }
                            }
                        }
                    }
                }
                @if !funnel.top_rules.is_empty() {
                    h2 { "Top rules" }
                    table class="top-rules" {
                        thead {
                            tr {
                                (col_heads(&["Rule", "Reason", "Leads", "Points"]))
                            }
                        }
                        tbody {
                            @for rule in &funnel.top_rules {
                                tr {
                                    th scope="row" { code class="rule" { (rule.rule) } }
                                    td { (rule.reason) }
                                    td class="num" { (rule.leads) }
                                    td class="num" { (rule.points) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The search form (a plain GET: no script) and the CSV link, keeping the search.
fn search_form(search: &str) -> Markup {
    let csv = if search.is_empty() {
        "/leads.csv".to_string()
    } else {
        format!("/leads.csv?q={}", percent_encode(search))
    };
    html! {
        form class="search" method="get" action="/leads" role="search" {
            label for="q" { "E-mail or domain" }
            " "
            input id="q" name="q" type="search" value=(search);
            " "
            button type="submit" { "Search" }
            " "
            a href=(csv) download { "Export CSV" }
        }
    }
}

/// `text` for a URL's query: unreserved characters (and `@`) as they are, the rest as `%XX`.
pub(super) fn percent_encode(text: &str) -> String {
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

/// One lead: when, which form, the answers, the score and whether the relay agreed, why, and
/// where the visitor came from.
fn lead_row(lead: &StoredLead, actions: Option<&Actions>) -> Markup {
    let p = &lead.payload;
    let score = lead.score();
    let class = match (&lead.spam, score.qualified) {
        (Some(_), _) => Some("spam"),
        (None, true) => Some("mql"),
        (None, false) => None,
    };
    let referrer = p.context.referrer.as_deref().filter(|r| !r.is_empty());
    html! {
        tr class=[class] data-lead=(lead.id) {
            td class="when" {
                time datetime=(lead.received_at) { (readable_time(&lead.received_at)) }
                @if lead.attempts > 1 {
                    div class="muted" { "delivered " (lead.attempts) "×, stored once" }
                }
                @if let Some(reason) = &lead.spam {
                    div class="spam-flag" { "spam (" (reason) "): stored, not forwarded" }
                } @else if lead.forwarded > 0 {
                    div class="forwarded" { "forwarded" }
                }
            }
            td class="form" { (lead.form_id) }
            td {
                dl class="fields" {
                    @for (name, value) in &p.fields {
                        dt { (name) }
                        dd {
                            @match value {
                                FieldValue::Checked(true) => { "yes" }
                                FieldValue::Checked(false) => { "no" }
                                FieldValue::Text(text) => { (text) }
                            }
                        }
                    }
                }
            }
            // The relay's score when it has one, grade, stage, and whether the browser agreed.
            td class="score" {
                span class="total" { (score.total) }
                @if !score.grade.is_empty() {
                    " " span class="grade" { (score.grade) }
                }
                @if score.qualified {
                    " " span class="stage stage-mql" { "MQL · qualified" }
                } @else {
                    " " span class="stage" { "Lead · not qualified" }
                }
                @match lead.score_checked {
                    ScoreCheck::Match => {
                        div class="check check-match" { "relay's score agrees" }
                    }
                    ScoreCheck::Mismatch => {
                        div class="check check-mismatch" {
                            "relay scored it differently: the payload was changed or the page's \
                             config is not the relay's"
                        }
                    }
                    ScoreCheck::Unchecked => {
                        div class="check muted" { "score not re-checked" }
                    }
                }
            }
            // Every rule hit, and when they differ, what the browser claimed.
            td class="why" {
                (hits(&score.hits))
                @if lead.score_checked == ScoreCheck::Mismatch {
                    div class="muted" { "the browser claimed " (p.score.total) ":" }
                    (hits(&p.score.hits))
                }
            }
            td class="source" {
                @for (key, value) in &p.context.utm {
                    div { span class="muted" { (key.strip_prefix("utm_").unwrap_or(key)) } " " (value) }
                }
                @if let Some(referrer) = referrer {
                    div { span class="muted" { "from" } " " (referrer) }
                }
                @if !p.context.page_url.is_empty() {
                    div { span class="muted" { "on" } " " (p.context.page_url) }
                }
            }
            td class="sales" {
                @if let Some(status) = &lead.sales_status {
                    span class={ "status status-" (status) } { (status) }
                } @else {
                    span class="muted" { "no outcome yet" }
                }
                @if let Some(actions) = actions {
                    (outcome_forms(&lead.id, actions))
                }
            }
        }
    }
}

/// The hidden fields every dashboard form carries: its CSRF token and the list to return to.
fn hidden(csrf: &str, actions: &Actions) -> Markup {
    html! {
        input type="hidden" name=(CSRF_FIELD) value=(csrf);
        @if !actions.q.is_empty() {
            input type="hidden" name="q" value=(actions.q);
        }
        @if !actions.before.is_empty() {
            input type="hidden" name="before" value=(actions.before);
        }
    }
}

/// A lead's outcome buttons, in funnel order: contacted, accept, meeting, reject (a reason
/// from the relay's list and a note), won (an amount), lost (a reason from the same list).
/// Plain same-origin POST forms; the answer is a redirect back to the list.
fn outcome_forms(id: &str, actions: &Actions) -> Markup {
    let action = format!("/leads/{}/outcome", percent_encode(id));
    let reason_id = format!("reason-{id}");
    let note_id = format!("note-{id}");
    let amount_id = format!("amount-{id}");
    let lost_id = format!("lost-reason-{id}");
    html! {
        div class="actions" {
            (status_button(&action, actions, "contacted", "Contacted"))
            (status_button(&action, actions, "accepted", "Accept"))
            (status_button(&action, actions, "meeting", "Meeting"))
            form method="post" action=(action) class="outcome" {
                (hidden(&actions.outcome_csrf, actions))
                input type="hidden" name="status" value="rejected";
                label for=(reason_id) { "Reason" }
                (reason_select(&reason_id, &actions.reasons))
                label for=(note_id) { "Note" }
                input id=(note_id) name="note" type="text" maxlength="1000";
                button type="submit" class="reject" { "Reject" }
            }
            form method="post" action=(action) class="outcome" {
                (hidden(&actions.outcome_csrf, actions))
                input type="hidden" name="status" value="won";
                label for=(amount_id) { "Amount" }
                input id=(amount_id) name="amount" type="number" min="0" step="0.01"
                    inputmode="decimal";
                button type="submit" class="won" { "Won" }
            }
            form method="post" action=(action) class="outcome" {
                (hidden(&actions.outcome_csrf, actions))
                input type="hidden" name="status" value="lost";
                label for=(lost_id) { "Why lost" }
                (reason_select(&lost_id, &actions.reasons))
                button type="submit" class="lost" { "Lost" }
            }
        }
    }
}

/// A form with one button that records `status` (no reason, no amount).
fn status_button(action: &str, actions: &Actions, status: &str, text: &str) -> Markup {
    html! {
        form method="post" action=(action) class="outcome" {
            (hidden(&actions.outcome_csrf, actions))
            input type="hidden" name="status" value=(status);
            button type="submit" class=(status) { (text) }
        }
    }
}

/// The reasons of the relay's list, one to choose (rejected and lost).
fn reason_select(id: &str, reasons: &[String]) -> Markup {
    html! {
        select id=(id) name="reason" required {
            @for reason in reasons {
                option value=(reason) { (reason) }
            }
        }
    }
}

/// The CSV import of outcomes: one line per outcome, checked as a whole before any is kept.
fn import_form(actions: &Actions) -> Markup {
    html! {
        section class="import" {
            h2 { "Import outcomes (CSV)" }
            form method="post" action="/leads/outcomes-import" {
                (hidden(&actions.import_csrf, actions))
                label for="outcomes-csv" {
                    "One outcome a line: " code { "lead id or e-mail,status,reason,amount,at" }
                    " (a header line is optional; every line is checked before any is recorded)"
                }
                textarea id="outcomes-csv" name="csv" rows="6" cols="80" required
                    placeholder="someone@company.example,rejected,no-budget,," {}
                button type="submit" { "Import" }
            }
        }
    }
}

/// A short page: a title, lines (errors), and a link back.
pub fn message(title: &str, lines: &[String], back: &str) -> Markup {
    document(
        title,
        html! {
            main {
                h1 { (title) }
                @if !lines.is_empty() {
                    ul class="errors" {
                        @for line in lines { li { (line) } }
                    }
                }
                p { a href=(back) { "Back to the leads" } }
            }
        },
    )
}

/// The rule hits, each with its points, reason and rule id.
fn hits(hits: &[RuleHit]) -> Markup {
    html! {
        @if hits.is_empty() {
            span class="muted" { "no rule matched" }
        } @else {
            ul class="hits" {
                @for hit in hits {
                    li {
                        @if hit.points < 0 {
                            span class="points neg" { (hit.points) }
                        } @else {
                            span class="points" { "+" (hit.points) }
                        }
                        " "
                        span class="reason" { (hit.reason) }
                        " "
                        code class="rule" { (hit.rule) }
                    }
                }
            }
        }
    }
}

/// `2026-11-26T23:24:56.123Z` as `2026-11-26 23:24:56 UTC`; anything else as it is.
fn readable_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..19)) {
        (Some(date), Some(time)) if rfc3339.ends_with('Z') => format!("{date} {time} UTC"),
        _ => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn search_text_is_escaped_in_the_field_and_encoded_in_the_link() {
        let html = search_form(r#"a"b<c>&d é"#).into_string();
        assert!(html.contains(r#"value="a&quot;b&lt;c&gt;&amp;d é""#), "{html}");
        assert!(html.contains(r#"href="/leads.csv?q=a%22b%3Cc%3E%26d%20%C3%A9""#), "{html}");
    }
}
