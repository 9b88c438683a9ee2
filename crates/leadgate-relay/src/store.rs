//! Where leads are kept: the leads (one row per lead id, written exactly once), the rules that
//! fired, the widget's funnel events, and the forwarding queue. In one SQLite file by default
//! (`store/sqlite.rs`), or in PostgreSQL for several relays sharing one database
//! (`store/pg.rs`): every query is written once, in SQL both understand (`store/sql.rs`), and
//! runs the same way on both.
//!
//! Durability: SQLite's file is in WAL mode with `synchronous = FULL` (PostgreSQL flushes its
//! WAL at commit), so a transaction that committed is on disk, and an answer is sent only after
//! its commit. Every write goes to one writer thread that commits what is waiting in one
//! transaction (group commit: one fsync for many leads), each job in its own savepoint so one
//! bad job fails alone. Reads use their own connection, so the dashboard never makes a
//! delivery wait.

mod packed;
mod pg;
pub mod sales;
pub(crate) mod sql;
mod sqlite;
mod worker;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use leadgate_core::{LeadPayload, Score, Timestamp};
use serde::Serialize;

use self::sql::{args, Db, Row};
use self::worker::{read_loop, run_on, write_loop, Jobs};
use crate::sales::LeadFacts;

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
    /// The visitor's e-mail address as the relay found it when it stored the lead (lowercased;
    /// empty when the lead has none): what search and the outcome import match.
    pub email: String,
    /// The payload as first received (its `score` is the browser's).
    pub payload: LeadPayload,
    /// The relay's own score, when it knows the form; routing uses it.
    pub relay_score: Option<Score>,
    /// Why the lead was judged spam (`honeypot`, `too_fast`); spam is kept, never forwarded.
    pub spam: Option<String>,
    /// How many webhooks accepted it.
    pub forwarded: u32,
    /// The lead's current sales status (from its outcomes: `accepted`, `won`, ...), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales_status: Option<String>,
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
    /// Only leads whose e-mail address, or its domain, starts with this (case-insensitive):
    /// `ada@example.com`, `ada@`, `example.com`, `example`.
    pub search: Option<String>,
    /// At most this many, newest first. Defaults to all.
    pub limit: Option<u32>,
    /// Only leads older than the lead with this id (the next page: `?before=` the last id of
    /// the page before).
    pub before: Option<String>,
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
    /// Submit attempts the widget reported, qualified or not (no answers in them).
    pub submits: u64,
    /// Leads sales accepted (and did not reject since).
    pub accepted: u64,
    /// Leads sales rejected.
    pub rejected: u64,
    /// Leads that became an opportunity.
    pub opportunities: u64,
    /// Leads won.
    pub won: u64,
}

impl FunnelRow {
    fn add(&mut self, other: &FunnelRow) {
        self.views += other.views;
        self.starts += other.starts;
        self.submissions += other.submissions;
        self.mqls += other.mqls;
        self.forwarded += other.forwarded;
        self.submits += other.submits;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.opportunities += other.opportunities;
        self.won += other.won;
    }
}

impl From<&crate::sales::Counters> for FunnelRow {
    fn from(c: &crate::sales::Counters) -> FunnelRow {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        FunnelRow {
            views: n(c.views),
            starts: n(c.starts),
            submissions: n(c.leads),
            mqls: n(c.mqls),
            forwarded: n(c.forwarded),
            submits: n(c.submits),
            accepted: n(c.accepted),
            rejected: n(c.rejected),
            opportunities: n(c.opportunity),
            won: n(c.won),
        }
    }
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
    /// PostgreSQL refused, or the connection to it failed.
    #[error("the lead database (PostgreSQL) failed: {}", postgres_message(.0))]
    Postgres(#[from] ::postgres::Error),
    /// A column did not hold what the store expected (a schema changed by hand?).
    #[error("the lead database answered with an unexpected value in column {index}: expected {expected}")]
    Column {
        /// The column's position in the result, from 0.
        index: usize,
        /// What was expected.
        expected: &'static str,
    },
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
    /// A stored payload could not be packed or unpacked (`store::packed`).
    #[error("a stored payload could not be packed or unpacked: {0}")]
    Packed(String),
    /// An earlier database call panicked while holding the connection.
    #[error("the lead database is unavailable after an internal error")]
    Poisoned,
    /// An outcome names a lead the store does not have (nothing of its batch was written).
    #[error("outcome {index}: there is no lead {what}")]
    UnknownLead {
        /// The outcome's place in its batch (0 for a single one).
        index: usize,
        /// `with id "…"` or `with e-mail "…"`.
        what: String,
    },
    /// The writer thread is gone, or a task did not finish.
    #[error("the lead database task failed: {0}")]
    Task(String),
}

/// The server's own words when it sent any (`postgres::Error` alone says "db error").
fn postgres_message(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Where the leads are kept.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file, created if missing (the default: one relay).
    Sqlite(PathBuf),
    /// A PostgreSQL database that several relays may share:
    /// `postgres://user:password@host:port/database` (plain TCP, no TLS).
    Postgres(String),
}

impl Database {
    /// The database a `database_url` names: `postgres://…` or `postgresql://…`; `sqlite:FILE`
    /// (or `sqlite://FILE`) for a SQLite file. The error says what is accepted.
    pub fn from_url(url: &str) -> Result<Database, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.to_string()));
        }
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if !path.is_empty() {
                return Ok(Database::Sqlite(PathBuf::from(path)));
            }
        }
        Err(format!(
            "database_url {:?} is not postgres://user:password@host:port/database \
             (or sqlite:FILE)",
            pg::redact(url)
        ))
    }
}

/// Shown in logs and errors: the file, or the URL without its password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => f.write_str(&pg::redact(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

/// The lead database. Cheap to clone: clones share the writer thread and the reader thread.
/// Each thread owns its connection from opening to closing (PostgreSQL's synchronous client
/// must not be used or dropped on the async runtime's threads).
#[derive(Clone)]
pub struct Store {
    writer: Jobs,
    reader: Jobs,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (or creates) the SQLite file at `path`, prepares the schema (adding what older
    /// files lack) and starts the writer thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_database(&Database::Sqlite(path.to_path_buf()))
    }

    /// Opens `database` (SQLite or PostgreSQL), creates what its schema lacks, and starts the
    /// writer thread. Blocking: call it before serving, or from a blocking task.
    pub fn open_database(database: &Database) -> Result<Store, StoreError> {
        let open = |database: Database, migrate: bool| {
            move || -> Result<Box<dyn Db>, StoreError> {
                Ok(match database {
                    Database::Sqlite(path) => {
                        let mut db = sqlite::Sqlite::open(&path)?;
                        if migrate {
                            db.migrate()?;
                            sales::backfill_and_rebuild(&mut db)?;
                        }
                        Box::new(db)
                    }
                    Database::Postgres(url) => {
                        let mut db = pg::Postgres::connect(&url)?;
                        if migrate {
                            db.migrate()?;
                            sales::backfill_and_rebuild(&mut db)?;
                        }
                        Box::new(db)
                    }
                })
            }
        };
        // The writer first: it creates the schema the reader reads.
        let writer = worker::spawn("leadgate-db-writer", open(database.clone(), true), write_loop)?;
        let reader = worker::spawn("leadgate-db-reader", open(database.clone(), false), read_loop)?;
        Ok(Store { writer, reader })
    }

    /// Stores a lead (with its rule hits and its queued webhook messages) unless one with its
    /// id is already there, in which case its `attempts` is incremented. Returns only after
    /// the transaction committed. The lead's id is the primary key, so this holds across
    /// relays sharing one PostgreSQL database too (the second insert waits for the first's
    /// commit, then finds it).
    pub async fn insert(&self, lead: Box<NewLead>) -> Result<Insert, StoreError> {
        let json = serde_json::to_string(&lead.payload).map_err(StoreError::Encode)?;
        // Packed here, on the runtime's threads, not on the one writer thread.
        let packed = packed::pack(&json)?;
        // The relay's score is stored only where it differs from the browser's (a few hundred
        // bytes a lead saved): `relay_total` set and `relay_score` NULL means "the same".
        let relay_json = match &lead.relay_score {
            Some(score) if *score != lead.payload.score => {
                Some(serde_json::to_string(score).map_err(StoreError::Encode)?)
            }
            _ => None,
        };
        let meta = lead.meta.as_ref().map(|m| m.to_string());
        let received = Timestamp::parse_rfc3339(&lead.received_at).unwrap_or(Timestamp(0));
        let facts = LeadFacts::of_new_lead(
            &lead.payload,
            lead.relay_score.as_ref(),
            lead.check == ScoreCheck::Mismatch,
            lead.spam.is_some(),
            received,
        );
        let columns = sales::FactColumns::of(&facts, lead.relay_score.as_ref());
        self.write(move |db| {
            let p = &lead.payload;
            let utm = |key: &str| p.context.utm.get(key).cloned().unwrap_or_default();
            let inserted = db.execute(
                "INSERT INTO leads (id, form_id, received_at, submitted_at, total, grade,
                    qualified, stage, score_checked, attempts, payload, idempotency_key,
                    relay_total, relay_qualified, relay_score, spam, meta, email,
                    utm_source, utm_campaign, model, received_ms, relay_grade, first_source,
                    first_campaign, rule_hits, email_domain, packed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12, $13, $14,
                    $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
                 ON CONFLICT (id) DO NOTHING",
                args![
                    &p.id,
                    &p.form_id,
                    &lead.received_at,
                    &p.submitted_at,
                    p.score.total,
                    &p.score.grade,
                    p.score.qualified,
                    p.score.stage.as_str(),
                    lead.check.as_str(),
                    // The JSON is in `packed` (`payload` keeps rows from before migration 3).
                    "",
                    lead.idempotency_key.clone(),
                    lead.relay_score.as_ref().map(|s| s.total),
                    lead.relay_score.as_ref().map(|s| s.qualified),
                    relay_json,
                    lead.spam.clone(),
                    meta,
                    &lead.email,
                    utm("utm_source"),
                    utm("utm_campaign"),
                    &columns.model,
                    columns.received_ms,
                    columns.relay_grade.clone(),
                    &columns.first_source,
                    &columns.first_campaign,
                    &columns.rule_hits,
                    lead.email.rsplit_once('@').map_or("", |(_, domain)| domain),
                    packed,
                ],
            )?;
            if inserted == 0 {
                db.execute("UPDATE leads SET attempts = attempts + 1 WHERE id = $1", args![&p.id])?;
                return Ok(Insert::Repeated);
            }
            // Its counts, in the transaction that stores it (the hits are in `rule_hits`).
            sales::apply(db, crate::sales::delta(None, Some(&facts.contributions())));
            for (webhook, body) in &lead.deliveries {
                queue_message(db, &p.id, webhook, body, &lead.received_at)?;
            }
            Ok(Insert::Stored)
        })
        .await
    }

    /// The leads `query` asks for, newest first.
    pub async fn list(&self, query: LeadQuery) -> Result<Vec<StoredLead>, StoreError> {
        self.read(move |db| {
            let search = query.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
            let search = search.map(str::to_lowercase);
            // Index ranges, not a scan: the address (or its beginning), or the domain (or its
            // beginning). U+10FFFF sorts after every character in both databases' byte order.
            let upper = search.as_ref().map(|s| format!("{s}\u{10FFFF}"));
            let limit = query.limit.map_or(i64::MAX, i64::from);
            // The search is its own subquery (two index ranges, each a plain comparison), not
            // an `OR` beside the other conditions: SQLite only uses an index for an `OR` whose
            // every term can, and a "no search" term can't, so it scanned every lead.
            let matching = if search.is_some() {
                "id IN (SELECT id FROM leads WHERE email {collate_c} >= $1 AND email {collate_c} < $2
                        UNION ALL
                        SELECT id FROM leads
                        WHERE email_domain {collate_c} >= $1 AND email_domain {collate_c} < $2)"
            } else {
                "CAST($1 AS TEXT) IS NULL AND CAST($2 AS TEXT) IS NULL"
            };
            let older = if query.before.is_some() {
                "(received_at, id) < ((SELECT received_at FROM leads WHERE id = $3), $3)"
            } else {
                "CAST($3 AS TEXT) IS NULL"
            };
            let sql = format!(
                "SELECT id, form_id, received_at, attempts, score_checked, payload,
                    idempotency_key, relay_score, spam,
                    (SELECT count(*) FROM deliveries d
                     WHERE d.lead_id = leads.id AND d.status = 'delivered'),
                    relay_total IS NOT NULL, sales_status, email, packed
                 FROM leads
                 WHERE {matching} AND {older}
                 ORDER BY received_at DESC, id DESC
                 LIMIT $4"
            );
            let rows = db.query(&sql, args![search, upper, query.before, limit])?;
            rows.iter().map(stored_lead).collect()
        })
        .await
    }

    /// Counts widget events; an event whose id was seen before is ignored. Returns how many
    /// were new.
    pub async fn record_events(&self, events: Vec<NewEvent>) -> Result<usize, StoreError> {
        self.write(move |db| {
            let mut added = Vec::new();
            for e in &events {
                let n = db.execute(
                    "INSERT INTO events (id, form_id, kind, at, day, utm_source, utm_campaign)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT DO NOTHING",
                    args![
                        e.id.clone(),
                        &e.form_id,
                        &e.kind,
                        &e.at,
                        &e.day,
                        &e.utm_source,
                        &e.utm_campaign
                    ],
                )?;
                if n > 0 {
                    added.push((
                        e.form_id.clone(),
                        e.day.clone(),
                        e.utm_source.clone(),
                        e.utm_campaign.clone(),
                        e.kind.clone(),
                    ));
                }
            }
            sales::count_events(db, &added)?;
            Ok(added.len())
        })
        .await
    }

    /// Claims up to `limit` pending messages to `webhook` due at `now_ms` (each webhook has its
    /// own queue, so a slow one holds up no other): they are not due again
    /// before `now_ms + lease_ms`, so a message in flight is not sent twice (and one whose
    /// sender died is retried after the lease). In PostgreSQL the rows are picked with
    /// `FOR UPDATE SKIP LOCKED`: relays claiming at the same moment get different messages.
    pub async fn claim_due(
        &self,
        webhook: String,
        now_ms: u64,
        lease_ms: u64,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.write(move |db| {
            let rows = db.query(
                "UPDATE deliveries SET next_at = $1
                 WHERE (lead_id, webhook) IN (
                    SELECT lead_id, webhook FROM deliveries
                    WHERE webhook = $4 AND status = 'pending' AND next_at <= $2
                    ORDER BY next_at LIMIT $3 {skip_locked})
                 RETURNING lead_id, webhook, msg_id, body, attempts",
                args![now_ms.saturating_add(lease_ms), now_ms, limit as u64, webhook],
            )?;
            rows.iter()
                .map(|row| {
                    Ok(DueDelivery {
                        lead_id: row.text(0)?,
                        webhook: row.text(1)?,
                        msg_id: row.text(2)?,
                        body: row.text(3)?,
                        attempts: row.uint(4)?,
                    })
                })
                .collect()
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
        self.write(move |db| {
            match attempt {
                Attempt::Delivered { status, at } => {
                    db.execute(
                        "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1,
                            last_status = $1, last_error = NULL, delivered_at = $2,
                            body = ''
                         WHERE lead_id = $3 AND webhook = $4",
                        args![status, at, &lead_id, webhook],
                    )?;
                    sales::count_forwarded(db, &lead_id)?;
                }
                Attempt::Failed { status, error, next_at } => {
                    let (state, next) = match next_at {
                        Some(at) => ("pending", at),
                        None => ("dead", 0),
                    };
                    db.execute(
                        "UPDATE deliveries SET status = $1, attempts = attempts + 1,
                            next_at = $2, last_status = $3, last_error = $4
                         WHERE lead_id = $5 AND webhook = $6 AND status = 'pending'",
                        args![state, next, status, error, lead_id, webhook],
                    )?;
                }
            }
            Ok(())
        })
        .await
    }

    /// The webhooks that have messages waiting (the forwarder looks for ones no longer
    /// configured).
    pub async fn pending_webhooks(&self) -> Result<Vec<String>, StoreError> {
        self.read(|db| {
            let rows = db.query(
                "SELECT DISTINCT webhook FROM deliveries WHERE status = 'pending'",
                args![],
            )?;
            rows.iter().map(|row| row.text(0)).collect()
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
        self.write(move |db| {
            let n = db.execute(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_at = $1
                 WHERE status = 'dead' AND (CAST($2 AS TEXT) IS NULL OR lead_id = $2)
                    AND (CAST($3 AS TEXT) IS NULL OR webhook = $3)",
                args![now_ms, lead_id, webhook],
            )?;
            Ok(n as usize)
        })
        .await
    }

    /// The webhook messages, oldest first; only those in `status` when given.
    pub async fn deliveries(
        &self,
        status: Option<DeliveryStatus>,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.read(move |db| {
            let rows = db.query(
                "SELECT lead_id, webhook, msg_id, status, attempts, next_at, last_status,
                    last_error, delivered_at
                 FROM deliveries WHERE CAST($1 AS TEXT) IS NULL OR status = $1
                 ORDER BY {seq}",
                args![status.map(DeliveryStatus::as_str)],
            )?;
            rows.iter()
                .map(|row| {
                    Ok(DeliveryRecord {
                        lead_id: row.text(0)?,
                        webhook: row.text(1)?,
                        msg_id: row.text(2)?,
                        status: DeliveryStatus::from_column(&row.text(3)?),
                        attempts: row.uint(4)?,
                        next_at: row.uint(5)?,
                        last_status: row.opt_int(6)?.and_then(|s| u16::try_from(s).ok()),
                        last_error: row.opt_text(7)?,
                        delivered_at: row.opt_text(8)?,
                    })
                })
                .collect()
        })
        .await
    }

    /// Every number of the dashboard (see [`Funnel`]), from the aggregates (no lead is read
    /// but the newest few, for the words of the top rules' reasons).
    pub async fn funnel(&self) -> Result<Funnel, StoreError> {
        let rows = self.aggregates(sales::AggFilter::default()).await?;
        let mut funnel = Funnel::default();
        let mut days: BTreeMap<String, FunnelRow> = BTreeMap::new();
        let mut sources: BTreeMap<(String, String), FunnelRow> = BTreeMap::new();
        let mut buckets: BTreeMap<i64, u64> = BTreeMap::new();
        let mut rules: BTreeMap<String, (u64, i64)> = BTreeMap::new();
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        for (dim, day, k1, k2, c) in &rows.counts {
            match dim.as_str() {
                crate::sales::dim::SOURCE => {
                    funnel.spam += count(c.spam);
                    funnel.mismatches += count(c.mismatches);
                    let row = FunnelRow::from(c);
                    if row == FunnelRow::default() {
                        // Spam only: not part of the funnel.
                        continue;
                    }
                    funnel.totals.add(&row);
                    days.entry(day.clone()).or_default().add(&row);
                    sources.entry((k1.clone(), k2.clone())).or_default().add(&row);
                }
                crate::sales::dim::SCORE if c.leads != 0 => {
                    let total: i64 = k2.parse().unwrap_or(0);
                    *buckets.entry(total.div_euclid(10) * 10).or_default() += count(c.leads);
                }
                crate::sales::dim::RULE if c.leads != 0 => {
                    let entry = rules.entry(k1.clone()).or_default();
                    entry.0 += count(c.leads);
                    entry.1 += c.points;
                }
                _ => {}
            }
        }
        funnel.by_day = days.into_iter().rev().collect();
        funnel.by_source = sources.into_iter().map(|((s, c), r)| (s, c, r)).collect();
        funnel.by_source.sort_by_key(|row| std::cmp::Reverse(row.2.submissions));
        funnel.histogram = buckets.into_iter().filter(|(_, n)| *n > 0).collect();
        let mut top: Vec<(String, (u64, i64))> = rules.into_iter().collect();
        top.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
        top.truncate(10);
        let names: Vec<String> = top.iter().map(|(rule, _)| rule.clone()).collect();
        let reasons = self.rule_reasons(names).await?;
        funnel.top_rules = top
            .into_iter()
            .map(|(rule, (leads, points))| RuleCount {
                reason: reasons.get(&rule).cloned().unwrap_or_default(),
                rule,
                leads,
                points,
            })
            .collect();
        let (pending, dead) = self
            .read(|db| {
                Ok((
                    db.count("SELECT count(*) FROM deliveries WHERE status = 'pending'", args![])?,
                    db.count("SELECT count(*) FROM deliveries WHERE status = 'dead'", args![])?,
                ))
            })
            .await?;
        funnel.pending = pending;
        funnel.dead_letters = dead;
        Ok(funnel)
    }

    /// The words of `rules`' reasons, from the newest leads that have them (a reason may say
    /// more for one lead, "(×3)": the newest wins).
    async fn rule_reasons(
        &self,
        rules: Vec<String>,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        self.read(move |db| {
            let mut found = BTreeMap::new();
            let rows = db.query(
                "SELECT relay_score, payload, packed FROM leads
                 WHERE spam IS NULL ORDER BY received_at DESC LIMIT 200",
                args![],
            )?;
            for row in &rows {
                if found.len() == rules.len() {
                    break;
                }
                let hits = match row.opt_text(0)? {
                    Some(relay) => serde_json::from_str::<Score>(&relay).map(|s| s.hits),
                    None => serde_json::from_str::<LeadPayload>(&packed::payload_json(row, 1, 2)?)
                        .map(|p| p.score.hits),
                };
                for h in hits.unwrap_or_default() {
                    if rules.iter().any(|r| **r == *h.rule) && !found.contains_key(&*h.rule) {
                        found.insert(h.rule.to_string(), h.reason.to_string());
                    }
                }
            }
            Ok(found)
        })
        .await
    }

    /// Whether the database answers (for `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|db| {
            db.query("SELECT 1", args![])?;
            Ok(())
        })
        .await
    }

    /// Runs `work` in the writer thread's current transaction and waits for its commit.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Db) -> Result<T, StoreError> + Send + 'static,
    {
        run_on(&self.writer, "writer", work).await
    }

    /// Runs `work` on the reader thread's connection (outside any write transaction).
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Db) -> Result<T, StoreError> + Send + 'static,
    {
        run_on(&self.reader, "reader", work).await
    }
}

fn payload_score(payload: &LeadPayload) -> Score {
    payload.score.clone()
}

/// One row of [`Store::list`].
fn stored_lead(row: &Row) -> Result<StoredLead, StoreError> {
    let id = row.text(0)?;
    let payload = serde_json::from_str(&packed::payload_json(row, 5, 13)?)
        .map_err(|source| StoreError::Payload { id: id.clone(), source })?;
    let relay_score = match row.opt_text(7)? {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|source| StoreError::Payload { id: id.clone(), source })?,
        ),
        // Re-scored to exactly the browser's score: kept once, in the payload.
        None if row.bool(10)? => Some(payload_score(&payload)),
        None => None,
    };
    Ok(StoredLead {
        form_id: row.text(1)?,
        received_at: row.text(2)?,
        attempts: row.uint(3)?,
        score_checked: ScoreCheck::from_column(&row.text(4)?),
        idempotency_key: row.opt_text(6)?,
        payload,
        relay_score,
        spam: row.opt_text(8)?,
        forwarded: row.uint(9)?,
        sales_status: row.opt_text(11)?,
        email: row.opt_text(12)?.unwrap_or_default(),
        id,
    })
}

/// Queues a message about a lead to a webhook, due now; never twice (the queue's key is the
/// lead and the webhook).
pub(crate) fn queue_message(
    db: &mut dyn Db,
    lead_id: &str,
    webhook: &str,
    body: &str,
    at: &str,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO deliveries (lead_id, webhook, msg_id, body, status, attempts, next_at,
            created_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, 0, $5)
         ON CONFLICT DO NOTHING",
        args![lead_id, webhook, msg_id(lead_id, webhook), body, at],
    )?;
    Ok(())
}

/// The `webhook-id` of a lead's message to a webhook: the same on every retry and replay, so
/// a receiver can drop repeats.
pub fn msg_id(lead_id: &str, webhook: &str) -> String {
    format!("msg_{lead_id}_{webhook}")
}
