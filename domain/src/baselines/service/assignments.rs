//! Which tenants a baseline applies to.

use crate::access::Actor;
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{BaselineId, TenantId};
use crate::services::Services;
use crate::views::AuditAction;
use sqlx::AnyConnection;

use super::common::*;

/// Marks the baseline's assignments changed: its tenants are due a compare.
async fn assignments_changed(
    conn: &mut AnyConnection,
    baseline: BaselineId,
    now: i64,
) -> AppResult<()> {
    sqlx::query("UPDATE baselines SET changed_at = $2 WHERE id = $1")
        .bind(baseline.0)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Assigns the baseline to `target` (`all`, `tenant:ID`, `tag:ID` of this workspace).
pub async fn assign(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    target: &str,
) -> AppResult<()> {
    let (access, h) =
        baseline_for_change(svc, actor, baseline, AuditAction::BaselineAssigned).await?;
    let refuse = || AppError::invalid("target", "Choose every tenant, a tenant or a tag.");
    let target = crate::schedules::Target::parse(target).ok_or_else(refuse)?;
    let (kind, tenant, tag) = crate::schedules::service::target_columns(target);
    let label = {
        let mut conn = svc.store.read().await?;
        let named = |sql: &'static str, id: i64| {
            sqlx::query_as::<_, (String,)>(sql)
                .bind(id)
                .bind(access.id().0)
        };
        match target {
            crate::schedules::Target::AllActive => "every active tenant".to_string(),
            crate::schedules::Target::Tenant(t) => {
                named(
                    "SELECT display_name FROM tenants WHERE id = $1 AND workspace_id = $2",
                    t.0,
                )
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(AppError::NotFound)?
                .0
            }
            crate::schedules::Target::Tag(g) => {
                let (name,) = named(
                    "SELECT name FROM tags WHERE id = $1 AND workspace_id = $2",
                    g.0,
                )
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(AppError::NotFound)?;
                format!("Tag: {name}")
            }
        }
    };
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let exists: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM baseline_assignments WHERE baseline_id = $1 AND target_kind = $2
           AND COALESCE(tenant_id, 0) = $3 AND COALESCE(tag_id, 0) = $4",
    )
    .bind(baseline.0)
    .bind(kind)
    .bind(tenant.unwrap_or(0))
    .bind(tag.unwrap_or(0))
    .fetch_optional(&mut **tx)
    .await?;
    if exists.is_some() {
        return Err(AppError::invalid(
            "target",
            "The baseline is already assigned there.",
        ));
    }
    sqlx::query(
        "INSERT INTO baseline_assignments (baseline_id, target_kind, tenant_id, tag_id, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(baseline.0)
    .bind(kind)
    .bind(tenant)
    .bind(tag)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    assignments_changed(&mut tx, baseline, now).await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        tenant.map(TenantId),
        AuditAction::BaselineAssigned,
        format!("Baseline {}", h.name),
        Some(format!("assigned to {label}")),
    ))
    .await?;
    Ok(())
}

/// Removes one assignment.
pub async fn unassign(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    assignment: i64,
) -> AppResult<()> {
    let (access, h) =
        baseline_for_change(svc, actor, baseline, AuditAction::BaselineUnassigned).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let gone: Option<(Option<i64>,)> = sqlx::query_as(
        "DELETE FROM baseline_assignments WHERE id = $1 AND baseline_id = $2 RETURNING tenant_id",
    )
    .bind(assignment)
    .bind(baseline.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((tenant,)) = gone else {
        return Err(AppError::NotFound);
    };
    assignments_changed(&mut tx, baseline, now).await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        tenant.map(TenantId),
        AuditAction::BaselineUnassigned,
        format!("Baseline {}", h.name),
        None,
    ))
    .await?;
    Ok(())
}
