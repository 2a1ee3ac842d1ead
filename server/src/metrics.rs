//! Prometheus metrics (`metrics` facade + `metrics-exporter-prometheus`):
//! every `serve` and `worker` process records its own and, with
//! `--metrics-bind`, serves them at `GET /metrics` on that separate listener
//! (off by default; keep it on a private interface).
//!
//! Counters and histograms are recorded where things happen (requests here,
//! starts in the gate, pickups and durations in the worker, reconciler
//! actions, Graph answers, desk handoffs). Gauges are read at scrape time,
//! cheaply: active runs through the partial index of queued/running runs
//! (never a count over every run), the oldest claimable run, the pool.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use domain::services::Services;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Histogram buckets in seconds: page and poll latencies, run pickups and durations.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0,
];

/// Installs the process's recorder once (later calls return the same one).
/// `None` when another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .ok()?
                .install_recorder()
                .ok()?;
            for (name, kind, help) in domain::telemetry::ALL {
                use domain::telemetry::Kind;
                match kind {
                    Kind::Counter => metrics::describe_counter!(*name, *help),
                    Kind::Gauge => metrics::describe_gauge!(*name, *help),
                    Kind::Histogram => metrics::describe_histogram!(*name, *help),
                }
            }
            metrics::gauge!(domain::telemetry::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"))
                .set(1.0);
            Some(handle)
        })
        .as_ref()
}

/// The exposition text: the recorded series plus the gauges read now.
pub async fn render(svc: &Services) -> String {
    let Some(handle) = install() else {
        return String::new();
    };
    read_gauges(svc).await;
    handle.render()
}

async fn read_gauges(svc: &Services) {
    match domain::runs::service::RunService::queue_state(svc).await {
        Ok(q) => {
            metrics::gauge!(domain::telemetry::RUNS_ACTIVE, "status" => "queued")
                .set(q.queued as f64);
            metrics::gauge!(domain::telemetry::RUNS_ACTIVE, "status" => "running")
                .set(q.running as f64);
            metrics::gauge!(domain::telemetry::QUEUE_OLDEST_AGE)
                .set(q.oldest_wait_ms as f64 / 1000.0);
            metrics::gauge!(domain::telemetry::METRICS_DATABASE_UP).set(1.0);
        }
        Err(_) => metrics::gauge!(domain::telemetry::METRICS_DATABASE_UP).set(0.0),
    }
    let pool = svc.store.pool_stats();
    metrics::gauge!(domain::telemetry::DB_POOL_CONNECTIONS, "state" => "in_use")
        .set(pool.in_use as f64);
    metrics::gauge!(domain::telemetry::DB_POOL_CONNECTIONS, "state" => "idle")
        .set(pool.idle as f64);
    metrics::gauge!(domain::telemetry::DB_POOL_WAITERS).set(pool.waiting as f64);
    metrics::gauge!(domain::telemetry::DB_POOL_MAX).set(pool.max as f64);
}

/// Records one answered request (called by the request-id layer).
pub fn record_request(route: &str, method: &http::Method, status: u16, seconds: f64) {
    let route = route.to_string();
    let method = method.as_str().to_string();
    metrics::counter!(
        domain::telemetry::HTTP_REQUESTS,
        "route" => route.clone(),
        "method" => method.clone(),
        "status" => status.to_string(),
    )
    .increment(1);
    metrics::histogram!(
        domain::telemetry::HTTP_DURATION,
        "route" => route,
        "method" => method,
    )
    .record(seconds);
}

async fn scrape(State(svc): State<Services>) -> impl IntoResponse {
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&svc).await,
    )
}

/// Serves `GET /metrics` on `bind` until the process ends.
pub async fn serve(bind: SocketAddr, svc: Services) -> Result<SocketAddr, String> {
    install();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot bind the metrics listener on {bind}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("metrics listener: {e}"))?;
    let app = Router::new().route("/metrics", get(scrape)).with_state(svc);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    tracing::info!(%bound, "metrics at /metrics");
    Ok(bound)
}
