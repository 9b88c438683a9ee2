//! The committed JSON Schema of the config (`schema/leadgate-config.schema.json`) must match
//! the Rust types. After changing the config types, regenerate it:
//!     LEADGATE_WRITE_SCHEMA=1 cargo test -p leadgate-core --features schema --test schema
//! CI runs the same command without the variable, and fails when the file is stale.

use std::path::Path;

use leadgate_core::FormConfig;

#[test]
fn committed_schema_matches_the_types() {
    let schema = schemars::schema_for!(FormConfig);
    let mut text = serde_json::to_string_pretty(&schema).unwrap();
    text.push('\n');
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/leadgate-config.schema.json");
    if std::env::var_os("LEADGATE_WRITE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is out of date: run LEADGATE_WRITE_SCHEMA=1 cargo test -p leadgate-core --features schema --test schema",
        path.display()
    );
}

#[test]
fn the_schema_knows_every_op_and_rejects_typos() {
    let schema = serde_json::to_string(&schemars::schema_for!(FormConfig)).unwrap();
    for op in [
        "equals",
        "starts_with",
        "matches",
        "between",
        "email_class",
        "pages_matching_at_least",
        "utm",
        "referrer_domain",
        "score_at_least",
        "grade_at_least",
        "click_id_present",
        "all",
        "any",
        "not",
    ] {
        assert!(schema.contains(&format!("\"{op}\"")), "{op}");
    }
    assert!(schema.contains("\"additionalProperties\":false"));
    assert!(!schema.contains("model_id"));
}
