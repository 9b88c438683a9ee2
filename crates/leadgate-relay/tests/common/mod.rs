//! Shared parts of the relay's tests: a relay on its own runtime thread (127.0.0.1, port 0,
//! a real SQLite file), leads of a demo form, a ureq client that returns any status, and a
//! webhook receiver that checks Standard Webhooks signatures.
#![allow(clippy::unwrap_used, dead_code)]

pub mod pg;
pub mod receiver;

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::mpsc;
use std::thread::JoinHandle;

use leadgate_core::payload::lead_id;
use std::time::{Duration, Instant};

use leadgate_core::{FieldValue, FormConfig, Lead, LeadPayload, Timestamp, VisitorContext};
use leadgate_relay::{serve_with_shutdown, RelayOptions};
use serde_json::Value;

pub const CONFIG: &str = r#"{
    "form_id": "demo",
    "fields": [
        {"name": "email", "type": "email", "label": "Work e-mail", "required": true},
        {"name": "company", "type": "text", "label": "Company"},
        {"name": "employees", "type": "text", "label": "Employees"},
        {"name": "ok", "type": "consent", "label": "You may call me", "version": "v1"}
    ],
    "scoring": {"threshold": 30, "rules": [
        {"id": "has-email", "points": 10, "reason": "Gave an e-mail address",
         "when": {"op": "present", "field": "email"}},
        {"id": "big-company", "points": 25, "reason": "Company has 200+ employees",
         "when": {"op": "at_least", "field": "employees", "value": 200}},
        {"id": "free-mail", "points": -5, "reason": "Free e-mail provider",
         "when": {"op": "contains", "field": "email", "value": "gmail"}}
    ]}
}"#;

pub fn config() -> FormConfig {
    FormConfig::from_json(CONFIG).unwrap()
}

/// Adds a forged 100-point hit to `payload`'s score, keeping its sum consistent, as a visitor
/// tampering with the request would: only re-scoring on the relay can notice.
pub fn tamper(payload: &mut LeadPayload) {
    payload.score.hits.push(leadgate_core::RuleHit {
        rule: "vip".into(),
        group: "fit".into(),
        points: 100,
        reason: "Trust me".into(),
        ..Default::default()
    });
    payload.score.total += 100;
}

/// A scored lead for the demo form; `seed` makes the id.
pub fn payload(seed: u8, fields: &[(&str, &str)]) -> LeadPayload {
    payload_for(&config(), seed, fields, "newsletter")
}

/// A lead scored by `config`, from a page with `utm_source=source`; `seed` makes the id.
pub fn payload_for(
    config: &FormConfig,
    seed: u8,
    fields: &[(&str, &str)],
    source: &str,
) -> LeadPayload {
    let mut lead = Lead::default();
    for (name, value) in fields {
        lead.fields.insert(name.to_string(), FieldValue::Text(value.to_string()));
    }
    lead.fields.insert("ok".into(), FieldValue::Checked(true));
    let mut context =
        VisitorContext { page_url: "http://127.0.0.1/landing".into(), ..Default::default() };
    context.utm.insert("utm_source".into(), source.into());
    let mut payload = LeadPayload::build(
        config,
        lead_id([seed; 16]),
        lead,
        context,
        Timestamp(1_795_735_496_123),
    );
    // What the widget sends with every lead: the relay counts a lead without it as spam.
    payload.meta = Some(serde_json::json!({"honeypot": "", "fill_ms": 5000}).into());
    payload
}

pub fn good_payload(seed: u8) -> LeadPayload {
    payload(seed, &[("email", "ada@example.com"), ("company", "Analytical"), ("employees", "250")])
}

/// A relay running on its own runtime thread; dropping it shuts it down gracefully.
pub struct Relay {
    pub base: String,
    pub db: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    pub fn start(options: RelayOptions) -> Relay {
        let db = options.db_path.clone();
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let shutdown = async move {
                    let _ = stop_rx.await;
                };
                serve_with_shutdown(listener, options, shutdown).await.unwrap();
            });
        });
        let addr = addr_rx.recv().expect("the relay did not start");
        Relay { base: format!("http://{addr}"), db, stop: Some(stop_tx), thread: Some(thread) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> Reply {
        send(ureq::get(&self.url(path)), None)
    }

    pub fn post(&self, body: &str, content_type: &str, key: Option<&str>) -> Reply {
        let mut request = ureq::post(&self.url("/v1/leads")).set("Content-Type", content_type);
        if let Some(key) = key {
            request = request.set("Idempotency-Key", key);
        }
        send(request, Some(body))
    }

    /// A GET with an `Authorization` header.
    pub fn get_auth(&self, path: &str, authorization: &str) -> Reply {
        send(ureq::get(&self.url(path)).set("Authorization", authorization), None)
    }

    /// A POST of `body` to `path` (as JSON).
    pub fn post_to(&self, path: &str, body: &str) -> Reply {
        send(ureq::post(&self.url(path)).set("Content-Type", "application/json"), Some(body))
    }

    /// A lead with a `meta` object added to its JSON.
    pub fn post_lead_with_meta(&self, payload: &LeadPayload, meta: Value) -> Reply {
        let mut json = serde_json::to_value(payload).unwrap();
        json["meta"] = meta;
        self.post(&json.to_string(), "application/json", Some(&payload.id))
    }

    /// A request written by hand (any method, path and headers, `Host` included), over a new
    /// connection; the answer read to its end (the request asks the relay to close).
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            request += &format!("Host: {addr}\r\n");
        }
        for (name, value) in headers {
            request += &format!("{name}: {value}\r\n");
        }
        request += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let mut lines = head.lines();
        let status = lines.next().unwrap_or_default().split(' ').nth(1).unwrap_or("0");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Reply { status: status.parse().unwrap(), body: body.to_string(), headers }
    }

    pub fn post_lead(&self, payload: &LeadPayload) -> Reply {
        self.post(&serde_json::to_string(payload).unwrap(), "application/json", Some(&payload.id))
    }

    pub fn leads(&self) -> Vec<Value> {
        let reply = self.get("/v1/leads");
        assert_eq!(reply.status, 200, "{}", reply.body);
        serde_json::from_str::<Vec<Value>>(&reply.body).unwrap()
    }

    pub fn rows(&self) -> i64 {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        conn.query_row("SELECT count(*) FROM leads", [], |row| row.get(0)).unwrap()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn options(dir: &Path) -> RelayOptions {
    RelayOptions {
        db_path: dir.join("leads.db"),
        allowed_origins: vec!["http://shop.example".into()],
        demo_dir: None,
        demo_connect_src: vec![],
        forms: vec![config()],
        ..Default::default()
    }
}

/// A response, whatever its status.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn error(&self) -> String {
        let json: Value = serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!("error body is not JSON ({e}): {}", self.body);
        });
        json["error"].as_str().unwrap().to_string()
    }
}

pub fn send(request: ureq::Request, body: Option<&str>) -> Reply {
    let result = match body {
        Some(body) => request.send_string(body),
        None => request.call(),
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    let body = response.into_string().unwrap();
    Reply { status, body, headers }
}

/// Waits (up to 10 s) until `done` holds.
pub fn wait_until(what: &str, done: impl FnMut() -> bool) {
    wait_until_within(what, Duration::from_secs(10), done);
}

/// [`wait_until`] with its own limit (a state a loaded machine may take longer to reach).
pub fn wait_until_within(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to `limit` for `child` to exit; kills it (and returns `None`) when it doesn't.
pub fn exit_within(child: &mut std::process::Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
