//! `tenantry bench alerts` (PostgreSQL): what alert evaluation costs the run
//! machinery and how fast an alert reaches a webhook receiver.
//!
//! 1. Drain: `--drain` queued runs worked off by two workers (all
//!    succeeding, as `bench runs` drains; then one in ten failing with every
//!    failure opening or counting on an alert): with alerts off (no end-mark
//!    index, as before alerts existed), with ends marked only, and with the evaluator
//!    running beside the workers against three rules; alternated over
//!    `--rounds` rounds in the same process; prints the rates, the ratio to
//!    no alerts, and the evaluator's own cost per ended run.
//! 2. Delivery: `--alerts` alerts opened at a steady `--rate` (one failing
//!    run each, started through the gate on distinct tenants and worked off
//!    by two workers), routed to a webhook receiver on 127.0.0.1;
//!    prints the latency from the alert's change to the receiver's answer
//!    (p50, p99) with the evaluator and the sender running as in `serve`.

use crate::bench::{Fresh, fresh, percentile};
use domain::alerts::rules::RuleForm;
use domain::alerts::ssrf::WebhookNetworks;
use domain::runs::catalogue::Catalogue;
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::handlers::{BoxFuture, Handler, RunContext};
use domain::runs::service::Completion;
use domain::runs::worker::{Worker, WorkerConfig};
use domain::runs::{ReasonCode, SummaryCounts};
use domain::services::Services;
use domain::store::Backend;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `tenantry bench alerts` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertsBenchOptions {
    /// Runs per drain round.
    #[arg(long, default_value_t = 4000)]
    pub drain: usize,
    /// Drain rounds of each kind (alternated).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Alerts opened for the delivery latency.
    #[arg(long, default_value_t = 1000)]
    pub alerts: usize,
    /// Alerts opened per second.
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

/// Succeeds, except every `every`th run (none when 0), which fails as a
/// throttled Graph would.
struct SomeFail {
    every: usize,
    seen: AtomicUsize,
}

impl Handler for SomeFail {
    fn run(&self, _ctx: RunContext) -> BoxFuture<Completion> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        let fails = self.every > 0 && n % self.every == self.every - 1;
        Box::pin(async move {
            if fails {
                Completion::failed(
                    ReasonCode::ProviderThrottled,
                    "Microsoft Graph throttled the request.",
                )
            } else {
                Completion::succeeded(SummaryCounts::default())
            }
        })
    }
}

fn probe(tenant: domain::ids::TenantId) -> StartRequest {
    StartRequest {
        tenant,
        op_type: domain::runs::probe::MACHINERY_PROBE,
        connection: None,
        args: serde_json::Value::Null,
    }
}

async fn workspace(f: &Fresh) -> Result<domain::ids::WorkspaceId, String> {
    let (ws,): (i64,) = sqlx::query_as("SELECT workspace_id FROM tenants LIMIT 1")
        .fetch_one(f.svc.store.unguarded_pool())
        .await
        .map_err(|e| e.to_string())?;
    Ok(domain::ids::WorkspaceId(ws))
}

async fn rule(
    svc: &Services,
    f: &Fresh,
    ws: domain::ids::WorkspaceId,
    form: RuleForm,
) -> Result<(), String> {
    domain::alerts::rules::create(svc, &f.owner, ws, form)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn failures_rule(count: &str, webhooks: Vec<domain::ids::WebhookEndpointId>) -> RuleForm {
    RuleForm {
        name: format!("Probe failing {count}×"),
        condition: "run_failures".into(),
        op_type: "any".into(),
        count: count.into(),
        window_hours: "24".into(),
        scope: "all".into(),
        severity: "warning".into(),
        roles: vec!["owner".into()],
        webhooks,
        ..RuleForm::default()
    }
}

/// How a drain round runs: before alerts existed (no end recorded, nothing
/// evaluated), recording ends only, or recording and evaluating as `serve` does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Alerting {
    Off,
    Recorded,
    Evaluated,
}

/// Alerts' only cost to the run machinery is the end-mark index (the column
/// is written in the same statement either way): dropped for "no alerts".
async fn set_end_index(f: &Fresh, on: bool) -> Result<(), String> {
    let sql = if on {
        "CREATE INDEX IF NOT EXISTS operation_runs_end_marks ON operation_runs(end_mark, id) WHERE end_mark IS NOT NULL"
    } else {
        "DROP INDEX IF EXISTS operation_runs_end_marks"
    };
    sqlx::query(sql)
        .execute(f.svc.store.unguarded_pool())
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The benchmark's catalogue: the probe, failing one run in `every`.
fn failing(every: usize) -> Catalogue {
    let mut catalogue = Catalogue::default();
    catalogue.with_handler(
        domain::runs::probe::MACHINERY_PROBE,
        Arc::new(SomeFail {
            every,
            seen: AtomicUsize::new(0),
        }),
    );
    catalogue
}

fn start_workers(
    svc: &Services,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..2)
        .map(|_| {
            let w = Worker::new(
                svc.clone(),
                WorkerConfig {
                    concurrency: 10,
                    ..WorkerConfig::default()
                },
            );
            let rx = stop.clone();
            tokio::spawn(async move {
                w.run(rx).await;
            })
        })
        .collect()
}

async fn one_drain(
    f: &Fresh,
    svc: &Services,
    n: usize,
    mode: Alerting,
) -> Result<(f64, usize), String> {
    set_end_index(f, mode != Alerting::Off).await?;
    let evaluate = mode == Alerting::Evaluated;
    f.clear_runs().await?;
    for chunk in f.tenants[..n].chunks(200) {
        let mut starts = Vec::new();
        for t in chunk {
            starts.push(StartGate::start(svc, Initiator::System, probe(*t)));
        }
        for s in futures::future::join_all(starts).await {
            s.map_err(|e| e.to_string())?;
        }
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let mut tasks = start_workers(svc, &stop_rx);
    if evaluate {
        tasks.push(tokio::spawn(domain::alerts::evaluate::run_periodically(
            svc.clone(),
            stop_rx.clone(),
        )));
    }
    f.all_ended(Duration::from_secs(180)).await?;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let left = domain::alerts::evaluate::backlog(svc)
        .await
        .map_err(|e| e.to_string())?;
    Ok((rate, left as usize))
}

/// Evaluates `n` ended runs already recorded, alone: its cost per run.
async fn evaluation_cost(svc: &Services) -> Result<(usize, f64), String> {
    let started = Instant::now();
    let taken = domain::alerts::evaluate::catch_up(svc, Duration::from_secs(120))
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        taken,
        started.elapsed().as_secs_f64() * 1000.0 / taken.max(1) as f64,
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    percentile(&v, 0.5)
}

/// A drain to measure: which runs fail, and after how many failures the
/// first rule alerts.
struct Scenario {
    title: &'static str,
    fail_every: usize,
    alert_after: &'static str,
}

const SCENARIOS: [Scenario; 2] = [
    Scenario {
        title: "`bench runs` drain: every run succeeds",
        fail_every: 0,
        alert_after: "3",
    },
    Scenario {
        title: "worst case: 1 in 10 runs fails and each failure opens or counts on an alert",
        fail_every: 10,
        alert_after: "1",
    },
];

async fn drain_cost(opts: &AlertsBenchOptions, scenario: &Scenario) -> Result<(), String> {
    let f = fresh(Backend::Postgres, opts.drain, &opts.pg_admin_url, true).await?;
    let ws = workspace(&f).await?;
    let svc = f.svc.clone().with_port(failing(scenario.fail_every));
    // Three rules that every ended run is evaluated against.
    rule(
        &svc,
        &f,
        ws,
        failures_rule(scenario.alert_after, Vec::new()),
    )
    .await?;
    rule(
        &svc,
        &f,
        ws,
        RuleForm {
            name: "Connection".into(),
            condition: "connection_failing".into(),
            scope: "all".into(),
            severity: "critical".into(),
            ..RuleForm::default()
        },
    )
    .await?;
    rule(
        &svc,
        &f,
        ws,
        RuleForm {
            name: "Drift".into(),
            condition: "drift_detected".into(),
            scope: "all".into(),
            severity: "info".into(),
            ..RuleForm::default()
        },
    )
    .await?;
    let (mut off, mut recorded, mut with) = (Vec::new(), Vec::new(), Vec::new());
    let mut cost = Vec::new();
    for _ in 0..opts.rounds.max(1) {
        off.push(one_drain(&f, &svc, opts.drain, Alerting::Off).await?.0);
        let (rate, left) = one_drain(&f, &svc, opts.drain, Alerting::Recorded).await?;
        recorded.push(rate);
        // What piled up meanwhile, evaluated alone: the evaluator's cost per run.
        let (taken, ms) = evaluation_cost(&svc).await?;
        if taken != left {
            return Err(format!("evaluated {taken} of {left} ended runs"));
        }
        cost.push(ms);
        with.push(
            one_drain(&f, &svc, opts.drain, Alerting::Evaluated)
                .await?
                .0,
        );
        evaluation_cost(&svc).await?;
    }
    set_end_index(&f, true).await?;
    let (alerts,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM alerts")
        .fetch_one(f.svc.store.unguarded_pool())
        .await
        .map_err(|e| e.to_string())?;
    let (o, r, v) = (median(off), median(recorded), median(with));
    println!(
        "## Drain with and without alerts — {} (PostgreSQL, 2 workers × 10, {} runs, 3 rules; median of {} rounds)",
        scenario.title,
        opts.drain,
        opts.rounds.max(1)
    );
    println!();
    println!(
        "| no alerts (no end-mark index) /s | ends marked /s | marked + evaluator running /s | ratio to no alerts | evaluation per ended run (alone) | alerts |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {o:.0} | {r:.0} | {v:.0} | {:.3} | {:.3} ms | {alerts} |",
        v / o,
        median(cost)
    );
    println!();
    f.cleanup().await;
    Ok(())
}

#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<(i64, i64)>>>);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn arrived(
    axum::extract::State(a): axum::extract::State<Arrivals>,
    body: String,
) -> axum::http::StatusCode {
    let at = now_ms();
    if let Some(id) = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["data"]["alert"]["id"].as_i64())
        && let Ok(mut list) = a.0.lock()
    {
        list.push((id, at));
    }
    axum::http::StatusCode::NO_CONTENT
}

async fn delivery_latency(opts: &AlertsBenchOptions) -> Result<(), String> {
    let f = fresh(Backend::Postgres, opts.alerts, &opts.pg_admin_url, true).await?;
    let ws = workspace(&f).await?;
    let arrivals = Arrivals::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}/hooks",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let router = axum::Router::new()
        .route("/hooks", axum::routing::post(arrived))
        .with_state(arrivals.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let svc =
        f.svc.clone().with_port(failing(1)).with_port(
            WebhookNetworks::parse(&["127.0.0.1/32".into()]).map_err(|e| e.to_string())?,
        );
    let endpoint = domain::alerts::webhooks::create(&svc, &f.owner, ws, "Bench receiver", &url)
        .await
        .map_err(|e| e.to_string())?;
    rule(&svc, &f, ws, failures_rule("1", vec![endpoint])).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let evaluator = tokio::spawn(domain::alerts::evaluate::run_periodically(
        svc.clone(),
        stop_rx.clone(),
    ));
    let sender = tokio::spawn(domain::alerts::send::run_periodically(
        svc.clone(),
        stop_rx.clone(),
    ));
    let workers = start_workers(&svc, &stop_rx);
    // One run per tenant, started at a steady rate through the gate; each fails.
    let mut tick =
        tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(opts.rate.max(1))));
    for t in &f.tenants {
        tick.tick().await;
        StartGate::start(&svc, Initiator::System, probe(*t))
            .await
            .map_err(|e| e.to_string())?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrivals.0.lock().map(|l| l.len()).unwrap_or(0) < opts.alerts && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    let _ = evaluator.await;
    let _ = sender.await;
    for w in workers {
        let _ = w.await;
    }
    server.abort();
    let opened: Vec<(i64, i64)> = sqlx::query_as("SELECT id, opened_at FROM alerts")
        .fetch_all(f.svc.store.unguarded_pool())
        .await
        .map_err(|e| e.to_string())?;
    let opened: std::collections::HashMap<i64, i64> = opened.into_iter().collect();
    let got = arrivals.0.lock().map(|l| l.clone()).unwrap_or_default();
    let mut ms: Vec<f64> = got
        .iter()
        .filter_map(|(id, at)| opened.get(id).map(|o| (at - o) as f64))
        .collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "## Alert change → webhook received (PostgreSQL, {} alerts opened at {}/s, receiver on 127.0.0.1)",
        opts.alerts, opts.rate
    );
    println!();
    println!("| alerts opened | delivered | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    println!(
        "| {} | {} | {:.0} | {:.0} | {:.0} |",
        opened.len(),
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );
    println!();
    f.cleanup().await;
    if ms.len() < opts.alerts {
        return Err(format!(
            "only {} of {} alerts were delivered",
            ms.len(),
            opts.alerts
        ));
    }
    Ok(())
}

pub async fn run(opts: AlertsBenchOptions) -> Result<(), String> {
    println!("tenantry bench alerts");
    println!();
    for scenario in &SCENARIOS {
        drain_cost(&opts, scenario).await?;
    }
    delivery_latency(&opts).await
}
