//! Databases made by older relays open in this one: the numbered migrations run, and every
//! lead stays (a real SQLite file written with the old schema, then served over real HTTP).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rusqlite::Connection;

/// The schema of the relay before migrations were numbered (commit 183db5a), as it created
/// new files: no `schema_migrations`, no per-webhook queue index.
const SCHEMA_183DB5A: &str = "
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
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_at);";

/// The first release's `leads` table: none of the columns added since.
const FIRST_RELEASE: &str = "
CREATE TABLE leads (
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
);";

/// Writes `seeds`' leads as the old relay stored them.
fn old_leads(conn: &Connection, seeds: &[u8]) {
    for seed in seeds {
        let lead = good_payload(*seed);
        conn.execute(
            "INSERT INTO leads (id, form_id, received_at, submitted_at, total, grade, qualified, \
             stage, score_checked, payload) VALUES (?1, 'demo', ?2, ?3, ?4, ?5, 1, 'mql', 'match', ?6)",
            rusqlite::params![
                lead.id,
                format!("2026-11-2{seed}T10:00:00.000Z"),
                lead.submitted_at,
                lead.score.total,
                lead.score.grade,
                serde_json::to_string(&lead).unwrap()
            ],
        )
        .unwrap();
    }
}

fn steps(db: &std::path::Path) -> Vec<i64> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT version FROM schema_migrations ORDER BY version").unwrap();
    let rows = stmt.query_map([], |row| row.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn databases_of_older_relays_migrate_forward_and_keep_every_lead() {
    let dir = tempfile::tempdir().unwrap();
    // (schema, file)
    let cases = [(SCHEMA_183DB5A, "yesterday.db"), (FIRST_RELEASE, "first.db")];
    for (schema, file) in cases {
        let db = dir.path().join(file);
        {
            let conn = Connection::open(&db).unwrap();
            conn.execute_batch(schema).unwrap();
            old_leads(&conn, &[1, 2, 3]);
            let has_table: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(has_table, 0, "{file}: the old schema has no version table");
        }
        let mut opts = options(dir.path());
        opts.db_path = db.clone();
        let relay = Relay::start(opts);
        let leads = relay.leads();
        assert_eq!(leads.len(), 3, "{file}: every old lead is kept");
        for seed in [1u8, 2, 3] {
            let id = good_payload(seed).id;
            assert!(leads.iter().any(|l| l["id"] == id.as_str()), "{file}: {id} is missing");
        }
        // New leads go in beside them, with the columns the old file lacked.
        assert_eq!(relay.post_lead(&good_payload(4)).status, 201);
        assert_eq!(relay.rows(), 4);
        drop(relay);
        let all: Vec<i64> = (1..=steps(&db).len() as i64).collect();
        assert_eq!(steps(&db), all, "{file}: every step recorded once, in order");
        assert!(!all.is_empty());
        let conn = Connection::open(&db).unwrap();
        let index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'deliveries_webhook_due'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 1, "{file}: the per-webhook queue index was added");
        // One time-order index on leads, not two (step 4 dropped the arrival index).
        // `column` of the indexes on `leads` whose names start with `prefix`.
        let lead_indexes = |column: &str, prefix: &str| -> Vec<String> {
            conn.prepare(&format!(
                "SELECT {column} FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'
                 AND name LIKE '{prefix}%' ORDER BY name"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        assert_eq!(lead_indexes("name", "leads_received"), ["leads_received_id"], "{file}");
        // The untouched leads are indexed by grade (step 5), in place of the index by arrival
        // alone that step 2 made.
        let untouched = lead_indexes("sql", "leads_untouched");
        assert_eq!(untouched.len(), 1, "{file}: {untouched:?}");
        assert!(
            untouched[0].contains("leads_untouched_grade")
                && untouched[0].contains("COALESCE(relay_grade, grade), sla_notified, received_ms"),
            "{file}: {untouched:?}"
        );
        // The old leads are in the aggregates (filled in when the store opened): the dashboard
        // counts all four, and a recount agrees.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let store = leadgate_relay::Store::open(&db).unwrap();
        let funnel = runtime.block_on(store.funnel()).unwrap();
        assert_eq!(funnel.totals.submissions, 4, "{file}");
        let recount = runtime.block_on(store.recount(false)).unwrap();
        assert_eq!(recount.leads, 4, "{file}");
        assert!(recount.disagreements.is_empty(), "{file}: {:#?}", recount.disagreements);
        let missing: i64 = conn
            .query_row(
                "SELECT count(*) FROM leads WHERE email <> '' AND email_domain = ''",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            missing, 0,
            "{file}: the search column is filled for every lead with an address"
        );
        // Old leads keep their JSON text; the new one is packed (and reads back whole: the
        // relay listed it above with the old ones, and its answers are there).
        let (texts, packed): (i64, i64) = conn
            .query_row(
                "SELECT count(*) FILTER (WHERE payload <> '' AND packed IS NULL),
                        count(*) FILTER (WHERE payload = '' AND length(packed) > 100)
                 FROM leads",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((texts, packed), (3, 1), "{file}");
        let listed = runtime.block_on(store.list(Default::default())).unwrap();
        let new = listed.iter().find(|l| l.id == good_payload(4).id).unwrap();
        assert_eq!(new.payload, good_payload(4), "{file}: the packed payload is the one posted");
        drop(store);

        // Opening again runs nothing twice.
        let mut opts = options(dir.path());
        opts.db_path = db.clone();
        let relay = Relay::start(opts);
        assert_eq!(relay.leads().len(), 4);
        drop(relay);
        assert_eq!(steps(&db), all, "{file}: a second start adds no step");
    }
}

#[test]
fn the_aggregates_command_checks_and_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("leads.db");
    {
        let mut opts = common::options(dir.path());
        opts.rate_limit = None;
        let relay = common::Relay::start(opts);
        for seed in 1..=3 {
            assert_eq!(relay.post_lead(&common::good_payload(seed)).status, 201);
        }
    }
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadgate-relay"))
            .args(args)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
    };
    let (code, text) = run(&["aggregates"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("checked against 3 leads") && text.contains("0 disagreeing"), "{text}");
    // Someone edits a count by hand: the check says where, the rebuild puts it right.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE agg SET leads = leads + 5 WHERE dim = 'src'", []).unwrap();
    let (code, text) = run(&["aggregates"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("agg src/"), "{text}");
    let (code, text) = run(&["aggregates", "--rebuild"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&["aggregates"]);
    assert_eq!((code, text.contains("0 disagreeing")), (Some(0), true), "{text}");
}
