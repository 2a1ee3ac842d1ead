//! The reliability suite (spec 008). Each test prints its figures. A short
//! mode runs with every `.ci/run`; `scripts/reliability.sh` runs the long
//! mode (`TENANTRY_RELIABILITY=full`): more runs, more kills, more bodies.
//!
//! * kill -9 soak: `serve` + two `worker` processes on PostgreSQL, runs
//!   against the Graph simulator with latency (and engine probes that journal
//!   each execution), a random process killed with SIGKILL every few seconds
//!   and restarted; then every run is terminal, none executed or finished
//!   twice, and every re-execution is an attempt.
//! * database outage: the processes reach PostgreSQL through a proxy the
//!   test cuts; readiness, pages and recovery without a restart.
//! * server-function and route fuzzing: `fuzz.rs` (every role, both
//!   backends, and the routes that are not server functions).
//! * slow clients: headers or bodies sent a byte at a time hold no request
//!   slot and are cut off; everyone else is served.

use crate::common::{Backend, PASSWORD, TestDatabase, open_store};
use crate::tcp_proxy::TcpProxy;
use domain::access::Actor;
use domain::ids::{RunId, TenantId};
use domain::runs::StartDecision;
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::services::{Services, Settings};
use simulators::graph::{Fault, GraphSimulator, SimTenant};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENT: &str = "6c0a7d7e-8b1f-4a8e-9e0a-3d2f1c5b7a90";
const SECRET: &str = "reliability-client-secret-1234567890";
const KEY: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

pub(crate) fn full() -> bool {
    std::env::var("TENANTRY_RELIABILITY").as_deref() == Ok("full")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One `tenantry` process the suite starts, kills and restarts; its output
/// goes to a file that is checked for panics at the end.
struct Proc {
    name: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn new(name: &str, args: &[&str], envs: &[(String, String)], dir: &std::path::Path) -> Proc {
        let mut p = Proc {
            name: name.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            envs: envs.to_vec(),
            log: dir.join(format!("{name}.log")),
            child: None,
        };
        p.start();
        p
    }

    fn start(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("process log");
        let err = out.try_clone().expect("process log");
        let child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("start tenantry");
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, no drain, leases left behind.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn panics(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("panicked"))
            .map(str::to_string)
            .collect()
    }
}

/// What every process of a test shares: its database, the sealing key, the
/// data directory, short leases and sweeps (so lost work is found in
/// seconds), and quiet logs; plus the test's own variables.
fn environment(
    db_url: &str,
    dir: &std::path::Path,
    extra: &[(&str, String)],
) -> Vec<(String, String)> {
    let mut envs: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db_url.into()),
        ("TENANTRY_SECRET_KEY".into(), KEY.into()),
        ("TENANTRY_DATA_DIR".into(), dir.display().to_string()),
        ("TENANTRY_LEASE_SECONDS".into(), "3".into()),
        ("TENANTRY_RECONCILE_SECONDS".into(), "1".into()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    envs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    envs
}

/// `tenantry serve` on `port` (workspaces may be created), with `extra` flags.
fn serve_proc(port: u16, extra: &[&str], envs: &[(String, String)], dir: &std::path::Path) -> Proc {
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec![
        "serve",
        "--bind",
        bind.as_str(),
        "--allow-workspace-creation",
    ];
    args.extend_from_slice(extra);
    Proc::new("serve", &args, envs, dir)
}

/// `tenantry worker` with one worker running `concurrency` runs at once.
fn worker_proc(
    name: &str,
    concurrency: &str,
    envs: &[(String, String)],
    dir: &std::path::Path,
) -> Proc {
    Proc::new(
        name,
        &["worker", "--workers", "1", "--concurrency", concurrency],
        envs,
        dir,
    )
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A browser-like client of a `serve` process.
#[derive(Clone)]
struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    fn new(port: u16) -> Client {
        Client {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.text().await?))
    }

    async fn call(
        &self,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<(u16, String, Option<String>), reqwest::Error> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "application/json")
            .form(form)
            .send()
            .await?;
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok((status, r.text().await?, location))
    }

    async fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Ok((200, _)) = self.get("/readyz").await {
                return;
            }
            assert!(Instant::now() < deadline, "serve did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The test process's own view of the database (real clock).
async fn services(url: &str) -> Services {
    domain::operations::services(open_store(url).await, Settings::default())
}

async fn owner(svc: &Services, email: &str) -> Actor {
    let id = domain::accounts::create_user(
        svc,
        &domain::validate::Email::parse(email).unwrap(),
        &domain::validate::NewPassword::parse(PASSWORD).unwrap(),
        false,
    )
    .await
    .unwrap();
    crate::common::setup_actor(id, email)
}

/// Signs in, creates a workspace and `n` tenants with a connection each to
/// the simulator's tenants, all through `serve`'s HTTP entry points.
async fn set_up_through_http(
    c: &Client,
    svc: &Services,
    owner: &Actor,
    guids: &[String],
    verify: bool,
) -> Vec<TenantId> {
    let email = owner.email.clone();
    let (s, body, _) = c
        .call(
            "/api/session/sign_in",
            &[("email", email), ("password", PASSWORD.into())],
        )
        .await
        .unwrap();
    assert_eq!(s, 200, "{body}");
    let (s, body, _) = c
        .call("/api/workspaces/create", &[("name", "Soak MSP".into())])
        .await
        .unwrap();
    assert_eq!(s, 200, "{body}");
    let ws = domain::workspaces::list_for_user(svc, owner.user_id)
        .await
        .unwrap()[0]
        .id;
    let (s, body, _) = c
        .call("/api/workspaces/switch", &[("workspace", ws.to_string())])
        .await
        .unwrap();
    assert_eq!(s, 200, "{body}");
    let mut tenants = Vec::new();
    for (i, guid) in guids.iter().enumerate() {
        let (s, body, location) = c
            .call(
                "/api/tenants/create",
                &[
                    ("workspace", ws.to_string()),
                    ("display_name", format!("Soak tenant {i}")),
                    ("microsoft_tenant_id", guid.clone()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{body}");
        let tenant: i64 = location
            .as_deref()
            .and_then(|l| l.split("/admin/t/").nth(1))
            .and_then(|s| s.split(['/', '?']).next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("tenant id in the redirect: {location:?} {body}"));
        let (s, body, _) = c
            .call(
                "/api/connections/create",
                &[
                    ("tenant", tenant.to_string()),
                    ("display_name", "Tenantry app".into()),
                    ("entra_tenant_id", guid.clone()),
                    ("client_id", CLIENT.into()),
                    ("client_secret", SECRET.into()),
                    ("expires_on", "2030-12-31".into()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{body}");
        tenants.push(TenantId(tenant));
    }
    if verify {
        // Verification against the simulator confirms the consent.
        for t in &tenants {
            let run = start_http(c, *t, "tenant_verification")
                .await
                .expect("verification starts");
            let deadline = Instant::now() + Duration::from_secs(60);
            while status_of(svc, run).await != "completed" {
                assert!(Instant::now() < deadline, "verification never ended");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    } else {
        // No Graph here: the connections are marked consented directly.
        sqlx::query("UPDATE provider_connections SET consent = 'granted'")
            .execute(svc.store.unguarded_pool())
            .await
            .unwrap();
    }
    tenants
}

async fn status_of(svc: &Services, run: RunId) -> String {
    sqlx::query_as::<_, (String,)>("SELECT status FROM operation_runs WHERE id = $1")
        .bind(run.0)
        .fetch_one(svc.store.unguarded_pool())
        .await
        .map(|r| r.0)
        .unwrap_or_default()
}

/// Starts one operation through `serve` (retrying while it is down); the run.
async fn start_http(c: &Client, tenant: TenantId, op: &str) -> Option<RunId> {
    for _ in 0..100 {
        match c
            .call(
                "/api/operations/start",
                &[("tenant", tenant.to_string()), ("op_type", op.into())],
            )
            .await
        {
            Ok((200, body, _)) => {
                let toast: serde_json::Value = serde_json::from_str(&body).ok()?;
                // "Already running": an earlier try was taken, its answer lost
                // with a killed serve; the toast links to that run.
                assert!(
                    toast["title"] == "Queued" || toast["title"] == "Already running",
                    "{toast}"
                );
                return toast["link"]
                    .as_str()
                    .and_then(|l| l.rsplit('/').next())
                    .and_then(|id| id.parse().ok())
                    .map(RunId);
            }
            // Killed mid-request, restarting, or shedding: try again.
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    None
}

/// kill -9 soak on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_soak() {
    let (tenants_n, runs_target, kill_every) = if full() {
        (24usize, 1440usize, Duration::from_secs(2))
    } else {
        (6, 120, Duration::from_millis(1500))
    };
    let guids: Vec<String> = (0..tenants_n)
        .map(|i| format!("7a1c0000-0000-4000-8000-{i:012}"))
        .collect();
    let sim = GraphSimulator::start(
        guids
            .iter()
            .map(|g| {
                SimTenant::healthy(g, "Soak", CLIENT, SECRET)
                    .with_fault(Fault::Slow { delay_ms: 40 })
            })
            .collect(),
    )
    .await
    .unwrap();
    let db = TestDatabase::create(Backend::Postgres).await;
    let svc = services(&db.url).await;
    let email = "soak@example.com";
    let owner = owner(&svc, email).await;
    let dir = db.data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let envs = environment(
        &db.url,
        &dir,
        &[
            ("TENANTRY_GRAPH_URL", sim.graph_url()),
            ("TENANTRY_GRAPH_AUTHORITY", sim.authority_url()),
            ("TENANTRY_LOG_FORMAT", "json".into()),
        ],
    );
    let mut procs = vec![
        serve_proc(port, &["--workers", "1", "--concurrency", "4"], &envs, &dir),
        worker_proc("worker-1", "4", &envs, &dir),
        worker_proc("worker-2", "4", &envs, &dir),
    ];
    let c = Client::new(port);
    c.wait_ready(Duration::from_secs(60)).await;
    let tenants = set_up_through_http(&c, &svc, &owner, &guids, true).await;

    // Each tenant in turn: a Graph operation through serve, then an engine
    // probe through the gate, until the target is reached.
    let started = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<(RunId, &'static str)>::new()));
    let soak_started = Instant::now();
    let mut loops = Vec::new();
    for (i, tenant) in tenants.iter().copied().enumerate() {
        let (c, svc, owner, started) = (c.clone(), svc.clone(), owner.clone(), started.clone());
        let per_tenant = runs_target / tenants_n;
        loops.push(tokio::spawn(async move {
            for k in 0..per_tenant {
                let run = if k % 2 == 0 {
                    let op = [
                        "inventory_sync",
                        "compliance_snapshot",
                        "tenant_verification",
                    ][(i + k / 2) % 3];
                    let Some(run) = start_http(&c, tenant, op).await else {
                        panic!("serve never took the start");
                    };
                    started.lock().await.push((run, op));
                    run
                } else {
                    let r = StartGate::start(
                        &svc,
                        Initiator::User(&owner),
                        StartRequest {
                            tenant,
                            op_type: domain::runs::probe::MACHINERY_PROBE,
                            connection: None,
                            args: serde_json::json!({"sleep_ms": 400}),
                        },
                    )
                    .await
                    .unwrap();
                    assert_eq!(r.decision, StartDecision::Accepted);
                    started.lock().await.push((r.run, "machinery_probe"));
                    r.run
                };
                // One at a time per tenant (one active run per scope).
                let deadline = Instant::now() + Duration::from_secs(120);
                while status_of(&svc, run).await != "completed" {
                    assert!(Instant::now() < deadline, "run {run} never ended");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }

    // The killer: a random process every few seconds, restarted at once.
    let mut kills: BTreeMap<String, usize> = BTreeMap::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next_kill = Instant::now() + kill_every;
    while !loops.iter().all(|l| l.is_finished()) {
        assert!(
            soak_started.elapsed() < Duration::from_secs(if full() { 900 } else { 240 }),
            "the soak did not finish"
        );
        if Instant::now() >= next_kill {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let victim = &mut procs[(seed % 3) as usize];
            victim.kill9();
            *kills.entry(victim.name.clone()).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
            victim.start();
            next_kill = Instant::now() + kill_every;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for l in loops {
        l.await.unwrap();
    }
    let soak_took = soak_started.elapsed();

    // Every run terminal; count outcomes and attempts.
    let runs: Vec<(i64, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, status, outcome, reason_code, attempts FROM operation_runs ORDER BY id",
    )
    .fetch_all(svc.store.unguarded_pool())
    .await
    .unwrap();
    let mut started = started.lock().await.clone();
    started.sort();
    started.dedup();
    // A start whose answer was lost with a killed serve was tried again; the
    // run it made may have ended before the retry, which then made another.
    assert!(
        runs.len() >= started.len(),
        "every started run is in the table"
    );
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for (id, status, outcome, reason, _) in &runs {
        assert_eq!(status, "completed", "run {id}");
        *outcomes.entry(outcome.clone()).or_default() += 1;
        if outcome != "succeeded" {
            assert_eq!(
                reason.as_deref(),
                Some("lease_expired"),
                "run {id} ended {outcome} for a reason other than repeated kills"
            );
        }
    }
    let re_executed = runs.iter().filter(|r| r.4 > 1).count();
    let attempts: i64 = runs.iter().map(|r| r.4).sum();

    // Probes journal each execution: no attempt executed twice, no execution
    // without an attempt, and a succeeded probe ran its last attempt.
    let journal: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT run_id, attempt, COUNT(*) FROM probe_executions GROUP BY run_id, attempt",
    )
    .fetch_all(svc.store.unguarded_pool())
    .await
    .unwrap();
    let by_run: HashMap<i64, &(i64, String, String, Option<String>, i64)> =
        runs.iter().map(|r| (r.0, r)).collect();
    for (run, attempt, n) in &journal {
        assert_eq!(*n, 1, "run {run} attempt {attempt} executed {n} times");
        let r = by_run[run];
        assert!(
            *attempt <= r.4,
            "run {run}: execution of attempt {attempt} > {}",
            r.4
        );
    }
    for (id, kind) in &started {
        let r = by_run[&id.0];
        if *kind == "machinery_probe" && r.2 == "succeeded" {
            assert!(
                journal.iter().any(|(run, a, _)| *run == id.0 && *a == r.4),
                "succeeded probe {id} has no execution of its last attempt"
            );
        }
    }
    // Finished once: one completion notification per run for its starter,
    // and at most one published result per Graph run.
    let twice: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT run_id, COUNT(*) FROM notifications WHERE run_id IS NOT NULL GROUP BY run_id HAVING COUNT(*) > 1",
    )
    .fetch_all(svc.store.unguarded_pool())
    .await
    .unwrap();
    assert!(twice.is_empty(), "runs finished twice: {twice:?}");
    let published: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT s.run_id, COUNT(*) FROM inventory_snapshots s JOIN operation_runs r ON r.id = s.run_id AND r.attempts = s.attempt GROUP BY s.run_id HAVING COUNT(*) > 1",
    )
    .fetch_all(svc.store.unguarded_pool())
    .await
    .unwrap();
    assert!(published.is_empty(), "runs published twice: {published:?}");
    let mut panics = Vec::new();
    for p in &mut procs {
        panics.extend(p.panics());
    }
    assert!(panics.is_empty(), "panics: {panics:?}");
    for p in &mut procs {
        assert!(p.running(), "{} still running", p.name);
    }
    println!(
        "kill -9 soak: {} runs ({} Graph operations, {} probes) over {} tenants in {:.1} s; kills {:?}; outcomes {:?}; {} runs re-executed, {} attempts in all; 0 executed twice, 0 finished twice",
        runs.len(),
        started.iter().filter(|s| s.1 != "machinery_probe").count(),
        started.iter().filter(|s| s.1 == "machinery_probe").count(),
        tenants_n,
        soak_took.as_secs_f64(),
        kills,
        outcomes,
        re_executed,
        attempts
    );
    drop(procs);
    svc.store.close().await;
}

/// PostgreSQL stops under `serve` and a `worker` (a proxy the test cuts)
/// while a client keeps loading pages and probes are running: readiness says
/// so within 2 s, pages answer 503 fast, and when it returns everything
/// recovers without a restart: pages, readiness, and the workers finish the
/// runs that were under way and take new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_under_processes() {
    let outage = if full() {
        Duration::from_secs(20)
    } else {
        Duration::from_secs(4)
    };
    let db = TestDatabase::create(Backend::Postgres).await;
    let svc = services(&db.url).await;
    let owner = owner(&svc, "outage@example.com").await;
    let proxy = TcpProxy::start("127.0.0.1:5432".parse().unwrap()).await;
    let via = db
        .url
        .replacen("127.0.0.1:5432", &proxy.addr.to_string(), 1);
    let dir = db.data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let envs = environment(&via, &dir, &[]);
    let mut procs = vec![
        serve_proc(port, &["--workers", "0"], &envs, &dir),
        worker_proc("worker", "8", &envs, &dir),
    ];
    let c = Client::new(port);
    c.wait_ready(Duration::from_secs(60)).await;
    let guids: Vec<String> = (0..4)
        .map(|i| format!("0a7a0000-0000-4000-8000-{i:012}"))
        .collect();
    let tenants = set_up_through_http(&c, &svc, &owner, &guids, false).await;
    let probe = |tenant: TenantId, sleep_ms: u64| StartRequest {
        tenant,
        op_type: domain::runs::probe::MACHINERY_PROBE,
        connection: None,
        args: serde_json::json!({ "sleep_ms": sleep_ms }),
    };
    let mut before = Vec::new();
    for t in &tenants {
        let r = StartGate::start(&svc, Initiator::User(&owner), probe(*t, 1500))
            .await
            .unwrap();
        assert_eq!(r.decision, StartDecision::Accepted);
        before.push(r.run);
    }
    // Let the worker claim them.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let page = format!("/admin/t/{}", tenants[0]);
    assert_eq!(c.get(&page).await.unwrap().0, 200);

    proxy.cut();
    let cut = Instant::now();
    let readyz_after = loop {
        if let Ok((503, _)) = c.get("/readyz").await {
            break cut.elapsed();
        }
        assert!(
            cut.elapsed() < Duration::from_secs(5),
            "readiness never said 503"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut during = Vec::new();
    while cut.elapsed() < outage {
        let t = Instant::now();
        let (status, body) = c
            .get(&page)
            .await
            .expect("an answer, not a dropped connection");
        during.push((status, t.elapsed()));
        assert!(status == 503 || status == 200, "{status}: {body}");
        if status == 503 {
            assert!(body.contains("reach its database"), "{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shed: Vec<Duration> = during
        .iter()
        .filter(|(s, _)| *s == 503)
        .map(|(_, d)| *d)
        .collect();
    let slowest = shed.iter().max().copied().unwrap_or_default();
    assert!(
        shed.len() * 10 >= during.len() * 9,
        "pages answered 503 during the outage: {during:?}"
    );
    assert!(slowest < Duration::from_secs(1), "{during:?}");

    proxy.restore().await;
    let back = Instant::now();
    let (ready_again, page_again) = loop {
        let ready = matches!(c.get("/readyz").await, Ok((200, _)));
        let page_ok = matches!(c.get(&page).await, Ok((200, _)));
        if ready && page_ok {
            break (back.elapsed(), back.elapsed());
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "no recovery without a restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The workers finish what was under way and take new work.
    let after = StartGate::start(&svc, Initiator::User(&owner), probe(tenants[0], 0)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pending: Vec<RunId> = before.clone();
    let mut after_run = None;
    loop {
        if after_run.is_none() {
            // The tenant's earlier probe may still hold its scope.
            match after {
                Ok(ref r) if r.decision == StartDecision::Accepted => after_run = Some(r.run),
                _ => {
                    if let Ok(r) =
                        StartGate::start(&svc, Initiator::User(&owner), probe(tenants[0], 0)).await
                        && r.decision == StartDecision::Accepted
                    {
                        after_run = Some(r.run);
                    }
                }
            }
        }
        let mut still = Vec::new();
        for r in pending.iter().copied().chain(after_run) {
            if status_of(&svc, r).await != "completed" {
                still.push(r);
            }
        }
        if still.is_empty() && after_run.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "runs never ended: {still:?}");
        pending.retain(|r| still.contains(r));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after_run = after_run.expect("a run after the outage");
    let (outcome,): (String,) = sqlx::query_as("SELECT outcome FROM operation_runs WHERE id = $1")
        .bind(after_run.0)
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(
        outcome, "succeeded",
        "the worker takes new work after the outage"
    );
    let outcomes: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT outcome, reason_code, attempts FROM operation_runs WHERE id <> $1 ORDER BY id",
    )
    .bind(after_run.0)
    .fetch_all(svc.store.unguarded_pool())
    .await
    .unwrap();
    for p in &mut procs {
        assert!(p.running(), "{} survived the outage", p.name);
        assert!(p.panics().is_empty(), "{}: {:?}", p.name, p.panics());
    }
    println!(
        "database outage ({outage:?}) under serve + worker: readyz 503 after {readyz_after:?}; {} of {} page loads 503, slowest {slowest:?}; readiness and pages back {ready_again:?}/{page_again:?} after the database returned, no restart; runs under way: {outcomes:?}; a new run succeeded",
        shed.len(),
        during.len(),
    );
    drop(procs);
    svc.store.close().await;
}

/// Clients that send their headers or their form a byte at a time: they hold
/// a connection, never one of the few request slots, and are cut off after
/// the client timeout (408 for a body); past the connection cap new
/// connections are closed at once. Everyone else is served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_hold_no_request_slots() {
    let (slow_headers, slow_bodies) = if full() { (400, 200) } else { (60, 30) };
    let timeout = Duration::from_secs(2);
    let app = crate::common::app(Backend::Sqlite)
        .web(server::web::WebConfig {
            limits: server::shedding::LoadLimits {
                max_in_flight: 8,
                body_timeout: timeout,
                ..Default::default()
            },
            connections: server::serving::ConnectionLimits {
                header_timeout: timeout,
                max_connections: slow_headers + slow_bodies + 40,
            },
            ..Default::default()
        })
        .spawn()
        .await;
    app.create_user("ada@example.com", false).await;
    let b = app.browser();
    assert_eq!(b.sign_in("ada@example.com").await.status, 200);
    let addr = app.address.trim_start_matches("http://").to_string();

    // Headers that never end.
    let mut header_conns = Vec::new();
    for _ in 0..slow_headers {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /admin HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        header_conns.push(s);
    }
    // Forms that trickle in, well within the size limit.
    let mut body_conns = Vec::new();
    for _ in 0..slow_bodies {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            format!(
                "POST /api/workspaces/create HTTP/1.1\r\nHost: {addr}\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\nname="
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        body_conns.push(s);
    }
    let trickle = tokio::spawn(async move {
        // A byte every 200 ms on every connection, for longer than the timeout.
        for _ in 0..20 {
            for s in header_conns.iter_mut() {
                let _ = s.write_all(b"X").await;
            }
            for s in body_conns.iter_mut() {
                let _ = s.write_all(b"a").await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        (header_conns, body_conns)
    });

    // Meanwhile, an ordinary user is served, never shed.
    let mut served = Vec::new();
    let during = Instant::now();
    while during.elapsed() < timeout {
        let t = Instant::now();
        let r = b.get("/admin").await;
        served.push((r.status, t.elapsed()));
        let r = b.call("/api/shell", &[]).await;
        served.push((r.status, t.elapsed()));
    }
    assert!(
        served.iter().all(|(s, _)| *s == 200),
        "the slow clients took the request slots: {served:?}"
    );
    let mut lat: Vec<f64> = served
        .iter()
        .map(|(_, d)| d.as_secs_f64() * 1000.0)
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let p95 = lat[(lat.len() as f64 * 0.95) as usize - 1];

    // Every slow client is cut off: closed (headers) or answered 408 (bodies).
    let (header_conns, body_conns) = trickle.await.unwrap();
    let mut closed = 0;
    for mut s in header_conns {
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => closed += 1,
            Err(_) => {}
        }
    }
    let mut timed_out = 0;
    for mut s in body_conns {
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
        if String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 408") {
            timed_out += 1;
        }
    }
    assert_eq!(closed, slow_headers, "slow headers cut off");
    assert_eq!(timed_out, slow_bodies, "slow bodies answered 408");

    // Past the connection cap, new connections are closed at once.
    let cap = slow_headers + slow_bodies + 40;
    let mut held = Vec::new();
    for _ in 0..cap {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 16];
    let refused_at_once = matches!(
        tokio::time::timeout(Duration::from_secs(1), extra.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    );
    assert!(
        refused_at_once,
        "a connection past the cap is closed at once"
    );
    drop(held);
    // And served again once they are gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Until the server has closed the flood, a new connection may be too many.
        let r = b
            .client
            .get(format!("{}/admin", b.base))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "served again after the flood");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "slow clients: {slow_headers} trickling headers and {slow_bodies} trickling forms against 8 request slots: {} ordinary requests all 200, p95 {p95:.1} ms; headers cut off after {timeout:?}, forms answered 408; past the cap of {cap} connections a new one is closed at once",
        served.len()
    );
}
