//! Accounts: creation, sign-in failures, throttling, audit of sign-ins.

use crate::both_backends;
use crate::common::{Backend, PASSWORD, spawn_app, spawn_app_with, spawn_app_with_web};
use domain::services::Settings;

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

fn guess(email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("email", email.to_string()),
        ("password", "guess guess guess".into()),
    ]
}

/// A targeted account is slowed, not locked: past the limit its attempts are
/// spaced out; the ones that would wait too long are answered like a wrong
/// password without being checked (never revealing the throttle), and its
/// owner gets in once the guessing stops.
async fn a_targeted_account_is_slowed_not_locked(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Settings {
            account_attempt_spacing_ms: 150,
            account_attempt_max_wait_ms: 600,
            // All guesses come from 127.0.0.1 here; this test is about the account.
            address_failure_limit: 1_000,
            ..Settings::default()
        },
    )
    .await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    let wrong = b
        .call("/api/session/sign_in", &guess("ada@example.com"))
        .await;
    for _ in 0..4 {
        let r = b
            .call("/api/session/sign_in", &guess("ada@example.com"))
            .await;
        assert_eq!(r.status, 401);
    }
    // Twenty parallel guesses (as from many addresses): every one is counted
    // before any password is checked; only those whose slot comes within the
    // wait are checked, one per spacing.
    let started = std::time::Instant::now();
    let guesses: Vec<_> = (0..20)
        .map(|_| {
            let b = app.browser();
            async move {
                b.call("/api/session/sign_in", &guess("ada@example.com"))
                    .await
            }
        })
        .collect();
    let replies = futures::future::join_all(guesses).await;
    for r in &replies {
        assert_eq!(r.status, 401, "never 429 for an account: {}", r.body);
        assert_eq!(r.body, wrong.body, "the same words as a wrong password");
    }
    let (counted,): (i64,) = sqlx::query_as(
        "SELECT failures FROM sign_in_throttle WHERE throttle_key = 'account:ada@example.com'",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(counted, 25, "every attempt counted, parallel ones included");
    let (unchecked,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'session.sign_in_failed' AND detail = 'throttled'",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    // Slots 0, 150, …, 600 ms are checked (5); the other 15 are not.
    assert_eq!(unchecked, 15, "guesses beyond the wait were not checked");
    assert!(started.elapsed() >= std::time::Duration::from_millis(550));
    // While the queue of slots is full even the right password is refused,
    // with the same words; once the guessing stops its owner gets in.
    let r = b.sign_in("ada@example.com").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body, wrong.body);
    app.clock.advance_ms(5_000);
    assert_eq!(b.sign_in("ada@example.com").await.status, 200);
    // A success resets the account's count.
    let left: Option<(i64,)> = sqlx::query_as(
        "SELECT failures FROM sign_in_throttle WHERE throttle_key = 'account:ada@example.com'",
    )
    .fetch_optional(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert!(left.is_none());
}

/// Behind a reverse proxy the client's address comes from X-Forwarded-For,
/// but only when the proxy is trusted; anyone else's header is ignored.
async fn forwarded_addresses_only_from_trusted_proxies(backend: Backend) {
    let spray = |app: &crate::common::TestApp, forwarded: &'static str| {
        let b = app.browser();
        async move {
            let mut statuses = Vec::new();
            for i in 0..21 {
                let r = b
                    .client
                    .post(format!("{}/api/session/sign_in", b.base))
                    .header("sec-fetch-site", "same-origin")
                    .header("x-forwarded-for", format!("{forwarded}{i}"))
                    .form(&guess(&format!("user{i}@example.com")))
                    .send()
                    .await
                    .unwrap();
                statuses.push(r.status().as_u16());
            }
            statuses
        }
    };
    // Untrusted: the header is ignored, so 21 guesses from 127.0.0.1 trip
    // the address limit whatever the header says.
    let app = spawn_app(backend).await;
    let statuses = spray(&app, "198.51.100.").await;
    assert_eq!(statuses[20], 429, "{statuses:?}");
    // Trusted proxy: each forwarded client has its own count.
    let app = spawn_app_with_web(
        backend,
        Settings::default(),
        server::web::WebConfig {
            trusted_proxies: server::web::parse_trusted_proxies("127.0.0.1").unwrap(),
            ..Default::default()
        },
    )
    .await;
    let statuses = spray(&app, "198.51.100.").await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let (addresses,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM sign_in_throttle WHERE throttle_key LIKE 'address:198.51.100.%'",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(addresses, 21);
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
    a_targeted_account_is_slowed_not_locked,
    forwarded_addresses_only_from_trusted_proxies,
    repeated_failures_lock_the_address,
    sign_ins_are_audited_without_secrets,
    duplicate_accounts_are_refused,
    passwords_are_stored_as_argon2id,
);
