//! What an inventory holds: policy kinds, a policy as a snapshot holds it,
//! and one stored inventory row.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The policy kinds restore writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    DeviceConfiguration,
    CompliancePolicy,
}

impl PolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::DeviceConfiguration => "device_configuration",
            PolicyKind::CompliancePolicy => "compliance_policy",
        }
    }

    pub fn parse(s: &str) -> Option<PolicyKind> {
        match s {
            "device_configuration" => Some(PolicyKind::DeviceConfiguration),
            "compliance_policy" => Some(PolicyKind::CompliancePolicy),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::DeviceConfiguration => "Device configuration",
            PolicyKind::CompliancePolicy => "Compliance policy",
        }
    }

    /// The Graph collection the kind lives in.
    pub fn collection(self) -> &'static str {
        match self {
            PolicyKind::DeviceConfiguration => "deviceManagement/deviceConfigurations",
            PolicyKind::CompliancePolicy => "deviceManagement/deviceCompliancePolicies",
        }
    }
}

/// One policy as a snapshot holds it (what the comparison reads).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVersion {
    /// `device_configuration` or `compliance_policy`.
    pub kind: String,
    pub external_id: String,
    pub display_name: String,
    pub settings: Map<String, Value>,
}

/// One inventory row.
#[derive(Debug, Clone)]
pub struct InventoryItem {
    pub kind: &'static str,
    pub external_id: String,
    pub display_name: String,
    pub platform: String,
    pub detail: String,
    pub modified: Option<String>,
    /// Policies only: their scalar settings (what restore writes back).
    pub settings: Option<String>,
}
