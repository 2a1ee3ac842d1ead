//! The retention sweep: every workspace's expired snapshots, runs,
//! notifications and audit entries removed in small batches, each its own
//! transaction (no long locks; a crash between batches loses nothing and the
//! next sweep goes on from there, since every batch is chosen afresh by the
//! same rules). One process at a time: a lease in `retention_sweeps`.

use super::{RetentionPolicy, SweepSummary, partitions};
use crate::error::AppResult;
use crate::ids::WorkspaceId;
use crate::provider::data::SnapshotTable;
use crate::services::Services;
use crate::store::{Backend, marks};
use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::clock::DAY_MS;
/// Rows (or snapshots, or runs) per transaction.
pub const BATCH: i64 = 500;
/// A sweep starts at most this often.
const EVERY_MS: i64 = 3_600_000;
/// How long a claimed sweep holds the lease; it stops before that.
const LEASE_MS: i64 = 15 * 60_000;
const TIME_LIMIT: Duration = Duration::from_secs(10 * 60);

/// The reconciler's beat: sweeps when an hour has passed since the last one
/// started and no other process holds the lease.
pub async fn sweep_when_due(svc: &Services) -> AppResult<u64> {
    let now = svc.now();
    let claimed = sqlx::query(
        "UPDATE retention_sweeps SET lease_until = $1, started_at = $2
         WHERE name = 'retention' AND lease_until <= $2 AND started_at <= $3",
    )
    .bind(now + LEASE_MS)
    .bind(now)
    .bind(now - EVERY_MS)
    .execute(&mut *svc.store.write().await?)
    .await?
    .rows_affected();
    if claimed != 1 {
        return Ok(0);
    }
    let summary = sweep(svc, now).await;
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            // The lease lapses on its own; the next beat after it resumes.
            tracing::warn!(error = %e, "retention sweep stopped");
            return Err(e);
        }
    };
    let text = serde_json::to_string(&summary).unwrap_or_default();
    sqlx::query(
        "UPDATE retention_sweeps SET lease_until = 0, finished_at = $1, summary = $2 WHERE name = 'retention'",
    )
    .bind(svc.now())
    .bind(text)
    .execute(&mut *svc.store.write().await?)
    .await?;
    Ok(summary.rows_removed())
}

/// Sweeps every workspace as of `now` (tests call it directly).
pub async fn sweep(svc: &Services, now: i64) -> AppResult<SweepSummary> {
    let started = Instant::now();
    let mut summary = SweepSummary::default();
    let workspaces: Vec<(i64,)> = sqlx::query_as("SELECT id FROM workspaces ORDER BY id")
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
    let mut policies = Vec::with_capacity(workspaces.len());
    for (ws,) in workspaces {
        let ws = WorkspaceId(ws);
        policies.push((ws, super::service::policy_of(svc, ws).await?));
    }
    // Whole months first (PostgreSQL): what is left for the batches below
    // is the months some workspace still keeps.
    let longest = Longest::of(policies.iter().map(|(_, p)| p));
    partitions::create_ahead(svc, now).await?;
    for (table, days) in [
        ("notifications", longest.notifications_days),
        ("audit_log", longest.audit_days),
    ] {
        let dropped = partitions::drop_before(svc, table, now - days * DAY_MS).await?;
        summary.partitions += dropped.partitions;
        match table {
            "notifications" => summary.notifications += dropped.rows,
            _ => summary.audit_entries += dropped.rows,
        }
    }
    let mut complete = true;
    for (ws, policy) in &policies {
        if !sweep_workspace(svc, *ws, policy, now, &mut summary, started).await? {
            complete = false;
            break;
        }
    }
    if complete {
        // Entries of no workspace (sign-ins that named no one, say) are kept
        // as long as the longest audit period of any workspace.
        complete = delete_all_older(
            svc,
            "audit_log",
            None,
            now - longest.audit_days * DAY_MS,
            &mut summary.audit_entries,
            started,
        )
        .await?;
    }
    if complete {
        complete = orphan_bodies(svc, &mut summary, started).await?;
    }
    if svc.store.backend() == Backend::Sqlite {
        // Hands the pages the deletes freed back to the file system (a
        // file made before incremental mode was set ignores this).
        sqlx::query("PRAGMA incremental_vacuum")
            .execute(&mut *svc.store.write().await?)
            .await?;
    }
    summary.complete = complete;
    summary.millis = started.elapsed().as_millis() as u64;
    record_metrics(&summary);
    tracing::info!(
        snapshots = summary.snapshots,
        directory_rows = summary.directory_rows,
        inventory_bodies = summary.inventory_bodies,
        runs = summary.runs,
        notifications = summary.notifications,
        audit_entries = summary.audit_entries,
        partitions = summary.partitions,
        millis = summary.millis,
        complete = summary.complete,
        "retention sweep"
    );
    Ok(summary)
}

fn record_metrics(s: &SweepSummary) {
    for (kind, n) in [
        ("snapshots", s.snapshots),
        ("directory_rows", s.directory_rows),
        ("inventory_bodies", s.inventory_bodies),
        ("runs", s.runs),
        ("notifications", s.notifications),
        ("audit_entries", s.audit_entries),
        ("partitions", s.partitions),
    ] {
        metrics::counter!(crate::telemetry::RETENTION_DELETED, "kind" => kind).increment(n);
    }
    metrics::histogram!(crate::telemetry::RETENTION_SWEEP).record(s.millis as f64 / 1000.0);
}

fn out_of_time(started: Instant) -> bool {
    started.elapsed() > TIME_LIMIT
}

/// One workspace; false when the time ran out.
async fn sweep_workspace(
    svc: &Services,
    ws: WorkspaceId,
    policy: &RetentionPolicy,
    now: i64,
    summary: &mut SweepSummary,
    started: Instant,
) -> AppResult<bool> {
    let tenants: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM tenants WHERE workspace_id = $1 ORDER BY id")
            .bind(ws.0)
            .fetch_all(&mut *svc.store.read().await?)
            .await?;
    let protected = protected_snapshots(svc, ws).await?;
    for (tenant,) in &tenants {
        summary.directory_rows += superseded_directory_rows(svc, *tenant, started).await?;
        for table in [SnapshotTable::Inventory, SnapshotTable::Compliance] {
            let doomed = expired_snapshots(svc, table, *tenant, policy, now, &protected).await?;
            for batch in doomed.chunks(BATCH as usize) {
                let (snapshots, bodies) = delete_snapshots(svc, table, batch).await?;
                summary.snapshots += snapshots;
                summary.inventory_bodies += bodies;
                svc.failpoint("retention.batch")?;
                if out_of_time(started) {
                    return Ok(false);
                }
            }
        }
    }
    loop {
        let n = delete_runs(svc, ws, now - policy.runs_days * DAY_MS).await?;
        summary.runs += n;
        svc.failpoint("retention.batch")?;
        if out_of_time(started) {
            return Ok(false);
        }
        if n < BATCH as u64 {
            break;
        }
    }
    let cutoff = |days: i64| now - days * DAY_MS;
    Ok(delete_all_older(
        svc,
        "notifications",
        Some(ws),
        cutoff(policy.notifications_days),
        &mut summary.notifications,
        started,
    )
    .await?
        && delete_all_older(
            svc,
            "audit_log",
            Some(ws),
            cutoff(policy.audit_days),
            &mut summary.audit_entries,
            started,
        )
        .await?)
}

/// The longest period any workspace keeps notifications and audit entries
/// (the default's when there is no workspace).
struct Longest {
    notifications_days: i64,
    audit_days: i64,
}

impl Longest {
    fn of<'a>(policies: impl Iterator<Item = &'a RetentionPolicy>) -> Longest {
        let mut longest = Longest {
            notifications_days: 0,
            audit_days: 0,
        };
        let mut any = false;
        for p in policies {
            any = true;
            longest.notifications_days = longest.notifications_days.max(p.notifications_days);
            longest.audit_days = longest.audit_days.max(p.audit_days);
        }
        if !any {
            longest.notifications_days = RetentionPolicy::DEFAULT.notifications_days;
            longest.audit_days = RetentionPolicy::DEFAULT.audit_days;
        }
        longest
    }
}

/// Batches of [`delete_older`] until none is left; false when the time ran
/// out.
async fn delete_all_older(
    svc: &Services,
    table: &str,
    ws: Option<WorkspaceId>,
    cutoff: i64,
    count: &mut u64,
    started: Instant,
) -> AppResult<bool> {
    loop {
        let n = delete_older(svc, table, ws, cutoff).await?;
        *count += n;
        if out_of_time(started) {
            return Ok(false);
        }
        if n < BATCH as u64 {
            return Ok(true);
        }
    }
}

/// Inventory snapshots that must stay whatever their age: those a baseline
/// version was captured from, and those a restore not yet ended reads.
async fn protected_snapshots(svc: &Services, ws: WorkspaceId) -> AppResult<HashSet<i64>> {
    let mut conn = svc.store.read().await?;
    let baselines: Vec<(i64,)> = sqlx::query_as(
        "SELECT v.snapshot_id FROM baseline_versions v JOIN baselines b ON b.id = v.baseline_id
         WHERE b.workspace_id = $1 AND v.snapshot_id IS NOT NULL",
    )
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let restores: Vec<(String,)> = sqlx::query_as(
        "SELECT context FROM operation_runs
         WHERE workspace_id = $1 AND op_type = $2 AND status <> 'completed'",
    )
    .bind(ws.0)
    .bind(crate::restore::RESTORE_EXECUTE.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut keep: HashSet<i64> = baselines.into_iter().map(|(s,)| s).collect();
    for (context,) in restores {
        // A context we cannot read keeps nothing back; restore itself
        // refuses such a run.
        if let Some(s) = serde_json::from_str::<serde_json::Value>(&context)
            .ok()
            .and_then(|c| c.get("args")?.get("snapshot")?.as_i64())
        {
            keep.insert(s);
        }
    }
    Ok(keep)
}

/// Groups and role definitions of syncs a newer published sync replaced:
/// pages, search and review packs read only the newest, so the rest is
/// removed at once (the runs themselves stay for their days).
async fn superseded_directory_rows(
    svc: &Services,
    tenant: i64,
    started: Instant,
) -> AppResult<u64> {
    let mut removed = 0;
    for table in ["directory_groups", "role_definitions"] {
        loop {
            let sql = format!(
                "DELETE FROM {table} WHERE id IN
                   (SELECT id FROM {table} WHERE tenant_id = $1 AND run_id < ({}) ORDER BY id LIMIT {BATCH})",
                crate::provider::data::latest_published_run(table)
            );
            let n = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant)
                .execute(&mut *svc.store.write().await?)
                .await?
                .rows_affected();
            removed += n;
            if n < BATCH as u64 || out_of_time(started) {
                break;
            }
        }
    }
    Ok(removed)
}

/// One stored snapshot, as the rule reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub id: i64,
    pub taken_at: i64,
    pub published: bool,
}

/// The snapshots of one tenant the policy no longer keeps: older than its
/// newest `snapshots_last` published ones, and neither the newest published
/// of a kept week or month nor protected. Snapshots newer than those (a sync
/// still running, or one that failed after them) are never touched.
pub fn expired(
    snapshots: &[Snapshot],
    policy: &RetentionPolicy,
    now: i64,
    protected: &HashSet<i64>,
) -> Vec<i64> {
    let mut newest_first: Vec<Snapshot> = snapshots.to_vec();
    newest_first.sort_by_key(|s| std::cmp::Reverse(s.id));
    let published: Vec<&Snapshot> = newest_first.iter().filter(|s| s.published).collect();
    let Some(floor) = published
        .get((policy.snapshots_last.max(1) - 1) as usize)
        .map(|s| s.id)
    else {
        return Vec::new();
    };
    let mut keep: HashSet<i64> = HashSet::new();
    let (this_week, this_month) = (week_of(now), month_of(now));
    let mut weeks_seen = HashSet::new();
    let mut months_seen = HashSet::new();
    for s in &published {
        let (w, m) = (week_of(s.taken_at), month_of(s.taken_at));
        if this_week - w < policy.snapshots_weeks && weeks_seen.insert(w) {
            keep.insert(s.id);
        }
        if this_month - m < policy.snapshots_months && months_seen.insert(m) {
            keep.insert(s.id);
        }
    }
    newest_first
        .iter()
        .filter(|s| s.id < floor && !keep.contains(&s.id) && !protected.contains(&s.id))
        .map(|s| s.id)
        .collect()
}

/// Weeks since the Monday before 1970-01-01 (UTC).
fn week_of(ms: i64) -> i64 {
    (ms.div_euclid(DAY_MS) + 3).div_euclid(7)
}

/// Months since January 1970 (UTC).
fn month_of(ms: i64) -> i64 {
    super::partitions::Month::of(ms).0
}

async fn expired_snapshots(
    svc: &Services,
    table: SnapshotTable,
    tenant: i64,
    policy: &RetentionPolicy,
    now: i64,
    protected: &HashSet<i64>,
) -> AppResult<Vec<i64>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id, s.taken_at, CASE WHEN {} THEN 1 ELSE 0 END FROM {} s WHERE s.tenant_id = $1",
        crate::runs::sql::published("s"),
        table.name()
    )))
    .bind(tenant)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let snapshots: Vec<Snapshot> = rows
        .into_iter()
        .map(|(id, taken_at, published)| Snapshot {
            id,
            taken_at,
            published: published == 1,
        })
        .collect();
    let none = HashSet::new();
    let protected = match table {
        SnapshotTable::Inventory => protected,
        SnapshotTable::Compliance => &none,
    };
    Ok(expired(&snapshots, policy, now, protected))
}

/// Deletes one batch of snapshots (their references, devices and drift
/// entries go with them), then the bodies no snapshot references any more.
async fn delete_snapshots(
    svc: &Services,
    table: SnapshotTable,
    ids: &[i64],
) -> AppResult<(u64, u64)> {
    let mut tx = svc.store.begin().await?;
    let bodies: Vec<(i64,)> = if table == SnapshotTable::Inventory {
        let sql = format!(
            "SELECT DISTINCT body_id FROM inventory_refs WHERE snapshot_id IN ({})",
            marks(ids.len())
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut **tx).await?
    } else {
        Vec::new()
    };
    let sql = format!(
        "DELETE FROM {} WHERE id IN ({})",
        table.name(),
        marks(ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(*id);
    }
    let deleted = q.execute(&mut **tx).await?.rows_affected();
    tx.commit().await?;
    let bodies: Vec<i64> = bodies.into_iter().map(|(b,)| b).collect();
    let mut dropped = 0;
    for chunk in bodies.chunks(BATCH as usize) {
        dropped += drop_unreferenced_bodies(svc, chunk).await?;
    }
    Ok((deleted, dropped))
}

/// Deletes those of `bodies` no reference points at. A body a sync is
/// referencing at this moment is in use: PostgreSQL refuses the delete
/// (foreign key), and that batch is simply left for the orphan pass.
async fn drop_unreferenced_bodies(svc: &Services, bodies: &[i64]) -> AppResult<u64> {
    if bodies.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "DELETE FROM inventory_bodies WHERE id IN ({})
         AND NOT EXISTS (SELECT 1 FROM inventory_refs r WHERE r.body_id = inventory_bodies.id)",
        marks(bodies.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in bodies {
        q = q.bind(*id);
    }
    match q.execute(&mut *svc.store.write().await?).await {
        Ok(r) => Ok(r.rows_affected()),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Bodies no reference points at, whatever left them (a crash between a
/// snapshot batch and its bodies, a body in use when its batch ran).
async fn orphan_bodies(
    svc: &Services,
    summary: &mut SweepSummary,
    started: Instant,
) -> AppResult<bool> {
    let mut after = 0_i64;
    loop {
        let ids: Vec<(i64,)> = sqlx::query_as(
            "SELECT b.id FROM inventory_bodies b
             WHERE b.id > $1 AND NOT EXISTS (SELECT 1 FROM inventory_refs r WHERE r.body_id = b.id)
             ORDER BY b.id LIMIT $2",
        )
        .bind(after)
        .bind(BATCH)
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
        let Some(last) = ids.last().map(|(id,)| *id) else {
            return Ok(true);
        };
        after = last;
        let ids: Vec<i64> = ids.into_iter().map(|(id,)| id).collect();
        summary.inventory_bodies += drop_unreferenced_bodies(svc, &ids).await?;
        if out_of_time(started) {
            return Ok(false);
        }
    }
}

/// Ended runs of `ws` older than `cutoff` that nothing still needs (oldest
/// first, in the order of the `(workspace_id, completed_at)` index, so a
/// batch reads about as many runs as it takes): not the
/// newest ended run of their tenant and type, nor (if they succeeded) the
/// newest succeeded one, since pages read results through them; not the
/// run of a kept snapshot, drift entry, support request, review pack, or
/// of the newest comparison of a tenant with a baseline.
fn expired_runs_sql(backend: Backend) -> String {
    let same_tenant = match backend {
        Backend::Postgres => "n.tenant_id IS NOT DISTINCT FROM r.tenant_id",
        Backend::Sqlite => "n.tenant_id IS r.tenant_id",
    };
    let ok = "('succeeded','partially_succeeded')";
    let keepers: Vec<String> = RUN_KEEPERS
        .iter()
        .map(|t| format!("AND NOT EXISTS (SELECT 1 FROM {t} x WHERE x.run_id = r.id)"))
        .collect();
    let keepers = keepers.join("\n           ");
    format!(
        "SELECT r.id FROM operation_runs r
         WHERE r.workspace_id = $1 AND r.status = 'completed' AND r.completed_at < $2
           AND EXISTS (SELECT 1 FROM operation_runs n WHERE {same_tenant} AND n.op_type = r.op_type
                       AND n.status = 'completed' AND n.id > r.id)
           AND (r.outcome NOT IN {ok}
                OR EXISTS (SELECT 1 FROM operation_runs n WHERE {same_tenant} AND n.op_type = r.op_type
                           AND n.status = 'completed' AND n.outcome IN {ok} AND n.id > r.id))
           {keepers}
           AND NOT EXISTS (SELECT 1 FROM baseline_results x WHERE x.run_id = r.id
                           AND NOT EXISTS (SELECT 1 FROM baseline_results y
                                           WHERE y.tenant_id = x.tenant_id AND y.baseline_id = x.baseline_id
                                             AND y.id > x.id))
         ORDER BY r.completed_at, r.id LIMIT $3"
    )
}

/// Tables whose rows keep their run: a run one of them names is never
/// removed (the snapshot rule decides about snapshots and drift goes with
/// them; baseline results keep only the newest per tenant and baseline, see
/// [`expired_runs_sql`]).
pub const RUN_KEEPERS: &[&str] = &[
    "inventory_snapshots",
    "compliance_snapshots",
    "drift_entries",
    "support_requests",
    "review_packs",
];
/// Tables whose rows belong to one run and go with it.
pub const RUN_ITEMS: &[&str] = &[
    "directory_groups",
    "role_definitions",
    "verification_reports",
    "baseline_results",
    "probe_executions",
];
/// Rows that name a run but outlive it (the run's link is cleared).
pub const RUN_LINKS: &[&str] = &["schedule_fire_targets", "bulk_start_targets"];
/// Rows that follow their run by foreign key: deleted with it
/// (notifications, restore results) or unlinked (onboarding drafts); and the
/// alerts' read cursor, which only remembers the last run it read.
pub const RUN_FOLLOWERS: &[&str] = &[
    "notifications",
    "restore_results",
    "onboarding_drafts",
    "run_end_cursors",
];

/// One batch of expired runs: their counts added to the per-day totals,
/// what belongs to them removed, links to them cleared, then the runs, in
/// one transaction (counted once or not at all).
async fn delete_runs(svc: &Services, ws: WorkspaceId, cutoff: i64) -> AppResult<u64> {
    let backend = svc.store.backend();
    let mut tx = svc.store.begin().await?;
    let ids: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(expired_runs_sql(backend)))
        .bind(ws.0)
        .bind(cutoff)
        .bind(BATCH)
        .fetch_all(&mut **tx)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = ids.into_iter().map(|(id,)| id).collect();
    let list = marks(ids.len());
    let bind_all = |sql: String| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in &ids {
            q = q.bind(*id);
        }
        q
    };
    bind_all(format!(
        "INSERT INTO run_daily_counts (workspace_id, tenant_id, day, op_type, outcome, runs)
         SELECT workspace_id, COALESCE(tenant_id, 0), completed_at / {DAY_MS}, op_type, outcome, COUNT(*)
         FROM operation_runs WHERE id IN ({list})
         GROUP BY workspace_id, COALESCE(tenant_id, 0), completed_at / {DAY_MS}, op_type, outcome
         ON CONFLICT (workspace_id, tenant_id, day, op_type, outcome)
         DO UPDATE SET runs = run_daily_counts.runs + excluded.runs"
    ))
    .execute(&mut **tx)
    .await?;
    for table in RUN_ITEMS {
        bind_all(format!("DELETE FROM {table} WHERE run_id IN ({list})"))
            .execute(&mut **tx)
            .await?;
    }
    for table in RUN_LINKS {
        bind_all(format!(
            "UPDATE {table} SET run_id = NULL WHERE run_id IN ({list})"
        ))
        .execute(&mut **tx)
        .await?;
    }
    svc.failpoint("retention.runs_counted")?;
    let deleted = bind_all(format!("DELETE FROM operation_runs WHERE id IN ({list})"))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted)
}

/// One batch of `table`'s rows of `ws` written before `cutoff` (oldest
/// first, in the order of the age index: no sort of everything expired).
/// `ws` `None`: the rows of no workspace.
async fn delete_older(
    svc: &Services,
    table: &str,
    ws: Option<WorkspaceId>,
    cutoff: i64,
) -> AppResult<u64> {
    // Both columns of the (partitioned) key: each partition's key index
    // finds its rows.
    let owner = match ws {
        Some(_) => "workspace_id = $1",
        None => "workspace_id IS NULL AND $1 = 0",
    };
    let sql = format!(
        "DELETE FROM {table} WHERE (id, created_at) IN
           (SELECT id, created_at FROM {table} WHERE {owner} AND created_at < $2 ORDER BY created_at LIMIT $3)"
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ws.map_or(0, |w| w.0))
        .bind(cutoff)
        .bind(BATCH)
        .execute(&mut *svc.store.write().await?)
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIGHT: i64 = DAY_MS;

    fn nightly(n: i64, now: i64) -> Vec<Snapshot> {
        (0..n)
            .map(|i| Snapshot {
                id: i + 1,
                taken_at: now - (n - 1 - i) * NIGHT,
                published: true,
            })
            .collect()
    }

    #[test]
    fn a_year_of_nights_keeps_the_newest_weeks_and_months() {
        // 2026-12-07 (a Monday), 12:00 UTC.
        let now = 1_796_644_800_000;
        let snaps = nightly(365, now);
        let doomed = expired(&snaps, &RetentionPolicy::DEFAULT, now, &HashSet::new());
        let kept: Vec<i64> = snaps
            .iter()
            .map(|s| s.id)
            .filter(|id| !doomed.contains(id))
            .collect();
        // 14 newest; of the 8 weeks and 12 months some fall among them.
        assert!(
            kept.len() >= 14 + 12 - 2 && kept.len() <= 14 + 8 + 12,
            "{kept:?}"
        );
        assert!(kept.ends_with(&(352..=365).collect::<Vec<_>>()));
        // One per month for twelve months, each the newest of its month.
        let months: HashSet<i64> = kept
            .iter()
            .map(|id| month_of(snaps[(*id - 1) as usize].taken_at))
            .collect();
        assert_eq!(months.len(), 12);
        assert_eq!(doomed.len() + kept.len(), 365);
    }

    #[test]
    fn protected_and_newer_than_the_floor_are_never_expired() {
        let now = 1_796_644_800_000;
        let mut snaps = nightly(60, now);
        // The newest two failed: the floor counts published snapshots only.
        snaps[58].published = false;
        snaps[59].published = false;
        let policy = RetentionPolicy {
            snapshots_last: 3,
            snapshots_weeks: 0,
            snapshots_months: 0,
            ..RetentionPolicy::DEFAULT
        };
        let protected: HashSet<i64> = [5].into_iter().collect();
        let doomed = expired(&snaps, &policy, now, &protected);
        assert!(!doomed.contains(&5));
        for id in 56..=60 {
            assert!(!doomed.contains(&id), "{id}");
        }
        assert_eq!(doomed.len(), 60 - 5 - 1);
        // No published snapshot at all: nothing is removed.
        let failed: Vec<Snapshot> = snaps
            .iter()
            .map(|s| Snapshot {
                published: false,
                ..*s
            })
            .collect();
        assert!(expired(&failed, &policy, now, &HashSet::new()).is_empty());
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 1970-01-05 was a Monday; 1970-01-04 a Sunday.
        assert_eq!(week_of(4 * DAY_MS), week_of(10 * DAY_MS));
        assert_ne!(week_of(3 * DAY_MS), week_of(4 * DAY_MS));
        assert_eq!(month_of(0), 0);
        assert_eq!(month_of(31 * DAY_MS), 1);
        assert_eq!(month_of(30 * DAY_MS), 0);
        // 2024-02-29 and 2024-03-01.
        assert_eq!(month_of(1_709_164_800_000) + 1, month_of(1_709_251_200_000));
    }

    #[test]
    fn the_default_policy_is_valid_and_bounds_are_enforced() {
        assert!(RetentionPolicy::DEFAULT.check().is_ok());
        let short_audit = RetentionPolicy {
            audit_days: 100,
            runs_days: 200,
            ..RetentionPolicy::DEFAULT
        };
        assert!(short_audit.check().is_err());
        let zero = RetentionPolicy {
            snapshots_last: 0,
            ..RetentionPolicy::DEFAULT
        };
        assert!(zero.check().is_err());
    }
}
