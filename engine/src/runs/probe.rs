//! The engine's own test operation (`machinery_probe`): records each
//! execution, optionally sleeps (checking for cancellation), and ends with the
//! outcome its arguments ask for. Never offered in the UI.

use super::model::{OperationSpec, PROVIDER};

pub const SPEC: OperationSpec = OperationSpec {
    test_only: true,
    ..OperationSpec::provider("machinery_probe", "Machinery probe", 1, PROVIDER)
};
pub const MACHINERY_PROBE: super::model::OperationType =
    super::model::OperationType::registered(&SPEC);
pub const MACHINERY_PROBE_SECONDARY: super::model::OperationType =
    super::model::OperationType::registered(&SECONDARY_SPEC);
pub const SECONDARY_SPEC: OperationSpec = OperationSpec {
    test_only: true,
    ..OperationSpec::provider(
        "machinery_probe_secondary",
        "Machinery probe (secondary)",
        1,
        PROVIDER,
    )
};

#[cfg(feature = "server")]
pub use server::*;

#[cfg(feature = "server")]
mod server {
    use crate::runs::catalogue::Catalogue;
    use crate::runs::handlers::{BoxFuture, Handler, RunContext};
    use crate::runs::model::{ReasonCode, RunOutcome, SummaryCounts};
    use crate::runs::service::Completion;
    use std::sync::Arc;
    use std::time::Duration;

    pub fn register(c: &mut Catalogue) {
        c.with_handler(
            crate::runs::probe::MACHINERY_PROBE,
            Arc::new(MachineryProbe),
        )
        .with_handler(
            crate::runs::probe::MACHINERY_PROBE_SECONDARY,
            Arc::new(MachineryProbe),
        );
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
                        return ctx
                            .cancelled(SummaryCounts(vec![("slept_ms".into(), slept as i64)]));
                    }
                    let step = (sleep_ms - slept).min(20);
                    tokio::time::sleep(Duration::from_millis(step)).await;
                    slept += step;
                }
                // Inside the run's span: the log tests read its ids off this line.
                tracing::debug!(slept_ms = slept, "probe finished");
                let summary = SummaryCounts(vec![("items".into(), 1)]);
                match ctx.run.args.get("outcome").and_then(|v| v.as_str()) {
                    Some("failed") => Completion::failed(
                        ReasonCode::HandlerFailed,
                        "The probe was asked to fail.",
                    ),
                    Some("partially_succeeded") => Completion {
                        outcome: RunOutcome::PartiallySucceeded,
                        summary: SummaryCounts(vec![
                            ("items".into(), 1),
                            ("failed_items".into(), 1),
                        ]),
                        failure_summary: Some("One of two items failed.".into()),
                        reason: Some(ReasonCode::HandlerFailed),
                    },
                    _ => Completion::succeeded(summary),
                }
            })
        }
    }
}
