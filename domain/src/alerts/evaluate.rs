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
use crate::error::AppResult;
use crate::ids::{RunId, TenantId, WorkspaceId};
use crate::runs::model::ScopeKind;
use crate::runs::{OperationType, ReasonCode, RunOutcome};
use crate::services::Services;
use crate::store::Backend;
use sqlx::AnyConnection;
use std::collections::HashMap;
use std::time::Duration;

const HOUR_MS: i64 = 3_600_000;
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
);

async fn ended_run(conn: &mut AnyConnection, id: i64) -> AppResult<Option<EndedRun>> {
    let row: Option<RunRow> = sqlx::query_as(
        "SELECT id, workspace_id, tenant_id, op_type, outcome, reason_code, attempts, origin_kind, origin_id, provider_connection_id
         FROM operation_runs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(
        |(id, ws, tenant, op, outcome, reason, attempt, okind, oid, connection)| EndedRun {
            id: RunId(id),
            workspace: WorkspaceId(ws),
            tenant: tenant.map(TenantId),
            op_type: op.parse().ok(),
            outcome: outcome.parse().ok(),
            reason: reason.and_then(|r| r.parse().ok()),
            attempt,
            origin: okind.zip(oid),
            connection,
        },
    ))
}

/// Evaluates up to `batch` ended runs; answers how many were taken.
pub async fn evaluate_pending(svc: &Services, batch: i64) -> AppResult<usize> {
    let mut tx = svc.store.begin().await?;
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
        .await?;
    if events.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    events.sort_unstable();
    let taken = events.len();
    let now = svc.now();
    let mut rules_of: HashMap<i64, Vec<Rule>> = HashMap::new();
    for (_, run_id, ws) in events {
        if let std::collections::hash_map::Entry::Vacant(e) = rules_of.entry(ws) {
            e.insert(rules::enabled_in(&mut tx, WorkspaceId(ws)).await?);
        }
        let rules = &rules_of[&ws];
        if rules.is_empty() {
            continue;
        }
        let Some(run) = ended_run(&mut tx, run_id).await? else {
            continue;
        };
        // One event that cannot be evaluated (a row it needs is unreadable)
        // is logged and dropped; it must not hold back the others.
        let mut point = sqlx::Connection::begin(&mut **tx).await?;
        match on_run(&mut point, svc, rules, &run, now).await {
            Ok(()) => point.commit().await?,
            Err(e) => {
                tracing::warn!(run = run.id.0, error = %e, "alert evaluation of an ended run failed; skipped");
                point.rollback().await?;
            }
        }
    }
    tx.commit().await?;
    metrics::counter!("tenantry_alert_events_evaluated_total").increment(taken as u64);
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

async fn on_run(
    conn: &mut AnyConnection,
    svc: &Services,
    rules: &[Rule],
    run: &EndedRun,
    now: i64,
) -> AppResult<()> {
    let mut name: Option<String> = None;
    for rule in rules {
        let raiser = Raiser::of(rule);
        if rule.condition.kind().per_tenant() {
            let Some(tenant) = run.tenant else { continue };
            if !rule.covers(conn, tenant).await? {
                continue;
            }
            if name.is_none() {
                name = Some(tenant_name(conn, tenant).await?);
            }
            let tname = name.as_deref().unwrap_or_default();
            per_tenant(conn, svc, rule, &raiser, run, tenant, tname, now).await?;
        } else {
            per_workspace(conn, svc, rule, &raiser, run, now).await?;
        }
    }
    Ok(())
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

#[allow(clippy::too_many_arguments)]
async fn per_tenant(
    conn: &mut AnyConnection,
    svc: &Services,
    rule: &Rule,
    raiser: &Raiser,
    run: &EndedRun,
    tenant: TenantId,
    tname: &str,
    now: i64,
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
            if op_type.as_deref().is_some_and(|o| o != op.as_str()) {
                return Ok(Change::None);
            }
            let subject = format!("runs:{}", op_type.as_deref().unwrap_or("any"));
            if succeeded(run.outcome) {
                return lifecycle::clear(conn, svc, raiser, Some(tenant), &subject, now).await;
            }
            if !failed(run.outcome) {
                return Ok(Change::None);
            }
            let since = now - window_hours * HOUR_MS;
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM operation_runs WHERE tenant_id = $1 AND created_at >= $2
                   AND outcome IN ('failed', 'blocked') AND ($3 = '' OR op_type = $3)",
            )
            .bind(tenant.0)
            .bind(since)
            .bind(op_type.as_deref().unwrap_or(""))
            .fetch_one(&mut *conn)
            .await?;
            if n < *count {
                return Ok(Change::None);
            }
            let what = op_type.as_ref().map_or("Runs", |_| op.label());
            let reason = run.reason.map_or("failed", |r| r.as_str());
            let hub = crate::runs::filter::RunFilter {
                tenant: Some(tenant),
                outcome: Some(run.outcome.unwrap_or(RunOutcome::Failed)),
                ..Default::default()
            };
            lifecycle::observe(
                conn,
                svc,
                raiser,
                &Observation {
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
                },
                now,
            )
            .await
        }
        Condition::ConnectionFailing => {
            if op.spec().scope != ScopeKind::ProviderConnection {
                return Ok(Change::None);
            }
            let subject = "connection";
            if succeeded(run.outcome) {
                return lifecycle::clear(conn, svc, raiser, Some(tenant), subject, now).await;
            }
            let Some(reason) = run
                .reason
                .filter(|r| failed(run.outcome) && connection_reason(*r))
            else {
                return Ok(Change::None);
            };
            let mut evidence = vec![run_link(run.id)];
            if let Some(c) = run.connection {
                evidence.push(Evidence {
                    label: "The connection".into(),
                    href: format!("/admin/t/{tenant}/connections/{c}"),
                });
            }
            lifecycle::observe(
                conn,
                svc,
                raiser,
                &Observation {
                    tenant: Some(tenant),
                    subject: subject.into(),
                    fingerprint: reason.as_str().into(),
                    reference: format!("run:{}", run.id),
                    title: format!("Provider connection failing on {tname}"),
                    detail: reason.message().to_string(),
                    evidence,
                },
                now,
            )
            .await
        }
        Condition::DriftDetected { kind } if op == crate::provider::INVENTORY_SYNC => {
            drift(
                conn,
                svc,
                rule,
                raiser,
                run,
                tenant,
                tname,
                kind.as_deref(),
                now,
            )
            .await
        }
        Condition::BaselineDeviation if op == crate::baselines::BASELINE_COMPARE => {
            baseline(conn, svc, rule, raiser, run, tenant, tname, now).await
        }
        Condition::ComplianceBelow { percent } if op == crate::provider::COMPLIANCE_SNAPSHOT => {
            if !succeeded(run.outcome) {
                return Ok(Change::None);
            }
            let snap: Option<(i64, i64, i64, i64)> = sqlx::query_as(
                "SELECT compliant, noncompliant, in_grace_period, other FROM compliance_snapshots WHERE run_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(run.id.0)
            .fetch_optional(&mut *conn)
            .await?;
            let Some((ok, bad, grace, other)) = snap else {
                return Ok(Change::None);
            };
            let total = ok + bad + grace + other;
            if total == 0 {
                return Ok(Change::None);
            }
            let share = ok * 100 / total;
            if share >= *percent {
                return lifecycle::clear(conn, svc, raiser, Some(tenant), "compliance", now).await;
            }
            lifecycle::observe(
                conn,
                svc,
                raiser,
                &Observation {
                    tenant: Some(tenant),
                    subject: "compliance".into(),
                    fingerprint: "below".into(),
                    reference: format!("run:{}", run.id),
                    title: format!("Device compliance {share} % on {tname} (below {percent} %)"),
                    detail: format!("{ok} of {total} devices compliant; {bad} not compliant, {grace} in grace period."),
                    evidence: vec![
                        run_link(run.id),
                        Evidence { label: "Compliance".into(), href: format!("/admin/t/{tenant}/compliance") },
                    ],
                },
                now,
            )
            .await
        }
        _ => Ok(Change::None),
    }
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

#[allow(clippy::too_many_arguments)]
async fn drift(
    conn: &mut AnyConnection,
    svc: &Services,
    rule: &Rule,
    raiser: &Raiser,
    run: &EndedRun,
    tenant: TenantId,
    tname: &str,
    kind: Option<&str>,
    now: i64,
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
    .fetch_all(&mut *conn)
    .await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| kind.is_none_or(|k| r.1 == k) && !rule.excludes_kind(&r.1))
        .collect();
    let subject = format!("drift:{}", kind.unwrap_or("any"));
    if rows.is_empty() {
        return lifecycle::clear(conn, svc, raiser, Some(tenant), &subject, now).await;
    }
    let count = |c: &str| rows.iter().filter(|r| r.0 == c).count();
    let mut parts: Vec<String> = rows
        .iter()
        .map(|r| format!("{}|{}|{}", r.0, r.2, r.4))
        .collect();
    parts.sort_unstable();
    let names: Vec<&str> = rows.iter().take(3).map(|r| r.3.as_str()).collect();
    lifecycle::observe(
        conn,
        svc,
        raiser,
        &Observation {
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
                if rows.len() > names.len() {
                    format!(" and {} more", rows.len() - names.len())
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
        },
        now,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn baseline(
    conn: &mut AnyConnection,
    svc: &Services,
    rule: &Rule,
    raiser: &Raiser,
    run: &EndedRun,
    tenant: TenantId,
    tname: &str,
    now: i64,
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
    .fetch_all(&mut *conn)
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
        .fetch_all(&mut *conn)
        .await?;
        let prefix = format!("baseline:{baseline}:item:");
        let mut deviating = Vec::new();
        for (item, state, settings, kind, name) in items {
            if state == "aligned" || rule.excludes_kind(&kind) {
                continue;
            }
            let subject = format!("{prefix}{item}");
            deviating.push(subject.clone());
            let words = if state == "missing" {
                "missing"
            } else {
                "different"
            };
            last = lifecycle::observe(
                conn,
                svc,
                raiser,
                &Observation {
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
                },
                now,
            )
            .await?;
        }
        for subject in lifecycle::unresolved_subjects(conn, raiser, Some(tenant), &prefix).await? {
            if !deviating.contains(&subject) {
                last = lifecycle::clear(conn, svc, raiser, Some(tenant), &subject, now).await?;
            }
        }
    }
    Ok(last)
}

/// Fires and bulks: evaluated once every target has ended (the last run to
/// end sees it; the fire or bulk is the reference, so it counts once).
async fn per_workspace(
    conn: &mut AnyConnection,
    svc: &Services,
    rule: &Rule,
    raiser: &Raiser,
    run: &EndedRun,
    now: i64,
) -> AppResult<Change> {
    let Some((kind, origin)) = &run.origin else {
        return Ok(Change::None);
    };
    match (&rule.condition, kind.as_str()) {
        (Condition::FireProblems, "schedule_fire") => {
            let Some(f) =
                crate::schedules::service::fire(svc, crate::ids::ScheduleFireId(*origin)).await?
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
            .fetch_optional(&mut *conn)
            .await?;
            let Some((schedule, sname)) = row else {
                return Ok(Change::None);
            };
            let subject = format!("schedule:{schedule}");
            let p = f.progress;
            if p.failed + p.blocked == 0 && !f.late {
                return lifecycle::clear(conn, svc, raiser, None, &subject, now).await;
            }
            let reasons = origin_reasons(conn, "schedule_fire", *origin).await?;
            let hub = crate::runs::filter::RunFilter {
                fire: Some(f.id),
                ..Default::default()
            };
            lifecycle::observe(
                conn,
                svc,
                raiser,
                &Observation {
                    tenant: None,
                    subject,
                    fingerprint: format!(
                        "{}{}",
                        reasons.join(","),
                        if f.late { ",late" } else { "" }
                    ),
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
                },
                now,
            )
            .await
        }
        (Condition::BulkFailures, "bulk_start") => {
            let bulk = crate::ids::BulkStartId(*origin);
            let Some(view) =
                crate::schedules::bulk::view_of(svc, run.workspace, bulk, None).await?
            else {
                return Ok(Change::None);
            };
            if !view.admitted || view.progress.running > 0 {
                return Ok(Change::None);
            }
            let subject = format!("bulk:{}", view.op_type.as_str());
            let p = view.progress;
            if p.failed + p.blocked == 0 {
                return lifecycle::clear(conn, svc, raiser, None, &subject, now).await;
            }
            let reasons = origin_reasons(conn, "bulk_start", *origin).await?;
            lifecycle::observe(
                conn,
                svc,
                raiser,
                &Observation {
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
                },
                now,
            )
            .await
        }
        _ => Ok(Change::None),
    }
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
                    let n = evaluate_pending(&svc, 500).await?;
                    taken += n;
                    if n < 500 {
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
