//! The widget's components, one a file.

mod config_error;
mod field;
mod lead_form;

pub use config_error::ConfigErrorBox;
pub use field::{FieldInput, FieldState};
pub use lead_form::LeadForm;
