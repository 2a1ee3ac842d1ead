//! `tenantry bench fleet-start`: one schedule fire over every tenant of a
//! workspace (1,000 and 5,000 tenants, each with a consented connection):
//! the time from the sweep finding the slot due to every target admitted
//! through the start gate (all of its rules, per tenant) and recorded, and
//! admissions per second, on SQLite and PostgreSQL. Bounded; 127.0.0.1 or a
//! temporary SQLite file only.

use crate::bench::fresh;
use domain::store::Backend;
use std::time::Instant;

/// `tenantry bench fleet-start` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetBenchOptions {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    pub backend: String,
    /// Fleet sizes, comma-separated.
    #[arg(long, default_value = "1000,5000", value_delimiter = ',')]
    pub tenants: Vec<usize>,
    /// Admin connection used to create and drop the benchmark database.
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

pub async fn run(opts: FleetBenchOptions) -> Result<(), String> {
    let backends = match opts.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    println!(
        "tenantry bench fleet-start: one fire of a schedule on every tenant, every gate check per tenant"
    );
    println!();
    println!(
        "| backend | tenants | fire admitted in s | fire admissions/s | baseline: one StartGate::start per tenant, /s | ratio | queued | other decisions |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for backend in backends {
        for &n in &opts.tenants {
            let f = fresh(backend, n, &opts.pg_admin_url, false).await?;
            let svc = &f.svc;
            let ws = domain::access::current_workspace(svc, &f.owner)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no workspace")?
                .id;
            domain::schedules::service::create(
                svc,
                &f.owner,
                ws,
                domain::schedules::service::ScheduleForm {
                    name: "Fleet inventory".into(),
                    op_type: "inventory_sync".into(),
                    target: "all".into(),
                    cron: "* * * * *".into(),
                    time_zone: "UTC".into(),
                    spread_seconds: "60".into(),
                },
            )
            .await
            .map_err(|e| e.to_string())?;
            // Due now.
            sqlx::query("UPDATE schedules SET next_fire_at = $1")
                .bind(svc.now() - 1)
                .execute(svc.store.unguarded_pool())
                .await
                .map_err(|e| e.to_string())?;
            let started = Instant::now();
            let fired = domain::schedules::service::fire_due(svc.clone())
                .await
                .map_err(|e| e.to_string())?;
            let took = started.elapsed().as_secs_f64();
            let decisions: Vec<(String, i64)> = sqlx::query_as(
                "SELECT decision, COUNT(*) FROM schedule_fire_targets GROUP BY decision ORDER BY decision",
            )
            .fetch_all(svc.store.unguarded_pool())
            .await
            .map_err(|e| e.to_string())?;
            let queued = decisions
                .iter()
                .find(|d| d.0 == "queued")
                .map_or(0, |d| d.1);
            let others: Vec<String> = decisions
                .iter()
                .filter(|d| d.0 != "queued")
                .map(|d| format!("{} {}", d.1, d.0))
                .collect();
            if fired != 1 {
                eprintln!("expected one fire, got {fired}");
            }
            f.cleanup().await;
            let baseline = one_at_a_time(backend, n, &opts.pg_admin_url).await?;
            let rate = n as f64 / took.max(0.000_001);
            println!(
                "| {} | {n} | {took:.2} | {rate:.0} | {baseline:.0} | {:.2}× | {queued} | {} |",
                match backend {
                    Backend::Sqlite => "SQLite",
                    Backend::Postgres => "PostgreSQL",
                },
                rate / baseline.max(0.000_001),
                if others.is_empty() {
                    "none".to_string()
                } else {
                    others.join(", ")
                }
            );
        }
    }
    Ok(())
}

/// The baseline, measured in the same sitting on a fresh database of the same
/// size: every tenant through `StartGate::start` one after another (what a
/// fire did before batched admission, without recording the decisions).
async fn one_at_a_time(backend: Backend, n: usize, pg_admin_url: &str) -> Result<f64, String> {
    use domain::runs::gate::{Initiator, NOT_BEFORE, StartGate, StartRequest};
    let f = fresh(backend, n, pg_admin_url, false).await?;
    let svc = &f.svc;
    let tenants: Vec<(i64,)> = sqlx::query_as("SELECT id FROM tenants ORDER BY id")
        .fetch_all(svc.store.unguarded_pool())
        .await
        .map_err(|e| e.to_string())?;
    let now = svc.now();
    let started = Instant::now();
    for (t,) in &tenants {
        StartGate::start(
            svc,
            Initiator::Schedule,
            StartRequest {
                tenant: domain::ids::TenantId(*t),
                op_type: domain::provider::INVENTORY_SYNC,
                connection: None,
                args: serde_json::json!({ NOT_BEFORE: now }),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let took = started.elapsed().as_secs_f64();
    f.cleanup().await;
    Ok(tenants.len() as f64 / took.max(0.000_001))
}
