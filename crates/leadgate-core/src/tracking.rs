//! What the widget may remember about a visitor between pages, and when.

use serde::Serialize;

/// Privacy switches for the visitor context the widget keeps in the browser (visits, pages
/// seen, first and last touch). Every key is optional.
#[derive(Debug, Clone, PartialEq, Serialize, leadgate_derive::FromJson)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct TrackingConfig {
    /// Store nothing about the visitor until they tick the form's consent box. Defaults to
    /// false. Until then only the current page's context is sent with a lead.
    pub require_consent: bool,
    /// Store nothing when the browser sends Global Privacy Control
    /// (`navigator.globalPrivacyControl`). Defaults to true.
    pub honor_gpc: bool,
    /// Minutes of inactivity that end a visit. Defaults to 30.
    pub visit_timeout_minutes: u32,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        TrackingConfig { require_consent: false, honor_gpc: true, visit_timeout_minutes: 30 }
    }
}
