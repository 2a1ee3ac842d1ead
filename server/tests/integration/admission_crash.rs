//! A schedule's fire or a member's bulk interrupted between any two of its
//! writes (spec 009, "Exactly once across a crash"): whoever takes it over
//! starts no target twice, even when the first run already ended, and the
//! fire's counts and hub link include every run it started. In-process
//! crashes (a failpoint answers an error: nothing after it is written) on
//! both backends, and a real `tenantry worker` aborted between a batch's
//! admission and its ledger rows, finished by a second process.

use crate::common::{Backend, T0, TestApp, spawn_app};
use crate::world::fleet;
use domain::failpoints::Crash;
use domain::ids::{ScheduleFireId, TenantId};
use domain::runs::filter::RunFilter;
use domain::runs::monitoring::Viewer;
use domain::schedules::service::{self, ScheduleForm};
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MINUTE: i64 = 60_000;
/// 2 of the 8 targets are blocked (their connection is disabled).
const TARGETS: i64 = 8;
const BLOCKED: i64 = 2;

/// Every write boundary of a fire: (failpoint, hits let through first).
const CRASH_POINTS: &[(&str, u32)] = &[
    ("fire.after_create", 0),
    ("fire.after_targets", 0),
    // After the first committed admission (PostgreSQL: the batch's
    // statement; SQLite: the first tenant), and after a later one.
    ("gate.after_admission", 0),
    ("gate.after_admission", 2),
    ("admission.before_record", 0),
    ("admission.after_record", 0),
    ("fire.before_finish", 0),
];

fn every_hour() -> ScheduleForm {
    ScheduleForm {
        name: "Hourly inventory".into(),
        op_type: "inventory_sync".into(),
        target: "all".into(),
        cron: "0 * * * *".into(),
        time_zone: "UTC".into(),
        spread_seconds: "0".into(),
    }
}

/// Disables the connection of the last `n` tenants (their starts are blocked).
async fn block_last(app: &TestApp, tenants: &[TenantId], n: usize) {
    for t in &tenants[tenants.len() - n..] {
        sqlx::query("UPDATE provider_connections SET status = 'disabled' WHERE tenant_id = $1")
            .bind(t.0)
            .execute(app.services.store.unguarded_pool())
            .await
            .unwrap();
    }
}

/// Ends every active run as the workers would (so the gate's dedupe cannot
/// hide a second start: the case the takeover must get right on its own).
async fn end_every_run(app: &TestApp, at: i64) {
    sqlx::query(
        "UPDATE operation_runs SET status = 'completed', outcome = 'succeeded', started_at = $1, completed_at = $1
         WHERE status IN ('queued', 'running')",
    )
    .bind(at)
    .execute(app.services.store.unguarded_pool())
    .await
    .unwrap();
}

/// What the database says about the fire: runs per tenant, ledger rows,
/// audit entries of starts.
struct Outcome {
    runs_per_tenant: HashMap<i64, i64>,
    ledger: Vec<(i64, String, Option<i64>)>,
    start_audits: i64,
}

async fn outcome(app: &TestApp) -> Outcome {
    let pool = app.services.store.unguarded_pool();
    let runs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT tenant_id, COUNT(*) FROM operation_runs WHERE initiator_kind = 'schedule' GROUP BY tenant_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let ledger: Vec<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT tenant_id, decision, run_id FROM schedule_fire_targets ORDER BY tenant_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let (start_audits,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('operation.queued', 'operation.blocked')",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    Outcome {
        runs_per_tenant: runs.into_iter().collect(),
        ledger,
        start_audits,
    }
}

async fn a_fire_crashed_between_any_two_writes_starts_no_target_twice(backend: Backend) {
    for (point, pass) in CRASH_POINTS {
        let app = spawn_app(backend).await;
        let w = fleet(&app, TARGETS as usize - 1).await;
        let svc = &app.services;
        block_last(&app, &w.tenants, BLOCKED as usize).await;
        service::create(svc, &w.owner, w.ws, every_hour())
            .await
            .unwrap();
        svc.failpoints.arm(point, *pass, Crash::Fail);
        app.clock.set_ms(T0 + 60 * MINUTE);
        let crashed = service::fire_due(svc.clone()).await;
        assert!(crashed.is_err(), "{point}@{pass}: the crash was reached");
        assert!(
            svc.failpoints.hits(point) > *pass,
            "{point}@{pass}: reached"
        );
        // The runs it started ran and ended before anyone took over.
        end_every_run(&app, T0 + 61 * MINUTE).await;
        // Within the lease nobody touches it; after it, one sweep finishes it.
        app.clock.set_ms(T0 + 61 * MINUTE);
        service::fire_due(svc.clone()).await.unwrap();
        app.clock
            .set_ms(T0 + 60 * MINUTE + service::FIRE_LEASE_MS + 1_000);
        service::fire_due(svc.clone()).await.unwrap();

        let o = outcome(&app).await;
        assert_eq!(
            o.runs_per_tenant.len() as i64,
            TARGETS,
            "{point}@{pass}: every target started: {:?}",
            o.runs_per_tenant
        );
        assert!(
            o.runs_per_tenant.values().all(|n| *n == 1),
            "{point}@{pass}: a target started twice: {:?}",
            o.runs_per_tenant
        );
        assert_eq!(
            o.start_audits, TARGETS,
            "{point}@{pass}: one audit entry per start"
        );
        assert_eq!(
            o.ledger.len() as i64,
            TARGETS,
            "{point}@{pass}: {:?}",
            o.ledger
        );
        let (fire,): (i64,) = sqlx::query_as("SELECT id FROM schedule_fires")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .unwrap();
        let view = service::fire(svc, ScheduleFireId(fire))
            .await
            .unwrap()
            .unwrap();
        assert!(view.finished, "{point}@{pass}");
        assert_eq!(
            (
                view.targets,
                view.progress.decided.queued,
                view.progress.decided.blocked,
                view.progress.decided.already_running
            ),
            (TARGETS, TARGETS - BLOCKED, BLOCKED, 0),
            "{point}@{pass}: the fire counts every run it started"
        );
        // The hub's link for the fire lists every run it started.
        let access = domain::access::workspace(
            svc,
            &w.owner,
            w.ws,
            domain::rbac::Capability::OperationsView,
        )
        .await
        .unwrap();
        let listed = domain::runs::monitoring::runs(
            svc,
            &Viewer::member(&access, &w.owner),
            &RunFilter {
                fire: Some(ScheduleFireId(fire)),
                ..RunFilter::default()
            },
            None,
            100,
            svc.now(),
        )
        .await
        .unwrap();
        assert_eq!(listed.len() as i64, TARGETS, "{point}@{pass}: hub link");
    }
}

crate::both_backends!(a_fire_crashed_between_any_two_writes_starts_no_target_twice);

/// The same across processes: a `tenantry worker` aborts right after a
/// batch's runs are committed and before their ledger rows; a second
/// process takes the fire over after its lease and starts only the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_killed_mid_fire_is_finished_by_another_without_a_second_start() {
    let app = spawn_app(Backend::Postgres).await;
    let w = fleet(&app, TARGETS as usize - 1).await;
    let svc = &app.services;
    block_last(&app, &w.tenants, BLOCKED as usize).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap();
    app.clock.set_ms(now);
    let mut every_minute = every_hour();
    every_minute.cron = "* * * * *".into();
    let schedule = service::create(svc, &w.owner, w.ws, every_minute)
        .await
        .unwrap();
    // Due now (not at the next minute).
    sqlx::query("UPDATE schedules SET next_fire_at = $2 WHERE id = $1")
        .bind(schedule.0)
        .bind(now - 1_000)
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    let worker = |failpoints: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
        cmd.args(["worker", "--workers", "1", "--reconcile-seconds", "1"])
            .env("DATABASE_URL", app.db_url())
            .env("RUST_LOG", "warn")
            .env("TENANTRY_SECRET_KEY", "ab".repeat(32))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(f) = failpoints {
            cmd.env("TENANTRY_FAILPOINTS", f);
        }
        cmd.spawn().expect("start tenantry worker")
    };
    let mut doomed = worker(Some("admission.before_record=abort"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = doomed.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = doomed.kill();
            panic!("the first worker never reached the failpoint");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "it aborted");
    let pool = svc.store.unguarded_pool();
    let (runs, recorded): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM operation_runs), (SELECT COUNT(*) FROM schedule_fire_targets)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(runs > 0, "the batch's runs were committed");
    assert_eq!(recorded, 0, "and none recorded when it died");
    // No more slots; the crashed fire's lease has run out; its runs ended.
    sqlx::query("UPDATE schedules SET enabled = 0, next_fire_at = NULL")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE schedule_fires SET lease_until = 0")
        .execute(pool)
        .await
        .unwrap();
    end_every_run(&app, now).await;
    let mut rescuer = worker(None);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (finished,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM schedule_fires WHERE finished_at IS NOT NULL")
                .fetch_one(pool)
                .await
                .unwrap();
        if finished == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the fire was never taken over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = rescuer.kill();
    let _ = rescuer.wait();
    let o = outcome(&app).await;
    assert_eq!(
        o.runs_per_tenant.len() as i64,
        TARGETS,
        "{:?}",
        o.runs_per_tenant
    );
    assert!(
        o.runs_per_tenant.values().all(|n| *n == 1),
        "a target started twice: {:?}",
        o.runs_per_tenant
    );
    assert_eq!(o.ledger.len() as i64, TARGETS);
    assert_eq!(o.start_audits, TARGETS);
    let blocked = o.ledger.iter().filter(|l| l.1 == "blocked").count() as i64;
    assert_eq!(blocked, BLOCKED);
}
