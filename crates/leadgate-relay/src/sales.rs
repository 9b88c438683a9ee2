//! What sales says became of a lead, and how that is counted.
//!
//! Sales posts *outcomes* (`accepted`, `rejected` with a reason, `contacted`, `meeting`,
//! `opportunity` with an amount, `won` with an amount, `lost` with a reason): an append-only
//! history per lead, never edited. The lead's *sales state* is derived from the whole history
//! ([`SalesState::from_history`]): the latest outcome is its current status, and the funnel
//! steps it reached follow from it (a lead sales rejected after accepting it counts as
//! rejected, not accepted; a lost deal still reached accepted and, if it was one, opportunity).
//!
//! Counting: every number of the dashboard and of the insights comes from aggregate rows kept
//! up to date in the same transaction as the rows they count (`store/sales.rs`). What one lead
//! adds to them is written once, here ([`LeadFacts::contributions`]): inserting a lead adds
//! its contributions, an outcome or a first delivery subtracts the old ones and adds the new,
//! and a rebuild sums them over every lead — so the three can never count differently.
//! Leads are counted in the day they *arrived* (a cohort): "of the leads received that week,
//! how many did sales accept" is the rate both teams read.

use std::collections::BTreeMap;

use leadgate_core::{LeadPayload, Score, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An outcome's status: what sales says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sales accepted the lead (a sales-accepted lead, SAL).
    Accepted,
    /// Sales rejected it, with a reason.
    Rejected,
    /// Sales reached the person.
    Contacted,
    /// A meeting was held or booked.
    Meeting,
    /// An opportunity was opened (optionally with its amount).
    Opportunity,
    /// The deal was won (with its amount).
    Won,
    /// The deal was lost (optionally with a reason).
    Lost,
}

impl Status {
    /// Every status, in funnel order.
    pub const ALL: [Status; 7] = [
        Status::Contacted,
        Status::Accepted,
        Status::Rejected,
        Status::Meeting,
        Status::Opportunity,
        Status::Won,
        Status::Lost,
    ];

    /// The name used in the API, the database and the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::Contacted => "contacted",
            Status::Meeting => "meeting",
            Status::Opportunity => "opportunity",
            Status::Won => "won",
            Status::Lost => "lost",
        }
    }

    /// The status named `text`.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether this status is a sales touch for speed to lead (`accepted`, `contacted`,
    /// `rejected`: sales looked at the lead and acted).
    pub fn is_touch(self) -> bool {
        match self {
            Status::Accepted | Status::Contacted | Status::Rejected => true,
            Status::Meeting | Status::Opportunity | Status::Won | Status::Lost => false,
        }
    }

    /// Whether a reason from the configured list is required (`rejected`) or allowed (`lost`).
    fn reason_rule(self) -> ReasonRule {
        match self {
            Status::Rejected => ReasonRule::Required,
            Status::Lost => ReasonRule::Allowed,
            Status::Accepted
            | Status::Contacted
            | Status::Meeting
            | Status::Opportunity
            | Status::Won => ReasonRule::None,
        }
    }

    /// Whether an amount may come with it.
    fn takes_amount(self) -> bool {
        match self {
            Status::Opportunity | Status::Won => true,
            Status::Accepted
            | Status::Rejected
            | Status::Contacted
            | Status::Meeting
            | Status::Lost => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReasonRule {
    Required,
    Allowed,
    None,
}

/// Where an outcome came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeSource {
    /// `POST /v1/leads/{id}/outcome` or `POST /v1/outcomes`.
    Api,
    /// A button on the dashboard.
    Dashboard,
    /// The dashboard's CSV import.
    Import,
}

impl OutcomeSource {
    /// The name stored with the outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeSource::Api => "api",
            OutcomeSource::Dashboard => "dashboard",
            OutcomeSource::Import => "import",
        }
    }
}

/// The reasons sales may give for a rejection or a loss when the relay's config names none.
pub const DEFAULT_REASONS: [&str; 8] = [
    "no-budget",
    "not-decision-maker",
    "wrong-fit",
    "competitor",
    "spam",
    "unreachable",
    "no-need",
    "other",
];

/// The most an amount may be (in the currency's units): a bound against typos and overflow.
pub const MAX_AMOUNT: f64 = 1e12;

/// How outcomes are checked: the relay's `[outcomes]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRules {
    /// The reasons a rejection or a loss may give (`reason`); free text goes in `note`.
    pub reasons: Vec<String>,
    /// The currency of an amount that names none (ISO 4217, e.g. `EUR`).
    pub currency: String,
}

impl Default for OutcomeRules {
    fn default() -> OutcomeRules {
        OutcomeRules {
            reasons: DEFAULT_REASONS.iter().map(|r| r.to_string()).collect(),
            currency: "EUR".to_string(),
        }
    }
}

/// Which lead an outcome is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeadRef {
    /// The lead's id (the one in the webhook).
    Id(String),
    /// The lead's e-mail address: the newest lead with it.
    Email(String),
}

/// An outcome as checked, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutcome {
    /// The lead.
    pub lead: LeadRef,
    /// What happened.
    pub status: Status,
    /// One of the configured reasons (`rejected`, `lost`).
    pub reason: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// The amount in cents (`opportunity`, `won`).
    pub amount_cents: Option<i64>,
    /// The amount's currency.
    pub currency: Option<String>,
    /// When it happened (defaults to when the relay received it).
    pub at: Timestamp,
    /// Who recorded it (a rep's name or address, a CRM's name).
    pub by: Option<String>,
    /// Where it came from.
    pub source: OutcomeSource,
    /// The sender's idempotency key: the same key twice is one outcome.
    pub idempotency_key: Option<String>,
}

/// A bad outcome: which field, and why (a 400 names both).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OutcomeError {
    /// The field, as the sender wrote it (`status`, `outcomes[2].amount`).
    pub field: String,
    /// What is wrong, in words.
    pub message: String,
}

fn bad(field: &str, message: impl Into<String>) -> OutcomeError {
    OutcomeError { field: field.to_string(), message: message.into() }
}

/// The longest free text kept (`note`, `by`).
pub const MAX_TEXT: usize = 1000;

/// Reads one outcome object. `lead` is the lead of the URL (`/v1/leads/{id}/outcome`), or
/// `None` when the object names it (`lead_id` or `email`, the batch form). `now` is the
/// default `at`; an `at` more than five minutes ahead of it is refused.
pub fn read_outcome(
    value: &Value,
    lead: Option<&str>,
    rules: &OutcomeRules,
    source: OutcomeSource,
    now: Timestamp,
) -> Result<NewOutcome, OutcomeError> {
    let Some(object) = value.as_object() else {
        return Err(bad("outcome", "must be a JSON object"));
    };
    const KEYS: [&str; 9] =
        ["lead_id", "email", "status", "reason", "note", "amount", "currency", "at", "by"];
    for key in object.keys() {
        if !KEYS.contains(&key.as_str()) || (lead.is_some() && key == "email") {
            return Err(bad(key, format!("is not an outcome field (known: {})", KEYS.join(", "))));
        }
    }
    let text = |key: &str| -> Result<Option<String>, OutcomeError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) if s.chars().count() > MAX_TEXT => {
                Err(bad(key, format!("is longer than {MAX_TEXT} characters")))
            }
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(bad(key, "must be a string")),
        }
    };
    let lead = match (lead, text("lead_id")?, text("email")?) {
        (Some(id), None, _) => LeadRef::Id(id.to_string()),
        (Some(id), Some(other), _) if other.eq_ignore_ascii_case(id) => LeadRef::Id(id.to_string()),
        (Some(_), Some(_), _) => return Err(bad("lead_id", "does not match the lead in the URL")),
        (None, Some(id), None) => LeadRef::Id(id.to_ascii_lowercase()),
        (None, None, Some(email)) => LeadRef::Email(email.to_lowercase()),
        (None, Some(_), Some(_)) => return Err(bad("email", "give lead_id or email, not both")),
        (None, None, None) => return Err(bad("lead_id", "is missing (or give email)")),
    };
    let status_text = text("status")?.ok_or_else(|| bad("status", "is missing"))?;
    let status = Status::parse(&status_text).ok_or_else(|| {
        let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        bad("status", format!("{status_text:?} is not one of {}", known.join(", ")))
    })?;
    let reason = text("reason")?;
    match (status.reason_rule(), &reason) {
        (ReasonRule::Required, None) => {
            return Err(bad(
                "reason",
                format!(
                    "is required for {} (one of {})",
                    status.as_str(),
                    rules.reasons.join(", ")
                ),
            ))
        }
        (ReasonRule::None, Some(_)) => {
            return Err(bad(
                "reason",
                format!("is only for rejected and lost (use note for {})", status.as_str()),
            ))
        }
        (_, Some(r)) if !rules.reasons.iter().any(|known| known == r) => {
            return Err(bad(
                "reason",
                format!(
                    "{r:?} is not one of {} (free text goes in note)",
                    rules.reasons.join(", ")
                ),
            ))
        }
        _ => {}
    }
    let amount_cents = match object.get("amount") {
        None | Some(Value::Null) => None,
        Some(_) if !status.takes_amount() => {
            return Err(bad("amount", "is only for opportunity and won"))
        }
        Some(v) => Some(amount_cents(v).map_err(|m| bad("amount", m))?),
    };
    let currency = match text("currency")? {
        Some(_) if amount_cents.is_none() => {
            return Err(bad("currency", "comes only with an amount"))
        }
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Some(c.to_ascii_uppercase())
        }
        Some(c) => return Err(bad("currency", format!("{c:?} is not a three-letter code (EUR)"))),
        None => amount_cents.map(|_| rules.currency.clone()),
    };
    let at = match text("at")? {
        None => now,
        Some(t) => Timestamp::parse_rfc3339(&t)
            .ok_or_else(|| bad("at", format!("{t:?} is not an RFC 3339 time")))?,
    };
    if at.0 > now.0.saturating_add(5 * 60 * 1000) {
        return Err(bad("at", "is in the future"));
    }
    Ok(NewOutcome {
        lead,
        status,
        reason,
        note: text("note")?,
        amount_cents,
        currency,
        at,
        by: text("by")?,
        source,
        idempotency_key: None,
    })
}

/// An amount (a JSON number, or a decimal string like `"1200.50"`) in cents.
fn amount_cents(value: &Value) -> Result<i64, String> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or("must be a number")?;
    if !number.is_finite() || number < 0.0 {
        return Err("must be zero or more".into());
    }
    if number > MAX_AMOUNT {
        return Err(format!("is above the most an amount may be ({MAX_AMOUNT:e})"));
    }
    // Below 10^12 a cent is exact in an f64: rounding only removes representation noise.
    Ok((number * 100.0).round() as i64)
}

/// One outcome as stored (the history `GET /v1/leads/{id}/outcomes` shows).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeRecord {
    /// What happened.
    pub status: Status,
    /// The reason, if any.
    pub reason: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// The amount in the currency's units.
    pub amount: Option<f64>,
    /// The currency.
    pub currency: Option<String>,
    /// When it happened, RFC 3339.
    pub at: String,
    /// When the relay recorded it, RFC 3339.
    pub recorded_at: String,
    /// Who recorded it.
    pub by: Option<String>,
    /// `api`, `dashboard` or `import`.
    pub source: String,
}

/// The funnel steps a lead reached, as bits of [`SalesState::flags`].
pub mod flag {
    /// Sales acted on it (any outcome).
    pub const TOUCHED: u8 = 1;
    /// Accepted (or further: meeting, opportunity, won, lost), and not rejected since.
    pub const ACCEPTED: u8 = 2;
    /// Its current status is `rejected`.
    pub const REJECTED: u8 = 4;
    /// It became an opportunity (or was won), and was not rejected since.
    pub const OPPORTUNITY: u8 = 8;
    /// Its current status is `won`.
    pub const WON: u8 = 16;
    /// Its current status is `lost`.
    pub const LOST: u8 = 32;
}

/// What sales' outcomes say of one lead now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalesState {
    /// The latest outcome's status.
    pub status: Option<Status>,
    /// The reason of the current status (`rejected`, `lost`).
    pub reason: Option<String>,
    /// The funnel steps reached ([`flag`]).
    pub flags: u8,
    /// The latest opportunity or won amount, in cents (0 if none).
    pub pipeline_cents: i64,
    /// The won amount in cents, when the current status is `won`.
    pub won_cents: i64,
    /// When sales first touched it (Unix ms): its first `accepted`, `contacted` or `rejected`.
    pub first_touch_ms: Option<i64>,
}

/// One outcome of a lead's history, as [`SalesState::from_history`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// What happened.
    pub status: Status,
    /// Its reason.
    pub reason: Option<String>,
    /// Its amount in cents.
    pub amount_cents: Option<i64>,
    /// When it happened, Unix ms.
    pub at_ms: i64,
}

impl SalesState {
    /// The state a history leads to. `history` is in the order the outcomes happened (by `at`,
    /// then by the order they were recorded).
    pub fn from_history(history: &[HistoryEntry]) -> SalesState {
        let Some(last) = history.last() else {
            return SalesState::default();
        };
        let ever = |s: &[Status]| history.iter().any(|h| s.contains(&h.status));
        let rejected = last.status == Status::Rejected;
        let mut flags = flag::TOUCHED;
        let worked =
            [Status::Accepted, Status::Meeting, Status::Opportunity, Status::Won, Status::Lost];
        if !rejected && ever(&worked) {
            flags |= flag::ACCEPTED;
        }
        if rejected {
            flags |= flag::REJECTED;
        }
        if !rejected && ever(&[Status::Opportunity, Status::Won]) {
            flags |= flag::OPPORTUNITY;
        }
        if last.status == Status::Won {
            flags |= flag::WON;
        }
        if last.status == Status::Lost {
            flags |= flag::LOST;
        }
        let latest_amount = |s: &[Status]| {
            history.iter().rev().filter(|h| s.contains(&h.status)).find_map(|h| h.amount_cents)
        };
        let pipeline_cents = if flags & flag::OPPORTUNITY != 0 {
            latest_amount(&[Status::Opportunity, Status::Won]).unwrap_or(0)
        } else {
            0
        };
        let won_cents = if last.status == Status::Won {
            last.amount_cents.unwrap_or(pipeline_cents)
        } else {
            0
        };
        SalesState {
            status: Some(last.status),
            reason: last.reason.clone(),
            flags,
            pipeline_cents,
            won_cents,
            first_touch_ms: history.iter().filter(|h| h.status.is_touch()).map(|h| h.at_ms).min(),
        }
    }
}

/// The counts one aggregate row keeps (each a sum over the leads and events of its key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Widget views.
    pub views: i64,
    /// Forms started.
    pub starts: i64,
    /// Submit attempts the widget reported (qualified or not; no answers in them).
    pub submits: i64,
    /// Leads stored (spam excluded).
    pub leads: i64,
    /// Qualified leads (MQL).
    pub mqls: i64,
    /// Leads at least one webhook accepted.
    pub forwarded: i64,
    /// Leads stored as spam.
    pub spam: i64,
    /// Leads the relay scored differently from the browser.
    pub mismatches: i64,
    /// Leads sales touched.
    pub touched: i64,
    /// Leads sales accepted (and did not reject since).
    pub accepted: i64,
    /// Leads rejected.
    pub rejected: i64,
    /// Leads that became an opportunity.
    pub opportunity: i64,
    /// Leads won.
    pub won: i64,
    /// Leads lost.
    pub lost: i64,
    /// Opportunity amounts, in cents.
    pub pipeline_cents: i64,
    /// Won amounts, in cents.
    pub won_cents: i64,
    /// Points given (in a rule's row: the points that rule gave).
    pub points: i64,
}

/// The column names of [`Counters`], in [`Counters::values`]'s order (the SQL is written
/// from this list, so a counter is added in one place).
pub const COUNTER_COLUMNS: [&str; 17] = [
    "views",
    "starts",
    "submits",
    "leads",
    "mqls",
    "forwarded",
    "spam",
    "mismatches",
    "touched",
    "accepted",
    "rejected",
    "opportunity",
    "won",
    "lost",
    "pipeline_cents",
    "won_cents",
    "points",
];

impl Counters {
    /// The values in [`COUNTER_COLUMNS`]' order.
    pub fn values(&self) -> [i64; 17] {
        [
            self.views,
            self.starts,
            self.submits,
            self.leads,
            self.mqls,
            self.forwarded,
            self.spam,
            self.mismatches,
            self.touched,
            self.accepted,
            self.rejected,
            self.opportunity,
            self.won,
            self.lost,
            self.pipeline_cents,
            self.won_cents,
            self.points,
        ]
    }

    /// Counters from values in [`COUNTER_COLUMNS`]' order.
    pub fn from_values(v: [i64; 17]) -> Counters {
        let [views, starts, submits, leads, mqls, forwarded, spam, mismatches, touched, accepted, rejected, opportunity, won, lost, pipeline_cents, won_cents, points] =
            v;
        Counters {
            views,
            starts,
            submits,
            leads,
            mqls,
            forwarded,
            spam,
            mismatches,
            touched,
            accepted,
            rejected,
            opportunity,
            won,
            lost,
            pipeline_cents,
            won_cents,
            points,
        }
    }

    /// `self + sign * other`, counter by counter.
    pub fn add(&mut self, other: &Counters, sign: i64) {
        let mut v = self.values();
        for (a, b) in v.iter_mut().zip(other.values()) {
            *a = a.saturating_add(sign.saturating_mul(b));
        }
        *self = Counters::from_values(v);
    }

    /// Whether every counter is zero.
    pub fn is_zero(&self) -> bool {
        self.values().iter().all(|v| *v == 0)
    }
}

/// What an aggregate row is about. `dim` says what `k1`/`k2` are:
///
/// | dim | k1 | k2 |
/// | --- | --- | --- |
/// | `src` | `utm_source` of the submit (last touch) | `utm_campaign` |
/// | `first` | `utm_source` of the first touch | its `utm_campaign` |
/// | `score` | grade | total score |
/// | `rule` | rule id | '' |
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AggKey {
    /// The form.
    pub form_id: String,
    /// The scoring model that scored the leads ('' for widget events).
    pub model: String,
    /// The day the lead arrived (or the event), `YYYY-MM-DD`, relay clock.
    pub day: String,
    /// The dimension (see the table).
    pub dim: &'static str,
    /// The first key.
    pub k1: String,
    /// The second key.
    pub k2: String,
}

/// The dimensions of [`AggKey`].
pub mod dim {
    /// By UTM source and campaign of the submit (last touch).
    pub const SOURCE: &str = "src";
    /// By UTM source and campaign of the first touch.
    pub const FIRST_TOUCH: &str = "first";
    /// By grade and total score.
    pub const SCORE: &str = "score";
    /// By rule.
    pub const RULE: &str = "rule";
    /// By grade only (speed to lead).
    pub const GRADE: &str = "grade";
}

/// Speed-to-lead buckets: upper bounds in seconds (the last is open).
pub const SPEED_BUCKETS: [i64; 16] = [
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    14_400,
    28_800,
    86_400,
    172_800,
    345_600,
    604_800,
    1_209_600,
    i64::MAX,
];

/// The bucket of a speed to lead of `ms` milliseconds.
pub fn speed_bucket(ms: i64) -> usize {
    let secs = ms.max(0) / 1000;
    SPEED_BUCKETS.iter().position(|upper| secs < *upper).unwrap_or(SPEED_BUCKETS.len() - 1)
}

/// What the store knows of a lead that decides what it counts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadFacts {
    /// The form.
    pub form_id: String,
    /// The model that scored it (the relay's score, else the browser's).
    pub model: String,
    /// The day it arrived, `YYYY-MM-DD`.
    pub day: String,
    /// When it arrived, Unix ms.
    pub received_ms: i64,
    /// `utm_source` / `utm_campaign` of the submit.
    pub source: (String, String),
    /// Of the first touch.
    pub first_touch: (String, String),
    /// The score that counts.
    pub total: i64,
    /// Its grade.
    pub grade: String,
    /// Whether it qualified.
    pub qualified: bool,
    /// Whether it was stored as spam.
    pub spam: bool,
    /// Whether the relay scored it differently from the browser.
    pub mismatch: bool,
    /// The rules that held and their points.
    pub hits: Vec<(String, i64)>,
    /// Whether a webhook accepted it.
    pub forwarded: bool,
    /// What sales said.
    pub sales: SalesState,
}

/// What one lead adds to the aggregates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contributions {
    /// Counter rows.
    pub counts: Vec<(AggKey, Counters)>,
    /// Rejection and loss reasons: (key, status, reason) counted once.
    pub reasons: Vec<(AggKey, &'static str, String)>,
    /// Speed to lead: (key, bucket) counted once.
    pub speed: Vec<(AggKey, usize)>,
}

impl LeadFacts {
    /// The facts of a lead about to be stored.
    pub fn of_new_lead(
        payload: &LeadPayload,
        relay_score: Option<&Score>,
        mismatch: bool,
        spam: bool,
        received: Timestamp,
    ) -> LeadFacts {
        let score = relay_score.unwrap_or(&payload.score);
        let utm =
            |map: &leadgate_core::Map<String>, key: &str| map.get(key).cloned().unwrap_or_default();
        let first =
            payload.context.first_touch.as_ref().map_or((String::new(), String::new()), |t| {
                (utm(&t.utm, "utm_source"), utm(&t.utm, "utm_campaign"))
            });
        let rfc = received.to_rfc3339();
        LeadFacts {
            form_id: payload.form_id.clone(),
            model: score.model.clone(),
            day: rfc.get(..10).unwrap_or_default().to_string(),
            received_ms: i64::try_from(received.0).unwrap_or(i64::MAX),
            source: (
                utm(&payload.context.utm, "utm_source"),
                utm(&payload.context.utm, "utm_campaign"),
            ),
            first_touch: first,
            total: score.total,
            grade: score.grade.clone(),
            qualified: score.qualified,
            spam,
            mismatch,
            hits: score.hits.iter().map(|h| (h.rule.to_string(), h.points)).collect(),
            forwarded: false,
            sales: SalesState::default(),
        }
    }

    fn key(&self, dim: &'static str, k1: &str, k2: &str) -> AggKey {
        AggKey {
            form_id: self.form_id.clone(),
            model: self.model.clone(),
            day: self.day.clone(),
            dim,
            k1: k1.to_string(),
            k2: k2.to_string(),
        }
    }

    /// What this lead adds to the aggregates (see the module doc).
    pub fn contributions(&self) -> Contributions {
        let mut out = Contributions::default();
        let source = self.key(dim::SOURCE, &self.source.0, &self.source.1);
        if self.spam {
            out.counts.push((source, Counters { spam: 1, ..Counters::default() }));
            return out;
        }
        let s = &self.sales;
        let bit = |f: u8| i64::from(s.flags & f != 0);
        let base = Counters {
            leads: 1,
            mqls: i64::from(self.qualified),
            forwarded: i64::from(self.forwarded),
            mismatches: i64::from(self.mismatch),
            touched: bit(flag::TOUCHED),
            accepted: bit(flag::ACCEPTED),
            rejected: bit(flag::REJECTED),
            opportunity: bit(flag::OPPORTUNITY),
            won: bit(flag::WON),
            lost: bit(flag::LOST),
            pipeline_cents: s.pipeline_cents,
            won_cents: s.won_cents,
            ..Counters::default()
        };
        let mut keys = vec![
            source.clone(),
            self.key(dim::FIRST_TOUCH, &self.first_touch.0, &self.first_touch.1),
            self.key(dim::SCORE, &self.grade, &self.total.to_string()),
        ];
        out.counts.extend(keys.iter().map(|k| (k.clone(), base)));
        // A rule that held twice (a cap after its rule) counts its lead once, all its points.
        let mut rules: BTreeMap<&str, i64> = BTreeMap::new();
        for (rule, points) in &self.hits {
            *rules.entry(rule).or_default() += points;
        }
        for (rule, points) in rules {
            let key = self.key(dim::RULE, rule, "");
            out.counts.push((key.clone(), Counters { points, ..base }));
            keys.push(key);
        }
        if let (Some(status), Some(reason)) = (s.status, &s.reason) {
            if matches!(status, Status::Rejected | Status::Lost) {
                out.reasons
                    .extend(keys.iter().map(|k| (k.clone(), status.as_str(), reason.clone())));
            }
        }
        if let Some(touch) = s.first_touch_ms {
            let bucket = speed_bucket(touch.saturating_sub(self.received_ms));
            out.speed.push((source, bucket));
            out.speed.push((self.key(dim::GRADE, &self.grade, ""), bucket));
        }
        out
    }
}

/// A change to the aggregates: signed amounts per row. Each list is sorted by its key and has
/// no zero rows, as [`delta`] makes it; [`Delta::merge`] relies on that.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    /// Counter rows and what to add to them.
    pub counts: Vec<(AggKey, Counters)>,
    /// Reason rows `(key, status, reason)` and what to add to their count.
    pub reasons: Vec<((AggKey, &'static str, String), i64)>,
    /// Speed rows `(key, bucket)` and what to add to their count.
    pub speed: Vec<((AggKey, usize), i64)>,
}

/// What changes in the aggregates when a lead's contributions go from `old` to `new` (either
/// may be none: a new lead, a recount). Rows whose change is zero are left out.
pub fn delta(old: Option<&Contributions>, new: Option<&Contributions>) -> Delta {
    let mut counts: BTreeMap<AggKey, Counters> = BTreeMap::new();
    let mut reasons: BTreeMap<(AggKey, &'static str, String), i64> = BTreeMap::new();
    let mut speed: BTreeMap<(AggKey, usize), i64> = BTreeMap::new();
    for (side, sign) in [(old, -1), (new, 1)] {
        let Some(c) = side else { continue };
        for (key, counters) in &c.counts {
            counts.entry(key.clone()).or_default().add(counters, sign);
        }
        for r in &c.reasons {
            *reasons.entry(r.clone()).or_default() += sign;
        }
        for s in &c.speed {
            *speed.entry(s.clone()).or_default() += sign;
        }
    }
    Delta {
        counts: counts.into_iter().filter(|(_, c)| !c.is_zero()).collect(),
        reasons: reasons.into_iter().filter(|(_, n)| *n != 0).collect(),
        speed: speed.into_iter().filter(|(_, n)| *n != 0).collect(),
    }
}

impl Delta {
    /// Adds `other` to this change (a batch of leads folded into one write per row). Both
    /// sides are sorted by key (as [`delta`] makes them), so this is one linear merge: the
    /// relay's writer runs it once per lead, and rebuilding B-trees here showed in its profile.
    pub fn merge(&mut self, other: Delta) {
        merge_sorted(&mut self.counts, other.counts, |a, b| a.add(&b, 1), Counters::is_zero);
        merge_sorted(&mut self.reasons, other.reasons, |a, b| *a += b, |n| *n == 0);
        merge_sorted(&mut self.speed, other.speed, |a, b| *a += b, |n| *n == 0);
    }
}

/// Merges `other` into `into`, both sorted by key: equal keys are added, rows that add up to
/// zero are left out, the result stays sorted.
fn merge_sorted<K: Ord, V>(
    into: &mut Vec<(K, V)>,
    other: Vec<(K, V)>,
    add: impl Fn(&mut V, V),
    is_zero: impl Fn(&V) -> bool,
) {
    debug_assert!(into.is_sorted_by(|a, b| a.0 < b.0) && other.is_sorted_by(|a, b| a.0 < b.0));
    if other.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(into.len() + other.len());
    let mut a = std::mem::take(into).into_iter().peekable();
    let mut b = other.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => match x.0.cmp(&y.0) {
                std::cmp::Ordering::Less => a.next(),
                std::cmp::Ordering::Greater => b.next(),
                std::cmp::Ordering::Equal => {
                    let (k, mut v) = a.next().expect("peeked");
                    add(&mut v, b.next().expect("peeked").1);
                    Some((k, v))
                }
            },
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        if let Some(row) = next.filter(|(_, v)| !is_zero(v)) {
            out.push(row);
        }
    }
    *into = out;
}
