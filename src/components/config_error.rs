use leptos::prelude::*;

/// What a visitor sees in the widget's place when the config can't be used: a short apology
/// and, for the marketer, the exact problem (also in the console).
#[component]
pub fn ConfigErrorBox(
    /// The problem, naming the place in the config.
    message: String,
) -> impl IntoView {
    view! {
        <div class="lg-config-error" role="alert" part="config-error" data-testid="config-error">
            <p class="lg-config-error-title">{"This form could not be loaded."}</p>
            <p class="lg-config-error-detail"><code>{message}</code></p>
        </div>
    }
}
