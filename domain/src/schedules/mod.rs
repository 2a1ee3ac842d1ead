//! Work that runs on its own: tenant groups (tags) and schedules that start
//! an operation on a target at the slots of a cron expression. Firing is
//! exactly once per slot however many processes sweep (a unique row per
//! slot), every target goes through the start gate as `Initiator::Schedule`,
//! and a fire's starts are admitted at once but spread over a window.
//! The views here are wasm-safe; the rest is server-only.

use crate::ids::{ScheduleFireId, ScheduleId, TagId, TenantId};
use crate::runs::OperationType;
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
pub(crate) mod admission;
#[cfg(feature = "server")]
pub mod bulk;
pub mod progress;
#[cfg(feature = "server")]
pub mod recurrence;
#[cfg(feature = "server")]
pub mod service;
#[cfg(feature = "server")]
pub use crate::tenants::tags;

/// Operations a schedule may start: the read operations, and review packs
/// (every section: the handler's default when a start names none).
pub fn schedulable() -> Vec<OperationType> {
    crate::runs::model::registered_types()
        .iter()
        .copied()
        .filter(|t| t.spec().schedulable)
        .collect()
}

/// What a schedule starts its operation on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Tenant(TenantId),
    Tag(TagId),
    /// Every active tenant of the workspace at fire time.
    AllActive,
}

impl Target {
    /// The form value: `all`, `tenant:ID`, `tag:ID`.
    pub fn form_value(self) -> String {
        match self {
            Target::Tenant(t) => format!("tenant:{t}"),
            Target::Tag(t) => format!("tag:{t}"),
            Target::AllActive => "all".into(),
        }
    }

    pub fn parse(raw: &str) -> Option<Target> {
        match raw.trim().split_once(':') {
            None if raw.trim() == "all" => Some(Target::AllActive),
            Some(("tenant", id)) => id.parse().ok().map(Target::Tenant),
            Some(("tag", id)) => id.parse().ok().map(Target::Tag),
            _ => None,
        }
    }
}

/// A tag as pages show it (declared with the view types every page shares).
pub use crate::tenants::{TagsPanel, bulk_startable};
pub use crate::views::TagView;

/// One fired slot and what its starts did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FireView {
    pub id: ScheduleFireId,
    pub slot_at: i64,
    pub fired_at: i64,
    /// Slots missed while nothing was running, folded into this one.
    pub missed: i64,
    /// Fired more than two minutes after its slot.
    pub late: bool,
    pub targets: i64,
    /// Every target by decision and by its run (the one definition).
    pub progress: progress::Progress,
    pub finished: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub id: ScheduleId,
    pub name: String,
    pub op_type: OperationType,
    pub op_label: String,
    pub target: Target,
    pub target_label: String,
    pub cron: String,
    pub time_zone: String,
    pub enabled: bool,
    pub spread_seconds: i64,
    pub next_fire_at: Option<i64>,
    /// Next fire in the schedule's zone, e.g. `2026-03-29 03:00 CEST`.
    pub next_fire_local: Option<String>,
    /// The next five fires: the instant, and in the schedule's zone.
    pub upcoming: Vec<(i64, String)>,
    pub last_fire: Option<FireView>,
}

/// The schedules page: the list, and what the form offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulesPage {
    pub workspace: crate::ids::WorkspaceId,
    pub schedules: Vec<ScheduleView>,
    pub can_manage: bool,
    pub tags: Vec<TagView>,
    /// (id, name) of the tenants a schedule may target.
    pub tenants: Vec<(TenantId, String)>,
}

/// Milliseconds after its slot past which a fire is called late.
pub const LATE_AFTER_MS: i64 = 120_000;

/// One start of an operation on many tenants and what the gate said for each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkView {
    pub id: crate::ids::BulkStartId,
    pub op_type: OperationType,
    pub op_label: String,
    /// What was chosen, in words (e.g. "Tag: Finance").
    pub selection: String,
    pub started_by: Option<String>,
    pub created_at: i64,
    pub targets: i64,
    /// Every target by decision and by its run (the one definition, also
    /// behind the toast, the overlay and the notification).
    pub progress: progress::Progress,
    pub admitted: bool,
}

impl BulkView {
    /// Whether any target is still moving (its run, the run holding its
    /// scope, or its admission).
    pub fn active(&self) -> bool {
        self.progress.moving(self.admitted)
    }

    /// The hub filtered to this bulk's runs (those it started and those it found running).
    pub fn hub_link(&self) -> String {
        format!("/admin/operations?bulk={}", self.id)
    }

    pub fn link(&self) -> String {
        format!("/admin/bulk/{}", self.id)
    }
}

/// One tenant of a bulk start: the gate's word and, where there is one, the
/// run with the presenter's headline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkChild {
    pub tenant: TenantId,
    pub tenant_name: String,
    /// `queued`, `already_running`, `scope_busy`, `blocked`, `skipped`.
    pub decision: String,
    pub run: Option<crate::runs::views::RunRow>,
}

/// A bulk start's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkPage {
    pub bulk: BulkView,
    pub children: Vec<BulkChild>,
    /// Tenants of the bulk this member may not see (not listed).
    pub hidden: i64,
}

/// The word for a recorded decision, as toasts and pages say it.
pub fn decision_label(decision: &str) -> &'static str {
    match decision {
        "queued" => "Queued",
        "already_running" => "Already running",
        "scope_busy" => "Scope busy",
        "blocked" => "Blocked",
        _ => "Skipped",
    }
}
