//! The onboarding wizard (PRODUCT.md §8): create tenant → add provider
//! connection → verify (through the gate) → choose bootstrap operations →
//! bootstrap. Bootstrap admits one protected-scope run at a time: the rest
//! wait in the draft and the system starts the next when the previous ends
//! (a worker's completion hook, and the periodic sweep after a restart).
//! View types are wasm-safe; the service needs the `server` feature.

use crate::ids::{OnboardingDraftId, ProviderConnectionId, RunId, TenantId, WorkspaceId};
use crate::runs::model::OperationType;
use crate::runs::presenter::RunHeadline;
use serde::{Deserialize, Serialize};

use crate::runs::model::{OperationSpec, PROVIDER, VERIFY};

/// The wizard's verification of the new connection (started from the wizard).
pub const VERIFICATION_SPEC: OperationSpec = OperationSpec::provider(
    "onboarding_verification",
    "Onboarding verification",
    5,
    VERIFY,
)
.from_own_page();
/// The wizard's bootstrap starts each chosen operation as a run of its own,
/// one at a time (`advance`); an umbrella run would hold the connection for
/// all of them, so this type stays registered and refused.
pub const BOOTSTRAP_SPEC: OperationSpec =
    OperationSpec::provider("onboarding_bootstrap", "Onboarding bootstrap", 60, PROVIDER)
        .from_own_page()
        .unavailable();

pub const ONBOARDING_VERIFICATION: crate::runs::model::OperationType =
    crate::runs::model::OperationType::registered(&VERIFICATION_SPEC);
pub const ONBOARDING_BOOTSTRAP: crate::runs::model::OperationType =
    crate::runs::model::OperationType::registered(&BOOTSTRAP_SPEC);

#[cfg(feature = "server")]
mod service;

/// Onboarding's runtime parts: its verification runs with the provider's
/// verification handler; after any run ends the bootstrap moves on; the
/// sweep continues bootstraps a missed wake-up or a restart left waiting.
#[cfg(feature = "server")]
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    c.with_handler(
        crate::onboarding::ONBOARDING_VERIFICATION,
        // The work of a tenant verification, recorded as the wizard's run.
        std::sync::Arc::new(crate::provider::handlers::ProviderOperation(
            crate::provider::TENANT_VERIFICATION,
        )),
    )
    .with_after_run("onboarding bootstrap", |svc, run| {
        Box::pin(async move { service::after_run(&svc, &run).await })
    })
    .with_sweep("onboarding bootstrap", |svc| {
        Box::pin(async move { service::advance_due(&svc).await })
    });
}
#[cfg(feature = "server")]
pub use service::{
    add_connection, advance, advance_due, after_run, bootstrap, discard, draft, list, start, verify,
};

/// The operations a bootstrap may run, in the order they run.
pub const BOOTSTRAP_OPERATIONS: [OperationType; 4] = [
    crate::provider::INVENTORY_SYNC,
    crate::provider::COMPLIANCE_SNAPSHOT,
    crate::provider::DIRECTORY_GROUPS_SYNC,
    crate::provider::ROLE_DEFINITIONS_SYNC,
];

/// How often the wizard refreshes while a run of its draft is moving.
pub const WIZARD_POLL_MS: u32 = 2_000;

/// Where a draft stands; derived from what it holds, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Tenant,
    Connection,
    Verify,
    Choose,
    Bootstrap,
    Done,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Tenant,
        Step::Connection,
        Step::Verify,
        Step::Choose,
        Step::Bootstrap,
        Step::Done,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::Tenant => "Tenant",
            Step::Connection => "Provider connection",
            Step::Verify => "Verify",
            Step::Choose => "Choose bootstrap",
            Step::Bootstrap => "Bootstrap",
            Step::Done => "Done",
        }
    }
}

/// A run the wizard shows, with the presenter's headline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRun {
    pub run: RunId,
    pub headline: RunHeadline,
    pub active: bool,
    /// Succeeded or partially succeeded.
    pub usable: bool,
    pub reason: Option<String>,
}

/// One chosen bootstrap operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapEntry {
    pub op: OperationType,
    /// `None` while it waits for the previous one.
    pub run: Option<StepRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftView {
    pub id: OnboardingDraftId,
    pub workspace: WorkspaceId,
    pub step: Step,
    pub discarded: bool,
    pub tenant: Option<(TenantId, String, String)>,
    pub connection: Option<(ProviderConnectionId, String)>,
    pub verification: Option<StepRun>,
    pub entries: Vec<BootstrapEntry>,
    /// Another operation holds the connection; the next one waits for it.
    pub waiting_on: Option<RunId>,
    /// Why the bootstrap ended before every chosen operation started.
    pub stopped: Option<String>,
    pub created_by: Option<String>,
    pub updated_at: i64,
}

impl DraftView {
    /// Refresh while something can still change by itself.
    pub fn polls(&self) -> bool {
        if self.discarded {
            return false;
        }
        match self.step {
            Step::Verify => self.verification.as_ref().is_some_and(|v| v.active),
            Step::Bootstrap => true,
            _ => false,
        }
    }

    pub fn link(&self) -> String {
        format!("/admin/onboarding/{}", self.id)
    }
}

/// A draft in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftRow {
    pub id: OnboardingDraftId,
    pub tenant_name: Option<String>,
    pub step: Step,
    pub updated_at: i64,
    pub created_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnboardingList {
    pub workspace: crate::views::WorkspaceRef,
    pub open: Vec<DraftRow>,
    pub finished: Vec<DraftRow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_moving_steps_poll() {
        let mut d = DraftView {
            id: OnboardingDraftId(1),
            workspace: WorkspaceId(1),
            step: Step::Choose,
            discarded: false,
            tenant: None,
            connection: None,
            verification: None,
            entries: vec![],
            waiting_on: None,
            stopped: None,
            created_by: None,
            updated_at: 0,
        };
        assert!(!d.polls());
        d.step = Step::Bootstrap;
        assert!(d.polls());
        d.step = Step::Done;
        assert!(!d.polls());
    }
}
