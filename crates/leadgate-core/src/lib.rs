//! leadgate's heart: everything about a lead that is not the browser or the network.
//!
//! A marketer's JSON config is parsed and validated once ([`FormConfig::from_json`]); the
//! visitor's answers form a [`Lead`] and what they did a [`VisitorContext`]; [`score`] turns
//! both into a [`Score`] whose every point is explained by a [`RuleHit`] (see
//! `SCORING.md` beside this crate for the model); [`LeadPayload`] is the JSON the sales
//! endpoint receives.
//! The widget (in the browser) and the relay (on a server) call the same functions on the same
//! config, so a score computed in the browser can be re-checked on the server. Nothing here does
//! I/O or reads a clock: time comes in as a parameter.
#![deny(missing_docs)]
// What must not reach the widget's wasm (clippy.toml: disallowed types and macros), checked
// when the crate is built for wasm32.
#![cfg_attr(target_arch = "wasm32", warn(clippy::disallowed_types, clippy::disallowed_macros))]

pub mod config;
pub mod context;
pub mod delivery;
pub mod email;
pub mod hash;
pub mod json;
pub mod lead;
pub mod locale;
pub mod logic;
pub mod map;
pub mod memory;
pub mod outbox;
pub mod payload;
pub mod scoring;
pub mod time;
pub mod tracking;

pub use config::{
    ConfigError, ConfigErrorKind, Field, FieldKind, FormConfig, Prefill, Step, Texts,
};
pub use context::{PageView, Touch, VisitorContext, CLICK_IDS, MAX_PAGES};
pub use email::{classify, suggest_email_fix, EmailClass};
pub use lead::{FieldError, FieldValue, Lead};
pub use logic::Visibility;
pub use map::Map;
pub use memory::{FormDraft, VisitorMemory};
pub use payload::{
    ConsentRecord, LeadPayload, Meta, PayloadError, MAX_CONTEXT_TEXT, MAX_SCORE, MAX_URL,
    SCHEMA_VERSION,
};
pub use scoring::{
    score, Condition, Decay, GradeBand, GroupConfig, HitKind, HitScorer, LabelConfig, LevelBand,
    Rule, RuleHit, Score, ScoringConfig, Stage, StageBar, Stages, Tally, TouchScope, UtmParam,
};
pub use time::Timestamp;
