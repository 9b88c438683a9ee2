//! What the visitor typed: field values, and their validation.

use serde::{Deserialize, Serialize};

use crate::config::{Field, FieldKind};
use crate::email::is_valid_email;
use crate::json::{Json, Node, Read};
use crate::map::Map;

/// One answer: text for inputs, a tick for checkboxes and consent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A ticked (`true`) or unticked box.
    Checked(bool),
    /// Text as typed (trimmed).
    Text(String),
}

/// Answers as `Serialize` wrote them (a draft, an event's detail kept in the outbox), by
/// field name; a value that is neither text nor a tick is dropped.
pub fn read_answers(node: &Node) -> Read<Map<FieldValue>> {
    let mut answers = Map::new();
    for (name, value) in node.any_object()?.entries() {
        let value = match value.json() {
            Json::Bool(b) => FieldValue::Checked(*b),
            Json::String(t) => FieldValue::Text(t.clone()),
            _ => continue,
        };
        answers.insert(name.to_string(), value);
    }
    Ok(answers)
}

impl FieldValue {
    /// The value as text (`"true"`/`"false"` for ticks).
    pub fn as_text(&self) -> &str {
        match self {
            FieldValue::Checked(true) => "true",
            FieldValue::Checked(false) => "false",
            FieldValue::Text(t) => t,
        }
    }

    /// Whether the visitor gave an answer (non-blank text, a ticked box).
    pub fn is_present(&self) -> bool {
        match self {
            FieldValue::Checked(c) => *c,
            FieldValue::Text(t) => !t.trim().is_empty(),
        }
    }
}

/// A lead before scoring: the visitor's answers by field name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// Answers by field name.
    pub fields: Map<FieldValue>,
}

impl Lead {
    /// The answer to `field`, if any.
    pub fn value(&self, field: &str) -> Option<&FieldValue> {
        self.fields.get(field)
    }
}

/// Why one answer is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldError {
    /// The field is required and empty (or the box is not ticked).
    Required,
    /// Not a valid e-mail address.
    InvalidEmail,
    /// Shorter than the field's `min_length`.
    TooShort(usize),
    /// Longer than the field's limit.
    TooLong(usize),
    /// Not one of the select's options.
    NotAnOption,
}

/// Checks one answer against its field; `required` is whether it must be given now (the
/// field's `required`, or its `required_if` holds: see [`crate::logic::Visibility`]).
pub fn check_answer(
    field: &Field,
    value: Option<&FieldValue>,
    required: bool,
) -> Result<(), FieldError> {
    let present = value.is_some_and(FieldValue::is_present);
    if !present {
        return if required && field.kind != FieldKind::Hidden {
            Err(FieldError::Required)
        } else {
            Ok(())
        };
    }
    let text = value.map(FieldValue::as_text).unwrap_or_default().trim();
    if field.kind.is_tick() {
        return Ok(());
    }
    let len = text.chars().count();
    if len > field.max_len() {
        return Err(FieldError::TooLong(field.max_len()));
    }
    if let Some(min) = field.min_length {
        if len < min {
            return Err(FieldError::TooShort(min));
        }
    }
    match field.kind {
        FieldKind::Email if !is_valid_email(text) => Err(FieldError::InvalidEmail),
        FieldKind::Select if !field.options.iter().any(|o| o.value == text) => {
            Err(FieldError::NotAnOption)
        }
        FieldKind::Text
        | FieldKind::Email
        | FieldKind::Tel
        | FieldKind::Select
        | FieldKind::Checkbox
        | FieldKind::Textarea
        | FieldKind::Hidden
        | FieldKind::Consent => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FormConfig;

    fn config() -> FormConfig {
        FormConfig::from_json(
            r#"{"form_id": "f", "fields": [
                {"name": "email", "type": "email", "label": "E", "required": true},
                {"name": "name", "type": "text", "label": "N", "min_length": 2, "max_length": 5},
                {"name": "size", "type": "select", "label": "S", "options": [{"value": "big"}]},
                {"name": "ok", "type": "consent", "label": "I agree", "version": "1", "required": true},
                {"name": "src", "type": "hidden", "value": "x", "required": true}
            ]}"#,
        )
        .unwrap()
    }

    fn lead(pairs: &[(&str, FieldValue)]) -> Lead {
        Lead { fields: pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect() }
    }

    #[test]
    fn validation_table() {
        use FieldValue::{Checked, Text};
        let good_email = ("email", Text("ada@example.com".into()));
        let ok = ("ok", Checked(true));
        let cases: Vec<(Lead, Vec<(&str, FieldError)>)> = vec![
            (lead(&[good_email.clone(), ok.clone()]), vec![]),
            (lead(&[]), vec![("email", FieldError::Required), ("ok", FieldError::Required)]),
            (
                lead(&[("email", Text("   ".into())), ("ok", Checked(false))]),
                vec![("email", FieldError::Required), ("ok", FieldError::Required)],
            ),
            (
                lead(&[("email", Text("ada@".into())), ok.clone()]),
                vec![("email", FieldError::InvalidEmail)],
            ),
            (
                lead(&[good_email.clone(), ok.clone(), ("name", Text("A".into()))]),
                vec![("name", FieldError::TooShort(2))],
            ),
            (
                lead(&[good_email.clone(), ok.clone(), ("name", Text("Adaline".into()))]),
                vec![("name", FieldError::TooLong(5))],
            ),
            (
                lead(&[good_email.clone(), ok.clone(), ("size", Text("huge".into()))]),
                vec![("size", FieldError::NotAnOption)],
            ),
            (lead(&[good_email, ok, ("size", Text("big".into()))]), vec![]),
        ];
        let config = config();
        for (lead, want) in cases {
            let seen = crate::logic::Visibility::of(
                &config,
                &lead,
                &crate::context::VisitorContext::default(),
                crate::time::Timestamp(0),
            );
            let got = seen.errors(&config, &lead, None);
            let got: Vec<(&str, FieldError)> = got.iter().map(|(n, e)| (n.as_str(), *e)).collect();
            assert_eq!(got, want, "{lead:?}");
        }
    }
}
