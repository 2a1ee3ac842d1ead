//! Logs an operator can follow: every request has an id (the caller's plain
//! `x-request-id`, else a fresh one) that comes back in the response and is
//! on every JSON log line written while it is handled, with the route
//! template; every line written while a run is handled names the run.

use crate::common::{Backend, spawn_app};
use crate::runs::{probe, wait_terminal};
use crate::world::run_world;
use domain::runs::gate::{Initiator, StartGate};
use domain::runs::worker::{Worker, WorkerConfig};
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// The field `name` of a JSON line, from the event or any span it is in.
fn field<'v>(line: &'v Value, name: &str) -> Option<&'v Value> {
    line.get(name)
        .or_else(|| line["spans"].as_array()?.iter().find_map(|s| s.get(name)))
}

// One thread, so the test's subscriber sees the server's and the worker's lines.
#[tokio::test(flavor = "current_thread")]
async fn requests_and_runs_are_on_every_log_line() {
    let captured = Captured::default();
    // The production JSON format, captured.
    let subscriber = server::logging::json_subscriber(
        tracing_subscriber::EnvFilter::new("info,domain=debug,engine=debug,sqlx=warn"),
        captured.clone(),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app(Backend::Sqlite).await;
    let w = run_world(&app).await;
    let b = app.browser();
    assert_eq!(b.sign_in("owner@example.com").await.status, 200);

    // The caller's plain id is kept and returned.
    let res = b
        .client
        .get(format!("{}/admin/t/{}", b.base, w.tenant))
        .header("x-request-id", "lb-7f3a.42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "lb-7f3a.42");
    // Anything else is replaced by a fresh id (a header cannot inject into the logs).
    let res = b
        .client
        .get(format!("{}/admin/operations", b.base))
        .header("x-request-id", "evil\" id")
        .send()
        .await
        .unwrap();
    let fresh = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(fresh.len(), 16, "{fresh}");
    assert!(fresh.chars().all(|c| c.is_ascii_hexdigit()));

    let lines = captured.lines();
    let access = lines
        .iter()
        .find(|l| {
            l["message"] == "request" && field(l, "request_id") == Some(&Value::from("lb-7f3a.42"))
        })
        .expect("an access line for the dashboard request");
    assert_eq!(
        access["route"], "/admin/t/{tenant}",
        "the template, not the raw path: {access}"
    );
    assert_eq!(access["status"], 200);
    assert!(access["duration_ms"].as_f64().is_some());
    assert_eq!(field(access, "method"), Some(&Value::from("GET")));
    assert!(
        lines.iter().any(|l| l["message"] == "request"
            && field(l, "request_id") == Some(&Value::from(fresh.as_str()))
            && l["route"] == "/admin/operations"),
        "the replaced id is the one logged"
    );
    assert!(
        !lines.iter().any(|l| l.to_string().contains("evil")),
        "the refused id is never logged"
    );

    // A run: the handler's own lines carry the run's ids.
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
    let lines = captured.lines();
    let probe_line = lines
        .iter()
        .find(|l| l["message"] == "probe finished")
        .expect("the probe's line");
    assert_eq!(field(probe_line, "run_id"), Some(&Value::from(run.0)));
    assert_eq!(
        field(probe_line, "op_type"),
        Some(&Value::from("machinery_probe"))
    );
    assert_eq!(field(probe_line, "attempt"), Some(&Value::from(1)));
    assert!(field(probe_line, "workspace_id").is_some());
}

/// The canary: signing in, saving a connection's client secret and handing a
/// request to a desk, logged at the most verbose level for Tenantry's crates
/// (debug for the libraries), never write a password, a session token, a
/// client secret or a desk credential.
#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_a_log_line() {
    const CLIENT_SECRET: &str = "canary-client-secret-5f2c9d";
    const DESK_SECRET: &str = "canary-desk-secret-a81e44";
    let captured = Captured::default();
    let subscriber = server::logging::json_subscriber(
        tracing_subscriber::EnvFilter::new(
            "debug,engine=trace,domain=trace,server=trace,app=trace,simulators=trace",
        ),
        captured.clone(),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app(Backend::Sqlite).await;
    let w = run_world(&app).await;
    let b = app.browser();
    let signed_in = b.sign_in("owner@example.com").await;
    assert_eq!(signed_in.status, 200);
    let session = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';')
                .next()?
                .split_once('=')
                .map(|(_, v)| v.to_string())
        })
        .expect("a session cookie");
    assert!(session.len() >= 32, "{session}");
    // A failed sign-in carries the password attempt too.
    let other = app.browser();
    other
        .call(
            "/api/session/sign_in",
            &[
                ("email", "owner@example.com".to_string()),
                ("password", "canary-wrong-password-77".to_string()),
            ],
        )
        .await;
    let r = b
        .call(
            "/api/connections/create",
            &[
                ("tenant", w.tenant.to_string()),
                ("display_name", "Canary app".into()),
                (
                    "entra_tenant_id",
                    "11111111-1111-1111-1111-111111111111".into(),
                ),
                ("client_id", "22222222-2222-2222-2222-222222222222".into()),
                ("client_secret", CLIENT_SECRET.into()),
            ],
        )
        .await;
    assert!(r.status < 300, "{}: {}", r.status, r.body);
    let desk = simulators::halopsa::HaloSimulator::start("canary-client", DESK_SECRET)
        .await
        .unwrap();
    let svc = app
        .services
        .clone()
        .with_port(domain::support::desk::DeskConfig::HaloPsa {
            base_url: desk.base_url(),
            client_id: "canary-client".into(),
            client_secret: domain::secrets::Secret::new(DESK_SECRET),
        });
    let handed = domain::support::request(
        &svc,
        &w.owner,
        domain::support::SupportContext::Tenant(w.tenant),
        domain::support::NewSupportRequest {
            subject: "Canary".into(),
            description: "Checking the logs.".into(),
            severity: domain::support::Severity::Low,
            contact: None,
            existing_ticket: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(handed.handoff, domain::support::Handoff::Created);

    let bytes = captured.0.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&bytes);
    // The canary saw the flows it guards.
    for seen in [
        "/api/session/sign_in",
        "/api/connections/create",
        "connecting to",
    ] {
        assert!(text.contains(seen), "{seen} not logged:\n{text}");
    }
    for secret in [
        crate::common::PASSWORD,
        "canary-wrong-password-77",
        session.as_str(),
        CLIENT_SECRET,
        DESK_SECRET,
    ] {
        assert!(
            !text.contains(secret),
            "a secret reached the logs: {secret}"
        );
    }
}
