//! End-to-end: the built widget on real landing pages, served by a real relay on 127.0.0.1,
//! driven through WebDriver in headless Chromium, Firefox or WebKit (`LEADGATE_BROWSER`).
//! Needs `bash scripts/build.sh` first.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

#[allow(dead_code)]
mod support;

use serde_json::{json, Value};
use support::webdriver::Browser;
use support::{demo_config, fill_as_student, landing_page, wait_phase, Relay, EVENTS_JS};

fn demo_page() -> String {
    landing_page(&format!(
        "<div data-leadgate data-config=\"#contact\"></div>\
         <script type=\"application/json\" id=\"contact\">{}</script>",
        demo_config()
    ))
}

/// Fills the demo form of widget `w` as a visitor would: typing, picking, ticking.
fn fill_demo_form(browser: &Browser, w: usize, role: &str, employees: &str) {
    browser.type_into(&browser.widget_element(w, "#lg-name"), "Ada Lovelace");
    browser.type_into(&browser.widget_element(w, "#lg-email"), "ada@analytical.example");
    browser.type_into(&browser.widget_element(w, "#lg-company"), "Analytical Engines");
    browser.click(&browser.widget_element(w, &format!("#lg-role option[value='{role}']")));
    browser
        .click(&browser.widget_element(w, &format!("#lg-employees option[value='{employees}']")));
    browser.type_into(&browser.widget_element(w, "#lg-phone"), "+44 20 7946 0000");
    browser.type_into(&browser.widget_element(w, "#lg-message"), "Please send pricing.");
    browser.click(&browser.widget_element(w, "#lg-consent"));
}

fn events(browser: &Browser) -> Vec<Value> {
    browser.exec("return window.seen;", json!([])).as_array().cloned().unwrap_or_default()
}

#[test]
fn a_qualified_lead_reaches_the_relay_with_score_and_reasons() {
    let relay = Relay::start(&[("index.html", demo_page()), ("events.js", EVENTS_JS.into())]);
    let browser = Browser::from_env();
    browser.goto(&format!("{}/?utm_source=newsletter&utm_campaign=fall&gclid=abc123", relay.url));
    fill_demo_form(&browser, 0, "founder", "1000+");
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "sent", 20);

    let leads = relay.leads();
    assert_eq!(leads.len(), 1, "{leads:?}");
    let lead = &leads[0];
    let payload = &lead["payload"];
    assert_eq!(payload["schema_version"], 1);
    assert_eq!(payload["form_id"], "book-a-demo");
    assert_eq!(lead["idempotency_key"], payload["id"], "Idempotency-Key header = lead id");
    assert_eq!(payload["fields"]["email"], "ada@analytical.example");
    assert_eq!(payload["fields"]["campaign"], "demo-landing");
    assert_eq!(payload["fields"]["consent"], true);
    assert_eq!(payload["fields"]["newsletter"], false);
    let score = &payload["score"];
    let hits: Vec<&str> =
        score["hits"].as_array().unwrap().iter().map(|h| h["rule"].as_str().unwrap()).collect();
    assert_eq!(
        hits,
        [
            "decision-maker",
            "large-company",
            "named-company",
            "gave-phone",
            "asked-pricing",
            "from-campaign"
        ]
    );
    assert_eq!(score["total"], 95);
    assert_eq!(score["groups"], json!({"fit": 65, "engagement": 30}));
    assert_eq!(score["grade"], "A");
    assert_eq!(score["qualified"], true);
    assert_eq!(score["stage"], "sql");
    assert!(score["model"].as_str().unwrap().starts_with("fnv1a64:"));
    assert_eq!(score["hits"][0]["reason"], "Decision maker (founder, CEO, VP)");
    assert_eq!(payload["consent"]["version"], "2026-11");
    assert_eq!(payload["meta"]["honeypot"], "", "people leave the honeypot empty");
    assert!(payload["meta"]["fill_ms"].as_u64().unwrap() > 0);
    assert_eq!(
        payload["context"]["utm"],
        json!({"utm_source": "newsletter", "utm_campaign": "fall"})
    );
    assert_eq!(payload["context"]["click_ids"], json!({"gclid": "abc123"}));
    assert!(payload["context"]["page_url"].as_str().unwrap().starts_with(&relay.url));

    // The funnel: the view and the start reached the relay (batched beacons).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let totals = loop {
        let stats = ureq::get(&format!("{}/v1/stats", relay.url)).call().unwrap();
        let stats: Value = serde_json::from_str(&stats.into_string().unwrap()).unwrap();
        let totals = stats["totals"].clone();
        if totals["starts"] == 1 || std::time::Instant::now() > deadline {
            break totals;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(
        (totals["views"].clone(), totals["starts"].clone()),
        (json!(1), json!(1)),
        "{totals}"
    );
    assert_eq!(totals["submissions"], 1);

    // The sales team's page shows the lead with its reasons.
    let page = ureq::get(&format!("{}/leads", relay.url)).call().unwrap().into_string().unwrap();
    assert!(page.contains("ada@analytical.example") && page.contains("Asked about pricing"));

    // Events: in order, composed, with the documented detail and no raw field values.
    let seen = events(&browser);
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["leadgate:ready", "leadgate:submit", "leadgate:qualified", "leadgate:delivered"]
    );
    let detail = &seen[3]["detail"];
    assert_eq!(detail["lead_id"], payload["id"]);
    assert_eq!((detail["score"].clone(), detail["grade"].clone()), (json!(95), json!("A")));
    assert_eq!((detail["stage"].clone(), detail["qualified"].clone()), (json!("sql"), json!(true)));
    assert!(seen.iter().all(|e| e["composed"] == true));
    assert!(!serde_json::to_string(&seen).unwrap().contains("ada@"), "no raw values in events");
    let layer = browser.exec("return window.dataLayer.map(e => e.event);", json!([]));
    assert_eq!(layer, json!(types));
}

#[test]
fn a_lead_that_does_not_qualify_is_thanked_but_not_sent() {
    let relay = Relay::start(&[("index.html", demo_page()), ("events.js", EVENTS_JS.into())]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_student(&browser, 0);
    // Enter in a text field submits, like any form.
    browser.press_enter(&browser.widget_element(0, "#lg-name"));
    wait_phase(&browser, 0, "sent", 20);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(relay.leads().len(), 0);
    let seen = events(&browser);
    let submit = seen.iter().find(|e| e["type"] == "leadgate:submit").expect("a submit event");
    assert_eq!(submit["detail"]["qualified"], false);
    assert_eq!(submit["detail"]["score"], -30);
    assert!(seen.iter().all(|e| e["type"] != "leadgate:qualified"));
    // The submit still counts in the funnel, so the MQL rate is real: an anonymous `submit`
    // event reaches /v1/events, with nothing the visitor typed in it.
    browser.wait_for(
        "the submit funnel event",
        10,
        "return window.beacons.some(b => b.url.includes('/v1/events') && (b.body || '').includes('\"submit\"'));",
        json!([]),
    );
    let beacons =
        browser.exec("return window.beacons.filter(b => b.url.includes('/v1/events'));", json!([]));
    let text = beacons.to_string();
    for typed in ["Sam", "sam@", "uni.example", "student"] {
        assert!(!text.contains(typed), "{typed} in a funnel event: {text}");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let totals = loop {
        let stats = ureq::get(&format!("{}/v1/stats", relay.url)).call().unwrap();
        let stats: Value = serde_json::from_str(&stats.into_string().unwrap()).unwrap();
        if stats["totals"]["submits"] == 1 || std::time::Instant::now() > deadline {
            break stats["totals"].clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(
        (totals["submits"].clone(), totals["submissions"].clone()),
        (json!(1), json!(0)),
        "{totals}"
    );
}

#[test]
fn two_widgets_on_one_page_are_independent() {
    let second = r#"{"form_id": "newsletter", "endpoint": "/not-used",
        "fields": [{"name": "email", "type": "email", "label": "E-mail", "required": true}],
        "texts": {"submit": "Subscribe"}}"#;
    let page = landing_page(&format!(
        "<div data-leadgate data-config=\"#contact\"></div>\
         <script type=\"application/json\" id=\"contact\">{}</script>\
         <div data-leadgate data-config=\"forms/newsletter.json\" data-endpoint=\"/v1/leads\"></div>",
        demo_config()
    ));
    let relay = Relay::start(&[
        ("index.html", page),
        ("events.js", EVENTS_JS.into()),
        ("forms/newsletter.json", second.into()),
    ]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    let button = browser.widget_element(1, "[data-testid=submit]");
    browser.wait_for(
        "the second widget's own texts",
        10,
        "return document.querySelectorAll('[data-leadgate]')[1].shadowRoot
             .querySelector('[data-testid=submit]').textContent === 'Subscribe';",
        json!([]),
    );
    browser.widget_element(0, "#lg-role");
    browser.type_into(&browser.widget_element(1, "#lg-email"), "grace@example.com");
    browser.click(&button);
    wait_phase(&browser, 1, "sent", 20);
    wait_phase(&browser, 0, "editing", 20);
    let leads = relay.leads();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["payload"]["form_id"], "newsletter");
    assert_eq!(leads[0]["payload"]["fields"], json!({"email": "grace@example.com"}));
}

#[test]
fn invalid_answers_are_shown_next_to_their_fields() {
    let relay = Relay::start(&[("index.html", demo_page()), ("events.js", EVENTS_JS.into())]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    browser.type_into(&browser.widget_element(0, "#lg-email"), "ada@nowhere");
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    let state = browser.wait_for(
        "the errors",
        10,
        "const r = document.querySelector('[data-leadgate]').shadowRoot;
         const email = r.querySelector('#lg-email');
         if (email.getAttribute('aria-invalid') !== 'true') return null;
         return {
           name: r.querySelector('#lg-name-error').textContent,
           email: r.querySelector('#lg-email-error').textContent,
           described: email.getAttribute('aria-describedby'),
           focused: r.activeElement && r.activeElement.id,
         };",
        json!([]),
    );
    assert_eq!(state["name"], "This field is required.");
    assert_eq!(state["email"], "Please enter a valid e-mail address.");
    assert_eq!(state["described"], "lg-email-help lg-email-error");
    assert_eq!(state["focused"], "lg-name", "focus moves to the first invalid field");
    assert_eq!(relay.leads().len(), 0);
}

#[test]
fn a_config_mistake_is_shown_in_place_and_in_the_console() {
    let page = landing_page(
        "<div data-leadgate data-config=\"#bad\"></div>\
         <script type=\"application/json\" id=\"bad\">{\"form_id\": \"x\", \"endpoint\": \"/v1/leads\",
           \"fields\": [{\"name\": \"email\", \"type\": \"emial\", \"label\": \"E\"}]}</script>",
    );
    let relay = Relay::start(&[("index.html", page), ("events.js", EVENTS_JS.into())]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    let text = browser.wait_for(
        "the config error",
        20,
        "const h = document.querySelector('[data-leadgate]');
         const box = h.shadowRoot && h.shadowRoot.querySelector('[data-testid=config-error]');
         return box && box.textContent;",
        json!([]),
    );
    let text = text.as_str().unwrap();
    assert!(text.contains("This form could not be loaded."), "{text}");
    assert!(text.contains("at `fields[0].type`: unknown variant `emial`"), "{text}");
    match browser.console() {
        Some(log) => assert!(log.iter().any(|m| m.contains("fields[0].type")), "{log:?}"),
        None => {
            browser.skip_note(
                "the WebDriver console log (this driver has no log endpoint); checking the \
                 page's console.error calls instead",
            );
            let log = browser.exec("return window.consoleMessages;", json!([]));
            let log: Vec<String> = serde_json::from_value(log).unwrap();
            assert!(log.iter().any(|m| m.contains("fields[0].type")), "{log:?}");
        }
    }
    let error = events(&browser).into_iter().find(|e| e["type"] == "leadgate:error").unwrap();
    assert!(error["detail"]["error"].as_str().unwrap().contains("fields[0].type"));
}

#[test]
fn a_failed_delivery_keeps_the_lead_and_offers_a_retry() {
    let page = landing_page(&format!(
        "<div data-leadgate data-config=\"#contact\" data-endpoint=\"/v1/missing\"></div>\
         <script type=\"application/json\" id=\"contact\">{}</script>",
        demo_config()
    ));
    let relay = Relay::start(&[("index.html", page), ("events.js", EVENTS_JS.into())]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_demo_form(&browser, 0, "vp", "51-200");
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "failed", 20);
    let state = browser.exec(
        "const r = document.querySelector('[data-leadgate]').shadowRoot;
         return { email: r.querySelector('#lg-email').value,
                  button: r.querySelector('[data-testid=submit]').textContent,
                  status: r.querySelector('[data-testid=status]').textContent };",
        json!([]),
    );
    assert_eq!(state["email"], "ada@analytical.example", "typed data is kept");
    assert_eq!(state["button"], "Try again");
    assert!(state["status"].as_str().unwrap().contains("They are kept here"));
    let error = events(&browser).into_iter().find(|e| e["type"] == "leadgate:error").unwrap();
    let message = error["detail"]["error"].as_str().unwrap();
    assert!(message.starts_with("the endpoint answered HTTP 4"), "{message}");
    assert!(error["detail"]["lead_id"].is_string());
}

#[test]
fn a_tag_manager_can_insert_the_script_after_load_and_a_second_copy_is_harmless() {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <link rel=\"icon\" href=\"data:,\"><title>t</title></head><body>\
         <div data-leadgate data-config=\"#contact\"></div>\
         <script type=\"application/json\" id=\"contact\">{}</script>\
         <script src=\"events.js\"></script><script src=\"tag-manager.js\"></script></body></html>",
        demo_config()
    );
    let tag_manager = "window.addEventListener('load', function () {
        setTimeout(function () {
          for (var i = 0; i < 2; i++) {
            var s = document.createElement('script');
            s.src = 'leadgate.js?v=' + i; s.async = true;
            document.body.appendChild(s);
          }
          var later = document.createElement('div');
          later.setAttribute('data-leadgate', '');
          later.setAttribute('data-config', '#contact');
          setTimeout(function () { document.body.appendChild(later); }, 300);
        }, 100);
      });";
    let relay = Relay::start(&[
        ("index.html", page),
        ("events.js", EVENTS_JS.into()),
        ("tag-manager.js", tag_manager.into()),
    ]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-email");
    browser.widget_element(1, "#lg-email");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let counts = browser.exec(
        "return Array.from(document.querySelectorAll('[data-leadgate]')).map(h =>
            h.shadowRoot.querySelectorAll('form').length);",
        json!([]),
    );
    assert_eq!(counts, json!([1, 1]), "each mount element holds exactly one form");
    let ready = events(&browser).iter().filter(|e| e["type"] == "leadgate:ready").count();
    assert_eq!(ready, 2);
    let violations: Vec<Value> =
        events(&browser).into_iter().filter(|e| e["type"] == "csp-violation").collect();
    assert!(violations.is_empty(), "strict CSP violated: {violations:?}");
}

#[test]
fn a_page_loads_its_config_from_the_relay_and_its_lead_is_checked_against_that_version() {
    let page =
        landing_page("<div data-leadgate data-config=\"/v1/forms/book-a-demo/config\"></div>");
    let relay = Relay::start(&[("index.html", page), ("events.js", EVENTS_JS.into())]);
    // The marketer publishes the form on the relay (version 1).
    let config: Value = serde_json::from_str(&demo_config()).unwrap();
    let body = json!({"config": config, "note": "first"}).to_string();
    let published = ureq::post(&format!("{}/v1/forms/book-a-demo/versions", relay.url))
        .set("Content-Type", "application/json")
        .send_string(&body)
        .unwrap();
    assert_eq!(published.status(), 201);
    let model = leadgate_core::FormConfig::from_json(&demo_config()).unwrap().scoring.model_id();

    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_demo_form(&browser, 0, "founder", "1000+");
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "sent", 20);
    let leads = relay.leads();
    assert_eq!(leads.len(), 1, "{leads:?}");
    assert_eq!(leads[0]["payload"]["score"]["model"], model.as_str());
    assert_eq!(leads[0]["score_checked"], "match", "re-scored with the version the page used");
}
