//! Worker wake-ups. Every admission bumps a counter that each worker watches
//! (lossless: a worker that was busy sees the change on its next wait). On
//! PostgreSQL the admission also sends NOTIFY at commit, and a listener in
//! every process turns it into the same bump, so workers in other processes
//! wake within a round trip instead of a poll interval.

use sqlx::postgres::PgListener;
use std::sync::Arc;
use tokio::sync::watch;

pub const CHANNEL: &str = "tenantry_runs";

#[derive(Clone)]
pub struct RunSignal {
    tx: Arc<watch::Sender<u64>>,
}

impl Default for RunSignal {
    fn default() -> Self {
        RunSignal {
            tx: Arc::new(watch::channel(0).0),
        }
    }
}

impl RunSignal {
    pub fn notify(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

/// Forwards PostgreSQL notifications to the in-process signal until the
/// process ends; reconnects after errors (workers fall back to polling meanwhile).
pub fn spawn_pg_listener(url: String, signal: RunSignal) {
    tokio::spawn(async move {
        loop {
            match PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if listener.listen(CHANNEL).await.is_ok() {
                        // A notification may have been missed while (re)connecting.
                        signal.notify();
                        while listener.recv().await.is_ok() {
                            signal.notify();
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
