//! The smart-form conformance suite: `tests/logic/*.json` hold a form with steps and
//! conditions and cases (answers, visitor context, time → which steps and fields show, which
//! are required, the errors, the answers sent); `tests/logic/config-errors.json` holds configs
//! the loader must refuse, each with the exact place and message.

use std::path::Path;

use leadgate_core::{FormConfig, Lead, Timestamp, Visibility, VisitorContext};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogicFile {
    description: String,
    form: Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    answers: Value,
    #[serde(default)]
    context: VisitorContext,
    #[serde(default = "noon")]
    now: String,
    /// Answers remembered from an earlier visit.
    #[serde(default)]
    known: Value,
    /// The fields not asked because remembered, by name (checked when given).
    #[serde(default)]
    remembered: Option<Vec<String>>,
    /// The steps shown, by index.
    steps: Vec<bool>,
    /// The fields shown, by name, in the config's order.
    shown: Vec<String>,
    /// The fields required, by name.
    required: Vec<String>,
    /// The errors of the whole form, `[name, kind]` in asking order.
    errors: Vec<(String, String)>,
    /// The answers sent (and scored), by name.
    sent: Vec<String>,
    /// The total score of the answers sent, if checked.
    #[serde(default)]
    score: Option<i64>,
}

fn noon() -> String {
    "2026-11-29T12:00:00Z".into()
}

fn run(form: &FormConfig, case: &Case) -> Result<(), String> {
    let answers = Lead {
        fields: serde_json::from_value(case.answers.clone())
            .map_err(|e| format!("answers: {e}"))?,
    };
    let now = Timestamp::parse_rfc3339(&case.now).ok_or("now is not RFC 3339")?;
    let known = Lead {
        fields: match &case.known {
            Value::Null => Default::default(),
            k => serde_json::from_value(k.clone()).map_err(|e| format!("known: {e}"))?,
        },
    };
    let seen = Visibility::with_known(form, &answers, &known, &case.context, now);
    let names = |flags: &[bool]| -> Vec<String> {
        form.fields.iter().zip(flags).filter(|(_, on)| **on).map(|(f, _)| f.name.clone()).collect()
    };
    let mut problems = Vec::new();
    if seen.steps != case.steps {
        problems.push(format!("steps: want {:?}, got {:?}", case.steps, seen.steps));
    }
    if names(&seen.fields) != case.shown {
        problems.push(format!("shown: want {:?}, got {:?}", case.shown, names(&seen.fields)));
    }
    if let Some(want) = &case.remembered {
        if &names(&seen.remembered) != want {
            problems.push(format!("remembered: want {want:?}, got {:?}", names(&seen.remembered)));
        }
    }
    if names(&seen.required) != case.required {
        problems.push(format!(
            "required: want {:?}, got {:?}",
            case.required,
            names(&seen.required)
        ));
    }
    let errors: Vec<(String, String)> =
        seen.errors(form, &answers, None).into_iter().map(|(n, e)| (n, format!("{e:?}"))).collect();
    if errors != case.errors {
        problems.push(format!("errors: want {:?}, got {errors:?}", case.errors));
    }
    let sent = seen.shown_answers(form, answers.clone());
    let sent_names: Vec<String> = sent.fields.keys().cloned().collect();
    let mut want_sent = case.sent.clone();
    want_sent.sort();
    if sent_names != want_sent {
        problems.push(format!("sent: want {want_sent:?}, got {sent_names:?}"));
    }
    if let Some(want) = case.score {
        let got = leadgate_core::score(&sent, &case.context, &form.scoring, now).total;
        if got != want {
            problems.push(format!("score: want {want}, got {got}"));
        }
    }
    // Each page's errors are the whole form's errors on that page.
    for page in 0..form.pages().len() {
        let on_page = seen.errors(form, &answers, Some(page));
        let pages = form.pages();
        let all: Vec<_> = seen
            .errors(form, &answers, None)
            .into_iter()
            .filter(|(n, _)| form.field_index(n).is_some_and(|i| pages[page].contains(&i)))
            .collect();
        if on_page != all {
            problems.push(format!("page {page}'s errors {on_page:?} differ from {all:?}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n  "))
    }
}

#[test]
fn logic_spec() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/logic");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| {
        p.extension().is_some_and(|e| e == "json")
            && p.file_name().is_some_and(|n| n != "config-errors.json")
    });
    files.sort();
    let (mut passed, mut failures) = (0, Vec::new());
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let spec: LogicFile = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!spec.description.is_empty(), "{name}: describe the file");
        let form = FormConfig::from_json(&spec.form.to_string())
            .unwrap_or_else(|e| panic!("{name}: the form does not load: {e}"));
        for case in &spec.cases {
            match run(&form, case) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(format!("{name} / {}:\n  {e}", case.name)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed >= 8, "only {passed} logic cases");
    eprintln!("{passed} logic cases passed in {} files", files.len());
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorCase {
    name: String,
    form: Value,
    path: String,
    message: String,
}

#[test]
fn bad_logic_is_refused_with_its_place_and_message() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/logic/config-errors.json");
    let cases: Vec<ErrorCase> =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        match FormConfig::from_json(&case.form.to_string()) {
            Err(e) if e.path == case.path && e.message() == case.message => {}
            Err(e) => failures.push(format!(
                "{}:\n  want `{}`: {}\n  got  `{}`: {}",
                case.name,
                case.path,
                case.message,
                e.path,
                e.message()
            )),
            Ok(_) => failures.push(format!("{}: the config loaded", case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 15, "only {} error cases", cases.len());
}

#[test]
fn prefill_takes_the_js_api_then_the_element_then_the_query_then_the_arrival() {
    use leadgate_core::{FieldValue, Map, Touch};
    let form = FormConfig::from_json(
        r#"{"form_id": "p", "fields": [
            {"name": "a", "type": "text", "label": "A", "prefill": {"query": "a"}},
            {"name": "b", "type": "text", "label": "B", "prefill": {"query": "b"}},
            {"name": "c", "type": "text", "label": "C", "prefill": {"query": "c"}},
            {"name": "tick", "type": "checkbox", "label": "T", "prefill": {"query": "tick"}},
            {"name": "src", "type": "hidden", "prefill": {"query": "blank", "context": "utm_source"}},
            {"name": "click", "type": "hidden", "prefill": {"context": "gclid"}},
            {"name": "from", "type": "hidden", "prefill": {"context": "referrer"}},
            {"name": "none", "type": "text", "label": "N"},
            {"name": "ok", "type": "consent", "label": "OK", "version": "1"}
        ]}"#,
    )
    .unwrap();
    let values: Map<String> = [("a".to_string(), "api".to_string())].into_iter().collect();
    let element = |name: &str| ["a", "b", "ok"].contains(&name).then(|| format!("element-{name}"));
    let query = |param: &str| match param {
        "blank" => Some("  ".to_string()),
        "tick" => Some("Yes".to_string()),
        other => Some(format!("query-{other}")),
    };
    let mut arrival = Touch { referrer: Some("https://g2.com/x".into()), ..Default::default() };
    arrival.utm.insert("utm_source".into(), "newsletter".into());
    arrival.click_ids.insert("gclid".into(), "g-1".into());
    let got: Vec<(String, FieldValue)> = form
        .prefilled(&values, &element, &query, &arrival)
        .into_iter()
        .map(|(i, v)| (form.fields[i].name.clone(), v))
        .collect();
    let text = |s: &str| FieldValue::Text(s.into());
    assert_eq!(
        got,
        vec![
            ("a".into(), text("api")),
            ("b".into(), text("element-b")),
            ("c".into(), text("query-c")),
            ("tick".into(), FieldValue::Checked(true)),
            ("src".into(), text("newsletter")),
            ("click".into(), text("g-1")),
            ("from".into(), text("https://g2.com/x")),
        ],
        "consent is never prefilled, a blank value is none"
    );
}

#[test]
fn the_demo_form_has_three_steps_and_skips_the_company_for_students() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("demo/contact.json")).unwrap();
    let form = FormConfig::from_json(&text).unwrap_or_else(|e| panic!("demo/contact.json: {e}"));
    // The demo page (index.html) embeds the same config inline.
    let page = std::fs::read_to_string(root.join("index.html")).unwrap();
    let inline =
        page.split("id=\"contact-config\">").nth(1).and_then(|s| s.split("</script>").next());
    let same = |a: &str, b: &str| {
        serde_json::from_str::<Value>(a).ok() == serde_json::from_str::<Value>(b).ok()
    };
    assert!(inline.is_some_and(|i| same(i, &text)), "index.html's config is not demo/contact.json");
    let lead = |role: &str, employees: &str| Lead {
        fields: serde_json::from_value(serde_json::json!({"role": role, "employees": employees}))
            .unwrap(),
    };
    let at = Timestamp::parse_rfc3339("2026-11-29T12:00:00Z").unwrap();
    let ctx = VisitorContext::default();
    let student = Visibility::of(&form, &lead("student", "1000+"), &ctx, at);
    assert_eq!(student.steps, [true, false, true]);
    let founder = Visibility::of(&form, &lead("founder", "1000+"), &ctx, at);
    assert_eq!(founder.steps, [true, true, true]);
    let phone = form.field_index("phone").unwrap();
    assert!(founder.required[phone], "60 points and more: the phone number is required");
    assert!(!student.required[phone]);
}

#[test]
fn the_first_ending_that_holds_applies() {
    let form = FormConfig::from_json(
        r#"{"form_id": "e", "fields": [
            {"name": "role", "type": "text", "label": "Role"},
            {"name": "size", "type": "text", "label": "Size"}],
          "redirect_origins": ["https://meet.example.com"],
          "endings": [
            {"when": {"op": "score_at_least", "points": 50}, "text": "Pick a time",
             "link": {"url": "https://meet.example.com/ada", "text": "Book"}},
            {"when": {"op": "equals", "field": "role", "value": "student"}, "redirect": "/students"},
            {"text": "Thanks!"}],
          "scoring": {"rules": [
            {"id": "big", "points": 60, "when": {"op": "equals", "field": "size", "value": "1000+"}}]}}"#,
    )
    .unwrap();
    let at = Timestamp::parse_rfc3339("2026-11-29T12:00:00Z").unwrap();
    let ctx = VisitorContext::default();
    let ending = |role: &str, size: &str| {
        let lead = Lead {
            fields: serde_json::from_value(serde_json::json!({"role": role, "size": size}))
                .unwrap(),
        };
        let score = leadgate_core::score(&lead, &ctx, &form.scoring, at);
        let e = form.ending(&lead, &ctx, at, &score).unwrap();
        (e.text.clone(), e.redirect.clone())
    };
    assert_eq!(ending("cto", "1000+"), (Some("Pick a time".into()), None));
    assert_eq!(ending("student", "1000+"), (Some("Pick a time".into()), None), "the first wins");
    assert_eq!(ending("student", "1-10"), (None, Some("/students".into())));
    assert_eq!(ending("cto", "1-10"), (Some("Thanks!".into()), None));
}
