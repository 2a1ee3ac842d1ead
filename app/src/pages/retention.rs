//! Data retention: what this workspace keeps and for how long, what the next
//! sweep removes, and the export of audit entries before they go (spec 014).

use crate::api;
use crate::components::{NoWorkspace, load};
use crate::forms::ServerForm;
use domain::retention::{EXPIRING_AUDIT_PATH, RetentionPage, RetentionPolicy};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn Retention() -> impl IntoView {
    view! {
        <Title text="Data retention · Tenantry"/>
        <section class="page narrow">
            <h1 class="page-title">"Data retention"</h1>
            {load(api::load_retention(), |page: Option<RetentionPage>| match page {
                None => view! { <NoWorkspace/> }.into_any(),
                Some(p) => view! { <RetentionBody page=p/> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn RetentionBody(page: RetentionPage) -> impl IntoView {
    let policy = page.policy;
    let values = policy.values();
    let defaults = RetentionPolicy::DEFAULT.values();
    let last = page.last_sweep.zip(page.last_sweep_at).map(|(s, at)| {
        view! {
            <p class="muted" data-testid="last-sweep">
                "Last sweep " {crate::time::when(at)} ": removed "
                {s.snapshots} " snapshots, " {s.runs} " runs, " {s.notifications} " notifications and "
                {s.audit_entries} " audit entries in " {format!("{:.1}", s.millis as f64 / 1000.0)} " s"
                {(!s.complete).then_some(" (stopped at its time limit; the next sweep goes on)")} "."
            </p>
        }
    });
    view! {
        <p class="muted">
            {if page.customised { "This workspace's own rules." } else { "The defaults: nobody has changed them." }}
            " A sweep runs every hour and removes, in small batches, what these rules no longer keep."
        </p>
        <h2 class="section-title">"What is kept"</h2>
        <ul class="list-disc pl-5 space-y-1" data-testid="retention-rules">
            {policy.described().into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
        </ul>
        <h2 class="section-title">"What the next sweep removes"</h2>
        <dl class="facts" data-testid="retention-expiring">
            <dt>"Runs past their days"</dt>
            <dd>{page.runs_past_their_days} " (the newest of each kind per tenant, and those a kept snapshot or an open request needs, stay)"</dd>
            <dt>"Notifications"</dt>
            <dd>{page.expiring_notifications}</dd>
            <dt>"Audit entries"</dt>
            <dd>
                {page.expiring_audit_entries}
                {(page.can_export_audit && page.expiring_audit_entries > 0).then(|| view! {
                    " · " <a class="link" href=EXPIRING_AUDIT_PATH download="">"Export them (CSV)"</a>
                })}
            </dd>
        </dl>
        {last}
        {if page.can_manage {
            view! {
                <h2 class="section-title">"Change the rules"</h2>
                <ServerForm
                    action={crate::forms::target::<crate::api::SaveRetention>()}
                    submit_label="Save retention".to_string()
                    pending_label="Saving…".to_string()
                    confirm="Shorter periods remove data for good at the next sweep (within the hour). Export audit entries first if you need them. Save these rules?".to_string()
                    confirm_label="Save retention".to_string()
                >
                    {RetentionPolicy::SETTINGS.iter().zip(values).zip(defaults).map(|((s, value), default)| {
                        let id = format!("retention-{}", s.field);
                        let hint_id = format!("{id}-hint");
                        view! {
                            <div class="field">
                                <label for=id.clone()>{s.label}</label>
                                <input id=id name=s.field type="number" inputmode="numeric" required class="input input-sm"
                                    min=s.min.to_string() max=s.max.to_string() value=value.to_string() aria-describedby=hint_id.clone()/>
                                <p class="help" id=hint_id>{format!("Default {default}; from {} to {}.", s.min, s.max)}</p>
                            </div>
                        }
                    }).collect_view()}
                </ServerForm>
            }.into_any()
        } else {
            view! { <p class="muted">"Owners and managers change these rules."</p> }.into_any()
        }}
    }
}
