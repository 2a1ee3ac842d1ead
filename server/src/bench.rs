//! `tenantry bench runs`: the run machinery's figures on this machine, on
//! SQLite and on PostgreSQL: gate admissions per second (1 and 32 callers,
//! distinct scopes, every gate check including authorization), pickup
//! latency from commit to handler start at a steady 100 starts/s, and no-op
//! drain throughput with 1, 2 and 4 workers. Loops are bounded; everything
//! talks to 127.0.0.1 or a temporary SQLite file.

use domain::access::Actor;
use domain::ids::{RunId, TenantId};
use domain::runs::catalogue::Catalogue;
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::handlers::{BoxFuture, Handler, RunContext};
use domain::runs::service::Completion;
use domain::runs::worker::{Worker, WorkerConfig};
use domain::runs::{StartDecision, SummaryCounts};
use domain::services::{Services, Settings};
use domain::store::{Backend, Store, StoreOptions};
use domain::validate::{Email, NewPassword};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `tenantry bench runs` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    pub backend: String,
    #[arg(long, default_value_t = 1000)]
    pub sequential: usize,
    #[arg(long, default_value_t = 4000)]
    pub concurrent: usize,
    #[arg(long, default_value_t = 32)]
    pub callers: usize,
    #[arg(long, default_value_t = 500)]
    pub paced: usize,
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    #[arg(long, default_value_t = 4000)]
    pub drain: usize,
    /// Admin connection used to create and drop the benchmark database.
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

impl BenchOptions {
    fn backends(&self) -> Vec<Backend> {
        match self.backend.as_str() {
            "sqlite" => vec![Backend::Sqlite],
            "postgres" => vec![Backend::Postgres],
            _ => vec![Backend::Sqlite, Backend::Postgres],
        }
    }
}

pub(crate) struct Fresh {
    pub(crate) svc: Services,
    pub(crate) owner: Actor,
    pub(crate) tenants: Vec<TenantId>,
    drop_pg: Option<(String, String)>,
    sqlite_path: Option<std::path::PathBuf>,
    url: String,
}

pub(crate) async fn fresh(
    backend: Backend,
    tenants: usize,
    pg_admin_url: &str,
    wake_workers: bool,
) -> Result<Fresh, String> {
    let name = format!("tenantry_bench_{:08x}", rand_u32());
    let (url, drop_pg, sqlite_path) = match backend {
        Backend::Sqlite => {
            let p = std::env::temp_dir().join(format!("{name}.db"));
            (format!("sqlite://{}", p.display()), None, Some(p))
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(pg_admin_url)
                .await
                .map_err(|e| format!("PostgreSQL: {e}"))?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
            let base = pg_admin_url
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or_default();
            (
                format!("{base}/{name}"),
                Some((pg_admin_url.to_string(), name)),
                None,
            )
        }
    };
    let store = Store::connect(
        &url,
        StoreOptions {
            max_connections: 40,
            ..StoreOptions::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let svc = domain::operations::services(store, Settings::default());
    if wake_workers {
        domain::runs::wake::start_cross_process(&svc);
    }
    let email = Email::parse("bench@tenantry.local").map_err(|e| e.to_string())?;
    let pw = NewPassword::parse("benchmark password").map_err(|e| e.to_string())?;
    let user = domain::accounts::create_user(&svc, &email, &pw, false)
        .await
        .map_err(|e| e.to_string())?;
    let owner = Actor {
        user_id: user,
        email: email.to_string(),
        is_platform_operator: false,
        session_id_hash: String::new(),
        current_workspace: None,
        mfa_owed: false,
        time_zone: None,
        theme: Default::default(),
    };
    let ws = domain::workspaces::create(&svc, &owner, "Bench MSP")
        .await
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(tenants);
    let mut tx = svc.store.begin().await.map_err(|e| e.to_string())?;
    for i in 0..tenants {
        let (t,): (i64,) = sqlx::query_as(
            "INSERT INTO tenants (workspace_id, display_name, microsoft_tenant_id, status, created_at, updated_at)
             VALUES ($1, $2, $3, 'active', 0, 0) RETURNING id",
        )
        .bind(ws.0)
        .bind(format!("Tenant {i}"))
        .bind(format!("00000000-0000-4000-8000-{i:012}"))
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| e.to_string())?;
        sqlx::query(
            "INSERT INTO provider_connections (workspace_id, tenant_id, display_name, status, consent, has_credentials, is_default, created_at)
             VALUES ($1, $2, 'Graph app', 'enabled', 'granted', 1, 1, 0)",
        )
        .bind(ws.0)
        .bind(t)
        .execute(&mut **tx)
        .await
        .map_err(|e| e.to_string())?;
        ids.push(TenantId(t));
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(Fresh {
        svc,
        owner,
        tenants: ids,
        drop_pg,
        sqlite_path,
        url,
    })
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ std::process::id())
        .unwrap_or(7)
}

impl Fresh {
    /// Waits until every run has ended, for at most `within`.
    pub(crate) async fn all_ended(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            let (open,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM operation_runs WHERE status <> 'completed'")
                    .fetch_one(self.svc.store.unguarded_pool())
                    .await
                    .map_err(|e| e.to_string())?;
            if open == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{open} runs still open after {} s",
                    within.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub(crate) async fn clear_runs(&self) -> Result<(), String> {
        sqlx::query("DELETE FROM operation_runs")
            .execute(self.svc.store.unguarded_pool())
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    pub(crate) fn url(&self) -> String {
        self.url.clone()
    }

    pub(crate) async fn cleanup(self) {
        self.svc.store.close().await;
        if let Some((admin, name)) = self.drop_pg {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut c)
                .await;
            }
        }
        if let Some(p) = self.sqlite_path {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
            }
        }
    }
}

fn request(tenant: TenantId) -> StartRequest {
    StartRequest {
        tenant,
        op_type: domain::runs::probe::MACHINERY_PROBE,
        connection: None,
        args: serde_json::Value::Null,
    }
}

/// Admissions per second from `callers` concurrent callers, `n` starts on distinct scopes.
async fn admissions(f: &Fresh, n: usize, callers: usize) -> Result<f64, String> {
    f.clear_runs().await?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (svc, owner, tenants, next) = (
            f.svc.clone(),
            f.owner.clone(),
            f.tenants.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return Ok::<(), String>(());
                }
                let r = StartGate::start(&svc, Initiator::User(&owner), request(tenants[i]))
                    .await
                    .map_err(|e| e.to_string())?;
                if r.decision != StartDecision::Accepted {
                    return Err(format!("unexpected {:?}", r.decision));
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Records when each run's handler starts; does nothing else.
struct Stopwatch(Arc<Mutex<HashMap<RunId, Instant>>>);

impl Handler for Stopwatch {
    fn run(&self, ctx: RunContext) -> BoxFuture<Completion> {
        if let Ok(mut m) = self.0.lock() {
            m.insert(ctx.run.id, Instant::now());
        }
        Box::pin(async { Completion::succeeded(SummaryCounts::default()) })
    }
}

fn workers(
    f: &Fresh,
    count: usize,
    concurrency: usize,
    seen: Arc<Mutex<HashMap<RunId, Instant>>>,
) -> (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    // The benchmark's own catalogue: only a stopwatch for the probe.
    let mut catalogue = Catalogue::default();
    catalogue.with_handler(
        domain::runs::probe::MACHINERY_PROBE,
        Arc::new(Stopwatch(seen)),
    );
    let svc = f.svc.clone().with_port(catalogue);
    let handles = (0..count)
        .map(|_| {
            let w = Worker::new(
                svc.clone(),
                WorkerConfig {
                    concurrency,
                    ..WorkerConfig::default()
                },
            );
            let rx = rx.clone();
            tokio::spawn(async move {
                w.run(rx).await;
            })
        })
        .collect();
    (tx, handles)
}

/// Brings a freshly seeded database to a steady state before measuring, once
/// after all seeding: statistics, and on PostgreSQL the visibility map
/// autovacuum would have set (index-only counts depend on it).
pub(crate) async fn settle(svc: &Services) -> Result<(), String> {
    let maintenance = match svc.store.backend() {
        Backend::Postgres => "VACUUM ANALYZE",
        Backend::Sqlite => "ANALYZE",
    };
    sqlx::query(maintenance)
        .execute(svc.store.unguarded_pool())
        .await
        .map(|_| ())
        .map_err(|e| format!("settling the seeded database: {e}"))
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Pickup latency at a steady rate: commit of the start → handler start.
async fn pickup(f: &Fresh, n: usize, rate: u32) -> Result<(f64, f64), String> {
    f.clear_runs().await?;
    let seen: Arc<Mutex<HashMap<RunId, Instant>>> = Arc::default();
    let (stop, handles) = workers(f, 1, 8, seen.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut committed = Vec::with_capacity(n);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    for i in 0..n {
        tick.tick().await;
        let r = StartGate::start(&f.svc, Initiator::System, request(f.tenants[i]))
            .await
            .map_err(|e| e.to_string())?;
        committed.push((r.run, Instant::now()));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().map(|m| m.len()).unwrap_or(0) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    for h in handles {
        let _ = h.await;
    }
    let seen = seen.lock().map(|m| m.clone()).unwrap_or_default();
    let mut ms: Vec<f64> = committed
        .iter()
        .filter_map(|(run, at)| {
            seen.get(run)
                .map(|s| s.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    if ms.len() < n {
        return Err(format!("only {} of {n} runs were picked up", ms.len()));
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    Ok((percentile(&ms, 0.5), percentile(&ms, 0.99)))
}

/// No-op drain: `n` queued runs, then `count` workers (concurrency 10 each).
async fn drain(f: &Fresh, n: usize, count: usize) -> Result<f64, String> {
    f.clear_runs().await?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (svc, tenants, next) = (f.svc.clone(), f.tenants.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return Ok::<(), String>(());
                }
                StartGate::start(&svc, Initiator::System, request(tenants[i]))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let seen: Arc<Mutex<HashMap<RunId, Instant>>> = Arc::default();
    let started = Instant::now();
    let (stop, handles) = workers(f, count, 10, seen);
    f.all_ended(Duration::from_secs(120)).await?;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    for h in handles {
        let _ = h.await;
    }
    Ok(rate)
}

pub async fn run(opts: BenchOptions) -> Result<(), String> {
    let tenants = opts
        .concurrent
        .max(opts.sequential)
        .max(opts.drain)
        .max(opts.paced);
    println!(
        "tenantry bench runs: {} tenants with one provider connection each; no-op handler",
        tenants
    );
    println!();
    println!(
        "| backend | admit 1 caller /s | admit {} callers /s | pickup p50 ms | pickup p99 ms | drain 1 worker /s | drain 2 workers /s | drain 4 workers /s |",
        opts.callers
    );
    println!("|---|---|---|---|---|---|---|---|");
    for backend in &opts.backends() {
        let f = fresh(*backend, tenants, &opts.pg_admin_url, true).await?;
        let seq = admissions(&f, opts.sequential, 1).await?;
        let conc = admissions(&f, opts.concurrent, opts.callers).await?;
        let (p50, p99) = pickup(&f, opts.paced, opts.rate).await?;
        let mut drains = Vec::new();
        for w in [1, 2, 4] {
            drains.push(drain(&f, opts.drain, w).await?);
        }
        println!(
            "| {:?} | {seq:.0} | {conc:.0} | {p50:.2} | {p99:.2} | {:.0} | {:.0} | {:.0} |",
            backend, drains[0], drains[1], drains[2]
        );
        f.cleanup().await;
    }
    Ok(())
}
