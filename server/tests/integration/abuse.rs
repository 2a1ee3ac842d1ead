//! Abuse limits (#15 item 10): per-member limits on support requests, blocked
//! starts and review packs answer 429 with Retry-After and store nothing;
//! last-owner rules hold when two owners demote each other at once.

use crate::both_backends;
use crate::common::{Backend, spawn_app};
use domain::limits::AbuseLimits;
use domain::rbac::Role;
use domain::services::Settings;

fn tight() -> Settings {
    Settings {
        limits: AbuseLimits {
            window_ms: 60 * 60 * 1000,
            support_requests: 3,
            blocked_starts: 2,
            review_packs: 2,
            bulk_starts: 2,
            password_checks: 2,
        },
        ..Settings::default()
    }
}

async fn count(app: &crate::common::TestApp, sql: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap()
        .0
}

async fn members_are_limited_per_window(backend: Backend) {
    let app = crate::common::app(backend).settings(tight()).spawn().await;
    let w = crate::world::run_world(&app).await;
    // A tenant without a provider connection: every provider start is blocked.
    let bare = domain::tenants::create(
        &app.services,
        &w.owner,
        domain::access::current_workspace(&app.services, &w.owner)
            .await
            .unwrap()
            .map(|ws| ws.id)
            .unwrap_or(domain::ids::WorkspaceId(1)),
        "No connection",
        "99999999-9999-9999-9999-999999999999",
    )
    .await
    .unwrap();
    let b = app.browser();
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);

    // Support requests: 3 an hour, the 4th is 429 with Retry-After, not stored.
    let support = || {
        vec![
            ("tenant", w.tenant.to_string()),
            ("subject", "Sync keeps failing".to_string()),
            ("description", "Details.".to_string()),
            ("severity", "normal".to_string()),
        ]
    };
    for _ in 0..3 {
        assert_eq!(b.call("/api/support/request", &support()).await.status, 200);
    }
    let r = b.call("/api/support/request", &support()).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let retry: u64 = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=3600).contains(&retry), "{retry}");
    assert!(r.body.contains("too_many_requests"), "{}", r.body);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM support_requests").await,
        3
    );

    // Blocked starts: each records a run and an audit entry, so 2, then 429.
    let start = || {
        vec![
            ("tenant", bare.to_string()),
            ("op_type", "inventory_sync".to_string()),
        ]
    };
    for _ in 0..2 {
        let r = b.call("/api/operations/start", &start()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("blocked"), "{}", r.body);
    }
    let r = b.call("/api/operations/start", &start()).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM operation_runs WHERE outcome = 'blocked'"
        )
        .await,
        2
    );

    // Review packs: 2 generations, then 429 (a second is "already running",
    // still one of the two).
    let pack = || {
        vec![
            ("tenant", w.tenant.to_string()),
            ("section_inventory", "on".to_string()),
        ]
    };
    for _ in 0..2 {
        assert_eq!(
            b.call("/api/review-packs/generate", &pack()).await.status,
            200
        );
    }
    assert_eq!(
        b.call("/api/review-packs/generate", &pack()).await.status,
        429
    );
    // Another member has an allowance of their own; the window passes.
    app.clock.advance_ms(60 * 60 * 1000 + 1);
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);
    assert_eq!(b.call("/api/support/request", &support()).await.status, 200);
    // A readonly member is refused for their role (403), not limited (429).
    let ro = app.browser();
    assert_eq!(ro.sign_in("readonly@example.com").await.status, 200);
    for _ in 0..4 {
        assert_eq!(
            ro.call("/api/review-packs/generate", &pack()).await.status,
            403
        );
    }
}

both_backends!(members_are_limited_per_window);

/// Two owners demote each other at the same moment, many times over: the
/// workspace always keeps an owner (one change wins, the other is 409).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_demotions_keep_an_owner_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let a = app.create_user("a@example.com", false).await;
    let b = app.create_user("b@example.com", false).await;
    let actor_a = app.actor(a, "a@example.com");
    let actor_b = app.actor(b, "b@example.com");
    let ws = domain::workspaces::create(&app.services, &actor_a, "Acme MSP")
        .await
        .unwrap();
    domain::workspaces::add_member_directly(
        &app.services,
        &actor_a,
        ws,
        "b@example.com",
        Role::Owner,
    )
    .await
    .unwrap();
    let mut conflicts = 0;
    for round in 0..25 {
        let svc1 = app.services.clone();
        let svc2 = app.services.clone();
        let (x, y) = (actor_a.clone(), actor_b.clone());
        let one = tokio::spawn(async move {
            domain::workspaces::change_role(&svc1, &x, ws, b, Role::Manager).await
        });
        let two = tokio::spawn(async move {
            domain::workspaces::change_role(&svc2, &y, ws, a, Role::Manager).await
        });
        let (r1, r2) = (one.await.unwrap(), two.await.unwrap());
        let owners = count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM memberships WHERE workspace_id = {ws} AND role = 'owner'"
            ),
        )
        .await;
        assert!(owners >= 1, "round {round}: no owner left ({r1:?}, {r2:?})");
        conflicts += [r1, r2].iter().filter(|r| r.is_err()).count();
        // Both owners again for the next round.
        sqlx::query("UPDATE memberships SET role = 'owner' WHERE workspace_id = $1")
            .bind(ws.0)
            .execute(app.services.store.unguarded_pool())
            .await
            .unwrap();
    }
    assert!(conflicts >= 25, "one of each pair is refused: {conflicts}");
}
