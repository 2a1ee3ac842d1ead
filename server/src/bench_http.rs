//! `tenantry bench http`: the web server under a fixed request rate, end to
//! end (HTTP, sessions, authorization, rendering, the database) with a large
//! run table. Open loop with latency correction: request i is due at
//! `start + i / rate` and its latency counts from then, not from when it
//! could be sent, so a stall shows as the waiting it causes (no coordinated
//! omission). Phases: the operations hub and a tenant dashboard at 50/s, the
//! run-detail poll at 200/s, then each at five times its rate to show that
//! past the in-flight bound requests are shed (503 at once) while the ones
//! admitted stay fast. Only 127.0.0.1; every phase is bounded in time.

use crate::bench::{fresh, percentile};
use domain::store::{Backend, Store, StoreOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `tenantry bench http` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpBenchOptions {
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    pub backend: String,
    /// Runs in the table while measuring.
    #[arg(long, default_value_t = 1_000_000)]
    pub runs: i64,
    #[arg(long, default_value_t = 100)]
    pub tenants: usize,
    /// Seconds each phase sends for.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// The hub's and the dashboard's rate (requests/s).
    #[arg(long, default_value_t = 50)]
    pub page_rate: u32,
    /// The run poll's rate (requests/s).
    #[arg(long, default_value_t = 200)]
    pub poll_rate: u32,
    /// The overload phases send this many times the rates above.
    #[arg(long, default_value_t = 5)]
    pub overload: u32,
    /// The server's in-flight bound (serve's default).
    #[arg(long, default_value_t = 64)]
    pub max_in_flight: usize,
    /// The server's database pool (serve's default).
    #[arg(long, default_value_t = 16)]
    pub db_max_connections: u32,
    /// Admin connection used to create and drop the benchmark database.
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

/// Builds the next request of a phase.
type MakeRequest = Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

/// What one request came back with.
struct Sample {
    status: u16,
    /// From when it was due (latency-corrected).
    ms: f64,
}

/// A phase's figures.
struct Figures {
    sent: usize,
    ok: Vec<f64>,
    shed: Vec<f64>,
    errors: usize,
    achieved_rate: f64,
}

impl Figures {
    fn of(samples: Vec<Sample>, elapsed: Duration) -> Figures {
        let sent = samples.len();
        let mut ok = Vec::new();
        let mut shed = Vec::new();
        let mut errors = 0;
        for s in samples {
            match s.status {
                200 => ok.push(s.ms),
                503 => shed.push(s.ms),
                _ => errors += 1,
            }
        }
        ok.sort_by(|a, b| a.total_cmp(b));
        shed.sort_by(|a, b| a.total_cmp(b));
        Figures {
            sent,
            ok,
            shed,
            errors,
            achieved_rate: sent as f64 / elapsed.as_secs_f64().max(0.001),
        }
    }
}

/// Sends GETs (or poll POSTs) at `rate` for `seconds`; latency from due time.
async fn phase(client: &reqwest::Client, request: MakeRequest, rate: u32, seconds: u64) -> Figures {
    let total = (rate as u64 * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due).await;
        let (client, request) = (client.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let status = match request(&client).send().await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    // The whole body, as a browser reads it.
                    match res.bytes().await {
                        Ok(_) => status,
                        Err(_) => 0,
                    }
                }
                Err(_) => 0,
            };
            Sample {
                status,
                ms: due.elapsed().as_secs_f64() * 1000.0,
            }
        }));
    }
    let mut samples = Vec::with_capacity(total);
    for t in tasks {
        if let Ok(s) = t.await {
            samples.push(s);
        }
    }
    Figures::of(samples, start.elapsed())
}

fn row(name: &str, rate: u32, f: &Figures) {
    let p = |v: &[f64], q: f64| {
        if v.is_empty() {
            "-".to_string()
        } else {
            format!("{:.1}", percentile(v, q))
        }
    };
    println!(
        "| {name} | {rate} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
        f.achieved_rate,
        f.sent,
        f.ok.len(),
        p(&f.ok, 0.5),
        p(&f.ok, 0.95),
        p(&f.ok, 0.99),
        if f.shed.is_empty() {
            "0".to_string()
        } else {
            format!("{} (p99 {} ms)", f.shed.len(), p(&f.shed, 0.99))
        },
        f.errors,
    );
}

pub async fn run(opts: HttpBenchOptions) -> Result<(), String> {
    let backend = match opts.backend.as_str() {
        "sqlite" => Backend::Sqlite,
        _ => Backend::Postgres,
    };
    let f = fresh(backend, opts.tenants, &opts.pg_admin_url, false).await?;
    let now = f.svc.now();
    let first = f.tenants.first().map(|t| t.0).unwrap_or(1);
    let seeding = Instant::now();
    crate::bench_monitoring::seed(
        &f.svc,
        opts.runs,
        first,
        opts.tenants as i64,
        f.owner.user_id.0,
        now,
    )
    .await?;
    crate::bench::settle(&f.svc).await?;
    eprintln!(
        "{backend:?}: seeded {} runs in {:.1} s",
        opts.runs,
        seeding.elapsed().as_secs_f64()
    );
    let result = measure(&opts, &f).await;
    f.cleanup().await;
    result
}

/// The console under test on its own pool of `db_max_connections`,
/// admitting `max_in_flight` requests at once.
pub(crate) async fn start_server(
    f: &crate::bench::Fresh,
    db_max_connections: u32,
    max_in_flight: usize,
) -> Result<
    (
        String,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<std::io::Result<()>>,
    ),
    String,
> {
    let store = Store::connect(
        &f.url(),
        StoreOptions {
            max_connections: db_max_connections,
            ..StoreOptions::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    // The seeding's secret box: what it sealed (invitation links) opens.
    let services = domain::operations::services(store, domain::services::Settings::default())
        .with_secrets(f.svc.secrets.clone());
    let config = crate::Config {
        database_url: f.url(),
        bind: "127.0.0.1:0".parse().map_err(|_| "address")?,
        site_root: std::path::PathBuf::from("target/site"),
        secure_cookies: false,
        db_max_connections,
        settings: domain::services::Settings::default(),
        workers: 0,
        worker: Default::default(),
        reconcile_every_ms: 0,
        provider: Default::default(),
        support_desk: Default::default(),
        mail: None,
        sso: None,
        webhook_networks: Default::default(),
        web: crate::web::WebConfig {
            limits: crate::shedding::LoadLimits {
                max_in_flight: max_in_flight.max(1),
                ..Default::default()
            },
            ..Default::default()
        },
    };
    let app = crate::Application::build_with(config, services)
        .await
        .map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    Ok((base, stop, server))
}

/// A client signed in as `email` (the benchmark's member: `bench@tenantry.local`).
pub(crate) async fn signed_in_client(
    base: &str,
    email: &str,
    password: &str,
) -> Result<reqwest::Client, String> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let signed_in = client
        .post(format!("{base}/api/session/sign_in"))
        .header("sec-fetch-site", "same-origin")
        .header("accept", "application/json")
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !signed_in.status().is_success() {
        return Err(format!("sign-in answered {}", signed_in.status()));
    }
    Ok(client)
}

async fn measure(opts: &HttpBenchOptions, f: &crate::bench::Fresh) -> Result<(), String> {
    let (base, stop, server) = start_server(f, opts.db_max_connections, opts.max_in_flight).await?;
    let client = signed_in_client(&base, "bench@tenantry.local", "benchmark password").await?;
    let tenant = f.tenants.get(7).copied().unwrap_or(f.tenants[0]);
    let (max_run,): (i64,) = sqlx::query_as("SELECT MAX(id) FROM operation_runs")
        .fetch_one(f.svc.store.unguarded_pool())
        .await
        .map_err(|e| e.to_string())?;
    let hub = {
        let url = format!("{base}/admin/operations");
        Arc::new(move |c: &reqwest::Client| c.get(&url).header("sec-fetch-site", "same-origin"))
            as MakeRequest
    };
    let dashboard = {
        let url = format!("{base}/admin/t/{tenant}");
        Arc::new(move |c: &reqwest::Client| c.get(&url).header("sec-fetch-site", "same-origin"))
            as MakeRequest
    };
    let poll = {
        let url = format!("{base}/api/runs/poll");
        let next = Arc::new(std::sync::atomic::AtomicI64::new(0));
        Arc::new(move |c: &reqwest::Client| {
            // Spread over the table, not one hot row.
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let run = 1 + (i * 7_919) % max_run.max(1);
            c.post(&url)
                .header("sec-fetch-site", "same-origin")
                .header("accept", "application/json")
                .form(&[("run", run.to_string())])
        }) as MakeRequest
    };
    // Warm the pool and the caches.
    for r in [&hub, &dashboard, &poll] {
        for _ in 0..10 {
            let _ = r(&client).send().await;
        }
    }

    println!(
        "tenantry bench http: {:?}, {} runs over {} tenants, serve defaults (in flight {}, pool {}), {} s per phase, open loop, latency from due time",
        f.svc.store.backend(),
        opts.runs,
        opts.tenants,
        opts.max_in_flight,
        opts.db_max_connections,
        opts.seconds
    );
    println!();
    println!(
        "| phase | target/s | sent/s | sent | 200 | p50 ms | p95 ms | p99 ms | 503 shed | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let phases: [(&str, &MakeRequest, u32); 3] = [
        ("hub /admin/operations", &hub, opts.page_rate),
        ("tenant dashboard /admin/t/{id}", &dashboard, opts.page_rate),
        ("run poll /api/runs/poll", &poll, opts.poll_rate),
    ];
    for (name, request, rate) in phases {
        let figures = phase(&client, request.clone(), rate, opts.seconds).await;
        row(name, rate, &figures);
    }
    for (name, request, rate) in phases {
        let rate = rate * opts.overload.max(1);
        let figures = phase(&client, request.clone(), rate, opts.seconds).await;
        row(
            &format!("{}× overload: {name}", opts.overload),
            rate,
            &figures,
        );
        // Let the queue empty before the next phase.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // The rest under overload: the poll at its normal rate while the
    // dashboard is sent at the overload rate beside it.
    let rate = opts.page_rate * opts.overload.max(1);
    let (over, rest) = tokio::join!(
        phase(&client, dashboard.clone(), rate, opts.seconds),
        phase(&client, poll.clone(), opts.poll_rate, opts.seconds)
    );
    row(
        &format!("{}× dashboard overload, beside it:", opts.overload),
        rate,
        &over,
    );
    row("… the run poll at its normal rate", opts.poll_rate, &rest);
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
