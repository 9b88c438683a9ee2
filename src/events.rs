//! What the widget tells the host page: DOM events on the mount element, and `dataLayer`.

use leadgate_core::json::{Node, Read};
use leadgate_core::LeadPayload;
use serde::Serialize;
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit, Element};

/// The `detail` of every `leadgate:*` event. No raw field values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventDetail {
    /// The config's `form_id`.
    pub form_id: String,
    /// The lead's id, once there is a lead.
    pub lead_id: Option<String>,
    /// The score total.
    pub score: Option<i64>,
    /// The grade.
    pub grade: Option<String>,
    /// The funnel stage (`lead`, `mql`).
    pub stage: Option<String>,
    /// Whether the lead qualified.
    pub qualified: Option<bool>,
    /// For `leadgate:error`: what went wrong.
    pub error: Option<String>,
    /// The answers, only when the config's `delivery.events_include_fields` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<leadgate_core::payload::JsonValue>,
}

impl EventDetail {
    /// Reads a detail as `Serialize` wrote it (kept with each lead in the outbox).
    pub fn read(node: &Node) -> Read<EventDetail> {
        let obj = node.any_object()?;
        Ok(EventDetail {
            form_id: obj.opt_string("form_id")?.unwrap_or_default(),
            lead_id: obj.opt_string("lead_id")?,
            score: obj.opt("score", Node::int)?,
            grade: obj.opt_string("grade")?,
            stage: obj.opt_string("stage")?,
            qualified: obj.opt("qualified", Node::boolean)?,
            error: obj.opt_string("error")?,
            fields: obj.get("fields").map(|n| n.json().to_value()),
        })
    }

    /// The detail for events about a scored lead; with `include_fields`, its answers too.
    pub fn for_lead(payload: &LeadPayload, include_fields: bool) -> Self {
        EventDetail {
            form_id: payload.form_id.clone(),
            lead_id: Some(payload.id.clone()),
            score: Some(payload.score.total),
            grade: Some(payload.score.grade.clone()),
            stage: Some(payload.score.stage.as_str().into()),
            qualified: Some(payload.score.qualified),
            error: None,
            fields: include_fields.then(|| serde_json::to_value(&payload.fields).ok()).flatten(),
        }
    }
}

/// Dispatches `name` (e.g. `leadgate:submit`) on `host`, bubbling and composed, and pushes
/// `{event: name, leadgate: detail}` to `window.dataLayer` when the page has one.
pub fn emit(host: &Element, name: &str, detail: &EventDetail) {
    let detail = serde_json::to_string(detail)
        .ok()
        .and_then(|json| js_sys::JSON::parse(&json).ok())
        .unwrap_or(JsValue::NULL);
    let init = CustomEventInit::new();
    init.set_bubbles(true);
    init.set_composed(true);
    init.set_detail(&detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        // A host listener that throws must not stop the widget.
        let _ = host.dispatch_event(&event);
    }
    push_to_data_layer(name, &detail);
}

fn push_to_data_layer(name: &str, detail: &JsValue) {
    let Some(window) = web_sys::window() else { return };
    let Ok(layer) = js_sys::Reflect::get(&window, &JsValue::from_str("dataLayer")) else {
        return;
    };
    if !js_sys::Array::is_array(&layer) {
        return;
    }
    let entry = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&entry, &JsValue::from_str(k), v);
    if set("event", &JsValue::from_str(name)).and_then(|_| set("leadgate", detail)).is_ok() {
        // Tag managers replace `push`; call whatever is there.
        if let Ok(push) = js_sys::Reflect::get(&layer, &JsValue::from_str("push")) {
            if let Some(push) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&push) {
                let _ = push.call1(&layer, &entry);
            }
        }
    }
}
