//! leadgate's heart: everything about a lead that is not the browser or the network.
//!
//! A marketer's JSON config is parsed and validated once ([`FormConfig::from_json`]); the
//! visitor's answers form a [`Lead`]; [`score`] turns a lead into a [`Score`] whose every point
//! is explained by a [`RuleHit`]; [`LeadPayload`] is the JSON the sales endpoint receives.
//! The widget (in the browser) and the relay (on a server) call the same functions on the same
//! config, so a score computed in the browser can be re-checked on the server. Nothing here does
//! I/O or reads a clock: time comes in as a parameter.
#![deny(missing_docs)]

pub mod config;
pub mod email;
pub mod lead;
pub mod payload;
pub mod scoring;
pub mod time;

pub use config::{ConfigError, ConfigErrorKind, Field, FieldKind, FormConfig, Texts};
pub use lead::{FieldError, FieldValue, Lead};
pub use payload::{ConsentRecord, LeadPayload, PayloadError, VisitorContext, SCHEMA_VERSION};
pub use scoring::{score, Condition, Rule, RuleHit, Score, ScoringConfig, Stage};
pub use time::Timestamp;
