//! Accepted deviations: accept (with note and expiry) and revoke.

use crate::access::{self, Actor};
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{BaselineId, TenantId};
use crate::rbac::Capability;
use crate::services::Services;
use crate::views::AuditAction;

use super::common::*;

/// Accepts the deviations of `items` (none: every deviating item) of one
/// tenant, with a note and an optional expiry date (`YYYY-MM-DD`, end of
/// that day UTC). Only cells that deviate now and are not accepted already.
pub async fn accept(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    tenant: TenantId,
    items: &[i64],
    note: &str,
    expires_on: &str,
) -> AppResult<usize> {
    let (_, h) = baseline_access(svc, actor, baseline, Capability::WorkspaceView).await?;
    let t = access::tenant_for_change(
        svc,
        actor,
        tenant,
        Capability::BaselinesManage,
        AuditAction::DeviationAccepted,
        format!("Baseline {}", h.name),
    )
    .await?;
    if t.workspace.id() != h.ws {
        return Err(AppError::NotFound);
    }
    let note = note_text("note", note, 1)?;
    let now = svc.now();
    let expires_at = crate::validate::parse_expiry_date(expires_on, now)?;
    if expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::invalid(
            "expires_on",
            "Choose a date in the future, or leave it empty for no expiry.",
        ));
    }
    let mut tx = AuditedTx::begin(svc, now).await?;
    let Some(latest) = latest_result(&mut tx, baseline, tenant).await? else {
        return Err(AppError::invalid(
            "items",
            "This tenant has not been compared with the baseline yet.",
        ));
    };
    let deviating: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.item_no FROM baseline_result_items i JOIN baseline_results r ON r.id = i.result_id
         WHERE i.result_id = $1 AND i.state <> 'aligned' AND NOT {}
           AND i.item_no IN (SELECT bi.item_no FROM baseline_items bi WHERE bi.version_id = $3)
         ORDER BY i.item_no",
        accepted("r", "i", "$2")
    )))
    .bind(latest.id)
    .bind(now)
    .bind(h.version_id)
    .fetch_all(&mut **tx)
    .await?;
    let deviating: Vec<i64> = deviating.into_iter().map(|r| r.0).collect();
    let mut items = items.to_vec();
    items.sort_unstable();
    items.dedup();
    let chosen: Vec<i64> = if items.is_empty() {
        deviating
    } else {
        if let Some(bad) = items.iter().find(|i| !deviating.contains(i)) {
            tracing::debug!(item = bad, "accepting a cell that does not deviate");
            return Err(AppError::invalid(
                "items",
                "Only a different or missing policy that is not accepted yet can be accepted.",
            ));
        }
        items
    };
    if chosen.is_empty() {
        return Err(AppError::invalid(
            "items",
            "Nothing to accept: this tenant has no deviation that is not accepted already.",
        ));
    }
    for no in &chosen {
        sqlx::query(
            "INSERT INTO baseline_acceptances (baseline_id, tenant_id, item_no, note, expires_at, accepted_by, accepted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(baseline.0)
        .bind(tenant.0)
        .bind(no)
        .bind(&note)
        .bind(expires_at)
        .bind(actor.user_id.0)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    tx.commit(Entry::by_member(
        actor,
        h.ws,
        Some(tenant),
        AuditAction::DeviationAccepted,
        format!("Baseline {}", h.name),
        Some(format!(
            "{} item(s) {}; until {}; note: {note}",
            chosen.len(),
            chosen
                .iter()
                .map(|n| format!("#{n}"))
                .collect::<Vec<_>>()
                .join(", "),
            expires_at.map_or("revoked".to_string(), |at| {
                crate::time_zones::format_with_utc(at, actor.time_zone.as_deref())
            })
        )),
    ))
    .await?;
    Ok(chosen.len())
}

/// Revokes an acceptance in force.
pub async fn revoke(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    acceptance: i64,
) -> AppResult<TenantId> {
    let (_, h) = baseline_access(svc, actor, baseline, Capability::WorkspaceView).await?;
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tenant_id, item_no FROM baseline_acceptances WHERE id = $1 AND baseline_id = $2 AND revoked_at IS NULL",
    )
    .bind(acceptance)
    .bind(baseline.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let (tenant, item) = row.ok_or(AppError::NotFound)?;
    let tenant = TenantId(tenant);
    access::tenant_for_change(
        svc,
        actor,
        tenant,
        Capability::BaselinesManage,
        AuditAction::DeviationRevoked,
        format!("Baseline {}", h.name),
    )
    .await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let done = sqlx::query(
        "UPDATE baseline_acceptances SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(acceptance)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit(Entry::by_member(
        actor,
        h.ws,
        Some(tenant),
        AuditAction::DeviationRevoked,
        format!("Baseline {}", h.name),
        Some(format!("item #{item}")),
    ))
    .await?;
    Ok(tenant)
}
