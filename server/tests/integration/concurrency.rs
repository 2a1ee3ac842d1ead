//! Pages under concurrent use: 16 signed-in clients request every page route
//! at once for a few seconds, with the pool sizes `tenantry serve` uses. Any
//! answer but 200 fails the test. This is the load that starved the pool when
//! page loads held connections while the renderer waited for others (#14).

use crate::authz_matrix::{PageVisitor, page_visits, world};
use crate::both_backends;
use crate::common::{Backend, Browser};
use domain::store::StoreOptions;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(4);

async fn every_page_under_sixteen_clients(backend: Backend) {
    let app = phase(
        "start the app",
        crate::common::app(backend)
            .pool(StoreOptions::default())
            .spawn(),
    )
    .await;
    let w = phase("build the world", world(&app)).await;
    app.create_user("platform.operator@example.com", true).await;
    let visits = page_visits(&w);
    assert!(visits.len() >= 20, "too few page routes: {}", visits.len());

    let mut clients = Vec::new();
    eprintln!("{backend:?}: signing in {} browsers", CLIENTS * 2);
    for i in 0..CLIENTS {
        let owner = app.browser();
        assert_eq!(owner.sign_in("owner.a@example.com").await.status, 200);
        let operator = app.browser();
        assert_eq!(
            operator
                .sign_in("platform.operator@example.com")
                .await
                .status,
            200
        );
        let visits = visits.clone();
        clients.push(tokio::spawn(async move {
            client(i, &owner, &operator, &visits).await
        }));
    }
    eprintln!("{backend:?}: {CLIENTS} clients requesting pages");
    let mut samples: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
    let mut errors = Vec::new();
    for c in clients {
        let answers = phase("wait for a client", c).await.expect("client task");
        for (route, status, took) in answers {
            if status != 200 {
                errors.push(format!("{route}: {status} after {took:?}"));
            }
            samples.entry(route).or_default().push(took);
        }
    }
    let total: usize = samples.values().map(Vec::len).sum();
    println!(
        "{backend:?}: {CLIENTS} clients, {total} page requests in {RUN_FOR:?}, {} errors",
        errors.len()
    );
    println!(
        "{:<48} {:>6} {:>9} {:>9}",
        "route", "pages", "p50 ms", "p95 ms"
    );
    for (route, mut times) in samples.clone() {
        times.sort();
        let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
        println!(
            "{route:<48} {:>6} {:>9.1} {:>9.1}",
            times.len(),
            pct(50).as_secs_f64() * 1000.0,
            pct(95).as_secs_f64() * 1000.0
        );
    }
    assert!(
        errors.is_empty(),
        "{} of {total} page requests failed:\n{}",
        errors.len(),
        errors
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (route, _, _) in &visits {
        assert!(samples.contains_key(route), "{route} was never requested");
    }
}

/// Runs one phase of the test within a minute; a stuck phase fails the test
/// with its name instead of hanging the suite.
async fn phase<T>(name: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(60), fut).await {
        Ok(v) => v,
        Err(_) => panic!("stuck for a minute: {name}"),
    }
}

async fn client(
    index: usize,
    owner: &Browser,
    operator: &Browser,
    visits: &[(&'static str, String, PageVisitor)],
) -> Vec<(&'static str, u16, Duration)> {
    let mut out = Vec::new();
    let deadline = Instant::now() + RUN_FOR;
    // Each client starts at a different page, so every route is under load at once.
    let mut next = index % visits.len();
    while Instant::now() < deadline {
        let (route, path, who) = &visits[next];
        let browser = match who {
            PageVisitor::Owner => owner,
            PageVisitor::PlatformOperator => operator,
        };
        let started = Instant::now();
        let status = match browser
            .client
            .get(format!("{}{path}", browser.base))
            .timeout(Duration::from_secs(20))
            .send()
            .await
        {
            Ok(res) => {
                let status = res.status().as_u16();
                let _ = res.bytes().await;
                status
            }
            Err(_) => 0,
        };
        out.push((*route, status, started.elapsed()));
        next = (next + 1) % visits.len();
    }
    out
}

both_backends!(every_page_under_sixteen_clients);
