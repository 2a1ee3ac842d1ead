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
        .fetch_one(a.pool())
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

both_backends!(
    migrations_are_idempotent_and_concurrent,
    sqlite_file_is_created_on_first_start
);

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
        t.sort();
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
