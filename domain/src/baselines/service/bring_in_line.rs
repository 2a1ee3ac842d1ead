//! *Bring in line*: the plan, its preview, the restores.

use super::super::{
    AlignItem, AlignPreview, AlignTenant, BaselineItem, item_deltas, match_key, parse_cells,
};
use crate::access::{self, Actor, WorkspaceAccess};
use crate::drift::PolicyVersion;
use crate::error::{AppError, AppResult};
use crate::ids::{BaselineId, TenantId};
use crate::rbac::Capability;
use crate::runs::gate::StartGate;
use crate::services::Services;
use crate::views::AuditAction;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

use super::common::*;
use super::matrix::{matrix_cells, matrix_tenants};

/// The cells of a *bring in line*, grouped by tenant: only cells that
/// deviate now (different or missing, not accepted); the rest is counted
/// as skipped. Every tenant must be one the member may see (404).
async fn align_plan(
    svc: &Services,
    actor: &Actor,
    access: &WorkspaceAccess,
    baseline: BaselineId,
    cells: &str,
) -> AppResult<(Vec<(TenantId, String, Vec<i64>)>, i64)> {
    let cells = parse_cells(cells)?;
    let mut by_tenant: BTreeMap<TenantId, Vec<i64>> = BTreeMap::new();
    for (t, no) in cells {
        by_tenant.entry(t).or_default().push(no);
    }
    let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
    let mut conn = svc.store.read().await?;
    let tenants = matrix_tenants(&mut conn, baseline, access.id(), visible_to, None).await?;
    let names: HashMap<i64, String> = tenants.into_iter().collect();
    if by_tenant.keys().any(|t| !names.contains_key(&t.0)) {
        return Err(AppError::NotFound);
    }
    let (states, heads) = matrix_cells(&mut conn, baseline, svc.now()).await?;
    // Cells a bring in line is already working on are not chosen twice.
    let aligning = crate::baselines::aligning::cells(
        &mut conn,
        baseline,
        access.id(),
        &heads.iter().map(|(t, h)| (*t, h.1)).collect(),
        svc.now(),
    )
    .await?;
    let mut skipped = 0;
    let mut plan = Vec::new();
    for (t, nos) in by_tenant {
        let deviating: Vec<i64> = nos
            .iter()
            .copied()
            .filter(|no| {
                states.get(&(t.0, *no)).is_some_and(|s| s.deviates())
                    && !aligning.contains(&(t.0, *no))
            })
            .collect();
        skipped += (nos.len() - deviating.len()) as i64;
        if !deviating.is_empty() {
            plan.push((t, names.get(&t.0).cloned().unwrap_or_default(), deviating));
        }
    }
    Ok((plan, skipped))
}

/// The preview of a *bring in line*: per tenant, what restore would write
/// for each chosen item (created, changed with each setting, or nothing),
/// read from the tenant's latest snapshot, and whether restore may start.
pub async fn align_preview(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    cells: &str,
) -> AppResult<AlignPreview> {
    let (access, h) = baseline_access(svc, actor, baseline, Capability::RestoreExecute).await?;
    let (plan, skipped) = align_plan(svc, actor, &access, baseline, cells).await?;
    let items = items_of(&mut *svc.store.read().await?, h.version_id).await?;
    let mut tenants = Vec::with_capacity(plan.len());
    let mut cells_back = Vec::new();
    for (tenant, name, nos) in plan {
        let policies = latest_policies(&mut *svc.store.read().await?, tenant)
            .await?
            .map(|p| p.1)
            .unwrap_or_default();
        let mut by_key: HashMap<(String, String), Vec<&PolicyVersion>> = HashMap::new();
        for p in &policies {
            by_key
                .entry(match_key(&p.kind, &p.display_name))
                .or_default()
                .push(p);
        }
        let mut align_items = Vec::new();
        for no in nos {
            let Some(item) = items.iter().find(|i| i.no == no) else {
                continue;
            };
            cells_back.push(format!("{tenant}:{no}"));
            let current = by_key
                .get(&match_key(&item.kind, &item.display_name))
                .and_then(|c| {
                    c.iter()
                        .min_by_key(|p| item_deltas(item, &p.settings).len())
                });
            let desired = item.desired_settings();
            let (action, changes) = match current {
                None => (
                    crate::inventory::PreviewAction::Create,
                    crate::inventory::diff(&desired, &Map::new()),
                ),
                Some(p) => {
                    let mut desired = desired;
                    for k in item.exist_only() {
                        if p.settings.get(&k).is_some_and(|v| !v.is_null()) {
                            desired.remove(&k);
                        }
                    }
                    let changes = crate::inventory::diff(&desired, &p.settings);
                    if changes.is_empty() {
                        (crate::inventory::PreviewAction::Unchanged, changes)
                    } else {
                        (crate::inventory::PreviewAction::Update, changes)
                    }
                }
            };
            align_items.push(AlignItem {
                no,
                display_name: item.display_name.clone(),
                kind: item.kind.clone(),
                action,
                changes,
            });
        }
        let blocked = StartGate::readiness(svc, actor, tenant, &[crate::restore::RESTORE_EXECUTE])
            .await?
            .into_iter()
            .find_map(|r| match r.state {
                crate::provider::ReadinessState::Blocked { reason } => Some(reason),
                _ => None,
            });
        tenants.push(AlignTenant {
            tenant,
            name,
            items: align_items,
            blocked,
        });
    }
    Ok(AlignPreview {
        baseline,
        workspace: access.id(),
        name: h.name,
        version: h.version,
        tenants,
        cells: cells_back.join(","),
        skipped,
    })
}

/// Brings the chosen cells in line: the typed baseline name confirms it;
/// then one restore run per tenant (its deviating items, from this
/// version) through a bulk start, so each tenant passes the gate.
pub async fn align(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    cells: &str,
    confirm_name: &str,
) -> AppResult<crate::schedules::BulkView> {
    let h = head(&mut *svc.store.read().await?, baseline)
        .await?
        .ok_or(AppError::NotFound)?;
    // A refusal for the role is audited like every refused change.
    let access = access::workspace_for_change(
        svc,
        actor,
        h.ws,
        Capability::RestoreExecute,
        AuditAction::RestoreExecuted,
        format!("Bring in line with baseline {}", h.name),
    )
    .await?;
    let (plan, _) = align_plan(svc, actor, &access, baseline, cells).await?;
    if plan.is_empty() {
        return Err(AppError::invalid(
            "cells",
            "None of the chosen cells deviates now: nothing to bring in line.",
        ));
    }
    if confirm_name.trim() != h.name {
        return Err(AppError::invalid(
            "confirm_name",
            "Type the baseline's name exactly as shown to confirm.",
        ));
    }
    let per_tenant: Map<String, Value> = plan
        .iter()
        .map(|(t, _, nos)| (t.to_string(), serde_json::json!(nos)))
        .collect();
    let tenants: Vec<TenantId> = plan.iter().map(|p| p.0).collect();
    let words = format!("baseline {} (version {})", h.name, h.version);
    crate::schedules::bulk::start_admitted(
        svc,
        actor,
        &access,
        crate::restore::RESTORE_EXECUTE,
        tenants,
        words,
        serde_json::json!({
            "baseline": baseline.0,
            "baseline_version": h.version,
            "baseline_items": per_tenant,
        }),
    )
    .await
}

/// Restore's port for *bring in line*: the baseline's policies a restore
/// writes on `tenant` (installed by `operations::services`).
pub fn desired_items(
    svc: Services,
    tenant: TenantId,
    args: Value,
) -> crate::runs::handlers::BoxFuture<AppResult<Option<Vec<crate::restore::DesiredItem>>>> {
    Box::pin(async move {
        Ok(restore_items(&svc, tenant, &args).await?.map(|items| {
            items
                .into_iter()
                .map(|i| crate::restore::DesiredItem {
                    no: i.no,
                    exist_only: i.exist_only(),
                    settings: i.desired_settings(),
                    kind: i.kind,
                    display_name: i.display_name,
                })
                .collect()
        }))
    })
}

/// The desired policies of a baseline restore for one tenant (the run's
/// arguments name the baseline, its version and each tenant's items).
pub(crate) async fn restore_items(
    svc: &Services,
    tenant: TenantId,
    args: &Value,
) -> AppResult<Option<Vec<BaselineItem>>> {
    let (Some(baseline), Some(version)) = (
        args.get("baseline").and_then(Value::as_i64),
        args.get("baseline_version").and_then(Value::as_i64),
    ) else {
        return Ok(None);
    };
    let nos: Vec<i64> = args
        .get("baseline_items")
        .and_then(|m| m.get(tenant.to_string()))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let mut conn = svc.store.read().await?;
    let version_id: Option<(i64,)> = sqlx::query_as(
        "SELECT v.id FROM baseline_versions v JOIN tenants t ON t.id = $3
         JOIN baselines b ON b.id = v.baseline_id AND b.workspace_id = t.workspace_id
         WHERE v.baseline_id = $1 AND v.version = $2",
    )
    .bind(baseline)
    .bind(version)
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((version_id,)) = version_id else {
        return Ok(Some(Vec::new()));
    };
    let items = items_of(&mut conn, version_id).await?;
    Ok(Some(
        items.into_iter().filter(|i| nos.contains(&i.no)).collect(),
    ))
}
