//! Workers: claim queued runs, run their handlers under a heartbeat-renewed
//! lease, write the outcome (fenced by attempt), and shut down gracefully.

use super::handlers::RunContext;
use super::model::ReasonCode;
use super::service::{ClaimedRun, Completion, Heartbeat, RunService};
use crate::error::AppError;
use crate::ids::RunId;
use crate::services::Services;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Runs executed at once by this worker.
    pub concurrency: usize,
    pub lease_ms: i64,
    pub heartbeat_ms: u64,
    /// Fallback poll when no wake-up arrives (other SQLite processes, lost NOTIFY).
    pub idle_poll_ms: u64,
    /// How long a shutdown waits for running handlers before releasing their runs.
    pub shutdown_grace_ms: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 8,
            lease_ms: 30_000,
            heartbeat_ms: 10_000,
            idle_poll_ms: 1_000,
            shutdown_grace_ms: 20_000,
        }
    }
}

/// What a worker did before it stopped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkerReport {
    pub completed: u64,
    pub released: u64,
    pub fenced_out: u64,
}

pub struct Worker {
    pub id: String,
    svc: Services,
    config: WorkerConfig,
}

/// Aborts a spawned handler when the task watching it is dropped.
struct AbortOnDrop(tokio::task::AbortHandle);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Default)]
struct Counters {
    completed: std::sync::atomic::AtomicU64,
    fenced_out: std::sync::atomic::AtomicU64,
}

impl Worker {
    /// A worker that runs what `svc.catalogue` declares.
    pub fn new(svc: Services, config: WorkerConfig) -> Worker {
        let id = format!(
            "{}-{}-{:04x}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
            std::process::id(),
            rand::random::<u16>()
        );
        Worker { id, svc, config }
    }

    /// Runs until `shutdown` turns true: then stops claiming, waits up to the
    /// grace period for running handlers, and releases what is still held.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> WorkerReport {
        // The claim loop is one unit of work for the store's connection guard;
        // each run (and its handler) is another.
        crate::store::one_unit(self.run_loop(shutdown)).await
    }

    async fn run_loop(self, mut shutdown: watch::Receiver<bool>) -> WorkerReport {
        let mut claim_failures = 0u32;
        let mut wake = self.svc.run_signal.subscribe();
        let held: Arc<Mutex<HashMap<RunId, ClaimedRun>>> = Arc::default();
        let counters = Arc::new(Counters::default());
        let mut tasks = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = self.config.concurrency.saturating_sub(tasks.len());
            let mut claimed = 0;
            if free > 0 {
                match RunService::claim(&self.svc, &self.id, free as i64, self.config.lease_ms)
                    .await
                {
                    Ok(runs) => {
                        claim_failures = 0;
                        claimed = runs.len();
                        for run in runs {
                            if let Ok(mut h) = held.lock() {
                                h.insert(run.id, run.clone());
                            }
                            // Every line logged while the run is handled
                            // (its handler, Graph, the desk) carries its ids.
                            let span = tracing::info_span!(
                                "run",
                                run_id = run.id.0,
                                op_type = run.op_type.as_str(),
                                workspace_id = run.workspace_id.0,
                                attempt = run.attempt,
                            );
                            tasks.spawn(
                                crate::store::one_unit(execute(
                                    self.svc.clone(),
                                    run,
                                    self.config.clone(),
                                    held.clone(),
                                    counters.clone(),
                                ))
                                .instrument(span),
                            );
                        }
                    }
                    Err(e) => {
                        // Back off while the database is away (250 ms doubling
                        // to 8 s), so an outage is a few log lines, not a flood.
                        claim_failures = claim_failures.saturating_add(1);
                        let wait = 250u64 << claim_failures.min(6).saturating_sub(1);
                        if claim_failures <= 3 || claim_failures.is_multiple_of(10) {
                            tracing::warn!(worker = %self.id, error = %e, failures = claim_failures, "claim failed; retrying");
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                            _ = shutdown.changed() => {}
                        }
                        continue;
                    }
                }
            }
            // Claimed a full batch: there may be more waiting.
            if claimed > 0 && claimed == free {
                continue;
            }
            tokio::select! {
                _ = wake.changed() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {
                    // Collect every run that finished meanwhile, so the next
                    // claim fetches a batch instead of one run at a time.
                    while tasks.try_join_next().is_some() {}
                }
                _ = tokio::time::sleep(Duration::from_millis(self.config.idle_poll_ms)) => {}
                _ = shutdown.changed() => {}
            }
        }

        // Graceful shutdown: no new claims; finish or release within the bound.
        let grace = tokio::time::sleep(Duration::from_millis(self.config.shutdown_grace_ms));
        tokio::pin!(grace);
        while !tasks.is_empty() {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = &mut grace => {
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
        let leftovers: Vec<ClaimedRun> = held
            .lock()
            .map(|h| h.values().cloned().collect())
            .unwrap_or_default();
        let mut released = 0;
        for run in leftovers {
            if matches!(RunService::release(&self.svc, &run).await, Ok(true)) {
                released += 1;
            }
        }
        WorkerReport {
            completed: counters.completed.load(Ordering::SeqCst),
            released,
            fenced_out: counters.fenced_out.load(Ordering::SeqCst),
        }
    }
}

async fn execute(
    svc: Services,
    run: ClaimedRun,
    config: WorkerConfig,
    held: Arc<Mutex<HashMap<RunId, ClaimedRun>>>,
    counters: Arc<Counters>,
) {
    let started = std::time::Instant::now();
    let completion = match crate::runs::catalogue::of(&svc).handler(run.op_type) {
        None => Some(Completion::failed(
            ReasonCode::OperationUnavailable,
            "No worker in this version can run this operation.",
        )),
        Some(handler) => {
            let cancel = Arc::new(AtomicBool::new(false));
            let ctx = RunContext::new(run.clone(), svc.clone(), cancel.clone());
            // The handler's own task keeps the run's span (its log lines name the run).
            let mut handle =
                tokio::spawn(crate::store::one_unit(handler.run(ctx)).in_current_span());
            let _guard = AbortOnDrop(handle.abort_handle());
            let mut beat = tokio::time::interval(Duration::from_millis(config.heartbeat_ms));
            beat.tick().await;
            loop {
                tokio::select! {
                    joined = &mut handle => {
                        break Some(joined.unwrap_or_else(|_| Completion::failed(
                            ReasonCode::HandlerFailed,
                            "The operation stopped unexpectedly.",
                        )));
                    }
                    _ = beat.tick() => match RunService::heartbeat(&svc, &run, config.lease_ms).await {
                        Ok(Heartbeat::Held { cancel_requested }) => {
                            if cancel_requested {
                                cancel.store(true, Ordering::SeqCst);
                            }
                        }
                        Ok(Heartbeat::Lost) => {
                            tracing::warn!(run = %run.id, "lease lost; stopping the handler without writing an outcome");
                            break None;
                        }
                        Err(e) => tracing::warn!(run = %run.id, error = %e, "heartbeat failed; will retry"),
                    }
                }
            }
        }
    };
    if let Some(completion) = completion {
        metrics::histogram!(
            crate::telemetry::RUN_DURATION,
            "op_type" => run.op_type.as_str(),
            "outcome" => completion.outcome.as_str(),
        )
        .record(started.elapsed().as_secs_f64());
        match RunService::complete(&svc, &run, completion).await {
            Ok(()) => {
                counters.completed.fetch_add(1, Ordering::SeqCst);
                // Side effect after the outcome is committed.
                crate::runs::catalogue::of(&svc).after_run(&svc, &run).await;
            }
            Err(AppError::Conflict { .. }) => {
                counters.fenced_out.fetch_add(1, Ordering::SeqCst);
                tracing::warn!(run = %run.id, "outcome refused: this attempt no longer holds the run");
            }
            Err(e) => tracing::error!(run = %run.id, error = %e, "could not record the outcome"),
        }
    } else {
        counters.fenced_out.fetch_add(1, Ordering::SeqCst);
    }
    if let Ok(mut h) = held.lock() {
        h.remove(&run.id);
    }
}
