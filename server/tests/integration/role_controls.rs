//! Buttons that match the role: the server refuses what a role may not do
//! (the authorization matrix), and the pages do not offer it either. Each
//! control is looked for on the rendered page as owner, operator and
//! read-only member, and expected exactly when the capability table allows.

use crate::both_backends;
use crate::common::{Backend, spawn_app};
use crate::runs::probe;
use crate::world::run_world;
use domain::rbac::{Capability, Role};
use domain::runs::gate::{Initiator, StartGate};

async fn controls_match_the_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let operator = app.create_user("operator@example.com", false).await;
    let ws = domain::tenants::tenant_page(svc, &w.owner, w.tenant)
        .await
        .unwrap()
        .workspace
        .id;
    domain::workspaces::add_member_directly(
        svc,
        &w.owner,
        ws,
        "operator@example.com",
        Role::Operator,
    )
    .await
    .unwrap();
    domain::tenants::set_assignment(svc, &w.owner, w.tenant, operator, true)
        .await
        .unwrap();
    // A run that stays active while the pages are read (the cancel control).
    let run = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 20_000})),
    )
    .await
    .unwrap()
    .run;
    let run_capability = domain::runs::probe::MACHINERY_PROBE.spec().capability;

    let t = w.tenant;
    let c = w.connection;
    for (email, role) in [
        ("owner@example.com", Role::Owner),
        ("operator@example.com", Role::Operator),
        ("readonly@example.com", Role::Readonly),
    ] {
        let b = app.browser();
        assert_eq!(b.sign_in(email).await.status, 200, "{email}");
        let dashboard = b.get(&format!("/admin/t/{t}")).await;
        let run_page = b.get(&format!("/admin/operations/{run}")).await;
        let connection = b.get(&format!("/admin/t/{t}/connections/{c}")).await;
        let inventory = b.get(&format!("/admin/t/{t}/inventory")).await;
        for page in [&dashboard, &run_page, &connection, &inventory] {
            assert_eq!(page.status, 200, "{email}: {}", page.body);
        }
        // (page, marker of the control, the capability it needs)
        let controls: [(&str, &str, &str, bool); 9] = [
            (
                "dashboard",
                &dashboard.body,
                "Request support",
                role.can(Capability::SupportRequest),
            ),
            (
                "dashboard",
                &dashboard.body,
                "Restore policies from an inventory snapshot",
                role.can(Capability::RestoreExecute),
            ),
            (
                "dashboard",
                &dashboard.body,
                "Sections to include",
                role.can(Capability::ReviewPackGenerate),
            ),
            (
                "dashboard",
                &dashboard.body,
                "name=\"op_type\"",
                role.can(Capability::ProviderRun),
            ),
            (
                "dashboard",
                &dashboard.body,
                "href=\"/admin/onboarding\"",
                role.can(Capability::TenantManage),
            ),
            (
                "run page",
                &run_page.body,
                "Request support",
                role.can(Capability::SupportRequest),
            ),
            (
                "run page",
                &run_page.body,
                "Cancel run",
                role.can(run_capability),
            ),
            (
                "connection page",
                &connection.body,
                "name=\"op_type\"",
                role.can(Capability::ProviderRun),
            ),
            (
                "inventory page",
                &inventory.body,
                "data-testid=\"browse-sync\"",
                role.can(Capability::ProviderRun),
            ),
        ];
        for (page, body, marker, allowed) in controls {
            assert_eq!(
                body.contains(marker),
                allowed,
                "{email} ({role}) on the {page}: {marker:?} should be {}",
                if allowed { "offered" } else { "absent" }
            );
        }
        // A start that is not offered says why, in the readiness row.
        assert_eq!(
            dashboard.body.contains("data-testid=\"not-offered\""),
            !role.can(Capability::ProviderRun),
            "{email}: the readiness rows say why a start is not offered"
        );
    }
    // The table itself is not vacuous: the owner gets everything, the
    // read-only member nothing that changes anything.
    assert!(Role::Owner.can(Capability::SupportRequest) && Role::Owner.can(run_capability));
    assert!(!Role::Readonly.can(Capability::SupportRequest) && !Role::Readonly.can(run_capability));
}

both_backends!(controls_match_the_role);
