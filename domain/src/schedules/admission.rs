//! Admitting one operation on many tenants: a schedule's fire or a member's
//! bulk start. Tenants go through [`StartGate::start_many`] in batches (each
//! gate rule holds per tenant: authorization, prerequisites, dedupe, scope;
//! PostgreSQL decides a batch on one read and admits it in one statement,
//! several batches at once); each batch's decisions are recorded in the
//! ledger (the fire's or the bulk's target rows) in one statement.
//!
//! Exactly once across a crash: every run the gate admits carries its origin
//! (the fire or the bulk) in its own INSERT, so a crash between a batch's
//! admission and its ledger rows leaves runs that say where they came from.
//! Whoever finishes the fire or settles the bulk first records those runs
//! in the ledger ([`Ledger::recorded`]), and only then asks the gate about
//! the targets still missing: a target whose run already ended is not
//! started a second time.

use crate::access::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::{BulkStartId, ScheduleFireId, TenantId};
use crate::runs::gate::{FLOW_NOTIFIES, Initiator, StartGate};
use crate::runs::{OperationType, Origin};
use crate::services::Services;
use std::collections::HashSet;
use std::sync::Arc;

/// Tenants decided and admitted per batch (one snapshot query, one insert).
const BATCH: usize = 100;
/// Batches admitted at once on PostgreSQL (SQLite has one writer: one).
const BATCHES_AT_ONCE: usize = 4;

/// Where the decisions go.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ledger {
    Fire(ScheduleFireId),
    Bulk(BulkStartId),
}

/// The origin keys runs carry (`operation_runs.origin_kind`).
pub(crate) const FIRE_ORIGIN: &str = "schedule_fire";
pub(crate) const BULK_ORIGIN: &str = "bulk_start";

impl Ledger {
    pub(crate) fn table(self) -> (&'static str, &'static str, i64) {
        match self {
            Ledger::Fire(f) => ("schedule_fire_targets", "fire_id", f.0),
            Ledger::Bulk(b) => ("bulk_start_targets", "bulk_id", b.0),
        }
    }

    /// What the runs admitted for this ledger carry.
    pub(crate) fn origin(self) -> Origin {
        match self {
            Ledger::Fire(f) => Origin {
                kind: FIRE_ORIGIN,
                id: f.0,
            },
            Ledger::Bulk(b) => Origin {
                kind: BULK_ORIGIN,
                id: b.0,
            },
        }
    }

    /// Records the runs admitted for this ledger that a crash left without
    /// their target row (decision from the run: a run the gate wrote already
    /// blocked is *blocked*, any other *queued*), then answers every tenant
    /// recorded: a taken-over fire starts only the rest.
    pub(crate) async fn recorded(self, svc: &Services) -> AppResult<HashSet<i64>> {
        let (table, key, id) = self.table();
        let origin = self.origin();
        let blocked = crate::runs::sql::written_blocked!("r");
        let repaired = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} ({key}, tenant_id, decision, run_id)
             SELECT $1, r.tenant_id,
                    CASE WHEN {blocked} THEN 'blocked' ELSE 'queued' END,
                    r.id
             FROM operation_runs r
             WHERE r.origin_kind = $2 AND r.origin_id = $1 AND r.tenant_id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.{key} = $1 AND x.tenant_id = r.tenant_id)
             ON CONFLICT DO NOTHING"
        )))
        .bind(id)
        .bind(origin.kind)
        .execute(&mut *svc.store.write().await?)
        .await?
        .rows_affected();
        if repaired > 0 {
            tracing::warn!(
                origin = origin.kind,
                id,
                repaired,
                "recorded runs an interrupted admission had started"
            );
        }
        let rows: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT tenant_id FROM {table} WHERE {key} = $1"
        )))
        .bind(id)
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn record(self, svc: &Services, rows: &[Decided]) -> AppResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (table, key, id) = self.table();
        let values: Vec<String> = (0..rows.len())
            .map(|i| format!("($1, ${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({key}, tenant_id, decision, run_id) VALUES {} ON CONFLICT DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
        for r in rows {
            q = q.bind(r.tenant.0).bind(r.decision).bind(r.run);
        }
        q.execute(&mut *svc.store.write().await?).await?;
        Ok(())
    }

    /// Keeps a fire's lease while it admits (bulks have none: they are
    /// admitted inside the member's request).
    async fn renew(self, svc: &Services) -> AppResult<()> {
        if let Ledger::Fire(f) = self {
            sqlx::query("UPDATE schedule_fires SET lease_until = $2 WHERE id = $1")
                .bind(f.0)
                .bind(svc.now() + super::service::FIRE_LEASE_MS)
                .execute(&mut *svc.store.write().await?)
                .await?;
        }
        Ok(())
    }
}

/// Who starts: a schedule (nobody notified) or a member's bulk start
/// (authorised per tenant as the member, notified once for the bulk).
#[derive(Debug, Clone)]
pub(crate) enum Starter {
    Schedule,
    /// A member's bulk, with the arguments every run of it gets (besides
    /// the bulk's own notification flag).
    Member(Arc<Actor>, Arc<serde_json::Value>),
}

/// What to start and how to spread it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub op_type: OperationType,
    /// Run `i` of `n` may be picked up from `start_at + spread_ms * i / n`.
    pub start_at: i64,
    pub spread_ms: i64,
}

struct Decided {
    tenant: TenantId,
    decision: &'static str,
    run: Option<i64>,
}

/// Admits `plan` on every target not in `done`, in order, in batches through
/// [`StartGate::start_many`] (several batches at once on PostgreSQL), and
/// records each batch's decisions in `ledger`.
pub(crate) async fn admit(
    svc: &Services,
    ledger: Ledger,
    starter: Starter,
    plan: Plan,
    targets: &[TenantId],
    done: &HashSet<i64>,
) -> AppResult<()> {
    let at_once = match svc.store.backend() {
        crate::store::Backend::Postgres => BATCHES_AT_ONCE,
        crate::store::Backend::Sqlite => 1,
    };
    let n = targets.len().max(1) as i64;
    let pending: Vec<(TenantId, i64)> = targets
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, t)| !done.contains(&t.0))
        .map(|(i, t)| (t, plan.start_at + plan.spread_ms * i as i64 / n))
        .collect();
    let slots = Arc::new(tokio::sync::Semaphore::new(at_once));
    let mut admitting = tokio::task::JoinSet::new();
    for batch in pending.chunks(BATCH) {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::Internal)?;
        let task_svc = svc.clone();
        let task_starter = starter.clone();
        let batch = batch.to_vec();
        admitting.spawn(crate::store::one_unit(async move {
            let _slot = slot;
            let decided =
                admit_batch(&task_svc, &task_starter, ledger, plan.op_type, &batch).await?;
            task_svc.failpoint("admission.before_record")?;
            ledger.record(&task_svc, &decided).await?;
            task_svc.failpoint("admission.after_record")
        }));
        while let Some(joined) = admitting.try_join_next() {
            joined.map_err(|_| AppError::Internal)??;
        }
        ledger.renew(svc).await?;
    }
    while let Some(joined) = admitting.join_next().await {
        joined.map_err(|_| AppError::Internal)??;
    }
    Ok(())
}

/// One batch through the gate.
async fn admit_batch(
    svc: &Services,
    starter: &Starter,
    ledger: Ledger,
    op_type: OperationType,
    batch: &[(TenantId, i64)],
) -> AppResult<Vec<Decided>> {
    let (initiator, args) = match starter {
        Starter::Schedule => (Initiator::Schedule, serde_json::json!({})),
        // The bulk tells its member once when all of it has ended.
        Starter::Member(actor, extra) => {
            let mut args = match extra.as_ref() {
                serde_json::Value::Object(m) => serde_json::Value::Object(m.clone()),
                _ => serde_json::json!({}),
            };
            args[FLOW_NOTIFIES] = serde_json::Value::Bool(true);
            (Initiator::Bulk(actor), args)
        }
    };
    let results =
        StartGate::start_many(svc, initiator, op_type, &args, batch, Some(ledger.origin())).await?;
    let mut decided = Vec::with_capacity(results.len());
    for (tenant, result) in results {
        let (decision, run) = match result {
            Ok(r) => (r.decision.word(), Some(r.run.0)),
            // Gone since the list was read (deleted, archived, unassigned):
            // nothing started.
            Err(AppError::NotFound | AppError::Forbidden) => ("skipped", None),
            Err(e) => return Err(e),
        };
        decided.push(Decided {
            tenant,
            decision,
            run,
        });
    }
    Ok(decided)
}
