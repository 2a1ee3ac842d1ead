//! The support-desk round trip against a real Request Tracker 5 (Debian's
//! `request-tracker5`, installed by `scripts/setup.sh --browser`): start
//! `rt-server` on 127.0.0.1, make a token with RT's own API, hand a request
//! over, and read the ticket back through RT's REST 2 API.

use crate::common::{Backend, spawn_app};
use crate::world::run_world;
use domain::secrets::Secret;
use domain::support::desk::DeskConfig;
use domain::support::{Handoff, NewSupportRequest, Severity, SupportContext};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RT_SERVER: &str = "/usr/share/request-tracker5/libexec/rt-server";

/// Stops RT when the test ends, whatever happens. `rt-server` forks
/// workers, so it runs in a process group of its own and the whole group
/// is killed (killing the parent alone leaves its workers running).
struct RtServer(Child);

impl Drop for RtServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_becomes_a_ticket_in_request_tracker() {
    if !std::path::Path::new(RT_SERVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Request Tracker is not installed: scripts/setup.sh --browser installs it"
        );
        eprintln!("skipped: Request Tracker 5 is not installed (scripts/setup.sh --browser)");
        return;
    }
    let port = free_port();
    let started = Instant::now();
    let _rt = RtServer(
        Command::new(RT_SERVER)
            .args(["--port", &port.to_string()])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rt-server"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("{base}/REST/2.0/")).send().await {
            // 401 without a token: RT is up.
            if r.status().as_u16() == 401 || r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "rt-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let up = started.elapsed();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rt-token.pl");
    let out = Command::new("perl").arg(script).output().expect("run perl");
    assert!(
        out.status.success(),
        "token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // Warm RT's first request up outside the 5 s handoff.
    let warm = http
        .get(format!("{base}/REST/2.0/queue/General"))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert!(warm.status().is_success(), "RT answered {}", warm.status());
    eprintln!("rt-server answered after {up:?}");

    let app = spawn_app(Backend::Sqlite).await;
    let w = run_world(&app).await;
    let svc = app.services.clone().with_port(DeskConfig::RequestTracker {
        base_url: base.clone(),
        token: Secret::new(token.clone()),
        queue: "General".into(),
    });
    let v = domain::support::request(
        &svc,
        &w.owner,
        SupportContext::Tenant(w.tenant),
        NewSupportRequest {
            subject: "Graph throttling on Fabrikam".into(),
            description: "Every sync is throttled since this morning.".into(),
            severity: Severity::Critical,
            contact: None,
            existing_ticket: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(v.handoff, Handoff::Created, "{:?}", v.failure_summary);
    let id = v
        .desk_reference
        .as_deref()
        .and_then(|r| r.strip_prefix("RT #"))
        .expect("an RT reference")
        .to_string();
    let ticket: serde_json::Value = http
        .get(format!("{base}/REST/2.0/ticket/{id}"))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ticket["Subject"], "Graph throttling on Fabrikam");
    let latest = domain::support::latest(&svc, &w.owner, SupportContext::Tenant(w.tenant))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.reference, v.reference);
    assert!(
        !format!("{latest:?}").contains(&token),
        "the token is never stored"
    );
}
