//! Properties of scoring on arbitrary input: no panics, hits add up to the total, decay never
//! adds points, and every config that loads can score.

use leadgate_core::{
    score, FieldValue, FormConfig, Lead, PageView, Timestamp, Touch, Visibility, VisitorContext,
};
use proptest::prelude::*;

const NOW: u64 = 1_795_694_400_000;
const DAY: u64 = 86_400_000;

/// A model that uses every kind of condition, with caps, decay and stages.
fn model(half_life: Option<f64>) -> FormConfig {
    let decay = half_life.map_or(String::new(), |h| {
        String::from(r#", "decay": {"half_life_days": "#) + &h.to_string() + "}"
    });
    let json = String::from(
        r#"{"form_id": "f", "fields": [
            {"name": "email", "type": "email", "label": "E"},
            {"name": "role", "type": "text", "label": "R"},
            {"name": "size", "type": "text", "label": "S"}],
        "scoring": {
          "groups": {"fit": {"max": 60, "min": -30}, "engagement": {"max": 80"#,
    ) + &decay
        + r#"}},
          "max_total": 100,
          "grade_group": "fit",
          "label": {"levels": [{"level": "1", "min": 30}, {"level": "2", "min": 10}, {"level": "3", "min": -1000}]},
          "stages": {"mql": {"min_total": 30, "min_grade": "C"}, "sql": {"min_total": 70, "min_grade": "A"}},
          "rules": [
            {"id": "free", "points": -10, "when": {"op": "email_class", "field": "email", "class": "free"}},
            {"id": "disposable", "points": -20, "disqualify": true, "when": {"op": "email_class", "field": "email", "class": "disposable"}},
            {"id": "exec", "points": 30, "when": {"op": "matches", "field": "role", "pattern": "*c?o*"}},
            {"id": "big", "points": 25, "when": {"op": "between", "field": "size", "min": 100, "max": 100000}},
            {"id": "pricing", "group": "engagement", "points": 20, "when": {"op": "pages_matching_at_least", "pattern": "/pricing*"}},
            {"id": "blog", "group": "engagement", "points": 3, "repeatable": true, "max_points": 30, "when": {"op": "pages_matching_at_least", "pattern": "/blog/*"}},
            {"id": "visits", "group": "engagement", "points": 5, "when": {"op": "visits_at_least", "count": 2}},
            {"id": "ads", "group": "engagement", "points": 4, "when": {"op": "any", "conditions": [
              {"op": "click_id_present"}, {"op": "utm", "param": "medium", "value": "cpc"}]}},
            {"id": "g2", "group": "engagement", "points": 8, "when": {"op": "all", "conditions": [
              {"op": "referrer_domain", "domains": ["g2.com"]}, {"op": "not", "condition": {"op": "absent", "field": "role"}}]}},
            {"id": "careers", "group": "engagement", "points": -15, "when": {"op": "pages_matching_at_least", "pattern": "/careers*", "count": 2}}
          ]}}"#;
    FormConfig::from_json(&json).expect("the property model loads")
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z]{1,8}@(gmail\\.com|mailinator\\.com|acme\\.io|g2\\.com)",
        "(CEO|cto|VP Sales|student|)",
        "[0-9, ]{0,8}",
    ]
}

fn lead() -> impl Strategy<Value = Lead> {
    let value =
        prop_oneof![any::<bool>().prop_map(FieldValue::Checked), text().prop_map(FieldValue::Text)];
    proptest::collection::btree_map(
        prop_oneof![
            Just("email".to_string()),
            Just("role".to_string()),
            Just("size".to_string()),
            any::<String>()
        ],
        value,
        0..5,
    )
    .prop_map(|fields| Lead { fields: fields.into_iter().collect() })
}

fn touch() -> impl Strategy<Value = Option<Touch>> {
    proptest::option::of((text(), any::<u64>(), proptest::option::of(text())).prop_map(
        |(u, at, r)| Touch {
            at: Timestamp(at % (NOW * 2)).to_rfc3339(),
            page_url: u,
            referrer: r,
            ..Default::default()
        },
    ))
}

fn context() -> impl Strategy<Value = VisitorContext> {
    let page = (prop_oneof!["/(pricing|blog|careers)/?[a-z]{0,3}", any::<String>()], 0..NOW * 2)
        .prop_map(|(url, at)| PageView { url, at: Timestamp(at) });
    (
        proptest::collection::vec(page, 0..130),
        any::<u32>(),
        any::<u64>(),
        proptest::option::of(text()),
        touch(),
        touch(),
        proptest::collection::btree_map("(utm_medium|utm_source|gclid)", text(), 0..3),
    )
        .prop_map(
            |(pages, visits, seconds_on_site, referrer, first_touch, last_touch, params)| {
                VisitorContext {
                    pages,
                    visits,
                    seconds_on_site,
                    referrer,
                    first_touch,
                    last_touch,
                    click_ids: params.clone().into_iter().collect(),
                    utm: params.into_iter().collect(),
                    ..Default::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn scoring_never_panics_and_hits_add_up(lead in lead(), context in context(), now in 0..NOW * 3) {
        for config in [model(None), model(Some(7.0))] {
            let s = score(&lead, &context, &config.scoring, Timestamp(now));
            prop_assert_eq!(s.hits.iter().map(|h| h.points).sum::<i64>(), s.total);
            prop_assert!(s.total <= 100);
            prop_assert!(!s.disqualified || !s.qualified);
        }
    }

    #[test]
    fn decay_never_increases_points(lead in lead(), context in context(), half_life in 0.01f64..400.0, later in 0..DAY * 400) {
        let plain = score(&lead, &context, &model(None).scoring, Timestamp(NOW));
        let decayed = score(&lead, &context, &model(Some(half_life)).scoring, Timestamp(NOW));
        prop_assert_eq!(plain.hits.len(), decayed.hits.iter().filter(|h| &*h.rule != "cap:engagement").count()
            + usize::from(plain.hits.iter().any(|h| &*h.rule == "cap:engagement")));
        for (p, d) in plain.hits.iter().zip(&decayed.hits).filter(|(p, _)| !p.rule.starts_with("cap:")) {
            prop_assert_eq!(&p.rule, &d.rule);
            prop_assert!(d.points.abs() <= p.points.abs(), "{} went from {} to {}", p.rule, p.points, d.points);
            prop_assert_eq!(d.raw, p.raw);
        }
        // Later, the same evidence is worth no more (pages and touches fixed, time moves on).
        let mut at_end = context.clone();
        at_end.pages.retain(|p| p.at.0 <= NOW);
        let then = score(&lead, &at_end, &model(Some(half_life)).scoring, Timestamp(NOW));
        let after = score(&lead, &at_end, &model(Some(half_life)).scoring, Timestamp(NOW + later));
        for h in after.hits.iter().filter(|h| &*h.group == "engagement" && !h.rule.starts_with("cap:")) {
            let before = then.hits.iter().find(|b| b.rule == h.rule).map_or(0, |b| b.points);
            prop_assert!(h.points.abs() <= before.abs() || &*h.rule == "visits" || &*h.rule == "ads" || &*h.rule == "g2",
                "{} grew from {} to {}", h.rule, before, h.points);
        }
    }

    /// A draft with other points, bar and caps, scored from the rules that held under the
    /// model, is scored exactly as from the answers.
    #[test]
    fn hits_score_a_points_only_draft_as_the_answers_do(lead in lead(), context in context(), now in 0..NOW * 3,
        points in proptest::collection::vec(-40i64..40, 10), bar in -20i64..80, cap in 0i64..90) {
        let model = model(None);
        let mut json = serde_json::to_value(&model).unwrap();
        for (rule, p) in json["scoring"]["rules"].as_array_mut().unwrap().iter_mut().zip(&points) {
            rule["points"] = (*p).into();
            rule["repeatable"] = false.into();
        }
        json["scoring"]["stages"]["mql"]["min_total"] = bar.into();
        json["scoring"]["groups"]["fit"]["max"] = cap.into();
        let draft = FormConfig::from_json(&json.to_string()).unwrap();
        let before = score(&lead, &context, &model.scoring, Timestamp(now));
        let after = score(&lead, &context, &draft.scoring, Timestamp(now));
        let scorer = draft.scoring.hit_scorer(&model.scoring).unwrap();
        let tally = scorer.score(before.hits.iter().map(|h| &*h.rule)).unwrap();
        prop_assert_eq!(
            (tally.total, tally.qualified(), tally.stage, tally.disqualified),
            (after.total, after.qualified, after.stage, after.disqualified)
        );
        let grade = tally.grade.map(|i| draft.scoring.grades[i].grade.clone()).unwrap_or_default();
        prop_assert_eq!(grade, after.grade);
    }

    #[test]
    fn any_config_that_loads_scores(json in config_json(), lead in lead(), context in context(), now in any::<u64>()) {
        if let Ok(config) = FormConfig::from_json(&json) {
            let s = score(&lead, &context, &config.scoring, Timestamp(now));
            prop_assert_eq!(s.hits.iter().map(|h| h.points).sum::<i64>(), s.total);
        }
    }

    /// The reader, the types and `Serialize` (which the JSON Schema follows) agree: a config
    /// written out reads back equal (numbers beyond the 15 significant digits that the wasm's
    /// number reader rounds exactly compare within 1e-12).
    #[test]
    fn a_config_written_out_reads_back_equal(json in config_json()) {
        if let Ok(config) = FormConfig::from_json(&json) {
            let written = serde_json::to_string(&config).unwrap();
            let again = FormConfig::from_json(&written).map_err(|e| e.to_string());
            prop_assert!(again.is_ok(), "{:?}: {}", again, written);
            let (a, b) = (serde_json::to_value(&config).unwrap(), serde_json::to_value(again.unwrap()).unwrap());
            prop_assert!(same(&a, &b), "{} became {}", a, b);
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_loader(json in any::<String>()) {
        let _ = FormConfig::from_json(&json);
    }
}

/// `a` and `b` are the same JSON, floats within a relative 1e-12.
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Configs assembled from plausible pieces, valid or not, with extreme numbers.
fn config_json() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        Just("0".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("9223372036854775807".to_string()),
        (-1000i64..1000).prop_map(|n| n.to_string())
    ];
    let float = prop_oneof![
        Just("0.0001".to_string()),
        Just("1e308".to_string()),
        (0.0f64..1000.0).prop_map(|f| f.to_string())
    ];
    let when = prop_oneof![
        Just(r#"{"op": "present", "field": "a"}"#.to_string()),
        "[a-z*?/]{0,6}"
            .prop_map(|p| String::from(r#"{"op": "pages_matching_at_least", "pattern": "/"#)
                + &p
                + r#"", "count": 2}"#),
        "[a-z*?@.]{0,6}"
            .prop_map(|p| String::from(r#"{"op": "matches", "field": "a", "pattern": ""#)
                + &p
                + r#""}"#),
        float
            .clone()
            .prop_map(|f| String::from(r#"{"op": "between", "field": "a", "min": 0, "max": "#)
                + &f
                + "}"),
        Just(r#"{"op": "visits_at_least", "count": 4294967295}"#.to_string()),
        Just(r#"{"op": "not", "condition": {"op": "click_id_present"}}"#.to_string()),
    ];
    let rule = (
        number.clone(),
        when,
        any::<bool>(),
        proptest::option::of(number.clone()),
        prop_oneof![Just("fit"), Just("engagement")],
    )
        .prop_map(|(points, when, repeatable, max, group)| {
            let max = max.map_or(String::new(), |m| String::from(r#", "max_points": "#) + &m);
            String::from(r#"{"points": "#)
                + &points
                + r#", "group": ""#
                + group
                + r#"", "repeatable": "#
                + if repeatable { "true" } else { "false" }
                + &max
                + r#", "when": "#
                + &when
        });
    (proptest::collection::vec(rule, 0..6), proptest::option::of(number.clone()), proptest::option::of(number), float)
        .prop_map(|(rules, max_total, group_max, half)| {
            let rules: Vec<String> = rules.iter().enumerate()
                .map(|(i, r)| r.clone() + r#", "id": "r"# + &i.to_string() + "\"}").collect();
            let mut s = String::from(r#"{"form_id": "f", "fields": [{"name": "a", "type": "text", "label": "A"}], "scoring": {"rules": ["#);
            s += &rules.join(",");
            s += "]";
            if let Some(m) = max_total { s += r#", "max_total": "#; s += &m; }
            s += r#", "groups": {"engagement": {"decay": {"half_life_days": "#;
            s += &half;
            s += "}";
            if let Some(m) = group_max { s += r#", "max": "#; s += &m; }
            s += "}}}}";
            s
        })
}

/// Forms of four fields with random steps and random `show_if`/`required_if` conditions:
/// mostly on fields asked earlier, sometimes on a later one, itself or an unknown one.
fn logic_form_json() -> impl Strategy<Value = String> {
    let names = ["a", "b", "c", "d", "zz"];
    // A condition on field `{F}`, filled in below.
    let condition = (0..4usize, "(x|y|true|)").prop_map(move |(op, v)| match op {
        0 => format!(r#"{{"op": "equals", "field": "{{F}}", "value": "{v}"}}"#),
        1 => r#"{"op": "present", "field": "{F}"}"#.to_string(),
        2 => format!(r#"{{"op": "not", "condition": {{"op": "one_of", "field": "{{F}}", "values": ["{v}", "y"]}}}}"#),
        _ => r#"{"op": "score_at_least", "points": 10}"#.to_string(),
    });
    // Which field a condition reads: 0..3 an earlier one (when there is one), 4 any of the five.
    let reads = (condition, 0..5usize, 0..5usize);
    let field = (
        0..4usize,
        proptest::option::of(reads.clone()),
        proptest::option::of(reads.clone()),
        any::<bool>(),
    );
    (proptest::collection::vec(field, 4), proptest::collection::vec(0..3usize, 4), proptest::option::of(reads))
        .prop_map(move |(fields, mut step_of, step_if)| {
            step_of.sort();
            let fill = |(c, how, any): &(String, usize, usize), before: usize| {
                let f = if *how < 4 && before > 0 { names[how % before] } else { names[*any] };
                c.replace("{F}", f)
            };
            let kinds = ["text", "select", "checkbox", "hidden"];
            let fields: Vec<String> = fields.iter().enumerate().map(|(i, (k, show, req, required))| {
                let mut f = format!(r#"{{"name": "{}", "type": "{}", "label": "L""#, names[i], kinds[*k]);
                if *k == 1 { f += r#", "options": [{"value": "x"}, {"value": "y"}]"#; }
                if let Some(c) = show { f += &format!(r#", "show_if": {}"#, fill(c, i)); }
                if let Some(c) = req { f += &format!(r#", "required_if": {}"#, fill(c, i)); }
                else if *required { f += r#", "required": true"#; }
                f + "}"
            }).collect();
            let mut steps = vec![Vec::new(); 3];
            for (i, s) in step_of.iter().enumerate() {
                steps[*s].push(format!("\"{}\"", names[i]));
            }
            let mut before = 0;
            let steps: Vec<String> = steps.iter().enumerate().filter(|(_, s)| !s.is_empty()).map(|(i, s)| {
                let cond = match (&step_if, i) { (Some(c), 2) => format!(r#", "show_if": {}"#, fill(c, before)), _ => String::new() };
                before += s.len();
                format!(r#"{{"fields": [{}]{cond}}}"#, s.join(", "))
            }).collect();
            format!(r#"{{"form_id": "f", "fields": [{}], "steps": [{}], "scoring": {{"rules": [{{"id": "r", "points": 20, "when": {{"op": "present", "field": "a"}}}}]}}}}"#,
                fields.join(", "), steps.join(", "))
        })
}

fn logic_answers() -> impl Strategy<Value = Lead> {
    let value = prop_oneof![
        any::<bool>().prop_map(FieldValue::Checked),
        "(x|y|true|z)".prop_map(FieldValue::Text)
    ];
    proptest::collection::btree_map("[a-d]", value, 0..4)
        .prop_map(|fields| Lead { fields: fields.into_iter().collect() })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any config that loads has no cycle (every condition reads only fields asked before its
    /// own), starts on a step that shows, so every path through the shown steps ends at the
    /// submit of the last one; and answers of fields not shown change nothing.
    #[test]
    fn any_logic_that_loads_is_acyclic_and_ends_at_submit(json in logic_form_json(), answers in logic_answers()) {
        let Ok(config) = FormConfig::from_json(&json) else { return Ok(()) };
        let pages = config.pages();
        let mut order: Vec<usize> = (0..config.fields.len()).filter(|i| !pages.iter().any(|p| p.contains(i))).collect();
        order.extend(pages.iter().flatten());
        let rank = |name: &str| order.iter().position(|&i| config.fields[i].name == name).unwrap();
        for (i, field) in config.fields.iter().enumerate() {
            for c in field.show_if.iter().chain(&field.required_if) {
                for read in c.fields() {
                    prop_assert!(rank(read) < rank(&config.fields[i].name), "{} reads {} in {}", field.name, read, json);
                }
            }
        }
        for (s, step) in config.steps.iter().enumerate() {
            for read in step.show_if.iter().flat_map(|c| c.fields()) {
                prop_assert!(pages[..s].iter().flatten().any(|&i| config.fields[i].name == read)
                    || !pages.iter().flatten().any(|&i| config.fields[i].name == read), "{}", json);
            }
        }
        let seen = Visibility::of(&config, &answers, &VisitorContext::default(), Timestamp(NOW));
        prop_assert_eq!(seen.steps.first(), Some(&true));
        let sent = seen.shown_answers(&config, answers.clone());
        prop_assert_eq!(Visibility::of(&config, &sent, &VisitorContext::default(), Timestamp(NOW)), seen.clone());
        // Nothing sent that is not shown, and no error on a field not shown.
        for name in sent.fields.keys() {
            prop_assert!(seen.fields[config.field_index(name).unwrap()]);
        }
        for (name, _) in seen.errors(&config, &answers, None) {
            prop_assert!(seen.fields[config.field_index(&name).unwrap()]);
        }
    }
}
