//! Where leads are kept: one SQLite file, one row per lead id, written exactly once.
//!
//! SQLite calls block, so every call runs in [`tokio::task::spawn_blocking`] on a connection
//! behind a mutex. The file is in WAL mode with a busy timeout, so a reader (the dashboard, a
//! backup) never makes a delivery fail.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadgate_core::LeadPayload;
use rusqlite::{params, Connection, TransactionBehavior};
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
";

/// How long a write waits for another writer before it gives up (and the lead gets a 503,
/// so the widget retries).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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

/// A lead as stored, with what the relay knows about its delivery.
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
    /// The payload as first received.
    pub payload: LeadPayload,
}

/// What [`Store::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// A new lead: stored.
    Stored,
    /// A lead with this id was already stored; only its attempts were counted.
    Repeated,
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused (busy, disk full, read-only file, ...).
    #[error("the lead database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored payload can no longer be read.
    #[error("the stored lead {id} is not a valid payload: {source}")]
    Payload {
        /// The lead's id.
        id: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A payload could not be turned into JSON.
    #[error("the lead could not be encoded: {0}")]
    Encode(serde_json::Error),
    /// An earlier database call panicked while holding the connection.
    #[error("the lead database is unavailable after an internal error")]
    Poisoned,
    /// The blocking task did not finish.
    #[error("the database task failed: {0}")]
    Task(String),
}

/// The lead database. Cheap to clone: clones share the connection.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (or creates) the SQLite file at `path` and prepares the schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // `journal_mode` answers with the mode in force; an in-memory database stays "memory".
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Stores a lead unless one with its id is already there, in which case its `attempts`
    /// is incremented. Returns only after the transaction committed.
    pub async fn insert(
        &self,
        payload: &LeadPayload,
        received_at: String,
        check: ScoreCheck,
        idempotency_key: Option<String>,
    ) -> Result<Insert, StoreError> {
        let json = serde_json::to_string(payload).map_err(StoreError::Encode)?;
        let row = (
            payload.id.clone(),
            payload.form_id.clone(),
            payload.submitted_at.clone(),
            payload.score.total,
            payload.score.grade.clone(),
            payload.score.qualified,
            payload.score.stage.as_str(),
        );
        self.with_conn(move |conn| {
            let (id, form_id, submitted_at, total, grade, qualified, stage) = row;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let inserted = tx.execute(
                "INSERT INTO leads (id, form_id, received_at, submitted_at, total, grade,
                    qualified, stage, score_checked, attempts, payload, idempotency_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11)
                 ON CONFLICT (id) DO NOTHING",
                params![
                    id,
                    form_id,
                    received_at,
                    submitted_at,
                    total,
                    grade,
                    qualified,
                    stage,
                    check.as_str(),
                    json,
                    idempotency_key
                ],
            )?;
            let outcome = if inserted == 1 {
                Insert::Stored
            } else {
                tx.execute("UPDATE leads SET attempts = attempts + 1 WHERE id = ?1", [&id])?;
                Insert::Repeated
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    /// Every stored lead, newest first.
    pub async fn list(&self) -> Result<Vec<StoredLead>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, form_id, received_at, attempts, score_checked, payload, idempotency_key
                 FROM leads
                 ORDER BY received_at DESC, rowid DESC",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u32>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(6)?,
                ))
            })?;
            let mut leads = Vec::new();
            for row in rows {
                let (id, form_id, received_at, attempts, checked, json, idempotency_key) = row?;
                let payload = serde_json::from_str(&json)
                    .map_err(|source| StoreError::Payload { id: id.clone(), source })?;
                let score_checked = ScoreCheck::from_column(&checked);
                leads.push(StoredLead {
                    id,
                    form_id,
                    received_at,
                    attempts,
                    score_checked,
                    idempotency_key,
                    payload,
                });
            }
            Ok(leads)
        })
        .await
    }

    /// Runs `work` on the connection, off the async threads.
    async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().map_err(|_| StoreError::Poisoned)?;
            work(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}
