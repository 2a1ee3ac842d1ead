//! The next-step registry: for every reason code, what to do about it, and
//! where applicable a link that does it (grant admin consent, open or fix
//! the connection, verify now, open the running operation). One registry;
//! the toast, the readiness row, the run page and notifications all resolve
//! it with what they know of the run (tenant, connection, running run).

use super::model::ReasonCode;
use crate::ids::{ProviderConnectionId, RunId, TenantId};
use serde::{Deserialize, Serialize};

/// Something an operator can click to act on a next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAction {
    /// Microsoft's admin-consent page for the connection's app (through
    /// Tenantry's consent route, which builds the URL and takes the answer).
    GrantConsent,
    OpenConnection,
    RotateSecret,
    AddConnection,
    /// The verification page's "Verify again".
    VerifyNow,
    OpenTenant,
    OpenRunningOperation,
}

/// One entry of the registry: words, and the action they describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepTemplate {
    pub text: &'static str,
    pub action: Option<NextAction>,
}

// Macros rather than functions: struct literals of constants are promoted
// to `'static`, function calls are not.
macro_rules! step {
    ($text:literal, $action:ident $(,)?) => {
        StepTemplate {
            text: $text,
            action: Some(NextAction::$action),
        }
    };
}

macro_rules! words {
    ($text:literal $(,)?) => {
        StepTemplate {
            text: $text,
            action: None,
        }
    };
}

impl ReasonCode {
    /// What to do about it (the registry).
    pub fn steps(self) -> &'static [StepTemplate] {
        use ReasonCode::*;
        match self {
            ConnectionMissing => &[step!(
                "Add a provider connection for this tenant, then start again.",
                AddConnection,
            )],
            ConnectionDisabled => &[step!(
                "Enable the provider connection, then start again.",
                OpenConnection,
            )],
            ConsentMissing => &[
                step!(
                    "Ask a Global Administrator of the customer tenant to grant admin consent.",
                    GrantConsent,
                ),
                step!("Then run tenant verification to confirm it.", VerifyNow),
            ],
            ConsentUnconfirmed => &[step!(
                "Admin consent was granted; run tenant verification to confirm it.",
                VerifyNow,
            )],
            CredentialsMissing => &[step!(
                "Add a client secret to the provider connection.",
                RotateSecret,
            )],
            CredentialsExpired => &[step!(
                "Rotate the client secret on the provider connection.",
                RotateSecret,
            )],
            CredentialsInvalid => &[
                step!(
                    "Check the client id and rotate the client secret on the provider connection.",
                    RotateSecret,
                ),
                step!("Then run a connection check.", OpenConnection),
            ],
            PermissionsMissing => &[
                step!(
                    "Grant admin consent for the missing permissions listed in the verification report.",
                    GrantConsent,
                ),
                step!("Then run tenant verification again.", VerifyNow),
            ],
            ProviderTenantNotFound => &[step!(
                "Correct the Entra tenant id on the provider connection, then verify again.",
                OpenConnection,
            )],
            ProviderThrottled => &[words!(
                "Wait a few minutes, then start the operation again."
            )],
            ProviderTimeout | ProviderUnavailable => &[words!(
                "Start the operation again later; Microsoft's service health may show an incident.",
            )],
            ProviderUnexpectedResponse => &[words!(
                "Start the operation again. If it keeps happening, request support with the run link.",
            )],
            TenantInactive => &[step!("Activate the tenant, then start again.", OpenTenant)],
            OperationUnavailable => &[words!(
                "Use another operation; this one arrives in a later release."
            )],
            LeaseExpired => &[words!(
                "Start the operation again. If it keeps happening, check the workers.",
            )],
            NeverStarted => &[
                words!(
                    "Check that a worker is running (`tenantry serve` with workers, or `tenantry worker`).",
                ),
                words!("Then start the operation again."),
            ],
            TimeLimitExceeded => &[words!(
                "Start the operation again; if it keeps running long, check Microsoft Graph's service health.",
            )],
            HandlerFailed => &[words!(
                "Read the failure summary, fix the cause, and start again.",
            )],
            Cancelled => &[words!("Start the operation again when you need it.")],
        }
    }
}

/// What a surface knows of the run a next step is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepContext {
    pub tenant: Option<TenantId>,
    pub connection: Option<ProviderConnectionId>,
    /// The active run a start collided with (scope busy, already running).
    pub running: Option<RunId>,
}

/// A next step as pages, toasts and notifications show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStep {
    pub text: String,
    pub link: Option<StepLink>,
    /// An operation the step starts in one click where the surface can
    /// (a button through the gate); `link` stays for where it cannot.
    #[serde(default)]
    pub start: Option<StepStart>,
}

/// A start a next step offers: this operation on this tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepStart {
    pub tenant: TenantId,
    pub op_type: super::model::OperationType,
    /// The button's words ("Verify now").
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepLink {
    pub label: String,
    pub href: String,
}

/// The key of tenant verification, which *Verify now* starts.
pub const VERIFY_KEY: &str = "tenant_verification";

impl NextAction {
    /// The start this action makes in one click, when it is one.
    pub fn start(self, ctx: &StepContext) -> Option<StepStart> {
        match (self, ctx.tenant) {
            // The engine knows the key of the operation that confirms a
            // connection, not the feature that registers it.
            (NextAction::VerifyNow, Some(tenant)) => Some(StepStart {
                tenant,
                op_type: VERIFY_KEY.parse().ok()?,
                label: "Verify now".into(),
            }),
            _ => None,
        }
    }

    /// The link for this action, when the context names what it needs.
    pub fn link(self, ctx: &StepContext) -> Option<StepLink> {
        use NextAction::*;
        let link = |label: &str, href: String| {
            Some(StepLink {
                label: label.into(),
                href,
            })
        };
        match (self, ctx.tenant, ctx.connection, ctx.running) {
            (GrantConsent, Some(t), Some(c), _) => link(
                "Grant admin consent",
                format!("/admin/t/{t}/connections/{c}/consent"),
            ),
            (OpenConnection, Some(t), Some(c), _) => link(
                "Open the connection",
                format!("/admin/t/{t}/connections/{c}"),
            ),
            (RotateSecret, Some(t), Some(c), _) => link(
                "Rotate the secret",
                format!("/admin/t/{t}/connections/{c}#rotate-secret"),
            ),
            (AddConnection, Some(t), _, _)
            | (OpenConnection | RotateSecret | GrantConsent, Some(t), None, _) => link(
                "Open the provider connections",
                format!("/admin/t/{t}/connections#add-connection"),
            ),
            (VerifyNow, Some(t), _, _) => {
                link("Verify now", format!("/admin/t/{t}/verification#verify"))
            }
            (OpenTenant, Some(t), _, _) => link("Open the tenant", format!("/admin/t/{t}#status")),
            (OpenRunningOperation, _, _, Some(r)) => {
                link("Open the running operation", super::presenter::run_link(r))
            }
            _ => None,
        }
    }
}

/// The next steps for `reason`, with links resolved from `ctx`.
pub fn resolve(reason: ReasonCode, ctx: &StepContext) -> Vec<NextStep> {
    reason
        .steps()
        .iter()
        .map(|s| NextStep {
            text: s.text.to_string(),
            link: s.action.and_then(|a| a.link(ctx)),
            start: s.action.and_then(|a| a.start(ctx)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> StepContext {
        StepContext {
            tenant: Some(TenantId(7)),
            connection: Some(ProviderConnectionId(3)),
            running: Some(RunId(99)),
        }
    }

    #[test]
    fn every_reason_has_words_and_the_links_it_promises() {
        for reason in ReasonCode::ALL {
            let steps = resolve(*reason, &ctx());
            assert!(!steps.is_empty(), "{reason}: no next step");
            for (template, step) in reason.steps().iter().zip(&steps) {
                assert!(!step.text.is_empty());
                assert_eq!(
                    template.action.is_some(),
                    step.link.is_some(),
                    "{reason}: every action resolves to a link when the run is known"
                );
                if let Some(link) = &step.link {
                    assert!(link.href.starts_with("/admin/"), "{}", link.href);
                }
            }
        }
    }

    #[test]
    fn the_links_go_where_they_say() {
        let consent = resolve(ReasonCode::ConsentMissing, &ctx());
        assert_eq!(
            consent[0].link.as_ref().map(|l| l.href.as_str()),
            Some("/admin/t/7/connections/3/consent")
        );
        assert_eq!(
            consent[1].link.as_ref().map(|l| l.label.as_str()),
            Some("Verify now")
        );
        let expired = resolve(ReasonCode::CredentialsExpired, &ctx());
        assert_eq!(
            expired[0].link.as_ref().map(|l| l.href.as_str()),
            Some("/admin/t/7/connections/3#rotate-secret")
        );
        let missing = resolve(
            ReasonCode::ConnectionMissing,
            &StepContext {
                tenant: Some(TenantId(7)),
                ..StepContext::default()
            },
        );
        assert_eq!(
            missing[0].link.as_ref().map(|l| l.href.as_str()),
            Some("/admin/t/7/connections#add-connection")
        );
        // Without a tenant there is nothing to link to: words only.
        let bare = resolve(ReasonCode::ConsentMissing, &StepContext::default());
        assert!(bare.iter().all(|s| s.link.is_none()));
        let running = NextAction::OpenRunningOperation.link(&ctx());
        assert_eq!(
            running.map(|l| l.href),
            Some("/admin/operations/99".to_string())
        );
    }
}
