//! What the shell, the overview and the platform's workspace list show
//! (wasm-safe).

use crate::ids::WorkspaceId;
use crate::rbac::Capability;
use crate::runs::views::ActiveRuns;
use crate::views::{WorkspaceRef, ZoneRules};
use serde::{Deserialize, Serialize};

/// What the `/admin` shell needs on every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellView {
    pub user_email: String,
    pub is_platform_operator: bool,
    pub current: Option<WorkspaceRef>,
    pub workspaces: Vec<WorkspaceRef>,
    pub unread_notifications: i64,
    /// Open alerts (not snoozed) the member sees: the shell's count.
    pub open_alerts: i64,
    /// The progress overlay's first state (it polls from there).
    pub active_runs: ActiveRuns,
    /// Whether this account may create a workspace (configuration).
    pub can_create_workspace: bool,
    /// The person's zone, for the page's live islands (None: UTC).
    pub zone_rules: Option<ZoneRules>,
    /// Their colour theme (the user menu marks it chosen).
    pub theme: crate::views::Theme,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewPage {
    pub workspace: WorkspaceRef,
    pub tenant_count: i64,
    pub active_tenant_count: i64,
    pub member_count: i64,
    pub can_manage_tenants: bool,
    pub can_manage_members: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemWorkspaceRow {
    pub id: WorkspaceId,
    pub name: String,
    pub member_count: i64,
    pub tenant_count: i64,
    pub created_at: i64,
}

impl ShellView {
    pub fn can(&self, capability: Capability) -> bool {
        self.current
            .as_ref()
            .is_some_and(|w| w.role.can(capability))
    }
}
