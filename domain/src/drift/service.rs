//! Drift, stored and read: computed inside the inventory sync's snapshot
//! transaction against the tenant's previous published snapshot; read by
//! the tenant page's card and the history page (published entries only).

use super::{
    CARD_ENTRIES, ChangeKind, DriftCard, DriftEntryView, DriftFilter, DriftHistory, PolicyVersion,
    SettingDelta, changes,
};
use crate::access::{self, Actor};
use crate::error::{AppError, AppResult};
use crate::ids::{InventoryItemId, RunId, SnapshotId, TenantId};
use crate::inventory::InventoryItem;
use crate::rbac::Capability;
use crate::runs::sql::published;
use crate::services::Services;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// Entries per history page.
const PAGE: i64 = 50;
/// Drift entries per insert statement.
const ENTRIES_PER_INSERT: usize = 200;

fn settings_map(raw: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
    raw.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

fn is_policy(kind: &str) -> bool {
    matches!(kind, "device_configuration" | "compliance_policy")
}

/// Compares the snapshot being saved (`items`) with the tenant's previous
/// published snapshot and writes the change set on `conn` (the snapshot's
/// own transaction). Answers how many entries were written; none for a
/// tenant's first snapshot.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    tenant: TenantId,
    snapshot: i64,
    run: RunId,
    attempt: i64,
    items: &[InventoryItem],
    now: i64,
) -> AppResult<usize> {
    let previous: Option<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id, t.workspace_id FROM inventory_snapshots s JOIN tenants t ON t.id = s.tenant_id
         WHERE s.tenant_id = $1 AND s.id <> $2 AND {} ORDER BY s.id DESC LIMIT 1",
        published("s")
    )))
    .bind(tenant.0)
    .bind(snapshot)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((previous, workspace)) = previous else {
        return Ok(0);
    };
    let rows: Vec<(i64, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, kind, external_id, display_name, settings FROM inventory_items
         WHERE snapshot_id = $1 AND kind IN ('device_configuration', 'compliance_policy')",
    )
    .bind(previous)
    .fetch_all(&mut *conn)
    .await?;
    let mut before_ids: HashMap<(String, String), i64> = HashMap::with_capacity(rows.len());
    let before: Vec<PolicyVersion> = rows
        .into_iter()
        .map(|(id, kind, external_id, display_name, settings)| {
            before_ids.insert((kind.clone(), external_id.clone()), id);
            PolicyVersion {
                settings: settings_map(settings.as_deref()),
                kind,
                external_id,
                display_name,
            }
        })
        .collect();
    let after: Vec<PolicyVersion> = items
        .iter()
        .filter(|i| is_policy(i.kind))
        .map(|i| PolicyVersion {
            kind: i.kind.to_string(),
            external_id: i.external_id.clone(),
            display_name: i.display_name.clone(),
            settings: settings_map(i.settings.as_deref()),
        })
        .collect();
    let found = changes(&before, &after);
    // Many entries per statement, like the snapshot's items.
    for chunk in found.chunks(ENTRIES_PER_INSERT) {
        let sql = format!(
            "INSERT INTO drift_entries (workspace_id, tenant_id, snapshot_id, previous_snapshot_id, run_id, attempt,
                change, kind, external_id, display_name, search_name, before_item_id, settings, detected_at)
             VALUES {}",
            crate::store::value_rows(chunk.len(), 14)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in chunk {
            let before_item = match c.change {
                ChangeKind::Added => None,
                _ => before_ids
                    .get(&(c.kind.clone(), c.external_id.clone()))
                    .copied(),
            };
            let settings = serde_json::to_string(&c.settings).map_err(|_| AppError::Internal)?;
            q = q
                .bind(workspace)
                .bind(tenant.0)
                .bind(snapshot)
                .bind(previous)
                .bind(run.0)
                .bind(attempt)
                .bind(c.change.as_str())
                .bind(c.kind.clone())
                .bind(c.external_id.clone())
                .bind(c.display_name.clone())
                .bind(c.display_name.to_lowercase())
                .bind(before_item)
                .bind(settings)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(found.len())
}

const COLUMNS: &str =
    "d.id, d.change, d.kind, d.external_id, d.display_name, d.settings, d.detected_at,
    d.run_id, d.snapshot_id, d.previous_snapshot_id, d.before_item_id";

fn entry_of(row: &sqlx::any::AnyRow) -> AppResult<DriftEntryView> {
    let kind: String = row.try_get("kind")?;
    Ok(DriftEntryView {
        id: row.try_get("id")?,
        change: ChangeKind::parse(&row.try_get::<String, _>("change")?)
            .ok_or(AppError::Internal)?,
        kind_label: crate::inventory::PolicyKind::parse(&kind)
            .map_or("Policy", |k| k.label())
            .to_string(),
        external_id: row.try_get("external_id")?,
        display_name: row.try_get("display_name")?,
        settings: serde_json::from_str::<Vec<SettingDelta>>(&row.try_get::<String, _>("settings")?)
            .unwrap_or_default(),
        detected_at: row.try_get("detected_at")?,
        run: RunId(row.try_get("run_id")?),
        snapshot: SnapshotId(row.try_get("snapshot_id")?),
        previous_snapshot: SnapshotId(row.try_get("previous_snapshot_id")?),
        before_item: row
            .try_get::<Option<i64>, _>("before_item_id")?
            .map(InventoryItemId),
    })
}

/// The tenant page's card: what the latest published sync found.
pub async fn card(svc: &Services, actor: &Actor, tenant: TenantId) -> AppResult<DriftCard> {
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    let can_restore = access.workspace.role().can(Capability::RestoreExecute);
    let mut conn = svc.store.read().await?;
    let latest: Option<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id, s.taken_at FROM inventory_snapshots s WHERE s.tenant_id = $1 AND {} ORDER BY s.id DESC LIMIT 1",
        published("s")
    )))
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((snapshot, taken_at)) = latest else {
        return Ok(DriftCard {
            tenant,
            synced_at: None,
            compared: false,
            added: 0,
            removed: 0,
            changed: 0,
            entries: Vec::new(),
            can_restore,
        });
    };
    let (earlier,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM inventory_snapshots s WHERE s.tenant_id = $1 AND s.id < $2 AND {}",
        published("s")
    )))
    .bind(tenant.0)
    .bind(snapshot)
    .fetch_one(&mut *conn)
    .await?;
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT change, COUNT(*) FROM drift_entries WHERE snapshot_id = $1 GROUP BY change",
    )
    .bind(snapshot)
    .fetch_all(&mut *conn)
    .await?;
    let count = |c: ChangeKind| counts.iter().find(|x| x.0 == c.as_str()).map_or(0, |x| x.1);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM drift_entries d WHERE d.snapshot_id = $1 ORDER BY d.id LIMIT {CARD_ENTRIES}"
    )))
    .bind(snapshot)
    .fetch_all(&mut *conn)
    .await?;
    Ok(DriftCard {
        tenant,
        synced_at: Some(taken_at),
        compared: earlier > 0,
        added: count(ChangeKind::Added),
        removed: count(ChangeKind::Removed),
        changed: count(ChangeKind::Changed),
        entries: rows.iter().map(entry_of).collect::<AppResult<_>>()?,
        can_restore,
    })
}

/// The history page: published changes, newest first, filtered, 50 a page.
pub async fn history(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    query: &str,
) -> AppResult<DriftHistory> {
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    let filter = DriftFilter::parse(query)?;
    let mut conn = svc.store.read().await?;
    let (tenant_name,): (String,) =
        sqlx::query_as("SELECT display_name FROM tenants WHERE id = $1")
            .bind(tenant.0)
            .fetch_one(&mut *conn)
            .await?;
    let mut sql = format!(
        "SELECT {COLUMNS} FROM drift_entries d WHERE d.tenant_id = $1 AND {}",
        published("d")
    );
    let mut ints: Vec<(usize, i64)> = Vec::new();
    let mut texts: Vec<(usize, String)> = Vec::new();
    let mut n = 1;
    if let Some(c) = filter.change {
        sql.push_str(&format!(" AND d.change = '{}'", c.as_str()));
    }
    if let Some(k) = &filter.kind {
        n += 1;
        sql.push_str(&format!(" AND d.kind = ${n}"));
        texts.push((n, k.clone()));
    }
    if let Some(p) = &filter.policy {
        n += 1;
        // A plain substring: LIKE's wildcards in the text are escaped.
        let escaped = p
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        sql.push_str(&format!(" AND d.search_name LIKE ${n} ESCAPE '\\'"));
        texts.push((n, format!("%{escaped}%")));
    }
    if let Some(d) = filter.days {
        n += 1;
        sql.push_str(&format!(" AND d.detected_at >= ${n}"));
        ints.push((n, svc.now() - d * 86_400_000));
    }
    if let Some((at, id)) = filter.before {
        sql.push_str(&format!(
            " AND (d.detected_at < ${} OR (d.detected_at = ${} AND d.id < ${}))",
            n + 1,
            n + 2,
            n + 3
        ));
        ints.push((n + 1, at));
        ints.push((n + 2, at));
        ints.push((n + 3, id));
        n += 3;
    }
    sql.push_str(&format!(
        " ORDER BY d.detected_at DESC, d.id DESC LIMIT {}",
        PAGE + 1
    ));
    // Bind in parameter order.
    let mut binds: Vec<(usize, Result<i64, String>)> = ints
        .into_iter()
        .map(|(i, v)| (i, Ok(v)))
        .chain(texts.into_iter().map(|(i, v)| (i, Err(v))))
        .collect();
    binds.sort_by_key(|b| b.0);
    debug_assert_eq!(binds.len() + 1, n);
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0);
    for (_, b) in binds {
        q = match b {
            Ok(v) => q.bind(v),
            Err(t) => q.bind(t),
        };
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let mut entries: Vec<DriftEntryView> = rows.iter().map(entry_of).collect::<AppResult<_>>()?;
    let next = if entries.len() as i64 > PAGE {
        entries.truncate(PAGE as usize);
        entries
            .last()
            .map(|e| filter.to_query(Some((e.detected_at, e.id))))
    } else {
        None
    };
    Ok(DriftHistory {
        tenant,
        tenant_name,
        filter,
        entries,
        next,
        can_restore: access.workspace.role().can(Capability::RestoreExecute),
    })
}
