//! Operation handlers: what a worker runs for each operation type.

use super::model::{ReasonCode, RunOutcome, SummaryCounts};
use super::service::{ClaimedRun, Completion};
use crate::services::Services;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a handler gets: the run, the services, and a flag the worker raises
/// when cancellation was requested (handlers check it between steps).
#[derive(Clone)]
pub struct RunContext {
    pub run: ClaimedRun,
    pub svc: Services,
    cancel: Arc<AtomicBool>,
}

impl RunContext {
    pub fn new(run: ClaimedRun, svc: Services, cancel: Arc<AtomicBool>) -> Self {
        RunContext { run, svc, cancel }
    }

    pub fn cancel_requested(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    pub fn cancelled(&self, summary: SummaryCounts) -> Completion {
        Completion {
            outcome: RunOutcome::Cancelled,
            summary,
            failure_summary: None,
            reason: Some(ReasonCode::Cancelled),
        }
    }
}

pub trait Handler: Send + Sync + 'static {
    fn run(&self, ctx: RunContext) -> BoxFuture<Completion>;
}
