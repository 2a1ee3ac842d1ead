use crate::api;
use crate::components::{NoWorkspace, load};
use domain::views::thousands;
use domain::workspaces::views::OverviewPage;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn Overview() -> impl IntoView {
    view! {
        <Title text="Overview · Tenantry"/>
        {load(api::load_overview(), |page: Option<OverviewPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Welcome to Tenantry"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => view! {
                <section class="page">
                    <h1 class="page-title">{p.workspace.name.clone()}</h1>
                    <p class="muted">"You are " {p.workspace.role.label()} " in this workspace."</p>
                    <div class="kpis">
                        <a class="kpi" href="/admin/tenants"><span class="kpi-value">{thousands(p.tenant_count)}</span><span class="kpi-label">"Tenants you can see"</span></a>
                        <a class="kpi" href="/admin/tenants"><span class="kpi-value">{thousands(p.active_tenant_count)}</span><span class="kpi-label">"Active tenants"</span></a>
                        <a class="kpi" href="/admin/members"><span class="kpi-value">{thousands(p.member_count)}</span><span class="kpi-label">"Members"</span></a>
                    </div>
                    {(p.tenant_count > 0).then(|| load(api::load_workspace_runs(None), |s: Option<domain::runs::views::RunSummary>| {
                        s.map(|mut s| {
                            let trend = std::mem::take(&mut s.trend);
                            view! {
                                <crate::pages::operations::LiveRunSummary initial=s/>
                                {crate::charts::runs_per_day("runs-per-day", "Runs that ended per day, last 30 days".into(), &trend)}
                            }
                        })
                    }))}
                    {(p.tenant_count == 0).then(|| view! {
                        <div class="empty-state">
                            <h2 class="empty-title">"No tenants yet"</h2>
                            {if p.can_manage_tenants {
                                view! { <p class="muted">"Add the first customer tenant you manage. " <a class="link" href="/admin/tenants">"Add a tenant"</a></p> }.into_any()
                            } else {
                                view! { <p class="muted">"No tenants are assigned to you yet. Ask an owner or manager to assign one."</p> }.into_any()
                            }}
                        </div>
                    })}
                </section>
            }.into_any(),
        })}
    }
}
