//! Monitoring tells the same truth everywhere: for a seeded mix of runs, every
//! summary number on every surface equals the hub's count for the same filter,
//! and both equal an independent count made in Rust with the shared
//! `RunTruth` derivations (so the SQL translation of "looks stuck" cannot
//! drift from the rule the presenter labels with).

use crate::both_backends;
use crate::common::{Backend, T0, TestApp, spawn_app};
use domain::access::Actor;
use domain::ids::{RunId, TenantId, WorkspaceId};
use domain::rbac::Role;
use domain::runs::filter::{HubQuery, InitiatorFilter, Kpi, Range, RunFilter, Tab};
use domain::runs::monitoring;
use domain::runs::views::{RunSummary, SystemRunList};
use domain::runs::{OperationType, ProblemClass, RunOutcome, RunStatus, RunTruth};
use std::collections::BTreeSet;

const DAY: i64 = 86_400_000;

/// One seeded run as the test knows it (independently of the queries).
#[derive(Debug, Clone)]
struct Seeded {
    id: i64,
    workspace: WorkspaceId,
    tenant: Option<TenantId>,
    initiator: InitiatorFilter,
    truth: RunTruth,
    completed_at: Option<i64>,
}

/// How long seeded runs take from start to end: one in each duration bucket
/// of the system plane's chart, in turn.
const SEEDED_DURATIONS: [i64; 6] = [1_500, 30_000, 120_000, 600_000, 1_800_000, 5_400_000];

/// What a viewer may see: a workspace and, for assigned roles, some tenants.
struct View {
    workspace: Option<WorkspaceId>,
    tenants: Option<Vec<TenantId>>,
}

fn matches(r: &Seeded, view: &View, f: &RunFilter, now: i64) -> bool {
    if let Some(ws) = view.workspace
        && r.workspace != ws
    {
        return false;
    }
    // Assigned roles see their tenants' runs and the workspace's own
    // (tenantless) runs, like the run page does.
    if let Some(visible) = &view.tenants
        && r.tenant.is_some_and(|t| !visible.contains(&t))
    {
        return false;
    }
    let t = &r.truth;
    let tab = match f.tab {
        Tab::All => true,
        Tab::Active => t.is_active(),
        Tab::FollowUp => t.problem_class(now) == Some(ProblemClass::TerminalFollowUp),
        Tab::Stale => t.problem_class(now) == Some(ProblemClass::ActiveStaleAttention),
    };
    tab && f.status.is_none_or(|s| s == t.status)
        && f.outcome.is_none_or(|o| o == t.outcome)
        && f.op_type.is_none_or(|o| o == t.op_type)
        && f.tenant.is_none_or(|x| r.tenant == Some(x))
        && f.initiator.is_none_or(|i| i == r.initiator)
        && f.range.is_none_or(|g| t.created_at >= now - g.millis())
}

fn expected(all: &[Seeded], view: &View, f: &RunFilter) -> i64 {
    all.iter().filter(|r| matches(r, view, f, T0)).count() as i64
}

/// A small deterministic generator (no shared state between backends).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

struct World {
    owner: Actor,
    operator: Actor,
    platform: Actor,
    ws_a: WorkspaceId,
    tenants: Vec<TenantId>,
    assigned: Vec<TenantId>,
    runs: Vec<Seeded>,
}

async fn seed(app: &TestApp) -> World {
    let svc = &app.services;
    let owner_id = app.create_user("owner@example.com", false).await;
    let operator_id = app.create_user("operator@example.com", false).await;
    let other_id = app.create_user("other@example.com", false).await;
    let platform_id = app.create_user("platform@example.com", true).await;
    let owner = app.actor(owner_id, "owner@example.com");
    let operator = app.actor(operator_id, "operator@example.com");
    let other = app.actor(other_id, "other@example.com");
    let mut platform = app.actor(platform_id, "platform@example.com");
    platform.is_platform_operator = true;
    let ws_a = domain::workspaces::create(svc, &owner, "MSP A")
        .await
        .unwrap();
    let ws_b = domain::workspaces::create(svc, &other, "MSP B")
        .await
        .unwrap();
    domain::workspaces::add_member_directly(
        svc,
        &owner,
        ws_a,
        "operator@example.com",
        Role::Operator,
    )
    .await
    .unwrap();
    let mut tenants = Vec::new();
    for (i, name) in ["Contoso", "Fabrikam", "Northwind"].iter().enumerate() {
        tenants.push(
            domain::tenants::create(
                svc,
                &owner,
                ws_a,
                name,
                &format!("aaaaaaaa-0000-0000-0000-00000000000{i}"),
            )
            .await
            .unwrap(),
        );
    }
    let tenant_b = domain::tenants::create(
        svc,
        &other,
        ws_b,
        "Elsewhere",
        "bbbbbbbb-0000-0000-0000-000000000009",
    )
    .await
    .unwrap();
    let assigned = vec![tenants[0], tenants[2]];
    for t in &assigned {
        domain::tenants::set_assignment(svc, &owner, *t, operator_id, true)
            .await
            .unwrap();
    }

    let types: Vec<OperationType> = domain::operations::ALL
        .iter()
        .copied()
        .filter(|t| !t.spec().test_only)
        .collect();
    let outcomes = [
        RunOutcome::Succeeded,
        RunOutcome::PartiallySucceeded,
        RunOutcome::Failed,
        RunOutcome::Blocked,
        RunOutcome::Cancelled,
    ];
    let mut rng = Lcg(42);
    let mut runs = Vec::new();
    for i in 0..260 {
        let (workspace, tenant) = match i % 13 {
            12 => (ws_b, Some(tenant_b)),
            11 => (ws_a, None),
            n => (ws_a, Some(tenants[(n % 3) as usize])),
        };
        let op_type = types[rng.next(types.len() as u64) as usize];
        let age = match rng.next(4) {
            0 => rng.next(60) as i64 * 1000,    // the last minute
            1 => rng.next(3_600) as i64 * 1000, // the last hour
            2 => rng.next(8) as i64 * DAY + rng.next(DAY as u64) as i64,
            _ => rng.next(40) as i64 * DAY + rng.next(DAY as u64) as i64,
        };
        let created_at = T0 - age;
        let status = match rng.next(10) {
            0 => RunStatus::Queued,
            1 | 2 => RunStatus::Running,
            _ => RunStatus::Completed,
        };
        let outcome = if status == RunStatus::Completed {
            outcomes[rng.next(5) as usize]
        } else {
            RunOutcome::Pending
        };
        let started_at = (status != RunStatus::Queued).then(|| created_at + 500);
        // Some running runs lost their lease; the rest hold one into the future.
        let lease = (status == RunStatus::Running).then(|| {
            if rng.next(3) == 0 {
                T0 - 1_000
            } else {
                T0 + 60_000
            }
        });
        let reconciled = outcome == RunOutcome::Failed && rng.next(3) == 0;
        let initiator = match rng.next(4) {
            0 => InitiatorFilter::User(owner_id),
            1 => InitiatorFilter::User(operator_id),
            2 => InitiatorFilter::Schedule,
            _ => InitiatorFilter::System,
        };
        let (kind, user) = match initiator {
            InitiatorFilter::User(u) => ("user", Some(u.0)),
            InitiatorFilter::Schedule => ("schedule", None),
            InitiatorFilter::System => ("system", None),
        };
        let reconciliation = reconciled.then(|| {
            serde_json::json!({
                "seen_at": created_at + 1_000, "status_seen": "running", "lease_owner": "worker-1",
                "lease_expired_at": created_at + 900, "last_heartbeat_at": created_at + 600,
                "attempts": 1, "action": "failed",
                "why": "The worker stopped renewing its lease and the run was out of attempts."
            })
            .to_string()
        });
        let completed_at = (status == RunStatus::Completed)
            .then(|| created_at + 500 + SEEDED_DURATIONS[i as usize % SEEDED_DURATIONS.len()]);
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
                initiator_user_id, scope_key, context, created_at, started_at, completed_at, available_at,
                attempts, lease_expires_at, reconciliation, reason_code)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}', $9, $10, $11, $9, 1, $12, $13, $14) RETURNING id",
        )
        .bind(workspace.0)
        .bind(tenant.map(|t| t.0))
        .bind(op_type.as_str())
        .bind(status.as_str())
        .bind(outcome.as_str())
        .bind(kind)
        .bind(user)
        .bind(format!("seed:{i}"))
        .bind(created_at)
        .bind(started_at)
        .bind(completed_at)
        .bind(lease)
        .bind(reconciliation)
        .bind(reconciled.then_some("lease_expired"))
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap();
        runs.push(Seeded {
            id,
            workspace,
            tenant,
            initiator,
            truth: RunTruth {
                op_type,
                status,
                outcome,
                created_at,
                started_at,
                lease_expires_at: lease,
                reconciled,
            },
            completed_at,
        });
    }
    World {
        owner,
        operator,
        platform,
        ws_a,
        tenants,
        assigned,
        runs,
    }
}

/// Every filter the test tries: each tab alone and with each other filter.
fn filters(w: &World) -> Vec<RunFilter> {
    let mut out = Vec::new();
    for tab in Tab::ALL {
        let base = RunFilter::tab(tab);
        out.push(base);
        for s in RunStatus::ALL {
            out.push(RunFilter {
                status: Some(*s),
                ..base
            });
        }
        for o in RunOutcome::ALL {
            out.push(RunFilter {
                outcome: Some(*o),
                ..base
            });
        }
        for t in [
            domain::provider::INVENTORY_SYNC,
            domain::provider::TENANT_VERIFICATION,
        ] {
            out.push(RunFilter {
                op_type: Some(t),
                ..base
            });
        }
        for t in &w.assigned {
            out.push(base.for_tenant(Some(*t)));
        }
        for i in [
            InitiatorFilter::User(w.owner.user_id),
            InitiatorFilter::Schedule,
            InitiatorFilter::System,
        ] {
            out.push(RunFilter {
                initiator: Some(i),
                ..base
            });
        }
        for r in Range::ALL {
            out.push(RunFilter {
                range: Some(r),
                ..base
            });
        }
    }
    for k in Kpi::ALL {
        out.push(k.filter(None));
    }
    out
}

/// The hub's count for a link's query, and every page of it walked by keyset.
async fn hub_count_and_walk(app: &TestApp, actor: &Actor, link: &str) -> (i64, Vec<i64>) {
    let query = link.split_once('?').map(|(_, q)| q).unwrap_or("");
    let first = monitoring::hub(&app.services, actor, query)
        .await
        .unwrap()
        .unwrap();
    let count = first.count.value;
    let mut ids: Vec<i64> = first.runs.iter().map(|r| r.id.0).collect();
    let mut next = first.next;
    while let Some(q) = next {
        let page = monitoring::hub(&app.services, actor, &q)
            .await
            .unwrap()
            .unwrap();
        ids.extend(page.runs.iter().map(|r| r.id.0));
        next = page.next;
    }
    (count, ids)
}

async fn check_summary(app: &TestApp, actor: &Actor, all: &[Seeded], view: &View, s: &RunSummary) {
    for tile in &s.tiles {
        let parsed = HubQuery::parse(tile.link.split_once('?').map(|x| x.1).unwrap_or(""))
            .unwrap()
            .filter;
        let (hub, _) = hub_count_and_walk(app, actor, &tile.link).await;
        assert_eq!(tile.count.value, hub, "{:?} tile vs hub", tile.kpi);
        assert_eq!(
            hub,
            expected(all, view, &parsed),
            "{:?} hub vs truth",
            tile.kpi
        );
    }
    for list in s.attention.iter().chain(std::iter::once(&s.recent)) {
        let (hub, ids) = hub_count_and_walk(app, actor, &list.link).await;
        assert_eq!(list.count.value, hub, "{} list vs hub", list.title);
        let shown: Vec<i64> = list.runs.iter().map(|r| r.id.0).collect();
        assert_eq!(
            shown,
            ids[..shown.len()].to_vec(),
            "{}: the short list is the hub's first rows",
            list.title
        );
    }
}

async fn every_surface_tells_the_same_numbers(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = seed(&app).await;
    let svc = &app.services;
    let owner_view = View {
        workspace: Some(w.ws_a),
        tenants: None,
    };
    let operator_view = View {
        workspace: Some(w.ws_a),
        tenants: Some(w.assigned.clone()),
    };
    // The mix really covers every class.
    for tab in [Tab::Active, Tab::FollowUp, Tab::Stale] {
        assert!(
            expected(&w.runs, &owner_view, &RunFilter::tab(tab)) > 0,
            "{tab:?}"
        );
    }

    for (actor, view) in [(&w.owner, &owner_view), (&w.operator, &operator_view)] {
        // The hub, for every filter: count = truth, pages = exactly the matches.
        for f in filters(&w) {
            if let Some(t) = f.tenant
                && view.tenants.as_ref().is_some_and(|v| !v.contains(&t))
            {
                continue;
            }
            let (count, ids) = hub_count_and_walk(&app, actor, &f.hub_link()).await;
            let want: Vec<i64> = {
                let mut m: Vec<&Seeded> =
                    w.runs.iter().filter(|r| matches(r, view, &f, T0)).collect();
                m.sort_by_key(|r| std::cmp::Reverse((r.truth.created_at, r.id)));
                m.iter().map(|r| r.id).collect()
            };
            assert_eq!(count, want.len() as i64, "count for {}", f.hub_link());
            assert_eq!(ids, want, "rows for {}", f.hub_link());
        }
        // The workspace overview.
        let overview = monitoring::workspace_summary(svc, actor)
            .await
            .unwrap()
            .unwrap();
        check_summary(&app, actor, &w.runs, view, &overview).await;
        // Each tenant dashboard the actor may open.
        for t in &w.tenants {
            let visible = view.tenants.as_ref().is_none_or(|v| v.contains(t));
            match monitoring::tenant_summary(svc, actor, *t).await {
                Ok(s) => {
                    assert!(visible);
                    check_summary(&app, actor, &w.runs, view, &s).await;
                }
                Err(e) => {
                    assert!(!visible);
                    assert_eq!(e, domain::AppError::NotFound);
                }
            }
        }
        // The overlay counts the active tab.
        let overlay = monitoring::active_runs(svc, actor).await.unwrap();
        assert_eq!(
            overlay.total,
            expected(&w.runs, view, &RunFilter::tab(Tab::Active))
        );
        assert!(overlay.runs.iter().all(|r| r.headline.moving));
    }

    // An operator may not filter by a tenant they cannot see: 404, not an empty list.
    let hidden = w.tenants[1];
    assert_eq!(
        monitoring::hub(svc, &w.operator, &format!("tenant={hidden}"))
            .await
            .err(),
        Some(domain::AppError::NotFound)
    );

    // The system plane: every workspace, same rules.
    let everything = View {
        workspace: None,
        tenants: None,
    };
    for (list, tab) in [
        (SystemRunList::All, Tab::All),
        (SystemRunList::Failures, Tab::FollowUp),
        (SystemRunList::Stuck, Tab::Stale),
    ] {
        let page = monitoring::system_runs(svc, &w.platform, list, "")
            .await
            .unwrap();
        assert_eq!(
            page.count.value,
            expected(&w.runs, &everything, &RunFilter::tab(tab)),
            "{list:?}"
        );
        assert!(
            monitoring::system_runs(svc, &w.owner, list, "")
                .await
                .is_err()
        );
    }

    // The pages render the same numbers the domain returned.
    let b = app.browser();
    assert_eq!(b.sign_in("operator@example.com").await.status, 200);
    let overview = monitoring::workspace_summary(svc, &w.operator)
        .await
        .unwrap()
        .unwrap();
    let html = b.get("/admin").await.body;
    for tile in &overview.tiles {
        assert!(
            html.contains(&format!(
                "href=\"{}\" data-kpi=\"{:?}\" data-count=\"{}\"",
                tile.link.replace('&', "&amp;"),
                tile.kpi,
                tile.count.value
            )),
            "overview tile {:?} with {} runs",
            tile.kpi,
            tile.count.value
        );
        let hub = b.get(&tile.link).await.body;
        assert!(
            hub.contains(&format!("data-count=\"{}\"", tile.count.value)),
            "hub page for {}",
            tile.link
        );
    }
    // Other workspaces' runs never show on admin pages.
    let foreign: BTreeSet<i64> = w
        .runs
        .iter()
        .filter(|r| r.workspace != w.ws_a)
        .map(|r| r.id)
        .collect();
    let all_pages = hub_count_and_walk(&app, &w.owner, "/admin/operations")
        .await
        .1;
    assert!(all_pages.iter().all(|id| !foreign.contains(id)));
}

async fn reconciled_runs_keep_their_stale_lineage(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = seed(&app).await;
    let reconciled = w
        .runs
        .iter()
        .find(|r| r.truth.reconciled)
        .expect("the seed has a reconciled run");
    let (_, b) = app.user_browser("platform2@example.com", true).await;
    let page = b.get(&format!("/system/ops/runs/{}", reconciled.id)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Failed after going stale"), "headline");
    assert!(page.body.contains("data-testid=\"run-lineage\""), "lineage");
    assert!(page.body.contains("The worker stopped renewing its lease"));
    // It is listed under failures with its lineage badge, and not as stuck.
    let mut query = String::new();
    let mut found = false;
    loop {
        let page =
            monitoring::system_runs(&app.services, &w.platform, SystemRunList::Failures, &query)
                .await
                .unwrap();
        if let Some(row) = page.runs.iter().find(|r| r.id == RunId(reconciled.id)) {
            assert!(row.reconciled_lineage);
            assert_eq!(row.headline.label, "Failed after going stale");
            let html = b.get(&format!("/system/ops/failures?{query}")).await.body;
            assert!(html.contains(&format!("data-run=\"{}\"", reconciled.id)));
            assert!(html.contains("went stale"));
            found = true;
            break;
        }
        match page.next {
            Some(q) => query = q,
            None => break,
        }
    }
    assert!(found, "the reconciled run is among the failures");
    let stuck = monitoring::system_runs(&app.services, &w.platform, SystemRunList::Stuck, "")
        .await
        .unwrap();
    assert!(stuck.runs.iter().all(|r| r.id != RunId(reconciled.id)));
    // Members never reach the system plane.
    let (_, member) = app.user_browser("member@example.com", false).await;
    assert_eq!(
        member
            .get(&format!("/system/ops/runs/{}", reconciled.id))
            .await
            .status,
        404
    );
}

async fn the_poll_reads_one_run_and_stops_mattering_at_the_end(backend: Backend) {
    use domain::runs::presenter::poll_delay_ms;
    let app = spawn_app(backend).await;
    let w = seed(&app).await;
    let svc = &app.services;
    let active = w
        .runs
        .iter()
        .find(|r| r.truth.is_active() && r.tenant == Some(w.assigned[0]))
        .expect("an active run on an assigned tenant");
    let pulse = monitoring::pulse(svc, &w.operator, RunId(active.id))
        .await
        .unwrap();
    assert_eq!(pulse.truth, active.truth);
    assert!(poll_delay_ms(&pulse.truth, pulse.now).is_some());
    let page = domain::runs::service::RunService::page(svc, &w.operator, RunId(active.id))
        .await
        .unwrap();
    assert_eq!(pulse.headline, page.headline, "same presenter words");
    let done = w
        .runs
        .iter()
        .find(|r| !r.truth.is_active() && r.tenant == Some(w.assigned[0]))
        .unwrap();
    let pulse = monitoring::pulse(svc, &w.operator, RunId(done.id))
        .await
        .unwrap();
    assert_eq!(poll_delay_ms(&pulse.truth, pulse.now), None);
    // An unassigned tenant's run and another workspace's run are not there.
    for r in w
        .runs
        .iter()
        .filter(|r| r.workspace != w.ws_a || r.tenant.is_some_and(|t| !w.assigned.contains(&t)))
    {
        assert_eq!(
            monitoring::pulse(svc, &w.operator, RunId(r.id)).await.err(),
            Some(domain::AppError::NotFound),
            "run {}",
            r.id
        );
    }
}

/// Runs that ended per local day by outcome, counted in Rust from what the
/// test seeded: the days are the reader's (`bounds`), the runs those `view`
/// may see matching the scope of `f`.
fn expected_days(all: &[Seeded], view: &View, f: &RunFilter, bounds: &[i64]) -> Vec<[i64; 5]> {
    let mut days = vec![[0i64; 5]; bounds.len() - 1];
    for r in all {
        let Some(ended) = r.completed_at else {
            continue;
        };
        if !matches(r, view, f, T0) {
            continue;
        }
        let Some(d) = bounds
            .windows(2)
            .position(|b| b[0] <= ended && ended < b[1])
        else {
            continue;
        };
        let Some(slot) = domain::runs::views::ENDED_OUTCOMES
            .iter()
            .position(|o| *o == r.truth.outcome)
        else {
            continue;
        };
        days[d][slot] += 1;
    }
    days
}

/// The run charts count what the lists count: per day in the reader's zone
/// (Tokyo cuts its days nine hours before UTC), by outcome, only the runs the
/// reader may see, on the hub (with its scope filters), the overview, the
/// tenant page and the fleet page; the system plane's durations per type
/// come out of the seeded start and end times.
async fn the_charts_count_what_the_lists_count(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = seed(&app).await;
    let svc = &app.services;
    let owner_view = View {
        workspace: Some(w.ws_a),
        tenants: None,
    };
    let operator_view = View {
        workspace: Some(w.ws_a),
        tenants: Some(w.assigned.clone()),
    };
    let mut tokyo = w.operator.clone();
    tokyo.time_zone = Some("Asia/Tokyo".into());
    let tokyo_rules = domain::zones::rules(Some("Asia/Tokyo"), T0);
    let utc_bounds = domain::runs::trends::local_midnights(None, T0, 30);
    let tokyo_bounds = domain::runs::trends::local_midnights(tokyo_rules.as_ref(), T0, 30);
    assert_eq!(tokyo_bounds[30] - utc_bounds[30], -9 * 3_600_000);
    let counts = |t: &domain::runs::views::RunsPerDay| -> Vec<[i64; 5]> {
        t.days.iter().map(|(_, c)| *c).collect()
    };
    let mut charted = 0;
    for (actor, view, bounds) in [
        (&w.owner, &owner_view, &utc_bounds),
        (&w.operator, &operator_view, &utc_bounds),
        (&tokyo, &operator_view, &tokyo_bounds),
    ] {
        let all = expected_days(&w.runs, view, &RunFilter::default(), bounds);
        charted += all.iter().flatten().sum::<i64>();
        // Two readers at once: the first fills the workspace's closed
        // quarter hours, neither counts a run twice.
        let (one, two) = tokio::join!(
            monitoring::workspace_summary(svc, actor),
            monitoring::workspace_summary(svc, actor)
        );
        assert_eq!(counts(&one.unwrap().unwrap().trend), all);
        assert_eq!(counts(&two.unwrap().unwrap().trend), all);
        let summary = monitoring::workspace_summary(svc, actor)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(counts(&summary.trend), all, "overview for {}", actor.email);
        assert_eq!(summary.trend.days.len(), 30);
        // The live island's refresh: the same numbers, no chart read.
        let refresh =
            monitoring::workspace_summary_for(svc, actor, monitoring::SummaryFor::Refresh)
                .await
                .unwrap()
                .unwrap();
        assert!(refresh.trend.days.is_empty());
        assert_eq!(
            (&refresh.tiles, &refresh.attention, &refresh.recent),
            (&summary.tiles, &summary.attention, &summary.recent)
        );
        let fleet = domain::fleet::page(svc, actor, "").await.unwrap().unwrap();
        assert_eq!(counts(&fleet.runs_by_day), all, "fleet for {}", actor.email);
        assert_eq!(
            fleet.days,
            summary
                .trend
                .days
                .iter()
                .map(|(d, _)| d.clone())
                .collect::<Vec<_>>()
        );
        for t in &w.assigned {
            let f = RunFilter::default().for_tenant(Some(*t));
            let want = expected_days(&w.runs, view, &f, bounds);
            let tenant = monitoring::tenant_summary(svc, actor, *t).await.unwrap();
            assert_eq!(counts(&tenant.trend), want, "tenant page");
            let refresh =
                monitoring::tenant_summary_for(svc, actor, *t, monitoring::SummaryFor::Refresh)
                    .await
                    .unwrap();
            assert!(refresh.trend.days.is_empty());
            assert_eq!(refresh.tiles, tenant.tiles);
            // The hub's chart follows the scope filters, not the tab.
            let link = RunFilter::tab(Tab::FollowUp)
                .for_tenant(Some(*t))
                .hub_link();
            let hub = monitoring::hub(svc, actor, link.split_once('?').unwrap().1)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(counts(&hub.trend), want, "hub for a tenant");
        }
        let f = RunFilter {
            op_type: Some(domain::provider::INVENTORY_SYNC),
            initiator: Some(InitiatorFilter::System),
            ..RunFilter::default()
        };
        let hub = monitoring::hub(svc, actor, f.hub_link().split_once('?').unwrap().1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            counts(&hub.trend),
            expected_days(&w.runs, view, &f, bounds),
            "hub by type"
        );
    }
    assert!(
        charted > 50,
        "the seed ends enough runs in 30 days: {charted}"
    );
    // The pages draw them: an image named by its numbers, a legend in
    // words, and the same numbers as a table (one row a day).
    let owner_total: i64 = expected_days(&w.runs, &owner_view, &RunFilter::default(), &utc_bounds)
        .iter()
        .flatten()
        .sum();
    let browser = app.browser();
    assert_eq!(browser.sign_in("owner@example.com").await.status, 200);
    for path in ["/admin", "/admin/operations", "/admin/fleet"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        let body = &page.body;
        assert!(
            body.contains(&format!(
                "data-testid=\"runs-chart\" data-total=\"{owner_total}\""
            )),
            "{path}: the chart with {owner_total} runs"
        );
        assert!(
            body.contains(&format!(
                "role=\"img\" aria-label=\"Runs that ended per day, last 30 days: {} runs in 30 days (",
                domain::views::thousands(owner_total)
            )) || body.contains(&format!(
                "role=\"img\" aria-label=\"Runs that ended per day across the fleet, last 30 days: {} runs in 30 days (",
                domain::views::thousands(owner_total)
            )),
            "{path}: the chart is named by its numbers"
        );
        assert!(
            body.contains("<summary>Show the numbers</summary>"),
            "{path}"
        );
        let legend = body
            .find("class=\"chart-legend\"")
            .map(|i| &body[i..i + body[i..].find("</ul>").unwrap()]);
        assert!(
            legend.is_some_and(|l| l.contains("class=\"chart-failed\"") && l.contains("Failed")),
            "{path}: a legend in words {legend:?}"
        );
        let table = &body[body.find("<summary>Show the numbers</summary>").unwrap()..];
        let table = &table[..table.find("</table>").unwrap()];
        assert_eq!(
            table.matches("<th scope=\"row\">").count(),
            30,
            "{path}: a row a day"
        );
    }
    let system = app.browser();
    assert_eq!(system.sign_in("platform@example.com").await.status, 200);
    let page = system.get("/system/ops/runs").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("How long operations took, last 30 days"));
    assert!(page.body.contains("class=\"duration-bar\""));

    // A run that ends now counts once, first from the runs, then (its
    // quarter hour closed) from the workspace's counts. (It never started:
    // the durations below leave it out.)
    let before = monitoring::workspace_summary(svc, &w.owner)
        .await
        .unwrap()
        .unwrap()
        .trend;
    let (run,): (i64,) = sqlx::query_as(
        "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key,
            context, created_at, started_at, completed_at, available_at, attempts)
         VALUES ($1, $2, 'inventory_sync', 'completed', 'failed', 'system', 'late', '{}', $3, NULL, $3, $3, 1) RETURNING id",
    )
    .bind(w.ws_a.0)
    .bind(w.tenants[1].0)
    .bind(T0 - 5 * 60_000)
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    let failed =
        |t: &domain::runs::views::RunsPerDay| -> i64 { t.days.iter().map(|(_, c)| c[2]).sum() };
    let after = monitoring::workspace_summary(svc, &w.owner)
        .await
        .unwrap()
        .unwrap()
        .trend;
    assert_eq!(
        failed(&after),
        failed(&before) + 1,
        "run {run} counted from the runs"
    );
    app.clock.advance_ms(30 * 60_000);
    let later = monitoring::workspace_summary(svc, &w.owner)
        .await
        .unwrap()
        .unwrap()
        .trend;
    assert_eq!(
        failed(&later),
        failed(&before) + 1,
        "and once its quarter hour is closed"
    );
    let (filled,): (i64,) = sqlx::query_as(
        "SELECT filled_until FROM run_rollup_marks WHERE kind = 'ended_quarters' AND workspace_id = $1",
    )
    .bind(w.ws_a.0)
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    assert_eq!(filled, T0 + 15 * 60_000);
    app.clock.advance_ms(-30 * 60_000);

    // Today is the last day, named in the reader's zone.
    let tokyo_summary = monitoring::workspace_summary(svc, &tokyo)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tokyo_summary.trend.days[29].0, "2026-01-01");
    assert_eq!(tokyo_summary.trend.days[0].0, "2025-12-03");

    // Durations: every workspace, the runs that started and ended within 30 days.
    let page = monitoring::system_runs(svc, &w.platform, SystemRunList::All, "")
        .await
        .unwrap();
    let spread = page
        .durations
        .expect("the first page of all runs has the chart");
    let mut want: std::collections::BTreeMap<&str, [i64; 6]> = Default::default();
    for r in &w.runs {
        let (Some(ended), Some(started)) = (r.completed_at, r.truth.started_at) else {
            continue;
        };
        // The last 30 UTC days, today included.
        if ended < T0.div_euclid(DAY) * DAY - 29 * DAY {
            continue;
        }
        let took = ended - started;
        let b = domain::runs::views::DURATION_BUCKETS
            .iter()
            .position(|(upper, _)| took < *upper)
            .unwrap();
        want.entry(r.truth.op_type.label()).or_default()[b] += 1;
    }
    let got: std::collections::BTreeMap<&str, [i64; 6]> = spread
        .rows
        .iter()
        .map(|r| (r.operation.as_str(), r.counts))
        .collect();
    assert_eq!(got, want);
    assert!(spread.rows.windows(2).all(|p| p[0].total() >= p[1].total()));
    assert!(want.values().flatten().filter(|n| **n > 0).count() > 6);
    // Not on a later page, nor on the other lists; and not for anyone else.
    let failures = monitoring::system_runs(svc, &w.platform, SystemRunList::Failures, "")
        .await
        .unwrap();
    assert!(failures.durations.is_none());
    assert!(matches!(
        monitoring::system_runs(svc, &w.owner, SystemRunList::All, "").await,
        Err(domain::AppError::NotFound)
    ));
}

both_backends!(
    the_charts_count_what_the_lists_count,
    every_surface_tells_the_same_numbers,
    reconciled_runs_keep_their_stale_lineage,
    the_poll_reads_one_run_and_stops_mattering_at_the_end,
);
