//! End marks after a restore of Tenantry's own database.
//!
//! On PostgreSQL an ended run's `end_mark` is the id of the transaction that
//! ended it, and readers of ended runs (alerts) take marks below the oldest
//! transaction still in flight. Transaction ids belong to the PostgreSQL
//! cluster, not to the database: restored into another cluster, the old marks
//! can be far above the new cluster's ids, so new ends would sort before runs
//! a reader has not read yet, and be skipped once its cursor passes them.
//!
//! [`renumber`] keeps what each reader has read and what it has not, and
//! nothing else: the ended runs fall into classes between the readers'
//! cursors (every run of a class is read by the same readers), class `k` gets
//! mark `k`, and each reader's cursor points at the end of its class. Small
//! marks are below any transaction id a cluster hands out, so every later end
//! sorts after them and every restored mark counts as settled. Idempotent,
//! and harmless on SQLite (its marks count up from the highest one).

use crate::error::AppResult;
use crate::store::{Backend, WriteTx};

/// The trigger that keeps ended runs as they ended (migration 0002).
const TERMINAL_IS_FINAL: &str = "operation_runs_terminal_is_final";

/// Renumbers the end marks and the readers' cursors (see the module). Answers
/// how many ended runs were renumbered.
pub async fn renumber(tx: &mut WriteTx, backend: Backend) -> AppResult<u64> {
    // An ended run refuses every update; its mark is the one exception, made
    // here with the trigger off inside this transaction only (SQLite: the
    // trigger dropped and created again from its own stored definition).
    let kept_trigger: Option<String> = match backend {
        Backend::Postgres => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE operation_runs DISABLE TRIGGER {TERMINAL_IS_FINAL}"
            )))
            .execute(&mut ***tx)
            .await?;
            None
        }
        Backend::Sqlite => {
            let sql: Option<(String,)> = sqlx::query_as(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = $1",
            )
            .bind(TERMINAL_IS_FINAL)
            .fetch_optional(&mut ***tx)
            .await?;
            if sql.is_some() {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP TRIGGER {TERMINAL_IS_FINAL}"
                )))
                .execute(&mut ***tx)
                .await?;
            }
            sql.map(|(s,)| s)
        }
    };
    let cursors: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT reader, end_mark, run_id FROM run_end_cursors ORDER BY end_mark, run_id, reader",
    )
    .fetch_all(&mut ***tx)
    .await?;
    // Class k (from 1): ended runs after cursor k-1, up to cursor k; the
    // last class: after every cursor. Cursors are our own numbers.
    let mut case = String::from("CASE");
    for (k, (_, mark, run)) in cursors.iter().enumerate() {
        case.push_str(&format!(
            " WHEN end_mark < {mark} OR (end_mark = {mark} AND id <= {run}) THEN {}",
            k + 1
        ));
    }
    case.push_str(&format!(" ELSE {} END", cursors.len() + 1));
    let renumbered = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE operation_runs SET end_mark = {case} WHERE end_mark IS NOT NULL"
    )))
    .execute(&mut ***tx)
    .await?
    .rows_affected();
    for (k, (reader, _, _)) in cursors.iter().enumerate() {
        let class = (k + 1) as i64;
        let (last,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(id) FROM operation_runs WHERE end_mark = $1")
                .bind(class)
                .fetch_one(&mut ***tx)
                .await?;
        sqlx::query("UPDATE run_end_cursors SET end_mark = $1, run_id = $2 WHERE reader = $3")
            .bind(class)
            .bind(last.unwrap_or(0))
            .bind(reader)
            .execute(&mut ***tx)
            .await?;
    }
    match backend {
        Backend::Postgres => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE operation_runs ENABLE TRIGGER {TERMINAL_IS_FINAL}"
            )))
            .execute(&mut ***tx)
            .await?;
        }
        Backend::Sqlite => {
            if let Some(sql) = kept_trigger {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut ***tx)
                    .await?;
            }
        }
    }
    Ok(renumbered)
}
