//! Storage: one `sqlx::AnyPool` over SQLite (embedded default) or PostgreSQL.
//!
//! Queries are written once with `$n` placeholders (SQLite accepts them too)
//! and portable SQL; where the dialects differ the query asks [`Store::backend`].
//! Integers are BIGINT, times are UTC unix milliseconds, enums are TEXT.

use crate::error::{AppError, AppResult};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
    Migration {
        version: 8,
        name: "security",
        sqlite: include_str!("../../migrations/sqlite/0008_security.sql"),
        postgres: include_str!("../../migrations/postgres/0008_security.sql"),
    },
    Migration {
        version: 9,
        name: "operator_flow",
        sqlite: include_str!("../../migrations/sqlite/0009_operator_flow.sql"),
        postgres: include_str!("../../migrations/postgres/0009_operator_flow.sql"),
    },
    Migration {
        version: 10,
        name: "follow_up",
        sqlite: include_str!("../../migrations/sqlite/0010_follow_up.sql"),
        postgres: include_str!("../../migrations/postgres/0010_follow_up.sql"),
    },
    Migration {
        version: 11,
        name: "schedules",
        sqlite: include_str!("../../migrations/sqlite/0011_schedules.sql"),
        postgres: include_str!("../../migrations/postgres/0011_schedules.sql"),
    },
    Migration {
        version: 12,
        name: "bulk_starts",
        sqlite: include_str!("../../migrations/sqlite/0012_bulk_starts.sql"),
        postgres: include_str!("../../migrations/postgres/0012_bulk_starts.sql"),
    },
    Migration {
        version: 13,
        name: "drift",
        sqlite: include_str!("../../migrations/sqlite/0013_drift.sql"),
        postgres: include_str!("../../migrations/postgres/0013_drift.sql"),
    },
    Migration {
        version: 14,
        name: "baselines",
        sqlite: include_str!("../../migrations/sqlite/0014_baselines.sql"),
        postgres: include_str!("../../migrations/postgres/0014_baselines.sql"),
    },
    Migration {
        version: 15,
        name: "session_devices",
        sqlite: include_str!("../../migrations/sqlite/0015_session_devices.sql"),
        postgres: include_str!("../../migrations/postgres/0015_session_devices.sql"),
    },
    Migration {
        version: 16,
        name: "mfa",
        sqlite: include_str!("../../migrations/sqlite/0016_mfa.sql"),
        postgres: include_str!("../../migrations/postgres/0016_mfa.sql"),
    },
    Migration {
        version: 17,
        name: "time_zone",
        sqlite: include_str!("../../migrations/sqlite/0017_time_zone.sql"),
        postgres: include_str!("../../migrations/postgres/0017_time_zone.sql"),
    },
    Migration {
        version: 18,
        name: "mail_outbox",
        sqlite: include_str!("../../migrations/sqlite/0018_mail_outbox.sql"),
        postgres: include_str!("../../migrations/postgres/0018_mail_outbox.sql"),
    },
    Migration {
        version: 19,
        name: "sso",
        sqlite: include_str!("../../migrations/sqlite/0019_sso.sql"),
        postgres: include_str!("../../migrations/postgres/0019_sso.sql"),
    },
    Migration {
        version: 20,
        name: "sso_linking_invited_tenants",
        sqlite: include_str!("../../migrations/sqlite/0020_sso_linking_invited_tenants.sql"),
        postgres: include_str!("../../migrations/postgres/0020_sso_linking_invited_tenants.sql"),
    },
    Migration {
        version: 21,
        name: "run_origin",
        sqlite: include_str!("../../migrations/sqlite/0021_run_origin.sql"),
        postgres: include_str!("../../migrations/postgres/0021_run_origin.sql"),
    },
    Migration {
        version: 22,
        name: "sign_in_limits",
        sqlite: include_str!("../../migrations/sqlite/0022_sign_in_limits.sql"),
        postgres: include_str!("../../migrations/postgres/0022_sign_in_limits.sql"),
    },
    Migration {
        version: 23,
        name: "alerts",
        sqlite: include_str!("../../migrations/sqlite/0023_alerts.sql"),
        postgres: include_str!("../../migrations/postgres/0023_alerts.sql"),
    },
    Migration {
        version: 24,
        name: "run_end_marks",
        sqlite: include_str!("../../migrations/sqlite/0024_run_end_marks.sql"),
        postgres: include_str!("../../migrations/postgres/0024_run_end_marks.sql"),
    },
    Migration {
        version: 25,
        name: "operator_ux",
        sqlite: include_str!("../../migrations/sqlite/0025_operator_ux.sql"),
        postgres: include_str!("../../migrations/postgres/0025_operator_ux.sql"),
    },
    Migration {
        version: 26,
        name: "run_trends",
        sqlite: include_str!("../../migrations/sqlite/0026_run_trends.sql"),
        postgres: include_str!("../../migrations/postgres/0026_run_trends.sql"),
    },
    Migration {
        version: 27,
        name: "fleet_failed",
        sqlite: include_str!("../../migrations/sqlite/0027_fleet_failed.sql"),
        postgres: include_str!("../../migrations/postgres/0027_fleet_failed.sql"),
    },
    Migration {
        version: 28,
        name: "inventory_bodies",
        sqlite: include_str!("../../migrations/sqlite/0028_inventory_bodies.sql"),
        postgres: include_str!("../../migrations/postgres/0028_inventory_bodies.sql"),
    },
    Migration {
        version: 29,
        name: "retention",
        sqlite: include_str!("../../migrations/sqlite/0029_retention.sql"),
        postgres: include_str!("../../migrations/postgres/0029_retention.sql"),
    },
    Migration {
        version: 30,
        name: "monthly_partitions",
        sqlite: include_str!("../../migrations/sqlite/0030_monthly_partitions.sql"),
        postgres: include_str!("../../migrations/postgres/0030_monthly_partitions.sql"),
    },
    Migration {
        version: 31,
        name: "fleet_reads",
        sqlite: include_str!("../../migrations/sqlite/0031_fleet_reads.sql"),
        postgres: include_str!("../../migrations/postgres/0031_fleet_reads.sql"),
    },
];

/// PostgreSQL: trigram indexes for search by part of a name, where the
/// `pg_trgm` extension is available (`LIKE '%word%'` then reads an index
/// instead of every row). Without it search still works, scanning.
const TRIGRAM_INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS inventory_bodies_name_trgm ON inventory_bodies USING gin (search_name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS directory_groups_name_trgm ON directory_groups USING gin (search_name gin_trgm_ops)",
];

/// Connections open and in use, open and idle, and the most there may be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub in_use: usize,
    pub idle: usize,
    pub max: usize,
    /// Callers waiting for a connection (checkouts through the store's guard).
    pub waiting: usize,
}

#[derive(Clone)]
pub struct Store {
    /// Reads. On SQLite its connections are `query_only`, so a write that
    /// skips [`Store::write`]/[`Store::begin`] fails loudly in every test.
    read: AnyPool,
    /// Writes. On SQLite one connection: holding it *is* the process's write
    /// lock (no mutex beside the pool to wait on while holding a connection).
    /// On PostgreSQL the same pool as `read`.
    write: AnyPool,
    backend: Backend,
    url: Arc<str>,
    health: Arc<Health>,
}

/// A pooled connection handed out by [`Store::read`] or [`Store::write`].
/// While it lives, the unit of work that took it holds a connection (see
/// [`one_unit`]); drop it before calling anything else that needs one.
pub struct Conn {
    conn: PoolConnection<Any>,
    _held: Held,
}

impl Deref for Conn {
    type Target = AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

/// A write transaction (on SQLite: the process's one writer connection).
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _held: Held,
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

/// SQLite writers queue for the one writer connection; a burst of writes
/// (a worker draining hundreds of runs) may wait longer than a read would.
const SQLITE_WRITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

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
        let unavailable = |e: sqlx::Error| {
            tracing::error!(error = %e, "cannot connect to the database");
            AppError::Unavailable
        };
        let (read, write) = match backend {
            Backend::Postgres => {
                let pool = pool_options(backend, false, options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect(&url)
                    .await
                    .map_err(unavailable)?;
                (pool.clone(), pool)
            }
            Backend::Sqlite => {
                // The writer first: it creates the file and switches it to WAL.
                let write = pool_options(backend, false, 1)
                    .acquire_timeout(SQLITE_WRITE_ACQUIRE_TIMEOUT)
                    .connect(&url)
                    .await
                    .map_err(unavailable)?;
                let read = pool_options(backend, true, options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect(&url)
                    .await
                    .map_err(unavailable)?;
                (read, write)
            }
        };
        Ok(Store {
            read,
            write,
            backend,
            url: url.into(),
            health: Arc::new(Health::default()),
        })
    }

    /// The pool behind [`Store::write`], without the guard. Only for tests,
    /// benchmarks' seeding and PostgreSQL's LISTEN connection: product code
    /// takes connections through `read`, `write` and `begin` (a test scans
    /// the source for this name).
    pub fn unguarded_pool(&self) -> &AnyPool {
        &self.write
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection URL (for PostgreSQL's LISTEN connection).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A connection for reads.
    #[track_caller]
    pub fn read(&self) -> impl Future<Output = AppResult<Conn>> + Send + '_ {
        let held = Held::take(Location::caller());
        async move {
            self.health.admit(self).await?;
            let conn = self.acquire(&self.read).await?;
            Ok(Conn { conn, _held: held })
        }
    }

    /// A connection for single-statement writes (autocommit). On SQLite it
    /// is the one writer connection, so keep it briefly.
    #[track_caller]
    pub fn write(&self) -> impl Future<Output = AppResult<Conn>> + Send + '_ {
        let held = Held::take(Location::caller());
        async move {
            self.health.admit(self).await?;
            let conn = self.acquire(&self.write).await?;
            Ok(Conn { conn, _held: held })
        }
    }

    /// Begins a write transaction (BEGIN IMMEDIATE on SQLite, so a
    /// read-then-write transaction never fails half-way on a lock upgrade).
    #[track_caller]
    pub fn begin(&self) -> impl Future<Output = AppResult<WriteTx>> + Send + '_ {
        let held = Held::take(Location::caller());
        async move {
            self.health.admit(self).await?;
            let conn = self.acquire(&self.write).await?;
            let statement = match self.backend {
                Backend::Sqlite => Some(sqlx::SqlSafeStr::into_sql_str("BEGIN IMMEDIATE")),
                Backend::Postgres => None,
            };
            let tx = Transaction::begin(conn, statement)
                .await
                .map_err(|e| self.failed(e))?;
            Ok(WriteTx { tx, _held: held })
        }
    }

    async fn acquire(&self, pool: &AnyPool) -> AppResult<PoolConnection<Any>> {
        let _waiting = Waiting::new(&self.health.waiting);
        pool.acquire().await.map_err(|e| self.failed(e))
    }

    /// Maps a failed checkout; a timeout may mean the database went away,
    /// so the next caller probes before waiting the full timeout again.
    fn failed(&self, e: sqlx::Error) -> AppError {
        if matches!(e, sqlx::Error::PoolTimedOut) {
            crate::error::connection_errors::note();
        }
        e.into()
    }

    /// Cheap reachability check for `/readyz` (not gated by the breaker:
    /// it is how an operator sees the database come back).
    pub async fn ping(&self) -> AppResult<()> {
        // Within a second: a refused connect is retried by the pool until its
        // acquire timeout, far longer than a readiness check may take.
        match tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(&self.read)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => {
                crate::error::connection_errors::note();
                Err(AppError::Unavailable)
            }
        }
    }

    /// The pool as a metrics scrape reads it (on SQLite, the read pool plus
    /// the one writer).
    pub fn pool_stats(&self) -> PoolStats {
        let mut stats = PoolStats::default();
        let pools: &[&AnyPool] = match self.backend {
            Backend::Postgres => &[&self.read],
            Backend::Sqlite => &[&self.read, &self.write],
        };
        for pool in pools {
            let size = pool.size() as usize;
            // sqlx's idle count can wrap below zero while a cancelled
            // checkout is being undone: never more idle than open.
            let idle = pool.num_idle().min(size);
            stats.idle += idle;
            stats.in_use += size.saturating_sub(idle);
            stats.max += pool.options().get_max_connections() as usize;
        }
        stats.waiting = self.health.waiting.load(Ordering::Acquire);
        stats
    }

    /// True while the last probe found the database unreachable.
    pub fn looks_down(&self) -> bool {
        self.health.down.load(Ordering::Acquire)
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    /// Applies pending migrations. Safe to run from several processes at once
    /// (PostgreSQL serialises them with an advisory lock).
    pub async fn migrate(&self) -> AppResult<Vec<i64>> {
        self.migrate_until(i64::MAX).await
    }

    /// Applies pending migrations up to and including `last`: how a test
    /// builds a database as an earlier version left it, to migrate its data.
    pub async fn migrate_until(&self, last: i64) -> AppResult<Vec<i64>> {
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
        for m in MIGRATIONS.iter().filter(|m| m.version <= last) {
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
        if self.backend == Backend::Postgres {
            self.trigram_indexes().await;
        }
        Ok(newly)
    }

    /// Best effort (see `TRIGRAM_INDEXES`): a database without the extension,
    /// or a role that may not create it, logs once and goes on.
    async fn trigram_indexes(&self) {
        let Ok(mut conn) = self.write().await else {
            return;
        };
        let present: Result<Option<(i32,)>, _> =
            sqlx::query_as("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
                .fetch_optional(&mut *conn)
                .await;
        if !matches!(present, Ok(Some(_)))
            && let Err(e) = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .execute(&mut *conn)
                .await
        {
            tracing::info!(error = %e, "search: pg_trgm is not available; searching by part of a name scans");
            return;
        }
        for sql in TRIGRAM_INDEXES {
            if let Err(e) = sqlx::query(*sql).execute(&mut *conn).await {
                tracing::info!(error = %e, "search: a trigram index was not created");
            }
        }
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

fn pool_options(backend: Backend, read_only: bool, max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        // No ping before every checkout: it doubles the round trips of short
        // queries. A connection that sat idle across a connection error is
        // pinged once (below); a broken one fails its query, answers 503 and
        // sqlx discards it when it comes back.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if idle_across_connection_error(meta.idle_for) {
                    return Ok(conn.ping().await.is_ok());
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    if !read_only {
                        // Space freed by retention goes back to the file
                        // system in steps (`PRAGMA incremental_vacuum` after
                        // a sweep). Takes effect when the file is new; an
                        // older file keeps its mode (a VACUUM changes it).
                        conn.execute("PRAGMA auto_vacuum = INCREMENTAL").await?;
                    }
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    if read_only {
                        conn.execute("PRAGMA query_only = ON").await?;
                    }
                } else {
                    // A transaction left open (a task dropped half-way) or a
                    // lock queue must not wedge other work forever: the server
                    // ends them, the caller gets an error and the pool a
                    // fresh connection.
                    conn.execute("SET idle_in_transaction_session_timeout = '60s'")
                        .await?;
                    conn.execute("SET lock_timeout = '30s'").await?;
                    // Short statements only: compiling one (tens of ms when
                    // the planner's estimate is large) costs more than it saves.
                    conn.execute("SET jit = off").await?;
                }
                Ok(())
            })
        })
}

// ---------------------------------------------------------------------------
// One connection per unit of work.
//
// A future that holds a pooled connection while it waits for another one can
// starve the pool: with N such futures and a pool of N, nobody proceeds until
// the acquire timeout. Page renders made that easy (Leptos polls every load of
// a page once, then resolves them one by one, so the others sat on their
// connections). Each unit of work (a request, one page load, one run) gets a
// counter; taking a second connection while the first is still held is a bug:
// debug builds panic with the place, release builds log it.

tokio::task_local! {
    static HOLDING: Arc<Holding>;
}

#[derive(Default)]
struct Holding {
    count: AtomicUsize,
    /// Where the connection now held was asked for (for the panic message).
    at: std::sync::Mutex<Option<&'static Location<'static>>>,
}

/// Runs `fut` as one unit of work for the connection guard. Nested units
/// (a page load inside a request) count on their own.
pub fn one_unit<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    HOLDING.scope(Arc::new(Holding::default()), fut)
}

/// How many connections the current unit of work holds (`None` outside one).
pub fn connections_held() -> Option<usize> {
    HOLDING.try_with(|h| h.count.load(Ordering::Acquire)).ok()
}

struct Held(Option<Arc<Holding>>);

impl Held {
    fn take(at: &'static Location<'static>) -> Held {
        let Ok(holding) = HOLDING.try_with(Arc::clone) else {
            return Held(None);
        };
        let first = {
            let mut first = holding.at.lock().unwrap_or_else(|p| p.into_inner());
            if holding.count.load(Ordering::Acquire) > 0 {
                Some(first.map(|l| l.to_string()).unwrap_or_default())
            } else {
                *first = Some(at);
                None
            }
        };
        if let Some(first) = first {
            hold_and_wait(at, &first);
            return Held(None);
        }
        holding.count.fetch_add(1, Ordering::AcqRel);
        Held(Some(holding))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            h.count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn hold_and_wait(at: &Location<'_>, first: &str) {
    let message = "a unit of work asked for a second database connection while holding one \
                   (hold-and-wait starves the pool under load): drop the first, or pass it down";
    if cfg!(debug_assertions) {
        panic!("{message}: asked at {at}, holding the one taken at {first}");
    } else {
        tracing::error!(asked_at = %at, holding = first, "{message}");
    }
}

// ---------------------------------------------------------------------------
// Knowing the database is down.
//
// A connection-level error anywhere (a query on a connection the server
// terminated, a refused connect, a checkout timeout) bumps a process-wide
// counter. A store that sees the counter move probes before handing out the
// next connection: one fresh connection with a short timeout, one prober at a
// time. While the probe says down, callers get 503 at once instead of waiting
// out the pool's acquire timeout; the first successful probe lets them through
// again (no restart). The counter is process-wide because errors surface in
// `From<sqlx::Error>`, far from the store; a store that did not cause it only
// pays one successful probe.

use crate::error::connection_errors::{
    CONNECTION_ERRORS, LAST_CONNECTION_ERROR_MS, process_clock_ms,
};

/// True when a connection went idle before the last connection error (so it
/// may be one the server closed meanwhile).
fn idle_across_connection_error(idle_for: Duration) -> bool {
    let last = LAST_CONNECTION_ERROR_MS.load(Ordering::Acquire);
    if last == 0 {
        return false;
    }
    let since_error = process_clock_ms().saturating_sub(last);
    idle_for.as_millis() as u64 >= since_error
}

/// How long a readiness ping may take.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a probe may take, and how long its verdict "down" stands.
const PROBE_TIMEOUT: Duration = Duration::from_millis(800);
const DOWN_VERDICT_FOR: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Health {
    down: AtomicBool,
    /// The error counter this store last probed after.
    seen: AtomicU64,
    /// When the last probe ended; the lock makes probes single-flight.
    probe: tokio::sync::Mutex<Option<Instant>>,
    /// Callers waiting for a pool connection right now (sqlx does not count them).
    waiting: AtomicUsize,
}

/// Counts one caller waiting for a connection while it lives (also when the
/// wait is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::AcqRel);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Health {
    async fn admit(&self, store: &Store) -> AppResult<()> {
        let errors = CONNECTION_ERRORS.load(Ordering::Acquire);
        if !self.down.load(Ordering::Acquire) && self.seen.load(Ordering::Acquire) == errors {
            return Ok(());
        }
        let mut last = self.probe.lock().await;
        let errors = CONNECTION_ERRORS.load(Ordering::Acquire);
        let down = self.down.load(Ordering::Acquire);
        if !down && self.seen.load(Ordering::Acquire) == errors {
            return Ok(()); // another caller probed meanwhile and found it up
        }
        if down && last.is_some_and(|t| t.elapsed() < DOWN_VERDICT_FOR) {
            return Err(AppError::Unavailable);
        }
        let up = store.probe().await;
        *last = Some(Instant::now());
        self.seen.store(errors, Ordering::Release);
        self.down.store(!up, Ordering::Release);
        if up {
            if down {
                tracing::info!("the database is reachable again");
            }
            Ok(())
        } else {
            if !down {
                tracing::warn!("the database is unreachable; answering 503 until a probe succeeds");
            }
            Err(AppError::Unavailable)
        }
    }
}

impl Store {
    /// One fresh connection and `SELECT 1`, within [`PROBE_TIMEOUT`].
    async fn probe(&self) -> bool {
        let url = self.url.clone();
        let attempt = async move {
            let mut conn = AnyConnection::connect(&url).await?;
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            conn.close().await
        };
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, attempt).await,
            Ok(Ok(()))
        )
    }
}

/// `($1, $2, …), ($k, …)`: the VALUES of a multi-row insert of `rows` rows
/// of `cols` columns, bound in row order.
/// `text` for a `LIKE … ESCAPE '\'` pattern: its `\`, `%` and `_` match
/// themselves (search boxes: what was typed is literal).
pub fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// `$1, $2, …, $n`: the placeholders of an `IN (…)` list of `n` binds.
pub fn marks(n: usize) -> String {
    value_rows(n, 1).replace(['(', ')'], "")
}

pub fn value_rows(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod value_rows_tests {
    #[test]
    fn placeholders_run_in_row_order() {
        assert_eq!(super::value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::value_rows(1, 1), "($1)");
        assert_eq!(super::marks(3), "$1, $2, $3");
        assert_eq!(super::value_rows(0, 4), "");
    }
}
