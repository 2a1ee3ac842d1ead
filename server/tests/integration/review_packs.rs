//! Review packs end to end: generate through the gate over HTTP, a worker
//! writes the HTML and ZIP under the data directory, the card reads the
//! truth, downloads are authorised and audited, expiry with a manual clock
//! deletes the files.

use crate::both_backends;
use crate::common::Backend;
use crate::provider::{HEALTHY, ProviderWorld, provider_world};
use crate::runs::wait_terminal;
use domain::ids::{RunId, TenantId};
use domain::rbac::Role;
use serde_json::Value;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn card(w: &ProviderWorld, browser: &crate::common::Browser, tenant: TenantId) -> Value {
    let r = browser
        .call("/api/review-packs/card", &[("tenant", tenant.to_string())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let _ = w;
    serde_json::from_str(&r.body).unwrap()
}

async fn generate(w: &ProviderWorld, tenant: TenantId, sections: &[&str]) -> crate::common::Reply {
    let mut form = vec![("tenant", tenant.to_string())];
    let names: Vec<String> = sections.iter().map(|s| format!("section_{s}")).collect();
    for n in &names {
        form.push((n.as_str(), "on".to_string()));
    }
    w.owner.call("/api/review-packs/generate", &form).await
}

async fn lifecycle(backend: Backend) {
    let w = provider_world(backend).await;
    let tenant = w.tenant("Contoso", HEALTHY).await;
    w.connect(tenant, HEALTHY).await;
    w.run_to_end(tenant, "tenant_verification").await;
    w.run_to_end(tenant, "inventory_sync").await;
    let app = &w.app;

    // No pack yet: the card says so and would not poll.
    let c = card(&w, &w.owner, tenant).await;
    assert_eq!(c["latest"], Value::Null);
    assert_eq!(c["can_generate"], true);
    assert_eq!(c["retention_days"], 30);

    // Only from its own card: the generic start button refuses it.
    let r = w
        .owner
        .call(
            "/api/operations/start",
            &[
                ("tenant", tenant.to_string()),
                ("op_type", "review_pack_generate".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // At least one section.
    let r = generate(&w, tenant, &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("sections"), "{}", r.body);

    let r = generate(&w, tenant, &["inventory", "verification", "operations"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["toast"]["title"], "Queued", "{answer}");
    let pack = &answer["card"]["latest"];
    let status = pack["status"].as_str().unwrap();
    assert!(
        ["queued", "generating", "ready"].contains(&status),
        "{status}"
    );
    assert_eq!(
        pack["sections"],
        serde_json::json!(["verification", "inventory", "operations"]),
        "canonical order"
    );
    let run = RunId(pack["run"].as_i64().unwrap());
    let id = pack["id"].as_i64().unwrap();
    wait_terminal(app, run).await;

    let c = card(&w, &w.owner, tenant).await;
    let latest = &c["latest"];
    assert_eq!(latest["status"], "ready", "{c}");
    assert_eq!(latest["expires_at"], crate::common::T0 + 30 * DAY_MS);
    let html_size = latest["html_size"].as_i64().unwrap();
    let zip_size = latest["zip_size"].as_i64().unwrap();
    assert!(html_size > 1000 && zip_size > 200, "{latest}");

    // The files are where the row says, with the sizes it records.
    let (html_path, zip_path): (String, String) =
        sqlx::query_as("SELECT html_path, zip_path FROM review_packs WHERE id = $1")
            .bind(id)
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap();
    let on_disk = |p: &str| app.services.data_dir.join(p);
    assert_eq!(
        std::fs::metadata(on_disk(&html_path)).unwrap().len() as i64,
        html_size
    );
    assert_eq!(
        std::fs::metadata(on_disk(&zip_path)).unwrap().len() as i64,
        zip_size
    );

    // Download the report: an attachment with the tenant's stored data.
    let base = format!("/admin/t/{tenant}/review-packs/{id}");
    let r = w.owner.get(&format!("{base}/report.html")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"contoso-review-pack-2026-01-01.html\""),
        "{:?}",
        r.headers
    );
    assert!(r.body.contains("Review pack: Contoso"));
    let (policy,): (String,) = sqlx::query_as(
        "SELECT display_name FROM inventory_items WHERE kind = 'compliance_policy' ORDER BY id LIMIT 1",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert!(r.body.contains(&policy), "the report lists {policy}");
    assert!(r.body.contains("Permission Group.Read.All"));
    assert!(!r.body.contains(crate::provider::SECRET));

    // The ZIP: manifest + CSV/JSON per table; every policy of the snapshot.
    let bytes = w
        .owner
        .client
        .get(format!("{}{base}/data.zip", w.owner.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("policies.csv").unwrap(), &mut csv).unwrap();
    let (policies,): (i64,) = sqlx::query_as(
        "SELECT device_configurations + compliance_policies FROM inventory_snapshots ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(
        csv.lines().count() as i64,
        policies + 1,
        "header + every policy"
    );
    for name in [
        "manifest.json",
        "operations.csv",
        "operations.json",
        "verification.csv",
    ] {
        assert!(archive.by_name(name).is_ok(), "{name} in the zip");
    }
    assert!(archive.by_name("compliance.csv").is_err(), "not chosen");

    // Authorization: strangers and unassigned members get 404, a readonly
    // member assigned to the tenant may download but not generate.
    let (_, stranger) = app.user_browser("stranger@example.com", false).await;
    assert_eq!(
        stranger.get(&format!("{base}/report.html")).await.status,
        404
    );
    let owner_id = app.services_user("owner@example.com").await;
    let owner = app.actor(owner_id, "owner@example.com");
    let (ro_id, ro) = app.user_browser("ro@example.com", false).await;
    domain::workspaces::add_member_directly(
        &app.services,
        &owner,
        w.ws,
        "ro@example.com",
        Role::Readonly,
    )
    .await
    .unwrap();
    let r = ro
        .call("/api/workspaces/switch", &[("workspace", w.ws.to_string())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ro.get(&format!("{base}/report.html")).await.status, 404);
    domain::tenants::set_assignment(&app.services, &owner, tenant, ro_id, true)
        .await
        .unwrap();
    assert_eq!(ro.get(&format!("{base}/report.html")).await.status, 200);
    assert_eq!(card(&w, &ro, tenant).await["can_generate"], false);
    let r = ro
        .call(
            "/api/review-packs/generate",
            &[
                ("tenant", tenant.to_string()),
                ("section_inventory", "on".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A pack id under another tenant's path is not found; so are bad names.
    let other = w.tenant("Fabrikam", crate::provider::NO_CONSENT).await;
    let r = w
        .owner
        .get(&format!("/admin/t/{other}/review-packs/{id}/report.html"))
        .await;
    assert_eq!(r.status, 404);
    let r = w.owner.get(&format!("{base}/secret.key")).await;
    assert_eq!(r.status, 404);
    // Signed out: sent to sign in.
    let r = app.browser().get(&format!("{base}/report.html")).await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Expiry: past the retention the card says expired at once, downloads
    // are gone (410), and the sweep deletes the files, audited.
    app.clock.advance_ms(30 * DAY_MS);
    // (Sessions expire too: sign in again.)
    let owner = app.browser();
    assert_eq!(owner.sign_in("owner@example.com").await.status, 200);
    assert_eq!(
        card(&w, &owner, tenant).await["latest"]["status"],
        "expired"
    );
    let r = owner.get(&format!("{base}/data.zip")).await;
    assert_eq!(r.status, 410);
    assert!(r.body.contains("expired"), "{}", r.body);
    assert!(on_disk(&html_path).exists(), "not swept yet");
    assert_eq!(
        domain::review_packs::expire_due(&app.services)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        domain::review_packs::expire_due(&app.services)
            .await
            .unwrap(),
        0
    );
    assert!(!on_disk(&html_path).exists() && !on_disk(&zip_path).exists());
    let (status, path): (String, Option<String>) =
        sqlx::query_as("SELECT status, html_path FROM review_packs WHERE id = $1")
            .bind(id)
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!((status.as_str(), path), ("expired", None));
    let actions: Vec<(String,)> = sqlx::query_as(
        "SELECT action FROM audit_log WHERE action LIKE 'review_pack.%' ORDER BY id",
    )
    .fetch_all(app.services.store.unguarded_pool())
    .await
    .unwrap();
    let actions: Vec<&str> = actions.iter().map(|a| a.0.as_str()).collect();
    assert!(actions.contains(&"review_pack.downloaded"), "{actions:?}");
    assert_eq!(actions.last(), Some(&"review_pack.expired"));
    let _ = w.stop.send(true);
}

/// A pack whose run ended without making it ready reads failed, with the
/// run's words, and stops the card's polling.
async fn a_pack_of_an_ended_run_reads_failed(backend: Backend) {
    let w = provider_world(backend).await;
    let tenant = w.tenant("Contoso", HEALTHY).await;
    let _ = w.stop.send(true);
    let r = generate(&w, tenant, &["operations"]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["card"]["latest"]["status"], "queued");
    let run = answer["card"]["latest"]["run"].as_i64().unwrap();
    // The reconciler gave up on it (no worker ever made the pack).
    sqlx::query(
        "UPDATE operation_runs SET status = 'completed', outcome = 'failed', reason_code = 'lease_expired',
            failure_summary = NULL, completed_at = created_at WHERE id = $1",
    )
    .bind(run)
    .execute(w.app.services.store.unguarded_pool())
    .await
    .unwrap();
    let c = card(&w, &w.owner, tenant).await;
    assert_eq!(c["latest"]["status"], "failed", "{c}");
    assert_eq!(
        c["latest"]["failure"],
        "The worker running this operation stopped responding."
    );
}

both_backends!(lifecycle, a_pack_of_an_ended_run_reads_failed);
