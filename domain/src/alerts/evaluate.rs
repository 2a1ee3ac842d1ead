//! Evaluation: reacts to what can change a condition, never a rescan.
//!
//! Every statement that ends a run writes its end mark (see
//! `runs::sql::ending!`). The evaluator holds one cursor (end mark, run id):
//! in one transaction it locks it, reads the next settled ended runs after
//! it, evaluates the workspace's rules for each and moves it, so each end
//! is evaluated exactly once across processes (PostgreSQL: the cursor row
//! `FOR UPDATE SKIP LOCKED`; SQLite: one writer) and a crash moves nothing.
//! Ending a run costs the run machinery a column and an index entry, not a
//! row of its own. Drift, compares, compliance, fires and bulks are all
//! runs, so this one feed covers them; credential expiry has a daily sweep
//! (once per day across processes), and snoozes wake on every beat.

use super::conditions::{per_tenant, per_workspace};
use super::lifecycle::{self, Change, Observation, Raiser};
use super::rules::{self, Rule};
use super::{Condition, Evidence};
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, TenantId, WorkspaceId};
use crate::runs::{OperationType, ReasonCode, RunOutcome};
use crate::services::Services;
use crate::store::Backend;
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub(super) const HOUR_MS: i64 = 3_600_000;
/// Ended runs evaluated per transaction.
const BATCH: i64 = 200;
pub(super) const DAY_MS: i64 = 24 * HOUR_MS;

/// One ended run as evaluation reads it.
#[derive(Debug, Clone)]
pub(crate) struct EndedRun {
    pub id: RunId,
    pub workspace: WorkspaceId,
    pub tenant: Option<TenantId>,
    pub op_type: Option<OperationType>,
    pub outcome: Option<RunOutcome>,
    pub reason: Option<ReasonCode>,
    pub attempt: i64,
    pub origin: Option<(String, i64)>,
    pub connection: Option<i64>,
    pub created_at: i64,
    pub completed_at: i64,
}

type RunRow = (
    i64,
    i64,
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
    i64,
    Option<i64>,
);

/// Where evaluation is in the feed of ended runs: (end mark, run id).
type Cursor = (i64, i64);

/// The next ended runs after `cursor`, in end-mark order, settled ones only.
async fn ended_after(
    conn: &mut AnyConnection,
    backend: Backend,
    cursor: Cursor,
    batch: i64,
) -> AppResult<Vec<(Cursor, EndedRun)>> {
    // PostgreSQL: a transaction still in flight may yet commit a lower mark.
    let settled = match backend {
        Backend::Postgres => format!(" AND end_mark < {}", crate::runs::sql::END_MARKS_SETTLED),
        Backend::Sqlite => String::new(),
    };
    let rows: Vec<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT end_mark, id, workspace_id, tenant_id, op_type, outcome, reason_code, attempts, origin_kind,
                origin_id, provider_connection_id, created_at, completed_at
         FROM operation_runs
         WHERE end_mark IS NOT NULL AND (end_mark > $1 OR (end_mark = $1 AND id > $2)){settled}
         ORDER BY end_mark, id LIMIT $3"
    )))
    .bind(cursor.0)
    .bind(cursor.1)
    .bind(batch)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                mark,
                id,
                ws,
                tenant,
                op,
                outcome,
                reason,
                attempt,
                okind,
                oid,
                connection,
                created,
                completed,
            )| {
                (
                    (mark, id),
                    EndedRun {
                        id: RunId(id),
                        workspace: WorkspaceId(ws),
                        tenant: tenant.map(TenantId),
                        op_type: op.parse().ok(),
                        outcome: outcome.parse().ok(),
                        reason: reason.and_then(|r| r.parse().ok()),
                        attempt,
                        origin: okind.zip(oid),
                        connection,
                        created_at: created,
                        completed_at: completed.unwrap_or(created),
                    },
                )
            },
        )
        .collect())
}

/// What one batch knows of a workspace: its rules and the alerts not
/// resolved (so a success clears only what is open, without a write per rule).
struct Workspace {
    rules: Vec<Rule>,
    open: HashSet<(i64, i64, String)>,
}

async fn workspace(conn: &mut AnyConnection, ws: WorkspaceId) -> AppResult<Workspace> {
    let rules = rules::enabled_in(conn, ws).await?;
    let mut open = HashSet::new();
    if !rules.is_empty() {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT rule_key, tenant_key, subject FROM alerts WHERE workspace_id = $1 AND state <> 'resolved'",
        )
        .bind(ws.0)
        .fetch_all(conn)
        .await?;
        open.extend(rows);
    }
    Ok(Workspace { rules, open })
}

/// Evaluates up to `batch` ended runs; answers how many were taken.
///
/// A batch is one transaction without savepoints (cheap for the common
/// run that moves no alert). Should one run fail to evaluate, the batch
/// rolls back and its runs are evaluated one per transaction; the one that
/// fails again is logged and passed so it cannot hold back the rest. An
/// unreachable database passes nothing.
pub async fn evaluate_pending(svc: &Services, batch: i64) -> AppResult<usize> {
    let unavailable = |e: &AppError| *e == AppError::Unavailable;
    match evaluate_batch(svc, batch).await {
        Ok(n) => Ok(n),
        Err((e, _)) if unavailable(&e) => Err(e),
        Err((e, _)) => {
            tracing::warn!(error = %e, "alert evaluation failed; evaluating ended runs one at a time");
            let mut taken = 0;
            for _ in 0..batch {
                match evaluate_batch(svc, 1).await {
                    Ok(0) => break,
                    Ok(n) => taken += n,
                    Err((e, _)) if unavailable(&e) => return Err(e),
                    Err((e, at)) => {
                        if let Some(at) = at {
                            let mut conn = svc.store.write().await?;
                            move_cursor(&mut conn, at).await?;
                            tracing::warn!(run = at.1, error = %e, "alert evaluation of an ended run failed; skipped");
                            taken += 1;
                        }
                    }
                }
            }
            Ok(taken)
        }
    }
}

/// The ended run being evaluated when a batch failed.
type Failed = (AppError, Option<Cursor>);

/// The cursor, locked for this transaction; `None` while another process
/// holds it (it is evaluating the same runs).
async fn lock_cursor(conn: &mut AnyConnection, backend: Backend) -> AppResult<Option<Cursor>> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT end_mark, run_id FROM run_end_cursors WHERE reader = 'alerts' FOR UPDATE SKIP LOCKED"
        }
        // BEGIN IMMEDIATE already holds the one writer's lock.
        Backend::Sqlite => "SELECT end_mark, run_id FROM run_end_cursors WHERE reader = 'alerts'",
    };
    Ok(sqlx::query_as(sql).fetch_optional(conn).await?)
}

/// Moves the cursor forward to `to` (never back).
async fn move_cursor(conn: &mut AnyConnection, to: Cursor) -> AppResult<()> {
    sqlx::query(
        "UPDATE run_end_cursors SET end_mark = $1, run_id = $2
         WHERE reader = 'alerts' AND (end_mark < $1 OR (end_mark = $1 AND run_id < $2))",
    )
    .bind(to.0)
    .bind(to.1)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ended runs not evaluated yet (settled or not): the evaluation backlog.
pub async fn backlog(svc: &Services) -> AppResult<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM operation_runs r, run_end_cursors c
         WHERE c.reader = 'alerts' AND r.end_mark IS NOT NULL
           AND (r.end_mark > c.end_mark OR (r.end_mark = c.end_mark AND r.id > c.run_id))",
    )
    .fetch_one(&mut *svc.store.read().await?)
    .await?;
    Ok(n)
}

/// Evaluates until nothing ended is left behind the cursor, waiting for
/// ends not settled yet, for at most `within`; answers how many were taken.
/// (Tests, benchmarks and the CLI: the workers' loop evaluates on its own.)
pub async fn catch_up(svc: &Services, within: Duration) -> AppResult<usize> {
    let until = std::time::Instant::now() + within;
    let mut taken = 0;
    loop {
        let n = evaluate_pending(svc, BATCH).await?;
        taken += n;
        if n == 0 {
            if backlog(svc).await? == 0 || std::time::Instant::now() >= until {
                return Ok(taken);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn evaluate_batch(svc: &Services, batch: i64) -> Result<usize, Failed> {
    let none = |e: AppError| (e, None);
    let mut tx = svc.store.begin().await.map_err(none)?;
    let backend = svc.store.backend();
    let Some(cursor) = lock_cursor(&mut tx, backend).await.map_err(none)? else {
        tx.commit().await.map_err(|e| none(e.into()))?;
        return Ok(0);
    };
    let ended = ended_after(&mut tx, backend, cursor, batch)
        .await
        .map_err(none)?;
    let Some((last, _)) = ended.last() else {
        tx.commit().await.map_err(|e| none(e.into()))?;
        return Ok(0);
    };
    let last = *last;
    let taken = ended.len();
    let mut announced = false;
    let mut workspaces: HashMap<i64, Workspace> = HashMap::new();
    for (_, run) in &ended {
        if let std::collections::hash_map::Entry::Vacant(e) = workspaces.entry(run.workspace.0) {
            e.insert(workspace(&mut tx, run.workspace).await.map_err(none)?);
        }
    }
    for (at, run) in &ended {
        let Some(ws) = workspaces.get_mut(&run.workspace.0) else {
            continue;
        };
        if !ws.rules.iter().any(|r| r.may_apply(run)) {
            continue;
        }
        announced |= on_run(&mut tx, svc, ws, run)
            .await
            .map_err(|e| (e, Some(*at)))?;
    }
    move_cursor(&mut tx, last).await.map_err(none)?;
    tx.commit().await.map_err(|e| none(e.into()))?;
    if announced {
        // Deliveries were queued: wake this process's senders now.
        super::send::wake();
    }
    metrics::counter!(crate::telemetry::ALERT_EVENTS_EVALUATED).increment(taken as u64);
    Ok(taken)
}

async fn tenant_name(conn: &mut AnyConnection, tenant: TenantId) -> AppResult<String> {
    let row: Option<(String,)> = sqlx::query_as("SELECT display_name FROM tenants WHERE id = $1")
        .bind(tenant.0)
        .fetch_optional(conn)
        .await?;
    Ok(row.map_or_else(|| format!("tenant {tenant}"), |r| r.0))
}

/// Evaluates one ended run against every rule; answers whether an alert
/// changed state (and so may have queued deliveries).
async fn on_run(
    conn: &mut AnyConnection,
    svc: &Services,
    ws: &mut Workspace,
    run: &EndedRun,
) -> AppResult<bool> {
    let mut name: Option<String> = None;
    let mut changed = false;
    for rule in &ws.rules {
        if !rule.may_apply(run) {
            continue;
        }
        let raiser = Raiser::of(rule);
        let mut at = At {
            conn: &mut *conn,
            svc,
            raiser: &raiser,
            open: &mut ws.open,
            now: svc.now(),
            name: &mut name,
        };
        let change = if rule.condition.kind().per_tenant() {
            let Some(tenant) = run.tenant else { continue };
            if !rule.covers(at.conn, tenant).await? {
                continue;
            }
            per_tenant(&mut at, rule, run, tenant).await?
        } else {
            per_workspace(&mut at, rule, run).await?
        };
        changed |= announces(change);
    }
    Ok(changed)
}

fn announces(c: Change) -> bool {
    matches!(
        c,
        Change::Opened(_) | Change::Reopened(_) | Change::Resolved(_)
    )
}

/// Where one rule's evaluation writes, and what it knows is open.
pub(super) struct At<'a> {
    pub(super) conn: &'a mut AnyConnection,
    pub(super) svc: &'a Services,
    raiser: &'a Raiser,
    pub(super) open: &'a mut HashSet<(i64, i64, String)>,
    pub(super) now: i64,
    /// The tenant's name, read once and only when an alert needs a title.
    name: &'a mut Option<String>,
}

impl At<'_> {
    pub(super) async fn tenant_name(&mut self, tenant: TenantId) -> AppResult<String> {
        if self.name.is_none() {
            *self.name = Some(tenant_name(self.conn, tenant).await?);
        }
        Ok(self.name.clone().unwrap_or_default())
    }

    pub(super) fn key(&self, tenant: Option<TenantId>, subject: &str) -> (i64, i64, String) {
        (
            self.raiser.rule.as_ref().map_or(0, |r| r.0.0),
            tenant.map_or(0, |t| t.0),
            subject.to_string(),
        )
    }

    pub(super) async fn observe(&mut self, obs: Observation) -> AppResult<Change> {
        let key = self.key(obs.tenant, &obs.subject);
        let change = lifecycle::observe(self.conn, self.svc, self.raiser, &obs, self.now).await?;
        self.open.insert(key);
        Ok(change)
    }

    pub(super) fn is_open(&self, tenant: Option<TenantId>, subject: &str) -> bool {
        self.open.contains(&self.key(tenant, subject))
    }

    /// Resolves the key if it is open (nothing to write otherwise).
    pub(super) async fn clear(
        &mut self,
        tenant: Option<TenantId>,
        subject: &str,
    ) -> AppResult<Change> {
        let key = self.key(tenant, subject);
        if !self.open.contains(&key) {
            return Ok(Change::None);
        }
        let change =
            lifecycle::clear(self.conn, self.svc, self.raiser, tenant, subject, self.now).await?;
        self.open.remove(&key);
        Ok(change)
    }

    /// Whether a run of these types on the tenant, with one of these
    /// outcomes, ended after `run`: then that run's evaluation has the last
    /// word (events of two processes may be evaluated in either order).
    pub(super) async fn superseded(
        &mut self,
        run: &EndedRun,
        tenant: TenantId,
        ops: &[&str],
        outcomes: &[&str],
    ) -> AppResult<bool> {
        if ops.is_empty() {
            return Ok(false);
        }
        let quote = |v: &[&str]| {
            v.iter()
                .map(|s| format!("'{}'", s.replace('\'', "")))
                .collect::<Vec<_>>()
                .join(",")
        };
        let row: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM operation_runs WHERE tenant_id = $1 AND created_at >= $2 AND status = 'completed'
               AND completed_at > $3 AND id <> $4 AND op_type IN ({}) AND outcome IN ({}) LIMIT 1",
            quote(ops),
            quote(outcomes)
        )))
        .bind(tenant.0)
        .bind(run.created_at - DAY_MS)
        .bind(run.completed_at)
        .bind(run.id.0)
        .fetch_optional(&mut *self.conn)
        .await?;
        Ok(row.is_some())
    }
}

/// Once a day across processes: client secrets and certificates that
/// expire within each rule's days open (or count) their alert; renewed
/// ones resolve. Answers whether this process did the sweep.
pub async fn daily_sweep(svc: &Services) -> AppResult<bool> {
    let now = svc.now();
    let claimed =
        sqlx::query("UPDATE alert_sweeps SET last_at = $1 WHERE name = 'daily' AND last_at <= $2")
            .bind(now)
            .bind(now - DAY_MS)
            .execute(&mut *svc.store.write().await?)
            .await?
            .rows_affected();
    if claimed != 1 {
        return Ok(false);
    }
    expiring_credentials(svc, now).await?;
    Ok(true)
}

/// The expiry check itself (the daily sweep's body; tests call it directly).
pub async fn expiring_credentials(svc: &Services, now: i64) -> AppResult<u64> {
    let workspaces: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT workspace_id FROM alert_rules WHERE condition = 'credential_expiring' AND enabled = 1",
    )
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let day = now / DAY_MS;
    let mut changed = 0;
    for (ws,) in workspaces {
        let mut tx = svc.store.begin().await?;
        let rules = rules::enabled_in(&mut tx, WorkspaceId(ws)).await?;
        let conns: Vec<(i64, i64, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT c.id, c.tenant_id, c.display_name, t.display_name, c.credential_expires_at FROM provider_connections c
             JOIN tenants t ON t.id = c.tenant_id WHERE c.workspace_id = $1 AND c.status = 'enabled' ORDER BY c.id",
        )
        .bind(ws)
        .fetch_all(&mut **tx)
        .await?;
        for rule in rules.iter() {
            let Condition::CredentialExpiring { days } = rule.condition else {
                continue;
            };
            let raiser = Raiser::of(rule);
            for (conn_id, tenant, cname, tname, expires) in &conns {
                let tenant = TenantId(*tenant);
                if !rule.covers(&mut tx, tenant).await? {
                    continue;
                }
                let subject = format!("credential:{conn_id}");
                let change = match expires {
                    Some(at) if *at <= now + days * DAY_MS => {
                        let left = (at - now).div_euclid(DAY_MS);
                        let when = if *at <= now {
                            "has expired".to_string()
                        } else {
                            format!(
                                "expires in {} day{}",
                                left,
                                if left == 1 { "" } else { "s" }
                            )
                        };
                        lifecycle::observe(
                            &mut tx,
                            svc,
                            &raiser,
                            &Observation {
                                tenant: Some(tenant),
                                subject,
                                fingerprint: format!("expires:{}", at / DAY_MS),
                                reference: format!("day:{day}"),
                                title: format!("The credential of {cname} on {tname} {when}"),
                                detail: "Renew the client secret or certificate and update the connection before it stops working.".into(),
                                evidence: vec![Evidence {
                                    label: "The connection".into(),
                                    href: format!("/admin/t/{tenant}/connections/{conn_id}"),
                                }],
                            },
                            now,
                        )
                        .await?
                    }
                    _ => {
                        lifecycle::clear(&mut tx, svc, &raiser, Some(tenant), &subject, now).await?
                    }
                };
                if change != Change::None {
                    changed += 1;
                }
            }
        }
        tx.commit().await?;
    }
    Ok(changed)
}

/// Evaluates, wakes snoozes and sweeps daily until `stop`; every process
/// that runs workers runs one (sending is its own task: a slow receiver
/// must not hold evaluation back).
pub async fn run_periodically(svc: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    crate::store::one_unit(async move {
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                return;
            }
            let beat = async {
                let mut taken = 0;
                loop {
                    // Small batches: an alert's change is committed (and
                    // sent) soon after its run ends, even in a burst.
                    let n = evaluate_pending(&svc, BATCH).await?;
                    taken += n;
                    if n < BATCH as usize {
                        break;
                    }
                }
                super::respond::wake_snoozed(&svc).await?;
                daily_sweep(&svc).await?;
                Ok::<usize, crate::error::AppError>(taken)
            };
            match beat.await {
                Ok(_) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if failures <= 3 || failures.is_multiple_of(20) {
                        tracing::warn!(error = %e, failures, "alert evaluation failed; retrying");
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => {}
            }
        }
    })
    .await
}
