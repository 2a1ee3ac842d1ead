//! Operation handlers: what a worker runs for each operation type.

use super::model::{OperationType, ReasonCode, RunOutcome, SummaryCounts};
use super::service::{ClaimedRun, Completion};
use crate::services::Services;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

/// Handlers by operation type.
#[derive(Clone, Default)]
pub struct Handlers(HashMap<OperationType, Arc<dyn Handler>>);

impl Handlers {
    /// Every handler Tenantry ships.
    pub fn standard() -> Self {
        let mut h = Handlers::default();
        h.insert(OperationType::MachineryProbe, Arc::new(MachineryProbe));
        h.insert(
            OperationType::MachineryProbeSecondary,
            Arc::new(MachineryProbe),
        );
        h.insert(
            OperationType::OnboardingVerification,
            Arc::new(crate::provider::handlers::ProviderOperation(
                OperationType::OnboardingVerification,
            )),
        );
        h.insert(
            OperationType::RestoreExecute,
            Arc::new(crate::provider::handlers::ProviderOperation(
                OperationType::RestoreExecute,
            )),
        );
        h.insert(
            OperationType::ReviewPackGenerate,
            Arc::new(crate::review_packs::handler::ReviewPackGenerate),
        );
        for op in crate::provider::TENANT_OPERATIONS {
            h.insert(
                *op,
                Arc::new(crate::provider::handlers::ProviderOperation(*op)),
            );
        }
        h
    }

    pub fn insert(&mut self, op: OperationType, handler: Arc<dyn Handler>) {
        self.0.insert(op, handler);
    }

    pub fn get(&self, op: OperationType) -> Option<Arc<dyn Handler>> {
        self.0.get(&op).cloned()
    }
}

/// The test-only operation: records each execution, optionally sleeps
/// (checking for cancellation), and ends with the outcome its arguments ask for.
/// Arguments: `{"sleep_ms": u64, "first_attempt_sleep_ms": u64,
/// "outcome": "succeeded|failed|partially_succeeded"}`.
pub struct MachineryProbe;

impl Handler for MachineryProbe {
    fn run(&self, ctx: RunContext) -> BoxFuture<Completion> {
        Box::pin(async move {
            let now = ctx.svc.now();
            let journal = match ctx.svc.store.write().await {
                Ok(mut conn) => sqlx::query(
                    "INSERT INTO probe_executions (run_id, attempt, worker, executed_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(ctx.run.id.0)
                .bind(ctx.run.attempt)
                .bind(&ctx.run.worker)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(crate::AppError::from),
                Err(e) => Err(e),
            };
            if journal.is_err() {
                return Completion::failed(
                    ReasonCode::HandlerFailed,
                    "Could not write the probe journal.",
                );
            }
            let arg = |k: &str| ctx.run.args.get(k).and_then(|v| v.as_u64());
            // `first_attempt_sleep_ms` lets tests kill a worker mid-run and see the retry finish.
            let sleep_ms = match arg("first_attempt_sleep_ms") {
                Some(ms) if ctx.run.attempt == 1 => ms,
                _ => arg("sleep_ms").unwrap_or(0),
            };
            let mut slept = 0;
            while slept < sleep_ms {
                if ctx.cancel_requested() {
                    return ctx.cancelled(SummaryCounts(vec![("slept_ms".into(), slept as i64)]));
                }
                let step = (sleep_ms - slept).min(20);
                tokio::time::sleep(Duration::from_millis(step)).await;
                slept += step;
            }
            let summary = SummaryCounts(vec![("items".into(), 1)]);
            match ctx.run.args.get("outcome").and_then(|v| v.as_str()) {
                Some("failed") => {
                    Completion::failed(ReasonCode::HandlerFailed, "The probe was asked to fail.")
                }
                Some("partially_succeeded") => Completion {
                    outcome: RunOutcome::PartiallySucceeded,
                    summary: SummaryCounts(vec![("items".into(), 1), ("failed_items".into(), 1)]),
                    failure_summary: Some("One of two items failed.".into()),
                    reason: Some(ReasonCode::HandlerFailed),
                },
                _ => Completion::succeeded(summary),
            }
        })
    }
}
