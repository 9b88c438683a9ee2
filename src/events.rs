//! What the widget tells the host page: DOM events on the mount element, and `dataLayer`.

pub use leadgate_core::outbox::EventDetail;
use serde::Serialize;
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit, Element};

/// Dispatches `name` (e.g. `leadgate:submit`) on `host`, bubbling and composed, and pushes
/// `{event: name, leadgate: detail}` to `window.dataLayer` when the page has one.
pub fn emit(host: &Element, name: &str, detail: &EventDetail) {
    // Plain objects, `null` for what is missing: what `JSON.parse` of the detail's JSON would give.
    let detail = detail
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
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
