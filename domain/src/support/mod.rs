//! Support requests and their handoff to the MSP's support desk (PRODUCT.md
//! §9). The view types are wasm-safe; the service and the desk clients need
//! the `server` feature.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[cfg(feature = "server")]
pub mod desk;
#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::{
    PENDING_ABANDONED_AFTER_MS, SupportContext, latest, link_existing, panel, request, retry,
    sweep_abandoned,
};

/// The engine's beat finishes handoffs a stopped process left pending.
#[cfg(feature = "server")]
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    c.with_sweep("support handoff", |svc| {
        Box::pin(async move { sweep_abandoned(&svc).await })
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Normal,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Normal,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Normal => "normal",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Low => "Low: a question, no impact",
            Severity::Normal => "Normal: something does not work as expected",
            Severity::High => "High: a tenant's operations are blocked",
            Severity::Critical => "Critical: several tenants are affected",
        }
    }
}

impl FromStr for Severity {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(())
    }
}

/// Where the request stands with the support desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handoff {
    /// Saved; the desk call has not finished (or the process stopped during it).
    Pending,
    Created,
    Linked,
    Failed,
    NotConfigured,
}

impl Handoff {
    pub fn as_str(self) -> &'static str {
        match self {
            Handoff::Pending => "pending",
            Handoff::Created => "created",
            Handoff::Linked => "linked",
            Handoff::Failed => "failed",
            Handoff::NotConfigured => "not_configured",
        }
    }
}

impl FromStr for Handoff {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [
            Handoff::Pending,
            Handoff::Created,
            Handoff::Linked,
            Handoff::Failed,
            Handoff::NotConfigured,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or(())
    }
}

/// What the slide-over opens with: the latest request of its context, and
/// which desk (if any) requests are handed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportPanel {
    pub latest: Option<SupportRequestView>,
    pub desk: Option<String>,
}

/// What the operator fills in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSupportRequest {
    pub subject: String,
    pub description: String,
    pub severity: Severity,
    pub contact: Option<String>,
    /// Link this existing desk ticket instead of creating one.
    pub existing_ticket: Option<String>,
}

/// A support request as the slide-over shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportRequestView {
    /// `SR-…`: ours, shown whatever the desk did.
    pub reference: String,
    pub subject: String,
    pub severity: Severity,
    pub handoff: Handoff,
    pub desk_reference: Option<String>,
    pub desk_url: Option<String>,
    pub failure_summary: Option<String>,
    pub requested_by: String,
    pub created_at: i64,
    /// The desk did not take it (or it was left pending): it can be sent again.
    pub can_retry: bool,
    /// An existing desk ticket can still be linked to it.
    pub can_link: bool,
}

impl SupportRequestView {
    /// The one sentence that says which of the outcomes happened.
    pub fn outcome_sentence(&self) -> String {
        match self.handoff {
            Handoff::Created => format!(
                "Saved as {} and handed to the support desk as {}.",
                self.reference,
                self.desk_reference.as_deref().unwrap_or("a new ticket")
            ),
            Handoff::Linked => format!(
                "Saved as {} and linked to the existing ticket {}.",
                self.reference,
                self.desk_reference.as_deref().unwrap_or("")
            ),
            Handoff::Failed => format!(
                "Saved as {}, but the support desk did not take it: {} Quote {} when you contact support.",
                self.reference,
                self.failure_summary.as_deref().unwrap_or(""),
                self.reference
            ),
            Handoff::NotConfigured => format!(
                "Saved as {}. No support desk is configured, so it was not handed off; quote {} when you contact support.",
                self.reference, self.reference
            ),
            Handoff::Pending if self.can_link => format!(
                "Saved as {}; the handoff to the support desk did not finish. Tenantry retries it; you can also retry now or link an existing ticket.",
                self.reference
            ),
            Handoff::Pending => format!(
                "Saved as {}; it is being handed to the support desk.",
                self.reference
            ),
        }
    }
}
