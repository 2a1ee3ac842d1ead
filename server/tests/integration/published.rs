//! Only finished work is data (#15 item 8): what an attempt stores becomes
//! visible only when its run ends successfully with that attempt. A worker
//! killed between the write and the completion leaves nothing visible; a
//! re-executed attempt's results replace nothing until it succeeds; a zombie
//! attempt writing late never surfaces.

use crate::both_backends;
use crate::common::{Backend, spawn_app};
use crate::world::run_world;
use domain::provider::data::{self, DirectoryRow, DirectoryTable, InventoryItem};
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::service::{Completion, RunService};

fn policy(name: &str) -> InventoryItem {
    InventoryItem {
        kind: "device_configuration",
        external_id: format!("id-{name}"),
        display_name: name.to_string(),
        platform: "Windows".into(),
        detail: String::new(),
        modified: None,
        settings: Some("{}".into()),
    }
}

fn group(name: &str) -> DirectoryRow {
    DirectoryRow {
        external_id: format!("g-{name}"),
        display_name: name.to_string(),
        description: String::new(),
        mail: None,
        kind: "Security".into(),
        flags: (false, false),
    }
}

async fn a_killed_attempt_leaves_nothing_visible(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let b = app.browser();
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);
    let inventory = format!("/admin/t/{}/inventory", w.tenant);
    let start = |op| StartRequest {
        tenant: w.tenant,
        op_type: op,
        connection: None,
        args: serde_json::Value::Null,
    };

    // Attempt 1 stores a snapshot, then its worker dies before completing.
    let run = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        start(domain::provider::INVENTORY_SYNC),
    )
    .await
    .unwrap()
    .run;
    let first = RunService::claim(svc, "w1", 1, 30_000)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((first.id, first.attempt), (run, 1));
    data::save_inventory(svc, w.tenant, run, first.attempt, &[policy("Zombie")])
        .await
        .unwrap();
    let page = b.get(&inventory).await;
    assert!(
        !page.body.contains("Zombie"),
        "an unfinished attempt's snapshot is not data"
    );
    let restore = b.get(&format!("/admin/t/{}/restore", w.tenant)).await;
    assert!(!restore.body.contains("Zombie"));

    // The lease expires; the reconciler queues the run again; attempt 2
    // stores its own snapshot. The zombie then writes late (a newer row).
    app.clock.advance_ms(60_000);
    domain::runs::reconciler::sweep(svc).await.unwrap();
    let second = RunService::claim(svc, "w2", 1, 30_000)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((second.id, second.attempt), (run, 2));
    data::save_inventory(svc, w.tenant, run, second.attempt, &[policy("Fresh")])
        .await
        .unwrap();
    data::save_inventory(svc, w.tenant, run, first.attempt, &[policy("Late zombie")])
        .await
        .unwrap();
    assert!(
        !b.get(&inventory).await.body.contains("Fresh"),
        "not before the completion"
    );

    // Attempt 2 completes: exactly its snapshot appears, at that moment.
    RunService::complete(svc, &second, Completion::succeeded(Default::default()))
        .await
        .unwrap();
    let page = b.get(&inventory).await;
    assert!(page.body.contains("Fresh"), "{}", page.body);
    assert!(
        !page.body.contains("Zombie"),
        "the killed attempt's rows never surface"
    );
    // The zombie's own completion is fenced out.
    assert!(
        RunService::complete(svc, &first, Completion::succeeded(Default::default()))
            .await
            .is_err()
    );
    assert!(!b.get(&inventory).await.body.contains("Zombie"));
}

async fn a_failed_sync_never_replaces_the_directory(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let b = app.browser();
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);
    let groups = format!("/admin/t/{}/groups", w.tenant);
    let start = || StartRequest {
        tenant: w.tenant,
        op_type: domain::provider::DIRECTORY_GROUPS_SYNC,
        connection: None,
        args: serde_json::Value::Null,
    };
    // A sync that succeeds: its groups are the tenant's.
    StartGate::start(svc, Initiator::User(&w.owner), start())
        .await
        .unwrap();
    let ok = RunService::claim(svc, "w1", 1, 30_000)
        .await
        .unwrap()
        .remove(0);
    data::replace_directory(
        svc,
        w.tenant,
        ok.id,
        ok.attempt,
        DirectoryTable::Groups,
        &[group("Helpdesk")],
    )
    .await
    .unwrap();
    RunService::complete(svc, &ok, Completion::succeeded(Default::default()))
        .await
        .unwrap();
    assert!(b.get(&groups).await.body.contains("Helpdesk"));
    // The next sync reads a different directory and then fails (or dies):
    // the published groups stay as they were.
    StartGate::start(svc, Initiator::User(&w.owner), start())
        .await
        .unwrap();
    let bad = RunService::claim(svc, "w1", 1, 30_000)
        .await
        .unwrap()
        .remove(0);
    let counts = data::replace_directory(
        svc,
        w.tenant,
        bad.id,
        bad.attempt,
        DirectoryTable::Groups,
        &[group("Partial read")],
    )
    .await
    .unwrap();
    assert_eq!(counts, (1, 0, 1, 1), "compared with what is published");
    let page = b.get(&groups).await;
    assert!(page.body.contains("Helpdesk") && !page.body.contains("Partial read"));
    RunService::complete(
        svc,
        &bad,
        Completion::failed(
            domain::runs::model::ReasonCode::HandlerFailed,
            "Graph stopped answering half-way.",
        ),
    )
    .await
    .unwrap();
    let page = b.get(&groups).await;
    assert!(page.body.contains("Helpdesk"), "{}", page.body);
    assert!(!page.body.contains("Partial read"));
    // A later successful sync replaces it, and old runs' rows are pruned.
    StartGate::start(svc, Initiator::User(&w.owner), start())
        .await
        .unwrap();
    let next = RunService::claim(svc, "w1", 1, 30_000)
        .await
        .unwrap()
        .remove(0);
    data::replace_directory(
        svc,
        w.tenant,
        next.id,
        next.attempt,
        DirectoryTable::Groups,
        &[group("Service desk")],
    )
    .await
    .unwrap();
    RunService::complete(svc, &next, Completion::succeeded(Default::default()))
        .await
        .unwrap();
    let page = b.get(&groups).await;
    assert!(page.body.contains("Service desk") && !page.body.contains("Helpdesk"));
}

both_backends!(
    a_killed_attempt_leaves_nothing_visible,
    a_failed_sync_never_replaces_the_directory,
);
