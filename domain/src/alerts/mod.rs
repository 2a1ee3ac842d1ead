//! Alerts (spec 012): a workspace's rules watch what Tenantry does on its own
//! (runs of every kind, schedule fires, bulk starts, drift, baseline
//! compares, credentials that expire) and raise one alert per condition,
//! keyed by (rule, tenant, subject), that opens once, counts while the
//! condition holds, is acknowledged or snoozed by a member, reopens when its
//! subject changes and resolves itself when the condition clears. Every state
//! change is audited and routed (in-app, Standard Webhooks, the support desk,
//! mail) from rows written in the change's own transaction.
//!
//! Evaluation is a feature standing on the engine: it follows the end marks
//! the engine writes when a run ends (`operation_runs.end_mark`) with a
//! cursor of its own, never a hook inside the engine.
//! The views here are wasm-safe; the rest is server-only.

use crate::ids::{AlertId, AlertRuleId, TagId, TenantId, WebhookEndpointId};
use crate::rbac::Role;
use crate::views::WorkspaceRef;
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
mod conditions;
#[cfg(feature = "server")]
pub mod evaluate;
#[cfg(feature = "server")]
pub mod lifecycle;
#[cfg(feature = "server")]
pub mod page;
#[cfg(feature = "server")]
pub mod respond;
#[cfg(feature = "server")]
pub mod rules;
#[cfg(feature = "server")]
pub mod send;
#[cfg(feature = "server")]
pub mod ssrf;
#[cfg(feature = "server")]
pub mod webhooks;

/// A closed set stored as snake_case text.
macro_rules! stored_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal : $label:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),* }
            }
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),* }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$variant),)* _ => None }
            }
        }
    };
}

stored_enum!(
    /// How bad: carried in every delivery.
    Severity {
        Info = "info": "Info",
        Warning = "warning": "Warning",
        Critical = "critical": "Critical",
    }
);

stored_enum!(
    /// Where an alert stands.
    AlertState {
        Open = "open": "Open",
        Acknowledged = "acknowledged": "Acknowledged",
        Resolved = "resolved": "Resolved",
    }
);

stored_enum!(
    /// What a rule watches.
    ConditionKind {
        RunFailures = "run_failures": "Runs failed or were blocked",
        FireProblems = "fire_problems": "A schedule's fire had problems",
        DriftDetected = "drift_detected": "Drift detected",
        BaselineDeviation = "baseline_deviation": "A baseline item became different or missing",
        ConnectionFailing = "connection_failing": "Consent lost or the connection check failing",
        CredentialExpiring = "credential_expiring": "Client secret or certificate expiring",
        ComplianceBelow = "compliance_below": "Device compliance below a threshold",
        BulkFailures = "bulk_failures": "A bulk start finished with failures",
        EndpointDisabled = "endpoint_disabled": "A webhook endpoint was disabled",
    }
);

impl ConditionKind {
    /// What a member may choose for a rule (Tenantry raises the rest itself).
    pub const CHOOSABLE: &'static [ConditionKind] = &[
        ConditionKind::RunFailures,
        ConditionKind::FireProblems,
        ConditionKind::DriftDetected,
        ConditionKind::BaselineDeviation,
        ConditionKind::ConnectionFailing,
        ConditionKind::CredentialExpiring,
        ConditionKind::ComplianceBelow,
        ConditionKind::BulkFailures,
    ];

    /// Conditions about one tenant (the rest are about the workspace).
    pub fn per_tenant(self) -> bool {
        !matches!(
            self,
            ConditionKind::FireProblems
                | ConditionKind::BulkFailures
                | ConditionKind::EndpointDisabled
        )
    }
}

/// A rule's condition with its numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// Runs (of one type, or any) failed or were blocked at least `count`
    /// times within `window_hours` on a tenant; cleared by a later success.
    RunFailures {
        op_type: Option<String>,
        count: i64,
        window_hours: i64,
    },
    /// A fire ended with failed or blocked starts, or fired late; cleared by
    /// a later fire of the schedule without either.
    FireProblems,
    /// An inventory sync stored drift (any, or in one policy kind); cleared
    /// by a later sync that found none.
    DriftDetected { kind: Option<String> },
    /// A compare found an item different or missing; cleared when aligned.
    BaselineDeviation,
    /// Provider work blocked or failed for consent, credentials or
    /// permissions; cleared by any later provider run that succeeded.
    ConnectionFailing,
    /// A connection's credential expires within `days` (daily sweep).
    CredentialExpiring { days: i64 },
    /// A compliance snapshot's compliant share under `percent`.
    ComplianceBelow { percent: i64 },
    /// A bulk start finished with failed or blocked targets; cleared by a
    /// later clean bulk of the same operation.
    BulkFailures,
}

impl Condition {
    pub fn kind(&self) -> ConditionKind {
        match self {
            Condition::RunFailures { .. } => ConditionKind::RunFailures,
            Condition::FireProblems => ConditionKind::FireProblems,
            Condition::DriftDetected { .. } => ConditionKind::DriftDetected,
            Condition::BaselineDeviation => ConditionKind::BaselineDeviation,
            Condition::ConnectionFailing => ConditionKind::ConnectionFailing,
            Condition::CredentialExpiring { .. } => ConditionKind::CredentialExpiring,
            Condition::ComplianceBelow { .. } => ConditionKind::ComplianceBelow,
            Condition::BulkFailures => ConditionKind::BulkFailures,
        }
    }

    /// The rule in a sentence, for lists.
    pub fn sentence(&self) -> String {
        match self {
            Condition::RunFailures {
                op_type,
                count,
                window_hours,
            } => format!(
                "{} failed or blocked {count}× within {window_hours} h on a tenant",
                op_type
                    .as_deref()
                    .and_then(|o| o.parse::<crate::runs::OperationType>().ok())
                    .map_or("Any run", |o| o.label())
            ),
            Condition::DriftDetected { kind: Some(k) } => format!("Drift detected in {k}"),
            Condition::CredentialExpiring { days } => {
                format!("Client secret or certificate expires within {days} days")
            }
            Condition::ComplianceBelow { percent } => {
                format!("Device compliance below {percent} %")
            }
            other => other.kind().label().to_string(),
        }
    }
}

/// Where a rule applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    All,
    Tag(TagId),
    Tenants(Vec<TenantId>),
}

/// What a rule leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusions {
    pub tenants: Vec<TenantId>,
    /// Policy kinds (drift and baseline conditions).
    pub kinds: Vec<String>,
}

/// Where a rule's alerts go when they open, reopen, wake or resolve.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routes {
    /// In-app notifications to the members with these roles (operators and
    /// read-only members only for tenants assigned to them).
    pub roles: Vec<Role>,
    /// And these members by name (each only for tenants they see).
    #[serde(default)]
    pub users: Vec<crate::ids::UserId>,
    pub webhooks: Vec<WebhookEndpointId>,
    /// One ticket per alert in the workspace's support desk.
    pub ticket: bool,
    /// Mail through the SMTP outbox.
    pub mail: Vec<String>,
}

/// A rule as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleView {
    pub id: AlertRuleId,
    pub name: String,
    pub condition: Condition,
    pub scope: Scope,
    pub scope_label: String,
    pub exclusions: Exclusions,
    pub severity: Severity,
    pub routes: Routes,
    pub enabled: bool,
    pub open_alerts: i64,
}

/// A webhook endpoint as its panel shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointView {
    pub id: WebhookEndpointId,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i64,
    /// A rotation's previous secret still signs until then.
    pub previous_until: Option<i64>,
    pub deliveries: Vec<DeliveryView>,
}

/// One message to an endpoint, with its newest attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: crate::ids::AlertDeliveryId,
    pub message_id: String,
    pub event: String,
    pub alert: Option<AlertId>,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub last_status: Option<i64>,
    pub last_duration_ms: Option<i64>,
    pub last_outcome: Option<String>,
    pub last_excerpt: Option<String>,
}

/// The rules page: rules, endpoints, and what the form offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesPage {
    pub workspace: WorkspaceRef,
    pub can_manage: bool,
    pub rules: Vec<RuleView>,
    pub endpoints: Vec<EndpointView>,
    pub tenants: Vec<(TenantId, String)>,
    pub tags: Vec<(TagId, String)>,
    /// Members who can be told by name.
    pub members: Vec<(crate::ids::UserId, String)>,
    pub operation_types: Vec<(String, String)>,
    pub policy_kinds: Vec<String>,
    pub desk_configured: bool,
    pub mail_configured: bool,
    /// A secret shown once (just created or rotated), for this endpoint.
    pub revealed: Option<(WebhookEndpointId, String)>,
}

/// A link to what an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub label: String,
    pub href: String,
}

/// One alert on the alerts page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: AlertId,
    pub rule: Option<(AlertRuleId, String)>,
    pub tenant: Option<(TenantId, String)>,
    pub condition: ConditionKind,
    pub severity: Severity,
    pub state: AlertState,
    pub snoozed_until: Option<i64>,
    pub title: String,
    pub detail: String,
    pub occurrences: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub opened_at: i64,
    pub resolved_at: Option<i64>,
    pub acknowledged: Option<(String, i64, Option<String>)>,
    pub evidence: Vec<Evidence>,
    pub ticket: Option<(String, Option<String>)>,
}

impl AlertView {
    /// The tab it is listed under.
    pub fn tab(&self, now: i64) -> Tab {
        match self.state {
            AlertState::Resolved => Tab::Resolved,
            _ if self.snoozed_until.is_some_and(|u| u > now) => Tab::Snoozed,
            AlertState::Acknowledged => Tab::Acknowledged,
            AlertState::Open => Tab::Open,
        }
    }
}

stored_enum!(
    /// The alerts page's tabs.
    Tab {
        Open = "open": "Open",
        Acknowledged = "acknowledged": "Acknowledged",
        Snoozed = "snoozed": "Snoozed",
        Resolved = "resolved": "Resolved",
    }
);

/// The alerts page's filters, all in the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertFilter {
    pub tab: Option<Tab>,
    pub severity: Option<Severity>,
    pub rule: Option<AlertRuleId>,
    pub tenant: Option<TenantId>,
    pub tag: Option<TagId>,
    /// Keyset: the last row of the previous page (last_seen_at, id).
    pub after: Option<(i64, i64)>,
}

impl AlertFilter {
    /// Reads `?tab=…&severity=…&rule=…&tenant=…&tag=…&after=AT.ID`;
    /// anything unreadable is left out (never a 500 for a bad URL).
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> AlertFilter {
        AlertFilter {
            tab: get("tab").and_then(|v| Tab::parse(&v)),
            severity: get("severity").and_then(|v| Severity::parse(&v)),
            rule: get("rule").and_then(|v| v.parse().ok()),
            tenant: get("tenant").and_then(|v| v.parse().ok()),
            tag: get("tag").and_then(|v| v.parse().ok()),
            after: get("after").and_then(|v| {
                let (at, id) = v.split_once('.')?;
                Some((at.parse().ok()?, id.parse().ok()?))
            }),
        }
    }

    /// Reads a URL's query string (`tab=open&severity=critical`); the values
    /// are keys and numbers, so no decoding is needed (others are ignored).
    pub fn parse_query(query: &str) -> AlertFilter {
        let pairs: Vec<(&str, &str)> = query
            .trim_start_matches('?')
            .split('&')
            .filter_map(|p| p.split_once('='))
            .collect();
        AlertFilter::from_query(|k| {
            pairs
                .iter()
                .find(|(name, v)| *name == k && !v.is_empty())
                .map(|(_, v)| v.to_string())
        })
    }

    /// The query string for these filters (without `after` unless set).
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = self.tab {
            parts.push(format!("tab={}", t.as_str()));
        }
        if let Some(s) = self.severity {
            parts.push(format!("severity={}", s.as_str()));
        }
        if let Some(r) = self.rule {
            parts.push(format!("rule={r}"));
        }
        if let Some(t) = self.tenant {
            parts.push(format!("tenant={t}"));
        }
        if let Some(t) = self.tag {
            parts.push(format!("tag={t}"));
        }
        if let Some((at, id)) = self.after {
            parts.push(format!("after={at}.{id}"));
        }
        parts.join("&")
    }

    pub fn link(&self) -> String {
        let q = self.query();
        if q.is_empty() {
            "/admin/alerts".into()
        } else {
            format!("/admin/alerts?{q}")
        }
    }
}

/// The alerts page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsPage {
    pub workspace: WorkspaceRef,
    pub filter: AlertFilter,
    pub counts: TabCounts,
    pub alerts: Vec<AlertView>,
    /// The filter for the next page, when there is one.
    pub next: Option<AlertFilter>,
    pub can_respond: bool,
    pub can_manage: bool,
    pub rules: Vec<(AlertRuleId, String)>,
    pub tenants: Vec<(TenantId, String)>,
    pub tags: Vec<(TagId, String)>,
    pub now: i64,
}

/// One alert's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDetail {
    pub alert: AlertView,
    pub can_respond: bool,
    pub now: i64,
}

/// How many alerts each tab holds (under the other filters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TabCounts {
    pub open: i64,
    pub acknowledged: i64,
    pub snoozed: i64,
    pub resolved: i64,
}

impl TabCounts {
    pub fn of(&self, tab: Tab) -> i64 {
        match tab {
            Tab::Open => self.open,
            Tab::Acknowledged => self.acknowledged,
            Tab::Snoozed => self.snoozed,
            Tab::Resolved => self.resolved,
        }
    }
}

/// The payload's schema version (webhooks): bumped on a breaking change.
pub const PAYLOAD_VERSION: &str = "2026-12-01";

/// An alert's page (deliveries and tickets link here).
pub fn alert_link(alert: AlertId) -> String {
    format!("/admin/alerts/{alert}")
}
