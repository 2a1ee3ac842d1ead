//! The account page (issue 21, first part): the sessions a person has, with
//! device and address; ending one or all others; changing the password with
//! the current one (wrong ones audited and limited), which ends every other
//! session and leaves this one signed in.

use crate::both_backends;
use crate::common::{Backend, Browser, PASSWORD, spawn_app};
use serde_json::Value;

const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0";

async fn account(b: &Browser) -> (u16, Value) {
    let r = b.call("/api/account", &[]).await;
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

async fn sessions_and_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, laptop) = app.user_browser("alex@example.com", false).await;
    let phone = Browser::with_agent(&app, FIREFOX);
    assert_eq!(phone.sign_in("alex@example.com").await.status, 200);
    let (_, other) = app.user_browser("sam@example.com", false).await;

    // Both sessions listed, this one marked, the other with its device.
    let (s, page) = account(&laptop).await;
    assert_eq!(s, 200, "{page}");
    let list = page["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["current"], true, "the current session first");
    let firefox = list
        .iter()
        .find(|s| s["device"] == "Firefox on Windows")
        .unwrap();
    assert_eq!(firefox["current"], false);
    assert!(firefox["address"].is_string());
    let handle = firefox["id"].as_str().unwrap().to_string();
    assert!(!page.to_string().contains("id_hash"));
    // Someone else cannot end it, nor can the page end its own session.
    let r = other
        .call("/api/account/end_session", &[("session", handle.clone())])
        .await;
    assert_eq!(r.status, 404);
    let own = list[0]["id"].as_str().unwrap().to_string();
    let r = laptop
        .call("/api/account/end_session", &[("session", own)])
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(account(&phone).await.0, 200, "still signed in");
    let r = laptop
        .call("/api/account/end_session", &[("session", handle.clone())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(account(&phone).await.0, 401, "ended");
    let r = laptop
        .call("/api/account/end_session", &[("session", handle)])
        .await;
    assert_eq!(r.status, 404, "gone already");

    // Changing the password: the refusals name their field.
    assert_eq!(phone.sign_in("alex@example.com").await.status, 200);
    let change = |current: &str, new: &str, confirm: &str| {
        let form = vec![
            ("current_password", current.to_string()),
            ("new_password", new.to_string()),
            ("confirm_password", confirm.to_string()),
        ];
        let laptop = &laptop;
        async move {
            let r = laptop.call("/api/account/password", &form).await;
            let e: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            (r.status, e["field"].as_str().map(str::to_string))
        }
    };
    let fresh = "a different long passphrase";
    assert_eq!(
        change("wrong password here", fresh, fresh).await,
        (400, Some("current_password".into()))
    );
    assert_eq!(
        change(PASSWORD, "short", "short").await,
        (400, Some("new_password".into()))
    );
    assert_eq!(
        change(PASSWORD, fresh, "something else entirely").await,
        (400, Some("confirm_password".into()))
    );
    assert_eq!(
        change(PASSWORD, PASSWORD, PASSWORD).await,
        (400, Some("new_password".into()))
    );
    assert_eq!(account(&phone).await.0, 200, "nothing changed yet");
    let (s, _) = change(PASSWORD, fresh, fresh).await;
    assert_eq!(s, 200);
    // This session stays, the other ends; the old password no longer works.
    assert_eq!(account(&laptop).await.0, 200);
    assert_eq!(account(&phone).await.0, 401);
    let again = app.browser();
    assert_eq!(again.sign_in("alex@example.com").await.status, 401);
    let r = again
        .call(
            "/api/session/sign_in",
            &[
                ("email", "alex@example.com".into()),
                ("password", fresh.into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Sign out everywhere else.
    let r = laptop.call("/api/account/end_others", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(account(&again).await.0, 401);
    assert_eq!(account(&laptop).await.0, 200);
    // Audited: one wrong current password, the change, the sessions ended.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, outcome FROM audit_log WHERE action IN ('account.password_changed', 'session.ended') ORDER BY id",
    )
    .fetch_all(app.services.store.unguarded_pool())
    .await
    .unwrap();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(a, o)| (a.as_str(), o.as_str())).collect();
    assert_eq!(
        rows,
        vec![
            ("session.ended", "succeeded"),
            ("account.password_changed", "denied"),
            ("account.password_changed", "succeeded"),
            ("session.ended", "succeeded"),
        ]
    );
    // The page renders for a signed-in person; anonymous visitors go to sign in.
    let r = laptop.get("/admin/account").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Where you are signed in") && r.body.contains("Change your password"));
    assert_eq!(app.browser().get("/admin/account").await.status, 303);
}

/// A stolen session cannot guess the current password on and on.
async fn current_password_checks_are_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("alex@example.com", false).await;
    let limit = domain::limits::AbuseLimits::default().password_checks;
    for _ in 0..limit {
        let r = b
            .call(
                "/api/account/password",
                &[
                    ("current_password", "a wrong guess here".into()),
                    ("new_password", "whatever long enough".into()),
                    ("confirm_password", "whatever long enough".into()),
                ],
            )
            .await;
        assert_eq!(r.status, 400);
    }
    let r = b
        .call(
            "/api/account/password",
            &[
                ("current_password", PASSWORD.into()),
                ("new_password", "whatever long enough".into()),
                ("confirm_password", "whatever long enough".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 429, "even the right one waits: {}", r.body);
}

/// Times show in the person's time zone, with the UTC instant on hover.
async fn times_show_in_the_chosen_zone(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("alex@example.com", false).await;
    let (_, page) = account(&b).await;
    assert_eq!(page["time_zone"], Value::Null, "UTC until chosen");
    let zones = page["time_zones"].as_array().unwrap();
    assert_eq!(zones[0], "UTC");
    assert!(zones.iter().any(|z| z == "Europe/Paris"));
    let utc = domain::views::format_utc(crate::common::T0);
    assert!(b.get("/admin/account").await.body.contains(&utc));
    // Unknown zones are refused on their field and change nothing.
    for bad in ["Europe/Atlantis", "<script>", &"A/".repeat(40)] {
        let r = b
            .call("/api/account/time_zone", &[("time_zone", bad.to_string())])
            .await;
        let e: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        assert_eq!(
            (r.status, e["field"].as_str()),
            (400, Some("time_zone")),
            "{bad}"
        );
    }
    let r = b
        .call(
            "/api/account/time_zone",
            &[("time_zone", "europe/paris".into())],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(account(&b).await.1["time_zone"], "Europe/Paris");
    // The session list's times read relative to now, with the exact time
    // in Paris and in UTC on hover.
    let local = domain::time_zones::format(crate::common::T0, Some("Europe/Paris"));
    assert_ne!(local, utc);
    let html = b.get("/admin/account").await.body;
    assert!(
        html.contains(&format!("title=\"{local} (00:00 UTC)\">just now</time>")),
        "{local} and {utc} on hover"
    );
    // Another person still sees UTC.
    let (_, other) = app.user_browser("sam@example.com", false).await;
    let html = other.get("/admin/account").await.body;
    assert!(html.contains(&format!("title=\"{utc}\">just now</time>")));
    // Back to UTC.
    let r = b
        .call("/api/account/time_zone", &[("time_zone", "UTC".into())])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(account(&b).await.1["time_zone"], Value::Null);
}

/// The colour theme is each person's: the page's `<html>` carries it, the user
/// menu marks it, another person keeps following their device.
async fn the_theme_is_remembered_per_person(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("alex@example.com", false).await;
    let html = b.get("/admin/account").await.body;
    assert!(
        html.contains("<html lang=\"en\">"),
        "no choice: the device decides"
    );
    assert!(html.contains("value=\"system\" aria-pressed=\"true\""));
    // Unknown themes are refused on their field and change nothing.
    for bad in ["blue", "", "DARK ", "<script>"] {
        let r = b
            .call("/api/account/theme", &[("theme", bad.to_string())])
            .await;
        let e: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        assert_eq!(
            (r.status, e["field"].as_str()),
            (400, Some("theme")),
            "{bad:?}"
        );
    }
    assert!(b.get("/admin").await.body.contains("<html lang=\"en\">"));
    // Dark, back to the page it was chosen on.
    let r = b
        .call(
            "/api/account/theme",
            &[
                ("theme", "dark".into()),
                ("back", "/admin/operations?state=active".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some("/admin/operations?state=active")
    );
    let html = b.get("/admin/operations").await.body;
    assert!(
        html.contains("<html lang=\"en\" data-theme=\"dark\">"),
        "the page carries the choice"
    );
    assert!(html.contains("value=\"dark\" aria-pressed=\"true\""));
    // A "back" elsewhere goes to the overview instead.
    for away in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let r = b
            .call(
                "/api/account/theme",
                &[("theme", "light".into()), ("back", away.into())],
            )
            .await;
        assert_eq!(
            (r.status, r.location.as_deref()),
            (200, Some("/admin")),
            "{away}"
        );
    }
    assert!(b.get("/admin").await.body.contains("data-theme=\"light\""));
    // Another person still follows their device.
    let (_, other) = app.user_browser("sam@example.com", false).await;
    assert!(
        other
            .get("/admin")
            .await
            .body
            .contains("<html lang=\"en\">")
    );
    // Signed out: the sign-in page follows the device too.
    assert!(
        app.browser()
            .get("/sign-in")
            .await
            .body
            .contains("<html lang=\"en\">")
    );
}

both_backends!(
    sessions_and_password,
    current_password_checks_are_limited,
    times_show_in_the_chosen_zone,
    the_theme_is_remembered_per_person
);
