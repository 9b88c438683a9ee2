//! The marketer's JSON config: parsed and validated once, with errors that name the place.

use std::fmt;

use serde::Serialize;

use leadgate_derive::FromJson;

use crate::json::{FromJson, JsonError, JsonErrorKind, Node};
use crate::scoring::ScoringConfig;

/// A form as the marketer configured it. Build one with [`FormConfig::from_json`], which
/// validates everything; a `FormConfig` that exists is a valid one.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FormConfig {
    /// Identifies the form in payloads and events, e.g. `"contact"`. Letters, digits, `-`, `_`.
    pub form_id: String,
    /// Where qualified leads are POSTed. May be left out when the mount element has a
    /// `data-endpoint` attribute. Relative URLs resolve against the landing page.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The form's heading. Defaults to none.
    #[serde(default)]
    pub title: Option<String>,
    /// The form's fields, in display order.
    pub fields: Vec<Field>,
    /// Progressive profiling: ask at most `ask_at_most` of the `queue`'s questions per visit,
    /// the first ones not answered on an earlier visit (their answers are remembered).
    /// Defaults to none: every field is asked.
    #[serde(default)]
    pub progressive: Option<Progressive>,
    /// What the visitor sees after a submit, by who they are: the first ending whose `when`
    /// holds (on the answers sent and their score) applies. Defaults to none: the `success`
    /// text for everyone.
    #[serde(default)]
    pub endings: Vec<Ending>,
    /// The origins an ending may redirect to besides the page's own, e.g.
    /// `["https://meet.example.com"]`. Defaults to none.
    #[serde(default)]
    pub redirect_origins: Vec<String>,
    /// Pages of the form, each with its fields, asked one after the other (Back and Next).
    /// Defaults to none: one page with every field. With steps, every visible field is on
    /// exactly one step; `hidden` fields may be on none.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// How leads are scored and qualified. Defaults to no rules and a threshold of 0 (every
    /// lead qualifies).
    #[serde(default)]
    pub scoring: ScoringConfig,
    /// Every text the visitor sees that is not a field's own. Defaults to the built-in texts
    /// of `locale`.
    #[serde(default = "Texts::unset")]
    pub texts: Texts,
    /// The form's language (a BCP 47 tag: `en`, `de`, `fr-CA`, `ar`); sets `lang` and the
    /// built-in texts (English, German, French; English for others). Defaults to the host
    /// page's `lang`, else English.
    #[serde(default)]
    pub locale: Option<String>,
    /// Text direction, `ltr` or `rtl`. Defaults to `rtl` for Arabic, Hebrew, Persian and Urdu
    /// locales, else the host page's, else `ltr`.
    #[serde(default)]
    pub dir: Option<crate::locale::Direction>,
    /// Where leads that do not qualify go, and how long undelivered leads are kept.
    #[serde(default)]
    pub delivery: crate::delivery::DeliveryConfig,
    /// What the widget may remember about the visitor between pages (consent, GPC).
    #[serde(default)]
    pub tracking: crate::tracking::TrackingConfig,
    /// The JSON Schema the config follows, for editor autocompletion (ignored by leadgate),
    /// e.g. `"https://cdn.example.com/leadgate/leadgate-config.schema.json"`.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// One input of the form.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The key of the value in the payload's `fields`. Letters, digits, `-`, `_`.
    pub name: String,
    /// What kind of input this is.
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// The visible label (for `consent`: the consent text itself). Required except for
    /// `hidden` fields.
    #[serde(default)]
    pub label: String,
    /// Placeholder text inside the input. Defaults to none.
    #[serde(default)]
    pub placeholder: Option<String>,
    /// Help text shown under the input and tied to it for screen readers. Defaults to none.
    #[serde(default)]
    pub help: Option<String>,
    /// Whether the visitor must fill it in (a checkbox or consent must be ticked).
    /// Defaults to false.
    #[serde(default)]
    pub required: bool,
    /// Shortest accepted answer, in characters. Defaults to none.
    #[serde(default)]
    pub min_length: Option<usize>,
    /// Longest accepted answer, in characters. Defaults to 1000 for textareas, 200 otherwise.
    #[serde(default)]
    pub max_length: Option<usize>,
    /// The choices of a `select` (required there, not allowed elsewhere).
    #[serde(default)]
    pub options: Vec<SelectOption>,
    /// The fixed value of a `hidden` field (e.g. a campaign name). Defaults to empty.
    #[serde(default)]
    pub value: Option<String>,
    /// The version of a `consent` text (required there), recorded with the lead so sales
    /// knows exactly what the visitor agreed to.
    #[serde(default)]
    pub version: Option<String>,
    /// Asks the field only when this condition holds (the scoring conditions, plus
    /// `score_at_least` and `grade_at_least` on the answers before it). It may read only
    /// fields asked before this one. An answer to a field not shown is neither checked,
    /// scored nor sent. Defaults to always.
    #[serde(default)]
    pub show_if: Option<crate::scoring::Condition>,
    /// Makes the field required when this condition holds (instead of `required`).
    /// Defaults to never.
    #[serde(default)]
    pub required_if: Option<crate::scoring::Condition>,
    /// Fills the answer in before the visitor types, from the page URL's query or the
    /// visitor's arrival. (The page may always prefill any field through the mount element's
    /// `data-prefill-<name>` or `leadgate.mount(el, config, { values })`.) Defaults to none.
    #[serde(default)]
    pub prefill: Option<Prefill>,
    /// Remembers the answer in the visitor's browser after a submit (by the visitor-context
    /// rules: consent, GPC) and does not ask it again; the remembered answer is still sent
    /// (listed in the payload's `remembered`) and scored. Not for consent. Defaults to false.
    #[serde(default)]
    pub remember: bool,
}

/// Where a field's answer may come from before the visitor types. A prefilled answer is
/// checked like a typed one; the payload lists the answers sent as prefilled in `prefilled`.
/// Consent is never prefilled.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Prefill {
    /// A query parameter of the page URL, e.g. `"email"` takes `?email=ada@example.com`.
    #[serde(default)]
    pub query: Option<String>,
    /// A value of the visitor's arrival on this page (for hidden fields): `utm_source`,
    /// `utm_medium`, `utm_campaign`, `utm_term`, `utm_content`, a click id (`gclid`, `fbclid`,
    /// ...) or `referrer`.
    #[serde(default)]
    pub context: Option<String>,
}

/// Progressive profiling: a few new questions per visit instead of all of them.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Progressive {
    /// How many of the queue's questions one visit asks (at least 1).
    pub ask_at_most: u32,
    /// Field names, in the order to ask them. Their answers are remembered like `remember`
    /// fields; a queued field cannot be required (it is asked only sometimes).
    pub queue: Vec<String>,
}

/// An ending: a thank-you text, a link (a meeting booking page, resources) or a redirect, for
/// the leads its `when` picks.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Ending {
    /// Which leads get this ending: the scoring conditions, with `score_at_least` and
    /// `grade_at_least` on the final score. Defaults to every lead (put that ending last).
    #[serde(default)]
    pub when: Option<crate::scoring::Condition>,
    /// The text shown instead of `texts.success`. Defaults to that text.
    #[serde(default)]
    pub text: Option<String>,
    /// A link shown under the text, e.g. to book a meeting.
    #[serde(default)]
    pub link: Option<EndingLink>,
    /// Where the visitor is sent once the lead is delivered: a path on this site
    /// (`"/thanks"`) or an https URL on one of `redirect_origins`. Defaults to staying.
    #[serde(default)]
    pub redirect: Option<String>,
}

/// A link at the end of the form.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EndingLink {
    /// A path on this site or an https URL.
    pub url: String,
    /// The link's text, e.g. "Book a meeting".
    pub text: String,
}

/// One page of a multi-step form.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The step's heading, e.g. "About your company". Defaults to none.
    #[serde(default)]
    pub title: Option<String>,
    /// The names of the fields on this step, in display order (at least one).
    pub fields: Vec<String>,
    /// Shows the step only when this condition holds; a step not shown is skipped by Next
    /// and Back. It may read only fields of earlier steps. Not on the first step.
    /// Defaults to always.
    #[serde(default)]
    pub show_if: Option<crate::scoring::Condition>,
}

impl Field {
    /// The longest answer accepted for this field.
    pub fn max_len(&self) -> usize {
        self.max_length.unwrap_or(if self.kind == FieldKind::Textarea { 1000 } else { 200 })
    }
}

/// The kinds of input a form can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A single line of text.
    Text,
    /// An e-mail address, checked for syntax.
    Email,
    /// A phone number.
    Tel,
    /// A choice among `options`.
    Select,
    /// A yes/no box.
    Checkbox,
    /// Several lines of text.
    Textarea,
    /// A fixed value the visitor does not see.
    Hidden,
    /// A consent checkbox whose label is the consent text, versioned.
    Consent,
}

impl FieldKind {
    /// Whether the value is a tick (true/false) rather than text.
    pub fn is_tick(self) -> bool {
        matches!(self, FieldKind::Checkbox | FieldKind::Consent)
    }
}

/// One choice of a `select` field.
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SelectOption {
    /// What goes into the payload.
    pub value: String,
    /// What the visitor sees. Defaults to the value.
    #[serde(default)]
    pub label: Option<String>,
}

/// The visitor-facing texts that are not a field's own. Every one left out comes from the
/// built-in texts of the config's `locale` (English, German, French; English otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Texts {
    /// The submit button. Defaults to "Send".
    #[serde(default)]
    pub submit: String,
    /// The button while sending. Defaults to "Sending…".
    #[serde(default)]
    pub sending: String,
    /// Shown once the lead is safe. Defaults to "Thank you! We'll be in touch soon."
    #[serde(default)]
    pub success: String,
    /// Shown when sending failed. Defaults to "We couldn't send your details. They are kept
    /// here; please try again."
    #[serde(default)]
    pub failed: String,
    /// The retry button. Defaults to "Try again".
    #[serde(default)]
    pub retry: String,
    /// A required field left empty. Defaults to "This field is required."
    #[serde(default)]
    pub required: String,
    /// A malformed e-mail address. Defaults to "Please enter a valid e-mail address."
    #[serde(default)]
    pub invalid_email: String,
    /// An answer shorter than `min_length`; `{n}` is replaced by the limit.
    /// Defaults to "Please enter at least {n} characters."
    #[serde(default)]
    pub too_short: String,
    /// An answer longer than the limit; `{n}` is replaced by it.
    /// Defaults to "Please enter at most {n} characters."
    #[serde(default)]
    pub too_long: String,
    /// The select's empty choice. Defaults to "Choose…".
    #[serde(default)]
    pub choose: String,
    /// Shown when the lead is saved in the browser but not sent yet (offline, server down).
    /// Defaults to "Saved. We'll send your details as soon as the connection is back."
    #[serde(default)]
    pub queued: String,
    /// Announced when a submit finds invalid answers. Defaults to "Please check the highlighted
    /// fields."
    #[serde(default)]
    pub check_fields: String,
    /// Offered under an e-mail field with a likely typo; `{email}` is the corrected address.
    /// Defaults to "Did you mean {email}?"
    #[serde(default)]
    pub did_you_mean: String,
    /// The button to the next step of a multi-step form. Defaults to "Next".
    #[serde(default)]
    pub next: String,
    /// The button back to the previous step. Defaults to "Back".
    #[serde(default)]
    pub back: String,
    /// The progress of a multi-step form; `{n}` is the step, `{total}` the number of steps
    /// the visitor is shown. Defaults to "Step {n} of {total}".
    #[serde(default)]
    pub step_of: String,
    /// Shown to a returning visitor whose answers are remembered; `{fields}` lists the
    /// labels. Defaults to "We remember your {fields}."
    #[serde(default)]
    pub remembered: String,
    /// The button that forgets the remembered answers. Defaults to "Not you?".
    #[serde(default)]
    pub not_you: String,
}

impl Default for Texts {
    /// The built-in English texts.
    fn default() -> Self {
        Texts::for_locale("en")
    }
}

/// A config that can't be used, and where in it the problem is.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// Where in the config, e.g. `scoring.rules[3].when.op`; empty for the whole document.
    pub path: String,
    /// What is wrong there.
    pub kind: ConfigErrorKind,
}

/// What is wrong with a config. `Display` writes the message a marketer reads.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The text is not JSON, or a value has the wrong shape: another type, an unknown or
    /// missing key (with the key meant), a name that is not allowed.
    Json(JsonErrorKind),
    /// A number outside what the key takes.
    OutOfRange {
        /// What the key takes, e.g. "a number from -1000000000 to 1000000000".
        expected: &'static str,
        /// The value given.
        found: String,
    },
    /// A name (form id, field name, rule id, group) that is not 1 to 64 letters, digits, `-`
    /// or `_`.
    BadName(String),
    /// A condition reads a field the form does not have.
    UnknownField(String),
    /// A rule, label or grade bar names a group that is not defined.
    UnknownGroup {
        /// The name as written.
        name: String,
        /// The groups there are.
        known: Vec<String>,
    },
    /// A stage bar names a grade that is not defined.
    UnknownGrade {
        /// The name as written.
        name: String,
        /// The grades there are.
        known: Vec<String>,
    },
    /// The value is well-formed but not usable (a sentence saying what was expected).
    Invalid(String),
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::Json(kind) => fmt::Display::fmt(kind, f),
            ConfigErrorKind::OutOfRange { expected, found } => {
                f.write_str("expected ")?;
                f.write_str(expected)?;
                f.write_str(", found ")?;
                f.write_str(found)
            }
            ConfigErrorKind::BadName(name) => {
                f.write_str("expected a name of 1 to 64 letters, digits, '-' or '_', found \"")?;
                f.write_str(name)?;
                f.write_str("\"")
            }
            ConfigErrorKind::UnknownField(name) => {
                f.write_str("there is no field called \"")?;
                f.write_str(name)?;
                f.write_str("\" in `fields`")
            }
            ConfigErrorKind::UnknownGroup { name, known } => {
                f.write_str("there is no group \"")?;
                f.write_str(name)?;
                f.write_str("\"; the groups are ")?;
                f.write_str(&known.join(", "))?;
                f.write_str(" (add a group under `scoring.groups`)")
            }
            ConfigErrorKind::UnknownGrade { name, known } => {
                f.write_str("there is no grade \"")?;
                f.write_str(name)?;
                f.write_str("\"; the grades are ")?;
                f.write_str(&known.join(", "))
            }
            ConfigErrorKind::Invalid(message) => f.write_str(message),
        }
    }
}

impl ConfigError {
    #[cold]
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::at(path, ConfigErrorKind::Invalid(message.into()))
    }

    #[cold]
    pub(crate) fn at(path: impl Into<String>, kind: ConfigErrorKind) -> Self {
        ConfigError { path: path.into(), kind }
    }

    /// What is wrong, without the place.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

impl From<JsonError> for ConfigError {
    fn from(e: JsonError) -> ConfigError {
        ConfigError { path: e.path, kind: ConfigErrorKind::Json(e.kind) }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("leadgate config error")?;
        if !self.path.is_empty() {
            f.write_str(" at `")?;
            f.write_str(&self.path)?;
            f.write_str("`")?;
        }
        f.write_str(": ")?;
        fmt::Display::fmt(&self.kind, f)
    }
}

impl std::error::Error for ConfigError {}

impl FormConfig {
    /// Parses and validates a config. The error names the place (`fields[2].type`) and what
    /// was expected there.
    pub fn from_json(text: &str) -> Result<FormConfig, ConfigError> {
        FormConfig::from_json_in(text, None)
    }

    /// Like [`FormConfig::from_json`]; a config without a `locale` gets `page_locale` (the
    /// host page's `lang`) for its built-in texts.
    pub fn from_json_in(text: &str, page_locale: Option<&str>) -> Result<FormConfig, ConfigError> {
        let json = crate::json::parse(text)?;
        let mut config = FormConfig::read(&Node::root(&json))?;
        config.validate()?;
        config.scoring.prepare();
        if config.locale.is_none() {
            config.locale = page_locale.filter(|l| !l.trim().is_empty()).map(str::to_string);
        }
        config.texts.fill_builtin(config.locale.as_deref().unwrap_or("en"));
        Ok(config)
    }

    /// Where leads go: the mount element's `data-endpoint` when it is set and not blank, else
    /// the config's `endpoint`; neither is an error at `endpoint`.
    pub fn resolve_endpoint(&self, data_endpoint: Option<String>) -> Result<String, ConfigError> {
        data_endpoint.filter(|e| !e.trim().is_empty()).or_else(|| self.endpoint.clone()).ok_or_else(
            || {
                ConfigError::invalid(
                    "endpoint",
                    "no endpoint; set \"endpoint\" in the config or data-endpoint on the element",
                )
            },
        )
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_name("form_id", &self.form_id)?;
        if self.fields.is_empty() {
            return Err(ConfigError::invalid("fields", "a form needs at least one field"));
        }
        for (i, field) in self.fields.iter().enumerate() {
            let at = |what: &str| {
                let mut p = crate::json::indexed("fields", i, ".");
                p.push_str(what);
                p
            };
            check_name(&at("name"), &field.name)?;
            if self.fields[..i].iter().any(|f| f.name == field.name) {
                return Err(ConfigError::invalid(
                    at("name"),
                    "another field already has the name \"".to_string() + &field.name + "\"",
                ));
            }
            if field.kind != FieldKind::Hidden && field.label.trim().is_empty() {
                return Err(ConfigError::invalid(at("label"), "a visible field needs a label"));
            }
            match (field.kind, field.options.is_empty()) {
                (FieldKind::Select, true) => {
                    return Err(ConfigError::invalid(
                        at("options"),
                        "a select needs a list of options, e.g. [{\"value\": \"1-10\"}]",
                    ))
                }
                (FieldKind::Select, false) => {}
                (_, false) => {
                    return Err(ConfigError::invalid(at("options"), "only a select has options"))
                }
                (_, true) => {}
            }
            if field.kind == FieldKind::Consent
                && field.version.as_deref().is_none_or(|v| v.trim().is_empty())
            {
                return Err(ConfigError::invalid(
                    at("version"),
                    "a consent field needs the version of its text, e.g. \"2026-11\"",
                ));
            }
            if let (Some(min), max) = (field.min_length, field.max_len()) {
                if min > max {
                    return Err(ConfigError::invalid(
                        at("min_length"),
                        "min_length is larger than max_length",
                    ));
                }
            }
        }
        self.scoring.validate(self)?;
        crate::logic::validate(self)
    }
}

/// Whether `name` is a name leadgate takes: 1 to 64 letters, digits, `-` or `_`. Names (form
/// id, field names, rule ids, groups, the relay's webhooks) appear in payloads, CSS parts,
/// element ids and log lines.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// [`is_name`], or the error at `path`.
pub(crate) fn check_name(path: &str, name: &str) -> Result<(), ConfigError> {
    if is_name(name) {
        Ok(())
    } else {
        Err(ConfigError { path: path.into(), kind: ConfigErrorKind::BadName(name.into()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{
        "form_id": "contact",
        "endpoint": "https://example.com/v1/leads",
        "fields": [
            {"name": "email", "type": "email", "label": "Work e-mail", "required": true},
            {"name": "size", "type": "select", "label": "Company size",
             "options": [{"value": "1-10"}, {"value": "1000+", "label": "1000 or more"}]},
            {"name": "campaign", "type": "hidden", "value": "black-friday"},
            {"name": "ok", "type": "consent", "label": "I agree", "version": "v1", "required": true}
        ],
        "scoring": {
            "threshold": 30,
            "rules": [
                {"id": "big", "points": 40, "when": {"op": "equals", "field": "size", "value": "1000+"}}
            ]
        }
    }"#;

    #[test]
    fn parses_a_valid_config() {
        let config = FormConfig::from_json(VALID).unwrap();
        assert_eq!(config.form_id, "contact");
        assert_eq!(config.fields.len(), 4);
        assert_eq!(config.fields[1].options[1].label.as_deref(), Some("1000 or more"));
        assert_eq!(config.texts.submit, "Send");
        assert_eq!(config.scoring.threshold, 30);
    }

    #[test]
    fn errors_name_the_place() {
        let cases: &[(&str, &str, &str)] = &[
            ("{", "", "EOF while parsing an object"),
            ("[]", "", "expected an object, found a list"),
            ("42", "", "expected an object, found 42"),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "emial", "label": "A"}]}"#,
                "fields[0].type",
                "unknown variant `emial`, expected one of `text`, `email`",
            ),
            (
                r#"{"form_id": "x", "fileds": []}"#,
                "fileds",
                "unknown field `fileds`, expected one of `form_id`, `endpoint`",
            ),
            (r#"{"form_id": "x"}"#, "", "missing field `fields`"),
            (r#"{"form_id": "x", "fields": []}"#, "fields", "a form needs at least one field"),
            (
                r#"{"form_id": "my form", "fields": [{"name": "a", "type": "text", "label": "A"}]}"#,
                "form_id",
                "expected a name of 1 to 64 letters, digits, '-' or '_', found \"my form\"",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "text", "label": "A"},
                    {"name": "a", "type": "text", "label": "B"}]}"#,
                "fields[1].name",
                "another field already has the name \"a\"",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "text"}]}"#,
                "fields[0].label",
                "a visible field needs a label",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "select", "label": "A"}]}"#,
                "fields[0].options",
                "a select needs a list of options",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "text", "label": "A",
                    "options": [{"value": "b"}]}]}"#,
                "fields[0].options",
                "only a select has options",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "consent", "label": "A"}]}"#,
                "fields[0].version",
                "a consent field needs the version of its text",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "text", "label": "A",
                    "min_length": 10, "max_length": 5}]}"#,
                "fields[0].min_length",
                "min_length is larger than max_length",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "text", "label": "A"}],
                    "scoring": {"rules": [{"id": "r", "points": 1,
                    "when": {"op": "equal", "field": "a", "value": "b"}}]}}"#,
                "scoring.rules[0].when.op",
                "unknown variant `equal`, expected one of `equals`, `one_of`",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "text", "label": "A"}],
                    "scoring": {"rules": [{"id": "r", "points": 1,
                    "when": {"op": "equals", "field": "b", "value": "c"}}]}}"#,
                "scoring.rules[0].when.field",
                "there is no field called \"b\" in `fields`",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "text", "label": "A"}],
                    "scoring": {"rules": [
                    {"id": "r", "points": 1, "when": {"op": "present", "field": "a"}},
                    {"id": "r", "points": 2, "when": {"op": "present", "field": "a"}}]}}"#,
                "scoring.rules[1].id",
                "another rule already has the id \"r\"",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "text", "label": "A"}],
                    "scoring": {"rules": [{"id": "r", "points": 1,
                    "when": {"op": "one_of", "field": "a", "values": []}}]}}"#,
                "scoring.rules[0].when.values",
                "one_of needs at least one value",
            ),
            (
                r#"{"form_id": "x", "fields": [{"name": "a", "type": "text", "label": "A"}],
                    "scoring": {"threshold": "high"}}"#,
                "scoring.threshold",
                "expected a whole number, found \"high\"",
            ),
        ];
        let mut failures = Vec::new();
        for (json, path, message) in cases {
            let err = FormConfig::from_json(json).unwrap_err();
            if err.path != *path || !err.message().contains(message) {
                failures.push(format!(
                    "{json}\n  want {path:?}: {message}\n  got  {:?}: {}",
                    err.path,
                    err.message()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn each_failure_has_its_kind() {
        use ConfigErrorKind as K;
        use JsonErrorKind as J;
        let field = r#""fields": [{"name": "a", "type": "text", "label": "A"}]"#;
        let with = |rest: &str| String::from(r#"{"form_id": "x", "#) + field + ", " + rest + "}";
        let rule = |when: &str, extra: &str| {
            with(
                &(String::from(r#""scoring": {"rules": [{"id": "r", "points": 1, "when": "#)
                    + when
                    + "}]"
                    + extra
                    + "}"),
            )
        };
        // (config, path, kind)
        let cases: Vec<(String, &str, ConfigErrorKind)> = vec![
            (
                r#"{"form_id": "x", "fileds": []}"#.into(),
                "fileds",
                K::Json(J::UnknownKey {
                    key: "fileds".into(),
                    context: String::new(),
                    known: FormConfig::KEYS.to_vec(),
                    suggestion: Some("fields"),
                }),
            ),
            (r#"{"form_id": "x"}"#.into(), "", K::Json(J::MissingKey("fields".into()))),
            (
                with(r#""scoring": {"threshold": "high"}"#),
                "scoring.threshold",
                K::Json(J::WrongType { expected: "a whole number", found: "\"high\"".into() }),
            ),
            (
                with(r#""scoring": {"max_total": 2000000000}"#),
                "scoring.max_total",
                K::OutOfRange {
                    expected: "a number from -1000000000 to 1000000000",
                    found: "2000000000".into(),
                },
            ),
            (
                String::from(r#"{"form_id": "my form", "#) + field + "}",
                "form_id",
                K::BadName("my form".into()),
            ),
            (
                rule(r#"{"op": "present", "field": "b"}"#, ""),
                "scoring.rules[0].when.field",
                K::UnknownField("b".into()),
            ),
            (
                with(r#""scoring": {"grade_group": "nope"}"#),
                "scoring.grade_group",
                K::UnknownGroup {
                    name: "nope".into(),
                    known: vec!["fit".into(), "engagement".into()],
                },
            ),
            (
                with(r#""scoring": {"stages": {"mql": {"min_grade": "Z"}}}"#),
                "scoring.stages.mql.min_grade",
                K::UnknownGrade {
                    name: "Z".into(),
                    known: ["A", "B", "C", "D"].map(String::from).to_vec(),
                },
            ),
        ];
        let mut failures = Vec::new();
        for (json, path, kind) in cases {
            match FormConfig::from_json(&json) {
                Err(e) if e.path == path && e.kind == kind => {}
                other => {
                    failures.push(format!("{json}\n  want {path:?} {kind:?}\n  got {other:?}"))
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        let syntax = FormConfig::from_json("{").unwrap_err().kind;
        assert!(matches!(syntax, K::Json(J::Syntax { line: 1, column: 2, .. })), "{syntax:?}");
    }

    #[test]
    fn display_is_for_a_marketer() {
        let err = FormConfig::from_json(r#"{"form_id": "x", "fields": []}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "leadgate config error at `fields`: a form needs at least one field"
        );
    }
}
