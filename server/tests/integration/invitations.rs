//! Invitations: nobody joins a workspace without accepting; links are single
//! use, expire, can be renewed and revoked; new people create their account
//! from the link (#15 item 4).

use crate::both_backends;
use crate::common::{Backend, TestApp, owner_with_workspace, spawn_app};

async fn invite(b: &crate::common::Browser, ws: &str, email: &str, role: &str) -> u16 {
    b.call(
        "/api/members/invite",
        &[
            ("workspace", ws.to_string()),
            ("email", email.to_string()),
            ("role", role.to_string()),
        ],
    )
    .await
    .status
}

async fn member_count(app: &TestApp) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM memberships")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap()
        .0
}

async fn an_existing_account_joins_by_accepting(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, ws) = owner_with_workspace(&app).await;
    app.create_user("tech@example.com", false).await;
    assert_eq!(
        invite(&owner, &ws, "Tech@Example.com", "operator").await,
        200
    );
    assert_eq!(member_count(&app).await, 1, "not a member before accepting");
    // The inviter sees the pending invitation and its link.
    let token = app.invitation_token("tech@example.com").await;
    let page = owner.get("/admin/members").await;
    assert!(page.body.contains("Pending invitations"));
    assert!(
        page.body.contains(&format!("/invite/{token}")),
        "the link to copy"
    );
    // Anyone with the link sees what it is for, without signing in.
    let anon = app.browser();
    let landing = anon.get(&format!("/invite/{token}")).await;
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("Join Acme MSP"), "{}", landing.body);
    assert!(landing.body.contains("tech@example.com"));
    // Sign in and come back to the link, then accept.
    let r = anon
        .call(
            "/api/session/sign_in",
            &[
                ("email", "tech@example.com".into()),
                ("password", crate::common::PASSWORD.into()),
                ("next", format!("/invite/{token}")),
            ],
        )
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/invite/{token}").as_str())
    );
    let r = anon
        .call("/api/invitations/accept", &[("token", token.clone())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(member_count(&app).await, 2);
    assert_eq!(anon.get("/admin/tenants").await.status, 200);
    // Single use.
    let again = anon
        .call("/api/invitations/accept", &[("token", token.clone())])
        .await;
    assert_eq!(again.status, 404);
    assert_eq!(anon.get(&format!("/invite/{token}")).await.status, 404);
    let actions: Vec<(String,)> =
        sqlx::query_as("SELECT action FROM audit_log WHERE action LIKE 'invitation.%' ORDER BY id")
            .fetch_all(app.services.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!(
        actions,
        vec![
            ("invitation.created".to_string(),),
            ("invitation.accepted".to_string(),)
        ]
    );
}

async fn someone_new_creates_their_account_from_the_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, ws) = owner_with_workspace(&app).await;
    assert_eq!(
        invite(&owner, &ws, "new@example.com", "readonly").await,
        200
    );
    let token = app.invitation_token("new@example.com").await;
    let b = app.browser();
    let short = b
        .call(
            "/api/invitations/join",
            &[("token", token.clone()), ("password", "short".into())],
        )
        .await;
    assert_eq!(short.status, 400);
    assert!(
        short.body.contains("\"field\":\"password\""),
        "{}",
        short.body
    );
    let r = b
        .call(
            "/api/invitations/join",
            &[
                ("token", token.clone()),
                ("password", "a long new password".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers.get("set-cookie").is_some(), "signed in at once");
    assert_eq!(b.get("/admin/members").await.status, 200);
    let (role,): (String,) = sqlx::query_as(
        "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'new@example.com'",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(role, "readonly");
    // The new account signs in with its password later.
    let again = app.browser();
    let r = again
        .call(
            "/api/session/sign_in",
            &[
                ("email", "new@example.com".into()),
                ("password", "a long new password".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    // An address that already has an account must sign in instead.
    app.create_user("taken@example.com", false).await;
    assert_eq!(
        invite(&owner, &ws, "taken@example.com", "operator").await,
        200
    );
    let token = app.invitation_token("taken@example.com").await;
    let r = app
        .browser()
        .call(
            "/api/invitations/join",
            &[
                ("token", token),
                ("password", "another long password".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("sign in"), "{}", r.body);
}

async fn links_are_for_their_address_expire_and_can_be_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, ws) = owner_with_workspace(&app).await;
    app.create_user("right@example.com", false).await;
    app.create_user("wrong@example.com", false).await;
    assert_eq!(
        invite(&owner, &ws, "right@example.com", "operator").await,
        200
    );
    let token = app.invitation_token("right@example.com").await;
    // Another account cannot use it, and trying does not use it up.
    let wrong = app.browser();
    wrong.sign_in("wrong@example.com").await;
    let r = wrong
        .call("/api/invitations/accept", &[("token", token.clone())])
        .await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("right@example.com"));
    assert_eq!(member_count(&app).await, 1);
    // A new link replaces the old one.
    let (id,): (i64,) = sqlx::query_as(
        "SELECT id FROM invitations WHERE email = 'right@example.com' AND revoked_at IS NULL",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    let r = owner
        .call("/api/invitations/resend", &[("invitation", id.to_string())])
        .await;
    assert_eq!(r.status, 200);
    let renewed = app.invitation_token("right@example.com").await;
    assert_ne!(renewed, token);
    assert_eq!(
        app.browser().get(&format!("/invite/{token}")).await.status,
        404
    );
    assert_eq!(
        app.browser()
            .get(&format!("/invite/{renewed}"))
            .await
            .status,
        200
    );
    // Expired after seven days.
    app.clock.advance_ms(domain::invitations::VALID_FOR_MS + 1);
    assert_eq!(
        app.browser()
            .get(&format!("/invite/{renewed}"))
            .await
            .status,
        404
    );
    let right = app.browser();
    right.sign_in("right@example.com").await;
    let r = right
        .call("/api/invitations/accept", &[("token", renewed)])
        .await;
    assert_eq!(r.status, 404);
    // Revoked links stop at once (a week later the owner signs in again).
    assert_eq!(owner.sign_in("owner@example.com").await.status, 200);
    assert_eq!(
        invite(&owner, &ws, "right@example.com", "operator").await,
        200
    );
    let fresh = app.invitation_token("right@example.com").await;
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM invitations WHERE email = 'right@example.com' AND revoked_at IS NULL AND accepted_at IS NULL AND expires_at > $1")
        .bind(app.services.now())
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    let r = owner
        .call("/api/invitations/revoke", &[("invitation", id.to_string())])
        .await;
    assert_eq!(r.status, 200);
    let r = right
        .call("/api/invitations/accept", &[("token", fresh)])
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(member_count(&app).await, 1);
    // Read-only members do not see invitations or their links.
    let (ro, ro_b) = app.user_browser("ro@example.com", false).await;
    domain::workspaces::add_member_directly(
        &app.services,
        &app.actor(
            app.services_user("owner@example.com").await,
            "owner@example.com",
        ),
        ws.parse().unwrap(),
        "ro@example.com",
        domain::rbac::Role::Readonly,
    )
    .await
    .unwrap();
    let _ = ro;
    let page = ro_b.get("/admin/members").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("/invite/"));
}

both_backends!(
    an_existing_account_joins_by_accepting,
    someone_new_creates_their_account_from_the_link,
    links_are_for_their_address_expire_and_can_be_revoked,
    invited_tenants_are_assigned_on_accepting,
);

/// Operators and read-only members are invited with the tenants they will
/// see: assigned when they accept; another workspace's tenant is refused.
async fn invited_tenants_are_assigned_on_accepting(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, ws) = owner_with_workspace(&app).await;
    let mut tenants = Vec::new();
    for (name, guid) in [
        ("Fabrikam", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
        ("Contoso", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
    ] {
        let r = owner
            .call(
                "/api/tenants/create",
                &[
                    ("workspace", ws.clone()),
                    ("display_name", name.into()),
                    ("microsoft_tenant_id", guid.into()),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM tenants WHERE display_name = $1")
            .bind(name)
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap();
        tenants.push(id);
    }
    // Another workspace's tenant: 404, nothing created.
    let (other_owner, other_ws) = {
        let (id, b) = app.user_browser("other@example.com", false).await;
        let r = b
            .call("/api/workspaces/create", &[("name", "Other MSP".into())])
            .await;
        assert_eq!(r.status, 200);
        let ws = domain::workspaces::list_for_user(&app.services, id)
            .await
            .unwrap()[0]
            .id
            .to_string();
        (b, ws)
    };
    let r = other_owner
        .call(
            "/api/tenants/create",
            &[
                ("workspace", other_ws),
                ("display_name", "Elsewhere".into()),
                (
                    "microsoft_tenant_id",
                    "11111111-2222-4333-8444-555555555555".into(),
                ),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let (elsewhere,): (i64,) =
        sqlx::query_as("SELECT id FROM tenants WHERE display_name = 'Elsewhere'")
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap();
    let form = |email: &str, chosen: &[i64]| {
        let mut f = vec![
            ("workspace".to_string(), ws.clone()),
            ("email".to_string(), email.to_string()),
            ("role".to_string(), "operator".to_string()),
        ];
        for (i, t) in chosen.iter().enumerate() {
            f.push((format!("tenants[{i}]"), t.to_string()));
        }
        f
    };
    let call = |f: Vec<(String, String)>| {
        let owner = &owner;
        async move {
            let f: Vec<(&str, String)> = f.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            owner.call("/api/members/invite", &f).await.status
        }
    };
    assert_eq!(
        call(form("tech@example.com", &[tenants[0], elsewhere])).await,
        404
    );
    assert_eq!(
        sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM invitations")
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap()
            .0,
        0,
        "nothing created"
    );
    assert_eq!(call(form("tech@example.com", &[tenants[1]])).await, 200);
    let page = owner.get("/admin/members").await.body;
    assert!(page.contains("Contoso"), "the invitation names its tenants");
    // The technician joins and sees exactly that tenant.
    let token = app.invitation_token("tech@example.com").await;
    let tech = app.browser();
    let r = tech
        .call(
            "/api/invitations/join",
            &[
                ("token", token),
                ("password", crate::common::PASSWORD.into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed: serde_json::Value =
        serde_json::from_str(&tech.call("/api/tenants", &[]).await.body).unwrap();
    let names: Vec<&str> = listed["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["display_name"].as_str())
        .collect();
    assert_eq!(names, vec!["Contoso"]);
}
