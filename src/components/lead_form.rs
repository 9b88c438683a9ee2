use leadgate_core::{
    FormConfig, FormDraft, Lead, LeadPayload, Map, Meta, Visibility, VisitorContext,
};
use leptos::prelude::*;
use std::sync::Arc;
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
    /// The validated config (shared: the form's closures hold it, never a copy).
    config: Arc<FormConfig>,
    /// Where qualified leads are POSTed.
    endpoint: String,
    /// The mount element: events are dispatched on it.
    host: Element,
    /// The form's language (`lang`).
    lang: String,
    /// The text direction, `ltr` or `rtl`.
    dir: &'static str,
    /// Answers to prefill, by field name (the JS API's `values`).
    values: Map<String>,
) -> impl IntoView {
    // One state per field, in the config's order (a list: each map type costs KBs of wasm).
    let states: Vec<FieldState> = config.fields.iter().map(FieldState::new).collect();
    // The pages (one for a form without steps) and the one shown.
    let pages = config.pages();
    let page = RwSignal::new(0usize);
    let draft_key = String::from("draft:") + &config.form_id;
    // Prefilled answers (JS API, then data-prefill-<name>, then the URL's query, then this
    // page's arrival), remembered to tell the payload which answers were sent as prefilled.
    let prefilled = {
        let query = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .and_then(|q| web_sys::UrlSearchParams::new_with_str(&q).ok());
        let element = |name: &str| host.get_attribute(&(String::from("data-prefill-") + name));
        let query = |param: &str| query.as_ref().and_then(|q| q.get(param));
        let arrival = if config
            .fields
            .iter()
            .any(|f| f.prefill.as_ref().is_some_and(|p| p.context.is_some()))
        {
            signals::this_page()
        } else {
            Default::default()
        };
        config.prefilled(&values, &element, &query, &arrival)
    };
    // A returning visitor's remembered answers (`remember` and queued fields), if the visitor
    // may be remembered: put in place first; a prefill or a draft may still change them.
    let remembers = config.fields.iter().any(|f| config.remembers(f));
    let known = RwSignal::new(Lead {
        fields: if remembers { read_known(&config.tracking) } else { Map::new() },
    });
    for (field, state) in config.fields.iter().zip(&states) {
        if let Some(value) = known.with_untracked(|k| k.value(&field.name).cloned()) {
            if config.remembers(field) {
                state.restore(&value);
            }
        }
    }
    for (i, value) in &prefilled {
        states[*i].restore(value);
    }
    // A half-filled form from before a reload (kept only where the visitor context may be).
    if let Some(draft) =
        signals::keeping_store(&config.tracking).and_then(|s| s.get(&draft_key, FormDraft::read))
    {
        for (field, state) in config.fields.iter().zip(&states) {
            if let Some(value) = draft.answers.get(&field.name) {
                state.restore(value);
            }
        }
        page.set(draft.step.min(pages.len() - 1));
    }
    // Which steps and fields show, and which are required, for the answers so far. A form
    // without logic skips the evaluation (and the visitor context it may read).
    let has_logic = remembers
        || !config.steps.is_empty()
        || config.fields.iter().any(|f| f.show_if.is_some() || f.required_if.is_some());
    let context: StoredValue<Option<VisitorContext>> = StoredValue::new(None);
    let seen = {
        let (config, states) = (config.clone(), states.clone());
        Memo::new(move |_| {
            let answers = answers_of(&config, &states);
            if !has_logic {
                return Visibility {
                    fields: vec![true; config.fields.len()],
                    required: config.fields.iter().map(|f| f.required).collect(),
                    steps: vec![true],
                    remembered: vec![false; config.fields.len()],
                };
            }
            if context.with_value(Option::is_none) {
                context.set_value(Some(signals::collect()));
            }
            let c = context.get_value().unwrap_or_default();
            known.with(|k| Visibility::with_known(&config, &answers, k, &c, signals::now()))
        })
    };
    // The shown steps, in order, and where the current one is among them.
    let shown_pages = move || -> Vec<usize> {
        seen.with(|v| (0..v.steps.len()).filter(|&s| v.steps[s]).collect())
    };
    let is_last_page = move || shown_pages().last().is_none_or(|&s| s <= page.get());
    {
        // The draft follows every answer (consent ticks are not kept: consent is given anew).
        let (config, states, draft_key) = (config.clone(), states.clone(), draft_key.clone());
        Effect::new(move |_| {
            let mut draft = FormDraft { step: page.get(), answers: Map::new() };
            for (field, state) in config.fields.iter().zip(&states) {
                if field.kind != leadgate_core::FieldKind::Consent {
                    draft.answers.insert(field.name.clone(), state.value(field));
                }
            }
            let Some(store) = signals::keeping_store(&config.tracking) else { return };
            let typed = config.fields.iter().any(|f| {
                f.kind != leadgate_core::FieldKind::Hidden
                    && draft.answers.get(&f.name).is_some_and(leadgate_core::FieldValue::is_present)
            });
            if typed || draft.step > 0 {
                let _ = store.set(&draft_key, &draft);
            } else {
                store.remove(&draft_key);
            }
        });
    }
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

    // The ending picked at submit (`endings`), if any; its redirect once the lead is delivered.
    let ending: RwSignal<Option<usize>> = RwSignal::new(None);
    {
        let endings = config.endings.clone();
        Effect::new(move |_| {
            let url = ending.get().and_then(|i| endings.get(i)).and_then(|e| e.redirect.clone());
            if let (Phase::Sent, Some(url)) = (phase.get(), url) {
                if let Some(window) = web_sys::window() {
                    let _ = window.location().assign(&url);
                }
            }
        });
    }
    let on_submit = {
        let config = config.clone();
        let states = states.clone();
        let pages = pages.clone();
        let draft_key = draft_key.clone();
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
            let lead = untrack(|| answers_of(&config, &states));
            let visibility = seen.get_untracked();
            // Next checks this step only; the last step checks every step shown.
            let current = page.get_untracked();
            let last = untrack(is_last_page);
            let errors = visibility.errors(&config, &lead, (!last).then_some(current));
            for (field, state) in config.fields.iter().zip(&states) {
                let error = errors.iter().find(|(n, _)| *n == field.name);
                state.error.set(error.map(|(_, e)| error_text(*e, &config.texts)));
            }
            notice.set(!errors.is_empty());
            if let Some((first, _)) = errors.first() {
                // On an earlier step (changed answers made a field required): go there.
                if let Some(at) = config
                    .field_index(first)
                    .and_then(|i| pages.iter().position(|p| p.contains(&i)))
                {
                    page.set(at);
                }
                focus_field(form_ref, first);
                return;
            }
            if !last {
                let next = untrack(shown_pages).into_iter().find(|&s| s > current);
                page.set(next.unwrap_or(current));
                focus_step(form_ref);
                return;
            }
            let lead = visibility.shown_answers(&config, lead);
            // Sent as prefilled: shown, and still the value it was given (in the fields'
            // order, which `prefilled` is in already: no sort, whose code costs 2 KB of wasm).
            let prefilled_names: Vec<String> = prefilled
                .iter()
                .filter(|(i, v)| lead.value(&config.fields[*i].name) == Some(v))
                .map(|(i, _)| config.fields[*i].name.clone())
                .collect();
            let remembered: Vec<String> = (0..config.fields.len())
                .filter(|&i| visibility.remembered[i])
                .map(|i| config.fields[i].name.clone())
                .collect();
            // What to remember for the next visit: the kept fields' answers sent now.
            if remembers {
                let mut keep = known.get_untracked().fields;
                for field in config.fields.iter().filter(|f| config.remembers(f)) {
                    if let Some(value) = lead.value(&field.name).filter(|v| v.is_present()) {
                        keep.insert(field.name.clone(), value.clone());
                    }
                }
                if let Some(store) = signals::keeping_store(&config.tracking) {
                    let _ = store.set(KNOWN_KEY, &FormDraft { step: 0, answers: keep });
                }
            }
            if let Some(store) = signals::keeping_store(&config.tracking) {
                store.remove(&draft_key);
            }
            let mut payload = LeadPayload::build(
                &config,
                signals::new_lead_id(),
                lead,
                signals::collect(),
                signals::now(),
            );
            payload.meta = Some(Meta::Widget {
                honeypot: honeypot.get_untracked(),
                fill_ms: (js_sys::Date::now() - rendered_at).max(0.0) as u64,
            });
            // The ending for this lead (shown once it is safe).
            let sent = Lead { fields: payload.fields.clone() };
            let chosen = config.ending(&sent, &payload.context, signals::now(), &payload.score);
            ending.set(chosen.and_then(|e| config.endings.iter().position(|x| std::ptr::eq(x, e))));
            payload.prefilled = prefilled_names;
            payload.remembered = remembered;
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

    // Every step is rendered, stacked in one grid cell: the widget is as tall as its tallest
    // step, so moving between steps never shifts the host page. Steps not shown are inert.
    let multi = pages.len() > 1;
    let steps = pages
        .iter()
        .enumerate()
        .map(|(s, fields)| {
            let fields = fields
                .iter()
                .map(|&i| {
                    let (f, state) = (config.fields[i].clone(), states[i]);
                    view! {
                        <div class="lg-slot" hidden=move || !seen.with(|v| v.fields[i])>
                            <FieldInput field=f state=state texts=texts.clone() busy=busy />
                        </div>
                    }
                })
                .collect_view();
            let title = config.steps.get(s).and_then(|st| st.title.clone()).map(|t| {
                view! { <h3 class="lg-step-title" part="step-title" tabindex="-1">{t}</h3> }
            });
            // `visibility: hidden` (.lg-away) takes a step out of the tab order and the
            // accessibility tree too.
            view! {
                <div class="lg-step" part="step" data-step=s class:lg-away=move || page.get() != s>
                    {title}
                    {fields}
                </div>
            }
        })
        .collect_view();
    // "We remember your Full name, Work e-mail." and "Not you?", which forgets them.
    let remembered_note = remembers.then(|| {
        let states = states.clone();
        let template = texts.remembered.clone();
        let labels = {
            let config = config.clone();
            move || {
                let labels: Vec<String> = seen.with(|v| {
                    (0..v.remembered.len())
                        .filter(|&i| v.remembered[i])
                        .map(|i| config.fields[i].label.clone())
                        .collect()
                });
                (!labels.is_empty()).then(|| template.replace("{fields}", &labels.join(", ")))
            }
        };
        let forget = move |_| {
            if let Some(store) = crate::storage::Store::local() {
                store.remove(KNOWN_KEY);
            }
            let was = seen.get_untracked().remembered;
            for (i, state) in states.iter().enumerate() {
                if was[i] {
                    state.text.set(String::new());
                    state.checked.set(false);
                }
            }
            known.set(Lead::default());
        };
        let not_you = texts.not_you.clone();
        move || {
            labels().map(|text| {
                view! {
                    <p class="lg-known" part="known" data-testid="known">
                        {text}" "
                        <button type="button" class="lg-not-you" part="not-you"
                            data-testid="not-you" on:click=forget.clone()>{not_you.clone()}</button>
                    </p>
                }
            })
        }
    });
    let progress = multi.then(|| {
        let template = texts.step_of.clone();
        let text = move || {
            let shown = shown_pages();
            let n = shown.iter().position(|&s| s == page.get()).map_or(1, |n| n + 1);
            template.replace("{n}", &n.to_string()).replace("{total}", &shown.len().to_string())
        };
        view! {
            <p class="lg-progress" part="progress" data-testid="progress" tabindex="-1"
                aria-live="polite">{text}</p>
        }
    });
    let back = multi.then(|| {
        let first = move || shown_pages().first().is_none_or(|&s| s >= page.get());
        view! {
            <button type="button" class="lg-back" part="back" data-testid="back"
                hidden=first disabled=move || busy.get()
                on:click=move |_| {
                    let current = page.get_untracked();
                    let before = untrack(shown_pages).into_iter().rev().find(|&s| s < current);
                    page.set(before.unwrap_or(current));
                    focus_step(form_ref);
                }>
                {texts.back.clone()}
            </button>
        }
    });
    let title = config.title.clone().map(|t| view! { <h2 class="lg-title" part="title">{t}</h2> });
    let status = {
        let texts = texts.clone();
        let endings = config.endings.clone();
        move || match phase.get() {
            Phase::Sending => texts.sending.clone(),
            Phase::Queued => texts.queued.clone(),
            Phase::Failed => texts.failed.clone(),
            Phase::Sent => ending
                .get()
                .and_then(|i| endings.get(i))
                .and_then(|e| e.text.clone())
                .unwrap_or_else(|| texts.success.clone()),
            Phase::Editing if notice.get() => texts.check_fields.clone(),
            Phase::Editing => String::new(),
        }
    };
    let button_text = {
        let texts = texts.clone();
        move || match phase.get() {
            Phase::Sending => texts.sending.clone(),
            Phase::Failed | Phase::Queued => texts.retry.clone(),
            _ if !is_last_page() => texts.next.clone(),
            _ => texts.submit.clone(),
        }
    };
    let ending_link = {
        let endings = config.endings.clone();
        move || {
            let link = ending.get().and_then(|i| endings.get(i)).and_then(|e| e.link.clone())?;
            (phase.get() == Phase::Sent).then(|| {
                view! {
                    <a class="lg-ending-link" part="ending-link" data-testid="ending-link"
                        href=link.url>{link.text}</a>
                }
            })
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
                {remembered_note}
                {progress}
                <div class="lg-steps">{steps}</div>
                <div class="lg-hp" aria-hidden="true">
                    <label>
                        "Leave this field empty"
                        <input type="text" name="lg_website" tabindex="-1" autocomplete="off"
                            prop:value=move || honeypot.get()
                            on:input=move |ev| honeypot.set(event_target_value(&ev)) />
                    </label>
                </div>
                <div class="lg-nav">
                    {back}
                    <button type="submit" class="lg-submit" part="submit" data-testid="submit"
                        disabled=move || phase.get() == Phase::Sending
                        aria-busy=move || if phase.get() == Phase::Sending { "true" } else { "false" }>
                        {button_text}
                    </button>
                </div>
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
            {ending_link}
        </div>
    }
}

/// Where a returning visitor's remembered answers are kept (`leadgate:known`, one set for the
/// site's forms, as a [`FormDraft`] without a step).
const KNOWN_KEY: &str = "known";

/// The remembered answers, if the visitor may be remembered under `tracking`.
fn read_known(
    tracking: &leadgate_core::tracking::TrackingConfig,
) -> Map<leadgate_core::FieldValue> {
    signals::keeping_store(tracking)
        .and_then(|s| s.get(KNOWN_KEY, FormDraft::read))
        .map(|d| d.answers)
        .unwrap_or_default()
}

/// The answers in the fields' states, by name (tracked).
fn answers_of(config: &FormConfig, states: &[super::field::FieldState]) -> Lead {
    let mut lead = Lead { fields: Map::new() };
    lead.fields.extend(config.fields.iter().zip(states).map(|(f, s)| (f.name.clone(), s.value(f))));
    lead
}

/// Moves focus to the heading of the step now shown (else the progress line), once it is
/// rendered, without scrolling the host page.
fn focus_step(form_ref: NodeRef<leptos::html::Form>) {
    request_animation_frame(move || {
        let Some(form) = form_ref.get_untracked() else { return };
        let target = form
            .query_selector(".lg-step:not(.lg-away) .lg-step-title")
            .ok()
            .flatten()
            .or_else(|| form.query_selector(".lg-progress").ok().flatten());
        if let Some(el) = target.and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()) {
            let options = web_sys::FocusOptions::new();
            options.set_prevent_scroll(true);
            let _ = el.focus_with_options(&options);
        }
    });
}

/// Moves focus to the input of the field called `name`: at once when its step is shown, else
/// once the step it is on has been rendered (a field on a hidden step cannot take focus).
fn focus_field(form_ref: NodeRef<leptos::html::Form>, name: &str) {
    let selector = String::from("#lg-") + name;
    let focus = move || {
        let Some(form) = form_ref.get_untracked() else { return true };
        let Some(el) = form.query_selector(&selector).ok().flatten() else { return true };
        let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() else { return true };
        // Focus can fail on a hidden element; the error text is still shown.
        let _ = el.focus();
        let root = el.get_root_node().dyn_into::<web_sys::ShadowRoot>().ok();
        root.and_then(|r| r.active_element()).is_some_and(|a| a == *el)
    };
    if !focus() {
        request_animation_frame(move || {
            focus();
        });
    }
}
