//! What follows a *bring in line* (spec 010, "Bring in line shows what
//! happens next"): while its restore runs, and after it until the next
//! comparison of that tenant answers, the cells it works on read *being
//! brought in line* and cannot be chosen again; when its restore ends, the
//! policies it wrote (or found already right) are read again by id — one
//! inventory sync of just those, as the system — and the compare that
//! follows every inventory sync turns the cells *aligned*, or leaves them
//! *different* with the settings that still differ.

use crate::error::AppResult;
use crate::ids::{BaselineId, TenantId, WorkspaceId};
use crate::runs::gate::{Initiator, StartGate, StartRequest};
use crate::runs::service::ClaimedRun;
use crate::services::Services;
use serde_json::Value;
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};

/// How long after its restore ended a cell may wait for the re-read and
/// compare before it shows its compared state again (a re-read that could
/// not run must not hide a deviation for long).
pub const WAIT_FOR_COMPARE_MS: i64 = 10 * 60_000;

/// The baseline, and each tenant's item numbers, a restore's arguments name.
fn bring_in_line_of(context: &str) -> Option<(i64, HashMap<i64, Vec<i64>>)> {
    let v: Value = serde_json::from_str(context).ok()?;
    let args = v.get("args")?;
    let baseline = args.get("baseline")?.as_i64()?;
    let items = args
        .get("baseline_items")?
        .as_object()?
        .iter()
        .filter_map(|(t, nos)| {
            Some((
                t.parse::<i64>().ok()?,
                serde_json::from_value::<Vec<i64>>(nos.clone()).ok()?,
            ))
        })
        .collect();
    Some((baseline, items))
}

/// Cells `(tenant, item number)` of `baseline` being brought in line: its
/// restore is queued or running, or it ended well (succeeded or partially)
/// after that tenant's latest comparison, within [`WAIT_FOR_COMPARE_MS`].
/// `compared_at`: each tenant's latest comparison.
pub(crate) async fn cells(
    conn: &mut AnyConnection,
    baseline: BaselineId,
    ws: WorkspaceId,
    compared_at: &HashMap<i64, i64>,
    now: i64,
) -> AppResult<HashSet<(i64, i64)>> {
    let rows: Vec<(Option<i64>, String, String, Option<i64>)> = sqlx::query_as(concat!(
        "SELECT r.tenant_id, r.context, r.status, r.completed_at FROM operation_runs r
         WHERE r.workspace_id = $1 AND r.op_type = 'restore_execute' AND r.created_at > $2
           AND (",
        crate::runs::sql::active_run!("r"),
        " OR (",
        crate::runs::sql::ended_well!("r"),
        " AND r.completed_at > $3))"
    ))
    .bind(ws.0)
    .bind(now - 24 * 60 * 60_000)
    .bind(now - WAIT_FOR_COMPARE_MS)
    .fetch_all(conn)
    .await?;
    let mut out = HashSet::new();
    for (tenant, context, status, completed_at) in rows {
        let Some(tenant) = tenant else { continue };
        let Some((b, items)) = bring_in_line_of(&context) else {
            continue;
        };
        if b != baseline.0 {
            continue;
        }
        let waiting = status != "completed"
            || completed_at.unwrap_or(0) > compared_at.get(&tenant).copied().unwrap_or(0);
        if waiting {
            out.extend(
                items
                    .get(&tenant)
                    .into_iter()
                    .flatten()
                    .map(|no| (tenant, *no)),
            );
        }
    }
    Ok(out)
}

/// After-run hook: a bring in line's restore ended with something written
/// or found right: read exactly those policies again (as the system), so
/// the compare after that inventory sync answers for its cells.
pub async fn after_run(svc: &Services, run: &ClaimedRun) {
    if run.op_type != crate::restore::RESTORE_EXECUTE || run.args.get("baseline").is_none() {
        return;
    }
    let Some(tenant) = run.tenant_id else {
        return;
    };
    if let Err(e) = read_again(svc, run, tenant).await {
        tracing::warn!(error = %e, tenant = tenant.0, "re-read after bring in line not started");
    }
}

async fn read_again(svc: &Services, run: &ClaimedRun, tenant: TenantId) -> AppResult<()> {
    let written: Vec<(String, String)> = sqlx::query_as(concat!(
        "SELECT x.kind, x.written_id FROM restore_results x JOIN operation_runs r ON r.id = x.run_id
         WHERE x.run_id = $1 AND x.written_id IS NOT NULL AND x.action IN ('created', 'updated', 'unchanged')
           AND ",
        crate::runs::sql::ended_well!("r")
    ))
    .bind(run.id.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    if written.is_empty() {
        return Ok(());
    }
    let mut reread = serde_json::Map::new();
    for (kind, id) in written {
        if let Some(list) = reread
            .entry(kind)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            list.push(Value::String(id));
        }
    }
    let mut args = serde_json::Map::new();
    args.insert(
        crate::provider::handlers::REREAD.into(),
        Value::Object(reread),
    );
    StartGate::start(
        svc,
        Initiator::System,
        StartRequest {
            tenant,
            op_type: crate::provider::INVENTORY_SYNC,
            connection: None,
            args: Value::Object(args),
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_restores_context_names_its_baseline_and_cells() {
        let ctx = r#"{"provider_connection_id":3,"args":{"baseline":7,"baseline_version":2,"baseline_items":{"11":[1,4],"12":[2]}}}"#;
        let (b, items) = bring_in_line_of(ctx).unwrap();
        assert_eq!(b, 7);
        assert_eq!(items[&11], vec![1, 4]);
        assert!(bring_in_line_of(r#"{"args":{}}"#).is_none());
        assert!(bring_in_line_of("not json").is_none());
    }
}
