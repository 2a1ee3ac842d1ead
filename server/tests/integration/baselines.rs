//! Baselines (spec 010) on both backends: a baseline captured from a
//! simulated Contoso, compared after every inventory sync, deviations
//! accepted (with an expiry on the injectable clock) and brought in line by
//! a restore through the gate; and the matrix's counts on 56 tenants checked
//! against an independent count, through versions and expiring acceptances.

use crate::both_backends;
use crate::common::{Backend, T0, TestApp, spawn_app};
use crate::provider::{HEALTHY, provider_world};
use crate::restore::{COMPLIANCE, CONFIGS, items, latest_snapshot};
use crate::world::fleet;
use domain::baselines::service;
use domain::baselines::{BaselinePage, CellState, MATRIX_PAGE, StateCounts};
use domain::error::AppError;
use domain::ids::{BaselineId, TenantId};
use domain::runs::worker::{Worker, WorkerConfig};
use serde_json::{Value, json};
use std::time::Duration;

const D: i64 = 86_400_000;

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sql)
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap()
        .0
}

/// Waits until no run is queued or running.
async fn settle(app: &TestApp) {
    for _ in 0..1500 {
        if count(
            app,
            "SELECT COUNT(*) FROM operation_runs WHERE status IN ('queued', 'running')",
        )
        .await
            == 0
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("runs did not settle");
}

/// Waits for a compare beyond `before` to start, then for every run to end.
async fn next_compare(app: &TestApp, before: i64) {
    for _ in 0..500 {
        if compares(app).await > before {
            return settle(app).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no baseline compare started");
}

async fn compares(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT COUNT(*) FROM operation_runs WHERE op_type = 'baseline_compare'",
    )
    .await
}

fn date(ms: i64) -> String {
    domain::views::format_utc(ms)[..10].to_string()
}

async fn a_baseline_from_contoso_end_to_end(backend: Backend) {
    let w = provider_world(backend).await;
    let app = &w.app;
    let tenant = w.tenant("Contoso", HEALTHY).await;
    w.connect(tenant, HEALTHY).await;
    w.run_to_end(tenant, "tenant_verification").await;
    w.run_to_end(tenant, "inventory_sync").await;
    let call = |path: &'static str, form: Vec<(&'static str, String)>| {
        let owner = &w.owner;
        async move {
            let r = owner.call(path, &form).await;
            (
                r.status,
                serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null),
                r.location,
            )
        }
    };
    // A bad template and a missing name name their fields.
    let (s, e, _) = call(
        "/api/baselines/capture",
        vec![
            ("workspace", w.ws.to_string()),
            ("name", " ".into()),
            ("template", tenant.to_string()),
        ],
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("name")), "{e}");
    let (s, e, _) = call(
        "/api/baselines/capture",
        vec![
            ("workspace", w.ws.to_string()),
            ("name", "Managed standard".into()),
            ("template", "x".into()),
        ],
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("template")), "{e}");
    let (s, _, location) = call(
        "/api/baselines/capture",
        vec![
            ("workspace", w.ws.to_string()),
            ("name", "Managed standard".into()),
            ("template", tenant.to_string()),
        ],
    )
    .await;
    assert_eq!(s, 200);
    let id: BaselineId = location
        .as_deref()
        .and_then(|l| l.strip_prefix("/admin/baselines/"))
        .and_then(|l| l.split('?').next())
        .and_then(|l| l.parse().ok())
        .expect("redirect to the baseline");
    // The same name again is refused.
    let (s, e, _) = call(
        "/api/baselines/capture",
        vec![
            ("workspace", w.ws.to_string()),
            ("name", "managed STANDARD".into()),
            ("template", tenant.to_string()),
        ],
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("name")), "{e}");
    // Not assigned: nothing is due.
    assert_eq!(service::compare_due(&app.services).await.unwrap(), 0);
    let (s, _, _) = call(
        "/api/baselines/assign",
        vec![("baseline", id.to_string()), ("target", "all".into())],
    )
    .await;
    assert_eq!(s, 200);
    let (s, e, _) = call(
        "/api/baselines/assign",
        vec![("baseline", id.to_string()), ("target", "all".into())],
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("target")));
    // The assignment makes a compare due (the sweep), once.
    assert_eq!(service::compare_due(&app.services).await.unwrap(), 1);
    settle(app).await;
    assert_eq!(service::compare_due(&app.services).await.unwrap(), 0);
    let page = |q: &'static str| {
        let owner = &w.owner;
        async move {
            let r = owner
                .call(
                    "/api/baselines/get",
                    &[("baseline", id.to_string()), ("query", q.to_string())],
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            serde_json::from_str::<BaselinePage>(&r.body).unwrap()
        }
    };
    let p = page("").await;
    let policies = 36 + 12;
    assert_eq!(p.items.len(), policies);
    assert_eq!(p.totals.aligned, policies as i64, "{:?}", p.totals);
    assert_eq!(p.rows.len(), 1);

    // Behind Tenantry's back: a setting changed, a compliance policy deleted.
    let snap = latest_snapshot(&w).await;
    let changed = items(&w, snap, "device_configuration", 1).await.remove(0);
    let gone = items(&w, snap, "compliance_policy", 1).await.remove(0);
    let length = changed.settings["passwordMinimumLength"].clone();
    assert!(w.sim.drift(
        HEALTHY,
        CONFIGS,
        &changed.external_id,
        json!({"passwordMinimumLength": 99}),
    ));
    assert!(w.sim.remove(HEALTHY, COMPLIANCE, &gone.external_id));
    // The next sync compares by itself (as the system).
    let before = compares(app).await;
    w.run_to_end(tenant, "inventory_sync").await;
    next_compare(app, before).await;
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM operation_runs WHERE op_type = 'baseline_compare' AND initiator_kind <> 'system'").await,
        0
    );
    let p = page("").await;
    assert_eq!(
        (p.totals.aligned, p.totals.different, p.totals.missing),
        (policies as i64 - 2, 1, 1),
        "{:?}",
        p.totals
    );
    let no = |name: &str| p.items.iter().find(|i| i.display_name == name).unwrap().no;
    let (diff_no, missing_no) = (no(&changed.name), no(&gone.name));
    let only_different = page("state=different").await;
    assert_eq!(only_different.tenants, 1);
    let tenant_view = || {
        let owner = &w.owner;
        async move {
            let r = owner
                .call(
                    "/api/baselines/tenant",
                    &[("baseline", id.to_string()), ("tenant", tenant.to_string())],
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            serde_json::from_str::<Value>(&r.body).unwrap()
        }
    };
    let t = tenant_view().await;
    let cell = |t: &Value, no: i64| {
        t["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["no"] == no)
            .cloned()
            .unwrap()
    };
    assert_eq!(cell(&t, diff_no)["state"], "different");
    assert_eq!(
        cell(&t, diff_no)["settings"],
        json!([{"setting": "passwordMinimumLength", "before": length.to_string(), "after": "99"}])
    );
    assert_eq!(cell(&t, missing_no)["state"], "missing");

    // Accept the missing one until the day after tomorrow; refusals name fields.
    let accept = |items: &'static str, note: &'static str, expires: String| {
        call(
            "/api/baselines/accept",
            vec![
                ("baseline", id.to_string()),
                ("tenant", tenant.to_string()),
                ("items[0]", items.to_string()),
                ("note", note.into()),
                ("expires_on", expires),
            ],
        )
    };
    let now = domain::clock::Clock::now_ms(&app.clock);
    let missing_s: &'static str = Box::leak(missing_no.to_string().into_boxed_str());
    let aligned_no = p
        .items
        .iter()
        .find(|i| i.no != diff_no && i.no != missing_no)
        .unwrap()
        .no;
    let aligned_s: &'static str = Box::leak(aligned_no.to_string().into_boxed_str());
    let (s, e, _) = accept(missing_s, "", String::new()).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("note")));
    let (s, e, _) = accept(missing_s, "Customer keeps its own", date(now - 2 * D)).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("expires_on")));
    let (s, e, _) = accept(aligned_s, "Nothing to accept", String::new()).await;
    assert_eq!((s, e["field"].as_str()), (400, Some("items")));
    let (s, _, _) = accept(missing_s, "Customer keeps its own", date(now + 2 * D)).await;
    assert_eq!(s, 200);
    let p = page("").await;
    assert_eq!((p.totals.missing, p.totals.accepted), (0, 1));
    // Expired: missing again, without a new comparison.
    app.clock.advance_ms(4 * D);
    // Sessions expire over four days: sign in again.
    assert_eq!(w.owner.sign_in("owner@example.com").await.status, 200);
    let p = page("").await;
    assert_eq!((p.totals.missing, p.totals.accepted), (1, 0));
    // Accepted again without expiry, then revoked.
    let (s, _, _) = accept(missing_s, "For good", String::new()).await;
    assert_eq!(s, 200);
    let acceptance = cell(&tenant_view().await, missing_no)["acceptance"]["id"]
        .as_i64()
        .unwrap();
    let (s, _, _) = call(
        "/api/baselines/revoke",
        vec![
            ("baseline", id.to_string()),
            ("acceptance", acceptance.to_string()),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(cell(&tenant_view().await, missing_no)["state"], "missing");
    let (s, _, _) = call(
        "/api/baselines/revoke",
        vec![
            ("baseline", id.to_string()),
            ("acceptance", acceptance.to_string()),
        ],
    )
    .await;
    assert_eq!(s, 404, "revoked twice");

    // Bring both in line: the preview, the typed name, one restore.
    let cells = format!("{tenant}:{diff_no},{tenant}:{missing_no},{tenant}:{aligned_no}");
    let (s, preview, _) = call(
        "/api/baselines/align_preview",
        vec![("baseline", id.to_string()), ("cells", cells.clone())],
    )
    .await;
    assert_eq!(s, 200, "{preview}");
    assert_eq!(preview["skipped"], 1, "the aligned cell is left out");
    let planned = preview["tenants"][0]["items"].as_array().unwrap();
    let action = |no: i64| {
        planned.iter().find(|i| i["no"] == no).unwrap()["action"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        (action(diff_no), action(missing_no)),
        ("update".into(), "create".into())
    );
    let (s, e, _) = call(
        "/api/baselines/align",
        vec![
            ("baseline", id.to_string()),
            ("cells", cells.clone()),
            ("confirm_name", "Managed".into()),
        ],
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("confirm_name")));
    // Workers paused: the restore waits in the queue while we look.
    w.stop.send(true).ok();
    let before = compares(app).await;
    let (s, toast, _) = call(
        "/api/baselines/align",
        vec![
            ("baseline", id.to_string()),
            ("cells", cells.clone()),
            ("confirm_name", "Managed standard".into()),
        ],
    )
    .await;
    assert_eq!(
        (s, toast["title"].as_str()),
        (200, Some("Queued")),
        "{toast}"
    );
    // Issue 30.5: its cells read "being brought in line" and are not
    // offered again.
    let p = page("").await;
    let row = p.rows.iter().find(|r| r.tenant == tenant).unwrap();
    let marked: Vec<bool> = p
        .items
        .iter()
        .zip(&row.aligning)
        .filter(|(i, _)| i.no == diff_no || i.no == missing_no)
        .map(|(_, a)| *a)
        .collect();
    assert_eq!(marked, vec![true, true], "{:?}", row.aligning);
    assert_eq!(row.aligning.iter().filter(|a| **a).count(), 2);
    let (s, e, _) = call(
        "/api/baselines/align",
        vec![
            ("baseline", id.to_string()),
            ("cells", cells),
            ("confirm_name", "Managed standard".into()),
        ],
    )
    .await;
    assert_eq!((s, e["field"].as_str()), (400, Some("cells")), "{e}");
    let page_html = w.owner.get(&format!("/admin/baselines/{id}")).await.body;
    assert_eq!(page_html.matches("data-testid=\"aligning\"").count(), 2);
    // Workers again: the restore, then exactly the restored policies read
    // again (as the system) and compared, with no sync by anyone.
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(
        domain::runs::worker::Worker::new(
            app.services.clone(),
            domain::runs::worker::WorkerConfig {
                concurrency: 2,
                ..Default::default()
            },
        )
        .run(rx),
    );
    next_compare(app, before).await;
    settle(app).await;
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM operation_runs WHERE op_type = 'restore_execute' AND outcome = 'succeeded'").await,
        1
    );
    let restored = w
        .sim
        .object(HEALTHY, CONFIGS, &changed.external_id)
        .unwrap();
    assert_eq!(restored["passwordMinimumLength"], length);
    let (initiator, summary): (String, String) = sqlx::query_as(
        "SELECT initiator_kind, summary FROM operation_runs WHERE op_type = 'inventory_sync' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(initiator, "system");
    assert!(
        summary.contains("\"policies_read_again\",2"),
        "the two restored policies, nothing else: {summary}"
    );
    let p = page("").await;
    assert_eq!(p.totals.aligned, policies as i64, "{:?}", p.totals);
    assert!(p.rows.iter().all(|r| r.aligning.iter().all(|a| !a)));
    stop.send(true).ok();
}

/// What the designed data holds for tenant `i` and item `j` (1-based): the
/// independent count the matrix must agree with.
fn designed(i: usize, j: usize) -> u8 {
    if i == 0 {
        0
    } else {
        ((i * 7 + j * 3) % 6) as u8
    }
}

fn expected(i: usize, j: usize, a_must_exist: bool) -> CellState {
    match designed(i, j) {
        3 if a_must_exist && j == 1 => CellState::Aligned,
        3 => CellState::Different,
        4 => CellState::Missing,
        _ => CellState::Aligned,
    }
}

/// A published inventory snapshot of tenant `i` with its designed policies.
async fn seed_snapshot(app: &TestApp, ws: domain::ids::WorkspaceId, t: TenantId, i: usize) {
    let pool = app.services.store.unguarded_pool();
    let run = app.finished_run(ws, t, "inventory_sync").await;
    let (snap,): (i64,) = sqlx::query_as(
        "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices)
         VALUES ($1, $2, 0, 4, 2, 0) RETURNING id",
    )
    .bind(t.0)
    .bind(run.0)
    .fetch_one(pool)
    .await
    .unwrap();
    let mut policies = Vec::new();
    for j in 1..=6usize {
        let kind = "device_configuration";
        let mut name = format!("P{j}");
        let mut s = json!({
            "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
            "id": format!("{i}-{j}"),
            "displayName": name,
            "description": "Standard",
            "a": 1, "b": "x", "list": [1, 2, 3],
        });
        match designed(i, j) {
            1 => s["list"] = json!([3, 1, 2]),
            2 => s["description"] = json!("Ours"),
            3 => s["a"] = json!(2),
            4 => continue,
            5 => {
                name = format!(" p{j} ");
                s["z"] = json!(1);
            }
            _ => {}
        }
        policies.push((kind, format!("{i}-{j}"), name, s));
    }
    if i % 2 == 1 {
        policies.push((
            "device_configuration",
            format!("{i}-x"),
            "Extra".into(),
            json!({"a": 1}),
        ));
    }
    for (kind, ext, name, s) in policies {
        app.store_item(snap, kind, &ext, &name, Some(s.to_string()))
            .await;
    }
}

async fn matrix_counts_versions_and_expiry(backend: Backend) {
    let app = spawn_app(backend).await;
    let n = 55;
    let w = fleet(&app, n).await;
    let svc = &app.services;
    for (i, t) in w.tenants.iter().enumerate() {
        seed_snapshot(&app, w.ws, *t, i).await;
    }
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(
        Worker::new(
            svc.clone(),
            WorkerConfig {
                concurrency: 2,
                ..WorkerConfig::default()
            },
        )
        .run(rx),
    );
    let id = service::capture(svc, &w.owner, w.ws, "Standard", &w.tenants[0].to_string())
        .await
        .unwrap();
    // Read-only members may not capture, assign or accept (403).
    assert_eq!(
        service::assign(svc, &w.readonly, id, "all").await.err(),
        Some(AppError::Forbidden)
    );
    service::assign(svc, &w.owner, id, "all").await.unwrap();
    assert_eq!(
        service::compare_due(svc).await.unwrap(),
        w.tenants.len() as u64
    );
    settle(&app).await;

    let index: std::collections::HashMap<TenantId, usize> =
        w.tenants.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    // The whole matrix, page by page, against the designed data.
    let check = |accepted: Vec<(usize, usize)>, a_must_exist: bool, items: Vec<usize>| {
        let index = index.clone();
        let owner = w.owner.clone();
        let tenants = w.tenants.len();
        async move {
            let mut columns = vec![StateCounts::default(); items.len()];
            let mut totals = StateCounts::default();
            let mut seen = 0;
            let mut query = String::new();
            loop {
                let p = service::page(svc, &owner, id, &query).await.unwrap();
                assert_eq!(p.tenants, tenants as i64);
                assert_eq!(
                    p.items.iter().map(|h| h.no as usize).collect::<Vec<_>>(),
                    items
                );
                assert!(p.rows.len() <= MATRIX_PAGE);
                for r in &p.rows {
                    let i = index[&r.tenant];
                    let mut counts = StateCounts::default();
                    for (k, j) in items.iter().enumerate() {
                        let mut want = expected(i, *j, a_must_exist);
                        if want.deviates() && accepted.contains(&(i, *j)) {
                            want = CellState::Accepted;
                        }
                        assert_eq!(r.cells[k], want, "tenant {i} item {j}");
                        counts.add(want, 1);
                        columns[k].add(want, 1);
                        totals.add(want, 1);
                    }
                    assert_eq!(r.counts, counts);
                    // Its "Extra", and P6 once dropped from the baseline.
                    let dropped = (!items.contains(&6) && designed(i, 6) != 4) as i64;
                    assert_eq!(r.extras, (i % 2) as i64 + dropped, "tenant {i}: {r:?}");
                }
                seen += p.rows.len();
                if seen == tenants {
                    assert_eq!(p.next, None);
                    assert_eq!(p.columns, columns);
                    assert_eq!(p.totals, totals);
                    return totals;
                }
                query = p.next.clone().expect("a next page");
            }
        }
    };
    let all = vec![1, 2, 3, 4, 5, 6];
    let totals = check(vec![], false, all.clone()).await;
    assert!(totals.different > 0 && totals.missing > 0, "{totals:?}");
    // The baselines list and the fleet's alignment column and chart agree.
    let list = service::list(svc, &w.owner, w.ws).await.unwrap();
    assert_eq!(
        list.baselines[0].aligned_percent,
        domain::baselines::percent(totals.aligned, totals.total())
    );
    assert_eq!(list.baselines[0].compared_tenants, w.tenants.len() as i64);
    let fleet = domain::fleet::page(svc, &w.owner, "sort=alignment&dir=asc")
        .await
        .unwrap()
        .unwrap();
    for r in &fleet.rows {
        let i = index[&r.tenant];
        let aligned = (1..=6)
            .filter(|j| expected(i, *j, false) == CellState::Aligned)
            .count() as i64;
        assert_eq!(r.alignment, Some((aligned, 6)), "tenant {i}");
    }
    let pcts: Vec<i64> = fleet
        .rows
        .iter()
        .filter_map(|r| r.alignment_percent())
        .collect();
    assert!(pcts.windows(2).all(|w| w[0] <= w[1]), "sorted by alignment");
    // Sorted by name, alignment is read for the page's tenants only: the same.
    let by_name = domain::fleet::page(svc, &w.owner, "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.rows.len(), fleet.rows.len());
    for r in &by_name.rows {
        let sorted = fleet.rows.iter().find(|x| x.tenant == r.tenant);
        assert_eq!(Some(r.alignment), sorted.map(|x| x.alignment));
    }
    assert_eq!(
        fleet.alignment_by_day.last().copied().flatten(),
        domain::baselines::percent(totals.aligned, totals.total())
    );
    // The state filter keeps rows with such a cell.
    let with_missing = (0..w.tenants.len())
        .filter(|i| (1..=6).any(|j| expected(*i, j, false) == CellState::Missing))
        .count();
    let p = service::page(svc, &w.owner, id, "state=missing")
        .await
        .unwrap();
    assert_eq!(p.tenants, with_missing as i64);
    assert_eq!(
        service::page(svc, &w.owner, id, "state=bogus")
            .await
            .err()
            .map(|e| e.field().map(str::to_string)),
        Some(Some("state".into()))
    );
    // A compare run's summary counts what it found.
    let (summary,): (String,) = sqlx::query_as(
        "SELECT summary FROM operation_runs WHERE op_type = 'baseline_compare' AND tenant_id = $1",
    )
    .bind(w.tenants[1].0)
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    let aligned_1 = (1..=6)
        .filter(|j| expected(1, *j, false) == CellState::Aligned)
        .count();
    assert!(
        summary.contains(&format!("[\"aligned\",{aligned_1}]")),
        "{summary}"
    );

    // Tenant 3: every deviation accepted for good; tenant 4: until tomorrow.
    let deviations = |i: usize| -> Vec<(usize, usize)> {
        (1..=6)
            .filter(|j| expected(i, *j, false).deviates())
            .map(|j| (i, j))
            .collect()
    };
    let (three, four) = (w.tenants[3], w.tenants[4]);
    assert_eq!(
        service::accept(
            svc,
            &w.owner,
            id,
            three,
            &[],
            "Agreed with the customer",
            ""
        )
        .await
        .unwrap(),
        deviations(3).len()
    );
    assert_eq!(
        service::accept(svc, &w.readonly, id, w.tenants[0], &[], "No", "")
            .await
            .err(),
        Some(AppError::Forbidden)
    );
    let four_items: Vec<i64> = deviations(4).iter().map(|(_, j)| *j as i64).collect();
    assert!(!four_items.is_empty());
    service::accept(
        svc,
        &w.owner,
        id,
        four,
        &four_items,
        "Until the fix",
        &date(T0 + D),
    )
    .await
    .unwrap();
    let mut accepted = deviations(3);
    accepted.extend(deviations(4));
    check(accepted, false, all.clone()).await;
    app.clock.advance_ms(3 * D);
    check(deviations(3), false, all.clone()).await;

    // Versions: drop item 6 (v2); a stale edit is refused; item 1's `a` must only exist (v3).
    assert_eq!(
        service::drop_item(svc, &w.owner, id, 1, 6).await.unwrap(),
        2
    );
    assert!(matches!(
        service::drop_item(svc, &w.owner, id, 1, 5).await,
        Err(AppError::Conflict { .. })
    ));
    assert_eq!(
        service::set_rules(
            svc,
            &w.owner,
            id,
            2,
            1,
            &["a=must_exist".into()],
            "a may vary"
        )
        .await
        .unwrap(),
        3
    );
    // The name and ids keep their fixed rule; a failed edit makes no version.
    for bad in [
        "displayName=excluded",
        "id=must_equal",
        "nosuch=excluded",
        "a=sometimes",
    ] {
        let e = service::set_rules(svc, &w.owner, id, 3, 1, &[bad.into()], "")
            .await
            .err();
        assert_eq!(e.as_ref().and_then(|e| e.field()), Some("rules"), "{bad}");
    }
    let p = service::page(svc, &w.owner, id, "").await.unwrap();
    assert_eq!(p.version, 3);
    assert!(
        p.rows.iter().all(|r| r.compared_version == Some(1)),
        "stale until compared"
    );
    assert_eq!(
        p.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    assert_eq!(p.versions[0].note, "a may vary");
    assert_eq!(p.versions[1].note, "Dropped P6");
    // The edit makes every tenant due; compared, item 1's `a = 2` is aligned now.
    assert_eq!(
        service::compare_due(svc).await.unwrap(),
        w.tenants.len() as u64
    );
    settle(&app).await;
    check(deviations(3), true, vec![1, 2, 3, 4, 5]).await;
    let p = service::page(svc, &w.owner, id, "").await.unwrap();
    assert!(p.rows.iter().all(|r| r.compared_version == Some(3)));
    // A read-only member sees the tenant assigned to them only.
    let p = service::page(svc, &w.readonly, id, "").await.unwrap();
    assert_eq!(p.tenants, 1);
    assert!(!p.can_manage && !p.can_align);
    // Bulk starts and schedules offer the compare too.
    let bulk = domain::schedules::bulk::start(
        svc,
        &w.owner,
        w.ws,
        "baseline_compare",
        domain::schedules::bulk::Selection::Matching { tag: None },
    )
    .await
    .unwrap();
    assert_eq!(
        bulk.progress.decided.queued
            + bulk.progress.decided.already_running
            + bulk.progress.decided.scope_busy,
        w.tenants.len() as i64,
        "{bulk:?}"
    );
    settle(&app).await;
    domain::schedules::service::create(
        svc,
        &w.owner,
        w.ws,
        domain::schedules::service::ScheduleForm {
            name: "Nightly compare".into(),
            op_type: "baseline_compare".into(),
            target: "all".into(),
            cron: "0 4 * * *".into(),
            time_zone: "UTC".into(),
            spread_seconds: "60".into(),
        },
    )
    .await
    .unwrap();
    // Deleting needs the typed name; then everything of it is gone.
    assert!(
        service::delete(svc, &w.owner, id, "standard")
            .await
            .is_err()
    );
    service::delete(svc, &w.owner, id, "Standard")
        .await
        .unwrap();
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM baseline_results").await,
        0
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM baseline_acceptances").await,
        0
    );
    stop.send(true).ok();
}

both_backends!(
    a_baseline_from_contoso_end_to_end,
    matrix_counts_versions_and_expiry
);
