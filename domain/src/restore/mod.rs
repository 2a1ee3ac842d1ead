//! Restore (PRODUCT.md §8): pick policies from a stored inventory snapshot,
//! preview per item what would be created or changed, confirm by typing the
//! tenant's name, and execute through the start gate as `restore_execute`.
//! The view types and the diff are wasm-safe; the page, the start and the
//! writes need the `server` feature.

use crate::ids::{InventoryItemId, RunId, SnapshotId, TenantId};
use serde::{Deserialize, Serialize};
#[cfg(feature = "server")]
use serde_json::{Map, Value};

/// The catalogue entry: a provider write on the pinned connection, for
/// owners and managers, started from the restore page (it names the items).
pub const SPEC: crate::runs::model::OperationSpec = crate::runs::model::OperationSpec {
    capability: crate::rbac::Capability::RestoreExecute,
    ..crate::runs::model::OperationSpec::provider(
        "restore_execute",
        "Restore",
        30,
        crate::runs::model::PROVIDER,
    )
}
.from_own_page();

/// Restore's operation type.
pub const RESTORE_EXECUTE: crate::runs::model::OperationType =
    crate::runs::model::OperationType::registered(&SPEC);

#[cfg(feature = "server")]
pub mod handler;

/// Restore's runtime parts: its handler (a provider write on the pinned
/// connection) and its per-policy results on the run page.
#[cfg(feature = "server")]
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    c.with_handler(
        crate::restore::RESTORE_EXECUTE,
        std::sync::Arc::new(handler::RestoreExecute),
    )
    .with_items(crate::restore::RESTORE_EXECUTE, |svc, run| {
        Box::pin(async move { service::run_items(&svc, run).await })
    });
}
#[cfg(feature = "server")]
mod service;

/// One policy a restore writes when its arguments name another source than
/// a snapshot (a baseline's items: *bring in line*).
#[cfg(feature = "server")]
#[derive(Debug, Clone)]
pub struct DesiredItem {
    pub no: i64,
    pub kind: String,
    pub display_name: String,
    /// Settings that must exist, whatever their value.
    pub exist_only: Vec<String>,
    pub settings: Map<String, Value>,
}

/// The port through which another feature supplies those policies: `None`
/// when the arguments do not name its source. Installed by the composition
/// root (`operations::services`), so restore names no feature that uses it.
#[cfg(feature = "server")]
#[derive(Clone, Copy)]
pub struct DesiredSource(pub DesiredSourceFn);

/// A tenant and the run's arguments in; the policies (or `None`) out.
#[cfg(feature = "server")]
pub type DesiredSourceFn =
    fn(
        crate::services::Services,
        TenantId,
        serde_json::Value,
    ) -> crate::runs::handlers::BoxFuture<crate::error::AppResult<Option<Vec<DesiredItem>>>>;
#[cfg(feature = "server")]
pub use service::{execute, item_results, page};

pub use crate::inventory::{PolicyKind, PreviewAction, SettingChange, diff};

/// At most this many policies per restore run.
pub const MAX_ITEMS: usize = 50;

/// What a restore run did for one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemAction {
    Created,
    Updated,
    Unchanged,
    Failed,
}

impl ItemAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemAction::Created => "created",
            ItemAction::Updated => "updated",
            ItemAction::Unchanged => "unchanged",
            ItemAction::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ItemAction> {
        [
            ItemAction::Created,
            ItemAction::Updated,
            ItemAction::Unchanged,
            ItemAction::Failed,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ItemAction::Created => "Created",
            ItemAction::Updated => "Updated",
            ItemAction::Unchanged => "Already as in the snapshot",
            ItemAction::Failed => "Failed",
        }
    }
}

/// A snapshot to restore from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotChoice {
    pub id: SnapshotId,
    pub run: RunId,
    pub taken_at: i64,
    pub policies: i64,
}

/// A policy of the chosen snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyChoice {
    pub item: InventoryItemId,
    pub kind: PolicyKind,
    pub display_name: String,
    pub platform: String,
    pub modified: Option<String>,
    pub selected: bool,
}

/// The preview of one selected policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewItem {
    pub item: InventoryItemId,
    pub kind: PolicyKind,
    pub display_name: String,
    pub action: PreviewAction,
    pub changes: Vec<SettingChange>,
}

/// The restore page of a tenant: snapshots, the chosen snapshot's policies,
/// and the preview of the selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePage {
    pub tenant: TenantId,
    pub tenant_name: String,
    pub snapshots: Vec<SnapshotChoice>,
    pub chosen: Option<SnapshotChoice>,
    pub policies: Vec<PolicyChoice>,
    /// What the preview compares with: the latest inventory snapshot.
    pub compared_with: Option<SnapshotChoice>,
    pub preview: Vec<PreviewItem>,
    /// Why a restore would not start now (the gate's first blocker), if any.
    pub blocked: Option<crate::runs::ReasonCode>,
    /// What to do about it, with links.
    pub blocked_steps: Vec<crate::runs::next_steps::NextStep>,
}

impl RestorePage {
    /// The selected item ids, as the confirmation form posts them.
    pub fn selected_items(&self) -> String {
        self.preview
            .iter()
            .map(|p| p.item.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The restore page's query: `snapshot=ID&item=ID&item=ID…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreQuery {
    pub snapshot: Option<SnapshotId>,
    pub items: Vec<InventoryItemId>,
}

impl RestoreQuery {
    pub fn parse(query: &str) -> Result<RestoreQuery, crate::AppError> {
        let mut q = RestoreQuery::default();
        let mut items = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "snapshot" if !v.is_empty() => {
                    q.snapshot = Some(v.parse().map(SnapshotId).map_err(|_| {
                        crate::AppError::invalid("snapshot", "Choose a snapshot from the list.")
                    })?);
                }
                "item" => items.push(v),
                _ => {}
            }
        }
        q.items = item_ids("item", items)?;
        Ok(q)
    }
}

/// Policy item ids as a form or address lists them: counted before anything
/// else (at most [`MAX_ITEMS`], duplicates included, so the work never grows
/// with the input), each parsed, duplicates dropped with a set, order kept.
pub fn item_ids<'a>(
    field: &str,
    parts: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<InventoryItemId>, crate::AppError> {
    let parts: Vec<&str> = parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .take(MAX_ITEMS + 1)
        .collect();
    if parts.len() > MAX_ITEMS {
        return Err(crate::AppError::invalid(
            field,
            format!("Choose at most {MAX_ITEMS} policies per restore."),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut ids = Vec::with_capacity(parts.len());
    for part in parts {
        let id: i64 = part
            .parse()
            .map_err(|_| crate::AppError::invalid(field, "Choose policies from the list."))?;
        if seen.insert(id) {
            ids.push(InventoryItemId(id));
        }
    }
    Ok(ids)
}

/// One item's result on a restore run's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    pub kind: PolicyKind,
    pub display_name: String,
    pub action: ItemAction,
    pub detail: String,
}

#[cfg(test)]
mod item_tests {
    use super::*;

    #[test]
    fn item_lists_are_counted_before_any_work() {
        assert_eq!(
            item_ids("items", ["3", "1", "3", " 2 "]),
            Ok(vec![
                InventoryItemId(3),
                InventoryItemId(1),
                InventoryItemId(2)
            ])
        );
        let too_many: Vec<String> = (0..=MAX_ITEMS).map(|_| "7".to_string()).collect();
        assert!(
            item_ids("items", too_many.iter().map(String::as_str)).is_err(),
            "duplicates count too"
        );
        // A huge list is refused after reading MAX_ITEMS + 1 of it.
        let huge = std::iter::repeat_n("1", 10_000_000);
        assert!(item_ids("items", huge).is_err());
        assert!(item_ids("items", ["x"]).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn diff_lists_changed_and_missing_settings_only() {
        let desired = map(json!({"@odata.type": "#x", "a": true, "b": 6, "c": "on"}));
        let current = map(json!({"@odata.type": "#y", "a": true, "b": 8}));
        let d = diff(&desired, &current);
        assert_eq!(
            d,
            vec![
                SettingChange {
                    setting: "b".into(),
                    current: Some("8".into()),
                    restored: "6".into()
                },
                SettingChange {
                    setting: "c".into(),
                    current: None,
                    restored: "on".into()
                },
            ]
        );
        assert!(diff(&desired, &desired).is_empty());
    }

    #[test]
    fn query_parses_dedupes_and_bounds() {
        let q = RestoreQuery::parse("snapshot=3&item=5&item=7&item=5").ok();
        assert_eq!(
            q,
            Some(RestoreQuery {
                snapshot: Some(SnapshotId(3)),
                items: vec![InventoryItemId(5), InventoryItemId(7)]
            })
        );
        assert!(RestoreQuery::parse("item=x").is_err());
        let many: Vec<String> = (0..=MAX_ITEMS).map(|i| format!("item={i}")).collect();
        assert!(RestoreQuery::parse(&many.join("&")).is_err());
    }
}
