//! Never lose a lead, end to end: the built widget in a real browser (`LEADGATE_BROWSER`), a
//! relay that stores leads, and in front of it a receiver whose faults each test controls. Each
//! test prints the attempts made, the leads stored and the time to delivery.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::receiver::Receiver;
use support::webdriver::Browser;
use support::{
    demo_config, fill_as_ada, fill_as_student, landing_page, wait_phase, Relay, EVENTS_JS,
};

/// A relay serving a landing page whose widget posts to a faulty receiver.
fn setup() -> (Relay, Receiver) {
    setup_with("")
}

/// A browser without Web Locks (Safari before 15.4, some embedded webviews): the outbox falls
/// back to a lease in `localStorage`.
const NO_WEB_LOCKS_JS: &str =
    "Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });";

/// A browser whose storage refuses every write (quota full, some private modes).
const NO_STORAGE_JS: &str = "Storage.prototype.setItem = function () { \
    throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };";

/// The landing page and receiver; `before_widget` goes before the widget's script.
fn setup_with(before_widget: &str) -> (Relay, Receiver) {
    let receiver = Receiver::start();
    let page = landing_page(&format!(
        "<div data-leadgate data-config=\"#contact\" data-endpoint=\"{}\"></div>\
         <script type=\"application/json\" id=\"contact\">{}</script>{before_widget}",
        receiver.endpoint(),
        demo_config()
    ));
    let relay = Relay::start_with(
        &[
            ("index.html", page),
            ("events.js", EVENTS_JS.into()),
            ("no-web-locks.js", NO_WEB_LOCKS_JS.into()),
            ("no-storage.js", NO_STORAGE_JS.into()),
            ("away.html", "<p>away</p>".into()),
        ],
        vec![receiver.origin()],
    );
    receiver.forward_to(&relay.url);
    (relay, receiver)
}

fn wait_for_leads(relay: &Relay, count: usize, secs: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let leads = relay.leads();
        if leads.len() >= count || Instant::now() > deadline {
            return leads;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn outbox(browser: &Browser) -> Value {
    let text = browser.exec("return localStorage.getItem('leadgate:outbox');", json!([]));
    text.as_str().map(|t| serde_json::from_str(t).unwrap()).unwrap_or(json!([]))
}

fn report(case: &str, receiver: &Receiver, leads: &[Value], start: Instant) {
    let attempts: Vec<String> = receiver
        .attempts()
        .iter()
        .map(|a| format!("{}@{:.1}s", a.status, a.at.as_secs_f64()))
        .collect();
    println!(
        "[{case}] attempts: {} ({}), leads stored: {}, time to delivery: {:.2} s",
        attempts.len(),
        attempts.join(", "),
        leads.len(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn two_503s_then_200_delivers_once_and_the_visitor_sees_sent() {
    let (relay, receiver) = setup();
    receiver.fail_next(&[(503, None), (503, None)]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_ada(&browser, 0);
    let start = Instant::now();
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "queued", 10);
    wait_phase(&browser, 0, "sent", 20);
    let leads = wait_for_leads(&relay, 1, 5);
    report("503, 503, 200", &receiver, &leads, start);
    assert_eq!(leads.len(), 1);
    let attempts = receiver.attempts();
    assert_eq!(attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [503, 503, 201]);
    let id = leads[0]["id"].as_str().unwrap();
    assert!(attempts.iter().all(|a| a.key.as_deref() == Some(id)), "same key every attempt");
    assert_eq!(leads[0]["attempts"], 1);
    assert_eq!(outbox(&browser), json!([]), "delivered leads leave the outbox");
    let seen = browser.exec("return window.seen.map(e => e.type);", json!([]));
    assert_eq!(
        seen,
        json!(["leadgate:ready", "leadgate:submit", "leadgate:qualified", "leadgate:delivered"])
    );
    let layer = browser.exec("return window.dataLayer.map(e => e.event);", json!([]));
    assert_eq!(layer, seen, "dataLayer gets the same events");
}

#[test]
fn receiver_down_at_submit_delivers_once_on_a_later_visit() {
    let (relay, mut receiver) = setup();
    receiver.down();
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_ada(&browser, 0);
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "queued", 20);
    let status = browser.exec(
        "return document.querySelector('[data-leadgate]').shadowRoot
            .querySelector('[data-testid=status]').textContent;",
        json!([]),
    );
    assert_eq!(status, "Saved. We'll send your details as soon as the connection is back.");
    assert_eq!(outbox(&browser).as_array().unwrap().len(), 1);
    browser.goto(&format!("{}/away.html", relay.url));
    receiver.up();
    let start = Instant::now();
    browser.goto(&relay.url);
    let leads = wait_for_leads(&relay, 1, 20);
    report("down, later visit", &receiver, &leads, start);
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["payload"]["fields"]["email"], "ada@analytical.example");
    // The 2xx reaches the page a moment after the relay stored the lead.
    browser.wait_for(
        "the outbox to empty",
        10,
        "return (localStorage.getItem('leadgate:outbox') || '[]') === '[]';",
        json!([]),
    );
    assert_eq!(relay.leads().len(), 1);
}

#[test]
fn offline_at_submit_delivers_once_when_back_online() {
    let (relay, receiver) = setup();
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_ada(&browser, 0);
    if !browser.set_offline(true) {
        browser.skip_note(
            "offline_at_submit_delivers_once_when_back_online: WebDriver cannot take this \
             engine offline (Chromium's DevTools only); the receiver-down tests cover the queue",
        );
        return;
    }
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "queued", 20);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(relay.leads().len(), 0);
    let start = Instant::now();
    assert!(browser.set_offline(false));
    wait_phase(&browser, 0, "sent", 30);
    let leads = wait_for_leads(&relay, 1, 5);
    report("offline, online", &receiver, &leads, start);
    assert_eq!(leads.len(), 1);
    assert_eq!(receiver.attempts().len(), 1, "offline attempts never reached the receiver");
}

#[test]
fn leaving_the_page_right_after_submit_still_delivers() {
    let (relay, receiver) = setup();
    // The first attempt fails and asks for a long pause: only the page-exit path can deliver.
    receiver.fail_next(&[(503, Some(120))]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_ada(&browser, 0);
    let start = Instant::now();
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "queued", 10);
    browser.goto(&format!("{}/away.html", relay.url));
    let leads = wait_for_leads(&relay, 1, 10);
    report("leave after submit", &receiver, &leads, start);
    assert_eq!(leads.len(), 1, "the beacon delivered the lead");
    let last = receiver.attempts().last().cloned().unwrap();
    assert!(last.path.contains("idempotency_key="), "beacons carry the key in the URL");
}

#[test]
fn double_click_and_double_enter_store_one_lead() {
    let (relay, receiver) = setup();
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_ada(&browser, 0);
    let start = Instant::now();
    browser.double_click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "sent", 10);
    browser.goto(&relay.url);
    fill_as_ada(&browser, 0);
    browser.type_into(&browser.widget_element(0, "#lg-company"), "\u{E007}\u{E007}");
    wait_phase(&browser, 0, "sent", 10);
    std::thread::sleep(Duration::from_millis(500));
    let leads = relay.leads();
    report("double click + double enter", &receiver, &leads, start);
    assert_eq!(leads.len(), 2, "one lead per visit: {leads:?}");
    assert_eq!(receiver.attempts().len(), 2);
}

#[test]
fn two_tabs_with_a_pending_lead_send_it_once() {
    two_tabs_send_once("two tabs", setup());
}

#[test]
fn two_tabs_without_web_locks_send_it_once_too() {
    let (relay, receiver) = setup_with("<script src=\"no-web-locks.js\"></script>");
    two_tabs_send_once("two tabs, storage lease", (relay, receiver));
}

#[test]
fn storage_refused_keeps_the_lead_in_the_page_for_a_retry() {
    let (relay, mut receiver) = setup_with("<script src=\"no-storage.js\"></script>");
    receiver.down();
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_ada(&browser, 0);
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    // Neither sent nor saved: the visitor is told and offered a retry, and what they typed stays.
    wait_phase(&browser, 0, "failed", 20);
    let submit = browser.widget_element(0, "[data-testid=submit]");
    assert_eq!(
        browser.exec("return arguments[0].textContent.trim();", json!([submit.to_json()])),
        "Try again"
    );
    let start = Instant::now();
    receiver.up();
    browser.click(&submit);
    wait_phase(&browser, 0, "sent", 20);
    let leads = wait_for_leads(&relay, 1, 5);
    report("storage refused, retry", &receiver, &leads, start);
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["payload"]["fields"]["email"], "ada@analytical.example");
    assert!(browser.exec("return localStorage.getItem('leadgate:outbox');", json!([])).is_null());
}

fn two_tabs_send_once(what: &str, (relay, mut receiver): (Relay, Receiver)) {
    receiver.down();
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_ada(&browser, 0);
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "queued", 20);
    browser.new_tab();
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-email");
    let start = Instant::now();
    receiver.up();
    let leads = wait_for_leads(&relay, 1, 30);
    std::thread::sleep(Duration::from_secs(4));
    let leads_after = relay.leads();
    let locks = browser.exec("return typeof navigator.locks;", json!([]));
    report(
        &(String::from(what) + " (navigator.locks: " + locks.as_str().unwrap_or("?") + ")"),
        &receiver,
        &leads_after,
        start,
    );
    assert_eq!(leads.len(), 1);
    assert_eq!(leads_after.len(), 1);
    assert_eq!(leads_after[0]["attempts"], 1, "the tabs took turns: one POST reached the relay");
}

#[test]
fn a_refused_lead_is_dead_lettered_reported_and_not_retried() {
    let (relay, receiver) = setup();
    receiver.always_answer(400);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_ada(&browser, 0);
    let start = Instant::now();
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "failed", 10);
    std::thread::sleep(Duration::from_secs(4));
    report("400", &receiver, &relay.leads(), start);
    assert_eq!(receiver.attempts().len(), 1, "no retry after a 400");
    let error = browser.wait_for(
        "leadgate:error",
        5,
        "return window.seen.find(e => e.type === 'leadgate:error');",
        json!([]),
    );
    assert_eq!(error["detail"]["error"], "the endpoint answered HTTP 400");
    let entries = outbox(&browser);
    assert_eq!(entries.as_array().unwrap().len(), 1, "kept as a dead letter");
    assert!(entries[0]["dead_until"].as_u64().is_some());
    assert_eq!(relay.leads().len(), 0);
}

#[test]
fn leads_that_do_not_qualify_go_to_the_nurture_endpoint_when_one_is_configured() {
    let receiver = Receiver::start();
    let mut config: Value = serde_json::from_str(&support::demo_config()).unwrap();
    config["delivery"] = json!({ "nurture_endpoint": format!("{}/v1/nurture", receiver.origin()) });
    let page = landing_page(&format!(
        "<div data-leadgate data-config=\"#contact\" data-endpoint=\"{}\"></div>\
         <script type=\"application/json\" id=\"contact\">{config}</script>",
        receiver.endpoint(),
    ));
    let relay = Relay::start_with(
        &[("index.html", page), ("events.js", EVENTS_JS.into())],
        vec![receiver.origin()],
    );
    receiver.forward_to(&relay.url);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    fill_as_student(&browser, 0);
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    wait_phase(&browser, 0, "sent", 10);
    let leads = wait_for_leads(&relay, 1, 5);
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["payload"]["score"]["qualified"], false);
    assert_eq!(receiver.attempts()[0].path, "/v1/nurture");
    let seen = browser.exec("return window.seen.map(e => e.type);", json!([]));
    assert_eq!(seen, json!(["leadgate:ready", "leadgate:submit", "leadgate:delivered"]));
}
