//! Degrade, don't collapse: a bound on the requests the server works on at
//! once, and on how long one may take. Past the bound a request is answered
//! at once with 503 and `Retry-After` (the unavailable page, or JSON for
//! server functions) instead of queueing for database connections until
//! everyone times out; a request that takes too long is answered the same
//! way and its work dropped (its transaction rolls back). Health checks and
//! static files are not counted: they need no database and must keep
//! answering under load.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use domain::AppError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How much the web server takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadLimits {
    /// Requests handled at once; the next ones are shed (503).
    pub max_in_flight: usize,
    /// The longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// On shutdown, how long in-flight requests may still finish.
    pub drain: Duration,
    /// A form body must arrive within this (read before the request takes a slot).
    pub body_timeout: Duration,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_in_flight: 64,
            request_timeout: Duration::from_secs(30),
            drain: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// The shared state of [`shed`].
#[derive(Clone)]
pub struct Shedder {
    slots: Arc<Semaphore>,
    timeout: Duration,
}

impl Shedder {
    pub fn new(limits: LoadLimits) -> Shedder {
        Shedder {
            slots: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            timeout: limits.request_timeout,
        }
    }
}

fn exempt(path: &str) -> bool {
    path == "/healthz" || path == "/readyz" || path == "/favicon.ico" || path.starts_with("/pkg/")
}

/// 503 with `Retry-After`: a page that says so and reloads itself, or the
/// unavailable JSON error for server functions and scripts.
fn busy(method: &http::Method, path: &str, headers: &http::HeaderMap) -> Response {
    if crate::error_page::wants_page(method, path, headers) {
        crate::error_page::ErrorPage {
            status: http::StatusCode::SERVICE_UNAVAILABLE,
            title: "Tenantry is busy",
            text: "More requests are being handled than it takes on at once. Nothing is lost: this page reloads by itself in a few seconds.",
            back: None,
            retry: true,
        }
        .into_response()
    } else {
        crate::error_page::json(&AppError::Unavailable)
    }
}

pub async fn shed(State(shedder): State<Shedder>, req: Request, next: Next) -> Response {
    if exempt(req.uri().path()) {
        return next.run(req).await;
    }
    let (method, path, headers) = (
        req.method().clone(),
        req.uri().path().to_string(),
        req.headers().clone(),
    );
    let unavailable = || busy(&method, &path, &headers);
    let Ok(_slot) = shedder.slots.clone().try_acquire_owned() else {
        tracing::warn!(path = %path, "shedding load: too many requests in flight");
        return unavailable();
    };
    match tokio::time::timeout(shedder.timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(path = %path, timeout_ms = shedder.timeout.as_millis() as u64, "request took too long; answered 503");
            unavailable()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;

    async fn serve(limits: LoadLimits) -> String {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    "done"
                }),
            )
            .route("/healthz", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                Shedder::new(limits),
                shed,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("test server");
        let addr = listener.local_addr().expect("test server");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn past_the_bound_requests_are_shed_at_once_with_retry_after() {
        let base = serve(LoadLimits {
            max_in_flight: 2,
            ..LoadLimits::default()
        })
        .await;
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        let mut calls = Vec::new();
        for _ in 0..6 {
            let (client, url) = (client.clone(), format!("{base}/slow"));
            calls.push(tokio::spawn(async move {
                let r = client.get(url).send().await.expect("test server");
                let at = started.elapsed();
                (
                    r.status().as_u16(),
                    r.headers().get("retry-after").cloned(),
                    at,
                )
            }));
            // In order: the first two take the slots.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Health checks are never shed.
        let health = client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .expect("test server");
        assert_eq!(health.status(), 200);
        let mut served = 0;
        let mut shed_fast = 0;
        for c in calls {
            let (status, retry, at) = c.await.expect("test server");
            match status {
                200 => served += 1,
                503 => {
                    assert!(retry.is_some(), "503 carries Retry-After");
                    if at < Duration::from_millis(300) {
                        shed_fast += 1;
                    }
                }
                s => panic!("unexpected {s}"),
            }
        }
        assert_eq!(served, 2, "the bound holds");
        assert_eq!(shed_fast, 4, "the rest were answered at once, not queued");
    }

    #[tokio::test]
    async fn a_request_past_its_time_is_answered_503() {
        let base = serve(LoadLimits {
            request_timeout: Duration::from_millis(100),
            ..LoadLimits::default()
        })
        .await;
        let started = std::time::Instant::now();
        let r = reqwest::Client::new()
            .get(format!("{base}/slow"))
            .header("accept", "text/html")
            .send()
            .await
            .expect("test server");
        assert_eq!(r.status(), 503);
        assert!(started.elapsed() < Duration::from_millis(350));
        assert!(r.headers().contains_key("retry-after"));
        assert!(
            r.text()
                .await
                .expect("test server")
                .contains("Tenantry is busy")
        );
    }
}
