//! Workspace, member and tenant rules, end to end through the server functions.

use crate::both_backends;
use crate::common::{Backend, spawn_app};

async fn audit_actions(app: &crate::common::TestApp) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT action, outcome FROM audit_log WHERE workspace_id IS NOT NULL ORDER BY id",
    )
    .fetch_all(app.services.store.unguarded_pool())
    .await
    .unwrap()
}

async fn the_last_owner_cannot_leave_or_be_demoted(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, b) = app.user_browser("owner@example.com", false).await;
    assert_eq!(
        b.call("/api/workspaces/create", &[("name", "Acme MSP".into())])
            .await
            .status,
        200
    );
    let ws = domain::workspaces::list_for_user(&app.services, owner)
        .await
        .unwrap()[0]
        .id
        .to_string();
    let r = b
        .call(
            "/api/members/remove",
            &[("workspace", ws.clone()), ("member", owner.to_string())],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("last owner"), "{}", r.body);
    let r = b
        .call(
            "/api/members/role",
            &[
                ("workspace", ws.clone()),
                ("member", owner.to_string()),
                ("role", "manager".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 409);
    // With a second owner, the first may step down.
    app.create_user("second@example.com", false).await;
    assert_eq!(
        app.invite_and_accept(&b, &ws.clone(), "second@example.com", "owner")
            .await
            .status,
        200
    );
    assert_eq!(
        b.call(
            "/api/members/role",
            &[
                ("workspace", ws.clone()),
                ("member", owner.to_string()),
                ("role", "manager".into())
            ]
        )
        .await
        .status,
        200
    );
}

async fn managers_cannot_grant_or_remove_ownership(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, ob) = app.user_browser("owner@example.com", false).await;
    ob.call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    let ws = domain::workspaces::list_for_user(&app.services, owner)
        .await
        .unwrap()[0]
        .id
        .to_string();
    let (manager, mb) = app.user_browser("manager@example.com", false).await;
    app.invite_and_accept(&ob, &ws.clone(), "manager@example.com", "manager")
        .await;
    app.create_user("third@example.com", false).await;
    let r = app
        .invite_and_accept(&mb, &ws.clone(), "third@example.com", "owner")
        .await;
    assert_eq!(r.status, 403);
    let r = mb
        .call(
            "/api/members/remove",
            &[("workspace", ws.clone()), ("member", owner.to_string())],
        )
        .await;
    assert_eq!(r.status, 403);
    // Managers do manage non-owners.
    let r = app
        .invite_and_accept(&mb, &ws.clone(), "third@example.com", "operator")
        .await;
    assert_eq!(r.status, 200);
    let _ = manager;
    // Refusals are audited as denied.
    let denied = audit_actions(&app)
        .await
        .into_iter()
        .filter(|(_, o)| o == "denied")
        .count();
    assert_eq!(denied, 2);
}

async fn inviting_explains_what_is_wrong_and_reveals_no_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, b) = app.user_browser("owner@example.com", false).await;
    b.call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    let ws = domain::workspaces::list_for_user(&app.services, owner)
        .await
        .unwrap()[0]
        .id
        .to_string();
    // Inviting an address with an account and one without answer alike:
    // nobody learns from the answer whether an account exists.
    app.create_user("stranger@example.com", false).await;
    let invite = |email: &'static str| {
        let b = &b;
        let ws = ws.clone();
        async move {
            b.call(
                "/api/members/invite",
                &[
                    ("workspace", ws),
                    ("email", email.into()),
                    ("role", "operator".into()),
                ],
            )
            .await
        }
    };
    let ghost = invite("ghost@example.com").await;
    let stranger = invite("stranger@example.com").await;
    assert_eq!(ghost.status, 200, "{}", ghost.body);
    assert_eq!(
        (ghost.status, &ghost.body, &ghost.location),
        (stranger.status, &stranger.body, &stranger.location)
    );
    // Nobody was added: both are only invited.
    let (members,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(members, 1, "only the owner");
    let r = invite("owner@example.com").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("already a member"), "{}", r.body);
    let r = invite("not an email").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("\"field\":\"email\""), "{}", r.body);
}

async fn operators_see_only_assigned_tenants(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, ob) = app.user_browser("owner@example.com", false).await;
    ob.call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    let ws = domain::workspaces::list_for_user(&app.services, owner)
        .await
        .unwrap()[0]
        .id
        .to_string();
    for (name, guid) in [
        ("Fabrikam", "11111111-1111-1111-1111-111111111111"),
        ("Northwind", "22222222-2222-2222-2222-222222222222"),
    ] {
        let r = ob
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
        assert!(
            r.location
                .as_deref()
                .unwrap_or_default()
                .starts_with("/admin/t/")
        );
    }
    let (op, opb) = app.user_browser("operator@example.com", false).await;
    app.invite_and_accept(&ob, &ws.clone(), "operator@example.com", "operator")
        .await;
    let page = opb.get("/admin/tenants").await;
    assert!(
        !page.body.contains("Fabrikam") && !page.body.contains("Northwind"),
        "nothing assigned yet"
    );
    assert!(page.body.contains("No tenants are assigned to you yet"));
    let tenants: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, display_name FROM tenants ORDER BY display_name")
            .fetch_all(app.services.store.unguarded_pool())
            .await
            .unwrap();
    let (fabrikam, northwind) = (tenants[0].0, tenants[1].0);
    assert_eq!(
        ob.call(
            "/api/tenants/assign",
            &[("tenant", fabrikam.to_string()), ("member", op.to_string())]
        )
        .await
        .status,
        200
    );
    let page = opb.get("/admin/tenants").await;
    assert!(page.body.contains("Fabrikam") && !page.body.contains("Northwind"));
    assert_eq!(opb.get(&format!("/admin/t/{fabrikam}")).await.status, 200);
    assert_eq!(opb.get(&format!("/admin/t/{northwind}")).await.status, 404);
    // Unassigning takes the tenant away again.
    assert_eq!(
        ob.call(
            "/api/tenants/unassign",
            &[("tenant", fabrikam.to_string()), ("member", op.to_string())]
        )
        .await
        .status,
        200
    );
    assert_eq!(opb.get(&format!("/admin/t/{fabrikam}")).await.status, 404);
}

async fn tenant_ids_are_validated_and_unique(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, b) = app.user_browser("owner@example.com", false).await;
    b.call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    let ws = domain::workspaces::list_for_user(&app.services, owner)
        .await
        .unwrap()[0]
        .id
        .to_string();
    let r = b
        .call(
            "/api/tenants/create",
            &[
                ("workspace", ws.clone()),
                ("display_name", "Fabrikam".into()),
                ("microsoft_tenant_id", "fabrikam.onmicrosoft.com".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("\"field\":\"microsoft_tenant_id\""));
    let ok = [
        ("workspace", ws.clone()),
        ("display_name", "Fabrikam".into()),
        (
            "microsoft_tenant_id",
            "{AAAAAAAA-1111-1111-1111-111111111111}".into(),
        ),
    ];
    assert_eq!(b.call("/api/tenants/create", &ok).await.status, 200);
    let dup = [
        ("workspace", ws),
        ("display_name", "Fabrikam again".into()),
        (
            "microsoft_tenant_id",
            "aaaaaaaa-1111-1111-1111-111111111111".into(),
        ),
    ];
    let r = b.call("/api/tenants/create", &dup).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("already managed"), "{}", r.body);
}

async fn every_mutation_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, b) = app.user_browser("owner@example.com", false).await;
    b.call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    let ws = domain::workspaces::list_for_user(&app.services, owner)
        .await
        .unwrap()[0]
        .id
        .to_string();
    let (member, _) = app.user_browser("member@example.com", false).await;
    app.invite_and_accept(&b, &ws.clone(), "member@example.com", "readonly")
        .await;
    b.call(
        "/api/members/role",
        &[
            ("workspace", ws.clone()),
            ("member", member.to_string()),
            ("role", "operator".into()),
        ],
    )
    .await;
    b.call(
        "/api/tenants/create",
        &[
            ("workspace", ws.clone()),
            ("display_name", "Fabrikam".into()),
            (
                "microsoft_tenant_id",
                "11111111-1111-1111-1111-111111111111".into(),
            ),
        ],
    )
    .await;
    let (tenant,): (i64,) = sqlx::query_as("SELECT id FROM tenants")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    let t = tenant.to_string();
    b.call(
        "/api/tenants/rename",
        &[
            ("tenant", t.clone()),
            ("display_name", "Fabrikam Ltd".into()),
        ],
    )
    .await;
    b.call(
        "/api/tenants/status",
        &[("tenant", t.clone()), ("status", "inactive".into())],
    )
    .await;
    b.call(
        "/api/tenants/status",
        &[("tenant", t.clone()), ("status", "active".into())],
    )
    .await;
    b.call(
        "/api/tenants/assign",
        &[("tenant", t.clone()), ("member", member.to_string())],
    )
    .await;
    b.call(
        "/api/tenants/unassign",
        &[("tenant", t.clone()), ("member", member.to_string())],
    )
    .await;
    b.call(
        "/api/members/remove",
        &[("workspace", ws.clone()), ("member", member.to_string())],
    )
    .await;
    let actions: Vec<String> = audit_actions(&app)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        actions,
        [
            "workspace.created",
            "invitation.created",
            "invitation.accepted",
            "member.role_changed",
            "tenant.created",
            "tenant.updated",
            "tenant.deactivated",
            "tenant.activated",
            "tenant.assigned",
            "tenant.unassigned",
            "member.removed",
        ]
    );
    // And the audit page shows them, newest first, filterable.
    let page = b.get("/admin/audit").await;
    assert_eq!(page.status, 200);
    let removed = page.body.find("<td>Member removed</td>").unwrap();
    let created = page.body.find("<td>Workspace created</td>").unwrap();
    assert!(removed < created, "newest first");
    let filtered = b.get("/admin/audit?action=tenant.deactivated").await;
    assert!(
        filtered.body.contains("<td>Tenant deactivated</td>")
            && !filtered.body.contains("<td>Member removed</td>")
    );
}

async fn audit_pages_are_keyset_paged(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, b) = app.user_browser("owner@example.com", false).await;
    b.call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    let ws = domain::workspaces::list_for_user(&app.services, owner)
        .await
        .unwrap()[0]
        .id;
    let actor = app.actor(owner, "owner@example.com");
    for i in 0..60 {
        domain::tenants::create(
            &app.services,
            &actor,
            ws,
            &format!("Tenant {i:02}"),
            &format!("00000000-0000-0000-0000-0000000000{i:02}"),
        )
        .await
        .unwrap();
    }
    let first = domain::workspaces::audit_page(&app.services, &actor, &Default::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.entries.len(), 50);
    let next = first.next_before.expect("a second page");
    let filter = domain::views::AuditFilter {
        before: Some(next),
        ..Default::default()
    };
    let second = domain::workspaces::audit_page(&app.services, &actor, &filter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.entries.len(), 11, "60 tenants + the workspace");
    assert!(second.next_before.is_none());
    assert!(second.entries.iter().all(|e| e.id < next));
    let page = b.get("/admin/audit").await;
    assert!(
        page.body.contains(&format!("before={next}")),
        "older-entries link"
    );
}

async fn switching_workspaces_changes_what_pages_show(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("owner@example.com", false).await;
    b.call("/api/workspaces/create", &[("name", "First MSP".into())])
        .await;
    b.call("/api/workspaces/create", &[("name", "Second MSP".into())])
        .await;
    assert!(
        b.get("/admin").await.body.contains("Second MSP"),
        "the new workspace is current"
    );
    let (first,): (i64,) = sqlx::query_as("SELECT id FROM workspaces WHERE name = 'First MSP'")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    let r = b
        .call(
            "/api/workspaces/switch",
            &[("workspace", first.to_string())],
        )
        .await;
    assert_eq!(r.status, 200);
    let page = b.get("/admin").await;
    assert!(
        page.body
            .contains("<h1 class=\"page-title\">First MSP</h1>"),
        "overview follows the switch"
    );
}

async fn empty_states_say_what_to_do(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, b) = app.user_browser("new@example.com", false).await;
    for path in [
        "/admin",
        "/admin/tenants",
        "/admin/members",
        "/admin/audit",
        "/admin/operations",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.body.contains("Create a workspace"),
            "{path} explains the next step"
        );
    }
}

both_backends!(
    the_last_owner_cannot_leave_or_be_demoted,
    managers_cannot_grant_or_remove_ownership,
    inviting_explains_what_is_wrong_and_reveals_no_accounts,
    operators_see_only_assigned_tenants,
    tenant_ids_are_validated_and_unique,
    every_mutation_is_audited,
    audit_pages_are_keyset_paged,
    switching_workspaces_changes_what_pages_show,
    empty_states_say_what_to_do,
);
