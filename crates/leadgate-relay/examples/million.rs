//! Scale measurement of a `leadgate-relay` binary on loopback (run by `scripts/million.sh`;
//! not part of `cargo test`, not a timed test: it prints numbers).
//!
//! `million BIN [LEADS] [CONCURRENCY] [--postgres]` (defaults 1,000,000 and 8): starts BIN on
//! a fresh SQLite file (or, with `--postgres` or `LEADGATE_DATABASE_URL` set, on PostgreSQL: a
//! throwaway cluster started with initdb/pg_ctl when no URL is given) with the demo form
//! (`demo/contact.json`, so every lead is re-scored) and a dashboard token, fills it through
//! `POST /v1/leads` from CONCURRENCY keep-alive clients with demo-like leads (varied UTM
//! sources and campaigns, a first touch, pages, answers that hit different rules; about half
//! qualify, 1% spam), posts outcomes for 20% of them through `POST /v1/outcomes` (batches of
//! 1000: accepted, rejected with a reason, won with an amount), then times the reading routes
//! (median of 5 each), the CSV export (first body byte, total, the relay's RSS growth) and the
//! database's bytes per lead. The same table is measured at 100,000 leads on the way to a
//! larger LEADS, so growth can be judged (flat or linear).
//!
//! `million --samples DIR N`: writes N demo payloads, as the relay stores them, to DIR (what
//! the stored payloads' zstd dictionary is trained on: `store/packed.rs`).
//!
//! `MILLION_RSS_CAP_MB` (default 8000): the relay is killed (and restarted on the same
//! database) if its RSS passes this during the CSV export, so a buffering export can't take
//! the machine's memory; the table then says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/pg.rs"]
mod pg;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use leadgate_core::payload::lead_id;
use leadgate_core::{
    FieldValue, FormConfig, Lead, LeadPayload, PageView, Timestamp, Touch, VisitorContext,
};
use leadgate_relay::sales::DEFAULT_REASONS;
use serde_json::{json, Value};

const TOKEN: &str = "million-dashboard-token-0123456789abcdef";
const CHECKPOINT: u32 = 100_000;
const RUNS: usize = 5;
const CHUNK: u32 = 50_000;
const DAY_MS: u64 = 86_400_000;

/// A deterministic stream of pseudo-random numbers for lead `n` (splitmix64).
struct Dice(u64);

impl Dice {
    fn new(n: u32, salt: u64) -> Dice {
        Dice(u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// 0..100.
    fn pct(&mut self) -> u64 {
        self.next() % 100
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// One of `items` by weight (weights add up to 100).
    fn pick<'a>(&mut self, items: &[(&'a str, u64)]) -> &'a str {
        let mut roll = self.pct();
        for (item, weight) in items {
            if roll < *weight {
                return item;
            }
            roll -= weight;
        }
        items[items.len() - 1].0
    }
}

/// Lead `n`'s id: the same for the same run and `n`.
fn id_of(run: u32, n: u32) -> String {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    bytes[4..8].copy_from_slice(&run.to_be_bytes());
    bytes[8..12].copy_from_slice(&0x6d69_6c6cu32.to_be_bytes());
    lead_id(bytes)
}

/// Lead `n`'s e-mail: `lead{n}@example.com` for one lead in 1000 (n % 1000 == 123, so
/// `lead123@example.com` exists), else a company, free-mail or disposable address.
fn email_of(n: u32, dice: &mut Dice) -> String {
    if n % 1000 == 123 {
        return format!("lead{n}@example.com");
    }
    let domain = match dice.pct() {
        0..=24 => {
            ["gmail.com", "outlook.com", "yahoo.com", "gmx.de"][dice.below(4) as usize].to_string()
        }
        25..=26 => "mailinator.com".to_string(),
        _ => format!("company{}.io", dice.below(20_000)),
    };
    format!("lead{n}@{domain}")
}

fn touch(at: Timestamp, source: Option<&str>, campaign: &str, page: &str) -> Touch {
    let mut utm = leadgate_core::Map::new();
    if let Some(source) = source {
        utm.insert("utm_source".to_string(), source.to_string());
        let medium = match source {
            "google" | "bing" => "cpc",
            "linkedin" | "facebook" => "social",
            _ => "email",
        };
        utm.insert("utm_medium".to_string(), medium.to_string());
        utm.insert("utm_campaign".to_string(), campaign.to_string());
    }
    let mut click_ids = leadgate_core::Map::new();
    if source == Some("google") {
        click_ids.insert("gclid".to_string(), format!("Cj0K{:x}", at.0));
    }
    let query =
        source.map_or(String::new(), |s| format!("?utm_source={s}&utm_campaign={campaign}"));
    Touch {
        at: at.to_rfc3339(),
        page_url: format!("https://www.northwind.example{page}{query}"),
        referrer: source.is_none().then(|| "https://www.google.com/".to_string()),
        utm,
        click_ids,
    }
}

/// Lead `n` of run `run`, submitted at `now`: (id, JSON body, qualified, spam).
fn lead(config: &FormConfig, run: u32, n: u32, now: Timestamp) -> (String, String, bool, bool) {
    let mut dice = Dice::new(n, u64::from(run) << 32);
    let mut lead = Lead::default();
    let text = |s: String| FieldValue::Text(s);
    lead.fields.insert("name".into(), text(format!("Lead {n}")));
    lead.fields.insert("email".into(), text(email_of(n, &mut dice)));
    let company = dice.below(20_000);
    if dice.pct() < 85 {
        lead.fields.insert("company".into(), text(format!("Company {company}")));
    }
    let roles = [("founder", 12), ("vp", 18), ("manager", 30), ("individual", 30), ("student", 10)];
    lead.fields.insert("role".into(), text(dice.pick(&roles).to_string()));
    let sizes =
        [("1-10", 22), ("11-50", 22), ("51-200", 20), ("201-1000", 18), ("1000+", 13), ("", 5)];
    let size = dice.pick(&sizes);
    if !size.is_empty() {
        lead.fields.insert("employees".into(), text(size.to_string()));
    }
    if dice.pct() < 35 {
        lead.fields.insert("phone".into(), text(format!("+1 555 {:04}", dice.below(10_000))));
    }
    match dice.pct() {
        0..=19 => {
            let m = "Could you walk us through pricing for a team of twenty, and the CRM sync?";
            lead.fields.insert("message".into(), text(m.to_string()));
        }
        20..=39 => {
            let m = "We collect demo requests on three landing pages and want them scored.";
            lead.fields.insert("message".into(), text(m.to_string()));
        }
        _ => {}
    }
    lead.fields.insert("campaign".into(), text("demo-landing".to_string()));
    lead.fields.insert("newsletter".into(), FieldValue::Checked(dice.pct() < 30));
    lead.fields.insert("consent".into(), FieldValue::Checked(true));

    let sources = [
        ("google", 30),
        ("linkedin", 20),
        ("newsletter", 15),
        ("", 20),
        ("bing", 5),
        ("facebook", 5),
        ("partner", 5),
    ];
    let campaigns = [
        ("spring-launch", 30),
        ("webinar-q3", 20),
        ("retargeting", 20),
        ("brand", 20),
        ("pricing-page", 10),
    ];
    let source = Some(dice.pick(&sources)).filter(|s| !s.is_empty());
    let campaign = dice.pick(&campaigns);
    let first_source = Some(dice.pick(&sources)).filter(|s| !s.is_empty());
    let first_campaign = dice.pick(&campaigns);
    let visits = 1 + (dice.below(6) as u32).saturating_sub(1);
    let days_ago = if visits > 1 { 1 + dice.below(90) } else { 0 };
    let first_at = Timestamp(now.0 - days_ago * DAY_MS - dice.below(3_600_000) - 600_000);
    let visit_at = Timestamp(now.0 - 60_000 - dice.below(1_200_000));
    let all_pages = ["/", "/features", "/pricing", "/customers", "/blog/lead-scoring", "/about"];
    let mut context = VisitorContext {
        page_url: format!(
            "https://www.northwind.example/demo{}",
            source.map_or(String::new(), |s| format!("?utm_source={s}&utm_campaign={campaign}"))
        ),
        visits,
        first_seen: Some(first_at),
        seconds_on_site: 30 + dice.below(1800),
        landing_page: Some("https://www.northwind.example/".to_string()),
        first_touch: Some(touch(first_at, first_source, first_campaign, "/")),
        last_touch: Some(touch(visit_at, source, campaign, "/")),
        ..VisitorContext::default()
    };
    let last = context.last_touch.as_ref().unwrap();
    context.utm.clone_from(&last.utm);
    context.click_ids.clone_from(&last.click_ids);
    context.referrer.clone_from(&last.referrer);
    let pages = 1 + dice.below(6);
    for i in 0..pages {
        let page = all_pages[dice.below(all_pages.len() as u64) as usize];
        let at = if i == 0 && days_ago > 0 { first_at } else { Timestamp(visit_at.0 + i * 30_000) };
        context.pages.push(PageView { url: format!("https://www.northwind.example{page}"), at });
    }
    context.pages.sort_by_key(|p| p.at);
    context.pages_seen = pages as u32 + dice.below(4) as u32;
    let id = id_of(run, n);
    let mut payload = LeadPayload::build(config, id.clone(), lead.clone(), context.clone(), now);
    // The demo form asks for a phone number from 60 points (`required_if`): a visitor who
    // got there gave one.
    if payload.score.total >= 60 && !lead.fields.contains_key("phone") {
        lead.fields.insert("phone".into(), text(format!("+1 555 {:04}", dice.below(10_000))));
        payload = LeadPayload::build(config, id.clone(), lead, context, now);
    }
    let mut json = serde_json::to_value(&payload).unwrap();
    let spam = dice.pct() == 0;
    let fill_ms = if spam { 800 } else { 3000 + dice.below(60_000) };
    json["meta"] = json!({"honeypot": "", "fill_ms": fill_ms});
    (id, json.to_string(), payload.score.qualified, spam)
}

/// `million --samples DIR N`: N demo payloads as the relay stores them (`store/packed.rs`
/// trains its zstd dictionary on these), one file each.
fn write_samples(config: &FormConfig, dir: &Path, n: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let now = Timestamp(now_ms());
    for i in 0..n {
        let (_, body, _, _) = lead(config, 1, i, now);
        let payload: LeadPayload = serde_json::from_str(&body).unwrap();
        let json = serde_json::to_string(&payload).unwrap();
        std::fs::write(dir.join(format!("{i:06}.json")), json).unwrap();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

struct Relay {
    bin: String,
    dir: PathBuf,
    form: PathBuf,
    database_url: Option<String>,
    port: u16,
    child: Child,
}

impl Relay {
    fn start(bin: &str, dir: &Path, form: &Path, database_url: Option<String>) -> Relay {
        let port = free_port();
        let child = Relay::spawn(bin, dir, form, database_url.as_deref(), port);
        let (bin, dir, form) = (bin.to_string(), dir.to_path_buf(), form.to_path_buf());
        Relay { bin, dir, form, database_url, port, child }
    }

    fn spawn(bin: &str, dir: &Path, form: &Path, database_url: Option<&str>, port: u16) -> Child {
        let log =
            std::fs::File::options().create(true).append(true).open(dir.join("relay.log")).unwrap();
        let mut command = Command::new(bin);
        if let Some(url) = database_url {
            command.env("LEADGATE_DATABASE_URL", url);
        }
        let child = command
            .arg("--db")
            .arg(dir.join("leads.db"))
            .arg("--form")
            .arg(form)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--rate-limit", "0"])
            .env("LEADGATE_DASHBOARD_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cannot start the relay");
        let start = Instant::now();
        while ureq::get(&format!("http://127.0.0.1:{port}/healthz")).call().is_err() {
            assert!(start.elapsed() < Duration::from_secs(60), "the relay did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let url = self.database_url.as_deref();
        self.child = Relay::spawn(&self.bin, &self.dir, &self.form, url, self.port);
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` and `VmHWM` of `pid` in kB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Intake {
    posted: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Posts leads `from..to` in chunks (each generated before it is posted, so generating is
/// not timed) from `concurrency` keep-alive clients. Returns the intake and how many
/// qualified / spam leads were posted.
fn fill(
    relay: &Relay,
    config: &FormConfig,
    run: u32,
    (from, to): (u32, u32),
    concurrency: usize,
) -> (Intake, u64, u64) {
    let mut intake =
        Intake { posted: 0, errors: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
    let (mut qualified, mut spam) = (0, 0);
    let url = relay.url("/v1/leads");
    let mut start = from;
    while start < to {
        let end = (start + CHUNK).min(to);
        let now = Timestamp(now_ms());
        let bodies: Vec<(String, String)> = (start..end)
            .map(|n| {
                let (id, body, q, s) = lead(config, run, n, now);
                qualified += u64::from(q && !s);
                spam += u64::from(s);
                (id, body)
            })
            .collect();
        let bodies = Arc::new(bodies);
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let threads: Vec<_> = (0..concurrency)
            .map(|_| {
                let (bodies, next, url) = (Arc::clone(&bodies), Arc::clone(&next), url.clone());
                std::thread::spawn(move || {
                    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
                    let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((id, body)) = bodies.get(i) else { break };
                        let t = Instant::now();
                        let result = agent
                            .post(&url)
                            .set("content-type", "application/json")
                            .set("idempotency-key", id)
                            .send_string(body);
                        match result {
                            Ok(r) if r.status() == 201 => {
                                latencies.push(t.elapsed());
                                ok += 1;
                            }
                            Ok(r) => {
                                errors += 1;
                                if errors < 3 {
                                    eprintln!("lead {id}: status {}", r.status());
                                }
                            }
                            Err(e) => {
                                errors += 1;
                                if errors < 3 {
                                    eprintln!("lead {id}: {e}");
                                }
                            }
                        }
                    }
                    (ok, errors, latencies)
                })
            })
            .collect();
        for t in threads {
            let (ok, errors, latencies) = t.join().unwrap();
            intake.posted += ok;
            intake.errors += errors;
            intake.latencies.extend(latencies);
        }
        intake.elapsed += started.elapsed();
        start = end;
        eprintln!(
            "  {end} leads posted ({:.0} leads/s so far, load {})",
            intake.posted as f64 / intake.elapsed.as_secs_f64(),
            load_average()
        );
    }
    (intake, qualified, spam)
}

struct Outcomes {
    posted: usize,
    recorded: u64,
    errors: usize,
    elapsed: Duration,
    by_status: BTreeMap<&'static str, usize>,
}

/// Outcomes for 20% of leads `from..to` (not spam), in batches of 1000: accepted, rejected
/// with a reason, or won with an amount, more often good for qualified leads.
fn post_outcomes(relay: &Relay, config: &FormConfig, run: u32, (from, to): (u32, u32)) -> Outcomes {
    let mut result = Outcomes {
        posted: 0,
        recorded: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        by_status: BTreeMap::new(),
    };
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(120)).build();
    let url = relay.url("/v1/outcomes");
    let now = Timestamp(now_ms());
    let mut batch = Vec::with_capacity(1000);
    let flush = |batch: &mut Vec<Value>, result: &mut Outcomes| {
        if batch.is_empty() {
            return;
        }
        let body = json!({ "outcomes": batch }).to_string();
        let started = Instant::now();
        let response = agent
            .post(&url)
            .set("content-type", "application/json")
            .set("authorization", &format!("Bearer {TOKEN}"))
            .send_string(&body);
        result.elapsed += started.elapsed();
        match response {
            Ok(r) if r.status() == 200 => {
                let v: Value = r.into_json().unwrap_or(Value::Null);
                result.recorded += v["recorded"].as_u64().unwrap_or(0);
                result.posted += batch.len();
            }
            Ok(r) => {
                result.errors += batch.len();
                eprintln!("outcomes: status {}", r.status());
            }
            Err(ureq::Error::Status(code, r)) => {
                result.errors += batch.len();
                eprintln!("outcomes: {code} {}", r.into_string().unwrap_or_default());
            }
            Err(e) => {
                result.errors += batch.len();
                eprintln!("outcomes: {e}");
            }
        }
        batch.clear();
    };
    for n in from..to {
        let mut dice = Dice::new(n, 0x6f75_7463_6f6d_6573 ^ u64::from(run));
        if dice.pct() >= 20 {
            continue;
        }
        // The lead's own numbers (cheap enough to rebuild: 20% of them).
        let (id, _, qualified, spam) = lead(config, run, n, now);
        if spam {
            continue;
        }
        let roll = dice.pct();
        let (accept, win) = if qualified { (55, 20) } else { (30, 5) };
        let outcome = if roll < win {
            json!({"lead_id": id, "status": "won", "amount": 5000 + dice.below(45_000)})
        } else if roll < win + accept {
            json!({"lead_id": id, "status": "accepted"})
        } else {
            let reason = DEFAULT_REASONS[dice.below(DEFAULT_REASONS.len() as u64) as usize];
            json!({"lead_id": id, "status": "rejected", "reason": reason})
        };
        let status = match outcome["status"].as_str() {
            Some("won") => "won",
            Some("accepted") => "accepted",
            _ => "rejected",
        };
        *result.by_status.entry(status).or_insert(0) += 1;
        batch.push(outcome);
        if batch.len() == 1000 {
            flush(&mut batch, &mut result);
        }
    }
    flush(&mut batch, &mut result);
    result
}

/// A timed GET: the median of [`RUNS`], the last answer's status and size.
struct Timed {
    median: Duration,
    status: u16,
    bytes: usize,
    body: Vec<u8>,
}

fn get(agent: &ureq::Agent, url: &str) -> (Duration, u16, Vec<u8>) {
    let started = Instant::now();
    let response = agent.get(url).set("authorization", &format!("Bearer {TOKEN}")).call();
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => {
            eprintln!("GET {url}: {e}");
            return (started.elapsed(), 0, Vec::new());
        }
    };
    let status = response.status();
    let mut body = Vec::new();
    let _ = response.into_reader().take(u64::MAX).read_to_end(&mut body);
    (started.elapsed(), status, body)
}

fn timed(agent: &ureq::Agent, url: &str) -> Timed {
    let mut times = Vec::with_capacity(RUNS);
    let (mut status, mut body) = (0, Vec::new());
    for _ in 0..RUNS {
        let (t, s, b) = get(agent, url);
        times.push(t);
        (status, body) = (s, b);
    }
    times.sort();
    Timed { median: times[RUNS / 2], status, bytes: body.len(), body }
}

/// The leads of a list answer (an array, or an object with an array of them).
fn lead_ids(body: &[u8]) -> Vec<String> {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let list = match &value {
        Value::Array(items) => items.clone(),
        Value::Object(o) => ["leads", "items", "data"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_array).cloned())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    list.iter().filter_map(|l| l["id"].as_str().map(str::to_string)).collect()
}

/// One measured table column.
#[derive(Default)]
struct Column {
    rows: Vec<(String, String)>,
}

impl Column {
    fn add(&mut self, what: impl Into<String>, value: impl Into<String>) {
        self.rows.push((what.into(), value.into()));
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / 1e6)
    } else if bytes >= 1024 {
        format!("{:.1} kB", bytes as f64 / 1e3)
    } else {
        format!("{bytes} B")
    }
}

fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

enum Db {
    Sqlite(PathBuf),
    Postgres(String, u64),
}

impl Db {
    /// Bytes used now (SQLite: the file with its -wal and -shm; PostgreSQL:
    /// `pg_database_size`).
    fn bytes(&self) -> u64 {
        match self {
            Db::Sqlite(path) => ["", "-wal", "-shm"]
                .iter()
                .map(|ext| {
                    let mut p = path.clone().into_os_string();
                    p.push(ext);
                    std::fs::metadata(p).map_or(0, |m| m.len())
                })
                .sum(),
            Db::Postgres(url, _) => {
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                let row = client.query_one("SELECT pg_database_size(current_database())", &[]);
                row.unwrap().get::<_, i64>(0) as u64
            }
        }
    }
}

/// Times every reading route at the current size.
fn measure(relay: &mut Relay, db: &Db, leads: u64, deep: &str, rss_cap_kb: u64) -> Column {
    let mut col = Column::default();
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(600)).build();
    col.add("load average (1/5/15 min)", load_average());
    let t = timed(&agent, &relay.url("/v1/stats"));
    col.add("`GET /v1/stats`", format!("{} ({})", ms(t.median), size(t.bytes)));
    let t = timed(&agent, &relay.url("/leads"));
    col.add("`GET /leads` (dashboard)", format!("{} ({})", ms(t.median), size(t.bytes)));
    let t = timed(&agent, &relay.url("/v1/insights"));
    let note = if t.status == 200 { String::new() } else { format!(", status {}", t.status) };
    col.add("`GET /v1/insights`", format!("{} ({}{note})", ms(t.median), size(t.bytes)));
    let first = timed(&agent, &relay.url("/v1/leads?limit=50"));
    let first_ids = lead_ids(&first.body);
    col.add(
        "`GET /v1/leads?limit=50` (first page)",
        format!("{} ({} leads)", ms(first.median), first_ids.len()),
    );
    // A deep page, if the route takes `?before=`: the lead in the middle of the fill.
    let probe_url = relay.url(&format!("/v1/leads?limit=50&before={deep}"));
    let (_, status, body) = get(&agent, &probe_url);
    let deep_ids = lead_ids(&body);
    let what = "`GET /v1/leads?limit=50&before=` (deep page)";
    if status != 200 {
        let text = String::from_utf8_lossy(&body);
        col.add(what, format!("not supported (status {status}: {})", text.trim()));
    } else if deep_ids == first_ids {
        col.add(what, "not supported (`before` ignored: the first page again)".to_string());
    } else {
        let t = timed(&agent, &probe_url);
        col.add(what, format!("{} ({} leads)", ms(t.median), lead_ids(&t.body).len()));
    }
    for q in ["lead123@example.com", "example.com"] {
        let t = timed(&agent, &relay.url(&format!("/v1/leads?q={q}&limit=50")));
        col.add(
            format!("`GET /v1/leads?q={q}&limit=50`"),
            format!("{} ({} found)", ms(t.median), lead_ids(&t.body).len()),
        );
    }
    let (first_byte, total, bytes, growth, killed) = csv_export(relay, rss_cap_kb);
    if killed {
        col.add(
            "`GET /leads.csv` first byte / total",
            format!("relay killed: RSS passed {} MB", rss_cap_kb / 1024),
        );
    } else {
        col.add(
            "`GET /leads.csv` first byte / total",
            format!("{} / {} ({})", ms(first_byte), ms(total), size(bytes)),
        );
    }
    col.add("relay RSS growth during the export", growth);
    let used = db.bytes();
    let per_lead = match db {
        Db::Sqlite(_) => {
            format!("{:.0} B ({} in all)", used as f64 / leads as f64, size(used as usize))
        }
        Db::Postgres(_, empty) => format!(
            "{:.0} B ({} in all, {} when empty)",
            used.saturating_sub(*empty) as f64 / leads as f64,
            size(used as usize),
            size(*empty as usize)
        ),
    };
    col.add("database bytes per lead", per_lead);
    col
}

/// The CSV export [`RUNS`] times: median first body byte, median total, size, and the relay's
/// RSS growth (peak during the exports over RSS before the first), or killed past the cap.
fn csv_export(relay: &mut Relay, rss_cap_kb: u64) -> (Duration, Duration, usize, String, bool) {
    let pid = relay.pid();
    // Reset the peak (VmHWM) to the current RSS, so VmHWM afterwards is this export's peak.
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let (before, _) = memory(pid);
    let peak = Arc::new(AtomicU64::new(before));
    let over = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (peak, over, done) = (Arc::clone(&peak), Arc::clone(&over), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let (rss, _) = memory(pid);
                peak.fetch_max(rss, Ordering::Relaxed);
                if rss > rss_cap_kb {
                    over.store(true, Ordering::Relaxed);
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(900)).build();
    let (mut firsts, mut totals, mut bytes) = (Vec::new(), Vec::new(), 0);
    for _ in 0..RUNS {
        let started = Instant::now();
        let response = agent
            .get(&relay.url("/leads.csv"))
            .set("authorization", &format!("Bearer {TOKEN}"))
            .call();
        let Ok(response) = response else { break };
        let mut reader = response.into_reader();
        let mut one = [0u8; 1];
        if reader.read(&mut one).unwrap_or(0) == 0 {
            break;
        }
        firsts.push(started.elapsed());
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        totals.push(started.elapsed());
        bytes = rest.len() + 1;
        if over.load(Ordering::Relaxed) {
            break;
        }
    }
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let killed = over.load(Ordering::Relaxed);
    let (_, hwm) = memory(pid);
    let peak =
        if reset { peak.load(Ordering::Relaxed).max(hwm) } else { peak.load(Ordering::Relaxed) };
    let growth = format!(
        "{:.0} MB (RSS {:.0} MB before, peak {:.0} MB{})",
        peak.saturating_sub(before) as f64 / 1024.0,
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        if reset { "" } else { ", sampled every 10 ms" }
    );
    if killed {
        eprintln!("the relay passed the RSS cap during the export: restarting it");
        relay.restart();
        return (Duration::ZERO, Duration::ZERO, 0, growth, true);
    }
    firsts.sort();
    totals.sort();
    let median = |v: &[Duration]| v.get(v.len() / 2).copied().unwrap_or_default();
    (median(&firsts), median(&totals), bytes, growth, false)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: million BIN [LEADS] [CONCURRENCY] [--postgres]";
    let postgres_flag = args.iter().any(|a| a == "--postgres");
    let positional: Vec<&String> = args.iter().skip(1).filter(|a| !a.starts_with("--")).collect();
    let bin = positional.first().expect(usage).to_string();
    let leads: u32 =
        positional.get(1).map_or(1_000_000, |n| n.replace(['_', ','], "").parse().expect(usage));
    let concurrency: usize = positional.get(2).map_or(8, |n| n.parse().expect(usage));
    let rss_cap_kb: u64 =
        std::env::var("MILLION_RSS_CAP_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(8000)
            * 1024;
    let form_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/contact.json");
    let form_path = form_path.canonicalize().expect("demo/contact.json");
    let config = FormConfig::from_json(&std::fs::read_to_string(&form_path).unwrap()).unwrap();
    if args.get(1).is_some_and(|a| a == "--samples") {
        write_samples(&config, Path::new(&bin), leads);
        return;
    }
    let dir = tempfile::Builder::new().prefix("leadgate-million-").tempdir().unwrap();
    // `MILLION_KEEP=1`: the database file stays (its path is printed) for a look inside.
    let (dir, _removed_at_end) = if std::env::var_os("MILLION_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("keeping {}", kept.display());
        (kept, None)
    } else {
        (dir.path().to_path_buf(), Some(dir))
    };

    // PostgreSQL: the given URL, or a throwaway cluster (dropped, so stopped, at the end).
    let mut cluster = None;
    let mut pg_url = std::env::var("LEADGATE_DATABASE_URL").ok().filter(|u| !u.is_empty());
    if postgres_flag && pg_url.is_none() {
        let bin = pg::postgres_bin().expect("no PostgreSQL server binaries: run scripts/setup.sh");
        let started = pg::Cluster::start(&bin);
        pg_url = Some(started.url.clone());
        cluster = Some(started);
    }
    let run = (now_ms() / 1000) as u32;
    let mut relay = Relay::start(&bin, dir.as_path(), &form_path, pg_url.clone());
    let db = match &pg_url {
        Some(url) => {
            let probe = Db::Postgres(url.clone(), 0);
            Db::Postgres(url.clone(), probe.bytes())
        }
        None => Db::Sqlite(dir.as_path().join("leads.db")),
    };
    let database = if pg_url.is_some() { "PostgreSQL" } else { "SQLite (WAL, synchronous=FULL)" };
    println!(
        "million: {leads} demo leads, {concurrency} clients, {database}, relay {bin}, {} cores, load {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );

    let mut stops = vec![];
    if leads > CHECKPOINT {
        stops.push(CHECKPOINT);
    }
    stops.push(leads);
    let mut columns = Vec::new();
    let mut from = 0;
    let (mut posted, mut qualified_total, mut spam_total) = (0u64, 0u64, 0u64);
    for stop in stops {
        eprintln!("filling {from}..{stop}");
        let (mut intake, qualified, spam) = fill(&relay, &config, run, (from, stop), concurrency);
        posted += intake.posted as u64;
        qualified_total += qualified;
        spam_total += spam;
        intake.latencies.sort();
        let pct = |p: f64| {
            let l = &intake.latencies;
            l.get(((l.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or_default()
        };
        let leads_per_s = intake.posted as f64 / intake.elapsed.as_secs_f64();
        eprintln!("outcomes for {from}..{stop}");
        let outcomes = post_outcomes(&relay, &config, run, (from, stop));
        eprintln!("measuring at {posted} leads");
        let mut col =
            measure(&mut relay, &db, posted, &id_of(run, from + (stop - from) / 2), rss_cap_kb);
        col.rows.insert(
            0,
            (
                format!("intake, leads {from}..{stop}"),
                format!(
                    "{leads_per_s:.0} leads/s (p50 {}, p99 {}, {} errors)",
                    ms(pct(0.5)),
                    ms(pct(0.99)),
                    intake.errors
                ),
            ),
        );
        let statuses: Vec<String> =
            outcomes.by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
        col.rows.insert(
            1,
            (
                "outcomes (`POST /v1/outcomes`, 1000 a batch)".to_string(),
                format!(
                    "{} recorded of {} ({}), {:.0}/s, {} errors",
                    outcomes.recorded,
                    outcomes.posted,
                    statuses.join(", "),
                    outcomes.posted as f64 / outcomes.elapsed.as_secs_f64().max(1e-9),
                    outcomes.errors
                ),
            ),
        );
        col.rows.insert(
            2,
            (
                "leads stored (qualified, spam)".to_string(),
                format!("{posted} ({qualified_total}, {spam_total})"),
            ),
        );
        columns.push((posted, col));
        print_table(&columns, database, concurrency);
        from = stop;
    }
    drop(relay);
    drop(cluster);
}

fn print_table(columns: &[(u64, Column)], database: &str, concurrency: usize) {
    println!();
    println!("{database}, {concurrency} clients, each GET the median of {RUNS}:");
    let mut header = "| |".to_string();
    let mut rule = "|---|".to_string();
    for (leads, _) in columns {
        header.push_str(&format!(" {leads} leads |"));
        rule.push_str("---|");
    }
    println!("{header}\n{rule}");
    for (i, (what, _)) in columns[0].1.rows.iter().enumerate() {
        let mut line = format!("| {what} |");
        for (_, col) in columns {
            line.push_str(&format!(" {} |", col.rows.get(i).map_or("", |r| r.1.as_str())));
        }
        println!("{line}");
    }
    println!();
}
