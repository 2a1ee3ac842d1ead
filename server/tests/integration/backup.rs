//! `tenantry backup` and `tenantry restore` (spec 014): a backup taken while
//! the app serves, restored into a fresh database that an app then serves
//! with the same data; ended runs the alerts had not read yet are still read
//! once, and later ends after them, even when the backed-up cluster's
//! transaction ids were far ahead; refusals change nothing.

use crate::both_backends;
use crate::common::{Backend, TestApp, TestDatabase, app, spawn_app};
use domain::alerts::evaluate;
use domain::runs::SummaryCounts;
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::service::{Completion, RunService};
use server::backup::{BackupArgs, RestoreArgs};

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    n
}

/// A probe run on `tenant`, ended.
async fn probe_ends(app: &TestApp, tenant: domain::ids::TenantId) {
    let svc = &app.services;
    StartGate::start(
        svc,
        Initiator::Schedule,
        StartRequest {
            tenant,
            op_type: domain::runs::probe::MACHINERY_PROBE,
            connection: None,
            args: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    let claimed = RunService::claim(svc, "w1", 1, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    RunService::complete(
        svc,
        &claimed[0],
        Completion::succeeded(SummaryCounts::default()),
    )
    .await
    .unwrap();
}

/// What must come back: tenants with their names, and how many runs,
/// audit entries and connections.
async fn contents(app: &TestApp) -> (Vec<(i64, String)>, i64, i64, i64) {
    let tenants: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, display_name FROM tenants ORDER BY id")
            .fetch_all(app.services.store.unguarded_pool())
            .await
            .unwrap();
    (
        tenants,
        scalar(app, "SELECT COUNT(*) FROM operation_runs").await,
        scalar(app, "SELECT COUNT(*) FROM audit_log").await,
        scalar(app, "SELECT COUNT(*) FROM provider_connections").await,
    )
}

/// Moves every end mark and cursor a billion ahead (ended runs refuse
/// updates: their trigger is lifted for this one statement's transaction).
async fn far_ahead(app: &TestApp, backend: Backend) {
    let pool = app.services.store.unguarded_pool();
    let mut tx = pool.begin().await.unwrap();
    let trigger: Option<(String,)> = match backend {
        Backend::Postgres => {
            sqlx::query(
                "ALTER TABLE operation_runs DISABLE TRIGGER operation_runs_terminal_is_final",
            )
            .execute(&mut *tx)
            .await
            .unwrap();
            None
        }
        Backend::Sqlite => {
            let sql = sqlx::query_as(
                "SELECT sql FROM sqlite_master WHERE name = 'operation_runs_terminal_is_final'",
            )
            .fetch_optional(&mut *tx)
            .await
            .unwrap();
            sqlx::query("DROP TRIGGER operation_runs_terminal_is_final")
                .execute(&mut *tx)
                .await
                .unwrap();
            sql
        }
    };
    for sql in [
        "UPDATE operation_runs SET end_mark = end_mark + 1000000000 WHERE end_mark IS NOT NULL",
        "UPDATE run_end_cursors SET end_mark = end_mark + 1000000000",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    let restore = match (backend, trigger) {
        (Backend::Postgres, _) => {
            "ALTER TABLE operation_runs ENABLE TRIGGER operation_runs_terminal_is_final".to_string()
        }
        (Backend::Sqlite, Some((sql,))) => sql,
        (Backend::Sqlite, None) => panic!("the trigger is there"),
    };
    sqlx::query(sqlx::AssertSqlSafe(restore))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn file_in(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{}-{name}", std::process::id()))
}

async fn backup_and_restore_into_a_fresh_database(backend: Backend) {
    let source = spawn_app(backend).await;
    let w = crate::world::fleet(&source, 2).await;
    let tenant = w.tenants[0];
    // Two ends the alerts read, then one they have not read yet.
    probe_ends(&source, tenant).await;
    probe_ends(&source, tenant).await;
    evaluate::catch_up(&source.services, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    probe_ends(&source, tenant).await;
    assert_eq!(evaluate::backlog(&source.services).await.unwrap(), 1);
    // The backed-up cluster ran a billion transactions ahead of the one it
    // is restored into (marks are transaction ids on PostgreSQL).
    far_ahead(&source, backend).await;
    let before = contents(&source).await;

    let dir = std::env::temp_dir();
    let file = file_in(&dir, &format!("backup-{backend:?}.bak"));
    let _ = std::fs::remove_file(&file);
    let url = source.services.store.url().to_string();
    // Taken while the app serves.
    server::backup::backup(&url, BackupArgs { to: file.clone() })
        .await
        .unwrap();
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    // A backup never overwrites a file.
    let again = server::backup::backup(&url, BackupArgs { to: file.clone() }).await;
    assert!(again.unwrap_err().contains("already exists"));

    // Into the source itself (not empty): refused, nothing changed.
    let refused = server::backup::restore(
        &url,
        RestoreArgs {
            from: file.clone(),
            finish: false,
        },
    )
    .await
    .unwrap_err();
    assert!(
        refused.contains("not empty") || refused.contains("already exists"),
        "{refused}"
    );
    assert_eq!(contents(&source).await, before);

    // A file that is not a backup: refused, the target left as it was.
    let junk = file_in(&dir, &format!("junk-{backend:?}.bak"));
    std::fs::write(&junk, b"this is not a database backup, just words").unwrap();
    let empty = TestDatabase::create(backend).await;
    let refused = server::backup::restore(
        &empty.url,
        RestoreArgs {
            from: junk.clone(),
            finish: false,
        },
    )
    .await
    .unwrap_err();
    assert!(refused.contains("not"), "{refused}");
    let _ = std::fs::remove_file(&junk);
    if let Some(path) = empty.url.strip_prefix("sqlite://") {
        assert!(
            !std::path::Path::new(path).exists(),
            "no half-restored file"
        );
    }

    // Another database's backup (an empty one): refused before loading.
    let other = TestDatabase::create(backend).await;
    let foreign = file_in(&dir, &format!("foreign-{backend:?}.bak"));
    let _ = std::fs::remove_file(&foreign);
    if backend == Backend::Postgres {
        server::backup::backup(
            &other.url,
            BackupArgs {
                to: foreign.clone(),
            },
        )
        .await
        .unwrap();
        let refused = server::backup::restore(
            &empty.url,
            RestoreArgs {
                from: foreign.clone(),
                finish: false,
            },
        )
        .await
        .unwrap_err();
        assert!(refused.contains("not a Tenantry backup"), "{refused}");
        let _ = std::fs::remove_file(&foreign);
        // Nothing loaded: finishing it says so.
        let nothing = server::backup::restore(
            &empty.url,
            RestoreArgs {
                from: file.clone(),
                finish: true,
            },
        )
        .await
        .unwrap_err();
        assert!(nothing.contains("no Tenantry data"), "{nothing}");
    }
    drop(other);

    // Into a fresh database, then served.
    server::backup::restore(
        &empty.url,
        RestoreArgs {
            from: file.clone(),
            finish: false,
        },
    )
    .await
    .unwrap();
    let _ = std::fs::remove_file(&file);
    let restored = app(backend).spawn_on(empty).await;
    assert_eq!(contents(&restored).await, before);
    // The end the alerts had not read is still due, once; a new end comes after it.
    assert_eq!(evaluate::backlog(&restored.services).await.unwrap(), 1);
    let read = evaluate::catch_up(&restored.services, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(read, 1);
    probe_ends(&restored, tenant).await;
    assert_eq!(evaluate::backlog(&restored.services).await.unwrap(), 1);
    let read = evaluate::catch_up(&restored.services, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(read, 1);
    // Served: the owner signs in and sees the tenants.
    let browser = restored.browser();
    browser.sign_in("owner@example.com").await;
    let page = browser.get("/admin/tenants").await;
    assert_eq!(page.status, 200);
    for (_, name) in &before.0 {
        assert!(page.body.contains(name.as_str()), "{name}");
    }
}

both_backends!(backup_and_restore_into_a_fresh_database);
