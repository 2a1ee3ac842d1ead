//! Operation runs: run pages, the hub, summaries, polls, notifications, the system plane.

use crate::error::ApiResult;
use domain::ids::TenantId;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};

#[server(prefix = "/api", endpoint = "runs/get")]
pub async fn load_run(run: domain::ids::RunId) -> ApiResult<domain::runs::views::RunPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::service::RunService::page(&svc, &actor, run).await?)
}

#[server(prefix = "/api", endpoint = "runs/cancel")]
pub async fn cancel_run(run: domain::ids::RunId) -> ApiResult<()> {
    use domain::runs::service::{Cancellation, RunService};
    let (svc, actor) = signed_in()?;
    let notice = match RunService::cancel(&svc, &actor, run).await? {
        Cancellation::Cancelled => "run_cancelled",
        Cancellation::Requested => "cancel_requested",
        Cancellation::AlreadyFinished => "already_finished",
    };
    redirect(&format!("/admin/operations/{run}?notice={notice}"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "notifications")]
pub async fn load_notifications() -> ApiResult<Option<domain::runs::views::NotificationsPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::notifications::page(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "notifications/read")]
pub async fn mark_notification_read(notification: domain::ids::NotificationId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::notifications::mark_read(&svc, &actor, notification).await?;
    redirect("/admin/notifications");
    Ok(())
}

#[server(prefix = "/api", endpoint = "notifications/read_all")]
pub async fn mark_all_notifications_read() -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::notifications::mark_all_read(&svc, &actor).await?;
    redirect("/admin/notifications");
    Ok(())
}

/// The operations hub; `query` is the page's URL query string, parsed by the domain.
#[server(prefix = "/api", endpoint = "operations")]
pub async fn load_hub(query: String) -> ApiResult<Option<domain::runs::views::HubPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::monitoring::hub(&svc, &actor, &query).await?)
}

/// A tenant's run summary; `refresh` (the live island's poll) leaves out
/// the runs-per-day chart, which the page draws around the island.
#[server(prefix = "/api", endpoint = "runs/tenant_summary")]
pub async fn load_tenant_runs(
    tenant: TenantId,
    refresh: Option<bool>,
) -> ApiResult<domain::runs::views::RunSummary> {
    let (svc, actor) = signed_in()?;
    let read_for = summary_for(refresh);
    Ok(domain::runs::monitoring::tenant_summary_for(&svc, &actor, tenant, read_for).await?)
}

/// The workspace's run summary; `refresh` as for a tenant's.
#[server(prefix = "/api", endpoint = "runs/workspace_summary")]
pub async fn load_workspace_runs(
    refresh: Option<bool>,
) -> ApiResult<Option<domain::runs::views::RunSummary>> {
    let (svc, actor) = signed_in()?;
    let read_for = summary_for(refresh);
    Ok(domain::runs::monitoring::workspace_summary_for(&svc, &actor, read_for).await?)
}

#[cfg(feature = "ssr")]
fn summary_for(refresh: Option<bool>) -> domain::runs::monitoring::SummaryFor {
    if refresh == Some(true) {
        domain::runs::monitoring::SummaryFor::Refresh
    } else {
        domain::runs::monitoring::SummaryFor::Page
    }
}

/// The run-detail island's poll: one run's changing fields, by primary
/// key; with `overlay`, also the progress overlay's list (the page's one
/// poll feeds both).
#[server(prefix = "/api", endpoint = "runs/poll")]
pub async fn poll_run(
    run: domain::ids::RunId,
    overlay: Option<bool>,
) -> ApiResult<domain::runs::views::RunPoll> {
    let (svc, actor) = signed_in()?;
    let pulse = domain::runs::monitoring::pulse(&svc, &actor, run).await?;
    let overlay = match overlay {
        Some(true) => Some(domain::schedules::bulk::overlay(&svc, &actor).await?),
        _ => None,
    };
    Ok(domain::runs::views::RunPoll { pulse, overlay })
}

/// The progress overlay's poll: active runs of the current workspace.
#[server(prefix = "/api", endpoint = "runs/active")]
pub async fn poll_active_runs() -> ApiResult<domain::runs::views::ActiveRuns> {
    let (svc, actor) = signed_in()?;
    Ok(domain::schedules::bulk::overlay(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "system/runs")]
pub async fn load_system_runs(
    list: domain::runs::views::SystemRunList,
    query: String,
) -> ApiResult<domain::runs::views::SystemRunsPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::monitoring::system_runs(&svc, &actor, list, &query).await?)
}

#[server(prefix = "/api", endpoint = "system/run")]
pub async fn load_system_run(run: domain::ids::RunId) -> ApiResult<domain::runs::views::RunPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::monitoring::system_run(&svc, &actor, run).await?)
}

/// System plane: cancel one run (platform operators; 404 for anyone else).
#[server(prefix = "/api", endpoint = "system/runs/cancel")]
pub async fn system_cancel_run(run: domain::ids::RunId) -> ApiResult<()> {
    use domain::runs::service::Cancellation;
    let (svc, actor) = signed_in()?;
    let notice = match domain::runs::triage::cancel(&svc, &actor, run).await? {
        Cancellation::Cancelled => "run_cancelled",
        Cancellation::Requested => "cancel_requested",
        Cancellation::AlreadyFinished => "already_finished",
    };
    redirect(&format!("/system/ops/runs/{run}?notice={notice}"));
    Ok(())
}

/// System plane: start the run's operation again through the gate; answers
/// with the presenter's toast (queued, already running, scope busy, blocked).
#[server(prefix = "/api", endpoint = "system/runs/run_again")]
pub async fn system_run_again(
    run: domain::ids::RunId,
) -> ApiResult<domain::runs::presenter::Toast> {
    let (svc, actor) = signed_in()?;
    let result = domain::runs::triage::run_again(&svc, &actor, run).await?;
    let mut toast = domain::runs::presenter::present_start(&result);
    // The system plane's own run pages (the admin ones need membership).
    toast.link = format!("/system/ops/runs/{}", result.run);
    for step in &mut toast.next_steps {
        if let Some(link) = &mut step.link
            && let Some(id) = link.href.strip_prefix("/admin/operations/")
        {
            link.href = format!("/system/ops/runs/{id}");
        }
    }
    redirect(&toast.link);
    Ok(toast)
}

/// System plane: cancel the active runs a list's filter matches, at most
/// the confirmed count.
#[server(prefix = "/api", endpoint = "system/runs/bulk_cancel")]
pub async fn system_bulk_cancel(
    list: domain::runs::views::SystemRunList,
    query: String,
    confirmed: i64,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let report = domain::runs::triage::bulk_cancel(&svc, &actor, list, &query, confirmed).await?;
    let base = match list {
        domain::runs::views::SystemRunList::Stuck => "/system/ops/stuck",
        _ => "/system/ops/runs",
    };
    redirect(&format!(
        "{base}?notice=bulk_cancelled&cancelled={}&requested={}&finished={}",
        report.cancelled, report.requested, report.already_finished
    ));
    Ok(())
}
