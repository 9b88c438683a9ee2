//! What the widget's outbox keeps in `localStorage` (JSON under `leadgate:outbox`): a list of
//! leads waiting for their endpoint, each with what the `leadgate:*` events say about it. The
//! widget sends and retries them (its `outbox` module); reading them back lives here so the
//! fuzz target reads any stored text with the very same code.

use serde::Serialize;

use crate::delivery::{DeliveryConfig, DAY_MS};
use crate::json::{Json, Node, Read};
use crate::payload::LeadPayload;

/// A lead waiting for its endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The lead's id: the idempotency key of every attempt.
    pub id: String,
    /// The payload's JSON, exactly as it is sent every attempt. Kept as text: the widget
    /// never needs to read a payload back, and not decoding one keeps it smaller.
    pub body: String,
    /// What the `leadgate:*` events about this lead say (no field values).
    pub detail: EventDetail,
    /// Where it goes.
    pub endpoint: String,
    /// When it was submitted (ms since the epoch).
    pub created_at: u64,
    /// When it is given up if still undelivered.
    pub expires_at: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before this time (ms) is it tried again.
    pub next_at: u64,
    /// Set when the endpoint refused it: a dead letter kept until then.
    pub dead_until: Option<u64>,
    /// The last problem, for the console and events.
    pub last_error: Option<String>,
    /// How long to keep it as a dead letter, in days.
    pub dead_letter_days: u32,
}

impl Entry {
    /// Reads an entry as `Serialize` wrote it.
    pub fn read(node: &Node) -> Read<Entry> {
        let obj = node.any_object()?;
        let number = |key| obj.opt(key, Node::unsigned).map(Option::unwrap_or_default);
        Ok(Entry {
            id: obj.need("id")?.string()?,
            body: obj.need("body")?.string()?,
            detail: obj.opt("detail", EventDetail::read)?.unwrap_or_default(),
            endpoint: obj.need("endpoint")?.string()?,
            created_at: number("created_at")?,
            expires_at: number("expires_at")?,
            attempts: obj.opt("attempts", Node::count)?.unwrap_or_default(),
            next_at: number("next_at")?,
            dead_until: obj.opt("dead_until", Node::unsigned)?,
            last_error: obj.opt_string("last_error")?,
            dead_letter_days: obj.opt("dead_letter_days", Node::count)?.unwrap_or_default(),
        })
    }

    /// A fresh entry for `payload` submitted at `now`, kept as `config` says; `None` if it
    /// can't be encoded.
    pub fn new(
        payload: &LeadPayload,
        endpoint: String,
        config: &DeliveryConfig,
        now: u64,
    ) -> Option<Self> {
        Some(Entry {
            id: payload.id.clone(),
            body: serde_json::to_string(payload).ok()?,
            detail: EventDetail::for_lead(payload, config.events_include_fields),
            endpoint,
            created_at: now,
            expires_at: now.saturating_add(u64::from(config.keep_days) * DAY_MS),
            attempts: 0,
            next_at: now,
            dead_until: None,
            last_error: None,
            dead_letter_days: config.dead_letter_days,
        })
    }
}

/// The stored outbox: a list of entries; anything else is an empty outbox, and an entry that
/// can't be read is skipped, not the whole outbox.
pub fn read_entries(node: &Node) -> Read<Vec<Entry>> {
    let Json::Array(_) = node.json() else { return Ok(Vec::new()) };
    Ok(node.list(|item| Ok(Entry::read(&item).ok()))?.into_iter().flatten().collect())
}

/// The `detail` of every `leadgate:*` event. No raw field values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventDetail {
    /// The config's `form_id`.
    pub form_id: String,
    /// The lead's id, once there is a lead.
    pub lead_id: Option<String>,
    /// The score total.
    pub score: Option<i64>,
    /// The grade.
    pub grade: Option<String>,
    /// The funnel stage (`lead`, `mql`).
    pub stage: Option<String>,
    /// Whether the lead qualified.
    pub qualified: Option<bool>,
    /// For `leadgate:error`: what went wrong.
    pub error: Option<String>,
    /// The answers, only when the config's `delivery.events_include_fields` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<crate::Map<crate::lead::FieldValue>>,
}

impl EventDetail {
    /// Reads a detail as `Serialize` wrote it (kept with each lead in the outbox).
    pub fn read(node: &Node) -> Read<EventDetail> {
        let obj = node.any_object()?;
        Ok(EventDetail {
            form_id: obj.opt_string("form_id")?.unwrap_or_default(),
            lead_id: obj.opt_string("lead_id")?,
            score: obj.opt("score", Node::int)?,
            grade: obj.opt_string("grade")?,
            stage: obj.opt_string("stage")?,
            qualified: obj.opt("qualified", Node::boolean)?,
            error: obj.opt_string("error")?,
            fields: obj.opt("fields", crate::lead::read_answers)?,
        })
    }

    /// The detail for events about a scored lead; with `include_fields`, its answers too.
    pub fn for_lead(payload: &LeadPayload, include_fields: bool) -> Self {
        EventDetail {
            form_id: payload.form_id.clone(),
            lead_id: Some(payload.id.clone()),
            score: Some(payload.score.total),
            grade: Some(payload.score.grade.clone()),
            stage: Some(payload.score.stage.as_str().into()),
            qualified: Some(payload.score.qualified),
            error: None,
            fields: include_fields.then(|| payload.fields.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn entries(text: &str) -> Read<Vec<Entry>> {
        read_entries(&Node::root(&parse(text)?))
    }

    #[test]
    fn a_stored_outbox_reads_back_entry_by_entry() {
        let entry = Entry {
            id: "l1".into(),
            body: "{}".into(),
            detail: EventDetail { form_id: "f".into(), score: Some(-3), ..Default::default() },
            endpoint: "/v1/leads".into(),
            created_at: 1,
            expires_at: 2,
            attempts: 3,
            next_at: 4,
            dead_until: Some(5),
            last_error: Some("offline".into()),
            dead_letter_days: 30,
        };
        let text = serde_json::to_string(&[&entry, &entry]).unwrap();
        assert_eq!(entries(&text).unwrap(), vec![entry.clone(), entry]);
        // A broken entry is skipped; anything but a list is an empty outbox.
        let mixed = r#"[{"id": "x"}, {"id": "a", "body": "", "endpoint": "/e"}]"#;
        assert_eq!(entries(mixed).unwrap().len(), 1);
        assert_eq!(entries(r#"{"id": "a"}"#).unwrap(), vec![]);
    }
}
