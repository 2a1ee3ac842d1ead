//! Drift: what changed in a tenant's policies between two inventory
//! snapshots. Every inventory sync that stores a snapshot compares it with
//! the tenant's previous published snapshot (policies added, removed,
//! changed, and for changed ones each setting before → after) and stores the
//! change set with the run that found it, published by the same rule as the
//! snapshot (the run ended successfully with that attempt).
//!
//! The setting comparison here is the only one: restore's preview diff is
//! built on it too. The views and the comparison are wasm-safe.

use crate::ids::{InventoryItemId, RunId, SnapshotId, TenantId};
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
pub mod service;

pub use crate::inventory::{
    IGNORED, PolicyVersion, SettingDelta, same_setting, setting_deltas, shown,
};

/// What happened to a policy between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 3] = [ChangeKind::Added, ChangeKind::Removed, ChangeKind::Changed];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Added => "Added",
            ChangeKind::Removed => "Removed",
            ChangeKind::Changed => "Changed",
        }
    }
}

/// One change the comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    pub change: ChangeKind,
    pub kind: String,
    pub external_id: String,
    /// The later name (the earlier one for a removed policy).
    pub display_name: String,
    pub settings: Vec<SettingDelta>,
}

/// The change set from `before` to `after`, policies matched by kind and id:
/// removed and changed in the earlier order, then added in the later one.
/// A policy whose settings only differ in ignored keys or order is unchanged.
pub fn changes(before: &[PolicyVersion], after: &[PolicyVersion]) -> Vec<PolicyChange> {
    use std::collections::HashMap;
    let key = |p: &PolicyVersion| (p.kind.clone(), p.external_id.clone());
    let later: HashMap<(String, String), &PolicyVersion> =
        after.iter().map(|p| (key(p), p)).collect();
    let earlier: HashMap<(String, String), &PolicyVersion> =
        before.iter().map(|p| (key(p), p)).collect();
    let mut out = Vec::new();
    for b in before {
        match later.get(&key(b)) {
            None => out.push(PolicyChange {
                change: ChangeKind::Removed,
                kind: b.kind.clone(),
                external_id: b.external_id.clone(),
                display_name: b.display_name.clone(),
                settings: Vec::new(),
            }),
            Some(a) => {
                let mut settings = setting_deltas(&b.settings, &a.settings);
                if b.display_name != a.display_name
                    && !settings.iter().any(|s| s.setting == "displayName")
                {
                    settings.insert(
                        0,
                        SettingDelta {
                            setting: "displayName".into(),
                            before: Some(b.display_name.clone()),
                            after: Some(a.display_name.clone()),
                        },
                    );
                }
                if !settings.is_empty() {
                    out.push(PolicyChange {
                        change: ChangeKind::Changed,
                        kind: a.kind.clone(),
                        external_id: a.external_id.clone(),
                        display_name: a.display_name.clone(),
                        settings,
                    });
                }
            }
        }
    }
    for a in after {
        if !earlier.contains_key(&key(a)) {
            out.push(PolicyChange {
                change: ChangeKind::Added,
                kind: a.kind.clone(),
                external_id: a.external_id.clone(),
                display_name: a.display_name.clone(),
                settings: Vec::new(),
            });
        }
    }
    out
}

/// A stored change, as pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftEntryView {
    pub id: i64,
    pub change: ChangeKind,
    pub kind_label: String,
    pub external_id: String,
    pub display_name: String,
    pub settings: Vec<SettingDelta>,
    pub detected_at: i64,
    pub run: RunId,
    pub snapshot: SnapshotId,
    pub previous_snapshot: SnapshotId,
    /// The policy in the earlier snapshot (removed, changed): restore it from there.
    pub before_item: Option<InventoryItemId>,
}

impl DriftEntryView {
    /// The restore page with the earlier snapshot and this policy chosen
    /// (its preview and typed confirmation do the rest). None for an added
    /// policy: there is no earlier version to bring back.
    pub fn restore_link(&self, tenant: TenantId) -> Option<String> {
        self.before_item.map(|item| {
            format!(
                "/admin/t/{tenant}/restore?snapshot={}&item={item}",
                self.previous_snapshot
            )
        })
    }
}

/// The tenant page's card: the changes the latest sync found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftCard {
    pub tenant: TenantId,
    /// When the latest published snapshot was taken (None: no inventory yet).
    pub synced_at: Option<i64>,
    /// Whether there was an earlier snapshot to compare with.
    pub compared: bool,
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
    /// Newest first, at most [`CARD_ENTRIES`].
    pub entries: Vec<DriftEntryView>,
    pub can_restore: bool,
}

/// Entries the card lists (the history page has the rest).
pub const CARD_ENTRIES: usize = 20;

/// The history page's filter, in its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftFilter {
    pub change: Option<ChangeKind>,
    /// `device_configuration` or `compliance_policy`.
    pub kind: Option<String>,
    /// Part of the policy's name (case-insensitive).
    pub policy: Option<String>,
    /// Only changes found in the last N days.
    pub days: Option<i64>,
    /// Keyset cursor: entries strictly older than (detected_at, id).
    pub before: Option<(i64, i64)>,
}

impl DriftFilter {
    /// Parses `change=&kind=&policy=&days=&before=AT.ID`; unknown keys are
    /// ignored, a bad value is refused with its field.
    pub fn parse(query: &str) -> Result<DriftFilter, crate::AppError> {
        let bad =
            |f: &str| crate::AppError::invalid(f, "This link has a filter value we do not know.");
        let mut f = DriftFilter::default();
        for pair in query.trim_start_matches('?').split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if v.is_empty() {
                continue;
            }
            match k {
                "change" => f.change = Some(ChangeKind::parse(v).ok_or_else(|| bad("change"))?),
                "kind" => {
                    if !matches!(v, "device_configuration" | "compliance_policy") {
                        return Err(bad("kind"));
                    }
                    f.kind = Some(v.to_string());
                }
                "policy" => {
                    let text = decode(v).ok_or_else(|| bad("policy"))?;
                    let text = text.trim();
                    if text.chars().count() > 100 || crate::validate::has_forbidden_control(text) {
                        return Err(bad("policy"));
                    }
                    if !text.is_empty() {
                        f.policy = Some(text.to_string());
                    }
                }
                "days" => {
                    let d: i64 = v.parse().map_err(|_| bad("days"))?;
                    if !(1..=3650).contains(&d) {
                        return Err(bad("days"));
                    }
                    f.days = Some(d);
                }
                "before" => {
                    let (at, id) = v.split_once('.').ok_or_else(|| bad("before"))?;
                    f.before = Some((
                        at.parse().map_err(|_| bad("before"))?,
                        id.parse().map_err(|_| bad("before"))?,
                    ));
                }
                _ => {}
            }
        }
        Ok(f)
    }

    /// The query string of this filter (no cursor unless given).
    pub fn to_query(&self, before: Option<(i64, i64)>) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.change {
            parts.push(format!("change={}", c.as_str()));
        }
        if let Some(k) = &self.kind {
            parts.push(format!("kind={k}"));
        }
        if let Some(p) = &self.policy {
            parts.push(format!("policy={}", encode(p)));
        }
        if let Some(d) = self.days {
            parts.push(format!("days={d}"));
        }
        if let Some((at, id)) = before {
            parts.push(format!("before={at}.{id}"));
        }
        parts.join("&")
    }
}

/// Percent-decoding of a query value (`+` is a space, as forms send it).
fn decode(v: &str) -> Option<String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The history page: a tenant's changes, newest first, filtered and paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftHistory {
    pub tenant: TenantId,
    pub tenant_name: String,
    pub filter: DriftFilter,
    pub entries: Vec<DriftEntryView>,
    /// The next page's query, when there is one.
    pub next: Option<String>,
    pub can_restore: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn policy(id: &str, name: &str, settings: Value) -> PolicyVersion {
        PolicyVersion {
            kind: "device_configuration".into(),
            external_id: id.into(),
            display_name: name.into(),
            settings: settings.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn added_removed_and_changed_policies_with_each_setting() {
        let before = vec![
            policy(
                "a",
                "Baseline",
                json!({"passwordRequired": true, "minLength": 8}),
            ),
            policy("b", "Legacy", json!({})),
        ];
        let after = vec![
            policy(
                "a",
                "Baseline",
                json!({"passwordRequired": false, "minLength": 8, "pinRequired": true}),
            ),
            policy("c", "New", json!({})),
        ];
        let c = changes(&before, &after);
        assert_eq!(c.len(), 3);
        assert_eq!(
            (c[0].change, c[0].external_id.as_str()),
            (ChangeKind::Changed, "a")
        );
        assert_eq!(
            c[0].settings,
            vec![
                SettingDelta {
                    setting: "passwordRequired".into(),
                    before: Some("true".into()),
                    after: Some("false".into())
                },
                SettingDelta {
                    setting: "pinRequired".into(),
                    before: None,
                    after: Some("true".into())
                },
            ]
        );
        assert_eq!(
            (c[1].change, c[1].display_name.as_str()),
            (ChangeKind::Removed, "Legacy")
        );
        assert_eq!(
            (c[2].change, c[2].display_name.as_str()),
            (ChangeKind::Added, "New")
        );
    }

    #[test]
    fn reordered_arrays_and_ignored_fields_are_not_changes() {
        let before = vec![policy(
            "a",
            "P",
            json!({"apps": ["b", "a", {"x": 1, "id": "7"}], "version": 3, "lastModifiedDateTime": "2026-01-01", "@odata.type": "#x"}),
        )];
        let after = vec![policy(
            "a",
            "P",
            json!({"apps": [{"id": "9", "x": 1}, "a", "b"], "version": 4, "lastModifiedDateTime": "2026-02-01", "@odata.type": "#y"}),
        )];
        assert!(changes(&before, &after).is_empty());
        // A real difference inside the array still counts.
        let after = vec![policy("a", "P", json!({"apps": ["a", "c", {"x": 1}]}))];
        let c = changes(&before, &after);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].settings.len(), 1);
        assert_eq!(c[0].settings[0].setting, "apps");
    }

    #[test]
    fn a_rename_is_a_change_and_a_removed_setting_has_no_after() {
        let before = vec![policy("a", "Old name", json!({"k": "v"}))];
        let after = vec![policy("a", "New name", json!({}))];
        let c = changes(&before, &after);
        assert_eq!(
            c[0].settings[0],
            SettingDelta {
                setting: "displayName".into(),
                before: Some("Old name".into()),
                after: Some("New name".into())
            }
        );
        assert_eq!(
            c[0].settings[1],
            SettingDelta {
                setting: "k".into(),
                before: Some("v".into()),
                after: None
            }
        );
    }

    #[test]
    fn the_same_id_in_two_kinds_is_two_policies() {
        let mut cp = policy("a", "P", json!({}));
        cp.kind = "compliance_policy".into();
        let c = changes(&[policy("a", "P", json!({}))], &[cp]);
        assert_eq!(
            c.iter().map(|x| x.change).collect::<Vec<_>>(),
            vec![ChangeKind::Removed, ChangeKind::Added]
        );
    }

    #[test]
    fn the_filter_round_trips_and_refuses_bad_values() {
        let f = DriftFilter::parse(
            "change=changed&kind=compliance_policy&policy=Win+10%20baseline&days=7&before=5.9",
        )
        .unwrap_or_default();
        assert_eq!(f.policy.as_deref(), Some("Win 10 baseline"));
        assert_eq!(f.before, Some((5, 9)));
        assert_eq!(
            f.to_query(f.before),
            "change=changed&kind=compliance_policy&policy=Win+10+baseline&days=7&before=5.9"
        );
        for bad in [
            "change=moved",
            "kind=managed_device",
            "days=0",
            "before=x",
            "policy=%zz",
        ] {
            assert!(DriftFilter::parse(bad).is_err(), "{bad}");
        }
    }
}
