//! "Request support": the slide-over on the tenant dashboard and on run
//! pages (an island: it opens, submits and shows the latest request in place).

use crate::forms::submit_for_json;
use leptos::prelude::*;

/// "Request support" for a tenant (dashboard) or a run (run detail): a
/// slide-over that shows the latest request of exactly this context, then a
/// form whose answer says plainly whether the desk took it, with the `SR-`
/// reference either way. While it is open, live polling on the page pauses.
/// The request's fields (ids under `id`, unique on the page).
fn request_fields(id: &str) -> impl IntoView + use<> {
    use domain::support::Severity;
    let field = |name: &str| format!("{id}-{name}");
    view! {
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
    }
}

#[island]
pub fn RequestSupport(
    #[prop(optional)] tenant: Option<i64>,
    #[prop(optional)] run: Option<i64>,
) -> impl IntoView {
    use domain::support::{SupportPanel, SupportRequestView};
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
            crate::forms::target::<crate::api::RequestSupport>(),
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
    let field = |name: &str| format!("{id}-{name}");
    let follow_prefix = field("follow");
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
                                <p class="muted text-sm">"By " {l.requested_by.clone()} ", " {crate::time::when_text(l.created_at)}</p>
                                {(l.can_retry || l.can_link).then(|| view! { <FollowUp latest=l.clone() panel=panel result=result field_prefix=follow_prefix.clone()/> })}
                            </section>
                        })}
                    }.into_any(),
                }}
                <div role="status" aria-live="polite" data-testid="support-result">
                    {move || result.get().map(|v| view! {
                        <p class=if v.handoff == domain::support::Handoff::Failed { "notice notice-warn mt-3" } else { "notice mt-3" }>{v.outcome_sentence()}</p>
                    })}
                </div>
                <form node_ref=form_ref method="post" action={crate::forms::target::<crate::api::RequestSupport>()} on:submit=on_submit class="server-form mt-3">
                    <p class="form-error" role="alert" hidden=move || error.get().is_none()>{move || error.get()}</p>
                    {tenant.map(|t| view! { <input type="hidden" name="tenant" value=t.to_string()/> })}
                    {run.map(|r| view! { <input type="hidden" name="run" value=r.to_string()/> })}
                    {request_fields(&id)}
                    <button type="submit" class="btn btn-primary" disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
                        {move || if pending.get() { "Sending…" } else { "Send request" }}
                    </button>
                </form>
            </dialog>
        </div>
    }
}

/// What an operator can still do with a request the desk did not take: send
/// it again, or link the ticket they already have at the desk.
#[component]
fn FollowUp(
    latest: domain::support::SupportRequestView,
    panel: RwSignal<Option<domain::support::SupportPanel>>,
    result: RwSignal<Option<domain::support::SupportRequestView>>,
    field_prefix: String,
) -> impl IntoView {
    use domain::support::SupportRequestView;
    let retry_ref = NodeRef::<leptos::html::Form>::new();
    let link_ref = NodeRef::<leptos::html::Form>::new();
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let show = move |v: SupportRequestView| {
        panel.update(|p| {
            if let Some(p) = p {
                p.latest = Some(v.clone());
            }
        });
        result.set(Some(v));
    };
    let on_retry = move |ev: leptos::ev::SubmitEvent| {
        submit_for_json(
            ev,
            retry_ref,
            pending,
            error,
            crate::forms::target::<crate::api::RetrySupport>(),
            move |v: SupportRequestView, _| show(v),
        );
    };
    let on_link = move |ev: leptos::ev::SubmitEvent| {
        submit_for_json(
            ev,
            link_ref,
            pending,
            error,
            crate::forms::target::<crate::api::LinkSupportTicket>(),
            move |v: SupportRequestView, _| show(v),
        );
    };
    let ticket_id = format!("{field_prefix}-ticket");
    view! {
        <div class="mt-3" data-testid="support-follow-up">
            <p class="form-error" role="alert" hidden=move || error.get().is_none()>{move || error.get()}</p>
            {latest.can_retry.then(|| view! {
                <form node_ref=retry_ref method="post" action={crate::forms::target::<crate::api::RetrySupport>()} on:submit=on_retry class="inline-form">
                    <input type="hidden" name="reference" value=latest.reference.clone()/>
                    <button type="submit" class="btn btn-secondary" disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
                        {move || if pending.get() { "Sending…" } else { "Retry the handoff" }}
                    </button>
                </form>
            })}
            {latest.can_link.then(|| view! {
                <form node_ref=link_ref method="post" action={crate::forms::target::<crate::api::LinkSupportTicket>()} on:submit=on_link class="server-form mt-2">
                    <input type="hidden" name="reference" value=latest.reference.clone()/>
                    <div class="field">
                        <label for=ticket_id.clone()>"Or link the ticket you already have at the desk"</label>
                        <input id=ticket_id.clone() name="existing_ticket" required maxlength="40" class="input" placeholder="e.g. RT #12345"/>
                    </div>
                    <button type="submit" class="btn btn-secondary" disabled=move || pending.get()>"Link this ticket"</button>
                </form>
            })}
        </div>
    }
}
