//! The form machinery every form uses, shipped to the browser as islands.
//!
//! `ServerForm` is the one form island. Its fields are rendered on the server
//! (children); in the browser it submits them to a server function with
//! `fetch`, shows the typed error inline next to the field it names, keeps the
//! input, asks for confirmation first when told to, and follows the redirect
//! the server function chose. Without JavaScript the same `<form>` still posts.
//! `GateForm` does the same for starts and shows the presenter's toast.
//! Form targets come from each server function's own path ([`target`]).

use domain::AppError;
use leptos::prelude::*;

/// Server functions posted by a plain form on a page without script, and
/// the page each one's errors go back to (sign-in, its second step, setup:
/// they load no wasm).
pub const PLAIN_FORMS: &[(&str, &str)] = &[
    ("/api/session/sign_in", "/sign-in"),
    ("/api/session/code", "/sign-in/code"),
    ("/api/setup", "/setup"),
];

/// Pages that load no script at all (their forms are [`PlainForm`]s).
pub const PAGES_WITHOUT_SCRIPT: &[&str] = &["/sign-in", "/sign-in/code", "/setup"];

/// What a plain form's page shows after its post failed: the error in the
/// operator's words, the field it names, and what was typed (never a
/// password or a code). The server seals it in a cookie for two minutes;
/// the page reads it once.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FormFlash {
    /// The page it is for.
    pub page: String,
    pub message: String,
    pub field: Option<String>,
    pub values: Vec<(String, String)>,
}

impl FormFlash {
    /// What was typed in `name`, if it comes back.
    pub fn value(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// `aria-invalid` for `name`.
    pub fn invalid(&self, name: &str) -> Option<&'static str> {
        (self.field.as_deref() == Some(name)).then_some("true")
    }

    /// Whether a field's value may be carried back to the page.
    pub fn carries(name: &str) -> bool {
        let secret = ["password", "code", "secret", "token"];
        name.len() <= 40 && !secret.iter().any(|s| name.contains(s))
    }
}

/// The failed post's answer for `page`, read once (server only): the
/// cookie is cleared with this response.
#[cfg(feature = "ssr")]
pub fn take_flash(page: &str) -> Option<FormFlash> {
    let cookies = use_context::<crate::ctx::CookieSettings>()?;
    let parts = use_context::<http::request::Parts>()?;
    let sealed = crate::ctx::read_cookie(&parts.headers, cookies.flash_name())?;
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(v) = http::HeaderValue::from_str(&cookies.flash_clearing())
    {
        res.append_header(http::header::SET_COOKIE, v);
    }
    let services = use_context::<domain::services::Services>()?;
    let opened = services.secrets.open(&sealed).ok()?;
    let flash: FormFlash = serde_json::from_str(opened.expose()).ok()?;
    (flash.page == page).then_some(flash)
}

/// The failed post's answer for `page` (none in the browser).
#[cfg(not(feature = "ssr"))]
pub fn take_flash(_page: &str) -> Option<FormFlash> {
    None
}

/// A form for a page without script: a plain `POST` to a server function
/// (one of [`PLAIN_FORMS`]), which redirects on success; on an error the
/// server sends the browser back to the page with a [`FormFlash`], shown
/// here above the fields (the page marks the field and refills the values).
#[component]
pub fn PlainForm(
    action: String,
    submit_label: String,
    flash: Option<FormFlash>,
    children: Children,
) -> impl IntoView {
    view! {
        <form method="post" action=action class="server-form">
            {flash.map(|f| view! { <p class="form-error" role="alert" id="form-error">{f.message}</p> })}
            {children()}
            <button type="submit" class="btn btn-primary">{submit_label}</button>
        </form>
    }
}

/// The URL a form posts to: the server function's own path constant.
pub fn target<F: leptos::server_fn::ServerFn>() -> String {
    F::PATH.to_string()
}

#[island]
pub fn ServerForm(
    /// The server function's URL, e.g. `/api/members/add`.
    action: String,
    submit_label: String,
    #[prop(optional)] pending_label: Option<String>,
    /// When set, a confirmation dialog with this text opens before submitting.
    #[prop(optional)]
    confirm: Option<String>,
    #[prop(optional)] confirm_label: Option<String>,
    /// Styles the submit button as destructive.
    #[prop(optional)]
    danger: Option<bool>,
    /// Lays the form out in one row (for inline table actions).
    #[prop(optional)]
    inline: Option<bool>,
    children: Children,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let dialog_ref = NodeRef::<leptos::html::Dialog>::new();
    let has_confirm = confirm.is_some();
    let action_url = StoredValue::new(action.clone());

    let submit = move || {
        let Some(form) = form_ref.get_untracked() else {
            return;
        };
        pending.set(true);
        error.set(None);
        let url = action_url.get_value();
        leptos::task::spawn_local(async move {
            match browser::post_form(&url, &form).await {
                Ok(location) => browser::navigate(location.as_deref()),
                Err(e) => {
                    pending.set(false);
                    if let Some(field) = e.field() {
                        browser::mark_invalid(&form, field);
                    }
                    error.set(Some(e.operator_message()));
                }
            }
        });
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        if has_confirm && let Some(dialog) = dialog_ref.get_untracked() {
            let _ = dialog.show_modal();
        } else {
            submit();
        }
    };
    let on_confirm = move |_| {
        if let Some(dialog) = dialog_ref.get_untracked() {
            dialog.close();
        }
        submit();
    };
    let on_cancel = move |_| {
        if let Some(dialog) = dialog_ref.get_untracked() {
            dialog.close();
        }
    };

    let button_class = if danger.unwrap_or(false) {
        "btn btn-danger"
    } else {
        "btn btn-primary"
    };
    let form_class = if inline.unwrap_or(false) {
        "server-form inline-form"
    } else {
        "server-form"
    };
    let pending_text = pending_label.unwrap_or_else(|| "Working…".to_string());
    let confirm_text = confirm_label.unwrap_or_else(|| submit_label.clone());
    view! {
        <form method="post" action=action node_ref=form_ref on:submit=on_submit class=form_class>
            <p class="form-error" role="alert" aria-live="assertive" hidden=move || error.get().is_none()>
                {move || error.get()}
            </p>
            {children()}
            <button type="submit" class=button_class disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
                {move || if pending.get() { pending_text.clone() } else { submit_label.clone() }}
            </button>
            {confirm.map(|text| view! {
                <dialog node_ref=dialog_ref class="confirm-dialog" aria-label="Confirm">
                    <p class="confirm-text">{text}</p>
                    <div class="confirm-actions">
                        <button type="button" class="btn btn-secondary" on:click=on_cancel autofocus>"Cancel"</button>
                        <button type="button" class="btn btn-danger" on:click=on_confirm>{confirm_text}</button>
                    </div>
                </dialog>
            })}
        </form>
    }
}

/// A form that starts an operation with fields of its own (restore's
/// confirmation): posts to a server function that answers the presenter's
/// toast, shows field errors in place and the toast (queued, already
/// running, scope busy, blocked) with the link to the run.
#[island]
pub fn GateForm(
    action: String,
    submit_label: String,
    pending_label: String,
    #[prop(optional)] danger: Option<bool>,
    /// A quiet button (start buttons in tables).
    #[prop(optional)]
    secondary: Option<bool>,
    /// When set, a confirmation dialog with this text opens before submitting.
    #[prop(optional)]
    confirm: Option<String>,
    #[prop(optional)] confirm_label: Option<String>,
    /// The form's id, for inputs elsewhere on the page that belong to it
    /// (`form="…"`, e.g. checkboxes in a table).
    #[prop(optional)]
    id: Option<String>,
    children: Children,
) -> impl IntoView {
    use domain::runs::presenter::Toast;
    let toast = RwSignal::new(None::<Toast>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let dialog_ref = NodeRef::<leptos::html::Dialog>::new();
    let toast_ref = NodeRef::<leptos::html::Div>::new();
    // Set by the dialog's confirm button for the one submit it triggers.
    let confirmed = RwSignal::new(false);
    let has_confirm = confirm.is_some();
    let url = StoredValue::new(action.clone());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        if has_confirm
            && !confirmed.get_untracked()
            && let Some(dialog) = dialog_ref.get_untracked()
        {
            ev.prevent_default();
            if !pending.get_untracked() {
                let _ = dialog.show_modal();
            }
            return;
        }
        confirmed.set(false);
        let started = submit_for_json(
            ev,
            form_ref,
            pending,
            error,
            url.get_value(),
            move |t: Toast, _| {
                toast.set(Some(t));
                browser::announce_run_started();
                // The button was disabled while pending (focus fell to the
                // page): the keyboard continues from the answer instead.
                if let Some(frame) = toast_ref.get_untracked() {
                    let _ = frame.focus();
                }
            },
        );
        if started {
            toast.set(None);
        }
    };
    let on_confirm = move |_| {
        if let Some(dialog) = dialog_ref.get_untracked() {
            dialog.close();
        }
        if let Some(form) = form_ref.get_untracked() {
            confirmed.set(true);
            let _ = form.request_submit();
        }
    };
    let on_cancel = move |_| {
        if let Some(dialog) = dialog_ref.get_untracked() {
            dialog.close();
        }
    };
    let class = match (danger.unwrap_or(false), secondary.unwrap_or(false)) {
        (true, _) => "btn btn-danger",
        (false, true) => "btn btn-secondary",
        (false, false) => "btn btn-primary",
    };
    let confirm_text = confirm_label.unwrap_or_else(|| submit_label.clone());
    view! {
        <form method="post" action=action node_ref=form_ref on:submit=on_submit class="server-form" id=id>
            <p class="form-error" role="alert" aria-live="assertive" hidden=move || error.get().is_none()>{move || error.get()}</p>
            {children()}
            <button type="submit" class=class disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
                {move || if pending.get() { pending_label.clone() } else { submit_label.clone() }}
            </button>
            {confirm.map(|text| view! {
                <dialog node_ref=dialog_ref class="confirm-dialog" aria-label="Confirm">
                    <p class="confirm-text">{text}</p>
                    <div class="confirm-actions">
                        <button type="button" class="btn btn-secondary" on:click=on_cancel autofocus>"Cancel"</button>
                        <button type="button" class="btn btn-primary" on:click=on_confirm>{confirm_text}</button>
                    </div>
                </dialog>
            })}
            <div role="status" aria-live="polite" data-testid="gate-toast" tabindex="-1" node_ref=toast_ref class="toast-frame">
                {move || toast.get().map(|t| toast_view(t, toast))}
            </div>
        </form>
    }
}

/// The submit path of the islands whose server function answers JSON: one
/// submit at a time, post the form, parse the answer as `T` and hand it (and
/// the form) to `done`; a typed error goes to `error` in the operator's words
/// and marks the field it names. Returns whether a submit started.
pub(crate) fn submit_for_json<T: serde::de::DeserializeOwned + 'static>(
    ev: leptos::ev::SubmitEvent,
    form_ref: NodeRef<leptos::html::Form>,
    pending: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    url: String,
    done: impl FnOnce(T, web_sys::HtmlFormElement) + 'static,
) -> bool {
    ev.prevent_default();
    if pending.get_untracked() {
        return false;
    }
    let Some(form) = form_ref.get_untracked() else {
        return false;
    };
    pending.set(true);
    error.set(None);
    leptos::task::spawn_local(async move {
        let answer = browser::post_form_for_body(&url, &form).await;
        pending.set(false);
        match answer {
            Ok((_, Some(body))) => match serde_json::from_str::<T>(&body) {
                Ok(value) => done(value, form),
                Err(_) => error.set(Some(AppError::Internal.operator_message())),
            },
            Ok((_, None)) => error.set(Some(AppError::Internal.operator_message())),
            Err(e) => {
                if let Some(field) = e.field() {
                    browser::mark_invalid(&form, field);
                }
                error.set(Some(e.operator_message()));
            }
        }
    });
    true
}

/// The presenter's toast: the public word, what happened, next steps, the
/// run. A step that starts an operation ("Verify now") is a button that
/// starts it through the gate in one click; its toast replaces this one.
pub(crate) fn toast_view(
    t: domain::runs::presenter::Toast,
    toast: RwSignal<Option<domain::runs::presenter::Toast>>,
) -> impl IntoView {
    let steps = (!t.next_steps.is_empty()).then(|| {
        view! {
            <ul class="next-steps" data-testid="next-steps">
                {t.next_steps.into_iter().map(|s| match s.start {
                    Some(start) => view! {
                        <li>{s.text} " " <StepStartButton start=start toast=toast/></li>
                    }.into_any(),
                    None => view! {
                        <li>{s.text} {s.link.map(|l| view! { " " <a class="link" href=l.href>{l.label}</a> })}</li>
                    }.into_any(),
                }).collect_view()}
            </ul>
        }
    });
    view! {
        <div class=toast_class(t.tone)>
            <p class="toast-title">{t.title}</p>
            <p>{t.body}</p>
            {steps}
            <a class="link" href=t.link>{t.link_label}</a>
        </div>
    }
}

/// One click: starts the step's operation and shows the gate's answer in
/// place of the toast it sits in (a plain button: toasts live inside forms).
#[component]
fn StepStartButton(
    start: domain::runs::next_steps::StepStart,
    toast: RwSignal<Option<domain::runs::presenter::Toast>>,
) -> impl IntoView {
    let pending = RwSignal::new(false);
    let failed = RwSignal::new(None::<String>);
    let label = start.label.clone();
    let on_click = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let fields = vec![
            ("tenant", start.tenant.to_string()),
            ("op_type", start.op_type.as_str().to_string()),
        ];
        leptos::task::spawn_local(async move {
            let url = target::<crate::api::provider::StartOperation>();
            let answer = browser::post_fields_for_body(&url, &fields).await;
            pending.set(false);
            match answer {
                Ok((_, Some(body))) => {
                    match serde_json::from_str::<domain::runs::presenter::Toast>(&body) {
                        Ok(t) => {
                            toast.set(Some(t));
                            browser::announce_run_started();
                        }
                        Err(_) => failed.set(Some(AppError::Internal.operator_message())),
                    }
                }
                Ok((_, None)) => failed.set(Some(AppError::Internal.operator_message())),
                Err(e) => failed.set(Some(e.operator_message())),
            }
        });
    };
    view! {
        <button type="button" class="btn btn-secondary btn-sm" data-testid="step-start"
            on:click=on_click disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
            {move || if pending.get() { "Starting…".to_string() } else { label.clone() }}
        </button>
        <span class="form-error" role="alert" hidden=move || failed.get().is_none()>{move || failed.get()}</span>
    }
}

/// Literal class names so the stylesheet build keeps them.
fn toast_class(tone: domain::runs::presenter::Tone) -> &'static str {
    use domain::runs::presenter::Tone;
    match tone {
        Tone::Info => "toast toast-info",
        Tone::Success => "toast toast-success",
        Tone::Warning => "toast toast-warning",
        Tone::Danger => "toast toast-danger",
        Tone::Neutral => "toast toast-neutral",
    }
}

/// Browser-only helpers; on the server they are never called.
pub(crate) mod browser {
    use super::AppError;

    /// Posts the form; on success, the redirect the server chose.
    pub async fn post_form(
        url: &str,
        form: &web_sys::HtmlFormElement,
    ) -> Result<Option<String>, AppError> {
        post_form_for_body(url, form)
            .await
            .map(|(location, _)| location)
    }

    /// Posts the form; on success, the redirect and the response body.
    #[cfg(feature = "hydrate")]
    pub async fn post_form_for_body(
        url: &str,
        form: &web_sys::HtmlFormElement,
    ) -> Result<(Option<String>, Option<String>), AppError> {
        let data = web_sys::FormData::new_with_form(form).map_err(|_| AppError::Internal)?;
        let params = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data)
            .map_err(|_| AppError::Internal)?;
        post_params(url, &params).await
    }

    /// Posts these fields as a form; on success, the redirect and the body.
    #[cfg(feature = "hydrate")]
    pub async fn post_fields_for_body(
        url: &str,
        fields: &[(&str, String)],
    ) -> Result<(Option<String>, Option<String>), AppError> {
        let params = web_sys::UrlSearchParams::new().map_err(|_| AppError::Internal)?;
        for (k, v) in fields {
            params.append(k, v);
        }
        post_params(url, &params).await
    }

    #[cfg(not(feature = "hydrate"))]
    pub async fn post_fields_for_body(
        _url: &str,
        _fields: &[(&str, String)],
    ) -> Result<(Option<String>, Option<String>), AppError> {
        Err(AppError::Internal)
    }

    #[cfg(feature = "hydrate")]
    async fn post_params(
        url: &str,
        params: &web_sys::UrlSearchParams,
    ) -> Result<(Option<String>, Option<String>), AppError> {
        use wasm_bindgen::JsCast;
        use wasm_bindgen_futures::JsFuture;
        let unavailable = || AppError::Unavailable;
        let headers = web_sys::Headers::new().map_err(|_| AppError::Internal)?;
        let _ = headers.set("Accept", "application/json");
        let _ = headers.set("Content-Type", "application/x-www-form-urlencoded");
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_headers(&headers);
        init.set_body(params);
        let window = web_sys::window().ok_or(AppError::Internal)?;
        let response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
            .await
            .map_err(|_| unavailable())?
            .dyn_into::<web_sys::Response>()
            .map_err(|_| AppError::Internal)?;
        // Read the body to the end either way: navigating away from a
        // half-read response aborts it.
        let text = match response.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_string()),
            Err(_) => None,
        };
        if response.ok() {
            return Ok((response.headers().get("location").ok().flatten(), text));
        }
        Err(text
            .and_then(|t| serde_json::from_str::<AppError>(&t).ok())
            .unwrap_or(AppError::Internal))
    }

    #[cfg(not(feature = "hydrate"))]
    pub async fn post_form_for_body(
        _url: &str,
        _form: &web_sys::HtmlFormElement,
    ) -> Result<(Option<String>, Option<String>), AppError> {
        Err(AppError::Internal)
    }

    const RUN_STARTED: &str = "tenantry:run-started";

    /// Waits `ms` milliseconds without blocking the page.
    #[cfg(feature = "hydrate")]
    pub async fn sleep(ms: u32) {
        let promise = js_sys::Promise::new(&mut |resolve, _reject| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    &resolve,
                    i32::try_from(ms).unwrap_or(i32::MAX),
                );
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }

    #[cfg(not(feature = "hydrate"))]
    pub async fn sleep(_ms: u32) {}

    /// The tab is in the background.
    pub fn hidden() -> bool {
        web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden)
    }

    /// Polling waits while the tab is hidden or a modal dialog is open.
    pub fn paused() -> bool {
        hidden()
            || web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.query_selector("dialog[open]").ok().flatten())
                .is_some()
    }

    /// Tells the page's live islands that an operation was just started.
    pub fn announce_run_started() {
        if let Some(w) = web_sys::window()
            && let Ok(ev) = web_sys::CustomEvent::new(RUN_STARTED)
        {
            let _ = w.dispatch_event(&ev);
        }
    }

    /// Calls `f` whenever an operation is started on this page.
    #[cfg(feature = "hydrate")]
    pub fn on_run_started(f: impl Fn() + 'static) {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        if let Some(w) = web_sys::window() {
            let cb = Closure::<dyn Fn()>::new(f);
            let _ = w.add_event_listener_with_callback(RUN_STARTED, cb.as_ref().unchecked_ref());
            // Lives as long as the page (no client-side navigation).
            cb.forget();
        }
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn on_run_started(_f: impl Fn() + 'static) {}

    /// Calls `f` when the operator comes back to the tab: it becomes visible
    /// again or the window regains focus (a run started in another tab or by
    /// a colleague shows up without polling while idle). Both usually fire
    /// together; the islands' one-loop guard makes that one fetch.
    #[cfg(feature = "hydrate")]
    pub fn on_return(f: impl Fn() + 'static) {
        use std::rc::Rc;
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let Some(w) = web_sys::window() else {
            return;
        };
        let f = Rc::new(f);
        let on_visible = {
            let f = Rc::clone(&f);
            Closure::<dyn Fn()>::new(move || {
                if !hidden() {
                    f();
                }
            })
        };
        if let Some(d) = w.document() {
            let _ = d.add_event_listener_with_callback(
                "visibilitychange",
                on_visible.as_ref().unchecked_ref(),
            );
        }
        let on_focus = Closure::<dyn Fn()>::new(move || f());
        let _ = w.add_event_listener_with_callback("focus", on_focus.as_ref().unchecked_ref());
        // Both live as long as the page (no client-side navigation).
        on_visible.forget();
        on_focus.forget();
    }

    #[cfg(not(feature = "hydrate"))]
    pub fn on_return(_f: impl Fn() + 'static) {}

    pub fn navigate(location: Option<&str>) {
        if let Some(window) = web_sys::window() {
            let loc = window.location();
            let _ = match location {
                Some(l) if l.starts_with('/') => loc.assign(l),
                _ => loc.reload(),
            };
        }
    }

    pub fn mark_invalid(form: &web_sys::HtmlFormElement, field: &str) {
        use wasm_bindgen::JsCast;
        let selector = format!("[name=\"{}\"]", field.replace('"', ""));
        if let Ok(Some(el)) = form.query_selector(&selector) {
            let _ = el.set_attribute("aria-invalid", "true");
            if let Ok(input) = el.dyn_into::<web_sys::HtmlElement>() {
                let _ = input.focus();
            }
        }
    }
}
