//! Smart forms end to end (issue 13): a three-step form with a conditional question, a step
//! skipped on an answer, a question required on the live score, Back that keeps answers, a
//! reload mid-form that keeps them, and a bad logic config that says where it is wrong.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

#[allow(dead_code)]
mod support;

use serde_json::{json, Value};
use support::webdriver::Browser;
use support::{landing_page, wait_phase, Relay, EVENTS_JS};

/// Three steps: about you (with "Your role" only for role "other"), the company (skipped for
/// students), and the last step (a phone number required from 50 points on).
fn steps_config() -> Value {
    json!({
        "form_id": "smart", "endpoint": "/v1/leads", "title": "Book a demo",
        "fields": [
            {"name": "name", "type": "text", "label": "Full name", "required": true},
            {"name": "email", "type": "email", "label": "Work e-mail", "required": true},
            {"name": "role", "type": "select", "label": "Role", "required": true,
             "options": [{"value": "founder"}, {"value": "marketing"}, {"value": "student"},
                         {"value": "other", "label": "Something else"}]},
            {"name": "role_other", "type": "text", "label": "Your role",
             "show_if": {"op": "equals", "field": "role", "value": "other"},
             "required_if": {"op": "equals", "field": "role", "value": "other"}},
            {"name": "employees", "type": "select", "label": "Company size",
             "options": [{"value": "1-10"}, {"value": "11-200"}, {"value": "1000+"}]},
            {"name": "phone", "type": "tel", "label": "Phone",
             "required_if": {"op": "score_at_least", "points": 50}},
            {"name": "consent", "type": "consent", "label": "You may contact me about my request.",
             "version": "2026-11", "required": true}
        ],
        "steps": [
            {"title": "About you", "fields": ["name", "email", "role", "role_other"]},
            {"title": "Your company", "fields": ["employees"],
             "show_if": {"op": "not", "condition": {"op": "equals", "field": "role", "value": "student"}}},
            {"title": "Almost done", "fields": ["phone", "consent"]}
        ],
        "scoring": {"rules": [
            {"id": "founder", "points": 20, "when": {"op": "equals", "field": "role", "value": "founder"}},
            {"id": "enterprise", "points": 40, "when": {"op": "equals", "field": "employees", "value": "1000+"}},
            {"id": "student", "points": -30, "when": {"op": "equals", "field": "role", "value": "student"}}
        ]}
    })
}

fn page_with(config: &Value) -> String {
    landing_page(&format!(
        "<div data-leadgate data-config=\"#smart\"></div>\
         <script type=\"application/json\" id=\"smart\">{config}</script>"
    ))
}

/// The relay serving `config` on its index page, and a browser on it once the form shows.
fn start(config: &Value) -> (Relay, Browser) {
    let relay = Relay::start(&[("index.html", page_with(config)), ("events.js", EVENTS_JS.into())]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-name");
    (relay, browser)
}

/// A value read in the widget's shadow root by `script` (`r` is the root).
fn read(browser: &Browser, script: &str) -> Value {
    browser.exec(
        &(String::from("const r = document.querySelector('[data-leadgate]').shadowRoot; ")
            + script),
        json!([]),
    )
}

/// Whether the field `name` is shown: on the current step and not hidden by its condition.
fn shown(browser: &Browser, name: &str) -> bool {
    read(
        browser,
        &format!(
            "const e = r.getElementById('lg-{name}');
             return !!e && e.getClientRects().length > 0
                 && getComputedStyle(e).visibility === 'visible';"
        ),
    ) == json!(true)
}

fn progress(browser: &Browser) -> String {
    read(browser, "return r.querySelector('[data-testid=progress]').textContent;")
        .as_str()
        .unwrap()
        .to_string()
}

fn submit_text(browser: &Browser) -> String {
    read(browser, "return r.querySelector('[data-testid=submit]').textContent.trim();")
        .as_str()
        .unwrap()
        .to_string()
}

fn next(browser: &Browser) {
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
}

fn choose(browser: &Browser, field: &str, value: &str) {
    browser.click(&browser.widget_element(0, &format!("#lg-{field} option[value='{value}']")));
}

/// The errors shown, as the ids of the fields they belong to.
fn errors(browser: &Browser) -> Value {
    read(
        browser,
        "return [...r.querySelectorAll('[data-testid=field-error]')]
             .filter(e => e.getClientRects().length > 0).map(e => e.id.replace('-error', ''));",
    )
}

/// Waits until the progress line reads `want`.
fn wait_progress(browser: &Browser, want: &str) {
    browser.wait_for(
        want,
        10,
        "const r = document.querySelector('[data-leadgate]').shadowRoot;
         return r.querySelector('[data-testid=progress]').textContent === arguments[0];",
        json!([want]),
    );
}

/// The text of what has the focus in the widget (the step's heading after Next and Back).
fn wait_focus_on(browser: &Browser, text: &str) {
    browser.wait_for(
        &format!("focus on {text:?}"),
        10,
        "const a = document.querySelector('[data-leadgate]').shadowRoot.activeElement;
         return !!a && a.textContent === arguments[0];",
        json!([text]),
    );
}

#[test]
fn a_three_step_form_asks_step_by_step_and_sends_only_what_it_showed() {
    let (relay, browser) = start(&steps_config());
    assert_eq!(progress(&browser), "Step 1 of 3");
    assert_eq!(submit_text(&browser), "Next");
    assert!(!shown(&browser, "role_other"), "shown only for role 'other'");
    assert!(!shown(&browser, "employees"), "on step 2");
    support::axe(&browser, "{ include: [['[data-leadgate]']] }", "step 1");
    // Next checks this step only.
    next(&browser);
    browser.widget_element(0, "#lg-name-error");
    assert_eq!(errors(&browser), json!(["lg-name", "lg-email", "lg-role"]));
    support::axe(&browser, "{ include: [['[data-leadgate]']] }", "step 1 with errors");
    browser.type_into(&browser.widget_element(0, "#lg-name"), "Ada Lovelace");
    browser.type_into(&browser.widget_element(0, "#lg-email"), "ada@analytical.example");
    choose(&browser, "role", "other");
    assert!(shown(&browser, "role_other"), "the conditional question appears");
    next(&browser);
    browser.widget_element(0, "#lg-role_other-error");
    assert_eq!(errors(&browser), json!(["lg-role_other"]), "required when shown");
    browser.type_into(&browser.widget_element(0, "#lg-role_other"), "Chief of staff");
    // Changed back: the typed answer is neither required, shown nor sent.
    choose(&browser, "role", "founder");
    assert!(!shown(&browser, "role_other"));
    // Enter in a field moves on, like Next.
    browser.press_enter(&browser.widget_element(0, "#lg-email"));
    wait_progress(&browser, "Step 2 of 3");
    wait_focus_on(&browser, "Your company");
    assert!(shown(&browser, "employees") && !shown(&browser, "name"));
    support::axe(&browser, "{ include: [['[data-leadgate]']] }", "step 2");
    choose(&browser, "employees", "1000+");
    // Back keeps the answers.
    browser.click(&browser.widget_element(0, "[data-testid=back]"));
    wait_progress(&browser, "Step 1 of 3");
    wait_focus_on(&browser, "About you");
    assert_eq!(read(&browser, "return r.getElementById('lg-name').value;"), "Ada Lovelace");
    next(&browser);
    wait_progress(&browser, "Step 2 of 3");
    assert_eq!(read(&browser, "return r.getElementById('lg-employees').value;"), "1000+");
    next(&browser);
    wait_progress(&browser, "Step 3 of 3");
    assert_eq!(submit_text(&browser), "Send");
    support::axe(&browser, "{ include: [['[data-leadgate]']] }", "step 3");
    browser.click(&browser.widget_element(0, "#lg-consent"));
    // 20 + 40 points: the phone number is required now.
    next(&browser);
    browser.widget_element(0, "#lg-phone-error");
    assert_eq!(errors(&browser), json!(["lg-phone"]));
    browser.type_into(&browser.widget_element(0, "#lg-phone"), "+49 30 1234567");
    next(&browser);
    wait_phase(&browser, 0, "sent", 20);
    let leads = relay.leads();
    assert_eq!(leads.len(), 1);
    let fields = &leads[0]["payload"]["fields"];
    let mut names: Vec<&str> = fields.as_object().unwrap().keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["consent", "email", "employees", "name", "phone", "role"], "{fields}");
    assert_eq!(leads[0]["payload"]["score"]["total"], 60);
    // Nothing of the form is kept once it is sent.
    let kept = browser.exec("return localStorage.getItem('leadgate:draft:smart');", json!([]));
    assert_eq!(kept, Value::Null);
}

#[test]
fn a_student_skips_the_company_step_and_its_answers_are_not_sent() {
    let mut config = steps_config();
    // Every lead qualifies, so that the student's reaches the relay too.
    config["scoring"]["threshold"] = json!(-100);
    let (relay, browser) = start(&config);
    browser.type_into(&browser.widget_element(0, "#lg-name"), "Sam Student");
    browser.type_into(&browser.widget_element(0, "#lg-email"), "sam@uni.example");
    choose(&browser, "role", "founder");
    next(&browser);
    wait_progress(&browser, "Step 2 of 3");
    choose(&browser, "employees", "1000+");
    browser.click(&browser.widget_element(0, "[data-testid=back]"));
    wait_progress(&browser, "Step 1 of 3");
    choose(&browser, "role", "student");
    wait_progress(&browser, "Step 1 of 2");
    next(&browser);
    wait_progress(&browser, "Step 2 of 2");
    wait_focus_on(&browser, "Almost done");
    browser.click(&browser.widget_element(0, "#lg-consent"));
    next(&browser);
    wait_phase(&browser, 0, "sent", 20);
    let payload = &relay.leads()[0]["payload"];
    assert!(payload["fields"].get("employees").is_none(), "{payload}");
    assert_eq!(payload["score"]["total"], -30, "the skipped step's answer is not scored");
}

#[test]
fn a_reload_mid_form_keeps_the_answers_and_the_step() {
    let (relay, browser) = start(&steps_config());
    browser.type_into(&browser.widget_element(0, "#lg-name"), "Ada Lovelace");
    browser.type_into(&browser.widget_element(0, "#lg-email"), "ada@analytical.example");
    choose(&browser, "role", "marketing");
    next(&browser);
    wait_progress(&browser, "Step 2 of 3");
    choose(&browser, "employees", "11-200");
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-name");
    wait_progress(&browser, "Step 2 of 3");
    assert_eq!(read(&browser, "return r.getElementById('lg-employees').value;"), "11-200");
    assert_eq!(read(&browser, "return r.getElementById('lg-name').value;"), "Ada Lovelace");
    next(&browser);
    wait_progress(&browser, "Step 3 of 3");
    browser.click(&browser.widget_element(0, "#lg-consent"));
    next(&browser);
    wait_phase(&browser, 0, "sent", 20);
    let payload = &relay.leads()[0]["payload"];
    assert_eq!(payload["fields"]["email"], "ada@analytical.example");
    assert_eq!(payload["fields"]["employees"], "11-200");
}

/// The three-step form between two buttons of the host page (`#before`, `#after`), so that a
/// walk with Tab has a known start and end in every engine.
fn page_between_buttons(config: &Value) -> String {
    landing_page(&format!(
        "<button type=\"button\" id=\"before\">Before</button>\
         <div data-leadgate data-config=\"#smart\"></div>\
         <script type=\"application/json\" id=\"smart\">{config}</script>\
         <button type=\"button\" id=\"after\">After</button>"
    ))
}

/// Where the keyboard focus is: `before` or `after` (the page's buttons), else the element in
/// the widget as `<step>:<id>` (`<step>` is its step's `data-step`, with `hidden ` in front when
/// that step is not the one shown) or `nav:<data-testid>` for Back and Next.
fn focused(browser: &Browser) -> String {
    let at = browser.exec(
        "const h = document.querySelector('[data-leadgate]');
         const d = document.activeElement;
         if (d !== h) return d ? d.id || d.tagName : 'none';
         const a = h.shadowRoot.activeElement;
         if (!a) return 'none';
         const step = a.closest('.lg-step');
         const where = step
             ? (step.classList.contains('lg-away') ? 'hidden ' : '') + step.dataset.step
             : a.closest('.lg-nav') ? 'nav' : 'widget';
         return where + ':' + (a.id || a.dataset.testid || a.tagName);",
        json!([]),
    );
    at.as_str().unwrap().to_string()
}

/// Presses Tab (Shift+Tab when `backwards`) until the focus reaches the page's button after
/// (before) the widget; returns every place the focus went on the way, in order.
fn tab_through(browser: &Browser, backwards: bool) -> Vec<String> {
    let (tab, end) = ("\u{E004}", if backwards { "before" } else { "after" });
    let mut visited = Vec::new();
    for _ in 0..12 {
        if backwards {
            browser.shift_keys(tab);
        } else {
            browser.keys(tab);
        }
        let at = focused(browser);
        if at == end {
            return visited;
        }
        visited.push(at);
    }
    panic!("Tab never reached #{end}: {visited:?}");
}

/// Tabs through the whole step shown, forwards then backwards (ending on `#before`), and checks
/// that the focus stops on exactly `stops` (in order) and nothing else of the widget: nothing of
/// a step not shown.
fn tab_through_step(browser: &Browser, stops: &[&str]) {
    assert_eq!(tab_through(browser, false), stops, "Tab through the step shown");
    let back: Vec<&str> = stops.iter().rev().copied().collect();
    assert_eq!(tab_through(browser, true), back, "Shift+Tab through the step shown");
}

#[test]
fn a_keyboard_alone_goes_through_every_step_back_and_submits() {
    let relay = Relay::start(&[
        ("index.html", page_between_buttons(&steps_config())),
        ("events.js", EVENTS_JS.into()),
    ]);
    // Real key presses: the window must keep the keyboard focus.
    let browser = Browser::from_env_focused();
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-name");
    let (tab, enter, down) = ("\u{E004}", "\u{E007}", "\u{E015}");
    let value = |id: &str| read(&browser, &format!("return r.getElementById('{id}').value;"));
    let expect_focus = |want: &str| assert_eq!(focused(&browser), want);
    browser.keys(tab);
    expect_focus("before");
    // Step 1: its three questions and Next (no Back on the first step, no "Your role" unless
    // the role is "other").
    tab_through_step(&browser, &["0:lg-name", "0:lg-email", "0:lg-role", "nav:submit"]);
    browser.keys(tab);
    expect_focus("0:lg-name");
    browser.keys("Ada Lovelace");
    browser.keys(tab);
    browser.keys("ada@analytical.example");
    browser.keys(tab);
    expect_focus("0:lg-role");
    browser.keys("f"); // "founder", typed to choose
    assert_eq!(value("lg-role"), "founder");
    browser.keys(tab);
    expect_focus("nav:submit");
    browser.keys(enter);
    wait_progress(&browser, "Step 2 of 3");
    wait_focus_on(&browser, "Your company");
    // Step 2: from its heading, the one question, Back and Next; step 1 (before it in the
    // page) and step 3 (after it) are out of reach.
    tab_through_step(&browser, &["1:lg-employees", "nav:back", "nav:submit"]);
    browser.keys(tab);
    expect_focus("1:lg-employees");
    browser.keys(&down.repeat(3)); // "1000+", chosen with the arrow keys
    assert_eq!(value("lg-employees"), "1000+");
    // Back, by keyboard, keeps the answers.
    browser.keys(tab);
    expect_focus("nav:back");
    browser.keys(enter);
    wait_progress(&browser, "Step 1 of 3");
    wait_focus_on(&browser, "About you");
    assert_eq!(
        [value("lg-name"), value("lg-email"), value("lg-role")],
        [json!("Ada Lovelace"), json!("ada@analytical.example"), json!("founder")]
    );
    tab_through_step(&browser, &["0:lg-name", "0:lg-email", "0:lg-role", "nav:submit"]);
    // Enter in a field moves on too.
    browser.keys(tab);
    expect_focus("0:lg-name");
    browser.keys(enter);
    wait_progress(&browser, "Step 2 of 3");
    wait_focus_on(&browser, "Your company");
    assert_eq!(value("lg-employees"), "1000+", "kept across Back and Next");
    browser.keys(&tab.repeat(3));
    expect_focus("nav:submit");
    browser.keys(enter);
    wait_progress(&browser, "Step 3 of 3");
    wait_focus_on(&browser, "Almost done");
    assert_eq!(submit_text(&browser), "Send");
    tab_through_step(&browser, &["2:lg-phone", "2:lg-consent", "nav:back", "nav:submit"]);
    browser.keys(&tab.repeat(2));
    expect_focus("2:lg-consent");
    browser.keys(" "); // Space ticks the consent box
    assert_eq!(read(&browser, "return r.getElementById('lg-consent').checked;"), true);
    browser.keys(&tab.repeat(2));
    expect_focus("nav:submit");
    // 20 + 40 points: the phone is required now; Send says so and puts the focus there.
    browser.keys(enter);
    browser.widget_element(0, "#lg-phone-error");
    assert_eq!(errors(&browser), json!(["lg-phone"]));
    expect_focus("2:lg-phone");
    browser.keys("+49 30 1234567");
    browser.keys(enter);
    wait_phase(&browser, 0, "sent", 20);
    let leads = relay.leads();
    assert_eq!(leads.len(), 1);
    let payload = &leads[0]["payload"];
    let fields = &payload["fields"];
    assert_eq!(
        [&fields["name"], &fields["email"], &fields["role"], &fields["employees"]],
        [
            &json!("Ada Lovelace"),
            &json!("ada@analytical.example"),
            &json!("founder"),
            &json!("1000+")
        ],
        "{payload}"
    );
    assert_eq!((&fields["phone"], &fields["consent"]), (&json!("+49 30 1234567"), &json!(true)));
    assert_eq!(payload["score"]["total"], 60);
}

#[test]
fn on_a_right_to_left_page_the_steps_are_mirrored_and_pass_axe() {
    let mut config = steps_config();
    config["texts"] = json!({"next": "التالي", "back": "السابق", "submit": "إرسال",
                             "step_of": "الخطوة {n} من {total}"});
    // An Arabic landing page: the widget takes its language, and so its direction, from it.
    let page = page_with(&config).replace("<html lang=\"en\">", "<html lang=\"ar\" dir=\"rtl\">");
    let relay = Relay::start(&[("index.html", page), ("events.js", EVENTS_JS.into())]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-name");
    let check = |n: usize| {
        let step = format!("step {n}");
        let state = read(
            &browser,
            "const w = r.querySelector('.lg-widget');
             const box = e => e && e.getClientRects().length > 0 ? e.getBoundingClientRect() : null;
             const next = box(r.querySelector('[data-testid=submit]'));
             const back = box(r.querySelector('[data-testid=back]'));
             const page = document.scrollingElement;
             return { dir: w.getAttribute('dir'), direction: getComputedStyle(w).direction,
                      progress: r.querySelector('[data-testid=progress]').textContent,
                      next: r.querySelector('[data-testid=submit]').textContent.trim(),
                      back: back && r.querySelector('[data-testid=back]').textContent.trim(),
                      next_left: next && next.left, next_right: next && next.right,
                      back_left: back && back.left, back_right: back && back.right,
                      sideways: page.scrollWidth - page.clientWidth };",
        );
        assert_eq!((&state["dir"], &state["direction"]), (&json!("rtl"), &json!("rtl")), "{step}");
        assert_eq!(state["progress"], format!("الخطوة {n} من 3"), "{step}");
        assert_eq!(state["next"], if n < 3 { "التالي" } else { "إرسال" }, "{step}");
        assert!(state["next_right"].is_number(), "Next is shown on {step}: {state}");
        if n == 1 {
            assert_eq!(state["back"], Value::Null, "no Back on the first step");
        } else {
            assert_eq!(state["back"], "السابق", "{step}");
            // Mirrored: Back comes first on the reading side (the right), Next after it.
            let (next_right, back_left) =
                (state["next_right"].as_f64().unwrap(), state["back_left"].as_f64().unwrap());
            assert!(next_right <= back_left, "Next is on the left of Back on {step}: {state}");
        }
        assert!(state["sideways"].as_f64().unwrap() <= 0.0, "no sideways scroll: {state}");
        support::axe(&browser, "{ include: [['[data-leadgate]']] }", &format!("RTL {step}"));
    };
    check(1);
    browser.type_into(&browser.widget_element(0, "#lg-name"), "Ada Lovelace");
    browser.type_into(&browser.widget_element(0, "#lg-email"), "ada@analytical.example");
    choose(&browser, "role", "founder");
    next(&browser);
    wait_progress(&browser, "الخطوة 2 من 3");
    check(2);
    choose(&browser, "employees", "11-200");
    next(&browser);
    wait_progress(&browser, "الخطوة 3 من 3");
    check(3);
    browser.click(&browser.widget_element(0, "#lg-consent"));
    next(&browser);
    wait_phase(&browser, 0, "sent", 20);
    support::axe(&browser, "{ include: [['[data-leadgate]']] }", "RTL sent");
    let payload = &relay.leads()[0]["payload"];
    assert_eq!(payload["fields"]["employees"], "11-200", "{payload}");
}

#[test]
fn a_bad_logic_config_shows_its_error_in_place() {
    let mut config = steps_config();
    // "name" asked first would depend on "role", asked after it.
    config["fields"][0]["show_if"] = json!({"op": "present", "field": "role"});
    let relay =
        Relay::start(&[("index.html", page_with(&config)), ("events.js", EVENTS_JS.into())]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    let message = browser.wait_for(
        "the config error box",
        20,
        "const h = document.querySelector('[data-leadgate]');
         const box = h && h.shadowRoot && h.shadowRoot.querySelector('[part=config-error]');
         return box && box.textContent;",
        json!([]),
    );
    let message = message.as_str().unwrap();
    assert!(message.contains("fields[0].show_if"), "{message}");
    assert!(
        message.contains("the condition reads \"role\", which is asked after \"name\""),
        "{message}"
    );
    assert_eq!(
        browser.exec(
            "return document.querySelector('[data-leadgate]').dataset.leadgateState;",
            json!([])
        ),
        "error"
    );
}

fn prefill_config() -> Value {
    json!({
        "form_id": "prefill", "endpoint": "/v1/leads",
        "fields": [
            {"name": "name", "type": "text", "label": "Full name", "required": true},
            {"name": "email", "type": "email", "label": "Work e-mail", "required": true,
             "prefill": {"query": "email"}},
            {"name": "employees", "type": "select", "label": "Company size",
             "options": [{"value": "1-10"}, {"value": "1000+"}], "prefill": {"query": "size"}},
            {"name": "campaign", "type": "hidden", "prefill": {"context": "utm_campaign"}},
            {"name": "consent", "type": "consent", "label": "You may contact me.",
             "version": "1", "required": true}
        ]
    })
}

#[test]
fn answers_are_prefilled_from_the_query_the_element_and_the_js_api() {
    let config = prefill_config();
    let api_js = "(function wait() {
        if (!window.leadgate || !window.leadgate.ready) { return setTimeout(wait, 20); }
        window.leadgate.ready.then(function (lg) {
          var config = JSON.parse(document.getElementById('prefill').textContent);
          lg.mount(document.getElementById('spa'), config,
                   { values: { email: 'grace@navy.example', name: 'Grace Hopper' } });
        });
      })();";
    let page = landing_page(&format!(
        "<div data-leadgate data-config=\"#prefill\" data-prefill-name=\"Ada Lovelace\"></div>\
         <script type=\"application/json\" id=\"prefill\">{config}</script>"
    ));
    let spa = landing_page(&format!(
        "<div id=\"spa\"></div><script type=\"application/json\" id=\"prefill\">{config}</script>\
         <script src=\"api.js\"></script>"
    ));
    let relay = Relay::start(&[
        ("index.html", page),
        ("spa.html", spa),
        ("api.js", api_js.into()),
        ("events.js", EVENTS_JS.into()),
    ]);
    let browser = Browser::from_env();
    // A bad address in the link: prefilled answers are checked like typed ones.
    browser.goto(&format!("{}/?email=ada%40&size=1000%2B&utm_campaign=winter", relay.url));
    browser.widget_element(0, "#lg-email");
    assert_eq!(read(&browser, "return r.getElementById('lg-name').value;"), "Ada Lovelace");
    assert_eq!(read(&browser, "return r.getElementById('lg-email').value;"), "ada@");
    assert_eq!(read(&browser, "return r.getElementById('lg-employees').value;"), "1000+");
    browser.click(&browser.widget_element(0, "#lg-consent"));
    next(&browser);
    browser.widget_element(0, "#lg-email-error");
    assert_eq!(errors(&browser), json!(["lg-email"]));
    browser.type_into(&browser.widget_element(0, "#lg-email"), "analytical.example");
    next(&browser);
    wait_phase(&browser, 0, "sent", 20);
    let payload = &relay.leads()[0]["payload"];
    assert_eq!(payload["fields"]["email"], "ada@analytical.example");
    assert_eq!(payload["fields"]["campaign"], "winter");
    // The e-mail was corrected by the visitor: typed, not prefilled.
    assert_eq!(payload["prefilled"], json!(["name", "employees", "campaign"]), "{payload}");
    // The JS API's values.
    browser.goto(&format!("{}/spa.html", relay.url));
    let email = browser.wait_for(
        "the JS API's prefill",
        20,
        "const h = document.getElementById('spa');
         const e = h.shadowRoot && h.shadowRoot.getElementById('lg-email');
         return e && e.value;",
        json!([]),
    );
    assert_eq!(email, "grace@navy.example");
}

#[test]
fn a_returning_visitor_is_not_asked_again_and_gets_the_next_queued_question() {
    let config = json!({
        "form_id": "returning", "endpoint": "/v1/leads",
        "fields": [
            {"name": "name", "type": "text", "label": "Full name", "required": true, "remember": true},
            {"name": "email", "type": "email", "label": "Work e-mail", "required": true, "remember": true},
            {"name": "phone", "type": "tel", "label": "Phone"},
            {"name": "budget", "type": "select", "label": "Budget",
             "options": [{"value": "small"}, {"value": "big"}]},
            {"name": "timeline", "type": "text", "label": "Timeline"},
            {"name": "consent", "type": "consent", "label": "You may contact me.",
             "version": "1", "required": true}
        ],
        "progressive": {"ask_at_most": 1, "queue": ["phone", "budget", "timeline"]}
    });
    let (relay, browser) = start(&config);
    assert!(shown(&browser, "phone") && !shown(&browser, "budget") && !shown(&browser, "timeline"));
    browser.type_into(&browser.widget_element(0, "#lg-name"), "Ada Lovelace");
    browser.type_into(&browser.widget_element(0, "#lg-email"), "ada@analytical.example");
    browser.type_into(&browser.widget_element(0, "#lg-phone"), "+49 30 1234567");
    browser.click(&browser.widget_element(0, "#lg-consent"));
    next(&browser);
    wait_phase(&browser, 0, "sent", 20);
    // The next visit: name, e-mail and phone are known; the queue asks the budget.
    browser.goto(&relay.url);
    browser.widget_element(0, "[data-testid=known]");
    let text = read(&browser, "return r.querySelector('[data-testid=known]').textContent;");
    assert!(text.as_str().unwrap().contains("Full name, Work e-mail, Phone"), "{text}");
    assert!(!shown(&browser, "name") && !shown(&browser, "email") && !shown(&browser, "phone"));
    assert!(shown(&browser, "budget") && !shown(&browser, "timeline"));
    support::axe(&browser, "{ include: [['[data-leadgate]']] }", "a returning visitor");
    choose(&browser, "budget", "big");
    browser.click(&browser.widget_element(0, "#lg-consent"));
    next(&browser);
    wait_phase(&browser, 0, "sent", 20);
    let leads = relay.leads();
    let payload = &leads[0]["payload"];
    assert_eq!(payload["fields"]["email"], "ada@analytical.example", "{payload}");
    assert_eq!(payload["fields"]["phone"], "+49 30 1234567");
    assert_eq!(payload["fields"]["budget"], "big");
    assert_eq!(payload["remembered"], json!(["name", "email", "phone"]));
    // "Not you?" forgets them and asks again.
    browser.goto(&relay.url);
    browser.click(&browser.widget_element(0, "[data-testid=not-you]"));
    browser.wait_for(
        "the name asked again",
        10,
        "const e = document.querySelector('[data-leadgate]').shadowRoot.getElementById('lg-name');
         return e.getClientRects().length > 0 && e.value === '';",
        json!([]),
    );
    assert!(shown(&browser, "phone"), "the queue starts over");
    let kept = browser.exec("return localStorage.getItem('leadgate:known');", json!([]));
    assert_eq!(kept, Value::Null);
}

#[test]
fn a_high_fit_lead_is_offered_a_meeting_a_student_is_sent_to_resources() {
    let config = json!({
        "form_id": "endings", "endpoint": "/v1/leads",
        "fields": [
            {"name": "name", "type": "text", "label": "Full name", "required": true},
            {"name": "role", "type": "select", "label": "Role", "required": true,
             "options": [{"value": "founder"}, {"value": "marketing"}, {"value": "student"}]},
            {"name": "employees", "type": "select", "label": "Company size",
             "options": [{"value": "1-10"}, {"value": "1000+"}]}
        ],
        "endings": [
            {"when": {"op": "score_at_least", "points": 50}, "text": "Pick a time for your demo.",
             "link": {"url": "https://meet.example.com/ada", "text": "Book a meeting"}},
            {"when": {"op": "equals", "field": "role", "value": "student"},
             "redirect": "/students.html"},
            {"text": "Thanks! We'll write soon."}
        ],
        "scoring": {"threshold": -100, "rules": [
            {"id": "founder", "points": 20, "when": {"op": "equals", "field": "role", "value": "founder"}},
            {"id": "enterprise", "points": 40, "when": {"op": "equals", "field": "employees", "value": "1000+"}},
            {"id": "student", "points": -30, "when": {"op": "equals", "field": "role", "value": "student"}}
        ]}
    });
    let relay = Relay::start(&[
        ("index.html", page_with(&config)),
        ("students.html", landing_page("<p id=\"resources\">Resources for students</p>")),
        ("events.js", EVENTS_JS.into()),
    ]);
    let browser = Browser::from_env();
    let status = |browser: &Browser| {
        read(browser, "return r.querySelector('[data-testid=status]').textContent;")
    };
    // High fit: the meeting link.
    browser.goto(&relay.url);
    browser.type_into(&browser.widget_element(0, "#lg-name"), "Ada Lovelace");
    choose(&browser, "role", "founder");
    choose(&browser, "employees", "1000+");
    next(&browser);
    wait_phase(&browser, 0, "sent", 20);
    assert_eq!(status(&browser), "Pick a time for your demo.");
    let href = read(&browser, "return r.querySelector('[data-testid=ending-link]').href;");
    assert_eq!(href, "https://meet.example.com/ada");
    support::axe(&browser, "{ include: [['[data-leadgate]']] }", "the meeting ending");
    // Anyone else: the fallback text, no link.
    browser.goto(&relay.url);
    browser.type_into(&browser.widget_element(0, "#lg-name"), "Mia Marketing");
    choose(&browser, "role", "marketing");
    next(&browser);
    wait_phase(&browser, 0, "sent", 20);
    assert_eq!(status(&browser), "Thanks! We'll write soon.");
    assert_eq!(read(&browser, "return !!r.querySelector('[data-testid=ending-link]');"), false);
    // A student: sent to the resources page once the lead is delivered.
    browser.goto(&relay.url);
    browser.type_into(&browser.widget_element(0, "#lg-name"), "Sam Student");
    choose(&browser, "role", "student");
    next(&browser);
    browser.wait_for(
        "the students' page",
        20,
        "return location.pathname === '/students.html' && !!document.getElementById('resources');",
        json!([]),
    );
    assert_eq!(relay.leads().len(), 3, "every lead was delivered before the redirect");
}
