//! The SQLite backend (the default): one file in WAL mode with `synchronous = FULL`, so a
//! transaction that committed is on disk.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::Connection;

use super::sql::{Arg, Db, Dialect, Row};
use super::StoreError;

/// Migration 1: the schema of a new file (see [`super::sql::MIGRATIONS`]).
pub(crate) const SCHEMA_V1: &str = "
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
CREATE INDEX IF NOT EXISTS deliveries_webhook_due ON deliveries (webhook, status, next_at);
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

/// How many prepared statements a connection keeps.
const STATEMENT_CACHE: usize = 64;

/// A connection to the SQLite file.
pub(crate) struct Sqlite(Connection, super::sales::Deferred);

impl Sqlite {
    /// Opens (or creates) the file at `path` in WAL mode, `synchronous = FULL`.
    pub(crate) fn open(path: &Path) -> Result<Sqlite, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Every statement the store runs stays prepared (rusqlite keeps 16 by default; the
        // writer alone cycles through about a dozen per batch, the reader through more).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // `journal_mode` answers with the mode in force; an in-memory database stays "memory".
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        // FULL: a commit is on disk (fsync of the WAL) before `COMMIT` returns.
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        // 32 MiB of page cache per connection instead of SQLite's 2 MiB: a lead's id lands at
        // a random place in the primary key's index, so a small cache re-reads index pages
        // from the file for every lead once the table outgrows it.
        conn.execute_batch("PRAGMA cache_size = -32768;")?;
        Ok(Sqlite(conn, super::sales::Deferred::default()))
    }

    /// Applies the migrations the file lacks (all of them to a new file), each in a
    /// transaction with its row in `schema_migrations`.
    pub(crate) fn migrate(&mut self) -> Result<(), StoreError> {
        let conn = &mut self.0;
        conn.execute_batch(super::sql::MIGRATIONS_TABLE)?;
        let have: i64 =
            conn.query_row("SELECT coalesce(max(version), 0) FROM schema_migrations", [], |row| {
                row.get(0)
            })?;
        for step in super::sql::MIGRATIONS.iter().filter(|m| m.version > have) {
            let tx = conn.transaction()?;
            tx.execute_batch(step.sqlite)?;
            if step.version == 1 {
                add_lead_columns(&tx)?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) \
                 VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                rusqlite::params![step.version, step.name],
            )?;
            tx.commit()?;
        }
        Ok(())
    }
}

/// The `leads` columns added after the first release, added to a file that lacks them.
fn add_lead_columns(conn: &Connection) -> Result<(), StoreError> {
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

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Null => ToSqlOutput::Owned(Value::Null),
            Arg::Int(v) => ToSqlOutput::Owned(Value::Integer(*v)),
            Arg::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
            Arg::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn column(value: ValueRef<'_>) -> Result<Arg, rusqlite::types::FromSqlError> {
    Ok(match value {
        ValueRef::Null => Arg::Null,
        ValueRef::Integer(v) => Arg::Int(v),
        ValueRef::Text(_) => Arg::Text(value.as_str()?.to_string()),
        ValueRef::Blob(b) => Arg::Bytes(b.to_vec()),
        // The schema stores no reals.
        ValueRef::Real(_) => return Err(rusqlite::types::FromSqlError::InvalidType),
    })
}

impl Db for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        let sql = Dialect::Sqlite.rewrite(sql);
        let changed = self.0.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(args))?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        let sql = Dialect::Sqlite.rewrite(sql);
        let mut stmt = self.0.prepare_cached(&sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                let value = row.get_ref(i)?;
                values.push(column(value).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), Box::new(e))
                })?);
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        if sql.contains(';') {
            return Ok(self.0.execute_batch(sql)?);
        }
        // One statement (`SAVEPOINT job`, `RELEASE job`, `COMMIT` ... run for every lead):
        // prepared once and kept, not parsed each time.
        self.0.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    fn deferred(&mut self) -> &mut super::sales::Deferred {
        &mut self.1
    }
}
