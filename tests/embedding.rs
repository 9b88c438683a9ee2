//! Embeds anywhere, end to end: loading modes, the JS API for single-page apps, style
//! isolation on a hostile page, theming, languages and direction, accessibility (axe-core,
//! keyboard only, 320 px), all under the relay's strict CSP.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)] // a test that cannot set up should fail loudly

#[allow(dead_code)]
mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::webdriver::{Browser, Engine};
use support::{demo_config, fill_as_ada, Relay, EVENTS_JS};

fn page(head: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <link rel=\"icon\" href=\"data:,\"><title>embedding test</title>{head}</head>\
         <body><main><h1>Embedding test</h1>{body}</main></body></html>"
    )
}

/// A page with one widget (the demo config) and the script loaded `async`; `head` goes in
/// `<head>`.
fn widget_page(head: &str) -> String {
    page(head, &(mount_point("") + "<script async src=\"leadgate.js\"></script>"))
}

fn mount_point(extra: &str) -> String {
    format!(
        "<div data-leadgate data-config=\"#contact\"{extra}></div>\
         <script type=\"application/json\" id=\"contact\">{}</script>",
        demo_config()
    )
}

fn file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pages").join(name))
        .unwrap()
}

fn forms_in_widget(browser: &Browser) -> Value {
    browser.exec(
        "return Array.from(document.querySelectorAll('[data-leadgate]'))
            .map(h => h.shadowRoot ? h.shadowRoot.querySelectorAll('form').length : 0);",
        json!([]),
    )
}

fn csp_violations(browser: &Browser) -> Vec<Value> {
    let seen = browser.exec("return window.seen || [];", json!([]));
    seen.as_array().unwrap().iter().filter(|e| e["type"] == "csp-violation").cloned().collect()
}

#[test]
fn the_script_works_async_defer_as_a_module_and_before_the_mount_element() {
    let events = "<script src=\"events.js\"></script>";
    let pages = [
        ("async.html", widget_page(events)),
        (
            "defer.html",
            page(
                &(events.to_string() + "<script defer src=\"leadgate.js\"></script>"),
                &mount_point(""),
            ),
        ),
        (
            "module.html",
            page(
                events,
                &(mount_point("") + "<script type=\"module\" src=\"leadgate.js\"></script>"),
            ),
        ),
        (
            "head-async.html",
            page(
                &(events.to_string() + "<script async src=\"leadgate.js\"></script>"),
                &mount_point(""),
            ),
        ),
        (
            "nested/deeper/page.html",
            page(
                "<script src=\"../../events.js\"></script>",
                &(mount_point("") + "<script async src=\"../../leadgate.js\"></script>"),
            ),
        ),
    ];
    let mut files: Vec<(&str, String)> = pages.iter().map(|(n, p)| (*n, p.clone())).collect();
    files.push(("events.js", EVENTS_JS.into()));
    let relay = Relay::start(&files);
    let browser = Browser::from_env();
    for (name, _) in &pages {
        browser.goto(&format!("{}/{name}", relay.url));
        browser.widget_element(0, "#lg-email");
        assert_eq!(forms_in_widget(&browser), json!([1]), "{name}");
        assert_eq!(csp_violations(&browser), Vec::<Value>::new(), "{name}");
    }
}

#[test]
fn single_page_apps_mount_and_unmount_through_the_js_api_without_leaks() {
    let body = "<div id=\"spa\"></div>".to_string()
        + &format!("<script type=\"application/json\" id=\"contact\">{}</script>", demo_config())
        + "<script src=\"spa.js\"></script><script async src=\"leadgate.js\"></script>";
    let relay = Relay::start(&[("index.html", page("", &body)), ("spa.js", file("spa.js"))]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    let results = browser.wait_for(
        "the SPA script",
        60,
        "return window.results.done && window.results;",
        json!([]),
    );
    println!("[js api] {results}");
    assert!(results["bad"].as_str().unwrap().contains("at `fields[0].type`"), "{results}");
    assert_eq!(results["missing"], Value::Null, "every mount rendered a form");
    assert_eq!(results["childrenAfterUnmount"], 0, "unmount leaves nothing behind");
    assert_eq!(results["stateAfterUnmount"], Value::Null);
    assert_eq!(results["remounted"], true);
    assert!(results["twice"].as_str().unwrap().contains("already holds a widget"));
    if let (Some(before), Some(after)) =
        (results["heapBefore"].as_f64(), results["heapAfter"].as_f64())
    {
        let growth = after - before;
        println!("[js api] JS heap after 100 mount/unmount cycles: {:+.0} KB", growth / 1024.0);
        assert!(growth < 1024.0 * 1024.0, "100 cycles grew the JS heap by {growth} bytes");
    } else if browser.engine() == Engine::Chromium {
        panic!("Chromium (--js-flags=--expose-gc) must report the JS heap: {results}");
    } else {
        // `performance.memory` and `window.gc` are Chromium-only: no heap figure to check.
        browser.skip_note("the JS-heap growth check (no performance.memory / window.gc)");
    }
}

#[test]
fn a_hostile_page_does_not_change_the_widget_and_the_widget_does_not_change_the_page() {
    // A short form, so that the whole widget is inside the viewport for the screenshot.
    let compact = json!({"form_id": "short", "endpoint": "/v1/leads", "title": "Talk to sales",
        "fields": [
            {"name": "email", "type": "email", "label": "Work e-mail", "required": true,
             "placeholder": "you@company.com", "help": "We reply within a day."},
            {"name": "size", "type": "select", "label": "Company size",
             "options": [{"value": "1-10"}, {"value": "11+"}]},
            {"name": "note", "type": "textarea", "label": "Note"},
            {"name": "consent", "type": "consent", "label": "You may contact me.", "version": "1",
             "required": true}]});
    let body = format!(
        "<div id=\"host\" data-leadgate data-config=\"#short\"></div>\
         <script type=\"application/json\" id=\"short\">{compact}</script>\
         <p id=\"outside\"><button id=\"page-button\">Page button</button></p>"
    );
    let plain = "<p id=\"outside\"><button id=\"page-button\">Page button</button></p>";
    let tail = "<script src=\"events.js\"></script><script async src=\"leadgate.js\"></script>";
    let relay = Relay::start(&[
        (
            "neutral.html",
            page("<link rel=\"stylesheet\" href=\"neutral.css\">", &(body.clone() + tail)),
        ),
        ("hostile.html", page("<link rel=\"stylesheet\" href=\"hostile.css\">", &(body + tail))),
        ("hostile-alone.html", page("<link rel=\"stylesheet\" href=\"hostile.css\">", plain)),
        // The hostile sheet's margin, border and padding on every `div` (13 + 5 + 21 px) move
        // the mount element's content box to (39, 39): the neutral page puts it there too, so
        // both renders are at the same spot in the viewport (WebKit's antialiasing can vary with the position).
        ("neutral.css", file("neutral.css") + "#host { padding: 39px 0 0 39px; }\n"),
        ("hostile.css", file("hostile.css")),
        ("events.js", EVENTS_JS.into()),
    ]);
    // The error state focuses the e-mail field: its focus ring is in both screenshots.
    let browser = Browser::from_env_focused();
    let shot = |name: &str| {
        browser.goto(&format!("{}/{name}", relay.url));
        let widget = browser.widget_element(0, ".lg-widget");
        browser.widget_element(0, "#lg-consent");
        // With an error shown too: error styles must hold up as well.
        browser.click(&browser.widget_element(0, "[data-testid=submit]"));
        browser.widget_element(0, "#lg-email-error");
        // The text caret blinks: hide it, or two identical renders differ by a cursor.
        browser.exec(
            "document.querySelector('[data-leadgate]').shadowRoot.querySelector('#lg-email')
                .style.setProperty('caret-color', 'transparent');",
            json!([]),
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        if browser.engine() == Engine::Webkit {
            // WebKitWebDriver (WebKitGTK 2.50) clips element screenshots wrongly: from the
            // viewport's left edge (an element at x = 39 comes back 39 px too wide, page and
            // all) and with its upper part black. Cut out of a viewport screenshot instead, two
            // loads of the same page compare equal but the antialiasing of rounded corners
            // varies by a step from run to run between pages: no stable pixel identity.
            return None;
        }
        Some(browser.element_screenshot(&widget))
    };
    let neutral = shot("neutral.html");
    let hostile = shot("hostile.html");
    if let (Some(neutral), Some(hostile)) = (neutral, hostile) {
        assert!(neutral.len() > 1000);
        if neutral != hostile {
            let dir = std::env::temp_dir();
            for (name, shot) in [("neutral", &neutral), ("hostile", &hostile)] {
                let path = dir.join(format!("leadgate-isolation-{name}.png.b64"));
                std::fs::write(&path, shot).unwrap();
            }
            panic!(
                "the widget renders differently on the hostile page (screenshots in {})",
                dir.display()
            );
        }
    } else {
        browser
            .skip_note("the pixel comparison (element screenshots are broken in WebKitWebDriver)");
    }
    assert_eq!(csp_violations(&browser), Vec::<Value>::new());
    let page_button = "const s = getComputedStyle(document.getElementById('page-button'));
        return [s.fontSize, s.color, s.padding, s.border, s.display, s.fontFamily].join('|');";
    let with_widget = browser.exec(page_button, json!([]));
    browser.goto(&format!("{}/hostile-alone.html", relay.url));
    assert_eq!(browser.exec(page_button, json!([])), with_widget, "the widget's CSS leaked out");
}

#[test]
fn marketers_theme_the_widget_with_custom_properties() {
    let relay = Relay::start(&[
        ("index.html", widget_page("<link rel=\"stylesheet\" href=\"themed.css\">")),
        ("themed.css", file("themed.css")),
    ]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    browser.widget_element(0, "[data-testid=submit]");
    let style = browser.exec(
        "const r = document.querySelector('[data-leadgate]').shadowRoot;
         const b = getComputedStyle(r.querySelector('[data-testid=submit]'));
         const i = getComputedStyle(r.querySelector('#lg-email'));
         return [b.backgroundColor, i.borderRadius, getComputedStyle(r.querySelector('.lg-root')).fontFamily];",
        json!([]),
    );
    assert_eq!(style, json!(["rgb(200, 0, 0)", "0px", "Georgia, serif"]));
}

#[test]
fn reduced_motion_stops_even_a_theme_s_transitions() {
    // The widget itself never moves; a marketer's theme may add motion through `::part`.
    let relay = Relay::start(&[
        ("index.html", widget_page("<link rel=\"stylesheet\" href=\"motion.css\">")),
        ("motion.css", "[data-leadgate]::part(submit) { transition: background-color 3s; }".into()),
    ]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    browser.widget_element(0, "[data-testid=submit]");
    let durations = || {
        browser.exec(
            "const r = document.querySelector('[data-leadgate]').shadowRoot;
             return Array.from(r.querySelectorAll('*'))
               .map(e => getComputedStyle(e))
               .flatMap(s => [s.transitionDuration, s.animationDuration])
               .filter(d => d.split(',').some(x => parseFloat(x) > 0));",
            json!([]),
        )
    };
    assert_eq!(durations(), json!(["3s"]), "the theme's transition applies");
    if !browser.prefer_reduced_motion() {
        browser.skip_note(
            "reduced_motion_stops_even_a_theme_s_transitions: WebDriver cannot emulate \
             prefers-reduced-motion in this engine (Chromium's DevTools only)",
        );
        return;
    }
    assert_eq!(durations(), json!([]), "no motion with prefers-reduced-motion: reduce");
}

#[test]
fn texts_follow_the_locale_and_right_to_left_is_honoured() {
    let mut german: Value = serde_json::from_str(&demo_config()).unwrap();
    german.as_object_mut().unwrap().remove("title");
    let arabic = json!({"form_id": "ar", "endpoint": "/v1/leads", "locale": "ar",
        "texts": {"submit": "إرسال"},
        "fields": [{"name": "email", "type": "email", "label": "البريد", "required": true}]});
    let body = format!(
        "<div data-leadgate data-config=\"#de\"></div>\
         <script type=\"application/json\" id=\"de\">{german}</script>\
         <div data-leadgate data-config=\"#ar\"></div>\
         <script type=\"application/json\" id=\"ar\">{arabic}</script>\
         <script async src=\"leadgate.js\"></script>"
    );
    let html = page("", &body).replace("<html lang=\"en\">", "<html lang=\"de\">");
    let relay = Relay::start(&[("index.html", html)]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    browser.widget_element(1, "#lg-email");
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    browser.click(&browser.widget_element(1, "[data-testid=submit]"));
    let state = browser.wait_for(
        "the errors",
        10,
        "const [de, ar] = Array.from(document.querySelectorAll('[data-leadgate]')).map(h => h.shadowRoot);
         const e = de.querySelector('#lg-email-error');
         if (!e || !ar.querySelector('#lg-email-error')) return null;
         const w = ar.querySelector('.lg-widget');
         return { de_submit: de.querySelector('[data-testid=submit]').textContent, de_error: e.textContent,
                  de_lang: de.querySelector('.lg-widget').lang, ar_dir: getComputedStyle(w).direction,
                  ar_lang: w.lang, ar_submit: ar.querySelector('[data-testid=submit]').textContent,
                  ar_error: ar.querySelector('#lg-email-error').textContent };",
        json!([]),
    );
    assert_eq!(state["de_submit"], "Senden");
    assert_eq!(state["de_error"], "Bitte füllen Sie dieses Feld aus.");
    assert_eq!(state["de_lang"], "de", "the page's lang applies");
    assert_eq!((state["ar_dir"].clone(), state["ar_lang"].clone()), (json!("rtl"), json!("ar")));
    assert_eq!(state["ar_submit"], "إرسال");
    assert_eq!(state["ar_error"], "This field is required.", "English texts for other locales");
}

#[test]
fn axe_finds_no_violations_when_empty_with_errors_and_after_success() {
    let relay = Relay::start(&[
        ("index.html", widget_page("<script src=\"events.js\"></script>")),
        ("events.js", EVENTS_JS.into()),
    ]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-email");
    let axe = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js"),
    )
    .expect("axe-core (npm) is installed by scripts/setup.sh");
    let audit = |state: &str| {
        browser.exec(&axe, json!([]));
        let result = browser.exec_async(
            "const done = arguments[arguments.length - 1];
             axe.run({ include: [['[data-leadgate]']] }, { resultTypes: ['violations'] })
               .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,
                  nodes: v.nodes.map(n => n.html + ' :: ' + n.failureSummary) }))))
               .catch(e => done([{ id: 'axe-error', nodes: [String(e)] }]));",
            json!([]),
        );
        println!("[axe {state}] {} violations", result.as_array().map_or(0, Vec::len));
        assert_eq!(result, json!([]), "axe violations in the {state} state");
    };
    audit("empty");
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    browser.widget_element(0, "#lg-email-error");
    audit("error");
    fill_as_ada(&browser, 0);
    browser.click(&browser.widget_element(0, "[data-testid=submit]"));
    browser.widget_element(0, "[data-phase=sent]");
    audit("success");
}

#[test]
fn a_keyboard_alone_fills_in_and_submits_the_form() {
    let relay = Relay::start(&[
        ("index.html", widget_page("<script src=\"events.js\"></script>")),
        ("events.js", EVENTS_JS.into()),
    ]);
    // Real key presses and a focus ring: the window must keep the keyboard focus.
    let browser = Browser::from_env_focused();
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-consent");
    let focused = || {
        browser.exec(
            "const r = document.querySelector('[data-leadgate]').shadowRoot;
             return r.activeElement ? r.activeElement.id || r.activeElement.dataset.testid : null;",
            json!([]),
        )
    };
    let tab = "\u{E004}";
    browser.keys(tab);
    assert_eq!(focused(), "lg-name", "the first Tab enters the form");
    let outline = browser.exec(
        "const r = document.querySelector('[data-leadgate]').shadowRoot;
         return getComputedStyle(r.querySelector('#lg-name')).outlineStyle;",
        json!([]),
    );
    assert_ne!(outline, "none", "a visible focus indicator");
    browser.keys("Ada Lovelace");
    browser.keys(tab);
    browser.keys("ada@analytical.example");
    browser.keys(tab);
    browser.keys("Analytical Engines");
    browser.keys(tab);
    assert_eq!(focused(), "lg-role");
    browser.keys("F"); // "Founder / CEO"
    browser.keys(tab);
    browser.keys("M"); // "More than 1000"
    let order = ["lg-phone", "lg-message", "lg-newsletter", "lg-consent"];
    for id in order {
        browser.keys(tab);
        assert_eq!(focused(), id);
    }
    browser.keys(" "); // Space ticks the consent box
    browser.keys(tab);
    assert_eq!(focused(), "submit");
    browser.keys("\u{E007}"); // Enter
    browser.widget_element(0, "[data-phase=sent]");
    let lead = &relay.leads()[0]["payload"]["fields"];
    assert_eq!(
        (lead["role"].clone(), lead["employees"].clone()),
        (json!("founder"), json!("1000+"))
    );
    assert_eq!(lead["consent"], true);
}

#[test]
fn the_form_fits_320_css_pixels_without_scrolling_sideways() {
    let body = format!(
        "<div class=\"narrow\">{}</div><script async src=\"leadgate.js\"></script>",
        mount_point("")
    );
    let relay = Relay::start(&[
        ("index.html", page("<link rel=\"stylesheet\" href=\"narrow.css\">", &body)),
        ("narrow.css", file("narrow.css")),
    ]);
    let browser = Browser::from_env();
    browser.goto(&relay.url);
    browser.widget_element(0, "#lg-consent");
    let widths = browser.exec(
        "const w = document.querySelector('[data-leadgate]').shadowRoot.querySelector('.lg-widget');
         const wide = Array.from(w.querySelectorAll('*')).filter(e => e.getBoundingClientRect().right > 320.5).map(e => e.id || e.className);
         return { scroll: w.scrollWidth, client: w.clientWidth, wide };",
        json!([]),
    );
    assert!(widths["scroll"].as_u64() <= widths["client"].as_u64(), "{widths}");
    assert_eq!(widths["wide"], json!([]), "{widths}");
}
