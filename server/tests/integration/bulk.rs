//! One start for many tenants (spec 009): the tenants decided on the server,
//! each through the gate, exact counts over 500 tenants with some blocked,
//! busy and already running, the overlay's one entry, one notification for
//! the whole bulk, and who may do it.

use crate::both_backends;
use crate::common::{Backend, TestApp, spawn_app};
use crate::world::fleet;
use domain::access::Actor;
use domain::error::AppError;
use domain::ids::TenantId;
use domain::rbac::Role;
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::service::{Completion, RunService};
use domain::runs::{OperationType, ReasonCode, StartDecision, SummaryCounts};
use domain::schedules::bulk::{self, Selection};

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap()
        .0
}

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(app.services.store.unguarded_pool())
        .await
        .unwrap();
}

fn ids(ts: &[TenantId]) -> String {
    ts.iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

async fn start_one(
    app: &TestApp,
    who: &Actor,
    tenant: TenantId,
    op: OperationType,
) -> StartDecision {
    StartGate::start(
        &app.services,
        Initiator::User(who),
        StartRequest {
            tenant,
            op_type: op,
            connection: None,
            args: serde_json::json!({}),
        },
    )
    .await
    .unwrap()
    .decision
}

async fn five_hundred_tenants_give_exact_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 499).await;
    let svc = &app.services;
    let tag = domain::schedules::tags::create(svc, &w.owner, w.ws, "Fleet")
        .await
        .unwrap();
    exec(
        &app,
        &format!("INSERT INTO tenant_tags (tag_id, tenant_id) SELECT {tag}, id FROM tenants WHERE workspace_id = {}", w.ws),
    )
    .await;
    // Two inactive tenants are not targets; 7 blocked (5 without consent, 2
    // disabled connections); 11 already running the same operation; 5 busy
    // with another operation on the same connection.
    exec(
        &app,
        &format!(
            "UPDATE tenants SET status = 'inactive' WHERE id IN ({})",
            ids(&w.tenants[1..3])
        ),
    )
    .await;
    exec(
        &app,
        &format!(
            "UPDATE provider_connections SET consent = 'missing' WHERE tenant_id IN ({})",
            ids(&w.tenants[3..8])
        ),
    )
    .await;
    exec(
        &app,
        &format!(
            "UPDATE provider_connections SET status = 'disabled' WHERE tenant_id IN ({})",
            ids(&w.tenants[8..10])
        ),
    )
    .await;
    for t in &w.tenants[10..21] {
        assert_eq!(
            start_one(&app, &w.owner, *t, domain::provider::INVENTORY_SYNC).await,
            StartDecision::Accepted
        );
    }
    for t in &w.tenants[21..26] {
        assert_eq!(
            start_one(&app, &w.owner, *t, domain::provider::COMPLIANCE_SNAPSHOT).await,
            StartDecision::Accepted
        );
    }
    let runs_before = scalar(&app, "SELECT COUNT(*) FROM operation_runs").await;
    let notes_before = scalar(&app, "SELECT COUNT(*) FROM notifications").await;

    let view = bulk::start(svc, &w.owner, w.ws, "inventory_sync", Selection::Tag(tag))
        .await
        .unwrap();
    assert_eq!(view.targets, 498);
    assert_eq!(
        (
            view.progress.decided.queued,
            view.progress.decided.already_running,
            view.progress.decided.scope_busy,
            view.progress.decided.blocked,
            view.progress.decided.skipped
        ),
        (475, 11, 5, 7, 0)
    );
    assert!(view.admitted);
    // Independent counts from the rows themselves.
    let id = view.id;
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM operation_runs").await - runs_before,
        475 + 7,
        "475 queued and 7 blocked runs, nothing else"
    );
    assert_eq!(scalar(&app, &format!("SELECT COUNT(*) FROM bulk_start_targets bt JOIN operation_runs r ON r.id = bt.run_id WHERE bt.bulk_id = {id} AND r.status = 'queued' AND r.initiator_kind = 'user' AND bt.decision = 'queued'")).await, 475);
    assert_eq!(scalar(&app, &format!("SELECT COUNT(*) FROM bulk_start_targets bt JOIN operation_runs r ON r.id = bt.run_id WHERE bt.bulk_id = {id} AND r.outcome = 'blocked'")).await, 7);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(DISTINCT scope_key) FROM operation_runs WHERE status = 'queued'"
        )
        .await,
        475 + 16,
        "one active run per scope"
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'bulk.started'"
        )
        .await,
        1
    );
    // The toast: the public words with their counts, the link to the bulk.
    let toast = bulk::present(&view);
    assert_eq!(toast.title, "Queued");
    assert_eq!(
        toast.body,
        "Inventory sync · Started on 475 tenants · 11 already running · 5 scope busy · 7 blocked."
    );
    assert_eq!(toast.link, format!("/admin/bulk/{id}"));
    assert!(toast.next_steps.iter().any(|s| {
        s.link
            .as_ref()
            .is_some_and(|l| l.href == format!("/admin/operations?bulk={id}&outcome=blocked"))
    }));
    // Its page lists every tenant with its decision and run.
    let page = bulk::page(svc, &w.owner, id).await.unwrap();
    assert_eq!(page.children.len(), 498);
    assert_eq!(
        page.children
            .iter()
            .filter(|c| c.decision == "blocked")
            .count(),
        7
    );
    assert!(
        page.children
            .iter()
            .filter(|c| c.decision == "queued")
            .all(|c| c.run.as_ref().is_some_and(|r| r.headline.label == "Queued"))
    );
    assert_eq!(page.hidden, 0);
    // The overlay: the bulk is one entry over all 498 targets (the 7
    // blocked are done; the 16 already running or busy wait for the runs
    // that were there first, which are also listed as runs).
    let overlay = bulk::overlay(svc, &w.owner).await.unwrap();
    assert_eq!(overlay.bulks.len(), 1);
    assert_eq!((overlay.bulks[0].done, overlay.bulks[0].total), (7, 498));
    assert_eq!(overlay.total, 16);

    // Work it off: every run succeeds except two of the bulk's.
    let mut failed = 0;
    let mut finished = 0;
    loop {
        let claimed = RunService::claim(svc, "w1", 100, 60_000).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        for c in &claimed {
            let completion = if failed < 2 && !(w.tenants[10..26].contains(&c.tenant_id.unwrap())) {
                failed += 1;
                Completion::failed(ReasonCode::ProviderUnavailable, "Graph said no")
            } else {
                Completion::succeeded(SummaryCounts::default())
            };
            RunService::complete(svc, c, completion).await.unwrap();
            finished += 1;
        }
        if finished == 100 {
            let mid = bulk::overlay(svc, &w.owner).await.unwrap();
            assert_eq!(mid.bulks.len(), 1);
            assert_eq!(mid.bulks[0].total, 498);
            // Each ended run ends one target (its own, or the one that
            // joined it or waited for its scope), plus the 7 blocked.
            assert_eq!(mid.bulks[0].done, 107, "{:?}", mid.bulks);
        }
    }
    assert_eq!(finished, 475 + 16);
    let overlay = bulk::overlay(svc, &w.owner).await.unwrap();
    assert!(overlay.bulks.is_empty() && overlay.runs.is_empty());
    // One notification for the bulk (the 16 single starts notify as before),
    // none per bulk run; a second sweep sends nothing.
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM notifications").await - notes_before,
        16
    );
    assert_eq!(bulk::notify_finished(svc.clone()).await.unwrap(), 1);
    assert_eq!(bulk::notify_finished(svc.clone()).await.unwrap(), 0);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM notifications").await - notes_before,
        17
    );
    let (title, body): (String, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT title, body FROM notifications WHERE link = '/admin/bulk/{id}'"
    )))
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    // Every target, by the run it created or joined: 473 of its own and
    // the 11 it found running succeeded; the 5 busy ones never started.
    assert_eq!(title, "Finished with problems");
    assert_eq!(
        body,
        "Inventory sync on Tag: Fleet: 484 succeeded, 2 failed, 7 blocked, 5 not started (scope busy)."
    );
    let done = bulk::page(svc, &w.owner, id).await.unwrap().bulk;
    assert_eq!(
        (
            done.progress.ended(),
            done.progress.succeeded,
            done.active()
        ),
        (498, 484, false)
    );
}

async fn who_may_start_and_see_a_bulk(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 4).await;
    let svc = &app.services;
    // Read-only members may not start operations: 403, audited as denied.
    let e = bulk::start(
        svc,
        &w.readonly,
        w.ws,
        "inventory_sync",
        Selection::Matching { tag: None },
    )
    .await
    .unwrap_err();
    assert_eq!(e, AppError::Forbidden);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'bulk.started' AND outcome = 'denied'"
        )
        .await,
        1
    );
    // Bad input names its field, nothing started.
    let e = bulk::start(
        svc,
        &w.owner,
        w.ws,
        "restore_execute",
        Selection::Matching { tag: None },
    )
    .await
    .unwrap_err();
    assert_eq!(e.field(), Some("op_type"));
    assert_eq!(
        Selection::parse("checked", vec![]).unwrap_err().field(),
        Some("target")
    );
    assert_eq!(
        Selection::parse("filter:tenant=3", vec![])
            .unwrap_err()
            .field(),
        Some("target")
    );
    assert_eq!(
        Selection::parse("everything", vec![]).unwrap_err().field(),
        Some("target")
    );
    assert_eq!(
        Selection::parse("filter:tag=", vec![]).unwrap(),
        Selection::Matching { tag: None }
    );
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM operation_runs").await, 0);

    // An operator assigned to two tenants: "every tenant listed" is their two.
    let op_id = app.create_user("operator@example.com", false).await;
    let operator = app.actor(op_id, "operator@example.com");
    domain::workspaces::add_member_directly(
        svc,
        &w.owner,
        w.ws,
        "operator@example.com",
        Role::Operator,
    )
    .await
    .unwrap();
    for t in &w.tenants[1..3] {
        domain::tenants::set_assignment(svc, &w.owner, *t, op_id, true)
            .await
            .unwrap();
    }
    let mine = bulk::start(
        svc,
        &operator,
        w.ws,
        "compliance_snapshot",
        Selection::Matching { tag: None },
    )
    .await
    .unwrap();
    assert_eq!((mine.targets, mine.progress.decided.queued), (2, 2));
    assert_eq!(mine.selection, "Every tenant listed");
    // A checked row that is not theirs (unassigned, or another workspace's)
    // makes the request 404; nothing is started.
    let runs = scalar(&app, "SELECT COUNT(*) FROM operation_runs").await;
    let e = bulk::start(
        svc,
        &operator,
        w.ws,
        "inventory_sync",
        Selection::Checked(vec![w.tenants[1], w.tenants[4]]),
    )
    .await
    .unwrap_err();
    assert_eq!(e, AppError::NotFound);
    let (other, ws_b) = app.owner_of("other@example.com", "Other MSP").await;
    let foreign = domain::tenants::create(
        svc,
        &other,
        ws_b,
        "Foreign",
        "22222222-2222-2222-2222-222222222222",
    )
    .await
    .unwrap();
    let e = bulk::start(
        svc,
        &w.owner,
        w.ws,
        "inventory_sync",
        Selection::Checked(vec![w.tenants[0], foreign]),
    )
    .await
    .unwrap_err();
    assert_eq!(e, AppError::NotFound);
    // Another workspace's tag is not there either.
    let tag_b = domain::schedules::tags::create(svc, &other, ws_b, "Theirs")
        .await
        .unwrap();
    assert_eq!(
        bulk::start(svc, &w.owner, w.ws, "inventory_sync", Selection::Tag(tag_b))
            .await
            .unwrap_err(),
        AppError::NotFound
    );
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM operation_runs").await,
        runs
    );
    // Checked rows, duplicates folded: 2 queued.
    let checked = bulk::start(
        svc,
        &w.owner,
        w.ws,
        "inventory_sync",
        Selection::Checked(vec![w.tenants[3], w.tenants[4], w.tenants[3]]),
    )
    .await
    .unwrap();
    assert_eq!((checked.targets, checked.progress.decided.queued), (2, 2));
    assert_eq!(checked.selection, "2 checked tenants");
    // The owner's bulk seen by the operator: only their tenants, the rest counted as hidden.
    let all = bulk::start(
        svc,
        &w.owner,
        w.ws,
        "role_definitions_sync",
        Selection::Matching { tag: None },
    )
    .await
    .unwrap();
    assert_eq!(all.targets, 5);
    let seen = bulk::page(svc, &operator, all.id).await.unwrap();
    assert_eq!((seen.children.len(), seen.hidden), (2, 3));
    let overlay = bulk::overlay(svc, &operator).await.unwrap();
    // Their own bulk is one entry; in the owner's, their two tenants wait
    // for their busy scope (their own bulk's runs), so it is in progress
    // for them too, over their two tenants only.
    let entry = overlay.bulks.iter().find(|b| b.id == mine.id).unwrap();
    assert_eq!((entry.done, entry.total), (0, 2));
    let theirs = overlay.bulks.iter().find(|b| b.id == all.id).unwrap();
    assert_eq!((theirs.done, theirs.total), (0, 2));
    assert!(seen.children.iter().all(|c| c.decision == "scope_busy"));
    let owner_view = bulk::overlay(svc, &w.owner).await.unwrap();
    let entry = owner_view.bulks.iter().find(|b| b.id == all.id).unwrap();
    assert_eq!(
        (entry.done, entry.total),
        (0, 5),
        "1 queued, 2 busy with the operator's bulk, 2 with the checked one: none ended"
    );
    // Another workspace's member: 404.
    assert_eq!(
        bulk::page(svc, &other, all.id).await.unwrap_err(),
        AppError::NotFound
    );

    // An admission cut short (its process died) is not reported while it may
    // still be going on, and is settled once it clearly is not.
    let now = svc.now();
    exec(&app, &format!(
        "INSERT INTO bulk_starts (workspace_id, op_type, selection, initiator_user_id, created_at, targets)
         VALUES ({}, 'inventory_sync', 'Every tenant listed', {}, {now}, 5)", w.ws, w.owner.user_id)).await;
    let unsettled =
        "SELECT COUNT(*) FROM bulk_starts WHERE admitted_at IS NULL AND notified_at IS NULL";
    bulk::notify_finished(svc.clone()).await.unwrap();
    assert_eq!(scalar(&app, unsettled).await, 1);
    app.clock.set_ms(now + 11 * 60_000);
    bulk::notify_finished(svc.clone()).await.unwrap();
    assert_eq!(scalar(&app, unsettled).await, 0);
}

async fn bulk_start_through_http(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 3).await;
    let b = app.browser();
    b.sign_in("owner@example.com").await;
    // Checked rows are posted as tenants[i] (sparse, as unchecked boxes send nothing).
    let r = b
        .call(
            "/api/bulk/start",
            &[
                ("workspace", w.ws.to_string()),
                ("op_type", "inventory_sync".into()),
                ("target", "checked".into()),
                ("tenants[0]", w.tenants[0].to_string()),
                ("tenants[2]", w.tenants[2].to_string()),
                ("tenants[3]", w.tenants[3].to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let toast: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(toast["title"], "Queued");
    assert_eq!(toast["body"], "Inventory sync · Started on 3 tenants.");
    let link = toast["link"].as_str().unwrap().to_string();
    let id: i64 = link.rsplit('/').next().unwrap().parse().unwrap();
    // Nothing checked: 400 naming the field.
    let r = b
        .call(
            "/api/bulk/start",
            &[
                ("workspace", w.ws.to_string()),
                ("op_type", "inventory_sync".into()),
                ("target", "checked".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("target"), "{}", r.body);
    // The bulk's page and the hub filtered to it.
    let page = b.get(&link).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-testid=\"bulk-children\""),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("data-decision=\"queued\"").count(), 3);
    let hub = b.get(&format!("/admin/operations?bulk={id}")).await;
    assert_eq!(hub.status, 200);
    assert!(hub.body.contains("data-count=\"3\""), "{}", hub.body);
    // The shell's overlay shows the bulk as one entry with its bar.
    let overview = b.get("/admin").await;
    assert!(
        overview.body.contains(&format!("data-bulk=\"{id}\"")),
        "{}",
        overview.body
    );
    assert!(overview.body.contains("<progress"), "{}", overview.body);
    // Read-only: 403; someone else's bulk: 404, also in the hub.
    let ro = app.browser();
    ro.sign_in("readonly@example.com").await;
    let r = ro
        .call(
            "/api/bulk/start",
            &[
                ("workspace", w.ws.to_string()),
                ("op_type", "inventory_sync".into()),
                ("target", "filter:".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let (_, stranger) = app.user_browser("stranger@example.com", false).await;
    assert_eq!(stranger.get(&link).await.status, 404);
    app.owner_of("other@example.com", "Other MSP").await;
    let ob = app.browser();
    ob.sign_in("other@example.com").await;
    assert_eq!(
        ob.get(&format!("/admin/operations?bulk={id}")).await.status,
        404
    );
}

/// With a real worker and the Graph simulator: a bulk verification of a
/// healthy tenant and one without consent ends in one notification that says
/// how it went; a scheduled review pack (every section) is generated.
async fn a_bulk_and_a_scheduled_pack_run_for_real(backend: Backend) {
    use crate::provider::{HEALTHY, NO_CONSENT, provider_world};
    let w = provider_world(backend).await;
    let contoso = w.tenant("Contoso", HEALTHY).await;
    w.connect(contoso, HEALTHY).await;
    let fabrikam = w.tenant("Fabrikam", NO_CONSENT).await;
    w.connect(fabrikam, NO_CONSENT).await;
    let svc = &w.app.services;
    let r = w
        .owner
        .call(
            "/api/bulk/start",
            &[
                ("workspace", w.ws.to_string()),
                ("op_type", "tenant_verification".into()),
                ("target", "filter:".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let toast: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(toast["body"], "Tenant verification · Started on 2 tenants.");
    let id: domain::ids::BulkStartId = toast["link"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let owner_id = w.app.services_user("owner@example.com").await;
    let owner = w.app.actor(owner_id, "owner@example.com");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let view = loop {
        let v = bulk::page(svc, &owner, id).await.unwrap().bulk;
        if !v.active() {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the bulk's runs did not end: {v:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(view.progress.ended(), 2);
    // The runs themselves told nobody; the bulk tells its member once.
    let per_run: i64 = scalar(&w.app, &format!("SELECT COUNT(*) FROM notifications n JOIN bulk_start_targets bt ON bt.run_id = n.run_id WHERE bt.bulk_id = {id}")).await;
    assert_eq!(per_run, 0);
    assert_eq!(bulk::notify_finished(svc.clone()).await.unwrap(), 1);
    let (title, body): (String, String) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT title, body FROM notifications WHERE link = '/admin/bulk/{id}'"
    )))
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    let p = view.progress;
    assert!(p.succeeded >= 1, "Contoso verifies: {view:?}");
    assert_eq!(
        title,
        if p.problems() == 0 {
            "Succeeded"
        } else {
            "Finished with problems"
        }
    );
    assert_eq!(
        body,
        format!("Tenant verification on Every tenant listed: {}.", p.tally()),
    );

    // A review pack on a schedule: every section, nobody notified.
    domain::schedules::service::create(
        svc,
        &owner,
        w.ws,
        domain::schedules::service::ScheduleForm {
            name: "Monthly pack".into(),
            op_type: "review_pack_generate".into(),
            target: format!("tenant:{contoso}"),
            cron: "0 6 1 * *".into(),
            time_zone: "Europe/Berlin".into(),
            spread_seconds: "0".into(),
        },
    )
    .await
    .unwrap();
    sqlx::query("UPDATE schedules SET next_fire_at = $1")
        .bind(svc.now() - 1)
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(
        domain::schedules::service::fire_due(svc.clone())
            .await
            .unwrap(),
        1
    );
    let (run,): (i64,) =
        sqlx::query_as("SELECT run_id FROM schedule_fire_targets WHERE decision = 'queued'")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .unwrap();
    crate::runs::wait_terminal(&w.app, domain::ids::RunId(run)).await;
    let (status, sections, by): (String, String, Option<i64>) =
        sqlx::query_as("SELECT status, sections, requested_by FROM review_packs WHERE run_id = $1")
            .bind(run)
            .fetch_one(svc.store.unguarded_pool())
            .await
            .unwrap();
    assert_eq!(status, "ready");
    assert_eq!(by, None);
    let all: Vec<String> = domain::review_packs::Section::ALL
        .iter()
        .map(|s| {
            serde_json::to_value(s)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let got: Vec<String> = serde_json::from_str(&sections).unwrap();
    assert_eq!(got, all, "every section");
    let _ = w.stop.send(true);
}

/// Ends every active run of these tenants with `completion`.
async fn end_runs_of(app: &TestApp, tenants: &[TenantId], succeeded: bool) {
    let svc = &app.services;
    loop {
        let claimed = RunService::claim(svc, "w1", 100, 60_000).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        for c in &claimed {
            let completion = if succeeded || !tenants.contains(&c.tenant_id.unwrap()) {
                Completion::succeeded(SummaryCounts::default())
            } else {
                Completion::failed(ReasonCode::ProviderUnavailable, "Graph said no")
            };
            RunService::complete(svc, c, completion).await.unwrap();
        }
    }
}

async fn bulk_note(app: &TestApp, bulk: domain::ids::BulkStartId) -> (String, String) {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT title, body FROM notifications WHERE link = '/admin/bulk/{bulk}'"
    )))
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap()
}

/// Issue 30.4: the toast, the page, the overlay's bar and the notification
/// count every target the same way: by decision, and by the run it created
/// or joined.
async fn one_truth_for_a_bulks_progress(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 9).await;
    let svc = &app.services;
    let t = &w.tenants;
    // 3 can start, 7 are blocked (connection disabled).
    exec(
        &app,
        &format!(
            "UPDATE provider_connections SET status = 'disabled' WHERE tenant_id IN ({})",
            ids(&t[3..10])
        ),
    )
    .await;
    let view = bulk::start(
        svc,
        &w.owner,
        w.ws,
        "inventory_sync",
        Selection::Matching { tag: None },
    )
    .await
    .unwrap();
    let toast = bulk::present(&view);
    assert_eq!(
        toast.body,
        "Inventory sync · Started on 3 tenants · 7 blocked."
    );
    // The bar counts all 10: the 7 blocked are done at once.
    let overlay = bulk::overlay(svc, &w.owner).await.unwrap();
    let entry = overlay.bulks.iter().find(|b| b.id == view.id).unwrap();
    assert_eq!((entry.done, entry.total), (7, 10));
    let page = bulk::page(svc, &w.owner, view.id).await.unwrap().bulk;
    assert_eq!(
        (page.progress.ended(), page.progress.targets),
        (7, 10),
        "the page and the overlay agree"
    );
    end_runs_of(&app, &[], true).await;
    assert!(bulk::overlay(svc, &w.owner).await.unwrap().bulks.is_empty());
    assert_eq!(bulk::notify_finished(svc.clone()).await.unwrap(), 1);
    assert_eq!(
        bulk_note(&app, view.id).await,
        (
            "Finished with problems".to_string(),
            "Inventory sync on Every tenant listed: 3 succeeded, 7 blocked.".to_string()
        )
    );

    // Everything blocked: its member is still told when it has ended.
    let blocked = bulk::start(
        svc,
        &w.owner,
        w.ws,
        "compliance_snapshot",
        Selection::Checked(t[3..6].to_vec()),
    )
    .await
    .unwrap();
    assert_eq!(bulk::present(&blocked).title, "Blocked");
    assert!(bulk::overlay(svc, &w.owner).await.unwrap().bulks.is_empty());
    assert_eq!(bulk::notify_finished(svc.clone()).await.unwrap(), 1);
    assert_eq!(
        bulk_note(&app, blocked.id).await.1,
        "Compliance snapshot on 3 checked tenants: 3 blocked."
    );

    // A target found already running keeps the entry until that run ends.
    assert_eq!(
        start_one(&app, &w.owner, t[0], domain::provider::INVENTORY_SYNC).await,
        StartDecision::Accepted
    );
    let joined = bulk::start(
        svc,
        &w.owner,
        w.ws,
        "inventory_sync",
        Selection::Checked(vec![t[0], t[1]]),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            joined.progress.decided.already_running,
            joined.progress.decided.queued
        ),
        (1, 1)
    );
    // End only the bulk's own run: the joined one still runs.
    let own: i64 = scalar(
        &app,
        &format!(
            "SELECT run_id FROM bulk_start_targets WHERE bulk_id = {} AND decision = 'queued'",
            joined.id
        ),
    )
    .await;
    let claimed = RunService::claim(svc, "w1", 100, 60_000).await.unwrap();
    for c in &claimed {
        if c.id.0 == own {
            RunService::complete(svc, c, Completion::succeeded(SummaryCounts::default()))
                .await
                .unwrap();
        }
    }
    let entry = bulk::overlay(svc, &w.owner).await.unwrap().bulks;
    assert_eq!(entry.len(), 1, "{entry:?}");
    assert_eq!((entry[0].done, entry[0].total), (1, 2));
    assert_eq!(bulk::notify_finished(svc.clone()).await.unwrap(), 0);
    for c in &claimed {
        if c.id.0 != own {
            RunService::complete(
                svc,
                c,
                Completion::failed(ReasonCode::ProviderUnavailable, "no"),
            )
            .await
            .unwrap();
        }
    }
    assert!(bulk::overlay(svc, &w.owner).await.unwrap().bulks.is_empty());
    assert_eq!(bulk::notify_finished(svc.clone()).await.unwrap(), 1);
    assert_eq!(
        bulk_note(&app, joined.id).await,
        (
            "Finished with problems".to_string(),
            "Inventory sync on 2 checked tenants: 1 succeeded, 1 failed.".to_string()
        )
    );
}

/// Issue 30.1 for bulks: a member's bulk cut short after its runs were
/// committed and before their rows were recorded is settled (after 10
/// minutes) with every run it started counted, and nothing started twice.
async fn a_bulk_cut_short_counts_every_run_it_started(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 3).await;
    let svc = &app.services;
    svc.failpoints.arm(
        "admission.before_record",
        0,
        domain::failpoints::Crash::Fail,
    );
    let e = bulk::start(
        svc,
        &w.owner,
        w.ws,
        "inventory_sync",
        Selection::Matching { tag: None },
    )
    .await
    .unwrap_err();
    assert_eq!(e, AppError::Internal, "the admission died after its runs");
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM bulk_start_targets").await,
        0
    );
    let started = scalar(&app, "SELECT COUNT(*) FROM operation_runs").await;
    assert_eq!(started, 4, "the batch's runs were committed");
    end_runs_of(&app, &[], true).await;
    // Not settled while it may still be going on; then settled once.
    assert_eq!(bulk::notify_finished(svc.clone()).await.unwrap(), 0);
    app.clock.advance_ms(11 * 60_000);
    assert_eq!(bulk::notify_finished(svc.clone()).await.unwrap(), 1);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM bulk_start_targets WHERE decision = 'queued'"
        )
        .await,
        4
    );
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM operation_runs").await,
        started
    );
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM bulk_starts")
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap();
    let (_, body) = bulk_note(&app, domain::ids::BulkStartId(id)).await;
    assert!(body.contains("4 succeeded"), "{body}");
    assert!(body.contains("interrupted"), "{body}");
}

both_backends!(
    a_bulk_cut_short_counts_every_run_it_started,
    one_truth_for_a_bulks_progress,
    five_hundred_tenants_give_exact_counts,
    who_may_start_and_see_a_bulk,
    bulk_start_through_http,
    a_bulk_and_a_scheduled_pack_run_for_real
);
