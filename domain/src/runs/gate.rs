//! The one start gate. Every operator-triggered start of provider-backed work
//! goes through [`StartGate::start`]: authorization first (404/403), then one
//! database transaction that checks prerequisites, dedupes, protects the
//! scope and admits the run. No remote call happens here.

use super::model::{
    InitiatorKind, OperationType, Prerequisite, ReasonCode, ScopeKind, StartDecision, StartResult,
    scope_key,
};
use crate::access::{self, Actor};
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{ProviderConnectionId, RunId, TenantId, UserId, WorkspaceId};
use crate::rbac::Role;
use crate::services::Services;
use crate::store::Backend;
use crate::views::{AuditAction, AuditOutcome, TenantStatus};
use sqlx::AnyConnection;

/// Who is starting the run.
#[derive(Debug, Clone, Copy)]
pub enum Initiator<'a> {
    User(&'a Actor),
    /// A schedule: authorised by configuration, never notified.
    Schedule,
    /// The system itself (e.g. onboarding follow-ups): never notified.
    System,
    /// The system on a platform operator's word (system-plane *run again*):
    /// authorised by the system plane, recorded and audited with the
    /// operator as actor, pointing at the run it repeats; never notified.
    Platform {
        operator: &'a Actor,
        rerun_of: RunId,
    },
}

impl Initiator<'_> {
    fn kind(&self) -> InitiatorKind {
        match self {
            Initiator::User(_) => InitiatorKind::User,
            Initiator::Schedule => InitiatorKind::Schedule,
            Initiator::System | Initiator::Platform { .. } => InitiatorKind::System,
        }
    }
    /// The member whose membership authorises the start.
    fn member(&self) -> Option<UserId> {
        match self {
            Initiator::User(a) => Some(a.user_id),
            _ => None,
        }
    }
    /// The person recorded on the run and its audit entries.
    fn user(&self) -> Option<UserId> {
        match self {
            Initiator::User(a) | Initiator::Platform { operator: a, .. } => Some(a.user_id),
            _ => None,
        }
    }
    fn label(&self) -> &str {
        match self {
            Initiator::User(a) | Initiator::Platform { operator: a, .. } => &a.email,
            Initiator::Schedule => "schedule",
            Initiator::System => "system",
        }
    }
    fn rerun_of(&self) -> Option<RunId> {
        match self {
            Initiator::Platform { rerun_of, .. } => Some(*rerun_of),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StartRequest {
    pub tenant: TenantId,
    pub op_type: OperationType,
    /// A specific connection; by default the tenant's default connection.
    pub connection: Option<ProviderConnectionId>,
    /// Operation-specific arguments, stored in the run context.
    pub args: serde_json::Value,
}

pub struct StartGate;

/// An `args` key: `true` when the run is one step of a larger flow that tells
/// its initiator itself when the flow ends (one notification per flow, not
/// one per run). The run engine only honours it.
pub const FLOW_NOTIFIES: &str = "flow_notifies";

/// An `args` key: the earliest time (ms) a worker may pick the run up, so a
/// start for hundreds of tenants is admitted at once (every gate rule checked
/// now, the scope held) and executed spread out. At most an hour ahead.
pub const NOT_BEFORE: &str = "not_before";

fn not_before(args: &serde_json::Value, now: i64) -> i64 {
    args.get(NOT_BEFORE)
        .and_then(|v| v.as_i64())
        .map_or(now, |t| t.clamp(now, now + 3_600_000))
}

struct Connection {
    id: ProviderConnectionId,
    enabled: bool,
    consent: bool,
    /// Microsoft reported a grant that no verification has confirmed yet.
    consent_answered: bool,
    has_credentials: bool,
    expires_at: Option<i64>,
}

struct Tenant {
    workspace: WorkspaceId,
    name: String,
    active: bool,
}

/// Everything the gate decides on, read in one query.
struct Snapshot {
    tenant: Tenant,
    role: Option<Role>,
    assigned: bool,
    connection: Option<Connection>,
    active: Option<(RunId, OperationType)>,
}

/// One round trip: the tenant, the actor's membership and assignment, the
/// connection (explicit or default) and the run holding the scope, if any.
use super::sql::{active_run, connection_scope, tenant_scope};

const SNAPSHOT: &str = concat!(
    "SELECT t.workspace_id, t.display_name, t.status, m.role,
        (SELECT COUNT(*) FROM tenant_assignments a WHERE a.tenant_id = t.id AND a.user_id = $2) AS assigned,
        c.id AS connection_id, c.status AS connection_status, c.consent, c.consent_answered_at, c.has_credentials, c.credential_expires_at,
        r.id AS active_id, r.op_type AS active_type
     FROM tenants t
     LEFT JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = $2
     LEFT JOIN provider_connections c ON c.id = (
         SELECT pc.id FROM provider_connections pc WHERE pc.tenant_id = t.id AND ($3 IS NULL OR pc.id = $3)
         ORDER BY pc.is_default DESC, pc.id LIMIT 1)
     LEFT JOIN operation_runs r ON ",
    active_run!("r"),
    " AND r.scope_key =
         CASE WHEN $4 = 'tenant' THEN ",
    tenant_scope!("t.id"),
    " ELSE ",
    connection_scope!("c.id"),
    " END
     WHERE t.id = $1"
);

async fn snapshot(
    conn: &mut AnyConnection,
    request: &StartRequest,
    user: Option<UserId>,
    scope: ScopeKind,
) -> AppResult<Snapshot> {
    use sqlx::Row;
    let row = sqlx::query(SNAPSHOT)
        .bind(request.tenant.0)
        .bind(user.map(|u| u.0))
        .bind(request.connection.map(|c| c.0))
        .bind(match scope {
            ScopeKind::Tenant => "tenant",
            ScopeKind::ProviderConnection => "provider",
        })
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let connection = match row.try_get::<Option<i64>, _>("connection_id")? {
        Some(id) => Some(Connection {
            id: ProviderConnectionId(id),
            enabled: row.try_get::<String, _>("connection_status")? == "enabled",
            consent: row.try_get::<String, _>("consent")? == "granted",
            consent_answered: row
                .try_get::<Option<i64>, _>("consent_answered_at")?
                .is_some(),
            has_credentials: row.try_get::<i64, _>("has_credentials")? != 0,
            expires_at: row.try_get("credential_expires_at")?,
        }),
        None => None,
    };
    let active = match row.try_get::<Option<i64>, _>("active_id")? {
        Some(id) => Some((
            RunId(id),
            row.try_get::<String, _>("active_type")?
                .parse()
                .map_err(|_| AppError::Internal)?,
        )),
        None => None,
    };
    Ok(Snapshot {
        tenant: Tenant {
            workspace: WorkspaceId(row.try_get("workspace_id")?),
            name: row.try_get("display_name")?,
            active: row.try_get::<String, _>("status")?.parse::<TenantStatus>()
                == Ok(TenantStatus::Active),
        },
        role: row
            .try_get::<Option<String>, _>("role")?
            .and_then(|r| r.parse().ok()),
        assigned: row.try_get::<i64, _>("assigned")? > 0,
        connection,
        active,
    })
}

/// Why a start of this type would be blocked now: not available yet, or the
/// first failing prerequisite in the registry's order.
fn first_blocker(
    spec: &super::model::OperationSpec,
    tenant: &Tenant,
    connection: Option<&Connection>,
    now: i64,
) -> Option<ReasonCode> {
    if !spec.available {
        return Some(ReasonCode::OperationUnavailable);
    }
    for p in spec.prerequisites {
        let blocked = match p {
            Prerequisite::TenantActive => (!tenant.active).then_some(ReasonCode::TenantInactive),
            Prerequisite::ConnectionEnabled => match connection {
                None => Some(ReasonCode::ConnectionMissing),
                Some(c) if !c.enabled => Some(ReasonCode::ConnectionDisabled),
                _ => None,
            },
            Prerequisite::ConsentGranted => match connection {
                Some(c) if !c.consent && c.consent_answered => Some(ReasonCode::ConsentUnconfirmed),
                Some(c) if !c.consent => Some(ReasonCode::ConsentMissing),
                _ => None,
            },
            Prerequisite::CredentialsValid => match connection {
                Some(c) if !c.has_credentials => Some(ReasonCode::CredentialsMissing),
                Some(c) if super::model::secret_expired(c.expires_at, now) => {
                    Some(ReasonCode::CredentialsExpired)
                }
                _ => None,
            },
        };
        if blocked.is_some() {
            return blocked;
        }
    }
    if spec.scope == ScopeKind::ProviderConnection && connection.is_none() {
        return Some(ReasonCode::ConnectionMissing);
    }
    None
}

async fn active_on_scope(
    conn: &mut AnyConnection,
    scope: &str,
) -> AppResult<Option<(RunId, OperationType)>> {
    let row: Option<(i64, String)> = sqlx::query_as(concat!(
        "SELECT id, op_type FROM operation_runs r WHERE scope_key = $1 AND ",
        active_run!("r")
    ))
    .bind(scope)
    .fetch_optional(conn)
    .await?;
    match row {
        Some((id, t)) => Ok(Some((
            RunId(id),
            t.parse().map_err(|_| AppError::Internal)?,
        ))),
        None => Ok(None),
    }
}

const INSERT_QUEUED: &str =
    "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
        initiator_user_id, provider_connection_id, scope_key, context, created_at, available_at, rerun_of)
     VALUES ($1, $2, $3, 'queued', 'pending', $4, $5, $6, $7, $8, $9, $11, $10)
     ON CONFLICT DO NOTHING RETURNING id";

/// PostgreSQL: the run and its audit entry in one statement.
const INSERT_QUEUED_PG: &str = "WITH run AS (
        INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
            initiator_user_id, provider_connection_id, scope_key, context, created_at, available_at, rerun_of)
        VALUES ($1, $2, $3, 'queued', 'pending', $4, $5, $6, $7, $8, $9, $14, $13)
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
enum Session {
    Pg(crate::store::Conn),
    Lite(crate::store::WriteTx),
}

impl Session {
    async fn open(svc: &Services) -> AppResult<Session> {
        Ok(match svc.store.backend() {
            Backend::Postgres => Session::Pg(svc.store.write().await?),
            Backend::Sqlite => Session::Lite(svc.store.begin().await?),
        })
    }

    fn conn(&mut self) -> &mut AnyConnection {
        match self {
            Session::Pg(c) => c,
            Session::Lite(tx) => tx,
        }
    }

    async fn finish(self) -> AppResult<()> {
        if let Session::Lite(tx) = self {
            tx.commit().await?;
        }
        Ok(())
    }
}

impl StartGate {
    /// Decides a start: `Accepted` (queued), `Deduped` (already running),
    /// `ScopeBusy` or `Blocked` (recorded, nothing enqueued).
    #[tracing::instrument(name = "gate.start", skip_all, fields(op_type = request.op_type.as_str(), initiator = initiator.kind().as_str()))]
    pub async fn start(
        svc: &Services,
        initiator: Initiator<'_>,
        request: StartRequest,
    ) -> AppResult<StartResult> {
        let op = request.op_type;
        let result = Self::decide(svc, initiator, request).await;
        let decision = match &result {
            Ok(r) => match r.decision {
                StartDecision::Accepted => "queued",
                StartDecision::Deduped => "already_running",
                StartDecision::ScopeBusy => "scope_busy",
                StartDecision::Blocked => "blocked",
            },
            Err(AppError::Forbidden | AppError::NotFound) => "refused",
            Err(_) => "error",
        };
        metrics::counter!("tenantry_runs_started_total", "op_type" => op.as_str(), "result" => decision)
            .increment(1);
        result
    }

    async fn decide(
        svc: &Services,
        initiator: Initiator<'_>,
        request: StartRequest,
    ) -> AppResult<StartResult> {
        let spec = request.op_type.spec();
        let now = svc.now();
        for _ in 0..3 {
            let mut session = Session::open(svc).await?;
            let snap = snapshot(session.conn(), &request, initiator.member(), spec.scope).await?;
            // Authorization before anything else: 404 for not yours, 403 for not allowed.
            if let Initiator::User(_) = initiator
                && let Err(e) = access::decide_tenant(snap.role, snap.assigned, spec.capability)
            {
                // A member whose role may not start this: the refusal is audited.
                if e == AppError::Forbidden {
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
                    session.finish().await?;
                }
                return Err(e);
            }
            if request.connection.is_some() && snap.connection.is_none() {
                // A connection named explicitly must exist on this tenant.
                return Err(AppError::NotFound);
            }
            let connection_id = snap.connection.as_ref().map(|c| c.id);
            let blocker = first_blocker(&spec, &snap.tenant, snap.connection.as_ref(), now);
            let context = serde_json::json!({
                "provider_connection_id": connection_id.map(|c| c.0),
                "args": request.args,
            })
            .to_string();

            if let Some(reason) = blocker {
                let scope = scope_key(spec.scope, request.tenant, connection_id)
                    .unwrap_or_else(|| super::model::tenant_scope_key(request.tenant));
                // Two writes: on PostgreSQL they get a transaction of their own.
                let mut tx = match session {
                    Session::Lite(tx) => tx,
                    Session::Pg(conn) => {
                        drop(conn);
                        svc.store.begin().await?
                    }
                };
                // A blocked start writes a run and an audit entry: a member
                // clicking one over and over is limited, nothing recorded.
                if let Some(user) = initiator.member() {
                    crate::limits::take(
                        &mut tx,
                        &svc.settings.limits,
                        crate::limits::Limited::BlockedStarts,
                        user,
                        now,
                    )
                    .await?;
                }
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
                        initiator_user_id, provider_connection_id, scope_key, context, reason_code,
                        created_at, completed_at, available_at, rerun_of)
                     VALUES ($1, $2, $3, 'completed', 'blocked', $4, $5, $6, $7, $8, $9, $10, $10, $10, $11) RETURNING id",
                )
                .bind(snap.tenant.workspace.0)
                .bind(request.tenant.0)
                .bind(request.op_type.as_str())
                .bind(initiator.kind().as_str())
                .bind(initiator.user().map(|u| u.0))
                .bind(connection_id.map(|c| c.0))
                .bind(scope)
                .bind(&context)
                .bind(reason.as_str())
                .bind(now)
                .bind(initiator.rerun_of().map(|r| r.0))
                .fetch_one(&mut **tx)
                .await?;
                audit_start(
                    &mut tx,
                    &initiator,
                    &snap.tenant,
                    request.tenant,
                    request.op_type,
                    RunId(id),
                    Some(reason),
                    now,
                )
                .await?;
                tx.commit().await?;
                return Ok(StartResult {
                    decision: StartDecision::Blocked,
                    run: RunId(id),
                    op_type: request.op_type,
                    tenant: request.tenant,
                    connection: connection_id,
                    holder: None,
                    reason: Some(reason),
                });
            }

            if let Some((run, holder)) = snap.active {
                session.finish().await?;
                return Ok(occupied(&request, connection_id, run, holder));
            }
            let scope =
                scope_key(spec.scope, request.tenant, connection_id).ok_or(AppError::Internal)?;
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
            .bind(connection_id.map(|c| c.0))
            .bind(&scope)
            .bind(&context)
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
                .bind(not_before(&request.args, now));
            let inserted: Option<(i64,)> = insert.fetch_optional(session.conn()).await?;
            let Some((id,)) = inserted else {
                // Another start won the scope between our read and insert.
                if let Some((run, holder)) = active_on_scope(session.conn(), &scope).await? {
                    session.finish().await?;
                    return Ok(occupied(&request, connection_id, run, holder));
                }
                // It finished in between: try again.
                continue;
            };
            if !postgres {
                audit_start(
                    session.conn(),
                    &initiator,
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
            return Ok(StartResult {
                decision: StartDecision::Accepted,
                run: RunId(id),
                op_type: request.op_type,
                tenant: request.tenant,
                connection: connection_id,
                holder: None,
                reason: None,
            });
        }
        Err(AppError::conflict(
            "The operation's scope kept changing; try again.",
        ))
    }
}

fn occupied(
    request: &StartRequest,
    connection: Option<ProviderConnectionId>,
    run: RunId,
    holder: OperationType,
) -> StartResult {
    StartResult {
        decision: if holder == request.op_type {
            StartDecision::Deduped
        } else {
            StartDecision::ScopeBusy
        },
        run,
        op_type: request.op_type,
        tenant: request.tenant,
        connection,
        holder: Some(holder),
        reason: None,
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

impl StartGate {
    /// What each tenant operation would do if started now, from the database
    /// only (the same snapshot and prerequisite order as [`StartGate::start`]).
    pub async fn readiness(
        svc: &Services,
        actor: &Actor,
        tenant: TenantId,
        operations: &[OperationType],
    ) -> AppResult<Vec<super::model::Readiness>> {
        use super::model::{Readiness, ReadinessState};
        let request = StartRequest {
            tenant,
            op_type: OperationType::ConnectionCheck,
            connection: None,
            args: serde_json::Value::Null,
        };
        let mut conn = svc.store.read().await?;
        let snap = snapshot(
            &mut conn,
            &request,
            Some(actor.user_id),
            ScopeKind::ProviderConnection,
        )
        .await?;
        let role = access::decide_tenant(
            snap.role,
            snap.assigned,
            crate::rbac::Capability::TenantView,
        )?;
        let now = svc.now();
        Ok(operations
            .iter()
            .map(|op| {
                let spec = op.spec();
                let blocker = first_blocker(&spec, &snap.tenant, snap.connection.as_ref(), now);
                let state = match (blocker, snap.active) {
                    (Some(reason), _) => ReadinessState::Blocked { reason },
                    (None, Some((run, holder))) if holder == *op => ReadinessState::Running { run },
                    (None, Some((run, holder))) => ReadinessState::Busy { run, holder },
                    (None, None) => ReadinessState::Ready,
                };
                let allowed = role.can(spec.capability);
                let next_steps = match &state {
                    ReadinessState::Blocked { reason } => super::next_steps::resolve(
                        *reason,
                        &super::next_steps::StepContext {
                            tenant: Some(tenant),
                            connection: snap.connection.as_ref().map(|c| c.id),
                            running: None,
                        },
                    ),
                    _ => vec![],
                };
                Readiness {
                    op_type: *op,
                    state,
                    allowed,
                    next_steps,
                    not_offered: (!allowed).then(|| {
                        format!(
                            "Not offered: the {} role cannot start {}.",
                            role.label(),
                            op.label().to_lowercase()
                        )
                    }),
                }
            })
            .collect())
    }
}
