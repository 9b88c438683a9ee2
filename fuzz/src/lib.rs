//! What the fuzz targets share: a fixed scoring model that uses every kind of condition, leads
//! and visitor contexts made from the words of an input (so that the fuzzer's strings reach
//! the conditions that compare them), and the checks every score must pass.
//!
//! The targets are in `fuzz_targets/`; `scripts/fuzz.sh` builds and runs them. Nothing here
//! may panic on its own: a panic is a finding about leadgate's core.

use leadgate_core::Map;
use std::sync::OnceLock;

use leadgate_core::json::Json;
use leadgate_core::{
    score, FieldValue, FormConfig, Lead, PageView, Score, Timestamp, Touch, VisitorContext,
};

/// 2026-11-26T12:00:00Z, the spec fixtures' "now".
pub const NOW: u64 = 1_795_694_400_000;

/// The times every lead is scored at: the epoch, the fixtures' now, and the end of time.
pub const TIMES: [u64; 3] = [0, NOW, u64::MAX];

/// A form whose scoring uses every condition, caps and floors, both kinds of decay, a label
/// and stages (the property test's model, widened).
const MODEL: &str = r#"{"form_id": "fuzz", "fields": [
    {"name": "email", "type": "email", "label": "E-mail", "required": true},
    {"name": "role", "type": "text", "label": "Role", "min_length": 2, "max_length": 40},
    {"name": "size", "type": "text", "label": "Size"},
    {"name": "country", "type": "select", "label": "Country", "options": [{"value": "de"}, {"value": "fr"}]},
    {"name": "consent", "type": "consent", "label": "I agree", "version": "1"}],
  "scoring": {
    "groups": {"fit": {"max": 60, "min": -30},
               "engagement": {"max": 80, "decay": {"half_life_days": 7}},
               "intent": {"max": 50, "decay": {"window_days": 30}}},
    "max_total": 100, "min_total": -50,
    "grade_group": "fit",
    "label": {"levels": [{"level": "1", "min": 30}, {"level": "2", "min": 10}, {"level": "3", "min": -1000}]},
    "stages": {"mql": {"min_total": 30, "min_grade": "C"}, "sql": {"min_total": 70, "min_grade": "A"}},
    "rules": [
      {"id": "free", "points": -10, "when": {"op": "email_class", "field": "email", "class": "free"}},
      {"id": "disposable", "points": -20, "disqualify": true, "when": {"op": "email_class", "field": "email", "class": "disposable"}},
      {"id": "role-box", "points": -5, "when": {"op": "email_class", "field": "email", "class": "role"}},
      {"id": "business", "points": 5, "when": {"op": "email_class", "field": "email", "class": "business"}},
      {"id": "domain", "points": 7, "when": {"op": "email_domain_in", "field": "email", "domains": ["acme.io", "example.com"]}},
      {"id": "exec", "points": 30, "when": {"op": "matches", "field": "role", "pattern": "*c?o*"}},
      {"id": "ceo", "points": 3, "when": {"op": "equals", "field": "role", "value": "CEO", "ignore_case": false}},
      {"id": "vp", "points": 3, "when": {"op": "starts_with", "field": "role", "value": "vp"}},
      {"id": "lead", "points": 2, "when": {"op": "ends_with", "field": "role", "value": "lead"}},
      {"id": "sales", "points": 2, "when": {"op": "contains", "field": "role", "value": "sales"}},
      {"id": "country", "points": 4, "when": {"op": "one_of", "field": "country", "values": ["de", "fr"]}},
      {"id": "big", "points": 25, "when": {"op": "between", "field": "size", "min": 100, "max": 100000}},
      {"id": "small", "points": -5, "when": {"op": "at_most", "field": "size", "value": 5}},
      {"id": "huge", "points": 1, "when": {"op": "at_least", "field": "size", "value": 1e300}},
      {"id": "no-role", "points": -1, "when": {"op": "absent", "field": "role"}},
      {"id": "agreed", "points": 1, "when": {"op": "present", "field": "consent"}},
      {"id": "pricing", "group": "engagement", "points": 20, "when": {"op": "pages_matching_at_least", "pattern": "/pricing*"}},
      {"id": "blog", "group": "engagement", "points": 3, "repeatable": true, "max_points": 30, "when": {"op": "pages_matching_at_least", "pattern": "/blog/*"}},
      {"id": "everything", "group": "engagement", "points": 1000000000, "repeatable": true, "when": {"op": "pages_matching_at_least", "pattern": "*", "ignore_case": false}},
      {"id": "demo", "group": "intent", "points": 20, "when": {"op": "pages_matching_at_least", "pattern": "/demo", "count": 2}},
      {"id": "visits", "group": "engagement", "points": 5, "when": {"op": "visits_at_least", "count": 2}},
      {"id": "time", "group": "engagement", "points": 5, "when": {"op": "seconds_on_site_at_least", "seconds": 120}},
      {"id": "ads", "group": "engagement", "points": 4, "when": {"op": "any", "conditions": [
        {"op": "click_id_present"}, {"op": "utm", "param": "medium", "value": "cpc"}]}},
      {"id": "first-ad", "group": "engagement", "points": 2, "when": {"op": "click_id_present", "ids": ["gclid"], "touch": "first"}},
      {"id": "campaign", "group": "engagement", "points": 2, "when": {"op": "utm", "param": "campaign", "values": ["spring", "fall"], "touch": "last"}},
      {"id": "source", "group": "engagement", "points": 1, "when": {"op": "utm", "param": "source", "value": "google", "touch": "current"}},
      {"id": "g2", "group": "engagement", "points": 8, "when": {"op": "all", "conditions": [
        {"op": "referrer_domain", "domains": ["g2.com"], "touch": "any"}, {"op": "not", "condition": {"op": "absent", "field": "role"}}]}},
      {"id": "careers", "group": "engagement", "points": -15, "when": {"op": "pages_matching_at_least", "pattern": "/careers*", "count": 2}}
    ]}}"#;

/// The fixed model (see [`MODEL`]), loaded once.
pub fn model() -> &'static FormConfig {
    static MODEL_CONFIG: OnceLock<FormConfig> = OnceLock::new();
    MODEL_CONFIG.get_or_init(|| match FormConfig::from_json(MODEL) {
        Ok(config) => config,
        Err(e) => panic!("the fuzz model does not load: {e}"),
    })
}

/// The demo's form (`demo/contact.json`), as a relay would load it.
pub fn demo() -> &'static FormConfig {
    static DEMO: OnceLock<FormConfig> = OnceLock::new();
    DEMO.get_or_init(|| match FormConfig::from_json(include_str!("../../demo/contact.json")) {
        Ok(config) => config,
        Err(e) => panic!("demo/contact.json does not load: {e}"),
    })
}

/// Up to `limit` words of a document: its keys, strings and numbers as written, in order.
pub fn words(json: &Json, limit: usize) -> Vec<String> {
    fn walk(json: &Json, out: &mut Vec<String>, limit: usize) {
        if out.len() >= limit {
            return;
        }
        match json {
            Json::Null | Json::Bool(_) => {}
            Json::Number(n) | Json::String(n) => out.push(n.clone()),
            Json::Array(items) => items.iter().for_each(|item| walk(item, out, limit)),
            Json::Object(entries) => {
                for (key, value) in entries {
                    if out.len() < limit {
                        out.push(key.clone());
                    }
                    walk(value, out, limit);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(json, &mut out, limit);
    out
}

/// A lead for `config` made of `words`: each field takes the next word (a tick box: ticked
/// when there is one), and one field that the form does not have.
pub fn lead_from(config: &FormConfig, words: &[String]) -> Lead {
    let mut next = words.iter().cycle();
    let mut fields = Map::new();
    for field in &config.fields {
        let word = if words.is_empty() { None } else { next.next() };
        let value = match word {
            _ if field.kind.is_tick() => FieldValue::Checked(word.is_some()),
            Some(word) => FieldValue::Text(word.clone()),
            None => continue,
        };
        fields.insert(field.name.clone(), value);
    }
    if let Some(word) = words.first() {
        fields.insert(word.clone(), FieldValue::Text(word.clone()));
    }
    Lead { fields }
}

/// A visitor context made of `words`: pages at times spread from the epoch to the end of
/// time, UTM parameters, click ids and touches.
pub fn context_from(words: &[String]) -> VisitorContext {
    let word = |i: usize| words.get(i % words.len().max(1)).cloned().unwrap_or_default();
    let params = |from: usize| -> Map<String> {
        ["utm_source", "utm_medium", "utm_campaign", "gclid"]
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), word(from + i)))
            .collect()
    };
    let at = [0, 1, NOW - 40 * 86_400_000, NOW - 1, NOW, NOW + 1, u64::MAX];
    let pages = words
        .iter()
        .map(String::as_str)
        .chain(["/pricing", "/blog/a", "/demo", "/demo"])
        .enumerate()
        .map(|(i, url)| PageView { url: url.into(), at: Timestamp(at[i % at.len()]) })
        .collect();
    let touch = |i: usize| Touch {
        at: word(i),
        page_url: word(i + 1),
        referrer: Some(word(i + 2)),
        utm: params(i + 3),
        click_ids: params(i + 4),
    };
    VisitorContext {
        page_url: word(0),
        referrer: Some(word(1)),
        utm: params(2),
        click_ids: params(3),
        first_touch: Some(touch(4)),
        last_touch: Some(touch(5)),
        visits: u32::try_from(words.len()).unwrap_or(u32::MAX),
        pages_seen: u32::MAX,
        landing_page: Some(word(6)),
        pages,
        first_seen: Some(Timestamp(NOW)),
        seconds_on_site: u64::MAX,
    }
}

/// What every score must be: its hits add up to the total, within the model's caps, and a
/// disqualified lead does not qualify.
pub fn check_score(score: &Score, config: &FormConfig) {
    let sum = score.hits.iter().try_fold(0i64, |sum, hit| sum.checked_add(hit.points));
    assert_eq!(sum, Some(score.total), "the hits do not add up: {score:?}");
    if let Some(max) = config.scoring.max_total {
        assert!(score.total <= max, "above max_total: {score:?}");
    }
    if let Some(min) = config.scoring.min_total {
        assert!(score.total >= min, "below min_total: {score:?}");
    }
    assert!(!(score.disqualified && score.qualified), "qualified and disqualified: {score:?}");
}

/// Scores `lead` in `context` with `config` at each of [`TIMES`] and checks each score.
pub fn score_all(lead: &Lead, context: &VisitorContext, config: &FormConfig) {
    for now in TIMES {
        let s = score(lead, context, &config.scoring, Timestamp(now));
        check_score(&s, config);
    }
}

/// Whether two JSON values are the same, numbers within the hand-written reader's promise
/// (`json::parse_number`): integers exactly, other numbers to 1e-14 relative (subnormals,
/// which carry fewer digits, to 1e-320 absolute).
pub fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                let (Some(x), Some(y)) = (x.as_f64(), y.as_f64()) else { return false };
                x == y
                    || (x - y).abs() <= 1e-14 * x.abs().max(y.abs())
                    || (x.abs().max(y.abs()) < f64::MIN_POSITIVE && (x - y).abs() <= 1e-320)
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}
