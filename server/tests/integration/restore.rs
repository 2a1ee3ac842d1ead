//! Restore end to end: a snapshot, drift in the simulated tenant, the
//! preview's per-item diff, the typed-name confirmation, execution through
//! the gate and a worker, read-back from the simulator, per-item results,
//! the audit entry, and a re-run that writes nothing.

use crate::both_backends;
use crate::common::Backend;
use crate::provider::{HEALTHY, ProviderWorld, provider_world};
use crate::runs::wait_terminal;
use domain::ids::{RunId, TenantId};
use domain::rbac::Role;
use serde_json::{Value, json};

pub(crate) const CONFIGS: &str = "deviceManagement/deviceConfigurations";
pub(crate) const COMPLIANCE: &str = "deviceManagement/deviceCompliancePolicies";

pub(crate) struct Item {
    pub(crate) id: i64,
    pub(crate) external_id: String,
    pub(crate) name: String,
    pub(crate) settings: Value,
}

pub(crate) async fn items(w: &ProviderWorld, snapshot: i64, kind: &str, n: i64) -> Vec<Item> {
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT id, external_id, display_name, settings FROM inventory_items
         WHERE snapshot_id = $1 AND kind = $2 ORDER BY id LIMIT $3",
    )
    .bind(snapshot)
    .bind(kind)
    .bind(n)
    .fetch_all(w.app.services.store.unguarded_pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, external_id, name, s)| Item {
            id,
            external_id,
            name,
            settings: serde_json::from_str(&s).unwrap(),
        })
        .collect()
}

pub(crate) async fn latest_snapshot(w: &ProviderWorld) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT MAX(id) FROM inventory_snapshots")
        .fetch_one(w.app.services.store.unguarded_pool())
        .await
        .unwrap()
        .0
}

async fn execute(
    w: &ProviderWorld,
    tenant: TenantId,
    snapshot: i64,
    items: &str,
    name: &str,
) -> crate::common::Reply {
    w.owner
        .call(
            "/api/restore/execute",
            &[
                ("tenant", tenant.to_string()),
                ("snapshot", snapshot.to_string()),
                ("items", items.to_string()),
                ("confirm_name", name.to_string()),
            ],
        )
        .await
}

fn run_of(toast: &Value) -> RunId {
    toast["link"]
        .as_str()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .map(RunId)
        .expect("toast links to the run")
}

fn count(page: &Value, key: &str) -> i64 {
    page["run"]["summary"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p[0] == key))
        .and_then(|p| p[1].as_i64())
        .unwrap_or_else(|| panic!("no {key} in {page}"))
}

async fn preview_confirm_execute_and_rerun(backend: Backend) {
    let w = provider_world(backend).await;
    let tenant = w.tenant("Contoso", HEALTHY).await;
    w.connect(tenant, HEALTHY).await;
    w.run_to_end(tenant, "tenant_verification").await;
    w.run_to_end(tenant, "inventory_sync").await;
    let baseline = latest_snapshot(&w).await;
    let configs = items(&w, baseline, "device_configuration", 2).await;
    let policy = items(&w, baseline, "compliance_policy", 1).await.remove(0);
    let (changed, same) = (&configs[0], &configs[1]);

    // Drift behind Tenantry's back: two settings changed, one policy deleted.
    let camera = changed.settings["cameraBlocked"].as_bool().unwrap();
    assert!(w.sim.drift(
        HEALTHY,
        CONFIGS,
        &changed.external_id,
        json!({"passwordMinimumLength": 99, "cameraBlocked": !camera}),
    ));
    assert!(w.sim.remove(HEALTHY, COMPLIANCE, &policy.external_id));
    w.run_to_end(tenant, "inventory_sync").await;

    // The preview compares with the latest snapshot, per item.
    let query = format!(
        "snapshot={baseline}&item={}&item={}&item={}",
        changed.id, same.id, policy.id
    );
    let r = w
        .owner
        .call(
            "/api/restore/page",
            &[("tenant", tenant.to_string()), ("query", query.clone())],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(page["chosen"]["id"], baseline);
    assert_ne!(page["compared_with"]["id"], baseline);
    let preview = page["preview"].as_array().unwrap();
    let of = |id: i64| preview.iter().find(|p| p["item"] == id).unwrap().clone();
    let update = of(changed.id);
    assert_eq!(update["action"], "update");
    let settings: Vec<&str> = update["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["setting"].as_str().unwrap())
        .collect();
    assert_eq!(settings, ["cameraBlocked", "passwordMinimumLength"]);
    let min = update["changes"][1].clone();
    assert_eq!(min["current"], "99");
    assert_eq!(
        min["restored"],
        changed.settings["passwordMinimumLength"].to_string()
    );
    assert_eq!(of(same.id)["action"], "unchanged");
    assert_eq!(of(policy.id)["action"], "create");
    // The HTML page renders the same preview.
    let html = w
        .owner
        .get(&format!("/admin/t/{tenant}/restore?{query}"))
        .await;
    assert_eq!(html.status, 200);
    assert!(html.body.contains("Will be changed") && html.body.contains("Will be created"));
    assert!(html.body.contains("Type Contoso to confirm"));

    // Operators may not restore (403); strangers do not see the tenant (404).
    let owner_id = w.app.services_user("owner@example.com").await;
    let owner = w.app.actor(owner_id, "owner@example.com");
    let (op_id, op) = w.app.user_browser("op@example.com", false).await;
    domain::workspaces::add_member_directly(
        &w.app.services,
        &owner,
        w.ws,
        "op@example.com",
        Role::Operator,
    )
    .await
    .unwrap();
    domain::tenants::set_assignment(&w.app.services, &owner, tenant, op_id, true)
        .await
        .unwrap();
    let form = [("tenant", tenant.to_string()), ("query", String::new())];
    assert_eq!(op.call("/api/restore/page", &form).await.status, 403);
    let (_, stranger) = w.app.user_browser("stranger@example.com", false).await;
    assert_eq!(stranger.call("/api/restore/page", &form).await.status, 404);
    // Not through the generic start button.
    let r = w
        .owner
        .call(
            "/api/operations/start",
            &[
                ("tenant", tenant.to_string()),
                ("op_type", "restore_execute".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 400);

    // The typed name must match; nothing starts otherwise.
    let ids = format!("{},{},{}", changed.id, same.id, policy.id);
    let r = execute(&w, tenant, baseline, &ids, "contoso").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("confirm_name"), "{}", r.body);
    let r = execute(&w, tenant, baseline, "", "Contoso").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(w.sim.writes(HEALTHY).is_empty());

    // Execute: one PATCH with exactly the drifted settings, one POST.
    let r = execute(&w, tenant, baseline, &ids, " Contoso ").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let toast: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(toast["title"], "Queued", "{toast}");
    let run = run_of(&toast);
    wait_terminal(&w.app, run).await;
    let r = w
        .owner
        .call("/api/runs/get", &[("run", run.to_string())])
        .await;
    let page: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(page["run"]["truth"]["outcome"], "succeeded", "{page}");
    assert_eq!(
        (
            count(&page, "created"),
            count(&page, "updated"),
            count(&page, "unchanged"),
            count(&page, "failed")
        ),
        (1, 1, 1, 0)
    );
    let actions: Vec<&str> = page["items"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["result"].as_str().unwrap())
        .collect();
    assert_eq!(actions.len(), 3);
    let writes = w.sim.writes(HEALTHY);
    assert_eq!(writes.len(), 2, "{writes:?}");
    let patch = writes.iter().find(|x| x.method == "PATCH").unwrap();
    assert_eq!(patch.path, format!("{CONFIGS}/{}", changed.external_id));
    let mut keys: Vec<&String> = patch.body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["@odata.type", "cameraBlocked", "passwordMinimumLength"]
    );
    let post = writes.iter().find(|x| x.method == "POST").unwrap();
    assert_eq!(post.path, COMPLIANCE);
    assert_eq!(post.body["displayName"], policy.name);
    // Read back: the tenant has the snapshot's values again.
    let now = w
        .sim
        .object(HEALTHY, CONFIGS, &changed.external_id)
        .unwrap();
    assert_eq!(
        now["passwordMinimumLength"],
        changed.settings["passwordMinimumLength"]
    );
    assert_eq!(now["cameraBlocked"], camera);
    let (detail,): (Option<String>,) = sqlx::query_as(
        "SELECT detail FROM audit_log WHERE action = 'restore.executed' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(w.app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(
        detail.as_deref(),
        Some("created 1, updated 1, unchanged 1, failed 0")
    );

    // Safe to run again: the created policy is found by name, nothing written.
    let r = execute(&w, tenant, baseline, &ids, "Contoso").await;
    let toast: Value = serde_json::from_str(&r.body).unwrap();
    let again = run_of(&toast);
    wait_terminal(&w.app, again).await;
    let r = w
        .owner
        .call("/api/runs/get", &[("run", again.to_string())])
        .await;
    let page: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(count(&page, "unchanged"), 3, "{page}");
    assert_eq!(w.sim.writes(HEALTHY).len(), 2, "no second write");
    let _ = w.stop.send(true);
}

both_backends!(preview_confirm_execute_and_rerun);
