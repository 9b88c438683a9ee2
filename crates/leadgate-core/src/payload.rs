//! The JSON a sales endpoint receives (payload v1), and its checks.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{FieldKind, FormConfig};
pub use crate::context::{PageView, Touch, VisitorContext};
use crate::lead::{FieldValue, Lead};
use crate::scoring::{score, Score};
use crate::time::Timestamp;

/// The payload format's version, sent as `schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

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
    pub fields: BTreeMap<String, FieldValue>,
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
    pub meta: Option<serde_json::Value>,
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
        }
    }

    /// Parses a payload as an endpoint receives it, and checks it.
    pub fn from_json(text: &str) -> Result<LeadPayload, PayloadError> {
        let payload: LeadPayload =
            serde_json::from_str(text).map_err(|e| PayloadError::Json(e.to_string()))?;
        payload.check()?;
        Ok(payload)
    }

    /// When the visitor submitted, as a [`Timestamp`] (`None` if `submitted_at` is not
    /// RFC 3339). Re-score at this time to get the browser's decay.
    pub fn submitted_time(&self) -> Option<Timestamp> {
        Timestamp::parse_rfc3339(&self.submitted_at)
    }

    /// Checks what serde can't: the version, the id's form, the score's sum.
    pub fn check(&self) -> Result<(), PayloadError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(PayloadError::Version(self.schema_version));
        }
        if !is_uuid(&self.id) {
            return Err(PayloadError::Id(self.id.clone()));
        }
        if self.form_id.is_empty() {
            return Err(PayloadError::FormId);
        }
        let sum: i64 = self.score.hits.iter().map(|h| h.points).sum();
        if sum != self.score.total {
            return Err(PayloadError::ScoreSum { total: self.score.total, sum });
        }
        Ok(())
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
    /// The `id` is not a UUID.
    Id(String),
    /// The `form_id` is empty.
    FormId,
    /// The hits don't add up to the total.
    ScoreSum {
        /// The payload's total.
        total: i64,
        /// The sum of its hits.
        sum: i64,
    },
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::Json(e) => write!(f, "the body is not a lead payload: {e}"),
            PayloadError::Version(v) => {
                write!(f, "schema_version {v} is not supported (expected {SCHEMA_VERSION})")
            }
            PayloadError::Id(id) => write!(f, "id {id:?} is not a UUID"),
            PayloadError::FormId => f.write_str("form_id is empty"),
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
}
