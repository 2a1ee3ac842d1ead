//! A workspace's members: roles, removal, the two-step and single-sign-on
//! requirements, and the members page (with pending invitations).

use crate::access::{self, Actor, WorkspaceAccess};
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::identity::views::{MemberView, MembersPage};
use crate::ids::{TenantId, UserId, WorkspaceId};
use crate::rbac::{Capability, Role};
use crate::services::Services;
use crate::validate::Email;
use crate::views::AuditAction;

pub(crate) async fn guard_members(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    action: AuditAction,
    target: &str,
) -> AppResult<WorkspaceAccess> {
    match access::workspace(svc, actor, workspace, Capability::MembersManage).await {
        Ok(a) => Ok(a),
        Err(e) => {
            Err(access::denied(svc, actor, workspace, None, action, target.to_string(), e).await)
        }
    }
}

/// [`guard_members`], and the member must be an owner (else 403, audited).
async fn guard_owner(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    action: AuditAction,
    target: &str,
) -> AppResult<WorkspaceAccess> {
    let access = guard_members(svc, actor, workspace, action, target).await?;
    if access.role() != Role::Owner {
        return Err(access::denied(
            svc,
            actor,
            workspace,
            None,
            action,
            target.to_string(),
            AppError::Forbidden,
        )
        .await);
    }
    Ok(access)
}

async fn owner_count(conn: &mut sqlx::AnyConnection, workspace: WorkspaceId) -> AppResult<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
    )
    .bind(workspace.0)
    .fetch_one(conn)
    .await?;
    Ok(n)
}

async fn member_role(
    conn: &mut sqlx::AnyConnection,
    workspace: WorkspaceId,
    user: UserId,
) -> AppResult<Option<(Role, String)>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT m.role, u.email FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 AND m.user_id = $2",
    )
    .bind(workspace.0)
    .bind(user.0)
    .fetch_optional(conn)
    .await?;
    match row {
        Some((role, email)) => Ok(Some((role.parse().map_err(|_| AppError::Internal)?, email))),
        None => Ok(None),
    }
}

/// Serialises membership changes of one workspace, so "is this the last
/// owner?" and the change are decided together: on PostgreSQL two owners
/// demoting each other at once would otherwise both see two owners (READ
/// COMMITTED). SQLite's one writer already serialises them.
pub(crate) async fn lock_members(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    workspace: WorkspaceId,
) -> AppResult<()> {
    if svc.store.backend() == crate::store::Backend::Postgres {
        sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR UPDATE")
            .bind(workspace.0)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub(crate) fn only_owners_touch_owners(access: &WorkspaceAccess, roles: &[Role]) -> AppResult<()> {
    if roles.contains(&Role::Owner) && access.role() != Role::Owner {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// Adds an existing account to a workspace without asking them: only for
/// seeding (the demo, test setup). People join through invitations
/// (`crate::invitations`); no server function calls this.
pub async fn add_member_directly(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    email: &str,
    role: Role,
) -> AppResult<UserId> {
    let access = guard_members(svc, actor, workspace, AuditAction::MemberAdded, email).await?;
    if let Err(e) = only_owners_touch_owners(&access, &[role]) {
        return Err(access::denied(
            svc,
            actor,
            workspace,
            None,
            AuditAction::MemberAdded,
            email.to_string(),
            e,
        )
        .await);
    }
    let email = Email::parse(email)?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let user: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let Some((user_id,)) = user else {
        return Err(AppError::invalid(
            "email",
            "No Tenantry account uses this email yet. Ask an administrator to create it with `tenantry user create`, then add it here.",
        ));
    };
    if member_role(&mut tx, workspace, UserId(user_id))
        .await?
        .is_some()
    {
        return Err(AppError::invalid(
            "email",
            "This person is already a member of the workspace.",
        ));
    }
    sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(workspace.0)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        workspace,
        None,
        AuditAction::MemberAdded,
        email.to_string(),
        Some(format!("role {role}")),
    ))
    .await?;
    Ok(UserId(user_id))
}

pub async fn change_role(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    member: UserId,
    role: Role,
) -> AppResult<()> {
    let target = format!("user {member}");
    let access = guard_members(
        svc,
        actor,
        workspace,
        AuditAction::MemberRoleChanged,
        &target,
    )
    .await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    lock_members(&mut tx, svc, workspace).await?;
    let (old, email) = member_role(&mut tx, workspace, member)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Err(e) = only_owners_touch_owners(&access, &[old, role]) {
        drop(tx);
        return Err(access::denied(
            svc,
            actor,
            workspace,
            None,
            AuditAction::MemberRoleChanged,
            email,
            e,
        )
        .await);
    }
    if old == role {
        return Ok(());
    }
    if old == Role::Owner && owner_count(&mut tx, workspace).await? <= 1 {
        return Err(AppError::conflict(
            "A workspace needs at least one owner. Make someone else an owner first.",
        ));
    }
    sqlx::query("UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace.0)
        .bind(member.0)
        .bind(role.as_str())
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        workspace,
        None,
        AuditAction::MemberRoleChanged,
        email,
        Some(format!("{old} → {role}")),
    ))
    .await?;
    Ok(())
}

pub async fn remove_member(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    member: UserId,
) -> AppResult<()> {
    let target = format!("user {member}");
    let access = guard_members(svc, actor, workspace, AuditAction::MemberRemoved, &target).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    lock_members(&mut tx, svc, workspace).await?;
    let (old, email) = member_role(&mut tx, workspace, member)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Err(e) = only_owners_touch_owners(&access, &[old]) {
        drop(tx);
        return Err(access::denied(
            svc,
            actor,
            workspace,
            None,
            AuditAction::MemberRemoved,
            email,
            e,
        )
        .await);
    }
    if old == Role::Owner && owner_count(&mut tx, workspace).await? <= 1 {
        return Err(AppError::conflict(
            "This is the workspace's last owner. Make someone else an owner before removing them.",
        ));
    }
    sqlx::query("DELETE FROM tenant_assignments WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace.0)
        .bind(member.0)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace.0)
        .bind(member.0)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        workspace,
        None,
        AuditAction::MemberRemoved,
        email,
        Some(format!("was {old}")),
    ))
    .await?;
    Ok(())
}

/// Requires (or stops requiring) two-step sign-in of every member: owners
/// only, like granting ownership. Members without it are sent to set it up
/// before anything else (`Actor::mfa_owed`).
pub async fn set_require_mfa(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    required: bool,
) -> AppResult<()> {
    let target = "two-step sign-in".to_string();
    let action = AuditAction::MfaRequirementChanged;
    guard_owner(svc, actor, workspace, action, &target).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let changed =
        sqlx::query("UPDATE workspaces SET require_mfa = $2 WHERE id = $1 AND require_mfa <> $2")
            .bind(workspace.0)
            .bind(i64::from(required))
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if changed == 0 {
        return Ok(());
    }
    tx.commit(Entry::by_member(
        actor,
        workspace,
        None,
        action,
        target,
        Some(if required { "required" } else { "optional" }.to_string()),
    ))
    .await?;
    Ok(())
}

/// Turns two-step codes on again for a member whose wrong codes reached
/// the cap (they lost their recovery codes too): owners only, audited.
/// Nothing else of their two-step sign-in changes.
pub async fn allow_codes_again(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    member: UserId,
) -> AppResult<()> {
    let target = format!("user {member}");
    let action = AuditAction::CodesAllowedAgain;
    guard_owner(svc, actor, workspace, action, &target).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let (_, email) = member_role(&mut tx, workspace, member)
        .await?
        .ok_or(AppError::NotFound)?;
    let changed =
        sqlx::query("UPDATE users SET code_failures = 0 WHERE id = $1 AND code_failures > 0")
            .bind(member.0)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(AppError::conflict(
            "Their two-step codes are not stopped: nothing to allow.",
        ));
    }
    tx.commit(Entry::by_member(
        actor, workspace, None, action, email, None,
    ))
    .await?;
    Ok(())
}

/// Requires (or stops requiring) single sign-on of every member: owners
/// only, from a session opened with single sign-on (so they cannot lock
/// themselves out). Members' password sessions end; their passwords are
/// refused while it holds.
pub async fn set_require_sso(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    required: bool,
) -> AppResult<()> {
    let target = "single sign-on".to_string();
    let action = AuditAction::SsoRequirementChanged;
    guard_owner(svc, actor, workspace, action, &target).await?;
    let Some(config) = svc.port::<super::sso::SsoConfig>() else {
        return Err(AppError::NotFound);
    };
    if required {
        let (via_sso,): (i64,) = sqlx::query_as("SELECT via_sso FROM sessions WHERE id_hash = $1")
            .bind(&actor.session_id_hash)
            .fetch_one(&mut *svc.store.read().await?)
            .await?;
        if via_sso == 0 {
            return Err(AppError::conflict(format!(
                "Sign in with {} first (link it on Your account if needed): requiring it from a password session would sign you out for good.",
                config.name
            )));
        }
    }
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let changed =
        sqlx::query("UPDATE workspaces SET sso_only = $2 WHERE id = $1 AND sso_only <> $2")
            .bind(workspace.0)
            .bind(i64::from(required))
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if changed == 0 {
        return Ok(());
    }
    tx.commit(Entry::by_member(
        actor,
        workspace,
        None,
        action,
        target,
        Some(if required { "required" } else { "optional" }.to_string()),
    ))
    .await?;
    Ok(())
}

/// The members page of the current workspace.
pub async fn members_page(svc: &Services, actor: &Actor) -> AppResult<Option<MembersPage>> {
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::WorkspaceView).await?
    else {
        return Ok(None);
    };
    let ws = access.id();
    let rows: Vec<(i64, String, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT u.id, u.email, m.role, m.created_at,
                (SELECT COUNT(*) FROM user_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL),
                (SELECT COUNT(*) FROM user_identities i WHERE i.user_id = u.id),
                u.code_failures
         FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 ORDER BY u.email",
    )
    .bind(ws.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let assignments: Vec<(i64, i64)> =
        sqlx::query_as("SELECT user_id, tenant_id FROM tenant_assignments WHERE workspace_id = $1 ORDER BY tenant_id")
            .bind(ws.0)
            .fetch_all(&mut *svc.store.read().await?)
            .await?;
    let members = rows
        .into_iter()
        .map(|(id, email, role, joined_at, mfa, sso, code_failures)| {
            Ok(MemberView {
                codes_stopped: mfa > 0 && code_failures >= super::mfa::CODE_FAILURE_CAP,
                mfa: mfa > 0,
                sso: sso > 0,
                user_id: UserId(id),
                email,
                role: role.parse().map_err(|_| AppError::Internal)?,
                joined_at,
                assigned_tenants: assignments
                    .iter()
                    .filter(|(u, _)| *u == id)
                    .map(|(_, t)| TenantId(*t))
                    .collect(),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let tenants = crate::tenants::list_visible(svc, actor, &access).await?;
    let invitations = super::invitations::pending(svc, &access).await?;
    let (require_mfa, sso_only): (i64, i64) =
        sqlx::query_as("SELECT require_mfa, sso_only FROM workspaces WHERE id = $1")
            .bind(ws.0)
            .fetch_one(&mut *svc.store.read().await?)
            .await?;
    Ok(Some(MembersPage {
        require_mfa: require_mfa != 0,
        require_sso: svc.port::<super::sso::SsoConfig>().map(|_| sso_only != 0),
        sso_name: svc.port::<super::sso::SsoConfig>().map(|c| c.name.clone()),
        viewer_is_owner: access.role() == Role::Owner,
        invitations,
        can_manage: access.role().can(Capability::MembersManage),
        workspace: access.workspace,
        members,
        tenants,
        viewer: actor.user_id,
    }))
}
