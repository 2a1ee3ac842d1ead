//! Provider connections (Microsoft Graph app registrations per tenant), the
//! Graph client, the provider-backed operation handlers and the data they
//! store. The view types here compile to wasm; the rest is server-only.

use crate::ids::{ProviderConnectionId, RunId, TenantId};
use crate::runs::model::{OperationType, ReasonCode, RunOutcome};
use crate::views::TenantView;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[cfg(feature = "server")]
pub mod connections;
#[cfg(feature = "server")]
pub mod consent;
#[cfg(feature = "server")]
pub mod data;
#[cfg(feature = "server")]
pub mod graph;
#[cfg(feature = "server")]
pub mod handlers;

/// The provider read operations' runtime parts: one handler for all of them.
#[cfg(feature = "server")]
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    for op in TENANT_OPERATIONS {
        c.with_handler(*op, std::sync::Arc::new(handlers::ProviderOperation(*op)));
    }
}

/// Application permissions Tenantry's read operations need.
pub const REQUIRED_PERMISSIONS: &[&str] = &[
    "Organization.Read.All",
    "Group.Read.All",
    "RoleManagement.Read.Directory",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementManagedDevices.Read.All",
];

/// Whether a granted permission satisfies a required one (ReadWrite covers Read).
pub fn permission_satisfied(required: &str, granted: &[String]) -> bool {
    granted.iter().any(|g| {
        g == required
            || g.replace("ReadWrite", "Read") == required
            || (required == "Organization.Read.All" && g == "Directory.Read.All")
    })
}

pub use crate::runs::model::secret_expired;

pub const TENANT_VERIFICATION: OperationType =
    OperationType::registered(&spec::TENANT_VERIFICATION);
pub const CONNECTION_CHECK: OperationType = OperationType::registered(&spec::CONNECTION_CHECK);
pub const INVENTORY_SYNC: OperationType = OperationType::registered(&spec::INVENTORY_SYNC);
pub const COMPLIANCE_SNAPSHOT: OperationType =
    OperationType::registered(&spec::COMPLIANCE_SNAPSHOT);
pub const DIRECTORY_GROUPS_SYNC: OperationType =
    OperationType::registered(&spec::DIRECTORY_GROUPS_SYNC);
pub const ROLE_DEFINITIONS_SYNC: OperationType =
    OperationType::registered(&spec::ROLE_DEFINITIONS_SYNC);

/// The provider read operations' catalogue entries.
pub mod spec {
    use crate::runs::model::{OperationSpec, PROVIDER, VERIFY};
    pub const TENANT_VERIFICATION: OperationSpec =
        OperationSpec::provider("tenant_verification", "Tenant verification", 5, VERIFY)
            .bulk_startable();
    pub const CONNECTION_CHECK: OperationSpec =
        OperationSpec::provider("connection_check", "Connection check", 2, VERIFY).bulk_startable();
    pub const INVENTORY_SYNC: OperationSpec =
        OperationSpec::provider("inventory_sync", "Inventory sync", 30, PROVIDER).bulk_startable();
    pub const COMPLIANCE_SNAPSHOT: OperationSpec =
        OperationSpec::provider("compliance_snapshot", "Compliance snapshot", 20, PROVIDER)
            .bulk_startable();
    pub const DIRECTORY_GROUPS_SYNC: OperationSpec = OperationSpec::provider(
        "directory_groups_sync",
        "Directory groups sync",
        20,
        PROVIDER,
    )
    .bulk_startable();
    pub const ROLE_DEFINITIONS_SYNC: OperationSpec = OperationSpec::provider(
        "role_definitions_sync",
        "Role definitions sync",
        10,
        PROVIDER,
    )
    .bulk_startable();
}

/// The provider operations offered on a tenant, in the order they are shown.
pub const TENANT_OPERATIONS: &[OperationType] = &[
    crate::provider::TENANT_VERIFICATION,
    crate::provider::CONNECTION_CHECK,
    crate::provider::INVENTORY_SYNC,
    crate::provider::COMPLIANCE_SNAPSHOT,
    crate::provider::DIRECTORY_GROUPS_SYNC,
    crate::provider::ROLE_DEFINITIONS_SYNC,
];

/// A provider connection as pages see it. The client secret is never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub id: ProviderConnectionId,
    pub tenant_id: TenantId,
    pub display_name: String,
    pub entra_tenant_id: String,
    pub client_id: String,
    pub enabled: bool,
    pub consent_granted: bool,
    /// Microsoft reported admin consent granted (the consent round trip);
    /// not yet confirmed by a verification.
    pub consent_unconfirmed: bool,
    pub has_secret: bool,
    pub secret_updated_at: Option<i64>,
    pub credential_expires_at: Option<i64>,
    /// Past its recorded expiry, by the server's clock (the gate blocks on the same rule).
    pub secret_expired: bool,
    pub is_default: bool,
    pub last_checked_at: Option<i64>,
    pub last_check_reason: Option<ReasonCode>,
    pub granted_permissions: Vec<String>,
    pub created_at: i64,
    /// The run holding this connection right now, if any.
    pub active_run: Option<RunId>,
}

impl ConnectionView {
    pub fn missing_permissions(&self) -> Vec<&'static str> {
        REQUIRED_PERMISSIONS
            .iter()
            .copied()
            .filter(|p| !permission_satisfied(p, &self.granted_permissions))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionsPage {
    pub tenant: TenantView,
    pub workspace_name: String,
    pub can_manage: bool,
    pub can_run: bool,
    pub connections: Vec<ConnectionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionPage {
    pub tenant: TenantView,
    pub can_manage: bool,
    pub can_run: bool,
    pub connection: ConnectionView,
}

pub use crate::runs::model::{Readiness, ReadinessState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Warning,
    Failed,
    Skipped,
}

impl CheckStatus {
    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::Passed => "Passed",
            CheckStatus::Warning => "Warning",
            CheckStatus::Failed => "Failed",
            CheckStatus::Skipped => "Not checked",
        }
    }
}

/// One line of a verification report, in Tenantry's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationReport {
    pub run_id: RunId,
    pub checked_at: i64,
    pub outcome: RunOutcome,
    pub checks: Vec<Check>,
}

/// The provider part of the tenant dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderPanel {
    pub connection: Option<ConnectionView>,
    pub connection_count: i64,
    pub readiness: Vec<Readiness>,
    pub verification: Option<VerificationReport>,
    /// Latest data per kind: (label, count, taken at).
    pub data: Vec<DataSummary>,
    pub can_manage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSummary {
    pub kind: BrowseKind,
    pub count: i64,
    pub taken_at: i64,
}

/// The browsable provider data of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrowseKind {
    DeviceConfigurations,
    CompliancePolicies,
    ManagedDevices,
    DeviceCompliance,
    Groups,
    Roles,
}

impl BrowseKind {
    pub const ALL: [BrowseKind; 6] = [
        BrowseKind::DeviceConfigurations,
        BrowseKind::CompliancePolicies,
        BrowseKind::ManagedDevices,
        BrowseKind::DeviceCompliance,
        BrowseKind::Groups,
        BrowseKind::Roles,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BrowseKind::DeviceConfigurations => "device_configurations",
            BrowseKind::CompliancePolicies => "compliance_policies",
            BrowseKind::ManagedDevices => "managed_devices",
            BrowseKind::DeviceCompliance => "device_compliance",
            BrowseKind::Groups => "groups",
            BrowseKind::Roles => "roles",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BrowseKind::DeviceConfigurations => "Device configurations",
            BrowseKind::CompliancePolicies => "Compliance policies",
            BrowseKind::ManagedDevices => "Managed devices",
            BrowseKind::DeviceCompliance => "Device compliance",
            BrowseKind::Groups => "Groups",
            BrowseKind::Roles => "Role definitions",
        }
    }

    /// The operation that fills it.
    pub fn source(self) -> OperationType {
        match self {
            BrowseKind::DeviceConfigurations
            | BrowseKind::CompliancePolicies
            | BrowseKind::ManagedDevices => crate::provider::INVENTORY_SYNC,
            BrowseKind::DeviceCompliance => crate::provider::COMPLIANCE_SNAPSHOT,
            BrowseKind::Groups => crate::provider::DIRECTORY_GROUPS_SYNC,
            BrowseKind::Roles => crate::provider::ROLE_DEFINITIONS_SYNC,
        }
    }

    /// The page that shows it.
    pub fn path(self, tenant: TenantId) -> String {
        match self {
            BrowseKind::DeviceConfigurations
            | BrowseKind::CompliancePolicies
            | BrowseKind::ManagedDevices => {
                format!("/admin/t/{tenant}/inventory?kind={}", self.as_str())
            }
            BrowseKind::DeviceCompliance => format!("/admin/t/{tenant}/compliance"),
            BrowseKind::Groups => format!("/admin/t/{tenant}/groups"),
            BrowseKind::Roles => format!("/admin/t/{tenant}/roles"),
        }
    }

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            BrowseKind::DeviceConfigurations | BrowseKind::CompliancePolicies => {
                &["Name", "Platform", "Description", "Last modified"]
            }
            BrowseKind::ManagedDevices => &["Device", "Operating system", "User", "Last sync"],
            BrowseKind::DeviceCompliance => &["Device", "User", "Operating system", "State"],
            BrowseKind::Groups => &["Name", "Kind", "Mail", "Description"],
            BrowseKind::Roles => &["Name", "Built-in", "Enabled", "Description"],
        }
    }
}

impl FromStr for BrowseKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        BrowseKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// One page of provider data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowsePage {
    pub tenant: TenantView,
    pub kind: BrowseKind,
    /// When the shown data was taken and by which run; `None`: never synced.
    pub taken_at: Option<i64>,
    pub run_id: Option<RunId>,
    pub query: String,
    /// Device compliance: the state filter.
    pub state: Option<String>,
    /// Counts per state (device compliance) for the filter chips.
    pub facets: Vec<(String, i64)>,
    pub rows: Vec<Vec<String>>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
    /// The member's role may start the sync that fills this list.
    pub can_run: bool,
}

impl BrowsePage {
    pub fn pages(&self) -> i64 {
        ((self.total + self.page_size - 1) / self.page_size.max(1)).max(1)
    }
}

/// The full verification report page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationPage {
    pub tenant: TenantView,
    pub report: Option<VerificationReport>,
    /// The member's role may start a verification.
    pub can_run: bool,
}

#[cfg(feature = "server")]
pub use runtime::{ProviderRuntime, graph_client};

#[cfg(feature = "server")]
mod runtime {
    use super::graph::{GraphClient, GraphEndpoints, GraphPolicy};
    use crate::secrets::SecretBox;
    use crate::services::Services;
    use std::sync::{Arc, OnceLock};

    /// What provider work needs at run time: the key that opens client secrets
    /// and the Graph client (with its token cache).
    #[derive(Clone, Debug)]
    pub struct ProviderRuntime {
        pub secrets: Arc<SecretBox>,
        pub graph: GraphClient,
    }

    impl ProviderRuntime {
        pub fn new(secrets: SecretBox, endpoints: GraphEndpoints, policy: GraphPolicy) -> Self {
            ProviderRuntime {
                secrets: Arc::new(secrets),
                graph: GraphClient::new(endpoints, policy),
            }
        }

        /// A throwaway key and Microsoft's endpoints: for processes that never
        /// open a stored secret (tools, tests that do not touch providers).
        pub fn ephemeral() -> Self {
            Self::new(
                SecretBox::random(),
                GraphEndpoints::default(),
                GraphPolicy::default(),
            )
        }

        /// The handle with this key and this Graph client installed.
        pub fn installed_in(self, svc: Services) -> Services {
            svc.with_secrets(self.secrets).with_port(self.graph)
        }
    }

    /// The Graph client installed in the handle; Microsoft's endpoints with
    /// the default policy where none was (tools, tests that never call Graph).
    pub fn graph_client(svc: &Services) -> Arc<GraphClient> {
        static FALLBACK: OnceLock<Arc<GraphClient>> = OnceLock::new();
        svc.port::<GraphClient>().unwrap_or_else(|| {
            FALLBACK
                .get_or_init(|| {
                    Arc::new(GraphClient::new(
                        GraphEndpoints::default(),
                        GraphPolicy::default(),
                    ))
                })
                .clone()
        })
    }
}
