//! One operation on many tenants (a schedule's fire, a member's bulk):
//! every rule of a single start holds per tenant. On PostgreSQL a batch is
//! read in one snapshot query, decided by the same verdict, and admitted by
//! one statement; a tenant the batch cannot settle alone goes through the
//! single start. SQLite (one writer) starts them one by one.

use super::snapshot::{SNAPSHOT, scope_param, snapshot_of};
use super::verdict::{Verdict, occupied, verdict};
use super::write::{Admission, batch};
use super::{Initiator, NOT_BEFORE, StartGate, StartRequest, count_start, stop_unless_settled};
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, TenantId};
use crate::runs::model::{OperationType, Origin, StartDecision, StartResult};
use crate::services::Services;
use crate::store::Backend;
use std::collections::HashMap;

/// A tenant's start as part of the batch: its arguments with its earliest
/// pick-up time.
fn request_for(
    op_type: OperationType,
    args: &serde_json::Value,
    tenant: TenantId,
    not_before: i64,
) -> StartRequest {
    let mut args = args.clone();
    if let Some(map) = args.as_object_mut() {
        map.insert(NOT_BEFORE.into(), serde_json::Value::from(not_before));
    }
    StartRequest {
        tenant,
        op_type,
        connection: None,
        args,
    }
}

/// How a batch left its tenants.
struct Sorted {
    settled: Vec<(TenantId, AppResult<StartResult>)>,
    /// Through the single start: blocked (its run, audit entry and limit),
    /// a refusal to audit, or a scope won by someone else in between.
    alone: Vec<(TenantId, i64)>,
    admit: Vec<Admission>,
}

impl StartGate {
    /// Starts one operation on many tenants, each with its own earliest
    /// pick-up time; every rule of [`StartGate::start`] holds per tenant.
    pub async fn start_many(
        svc: &Services,
        initiator: Initiator<'_>,
        op_type: OperationType,
        args: &serde_json::Value,
        tenants: &[(TenantId, i64)],
        origin: Option<Origin>,
    ) -> AppResult<Vec<(TenantId, AppResult<StartResult>)>> {
        if svc.store.backend() != Backend::Postgres || tenants.is_empty() {
            let mut out = Vec::with_capacity(tenants.len());
            for (t, nb) in tenants {
                let request = request_for(op_type, args, *t, *nb);
                let result = Self::start_from(svc, initiator, request, origin).await;
                out.push((*t, stop_unless_settled(result)?));
            }
            return Ok(out);
        }
        let now = svc.now();
        let mut conn = svc.store.write().await?;
        let snaps = batch_snapshot(&mut conn, &initiator, op_type, tenants).await?;
        let mut sorted = sort(&initiator, op_type, args, tenants, snaps, now)?;
        if !sorted.admit.is_empty() {
            let inserted =
                batch(&mut conn, &initiator, op_type, &sorted.admit, origin, now).await?;
            for a in &sorted.admit {
                match inserted.get(&a.tenant.0) {
                    Some(id) => sorted.settled.push((
                        a.tenant,
                        Ok(StartResult {
                            decision: StartDecision::Accepted,
                            run: RunId(*id),
                            op_type,
                            tenant: a.tenant,
                            connection: a.connection,
                            holder: None,
                            reason: None,
                        }),
                    )),
                    // Someone took the scope between our read and insert: ask
                    // again alone (its earliest pick-up as already clamped).
                    None => sorted.alone.push((a.tenant, a.available_at)),
                }
            }
            if !inserted.is_empty() {
                svc.run_signal.notify();
                // A crash here leaves committed runs their origin has not recorded.
                svc.failpoint("gate.after_admission")?;
            }
        }
        drop(conn);
        for (_, result) in &sorted.settled {
            count_start(op_type, result);
        }
        for (t, nb) in sorted.alone {
            let request = request_for(op_type, args, t, nb);
            let result = Self::start_from(svc, initiator, request, origin).await;
            sorted.settled.push((t, stop_unless_settled(result)?));
        }
        Ok(sorted.settled)
    }
}

/// The gate's snapshot query with the batch's tenant list: one round trip.
async fn batch_snapshot(
    conn: &mut sqlx::AnyConnection,
    initiator: &Initiator<'_>,
    op_type: OperationType,
    tenants: &[(TenantId, i64)],
) -> AppResult<HashMap<i64, super::snapshot::Snapshot>> {
    let list: Vec<String> = (0..tenants.len())
        .map(|i| {
            if i == 0 {
                "$1".into()
            } else {
                format!("${}", i + 4)
            }
        })
        .collect();
    let sql = SNAPSHOT
        .replacen(
            "SELECT t.workspace_id,",
            "SELECT t.id AS batch_tenant_id, t.workspace_id,",
            1,
        )
        .replacen(
            "WHERE t.id = $1",
            &format!("WHERE t.id IN ({})", list.join(", ")),
            1,
        );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenants[0].0.0)
        .bind(initiator.member().map(|u| u.0))
        .bind(None::<i64>)
        .bind(scope_param(op_type.spec().scope));
    for (t, _) in &tenants[1..] {
        q = q.bind(t.0);
    }
    let rows = q.fetch_all(conn).await?;
    let mut snaps = HashMap::with_capacity(rows.len());
    for row in &rows {
        use sqlx::Row;
        snaps.insert(row.try_get::<i64, _>("batch_tenant_id")?, snapshot_of(row)?);
    }
    Ok(snaps)
}

/// Each tenant by its verdict: settled here, admitted by the batch, or
/// left to the single start.
fn sort(
    initiator: &Initiator<'_>,
    op_type: OperationType,
    args: &serde_json::Value,
    tenants: &[(TenantId, i64)],
    mut snaps: HashMap<i64, super::snapshot::Snapshot>,
    now: i64,
) -> AppResult<Sorted> {
    let spec = op_type.spec();
    let mut sorted = Sorted {
        settled: Vec::with_capacity(tenants.len()),
        alone: Vec::new(),
        admit: Vec::new(),
    };
    for (tenant, nb) in tenants.iter().copied() {
        let Some(snap) = snaps.remove(&tenant.0) else {
            sorted.settled.push((tenant, Err(AppError::NotFound)));
            continue;
        };
        let request = request_for(op_type, args, tenant, nb);
        match verdict(spec, initiator, &snap, false, now) {
            // The single start audits the refusal and writes the blocked run.
            Verdict::Refuse(AppError::Forbidden) | Verdict::Block(_) => {
                sorted.alone.push((tenant, nb));
            }
            Verdict::Refuse(e) => sorted.settled.push((tenant, Err(e))),
            Verdict::Occupied(run, holder) => {
                let connection = snap.connection.as_ref().map(|c| c.id);
                sorted
                    .settled
                    .push((tenant, Ok(occupied(&request, connection, run, holder))));
            }
            Verdict::Admit => sorted.admit.push(Admission::of(&request, &snap, now)?),
        }
    }
    Ok(sorted)
}
