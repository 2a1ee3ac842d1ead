//! What provider operations store: verification reports, inventory and
//! compliance snapshots, groups and role definitions. Rows hold fields
//! Tenantry picked and bounded, never a provider payload.

use super::super::{Check, VerificationReport};
use super::reads::{DirectoryTable, latest_published_run};
use crate::error::{AppError, AppResult};
use crate::ids::{ProviderConnectionId, RunId, TenantId};
use crate::runs::model::RunOutcome;
use crate::runs::sql::{finished, published};
use crate::services::Services;
use serde_json::Value;

pub const PAGE_SIZE: i64 = 50;

/// A string field of a Graph object, trimmed to a bounded length.
pub fn text(v: &Value, key: &str) -> String {
    let mut s = v
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    if s.chars().count() > 200 {
        s = s.chars().take(199).collect::<String>() + "…";
    }
    s
}

pub use crate::inventory::InventoryItem;

/// The platform a Graph `@odata.type` names.
pub fn platform_of(odata_type: &str) -> &'static str {
    let t = odata_type.to_ascii_lowercase();
    if t.contains("windows") {
        "Windows"
    } else if t.contains("ios") {
        "iOS"
    } else if t.contains("macos") {
        "macOS"
    } else if t.contains("android") {
        "Android"
    } else {
        "Other"
    }
}

/// A policy object as an inventory row, keeping at most 100 scalar settings.
pub fn policy_item(kind: &'static str, v: &Value) -> Option<InventoryItem> {
    let id = text(v, "id");
    if id.is_empty() {
        return None;
    }
    let odata = text(v, "@odata.type");
    let settings: serde_json::Map<String, Value> = v
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, val)| {
                    !matches!(
                        k.as_str(),
                        "id" | "createdDateTime" | "lastModifiedDateTime" | "version"
                    ) && (val.is_boolean()
                        || val.is_number()
                        || val.as_str().is_some_and(|s| s.len() <= 1000))
                })
                .take(100)
                .map(|(k, val)| (k.clone(), val.clone()))
                .collect()
        })
        .unwrap_or_default();
    Some(InventoryItem {
        kind,
        external_id: id,
        display_name: text(v, "displayName"),
        platform: platform_of(&odata).to_string(),
        detail: text(v, "description"),
        modified: Some(text(v, "lastModifiedDateTime")).filter(|s| !s.is_empty()),
        settings: Some(Value::Object(settings).to_string()),
    })
}

pub fn device_item(v: &Value) -> Option<InventoryItem> {
    let id = text(v, "id");
    if id.is_empty() {
        return None;
    }
    Some(InventoryItem {
        kind: "managed_device",
        external_id: id,
        display_name: text(v, "deviceName"),
        platform: format!("{} {}", text(v, "operatingSystem"), text(v, "osVersion"))
            .trim()
            .to_string(),
        detail: text(v, "userPrincipalName"),
        modified: Some(text(v, "lastSyncDateTime")).filter(|s| !s.is_empty()),
        settings: None,
    })
}

pub async fn save_verification(
    svc: &Services,
    tenant: TenantId,
    run: RunId,
    attempt: i64,
    connection: Option<ProviderConnectionId>,
    outcome: RunOutcome,
    checks: &[Check],
) -> AppResult<()> {
    let report = serde_json::to_string(checks).map_err(|_| AppError::Internal)?;
    let mut tx = svc.store.begin().await?;
    sqlx::query(
        "INSERT INTO verification_reports (tenant_id, run_id, provider_connection_id, checked_at, outcome, report, attempt)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.0)
    .bind(run.0)
    .bind(connection.map(|c| c.0))
    .bind(svc.now())
    .bind(outcome.as_str())
    .bind(report)
    .bind(attempt)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn latest_verification(
    svc: &Services,
    tenant: TenantId,
) -> AppResult<Option<VerificationReport>> {
    let row: Option<(i64, i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT run_id, checked_at, outcome, report FROM verification_reports v
             WHERE tenant_id = $1 AND {} ORDER BY id DESC LIMIT 1",
        finished("v")
    )))
    .bind(tenant.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    Ok(match row {
        Some((run, at, outcome, report)) => Some(VerificationReport {
            run_id: RunId(run),
            checked_at: at,
            outcome: outcome.parse().map_err(|_| AppError::Internal)?,
            checks: serde_json::from_str(&report).map_err(|_| AppError::Internal)?,
        }),
        None => None,
    })
}

/// Stores one inventory snapshot and its items in one transaction.
pub async fn save_inventory(
    svc: &Services,
    tenant: TenantId,
    run: RunId,
    attempt: i64,
    items: &[InventoryItem],
) -> AppResult<i64> {
    let count = |k: &str| items.iter().filter(|i| i.kind == k).count() as i64;
    let mut tx = svc.store.begin().await?;
    let (snapshot,): (i64,) = sqlx::query_as(
        "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices, attempt)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(tenant.0)
    .bind(run.0)
    .bind(svc.now())
    .bind(count("device_configuration"))
    .bind(count("compliance_policy"))
    .bind(count("managed_device"))
    .bind(attempt)
    .fetch_one(&mut **tx)
    .await?;
    // Each item's body stored once; the snapshot holds references.
    crate::inventory::stored::write_items(&mut tx, svc.store.backend(), snapshot, items).await?;
    // What changed since the previous published snapshot, written with this
    // one (published together, or not at all).
    crate::drift::service::record(&mut tx, tenant, snapshot, run, attempt, items, svc.now())
        .await?;
    tx.commit().await?;
    Ok(snapshot)
}

/// Every item of the tenant's newest published inventory snapshot (None:
/// no snapshot yet): the base a re-read of a few policies starts from.
pub async fn latest_items(
    svc: &Services,
    tenant: TenantId,
) -> AppResult<Option<Vec<InventoryItem>>> {
    let mut conn = svc.store.read().await?;
    let latest: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT id FROM inventory_snapshots s WHERE tenant_id = $1 AND {} ORDER BY id DESC LIMIT 1",
        published("s")
    )))
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((snapshot,)) = latest else {
        return Ok(None);
    };
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT kind, external_id, display_name, platform, detail, modified, settings
         FROM inventory_items WHERE snapshot_id = $1 ORDER BY id",
    )
    .bind(snapshot)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(
        rows.into_iter()
            .filter_map(
                |(kind, external_id, display_name, platform, detail, modified, settings)| {
                    let kind = crate::inventory::stored::kind_named(&kind)?;
                    Some(InventoryItem {
                        kind,
                        external_id,
                        display_name,
                        platform,
                        detail,
                        modified,
                        settings,
                    })
                },
            )
            .collect(),
    ))
}

/// One device's compliance state.
#[derive(Debug, Clone)]
pub struct DeviceState {
    pub external_id: String,
    pub device_name: String,
    pub user_principal_name: String,
    pub operating_system: String,
    pub compliance_state: String,
    pub last_sync: Option<String>,
}

/// The compliance states Graph reports, in display order.
pub const COMPLIANCE_STATES: &[&str] = &[
    "compliant",
    "noncompliant",
    "inGracePeriod",
    "unknown",
    "error",
    "conflict",
    "configManager",
];

pub fn device_state(v: &Value) -> Option<DeviceState> {
    let id = text(v, "id");
    if id.is_empty() {
        return None;
    }
    let state = text(v, "complianceState");
    Some(DeviceState {
        external_id: id,
        device_name: text(v, "deviceName"),
        user_principal_name: text(v, "userPrincipalName"),
        operating_system: text(v, "operatingSystem"),
        compliance_state: if COMPLIANCE_STATES.contains(&state.as_str()) {
            state
        } else {
            "unknown".into()
        },
        last_sync: Some(text(v, "lastSyncDateTime")).filter(|s| !s.is_empty()),
    })
}

/// (compliant, noncompliant, in grace period, other)
pub async fn save_compliance(
    svc: &Services,
    tenant: TenantId,
    run: RunId,
    attempt: i64,
    devices: &[DeviceState],
) -> AppResult<(i64, i64, i64, i64)> {
    let n = |s: &str| devices.iter().filter(|d| d.compliance_state == s).count() as i64;
    let (compliant, noncompliant, grace) = (n("compliant"), n("noncompliant"), n("inGracePeriod"));
    let other = devices.len() as i64 - compliant - noncompliant - grace;
    let mut tx = svc.store.begin().await?;
    let (snapshot,): (i64,) = sqlx::query_as(
        "INSERT INTO compliance_snapshots (tenant_id, run_id, taken_at, compliant, noncompliant, in_grace_period, other, attempt)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(tenant.0)
    .bind(run.0)
    .bind(svc.now())
    .bind(compliant)
    .bind(noncompliant)
    .bind(grace)
    .bind(other)
    .bind(attempt)
    .fetch_one(&mut **tx)
    .await?;
    for d in devices {
        sqlx::query(
            "INSERT INTO compliance_devices (snapshot_id, external_id, device_name, search_name, user_principal_name, operating_system, compliance_state, last_sync)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(snapshot)
        .bind(&d.external_id)
        .bind(&d.device_name)
        .bind(format!("{} {}", d.device_name, d.user_principal_name).to_lowercase())
        .bind(&d.user_principal_name)
        .bind(&d.operating_system)
        .bind(&d.compliance_state)
        .bind(&d.last_sync)
        .execute(&mut **tx)
        .await?;
    }
    tx.commit().await?;
    Ok((compliant, noncompliant, grace, other))
}

/// A directory object to keep as the tenant's latest state.
#[derive(Debug, Clone)]
pub struct DirectoryRow {
    pub external_id: String,
    pub display_name: String,
    pub description: String,
    /// Groups: mail; roles: unused.
    pub mail: Option<String>,
    /// Groups: kind label; roles: unused.
    pub kind: String,
    pub flags: (bool, bool),
}

pub fn group_row(v: &Value) -> Option<DirectoryRow> {
    let id = text(v, "id");
    if id.is_empty() {
        return None;
    }
    let unified = v
        .get("groupTypes")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|x| x.as_str() == Some("Unified")));
    let security = v.get("securityEnabled").and_then(Value::as_bool) == Some(true);
    let mail_enabled = v.get("mailEnabled").and_then(Value::as_bool) == Some(true);
    let kind = match (unified, security, mail_enabled) {
        (true, _, _) => "Microsoft 365",
        (false, true, true) => "Mail-enabled security",
        (false, true, false) => "Security",
        (false, false, _) => "Distribution",
    };
    Some(DirectoryRow {
        external_id: id,
        display_name: text(v, "displayName"),
        description: text(v, "description"),
        mail: Some(text(v, "mail")).filter(|m| !m.is_empty()),
        kind: kind.into(),
        flags: (security, mail_enabled),
    })
}

pub fn role_row(v: &Value) -> Option<DirectoryRow> {
    let id = text(v, "id");
    if id.is_empty() {
        return None;
    }
    Some(DirectoryRow {
        external_id: id,
        display_name: text(v, "displayName"),
        description: text(v, "description"),
        mail: None,
        kind: String::new(),
        flags: (
            v.get("isBuiltIn").and_then(Value::as_bool) == Some(true),
            v.get("isEnabled").and_then(Value::as_bool) == Some(true),
        ),
    })
}

/// What a replace changed: (added, updated, removed, total).
pub type ReplaceCounts = (i64, i64, i64, i64);

/// Stores the tenant's groups or role definitions as this attempt read them,
/// in one transaction, and reports the difference from what is published now.
/// They replace the published state only when the run succeeds (with this
/// attempt): until then readers keep seeing the previous sync.
pub async fn replace_directory(
    svc: &Services,
    tenant: TenantId,
    run: RunId,
    attempt: i64,
    table: DirectoryTable,
    rows: &[DirectoryRow],
) -> AppResult<ReplaceCounts> {
    let name = table.name();
    let mut tx = svc.store.begin().await?;
    let existing: Vec<(String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT external_id, display_name, description FROM {name} d
         WHERE tenant_id = $1 AND run_id = ({latest})",
        latest = latest_published_run(name)
    )))
    .bind(tenant.0)
    .fetch_all(&mut **tx)
    .await?;
    let before: std::collections::HashMap<String, (String, String)> = existing
        .into_iter()
        .map(|(id, n, d)| (id, (n, d)))
        .collect();
    let mut added = 0;
    let mut updated = 0;
    for r in rows {
        match before.get(&r.external_id) {
            None => added += 1,
            Some((n, d)) if *n != r.display_name || *d != r.description => updated += 1,
            Some(_) => {}
        }
    }
    let kept: std::collections::HashSet<&str> =
        rows.iter().map(|r| r.external_id.as_str()).collect();
    let removed = before.keys().filter(|k| !kept.contains(k.as_str())).count() as i64;
    // What nobody will read again: runs older than the published one, and
    // this run's earlier attempts (never a later attempt's rows).
    sqlx::query(sqlx::AssertSqlSafe(&*format!(
        "DELETE FROM {name} WHERE tenant_id = $1 AND (
            run_id < COALESCE(({latest}), 0)
            OR (run_id = $2 AND attempt <= $3))",
        latest = latest_published_run(name)
    )))
    .bind(tenant.0)
    .bind(run.0)
    .bind(attempt)
    .execute(&mut **tx)
    .await?;
    let now = svc.now();
    let mut seen = std::collections::HashSet::new();
    for r in rows.iter().filter(|r| seen.insert(r.external_id.clone())) {
        let search = format!(
            "{} {}",
            r.display_name,
            r.mail.as_deref().unwrap_or_default()
        )
        .to_lowercase();
        match table {
            DirectoryTable::Groups => {
                sqlx::query(
                    "INSERT INTO directory_groups (tenant_id, external_id, display_name, search_name, description, mail, group_kind, synced_at, run_id, attempt)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(tenant.0)
                .bind(&r.external_id)
                .bind(&r.display_name)
                .bind(search)
                .bind(&r.description)
                .bind(&r.mail)
                .bind(&r.kind)
                .bind(now)
                .bind(run.0)
                .bind(attempt)
                .execute(&mut **tx)
                .await?;
            }
            DirectoryTable::Roles => {
                sqlx::query(
                    "INSERT INTO role_definitions (tenant_id, external_id, display_name, search_name, description, is_builtin, is_enabled, synced_at, run_id, attempt)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(tenant.0)
                .bind(&r.external_id)
                .bind(&r.display_name)
                .bind(search)
                .bind(&r.description)
                .bind(i64::from(r.flags.0))
                .bind(i64::from(r.flags.1))
                .bind(now)
                .bind(run.0)
                .bind(attempt)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok((added, updated, removed, seen.len() as i64))
}

#[cfg(test)]
mod tests {
    use super::super::reads::like_pattern;
    use super::*;

    #[test]
    fn search_terms_cannot_inject_wildcards() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
        assert_eq!(like_pattern("Sales"), "%sales%");
    }

    #[test]
    fn policies_keep_bounded_scalar_settings_only() {
        let v = serde_json::json!({
            "@odata.type": "#microsoft.graph.iosCompliancePolicy",
            "id": "p1", "displayName": "iOS", "passwordRequired": true,
            "nested": {"x": 1}, "version": 3
        });
        let item = policy_item("compliance_policy", &v).expect("item");
        assert_eq!(item.platform, "iOS");
        let settings: Value =
            serde_json::from_str(item.settings.as_deref().unwrap_or("{}")).unwrap_or_default();
        assert_eq!(settings.get("passwordRequired"), Some(&Value::Bool(true)));
        assert!(settings.get("nested").is_none() && settings.get("id").is_none());
    }
}
