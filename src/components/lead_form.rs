use std::collections::BTreeMap;

use leadgate_core::{FormConfig, Lead, LeadPayload};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::field::{error_text, FieldInput, FieldState};
use crate::delivery::{self, DeliveryError};
use crate::events::{emit, EventDetail};
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
    /// Sending failed; the lead is kept for a retry.
    Failed,
}

/// The lead form: renders the config's fields, validates, scores with the core engine and
/// delivers qualified leads, dispatching the `leadgate:*` events on `host`.
#[component]
pub fn LeadForm(
    /// The validated config.
    config: FormConfig,
    /// Where qualified leads are POSTed.
    endpoint: String,
    /// The mount element: events are dispatched on it.
    host: Element,
) -> impl IntoView {
    let states: BTreeMap<String, FieldState> =
        config.fields.iter().map(|f| (f.name.clone(), FieldState::new(f))).collect();
    let texts = config.texts.clone();
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let kept: StoredValue<Option<LeadPayload>> = StoredValue::new(None);
    let skipped = RwSignal::new(false);

    let deliver = {
        let host = host.clone();
        Action::new_local(move |payload: &LeadPayload| {
            let (payload, endpoint, host) = (payload.clone(), endpoint.clone(), host.clone());
            async move {
                let result = delivery::send(&endpoint, &payload).await;
                let mut detail = EventDetail::for_lead(&payload);
                match &result {
                    Ok(()) => emit(&host, "leadgate:delivered", &detail),
                    Err(e) => {
                        let message = String::from("leadgate: lead ")
                            + &payload.id
                            + " not delivered ("
                            + &e.describe()
                            + "); it is kept for a retry";
                        web_sys::console::error_1(&message.as_str().into());
                        detail.error = Some(e.describe());
                        emit(&host, "leadgate:error", &detail);
                    }
                }
                result
            }
        })
    };
    let phase = Memo::new(move |_| {
        if deliver.pending().get() {
            return Phase::Sending;
        }
        match deliver.value().get() {
            Some(Ok(())) => Phase::Sent,
            Some(Err::<(), DeliveryError>(_)) => Phase::Failed,
            None if skipped.get() => Phase::Sent,
            None => Phase::Editing,
        }
    });
    let busy = Signal::derive(move || matches!(phase.get(), Phase::Sending | Phase::Failed));

    let on_submit = {
        let config = config.clone();
        let states = states.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            match phase.get_untracked() {
                Phase::Sending | Phase::Sent => return,
                Phase::Failed => {
                    // Same lead, same id: the endpoint stores it once however often it arrives.
                    if let Some(payload) = kept.get_value() {
                        deliver.dispatch_local(payload);
                    }
                    return;
                }
                Phase::Editing => {}
            }
            let lead = Lead {
                fields: config
                    .fields
                    .iter()
                    .filter_map(|f| states.get(&f.name).map(|s| (f.name.clone(), s.value(f))))
                    .collect(),
            };
            let errors = lead.validate(&config);
            for (name, state) in &states {
                let error = errors.iter().find(|(n, _)| n == name);
                state.error.set(error.map(|(_, e)| error_text(*e, &config.texts)));
            }
            if let Some((first, _)) = errors.first() {
                focus_field(form_ref, first);
                return;
            }
            let payload = LeadPayload::build(
                &config,
                signals::new_lead_id(),
                lead,
                signals::collect(),
                signals::now(),
            );
            let detail = EventDetail::for_lead(&payload);
            emit(&host, "leadgate:submit", &detail);
            if payload.score.qualified {
                emit(&host, "leadgate:qualified", &detail);
                kept.set_value(Some(payload.clone()));
                deliver.dispatch_local(payload);
            } else {
                skipped.set(true);
            }
        }
    };

    let fields = config
        .fields
        .iter()
        .filter_map(|f| {
            let state = *states.get(&f.name)?;
            Some(view! { <FieldInput field=f.clone() state=state texts=texts.clone() busy=busy /> })
        })
        .collect_view();
    let title = config.title.clone().map(|t| view! { <h2 class="lg-title" part="title">{t}</h2> });
    let status = {
        let texts = texts.clone();
        move || match phase.get() {
            Phase::Sending => texts.sending.clone(),
            Phase::Failed => texts.failed.clone(),
            Phase::Sent => texts.success.clone(),
            Phase::Editing => String::new(),
        }
    };
    let button_text = {
        let texts = texts.clone();
        move || match phase.get() {
            Phase::Sending => texts.sending.clone(),
            Phase::Failed => texts.retry.clone(),
            _ => texts.submit.clone(),
        }
    };
    let status_class = move || match phase.get() {
        Phase::Failed => "lg-status lg-status-failed",
        Phase::Sent => "lg-status lg-status-sent",
        _ => "lg-status",
    };

    view! {
        <div class="lg-widget" part="widget" data-testid="widget">
            {title}
            <form node_ref=form_ref novalidate=true part="form"
                class:lg-hidden=move || phase.get() == Phase::Sent
                on:submit=on_submit>
                {fields}
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
