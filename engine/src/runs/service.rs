//! The run service: the only code that changes a run's status or outcome.
//! Every transition is a conditional UPDATE, so a terminal run never changes
//! (a database trigger refuses it too) and a worker that lost its lease
//! (attempt fencing) cannot write an outcome.

use super::model::{
    InitiatorKind, OperationType, ReasonCode, ReconciliationRecord, RunOutcome, RunStatus,
    RunTruth, RunView, SummaryCounts,
};
use super::presenter;
use crate::access::{self, Actor};
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{ProviderConnectionId, RunId, TenantId, UserId, WorkspaceId};
use crate::services::Services;
use crate::store::Backend;
use crate::views::{AuditAction, AuditOutcome};
use sqlx::AnyConnection;

/// Failure summaries are short, human words; never a raw payload.
pub const FAILURE_SUMMARY_MAX: usize = 500;

/// A run a worker holds. `attempt` fences every later write.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    pub id: RunId,
    pub attempt: i64,
    pub op_type: OperationType,
    pub workspace_id: WorkspaceId,
    pub tenant_id: Option<TenantId>,
    pub provider_connection_id: Option<ProviderConnectionId>,
    pub args: serde_json::Value,
    pub worker: String,
    /// Set for runs a user started: their completion notifies that user.
    pub initiator_user: Option<UserId>,
}

/// What a handler reports when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub outcome: RunOutcome,
    pub summary: SummaryCounts,
    pub failure_summary: Option<String>,
    pub reason: Option<ReasonCode>,
}

impl Completion {
    pub fn succeeded(summary: SummaryCounts) -> Self {
        Completion {
            outcome: RunOutcome::Succeeded,
            summary,
            failure_summary: None,
            reason: None,
        }
    }

    pub fn failed(reason: ReasonCode, summary: impl Into<String>) -> Self {
        Completion {
            outcome: RunOutcome::Failed,
            summary: SummaryCounts::default(),
            failure_summary: Some(summary.into()),
            reason: Some(reason),
        }
    }
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    Held {
        cancel_requested: bool,
    },
    /// The lease is gone (reconciled, or another attempt holds the run).
    Lost,
}

/// The result of a cancellation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// It was queued: cancelled at once.
    Cancelled,
    /// It is running: the handler will stop at its next check.
    Requested,
    /// It had already ended.
    AlreadyFinished,
}

fn bounded(s: Option<String>) -> Option<String> {
    s.map(|s| {
        let s: String = s
            .chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .collect();
        if s.chars().count() > FAILURE_SUMMARY_MAX {
            let mut t: String = s.chars().take(FAILURE_SUMMARY_MAX - 1).collect();
            t.push('…');
            t
        } else {
            s
        }
    })
}

type ClaimRow = (
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    Option<i64>,
    // available_at: when it became claimable (pickup latency)
    i64,
);

pub struct RunService;

/// The queue as a metrics scrape reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueState {
    pub queued: i64,
    pub running: i64,
    /// How long the oldest claimable queued run has waited (ms; 0 when none).
    pub oldest_wait_ms: i64,
}

impl RunService {
    /// Active counts and the oldest claimable run, both through the partial
    /// index of active runs: cheap at any table size (never a count over
    /// every run).
    pub async fn queue_state(svc: &Services) -> AppResult<QueueState> {
        let now = svc.now();
        let mut conn = svc.store.read().await?;
        let counts: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM operation_runs WHERE status IN ('queued', 'running') GROUP BY status",
        )
        .fetch_all(&mut *conn)
        .await?;
        let (oldest,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(available_at) FROM operation_runs WHERE status = 'queued' AND available_at <= $1",
        )
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        let count = |s: &str| counts.iter().find(|c| c.0 == s).map_or(0, |c| c.1);
        Ok(QueueState {
            queued: count("queued"),
            running: count("running"),
            oldest_wait_ms: oldest.map_or(0, |at| now.saturating_sub(at).max(0)),
        })
    }

    /// Claims up to `max` queued runs for `worker`, oldest first.
    /// PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers never wait on each
    /// other; SQLite: one writer at a time under BEGIN IMMEDIATE.
    #[tracing::instrument(name = "runs.claim", level = "debug", skip_all, fields(worker = worker, max = max))]
    pub async fn claim(
        svc: &Services,
        worker: &str,
        max: i64,
        lease_ms: i64,
    ) -> AppResult<Vec<ClaimedRun>> {
        let now = svc.now();
        let pick = match svc.store.backend() {
            Backend::Postgres => {
                "SELECT id FROM operation_runs WHERE status = 'queued' AND available_at <= $1
                 ORDER BY available_at, id LIMIT $4 FOR UPDATE SKIP LOCKED"
            }
            Backend::Sqlite => {
                "SELECT id FROM operation_runs WHERE status = 'queued' AND available_at <= $1
                 ORDER BY available_at, id LIMIT $4"
            }
        };
        let sql = format!(
            "UPDATE operation_runs SET status = 'running', started_at = COALESCE(started_at, $1),
                attempts = attempts + 1, lease_owner = $2, lease_expires_at = $3, heartbeat_at = $1
             WHERE id IN ({pick})
             RETURNING id, attempts, op_type, workspace_id, tenant_id, provider_connection_id, context, initiator_user_id,
                available_at"
        );
        let rows: Vec<ClaimRow> = match svc.store.backend() {
            Backend::Postgres => {
                sqlx::query_as(sqlx::AssertSqlSafe(&*sql))
                    .bind(now)
                    .bind(worker)
                    .bind(now + lease_ms)
                    .bind(max)
                    .fetch_all(&mut *svc.store.write().await?)
                    .await?
            }
            Backend::Sqlite => {
                let mut tx = svc.store.begin().await?;
                let rows = sqlx::query_as(sqlx::AssertSqlSafe(&*sql))
                    .bind(now)
                    .bind(worker)
                    .bind(now + lease_ms)
                    .bind(max)
                    .fetch_all(&mut **tx)
                    .await?;
                tx.commit().await?;
                rows
            }
        };
        let mut claimed: Vec<ClaimedRun> = rows
            .into_iter()
            .filter_map(
                |(id, attempt, op, ws, tenant, conn, context, user, available_at)| {
                    let context: serde_json::Value =
                        serde_json::from_str(&context).unwrap_or_default();
                    let op_type: OperationType = op.parse().ok()?;
                    metrics::histogram!(crate::telemetry::RUN_PICKUP, "op_type" => op_type.as_str())
                    .record(now.saturating_sub(available_at).max(0) as f64 / 1000.0);
                    Some(ClaimedRun {
                        id: RunId(id),
                        attempt,
                        op_type,
                        workspace_id: WorkspaceId(ws),
                        tenant_id: tenant.map(TenantId),
                        provider_connection_id: conn.map(ProviderConnectionId),
                        args: context.get("args").cloned().unwrap_or_default(),
                        worker: worker.to_string(),
                        initiator_user: user.map(UserId),
                    })
                },
            )
            .collect();
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Extends the lease while the attempt still holds the run.
    pub async fn heartbeat(
        svc: &Services,
        run: &ClaimedRun,
        lease_ms: i64,
    ) -> AppResult<Heartbeat> {
        let now = svc.now();
        let row: Option<(Option<i64>,)> = sqlx::query_as(
            "UPDATE operation_runs SET heartbeat_at = $4, lease_expires_at = $5
             WHERE id = $1 AND status = 'running' AND attempts = $2 AND lease_owner = $3
             RETURNING cancel_requested_at",
        )
        .bind(run.id.0)
        .bind(run.attempt)
        .bind(&run.worker)
        .bind(now)
        .bind(now + lease_ms)
        .fetch_optional(&mut *svc.store.write().await?)
        .await?;
        Ok(match row {
            Some((cancel,)) => Heartbeat::Held {
                cancel_requested: cancel.is_some(),
            },
            None => Heartbeat::Lost,
        })
    }

    /// Ends a run with the handler's outcome. Refused (`Conflict`) when the
    /// attempt no longer holds the run.
    #[tracing::instrument(name = "runs.complete", skip_all, fields(run_id = run.id.0, attempt = run.attempt, outcome = completion.outcome.as_str()))]
    pub async fn complete(
        svc: &Services,
        run: &ClaimedRun,
        completion: Completion,
    ) -> AppResult<()> {
        if completion.outcome == RunOutcome::Pending || completion.outcome == RunOutcome::Blocked {
            return Err(AppError::Internal);
        }
        let now = svc.now();
        let summary = serde_json::to_string(&completion.summary).map_err(|_| AppError::Internal)?;
        let finish = sqlx::query(crate::runs::sql::ending!(
            svc.store.backend(),
            "UPDATE operation_runs SET status = 'completed', outcome = $4, completed_at = $5, summary = $6,
                failure_summary = $7, reason_code = $8, lease_owner = NULL, lease_expires_at = NULL, end_mark = ",
            "
             WHERE id = $1 AND status = 'running' AND attempts = $2 AND lease_owner = $3"
        ))
            .bind(run.id.0)
            .bind(run.attempt)
            .bind(&run.worker)
            .bind(completion.outcome.as_str())
            .bind(now)
            .bind(summary)
            .bind(bounded(completion.failure_summary))
            .bind(completion.reason.map(|r| r.as_str()));
        let fenced = || AppError::conflict("This attempt no longer holds the run.");
        // Nobody to notify on PostgreSQL: one autocommitted statement.
        if run.initiator_user.is_none() && svc.store.backend() == Backend::Postgres {
            let done = finish
                .execute(&mut *svc.store.write().await?)
                .await?
                .rows_affected();
            return if done == 0 { Err(fenced()) } else { Ok(()) };
        }
        let mut tx = svc.store.begin().await?;
        let done = finish.execute(&mut **tx).await?.rows_affected();
        if done == 0 {
            return Err(fenced());
        }
        if run.initiator_user.is_some() {
            notify_initiator(&mut tx, run.id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts a held run back in the queue (graceful shutdown).
    pub async fn release(svc: &Services, run: &ClaimedRun) -> AppResult<bool> {
        let now = svc.now();
        let n = sqlx::query(
            "UPDATE operation_runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, available_at = $4
             WHERE id = $1 AND status = 'running' AND attempts = $2 AND lease_owner = $3",
        )
        .bind(run.id.0)
        .bind(run.attempt)
        .bind(&run.worker)
        .bind(now)
        .execute(&mut *svc.store.write().await?)
        .await?
        .rows_affected();
        if n > 0 {
            svc.run_signal.notify();
        }
        Ok(n > 0)
    }

    /// Cancels a run for an authorised member: queued → cancelled at once;
    /// running → cancellation requested, honoured by the handler.
    pub async fn cancel(svc: &Services, actor: &Actor, run: RunId) -> AppResult<Cancellation> {
        let view = Self::view_for(svc, actor, run).await?;
        let capability = view.truth.op_type.spec().capability;
        let tenant = view.tenant_id.ok_or(AppError::NotFound)?;
        access::tenant_for_change(
            svc,
            actor,
            tenant,
            capability,
            crate::views::AuditAction::OperationCancelled,
            format!("{} #{run}", view.truth.op_type.label()),
        )
        .await?;
        Self::cancel_unchecked(svc, actor, &view, "").await
    }

    /// Cancels a run on a platform operator's word (system plane): the same
    /// change, audited in the run's workspace with the operator as actor.
    pub async fn cancel_as_platform(
        svc: &Services,
        actor: &Actor,
        run: RunId,
    ) -> AppResult<Cancellation> {
        if !actor.is_platform_operator {
            return Err(AppError::NotFound);
        }
        let view = Self::load(svc, run).await?.ok_or(AppError::NotFound)?;
        Self::cancel_unchecked(svc, actor, &view, " from the system plane").await
    }

    /// The cancellation itself, for a caller that authorised it. `how`
    /// completes the audit detail (who cancelled from where).
    async fn cancel_unchecked(
        svc: &Services,
        actor: &Actor,
        view: &RunView,
        how: &str,
    ) -> AppResult<Cancellation> {
        let run = view.id;
        let now = svc.now();
        let mut tx = svc.store.begin().await?;
        let cancelled = sqlx::query(crate::runs::sql::ending!(
            svc.store.backend(),
            "UPDATE operation_runs SET status = 'completed', outcome = 'cancelled', completed_at = $2, reason_code = 'cancelled',
                end_mark = ",
            "
             WHERE id = $1 AND status = 'queued'"
        ))
        .bind(run.0)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        let result = if cancelled > 0 {
            notify_initiator(&mut tx, run, now).await?;
            Cancellation::Cancelled
        } else {
            let requested = sqlx::query(
                "UPDATE operation_runs SET cancel_requested_at = $2 WHERE id = $1 AND status = 'running'",
            )
            .bind(run.0)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if requested > 0 {
                Cancellation::Requested
            } else {
                Cancellation::AlreadyFinished
            }
        };
        if result != Cancellation::AlreadyFinished {
            let what = if result == Cancellation::Cancelled {
                "cancelled while queued"
            } else {
                "cancellation requested while running"
            };
            audit::record(
                &mut tx,
                Entry {
                    workspace: Some(view.workspace_id),
                    tenant: view.tenant_id,
                    actor: Some(actor.user_id),
                    actor_label: &actor.email,
                    action: AuditAction::OperationCancelled,
                    target: format!("{} #{run}", view.truth.op_type.label()),
                    outcome: AuditOutcome::Succeeded,
                    detail: Some(format!("{what}{how}")),
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(result)
    }

    /// Reconciler: an expired lease goes back to the queue with a record of
    /// what was seen. Only when the run still looks exactly as seen.
    pub async fn requeue_stale(
        svc: &Services,
        run: RunId,
        attempt: i64,
        record: &ReconciliationRecord,
    ) -> AppResult<bool> {
        let now = svc.now();
        let n = sqlx::query(
            "UPDATE operation_runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,
                available_at = $3, reconciliation = $4
             WHERE id = $1 AND status = 'running' AND attempts = $2 AND lease_expires_at < $3",
        )
        .bind(run.0)
        .bind(attempt)
        .bind(now)
        .bind(serde_json::to_string(record).map_err(|_| AppError::Internal)?)
        .execute(&mut *svc.store.write().await?)
        .await?
        .rows_affected();
        if n > 0 {
            svc.run_signal.notify();
        }
        Ok(n > 0)
    }

    /// Reconciler: an expired lease that must not be retried closes the run
    /// as failed, keeping the lineage.
    pub async fn fail_stale(
        svc: &Services,
        run: RunId,
        attempt: i64,
        record: &ReconciliationRecord,
    ) -> AppResult<bool> {
        let now = svc.now();
        let mut tx = svc.store.begin().await?;
        let n = sqlx::query(crate::runs::sql::ending!(
            svc.store.backend(),
            "UPDATE operation_runs SET status = 'completed', outcome = 'failed', completed_at = $3,
                reason_code = 'lease_expired', failure_summary = $5, reconciliation = $4,
                lease_owner = NULL, lease_expires_at = NULL, end_mark = ",
            "
             WHERE id = $1 AND status = 'running' AND attempts = $2 AND lease_expires_at < $3"
        ))
        .bind(run.0)
        .bind(attempt)
        .bind(now)
        .bind(serde_json::to_string(record).map_err(|_| AppError::Internal)?)
        .bind(record.why.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if n > 0 {
            notify_initiator(&mut tx, run, now).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Reconciler: a queued run no worker picked up in time ends as failed
    /// (`never_started`), keeping the record of what was seen.
    pub async fn end_never_started(
        svc: &Services,
        run: RunId,
        record: &ReconciliationRecord,
    ) -> AppResult<bool> {
        Self::end_by_reconciler(svc, run, None, ReasonCode::NeverStarted, record).await
    }

    /// Reconciler: an attempt past its type's time limit ends as failed
    /// (`time_limit_exceeded`); fenced by the attempt, so a run that finished
    /// or moved on meanwhile is left alone.
    pub async fn end_overrun(
        svc: &Services,
        run: RunId,
        attempt: i64,
        record: &ReconciliationRecord,
    ) -> AppResult<bool> {
        Self::end_by_reconciler(
            svc,
            run,
            Some(attempt),
            ReasonCode::TimeLimitExceeded,
            record,
        )
        .await
    }

    async fn end_by_reconciler(
        svc: &Services,
        run: RunId,
        running_attempt: Option<i64>,
        reason: ReasonCode,
        record: &ReconciliationRecord,
    ) -> AppResult<bool> {
        let now = svc.now();
        let mut tx = svc.store.begin().await?;
        let fence = match running_attempt {
            Some(_) => "status = 'running' AND attempts = $6",
            None => "status = 'queued'",
        };
        let sql = crate::runs::sql::ending!(
            svc.store.backend(),
            "UPDATE operation_runs SET status = 'completed', outcome = 'failed', completed_at = $2,
                reason_code = $3, failure_summary = $4, reconciliation = $5,
                lease_owner = NULL, lease_expires_at = NULL, end_mark = ",
            "
             WHERE id = $1 AND {fence}"
        )
        .replace("{fence}", fence);
        let mut update = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(run.0)
            .bind(now)
            .bind(reason.as_str())
            .bind(record.why.as_str())
            .bind(serde_json::to_string(record).map_err(|_| AppError::Internal)?);
        if let Some(attempt) = running_attempt {
            update = update.bind(attempt);
        }
        let n = update.execute(&mut **tx).await?.rows_affected();
        if n > 0 {
            notify_initiator(&mut tx, run, now).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// A run the actor may see (404 otherwise).
    pub async fn view_for(svc: &Services, actor: &Actor, run: RunId) -> AppResult<RunView> {
        let mut conn = svc.store.read().await?;
        let view = load_view(&mut conn, run).await?.ok_or(AppError::NotFound)?;
        drop(conn);
        match view.tenant_id {
            Some(t) => {
                access::tenant(svc, actor, t, crate::rbac::Capability::OperationsView).await?;
            }
            None => {
                access::workspace(
                    svc,
                    actor,
                    view.workspace_id,
                    crate::rbac::Capability::OperationsView,
                )
                .await?;
            }
        }
        Ok(view)
    }

    /// Run detail for a member who may see the run.
    pub async fn page(
        svc: &Services,
        actor: &Actor,
        run: RunId,
    ) -> AppResult<crate::runs::views::RunPage> {
        let view = Self::view_for(svc, actor, run).await?;
        let capability = view.truth.op_type.spec().capability;
        let role = match view.tenant_id {
            Some(t) => access::tenant(svc, actor, t, crate::rbac::Capability::TenantView)
                .await
                .ok()
                .map(|a| a.workspace.role()),
            None => None,
        };
        let can_cancel = view.truth.is_active() && role.is_some_and(|r| r.can(capability));
        let can_request_support =
            role.is_some_and(|r| r.can(crate::rbac::Capability::SupportRequest));
        let now = svc.now();
        let items = crate::runs::catalogue::of(svc)
            .items(svc, view.truth.op_type, run)
            .await?;
        Ok(crate::runs::views::RunPage {
            headline: presenter::headline(&view, now),
            run: view,
            can_cancel,
            can_request_support,
            now,
            items,
        })
    }

    /// A run by id, unguarded (system plane and tests).
    pub async fn load(svc: &Services, run: RunId) -> AppResult<Option<RunView>> {
        let mut conn = svc.store.read().await?;
        load_view(&mut conn, run).await
    }
}

pub(crate) async fn load_view(conn: &mut AnyConnection, run: RunId) -> AppResult<Option<RunView>> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT r.id, r.workspace_id, r.tenant_id, t.display_name, r.op_type, r.status, r.outcome, r.created_at,
                r.initiator_kind, u.email, r.provider_connection_id, r.reason_code, r.summary, r.failure_summary,
                r.started_at, r.attempts, r.completed_at, r.lease_expires_at, r.reconciliation, r.cancel_requested_at,
                r.rerun_of
         FROM operation_runs r
         LEFT JOIN tenants t ON t.id = r.tenant_id
         LEFT JOIN users u ON u.id = r.initiator_user_id
         WHERE r.id = $1",
    )
    .bind(run.0)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let bad = |_| AppError::Internal;
    let text =
        |name: &str| -> AppResult<String> { r.try_get::<String, _>(name).map_err(AppError::from) };
    let (truth, reconciliation, cancel_requested) = truth_of_row(&r)?;
    Ok(Some(RunView {
        id: RunId(r.try_get("id")?),
        workspace_id: WorkspaceId(r.try_get("workspace_id")?),
        tenant_id: r.try_get::<Option<i64>, _>("tenant_id")?.map(TenantId),
        tenant_name: r.try_get("display_name")?,
        truth,
        initiator: text("initiator_kind")?
            .parse::<InitiatorKind>()
            .map_err(bad)?,
        initiator_label: r.try_get("email")?,
        provider_connection_id: r
            .try_get::<Option<i64>, _>("provider_connection_id")?
            .map(ProviderConnectionId),
        reason: r
            .try_get::<Option<String>, _>("reason_code")?
            .and_then(|c| c.parse().ok()),
        summary: summary_of_row(&r)?,
        failure_summary: r.try_get("failure_summary")?,
        completed_at: r.try_get("completed_at")?,
        attempts: r.try_get("attempts")?,
        cancel_requested,
        reconciliation,
        rerun_of: r.try_get::<Option<i64>, _>("rerun_of")?.map(RunId),
    }))
}

/// A run row's lifecycle truth, its reconciliation record and whether a
/// cancel was requested: one reading for the run page, list rows and the poll.
/// The row needs `op_type, status, outcome, created_at, started_at,
/// lease_expires_at, reconciliation, cancel_requested_at`.
pub fn truth_of_row(
    r: &sqlx::any::AnyRow,
) -> AppResult<(RunTruth, Option<ReconciliationRecord>, bool)> {
    use sqlx::Row;
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
    Ok((truth, reconciliation, cancel_requested))
}

/// A run row's summary counts (absent or unreadable: none).
pub(crate) fn summary_of_row(r: &sqlx::any::AnyRow) -> AppResult<SummaryCounts> {
    use sqlx::Row;
    Ok(r.try_get::<Option<String>, _>("summary")?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

/// One notification for one user, as the presenter worded it.
pub struct NewNotification<'a> {
    pub user: crate::ids::UserId,
    pub workspace: crate::ids::WorkspaceId,
    pub run: Option<crate::ids::RunId>,
    pub tone: super::presenter::Tone,
    pub title: &'a str,
    pub body: &'a str,
    pub link: &'a str,
    pub next_steps: &'a [super::next_steps::NextStep],
}

/// Writes it on the caller's connection (inside the caller's transaction, so
/// it exists exactly when the change it reports does).
pub async fn insert_notification(
    conn: &mut sqlx::AnyConnection,
    n: NewNotification<'_>,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO notifications (user_id, workspace_id, run_id, tone, title, body, link, created_at, next_steps)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(n.user.0)
    .bind(n.workspace.0)
    .bind(n.run.map(|r| r.0))
    .bind(n.tone.as_str())
    .bind(n.title)
    .bind(n.body)
    .bind(n.link)
    .bind(now)
    .bind(
        (!n.next_steps.is_empty())
            .then(|| serde_json::to_string(n.next_steps).ok())
            .flatten(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// On a terminal state: one notification for the initiating user, worded by
/// the presenter; schedule and system runs notify nobody.
async fn notify_initiator(conn: &mut AnyConnection, run: RunId, now: i64) -> AppResult<()> {
    let Some(view) = load_view(conn, run).await? else {
        return Ok(());
    };
    if view.initiator != InitiatorKind::User {
        return Ok(());
    }
    let (user, context): (Option<i64>, String) =
        sqlx::query_as("SELECT initiator_user_id, context FROM operation_runs WHERE id = $1")
            .bind(run.0)
            .fetch_one(&mut *conn)
            .await?;
    let Some(user) = user.map(UserId) else {
        return Ok(());
    };
    let flow_notifies = serde_json::from_str::<serde_json::Value>(&context)
        .ok()
        .and_then(|c| c["args"][super::gate::FLOW_NOTIFIES].as_bool())
        .unwrap_or(false);
    if flow_notifies {
        return Ok(());
    }
    let toast = presenter::present_completion(&view);
    insert_notification(
        conn,
        NewNotification {
            user,
            workspace: view.workspace_id,
            run: Some(run),
            tone: toast.tone,
            title: &toast.title,
            body: &toast.body,
            link: &toast.link,
            next_steps: &toast.next_steps,
        },
        now,
    )
    .await
}
