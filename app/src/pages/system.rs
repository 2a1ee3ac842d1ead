use crate::api;
use crate::components::{EmptyState, load};
use crate::forms::ServerForm;
use crate::pages::operations::{ListData, current_query, run_list, system_filter_form};
use domain::runs::views::{SystemRunList, SystemRunsPage};
use domain::workspaces::views::SystemWorkspaceRow;
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
        {load(api::load_system_runs(list, query.clone()), move |p: SystemRunsPage| {
            let form = system_filter_form(base, p.query.filter);
            let bulk = p.cancellable.filter(|n| *n > 0).map(|n| bulk_cancel(list, query.clone(), n));
            view! {
                <section class="page">
                    <h1 class="page-title">{title}</h1>
                    <p class="muted">{intro}</p>
                    {p.durations.as_ref().map(crate::charts::durations)}
                    {bulk}
                    {run_list(base, "/system/ops/runs", true,
                        ListData { query: p.query, count: p.count, runs: p.runs, next: p.next },
                        form, list == SystemRunList::All)}
                </section>
            }
        })}
    }
}

/// Cancel every active run this list and filter show (server-side, by the
/// same filter, at most the count confirmed and the limit).
fn bulk_cancel(list: SystemRunList, query: String, n: i64) -> impl IntoView {
    use domain::runs::filter::BULK_CANCEL_LIMIT;
    let (count, words) = if n > BULK_CANCEL_LIMIT {
        (
            BULK_CANCEL_LIMIT,
            format!("the oldest {BULK_CANCEL_LIMIT} of more than {BULK_CANCEL_LIMIT} active runs"),
        )
    } else {
        (n, format!("{n} active run(s)"))
    };
    let list_value = match list {
        SystemRunList::All => "all",
        SystemRunList::Failures => "failures",
        SystemRunList::Stuck => "stuck",
    };
    view! {
        <section class="card mt-4" aria-labelledby="bulk-cancel" data-testid="bulk-cancel">
            <h2 id="bulk-cancel" class="section-title">"Cancel in bulk"</h2>
            <p class="muted">{format!("This list and filter match {words}.")}</p>
            <ServerForm action={crate::forms::target::<crate::api::SystemBulkCancel>()} submit_label=format!("Cancel {count} run(s)") danger=true
                confirm=format!("Cancel {words} matching this list and filter, across every workspace? Queued runs stop at once; running runs stop at their next check. Each cancellation is audited in its workspace with you as the actor.")
                confirm_label="Cancel them".to_string()>
                <input type="hidden" name="list" value=list_value/>
                <input type="hidden" name="query" value=query/>
                <input type="hidden" name="confirmed" value=count.to_string()/>
            </ServerForm>
        </section>
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
                                <tr><td>{w.name.clone()}</td><td class="num">{domain::views::thousands(w.member_count)}</td><td class="num">{domain::views::thousands(w.tenant_count)}</td><td>{crate::time::when(w.created_at)}</td></tr>
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any()
                }}
            </section>
        })}
    }
}
