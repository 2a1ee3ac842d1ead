use crate::access::{self, Actor};
use crate::audit::{self, AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{UserId, WorkspaceId};
use crate::rbac::Capability;
use crate::services::Services;
use crate::sessions;
use crate::validate::WorkspaceName;
use crate::views::{AuditAction, AuditFilter, AuditPage, WorkspaceRef};
use crate::workspaces::views::{OverviewPage, ShellView, SystemWorkspaceRow};

pub async fn list_for_user(svc: &Services, user: UserId) -> AppResult<Vec<WorkspaceRef>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = $1 ORDER BY w.name, w.id",
    )
    .bind(user.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    rows.into_iter()
        .map(|(id, name, role)| {
            Ok(WorkspaceRef {
                id: WorkspaceId(id),
                name,
                role: role.parse().map_err(|_| AppError::Internal)?,
            })
        })
        .collect()
}

/// What the `/admin` shell shows on every page.
pub async fn shell(svc: &Services, actor: &Actor) -> AppResult<ShellView> {
    let current = access::current_workspace(svc, actor).await?;
    let active_runs = match &current {
        // Until they set up two-step sign-in, only their account page works.
        Some(_) if actor.mfa_owed => Default::default(),
        Some(ws) => {
            let access = access::WorkspaceAccess {
                workspace: ws.clone(),
            };
            crate::schedules::bulk::overlay_in(svc, &access, actor).await?
        }
        None => Default::default(),
    };
    Ok(ShellView {
        user_email: actor.email.clone(),
        is_platform_operator: actor.is_platform_operator,
        current,
        workspaces: list_for_user(svc, actor.user_id).await?,
        unread_notifications: crate::notifications::unread_count(svc, actor).await?,
        open_alerts: crate::alerts::page::open_count(svc, actor).await?,
        active_runs,
        can_create_workspace: may_create(svc, actor),
        zone_rules: crate::time_zones::rules(actor.time_zone.as_deref(), svc.now()),
        theme: actor.theme,
    })
}

/// Workspace creation is decided by configuration: platform operators always
/// may; other accounts only where `--allow-workspace-creation` says so.
pub fn may_create(svc: &Services, actor: &Actor) -> bool {
    actor.is_platform_operator || svc.settings.allow_workspace_creation
}

/// Creates a workspace with the actor as its owner and makes it current.
pub async fn create(svc: &Services, actor: &Actor, name: &str) -> AppResult<WorkspaceId> {
    let now = svc.now();
    if !may_create(svc, actor) {
        let tx = AuditedTx::begin(svc, now).await?;
        tx.commit(Entry {
            workspace: None,
            tenant: None,
            actor: Some(actor.user_id),
            actor_label: &actor.email,
            action: AuditAction::WorkspaceCreated,
            target: name.chars().filter(|c| !c.is_control()).take(80).collect(),
            outcome: crate::views::AuditOutcome::Denied,
            detail: Some("workspace creation is not enabled for this account".into()),
        })
        .await?;
        return Err(AppError::Forbidden);
    }
    let name = WorkspaceName::parse(name)?;
    let mut tx = AuditedTx::begin(svc, now).await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO workspaces (name, created_by, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(name.as_str())
    .bind(actor.user_id.0)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let ws = WorkspaceId(id);
    sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
        .bind(ws.0)
        .bind(actor.user_id.0)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sessions::set_current_workspace(&mut tx, &actor.session_id_hash, ws).await?;
    tx.commit(Entry::by_member(
        actor,
        ws,
        None,
        AuditAction::WorkspaceCreated,
        name.as_str().to_string(),
        None,
    ))
    .await?;
    Ok(ws)
}

/// Makes `workspace` the session's current one (404 when not a member).
pub async fn switch(svc: &Services, actor: &Actor, workspace: WorkspaceId) -> AppResult<()> {
    access::workspace(svc, actor, workspace, Capability::WorkspaceView).await?;
    let mut tx = svc.store.begin().await?;
    sessions::set_current_workspace(&mut tx, &actor.session_id_hash, workspace).await?;
    tx.commit().await?;
    Ok(())
}

pub use crate::identity::members::{
    add_member_directly, allow_codes_again, change_role, members_page, remove_member,
    set_require_mfa, set_require_sso,
};

pub async fn overview(svc: &Services, actor: &Actor) -> AppResult<Option<OverviewPage>> {
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::WorkspaceView).await?
    else {
        return Ok(None);
    };
    let tenants = crate::tenants::list_visible(svc, actor, &access).await?;
    let (members,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1")
            .bind(access.id().0)
            .fetch_one(&mut *svc.store.read().await?)
            .await?;
    Ok(Some(OverviewPage {
        tenant_count: tenants.len() as i64,
        active_tenant_count: tenants
            .iter()
            .filter(|t| t.status == crate::views::TenantStatus::Active)
            .count() as i64,
        member_count: members,
        can_manage_tenants: access.role().can(Capability::TenantManage),
        can_manage_members: access.role().can(Capability::MembersManage),
        workspace: access.workspace,
    }))
}

pub async fn audit_page(
    svc: &Services,
    actor: &Actor,
    filter: &AuditFilter,
) -> AppResult<Option<AuditPage>> {
    let Some(access) = access::current_workspace_with(svc, actor, Capability::AuditView).await?
    else {
        return Ok(None);
    };
    let mut conn = svc.store.read().await?;
    let (entries, next_before) = audit::list(&mut conn, access.id(), filter).await?;
    drop(conn);
    let tenants = crate::tenants::list_visible(svc, actor, &access).await?;
    Ok(Some(AuditPage {
        workspace: access.workspace,
        entries,
        next_before,
        tenants,
    }))
}

/// System plane: every workspace (platform operators only; 404 otherwise).
pub async fn system_list(svc: &Services, actor: &Actor) -> AppResult<Vec<SystemWorkspaceRow>> {
    if !actor.is_platform_operator {
        return Err(AppError::NotFound);
    }
    let rows: Vec<(i64, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT w.id, w.name,
                (SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = w.id),
                (SELECT COUNT(*) FROM tenants t WHERE t.workspace_id = w.id),
                w.created_at
         FROM workspaces w ORDER BY w.name, w.id LIMIT 500",
    )
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, member_count, tenant_count, created_at)| SystemWorkspaceRow {
                id: WorkspaceId(id),
                name,
                member_count,
                tenant_count,
                created_at,
            },
        )
        .collect())
}
