//! The gate's writes: one admission writer for single starts, bulks and
//! fires. A queued run and its audit entry are one statement on
//! PostgreSQL (one transaction on SQLite); a blocked start writes its
//! completed run, its audit entry and the member's limit in one
//! transaction; a refusal is audited. Every run carries its origin.

use super::snapshot::{Snapshot, Tenant, active_on_scope};
use super::verdict::occupied;
use super::{Initiator, StartRequest, not_before};
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{ProviderConnectionId, RunId, TenantId, WorkspaceId};
use crate::runs::model::{
    OperationType, Origin, ReasonCode, ScopeKind, StartDecision, StartResult, scope_key,
    tenant_scope_key,
};
use crate::services::Services;
use crate::store::Backend;
use crate::views::{AuditAction, AuditOutcome};
use sqlx::AnyConnection;

const INSERT_QUEUED: &str =
    "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
        initiator_user_id, provider_connection_id, scope_key, context, created_at, available_at, rerun_of,
        origin_kind, origin_id)
     VALUES ($1, $2, $3, 'queued', 'pending', $4, $5, $6, $7, $8, $9, $11, $10, $12, $13)
     ON CONFLICT DO NOTHING RETURNING id";

/// PostgreSQL: the run and its audit entry in one statement.
const INSERT_QUEUED_PG: &str = "WITH run AS (
        INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
            initiator_user_id, provider_connection_id, scope_key, context, created_at, available_at, rerun_of,
            origin_kind, origin_id)
        VALUES ($1, $2, $3, 'queued', 'pending', $4, $5, $6, $7, $8, $9, $14, $13, $15, $16)
        ON CONFLICT DO NOTHING RETURNING id
     ), audit AS (
        INSERT INTO audit_log (workspace_id, tenant_id, actor_user_id, actor_label, action, target, outcome, detail, created_at)
        SELECT $1, $2, $5, $10, 'operation.queued', $11 || ' #' || run.id || ' on ' || $12, 'succeeded', NULL, $9 FROM run
     )
     SELECT id FROM run";

/// Where the gate reads and writes. SQLite: one `BEGIN IMMEDIATE` transaction
/// around read, decision and write (one writer, so nothing can slip in between).
/// PostgreSQL: the decision is made on one snapshot query and the admission is
/// one atomic statement (run + audit entry); the partial unique index
/// settles any race, so an extra BEGIN/COMMIT would add two round trips and no safety.
pub(super) enum Session {
    Pg(crate::store::Conn),
    Lite(crate::store::WriteTx),
}

impl Session {
    pub(super) async fn open(svc: &Services) -> AppResult<Session> {
        Ok(match svc.store.backend() {
            Backend::Postgres => Session::Pg(svc.store.write().await?),
            Backend::Sqlite => Session::Lite(svc.store.begin().await?),
        })
    }

    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        match self {
            Session::Pg(c) => c,
            Session::Lite(tx) => tx,
        }
    }

    pub(super) async fn finish(self) -> AppResult<()> {
        if let Session::Lite(tx) = self {
            tx.commit().await?;
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
async fn audit_start(
    conn: &mut AnyConnection,
    initiator: &Initiator<'_>,
    tenant: &Tenant,
    tenant_id: TenantId,
    op_type: OperationType,
    run: RunId,
    blocked: Option<ReasonCode>,
    now: i64,
) -> AppResult<()> {
    audit::record(
        conn,
        Entry {
            workspace: Some(tenant.workspace),
            tenant: Some(tenant_id),
            actor: initiator.user(),
            actor_label: initiator.label(),
            action: if blocked.is_some() {
                AuditAction::OperationBlocked
            } else {
                AuditAction::OperationQueued
            },
            target: format!("{} #{run} on {}", op_type.label(), tenant.name),
            outcome: if blocked.is_some() {
                AuditOutcome::Denied
            } else {
                AuditOutcome::Succeeded
            },
            detail: blocked.map(|r| r.as_str().to_string()),
        },
        now,
    )
    .await
}

/// The run's context: its pinned connection and arguments.
fn context_of(connection: Option<ProviderConnectionId>, args: &serde_json::Value) -> String {
    serde_json::json!({
        "provider_connection_id": connection.map(|c| c.0),
        "args": args,
    })
    .to_string()
}

/// A member whose role may not start this: the refusal is audited.
pub(super) async fn audit_refusal(
    mut session: Session,
    initiator: &Initiator<'_>,
    request: &StartRequest,
    snap: &Snapshot,
    now: i64,
) -> AppResult<()> {
    audit::record(
        session.conn(),
        Entry {
            workspace: Some(snap.tenant.workspace),
            tenant: Some(request.tenant),
            actor: initiator.user(),
            actor_label: initiator.label(),
            action: AuditAction::OperationRefused,
            target: format!("{} on {}", request.op_type.label(), snap.tenant.name),
            outcome: AuditOutcome::Denied,
            detail: None,
        },
        now,
    )
    .await?;
    session.finish().await
}

/// A blocked start: its completed run (reason code, next steps come from
/// it), its audit entry and the member's limit, in one transaction.
#[allow(clippy::too_many_arguments)]
pub(super) async fn blocked(
    svc: &Services,
    session: Session,
    initiator: &Initiator<'_>,
    request: &StartRequest,
    snap: &Snapshot,
    reason: ReasonCode,
    origin: Option<Origin>,
    now: i64,
) -> AppResult<StartResult> {
    let spec = request.op_type.spec();
    let connection = snap.connection.as_ref().map(|c| c.id);
    let scope = scope_key(spec.scope, request.tenant, connection)
        .unwrap_or_else(|| tenant_scope_key(request.tenant));
    // Two writes: on PostgreSQL they get a transaction of their own.
    let mut tx = match session {
        Session::Lite(tx) => tx,
        Session::Pg(conn) => {
            drop(conn);
            svc.store.begin().await?
        }
    };
    // A blocked start writes a run and an audit entry: a member clicking
    // one over and over is limited, nothing recorded.
    if let Some(user) = initiator.member().filter(|_| initiator.limited()) {
        crate::limits::take(
            &mut tx,
            &svc.settings.limits,
            crate::limits::Limited::BlockedStarts,
            user,
            now,
        )
        .await?;
    }
    let (id,): (i64,) = sqlx::query_as(crate::runs::sql::ending!(
        svc.store.backend(),
        "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
            initiator_user_id, provider_connection_id, scope_key, context, reason_code,
            created_at, completed_at, available_at, rerun_of, origin_kind, origin_id, end_mark)
         VALUES ($1, $2, $3, 'completed', 'blocked', $4, $5, $6, $7, $8, $9, $10, $10, $10, $11, $12, $13, ",
        ") RETURNING id"
    ))
    .bind(snap.tenant.workspace.0)
    .bind(request.tenant.0)
    .bind(request.op_type.as_str())
    .bind(initiator.kind().as_str())
    .bind(initiator.user().map(|u| u.0))
    .bind(connection.map(|c| c.0))
    .bind(scope)
    .bind(context_of(connection, &request.args))
    .bind(reason.as_str())
    .bind(now)
    .bind(initiator.rerun_of().map(|r| r.0))
    .bind(origin.map(|o| o.kind))
    .bind(origin.map(|o| o.id))
    .fetch_one(&mut **tx)
    .await?;
    audit_start(
        &mut tx,
        initiator,
        &snap.tenant,
        request.tenant,
        request.op_type,
        RunId(id),
        Some(reason),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StartResult {
        decision: StartDecision::Blocked,
        run: RunId(id),
        op_type: request.op_type,
        tenant: request.tenant,
        connection,
        holder: None,
        reason: Some(reason),
    })
}

/// An admitted start: the queued run (and its audit entry). `None` when
/// the scope was taken and freed again between the read and the insert
/// (the caller reads again).
#[allow(clippy::too_many_arguments)]
pub(super) async fn queued(
    svc: &Services,
    mut session: Session,
    initiator: &Initiator<'_>,
    request: &StartRequest,
    snap: &Snapshot,
    origin: Option<Origin>,
    now: i64,
) -> AppResult<Option<StartResult>> {
    let spec = request.op_type.spec();
    let connection = snap.connection.as_ref().map(|c| c.id);
    let scope = scope_key(spec.scope, request.tenant, connection).ok_or(AppError::Internal)?;
    let postgres = svc.store.backend() == Backend::Postgres;
    // The SQLite statement's parameters are the first nine of the
    // PostgreSQL one's, then the lineage ($10 there, $13 here).
    let insert = sqlx::query_as::<_, (i64,)>(if postgres {
        INSERT_QUEUED_PG
    } else {
        INSERT_QUEUED
    })
    .bind(snap.tenant.workspace.0)
    .bind(request.tenant.0)
    .bind(request.op_type.as_str())
    .bind(initiator.kind().as_str())
    .bind(initiator.user().map(|u| u.0))
    .bind(connection.map(|c| c.0))
    .bind(&scope)
    .bind(context_of(connection, &request.args))
    .bind(now);
    let insert = if postgres {
        insert
            .bind(initiator.label())
            .bind(request.op_type.label())
            .bind(&snap.tenant.name)
    } else {
        insert
    };
    let insert = insert
        .bind(initiator.rerun_of().map(|r| r.0))
        .bind(not_before(&request.args, now))
        .bind(origin.map(|o| o.kind))
        .bind(origin.map(|o| o.id));
    let inserted: Option<(i64,)> = insert.fetch_optional(session.conn()).await?;
    let Some((id,)) = inserted else {
        // Another start won the scope between our read and insert.
        return match active_on_scope(session.conn(), &scope).await? {
            Some((run, holder)) => {
                session.finish().await?;
                Ok(Some(occupied(request, connection, run, holder)))
            }
            // It finished in between: read again.
            None => Ok(None),
        };
    };
    if !postgres {
        audit_start(
            session.conn(),
            initiator,
            &snap.tenant,
            request.tenant,
            request.op_type,
            RunId(id),
            None,
            now,
        )
        .await?;
    }
    session.finish().await?;
    // Side effect after commit: wake workers (here, and on PostgreSQL elsewhere).
    svc.run_signal.notify();
    Ok(Some(StartResult {
        decision: StartDecision::Accepted,
        run: RunId(id),
        op_type: request.op_type,
        tenant: request.tenant,
        connection,
        holder: None,
        reason: None,
    }))
}

/// One tenant of a batch to admit in one statement.
pub(super) struct Admission {
    pub tenant: TenantId,
    pub workspace: WorkspaceId,
    pub connection: Option<ProviderConnectionId>,
    pub scope: String,
    pub context: String,
    pub available_at: i64,
}

impl Admission {
    /// An admitted tenant of a batch, from its snapshot.
    pub(super) fn of(request: &StartRequest, snap: &Snapshot, now: i64) -> AppResult<Admission> {
        let scope_kind: ScopeKind = request.op_type.spec().scope;
        let connection = snap.connection.as_ref().map(|c| c.id);
        Ok(Admission {
            tenant: request.tenant,
            workspace: snap.tenant.workspace,
            connection,
            scope: scope_key(scope_kind, request.tenant, connection).ok_or(AppError::Internal)?,
            context: context_of(connection, &request.args),
            available_at: not_before(&request.args, now),
        })
    }
}

/// Per-row parameters of [`batch`]'s VALUES list.
const MANY_PER_ROW: usize = 6;

/// PostgreSQL: every admission of a batch, with its audit entry, in one
/// statement (the partial unique index still settles every race). Answers
/// the run of each tenant it inserted; the others lost their scope in
/// between.
pub(super) async fn batch(
    conn: &mut AnyConnection,
    initiator: &Initiator<'_>,
    op_type: OperationType,
    admit: &[Admission],
    origin: Option<Origin>,
    now: i64,
) -> AppResult<std::collections::HashMap<i64, i64>> {
    let values: Vec<String> = (0..admit.len())
        .map(|i| {
            let p = |k: usize| format!("${}", 10 + i * MANY_PER_ROW + k);
            format!(
                "({}, {}, $1, 'queued', 'pending', $2, $3, {}, {}, {}, $4, {}, $5, $8, $9)",
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5)
            )
        })
        .collect();
    let sql = format!(
        "WITH run AS (
            INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
                initiator_user_id, provider_connection_id, scope_key, context, created_at, available_at, rerun_of,
                origin_kind, origin_id)
            VALUES {}
            ON CONFLICT DO NOTHING RETURNING id, tenant_id, workspace_id
         ), audit AS (
            INSERT INTO audit_log (workspace_id, tenant_id, actor_user_id, actor_label, action, target, outcome, detail, created_at)
            SELECT run.workspace_id, run.tenant_id, $3, $6, 'operation.queued', $7 || ' #' || run.id || ' on ' || t.display_name, 'succeeded', NULL, $4
            FROM run JOIN tenants t ON t.id = run.tenant_id
         )
         SELECT id, tenant_id FROM run",
        values.join(", ")
    );
    let mut q = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql))
        .bind(op_type.as_str())
        .bind(initiator.kind().as_str())
        .bind(initiator.user().map(|u| u.0))
        .bind(now)
        .bind(initiator.rerun_of().map(|r| r.0))
        .bind(initiator.label().to_string())
        .bind(op_type.label())
        .bind(origin.map(|o| o.kind))
        .bind(origin.map(|o| o.id));
    for a in admit {
        q = q
            .bind(a.workspace.0)
            .bind(a.tenant.0)
            .bind(a.connection.map(|c| c.0))
            .bind(a.scope.as_str())
            .bind(a.context.as_str())
            .bind(a.available_at);
    }
    Ok(q.fetch_all(conn)
        .await?
        .into_iter()
        .map(|(id, t)| (t, id))
        .collect())
}
