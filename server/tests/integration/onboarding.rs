//! The onboarding wizard end to end: tenant → connection → verification
//! through the gate → bootstrap that admits one run at a time on the
//! connection, with the next started by the system when the previous ends —
//! by the worker's hook, and by the sweep after a restart.

use crate::both_backends;
use crate::common::{Backend, open_store};
use crate::provider::{CLIENT, HEALTHY, ProviderWorld, SECRET, provider_world};
use crate::runs::wait_terminal;
use domain::ids::RunId;
use domain::runs::service::{Completion, RunService};
use domain::runs::{RunOutcome, SummaryCounts};
use serde_json::Value;
use std::time::Duration;

async fn get(w: &ProviderWorld, draft: i64) -> Value {
    let r = w
        .owner
        .call("/api/onboarding/get", &[("draft", draft.to_string())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

fn run_of(toast: &Value) -> RunId {
    toast["link"]
        .as_str()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .map(RunId)
        .expect("toast links to the run")
}

/// Tenant, connection and a finished verification: a draft at "choose".
async fn verified_draft(w: &ProviderWorld) -> i64 {
    let r = w
        .owner
        .call(
            "/api/onboarding/start",
            &[
                ("workspace", w.ws.to_string()),
                ("display_name", "Contoso".into()),
                ("microsoft_tenant_id", HEALTHY.into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let draft: i64 = r.body.trim().parse().unwrap();
    assert_eq!(get(w, draft).await["step"], "connection");
    // Not before it is verified.
    let r = w
        .owner
        .call(
            "/api/onboarding/bootstrap",
            &[
                ("draft", draft.to_string()),
                ("op_inventory_sync", "on".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = w
        .owner
        .call(
            "/api/onboarding/connection",
            &[
                ("draft", draft.to_string()),
                ("display_name", "Tenantry app".into()),
                ("entra_tenant_id", HEALTHY.into()),
                ("client_id", CLIENT.into()),
                ("client_secret", SECRET.into()),
                ("expires_on", "2030-12-31".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get(w, draft).await["step"], "verify");
    let r = w
        .owner
        .call("/api/onboarding/verify", &[("draft", draft.to_string())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let toast: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(toast["title"], "Queued", "{toast}");
    wait_terminal(&w.app, run_of(&toast)).await;
    let d = get(w, draft).await;
    assert_eq!(d["step"], "choose", "{d}");
    assert_eq!(d["verification"]["usable"], true);
    draft
}

async fn bootstrap(w: &ProviderWorld, draft: i64, ops: &[&str]) -> Value {
    let mut form = vec![("draft", draft.to_string())];
    let names: Vec<String> = ops.iter().map(|o| format!("op_{o}")).collect();
    for n in &names {
        form.push((n.as_str(), "on".to_string()));
    }
    let r = w.owner.call("/api/onboarding/bootstrap", &form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

async fn active_on_connection(w: &ProviderWorld) -> i64 {
    sqlx::query_as::<_, (i64,)>(
        "SELECT COUNT(*) FROM operation_runs WHERE scope_key LIKE 'provider_connection:%' AND status IN ('queued', 'running')",
    )
    .fetch_one(w.app.services.store.unguarded_pool())
    .await
    .unwrap()
    .0
}

async fn runs_in_order(w: &ProviderWorld) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT op_type, initiator_kind, outcome FROM operation_runs
         WHERE op_type IN ('inventory_sync', 'compliance_snapshot', 'directory_groups_sync', 'role_definitions_sync')
         ORDER BY id",
    )
    .fetch_all(w.app.services.store.unguarded_pool())
    .await
    .unwrap()
}

/// The owner's notifications after the verification's: (title, body, link, run).
async fn bootstrap_notifications(w: &ProviderWorld) -> Vec<(String, String, String, Option<i64>)> {
    sqlx::query_as(
        "SELECT n.title, n.body, n.link, n.run_id FROM notifications n
         LEFT JOIN operation_runs r ON r.id = n.run_id
         WHERE r.op_type IS NULL OR r.op_type <> 'onboarding_verification'
         ORDER BY n.id",
    )
    .fetch_all(w.app.services.store.unguarded_pool())
    .await
    .unwrap()
}

async fn one_run_at_a_time(backend: Backend) {
    let w = provider_world(backend).await;
    let draft = verified_draft(&w).await;
    let toast = bootstrap(
        &w,
        draft,
        &[
            "role_definitions_sync",
            "inventory_sync",
            "compliance_snapshot",
            "directory_groups_sync",
        ],
    )
    .await;
    assert_eq!(toast["title"], "Queued", "{toast}");
    // Watch the connection while the worker works: never two runs on it.
    let mut done = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while std::time::Instant::now() < deadline {
        assert!(
            active_on_connection(&w).await <= 1,
            "two runs on one connection"
        );
        if get(&w, draft).await["step"] == "done" {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(done, "the bootstrap finished");
    // One notification for the whole bootstrap, none per run.
    let notes = bootstrap_notifications(&w).await;
    assert_eq!(
        notes,
        [(
            "Onboarding of Contoso finished".to_string(),
            "4 operations ran: 4 succeeded.".to_string(),
            format!("/admin/onboarding/{draft}"),
            None
        )],
        "{notes:?}"
    );
    let runs = runs_in_order(&w).await;
    let ops: Vec<&str> = runs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        ops,
        [
            "inventory_sync",
            "compliance_snapshot",
            "directory_groups_sync",
            "role_definitions_sync"
        ],
        "the canonical order, each once"
    );
    let initiators: Vec<&str> = runs.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(initiators, ["user", "system", "system", "system"]);
    assert!(runs.iter().all(|r| r.2 == "succeeded"), "{runs:?}");
    let d = get(&w, draft).await;
    assert_eq!(d["entries"].as_array().unwrap().len(), 4);
    assert!(
        d["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["run"]["active"] == false)
    );
    // The tenant's data is there: the dashboard's inventory is synced.
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM inventory_snapshots")
        .fetch_one(w.app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Bootstrapping twice is refused.
    let r = w
        .owner
        .call(
            "/api/onboarding/bootstrap",
            &[
                ("draft", draft.to_string()),
                ("op_inventory_sync", "on".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 409);
    // Drafts are per workspace: a stranger gets 404; the list shows it finished.
    let (_, stranger) = w.app.user_browser("stranger@example.com", false).await;
    let r = stranger
        .call("/api/onboarding/get", &[("draft", draft.to_string())])
        .await;
    assert_eq!(r.status, 404);
    let r = w.owner.call("/api/onboarding/list", &[]).await;
    let list: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(list["finished"][0]["id"], draft, "{list}");
    let _ = w.stop.send(true);
}

/// The first run ends while no process advances the draft (it "crashed");
/// a new process on the same database starts the next one from the sweep.
async fn the_next_starts_after_a_restart(backend: Backend) {
    let w = provider_world(backend).await;
    let draft = verified_draft(&w).await;
    let _ = w.stop.send(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let toast = bootstrap(&w, draft, &["inventory_sync", "compliance_snapshot"]).await;
    let first = run_of(&toast);
    let d = get(&w, draft).await;
    assert_eq!(d["step"], "bootstrap");
    assert_eq!(d["entries"][1]["run"], Value::Null, "the second one waits");
    assert_eq!(active_on_connection(&w).await, 1);
    // The sweep does nothing while the first is active.
    assert_eq!(
        domain::onboarding::advance_due(&w.app.services)
            .await
            .unwrap(),
        0
    );
    // The first run ends without the completion hook (the process died).
    let claimed = RunService::claim(&w.app.services, "old-process", 1, 30_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, first);
    RunService::complete(
        &w.app.services,
        &claimed[0],
        Completion::succeeded(SummaryCounts::default()),
    )
    .await
    .unwrap();
    assert_eq!(active_on_connection(&w).await, 0);
    // A new process: its own services on the same database.
    let restarted = domain::operations::services(
        open_store(w.app.db_url()).await,
        domain::services::Settings::default(),
    )
    .with_clock(w.app.services.clock.clone())
    .with_secrets(w.app.services.secrets.clone())
    .with_port((*domain::provider::graph_client(&w.app.services)).clone());
    assert_eq!(
        domain::onboarding::advance_due(&restarted).await.unwrap(),
        1
    );
    assert_eq!(
        domain::onboarding::advance_due(&restarted).await.unwrap(),
        0,
        "never a second run while one is active"
    );
    let d = get(&w, draft).await;
    let second = RunId(d["entries"][1]["run"]["run"].as_i64().unwrap());
    assert_eq!(active_on_connection(&w).await, 1);
    let runs = runs_in_order(&w).await;
    assert_eq!(runs[1].0, "compliance_snapshot");
    assert_eq!(runs[1].1, "system");
    // A worker of the new process finishes it; the draft completes.
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = domain::runs::worker::Worker::new(restarted.clone(), Default::default());
    tokio::spawn(worker.run(rx));
    wait_terminal(&w.app, second).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if get(&w, draft).await["step"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let d = get(&w, draft).await;
    assert_eq!(d["step"], "done", "{d}");
    let view = RunService::load(&w.app.services, second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.truth.outcome, RunOutcome::Succeeded);
    let _ = stop.send(true);
}

/// A run that ends while another advancer holds the draft's lease leaves a
/// note for the holder instead of its wake-up being lost.
async fn a_wake_up_during_another_turn_is_noted(backend: Backend) {
    let w = provider_world(backend).await;
    let draft = verified_draft(&w).await;
    let _ = w.stop.send(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let toast = bootstrap(&w, draft, &["inventory_sync", "compliance_snapshot"]).await;
    assert_eq!(toast["title"], "Queued", "{toast}");
    let pool = w.app.services.store.unguarded_pool();
    let note = || async {
        sqlx::query_as::<_, (i64,)>("SELECT advance_again FROM onboarding_drafts WHERE id = $1")
            .bind(draft)
            .fetch_one(pool)
            .await
            .unwrap()
            .0
    };
    assert_eq!(note().await, 0, "the bootstrap's own turn left no note");
    // Another process is mid-turn.
    sqlx::query("UPDATE onboarding_drafts SET advancing_until = $2 WHERE id = $1")
        .bind(draft)
        .bind(w.app.services.now() + 60_000)
        .execute(pool)
        .await
        .unwrap();
    let none = domain::onboarding::advance(&w.app.services, draft, None)
        .await
        .unwrap();
    assert!(none.is_none(), "nothing starts while the lease is held");
    assert_eq!(note().await, 1, "the holder is asked for one more turn");
    assert_eq!(
        active_on_connection(&w).await,
        1,
        "still only the first run"
    );
    // The holder released it (crashed or done): the next turn starts nothing
    // while the first run is active, and clears the note.
    sqlx::query("UPDATE onboarding_drafts SET advancing_until = NULL WHERE id = $1")
        .bind(draft)
        .execute(pool)
        .await
        .unwrap();
    assert!(
        domain::onboarding::advance(&w.app.services, draft, None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(note().await, 0);
    assert_eq!(active_on_connection(&w).await, 1);
}

/// The connection is deleted between two bootstrap operations: the draft
/// ends, says why, and marks what never started — it does not wait for ever.
async fn a_deleted_connection_stops_the_bootstrap(backend: Backend) {
    let w = provider_world(backend).await;
    let draft = verified_draft(&w).await;
    let _ = w.stop.send(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = get(&w, draft).await;
    let tenant = d["tenant"][0].as_i64().unwrap();
    let connection = d["connection"][0].as_i64().unwrap();
    let toast = bootstrap(&w, draft, &["inventory_sync", "compliance_snapshot"]).await;
    let first = run_of(&toast);
    let claimed = RunService::claim(&w.app.services, "old-process", 1, 30_000)
        .await
        .unwrap();
    assert_eq!(claimed[0].id, first);
    RunService::complete(
        &w.app.services,
        &claimed[0],
        Completion::succeeded(SummaryCounts::default()),
    )
    .await
    .unwrap();
    let r = w
        .owner
        .call(
            "/api/connections/delete",
            &[
                ("tenant", tenant.to_string()),
                ("connection", connection.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        domain::onboarding::advance_due(&w.app.services)
            .await
            .unwrap(),
        0
    );
    let d = get(&w, draft).await;
    assert_eq!(d["step"], "done", "{d}");
    assert_eq!(
        d["stopped"],
        "The provider connection was deleted before every operation started."
    );
    assert_eq!(d["entries"][0]["run"]["run"], first.0);
    assert_eq!(d["entries"][1]["run"], Value::Null);
    let notes = bootstrap_notifications(&w).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, "Onboarding of Contoso stopped");
    assert_eq!(
        notes[0].1,
        "The provider connection was deleted before every operation started. 1 operation ran: 1 succeeded."
    );
    assert_eq!(notes[0].2, format!("/admin/onboarding/{draft}"));
    assert_eq!(active_on_connection(&w).await, 0);
    // The sweep no longer looks at it.
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM onboarding_drafts WHERE status = 'bootstrapping'")
            .fetch_one(w.app.services.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!(n, 0);
    let page = w.owner.get(&format!("/admin/onboarding/{draft}")).await;
    assert!(page.body.contains("Bootstrap stopped"), "{}", page.body);
    assert!(page.body.contains("Not started"));
}

both_backends!(
    a_deleted_connection_stops_the_bootstrap,
    one_run_at_a_time,
    the_next_starts_after_a_restart,
    a_wake_up_during_another_turn_is_noted
);
