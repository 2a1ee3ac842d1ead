//! Accounts: creation, sign-in failures, throttling, audit of sign-ins.

use crate::both_backends;
use crate::common::{Backend, PASSWORD, spawn_app};

async fn wrong_password_and_unknown_account_look_the_same(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    let wrong = b
        .call(
            "/api/session/sign_in",
            &[
                ("email", "ada@example.com".into()),
                ("password", "not the password".into()),
            ],
        )
        .await;
    let unknown = b
        .call(
            "/api/session/sign_in",
            &[
                ("email", "nobody@example.com".into()),
                ("password", "not the password".into()),
            ],
        )
        .await;
    let malformed = b
        .call(
            "/api/session/sign_in",
            &[("email", "not-an-email".into()), ("password", "x".into())],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body, malformed.body);
    assert!(wrong.headers.get("set-cookie").is_none());
}

async fn repeated_failures_lock_the_account(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    for _ in 0..5 {
        let r = b
            .call(
                "/api/session/sign_in",
                &[
                    ("email", "ada@example.com".into()),
                    ("password", "guess guess guess".into()),
                ],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    // Now even the right password is refused, with the same words.
    let r = b.sign_in("ada@example.com").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("sign_in_failed"));
    // After the lockout the right password works again.
    app.clock.advance_ms(15 * 60_000 + 1);
    assert_eq!(b.sign_in("ada@example.com").await.status, 200);
}

async fn repeated_failures_lock_the_address(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    // Spraying many accounts from one address trips the address limit.
    for i in 0..20 {
        let r = b
            .call(
                "/api/session/sign_in",
                &[
                    ("email", format!("user{i}@example.com")),
                    ("password", "guess".into()),
                ],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(b.sign_in("ada@example.com").await.status, 429);
}

async fn sign_ins_are_audited_without_secrets(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    b.call(
        "/api/session/sign_in",
        &[
            ("email", "ada@example.com".into()),
            ("password", "a wrong secret".into()),
        ],
    )
    .await;
    b.sign_in("ada@example.com").await;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT action, target, outcome FROM audit_log WHERE action LIKE 'session.%' ORDER BY id",
    )
    .fetch_all(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "session.sign_in_failed".into(),
                "ada@example.com".into(),
                "denied".into()
            ),
            (
                "session.signed_in".into(),
                "ada@example.com".into(),
                "succeeded".into()
            ),
        ]
    );
    let all: Vec<(String,)> =
        sqlx::query_as("SELECT COALESCE(detail, '') || target FROM audit_log")
            .fetch_all(app.services.store.unguarded_pool())
            .await
            .unwrap();
    assert!(
        all.iter()
            .all(|(t,)| !t.contains("wrong secret") && !t.contains(PASSWORD))
    );
}

async fn duplicate_accounts_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let again = domain::accounts::create_user(
        &app.services,
        &domain::validate::Email::parse("ADA@example.com").unwrap(),
        &domain::validate::NewPassword::parse(PASSWORD).unwrap(),
        false,
    )
    .await;
    assert!(
        matches!(again, Err(domain::AppError::Conflict { .. })),
        "{again:?}"
    );
}

async fn passwords_are_stored_as_argon2id(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

both_backends!(
    wrong_password_and_unknown_account_look_the_same,
    repeated_failures_lock_the_account,
    repeated_failures_lock_the_address,
    sign_ins_are_audited_without_secrets,
    duplicate_accounts_are_refused,
    passwords_are_stored_as_argon2id,
);
