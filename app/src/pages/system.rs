use crate::api;
use crate::components::{EmptyState, load};
use crate::pages::operations::run_table;
use domain::views::{RunRow, SystemRunList, SystemWorkspaceRow, format_utc};
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
fn SystemRunsList(title: &'static str, list: SystemRunList, empty: &'static str) -> impl IntoView {
    view! {
        <Title text=format!("{title} · System · Tenantry")/>
        {load(api::load_system_runs(list), move |rows: Vec<RunRow>| view! {
            <section class="page">
                <h1 class="page-title">{title}</h1>
                {if rows.is_empty() {
                    view! { <EmptyState title=empty>"Runs from every workspace appear here."</EmptyState> }.into_any()
                } else {
                    run_table(rows, true, None).into_any()
                }}
            </section>
        })}
    }
}

#[component]
pub fn SystemRuns() -> impl IntoView {
    view! { <SystemRunsList title="All runs" list=SystemRunList::All empty="No operation runs yet"/> }
}

#[component]
pub fn SystemFailures() -> impl IntoView {
    view! { <SystemRunsList title="Failures" list=SystemRunList::Failures empty="No failed, blocked or partial runs"/> }
}

#[component]
pub fn SystemStuck() -> impl IntoView {
    view! { <SystemRunsList title="Stuck runs" list=SystemRunList::Stuck empty="No active run looks stuck"/> }
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
