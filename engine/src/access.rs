//! The one guard. Layered like the house rules say:
//! authenticated → member of this workspace (else 404) → visible tenant
//! (else 404) → capability (else 403).

use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{TenantId, UserId, WorkspaceId};
use crate::rbac::{Capability, Role};
use crate::services::Services;
use crate::views::{AuditAction, AuditOutcome, TenantStatus, TenantView, WorkspaceRef};
use sqlx::AnyConnection;

pub use crate::actor::{Actor, Theme};

/// Proof that the actor is a member of a workspace, with their role.
#[derive(Debug, Clone)]
pub struct WorkspaceAccess {
    pub workspace: WorkspaceRef,
}

impl WorkspaceAccess {
    pub fn role(&self) -> Role {
        self.workspace.role
    }
    pub fn id(&self) -> WorkspaceId {
        self.workspace.id
    }
    pub fn require(&self, capability: Capability) -> AppResult<()> {
        if self.role().can(capability) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// Proof that the actor may see a tenant, with the workspace access behind it.
#[derive(Debug, Clone)]
pub struct TenantAccess {
    pub workspace: WorkspaceAccess,
    pub tenant: TenantView,
}

async fn membership(
    conn: &mut AnyConnection,
    user: UserId,
    workspace: WorkspaceId,
) -> AppResult<Option<WorkspaceRef>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.workspace_id = $1 AND m.user_id = $2",
    )
    .bind(workspace.0)
    .bind(user.0)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some((name, role)) => Some(WorkspaceRef {
            id: workspace,
            name,
            role: role.parse().map_err(|_| AppError::Internal)?,
        }),
        None => None,
    })
}

/// Member of `workspace` (404 otherwise), holding `capability` (403 otherwise).
pub async fn workspace(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    capability: Capability,
) -> AppResult<WorkspaceAccess> {
    let mut conn = svc.store.read().await?;
    let access = membership(&mut conn, actor.user_id, workspace)
        .await?
        .map(|workspace| WorkspaceAccess { workspace })
        .ok_or(AppError::NotFound)?;
    access.require(capability)?;
    Ok(access)
}

/// The actor's current workspace: the one chosen in this session if still a
/// member, else their first. `None` when they belong to no workspace yet.
pub async fn current_workspace(svc: &Services, actor: &Actor) -> AppResult<Option<WorkspaceRef>> {
    let mut conn = svc.store.read().await?;
    if let Some(ws) = actor.current_workspace
        && let Some(r) = membership(&mut conn, actor.user_id, ws).await?
    {
        return Ok(Some(r));
    }
    let first: Option<(i64,)> = sqlx::query_as(
        "SELECT workspace_id FROM memberships WHERE user_id = $1 ORDER BY workspace_id LIMIT 1",
    )
    .bind(actor.user_id.0)
    .fetch_optional(&mut *conn)
    .await?;
    match first {
        Some((id,)) => membership(&mut conn, actor.user_id, WorkspaceId(id)).await,
        None => Ok(None),
    }
}

/// The current workspace with `capability`; `None` when there is none yet.
pub async fn current_workspace_with(
    svc: &Services,
    actor: &Actor,
    capability: Capability,
) -> AppResult<Option<WorkspaceAccess>> {
    match current_workspace(svc, actor).await? {
        Some(workspace) => {
            let access = WorkspaceAccess { workspace };
            access.require(capability)?;
            Ok(Some(access))
        }
        None => Ok(None),
    }
}

type TenantRow = (i64, String, String, String, i64);

pub fn tenant_view(workspace: WorkspaceId, row: TenantRow) -> AppResult<TenantView> {
    let (id, display_name, microsoft_tenant_id, status, created_at) = row;
    Ok(TenantView {
        id: TenantId(id),
        workspace_id: workspace,
        display_name,
        microsoft_tenant_id,
        status: status
            .parse::<TenantStatus>()
            .map_err(|_| AppError::Internal)?,
        created_at,
    })
}

/// Whether a member with `role` may see `tenant` (assignment rule for
/// operators and readonly members).
pub(crate) async fn tenant_visible(
    conn: &mut AnyConnection,
    user: UserId,
    role: Role,
    tenant: TenantId,
) -> AppResult<bool> {
    if role.sees_all_tenants() {
        return Ok(true);
    }
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT tenant_id FROM tenant_assignments WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant.0)
    .bind(user.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// A tenant the actor may see (404 otherwise), with `capability` (403 otherwise).
pub async fn tenant(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    capability: Capability,
) -> AppResult<TenantAccess> {
    let mut conn = svc.store.read().await?;
    let row: Option<(i64, i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT workspace_id, id, display_name, microsoft_tenant_id, status, created_at FROM tenants WHERE id = $1",
    )
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    let (ws, id, name, ms, status, created) = row.ok_or(AppError::NotFound)?;
    let ws = WorkspaceId(ws);
    let workspace = membership(&mut conn, actor.user_id, ws).await?;
    let assigned = match &workspace {
        Some(w) if !w.role.sees_all_tenants() => {
            tenant_visible(&mut conn, actor.user_id, w.role, tenant).await?
        }
        _ => false,
    };
    decide_tenant(workspace.as_ref().map(|w| w.role), assigned, capability)?;
    let workspace = workspace.ok_or(AppError::NotFound)?;
    Ok(TenantAccess {
        workspace: WorkspaceAccess { workspace },
        tenant: tenant_view(ws, (id, name, ms, status, created))?,
    })
}

/// The tenant rule in one place: not a member → 404; an operator or readonly
/// member without the assignment → 404; a role without the capability → 403.
pub fn decide_tenant(
    role: Option<Role>,
    assigned: bool,
    capability: Capability,
) -> AppResult<Role> {
    let role = role.ok_or(AppError::NotFound)?;
    if !role.sees_all_tenants() && !assigned {
        return Err(AppError::NotFound);
    }
    if !role.can(capability) {
        return Err(AppError::Forbidden);
    }
    Ok(role)
}

/// Records a mutation the guard refused with 403, then hands the error back.
pub async fn denied(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    tenant: Option<TenantId>,
    action: AuditAction,
    target: String,
    error: AppError,
) -> AppError {
    if error == AppError::Forbidden {
        let now = svc.now();
        let result = async {
            let mut tx = svc.store.begin().await?;
            audit::record(
                &mut tx,
                Entry {
                    outcome: AuditOutcome::Denied,
                    ..Entry::by_member(actor, workspace, tenant, action, target, None)
                },
                now,
            )
            .await?;
            tx.commit().await?;
            Ok::<(), AppError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record a denied mutation");
        }
    }
    error
}

/// [`tenant`] for a change: a refusal for the member's role (403) is audited
/// as `denied` in the tenant's workspace before it is handed back.
pub async fn tenant_for_change(
    svc: &Services,
    actor: &Actor,
    tenant_id: TenantId,
    capability: Capability,
    action: AuditAction,
    target: impl Into<String>,
) -> AppResult<TenantAccess> {
    match tenant(svc, actor, tenant_id, capability).await {
        Err(AppError::Forbidden) => {
            let ws: Option<(i64,)> =
                sqlx::query_as("SELECT workspace_id FROM tenants WHERE id = $1")
                    .bind(tenant_id.0)
                    .fetch_optional(&mut *svc.store.read().await?)
                    .await?;
            let Some((ws,)) = ws else {
                return Err(AppError::Forbidden);
            };
            Err(denied(
                svc,
                actor,
                WorkspaceId(ws),
                Some(tenant_id),
                action,
                target.into(),
                AppError::Forbidden,
            )
            .await)
        }
        other => other,
    }
}

/// [`workspace`] for a change, auditing a 403 like [`tenant_for_change`].
pub async fn workspace_for_change(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    capability: Capability,
    action: AuditAction,
    target: impl Into<String>,
) -> AppResult<WorkspaceAccess> {
    match workspace(svc, actor, ws, capability).await {
        Err(e) => Err(denied(svc, actor, ws, None, action, target.into(), e).await),
        ok => ok,
    }
}
