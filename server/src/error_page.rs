//! Error pages the router answers without rendering the app: a request that
//! failed before a page could load (the database is unreachable while the
//! session is resolved, a panic, a refused request) or a download. Same
//! stylesheet and top bar as the app, no script, escaped text.

use axum::response::{IntoResponse, Response};
use domain::AppError;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use domain::error::{
    UNAVAILABLE_PAGE_TEXT, UNAVAILABLE_PAGE_TITLE, UNAVAILABLE_RETRY_SECS as RETRY_AFTER_SECS,
};

pub struct ErrorPage<'a> {
    pub status: StatusCode,
    pub title: &'a str,
    pub text: &'a str,
    /// A link shown under the text: (href, label).
    pub back: Option<(&'a str, &'a str)>,
    /// Reload the page every [`RETRY_AFTER_SECS`] (the database is away).
    pub retry: bool,
}

impl ErrorPage<'_> {
    pub fn into_response(self) -> Response {
        let escape = domain::review_packs::html_escape;
        let link = self
            .back
            .map(|(href, label)| {
                format!(
                    "<p class=\"mt-3\"><a class=\"link\" href=\"{}\">{}</a></p>",
                    escape(href),
                    escape(label)
                )
            })
            .unwrap_or_default();
        let refresh = if self.retry {
            format!("<meta http-equiv=\"refresh\" content=\"{RETRY_AFTER_SECS}\">")
        } else {
            String::new()
        };
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
             <title>{title} · Tenantry</title>\
             <link rel=\"stylesheet\" href=\"/pkg/tenantry.css\"><link rel=\"icon\" href=\"/favicon.ico\" sizes=\"any\">\
             </head><body><header class=\"topbar\"><a href=\"/admin\" class=\"brand\">Tenantry</a></header>\
             <main id=\"main\" class=\"main\"><section class=\"page\" role=\"alert\">\
             <h1 class=\"page-title\">{title}</h1><p class=\"muted\">{text}</p>{link}</section></main></body></html>",
            title = escape(self.title),
            text = escape(self.text),
        );
        let mut res = (
            self.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response();
        if self.retry {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        res
    }
}

/// The page for an [`AppError`] (its status, our words).
pub fn for_error(e: &AppError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (title, text) = match e {
        AppError::Unavailable => (UNAVAILABLE_PAGE_TITLE, UNAVAILABLE_PAGE_TEXT.to_string()),
        AppError::NotFound => ("Not found", e.operator_message()),
        AppError::Forbidden => ("Not allowed", e.operator_message()),
        AppError::Unauthenticated => ("Sign in first", e.operator_message()),
        AppError::Conflict { .. } => ("Not ready", e.operator_message()),
        AppError::Invalid { .. } => ("That request was not understood", e.operator_message()),
        _ => ("Something went wrong", e.operator_message()),
    };
    ErrorPage {
        status,
        title,
        text: &text,
        back: Some(("/admin", "Go to your overview")),
        retry: matches!(e, AppError::Unavailable),
    }
    .into_response()
}

/// The JSON error a server function (or any non-page caller) gets.
pub fn json(e: &AppError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    let mut res = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if matches!(e, AppError::Unavailable) {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    res
}

/// True for a browser navigating to a page (as opposed to a server function,
/// a poll or a script): it gets HTML, everyone else JSON.
pub fn wants_page(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if !(method == Method::GET || method == Method::HEAD) || path.starts_with(app::api::PREFIX) {
        return false;
    }
    match headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        Some(accept) => accept.contains("text/html") || accept.contains("*/*"),
        None => true,
    }
}

/// The answer for an error found before routing: a page or JSON.
pub fn for_request(method: &Method, path: &str, headers: &HeaderMap, e: &AppError) -> Response {
    if wants_page(method, path, headers) {
        for_error(e)
    } else {
        json(e)
    }
}
