//! Worker wake-ups. Admissions bump a local counter that every worker in the
//! process watches (lossless: a busy worker sees the change on its next wait).
//! On PostgreSQL a notifier task turns local bumps into `NOTIFY` for the other
//! processes, coalescing bursts (NOTIFY serialises committing transactions
//! database-wide, so it is kept off the admission's own commit), and a
//! listener in each process turns their `NOTIFY`s into remote bumps.

use crate::services::Services;
use crate::store::Backend;
use sqlx::postgres::PgListener;

pub const CHANNEL: &str = "tenantry_runs";

pub use crate::signal::{RunSignal, Wakeups};

/// PostgreSQL only: announce local admissions to other processes, and listen
/// for theirs. Call once per process (serve, worker).
pub fn start_cross_process(svc: &Services) {
    if svc.store.backend() != Backend::Postgres {
        return;
    }
    // Notifier: one NOTIFY per burst of local admissions.
    let pool = svc.store.unguarded_pool().clone();
    let mut local = svc.run_signal.subscribe_local();
    tokio::spawn(async move {
        while local.changed().await.is_ok() {
            local.mark_unchanged();
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "could not announce new runs; other processes poll meanwhile");
            }
        }
    });
    // Listener: other processes' announcements wake this process's workers.
    let url = svc.store.url().to_string();
    let signal = svc.run_signal.clone();
    let store = svc.store.unguarded_pool().clone();
    tokio::spawn(async move {
        loop {
            // A closed store is a process (or a benchmark's database) going away.
            if store.is_closed() {
                return;
            }
            match PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if listener.listen(CHANNEL).await.is_ok() {
                        // A notification may have been missed while (re)connecting.
                        signal.notify_remote();
                        while listener.recv().await.is_ok() {
                            signal.notify_remote();
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "run listener cannot connect; workers poll meanwhile")
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
}
