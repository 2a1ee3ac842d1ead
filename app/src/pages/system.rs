use crate::api;
use crate::components::{EmptyState, load};
use crate::pages::operations::{ListData, current_query, run_list, system_filter_form};
use domain::views::{SystemRunList, SystemRunsPage, SystemWorkspaceRow, format_utc};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SystemHome() -> impl IntoView {
    view! {
        <Title text="System · Tenantry"/>
        <section class="page">
            <h1 class="page-title">"System plane"</h1>
            <p class="muted">"For platform operators: runs, failures and stuck work across every workspace."</p>
            <ul class="link-list">
                <li><a class="link" href="/system/ops/runs">"All runs"</a></li>
                <li><a class="link" href="/system/ops/failures">"Failures"</a></li>
                <li><a class="link" href="/system/ops/stuck">"Stuck runs"</a></li>
                <li><a class="link" href="/system/workspaces">"Workspaces"</a></li>
            </ul>
        </section>
    }
}

#[component]
fn SystemRunsList(
    title: &'static str,
    list: SystemRunList,
    base: &'static str,
    intro: &'static str,
) -> impl IntoView {
    let query = current_query();
    view! {
        <Title text=format!("{title} · System · Tenantry")/>
        {load(api::load_system_runs(list, query), move |p: SystemRunsPage| {
            let form = system_filter_form(base, p.query.filter);
            view! {
                <section class="page">
                    <h1 class="page-title">{title}</h1>
                    <p class="muted">{intro}</p>
                    {run_list(base, "/system/ops/runs", true,
                        ListData { query: p.query, count: p.count, runs: p.runs, next: p.next },
                        form, list == SystemRunList::All)}
                </section>
            }
        })}
    }
}

#[component]
pub fn SystemRuns() -> impl IntoView {
    view! { <SystemRunsList title="All runs" list=SystemRunList::All base="/system/ops/runs"
    intro="Operation runs of every workspace, newest first."/> }
}

#[component]
pub fn SystemFailures() -> impl IntoView {
    view! { <SystemRunsList title="Failures" list=SystemRunList::Failures base="/system/ops/failures"
    intro="Failed, blocked and partially succeeded runs of every workspace, including runs the reconciler closed after they went stale."/> }
}

#[component]
pub fn SystemStuck() -> impl IntoView {
    view! { <SystemRunsList title="Stuck runs" list=SystemRunList::Stuck base="/system/ops/stuck"
    intro="Active runs that look stuck: past their expected duration, or their worker stopped renewing its lease. Cancel one to free its scope now; otherwise the reconciler ends it as failed at its type's time limit (a queued run after an hour without a worker)."/> }
}

#[component]
pub fn SystemWorkspaces() -> impl IntoView {
    view! {
        <Title text="Workspaces · System · Tenantry"/>
        {load(api::load_system_workspaces(), |rows: Vec<SystemWorkspaceRow>| view! {
            <section class="page">
                <h1 class="page-title">"Workspaces"</h1>
                {if rows.is_empty() {
                    view! { <EmptyState title="No workspaces yet">"Workspaces appear here when someone creates one."</EmptyState> }.into_any()
                } else {
                    view! {
                        <table class="table">
                            <caption class="sr-only">"All workspaces"</caption>
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Members"</th><th scope="col">"Tenants"</th><th scope="col">"Created"</th></tr></thead>
                            <tbody>{rows.iter().map(|w| view! {
                                <tr><td>{w.name.clone()}</td><td>{w.member_count}</td><td>{w.tenant_count}</td><td>{format_utc(w.created_at)}</td></tr>
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any()
                }}
            </section>
        })}
    }
}
