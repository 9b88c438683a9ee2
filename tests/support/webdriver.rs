//! A blocking WebDriver client over [fantoccini]: enough to drive chromedriver, geckodriver and
//! WebKitWebDriver through a real browser, including inside the widget's shadow root.
//!
//! `Browser::from_env()` picks the engine from `LEADGATE_BROWSER` (`chromium`, the default,
//! `firefox` or `webkit`). Engine-specific extras (`set_offline`, `prefer_reduced_motion`,
//! `console`) say when an engine has no WebDriver equivalent instead of pretending to work.
//! fantoccini has no command for those three (they are chromedriver extensions), so they go
//! through its escape hatch for custom commands, [`Client::issue_cmd`] (see [`Chromedriver`]).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::elements::Element;
use fantoccini::wd::{WebDriverCompatibleCommand, WindowHandle};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long one WebDriver command may take before the test fails (fantoccini has no timeout).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The browser engine a session runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Headless Chromium through chromedriver.
    Chromium,
    /// Headless Firefox (ESR) through geckodriver.
    Firefox,
    /// WebKitGTK's MiniBrowser through WebKitWebDriver (needs an X display, e.g. Xvfb).
    Webkit,
}

impl Engine {
    /// The engine named by `LEADGATE_BROWSER` (Chromium when unset or empty).
    pub fn from_env() -> Engine {
        match std::env::var("LEADGATE_BROWSER").unwrap_or_default().to_lowercase().as_str() {
            "" | "chromium" | "chrome" => Engine::Chromium,
            "firefox" | "gecko" => Engine::Firefox,
            "webkit" | "webkitgtk" => Engine::Webkit,
            other => panic!("LEADGATE_BROWSER={other}: expected chromium, firefox or webkit"),
        }
    }

    /// The engine's name, as `LEADGATE_BROWSER` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
            Engine::Webkit => "webkit",
        }
    }
}

/// A browser session with its driver process; both end on drop.
///
/// The protocol is fantoccini's; the suites are plain `#[test]` functions, so the session
/// owns a current-thread tokio runtime and each call blocks on it.
pub struct Browser {
    engine: Engine,
    runtime: tokio::runtime::Runtime,
    /// `None` only while the session is being dropped.
    client: Option<Client>,
    driver: Child,
    _profile: Option<tempfile::TempDir>,
    /// Held until after the session ends (fields drop after `Drop::drop`).
    _window: Option<WindowSlot>,
}

/// WebKit windows in this process: MiniBrowser has no headless mode, so every WebKit session
/// opens a real window on the same X display, which has no window manager, and each new
/// window takes the keyboard focus from the others. A window without the focus has
/// `document.hasFocus()` false and matches no `:focus` / `:focus-visible` rule, so a test
/// that checks focus (a focus ring, a screenshot with a focused field) needs its window to
/// be the only one: see [`Browser::from_env_focused`].
struct Windows {
    open: usize,
    exclusive: bool,
}

static WINDOWS: Mutex<Windows> = Mutex::new(Windows { open: 0, exclusive: false });
static WINDOWS_CHANGED: Condvar = Condvar::new();

/// A WebKit session's claim on the display: shared, or exclusive (no other window at all).
struct WindowSlot {
    exclusive: bool,
}

impl WindowSlot {
    fn claim(exclusive: bool) -> WindowSlot {
        let mut windows = WINDOWS.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let free = if exclusive {
                windows.open == 0 && !windows.exclusive
            } else {
                !windows.exclusive
            };
            if free {
                break;
            }
            windows = WINDOWS_CHANGED.wait(windows).unwrap_or_else(|e| e.into_inner());
        }
        if exclusive {
            windows.exclusive = true;
        } else {
            windows.open += 1;
        }
        WindowSlot { exclusive }
    }
}

impl Drop for WindowSlot {
    fn drop(&mut self) {
        let mut windows = WINDOWS.lock().unwrap_or_else(|e| e.into_inner());
        if self.exclusive {
            windows.exclusive = false;
        } else {
            windows.open -= 1;
        }
        WINDOWS_CHANGED.notify_all();
    }
}

/// A reference to an element on the page.
#[derive(Debug, Clone)]
pub struct ElementRef(String);

impl ElementRef {
    /// The element as a script argument (`arguments[i]` in [`Browser::exec`]).
    pub fn to_json(&self) -> Value {
        json!({ ELEMENT: self.0 })
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `var` from the environment, else the first of `candidates` that exists, else the last one.
fn tool(var: &str, candidates: &[String]) -> String {
    if let Ok(path) = std::env::var(var) {
        if !path.is_empty() {
            return path;
        }
    }
    candidates
        .iter()
        .find(|c| std::path::Path::new(c).is_file())
        .unwrap_or_else(|| candidates.last().unwrap())
        .clone()
}

impl Browser {
    /// The engine `LEADGATE_BROWSER` names (see [`Engine::from_env`]).
    pub fn from_env() -> Browser {
        match Engine::from_env() {
            Engine::Chromium => Browser::chromium(),
            Engine::Firefox => Browser::firefox(),
            Engine::Webkit => Browser::webkit(),
        }
    }

    /// Like [`Browser::from_env`], for a test whose window must keep the keyboard focus
    /// throughout (focus rings, real key presses, screenshots of a focused field). In
    /// WebKit the session waits until no other WebKit window of this process is open, and
    /// no other opens until it ends; the other engines are headless and give every window
    /// the focus, so there it is just `from_env`.
    pub fn from_env_focused() -> Browser {
        match Engine::from_env() {
            Engine::Webkit => Browser::webkit_with(WindowSlot::claim(true)),
            _ => Browser::from_env(),
        }
    }

    /// The engine this session runs in.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Prints why part of a test does not run in this engine, so a skip is never silent:
    /// straight to stderr, past the test harness's output capture.
    pub fn skip_note(&self, what: &str) {
        use std::io::Write;
        let note = format!("note [{}]: skipped {what}\n", self.engine.name());
        let _ = std::io::stderr().write_all(note.as_bytes());
    }

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
                    "--js-flags=--expose-gc",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        Browser::start(Engine::Chromium, &driver, &[], capabilities, Some(profile))
    }

    /// Headless Firefox through geckodriver (`GECKODRIVER`, else `~/.cargo/bin/geckodriver`,
    /// else `geckodriver` on PATH); the browser is `FIREFOX` or `/usr/bin/firefox-esr`.
    pub fn firefox() -> Browser {
        let home = std::env::var("HOME").unwrap_or_default();
        let driver =
            tool("GECKODRIVER", &[format!("{home}/.cargo/bin/geckodriver"), "geckodriver".into()]);
        let firefox = tool("FIREFOX", &["/usr/bin/firefox-esr".into(), "/usr/bin/firefox".into()]);
        let capabilities = json!({
            "browserName": "firefox",
            "moz:firefoxOptions": {
                "binary": firefox,
                "args": ["-headless", "-width=1200", "-height=1000"],
                "prefs": {
                    // No phoning home: this network refuses it, and it only adds noise.
                    "app.update.enabled": false,
                    "browser.shell.checkDefaultBrowser": false,
                    "datareporting.policy.dataSubmissionEnabled": false,
                    "toolkit.telemetry.reportingpolicy.firstRun": false,
                },
            },
        });
        // Each session gets its own driver: let the BiDi port be any free one, not 9222.
        Browser::start(Engine::Firefox, &driver, &["--websocket-port=0"], capabilities, None)
    }

    /// WebKitGTK's MiniBrowser through WebKitWebDriver (`WEBKITWEBDRIVER` or
    /// `/usr/bin/WebKitWebDriver`). There is no headless mode: `DISPLAY` must name an X server
    /// (scripts/test.sh starts Xvfb).
    pub fn webkit() -> Browser {
        Browser::webkit_with(WindowSlot::claim(false))
    }

    fn webkit_with(window: WindowSlot) -> Browser {
        let driver = tool("WEBKITWEBDRIVER", &["/usr/bin/WebKitWebDriver".into()]);
        let display = std::env::var("DISPLAY").unwrap_or_default();
        assert!(
            !display.is_empty(),
            "WebKit needs an X display: start `Xvfb :N` and set DISPLAY=:N (scripts/test.sh does)"
        );
        let capabilities = json!({ "browserName": "MiniBrowser" });
        let mut browser =
            Browser::start(Engine::Webkit, &driver, &["--host=127.0.0.1"], capabilities, None);
        browser._window = Some(window);
        browser
    }

    fn start(
        engine: Engine,
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mut browser = Browser {
            engine,
            runtime,
            client: None,
            driver: child,
            _profile: profile,
            _window: None,
        };
        let url = format!("http://127.0.0.1:{port}");
        let Value::Object(capabilities) = capabilities else { unreachable!("an object") };
        let session = browser.runtime.block_on(async {
            // The driver takes a moment to listen: retry the connection, not a refused session.
            let deadline = Instant::now() + Duration::from_secs(20);
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            loop {
                // WebKitWebDriver hangs on a new session it cannot start (no display, bad
                // binary) instead of failing: a timeout turns that into an error.
                let mut builder = ClientBuilder::new(connector.clone());
                builder.capabilities(capabilities.clone());
                let attempt =
                    tokio::time::timeout(Duration::from_secs(60), builder.connect(&url)).await;
                match attempt {
                    Err(_) => break Err("timed out after 60 s".to_string()),
                    Ok(Ok(client)) => break Ok(client),
                    Ok(Err(fantoccini::error::NewSessionError::FailedC(e)))
                        if Instant::now() < deadline && e.is_connect() =>
                    {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(Err(e)) => break Err(e.to_string()),
                }
            }
        });
        let client = session.unwrap_or_else(|e| {
            let hint = match engine {
                Engine::Webkit => format!(
                    " (WebKitWebDriver hangs when MiniBrowser cannot open a window: is \
                     DISPLAY={} a running X server?)",
                    std::env::var("DISPLAY").unwrap_or_default()
                ),
                _ => String::new(),
            };
            panic!("{driver}: no new {} session: {e}{hint}", engine.name());
        });
        browser.client = Some(client);
        if engine == Engine::Webkit {
            // MiniBrowser opens small; match the other engines' 1200×1000 viewport-ish size.
            browser.run("set window size", |c| async move { c.set_window_size(1200, 1000).await });
        }
        browser
    }

    fn client(&self) -> Client {
        self.client.clone().expect("a live session")
    }

    /// Runs one fantoccini call on the session's runtime; panics (failing the test) on an
    /// error or after [`COMMAND_TIMEOUT`].
    fn run<T, F>(&self, what: &str, call: impl FnOnce(Client) -> F) -> T
    where
        F: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        let future = call(self.client());
        // The timer must be made inside the runtime (tokio panics otherwise).
        match self.runtime.block_on(async { tokio::time::timeout(COMMAND_TIMEOUT, future).await }) {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => panic!("WebDriver ({}) {what} failed: {e}", self.engine.name()),
            Err(_) => panic!("WebDriver ({}) {what}: timed out", self.engine.name()),
        }
    }

    /// A chromedriver extension command (fantoccini's escape hatch, see [`Chromedriver`]).
    fn chromedriver(&self, path: &'static str, body: Value) -> Value {
        self.run(path, |c| async move { c.issue_cmd(Chromedriver { path, body }).await })
    }

    fn element(&self, element: &ElementRef) -> Element {
        Element::from_element_id(self.client(), element.0.clone().into())
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.run("goto", |c| async move { c.goto(url).await });
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.run("execute/sync", |c| async move { c.execute(script, script_args(args)).await })
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
        let element = self.element(element);
        self.run("element send keys", |_| async move { element.send_keys(text).await });
    }

    /// Clicks an element.
    pub fn click(&self, element: &ElementRef) {
        let element = self.element(element);
        self.run("element click", |_| async move { element.click().await });
    }

    /// Presses Enter in an element (submits the form it is in).
    pub fn press_enter(&self, element: &ElementRef) {
        self.type_into(element, "\u{E007}");
    }

    /// The browser console's messages so far, or `None` where WebDriver cannot read the
    /// console (only chromedriver has a log endpoint; geckodriver and WebKitWebDriver do not).
    pub fn console(&self) -> Option<Vec<String>> {
        if self.engine != Engine::Chromium {
            return None;
        }
        let value = self.chromedriver("se/log", json!({ "type": "browser" }));
        let messages = value
            .as_array()
            .map(|entries| {
                entries.iter().filter_map(|e| e["message"].as_str().map(String::from)).collect()
            })
            .unwrap_or_default();
        Some(messages)
    }
}

/// `args` as a script's argument list (the suites pass a JSON array).
fn script_args(args: Value) -> Vec<Value> {
    match args {
        Value::Array(args) => args,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let close =
                async { tokio::time::timeout(Duration::from_secs(20), client.close()).await };
            let _ = self.runtime.block_on(close);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Opens a new tab and switches to it; returns the handle of the tab it left.
    pub fn new_tab(&self) -> String {
        let old = self.run("get window handle", |c| async move { c.window().await });
        let new = self.run("new window", |c| async move { c.new_window(true).await });
        self.run("switch to window", |c| async move { c.switch_to_window(new.handle).await });
        old.into()
    }

    /// Switches to the tab with `handle`.
    pub fn switch_to(&self, handle: &str) {
        let handle = WindowHandle::try_from(handle).expect("a window handle");
        self.run("switch to window", |c| async move { c.switch_to_window(handle).await });
    }

    /// Takes the browser off the network (`true`) or back on, through Chromium's DevTools
    /// network emulation. Returns `false`, doing nothing, in engines without an equivalent.
    #[must_use = "false means this engine cannot go offline: skip what depends on it"]
    pub fn set_offline(&self, offline: bool) -> bool {
        if self.engine != Engine::Chromium {
            return false;
        }
        let conditions = json!({
            "offline": offline, "latency": 0,
            "download_throughput": 1_000_000, "upload_throughput": 1_000_000,
        });
        self.chromedriver(
            "chromium/network_conditions",
            json!({ "network_conditions": conditions }),
        );
        true
    }

    /// Makes the page report `prefers-reduced-motion: reduce`, through Chromium's DevTools.
    /// Returns `false`, doing nothing, in engines without an equivalent.
    #[must_use = "false means this engine cannot emulate it: skip what depends on it"]
    pub fn prefer_reduced_motion(&self) -> bool {
        if self.engine != Engine::Chromium {
            return false;
        }
        let features = json!([{ "name": "prefers-reduced-motion", "value": "reduce" }]);
        self.chromedriver(
            "goog/cdp/execute",
            json!({ "cmd": "Emulation.setEmulatedMedia", "params": { "features": features } }),
        );
        true
    }

    /// Double-clicks an element with real pointer actions. The element is scrolled to the
    /// middle of the viewport first: an action's target must be in view (WebKit enforces it).
    pub fn double_click(&self, element: &ElementRef) {
        self.exec("arguments[0].scrollIntoView({ block: 'center' });", json!([element.to_json()]));
        let (down, up) = (PointerAction::Down { button: 0 }, PointerAction::Up { button: 0 });
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: self.element(element),
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(down.clone())
            .then(up.clone())
            .then(down)
            .then(up);
        self.run("perform actions", |c| async move { c.perform_actions(mouse).await });
        self.run("release actions", |c| async move { c.release_actions().await });
    }
}

impl Browser {
    /// A PNG screenshot of one element, base64 (as WebDriver returns it). Not in WebKit:
    /// WebKitWebDriver (WebKitGTK 2.50) clips it from the viewport's left edge and returns its
    /// upper part black.
    pub fn element_screenshot(&self, element: &ElementRef) -> String {
        let element = self.element(element);
        let png = self.run("element screenshot", |_| async move { element.screenshot().await });
        // fantoccini decodes the driver's base64; the suites compare and save it as base64.
        base64::engine::general_purpose::STANDARD.encode(png)
    }

    /// Types `text` with real key events into whatever has the focus (`\u{E004}` is Tab,
    /// `\u{E007}` Enter).
    pub fn keys(&self, text: &str) {
        let mut keyboard = KeyActions::new("keyboard".into());
        for value in text.chars() {
            keyboard = keyboard.then(KeyAction::Down { value }).then(KeyAction::Up { value });
        }
        self.run("perform actions", |c| async move { c.perform_actions(keyboard).await });
    }

    /// Like [`Browser::keys`], with Shift held down throughout (`\u{E004}` is then Shift+Tab).
    pub fn shift_keys(&self, text: &str) {
        let shift = '\u{E008}';
        let mut keyboard =
            KeyActions::new("keyboard".into()).then(KeyAction::Down { value: shift });
        for value in text.chars() {
            keyboard = keyboard.then(KeyAction::Down { value }).then(KeyAction::Up { value });
        }
        let keyboard = keyboard.then(KeyAction::Up { value: shift });
        self.run("perform actions", |c| async move { c.perform_actions(keyboard).await });
    }

    /// Runs an asynchronous script: it calls `arguments[arguments.length - 1](result)`.
    pub fn exec_async(&self, script: &str, args: Value) -> Value {
        self.run(
            "execute/async",
            |c| async move { c.execute_async(script, script_args(args)).await },
        )
    }
}

/// A chromedriver extension that fantoccini has no command for: `POST
/// /session/{id}/{path}` with a JSON body, sent through fantoccini's escape hatch for custom
/// commands ([`Client::issue_cmd`]). Used for the browser log (`se/log`), network emulation
/// (`chromium/network_conditions`) and DevTools commands (`goog/cdp/execute`).
#[derive(Debug)]
struct Chromedriver {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Chromedriver {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.expect("a session");
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

impl Browser {
    /// The element of the page (not of a widget's shadow root) that `selector` matches, once
    /// it exists (up to 20 s).
    pub fn page_element(&self, selector: &str) -> ElementRef {
        let value = self.wait_for(
            selector,
            20,
            "return document.querySelector(arguments[0]);",
            json!([selector]),
        );
        ElementRef(value[ELEMENT].as_str().expect("an element").to_string())
    }

    /// The page's URL, as the browser has it.
    pub fn current_url(&self) -> String {
        self.run("get url", |c| async move { c.current_url().await }).to_string()
    }
}
