//! Where leads are kept: one SQLite file with the leads (one row per lead id, written exactly
//! once), the rules that fired, the widget's funnel events, and the forwarding queue.
//!
//! Durability: the file is in WAL mode with `synchronous = FULL`, so a transaction that
//! committed is on disk, and an answer is sent only after its commit. Every write goes to one
//! writer thread that commits what is waiting in one transaction (group commit: one fsync for
//! many leads), each job in its own savepoint so one bad job fails alone. Reads use their own
//! connection, so the dashboard never makes a delivery wait.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadgate_core::{LeadPayload, Score};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS leads (
    id TEXT PRIMARY KEY NOT NULL,
    form_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    total INTEGER NOT NULL,
    grade TEXT NOT NULL,
    qualified INTEGER NOT NULL,
    stage TEXT NOT NULL,
    score_checked TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    idempotency_key TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS leads_received_at ON leads (received_at);
CREATE TABLE IF NOT EXISTS lead_hits (
    lead_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    points INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS lead_hits_lead ON lead_hits (lead_id);
CREATE TABLE IF NOT EXISTS events (
    id TEXT UNIQUE,
    form_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    day TEXT NOT NULL,
    utm_source TEXT NOT NULL DEFAULT '',
    utm_campaign TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS deliveries (
    lead_id TEXT NOT NULL,
    webhook TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    PRIMARY KEY (lead_id, webhook)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_at);
";

/// Columns added to `leads` after the first release (added to older files when opened).
const LEAD_COLUMNS: [(&str, &str); 8] = [
    ("relay_total", "INTEGER"),
    ("relay_qualified", "INTEGER"),
    ("relay_score", "TEXT"),
    ("spam", "TEXT"),
    ("meta", "TEXT"),
    ("email", "TEXT NOT NULL DEFAULT ''"),
    ("utm_source", "TEXT NOT NULL DEFAULT ''"),
    ("utm_campaign", "TEXT NOT NULL DEFAULT ''"),
];

/// How long a write waits for another process's writer before it gives up (and the lead gets
/// a 503, so the widget retries).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The most jobs committed in one transaction.
const MAX_BATCH: usize = 512;

/// Whether the relay's own score agrees with the one the browser sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreCheck {
    /// Same total and same qualification.
    Match,
    /// The relay scored it differently: the payload was tampered with, or the page's config
    /// is not the relay's.
    Mismatch,
    /// The relay has no config for this form.
    Unchecked,
}

impl ScoreCheck {
    /// The value stored in the `score_checked` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreCheck::Match => "match",
            ScoreCheck::Mismatch => "mismatch",
            ScoreCheck::Unchecked => "unchecked",
        }
    }

    fn from_column(text: &str) -> ScoreCheck {
        match text {
            "match" => ScoreCheck::Match,
            "mismatch" => ScoreCheck::Mismatch,
            _ => ScoreCheck::Unchecked,
        }
    }
}

/// A lead as stored, with what the relay knows about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredLead {
    /// The lead's id (the idempotency key).
    pub id: String,
    /// The form it came from.
    pub form_id: String,
    /// When the relay first received it, RFC 3339 UTC.
    pub received_at: String,
    /// How many times it was delivered (retries included); stored once all the same.
    pub attempts: u32,
    /// Whether the relay's score agreed with the browser's.
    pub score_checked: ScoreCheck,
    /// The `Idempotency-Key` header of the first delivery (none when the sender set none,
    /// as `navigator.sendBeacon` can't).
    pub idempotency_key: Option<String>,
    /// The payload as first received (its `score` is the browser's).
    pub payload: LeadPayload,
    /// The relay's own score, when it knows the form; routing uses it.
    pub relay_score: Option<Score>,
    /// Why the lead was judged spam (`honeypot`, `too_fast`); spam is kept, never forwarded.
    pub spam: Option<String>,
    /// How many webhooks accepted it.
    pub forwarded: u32,
}

impl StoredLead {
    /// The score that counts: the relay's when it re-scored the lead, else the browser's.
    pub fn score(&self) -> &Score {
        self.relay_score.as_ref().unwrap_or(&self.payload.score)
    }
}

/// A lead to store (built by the receiving route).
#[derive(Debug, Clone)]
pub struct NewLead {
    /// The payload as received.
    pub payload: LeadPayload,
    /// The relay's clock at receipt, RFC 3339.
    pub received_at: String,
    /// Whether the relay's score agreed.
    pub check: ScoreCheck,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
    /// The relay's own score.
    pub relay_score: Option<Score>,
    /// Why it is spam, if it is.
    pub spam: Option<String>,
    /// The widget's `meta` object (honeypot, fill time), as received.
    pub meta: Option<serde_json::Value>,
    /// The visitor's e-mail address, lowercased ('' if none), for search.
    pub email: String,
    /// The webhook messages to queue with it (name, body), in the same transaction.
    pub deliveries: Vec<(String, String)>,
}

/// What [`Store::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// A new lead: stored.
    Stored,
    /// A lead with this id was already stored; only its attempts were counted.
    Repeated,
}

/// Which leads to list.
#[derive(Debug, Clone, Default)]
pub struct LeadQuery {
    /// Only leads whose e-mail contains this (case-insensitive): an address or a domain.
    pub search: Option<String>,
    /// At most this many, newest first. Defaults to all.
    pub limit: Option<u32>,
}

/// A widget event (`view` or `start`) to count.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event's id, when the widget sent one (repeats are ignored).
    pub id: Option<String>,
    /// The form.
    pub form_id: String,
    /// `view` or `start`.
    pub kind: String,
    /// When the widget saw it (as sent).
    pub at: String,
    /// The relay's day of receipt, `YYYY-MM-DD` (the funnel is by the relay's clock).
    pub day: String,
    /// `utm_source`, or ''.
    pub utm_source: String,
    /// `utm_campaign`, or ''.
    pub utm_campaign: String,
}

/// Where a webhook message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// A 2xx answer came back.
    Delivered,
    /// Given up after the last attempt (or refused): a dead letter, replayable.
    Dead,
}

impl DeliveryStatus {
    /// The value in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    fn from_column(text: &str) -> DeliveryStatus {
        match text {
            "delivered" => DeliveryStatus::Delivered,
            "dead" => DeliveryStatus::Dead,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// A webhook message due now, claimed by the forwarder.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    /// The lead.
    pub lead_id: String,
    /// The webhook's name.
    pub webhook: String,
    /// The `webhook-id`.
    pub msg_id: String,
    /// The JSON body.
    pub body: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// A webhook message's state, as `GET /v1/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    /// The lead.
    pub lead_id: String,
    /// The webhook's name.
    pub webhook: String,
    /// The `webhook-id`.
    pub msg_id: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (Unix ms), for a pending one.
    pub next_at: u64,
    /// The last HTTP status received, if any.
    pub last_status: Option<u16>,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// When it was delivered, RFC 3339.
    pub delivered_at: Option<String>,
}

/// The outcome of one attempt, for [`Store::record_attempt`].
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// 2xx at this time (RFC 3339).
    Delivered {
        /// The status.
        status: u16,
        /// When.
        at: String,
    },
    /// Failed; try again at `next_at` (Unix ms), or never (`None`: a dead letter).
    Failed {
        /// The status, if an answer came.
        status: Option<u16>,
        /// What went wrong.
        error: String,
        /// When to try again; `None` makes it a dead letter.
        next_at: Option<u64>,
    },
}

/// One row of the funnel: the numbers marketing and sales track together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FunnelRow {
    /// Widget views.
    pub views: u64,
    /// Forms started (first input).
    pub starts: u64,
    /// Leads received (spam excluded).
    pub submissions: u64,
    /// Qualified leads (MQL), by the relay's score where it has one.
    pub mqls: u64,
    /// Leads at least one webhook accepted.
    pub forwarded: u64,
}

/// A rule and how often it fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    /// The rule id.
    pub rule: String,
    /// Its reason.
    pub reason: String,
    /// How many leads it fired for.
    pub leads: u64,
    /// The points it gave in all.
    pub points: i64,
}

/// Every number the dashboard shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Funnel {
    /// All time.
    pub totals: FunnelRow,
    /// By the relay's day (`YYYY-MM-DD`), newest first.
    pub by_day: Vec<(String, FunnelRow)>,
    /// By (`utm_source`, `utm_campaign`), '' for none; most submissions first.
    pub by_source: Vec<(String, String, FunnelRow)>,
    /// Leads by score, in buckets of ten points (the bucket's lowest score, count).
    pub histogram: Vec<(i64, u64)>,
    /// The rules that fired most (spam excluded).
    pub top_rules: Vec<RuleCount>,
    /// Leads judged spam.
    pub spam: u64,
    /// Leads the relay scored differently from the browser.
    pub mismatches: u64,
    /// Webhook messages waiting.
    pub pending: u64,
    /// Webhook messages given up on.
    pub dead_letters: u64,
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused (busy, disk full, read-only file, ...).
    #[error("the lead database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The transaction holding this write could not commit.
    #[error("the lead database failed to commit: {0}")]
    Commit(String),
    /// A stored value can no longer be read.
    #[error("the stored lead {id} is not valid: {source}")]
    Payload {
        /// The lead's id.
        id: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A value could not be turned into JSON.
    #[error("the lead could not be encoded: {0}")]
    Encode(serde_json::Error),
    /// An earlier database call panicked while holding the connection.
    #[error("the lead database is unavailable after an internal error")]
    Poisoned,
    /// The writer thread is gone, or a task did not finish.
    #[error("the lead database task failed: {0}")]
    Task(String),
}

type Output = Box<dyn Any + Send>;
type Work = Box<dyn FnOnce(&Connection) -> Result<Output, StoreError> + Send>;

struct Job {
    work: Work,
    reply: tokio::sync::oneshot::Sender<Result<Output, StoreError>>,
}

/// The lead database. Cheap to clone: clones share the writer thread and the read connection.
#[derive(Clone)]
pub struct Store {
    writer: mpsc::Sender<Job>,
    reader: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // `journal_mode` answers with the mode in force; an in-memory database stays "memory".
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    // FULL: a commit is on disk (fsync of the WAL) before `COMMIT` returns.
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(SCHEMA)?;
    let mut have = Vec::new();
    {
        let mut stmt = conn.prepare("PRAGMA table_info(leads)")?;
        let names = stmt.query_map([], |row| row.get::<_, String>(1))?;
        for name in names {
            have.push(name?);
        }
    }
    for (column, kind) in LEAD_COLUMNS {
        if !have.iter().any(|h| h == column) {
            conn.execute_batch(&format!("ALTER TABLE leads ADD COLUMN {column} {kind}"))?;
        }
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS leads_email ON leads (email);")?;
    Ok(())
}

impl Store {
    /// Opens (or creates) the SQLite file at `path`, prepares the schema (adding what older
    /// files lack) and starts the writer thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let writer_conn = connect(path)?;
        migrate(&writer_conn)?;
        let reader = connect(path)?;
        let (writer, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("leadgate-db-writer".into())
            .spawn(move || write_loop(&writer_conn, &jobs))
            .map_err(|e| StoreError::Task(e.to_string()))?;
        Ok(Store { writer, reader: Arc::new(Mutex::new(reader)) })
    }

    /// Stores a lead (with its rule hits and its queued webhook messages) unless one with its
    /// id is already there, in which case its `attempts` is incremented. Returns only after
    /// the transaction committed.
    pub async fn insert(&self, lead: NewLead) -> Result<Insert, StoreError> {
        let json = serde_json::to_string(&lead.payload).map_err(StoreError::Encode)?;
        let relay_json = match &lead.relay_score {
            Some(score) => Some(serde_json::to_string(score).map_err(StoreError::Encode)?),
            None => None,
        };
        let meta = lead.meta.as_ref().map(|m| m.to_string());
        self.write(move |conn| {
            let p = &lead.payload;
            let utm = |key: &str| p.context.utm.get(key).cloned().unwrap_or_default();
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO leads (id, form_id, received_at, submitted_at, total, grade,
                        qualified, stage, score_checked, attempts, payload, idempotency_key,
                        relay_total, relay_qualified, relay_score, spam, meta, email,
                        utm_source, utm_campaign)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11, ?12, ?13, ?14,
                        ?15, ?16, ?17, ?18, ?19)
                     ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![
                    p.id,
                    p.form_id,
                    lead.received_at,
                    p.submitted_at,
                    p.score.total,
                    p.score.grade,
                    p.score.qualified,
                    p.score.stage.as_str(),
                    lead.check.as_str(),
                    json,
                    lead.idempotency_key,
                    lead.relay_score.as_ref().map(|s| s.total),
                    lead.relay_score.as_ref().map(|s| s.qualified),
                    relay_json,
                    lead.spam,
                    meta,
                    lead.email,
                    utm("utm_source"),
                    utm("utm_campaign"),
                ])?;
            if inserted == 0 {
                conn.prepare_cached("UPDATE leads SET attempts = attempts + 1 WHERE id = ?1")?
                    .execute([&p.id])?;
                return Ok(Insert::Repeated);
            }
            let score = lead.relay_score.as_ref().unwrap_or(&p.score);
            let mut hit = conn.prepare_cached(
                "INSERT INTO lead_hits (lead_id, rule, reason, points) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for h in &score.hits {
                hit.execute(params![p.id, h.rule, h.reason, h.points])?;
            }
            let mut queue = conn.prepare_cached(
                "INSERT OR IGNORE INTO deliveries (lead_id, webhook, msg_id, body, status,
                    attempts, next_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', 0, 0, ?5)",
            )?;
            for (webhook, body) in &lead.deliveries {
                queue.execute(params![
                    p.id,
                    webhook,
                    msg_id(&p.id, webhook),
                    body,
                    lead.received_at
                ])?;
            }
            Ok(Insert::Stored)
        })
        .await
    }

    /// The leads `query` asks for, newest first.
    pub async fn list(&self, query: LeadQuery) -> Result<Vec<StoredLead>, StoreError> {
        self.read(move |conn| {
            let search = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
            let pattern = search.map(|s| format!("%{}%", escape_like(&s.to_lowercase())));
            let limit = query.limit.map_or(-1, i64::from);
            let mut stmt = conn.prepare_cached(
                "SELECT id, form_id, received_at, attempts, score_checked, payload,
                    idempotency_key, relay_score, spam,
                    (SELECT count(*) FROM deliveries d
                     WHERE d.lead_id = leads.id AND d.status = 'delivered')
                 FROM leads
                 WHERE ?1 IS NULL OR email LIKE ?1 ESCAPE '\\'
                 ORDER BY received_at DESC, rowid DESC
                 LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![pattern, limit], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u32>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(6)?,
                    row.get::<_, Option<String>>(7)?,
                    row.get::<_, Option<String>>(8)?,
                    row.get::<_, u32>(9)?,
                ))
            })?;
            let mut leads = Vec::new();
            for row in rows {
                let (id, form_id, received_at, attempts, checked, json, key, relay, spam, fwd) =
                    row?;
                let payload = serde_json::from_str(&json)
                    .map_err(|source| StoreError::Payload { id: id.clone(), source })?;
                let relay_score = match relay {
                    Some(text) => Some(
                        serde_json::from_str(&text)
                            .map_err(|source| StoreError::Payload { id: id.clone(), source })?,
                    ),
                    None => None,
                };
                leads.push(StoredLead {
                    id,
                    form_id,
                    received_at,
                    attempts,
                    score_checked: ScoreCheck::from_column(&checked),
                    idempotency_key: key,
                    payload,
                    relay_score,
                    spam,
                    forwarded: fwd,
                });
            }
            Ok(leads)
        })
        .await
    }

    /// Counts widget events; an event whose id was seen before is ignored. Returns how many
    /// were new.
    pub async fn record_events(&self, events: Vec<NewEvent>) -> Result<usize, StoreError> {
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "INSERT OR IGNORE INTO events (id, form_id, kind, at, day, utm_source,
                    utm_campaign) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut added = 0;
            for e in &events {
                added += stmt.execute(params![
                    e.id,
                    e.form_id,
                    e.kind,
                    e.at,
                    e.day,
                    e.utm_source,
                    e.utm_campaign
                ])?;
            }
            Ok(added)
        })
        .await
    }

    /// Claims up to `limit` pending webhook messages due at `now_ms`: they are not due again
    /// before `now_ms + lease_ms`, so a message in flight is not sent twice (and one whose
    /// sender died is retried after the lease).
    pub async fn claim_due(
        &self,
        now_ms: u64,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.write(move |conn| {
            let mut due = Vec::new();
            {
                let mut stmt = conn.prepare_cached(
                    "SELECT lead_id, webhook, msg_id, body, attempts FROM deliveries
                     WHERE status = 'pending' AND next_at <= ?1
                     ORDER BY next_at LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![now_ms, limit as i64], |row| {
                    Ok(DueDelivery {
                        lead_id: row.get(0)?,
                        webhook: row.get(1)?,
                        msg_id: row.get(2)?,
                        body: row.get(3)?,
                        attempts: row.get(4)?,
                    })
                })?;
                for row in rows {
                    due.push(row?);
                }
            }
            let mut lease = conn.prepare_cached(
                "UPDATE deliveries SET next_at = ?1 WHERE lead_id = ?2 AND webhook = ?3",
            )?;
            for d in &due {
                lease.execute(params![now_ms + lease_ms, d.lead_id, d.webhook])?;
            }
            Ok(due)
        })
        .await
    }

    /// Records the outcome of one attempt at a webhook message.
    pub async fn record_attempt(
        &self,
        lead_id: String,
        webhook: String,
        attempt: Attempt,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            match attempt {
                Attempt::Delivered { status, at } => {
                    conn.prepare_cached(
                        "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1,
                            last_status = ?1, last_error = NULL, delivered_at = ?2
                         WHERE lead_id = ?3 AND webhook = ?4",
                    )?
                    .execute(params![status, at, lead_id, webhook])?;
                }
                Attempt::Failed { status, error, next_at } => {
                    let (state, next) = match next_at {
                        Some(at) => ("pending", at),
                        None => ("dead", 0),
                    };
                    conn.prepare_cached(
                        "UPDATE deliveries SET status = ?1, attempts = attempts + 1,
                            next_at = ?2, last_status = ?3, last_error = ?4
                         WHERE lead_id = ?5 AND webhook = ?6",
                    )?
                    .execute(params![state, next, status, error, lead_id, webhook])?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Puts dead letters back in the queue, due at `now_ms` with their attempts reset: all of
    /// them, or those of one lead and/or one webhook. Returns how many.
    pub async fn replay_dead(
        &self,
        lead_id: Option<String>,
        webhook: Option<String>,
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE deliveries SET status = 'pending', attempts = 0, next_at = ?1
                     WHERE status = 'dead' AND (?2 IS NULL OR lead_id = ?2)
                        AND (?3 IS NULL OR webhook = ?3)",
                )?
                .execute(params![now_ms, lead_id, webhook])?;
            Ok(n)
        })
        .await
    }

    /// The webhook messages, oldest first; only those in `status` when given.
    pub async fn deliveries(
        &self,
        status: Option<DeliveryStatus>,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT lead_id, webhook, msg_id, status, attempts, next_at, last_status,
                    last_error, delivered_at
                 FROM deliveries WHERE ?1 IS NULL OR status = ?1 ORDER BY rowid",
            )?;
            let rows = stmt.query_map([status.map(DeliveryStatus::as_str)], |row| {
                Ok(DeliveryRecord {
                    lead_id: row.get(0)?,
                    webhook: row.get(1)?,
                    msg_id: row.get(2)?,
                    status: DeliveryStatus::from_column(&row.get::<_, String>(3)?),
                    attempts: row.get(4)?,
                    next_at: row.get(5)?,
                    last_status: row.get(6)?,
                    last_error: row.get(7)?,
                    delivered_at: row.get(8)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>().map_err(StoreError::from)
        })
        .await
    }

    /// Every number of the dashboard (see [`Funnel`]).
    pub async fn funnel(&self) -> Result<Funnel, StoreError> {
        self.read(|conn| {
            let mut funnel = Funnel::default();
            let mut days: BTreeMap<String, FunnelRow> = BTreeMap::new();
            let mut sources: BTreeMap<(String, String), FunnelRow> = BTreeMap::new();
            let mut buckets: BTreeMap<i64, u64> = BTreeMap::new();
            let mut stmt = conn.prepare_cached(
                "SELECT substr(received_at, 1, 10), utm_source, utm_campaign,
                    COALESCE(relay_qualified, qualified),
                    EXISTS (SELECT 1 FROM deliveries d
                            WHERE d.lead_id = leads.id AND d.status = 'delivered'),
                    COALESCE(relay_total, total), count(*)
                 FROM leads WHERE spam IS NULL GROUP BY 1, 2, 3, 4, 5, 6",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let (day, source, campaign): (String, String, String) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                let (qualified, forwarded, total, n): (bool, bool, i64, u64) =
                    (row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?);
                let add = |r: &mut FunnelRow| {
                    r.submissions += n;
                    r.mqls += if qualified { n } else { 0 };
                    r.forwarded += if forwarded { n } else { 0 };
                };
                add(&mut funnel.totals);
                add(days.entry(day).or_default());
                add(sources.entry((source, campaign)).or_default());
                *buckets.entry(total.div_euclid(10) * 10).or_default() += n;
            }
            let mut stmt = conn.prepare_cached(
                "SELECT day, utm_source, utm_campaign, kind, count(*) FROM events
                 GROUP BY 1, 2, 3, 4",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let (day, source, campaign, kind): (String, String, String, String) =
                    (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
                let n: u64 = row.get(4)?;
                let add = |r: &mut FunnelRow| match kind.as_str() {
                    "view" => r.views += n,
                    _ => r.starts += n,
                };
                add(&mut funnel.totals);
                add(days.entry(day).or_default());
                add(sources.entry((source, campaign)).or_default());
            }
            funnel.by_day = days.into_iter().rev().collect();
            funnel.by_source = sources.into_iter().map(|((s, c), r)| (s, c, r)).collect();
            funnel.by_source.sort_by_key(|row| std::cmp::Reverse(row.2.submissions));
            funnel.histogram = buckets.into_iter().collect();
            let mut stmt = conn.prepare_cached(
                "SELECT h.rule, max(h.reason), count(*), sum(h.points)
                 FROM lead_hits h JOIN leads l ON l.id = h.lead_id
                 WHERE l.spam IS NULL
                 GROUP BY h.rule ORDER BY count(*) DESC, h.rule LIMIT 10",
            )?;
            let rules = stmt.query_map([], |row| {
                Ok(RuleCount {
                    rule: row.get(0)?,
                    reason: row.get(1)?,
                    leads: row.get(2)?,
                    points: row.get(3)?,
                })
            })?;
            funnel.top_rules = rules.collect::<Result<_, _>>()?;
            let count = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, u64>(0));
            funnel.spam = count("SELECT count(*) FROM leads WHERE spam IS NOT NULL")?;
            funnel.mismatches = count(
                "SELECT count(*) FROM leads WHERE spam IS NULL AND score_checked = 'mismatch'",
            )?;
            funnel.pending = count("SELECT count(*) FROM deliveries WHERE status = 'pending'")?;
            funnel.dead_letters = count("SELECT count(*) FROM deliveries WHERE status = 'dead'")?;
            Ok(funnel)
        })
        .await
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(())).optional()?;
            Ok(())
        })
        .await
    }

    /// Runs `work` in the writer thread's current transaction and waits for its commit.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let work: Work = Box::new(move |conn| work(conn).map(|t| Box::new(t) as Output));
        self.writer
            .send(Job { work, reply })
            .map_err(|_| StoreError::Task("the writer thread has stopped".into()))?;
        let output = answer
            .await
            .map_err(|_| StoreError::Task("the writer thread has stopped".into()))??;
        output.downcast::<T>().map(|t| *t).map_err(|_| StoreError::Task("wrong output".into()))
    }

    /// Runs `work` on the read connection, off the async threads.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().map_err(|_| StoreError::Poisoned)?;
            work(&conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// The `webhook-id` of a lead's message to a webhook: the same on every retry and replay, so
/// a receiver can drop repeats.
pub fn msg_id(lead_id: &str, webhook: &str) -> String {
    format!("msg_{lead_id}_{webhook}")
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The writer thread: takes whatever jobs are waiting, runs each in a savepoint of one
/// transaction, commits, then answers them all. Ends when every [`Store`] clone is gone.
fn write_loop(conn: &Connection, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (works, replies): (Vec<Work>, Vec<_>) =
            batch.into_iter().map(|job| (job.work, job.reply)).unzip();
        let results = run_batch(conn, works);
        for (reply, result) in replies.into_iter().zip(results) {
            // The asker may have gone (a closed connection): its work is committed anyway.
            let _ = reply.send(result);
        }
    }
}

fn run_batch(conn: &Connection, works: Vec<Work>) -> Vec<Result<Output, StoreError>> {
    let fail_all = |n: usize, e: &dyn std::fmt::Display| {
        (0..n).map(|_| Err(StoreError::Commit(e.to_string()))).collect::<Vec<_>>()
    };
    let n = works.len();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return fail_all(n, &e);
    }
    let mut results = Vec::with_capacity(n);
    for work in works {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            results.push(Err(StoreError::from(e)));
            continue;
        }
        let result = work(conn);
        let end = if result.is_ok() { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        match conn.execute_batch(end) {
            Ok(()) => results.push(result),
            Err(e) => results.push(Err(StoreError::from(e))),
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        // Nothing of this batch is on disk: every asker gets the error (a 503 for a lead).
        let _ = conn.execute_batch("ROLLBACK");
        return fail_all(n, &e);
    }
    results
}
