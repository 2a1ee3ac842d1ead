//! The conditions: what one ended run means for each kind of rule. Each
//! reads the run's own results (drift entries, a compliance snapshot, a
//! compare, a fire's or a bulk's progress) and observes or clears through
//! [`At`], where a run that ended later has the last word.

use super::evaluate::{At, EndedRun, HOUR_MS};
use super::lifecycle::{Change, Observation};
use super::rules::Rule;
use super::{Condition, Evidence};
use crate::error::AppResult;
use crate::ids::{RunId, TenantId, WorkspaceId};
use crate::runs::model::ScopeKind;
use crate::runs::{OperationType, ReasonCode, RunOutcome};
use sqlx::AnyConnection;

fn run_link(run: RunId) -> Evidence {
    Evidence {
        label: format!("Run #{run}"),
        href: format!("/admin/operations/{run}"),
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

pub(super) async fn per_tenant(
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
pub(super) async fn per_workspace(
    at: &mut At<'_>,
    rule: &Rule,
    run: &EndedRun,
) -> AppResult<Change> {
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
