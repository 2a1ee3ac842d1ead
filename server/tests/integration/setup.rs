//! First-run setup (issue 21): `/setup` creates the first owner and their
//! workspace with the code `serve` prints, exactly once even when raced,
//! and is a 404 from then on.

use crate::both_backends;
use crate::common::{Backend, Browser, PASSWORD, TestApp, spawn_app};
use serde_json::Value;

fn form(code: &str, email: &str, password: &str, confirm: &str) -> Vec<(&'static str, String)> {
    vec![
        ("code", code.to_string()),
        ("email", email.to_string()),
        ("password", password.to_string()),
        ("confirm_password", confirm.to_string()),
        ("workspace", "Acme MSP".to_string()),
    ]
}

async fn attempt(b: &Browser, form: &[(&str, String)]) -> (u16, Option<String>) {
    let r = b.call("/api/setup", form).await;
    let e: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, e["field"].as_str().map(str::to_string))
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql))
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap()
        .0
}

async fn the_first_owner_sets_up_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let code = domain::setup::code(&app.services);
    assert!(
        regex_like(&code),
        "XXXX-XXXX-XXXX from the unambiguous alphabet: {code}"
    );
    let b = app.browser();
    let page = b.get("/setup").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Set up Tenantry"));
    assert!(!page.body.contains(&code), "the page never shows the code");

    // Each refusal names its field and creates nothing.
    let email = "ada@example.com";
    assert_eq!(
        attempt(&b, &form("AAAA-BBBB-CCCC", email, PASSWORD, PASSWORD)).await,
        (400, Some("code".into()))
    );
    assert_eq!(
        attempt(&b, &form(&code, email, "password1234", "password1234")).await,
        (400, Some("password".into()))
    );
    assert_eq!(
        attempt(&b, &form(&code, email, PASSWORD, "something else entirely")).await,
        (400, Some("confirm_password".into()))
    );
    assert_eq!(
        attempt(&b, &form(&code, "not an email", PASSWORD, PASSWORD)).await,
        (400, Some("email".into()))
    );
    assert_eq!(count(&app, "users").await, 0);

    // The code is read forgivingly (case, spaces); the owner is signed in.
    let typed = code.to_lowercase().replace('-', " ");
    assert_eq!(
        attempt(&b, &form(&typed, email, PASSWORD, PASSWORD))
            .await
            .0,
        200
    );
    let shell: Value = serde_json::from_str(&b.call("/api/shell", &[]).await.body).unwrap();
    assert_eq!(shell["is_platform_operator"], true, "{shell}");
    assert_eq!(b.get("/admin/members").await.status, 200);
    let members: Value = serde_json::from_str(&b.call("/api/members", &[]).await.body).unwrap();
    assert_eq!(members["workspace"]["name"], "Acme MSP");
    assert_eq!(members["members"][0]["role"], "owner");
    // Signing in with the password works too.
    assert_eq!(app.browser().sign_in(email).await.status, 200);

    // Closed for good: the page and the function are 404, whatever is sent.
    assert_eq!(b.get("/setup").await.status, 404);
    assert_eq!(app.browser().get("/setup").await.status, 404);
    let again = app.browser();
    assert_eq!(
        attempt(&again, &form(&code, "eve@example.com", PASSWORD, PASSWORD))
            .await
            .0,
        404
    );
    assert_eq!(
        attempt(
            &again,
            &form("wrong", "eve@example.com", PASSWORD, PASSWORD)
        )
        .await
        .0,
        404,
        "a closed setup says nothing about codes"
    );
    assert_eq!(count(&app, "users").await, 1);
    let (detail,): (Option<String>,) =
        sqlx::query_as("SELECT detail FROM audit_log WHERE action = 'user.created'")
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!(
        detail.as_deref(),
        Some("platform operator, first-run setup")
    );
}

fn regex_like(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            p.len() == 4
                && p.bytes()
                    .all(|b| b"ABCDEFGHJKMNPQRSTUVWXYZ23456789".contains(&b))
        })
}

/// Many people racing for a fresh server: exactly one becomes its owner.
async fn a_raced_setup_has_one_winner(backend: Backend) {
    let app = spawn_app(backend).await;
    let code = domain::setup::code(&app.services);
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let b = app.browser();
            let form = form(&code, &format!("racer{i}@example.com"), PASSWORD, PASSWORD);
            tokio::spawn(async move { b.call("/api/setup", &form).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in racers {
        statuses.push(r.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 404, 404, 404, 404, 404, 404, 404]);
    assert_eq!(count(&app, "users").await, 1);
    assert_eq!(count(&app, "workspaces").await, 1);
    assert_eq!(count(&app, "platform_operators").await, 1);
}

/// Guessing the code is limited per address.
async fn guessing_the_code_is_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    let b = app.browser();
    for _ in 0..10 {
        let (s, _) = attempt(
            &b,
            &form("AAAA-BBBB-CCCC", "ada@example.com", PASSWORD, PASSWORD),
        )
        .await;
        assert_eq!(s, 400);
    }
    let code = domain::setup::code(&app.services);
    let r = b
        .call(
            "/api/setup",
            &form(&code, "ada@example.com", PASSWORD, PASSWORD),
        )
        .await;
    assert_eq!(r.status, 429, "even the right code waits: {}", r.body);
    assert_eq!(count(&app, "users").await, 0);
}

both_backends!(
    the_first_owner_sets_up_once,
    a_raced_setup_has_one_winner,
    guessing_the_code_is_limited
);
