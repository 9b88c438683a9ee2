//! A small blocking WebDriver client: enough to drive chromedriver (and, later, geckodriver and
//! WebKitWebDriver) through a real browser, including inside the widget's shadow root.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session with its driver process; both end on drop.
pub struct Browser {
    base: String,
    session: String,
    driver: Child,
    _profile: Option<tempfile::TempDir>,
}

/// A reference to an element on the page.
#[derive(Debug, Clone)]
pub struct ElementRef(String);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Headless Chromium through chromedriver (`CHROMEDRIVER` or `chromedriver` on PATH).
    pub fn chromium() -> Browser {
        let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chrome = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let profile = tempfile::Builder::new().prefix("leadgate-chrome-").tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1200,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        Browser::start(&driver, &[], capabilities, Some(profile))
    }

    fn start(
        driver: &str,
        extra_args: &[&str],
        capabilities: Value,
        profile: Option<tempfile::TempDir>,
    ) -> Browser {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver} (run scripts/setup.sh): {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "{driver} did not answer on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut browser =
            Browser { base, session: String::new(), driver: child, _profile: profile };
        let answer = browser.command(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": capabilities}}),
        );
        browser.session = answer["sessionId"].as_str().expect("a session id").to_string();
        browser
    }

    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = if self.session.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
        let request = agent.request(method, &url);
        let response = if method == "GET" || method == "DELETE" {
            request.call()
        } else {
            request.send_json(body)
        };
        let text = match response {
            Ok(r) => r.into_string().unwrap(),
            Err(ureq::Error::Status(_, r)) => {
                let text = r.into_string().unwrap();
                panic!("WebDriver {method} {path} failed: {text}");
            }
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        value.get("value").cloned().unwrap_or(Value::Null)
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url }));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.command("POST", "/execute/sync", json!({ "script": script, "args": args }))
    }

    /// Polls `script` until it returns something truthy; panics with `what` after `secs`.
    pub fn wait_for(&self, what: &str, secs: u64, script: &str, args: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let value = self.exec(script, args.clone());
            let truthy = !matches!(value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0);
            if truthy {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: last {value}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The element matching `selector` inside the shadow root of the `host_index`-th
    /// `[data-leadgate]` element, once it exists.
    pub fn widget_element(&self, host_index: usize, selector: &str) -> ElementRef {
        let value = self.wait_for(
            selector,
            20,
            "const host = document.querySelectorAll('[data-leadgate]')[arguments[0]];
             return host && host.shadowRoot && host.shadowRoot.querySelector(arguments[1]);",
            json!([host_index, selector]),
        );
        ElementRef(value[ELEMENT].as_str().expect("an element").to_string())
    }

    /// Types `text` into an element, as keystrokes.
    pub fn type_into(&self, element: &ElementRef, text: &str) {
        self.command("POST", &format!("/element/{}/value", element.0), json!({ "text": text }));
    }

    /// Clicks an element.
    pub fn click(&self, element: &ElementRef) {
        self.command("POST", &format!("/element/{}/click", element.0), json!({}));
    }

    /// Presses Enter in an element (submits the form it is in).
    pub fn press_enter(&self, element: &ElementRef) {
        self.type_into(element, "\u{E007}");
    }

    /// The browser console's messages so far (Chromium only).
    pub fn console(&self) -> Vec<String> {
        let value = self.command("POST", "/se/log", json!({ "type": "browser" }));
        value
            .as_array()
            .map(|entries| {
                entries.iter().filter_map(|e| e["message"].as_str().map(String::from)).collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = ureq::delete(&url).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Opens a new tab and switches to it; returns the handle of the tab it left.
    pub fn new_tab(&self) -> String {
        let old = self.command("GET", "/window", json!({}));
        let new = self.command("POST", "/window/new", json!({ "type": "tab" }));
        self.switch_to(new["handle"].as_str().expect("a window handle"));
        old.as_str().expect("a window handle").to_string()
    }

    /// Switches to the tab with `handle`.
    pub fn switch_to(&self, handle: &str) {
        self.command("POST", "/window", json!({ "handle": handle }));
    }

    /// Takes the browser off the network (`true`) or back on (Chromium's DevTools emulation).
    pub fn set_offline(&self, offline: bool) {
        let conditions = json!({
            "offline": offline, "latency": 0,
            "download_throughput": 1_000_000, "upload_throughput": 1_000_000,
        });
        self.command(
            "POST",
            "/chromium/network_conditions",
            json!({ "network_conditions": conditions }),
        );
    }

    /// Double-clicks an element with real pointer actions.
    pub fn double_click(&self, element: &ElementRef) {
        let origin = json!({ ELEMENT: element.0 });
        let actions = json!([
            {"type": "pointerMove", "origin": origin, "x": 0, "y": 0},
            {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0},
            {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0},
        ]);
        let body = json!({ "actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": actions,
        }]});
        self.command("POST", "/actions", body);
        self.command("DELETE", "/actions", json!({}));
    }
}
