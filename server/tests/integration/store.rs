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
    assert_eq!(
        ra.len() + rb.len(),
        1,
        "applied exactly once: {ra:?} {rb:?}"
    );
    assert!(a.migrate().await.unwrap().is_empty());
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
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
    let tables = |sql: &str| {
        let mut t: Vec<String> = sql
            .lines()
            .filter_map(|l| l.trim().strip_prefix("CREATE TABLE "))
            .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
            .collect();
        t.sort();
        t
    };
    let sqlite = tables(include_str!(
        "../../../migrations/sqlite/0001_foundation.sql"
    ));
    let pg = tables(include_str!(
        "../../../migrations/postgres/0001_foundation.sql"
    ));
    assert_eq!(sqlite, pg);
    assert!(sqlite.contains(&"audit_log".to_string()));
}
