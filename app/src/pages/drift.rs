//! Drift: the tenant page's *Changes since the last sync* card and the
//! tenant's change history. Server-rendered only: changes appear with a sync,
//! and the run's own live view covers the wait for it.

use crate::components::load;
use domain::drift::{ChangeKind, DriftCard, DriftEntryView, DriftHistory, SettingDelta};
use domain::ids::TenantId;
use leptos::prelude::*;
use leptos_meta::Title;

fn change_badge(c: ChangeKind) -> &'static str {
    match c {
        ChangeKind::Added => "badge badge-info",
        ChangeKind::Removed => "badge badge-bad",
        ChangeKind::Changed => "badge badge-warn",
    }
}

fn value_cell(v: Option<String>) -> impl IntoView {
    match v {
        Some(v) => view! { <code>{v}</code> }.into_any(),
        None => view! { <span class="muted">"(not set)"</span> }.into_any(),
    }
}

fn settings_table(settings: Vec<SettingDelta>) -> impl IntoView {
    (!settings.is_empty()).then(|| {
        view! {
            <table class="table table-compact mt-1">
                <caption class="sr-only">"Settings before and after"</caption>
                <thead><tr><th scope="col">"Setting"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                <tbody>
                    {settings.into_iter().map(|s| view! {
                        <tr><th scope="row"><code>{s.setting}</code></th><td>{value_cell(s.before)}</td><td>{value_cell(s.after)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    })
}

/// One change: what, which policy, each setting, and the way back.
fn entry(e: DriftEntryView, tenant: TenantId, can_restore: bool, show_time: bool) -> impl IntoView {
    let restore = can_restore.then(|| e.restore_link(tenant)).flatten();
    view! {
        <li class="drift-entry" data-change=e.change.as_str() data-policy=e.external_id.clone()>
            <p>
                <span class=change_badge(e.change)>{e.change.label()}</span>
                " " <strong>{e.display_name.clone()}</strong>
                <span class="muted text-sm">" · " {e.kind_label.clone()}</span>
                {show_time.then(|| view! { <span class="muted text-sm">" · " {crate::time::when(e.detected_at)} " · "
                    <a class="link" href=domain::runs::presenter::run_link(e.run)>{format!("run #{}", e.run)}</a></span> })}
            </p>
            {settings_table(e.settings)}
            {restore.map(|href| view! {
                <a class="link text-sm" href=href>"Restore this policy to before…"</a>
            })}
        </li>
    }
}

/// The card on a tenant's dashboard.
pub fn drift_card(c: DriftCard) -> impl IntoView {
    let tenant = c.tenant;
    let history = format!("/admin/t/{tenant}/changes");
    let body = match (c.synced_at, c.compared) {
        (None, _) => view! { <p class="muted">"No inventory yet. Run an inventory sync; changes appear from the second one on."</p> }.into_any(),
        (Some(_), false) => view! { <p class="muted">"The first inventory is the starting point: changes appear from the next sync on."</p> }.into_any(),
        (Some(at), true) if c.entries.is_empty() => view! {
            <p class="muted" data-testid="drift-none">{format!("Nothing changed in the policies at the sync of {}.", crate::time::when_text(at))}</p>
        }.into_any(),
        (Some(at), true) => {
            let total = c.added + c.removed + c.changed;
            let more = total - c.entries.len() as i64;
            let can_restore = c.can_restore;
            view! {
                <p data-testid="drift-counts" data-added=c.added data-removed=c.removed data-changed=c.changed>
                    {format!("At the sync of {}: {} added · {} removed · {} changed.", crate::time::when_text(at), c.added, c.removed, c.changed)}
                </p>
                <ul class="drift-list">
                    {c.entries.into_iter().map(|e| entry(e, tenant, can_restore, false)).collect_view()}
                </ul>
                {(more > 0).then(|| view! { <p class="muted text-sm">{format!("{more} more in the history.")}</p> })}
            }.into_any()
        }
    };
    view! {
        <section class="card mt-6" aria-labelledby="drift-title">
            <h2 id="drift-title" class="section-title">"Changes since the last sync"</h2>
            {body}
            <p class="mt-2"><a class="link" href=history>"All changes"</a></p>
        </section>
    }
}

fn history_view(h: DriftHistory) -> impl IntoView {
    let tenant = h.tenant;
    let base = format!("/admin/t/{tenant}/changes");
    let f = h.filter.clone();
    let narrowed = f != domain::drift::DriftFilter::default();
    let can_restore = h.can_restore;
    view! {
        <form method="get" action=base.clone() class="filters" aria-label="Filter changes">
            <div class="field">
                <label for="d-change">"Change"</label>
                <select id="d-change" name="change" class="input">
                    <option value="" selected=f.change.is_none()>"Any change"</option>
                    {ChangeKind::ALL.into_iter().map(|c| view! { <option value=c.as_str() selected=f.change == Some(c)>{c.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="d-kind">"Kind"</label>
                <select id="d-kind" name="kind" class="input">
                    <option value="" selected=f.kind.is_none()>"Any kind"</option>
                    <option value="device_configuration" selected=f.kind.as_deref() == Some("device_configuration")>"Device configuration"</option>
                    <option value="compliance_policy" selected=f.kind.as_deref() == Some("compliance_policy")>"Compliance policy"</option>
                </select>
            </div>
            <div class="field">
                <label for="d-policy">"Policy name contains"</label>
                <input id="d-policy" name="policy" class="input" maxlength="100" value=f.policy.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="d-days">"Found"</label>
                <select id="d-days" name="days" class="input">
                    <option value="" selected=f.days.is_none()>"Any time"</option>
                    {[(1, "Last 24 hours"), (7, "Last 7 days"), (30, "Last 30 days")].into_iter().map(|(d, label)| view! {
                        <option value=d.to_string() selected=f.days == Some(d)>{label}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="filter-actions">
                <button type="submit" class="btn btn-primary">"Apply filters"</button>
                {narrowed.then(|| view! { <a class="link" href=base.clone()>"Clear filters"</a> })}
            </div>
        </form>
        {if h.entries.is_empty() {
            view! { <p class="muted" data-testid="drift-empty">{if narrowed { "No change matches these filters." } else { "No changes recorded yet: they appear from the second inventory sync on." }}</p> }.into_any()
        } else {
            let n = h.entries.len();
            view! {
                <ul class="drift-list" data-testid="drift-history" data-count=n>
                    {h.entries.into_iter().map(|e| entry(e, tenant, can_restore, true)).collect_view()}
                </ul>
            }.into_any()
        }}
        {h.next.map(|q| view! { <p class="mt-4"><a class="link" href=format!("{base}?{q}")>"Older changes"</a></p> })}
    }
}

/// `/admin/t/:tenant/changes`: a tenant's change history.
#[component]
pub fn Changes() -> impl IntoView {
    let tenant: Option<TenantId> = leptos_router::hooks::use_params_map()
        .read_untracked()
        .get("tenant")
        .and_then(|t| t.parse().ok());
    let Some(tenant) = tenant else {
        return view! { <crate::components::NotFound/> }.into_any();
    };
    let query = crate::pages::operations::current_query();
    view! {
        {load(crate::api::provider::load_drift_history(tenant, query), move |h: DriftHistory| {
            let name = h.tenant_name.clone();
            view! {
                <Title text=format!("Changes · {name} · Tenantry")/>
                <section class="page">
                    <p class="breadcrumb"><a class="link" href="/admin/tenants">"Tenants"</a> " › "
                        <a class="link" href=format!("/admin/t/{tenant}")>{name.clone()}</a></p>
                    <h1 class="page-title">"Policy changes"</h1>
                    <p class="muted">"What each inventory sync found changed since the one before: policies added, removed, and each setting before → after."</p>
                    {history_view(h)}
                </section>
            }
        })}
    }
    .into_any()
}
