//! Browser tests of the form component (wasm-bindgen-test in headless Chromium):
//! `cargo test --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

use leadgate_core::FormConfig;
use leptos::task::tick;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlInputElement, ShadowRoot};

wasm_bindgen_test_configure!(run_in_browser);

const CONFIG: &str = r#"{
    "form_id": "t",
    "title": "Talk to us",
    "fields": [
        {"name": "email", "type": "email", "label": "Work e-mail", "required": true, "help": "No spam."},
        {"name": "size", "type": "select", "label": "Size", "options": [{"value": "big", "label": "Big"}]},
        {"name": "note", "type": "textarea", "label": "Note", "max_length": 50},
        {"name": "tel", "type": "tel", "label": "Phone"},
        {"name": "src", "type": "hidden", "value": "ads"},
        {"name": "news", "type": "checkbox", "label": "News"},
        {"name": "ok", "type": "consent", "label": "I agree", "version": "1", "required": true}
    ],
    "scoring": {"threshold": 10, "rules": [
        {"id": "big", "points": 10, "when": {"op": "equals", "field": "size", "value": "big"}}
    ]}
}"#;

struct Mounted {
    host: Element,
    _handle: leadgate::embed::WidgetHandle,
}

impl Mounted {
    fn new(config: &str) -> Mounted {
        let document = web_sys::window().unwrap().document().unwrap();
        let host = document.create_element("div").unwrap();
        host.set_attribute("data-testid", "host").unwrap();
        document.body().unwrap().append_child(&host).unwrap();
        let config = FormConfig::from_json(config).unwrap();
        // Each test is a new visitor: no half-filled form kept by an earlier test's widget (a
        // draft is restored into a widget of the same form, as after a reload).
        let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
        storage.remove_item(&(String::from("leadgate:draft:") + &config.form_id)).unwrap();
        // Nothing listens on this port: delivery fails, which the tests use.
        let handle = leadgate::mount(
            &host,
            config,
            "http://127.0.0.1:9/v1/leads".into(),
            Default::default(),
        )
        .unwrap();
        Mounted { host, _handle: handle }
    }

    fn root(&self) -> ShadowRoot {
        self.host.shadow_root().expect("an open shadow root")
    }

    fn find(&self, selector: &str) -> Element {
        self.root().query_selector(selector).unwrap().unwrap_or_else(|| panic!("{selector}"))
    }

    fn input(&self, selector: &str, value: &str) {
        let input: HtmlInputElement = self.find(selector).unchecked_into();
        input.set_value(value);
        let event = web_sys::Event::new("input").unwrap();
        input.dispatch_event(&event).unwrap();
    }

    fn submit(&self) {
        self.find("[data-testid=submit]").unchecked_into::<web_sys::HtmlElement>().click();
    }

    fn phase(&self) -> String {
        self.find("[data-testid=status]").get_attribute("data-phase").unwrap()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.host.remove();
    }
}

#[wasm_bindgen_test]
async fn renders_every_field_from_the_config() {
    let w = Mounted::new(CONFIG);
    tick().await;
    assert_eq!(w.find(".lg-title").text_content().unwrap(), "Talk to us");
    let kinds = [
        ("#lg-email", "email"),
        ("#lg-tel", "tel"),
        ("#lg-news", "checkbox"),
        ("#lg-ok", "checkbox"),
    ];
    for (selector, kind) in kinds {
        assert_eq!(w.find(selector).get_attribute("type").as_deref(), Some(kind), "{selector}");
    }
    assert_eq!(w.find("#lg-size").tag_name(), "SELECT");
    assert_eq!(w.find("#lg-note").tag_name(), "TEXTAREA");
    assert_eq!(w.find("#lg-note").get_attribute("maxlength").as_deref(), Some("50"));
    assert!(w.root().query_selector("#lg-src").unwrap().is_none(), "hidden fields are not shown");
    assert_eq!(w.find("label[for=lg-email]").text_content().unwrap(), "Work e-mail *");
    assert_eq!(
        w.find("#lg-email").get_attribute("aria-describedby").as_deref(),
        Some("lg-email-help")
    );
    assert_eq!(w.find("label[for=lg-ok]").text_content().unwrap(), "I agree *");
    assert_eq!(w.find("label[for=lg-news]").text_content().unwrap(), "News");
}

#[wasm_bindgen_test]
async fn shows_validation_errors_tied_to_their_fields() {
    let w = Mounted::new(CONFIG);
    tick().await;
    w.input("#lg-email", "not-an-address");
    w.submit();
    tick().await;
    let email = w.find("#lg-email");
    assert_eq!(email.get_attribute("aria-invalid").as_deref(), Some("true"));
    assert_eq!(
        email.get_attribute("aria-describedby").as_deref(),
        Some("lg-email-help lg-email-error")
    );
    assert_eq!(
        w.find("#lg-email-error").text_content().unwrap(),
        "Please enter a valid e-mail address."
    );
    assert_eq!(w.find("#lg-ok-error").text_content().unwrap(), "This field is required.");
    assert_eq!(w.phase(), "editing");
    // Typing clears the field's error.
    w.input("#lg-email", "ada@example.com");
    tick().await;
    assert_eq!(w.find("#lg-email").get_attribute("aria-invalid").as_deref(), Some("false"));
}

#[wasm_bindgen_test]
async fn an_unqualified_lead_is_thanked_without_sending() {
    let w = Mounted::new(CONFIG);
    tick().await;
    w.input("#lg-email", "ada@example.com");
    w.find("#lg-ok").unchecked_into::<web_sys::HtmlElement>().click();
    w.submit();
    tick().await;
    assert_eq!(w.phase(), "sent");
    assert_eq!(
        w.find("[data-testid=status]").text_content().unwrap(),
        "Thank you! We'll be in touch soon."
    );
}

#[wasm_bindgen_test]
async fn an_unreachable_endpoint_keeps_the_lead_in_the_outbox() {
    let w = Mounted::new(CONFIG);
    let events = js_sys::Array::new();
    let record = {
        let events = events.clone();
        wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(
            move |e: web_sys::Event| {
                events.push(&e.type_().into());
            },
        )
    };
    for name in ["leadgate:submit", "leadgate:qualified", "leadgate:error"] {
        w.host.add_event_listener_with_callback(name, record.as_ref().unchecked_ref()).unwrap();
    }
    tick().await;
    w.input("#lg-email", "ada@example.com");
    let select: web_sys::HtmlSelectElement = w.find("#lg-size").unchecked_into();
    select.set_value("big");
    select.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
    w.find("#lg-ok").unchecked_into::<web_sys::HtmlElement>().click();
    w.submit();
    for _ in 0..200 {
        tick().await;
        if w.phase() == "queued" {
            break;
        }
        gloo_timers_sleep(25).await;
    }
    assert_eq!(w.phase(), "queued");
    assert_eq!(w.find("[data-testid=submit]").text_content().unwrap(), "Try again");
    let input: HtmlInputElement = w.find("#lg-email").unchecked_into();
    assert_eq!(input.value(), "ada@example.com", "typed data stays on screen");
    let seen: Vec<String> = events.iter().filter_map(|e| e.as_string()).collect();
    assert_eq!(seen, ["leadgate:submit", "leadgate:qualified"]);
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let outbox = storage.get_item("leadgate:outbox").unwrap().unwrap();
    let outbox: serde_json::Value = serde_json::from_str(&outbox).unwrap();
    let entry = outbox.as_array().unwrap().iter().find(|e| {
        let body: serde_json::Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
        body["fields"]["email"] == "ada@example.com" && body["id"] == e["id"]
    });
    let entry = entry.expect("the lead is in the outbox");
    assert_eq!(entry["attempts"], 1);
    assert_eq!(entry["endpoint"], "http://127.0.0.1:9/v1/leads");
    drop(record);
}

async fn gloo_timers_sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn offers_a_fix_for_a_misspelt_provider() {
    let w = Mounted::new(CONFIG);
    tick().await;
    w.input("#lg-email", "ada@gmial.com");
    tick().await;
    let offer = w.find("[data-testid=email-suggestion]");
    assert_eq!(offer.text_content().unwrap(), "Did you mean ada@gmail.com?");
    offer.unchecked_into::<web_sys::HtmlElement>().click();
    tick().await;
    let input: HtmlInputElement = w.find("#lg-email").unchecked_into();
    assert_eq!(input.value(), "ada@gmail.com");
    assert!(w.root().query_selector("[data-testid=email-suggestion]").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn answers_reach_event_details_only_when_the_config_allows() {
    for (allow, want_fields) in [(false, false), (true, true)] {
        let config = CONFIG.replacen(
            "\"form_id\": \"t\",",
            &format!("\"form_id\": \"t\", \"delivery\": {{\"events_include_fields\": {allow}}},"),
            1,
        );
        let w = Mounted::new(&config);
        let details = js_sys::Array::new();
        let record = {
            let details = details.clone();
            wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::CustomEvent)>::new(
                move |e: web_sys::CustomEvent| {
                    details.push(&e.detail());
                },
            )
        };
        w.host
            .add_event_listener_with_callback("leadgate:submit", record.as_ref().unchecked_ref())
            .unwrap();
        tick().await;
        w.input("#lg-email", "ada@example.com");
        w.find("#lg-ok").unchecked_into::<web_sys::HtmlElement>().click();
        w.submit();
        tick().await;
        assert_eq!(details.length(), 1);
        let detail = details.get(0);
        let fields = js_sys::Reflect::get(&detail, &"fields".into()).unwrap();
        assert_eq!(!fields.is_undefined(), want_fields, "events_include_fields: {allow}");
        if want_fields {
            let email = js_sys::Reflect::get(&fields, &"email".into()).unwrap();
            assert_eq!(email.as_string().as_deref(), Some("ada@example.com"));
        }
        drop(record);
    }
}

mod timing {
    use leadgate_core::{score, FieldValue, FormConfig, Lead, PageView, Timestamp, VisitorContext};

    include!("../crates/leadgate-core/benches/shared/model.rs");

    /// Not a timed test: it reports how long scoring takes in the browser (the first call,
    /// then the mean of 200) for the benchmark's 100-rule model, and only fails when scoring
    /// is absurdly slow. `cargo test --target wasm32-unknown-unknown --test web -- --nocapture`.
    #[wasm_bindgen_test::wasm_bindgen_test]
    fn scoring_in_the_browser() {
        let performance = web_sys::window().unwrap().performance().unwrap();
        let config = model();
        let (lead, context) = input();
        let start = performance.now();
        let first = score(&lead, &context, &config.scoring, Timestamp(NOW));
        let first_ms = performance.now() - start;
        let start = performance.now();
        for _ in 0..200 {
            score(&lead, &context, &config.scoring, Timestamp(NOW));
        }
        let mean_us = (performance.now() - start) / 200.0 * 1000.0;
        web_sys::console::log_1(
            &format!("score in the browser: first call {first_ms:.3} ms, then {mean_us:.1} us each ({} hits)", first.hits.len()).into(),
        );
        assert!(first.hits.len() > 30);
        assert!(first_ms < 100.0, "the first score took {first_ms} ms");
    }
}
