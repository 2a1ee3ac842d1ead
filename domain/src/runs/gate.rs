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
}

impl Initiator<'_> {
    fn kind(&self) -> InitiatorKind {
        match self {
            Initiator::User(_) => InitiatorKind::User,
            Initiator::Schedule => InitiatorKind::Schedule,
            Initiator::System => InitiatorKind::System,
        }
    }
    fn user(&self) -> Option<UserId> {
        match self {
            Initiator::User(a) => Some(a.user_id),
            _ => None,
        }
    }
    fn label(&self) -> &str {
        match self {
            Initiator::User(a) => &a.email,
            Initiator::Schedule => "schedule",
            Initiator::System => "system",
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

struct Connection {
    id: ProviderConnectionId,
    enabled: bool,
    consent: bool,
    has_credentials: bool,
    expires_at: Option<i64>,
}

struct Tenant {
    workspace: WorkspaceId,
    name: String,
    active: bool,
}

async fn load_tenant(conn: &mut AnyConnection, tenant: TenantId) -> AppResult<Tenant> {
    let row: Option<(i64, String, String)> =
        sqlx::query_as("SELECT workspace_id, display_name, status FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .fetch_optional(conn)
            .await?;
    let (ws, name, status) = row.ok_or(AppError::NotFound)?;
    Ok(Tenant {
        workspace: WorkspaceId(ws),
        name,
        active: status.parse::<TenantStatus>() == Ok(TenantStatus::Active),
    })
}

async fn load_connection(
    conn: &mut AnyConnection,
    tenant: TenantId,
    explicit: Option<ProviderConnectionId>,
) -> AppResult<Option<Connection>> {
    type Row = (i64, String, String, i64, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, status, consent, has_credentials, credential_expires_at FROM provider_connections
         WHERE tenant_id = $1 AND ($2 IS NULL OR id = $2)
         ORDER BY is_default DESC, id LIMIT 1",
    )
    .bind(tenant.0)
    .bind(explicit.map(|c| c.0))
    .fetch_optional(conn)
    .await?;
    match (row, explicit) {
        // A connection named explicitly must exist on this tenant.
        (None, Some(_)) => Err(AppError::NotFound),
        (None, None) => Ok(None),
        (Some((id, status, consent, creds, expires)), _) => Ok(Some(Connection {
            id: ProviderConnectionId(id),
            enabled: status == "enabled",
            consent: consent == "granted",
            has_credentials: creds != 0,
            expires_at: expires,
        })),
    }
}

/// The first failing prerequisite, in the registry's order.
fn first_blocker(
    prerequisites: &[Prerequisite],
    scope: ScopeKind,
    tenant: &Tenant,
    connection: Option<&Connection>,
    now: i64,
) -> Option<ReasonCode> {
    for p in prerequisites {
        let blocked = match p {
            Prerequisite::TenantActive => (!tenant.active).then_some(ReasonCode::TenantInactive),
            Prerequisite::ConnectionEnabled => match connection {
                None => Some(ReasonCode::ConnectionMissing),
                Some(c) if !c.enabled => Some(ReasonCode::ConnectionDisabled),
                _ => None,
            },
            Prerequisite::ConsentGranted => match connection {
                Some(c) if !c.consent => Some(ReasonCode::ConsentMissing),
                _ => None,
            },
            Prerequisite::CredentialsValid => match connection {
                Some(c) if !c.has_credentials => Some(ReasonCode::CredentialsMissing),
                Some(c) if c.expires_at.is_some_and(|e| e <= now) => {
                    Some(ReasonCode::CredentialsExpired)
                }
                _ => None,
            },
        };
        if blocked.is_some() {
            return blocked;
        }
    }
    if scope == ScopeKind::ProviderConnection && connection.is_none() {
        return Some(ReasonCode::ConnectionMissing);
    }
    None
}

async fn active_on_scope(
    conn: &mut AnyConnection,
    scope: &str,
) -> AppResult<Option<(RunId, OperationType)>> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, op_type FROM operation_runs WHERE scope_key = $1 AND status IN ('queued', 'running')",
    )
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

impl StartGate {
    /// Decides a start: `Accepted` (queued), `Deduped` (already running),
    /// `ScopeBusy` or `Blocked` (recorded, nothing enqueued).
    pub async fn start(
        svc: &Services,
        initiator: Initiator<'_>,
        request: StartRequest,
    ) -> AppResult<StartResult> {
        let spec = request.op_type.spec();
        // Authorization before anything else: 404 for not yours, 403 for not allowed.
        if let Initiator::User(actor) = initiator {
            access::tenant(svc, actor, request.tenant, spec.capability).await?;
        }
        let now = svc.now();
        for _ in 0..3 {
            let mut tx = svc.store.begin().await?;
            let tenant = load_tenant(&mut tx, request.tenant).await?;
            let connection = match spec.scope {
                ScopeKind::ProviderConnection => {
                    load_connection(&mut tx, request.tenant, request.connection).await?
                }
                ScopeKind::Tenant => None,
            };
            let blocker = if spec.available {
                first_blocker(
                    spec.prerequisites,
                    spec.scope,
                    &tenant,
                    connection.as_ref(),
                    now,
                )
            } else {
                Some(ReasonCode::OperationUnavailable)
            };
            let connection_id = connection.as_ref().map(|c| c.id);
            let context = serde_json::json!({
                "provider_connection_id": connection_id.map(|c| c.0),
                "args": request.args,
            })
            .to_string();

            if let Some(reason) = blocker {
                let scope = scope_key(spec.scope, request.tenant, connection_id)
                    .unwrap_or_else(|| format!("tenant:{}", request.tenant));
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
                        initiator_user_id, provider_connection_id, scope_key, context, reason_code,
                        created_at, completed_at, available_at)
                     VALUES ($1, $2, $3, 'completed', 'blocked', $4, $5, $6, $7, $8, $9, $10, $10, $10) RETURNING id",
                )
                .bind(tenant.workspace.0)
                .bind(request.tenant.0)
                .bind(request.op_type.as_str())
                .bind(initiator.kind().as_str())
                .bind(initiator.user().map(|u| u.0))
                .bind(connection_id.map(|c| c.0))
                .bind(scope)
                .bind(&context)
                .bind(reason.as_str())
                .bind(now)
                .fetch_one(&mut **tx)
                .await?;
                audit_start(
                    &mut tx,
                    &initiator,
                    &tenant,
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
                    holder: None,
                    reason: Some(reason),
                });
            }

            let scope =
                scope_key(spec.scope, request.tenant, connection_id).ok_or(AppError::Internal)?;
            if let Some((run, holder)) = active_on_scope(&mut tx, &scope).await? {
                tx.commit().await?;
                return Ok(occupied(request.op_type, run, holder));
            }
            let inserted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
                    initiator_user_id, provider_connection_id, scope_key, context, created_at, available_at)
                 VALUES ($1, $2, $3, 'queued', 'pending', $4, $5, $6, $7, $8, $9, $9)
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(tenant.workspace.0)
            .bind(request.tenant.0)
            .bind(request.op_type.as_str())
            .bind(initiator.kind().as_str())
            .bind(initiator.user().map(|u| u.0))
            .bind(connection_id.map(|c| c.0))
            .bind(&scope)
            .bind(&context)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
            let Some((id,)) = inserted else {
                // Another start won the scope between our check and insert.
                if let Some((run, holder)) = active_on_scope(&mut tx, &scope).await? {
                    tx.commit().await?;
                    return Ok(occupied(request.op_type, run, holder));
                }
                // It finished in between: try again.
                continue;
            };
            audit_start(
                &mut tx,
                &initiator,
                &tenant,
                request.tenant,
                request.op_type,
                RunId(id),
                None,
                now,
            )
            .await?;
            if svc.store.backend() == Backend::Postgres {
                sqlx::query("SELECT pg_notify($1, '')")
                    .bind(super::wake::CHANNEL)
                    .execute(&mut **tx)
                    .await?;
            }
            tx.commit().await?;
            // Side effect after commit: wake this process's workers.
            svc.run_signal.notify();
            return Ok(StartResult {
                decision: StartDecision::Accepted,
                run: RunId(id),
                op_type: request.op_type,
                holder: None,
                reason: None,
            });
        }
        Err(AppError::conflict(
            "The operation's scope kept changing; try again.",
        ))
    }
}

fn occupied(requested: OperationType, run: RunId, holder: OperationType) -> StartResult {
    StartResult {
        decision: if holder == requested {
            StartDecision::Deduped
        } else {
            StartDecision::ScopeBusy
        },
        run,
        op_type: requested,
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
