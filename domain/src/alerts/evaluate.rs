//! Evaluation: reacts to what can change a condition, never a rescan.
//!
//! Every run that ends leaves a row in `run_ended_events` (a database
//! trigger, whichever code path ended it). A consumer deletes a batch of
//! them and evaluates the workspace's rules for each in the same
//! transaction, so each event is evaluated exactly once across processes
//! (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one writer) and a crash
//! puts the batch back. Drift, compares, compliance, fires and bulks are all
//! runs, so this one feed covers them; credential expiry has a daily sweep
//! (once per day across processes), and snoozes wake on every beat.

use super::lifecycle::{self, Change, Observation, Raiser};
use super::rules::{self, Rule};
use super::{Condition, Evidence};
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, TenantId, WorkspaceId};
use crate::runs::model::ScopeKind;
use crate::runs::{OperationType, ReasonCode, RunOutcome};
use crate::services::Services;
use crate::store::Backend;
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const HOUR_MS: i64 = 3_600_000;
/// Ended runs evaluated per transaction.
const BATCH: i64 = 50;
const DAY_MS: i64 = 24 * HOUR_MS;

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

/// The ended runs of a batch, in one read.
async fn ended_runs(conn: &mut AnyConnection, ids: &[i64]) -> AppResult<HashMap<i64, EndedRun>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // Ids are numbers we read from the database: spelled into the list.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let rows: Vec<RunRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, workspace_id, tenant_id, op_type, outcome, reason_code, attempts, origin_kind, origin_id,
                provider_connection_id, created_at, completed_at
         FROM operation_runs WHERE id IN ({list})"
    )))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
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
                    id,
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
/// run that moves no alert). Should one event fail to evaluate, the batch
/// rolls back and its events are evaluated one per transaction; the one
/// that fails again is logged and dropped so it cannot hold back the rest.
/// An unreachable database drops nothing.
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
                    Err((e, event)) => {
                        if let Some((event, run)) = event {
                            sqlx::query("DELETE FROM run_ended_events WHERE id = $1")
                                .bind(event)
                                .execute(&mut *svc.store.write().await?)
                                .await?;
                            tracing::warn!(run, error = %e, "alert evaluation of an ended run failed; skipped");
                            taken += 1;
                        }
                    }
                }
            }
            Ok(taken)
        }
    }
}

/// The event being evaluated when a batch failed: (event id, run id).
type Failed = (AppError, Option<(i64, i64)>);

async fn evaluate_batch(svc: &Services, batch: i64) -> Result<usize, Failed> {
    let none = |e: AppError| (e, None);
    let mut tx = svc.store.begin().await.map_err(none)?;
    let claim = match svc.store.backend() {
        Backend::Postgres => {
            "DELETE FROM run_ended_events WHERE id IN
               (SELECT id FROM run_ended_events ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING id, run_id, workspace_id"
        }
        Backend::Sqlite => {
            "DELETE FROM run_ended_events WHERE id IN (SELECT id FROM run_ended_events ORDER BY id LIMIT $1)
             RETURNING id, run_id, workspace_id"
        }
    };
    let mut events: Vec<(i64, i64, i64)> = sqlx::query_as(claim)
        .bind(batch)
        .fetch_all(&mut **tx)
        .await
        .map_err(|e| none(e.into()))?;
    if events.is_empty() {
        tx.commit().await.map_err(|e| none(e.into()))?;
        return Ok(0);
    }
    events.sort_unstable();
    let taken = events.len();
    let mut announced = false;
    let mut workspaces: HashMap<i64, Workspace> = HashMap::new();
    for (_, _, ws) in &events {
        if let std::collections::hash_map::Entry::Vacant(e) = workspaces.entry(*ws) {
            e.insert(workspace(&mut tx, WorkspaceId(*ws)).await.map_err(none)?);
        }
    }
    let watched: Vec<(i64, i64)> = events
        .iter()
        .filter(|(_, _, ws)| workspaces.get(ws).is_some_and(|w| !w.rules.is_empty()))
        .map(|(event, run, _)| (*event, *run))
        .collect();
    let ids: Vec<i64> = watched.iter().map(|w| w.1).collect();
    let runs = ended_runs(&mut tx, &ids).await.map_err(none)?;
    for (event, run_id) in watched {
        let Some(run) = runs.get(&run_id) else {
            continue;
        };
        let Some(ws) = workspaces.get_mut(&run.workspace.0) else {
            continue;
        };
        if !ws.rules.iter().any(|r| r.may_apply(run)) {
            continue;
        }
        announced |= on_run(&mut tx, svc, ws, run)
            .await
            .map_err(|e| (e, Some((event, run_id))))?;
    }
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

fn run_link(run: RunId) -> Evidence {
    Evidence {
        label: format!("Run #{run}"),
        href: format!("/admin/operations/{run}"),
    }
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
struct At<'a> {
    conn: &'a mut AnyConnection,
    svc: &'a Services,
    raiser: &'a Raiser,
    open: &'a mut HashSet<(i64, i64, String)>,
    now: i64,
    /// The tenant's name, read once and only when an alert needs a title.
    name: &'a mut Option<String>,
}

impl At<'_> {
    async fn tenant_name(&mut self, tenant: TenantId) -> AppResult<String> {
        if self.name.is_none() {
            *self.name = Some(tenant_name(self.conn, tenant).await?);
        }
        Ok(self.name.clone().unwrap_or_default())
    }

    fn key(&self, tenant: Option<TenantId>, subject: &str) -> (i64, i64, String) {
        (
            self.raiser.rule.as_ref().map_or(0, |r| r.0.0),
            tenant.map_or(0, |t| t.0),
            subject.to_string(),
        )
    }

    async fn observe(&mut self, obs: Observation) -> AppResult<Change> {
        let key = self.key(obs.tenant, &obs.subject);
        let change = lifecycle::observe(self.conn, self.svc, self.raiser, &obs, self.now).await?;
        self.open.insert(key);
        Ok(change)
    }

    fn is_open(&self, tenant: Option<TenantId>, subject: &str) -> bool {
        self.open.contains(&self.key(tenant, subject))
    }

    /// Resolves the key if it is open (nothing to write otherwise).
    async fn clear(&mut self, tenant: Option<TenantId>, subject: &str) -> AppResult<Change> {
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
    async fn superseded(
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

const SUCCEEDED: &[&str] = &["succeeded", "partially_succeeded"];
const FAILED: &[&str] = &["failed", "blocked"];

/// The provider-backed operation types (what "the connection works" is judged on).
fn provider_ops() -> Vec<&'static str> {
    crate::runs::model::registered_types()
        .iter()
        .filter(|t| t.spec().scope == ScopeKind::ProviderConnection)
        .map(|t| t.as_str())
        .collect()
}

impl Rule {
    /// Whether this rule can be moved by this ended run at all (cheap; no
    /// query): most runs concern few rules.
    pub(crate) fn may_apply(&self, run: &EndedRun) -> bool {
        let op = run.op_type;
        match &self.condition {
            Condition::RunFailures { op_type, .. } => {
                op.is_some()
                    && op_type
                        .as_deref()
                        .is_none_or(|o| op.is_some_and(|x| x.as_str() == o))
            }
            Condition::ConnectionFailing => {
                op.is_some_and(|o| o.spec().scope == ScopeKind::ProviderConnection)
            }
            Condition::DriftDetected { .. } => op == Some(crate::provider::INVENTORY_SYNC),
            Condition::BaselineDeviation => op == Some(crate::baselines::BASELINE_COMPARE),
            Condition::ComplianceBelow { .. } => op == Some(crate::provider::COMPLIANCE_SNAPSHOT),
            Condition::FireProblems => run.origin.as_ref().is_some_and(|o| o.0 == "schedule_fire"),
            Condition::BulkFailures => run.origin.as_ref().is_some_and(|o| o.0 == "bulk_start"),
            Condition::CredentialExpiring { .. } => false,
        }
    }
}

fn failed(o: Option<RunOutcome>) -> bool {
    matches!(o, Some(RunOutcome::Failed | RunOutcome::Blocked))
}

fn succeeded(o: Option<RunOutcome>) -> bool {
    matches!(
        o,
        Some(RunOutcome::Succeeded | RunOutcome::PartiallySucceeded)
    )
}

/// Reasons that say the connection itself is the problem.
fn connection_reason(r: ReasonCode) -> bool {
    use ReasonCode::*;
    matches!(
        r,
        ConnectionMissing
            | ConnectionDisabled
            | ConsentMissing
            | ConsentUnconfirmed
            | CredentialsMissing
            | CredentialsExpired
            | CredentialsInvalid
            | PermissionsMissing
    )
}

async fn per_tenant(
    at: &mut At<'_>,
    rule: &Rule,
    run: &EndedRun,
    tenant: TenantId,
) -> AppResult<Change> {
    let Some(op) = run.op_type else {
        return Ok(Change::None);
    };
    match &rule.condition {
        Condition::RunFailures {
            op_type,
            count,
            window_hours,
        } => {
            run_failures(
                at,
                run,
                op,
                tenant,
                op_type.as_deref(),
                *count,
                *window_hours,
            )
            .await
        }
        Condition::ConnectionFailing => connection(at, run, tenant).await,
        Condition::DriftDetected { kind } => {
            if at
                .superseded(run, tenant, &[op.as_str()], SUCCEEDED)
                .await?
            {
                return Ok(Change::None);
            }
            drift(at, rule, run, tenant, kind.as_deref()).await
        }
        Condition::BaselineDeviation => {
            if at
                .superseded(run, tenant, &[op.as_str()], SUCCEEDED)
                .await?
            {
                return Ok(Change::None);
            }
            baseline(at, rule, run, tenant).await
        }
        Condition::ComplianceBelow { percent } => {
            if !succeeded(run.outcome)
                || at
                    .superseded(run, tenant, &[op.as_str()], SUCCEEDED)
                    .await?
            {
                return Ok(Change::None);
            }
            compliance(at, run, tenant, *percent).await
        }
        _ => Ok(Change::None),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_failures(
    at: &mut At<'_>,
    run: &EndedRun,
    op: OperationType,
    tenant: TenantId,
    op_type: Option<&str>,
    count: i64,
    window_hours: i64,
) -> AppResult<Change> {
    let subject = format!("runs:{}", op_type.unwrap_or("any"));
    let ops: Vec<&str> = match op_type {
        Some(o) => vec![o],
        None => crate::runs::model::registered_types()
            .iter()
            .map(|t| t.as_str())
            .collect(),
    };
    if succeeded(run.outcome) {
        // Only an open alert has anything to clear; a failure that ended
        // after this success has the last word.
        if !at.is_open(Some(tenant), &subject) || at.superseded(run, tenant, &ops, FAILED).await? {
            return Ok(Change::None);
        }
        return at.clear(Some(tenant), &subject).await;
    }
    if !failed(run.outcome) || at.superseded(run, tenant, &ops, SUCCEEDED).await? {
        return Ok(Change::None);
    }
    let since = at.now - window_hours * HOUR_MS;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM operation_runs WHERE tenant_id = $1 AND created_at >= $2
           AND outcome IN ('failed', 'blocked') AND ($3 = '' OR op_type = $3)",
    )
    .bind(tenant.0)
    .bind(since)
    .bind(op_type.unwrap_or(""))
    .fetch_one(&mut *at.conn)
    .await?;
    if n < count {
        return Ok(Change::None);
    }
    let tname = at.tenant_name(tenant).await?;
    let what = if op_type.is_some() {
        op.label()
    } else {
        "Runs"
    };
    let reason = run.reason.map_or("failed", |r| r.as_str());
    let hub = crate::runs::filter::RunFilter {
        tenant: Some(tenant),
        outcome: Some(run.outcome.unwrap_or(RunOutcome::Failed)),
        ..Default::default()
    };
    at.observe(Observation {
        tenant: Some(tenant),
        subject,
        fingerprint: reason.to_string(),
        reference: format!("run:{}", run.id),
        title: format!("{what} failed or blocked {n}× in {window_hours} h on {tname}"),
        detail: run.reason.map_or_else(
            || format!("{} #{} failed.", op.label(), run.id),
            |r| format!("Latest: {} #{}: {}", op.label(), run.id, r.message()),
        ),
        evidence: vec![
            run_link(run.id),
            Evidence {
                label: "Its failed runs".into(),
                href: hub.hub_link(),
            },
        ],
    })
    .await
}

async fn connection(at: &mut At<'_>, run: &EndedRun, tenant: TenantId) -> AppResult<Change> {
    let subject = "connection";
    let ops = provider_ops();
    if succeeded(run.outcome) {
        if !at.is_open(Some(tenant), subject) || at.superseded(run, tenant, &ops, FAILED).await? {
            return Ok(Change::None);
        }
        return at.clear(Some(tenant), subject).await;
    }
    let Some(reason) = run
        .reason
        .filter(|r| failed(run.outcome) && connection_reason(*r))
    else {
        return Ok(Change::None);
    };
    if at.superseded(run, tenant, &ops, SUCCEEDED).await? {
        return Ok(Change::None);
    }
    let tname = at.tenant_name(tenant).await?;
    let mut evidence = vec![run_link(run.id)];
    if let Some(c) = run.connection {
        evidence.push(Evidence {
            label: "The connection".into(),
            href: format!("/admin/t/{tenant}/connections/{c}"),
        });
    }
    at.observe(Observation {
        tenant: Some(tenant),
        subject: subject.into(),
        fingerprint: reason.as_str().into(),
        reference: format!("run:{}", run.id),
        title: format!("Provider connection failing on {tname}"),
        detail: reason.message().to_string(),
        evidence,
    })
    .await
}

async fn compliance(
    at: &mut At<'_>,
    run: &EndedRun,
    tenant: TenantId,
    percent: i64,
) -> AppResult<Change> {
    let snap: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT compliant, noncompliant, in_grace_period, other FROM compliance_snapshots WHERE run_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(run.id.0)
    .fetch_optional(&mut *at.conn)
    .await?;
    let Some((ok, bad, grace, other)) = snap else {
        return Ok(Change::None);
    };
    let total = ok + bad + grace + other;
    if total == 0 {
        return Ok(Change::None);
    }
    let share = ok * 100 / total;
    if share >= percent {
        return at.clear(Some(tenant), "compliance").await;
    }
    let tname = at.tenant_name(tenant).await?;
    at.observe(Observation {
        tenant: Some(tenant),
        subject: "compliance".into(),
        fingerprint: "below".into(),
        reference: format!("run:{}", run.id),
        title: format!("Device compliance {share} % on {tname} (below {percent} %)"),
        detail: format!(
            "{ok} of {total} devices compliant; {bad} not compliant, {grace} in grace period."
        ),
        evidence: vec![
            run_link(run.id),
            Evidence {
                label: "Compliance".into(),
                href: format!("/admin/t/{tenant}/compliance"),
            },
        ],
    })
    .await
}

/// A short, stable digest of what a subject is now.
fn digest(parts: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

async fn drift(
    at: &mut At<'_>,
    rule: &Rule,
    run: &EndedRun,
    tenant: TenantId,
    kind: Option<&str>,
) -> AppResult<Change> {
    if !succeeded(run.outcome) {
        return Ok(Change::None);
    }
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT change, kind, external_id, display_name, settings FROM drift_entries
         WHERE run_id = $1 AND attempt = $2 ORDER BY id",
    )
    .bind(run.id.0)
    .bind(run.attempt)
    .fetch_all(&mut *at.conn)
    .await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| kind.is_none_or(|k| r.1 == k) && !rule.excludes_kind(&r.1))
        .collect();
    let subject = format!("drift:{}", kind.unwrap_or("any"));
    if rows.is_empty() {
        return at.clear(Some(tenant), &subject).await;
    }
    let tname = at.tenant_name(tenant).await?;
    let count = |c: &str| rows.iter().filter(|r| r.0 == c).count();
    let mut parts: Vec<String> = rows
        .iter()
        .map(|r| format!("{}|{}|{}", r.0, r.2, r.4))
        .collect();
    parts.sort_unstable();
    let names: Vec<&str> = rows.iter().take(3).map(|r| r.3.as_str()).collect();
    let more = rows.len() - names.len();
    at.observe(Observation {
        tenant: Some(tenant),
        subject,
        fingerprint: digest(&parts),
        reference: format!("run:{}", run.id),
        title: format!(
            "Drift on {tname}: {} changed, {} added, {} removed",
            count("changed"),
            count("added"),
            count("removed")
        ),
        detail: format!(
            "{}{}",
            names.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ),
        evidence: vec![
            Evidence {
                label: "Drift history".into(),
                href: format!("/admin/t/{tenant}/changes"),
            },
            run_link(run.id),
        ],
    })
    .await
}

async fn baseline(
    at: &mut At<'_>,
    rule: &Rule,
    run: &EndedRun,
    tenant: TenantId,
) -> AppResult<Change> {
    if !succeeded(run.outcome) {
        return Ok(Change::None);
    }
    let results: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "SELECT r.id, r.baseline_id, r.version, b.name FROM baseline_results r JOIN baselines b ON b.id = r.baseline_id
         WHERE r.run_id = $1 AND r.attempt = $2 AND r.tenant_id = $3",
    )
    .bind(run.id.0)
    .bind(run.attempt)
    .bind(tenant.0)
    .fetch_all(&mut *at.conn)
    .await?;
    let mut last = Change::None;
    for (result, baseline, version, bname) in results {
        let items: Vec<(i64, String, String, String, String)> = sqlx::query_as(
            "SELECT ri.item_no, ri.state, ri.settings, bi.kind, bi.display_name FROM baseline_result_items ri
             JOIN baseline_versions v ON v.baseline_id = $2 AND v.version = $3
             JOIN baseline_items bi ON bi.version_id = v.id AND bi.item_no = ri.item_no
             WHERE ri.result_id = $1 ORDER BY ri.item_no",
        )
        .bind(result)
        .bind(baseline)
        .bind(version)
        .fetch_all(&mut *at.conn)
        .await?;
        let prefix = format!("baseline:{baseline}:item:");
        let mut deviating = Vec::new();
        for (item, state, settings, kind, name) in items {
            if state == "aligned" || rule.excludes_kind(&kind) {
                continue;
            }
            let subject = format!("{prefix}{item}");
            deviating.push(subject.clone());
            let tname = at.tenant_name(tenant).await?;
            let words = if state == "missing" {
                "missing"
            } else {
                "different"
            };
            last = at
                .observe(Observation {
                    tenant: Some(tenant),
                    subject,
                    fingerprint: digest(&[state.clone(), settings]),
                    reference: format!("run:{}", run.id),
                    title: format!("{name} is {words} from baseline {bname} on {tname}"),
                    detail: format!("Compared with version {version} of {bname}."),
                    evidence: vec![
                        Evidence {
                            label: "Baseline cell".into(),
                            href: format!("/admin/baselines/{baseline}/t/{tenant}"),
                        },
                        run_link(run.id),
                    ],
                })
                .await?;
        }
        let key = at.key(Some(tenant), "");
        let stale: Vec<String> = at
            .open
            .iter()
            .filter(|(r, t, s)| {
                *r == key.0 && *t == key.1 && s.starts_with(&prefix) && !deviating.contains(s)
            })
            .map(|k| k.2.clone())
            .collect();
        for subject in stale {
            last = at.clear(Some(tenant), &subject).await?;
        }
    }
    Ok(last)
}

/// Fires and bulks: evaluated once every target has ended (the last run to
/// end sees it; the fire or bulk is the reference, so it counts once).
async fn per_workspace(at: &mut At<'_>, rule: &Rule, run: &EndedRun) -> AppResult<Change> {
    let Some((kind, origin)) = &run.origin else {
        return Ok(Change::None);
    };
    match (&rule.condition, kind.as_str()) {
        (Condition::FireProblems, "schedule_fire") => fire(at, *origin).await,
        (Condition::BulkFailures, "bulk_start") => bulk(at, run.workspace, *origin).await,
        _ => Ok(Change::None),
    }
}

async fn fire(at: &mut At<'_>, origin: i64) -> AppResult<Change> {
    let Some(f) =
        crate::schedules::service::fire(at.svc, crate::ids::ScheduleFireId(origin)).await?
    else {
        return Ok(Change::None);
    };
    if !f.finished || f.progress.running > 0 {
        return Ok(Change::None);
    }
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT s.id, s.name FROM schedule_fires f JOIN schedules s ON s.id = f.schedule_id WHERE f.id = $1",
    )
    .bind(origin)
    .fetch_optional(&mut *at.conn)
    .await?;
    let Some((schedule, sname)) = row else {
        return Ok(Change::None);
    };
    // A later fire of the schedule that has finished has the last word.
    let later: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM schedule_fires WHERE schedule_id = $1 AND id > $2 AND finished_at IS NOT NULL LIMIT 1",
    )
    .bind(schedule)
    .bind(origin)
    .fetch_optional(&mut *at.conn)
    .await?;
    if later.is_some() {
        return Ok(Change::None);
    }
    let subject = format!("schedule:{schedule}");
    let p = f.progress;
    if p.failed + p.blocked == 0 && !f.late {
        return at.clear(None, &subject).await;
    }
    let reasons = origin_reasons(at.conn, "schedule_fire", origin).await?;
    let hub = crate::runs::filter::RunFilter {
        fire: Some(f.id),
        ..Default::default()
    };
    at.observe(Observation {
        tenant: None,
        subject,
        fingerprint: format!("{}{}", reasons.join(","), if f.late { ",late" } else { "" }),
        reference: format!("fire:{}", f.id),
        title: format!(
            "Schedule {sname}: {} failed, {} blocked{}",
            p.failed,
            p.blocked,
            if f.late { ", fired late" } else { "" }
        ),
        detail: p.tally(),
        evidence: vec![Evidence {
            label: "The fire's runs".into(),
            href: hub.hub_link(),
        }],
    })
    .await
}

async fn bulk(at: &mut At<'_>, ws: WorkspaceId, origin: i64) -> AppResult<Change> {
    let bulk = crate::ids::BulkStartId(origin);
    let Some(view) = crate::schedules::bulk::view_of(at.svc, ws, bulk, None).await? else {
        return Ok(Change::None);
    };
    if !view.admitted || view.progress.running > 0 {
        return Ok(Change::None);
    }
    // A later bulk of the same operation that has ended has the last word.
    let later: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM bulk_starts WHERE workspace_id = $1 AND op_type = $2 AND id > $3 AND notified_at IS NOT NULL LIMIT 1",
    )
    .bind(ws.0)
    .bind(view.op_type.as_str())
    .bind(origin)
    .fetch_optional(&mut *at.conn)
    .await?;
    if later.is_some() {
        return Ok(Change::None);
    }
    let subject = format!("bulk:{}", view.op_type.as_str());
    let p = view.progress;
    if p.failed + p.blocked == 0 {
        return at.clear(None, &subject).await;
    }
    let reasons = origin_reasons(at.conn, "bulk_start", origin).await?;
    at.observe(Observation {
        tenant: None,
        subject,
        fingerprint: reasons.join(","),
        reference: format!("bulk:{bulk}"),
        title: format!(
            "{} on {}: {} failed, {} blocked",
            view.op_label, view.selection, p.failed, p.blocked
        ),
        detail: p.tally(),
        evidence: vec![Evidence {
            label: "The bulk start".into(),
            href: view.link(),
        }],
    })
    .await
}

async fn origin_reasons(conn: &mut AnyConnection, kind: &str, id: i64) -> AppResult<Vec<String>> {
    let rows: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT DISTINCT reason_code FROM operation_runs WHERE origin_kind = $1 AND origin_id = $2
           AND outcome IN ('failed', 'blocked') ORDER BY reason_code",
    )
    .bind(kind)
    .bind(id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| r.0.unwrap_or_else(|| "failed".into()))
        .collect())
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
