//! Workers as separate `tenantry worker` processes: exactly-once execution
//! across two processes, and recovery after one is killed with SIGKILL.

use crate::common::{Backend, TestApp, spawn_app};
use crate::runs::{probe, wait_terminal};
use crate::world::run_world;
use domain::ids::TenantId;
use domain::runs::gate::{Initiator, StartGate};
use domain::runs::{RunOutcome, RunStatus, StartDecision};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The worker processes read the real clock: the test's side must agree, or
/// their reconciler sees runs queued long ago and ends them (never started).
fn on_real_time(app: &TestApp) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    app.clock.set_ms(now);
}

struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_worker(app: &TestApp, extra: &[&str]) -> WorkerProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(["worker", "--workers", "1", "--concurrency", "8"])
        .args(extra)
        .env("DATABASE_URL", app.db_url())
        .env("RUST_LOG", "warn")
        // A configured key: the worker writes no key file next to the tests.
        .env("TENANTRY_SECRET_KEY", "ab".repeat(32))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tenantry worker");
    WorkerProcess(child)
}

/// Tenants with an enabled, consented connection each, inserted in bulk.
async fn many_tenants(app: &TestApp, owner: &domain::access::Actor, n: usize) -> Vec<TenantId> {
    let ws = domain::workspaces::list_for_user(&app.services, owner.user_id)
        .await
        .unwrap()[0]
        .id;
    let mut ids = Vec::with_capacity(n);
    let mut tx = app.services.store.begin().await.unwrap();
    for i in 0..n {
        let (t,): (i64,) = sqlx::query_as(
            "INSERT INTO tenants (workspace_id, display_name, microsoft_tenant_id, status, created_at, updated_at)
             VALUES ($1, $2, $3, 'active', 0, 0) RETURNING id",
        )
        .bind(ws.0)
        .bind(format!("Bulk {i}"))
        .bind(format!("00000000-0000-4000-8000-{i:012}"))
        .fetch_one(&mut **tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO provider_connections (workspace_id, tenant_id, display_name, status, consent, has_credentials, is_default, created_at)
             VALUES ($1, $2, 'Graph app', 'enabled', 'granted', 1, 1, 0)",
        )
        .bind(ws.0)
        .bind(t)
        .execute(&mut **tx)
        .await
        .unwrap();
        ids.push(TenantId(t));
    }
    tx.commit().await.unwrap();
    ids
}

async fn thousand_runs_over_two_worker_processes(backend: Backend) {
    let app = spawn_app(backend).await;
    on_real_time(&app);
    let w = run_world(&app).await;
    let tenants = many_tenants(&app, &w.owner, 1000).await;
    let _a = spawn_worker(&app, &[]);
    let _b = spawn_worker(&app, &[]);
    let mut admitted = Vec::new();
    for chunk in tenants.chunks(50) {
        let starts = chunk.iter().map(|t| {
            let svc = app.services.clone();
            let t = *t;
            async move {
                StartGate::start(&svc, Initiator::System, probe(t, serde_json::json!({}))).await
            }
        });
        for r in futures_join_all(starts).await {
            let r = r.unwrap();
            assert_eq!(r.decision, StartDecision::Accepted);
            admitted.push(r.run);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (open,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM operation_runs WHERE status <> 'completed'")
                .fetch_one(app.services.store.unguarded_pool())
                .await
                .unwrap();
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} runs still open after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (runs, executions, distinct, workers): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM operation_runs WHERE outcome = 'succeeded'),
                (SELECT COUNT(*) FROM probe_executions),
                (SELECT COUNT(DISTINCT run_id) FROM probe_executions),
                (SELECT COUNT(DISTINCT worker) FROM probe_executions)",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(runs, 1000, "every run succeeded, none lost");
    assert_eq!(executions, 1000, "each executed exactly once");
    assert_eq!(distinct, 1000);
    assert_eq!(workers, 2, "both processes took work");
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

async fn a_killed_worker_s_run_is_reclaimed(backend: Backend) {
    let app = spawn_app(backend).await;
    on_real_time(&app);
    let w = run_world(&app).await;
    let lease = ["--lease-seconds", "2", "--reconcile-seconds", "1"];
    let mut doomed = spawn_worker(&app, &lease);
    let r = StartGate::start(
        &app.services,
        Initiator::User(&w.owner),
        probe(
            w.tenant,
            serde_json::json!({"first_attempt_sleep_ms": 120_000}),
        ),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = domain::runs::service::RunService::load(&app.services, r.run)
            .await
            .unwrap()
            .unwrap();
        if v.truth.status == RunStatus::Running {
            break;
        }
        if Instant::now() > deadline {
            let row: (String, String, i64, Option<String>) = sqlx::query_as("SELECT status, outcome, attempts, failure_summary FROM operation_runs WHERE id = $1")
                .bind(r.run.0)
                .fetch_one(app.services.store.unguarded_pool())
                .await
                .unwrap();
            panic!("the first worker never claimed the run: {row:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL: no graceful shutdown, no release.
    doomed.0.kill().unwrap();
    let _ = doomed.0.wait();
    let killed_at = Instant::now();
    let _rescuer = spawn_worker(&app, &lease);
    wait_terminal(&app, r.run).await;
    let elapsed = killed_at.elapsed();
    let v = domain::runs::service::RunService::load(&app.services, r.run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.truth.outcome, RunOutcome::Succeeded);
    assert_eq!(v.attempts, 2, "re-claimed once");
    assert_eq!(
        v.reconciliation.map(|r| r.action).as_deref(),
        Some("requeued")
    );
    // Lease (2 s) + one sweep (1 s) + process start-up and pickup.
    assert!(elapsed < Duration::from_secs(8), "recovered in {elapsed:?}");
}

crate::both_backends!(
    thousand_runs_over_two_worker_processes,
    a_killed_worker_s_run_is_reclaimed
);
