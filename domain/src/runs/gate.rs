//! The one start gate. Every operator-triggered start of provider-backed work
//! goes through [`StartGate::start`]: authorization first (404/403), then one
//! database transaction that checks prerequisites, dedupes, protects the
//! scope and admits the run. No remote call happens here.

use super::model::{
    InitiatorKind, OperationType, Origin, Prerequisite, ReasonCode, ScopeKind, StartDecision,
    StartResult, scope_key,
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
    /// A member starting one operation on many tenants: authorised and
    /// recorded per tenant exactly as `User`; the bulk as a whole is
    /// rate-limited (not each blocked start) and notifies once.
    Bulk(&'a Actor),
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
            Initiator::User(_) | Initiator::Bulk(_) => InitiatorKind::User,
            Initiator::Schedule => InitiatorKind::Schedule,
            Initiator::System | Initiator::Platform { .. } => InitiatorKind::System,
        }
    }
    /// The member whose membership authorises the start.
    fn member(&self) -> Option<UserId> {
        match self {
            Initiator::User(a) | Initiator::Bulk(a) => Some(a.user_id),
            _ => None,
        }
    }
    /// Whether each blocked start counts against the member's limit (one
    /// click, one start); a bulk is limited as a whole.
    fn limited(&self) -> bool {
        matches!(self, Initiator::User(_))
    }
    /// The person recorded on the run and its audit entries.
    fn user(&self) -> Option<UserId> {
        match self {
            Initiator::User(a) | Initiator::Bulk(a) | Initiator::Platform { operator: a, .. } => {
                Some(a.user_id)
            }
            _ => None,
        }
    }
    fn label(&self) -> &str {
        match self {
            Initiator::User(a) | Initiator::Bulk(a) | Initiator::Platform { operator: a, .. } => {
                &a.email
            }
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
    let row = sqlx::query(SNAPSHOT)
        .bind(request.tenant.0)
        .bind(user.map(|u| u.0))
        .bind(request.connection.map(|c| c.0))
        .bind(scope_param(scope))
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    snapshot_of(&row)
}

fn scope_param(scope: ScopeKind) -> &'static str {
    match scope {
        ScopeKind::Tenant => "tenant",
        ScopeKind::ProviderConnection => "provider",
    }
}

fn snapshot_of(row: &sqlx::any::AnyRow) -> AppResult<Snapshot> {
    use sqlx::Row;
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
        Self::start_from(svc, initiator, request, None).await
    }

    /// [`StartGate::start`] for a run admitted as part of `origin` (written
    /// with the run, in the same statement).
    async fn start_from(
        svc: &Services,
        initiator: Initiator<'_>,
        request: StartRequest,
        origin: Option<Origin>,
    ) -> AppResult<StartResult> {
        let op = request.op_type;
        let result = Self::decide(svc, initiator, request, origin).await;
        count_start(op, &result);
        if matches!(&result, Ok(r) if matches!(r.decision, StartDecision::Accepted | StartDecision::Blocked))
        {
            // A crash here leaves a committed run its origin has not recorded.
            svc.failpoint("gate.after_admission")?;
        }
        result
    }

    async fn decide(
        svc: &Services,
        initiator: Initiator<'_>,
        request: StartRequest,
        origin: Option<Origin>,
    ) -> AppResult<StartResult> {
        let spec = request.op_type.spec();
        let now = svc.now();
        for _ in 0..3 {
            let mut session = Session::open(svc).await?;
            let snap = snapshot(session.conn(), &request, initiator.member(), spec.scope).await?;
            // Authorization before anything else: 404 for not yours, 403 for not allowed.
            if let Initiator::User(_) | Initiator::Bulk(_) = initiator
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
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
                        initiator_user_id, provider_connection_id, scope_key, context, reason_code,
                        created_at, completed_at, available_at, rerun_of, origin_kind, origin_id)
                     VALUES ($1, $2, $3, 'completed', 'blocked', $4, $5, $6, $7, $8, $9, $10, $10, $10, $11, $12, $13) RETURNING id",
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
                .bind(origin.map(|o| o.kind))
                .bind(origin.map(|o| o.id))
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
                .bind(not_before(&request.args, now))
                .bind(origin.map(|o| o.kind))
                .bind(origin.map(|o| o.id));
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

/// `tenantry_runs_started_total` by operation and result.
fn count_start(op: OperationType, result: &AppResult<StartResult>) {
    let decision = match result {
        Ok(r) => r.decision.word(),
        Err(AppError::Forbidden | AppError::NotFound) => "refused",
        Err(_) => "error",
    };
    metrics::counter!("tenantry_runs_started_total", "op_type" => op.as_str(), "result" => decision)
        .increment(1);
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

/// A tenant's start in a batch: decided (started, joined, blocked) or gone
/// (404/403: nothing started, the caller records it), else the batch stops
/// there, as a crash would (the store is down, a failpoint was reached).
fn stop_unless_settled(result: AppResult<StartResult>) -> AppResult<AppResult<StartResult>> {
    match result {
        Ok(r) => Ok(Ok(r)),
        Err(e @ (AppError::NotFound | AppError::Forbidden)) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}

/// Per-row parameters of [`START_MANY`]'s VALUES list.
const MANY_PER_ROW: usize = 6;

impl StartGate {
    /// Starts one operation on many tenants, each with its own earliest
    /// pick-up time: every rule of [`StartGate::start`] holds per tenant.
    /// On PostgreSQL a batch is decided on one snapshot query and admitted by
    /// one statement (runs and their audit entries; the partial unique index
    /// still settles every race). A tenant the batch cannot settle alone
    /// — blocked (its own run, audit entry and limit check), a refusal to
    /// audit, or a scope won by someone else in between — goes through
    /// `start` by itself. SQLite (one writer): `start` one by one.
    pub async fn start_many(
        svc: &Services,
        initiator: Initiator<'_>,
        op_type: OperationType,
        args: &serde_json::Value,
        tenants: &[(TenantId, i64)],
        origin: Option<Origin>,
    ) -> AppResult<Vec<(TenantId, AppResult<StartResult>)>> {
        let request = |tenant: TenantId, not_before: i64| {
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
        };
        if svc.store.backend() != Backend::Postgres || tenants.is_empty() {
            let mut out = Vec::with_capacity(tenants.len());
            for (t, nb) in tenants {
                let result = Self::start_from(svc, initiator, request(*t, *nb), origin).await;
                out.push((*t, stop_unless_settled(result)?));
            }
            return Ok(out);
        }
        let spec = op_type.spec();
        let now = svc.now();
        // One snapshot for the batch: the single query with the tenant list.
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
            .bind(scope_param(spec.scope));
        for (t, _) in &tenants[1..] {
            q = q.bind(t.0);
        }
        let mut conn = svc.store.write().await?;
        let rows = q.fetch_all(&mut *conn).await?;
        let mut snaps = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            use sqlx::Row;
            snaps.insert(row.try_get::<i64, _>("batch_tenant_id")?, snapshot_of(row)?);
        }
        let mut settled: Vec<(TenantId, AppResult<StartResult>)> =
            Vec::with_capacity(tenants.len());
        let mut alone: Vec<(TenantId, i64)> = Vec::new();
        // (tenant, workspace, connection, scope, context, available_at)
        let mut admit: Vec<(
            TenantId,
            WorkspaceId,
            Option<ProviderConnectionId>,
            String,
            String,
            i64,
        )> = Vec::new();
        for (tenant, nb) in tenants.iter().copied() {
            let Some(snap) = snaps.remove(&tenant.0) else {
                settled.push((tenant, Err(AppError::NotFound)));
                continue;
            };
            if let Initiator::User(_) | Initiator::Bulk(_) = initiator
                && let Err(e) = access::decide_tenant(snap.role, snap.assigned, spec.capability)
            {
                if e == AppError::Forbidden {
                    // `start` audits the refusal.
                    alone.push((tenant, nb));
                } else {
                    settled.push((tenant, Err(e)));
                }
                continue;
            }
            let connection = snap.connection.as_ref().map(|c| c.id);
            if first_blocker(&spec, &snap.tenant, snap.connection.as_ref(), now).is_some() {
                alone.push((tenant, nb));
                continue;
            }
            let req = request(tenant, nb);
            if let Some((run, holder)) = snap.active {
                settled.push((tenant, Ok(occupied(&req, connection, run, holder))));
                continue;
            }
            let scope = scope_key(spec.scope, tenant, connection).ok_or(AppError::Internal)?;
            let context = serde_json::json!({
                "provider_connection_id": connection.map(|c| c.0),
                "args": req.args,
            })
            .to_string();
            admit.push((
                tenant,
                snap.tenant.workspace,
                connection,
                scope,
                context,
                not_before(&req.args, now),
            ));
        }
        if !admit.is_empty() {
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
            for (tenant, ws, connection, scope, context, available_at) in &admit {
                q = q
                    .bind(ws.0)
                    .bind(tenant.0)
                    .bind(connection.map(|c| c.0))
                    .bind(scope.as_str())
                    .bind(context.as_str())
                    .bind(*available_at);
            }
            let inserted: std::collections::HashMap<i64, i64> = q
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|(id, t)| (t, id))
                .collect();
            for (tenant, _, connection, _, _, available_at) in &admit {
                match inserted.get(&tenant.0) {
                    Some(id) => settled.push((
                        *tenant,
                        Ok(StartResult {
                            decision: StartDecision::Accepted,
                            run: RunId(*id),
                            op_type,
                            tenant: *tenant,
                            connection: *connection,
                            holder: None,
                            reason: None,
                        }),
                    )),
                    // Someone took the scope between our read and insert: ask
                    // again alone (its earliest pick-up as already clamped).
                    None => alone.push((*tenant, *available_at)),
                }
            }
            if !inserted.is_empty() {
                svc.run_signal.notify();
                // A crash here leaves committed runs their origin has not recorded.
                svc.failpoint("gate.after_admission")?;
            }
        }
        drop(conn);
        for (_, result) in &settled {
            count_start(op_type, result);
        }
        for (t, nb) in alone {
            let result = Self::start_from(svc, initiator, request(t, nb), origin).await;
            settled.push((t, stop_unless_settled(result)?));
        }
        Ok(settled)
    }
}
