//! The audit log: every mutation writes one entry inside its own transaction.

use crate::error::AppResult;
use crate::ids::{AuditEntryId, TenantId, UserId, WorkspaceId};
use crate::views::{AuditAction, AuditEntryView, AuditFilter, AuditOutcome};
use sqlx::AnyConnection;

pub const PAGE_SIZE: i64 = 50;

/// One entry to record. `actor_label` is what the page shows (an email, or `system`).
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub workspace: Option<WorkspaceId>,
    pub tenant: Option<TenantId>,
    pub actor: Option<UserId>,
    pub actor_label: &'a str,
    pub action: AuditAction,
    pub target: String,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
}

impl<'a> Entry<'a> {
    /// A succeeded change made by a signed-in member.
    pub fn by_member(
        actor: &'a crate::actor::Actor,
        workspace: WorkspaceId,
        tenant: Option<TenantId>,
        action: AuditAction,
        target: String,
        detail: Option<String>,
    ) -> Entry<'a> {
        Entry {
            workspace: Some(workspace),
            tenant,
            actor: Some(actor.user_id),
            actor_label: &actor.email,
            action,
            target,
            outcome: AuditOutcome::Succeeded,
            detail,
        }
    }
}

/// A write transaction that commits only together with its audit entry: the
/// one way members' changes are written (`begin` → work on it → `commit`
/// with the entry). Dropped without committing, it rolls back; there is no
/// way to commit it without an entry.
pub struct AuditedTx {
    tx: crate::store::WriteTx,
    now: i64,
}

impl AuditedTx {
    /// Begins the transaction; the entry will be stamped `now`.
    #[track_caller]
    pub fn begin(
        svc: &crate::services::Services,
        now: i64,
    ) -> impl std::future::Future<Output = AppResult<AuditedTx>> + Send + '_ {
        let begin = svc.store.begin();
        async move {
            Ok(AuditedTx {
                tx: begin.await?,
                now,
            })
        }
    }

    /// Records `entry` and commits, both or neither.
    pub async fn commit(mut self, entry: Entry<'_>) -> AppResult<()> {
        record(&mut self.tx, entry, self.now).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for AuditedTx {
    type Target = sqlx::Transaction<'static, sqlx::Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for AuditedTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

pub async fn record(conn: &mut AnyConnection, entry: Entry<'_>, now: i64) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (workspace_id, tenant_id, actor_user_id, actor_label, action, target, outcome, detail, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(entry.workspace.map(|w| w.0))
    .bind(entry.tenant.map(|t| t.0))
    .bind(entry.actor.map(|u| u.0))
    .bind(entry.actor_label)
    .bind(entry.action.as_str())
    .bind(entry.target)
    .bind(entry.outcome.as_str())
    .bind(entry.detail)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

type AuditRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// Newest first, keyset-paged by id. Returns the page and the cursor for the next one.
pub async fn list(
    conn: &mut AnyConnection,
    workspace: WorkspaceId,
    filter: &AuditFilter,
) -> AppResult<(Vec<AuditEntryView>, Option<AuditEntryId>)> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT a.id, a.created_at, a.actor_label, a.action, a.target, a.outcome, t.display_name, a.detail
         FROM audit_log a LEFT JOIN tenants t ON t.id = a.tenant_id
         WHERE a.workspace_id = $1
           AND ($2 IS NULL OR a.action = $2)
           AND ($3 IS NULL OR a.outcome = $3)
           AND ($4 IS NULL OR a.tenant_id = $4)
           AND ($5 IS NULL OR a.id < $5)
         ORDER BY a.id DESC
         LIMIT $6",
    )
    .bind(workspace.0)
    .bind(filter.action.map(|a| a.as_str()))
    .bind(filter.outcome.map(|o| o.as_str()))
    .bind(filter.tenant.map(|t| t.0))
    .bind(filter.before.map(|b| b.0))
    .bind(PAGE_SIZE + 1)
    .fetch_all(conn)
    .await?;
    let has_more = rows.len() as i64 > PAGE_SIZE;
    let entries: Vec<AuditEntryView> = rows
        .into_iter()
        .take(PAGE_SIZE as usize)
        .filter_map(|(id, at, actor, action, target, outcome, tenant, detail)| {
            Some(AuditEntryView {
                id: AuditEntryId(id),
                at,
                actor,
                action: action.parse().ok()?,
                target,
                outcome: outcome.parse().ok()?,
                tenant,
                detail,
            })
        })
        .collect();
    let next = if has_more {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok((entries, next))
}
