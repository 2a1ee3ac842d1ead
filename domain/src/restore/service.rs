//! The restore page (database only: the preview compares with the latest
//! inventory snapshot) and the confirmed start through the gate.

use super::{
    ItemAction, ItemResult, PolicyChoice, PolicyKind, PreviewAction, PreviewItem, RestorePage,
    RestoreQuery, SnapshotChoice, diff,
};
use crate::access::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::ids::{InventoryItemId, RunId, SnapshotId, TenantId};
use crate::rbac::Capability;
use crate::runs::gate::{Initiator, StartGate, StartRequest};
use crate::runs::model::StartResult;
use crate::services::Services;
use crate::views::AuditAction;
use serde_json::{Map, Value};

async fn snapshots(svc: &Services, tenant: TenantId) -> AppResult<Vec<SnapshotChoice>> {
    let rows: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT id, run_id, taken_at, device_configurations, compliance_policies
         FROM inventory_snapshots s WHERE tenant_id = $1 AND {} ORDER BY id DESC LIMIT 20",
        crate::runs::sql::published("s")
    )))
    .bind(tenant.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, run, at, c, p)| SnapshotChoice {
            id: SnapshotId(id),
            run: RunId(run),
            taken_at: at,
            policies: c + p,
        })
        .collect())
}

/// A stored policy with its settings.
pub(super) struct StoredPolicy {
    pub item: InventoryItemId,
    pub kind: PolicyKind,
    pub external_id: String,
    pub display_name: String,
    pub platform: String,
    pub modified: Option<String>,
    pub settings: Map<String, Value>,
    /// Settings a write keeps when the tenant has them (a baseline's
    /// *must exist*); empty for a snapshot's policy.
    pub exist_only: Vec<String>,
}

type PolicyRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// The policies of one snapshot of `tenant` (none when the snapshot is not the tenant's).
pub(super) async fn policies_of(
    svc: &Services,
    tenant: TenantId,
    snapshot: SnapshotId,
) -> AppResult<Vec<StoredPolicy>> {
    let rows: Vec<PolicyRow> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT i.id, i.kind, i.external_id, i.display_name, i.platform, i.modified, i.settings
         FROM inventory_items i JOIN inventory_snapshots s ON s.id = i.snapshot_id
         WHERE s.id = $1 AND s.tenant_id = $2 AND i.kind IN ('device_configuration', 'compliance_policy')
           AND {}
         ORDER BY i.kind, i.display_name, i.id",
        crate::runs::sql::published("s")
    )))
    .bind(snapshot.0)
    .bind(tenant.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(item, kind, ext, name, platform, modified, settings)| {
            Some(StoredPolicy {
                item: InventoryItemId(item),
                kind: PolicyKind::parse(&kind)?,
                external_id: ext,
                display_name: name,
                platform,
                modified,
                exist_only: Vec::new(),
                settings: settings
                    .and_then(|s| serde_json::from_str::<Value>(&s).ok())
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default(),
            })
        })
        .collect())
}

/// The restore page. Owners and managers only (`restore.execute`).
pub async fn page(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    query: &str,
) -> AppResult<RestorePage> {
    let access = access::tenant(svc, actor, tenant, Capability::RestoreExecute).await?;
    let q = RestoreQuery::parse(query)?;
    let snapshots = snapshots(svc, tenant).await?;
    let compared_with = snapshots.first().cloned();
    let chosen = match q.snapshot {
        Some(id) => Some(
            snapshots
                .iter()
                .find(|s| s.id == id)
                .cloned()
                .ok_or(AppError::NotFound)?,
        ),
        None => None,
    };
    let mut policies = Vec::new();
    let mut preview = Vec::new();
    if let Some(chosen) = &chosen {
        let stored = policies_of(svc, tenant, chosen.id).await?;
        if let Some(bad) = q
            .items
            .iter()
            .find(|i| !stored.iter().any(|p| p.item == **i))
        {
            tracing::debug!(item = bad.0, "restore item not in the snapshot");
            return Err(AppError::invalid(
                "item",
                "Choose policies of the chosen snapshot.",
            ));
        }
        let current = match &compared_with {
            Some(latest) if latest.id != chosen.id => policies_of(svc, tenant, latest.id).await?,
            _ => Vec::new(),
        };
        let same_snapshot = compared_with.as_ref().is_some_and(|l| l.id == chosen.id);
        for p in &stored {
            let selected = q.items.contains(&p.item);
            if selected {
                let now = if same_snapshot {
                    Some(p)
                } else {
                    current
                        .iter()
                        .find(|c| c.kind == p.kind && c.external_id == p.external_id)
                        .or_else(|| {
                            current
                                .iter()
                                .find(|c| c.kind == p.kind && c.display_name == p.display_name)
                        })
                };
                let (action, changes) = match now {
                    None => (PreviewAction::Create, diff(&p.settings, &Map::new())),
                    Some(c) => {
                        let changes = diff(&p.settings, &c.settings);
                        if changes.is_empty() {
                            (PreviewAction::Unchanged, changes)
                        } else {
                            (PreviewAction::Update, changes)
                        }
                    }
                };
                preview.push(PreviewItem {
                    item: p.item,
                    kind: p.kind,
                    display_name: p.display_name.clone(),
                    action,
                    changes,
                });
            }
            policies.push(PolicyChoice {
                item: p.item,
                kind: p.kind,
                display_name: p.display_name.clone(),
                platform: p.platform.clone(),
                modified: p.modified.clone(),
                selected,
            });
        }
    }
    let (blocked, blocked_steps) =
        StartGate::readiness(svc, actor, tenant, &[crate::restore::RESTORE_EXECUTE])
            .await?
            .into_iter()
            .find_map(|r| match r.state {
                crate::provider::ReadinessState::Blocked { reason } => {
                    Some((Some(reason), r.next_steps))
                }
                _ => None,
            })
            .unwrap_or_default();
    Ok(RestorePage {
        tenant,
        tenant_name: access.tenant.display_name,
        snapshots,
        chosen,
        policies,
        compared_with,
        preview,
        blocked,
        blocked_steps,
    })
}

/// Starts a confirmed restore: the typed name must be the tenant's name;
/// the items must be policies of the tenant's snapshot. Then the gate.
pub async fn execute(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    snapshot: SnapshotId,
    items: &str,
    confirm_name: &str,
) -> AppResult<StartResult> {
    let access = access::tenant_for_change(
        svc,
        actor,
        tenant,
        Capability::RestoreExecute,
        AuditAction::RestoreExecuted,
        format!("Restore from snapshot #{snapshot}"),
    )
    .await?;
    let chosen = super::item_ids("items", items.split(','))?;
    if chosen.is_empty() {
        return Err(AppError::invalid(
            "items",
            "Choose at least one policy to restore.",
        ));
    }
    let stored = policies_of(svc, tenant, snapshot).await?;
    if stored.is_empty() {
        return Err(AppError::NotFound);
    }
    let known: std::collections::BTreeSet<InventoryItemId> =
        stored.iter().map(|p| p.item).collect();
    if !chosen.iter().all(|i| known.contains(i)) {
        return Err(AppError::invalid(
            "items",
            "Choose policies of the chosen snapshot.",
        ));
    }
    if confirm_name.trim() != access.tenant.display_name {
        return Err(AppError::invalid(
            "confirm_name",
            "Type the tenant's name exactly as shown to confirm the restore.",
        ));
    }
    StartGate::start(
        svc,
        Initiator::User(actor),
        StartRequest {
            tenant,
            op_type: crate::restore::RESTORE_EXECUTE,
            connection: None,
            args: serde_json::json!({ "snapshot": snapshot, "items": chosen }),
        },
    )
    .await
}

/// Per-item results of a restore run (its page shows them).
pub async fn item_results(svc: &Services, run: RunId) -> AppResult<Vec<ItemResult>> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT kind, display_name, action, detail FROM restore_results WHERE run_id = $1 ORDER BY id",
    )
    .bind(run.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, name, action, detail)| {
            Some(ItemResult {
                kind: PolicyKind::parse(&kind)?,
                display_name: name,
                action: ItemAction::parse(&action)?,
                detail,
            })
        })
        .collect())
}

/// The run page's table: what the restore did per policy.
pub(super) async fn run_items(
    svc: &Services,
    run: RunId,
) -> AppResult<Option<crate::runs::views::RunItems>> {
    use crate::runs::presenter::Tone;
    use crate::runs::views::{RunItem, RunItems};
    let rows = item_results(svc, run).await?;
    Ok(Some(RunItems {
        heading: "Policies".into(),
        empty: "Per-policy results appear here when the restore has finished (reload the page)."
            .into(),
        caption: "What the restore did per policy".into(),
        subject: "Policy".into(),
        kind: "Kind".into(),
        rows: rows
            .into_iter()
            .map(|i| RunItem {
                subject: i.display_name,
                kind: i.kind.label().to_string(),
                result: i.action.label().to_string(),
                tone: match i.action {
                    super::ItemAction::Created => Tone::Info,
                    super::ItemAction::Updated => Tone::Success,
                    super::ItemAction::Unchanged => Tone::Neutral,
                    super::ItemAction::Failed => Tone::Danger,
                },
                detail: i.detail,
            })
            .collect(),
    }))
}
