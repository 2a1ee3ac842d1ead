//! `tenantry bench baseline-compare`: one baseline of 50 policies compared
//! with 1,000 tenants (each a published inventory of 55 policies: the 50,
//! some changed, some missing, and 5 of its own). Prints the comparison in
//! memory, the 1,000 `baseline_compare` runs drained by one worker against
//! 1,000 no-op runs drained by the same worker in the same sitting (the run
//! machinery alone), and the alignment matrix's read. Bounded; 127.0.0.1 or
//! a temporary SQLite file only.

use crate::bench::{Fresh, fresh, percentile};
use domain::baselines::{BaselineItem, compare};
use domain::drift::PolicyVersion;
use domain::ids::TenantId;
use domain::runs::OperationType;
use domain::runs::catalogue::Catalogue;
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::handlers::{BoxFuture, Handler, RunContext};
use domain::runs::service::Completion;
use domain::runs::worker::{Worker, WorkerConfig};
use domain::store::Backend;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `tenantry bench baseline-compare` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BaselineBenchOptions {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    pub backend: String,
    #[arg(long, default_value_t = 1000)]
    pub tenants: usize,
    /// Policies in the baseline.
    #[arg(long, default_value_t = 50)]
    pub items: usize,
    /// Matrix reads measured.
    #[arg(long, default_value_t = 20)]
    pub reads: usize,
    /// Admin connection used to create and drop the benchmark database.
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

const EXTRA: usize = 5;

/// Tenant `n`'s policies: item `j` changed when `(n + j).is_multiple_of(10)`,
/// missing when `(n + j).is_multiple_of(17)`; tenant 0 (the template) exactly the standard.
fn policies(n: usize, items: usize) -> Vec<PolicyVersion> {
    let mut out = Vec::with_capacity(items + EXTRA);
    for j in 0..items {
        if n > 0 && (n + j).is_multiple_of(17) {
            continue;
        }
        let mut s = Map::new();
        s.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.windows10GeneralConfiguration"),
        );
        s.insert("id".into(), json!(format!("{n}-{j}")));
        s.insert("displayName".into(), json!(format!("Standard policy {j}")));
        for k in 0..20 {
            s.insert(format!("setting{k}"), json!(k * 3 + j));
        }
        s.insert("allowed".into(), json!(["a", "b", "c"]));
        if n > 0 && (n + j).is_multiple_of(10) {
            s.insert("setting3".into(), json!(-1));
        }
        out.push(PolicyVersion {
            kind: "device_configuration".into(),
            external_id: format!("{n}-{j}"),
            display_name: format!("Standard policy {j}"),
            settings: s,
        });
    }
    if n > 0 {
        for x in 0..EXTRA {
            out.push(PolicyVersion {
                kind: "compliance_policy".into(),
                external_id: format!("{n}-x{x}"),
                display_name: format!("Own policy {x}"),
                settings: Map::new(),
            });
        }
    }
    out
}

async fn succeed(f: &Fresh, tenant: TenantId, op: OperationType) -> Result<i64, String> {
    let run = StartGate::start(
        &f.svc,
        Initiator::System,
        StartRequest {
            tenant,
            op_type: op,
            connection: None,
            args: json!({}),
        },
    )
    .await
    .map_err(|e| e.to_string())?
    .run;
    let mut conn = f.svc.store.write().await.map_err(|e| e.to_string())?;
    sqlx::query(
        "UPDATE operation_runs SET status = 'completed', outcome = 'succeeded', attempts = 1, completed_at = created_at WHERE id = $1",
    )
    .bind(run.0)
    .execute(&mut *conn)
    .await
    .map_err(|e| e.to_string())?;
    Ok(run.0)
}

async fn seed(f: &Fresh, items: usize) -> Result<(), String> {
    let e = |e: sqlx::Error| e.to_string();
    for (n, t) in f.tenants.iter().enumerate() {
        let run = succeed(f, *t, domain::provider::INVENTORY_SYNC).await?;
        let list = policies(n, items);
        let mut tx = f.svc.store.begin().await.map_err(|e| e.to_string())?;
        let (snap,): (i64,) = sqlx::query_as(
            "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices, attempt)
             VALUES ($1, $2, 0, $3, $4, 0, 1) RETURNING id",
        )
        .bind(t.0)
        .bind(run)
        .bind(items as i64)
        .bind(EXTRA as i64)
        .fetch_one(&mut **tx)
        .await
        .map_err(e)?;
        let items: Vec<domain::inventory::InventoryItem> = list
            .iter()
            .filter_map(|p| {
                Some(domain::inventory::InventoryItem {
                    kind: domain::inventory::stored::kind_named(&p.kind)?,
                    external_id: p.external_id.clone(),
                    display_name: p.display_name.clone(),
                    platform: "Windows".into(),
                    detail: String::new(),
                    modified: None,
                    settings: Some(Value::Object(p.settings.clone()).to_string()),
                })
            })
            .collect();
        domain::inventory::stored::write_items(&mut tx, f.svc.store.backend(), snap, &items)
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The no-op the machinery baseline runs.
struct Noop;

impl Handler for Noop {
    fn run(&self, _: RunContext) -> BoxFuture<Completion> {
        Box::pin(async { Completion::succeeded(Default::default()) })
    }
}

/// Starts `op` on every tenant (as the system) and drains it with one
/// worker running 4 at once; answers the seconds from the first start to
/// the last completion.
async fn drain(f: &Fresh, op: OperationType) -> Result<f64, String> {
    let mut catalogue = Catalogue::default();
    catalogue
        .with_handler(domain::runs::probe::MACHINERY_PROBE, Arc::new(Noop))
        .with_handler(
            domain::baselines::BASELINE_COMPARE,
            Arc::new(domain::baselines::handler::BaselineCompare),
        );
    let svc = f.svc.clone().with_port(catalogue);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = Worker::new(
        svc.clone(),
        WorkerConfig {
            concurrency: 4,
            idle_poll_ms: 20,
            ..WorkerConfig::default()
        },
    );
    let started = Instant::now();
    let handle = tokio::spawn(async move { worker.run(rx).await });
    let now = svc.now();
    for chunk in f.tenants.chunks(100) {
        let batch: Vec<(TenantId, i64)> = chunk.iter().map(|t| (*t, now)).collect();
        StartGate::start_many(&svc, Initiator::System, op, &json!({}), &batch, None)
            .await
            .map_err(|e| e.to_string())?;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (open,): (i64,) = {
            let mut conn = svc.store.read().await.map_err(|e| e.to_string())?;
            sqlx::query_as(
                "SELECT COUNT(*) FROM operation_runs WHERE op_type = $1 AND status <> 'completed'",
            )
            .bind(op.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| e.to_string())?
        };
        if open == 0 {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("{open} {op} runs still open after 10 minutes"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = handle.await;
    Ok(secs)
}

pub async fn run(opts: BaselineBenchOptions) -> Result<(), String> {
    let backends = match opts.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    let (n, items) = (opts.tenants.max(2), opts.items.max(1));
    println!(
        "tenantry bench baseline-compare: one baseline of {items} policies, {n} tenants of {} policies each",
        items + EXTRA
    );
    // The comparison alone, in memory.
    let baseline: Vec<BaselineItem> = policies(0, items)
        .into_iter()
        .enumerate()
        .map(|(i, p)| BaselineItem {
            no: i as i64 + 1,
            kind: p.kind,
            display_name: p.display_name,
            settings: p.settings,
            rules: Default::default(),
        })
        .collect();
    let fleet: Vec<Vec<PolicyVersion>> = (0..n).map(|t| policies(t, items)).collect();
    let started = Instant::now();
    let mut different = 0;
    let mut missing = 0;
    for p in &fleet {
        let (outcomes, _) = compare(&baseline, p);
        different += outcomes
            .iter()
            .filter(|o| o.state == domain::baselines::CellState::Different)
            .count();
        missing += outcomes
            .iter()
            .filter(|o| o.state == domain::baselines::CellState::Missing)
            .count();
    }
    let memory_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "compare in memory: {n} tenants × {items} items in {memory_ms:.1} ms ({different} different, {missing} missing cells)"
    );
    println!();
    println!(
        "| backend | {n} no-op runs (machinery), s | {n} baseline compares, s | compares/s | ratio | matrix read p50 / p95 ms |"
    );
    println!("|---|---|---|---|---|---|");
    for backend in backends {
        let f = fresh(backend, n, &opts.pg_admin_url, true).await?;
        seed(&f, items).await?;
        crate::bench::settle(&f.svc).await?;
        let ws = {
            let mut conn = f.svc.store.read().await.map_err(|e| e.to_string())?;
            let (ws,): (i64,) = sqlx::query_as("SELECT id FROM workspaces LIMIT 1")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| e.to_string())?;
            domain::ids::WorkspaceId(ws)
        };
        let id = domain::baselines::service::capture(
            &f.svc,
            &f.owner,
            ws,
            "Bench standard",
            &f.tenants[0].to_string(),
        )
        .await
        .map_err(|e| e.to_string())?;
        domain::baselines::service::assign(&f.svc, &f.owner, id, "all")
            .await
            .map_err(|e| e.to_string())?;
        let machinery = drain(&f, domain::runs::probe::MACHINERY_PROBE).await?;
        let compares = drain(&f, domain::baselines::BASELINE_COMPARE).await?;
        // The stored result agrees with the comparison in memory.
        let (stored_different, stored_missing): (i64, i64) = {
            let mut conn = f.svc.store.read().await.map_err(|e| e.to_string())?;
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(different), 0) AS BIGINT), CAST(COALESCE(SUM(missing), 0) AS BIGINT) FROM baseline_results",
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| e.to_string())?
        };
        if (stored_different as usize, stored_missing as usize) != (different, missing) {
            return Err(format!(
                "stored {stored_different} different / {stored_missing} missing, expected {different} / {missing}"
            ));
        }
        let mut times = Vec::with_capacity(opts.reads);
        for _ in 0..opts.reads {
            let started = Instant::now();
            let p = domain::baselines::service::page(&f.svc, &f.owner, id, "")
                .await
                .map_err(|e| e.to_string())?;
            if p.tenants != n as i64 {
                return Err(format!("the matrix has {} tenants", p.tenants));
            }
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let name = match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        println!(
            "| {name} | {machinery:.2} | {compares:.2} | {:.0} | {:.2}× | {:.1} / {:.1} |",
            n as f64 / compares,
            compares / machinery.max(0.001),
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
        f.cleanup().await;
    }
    Ok(())
}
