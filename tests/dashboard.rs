//! The relay's dashboard in a real browser (issue 12): a sales rep opens `/leads` with basic
//! auth and *clicks* the outcome buttons (accept; reject with a reason; won with an amount;
//! lost with a reason; contacted, then meeting), and each row shows its new status; the API
//! then has every outcome with source `dashboard`. A page on another site that posts the same
//! form (with no token, and with a token copied from the dashboard) is refused with a 403 and
//! records nothing. axe-core finds no violation on the lead page nor on `/insights`; both come
//! with the dashboard's CSP, and nothing the browser did broke it.
//!
//! The dashboard is the relay's own HTML (no widget), so this suite needs no widget build.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

#[allow(dead_code)]
mod support;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use leadgate_core::payload::lead_id;
use leadgate_core::{FieldValue, FormConfig, Lead, LeadPayload, Timestamp, VisitorContext};
use leadgate_relay::dashboard::DASHBOARD_CSP;
use serde_json::{json, Value};
use support::demo_config;
use support::site::Site;
use support::webdriver::Browser;

/// The relay's dashboard token: the password of the dashboard's basic auth.
const TOKEN: &str = "sales-team-s3cret";

/// A relay on 127.0.0.1 with its own SQLite file and a dashboard token, re-scoring leads of
/// the demo form.
struct DashboardRelay {
    /// `http://127.0.0.1:PORT`
    url: String,
    _dir: tempfile::TempDir,
}

impl DashboardRelay {
    fn start() -> DashboardRelay {
        let dir = tempfile::Builder::new().prefix("leadgate-dashboard-").tempdir().unwrap();
        let (listener, url) = support::bind_local();
        let options = leadgate_relay::RelayOptions {
            db_path: dir.path().join("leads.db"),
            forms: vec![FormConfig::from_json(&demo_config()).unwrap()],
            dashboard_token: Some(TOKEN.into()),
            ..Default::default()
        };
        support::serve_relay(listener, &url, options);
        DashboardRelay { url, _dir: dir }
    }

    /// The URL of `path` with the dashboard's credentials in it (`http://sales:TOKEN@…`): what
    /// a browser turns into basic auth, and keeps for the rest of the session.
    fn signed_in(&self, path: &str) -> String {
        self.url.replacen("http://", &format!("http://sales:{TOKEN}@"), 1) + path
    }

    /// Posts a lead of the demo form, as the widget would; returns its id.
    fn post_lead(&self, seed: u8, name: &str, role: &str, source: &str) -> String {
        let config = FormConfig::from_json(&demo_config()).unwrap();
        let mut lead = Lead::default();
        let email = format!("{}@company{seed}.example", name.to_lowercase().replace(' ', "."));
        let fields = [("name", name), ("email", &email), ("role", role), ("employees", "1000+")];
        for (field, value) in fields {
            lead.fields.insert(field.into(), FieldValue::Text(value.into()));
        }
        lead.fields.insert("consent".into(), FieldValue::Checked(true));
        let mut context = VisitorContext {
            page_url: "https://www.example.com/landing".into(),
            ..Default::default()
        };
        context.utm.insert("utm_source".into(), source.into());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let mut payload =
            LeadPayload::build(&config, lead_id([seed; 16]), lead, context, Timestamp(now));
        payload.meta = Some(json!({"honeypot": "", "fill_ms": 9000}).into());
        let answer = ureq::post(&format!("{}/v1/leads", self.url))
            .set("Idempotency-Key", &payload.id)
            .send_json(serde_json::to_value(&payload).unwrap())
            .unwrap();
        assert_eq!(answer.status(), 201);
        payload.id
    }

    /// A lead's outcomes, as the API has them (Bearer token).
    fn outcomes(&self, id: &str) -> Vec<Value> {
        let text = ureq::get(&format!("{}/v1/leads/{id}/outcomes", self.url))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        json["outcomes"].as_array().unwrap().clone()
    }

    /// The `Content-Security-Policy` a dashboard page is served with.
    fn csp_of(&self, path: &str) -> Option<String> {
        let answer = ureq::get(&format!("{}{path}", self.url))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        answer.header("content-security-policy").map(String::from)
    }
}

/// Installs (once per page) a listener that keeps every CSP violation the page reports.
const WATCH_CSP: &str = "if (!window.cspViolations) {
    window.cspViolations = [];
    window.addEventListener('securitypolicyviolation', function (e) {
      window.cspViolations.push(e.violatedDirective + ' blocked ' + e.blockedURI);
    }, true);
  }
  return true;";

/// Checks the page the browser shows: under its CSP nothing was blocked since the watch was
/// installed, it has no script and no inline style, and its stylesheet applies (a blocked
/// `/leads.css` would leave the body's default margin). Then watches the page again.
fn check_page(browser: &Browser, what: &str) {
    let state = browser.exec(
        "return {
           violations: window.cspViolations || [],
           inline: document.querySelectorAll('script, style, [style]').length,
           sheets: document.styleSheets.length,
           margin: getComputedStyle(document.body).marginTop,
         };",
        json!([]),
    );
    assert_eq!(state["violations"], json!([]), "CSP violations on {what}");
    assert_eq!(state["inline"], 0, "no script or inline style on {what}");
    assert_eq!(state["sheets"], 1, "the stylesheet of {what}");
    assert_eq!(state["margin"], "0px", "/leads.css applies on {what}");
    browser.exec(WATCH_CSP, json!([]));
}

/// Waits until the row of lead `id` shows the sales status `want` (after the form's redirect
/// back to the list).
fn wait_status(browser: &Browser, id: &str, want: &str) {
    browser.wait_for(
        &format!("lead {id} shown as {want}"),
        20,
        "const s = document.querySelector('tr[data-lead=\"' + arguments[0] + '\"] .status');
         return document.readyState === 'complete' && !!s && s.textContent === arguments[1]
           && s.classList.contains('status-' + arguments[1]);",
        json!([id, want]),
    );
}

/// A button of lead `id`'s row (`class` is the button's class: `accepted`, `reject`, ...).
fn button(browser: &Browser, id: &str, class: &str) -> support::webdriver::ElementRef {
    browser.page_element(&format!("tr[data-lead=\"{id}\"] button.{class}"))
}

/// Runs axe-core on the whole page; panics on any violation.
fn axe(browser: &Browser, what: &str) {
    support::axe(browser, "document", what);
}

#[test]
fn sales_clicks_every_outcome_button_and_another_site_cannot() {
    let started = Instant::now();
    let relay = DashboardRelay::start();
    let accept = relay.post_lead(1, "Ada Lovelace", "founder", "newsletter");
    let reject = relay.post_lead(2, "Sam Student", "student", "google");
    let won = relay.post_lead(3, "Grace Hopper", "vp", "linkedin");
    let lost = relay.post_lead(4, "Alan Turing", "manager", "google");
    let steps = relay.post_lead(5, "Edsger Dijkstra", "founder", "newsletter");
    let victim = relay.post_lead(6, "Barbara Liskov", "vp", "linkedin");

    let browser = Browser::from_env();
    browser.goto(&relay.signed_in("/leads"));
    browser.page_element("table.leads");
    for id in [&accept, &reject, &won, &lost, &steps, &victim] {
        let row = format!("tr[data-lead=\"{id}\"] td.sales > .muted");
        let text = browser.exec(
            "const e = document.querySelector(arguments[0]); return e && e.textContent;",
            json!([row]),
        );
        assert_eq!(text, "no outcome yet", "lead {id} before any click");
    }
    check_page(&browser, "the leads page");

    // Accept.
    browser.click(&button(&browser, &accept, "accepted"));
    wait_status(&browser, &accept, "accepted");
    check_page(&browser, "the leads page after Accept");

    // Reject, with a reason chosen from the list and a note.
    browser.click(&browser.page_element(&format!("#reason-{reject} option[value=\"wrong-fit\"]")));
    browser.type_into(&browser.page_element(&format!("#note-{reject}")), "students don't buy");
    browser.click(&button(&browser, &reject, "reject"));
    wait_status(&browser, &reject, "rejected");
    check_page(&browser, "the leads page after Reject");

    // Won, with an amount.
    browser.type_into(&browser.page_element(&format!("#amount-{won}")), "1234.50");
    browser.click(&button(&browser, &won, "won"));
    wait_status(&browser, &won, "won");
    check_page(&browser, "the leads page after Won");

    // Lost, with a reason.
    let competitor = format!("#lost-reason-{lost} option[value=\"competitor\"]");
    browser.click(&browser.page_element(&competitor));
    browser.click(&button(&browser, &lost, "lost"));
    wait_status(&browser, &lost, "lost");
    check_page(&browser, "the leads page after Lost");

    // Contacted, then a meeting.
    browser.click(&button(&browser, &steps, "contacted"));
    wait_status(&browser, &steps, "contacted");
    browser.click(&button(&browser, &steps, "meeting"));
    wait_status(&browser, &steps, "meeting");
    check_page(&browser, "the leads page after Contacted and Meeting");
    assert!(browser.current_url().ends_with("/leads"), "{}", browser.current_url());
    axe(&browser, "the leads page");

    // What the API says: one outcome each (two for the steps), all from the dashboard.
    let one = |id: &str| {
        let outcomes = relay.outcomes(id);
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        for key in ["source", "by"] {
            assert_eq!(outcomes[0][key], "dashboard", "{key}: {outcomes:?}");
        }
        outcomes[0].clone()
    };
    assert_eq!(one(&accept)["status"], "accepted");
    let o = one(&reject);
    assert_eq!((&o["status"], &o["reason"]), (&json!("rejected"), &json!("wrong-fit")), "{o}");
    assert_eq!(o["note"], "students don't buy", "{o}");
    let o = one(&won);
    assert_eq!((&o["status"], &o["amount"]), (&json!("won"), &json!(1234.5)), "{o}");
    let o = one(&lost);
    assert_eq!((&o["status"], &o["reason"]), (&json!("lost"), &json!("competitor")), "{o}");
    let mut statuses: Vec<Value> =
        relay.outcomes(&steps).iter().map(|o| o["status"].clone()).collect();
    statuses.sort_by_key(|s| s.to_string());
    assert_eq!(statuses, [json!("contacted"), json!("meeting")]);
    println!("[{}] buttons clicked and checked: {:?}", browser.engine().name(), started.elapsed());

    // Another site's page posts the outcome form: without a token, and with a good token
    // copied from the dashboard (a leak). The browser still sends the dashboard's basic auth
    // (it resends it by itself), so only the CSRF defences stand in the way.
    let token = browser.exec(
        "return document.querySelector('tr[data-lead=\"' + arguments[0] + '\"] input[name=csrf]').value;",
        json!([victim]),
    );
    let token = token.as_str().unwrap().to_string();
    let target = format!("{}/leads/{victim}/outcome", relay.url);
    let site = Site::start();
    site.page(
        "win-a-prize.html",
        None,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>You won!</title></head><body>\
             <form id=\"plain\" method=\"post\" action=\"{target}\">\
               <input type=\"hidden\" name=\"status\" value=\"won\">\
               <input type=\"hidden\" name=\"amount\" value=\"1\">\
               <button id=\"claim\">Claim your prize</button></form>\
             <form id=\"leaked\" method=\"post\" action=\"{target}\">\
               <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
               <input type=\"hidden\" name=\"status\" value=\"rejected\">\
               <input type=\"hidden\" name=\"reason\" value=\"spam\">\
               <button id=\"claim-again\">Claim it again</button></form>\
             </body></html>"
        ),
    );
    for (button_id, what) in [("claim", "without a token"), ("claim-again", "with a leaked token")]
    {
        browser.goto(&format!("{}/win-a-prize.html", site.localhost_origin()));
        browser.click(&browser.page_element(&format!("#{button_id}")));
        let relay_origin = relay.url.clone();
        let answer = browser.wait_for(
            &format!("the relay's answer to the cross-site form {what}"),
            20,
            "if (!location.href.startsWith(arguments[0]) || document.readyState !== 'complete') {
               return null;
             }
             const nav = performance.getEntriesByType('navigation')[0];
             return { status: nav && typeof nav.responseStatus === 'number' ? nav.responseStatus : null,
                      text: document.body ? document.body.innerText : '' };",
            json!([relay_origin]),
        );
        let text = answer["text"].as_str().unwrap_or_default().to_string();
        match answer["status"].as_u64() {
            Some(status) => assert_eq!(status, 403, "cross-site form {what}: {text}"),
            None => browser.skip_note("reading the status code (no responseStatus): read the text"),
        }
        assert!(text.contains("another site") || text.contains("CSRF"), "{what}: {text}");
        assert!(relay.outcomes(&victim).is_empty(), "the form {what} recorded nothing");
    }

    // Back on the dashboard: the lead still has no outcome.
    browser.goto(&relay.signed_in("/leads"));
    let row = format!("tr[data-lead=\"{victim}\"] td.sales > .muted");
    let text = browser.exec(
        "const e = document.querySelector(arguments[0]); return e && e.textContent;",
        json!([row]),
    );
    assert_eq!(text, "no outcome yet");
    browser.exec(WATCH_CSP, json!([]));

    // The insights page, reached by its link.
    browser.click(&browser.page_element("nav a[href=\"/insights\"]"));
    browser.page_element("main.insights svg");
    check_page(&browser, "the insights page");
    axe(&browser, "the insights page");

    // Both pages come with the dashboard's CSP, and the browser reported no violation of it.
    for path in ["/leads", "/insights"] {
        assert_eq!(relay.csp_of(path).as_deref(), Some(DASHBOARD_CSP), "{path}");
    }
    if let Some(console) = browser.console() {
        let csp: Vec<&String> =
            console.iter().filter(|m| m.contains("Content Security Policy")).collect();
        assert!(csp.is_empty(), "CSP messages in the console: {csp:?}");
    } else {
        browser.skip_note("the console check (no WebDriver log): the page's listener checks");
    }
    // The watch is live: an image from another origin is blocked, and reported.
    browser.exec(
        "const img = document.createElement('img');
         img.alt = ''; img.src = arguments[0] + '/pixel.gif';
         document.body.appendChild(img);",
        json!([site.localhost_origin()]),
    );
    let seen = browser.wait_for(
        "the CSP violation of an image from another origin",
        10,
        "return window.cspViolations.length > 0 && window.cspViolations;",
        json!([]),
    );
    assert!(seen[0].as_str().unwrap().starts_with("img-src"), "{seen}");
    println!("[{}] whole test: {:?}", browser.engine().name(), started.elapsed());
}
