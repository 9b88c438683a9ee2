//! The visitor context, end to end: what the widget remembers between pages of a site, and
//! when it must not remember anything (consent required, Global Privacy Control).
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

#[allow(dead_code)]
mod support;

use serde_json::{json, Value};
use support::webdriver::Browser;
use support::{demo_config, fill_as_ada, landing_page, wait_phase, Relay, EVENTS_JS};

fn page_with(config: &str) -> String {
    landing_page(&format!(
        "<div data-leadgate data-config=\"#contact\"></div>\
         <script type=\"application/json\" id=\"contact\">{config}</script>"
    ))
}

/// A page of the site without a form, with the script (as a site-wide tag).
fn plain_page() -> String {
    landing_page("<p>Pricing: call us.</p>")
}

fn submit_demo_form(browser: &Browser) {
    fill_as_ada(browser, 0);
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(browser, 0, "sent", 10);
}

fn stored(browser: &Browser, key: &str) -> Value {
    let text = browser.exec("return localStorage.getItem(arguments[0]);", json!([key]));
    text.as_str().map(|t| serde_json::from_str(t).unwrap()).unwrap_or(Value::Null)
}

#[test]
fn the_lead_carries_first_touch_visits_and_pages_seen() {
    let relay = Relay::start(&[
        ("index.html", page_with(&demo_config())),
        ("pricing.html", plain_page()),
        ("events.js", EVENTS_JS.into()),
    ]);
    let browser = Browser::from_env();
    browser.goto(&format!("{}/?utm_source=newsletter&utm_campaign=fall&gclid=g1", relay.url));
    browser.widget_element(0, "#lg-email");
    browser.goto(&format!("{}/pricing.html", relay.url));
    browser.wait_for(
        "the pricing page counted",
        10,
        "const v = JSON.parse(localStorage.getItem('leadgate:visitor') || '{}');
         return v.pages_seen === 2;",
        json!([]),
    );
    browser.goto(&relay.url);
    submit_demo_form(&browser);
    let leads = relay.leads();
    let context = &leads[0]["payload"]["context"];
    assert_eq!(context["visits"], 1);
    assert_eq!(context["pages_seen"], 3);
    let pages: Vec<&str> =
        context["pages"].as_array().unwrap().iter().map(|p| p["url"].as_str().unwrap()).collect();
    assert_eq!(pages.len(), 3);
    assert!(pages[1].ends_with("/pricing.html"), "{pages:?}");
    assert_eq!(context["first_touch"]["utm"]["utm_campaign"], "fall");
    assert_eq!(context["first_touch"]["click_ids"]["gclid"], "g1");
    assert!(context["landing_page"].as_str().unwrap().contains("utm_source=newsletter"));
    assert!(context["first_seen"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(context["utm"], json!({}), "this page had no UTM parameters");
}

#[test]
fn nothing_is_stored_before_consent_when_the_config_requires_it() {
    let mut config: Value = serde_json::from_str(&demo_config()).unwrap();
    config["tracking"] = json!({ "require_consent": true });
    let relay = Relay::start(&[
        ("index.html", page_with(&config.to_string())),
        ("events.js", EVENTS_JS.into()),
    ]);
    let browser = Browser::from_env();
    browser.goto(&format!("{}/?utm_source=ads", relay.url));
    browser.widget_element(0, "#lg-email");
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-email");
    assert_eq!(stored(&browser, "leadgate:visitor"), Value::Null, "nothing before consent");
    submit_demo_form(&browser);
    let visitor = stored(&browser, "leadgate:visitor");
    assert_eq!(visitor["pages_seen"], 1, "stored once the visitor agreed: {visitor}");
    assert_eq!(stored(&browser, "leadgate:tracking-consent"), json!(true));
    let context = &relay.leads()[0]["payload"]["context"];
    assert_eq!(context["visits"], 1);
    assert_eq!(context["pages_seen"], 1, "the earlier page was not remembered");
}

#[test]
fn global_privacy_control_means_nothing_is_stored() {
    let gpc = format!(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {{ get: () => true }});\n{EVENTS_JS}"
    );
    let relay = Relay::start(&[("index.html", page_with(&demo_config())), ("events.js", gpc)]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    assert_eq!(browser.exec("return navigator.globalPrivacyControl;", json!([])), json!(true));
    submit_demo_form(&browser);
    assert_eq!(stored(&browser, "leadgate:visitor"), Value::Null);
    assert_eq!(relay.leads()[0]["payload"]["context"]["pages_seen"], 1);
}
