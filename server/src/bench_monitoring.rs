//! `tenantry bench monitoring`: what the monitoring surfaces cost as the run
//! table grows. Seeds N runs across 100 tenants of one workspace (the heavy
//! case: one MSP sees all of them), then times the domain calls the pages
//! and islands make — authorization, queries and row mapping included, HTTP
//! excluded — and prints p50/p95 per call. Bounded: a fixed number of samples
//! per call; everything on 127.0.0.1 or a temporary SQLite file.

use crate::bench::{fresh, percentile};
use domain::access::Actor;
use domain::ids::RunId;
use domain::rbac::Role;
use domain::runs::monitoring;
use domain::store::Backend;
use std::future::Future;
use std::time::Instant;

/// `tenantry bench monitoring` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct MonitoringBenchOptions {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    pub backend: String,
    /// Table sizes to measure, comma-separated.
    #[arg(long, default_value = "10000,1000000", value_delimiter = ',')]
    pub runs: Vec<i64>,
    #[arg(long, default_value_t = 100)]
    pub tenants: usize,
    /// Timed calls per measurement (after 5 warm-up calls).
    #[arg(long, default_value_t = 100)]
    pub samples: usize,
    /// Leave the last seeded database behind (its URL is printed) to inspect plans.
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

const DAY: i64 = 86_400_000;

/// Inserts `n` runs in one statement: 90 days of history, newest last;
/// 0.5 % active (some with a lost lease, some overdue), and terminal outcomes
/// 85 % succeeded, 6 % failed, 4 % blocked, 3 % partial, 2 % cancelled.
pub(crate) async fn seed(
    svc: &domain::services::Services,
    n: i64,
    first_tenant: i64,
    tenants: i64,
    user: i64,
    now: i64,
) -> Result<(), String> {
    let series = match svc.store.backend() {
        Backend::Postgres => "SELECT g FROM generate_series(1, $1::bigint) AS s(g)".to_string(),
        Backend::Sqlite => "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < $1) SELECT g FROM s".to_string(),
    };
    let types = [
        "tenant_verification",
        "connection_check",
        "inventory_sync",
        "compliance_snapshot",
        "directory_groups_sync",
        "role_definitions_sync",
    ];
    let op_type = format!(
        "CASE g % 6 {} END",
        types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("WHEN {i} THEN '{t}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Position in 1000: < 5 active (2 queued, 3 running), then outcomes.
    let k = "(g * 7919) % 1000";
    let status =
        format!("CASE WHEN {k} < 2 THEN 'queued' WHEN {k} < 5 THEN 'running' ELSE 'completed' END");
    let outcome = format!(
        "CASE WHEN {k} < 5 THEN 'pending' WHEN {k} < 65 THEN 'failed' WHEN {k} < 105 THEN 'blocked'
              WHEN {k} < 135 THEN 'partially_succeeded' WHEN {k} < 155 THEN 'cancelled' ELSE 'succeeded' END"
    );
    // Spread evenly over 90 days (a bigint literal: PostgreSQL would
    // multiply two int4 literals in int4).
    let span = 90 * DAY;
    let created = format!("($4 - (($1 - g) * ({span} / $1)))");
    let sql = format!(
        "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind,
            initiator_user_id, scope_key, context, created_at, started_at, completed_at, available_at,
            attempts, lease_expires_at)
         SELECT (SELECT workspace_id FROM tenants WHERE id = $2), $2 + (g % $3), {op_type}, {status}, {outcome},
            CASE WHEN g % 10 < 5 THEN 'user' WHEN g % 10 < 9 THEN 'schedule' ELSE 'system' END,
            CASE WHEN g % 10 < 5 THEN $5 ELSE NULL END,
            'bench:' || g, '{{}}', {created},
            CASE WHEN {k} < 2 THEN NULL ELSE {created} + 1000 END,
            CASE WHEN {k} < 5 THEN NULL ELSE {created} + 60000 END,
            {created}, 1,
            CASE WHEN {k} >= 2 AND {k} < 4 THEN $4 + 60000 WHEN {k} = 4 THEN $4 - 1000 ELSE NULL END
         FROM ({series}) AS gs"
    );
    sqlx::query(sqlx::AssertSqlSafe(&*sql))
        .bind(n)
        .bind(first_tenant)
        .bind(tenants)
        .bind(now)
        .bind(user)
        .execute(svc.store.unguarded_pool())
        .await
        .map_err(|e| format!("seeding runs: {e}"))?;
    Ok(())
}

/// p50 and p95 in milliseconds of `samples` calls.
pub(crate) async fn time<F, Fut, T>(samples: usize, mut call: F) -> Result<(f64, f64), String>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, domain::AppError>>,
{
    for i in 0..5 {
        call(i).await.map_err(|e| e.to_string())?;
    }
    let mut ms = Vec::with_capacity(samples);
    for i in 0..samples {
        let t = Instant::now();
        call(i).await.map_err(|e| e.to_string())?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    Ok((percentile(&ms, 0.5), percentile(&ms, 0.95)))
}

pub async fn run(opts: MonitoringBenchOptions) -> Result<(), String> {
    let backends = match opts.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    println!(
        "tenantry bench monitoring: runs across {} tenants of one workspace; {} samples per call; ms",
        opts.tenants, opts.samples
    );
    println!();
    println!("| backend | runs | call | p50 ms | p95 ms |");
    println!("|---|---|---|---|---|");
    for backend in backends {
        for &n in &opts.runs {
            let f = fresh(backend, opts.tenants, &opts.pg_admin_url, false).await?;
            let svc = &f.svc;
            let now = svc.now();
            let first = f.tenants.first().map(|t| t.0).unwrap_or(1);
            let seeding = Instant::now();
            seed(svc, n, first, opts.tenants as i64, f.owner.user_id.0, now).await?;
            crate::bench::settle(svc).await?;
            eprintln!(
                "{backend:?}: seeded {n} runs in {:.1} s",
                seeding.elapsed().as_secs_f64()
            );
            let operator = operator(&f).await?;
            let owner = &f.owner;
            let tenant = f.tenants.get(7).copied().unwrap_or(f.tenants[0]);
            // The cursor of page 50 (rows 2,451–2,500), found once.
            let (at, id): (i64, i64) = sqlx::query_as(
                "SELECT created_at, id FROM operation_runs ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 2449",
            )
            .fetch_one(svc.store.unguarded_pool())
            .await
            .map_err(|e| e.to_string())?;
            let page50 = format!("before={at}.{id}");
            let queries: Vec<(String, String)> = vec![
                ("hub: all".into(), String::new()),
                ("hub: tab active".into(), "tab=active".into()),
                ("hub: tab follow-up".into(), "tab=follow_up".into()),
                ("hub: tab stale".into(), "tab=stale".into()),
                ("hub: status completed".into(), "status=completed".into()),
                ("hub: outcome failed".into(), "outcome=failed".into()),
                (
                    "hub: type inventory sync".into(),
                    "type=inventory_sync".into(),
                ),
                ("hub: one tenant".into(), format!("tenant={tenant}")),
                (
                    "hub: initiator".into(),
                    format!("initiator={}", owner.user_id),
                ),
                ("hub: last 7 days".into(), "range=7d".into()),
                (
                    "hub: failed, 7 days, one tenant".into(),
                    format!("outcome=failed&range=7d&tenant={tenant}"),
                ),
                ("hub: page 50 by keyset".into(), page50),
            ];
            let row = |name: &str, (p50, p95): (f64, f64)| {
                println!("| {backend:?} | {n} | {name} | {p50:.2} | {p95:.2} |");
            };
            for (name, q) in &queries {
                let r = time(opts.samples, |_| monitoring::hub(svc, owner, q)).await?;
                row(name, r);
            }
            let r = time(opts.samples, |_| monitoring::hub(svc, &operator, "")).await?;
            row("hub: all, operator with 10 tenants", r);
            let r = time(opts.samples, |_| monitoring::workspace_summary(svc, owner)).await?;
            row("workspace overview counts", r);
            let r = time(opts.samples, |_| {
                monitoring::tenant_summary(svc, owner, tenant)
            })
            .await?;
            row("tenant dashboard counts", r);
            let r = time(opts.samples, |_| monitoring::active_runs(svc, owner)).await?;
            row("overlay poll (active runs)", r);
            let (max,): (i64,) = sqlx::query_as("SELECT MAX(id) FROM operation_runs")
                .fetch_one(svc.store.unguarded_pool())
                .await
                .map_err(|e| e.to_string())?;
            let r = time(opts.samples, |i| {
                // Spread over the table, not one hot row.
                let run = RunId(1 + ((i as i64 * 7_919) % max.max(1)));
                monitoring::pulse(svc, owner, run)
            })
            .await?;
            row("run-detail poll", r);
            if opts.keep_database {
                eprintln!("kept: {}", f.url());
            } else {
                f.cleanup().await;
            }
        }
    }
    Ok(())
}

/// An operator member assigned to ten of the tenants.
pub(crate) async fn operator(f: &crate::bench::Fresh) -> Result<Actor, String> {
    use domain::validate::{Email, NewPassword};
    let svc = &f.svc;
    let email = Email::parse("operator@tenantry.local").map_err(|e| e.to_string())?;
    let pw = NewPassword::parse("benchmark password").map_err(|e| e.to_string())?;
    let user = domain::accounts::create_user(svc, &email, &pw, false)
        .await
        .map_err(|e| e.to_string())?;
    let ws = domain::access::current_workspace(svc, &f.owner)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no workspace")?;
    domain::workspaces::add_member_directly(svc, &f.owner, ws.id, email.as_str(), Role::Operator)
        .await
        .map_err(|e| e.to_string())?;
    for t in f.tenants.iter().step_by(10).take(10) {
        domain::tenants::set_assignment(svc, &f.owner, *t, user, true)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(Actor {
        user_id: user,
        email: email.to_string(),
        is_platform_operator: false,
        session_id_hash: String::new(),
        current_workspace: None,
        mfa_owed: false,
        time_zone: None,
        theme: Default::default(),
    })
}
