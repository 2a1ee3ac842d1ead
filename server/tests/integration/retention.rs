//! Retention (spec 014) end to end: the settings page and who may change it,
//! a sweep over a hundred nights of snapshots and old runs, notifications
//! and audit entries that keeps exactly what the rules say (never a
//! baseline's or an open restore's snapshot), counts removed runs per day
//! once, resumes after a crash between batches, and the audit export.

use crate::both_backends;
use crate::common::{Backend, TestApp, owner_with_workspace, spawn_app};
use domain::failpoints::Crash;
use domain::ids::{TenantId, WorkspaceId};
use domain::retention::RetentionPolicy;
use domain::retention::sweep::{Snapshot, expired};
use std::collections::HashSet;

const DAY: i64 = 86_400_000;

async fn exec(app: &TestApp, sql: &str, binds: &[i64]) -> i64 {
    let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql.to_string()));
    for b in binds {
        q = q.bind(*b);
    }
    q.fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .0
}

/// An ended run at `at`, returning its id.
async fn run_at(
    app: &TestApp,
    ws: WorkspaceId,
    t: TenantId,
    op: &str,
    outcome: &str,
    at: i64,
) -> i64 {
    sqlx::query_as::<_, (i64,)>(
        "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key, context, created_at, started_at, completed_at, available_at, attempts)
         VALUES ($1, $2, $3, 'completed', $4, 'schedule', $5, '{}', $6, $6, $6, $6, 1) RETURNING id",
    )
    .bind(ws.0)
    .bind(t.0)
    .bind(op)
    .bind(outcome)
    .bind(format!("retention-test:{op}:{at}"))
    .bind(at)
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap()
    .0
}

struct Fixture {
    ws: WorkspaceId,
    snapshots: Vec<Snapshot>,
    baseline_snapshot: i64,
    restore_snapshot: i64,
    now: i64,
}

/// A hundred nightly inventory syncs (three policies, one changing every
/// ten nights), a baseline captured from night 50's snapshot, a restore
/// still queued that reads night 60's, ten failed verifications 200 days
/// ago and a succeeded one yesterday, and old and new notifications and
/// audit entries.
async fn hundred_nights(app: &TestApp, owner_email: &str, ws: WorkspaceId) -> Fixture {
    let svc = &app.services;
    let now = svc.now();
    let user: (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(owner_email)
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap();
    let actor = app.actor(domain::ids::UserId(user.0), owner_email);
    let tenant = domain::tenants::create(
        svc,
        &actor,
        ws,
        "Contoso",
        "aaaaaaaa-1111-2222-3333-444444444444",
    )
    .await
    .unwrap();
    let mut snapshots = Vec::new();
    for night in (0..100_i64).rev() {
        let at = now - night * DAY;
        let run = run_at(app, ws, tenant, "inventory_sync", "succeeded", at).await;
        let snap = exec(
            app,
            "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices, attempt)
             VALUES ($1, $2, $3, 3, 0, 0, 1) RETURNING id",
            &[tenant.0, run, at],
        )
        .await;
        let items: Vec<domain::inventory::InventoryItem> = ["a", "b", "c"]
            .iter()
            .map(|p| domain::inventory::InventoryItem {
                kind: "device_configuration",
                external_id: format!("policy-{p}"),
                display_name: format!("Policy {p}"),
                platform: "Windows".into(),
                detail: String::new(),
                modified: None,
                settings: Some(
                    serde_json::json!({"version": if *p == "c" { night / 10 } else { 0 }})
                        .to_string(),
                ),
            })
            .collect();
        let mut tx = svc.store.begin().await.unwrap();
        domain::inventory::stored::write_items(&mut tx, svc.store.backend(), snap, &items)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        snapshots.push(Snapshot {
            id: snap,
            taken_at: at,
            published: true,
        });
    }
    let by_night = |n: i64| snapshots[(99 - n) as usize].id;
    let baseline_snapshot = by_night(50);
    let restore_snapshot = by_night(60);
    let baseline = exec(
        app,
        "INSERT INTO baselines (workspace_id, name, search_name, changed_at, created_at) VALUES ($1, 'Standard', 'standard', 0, 0) RETURNING id",
        &[ws.0],
    )
    .await;
    exec(
        app,
        "INSERT INTO baseline_versions (baseline_id, version, template_name, snapshot_id, note, created_at) VALUES ($1, 1, 'Contoso', $2, '', 0) RETURNING id",
        &[baseline, baseline_snapshot],
    )
    .await;
    sqlx::query(
        "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key, context, created_at, available_at, attempts)
         VALUES ($1, $2, 'restore_execute', 'queued', 'pending', 'user', 'retention-test:restore', $3, $4, $4, 0)",
    )
    .bind(ws.0)
    .bind(tenant.0)
    .bind(serde_json::json!({"args": {"snapshot": restore_snapshot, "items": []}}).to_string())
    .bind(now)
    .execute(svc.store.unguarded_pool())
    .await
    .unwrap();
    for i in 0..10 {
        run_at(
            app,
            ws,
            tenant,
            "tenant_verification",
            "failed",
            now - (200 + i) * DAY,
        )
        .await;
    }
    run_at(
        app,
        ws,
        tenant,
        "tenant_verification",
        "succeeded",
        now - DAY,
    )
    .await;
    // Two directory syncs: the older one's groups are replaced.
    for age in [3, 2] {
        let run = run_at(
            app,
            ws,
            tenant,
            "directory_groups_sync",
            "succeeded",
            now - age * DAY,
        )
        .await;
        for g in 0..3 {
            sqlx::query(
                "INSERT INTO directory_groups (tenant_id, external_id, display_name, search_name, description, mail, group_kind, synced_at, run_id, attempt)
                 VALUES ($1, $2, $3, $4, '', NULL, 'security', $5, $6, 1)",
            )
            .bind(tenant.0)
            .bind(format!("group-{g}"))
            .bind(format!("Group {g}"))
            .bind(format!("group {g}"))
            .bind(now - age * DAY)
            .bind(run)
            .execute(svc.store.unguarded_pool())
            .await
            .unwrap();
        }
    }
    for (age, n) in [(100, 2), (10, 1)] {
        for _ in 0..n {
            sqlx::query(
                "INSERT INTO notifications (user_id, workspace_id, tone, title, body, link, created_at) VALUES ($1, $2, 'info', 't', 'b', '/admin', $3)",
            )
            .bind(user.0)
            .bind(ws.0)
            .bind(now - age * DAY)
            .execute(svc.store.unguarded_pool())
            .await
            .unwrap();
        }
    }
    for (age, n) in [(500, 3), (5, 1)] {
        for i in 0..n {
            sqlx::query(
                "INSERT INTO audit_log (workspace_id, actor_label, action, target, outcome, detail, created_at)
                 VALUES ($1, 'owner@example.com', 'tenant.created', $2, 'succeeded', $3, $4)",
            )
            .bind(ws.0)
            .bind(format!("old-{age}-{i}"))
            .bind(if i == 0 { "=HYPERLINK(\"x\")" } else { "plain" })
            .bind(now - age * DAY)
            .execute(svc.store.unguarded_pool())
            .await
            .unwrap();
        }
    }
    Fixture {
        ws,
        snapshots,
        baseline_snapshot,
        restore_snapshot,
        now,
    }
}

async fn the_sweep_keeps_what_the_rules_say(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, ws) = owner_with_workspace(&app).await;
    let ws = WorkspaceId(ws.parse().unwrap());
    let f = hundred_nights(&app, "owner@example.com", ws).await;
    let svc = &app.services;
    let protected: HashSet<i64> = [f.baseline_snapshot, f.restore_snapshot]
        .into_iter()
        .collect();
    let doomed: HashSet<i64> = expired(&f.snapshots, &RetentionPolicy::DEFAULT, f.now, &protected)
        .into_iter()
        .collect();
    assert!(
        doomed.len() > 60,
        "most of a hundred nights go: {}",
        doomed.len()
    );
    assert!(!doomed.contains(&f.baseline_snapshot) && !doomed.contains(&f.restore_snapshot));
    let items_of = |snap: i64| {
        let pool = svc.store.unguarded_pool();
        async move {
            sqlx::query_as::<_, (i64, String, Option<String>)>(
                "SELECT id, external_id, settings FROM inventory_items WHERE snapshot_id = $1 ORDER BY id",
            )
            .bind(snap)
            .fetch_all(pool)
            .await
            .unwrap()
        }
    };
    let kept_before = items_of(f.baseline_snapshot).await;
    let count = |sql: &'static str| exec(&app, sql, &[]);

    // A crash after the first batch of snapshots: what was deleted is gone,
    // nothing else is touched yet.
    svc.failpoints.arm("retention.batch", 0, Crash::Fail);
    assert!(domain::retention::sweep::sweep(svc, f.now).await.is_err());
    assert_eq!(svc.failpoints.hits("retention.batch"), 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM inventory_snapshots").await,
        100 - doomed.len() as i64
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM operation_runs WHERE op_type = 'tenant_verification'").await,
        11
    );
    // A crash after the removed runs were counted, before they were
    // deleted: the batch rolls back whole, so nothing is counted twice.
    svc.failpoints.arm("retention.runs_counted", 0, Crash::Fail);
    assert!(domain::retention::sweep::sweep(svc, f.now).await.is_err());
    assert_eq!(svc.failpoints.hits("retention.runs_counted"), 1);
    assert_eq!(
        count("SELECT CAST(COALESCE(SUM(runs), 0) AS BIGINT) FROM run_daily_counts").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM operation_runs WHERE op_type = 'tenant_verification'").await,
        11
    );

    // The next sweep finishes the work.
    let summary = domain::retention::sweep::sweep(svc, f.now).await.unwrap();
    assert!(summary.complete);
    let kept: HashSet<i64> = sqlx::query_as::<_, (i64,)>("SELECT id FROM inventory_snapshots")
        .fetch_all(svc.store.unguarded_pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(id,)| id)
        .collect();
    let expected: HashSet<i64> = f
        .snapshots
        .iter()
        .map(|s| s.id)
        .filter(|id| !doomed.contains(id))
        .collect();
    assert_eq!(kept, expected);
    // The newest fourteen nights are all there.
    for s in &f.snapshots[86..] {
        assert!(kept.contains(&s.id));
    }
    // The baseline's snapshot reads back as before (ids and settings).
    assert_eq!(items_of(f.baseline_snapshot).await, kept_before);
    // Bodies: exactly those a kept snapshot references.
    assert_eq!(
        count("SELECT COUNT(*) FROM inventory_bodies").await,
        count("SELECT COUNT(DISTINCT body_id) FROM inventory_refs").await
    );
    assert!(count("SELECT COUNT(*) FROM inventory_bodies").await < 12);
    // Runs: the ten old failed verifications go, the newest stays; the
    // per-day counts hold the ten, once.
    assert_eq!(
        count("SELECT COUNT(*) FROM operation_runs WHERE op_type = 'tenant_verification'").await,
        1
    );
    assert_eq!(
        count("SELECT CAST(COALESCE(SUM(runs), 0) AS BIGINT) FROM run_daily_counts WHERE op_type = 'tenant_verification' AND outcome = 'failed'").await,
        10
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM run_daily_counts").await,
        10,
        "one row per day"
    );
    // Every inventory run stays (its snapshot is younger than the runs' days
    // or kept), the queued restore too.
    assert_eq!(
        count("SELECT COUNT(*) FROM operation_runs WHERE op_type = 'inventory_sync'").await,
        100
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM operation_runs WHERE op_type = 'restore_execute'").await,
        1
    );
    assert_eq!(count("SELECT COUNT(*) FROM notifications").await, 1);
    // The replaced sync's groups are gone, the newest sync's stay; both
    // runs stay for their days.
    assert_eq!(
        count("SELECT COUNT(*) FROM directory_groups g JOIN operation_runs r ON r.id = g.run_id WHERE r.completed_at = (SELECT MAX(completed_at) FROM operation_runs WHERE op_type = 'directory_groups_sync')").await,
        3
    );
    assert_eq!(count("SELECT COUNT(*) FROM directory_groups").await, 3);
    assert_eq!(
        count("SELECT COUNT(*) FROM operation_runs WHERE op_type = 'directory_groups_sync'").await,
        2
    );
    assert_eq!(
        exec(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE workspace_id = $1 AND created_at < $2",
            &[f.ws.0, f.now - 400 * DAY]
        )
        .await,
        0
    );
    // SQLite hands the freed pages back: the file is in incremental mode
    // and the sweep leaves no free page behind.
    if backend == Backend::Sqlite {
        assert_eq!(count("PRAGMA auto_vacuum").await, 2, "incremental");
        assert_eq!(count("PRAGMA freelist_count").await, 0);
    }
    // Idempotent: a second sweep finds nothing.
    let again = domain::retention::sweep::sweep(svc, f.now).await.unwrap();
    assert_eq!(
        (
            again.snapshots,
            again.runs,
            again.notifications,
            again.audit_entries,
            again.inventory_bodies
        ),
        (0, 0, 0, 0, 0)
    );
    // The settings page shows the last sweep (run through the hourly lease:
    // a second call within the hour does nothing).
    assert!(domain::retention::sweep::sweep_when_due(svc).await.is_ok());
    assert_eq!(
        domain::retention::sweep::sweep_when_due(svc).await.unwrap(),
        0
    );
    let page = owner.get("/admin/retention").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-testid=\"last-sweep\""),
        "{}",
        page.body
    );
}

async fn settings_page_changes_and_export(backend: Backend) {
    let app = spawn_app(backend).await;
    let (owner, ws) = owner_with_workspace(&app).await;
    let ws = WorkspaceId(ws.parse().unwrap());
    let f = hundred_nights(&app, "owner@example.com", ws).await;
    let page = owner.get("/admin/retention").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("The defaults"), "{}", page.body);
    assert!(page.body.contains("the newest 14"), "{}", page.body);
    assert!(page.body.contains("expiring-audit.csv"), "the export link");
    let form = |runs: &str, audit: &str| {
        vec![
            ("runs_days", runs.to_string()),
            ("snapshots_last", "10".to_string()),
            ("snapshots_weeks", "4".to_string()),
            ("snapshots_months", "6".to_string()),
            ("notifications_days", "30".to_string()),
            ("audit_days", audit.to_string()),
        ]
    };
    // Refused, and nothing changes: audit shorter than runs; not a number.
    let r = owner.call("/api/retention/save", &form("200", "100")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("at least as long as runs"), "{}", r.body);
    let r = owner
        .call("/api/retention/save", &form("lots", "400"))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("whole number"), "{}", r.body);
    assert_eq!(
        exec(&app, "SELECT COUNT(*) FROM retention_policies", &[]).await,
        0
    );
    // Saved, audited with what changed.
    let r = owner.call("/api/retention/save", &form("200", "500")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let policy = domain::retention::service::policy_of(&app.services, ws)
        .await
        .unwrap();
    assert_eq!(
        (policy.runs_days, policy.audit_days, policy.snapshots_last),
        (200, 500, 10)
    );
    let detail: (String,) = sqlx::query_as(
        "SELECT detail FROM audit_log WHERE action = 'retention.changed' AND outcome = 'succeeded'",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert!(detail.0.contains("runs_days: 180 → 200"), "{}", detail.0);
    let page = owner.get("/admin/retention").await;
    assert!(
        page.body.contains("This workspace&#x27;s own rules")
            || page.body.contains("This workspace's own rules"),
        "{}",
        page.body
    );
    // A read-only member reads the rules but may not change them (403,
    // audited) nor export the audit log.
    let (_, reader) = app.user_browser("reader@example.com", false).await;
    let owner_id: (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = 'owner@example.com'")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    let owner_actor = app.actor(domain::ids::UserId(owner_id.0), "owner@example.com");
    domain::workspaces::add_member_directly(
        &app.services,
        &owner_actor,
        ws,
        "reader@example.com",
        domain::rbac::Role::Readonly,
    )
    .await
    .unwrap();
    assert_eq!(reader.get("/admin/retention").await.status, 200);
    assert_eq!(
        reader
            .call("/api/retention/save", &form("365", "400"))
            .await
            .status,
        403
    );
    assert_eq!(
        exec(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'retention.changed' AND outcome = 'denied' AND id > $1", &[0]).await,
        1
    );
    assert_eq!(
        reader
            .get(domain::retention::EXPIRING_AUDIT_PATH)
            .await
            .status,
        403
    );
    // The owner's export under a 400-day rule: the three entries written
    // 500 days ago, not the recent one.
    let r = owner.call("/api/retention/save", &form("200", "400")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let csv = owner.get(domain::retention::EXPIRING_AUDIT_PATH).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body
            .starts_with("id,created_at_utc_ms,tenant_id,actor,action,target,outcome,detail"),
        "{}",
        csv.body
    );
    assert_eq!(csv.body.matches("old-500-").count(), 3, "{}", csv.body);
    assert!(!csv.body.contains("old-5-"), "only what expires");
    assert!(
        csv.body.contains("\"'=HYPERLINK(\"\"x\"\")\""),
        "a formula is defused: {}",
        csv.body
    );
    // Someone with no workspace: 404; signed out: 401.
    let (_, stranger) = app.user_browser("stranger@example.com", false).await;
    assert_eq!(
        stranger
            .get(domain::retention::EXPIRING_AUDIT_PATH)
            .await
            .status,
        404
    );
    let _ = f;
}

/// Where the test's audit entries written at `at` are stored (PostgreSQL's
/// partitions).
async fn stored_in(app: &TestApp, at: i64) -> Vec<String> {
    sqlx::query_as::<_, (String,)>(
        "SELECT tableoid::regclass::TEXT FROM audit_log WHERE created_at = $1 AND action = 'tenant.created'",
    )
        .bind(at)
        .fetch_all(app.services.store.unguarded_pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(t,)| t)
        .collect()
}

async fn audit_at(app: &TestApp, ws: Option<WorkspaceId>, at: i64) {
    sqlx::query(
        "INSERT INTO audit_log (workspace_id, actor_label, action, target, outcome, created_at)
         VALUES ($1, 'owner@example.com', 'tenant.created', 'Contoso', 'succeeded', $2)",
    )
    .bind(ws.map(|w| w.0))
    .bind(at)
    .execute(app.services.store.unguarded_pool())
    .await
    .unwrap();
}

/// PostgreSQL keeps the audit log and notifications in monthly partitions:
/// months are created ahead (rows written while a month was missing move
/// into it), and a month every workspace has let go of is detached and
/// dropped whole: a crash between detaching and dropping rolls back, a
/// month someone is reading waits for the next sweep. On both backends the
/// same rows remain afterwards, audit entries of no workspace included.
async fn months_are_created_ahead_and_dropped_whole(backend: Backend) {
    use domain::retention::partitions::{Month, create_ahead, months};
    let app = spawn_app(backend).await;
    let (_owner, ws) = owner_with_workspace(&app).await;
    let ws = WorkspaceId(ws.parse().unwrap());
    let svc = &app.services;
    let now = svc.now();
    let user = app.services_user("owner@example.com").await;
    let pg = backend == Backend::Postgres;

    // A year and a half ago the sweep made that season's months.
    let then = Month::of(now - 520 * DAY).start_ms();
    let made = create_ahead(svc, then).await.unwrap();
    let old_month = Month::of(then + DAY);
    if pg {
        assert_eq!(made, 8, "four months of each table");
        let have = months(svc, "audit_log").await.unwrap();
        for m in 0..=3 {
            assert!(have.contains(&Month(Month::of(then).0 + m)), "{have:?}");
        }
        // Again: nothing to make.
        assert_eq!(create_ahead(svc, then).await.unwrap(), 0);
    } else {
        assert_eq!(made, 0, "SQLite has no partitions");
    }
    // Expired: three entries of the workspace and one of no workspace in
    // that old month, one of no workspace older than any month made;
    // two notifications of then.
    for _ in 0..3 {
        audit_at(&app, Some(ws), then + DAY).await;
    }
    audit_at(&app, None, then + DAY + 1).await;
    audit_at(&app, None, now - 1_000 * DAY).await;
    // Kept: a month ago (no partition: the default one), this instant (its
    // month is not made yet), and one of no workspace ten days ago.
    audit_at(&app, Some(ws), now - 30 * DAY).await;
    audit_at(&app, Some(ws), now).await;
    audit_at(&app, None, now - 10 * DAY).await;
    for at in [then + DAY, then + DAY, now] {
        sqlx::query(
            "INSERT INTO notifications (user_id, workspace_id, tone, title, body, link, created_at) VALUES ($1, $2, 'info', 't', 'b', '/admin', $3)",
        )
        .bind(user.0)
        .bind(ws.0)
        .bind(at)
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    }
    if pg {
        assert_eq!(
            stored_in(&app, then + DAY).await,
            vec![old_month.partition_of("audit_log"); 3]
        );
        assert_eq!(stored_in(&app, now).await, vec!["audit_log_default"]);
    }
    let count = |sql: &'static str| exec(&app, sql, &[]);

    if pg {
        // A crash between detaching a month and dropping it: the month is
        // still attached with its rows. This month was made first, and the
        // entry written before it existed moved in.
        svc.failpoints
            .arm("retention.partition_detached", 0, Crash::Fail);
        assert!(domain::retention::sweep::sweep(svc, now).await.is_err());
        assert_eq!(svc.failpoints.hits("retention.partition_detached"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM notifications").await, 3);
        assert!(
            months(svc, "notifications")
                .await
                .unwrap()
                .contains(&Month::of(then))
        );
        assert_eq!(
            stored_in(&app, now).await,
            vec![Month::of(now).partition_of("audit_log")]
        );

        // Someone reading the old month: its drop waits (2 s lock timeout)
        // for the next sweep; the notifications' months go meanwhile.
        let mut reader = svc.store.unguarded_pool().begin().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            old_month.partition_of("audit_log")
        )))
        .execute(&mut *reader)
        .await
        .unwrap();
        let busy = domain::retention::sweep::sweep(svc, now).await.unwrap();
        assert_eq!(busy.notifications, 2);
        assert!(months(svc, "audit_log").await.unwrap().contains(&old_month));
        reader.rollback().await.unwrap();
    }

    let summary = domain::retention::sweep::sweep(svc, now).await.unwrap();
    assert!(summary.complete);
    if pg {
        // The season's four months of the audit log, whole (the notifications'
        // went in the sweep before).
        assert_eq!(summary.partitions, 4);
        let have = months(svc, "audit_log").await.unwrap();
        assert!(
            have.iter().all(|m| *m > Month(Month::of(then).0 + 3)),
            "{have:?}"
        );
        assert!(have.contains(&Month(Month::of(now).0 + 3)), "made ahead");
    }
    // What remains is the same on both backends.
    assert_eq!(
        exec(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE created_at < $1",
            &[now - 400 * DAY]
        )
        .await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_log WHERE workspace_id IS NULL AND action = 'tenant.created'").await,
        1
    );
    assert_eq!(
        exec(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.created' AND created_at >= $1",
            &[now - 30 * DAY]
        )
        .await,
        3
    );
    assert_eq!(count("SELECT COUNT(*) FROM notifications").await, 1);
    // Nothing left to do.
    let again = domain::retention::sweep::sweep(svc, now).await.unwrap();
    assert_eq!(
        (again.partitions, again.audit_entries, again.notifications),
        (0, 0, 0)
    );
    // New rows still go in, with ids after every earlier one.
    audit_at(&app, Some(ws), now + 1).await;
    assert_eq!(
        exec(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE id >= (SELECT id FROM audit_log WHERE created_at = $1)",
            &[now + 1]
        )
        .await,
        1
    );
}

both_backends!(
    the_sweep_keeps_what_the_rules_say,
    settings_page_changes_and_export,
    months_are_created_ahead_and_dropped_whole
);

/// Every table with a column naming a run is one the sweep knows: it keeps
/// the run, goes with it, has its link cleared, or follows by foreign key.
/// A new table that names runs fails here until the sweep is told.
#[test]
fn every_table_naming_a_run_is_known_to_the_sweep() {
    use domain::retention::sweep::{RUN_FOLLOWERS, RUN_ITEMS, RUN_KEEPERS, RUN_LINKS};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut naming: std::collections::BTreeSet<String> = Default::default();
    for file in files {
        let sql = std::fs::read_to_string(&file).unwrap();
        for block in sql.split("CREATE TABLE ").skip(1) {
            let name = block.split_whitespace().next().unwrap_or("").to_string();
            let body = block.split(");").next().unwrap_or("");
            if body.lines().any(|l| {
                let col = l.split_whitespace().next().unwrap_or("");
                col == "run_id" || col.ends_with("_run_id")
            }) {
                naming.insert(name);
            }
        }
        for dropped in sql.lines().filter_map(|l| l.strip_prefix("DROP TABLE ")) {
            naming.remove(dropped.trim_end_matches(';').trim());
        }
    }
    let known: std::collections::BTreeSet<String> = RUN_KEEPERS
        .iter()
        .chain(RUN_ITEMS)
        .chain(RUN_LINKS)
        .chain(RUN_FOLLOWERS)
        .map(|t| t.to_string())
        .collect();
    assert!(naming.len() > 10, "found {naming:?}");
    let unknown: Vec<_> = naming.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "tables naming runs the retention sweep does not know: {unknown:?}"
    );
}
