//! Islands: the only code that runs in the browser.
//!
//! `ServerForm` is the one form island. Its fields are rendered on the server
//! (children); in the browser it submits them to a server function with
//! `fetch`, shows the typed error inline next to the field it names, keeps the
//! input, asks for confirmation first when told to, and follows the redirect
//! the server function chose. Without JavaScript the same `<form>` still posts.

use domain::AppError;
use leptos::prelude::*;

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

/// A start button for one operation. It asks the one start gate (through
/// `/api/operations/start`) and shows the shared presenter's toast in place:
/// the public word (queued, already running, scope busy, blocked), what
/// happened, the next steps and a link to the run. Without JavaScript the form
/// posts and the browser lands on the run.
#[component]
pub fn StartOperation(
    tenant: i64,
    /// The operation type's wire name, e.g. `inventory_sync`.
    op_type: String,
    label: String,
    /// A specific connection (default: the tenant's default connection).
    #[prop(optional)]
    connection: Option<i64>,
) -> impl IntoView {
    let pending_label = format!("Starting {}…", label.to_lowercase());
    view! {
        <div class="start-operation">
            <GateForm action="/api/operations/start".to_string() submit_label=label pending_label=pending_label secondary=true>
                <input type="hidden" name="tenant" value=tenant.to_string()/>
                <input type="hidden" name="op_type" value=op_type/>
                {connection.map(|c| view! { <input type="hidden" name="connection" value=c.to_string()/> })}
            </GateForm>
        </div>
    }
}

/// The progress overlay in the `/admin` shell: active runs of the current
/// workspace you may see. Polls every 10 s only while it lists any (and not
/// while the tab is hidden); a run that ended drops out at the next poll. A
/// start from any button on the page wakes it at once.
#[island]
pub fn ProgressOverlay(initial: domain::views::ActiveRuns) -> impl IntoView {
    let state = RwSignal::new(initial);
    let polling = StoredValue::new(false);
    let watch = move |immediately: bool| {
        refresh_while_active(
            polling,
            immediately,
            crate::api::poll_active_runs,
            move |runs| {
                let active = !runs.runs.is_empty();
                if state.get_untracked() != runs {
                    state.set(runs);
                }
                active
            },
        );
    };
    Effect::new(move |_| {
        if !state.get_untracked().runs.is_empty() {
            watch(false);
        }
        browser::on_run_started(move || watch(true));
    });
    view! {
        <div class="progress-overlay-region" aria-live="polite">
            {move || {
                let a = state.get();
                (!a.runs.is_empty()).then(|| {
                    let heading = match a.total {
                        1 => "1 operation in progress".to_string(),
                        n => format!("{n} operations in progress"),
                    };
                    let more = (a.total > a.runs.len() as i64).then(|| a.link.clone());
                    view! {
                        <aside class="progress-overlay" aria-label="Operations in progress" data-testid="progress-overlay">
                            <p class="overlay-title">{heading}</p>
                            <ul class="overlay-list">
                                {a.runs.into_iter().map(|r| {
                                    let name = match r.tenant_name {
                                        Some(t) => format!("{} · {t}", r.operation),
                                        None => r.operation.clone(),
                                    };
                                    view! {
                                        <li data-run=r.id.to_string()>
                                            <a class="link" href=domain::runs::presenter::run_link(r.id)>{name}</a>
                                            " "
                                            <span class=crate::components::tone_class(r.headline.tone)>{r.headline.label}</span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {more.map(|href| view! { <a class="link text-sm" href=href>"See all active runs"</a> })}
                        </aside>
                    }
                })
            }}
        </div>
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
    children: Children,
) -> impl IntoView {
    use domain::runs::presenter::Toast;
    let toast = RwSignal::new(None::<Toast>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let url = StoredValue::new(action.clone());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        let started = submit_for_json(
            ev,
            form_ref,
            pending,
            error,
            url.get_value(),
            move |t: Toast, _| {
                toast.set(Some(t));
                browser::announce_run_started();
            },
        );
        if started {
            toast.set(None);
        }
    };
    let class = match (danger.unwrap_or(false), secondary.unwrap_or(false)) {
        (true, _) => "btn btn-danger",
        (false, true) => "btn btn-secondary",
        (false, false) => "btn btn-primary",
    };
    view! {
        <form method="post" action=action node_ref=form_ref on:submit=on_submit class="server-form">
            <p class="form-error" role="alert" aria-live="assertive" hidden=move || error.get().is_none()>{move || error.get()}</p>
            {children()}
            <button type="submit" class=class disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
                {move || if pending.get() { pending_label.clone() } else { submit_label.clone() }}
            </button>
            <div role="status" aria-live="polite" data-testid="gate-toast">
                {move || toast.get().map(toast_view)}
            </div>
        </form>
    }
}

/// The onboarding wizard's live part: the verification run and each
/// bootstrap operation with the presenter's headline. Refreshes every 2 s
/// while a run of the draft can move (not while the tab is hidden); when the
/// draft reaches another step, reloads so that step's form is rendered.
#[island]
pub fn OnboardingLive(initial: domain::onboarding::DraftView) -> impl IntoView {
    use domain::onboarding::{DraftView, Step, WIZARD_POLL_MS};
    let step = initial.step;
    let id = initial.id;
    let state = RwSignal::new(initial);
    let running = StoredValue::new(false);
    let watch = move || {
        if running.get_value() {
            return;
        }
        running.set_value(true);
        leptos::task::spawn_local(async move {
            loop {
                browser::sleep(WIZARD_POLL_MS).await;
                while browser::hidden() {
                    browser::sleep(250).await;
                }
                match crate::api::load_onboarding_draft(id).await {
                    Ok(fresh) => {
                        let moved = fresh.step != step;
                        let more = fresh.polls();
                        if state.get_untracked() != fresh {
                            state.set(fresh);
                        }
                        if moved {
                            browser::navigate(None);
                            break;
                        }
                        if !more {
                            break;
                        }
                    }
                    Err(e) if e.0.http_status() < 500 => break,
                    Err(_) => {}
                }
            }
            running.set_value(false);
        });
    };
    Effect::new(move |_| {
        if state.get_untracked().polls() {
            watch();
        }
        browser::on_run_started(watch);
    });
    view! {
        <section class="card mt-4" aria-labelledby="onb-runs" aria-live="polite" data-testid="onboarding-live">
            <h2 id="onb-runs" class="section-title">"Progress"</h2>
            {move || {
                let d: DraftView = state.get();
                let verification = d.verification.clone();
                let done = d.step == Step::Done;
                view! {
                    <ul class="data-list">
                        {(d.step >= Step::Verify).then(|| crate::pages::onboarding::step_run_line("Verification", verification, false))}
                        {d.entries.into_iter().map(|e| crate::pages::onboarding::step_run_line(e.op.label(), e.run, done)).collect_view()}
                    </ul>
                    {d.waiting_on.map(|r| view! {
                        <p class="muted text-sm">"Another operation holds the connection; the next one starts when it ends. "
                            <a class="link" href=domain::runs::presenter::run_link(r)>"Open it"</a></p>
                    })}
                    {(d.step < Step::Verify).then(|| view! { <p class="muted">"Nothing has started yet."</p> })}
                }
            }}
        </section>
    }
}

/// "Request support" for a tenant (dashboard) or a run (run detail): a
/// slide-over that shows the latest request of exactly this context, then a
/// form whose answer says plainly whether the desk took it, with the `SR-`
/// reference either way. While it is open, live polling on the page pauses.
#[island]
pub fn RequestSupport(
    #[prop(optional)] tenant: Option<i64>,
    #[prop(optional)] run: Option<i64>,
) -> impl IntoView {
    use domain::support::{Severity, SupportPanel, SupportRequestView};
    let dialog_ref = NodeRef::<leptos::html::Dialog>::new();
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let panel = RwSignal::new(None::<SupportPanel>);
    let load_error = RwSignal::new(None::<String>);
    let result = RwSignal::new(None::<SupportRequestView>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let open = move |_| {
        if let Some(d) = dialog_ref.get_untracked() {
            let _ = d.show_modal();
        }
        result.set(None);
        error.set(None);
        leptos::task::spawn_local(async move {
            match crate::api::load_support(
                tenant.map(domain::ids::TenantId),
                run.map(domain::ids::RunId),
            )
            .await
            {
                Ok(p) => {
                    load_error.set(None);
                    panel.set(Some(p));
                }
                Err(e) => load_error.set(Some(e.0.operator_message())),
            }
        });
    };
    let close = move |_| {
        if let Some(d) = dialog_ref.get_untracked() {
            d.close();
        }
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        submit_for_json(
            ev,
            form_ref,
            pending,
            error,
            "/api/support/request".to_string(),
            move |v: SupportRequestView, form| {
                form.reset();
                panel.update(|p| {
                    if let Some(p) = p {
                        p.latest = Some(v.clone());
                    }
                });
                result.set(Some(v));
            },
        );
    };
    let id = match (tenant, run) {
        (_, Some(r)) => format!("support-run-{r}"),
        (Some(t), None) => format!("support-tenant-{t}"),
        (None, None) => "support".to_string(),
    };
    let field = move |name: &str| format!("{id}-{name}");
    view! {
        <div class="request-support">
            <button type="button" class="btn btn-secondary" on:click=open aria-haspopup="dialog">"Request support"</button>
            <dialog node_ref=dialog_ref class="slide-over" aria-labelledby=field("title")>
                <div class="slide-over-head">
                    <h2 id=field("title") class="section-title">"Request support"</h2>
                    <button type="button" class="btn btn-secondary" on:click=close autofocus>"Close"</button>
                </div>
                <p class="form-error" role="alert" hidden=move || load_error.get().is_none()>{move || load_error.get()}</p>
                {move || match panel.get() {
                    None => view! { <p class="loading" aria-busy="true">"Loading…"</p> }.into_any(),
                    Some(p) => view! {
                        <p class="muted text-sm" data-testid="support-desk">{match p.desk {
                            Some(d) => format!("Requests are saved in Tenantry and handed to {d}."),
                            None => "No support desk is configured: requests are saved in Tenantry only.".to_string(),
                        }}</p>
                        {p.latest.map(|l| view! {
                            <section class="card mt-3" aria-label="Latest request" data-testid="support-latest">
                                <p class="font-medium">"Latest request: " {l.reference.clone()} " · " {l.subject.clone()}</p>
                                <p class="text-sm">{l.outcome_sentence()}</p>
                                {l.desk_url.clone().map(|u| view! { <a class="link text-sm" href=u target="_blank" rel="noopener">"Open the ticket at the desk"</a> })}
                                <p class="muted text-sm">"By " {l.requested_by.clone()} ", " {domain::views::format_utc(l.created_at)}</p>
                            </section>
                        })}
                    }.into_any(),
                }}
                <div role="status" aria-live="polite" data-testid="support-result">
                    {move || result.get().map(|v| view! {
                        <p class=if v.handoff == domain::support::Handoff::Failed { "notice notice-warn mt-3" } else { "notice mt-3" }>{v.outcome_sentence()}</p>
                    })}
                </div>
                <form node_ref=form_ref method="post" action="/api/support/request" on:submit=on_submit class="server-form mt-3">
                    <p class="form-error" role="alert" hidden=move || error.get().is_none()>{move || error.get()}</p>
                    {tenant.map(|t| view! { <input type="hidden" name="tenant" value=t.to_string()/> })}
                    {run.map(|r| view! { <input type="hidden" name="run" value=r.to_string()/> })}
                    <div class="field w-full">
                        <label for=field("subject")>"Subject"</label>
                        <input id=field("subject") name="subject" required minlength="3" maxlength="200" class="input"/>
                    </div>
                    <div class="field w-full">
                        <label for=field("description")>"What happened"</label>
                        <textarea id=field("description") name="description" required maxlength="5000" rows="5" class="input"></textarea>
                    </div>
                    <div class="field w-full">
                        <label for=field("severity")>"Severity"</label>
                        <select id=field("severity") name="severity" class="input">
                            {Severity::ALL.into_iter().map(|s| view! {
                                <option value=s.as_str() selected=s == Severity::Normal>{s.label()}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <div class="field w-full">
                        <label for=field("contact")>"Contact (optional)"</label>
                        <input id=field("contact") name="contact" maxlength="200" class="input" placeholder="Phone or email for the desk"/>
                    </div>
                    <div class="field w-full">
                        <label for=field("existing")>"Already have a ticket? Its reference (optional)"</label>
                        <input id=field("existing") name="existing_ticket" maxlength="40" class="input" placeholder="e.g. RT #12345"/>
                        <p class="help">"Links that ticket instead of creating a new one."</p>
                    </div>
                    <button type="submit" class="btn btn-primary" disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
                        {move || if pending.get() { "Sending…" } else { "Send request" }}
                    </button>
                </form>
            </dialog>
        </div>
    }
}

/// The review pack card of a tenant dashboard: the latest pack (status,
/// expiry, downloads through the authorised route) and a form to generate a
/// new one. Refreshes every 10 s only while the latest pack is queued or
/// generating; never without a pack; stops on ready, failed or expired.
#[island]
pub fn ReviewPackPanel(initial: domain::review_packs::ReviewPackCard) -> impl IntoView {
    use domain::review_packs::{GenerateAnswer, PackFile, ReviewPackCard, Section, format_size};
    use domain::runs::presenter::Toast;
    let tenant = initial.tenant;
    let state = RwSignal::new(initial);
    let toast = RwSignal::new(None::<Toast>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let polling = StoredValue::new(false);
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let watch = move || {
        refresh_while_active(
            polling,
            false,
            move || crate::api::load_review_pack_card(tenant),
            move |fresh: ReviewPackCard| {
                let more = fresh.polls();
                if state.get_untracked() != fresh {
                    state.set(fresh);
                }
                more
            },
        );
    };
    Effect::new(move |_| {
        if state.get_untracked().polls() {
            watch();
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        submit_for_json(
            ev,
            form_ref,
            pending,
            error,
            "/api/review-packs/generate".to_string(),
            move |a: GenerateAnswer, _| {
                toast.set(Some(a.toast));
                let polls = a.card.polls();
                state.set(a.card);
                browser::announce_run_started();
                if polls {
                    watch();
                }
            },
        );
    };
    view! {
        <section class="card mt-6" aria-labelledby="review-pack" data-testid="review-pack-card"
            data-status=move || state.get().latest.map(|p| p.status.as_str()).unwrap_or("none")>
            <h2 id="review-pack" class="section-title">"Review pack"</h2>
            <div aria-live="polite">
                {move || {
                    let card = state.get();
                    match card.latest {
                        None => view! {
                            <p class="muted">"No review pack yet. A pack is a report of this tenant (HTML) with its data as CSV and JSON (ZIP), kept for "
                                {card.retention_days} " days."</p>
                        }.into_any(),
                        Some(p) => {
                            let busy = p.status.polls();
                            let ready = p.status == domain::review_packs::PackStatus::Ready;
                            view! {
                                <p>
                                    <span class=pack_badge(p.status) data-testid="review-pack-status">{p.status.label()}</span>
                                    " " <span aria-busy=busy.to_string()>{p.status_sentence()}</span>
                                </p>
                                <p class="muted text-sm">
                                    {p.sections.iter().map(|s| s.label()).collect::<Vec<_>>().join(" · ")}
                                    " — requested " {domain::views::format_utc(p.created_at)}
                                    {p.requested_by.clone().map(|by| format!(" by {by}"))}
                                    " · " <a class="link" href=domain::runs::presenter::run_link(p.run)>"Open the run"</a>
                                </p>
                                {ready.then(|| view! {
                                    <ul class="data-list">
                                        <li><a class="link" href=p.link(PackFile::Html) download data-testid="review-pack-html">
                                            "Download the report (HTML, " {format_size(p.html_size.unwrap_or_default())} ")"</a></li>
                                        <li><a class="link" href=p.link(PackFile::Zip) download data-testid="review-pack-zip">
                                            "Download the data (ZIP with CSV and JSON, " {format_size(p.zip_size.unwrap_or_default())} ")"</a></li>
                                    </ul>
                                })}
                            }.into_any()
                        }
                    }
                }}
            </div>
            {move || state.get().can_generate.then(|| view! {
                <form node_ref=form_ref method="post" action="/api/review-packs/generate" on:submit=on_submit class="server-form mt-3">
                    <p class="form-error" role="alert" hidden=move || error.get().is_none()>{move || error.get()}</p>
                    <input type="hidden" name="tenant" value=tenant.to_string()/>
                    <fieldset class="field">
                        <legend>"Sections to include"</legend>
                        {Section::ALL.into_iter().map(|s| {
                            let id = format!("pack-section-{}", s.as_str());
                            let label_for = id.clone();
                            view! {
                                <label for=label_for class="checkbox">
                                    <input type="checkbox" id=id name=format!("section_{}", s.as_str()) value="on" checked/>
                                    " " {s.label()}
                                </label>
                            }
                        }).collect_view()}
                    </fieldset>
                    <button type="submit" class="btn btn-secondary" disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
                        {move || if pending.get() { "Starting…" } else { "Generate review pack" }}
                    </button>
                </form>
            })}
            <div role="status" aria-live="polite">
                {move || toast.get().map(toast_view)}
            </div>
        </section>
    }
}

/// Literal class names so the stylesheet build keeps them.
fn pack_badge(status: domain::review_packs::PackStatus) -> &'static str {
    use domain::review_packs::PackStatus;
    match status {
        PackStatus::Queued | PackStatus::Generating => "badge badge-info",
        PackStatus::Ready => "badge badge-ok",
        PackStatus::Failed => "badge badge-bad",
        PackStatus::Expired => "badge badge-muted",
    }
}

/// The submit path of the islands whose server function answers JSON: one
/// submit at a time, post the form, parse the answer as `T` and hand it (and
/// the form) to `done`; a typed error goes to `error` in the operator's words
/// and marks the field it names. Returns whether a submit started.
fn submit_for_json<T: serde::de::DeserializeOwned + 'static>(
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

/// The refresh loop of lists that show active runs (the overlay, dashboard
/// summaries): every 10 s, skipped while the tab is hidden, for as long as
/// `apply` says the fresh value still shows an active run. One loop at a time
/// per island (`running`); `immediately` fetches once before the first wait.
pub(crate) fn refresh_while_active<T, Fut>(
    running: StoredValue<bool>,
    immediately: bool,
    fetch: impl Fn() -> Fut + 'static,
    apply: impl Fn(T) -> bool + 'static,
) where
    T: 'static,
    Fut: std::future::Future<Output = Result<T, crate::error::ApiError>> + 'static,
{
    use domain::runs::presenter::ACTIVE_LIST_POLL_MS;
    if running.get_value() {
        return;
    }
    running.set_value(true);
    leptos::task::spawn_local(async move {
        let mut first = immediately;
        loop {
            if !first {
                browser::sleep(ACTIVE_LIST_POLL_MS).await;
                while browser::hidden() {
                    browser::sleep(250).await;
                }
            }
            first = false;
            match fetch().await {
                Ok(value) => {
                    if !apply(value) {
                        break;
                    }
                }
                // Signed out or no longer allowed: stop quietly.
                Err(e) if e.0.http_status() < 500 => break,
                Err(_) => {}
            }
        }
        running.set_value(false);
    });
}

/// The presenter's toast: the public word, what happened, next steps, the run.
fn toast_view(t: domain::runs::presenter::Toast) -> impl IntoView {
    view! {
        <div class=toast_class(t.tone)>
            <p class="toast-title">{t.title}</p>
            <p>{t.body}</p>
            {(!t.next_steps.is_empty()).then(|| view! {
                <ul class="next-steps">{t.next_steps.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ul>
            })}
            <a class="link" href=t.link>{t.link_label}</a>
        </div>
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
        use wasm_bindgen::JsCast;
        use wasm_bindgen_futures::JsFuture;
        let unavailable = || AppError::Unavailable;
        let data = web_sys::FormData::new_with_form(form).map_err(|_| AppError::Internal)?;
        let params = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data)
            .map_err(|_| AppError::Internal)?;
        let headers = web_sys::Headers::new().map_err(|_| AppError::Internal)?;
        let _ = headers.set("Accept", "application/json");
        let _ = headers.set("Content-Type", "application/x-www-form-urlencoded");
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_headers(&headers);
        init.set_body(&params);
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
