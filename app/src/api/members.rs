//! Members of a workspace: requirements, invitations, roles.

#[cfg(feature = "ssr")]
use crate::error::ApiError;
use crate::error::ApiResult;
use domain::identity::views::MembersPage;
use domain::ids::{TenantId, UserId, WorkspaceId};
use domain::rbac::Role;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, services, signed_in};

/// Owners require (or stop requiring) single sign-on of every member.
#[server(prefix = "/api", endpoint = "members/require_sso")]
pub async fn set_require_sso(workspace: WorkspaceId, required: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let required = match required.as_str() {
        "on" | "true" => true,
        "off" | "false" => false,
        _ => {
            return Err(
                domain::AppError::invalid("required", "Choose required or optional.").into(),
            );
        }
    };
    domain::workspaces::set_require_sso(&svc, &actor, workspace, required).await?;
    redirect(if required {
        "/admin/members?notice=sso_required"
    } else {
        "/admin/members?notice=sso_optional"
    });
    Ok(())
}

/// Owners require (or stop requiring) two-step sign-in of every member.
#[server(prefix = "/api", endpoint = "members/require_two_step")]
pub async fn set_require_two_step(workspace: WorkspaceId, required: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let required = match required.as_str() {
        "on" | "true" => true,
        "off" | "false" => false,
        _ => {
            return Err(
                domain::AppError::invalid("required", "Choose required or optional.").into(),
            );
        }
    };
    domain::workspaces::set_require_mfa(&svc, &actor, workspace, required).await?;
    redirect(if required {
        "/admin/members?notice=two_step_required"
    } else {
        "/admin/members?notice=two_step_optional"
    });
    Ok(())
}

#[server(prefix = "/api", endpoint = "members")]
pub async fn load_members() -> ApiResult<Option<MembersPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::workspaces::members_page(&svc, &actor).await?)
}

/// Invites someone by email. The answer is the same whether or not an
/// account uses the address; they join when they accept the link.
#[server(prefix = "/api", endpoint = "members/invite")]
pub async fn invite_member(
    workspace: WorkspaceId,
    email: String,
    role: Role,
    tenants: Option<Vec<TenantId>>,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let tenants = tenants.unwrap_or_default();
    domain::invitations::invite(&svc, &actor, workspace, &email, role, &tenants).await?;
    redirect(if svc.port::<domain::mail::MailConfig>().is_some() {
        "/admin/members?notice=invitation_mailed#invitations"
    } else {
        "/admin/members?notice=invitation_created#invitations"
    });
    Ok(())
}

#[server(prefix = "/api", endpoint = "invitations/resend")]
pub async fn resend_invitation(invitation: domain::ids::InvitationId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::invitations::resend(&svc, &actor, invitation).await?;
    redirect(if svc.port::<domain::mail::MailConfig>().is_some() {
        "/admin/members?notice=invitation_remailed#invitations"
    } else {
        "/admin/members?notice=invitation_renewed#invitations"
    });
    Ok(())
}

#[server(prefix = "/api", endpoint = "invitations/revoke")]
pub async fn revoke_invitation(invitation: domain::ids::InvitationId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::invitations::revoke(&svc, &actor, invitation).await?;
    redirect("/admin/members?notice=invitation_revoked#invitations");
    Ok(())
}

/// The invitation page's loader: anyone holding the link (signed in or not).
#[server(prefix = "/api", endpoint = "invitations/view")]
pub async fn load_invitation(
    token: String,
) -> ApiResult<domain::identity::views::InvitationLanding> {
    let svc = services()?;
    let actor = crate::ctx::actor().ok();
    Ok(domain::invitations::landing(&svc, actor.as_ref(), &token).await?)
}

/// A signed-in person accepts the invitation addressed to them.
#[server(prefix = "/api", endpoint = "invitations/accept")]
pub async fn accept_invitation(token: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::invitations::accept(&svc, &actor, &token).await?;
    redirect("/admin?notice=invitation_accepted");
    Ok(())
}

/// Someone without an account accepts by choosing a password: the account
/// is created for the invited address and they are signed in.
#[server(prefix = "/api", endpoint = "invitations/join")]
pub async fn join_by_invitation(token: String, password: String) -> ApiResult<()> {
    use crate::ctx::CookieSettings;
    let svc = services()?;
    let cookies = use_context::<CookieSettings>().ok_or(ApiError(domain::AppError::Internal))?;
    let (address, agent) = crate::ctx::client_info();
    let client = domain::sessions::Client {
        address: Some(&address),
        user_agent: agent.as_deref(),
    };
    let signed_in =
        domain::invitations::join_with_new_account(&svc, &token, &password, client).await?;
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(value) =
            http::HeaderValue::from_str(&cookies.session_cookie(signed_in.token.expose()))
    {
        res.insert_header(http::header::SET_COOKIE, value);
    }
    redirect("/admin?notice=invitation_accepted");
    Ok(())
}

#[server(prefix = "/api", endpoint = "members/role")]
pub async fn change_member_role(
    workspace: WorkspaceId,
    member: UserId,
    role: Role,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::workspaces::change_role(&svc, &actor, workspace, member, role).await?;
    redirect("/admin/members?notice=role_changed");
    Ok(())
}

/// Turns a member's two-step codes on again after too many wrong ones (owners).
#[server(prefix = "/api", endpoint = "members/allow_codes")]
pub async fn allow_member_codes(workspace: WorkspaceId, member: UserId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::workspaces::allow_codes_again(&svc, &actor, workspace, member).await?;
    redirect("/admin/members?notice=codes_allowed");
    Ok(())
}

#[server(prefix = "/api", endpoint = "members/remove")]
pub async fn remove_member(workspace: WorkspaceId, member: UserId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::workspaces::remove_member(&svc, &actor, workspace, member).await?;
    redirect("/admin/members?notice=member_removed");
    Ok(())
}
