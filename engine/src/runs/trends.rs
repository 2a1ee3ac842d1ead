//! What the run charts read: runs that ended per day by outcome (days cut at
//! the reader's midnight) and how long each operation type takes. Both go
//! through the monitoring `WHERE` builder's rules for who sees what, and read
//! the partial indexes on `completed_at` (migration 0026), so they stay an
//! index-only range scan at a million runs.

use super::filter::RunFilter;
use super::model::RunOutcome;
use super::monitoring::Viewer;
use crate::error::AppResult;
use crate::runs::views::{
    DURATION_BUCKETS, DurationRow, DurationSpread, ENDED_OUTCOMES, RunsPerDay,
};
use crate::services::Services;
use crate::views::ZoneRules;

const DAY: i64 = 86_400_000;
/// Days a trend covers, today included.
pub const TREND_DAYS: i64 = 30;

/// The instants of the reader's midnights that bound the last `days` local
/// days, today last: `days + 1` instants, ascending.
pub fn local_midnights(rules: Option<&ZoneRules>, now: i64, days: i64) -> Vec<i64> {
    let offset = |t: i64| rules.map_or(0, |r| r.offset_ms_at(t));
    let today = (now + offset(now)).div_euclid(DAY);
    (today - days + 1..=today + 1)
        .map(|d| {
            let local = d * DAY;
            // The offset at midnight itself (a change of offset happens at
            // night, so look it up at the instant the first guess names).
            local - offset(local - offset(local))
        })
        .collect()
}

/// The local date a midnight starts (`2026-12-01`).
fn local_date(midnight: i64, rules: Option<&ZoneRules>) -> String {
    let local = midnight + rules.map_or(0, |r| r.offset_ms_at(midnight));
    let text = crate::views::format_utc(local);
    text.get(..10).unwrap_or(&text).to_string()
}

/// The local dates of the days `bounds` (from [`local_midnights`]) cut.
pub fn local_dates(bounds: &[i64], rules: Option<&ZoneRules>) -> Vec<String> {
    bounds
        .iter()
        .take(bounds.len().saturating_sub(1))
        .map(|b| local_date(*b, rules))
        .collect()
}

/// SQL for the index of the day `column` falls in, `0` for the first of
/// `bounds` (from [`local_midnights`]); the caller keeps `column` within
/// the first and last bound. The bounds are our own numbers, written as
/// literals.
pub fn day_index_sql(column: &str, bounds: &[i64]) -> String {
    let mut sql = String::from("CAST(CASE");
    let inner = bounds.len().saturating_sub(2);
    for (i, b) in bounds.iter().enumerate().skip(1).take(inner) {
        sql.push_str(&format!(" WHEN {column} < {b} THEN {}", i - 1));
    }
    sql.push_str(&format!(" ELSE {inner} END AS BIGINT)"));
    sql
}

/// Closed counts are filled up to this long ago: a run's end is stamped in
/// the transaction that ends it, committed well within this.
const LAG: i64 = 10 * 60_000;
/// The workspace counts' grain: every zone's midnight falls on one.
const QUARTER: i64 = 15 * 60_000;

/// Brings the rollup `kind` of workspace `ws` (0: every workspace) up to
/// `closed` (exclusive; nothing before `floor` is ever read) with `fill`,
/// which inserts the counts of `[from, until)`; returns how far it is
/// filled. Two filling at once: the mark's compare-and-set lets one in, the
/// other reads what the first filled.
async fn fill_rollup(
    svc: &Services,
    kind: &str,
    ws: i64,
    floor: i64,
    closed: i64,
    fill: impl FnOnce(i64, i64) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>,
) -> AppResult<i64> {
    let mark: Option<(i64,)> = sqlx::query_as(
        "SELECT filled_until FROM run_rollup_marks WHERE kind = $1 AND workspace_id = $2",
    )
    .bind(kind)
    .bind(ws)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let mark = mark.map(|m| m.0);
    if mark.is_some_and(|m| m >= closed) {
        return Ok(mark.unwrap_or(closed));
    }
    let from = mark.unwrap_or(floor).max(floor);
    if from >= closed {
        return Ok(mark.unwrap_or(floor));
    }
    let mut tx = svc.store.begin().await?;
    let claimed = match mark {
        Some(old) => sqlx::query(
            "UPDATE run_rollup_marks SET filled_until = $3 WHERE kind = $1 AND workspace_id = $2 AND filled_until = $4",
        )
        .bind(kind)
        .bind(ws)
        .bind(closed)
        .bind(old)
        .execute(&mut **tx)
        .await?,
        None => sqlx::query(
            "INSERT INTO run_rollup_marks (kind, workspace_id, filled_until) VALUES ($1, $2, $3)
             ON CONFLICT (kind, workspace_id) DO NOTHING",
        )
        .bind(kind)
        .bind(ws)
        .bind(closed)
        .execute(&mut **tx)
        .await?,
    };
    if claimed.rows_affected() != 1 {
        // Someone else filled it meanwhile: read theirs.
        drop(tx);
        let (mark,): (i64,) = sqlx::query_as(
            "SELECT filled_until FROM run_rollup_marks WHERE kind = $1 AND workspace_id = $2",
        )
        .bind(kind)
        .bind(ws)
        .fetch_one(&mut *svc.store.read().await?)
        .await?;
        return Ok(mark);
    }
    fill(from, closed).execute(&mut **tx).await?;
    tx.commit().await?;
    Ok(closed)
}

/// Runs matching `filter` (its tenant, type, initiator and tag; tab, status,
/// outcome, range and cursor are ignored) that ended on each of the last
/// [`TREND_DAYS`] days in the reader's zone, by outcome. A member who sees
/// every tenant and no filter reads the workspace's closed quarter hours
/// and the runs since; anything narrower reads the runs (a tenant's from
/// its own index).
pub async fn runs_per_day(
    svc: &Services,
    viewer: &Viewer,
    filter: &RunFilter,
    rules: Option<&ZoneRules>,
    now: i64,
) -> AppResult<RunsPerDay> {
    let scope = RunFilter {
        op_type: filter.op_type,
        tenant: filter.tenant,
        initiator: filter.initiator,
        tag: filter.tag,
        ..RunFilter::default()
    };
    let bounds = local_midnights(rules, now, TREND_DAYS);
    let (Some(&first), Some(&last)) = (bounds.first(), bounds.last()) else {
        return Ok(RunsPerDay::default());
    };
    let mut days: Vec<(String, [i64; 5])> = local_dates(&bounds, rules)
        .into_iter()
        .map(|d| (d, [0; 5]))
        .collect();
    // `n` runs that ended with `outcome` on day `day` (an index into `days`).
    let mut add = |day: Option<usize>, outcome: &str, n: i64| {
        let Ok(outcome) = outcome.parse::<RunOutcome>() else {
            return;
        };
        let slot = ENDED_OUTCOMES.iter().position(|o| *o == outcome);
        if let (Some(slot), Some(day)) = (slot, day.and_then(|d| days.get_mut(d))) {
            day.1[slot] += n;
        }
    };
    let mut live_from = first;
    let whole_workspace = match viewer {
        Viewer::Member {
            workspace,
            all_tenants: true,
            ..
        } if scope == RunFilter::default() => Some(workspace.0),
        _ => None,
    };
    // Quarter hours fit in the reader's days (every zone today is whole
    // quarter hours from UTC; an odd historical offset reads the runs).
    if let Some(ws) = whole_workspace
        && bounds.iter().all(|b| b.rem_euclid(QUARTER) == 0)
    {
        let closed = (now - LAG).div_euclid(QUARTER) * QUARTER;
        let mark = fill_rollup(svc, "ended_quarters", ws, first, closed.min(last), |from, until| {
            sqlx::query(
                "INSERT INTO run_ended_quarters (workspace_id, quarter, outcome, runs)
                 SELECT r.workspace_id, r.completed_at / 900000, r.outcome, COUNT(*) FROM operation_runs r
                 WHERE r.workspace_id = $1 AND r.status = 'completed' AND r.completed_at >= $2 AND r.completed_at < $3
                 GROUP BY r.workspace_id, r.completed_at / 900000, r.outcome",
            )
            .bind(ws)
            .bind(from)
            .bind(until)
        })
        .await?;
        let upto = mark.clamp(first, last);
        for (day, outcome, n) in closed_quarters_by_day(svc, ws, &bounds, upto).await?.iter() {
            add(Some(*day), outcome, *n);
        }
        live_from = upto;
    }
    if live_from < last {
        let mut w = super::monitoring::where_of(viewer, &scope, now);
        let from = w.bind(live_from);
        let until = w.bind(last);
        // The literal status and the range: they pick the partial indexes.
        w.push("r.status = 'completed'".into());
        w.push(format!("r.completed_at >= {from}"));
        w.push(format!("r.completed_at < {until}"));
        let sql = format!(
            "SELECT {} AS d, r.outcome, COUNT(*) FROM operation_runs r WHERE {} GROUP BY 1, 2",
            day_index_sql("r.completed_at", &bounds),
            w.sql()
        );
        let rows: Vec<(i64, String, i64)> = w
            .query_as(sql)
            .fetch_all(&mut *svc.store.read().await?)
            .await?;
        for (d, outcome, n) in rows {
            // The SQL already numbered the day.
            add(usize::try_from(d).ok(), &outcome, n);
        }
    }
    Ok(RunsPerDay { days })
}

/// A workspace's closed quarter hours from the first bound up to `upto`,
/// summed into the reader's days: (day, outcome, runs).
type DaySums = std::sync::Arc<Vec<(usize, String, i64)>>;

/// Sums of closed quarter hours already read, by database, workspace, the
/// reader's days and how far they are filled. A filled quarter hour never
/// changes (ended runs never change and the fill mark only moves forward),
/// so the same key always sums the same: a page drawn again reads only the
/// runs since the mark. Bounded: emptied when full.
static DAY_SUMS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<DaySumsKey, DaySums>>,
> = std::sync::LazyLock::new(Default::default);
/// (the database's URL, workspace, the reader's day bounds, filled up to).
type DaySumsKey = (String, i64, Vec<i64>, i64);
const DAY_SUMS_KEPT: usize = 1024;

async fn closed_quarters_by_day(
    svc: &Services,
    ws: i64,
    bounds: &[i64],
    upto: i64,
) -> AppResult<DaySums> {
    let Some(&first) = bounds.first() else {
        return Ok(DaySums::default());
    };
    if upto <= first {
        return Ok(DaySums::default());
    }
    let key = (svc.store.url().to_string(), ws, bounds.to_vec(), upto);
    let kept = DAY_SUMS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned();
    if let Some(sums) = kept {
        return Ok(sums);
    }
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT quarter, outcome, runs FROM run_ended_quarters
         WHERE workspace_id = $1 AND quarter >= $2 AND quarter < $3",
    )
    .bind(ws)
    .bind(first / QUARTER)
    .bind(upto / QUARTER)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut by_day: std::collections::BTreeMap<(usize, String), i64> = Default::default();
    for (quarter, outcome, n) in rows {
        // The day whose midnight is the last at or before the quarter's start.
        let at = quarter * QUARTER;
        if let Some(day) = bounds.partition_point(|b| *b <= at).checked_sub(1) {
            *by_day.entry((day, outcome)).or_default() += n;
        }
    }
    let sums: DaySums =
        std::sync::Arc::new(by_day.into_iter().map(|((d, o), n)| (d, o, n)).collect());
    let mut map = DAY_SUMS.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= DAY_SUMS_KEPT {
        map.clear();
    }
    map.insert(key, sums.clone());
    Ok(sums)
}

/// SQL for a run's duration bucket ([`DURATION_BUCKETS`]).
fn bucket_sql() -> String {
    let mut bucket = String::from("CAST(CASE");
    for (i, (upper, _)) in DURATION_BUCKETS
        .iter()
        .enumerate()
        .take(DURATION_BUCKETS.len() - 1)
    {
        bucket.push_str(&format!(
            " WHEN r.completed_at - r.started_at < {upper} THEN {i}"
        ));
    }
    bucket.push_str(&format!(
        " ELSE {} END AS BIGINT)",
        DURATION_BUCKETS.len() - 1
    ));
    bucket
}

/// How long the runs that ran (started and ended) over the last
/// [`TREND_DAYS`] UTC days, today included, took per operation type, every
/// workspace (the system plane): closed days' counts and today's runs.
pub async fn duration_spread(svc: &Services, now: i64) -> AppResult<DurationSpread> {
    let today = now.div_euclid(DAY) * DAY;
    let first = today - (TREND_DAYS - 1) * DAY;
    let closed = (now - LAG).div_euclid(DAY) * DAY;
    let bucket = bucket_sql();
    let fill_sql = format!(
        "INSERT INTO run_ended_durations (day, op_type, bucket, runs)
         SELECT r.completed_at / {DAY}, r.op_type, {bucket}, COUNT(*) FROM operation_runs r
         WHERE r.status = 'completed' AND r.completed_at >= $1 AND r.completed_at < $2 AND r.started_at IS NOT NULL
         GROUP BY r.completed_at / {DAY}, r.op_type, {bucket}"
    );
    let mark = fill_rollup(svc, "ended_durations", 0, first, closed, |from, until| {
        sqlx::query(sqlx::AssertSqlSafe(fill_sql))
            .bind(from)
            .bind(until)
    })
    .await?;
    let upto = mark.max(first);
    let mut rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT op_type, bucket, CAST(SUM(runs) AS BIGINT) FROM run_ended_durations WHERE day >= $1 AND day < $2 GROUP BY op_type, bucket",
    )
    .bind(first / DAY)
    .bind(upto / DAY)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let live: Vec<(String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.op_type, {bucket} AS b, COUNT(*) FROM operation_runs r
         WHERE r.status = 'completed' AND r.completed_at >= $1 AND r.started_at IS NOT NULL
         GROUP BY 1, 2"
    )))
    .bind(upto)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    rows.extend(live);
    let mut spread: Vec<(super::model::OperationType, [i64; 6])> = Vec::new();
    for (key, b, n) in rows {
        // A type no longer registered is no type (its old runs still count
        // on the run lists, not here).
        let Ok(t) = key.parse::<super::model::OperationType>() else {
            continue;
        };
        let Some(b) = usize::try_from(b).ok().filter(|b| *b < 6) else {
            continue;
        };
        match spread.iter_mut().find(|(k, _)| *k == t) {
            Some((_, counts)) => counts[b] += n,
            None => {
                let mut counts = [0; 6];
                counts[b] = n;
                spread.push((t, counts));
            }
        }
    }
    let mut rows: Vec<DurationRow> = spread
        .into_iter()
        .map(|(t, counts)| DurationRow {
            operation: t.label().to_string(),
            counts,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.total()
            .cmp(&a.total())
            .then(a.operation.cmp(&b.operation))
    });
    Ok(DurationSpread { rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_end_at_the_readers_midnight() {
        // 2026-03-29 12:00 UTC: Berlin moved to summer time at 01:00 UTC.
        let now = 1_774_785_600_000;
        let berlin = ZoneRules {
            name: "Europe/Berlin".into(),
            spans: vec![
                (i64::MIN / 2, 3600, "CET".into()),
                (1_774_746_000_000, 7200, "CEST".into()),
            ],
        };
        let b = local_midnights(Some(&berlin), now, 3);
        assert_eq!(b.len(), 4);
        // 27 March 00:00 CET = 26 March 23:00 UTC.
        assert_eq!(crate::views::format_utc(b[0]), "2026-03-26 23:00 UTC");
        assert_eq!(crate::views::format_utc(b[2]), "2026-03-28 23:00 UTC");
        // 30 March 00:00 CEST = 29 March 22:00 UTC: the day of the change
        // is 23 hours long.
        assert_eq!(crate::views::format_utc(b[3]), "2026-03-29 22:00 UTC");
        assert_eq!(local_date(b[2], Some(&berlin)), "2026-03-29");
        let utc = local_midnights(None, now, 30);
        assert_eq!(utc.len(), 31);
        assert_eq!(crate::views::format_utc(utc[30]), "2026-03-30 00:00 UTC");
        assert_eq!(local_date(utc[0], None), "2026-02-28");
        assert_eq!(local_dates(&utc, None).len(), 30);
        assert_eq!(
            day_index_sql("c", &b),
            format!(
                "CAST(CASE WHEN c < {} THEN 0 WHEN c < {} THEN 1 ELSE 2 END AS BIGINT)",
                b[1], b[2]
            )
        );
    }
}
