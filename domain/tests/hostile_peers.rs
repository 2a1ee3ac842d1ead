//! Outbound calls against peers that misbehave on purpose (#15 item 6): a
//! token endpoint that redirects the client secret elsewhere, a Graph that
//! redirects to another host, `Retry-After` as an HTTP-date, items repeated
//! across pages, paging in a circle, huge and endless bodies, and a support
//! desk that redirects. Each answer is a failure in our words, and nothing is
//! sent to the place a redirect names.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use domain::provider::graph::{
    ApiVersion, AppCredentials, GraphClient, GraphEndpoints, GraphError, GraphPolicy,
};
use domain::secrets::Secret;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

type Hits = Arc<Mutex<Vec<String>>>;

/// Serves `router` on a free port; returns its address.
async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// A peer that records every request it gets (the place a redirect points to).
async fn thief() -> (SocketAddr, Hits) {
    let hits: Hits = Arc::default();
    let router = Router::new()
        .fallback(any(|State(hits): State<Hits>, req: Request| async move {
            hits.lock()
                .unwrap()
                .push(format!("{} {}", req.method(), req.uri()));
            let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            hits.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            axum::Json(json!({"access_token": "stolen", "value": [{"id": "evil-org"}]}))
        }))
        .with_state(hits.clone());
    (serve(router).await, hits)
}

const TOKEN_JSON: &str = r#"{"access_token":"h.e30.s","expires_in":3600}"#;

fn creds() -> AppCredentials {
    AppCredentials {
        entra_tenant_id: "3f0c2b6e-5a1d-4c8e-9b7a-1d2e3f4a5b6c".into(),
        client_id: "5e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b".into(),
        client_secret: Secret::new("the-client-secret"),
    }
}

fn policy() -> GraphPolicy {
    GraphPolicy {
        request_timeout: Duration::from_secs(5),
        max_retries: 2,
        max_retry_after: Duration::from_secs(5),
        default_backoff: Duration::from_millis(50),
        max_body_bytes: 1024 * 1024,
        ..GraphPolicy::default()
    }
}

/// A client whose token endpoint works and whose Graph is `graph`.
async fn client_for(graph: Router) -> GraphClient {
    let token = Router::new().fallback(any(|| async {
        ([(header::CONTENT_TYPE, "application/json")], TOKEN_JSON)
    }));
    let authority = serve(token).await;
    let graph = serve(graph).await;
    GraphClient::new(
        GraphEndpoints {
            authority: format!("http://{authority}"),
            graph: format!("http://{graph}"),
        },
        policy(),
    )
}

fn redirect(status: StatusCode, to: String) -> Response {
    (status, [(header::LOCATION, to)]).into_response()
}

#[tokio::test]
async fn a_redirecting_token_endpoint_never_gets_the_secret_resent() {
    let (stolen, hits) = thief().await;
    let authority = serve(Router::new().fallback(any(move || async move {
        redirect(
            StatusCode::TEMPORARY_REDIRECT,
            format!("http://{stolen}/steal"),
        )
    })))
    .await;
    let client = GraphClient::new(
        GraphEndpoints {
            authority: format!("http://{authority}"),
            graph: "http://127.0.0.1:9".into(),
        },
        policy(),
    );
    let err = client.token(&creds()).await.map(|_| ()).unwrap_err();
    assert!(
        matches!(err, GraphError::UnexpectedResponse { what } if what.contains("redirect")),
        "{err:?}"
    );
    assert!(
        hits.lock().unwrap().is_empty(),
        "the secret went to the redirect target"
    );
}

#[tokio::test]
async fn a_redirecting_graph_is_a_failure_not_another_tenant() {
    let (elsewhere, hits) = thief().await;
    let client = client_for(Router::new().fallback(any(move || async move {
        redirect(
            StatusCode::FOUND,
            format!("http://{elsewhere}/v1.0/organization"),
        )
    })))
    .await;
    let read = client
        .get_all(&creds(), ApiVersion::V1, "organization")
        .await;
    assert!(
        matches!(read, Err(GraphError::UnexpectedResponse { what }) if what.contains("redirect")),
        "{read:?}"
    );
    assert!(
        hits.lock().unwrap().is_empty(),
        "the token went to another host"
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let calls = Arc::new(Mutex::new(0u32));
    let c = calls.clone();
    let client = client_for(Router::new().fallback(any(move || {
        let c = c.clone();
        async move {
            let n = {
                let mut n = c.lock().unwrap();
                *n += 1;
                *n
            };
            if n == 1 {
                let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, at)],
                    "",
                )
                    .into_response()
            } else {
                axum::Json(json!({"value": [{"id": "org"}]})).into_response()
            }
        }
    })))
    .await;
    let started = Instant::now();
    let orgs = client
        .get_all(&creds(), ApiVersion::V1, "organization")
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(orgs.len(), 1);
    assert_eq!(*calls.lock().unwrap(), 2);
    // The date has whole seconds: at least one second, never the 50 ms default.
    assert!(waited >= Duration::from_millis(900), "{waited:?}");

    // A date beyond what we wait for fails as throttled at once.
    let far = client_for(Router::new().fallback(any(|| async {
        let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, at)],
            "",
        )
            .into_response()
    })))
    .await;
    let started = Instant::now();
    let read = far.get_all(&creds(), ApiVersion::V1, "organization").await;
    assert_eq!(read, Err(GraphError::Throttled { retries: 0 }));
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Pages: `/v1.0/groups` → page 1, `?page=2` → page 2 (per the test).
fn paged(pages: fn(&str, SocketAddr) -> serde_json::Value) -> Router {
    Router::new().fallback(any(move |req: Request| async move {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<SocketAddr>().ok())
            .unwrap();
        axum::Json(pages(req.uri().query().unwrap_or(""), host))
    }))
}

#[tokio::test]
async fn items_repeated_across_pages_are_kept_once() {
    let client = client_for(paged(|query, host| match query {
        "" => json!({"value": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
                     "@odata.nextLink": format!("http://{host}/v1.0/groups?page=2")}),
        _ => json!({"value": [{"id": "c"}, {"id": "d"}, {"id": "a"}]}),
    }))
    .await;
    let groups = client
        .get_all(&creds(), ApiVersion::V1, "groups")
        .await
        .unwrap();
    let ids: Vec<&str> = groups.iter().filter_map(|g| g["id"].as_str()).collect();
    assert_eq!(ids, vec!["a", "b", "c", "d"]);
}

#[tokio::test]
async fn paging_in_a_circle_stops_at_once() {
    let calls = Arc::new(Mutex::new(0u32));
    let c = calls.clone();
    let graph = Router::new().fallback(any(move |req: Request| {
        let c = c.clone();
        async move {
            *c.lock().unwrap() += 1;
            let host = req.headers()[header::HOST].to_str().unwrap().to_string();
            axum::Json(json!({"value": [{"id": "x"}],
                              "@odata.nextLink": format!("http://{host}/v1.0/groups?$skiptoken=same")}))
        }
    }));
    let client = client_for(graph).await;
    let read = client.get_all(&creds(), ApiVersion::V1, "groups").await;
    assert!(
        matches!(read, Err(GraphError::UnexpectedResponse { what }) if what.contains("circle")),
        "{read:?}"
    );
    assert!(
        *calls.lock().unwrap() <= 3,
        "stopped at the first repeat, not after 500 pages"
    );
}

#[tokio::test]
async fn huge_and_endless_bodies_are_refused_within_the_cap() {
    // Declared too large: refused before reading.
    let declared = client_for(Router::new().fallback(any(|| async {
        let mut body = br#"{"value":["#.to_vec();
        body.resize(8 * 1024 * 1024, b' ');
        ([(header::CONTENT_TYPE, "application/json")], body)
    })))
    .await;
    let read = declared.get_all(&creds(), ApiVersion::V1, "groups").await;
    assert!(
        matches!(read, Err(GraphError::UnexpectedResponse { what }) if what.contains("larger")),
        "{read:?}"
    );
    // Streamed without a length and never ending: refused once past the cap.
    let endless = client_for(Router::new().fallback(any(|| async {
        let chunks = futures::stream::repeat_with(|| {
            Ok::<_, std::io::Error>(axum::body::Bytes::from_static(&[b' '; 64 * 1024]))
        });
        Response::new(Body::from_stream(chunks))
    })))
    .await;
    let started = Instant::now();
    let read = endless.get_all(&creds(), ApiVersion::V1, "groups").await;
    assert!(
        matches!(read, Err(GraphError::UnexpectedResponse { what }) if what.contains("larger")),
        "{read:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_redirecting_support_desk_gets_nothing_resent() {
    use domain::support::desk::{DeskConfig, DeskError, TicketRequest, create_ticket};
    let (stolen, hits) = thief().await;
    let desk = serve(Router::new().fallback(any(move || async move {
        redirect(
            StatusCode::TEMPORARY_REDIRECT,
            format!("http://{stolen}/REST/2.0/ticket"),
        )
    })))
    .await;
    let config = DeskConfig::RequestTracker {
        base_url: format!("http://{desk}"),
        token: Secret::new("rt-token-value"),
        queue: "General".into(),
    };
    let answer = create_ticket(
        &config,
        TicketRequest {
            subject: "Help",
            body: "Details",
        },
    )
    .await;
    assert_eq!(answer.map(|_| ()), Err(DeskError::Redirected));
    assert!(
        hits.lock().unwrap().is_empty(),
        "the desk token went elsewhere"
    );
}
