//! Id newtypes: a `TenantId` can never be passed where a `WorkspaceId` is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse::<i64>().map($name)
            }
        }
    )*};
}

id_type!(
    /// A local account.
    UserId,
    /// One MSP: owns managed tenants and has members.
    WorkspaceId,
    /// A managed customer tenant inside a workspace.
    TenantId,
    /// One audit log entry.
    AuditEntryId,
    /// One operation run (also its job in the queue).
    RunId,
    /// A tenant's provider connection: the protected scope of provider work.
    ProviderConnectionId,
    /// An in-app notification.
    NotificationId,
    /// An invitation to join a workspace.
    InvitationId,
    /// An onboarding wizard's draft.
    OnboardingDraftId,
    /// A generated review pack.
    ReviewPackId,
    /// One inventory snapshot of a tenant.
    SnapshotId,
    /// One item (policy, device) of an inventory snapshot.
    InventoryItemId,
    /// A support request (`SR-…` is its reference).
    SupportRequestId,
    /// A tenant group (tag) of a workspace.
    TagId,
    /// A recurring start of one operation on a target.
    ScheduleId,
    /// One fired slot of a schedule.
    ScheduleFireId,
    /// One start of an operation on many tenants.
    BulkStartId,
    /// A workspace baseline (its versions, items, assignments).
    BaselineId,
    /// A workspace's alert rule.
    AlertRuleId,
    /// One alert: a rule's condition on one tenant and subject.
    AlertId,
    /// A Standard Webhooks endpoint alerts are sent to.
    WebhookEndpointId,
    /// One message to a webhook endpoint or the support desk.
    AlertDeliveryId,
);
