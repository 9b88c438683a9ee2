//! The only module that reads the host page: finds `[data-leadgate]` mount points (also ones
//! added later), reads their config, and mounts each widget into its own shadow root.

use leadgate_core::locale::Direction;
use leadgate_core::FormConfig;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, ShadowRoot, ShadowRootInit, ShadowRootMode};

use crate::components::{ConfigErrorBox, LeadForm};
use crate::delivery;
use crate::events::{emit, EventDetail};

/// The widget's stylesheet, adopted by every shadow root (no `<style>`: strict CSPs block it);
/// style/widget.css as build.rs minified it.
const CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/widget.min.css"));

/// The attribute that marks an element as handled: `loading`, `ready` or `error`.
const STATE: &str = "data-leadgate-state";

/// Mounts every `[data-leadgate]` element of the page, now and whenever one is added.
///
/// The work is spread over several short tasks (config, render, then the rest), so the page
/// stays responsive while the widget starts: no task of its own is long.
pub fn start() {
    install_js_api();
    scan();
    observe_additions();
    wasm_bindgen_futures::spawn_local(async {
        delivery::sleep(0).await;
        crate::outbox::start();
        // A page without a widget still counts as a page seen (for a known visitor); a widget
        // records it itself, with its form's tracking settings.
        let widgets = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector("[data-leadgate-state]").ok().flatten());
        if widgets.is_none() {
            crate::signals::resume_tracking();
        }
    });
}

fn scan() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Ok(found) = document.query_selector_all("[data-leadgate]:not([data-leadgate-state])")
    else {
        return;
    };
    for i in 0..found.length() {
        if let Some(host) = found.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
            // Marked before anything async, so a second scan never mounts it twice.
            let _ = host.set_attribute(STATE, "loading");
            wasm_bindgen_futures::spawn_local(load(host));
        }
    }
}

fn observe_additions() {
    let Some(root) =
        web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element())
    else {
        return;
    };
    let callback = Closure::<dyn FnMut()>::new(scan);
    if let Ok(observer) = web_sys::MutationObserver::new(callback.as_ref().unchecked_ref()) {
        let options = web_sys::MutationObserverInit::new();
        options.set_child_list(true);
        options.set_subtree(true);
        let _ = observer.observe_with_options(&root, &options);
    }
    // The observer lives as long as the page.
    callback.forget();
}

async fn load(host: Element) {
    let prepared = read_config(&host).await.and_then(|(config, endpoint)| {
        let container = shadow_container(&host)?;
        crate::signals::record_page_view(&config.tracking);
        Ok((container, config, endpoint))
    });
    // The first render in a task of its own.
    delivery::sleep(0).await;
    match prepared {
        Ok((container, config, endpoint)) => {
            render(&host, container, config, endpoint, Default::default()).forget()
        }
        Err(message) => {
            show_config_error(&host, message);
            crate::signals::resume_tracking();
        }
    }
}

/// Reads the element's config source (`data-config`: `#id` of an inline JSON script, or a URL)
/// and its endpoint (`data-endpoint`, else the config's).
async fn read_config(host: &Element) -> Result<(FormConfig, String), String> {
    let source = host.get_attribute("data-config").unwrap_or_default();
    let source = source.trim();
    // Reading the config in a task of its own, not in the one that loaded the wasm.
    delivery::sleep(0).await;
    let text = if let Some(id) = source.strip_prefix('#') {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(id))
            .and_then(|el| el.text_content())
            .ok_or_else(|| {
                String::from("leadgate: data-config=\"")
                    + source
                    + "\" names no element on the page; expected the id of a "
                    + "<script type=\"application/json\"> holding the config"
            })?
    } else if source.is_empty() {
        return Err("leadgate: the element has no data-config attribute; set it to \"#id\" \
            of a <script type=\"application/json\"> or to the URL of a JSON file"
            .into());
    } else {
        delivery::fetch_text(source).await.map_err(|e| {
            String::from("leadgate: could not load the config from ")
                + source
                + ": "
                + &e.describe()
        })?
    };
    let page_lang = inherited(host, "lang");
    with_endpoint(host, &text, page_lang.as_deref())
        .map_err(|e| String::from("in data-config=\"") + source + "\": " + &e.to_string())
}

/// The config in `text` and where its leads go (the element's `data-endpoint`, else the
/// config's).
fn with_endpoint(
    host: &Element,
    text: &str,
    page_lang: Option<&str>,
) -> Result<(FormConfig, String), leadgate_core::ConfigError> {
    let config = FormConfig::from_json_in(text, page_lang)?;
    let endpoint = config.resolve_endpoint(host.get_attribute("data-endpoint"))?;
    Ok((config, endpoint))
}

/// Adds `mount(element, config)` to `window.leadgate`, for single-page apps: `config` is the
/// config object (or its JSON text); the element's `data-endpoint` overrides its endpoint. It
/// returns a handle whose `unmount()` removes the widget, or throws an `Error` whose message
/// names the place in the config.
fn install_js_api() {
    let Some(window) = web_sys::window() else { return };
    let api = js_sys::Reflect::get(&window, &"leadgate".into())
        .ok()
        .filter(|v| v.is_object())
        .unwrap_or_else(|| js_sys::Object::new().into());
    let mount_fn =
        Closure::<dyn Fn(Element, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(js_mount);
    let installed = js_sys::Reflect::set(&api, &"mount".into(), mount_fn.as_ref())
        .and_then(|_| js_sys::Reflect::set(&window, &"leadgate".into(), &api));
    if installed.is_ok() {
        // The API lives as long as the page.
        mount_fn.forget();
    }
}

fn js_mount(host: Element, config: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let error = |message: String| JsValue::from(js_sys::Error::new(&message));
    if host.has_attribute(STATE) {
        return Err(error("leadgate.mount: this element already holds a widget; call unmount() on its handle first".into()));
    }
    let text = match config.as_string() {
        Some(text) => text,
        None => config_json(&config)
            .ok_or_else(|| error("leadgate.mount: the config is not a JSON object".into()))?,
    };
    let page_lang = inherited(&host, "lang");
    let (config, endpoint) = with_endpoint(&host, &text, page_lang.as_deref())
        .map_err(|e| error(String::from("leadgate.mount: ") + &e.to_string()))?;
    // `{ values: { email: "ada@example.com" } }`: answers to prefill, as text.
    let values = js_sys::Reflect::get(&options, &"values".into())
        .ok()
        .filter(JsValue::is_object)
        .and_then(|v| config_json(&v))
        .and_then(|text| {
            let json = leadgate_core::json::parse(&text).ok()?;
            leadgate_core::json::Node::root(&json).string_map().ok()
        })
        .unwrap_or_default();
    let widget = mount(&host, config, endpoint, values).map_err(error)?;
    // The widget lives until `unmount()`, not as long as the handle: a page that drops the
    // handle keeps its form (it vanished at the next garbage collection when the handle owned it).
    MOUNTED.with(|mounted| mounted.borrow_mut().push((host.clone(), widget)));
    let unmount = Closure::<dyn Fn()>::new(move || {
        let widget = MOUNTED.with(|mounted| {
            let mut mounted = mounted.borrow_mut();
            let at = mounted.iter().position(|(el, _)| *el == host)?;
            Some(mounted.swap_remove(at).1)
        });
        if let Some(widget) = widget {
            widget.unmount();
            if let Some(root) = host.shadow_root() {
                clear(&root);
            }
            let _ = host.remove_attribute(STATE);
        }
    });
    let handle = js_sys::Object::new();
    // Freed with the handle object: a closure kept alive by JS alone would leak per mount.
    let unmount: JsValue = unmount.into_js_value();
    js_sys::Reflect::set(&handle, &"unmount".into(), &unmount)?;
    Ok(handle.into())
}

/// `JSON.stringify(config)` as the standard defines it: the page's own
/// `Array.prototype.toJSON`, if it has one, is set aside meanwhile. Prototype.js and its kin
/// define one that turns every array into a string, and the config's lists would arrive as text.
fn config_json(config: &JsValue) -> Option<String> {
    let arrays = js_sys::Object::get_prototype_of(&js_sys::Array::new());
    let key = JsValue::from_str("toJSON");
    let own = js_sys::Object::get_own_property_descriptor(&arrays, &key);
    let set_aside =
        !own.is_undefined() && js_sys::Reflect::delete_property(&arrays, &key).unwrap_or(false);
    let text = js_sys::JSON::stringify(config).ok().and_then(|t| t.as_string());
    if set_aside {
        js_sys::Object::define_property(&arrays, &key, own.unchecked_ref());
    }
    text
}

/// A mounted widget. Dropping it (or [`WidgetHandle::unmount`]) removes the widget and its
/// reactive state; [`WidgetHandle::forget`] keeps it for the life of the page.
pub struct WidgetHandle {
    _view: Box<dyn std::any::Any>,
}

impl WidgetHandle {
    /// Removes the widget.
    pub fn unmount(self) {
        drop(self);
    }

    /// Keeps the widget for the life of the page.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

/// Mounts a widget for `config` into an open shadow root on `host`, posting to `endpoint`,
/// with `values` prefilled (the JS API's).
pub fn mount(
    host: &Element,
    config: FormConfig,
    endpoint: String,
    values: leadgate_core::Map<String>,
) -> Result<WidgetHandle, String> {
    let container = shadow_container(host)?;
    crate::signals::record_page_view(&config.tracking);
    Ok(render(host, container, config, endpoint, values))
}

/// Renders the widget into `container` (see [`shadow_container`]).
fn render(
    host: &Element,
    container: web_sys::HtmlElement,
    config: FormConfig,
    endpoint: String,
    values: leadgate_core::Map<String>,
) -> WidgetHandle {
    let form_id = config.form_id.clone();
    let owner = host.clone();
    let lang = config.locale.clone().or_else(|| inherited(host, "lang")).unwrap_or("en".into());
    let dir = config
        .dir
        .or_else(|| Direction::of_locale(&lang))
        .or_else(|| {
            inherited(host, "dir").filter(|d| d.eq_ignore_ascii_case("rtl")).map(|_| Direction::Rtl)
        })
        .unwrap_or(Direction::Ltr);
    let config = std::sync::Arc::new(config);
    let handle = leptos::mount::mount_to(container, move || {
        view! {
            <LeadForm config=config.clone() endpoint=endpoint.clone() host=owner.clone()
                lang=lang.clone() dir=dir.as_str() values=values.clone() />
        }
    });
    let _ = host.set_attribute(STATE, "ready");
    emit(host, "leadgate:ready", &EventDetail { form_id, ..Default::default() });
    WidgetHandle { _view: Box::new(handle) }
}

/// The host page's `lang` or `dir` that applies to `host` (its own or the closest ancestor's).
fn inherited(host: &Element, attribute: &str) -> Option<String> {
    let selector = String::from("[") + attribute + "]";
    host.closest(&selector)
        .ok()
        .flatten()
        .and_then(|el| el.get_attribute(attribute))
        .filter(|v| !v.trim().is_empty())
}

fn show_config_error(host: &Element, message: String) {
    web_sys::console::error_1(&message.as_str().into());
    let _ = host.set_attribute(STATE, "error");
    emit(
        host,
        "leadgate:error",
        &EventDetail { error: Some(message.clone()), ..Default::default() },
    );
    match shadow_container(host) {
        Ok(container) => leptos::mount::mount_to(container, move || {
            view! { <ConfigErrorBox message=message.clone() /> }
        })
        .forget(),
        // No shadow root possible (e.g. an <input> host): say so in the light DOM.
        Err(_) => host.set_text_content(Some(&message)),
    }
}

/// An empty `<div>` inside the host's (new or existing) open shadow root, styled.
fn shadow_container(host: &Element) -> Result<web_sys::HtmlElement, String> {
    let root = match host.shadow_root() {
        Some(root) => root,
        None => host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open)).map_err(|_| {
            String::from("leadgate: cannot attach a shadow root to <") + &host.tag_name() + ">"
        })?,
    };
    clear(&root);
    adopt_styles(&root);
    let document = host.owner_document().ok_or("leadgate: the element is not in a document")?;
    let container =
        document.create_element("div").map_err(|_| "leadgate: cannot create an element")?;
    container.set_class_name("lg-root");
    root.append_child(&container).map_err(|_| "leadgate: cannot fill the shadow root")?;
    container.dyn_into().map_err(|_| "leadgate: not an HTML element".into())
}

/// Empties a shadow root. Not `innerHTML = ""`: a page under Trusted Types
/// (`require-trusted-types-for 'script'`) refuses any string there, even an empty one, and the
/// widget would never mount. Setting `textContent` to null removes the children, no HTML parsed.
fn clear(root: &ShadowRoot) {
    root.set_text_content(None);
}

thread_local! {
    /// The widgets mounted through the JS API, by host element, until their `unmount()`.
    static MOUNTED: std::cell::RefCell<Vec<(Element, WidgetHandle)>> =
        const { std::cell::RefCell::new(Vec::new()) };
    static SHEET: Option<web_sys::CssStyleSheet> = web_sys::CssStyleSheet::new()
        .ok()
        .filter(|sheet| sheet.replace_sync(CSS).is_ok());
}

fn adopt_styles(root: &ShadowRoot) {
    let adopted = SHEET.with(|sheet| {
        sheet.as_ref().map(|sheet| root.set_adopted_style_sheets(&js_sys::Array::of1(sheet)))
    });
    if adopted.is_none() {
        // No constructable stylesheets (Safari < 16.4): a <style> element, fine without a CSP.
        if let Some(style) = root.owner_document().and_then(|d| d.create_element("style").ok()) {
            style.set_text_content(Some(CSS));
            let _ = root.append_child(&style);
        }
    }
}
