//! How two versions of a policy's settings compare: the one comparison drift,
//! restore's preview and baselines all read (wasm-safe).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Keys that are an object's type, identity or bookkeeping, not a setting:
/// never compared, never drift.
pub const IGNORED: [&str; 6] = [
    "@odata.type",
    "@odata.context",
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "version",
];

/// A value in a form where equal settings compare equal: arrays are sets
/// (Graph returns lists in no promised order), objects by key.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            items.sort_by_cached_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !IGNORED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), canonical(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether two setting values mean the same.
pub fn same_setting(a: &Value, b: &Value) -> bool {
    canonical(a) == canonical(b)
}

/// A value as the pages show it.
pub fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One setting that differs between two versions of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingDelta {
    pub setting: String,
    /// `None`: the earlier version did not have it.
    pub before: Option<String>,
    /// `None`: the later version does not have it.
    pub after: Option<String>,
}

/// The settings that differ from `before` to `after`, by name; ignored keys
/// and values that only differ in order are not differences.
pub fn setting_deltas(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Vec<SettingDelta> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !IGNORED.contains(&k.as_str()))
        .filter_map(|k| {
            let (b, a) = (before.get(k), after.get(k));
            let differs = match (b, a) {
                (Some(b), Some(a)) => !same_setting(b, a),
                (None, None) => false,
                _ => true,
            };
            differs.then(|| SettingDelta {
                setting: k.clone(),
                before: b.map(shown),
                after: a.map(shown),
            })
        })
        .collect()
}

/// What the preview expects for one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewAction {
    Create,
    Update,
    Unchanged,
}

impl PreviewAction {
    pub fn label(self) -> &'static str {
        match self {
            PreviewAction::Create => "Will be created",
            PreviewAction::Update => "Will be changed",
            PreviewAction::Unchanged => "No change",
        }
    }
}

/// One setting that differs: what the tenant has now, what restore writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingChange {
    pub setting: String,
    /// `None`: the tenant does not have the setting.
    pub current: Option<String>,
    pub restored: String,
}

/// The settings of `desired` that `current` lacks or holds differently: the
/// drift comparison read from current to desired, keeping what restore
/// writes (`@odata.type`, ids and bookkeeping are not settings; a list in
/// another order is the same list).
pub fn diff(desired: &Map<String, Value>, current: &Map<String, Value>) -> Vec<SettingChange> {
    setting_deltas(current, desired)
        .into_iter()
        .filter_map(|d| {
            d.after.map(|restored| SettingChange {
                setting: d.setting,
                current: d.before,
                restored,
            })
        })
        .collect()
}
