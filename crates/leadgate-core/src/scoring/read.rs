//! Reading a rule's condition from the config's JSON (see `crate::json`): every key checked,
//! every error at its place, e.g. `scoring.rules[3].when.values`. The other scoring types
//! derive their readers (`#[derive(FromJson)]`); a condition's shape depends on its `op`.

use crate::email::EmailClass;
use crate::json::{FromJson, Node, Obj, Read};
use crate::scoring::{Condition, TouchScope, UtmParam};

/// The ops and the keys each takes besides `op`.
const OPS: [(&str, &[&str]); 24] = [
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
    ("score_at_least", &["points", "group"]),
    ("grade_at_least", &["grade"]),
    ("all", &["conditions"]),
    ("any", &["conditions"]),
    ("not", &["condition"]),
];

fn touch(obj: &Obj) -> Read<TouchScope> {
    Ok(obj.opt("touch", TouchScope::read)?.unwrap_or_default())
}

impl FromJson for Condition {
    fn read(node: &Node) -> Read<Condition> {
        let obj = node.any_object()?;
        if obj.get("op").is_none() {
            // Say so about a misspelt `op` (`"Op"`, `"ops"`) rather than only that it is missing.
            let mut keys = vec!["op"];
            for key in OPS.iter().flat_map(|(_, takes)| takes.iter()) {
                if !keys.contains(key) {
                    keys.push(key);
                }
            }
            obj.only(&keys, "")?;
        }
        let names = OPS.map(|(name, _)| name);
        let op = obj.need("op")?.one_of(&names)?;
        let (name, takes) = OPS[op];
        let mut keys = vec!["op"];
        keys.extend_from_slice(takes);
        obj.only(&keys, &(String::from(" for op `") + name + "`"))?;
        let field = || obj.need("field")?.string();
        let text = || obj.need("value")?.string();
        let ignore_case =
            obj.opt("ignore_case", Node::boolean)?.unwrap_or_else(super::condition::yes);
        let list = |key| obj.need(key)?.strings();
        let conditions = || obj.need("conditions")?.list(|n| Condition::read(&n));
        Ok(match name {
            "equals" => Condition::Equals { field: field()?, value: text()?, ignore_case },
            "one_of" => Condition::OneOf { field: field()?, values: list("values")?, ignore_case },
            "contains" => Condition::Contains { field: field()?, value: text()?, ignore_case },
            "starts_with" => Condition::StartsWith { field: field()?, value: text()?, ignore_case },
            "ends_with" => Condition::EndsWith { field: field()?, value: text()?, ignore_case },
            "matches" => Condition::Matches {
                field: field()?,
                pattern: obj.need("pattern")?.string()?,
                ignore_case,
            },
            "at_least" => {
                Condition::AtLeast { field: field()?, value: obj.need("value")?.number()? }
            }
            "at_most" => Condition::AtMost { field: field()?, value: obj.need("value")?.number()? },
            "between" => Condition::Between {
                field: field()?,
                min: obj.need("min")?.number()?,
                max: obj.need("max")?.number()?,
            },
            "present" => Condition::Present { field: field()? },
            "absent" => Condition::Absent { field: field()? },
            "email_class" => Condition::EmailClass {
                field: field()?,
                class: EmailClass::read(&obj.need("class")?)?,
            },
            "email_domain_in" => {
                Condition::EmailDomainIn { field: field()?, domains: list("domains")? }
            }
            "visits_at_least" => Condition::VisitsAtLeast { count: obj.need("count")?.count()? },
            "pages_matching_at_least" => Condition::PagesMatchingAtLeast {
                pattern: obj.need("pattern")?.string()?,
                count: obj.opt("count", Node::count)?.unwrap_or_else(super::condition::one),
                ignore_case,
            },
            "seconds_on_site_at_least" => {
                Condition::SecondsOnSiteAtLeast { seconds: obj.need("seconds")?.unsigned()? }
            }
            "utm" => Condition::Utm {
                param: UtmParam::read(&obj.need("param")?)?,
                value: obj.opt_string("value")?,
                values: obj.opt("values", Node::strings)?.unwrap_or_default(),
                touch: touch(&obj)?,
            },
            "referrer_domain" => {
                Condition::ReferrerDomain { domains: list("domains")?, touch: touch(&obj)? }
            }
            "click_id_present" => Condition::ClickIdPresent {
                ids: obj.opt("ids", Node::strings)?.unwrap_or_default(),
                touch: touch(&obj)?,
            },
            "score_at_least" => Condition::ScoreAtLeast {
                points: obj.need("points")?.int()?,
                group: obj.opt_string("group")?,
            },
            "grade_at_least" => Condition::GradeAtLeast { grade: obj.need("grade")?.string()? },
            "all" => Condition::All { conditions: conditions()? },
            "any" => Condition::Any { conditions: conditions()? },
            "not" => Condition::Not { condition: Box::read(&obj.need("condition")?)? },
            // `name` comes from OPS, whose every entry has its arm above; a new op without
            // one is refused as unknown, never read as another op.
            _ => return Err(obj.need("op")?.unknown_variant(&names)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn condition(text: &str) -> Read<Condition> {
        Condition::read(&Node::root(&parse(text)?))
    }

    #[test]
    fn the_ops_table_follows_the_written_format() {
        // Every op name is known (it reads, or misses a key it needs) ...
        for (name, _) in OPS {
            let sample = String::from(r#"{"op": ""#) + name + "\"}";
            if let Err(err) = condition(&sample) {
                assert!(err.message().starts_with("missing field"), "{name}: {err}");
            }
        }
        // ... and a condition reads back from what `Serialize` writes for it.
        let written = serde_json::to_string(&Condition::Not {
            condition: Box::new(Condition::VisitsAtLeast { count: 3 }),
        })
        .unwrap();
        assert_eq!(
            condition(&written).unwrap(),
            Condition::Not { condition: Box::new(Condition::VisitsAtLeast { count: 3 }) }
        );
    }

    #[test]
    fn errors_say_what_the_op_takes() {
        let cases = [
            (r#"{"op": "equals", "field": "a"}"#, "", "missing field `value`"),
            (r#"{"op": "equals", "field": "a", "value": 3}"#, "value", "expected a string, found 3"),
            (
                r#"{"op": "at_least", "field": "a", "value": "x"}"#,
                "value",
                "expected a number, found \"x\"",
            ),
            (
                r#"{"op": "equals", "field": "a", "value": "b", "values": ["c"]}"#,
                "values",
                "unknown field `values` for op `equals`, expected one of `op`, `field`, `value`, `ignore_case` (did you mean `value`?)",
            ),
            (r#"{"op": "not"}"#, "", "missing field `condition`"),
            (r#"{"op": "nope"}"#, "op", "unknown variant `nope`, expected one of `equals`"),
            (r#"{"Op": "present", "field": "a"}"#, "Op", "unknown field `Op`, expected one of `op`, `field`"),
            (r#"{"field": "a"}"#, "", "missing field `op`"),
            (r#"{"op": "all", "conditions": [{"op": "present"}]}"#, "conditions[0]", "missing field `field`"),
        ];
        for (json, path, want) in cases {
            let err = condition(json).unwrap_err();
            assert_eq!(err.path, path, "{json}: {err}");
            assert!(err.message().contains(want), "{json}: {err}");
        }
        assert_eq!(
            condition(r#"{"op": "pages_matching_at_least", "pattern": "/p*"}"#).unwrap(),
            Condition::PagesMatchingAtLeast { pattern: "/p*".into(), count: 1, ignore_case: true }
        );
    }
}
