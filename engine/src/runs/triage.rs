//! System-plane triage for platform operators: cancel a run, *run again*
//! (a new run through the one gate, as the system on the operator's word,
//! pinned to the same tenant, connection and arguments, pointing at the
//! original), and cancel every active run a system list's filter matches
//! (by filter on the server, bounded, after a count). Everything is audited
//! in the run's workspace with the operator as actor. Anyone else gets 404:
//! the system plane does not exist for them.

use super::gate::{Initiator, StartGate, StartRequest};
use super::model::StartResult;
use super::monitoring::{BULK_CANCEL_LIMIT, active_matching, system_query};
use super::service::{Cancellation, RunService};
use crate::access::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::RunId;
use crate::runs::views::SystemRunList;
use crate::services::Services;
use serde::{Deserialize, Serialize};

fn platform_only(actor: &Actor) -> AppResult<()> {
    if actor.is_platform_operator {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

pub async fn cancel(svc: &Services, actor: &Actor, run: RunId) -> AppResult<Cancellation> {
    RunService::cancel_as_platform(svc, actor, run).await
}

/// Starts the run's operation again through the gate: same tenant, same
/// connection (the scope), same arguments. The gate answers as for anyone
/// (queued, already running, scope busy, blocked).
pub async fn run_again(svc: &Services, actor: &Actor, run: RunId) -> AppResult<StartResult> {
    platform_only(actor)?;
    let view = RunService::load(svc, run)
        .await?
        .ok_or(AppError::NotFound)?;
    let tenant = view.tenant_id.ok_or_else(|| {
        AppError::conflict("This run belongs to no tenant, so it cannot be started again.")
    })?;
    let (context,): (String,) = sqlx::query_as("SELECT context FROM operation_runs WHERE id = $1")
        .bind(run.0)
        .fetch_one(&mut *svc.store.read().await?)
        .await?;
    let args = serde_json::from_str::<serde_json::Value>(&context)
        .ok()
        .and_then(|c| c.get("args").cloned())
        .unwrap_or_default();
    let request = StartRequest {
        tenant,
        op_type: view.truth.op_type,
        connection: view.provider_connection_id,
        args,
    };
    StartGate::start(
        svc,
        Initiator::Platform {
            operator: actor,
            rerun_of: run,
        },
        request,
    )
    .await
    .map_err(|e| match e {
        // The pinned connection was deleted since.
        AppError::NotFound if view.provider_connection_id.is_some() => AppError::conflict(
            "The run's provider connection no longer exists; start the operation from the tenant instead.",
        ),
        other => other,
    })
}

/// What a bulk cancel did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkCancelReport {
    /// Queued runs, cancelled at once.
    pub cancelled: i64,
    /// Running runs, asked to stop at their next check.
    pub requested: i64,
    /// Runs that ended between the count and the click.
    pub already_finished: i64,
}

/// Cancels the active runs the list's filter matches now, oldest first, at
/// most `confirmed` of them (the number the operator saw and confirmed) and
/// never more than [`BULK_CANCEL_LIMIT`].
pub async fn bulk_cancel(
    svc: &Services,
    actor: &Actor,
    list: SystemRunList,
    raw_query: &str,
    confirmed: i64,
) -> AppResult<BulkCancelReport> {
    platform_only(actor)?;
    if list == SystemRunList::Failures {
        return Err(AppError::invalid(
            "list",
            "The failures list holds finished runs only; there is nothing to cancel.",
        ));
    }
    if confirmed < 1 {
        return Err(AppError::invalid(
            "confirmed",
            "Confirm how many runs to cancel.",
        ));
    }
    let query = system_query(list, raw_query)?;
    let limit = confirmed.min(BULK_CANCEL_LIMIT);
    let runs = active_matching(svc, &query.filter, limit, svc.now()).await?;
    let mut report = BulkCancelReport::default();
    for run in runs {
        match RunService::cancel_as_platform(svc, actor, run).await? {
            Cancellation::Cancelled => report.cancelled += 1,
            Cancellation::Requested => report.requested += 1,
            Cancellation::AlreadyFinished => report.already_finished += 1,
        }
    }
    tracing::info!(
        operator = actor.user_id.0,
        cancelled = report.cancelled,
        requested = report.requested,
        "bulk cancel from the system plane"
    );
    Ok(report)
}
