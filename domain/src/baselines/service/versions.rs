//! Capture from a template tenant, versions and their rules, deletion.

use super::super::{BaselineItem, EditItem, EditPage, MAX_ITEMS, Rule, SettingRuleView};
use crate::access::{self, Actor};
use crate::audit::{AuditedTx, Entry};
use crate::drift::shown;
use crate::error::{AppError, AppResult};
use crate::ids::{BaselineId, TenantId, WorkspaceId};
use crate::rbac::Capability;
use crate::services::Services;
use crate::views::AuditAction;
use std::collections::BTreeMap;

use super::common::*;

/// Captures a new baseline from the template tenant's latest published
/// snapshot: every device configuration and compliance policy, each setting
/// *must equal* except the description (text each tenant words its own way).
/// The template tenant's latest published snapshot and its policies as the
/// first version's items (every setting must equal, but the description).
async fn template_items(svc: &Services, template: TenantId) -> AppResult<(i64, Vec<BaselineItem>)> {
    let Some((snapshot, policies)) =
        latest_policies(&mut *svc.store.read().await?, template).await?
    else {
        return Err(AppError::invalid(
            "template",
            "This tenant has no inventory yet: run an inventory sync on it first.",
        ));
    };
    if policies.is_empty() {
        return Err(AppError::invalid(
            "template",
            "This tenant's latest inventory has no policies to capture.",
        ));
    }
    if policies.len() > MAX_ITEMS {
        return Err(AppError::invalid(
            "template",
            format!(
                "This tenant has {} policies; a baseline holds at most {MAX_ITEMS}.",
                policies.len()
            ),
        ));
    }
    let items = policies
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut rules = BTreeMap::new();
            if p.settings.contains_key("description") {
                rules.insert("description".to_string(), Rule::Excluded);
            }
            BaselineItem {
                no: i as i64 + 1,
                kind: p.kind,
                display_name: p.display_name,
                settings: p.settings,
                rules,
            }
        })
        .collect();
    Ok((snapshot, items))
}

pub async fn capture(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    name: &str,
    template: &str,
) -> AppResult<BaselineId> {
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::BaselinesManage,
        AuditAction::BaselineCaptured,
        format!("Baseline {}", name.trim()),
    )
    .await?;
    let name = baseline_name(name)?;
    let template: TenantId = template
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("template", "Choose the template tenant."))?;
    let template_name: Option<(String,)> =
        sqlx::query_as("SELECT display_name FROM tenants WHERE id = $1 AND workspace_id = $2")
            .bind(template.0)
            .bind(access.id().0)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?;
    let Some((template_name,)) = template_name else {
        return Err(AppError::NotFound);
    };
    let (snapshot, items) = template_items(svc, template).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let taken: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM baselines WHERE workspace_id = $1 AND search_name = $2")
            .bind(access.id().0)
            .bind(name.to_lowercase())
            .fetch_optional(&mut **tx)
            .await?;
    if taken.is_some() {
        return Err(AppError::invalid(
            "name",
            "A baseline with this name exists in the workspace: choose another name.",
        ));
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO baselines (workspace_id, name, search_name, current_version, changed_at, created_at, created_by)
         VALUES ($1, $2, $3, 1, $4, $4, $5) RETURNING id",
    )
    .bind(access.id().0)
    .bind(&name)
    .bind(name.to_lowercase())
    .bind(now)
    .bind(actor.user_id.0)
    .fetch_one(&mut **tx)
    .await?;
    let (version_id,): (i64,) = sqlx::query_as(
        "INSERT INTO baseline_versions (baseline_id, version, template_tenant_id, template_name, snapshot_id, note, created_at, created_by)
         VALUES ($1, 1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(id)
    .bind(template.0)
    .bind(&template_name)
    .bind(snapshot)
    .bind(format!("Captured from {template_name}"))
    .bind(now)
    .bind(actor.user_id.0)
    .fetch_one(&mut **tx)
    .await?;
    insert_items(&mut tx, version_id, &items).await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        Some(template),
        AuditAction::BaselineCaptured,
        format!("Baseline {name}"),
        Some(format!(
            "{} policies from {template_name} (snapshot #{snapshot})",
            items.len()
        )),
    ))
    .await?;
    Ok(BaselineId(id))
}

/// Makes version N+1 from the current one changed by `edit`; refused with
/// 409 when the baseline moved past `expected` (someone else edited it).
async fn new_version(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    expected: i64,
    note: String,
    edit: impl FnOnce(&mut Vec<BaselineItem>) -> AppResult<String>,
) -> AppResult<i64> {
    let (access, h) =
        baseline_for_change(svc, actor, baseline, AuditAction::BaselineEdited).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    // The update takes the row first, so two edits queue up here.
    let (version,): (i64,) = sqlx::query_as(
        "UPDATE baselines SET current_version = current_version + 1, changed_at = $2
         WHERE id = $1 RETURNING current_version",
    )
    .bind(baseline.0)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    if version - 1 != expected {
        return Err(AppError::Conflict {
            message: format!(
                "The baseline changed since this page was opened (it is at version {}): reload and edit again.",
                version - 1
            ),
        });
    }
    let (previous_id, template_tenant, template_name, snapshot): (
        i64,
        Option<i64>,
        String,
        Option<i64>,
    ) = sqlx::query_as(
        "SELECT id, template_tenant_id, template_name, snapshot_id FROM baseline_versions
             WHERE baseline_id = $1 AND version = $2",
    )
    .bind(baseline.0)
    .bind(version - 1)
    .fetch_one(&mut **tx)
    .await?;
    let mut items = items_of(&mut tx, previous_id).await?;
    let what = edit(&mut items)?;
    let note = if note.is_empty() { what.clone() } else { note };
    let (version_id,): (i64,) = sqlx::query_as(
        "INSERT INTO baseline_versions (baseline_id, version, template_tenant_id, template_name, snapshot_id, note, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(baseline.0)
    .bind(version)
    .bind(template_tenant)
    .bind(&template_name)
    .bind(snapshot)
    .bind(&note)
    .bind(now)
    .bind(actor.user_id.0)
    .fetch_one(&mut **tx)
    .await?;
    insert_items(&mut tx, version_id, &items).await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::BaselineEdited,
        format!("Baseline {} version {version}", h.name),
        Some(what),
    ))
    .await?;
    Ok(version)
}

/// Sets the rules of one item's settings (each `setting=rule`); a new version.
pub async fn set_rules(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    expected_version: i64,
    item_no: i64,
    rules: &[String],
    note: &str,
) -> AppResult<i64> {
    let note = note_text("note", note, 0)?;
    let mut wanted: Vec<(String, Rule)> = Vec::with_capacity(rules.len());
    for raw in rules {
        let (setting, rule) = raw
            .rsplit_once('=')
            .and_then(|(s, r)| Some((s.to_string(), Rule::parse(r)?)))
            .ok_or_else(|| AppError::invalid("rules", "Choose a rule for each setting."))?;
        wanted.push((setting, rule));
    }
    new_version(svc, actor, baseline, expected_version, note, |items| {
        let item = items.iter_mut().find(|i| i.no == item_no).ok_or_else(|| {
            AppError::invalid("item", "That policy is not in the baseline any more.")
        })?;
        let mut changed = Vec::new();
        for (setting, rule) in wanted {
            // The name is the matching key and ids are bookkeeping: their rule is fixed.
            if !item.settings.contains_key(&setting)
                || setting == "displayName"
                || crate::drift::IGNORED.contains(&setting.as_str())
            {
                return Err(AppError::invalid(
                    "rules",
                    "Choose rules for the policy's own settings.",
                ));
            }
            if item.rule(&setting) != rule {
                changed.push(format!("{setting}: {}", rule.label().to_lowercase()));
            }
            if rule == Rule::MustEqual {
                item.rules.remove(&setting);
            } else {
                item.rules.insert(setting, rule);
            }
        }
        Ok(if changed.is_empty() {
            format!("{}: rules saved unchanged", item.display_name)
        } else {
            format!("{}: {}", item.display_name, changed.join(", "))
        })
    })
    .await
}

/// Drops one policy from the baseline; a new version.
pub async fn drop_item(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    expected_version: i64,
    item_no: i64,
) -> AppResult<i64> {
    new_version(
        svc,
        actor,
        baseline,
        expected_version,
        String::new(),
        |items| {
            let at = items.iter().position(|i| i.no == item_no).ok_or_else(|| {
                AppError::invalid("item", "That policy is not in the baseline any more.")
            })?;
            if items.len() == 1 {
                return Err(AppError::invalid(
                    "item",
                    "A baseline keeps at least one policy: delete the baseline instead.",
                ));
            }
            let gone = items.remove(at);
            Ok(format!("Dropped {}", gone.display_name))
        },
    )
    .await
}

/// Deletes a baseline with its versions, results and acceptances; the
/// typed name confirms it.
pub async fn delete(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    confirm_name: &str,
) -> AppResult<WorkspaceId> {
    let (access, h) =
        baseline_for_change(svc, actor, baseline, AuditAction::BaselineDeleted).await?;
    if confirm_name.trim() != h.name {
        return Err(AppError::invalid(
            "confirm_name",
            "Type the baseline's name exactly as shown to delete it.",
        ));
    }
    let mut tx = AuditedTx::begin(svc, svc.now()).await?;
    sqlx::query("DELETE FROM baselines WHERE id = $1")
        .bind(baseline.0)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::BaselineDeleted,
        format!("Baseline {}", h.name),
        None,
    ))
    .await?;
    Ok(access.id())
}

/// The edit page: the current version's items with each setting's rule.
pub async fn edit_page(svc: &Services, actor: &Actor, baseline: BaselineId) -> AppResult<EditPage> {
    let (_, h) = baseline_access(svc, actor, baseline, Capability::BaselinesManage).await?;
    let items = items_of(&mut *svc.store.read().await?, h.version_id).await?;
    Ok(EditPage {
        id: baseline,
        name: h.name,
        version: h.version,
        items: items
            .into_iter()
            .map(|i| {
                let settings = i
                    .settings
                    .iter()
                    .filter(|(k, _)| {
                        k.as_str() != "displayName" && !crate::drift::IGNORED.contains(&k.as_str())
                    })
                    .map(|(k, v)| SettingRuleView {
                        setting: k.clone(),
                        value: shown(v),
                        rule: i.rule(k),
                    })
                    .collect();
                EditItem {
                    no: i.no,
                    kind: i.kind,
                    display_name: i.display_name,
                    settings,
                }
            })
            .collect(),
    })
}
