//! Prometheus metrics: what one process records and serves at `/metrics`
//! (requests by route template, starts by result, pickup and run duration,
//! active runs and queue age read at scrape time, the pool, build info), and
//! the shipped `ops/` files only name series the process really exports.

use crate::common::{Backend, spawn_app};
use crate::runs::{probe, wait_terminal};
use crate::world::run_world;
use domain::runs::gate::{Initiator, StartGate};
use domain::runs::worker::{Worker, WorkerConfig};
use std::collections::BTreeSet;

/// The value of the first sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(url: &str) -> String {
    let res = reqwest::get(url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    res.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_exports_what_it_does() {
    server::metrics::install().expect("the recorder");
    let app = spawn_app(Backend::Postgres).await;
    let w = run_world(&app).await;
    let metrics = server::metrics::serve("127.0.0.1:0".parse().unwrap(), app.services.clone())
        .await
        .unwrap();
    let url = format!("http://{metrics}/metrics");

    let b = app.browser();
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);
    assert_eq!(b.get(&format!("/admin/t/{}", w.tenant)).await.status, 200);

    // A run nobody picks up yet: active, and the queue ages with the clock.
    let queued = StartGate::start(
        &app.services,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap()
    .run;
    app.clock.advance_ms(90_000);
    let text = scrape(&url).await;
    assert_eq!(
        sample(&text, "tenantry_runs_active{status=\"queued\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tenantry_queue_oldest_age_seconds"),
        Some(90.0)
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("tenantry_http_requests_total{")
                && l.contains("route=\"/admin/t/{tenant}\"")
                && l.contains("status=\"200\"")
                && l.contains("method=\"GET\"")),
        "{text}"
    );
    assert!(text.contains("tenantry_http_request_duration_seconds_bucket{"));
    assert!(
        sample(
            &text,
            "tenantry_runs_started_total{op_type=\"machinery_probe\",result=\"queued\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(sample(&text, "tenantry_db_pool_max_connections").is_some_and(|n| n >= 1.0));
    assert!(text.contains("tenantry_db_pool_connections{state=\"idle\"}"));
    assert_eq!(
        sample(&text, "tenantry_db_pool_waiters"),
        Some(0.0),
        "nobody waiting at rest"
    );
    assert!(text.contains("tenantry_build_info{version=\""));

    // A worker picks it up: pickup latency (90 s on the test clock) and duration.
    let (tx, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(Worker::new(app.services.clone(), WorkerConfig::default()).run(rx));
    wait_terminal(&app, queued).await;
    let _ = tx.send(true);
    let _ = worker.await;
    let text = scrape(&url).await;
    assert_eq!(
        sample(
            &text,
            "tenantry_run_pickup_seconds_sum{op_type=\"machinery_probe\"}"
        ),
        Some(90.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "tenantry_run_duration_seconds_count{op_type=\"machinery_probe\",outcome=\"succeeded\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tenantry_runs_active{status=\"queued\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "tenantry_queue_oldest_age_seconds"),
        Some(0.0)
    );

    // Every series the shipped dashboard and alert rules name is one a
    // process exports (recorded here, or by Graph, the desk, the reconciler).
    let exported: BTreeSet<String> = text
        .lines()
        .filter(|l| l.starts_with("tenantry_"))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(base_name)
        .collect();
    // Recorded elsewhere (Graph, the desk, the reconciler): declared with
    // every other metric in `domain::telemetry`, the one list.
    let elsewhere: Vec<&str> = domain::telemetry::ALL
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| !exported.contains(*n))
        .collect();
    for name in &exported {
        assert!(
            domain::telemetry::declared(name),
            "{name} is exported but not declared in domain::telemetry"
        );
    }
    for file in ["ops/alerts.yml", "ops/grafana-dashboard.json"] {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let named = names_in(&text);
        assert!(!named.is_empty(), "{file} names no series");
        for name in named {
            assert!(
                exported.contains(&name) || elsewhere.contains(&name.as_str()),
                "{file} names {name}, which no process exports"
            );
        }
    }
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn base_name(name: &str) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            return base.to_string();
        }
    }
    name.to_string()
}

/// `tenantry_…` identifiers in a file, suffixes stripped.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("tenantry_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(base_name(&tail[..end]));
        rest = &tail[end..];
    }
    out
}
