//! Single sign-on's two routes (not pages: one redirects to the identity
//! provider, the other takes its redirect back). The domain checks
//! everything; these set and read the cookies.

use crate::state::AppState;
use app::ctx::{ClientAddress, CurrentActor, SiteOrigin};
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::AppError;
use domain::sso::{BINDING_COOKIE, SsoOutcome, SsoRefusal};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
    /// The token of the invitation being accepted with single sign-on.
    invite: Option<String>,
    /// Link the identity to the signed-in account (Your account).
    link: Option<String>,
}

fn binding_cookie(value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}={value}; Path=/sign-in/sso; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

fn refused(r: SsoRefusal) -> Response {
    Redirect::to(&format!("/sign-in?notice={}", r.key())).into_response()
}

/// `GET /sign-in/sso`: to the identity provider.
pub async fn start(
    State(state): State<AppState>,
    Extension(origin): Extension<SiteOrigin>,
    Extension(actor): Extension<CurrentActor>,
    Query(q): Query<StartQuery>,
) -> Response {
    let next = q.next.unwrap_or_else(|| "/admin".into());
    let link_to = match (q.link.is_some(), actor.0) {
        (false, _) => None,
        (true, Some(a)) => Some(a.user_id),
        (true, None) => return Redirect::to("/sign-in?next=/admin/account").into_response(),
    };
    match domain::sso::start(
        &state.services,
        &origin.0,
        &next,
        q.invite.as_deref(),
        link_to,
    )
    .await
    {
        Ok(Ok(started)) => {
            let mut res = Redirect::to(&started.authorize_url).into_response();
            let max_age = domain::sso::LOGIN_TTL_MS / 1000;
            if let Some(v) = binding_cookie(&started.binding, max_age, state.cookies.secure) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Ok(Err(r)) => refused(r),
        Err(e) => crate::error_page::for_error(&e),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// The provider's refusal (`access_denied`, …): never shown as is.
    error: Option<String>,
}

/// `GET /sign-in/sso/callback`: the provider's answer.
pub async fn callback(
    State(state): State<AppState>,
    Extension(origin): Extension<SiteOrigin>,
    Extension(address): Extension<ClientAddress>,
    Extension(actor): Extension<CurrentActor>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    if state.services.port::<domain::sso::SsoConfig>().is_none() {
        return crate::error_page::for_error(&AppError::NotFound);
    }
    let (Some(code), Some(login)) = (q.code.as_deref(), q.state.as_deref()) else {
        let reason = if q.error.is_some() {
            SsoRefusal::Cancelled
        } else {
            SsoRefusal::Expired
        };
        return refused(reason);
    };
    let binding = app::ctx::read_cookie(&headers, BINDING_COOKIE);
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let client = domain::sessions::Client {
        address: Some(&address.0),
        user_agent: agent,
    };
    let outcome = domain::sso::finish(
        &state.services,
        &origin.0,
        code,
        login,
        binding.as_deref(),
        actor.0.as_ref(),
        client,
    )
    .await;
    let (signed_in, to) = match outcome {
        Ok(SsoOutcome::SignedIn(s, next)) => (s, next),
        Ok(SsoOutcome::Joined(s)) => (s, "/admin?notice=invitation_accepted".to_string()),
        // Someone signed in (linking): the refusal belongs on their account page.
        Ok(SsoOutcome::Refused(r)) if actor.0.is_some() => {
            return Redirect::to(&format!("/admin/account?notice={}#sso", r.key())).into_response();
        }
        Ok(SsoOutcome::Refused(r)) => return refused(r),
        Ok(SsoOutcome::Linked) => {
            let mut res = Redirect::to("/admin/account?notice=sso_linked#sso").into_response();
            if let Some(v) = binding_cookie("", 0, state.cookies.secure) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            return res;
        }
        Err(AppError::NotFound) => return crate::error_page::for_error(&AppError::NotFound),
        Err(e) => return crate::error_page::for_error(&e),
    };
    let mut res = Redirect::to(&to).into_response();
    if let Ok(v) = HeaderValue::from_str(&state.cookies.session_cookie(signed_in.token.expose())) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    // The login is over: the binding cookie goes.
    if let Some(v) = binding_cookie("", 0, state.cookies.secure) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}
