//! Run lists for the operations hub (admin plane) and the system plane.
//! Every row is labelled by the shared presenter from the same truth.

use super::model::{ReasonCode, ReconciliationRecord, RunStatus, RunTruth};
use super::presenter;
use crate::access::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, TenantId};
use crate::rbac::Capability;
use crate::services::Services;
use crate::views::{OperationsPage, RunRow, SystemRunList};
use sqlx::Row;

const COLUMNS: &str = "r.id, w.name AS workspace_name, r.tenant_id, t.display_name, r.op_type, r.status, r.outcome,
    r.created_at, r.started_at, r.completed_at, r.lease_expires_at, r.reason_code, r.reconciliation, r.cancel_requested_at";

fn row_of(r: &sqlx::any::AnyRow, now: i64) -> AppResult<RunRow> {
    let bad = |_| AppError::Internal;
    let status: RunStatus = r.try_get::<String, _>("status")?.parse().map_err(bad)?;
    let reconciliation: Option<ReconciliationRecord> = r
        .try_get::<Option<String>, _>("reconciliation")?
        .and_then(|s| serde_json::from_str(&s).ok());
    let truth = RunTruth {
        op_type: r.try_get::<String, _>("op_type")?.parse().map_err(bad)?,
        status,
        outcome: r.try_get::<String, _>("outcome")?.parse().map_err(bad)?,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        lease_expires_at: r.try_get("lease_expires_at")?,
        reconciled: status == RunStatus::Completed
            && reconciliation
                .as_ref()
                .is_some_and(|x| x.action == "failed"),
    };
    let cancel_requested = r
        .try_get::<Option<i64>, _>("cancel_requested_at")?
        .is_some();
    Ok(RunRow {
        id: RunId(r.try_get("id")?),
        workspace_name: r.try_get("workspace_name")?,
        tenant_id: r.try_get::<Option<i64>, _>("tenant_id")?.map(TenantId),
        tenant_name: r.try_get("display_name")?,
        operation: truth.op_type.label().to_string(),
        headline: presenter::headline_of(&truth, cancel_requested, now),
        created_at: truth.created_at,
        completed_at: r.try_get("completed_at")?,
        reason: r
            .try_get::<Option<String>, _>("reason_code")?
            .and_then(|c| c.parse::<ReasonCode>().ok())
            .map(|c| c.message().to_string()),
        reconciled_lineage: reconciliation.is_some(),
    })
}

/// The newest runs of the actor's current workspace they may see.
pub async fn workspace_recent(
    svc: &Services,
    actor: &Actor,
    limit: i64,
) -> AppResult<Option<OperationsPage>> {
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::OperationsView).await?
    else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM operation_runs r
         JOIN workspaces w ON w.id = r.workspace_id
         LEFT JOIN tenants t ON t.id = r.tenant_id
         WHERE r.workspace_id = $1
           AND ($2 = 1 OR r.tenant_id IN (SELECT a.tenant_id FROM tenant_assignments a WHERE a.user_id = $3))
         ORDER BY r.created_at DESC, r.id DESC LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(access.id().0)
        .bind(i64::from(access.role().sees_all_tenants()))
        .bind(actor.user_id.0)
        .bind(limit)
        .fetch_all(svc.store.pool())
        .await?;
    let now = svc.now();
    Ok(Some(OperationsPage {
        runs: rows
            .iter()
            .map(|r| row_of(r, now))
            .collect::<AppResult<_>>()?,
        workspace: access.workspace,
    }))
}

/// System plane lists across every workspace (platform operators only).
pub async fn system(
    svc: &Services,
    actor: &Actor,
    list: SystemRunList,
    limit: i64,
) -> AppResult<Vec<RunRow>> {
    if !actor.is_platform_operator {
        return Err(AppError::NotFound);
    }
    let filter = match list {
        SystemRunList::All => "1 = 1",
        SystemRunList::Failures => "r.outcome IN ('failed', 'blocked', 'partially_succeeded')",
        SystemRunList::Stuck => "r.status IN ('queued', 'running')",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM operation_runs r
         JOIN workspaces w ON w.id = r.workspace_id
         LEFT JOIN tenants t ON t.id = r.tenant_id
         WHERE {filter}
         ORDER BY r.created_at DESC, r.id DESC LIMIT $1"
    );
    let rows = sqlx::query(&sql)
        .bind(limit)
        .fetch_all(svc.store.pool())
        .await?;
    let now = svc.now();
    let rows: Vec<RunRow> = rows
        .iter()
        .map(|r| row_of(r, now))
        .collect::<AppResult<_>>()?;
    Ok(match list {
        // Stuck: active runs that look stale, by the shared freshness rule.
        SystemRunList::Stuck => rows
            .into_iter()
            .filter(|r| {
                r.headline.problem == Some(super::model::ProblemClass::ActiveStaleAttention)
            })
            .collect(),
        _ => rows,
    })
}
