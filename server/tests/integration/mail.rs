//! Invitation mail (issue 21): queued with the invitation, sent after commit
//! through a real SMTP exchange (the suite's SMTP server, with AUTH),
//! retried with backoff when the server defers, is busy or says nothing,
//! given up when it refuses; never sent for an invitation that changed; the
//! delivery shown on the members page in our words, never the server's.

use crate::both_backends;
use crate::common::{Backend, Browser, TestApp, owner_with_workspace, spawn_app};
use domain::mail::MailConfig;
use serde_json::Value;
use simulators::smtp::{SmtpFault, SmtpSimulator};
use std::time::Duration;

async fn invite(b: &Browser, ws: &str, email: &str) {
    let r = b
        .call(
            "/api/members/invite",
            &[
                ("workspace", ws.to_string()),
                ("email", email.to_string()),
                ("role", "operator".to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The delivery the members page reports for `email`'s invitation.
async fn delivery(b: &Browser, email: &str) -> Value {
    let r = b.call("/api/members", &[]).await;
    let page: Value = serde_json::from_str(&r.body).unwrap();
    page["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == email)
        .map(|i| i["mail"].clone())
        .unwrap_or(Value::Null)
}

async fn send(app: &TestApp) -> usize {
    domain::mail::send_due(&app.services, 20).await.unwrap()
}

async fn outbox_states(app: &TestApp) -> Vec<String> {
    sqlx::query_as::<_, (String,)>("SELECT state FROM mail_outbox ORDER BY id")
        .fetch_all(app.services.store.unguarded_pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(s,)| s)
        .collect()
}

async fn invitations_are_mailed_and_retried(backend: Backend) {
    let smtp = SmtpSimulator::start(Some(("tenantry", "smtp-secret-value")))
        .await
        .unwrap();
    let config = MailConfig::parse(
        &smtp.url(),
        "Tenantry <tenantry@example.com>",
        Duration::from_secs(1),
    )
    .unwrap();
    let app = crate::common::app(backend).mail(config).spawn().await;
    let (owner, ws) = owner_with_workspace(&app).await;

    // Queued with the invitation; nothing leaves before a sender runs.
    invite(&owner, &ws, "tech@example.com").await;
    assert_eq!(outbox_states(&app).await, vec!["queued"]);
    assert!(smtp.received().is_empty());
    assert_eq!(
        delivery(&owner, "tech@example.com").await["state"],
        "queued"
    );
    // The body (it carries the link's secret) is sealed in the outbox.
    let token = app.invitation_token("tech@example.com").await;
    let (sealed,): (String,) = sqlx::query_as("SELECT body_sealed FROM mail_outbox")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert!(!sealed.contains(&token));

    // Sent: to the invitee, from us, with the absolute link that works.
    assert_eq!(send(&app).await, 1);
    let mail = &smtp.received()[0];
    assert_eq!(mail.to, vec!["tech@example.com"]);
    assert_eq!(mail.from, "tenantry@example.com");
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Join Acme MSP on Tenantry")
    );
    let body = mail.body();
    let link = format!("{}/invite/{token}", app.address);
    assert!(body.contains(&link), "{body}");
    assert!(body.contains("owner@example.com invited you"), "{body}");
    assert_eq!(
        app.browser().get(&format!("/invite/{token}")).await.status,
        200
    );
    let d = delivery(&owner, "tech@example.com").await;
    assert_eq!(d["state"], "sent", "{d}");
    assert_eq!(send(&app).await, 0, "sent once");

    // The server defers: retried after the backoff, with the new link.
    smtp.set_fault(SmtpFault::Defer);
    let r = owner
        .call(
            "/api/invitations/resend",
            &[(
                "invitation",
                (app_invitation_id(&app, "tech@example.com").await).to_string(),
            )],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(send(&app).await, 1);
    let d = delivery(&owner, "tech@example.com").await;
    assert_eq!(
        (
            d["state"].as_str(),
            d["attempts"].as_i64(),
            d["reason"].as_str()
        ),
        (Some("retrying"), Some(1), Some("deferred")),
        "{d}"
    );
    assert_eq!(send(&app).await, 0, "not due before the backoff");
    smtp.set_fault(SmtpFault::None);
    app.clock.advance_ms(30_000);
    assert_eq!(send(&app).await, 1);
    assert_eq!(smtp.received().len(), 2);
    let renewed = app.invitation_token("tech@example.com").await;
    assert_ne!(renewed, token);
    assert!(smtp.received()[1].body().contains(&renewed));
    assert_eq!(delivery(&owner, "tech@example.com").await["state"], "sent");

    // A busy server and a silent one are retried too (the silent one within
    // the deadline, not forever).
    smtp.set_fault(SmtpFault::Busy);
    invite(&owner, &ws, "busy@example.com").await;
    assert_eq!(send(&app).await, 1);
    assert_eq!(
        delivery(&owner, "busy@example.com").await["reason"],
        "deferred"
    );
    smtp.set_fault(SmtpFault::Silent);
    app.clock.advance_ms(30_000);
    let started = std::time::Instant::now();
    assert_eq!(send(&app).await, 1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let d = delivery(&owner, "busy@example.com").await;
    assert_eq!(
        (d["attempts"].as_i64(), d["reason"].as_str()),
        (Some(2), Some("timed_out")),
        "{d}"
    );

    // A refusal is final, and said in our words only.
    smtp.set_fault(SmtpFault::RejectRecipient);
    invite(&owner, &ws, "nobody@example.com").await;
    assert_eq!(send(&app).await, 1);
    let d = delivery(&owner, "nobody@example.com").await;
    assert_eq!(d["state"], "failed", "{d}");
    let page = owner.get("/admin/members").await.body;
    assert!(page.contains("Mail could not be sent: The mail server refused the message."));
    assert!(
        !page.contains("No such user"),
        "the server's words stay out"
    );

    // Revoked before its mail went: nothing is sent.
    smtp.set_fault(SmtpFault::None);
    invite(&owner, &ws, "changed@example.com").await;
    let id = app_invitation_id(&app, "changed@example.com").await;
    let r = owner
        .call("/api/invitations/revoke", &[("invitation", id.to_string())])
        .await;
    assert_eq!(r.status, 200);
    let before = smtp.received().len();
    app.clock.advance_ms(60 * 60_000);
    send(&app).await;
    assert!(
        smtp.received()
            .iter()
            .skip(before)
            .all(|m| m.to != vec!["changed@example.com"]),
        "a revoked invitation is not mailed"
    );
    assert!(outbox_states(&app).await.contains(&"cancelled".to_string()));

    // Meanwhile the busy one's retry came due with the server back: sent.
    // (An hour passed on the test clock: the owner's session idled out.)
    let owner = app.browser();
    assert_eq!(owner.sign_in("owner@example.com").await.status, 200);
    assert_eq!(delivery(&owner, "busy@example.com").await["state"], "sent");
    assert!(
        smtp.received()
            .iter()
            .any(|m| m.to == vec!["busy@example.com"])
    );

    // A server that defers for good: given up after the last attempt.
    smtp.set_fault(SmtpFault::Defer);
    invite(&owner, &ws, "late@example.com").await;
    for _ in 0..domain::mail::MAX_ATTEMPTS + 1 {
        send(&app).await;
        app.clock.advance_ms(2 * 60 * 60_000);
    }
    let owner = app.browser();
    assert_eq!(owner.sign_in("owner@example.com").await.status, 200);
    let d = delivery(&owner, "late@example.com").await;
    assert_eq!(
        (d["state"].as_str(), d["attempts"].as_i64()),
        (Some("failed"), Some(domain::mail::MAX_ATTEMPTS)),
        "{d}"
    );
    // No log line, page or row carries the SMTP password.
    let rows: Vec<(Option<String>,)> = sqlx::query_as("SELECT last_error FROM mail_outbox")
        .fetch_all(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|(e,)| !e.clone().unwrap_or_default().contains("smtp-secret"))
    );
}

async fn app_invitation_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(
        "SELECT id FROM invitations WHERE email = $1 AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(email)
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap()
    .0
}

/// Without SMTP nothing is queued: the inviter copies the link.
async fn without_smtp_the_link_is_copied(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, ws) = owner_with_workspace(&app).await;
    invite(&owner, &ws, "tech@example.com").await;
    assert!(outbox_states(&app).await.is_empty());
    assert_eq!(delivery(&owner, "tech@example.com").await, Value::Null);
    assert_eq!(send(&app).await, 0);
}

/// Wrong SMTP credentials are a refusal (535), reported, not retried.
async fn wrong_credentials_are_refused(backend: Backend) {
    let smtp = SmtpSimulator::start(Some(("tenantry", "right-password")))
        .await
        .unwrap();
    let url = smtp.url().replace("right-password", "wrong-password");
    let config = MailConfig::parse(&url, "tenantry@example.com", Duration::from_secs(1)).unwrap();
    let app = crate::common::app(backend).mail(config).spawn().await;
    let (owner, ws) = owner_with_workspace(&app).await;
    invite(&owner, &ws, "tech@example.com").await;
    assert_eq!(send(&app).await, 1);
    assert!(smtp.received().is_empty());
    let d = delivery(&owner, "tech@example.com").await;
    assert_eq!(
        (d["state"].as_str(), d["reason"].as_str()),
        (Some("failed"), Some("refused")),
        "{d}"
    );
}

both_backends!(
    invitations_are_mailed_and_retried,
    without_smtp_the_link_is_copied,
    wrong_credentials_are_refused
);
