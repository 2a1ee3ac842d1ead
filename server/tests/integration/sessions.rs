//! Sessions: rotation at sign-in, idle and absolute expiry (injected clock),
//! server-side sign-out, cookie attributes, survival across a restart.

use crate::both_backends;
use crate::common::{Backend, T0, spawn_app};

fn session_cookie(r: &crate::common::Reply) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tenantry_session="))
        .expect("a session cookie")
        .to_string()
}

fn token(cookie: &str) -> String {
    cookie
        .trim_start_matches("tenantry_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

async fn cookie_is_http_only_and_lax(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let r = app.browser().sign_in("ada@example.com").await;
    let c = session_cookie(&r);
    assert!(c.contains("HttpOnly"), "{c}");
    assert!(c.contains("SameSite=Lax"), "{c}");
    assert!(c.contains("Path=/"), "{c}");
    assert!(!c.contains("Secure"), "plain http: no Secure flag ({c})");
}

async fn session_id_rotates_at_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    app.create_user("bob@example.com", false).await;
    let b = app.browser();
    let first = token(&session_cookie(&b.sign_in("ada@example.com").await));
    let second = token(&session_cookie(&b.sign_in("bob@example.com").await));
    assert_ne!(first, second);
    // The first session is gone server-side, not merely replaced in the jar.
    let stale = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = stale
        .get(format!("{}/admin", app.address))
        .header("cookie", format!("tenantry_session={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "the pre-rotation session must not work");
    let shell = b.call("/api/shell", &[]).await;
    assert!(shell.body.contains("bob@example.com"), "{}", shell.body);
}

async fn idle_timeout_ends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    // Active use keeps it alive well past 30 minutes in total.
    for _ in 0..4 {
        app.clock.advance_ms(20 * 60_000);
        assert_eq!(b.get("/admin").await.status, 200);
    }
    // Then 30 idle minutes end it.
    app.clock.advance_ms(30 * 60_000);
    let r = b.get("/admin").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/sign-in?next=/admin"));
    assert_eq!(b.call("/api/shell", &[]).await.status, 401);
}

async fn absolute_timeout_ends_an_active_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    // Used every 10 minutes for 12 hours: still ends at the absolute limit.
    for step in 1..72 {
        app.clock.advance_ms(10 * 60_000);
        assert_eq!(
            b.call("/api/shell", &[]).await.status,
            200,
            "alive after {} minutes",
            step * 10
        );
    }
    app.clock.set_ms(T0 + 12 * 3_600_000 + 1);
    assert_eq!(b.call("/api/shell", &[]).await.status, 401);
}

async fn sign_out_invalidates_server_side(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    let t = token(&session_cookie(&b.sign_in("ada@example.com").await));
    let r = b.call("/api/session/sign_out", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.location.as_deref(), Some("/sign-in?notice=signed_out"));
    let cleared = session_cookie(&r);
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // Replaying the old cookie does not work.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = replay
        .post(format!("{}/api/shell", app.address))
        .header("cookie", format!("tenantry_session={t}"))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn sessions_survive_a_restart(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("ada@example.com", false).await;
    // A second process on the same database (as after a restart, or a second
    // `serve` on PostgreSQL) accepts the same cookie.
    let config = server::Config {
        database_url: String::new(),
        bind: "127.0.0.1:0".parse().unwrap(),
        site_root: "target/site".into(),
        secure_cookies: false,
        db_max_connections: 4,
        settings: Default::default(),
        workers: 0,
        worker: Default::default(),
        reconcile_every_ms: 0,
        provider: Default::default(),
        support_desk: Default::default(),
        mail: None,
        sso: None,
        webhook_networks: Default::default(),
        web: Default::default(),
    };
    let store = crate::common::open_store(app.db_url()).await;
    let services = domain::operations::services(store, Default::default())
        .with_clock(std::sync::Arc::new(app.clock.clone()));
    let second = server::Application::build_with(config, services)
        .await
        .unwrap();
    let addr = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until(std::future::pending()));
    let r = b.client.get(format!("{addr}/admin")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

both_backends!(
    cookie_is_http_only_and_lax,
    session_id_rotates_at_sign_in,
    idle_timeout_ends_the_session,
    absolute_timeout_ends_an_active_session,
    sign_out_invalidates_server_side,
    sessions_survive_a_restart,
);

#[tokio::test]
async fn secure_cookies_use_the_host_prefix() {
    let cookies = app::ctx::CookieSettings {
        secure: true,
        max_age_secs: 60,
    };
    let c = cookies.session_cookie("abc");
    assert!(c.starts_with("__Host-tenantry_session=abc"));
    assert!(c.contains("; Secure"));
    assert!(c.contains("Path=/"));
    assert!(!c.contains("Domain="), "__Host- cookies carry no Domain");
}
