//! Reading a [`Condition`] from JSON without serde's buffering of internally tagged enums
//! (`#[serde(tag = "op")]` buffers every condition into a `Content` tree first, which costs
//! ~50 KB of wasm): one flat struct with every key any op takes, then a check per op that
//! names what is wrong. Writing conditions (model id, schema) keeps the derived format.

use serde::Deserialize;

use crate::email::EmailClass;
use crate::scoring::{Condition, TouchScope, UtmParam};

/// Every key a condition may have; which ones an op takes is checked by `TryFrom`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    op: Op,
    field: Option<String>,
    value: Option<serde_json::Value>,
    values: Option<Vec<String>>,
    ignore_case: Option<bool>,
    pattern: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    class: Option<EmailClass>,
    domains: Option<Vec<String>>,
    count: Option<u32>,
    seconds: Option<u64>,
    param: Option<UtmParam>,
    touch: Option<TouchScope>,
    ids: Option<Vec<String>>,
    conditions: Option<Vec<Condition>>,
    condition: Option<Box<Condition>>,
}

/// The ops, read as a plain enum so that a misspelt op is reported right at `op`.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Equals,
    OneOf,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    AtLeast,
    AtMost,
    Between,
    Present,
    Absent,
    EmailClass,
    EmailDomainIn,
    VisitsAtLeast,
    PagesMatchingAtLeast,
    SecondsOnSiteAtLeast,
    Utm,
    ReferrerDomain,
    ClickIdPresent,
    All,
    Any,
    Not,
}

/// The ops and the keys each takes (besides `op`), in [`Op`]'s order.
const OPS: &[(&str, &[&str])] = &[
    ("equals", &["field", "value", "ignore_case"]),
    ("one_of", &["field", "values", "ignore_case"]),
    ("contains", &["field", "value", "ignore_case"]),
    ("starts_with", &["field", "value", "ignore_case"]),
    ("ends_with", &["field", "value", "ignore_case"]),
    ("matches", &["field", "pattern", "ignore_case"]),
    ("at_least", &["field", "value"]),
    ("at_most", &["field", "value"]),
    ("between", &["field", "min", "max"]),
    ("present", &["field"]),
    ("absent", &["field"]),
    ("email_class", &["field", "class"]),
    ("email_domain_in", &["field", "domains"]),
    ("visits_at_least", &["count"]),
    ("pages_matching_at_least", &["pattern", "count", "ignore_case"]),
    ("seconds_on_site_at_least", &["seconds"]),
    ("utm", &["param", "value", "values", "touch"]),
    ("referrer_domain", &["domains", "touch"]),
    ("click_id_present", &["ids", "touch"]),
    ("all", &["conditions"]),
    ("any", &["conditions"]),
    ("not", &["condition"]),
];

fn quoted_list(items: impl Iterator<Item = &'static str>) -> String {
    items.map(|i| String::from("`") + i + "`").collect::<Vec<_>>().join(", ")
}

fn missing(key: &str) -> String {
    String::from("missing field `") + key + "`"
}

impl RawCondition {
    /// The keys given, besides `op`.
    fn given(&self) -> impl Iterator<Item = &'static str> + '_ {
        let keys = [
            ("field", self.field.is_some()),
            ("value", self.value.is_some()),
            ("values", self.values.is_some()),
            ("ignore_case", self.ignore_case.is_some()),
            ("pattern", self.pattern.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("class", self.class.is_some()),
            ("domains", self.domains.is_some()),
            ("count", self.count.is_some()),
            ("seconds", self.seconds.is_some()),
            ("param", self.param.is_some()),
            ("touch", self.touch.is_some()),
            ("ids", self.ids.is_some()),
            ("conditions", self.conditions.is_some()),
            ("condition", self.condition.is_some()),
        ];
        keys.into_iter().filter(|(_, given)| *given).map(|(key, _)| key)
    }
}

fn text(value: Option<serde_json::Value>) -> Result<String, String> {
    match value {
        Some(serde_json::Value::String(text)) => Ok(text),
        Some(other) => Err(String::from("invalid type for `value`: expected a string, found ")
            + &other.to_string()),
        None => Err(missing("value")),
    }
}

fn number(value: Option<serde_json::Value>) -> Result<f64, String> {
    match value {
        Some(serde_json::Value::Number(n)) => n.as_f64().ok_or_else(|| missing("value")),
        Some(other) => Err(String::from("invalid type for `value`: expected a number, found ")
            + &other.to_string()),
        None => Err(missing("value")),
    }
}

fn need<T>(key: &str, value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| missing(key))
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawCondition::deserialize(deserializer)?;
        Condition::try_from(raw).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<RawCondition> for Condition {
    type Error = String;

    fn try_from(raw: RawCondition) -> Result<Condition, String> {
        let (op, takes) = OPS[raw.op as usize];
        if let Some(extra) = raw.given().find(|key| !takes.contains(key)) {
            return Err(String::from("unknown field `")
                + extra
                + "` for op `"
                + op
                + "`, expected one of "
                + &quoted_list(takes.iter().copied()));
        }
        let ignore_case = raw.ignore_case.unwrap_or(true);
        let field = || need("field", raw.field.clone());
        Ok(match op {
            "equals" => Condition::Equals { field: field()?, value: text(raw.value)?, ignore_case },
            "one_of" => Condition::OneOf {
                field: field()?,
                values: need("values", raw.values)?,
                ignore_case,
            },
            "contains" => {
                Condition::Contains { field: field()?, value: text(raw.value)?, ignore_case }
            }
            "starts_with" => {
                Condition::StartsWith { field: field()?, value: text(raw.value)?, ignore_case }
            }
            "ends_with" => {
                Condition::EndsWith { field: field()?, value: text(raw.value)?, ignore_case }
            }
            "matches" => Condition::Matches {
                field: field()?,
                pattern: need("pattern", raw.pattern)?,
                ignore_case,
            },
            "at_least" => Condition::AtLeast { field: field()?, value: number(raw.value)? },
            "at_most" => Condition::AtMost { field: field()?, value: number(raw.value)? },
            "between" => Condition::Between {
                field: field()?,
                min: need("min", raw.min)?,
                max: need("max", raw.max)?,
            },
            "present" => Condition::Present { field: field()? },
            "absent" => Condition::Absent { field: field()? },
            "email_class" => {
                Condition::EmailClass { field: field()?, class: need("class", raw.class)? }
            }
            "email_domain_in" => {
                Condition::EmailDomainIn { field: field()?, domains: need("domains", raw.domains)? }
            }
            "visits_at_least" => Condition::VisitsAtLeast { count: need("count", raw.count)? },
            "pages_matching_at_least" => Condition::PagesMatchingAtLeast {
                pattern: need("pattern", raw.pattern)?,
                count: raw.count.unwrap_or(1),
                ignore_case,
            },
            "seconds_on_site_at_least" => {
                Condition::SecondsOnSiteAtLeast { seconds: need("seconds", raw.seconds)? }
            }
            "utm" => Condition::Utm {
                param: need("param", raw.param)?,
                value: raw.value.map(|v| text(Some(v))).transpose()?,
                values: raw.values.unwrap_or_default(),
                touch: raw.touch.unwrap_or_default(),
            },
            "referrer_domain" => Condition::ReferrerDomain {
                domains: need("domains", raw.domains)?,
                touch: raw.touch.unwrap_or_default(),
            },
            "click_id_present" => Condition::ClickIdPresent {
                ids: raw.ids.unwrap_or_default(),
                touch: raw.touch.unwrap_or_default(),
            },
            "all" => Condition::All { conditions: need("conditions", raw.conditions)? },
            "any" => Condition::Any { conditions: need("conditions", raw.conditions)? },
            _ => Condition::Not { condition: need("condition", raw.condition)? },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ops_table_follows_the_enum() {
        for (name, _) in OPS {
            let op: Op = serde_json::from_str(&(String::from("\"") + name + "\"")).unwrap();
            assert_eq!(OPS[op as usize].0, *name);
        }
    }

    #[test]
    fn errors_say_what_the_op_takes() {
        let cases = [
            (r#"{"op": "equals", "field": "a"}"#, "missing field `value`"),
            (r#"{"op": "equals", "field": "a", "value": 3}"#, "expected a string, found 3"),
            (r#"{"op": "at_least", "field": "a", "value": "x"}"#, "expected a number, found \"x\""),
            (
                r#"{"op": "equals", "field": "a", "value": "b", "values": ["c"]}"#,
                "unknown field `values` for op `equals`, expected one of `field`, `value`, `ignore_case`",
            ),
            (r#"{"op": "not"}"#, "missing field `condition`"),
            (r#"{"op": "nope"}"#, "unknown variant `nope`, expected one of `equals`"),
        ];
        for (json, want) in cases {
            let err = serde_json::from_str::<Condition>(json).unwrap_err().to_string();
            assert!(err.contains(want), "{json}: {err}");
        }
        let ok: Condition =
            serde_json::from_str(r#"{"op": "pages_matching_at_least", "pattern": "/p*"}"#).unwrap();
        assert_eq!(
            ok,
            Condition::PagesMatchingAtLeast { pattern: "/p*".into(), count: 1, ignore_case: true }
        );
    }
}
