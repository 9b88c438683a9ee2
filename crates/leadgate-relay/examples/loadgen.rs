//! Load and crash tests for a `leadgate-relay` binary on loopback (run by
//! `scripts/load-test.sh` and `scripts/crash-test.sh`; not part of `cargo test`).
//!
//! `loadgen load BIN LEADS CONCURRENCY`: starts BIN on a fresh SQLite file, posts LEADS scored
//! leads from CONCURRENCY keep-alive clients, and prints leads/s and p50/p90/p99 latency.
//!
//! `loadgen crash BIN LEADS CONCURRENCY`: the same with a webhook receiver; kills the relay
//! with SIGKILL mid-load, restarts it on the same file, and checks that every lead that got a
//! 2xx is in the database and that every qualified lead reached the receiver: exactly once
//! after deduplication by `webhook-id`, with the repeats (messages in flight at the kill)
//! counted.
//!
//! `loadgen hostile BIN LEADS CONCURRENCY`: `load` while 1,000 idle connections are open (half
//! of them with headers begun and never finished, half connected and silent) and the relay
//! forwards every lead to two webhooks, one fast and one that takes 10 s to answer; prints
//! leads/s and latency, and how many messages each receiver got.
//!
//! With `LEADGATE_DATABASE_URL=postgres://…` set, `load` runs the relay against PostgreSQL
//! instead (the file's `db` is then unused and the rows are not counted here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leadgate_core::payload::lead_id;
use leadgate_core::{FieldValue, FormConfig, Lead, LeadPayload, Timestamp, VisitorContext};

const FORM: &str = r#"{"form_id": "load", "fields": [
    {"name": "email", "type": "email", "label": "E-mail", "required": true},
    {"name": "employees", "type": "text", "label": "Employees"}],
  "scoring": {"threshold": 30, "rules": [
    {"id": "has-email", "points": 10, "reason": "Gave an e-mail address", "when": {"op": "present", "field": "email"}},
    {"id": "big", "points": 25, "reason": "200+ employees", "when": {"op": "at_least", "field": "employees", "value": 200}}]}}"#;

fn lead(config: &FormConfig, n: u32) -> (String, String) {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    bytes[4..8].copy_from_slice(&std::process::id().to_be_bytes());
    let mut lead = Lead::default();
    lead.fields.insert("email".into(), FieldValue::Text(format!("lead{n}@example.com")));
    // Two in three qualify.
    let employees = if n.is_multiple_of(3) { "10" } else { "250" };
    lead.fields.insert("employees".into(), FieldValue::Text(employees.into()));
    let context = VisitorContext { page_url: "http://127.0.0.1/".into(), ..Default::default() };
    let payload =
        LeadPayload::build(config, lead_id(bytes), lead, context, Timestamp(1_795_735_496_123));
    let mut json = serde_json::to_value(&payload).unwrap();
    json["meta"] = serde_json::json!({"honeypot": "", "fill_ms": 5000});
    (payload.id, json.to_string())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_relay(bin: &str, dir: &Path, port: u16) -> Child {
    let log =
        std::fs::File::options().create(true).append(true).open(dir.join("relay.log")).unwrap();
    let child = Command::new(bin)
        .arg("--config")
        .arg(dir.join("relay.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--rate-limit", "0"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("cannot start the relay");
    let start = Instant::now();
    while ureq::get(&format!("http://127.0.0.1:{port}/healthz")).call().is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "the relay did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

struct Outcome {
    acked: Vec<String>,
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

/// Posts `bodies` from `concurrency` threads until done or `stop`.
fn load(
    port: u16,
    bodies: Arc<Vec<(String, String)>>,
    concurrency: usize,
    stop: Arc<AtomicBool>,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let (bodies, next, stop) = (Arc::clone(&bodies), Arc::clone(&next), Arc::clone(&stop));
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build();
                let url = format!("http://127.0.0.1:{port}/v1/leads");
                let (mut acked, mut latencies, mut errors) = (Vec::new(), Vec::new(), 0);
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((id, body)) = bodies.get(i) else { break };
                    let t = Instant::now();
                    let result = agent
                        .post(&url)
                        .set("content-type", "application/json")
                        .set("idempotency-key", id)
                        .send_string(body);
                    match result {
                        Ok(r) if (200..300).contains(&r.status()) => {
                            latencies.push(t.elapsed());
                            acked.push(id.clone());
                        }
                        _ => errors += 1,
                    }
                }
                (acked, latencies, errors)
            })
        })
        .collect();
    let mut outcome =
        Outcome { acked: vec![], latencies: vec![], errors: 0, elapsed: Duration::ZERO };
    for t in threads {
        let (a, l, e) = t.join().unwrap();
        outcome.acked.extend(a);
        outcome.latencies.extend(l);
        outcome.errors += e;
    }
    outcome.elapsed = started.elapsed();
    outcome
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(what: &str, o: &mut Outcome) {
    o.latencies.sort();
    println!(
        "{what}: {} acknowledged, {} errors in {:.2} s = {:.0} leads/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        o.acked.len(),
        o.errors,
        o.elapsed.as_secs_f64(),
        o.acked.len() as f64 / o.elapsed.as_secs_f64(),
        percentile(&o.latencies, 0.5),
        percentile(&o.latencies, 0.9),
        percentile(&o.latencies, 0.99),
        percentile(&o.latencies, 1.0),
    );
}

/// A webhook receiver answering 200 and counting each `webhook-id`.
fn receiver() -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    receiver_after(Duration::ZERO)
}

/// `n` connections that hold a place and send nothing useful: half start a request's headers
/// and never finish them (a slowloris), half say nothing at all.
fn idle_connections(port: u16, n: usize) -> Vec<std::net::TcpStream> {
    (0..n)
        .filter_map(|i| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            if i % 2 == 0 {
                s.write_all(b"POST /v1/leads HTTP/1.1\r\nHost: x\r\nX-Slow: ").ok()?;
            }
            Some(s)
        })
        .collect()
}

/// A receiver that waits `delay` before answering 200.
fn receiver_after(delay: Duration) -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let counts = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counts = Arc::clone(&counts);
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut len, mut id) = (0usize, String::new());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap_or(0);
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap_or(("", ""));
                    match name.trim().to_lowercase().as_str() {
                        "content-length" => len = value.trim().parse().unwrap_or(0),
                        "webhook-id" => id = value.trim().to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_ok() {
                    std::thread::sleep(delay);
                    *counts.lock().unwrap().entry(id).or_insert(0) += 1;
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            });
        }
    });
    (url, seen)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: loadgen load|crash|hostile BIN LEADS CONCURRENCY";
    let (mode, bin) = (args.get(1).expect(usage), args.get(2).expect(usage));
    let leads: u32 = args.get(3).map_or(20_000, |n| n.parse().expect(usage));
    let concurrency: usize = args.get(4).map_or(16, |n| n.parse().expect(usage));
    let dir = tempfile::Builder::new().prefix("leadgate-load-").tempdir().unwrap();
    std::fs::write(dir.path().join("form.json"), FORM).unwrap();
    let config = FormConfig::from_json(FORM).unwrap();
    let bodies: Arc<Vec<(String, String)>> =
        Arc::new((0..leads).map(|n| lead(&config, n)).collect());
    let (hook_url, seen) = receiver();
    let (slow_url, slow_seen) = receiver_after(Duration::from_secs(10));
    let webhook = if mode == "hostile" {
        format!("[forwarding]\ntimeout_ms = 2000\n[[webhooks]]\nname = \"fast\"\nurl = \"{hook_url}\"\nroute = \"all\"\nallow_private_network = true\n[[webhooks]]\nname = \"slow\"\nurl = \"{slow_url}\"\nroute = \"all\"\nallow_private_network = true\n")
    } else if mode == "crash" {
        format!("[[webhooks]]\nname = \"crm\"\nurl = \"{hook_url}\"\nsecrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n[forwarding]\nbase_delay_ms = 100\nmax_delay_ms = 1000\npoll_ms = 50\nconcurrency = 16\ntimeout_ms = 2000\n")
    } else {
        String::new()
    };
    std::fs::write(
        dir.path().join("relay.toml"),
        format!("db = \"leads.db\"\nforms = [\"form.json\"]\n{webhook}"),
    )
    .unwrap();
    let port = free_port();
    let mut relay = start_relay(bin, dir.path(), port);
    let stop = Arc::new(AtomicBool::new(false));

    if mode == "load" || mode == "hostile" {
        let mut warm =
            load(port, Arc::new(bodies[..200.min(bodies.len())].to_vec()), 4, Arc::clone(&stop));
        warm.acked.clear();
        let idle = if mode == "hostile" { idle_connections(port, 1000) } else { Vec::new() };
        let mut outcome = load(port, Arc::clone(&bodies), concurrency, stop);
        let what = if mode == "hostile" {
            format!(
                "hostile load ({leads} leads, {concurrency} clients, {} idle connections open, a fast and a 10 s webhook)",
                idle.len()
            )
        } else {
            format!("load ({leads} leads, {concurrency} clients, synchronous=FULL)")
        };
        report(&what, &mut outcome);
        if mode == "hostile" {
            let total = outcome.acked.len() + 200.min(bodies.len());
            let start = Instant::now();
            while seen.lock().unwrap().len() < total && start.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(10));
            }
            println!(
                "fast webhook: {} of {total} messages {:.2} s after the load; slow webhook: {} answered (each takes 10 s, attempts time out after 2 s)",
                seen.lock().unwrap().len(),
                start.elapsed().as_secs_f64(),
                slow_seen.lock().unwrap().len()
            );
            drop(idle);
        }
        if std::env::var_os("LEADGATE_DATABASE_URL").is_some() {
            println!("database: LEADGATE_DATABASE_URL (PostgreSQL)");
        } else {
            let conn = rusqlite::Connection::open(dir.path().join("leads.db")).unwrap();
            let rows: i64 = conn.query_row("SELECT count(*) FROM leads", [], |r| r.get(0)).unwrap();
            println!("rows in the database: {rows}");
        }
        relay.kill().unwrap();
        relay.wait().unwrap();
        return;
    }

    // Crash: kill -9 part-way through the load.
    let loader = {
        let (bodies, stop) = (Arc::clone(&bodies), Arc::clone(&stop));
        std::thread::spawn(move || load(port, bodies, concurrency, stop))
    };
    std::thread::sleep(Duration::from_millis(1500));
    relay.kill().unwrap(); // SIGKILL
    relay.wait().unwrap();
    println!("relay killed with SIGKILL during the load");
    stop.store(true, Ordering::Relaxed);
    let mut outcome = loader.join().unwrap();
    report("before the kill", &mut outcome);
    let mut relay = start_relay(bin, dir.path(), port);
    let conn = rusqlite::Connection::open(dir.path().join("leads.db")).unwrap();
    let mut missing = 0;
    for id in &outcome.acked {
        let n: i64 =
            conn.query_row("SELECT count(*) FROM leads WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        missing += usize::from(n != 1);
    }
    let rows: i64 = conn.query_row("SELECT count(*) FROM leads", [], |r| r.get(0)).unwrap();
    println!("after restart: {} acknowledged leads, {missing} missing from the database ({rows} rows: acknowledged + committed-but-unanswered)", outcome.acked.len());
    // Every qualified lead in the database must reach the receiver exactly once.
    let qualified: Vec<String> = {
        let mut stmt = conn.prepare("SELECT id FROM leads WHERE relay_qualified = 1").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let start = Instant::now();
    loop {
        let pending: i64 = conn
            .query_row("SELECT count(*) FROM deliveries WHERE status != 'delivered'", [], |r| {
                r.get(0)
            })
            .unwrap();
        if pending == 0 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let counts = seen.lock().unwrap().clone();
    let never =
        qualified.iter().filter(|id| !counts.contains_key(&format!("msg_{id}_crm"))).count();
    let twice = counts.values().filter(|n| **n > 1).count();
    let acked_qualified = outcome.acked.iter().filter(|id| qualified.contains(id)).count();
    println!(
        "forwarding: {} qualified leads in the database ({acked_qualified} of them acknowledged), {} distinct webhook-ids received, {never} never received, {twice} received more than once (same webhook-id: dropped by the receiver's dedup)",
        qualified.len(),
        counts.len()
    );
    relay.kill().unwrap();
    relay.wait().unwrap();
    let ok = missing == 0 && never == 0;
    println!("{}", if ok { "CRASH TEST PASSED" } else { "CRASH TEST FAILED" });
    if !ok {
        std::process::exit(1);
    }
}
