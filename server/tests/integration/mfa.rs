//! Two-step sign-in (issue 21): enrolment with an authenticator app, the
//! code after the password (once per code, throttled, timed out), recovery
//! codes, turning it off, and owners requiring it of every member.

use crate::both_backends;
use crate::common::{Backend, Browser, PASSWORD, TestApp, spawn_app};
use domain::clock::Clock;
use serde_json::Value;

async fn json(b: &Browser, path: &str, form: &[(&str, String)]) -> (u16, Value) {
    let r = b.call(path, form).await;
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

fn field(v: &Value) -> Option<&str> {
    v["field"].as_str()
}

/// The app's current code for `key` on the test clock.
fn code(app: &TestApp, key: &str) -> String {
    domain::mfa::code_for(key, app.clock.now_ms()).expect("a code")
}

/// Sets up two-step sign-in for a signed-in browser; answers the key and
/// the recovery codes.
async fn enrol(app: &TestApp, b: &Browser) -> (String, Vec<String>) {
    assert_eq!(b.call("/api/account/two_step/begin", &[]).await.status, 200);
    let (s, page) = json(b, "/api/account/two_step", &[]).await;
    assert_eq!(s, 200, "{page}");
    let key = page["Scan"]["key"].as_str().expect("a key").to_string();
    let svg = page["Scan"]["qr_svg"].as_str().expect("a QR code");
    assert!(svg.contains("<svg"), "an SVG QR code");
    let r = b
        .call(
            "/api/account/two_step/confirm",
            &[("code", code(app, &key))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, shown) = json(b, "/api/account/two_step", &[]).await;
    let codes: Vec<String> = shown["RecoveryCodes"]
        .as_array()
        .expect("the recovery codes, shown once")
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect();
    (key, codes)
}

/// Signs in with the password only; the browser then holds half a sign-in.
async fn password_step(app: &TestApp, email: &str) -> Browser {
    let b = app.browser();
    let r = b.sign_in(email).await;
    assert_eq!(r.status, 200, "{}", r.body);
    b
}

async fn give_code(b: &Browser, code: &str) -> (u16, Value) {
    json(b, "/api/session/code", &[("code", code.to_string())]).await
}

async fn signed_in(b: &Browser) -> bool {
    b.call("/api/account", &[]).await.status == 200
}

async fn enrol_and_sign_in_with_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("alex@example.com", false).await;
    let (_, page) = json(&b, "/api/account", &[]).await;
    assert_eq!(page["mfa"]["enabled_at"], Value::Null);
    let (_, page) = json(&b, "/api/account/two_step", &[]).await;
    assert_eq!(page, Value::String("NotStarted".into()));

    // A wrong code does not turn it on.
    assert_eq!(b.call("/api/account/two_step/begin", &[]).await.status, 200);
    let (_, scan) = json(&b, "/api/account/two_step", &[]).await;
    let key = scan["Scan"]["key"].as_str().unwrap().to_string();
    let right = code(&app, &key);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let (s, e) = json(
        &b,
        "/api/account/two_step/confirm",
        &[("code", wrong.into())],
    )
    .await;
    assert_eq!((s, field(&e)), (400, Some("code")), "{e}");
    let (_, page) = json(&b, "/api/account", &[]).await;
    assert_eq!(page["mfa"]["enrolling"], true);
    // The app's code turns it on; the recovery codes are shown once.
    let r = b
        .call("/api/account/two_step/confirm", &[("code", right.clone())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, shown) = json(&b, "/api/account/two_step", &[]).await;
    let codes: Vec<String> = shown["RecoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    let (_, again) = json(&b, "/api/account/two_step", &[]).await;
    assert_eq!(again, Value::String("Enabled".into()), "shown once only");
    let (_, page) = json(&b, "/api/account", &[]).await;
    assert!(page["mfa"]["enabled_at"].is_i64());
    assert_eq!(page["mfa"]["recovery_left"], 10);
    // Neither the secret nor the codes are stored in the clear.
    let (sealed,): (String,) = sqlx::query_as("SELECT secret_sealed FROM user_totp")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert!(!sealed.contains(&key.replace(' ', "")));
    let hashes: Vec<(String,)> = sqlx::query_as("SELECT code_hash FROM recovery_codes")
        .fetch_all(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(hashes.len(), 10);
    assert!(
        hashes
            .iter()
            .all(|(h,)| !codes.iter().any(|c| h.contains(&c.replace('-', ""))))
    );
    // Starting over while on is refused (turn it off first).
    assert_eq!(b.call("/api/account/two_step/begin", &[]).await.status, 409);

    // Signing in now takes the password and then a code.
    let half = password_step(&app, "alex@example.com").await;
    assert!(!signed_in(&half).await, "half a sign-in signs nothing in");
    assert_eq!(half.get("/admin").await.status, 303);
    let (_, p) = json(&half, "/api/session/code_page", &[]).await;
    assert_eq!(p["email"], "alex@example.com");
    assert!(
        half.get("/sign-in/code")
            .await
            .body
            .contains("alex@example.com"),
        "the code page names the account"
    );
    // The code used to confirm belongs to this step: it works once only.
    let (s, e) = give_code(&half, &right).await;
    assert_eq!((s, field(&e)), (400, Some("code")), "a replayed code: {e}");
    let (s, _) = give_code(&half, "not a code").await;
    assert_eq!(s, 400);
    app.clock.advance_ms(30_000);
    let fresh = code(&app, &key);
    let (s, e) = give_code(&half, &fresh).await;
    assert_eq!(s, 200, "{e}");
    assert!(signed_in(&half).await);
    // The same code on another sign-in is refused (it was spent).
    let other = password_step(&app, "alex@example.com").await;
    let (s, _) = give_code(&other, &fresh).await;
    assert_eq!(s, 400, "a spent code");
    // A recovery code works once, in any case and spacing.
    let recovery = codes[0].to_uppercase().replace('-', " - ");
    let (s, e) = give_code(&other, &recovery).await;
    assert_eq!(s, 200, "{e}");
    let (_, page) = json(&other, "/api/account", &[]).await;
    assert_eq!(page["mfa"]["recovery_left"], 9);
    let third = password_step(&app, "alex@example.com").await;
    let (s, _) = give_code(&third, &codes[0]).await;
    assert_eq!(s, 400, "a used recovery code");

    // Five wrong codes end the waiting sign-in.
    for _ in 0..4 {
        assert_eq!(give_code(&third, "000000").await.0, 400);
    }
    let (_, p) = json(&third, "/api/session/code_page", &[]).await;
    assert_eq!(p["email"], "alex@example.com", "still waiting after four");
    assert_eq!(give_code(&third, "000000").await.0, 400);
    let (s, e) = give_code(&third, &codes[1]).await;
    assert_eq!(s, 400, "the sixth try, right or not, must start over: {e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Sign in again"),
        "{e}"
    );
    assert_eq!(
        json(&third, "/api/session/code_page", &[]).await.1,
        Value::Null
    );

    // A waiting sign-in times out after five minutes.
    let slow = password_step(&app, "alex@example.com").await;
    app.clock.advance_ms(domain::mfa::CODE_WAIT_MS);
    let (s, _) = give_code(&slow, &code(&app, &key)).await;
    assert_eq!(s, 400, "timed out");
    assert!(!signed_in(&slow).await);

    // Audited: the two sign-ins with their second step, the wrong codes.
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, detail FROM audit_log WHERE action IN ('session.signed_in', 'account.mfa_enabled') ORDER BY id",
    )
    .fetch_all(app.services.store.unguarded_pool())
    .await
    .unwrap();
    let details: Vec<String> = rows
        .iter()
        .map(|(a, d)| format!("{a} {}", d.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        details,
        vec![
            "session.signed_in ".to_string(),
            "account.mfa_enabled ".to_string(),
            "session.signed_in with an authenticator code".to_string(),
            "session.signed_in with a recovery code (9 left)".to_string(),
        ]
    );
    let (wrong_codes,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'session.sign_in_failed' AND detail = 'wrong code'",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert!(wrong_codes >= 7, "{wrong_codes}");

    // Turning it off takes the password; then the password alone signs in.
    let (s, e) = json(
        &half,
        "/api/account/two_step/off",
        &[("current_password", "not my password at all".into())],
    )
    .await;
    assert_eq!((s, field(&e)), (400, Some("current_password")));
    let (s, _) = json(
        &half,
        "/api/account/two_step/off",
        &[("current_password", PASSWORD.into())],
    )
    .await;
    assert_eq!(s, 200);
    let plain = password_step(&app, "alex@example.com").await;
    assert!(signed_in(&plain).await, "no code asked any more");
}

/// New recovery codes replace the old ones (the password first).
async fn recovery_codes_renew(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("alex@example.com", false).await;
    let (_, old) = enrol(&app, &b).await;
    let (s, e) = json(
        &b,
        "/api/account/two_step/codes",
        &[("current_password", "not my password at all".into())],
    )
    .await;
    assert_eq!((s, field(&e)), (400, Some("current_password")));
    let (s, _) = json(
        &b,
        "/api/account/two_step/codes",
        &[("current_password", PASSWORD.into())],
    )
    .await;
    assert_eq!(s, 200);
    let (_, shown) = json(&b, "/api/account/two_step", &[]).await;
    let new: Vec<String> = shown["RecoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));
    let half = password_step(&app, "alex@example.com").await;
    assert_eq!(give_code(&half, &old[0]).await.0, 400, "old codes stop");
    assert_eq!(give_code(&half, &new[0]).await.0, 200);

    // Phone and codes lost: the server's operator resets it from the command
    // line; every session ends and the password alone signs in again.
    let email = domain::validate::Email::parse("alex@example.com").unwrap();
    let ended = domain::mfa::reset_by_operator(&app.services, &email)
        .await
        .unwrap();
    assert!(ended >= 2, "{ended}");
    assert!(!signed_in(&half).await);
    let plain = password_step(&app, "alex@example.com").await;
    assert!(signed_in(&plain).await);
    let nobody = domain::validate::Email::parse("nobody@example.com").unwrap();
    assert_eq!(
        domain::mfa::reset_by_operator(&app.services, &nobody).await,
        Err(domain::AppError::NotFound)
    );
}

/// Owners require two-step sign-in; members without it can reach only their
/// account until they set it up.
async fn owners_require_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner_id, owner) = app.user_browser("owner@example.com", false).await;
    assert_eq!(
        owner
            .call("/api/workspaces/create", &[("name", "Acme MSP".into())])
            .await
            .status,
        200
    );
    let ws = domain::workspaces::list_for_user(&app.services, owner_id)
        .await
        .unwrap()[0]
        .id;
    let owner_actor = app.actor(owner_id, "owner@example.com");
    for (email, role) in [
        ("manager@example.com", domain::rbac::Role::Manager),
        ("tech@example.com", domain::rbac::Role::Operator),
    ] {
        app.create_user(email, false).await;
        domain::workspaces::add_member_directly(&app.services, &owner_actor, ws, email, role)
            .await
            .unwrap();
    }
    let manager = app.browser();
    assert_eq!(manager.sign_in("manager@example.com").await.status, 200);
    let tech = app.browser();
    assert_eq!(tech.sign_in("tech@example.com").await.status, 200);
    async fn require(b: &Browser, ws: domain::ids::WorkspaceId, on: &str) -> u16 {
        let form = [("workspace", ws.to_string()), ("required", on.to_string())];
        b.call("/api/members/require_two_step", &form).await.status
    }
    // Managers manage members but only owners change this; junk is refused.
    assert_eq!(require(&manager, ws, "on").await, 403);
    assert_eq!(require(&owner, ws, "maybe").await, 400);
    assert_eq!(require(&tech, ws, "on").await, 403);
    assert_eq!(
        tech.get("/admin/tenants").await.status,
        200,
        "not yet required"
    );
    // The owner enrols first (else they are sent to set it up too).
    enrol(&app, &owner).await;
    assert_eq!(require(&owner, ws, "on").await, 200);
    let members = owner.get("/admin/members").await;
    assert!(members.body.contains("data-required=\"true\""));
    assert!(
        members.body.contains(">Two-step sign-in</th>"),
        "the members' column"
    );

    // The technician is sent to set it up before anything else.
    let r = tech.get("/admin/tenants").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some("/admin/account/two-step?required=1")
    );
    let (s, e) = json(&tech, "/api/tenants", &[]).await;
    assert_eq!(s, 403, "{e}");
    assert_eq!(e["kind"], "mfa_required", "{e}");
    let words = serde_json::from_value::<domain::AppError>(e)
        .unwrap()
        .operator_message();
    assert!(words.contains("requires two-step sign-in"), "{words}");
    let (s, page) = json(&tech, "/api/account", &[]).await;
    assert_eq!(s, 200);
    assert_eq!(page["mfa"]["required_by"][0], "Acme MSP");
    assert_eq!(tech.get("/admin/account").await.status, 200);
    assert_eq!(
        tech.get("/admin/account/two-step?required=1").await.status,
        200
    );
    let (_, shell) = json(&tech, "/api/shell", &[]).await;
    assert!(shell.is_object(), "the shell frames the account page");
    // Once set up, everything is back.
    enrol(&app, &tech).await;
    assert_eq!(tech.get("/admin/tenants").await.status, 200);
    assert_eq!(json(&tech, "/api/tenants", &[]).await.0, 200);
    let members = owner.get("/admin/members").await;
    assert!(
        members.body.contains("1 of 3 member(s) have it off."),
        "{}",
        members.body.len()
    );

    // Turning it off again while required sends them straight back.
    let (s, _) = json(
        &tech,
        "/api/account/two_step/off",
        &[("current_password", PASSWORD.into())],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(tech.get("/admin/tenants").await.status, 303);
    // Optional again: nobody is held.
    assert_eq!(require(&owner, ws, "off").await, 200);
    assert_eq!(tech.get("/admin/tenants").await.status, 200);
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT outcome, detail FROM audit_log WHERE action = 'workspace.mfa_requirement_changed' ORDER BY id",
    )
    .fetch_all(app.services.store.unguarded_pool())
    .await
    .unwrap();
    let rows: Vec<String> = rows
        .iter()
        .map(|(o, d)| match o.as_str() {
            "succeeded" => format!("{o} {}", d.as_deref().unwrap_or("")),
            _ => o.clone(),
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            "denied",
            "denied",
            "succeeded required",
            "succeeded optional"
        ]
    );
}

/// Issue 30.3: wrong authenticator codes have a hard cap per account,
/// across sign-ins (and addresses): after ten in a row, codes are not
/// checked until a recovery code is used; the person is told once.
async fn wrong_codes_have_a_hard_cap(backend: Backend) {
    // Every attempt here comes from 127.0.0.1; the cap is the account's.
    let app = crate::common::app(backend)
        .settings(domain::services::Settings {
            address_failure_limit: 1_000,
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
    let (user, b) = app.user_browser("alex@example.com", false).await;
    let (key, recovery) = enrol(&app, &b).await;
    let failures = || async {
        sqlx::query_as::<_, (i64,)>("SELECT code_failures FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap()
            .0
    };
    let wrong = |app: &TestApp| {
        let right = code(app, &key);
        if right == "000000" {
            "111111"
        } else {
            "000000"
        }
        .to_string()
    };
    // Ten wrong codes over three sign-ins (four per sign-in here).
    let stop_codes = || async {
        let mut given = 0;
        let mut last = Value::Null;
        while given < domain::mfa::CODE_FAILURE_CAP {
            let half = password_step(&app, "alex@example.com").await;
            for _ in 0..4 {
                if given == domain::mfa::CODE_FAILURE_CAP {
                    break;
                }
                app.clock.advance_ms(2_000);
                let (s, e) = give_code(&half, &wrong(&app)).await;
                assert_eq!(s, 400, "{e}");
                last = e;
                given += 1;
            }
        }
        last
    };
    let last = stop_codes().await;
    assert_eq!(failures().await, domain::mfa::CODE_FAILURE_CAP);
    assert_eq!(
        last["message"],
        domain::mfa::CODES_STOPPED_WORDS,
        "said at once"
    );
    // Now even the right code from the app is not checked (nor counted).
    let half = password_step(&app, "alex@example.com").await;
    app.clock.advance_ms(30_000);
    let (s, e) = give_code(&half, &code(&app, &key)).await;
    assert_eq!(s, 400);
    assert_eq!(e["message"], domain::mfa::CODES_STOPPED_WORDS);
    assert!(!signed_in(&half).await);
    assert_eq!(failures().await, domain::mfa::CODE_FAILURE_CAP);
    let (told,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'session.codes_limited'")
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!(told, 1, "audited once");
    let (mails,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM mail_outbox WHERE recipient = 'alex@example.com' AND subject LIKE '%two-step codes stopped%'",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(mails, 1, "mailed once");
    // A recovery code still works, and turns codes on again.
    let (s, e) = give_code(&half, &recovery[0]).await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(failures().await, 0);
    let again = password_step(&app, "alex@example.com").await;
    app.clock.advance_ms(30_000);
    let (s, e) = give_code(&again, &code(&app, &key)).await;
    assert_eq!(s, 200, "{e}");

    // Stopped again, recovery codes lost: an owner of their workspace turns
    // codes on again (managers may not; the members page shows it).
    let (_, owner, ws) = app.signed_in_owner_of("owner@example.com", "MSP").await;
    sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'manager', 0)")
        .bind(ws.0)
        .bind(user.0)
        .execute(app.services.store.unguarded_pool())
        .await
        .unwrap();
    stop_codes().await;
    let (_, members) = json(&owner, "/api/members", &[]).await;
    let alex = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "alex@example.com")
        .unwrap()
        .clone();
    assert_eq!(alex["codes_stopped"], true);
    let allow = [("workspace", ws.to_string()), ("member", user.to_string())];
    assert_eq!(
        again.call("/api/members/allow_codes", &allow).await.status,
        403,
        "a manager (even the member) may not"
    );
    assert_eq!(
        owner.call("/api/members/allow_codes", &allow).await.status,
        200
    );
    assert_eq!(failures().await, 0);
    assert_eq!(
        owner.call("/api/members/allow_codes", &allow).await.status,
        409,
        "nothing stopped any more"
    );
    let back = password_step(&app, "alex@example.com").await;
    app.clock.advance_ms(30_000);
    let (s, e) = give_code(&back, &code(&app, &key)).await;
    assert_eq!(s, 200, "{e}");
}

both_backends!(
    wrong_codes_have_a_hard_cap,
    enrol_and_sign_in_with_codes,
    recovery_codes_renew,
    owners_require_it
);
