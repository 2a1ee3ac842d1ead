//! What members do with an alert: acknowledge (with a note), snooze until a
//! time, resolve by hand; and many at once (every alert a filter shows).
//! The guard: the alert's tenant visible to the member (workspace-wide
//! alerts: owners and managers only), else 404; `alerts.respond`, else 403.

use super::lifecycle::{self, Event};
use super::{AlertFilter, Tab};
use crate::access::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::ids::{AlertId, TenantId, WorkspaceId};
use crate::rbac::Capability;
use crate::services::Services;
use crate::views::AuditAction;

const HOUR_MS: i64 = 3_600_000;
/// The longest snooze: a month.
pub const MAX_SNOOZE_MS: i64 = 30 * 24 * HOUR_MS;
/// The most one bulk acknowledgement changes.
pub const BULK_LIMIT: usize = 1000;
const NOTE_MAX: usize = 500;

/// Finds the alert for the actor: 404 when not theirs to see, 403 without
/// the capability (audited as a refused change).
async fn guard(
    svc: &Services,
    actor: &Actor,
    alert: AlertId,
    capability: Capability,
    action: AuditAction,
) -> AppResult<(WorkspaceId, Option<TenantId>, String)> {
    let row: Option<(i64, Option<i64>, String)> =
        sqlx::query_as("SELECT workspace_id, tenant_id, title FROM alerts WHERE id = $1")
            .bind(alert.0)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?;
    let (ws, tenant, title) = row.ok_or(AppError::NotFound)?;
    let ws = WorkspaceId(ws);
    let target = format!("Alert #{alert} · {title}");
    match tenant {
        Some(t) => {
            access::tenant_for_change(svc, actor, TenantId(t), capability, action, target.clone())
                .await?;
        }
        None => {
            let a = access::workspace(svc, actor, ws, Capability::WorkspaceView).await?;
            if !a.role().sees_all_tenants() {
                return Err(AppError::NotFound);
            }
            access::workspace_for_change(svc, actor, ws, capability, action, target.clone())
                .await?;
        }
    }
    Ok((ws, tenant.map(TenantId), target))
}

fn note_of(note: &str) -> AppResult<Option<String>> {
    let note = note.trim();
    if note.chars().count() > NOTE_MAX {
        return Err(AppError::invalid(
            "note",
            "Keep the note to 500 characters.",
        ));
    }
    Ok((!note.is_empty()).then(|| note.to_string()))
}

/// Acknowledges an open alert: it stays until it resolves, and reopens only
/// when its subject changes.
pub async fn acknowledge(
    svc: &Services,
    actor: &Actor,
    alert: AlertId,
    note: &str,
) -> AppResult<bool> {
    guard(
        svc,
        actor,
        alert,
        Capability::AlertsRespond,
        AuditAction::AlertAcknowledged,
    )
    .await?;
    let note = note_of(note)?;
    acknowledge_unchecked(svc, actor, alert, note.as_deref()).await
}

async fn acknowledge_unchecked(
    svc: &Services,
    actor: &Actor,
    alert: AlertId,
    note: Option<&str>,
) -> AppResult<bool> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let n = sqlx::query(
        "UPDATE alerts SET state = 'acknowledged', acknowledged_by = $2, acknowledged_label = $3, acknowledged_at = $4,
            ack_note = $5, changes = changes + 1
         WHERE id = $1 AND state = 'open'",
    )
    .bind(alert.0)
    .bind(actor.user_id.0)
    .bind(&actor.email)
    .bind(now)
    .bind(note)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 1 {
        lifecycle::announce(
            &mut tx,
            svc,
            alert,
            Event::Acknowledged,
            Some((actor, note)),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// Snoozes an alert that is not resolved until `until` (at most a month):
/// no news meanwhile; it wakes up then if it is still open.
pub async fn snooze(svc: &Services, actor: &Actor, alert: AlertId, hours: &str) -> AppResult<i64> {
    guard(
        svc,
        actor,
        alert,
        Capability::AlertsRespond,
        AuditAction::AlertSnoozed,
    )
    .await?;
    let hours: i64 = hours
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("hours", "Choose how long to snooze."))?;
    if !(1..=MAX_SNOOZE_MS / HOUR_MS).contains(&hours) {
        return Err(AppError::invalid(
            "hours",
            "Snooze for 1 hour up to 30 days.",
        ));
    }
    let now = svc.now();
    let until = now + hours * HOUR_MS;
    let mut tx = crate::audit::AuditedTx::begin(svc, now).await?;
    let row: Option<(i64, Option<i64>, String)> = sqlx::query_as(
        "UPDATE alerts SET snoozed_until = $2, changes = changes + 1 WHERE id = $1 AND state <> 'resolved'
         RETURNING workspace_id, tenant_id, title",
    )
    .bind(alert.0)
    .bind(until)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((ws, tenant, title)) = row else {
        return Err(AppError::conflict(
            "This alert is resolved: there is nothing to snooze.",
        ));
    };
    tx.commit(crate::audit::Entry::by_member(
        actor,
        WorkspaceId(ws),
        tenant.map(TenantId),
        AuditAction::AlertSnoozed,
        format!("Alert #{alert} · {title}"),
        Some(format!("for {hours} h")),
    ))
    .await?;
    Ok(until)
}

/// Resolves an alert by hand (it opens again if the condition is seen again).
pub async fn resolve(svc: &Services, actor: &Actor, alert: AlertId, note: &str) -> AppResult<bool> {
    guard(
        svc,
        actor,
        alert,
        Capability::AlertsRespond,
        AuditAction::AlertResolved,
    )
    .await?;
    let note = note_of(note)?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let n = sqlx::query(
        "UPDATE alerts SET state = 'resolved', resolved_at = $2, snoozed_until = NULL, changes = changes + 1
         WHERE id = $1 AND state <> 'resolved'",
    )
    .bind(alert.0)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 1 {
        lifecycle::announce(
            &mut tx,
            svc,
            alert,
            Event::Resolved,
            Some((actor, note.as_deref())),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

/// Acknowledges every open alert the filter shows the member (at most
/// [`BULK_LIMIT`]); answers how many changed.
pub async fn acknowledge_matching(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    filter: AlertFilter,
    note: &str,
) -> AppResult<usize> {
    let a = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::AlertsRespond,
        AuditAction::AlertAcknowledged,
        "alerts matching a filter",
    )
    .await?;
    let note = note_of(note)?;
    let filter = AlertFilter {
        tab: Some(Tab::Open),
        after: None,
        ..filter
    };
    let ids = super::page::matching_ids(svc, actor, &a, &filter, BULK_LIMIT).await?;
    let mut changed = 0;
    for id in ids {
        if acknowledge_unchecked(svc, actor, id, note.as_deref()).await? {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Snoozes that ended: an alert still open wakes up (its routes hear of it
/// again); an acknowledged one just loses the snooze. An indexed look at
/// due snoozes only, on every beat.
pub async fn wake_snoozed(svc: &Services) -> AppResult<u64> {
    let now = svc.now();
    let due: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM alerts WHERE snoozed_until IS NOT NULL AND snoozed_until <= $1 ORDER BY snoozed_until LIMIT 200",
    )
    .bind(now)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut woke = 0;
    for (id,) in due {
        let mut tx = svc.store.begin().await?;
        // One process wakes it: the conditional UPDATE decides.
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE alerts SET snoozed_until = NULL WHERE id = $1 AND snoozed_until IS NOT NULL AND snoozed_until <= $2
             RETURNING state",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((state,)) = row
            && state == "open"
        {
            lifecycle::announce(&mut tx, svc, AlertId(id), Event::Woke, None, now).await?;
            woke += 1;
        }
        tx.commit().await?;
    }
    Ok(woke)
}
