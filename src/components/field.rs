use leadgate_core::{suggest_email_fix, Field, FieldError, FieldKind, FieldValue, Texts};
use leptos::prelude::*;

/// The live state of one field: what the visitor typed or ticked, and its error.
#[derive(Debug, Clone, Copy)]
pub struct FieldState {
    /// The text typed (or the hidden field's fixed value).
    pub text: RwSignal<String>,
    /// Whether the box is ticked (checkbox, consent).
    pub checked: RwSignal<bool>,
    /// The error shown under the field, if any.
    pub error: RwSignal<Option<String>>,
}

impl FieldState {
    /// A fresh state for `field`.
    pub fn new(field: &Field) -> Self {
        FieldState {
            text: RwSignal::new(field.value.clone().unwrap_or_default()),
            checked: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// The current answer, tracked (a memo that reads it reruns when it changes).
    pub fn value(&self, field: &Field) -> FieldValue {
        if field.kind.is_tick() {
            FieldValue::Checked(self.checked.get())
        } else {
            FieldValue::Text(self.text.with(|t| t.trim().to_string()))
        }
    }

    /// Puts a kept answer back (a draft after a reload).
    pub fn restore(&self, value: &FieldValue) {
        match value {
            FieldValue::Checked(on) => self.checked.set(*on),
            FieldValue::Text(text) => self.text.set(text.clone()),
        }
    }
}

/// The text shown for a validation error, from the config's texts.
pub fn error_text(error: FieldError, texts: &Texts) -> String {
    match error {
        FieldError::Required => texts.required.clone(),
        FieldError::InvalidEmail => texts.invalid_email.clone(),
        FieldError::TooShort(n) => texts.too_short.replace("{n}", &n.to_string()),
        FieldError::TooLong(n) => texts.too_long.replace("{n}", &n.to_string()),
        FieldError::NotAnOption | _ => texts.required.clone(),
    }
}

/// One labelled input with its help text and error, tied together for screen readers.
#[component]
pub fn FieldInput(
    /// The field's config.
    field: Field,
    /// Its live state.
    state: FieldState,
    /// The config's texts (for the select's empty choice).
    texts: Texts,
    /// True while a submission is in flight: inputs are read-only then.
    #[prop(into)]
    busy: Signal<bool>,
) -> impl IntoView {
    let id = String::from("lg-") + &field.name;
    let error_id = id.clone() + "-error";
    let help_id = id.clone() + "-help";
    let described_by = {
        let (help_id, error_id) = (help_id.clone(), error_id.clone());
        let has_help = field.help.is_some();
        move || {
            let mut ids = Vec::new();
            if has_help {
                ids.push(help_id.clone());
            }
            if state.error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let invalid = move || if state.error.get().is_some() { "true" } else { "false" };
    let on_text = move |ev: leptos::ev::Event| {
        state.text.set(event_target_value(&ev));
        state.error.set(None);
    };
    let on_tick = move |ev: leptos::ev::Event| {
        state.checked.set(event_target_checked(&ev));
        state.error.set(None);
    };
    let help = field.help.clone().map(|help| {
        view! { <p class="lg-help" id=help_id.clone() part="help">{help}</p> }
    });
    let error = {
        let error_id = error_id.clone();
        move || {
            state.error.get().map(|message| {
                view! {
                    <p class="lg-error" id=error_id.clone() part="error" data-testid="field-error">
                        {message}
                    </p>
                }
            })
        }
    };
    // "ada@gmial.com": offer the likely address, never change it behind the visitor's back.
    let suggestion = (field.kind == FieldKind::Email).then(|| {
        let template = texts.did_you_mean.clone();
        move || {
            let fix = suggest_email_fix(&state.text.get())?;
            let label = template.replace("{email}", &fix);
            Some(view! {
                <button type="button" class="lg-suggestion" part="suggestion"
                    data-testid="email-suggestion"
                    on:click=move |_| state.text.set(fix.clone())>
                    {label}
                </button>
            })
        }
    });
    let name = field.name.clone();
    let required = field.required;
    let max_len = field.max_len().to_string();
    let placeholder = field.placeholder.clone();
    let label = field.label.clone();
    let input = match field.kind {
        FieldKind::Hidden => return ().into_any(),
        FieldKind::Checkbox | FieldKind::Consent => {
            let class = if field.kind == FieldKind::Consent {
                "lg-field lg-consent"
            } else {
                "lg-field lg-check"
            };
            return view! {
                <div class=class part="field">
                    <input type="checkbox" id=id.clone() name=name
                        prop:checked=move || state.checked.get()
                        on:change=on_tick
                        required=required
                        disabled=move || busy.get()
                        aria-invalid=invalid
                        aria-describedby=described_by />
                    <label for=id part="label">
                        {label}
                        {required.then(|| view! { <span class="lg-required" aria-hidden="true">{" *"}</span> })}
                    </label>
                    {help}
                    {error}
                </div>
            }
            .into_any();
        }
        FieldKind::Select => {
            let options = field
                .options
                .iter()
                .map(|o| {
                    let text = o.label.clone().unwrap_or_else(|| o.value.clone());
                    view! { <option value=o.value.clone()>{text}</option> }
                })
                .collect_view();
            view! {
                <select id=id.clone() name=name part="input"
                    prop:value=move || state.text.get()
                    on:change=on_text
                    required=required
                    disabled=move || busy.get()
                    aria-invalid=invalid
                    aria-describedby=described_by>
                    <option value="">{texts.choose.clone()}</option>
                    {options}
                </select>
            }
            .into_any()
        }
        FieldKind::Textarea => view! {
            <textarea id=id.clone() name=name part="input" rows="4"
                prop:value=move || state.text.get()
                on:input=on_text
                placeholder=placeholder
                required=required
                maxlength=max_len
                readonly=move || busy.get()
                aria-invalid=invalid
                aria-describedby=described_by></textarea>
        }
        .into_any(),
        kind => {
            let (input_type, autocomplete) = match kind {
                FieldKind::Email => ("email", Some("email")),
                FieldKind::Tel => ("tel", Some("tel")),
                // (The other kinds have their arms above; listed so a new kind is a compile
                // error here, not a text input.)
                FieldKind::Text
                | FieldKind::Select
                | FieldKind::Checkbox
                | FieldKind::Textarea
                | FieldKind::Hidden
                | FieldKind::Consent => ("text", autocomplete_for(&field.name)),
            };
            view! {
                <input type=input_type id=id.clone() name=name part="input"
                    prop:value=move || state.text.get()
                    on:input=on_text
                    placeholder=placeholder
                    autocomplete=autocomplete
                    required=required
                    maxlength=max_len
                    readonly=move || busy.get()
                    aria-invalid=invalid
                    aria-describedby=described_by />
            }
            .into_any()
        }
    };
    view! {
        <div class="lg-field" part="field">
            <label for=id part="label">
                {label}
                {required.then(|| view! { <span class="lg-required" aria-hidden="true">{" *"}</span> })}
            </label>
            {input}
            {suggestion}
            {help}
            {error}
        </div>
    }
    .into_any()
}

/// Browser autofill hints for common field names.
fn autocomplete_for(name: &str) -> Option<&'static str> {
    Some(match name {
        "name" | "full_name" => "name",
        "first_name" | "given_name" => "given-name",
        "last_name" | "family_name" => "family-name",
        "company" | "organization" => "organization",
        "job_title" | "title" | "role" => "organization-title",
        "country" => "country-name",
        _ => return None,
    })
}
