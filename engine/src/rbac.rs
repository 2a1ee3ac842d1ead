//! Workspace roles and the one capability table every guard consults.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Manager,
    Operator,
    Readonly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Capability {
    WorkspaceView,
    MembersManage,
    AuditView,
    TenantView,
    TenantManage,
    ProviderManage,
    ProviderRun,
    RestoreExecute,
    ReviewPackGenerate,
    SupportRequest,
    OperationsView,
    SchedulesManage,
    BaselinesManage,
    /// Alert rules, their routes and webhook endpoints.
    AlertsManage,
    /// Acknowledge, snooze and resolve alerts.
    AlertsRespond,
    /// How long the workspace keeps runs, snapshots and audit entries.
    RetentionManage,
}

impl Capability {
    pub const ALL: [Capability; 16] = [
        Capability::WorkspaceView,
        Capability::MembersManage,
        Capability::AuditView,
        Capability::TenantView,
        Capability::TenantManage,
        Capability::ProviderManage,
        Capability::ProviderRun,
        Capability::RestoreExecute,
        Capability::ReviewPackGenerate,
        Capability::SupportRequest,
        Capability::OperationsView,
        Capability::SchedulesManage,
        Capability::BaselinesManage,
        Capability::AlertsManage,
        Capability::AlertsRespond,
        Capability::RetentionManage,
    ];

    /// The dotted name used in specs and audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::WorkspaceView => "workspace.view",
            Capability::MembersManage => "members.manage",
            Capability::AuditView => "audit.view",
            Capability::TenantView => "tenant.view",
            Capability::TenantManage => "tenant.manage",
            Capability::ProviderManage => "provider.manage",
            Capability::ProviderRun => "provider.run",
            Capability::RestoreExecute => "restore.execute",
            Capability::ReviewPackGenerate => "review_pack.generate",
            Capability::SupportRequest => "support.request",
            Capability::OperationsView => "operations.view",
            Capability::SchedulesManage => "schedules.manage",
            Capability::BaselinesManage => "baselines.manage",
            Capability::AlertsManage => "alerts.manage",
            Capability::AlertsRespond => "alerts.respond",
            Capability::RetentionManage => "retention.manage",
        }
    }
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Manager, Role::Operator, Role::Readonly];

    /// The capability table. Owners and managers hold everything; the difference
    /// between them (only owners grant or revoke ownership) is a member rule.
    pub fn can(self, capability: Capability) -> bool {
        use Capability::*;
        match self {
            Role::Owner | Role::Manager => true,
            Role::Operator => matches!(
                capability,
                WorkspaceView
                    | TenantView
                    | ProviderRun
                    | ReviewPackGenerate
                    | SupportRequest
                    | OperationsView
                    | AlertsRespond
            ),
            Role::Readonly => matches!(capability, WorkspaceView | TenantView | OperationsView),
        }
    }

    /// Operators and readonly members see only the tenants assigned to them.
    pub fn sees_all_tenants(self) -> bool {
        matches!(self, Role::Owner | Role::Manager)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Operator => "operator",
            Role::Readonly => "readonly",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Manager => "Manager",
            Role::Operator => "Operator",
            Role::Readonly => "Read-only",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Role::Owner),
            "manager" => Ok(Role::Manager),
            "operator" => Ok(Role::Operator),
            "readonly" => Ok(Role::Readonly),
            _ => Err(UnknownRole),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown role")]
pub struct UnknownRole;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_and_managers_manage_members() {
        for role in Role::ALL {
            assert_eq!(
                role.can(Capability::MembersManage),
                matches!(role, Role::Owner | Role::Manager),
                "{role}"
            );
        }
    }

    #[test]
    fn readonly_cannot_run_anything() {
        for cap in [
            Capability::ProviderRun,
            Capability::RestoreExecute,
            Capability::TenantManage,
            Capability::SupportRequest,
        ] {
            assert!(!Role::Readonly.can(cap), "{}", cap.as_str());
        }
        assert!(Role::Readonly.can(Capability::OperationsView));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().is_err());
    }
}
