//! Shared parts of the end-to-end tests: a real relay on a free port, serving test landing
//! pages next to the built widget, and a WebDriver client.

pub mod receiver;
pub mod site;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The built widget (`bash scripts/build.sh` puts it in dist/).
pub fn dist_dir() -> PathBuf {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
    assert!(
        dist.join("leadgate.js").exists() && dist.join("leadgate_bg.wasm").exists(),
        "the widget is not built: run `bash scripts/build.sh` (or scripts/test.sh) first"
    );
    dist
}

/// A relay started in-process on 127.0.0.1 with its own SQLite file, serving `site` (test
/// pages plus a copy of the built widget) in demo mode.
pub struct Relay {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// The site and the database; removed when the test ends.
    _dir: tempfile::TempDir,
}

impl Relay {
    /// Starts a relay whose site holds the built widget and `pages` (name, content).
    pub fn start(pages: &[(&str, String)]) -> Relay {
        Relay::start_with(pages, Vec::new())
    }

    /// Like [`Relay::start`]; the pages may also send leads to `connect_src` origins.
    pub fn start_with(pages: &[(&str, String)], connect_src: Vec<String>) -> Relay {
        Relay::launch(pages, connect_src, Vec::new())
    }

    /// Like [`Relay::start`]; pages on `origins` (besides its own) may post leads to it.
    pub fn start_allowing(pages: &[(&str, String)], origins: Vec<String>) -> Relay {
        Relay::launch(pages, Vec::new(), origins)
    }

    fn launch(pages: &[(&str, String)], connect_src: Vec<String>, origins: Vec<String>) -> Relay {
        let temp = tempfile::Builder::new().prefix("leadgate-e2e-").tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let site = dir.join("site");
        std::fs::create_dir_all(site.join("forms")).unwrap();
        let dist = dist_dir();
        for file in ["leadgate.js", "leadgate_bg.wasm"] {
            std::fs::copy(dist.join(file), site.join(file)).unwrap();
        }
        for (name, content) in pages {
            let path = site.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        let (listener, url) = bind_local();
        let options = leadgate_relay::RelayOptions {
            db_path: dir.join("leads.db"),
            allowed_origins: [vec![url.clone()], origins].concat(),
            demo_dir: Some(site),
            demo_connect_src: connect_src,
            forms: Vec::new(),
            // WebDriver fills a form in well under the 2 s that marks a person's fill as spam.
            min_fill_ms: 0,
            ..Default::default()
        };
        serve_relay(listener, &url, options);
        Relay { url, _dir: temp }
    }

    /// The leads the relay stored, newest first.
    pub fn leads(&self) -> Vec<Value> {
        let text = ureq::get(&format!("{}/v1/leads", self.url)).call().unwrap().into_string();
        serde_json::from_str::<Value>(&text.unwrap()).unwrap().as_array().cloned().unwrap()
    }
}

/// For the tests' own HTTP servers: makes an accepted connection blocking (10 s read timeout)
/// and reads its request line; `None` when the client sent none.
pub fn read_request_line(
    stream: &std::net::TcpStream,
) -> Option<(std::io::BufReader<std::net::TcpStream>, String)> {
    use std::io::BufRead;
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = std::io::BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    Some((reader, request_line))
}

/// The demo form on one page (tests/pages/contact-one-page.json: demo/contact.json without its
/// steps and logic), for the suites about embedding, delivery and the visitor context; the
/// steps themselves are tested by tests/smart_forms.rs.
pub fn demo_config() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pages/contact-one-page.json"),
    )
    .unwrap()
}

/// A landing page that embeds the widget like a customer: mount elements, inline configs,
/// one `<script async src=leadgate.js>`. `body` goes before the script tag.
pub fn landing_page(body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <link rel=\"icon\" href=\"data:,\"><title>test landing page</title></head>\
         <body><h1>Test landing page</h1>{body}\
         <script src=\"events.js\"></script>\
         <script async src=\"leadgate.js\"></script></body></html>"
    )
}

/// A script (a file: the relay's CSP forbids inline scripts) that records every leadgate
/// event in `window.seen`, provides a `dataLayer`, and copies console warnings and errors to
/// `window.consoleMessages` (what engines without a WebDriver log endpoint can check), and
/// keeps a copy of every beacon's URL and body in `window.beacons`.
pub const EVENTS_JS: &str = "window.seen = []; window.dataLayer = []; window.consoleMessages = [];
window.beacons = [];
if (navigator.sendBeacon) {
  var sendBeacon = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = function (url, body) {
    window.beacons.push({ url: String(url), body: typeof body === 'string' ? body : null });
    return sendBeacon(url, body);
  };
}
['warn', 'error'].forEach(function (level) {
  var original = console[level];
  console[level] = function () {
    window.consoleMessages.push(Array.prototype.map.call(arguments, String).join(' '));
    return original.apply(console, arguments);
  };
});
['ready', 'submit', 'qualified', 'delivered', 'error'].forEach(function (n) {
  document.addEventListener('leadgate:' + n, function (e) {
    window.seen.push({ type: e.type, detail: e.detail, composed: e.composed });
  });
});
window.addEventListener('securitypolicyviolation', function (e) {
  window.seen.push({ type: 'csp-violation', detail: { directive: e.violatedDirective } });
});";

/// Fills the demo form (demo/contact.json) of widget `w` as a lead that qualifies: a founder
/// of a company with more than 1000 people, consent ticked.
pub fn fill_as_ada(browser: &webdriver::Browser, w: usize) {
    browser.type_into(&browser.widget_element(w, "#lg-name"), "Ada Lovelace");
    browser.type_into(&browser.widget_element(w, "#lg-email"), "ada@analytical.example");
    browser.click(&browser.widget_element(w, "#lg-role option[value='founder']"));
    browser.click(&browser.widget_element(w, "#lg-employees option[value='1000+']"));
    browser.click(&browser.widget_element(w, "#lg-consent"));
}

/// Fills the demo form of widget `w` as a student: a lead that does not qualify (-30 points).
pub fn fill_as_student(browser: &webdriver::Browser, w: usize) {
    browser.type_into(&browser.widget_element(w, "#lg-name"), "Sam Student");
    browser.type_into(&browser.widget_element(w, "#lg-email"), "sam@uni.example");
    browser.click(&browser.widget_element(w, "#lg-role option[value='student']"));
    browser.click(&browser.widget_element(w, "#lg-consent"));
}

/// Waits until widget `w` shows the submission phase `want` (`editing`, `sending`, `sent`,
/// `queued`, `failed`).
pub fn wait_phase(browser: &webdriver::Browser, w: usize, want: &str, secs: u64) {
    browser.wait_for(
        &format!("widget {w} phase {want}"),
        secs,
        "const host = document.querySelectorAll('[data-leadgate]')[arguments[0]];
         const s = host && host.shadowRoot && host.shadowRoot.querySelector('[data-testid=status]');
         return s && s.dataset.phase === arguments[1];",
        serde_json::json!([w, want]),
    );
}

/// Runs axe-core on `scope` (a JS expression: `document`, or an axe context such as
/// `{ include: [['[data-leadgate]']] }`); panics on any violation, naming `what`.
pub fn axe(browser: &webdriver::Browser, scope: &str, what: &str) {
    let axe = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js"),
    )
    .expect("axe-core (npm) is installed by scripts/setup.sh");
    browser.exec(&axe, serde_json::json!([]));
    let result = browser.exec_async(
        &(String::from("const done = arguments[arguments.length - 1]; axe.run(")
            + scope
            + ", { resultTypes: ['violations'] })
               .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,
                  nodes: v.nodes.slice(0, 5).map(n => n.html + ' :: ' + n.failureSummary) }))))
               .catch(e => done([{ id: 'axe-error', nodes: [String(e)] }]));"),
        serde_json::json!([]),
    );
    println!("[axe {what}] {} violations", result.as_array().map_or(0, Vec::len));
    assert_eq!(result, serde_json::json!([]), "axe violations: {what}");
}

/// A listener on a free port of 127.0.0.1, and its `http://` URL.
pub fn bind_local() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// Runs the relay with `options` on `listener` (on its own runtime thread, for the rest of the
/// test) and returns once `url` answers `/healthz`.
pub fn serve_relay(
    listener: std::net::TcpListener,
    url: &str,
    options: leadgate_relay::RelayOptions,
) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            leadgate_relay::serve(listener, options).await.unwrap();
        });
    });
    for _ in 0..100 {
        if ureq::get(&format!("{url}/healthz")).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the relay did not start");
}
