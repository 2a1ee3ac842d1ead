use crate::api;
use crate::components::{EmptyState, NoWorkspace, load};
use crate::pages::runs::tone_class;
use domain::views::{OperationsPage, RunRow, format_utc};
use leptos::prelude::*;
use leptos_meta::Title;

/// A table of runs, every label from the shared presenter.
/// `link_base`: where run ids link to (`None` on the system plane until it has its own run page).
pub fn run_table(
    rows: Vec<RunRow>,
    show_workspace: bool,
    link_base: Option<&'static str>,
) -> impl IntoView {
    view! {
        <table class="table">
            <caption class="sr-only">"Operation runs"</caption>
            <thead><tr>
                <th scope="col">"Run"</th>
                {show_workspace.then(|| view! { <th scope="col">"Workspace"</th> })}
                <th scope="col">"Tenant"</th><th scope="col">"Operation"</th><th scope="col">"Status"</th>
                <th scope="col">"Started"</th><th scope="col">"Finished"</th><th scope="col">"Why"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>
                        <td>{match link_base {
                            Some(base) => view! { <a class="link" href=format!("{base}/{}", r.id)>{format!("#{}", r.id)}</a> }.into_any(),
                            None => view! { <span>{format!("#{}", r.id)}</span> }.into_any(),
                        }}</td>
                        {show_workspace.then(|| view! { <td>{r.workspace_name.clone()}</td> })}
                        <td>{r.tenant_name.clone().unwrap_or_default()}</td>
                        <td>{r.operation.clone()}</td>
                        <td>
                            <span class=tone_class(r.headline.tone)>{r.headline.label.clone()}</span>
                            {r.reconciled_lineage.then(|| view! { <span class="badge badge-warn ml-2" title="The reconciler acted on this run">"went stale"</span> })}
                        </td>
                        <td>{format_utc(r.created_at)}</td>
                        <td>{r.completed_at.map(format_utc).unwrap_or_else(|| "—".into())}</td>
                        <td>{r.reason.clone().unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The operations hub: the newest runs of the current workspace the member may see.
#[component]
pub fn Operations() -> impl IntoView {
    view! {
        <Title text="Operations · Tenantry"/>
        {load(api::load_operations(), |page: Option<OperationsPage>| match page {
            None => view! { <section class="page"><h1 class="page-title">"Operations"</h1><NoWorkspace/></section> }.into_any(),
            Some(p) => view! {
                <section class="page">
                    <h1 class="page-title">"Operations"</h1>
                    <p class="muted">"Operation runs in " {p.workspace.name.clone()} ", newest first (the latest 50)."</p>
                    {if p.runs.is_empty() {
                        view! {
                            <EmptyState title="No operation runs yet">
                                <p>"Runs appear here when someone verifies a tenant, syncs inventory or starts another operation."</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        run_table(p.runs, false, Some("/admin/operations")).into_any()
                    }}
                </section>
            }.into_any(),
        })}
    }
}
