//! Tenant groups (tags): owners and managers name them and put tenants in
//! them; schedules (and later bulk starts, baselines, alerts) target them.

use super::TagsPanel;
use crate::access::{self, Actor};
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{TagId, TenantId, WorkspaceId};
use crate::rbac::Capability;
use crate::services::Services;
use crate::views::AuditAction;
use crate::views::TagView;

/// A tag's name: 1–40 characters of text, trimmed.
fn parse_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 40 || crate::validate::has_forbidden_control(name)
    {
        return Err(AppError::invalid(
            "name",
            "Name the tag in 1 to 40 characters, e.g. Finance or Tier 1.",
        ));
    }
    Ok(name.to_string())
}

/// The workspace's tags with how many tenants carry each, by name.
pub async fn list(svc: &Services, actor: &Actor, ws: WorkspaceId) -> AppResult<Vec<TagView>> {
    let access = access::workspace(svc, actor, ws, Capability::WorkspaceView).await?;
    let mut conn = svc.store.read().await?;
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT g.id, g.name, (SELECT COUNT(*) FROM tenant_tags tt JOIN tenants t ON t.id = tt.tenant_id
                               WHERE tt.tag_id = g.id AND t.status = 'active')
         FROM tags g WHERE g.workspace_id = $1 ORDER BY g.name",
    )
    .bind(access.id().0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, tenants)| TagView {
            id: TagId(id),
            name,
            tenants,
        })
        .collect())
}

pub async fn create(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    name: &str,
) -> AppResult<TagId> {
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::TenantManage,
        AuditAction::TagCreated,
        name.chars().take(40).collect::<String>(),
    )
    .await?;
    let name = parse_name(name)?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO tags (workspace_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(access.id().0)
    .bind(&name)
    .bind(now)
    .fetch_one(&mut **tx)
    .await;
    let (id,) = inserted.map_err(|e| {
        if crate::store::is_unique_violation(&e) {
            AppError::invalid("name", "A tag with this name already exists.")
        } else {
            e.into()
        }
    })?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::TagCreated,
        name,
        None,
    ))
    .await?;
    Ok(TagId(id))
}

/// The tag if it belongs to `ws` (else 404: another workspace's tag does not exist here).
async fn name_of(svc: &Services, ws: WorkspaceId, tag: TagId) -> AppResult<String> {
    let mut conn = svc.store.read().await?;
    let row: Option<(String,)> =
        sqlx::query_as("SELECT name FROM tags WHERE id = $1 AND workspace_id = $2")
            .bind(tag.0)
            .bind(ws.0)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|r| r.0).ok_or(AppError::NotFound)
}

/// The tag's name and the tenants carrying it, if it belongs to `ws`
/// (else 404).
pub(crate) async fn carrying(
    svc: &Services,
    ws: WorkspaceId,
    tag: TagId,
) -> AppResult<(String, std::collections::HashSet<TenantId>)> {
    let name = name_of(svc, ws, tag).await?;
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT tenant_id FROM tenant_tags WHERE tag_id = $1")
        .bind(tag.0)
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
    Ok((name, rows.into_iter().map(|r| TenantId(r.0)).collect()))
}

/// Deletes a tag; schedules that target it are deleted with it (said in the confirmation).
pub async fn delete(svc: &Services, actor: &Actor, ws: WorkspaceId, tag: TagId) -> AppResult<()> {
    let access = access::workspace(svc, actor, ws, Capability::WorkspaceView).await?;
    let name = name_of(svc, access.id(), tag).await?;
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::TenantManage,
        AuditAction::TagDeleted,
        name.clone(),
    )
    .await?;
    let mut tx = AuditedTx::begin(svc, svc.now()).await?;
    sqlx::query("DELETE FROM tags WHERE id = $1 AND workspace_id = $2")
        .bind(tag.0)
        .bind(access.id().0)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::TagDeleted,
        name,
        None,
    ))
    .await
}

/// The tags a tenant carries.
pub async fn of_tenant(svc: &Services, actor: &Actor, tenant: TenantId) -> AppResult<Vec<TagView>> {
    access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    let mut conn = svc.store.read().await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT g.id, g.name FROM tags g JOIN tenant_tags tt ON tt.tag_id = g.id
         WHERE tt.tenant_id = $1 ORDER BY g.name",
    )
    .bind(tenant.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| TagView {
            id: TagId(id),
            name,
            tenants: 0,
        })
        .collect())
}

/// Puts a tenant in a tag (`on`) or takes it out. Idempotent; audited when it changes something.
pub async fn set_on_tenant(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    tag: TagId,
    on: bool,
) -> AppResult<()> {
    let action = if on {
        AuditAction::TenantTagged
    } else {
        AuditAction::TenantUntagged
    };
    let access =
        crate::tenants::guard_manage(svc, actor, tenant, action, Capability::TenantManage).await?;
    let ws = access.workspace.id();
    let name = name_of(svc, ws, tag).await?;
    let mut tx = AuditedTx::begin(svc, svc.now()).await?;
    let changed = if on {
        sqlx::query(
            "INSERT INTO tenant_tags (tag_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
    } else {
        sqlx::query("DELETE FROM tenant_tags WHERE tag_id = $1 AND tenant_id = $2")
    }
    .bind(tag.0)
    .bind(tenant.0)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(());
    }
    tx.commit(Entry::by_member(
        actor,
        ws,
        Some(tenant),
        action,
        format!("{} · {}", access.tenant.display_name, name),
        None,
    ))
    .await
}

/// The tag panel of the member's current workspace. Operators and read-only
/// members see only the tenants assigned to them in it.
pub async fn panel(svc: &Services, actor: &Actor) -> AppResult<Option<TagsPanel>> {
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::WorkspaceView).await?
    else {
        return Ok(None);
    };
    let ws = access.id();
    let tags = list(svc, actor, ws).await?;
    let visible: std::collections::HashSet<i64> = crate::tenants::tenants_page(svc, actor, None)
        .await?
        .map(|p| p.tenants.into_iter().map(|t| t.id.0).collect())
        .unwrap_or_default();
    let mut conn = svc.store.read().await?;
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT tt.tag_id, tt.tenant_id FROM tenant_tags tt JOIN tags g ON g.id = tt.tag_id
         WHERE g.workspace_id = $1 ORDER BY tt.tag_id, tt.tenant_id",
    )
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(TagsPanel {
        workspace: ws,
        tags,
        members: rows
            .into_iter()
            .filter(|(_, t)| visible.contains(t))
            .map(|(g, t)| (TagId(g), TenantId(t)))
            .collect(),
        can_manage: access.require(Capability::TenantManage).is_ok(),
    }))
}
