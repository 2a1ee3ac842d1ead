//! Faults at the edges: text the database cannot store, oversized and
//! mistyped bodies, panics, connections the database terminated, and a
//! database that stops and comes back under a running app (#14).

use crate::both_backends;
use crate::common::{Backend, spawn_app};
use std::time::{Duration, Instant};

fn field_of(body: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("field").and_then(|f| f.as_str()).map(str::to_string))
}

/// NUL and other control characters are refused with 400 naming the field on
/// both backends (PostgreSQL cannot store NUL; SQLite could), before anything
/// is stored. Line breaks stay allowed where text spans lines.
async fn control_characters_are_400_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    // Sign-in with a NUL in the email: 400 on the email, not 500.
    let anon = app.browser();
    let r = anon
        .call(
            "/api/session/sign_in",
            &[
                ("email", "ada\u{0}@example.com".into()),
                ("password", "whatever-password".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(field_of(&r.body).as_deref(), Some("email"));

    let r = b
        .call(
            "/api/workspaces/create",
            &[("name", "Acme\u{0} MSP".into())],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(field_of(&r.body).as_deref(), Some("name"));
    let r = b
        .call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ws = domain::workspaces::list_for_user(
        &app.services,
        app.services_user("ada@example.com").await,
    )
    .await
    .unwrap();
    let ws = ws[0].id.to_string();

    for email in ["bob\u{0}@example.com", "bob\u{7}@example.com"] {
        let r = b
            .call(
                "/api/members/invite",
                &[
                    ("workspace", ws.clone()),
                    ("email", email.into()),
                    ("role", "operator".into()),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{email:?}: {}", r.body);
        assert_eq!(field_of(&r.body).as_deref(), Some("email"));
    }

    let r = b
        .call(
            "/api/tenants/create",
            &[
                ("workspace", ws.clone()),
                ("display_name", "Contoso\u{1b}[31m".into()),
                (
                    "microsoft_tenant_id",
                    "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(field_of(&r.body).as_deref(), Some("display_name"));
    let r = b
        .call(
            "/api/tenants/create",
            &[
                ("workspace", ws.clone()),
                ("display_name", "Contoso".into()),
                (
                    "microsoft_tenant_id",
                    "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (tenant,): (i64,) = sqlx::query_as("SELECT id FROM tenants")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();

    let support = |subject: &str, description: &str, contact: &str| {
        vec![
            ("tenant", tenant.to_string()),
            ("subject", subject.to_string()),
            ("description", description.to_string()),
            ("severity", "normal".to_string()),
            ("contact", contact.to_string()),
        ]
    };
    for (form, field) in [
        (support("Sync\u{0} fails", "It fails.", ""), "subject"),
        (support("Sync fails", "It\u{0} fails.", ""), "description"),
        (
            support("Sync fails", "It fails.", "noc\u{0}@msp"),
            "contact",
        ),
    ] {
        let r = b.call("/api/support/request", &form).await;
        assert_eq!(r.status, 400, "{field}: {}", r.body);
        assert_eq!(field_of(&r.body).as_deref(), Some(field));
    }
    // A description keeps its line breaks and tabs.
    let r = b
        .call(
            "/api/support/request",
            &support(
                "Sync fails",
                "Line one\r\nLine two\twith a tab",
                "noc@msp.example",
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (stored,): (String,) = sqlx::query_as("SELECT description FROM support_requests")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(stored, "Line one\r\nLine two\twith a tab");
    let (requests,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM support_requests")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(requests, 1, "nothing was stored for the refused requests");

    // A page address with a control character: a 400 page, not a 500.
    let r = b
        .get(&format!("/admin/t/{tenant}/inventory?q=%00drop"))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("<html"), "a page, not JSON");
}

/// Server functions take small urlencoded forms: a larger body is 413 (with
/// or without a length), another content type is 415, before any work.
async fn oversized_and_mistyped_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    let url = format!("{}/api/workspaces/create", app.address);
    let big = format!("name={}", "a".repeat(300 * 1024));
    let r = b
        .client
        .post(&url)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Streamed without a Content-Length: still 413 once the limit is passed.
    let chunks: Vec<Result<http_body::Frame<axum::body::Bytes>, std::io::Error>> = big
        .as_bytes()
        .chunks(16 * 1024)
        .map(|c| {
            Ok(http_body::Frame::data(axum::body::Bytes::copy_from_slice(
                c,
            )))
        })
        .collect();
    let r = b
        .client
        .post(&url)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap(http_body_util::StreamBody::new(
            futures::stream::iter(chunks),
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    for content_type in [Some("application/json"), Some("text/plain"), None] {
        let mut req = b
            .client
            .post(&url)
            .header("sec-fetch-site", "same-origin")
            .body("name=Acme");
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        assert_eq!(req.send().await.unwrap().status(), 415, "{content_type:?}");
    }
    // One field too long, or too many fields: 400 before the function runs.
    let r = b
        .call("/api/workspaces/create", &[("name", "n".repeat(40 * 1024))])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(field_of(&r.body).as_deref(), Some("name"));
    let many: Vec<(&str, String)> = (0..250).map(|_| ("name", "Acme".to_string())).collect();
    assert_eq!(b.call("/api/workspaces/create", &many).await.status, 400);
    // A restore item list is counted before any work: far too many → 400 on `items`.
    let items = vec!["1"; 5_000].join(",");
    let r = b
        .call(
            "/api/restore/execute",
            &[
                ("tenant", "1".into()),
                ("snapshot", "1".into()),
                ("items", items),
                ("confirm_name", "x".into()),
            ],
        )
        .await;
    assert!(r.status == 400 || r.status == 404, "{}", r.body);
    let ws = domain::workspaces::list_for_user(
        &app.services,
        app.services_user("ada@example.com").await,
    )
    .await
    .unwrap();
    assert!(ws.is_empty(), "no refused request created a workspace");
}

both_backends!(
    control_characters_are_400_naming_the_field,
    oversized_and_mistyped_bodies,
);

/// PostgreSQL terminates every connection of the app (`pg_terminate_backend`,
/// what a restart or failover does): requests answer 503 while the pool's
/// broken connections are found and discarded, never 500, and the app
/// recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_answer_503_never_500() {
    let app = spawn_app(Backend::Postgres).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    // Fill the pool with idle connections.
    let mut warm = Vec::new();
    for _ in 0..8 {
        warm.push(b.get("/admin"));
    }
    for r in futures::future::join_all(warm).await {
        assert_eq!(r.status, 200);
    }
    let db = app
        .db_url()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let admin = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/test")
        .await
        .unwrap();
    let (killed,): (i64,) = sqlx::query_as(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&db)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(killed > 0, "no connection to terminate");
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(b.get("/admin").await.status);
    }
    println!("after terminating {killed} connections: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "only 200 or 503: {statuses:?}"
    );
    assert!(
        statuses[20..].iter().all(|s| *s == 200),
        "recovered by itself: {statuses:?}"
    );
}

/// The database stops under a running app and comes back: readiness says so
/// within 2 s, pages answer a clear 503 page and server functions the typed
/// JSON error within 1 s each once the outage is known, and everything works
/// again after it returns, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_answers_503_fast_and_recovers() {
    let (app, proxy) = crate::common::app(Backend::Postgres)
        .spawn_via_proxy()
        .await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    assert_eq!(b.get("/admin").await.status, 200);

    proxy.cut();
    let started = Instant::now();
    let ready = b.get("/readyz").await;
    let readyz_took = started.elapsed();
    assert_eq!(ready.status, 503);
    assert!(readyz_took < Duration::from_secs(2), "{readyz_took:?}");

    let started = Instant::now();
    let first = b.get("/admin").await;
    let first_took = started.elapsed();
    assert_eq!(first.status, 503, "{}", first.body);
    let mut later = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let r = b.get("/admin/tenants").await;
        later.push(started.elapsed());
        assert_eq!(r.status, 503);
        assert!(
            r.body.contains("reach its database"),
            "an HTML page in our words: {}",
            r.body
        );
        assert!(r.body.contains("<html"), "{}", r.body);
        assert!(r.headers.get("retry-after").is_some());
    }
    let started = Instant::now();
    let f = b.call("/api/shell", &[]).await;
    let fn_took = started.elapsed();
    assert_eq!(f.status, 503);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&f.body).unwrap()["kind"],
        "unavailable"
    );
    let slowest = later.iter().max().copied().unwrap_or_default();
    println!(
        "outage: readyz 503 in {readyz_took:?}; first page 503 in {first_took:?}; next 10 pages 503 in at most {slowest:?}; server function 503 in {fn_took:?}"
    );
    assert!(slowest < Duration::from_secs(1), "{later:?}");
    assert!(fn_took < Duration::from_secs(1), "{fn_took:?}");

    proxy.restore().await;
    let back = Instant::now();
    let mut recovered = None;
    while back.elapsed() < Duration::from_secs(10) {
        if b.get("/admin").await.status == 200 {
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("pages answer again without a restart");
    assert_eq!(b.get("/readyz").await.status, 200);
    assert_eq!(b.call("/api/shell", &[]).await.status, 200);
    println!("recovery: pages answer 200 {recovered:?} after the database returned");
}
