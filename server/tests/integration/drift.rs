//! Drift between inventory snapshots (spec 010) end to end: two syncs of a
//! simulated tenant with changes made behind Tenantry's back in between; the
//! change set stored with the second snapshot, the tenant page's card, the
//! history page with its filters, the way back to restore, and who may see it.

use crate::both_backends;
use crate::common::Backend;
use crate::provider::{HEALTHY, provider_world};
use crate::restore::{COMPLIANCE, CONFIGS, items, latest_snapshot};
use serde_json::{Value, json};

async fn card(w: &crate::provider::ProviderWorld, tenant: domain::ids::TenantId) -> Value {
    let r = w
        .owner
        .call("/api/drift/card", &[("tenant", tenant.to_string())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str::<Value>(&r.body).unwrap()
}

async fn drift_appears_after_the_next_sync(backend: Backend) {
    let w = provider_world(backend).await;
    let tenant = w.tenant("Contoso", HEALTHY).await;
    w.connect(tenant, HEALTHY).await;
    // No inventory yet, then the first one: nothing to compare with.
    assert_eq!(card(&w, tenant).await["synced_at"], Value::Null);
    w.run_to_end(tenant, "tenant_verification").await;
    w.run_to_end(tenant, "inventory_sync").await;
    let c = card(&w, tenant).await;
    assert_eq!(c["compared"], false);
    let baseline = latest_snapshot(&w).await;
    let configs = items(&w, baseline, "device_configuration", 2).await;
    let policy = items(&w, baseline, "compliance_policy", 1).await.remove(0);
    let changed = &configs[0];

    // A sync with nothing changed: compared, no entries.
    w.run_to_end(tenant, "inventory_sync").await;
    let c = card(&w, tenant).await;
    assert_eq!(
        (
            c["compared"].as_bool(),
            c["entries"].as_array().map(Vec::len)
        ),
        (Some(true), Some(0))
    );

    // Behind Tenantry's back: two settings of one configuration, one
    // compliance policy deleted. The next sync finds exactly that.
    let camera = changed.settings["cameraBlocked"].as_bool().unwrap();
    let length = changed.settings["passwordMinimumLength"].clone();
    assert!(w.sim.drift(
        HEALTHY,
        CONFIGS,
        &changed.external_id,
        json!({"passwordMinimumLength": 99, "cameraBlocked": !camera}),
    ));
    assert!(w.sim.remove(HEALTHY, COMPLIANCE, &policy.external_id));
    let run = w.run_to_end(tenant, "inventory_sync").await;
    let c = card(&w, tenant).await;
    assert_eq!(
        (
            c["added"].as_i64(),
            c["removed"].as_i64(),
            c["changed"].as_i64()
        ),
        (Some(0), Some(1), Some(1)),
        "{c}"
    );
    let entries = c["entries"].as_array().unwrap();
    let ch = entries.iter().find(|e| e["change"] == "changed").unwrap();
    assert_eq!(ch["external_id"], changed.external_id.as_str());
    assert_eq!(ch["display_name"], changed.name.as_str());
    assert_eq!(ch["run"], run.id.0);
    assert_eq!(
        ch["settings"],
        json!([
            {"setting": "cameraBlocked", "before": camera.to_string(), "after": (!camera).to_string()},
            {"setting": "passwordMinimumLength", "before": length.to_string(), "after": "99"},
        ])
    );
    // Compared with the sync just before (not the first), and the way back
    // is this policy as that snapshot held it.
    let previous: i64 = ch["previous_snapshot"].as_i64().unwrap();
    assert!(
        previous > baseline,
        "compared with the sync just before, not the first"
    );
    let item_in = |external: String| {
        let pool = w.app.services.store.unguarded_pool();
        async move {
            sqlx::query_as::<_, (i64,)>(
                "SELECT id FROM inventory_items WHERE snapshot_id = $1 AND external_id = $2",
            )
            .bind(previous)
            .bind(external)
            .fetch_one(pool)
            .await
            .unwrap()
            .0
        }
    };
    let changed_before = item_in(changed.external_id.clone()).await;
    assert_eq!(ch["before_item"], changed_before);
    let rm = entries.iter().find(|e| e["change"] == "removed").unwrap();
    assert_eq!(rm["before_item"], item_in(policy.external_id.clone()).await);
    assert_eq!(rm["settings"], json!([]));
    // The history: filters and the page.
    let history = |q: &str| {
        let owner = &w.owner;
        let q = q.to_string();
        async move {
            let r = owner
                .call(
                    "/api/drift/history",
                    &[("tenant", tenant.to_string()), ("query", q)],
                )
                .await;
            (
                r.status,
                serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null),
            )
        }
    };
    let (s, h) = history("").await;
    assert_eq!(s, 200);
    assert_eq!(h["entries"].as_array().unwrap().len(), 2);
    let (_, h) = history("change=removed").await;
    assert_eq!(h["entries"].as_array().unwrap().len(), 1);
    let (_, h) = history(&format!(
        "policy={}",
        changed.name.to_uppercase().replace(' ', "+")
    ))
    .await;
    assert_eq!(h["entries"].as_array().unwrap().len(), 1, "{h}");
    let (_, h) = history("kind=compliance_policy&days=7").await;
    assert_eq!(h["entries"].as_array().unwrap().len(), 1);
    let (_, h) = history("policy=%25").await;
    assert_eq!(
        h["entries"].as_array().unwrap().len(),
        0,
        "a % is text, not a wildcard"
    );
    let (s, _) = history("change=moved").await;
    assert_eq!(s, 400);
    // The pages render; the card is on the tenant page.
    let page = w.owner.get(&format!("/admin/t/{tenant}/changes")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-testid=\"drift-history\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!(
            "/admin/t/{tenant}/restore?snapshot={previous}&amp;item={changed_before}"
        )),
        "the restore link"
    );
    let dash = w.owner.get(&format!("/admin/t/{tenant}")).await;
    assert!(dash.body.contains("Changes since the last sync"));
    assert!(dash.body.contains("data-removed=\"1\""), "{}", dash.body);
    // Someone else's: 404.
    let (_, stranger) = w.app.user_browser("stranger@example.com", false).await;
    assert_eq!(
        stranger
            .get(&format!("/admin/t/{tenant}/changes"))
            .await
            .status,
        404
    );
    let r = stranger
        .call("/api/drift/card", &[("tenant", tenant.to_string())])
        .await;
    assert_eq!(r.status, 404);
    let _ = w.stop.send(true);
}

both_backends!(drift_appears_after_the_next_sync);
