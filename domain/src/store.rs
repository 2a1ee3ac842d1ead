//! Storage: one `sqlx::AnyPool` over SQLite (embedded default) or PostgreSQL.
//!
//! Queries are written once with `$n` placeholders (SQLite accepts them too)
//! and portable SQL; where the dialects differ the query asks [`Store::backend`].
//! Integers are BIGINT, times are UTC unix milliseconds, enums are TEXT.

use crate::error::{AppError, AppResult};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> AppResult<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(AppError::invalid(
                "database_url",
                "DATABASE_URL must start with sqlite: or postgres://",
            ))
        }
    }
}

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Ordered; both dialects of a version ship together.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "operation_runs",
        sqlite: include_str!("../../migrations/sqlite/0002_operation_runs.sql"),
        postgres: include_str!("../../migrations/postgres/0002_operation_runs.sql"),
    },
    Migration {
        version: 3,
        name: "provider",
        sqlite: include_str!("../../migrations/sqlite/0003_provider.sql"),
        postgres: include_str!("../../migrations/postgres/0003_provider.sql"),
    },
    Migration {
        version: 4,
        name: "monitoring",
        sqlite: include_str!("../../migrations/sqlite/0004_monitoring.sql"),
        postgres: include_str!("../../migrations/postgres/0004_monitoring.sql"),
    },
    Migration {
        version: 5,
        name: "support",
        sqlite: include_str!("../../migrations/sqlite/0005_support.sql"),
        postgres: include_str!("../../migrations/postgres/0005_support.sql"),
    },
    Migration {
        version: 6,
        name: "review_packs_restore",
        sqlite: include_str!("../../migrations/sqlite/0006_review_packs_restore.sql"),
        postgres: include_str!("../../migrations/postgres/0006_review_packs_restore.sql"),
    },
    Migration {
        version: 7,
        name: "onboarding",
        sqlite: include_str!("../../migrations/sqlite/0007_onboarding.sql"),
        postgres: include_str!("../../migrations/postgres/0007_onboarding.sql"),
    },
];

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer: writers in this process queue here instead of
    /// spinning on SQLITE_BUSY. Other processes are covered by BEGIN IMMEDIATE
    /// plus the busy timeout.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    url: Arc<str>,
}

/// A write transaction. On SQLite it holds the process-wide writer slot.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for WriteTx {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Store {
    /// Connects; a SQLite file is created when missing.
    pub async fn connect(url: &str, options: StoreOptions) -> AppResult<Store> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // No ping before every checkout: it doubles the round trips of
            // short queries; a broken connection fails its query and is dropped.
            .test_before_acquire(false)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot connect to the database");
                AppError::Unavailable
            })?;
        Ok(Store {
            pool,
            backend,
            sqlite_writer: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            url: url.into(),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection URL (for PostgreSQL's LISTEN connection).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Begins a write transaction (BEGIN IMMEDIATE on SQLite, so a
    /// read-then-write transaction never fails half-way on a lock upgrade).
    pub async fn begin(&self) -> AppResult<WriteTx> {
        let writer = match &self.sqlite_writer {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        };
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }

    /// Cheap reachability check for `/readyz`.
    pub async fn ping(&self) -> AppResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies pending migrations. Safe to run from several processes at once
    /// (PostgreSQL serialises them with an advisory lock).
    pub async fn migrate(&self) -> AppResult<Vec<i64>> {
        let mut tx = self.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7243001)")
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )",
        )
        .execute(&mut **tx)
        .await?;
        let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migrations")
            .fetch_all(&mut **tx)
            .await?;
        let mut newly = Vec::new();
        for m in MIGRATIONS {
            if applied.iter().any(|(v,)| *v == m.version) {
                continue;
            }
            let sql = match self.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            sqlx::raw_sql(sql).execute(&mut **tx).await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(crate::clock::Clock::now_ms(&crate::clock::SystemClock))
            .execute(&mut **tx)
            .await?;
            newly.push(m.version);
        }
        tx.commit().await?;
        Ok(newly)
    }
}

/// Versions of every migration this build ships, in order.
pub fn known_migrations() -> Vec<i64> {
    MIGRATIONS.iter().map(|m| m.version).collect()
}

/// True when a database error is a unique-constraint violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db
                    .code()
                    .is_some_and(|c| c == "23505" || c == "2067" || c == "1555")
        }
        _ => false,
    }
}
