// A 100-rule model and a lead with 100 page views: the benchmark's input, included (with
// `include!`) by benches/score.rs and by the widget's browser timing in tests/web.rs, which
// bring their own `use` of leadgate_core's types.

const NOW: u64 = 1_795_694_400_000;

fn model() -> FormConfig {
    let kinds = [
        r#"{"op": "equals", "field": "role", "value": "CTO"}"#,
        r#"{"op": "one_of", "field": "country", "values": ["DE", "AT", "CH", "FR", "NL"]}"#,
        r#"{"op": "contains", "field": "role", "value": "head"}"#,
        r#"{"op": "matches", "field": "email", "pattern": "*@*.edu"}"#,
        r#"{"op": "between", "field": "size", "min": 100, "max": 5000}"#,
        r#"{"op": "email_class", "field": "email", "class": "free"}"#,
        r#"{"op": "email_domain_in", "field": "email", "domains": ["rival.com", "rival.io"]}"#,
        r#"{"op": "pages_matching_at_least", "pattern": "/pricing*", "count": 2}"#,
        r#"{"op": "pages_matching_at_least", "pattern": "/blog/*"}"#,
        r#"{"op": "utm", "param": "source", "values": ["google", "linkedin"]}"#,
        r#"{"op": "referrer_domain", "domains": ["g2.com"]}"#,
        r#"{"op": "all", "conditions": [{"op": "visits_at_least", "count": 2},
            {"op": "not", "condition": {"op": "pages_matching_at_least", "pattern": "/careers*"}}]}"#,
    ];
    let mut rules = Vec::new();
    for i in 0..100 {
        let when = kinds[i % kinds.len()];
        let group = if when.contains("field") { "fit" } else { "engagement" };
        let repeatable = i % 4 == 0 && group == "engagement";
        rules.push(
            String::from(r#"{"id": "r"#)
                + &i.to_string()
                + r#"", "group": ""#
                + group
                + r#"", "points": "#
                + &(i as i64 % 13 - 3).to_string()
                + r#", "repeatable": "#
                + if repeatable { "true" } else { "false" }
                + r#", "when": "#
                + when
                + "}",
        );
    }
    let json = String::from(
        r#"{"form_id": "f", "fields": [
            {"name": "email", "type": "email", "label": "E"}, {"name": "role", "type": "text", "label": "R"},
            {"name": "country", "type": "text", "label": "C"}, {"name": "size", "type": "text", "label": "S"}],
          "scoring": {"groups": {"fit": {"max": 100}, "engagement": {"max": 100, "decay": {"half_life_days": 14}}},
            "grade_group": "fit", "label": {"levels": [{"level": "1", "min": 50}, {"level": "2", "min": 0}]},
            "stages": {"mql": {"min_total": 50}}, "rules": ["#,
    ) + &rules.join(",")
        + "]}}";
    FormConfig::from_json(&json).unwrap()
}

fn input() -> (Lead, VisitorContext) {
    let mut lead = Lead::default();
    for (k, v) in
        [("email", "ada@acme.io"), ("role", "Head of IT"), ("country", "de"), ("size", "1,200")]
    {
        lead.fields.insert(k.into(), FieldValue::Text(v.into()));
    }
    let paths = ["/pricing", "/blog/scoring", "/docs/api", "/", "/careers", "/blog/decay"];
    let mut context = VisitorContext { visits: 4, seconds_on_site: 900, ..Default::default() };
    for i in 0..100u64 {
        let url =
            String::from("https://example.com") + paths[i as usize % paths.len()] + "?utm_source=x";
        context.pages.push(PageView { url, at: Timestamp(NOW - (100 - i) * 3_600_000) });
    }
    context.utm.insert("utm_source".into(), "LinkedIn".into());
    context.referrer = Some("https://www.g2.com/products/leadgate".into());
    (lead, context)
}
