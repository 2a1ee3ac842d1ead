//! Request safety: cross-site refusal, security headers, bad arguments,
//! methods, health and readiness.

use crate::both_backends;
use crate::common::{Backend, spawn_app};

async fn cross_site_mutations_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    let url = format!("{}/api/workspaces/create", app.address);
    let send = |site: Option<&'static str>, origin: Option<String>| {
        let mut req = b
            .client
            .post(&url)
            .header("accept", "application/json")
            .form(&[("name", "Evil Corp")]);
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    // A browser says cross-site: refused even with the victim's cookie.
    assert_eq!(send(Some("cross-site"), None).await.unwrap().status(), 403);
    assert_eq!(send(Some("same-site"), None).await.unwrap().status(), 403);
    // No fetch metadata: the Origin must be ours.
    assert_eq!(
        send(None, Some("https://evil.example".into()))
            .await
            .unwrap()
            .status(),
        403
    );
    // Neither header: no proof of origin, refused.
    assert_eq!(send(None, None).await.unwrap().status(), 403);
    // Same origin by Origin header, and by fetch metadata: accepted.
    assert_eq!(
        send(None, Some(app.address.clone()))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(send(Some("same-origin"), None).await.unwrap().status(), 200);
    // The refused requests changed nothing.
    let ws = domain::workspaces::list_for_user(
        &app.services,
        app.services_user("ada@example.com").await,
    )
    .await
    .unwrap();
    assert_eq!(ws.len(), 2, "exactly the two accepted creates");
}

async fn pages_carry_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = app.browser();
    let r = b.get("/sign-in").await;
    assert_eq!(r.status, 200);
    let h = |name: &str| {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = h("content-security-policy");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("referrer-policy"), "same-origin");
    assert_eq!(h("cache-control"), "no-store");
    // Every inline script carries the nonce of this response.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap();
    let scripts = r.body.matches("<script").count();
    let nonced = r.body.matches(&format!("nonce=\"{nonce}\"")).count();
    assert!(
        scripts >= 1 && nonced >= scripts,
        "{scripts} scripts, {nonced} with the nonce"
    );
    // API answers carry the strict base policy too.
    let api = b.call("/api/shell", &[]).await;
    assert!(api.headers.get("content-security-policy").is_some());
    assert!(
        app.browser().get("/favicon.ico").await.status == 200,
        "favicon is served (a 404 is a console error)"
    );
}

async fn bad_arguments_answer_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    // Not a number where an id belongs.
    let r = b
        .call(
            "/api/workspaces/switch",
            &[("workspace", "not-a-number".into())],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // A required argument missing.
    let r = b
        .call("/api/members/invite", &[("email", "x@example.com".into())])
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // An unknown enum value.
    let r = b
        .call(
            "/api/tenants/status",
            &[("tenant", "1".into()), ("status", "deleted".into())],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        !r.body.to_lowercase().contains("serde"),
        "no parser internals in the body: {}",
        r.body
    );
    // Validation errors name their field.
    let r = b
        .call("/api/workspaces/create", &[("name", "   ".into())])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("\"field\":\"name\""), "{}", r.body);
}

async fn server_functions_refuse_get(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    let r = b.get("/api/workspaces/create?name=Sneaky").await;
    assert_eq!(r.status, 405);
    let r = b.get("/api/session/sign_out").await;
    assert_eq!(r.status, 405);
    // Still signed in: the GET did not sign out.
    assert_eq!(b.get("/admin").await.status, 200);
}

async fn health_and_readiness(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = app.browser();
    assert_eq!(b.get("/healthz").await.status, 200);
    assert_eq!(b.get("/readyz").await.status, 200);
    // With the database gone, readiness says so quickly; health still answers.
    app.services.store.close().await;
    let started = std::time::Instant::now();
    assert_eq!(b.get("/readyz").await.status, 503);
    assert!(started.elapsed() < std::time::Duration::from_millis(2500));
    assert_eq!(b.get("/healthz").await.status, 200);
}

async fn unknown_paths_are_404_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    let r = b.get("/admin/no-such-page").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Not found"));
    let r = b.get("/nothing-here").await;
    assert_eq!(r.status, 404);
}

/// DNS rebinding: a page on another domain that points its name at this
/// server sends its own name in `Host`. Refused before anything runs, even
/// with a correct password; the configured public URL is answered.
async fn other_hosts_are_refused(backend: Backend) {
    let app = crate::common::app(backend)
        .web(server::web::WebConfig {
            public_url: Some(
                server::web::PublicUrl::parse("https://tenantry.example.com").unwrap(),
            ),
            ..Default::default()
        })
        .spawn()
        .await;
    app.create_user("ada@example.com", false).await;
    let port = app.address.rsplit(':').next().unwrap().to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |host: String, origin: String| {
        client
            .post(format!("{}/api/session/sign_in", app.address))
            .header("host", host)
            .header("origin", origin)
            .header("sec-fetch-site", "same-origin")
            .form(&[
                ("email", "ada@example.com"),
                ("password", crate::common::PASSWORD),
            ])
            .send()
    };
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_string(),
        format!("127.0.0.2:{port}"),
        "tenantry.example.com.evil.example".to_string(),
    ] {
        let r = sign_in(host.clone(), format!("http://{host}"))
            .await
            .unwrap();
        assert_eq!(r.status(), 421, "{host}");
        assert!(r.headers().get("set-cookie").is_none());
        let page = client
            .get(format!("{}/sign-in", app.address))
            .header("host", host.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 421, "GET for {host}");
    }
    let (sessions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(sessions, 0, "no session was created for another host");
    // Our own names work: loopback on the bound port, and the public URL.
    let r = sign_in(format!("127.0.0.1:{port}"), app.address.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = sign_in(
        "tenantry.example.com".into(),
        "https://tenantry.example.com".into(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    // The right host with a foreign Origin (no fetch metadata) is cross-site.
    let r = client
        .post(format!("{}/api/session/sign_in", app.address))
        .header("origin", "https://evil.example")
        .form(&[
            ("email", "ada@example.com"),
            ("password", crate::common::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// After sign-in the browser goes back only to a page of ours; anything a
/// browser might read as another site, or that is not a valid header, sends
/// it to /admin, and nothing panics.
async fn sign_in_returns_only_to_our_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let cases = [
        (
            "/admin/operations?tab=active",
            "/admin/operations?tab=active",
        ),
        ("//evil.example/x", "/admin"),
        ("/\\evil.example", "/admin"),
        ("/\t/evil.example", "/admin"),
        ("/admin/%2F%2Fevil.example", "/admin"),
        ("https://evil.example", "/admin"),
        ("/admin/\u{e9}t\u{e9}", "/admin"),
        ("/admin\r\nSet-Cookie: x=1", "/admin"),
    ];
    for (next, expected) in cases {
        let b = app.browser();
        let r = b
            .call(
                "/api/session/sign_in",
                &[
                    ("email", "ada@example.com".into()),
                    ("password", crate::common::PASSWORD.into()),
                    ("next", next.into()),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{next:?}: {}", r.body);
        assert_eq!(r.location.as_deref(), Some(expected), "{next:?}");
    }
    // A control character other than a line break or tab: refused before
    // anything happens (no session row).
    let (before,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    let r = app
        .browser()
        .call(
            "/api/session/sign_in",
            &[
                ("email", "ada@example.com".into()),
                ("password", crate::common::PASSWORD.into()),
                ("next", "/admin\u{1}x".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let (after,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(before, after);
}

both_backends!(
    other_hosts_are_refused,
    sign_in_returns_only_to_our_pages,
    cross_site_mutations_are_refused,
    pages_carry_security_headers,
    bad_arguments_answer_400,
    server_functions_refuse_get,
    health_and_readiness,
    unknown_paths_are_404_pages,
);
