//! The config reader (`FormConfig::from_json`, with and without a page locale): any text
//! gives a config or an error that renders, never a panic. A config that loads validates a
//! lead and scores leads and visitor contexts made of the config's own words (so the
//! fuzzer's strings meet the conditions that compare them) at the epoch, now and the end of
//! time: no panic, the hits add up to the total, within the caps. It also writes itself out
//! with `Serialize`, and that text loads again to the same config (the reader and the types
//! agree; floats to the reader's precision).
#![no_main]

use leadgate_core::json::parse;
use leadgate_core::{FormConfig, Timestamp, Visibility};
use leadgate_fuzz::{context_from, lead_from, same_value, score_all, words};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let config = match FormConfig::from_json(text) {
        Ok(config) => config,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = FormConfig::from_json_in(text, Some("ar-EG")).map(|c| c.texts);
    let _ = config.scoring.model_id();
    let Ok(json) = parse(text) else { panic!("{text:?} loads as a config but not as JSON") };
    let words = words(&json, 24);
    let lead = lead_from(&config, &words);
    let context = context_from(&words);
    let seen = Visibility::of(&config, &lead, &context, Timestamp(0));
    let _ = seen.errors(&config, &lead, None);
    // Every config that loads starts on a step that shows, and asks its questions in an order
    // where no condition reads a later answer: the shown answers decide the same again.
    assert!(seen.steps.first() == Some(&true), "the first step is hidden: {text:?}");
    let sent = seen.shown_answers(&config, lead.clone());
    assert_eq!(Visibility::of(&config, &sent, &context, Timestamp(0)), seen, "{text:?}");
    score_all(&lead, &context, &config);
    score_all(&lead_from(&config, &[]), &context_from(&[]), &config);

    let value = |c: &FormConfig| serde_json::to_value(c).unwrap_or_else(|e| panic!("{e}"));
    let written = serde_json::to_string(&config).unwrap_or_else(|e| panic!("{e}"));
    match FormConfig::from_json(&written) {
        // Numbers as the json target compares them: the reader is exact to 15 significant
        // digits, and `Serialize` writes up to 17 (`1.1111111111111112e89`).
        Ok(again) => {
            assert!(same_value(&value(&again), &value(&config)), "{written}\n{again:?}\n{config:?}")
        }
        Err(e) => panic!("the config as written does not load again: {e}\n{written}"),
    }
});
