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
