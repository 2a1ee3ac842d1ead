//! The admin-consent round trip: a blocked start links to *Grant admin
//! consent*, Tenantry sends the manager to the (simulated) Microsoft consent
//! page, the grant comes back to the callback as *granted, not verified*, and
//! a verification confirms it. Forged, foreign, expired and declined answers
//! change nothing.

use crate::both_backends;
use crate::common::{Backend, Browser};
use crate::provider::{CLIENT, NO_CONSENT, ProviderWorld, provider_world};
use domain::ids::{ProviderConnectionId, TenantId};
use domain::runs::RunOutcome;
use reqwest::Url;

/// The href of the first next step linking somewhere, from a toast.
fn step_links(toast: &serde_json::Value) -> Vec<String> {
    toast["next_steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| s["link"]["href"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn query_param(url: &Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Follows the consent route to Microsoft; returns the consent page URL.
async fn to_microsoft(b: &Browser, tenant: TenantId, conn: ProviderConnectionId) -> Url {
    let r = b
        .get(&format!("/admin/t/{tenant}/connections/{conn}/consent"))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    Url::parse(&r.location.expect("to Microsoft")).unwrap()
}

/// The Global Administrator on the simulated consent page presses a button;
/// returns where Microsoft sends the browser back to.
async fn answer(consent_page: &Url, decision: &str) -> Url {
    let ga = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = ga.get(consent_page.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Permissions requested"), "{html}");
    let back = ga
        .post(consent_page.as_str().split('?').next().unwrap())
        .form(&[
            ("client_id", query_param(consent_page, "client_id")),
            ("redirect_uri", query_param(consent_page, "redirect_uri")),
            ("state", query_param(consent_page, "state")),
            ("decision", decision.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    Url::parse(back.headers()["location"].to_str().unwrap()).unwrap()
}

/// The callback as the member's browser opens it (path and query on our site).
async fn come_back(w: &ProviderWorld, b: &Browser, back: &Url) -> crate::common::Reply {
    assert!(
        back.as_str().starts_with(&w.app.address),
        "back to this site: {back}"
    );
    let path = &back.as_str()[w.app.address.len()..];
    b.get(path).await
}

async fn consent_audits(w: &ProviderWorld) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT outcome, detail FROM audit_log WHERE action = 'provider_connection.consent_answered' ORDER BY id",
    )
    .fetch_all(w.app.services.store.unguarded_pool())
    .await
    .unwrap()
}

async fn admin_consent_round_trip(backend: Backend) {
    let w = provider_world(backend).await;
    let tenant = w.tenant("Fabrikam", NO_CONSENT).await;
    let conn = w.connect(tenant, NO_CONSENT).await;
    let v = w.run_to_end(tenant, "tenant_verification").await;
    assert_eq!(v.reason, Some(domain::runs::ReasonCode::ConsentMissing));

    // Blocked, with a link that grants consent for this very connection.
    let (toast, _) = w.start(tenant, "inventory_sync").await;
    assert_eq!(toast["title"], "Blocked");
    let consent_link = format!("/admin/t/{tenant}/connections/{conn}/consent");
    assert_eq!(
        step_links(&toast),
        [
            consent_link.clone(),
            format!("/admin/t/{tenant}/verification#verify")
        ]
    );
    let page = w
        .owner
        .get(&format!("/admin/t/{tenant}/connections/{conn}"))
        .await;
    assert!(
        page.body.contains(&consent_link),
        "the connection page offers it"
    );

    // To Microsoft: the connection's tenant and app, our callback, a sealed state.
    let ms = to_microsoft(&w.owner, tenant, conn).await;
    assert_eq!(ms.path(), format!("/{NO_CONSENT}/v2.0/adminconsent"));
    assert_eq!(query_param(&ms, "client_id"), CLIENT);
    assert_eq!(
        query_param(&ms, "redirect_uri"),
        format!("{}/admin/consent/callback", w.app.address)
    );
    let state = query_param(&ms, "state");
    assert!(
        state.len() > 60
            && state
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b':'),
        "sealed, not readable: {state}"
    );

    // Declined: nothing changes, and the audit says so.
    let back = answer(&ms, "cancel").await;
    let r = come_back(&w, &w.owner, &back).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some(&*format!(
            "/admin/t/{tenant}/connections/{conn}?notice=consent_not_granted"
        ))
    );
    let (toast, _) = w.start(tenant, "inventory_sync").await;
    assert_eq!(toast["title"], "Blocked");
    assert!(
        toast["body"]
            .as_str()
            .unwrap()
            .contains("Admin consent has not been granted")
    );

    // Granted: recorded as unconfirmed; starts say "verify to confirm".
    let ms = to_microsoft(&w.owner, tenant, conn).await;
    let back = answer(&ms, "accept").await;
    assert_eq!(w.sim.consents(NO_CONSENT), 1);
    assert_eq!(query_param(&back, "admin_consent"), "True");
    let r = come_back(&w, &w.owner, &back).await;
    assert_eq!(
        r.location.as_deref(),
        Some(&*format!(
            "/admin/t/{tenant}/connections/{conn}?notice=consent_granted"
        ))
    );
    let page = w
        .owner
        .get(&format!(
            "/admin/t/{tenant}/connections/{conn}?notice=consent_granted"
        ))
        .await;
    assert!(page.body.contains("data-testid=\"consent-unconfirmed\""));
    assert!(page.body.contains("Verify now"));
    let (toast, _) = w.start(tenant, "inventory_sync").await;
    assert_eq!(toast["title"], "Blocked");
    assert!(
        toast["body"]
            .as_str()
            .unwrap()
            .contains("has not verified it yet"),
        "{toast}"
    );
    assert_eq!(
        step_links(&toast),
        [format!("/admin/t/{tenant}/verification#verify")]
    );

    // Verification confirms it; now the operation is queued.
    let v = w.run_to_end(tenant, "tenant_verification").await;
    assert_eq!(v.truth.outcome, RunOutcome::Succeeded);
    let (toast, _) = w.start(tenant, "inventory_sync").await;
    assert_eq!(toast["title"], "Queued", "{toast}");
    let page = w
        .owner
        .get(&format!("/admin/t/{tenant}/connections/{conn}"))
        .await;
    assert!(!page.body.contains("data-testid=\"consent-unconfirmed\""));
    assert!(!page.body.contains(&consent_link), "nothing left to grant");

    let audits = consent_audits(&w).await;
    assert_eq!(audits.len(), 2);
    assert_eq!(audits[0].0, "failed");
    assert_eq!(audits[0].1, "not granted (access_denied)");
    assert_eq!(audits[1].0, "succeeded");
    let _ = w.stop.send(true);
}

async fn forged_foreign_and_expired_answers_change_nothing(backend: Backend) {
    let w = provider_world(backend).await;
    let tenant = w.tenant("Fabrikam", NO_CONSENT).await;
    let conn = w.connect(tenant, NO_CONSENT).await;
    let ms = to_microsoft(&w.owner, tenant, conn).await;
    let state = query_param(&ms, "state");
    let callback = |state: &str, extra: &str| {
        format!(
            "/admin/consent/callback?admin_consent=True&tenant={NO_CONSENT}&state={}{extra}",
            url_encode(state)
        )
    };
    let unconfirmed = || async {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM provider_connections WHERE consent_answered_at IS NOT NULL",
        )
        .fetch_one(w.app.services.store.unguarded_pool())
        .await
        .unwrap();
        n
    };

    // No state, a made-up one, a tampered one (its last byte changed: a
    // state that already ends in 00 gets ff, or the "tampering" is a no-op).
    let head = &state[..state.len() - 2];
    let tampered = if state.ends_with("00") {
        format!("{head}ff")
    } else {
        format!("{head}00")
    };
    assert_ne!(tampered, state);
    for bad in ["", "v1:00", &tampered] {
        let r = w.owner.get(&callback(bad, "")).await;
        assert_eq!(r.status, 409, "state {bad:?}: {}", r.body);
        assert!(r.body.contains("Start again with Grant admin consent"));
    }
    // Another manager of the same workspace cannot use the owner's answer.
    w.app.create_user("manager@example.com", false).await;
    let r = w
        .app
        .invite_and_accept(
            &w.owner,
            &w.ws.to_string(),
            "manager@example.com",
            "manager",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let manager = w.app.browser();
    assert_eq!(manager.sign_in("manager@example.com").await.status, 200);
    let r = manager.get(&callback(&state, "")).await;
    assert_eq!(r.status, 409);
    // A grant in another Entra tenant is not this connection's consent.
    let r = w
        .owner
        .get(&format!(
            "/admin/consent/callback?admin_consent=True&tenant=00000000-0000-4000-8000-000000000000&state={}",
            url_encode(&state)
        ))
        .await;
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().ends_with("notice=consent_not_granted"));
    assert_eq!(unconfirmed().await, 0);
    // Signed out, the callback sends the member to sign in and back.
    let stranger = w.app.browser();
    let r = stranger.get(&callback(&state, "")).await;
    assert_eq!(r.status, 303);
    assert!(r.location.unwrap().starts_with("/sign-in?next="));
    // Past its lifetime the answer is refused.
    w.app
        .clock
        .advance_ms(domain::provider::consent::STATE_TTL_MS + 1);
    // (The session went idle meanwhile: sign in again first.)
    assert_eq!(w.owner.sign_in("owner@example.com").await.status, 200);
    let r = w.owner.get(&callback(&state, "")).await;
    assert_eq!(r.status, 409);
    assert_eq!(unconfirmed().await, 0);
    // Readonly members are not sent to Microsoft at all.
    let ro = w.app.create_user("readonly@example.com", false).await;
    w.app
        .invite_and_accept(
            &w.owner,
            &w.ws.to_string(),
            "readonly@example.com",
            "readonly",
        )
        .await;
    let r = w
        .owner
        .call(
            "/api/tenants/assign",
            &[("tenant", tenant.to_string()), ("member", ro.to_string())],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let readonly = w.app.browser();
    assert_eq!(readonly.sign_in("readonly@example.com").await.status, 200);
    let r = readonly
        .get(&format!("/admin/t/{tenant}/connections/{conn}/consent"))
        .await;
    assert_eq!(r.status, 403);
    let page = readonly
        .get(&format!("/admin/t/{tenant}/connections/{conn}"))
        .await;
    assert!(!page.body.contains("data-testid=\"grant-consent\""));
    let _ = w.stop.send(true);
}

fn url_encode(s: &str) -> String {
    let mut u = Url::parse("http://x/").unwrap();
    u.query_pairs_mut().append_pair("v", s);
    u.query().unwrap_or_default()[2..].to_string()
}

both_backends!(
    admin_consent_round_trip,
    forged_foreign_and_expired_answers_change_nothing,
);
