//! The `baseline_compare` handler: reads the tenant's latest published
//! snapshot and every baseline that applies to the tenant now (its current
//! version), compares, and stores one result per baseline with its items in
//! one transaction, tagged with the run and attempt (published with the
//! run's success, like every stored result). No provider call.

use super::service::{assigned, items_of, latest_policies};
use super::{CellState, compare};
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use crate::runs::handlers::{BoxFuture, Handler, RunContext};
use crate::runs::model::{ReasonCode, SummaryCounts};
use crate::runs::service::Completion;

/// Result items per insert statement.
const INSERT_BATCH: usize = 200;

pub struct BaselineCompare;

impl Handler for BaselineCompare {
    fn run(&self, ctx: RunContext) -> BoxFuture<Completion> {
        Box::pin(async move {
            let Some(tenant) = ctx.run.tenant_id else {
                return Completion::failed(ReasonCode::HandlerFailed, "The run names no tenant.");
            };
            match run(&ctx, tenant).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "baseline compare could not read or store its data");
                    Completion::failed(
                        ReasonCode::HandlerFailed,
                        "The comparison's data could not be read or stored.",
                    )
                }
            }
        })
    }
}

/// One baseline's comparison, ready to store.
struct Compared {
    baseline: i64,
    version: i64,
    outcomes: Vec<super::ItemOutcome>,
    extras: Vec<String>,
}

async fn run(ctx: &RunContext, tenant: TenantId) -> AppResult<Completion> {
    let svc = &ctx.svc;
    let mut conn = svc.store.read().await?;
    let Some((snapshot, policies)) = latest_policies(&mut conn, tenant).await? else {
        return Ok(Completion::failed(
            ReasonCode::HandlerFailed,
            "This tenant has no inventory yet: run an inventory sync, then compare.",
        ));
    };
    let baselines: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT b.id, b.current_version, v.id FROM baselines b
         JOIN baseline_versions v ON v.baseline_id = b.id AND v.version = b.current_version
         JOIN tenants t ON t.id = $1 AND t.workspace_id = b.workspace_id
         WHERE {} ORDER BY b.id",
        assigned("b.id", "t")
    )))
    .bind(tenant.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut compared = Vec::with_capacity(baselines.len());
    for (baseline, version, version_id) in baselines {
        if ctx.cancel_requested() {
            return Ok(ctx.cancelled(SummaryCounts::default()));
        }
        let items = items_of(&mut conn, version_id).await?;
        let (outcomes, extras) = compare(&items, &policies);
        compared.push(Compared {
            baseline,
            version,
            outcomes,
            extras,
        });
    }
    let now = svc.now();
    let accepted: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT baseline_id, item_no FROM baseline_acceptances
         WHERE tenant_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(tenant.0)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);

    let mut tx = svc.store.begin().await?;
    for c in &compared {
        let n = |s: CellState| c.outcomes.iter().filter(|o| o.state == s).count() as i64;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO baseline_results (workspace_id, tenant_id, baseline_id, version, snapshot_id, run_id, attempt,
                aligned, different, missing, extras, compared_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(ctx.run.workspace_id.0)
        .bind(tenant.0)
        .bind(c.baseline)
        .bind(c.version)
        .bind(snapshot)
        .bind(ctx.run.id.0)
        .bind(ctx.run.attempt)
        .bind(n(CellState::Aligned))
        .bind(n(CellState::Different))
        .bind(n(CellState::Missing))
        .bind(serde_json::to_string(&c.extras).map_err(|_| AppError::Internal)?)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        for chunk in c.outcomes.chunks(INSERT_BATCH) {
            let sql = format!(
                "INSERT INTO baseline_result_items (result_id, item_no, state, external_id, settings) VALUES {}",
                crate::store::value_rows(chunk.len(), 5)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for o in chunk {
                q = q
                    .bind(id)
                    .bind(o.no)
                    .bind(o.state.as_str())
                    .bind(o.external_id.clone())
                    .bind(serde_json::to_string(&o.settings).map_err(|_| AppError::Internal)?);
            }
            q.execute(&mut **tx).await?;
        }
    }
    tx.commit().await?;

    let mut counts = super::StateCounts::default();
    let mut extras = 0i64;
    for c in &compared {
        extras += c.extras.len() as i64;
        for o in &c.outcomes {
            let state = if o.state.deviates() && accepted.contains(&(c.baseline, o.no)) {
                CellState::Accepted
            } else {
                o.state
            };
            counts.add(state, 1);
        }
    }
    Ok(Completion::succeeded(SummaryCounts(vec![
        ("baselines".into(), compared.len() as i64),
        ("aligned".into(), counts.aligned),
        ("different".into(), counts.different),
        ("missing".into(), counts.missing),
        ("accepted".into(), counts.accepted),
        ("extra".into(), extras),
    ])))
}
