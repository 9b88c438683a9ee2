//! The widget's components, one a file.
//!
//! Trusted Types: `view!` turns an element whose attributes and children are all literals
//! (`<span class="x">"*"</span>`) into an "inert element" that Leptos builds by assigning its
//! HTML to a `<template>`'s `innerHTML`, which a page with `require-trusted-types-for 'script'`
//! refuses (the widget would fail to render there). Give every such element one braced child
//! (`<span class="x">{"*"}</span>`): it is then built node by node, with no HTML parsed.

mod config_error;
mod field;
mod lead_form;

pub use config_error::ConfigErrorBox;
pub use field::{FieldInput, FieldState};
pub use lead_form::LeadForm;
