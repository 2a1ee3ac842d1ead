//! Operation runs: the start gate, the run service, workers with leases, the
//! reconciler and notifications, on SQLite and PostgreSQL.

use crate::both_backends;
use crate::common::{Backend, TestApp, spawn_app};
use crate::world::{add_connection, run_world};
use domain::ids::{RunId, TenantId};
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::reconciler;
use domain::runs::service::{Cancellation, Completion, Heartbeat, RunService};
use domain::runs::worker::{Worker, WorkerConfig};
use domain::runs::{ReasonCode, RunOutcome, RunStatus, StartDecision, SummaryCounts};
use std::time::Duration;

pub fn probe(tenant: TenantId, args: serde_json::Value) -> StartRequest {
    StartRequest {
        tenant,
        op_type: domain::runs::probe::MACHINERY_PROBE,
        connection: None,
        args,
    }
}

async fn status_of(app: &TestApp, run: RunId) -> (RunStatus, RunOutcome) {
    let v = RunService::load(&app.services, run).await.unwrap().unwrap();
    (v.truth.status, v.truth.outcome)
}

async fn accepted_runs_pin_their_connection(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let r = StartGate::start(
        &app.services,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 5})),
    )
    .await
    .unwrap();
    assert_eq!(r.decision, StartDecision::Accepted);
    let (status, outcome) = status_of(&app, r.run).await;
    assert_eq!((status, outcome), (RunStatus::Queued, RunOutcome::Pending));
    let (context, pinned): (String, Option<i64>) =
        sqlx::query_as("SELECT context, provider_connection_id FROM operation_runs WHERE id = $1")
            .bind(r.run.0)
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!(pinned, Some(w.connection.0));
    let ctx: serde_json::Value = serde_json::from_str(&context).unwrap();
    assert_eq!(
        ctx["provider_connection_id"], w.connection.0,
        "pinned in the job arguments too"
    );
    // The worker sees the pinned connection.
    let claimed = RunService::claim(&app.services, "w1", 10, 30_000)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].provider_connection_id, Some(w.connection));
}

async fn dedupe_and_scope_busy(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let first = StartGate::start(
        &app.services,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    let again = StartGate::start(
        &app.services,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    assert_eq!(again.decision, StartDecision::Deduped);
    assert_eq!(again.run, first.run, "deduped returns the active run");
    let other = StartRequest {
        op_type: domain::runs::probe::MACHINERY_PROBE_SECONDARY,
        ..probe(w.tenant, serde_json::json!({}))
    };
    let busy = StartGate::start(&app.services, Initiator::User(&w.owner), other.clone())
        .await
        .unwrap();
    assert_eq!(busy.decision, StartDecision::ScopeBusy);
    assert_eq!(
        busy.run, first.run,
        "scope busy returns the run holding the scope"
    );
    assert_eq!(busy.holder, Some(domain::runs::probe::MACHINERY_PROBE));
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM operation_runs")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(n, 1, "neither created a run");
    // Once the holder ends, the scope is free again.
    let claimed = RunService::claim(&app.services, "w1", 1, 30_000)
        .await
        .unwrap();
    RunService::complete(
        &app.services,
        &claimed[0],
        Completion::succeeded(SummaryCounts::default()),
    )
    .await
    .unwrap();
    let next = StartGate::start(&app.services, Initiator::User(&w.owner), other)
        .await
        .unwrap();
    assert_eq!(next.decision, StartDecision::Accepted);
}

async fn blocked_starts_record_a_run_and_enqueue_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let cases: Vec<(&str, &str, bool, Option<i64>, ReasonCode)> = vec![
        (
            "disabled",
            "granted",
            true,
            None,
            ReasonCode::ConnectionDisabled,
        ),
        ("enabled", "missing", true, None, ReasonCode::ConsentMissing),
        (
            "enabled",
            "granted",
            false,
            None,
            ReasonCode::CredentialsMissing,
        ),
        (
            "enabled",
            "granted",
            true,
            Some(crate::common::T0 - 1),
            ReasonCode::CredentialsExpired,
        ),
    ];
    for (status, consent, creds, expires, reason) in cases {
        sqlx::query("UPDATE provider_connections SET status = $1, consent = $2, has_credentials = $3, credential_expires_at = $4 WHERE id = $5")
            .bind(status).bind(consent).bind(creds as i64).bind(expires).bind(w.connection.0)
            .execute(svc.store.unguarded_pool()).await.unwrap();
        let r = StartGate::start(
            svc,
            Initiator::User(&w.owner),
            probe(w.tenant, serde_json::json!({})),
        )
        .await
        .unwrap();
        assert_eq!(
            (r.decision, r.reason),
            (StartDecision::Blocked, Some(reason))
        );
        assert_eq!(
            status_of(&app, r.run).await,
            (RunStatus::Completed, RunOutcome::Blocked)
        );
    }
    // No connection at all.
    sqlx::query("DELETE FROM provider_connections")
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    assert_eq!(r.reason, Some(ReasonCode::ConnectionMissing));
    // An inactive tenant.
    domain::tenants::set_status(
        svc,
        &w.owner,
        w.tenant,
        domain::views::TenantStatus::Inactive,
    )
    .await
    .unwrap();
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    assert_eq!(r.reason, Some(ReasonCode::TenantInactive));
    // Operations without a handler yet are registered but blocked.
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        StartRequest {
            op_type: domain::onboarding::ONBOARDING_BOOTSTRAP,
            ..probe(w.tenant, serde_json::json!({}))
        },
    )
    .await
    .unwrap();
    assert_eq!(r.reason, Some(ReasonCode::OperationUnavailable));
    // Nothing was ever queued: a worker finds no work.
    assert!(
        RunService::claim(svc, "w1", 100, 30_000)
            .await
            .unwrap()
            .is_empty()
    );
    let (queued,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM operation_runs WHERE status <> 'completed'")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!(queued, 0);
}

async fn authorization_comes_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let outsider_id = app.create_user("outsider@example.com", false).await;
    let outsider = app.actor(outsider_id, "outsider@example.com");
    let svc = &app.services;
    let r = StartGate::start(
        svc,
        Initiator::User(&outsider),
        probe(w.tenant, serde_json::json!({})),
    )
    .await;
    assert_eq!(r.unwrap_err(), domain::AppError::NotFound);
    let r = StartGate::start(
        svc,
        Initiator::User(&w.readonly),
        probe(w.tenant, serde_json::json!({})),
    )
    .await;
    assert_eq!(r.unwrap_err(), domain::AppError::Forbidden);
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(TenantId(999_999), serde_json::json!({})),
    )
    .await;
    assert_eq!(r.unwrap_err(), domain::AppError::NotFound);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM operation_runs")
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(n, 0, "refused starts leave no trace in the runs");
}

async fn fifty_concurrent_starts_admit_exactly_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let svc = app.services.clone();
        let actor = w.owner.clone();
        let tenant = w.tenant;
        tasks.push(tokio::spawn(async move {
            let op = if i % 2 == 0 {
                domain::runs::probe::MACHINERY_PROBE
            } else {
                domain::runs::probe::MACHINERY_PROBE_SECONDARY
            };
            StartGate::start(
                &svc,
                Initiator::User(&actor),
                StartRequest {
                    op_type: op,
                    ..probe(tenant, serde_json::json!({}))
                },
            )
            .await
        }));
    }
    let mut accepted = Vec::new();
    let mut others = 0;
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        match r.decision {
            StartDecision::Accepted => accepted.push(r.run),
            StartDecision::Deduped | StartDecision::ScopeBusy => others += 1,
            StartDecision::Blocked => panic!("nothing should block"),
        }
    }
    assert_eq!(accepted.len(), 1, "exactly one accepted");
    assert_eq!(others, 49);
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM operation_runs")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

async fn workers_run_handlers_and_notify_the_initiator(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let worker = Worker::new(
        svc.clone(),
        WorkerConfig {
            concurrency: 2,
            ..WorkerConfig::default()
        },
    );
    let handle = tokio::spawn(worker.run(rx));
    let ok = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    wait_terminal(&app, ok.run).await;
    assert_eq!(
        status_of(&app, ok.run).await,
        (RunStatus::Completed, RunOutcome::Succeeded)
    );
    // A failing run carries a bounded failure summary and a reason.
    let bad = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"outcome": "failed"})),
    )
    .await
    .unwrap();
    wait_terminal(&app, bad.run).await;
    let v = RunService::load(svc, bad.run).await.unwrap().unwrap();
    assert_eq!(v.truth.outcome, RunOutcome::Failed);
    assert_eq!(v.reason, Some(ReasonCode::HandlerFailed));
    assert!(v.failure_summary.unwrap().len() <= 500);
    // A system run notifies nobody.
    let sys = StartGate::start(
        svc,
        Initiator::System,
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    wait_terminal(&app, sys.run).await;
    let notes: Vec<(i64, Option<i64>, String)> =
        sqlx::query_as("SELECT user_id, run_id, title FROM notifications ORDER BY id")
            .fetch_all(svc.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes.iter().all(|(u, _, _)| *u == w.owner.user_id.0),
        "only the initiator"
    );
    assert_eq!(notes[0].1, Some(ok.run.0));
    assert_eq!(notes[0].2, "Machinery probe: succeeded");
    assert_eq!(notes[1].2, "Machinery probe: failed");
    tx.send(true).unwrap();
    let report = handle.await.unwrap();
    assert_eq!(report.completed, 3);
}

pub async fn wait_terminal(app: &TestApp, run: RunId) {
    for _ in 0..500 {
        if status_of(app, run).await.0 == RunStatus::Completed {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {run} did not finish");
}

async fn cancellation(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    // Queued: cancelled at once.
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    assert_eq!(
        RunService::cancel(svc, &w.owner, r.run).await.unwrap(),
        Cancellation::Cancelled
    );
    assert_eq!(
        status_of(&app, r.run).await,
        (RunStatus::Completed, RunOutcome::Cancelled)
    );
    assert_eq!(
        RunService::cancel(svc, &w.owner, r.run).await.unwrap(),
        Cancellation::AlreadyFinished
    );
    // Running: requested, honoured by the handler at its next check.
    let (tx, rx) = tokio::sync::watch::channel(false);
    let worker = Worker::new(
        svc.clone(),
        WorkerConfig {
            heartbeat_ms: 20,
            ..WorkerConfig::default()
        },
    );
    let handle = tokio::spawn(worker.run(rx));
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 10_000})),
    )
    .await
    .unwrap();
    for _ in 0..200 {
        if status_of(&app, r.run).await.0 == RunStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Readonly members may not cancel; outsiders do not see the run.
    assert_eq!(
        RunService::cancel(svc, &w.readonly, r.run)
            .await
            .unwrap_err(),
        domain::AppError::Forbidden
    );
    assert_eq!(
        RunService::cancel(svc, &w.owner, r.run).await.unwrap(),
        Cancellation::Requested
    );
    wait_terminal(&app, r.run).await;
    assert_eq!(status_of(&app, r.run).await.1, RunOutcome::Cancelled);
    tx.send(true).unwrap();
    handle.await.unwrap();
}

async fn a_worker_that_lost_its_lease_cannot_write(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    let first = RunService::claim(svc, "w1", 1, 1_000)
        .await
        .unwrap()
        .remove(0);
    // The lease runs out; the reconciler puts the run back; another worker takes it.
    app.clock.advance_ms(1_001);
    let sweep = reconciler::sweep(svc).await.unwrap();
    assert_eq!(sweep.requeued, 1);
    let second = RunService::claim(svc, "w2", 1, 30_000)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.attempt, 2);
    // The first attempt is fenced out everywhere.
    assert_eq!(
        RunService::heartbeat(svc, &first, 30_000).await.unwrap(),
        Heartbeat::Lost
    );
    let late =
        RunService::complete(svc, &first, Completion::succeeded(SummaryCounts::default())).await;
    assert!(
        matches!(late, Err(domain::AppError::Conflict { .. })),
        "{late:?}"
    );
    assert_eq!(status_of(&app, r.run).await.0, RunStatus::Running);
    RunService::complete(
        svc,
        &second,
        Completion::failed(ReasonCode::HandlerFailed, "boom"),
    )
    .await
    .unwrap();
    let v = RunService::load(svc, r.run).await.unwrap().unwrap();
    assert_eq!(v.truth.outcome, RunOutcome::Failed);
    let rec = v.reconciliation.expect("lineage kept");
    assert_eq!(rec.action, "requeued");
    assert_eq!(rec.lease_owner.as_deref(), Some("w1"));
}

async fn stale_runs_out_of_attempts_are_closed_failed(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    for attempt in 1..=3 {
        let c = RunService::claim(svc, &format!("w{attempt}"), 1, 1_000)
            .await
            .unwrap();
        assert_eq!(c.len(), 1, "attempt {attempt}");
        app.clock.advance_ms(1_001);
        // Before the sweep, every surface already calls it likely stale.
        let v = RunService::load(svc, r.run).await.unwrap().unwrap();
        assert_eq!(
            v.truth.freshness(app.services.now()),
            domain::runs::Freshness::LikelyStale
        );
        reconciler::sweep(svc).await.unwrap();
    }
    let v = RunService::load(svc, r.run).await.unwrap().unwrap();
    assert_eq!(
        (v.truth.status, v.truth.outcome),
        (RunStatus::Completed, RunOutcome::Failed)
    );
    assert_eq!(v.reason, Some(ReasonCode::LeaseExpired));
    assert_eq!(
        v.truth.freshness(i64::MAX),
        domain::runs::Freshness::Reconciled,
        "it still shows it had been stale"
    );
    let rec = v.reconciliation.unwrap();
    assert_eq!((rec.action.as_str(), rec.attempts), ("failed", 3));
    // Its initiator heard about it once, in words that say it went stale.
    let notes = notifications_for(&app, r.run).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].0,
        format!(
            "{}: failed after going stale",
            domain::runs::probe::MACHINERY_PROBE.label()
        )
    );
    assert!(
        notes[0].1.contains(ReasonCode::LeaseExpired.message()),
        "{}",
        notes[0].1
    );
}

/// workspace, tenant, actor, action, outcome, target, detail.
type AuditRow = (
    i64,
    Option<i64>,
    String,
    String,
    String,
    String,
    Option<String>,
);

/// Every start the gate admits or blocks leaves an audit entry in its
/// workspace: who, what, on which tenant, and for a blocked one the reason.
async fn queued_and_blocked_starts_are_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let queued = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 30_000})),
    )
    .await
    .unwrap();
    assert_eq!(queued.decision, StartDecision::Accepted);
    let ws = domain::tenants::tenant_page(svc, &w.owner, w.tenant)
        .await
        .unwrap()
        .workspace
        .id;
    let bare = domain::tenants::create(
        svc,
        &w.owner,
        ws,
        "Northwind",
        "22222222-2222-2222-2222-222222222222",
    )
    .await
    .unwrap();
    let blocked = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        domain::runs::gate::StartRequest {
            tenant: bare,
            op_type: domain::provider::INVENTORY_SYNC,
            connection: None,
            args: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    assert_eq!(blocked.decision, StartDecision::Blocked);
    // A deduplicated start admits nothing, so it records nothing new.
    let again = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 30_000})),
    )
    .await
    .unwrap();
    assert_eq!(again.decision, StartDecision::Deduped);

    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT workspace_id, tenant_id, actor_label, action, outcome, target, detail FROM audit_log
         WHERE action LIKE 'operation.%' ORDER BY id",
    )
    .fetch_all(svc.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            (
                ws.0,
                Some(w.tenant.0),
                "owner@example.com".to_string(),
                "operation.queued".to_string(),
                "succeeded".to_string(),
                format!(
                    "{} #{} on Fabrikam",
                    domain::runs::probe::MACHINERY_PROBE.label(),
                    queued.run
                ),
                None
            ),
            (
                ws.0,
                Some(bare.0),
                "owner@example.com".to_string(),
                "operation.blocked".to_string(),
                "denied".to_string(),
                format!(
                    "{} #{} on Northwind",
                    domain::provider::INVENTORY_SYNC.label(),
                    blocked.run
                ),
                Some(ReasonCode::ConnectionMissing.as_str().to_string())
            ),
        ]
    );
}

async fn notifications_for(app: &TestApp, run: RunId) -> Vec<(String, String)> {
    sqlx::query_as("SELECT title, body FROM notifications WHERE run_id = $1")
        .bind(run.0)
        .fetch_all(app.services.store.unguarded_pool())
        .await
        .unwrap()
}

/// A queued run no worker picks up does not hold its connection for ever.
async fn a_run_no_worker_picks_up_ends_and_frees_its_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let spec = domain::runs::probe::MACHINERY_PROBE.spec();
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 30_000})),
    )
    .await
    .unwrap();
    // Just inside the limit: still queued, still holding the scope, and the
    // run page says when it will be ended.
    app.clock.advance_ms(spec.max_queue_wait_ms);
    reconciler::sweep(svc).await.unwrap();
    assert_eq!(
        status_of(&app, r.run).await,
        (RunStatus::Queued, RunOutcome::Pending)
    );
    let v = RunService::load(svc, r.run).await.unwrap().unwrap();
    let said =
        domain::runs::presenter::stuck_guidance(&v.truth, svc.now(), domain::views::format_utc)
            .expect("looks stuck");
    assert!(
        said.contains("Cancel it to free this provider connection now"),
        "{said}"
    );
    let again = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 30_000})),
    )
    .await
    .unwrap();
    assert_eq!(again.decision, StartDecision::Deduped);

    app.clock.advance_ms(1);
    let sweep = reconciler::sweep(svc).await.unwrap();
    assert_eq!(sweep.failed, 1);
    let v = RunService::load(svc, r.run).await.unwrap().unwrap();
    assert_eq!(
        (v.truth.status, v.truth.outcome),
        (RunStatus::Completed, RunOutcome::Failed)
    );
    assert_eq!(v.reason, Some(ReasonCode::NeverStarted));
    let rec = v.reconciliation.expect("a reconciliation record");
    assert_eq!(
        rec.why,
        "Never started: no worker picked it up within 60 minutes."
    );
    assert_eq!(v.failure_summary.as_deref(), Some(rec.why.as_str()));
    // The scope is free again, and the initiator was told once.
    let fresh = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 30_000})),
    )
    .await
    .unwrap();
    assert_eq!(fresh.decision, StartDecision::Accepted);
    assert_eq!(notifications_for(&app, r.run).await.len(), 1);
    // A second sweep changes nothing.
    assert_eq!(reconciler::sweep(svc).await.unwrap().failed, 0);
}

/// A running attempt that keeps heartbeating past its time limit is ended
/// and its worker stops; its late outcome is refused.
async fn a_run_past_its_time_limit_is_ended_and_its_worker_told_to_stop(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let spec = domain::runs::probe::MACHINERY_PROBE.spec();
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 30_000})),
    )
    .await
    .unwrap();
    let lease = 60_000;
    let claimed = RunService::claim(svc, "w1", 1, lease)
        .await
        .unwrap()
        .remove(0);
    // Heartbeat faithfully up to the limit: the lease never lapses.
    let mut elapsed = 0;
    while elapsed + lease / 2 <= spec.max_runtime_ms {
        app.clock.advance_ms(lease / 2);
        elapsed += lease / 2;
        assert!(matches!(
            RunService::heartbeat(svc, &claimed, lease).await.unwrap(),
            Heartbeat::Held { .. }
        ));
        reconciler::sweep(svc).await.unwrap();
    }
    assert_eq!(
        status_of(&app, r.run).await.0,
        RunStatus::Running,
        "not before its limit"
    );
    app.clock.advance_ms(spec.max_runtime_ms - elapsed + 1);
    let sweep = reconciler::sweep(svc).await.unwrap();
    assert_eq!((sweep.failed, sweep.requeued), (1, 0));
    let v = RunService::load(svc, r.run).await.unwrap().unwrap();
    assert_eq!(v.truth.outcome, RunOutcome::Failed);
    assert_eq!(v.reason, Some(ReasonCode::TimeLimitExceeded));
    let rec = v.reconciliation.expect("a reconciliation record");
    assert!(
        rec.why
            .starts_with("Ran past its time limit of 10 minutes (attempt 1)"),
        "{}",
        rec.why
    );
    assert_eq!(rec.lease_owner.as_deref(), Some("w1"));
    // The worker's next heartbeat learns the run is gone and stops the handler.
    assert_eq!(
        RunService::heartbeat(svc, &claimed, lease).await.unwrap(),
        Heartbeat::Lost
    );
    let late = RunService::complete(
        svc,
        &claimed,
        Completion::succeeded(SummaryCounts::default()),
    )
    .await;
    assert!(
        matches!(late, Err(domain::AppError::Conflict { .. })),
        "{late:?}"
    );
    let notes = notifications_for(&app, r.run).await;
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].1.contains("ran past its time limit"),
        "{:?}",
        notes[0]
    );
    let fresh = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 30_000})),
    )
    .await
    .unwrap();
    assert_eq!(fresh.decision, StartDecision::Accepted);
}

async fn terminal_runs_never_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 30_000})),
    )
    .await
    .unwrap();
    RunService::cancel(svc, &w.owner, r.run).await.unwrap();
    // Even a direct UPDATE is refused by the database.
    let direct = sqlx::query("UPDATE operation_runs SET outcome = 'succeeded' WHERE id = $1")
        .bind(r.run.0)
        .execute(svc.store.unguarded_pool())
        .await;
    assert!(
        direct.is_err(),
        "the trigger refuses changes to terminal runs"
    );
    assert_eq!(status_of(&app, r.run).await.1, RunOutcome::Cancelled);
}

async fn graceful_shutdown_releases_unfinished_runs(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let worker = Worker::new(
        svc.clone(),
        WorkerConfig {
            shutdown_grace_ms: 100,
            ..WorkerConfig::default()
        },
    );
    let handle = tokio::spawn(worker.run(rx));
    let r = StartGate::start(
        svc,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({"sleep_ms": 60_000})),
    )
    .await
    .unwrap();
    for _ in 0..200 {
        if status_of(&app, r.run).await.0 == RunStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = std::time::Instant::now();
    tx.send(true).unwrap();
    let report = handle.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded shutdown"
    );
    assert_eq!(report.released, 1);
    assert_eq!(
        status_of(&app, r.run).await,
        (RunStatus::Queued, RunOutcome::Pending),
        "back in the queue, not lost"
    );
}

both_backends!(
    queued_and_blocked_starts_are_audited,
    accepted_runs_pin_their_connection,
    dedupe_and_scope_busy,
    blocked_starts_record_a_run_and_enqueue_nothing,
    authorization_comes_first,
    fifty_concurrent_starts_admit_exactly_one,
    workers_run_handlers_and_notify_the_initiator,
    cancellation,
    a_worker_that_lost_its_lease_cannot_write,
    stale_runs_out_of_attempts_are_closed_failed,
    a_run_no_worker_picks_up_ends_and_frees_its_scope,
    a_run_past_its_time_limit_is_ended_and_its_worker_told_to_stop,
    terminal_runs_never_change,
    graceful_shutdown_releases_unfinished_runs,
    claimed_runs_carry_their_arguments,
    the_hub_and_system_lists_tell_the_same_story,
);

/// Nothing enqueues work but the gate: the only INSERT into operation_runs
/// in the source tree lives in the gate's writer.
#[test]
fn only_the_gate_enqueues_work() {
    let mut offenders = Vec::new();
    for (p, text) in crate::common::product_sources() {
        let text = text.to_lowercase();
        let inserts = text.matches("insert into operation_runs").count();
        let status_queued =
            text.matches("status = 'queued'").count() + text.matches("'queued', 'pending'").count();
        let is_gate = p.ends_with("runs/gate/write.rs")
            // The monitoring benchmark seeds a million rows into a
            // throwaway database no worker ever reads (through the
            // gate that would take ten minutes).
            || p.ends_with("server/src/bench_monitoring.rs")
            // So does the fleet page's (20,000 ended runs as history).
            || p.ends_with("server/src/bench_fleet_page.rs")
            // And the search benchmark's (five ended runs per tenant for
            // its inventories and groups, beside the million).
            || p.ends_with("server/src/bench_search.rs")
            // And the page benchmark's (one failed run that opens an alert).
            || p.ends_with("server/src/bench_pages.rs")
            // And the year benchmark's (a year of ended nightly syncs).
            || p.ends_with("server/src/bench_year.rs");
        let is_service = p.ends_with("runs/service.rs");
        if (inserts > 0 && !is_gate)
            || (status_queued > 0 && !is_gate && !is_service && !p.ends_with("runs/reconciler.rs"))
        {
            offenders.push(p.display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "work enqueued outside the start gate: {offenders:?}"
    );
}

async fn claimed_runs_carry_their_arguments(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    StartGate::start(
        &app.services,
        Initiator::User(&w.owner),
        probe(
            w.tenant,
            serde_json::json!({"first_attempt_sleep_ms": 120_000}),
        ),
    )
    .await
    .unwrap();
    let claimed = RunService::claim(&app.services, "w1", 1, 30_000)
        .await
        .unwrap();
    assert_eq!(
        claimed[0].args["first_attempt_sleep_ms"], 120_000,
        "{:?}",
        claimed[0].args
    );
    assert_eq!(claimed[0].attempt, 1);
}

async fn the_hub_and_system_lists_tell_the_same_story(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner_id, b) = app.user_browser("lead@example.com", true).await;
    let owner = app.actor(owner_id, "lead@example.com");
    let svc = &app.services;
    let ws = domain::workspaces::create(svc, &owner, "Acme MSP")
        .await
        .unwrap();
    let tenant = domain::tenants::create(
        svc,
        &owner,
        ws,
        "Fabrikam",
        "22222222-2222-2222-2222-222222222222",
    )
    .await
    .unwrap();
    add_connection(&app, ws, tenant, "enabled", "missing", true, None).await;
    // One blocked (consent missing), one queued that goes stale.
    let blocked = StartGate::start(
        svc,
        Initiator::User(&owner),
        probe(tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    assert_eq!(blocked.decision, StartDecision::Blocked);
    sqlx::query("UPDATE provider_connections SET consent = 'granted'")
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    let queued = StartGate::start(
        svc,
        Initiator::User(&owner),
        probe(tenant, serde_json::json!({})),
    )
    .await
    .unwrap();
    let hub = b.get("/admin/operations").await;
    assert_eq!(hub.status, 200);
    assert!(
        hub.body.contains(&format!("#{}", blocked.run)) && hub.body.contains(">Blocked<"),
        "blocked run listed"
    );
    assert!(hub.body.contains(">Queued<"));
    assert!(
        hub.body.contains("Admin consent has not been granted"),
        "the reason, in the operator's words"
    );
    // Past its expected duration the queued run is stuck on the system plane, not before.
    assert!(
        !b.get("/system/ops/stuck")
            .await
            .body
            .contains(&format!("#{}", queued.run))
    );
    app.clock.advance_ms(2 * 60_000);
    let stuck = b.get("/system/ops/stuck").await;
    assert!(
        stuck.body.contains(&format!("#{}", queued.run)),
        "stale run listed as stuck"
    );
    assert!(stuck.body.contains("Queued, waiting long"));
    let failures = b.get("/system/ops/failures").await;
    assert!(
        failures.body.contains(&format!("#{}", blocked.run))
            && !failures.body.contains(&format!("#{}<", queued.run))
    );
    // The run page agrees with the list.
    let detail = b.get(&format!("/admin/operations/{}", blocked.run)).await;
    assert!(
        detail.body.contains(">Blocked</span>")
            && detail.body.contains("data-testid=\"run-status\""),
        "{}",
        detail
            .body
            .split("run-status")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect::<String>()
    );
    assert!(
        detail.body.contains("Ask a Global Administrator"),
        "next steps shown"
    );
}
