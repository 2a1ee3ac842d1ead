//! What the baseline rooms share: access, the stored items, SQL pieces.

use super::super::BaselineItem;
use crate::access::{self, Actor, WorkspaceAccess};
use crate::drift::PolicyVersion;
use crate::error::{AppError, AppResult};
use crate::ids::{BaselineId, TenantId, UserId, WorkspaceId};
use crate::rbac::Capability;
use crate::runs::sql::published;
use crate::services::Services;
use crate::views::AuditAction;
use serde_json::{Map, Value};
use sqlx::AnyConnection;

/// An acceptance as read: id, item, note, expiry, by whom, when.
pub(super) type AcceptanceRow = (i64, i64, String, Option<i64>, Option<String>, i64);

/// Rows per multi-row insert.
pub(super) const INSERT_BATCH: usize = 200;

/// SQL: baseline `{b}` applies to tenant `{t}` (every tenant, the tenant
/// itself, or one of its tags).
pub(crate) fn assigned(b: &str, t: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM baseline_assignments ba WHERE ba.baseline_id = {b} AND (ba.target_kind = 'all' OR ba.tenant_id = {t}.id OR ba.tag_id IN (SELECT tt.tag_id FROM tenant_tags tt WHERE tt.tenant_id = {t}.id)))"
    )
}

/// SQL: the acceptance of cell (`{r}.baseline_id`, `{r}.tenant_id`,
/// `{i}.item_no`) is in force at `$now_param`.
pub(super) fn accepted(r: &str, i: &str, now_param: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM baseline_acceptances a WHERE a.baseline_id = {r}.baseline_id AND a.tenant_id = {r}.tenant_id AND a.item_no = {i}.item_no AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > {now_param}))"
    )
}

/// SQL: the id of the latest published comparison of each tenant with
/// baseline `$1`.
pub(super) fn latest_results() -> String {
    format!(
        "SELECT MAX(r2.id) FROM baseline_results r2 WHERE r2.baseline_id = $1 AND {} GROUP BY r2.tenant_id",
        published("r2")
    )
}

pub(super) struct Head {
    pub(super) ws: WorkspaceId,
    pub(super) name: String,
    pub(super) version: i64,
    pub(super) version_id: i64,
}

pub(super) async fn head(
    conn: &mut AnyConnection,
    baseline: BaselineId,
) -> AppResult<Option<Head>> {
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
pub(super) async fn baseline_access(
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
pub(super) async fn baseline_for_change(
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

pub(super) fn object(raw: &str) -> Map<String, Value> {
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
pub(super) async fn insert_items(
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

pub(super) fn baseline_name(raw: &str) -> AppResult<String> {
    Ok(crate::validate::text(
        "name",
        "a name for the baseline",
        raw,
        1,
        80,
        crate::validate::Lines::One,
    )?)
}

pub(super) fn note_text(field: &'static str, raw: &str, min: usize) -> AppResult<String> {
    Ok(crate::validate::text(
        field,
        "a note that says why",
        raw,
        min,
        500,
        crate::validate::Lines::Many,
    )?)
}

/// The latest published comparison of a tenant with a baseline.
pub(super) struct LatestResult {
    pub(super) id: i64,
    pub(super) version: i64,
    pub(super) compared_at: i64,
    pub(super) run: i64,
    pub(super) extras: String,
}

pub(super) async fn latest_result(
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

pub(super) fn visible_clause(visible_to: Option<UserId>, t: &str) -> String {
    match visible_to {
        Some(u) => format!(
            " AND {t}.id IN (SELECT ta.tenant_id FROM tenant_assignments ta WHERE ta.user_id = {})",
            u.0
        ),
        None => String::new(),
    }
}

pub(super) const SPEC_CAPABILITY: Capability = crate::baselines::SPEC.capability;
