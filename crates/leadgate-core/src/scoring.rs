//! Scoring rules as data, evaluated with `match`, and a score that explains every point.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{check_name, ConfigError, FormConfig};
use crate::lead::{FieldValue, Lead};
use crate::time::Timestamp;

/// How leads are scored and qualified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    /// The total a lead needs to qualify (go to sales). Defaults to 0: every lead qualifies.
    pub threshold: i64,
    /// The rules, evaluated in order; every rule that matches adds its points.
    pub rules: Vec<Rule>,
    /// Grade bands from the best down: a lead gets the first band whose `min` its total
    /// reaches; the last band also takes every lower total. Defaults to A ≥ 75, B ≥ 50,
    /// C ≥ 25, D below.
    pub grades: Vec<GradeBand>,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        let band = |grade: &str, min| GradeBand { grade: grade.into(), min };
        ScoringConfig {
            threshold: 0,
            rules: Vec::new(),
            grades: vec![band("A", 75), band("B", 50), band("C", 25), band("D", i64::MIN)],
        }
    }
}

/// One grade: the letter and the lowest total that earns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeBand {
    /// The letter (or word) sales sees, e.g. `"A"`.
    pub grade: String,
    /// The lowest total that earns this grade.
    pub min: i64,
}

/// A scoring rule: when the condition holds, the lead gets the points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A stable name for the rule, shown to sales with the points. Letters, digits, `-`, `_`.
    pub id: String,
    /// The group the points count towards (e.g. `fit`, `engagement`). Defaults to `fit`.
    #[serde(default = "default_group")]
    pub group: String,
    /// Points added when the condition holds (negative points subtract).
    pub points: i64,
    /// Why the rule matters, in words for sales. Defaults to a description of the condition.
    #[serde(default)]
    pub reason: Option<String>,
    /// The condition.
    pub when: Condition,
}

fn default_group() -> String {
    "fit".into()
}

/// A condition on one field of the lead. Text comparisons ignore case and surrounding spaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The answer equals `value`.
    Equals {
        /// The field's name.
        field: String,
        /// The value to compare with.
        value: String,
    },
    /// The answer is one of `values`.
    OneOf {
        /// The field's name.
        field: String,
        /// The accepted values.
        values: Vec<String>,
    },
    /// The answer contains `value`.
    Contains {
        /// The field's name.
        field: String,
        /// The text to look for.
        value: String,
    },
    /// The answer is a number (`1,200` counts) of at least `value`.
    AtLeast {
        /// The field's name.
        field: String,
        /// The lowest accepted number.
        value: f64,
    },
    /// The answer is a number of at most `value`.
    AtMost {
        /// The field's name.
        field: String,
        /// The highest accepted number.
        value: f64,
    },
    /// The field has an answer (non-blank text, a ticked box).
    Present {
        /// The field's name.
        field: String,
    },
}

impl Condition {
    /// The field the condition reads.
    pub fn field(&self) -> &str {
        match self {
            Condition::Equals { field, .. }
            | Condition::OneOf { field, .. }
            | Condition::Contains { field, .. }
            | Condition::AtLeast { field, .. }
            | Condition::AtMost { field, .. }
            | Condition::Present { field } => field,
        }
    }

    /// Whether the condition holds for this lead.
    pub fn holds(&self, lead: &Lead) -> bool {
        let value = lead.value(self.field());
        let text = || value.map(|v| normalize(v.as_text())).unwrap_or_default();
        match self {
            Condition::Equals { value, .. } => text() == normalize(value),
            Condition::OneOf { values, .. } => {
                let t = text();
                values.iter().any(|v| normalize(v) == t)
            }
            Condition::Contains { value, .. } => {
                let t = text();
                !t.is_empty() && t.contains(&normalize(value))
            }
            Condition::AtLeast { value: min, .. } => number(value).is_some_and(|n| n >= *min),
            Condition::AtMost { value: max, .. } => number(value).is_some_and(|n| n <= *max),
            Condition::Present { .. } => value.is_some_and(FieldValue::is_present),
        }
    }

    /// The condition in words, e.g. `size is one of "200-999", "1000+"`.
    pub fn describe(&self) -> String {
        let mut out = String::from(self.field());
        let quoted = |out: &mut String, v: &str| {
            out.push('"');
            out.push_str(v);
            out.push('"');
        };
        match self {
            Condition::Equals { value, .. } => {
                out.push_str(" is ");
                quoted(&mut out, value);
            }
            Condition::OneOf { values, .. } => {
                out.push_str(" is one of ");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    quoted(&mut out, v);
                }
            }
            Condition::Contains { value, .. } => {
                out.push_str(" contains ");
                quoted(&mut out, value);
            }
            Condition::AtLeast { value, .. } => {
                out.push_str(" is at least ");
                out.push_str(&number_text(*value));
            }
            Condition::AtMost { value, .. } => {
                out.push_str(" is at most ");
                out.push_str(&number_text(*value));
            }
            Condition::Present { .. } => out.push_str(" is filled in"),
        }
        out
    }
}

fn normalize(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Reads a number as people type it: `1200`, `1,200`, ` 1 200 `, `12.5`.
fn number(value: Option<&FieldValue>) -> Option<f64> {
    let text: String = value?.as_text().chars().filter(|c| !matches!(c, ',' | '_' | ' ')).collect();
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A number in a reason, without `core::fmt`'s float machinery: `100`, `2.5`.
fn number_text(n: f64) -> String {
    serde_json::to_string(&n).map(|s| s.trim_end_matches(".0").to_string()).unwrap_or_default()
}

/// Where a lead stands in the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Captured, below the qualification threshold.
    Lead,
    /// Marketing-qualified: reached the threshold, goes to sales.
    Mql,
}

impl Stage {
    /// The stage's name as it appears in payloads and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Lead => "lead",
            Stage::Mql => "mql",
        }
    }
}

/// One rule that matched, with its points and the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHit {
    /// The rule's id.
    pub rule: String,
    /// The group the points count towards.
    pub group: String,
    /// The points the rule added (negative ones subtract).
    pub points: i64,
    /// Why, in words for sales.
    pub reason: String,
}

/// A lead's score: the total, per group, the grade, whether it qualifies, and every hit.
/// The points of the hits add up to `total` exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The sum of the hits' points.
    pub total: i64,
    /// The total of each group that has a rule.
    pub groups: BTreeMap<String, i64>,
    /// The grade band the total falls in.
    pub grade: String,
    /// Whether the total reaches the threshold (the lead goes to sales).
    pub qualified: bool,
    /// The funnel stage that follows.
    pub stage: Stage,
    /// Every rule that matched, in rule order.
    pub hits: Vec<RuleHit>,
}

/// Scores a lead. `now` is the time of scoring (rules that depend on time use it).
pub fn score(lead: &Lead, config: &ScoringConfig, _now: Timestamp) -> Score {
    let mut groups: BTreeMap<String, i64> =
        config.rules.iter().map(|r| (r.group.clone(), 0)).collect();
    let hits: Vec<RuleHit> = config
        .rules
        .iter()
        .filter(|rule| rule.when.holds(lead))
        .map(|rule| RuleHit {
            rule: rule.id.clone(),
            group: rule.group.clone(),
            points: rule.points,
            reason: rule.reason.clone().unwrap_or_else(|| rule.when.describe()),
        })
        .collect();
    for hit in &hits {
        *groups.entry(hit.group.clone()).or_default() += hit.points;
    }
    let total = hits.iter().map(|h| h.points).sum();
    let grade = config
        .grades
        .iter()
        .find(|band| total >= band.min)
        .or(config.grades.last())
        .map(|band| band.grade.clone())
        .unwrap_or_default();
    let qualified = total >= config.threshold;
    let stage = if qualified { Stage::Mql } else { Stage::Lead };
    Score { total, groups, grade, qualified, stage, hits }
}

impl ScoringConfig {
    pub(crate) fn validate(&self, form: &FormConfig) -> Result<(), ConfigError> {
        let mut ids = std::collections::BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |what: &str| {
                let mut p = String::from("scoring.rules[");
                p.push_str(&i.to_string());
                p.push_str("].");
                p.push_str(what);
                p
            };
            check_name(&at("id"), &rule.id)?;
            if !ids.insert(rule.id.as_str()) {
                return Err(ConfigError::invalid(
                    at("id"),
                    "another rule already has the id \"".to_string() + &rule.id + "\"",
                ));
            }
            check_name(&at("group"), &rule.group)?;
            let field = rule.when.field();
            if form.field(field).is_none() {
                return Err(ConfigError::invalid(
                    at("when.field"),
                    "there is no field called \"".to_string() + field + "\" in `fields`",
                ));
            }
            if let Condition::OneOf { values, .. } = &rule.when {
                if values.is_empty() {
                    return Err(ConfigError::invalid(
                        at("when.values"),
                        "one_of needs at least one value",
                    ));
                }
            }
        }
        if self.grades.is_empty() {
            return Err(ConfigError::invalid("scoring.grades", "at least one grade is needed"));
        }
        if self.grades.windows(2).any(|w| w[0].min <= w[1].min) {
            return Err(ConfigError::invalid(
                "scoring.grades",
                "grades go from the best down: each `min` must be lower than the one before",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FormConfig;

    fn form(rules: &str) -> FormConfig {
        let json = String::from(
            r#"{"form_id": "f", "fields": [
                {"name": "email", "type": "email", "label": "E"},
                {"name": "role", "type": "text", "label": "R"},
                {"name": "employees", "type": "text", "label": "N"},
                {"name": "news", "type": "checkbox", "label": "News"}
            ], "scoring": {"threshold": 50, "rules": "#,
        ) + rules
            + "}}";
        FormConfig::from_json(&json).unwrap()
    }

    fn lead(pairs: &[(&str, &str)]) -> Lead {
        Lead {
            fields: pairs
                .iter()
                .map(|(k, v)| {
                    let value = match *v {
                        "true" => FieldValue::Checked(true),
                        "false" => FieldValue::Checked(false),
                        t => FieldValue::Text(t.into()),
                    };
                    (k.to_string(), value)
                })
                .collect(),
        }
    }

    #[test]
    fn conditions_table() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: &[Case] = &[
            (r#"{"op": "equals", "field": "role", "value": "CTO"}"#, &[("role", " cto ")], true),
            (r#"{"op": "equals", "field": "role", "value": "CTO"}"#, &[("role", "CEO")], false),
            (r#"{"op": "equals", "field": "role", "value": "CTO"}"#, &[], false),
            (
                r#"{"op": "one_of", "field": "role", "values": ["CTO", "VP Engineering"]}"#,
                &[("role", "vp engineering")],
                true,
            ),
            (r#"{"op": "one_of", "field": "role", "values": ["CTO"]}"#, &[("role", "C")], false),
            (
                r#"{"op": "contains", "field": "role", "value": "Head"}"#,
                &[("role", "Head of IT")],
                true,
            ),
            (r#"{"op": "contains", "field": "role", "value": "Head"}"#, &[("role", "Lead")], false),
            (
                r#"{"op": "at_least", "field": "employees", "value": 200}"#,
                &[("employees", "1,200")],
                true,
            ),
            (
                r#"{"op": "at_least", "field": "employees", "value": 200}"#,
                &[("employees", "199")],
                false,
            ),
            (
                r#"{"op": "at_least", "field": "employees", "value": 200}"#,
                &[("employees", "many")],
                false,
            ),
            (
                r#"{"op": "at_most", "field": "employees", "value": 10}"#,
                &[("employees", "10")],
                true,
            ),
            (
                r#"{"op": "at_most", "field": "employees", "value": 10}"#,
                &[("employees", "")],
                false,
            ),
            (r#"{"op": "present", "field": "news"}"#, &[("news", "true")], true),
            (r#"{"op": "present", "field": "news"}"#, &[("news", "false")], false),
            (r#"{"op": "present", "field": "role"}"#, &[("role", "  ")], false),
        ];
        for (when, answers, want) in cases {
            let rules = String::from(r#"[{"id": "r", "points": 60, "when": "#) + when + "}]";
            let config = form(&rules);
            let got = score(&lead(answers), &config.scoring, Timestamp(0));
            assert_eq!(got.qualified, *want, "{when} with {answers:?}");
            assert_eq!(got.hits.len(), usize::from(*want), "{when} with {answers:?}");
        }
    }

    #[test]
    fn total_groups_grade_and_reasons() {
        let config = form(
            r#"[
                {"id": "cto", "points": 40, "reason": "Decision maker",
                 "when": {"op": "equals", "field": "role", "value": "CTO"}},
                {"id": "big", "points": 30, "when": {"op": "at_least", "field": "employees", "value": 200.5}},
                {"id": "news", "group": "engagement", "points": 10, "when": {"op": "present", "field": "news"}},
                {"id": "student", "points": -25, "when": {"op": "contains", "field": "role", "value": "student"}}
            ]"#,
        );
        let s = score(
            &lead(&[("role", "CTO"), ("employees", "500"), ("news", "true")]),
            &config.scoring,
            Timestamp(0),
        );
        assert_eq!(s.total, 80);
        assert_eq!(s.groups, BTreeMap::from([("engagement".into(), 10), ("fit".into(), 70)]));
        assert_eq!(s.grade, "A");
        assert!(s.qualified);
        assert_eq!(s.stage, Stage::Mql);
        let reasons: Vec<&str> = s.hits.iter().map(|h| h.reason.as_str()).collect();
        assert_eq!(reasons, ["Decision maker", "employees is at least 200.5", "news is filled in"]);
        assert_eq!(s.hits.iter().map(|h| h.points).sum::<i64>(), s.total);

        let s = score(&lead(&[("role", "Student")]), &config.scoring, Timestamp(0));
        assert_eq!(
            (s.total, s.grade.as_str(), s.qualified, s.stage),
            (-25, "D", false, Stage::Lead)
        );
        assert_eq!(s.hits[0].reason, "role contains \"student\"");
    }

    #[test]
    fn describe_numbers_without_trailing_zero() {
        let c = Condition::AtMost { field: "n".into(), value: 10.0 };
        assert_eq!(c.describe(), "n is at most 10");
    }

    #[test]
    fn grades_must_descend() {
        let json = r#"{"form_id": "f", "fields": [{"name": "a", "type": "text", "label": "A"}],
            "scoring": {"grades": [{"grade": "B", "min": 10}, {"grade": "A", "min": 20}]}}"#;
        let err = FormConfig::from_json(json).unwrap_err();
        assert_eq!(err.path, "scoring.grades");
    }
}
