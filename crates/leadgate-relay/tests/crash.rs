//! Crash recovery, in `cargo test`: the real `leadgate-relay` binary on a temp SQLite file,
//! under load from a few clients, forwarding to a webhook receiver, is killed with SIGKILL,
//! restarted on the same file, and left to drain its queue. Then:
//!
//! - every lead that got a 2xx is in the database (an answer is sent only after the commit);
//! - every qualified lead in the database reached the receiver;
//! - after deduplication by `webhook-id` (what Standard Webhooks receivers must do) each was
//!   processed exactly once: every wire-level repeat carries the same id and the same body;
//! - repeats come only from messages in flight at the kill: at most `concurrency` of them.
//!
//! The numbers are printed past the test harness's capture.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::exit_within;
use common::receiver::Receiver;
use leadgate_core::payload::lead_id;
use leadgate_core::{FieldValue, Lead, LeadPayload, Timestamp, VisitorContext};

/// Messages the relay sends at once; at most this many can be in flight at the kill.
const CONCURRENCY: usize = 8;

/// Lead number `n` of this run; two in three qualify.
fn lead(n: u32) -> (String, String) {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    bytes[4..8].copy_from_slice(&std::process::id().to_be_bytes());
    let mut lead = Lead::default();
    lead.fields.insert("email".into(), FieldValue::Text(format!("lead{n}@example.com")));
    let employees = if n.is_multiple_of(3) { "10" } else { "250" };
    lead.fields.insert("employees".into(), FieldValue::Text(employees.into()));
    let context = VisitorContext { page_url: "http://127.0.0.1/".into(), ..Default::default() };
    let config = common::config();
    let mut payload =
        LeadPayload::build(&config, lead_id(bytes), lead, context, Timestamp(1_795_735_496_123));
    payload.meta = Some(serde_json::json!({"honeypot": "", "fill_ms": 5000}).into());
    (payload.id.clone(), serde_json::to_string(&payload).unwrap())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A relay process that is killed when dropped, so a failing test leaves none running.
struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_relay(dir: &Path, port: u16) -> Running {
    let log = std::fs::File::options().create(true).append(true).open(dir.join("relay.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_leadgate-relay"))
        .arg("--config")
        .arg(dir.join("relay.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--rate-limit", "0"])
        .stdout(Stdio::null())
        .stderr(log.unwrap())
        .spawn()
        .unwrap();
    let child = Running(child);
    common::wait_until("the relay to answer /healthz", || {
        ureq::get(&format!("http://127.0.0.1:{port}/healthz")).call().is_ok()
    });
    child
}

/// Posts leads from `clients` threads until `stop`; returns the ids that got a 2xx.
fn load(port: u16, clients: usize, stop: Arc<AtomicBool>) -> Vec<String> {
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..clients {
            let (next, acked, stop) = (Arc::clone(&next), Arc::clone(&acked), Arc::clone(&stop));
            s.spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(2)).build();
                let url = format!("http://127.0.0.1:{port}/v1/leads");
                while !stop.load(Ordering::Relaxed) {
                    let (id, body) = lead(next.fetch_add(1, Ordering::Relaxed) as u32);
                    let sent = agent
                        .post(&url)
                        .set("content-type", "application/json")
                        .set("idempotency-key", &id)
                        .send_string(&body);
                    if matches!(sent, Ok(r) if (200..300).contains(&r.status())) {
                        acked.lock().unwrap().push(id);
                    }
                }
            });
        }
    });
    Arc::try_unwrap(acked).unwrap().into_inner().unwrap()
}

/// How the first relay is stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    /// `kill -9`: a crash.
    Kill,
    /// SIGTERM: a graceful restart (a deploy).
    Term,
}

#[test]
fn a_relay_killed_under_load_loses_no_acknowledged_lead_and_forwards_each_once_by_id() {
    let duplicates = stop_under_load(Stop::Kill);
    assert!(
        duplicates <= CONCURRENCY,
        "{duplicates} duplicates: more than the {CONCURRENCY} messages that can be in flight"
    );
}

#[test]
fn a_relay_stopped_gracefully_under_load_sends_no_message_twice() {
    // The forwarder finishes and records the messages in flight before the process ends.
    assert_eq!(stop_under_load(Stop::Term), 0, "wire duplicates after a graceful stop");
}

/// Loads a relay, stops it with `how`, restarts it, drains its queue, checks every guarantee,
/// prints the numbers, and returns the wire-level duplicates.
fn stop_under_load(how: Stop) -> usize {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let crm = Receiver::start(&[200]);
    std::fs::write(dir.path().join("form.json"), common::CONFIG).unwrap();
    // A short attempt timeout keeps the lease (timeout + 5 s) of the messages in flight at the
    // kill, and so the test, short.
    std::fs::write(
        dir.path().join("relay.toml"),
        format!(
            "db = \"leads.db\"\nforms = [\"form.json\"]\n\
             [forwarding]\nbase_delay_ms = 50\nmax_delay_ms = 500\npoll_ms = 10\n\
             concurrency = {CONCURRENCY}\ntimeout_ms = 500\n\
             [[webhooks]]\nname = \"crm\"\nurl = \"{}\"\nallow_private_network = true\n\
             secrets = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\n",
            crm.url
        ),
    )
    .unwrap();

    let port = free_port();
    let mut relay = start_relay(dir.path(), port);
    let stop = Arc::new(AtomicBool::new(false));
    let loader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || load(port, 4, stop))
    };
    // Kill once the forwarder is busy: some messages delivered, others in flight.
    // A state to reach, not a timing: a debug relay on a busy machine may take its time.
    common::wait_until_within("forwarding under way", Duration::from_secs(60), || {
        crm.seen().len() >= 200
    });
    std::thread::sleep(Duration::from_millis(100));
    match how {
        Stop::Kill => relay.kill().unwrap(), // SIGKILL
        Stop::Term => {
            let term = Command::new("kill").args(["-TERM", &relay.id().to_string()]).status();
            assert!(term.unwrap().success());
        }
    }
    // A graceful stop is bounded too: one attempt's timeout plus two seconds, then a failure.
    let status = exit_within(&mut relay, Duration::from_secs(15))
        .unwrap_or_else(|| panic!("the relay did not stop within 15 s of {how:?}"));
    assert_eq!(status.success(), how == Stop::Term, "{how:?}: {status}");
    let killed_at = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let acked = loader.join().unwrap();
    let seen_at_kill = crm.seen().len();
    let db = rusqlite::Connection::open(dir.path().join("leads.db")).unwrap();
    // Messages claimed (leased) but never recorded: those in flight when the relay stopped.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let in_flight: i64 = db
        .query_row(
            "SELECT count(*) FROM deliveries WHERE status = 'pending' AND attempts = 0
             AND next_at > ?1",
            [now_ms.as_millis() as i64],
            |r| r.get(0),
        )
        .unwrap();
    if how == Stop::Term {
        assert_eq!(in_flight, 0, "a graceful stop records every message in flight");
    }

    let mut relay = start_relay(dir.path(), free_port());
    let missing = acked
        .iter()
        .filter(|id| {
            let n: i64 = db
                .query_row("SELECT count(*) FROM leads WHERE id = ?1", [id], |r| r.get(0))
                .unwrap();
            n != 1
        })
        .count();
    assert_eq!(
        missing,
        0,
        "of {} acknowledged leads, {missing} are not in the database",
        acked.len()
    );

    // Drain: the messages in flight at the kill are due again when their lease ends.
    let drain = Instant::now();
    let undelivered = || -> i64 {
        db.query_row("SELECT count(*) FROM deliveries WHERE status != 'delivered'", [], |r| {
            r.get(0)
        })
        .unwrap()
    };
    let deadline = Duration::from_secs(30);
    while undelivered() > 0 {
        assert!(drain.elapsed() < deadline, "{} messages still undelivered", undelivered());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    relay.kill().unwrap();
    relay.wait().unwrap();

    let qualified: Vec<String> = {
        let mut stmt = db.prepare("SELECT id FROM leads WHERE relay_qualified = 1").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let rows: i64 = db.query_row("SELECT count(*) FROM leads", [], |r| r.get(0)).unwrap();
    // The receiver's side: deduplicate by webhook-id, as Standard Webhooks receivers must.
    let seen = crm.seen();
    let mut by_id: HashMap<String, (String, u32)> = HashMap::new();
    for r in &seen {
        let id = r.header("webhook-id").unwrap().to_string();
        let entry = by_id.entry(id.clone()).or_insert_with(|| (r.body.clone(), 0));
        assert_eq!(entry.0, r.body, "a repeat of {id} carries another body");
        entry.1 += 1;
    }
    for id in &qualified {
        assert!(by_id.contains_key(&format!("msg_{id}_crm")), "qualified lead {id} never arrived");
    }
    assert_eq!(by_id.len(), qualified.len(), "only qualified leads were forwarded");
    let duplicates = seen.len() - by_id.len();
    // The aggregates were written in the transactions the kill cut short or let commit: they
    // equal a recount from the rows (leads, first deliveries).
    let store = leadgate_relay::store::Store::open(&dir.path().join("leads.db")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let recount = runtime.block_on(store.recount(false)).unwrap();
    assert_eq!(recount.leads, rows as u64);
    assert!(recount.disagreements.is_empty(), "{:#?}", recount.disagreements);
    let note = format!(
        "crash test ({how:?}): stopped at {killed_at:.1?} with {} leads acknowledged ({rows} in the database, \
         0 acknowledged missing); {} qualified, all delivered; {} requests received, {} after \
         dedup by webhook-id, {duplicates} wire duplicates (same id and body; {seen_at_kill} \
         received before the stop, {in_flight} in flight at it); drained {:.1?} after restart; total {:.1?}\n",
        acked.len(),
        qualified.len(),
        seen.len(),
        by_id.len(),
        drain.elapsed(),
        started.elapsed()
    );
    let _ = std::io::stderr().write_all(note.as_bytes());
    duplicates
}
