use crate::api;
use crate::components::{EmptyState, NoWorkspace, TenantIdentityFields, load};
use crate::forms::ServerForm;
use domain::ids::TenantId;
use domain::views::{TenantPage, TenantStatus, TenantsPage, format_utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn Tenants() -> impl IntoView {
    view! {
        <Title text="Tenants · Tenantry"/>
        {load(api::load_tenants(), |page: Option<TenantsPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Tenants"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => {
                let ws = p.workspace.id;
                view! {
                    <section class="page">
                        <h1 class="page-title">"Tenants"</h1>
                        <p class="muted">"Customer tenants managed in " {p.workspace.name.clone()} "."</p>
                        {if p.tenants.is_empty() {
                            view! {
                                <EmptyState title="No tenants yet">
                                    {if p.can_manage {
                                        "Add the first customer tenant below: you need its display name and its Microsoft tenant id (a GUID from the Entra admin center)."
                                    } else {
                                        "No tenants are assigned to you yet. Ask an owner or manager to assign one."
                                    }}
                                </EmptyState>
                            }.into_any()
                        } else {
                            view! {
                                <table class="table">
                                    <caption class="sr-only">"Tenants"</caption>
                                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Microsoft tenant id"</th><th scope="col">"Status"</th><th scope="col">"Added"</th></tr></thead>
                                    <tbody>
                                        {p.tenants.iter().map(|t| view! {
                                            <tr>
                                                <td><a class="link" href=format!("/admin/t/{}", t.id)>{t.display_name.clone()}</a></td>
                                                <td><code>{t.microsoft_tenant_id.clone()}</code></td>
                                                <td><span class=if t.status == TenantStatus::Active { "badge badge-ok" } else { "badge badge-muted" }>{t.status.label()}</span></td>
                                                <td>{format_utc(t.created_at)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                        {p.can_manage.then(|| view! {
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
                    <p class="breadcrumb"><a class="link" href="/admin/tenants">"Tenants"</a> " › " {p.workspace.name.clone()}</p>
                    <h1 class="page-title">{t.display_name.clone()}
                        <span class=if is_active { "badge badge-ok ml-2" } else { "badge badge-muted ml-2" }>{t.status.label()}</span>
                    </h1>
                    <dl class="facts">
                        <dt>"Microsoft tenant id"</dt><dd><code>{t.microsoft_tenant_id.clone()}</code></dd>
                        <dt>"Added"</dt><dd>{format_utc(t.created_at)}</dd>
                        <dt>"Assigned members"</dt>
                        <dd>{if p.assigned_members.is_empty() { "None (owners and managers see every tenant)".to_string() } else { p.assigned_members.join(", ") }}</dd>
                    </dl>
                    {p.can_request_support.then(|| view! { <crate::pages::support::RequestSupport tenant=id.0/> })}
                    {(!is_active).then(|| view! {
                        <p class="notice notice-warn" role="status">"This tenant is inactive: operations cannot start for it until it is activated again."</p>
                    })}
                    {load(api::load_tenant_runs(id), move |s| view! { <crate::pages::operations::LiveRunSummary initial=s tenant=id/> })}
                    <crate::pages::provider::ProviderSection tenant=id/>
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
