//! Provider connections and provider operations end to end: real HTTP into
//! the app, the start gate, a worker, and the Graph simulator over HTTP.

use crate::both_backends;
use crate::common::{Backend, Browser, TestApp};
use crate::runs::wait_terminal;
use domain::ids::{ProviderConnectionId, RunId, TenantId, WorkspaceId};
use domain::provider::ProviderRuntime;
use domain::provider::graph::{GraphEndpoints, GraphPolicy};
use domain::runs::service::RunService;
use domain::runs::worker::{Worker, WorkerConfig};
use domain::runs::{ReasonCode, RunOutcome};
use domain::secrets::SecretBox;
use simulators::graph::{Fault, GraphSimulator, SimTenant, TenantSize};
use std::time::Duration;

pub(crate) const HEALTHY: &str = "3f0c2b6e-5a1d-4c8e-9b7a-1d2e3f4a5b6c";
pub(crate) const NO_CONSENT: &str = "7a9d4e21-8b3c-4f5a-a6d7-2e3f4a5b6c7d";
pub(crate) const THROTTLED: &str = "c1e2d3f4-a5b6-4789-8abc-def012345678";
pub(crate) const CLIENT: &str = "5e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b";
pub(crate) const SECRET: &str = "Sim~secret.value-0123456789";

pub(crate) struct ProviderWorld {
    pub(crate) app: TestApp,
    pub(crate) sim: GraphSimulator,
    pub(crate) owner: Browser,
    pub(crate) ws: WorkspaceId,
    pub(crate) stop: tokio::sync::watch::Sender<bool>,
}

pub(crate) async fn provider_world(backend: Backend) -> ProviderWorld {
    let size = TenantSize {
        groups: 230,
        role_definitions: 40,
        device_configurations: 36,
        compliance_policies: 12,
        managed_devices: 260,
    };
    let sim = GraphSimulator::start(vec![
        SimTenant::healthy(HEALTHY, "Contoso", CLIENT, SECRET).with_size(size),
        SimTenant::healthy(NO_CONSENT, "Fabrikam", CLIENT, SECRET)
            .with_fault(Fault::ConsentMissing),
        SimTenant::healthy(THROTTLED, "Northwind", CLIENT, SECRET).with_fault(Fault::Throttle {
            retry_after_secs: 0,
            every: 1,
        }),
    ])
    .await
    .unwrap();
    let runtime = ProviderRuntime::new(
        SecretBox::random(),
        GraphEndpoints {
            authority: sim.authority_url(),
            graph: sim.graph_url(),
        },
        GraphPolicy {
            request_timeout: Duration::from_secs(2),
            default_backoff: Duration::from_millis(10),
            ..GraphPolicy::default()
        },
    );
    let app = crate::common::app(backend).provider(runtime).spawn().await;
    let (_, owner, ws) = app
        .signed_in_owner_of("owner@example.com", "Acme MSP")
        .await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = Worker::new(
        app.services.clone(),
        WorkerConfig {
            concurrency: 2,
            ..WorkerConfig::default()
        },
    );
    tokio::spawn(worker.run(rx));
    // The owner's session picks the new workspace up as current.
    let r = owner
        .call("/api/workspaces/switch", &[("workspace", ws.to_string())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    ProviderWorld {
        app,
        sim,
        owner,
        ws,
        stop,
    }
}

impl ProviderWorld {
    pub(crate) async fn tenant(&self, name: &str, guid: &str) -> TenantId {
        let r = self
            .owner
            .call(
                "/api/tenants/create",
                &[
                    ("workspace", self.ws.to_string()),
                    ("display_name", name.to_string()),
                    ("microsoft_tenant_id", guid.to_string()),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM tenants WHERE microsoft_tenant_id = $1")
            .bind(guid)
            .fetch_one(self.app.services.store.unguarded_pool())
            .await
            .unwrap();
        TenantId(id)
    }

    pub(crate) async fn connect(&self, tenant: TenantId, guid: &str) -> ProviderConnectionId {
        let r = self
            .owner
            .call(
                "/api/connections/create",
                &[
                    ("tenant", tenant.to_string()),
                    ("display_name", "Tenantry app".into()),
                    ("entra_tenant_id", guid.to_string()),
                    ("client_id", CLIENT.into()),
                    ("client_secret", SECRET.into()),
                    ("expires_on", "2030-12-31".into()),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let location = r.location.expect("redirect to the connection");
        let id = location
            .split("/connections/")
            .nth(1)
            .and_then(|s| s.split('?').next())
            .and_then(|s| s.parse().ok())
            .expect("connection id in the redirect");
        ProviderConnectionId(id)
    }

    /// Starts through the HTTP entry point; returns the toast and its run.
    pub(crate) async fn start(&self, tenant: TenantId, op: &str) -> (serde_json::Value, RunId) {
        let r = self
            .owner
            .call(
                "/api/operations/start",
                &[("tenant", tenant.to_string()), ("op_type", op.into())],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let toast: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let run = toast["link"]
            .as_str()
            .and_then(|l| l.rsplit('/').next())
            .and_then(|id| id.parse().ok())
            .map(RunId)
            .expect("toast links to the run");
        (toast, run)
    }

    pub(crate) async fn run_to_end(&self, tenant: TenantId, op: &str) -> domain::runs::RunView {
        let (toast, run) = self.start(tenant, op).await;
        assert_eq!(toast["title"], "Queued", "{toast}");
        wait_terminal(&self.app, run).await;
        RunService::load(&self.app.services, run)
            .await
            .unwrap()
            .unwrap()
    }

    async fn queued(&self) -> i64 {
        sqlx::query_as::<_, (i64,)>(
            "SELECT COUNT(*) FROM operation_runs WHERE status IN ('queued', 'running')",
        )
        .fetch_one(self.app.services.store.unguarded_pool())
        .await
        .unwrap()
        .0
    }
}

fn count(run: &domain::runs::RunView, key: &str) -> i64 {
    run.summary
        .0
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("no count {key} in {:?}", run.summary))
}

async fn every_operation_on_a_healthy_tenant(backend: Backend) {
    let w = provider_world(backend).await;
    let tenant = w.tenant("Contoso", HEALTHY).await;

    // No connection yet: blocked, recorded, nothing enqueued.
    let (toast, _) = w.start(tenant, "inventory_sync").await;
    assert_eq!(toast["title"], "Blocked");
    assert!(
        toast["body"]
            .as_str()
            .unwrap()
            .contains("no provider connection")
    );
    assert_eq!(w.queued().await, 0);

    let conn = w.connect(tenant, HEALTHY).await;
    // Consent is unconfirmed until verification: readiness says so before the click.
    let page = w.owner.get(&format!("/admin/t/{tenant}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Admin consent has not been granted"),
        "readiness shown"
    );
    for bad in ["no_such_operation", "machinery_probe"] {
        let r = w
            .owner
            .call(
                "/api/operations/start",
                &[("tenant", tenant.to_string()), ("op_type", bad.into())],
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }

    let verified = w.run_to_end(tenant, "tenant_verification").await;
    assert_eq!(
        verified.truth.outcome,
        RunOutcome::Succeeded,
        "{verified:?}"
    );
    assert_eq!(count(&verified, "permissions_granted"), 5);
    let report = w
        .owner
        .get(&format!("/admin/t/{tenant}/verification"))
        .await;
    assert!(report.body.contains("Contoso (contoso.onmicrosoft.com)"));
    assert!(report.body.contains("Permission Group.Read.All"));

    let inventory = w.run_to_end(tenant, "inventory_sync").await;
    assert_eq!(
        inventory.truth.outcome,
        RunOutcome::Succeeded,
        "{inventory:?}"
    );
    assert_eq!(count(&inventory, "device_configurations"), 36);
    assert_eq!(count(&inventory, "compliance_policies"), 12);
    assert_eq!(
        count(&inventory, "managed_devices"),
        260,
        "three pages followed"
    );

    let compliance = w.run_to_end(tenant, "compliance_snapshot").await;
    assert_eq!(count(&compliance, "devices"), 260);
    assert_eq!(
        count(&compliance, "compliant")
            + count(&compliance, "noncompliant")
            + count(&compliance, "in_grace_period")
            + count(&compliance, "other"),
        260
    );

    let groups = w.run_to_end(tenant, "directory_groups_sync").await;
    assert_eq!(
        (count(&groups, "total"), count(&groups, "added")),
        (230, 230)
    );
    // A second sync finds nothing new.
    let again = w.run_to_end(tenant, "directory_groups_sync").await;
    assert_eq!(
        (
            count(&again, "added"),
            count(&again, "updated"),
            count(&again, "removed")
        ),
        (0, 0, 0)
    );
    let roles = w.run_to_end(tenant, "role_definitions_sync").await;
    assert_eq!(count(&roles, "total"), 40);

    // Browsing: paged and searchable, the same numbers as the runs.
    let r = w
        .owner
        .call(
            "/api/provider/browse",
            &[("tenant", tenant.to_string()), ("kind", "groups".into())],
        )
        .await;
    let page: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(page["total"], 230);
    assert_eq!(page["rows"].as_array().unwrap().len(), 50);
    let r = w
        .owner
        .call(
            "/api/provider/browse",
            &[
                ("tenant", tenant.to_string()),
                ("kind", "groups".into()),
                ("q", "SG-".into()),
                ("page", "2".into()),
            ],
        )
        .await;
    let searched: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let total = searched["total"].as_i64().unwrap();
    assert!(total > 0 && total < 230, "{total}");
    assert!(
        searched["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row[0].as_str().unwrap().starts_with("SG-"))
    );
    for path in [
        "inventory?kind=managed_devices",
        "compliance?state=noncompliant",
        "groups?q=team",
        "roles",
    ] {
        let r = w.owner.get(&format!("/admin/t/{tenant}/{path}")).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.body.contains("result(s)"), "{path}");
    }

    // The secret never comes back: not in pages, not in the database in clear.
    for path in [
        format!("/admin/t/{tenant}/connections"),
        format!("/admin/t/{tenant}/connections/{conn}"),
        format!("/admin/t/{tenant}"),
    ] {
        let r = w.owner.get(&path).await;
        assert_eq!(r.status, 200);
        assert!(!r.body.contains(SECRET), "{path} echoed the secret");
    }
    let (sealed,): (String,) =
        sqlx::query_as("SELECT client_secret_sealed FROM provider_connections WHERE id = $1")
            .bind(conn.0)
            .fetch_one(w.app.services.store.unguarded_pool())
            .await
            .unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains(SECRET));
    assert_eq!(
        w.sim.token_requests(HEALTHY),
        1,
        "one token, cached for every run"
    );
    let _ = w.stop.send(true);
}

async fn provider_failures_become_reason_codes(backend: Backend) {
    let w = provider_world(backend).await;
    let fabrikam = w.tenant("Fabrikam", NO_CONSENT).await;
    let northwind = w.tenant("Northwind", THROTTLED).await;
    let conn = w.connect(fabrikam, NO_CONSENT).await;
    w.connect(northwind, THROTTLED).await;

    let v = w.run_to_end(fabrikam, "tenant_verification").await;
    assert_eq!(v.truth.outcome, RunOutcome::Failed);
    assert_eq!(v.reason, Some(ReasonCode::ConsentMissing));
    let summary = v.failure_summary.clone().unwrap();
    assert!(
        !summary.contains("Insufficient privileges"),
        "no provider text: {summary}"
    );
    let report = w
        .owner
        .get(&format!("/admin/t/{fabrikam}/verification"))
        .await;
    assert!(report.body.contains("Not granted"));
    // Consent stays missing, so the next start is blocked with nothing enqueued.
    let (toast, _) = w.start(fabrikam, "inventory_sync").await;
    assert_eq!(toast["title"], "Blocked");
    assert!(toast["next_steps"].to_string().contains("admin consent"));
    assert_eq!(w.queued().await, 0);

    let t = w.run_to_end(northwind, "tenant_verification").await;
    assert_eq!(t.truth.outcome, RunOutcome::Failed);
    assert_eq!(t.reason, Some(ReasonCode::ProviderThrottled));

    // A wrong secret after rotation: credentials invalid.
    let r = w
        .owner
        .call(
            "/api/connections/rotate",
            &[
                ("tenant", fabrikam.to_string()),
                ("connection", conn.to_string()),
                ("client_secret", "not-the-secret".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let c = w.run_to_end(fabrikam, "connection_check").await;
    assert_eq!(c.reason, Some(ReasonCode::CredentialsInvalid));

    // A disabled connection blocks every start; nothing is enqueued.
    let r = w
        .owner
        .call(
            "/api/connections/status",
            &[
                ("tenant", fabrikam.to_string()),
                ("connection", conn.to_string()),
                ("enabled", "false".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let (toast, run) = w.start(fabrikam, "connection_check").await;
    assert_eq!(toast["title"], "Blocked");
    let blocked = RunService::load(&w.app.services, run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(blocked.reason, Some(ReasonCode::ConnectionDisabled));
    assert_eq!(w.queued().await, 0);
    let _ = w.stop.send(true);
}

async fn connections_are_managed_and_audited(backend: Backend) {
    let w = provider_world(backend).await;
    let tenant = w.tenant("Contoso", HEALTHY).await;
    // Bad input: typed, field-level errors, nothing stored.
    let r = w
        .owner
        .call(
            "/api/connections/create",
            &[
                ("tenant", tenant.to_string()),
                ("display_name", "App".into()),
                ("entra_tenant_id", HEALTHY.into()),
                ("client_id", "not-a-guid".into()),
                ("client_secret", SECRET.into()),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("client_id"), "{}", r.body);
    let first = w.connect(tenant, HEALTHY).await;
    let second = w.connect(tenant, HEALTHY).await;
    let defaults: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, is_default FROM provider_connections WHERE tenant_id = $1 ORDER BY id",
    )
    .bind(tenant.0)
    .fetch_all(w.app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(
        defaults,
        vec![(first.0, 1), (second.0, 0)],
        "the first is the default"
    );
    let r = w
        .owner
        .call(
            "/api/connections/default",
            &[
                ("tenant", tenant.to_string()),
                ("connection", second.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    // Changing the client id resets consent.
    sqlx::query("UPDATE provider_connections SET consent = 'granted' WHERE id = $1")
        .bind(second.0)
        .execute(w.app.services.store.unguarded_pool())
        .await
        .unwrap();
    let r = w
        .owner
        .call(
            "/api/connections/update",
            &[
                ("tenant", tenant.to_string()),
                ("connection", second.to_string()),
                ("display_name", "Renamed".into()),
                ("entra_tenant_id", HEALTHY.into()),
                ("client_id", "11111111-2222-4333-8444-555555555555".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let (consent,): (String,) =
        sqlx::query_as("SELECT consent FROM provider_connections WHERE id = $1")
            .bind(second.0)
            .fetch_one(w.app.services.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!(consent, "missing");
    // An expired secret is shown as such, by the server's clock.
    sqlx::query("UPDATE provider_connections SET credential_expires_at = $2 WHERE id = $1")
        .bind(second.0)
        .bind(crate::common::T0 - 1)
        .execute(w.app.services.store.unguarded_pool())
        .await
        .unwrap();
    let page = w
        .owner
        .get(&format!("/admin/t/{tenant}/connections/{second}"))
        .await;
    assert!(page.body.contains("Secret expired"), "expired secret badge");
    let page = w.owner.get(&format!("/admin/t/{tenant}")).await;
    assert!(
        page.body.contains("client secret has expired"),
        "readiness says why"
    );
    // A connection of another tenant is not found under this one.
    let other_tenant = w.tenant("Fabrikam", NO_CONSENT).await;
    let r = w
        .owner
        .get(&format!("/admin/t/{other_tenant}/connections/{first}"))
        .await;
    assert_eq!(r.status, 404);
    // Delete is refused while a run holds the connection, then allowed.
    w.sim.set_fault(HEALTHY, Fault::Slow { delay_ms: 1500 });
    let r = w
        .owner
        .call(
            "/api/operations/start",
            &[
                ("tenant", tenant.to_string()),
                ("op_type", "connection_check".into()),
                ("connection", first.to_string()),
            ],
        )
        .await;
    let toast: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(toast["title"], "Queued", "{toast}");
    let run: RunId = RunId(
        toast["link"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap(),
    );
    let r = w
        .owner
        .call(
            "/api/connections/delete",
            &[
                ("tenant", tenant.to_string()),
                ("connection", first.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("An operation is using this connection"));
    wait_terminal(&w.app, run).await;
    let r = w
        .owner
        .call(
            "/api/connections/delete",
            &[
                ("tenant", tenant.to_string()),
                ("connection", second.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (default_now,): (i64,) = sqlx::query_as(
        "SELECT id FROM provider_connections WHERE tenant_id = $1 AND is_default = 1",
    )
    .bind(tenant.0)
    .fetch_one(w.app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(default_now, first.0, "a default remains");
    let actions: Vec<(String,)> = sqlx::query_as(
        "SELECT action FROM audit_log WHERE action LIKE 'provider_connection.%' ORDER BY id",
    )
    .fetch_all(w.app.services.store.unguarded_pool())
    .await
    .unwrap();
    let actions: Vec<&str> = actions.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "provider_connection.created",
            "provider_connection.created",
            "provider_connection.updated",
            "provider_connection.updated",
            "provider_connection.deleted",
        ]
    );
    let _ = w.stop.send(true);
}

/// Issue 30.6: a tenant never verified does not read "Ready": its provider
/// rows say "Not verified yet" (like its verification card) and offer
/// *Verify now* as a one-click start, as does the card; once verified, the
/// rows read "Ready".
async fn ready_means_verified(backend: Backend) {
    let w = provider_world(backend).await;
    let tenant = w.tenant("Contoso", HEALTHY).await;
    let conn = w.connect(tenant, HEALTHY).await;
    // Consent confirmed by a connection check, verification never run.
    sqlx::query("UPDATE provider_connections SET consent = 'granted' WHERE id = $1")
        .bind(conn.0)
        .execute(w.app.services.store.unguarded_pool())
        .await
        .unwrap();
    let page = w.owner.get(&format!("/admin/t/{tenant}")).await;
    assert_eq!(page.status, 200);
    let provider_rows = domain::provider::TENANT_OPERATIONS
        .iter()
        .filter(|op| {
            op.spec().scope == domain::runs::ScopeKind::ProviderConnection
                && **op != domain::provider::TENANT_VERIFICATION
        })
        .count();
    assert!(provider_rows >= 4);
    assert_eq!(
        page.body.matches("data-testid=\"not-verified\"").count(),
        provider_rows,
        "every provider row but verification says so"
    );
    assert!(page.body.contains("data-testid=\"verification-missing\""));
    // Each of those rows and the card carry a one-click start of verification.
    let verify_buttons = page
        .body
        .matches("name=\"op_type\" value=\"tenant_verification\"")
        .count();
    assert!(
        verify_buttons >= provider_rows + 2,
        "rows, the card and the verification row itself: {verify_buttons}"
    );
    assert!(page.body.contains(">Verify now<"));
    // A blocked start's toast offers the same one-click step.
    sqlx::query("UPDATE provider_connections SET consent = 'missing', consent_answered_at = 1 WHERE id = $1")
        .bind(conn.0)
        .execute(w.app.services.store.unguarded_pool())
        .await
        .unwrap();
    let (toast, _) = w.start(tenant, "inventory_sync").await;
    assert_eq!(toast["title"], "Blocked");
    let steps = toast["next_steps"].as_array().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["start"]["op_type"] == "tenant_verification"
                && s["start"]["label"] == "Verify now"),
        "{toast}"
    );
    sqlx::query("UPDATE provider_connections SET consent = 'granted', consent_answered_at = NULL WHERE id = $1")
        .bind(conn.0)
        .execute(w.app.services.store.unguarded_pool())
        .await
        .unwrap();
    // Verified: the rows are ready.
    let verified = w.run_to_end(tenant, "tenant_verification").await;
    assert_eq!(
        verified.truth.outcome,
        RunOutcome::Succeeded,
        "{verified:?}"
    );
    let page = w.owner.get(&format!("/admin/t/{tenant}")).await;
    assert_eq!(page.body.matches("data-testid=\"not-verified\"").count(), 0);
    assert!(!page.body.contains("data-testid=\"verification-missing\""));
    assert!(page.body.contains(">Ready<"));
}

both_backends!(
    ready_means_verified,
    every_operation_on_a_healthy_tenant,
    provider_failures_become_reason_codes,
    connections_are_managed_and_audited,
);
