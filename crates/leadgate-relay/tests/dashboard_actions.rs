//! The dashboard's forms over real HTTP: a lead's outcome buttons (contacted, accept, meeting,
//! reject with a reason, won with an amount, lost with a reason) and the CSV import, each with its CSRF token; a form without one, with
//! another credential's, or posted from another site is refused and records nothing.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::*;
use serde_json::Value;

const TOKEN: &str = "s3cret-token";

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

/// The value of the first hidden CSRF field after `marker` in `html`.
fn csrf_after(html: &str, marker: &str) -> String {
    let from = html.find(marker).unwrap_or_else(|| panic!("no {marker} in {html}"));
    let rest = &html[from..];
    let field = r#"name="csrf" value=""#;
    let start = rest.find(field).unwrap() + field.len();
    rest[start..].split('"').next().unwrap().to_string()
}

fn enc(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn history(relay: &Relay, id: &str) -> Vec<Value> {
    let reply = relay.get_auth(&format!("/v1/leads/{id}/outcomes"), &format!("Bearer {TOKEN}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json: Value = serde_json::from_str(&reply.body).unwrap();
    json["outcomes"].as_array().unwrap().clone()
}

fn start() -> (tempfile::TempDir, Relay) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.dashboard_token = Some(TOKEN.into());
    let relay = Relay::start(opts);
    (dir, relay)
}

/// POSTs without following redirects.
fn post_raw(relay: &Relay, path: &str, auth: &str, extra: &[(&str, &str)], body: &str) -> Reply {
    let mut headers =
        vec![("Authorization", auth), ("Content-Type", "application/x-www-form-urlencoded")];
    headers.extend_from_slice(extra);
    relay.raw("POST", path, &headers, body)
}

#[test]
fn outcome_buttons_record_every_sales_step_from_the_dashboard() {
    let (_dir, relay) = start();
    let lead = good_payload(1);
    assert_eq!(relay.post_lead(&lead).status, 201);
    let auth = basic("sales", TOKEN);
    let page = relay.get_auth("/leads?q=example.com", &auth);
    assert_eq!(page.status, 200);
    let action = format!("action=\"/leads/{}/outcome\"", lead.id);
    assert_eq!(page.body.matches(&action).count(), 6, "{}", page.body);
    for status in ["contacted", "accepted", "meeting", "rejected", "won", "lost"] {
        let field = format!("name=\"status\" value=\"{status}\"");
        assert!(page.body.contains(&field), "a {status} button: {}", page.body);
    }
    for label in [format!("for=\"reason-{}\"", lead.id), format!("for=\"lost-reason-{}\"", lead.id)]
    {
        assert!(page.body.contains(&label), "every select has its label: {label}");
    }
    assert!(page.body.contains("<option value=\"no-budget\">"), "the reasons are offered");
    assert!(page.body.contains("no outcome yet"));
    for banned in ["<script", " style="] {
        assert!(!page.body.contains(banned), "{banned}");
    }
    let token = csrf_after(&page.body, &action);
    let path = format!("/leads/{}/outcome", lead.id);
    let forms = [
        format!("csrf={}&q=example.com&status=accepted", enc(&token)),
        format!(
            "csrf={}&q=example.com&status=rejected&reason=no-budget&note=call%20in%20Q3",
            enc(&token)
        ),
        format!("csrf={}&q=example.com&status=won&amount=1200.50", enc(&token)),
        format!("csrf={}&q=example.com&status=contacted", enc(&token)),
        format!("csrf={}&q=example.com&status=meeting", enc(&token)),
        format!("csrf={}&q=example.com&status=lost&reason=competitor", enc(&token)),
    ];
    for body in &forms {
        let reply = post_raw(&relay, &path, &auth, &[], body);
        assert_eq!(reply.status, 303, "{body}: {}", reply.body);
        assert_eq!(reply.header("location"), Some("/leads?q=example.com"));
    }
    let outcomes = history(&relay, &lead.id);
    let statuses: Vec<&str> = outcomes.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 6, "{outcomes:?}");
    for status in ["accepted", "rejected", "won", "contacted", "meeting", "lost"] {
        assert!(statuses.contains(&status), "{outcomes:?}");
    }
    for o in &outcomes {
        assert_eq!(o["source"], "dashboard", "{o}");
        assert_eq!(o["by"], "dashboard", "{o}");
    }
    let text = serde_json::to_string(&outcomes).unwrap();
    assert!(text.contains("no-budget") && text.contains("call in Q3"), "{text}");
    assert!(text.contains(r#""amount":1200.5"#), "{text}");
    let lost = outcomes.iter().find(|o| o["status"] == "lost").unwrap();
    assert_eq!(lost["reason"], "competitor", "{lost}");
    // The row shows the lead's current status (the latest outcome's).
    let page = relay.get_auth("/leads", &auth);
    assert!(
        ["status-lost", "status-meeting", "status-won"].iter().any(|s| page.body.contains(s)),
        "{}",
        page.body
    );
    assert!(!page.body.contains("no outcome yet"), "{}", page.body);

    // A bad form (a reason not on the list) records nothing and says why.
    let body = format!("csrf={}&status=rejected&reason=bored", enc(&token));
    let reply = post_raw(&relay, &path, &auth, &[], &body);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("reason"), "{}", reply.body);
    assert_eq!(history(&relay, &lead.id).len(), 6);
}

#[test]
fn outcome_forms_without_a_valid_token_or_from_another_site_are_refused() {
    let (_dir, relay) = start();
    let lead = good_payload(2);
    assert_eq!(relay.post_lead(&lead).status, 201);
    let auth = basic("sales", TOKEN);
    let page = relay.get_auth("/leads", &auth);
    let token = csrf_after(&page.body, "/outcome\"");
    // Another credential's page (the Bearer token) has another token.
    let bearer = format!("Bearer {TOKEN}");
    let other = csrf_after(&relay.get_auth("/leads", &bearer).body, "/outcome\"");
    let path = format!("/leads/{}/outcome", lead.id);
    // (form body, extra headers, status, text in the answer)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("status=accepted".into(), vec![], 403, "no CSRF token"),
        ("csrf=&status=accepted".into(), vec![], 403, "no CSRF token"),
        ("csrf=123.AAAA&status=accepted".into(), vec![], 403, "CSRF token"),
        (format!("csrf={}&status=accepted", enc(&other)), vec![], 403, "not valid"),
        (
            format!("csrf={}&status=accepted", enc(&token)),
            vec![("Origin", "https://evil.example")],
            403,
            "",
        ),
        (
            format!("csrf={}&status=accepted", enc(&token)),
            vec![("Sec-Fetch-Site", "cross-site")],
            403,
            "",
        ),
    ];
    for (body, extra, status, text) in cases {
        let reply = post_raw(&relay, &path, &auth, &extra, &body);
        assert_eq!(reply.status, status, "{body} {extra:?}: {}", reply.body);
        assert!(reply.body.contains(text), "{body}: {}", reply.body);
    }
    // Without the relay's token at all: 401.
    let reply = relay.raw(
        "POST",
        &path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("csrf={}&status=accepted", enc(&token)),
    );
    assert_eq!(reply.status, 401);
    assert!(history(&relay, &lead.id).is_empty(), "nothing was recorded");
    // The page's own token works, and also for the same credential from the same origin.
    let origin = relay.base.clone();
    let body = format!("csrf={}&status=accepted", enc(&token));
    let reply = post_raw(&relay, &path, &auth, &[("Origin", &origin)], &body);
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/leads"));
    assert_eq!(history(&relay, &lead.id).len(), 1);
    // The import token is not the outcome token.
    let import = csrf_after(&page.body, "outcomes-import");
    let reply = post_raw(&relay, &path, &auth, &[], &format!("csrf={}&status=won", enc(&import)));
    assert_eq!(reply.status, 403);
    assert_eq!(history(&relay, &lead.id).len(), 1);
}

#[test]
fn the_csv_import_checks_every_line_first_then_records_them_all() {
    let (_dir, relay) = start();
    let a = good_payload(3);
    let b = payload(4, &[("email", "bob@example.org"), ("employees", "10")]);
    assert_eq!(relay.post_lead(&a).status, 201);
    assert_eq!(relay.post_lead(&b).status, 201);
    let auth = basic("sales", TOKEN);
    let page = relay.get_auth("/leads", &auth);
    let token = csrf_after(&page.body, "outcomes-import");

    // Bad lines: each named; nothing recorded.
    let csv = format!(
        "lead id or e-mail,status,reason,amount,at\n{},accepted,,,\nbob@example.org,rejected,,,\n{},won,,lots,\n",
        a.id, a.id
    );
    let body = format!("csrf={}&csv={}", enc(&token), enc(&csv));
    let reply = post_raw(&relay, "/leads/outcomes-import", &auth, &[], &body);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("line 3: reason"), "{}", reply.body);
    assert!(reply.body.contains("line 4: amount"), "{}", reply.body);
    assert!(!reply.body.contains("<script"));
    // An unknown lead: named by its line, nothing recorded.
    let csv = format!("{},accepted,,,\nnobody@example.net,accepted,,,\n", a.id);
    let body = format!("csrf={}&csv={}", enc(&token), enc(&csv));
    let reply = post_raw(&relay, "/leads/outcomes-import", &auth, &[], &body);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("line 2"), "{}", reply.body);
    assert!(history(&relay, &a.id).is_empty() && history(&relay, &b.id).is_empty());
    // Without a token, or from another site: 403.
    let csv = format!("{},accepted,,,\n", a.id);
    let body = format!("csv={}", enc(&csv));
    assert_eq!(post_raw(&relay, "/leads/outcomes-import", &auth, &[], &body).status, 403);
    let body = format!("csrf={}&csv={}", enc(&token), enc(&csv));
    let evil = [("Origin", "https://evil.example")];
    assert_eq!(post_raw(&relay, "/leads/outcomes-import", &auth, &evil, &body).status, 403);
    assert!(history(&relay, &a.id).is_empty());

    // Good lines: all recorded, as imports.
    let csv = format!(
        "{},accepted,,,2026-11-20T10:00:00Z\n\"bob@example.org\",rejected,no-budget,,\n{},won,,\"1,5\",\n",
        a.id, a.id
    );
    let body = format!("csrf={}&csv={}", enc(&token), enc(&csv));
    let reply = post_raw(&relay, "/leads/outcomes-import", &auth, &[], &body);
    assert_eq!(reply.status, 400, "a decimal comma is not an amount: {}", reply.body);
    let csv = format!(
        "{},accepted,,,2026-11-20T10:00:00Z\n\"bob@example.org\",rejected,no-budget,,\n{},won,,1500,\n",
        a.id, a.id
    );
    let body = format!("csrf={}&csv={}", enc(&token), enc(&csv));
    let reply = post_raw(&relay, "/leads/outcomes-import", &auth, &[], &body);
    assert_eq!(reply.status, 303, "{}", reply.body);
    let (ha, hb) = (history(&relay, &a.id), history(&relay, &b.id));
    assert_eq!((ha.len(), hb.len()), (2, 1), "{ha:?} {hb:?}");
    for o in ha.iter().chain(&hb) {
        assert_eq!(o["source"], "import", "{o}");
    }
    assert_eq!(hb[0]["reason"], "no-budget");
}

#[test]
fn a_full_page_links_to_the_older_leads() {
    let (_dir, relay) = start();
    for seed in 10..13 {
        assert_eq!(relay.post_lead(&good_payload(seed)).status, 201);
    }
    let auth = basic("sales", TOKEN);
    let page = relay.get_auth("/leads?limit=2", &auth);
    assert_eq!(page.status, 200);
    let link = "href=\"/leads?before=";
    let at = page.body.find(link).unwrap_or_else(|| panic!("no older link: {}", page.body));
    let rest = &page.body[at + "href=\"".len()..];
    let older = rest.split('"').next().unwrap();
    let next = relay.get_auth(older, &auth);
    assert_eq!(next.status, 200);
    assert_eq!(next.body.matches("class=\"sales\"").count(), 1, "{}", next.body);
    assert!(!next.body.contains(link), "the last page has no older link");
    let all = relay.get_auth("/leads", &auth);
    assert!(!all.body.contains(link));
}

#[test]
fn the_dashboard_lists_a_hundred_leads_a_page() {
    // With six outcome forms a lead, a page of 500 weighed 2.2–2.5 MB: sales gets 100 a page, the
    // older ones behind the link, and `?limit=` cannot ask for more.
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path());
    opts.dashboard_token = Some(TOKEN.into());
    opts.rate_limit = None;
    let relay = Relay::start(opts);
    for seed in 0..101u8 {
        assert_eq!(relay.post_lead(&good_payload(seed)).status, 201);
    }
    let auth = basic("sales", TOKEN);
    for path in ["/leads", "/leads?limit=500"] {
        let page = relay.get_auth(path, &auth);
        assert_eq!(page.status, 200);
        assert_eq!(page.body.matches("class=\"sales\"").count(), 100, "{path}");
        assert!(page.body.contains("href=\"/leads?before="), "{path}: no link to the older leads");
    }
}

#[test]
fn the_insights_page_shows_the_numbers_of_the_insights_json() {
    let (_dir, relay) = start();
    let bearer = format!("Bearer {TOKEN}");
    let mut ids = Vec::new();
    for seed in 20..32u8 {
        let employees = if seed % 2 == 0 { "250" } else { "5" };
        let email = format!("p{seed}@example.com");
        let lead = payload(seed, &[("email", &email), ("employees", employees)]);
        assert_eq!(relay.post_lead(&lead).status, 201);
        ids.push(lead.id);
    }
    let post = |id: &str, body: &str| {
        let reply = send(
            ureq::post(&relay.url(&format!("/v1/leads/{id}/outcome")))
                .set("Authorization", &bearer)
                .set("Content-Type", "application/json"),
            Some(body),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    };
    for (i, id) in ids.iter().enumerate() {
        match i % 3 {
            0 => post(id, r#"{"status": "accepted"}"#),
            1 => post(id, r#"{"status": "rejected", "reason": "no-budget"}"#),
            _ => post(id, r#"{"status": "rejected", "reason": "wrong-fit"}"#),
        }
    }
    post(&ids[0], r#"{"status": "won", "amount": 900}"#);

    let json = relay.get_auth("/v1/insights?form=demo", &bearer);
    assert_eq!(json.status, 200, "{}", json.body);
    let data: Value = serde_json::from_str(&json.body).unwrap();
    let page = relay.get_auth("/insights?form=demo", &basic("sales", TOKEN));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.header("content-security-policy"),
        Some(leadgate_relay::dashboard::DASHBOARD_CSP)
    );
    let html = &page.body;
    for banned in ["<script", " style=", "<style"] {
        assert!(!html.contains(banned), "{banned}");
    }
    assert!(html.contains("<svg"), "{html}");
    let rate = leadgate_relay::dashboard::rate_text;
    // The funnel, step by step: the count and the conversion from the step before.
    let steps = data["funnel"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 7);
    for step in steps {
        let name = step["step"].as_str().unwrap();
        let row = format!(
            r#"<tr data-step="{name}"><th scope="row">{name}</th><td class="num">{}</td>"#,
            step["count"]
        );
        assert!(html.contains(&row), "{row}\n{html}");
        if !step["from_previous"].is_null() {
            assert!(html.contains(&rate(&step["from_previous"])), "{step}");
        }
    }
    assert_eq!(steps[3]["count"], 6, "six of the twelve leads qualified: {steps:?}");
    // Score bands, rules and reasons: every rate, with its n.
    let bands = data["calibration"]["by_score_band"]["rows"].as_array().unwrap();
    assert!(!bands.is_empty());
    for band in bands {
        for which in ["accepted", "won"] {
            assert!(html.contains(&rate(&band[which])), "{band}");
        }
    }
    let rules = data["rules"].as_array().unwrap();
    assert!(!rules.is_empty());
    for rule in rules {
        let name = rule["rule"].as_str().unwrap();
        assert!(html.contains(&format!("data-rule=\"{name}\"")), "{name}");
        for which in ["accepted", "won"] {
            for side in ["with", "without"] {
                assert!(html.contains(&rate(&rule[which][side])), "{rule}");
            }
        }
    }
    for total in data["rejection_reasons"]["totals"].as_array().unwrap() {
        let row = format!(
            r#"<th scope="row">{}</th><td class="num">{}</td>"#,
            total["reason"].as_str().unwrap(),
            total["leads"]
        );
        assert!(html.contains(&row), "{row}");
    }
    // By source and campaign (last touch) and by first touch: leads, rates, pipeline and won
    // amount, each row as the JSON has it.
    let amount = leadgate_relay::dashboard::amount_text;
    for (key, kind) in [("by_source", "last"), ("by_first_touch", "first")] {
        for row in data[key].as_array().unwrap() {
            let start = format!(
                r#"data-touch="{kind}" data-source="{}" data-campaign="{}""#,
                row["utm_source"].as_str().unwrap(),
                row["utm_campaign"].as_str().unwrap()
            );
            let at = html.find(&start).unwrap_or_else(|| panic!("no {start} row: {html}"));
            let tr = &html[at..at + html[at..].find("</tr>").unwrap()];
            let f = &row["funnel"];
            assert!(tr.contains(&format!("data-leads>{}", f["leads"])), "{tr}");
            for r in [&f["mql_rate"], &row["accepted"], &row["won"]] {
                assert!(tr.contains(&rate(r)), "{r} in {tr}");
            }
            let pipeline = format!("data-pipeline>{} (n = {})", amount(&f["pipeline"]), f["leads"]);
            let won = format!("data-won>{} (n = {})", amount(&f["won_amount"]), f["leads"]);
            assert!(tr.contains(&pipeline) && tr.contains(&won), "{pipeline} {won} in {tr}");
        }
    }
    let sources = data["by_source"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert_eq!(sources[0]["funnel"]["won_amount"], 900.0, "{sources:?}");
    assert!(html.contains("data-won>900.00 (n = 12)"), "{html}");
    // The score's AUC with its interval, and the lead velocity rate.
    let auc = &data["auc"];
    assert!(auc["auc"].is_number(), "one won deal and eleven others: {auc}");
    let auc_text = leadgate_relay::dashboard::auc_text(auc);
    assert!(html.contains(&auc_text), "{auc_text}\n{html}");
    let velocity = leadgate_relay::dashboard::velocity_text(&data["lead_velocity"]["mqls"]);
    assert!(html.contains(&velocity), "{velocity}\n{html}");
    // Rates over fewer than 10 leads are marked.
    assert!(html.contains("thin: n = "), "{html}");
    // The leads page links to it; a bad day is a 400.
    assert!(relay.get_auth("/leads", &bearer).body.contains("href=\"/insights\""));
    assert_eq!(relay.get_auth("/insights?from=yesterday", &bearer).status, 400);
    assert_eq!(relay.get("/insights").status, 401);
}

#[test]
fn on_an_open_relay_the_buttons_work_from_its_own_pages_only() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(options(dir.path()));
    let lead = good_payload(40);
    assert_eq!(relay.post_lead(&lead).status, 201);
    let page = relay.get("/leads");
    assert_eq!(page.status, 200);
    let token = csrf_after(&page.body, "/outcome\"");
    let path = format!("/leads/{}/outcome", lead.id);
    let body = format!("csrf={}&status=accepted", enc(&token));
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let evil = [form[0], ("Origin", "https://evil.example")];
    assert_eq!(relay.raw("POST", &path, &evil, &body).status, 403);
    assert_eq!(relay.raw("POST", &path, &form, "status=accepted").status, 403);
    assert!(history(&relay, &lead.id).is_empty());
    let reply = relay.raw("POST", &path, &form, &body);
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(history(&relay, &lead.id).len(), 1);
}
