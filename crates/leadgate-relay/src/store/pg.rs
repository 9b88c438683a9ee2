//! The PostgreSQL backend, for several relays sharing one database. The same statements as
//! SQLite (see [`super::sql`]); what differs is the schema's types, the `seq` column that
//! stands for SQLite's `rowid`, and `FOR UPDATE SKIP LOCKED` when the forwarder claims queue
//! rows, so two relays never claim the same message.
//!
//! Durability: a transaction has committed when `COMMIT` returns (the server's
//! `synchronous_commit` decides what that means on disk: `on`, its default, flushes the WAL).

use std::collections::HashMap;
use std::error::Error;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::sql::{Arg, Db, Dialect, Row};
use super::StoreError;

/// Migration 1 (see [`super::sql::MIGRATIONS`]). Every step runs under an advisory lock, so
/// relays starting together don't race.
pub(crate) const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS leads (
    seq BIGSERIAL NOT NULL,
    id TEXT PRIMARY KEY NOT NULL,
    form_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    total BIGINT NOT NULL,
    grade TEXT NOT NULL,
    qualified BOOLEAN NOT NULL,
    stage TEXT NOT NULL,
    score_checked TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 1,
    idempotency_key TEXT,
    payload TEXT NOT NULL,
    relay_total BIGINT,
    relay_qualified BOOLEAN,
    relay_score TEXT,
    spam TEXT,
    meta TEXT,
    email TEXT NOT NULL DEFAULT '',
    utm_source TEXT NOT NULL DEFAULT '',
    utm_campaign TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS leads_received_at ON leads (received_at);
CREATE INDEX IF NOT EXISTS leads_email ON leads (email);
CREATE TABLE IF NOT EXISTS lead_hits (
    lead_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    points BIGINT NOT NULL
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
    seq BIGSERIAL NOT NULL,
    lead_id TEXT NOT NULL,
    webhook TEXT NOT NULL,
    msg_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    PRIMARY KEY (lead_id, webhook)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_at);
CREATE INDEX IF NOT EXISTS deliveries_webhook_due ON deliveries (webhook, status, next_at);
";

/// A connection to PostgreSQL, with its prepared statements.
pub(crate) struct Postgres {
    url: String,
    client: Client,
    statements: HashMap<String, Statement>,
    deferred: super::sales::Deferred,
}

impl Postgres {
    /// Connects to `url` (`postgres://user:password@host:port/database`; no TLS).
    pub(crate) fn connect(url: &str) -> Result<Postgres, StoreError> {
        let client = Client::connect(url, NoTls)?;
        Ok(Postgres {
            url: url.to_string(),
            client,
            statements: HashMap::new(),
            deferred: super::sales::Deferred::default(),
        })
    }

    /// Applies the migrations the database lacks, under an advisory lock (relays starting
    /// together take turns; the second finds nothing left to do), each step in the lock's
    /// transaction with its row in `schema_migrations`.
    pub(crate) fn migrate(&mut self) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        tx.batch_execute("SELECT pg_advisory_xact_lock(7146327)")?;
        tx.batch_execute(super::sql::MIGRATIONS_TABLE)?;
        let have: i64 =
            tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[])?.get(0);
        for step in super::sql::MIGRATIONS.iter().filter(|m| m.version > have) {
            tx.batch_execute(step.postgres)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) \
                 VALUES ($1, $2, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))",
                &[&step.version, &step.name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&Dialect::Postgres.rewrite(sql))?;
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

impl ToSql for Arg {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>>
    where
        Self: Sized,
    {
        match self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Bool(b) if *ty == Type::BOOL => b.to_sql(ty, out),
            Arg::Bool(b) => Arg::Int(i64::from(*b)).to_sql(ty, out),
            Arg::Int(v) if *ty == Type::INT8 => v.to_sql(ty, out),
            Arg::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Arg::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            Arg::Int(v) if *ty == Type::BOOL => (*v != 0).to_sql(ty, out),
            Arg::Int(_) => Err(format!("an integer can't be sent as {ty}").into()),
            Arg::Text(s) if <&str as ToSql>::accepts(ty) => s.as_str().to_sql(ty, out),
            Arg::Text(_) => Err(format!("text can't be sent as {ty}").into()),
            Arg::Bytes(b) if *ty == Type::BYTEA => b.as_slice().to_sql(ty, out),
            Arg::Bytes(_) => Err(format!("bytes can't be sent as {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn column(row: &postgres::Row, i: usize) -> Result<Arg, StoreError> {
    let ty = row.columns()[i].type_();
    let value = if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?.map(Arg::Bool)
    } else if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(Arg::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?.map(Arg::from)
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?.map(|v| Arg::Int(i64::from(v)))
    } else if <String as postgres::types::FromSql>::accepts(ty) {
        row.try_get::<_, Option<String>>(i)?.map(Arg::Text)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map(Arg::Bytes)
    } else {
        return Err(StoreError::Column {
            index: i,
            expected: "a boolean, an integer, text or bytes",
        });
    };
    Ok(value.unwrap_or(Arg::Null))
}

fn refs(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

impl Db for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        Ok(self.client.execute(&statement, &refs(args))?)
    }

    fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql)?;
        let rows = self.client.query(&statement, &refs(args))?;
        rows.iter()
            .map(|row| (0..row.len()).map(|i| column(row, i)).collect::<Result<_, _>>().map(Row))
            .collect()
    }

    fn deferred(&mut self) -> &mut super::sales::Deferred {
        &mut self.deferred
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn ready(&mut self) -> Result<(), StoreError> {
        if self.client.is_closed() {
            // The server restarted or the network broke: a new session, new statements.
            self.client = Client::connect(&self.url, NoTls)?;
            self.statements.clear();
        }
        Ok(())
    }
}

/// `url` without its password, for logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (auth, host),
        None => return url.to_string(),
    };
    let user = auth.split_once(':').map_or(auth, |(user, _)| user);
    format!("{scheme}://{user}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_kept_out_of_logs() {
        // (url, shown)
        let cases = [
            ("postgres://lead:s3cr@t@db:5432/leads", "postgres://lead@db:5432/leads"),
            ("postgres://lead@db/leads", "postgres://lead@db/leads"),
            ("postgresql://db/leads", "postgresql://db/leads"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown);
        }
    }
}
