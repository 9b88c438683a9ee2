//! The scoring conformance suite: every `tests/fixtures/*.json` file holds a form config and
//! cases (answers, visitor context, time → expected score). Each case's `expect` lists only the
//! parts of the [`Score`] it checks; objects compare as subsets, arrays element by element.
//! Every case also checks that the hits add up to the total and that the score survives the
//! payload round trip.

use std::path::Path;

use leadgate_core::{
    payload::lead_id, score, FormConfig, Lead, LeadPayload, Score, Timestamp, VisitorContext,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    description: String,
    form: Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    lead: Value,
    context: VisitorContext,
    now: String,
    expect: Value,
}

/// Checks that `expected` is contained in `actual`; the error names the place.
fn contains(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, e) in e {
                let at = format!("{path}.{key}");
                let a = a.get(key).ok_or_else(|| format!("{at}: missing in the score"))?;
                contains(e, a, &at)?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("{path}: expected {} items, got {}: {a:#?}", e.len(), a.len()));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .try_for_each(|(i, (e, a))| contains(e, a, &format!("{path}[{i}]")))
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{path}: expected {e}, got {a}")),
    }
}

fn run_case(form: &FormConfig, case: &Case) -> Result<Score, String> {
    let lead = Lead {
        fields: serde_json::from_value(case.lead.clone()).map_err(|e| format!("lead: {e}"))?,
    };
    let now = Timestamp::parse_rfc3339(&case.now).ok_or("now is not RFC 3339")?;
    let got = score(&lead, &case.context, &form.scoring, now);
    let sum: i64 = got.hits.iter().map(|h| h.points).sum();
    if sum != got.total {
        return Err(format!("the hits add up to {sum}, the total is {}", got.total));
    }
    contains(&case.expect, &serde_json::to_value(&got).map_err(|e| e.to_string())?, "score")
        .map_err(|e| {
            format!("{e}\nfull score: {}", serde_json::to_string_pretty(&got).unwrap_or_default())
        })?;
    // The payload carries the same score, and re-scoring at its `submitted_at` agrees.
    let payload =
        LeadPayload::build(form, lead_id([1; 16]), lead.clone(), case.context.clone(), now);
    let again =
        LeadPayload::from_json(&serde_json::to_string(&payload).map_err(|e| e.to_string())?)
            .map_err(|e| format!("payload round trip: {e}"))?;
    let at = again.submitted_time().ok_or("submitted_at does not parse")?;
    if again.score != got || score(&lead, &again.context, &form.scoring, at) != got {
        return Err("the payload's score or the relay's re-score differs".into());
    }
    Ok(got)
}

#[test]
fn scoring_spec() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    let (mut passed, mut failures) = (0, Vec::new());
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let spec: SpecFile = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!spec.description.is_empty(), "{name}: describe the file");
        let form = FormConfig::from_json(&spec.form.to_string())
            .unwrap_or_else(|e| panic!("{name}: the form does not load: {e}"));
        for case in &spec.cases {
            match run_case(&form, case) {
                Ok(_) => passed += 1,
                Err(e) => failures.push(format!("{name} / {}: {e}", case.name)),
            }
        }
    }
    for f in &failures {
        eprintln!("FAILED {f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} of {} spec cases failed (see above)",
        failures.len(),
        passed + failures.len()
    );
    assert!(passed >= 40, "only {passed} spec cases");
    eprintln!("{passed} spec cases passed in {} files", files.len());
}

/// The model ids of the fixtures' forms and of one form with every op, pinned: stored leads
/// refer to their model by id, so the canonical JSON a condition writes must never change.
#[test]
fn model_ids_are_pinned() {
    let every_op = r#"{"form_id": "f", "fields": [
        {"name": "role", "type": "text", "label": "R"},
        {"name": "size", "type": "text", "label": "S"},
        {"name": "email", "type": "email", "label": "E"}],
      "scoring": {"groups": {"fit": {}}, "grades": [{"grade": "A", "min": 50}, {"grade": "B", "min": 0}],
       "rules": [
        {"id": "a", "points": 1, "when": {"op": "equals", "field": "role", "value": "CTO", "ignore_case": false}},
        {"id": "b", "points": 1, "when": {"op": "one_of", "field": "role", "values": ["x", "y"]}},
        {"id": "c", "points": 1, "when": {"op": "contains", "field": "role", "value": "c"}},
        {"id": "d", "points": 1, "when": {"op": "starts_with", "field": "role", "value": "V"}},
        {"id": "e", "points": 1, "when": {"op": "ends_with", "field": "role", "value": "O"}},
        {"id": "f", "points": 1, "when": {"op": "matches", "field": "email", "pattern": "*@a.*"}},
        {"id": "g", "points": 1, "when": {"op": "at_least", "field": "size", "value": 2.5}},
        {"id": "h", "points": 1, "when": {"op": "at_most", "field": "size", "value": 100}},
        {"id": "i", "points": 1, "when": {"op": "between", "field": "size", "min": 1, "max": 1e3}},
        {"id": "j", "points": 1, "when": {"op": "present", "field": "role"}},
        {"id": "k", "points": 1, "when": {"op": "absent", "field": "role"}},
        {"id": "l", "points": 1, "when": {"op": "email_class", "field": "email", "class": "business"}},
        {"id": "m", "points": 1, "when": {"op": "email_domain_in", "field": "email", "domains": ["a.com"]}},
        {"id": "n", "points": 1, "when": {"op": "visits_at_least", "count": 3}},
        {"id": "o", "points": 1, "when": {"op": "pages_matching_at_least", "pattern": "/p*", "count": 2, "ignore_case": false}},
        {"id": "p", "points": 1, "when": {"op": "seconds_on_site_at_least", "seconds": 60}},
        {"id": "q", "points": 1, "when": {"op": "utm", "param": "source", "value": "g", "touch": "first"}},
        {"id": "r", "points": 1, "when": {"op": "utm", "param": "medium", "values": ["cpc", "ppc"]}},
        {"id": "s", "points": 1, "when": {"op": "referrer_domain", "domains": ["g2.com"], "touch": "last"}},
        {"id": "t", "points": 1, "when": {"op": "click_id_present", "ids": ["gclid"]}},
        {"id": "u", "points": 1, "when": {"op": "click_id_present"}},
        {"id": "v", "points": 1, "when": {"op": "all", "conditions": [
          {"op": "any", "conditions": [{"op": "present", "field": "size"}]},
          {"op": "not", "condition": {"op": "absent", "field": "email"}}]}}]}}"#;
    let id = |json: &str| FormConfig::from_json(json).unwrap().scoring.model_id();
    let mut got = vec![("every op".to_string(), id(every_op))];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    for file in &files {
        let spec: SpecFile = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        got.push((name, id(&spec.form.to_string())));
    }
    let want = [
        ("every op", "fnv1a64:4a2366998d6f8274"),
        ("caps-grades-stages.json", "fnv1a64:880893442ed00b61"),
        ("combinators.json", "fnv1a64:62471e5d4919babf"),
        ("decay.json", "fnv1a64:317128615a7faa28"),
        ("email.json", "fnv1a64:caeaeab5ce0b7179"),
        ("engagement.json", "fnv1a64:36635fe65538bba4"),
        ("field-conditions.json", "fnv1a64:9767b29863684aca"),
        ("legacy.json", "fnv1a64:67d8416db0478bec"),
    ];
    let got: Vec<(&str, &str)> = got.iter().map(|(n, i)| (n.as_str(), i.as_str())).collect();
    assert_eq!(got, want);
    // The live-score ops (refused in rules, so in no model) write the same way too.
    let written = |c: leadgate_core::Condition| serde_json::to_string(&c).unwrap();
    assert_eq!(
        written(leadgate_core::Condition::ScoreAtLeast { points: 5, group: None }),
        r#"{"op":"score_at_least","points":5}"#
    );
    assert_eq!(
        written(leadgate_core::Condition::ScoreAtLeast { points: -1, group: Some("fit".into()) }),
        r#"{"op":"score_at_least","points":-1,"group":"fit"}"#
    );
    assert_eq!(
        written(leadgate_core::Condition::GradeAtLeast { grade: "A".into() }),
        r#"{"op":"grade_at_least","grade":"A"}"#
    );
}
