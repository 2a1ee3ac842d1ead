//! Request middleware, outermost first: security headers, panics caught as
//! 500s, one unit of work per request (the store's connection guard),
//! cross-site refusal, bounded form bodies (415/413), session resolution
//! (with the sign-in redirect for the planes), and the one place where
//! server-function errors get their HTTP status.

use crate::state::AppState;
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
    // files under a content key said so themselves (kept a year); the
    // others are revalidated (their names carry no hash).
    if !(is_static && h.contains_key(header::CACHE_CONTROL)) {
        let cache = if is_static { "no-cache" } else { "no-store" };
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    res
}

/// A panic anywhere below becomes a logged 500 with the generic words (an
/// HTML page for a browser, JSON otherwise) instead of a dropped connection.
pub async fn catch_panics(req: Request, next: Next) -> Response {
    use futures::FutureExt;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(res) => res,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%method, %path, panic = %what, "a request handler panicked");
            crate::error_page::for_request(&method, &path, &headers, &AppError::Internal)
        }
    }
}

/// The largest server-function request body (every one is a small form).
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Server functions take `application/x-www-form-urlencoded` forms of at most
/// [`MAX_FORM_BYTES`]: another content type is 415, a larger body 413 (also
/// when it is streamed without a length), before any work is done for it.
/// The body must arrive within `body_timeout` (408 otherwise). This layer
/// sits outside load shedding, so a client sending slowly holds a connection,
/// never one of the request slots.
pub async fn bounded_forms(
    State(body_timeout): State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::POST || !req.uri().path().starts_with(app::api::PREFIX) {
        return next.run(req).await;
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (parts, body) = req.into_parts();
    if !is_form {
        if declared.is_none_or(|n| n <= DRAIN_BYTES as u64) {
            drain(body, 0).await;
        }
        return status_json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the form as application/x-www-form-urlencoded.",
        );
    }
    if declared.is_some_and(|n| n > MAX_FORM_BYTES as u64) {
        if declared.is_some_and(|n| n <= DRAIN_BYTES as u64) {
            drain(body, 0).await;
        }
        return too_large();
    }
    let bytes = match tokio::time::timeout(body_timeout, read_form(body)).await {
        Err(_) => {
            return status_json(
                StatusCode::REQUEST_TIMEOUT,
                "The form arrived too slowly. Try again.",
            );
        }
        Ok(Ok(bytes)) => bytes,
        Ok(Err(Some(()))) => return too_large(),
        Ok(Err(None)) => {
            return status_json(
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            );
        }
    };
    if let Some(refusal) = oversized_field(&bytes) {
        return crate::error_page::json(&refusal);
    }
    if let Some(field) = field_with_forbidden_control(&bytes) {
        return crate::error_page::json(&AppError::Invalid {
            message: "Use text without control characters (only line breaks and tabs are kept)."
                .into(),
            field: Some(field),
        });
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The most fields a server function's form has, and the longest value any
/// field may carry (the longest text we keep, a support description of 5,000
/// characters, fits with room to spare); each domain type checks its own
/// tighter limit after this.
pub const MAX_FORM_FIELDS: usize = 200;
pub const MAX_FIELD_BYTES: usize = 32 * 1024;

/// A refusal naming the field when a form has too many fields or one too long.
fn oversized_field(encoded: &[u8]) -> Option<AppError> {
    let mut fields = 0;
    for (k, v) in form_urlencoded::parse(encoded) {
        fields += 1;
        if fields > MAX_FORM_FIELDS {
            return Some(AppError::Invalid {
                field: None,
                message: format!("The form has more than {MAX_FORM_FIELDS} fields."),
            });
        }
        if v.len() > MAX_FIELD_BYTES || k.len() > 256 {
            return Some(AppError::Invalid {
                field: Some(k.chars().filter(|c| !c.is_control()).take(64).collect()),
                message: "This is too long. Shorten it and try again.".into(),
            });
        }
    }
    None
}

/// The first form field (or query parameter) whose name or value holds a
/// control character no text field accepts: NUL and friends never reach a
/// server function or the database, on either backend.
fn field_with_forbidden_control(encoded: &[u8]) -> Option<String> {
    form_urlencoded::parse(encoded).find_map(|(k, v)| {
        (domain::validate::has_forbidden_control(&k) || domain::validate::has_forbidden_control(&v))
            .then(|| {
                k.chars()
                    .filter(|c| !c.is_control())
                    .take(64)
                    .collect::<String>()
            })
    })
}

/// Page addresses follow the same rule: a query parameter with a control
/// character is a 400 page before anything loads.
pub async fn clean_queries(req: Request, next: Next) -> Response {
    if let Some(query) = req.uri().query()
        && let Some(field) = field_with_forbidden_control(query.as_bytes())
    {
        let e = AppError::Invalid {
            message: format!("The address has a character that is not allowed in \"{field}\"."),
            field: Some(field),
        };
        return crate::error_page::for_request(req.method(), req.uri().path(), req.headers(), &e);
    }
    next.run(req).await
}

/// A refused body is read and thrown away up to this many bytes (and for at
/// most two seconds) before answering, so a client that is still sending gets
/// the answer instead of a reset connection; beyond it the connection closes.
const DRAIN_BYTES: usize = 4 * 1024 * 1024;

/// Reads a form body of at most [`MAX_FORM_BYTES`]. `Err(Some(()))`: too
/// large (what followed was drained, bounded); `Err(None)`: unreadable.
async fn read_form(mut body: Body) -> Result<axum::body::Bytes, Option<()>> {
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(None);
        };
        if let Ok(data) = frame.into_data() {
            if kept.len() + data.len() > MAX_FORM_BYTES {
                drain(body, kept.len() + data.len()).await;
                return Err(Some(()));
            }
            kept.extend_from_slice(&data);
        }
    }
    Ok(kept.into())
}

/// Discards the rest of a body, up to [`DRAIN_BYTES`] in all and two seconds.
async fn drain(mut body: Body, already: usize) {
    let mut seen = already;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while seen <= DRAIN_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    seen += frame.data_ref().map_or(0, |d| d.len());
                }
                _ => break,
            }
        }
    })
    .await;
}

fn too_large() -> Response {
    status_json(
        StatusCode::PAYLOAD_TOO_LARGE,
        "The form is too large. Shorten the text and try again.",
    )
}

/// A refusal in the shape of the typed error (an `invalid` without a field),
/// with its own status.
fn status_json(status: StatusCode, message: &str) -> Response {
    let mut res = crate::error_page::json(&AppError::Invalid {
        field: None,
        message: message.into(),
    });
    *res.status_mut() = status;
    res
}

/// Each request is one unit of work for the store's connection guard: it may
/// hold one database connection at a time (page loads count on their own).
pub async fn one_unit_of_work(req: Request, next: Next) -> Response {
    domain::store::one_unit(next.run(req)).await
}

fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Requests must name one of our hosts (the public URL, or the bound port on
/// loopback): a page on another domain that rebinds its name to this server
/// sends its own name and is refused before anything runs.
pub async fn allowed_hosts(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
    match host {
        Some(h) if state.allowed.host_allowed(&h) => {
            let origin = state.allowed.site_origin(&h);
            let mut req = req;
            req.extensions_mut().insert(app::ctx::SiteOrigin(origin));
            next.run(req).await
        }
        _ => {
            tracing::info!(
                host = host.as_deref().unwrap_or("-"),
                "refused a request for another host"
            );
            (
                StatusCode::MISDIRECTED_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "This Tenantry server does not answer for that host name.",
            )
                .into_response()
        }
    }
}

/// Refuses state-changing requests that a browser marks as cross-site, or
/// whose `Origin` is not one of ours, or that carry no proof of origin at all.
pub async fn reject_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if is_safe_method(req.method()) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let same_origin = match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // The browser's word, checked against ours when it also names the origin.
        Some(site) => {
            site == "same-origin" && origin.is_none_or(|o| state.allowed.origin_allowed(o))
        }
        None => origin.is_some_and(|o| state.allowed.origin_allowed(o)),
    };
    if same_origin {
        next.run(req).await
    } else {
        tracing::info!(path = %req.uri().path(), "refused a cross-site state-changing request");
        crate::error_page::json(&AppError::Forbidden)
    }
}

fn needs_sign_in(path: &str) -> bool {
    path == "/admin"
        || path.starts_with("/admin/")
        || path == "/system"
        || path.starts_with("/system/")
}

/// What a member who owes two-step sign-in may still reach: their account
/// (to set it up), the shell that frames it, and signing out.
fn allowed_while_mfa_owed(path: &str) -> bool {
    use app::api::{self, LoadAccount, LoadShell, SignOut};
    let account = api::path_of::<LoadAccount>();
    path == "/admin/account"
        || path.starts_with("/admin/account/")
        || path == account
        || path
            .strip_prefix(account)
            .is_some_and(|rest| rest.starts_with('/'))
        || path == api::path_of::<LoadShell>()
        || path == api::path_of::<SignOut>()
        || path.starts_with("/pkg/")
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
                return crate::error_page::for_request(req.method(), &path, req.headers(), &e);
            }
        },
        None => None,
    };
    let forwarded_for = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let address = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| {
            state
                .allowed
                .client_address(c.0.ip(), forwarded_for)
                .to_string()
        })
        .unwrap_or_else(|| "unknown".into());
    if actor.is_none() && needs_sign_in(&path) && is_safe_method(req.method()) {
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/admin");
        return Redirect::to(&format!(
            "/sign-in?next={}",
            domain::validate::encode_query_value(target)
        ))
        .into_response();
    }
    if actor.is_some() && path == "/sign-in" && req.method() == Method::GET {
        return Redirect::to("/admin").into_response();
    }
    if actor.as_ref().is_some_and(|a| a.mfa_owed) && !allowed_while_mfa_owed(&path) {
        // A workspace of theirs requires two-step sign-in: set it up first.
        if is_safe_method(req.method()) && !path.starts_with(app::api::PREFIX) {
            return Redirect::to("/admin/account/two-step?required=1").into_response();
        }
        return crate::error_page::json(&AppError::MfaRequired);
    }
    req.extensions_mut().insert(CurrentActor(actor));
    req.extensions_mut().insert(ClientAddress(address));
    next.run(req).await
}

/// A plain form on a page without script (`app::forms::PLAIN_FORMS`) posted
/// by the browser itself (not the islands' `fetch`, which asks for JSON):
/// an error goes back to its page as a `303` with the error in the operator's
/// words, the field it names and what was typed (never a password or a
/// code), sealed in a two-minute cookie the page reads once. Success is the
/// server function's own redirect.
pub async fn plain_form_errors(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some(page) = app::forms::PLAIN_FORMS
        .iter()
        .find(|(path, _)| *path == req.uri().path())
        .map(|(_, page)| *page)
    else {
        return next.run(req).await;
    };
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if req.method() != Method::POST || wants_json {
        return next.run(req).await;
    }
    // `bounded_forms` has already read the body (bounded): read it again to
    // keep what was typed.
    let (parts, body) = req.into_parts();
    let Ok(bytes) = body.collect().await.map(|c| c.to_bytes()) else {
        return crate::error_page::json(&AppError::Invalid {
            field: None,
            message: "The form could not be read.".into(),
        });
    };
    let values: Vec<(String, String)> = form_urlencoded::parse(&bytes)
        .filter(|(name, _)| app::forms::FormFlash::carries(name))
        .map(|(n, v)| (n.into_owned(), v.chars().take(300).collect()))
        .take(20)
        .collect();
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    // An error carries `serverfnerror` (Leptos answers a plain form's error
    // with a 302 to the Referer and the error in its query, which no page
    // reads; this answer replaces it).
    if !res.headers().contains_key("serverfnerror")
        && (res.status().is_success() || res.status().is_redirection())
    {
        return res;
    }
    let body = match res.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => axum::body::Bytes::new(),
    };
    let error = serde_json::from_slice::<AppError>(&body).unwrap_or(AppError::Internal);
    let next_path = values
        .iter()
        .find(|(n, _)| n == "next")
        .map(|(_, v)| domain::validate::safe_next(Some(v)))
        .filter(|n| n != "/admin");
    let flash = app::forms::FormFlash {
        page: page.to_string(),
        message: error.operator_message(),
        field: error.field().map(str::to_string),
        values,
    };
    let location = match next_path {
        Some(n) => format!("{page}?next={}", domain::validate::encode_query_value(&n)),
        None => page.to_string(),
    };
    let mut out = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location);
    if let Ok(json) = serde_json::to_string(&flash) {
        let sealed = state
            .services
            .secrets
            .seal(&domain::secrets::Secret::new(json));
        if let Ok(v) = HeaderValue::from_str(&state.cookies.flash_cookie(&sealed)) {
            out = out.header(header::SET_COOKIE, v);
        }
    }
    if let AppError::TooManyRequests { retry_after_secs } = error {
        out = out.header(header::RETRY_AFTER, retry_after_secs);
    }
    out.body(Body::empty())
        .unwrap_or_else(|_| crate::error_page::json(&AppError::Internal))
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
        Err(_) => return crate::error_page::json(&AppError::Internal),
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes)
        && let Ok(status) = StatusCode::from_u16(error.http_status())
    {
        parts.status = status;
        let retry_after = match error {
            AppError::Unavailable => Some(u64::from(domain::error::UNAVAILABLE_RETRY_SECS)),
            AppError::TooManyRequests { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        };
        if let Some(secs) = retry_after {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    fn panicking() -> Router {
        Router::new()
            .route(
                "/admin/boom",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("handler bug");
                    }
                    "unreachable"
                }),
            )
            .route(
                "/api/boom",
                axum::routing::post(|| async {
                    if std::hint::black_box(true) {
                        panic!("server function bug");
                    }
                    "unreachable"
                }),
            )
            .layer(axum::middleware::from_fn(catch_panics))
    }

    async fn body_of(res: Response) -> String {
        let bytes = res
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn a_panic_is_a_500_with_the_generic_words() {
        let page = panicking()
            .oneshot(
                Request::get("/admin/boom")
                    .header(header::ACCEPT, "text/html")
                    .body(Body::empty())
                    .unwrap_or_default(),
            )
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let html = body_of(page).await;
        assert!(html.contains("Something went wrong"), "{html}");
        assert!(!html.contains("handler bug"), "no internals: {html}");

        let call = panicking()
            .oneshot(
                Request::post("/api/boom")
                    .body(Body::empty())
                    .unwrap_or_default(),
            )
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(call.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let json = body_of(call).await;
        assert_eq!(json, r#"{"kind":"internal"}"#);
    }
}

/// The request's id: the caller's `x-request-id` when it is a plain token
/// (1–64 of letters, digits, `.`, `_`, `-`; a load balancer's id), else a
/// fresh one. Returned in the response, and every log line written while
/// the request is handled carries it (the `request` span). One line per
/// request at the end: route template, method, status, duration.
pub async fn request_id(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_plain_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    let method = req.method().clone();
    // A layer of the router: the match is known here. The template names the
    // route without ids or query strings.
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %method);
    let started = std::time::Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    crate::metrics::record_request(
        &route,
        &method,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    span.in_scope(|| {
        tracing::info!(
            route = %route,
            status = res.status().as_u16(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

/// The response header (and the request header honoured when plain).
pub const REQUEST_ID: &str = "x-request-id";

fn is_plain_request_id(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn new_request_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod request_id_tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_taken_from_the_caller() {
        for ok in ["abc", "0f1e2d3c4b5a6978", "lb-1.req_42", &"a".repeat(64)] {
            assert!(is_plain_request_id(ok), "{ok}");
        }
        for bad in [
            "",
            &"a".repeat(65),
            "has space",
            "new\nline",
            "quote\"",
            "ünï",
            "a/b",
        ] {
            assert!(!is_plain_request_id(bad), "{bad:?}");
        }
        let fresh = new_request_id();
        assert!(is_plain_request_id(&fresh) && fresh.len() == 16);
        assert_ne!(fresh, new_request_id());
    }
}
