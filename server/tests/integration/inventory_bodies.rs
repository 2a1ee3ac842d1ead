//! Content-addressed inventory (spec 014): each distinct item stored once,
//! a reference per item per snapshot, snapshots reading back byte for byte
//! what was stored; and rows written before migration 0028 moved into bodies
//! in batches that a crash leaves whole, keeping their ids.

use crate::both_backends;
use crate::common::{Backend, TestDatabase};
use crate::provider::{HEALTHY, provider_world};
use crate::restore::CONFIGS;
use domain::failpoints::{Crash, Failpoints};
use domain::store::{Store, StoreOptions};
use serde_json::json;

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// Every item as the shared view shows it, in id order.
async fn rows(store: &Store, snapshot: Option<i64>) -> Vec<Row> {
    sqlx::query_as(
        "SELECT id, snapshot_id, kind, external_id, display_name, platform, detail, modified, settings
         FROM inventory_items WHERE $1 IS NULL OR snapshot_id = $1 ORDER BY id",
    )
    .bind(snapshot)
    .fetch_all(store.unguarded_pool())
    .await
    .unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql))
        .fetch_one(store.unguarded_pool())
        .await
        .unwrap()
        .0
}

async fn bodies_of(store: &Store, snapshot: i64) -> Vec<i64> {
    sqlx::query_as::<_, (i64,)>(
        "SELECT body_id FROM inventory_refs WHERE snapshot_id = $1 ORDER BY id",
    )
    .bind(snapshot)
    .fetch_all(store.unguarded_pool())
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.0)
    .collect()
}

async fn an_unchanged_item_is_stored_once(backend: Backend) {
    let w = provider_world(backend).await;
    let store = &w.app.services.store;
    let tenant = w.tenant("Contoso", HEALTHY).await;
    w.connect(tenant, HEALTHY).await;
    w.run_to_end(tenant, "tenant_verification").await;
    w.run_to_end(tenant, "inventory_sync").await;
    let first = crate::restore::latest_snapshot(&w).await;
    let first_rows = rows(store, Some(first)).await;
    let n = first_rows.len() as i64;
    assert!(n > 300, "policies and devices: {n}");
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM inventory_bodies").await,
        n
    );

    // Nothing changed: a reference per item, not one body more.
    w.run_to_end(tenant, "inventory_sync").await;
    let second = crate::restore::latest_snapshot(&w).await;
    assert!(second > first);
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM inventory_bodies").await,
        n
    );
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM inventory_refs").await,
        2 * n
    );
    assert_eq!(
        bodies_of(store, first).await,
        bodies_of(store, second).await
    );

    // One setting changed behind Tenantry's back: that policy alone is
    // stored anew; every other item of the next snapshot is the same body.
    let changed = crate::restore::items(&w, second, "device_configuration", 1)
        .await
        .remove(0);
    assert!(w.sim.drift(
        HEALTHY,
        CONFIGS,
        &changed.external_id,
        json!({"passwordMinimumLength": 77}),
    ));
    w.run_to_end(tenant, "inventory_sync").await;
    let third = crate::restore::latest_snapshot(&w).await;
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM inventory_bodies").await,
        n + 1
    );
    let (before, after) = (
        bodies_of(store, second).await,
        bodies_of(store, third).await,
    );
    let differing: Vec<usize> = (0..before.len())
        .filter(|i| before[*i] != after[*i])
        .collect();
    assert_eq!(differing.len(), 1, "only the changed policy: {differing:?}");
    let third_rows = rows(store, Some(third)).await;
    let new = &third_rows[differing[0]];
    assert_eq!(new.3, changed.external_id);
    assert!(new.8.as_deref().unwrap_or("").contains("77"), "{new:?}");

    // The first snapshot reads back exactly as it was stored, byte for
    // byte, though later ones share its bodies (what restore and drift read).
    assert_eq!(rows(store, Some(first)).await, first_rows);
    let stored = sqlx::query_as::<_, (String,)>(
        "SELECT settings FROM inventory_items WHERE snapshot_id = $1 AND external_id = $2",
    )
    .bind(first)
    .bind(&changed.external_id)
    .fetch_one(store.unguarded_pool())
    .await
    .unwrap()
    .0;
    let original: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(original, changed.settings);
    let _ = w.stop.send(true);
}

/// A database as version 27 left it: one tenant with two inventory
/// snapshots of five items, four unchanged between them, and a gap where an
/// item was deleted (ids are never reused).
async fn version_27_database(store: &Store) -> Vec<Row> {
    store.migrate_until(27).await.unwrap();
    let pool = store.unguarded_pool();
    let exec = |sql: &'static str| async move {
        sqlx::query(sql).execute(pool).await.unwrap();
    };
    exec("INSERT INTO users (email, password_hash, created_at) VALUES ('old@example.com', 'x', 0)")
        .await;
    exec("INSERT INTO workspaces (name, created_by, created_at) VALUES ('Old', 1, 0)").await;
    exec(
        "INSERT INTO tenants (workspace_id, display_name, microsoft_tenant_id, status, created_at, updated_at)
         VALUES (1, 'Contoso', '11111111-1111-1111-1111-111111111111', 'active', 0, 0)",
    )
    .await;
    for run in [1, 2] {
        sqlx::query(
            "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices)
             VALUES (1, $1, 0, 4, 1, 0)",
        )
        .bind(run)
        .execute(pool)
        .await
        .unwrap();
    }
    for snapshot in [1_i64, 2] {
        for i in 0..6 {
            let length = if snapshot == 2 && i == 0 { 14 } else { 8 };
            let kind = if i == 5 {
                "compliance_policy"
            } else {
                "device_configuration"
            };
            sqlx::query(
                "INSERT INTO inventory_items (snapshot_id, kind, external_id, display_name, search_name, platform, detail, modified, settings)
                 VALUES ($1, $2, $3, $4, $5, 'Windows', 'Windows 10 and later', NULL, $6)",
            )
            .bind(snapshot)
            .bind(kind)
            .bind(format!("policy-{i}"))
            .bind(format!("Policy {i}"))
            .bind(format!("policy {i} windows 10 and later"))
            .bind(json!({"displayName": format!("Policy {i}"), "passwordMinimumLength": length}).to_string())
            .execute(pool)
            .await
            .unwrap();
        }
    }
    // The last item written is gone before the upgrade.
    exec("DELETE FROM inventory_items WHERE id = (SELECT MAX(id) FROM inventory_items)").await;
    store.migrate().await.unwrap();
    rows(store, None).await
}

async fn legacy_rows_move_in_batches_and_keep_ids(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let store = Store::connect(&db.url, StoreOptions::default())
        .await
        .unwrap();
    let before = version_27_database(&store).await;
    assert_eq!(before.len(), 11);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM inventory_items_legacy").await,
        11
    );
    let failpoints = Failpoints::default();
    let svc =
        domain::operations::services(store.clone(), Default::default()).with_failpoints(failpoints);

    // A first batch: three rows move, every row still reads the same.
    let moved = domain::inventory::stored::move_legacy_batch(&svc, 3)
        .await
        .unwrap();
    assert_eq!(moved, 3);
    assert_eq!(rows(&store, None).await, before);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM inventory_items_legacy").await,
        8
    );

    // A crash between writing the references and deleting the rows they
    // replace: nothing of that batch is kept, nothing is lost or doubled.
    svc.failpoints.arm("inventory.legacy_moved", 0, Crash::Fail);
    assert!(
        domain::inventory::stored::move_legacy_batch(&svc, 3)
            .await
            .is_err()
    );
    assert_eq!(rows(&store, None).await, before);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM inventory_items_legacy").await,
        8
    );

    // The sweep resumes where it stopped and drains the rest.
    let svc = domain::operations::services(store.clone(), Default::default());
    assert_eq!(
        domain::inventory::stored::sweep_legacy(&svc).await.unwrap(),
        8
    );
    assert_eq!(
        domain::inventory::stored::sweep_legacy(&svc).await.unwrap(),
        0
    );
    assert_eq!(rows(&store, None).await, before);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM inventory_items_legacy").await,
        0
    );
    // Six policies, one of them changed once: seven bodies for eleven rows.
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM inventory_bodies").await,
        7
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM inventory_refs").await,
        11
    );

    // A snapshot written after the upgrade never takes an id the old table
    // handed out, not even the deleted one.
    let item = domain::inventory::InventoryItem {
        kind: "device_configuration",
        external_id: "policy-0".into(),
        display_name: "Policy 0".into(),
        platform: "Windows".into(),
        detail: "Windows 10 and later".into(),
        modified: None,
        settings: Some(json!({"displayName": "Policy 0", "passwordMinimumLength": 14}).to_string()),
    };
    let mut tx = store.begin().await.unwrap();
    domain::inventory::stored::write_items(&mut tx, store.backend(), 2, &[item])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let newest = count(&store, "SELECT MAX(id) FROM inventory_refs").await;
    assert_eq!(newest, 13, "after the 12 ids version 27 handed out");
    // The same content as a moved row: no new body.
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM inventory_bodies").await,
        7
    );
    store.close().await;
    drop(db);
}

both_backends!(
    an_unchanged_item_is_stored_once,
    legacy_rows_move_in_batches_and_keep_ids
);
