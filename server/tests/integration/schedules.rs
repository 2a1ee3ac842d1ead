//! Tags and schedules (spec 009): validation that names the field, firing
//! exactly once per slot (also with two processes racing on PostgreSQL over
//! 200 slots), missed slots folded into one late fire, paused schedules
//! never firing, starts spread over the window, a fire a crash interrupted
//! finished without starting anyone twice, exact counts per decision.

use crate::both_backends;
use crate::common::{Backend, T0, TestApp, open_store, spawn_app};
use crate::world::fleet;
use domain::error::AppError;
use domain::ids::{ScheduleFireId, TenantId};
use domain::schedules::service::{self, ScheduleForm};
use domain::schedules::tags;
use std::sync::Arc;

const MINUTE: i64 = 60_000;

/// The run world's workspace with `extra` more tenants (`Tenant 0`, …), each
fn form(target: &str, cron: &str, zone: &str) -> ScheduleForm {
    ScheduleForm {
        name: "Nightly inventory".into(),
        op_type: "inventory_sync".into(),
        target: target.into(),
        cron: cron.into(),
        time_zone: zone.into(),
        spread_seconds: String::new(),
    }
}

async fn fires(app: &TestApp) -> Vec<(i64, i64, i64)> {
    sqlx::query_as("SELECT id, slot_at, missed FROM schedule_fires ORDER BY slot_at")
        .fetch_all(app.services.store.unguarded_pool())
        .await
        .unwrap()
}

async fn active_runs(app: &TestApp) -> i64 {
    sqlx::query_as::<_, (i64,)>(
        "SELECT COUNT(*) FROM operation_runs WHERE status IN ('queued', 'running')",
    )
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap()
    .0
}

fn field(e: AppError) -> Option<String> {
    e.field().map(str::to_string)
}

async fn forms_are_checked_field_by_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 0).await;
    let svc = &app.services;
    let mut bad = form("all", "0 3 * * *", "UTC");
    bad.op_type = "restore_execute".into();
    assert_eq!(
        field(service::create(svc, &w.owner, w.ws, bad).await.unwrap_err()).as_deref(),
        Some("op_type")
    );
    for (target, cron, zone, f) in [
        ("all", "0 3 * *", "UTC", "cron"),
        ("all", "0 3 * * *", "Atlantis/Capital", "time_zone"),
        ("everyone", "0 3 * * *", "UTC", "target"),
    ] {
        let e = service::create(svc, &w.owner, w.ws, form(target, cron, zone))
            .await
            .unwrap_err();
        assert_eq!(field(e).as_deref(), Some(f), "{target} {cron} {zone}");
    }
    // A tenant or tag that is not this workspace's does not exist here: 404.
    for target in ["tenant:999999", "tag:1"] {
        let e = service::create(svc, &w.owner, w.ws, form(target, "0 3 * * *", "UTC"))
            .await
            .unwrap_err();
        assert_eq!(e, AppError::NotFound, "{target}");
    }
    let mut spread = form("all", "0 3 * * *", "UTC");
    spread.spread_seconds = "99999".into();
    assert_eq!(
        field(
            service::create(svc, &w.owner, w.ws, spread)
                .await
                .unwrap_err()
        )
        .as_deref(),
        Some("spread_seconds")
    );
    // Read-only members may look, not manage: 403, audited.
    let e = service::create(svc, &w.readonly, w.ws, form("all", "0 3 * * *", "UTC"))
        .await
        .unwrap_err();
    assert_eq!(e, AppError::Forbidden);
    let page = service::page(svc, &w.readonly, w.ws).await.unwrap();
    assert!(!page.can_manage);
    assert!(page.schedules.is_empty());
    // The preview: five local times.
    let p = service::preview(svc, "0 3 * * *", "Europe/Berlin").unwrap();
    assert_eq!(p.len(), 5);
    assert!(p[0].starts_with("2026-01-01 03:00"), "{p:?}");
}

async fn tags_group_tenants(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 2).await;
    let svc = &app.services;
    let finance = tags::create(svc, &w.owner, w.ws, " Finance ")
        .await
        .unwrap();
    assert_eq!(
        field(
            tags::create(svc, &w.owner, w.ws, "Finance")
                .await
                .unwrap_err()
        )
        .as_deref(),
        Some("name")
    );
    assert_eq!(
        field(tags::create(svc, &w.owner, w.ws, "").await.unwrap_err()).as_deref(),
        Some("name")
    );
    assert_eq!(
        tags::create(svc, &w.readonly, w.ws, "Nope")
            .await
            .unwrap_err(),
        AppError::Forbidden
    );
    for t in &w.tenants[..2] {
        tags::set_on_tenant(svc, &w.owner, *t, finance, true)
            .await
            .unwrap();
    }
    // Idempotent.
    tags::set_on_tenant(svc, &w.owner, w.tenants[0], finance, true)
        .await
        .unwrap();
    let list = tags::list(svc, &w.owner, w.ws).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].name.as_str(), list[0].tenants), ("Finance", 2));
    assert_eq!(
        tags::of_tenant(svc, &w.owner, w.tenants[0]).await.unwrap()[0].name,
        "Finance"
    );
    tags::set_on_tenant(svc, &w.owner, w.tenants[0], finance, false)
        .await
        .unwrap();
    assert_eq!(tags::list(svc, &w.owner, w.ws).await.unwrap()[0].tenants, 1);
    // Another workspace's member cannot see or use the tag.
    let (other, other_ws) = app.owner_of("other@example.com", "Other MSP").await;
    assert_eq!(
        tags::delete(svc, &other, other_ws, finance)
            .await
            .unwrap_err(),
        AppError::NotFound
    );
    // …not even as a schedule's target: 404, not a form error (issue 30.9).
    assert_eq!(
        service::create(
            svc,
            &other,
            other_ws,
            form(&format!("tag:{finance}"), "0 3 * * *", "UTC")
        )
        .await
        .unwrap_err(),
        AppError::NotFound
    );
    let audited: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('tag.created', 'tenant.tagged', 'tenant.untagged') AND outcome = 'succeeded'",
    )
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(audited.0, 4, "one created, two tagged, one untagged");
    let (refused,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'tag.created' AND outcome <> 'succeeded'",
    )
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(refused, 1, "the read-only member's refusal is audited");
    tags::delete(svc, &w.owner, w.ws, finance).await.unwrap();
    assert!(tags::list(svc, &w.owner, w.ws).await.unwrap().is_empty());
}

async fn a_slot_fires_once_and_missed_slots_fold_into_one_late_fire(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 4).await;
    let svc = &app.services;
    let id = service::create(svc, &w.owner, w.ws, form("all", "*/15 * * * *", "UTC"))
        .await
        .unwrap();
    // T0 is 00:00 UTC: the first slot is 00:15.
    app.clock.set_ms(T0 + 14 * MINUTE);
    assert_eq!(service::fire_due(svc.clone()).await.unwrap(), 0);
    app.clock.set_ms(T0 + 15 * MINUTE + 5_000);
    assert_eq!(service::fire_due(svc.clone()).await.unwrap(), 1);
    assert_eq!(
        service::fire_due(svc.clone()).await.unwrap(),
        0,
        "same slot again"
    );
    let page = service::page(svc, &w.owner, w.ws).await.unwrap();
    let last = page.schedules[0].last_fire.clone().unwrap();
    assert_eq!(
        (
            last.targets,
            last.progress.decided.queued,
            last.progress.decided.blocked
        ),
        (5, 5, 0)
    );
    assert!(!last.late);
    assert_eq!(page.schedules[0].next_fire_at, Some(T0 + 30 * MINUTE));
    assert_eq!(active_runs(&app).await, 5);
    // Starts are spread over the 60 s window, first at the fire.
    let (lo, hi): (i64, i64) = sqlx::query_as(
        "SELECT MIN(available_at), MAX(available_at) FROM operation_runs WHERE initiator_kind = 'schedule'",
    )
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(lo, T0 + 15 * MINUTE + 5_000);
    assert!(hi > lo && hi < lo + 60_000, "{lo} {hi}");
    // Nobody is notified of a schedule's runs.
    let (notes,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM notifications")
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(notes, 0);

    // Down from 00:20 to 02:07: 00:30 … 02:00 (seven slots) fire once, late,
    // as the 02:00 slot standing for the six missed before it.
    app.clock.set_ms(T0 + 127 * MINUTE);
    assert_eq!(service::fire_due(svc.clone()).await.unwrap(), 1);
    let f = fires(&app).await;
    assert_eq!(f.len(), 2);
    assert_eq!((f[1].1, f[1].2), (T0 + 120 * MINUTE, 6));
    // Each fire keeps its own counts.
    let first = service::fire(svc, ScheduleFireId(f[0].0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            first.slot_at,
            first.progress.decided.queued,
            first.progress.decided.already_running,
            first.late
        ),
        (T0 + 15 * MINUTE, 5, 0, false)
    );
    let last = service::fire(svc, ScheduleFireId(f[1].0))
        .await
        .unwrap()
        .unwrap();
    assert!(last.late);
    // The first fire's runs are still queued: the gate says already running.
    assert_eq!(
        (
            last.progress.decided.queued,
            last.progress.decided.already_running
        ),
        (0, 5)
    );
    assert_eq!(active_runs(&app).await, 5, "nobody started twice");

    // Paused: never fires; resumed: from the next slot, nothing made up.
    service::set_enabled(svc, &w.owner, w.ws, id, false)
        .await
        .unwrap();
    app.clock.set_ms(T0 + 24 * 60 * MINUTE);
    assert_eq!(service::fire_due(svc.clone()).await.unwrap(), 0);
    service::set_enabled(svc, &w.owner, w.ws, id, true)
        .await
        .unwrap();
    assert_eq!(service::fire_due(svc.clone()).await.unwrap(), 0);
    app.clock.set_ms(T0 + 24 * 60 * MINUTE + 15 * MINUTE);
    assert_eq!(service::fire_due(svc.clone()).await.unwrap(), 1);
    let f = fires(&app).await;
    assert_eq!((f[2].1, f[2].2), (T0 + 24 * 60 * MINUTE + 15 * MINUTE, 0));
    let audited: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('schedule.created', 'schedule.paused', 'schedule.resumed') AND outcome = 'succeeded'",
    )
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(audited.0, 3);
    service::delete(svc, &w.owner, w.ws, id).await.unwrap();
    assert!(fires(&app).await.is_empty(), "its fires go with it");
}

/// A fire whose process died after starting some targets: a later sweep
/// takes it over after its lease and starts only the rest.
async fn an_interrupted_fire_is_finished_without_starting_anyone_twice(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 3).await;
    let svc = &app.services;
    let tag = tags::create(svc, &w.owner, w.ws, "Tier 1").await.unwrap();
    for t in &w.tenants {
        tags::set_on_tenant(svc, &w.owner, *t, tag, true)
            .await
            .unwrap();
    }
    let id = service::create(
        svc,
        &w.owner,
        w.ws,
        form(&format!("tag:{tag}"), "0 * * * *", "UTC"),
    )
    .await
    .unwrap();
    // What the crashed process left: a fire row and one target started.
    let first = domain::runs::gate::StartGate::start(
        svc,
        domain::runs::gate::Initiator::Schedule,
        domain::runs::gate::StartRequest {
            tenant: w.tenants[0],
            op_type: domain::provider::INVENTORY_SYNC,
            connection: None,
            args: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    let (fire,): (i64,) = sqlx::query_as(
        "INSERT INTO schedule_fires (schedule_id, workspace_id, slot_at, fired_at, missed, lease_until)
         VALUES ($1, $2, $3, $3, 0, $4) RETURNING id",
    )
    .bind(id.0)
    .bind(w.ws.0)
    .bind(T0)
    .bind(T0 + 120_000)
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO schedule_fire_targets (fire_id, tenant_id, decision, run_id) VALUES ($1, $2, 'queued', $3)",
    )
    .bind(fire)
    .bind(w.tenants[0].0)
    .bind(first.run.0)
    .execute(svc.store.unguarded_pool())
    .await
    .unwrap();
    // Within its lease, nobody touches it.
    app.clock.set_ms(T0 + 60_000);
    service::fire_due(svc.clone()).await.unwrap();
    assert_eq!(active_runs(&app).await, 1);
    // After it, the rest are started once.
    app.clock.set_ms(T0 + 121_000);
    service::fire_due(svc.clone()).await.unwrap();
    let f = service::fire(svc, ScheduleFireId(fire))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            f.targets,
            f.progress.decided.queued,
            f.progress.decided.already_running
        ),
        (4, 4, 0)
    );
    assert!(f.finished);
    assert_eq!(active_runs(&app).await, 4);
}

both_backends!(
    forms_are_checked_field_by_field,
    tags_group_tenants,
    a_slot_fires_once_and_missed_slots_fold_into_one_late_fire,
    an_interrupted_fire_is_finished_without_starting_anyone_twice,
    the_pages_show_schedules_and_tags,
);

/// Two "processes" (two pools, one database) sweep at the same instants over
/// 200 minute slots: each slot fires exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_fire_each_of_200_slots_once() {
    let app = spawn_app(Backend::Postgres).await;
    let w = fleet(&app, 9).await;
    let svc = &app.services;
    service::create(svc, &w.owner, w.ws, form("all", "* * * * *", "UTC"))
        .await
        .unwrap();
    let other = domain::operations::services(
        open_store(app.db_url()).await,
        domain::services::Settings::default(),
    )
    .with_clock(Arc::new(app.clock.clone()));
    let mut both_fired = 0;
    for k in 1..=200 {
        app.clock.set_ms(T0 + k * MINUTE + 1_000);
        let (a, b) = tokio::join!(
            service::fire_due(svc.clone()),
            service::fire_due(other.clone())
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a + b, 1, "slot {k}: {a} + {b}");
        if a == 1 && b == 0 {
            both_fired += 1;
        }
    }
    let f = fires(&app).await;
    assert_eq!(f.len(), 200);
    let (targets, distinct): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT fire_id || ':' || tenant_id) FROM schedule_fire_targets",
    )
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!((targets, distinct), (2000, 2000));
    assert_eq!(
        active_runs(&app).await,
        10,
        "one run per tenant, the rest already running"
    );
    println!(
        "200 slots swept by two processes at once: 200 fires (first process won {both_fired}, the other {}), 2,000 target decisions, 10 runs",
        200 - both_fired
    );
    other.store.close().await;
}

/// Through HTTP as an owner: a refused form names its field; a created
/// schedule is listed with its next fires in its zone; pausing says so; the
/// tenant list filters by tag.
async fn the_pages_show_schedules_and_tags(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = fleet(&app, 1).await;
    let b = app.browser();
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);
    let fields = |cron: &str| {
        vec![
            ("workspace", w.ws.to_string()),
            ("name", "Weekday compliance".to_string()),
            ("op_type", "compliance_snapshot".to_string()),
            ("target", format!("tenant:{}", w.tenants[0])),
            ("cron", cron.to_string()),
            ("time_zone", "Europe/Berlin".to_string()),
            ("spread_seconds", "30".to_string()),
        ]
    };
    let r = b.call("/api/schedules/create", &fields("30 6 * *")).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("\"cron\""), "{}", r.body);
    let r = b
        .call("/api/schedules/create", &fields("30 6 * * 1-5"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page = b.get("/admin/schedules").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Weekday compliance"), "{}", page.body);
    // 2026-01-01 is a Thursday: the first fire is 06:30 CET that day.
    assert!(page.body.contains("2026-01-01 06:30 CET"), "{}", page.body);
    assert!(page.body.contains("Not fired yet"));
    let id = service::page(&app.services, &w.owner, w.ws)
        .await
        .unwrap()
        .schedules[0]
        .id;
    let r = b
        .call(
            "/api/schedules/pause",
            &[
                ("workspace", w.ws.to_string()),
                ("schedule", id.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(b.get("/admin/schedules").await.body.contains("Paused"));

    let r = b
        .call(
            "/api/tags/create",
            &[
                ("workspace", w.ws.to_string()),
                ("name", "EMEA".to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tag = tags::list(&app.services, &w.owner, w.ws).await.unwrap()[0].id;
    let r = b
        .call(
            "/api/tags/add_tenant",
            &[
                ("tenant", w.tenants[1].to_string()),
                ("tag", tag.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let all = b.get("/admin/tenants").await.body;
    let tagged = b.get(&format!("/admin/tenants?tag={tag}")).await.body;
    assert!(
        all.contains("Tenant 0") && all.contains("Fabrikam"),
        "{all}"
    );
    assert!(tagged.contains("Tenant 0"), "{tagged}");
    let row = |t: TenantId| format!("href=\"/admin/t/{t}\"");
    assert!(tagged.contains(&row(w.tenants[1])));
    assert!(
        !tagged.contains(&row(w.tenants[0])),
        "filtered out: {tagged}"
    );
    assert!(all.contains(&row(w.tenants[0])));
    // Another workspace's tag names nothing here: 404 on the list's filter
    // and as a schedule's target, like a tag that does not exist at all.
    let (other_actor, other_ws) = app.owner_of("elsewhere@example.com", "Elsewhere").await;
    let foreign = tags::create(&app.services, &other_actor, other_ws, "Theirs")
        .await
        .unwrap();
    for path in [
        format!("/admin/tenants?tag={foreign}"),
        "/admin/tenants?tag=999999".to_string(),
        "/admin/tenants?tag=abc".to_string(),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(!r.body.contains("Theirs"), "{path}");
    }
    let mut foreign_target = fields("30 6 * * 1-5");
    foreign_target[3].1 = format!("tag:{foreign}");
    let r = b.call("/api/schedules/create", &foreign_target).await;
    assert_eq!(r.status, 404, "{}", r.body);

    // A fire's counts link to the hub filtered to it; the hub filters by tag.
    app.clock.set_ms(T0 + 24 * 60 * MINUTE);
    // A day later the session has expired: sign in again.
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);
    let r = b
        .call(
            "/api/schedules/create",
            &[
                ("workspace", w.ws.to_string()),
                ("name", "Tagged".to_string()),
                ("op_type", "inventory_sync".to_string()),
                ("target", format!("tag:{tag}")),
                ("cron", "0 * * * *".to_string()),
                ("time_zone", "UTC".to_string()),
                ("spread_seconds", "0".to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.clock.set_ms(T0 + 24 * 60 * MINUTE + 10 * MINUTE);
    assert_eq!(
        service::fire_due(app.services.clone()).await.unwrap(),
        0,
        "paused one stays quiet"
    );
    app.clock.set_ms(T0 + 25 * 60 * MINUTE);
    assert_eq!(service::fire_due(app.services.clone()).await.unwrap(), 1);
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);
    let fire = fires(&app).await[0].0;
    let page = b.get("/admin/schedules").await.body;
    let link = format!("/admin/operations?initiator=schedule&amp;fire={fire}");
    assert!(page.contains(&link), "{page}");
    // A run outside the fire and the tag, so the filters have something to leave out.
    domain::runs::gate::StartGate::start(
        &app.services,
        domain::runs::gate::Initiator::User(&w.owner),
        domain::runs::gate::StartRequest {
            tenant: w.tenants[0],
            op_type: domain::provider::INVENTORY_SYNC,
            connection: None,
            args: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    let hub = b.get("/admin/operations").await;
    assert!(hub.body.contains("data-count=\"2\""), "{}", hub.body);
    let hub = b.get(&format!("/admin/operations?fire={fire}")).await;
    assert_eq!(hub.status, 200);
    assert!(hub.body.contains("data-count=\"1\""), "{}", hub.body);
    let hub = b.get(&format!("/admin/operations?tag={tag}")).await;
    assert_eq!(hub.status, 200);
    assert!(hub.body.contains("data-count=\"1\""), "{}", hub.body);
    assert_eq!(b.get("/admin/operations?tag=987654").await.status, 404);
}
