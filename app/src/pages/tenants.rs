use crate::api;
use crate::components::{EmptyState, NoWorkspace, TenantIdentityFields, load};
use crate::forms::ServerForm;
use domain::ids::{TagId, TenantId};
use domain::schedules::TagsPanel;
use domain::views::{TenantPage, TenantStatus, TenantsPage};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The tenant list, filtered by `?tag=` when given, with each tenant's tags.
fn tenant_list(
    p: &TenantsPage,
    panel: Option<&TagsPanel>,
    tag: Option<TagId>,
) -> impl IntoView + use<> {
    let can_bulk = p.can_bulk_start;
    let members: Vec<(TagId, TenantId)> = panel.map(|x| x.members.clone()).unwrap_or_default();
    let tags = panel.map(|x| x.tags.clone()).unwrap_or_default();
    let can_tag = panel.is_some_and(|x| x.can_manage);
    // The server filtered the list by the tag (404 for one not ours).
    let shown = p.tenants.clone();
    let filter_name = p.tag.as_ref().map(|g| g.name.clone());
    view! {
        {(!tags.is_empty()).then(|| view! {
            <nav class="filters" aria-label="Filter tenants by tag">
                <a class="link" href="/admin/tenants" aria-current=tag.is_none().then_some("page")>"All"</a>
                {tags.iter().map(|g| {
                    let n = members.iter().filter(|m| m.0 == g.id).count();
                    view! {
                        <a class="link" href=format!("/admin/tenants?tag={}", g.id) aria-current=(tag == Some(g.id)).then_some("page")>
                            {format!("{} ({n})", g.name)}
                        </a>
                    }
                }).collect_view()}
            </nav>
        })}
        {match (shown.is_empty(), filter_name) {
            (true, Some(name)) => view! { <p class="muted">{format!("No tenants carry the tag {name} yet. Add them below.")}</p> }.into_any(),
            (true, None) => view! { <p class="muted">"No tenants to show."</p> }.into_any(),
            _ => view! {
                <table class="table">
                    <caption class="sr-only">"Tenants"</caption>
                    <thead><tr>{can_bulk.then(|| view! { <th scope="col"><span class="sr-only">"Choose for a bulk start"</span></th> })}<th scope="col">"Name"</th><th scope="col">"Microsoft tenant id"</th><th scope="col">"Status"</th><th scope="col">"Tags"</th><th scope="col">"Added"</th></tr></thead>
                    <tbody>
                        {shown.iter().enumerate().map(|(i, t)| {
                            let tid = t.id;
                            let own: Vec<_> = tags.iter().filter(|g| members.contains(&(g.id, tid))).cloned().collect();
                            view! {
                                <tr>
                                    {can_bulk.then(|| view! {
                                        <td><input type="checkbox" class="checkbox" form="bulk-start" name=format!("tenants[{i}]") value=tid.to_string()
                                            aria-label=format!("Choose {}", t.display_name)/></td>
                                    })}
                                    <td><a class="link" href=format!("/admin/t/{}", t.id)>{t.display_name.clone()}</a></td>
                                    <td><code>{t.microsoft_tenant_id.clone()}</code></td>
                                    <td><span class=if t.status == TenantStatus::Active { "badge badge-ok" } else { "badge badge-muted" }>{t.status.label()}</span></td>
                                    <td>
                                        <ul class="chips">
                                            {own.into_iter().map(|g| view! {
                                                <li class="chip">{g.name.clone()}
                                                    {can_tag.then(|| view! {
                                                        <ServerForm action={crate::forms::target::<crate::api::schedules::UntagTenant>()} submit_label="Remove".to_string() inline=true>
                                                            <input type="hidden" name="tenant" value=tid.to_string()/>
                                                            <input type="hidden" name="tag" value=g.id.to_string()/>
                                                        </ServerForm>
                                                    })}
                                                </li>
                                            }).collect_view()}
                                        </ul>
                                    </td>
                                    <td>{crate::time::when(t.created_at)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}
    }
}

/// One operation on many tenants: the checked rows, a tag, or every tenant
/// the list shows under its filter. The server decides which tenants those are.
fn bulk_section(
    p: &TenantsPage,
    panel: Option<&TagsPanel>,
    tag: Option<TagId>,
) -> impl IntoView + use<> {
    use domain::schedules::bulk_startable;
    let ws = p.workspace.id;
    let tags = panel.map(|x| x.tags.clone()).unwrap_or_default();
    let listed = p
        .tenants
        .iter()
        .filter(|t| t.status == TenantStatus::Active)
        .count();
    let filter_value = match tag {
        Some(g) => format!("filter:tag={g}"),
        None => "filter:".to_string(),
    };
    view! {
        <section class="card mt-6" id="bulk" aria-labelledby="bulk-title">
            <h2 id="bulk-title" class="section-title">"Start on many tenants"</h2>
            <p class="muted text-sm">"Each tenant goes through the start gate on its own: tenants already running it, busy, or blocked are counted, never started twice."</p>
            <crate::forms::GateForm action={crate::forms::target::<crate::api::schedules::StartBulk>()} id="bulk-start".to_string()
                submit_label="Start".to_string() pending_label="Starting…".to_string()
                confirm="Start this operation on every tenant you chose? Each one is checked by the start gate; blocked tenants are recorded and nothing else changes.".to_string()
                confirm_label="Start on these tenants".to_string()>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <div class="field">
                    <label for="bulk-op">"Operation"</label>
                    <select id="bulk-op" name="op_type" class="input">
                        {bulk_startable().iter().map(|o| view! { <option value=o.as_str()>{o.label()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="bulk-target">"On"</label>
                    <select id="bulk-target" name="target" class="input">
                        <option value="checked" selected=tag.is_none()>"The tenants checked in the list"</option>
                        <option value=filter_value selected=tag.is_some()>{format!("Every active tenant listed ({listed})")}</option>
                        {(!tags.is_empty()).then(|| view! {
                            <optgroup label="Tags">
                                {tags.iter().map(|g| view! {
                                    <option value=format!("tag:{}", g.id)>{format!("Tag: {} ({})", g.name, g.tenants)}</option>
                                }).collect_view()}
                            </optgroup>
                        })}
                    </select>
                </div>
            </crate::forms::GateForm>
        </section>
    }
}

/// Tag management: create, put tenants in, delete.
fn tag_section(p: &TenantsPage, panel: &TagsPanel, tag: Option<TagId>) -> impl IntoView + use<> {
    let ws = panel.workspace;
    let tenants = p.tenants.clone();
    let tags = panel.tags.clone();
    let choices = tags.clone();
    view! {
        <section class="card mt-6" id="tags" aria-labelledby="tags-title">
            <h2 id="tags-title" class="section-title">"Tags"</h2>
            <p class="muted text-sm">"Group tenants (e.g. by customer tier or region) to filter this list and to target schedules."</p>
            {(!choices.is_empty() && !tenants.is_empty()).then(|| view! {
                <ServerForm action={crate::forms::target::<crate::api::schedules::TagTenant>()} submit_label="Add to tag".to_string() inline=true>
                    <label class="sr-only" for="tag-tenant">"Tenant"</label>
                    <select id="tag-tenant" name="tenant" class="input input-sm">
                        {tenants.iter().map(|t| view! { <option value=t.id.to_string()>{t.display_name.clone()}</option> }).collect_view()}
                    </select>
                    <label class="sr-only" for="tag-tag">"Tag"</label>
                    <select id="tag-tag" name="tag" class="input input-sm">
                        {choices.iter().map(|g| view! { <option value=g.id.to_string() selected=tag == Some(g.id)>{g.name.clone()}</option> }).collect_view()}
                    </select>
                </ServerForm>
            })}
            <ul class="mt-2">
                {tags.into_iter().map(|g| {
                    let confirm = format!("Delete the tag {}? Tenants keep everything else; schedules that target this tag are deleted with it.", g.name);
                    view! {
                        <li>{g.name.clone()}
                            <ServerForm action={crate::forms::target::<crate::api::schedules::DeleteTag>()} submit_label="Delete".to_string() danger=true inline=true
                                confirm=confirm confirm_label="Delete tag".to_string()>
                                <input type="hidden" name="workspace" value=ws.to_string()/>
                                <input type="hidden" name="tag" value=g.id.to_string()/>
                            </ServerForm>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <ServerForm action={crate::forms::target::<crate::api::schedules::CreateTag>()} submit_label="Create tag".to_string() inline=true>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <label for="new-tag">"New tag"</label>
                <input id="new-tag" name="name" class="input input-sm" required maxlength="40" placeholder="Tier 1"/>
            </ServerForm>
        </section>
    }
}

#[component]
pub fn Tenants() -> impl IntoView {
    // A tag that is not a number names nothing of ours: 404, like one of
    // another workspace.
    let tag: Result<Option<TagId>, ()> = match use_query_map().read_untracked().get("tag") {
        None => Ok(None),
        Some(t) if t.is_empty() => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| ()),
    };
    let Ok(tag) = tag else {
        return view! { <crate::components::NotFound/> }.into_any();
    };
    view! {
        <Title text="Tenants · Tenantry"/>
        {load(api::load_tenants(tag), move |page: Option<TenantsPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Tenants"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => {
                let ws = p.workspace.id;
                let can_manage = p.can_manage;
                let empty = !p.any_tenants;
                view! {
                    <section class="page">
                        <h1 class="page-title">"Tenants"</h1>
                        <p class="muted">"Customer tenants managed in " {p.workspace.name.clone()} "."</p>
                        {if empty {
                            view! {
                                <EmptyState title="No tenants yet">
                                    {if can_manage {
                                        "Add the first customer tenant below: you need its display name and its Microsoft tenant id (a GUID from the Entra admin center)."
                                    } else {
                                        "No tenants are assigned to you yet. Ask an owner or manager to assign one."
                                    }}
                                </EmptyState>
                            }.into_any()
                        } else {
                            let p = p.clone();
                            load(crate::api::schedules::load_tags(), move |panel: Option<TagsPanel>| view! {
                                {tenant_list(&p, panel.as_ref(), tag)}
                                {p.can_bulk_start.then(|| bulk_section(&p, panel.as_ref(), tag))}
                                {panel.filter(|x| x.can_manage).map(|x| tag_section(&p, &x, tag))}
                            }).into_any()
                        }}
                        {can_manage.then(|| view! {
                            <section class="card mt-6" aria-labelledby="add-tenant">
                                <h2 id="add-tenant" class="section-title">"Add a tenant"</h2>
                                <ServerForm action={crate::forms::target::<crate::api::CreateTenant>()} submit_label="Add tenant".to_string() pending_label="Adding…".to_string()>
                                    <input type="hidden" name="workspace" value=ws.to_string()/>
                                    <TenantIdentityFields prefix="tenant"/>
                                </ServerForm>
                            </section>
                        })}
                    </section>
                }.into_any()
            }
        })}
    }
    .into_any()
}

#[component]
pub fn TenantDashboard() -> impl IntoView {
    let params = use_params_map();
    let tenant: Option<TenantId> = params
        .read_untracked()
        .get("tenant")
        .and_then(|t| t.parse().ok());
    let Some(tenant) = tenant else {
        return view! { <crate::components::NotFound/> }.into_any();
    };
    view! {
        {load(api::load_tenant(tenant), |p: TenantPage| {
            let t = p.tenant.clone();
            let id = t.id;
            let confirm_deactivate = format!(
                "Deactivate {}? New operations will be blocked until it is activated again.",
                t.display_name
            );
            let current_name = t.display_name.clone();
            let is_active = t.status == TenantStatus::Active;
            view! {
                <Title text=format!("{} · Tenantry", t.display_name)/>
                <section class="page">
                    // The page's first stop for the keyboard: straight to the Start buttons.
                    <a href="#start-operations" class="skip-link">"Skip to operations"</a>
                    <p class="breadcrumb"><a class="link" href="/admin/tenants">"Tenants"</a> " › " {p.workspace.name.clone()}</p>
                    <h1 class="page-title">{t.display_name.clone()}
                        <span class=if is_active { "badge badge-ok ml-2" } else { "badge badge-muted ml-2" }>{t.status.label()}</span>
                    </h1>
                    <dl class="facts">
                        <dt>"Microsoft tenant id"</dt><dd><code>{t.microsoft_tenant_id.clone()}</code></dd>
                        <dt>"Added"</dt><dd>{crate::time::when(t.created_at)}</dd>
                        <dt>"Assigned members"</dt>
                        <dd>{if p.assigned_members.is_empty() { "None (owners and managers see every tenant)".to_string() } else { p.assigned_members.join(", ") }}</dd>
                    </dl>
                    {p.can_request_support.then(|| view! { <crate::pages::support::RequestSupport tenant=id.0/> })}
                    {(!is_active).then(|| view! {
                        <p class="notice notice-warn" role="status">"This tenant is inactive: operations cannot start for it until it is activated again."</p>
                    })}
                    {load(api::load_tenant_runs(id, None), move |mut s: domain::runs::views::RunSummary| {
                        let trend = std::mem::take(&mut s.trend);
                        view! {
                            <crate::pages::operations::LiveRunSummary initial=s tenant=id/>
                            {crate::charts::runs_per_day("runs-per-day", "Runs that ended per day, last 30 days".into(), &trend)}
                        }
                    })}
                    <crate::pages::provider::ProviderSection tenant=id/>
                    {load(crate::api::provider::load_drift_card(id), crate::pages::drift::drift_card)}
                    {p.can_restore.then(|| view! {
                        <p class="mt-3"><a class="link" href=format!("/admin/t/{id}/restore")>"Restore policies from an inventory snapshot"</a></p>
                    })}
                    {load(api::load_review_pack_card(id), |c| view! { <crate::pages::review_packs::ReviewPackPanel initial=c/> })}
                    {p.can_manage.then(|| view! {
                        <div class="grid-2 mt-6">
                            <section class="card" aria-labelledby="rename">
                                <h2 id="rename" class="section-title">"Rename"</h2>
                                <ServerForm action={crate::forms::target::<crate::api::RenameTenant>()} submit_label="Save name".to_string()>
                                    <input type="hidden" name="tenant" value=id.to_string()/>
                                    <div class="field">
                                        <label for="tenant-name">"Display name"</label>
                                        <input id="tenant-name" name="display_name" required maxlength="120" class="input" value=current_name.clone()/>
                                    </div>
                                </ServerForm>
                            </section>
                            <section class="card" aria-labelledby="status">
                                <h2 id="status" class="section-title">"Status"</h2>
                                {if is_active {
                                    view! {
                                        <p class="muted">"Deactivating stops new operations for this tenant. Its data stays."</p>
                                        <ServerForm action={crate::forms::target::<crate::api::SetTenantStatus>()} submit_label="Deactivate tenant".to_string() danger=true
                                            confirm=confirm_deactivate.clone()
                                            confirm_label="Deactivate".to_string()>
                                            <input type="hidden" name="tenant" value=id.to_string()/>
                                            <input type="hidden" name="status" value="inactive"/>
                                        </ServerForm>
                                    }.into_any()
                                } else {
                                    view! {
                                        <ServerForm action={crate::forms::target::<crate::api::SetTenantStatus>()} submit_label="Activate tenant".to_string()>
                                            <input type="hidden" name="tenant" value=id.to_string()/>
                                            <input type="hidden" name="status" value="active"/>
                                        </ServerForm>
                                    }.into_any()
                                }}
                            </section>
                        </div>
                    })}
                </section>
            }
        })}
    }
    .into_any()
}
