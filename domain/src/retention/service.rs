//! Reading and changing a workspace's retention, and the audit export an
//! operator takes before entries expire.

use super::{RetentionPage, RetentionPolicy, SweepSummary};
use crate::access;
use crate::actor::Actor;
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::WorkspaceId;
use crate::rbac::Capability;
use crate::services::Services;
use crate::views::AuditAction;

use crate::clock::DAY_MS;

type PolicyRow = (i64, i64, i64, i64, i64, i64);

/// The workspace's policy (the defaults until someone changes them).
pub async fn policy_of(svc: &Services, ws: WorkspaceId) -> AppResult<RetentionPolicy> {
    Ok(stored(svc, ws).await?.unwrap_or(RetentionPolicy::DEFAULT))
}

async fn stored(svc: &Services, ws: WorkspaceId) -> AppResult<Option<RetentionPolicy>> {
    let row: Option<PolicyRow> = sqlx::query_as(
        "SELECT runs_days, snapshots_last, snapshots_weeks, snapshots_months, notifications_days, audit_days
         FROM retention_policies WHERE workspace_id = $1",
    )
    .bind(ws.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    Ok(row.map(|(r, l, w, m, n, a)| RetentionPolicy {
        runs_days: r,
        snapshots_last: l,
        snapshots_weeks: w,
        snapshots_months: m,
        notifications_days: n,
        audit_days: a,
    }))
}

/// The settings page of the actor's current workspace (any member may read
/// what is kept; `None` before they belong to one).
pub async fn page(svc: &Services, actor: &Actor) -> AppResult<Option<RetentionPage>> {
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::WorkspaceView).await?
    else {
        return Ok(None);
    };
    let ws = access.id();
    let saved = stored(svc, ws).await?;
    let policy = saved.unwrap_or(RetentionPolicy::DEFAULT);
    let now = svc.now();
    let mut conn = svc.store.read().await?;
    let count =
        |sql: &'static str, cutoff: i64| sqlx::query_as::<_, (i64,)>(sql).bind(ws.0).bind(cutoff);
    let (notifications,) = count(
        "SELECT COUNT(*) FROM notifications WHERE workspace_id = $1 AND created_at < $2",
        now - policy.notifications_days * DAY_MS,
    )
    .fetch_one(&mut *conn)
    .await?;
    let (audit,) = count(
        "SELECT COUNT(*) FROM audit_log WHERE workspace_id = $1 AND created_at < $2",
        now - policy.audit_days * DAY_MS,
    )
    .fetch_one(&mut *conn)
    .await?;
    let (runs,) = count(
        "SELECT COUNT(*) FROM operation_runs WHERE workspace_id = $1 AND status = 'completed' AND completed_at < $2",
        now - policy.runs_days * DAY_MS,
    )
    .fetch_one(&mut *conn)
    .await?;
    let last: Option<(Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT finished_at, summary FROM retention_sweeps WHERE name = 'retention'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let (last_sweep_at, last_sweep) = match last {
        Some((Some(at), Some(summary))) => (
            Some(at),
            serde_json::from_str::<SweepSummary>(&summary).ok(),
        ),
        _ => (None, None),
    };
    Ok(Some(RetentionPage {
        policy,
        customised: saved.is_some_and(|p| p != RetentionPolicy::DEFAULT),
        can_manage: access.role().can(Capability::RetentionManage),
        can_export_audit: access.role().can(Capability::AuditView),
        expiring_notifications: notifications,
        expiring_audit_entries: audit,
        runs_past_their_days: runs,
        last_sweep_at,
        last_sweep,
    }))
}

/// Changes the current workspace's policy (owners and managers), with an
/// audit entry saying from what to what.
pub async fn save(svc: &Services, actor: &Actor, policy: RetentionPolicy) -> AppResult<()> {
    let Some(current) = access::current_workspace(svc, actor).await? else {
        return Err(AppError::NotFound);
    };
    let access = access::workspace_for_change(
        svc,
        actor,
        current.id,
        Capability::RetentionManage,
        AuditAction::RetentionChanged,
        "retention",
    )
    .await?;
    policy.check()?;
    let ws = access.id();
    let before = policy_of(svc, ws).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "INSERT INTO retention_policies (workspace_id, runs_days, snapshots_last, snapshots_weeks, snapshots_months,
             notifications_days, audit_days, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (workspace_id) DO UPDATE SET runs_days = excluded.runs_days,
             snapshots_last = excluded.snapshots_last, snapshots_weeks = excluded.snapshots_weeks,
             snapshots_months = excluded.snapshots_months, notifications_days = excluded.notifications_days,
             audit_days = excluded.audit_days, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(ws.0)
    .bind(policy.runs_days)
    .bind(policy.snapshots_last)
    .bind(policy.snapshots_weeks)
    .bind(policy.snapshots_months)
    .bind(policy.notifications_days)
    .bind(policy.audit_days)
    .bind(now)
    .bind(actor.user_id.0)
    .execute(&mut **tx)
    .await?;
    let changes: Vec<String> = RetentionPolicy::SETTINGS
        .iter()
        .zip(before.values().into_iter().zip(policy.values()))
        .filter(|(_, (b, a))| b != a)
        .map(|(s, (b, a))| format!("{}: {b} → {a}", s.field))
        .collect();
    tx.commit(Entry::by_member(
        actor,
        ws,
        None,
        AuditAction::RetentionChanged,
        "retention".into(),
        Some(if changes.is_empty() {
            "unchanged".into()
        } else {
            changes.join(", ")
        }),
    ))
    .await
}

/// The current workspace's audit entries the next sweep removes (older
/// than its audit days), oldest first, as CSV: what an operator keeps
/// elsewhere before they go. `None` when there is no workspace.
pub async fn expiring_audit_csv(svc: &Services, actor: &Actor) -> AppResult<Option<String>> {
    let Some(access) = access::current_workspace_with(svc, actor, Capability::AuditView).await?
    else {
        return Ok(None);
    };
    let policy = policy_of(svc, access.id()).await?;
    let cutoff = svc.now() - policy.audit_days * DAY_MS;
    type Row = (
        i64,
        i64,
        Option<i64>,
        String,
        String,
        String,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, created_at, tenant_id, actor_label, action, target, outcome, detail
         FROM audit_log WHERE workspace_id = $1 AND created_at < $2 ORDER BY id LIMIT 100000",
    )
    .bind(access.id().0)
    .bind(cutoff)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let table = crate::review_packs::render::Table {
        file: "audit",
        title: "Audit entries",
        columns: vec![
            "id",
            "created_at_utc_ms",
            "tenant_id",
            "actor",
            "action",
            "target",
            "outcome",
            "detail",
        ],
        rows: rows
            .into_iter()
            .map(|(id, at, tenant, actor, action, target, outcome, detail)| {
                vec![
                    id.to_string(),
                    at.to_string(),
                    tenant.map(|t| t.to_string()).unwrap_or_default(),
                    actor,
                    action,
                    target,
                    outcome,
                    detail.unwrap_or_default(),
                ]
            })
            .collect(),
    };
    // The review packs' CSV writer: quoted fields, formulas defused.
    let out = crate::review_packs::render::csv(&table);
    Ok(Some(out))
}
