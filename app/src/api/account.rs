//! Your account: two-step sign-in, password, time zone, sessions, identities.

use crate::error::ApiResult;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};

/// The two-step enrolment page (QR code, or the recovery codes once).
#[server(prefix = "/api", endpoint = "account/two_step")]
pub async fn load_two_step() -> ApiResult<domain::identity::views::MfaEnrolPage> {
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

/// The signed-in person's account page.
#[server(prefix = "/api", endpoint = "account")]
pub async fn load_account() -> ApiResult<domain::identity::views::AccountPage> {
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

/// The user menu's theme buttons: saves the choice and goes back to the page
/// they were on (`back`, else the Referer's path — same-origin pages send it —
/// if it is one of ours, else the overview). A plain form post: it works
/// before (and without) the page's script.
#[server(prefix = "/api", endpoint = "account/theme")]
pub async fn set_theme(theme: String, back: Option<String>) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::accounts::set_theme(&svc, &actor, &theme).await?;
    let back = back.or_else(|| {
        let parts = use_context::<http::request::Parts>()?;
        let referer = parts.headers.get(http::header::REFERER)?.to_str().ok()?;
        let uri: http::Uri = referer.parse().ok()?;
        uri.path_and_query().map(|p| p.as_str().to_string())
    });
    redirect(&domain::validate::safe_next(back.as_deref()));
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
