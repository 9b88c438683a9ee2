//! The store's side of the sales loop: outcomes, each lead's sales state, the aggregates every
//! dashboard number and insight is read from, and config versions. What a lead counts for is
//! decided in `crate::sales`; here it is written, in the transaction of the row it counts.

use std::collections::BTreeMap;

use leadgate_core::{LeadPayload, Score, Timestamp};
use serde::Serialize;

use super::packed::payload_json;
use super::sql::{args, Arg, Db, Row};
use super::{Store, StoreError};
use crate::sales::{
    delta, AggKey, Counters, Delta, HistoryEntry, LeadFacts, LeadRef, NewOutcome, OutcomeRecord,
    SalesState, Status, COUNTER_COLUMNS,
};

/// Which aggregate rows to read: all, or those of one form, one model, a range of days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggFilter {
    /// Only this form.
    pub form_id: Option<String>,
    /// Only leads scored by this model.
    pub model: Option<String>,
    /// From this day on (`YYYY-MM-DD`, inclusive).
    pub from: Option<String>,
    /// Up to this day (`YYYY-MM-DD`, inclusive).
    pub to: Option<String>,
}

/// Aggregate rows as read: summed over forms and models (as the filter allows), by day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AggRows {
    /// `(dim, day, k1, k2)` and the counts.
    pub counts: Vec<(String, String, String, String, Counters)>,
    /// `(dim, day, k1, k2, status, reason, n)`.
    pub reasons: Vec<(String, String, String, String, String, String, i64)>,
    /// `(dim, day, k1, k2, bucket, n)`.
    pub speed: Vec<(String, String, String, String, usize, i64)>,
}

/// What [`Store::record_outcomes`] did with one outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeStored {
    /// The lead it is about.
    pub lead_id: String,
    /// Whether it was new (false: the same outcome was recorded before).
    pub recorded: bool,
    /// The lead's current status after it.
    pub status: Option<Status>,
}

/// One lead of [`Store::judged_leads`]: what scoring said and what sales said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgedLead {
    /// The form.
    pub form_id: String,
    /// The model that scored it.
    pub model: String,
    /// Its total.
    pub total: i64,
    /// Whether it qualified.
    pub qualified: bool,
    /// The rules that held, with their points.
    pub hits: Vec<(String, i64)>,
    /// `utm_source` of the submit.
    pub source: String,
    /// The sales flags ([`crate::sales::flag`]).
    pub flags: u8,
}

/// A stored lead as a backtest reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedLead {
    /// Its id (the scan's position).
    pub id: String,
    /// The payload as received; `None` when the scan was asked to leave it out (see
    /// [`Store::scan_leads`]).
    pub payload: Option<String>,
    /// The score that counts today.
    pub total: i64,
    /// Whether it qualified.
    pub qualified: bool,
    /// `utm_source` of the submit.
    pub source: String,
    /// The sales flags.
    pub flags: u8,
    /// The model that scored it (the relay's score when there is one).
    pub model: String,
    /// Whether the relay scored it (else the score is the browser's, unchecked).
    pub relay_scored: bool,
    /// The `rule_hits` column: a JSON array of `[rule, points]` of that score.
    pub rule_hits: Option<String>,
    /// `submitted_at` of the payload, as the visitor's browser wrote it.
    pub submitted_at: String,
}

/// A lead nobody in sales has touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untouched {
    /// Its id.
    pub id: String,
    /// Its form.
    pub form_id: String,
    /// When it arrived, Unix ms.
    pub received_ms: i64,
    /// Its grade.
    pub grade: String,
    /// Whether its SLA alert was queued.
    pub notified: bool,
}

/// How long an untouched lead may wait, by grade, for [`Store::untouched`]: a lead of a grade
/// in `grades` is late when it arrived before that grade's cutoff (Unix ms), a lead of any
/// other grade when it arrived before `other` (none: never).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cutoffs {
    /// The cutoff per grade.
    pub grades: BTreeMap<String, i64>,
    /// The cutoff of every other grade.
    pub other: Option<i64>,
}

/// A published config of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigVersion {
    /// The form.
    pub form_id: String,
    /// 1, 2, 3 … in the order they were published.
    pub version: i64,
    /// The scoring model's id (`score.model` of the leads it scores).
    pub model: String,
    /// The config's JSON.
    #[serde(skip)]
    pub config: String,
    /// When it was published, RFC 3339.
    pub created_at: String,
    /// What the publisher wrote about it.
    pub note: Option<String>,
    /// Whether it is the one served now.
    pub current: bool,
}

/// An aggregate row and a recount of it that disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    /// The row.
    pub row: String,
    /// What the table says.
    pub stored: String,
    /// What a recount from the rows says.
    pub recounted: String,
}

/// What [`Store::recount`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recount {
    /// Leads counted.
    pub leads: u64,
    /// Aggregate rows the recount has.
    pub rows: u64,
    /// Rows that disagreed (before a rebuild replaced them).
    pub disagreements: Vec<Disagreement>,
}

const FACT_COLUMNS: &str = "form_id, model, received_at, received_ms, utm_source, utm_campaign,
    first_source, first_campaign, COALESCE(relay_total, total), COALESCE(relay_grade, grade),
    COALESCE(relay_qualified, qualified), spam IS NOT NULL, score_checked = 'mismatch',
    rule_hits, forwarded, sales_status, sales_reason, sales_flags, pipeline_cents, won_cents,
    first_touch_ms";

/// A lead's facts from a row of [`FACT_COLUMNS`].
fn facts(row: &Row) -> Result<LeadFacts, StoreError> {
    let hits: Vec<(String, i64)> = match row.opt_text(13)? {
        Some(text) => serde_json::from_str(&text).map_err(|source| StoreError::Payload {
            id: format!("(rule_hits of a lead of form {})", row.text(0).unwrap_or_default()),
            source,
        })?,
        None => Vec::new(),
    };
    let received_at = row.text(2)?;
    Ok(LeadFacts {
        form_id: row.text(0)?,
        model: row.text(1)?,
        day: received_at.get(..10).unwrap_or_default().to_string(),
        received_ms: row.int(3)?,
        source: (row.text(4)?, row.text(5)?),
        first_touch: (row.text(6)?, row.text(7)?),
        total: row.int(8)?,
        grade: row.text(9)?,
        qualified: row.bool(10)?,
        spam: row.bool(11)?,
        mismatch: row.bool(12)?,
        hits,
        forwarded: row.bool(14)?,
        sales: SalesState {
            status: row.opt_text(15)?.as_deref().and_then(Status::parse),
            reason: row.opt_text(16)?,
            flags: u8::try_from(row.int(17)?).unwrap_or(0),
            pipeline_cents: row.int(18)?,
            won_cents: row.int(19)?,
            first_touch_ms: row.opt_int(20)?,
        },
    })
}

/// The facts columns of a new lead, as stored with it.
pub(crate) struct FactColumns {
    pub model: String,
    pub received_ms: i64,
    pub relay_grade: Option<String>,
    pub first_source: String,
    pub first_campaign: String,
    pub rule_hits: String,
}

impl FactColumns {
    pub(crate) fn of(facts: &LeadFacts, relay_score: Option<&Score>) -> FactColumns {
        FactColumns {
            model: facts.model.clone(),
            received_ms: facts.received_ms,
            relay_grade: relay_score.map(|s| s.grade.clone()),
            first_source: facts.first_touch.0.clone(),
            first_campaign: facts.first_touch.1.clone(),
            // A JSON array of [rule, points]: rule ids from an unchecked form are visitor text.
            rule_hits: serde_json::to_string(&facts.hits).unwrap_or_else(|_| "[]".into()),
        }
    }
}

/// Aggregate changes waiting to be written: a job's own, then its batch's. Leads of one batch
/// mostly share their keys (the day, the source, the rules), so writing the batch's sum once
/// before its commit costs a few upserts instead of several per lead — in the same
/// transaction as the rows, so they still commit or roll back together.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    job: Delta,
    batch: Delta,
}

impl Deferred {
    /// The running job succeeded: its changes join the batch's.
    pub(crate) fn keep_job(&mut self) {
        let job = std::mem::take(&mut self.job);
        self.batch.merge(job);
    }

    /// The running job failed (its savepoint rolled back): its changes go too.
    pub(crate) fn drop_job(&mut self) {
        self.job = Delta::default();
    }

    /// The batch's changes, taken to be written (or dropped with a failed batch).
    pub(crate) fn take_batch(&mut self) -> Delta {
        self.job = Delta::default();
        std::mem::take(&mut self.batch)
    }
}

/// Adds a change to the running job's (written at the batch's commit, where it can fail; see
/// [`Deferred`]).
pub(crate) fn apply(db: &mut dyn Db, change: Delta) {
    db.deferred().job.merge(change);
}

/// Writes a change to the aggregates now.
pub(crate) fn apply_now(db: &mut dyn Db, change: &Delta) -> Result<(), StoreError> {
    for (key, counters) in &change.counts {
        let mut values = key_args(key);
        values.extend(counters.values().into_iter().map(Arg::Int));
        db.execute(&UPSERT_AGG, &values)?;
    }
    for ((key, status, reason), n) in &change.reasons {
        let mut values = key_args(key);
        values.extend([Arg::from(*status), Arg::from(reason), Arg::Int(*n)]);
        db.execute(
            "INSERT INTO agg_reasons (form_id, model, day, dim, k1, k2, status, reason, n)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (dim, day, form_id, model, k1, k2, status, reason)
             DO UPDATE SET n = agg_reasons.n + excluded.n",
            &values,
        )?;
    }
    for ((key, bucket), n) in &change.speed {
        let mut values = key_args(key);
        values.extend([Arg::from(*bucket as u64), Arg::Int(*n)]);
        db.execute(
            "INSERT INTO agg_speed (form_id, model, day, dim, k1, k2, bucket, n)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (dim, day, form_id, model, k1, k2, bucket)
             DO UPDATE SET n = agg_speed.n + excluded.n",
            &values,
        )?;
    }
    Ok(())
}

/// The upsert of one counter row (built once: every batch runs it).
static UPSERT_AGG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns = COUNTER_COLUMNS.join(", ");
    let params: Vec<String> = (7..7 + COUNTER_COLUMNS.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> =
        COUNTER_COLUMNS.iter().map(|c| format!("{c} = agg.{c} + excluded.{c}")).collect();
    format!(
        "INSERT INTO agg (form_id, model, day, dim, k1, k2, {columns})
         VALUES ($1, $2, $3, $4, $5, $6, {})
         ON CONFLICT (dim, day, form_id, model, k1, k2) DO UPDATE SET {}",
        params.join(", "),
        updates.join(", ")
    )
});

fn key_args(key: &AggKey) -> Vec<Arg> {
    vec![
        Arg::from(&key.form_id),
        Arg::from(&key.model),
        Arg::from(&key.day),
        Arg::from(key.dim),
        Arg::from(&key.k1),
        Arg::from(&key.k2),
    ]
}

/// Reads a lead's facts, locking its row in PostgreSQL until the transaction ends (two
/// relays recording outcomes for one lead take turns).
fn lead_facts(db: &mut dyn Db, id: &str) -> Result<Option<LeadFacts>, StoreError> {
    let sql = format!("SELECT {FACT_COLUMNS} FROM leads WHERE id = $1 {{for_update}}");
    db.query_opt(&sql, args![id])?.as_ref().map(facts).transpose()
}

/// Stores a new state for a lead whose facts were `old`, and moves its counts.
fn set_facts(
    db: &mut dyn Db,
    id: &str,
    old: &LeadFacts,
    new: &LeadFacts,
) -> Result<(), StoreError> {
    let s = &new.sales;
    db.execute(
        "UPDATE leads SET forwarded = $1, sales_status = $2, sales_reason = $3, sales_flags = $4,
            pipeline_cents = $5, won_cents = $6, first_touch_ms = $7
         WHERE id = $8",
        args![
            i64::from(new.forwarded),
            s.status.map(Status::as_str),
            s.reason.clone(),
            i64::from(s.flags),
            s.pipeline_cents,
            s.won_cents,
            s.first_touch_ms,
            id
        ],
    )?;
    apply(db, delta(Some(&old.contributions()), Some(&new.contributions())));
    Ok(())
}

/// Counts a lead's first accepted delivery (called in the transaction that records it).
pub(crate) fn count_forwarded(db: &mut dyn Db, id: &str) -> Result<(), StoreError> {
    let Some(old) = lead_facts(db, id)? else { return Ok(()) };
    if old.forwarded {
        return Ok(());
    }
    let new = LeadFacts { forwarded: true, ..old.clone() };
    set_facts(db, id, &old, &new)
}

/// Counts widget events: (form, day, source, campaign, kind) each once.
pub(crate) fn count_events(
    db: &mut dyn Db,
    events: &[(String, String, String, String, String)],
) -> Result<(), StoreError> {
    let mut change = Delta::default();
    for (form_id, day, source, campaign, kind) in events {
        let mut c = Counters::default();
        match kind.as_str() {
            "view" => c.views = 1,
            "start" => c.starts = 1,
            "submit" => c.submits = 1,
            _ => continue,
        }
        let key = AggKey {
            form_id: form_id.clone(),
            model: String::new(),
            day: day.clone(),
            dim: crate::sales::dim::SOURCE,
            k1: source.clone(),
            k2: campaign.clone(),
        };
        change.merge(Delta { counts: vec![(key, c)], ..Delta::default() });
    }
    apply(db, change);
    Ok(())
}

/// The day part of an RFC 3339 time.
fn day_of(rfc3339: &str) -> String {
    rfc3339.get(..10).unwrap_or_default().to_string()
}

/// Facts of a stored lead from its payload (leads stored before migration 2).
fn facts_from_payload(
    payload: &LeadPayload,
    relay_score: Option<&Score>,
    mismatch: bool,
    spam: bool,
    received_at: &str,
) -> LeadFacts {
    let received = Timestamp::parse_rfc3339(received_at).unwrap_or(Timestamp(0));
    let mut facts = LeadFacts::of_new_lead(payload, relay_score, mismatch, spam, received);
    facts.day = day_of(received_at);
    facts
}

/// Fills the facts columns of leads stored before migration 2 (those without `rule_hits`),
/// a thousand at a time. Returns how many it filled.
fn backfill(db: &mut dyn Db) -> Result<u64, StoreError> {
    let mut filled = 0;
    loop {
        let rows = db.query(
            "SELECT id, payload, relay_score, score_checked = 'mismatch', spam IS NOT NULL,
                received_at, packed
             FROM leads WHERE rule_hits IS NULL LIMIT 1000",
            args![],
        )?;
        if rows.is_empty() {
            return Ok(filled);
        }
        for row in &rows {
            let id = row.text(0)?;
            let payload: LeadPayload = serde_json::from_str(&payload_json(row, 1, 6)?)
                .map_err(|source| StoreError::Payload { id: id.clone(), source })?;
            let relay: Option<Score> = match row.opt_text(2)? {
                Some(t) => Some(
                    serde_json::from_str(&t)
                        .map_err(|source| StoreError::Payload { id: id.clone(), source })?,
                ),
                None => None,
            };
            let facts = facts_from_payload(
                &payload,
                relay.as_ref(),
                row.bool(3)?,
                row.bool(4)?,
                &row.text(5)?,
            );
            let c = FactColumns::of(&facts, relay.as_ref());
            db.execute(
                "UPDATE leads SET model = $1, received_ms = $2, relay_grade = $3,
                    first_source = $4, first_campaign = $5, rule_hits = $6 WHERE id = $7",
                args![
                    c.model,
                    c.received_ms,
                    c.relay_grade,
                    c.first_source,
                    c.first_campaign,
                    c.rule_hits,
                    id
                ],
            )?;
            filled += 1;
        }
    }
}

/// Brings leads stored before migration 2 into the aggregates: fills their facts columns,
/// then rebuilds the aggregates from every row, in one transaction (under the migration lock
/// in PostgreSQL, so relays starting together do it once). Nothing to do, and no rebuild,
/// when every lead has its facts.
pub(crate) fn backfill_and_rebuild(db: &mut dyn Db) -> Result<(), StoreError> {
    if db.query_opt("SELECT 1 FROM leads WHERE rule_hits IS NULL LIMIT 1", args![])?.is_none() {
        return Ok(());
    }
    db.batch(db.dialect().begin())?;
    let result = (|| {
        if db.dialect() == super::sql::Dialect::Postgres {
            db.batch("SELECT pg_advisory_xact_lock(7146327)")?;
        }
        if backfill(db)? > 0 {
            recount(db, true)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => db.batch("COMMIT"),
        Err(e) => {
            let _ = db.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Everything the aggregate tables should hold, counted from the rows.
fn recount_rows(db: &mut dyn Db) -> Result<(u64, Delta), StoreError> {
    let mut total = Delta::default();
    let mut leads = 0;
    let mut after: Option<String> = None;
    loop {
        let sql = format!(
            "SELECT id, {FACT_COLUMNS} FROM leads WHERE CAST($1 AS TEXT) IS NULL OR id > $1
             ORDER BY id LIMIT 5000"
        );
        let rows = db.query(&sql, args![after.clone()])?;
        let Some(last) = rows.last() else { break };
        after = Some(last.text(0)?);
        let mut batch = Delta::default();
        for row in &rows {
            let facts = facts(&Row(row.0[1..].to_vec()))?;
            batch.merge(delta(None, Some(&facts.contributions())));
            leads += 1;
        }
        total.merge(batch);
    }
    let rows = db.query(
        "SELECT form_id, day, utm_source, utm_campaign, kind, count(*) FROM events
         GROUP BY 1, 2, 3, 4, 5",
        args![],
    )?;
    for row in &rows {
        let n = row.int(5)?;
        let event = (row.text(0)?, row.text(1)?, row.text(2)?, row.text(3)?, row.text(4)?);
        let key = AggKey {
            form_id: event.0,
            model: String::new(),
            day: event.1,
            dim: crate::sales::dim::SOURCE,
            k1: event.2,
            k2: event.3,
        };
        let mut c = Counters::default();
        match event.4.as_str() {
            "view" => c.views = n,
            "start" => c.starts = n,
            "submit" => c.submits = n,
            _ => continue,
        }
        total.merge(Delta { counts: vec![(key, c)], ..Delta::default() });
    }
    Ok((leads, total))
}

/// What the aggregate tables hold now, as a [`Delta`] from nothing.
fn stored_aggregates(db: &mut dyn Db) -> Result<Delta, StoreError> {
    let dim = |text: &str| -> &'static str {
        use crate::sales::dim::*;
        [SOURCE, FIRST_TOUCH, SCORE, RULE, GRADE].into_iter().find(|d| *d == text).unwrap_or("?")
    };
    let key = |row: &Row| -> Result<AggKey, StoreError> {
        Ok(AggKey {
            form_id: row.text(0)?,
            model: row.text(1)?,
            day: row.text(2)?,
            dim: dim(&row.text(3)?),
            k1: row.text(4)?,
            k2: row.text(5)?,
        })
    };
    let mut out = Delta::default();
    let sql =
        format!("SELECT form_id, model, day, dim, k1, k2, {} FROM agg", COUNTER_COLUMNS.join(", "));
    for row in db.query(&sql, args![])? {
        let mut v = [0i64; 17];
        for (i, slot) in v.iter_mut().enumerate() {
            *slot = row.int(6 + i)?;
        }
        out.counts.push((key(&row)?, Counters::from_values(v)));
    }
    for row in db.query(
        "SELECT form_id, model, day, dim, k1, k2, status, reason, n FROM agg_reasons",
        args![],
    )? {
        let status = Status::parse(&row.text(6)?).map_or("?", Status::as_str);
        out.reasons.push(((key(&row)?, status, row.text(7)?), row.int(8)?));
    }
    for row in
        db.query("SELECT form_id, model, day, dim, k1, k2, bucket, n FROM agg_speed", args![])?
    {
        out.speed.push(((key(&row)?, row.uint(6)?), row.int(7)?));
    }
    // Rows whose counts went back to zero are kept in the table; a recount has none.
    out.counts.retain(|(_, c)| !c.is_zero());
    out.reasons.retain(|(_, n)| *n != 0);
    out.speed.retain(|(_, n)| *n != 0);
    out.counts.sort_by(|a, b| a.0.cmp(&b.0));
    out.reasons.sort();
    out.speed.sort();
    Ok(out)
}

fn disagreements(stored: &Delta, recounted: &Delta) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let name =
        |k: &AggKey| format!("{}/{}/{}/{}/{:?}/{:?}", k.dim, k.day, k.form_id, k.model, k.k1, k.k2);
    let a: BTreeMap<_, _> = stored.counts.iter().map(|(k, c)| (name(k), c)).collect();
    let b: BTreeMap<_, _> = recounted.counts.iter().map(|(k, c)| (name(k), c)).collect();
    for key in a.keys().chain(b.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (x, y) = (a.get(key), b.get(key));
        if x != y {
            out.push(Disagreement {
                row: format!("agg {key}"),
                stored: format!("{:?}", x.map(|c| c.values())),
                recounted: format!("{:?}", y.map(|c| c.values())),
            });
        }
    }
    let a: BTreeMap<_, _> =
        stored.reasons.iter().map(|((k, s, r), n)| (format!("{} {s} {r}", name(k)), *n)).collect();
    let b: BTreeMap<_, _> = recounted
        .reasons
        .iter()
        .map(|((k, s, r), n)| (format!("{} {s} {r}", name(k)), *n))
        .collect();
    let c: BTreeMap<_, _> =
        stored.speed.iter().map(|((k, s), n)| (format!("{} bucket {s}", name(k)), *n)).collect();
    let d: BTreeMap<_, _> =
        recounted.speed.iter().map(|((k, s), n)| (format!("{} bucket {s}", name(k)), *n)).collect();
    for (table, a, b) in [("agg_reasons", a, b), ("agg_speed", c, d)] {
        for key in a.keys().chain(b.keys()).collect::<std::collections::BTreeSet<_>>() {
            if a.get(key) != b.get(key) {
                out.push(Disagreement {
                    row: format!("{table} {key}"),
                    stored: format!("{:?}", a.get(key)),
                    recounted: format!("{:?}", b.get(key)),
                });
            }
        }
    }
    out
}

/// Recounts every aggregate from the rows; with `rebuild`, replaces the tables with it.
pub(crate) fn recount(db: &mut dyn Db, rebuild: bool) -> Result<Recount, StoreError> {
    let (leads, mut counted) = recount_rows(db)?;
    counted.counts.sort_by(|a, b| a.0.cmp(&b.0));
    counted.reasons.sort();
    counted.speed.sort();
    let stored = stored_aggregates(db)?;
    let report = Recount {
        leads,
        rows: (counted.counts.len() + counted.reasons.len() + counted.speed.len()) as u64,
        disagreements: disagreements(&stored, &counted),
    };
    if rebuild {
        db.execute("DELETE FROM agg", args![])?;
        db.execute("DELETE FROM agg_reasons", args![])?;
        db.execute("DELETE FROM agg_speed", args![])?;
        apply_now(db, &counted)?;
    }
    Ok(report)
}

impl Store {
    /// Records outcomes, all or none: an unknown lead fails the whole batch (nothing
    /// written). An outcome recorded before (the same idempotency key, or the same lead,
    /// status and time) is not recorded again.
    pub async fn record_outcomes(
        &self,
        outcomes: Vec<NewOutcome>,
        recorded_at: Timestamp,
    ) -> Result<Vec<OutcomeStored>, StoreError> {
        self.write(move |db| {
            let mut out = Vec::with_capacity(outcomes.len());
            for (index, o) in outcomes.iter().enumerate() {
                match record_one(db, o, recorded_at)? {
                    Some(stored) => out.push(stored),
                    // An error rolls the job's savepoint back: nothing of the batch stays.
                    None => {
                        let what = match &o.lead {
                            LeadRef::Id(id) => format!("with id {id:?}"),
                            LeadRef::Email(e) => format!("with e-mail {e:?}"),
                        };
                        return Err(StoreError::UnknownLead { index, what });
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// A lead's outcomes, in the order they happened; `None` when there is no such lead.
    pub async fn outcomes_of(
        &self,
        lead_id: String,
    ) -> Result<Option<Vec<OutcomeRecord>>, StoreError> {
        self.read(move |db| {
            if db.query_opt("SELECT 1 FROM leads WHERE id = $1", args![&lead_id])?.is_none() {
                return Ok(None);
            }
            let rows = db.query(
                "SELECT status, reason, note, amount_cents, currency, at, recorded_at, actor, source
                 FROM outcomes WHERE lead_id = $1 ORDER BY at_ms, {seq}",
                args![&lead_id],
            )?;
            rows.iter()
                .map(|row| {
                    Ok(OutcomeRecord {
                        status: Status::parse(&row.text(0)?).ok_or(StoreError::Column {
                            index: 0,
                            expected: "an outcome status",
                        })?,
                        reason: row.opt_text(1)?,
                        note: row.opt_text(2)?,
                        amount: row.opt_int(3)?.map(|c| c as f64 / 100.0),
                        currency: row.opt_text(4)?,
                        at: row.text(5)?,
                        recorded_at: row.text(6)?,
                        by: row.opt_text(7)?,
                        source: row.text(8)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()
                .map(Some)
        })
        .await
    }

    /// The aggregate rows `filter` selects, summed over forms and models.
    pub async fn aggregates(&self, filter: AggFilter) -> Result<AggRows, StoreError> {
        self.read(move |db| {
            let sums: Vec<String> =
                COUNTER_COLUMNS.iter().map(|c| format!("CAST(sum({c}) AS BIGINT)")).collect();
            let filter_sql = "(CAST($1 AS TEXT) IS NULL OR form_id = $1)
                AND (CAST($2 AS TEXT) IS NULL OR model = $2 OR model = '')
                AND (CAST($3 AS TEXT) IS NULL OR day >= $3)
                AND (CAST($4 AS TEXT) IS NULL OR day <= $4)";
            let a = args![
                filter.form_id.clone(),
                filter.model.clone(),
                filter.from.clone(),
                filter.to.clone()
            ];
            let mut out = AggRows::default();
            let sql = format!(
                "SELECT dim, day, k1, k2, {} FROM agg WHERE {filter_sql} GROUP BY dim, day, k1, k2",
                sums.join(", ")
            );
            for row in db.query(&sql, a)? {
                let mut v = [0i64; 17];
                for (i, slot) in v.iter_mut().enumerate() {
                    *slot = row.int(4 + i)?;
                }
                out.counts.push((
                    row.text(0)?,
                    row.text(1)?,
                    row.text(2)?,
                    row.text(3)?,
                    Counters::from_values(v),
                ));
            }
            let sql = format!(
                "SELECT dim, day, k1, k2, status, reason, CAST(sum(n) AS BIGINT) FROM agg_reasons
                 WHERE {filter_sql} GROUP BY dim, day, k1, k2, status, reason HAVING sum(n) <> 0"
            );
            for row in db.query(&sql, a)? {
                out.reasons.push((
                    row.text(0)?,
                    row.text(1)?,
                    row.text(2)?,
                    row.text(3)?,
                    row.text(4)?,
                    row.text(5)?,
                    row.int(6)?,
                ));
            }
            let sql = format!(
                "SELECT dim, day, k1, k2, bucket, CAST(sum(n) AS BIGINT) FROM agg_speed
                 WHERE {filter_sql} GROUP BY dim, day, k1, k2, bucket HAVING sum(n) <> 0"
            );
            for row in db.query(&sql, a)? {
                out.speed.push((
                    row.text(0)?,
                    row.text(1)?,
                    row.text(2)?,
                    row.text(3)?,
                    row.uint(4)?,
                    row.int(5)?,
                ));
            }
            Ok(out)
        })
        .await
    }

    /// Recounts the aggregates from the rows and reports where they disagree; with `rebuild`,
    /// replaces them with the recount (in one transaction).
    pub async fn recount(&self, rebuild: bool) -> Result<Recount, StoreError> {
        if rebuild {
            self.write(move |db| recount(db, true)).await
        } else {
            self.read(move |db| recount(db, false)).await
        }
    }

    /// Every lead sales judged (touched) in `filter`'s form and days, non-spam, with its hits:
    /// the matrix the suggested points and backtests are fitted on.
    pub async fn judged_leads(&self, filter: AggFilter) -> Result<Vec<JudgedLead>, StoreError> {
        self.read(move |db| {
            let rows = db.query(
                "SELECT form_id, model, COALESCE(relay_total, total), COALESCE(relay_qualified, qualified),
                    rule_hits, utm_source, sales_flags
                 FROM leads
                 WHERE spam IS NULL AND sales_flags <> 0
                    AND (CAST($1 AS TEXT) IS NULL OR form_id = $1)
                    AND (CAST($2 AS TEXT) IS NULL OR model = $2)
                    AND (CAST($3 AS TEXT) IS NULL OR received_at >= $3)
                    AND (CAST($4 AS TEXT) IS NULL OR received_at < $4 || 'T99')",
                args![filter.form_id, filter.model, filter.from, filter.to],
            )?;
            rows.iter()
                .map(|row| {
                    Ok(JudgedLead {
                        form_id: row.text(0)?,
                        model: row.text(1)?,
                        total: row.int(2)?,
                        qualified: row.bool(3)?,
                        hits: serde_json::from_str(&row.opt_text(4)?.unwrap_or_else(|| "[]".into()))
                            .unwrap_or_default(),
                        source: row.text(5)?,
                        flags: u8::try_from(row.int(6)?).unwrap_or(0),
                    })
                })
                .collect()
        })
        .await
    }

    /// Up to `limit` non-spam leads of `form_id` after the id `after`, in id order: a scan in
    /// pages that holds no more than a page in memory. The payload of a lead the relay scored
    /// with one of `without_payload` (model ids) is left out: its rule hits are enough.
    pub async fn scan_leads(
        &self,
        form_id: String,
        after: Option<String>,
        limit: u32,
        without_payload: Vec<String>,
    ) -> Result<Vec<ScannedLead>, StoreError> {
        self.read(move |db| {
            let hits_only = if without_payload.is_empty() {
                "1 = 0".to_string()
            } else {
                let models: Vec<String> =
                    (4..4 + without_payload.len()).map(|i| format!("${i}")).collect();
                format!(
                    "relay_total IS NOT NULL AND rule_hits IS NOT NULL AND model IN ({})",
                    models.join(", ")
                )
            };
            let mut values = args![form_id, after, limit].to_vec();
            values.extend(without_payload.into_iter().map(Arg::from));
            let rows = db.query(
                &format!(
                    "SELECT id, CASE WHEN {hits_only} THEN NULL ELSE payload END,
                        COALESCE(relay_total, total), COALESCE(relay_qualified, qualified),
                        utm_source, sales_flags, model, relay_total IS NOT NULL, rule_hits,
                        submitted_at, CASE WHEN {hits_only} THEN NULL ELSE packed END
                     FROM leads
                     WHERE form_id = $1 AND spam IS NULL
                        AND (CAST($2 AS TEXT) IS NULL OR id > $2)
                     ORDER BY id LIMIT $3"
                ),
                &values,
            )?;
            rows.iter()
                .map(|row| {
                    Ok(ScannedLead {
                        id: row.text(0)?,
                        // Both NULL when the scan left the payload out.
                        payload: match (row.opt_text(1)?, row.opt_bytes(10)?) {
                            (None, None) => None,
                            _ => Some(payload_json(row, 1, 10)?),
                        },
                        total: row.int(2)?,
                        qualified: row.bool(3)?,
                        source: row.text(4)?,
                        flags: u8::try_from(row.int(5)?).unwrap_or(0),
                        model: row.text(6)?,
                        relay_scored: row.bool(7)?,
                        rule_hits: row.opt_text(8)?,
                        submitted_at: row.text(9)?,
                    })
                })
                .collect()
        })
        .await
    }

    /// The payload of each of the leads `ids` of `form_id` (`None` for one not there).
    pub async fn lead_payloads(
        &self,
        form_id: String,
        ids: Vec<String>,
    ) -> Result<Vec<Option<String>>, StoreError> {
        self.read(move |db| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let row = db.query_opt(
                    "SELECT payload, packed FROM leads WHERE id = $1 AND form_id = $2",
                    args![&id, &form_id],
                )?;
                out.push(row.map(|row| payload_json(&row, 0, 1)).transpose()?);
            }
            Ok(out)
        })
        .await
    }

    /// The versions of `form_id`, oldest first.
    pub async fn config_versions(&self, form_id: String) -> Result<Vec<ConfigVersion>, StoreError> {
        self.read(move |db| versions(db, Some(&form_id))).await
    }

    /// Every version of every form (the relay loads them at start).
    pub async fn all_config_versions(&self) -> Result<Vec<ConfigVersion>, StoreError> {
        self.read(move |db| versions(db, None)).await
    }

    /// Stores `config` as the next version of `form_id` unless a version with `model` exists
    /// (then that one is returned); with `make_current`, it becomes the one served.
    pub async fn add_config_version(
        &self,
        form_id: String,
        model: String,
        config: String,
        note: Option<String>,
        make_current: bool,
        at: String,
    ) -> Result<(ConfigVersion, bool), StoreError> {
        self.write(move |db| {
            // Relays sharing PostgreSQL may start together with the same file: an insert
            // that finds its version number taken looks again (the other's row is committed
            // by then) instead of failing.
            let mut stored = None;
            for _ in 0..5 {
                let existing = db.query_opt(
                    "SELECT version FROM config_versions WHERE form_id = $1 AND model = $2
                     ORDER BY version DESC LIMIT 1",
                    args![&form_id, &model],
                )?;
                if let Some(row) = existing {
                    stored = Some((row.int(0)?, false));
                    break;
                }
                let next = db
                    .query_opt(
                        "SELECT COALESCE(max(version), 0) + 1 FROM config_versions
                         WHERE form_id = $1",
                        args![&form_id],
                    )?
                    .map_or(Ok(1), |row| row.int(0))?;
                let inserted = db.execute(
                    "INSERT INTO config_versions (form_id, version, model, config, created_at, note)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT DO NOTHING",
                    args![&form_id, next, &model, &config, &at, note.clone()],
                )?;
                if inserted == 1 {
                    stored = Some((next, true));
                    break;
                }
            }
            let (version, added) = stored.ok_or_else(|| {
                StoreError::Task("another relay kept publishing versions of this form".into())
            })?;
            let has_current =
                db.query_opt("SELECT 1 FROM forms WHERE form_id = $1", args![&form_id])?.is_some();
            if make_current || !has_current {
                set_current(db, &form_id, version, &at)?;
            }
            let all = versions(db, Some(&form_id))?;
            let v = all
                .into_iter()
                .find(|v| v.version == version)
                .ok_or(StoreError::Column { index: 0, expected: "the version just stored" })?;
            Ok((v, added))
        })
        .await
    }

    /// Makes `version` of `form_id` the one served; `false` when there is no such version.
    pub async fn set_current_version(
        &self,
        form_id: String,
        version: i64,
        at: String,
    ) -> Result<bool, StoreError> {
        self.write(move |db| {
            if db
                .query_opt(
                    "SELECT 1 FROM config_versions WHERE form_id = $1 AND version = $2",
                    args![&form_id, version],
                )?
                .is_none()
            {
                return Ok(false);
            }
            set_current(db, &form_id, version, &at)?;
            Ok(true)
        })
        .await
    }

    /// Leads nobody in sales has touched (not spam) that are late by `cutoffs`, oldest first,
    /// at most `limit`; with `unnotified`, only those whose SLA alert was not queued.
    ///
    /// Each grade is its own range of the index `leads_untouched_grade` (schema step 5), read
    /// oldest first and only as far as it can still make the list, so a backlog of leads of
    /// other grades is never read through: a grade of `cutoffs.grades` is one range, and with
    /// `cutoffs.other`, so is each other grade the untouched leads have (found by a skip scan
    /// of the same index, one step per grade).
    pub async fn untouched(
        &self,
        cutoffs: Cutoffs,
        limit: u32,
        unnotified: bool,
    ) -> Result<Vec<Untouched>, StoreError> {
        self.read(move |db| {
            let mut ranges: Vec<(String, i64)> =
                cutoffs.grades.iter().map(|(grade, before)| (grade.clone(), *before)).collect();
            if let Some(before) = cutoffs.other {
                for grade in untouched_grades(db)? {
                    if !cutoffs.grades.contains_key(&grade) {
                        ranges.push((grade, before));
                    }
                }
            }
            // `sla_notified` is the index's second column: both values are ranges of their own.
            let notified: &[i64] = if unnotified { &[0] } else { &[0, 1] };
            let limit = limit as usize;
            let mut out: Vec<Untouched> = Vec::new();
            for (grade, cutoff) in &ranges {
                for flag in notified {
                    // Once the list is full, only a lead older than its newest can still enter.
                    let before = match out.get(limit.wrapping_sub(1)) {
                        Some(last) => last.received_ms.min(*cutoff),
                        None => *cutoff,
                    };
                    let rows = db.query(
                        "SELECT id, form_id, received_ms FROM leads
                         WHERE COALESCE(relay_grade, grade) = $1 AND sla_notified = $2
                            AND first_touch_ms IS NULL AND spam IS NULL AND received_ms < $3
                         ORDER BY received_ms LIMIT $4",
                        args![grade, *flag, before, i64::try_from(limit).unwrap_or(i64::MAX)],
                    )?;
                    for row in &rows {
                        out.push(Untouched {
                            id: row.text(0)?,
                            form_id: row.text(1)?,
                            received_ms: row.int(2)?,
                            grade: grade.clone(),
                            notified: *flag != 0,
                        });
                    }
                    out.sort_by_key(|u| u.received_ms);
                    out.truncate(limit);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Queues one alert per lead to `webhook` (never twice: the queue's key is the lead and
    /// the webhook) and marks the leads notified, in one transaction.
    pub async fn queue_alerts(
        &self,
        webhook: String,
        alerts: Vec<(String, String)>,
        at: String,
    ) -> Result<(), StoreError> {
        self.write(move |db| {
            for (lead_id, body) in &alerts {
                super::queue_message(db, lead_id, &webhook, body, &at)?;
                db.execute("UPDATE leads SET sla_notified = 1 WHERE id = $1", args![lead_id])?;
            }
            Ok(())
        })
        .await
    }
}

/// The grades of the untouched, non-spam leads, in the index's order: a skip scan of
/// `leads_untouched_grade`, one index seek per grade (not a read of every untouched lead).
fn untouched_grades(db: &mut dyn Db) -> Result<Vec<String>, StoreError> {
    let rows = db.query(
        "WITH RECURSIVE present(g) AS (
            SELECT (SELECT COALESCE(relay_grade, grade) FROM leads
                    WHERE first_touch_ms IS NULL AND spam IS NULL
                    ORDER BY COALESCE(relay_grade, grade) LIMIT 1)
            UNION ALL
            SELECT (SELECT COALESCE(relay_grade, grade) FROM leads
                    WHERE first_touch_ms IS NULL AND spam IS NULL
                        AND COALESCE(relay_grade, grade) > present.g
                    ORDER BY COALESCE(relay_grade, grade) LIMIT 1)
            FROM present WHERE present.g IS NOT NULL
         )
         SELECT g FROM present WHERE g IS NOT NULL",
        args![],
    )?;
    rows.iter().map(|row| row.text(0)).collect()
}

fn set_current(db: &mut dyn Db, form_id: &str, version: i64, at: &str) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO forms (form_id, current_version, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (form_id) DO UPDATE SET current_version = excluded.current_version,
            updated_at = excluded.updated_at",
        args![form_id, version, at],
    )?;
    Ok(())
}

fn versions(db: &mut dyn Db, form_id: Option<&str>) -> Result<Vec<ConfigVersion>, StoreError> {
    let rows = db.query(
        "SELECT v.form_id, v.version, v.model, v.config, v.created_at, v.note,
            f.current_version = v.version
         FROM config_versions v LEFT JOIN forms f ON f.form_id = v.form_id
         WHERE CAST($1 AS TEXT) IS NULL OR v.form_id = $1
         ORDER BY v.form_id, v.version",
        args![form_id],
    )?;
    rows.iter()
        .map(|row| {
            Ok(ConfigVersion {
                form_id: row.text(0)?,
                version: row.int(1)?,
                model: row.text(2)?,
                config: row.text(3)?,
                created_at: row.text(4)?,
                note: row.opt_text(5)?,
                current: row.opt_int(6)?.is_some_and(|v| v != 0),
            })
        })
        .collect()
}

/// Records one outcome in the current transaction; `None` when the lead is unknown.
fn record_one(
    db: &mut dyn Db,
    o: &NewOutcome,
    recorded_at: Timestamp,
) -> Result<Option<OutcomeStored>, StoreError> {
    let id = match &o.lead {
        LeadRef::Id(id) => id.clone(),
        LeadRef::Email(email) => match db.query_opt(
            "SELECT id FROM leads WHERE email = $1 ORDER BY received_at DESC, {seq} DESC LIMIT 1",
            args![email],
        )? {
            Some(row) => row.text(0)?,
            None => return Ok(None),
        },
    };
    let Some(old) = lead_facts(db, &id)? else { return Ok(None) };
    let at_ms = i64::try_from(o.at.0).unwrap_or(i64::MAX);
    let inserted = db.execute(
        "INSERT INTO outcomes (lead_id, status, reason, note, amount_cents, currency, at, at_ms,
            recorded_at, source, actor, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT DO NOTHING",
        args![
            &id,
            o.status.as_str(),
            o.reason.clone(),
            o.note.clone(),
            o.amount_cents,
            o.currency.clone(),
            o.at.to_rfc3339(),
            at_ms,
            recorded_at.to_rfc3339(),
            o.source.as_str(),
            o.by.clone(),
            o.idempotency_key.clone()
        ],
    )?;
    if inserted == 0 {
        return Ok(Some(OutcomeStored { lead_id: id, recorded: false, status: old.sales.status }));
    }
    let history = db
        .query(
            "SELECT status, reason, amount_cents, at_ms FROM outcomes WHERE lead_id = $1
             ORDER BY at_ms, {seq}",
            args![&id],
        )?
        .iter()
        .map(|row| {
            Ok(HistoryEntry {
                status: Status::parse(&row.text(0)?)
                    .ok_or(StoreError::Column { index: 0, expected: "an outcome status" })?,
                reason: row.opt_text(1)?,
                amount_cents: row.opt_int(2)?,
                at_ms: row.int(3)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let new = LeadFacts { sales: SalesState::from_history(&history), ..old.clone() };
    set_facts(db, &id, &old, &new)?;
    Ok(Some(OutcomeStored { lead_id: id, recorded: true, status: new.sales.status }))
}
