//! What the engine runs, handed to it at start-up (see `domain::operations`):
//! a handler per operation type, run-page items, hooks that run after any
//! run's outcome is committed, and periodic sweeps. The engine calls them and
//! knows nothing of what they do.

use super::handlers::{BoxFuture, Handler};
use super::model::OperationType;
use super::service::ClaimedRun;
use crate::error::AppResult;
use crate::ids::RunId;
use crate::runs::views::RunItems;
use crate::services::Services;
use std::collections::HashMap;
use std::sync::Arc;

/// A run page's per-item results (e.g. what a restore did per policy).
pub type ItemsFn = fn(Services, RunId) -> BoxFuture<AppResult<Option<RunItems>>>;
/// Called after a run's outcome is committed (side effects after commit).
pub type AfterRunFn = fn(Services, ClaimedRun) -> BoxFuture<()>;
/// A periodic sweep; answers how many things it changed.
pub type SweepFn = fn(Services) -> BoxFuture<AppResult<u64>>;

#[derive(Clone, Default)]
pub struct Catalogue {
    handlers: HashMap<OperationType, Arc<dyn Handler>>,
    items: HashMap<OperationType, ItemsFn>,
    after_run: Vec<(&'static str, AfterRunFn)>,
    sweeps: Vec<(&'static str, SweepFn)>,
}

/// The catalogue installed in the handle (by `operations::services` or a
/// benchmark); an empty one where none was, so nothing runs by accident.
pub fn of(svc: &Services) -> Arc<Catalogue> {
    static EMPTY: std::sync::OnceLock<Arc<Catalogue>> = std::sync::OnceLock::new();
    svc.port::<Catalogue>()
        .unwrap_or_else(|| EMPTY.get_or_init(Arc::default).clone())
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ops: Vec<&str> = self.handlers.keys().map(|o| o.as_str()).collect();
        ops.sort_unstable();
        f.debug_struct("Catalogue")
            .field("handlers", &ops)
            .field(
                "after_run",
                &self.after_run.iter().map(|h| h.0).collect::<Vec<_>>(),
            )
            .field(
                "sweeps",
                &self.sweeps.iter().map(|s| s.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Catalogue {
    /// The handler a worker runs for `op`.
    pub fn with_handler(&mut self, op: OperationType, handler: Arc<dyn Handler>) -> &mut Self {
        self.handlers.insert(op, handler);
        self
    }

    /// Per-item results shown on runs of `op`.
    pub fn with_items(&mut self, op: OperationType, items: ItemsFn) -> &mut Self {
        self.items.insert(op, items);
        self
    }

    /// A hook called (by the worker) after every run's outcome is committed.
    pub fn with_after_run(&mut self, name: &'static str, hook: AfterRunFn) -> &mut Self {
        self.after_run.push((name, hook));
        self
    }

    /// A sweep the reconciler runs on every beat (and once at start-up).
    pub fn with_sweep(&mut self, name: &'static str, sweep: SweepFn) -> &mut Self {
        self.sweeps.push((name, sweep));
        self
    }

    pub fn handler(&self, op: OperationType) -> Option<Arc<dyn Handler>> {
        self.handlers.get(&op).cloned()
    }

    pub async fn items(
        &self,
        svc: &Services,
        op: OperationType,
        run: RunId,
    ) -> AppResult<Option<RunItems>> {
        match self.items.get(&op) {
            Some(f) => f(svc.clone(), run).await,
            None => Ok(None),
        }
    }

    /// Runs every after-run hook; a hook's failure is its own to log.
    pub async fn after_run(&self, svc: &Services, run: &ClaimedRun) {
        for (_, hook) in &self.after_run {
            hook(svc.clone(), run.clone()).await;
        }
    }

    /// Runs every sweep, logging failures (one sweep failing does not stop the others).
    pub async fn sweep(&self, svc: &Services) {
        for (name, sweep) in &self.sweeps {
            match sweep(svc.clone()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sweep = name, changed = n, "sweep"),
                Err(e) => tracing::warn!(sweep = name, error = %e, "sweep failed"),
            }
        }
    }
}
