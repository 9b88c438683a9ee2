use leadgate_core::{FormConfig, Lead, LeadPayload, Map};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::field::{error_text, FieldInput, FieldState};
use crate::events::{emit, EventDetail};
use crate::funnel;
use crate::outbox::{self, Entry, Outcome};
use crate::signals;

/// Where the visitor's submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Filling in the form.
    Editing,
    /// The lead is on its way.
    Sending,
    /// The lead is safe (delivered, or did not need to be sent).
    Sent,
    /// Saved in the browser's outbox; retried automatically (offline, server down).
    Queued,
    /// The endpoint refused it, or the browser would not store it: the visitor may retry.
    Failed,
}

impl Phase {
    fn after(outcome: Outcome) -> Phase {
        match outcome {
            Outcome::Delivered => Phase::Sent,
            Outcome::Queued => Phase::Queued,
            Outcome::Refused | Outcome::NotSaved => Phase::Failed,
        }
    }
}

/// The lead form: renders the config's fields, validates, scores with the core engine and
/// hands the lead to the outbox, dispatching the `leadgate:*` events on `host`.
#[component]
pub fn LeadForm(
    /// The validated config.
    config: FormConfig,
    /// Where qualified leads are POSTed.
    endpoint: String,
    /// The mount element: events are dispatched on it.
    host: Element,
    /// The form's language (`lang`).
    lang: String,
    /// The text direction, `ltr` or `rtl`.
    dir: &'static str,
) -> impl IntoView {
    // One state per field, in the config's order (a list: each map type costs KBs of wasm).
    let states: Vec<FieldState> = config.fields.iter().map(FieldState::new).collect();
    let texts = config.texts.clone();
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let phase = RwSignal::new(Phase::Editing);
    // Announced in the status region when a submit finds invalid answers.
    let notice = RwSignal::new(false);
    // The submitted lead's id: a retry resends the same lead, never a new one.
    let lead_id: StoredValue<Option<String>> = StoredValue::new(None);
    let busy = Signal::derive(move || !matches!(phase.get(), Phase::Editing));
    // Spam signals for the receiver: a hidden field only bots fill, and the time to fill.
    let honeypot = RwSignal::new(String::new());
    let rendered_at = js_sys::Date::now();
    let events_endpoint = config.delivery.events_endpoint_for(&endpoint);
    {
        // Counted right after the first render, in a task of its own (it reads the visitor's
        // memory: no need to make the form wait for that).
        let (endpoint, form_id) = (events_endpoint.clone(), config.form_id.clone());
        let tracking = config.tracking.clone();
        wasm_bindgen_futures::spawn_local(async move {
            crate::delivery::sleep(0).await;
            funnel::record(endpoint.as_deref(), &form_id, "view", &tracking);
        });
    }
    let submit_events_endpoint = events_endpoint.clone();
    let on_first_input = {
        let (form_id, tracking) = (config.form_id.clone(), config.tracking.clone());
        let started = StoredValue::new(false);
        move |_: leptos::ev::Event| {
            if !started.get_value() {
                started.set_value(true);
                funnel::record(events_endpoint.as_deref(), &form_id, "start", &tracking);
            }
        }
    };

    let on_submit = {
        let config = config.clone();
        let states = states.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            match phase.get_untracked() {
                // A double click or a second Enter: the lead is already on its way.
                Phase::Sending | Phase::Sent => return,
                Phase::Queued | Phase::Failed => {
                    if let Some(id) = lead_id.get_value() {
                        phase.set(Phase::Sending);
                        wasm_bindgen_futures::spawn_local(async move {
                            let outcome = outbox::retry_now(id).await;
                            let _ = phase.try_set(Phase::after(outcome));
                        });
                    }
                    return;
                }
                Phase::Editing => {}
            }
            let mut lead = Lead { fields: Map::new() };
            lead.fields.extend(
                config.fields.iter().zip(&states).map(|(f, s)| (f.name.clone(), s.value(f))),
            );
            let errors = lead.validate(&config);
            for (field, state) in config.fields.iter().zip(&states) {
                let error = errors.iter().find(|(n, _)| *n == field.name);
                state.error.set(error.map(|(_, e)| error_text(*e, &config.texts)));
            }
            notice.set(!errors.is_empty());
            if let Some((first, _)) = errors.first() {
                focus_field(form_ref, first);
                return;
            }
            let mut payload = LeadPayload::build(
                &config,
                signals::new_lead_id(),
                lead,
                signals::collect(),
                signals::now(),
            );
            #[allow(
                clippy::disallowed_macros,
                clippy::disallowed_types,
                reason = "the v1 payload's meta is a JSON value"
            )]
            let meta = serde_json::json!({
                "honeypot": honeypot.get_untracked(),
                "fill_ms": (js_sys::Date::now() - rendered_at).max(0.0) as u64,
            });
            payload.meta = Some(meta);
            if payload.consent.as_ref().is_some_and(|c| c.agreed) {
                signals::grant_consent(&config.tracking);
            }
            let detail = EventDetail::for_lead(&payload, config.delivery.events_include_fields);
            emit(&host, "leadgate:submit", &detail);
            // Counted in the funnel whether or not it qualifies (no answers in it), so the
            // relay's MQL rate is qualified leads of real submits.
            funnel::record(
                submit_events_endpoint.as_deref(),
                &config.form_id,
                "submit",
                &config.tracking,
            );
            // Qualified leads go to sales; the others to the nurture endpoint, if any. The
            // visitor sees the same thank-you either way.
            let target = if payload.score.qualified {
                emit(&host, "leadgate:qualified", &detail);
                Some(endpoint.clone())
            } else {
                config.delivery.nurture_endpoint.clone()
            };
            let Some(target) = target else {
                phase.set(Phase::Sent);
                return;
            };
            phase.set(Phase::Sending);
            lead_id.set_value(Some(payload.id.clone()));
            let Some(entry) = Entry::new(&payload, target, &config.delivery, signals::now().0)
            else {
                phase.set(Phase::Failed);
                return;
            };
            let limit = config.delivery.outbox_limit;
            let host = host.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let later = Box::new(move |outcome| {
                    let _ = phase.try_set(Phase::after(outcome));
                });
                let outcome = outbox::submit(entry, limit, host, later).await;
                let _ = phase.try_set(Phase::after(outcome));
            });
        }
    };

    let fields = config
        .fields
        .iter()
        .zip(states)
        .map(|(f, state)| {
            view! { <FieldInput field=f.clone() state=state texts=texts.clone() busy=busy /> }
        })
        .collect_view();
    let title = config.title.clone().map(|t| view! { <h2 class="lg-title" part="title">{t}</h2> });
    let status = {
        let texts = texts.clone();
        move || match phase.get() {
            Phase::Sending => texts.sending.clone(),
            Phase::Queued => texts.queued.clone(),
            Phase::Failed => texts.failed.clone(),
            Phase::Sent => texts.success.clone(),
            Phase::Editing if notice.get() => texts.check_fields.clone(),
            Phase::Editing => String::new(),
        }
    };
    let button_text = {
        let texts = texts.clone();
        move || match phase.get() {
            Phase::Sending => texts.sending.clone(),
            Phase::Failed | Phase::Queued => texts.retry.clone(),
            _ => texts.submit.clone(),
        }
    };
    let status_class = move || match phase.get() {
        Phase::Failed => "lg-status lg-status-failed",
        Phase::Queued => "lg-status lg-status-queued",
        Phase::Sent => "lg-status lg-status-sent",
        _ => "lg-status",
    };

    view! {
        <div class="lg-widget" part="widget" data-testid="widget" lang=lang dir=dir>
            {title}
            <form node_ref=form_ref novalidate=true part="form"
                class:lg-hidden=move || phase.get() == Phase::Sent
                on:submit=on_submit on:input=on_first_input.clone() on:change=on_first_input>
                {fields}
                <div class="lg-hp" aria-hidden="true">
                    <label>
                        "Leave this field empty"
                        <input type="text" name="lg_website" tabindex="-1" autocomplete="off"
                            prop:value=move || honeypot.get()
                            on:input=move |ev| honeypot.set(event_target_value(&ev)) />
                    </label>
                </div>
                <button type="submit" class="lg-submit" part="submit" data-testid="submit"
                    disabled=move || phase.get() == Phase::Sending
                    aria-busy=move || if phase.get() == Phase::Sending { "true" } else { "false" }>
                    {button_text}
                </button>
            </form>
            <p class=status_class role="status" aria-live="polite" part="status"
                data-testid="status" data-phase=move || match phase.get() {
                    Phase::Editing => "editing",
                    Phase::Sending => "sending",
                    Phase::Sent => "sent",
                    Phase::Queued => "queued",
                    Phase::Failed => "failed",
                }>
                {status}
            </p>
        </div>
    }
}

/// Moves focus to the input of the field called `name`.
fn focus_field(form_ref: NodeRef<leptos::html::Form>, name: &str) {
    let Some(form) = form_ref.get_untracked() else { return };
    let selector = String::from("#lg-") + name;
    if let Ok(Some(el)) = form.query_selector(&selector) {
        if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
            // Focus can fail on a hidden element; the error text is still shown.
            let _ = el.focus();
        }
    }
}
