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
            metrics::counter!(
                crate::telemetry::RECONCILER_ACTIONS,
                "action" => if retry { "requeued_lost_lease" } else { "failed_lost_lease" },
            )
            .increment(1);
            tracing::info!(run = id, action = %record.action, "reconciled a run whose lease expired");
        }
    }
    report.failed += end_overdue(svc, now).await?;
    Ok(report)
}

/// Runs that hold their scope too long are ended: a queued run no worker
/// picked up within its type's queue wait, and a running attempt past its
/// type's time limit (even with a live lease: its worker's next heartbeat
/// finds the run gone and stops the handler). The limits come from the
/// catalogue's specs; the SQL pre-filters with the smallest of them.
async fn end_overdue(svc: &Services, now: i64) -> AppResult<u64> {
    let min_wait = super::model::registered_types()
        .iter()
        .map(|o| o.spec().max_queue_wait_ms)
        .min()
        .unwrap_or(i64::MAX);
    let min_runtime = super::model::registered_types()
        .iter()
        .map(|o| o.spec().max_runtime_ms)
        .min()
        .unwrap_or(i64::MAX);
    type Row = (
        i64,
        String,
        String,
        i64,
        Option<i64>,
        i64,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, op_type, status, available_at, started_at, attempts, lease_owner, heartbeat_at
         FROM operation_runs
         WHERE (status = 'queued' AND available_at < $1) OR (status = 'running' AND started_at < $2)
         ORDER BY id LIMIT 500",
    )
    .bind(now.saturating_sub(min_wait))
    .bind(now.saturating_sub(min_runtime))
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut ended = 0;
    for (id, op, status, available_at, started_at, attempts, owner, heartbeat) in rows {
        let Ok(op) = op.parse::<OperationType>() else {
            continue;
        };
        let spec = op.spec();
        let minutes = |ms: i64| (ms / 60_000).max(1);
        let done = match (status.as_str(), started_at) {
            ("queued", _) if now - available_at > spec.max_queue_wait_ms => {
                let record = ReconciliationRecord {
                    seen_at: now,
                    status_seen: RunStatus::Queued,
                    lease_owner: None,
                    lease_expired_at: None,
                    last_heartbeat_at: None,
                    attempts,
                    action: "failed".into(),
                    why: format!(
                        "Never started: no worker picked it up within {} minutes.",
                        minutes(spec.max_queue_wait_ms)
                    ),
                };
                RunService::end_never_started(svc, RunId(id), &record).await?
            }
            ("running", Some(started)) if now - started > spec.max_runtime_ms => {
                let record = ReconciliationRecord {
                    seen_at: now,
                    status_seen: RunStatus::Running,
                    lease_owner: owner,
                    lease_expired_at: None,
                    last_heartbeat_at: heartbeat,
                    attempts,
                    action: "failed".into(),
                    why: format!(
                        "Ran past its time limit of {} minutes (attempt {attempts}); the worker was told to stop.",
                        minutes(spec.max_runtime_ms)
                    ),
                };
                RunService::end_overrun(svc, RunId(id), attempts, &record).await?
            }
            _ => false,
        };
        if done {
            ended += 1;
            metrics::counter!(
                crate::telemetry::RECONCILER_ACTIONS,
                "action" => if status == "queued" { "ended_never_started" } else { "ended_time_limit" },
            )
            .increment(1);
            tracing::info!(run = id, "ended a run that held its scope too long");
        }
    }
    Ok(ended)
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
        crate::runs::catalogue::of(&svc).sweep(&svc).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
