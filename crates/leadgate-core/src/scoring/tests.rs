use super::*;
use crate::config::FormConfig;
use crate::context::VisitorContext;
use crate::lead::FieldValue;

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
        (r#"{"op": "at_most", "field": "employees", "value": 10}"#, &[("employees", "10")], true),
        (r#"{"op": "at_most", "field": "employees", "value": 10}"#, &[("employees", "")], false),
        (r#"{"op": "present", "field": "news"}"#, &[("news", "true")], true),
        (r#"{"op": "present", "field": "news"}"#, &[("news", "false")], false),
        (r#"{"op": "present", "field": "role"}"#, &[("role", "  ")], false),
    ];
    for (when, answers, want) in cases {
        let rules = String::from(r#"[{"id": "r", "points": 60, "when": "#) + when + "}]";
        let config = form(&rules);
        let got = score(&lead(answers), &VisitorContext::default(), &config.scoring, Timestamp(0));
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
        &VisitorContext::default(),
        &config.scoring,
        Timestamp(0),
    );
    assert_eq!(s.total, 80);
    assert_eq!(s.groups, crate::Map::from([("engagement".into(), 10), ("fit".into(), 70)]));
    assert_eq!(s.grade, "A");
    assert!(s.qualified);
    assert_eq!(s.stage, Stage::Mql);
    let reasons: Vec<&str> = s.hits.iter().map(|h| &*h.reason).collect();
    assert_eq!(reasons, ["Decision maker", "employees is at least 200.5", "news is filled in"]);
    assert_eq!(s.hits.iter().map(|h| h.points).sum::<i64>(), s.total);

    let s = score(
        &lead(&[("role", "Student")]),
        &VisitorContext::default(),
        &config.scoring,
        Timestamp(0),
    );
    assert_eq!((s.total, s.grade.as_str(), s.qualified, s.stage), (-25, "D", false, Stage::Lead));
    assert_eq!(&*s.hits[0].reason, "role contains \"student\"");
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

#[test]
fn scoring_errors_name_the_place() {
    let form = |scoring: &str| {
        String::from(
            r#"{"form_id": "f", "fields": [{"name": "a", "type": "text", "label": "A"}], "scoring": "#,
        ) + scoring
            + "}"
    };
    let rule =
        |when: &str| String::from(r#"{"rules": [{"id": "r", "points": 1, "when": "#) + when + "}]}";
    let cases: &[(String, &str, &str)] = &[
        (
            rule(r#"{"op": "equal", "field": "a", "value": "b"}"#),
            "scoring.rules[0].when.op",
            "unknown variant `equal`, expected one of `equals`, `one_of`, `contains`, `starts_with`",
        ),
        (
            rule(r#"{"op": "equals", "field": "a", "valu": "b"}"#),
            "scoring.rules[0].when.valu",
            "unknown field `valu` for op `equals`, expected one of `op`, `field`, `value`, `ignore_case` (did you mean `value`?)",
        ),
        (rule(r#"{"op": "between", "field": "a", "min": 5, "max": 1}"#), "scoring.rules[0].when.max", "max must not be lower than min"),
        (rule(r#"{"op": "matches", "field": "a", "pattern": " "}"#), "scoring.rules[0].when.pattern", "expected a pattern"),
        (rule(r#"{"op": "email_class", "field": "a", "class": "spam"}"#), "scoring.rules[0].when.class", "unknown variant `spam`, expected one of `free`, `disposable`, `role`, `business`"),
        (rule(r#"{"op": "email_domain_in", "field": "a", "domains": ["https://rival.com"]}"#), "scoring.rules[0].when.domains[0]", "expected a domain such as \"example.com\""),
        (rule(r#"{"op": "visits_at_least", "count": 0}"#), "scoring.rules[0].when.count", "expected a count of at least 1"),
        (rule(r#"{"op": "pages_matching_at_least", "pattern": ""}"#), "scoring.rules[0].when.pattern", "expected a path pattern"),
        (rule(r#"{"op": "utm", "param": "source"}"#), "scoring.rules[0].when", "utm needs either \"value\""),
        (rule(r#"{"op": "utm", "param": "sorce", "value": "x"}"#), "scoring.rules[0].when.param", "unknown variant `sorce`, expected one of `source`, `medium`"),
        (rule(r#"{"op": "click_id_present", "ids": ["gclid", "dclid"]}"#), "scoring.rules[0].when.ids[1]", "unknown click id \"dclid\""),
        (rule(r#"{"op": "all", "conditions": []}"#), "scoring.rules[0].when.conditions", "expected at least one condition"),
        (
            rule(r#"{"op": "any", "conditions": [{"op": "present", "field": "a"}, {"op": "not", "condition": {"op": "present", "field": "b"}}]}"#),
            "scoring.rules[0].when.conditions[1].condition.field",
            "there is no field called \"b\" in `fields`",
        ),
        (
            r#"{"rules": [{"id": "r", "group": "engagment", "points": 1, "when": {"op": "present", "field": "a"}}]}"#.into(),
            "scoring.rules[0].group",
            "there is no group \"engagment\"; the groups are fit, engagement (add a group under `scoring.groups`)",
        ),
        (r#"{"groups": {"fit": {"decay": {"half_life_days": 30}}}}"#.into(), "scoring.groups.fit.decay", "fit never decays"),
        (r#"{"groups": {"engagement": {"decay": {}}}}"#.into(), "scoring.groups.engagement.decay", "expected `half_life_days`, `window_days` or both"),
        (r#"{"groups": {"engagement": {"decay": {"half_life_days": 0}}}}"#.into(), "scoring.groups.engagement.decay.half_life_days", "expected a number of days above 0, found 0"),
        (r#"{"groups": {"engagement": {"decay": {"half_life": 7}}}}"#.into(), "scoring.groups.engagement.decay.half_life", "unknown field `half_life`, expected one of `half_life_days`, `window_days`"),
        (r#"{"groups": {"total": {}}}"#.into(), "scoring.groups.total", "\"total\" is reserved"),
        (r#"{"groups": {"x": {"min": 5, "max": 1}}}"#.into(), "scoring.groups.x.min", "min must not be higher than max"),
        (r#"{"grade_group": "fitt"}"#.into(), "scoring.grade_group", "there is no group \"fitt\""),
        (r#"{"label": {"levels": []}}"#.into(), "scoring.label.levels", "at least one level is needed"),
        (r#"{"label": {"levels": [{"level": "1", "min": 1}, {"level": "2", "min": 5}]}}"#.into(), "scoring.label.levels", "levels go from the best down"),
        (r#"{"threshold": 10, "stages": {"mql": {"min_total": 10}}}"#.into(), "scoring.threshold", "not both"),
        (r#"{"stages": {"mql": {"min_grade": "A+"}}}"#.into(), "scoring.stages.mql.min_grade", "there is no grade \"A+\"; the grades are A, B, C, D"),
        (r#"{"stages": {"sql": {}}}"#.into(), "scoring.stages", "missing field `mql`"),
        (
            r#"{"rules": [{"id": "r", "points": 9223372036854775807, "when": {"op": "present", "field": "a"}}]}"#.into(),
            "scoring.rules[0].points",
            "expected a number from -1000000000 to 1000000000, found 9223372036854775807",
        ),
        (r#"{"groups": {"fit": {"max": -9223372036854775808}}}"#.into(), "scoring.groups.fit.max", "expected a number from"),
        (r#"{"max_total": 1, "min_total": 2}"#.into(), "scoring.min_total", "min_total must not be higher than max_total"),
        (
            r#"{"rules": [{"id": "r", "points": 1, "max_points": 0, "when": {"op": "present", "field": "a"}}]}"#.into(),
            "scoring.rules[0].max_points",
            "expected at least 1",
        ),
    ];
    let mut failures = Vec::new();
    for (scoring, path, message) in cases {
        let err = FormConfig::from_json(&form(scoring)).unwrap_err();
        if err.path != *path || !err.message().contains(message) {
            failures.push(format!(
                "{scoring}\n  want {path:?}: {message}\n  got  {:?}: {}",
                err.path,
                err.message()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn model_id_is_stable_and_normalized() {
    let a = form(r#"[{"id": "r", "points": 1, "when": {"op": "present", "field": "role"}}]"#);
    let b = form(
        r#"[ {"when": {"field": "role", "op": "present"}, "points": 1, "id": "r", "group": "fit"} ]"#,
    );
    let c = form(r#"[{"id": "r", "points": 2, "when": {"op": "present", "field": "role"}}]"#);
    assert_eq!(a.scoring.model_id(), b.scoring.model_id());
    assert_ne!(a.scoring.model_id(), c.scoring.model_id());
    assert!(a.scoring.model_id().starts_with("fnv1a64:") && a.scoring.model_id().len() == 24);
    let s = score(&lead(&[]), &VisitorContext::default(), &a.scoring, Timestamp(0));
    assert_eq!(s.model, a.scoring.model_id());
    // Not cached (built without from_json): the same id, computed on the spot.
    let mut raw = a.scoring.clone();
    raw.model_id.clear();
    assert_eq!(raw.model_id(), a.scoring.model_id());
}

/// A model with groups, caps, a window, grades, a label, bars and a disqualifier, as JSON to
/// change into drafts.
fn hit_model() -> serde_json::Value {
    serde_json::json!({"form_id": "f", "fields": [
      {"name": "email", "type": "email", "label": "E"},
      {"name": "role", "type": "text", "label": "R"},
      {"name": "employees", "type": "text", "label": "N"}],
    "scoring": {
      "groups": {"fit": {"max": 40}, "engagement": {"decay": {"window_days": 30}}},
      "grades": [{"grade": "A", "min": 40}, {"grade": "B", "min": 20}, {"grade": "C", "min": -1000}],
      "label": {"levels": [{"level": "1", "min": 10}, {"level": "2", "min": -1000}]},
      "stages": {"mql": {"min_total": 20, "min_grade": "B"}, "sql": {"min_total": 45}},
      "rules": [
        {"id": "cto", "points": 30, "when": {"op": "equals", "field": "role", "value": "CTO"}},
        {"id": "big", "points": 20, "when": {"op": "at_least", "field": "employees", "value": 200}},
        {"id": "free", "points": -10, "disqualify": false, "when": {"op": "email_class", "field": "email", "class": "free"}},
        {"id": "pricing", "group": "engagement", "points": 15, "when": {"op": "pages_matching_at_least", "pattern": "/pricing"}},
        {"id": "blog", "group": "engagement", "points": 2, "repeatable": true, "when": {"op": "pages_matching_at_least", "pattern": "/blog/*"}}
      ]}})
}

fn hit_leads() -> Vec<(Lead, VisitorContext)> {
    let day = 86_400_000;
    let mut out = Vec::new();
    for (role, employees, email) in [
        ("CTO", "500", "a@corp.example"),
        ("CTO", "5", "a@gmail.com"),
        ("intern", "5000", "b@gmail.com"),
        ("", "", ""),
        ("cto", "199", "c@corp.example"),
    ] {
        for pages in [vec![], vec![("/pricing", 1)], vec![("/pricing", 40), ("/blog/a", 2)]] {
            let context = VisitorContext {
                pages: pages
                    .iter()
                    .map(|(url, days)| crate::context::PageView {
                        url: url.to_string(),
                        at: Timestamp(100 * day - days * day),
                    })
                    .collect(),
                ..VisitorContext::default()
            };
            let lead = lead(&[("role", role), ("employees", employees), ("email", email)]);
            out.push((lead, context));
        }
    }
    out
}

#[test]
fn hits_score_a_draft_exactly_as_the_answers_do() {
    let now = Timestamp(100 * 86_400_000);
    let model = FormConfig::from_json(&hit_model().to_string()).unwrap();
    type Change = fn(&mut serde_json::Value);
    // (what the draft changes, whether the hits decide its score)
    let cases: &[(&str, Change, bool)] = &[
        ("nothing", |_| {}, false),
        (
            "points",
            |s| {
                s["rules"][0]["points"] = 5.into();
                s["rules"][2]["points"] = (-40).into();
                s["rules"][3]["points"] = 0.into();
            },
            false,
        ),
        (
            "a rule removed",
            |s| {
                s["rules"].as_array_mut().unwrap().remove(1);
            },
            false,
        ),
        ("the bars", |s| s["stages"] = serde_json::json!({"mql": {"min_total": 10}}), false),
        (
            "the caps, grades and label",
            |s| {
                s["groups"]["fit"] = serde_json::json!({"max": 25, "min": 0});
                s["max_total"] = 30.into();
                s["grades"] =
                    serde_json::json!([{"grade": "A", "min": 30}, {"grade": "B", "min": 0}]);
                s["label"]["levels"][0]["min"] = 15.into();
                s["stages"]["mql"]["min_grade"] = "A".into();
            },
            false,
        ),
        (
            "a disqualifier and max_points",
            |s| {
                s["rules"][2]["disqualify"] = true.into();
                s["rules"][0]["max_points"] = 12.into();
            },
            false,
        ),
        (
            "the order, and blog no longer repeatable",
            |s| {
                s["rules"].as_array_mut().unwrap().reverse();
                s["rules"][0]["repeatable"] = false.into();
            },
            false,
        ),
        (
            "a rule moved to a group with the same window",
            |s| {
                s["groups"]["intent"] = serde_json::json!({"decay": {"window_days": 30}});
                s["rules"][3]["group"] = "intent".into();
            },
            false,
        ),
    ];
    let slow: &[(&str, Change)] = &[
        ("a condition", |s| s["rules"][1]["when"]["value"] = 100.into()),
        ("a new rule", |s| {
            let rule = serde_json::json!({"id": "new", "points": 1, "when": {"op": "present", "field": "role"}});
            s["rules"].as_array_mut().unwrap().push(rule);
        }),
        ("a repeatable rule", |s| s["rules"][4]["repeatable"] = true.into()),
        ("a half-life", |s| {
            s["rules"].as_array_mut().unwrap().remove(4);
            s["groups"]["engagement"]["decay"]["half_life_days"] = 7.into();
        }),
        ("a window", |s| {
            s["rules"].as_array_mut().unwrap().remove(4);
            s["groups"]["engagement"]["decay"]["window_days"] = 10.into();
        }),
        ("a group with another window", |s| {
            s["rules"].as_array_mut().unwrap().remove(4);
            s["rules"][3]["group"] = "fit".into();
        }),
    ];
    let mut failures = Vec::new();
    for (name, change, _) in cases {
        let mut json = hit_model();
        // Every draft but the model itself drops the repeatable blog rule's repeat.
        json["scoring"]["rules"][4]["repeatable"] = false.into();
        change(&mut json["scoring"]);
        let draft = FormConfig::from_json(&json.to_string()).unwrap();
        let Some(scorer) = draft.scoring.hit_scorer(&model.scoring) else {
            failures.push(format!("{name}: no hit scorer"));
            continue;
        };
        for (lead, context) in hit_leads() {
            let before = score(&lead, &context, &model.scoring, now);
            let after = score(&lead, &context, &draft.scoring, now);
            let tally = scorer.score(before.hits.iter().map(|h| &*h.rule));
            let want = Tally {
                total: after.total,
                grade: draft.scoring.grades.iter().position(|g| g.grade == after.grade),
                level: draft.scoring.label.as_ref().and_then(|l| {
                    l.levels
                        .iter()
                        .position(|b| Some(after.grade.clone() + &b.level) == after.label)
                }),
                disqualified: after.disqualified,
                stage: after.stage,
            };
            if tally != Some(want) {
                failures.push(format!("{name}: {lead:?}: {tally:?}, want {want:?}"));
            }
            assert_eq!(tally.map(|t| t.qualified()), Some(after.qualified));
        }
    }
    for (name, change) in slow {
        let mut json = hit_model();
        json["scoring"]["rules"][4]["repeatable"] = false.into();
        change(&mut json["scoring"]);
        let draft = FormConfig::from_json(&json.to_string()).unwrap();
        if draft.scoring.hit_scorer(&model.scoring).is_some() {
            failures.push(format!("{name}: a hit scorer"));
        }
    }
    // The model itself has a repeatable rule: its hits do not give its points.
    if model.scoring.hit_scorer(&model.scoring).is_some() {
        failures.push("the model with its repeatable rule: a hit scorer".into());
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn hits_that_are_not_the_models_are_refused() {
    let model = FormConfig::from_json(&hit_model().to_string()).unwrap();
    let mut json = hit_model();
    json["scoring"]["rules"][4]["repeatable"] = false.into();
    let draft = FormConfig::from_json(&json.to_string()).unwrap();
    let scorer = draft.scoring.hit_scorer(&model.scoring).unwrap();
    assert!(scorer.score(["cto", "cap:fit"]).is_some());
    assert_eq!(scorer.score(["cto", "nope"]), None);
    assert_eq!(scorer.score(["cto", "cto"]), None);
    assert_eq!(scorer.score([]).map(|t| t.total), Some(0));
}

#[test]
fn numbers_in_reasons_as_to_string_writes_them() {
    for n in [0, 1, -1, 9, 10, -10, 99, 1_200, -1_000_000_000, i64::MAX, i64::MIN] {
        let mut out = String::from("x");
        push_int(&mut out, n);
        assert_eq!(out, "x".to_string() + &n.to_string());
    }
}

#[test]
fn page_patterns_count_every_view_as_matching_each_alone_would() {
    // More distinct paths than the matcher keeps in mind, revisited out of order, in both
    // cases; one rule per pattern and case setting, each counting its views.
    let patterns = ["/a*", "/B*", "/b*", "/?/x", "*x*", "/c"];
    let mut rules = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        for exact in [false, true] {
            rules.push(
                String::from(r#"{"id": "p"#)
                    + &(2 * i + usize::from(exact)).to_string()
                    + r#"", "points": 1, "repeatable": true, "when": {"op": "pages_matching_at_least", "pattern": ""#
                    + p
                    + r#"", "ignore_case": "#
                    + if exact { "false" } else { "true" }
                    + "}}",
            );
        }
    }
    let config = form(&("[".to_string() + &rules.join(",") + "]")).scoring;
    // The same path under other URLs too (query, fragment, host, none at all): the matcher
    // knows a URL it saw and a path it saw apart.
    let paths = [
        "/a", "/A/x", "/b", "/B", "/c", "/C", "/d/x", "/e", "/aa", "/bb", "/x", "/Bx", "/c?q",
        "/a#top", "/a?x=1", "?x", "",
    ];
    let hosts = ["https://example.com", "http://www.example.org:8080", ""];
    let mut context = VisitorContext::default();
    let mut seed = 7usize;
    for at in 0..100u64 {
        seed = (seed * 31 + 11) % 97;
        let url = String::from(hosts[seed % hosts.len()]) + paths[seed % paths.len()];
        context.pages.push(crate::context::PageView { url, at: Timestamp(at) });
    }
    let got = score(&Lead::default(), &context, &config, Timestamp(1_000));
    for (i, p) in patterns.iter().enumerate() {
        for exact in [false, true] {
            let id = "p".to_string() + &(2 * i + usize::from(exact)).to_string();
            let want = context
                .pages
                .iter()
                .filter(|v| {
                    let path = pattern::url_path(&v.url);
                    match exact {
                        true => pattern::wildcard_match(p, path),
                        false => pattern::wildcard_match(&p.to_lowercase(), &path.to_lowercase()),
                    }
                })
                .count() as u32;
            let times = got.hits.iter().find(|h| *h.rule == *id).map_or(0, |h| h.times);
            assert_eq!(times, want, "{p} (exact: {exact})");
        }
    }
}
