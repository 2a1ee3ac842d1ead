//! The reconciler: a periodic sweep (clock injectable) that finds running
//! runs whose lease expired, and either puts them back in the queue (when the
//! operation is safe to repeat and has attempts left) or closes them as
//! failed. Both keep a record of what was seen, when, and why.

use super::model::{OperationType, ReconciliationRecord, RunStatus};
use super::service::RunService;
use crate::error::AppResult;
use crate::ids::RunId;
use crate::services::Services;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub requeued: u64,
    pub failed: u64,
}

type StaleRow = (i64, i64, String, Option<String>, Option<i64>, Option<i64>);

pub async fn sweep(svc: &Services) -> AppResult<SweepReport> {
    let now = svc.now();
    let rows: Vec<StaleRow> = sqlx::query_as(
        "SELECT id, attempts, op_type, lease_owner, lease_expires_at, heartbeat_at FROM operation_runs
         WHERE status = 'running' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT 500",
    )
    .bind(now)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut report = SweepReport::default();
    for (id, attempts, op, owner, lease, heartbeat) in rows {
        let Ok(op) = op.parse::<OperationType>() else {
            continue;
        };
        let spec = op.spec();
        let retry = spec.requeue_after_lost_lease && attempts < spec.max_attempts;
        let record = ReconciliationRecord {
            seen_at: now,
            status_seen: RunStatus::Running,
            lease_owner: owner,
            lease_expired_at: lease,
            last_heartbeat_at: heartbeat,
            attempts,
            action: if retry { "requeued" } else { "failed" }.into(),
            why: if retry {
                format!(
                    "The worker's lease expired during attempt {attempts}; the run was queued again."
                )
            } else {
                format!(
                    "The worker's lease expired during attempt {attempts} of {}; the run was closed as failed.",
                    spec.max_attempts
                )
            },
        };
        let done = if retry {
            RunService::requeue_stale(svc, RunId(id), attempts, &record).await?
        } else {
            RunService::fail_stale(svc, RunId(id), attempts, &record).await?
        };
        if done {
            if retry {
                report.requeued += 1;
            } else {
                report.failed += 1;
            }
            tracing::info!(run = id, action = %record.action, "reconciled a run whose lease expired");
        }
    }
    Ok(report)
}

/// Sweeps every `every` until shutdown; the same beat expires review packs
/// past their retention (their files are deleted).
pub async fn run_periodically(svc: Services, every: Duration, shutdown: watch::Receiver<bool>) {
    crate::store::one_unit(sweep_periodically(svc, every, shutdown)).await
}

async fn sweep_periodically(svc: Services, every: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(e) = sweep(&svc).await {
            tracing::warn!(error = %e, "reconciliation sweep failed");
        }
        // The features' sweeps (review pack expiry, onboarding follow-ups…).
        svc.catalogue.sweep(&svc).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
