//! The fleet overview (spec 010): every column counted from the stored rows
//! (published results only), sorting, the tag filter, who sees which
//! tenants, and the page with its charts.

use crate::both_backends;
use crate::common::{Backend, T0, TestApp, spawn_app};
use crate::world::fleet;
use domain::ids::{RunId, TenantId};
use domain::rbac::Role;
use domain::runs::OperationType;
use domain::runs::gate::{Initiator, StartGate, StartRequest};

const H: i64 = 3_600_000;
const D: i64 = 24 * H;

async fn exec(app: &TestApp, sql: String) {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(app.services.store.unguarded_pool())
        .await
        .unwrap();
}

/// A run of `op` on `tenant` that ended as `outcome` (attempt 1) at `at`.
async fn ended(
    app: &TestApp,
    tenant: TenantId,
    op: OperationType,
    outcome: &str,
    at: i64,
) -> RunId {
    let run = StartGate::start(
        &app.services,
        Initiator::System,
        StartRequest {
            tenant,
            op_type: op,
            connection: None,
            args: serde_json::json!({}),
        },
    )
    .await
    .unwrap()
    .run;
    exec(
        app,
        format!("UPDATE operation_runs SET status = 'completed', outcome = '{outcome}', attempts = 1, created_at = {at}, completed_at = {at} WHERE id = {run}"),
    )
    .await;
    run
}

async fn snapshot(app: &TestApp, tenant: TenantId, at: i64) -> i64 {
    let run = ended(
        app,
        tenant,
        domain::provider::INVENTORY_SYNC,
        "succeeded",
        at,
    )
    .await;
    sqlx::query_as::<_, (i64,)>(
        "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices, attempt)
         VALUES ($1, $2, $3, 0, 0, 0, 1) RETURNING id",
    )
    .bind(tenant.0)
    .bind(run.0)
    .bind(at)
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap()
    .0
}

async fn compliance(app: &TestApp, tenant: TenantId, at: i64, ok: i64, bad: i64, attempt: i64) {
    let run = ended(
        app,
        tenant,
        domain::provider::COMPLIANCE_SNAPSHOT,
        "succeeded",
        at,
    )
    .await;
    exec(
        app,
        format!("INSERT INTO compliance_snapshots (tenant_id, run_id, taken_at, compliant, noncompliant, in_grace_period, other, attempt)
                 VALUES ({tenant}, {run}, {at}, {ok}, {bad}, 0, 0, {attempt})"),
    )
    .await;
}

async fn drift(app: &TestApp, ws: i64, tenant: TenantId, snap: i64, at: i64, attempt: i64) {
    let (run,): (i64,) = sqlx::query_as("SELECT run_id FROM inventory_snapshots WHERE id = $1")
        .bind(snap)
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    exec(
        app,
        format!("INSERT INTO drift_entries (workspace_id, tenant_id, snapshot_id, previous_snapshot_id, run_id, attempt, change, kind,
                    external_id, display_name, search_name, settings, detected_at)
                 VALUES ({ws}, {tenant}, {snap}, {snap}, {run}, {attempt}, 'changed', 'device_configuration', 'x', 'P', 'p', '[]', {at})"),
    )
    .await;
}

async fn order(
    svc: &domain::services::Services,
    who: &domain::access::Actor,
    q: &str,
) -> Vec<TenantId> {
    domain::fleet::page(svc, who, q)
        .await
        .unwrap()
        .unwrap()
        .rows
        .iter()
        .map(|r| r.tenant)
        .collect()
}

async fn every_column_counts_what_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 2).await;
    let svc = &app.services;
    let (a, b, c) = (w.tenants[0], w.tenants[1], w.tenants[2]);
    // A: inventory 3 h ago, compliance 50 → 75 → 90 %, an unpublished
    // compliance snapshot (attempt 2 of a one-attempt run) ignored, 2 changes
    // in 7 days + 1 older + 1 unpublished, one run active.
    let snap = snapshot(&app, a, T0 - 3 * H).await;
    compliance(&app, a, T0 - 3 * D, 5, 5, 1).await;
    compliance(&app, a, T0 - 2 * D, 3, 1, 1).await;
    compliance(&app, a, T0 - D, 9, 1, 1).await;
    compliance(&app, a, T0 - H, 0, 10, 2).await;
    for (at, attempt) in [(T0 - D, 1), (T0 - 2 * D, 1), (T0 - 10 * D, 1), (T0 - H, 2)] {
        drift(&app, w.ws.0, a, snap, at, attempt).await;
    }
    StartGate::start(
        svc,
        Initiator::System,
        StartRequest {
            tenant: a,
            op_type: domain::provider::INVENTORY_SYNC,
            connection: None,
            args: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    // B: two failures this week, one older; its secret expires in 10 days.
    for at in [T0 - H, T0 - 2 * D, T0 - 9 * D] {
        ended(&app, b, domain::provider::TENANT_VERIFICATION, "failed", at).await;
    }
    exec(
        &app,
        format!(
            "UPDATE provider_connections SET credential_expires_at = {} WHERE tenant_id = {b}",
            T0 + 10 * D + H
        ),
    )
    .await;
    // C: nothing at all, and no consent.
    exec(
        &app,
        format!("UPDATE provider_connections SET consent = 'missing' WHERE tenant_id = {c}"),
    )
    .await;

    let page = domain::fleet::page(svc, &w.owner, "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.rows.len(), 3);
    let row = |t: TenantId| page.rows.iter().find(|r| r.tenant == t).unwrap().clone();
    let ra = row(a);
    assert_eq!(ra.inventory_at, Some(T0 - 3 * H));
    assert_eq!(ra.compliant, Some((9, 10)));
    assert_eq!(ra.compliance_trend, vec![50, 75, 90]);
    assert_eq!(ra.compliance_percent(), Some(90));
    assert_eq!((ra.drift_7d, ra.active_runs, ra.failed_7d), (2, 1, 0));
    let rb = row(b);
    assert_eq!((rb.drift_7d, rb.active_runs, rb.failed_7d), (0, 0, 2));
    assert_eq!(rb.secret_days(page.now), Some(10));
    let rc = row(c);
    assert_eq!(
        (rc.inventory_at, rc.compliant, rc.consent),
        (None, None, Some(false))
    );
    assert!(rc.compliance_trend.is_empty());
    assert_eq!(page.drift_by_day.len(), 30);
    assert_eq!(
        page.drift_by_day.iter().sum::<i64>(),
        3,
        "published changes of 30 days"
    );

    // Sorting: most changes first; failures first; unknown compliance last either way.
    assert_eq!(order(svc, &w.owner, "sort=drift&dir=desc").await[0], a);
    assert_eq!(order(svc, &w.owner, "sort=failed&dir=desc").await[0], b);
    assert_eq!(
        order(svc, &w.owner, "sort=compliance&dir=asc").await.last(),
        Some(&c)
    );
    assert_eq!(
        order(svc, &w.owner, "sort=compliance&dir=desc")
            .await
            .last(),
        Some(&c)
    );
    assert!(
        domain::fleet::page(svc, &w.owner, "sort=size")
            .await
            .is_err()
    );
    // Whatever the order, every row carries every column (the sort's column
    // is read for the whole fleet, the others for the page's tenants only).
    for sort in domain::fleet::FleetSort::ALL {
        for dir in ["asc", "desc"] {
            let q = format!("sort={}&dir={dir}", sort.as_str());
            let sorted = domain::fleet::page(svc, &w.owner, &q)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(sorted.rows.len(), 3, "{q}");
            for r in &sorted.rows {
                assert_eq!(r, &row(r.tenant), "{q}");
            }
        }
    }

    // The tag filter; another workspace's tag is 404.
    let tag = domain::schedules::tags::create(svc, &w.owner, w.ws, "Gold")
        .await
        .unwrap();
    domain::schedules::tags::set_on_tenant(svc, &w.owner, b, tag, true)
        .await
        .unwrap();
    assert_eq!(order(svc, &w.owner, &format!("tag={tag}")).await, vec![b]);
    let (other, ws_b) = app.owner_of("other@example.com", "Other MSP").await;
    let theirs = domain::schedules::tags::create(svc, &other, ws_b, "Theirs")
        .await
        .unwrap();
    assert_eq!(
        domain::fleet::page(svc, &w.owner, &format!("tag={theirs}"))
            .await
            .unwrap_err(),
        domain::error::AppError::NotFound
    );
    // Their own fleet shows none of ours.
    assert!(
        domain::fleet::page(svc, &other, "")
            .await
            .unwrap()
            .unwrap()
            .rows
            .is_empty()
    );

    // An operator sees their assigned tenants only, and the chart counts only those.
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
    domain::tenants::set_assignment(svc, &w.owner, b, op_id, true)
        .await
        .unwrap();
    let theirs = domain::fleet::page(svc, &operator, "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        theirs.rows.iter().map(|r| r.tenant).collect::<Vec<_>>(),
        vec![b]
    );
    assert_eq!(theirs.drift_by_day.iter().sum::<i64>(), 0);

    // The page: every row, each number a link, the charts as labelled images.
    let browser = app.browser();
    browser.sign_in("owner@example.com").await;
    let r = browser.get("/admin/fleet?sort=drift&dir=desc").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("data-count=\"3\""), "{}", r.body);
    assert!(r.body.contains(&format!("/admin/t/{a}/changes?days=7")));
    assert!(r.body.contains("role=\"img\""));
    assert!(
        r.body
            .contains("Compliance over the last 3 snapshots: 50 %, 75 %, 90 %"),
        "{}",
        r.body
    );
    assert!(r.body.contains("aria-sort=\"descending\""));
    assert_eq!(browser.get("/admin/fleet?dir=sideways").await.status, 400);
}

/// 250 tenants: pages of 100 in the chosen order over the whole fleet, no
/// tenant twice or missing, a page past the end says so, the pager links.
async fn the_fleet_pages_through_every_tenant(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 249).await;
    let svc = &app.services;
    let mut seen = Vec::new();
    for page in 1..=3 {
        let p = domain::fleet::page(svc, &w.owner, &format!("sort=name&dir=desc&page={page}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.total, 250);
        assert_eq!(p.rows.len(), if page < 3 { 100 } else { 50 }, "page {page}");
        seen.extend(p.rows.iter().map(|r| r.name.to_lowercase()));
    }
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "one order across the pages");
    sorted.dedup();
    assert_eq!(sorted.len(), 250, "every tenant once");
    let past = domain::fleet::page(svc, &w.owner, "page=4")
        .await
        .unwrap()
        .unwrap();
    assert!(past.rows.is_empty());
    assert_eq!(past.total, 250);
    let browser = app.browser();
    browser.sign_in("owner@example.com").await;
    let r = browser.get("/admin/fleet?sort=drift&dir=desc&page=2").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Tenants 101–200 of 250"), "{}", r.body);
    assert!(
        r.body
            .contains("href=\"/admin/fleet?sort=drift&amp;dir=desc\"")
            || r.body.contains("href=\"/admin/fleet?sort=drift&dir=desc\""),
        "previous: page 1"
    );
    assert!(r.body.contains("page=3"), "next");
    let r = browser.get("/admin/fleet?page=4").await;
    assert!(r.body.contains("past the last tenant"));
    assert_eq!(browser.get("/admin/fleet?page=0").await.status, 400);
}

both_backends!(
    every_column_counts_what_is_stored,
    the_fleet_pages_through_every_tenant
);
