//! Starting compares: after inventory, the catch-up sweep, compare now.

use crate::access::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::ids::{BaselineId, TenantId, WorkspaceId};
use crate::runs::gate::{Initiator, StartGate, StartRequest};
use crate::runs::service::ClaimedRun;
use crate::runs::sql::{published, published_scalar};
use crate::services::Services;
use crate::views::AuditAction;
use sqlx::AnyConnection;
use std::collections::HashMap;

use super::common::*;
use super::matrix::matrix_tenants;

/// Whether any baseline applies to the tenant.
async fn has_baseline(conn: &mut AnyConnection, tenant: TenantId) -> AppResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT b.id FROM baselines b JOIN tenants t ON t.workspace_id = b.workspace_id
         WHERE t.id = $1 AND t.status = 'active' AND {} LIMIT 1",
        assigned("b.id", "t")
    )))
    .bind(tenant.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Starts a compare of `tenant` as the system.
async fn start_compare(svc: &Services, tenant: TenantId) -> AppResult<()> {
    StartGate::start(
        svc,
        Initiator::System,
        StartRequest {
            tenant,
            op_type: crate::baselines::BASELINE_COMPARE,
            connection: None,
            args: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}

/// After a successful inventory sync of a tenant a baseline applies to:
/// compare it (as the system). What this misses, [`compare_due`] catches.
pub async fn after_run(svc: &Services, run: &ClaimedRun) {
    if run.op_type != crate::provider::INVENTORY_SYNC {
        return;
    }
    let Some(tenant) = run.tenant_id else {
        return;
    };
    let result = async {
        let mut conn = svc.store.read().await?;
        let ok: Option<(i64,)> = sqlx::query_as(concat!(
            "SELECT r.id FROM operation_runs r WHERE r.id = $1 AND ",
            crate::runs::sql::ended_well!("r")
        ))
        .bind(run.id.0)
        .fetch_optional(&mut *conn)
        .await?;
        if ok.is_none() || !has_baseline(&mut conn, tenant).await? {
            return Ok(());
        }
        drop(conn);
        start_compare(svc, tenant).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, tenant = tenant.0, "baseline compare after inventory not started");
    }
}

/// Tenants a baseline applies to whose newest published snapshot, or whose
/// baselines (a new version, an assignment), changed after their last
/// compare was started: each gets a compare as the system. Catches what
/// the after-run hook missed (a crash, a busy scope) and edits.
pub async fn compare_due(svc: &Services) -> AppResult<u64> {
    let due: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id FROM tenants t
         WHERE t.status = 'active'
           AND EXISTS (SELECT 1 FROM baselines b WHERE b.workspace_id = t.workspace_id AND {assigned_b})
           AND EXISTS (SELECT 1 FROM inventory_snapshots s WHERE s.tenant_id = t.id AND {pub_s})
           AND COALESCE((SELECT MAX(r.created_at) FROM operation_runs r WHERE r.tenant_id = t.id AND r.op_type = 'baseline_compare'), 0)
               < (SELECT MAX(x.at) FROM (
                    SELECT pr.completed_at AS at FROM inventory_snapshots s2 JOIN operation_runs pr ON pr.id = s2.run_id
                    WHERE s2.tenant_id = t.id AND {pub_s2}
                    UNION ALL
                    SELECT b2.changed_at AS at FROM baselines b2 WHERE b2.workspace_id = t.workspace_id AND {assigned_b2}
                  ) x)
         ORDER BY t.id LIMIT 500",
        assigned_b = assigned("b.id", "t"),
        assigned_b2 = assigned("b2.id", "t"),
        pub_s = published("s"),
        pub_s2 = published("s2"),
    )))
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut started = 0;
    for (tenant,) in due {
        match start_compare(svc, TenantId(tenant)).await {
            Ok(()) => started += 1,
            Err(e) => tracing::warn!(error = %e, tenant, "baseline compare not started"),
        }
    }
    Ok(started)
}

/// Fleet alignment per tenant: aligned and compared cells of the latest
/// published comparison with each baseline that applies to it now; for
/// `only` these tenants (every tenant of the workspace when `None`).
pub(crate) async fn alignment_by_tenant(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    only: Option<&[i64]>,
) -> AppResult<HashMap<i64, (i64, i64)>> {
    let among = match only {
        Some([]) => return Ok(HashMap::new()),
        Some(ids) => crate::runs::sql::tenant_among("r", ids),
        None => String::new(),
    };
    // The latest published result of each tenant and baseline in one pass
    // (a window, not `id IN (SELECT MAX(id) … GROUP BY)`, which the planner
    // may re-aggregate once per outer row when its estimates are off).
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT x.tenant_id, CAST(COALESCE(SUM(x.aligned), 0) AS BIGINT), CAST(COALESCE(SUM(x.compared), 0) AS BIGINT)
         FROM (
             SELECT r.tenant_id, r.baseline_id, r.aligned, r.aligned + r.different + r.missing AS compared,
                    ROW_NUMBER() OVER (PARTITION BY r.tenant_id, r.baseline_id ORDER BY r.id DESC) AS rn
             FROM baseline_results r
             WHERE r.workspace_id = $1{among} AND {}
         ) x JOIN tenants t ON t.id = x.tenant_id JOIN baselines b ON b.id = x.baseline_id
         WHERE x.rn = 1 AND {}
         GROUP BY x.tenant_id",
        published_scalar("r"),
        assigned("b.id", "t"),
    )))
    .bind(ws.0)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(t, a, n)| (t, (a, n))).collect())
}

/// *Compare now*: a bulk start of `baseline_compare` on every tenant the
/// baseline applies to that the member may see.
pub async fn compare_now(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
) -> AppResult<crate::schedules::BulkView> {
    let h = head(&mut *svc.store.read().await?, baseline)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = access::workspace_for_change(
        svc,
        actor,
        h.ws,
        SPEC_CAPABILITY,
        AuditAction::BulkStarted,
        format!("Baseline compare of {}", h.name),
    )
    .await?;
    let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
    let mut conn = svc.store.read().await?;
    let assigned_tenants = matrix_tenants(&mut conn, baseline, h.ws, visible_to, None).await?;
    if assigned_tenants.is_empty() {
        return Err(AppError::invalid(
            "baseline",
            "The baseline applies to no active tenant you may see: assign it first.",
        ));
    }
    // A comparison reads the latest inventory: tenants without one wait for their first sync.
    let synced: std::collections::HashSet<i64> =
        sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!(
            "SELECT t.id FROM tenants t WHERE t.workspace_id = $1
           AND EXISTS (SELECT 1 FROM inventory_snapshots s WHERE s.tenant_id = t.id AND {})",
            published("s")
        )))
        .bind(h.ws.0)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
    drop(conn);
    let tenants: Vec<TenantId> = assigned_tenants
        .into_iter()
        .filter(|t| synced.contains(&t.0))
        .map(|t| TenantId(t.0))
        .collect();
    if tenants.is_empty() {
        return Err(AppError::invalid(
            "baseline",
            "None of the tenants this baseline applies to has an inventory yet: run an inventory sync first.",
        ));
    }
    crate::schedules::bulk::start_admitted(
        svc,
        actor,
        &access,
        crate::baselines::BASELINE_COMPARE,
        tenants,
        format!("baseline {}", h.name),
        serde_json::json!({}),
    )
    .await
}
