//! Managed tenants and their assignment to operator/readonly members.

use crate::access::{self, Actor, TenantAccess, WorkspaceAccess};
use crate::audit::{self, AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{TenantId, UserId, WorkspaceId};
use crate::rbac::Capability;
use crate::services::Services;
use crate::store::is_unique_violation;
use crate::validate::{MicrosoftTenantId, TenantName};
use crate::views::{AuditAction, TenantPage, TenantStatus, TenantView, TenantsPage};

/// Tenants of the workspace the actor may see, by name.
pub async fn list_visible(
    svc: &Services,
    actor: &Actor,
    access: &WorkspaceAccess,
) -> AppResult<Vec<TenantView>> {
    let ws = access.id();
    let rows: Vec<(i64, String, String, String, i64)> = if access.role().sees_all_tenants() {
        sqlx::query_as(
            "SELECT id, display_name, microsoft_tenant_id, status, created_at FROM tenants
             WHERE workspace_id = $1 ORDER BY display_name, id",
        )
        .bind(ws.0)
        .fetch_all(&mut *svc.store.read().await?)
        .await?
    } else {
        sqlx::query_as(
            "SELECT t.id, t.display_name, t.microsoft_tenant_id, t.status, t.created_at FROM tenants t
             JOIN tenant_assignments a ON a.tenant_id = t.id AND a.user_id = $2
             WHERE t.workspace_id = $1 ORDER BY t.display_name, t.id",
        )
        .bind(ws.0)
        .bind(actor.user_id.0)
        .fetch_all(&mut *svc.store.read().await?)
        .await?
    };
    rows.into_iter()
        .map(|r| access::tenant_view(ws, r))
        .collect()
}

/// The tenant list of the member's current workspace, filtered by `tag`
/// when given (404 for a tag that is not this workspace's).
pub async fn tenants_page(
    svc: &Services,
    actor: &Actor,
    tag: Option<crate::ids::TagId>,
) -> AppResult<Option<TenantsPage>> {
    let Some(access) = access::current_workspace_with(svc, actor, Capability::TenantView).await?
    else {
        return match tag {
            Some(_) => Err(AppError::NotFound),
            None => Ok(None),
        };
    };
    let mut tenants = list_visible(svc, actor, &access).await?;
    let any_tenants = !tenants.is_empty();
    let tag = match tag {
        Some(tag) => {
            let (name, carrying) = super::tags::carrying(svc, access.id(), tag).await?;
            tenants.retain(|t| carrying.contains(&t.id));
            Some(crate::views::TagView {
                id: tag,
                name,
                tenants: tenants.len() as i64,
            })
        }
        None => None,
    };
    Ok(Some(TenantsPage {
        tag,
        any_tenants,
        can_manage: access.role().can(Capability::TenantManage),
        can_bulk_start: super::bulk_startable()
            .iter()
            .any(|op| access.role().can(op.spec().capability)),
        workspace: access.workspace,
        tenants,
    }))
}

pub async fn tenant_page(svc: &Services, actor: &Actor, tenant: TenantId) -> AppResult<TenantPage> {
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    let assigned: Vec<(String,)> = sqlx::query_as(
        "SELECT u.email FROM tenant_assignments a JOIN users u ON u.id = a.user_id WHERE a.tenant_id = $1 ORDER BY u.email",
    )
    .bind(tenant.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    // The palette's recent tenants; losing a visit is harmless, so a failed
    // write never costs the member the page.
    if let Err(e) = crate::search::record_tenant_visit(svc, actor, tenant).await {
        tracing::debug!(error = %e, "recent tenant not recorded");
    }
    Ok(TenantPage {
        can_manage: access.workspace.role().can(Capability::TenantManage),
        can_request_support: access.workspace.role().can(Capability::SupportRequest),
        can_restore: access.workspace.role().can(Capability::RestoreExecute),
        workspace: access.workspace.workspace,
        tenant: access.tenant,
        assigned_members: assigned.into_iter().map(|(e,)| e).collect(),
    })
}

/// Adds a tenant to the actor's current workspace.
pub async fn create(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    display_name: &str,
    microsoft_tenant_id: &str,
) -> AppResult<TenantId> {
    let access = match access::workspace(svc, actor, workspace, Capability::TenantManage).await {
        Ok(a) => a,
        Err(e) => {
            return Err(access::denied(
                svc,
                actor,
                workspace,
                None,
                AuditAction::TenantCreated,
                display_name.to_string(),
                e,
            )
            .await);
        }
    };
    let name = TenantName::parse(display_name)?;
    let ms = MicrosoftTenantId::parse(microsoft_tenant_id)?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO tenants (workspace_id, display_name, microsoft_tenant_id, status, created_at, updated_at)
         VALUES ($1, $2, $3, 'active', $4, $4) RETURNING id",
    )
    .bind(access.id().0)
    .bind(name.as_str())
    .bind(ms.as_str())
    .bind(now)
    .fetch_one(&mut **tx)
    .await;
    let (id,) = inserted.map_err(|e| {
        if is_unique_violation(&e) {
            AppError::invalid(
                "microsoft_tenant_id",
                "This Microsoft tenant is already managed in this workspace.",
            )
        } else {
            e.into()
        }
    })?;
    let tenant = TenantId(id);
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        Some(tenant),
        AuditAction::TenantCreated,
        name.as_str().to_string(),
        Some(ms.to_string()),
    ))
    .await?;
    Ok(tenant)
}

pub(crate) async fn guard_manage(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    action: AuditAction,
    capability: Capability,
) -> AppResult<TenantAccess> {
    match access::tenant(svc, actor, tenant, Capability::TenantView).await {
        Ok(a) => match a.workspace.require(capability) {
            Ok(()) => Ok(a),
            Err(e) => Err(access::denied(
                svc,
                actor,
                a.workspace.id(),
                Some(tenant),
                action,
                a.tenant.display_name.clone(),
                e,
            )
            .await),
        },
        Err(e) => Err(e),
    }
}

pub async fn rename(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    display_name: &str,
) -> AppResult<()> {
    let access = guard_manage(
        svc,
        actor,
        tenant,
        AuditAction::TenantUpdated,
        Capability::TenantManage,
    )
    .await?;
    let name = TenantName::parse(display_name)?;
    if name.as_str() == access.tenant.display_name {
        return Ok(());
    }
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query("UPDATE tenants SET display_name = $2, updated_at = $3 WHERE id = $1")
        .bind(tenant.0)
        .bind(name.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        access.workspace.id(),
        Some(tenant),
        AuditAction::TenantUpdated,
        name.as_str().to_string(),
        Some(format!("renamed from {}", access.tenant.display_name)),
    ))
    .await?;
    Ok(())
}

pub async fn set_status(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    status: TenantStatus,
) -> AppResult<()> {
    let action = match status {
        TenantStatus::Active => AuditAction::TenantActivated,
        TenantStatus::Inactive => AuditAction::TenantDeactivated,
    };
    let access = guard_manage(svc, actor, tenant, action, Capability::TenantManage).await?;
    if access.tenant.status == status {
        return Ok(());
    }
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query("UPDATE tenants SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(tenant.0)
        .bind(status.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        access.workspace.id(),
        Some(tenant),
        action,
        access.tenant.display_name.clone(),
        None,
    ))
    .await?;
    Ok(())
}

/// Assigns (or unassigns) a tenant to a member. Only meaningful for operator
/// and readonly members, but recorded for any member so a later role change
/// keeps the intent.
pub async fn set_assignment(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    member: UserId,
    assigned: bool,
) -> AppResult<()> {
    let action = if assigned {
        AuditAction::TenantAssigned
    } else {
        AuditAction::TenantUnassigned
    };
    let access = guard_manage(svc, actor, tenant, action, Capability::MembersManage).await?;
    let ws = access.workspace.id();
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let member_row: Option<(String,)> = sqlx::query_as(
        "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.user_id = $2",
    )
    .bind(ws.0)
    .bind(member.0)
    .fetch_optional(&mut **tx)
    .await?;
    let (email,) = member_row.ok_or(AppError::NotFound)?;
    let changed = if assigned {
        sqlx::query(
            "INSERT INTO tenant_assignments (tenant_id, user_id, workspace_id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, user_id) DO NOTHING",
        )
        .bind(tenant.0)
        .bind(member.0)
        .bind(ws.0)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected()
    } else {
        sqlx::query("DELETE FROM tenant_assignments WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.0)
            .bind(member.0)
            .execute(&mut **tx)
            .await?
            .rows_affected()
    };
    if changed > 0 {
        audit::record(
            &mut tx,
            Entry::by_member(
                actor,
                ws,
                Some(tenant),
                action,
                email,
                Some(access.tenant.display_name.clone()),
            ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
