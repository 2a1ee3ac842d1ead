//! Request middleware, outermost first: security headers, cross-site refusal,
//! session resolution (with the sign-in redirect for the planes), and the one
//! place where server-function errors get their HTTP status.

use crate::startup::AppState;
use app::ctx::{ClientAddress, CurrentActor, read_cookie};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use domain::AppError;
use domain::sessions::{self, SessionToken};
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use std::net::SocketAddr;

/// The CSP for responses that carry no inline script (everything but pages,
/// which add their per-request nonce).
pub const BASE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/pkg/") || req.uri().path() == "/favicon.ico";
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(BASE_CSP),
        );
    }
    if state.cookies.secure {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    // Pages and API answers carry account data: never store them. Static
    // files are revalidated (their names carry no hash).
    let cache = if is_static { "no-cache" } else { "no-store" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses state-changing requests that a browser marks as cross-site, or
/// that carry no proof of origin at all.
pub async fn reject_cross_site(req: Request, next: Next) -> Response {
    if is_safe_method(req.method()) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let same_origin = match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin",
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
            match (origin, host) {
                (Some(origin), Some(host)) => origin
                    .split_once("://")
                    .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
                _ => false,
            }
        }
    };
    if same_origin {
        next.run(req).await
    } else {
        tracing::info!(path = %req.uri().path(), "refused a cross-site state-changing request");
        error_response(StatusCode::FORBIDDEN, &AppError::Forbidden)
    }
}

fn error_response(status: StatusCode, error: &AppError) -> Response {
    let body = serde_json::to_string(error).unwrap_or_else(|_| "{}".into());
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn needs_sign_in(path: &str) -> bool {
    path == "/admin"
        || path.starts_with("/admin/")
        || path == "/system"
        || path.starts_with("/system/")
}

fn skips_session(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.ico" || path == "/healthz" || path == "/readyz"
}

/// Resolves the session cookie to an actor for the rest of the request and
/// sends anonymous visitors of the planes to sign in.
pub async fn resolve_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if skips_session(&path) {
        return next.run(req).await;
    }
    let token = read_cookie(req.headers(), state.cookies.name())
        .and_then(|raw| SessionToken::from_cookie(&raw));
    let actor = match token {
        Some(t) => match sessions::resolve(&state.services, &t).await {
            Ok(a) => a,
            Err(e) => {
                return error_response(
                    StatusCode::from_u16(e.http_status())
                        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                    &e,
                );
            }
        },
        None => None,
    };
    let address = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    if actor.is_none() && needs_sign_in(&path) && is_safe_method(req.method()) {
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/admin");
        return Redirect::to(&format!("/sign-in?next={}", encode_query_value(target)))
            .into_response();
    }
    if actor.is_some() && path == "/sign-in" && req.method() == Method::GET {
        return Redirect::to("/admin").into_response();
    }
    req.extensions_mut().insert(CurrentActor(actor));
    req.extensions_mut().insert(ClientAddress(address));
    next.run(req).await
}

fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Server functions answer errors as 500 + a `serverfnerror` header; give them
/// the status the typed error maps to (400/401/403/404/409/429/503).
pub async fn server_fn_error_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &AppError::Internal),
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes)
        && let Ok(status) = StatusCode::from_u16(error.http_status())
    {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}
