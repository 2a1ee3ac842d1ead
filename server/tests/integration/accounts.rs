//! Accounts: creation, sign-in failures, throttling, audit of sign-ins.

use crate::both_backends;
use crate::common::{Backend, PASSWORD, spawn_app};
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

/// A browser posting as a client at `address` (through the trusted proxy).
async fn attempt_from(
    b: &crate::common::Browser,
    address: &str,
    email: &str,
    password: &str,
) -> crate::common::Reply {
    let res = b
        .client
        .post(format!("{}/api/session/sign_in", b.base))
        .header("sec-fetch-site", "same-origin")
        .header("accept", "application/json")
        .header("x-forwarded-for", address)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    crate::common::Reply {
        status: res.status().as_u16(),
        location: None,
        headers: res.headers().clone(),
        body: res.text().await.unwrap_or_default(),
    }
}

async fn count(app: &crate::common::TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap()
        .0
}

/// Issue 30.2: guessing from many addresses cannot keep a member out of the
/// browser they signed in with before (its device cookie); browsers the
/// account does not know get `account_failure_limit` checked guesses per
/// window, refused guesses extend nothing, and the owner is told once.
async fn nobody_can_lock_a_member_out_of_their_own_browser(backend: Backend) {
    let app = crate::common::app(backend)
        .web(server::web::WebConfig {
            trusted_proxies: server::web::parse_trusted_proxies("127.0.0.1").unwrap(),
            ..Default::default()
        })
        .mail(
            domain::mail::MailConfig::parse(
                "smtp://127.0.0.1:9",
                "tenantry@example.com",
                std::time::Duration::from_secs(1),
            )
            .unwrap(),
        )
        .spawn()
        .await;
    app.create_user("ada@example.com", false).await;
    // Ada's own browser signs in once (and gets the device cookie).
    let own = app.browser();
    let r = attempt_from(&own, "203.0.113.7", "ada@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let set: Vec<_> = r.headers.get_all("set-cookie").iter().collect();
    let device = set
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tenantry_device="))
        .expect("a device cookie");
    assert!(
        device.contains("HttpOnly") && device.contains("SameSite=Strict"),
        "{device}"
    );
    own.call("/api/session/sign_out", &[]).await;

    // 40 wrong passwords from 40 addresses, as the review did.
    let wrong_words = attempt_from(
        &app.browser(),
        "198.51.100.200",
        "ada@example.com",
        "nope nope nope",
    )
    .await
    .body;
    for i in 0..39 {
        let r = attempt_from(
            &app.browser(),
            &format!("198.51.100.{i}"),
            "ada@example.com",
            "nope nope nope",
        )
        .await;
        assert_eq!(r.status, 401, "never 429 for an account");
        assert_eq!(r.body, wrong_words, "the same words as a wrong password");
    }
    // Only the first five were checked; the rest were not, and not counted.
    assert_eq!(
        count(
            &app,
            "SELECT failures FROM sign_in_throttle WHERE throttle_key = 'account:ada@example.com'"
        )
        .await,
        5
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'session.sign_in_failed' AND detail = 'throttled'").await,
        35
    );
    // The owner is told once: an audit entry and a mail.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'session.sign_in_limited'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM mail_outbox WHERE recipient = 'ada@example.com'"
        )
        .await,
        1
    );
    // Ada's own browser still gets in, from anywhere, with the right password.
    let r = attempt_from(&own, "192.0.2.1", "ada@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "her own browser is not held: {}", r.body);
    own.call("/api/session/sign_out", &[]).await;
    // A browser the account does not know is refused, right password or not.
    let r = attempt_from(&app.browser(), "192.0.2.2", "ada@example.com", PASSWORD).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body, wrong_words);
    // …until the window ends: the refusals did not extend it.
    app.clock
        .advance_ms(Settings::default().throttle_window_ms + 1);
    let r = attempt_from(&app.browser(), "192.0.2.3", "ada@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A copied or forged cookie for another account is no device cookie:
    // a browser holding Ada's token is a stranger to Bob's account.
    app.create_user("bob@example.com", false).await;
    for i in 0..6 {
        attempt_from(
            &own,
            &format!("198.51.101.{i}"),
            "bob@example.com",
            "nope nope nope",
        )
        .await;
    }
    assert_eq!(
        count(
            &app,
            "SELECT failures FROM sign_in_throttle WHERE throttle_key = 'account:bob@example.com'"
        )
        .await,
        5
    );

    // Her own browser has a limit of its own: ten wrong passwords, then 429
    // for it alone (the account's count untouched by it).
    let before = count(
        &app,
        "SELECT COUNT(*) FROM sign_in_throttle WHERE throttle_key = 'account:ada@example.com'",
    )
    .await;
    for _ in 0..10 {
        let r = attempt_from(&own, "192.0.2.1", "ada@example.com", "nope nope nope").await;
        assert_eq!(r.status, 401);
    }
    let r = attempt_from(&own, "192.0.2.1", "ada@example.com", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM sign_in_throttle WHERE throttle_key = 'account:ada@example.com'"
        )
        .await,
        before
    );
}

/// An address past its limit is refused without its refusals counting:
/// once the window ends it may try again (and it never touched the account).
async fn refused_attempts_do_not_extend_an_address_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    for i in 0..20 {
        let r = b
            .call(
                "/api/session/sign_in",
                &guess(&format!("user{i}@example.com")),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    // A refusal a minute for 14 minutes: each refused, none counted.
    for _ in 0..14 {
        app.clock.advance_ms(60_000);
        assert_eq!(
            b.call("/api/session/sign_in", &guess("ada@example.com"))
                .await
                .status,
            429
        );
    }
    assert_eq!(
        count(
            &app,
            "SELECT failures FROM sign_in_throttle WHERE throttle_key = 'address:127.0.0.1'"
        )
        .await,
        20
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM sign_in_throttle WHERE throttle_key = 'account:ada@example.com'"
        )
        .await,
        0,
        "refused at the address: the account was never counted"
    );
    // The window (15 minutes from the first attempt) ends on time.
    app.clock.advance_ms(60_000 + 1);
    assert_eq!(b.sign_in("ada@example.com").await.status, 200);
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
                    .header("accept", "application/json")
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
    let app = crate::common::app(backend)
        .web(server::web::WebConfig {
            trusted_proxies: server::web::parse_trusted_proxies("127.0.0.1").unwrap(),
            ..Default::default()
        })
        .spawn()
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

/// Sign-in and setup load no script: their forms post plainly; a refusal
/// comes back to the page (303) with the error in words, the email kept and
/// never the password, once; success is the usual redirect; the islands'
/// JSON answers are unchanged; a forged or another page's answer is ignored.
async fn sign_in_works_without_script(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    let page = b.get("/sign-in").await;
    assert_eq!(page.status, 200);
    // Leptos's few inline bytes for resources stay; the islands do not load.
    assert!(
        !page.body.contains("tenantry.js"),
        "no islands on the sign-in page"
    );
    assert!(!page.body.contains("_bg.wasm") && !page.body.contains("type=\"module\""));
    let refused = b
        .post_plainly(
            "/api/session/sign_in",
            &[
                ("email", "ada@example.com"),
                ("password", "not the password"),
                ("next", "/admin/tenants"),
            ],
        )
        .await;
    assert_eq!(refused.status, 303);
    assert_eq!(
        refused.location.as_deref(),
        Some("/sign-in?next=/admin/tenants")
    );
    let cookie = refused
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.starts_with("tenantry_form_error="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("Max-Age=120"));
    assert!(
        !cookie.contains("not the password") && !cookie.contains("ada@example.com"),
        "sealed"
    );
    let again = b.get("/sign-in?next=%2Fadmin%2Ftenants").await;
    assert!(
        again
            .body
            .contains("<p role=\"alert\" id=\"form-error\" class=\"form-error\">Sign-in failed."),
        "the error in words: {}",
        &again.body[again.body.find("<form").unwrap_or(0)..]
    );
    assert!(
        again.body.contains("value=\"ada@example.com\""),
        "the email kept"
    );
    assert!(
        !again.body.contains("not the password"),
        "never the password"
    );
    assert!(
        again.body.contains("value=\"/admin/tenants\""),
        "still on the way"
    );
    assert!(
        again.headers.get_all("set-cookie").iter().any(|v| v
            .to_str()
            .is_ok_and(|v| v.starts_with("tenantry_form_error=;") && v.contains("Max-Age=0"))),
        "read once"
    );
    let third = b.get("/sign-in").await;
    assert!(!third.body.contains("form-error"), "shown once");
    // The islands' way still answers JSON with the error's status.
    let json = b
        .call(
            "/api/session/sign_in",
            &[
                ("email", "ada@example.com".into()),
                ("password", "nope".into()),
            ],
        )
        .await;
    assert_eq!(json.status, 401);
    // A cookie nobody sealed, or sealed for another page, shows nothing.
    let forged = reqwest::Client::new()
        .get(format!("{}/sign-in", b.base))
        .header("cookie", "tenantry_form_error=v1.deadbeef")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);
    assert!(!forged.text().await.unwrap().contains("form-error"));
    let code = b
        .post_plainly("/api/session/code", &[("code", "123456")])
        .await;
    assert_eq!(code.status, 303);
    assert_eq!(code.location.as_deref(), Some("/sign-in/code"));
    let elsewhere = b.get("/sign-in").await;
    assert!(
        !elsewhere.body.contains("form-error"),
        "another page's answer"
    );
    // Success: the server function's redirect, to where they were going.
    let ok = b
        .post_plainly(
            "/api/session/sign_in",
            &[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("next", "/admin/tenants"),
            ],
        )
        .await;
    assert!(matches!(ok.status, 302 | 303), "{}", ok.status);
    assert_eq!(ok.location.as_deref(), Some("/admin/tenants"));
    let console = b.get("/admin/tenants").await;
    assert_eq!(console.status, 200);
    assert!(
        console.body.contains("tenantry.js"),
        "the console loads its islands"
    );
}

both_backends!(
    sign_in_works_without_script,
    wrong_password_and_unknown_account_look_the_same,
    nobody_can_lock_a_member_out_of_their_own_browser,
    refused_attempts_do_not_extend_an_address_limit,
    forwarded_addresses_only_from_trusted_proxies,
    repeated_failures_lock_the_address,
    sign_ins_are_audited_without_secrets,
    duplicate_accounts_are_refused,
    passwords_are_stored_as_argon2id,
);
