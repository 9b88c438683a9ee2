//! The leadgate widget: one script tag turns every `[data-leadgate]` element of a landing page
//! into a lead form that scores the lead in the visitor's browser and posts the qualified ones.
//!
//! Layers, from the page inwards: [`embed`] is the only module that reads the host page (mount
//! points, `data-*` attributes, the config source) and sets up the shadow root; the
//! [`components`] render the form from a validated [`leadgate_core::FormConfig`]; [`signals`]
//! collects the visitor context (page, referrer, UTM, click ids, visits, pages seen);
//! [`outbox`] keeps every lead until its endpoint took it, and [`delivery`] does the HTTP
//! (fetch, keepalive, beacons); [`events`] tells the host page what happened; [`funnel`]
//! reports views and starts to the relay; [`storage`] is the one door to `localStorage`.
//! Scoring itself is [`leadgate_core::score`], the same code the relay runs.

// What must not reach the widget's wasm (clippy.toml: disallowed types and macros), checked
// when the crate is built for wasm32.
#![cfg_attr(target_arch = "wasm32", warn(clippy::disallowed_types, clippy::disallowed_macros))]

pub mod components;
pub mod delivery;
pub mod embed;
pub mod events;
pub mod funnel;
pub mod outbox;
pub mod signals;
pub mod storage;

pub use embed::{mount, start};
