//! Baselines, stored and read: capture, versions, rules, assignments,
//! accepted deviations, the alignment matrix, the tenant's alignment, and
//! *bring in line* (a restore per tenant through a bulk start). The compare
//! itself is `super::handler`.

use super::{
    AcceptanceView, AlignItem, AlignPreview, AlignTenant, AssignmentView, BaselineItem,
    BaselinePage, BaselineSummary, BaselinesPage, CellState, CellView, EditItem, EditPage,
    ItemHead, MATRIX_PAGE, MAX_ITEMS, MatrixFilter, MatrixRow, Rule, SettingRuleView, StateCounts,
    TemplateChoice, TenantAlignment, VersionView, item_deltas, match_key, parse_cells, percent,
};
use crate::access::{self, Actor, WorkspaceAccess};
use crate::audit::{AuditedTx, Entry};
use crate::drift::{PolicyVersion, SettingDelta, shown};
use crate::error::{AppError, AppResult};
use crate::ids::{BaselineId, RunId, TagId, TenantId, UserId, WorkspaceId};
use crate::rbac::Capability;
use crate::runs::gate::{Initiator, StartGate, StartRequest};
use crate::runs::model::OperationType;
use crate::runs::service::ClaimedRun;
use crate::runs::sql::published;
use crate::services::Services;
use crate::views::AuditAction;
use serde_json::{Map, Value};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap};

/// An acceptance as read: id, item, note, expiry, by whom, when.
type AcceptanceRow = (i64, i64, String, Option<i64>, Option<String>, i64);

/// Rows per multi-row insert.
const INSERT_BATCH: usize = 200;

/// SQL: baseline `{b}` applies to tenant `{t}` (every tenant, the tenant
/// itself, or one of its tags).
pub(crate) fn assigned(b: &str, t: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM baseline_assignments ba WHERE ba.baseline_id = {b} AND (ba.target_kind = 'all' OR ba.tenant_id = {t}.id OR ba.tag_id IN (SELECT tt.tag_id FROM tenant_tags tt WHERE tt.tenant_id = {t}.id)))"
    )
}

/// SQL: the acceptance of cell (`{r}.baseline_id`, `{r}.tenant_id`,
/// `{i}.item_no`) is in force at `$now_param`.
fn accepted(r: &str, i: &str, now_param: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM baseline_acceptances a WHERE a.baseline_id = {r}.baseline_id AND a.tenant_id = {r}.tenant_id AND a.item_no = {i}.item_no AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > {now_param}))"
    )
}

/// SQL: the id of the latest published comparison of each tenant with
/// baseline `$1`.
fn latest_results() -> String {
    format!(
        "SELECT MAX(r2.id) FROM baseline_results r2 WHERE r2.baseline_id = $1 AND {} GROUP BY r2.tenant_id",
        published("r2")
    )
}

struct Head {
    ws: WorkspaceId,
    name: String,
    version: i64,
    version_id: i64,
}

async fn head(conn: &mut AnyConnection, baseline: BaselineId) -> AppResult<Option<Head>> {
    let row: Option<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT b.workspace_id, b.name, b.current_version, v.id FROM baselines b
         JOIN baseline_versions v ON v.baseline_id = b.id AND v.version = b.current_version
         WHERE b.id = $1",
    )
    .bind(baseline.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(ws, name, version, version_id)| Head {
        ws: WorkspaceId(ws),
        name,
        version,
        version_id,
    }))
}

/// The baseline for a member of its workspace (404 otherwise) holding `capability` (403).
async fn baseline_access(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    capability: Capability,
) -> AppResult<(WorkspaceAccess, Head)> {
    let h = head(&mut *svc.store.read().await?, baseline)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = access::workspace(svc, actor, h.ws, capability).await?;
    Ok((access, h))
}

/// [`baseline_access`] for a change: a 403 is audited.
async fn baseline_for_change(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    action: AuditAction,
) -> AppResult<(WorkspaceAccess, Head)> {
    let h = head(&mut *svc.store.read().await?, baseline)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = access::workspace_for_change(
        svc,
        actor,
        h.ws,
        Capability::BaselinesManage,
        action,
        format!("Baseline {}", h.name),
    )
    .await?;
    Ok((access, h))
}

fn object(raw: &str) -> Map<String, Value> {
    serde_json::from_str::<Value>(raw)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// The items of a baseline version, in item order.
pub(crate) async fn items_of(
    conn: &mut AnyConnection,
    version_id: i64,
) -> AppResult<Vec<BaselineItem>> {
    let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
        "SELECT item_no, kind, display_name, settings, rules FROM baseline_items
         WHERE version_id = $1 ORDER BY item_no",
    )
    .bind(version_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(no, kind, display_name, settings, rules)| BaselineItem {
            no,
            kind,
            display_name,
            settings: object(&settings),
            rules: serde_json::from_str(&rules).unwrap_or_default(),
        })
        .collect())
}

/// The policies of a tenant's latest published snapshot (None: no inventory).
pub(crate) async fn latest_policies(
    conn: &mut AnyConnection,
    tenant: TenantId,
) -> AppResult<Option<(i64, Vec<PolicyVersion>)>> {
    let snapshot: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id FROM inventory_snapshots s WHERE s.tenant_id = $1 AND {} ORDER BY s.id DESC LIMIT 1",
        published("s")
    )))
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((snapshot,)) = snapshot else {
        return Ok(None);
    };
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT kind, external_id, display_name, settings FROM inventory_items
         WHERE snapshot_id = $1 AND kind IN ('device_configuration', 'compliance_policy')
         ORDER BY kind, display_name, id",
    )
    .bind(snapshot)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some((
        snapshot,
        rows.into_iter()
            .map(
                |(kind, external_id, display_name, settings)| PolicyVersion {
                    kind,
                    external_id,
                    display_name,
                    settings: settings.as_deref().map(object).unwrap_or_default(),
                },
            )
            .collect(),
    )))
}

/// Writes a version's items, [`INSERT_BATCH`] per statement.
async fn insert_items(
    conn: &mut AnyConnection,
    version_id: i64,
    items: &[BaselineItem],
) -> AppResult<()> {
    for chunk in items.chunks(INSERT_BATCH) {
        let sql = format!(
            "INSERT INTO baseline_items (version_id, item_no, kind, display_name, settings, rules) VALUES {}",
            crate::store::value_rows(chunk.len(), 6)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for item in chunk {
            q = q
                .bind(version_id)
                .bind(item.no)
                .bind(item.kind.clone())
                .bind(item.display_name.clone())
                .bind(serde_json::to_string(&item.settings).map_err(|_| AppError::Internal)?)
                .bind(serde_json::to_string(&item.rules).map_err(|_| AppError::Internal)?);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

fn baseline_name(raw: &str) -> AppResult<String> {
    Ok(crate::validate::text(
        "name",
        "a name for the baseline",
        raw,
        1,
        80,
        crate::validate::Lines::One,
    )?)
}

fn note_text(field: &'static str, raw: &str, min: usize) -> AppResult<String> {
    Ok(crate::validate::text(
        field,
        "a note that says why",
        raw,
        min,
        500,
        crate::validate::Lines::Many,
    )?)
}

/// Captures a new baseline from the template tenant's latest published
/// snapshot: every device configuration and compliance policy, each setting
/// *must equal* except the description (text each tenant words its own way).
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
    let items: Vec<BaselineItem> = policies
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

/// The latest published comparison of a tenant with a baseline.
struct LatestResult {
    id: i64,
    version: i64,
    compared_at: i64,
    run: i64,
    extras: String,
}

async fn latest_result(
    conn: &mut AnyConnection,
    baseline: BaselineId,
    tenant: TenantId,
) -> AppResult<Option<LatestResult>> {
    let row: Option<(i64, i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.id, r.version, r.compared_at, r.run_id, r.extras FROM baseline_results r
         WHERE r.baseline_id = $1 AND r.tenant_id = $2 AND {} ORDER BY r.id DESC LIMIT 1",
        published("r")
    )))
    .bind(baseline.0)
    .bind(tenant.0)
    .fetch_optional(conn)
    .await?;
    Ok(
        row.map(|(id, version, compared_at, run, extras)| LatestResult {
            id,
            version,
            compared_at,
            run,
            extras,
        }),
    )
}

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

/// `/admin/baselines` for the member's current workspace.
pub async fn list_for_current(svc: &Services, actor: &Actor) -> AppResult<Option<BaselinesPage>> {
    match access::current_workspace_with(svc, actor, Capability::WorkspaceView).await? {
        Some(a) => list(svc, actor, a.id()).await.map(Some),
        None => Ok(None),
    }
}

fn visible_clause(visible_to: Option<UserId>, t: &str) -> String {
    match visible_to {
        Some(u) => format!(
            " AND {t}.id IN (SELECT ta.tenant_id FROM tenant_assignments ta WHERE ta.user_id = {})",
            u.0
        ),
        None => String::new(),
    }
}

/// Every baseline of a workspace with its alignment.
pub async fn list(svc: &Services, actor: &Actor, ws: WorkspaceId) -> AppResult<BaselinesPage> {
    let access = access::workspace(svc, actor, ws, Capability::WorkspaceView).await?;
    let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
    let mut conn = svc.store.read().await?;
    let rows: Vec<(i64, String, i64, i64, String, i64)> = sqlx::query_as(
        "SELECT b.id, b.name, b.current_version,
                (SELECT COUNT(*) FROM baseline_items bi WHERE bi.version_id = v.id),
                v.template_name, b.changed_at
         FROM baselines b JOIN baseline_versions v ON v.baseline_id = b.id AND v.version = b.current_version
         WHERE b.workspace_id = $1 ORDER BY b.search_name, b.id",
    )
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    // Assigned tenants and the latest comparisons' cells, per baseline, in two grouped queries.
    let assigned_counts: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT b.id, COUNT(t.id) FROM baselines b JOIN tenants t ON t.workspace_id = b.workspace_id
         WHERE b.workspace_id = $1 AND t.status = 'active' AND {}{} GROUP BY b.id",
        assigned("b.id", "t"),
        visible_clause(visible_to, "t")
    )))
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let alignment: Vec<(i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.baseline_id, COUNT(*), CAST(COALESCE(SUM(r.aligned), 0) AS BIGINT), CAST(COALESCE(SUM(r.aligned + r.different + r.missing), 0) AS BIGINT)
         FROM baseline_results r JOIN tenants t ON t.id = r.tenant_id
         JOIN baselines b ON b.id = r.baseline_id
         WHERE r.workspace_id = $1 AND t.status = 'active' AND {} AND {}{}
           AND r.id = (SELECT MAX(r2.id) FROM baseline_results r2 WHERE r2.baseline_id = r.baseline_id AND r2.tenant_id = r.tenant_id AND {})
         GROUP BY r.baseline_id",
        assigned("b.id", "t"),
        published("r"),
        visible_clause(visible_to, "t"),
        published("r2"),
    )))
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let templates: Vec<(i64, String, Option<i64>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id, t.display_name,
                (SELECT s.device_configurations + s.compliance_policies FROM inventory_snapshots s
                 WHERE s.tenant_id = t.id AND {} ORDER BY s.id DESC LIMIT 1)
         FROM tenants t WHERE t.workspace_id = $1 AND t.status = 'active'{}
         ORDER BY t.display_name, t.id",
        published("s"),
        visible_clause(visible_to, "t")
    )))
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let baselines = rows
        .into_iter()
        .map(|(id, name, version, items, template_name, changed_at)| {
            let assigned_tenants = assigned_counts
                .iter()
                .find(|a| a.0 == id)
                .map_or(0, |a| a.1);
            let (compared, aligned, total) = alignment
                .iter()
                .find(|a| a.0 == id)
                .map_or((0, 0, 0), |a| (a.1, a.2, a.3));
            BaselineSummary {
                id: BaselineId(id),
                name,
                version,
                items,
                template_name,
                assigned_tenants,
                compared_tenants: compared,
                aligned_percent: percent(aligned, total),
                changed_at,
            }
        })
        .collect();
    Ok(BaselinesPage {
        workspace: ws,
        can_manage: access.require(Capability::BaselinesManage).is_ok(),
        baselines,
        templates: templates
            .into_iter()
            .map(|(id, name, policies)| TemplateChoice {
                tenant: TenantId(id),
                name,
                policies,
            })
            .collect(),
    })
}

/// The tenants of the matrix: assigned, active, visible, in the tag; by name.
async fn matrix_tenants(
    conn: &mut AnyConnection,
    baseline: BaselineId,
    ws: WorkspaceId,
    visible_to: Option<UserId>,
    tag: Option<TagId>,
) -> AppResult<Vec<(i64, String)>> {
    let tag_clause = match tag {
        Some(g) => format!(
            " AND t.id IN (SELECT tt2.tenant_id FROM tenant_tags tt2 WHERE tt2.tag_id = {})",
            g.0
        ),
        None => String::new(),
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id, t.display_name FROM tenants t
         WHERE t.workspace_id = $2 AND t.status = 'active' AND {}{}{}
         ORDER BY LOWER(t.display_name), t.id",
        assigned("$1", "t"),
        visible_clause(visible_to, "t"),
        tag_clause
    )))
    .bind(baseline.0)
    .bind(ws.0)
    .fetch_all(conn)
    .await?)
}

/// Every cell of the latest published comparisons with `baseline`, with
/// acceptances in force at `now` laid over: (tenant, item) → state.
async fn matrix_cells(
    conn: &mut AnyConnection,
    baseline: BaselineId,
    now: i64,
) -> AppResult<(
    HashMap<(i64, i64), CellState>,
    HashMap<i64, (i64, i64, i64, i64)>,
)> {
    let results: Vec<(i64, i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.tenant_id, r.version, r.compared_at, r.run_id, r.extras FROM baseline_results r
             WHERE r.id IN ({})",
        latest_results()
    )))
    .bind(baseline.0)
    .fetch_all(&mut *conn)
    .await?;
    let cells: Vec<(i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.tenant_id, i.item_no,
                CASE WHEN i.state <> 'aligned' AND {} THEN 'accepted' ELSE i.state END
         FROM baseline_result_items i JOIN baseline_results r ON r.id = i.result_id
         WHERE r.id IN ({})",
        accepted("r", "i", "$2"),
        latest_results()
    )))
    .bind(baseline.0)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let states = cells
        .into_iter()
        .filter_map(|(t, no, s)| Some(((t, no), CellState::parse(&s)?)))
        .collect();
    let heads = results
        .into_iter()
        .map(|(t, version, at, run, extras)| {
            let extras = serde_json::from_str::<Vec<String>>(&extras).map_or(0, |e| e.len() as i64);
            (t, (version, at, run, extras))
        })
        .collect();
    Ok((states, heads))
}

/// The baseline's page: the alignment matrix (tenants × items, filtered by
/// tag and state, 50 tenants a page), counts per row and per column (over
/// every tenant the filter keeps), versions and assignments.
pub async fn page(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    query: &str,
) -> AppResult<BaselinePage> {
    let (access, h) = baseline_access(svc, actor, baseline, Capability::WorkspaceView).await?;
    let filter = MatrixFilter::parse(query)?;
    let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
    let mut conn = svc.store.read().await?;
    if let Some(tag) = filter.tag {
        let ok: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM tags WHERE id = $1 AND workspace_id = $2")
                .bind(tag.0)
                .bind(h.ws.0)
                .fetch_optional(&mut *conn)
                .await?;
        if ok.is_none() {
            return Err(AppError::NotFound);
        }
    }
    let items = items_of(&mut conn, h.version_id).await?;
    let tenants = matrix_tenants(&mut conn, baseline, h.ws, visible_to, filter.tag).await?;
    let (states, heads) = matrix_cells(&mut conn, baseline, svc.now()).await?;
    let aligning = super::aligning::cells(
        &mut conn,
        baseline,
        h.ws,
        &heads.iter().map(|(t, h)| (*t, h.1)).collect(),
        svc.now(),
    )
    .await?;
    let mut columns = vec![StateCounts::default(); items.len()];
    let mut totals = StateCounts::default();
    let mut kept: Vec<MatrixRow> = Vec::new();
    for (t, name) in tenants {
        let cells: Vec<CellState> = items
            .iter()
            .map(|i| {
                states
                    .get(&(t, i.no))
                    .copied()
                    .unwrap_or(CellState::NotCompared)
            })
            .collect();
        if let Some(s) = filter.state
            && !cells.contains(&s)
        {
            continue;
        }
        let mut counts = StateCounts::default();
        for (c, col) in cells.iter().zip(columns.iter_mut()) {
            counts.add(*c, 1);
            col.add(*c, 1);
            totals.add(*c, 1);
        }
        let head = heads.get(&t);
        kept.push(MatrixRow {
            aligning: items
                .iter()
                .map(|i| aligning.contains(&(t, i.no)))
                .collect(),
            tenant: TenantId(t),
            name,
            compared_at: head.map(|h| h.1),
            compared_version: head.map(|h| h.0),
            run: head.map(|h| RunId(h.2)),
            cells,
            counts,
            extras: head.map_or(0, |h| h.3),
        });
    }
    let total_rows = kept.len() as i64;
    let start = match filter.after {
        Some(after) => kept
            .iter()
            .position(|r| r.tenant == after)
            .map(|p| p + 1)
            .ok_or_else(|| {
                AppError::invalid(
                    "after",
                    "That page position is gone: start from the first page.",
                )
            })?,
        None => 0,
    };
    let mut rows: Vec<MatrixRow> = kept.into_iter().skip(start).take(MATRIX_PAGE + 1).collect();
    let next = (rows.len() > MATRIX_PAGE).then(|| {
        rows.truncate(MATRIX_PAGE);
        filter.to_query(rows.last().map(|r| r.tenant))
    });
    let tags: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM tags WHERE workspace_id = $1 ORDER BY name, id")
            .bind(h.ws.0)
            .fetch_all(&mut *conn)
            .await?;
    let assignments: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT ba.id, ba.target_kind, t.display_name, g.name FROM baseline_assignments ba
         LEFT JOIN tenants t ON t.id = ba.tenant_id LEFT JOIN tags g ON g.id = ba.tag_id
         WHERE ba.baseline_id = $1 ORDER BY ba.id",
    )
    .bind(baseline.0)
    .fetch_all(&mut *conn)
    .await?;
    let versions: Vec<(i64, String, String, i64, Option<String>, i64)> = sqlx::query_as(
        "SELECT v.version, v.note, v.template_name, v.created_at, u.email,
                (SELECT COUNT(*) FROM baseline_items bi WHERE bi.version_id = v.id)
         FROM baseline_versions v LEFT JOIN users u ON u.id = v.created_by
         WHERE v.baseline_id = $1 ORDER BY v.version DESC LIMIT 20",
    )
    .bind(baseline.0)
    .fetch_all(&mut *conn)
    .await?;
    let can_manage = access.require(Capability::BaselinesManage).is_ok();
    let mut targets = Vec::new();
    if can_manage {
        targets.push(("all".to_string(), "Every active tenant".to_string()));
        for (id, name) in &tags {
            targets.push((format!("tag:{id}"), format!("Tag: {name}")));
        }
        let all: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, display_name FROM tenants WHERE workspace_id = $1 AND status = 'active' ORDER BY display_name, id",
        )
        .bind(h.ws.0)
        .fetch_all(&mut *conn)
        .await?;
        for (id, name) in all {
            targets.push((format!("tenant:{id}"), name));
        }
    }
    Ok(BaselinePage {
        id: baseline,
        workspace: h.ws,
        name: h.name,
        version: h.version,
        can_manage,
        can_align: access.require(Capability::RestoreExecute).is_ok(),
        can_compare: access.require(Capability::ProviderRun).is_ok(),
        items: items
            .into_iter()
            .map(|i| ItemHead {
                no: i.no,
                kind: i.kind,
                display_name: i.display_name,
            })
            .collect(),
        rows,
        columns,
        totals,
        tenants: total_rows,
        filter,
        next,
        tags: tags.into_iter().map(|(id, n)| (TagId(id), n)).collect(),
        assignments: assignments
            .into_iter()
            .map(|(id, kind, tenant, tag)| AssignmentView {
                id,
                label: match kind.as_str() {
                    "all" => "Every active tenant".to_string(),
                    "tag" => format!("Tag: {}", tag.unwrap_or_default()),
                    _ => tenant.unwrap_or_default(),
                },
            })
            .collect(),
        targets,
        versions: versions
            .into_iter()
            .map(
                |(version, note, template_name, created_at, by, items)| VersionView {
                    version,
                    note,
                    template_name,
                    items,
                    created_at,
                    created_by: by,
                },
            )
            .collect(),
    })
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

/// One tenant's row of the matrix in full: each item's state, the settings
/// that differ, acceptances, the extra policies.
pub async fn tenant_alignment(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    tenant: TenantId,
) -> AppResult<TenantAlignment> {
    let (access, h) = baseline_access(svc, actor, baseline, Capability::WorkspaceView).await?;
    let t = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    if t.workspace.id() != h.ws {
        return Err(AppError::NotFound);
    }
    let now = svc.now();
    let mut conn = svc.store.read().await?;
    let is_assigned: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id FROM tenants t WHERE t.id = $2 AND {}",
        assigned("$1", "t")
    )))
    .bind(baseline.0)
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    let items = items_of(&mut conn, h.version_id).await?;
    let latest = latest_result(&mut conn, baseline, tenant).await?;
    let mut stored: HashMap<i64, (CellState, String)> = HashMap::new();
    if let Some(l) = &latest {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT item_no, state, settings FROM baseline_result_items WHERE result_id = $1",
        )
        .bind(l.id)
        .fetch_all(&mut *conn)
        .await?;
        for (no, state, settings) in rows {
            if let Some(s) = CellState::parse(&state) {
                stored.insert(no, (s, settings));
            }
        }
    }
    let acceptances: Vec<AcceptanceRow> = sqlx::query_as(
        "SELECT a.id, a.item_no, a.note, a.expires_at, u.email, a.accepted_at
         FROM baseline_acceptances a LEFT JOIN users u ON u.id = a.accepted_by
         WHERE a.baseline_id = $1 AND a.tenant_id = $2 AND a.revoked_at IS NULL
           AND (a.expires_at IS NULL OR a.expires_at > $3)
         ORDER BY a.id DESC",
    )
    .bind(baseline.0)
    .bind(tenant.0)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let aligning = super::aligning::cells(
        &mut conn,
        baseline,
        h.ws,
        &latest
            .as_ref()
            .map(|l| (tenant.0, l.compared_at))
            .into_iter()
            .collect(),
        now,
    )
    .await?;
    let mut counts = StateCounts::default();
    let cells: Vec<CellView> = items
        .into_iter()
        .map(|i| {
            let (compared_state, settings) = match stored.get(&i.no) {
                Some((s, raw)) => (
                    *s,
                    serde_json::from_str::<Vec<SettingDelta>>(raw).unwrap_or_default(),
                ),
                None => (CellState::NotCompared, Vec::new()),
            };
            let acceptance = acceptances
                .iter()
                .find(|a| a.1 == i.no)
                .map(|a| AcceptanceView {
                    id: a.0,
                    note: a.2.clone(),
                    expires_at: a.3,
                    accepted_by: a.4.clone(),
                    accepted_at: a.5,
                });
            let state = if compared_state.deviates() && acceptance.is_some() {
                CellState::Accepted
            } else {
                compared_state
            };
            counts.add(state, 1);
            CellView {
                aligning: aligning.contains(&(tenant.0, i.no)),
                no: i.no,
                kind: i.kind,
                display_name: i.display_name,
                state,
                compared_state,
                settings,
                acceptance: acceptance.filter(|_| compared_state.deviates()),
            }
        })
        .collect();
    Ok(TenantAlignment {
        baseline,
        baseline_name: h.name,
        version: h.version,
        tenant,
        tenant_name: t.tenant.display_name,
        assigned: is_assigned.is_some(),
        compared_at: latest.as_ref().map(|l| l.compared_at),
        compared_version: latest.as_ref().map(|l| l.version),
        run: latest.as_ref().map(|l| RunId(l.run)),
        cells,
        counts,
        extras: latest
            .as_ref()
            .and_then(|l| serde_json::from_str(&l.extras).ok())
            .unwrap_or_default(),
        can_manage: access.require(Capability::BaselinesManage).is_ok(),
        can_align: access.require(Capability::RestoreExecute).is_ok(),
        can_compare: access.require(Capability::ProviderRun).is_ok(),
    })
}

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
    let aligning = super::aligning::cells(
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
                    crate::restore::PreviewAction::Create,
                    crate::restore::diff(&desired, &Map::new()),
                ),
                Some(p) => {
                    let mut desired = desired;
                    for k in item.exist_only() {
                        if p.settings.get(&k).is_some_and(|v| !v.is_null()) {
                            desired.remove(&k);
                        }
                    }
                    let changes = crate::restore::diff(&desired, &p.settings);
                    if changes.is_empty() {
                        (crate::restore::PreviewAction::Unchanged, changes)
                    } else {
                        (crate::restore::PreviewAction::Update, changes)
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
        let blocked = StartGate::readiness(svc, actor, tenant, &[OperationType::RestoreExecute])
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
        OperationType::RestoreExecute,
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

/// Whether any baseline applies to the tenant.
async fn has_baseline(conn: &mut AnyConnection, tenant: TenantId) -> AppResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT b.id FROM baselines b JOIN tenants t ON t.workspace_id = b.workspace_id
         WHERE t.id = $1 AND t.status = 'active' AND {} LIMIT 1",
        assigned("b.id", "t")
    )))
    .bind(tenant.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Starts a compare of `tenant` as the system.
async fn start_compare(svc: &Services, tenant: TenantId) -> AppResult<()> {
    StartGate::start(
        svc,
        Initiator::System,
        StartRequest {
            tenant,
            op_type: OperationType::BaselineCompare,
            connection: None,
            args: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}

/// After a successful inventory sync of a tenant a baseline applies to:
/// compare it (as the system). What this misses, [`compare_due`] catches.
pub async fn after_run(svc: &Services, run: &ClaimedRun) {
    if run.op_type != OperationType::InventorySync {
        return;
    }
    let Some(tenant) = run.tenant_id else {
        return;
    };
    let result = async {
        let mut conn = svc.store.read().await?;
        let ok: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM operation_runs WHERE id = $1 AND outcome IN ('succeeded', 'partially_succeeded')",
        )
        .bind(run.id.0)
        .fetch_optional(&mut *conn)
        .await?;
        if ok.is_none() || !has_baseline(&mut conn, tenant).await? {
            return Ok(());
        }
        drop(conn);
        start_compare(svc, tenant).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, tenant = tenant.0, "baseline compare after inventory not started");
    }
}

/// Tenants a baseline applies to whose newest published snapshot, or whose
/// baselines (a new version, an assignment), changed after their last
/// compare was started: each gets a compare as the system. Catches what
/// the after-run hook missed (a crash, a busy scope) and edits.
pub async fn compare_due(svc: &Services) -> AppResult<u64> {
    let due: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id FROM tenants t
         WHERE t.status = 'active'
           AND EXISTS (SELECT 1 FROM baselines b WHERE b.workspace_id = t.workspace_id AND {assigned_b})
           AND EXISTS (SELECT 1 FROM inventory_snapshots s WHERE s.tenant_id = t.id AND {pub_s})
           AND COALESCE((SELECT MAX(r.created_at) FROM operation_runs r WHERE r.tenant_id = t.id AND r.op_type = 'baseline_compare'), 0)
               < (SELECT MAX(x.at) FROM (
                    SELECT pr.completed_at AS at FROM inventory_snapshots s2 JOIN operation_runs pr ON pr.id = s2.run_id
                    WHERE s2.tenant_id = t.id AND {pub_s2}
                    UNION ALL
                    SELECT b2.changed_at AS at FROM baselines b2 WHERE b2.workspace_id = t.workspace_id AND {assigned_b2}
                  ) x)
         ORDER BY t.id LIMIT 500",
        assigned_b = assigned("b.id", "t"),
        assigned_b2 = assigned("b2.id", "t"),
        pub_s = published("s"),
        pub_s2 = published("s2"),
    )))
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut started = 0;
    for (tenant,) in due {
        match start_compare(svc, TenantId(tenant)).await {
            Ok(()) => started += 1,
            Err(e) => tracing::warn!(error = %e, tenant, "baseline compare not started"),
        }
    }
    Ok(started)
}

/// Fleet alignment per tenant: aligned and compared cells of the latest
/// published comparison with each baseline that applies to it now.
pub(crate) async fn alignment_by_tenant(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
) -> AppResult<HashMap<i64, (i64, i64)>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.tenant_id, CAST(COALESCE(SUM(r.aligned), 0) AS BIGINT), CAST(COALESCE(SUM(r.aligned + r.different + r.missing), 0) AS BIGINT)
         FROM baseline_results r JOIN tenants t ON t.id = r.tenant_id JOIN baselines b ON b.id = r.baseline_id
         WHERE r.workspace_id = $1 AND {} AND r.id IN (
             SELECT MAX(r2.id) FROM baseline_results r2 WHERE r2.workspace_id = $1 AND {} GROUP BY r2.tenant_id, r2.baseline_id)
         GROUP BY r.tenant_id",
        assigned("b.id", "t"),
        published("r2"),
    )))
    .bind(ws.0)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(t, a, n)| (t, (a, n))).collect())
}

/// *Compare now*: a bulk start of `baseline_compare` on every tenant the
/// baseline applies to that the member may see.
pub async fn compare_now(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
) -> AppResult<crate::schedules::BulkView> {
    let h = head(&mut *svc.store.read().await?, baseline)
        .await?
        .ok_or(AppError::NotFound)?;
    let access = access::workspace_for_change(
        svc,
        actor,
        h.ws,
        SPEC_CAPABILITY,
        AuditAction::BulkStarted,
        format!("Baseline compare of {}", h.name),
    )
    .await?;
    let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
    let mut conn = svc.store.read().await?;
    let assigned_tenants = matrix_tenants(&mut conn, baseline, h.ws, visible_to, None).await?;
    if assigned_tenants.is_empty() {
        return Err(AppError::invalid(
            "baseline",
            "The baseline applies to no active tenant you may see: assign it first.",
        ));
    }
    // A comparison reads the latest inventory: tenants without one wait for their first sync.
    let synced: std::collections::HashSet<i64> =
        sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!(
            "SELECT t.id FROM tenants t WHERE t.workspace_id = $1
           AND EXISTS (SELECT 1 FROM inventory_snapshots s WHERE s.tenant_id = t.id AND {})",
            published("s")
        )))
        .bind(h.ws.0)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
    drop(conn);
    let tenants: Vec<TenantId> = assigned_tenants
        .into_iter()
        .filter(|t| synced.contains(&t.0))
        .map(|t| TenantId(t.0))
        .collect();
    if tenants.is_empty() {
        return Err(AppError::invalid(
            "baseline",
            "None of the tenants this baseline applies to has an inventory yet: run an inventory sync first.",
        ));
    }
    crate::schedules::bulk::start_admitted(
        svc,
        actor,
        &access,
        OperationType::BaselineCompare,
        tenants,
        format!("baseline {}", h.name),
        serde_json::json!({}),
    )
    .await
}

const SPEC_CAPABILITY: Capability = super::SPEC.capability;
