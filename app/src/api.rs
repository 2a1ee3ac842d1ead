//! Server functions. Each is thin: resolve the actor, make one domain call,
//! map the typed error. Mutations are POST (the macro default); loaders are
//! POST too, so no state is readable cross-site.

#[cfg(feature = "ssr")]
use crate::error::ApiError;
use crate::error::ApiResult;
use domain::ids::{TagId, TenantId, UserId, WorkspaceId};
use domain::rbac::Role;
#[cfg(feature = "ssr")]
use domain::views::AuditFilter;
use domain::views::{
    AuditAction, AuditOutcome, AuditPage, MembersPage, OverviewPage, ShellView, SystemWorkspaceRow,
    TenantPage, TenantStatus, TenantsPage,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, services, signed_in};

// ----- session ---------------------------------------------------------------

#[server(prefix = "/api", endpoint = "session/sign_in")]
pub async fn sign_in(email: String, password: String, next: Option<String>) -> ApiResult<()> {
    use crate::ctx::CookieSettings;
    let svc = services()?;
    let cookies = use_context::<CookieSettings>().ok_or(ApiError(domain::AppError::Internal))?;
    let (address, agent) = crate::ctx::client_info();
    let previous = presented_token(&cookies);
    let device = presented_device(&cookies);
    let signed_in = domain::accounts::sign_in(
        &svc,
        &email,
        &password,
        &address,
        agent.as_deref(),
        previous.as_ref(),
        device.as_deref(),
    )
    .await?;
    set_session_cookie(&cookies, &signed_in.token);
    set_device_cookie(&cookies, signed_in.device_cookie.as_deref());
    let next = domain::validate::safe_next(next.as_deref());
    if signed_in.needs_code {
        redirect(&format!(
            "/sign-in/code?next={}",
            domain::validate::encode_query_value(&next)
        ));
    } else {
        redirect(&next);
    }
    Ok(())
}

#[cfg(feature = "ssr")]
fn set_session_cookie(
    cookies: &crate::ctx::CookieSettings,
    token: &domain::sessions::SessionToken,
) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(value) = http::HeaderValue::from_str(&cookies.session_cookie(token.expose()))
    {
        res.insert_header(http::header::SET_COOKIE, value);
    }
}

/// Remembers, in this browser, the account it just signed in to.
#[cfg(feature = "ssr")]
fn set_device_cookie(cookies: &crate::ctx::CookieSettings, value: Option<&str>) {
    if let Some(value) = value
        && let Some(res) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(value) = http::HeaderValue::from_str(&cookies.device_cookie(value))
    {
        res.append_header(http::header::SET_COOKIE, value);
    }
}

/// The device cookie this request carries, if any.
#[cfg(feature = "ssr")]
fn presented_device(cookies: &crate::ctx::CookieSettings) -> Option<String> {
    use_context::<http::request::Parts>()
        .and_then(|p| crate::ctx::read_cookie(&p.headers, cookies.device_name()))
}

/// The session cookie this request carries (a full or a half sign-in).
#[cfg(feature = "ssr")]
fn presented_token(cookies: &crate::ctx::CookieSettings) -> Option<domain::sessions::SessionToken> {
    use_context::<http::request::Parts>()
        .and_then(|p| crate::ctx::read_cookie(&p.headers, cookies.name()))
        .and_then(|raw| domain::sessions::SessionToken::from_cookie(&raw))
}

/// What the sign-in page offers besides the password (setup, single sign-on).
#[server(prefix = "/api", endpoint = "session/options")]
pub async fn load_sign_in_options() -> ApiResult<domain::views::SignInOptions> {
    let svc = services()?;
    Ok(domain::setup::sign_in_options(&svc).await?)
}

/// The first-run setup page (`None` once an account exists: a 404).
#[server(prefix = "/api", endpoint = "setup/page")]
pub async fn load_setup() -> ApiResult<Option<domain::views::SetupPage>> {
    let svc = services()?;
    Ok(domain::setup::page(&svc).await?)
}

/// Creates the first owner and their workspace, signed in (404 once any
/// account exists).
#[server(prefix = "/api", endpoint = "setup")]
pub async fn complete_setup(
    code: String,
    email: String,
    password: String,
    confirm_password: String,
    workspace: String,
) -> ApiResult<()> {
    use crate::ctx::CookieSettings;
    let svc = services()?;
    let cookies = use_context::<CookieSettings>().ok_or(ApiError(domain::AppError::Internal))?;
    let (address, agent) = crate::ctx::client_info();
    let signed_in = domain::setup::complete(
        &svc,
        domain::setup::FirstOwner {
            code: &code,
            email: &email,
            password: &password,
            confirm_password: &confirm_password,
            workspace: &workspace,
        },
        domain::sessions::Client {
            address: Some(&address),
            user_agent: agent.as_deref(),
        },
    )
    .await?;
    set_session_cookie(&cookies, &signed_in.token);
    redirect("/admin?notice=setup_done");
    Ok(())
}

/// The second sign-in step's page (`None`: no sign-in waits for a code).
#[server(prefix = "/api", endpoint = "session/code_page")]
pub async fn load_sign_in_code() -> ApiResult<Option<domain::views::SignInCodePage>> {
    use crate::ctx::CookieSettings;
    let svc = services()?;
    let cookies = use_context::<CookieSettings>().ok_or(ApiError(domain::AppError::Internal))?;
    Ok(domain::accounts::sign_in_code_page(&svc, presented_token(&cookies).as_ref()).await?)
}

#[server(prefix = "/api", endpoint = "session/code")]
pub async fn verify_sign_in_code(code: String, next: Option<String>) -> ApiResult<()> {
    use crate::ctx::CookieSettings;
    let svc = services()?;
    let cookies = use_context::<CookieSettings>().ok_or(ApiError(domain::AppError::Internal))?;
    let Some(waiting) = presented_token(&cookies) else {
        return Err(domain::AppError::invalid(
            "code",
            "This sign-in has timed out or had too many wrong codes. Sign in again.",
        )
        .into());
    };
    let (address, agent) = crate::ctx::client_info();
    let device = presented_device(&cookies);
    let signed_in = domain::accounts::verify_sign_in_code(
        &svc,
        &waiting,
        &code,
        &address,
        agent.as_deref(),
        device.as_deref(),
    )
    .await?;
    set_session_cookie(&cookies, &signed_in.token);
    set_device_cookie(&cookies, signed_in.device_cookie.as_deref());
    redirect(&domain::validate::safe_next(next.as_deref()));
    Ok(())
}

/// The two-step enrolment page (QR code, or the recovery codes once).
#[server(prefix = "/api", endpoint = "account/two_step")]
pub async fn load_two_step() -> ApiResult<domain::views::MfaEnrolPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::mfa::enrolment_page(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "account/two_step/begin")]
pub async fn begin_two_step() -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::mfa::begin_enrolment(&svc, &actor).await?;
    redirect("/admin/account/two-step");
    Ok(())
}

#[server(prefix = "/api", endpoint = "account/two_step/confirm")]
pub async fn confirm_two_step(code: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::mfa::confirm_enrolment(&svc, &actor, &code).await?;
    redirect("/admin/account/two-step?notice=two_step_on");
    Ok(())
}

#[server(prefix = "/api", endpoint = "account/two_step/codes")]
pub async fn renew_recovery_codes(current_password: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::mfa::renew_recovery_codes(&svc, &actor, &current_password).await?;
    redirect("/admin/account/two-step?notice=codes_renewed");
    Ok(())
}

#[server(prefix = "/api", endpoint = "account/two_step/off")]
pub async fn turn_off_two_step(current_password: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::mfa::disable(&svc, &actor, &current_password).await?;
    redirect("/admin/account?notice=two_step_off#two-step");
    Ok(())
}

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

/// The signed-in person's account page.
#[server(prefix = "/api", endpoint = "account")]
pub async fn load_account() -> ApiResult<domain::views::AccountPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::accounts::account_page(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "account/password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::accounts::change_password(
        &svc,
        &actor,
        &current_password,
        &new_password,
        &confirm_password,
    )
    .await?;
    redirect("/admin/account?notice=password_changed");
    Ok(())
}

#[server(prefix = "/api", endpoint = "account/time_zone")]
pub async fn set_time_zone(time_zone: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::time_zones::set(&svc, &actor, &time_zone).await?;
    redirect("/admin/account?notice=time_zone_saved#time-zone");
    Ok(())
}

/// Unlinks one of the person's single sign-on identities (the password first).
#[server(prefix = "/api", endpoint = "account/sso/unlink")]
pub async fn unlink_sso(identity: String, current_password: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::sso::unlink(&svc, &actor, &identity, &current_password).await?;
    redirect("/admin/account?notice=sso_unlinked#sso");
    Ok(())
}

#[server(prefix = "/api", endpoint = "account/end_session")]
pub async fn end_session(session: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::accounts::end_session(&svc, &actor, &session).await?;
    redirect("/admin/account?notice=session_ended#sessions");
    Ok(())
}

#[server(prefix = "/api", endpoint = "account/end_others")]
pub async fn end_other_sessions() -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::accounts::end_other_sessions(&svc, &actor).await?;
    redirect("/admin/account?notice=sessions_ended#sessions");
    Ok(())
}

#[server(prefix = "/api", endpoint = "session/sign_out")]
pub async fn sign_out() -> ApiResult<()> {
    use crate::ctx::CookieSettings;
    let (svc, actor) = signed_in()?;
    domain::accounts::sign_out(&svc, &actor).await?;
    if let (Some(res), Some(cookies)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        use_context::<CookieSettings>(),
    ) && let Ok(value) = http::HeaderValue::from_str(&cookies.clearing_cookie())
    {
        res.insert_header(http::header::SET_COOKIE, value);
    }
    redirect("/sign-in?notice=signed_out");
    Ok(())
}

// ----- loaders -----------------------------------------------------------------

#[server(prefix = "/api", endpoint = "shell")]
pub async fn load_shell() -> ApiResult<ShellView> {
    let (svc, actor) = signed_in()?;
    Ok(domain::workspaces::shell(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "overview")]
pub async fn load_overview() -> ApiResult<Option<OverviewPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::workspaces::overview(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "tenants")]
pub async fn load_tenants(tag: Option<TagId>) -> ApiResult<Option<TenantsPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::tenants::tenants_page(&svc, &actor, tag).await?)
}

#[server(prefix = "/api", endpoint = "tenant")]
pub async fn load_tenant(tenant: TenantId) -> ApiResult<TenantPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::tenants::tenant_page(&svc, &actor, tenant).await?)
}

#[server(prefix = "/api", endpoint = "members")]
pub async fn load_members() -> ApiResult<Option<MembersPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::workspaces::members_page(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "audit")]
pub async fn load_audit(
    action: Option<AuditAction>,
    outcome: Option<AuditOutcome>,
    tenant: Option<TenantId>,
    before: Option<domain::ids::AuditEntryId>,
) -> ApiResult<Option<AuditPage>> {
    let (svc, actor) = signed_in()?;
    let filter = AuditFilter {
        action,
        outcome,
        tenant,
        before,
    };
    Ok(domain::workspaces::audit_page(&svc, &actor, &filter).await?)
}

#[server(prefix = "/api", endpoint = "system/workspaces")]
pub async fn load_system_workspaces() -> ApiResult<Vec<SystemWorkspaceRow>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::workspaces::system_list(&svc, &actor).await?)
}

// ----- workspaces and members --------------------------------------------------

#[server(prefix = "/api", endpoint = "workspaces/create")]
pub async fn create_workspace(name: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::workspaces::create(&svc, &actor, &name).await?;
    redirect("/admin?notice=workspace_created");
    Ok(())
}

#[server(prefix = "/api", endpoint = "workspaces/switch")]
pub async fn switch_workspace(workspace: WorkspaceId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::workspaces::switch(&svc, &actor, workspace).await?;
    redirect("/admin");
    Ok(())
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
    redirect(if svc.mail.is_some() {
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
    redirect(if svc.mail.is_some() {
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
pub async fn load_invitation(token: String) -> ApiResult<domain::views::InvitationLanding> {
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

// ----- tenants -------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "tenants/create")]
pub async fn create_tenant(
    workspace: WorkspaceId,
    display_name: String,
    microsoft_tenant_id: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let id = domain::tenants::create(&svc, &actor, workspace, &display_name, &microsoft_tenant_id)
        .await?;
    redirect(&format!("/admin/t/{id}?notice=tenant_created"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "tenants/rename")]
pub async fn rename_tenant(tenant: TenantId, display_name: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::tenants::rename(&svc, &actor, tenant, &display_name).await?;
    redirect(&format!("/admin/t/{tenant}?notice=tenant_updated"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "tenants/status")]
pub async fn set_tenant_status(tenant: TenantId, status: TenantStatus) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::tenants::set_status(&svc, &actor, tenant, status).await?;
    redirect(&format!("/admin/t/{tenant}?notice=tenant_updated"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "tenants/assign")]
pub async fn assign_tenant(tenant: TenantId, member: UserId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::tenants::set_assignment(&svc, &actor, tenant, member, true).await?;
    redirect("/admin/members?notice=assignment_changed");
    Ok(())
}

#[server(prefix = "/api", endpoint = "tenants/unassign")]
pub async fn unassign_tenant(tenant: TenantId, member: UserId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::tenants::set_assignment(&svc, &actor, tenant, member, false).await?;
    redirect("/admin/members?notice=assignment_changed");
    Ok(())
}

// ----- operation runs and notifications ------------------------------------------

#[server(prefix = "/api", endpoint = "runs/get")]
pub async fn load_run(run: domain::ids::RunId) -> ApiResult<domain::views::RunPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::service::RunService::page(&svc, &actor, run).await?)
}

#[server(prefix = "/api", endpoint = "runs/cancel")]
pub async fn cancel_run(run: domain::ids::RunId) -> ApiResult<()> {
    use domain::runs::service::{Cancellation, RunService};
    let (svc, actor) = signed_in()?;
    let notice = match RunService::cancel(&svc, &actor, run).await? {
        Cancellation::Cancelled => "run_cancelled",
        Cancellation::Requested => "cancel_requested",
        Cancellation::AlreadyFinished => "already_finished",
    };
    redirect(&format!("/admin/operations/{run}?notice={notice}"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "notifications")]
pub async fn load_notifications() -> ApiResult<Option<domain::views::NotificationsPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::notifications::page(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "notifications/read")]
pub async fn mark_notification_read(notification: domain::ids::NotificationId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::notifications::mark_read(&svc, &actor, notification).await?;
    redirect("/admin/notifications");
    Ok(())
}

#[server(prefix = "/api", endpoint = "notifications/read_all")]
pub async fn mark_all_notifications_read() -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::notifications::mark_all_read(&svc, &actor).await?;
    redirect("/admin/notifications");
    Ok(())
}

/// The operations hub; `query` is the page's URL query string, parsed by the domain.
#[server(prefix = "/api", endpoint = "operations")]
pub async fn load_hub(query: String) -> ApiResult<Option<domain::views::HubPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::monitoring::hub(&svc, &actor, &query).await?)
}

#[server(prefix = "/api", endpoint = "runs/tenant_summary")]
pub async fn load_tenant_runs(tenant: TenantId) -> ApiResult<domain::views::RunSummary> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::monitoring::tenant_summary(&svc, &actor, tenant).await?)
}

#[server(prefix = "/api", endpoint = "runs/workspace_summary")]
pub async fn load_workspace_runs() -> ApiResult<Option<domain::views::RunSummary>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::monitoring::workspace_summary(&svc, &actor).await?)
}

/// The run-detail island's poll: one run's changing fields, by primary
/// key; with `overlay`, also the progress overlay's list (the page's one
/// poll feeds both).
#[server(prefix = "/api", endpoint = "runs/poll")]
pub async fn poll_run(
    run: domain::ids::RunId,
    overlay: Option<bool>,
) -> ApiResult<domain::views::RunPoll> {
    let (svc, actor) = signed_in()?;
    let pulse = domain::runs::monitoring::pulse(&svc, &actor, run).await?;
    let overlay = match overlay {
        Some(true) => Some(domain::schedules::bulk::overlay(&svc, &actor).await?),
        _ => None,
    };
    Ok(domain::views::RunPoll { pulse, overlay })
}

/// The progress overlay's poll: active runs of the current workspace.
#[server(prefix = "/api", endpoint = "runs/active")]
pub async fn poll_active_runs() -> ApiResult<domain::views::ActiveRuns> {
    let (svc, actor) = signed_in()?;
    Ok(domain::schedules::bulk::overlay(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "system/runs")]
pub async fn load_system_runs(
    list: domain::views::SystemRunList,
    query: String,
) -> ApiResult<domain::views::SystemRunsPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::monitoring::system_runs(&svc, &actor, list, &query).await?)
}

#[server(prefix = "/api", endpoint = "system/run")]
pub async fn load_system_run(run: domain::ids::RunId) -> ApiResult<domain::views::RunPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::runs::monitoring::system_run(&svc, &actor, run).await?)
}

/// System plane: cancel one run (platform operators; 404 for anyone else).
#[server(prefix = "/api", endpoint = "system/runs/cancel")]
pub async fn system_cancel_run(run: domain::ids::RunId) -> ApiResult<()> {
    use domain::runs::service::Cancellation;
    let (svc, actor) = signed_in()?;
    let notice = match domain::runs::triage::cancel(&svc, &actor, run).await? {
        Cancellation::Cancelled => "run_cancelled",
        Cancellation::Requested => "cancel_requested",
        Cancellation::AlreadyFinished => "already_finished",
    };
    redirect(&format!("/system/ops/runs/{run}?notice={notice}"));
    Ok(())
}

/// System plane: start the run's operation again through the gate; answers
/// with the presenter's toast (queued, already running, scope busy, blocked).
#[server(prefix = "/api", endpoint = "system/runs/run_again")]
pub async fn system_run_again(
    run: domain::ids::RunId,
) -> ApiResult<domain::runs::presenter::Toast> {
    let (svc, actor) = signed_in()?;
    let result = domain::runs::triage::run_again(&svc, &actor, run).await?;
    let mut toast = domain::runs::presenter::present_start(&result);
    // The system plane's own run pages (the admin ones need membership).
    toast.link = format!("/system/ops/runs/{}", result.run);
    for step in &mut toast.next_steps {
        if let Some(link) = &mut step.link
            && let Some(id) = link.href.strip_prefix("/admin/operations/")
        {
            link.href = format!("/system/ops/runs/{id}");
        }
    }
    redirect(&toast.link);
    Ok(toast)
}

/// System plane: cancel the active runs a list's filter matches, at most
/// the confirmed count.
#[server(prefix = "/api", endpoint = "system/runs/bulk_cancel")]
pub async fn system_bulk_cancel(
    list: domain::views::SystemRunList,
    query: String,
    confirmed: i64,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let report = domain::runs::triage::bulk_cancel(&svc, &actor, list, &query, confirmed).await?;
    let base = match list {
        domain::views::SystemRunList::Stuck => "/system/ops/stuck",
        _ => "/system/ops/runs",
    };
    redirect(&format!(
        "{base}?notice=bulk_cancelled&cancelled={}&requested={}&finished={}",
        report.cancelled, report.requested, report.already_finished
    ));
    Ok(())
}

// ----- support requests ------------------------------------------------------------

/// The support slide-over's first view (latest request of this context).
#[server(prefix = "/api", endpoint = "support/panel")]
pub async fn load_support(
    tenant: Option<TenantId>,
    run: Option<domain::ids::RunId>,
) -> ApiResult<domain::support::SupportPanel> {
    let (svc, actor) = signed_in()?;
    let ctx = domain::support::SupportContext::from_ids(tenant, run)?;
    Ok(domain::support::panel(&svc, &actor, ctx).await?)
}

#[server(prefix = "/api", endpoint = "support/request")]
#[allow(clippy::too_many_arguments)]
pub async fn request_support(
    tenant: Option<TenantId>,
    run: Option<domain::ids::RunId>,
    subject: String,
    description: String,
    severity: domain::support::Severity,
    contact: Option<String>,
    existing_ticket: Option<String>,
) -> ApiResult<domain::support::SupportRequestView> {
    let (svc, actor) = signed_in()?;
    let ctx = domain::support::SupportContext::from_ids(tenant, run)?;
    let form = domain::support::NewSupportRequest {
        subject,
        description,
        severity,
        contact,
        existing_ticket,
    };
    Ok(domain::support::request(&svc, &actor, ctx, form).await?)
}

/// "Retry the handoff" for a request the desk did not take.
#[server(prefix = "/api", endpoint = "support/retry")]
pub async fn retry_support(reference: String) -> ApiResult<domain::support::SupportRequestView> {
    let (svc, actor) = signed_in()?;
    Ok(domain::support::retry(&svc, &actor, &reference).await?)
}

/// Links an existing desk ticket to a request the desk did not take.
#[server(prefix = "/api", endpoint = "support/link")]
pub async fn link_support_ticket(
    reference: String,
    existing_ticket: String,
) -> ApiResult<domain::support::SupportRequestView> {
    let (svc, actor) = signed_in()?;
    Ok(domain::support::link_existing(&svc, &actor, &reference, &existing_ticket).await?)
}

// ----- review packs -----------------------------------------------------------------

/// The review pack card (first render and its poll while a pack is generating).
#[server(prefix = "/api", endpoint = "review-packs/card")]
pub async fn load_review_pack_card(
    tenant: TenantId,
) -> ApiResult<domain::review_packs::ReviewPackCard> {
    let (svc, actor) = signed_in()?;
    Ok(domain::review_packs::card(&svc, &actor, tenant).await?)
}

/// Generate a pack through the start gate. One checkbox per section (a form
/// posts only the checked ones). Without JavaScript the browser lands on the run.
#[server(prefix = "/api", endpoint = "review-packs/generate")]
pub async fn generate_review_pack(
    tenant: TenantId,
    section_verification: Option<String>,
    section_inventory: Option<String>,
    section_compliance: Option<String>,
    section_directory: Option<String>,
    section_operations: Option<String>,
    section_changes: Option<String>,
) -> ApiResult<domain::review_packs::GenerateAnswer> {
    use domain::review_packs::Section;
    let (svc, actor) = signed_in()?;
    let sections: Vec<Section> = [
        (Section::Verification, section_verification),
        (Section::Inventory, section_inventory),
        (Section::Compliance, section_compliance),
        (Section::Directory, section_directory),
        (Section::Operations, section_operations),
        (Section::Changes, section_changes),
    ]
    .into_iter()
    .filter_map(|(s, v)| v.map(|_| s))
    .collect();
    let answer = domain::review_packs::generate(&svc, &actor, tenant, sections).await?;
    redirect(&answer.toast.link);
    Ok(answer)
}

// ----- restore -----------------------------------------------------------------------

/// The restore page; `query` is the page's URL query (`snapshot`, `item`…).
#[server(prefix = "/api", endpoint = "restore/page")]
pub async fn load_restore(
    tenant: TenantId,
    query: String,
) -> ApiResult<domain::restore::RestorePage> {
    let (svc, actor) = signed_in()?;
    let query = query.trim_start_matches('?');
    Ok(domain::restore::page(&svc, &actor, tenant, query).await?)
}

/// A confirmed restore through the start gate: the presenter's toast.
/// Without JavaScript the browser lands on the run.
#[server(prefix = "/api", endpoint = "restore/execute")]
pub async fn execute_restore(
    tenant: TenantId,
    snapshot: domain::ids::SnapshotId,
    items: String,
    confirm_name: String,
) -> ApiResult<domain::runs::presenter::Toast> {
    let (svc, actor) = signed_in()?;
    let result =
        domain::restore::execute(&svc, &actor, tenant, snapshot, &items, &confirm_name).await?;
    let toast = domain::runs::presenter::present_start(&result);
    redirect(&toast.link);
    Ok(toast)
}

// ----- onboarding ---------------------------------------------------------------------

#[server(prefix = "/api", endpoint = "onboarding/list")]
pub async fn load_onboarding() -> ApiResult<Option<domain::onboarding::OnboardingList>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::onboarding::list(&svc, &actor).await?)
}

/// Step 1: the tenant; the browser goes on to the draft's wizard.
#[server(prefix = "/api", endpoint = "onboarding/start")]
pub async fn start_onboarding(
    workspace: WorkspaceId,
    display_name: String,
    microsoft_tenant_id: String,
) -> ApiResult<domain::ids::OnboardingDraftId> {
    let (svc, actor) = signed_in()?;
    let id =
        domain::onboarding::start(&svc, &actor, workspace, &display_name, &microsoft_tenant_id)
            .await?;
    redirect(&format!("/admin/onboarding/{id}"));
    Ok(id)
}

/// The wizard's state (first render and its refresh while a run moves).
#[server(prefix = "/api", endpoint = "onboarding/get")]
pub async fn load_onboarding_draft(
    draft: domain::ids::OnboardingDraftId,
) -> ApiResult<domain::onboarding::DraftView> {
    let (svc, actor) = signed_in()?;
    Ok(domain::onboarding::draft(&svc, &actor, draft).await?)
}

#[server(prefix = "/api", endpoint = "onboarding/connection")]
pub async fn onboarding_connection(
    draft: domain::ids::OnboardingDraftId,
    display_name: String,
    entra_tenant_id: String,
    client_id: String,
    client_secret: String,
    expires_on: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::onboarding::add_connection(
        &svc,
        &actor,
        draft,
        domain::provider::connections::NewConnection {
            display_name: &display_name,
            entra_tenant_id: &entra_tenant_id,
            client_id: &client_id,
            client_secret: &client_secret,
            expires_on: &expires_on,
            make_default: true,
        },
    )
    .await?;
    redirect(&format!("/admin/onboarding/{draft}"));
    Ok(())
}

/// Step 3 through the gate: the presenter's toast.
#[server(prefix = "/api", endpoint = "onboarding/verify")]
pub async fn onboarding_verify(
    draft: domain::ids::OnboardingDraftId,
) -> ApiResult<domain::runs::presenter::Toast> {
    let (svc, actor) = signed_in()?;
    let result = domain::onboarding::verify(&svc, &actor, draft).await?;
    redirect(&format!("/admin/onboarding/{draft}"));
    Ok(domain::runs::presenter::present_start(&result))
}

/// Steps 4–5: the chosen operations (one checkbox each); the toast of the
/// first start. The rest start one after another by themselves.
#[server(prefix = "/api", endpoint = "onboarding/bootstrap")]
pub async fn onboarding_bootstrap(
    draft: domain::ids::OnboardingDraftId,
    op_inventory_sync: Option<String>,
    op_compliance_snapshot: Option<String>,
    op_directory_groups_sync: Option<String>,
    op_role_definitions_sync: Option<String>,
) -> ApiResult<domain::runs::presenter::Toast> {
    use domain::runs::OperationType::*;
    let (svc, actor) = signed_in()?;
    let chosen: Vec<domain::runs::OperationType> = [
        (InventorySync, op_inventory_sync),
        (ComplianceSnapshot, op_compliance_snapshot),
        (DirectoryGroupsSync, op_directory_groups_sync),
        (RoleDefinitionsSync, op_role_definitions_sync),
    ]
    .into_iter()
    .filter_map(|(op, v)| v.map(|_| op))
    .collect();
    let result = domain::onboarding::bootstrap(&svc, &actor, draft, &chosen).await?;
    redirect(&format!("/admin/onboarding/{draft}"));
    Ok(domain::runs::presenter::present_start(&result))
}

#[server(prefix = "/api", endpoint = "onboarding/discard")]
pub async fn onboarding_discard(draft: domain::ids::OnboardingDraftId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::onboarding::discard(&svc, &actor, draft).await?;
    redirect("/admin/onboarding");
    Ok(())
}

// ----- fleet overview ------------------------------------------------------------------

/// The fleet overview of the current workspace; `query` is the page's (sort, dir, tag).
#[server(prefix = "/api", endpoint = "fleet")]
pub async fn load_fleet(query: String) -> ApiResult<Option<domain::fleet::FleetPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::fleet::page(&svc, &actor, &query).await?)
}
