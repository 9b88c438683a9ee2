//! What the widget may remember about a visitor between pages, and when.

use serde::Serialize;

use crate::json::Node;

/// Privacy switches for the visitor context the widget keeps in the browser (visits, pages
/// seen, first and last touch). Every key is optional.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

impl TrackingConfig {
    pub(crate) fn read(node: &Node) -> crate::json::Read<TrackingConfig> {
        let obj = node.object(&["require_consent", "honor_gpc", "visit_timeout_minutes"])?;
        let default = TrackingConfig::default();
        Ok(TrackingConfig {
            require_consent: obj
                .opt("require_consent", Node::boolean)?
                .unwrap_or(default.require_consent),
            honor_gpc: obj.opt("honor_gpc", Node::boolean)?.unwrap_or(default.honor_gpc),
            visit_timeout_minutes: obj
                .opt("visit_timeout_minutes", Node::count)?
                .unwrap_or(default.visit_timeout_minutes),
        })
    }
}

impl Default for TrackingConfig {
    fn default() -> Self {
        TrackingConfig { require_consent: false, honor_gpc: true, visit_timeout_minutes: 30 }
    }
}
