//! The dashboard's routes: the page, its CSV export and its stylesheet, and the forms it
//! posts (a lead's outcome buttons, the CSV import of outcomes). What they show is
//! [`crate::dashboard`]'s (which knows nothing of HTTP); the headers and checks are here.
//!
//! The forms are posted by a browser that resends basic auth by itself, so each carries a
//! CSRF token bound to the request's credential ([`super::CsrfKey`]), and a request from
//! another site (`Origin`, `Sec-Fetch-Site`) is refused before the token is even read.

use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::api::ListParams;
use super::auth::{credential, Reader};
use super::error::{unavailable, AppError, Refused};
use super::export::{self, Format};
use super::Params;
use crate::clock::now;
use crate::dashboard::{
    leads_url, render_dashboard, render_message, Actions, DASHBOARD_CSP, IMPORT_ACTION,
    OUTCOME_ACTION, PAGE_LEADS, STYLESHEET,
};
use crate::guard::check_same_site;
use crate::sales::{read_outcome, NewOutcome, OutcomeSource};
use crate::store::{LeadQuery, StoreError};
use crate::RelayState;

/// `GET /leads?q=`.
pub(super) async fn page(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<ListParams>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let limit = params.limit.unwrap_or(PAGE_LEADS).clamp(1, PAGE_LEADS);
    let query =
        LeadQuery { search: params.q.clone(), limit: Some(limit), before: params.before.clone() };
    let (leads, funnel) = (state.store.list(query).await?, state.store.funnel().await?);
    let (who, at) = (credential(&headers), now());
    let full = leads.len() >= limit as usize;
    let actions = Actions {
        outcome_csrf: state.csrf().token(OUTCOME_ACTION, who, at),
        import_csrf: state.csrf().token(IMPORT_ACTION, who, at),
        reasons: state.outcome_rules.reasons.clone(),
        q: params.q.clone().unwrap_or_default(),
        before: params.before.clone().unwrap_or_default(),
        older: leads.last().filter(|_| full).map(|l| l.id.clone()),
    };
    let search = params.q.as_deref().unwrap_or_default();
    Ok(html_page(StatusCode::OK, render_dashboard(&leads, &funnel, search, Some(&actions))))
}

/// An HTML answer under the dashboard's CSP, never cached (leads are personal data).
pub(super) fn html_page(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, DASHBOARD_CSP),
            (CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// A form of the dashboard as posted: its CSRF token, the list to return to, and its fields.
#[derive(Debug, Default, Deserialize)]
pub(super) struct OutcomeForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    amount: Option<String>,
    /// The CSV import's text.
    #[serde(default)]
    csv: Option<String>,
}

impl OutcomeForm {
    /// Where the answer sends the browser: the list the form was on.
    fn back(&self) -> String {
        leads_url(self.q.as_deref().unwrap_or_default(), self.before.as_deref().unwrap_or_default())
    }
}

/// Refuses a form posted from another site, or without a valid CSRF token for `action`
/// bound to this request's credential: the 403 to answer (`None`: the form may go on).
fn check_form(
    state: &RelayState,
    headers: &HeaderMap,
    token: Option<&str>,
    action: &str,
) -> Option<Response> {
    if let Err(refusal) = check_same_site(headers) {
        return Some(Refused::from(refusal).from_client(None).into_response());
    }
    let checked = state.csrf().check(token, action, credential(headers), now());
    checked.err().map(|e| (StatusCode::FORBIDDEN, e.to_string()).into_response())
}

/// An error page (the form's problem, in words) with a link back to the list.
fn form_error(status: StatusCode, title: &str, lines: Vec<String>, back: &str) -> Response {
    html_page(status, render_message(title, &lines, back))
}

/// The outcome of a store failure: an unknown lead is the sender's mistake (404 page).
fn store_error(e: &StoreError, back: &str) -> Response {
    match e {
        StoreError::UnknownLead { .. } => {
            form_error(StatusCode::NOT_FOUND, "Unknown lead", vec![e.to_string()], back)
        }
        _ => unavailable(e),
    }
}

/// `POST /leads/{id}/outcome` (a form: `status`, `reason`, `note`, `amount`): one outcome
/// from the dashboard (`source` `dashboard`, `by` `dashboard`), then `303` back to the list.
pub(super) async fn post_outcome(
    _: Reader,
    State(state): State<RelayState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<OutcomeForm>,
) -> Response {
    if let Some(refused) = check_form(&state, &headers, form.csrf.as_deref(), OUTCOME_ACTION) {
        return refused;
    }
    let back = form.back();
    let mut object = Map::new();
    let fields = [
        ("status", &form.status),
        ("reason", &form.reason),
        ("note", &form.note),
        ("amount", &form.amount),
    ];
    for (name, value) in fields {
        if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            object.insert(name.into(), Value::String(value.into()));
        }
    }
    object.insert("by".into(), Value::String("dashboard".into()));
    let at = now();
    let id = id.to_ascii_lowercase();
    let rules = &state.outcome_rules;
    let outcome = match read_outcome(
        &Value::Object(object),
        Some(&id),
        rules,
        OutcomeSource::Dashboard,
        at,
    ) {
        Ok(outcome) => outcome,
        Err(e) => {
            let title = "The outcome was not recorded";
            return form_error(StatusCode::BAD_REQUEST, title, vec![e.to_string()], &back);
        }
    };
    match state.store.record_outcomes(vec![outcome], at).await {
        Ok(_) => see_other(&back),
        Err(e) => store_error(&e, &back),
    }
}

/// `303 See Other` to `location` (a path of the relay's own).
fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_string()), (CACHE_CONTROL, "no-store".into())])
        .into_response()
}

/// `GET /leads.csv?q=`: every matching lead, newest first, streamed a page at a time
/// ([`super::export`]).
pub(super) async fn csv(
    _: Reader,
    State(state): State<RelayState>,
    Params(params): Params<ListParams>,
) -> Result<Response, AppError> {
    let query = LeadQuery { search: params.q, limit: params.limit, before: params.before };
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (CONTENT_DISPOSITION, "attachment; filename=\"leads.csv\""),
            (CACHE_CONTROL, "no-store"),
        ],
        export::body(state.store.clone(), query, Format::Csv).await?,
    )
        .into_response())
}

/// `GET /leads.css`.
pub(super) async fn stylesheet() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "no-cache")], STYLESHEET)
        .into_response()
}

/// The most lines one CSV import takes.
pub const MAX_IMPORT_LINES: usize = 1000;

/// `POST /leads/outcomes-import` (a form: `csv`): lines `lead id or e-mail,status,reason,
/// amount,at` (a header line optional). Every line is checked first: any error answers a 400
/// page listing each bad line by number, and nothing is recorded; else all are recorded
/// (`source` `import`) and the answer is `303` back to the list.
pub(super) async fn import_outcomes(
    _: Reader,
    State(state): State<RelayState>,
    headers: HeaderMap,
    Form(form): Form<OutcomeForm>,
) -> Response {
    if let Some(refused) = check_form(&state, &headers, form.csrf.as_deref(), IMPORT_ACTION) {
        return refused;
    }
    let back = form.back();
    let at = now();
    let text = form.csv.as_deref().unwrap_or_default();
    let (outcomes, errors) = read_import(text, &state.outcome_rules, at);
    let title = "The import was not recorded: nothing was stored";
    if !errors.is_empty() {
        return form_error(StatusCode::BAD_REQUEST, title, errors, &back);
    }
    if outcomes.is_empty() {
        return form_error(StatusCode::BAD_REQUEST, title, vec!["no outcome lines".into()], &back);
    }
    if outcomes.len() > MAX_IMPORT_LINES {
        let line = format!("at most {MAX_IMPORT_LINES} lines at a time, got {}", outcomes.len());
        return form_error(StatusCode::BAD_REQUEST, title, vec![line], &back);
    }
    let lines: Vec<usize> = outcomes.iter().map(|(line, _)| *line).collect();
    let outcomes = outcomes.into_iter().map(|(_, o)| o).collect();
    match state.store.record_outcomes(outcomes, at).await {
        Ok(_) => see_other(&back),
        Err(StoreError::UnknownLead { index, what }) if index < lines.len() => {
            let line = format!("line {}: there is no lead {what}", lines[index]);
            form_error(StatusCode::BAD_REQUEST, title, vec![line], &back)
        }
        Err(e) => store_error(&e, &back),
    }
}

/// The import's lines read as outcomes (each with its line number, from 1), and the errors,
/// each naming its line.
pub(crate) fn read_import(
    text: &str,
    rules: &crate::sales::OutcomeRules,
    now: leadgate_core::Timestamp,
) -> (Vec<(usize, NewOutcome)>, Vec<String>) {
    let (mut outcomes, mut errors) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let cells = csv_cells(line);
        let first = cells.first().map(|c| c.trim().to_ascii_lowercase()).unwrap_or_default();
        if outcomes.is_empty() && errors.is_empty() && first.starts_with("lead") {
            continue; // the header line
        }
        if cells.len() > 5 {
            errors.push(format!(
                "line {number}: {} cells, expected at most 5 (lead id or e-mail,status,reason,amount,at)",
                cells.len()
            ));
            continue;
        }
        let mut object = Map::new();
        let lead = cells.first().map(|c| c.trim()).unwrap_or_default();
        if lead.contains('@') {
            object.insert("email".into(), Value::String(lead.into()));
        } else if !lead.is_empty() {
            object.insert("lead_id".into(), Value::String(lead.into()));
        }
        for (name, cell) in
            ["status", "reason", "amount", "at"].into_iter().zip(cells.iter().skip(1))
        {
            let cell = cell.trim();
            if !cell.is_empty() {
                object.insert(name.into(), Value::String(cell.into()));
            }
        }
        object.insert("by".into(), Value::String("import".into()));
        match read_outcome(&Value::Object(object), None, rules, OutcomeSource::Import, now) {
            Ok(outcome) => outcomes.push((number, outcome)),
            Err(e) => errors.push(format!("line {number}: {e}")),
        }
    }
    (outcomes, errors)
}

/// One CSV line's cells (RFC 4180 quoting: `"a,b"`, `""` for a quote).
fn csv_cells(line: &str) -> Vec<String> {
    let (mut cells, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cell.trim().is_empty() => {
                cell.clear();
                quoted = true;
            }
            (',', false) => cells.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_split_into_cells() {
        assert_eq!(csv_cells("a,b,,d"), ["a", "b", "", "d"]);
        assert_eq!(csv_cells(r#""x,y","say ""hi""",z"#), ["x,y", "say \"hi\"", "z"]);
        assert_eq!(csv_cells("one\r"), ["one"]);
    }

    #[test]
    fn an_import_names_each_bad_line() {
        let rules = crate::sales::OutcomeRules::default();
        let now = leadgate_core::Timestamp(1_795_735_496_123);
        let text = "lead id or e-mail,status,reason,amount,at\n\
                    ada@example.com,accepted,,,\n\
                    \n\
                    0123abcd,rejected,,,\n\
                    bob@example.com,won,,12x,\n\
                    a,b,c,d,e,f\n\
                    cy@example.com,won,,1200.50,2026-11-20T10:00:00Z\n";
        let (outcomes, errors) = read_import(text, &rules, now);
        assert_eq!(outcomes.len(), 2);
        assert_eq!(outcomes[0].0, 2);
        assert_eq!(outcomes[1].1.amount_cents, Some(120_050));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("line 4: reason"), "{errors:?}");
        assert!(errors[1].starts_with("line 5: amount"), "{errors:?}");
        assert!(errors[2].starts_with("line 6:"), "{errors:?}");
    }
}
