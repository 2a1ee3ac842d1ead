//! OpenTelemetry export: with an OTLP endpoint, the spans the logs are
//! written in (the request, the gate's start, the run and its handler) reach
//! the collector as OTLP/HTTP protobuf batches; a collector that is away
//! costs nothing but the spans.

use crate::common::{Backend, spawn_app};
use crate::runs::{probe, wait_terminal};
use crate::world::run_world;
use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use domain::runs::gate::{Initiator, StartGate};
use domain::runs::worker::{Worker, WorkerConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

/// What the fake collector received: (content type, body) per export.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Export>>>);

/// One export: its content type and body.
type Export = (String, Vec<u8>);

impl Received {
    fn has(&self, needle: &str) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|(_, body)| body.windows(needle.len()).any(|w| w == needle.as_bytes()))
    }
}

async fn collector() -> (String, Received) {
    let received = Received::default();
    let keep = received.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |headers: http::HeaderMap, body: Bytes| {
            let keep = keep.clone();
            async move {
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                keep.0.lock().unwrap().push((ct, body.to_vec()));
                http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

#[tokio::test(flavor = "current_thread")]
async fn spans_reach_the_collector() {
    let (endpoint, received) = collector().await;
    let exporter = server::logging::otlp::Exporter::new(&endpoint, "tenantry-test").unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
        .with(exporter.layer());
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app(Backend::Sqlite).await;
    let w = run_world(&app).await;
    let b = app.browser();
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);
    assert_eq!(b.get(&format!("/admin/t/{}", w.tenant)).await.status, 200);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(Worker::new(app.services.clone(), WorkerConfig::default()).run(rx));
    let run = StartGate::start(
        &app.services,
        Initiator::User(&w.owner),
        probe(w.tenant, serde_json::json!({})),
    )
    .await
    .unwrap()
    .run;
    wait_terminal(&app, run).await;
    let _ = tx.send(true);
    let _ = worker.await;

    let flushing = exporter.clone();
    tokio::task::spawn_blocking(move || flushing.flush())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(received.has("gate.start") && received.has("runs.complete")) {
        assert!(
            Instant::now() < deadline,
            "the collector received no gate or run spans"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exports = received.0.lock().unwrap().clone();
    assert!(
        exports.iter().all(|(ct, _)| ct == "application/x-protobuf"),
        "OTLP/HTTP protobuf"
    );
    for span in ["request", "gate.start", "run", "runs.complete"] {
        assert!(received.has(span), "span {span} exported");
    }
    assert!(
        received.has("machinery_probe"),
        "the run's op_type attribute"
    );
    assert!(received.has("tenantry-test"), "the service name");
    assert!(
        !received.has(crate::common::PASSWORD),
        "no password in any exported span"
    );
    println!("{} OTLP exports received", exports.len());
}

/// No collector listening: requests are answered as usual and shutting the
/// exporter down returns within its timeout.
#[tokio::test(flavor = "current_thread")]
async fn an_absent_collector_costs_nothing_but_the_spans() {
    let exporter =
        server::logging::otlp::Exporter::new("http://127.0.0.1:9", "tenantry-test").unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(exporter.layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = spawn_app(Backend::Sqlite).await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(b.get("/healthz").await.status, 200);
    }
    assert_eq!(b.sign_in("ada@example.com").await.status, 200);
    let took = started.elapsed();
    let stopping = Instant::now();
    tokio::task::spawn_blocking(move || exporter.shutdown())
        .await
        .unwrap();
    println!(
        "21 requests in {took:?} with the collector away; exporter shut down in {:?}",
        stopping.elapsed()
    );
    assert!(stopping.elapsed() < Duration::from_secs(15));
}

/// Exports one span through a fresh exporter and flushes; how long the flush took.
async fn export_one(endpoint: &str) -> Duration {
    let exporter = server::logging::otlp::Exporter::new(endpoint, "tenantry-test").unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(exporter.layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("gate.start", op_type = "inventory_sync").in_scope(|| {
            tracing::info!("admitted");
        });
    });
    let started = Instant::now();
    tokio::task::spawn_blocking(move || exporter.flush())
        .await
        .unwrap();
    started.elapsed()
}

/// A collector that redirects is not followed (spans go to the configured
/// address or nowhere), and one that accepts and never answers costs at most
/// the export timeout.
#[tokio::test(flavor = "current_thread")]
async fn a_misbehaving_collector_is_neither_followed_nor_waited_for() {
    let (elsewhere, received) = collector().await;
    let target = format!("{elsewhere}/v1/traces");
    let redirecting = Router::new().route(
        "/v1/traces",
        post(move || {
            let target = target.clone();
            async move { (http::StatusCode::TEMPORARY_REDIRECT, [("location", target)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, redirecting).await });
    export_one(&format!("http://{addr}")).await;
    // Give a followed redirect every chance to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        received.0.lock().unwrap().is_empty(),
        "the redirect was followed"
    );

    // Accepts connections, reads nothing, answers nothing.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hanging.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            held.push(socket);
        }
    });
    let took = export_one(&format!("http://{addr}")).await;
    println!("flush against a collector that never answers returned after {took:?}");
    assert!(took < Duration::from_secs(12), "{took:?}");
}
