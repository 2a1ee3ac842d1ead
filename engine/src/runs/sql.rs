//! What the `operation_runs` table means, in SQL, in one place: which runs
//! are active, how a protected scope is keyed, and when a run's stored
//! results count. Features use these instead of spelling statuses out.

/// `{alias}.status IN ('queued', 'running')`: the run still holds its scope.
#[macro_export]
#[doc(hidden)]
macro_rules! active_run {
    ($alias:literal) => {
        concat!($alias, ".status IN ('queued', 'running')")
    };
}
pub use crate::active_run;

/// SQL: run `{alias}` ended and did its work (succeeded, or partly).
#[macro_export]
#[doc(hidden)]
macro_rules! ended_well {
    ($alias:literal) => {
        concat!($alias, ".outcome IN ('succeeded', 'partially_succeeded')")
    };
}
pub use crate::ended_well;

/// SQL: run `{alias}` ended failed.
#[macro_export]
#[doc(hidden)]
macro_rules! ended_failed {
    ($alias:literal) => {
        concat!($alias, ".outcome = 'failed'")
    };
}
pub use crate::ended_failed;

/// SQL: run `{alias}` is one the gate wrote already blocked (never queued).
#[macro_export]
#[doc(hidden)]
macro_rules! written_blocked {
    ($alias:literal) => {
        concat!(
            $alias,
            ".outcome = 'blocked' AND ",
            $alias,
            ".started_at IS NULL AND ",
            $alias,
            ".completed_at = ",
            $alias,
            ".created_at"
        )
    };
}
pub use crate::written_blocked;

/// The protected scope key of a provider connection, as SQL over an id
/// column (`'provider_connection:' || c.id`); the same key as
/// [`super::model::connection_scope_key`].
#[macro_export]
#[doc(hidden)]
macro_rules! connection_scope {
    ($id:literal) => {
        concat!("'provider_connection:' || ", $id)
    };
}
pub use crate::connection_scope;

/// The protected scope key of a tenant, as SQL over an id column.
#[macro_export]
#[doc(hidden)]
macro_rules! tenant_scope {
    ($id:literal) => {
        concat!("'tenant:' || ", $id)
    };
}
pub use crate::tenant_scope;

/// The condition under which a run's stored result is data: the run that
/// wrote it (`{alias}.run_id`, `{alias}.attempt`) ended successfully, with
/// that attempt. The run's fenced completion is the moment its results
/// appear; a killed attempt's writes never do.
pub fn published(alias: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM operation_runs pr WHERE pr.id = {alias}.run_id AND pr.attempts = {alias}.attempt AND pr.outcome IN ('succeeded','partially_succeeded'))"
    )
}

/// [`published`] as a scalar subquery: checked row by row in index order,
/// so an `ORDER BY … LIMIT 1` stops at the first published row, where the
/// planner may otherwise turn the `EXISTS` into a join over every run.
pub fn published_scalar(alias: &str) -> String {
    format!(
        "(SELECT pr.outcome FROM operation_runs pr WHERE pr.id = {alias}.run_id AND pr.attempts = {alias}.attempt) IN ('succeeded','partially_succeeded')"
    )
}

/// `AND {alias}.tenant_id IN (…)` for these tenants: our own ids, written as
/// numbers (a list that changes with every page would only fill the
/// statement cache as binds). Callers answer an empty list themselves.
pub fn tenant_among(alias: &str, ids: &[i64]) -> String {
    id_among(&format!("{alias}.tenant_id"), ids)
}

/// `AND {column} IN (…)`: the same filter on a column of our own ids
/// (`t.id` of the tenants themselves).
pub fn id_among(column: &str, ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!(" AND {column} IN ({})", list.join(","))
}

/// Results that explain a failure too (verification reports): shown once
/// their run ended, with any outcome, from the attempt that wrote them.
pub fn finished(alias: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM operation_runs pr WHERE pr.id = {alias}.run_id AND pr.attempts = {alias}.attempt AND pr.status = 'completed')"
    )
}

/// SQL, PostgreSQL: end marks below this are settled (every transaction
/// that could still write a lower one has ended). SQLite needs no bound.
pub const END_MARKS_SETTLED: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// A run-ending statement with its end mark spelled in, per backend, at
/// compile time: `ending!(backend, "UPDATE … end_mark = ", ", … WHERE …")`.
/// Every statement that sets `status = 'completed'` writes one, so readers
/// of ended runs (alerts) follow ends without a row per end. PostgreSQL:
/// the writing transaction's id; a reader takes only marks below the oldest
/// transaction still in flight ([`END_MARKS_SETTLED`]): those can no longer
/// change. SQLite (one writer): one more than the highest mark so far.
#[macro_export]
#[doc(hidden)]
macro_rules! ending {
    ($backend:expr, $before:literal, $after:literal) => {
        match $backend {
            $crate::store::Backend::Postgres => {
                concat!($before, "pg_current_xact_id()::text::bigint", $after)
            }
            $crate::store::Backend::Sqlite => concat!(
                $before,
                "(COALESCE((SELECT m.end_mark FROM operation_runs m WHERE m.end_mark IS NOT NULL ORDER BY m.end_mark DESC LIMIT 1), 0) + 1)",
                $after
            ),
        }
    };
}
pub use crate::ending;
