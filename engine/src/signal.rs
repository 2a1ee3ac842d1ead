//! Worker wake-ups within one process: admissions bump a local counter that
//! every worker watches (lossless: a busy worker sees the change on its next
//! wait); `runs::wake` relays them between processes on PostgreSQL. Here,
//! below the features and the engine, because every service handle carries one.

use std::sync::Arc;
use tokio::sync::watch;

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

    pub(crate) fn notify_remote(&self) {
        self.remote.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> Wakeups {
        Wakeups {
            local: self.local.subscribe(),
            remote: self.remote.subscribe(),
        }
    }
}

impl RunSignal {
    /// This process's own admissions (the PostgreSQL notifier relays them).
    pub(crate) fn subscribe_local(&self) -> watch::Receiver<u64> {
        self.local.subscribe()
    }
}
