//! Worker wake-ups. Admissions bump a local counter that every worker in the
//! process watches (lossless: a busy worker sees the change on its next wait).
//! On PostgreSQL a notifier task turns local bumps into `NOTIFY` for the other
//! processes, coalescing bursts (NOTIFY serialises committing transactions
//! database-wide, so it is kept off the admission's own commit), and a
//! listener in each process turns their `NOTIFY`s into remote bumps.

use crate::services::Services;
use crate::store::Backend;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use tokio::sync::watch;

pub const CHANNEL: &str = "tenantry_runs";

#[derive(Clone)]
pub struct RunSignal {
    local: Arc<watch::Sender<u64>>,
    remote: Arc<watch::Sender<u64>>,
}

impl Default for RunSignal {
    fn default() -> Self {
        RunSignal {
            local: Arc::new(watch::channel(0).0),
            remote: Arc::new(watch::channel(0).0),
        }
    }
}

/// What a worker waits on: work admitted here or announced by another process.
pub struct Wakeups {
    local: watch::Receiver<u64>,
    remote: watch::Receiver<u64>,
}

impl Wakeups {
    pub async fn changed(&mut self) {
        tokio::select! {
            r = self.local.changed() => { if r.is_err() { std::future::pending::<()>().await } }
            r = self.remote.changed() => { if r.is_err() { std::future::pending::<()>().await } }
        }
    }
}

impl RunSignal {
    /// Work became available in this process (admitted, released, re-queued).
    pub fn notify(&self) {
        self.local.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn notify_remote(&self) {
        self.remote.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> Wakeups {
        Wakeups {
            local: self.local.subscribe(),
            remote: self.remote.subscribe(),
        }
    }
}

/// PostgreSQL only: announce local admissions to other processes, and listen
/// for theirs. Call once per process (serve, worker).
pub fn start_cross_process(svc: &Services) {
    if svc.store.backend() != Backend::Postgres {
        return;
    }
    // Notifier: one NOTIFY per burst of local admissions.
    let pool = svc.store.unguarded_pool().clone();
    let mut local = svc.run_signal.local.subscribe();
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
    tokio::spawn(async move {
        loop {
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
