//! Request context for server functions and pages (server only): the domain
//! services, the signed-in actor, and the web settings, provided by `server/`.

use crate::error::ApiError;
use domain::AppError;
use domain::access::Actor;
use domain::services::Services;
use leptos::prelude::*;

/// The actor the session middleware resolved for this request, if any.
#[derive(Debug, Clone)]
pub struct CurrentActor(pub Option<Actor>);

/// The session cookie's shape, decided by configuration.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub secure: bool,
    pub max_age_secs: i64,
}

impl CookieSettings {
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-tenantry_session"
        } else {
            "tenantry_session"
        }
    }

    pub fn session_cookie(&self, token: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            self.name(),
            self.max_age_secs
        )
    }

    /// The device cookie: which accounts this browser has signed in to
    /// (signed tokens; sign-in throttling trusts them). Sent with every
    /// request, read only by sign-in; a year long, renewed at each sign-in.
    pub fn device_name(&self) -> &'static str {
        if self.secure {
            "__Host-tenantry_device"
        } else {
            "tenantry_device"
        }
    }

    pub fn device_cookie(&self, value: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000{secure}",
            self.device_name()
        )
    }

    /// A plain form's failed answer, sealed, for two minutes (`FormFlash`).
    pub fn flash_name(&self) -> &'static str {
        if self.secure {
            "__Host-tenantry_form_error"
        } else {
            "tenantry_form_error"
        }
    }

    pub fn flash_cookie(&self, sealed: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={sealed}; Path=/; HttpOnly; SameSite=Lax; Max-Age=120{secure}",
            self.flash_name()
        )
    }

    pub fn flash_clearing(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
            self.flash_name()
        )
    }

    pub fn clearing_cookie(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
            self.name()
        )
    }
}

/// This site's origin for absolute links (public URL, or the request's host).
#[derive(Debug, Clone)]
pub struct SiteOrigin(pub String);

/// The client's address as the socket saw it (for sign-in throttling).
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

/// The request's client address and user agent (for the session list).
pub fn client_info() -> (String, Option<String>) {
    let address = use_context::<ClientAddress>()
        .map(|a| a.0)
        .unwrap_or_else(|| "unknown".into());
    let agent = use_context::<http::request::Parts>().and_then(|p| {
        p.headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    (address, agent)
}

pub fn services() -> Result<Services, ApiError> {
    use_context::<Services>().ok_or(ApiError(AppError::Internal))
}

/// The signed-in actor, or 401.
pub fn actor() -> Result<Actor, ApiError> {
    use_context::<CurrentActor>()
        .and_then(|c| c.0)
        .ok_or(ApiError(AppError::Unauthenticated))
}

pub fn signed_in() -> Result<(Services, Actor), ApiError> {
    Ok((services()?, actor()?))
}

/// Sets the HTTP status of the page being rendered.
pub fn set_status(code: u16) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(code)
    {
        res.set_status(status);
    }
}

/// Reads one cookie from request headers.
pub fn read_cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Sends the browser on after a server function. The header is built
/// fallibly: a target that is not a valid header value (it never should be)
/// becomes `/admin` instead of a panic that drops the connection.
pub fn redirect(path: &str) {
    if http::HeaderValue::from_str(path).is_ok() {
        leptos_axum::redirect(path);
    } else {
        tracing::warn!("refused to redirect to a target that is not a header value");
        leptos_axum::redirect("/admin");
    }
}
