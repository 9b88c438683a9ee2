//! The one way the store talks to a database, whichever it is: [`Db`] runs a statement with
//! [`Arg`]s and gives back rows of [`Arg`]s. Every query of the store is written once, in the
//! SQL both SQLite and PostgreSQL understand, with `$1`-style parameters and three markers that
//! the backend fills in:
//!
//! | marker | SQLite | PostgreSQL |
//! | --- | --- | --- |
//! | `$N` | `?N` | `$N` |
//! | `{seq}` (insertion order) | `rowid` | the `seq` column |
//! | `{skip_locked}` (after a queue `SELECT`) | nothing (one writer at a time) | `FOR UPDATE SKIP LOCKED` |
//! | `{for_update}` (lock the rows read until commit) | nothing (one writer at a time) | `FOR UPDATE` |
//! | `{collate_c}` (after a column compared by ranges: byte order, as its index) | nothing (SQLite compares bytes) | `COLLATE "C"` |

use std::borrow::Cow;

use super::StoreError;

/// One numbered step of the schema, in each backend's SQL. Steps are applied in order, once,
/// each in its own transaction together with its row in `schema_migrations`; a database opened
/// by a newer relay runs the steps it lacks. (A version table of our own rather than a
/// migration crate: SQLite's step 1 must add the columns an early file lacks, which plain SQL
/// can't do conditionally, and PostgreSQL's steps run under the advisory lock that keeps
/// relays starting together apart; both are a few lines here.)
pub(crate) struct Migration {
    /// 1, 2, 3 ...: the order, and what `schema_migrations.version` records.
    pub version: i64,
    /// What the step does, for people reading `schema_migrations`.
    pub name: &'static str,
    /// The step for SQLite.
    pub sqlite: &'static str,
    /// The step for PostgreSQL.
    pub postgres: &'static str,
}

/// The table that records which steps a database has.
pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// Migration 2, the same in both dialects but for the insertion-order column PostgreSQL
/// needs (SQLite has its `rowid`) and the search indexes (byte-ordered in PostgreSQL, so an
/// address or domain prefix is an index range). Leads get the facts their aggregates are keyed by and
/// their sales state; `agg*` hold the counts (`sales.rs` says what each lead adds);
/// `config_versions` every published config of a form, `forms` which one is current. The
/// aggregates of leads stored before this step are built when the store opens
/// (`Store::open_database` backfills every lead whose `rule_hits` is missing).
macro_rules! schema_v2 {
    ($seq:literal, $search:literal) => {
        concat!(
            "
ALTER TABLE leads ADD COLUMN email_domain TEXT NOT NULL DEFAULT '';
CREATE INDEX leads_received_id ON leads (received_at, id);
",
            $search,
            "
ALTER TABLE leads ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE leads ADD COLUMN received_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN relay_grade TEXT;
ALTER TABLE leads ADD COLUMN first_source TEXT NOT NULL DEFAULT '';
ALTER TABLE leads ADD COLUMN first_campaign TEXT NOT NULL DEFAULT '';
ALTER TABLE leads ADD COLUMN rule_hits TEXT;
ALTER TABLE leads ADD COLUMN forwarded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN sales_status TEXT;
ALTER TABLE leads ADD COLUMN sales_reason TEXT;
ALTER TABLE leads ADD COLUMN sales_flags BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN pipeline_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN won_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN first_touch_ms BIGINT;
ALTER TABLE leads ADD COLUMN sla_notified BIGINT NOT NULL DEFAULT 0;
UPDATE leads SET forwarded = 1
    WHERE id IN (SELECT lead_id FROM deliveries WHERE status = 'delivered');
CREATE INDEX leads_untouched ON leads (received_ms)
    WHERE first_touch_ms IS NULL AND spam IS NULL;
CREATE TABLE outcomes (
    ",
            $seq,
            "
    lead_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    note TEXT,
    amount_cents BIGINT,
    currency TEXT,
    at TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    recorded_at TEXT NOT NULL,
    source TEXT NOT NULL,
    actor TEXT,
    idempotency_key TEXT UNIQUE,
    UNIQUE (lead_id, status, at_ms)
);
CREATE TABLE agg (
    form_id TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    dim TEXT NOT NULL,
    k1 TEXT NOT NULL,
    k2 TEXT NOT NULL,
    views BIGINT NOT NULL DEFAULT 0,
    starts BIGINT NOT NULL DEFAULT 0,
    submits BIGINT NOT NULL DEFAULT 0,
    leads BIGINT NOT NULL DEFAULT 0,
    mqls BIGINT NOT NULL DEFAULT 0,
    forwarded BIGINT NOT NULL DEFAULT 0,
    spam BIGINT NOT NULL DEFAULT 0,
    mismatches BIGINT NOT NULL DEFAULT 0,
    touched BIGINT NOT NULL DEFAULT 0,
    accepted BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    opportunity BIGINT NOT NULL DEFAULT 0,
    won BIGINT NOT NULL DEFAULT 0,
    lost BIGINT NOT NULL DEFAULT 0,
    pipeline_cents BIGINT NOT NULL DEFAULT 0,
    won_cents BIGINT NOT NULL DEFAULT 0,
    points BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, day, form_id, model, k1, k2)
);
CREATE TABLE agg_reasons (
    form_id TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    dim TEXT NOT NULL,
    k1 TEXT NOT NULL,
    k2 TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, day, form_id, model, k1, k2, status, reason)
);
CREATE TABLE agg_speed (
    form_id TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    dim TEXT NOT NULL,
    k1 TEXT NOT NULL,
    k2 TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, day, form_id, model, k1, k2, bucket)
);
CREATE TABLE config_versions (
    form_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    model TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL,
    note TEXT,
    PRIMARY KEY (form_id, version)
);
CREATE TABLE forms (
    form_id TEXT PRIMARY KEY NOT NULL,
    current_version BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
"
        )
    };
}

/// Migration 5, the same in both dialects: the index of untouched, non-spam leads by effective
/// grade (the relay's, else the browser's), then whether the SLA alert went out, then arrival.
const SCHEMA_V5: &str = "DROP INDEX IF EXISTS leads_untouched;
CREATE INDEX leads_untouched_grade
    ON leads (COALESCE(relay_grade, grade), sla_notified, received_ms)
    WHERE first_touch_ms IS NULL AND spam IS NULL;";

/// Every step, oldest first. Step 1 is the schema of the relay before versioning: written with
/// `IF NOT EXISTS`, it creates a new database and leaves one made by an older relay as it is
/// (SQLite files also get the `leads` columns added since the first release). Add a step at the
/// end; never edit one that has shipped.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "leads, rule hits, funnel events, the forwarding queue",
        sqlite: super::sqlite::SCHEMA_V1,
        postgres: super::pg::SCHEMA_V1,
    },
    Migration {
        version: 2,
        name: "outcomes, each lead's sales state, aggregates, config versions",
        sqlite: schema_v2!(
            "",
            "UPDATE leads SET email_domain = substr(email, instr(email, '@') + 1)
                WHERE instr(email, '@') > 0;
CREATE INDEX leads_email_domain ON leads (email_domain);"
        ),
        postgres: schema_v2!(
            "seq BIGSERIAL NOT NULL,",
            "UPDATE leads SET email_domain = split_part(email, '@', 2) WHERE position('@' in email) > 0;
CREATE INDEX leads_email_c ON leads (email COLLATE \"C\");
CREATE INDEX leads_email_domain ON leads (email_domain COLLATE \"C\");"
        ),
    },
    Migration {
        version: 3,
        name: "payloads packed (zstd with a dictionary, store/packed.rs)",
        sqlite: "ALTER TABLE leads ADD COLUMN packed BLOB;",
        postgres: "ALTER TABLE leads ADD COLUMN packed BYTEA;",
    },
    Migration {
        version: 4,
        name: "the arrival index dropped (leads_received_id serves every query it did)",
        // Every lead written updated both; `(received_at, id)` orders and ranges by
        // `received_at` alone as well (its first column). One index fewer per lead: intake
        // CPU and ~38 B per lead (RELAY.md, "What a lead costs on disk").
        sqlite: "DROP INDEX IF EXISTS leads_received_at;",
        postgres: "DROP INDEX IF EXISTS leads_received_at;",
    },
    Migration {
        version: 5,
        name: "the untouched-leads index by grade (every SLA breach found, whatever the backlog)",
        // Was `(received_ms)`: an SLA check for grade A read the untouched leads of every grade
        // oldest first and filtered them, so a backlog of other grades hid A's breaches (or
        // had to be read through). Now each grade, notified or not, is a range in arrival
        // order that a check reads only as far as its limit (`Store::untouched`).
        sqlite: SCHEMA_V5,
        postgres: SCHEMA_V5,
    },
];

/// A parameter or a column value. Booleans are kept apart from integers because PostgreSQL
/// types them apart; SQLite stores them as 0 and 1.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// SQL `NULL`.
    Null,
    /// An integer (any width).
    Int(i64),
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// Bytes (a packed payload).
    Bytes(Vec<u8>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(v)
    }
}
impl From<i32> for Arg {
    fn from(v: i32) -> Arg {
        Arg::Int(i64::from(v))
    }
}
impl From<u32> for Arg {
    fn from(v: u32) -> Arg {
        Arg::Int(i64::from(v))
    }
}
impl From<u16> for Arg {
    fn from(v: u16) -> Arg {
        Arg::Int(i64::from(v))
    }
}
impl From<u64> for Arg {
    /// Saturates at `i64::MAX` (Unix milliseconds are far below it).
    fn from(v: u64) -> Arg {
        Arg::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Arg {
        Arg::Bool(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_string())
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Arg {
        Arg::Bytes(v)
    }
}
impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(v: Option<T>) -> Arg {
        v.map_or(Arg::Null, Into::into)
    }
}

/// `args![a, b, c]`: a slice of [`Arg`]s.
macro_rules! args {
    ($($value:expr),* $(,)?) => { &[$($crate::store::sql::Arg::from($value)),*][..] };
}
pub(crate) use args;

/// One row of a result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row(pub(crate) Vec<Arg>);

impl Row {
    fn at(&self, i: usize) -> Result<&Arg, StoreError> {
        self.0.get(i).ok_or(StoreError::Column { index: i, expected: "a column" })
    }

    /// Column `i` as text.
    pub(crate) fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.at(i)? {
            Arg::Text(s) => Ok(s.clone()),
            _ => Err(StoreError::Column { index: i, expected: "text" }),
        }
    }

    /// Column `i` as text, or `None` for `NULL`.
    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            Arg::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    /// Column `i` as bytes, or `None` for `NULL`.
    pub(crate) fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.at(i)? {
            Arg::Null => Ok(None),
            Arg::Bytes(b) => Ok(Some(b.clone())),
            _ => Err(StoreError::Column { index: i, expected: "bytes" }),
        }
    }

    /// Column `i` as an integer.
    pub(crate) fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.at(i)? {
            Arg::Int(v) => Ok(*v),
            Arg::Bool(b) => Ok(i64::from(*b)),
            _ => Err(StoreError::Column { index: i, expected: "an integer" }),
        }
    }

    /// Column `i` as an integer, or `None` for `NULL`.
    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            Arg::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// Column `i` as an unsigned number (counts, attempts, milliseconds).
    pub(crate) fn uint<T: TryFrom<i64>>(&self, i: usize) -> Result<T, StoreError> {
        T::try_from(self.int(i)?)
            .map_err(|_| StoreError::Column { index: i, expected: "a non-negative integer" })
    }

    /// Column `i` as a boolean (an integer, 0 or not, in SQLite).
    pub(crate) fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match self.at(i)? {
            Arg::Bool(b) => Ok(*b),
            Arg::Int(v) => Ok(*v != 0),
            _ => Err(StoreError::Column { index: i, expected: "a boolean" }),
        }
    }
}

/// Which SQL the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite (rusqlite, bundled).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// The shared statement `sql` in this dialect (see the module's table).
    pub(crate) fn rewrite(self, sql: &str) -> Cow<'_, str> {
        // One pass, one allocation, and the marks found with memchr (SIMD): the writer
        // rewrites every statement it runs, some of them a kilobyte long (the counter upsert),
        // and a byte-at-a-time scan was 7% of the relay's instructions at intake (callgrind).
        let find = |s: &str| match self {
            Dialect::Sqlite => memchr::memchr2(b'{', b'$', s.as_bytes()),
            Dialect::Postgres => memchr::memchr(b'{', s.as_bytes()),
        };
        let Some(first) = find(sql) else {
            return Cow::Borrowed(sql);
        };
        let mut out = String::with_capacity(sql.len() + 32);
        out.push_str(&sql[..first]);
        let mut rest = &sql[first..];
        while let Some(at) = find(rest) {
            out.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some(tail) = rest.strip_prefix('$') {
                out.push('?');
                rest = tail;
            } else if let Some((word, tail)) =
                rest[1..].split_once('}').and_then(|(name, tail)| Some((self.word(name)?, tail)))
            {
                out.push_str(word);
                rest = tail;
            } else {
                out.push('{');
                rest = &rest[1..];
            }
        }
        out.push_str(rest);
        Cow::Owned(out)
    }

    /// What `{name}` in a shared statement is in this dialect.
    fn word(self, name: &str) -> Option<&'static str> {
        Some(match (self, name) {
            (Dialect::Sqlite, "seq") => "rowid",
            (Dialect::Sqlite, "skip_locked" | "for_update" | "collate_c") => "",
            (Dialect::Postgres, "seq") => "seq",
            (Dialect::Postgres, "skip_locked") => "FOR UPDATE SKIP LOCKED",
            (Dialect::Postgres, "for_update") => "FOR UPDATE",
            (Dialect::Postgres, "collate_c") => "COLLATE \"C\"",
            _ => return None,
        })
    }

    /// The statement that opens a write transaction.
    pub(crate) fn begin(self) -> &'static str {
        match self {
            // Take the write lock now, not at the first write (no upgrade deadlock).
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }
}

/// A connection to the lead database.
pub(crate) trait Db: Send {
    /// The SQL it speaks.
    fn dialect(&self) -> Dialect;
    /// Runs one shared statement (see the module doc); returns the rows it changed.
    fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError>;
    /// Runs one shared statement and returns its rows.
    fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError>;
    /// Runs statements without parameters (schema, transaction control), as written.
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// Makes sure the connection is usable before a transaction (reconnects a PostgreSQL
    /// connection the server closed). Defaults to nothing to do.
    fn ready(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The aggregate changes waiting for the batch's commit (see `sales::Deferred`).
    fn deferred(&mut self) -> &mut super::sales::Deferred;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, args: &[Arg]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// A single number (`SELECT count(*) ...`).
    fn count(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        match self.query_opt(sql, args)? {
            Some(row) => row.uint(0),
            None => Err(StoreError::Column { index: 0, expected: "a row" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_sql_is_rewritten_per_dialect() {
        let sql = "SELECT a FROM t WHERE b = $1 AND c = $12 ORDER BY {seq} LIMIT $2 {skip_locked}";
        // (dialect, expected)
        let cases = [
            (Dialect::Sqlite, "SELECT a FROM t WHERE b = ?1 AND c = ?12 ORDER BY rowid LIMIT ?2 "),
            (
                Dialect::Postgres,
                "SELECT a FROM t WHERE b = $1 AND c = $12 ORDER BY seq LIMIT $2 \
                 FOR UPDATE SKIP LOCKED",
            ),
        ];
        for (dialect, want) in cases {
            assert_eq!(dialect.rewrite(sql), want, "{dialect:?}");
        }
        assert!(matches!(Dialect::Sqlite.rewrite("SELECT 1"), Cow::Borrowed(_)));
        // Braces that are no placeholder stay as they are (JSON in a literal, say).
        let json = "SELECT '{\"a\":{}}' || $1 FROM t {for_update} {";
        assert_eq!(Dialect::Sqlite.rewrite(json), "SELECT '{\"a\":{}}' || ?1 FROM t  {");
        assert_eq!(
            Dialect::Postgres.rewrite(json),
            "SELECT '{\"a\":{}}' || $1 FROM t FOR UPDATE {"
        );
    }

    #[test]
    fn rows_read_booleans_and_integers_from_either_backend() {
        let row = Row(vec![Arg::Int(1), Arg::Bool(true), Arg::Null, Arg::Text("x".into())]);
        assert!(row.bool(0).unwrap());
        assert!(row.bool(1).unwrap());
        assert_eq!(row.int(1).unwrap(), 1);
        assert_eq!(row.opt_int(2).unwrap(), None);
        assert_eq!(row.opt_text(3).unwrap().as_deref(), Some("x"));
        assert!(row.text(0).is_err());
        assert!(row.uint::<u32>(9).is_err());
        assert!(Row(vec![Arg::Int(-1)]).uint::<u32>(0).is_err());
    }
}
