//! Signing in and out: password, the two-step code, first-run setup.

#[cfg(feature = "ssr")]
use crate::error::ApiError;
use crate::error::ApiResult;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, services, signed_in};

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
pub async fn load_sign_in_options() -> ApiResult<domain::identity::views::SignInOptions> {
    let svc = services()?;
    Ok(domain::setup::sign_in_options(&svc).await?)
}

/// The first-run setup page (`None` once an account exists: a 404).
#[server(prefix = "/api", endpoint = "setup/page")]
pub async fn load_setup() -> ApiResult<Option<domain::identity::views::SetupPage>> {
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
pub async fn load_sign_in_code() -> ApiResult<Option<domain::identity::views::SignInCodePage>> {
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
