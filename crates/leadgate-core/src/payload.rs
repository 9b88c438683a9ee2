//! The JSON a sales endpoint receives (payload v1), and its checks.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{FieldKind, FormConfig};
pub use crate::context::{PageView, Touch, VisitorContext};
use crate::lead::{FieldValue, Lead};
use crate::map::Map;

/// Any JSON value, as the relay reads the payload's `meta`. An alias, so that the wasm lint
/// against `serde_json::Value` (clippy.toml) is allowed in this one place; the widget never
/// builds one (see [`Meta`]).
#[allow(clippy::disallowed_types, reason = "v1 payload: meta is any JSON object")]
pub type JsonValue = serde_json::Value;
use crate::scoring::{score, Score};
use crate::time::Timestamp;

/// The payload's free-form `meta`: what the widget writes, or whatever JSON a payload brought.
/// Not a `serde_json::Value` in the widget: building one costs the wasm its B-tree map code,
/// for two keys (the relay, which reads any JSON here, gets [`Meta::Json`]).
#[derive(Debug, Clone)]
pub enum Meta {
    /// The widget's: `{"fill_ms": 5400, "honeypot": ""}`.
    Widget {
        /// Milliseconds from the form's render to the submit.
        fill_ms: u64,
        /// The hidden honeypot field's value (empty for people).
        honeypot: String,
    },
    /// Any JSON value, as a payload carried it.
    Json(JsonValue),
}

impl Meta {
    /// The value (the relay's spam checks read it).
    #[allow(clippy::disallowed_macros, reason = "the relay's side; the widget never calls it")]
    pub fn value(&self) -> JsonValue {
        match self {
            Meta::Widget { fill_ms, honeypot } => {
                serde_json::json!({"fill_ms": fill_ms, "honeypot": honeypot})
            }
            Meta::Json(value) => value.clone(),
        }
    }
}

impl From<JsonValue> for Meta {
    fn from(value: JsonValue) -> Meta {
        Meta::Json(value)
    }
}

/// Equal when their values are.
impl PartialEq for Meta {
    fn eq(&self, other: &Meta) -> bool {
        self.value() == other.value()
    }
}

impl Serialize for Meta {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The keys in the order a `serde_json::Value` writes them: the same bytes as before.
        #[derive(Serialize)]
        struct Widget<'a> {
            fill_ms: u64,
            honeypot: &'a str,
        }
        match self {
            Meta::Widget { fill_ms, honeypot } => {
                Widget { fill_ms: *fill_ms, honeypot }.serialize(serializer)
            }
            Meta::Json(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Meta {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Meta, D::Error> {
        JsonValue::deserialize(deserializer).map(Meta::Json)
    }
}

/// The payload format's version, sent as `schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

/// The largest score (total, or one hit's points) a payload may carry, either sign: 10^12.
/// A config's rule is worth ±10^9 points at most, so no real score comes near it, and sums of
/// a million leads' scores still fit an `i64`.
pub const MAX_SCORE: i64 = 1_000_000_000_000;

/// The longest URL a visitor context keeps (page, referrer, landing page, page views,
/// touches), in characters; longer ones are cut by [`LeadPayload::sanitize`].
pub const MAX_URL: usize = 4096;

/// The longest other context text (UTM parameters, click ids, their names, times), in
/// characters.
pub const MAX_CONTEXT_TEXT: usize = 500;

/// A scored lead as POSTed to the endpoint (with the header `Idempotency-Key: <id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadPayload {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The lead's UUID (v4); also the idempotency key: the same lead always has the same id.
    pub id: String,
    /// The config's `form_id`.
    pub form_id: String,
    /// When the visitor submitted, RFC 3339 UTC.
    pub submitted_at: String,
    /// The answers by field name (consent boxes included).
    pub fields: Map<FieldValue>,
    /// The score computed at submit time, with every hit.
    pub score: Score,
    /// Where the visitor came from and what they did.
    pub context: VisitorContext,
    /// What the visitor agreed to, if the form has a consent field.
    #[serde(default)]
    pub consent: Option<ConsentRecord>,
    /// How the form was filled, for the receiver's spam checks: `{"honeypot": "", "fill_ms":
    /// 5400}` (the hidden honeypot field's value, empty for people; milliseconds from render
    /// to submit). Kept as free JSON: whatever a bot puts there must still reach the
    /// receiver's checks rather than fail the payload. Absent in older payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// The answers that were prefilled (from the page URL, the mount element, the JS API or
    /// the visitor's arrival) and sent as prefilled, by field name. Absent when none were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefilled: Vec<String>,
    /// The answers not asked because the widget remembered them from an earlier visit
    /// (`remember`, progressive profiling), by field name. Absent when none were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remembered: Vec<String>,
}

/// The consent given with a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The consent field's name.
    pub field: String,
    /// Whether the box was ticked.
    pub agreed: bool,
    /// The exact text shown.
    pub text: String,
    /// The version of that text, from the config.
    pub version: String,
    /// When, RFC 3339 UTC.
    pub at: String,
}

impl LeadPayload {
    /// Scores `lead` in `context` with `config` at `now` and builds the payload. `id` comes
    /// from [`lead_id`].
    pub fn build(
        config: &FormConfig,
        id: String,
        lead: Lead,
        context: VisitorContext,
        now: Timestamp,
    ) -> LeadPayload {
        let score = score(&lead, &context, &config.scoring, now);
        let at = now.to_rfc3339();
        let consent =
            config.fields.iter().find(|f| f.kind == FieldKind::Consent).map(|f| ConsentRecord {
                field: f.name.clone(),
                agreed: lead.value(&f.name).is_some_and(FieldValue::is_present),
                text: f.label.clone(),
                version: f.version.clone().unwrap_or_default(),
                at: at.clone(),
            });
        LeadPayload {
            schema_version: SCHEMA_VERSION,
            id,
            form_id: config.form_id.clone(),
            submitted_at: at,
            fields: lead.fields,
            score,
            context,
            consent,
            meta: None,
            prefilled: Vec::new(),
            remembered: Vec::new(),
        }
    }

    /// Parses a payload as an endpoint receives it, and checks it. The `id` is made
    /// canonical (lower-case), so an upper-case copy of a lead is the same lead.
    pub fn from_json(text: &str) -> Result<LeadPayload, PayloadError> {
        let mut payload: LeadPayload =
            serde_json::from_str(text).map_err(|e| PayloadError::Json(e.to_string()))?;
        payload.id.make_ascii_lowercase();
        payload.check()?;
        Ok(payload)
    }

    /// When the visitor submitted, as a [`Timestamp`] (`None` if `submitted_at` is not
    /// RFC 3339). Re-score at this time to get the browser's decay.
    pub fn submitted_time(&self) -> Option<Timestamp> {
        Timestamp::parse_rfc3339(&self.submitted_at)
    }

    /// Checks what serde can't: the version, the id's form (a lower-case UUID, not the nil
    /// one), the score's range and sum (added with checked arithmetic: points beyond
    /// ±[`MAX_SCORE`] are refused, never wrapped).
    pub fn check(&self) -> Result<(), PayloadError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(PayloadError::Version(self.schema_version));
        }
        if !is_uuid(&self.id) || self.id.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(PayloadError::Id(self.id.clone()));
        }
        if self.id.bytes().all(|b| b == b'0' || b == b'-') {
            return Err(PayloadError::NilId);
        }
        if self.form_id.is_empty() {
            return Err(PayloadError::FormId);
        }
        let in_range = |points: i64| (-MAX_SCORE..=MAX_SCORE).contains(&points);
        if !in_range(self.score.total) {
            return Err(PayloadError::ScoreRange { at: "score.total".into() });
        }
        let mut sum: i64 = 0;
        let at = |i: usize| String::from("score.hits[") + &i.to_string() + "].points";
        for (i, hit) in self.score.hits.iter().enumerate() {
            if !in_range(hit.points) {
                return Err(PayloadError::ScoreRange { at: at(i) });
            }
            // Cannot overflow with both sides within ±MAX_SCORE × hits; checked all the same.
            sum = sum
                .checked_add(hit.points)
                .ok_or_else(|| PayloadError::ScoreRange { at: at(i) })?;
        }
        if sum != self.score.total {
            return Err(PayloadError::ScoreSum { total: self.score.total, sum });
        }
        let listed = self.prefilled.iter().chain(&self.remembered);
        if let Some(name) = listed.into_iter().find(|n| !self.fields.contains_key(n.as_str())) {
            return Err(PayloadError::Prefilled(name.clone()));
        }
        Ok(())
    }

    /// Makes the payload's free text safe to store and show: every NUL character (U+0000) is
    /// removed from the answers and the visitor context, and each context string is cut to
    /// its limit ([`MAX_URL`] for URLs, [`MAX_CONTEXT_TEXT`] for the rest; at a character
    /// boundary). The lead is kept whatever a page's URL looked like: a context string is
    /// evidence, not an answer, so cutting it loses nothing the visitor typed. Returns how
    /// many strings were changed.
    pub fn sanitize(&mut self) -> usize {
        let mut changed = 0;
        let mut fix = |text: &mut String, limit: usize| {
            let before = text.len();
            if text.contains('\0') {
                text.retain(|c| c != '\0');
            }
            if let Some((cut, _)) = text.char_indices().nth(limit) {
                text.truncate(cut);
            }
            changed += usize::from(text.len() != before);
        };
        let mut answers = Map::new();
        for (mut name, mut value) in std::mem::take(&mut self.fields) {
            fix(&mut name, usize::MAX);
            if let FieldValue::Text(text) = &mut value {
                fix(text, usize::MAX);
            }
            answers.insert(name, value);
        }
        self.fields = answers;
        let c = &mut self.context;
        fix(&mut c.page_url, MAX_URL);
        for url in [&mut c.referrer, &mut c.landing_page].into_iter().flatten() {
            fix(url, MAX_URL);
        }
        for page in &mut c.pages {
            fix(&mut page.url, MAX_URL);
        }
        let touches = [&mut c.first_touch, &mut c.last_touch].into_iter().flatten();
        let mut maps = vec![&mut c.utm, &mut c.click_ids];
        for touch in touches {
            fix(&mut touch.at, MAX_CONTEXT_TEXT);
            fix(&mut touch.page_url, MAX_URL);
            if let Some(referrer) = &mut touch.referrer {
                fix(referrer, MAX_URL);
            }
            maps.push(&mut touch.utm);
            maps.push(&mut touch.click_ids);
        }
        for map in maps {
            let entries = std::mem::take(map);
            for (mut key, mut value) in entries {
                fix(&mut key, MAX_CONTEXT_TEXT);
                fix(&mut value, MAX_CONTEXT_TEXT);
                map.insert(key, value);
            }
        }
        if let Some(consent) = &mut self.consent {
            for text in
                [&mut consent.field, &mut consent.text, &mut consent.version, &mut consent.at]
            {
                fix(text, usize::MAX);
            }
        }
        changed
    }
}

/// Why a received payload was refused.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not JSON, or a field missing or of the wrong type.
    Json(String),
    /// An unknown `schema_version`.
    Version(u32),
    /// The `id` is not a lower-case UUID.
    Id(String),
    /// The `id` is the nil UUID (all zeros).
    NilId,
    /// The `form_id` is empty.
    FormId,
    /// A score's number is beyond ±[`MAX_SCORE`].
    ScoreRange {
        /// Where: `score.total` or `score.hits[3].points`.
        at: String,
    },
    /// The hits don't add up to the total.
    ScoreSum {
        /// The payload's total.
        total: i64,
        /// The sum of its hits.
        sum: i64,
    },
    /// `prefilled` or `remembered` names an answer the payload does not have.
    Prefilled(String),
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::Json(e) => write!(f, "the body is not a lead payload: {e}"),
            PayloadError::Version(v) => {
                write!(f, "schema_version {v} is not supported (expected {SCHEMA_VERSION})")
            }
            PayloadError::Id(id) => write!(f, "id {id:?} is not a UUID"),
            PayloadError::NilId => {
                f.write_str("id is the nil UUID; each lead needs its own random id")
            }
            PayloadError::FormId => f.write_str("form_id is empty"),
            PayloadError::ScoreRange { at } => {
                write!(f, "{at} is out of range (scores are between -{MAX_SCORE} and {MAX_SCORE})")
            }
            PayloadError::Prefilled(name) => {
                write!(f, "prefilled or remembered names {name:?}, which is not in fields")
            }
            PayloadError::ScoreSum { total, sum } => {
                write!(f, "score.total is {total} but the hits add up to {sum}")
            }
        }
    }
}

impl std::error::Error for PayloadError {}

/// A version-4 UUID from 16 random bytes (the caller brings the randomness).
pub fn lead_id(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// Whether `id` has the form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits).
pub fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_ids_are_v4_uuids() {
        let id = lead_id([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(is_uuid(&id));
        assert_eq!(lead_id([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert!(!is_uuid("not-a-uuid"));
        assert!(!is_uuid("ffffffff-ffff-4fff-bfff-fffffffffffg"));
    }

    #[test]
    fn build_and_check_round_trip() {
        let config = FormConfig::from_json(
            r#"{"form_id": "demo", "fields": [
                {"name": "email", "type": "email", "label": "E"},
                {"name": "ok", "type": "consent", "label": "You may call me", "version": "v3"}
            ], "scoring": {"threshold": 10, "rules": [
                {"id": "has-email", "points": 10, "when": {"op": "present", "field": "email"}}
            ]}}"#,
        )
        .unwrap();
        let mut lead = Lead::default();
        lead.fields.insert("email".into(), FieldValue::Text("ada@example.com".into()));
        lead.fields.insert("ok".into(), FieldValue::Checked(true));
        let payload = LeadPayload::build(
            &config,
            lead_id([7; 16]),
            lead,
            VisitorContext { page_url: "https://example.com/".into(), ..Default::default() },
            Timestamp(1_000),
        );
        assert_eq!(payload.submitted_at, "1970-01-01T00:00:01.000Z");
        assert!(payload.score.qualified);
        let consent = payload.consent.clone().unwrap();
        assert_eq!((consent.agreed, consent.version.as_str()), (true, "v3"));
        let json = serde_json::to_string(&payload).unwrap();
        assert!(json.contains(r#""fields":{"email":"ada@example.com","ok":true}"#), "{json}");
        assert_eq!(LeadPayload::from_json(&json).unwrap(), payload);

        let mut bad = payload.clone();
        bad.score.total = 99;
        assert_eq!(bad.check(), Err(PayloadError::ScoreSum { total: 99, sum: 10 }));
        bad = payload.clone();
        bad.schema_version = 2;
        assert_eq!(bad.check(), Err(PayloadError::Version(2)));
        assert!(matches!(LeadPayload::from_json("{}"), Err(PayloadError::Json(_))));
    }

    #[test]
    #[allow(clippy::disallowed_macros, reason = "native test")]
    fn the_widgets_meta_is_written_as_a_json_value_would_be() {
        let widget = Meta::Widget { fill_ms: 5400, honeypot: "a \"bot\"\n".into() };
        let value = serde_json::json!({"honeypot": "a \"bot\"\n", "fill_ms": 5400});
        assert_eq!(serde_json::to_string(&widget).unwrap(), serde_json::to_string(&value).unwrap());
        assert_eq!(widget.value(), value);
        assert_eq!(Meta::from(value), widget);
        // Read back, any JSON is kept (as a value).
        let mut payload = sample();
        payload.meta = Some(widget);
        let text = serde_json::to_string(&payload).unwrap();
        assert_eq!(LeadPayload::from_json(&text).unwrap(), payload);
        let list = text.replace(r#"{"fill_ms":5400,"honeypot":"a \"bot\"\n"}"#, "[1]");
        let read = LeadPayload::from_json(&list).unwrap();
        assert_eq!(read.meta.map(|m| m.value()), Some(serde_json::json!([1])));
    }

    fn sample() -> LeadPayload {
        let config = FormConfig::from_json(
            r#"{"form_id": "demo", "fields": [{"name": "email", "type": "email", "label": "E"}]}"#,
        )
        .unwrap();
        let mut lead = Lead::default();
        lead.fields.insert("email".into(), FieldValue::Text("ada@example.com".into()));
        LeadPayload::build(
            &config,
            lead_id([0xab; 16]),
            lead,
            VisitorContext::default(),
            Timestamp(0),
        )
    }

    fn hit(points: i64) -> crate::RuleHit {
        crate::RuleHit { rule: "r".into(), group: "fit".into(), points, ..Default::default() }
    }

    #[test]
    fn ids_are_canonical_and_scores_checked_without_wrapping() {
        let good = sample();
        let json = serde_json::to_string(&good).unwrap();
        let upper = json.replace(&good.id, &good.id.to_uppercase());
        assert_eq!(LeadPayload::from_json(&upper).unwrap().id, good.id, "upper case = same lead");
        let nil = json.replace(&good.id, "00000000-0000-0000-0000-000000000000");
        assert_eq!(LeadPayload::from_json(&nil), Err(PayloadError::NilId));
        let mut bad = good.clone();
        bad.id = good.id.to_uppercase();
        assert_eq!(bad.check(), Err(PayloadError::Id(bad.id.clone())));

        // (hits, total, expected)
        let range = |at: &str| Err(PayloadError::ScoreRange { at: at.into() });
        let cases: [(Vec<i64>, i64, Result<(), PayloadError>); 5] = [
            (vec![i64::MAX, 2], i64::MIN + 1, range("score.total")),
            (vec![i64::MAX, 2], 10, range("score.hits[0].points")),
            (
                vec![MAX_SCORE, 1],
                MAX_SCORE,
                Err(PayloadError::ScoreSum { total: MAX_SCORE, sum: MAX_SCORE + 1 }),
            ),
            (vec![MAX_SCORE, -MAX_SCORE], 0, Ok(())),
            (vec![-MAX_SCORE - 1], -MAX_SCORE - 1, range("score.total")),
        ];
        for (points, total, want) in cases {
            let mut p = good.clone();
            p.score.hits = points.iter().copied().map(hit).collect();
            p.score.total = total;
            assert_eq!(p.check(), want, "{points:?} {total}");
        }
        let message = PayloadError::ScoreRange { at: "score.total".into() }.to_string();
        assert!(message.contains("score.total is out of range"), "{message}");
    }

    #[test]
    fn sanitize_removes_nul_and_cuts_context_strings_at_their_limits() {
        let mut p = sample();
        p.fields.insert("company".into(), FieldValue::Text("Ac\0me".into()));
        p.context.page_url = format!("https://example.com/?q={}", "é".repeat(5000));
        p.context.referrer = Some("https://ref.example/\0".into());
        p.context.utm.insert("utm_source".into(), "x".repeat(600));
        p.context.last_touch = Some(Touch { page_url: "u".repeat(5000), ..Default::default() });
        p.context.push_page("/pricing\0".into(), Timestamp(1));
        assert_eq!(p.sanitize(), 6);
        assert_eq!(p.fields["company"], FieldValue::Text("Acme".into()));
        assert_eq!(p.context.page_url.chars().count(), MAX_URL);
        assert!(p.context.page_url.ends_with('é'));
        assert_eq!(p.context.referrer.as_deref(), Some("https://ref.example/"));
        assert_eq!(p.context.utm["utm_source"].len(), MAX_CONTEXT_TEXT);
        assert_eq!(p.context.last_touch.as_ref().unwrap().page_url.len(), MAX_URL);
        assert_eq!(p.context.pages[0].url, "/pricing");
        assert_eq!(p.sanitize(), 0, "a clean payload is left alone");
    }
}
