//! Inventory items as the database holds them: each distinct item (a *body*)
//! once, keyed by the SHA-256 of its canonical JSON, and one small reference
//! per item per snapshot. A policy unchanged since last night costs a
//! reference row, not its settings again. Reads go through the view
//! `inventory_items` (references joined to bodies, plus rows written before
//! migration 0028 that the legacy sweep has not moved yet), so drift,
//! restore, baselines and review packs read exactly what they read before.

use super::InventoryItem;
use crate::error::{AppError, AppResult};
use crate::services::Services;
use crate::store::Backend;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// Hashes looked up or bodies inserted per statement (10 parameters a body:
/// well under both databases' parameter limits).
const BODIES_PER_STATEMENT: usize = 200;
/// References written per statement (2 or 3 parameters each).
const REFS_PER_STATEMENT: usize = 500;
/// Legacy rows moved per transaction: short enough never to hold a lock for
/// long, large enough that a million rows move in minutes.
pub const LEGACY_BATCH: i64 = 1_000;

/// The item's content address: SHA-256 (hex) of its fields as one JSON array
/// in a fixed order. Settings are hashed as the exact text stored, so two
/// snapshots share a body only when restoring either writes the same bytes.
pub fn body_hash(item: &InventoryItem) -> String {
    let canonical = serde_json::json!([
        item.kind,
        item.external_id,
        item.display_name,
        item.platform,
        item.detail,
        item.modified,
        item.settings,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// What search matches an item by.
pub fn search_name(item: &InventoryItem) -> String {
    format!("{} {}", item.display_name, item.detail).to_lowercase()
}

/// A kind read back from a row, as the static name `InventoryItem` holds.
pub fn kind_named(kind: &str) -> Option<&'static str> {
    match kind {
        "device_configuration" => Some("device_configuration"),
        "compliance_policy" => Some("compliance_policy"),
        "managed_device" => Some("managed_device"),
        _ => None,
    }
}

/// Writes `items` as the snapshot's references, in order (their ids ascend
/// in the order given), storing each body not stored yet. Runs inside the
/// caller's transaction.
pub async fn write_items(
    conn: &mut AnyConnection,
    backend: Backend,
    snapshot: i64,
    items: &[InventoryItem],
) -> AppResult<()> {
    let bodies = body_ids(conn, backend, items).await?;
    for chunk in bodies.chunks(REFS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("($1, ${})", r + 2))
            .collect();
        let sql = format!(
            "INSERT INTO inventory_refs (snapshot_id, body_id) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(snapshot);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The body id of each item, in order; bodies not stored yet are inserted.
/// On PostgreSQL the bodies read are share-locked until the caller commits,
/// so a concurrent sweep cannot delete a body between this read and the
/// reference that keeps it. (Public for the year benchmark, which writes
/// references set-based.)
pub async fn body_ids(
    conn: &mut AnyConnection,
    backend: Backend,
    items: &[InventoryItem],
) -> AppResult<Vec<i64>> {
    let hashes: Vec<String> = items.iter().map(body_hash).collect();
    let mut firsts: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    for (i, h) in hashes.iter().enumerate() {
        firsts.entry(h.as_str()).or_insert(i);
    }
    let distinct: Vec<&str> = {
        let mut d: Vec<(&str, usize)> = firsts.iter().map(|(h, i)| (*h, *i)).collect();
        d.sort_by_key(|(_, i)| *i);
        d.into_iter().map(|(h, _)| h).collect()
    };
    let mut known = lookup(conn, backend, &distinct).await?;
    let missing: Vec<&str> = distinct
        .iter()
        .copied()
        .filter(|h| !known.contains_key(*h))
        .collect();
    for chunk in missing.chunks(BODIES_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO inventory_bodies (hash, kind, external_id, display_name, search_name, platform, detail, modified, settings)
             VALUES {} ON CONFLICT (hash) DO NOTHING RETURNING id, hash",
            crate::store::value_rows(chunk.len(), 9)
        );
        let mut q = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql));
        for h in chunk {
            let item = &items[firsts[h]];
            q = q
                .bind(h.to_string())
                .bind(item.kind)
                .bind(&item.external_id)
                .bind(&item.display_name)
                .bind(search_name(item))
                .bind(&item.platform)
                .bind(&item.detail)
                .bind(&item.modified)
                .bind(&item.settings);
        }
        for (id, hash) in q.fetch_all(&mut *conn).await? {
            known.insert(hash, id);
        }
    }
    // Another writer stored some of them between our read and our insert.
    let raced: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|h| !known.contains_key(*h))
        .collect();
    if !raced.is_empty() {
        known.extend(lookup(conn, backend, &raced).await?);
    }
    hashes
        .iter()
        .map(|h| known.get(h).copied().ok_or(AppError::Internal))
        .collect()
}

async fn lookup(
    conn: &mut AnyConnection,
    backend: Backend,
    hashes: &[&str],
) -> AppResult<HashMap<String, i64>> {
    let lock = match backend {
        Backend::Postgres => " FOR KEY SHARE",
        Backend::Sqlite => "",
    };
    let mut found = HashMap::with_capacity(hashes.len());
    for chunk in hashes.chunks(BODIES_PER_STATEMENT) {
        let sql = format!(
            "SELECT id, hash FROM inventory_bodies WHERE hash IN ({}){lock}",
            crate::store::marks(chunk.len())
        );
        let mut q = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql));
        for h in chunk {
            q = q.bind(h.to_string());
        }
        for (id, hash) in q.fetch_all(&mut *conn).await? {
            found.insert(hash, id);
        }
    }
    Ok(found)
}

type LegacyRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// Moves up to `limit` rows written before migration 0028 into bodies and
/// references, keeping their ids, in one transaction: a crash leaves each row
/// either moved or not, and the next call goes on from there. Returns how
/// many moved (0: nothing left).
pub async fn move_legacy_batch(svc: &Services, limit: i64) -> AppResult<u64> {
    let backend = svc.store.backend();
    let mut tx = svc.store.begin().await?;
    // Two processes never move the same rows (PostgreSQL); SQLite has one writer.
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let rows: Vec<LegacyRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, snapshot_id, kind, external_id, display_name, platform, detail, modified, settings
         FROM inventory_items_legacy ORDER BY id LIMIT $1{lock}"
    )))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut items = Vec::with_capacity(rows.len());
    for (_, _, kind, external_id, display_name, platform, detail, modified, settings) in &rows {
        // The legacy table's CHECK admits only these kinds.
        let kind = kind_named(kind).ok_or(AppError::Internal)?;
        items.push(InventoryItem {
            kind,
            external_id: external_id.clone(),
            display_name: display_name.clone(),
            platform: platform.clone(),
            detail: detail.clone(),
            modified: modified.clone(),
            settings: settings.clone(),
        });
    }
    let bodies = body_ids(&mut tx, backend, &items).await?;
    let pairs: Vec<((i64, i64), i64)> = rows
        .iter()
        .map(|r| (r.0, r.1))
        .zip(bodies.iter().copied())
        .collect();
    for chunk in pairs.chunks(REFS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO inventory_refs (id, snapshot_id, body_id) VALUES {} ON CONFLICT (id) DO NOTHING",
            crate::store::value_rows(chunk.len(), 3)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((id, snapshot), body) in chunk {
            q = q.bind(*id).bind(*snapshot).bind(*body);
        }
        q.execute(&mut **tx).await?;
        svc.failpoint("inventory.legacy_moved")?;
        let sql = format!(
            "DELETE FROM inventory_items_legacy WHERE id IN ({})",
            crate::store::marks(chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((id, _), _) in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut **tx).await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// The reconciler's beat: moves legacy rows for at most about two seconds,
/// so a large backlog drains across beats without holding up other sweeps.
pub async fn sweep_legacy(svc: &Services) -> AppResult<u64> {
    let started = std::time::Instant::now();
    let mut moved = 0;
    loop {
        let n = move_legacy_batch(svc, LEGACY_BATCH).await?;
        moved += n;
        if n == 0 || started.elapsed() > std::time::Duration::from_secs(2) {
            break;
        }
    }
    if moved > 0 {
        let left: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM inventory_items_legacy")
            .fetch_one(&mut *svc.store.read().await?)
            .await?;
        tracing::info!(
            moved,
            left = left.0,
            "inventory: moved stored items to content-addressed bodies"
        );
    }
    Ok(moved)
}
