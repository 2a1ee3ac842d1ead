//! Baselines: a workspace's standard for its tenants' policies. Captured
//! from one tenant's published inventory snapshot (the *template tenant*),
//! then edited (drop policies, a rule per setting); every edit is a new
//! version. Assigned to every tenant, single tenants or tags. The
//! `baseline_compare` operation compares a tenant's latest snapshot with
//! each baseline assigned to it; the alignment matrix shows the latest
//! published comparison per tenant with accepted deviations laid over it at
//! read time (so an expiry needs no new comparison).
//!
//! Matching: a baseline item is a policy of the template tenant; in another
//! tenant it is the policy of the same kind with the same name (trimmed,
//! case-insensitive) — Graph ids differ between tenants, names are how an
//! MSP's standard is deployed. The views and the comparison are wasm-safe.

use crate::drift::{PolicyVersion, SettingDelta, same_setting, shown};
use crate::ids::{BaselineId, RunId, TagId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[cfg(feature = "server")]
pub mod aligning;
#[cfg(feature = "server")]
pub mod handler;
#[cfg(feature = "server")]
pub mod service;

/// The catalogue entry: database only (the latest published snapshot), one
/// tenant at a time, started by whoever may run provider operations, after
/// every inventory sync by the system, or by schedules and bulk starts.
pub const SPEC: crate::runs::model::OperationSpec = crate::runs::model::OperationSpec {
    key: "baseline_compare",
    label: "Baseline compare",
    scope: crate::runs::model::ScopeKind::Tenant,
    capability: crate::rbac::Capability::ProviderRun,
    expected_duration_ms: 60_000,
    prerequisites: &[crate::runs::model::Prerequisite::TenantActive],
    available: true,
    test_only: false,
    started_from: crate::runs::model::StartedFrom::AnyStartButton,
    requeue_after_lost_lease: true,
    max_attempts: 3,
    max_runtime_ms: crate::runs::model::default_max_runtime_ms(60_000),
    max_queue_wait_ms: crate::runs::model::DEFAULT_MAX_QUEUE_WAIT_MS,
    schedulable: true,
    bulk_startable: true,
};

/// The compare's operation type.
pub const BASELINE_COMPARE: crate::runs::model::OperationType =
    crate::runs::model::OperationType::registered(&SPEC);

/// Baselines' runtime parts: the compare handler, the hook that compares a
/// tenant after each successful inventory sync, and the sweep that catches
/// up what the hook missed (a crash, a busy scope, an edit, an assignment).
#[cfg(feature = "server")]
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    c.with_handler(
        crate::baselines::BASELINE_COMPARE,
        std::sync::Arc::new(handler::BaselineCompare),
    )
    .with_after_run("baseline compare after inventory", |svc, run| {
        Box::pin(async move { service::after_run(&svc, &run).await })
    })
    .with_after_run("re-read after bring in line", |svc, run| {
        Box::pin(async move { aligning::after_run(&svc, &run).await })
    })
    .with_sweep("baseline compares due", |svc| {
        Box::pin(async move { service::compare_due(&svc).await })
    });
}

/// At most this many policies in one baseline.
pub const MAX_ITEMS: usize = 500;
/// Tenants per matrix page.
pub const MATRIX_PAGE: usize = 50;
/// Cells one *bring in line* may name.
pub const MAX_ALIGN_CELLS: usize = 500;

/// How one setting of a baseline item is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The tenant's value must mean the same as the baseline's.
    MustEqual,
    /// The tenant must have the setting, with any value.
    MustExist,
    /// Not compared (names, descriptions, assignments…).
    Excluded,
}

impl Rule {
    pub const ALL: [Rule; 3] = [Rule::MustEqual, Rule::MustExist, Rule::Excluded];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::MustEqual => "must_equal",
            Rule::MustExist => "must_exist",
            Rule::Excluded => "excluded",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Rule::MustEqual => "Must equal",
            Rule::MustExist => "Must exist",
            Rule::Excluded => "Not compared",
        }
    }
}

/// A cell of the matrix: one baseline item in one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellState {
    Aligned,
    Different,
    Missing,
    /// Different or missing, and accepted (until the acceptance expires).
    Accepted,
    /// No published comparison with this item yet.
    NotCompared,
}

impl CellState {
    pub const ALL: [CellState; 5] = [
        CellState::Aligned,
        CellState::Different,
        CellState::Missing,
        CellState::Accepted,
        CellState::NotCompared,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CellState::Aligned => "aligned",
            CellState::Different => "different",
            CellState::Missing => "missing",
            CellState::Accepted => "accepted",
            CellState::NotCompared => "not_compared",
        }
    }

    pub fn parse(s: &str) -> Option<CellState> {
        CellState::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            CellState::Aligned => "Aligned",
            CellState::Different => "Different",
            CellState::Missing => "Missing",
            CellState::Accepted => "Accepted deviation",
            CellState::NotCompared => "Not compared",
        }
    }

    /// The badge class: colour always comes with the label's text.
    pub fn badge(self) -> &'static str {
        match self {
            CellState::Aligned => "badge badge-ok",
            CellState::Different => "badge badge-warn",
            CellState::Missing => "badge badge-bad",
            CellState::Accepted => "badge badge-info",
            CellState::NotCompared => "badge",
        }
    }

    /// Whether *bring in line* can act on it.
    pub fn deviates(self) -> bool {
        matches!(self, CellState::Different | CellState::Missing)
    }
}

/// One policy of a baseline version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineItem {
    /// Stable across versions (accepted deviations name it).
    pub no: i64,
    /// `device_configuration` or `compliance_policy`.
    pub kind: String,
    pub display_name: String,
    pub settings: Map<String, Value>,
    /// Settings without an entry here must equal.
    pub rules: BTreeMap<String, Rule>,
}

impl BaselineItem {
    /// The rule of `setting` (the name is the matching key: not compared).
    pub fn rule(&self, setting: &str) -> Rule {
        if setting == "displayName" || crate::drift::IGNORED.contains(&setting) {
            return Rule::Excluded;
        }
        self.rules.get(setting).copied().unwrap_or(Rule::MustEqual)
    }

    /// The settings a *bring in line* writes: the type, the name and every
    /// compared setting (excluded ones are the tenant's own business).
    pub fn desired_settings(&self) -> Map<String, Value> {
        self.settings
            .iter()
            .filter(|(k, _)| {
                matches!(k.as_str(), "@odata.type" | "displayName")
                    || self.rule(k) != Rule::Excluded
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Settings that only need to exist (a write keeps the tenant's value).
    pub fn exist_only(&self) -> Vec<String> {
        self.settings
            .keys()
            .filter(|k| self.rule(k) == Rule::MustExist)
            .cloned()
            .collect()
    }
}

/// The matching key of a policy: kind and name, trimmed, case-insensitive.
pub fn match_key(kind: &str, name: &str) -> (String, String) {
    (kind.to_string(), name.trim().to_lowercase())
}

/// The comparison of one item with a tenant's policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemOutcome {
    pub no: i64,
    /// `Aligned`, `Different` or `Missing` (acceptances are read-time).
    pub state: CellState,
    /// The tenant's policy that matched.
    pub external_id: Option<String>,
    /// Differing settings: `before` the baseline's value, `after` the tenant's.
    pub settings: Vec<SettingDelta>,
}

/// Differences of one tenant policy from one baseline item, by the item's rules.
pub fn item_deltas(item: &BaselineItem, policy: &Map<String, Value>) -> Vec<SettingDelta> {
    let mut out = Vec::new();
    for (setting, expected) in &item.settings {
        let actual = policy.get(setting).filter(|v| !v.is_null());
        let ok = match item.rule(setting) {
            Rule::Excluded => true,
            Rule::MustExist => actual.is_some(),
            Rule::MustEqual => actual.is_some_and(|a| same_setting(expected, a)),
        };
        if !ok {
            out.push(SettingDelta {
                setting: setting.clone(),
                before: Some(shown(expected)),
                after: actual.map(shown),
            });
        }
    }
    out
}

/// Compares a tenant's policies with a baseline's items: each item aligned,
/// different (with the settings) or missing; and the tenant's policies no
/// item names (*extra*), by name. Where two policies share an item's name,
/// the closer one counts.
pub fn compare(
    items: &[BaselineItem],
    policies: &[PolicyVersion],
) -> (Vec<ItemOutcome>, Vec<String>) {
    let mut by_key: BTreeMap<(String, String), Vec<&PolicyVersion>> = BTreeMap::new();
    for p in policies {
        by_key
            .entry(match_key(&p.kind, &p.display_name))
            .or_default()
            .push(p);
    }
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        let candidates = by_key
            .get(&match_key(&item.kind, &item.display_name))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let best = candidates
            .iter()
            .map(|p| (p, item_deltas(item, &p.settings)))
            .min_by_key(|(_, d)| d.len());
        outcomes.push(match best {
            None => ItemOutcome {
                no: item.no,
                state: CellState::Missing,
                external_id: None,
                settings: Vec::new(),
            },
            Some((p, deltas)) => ItemOutcome {
                no: item.no,
                state: if deltas.is_empty() {
                    CellState::Aligned
                } else {
                    CellState::Different
                },
                external_id: Some(p.external_id.clone()),
                settings: deltas,
            },
        });
    }
    let named: std::collections::HashSet<(String, String)> = items
        .iter()
        .map(|i| match_key(&i.kind, &i.display_name))
        .collect();
    let mut extras: Vec<String> = policies
        .iter()
        .filter(|p| !named.contains(&match_key(&p.kind, &p.display_name)))
        .map(|p| p.display_name.clone())
        .collect();
    extras.sort();
    (outcomes, extras)
}

/// Per cent of `aligned` in `total` (None: nothing compared).
pub fn percent(aligned: i64, total: i64) -> Option<i64> {
    (total > 0).then(|| (aligned * 100 + total / 2) / total)
}

/// The kind's label.
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "device_configuration" => "Device configuration",
        "compliance_policy" => "Compliance policy",
        _ => "Policy",
    }
}

/// A baseline in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineSummary {
    pub id: BaselineId,
    pub name: String,
    pub version: i64,
    pub items: i64,
    pub template_name: String,
    pub assigned_tenants: i64,
    pub compared_tenants: i64,
    /// Aligned cells of the latest comparisons, in per cent.
    pub aligned_percent: Option<i64>,
    pub changed_at: i64,
}

/// A tenant a baseline may be captured from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateChoice {
    pub tenant: TenantId,
    pub name: String,
    /// Policies in its latest published snapshot (None: no inventory yet).
    pub policies: Option<i64>,
}

/// `/admin/baselines`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselinesPage {
    pub workspace: crate::ids::WorkspaceId,
    pub can_manage: bool,
    pub baselines: Vec<BaselineSummary>,
    pub templates: Vec<TemplateChoice>,
}

/// A column of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemHead {
    pub no: i64,
    pub kind: String,
    pub display_name: String,
}

/// Counts of cells by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub aligned: i64,
    pub different: i64,
    pub missing: i64,
    pub accepted: i64,
    pub not_compared: i64,
}

impl StateCounts {
    pub fn add(&mut self, state: CellState, n: i64) {
        match state {
            CellState::Aligned => self.aligned += n,
            CellState::Different => self.different += n,
            CellState::Missing => self.missing += n,
            CellState::Accepted => self.accepted += n,
            CellState::NotCompared => self.not_compared += n,
        }
    }

    pub fn get(&self, state: CellState) -> i64 {
        match state {
            CellState::Aligned => self.aligned,
            CellState::Different => self.different,
            CellState::Missing => self.missing,
            CellState::Accepted => self.accepted,
            CellState::NotCompared => self.not_compared,
        }
    }

    pub fn total(&self) -> i64 {
        self.aligned + self.different + self.missing + self.accepted + self.not_compared
    }

    /// `3 aligned · 1 different · …` (only the states present).
    pub fn words(&self) -> String {
        let parts: Vec<String> = CellState::ALL
            .into_iter()
            .filter(|s| self.get(*s) > 0)
            .map(|s| format!("{} {}", self.get(s), s.label().to_lowercase()))
            .collect();
        if parts.is_empty() {
            "nothing compared".into()
        } else {
            parts.join(" · ")
        }
    }
}

/// A row of the matrix: one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRow {
    pub tenant: TenantId,
    pub name: String,
    /// The comparison shown (None: never compared).
    pub compared_at: Option<i64>,
    pub compared_version: Option<i64>,
    pub run: Option<RunId>,
    /// One per column, in the columns' order.
    pub cells: Vec<CellState>,
    /// Per column: a bring in line is working on the cell.
    pub aligning: Vec<bool>,
    pub counts: StateCounts,
    pub extras: i64,
}

/// The matrix's filter and page position, from and to the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixFilter {
    pub tag: Option<TagId>,
    /// Rows with at least one cell in this state.
    pub state: Option<CellState>,
    /// Keyset: tenants after this one (by name, then id).
    pub after: Option<TenantId>,
}

impl MatrixFilter {
    /// Unknown keys are ignored; a bad value is refused with its field.
    pub fn parse(query: &str) -> Result<MatrixFilter, crate::AppError> {
        let bad =
            |f: &str| crate::AppError::invalid(f, "This link has a filter value we do not know.");
        let mut f = MatrixFilter::default();
        for pair in query.trim_start_matches('?').split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if v.is_empty() {
                continue;
            }
            match k {
                "tag" => f.tag = Some(v.parse().map_err(|_| bad("tag"))?),
                "state" => f.state = Some(CellState::parse(v).ok_or_else(|| bad("state"))?),
                "after" => f.after = Some(v.parse().map_err(|_| bad("after"))?),
                _ => {}
            }
        }
        Ok(f)
    }

    /// The query string of this filter and, when given, a page position.
    pub fn to_query(&self, after: Option<TenantId>) -> String {
        let mut parts = Vec::new();
        if let Some(t) = self.tag {
            parts.push(format!("tag={t}"));
        }
        if let Some(s) = self.state {
            parts.push(format!("state={}", s.as_str()));
        }
        if let Some(t) = after {
            parts.push(format!("after={t}"));
        }
        parts.join("&")
    }
}

/// A version in the baseline's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionView {
    pub version: i64,
    pub note: String,
    pub template_name: String,
    pub items: i64,
    pub created_at: i64,
    pub created_by: Option<String>,
}

/// One assignment: every tenant, a tenant, or a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentView {
    pub id: i64,
    pub label: String,
}

/// `/admin/baselines/:baseline`: the alignment matrix and the baseline's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselinePage {
    pub id: BaselineId,
    pub workspace: crate::ids::WorkspaceId,
    pub name: String,
    pub version: i64,
    pub can_manage: bool,
    pub can_align: bool,
    pub can_compare: bool,
    pub items: Vec<ItemHead>,
    pub rows: Vec<MatrixRow>,
    /// Per column over every tenant the filter keeps (not only this page).
    pub columns: Vec<StateCounts>,
    pub totals: StateCounts,
    /// Tenants the filter keeps (all pages).
    pub tenants: i64,
    pub filter: MatrixFilter,
    /// The next page's query.
    pub next: Option<String>,
    pub tags: Vec<(TagId, String)>,
    pub assignments: Vec<AssignmentView>,
    /// Assignment choices: (form value, label).
    pub targets: Vec<(String, String)>,
    pub versions: Vec<VersionView>,
}

/// One setting of an item on the edit page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingRuleView {
    pub setting: String,
    pub value: String,
    pub rule: Rule,
}

/// One item on the edit page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditItem {
    pub no: i64,
    pub kind: String,
    pub display_name: String,
    pub settings: Vec<SettingRuleView>,
}

/// `/admin/baselines/:baseline/edit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditPage {
    pub id: BaselineId,
    pub name: String,
    pub version: i64,
    pub items: Vec<EditItem>,
}

/// An acceptance of a deviation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptanceView {
    pub id: i64,
    pub note: String,
    pub expires_at: Option<i64>,
    pub accepted_by: Option<String>,
    pub accepted_at: i64,
}

/// One item for one tenant, with its differences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellView {
    pub no: i64,
    pub kind: String,
    pub display_name: String,
    pub state: CellState,
    /// The state before acceptances (Different or Missing when accepted).
    pub compared_state: CellState,
    pub settings: Vec<SettingDelta>,
    pub acceptance: Option<AcceptanceView>,
    /// A bring in line is working on it (its restore, then the re-read and
    /// compare): not offered for another.
    pub aligning: bool,
}

/// `/admin/baselines/:baseline/t/:tenant`: one matrix row, in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantAlignment {
    pub baseline: BaselineId,
    pub baseline_name: String,
    pub version: i64,
    pub tenant: TenantId,
    pub tenant_name: String,
    pub assigned: bool,
    pub compared_at: Option<i64>,
    pub compared_version: Option<i64>,
    pub run: Option<RunId>,
    pub cells: Vec<CellView>,
    pub counts: StateCounts,
    pub extras: Vec<String>,
    pub can_manage: bool,
    pub can_align: bool,
    pub can_compare: bool,
}

/// One cell a *bring in line* would act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlignItem {
    pub no: i64,
    pub display_name: String,
    pub kind: String,
    pub action: crate::inventory::PreviewAction,
    pub changes: Vec<crate::inventory::SettingChange>,
}

/// One tenant of a *bring in line* preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlignTenant {
    pub tenant: TenantId,
    pub name: String,
    pub items: Vec<AlignItem>,
    /// Why a restore would not start now (the gate's first blocker).
    pub blocked: Option<crate::runs::model::ReasonCode>,
}

/// `/admin/baselines/:baseline/align?cells=…`: what bringing the chosen
/// cells in line would write, per tenant, before the typed confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlignPreview {
    pub baseline: BaselineId,
    pub workspace: crate::ids::WorkspaceId,
    pub name: String,
    pub version: i64,
    pub tenants: Vec<AlignTenant>,
    /// The cells, as the form sends them back (`tenant:item,…`).
    pub cells: String,
    /// Cells left out: aligned, accepted or not compared.
    pub skipped: i64,
}

/// Parses `cells` (`tenant:item,tenant:item…`).
pub fn parse_cells(raw: &str) -> Result<Vec<(TenantId, i64)>, crate::AppError> {
    let bad = || crate::AppError::invalid("cells", "Choose cells of the matrix to bring in line.");
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (t, i) = part.split_once(':').ok_or_else(bad)?;
        let t: i64 = t.parse().map_err(|_| bad())?;
        let i: i64 = i.parse().map_err(|_| bad())?;
        if t <= 0 || i <= 0 {
            return Err(bad());
        }
        if !out.contains(&(TenantId(t), i)) {
            out.push((TenantId(t), i));
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    if out.len() > MAX_ALIGN_CELLS {
        return Err(crate::AppError::invalid(
            "cells",
            format!("Choose at most {MAX_ALIGN_CELLS} cells at once."),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn item(no: i64, name: &str, settings: Value) -> BaselineItem {
        BaselineItem {
            no,
            kind: "device_configuration".into(),
            display_name: name.into(),
            settings: obj(settings),
            rules: BTreeMap::new(),
        }
    }

    fn policy(id: &str, name: &str, settings: Value) -> PolicyVersion {
        PolicyVersion {
            kind: "device_configuration".into(),
            external_id: id.into(),
            display_name: name.into(),
            settings: obj(settings),
        }
    }

    #[test]
    fn aligned_different_missing_and_extra() {
        let items = vec![
            item(
                1,
                "Windows – Baseline",
                json!({"id": "t1", "displayName": "Windows – Baseline", "passwordMinimumLength": 12, "cameraBlocked": true}),
            ),
            item(
                2,
                "iOS – Wi-Fi",
                json!({"displayName": "iOS – Wi-Fi", "ssid": "corp"}),
            ),
            item(
                3,
                "macOS – Kiosk",
                json!({"displayName": "macOS – Kiosk", "x": 1}),
            ),
        ];
        let policies = vec![
            // Another tenant's id, the name in other case and spacing: same policy.
            policy(
                "a",
                " windows – baseline ",
                json!({"id": "a", "passwordMinimumLength": 12, "cameraBlocked": true, "extra": 1}),
            ),
            policy("b", "iOS – Wi-Fi", json!({"ssid": "guest"})),
            policy("c", "Android – VPN", json!({})),
        ];
        let (out, extras) = compare(&items, &policies);
        assert_eq!(out[0].state, CellState::Aligned);
        assert_eq!(out[0].external_id.as_deref(), Some("a"));
        assert_eq!(out[1].state, CellState::Different);
        assert_eq!(
            out[1].settings,
            vec![SettingDelta {
                setting: "ssid".into(),
                before: Some("corp".into()),
                after: Some("guest".into())
            }]
        );
        assert_eq!(out[2].state, CellState::Missing);
        assert_eq!(extras, vec!["Android – VPN".to_string()]);
    }

    #[test]
    fn rules_decide_what_counts() {
        let mut i = item(
            1,
            "P",
            json!({"a": 1, "b": "x", "c": [1, 2], "description": "ours"}),
        );
        i.rules.insert("b".into(), Rule::MustExist);
        i.rules.insert("description".into(), Rule::Excluded);
        // b exists with another value (fine), c in another order (fine),
        // description differs (excluded), a differs (must equal).
        let d = item_deltas(
            &i,
            &obj(json!({"a": 2, "b": "y", "c": [2, 1], "description": "theirs"})),
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].setting, "a");
        // b missing (or null) breaks must-exist; the desired write keeps b.
        let d = item_deltas(&i, &obj(json!({"a": 1, "b": null, "c": [1, 2]})));
        assert_eq!(
            d.iter().map(|d| d.setting.as_str()).collect::<Vec<_>>(),
            vec!["b"]
        );
        assert_eq!(d[0].after, None);
        let desired = i.desired_settings();
        assert!(desired.contains_key("b") && !desired.contains_key("description"));
        assert_eq!(i.exist_only(), vec!["b".to_string()]);
    }

    #[test]
    fn of_two_policies_with_one_name_the_closer_counts() {
        let items = vec![item(1, "P", json!({"a": 1, "b": 2}))];
        let policies = vec![
            policy("far", "P", json!({"a": 0, "b": 0})),
            policy("near", "p", json!({"a": 1, "b": 2})),
        ];
        let (out, extras) = compare(&items, &policies);
        assert_eq!(out[0].state, CellState::Aligned);
        assert_eq!(out[0].external_id.as_deref(), Some("near"));
        assert!(extras.is_empty());
    }

    #[test]
    fn another_kind_with_the_same_name_is_not_the_item() {
        let items = vec![item(1, "P", json!({"a": 1}))];
        let mut p = policy("x", "P", json!({"a": 1}));
        p.kind = "compliance_policy".into();
        let (out, extras) = compare(&items, &[p]);
        assert_eq!(out[0].state, CellState::Missing);
        assert_eq!(extras, vec!["P".to_string()]);
    }

    #[test]
    fn filter_round_trip_and_refusals() {
        let f = MatrixFilter::parse("tag=3&state=different&after=7&other=1").unwrap_or_default();
        assert_eq!(f.tag, Some(TagId(3)));
        assert_eq!(f.state, Some(CellState::Different));
        assert_eq!(f.after, Some(TenantId(7)));
        let q = f.to_query(Some(TenantId(7)));
        assert_eq!(MatrixFilter::parse(&q).ok(), Some(f));
        for bad in ["state=wrong", "tag=x", "after=x", "after=1.5"] {
            assert!(MatrixFilter::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(percent(2, 3), Some(67));
        assert_eq!(percent(0, 0), None);
    }

    #[test]
    fn cells_parse() {
        assert_eq!(
            parse_cells("3:1, 3:2,3:1,4:1").ok(),
            Some(vec![(TenantId(3), 1), (TenantId(3), 2), (TenantId(4), 1)])
        );
        for bad in ["", "3", "3:x", "0:1", "3:-1", ","] {
            assert!(parse_cells(bad).is_err(), "{bad}");
        }
    }
}
