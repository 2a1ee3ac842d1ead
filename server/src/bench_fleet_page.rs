//! `tenantry bench fleet-page`: the fleet overview's read at 1,000 tenants,
//! each with an inventory snapshot, ten compliance snapshots, drift entries
//! and runs (20 each, some failed, some active). Prints p50/p95/p99 of the
//! page's read against the tenant list's read (the same tenants, nothing
//! else) measured in the same sitting. Bounded; 127.0.0.1 or a temporary
//! SQLite file only.

use crate::bench::fresh;
use domain::store::Backend;
use std::time::Instant;

/// `tenantry bench fleet-page` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetPageBenchOptions {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "postgres")]
    pub backend: String,
    #[arg(long, default_value_t = 1000)]
    pub tenants: usize,
    /// Reads measured per page.
    #[arg(long, default_value_t = 200)]
    pub reads: usize,
    /// Admin connection used to create and drop the benchmark database.
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

use crate::bench::percentile;

pub(crate) async fn seed(f: &crate::bench::Fresh) -> Result<(), String> {
    let svc = &f.svc;
    let now = svc.now();
    let day = 86_400_000i64;
    let e = |e: sqlx::Error| e.to_string();
    let mut tx = svc.store.begin().await.map_err(|e| e.to_string())?;
    let (ws,): (i64,) = sqlx::query_as("SELECT id FROM workspaces LIMIT 1")
        .fetch_one(&mut **tx)
        .await
        .map_err(e)?;
    for (n, t) in f.tenants.iter().enumerate() {
        let mut runs = Vec::new();
        for r in 0..20i64 {
            let (status, outcome) = match r {
                0 if n.is_multiple_of(3) => ("queued", "pending"),
                1 | 2 if n.is_multiple_of(5) => ("completed", "failed"),
                _ => ("completed", "succeeded"),
            };
            let at = now - r * day / 2;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key,
                    context, created_at, available_at, attempts)
                 VALUES ($1, $2, $3, $4, $5, 'system', $6, '{}', $7, $7, 1) RETURNING id",
            )
            .bind(ws)
            .bind(t.0)
            .bind(if r % 2 == 0 { "inventory_sync" } else { "compliance_snapshot" })
            .bind(status)
            .bind(outcome)
            .bind(format!("bench:{t}:{r}"))
            .bind(at)
            .fetch_one(&mut **tx)
            .await
            .map_err(e)?;
            runs.push((id, at));
        }
        let (snap,): (i64,) = sqlx::query_as(
            "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices, attempt)
             VALUES ($1, $2, $3, 30, 10, 200, 1) RETURNING id",
        )
        .bind(t.0)
        .bind(runs[4].0)
        .bind(runs[4].1)
        .fetch_one(&mut **tx)
        .await
        .map_err(e)?;
        for k in 0..10usize {
            let (run, at) = runs[5 + k];
            sqlx::query(
                "INSERT INTO compliance_snapshots (tenant_id, run_id, taken_at, compliant, noncompliant, in_grace_period, other, attempt)
                 VALUES ($1, $2, $3, $4, $5, 0, 0, 1)",
            )
            .bind(t.0)
            .bind(run)
            .bind(at)
            .bind(150 + (k as i64 * 7 + n as i64) % 50)
            .bind(50)
            .execute(&mut **tx)
            .await
            .map_err(e)?;
        }
        for k in 0..5i64 {
            sqlx::query(
                "INSERT INTO drift_entries (workspace_id, tenant_id, snapshot_id, previous_snapshot_id, run_id, attempt, change, kind,
                    external_id, display_name, search_name, settings, detected_at)
                 VALUES ($1, $2, $3, $3, $4, 1, 'changed', 'device_configuration', $5, 'Policy', 'policy', '[]', $6)",
            )
            .bind(ws)
            .bind(t.0)
            .bind(snap)
            .bind(runs[4].0)
            .bind(format!("p{k}"))
            .bind(now - k * 3 * day)
            .execute(&mut **tx)
            .await
            .map_err(e)?;
        }
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(())
}

pub async fn run(opts: FleetPageBenchOptions) -> Result<(), String> {
    let backends = match opts.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "both" => vec![Backend::Sqlite, Backend::Postgres],
        _ => vec![Backend::Postgres],
    };
    println!(
        "tenantry bench fleet-page: the fleet overview's read at {} tenants (20 runs, 10 compliance snapshots, 5 changes each)",
        opts.tenants
    );
    println!();
    println!("| backend | read | p50 ms | p95 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    for backend in backends {
        let f = fresh(backend, opts.tenants, &opts.pg_admin_url, false).await?;
        seed(&f).await?;
        crate::bench::settle(&f.svc).await?;
        let name = match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        let mut ratios = Vec::new();
        for which in ["tenant list (baseline)", "fleet overview"] {
            let mut times = Vec::with_capacity(opts.reads);
            for _ in 0..opts.reads {
                let started = Instant::now();
                if which == "fleet overview" {
                    let p = domain::fleet::page(&f.svc, &f.owner, "sort=drift&dir=desc")
                        .await
                        .map_err(|e| e.to_string())?
                        .ok_or("no workspace")?;
                    if p.rows.len() != opts.tenants {
                        return Err(format!("{} rows, expected {}", p.rows.len(), opts.tenants));
                    }
                } else {
                    domain::tenants::tenants_page(&f.svc, &f.owner, None)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(|a, b| a.total_cmp(b));
            let (p50, p95, p99) = (
                percentile(&times, 0.5),
                percentile(&times, 0.95),
                percentile(&times, 0.99),
            );
            ratios.push(p95);
            println!("| {name} | {which} | {p50:.1} | {p95:.1} | {p99:.1} |");
        }
        println!(
            "| {name} | fleet p95 / tenant list p95 | | {:.1}× | |",
            ratios[1] / ratios[0].max(0.001)
        );
        f.cleanup().await;
    }
    Ok(())
}
