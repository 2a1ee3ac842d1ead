//! System-plane triage over HTTP: platform operators cancel a run, start it
//! again through the gate (as the system, same scope, lineage kept) and
//! cancel in bulk by a list's filter; everyone else gets 404 and changes
//! nothing. Every change is audited in the run's workspace with the operator
//! as actor.

use crate::both_backends;
use crate::common::{Backend, Browser, TestApp, spawn_app};
use crate::world::{add_connection, run_world};
use domain::ids::{RunId, TenantId, UserId, WorkspaceId};
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::service::RunService;
use domain::runs::{RunOutcome, RunStatus};

fn inventory(tenant: TenantId) -> StartRequest {
    StartRequest {
        tenant,
        op_type: domain::provider::INVENTORY_SYNC,
        connection: None,
        args: serde_json::Value::Null,
    }
}

async fn signed_in(app: &TestApp, email: &str) -> Browser {
    let b = app.browser();
    assert_eq!(b.sign_in(email).await.status, 200, "sign in {email}");
    b
}

async fn run_row(
    app: &TestApp,
    run: RunId,
) -> (String, String, Option<i64>, Option<i64>, Option<i64>) {
    sqlx::query_as(
        "SELECT status, initiator_kind, initiator_user_id, rerun_of, provider_connection_id FROM operation_runs WHERE id = $1",
    )
    .bind(run.0)
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap()
}

/// Audit entries by `actor` in `ws`: (action, detail).
async fn audited_by(
    app: &TestApp,
    ws: WorkspaceId,
    actor: UserId,
) -> Vec<(String, Option<String>)> {
    sqlx::query_as(
        "SELECT action, detail FROM audit_log WHERE workspace_id = $1 AND actor_user_id = $2 ORDER BY id",
    )
    .bind(ws.0)
    .bind(actor.0)
    .fetch_all(app.services.store.unguarded_pool())
    .await
    .unwrap()
}

fn toast(r: &crate::common::Reply) -> serde_json::Value {
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

async fn cancel_and_run_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let (op_id, op) = app.user_browser("platform@example.com", true).await;
    let owner = signed_in(&app, "owner@example.com").await;
    let first = StartGate::start(svc, Initiator::User(&w.owner), inventory(w.tenant))
        .await
        .unwrap();
    let ws = RunService::load(svc, first.run)
        .await
        .unwrap()
        .unwrap()
        .workspace_id;
    let run = [("run", first.run.to_string())];

    // Not the system plane's people: 404, nothing changes.
    for path in ["/api/system/runs/cancel", "/api/system/runs/run_again"] {
        assert_eq!(owner.call(path, &run).await.status, 404, "{path}");
    }
    assert_eq!(run_row(&app, first.run).await.0, "queued");

    // Run again while it is still queued: the gate says already running.
    let t = toast(&op.call("/api/system/runs/run_again", &run).await);
    assert_eq!(t["title"], "Already running");
    assert_eq!(t["link"], format!("/system/ops/runs/{}", first.run));

    // Cancel: the run ends, the audit names the operator in the run's workspace.
    let r = op.call("/api/system/runs/cancel", &run).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some(&*format!(
            "/system/ops/runs/{}?notice=run_cancelled",
            first.run
        ))
    );
    let v = RunService::load(svc, first.run).await.unwrap().unwrap();
    assert_eq!(v.truth.outcome, RunOutcome::Cancelled);
    assert_eq!(
        audited_by(&app, ws, op_id).await,
        [(
            "operation.cancelled".to_string(),
            Some("cancelled while queued from the system plane".to_string())
        )]
    );

    // Run again: a new run through the gate, as the system, same connection, lineage.
    let t = toast(&op.call("/api/system/runs/run_again", &run).await);
    assert_eq!(t["title"], "Queued", "{t}");
    let again: RunId = t["link"]
        .as_str()
        .and_then(|l| l.strip_prefix("/system/ops/runs/"))
        .and_then(|id| id.parse().ok())
        .map(RunId)
        .expect("links to the new run's system page");
    assert_ne!(again, first.run);
    let (status, kind, user, rerun_of, connection) = run_row(&app, again).await;
    assert_eq!(status, "queued");
    assert_eq!(kind, "system");
    assert_eq!(user, Some(op_id.0));
    assert_eq!(rerun_of, Some(first.run.0));
    assert_eq!(connection, Some(w.connection.0));
    let audits = audited_by(&app, ws, op_id).await;
    assert_eq!(
        audits.last().map(|a| a.0.as_str()),
        Some("operation.queued")
    );
    let page = op.get(&format!("/system/ops/runs/{again}")).await;
    assert!(page.body.contains("Started again from"), "lineage shown");
    assert!(
        page.body
            .contains(&format!("/system/ops/runs/{}", first.run))
    );
    assert!(page.body.contains("data-testid=\"system-actions\""));
    // Members see the lineage too, and who asked for it.
    let member_page = owner.get(&format!("/admin/operations/{again}")).await;
    assert!(
        member_page.body.contains("platform@example.com"),
        "actor shown"
    );

    // The pinned connection is gone: a clear refusal, no run.
    let operator = domain::access::Actor {
        is_platform_operator: true,
        ..app.actor(op_id, "platform@example.com")
    };
    RunService::cancel_as_platform(svc, &operator, again)
        .await
        .unwrap();
    sqlx::query("DELETE FROM provider_connections WHERE id = $1")
        .bind(w.connection.0)
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    let r = op.call("/api/system/runs/run_again", &run).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("no longer exists"), "{}", r.body);
}

async fn bulk_cancel_by_filter(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let (op_id, op) = app.user_browser("platform@example.com", true).await;
    let owner = signed_in(&app, "owner@example.com").await;
    let ws = domain::access::current_workspace(svc, &w.owner)
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut tenants = vec![w.tenant];
    for (i, guid) in [
        "22222222-2222-2222-2222-222222222222",
        "33333333-3333-3333-3333-333333333333",
    ]
    .iter()
    .enumerate()
    {
        let t = domain::tenants::create(svc, &w.owner, ws, &format!("Tenant {i}"), guid)
            .await
            .unwrap();
        add_connection(&app, ws, t, "enabled", "granted", true, None).await;
        tenants.push(t);
    }
    let mut runs = Vec::new();
    for t in &tenants {
        runs.push(
            StartGate::start(svc, Initiator::User(&w.owner), inventory(*t))
                .await
                .unwrap()
                .run,
        );
        app.clock.advance_ms(1);
    }
    // The oldest is running.
    let claimed = RunService::claim(svc, "w1", 1, 60_000).await.unwrap();
    assert_eq!(claimed[0].id, runs[0]);

    let page = op.get("/system/ops/runs").await;
    assert!(page.body.contains("data-testid=\"bulk-cancel\""));
    assert!(page.body.contains("3 active run(s)"), "counted first");
    let failures = op.get("/system/ops/failures").await;
    assert!(!failures.body.contains("data-testid=\"bulk-cancel\""));

    let bulk = |list: &str, query: String, confirmed: i64| {
        [
            ("list", list.to_string()),
            ("query", query),
            ("confirmed", confirmed.to_string()),
        ]
    };
    // Members cannot, and bad requests change nothing.
    let r = owner
        .call(
            "/api/system/runs/bulk_cancel",
            &bulk("all", String::new(), 3),
        )
        .await;
    assert_eq!(r.status, 404);
    for bad in [
        bulk("failures", String::new(), 3),
        bulk("all", String::new(), 0),
    ] {
        let r = op.call("/api/system/runs/bulk_cancel", &bad).await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    let r = op
        .call(
            "/api/system/runs/bulk_cancel",
            &bulk("all", "type=no_such_type".into(), 3),
        )
        .await;
    assert_eq!(r.status, 400, "a bad filter is refused, not widened");

    // By filter: only the third tenant's run.
    let r = op
        .call(
            "/api/system/runs/bulk_cancel",
            &bulk("all", format!("?tenant={}", tenants[2]), 10),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.location
            .as_deref()
            .is_some_and(|l| l.contains("cancelled=1&requested=0")),
        "{:?}",
        r.location
    );
    assert_eq!(run_row(&app, runs[2]).await.0, "completed");
    assert_eq!(run_row(&app, runs[1]).await.0, "queued");

    // No more than confirmed: the oldest one, which is running, is asked to stop.
    let r = op
        .call(
            "/api/system/runs/bulk_cancel",
            &bulk("all", String::new(), 1),
        )
        .await;
    assert!(
        r.location
            .as_deref()
            .is_some_and(|l| l.contains("cancelled=0&requested=1")),
        "{:?}",
        r.location
    );
    assert_eq!(
        run_row(&app, runs[1]).await.0,
        "queued",
        "beyond the confirmed count"
    );
    let v = RunService::load(svc, runs[0]).await.unwrap().unwrap();
    assert!(v.cancel_requested);
    assert_eq!(v.truth.status, RunStatus::Running);
    let audits = audited_by(&app, ws, op_id).await;
    assert_eq!(audits.len(), 2);
    assert!(audits.iter().all(|(a, d)| {
        a == "operation.cancelled"
            && d.as_deref()
                .is_some_and(|d| d.ends_with("from the system plane"))
    }));
    let page = op
        .get("/system/ops/runs?notice=bulk_cancelled&cancelled=0&requested=1&finished=0")
        .await;
    assert!(
        page.body
            .contains("Bulk cancel done: 0 queued run(s) cancelled, 1 running run(s)")
    );
}

both_backends!(cancel_and_run_again, bulk_cancel_by_filter);
