//! Restore a tenant's policies from a stored inventory snapshot: choose the
//! snapshot, pick policies, read the preview, type the tenant's name, start.
//! Plain GET forms for the first three steps (they work without JS); the
//! confirmation posts through the start gate.

use crate::api;
use crate::components::{EmptyState, NotFound, load};
use crate::forms::GateForm;
use domain::ids::TenantId;
use domain::restore::{PreviewAction, RestorePage};
use domain::runs::presenter::run_link;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// Literal class names so the stylesheet build keeps them.
fn action_badge(a: PreviewAction) -> &'static str {
    match a {
        PreviewAction::Create => "badge badge-info",
        PreviewAction::Update => "badge badge-warn",
        PreviewAction::Unchanged => "badge badge-muted",
    }
}

#[component]
pub fn Restore() -> impl IntoView {
    let tenant: Option<TenantId> = use_params_map()
        .read_untracked()
        .get("tenant")
        .and_then(|t| t.parse().ok());
    let Some(tenant) = tenant else {
        return view! { <NotFound/> }.into_any();
    };
    let query = crate::pages::operations::current_query();
    view! {
        {load(api::load_restore(tenant, query), move |p: RestorePage| view! {
            <Title text=format!("Restore · {} · Tenantry", p.tenant_name)/>
            <section class="page">
                <p class="breadcrumb"><a class="link" href=format!("/admin/t/{tenant}")>{p.tenant_name.clone()}</a> " › Restore"</p>
                <h1 class="page-title">"Restore policies"</h1>
                <p class="muted">"Write device configurations and compliance policies back to "
                    {p.tenant_name.clone()} " as a stored inventory snapshot recorded them."</p>
                {p.blocked.map(|r| view! {
                    <div class="notice notice-warn" role="status"><p>"A restore would be blocked now: " {r.message()}</p>
                        {crate::components::next_steps_list(p.blocked_steps.clone(), "next-steps")}</div>
                })}
                {steps(tenant, p)}
            </section>
        })}
    }
    .into_any()
}

fn steps(tenant: TenantId, p: RestorePage) -> impl IntoView {
    let base = format!("/admin/t/{tenant}/restore");
    if p.snapshots.is_empty() {
        return view! {
            <EmptyState title="No inventory snapshot yet">
                "Restore writes policies back from a snapshot. Run an inventory sync from the "
                <a class="link" href=format!("/admin/t/{tenant}")>"tenant dashboard"</a> " first."
            </EmptyState>
        }
        .into_any();
    }
    let chosen_id = p.chosen.as_ref().map(|c| c.id);
    let latest_id = p.compared_with.as_ref().map(|c| c.id);
    view! {
        <section class="card mt-4" aria-labelledby="step-snapshot">
            <h2 id="step-snapshot" class="section-title">"1. Choose a snapshot"</h2>
            <ul class="data-list">
                {p.snapshots.iter().map(|s| {
                    let current = Some(s.id) == chosen_id;
                    view! {
                        <li>
                            <a class="link" href=format!("{base}?snapshot={}", s.id) aria-current=current.then_some("step")>
                                {crate::time::when(s.taken_at)}
                            </a>
                            " · " {format!("{} policies", s.policies)}
                            {(Some(s.id) == latest_id).then_some(" · latest")}
                            " · " <a class="link text-sm" href=run_link(s.run)>"inventory run"</a>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
        {p.chosen.clone().map(|chosen| view! {
            <section class="card mt-4" aria-labelledby="step-policies">
                <h2 id="step-policies" class="section-title">"2. Pick policies"</h2>
                <p class="muted text-sm">{format!("From the snapshot of {}. At most {} per restore.", crate::time::when_text(chosen.taken_at), domain::restore::MAX_ITEMS)}</p>
                {if p.policies.is_empty() {
                    view! { <p class="muted">"This snapshot holds no policies."</p> }.into_any()
                } else {
                    view! {
                        <form method="get" action=base.clone() class="server-form">
                            <input type="hidden" name="snapshot" value=chosen.id.to_string()/>
                            <table class="table">
                                <caption class="sr-only">"Policies in the snapshot"</caption>
                                <thead><tr><th scope="col">"Restore"</th><th scope="col">"Policy"</th><th scope="col">"Kind"</th><th scope="col">"Platform"</th><th scope="col">"Modified"</th></tr></thead>
                                <tbody>
                                    {p.policies.iter().map(|pol| {
                                        let id = format!("restore-item-{}", pol.item);
                                        let label_for = id.clone();
                                        view! {
                                            <tr>
                                                <td><input type="checkbox" id=id name="item" value=pol.item.to_string() checked=pol.selected/></td>
                                                <td><label for=label_for>{pol.display_name.clone()}</label></td>
                                                <td>{pol.kind.label()}</td>
                                                <td>{pol.platform.clone()}</td>
                                                <td>{pol.modified.clone().unwrap_or_default()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <button type="submit" class="btn btn-secondary">"Preview the restore"</button>
                        </form>
                    }.into_any()
                }}
            </section>
        })}
        {(!p.preview.is_empty()).then(|| preview(tenant, p.clone()))}
    }
    .into_any()
}

fn preview(tenant: TenantId, p: RestorePage) -> impl IntoView {
    let writes = p
        .preview
        .iter()
        .filter(|i| i.action != PreviewAction::Unchanged)
        .count();
    let compared = p.compared_with.clone();
    let same = compared.as_ref().map(|c| c.id) == p.chosen.as_ref().map(|c| c.id);
    let confirm_label = format!("Type {} to confirm", p.tenant_name);
    let n = p.preview.len();
    // What would be written first, in full; the rest folded into one line.
    let (written, unchanged): (Vec<_>, Vec<_>) = p
        .preview
        .iter()
        .cloned()
        .partition(|i| i.action != PreviewAction::Unchanged);
    let selected = p.selected_items();
    let snapshot = p.chosen.as_ref().map(|c| c.id.0).unwrap_or_default();
    view! {
        <section class="card mt-4" aria-labelledby="step-preview" data-testid="restore-preview">
            <h2 id="step-preview" class="section-title">"3. Preview"</h2>
            <p class="muted text-sm">{match (&compared, same) {
                (Some(_), true) => "This is the latest snapshot: compared with itself nothing differs. The restore reads the tenant again when it runs and writes only what changed since.".to_string(),
                (Some(c), false) => format!("Compared with the tenant as the latest inventory sync saw it ({}). The restore reads the tenant again when it runs and writes only what differs.", crate::time::when_text(c.taken_at)),
                (None, _) => String::new(),
            }}</p>
            <p>{format!("{n} selected, {writes} would be written.")}</p>
            {written.into_iter().map(|item| view! {
                <article class="mt-3" data-item=item.item.to_string()>
                    <h3 class="font-medium">{item.display_name.clone()} " "
                        <span class=action_badge(item.action)>{item.action.label()}</span>
                        <span class="muted text-sm">" · " {item.kind.label()}</span>
                    </h3>
                    {(!item.changes.is_empty() && item.action != PreviewAction::Unchanged).then(move || view! {
                        <table class="table diff-table mt-1">
                            <caption class="sr-only">{format!("Settings of {}", item.display_name)}</caption>
                            <thead><tr><th scope="col">"Setting"</th><th scope="col">"In the tenant now"</th><th scope="col">"After the restore"</th></tr></thead>
                            <tbody>
                                {item.changes.into_iter().map(|c| view! {
                                    <tr>
                                        <th scope="row"><code>{c.setting}</code></th>
                                        <td class="was">{c.current.unwrap_or_else(|| "(not set)".into())}</td>
                                        <td class="now">{c.restored}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    })}
                </article>
            }).collect_view()}
            {(!unchanged.is_empty()).then(|| view! {
                <details class="mt-3">
                    <summary>{format!("{} already as in the snapshot (nothing to write)", unchanged.len())}</summary>
                    <ul class="data-list text-sm">
                        {unchanged.into_iter().map(|i| view! {
                            <li data-item=i.item.to_string()>{i.display_name} " " <span class=action_badge(i.action)>{i.action.label()}</span>
                                <span class="muted">" · " {i.kind.label()}</span></li>
                        }).collect_view()}
                    </ul>
                </details>
            })}
        </section>
        <section class="card mt-4" aria-labelledby="step-confirm">
            <h2 id="step-confirm" class="section-title">"4. Confirm"</h2>
            <p>"Restore writes to the customer's tenant. It is audited and runs as an operation you can watch."</p>
            <GateForm action={crate::forms::target::<crate::api::ExecuteRestore>()}
                submit_label=format!("Restore {n} {}", if n == 1 { "policy" } else { "policies" })
                pending_label="Starting the restore…".to_string() danger=true>
                <input type="hidden" name="tenant" value=tenant.to_string()/>
                <input type="hidden" name="snapshot" value=snapshot.to_string()/>
                <input type="hidden" name="items" value=selected/>
                <div class="field">
                    <label for="confirm-name">{confirm_label}</label>
                    <input id="confirm-name" name="confirm_name" required class="input" autocomplete="off" spellcheck="false"/>
                </div>
            </GateForm>
        </section>
    }
}
