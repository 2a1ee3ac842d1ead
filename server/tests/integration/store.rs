//! Storage: migrations apply once, concurrently, on both backends.

use crate::both_backends;
use crate::common::{Backend, TestDatabase};
use domain::store::{Store, StoreOptions};

async fn migrations_are_idempotent_and_concurrent(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let a = Store::connect(&db.url, StoreOptions::default())
        .await
        .unwrap();
    let b = Store::connect(&db.url, StoreOptions::default())
        .await
        .unwrap();
    // Two processes starting at once: one applies, the other sees it applied.
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let all = domain::store::known_migrations();
    let mut applied = [ra.clone(), rb.clone()].concat();
    applied.sort();
    assert_eq!(applied, all, "each applied exactly once: {ra:?} {rb:?}");
    assert!(a.migrate().await.unwrap().is_empty());
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(a.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(n, all.len() as i64);
    a.close().await;
    b.close().await;
}

async fn sqlite_file_is_created_on_first_start(backend: Backend) {
    if backend != Backend::Sqlite {
        return;
    }
    let path = std::env::temp_dir().join(format!("tenantry_first_start_{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = Store::connect(
        &format!("sqlite://{}", path.display()),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    assert!(path.exists());
    store.close().await;
    let _ = std::fs::remove_file(&path);
}

/// One unit of work holds one connection at a time: taking a second while
/// the first is held panics in debug builds (it would starve the pool under
/// load); taking them one after the other is fine, and so is work outside a unit.
async fn one_connection_per_unit_of_work(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let store = Store::connect(&db.url, StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let s = store.clone();
    let sequential = domain::store::one_unit(async move {
        for _ in 0..3 {
            let mut c = s.read().await.unwrap();
            sqlx::query("SELECT 1").execute(&mut *c).await.unwrap();
            assert_eq!(domain::store::connections_held(), Some(1));
        }
        let tx = s.begin().await.unwrap();
        tx.commit().await.unwrap();
        domain::store::connections_held()
    })
    .await;
    assert_eq!(sequential, Some(0));
    let s = store.clone();
    let nested = tokio::spawn(domain::store::one_unit(async move {
        let _first = s.read().await.unwrap();
        let _second = s.write().await;
    }))
    .await;
    let panic = nested.expect_err("a second connection while holding one panics");
    let message = panic
        .into_panic()
        .downcast::<String>()
        .map(|m| *m)
        .unwrap_or_default();
    assert!(message.contains("second database connection"), "{message}");
    assert!(message.contains("store.rs"), "names where: {message}");
    // Outside a unit of work (a test's own setup) nothing is counted.
    let _a = store.read().await.unwrap();
    let _b = store.read().await.unwrap();
    assert_eq!(domain::store::connections_held(), None);
}

/// On SQLite, reads go through `query_only` connections, so a write that does
/// not take the writer (the one connection that is the write lock) fails.
async fn sqlite_reads_cannot_write(backend: Backend) {
    if backend != Backend::Sqlite {
        return;
    }
    let db = TestDatabase::create(backend).await;
    let store = Store::connect(&db.url, StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut r = store.read().await.unwrap();
    let refused = sqlx::query("DELETE FROM schema_migrations")
        .execute(&mut *r)
        .await;
    assert!(refused.is_err(), "a write through a read connection");
    drop(r);
    let mut w = store.write().await.unwrap();
    sqlx::query("CREATE TABLE scratch (id INTEGER)")
        .execute(&mut *w)
        .await
        .unwrap();
}

/// The embedded SQLite is past CVE-2025-6965 (fixed in 3.50.2).
async fn bundled_sqlite_is_current(backend: Backend) {
    if backend != Backend::Sqlite {
        return;
    }
    let db = TestDatabase::create(backend).await;
    let store = Store::connect(&db.url, StoreOptions::default())
        .await
        .unwrap();
    let (version,): (String,) = sqlx::query_as("SELECT sqlite_version()")
        .fetch_one(store.unguarded_pool())
        .await
        .unwrap();
    let parts: Vec<u32> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    assert!(
        parts >= vec![3, 50, 2],
        "SQLite {version} is older than 3.50.2"
    );
}

/// Callers waiting for a connection are counted (the metrics' pool waiters),
/// also when a wait is given up.
async fn pool_waiters_are_counted(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let store = Store::connect(
        &db.url,
        StoreOptions {
            max_connections: 1,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let held = store.write().await.unwrap();
    assert_eq!(store.pool_stats().waiting, 0);
    let s = store.clone();
    let waiter = tokio::spawn(async move { s.write().await.map(|_| ()) });
    let s = store.clone();
    let gives_up = tokio::spawn(async move { s.write().await.map(|_| ()) });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while store.pool_stats().waiting < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            store.pool_stats()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    gives_up.abort();
    let _ = gives_up.await;
    assert_eq!(store.pool_stats().waiting, 1);
    drop(held);
    waiter.await.unwrap().unwrap();
    assert_eq!(store.pool_stats().waiting, 0);
}

both_backends!(
    pool_waiters_are_counted,
    bundled_sqlite_is_current,
    migrations_are_idempotent_and_concurrent,
    sqlite_file_is_created_on_first_start,
    one_connection_per_unit_of_work,
    sqlite_reads_cannot_write,
);

/// Product code takes database connections only through the guarded
/// `Store::read`/`write`/`begin`; the raw pool is for tests, the benchmarks'
/// seeding and PostgreSQL's LISTEN connection.
#[test]
fn connections_come_only_from_the_guard() {
    let allowed = [
        "engine/src/store.rs",
        "engine/src/runs/wake.rs",
        "server/src/bench.rs",
        "server/src/bench_monitoring.rs",
        "server/src/bench_http.rs",
        "server/src/bench_fleet.rs",
        "server/src/bench_drift.rs",
        "server/src/bench_fleet_page.rs",
        "server/src/bench_alerts.rs",
        "server/src/bench_search.rs",
        "server/src/bench_pages.rs",
        "server/src/bench_year.rs",
    ];
    let mut offenders = Vec::new();
    for (p, text) in crate::common::product_sources() {
        let raw = text.contains("unguarded_pool()")
            || text.contains("pool.acquire()")
            || text.contains("pool().acquire()")
            || text.contains("pool().begin");
        if raw && !allowed.iter().any(|a| p.ends_with(a)) {
            offenders.push(p.display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "database connections taken around the guard: {offenders:?}"
    );
}

#[test]
fn both_dialects_define_the_same_tables() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let tables = |dialect: &str| {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(dialect))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        let mut t: Vec<String> = files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .filter_map(|l| {
                        l.trim()
                            .strip_prefix("CREATE TABLE ")
                            .or_else(|| l.trim().strip_prefix("CREATE UNIQUE INDEX "))
                            .or_else(|| l.trim().strip_prefix("CREATE INDEX "))
                    })
                    .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        // A table rebuilt in a later migration (PostgreSQL's partitioned
        // audit log and notifications) is still one table.
        t.sort();
        t.dedup();
        (names, t)
    };
    let (sqlite_files, sqlite) = tables("sqlite");
    let (pg_files, pg) = tables("postgres");
    assert_eq!(
        sqlite_files, pg_files,
        "every migration ships in both dialects"
    );
    assert_eq!(sqlite, pg, "same tables and indexes");
    assert!(sqlite.contains(&"operation_runs_one_active_per_scope".to_string()));
    assert_eq!(sqlite_files.len(), domain::store::known_migrations().len());
}
