//! `tenantry bench pages`: every page route the console serves, end to end
//! over HTTP on 127.0.0.1 (session, authorization, rendering, the database),
//! at 1,000 tenants and 1,000,000 runs with inventories, groups, compliance,
//! drift, a baseline, an alert, a schedule, a bulk start and an onboarding
//! draft. The routes come from the router itself (`generate_route_list`),
//! their parameters from what was seeded; a member page is read as the
//! workspace's owner, a system page as a platform operator, the sign-in
//! pages as a visitor. Sequential GETs, the whole body read; prints p50/p95
//! per route, slowest first, and the slowest five. Bounded in count.

use crate::bench::fresh;
use domain::store::Backend;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// `tenantry bench pages` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct PagesBenchOptions {
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    pub backend: String,
    #[arg(long, default_value_t = 1000)]
    pub tenants: usize,
    #[arg(long, default_value_t = 1_000_000)]
    pub runs: i64,
    /// Timed requests per route (after 3 warm-up requests).
    #[arg(long, default_value_t = 40)]
    pub samples: usize,
    /// Leave the seeded database behind (its URL is printed).
    #[arg(long)]
    pub keep_database: bool,
    /// Admin connection used to create and drop the benchmark database.
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

/// Who reads a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Owner,
    Platform,
    Visitor,
}

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// What the pages' parameters point at.
struct Seeded {
    params: BTreeMap<&'static str, String>,
}

/// The rest of a console's life beyond runs and provider data, through the
/// domain where it has a door (baseline rows and one failed run directly).
async fn seed_the_rest(f: &crate::bench::Fresh) -> Result<Seeded, String> {
    let svc = &f.svc;
    let owner = &f.owner;
    let pool = svc.store.unguarded_pool();
    let (ws,): (i64,) = sqlx::query_as("SELECT id FROM workspaces LIMIT 1")
        .fetch_one(pool)
        .await
        .map_err(e)?;
    let workspace = domain::ids::WorkspaceId(ws);
    let tenant = f.tenants.get(7).copied().unwrap_or(f.tenants[0]);
    let now = svc.now();
    // A platform operator for the system plane.
    let email = domain::validate::Email::parse("platform@tenantry.local").map_err(e)?;
    let password = domain::validate::NewPassword::parse("benchmark password").map_err(e)?;
    domain::accounts::create_user(svc, &email, &password, true)
        .await
        .map_err(e)?;
    // A schedule, a bulk start over the fleet, an onboarding draft, an invitation.
    domain::schedules::service::create(
        svc,
        owner,
        workspace,
        domain::schedules::service::ScheduleForm {
            name: "Nightly inventory".into(),
            op_type: "inventory_sync".into(),
            target: "all".into(),
            cron: "0 3 * * *".into(),
            time_zone: "UTC".into(),
            spread_seconds: "600".into(),
        },
    )
    .await
    .map_err(e)?;
    let bulk = domain::schedules::bulk::start(
        svc,
        owner,
        workspace,
        "role_definitions_sync",
        domain::schedules::bulk::Selection::Matching { tag: None },
    )
    .await
    .map_err(e)?;
    let draft = domain::onboarding::start(
        svc,
        owner,
        workspace,
        "Onboarding Contoso",
        "cccccccc-0000-4000-8000-000000000001",
    )
    .await
    .map_err(e)?;
    let invitation = domain::invitations::invite(
        svc,
        owner,
        workspace,
        "new.member@tenantry.local",
        domain::rbac::Role::Operator,
        &[],
    )
    .await
    .map_err(e)?;
    // A baseline of two policies assigned to every tenant, compared with one.
    let one = |sql: &'static str| sqlx::query_as::<_, (i64,)>(sql);
    let (baseline,) = one(
        "INSERT INTO baselines (workspace_id, name, search_name, current_version, changed_at, created_at)
         VALUES ($1, 'Standard', 'standard', 1, $2, $2) RETURNING id",
    )
    .bind(ws)
    .bind(now)
    .fetch_one(pool)
    .await
    .map_err(e)?;
    let (version,) = one(
        "INSERT INTO baseline_versions (baseline_id, version, template_name, note, created_at)
         VALUES ($1, 1, 'Template', 'Captured', $2) RETURNING id",
    )
    .bind(baseline)
    .bind(now)
    .fetch_one(pool)
    .await
    .map_err(e)?;
    for no in [1i64, 2] {
        sqlx::query(
            "INSERT INTO baseline_items (version_id, item_no, kind, display_name, settings, rules)
             VALUES ($1, $2, 'device_configuration', $3, '{\"a\":1}', '{}')",
        )
        .bind(version)
        .bind(no)
        .bind(format!("Policy {no}"))
        .execute(pool)
        .await
        .map_err(e)?;
    }
    sqlx::query(
        "INSERT INTO baseline_assignments (baseline_id, target_kind, created_at) VALUES ($1, 'all', $2)",
    )
    .bind(baseline)
    .bind(now)
    .execute(pool)
    .await
    .map_err(e)?;
    // An alert: a rule on any failure, one failed run with an end mark.
    let hook = domain::alerts::webhooks::create(
        svc,
        owner,
        workspace,
        "Hook",
        "https://hooks.example.com/t",
    )
    .await
    .map_err(e)?;
    domain::alerts::rules::create(
        svc,
        owner,
        workspace,
        domain::alerts::rules::RuleForm {
            name: "Any failure".into(),
            condition: "run_failures".into(),
            op_type: "any".into(),
            count: "1".into(),
            window_hours: "24".into(),
            scope: "all".into(),
            severity: "warning".into(),
            webhooks: vec![hook],
            ..Default::default()
        },
    )
    .await
    .map_err(e)?;
    sqlx::query(domain::runs::sql::ending!(
        svc.store.backend(),
        "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key, context,
            reason_code, created_at, available_at, completed_at, end_mark)
         VALUES ($1, $2, 'inventory_sync', 'completed', 'failed', 'schedule', 'bench-pages:alert', '{}', 'provider_unavailable', $3, $3, $3, ",
        ")"
    ))
    .bind(ws)
    .bind(tenant.0)
    .bind(now)
    .execute(pool)
    .await
    .map_err(e)?;
    domain::alerts::evaluate::catch_up(svc, Duration::from_secs(60))
        .await
        .map_err(e)?;
    let (alert,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM alerts")
        .fetch_one(pool)
        .await
        .map_err(e)?;
    // The invitation's link, as its mail carries it.
    let (sealed,): (String,) = sqlx::query_as("SELECT token_sealed FROM invitations WHERE id = $1")
        .bind(invitation.0)
        .fetch_one(pool)
        .await
        .map_err(e)?;
    let token = svc.secrets.open(&sealed).map_err(e)?;
    let (connection,): (i64,) =
        sqlx::query_as("SELECT id FROM provider_connections WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(pool)
            .await
            .map_err(e)?;
    let (run,): (i64,) = sqlx::query_as("SELECT MAX(id) / 2 FROM operation_runs")
        .fetch_one(pool)
        .await
        .map_err(e)?;
    let mut params = BTreeMap::new();
    params.insert("tenant", tenant.0.to_string());
    params.insert("run", run.to_string());
    params.insert("connection", connection.to_string());
    params.insert("baseline", baseline.to_string());
    if let Some(alert) = alert {
        params.insert("alert", alert.to_string());
    }
    params.insert("bulk", bulk.id.0.to_string());
    params.insert("draft", draft.0.to_string());
    params.insert("token", token.expose().to_string());
    Ok(Seeded { params })
}

/// `/admin/t/:tenant` → `/admin/t/8`; `None` when a parameter is unknown.
fn fill(route: &str, seeded: &Seeded) -> Option<String> {
    let mut out = String::new();
    for part in route.split('/').filter(|p| !p.is_empty()) {
        out.push('/');
        // The router spells a parameter `{name}` (Leptos's `:name` too).
        let name = part
            .strip_prefix(':')
            .or_else(|| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')));
        match name {
            Some(name) => out.push_str(seeded.params.get(name)?),
            None => out.push_str(part),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    // Bring in line asks which cells (tenant:item) in its query.
    if out.ends_with("/align") {
        let t = seeded.params.get("tenant")?;
        out.push_str(&format!("?cells={t}:1,{t}:2"));
    }
    Some(out)
}

fn reader_of(route: &str) -> Reader {
    if route.starts_with("/system") {
        Reader::Platform
    } else if route.starts_with("/admin") {
        Reader::Owner
    } else {
        Reader::Visitor
    }
}

/// One route's figures.
struct Figures {
    route: String,
    p50: f64,
    p95: f64,
    status: u16,
    bytes: usize,
}

async fn measure(
    client: &reqwest::Client,
    url: &str,
    samples: usize,
) -> Result<(Vec<f64>, u16, usize), String> {
    let mut times = Vec::with_capacity(samples);
    let mut status = 0;
    let mut bytes = 0;
    for i in 0..samples + 3 {
        let started = Instant::now();
        let res = client
            .get(url)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .map_err(e)?;
        status = res.status().as_u16();
        bytes = res.bytes().await.map_err(e)?.len();
        if i >= 3 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times, status, bytes))
}

pub async fn run(opts: PagesBenchOptions) -> Result<(), String> {
    let backend = match opts.backend.as_str() {
        "sqlite" => Backend::Sqlite,
        _ => Backend::Postgres,
    };
    let f = fresh(backend, opts.tenants, &opts.pg_admin_url, false).await?;
    let result = seed_and_measure(&opts, &f).await;
    if opts.keep_database {
        eprintln!("kept: {}", f.url());
    } else {
        f.cleanup().await;
    }
    result
}

async fn seed_and_measure(opts: &PagesBenchOptions, f: &crate::bench::Fresh) -> Result<(), String> {
    let svc = &f.svc;
    let seeding = Instant::now();
    let first = f.tenants.first().map(|t| t.0).unwrap_or(1);
    crate::bench_monitoring::seed(
        svc,
        opts.runs,
        first,
        opts.tenants as i64,
        f.owner.user_id.0,
        svc.now(),
    )
    .await?;
    crate::bench_fleet_page::seed(f).await?;
    crate::bench_search::seed_provider_data(svc).await?;
    let seeded = seed_the_rest(f).await?;
    crate::bench::settle(svc).await?;
    eprintln!(
        "{:?}: seeded in {:.1} s",
        backend_of(f),
        seeding.elapsed().as_secs_f64()
    );
    let (base, stop, server) = crate::bench_http::start_server(f, 16, 64).await?;
    let owner =
        crate::bench_http::signed_in_client(&base, "bench@tenantry.local", "benchmark password")
            .await?;
    let platform =
        crate::bench_http::signed_in_client(&base, "platform@tenantry.local", "benchmark password")
            .await?;
    let visitor = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(e)?;
    // The owner's current workspace is the seeded one (their only).
    let mut routes: Vec<String> = leptos_axum::generate_route_list(app::App)
        .into_iter()
        .map(|r| r.path().to_string())
        .collect();
    routes.sort();
    routes.dedup();
    let mut figures = Vec::new();
    let mut skipped = Vec::new();
    for route in &routes {
        let Some(path) = fill(route, &seeded) else {
            skipped.push(route.clone());
            continue;
        };
        let client = match reader_of(route) {
            Reader::Owner => &owner,
            Reader::Platform => &platform,
            Reader::Visitor => &visitor,
        };
        let (times, status, bytes) =
            measure(client, &format!("{base}{path}"), opts.samples.max(1)).await?;
        figures.push(Figures {
            route: route.clone(),
            p50: crate::bench::percentile(&times, 0.5),
            p95: crate::bench::percentile(&times, 0.95),
            status,
            bytes,
        });
    }
    let _ = stop.send(());
    let _ = server.await;
    figures.sort_by(|a, b| b.p95.total_cmp(&a.p95));
    println!(
        "tenantry bench pages: {:?}, {} tenants, {} runs; {} sequential GETs per route over HTTP on 127.0.0.1 (after 3 warm-up); ms",
        backend_of(f),
        opts.tenants,
        opts.runs,
        opts.samples
    );
    println!();
    println!("| route | status | kB | p50 ms | p95 ms |");
    println!("|---|---|---|---|---|");
    for r in &figures {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} |",
            r.route,
            r.status,
            r.bytes as f64 / 1000.0,
            r.p50,
            r.p95
        );
    }
    println!();
    println!(
        "slowest five by p95: {}",
        figures
            .iter()
            .take(5)
            .map(|r| format!("{} {:.1} ms", r.route, r.p95))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let over: Vec<&Figures> = figures.iter().filter(|r| r.p95 >= 50.0).collect();
    println!(
        "routes at or over 50 ms p95: {}",
        if over.is_empty() {
            "none".to_string()
        } else {
            over.iter()
                .map(|r| r.route.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    if !skipped.is_empty() {
        println!(
            "not measured (no value for a parameter): {}",
            skipped.join(", ")
        );
    }
    Ok(())
}

fn backend_of(f: &crate::bench::Fresh) -> Backend {
    f.svc.store.backend()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_take_the_seeded_values() {
        let mut params = BTreeMap::new();
        params.insert("tenant", "8".to_string());
        params.insert("connection", "3".to_string());
        let seeded = Seeded { params };
        assert_eq!(
            fill("/admin/t/:tenant/connections/:connection", &seeded).as_deref(),
            Some("/admin/t/8/connections/3")
        );
        assert_eq!(
            fill("/admin/t/{tenant}/inventory", &seeded).as_deref(),
            Some("/admin/t/8/inventory")
        );
        assert_eq!(fill("/admin", &seeded).as_deref(), Some("/admin"));
        assert_eq!(fill("/", &seeded).as_deref(), Some("/"));
        assert_eq!(fill("/admin/bulk/:bulk", &seeded), None);
        assert_eq!(reader_of("/system/ops/runs"), Reader::Platform);
        assert_eq!(reader_of("/admin/fleet"), Reader::Owner);
        assert_eq!(reader_of("/sign-in"), Reader::Visitor);
    }
}
