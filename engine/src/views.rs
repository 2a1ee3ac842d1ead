//! View types shared by server functions and the browser islands.

use crate::ids::{AuditEntryId, TenantId, WorkspaceId};
use crate::rbac::Role;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Inactive,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Inactive => "inactive",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            TenantStatus::Active => "Active",
            TenantStatus::Inactive => "Inactive",
        }
    }
}

impl FromStr for TenantStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "active" => Ok(TenantStatus::Active),
            "inactive" => Ok(TenantStatus::Inactive),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceRef {
    pub id: WorkspaceId,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    pub id: TenantId,
    pub workspace_id: WorkspaceId,
    pub display_name: String,
    pub microsoft_tenant_id: String,
    pub status: TenantStatus,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantsPage {
    pub workspace: WorkspaceRef,
    /// The tenants listed (only those carrying `tag` when filtered).
    pub tenants: Vec<TenantView>,
    /// The tag the list is filtered by (`?tag=`), when it is.
    pub tag: Option<TagView>,
    /// Whether the member sees any tenant at all (filtered or not).
    pub any_tenants: bool,
    pub can_manage: bool,
    /// May start an operation on many tenants at once.
    pub can_bulk_start: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPage {
    pub workspace: WorkspaceRef,
    pub tenant: TenantView,
    pub can_manage: bool,
    /// The member's role may send support requests / restore policies
    /// (controls it may not use are not offered).
    pub can_request_support: bool,
    pub can_restore: bool,
    /// Members assigned to this tenant (emails), for context.
    pub assigned_members: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Succeeded,
    Failed,
    Denied,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Succeeded => "succeeded",
            AuditOutcome::Failed => "failed",
            AuditOutcome::Denied => "denied",
        }
    }
}

impl FromStr for AuditOutcome {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "succeeded" => Ok(AuditOutcome::Succeeded),
            "failed" => Ok(AuditOutcome::Failed),
            "denied" => Ok(AuditOutcome::Denied),
            _ => Err(()),
        }
    }
}

/// A tenant group (tag) as pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagView {
    pub id: crate::ids::TagId,
    pub name: String,
    /// Active tenants carrying it (0 where not counted).
    pub tenants: i64,
}

/// Every action the audit log knows. Closed, so the audit filter is a select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    UserCreated,
    SignedIn,
    SignInFailed,
    /// Wrong passwords from unknown browsers reached the account's limit.
    SignInLimited,
    /// Wrong two-step codes reached the account's hard cap.
    CodesLimited,
    /// An owner turned a member's two-step codes on again.
    CodesAllowedAgain,
    SignedOut,
    WorkspaceCreated,
    MemberAdded,
    MemberRoleChanged,
    MemberRemoved,
    TenantCreated,
    TenantUpdated,
    TenantActivated,
    TenantDeactivated,
    TenantAssigned,
    TenantUnassigned,
    OperationQueued,
    OperationBlocked,
    OperationCancelled,
    ConnectionCreated,
    ConnectionUpdated,
    ConnectionSecretRotated,
    ConnectionEnabled,
    ConnectionDisabled,
    ConnectionDeleted,
    ConsentAnswered,
    SupportRequested,
    SupportLinked,
    SupportHandoffFailed,
    SupportHandedOff,
    TagCreated,
    TagDeleted,
    TenantTagged,
    TenantUntagged,
    ScheduleCreated,
    ScheduleUpdated,
    SchedulePaused,
    ScheduleResumed,
    ScheduleDeleted,
    BulkStarted,
    PasswordChanged,
    SessionEnded,
    MfaEnabled,
    MfaDisabled,
    RecoveryCodesRenewed,
    MfaRequirementChanged,
    SsoLinked,
    SsoUnlinked,
    SsoRequirementChanged,
    BaselineCaptured,
    BaselineEdited,
    BaselineAssigned,
    BaselineUnassigned,
    BaselineDeleted,
    DeviationAccepted,
    DeviationRevoked,
    ReviewPackDownloaded,
    ReviewPackExpired,
    RestoreExecuted,
    OnboardingDraftSaved,
    OnboardingBootstrapStarted,
    InvitationCreated,
    InvitationResent,
    InvitationRevoked,
    InvitationAccepted,
    OperationRefused,
    AlertRuleCreated,
    AlertRuleUpdated,
    AlertRuleDeleted,
    AlertOpened,
    AlertReopened,
    AlertAcknowledged,
    AlertSnoozed,
    AlertWoke,
    AlertResolved,
    WebhookEndpointCreated,
    WebhookEndpointUpdated,
    WebhookSecretRotated,
    WebhookEndpointDisabled,
    WebhookEndpointDeleted,
    WebhookRedelivered,
    RetentionChanged,
}

impl AuditAction {
    pub const ALL: [AuditAction; 83] = [
        AuditAction::UserCreated,
        AuditAction::SignedIn,
        AuditAction::SignInFailed,
        AuditAction::SignInLimited,
        AuditAction::CodesLimited,
        AuditAction::CodesAllowedAgain,
        AuditAction::SignedOut,
        AuditAction::WorkspaceCreated,
        AuditAction::MemberAdded,
        AuditAction::MemberRoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::TenantCreated,
        AuditAction::TenantUpdated,
        AuditAction::TenantActivated,
        AuditAction::TenantDeactivated,
        AuditAction::TenantAssigned,
        AuditAction::TenantUnassigned,
        AuditAction::OperationQueued,
        AuditAction::OperationBlocked,
        AuditAction::OperationCancelled,
        AuditAction::ConnectionCreated,
        AuditAction::ConnectionUpdated,
        AuditAction::ConnectionSecretRotated,
        AuditAction::ConnectionEnabled,
        AuditAction::ConnectionDisabled,
        AuditAction::ConnectionDeleted,
        AuditAction::ConsentAnswered,
        AuditAction::SupportRequested,
        AuditAction::SupportLinked,
        AuditAction::SupportHandoffFailed,
        AuditAction::SupportHandedOff,
        AuditAction::TagCreated,
        AuditAction::TagDeleted,
        AuditAction::TenantTagged,
        AuditAction::TenantUntagged,
        AuditAction::ScheduleCreated,
        AuditAction::ScheduleUpdated,
        AuditAction::SchedulePaused,
        AuditAction::ScheduleResumed,
        AuditAction::ScheduleDeleted,
        AuditAction::BulkStarted,
        AuditAction::PasswordChanged,
        AuditAction::SessionEnded,
        AuditAction::MfaEnabled,
        AuditAction::MfaDisabled,
        AuditAction::RecoveryCodesRenewed,
        AuditAction::MfaRequirementChanged,
        AuditAction::SsoLinked,
        AuditAction::SsoUnlinked,
        AuditAction::SsoRequirementChanged,
        AuditAction::BaselineCaptured,
        AuditAction::BaselineEdited,
        AuditAction::BaselineAssigned,
        AuditAction::BaselineUnassigned,
        AuditAction::BaselineDeleted,
        AuditAction::DeviationAccepted,
        AuditAction::DeviationRevoked,
        AuditAction::ReviewPackDownloaded,
        AuditAction::ReviewPackExpired,
        AuditAction::RestoreExecuted,
        AuditAction::OnboardingDraftSaved,
        AuditAction::OnboardingBootstrapStarted,
        AuditAction::InvitationCreated,
        AuditAction::InvitationResent,
        AuditAction::InvitationRevoked,
        AuditAction::InvitationAccepted,
        AuditAction::OperationRefused,
        AuditAction::AlertRuleCreated,
        AuditAction::AlertRuleUpdated,
        AuditAction::AlertRuleDeleted,
        AuditAction::AlertOpened,
        AuditAction::AlertReopened,
        AuditAction::AlertAcknowledged,
        AuditAction::AlertSnoozed,
        AuditAction::AlertWoke,
        AuditAction::AlertResolved,
        AuditAction::WebhookEndpointCreated,
        AuditAction::WebhookEndpointUpdated,
        AuditAction::WebhookSecretRotated,
        AuditAction::WebhookEndpointDisabled,
        AuditAction::WebhookEndpointDeleted,
        AuditAction::WebhookRedelivered,
        AuditAction::RetentionChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::UserCreated => "user.created",
            AuditAction::SignedIn => "session.signed_in",
            AuditAction::SignInFailed => "session.sign_in_failed",
            AuditAction::SignInLimited => "session.sign_in_limited",
            AuditAction::CodesLimited => "session.codes_limited",
            AuditAction::CodesAllowedAgain => "member.codes_allowed",
            AuditAction::SignedOut => "session.signed_out",
            AuditAction::WorkspaceCreated => "workspace.created",
            AuditAction::MemberAdded => "member.added",
            AuditAction::MemberRoleChanged => "member.role_changed",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::TenantCreated => "tenant.created",
            AuditAction::TenantUpdated => "tenant.updated",
            AuditAction::TenantActivated => "tenant.activated",
            AuditAction::TenantDeactivated => "tenant.deactivated",
            AuditAction::TenantAssigned => "tenant.assigned",
            AuditAction::TenantUnassigned => "tenant.unassigned",
            AuditAction::OperationQueued => "operation.queued",
            AuditAction::OperationBlocked => "operation.blocked",
            AuditAction::OperationCancelled => "operation.cancelled",
            AuditAction::ConnectionCreated => "provider_connection.created",
            AuditAction::ConnectionUpdated => "provider_connection.updated",
            AuditAction::ConnectionSecretRotated => "provider_connection.secret_rotated",
            AuditAction::ConnectionEnabled => "provider_connection.enabled",
            AuditAction::ConnectionDisabled => "provider_connection.disabled",
            AuditAction::ConnectionDeleted => "provider_connection.deleted",
            AuditAction::ConsentAnswered => "provider_connection.consent_answered",
            AuditAction::SupportRequested => "support_request.created",
            AuditAction::SupportLinked => "support_request.linked",
            AuditAction::SupportHandoffFailed => "support_request.handoff_failed",
            AuditAction::SupportHandedOff => "support_request.handed_off",
            AuditAction::TagCreated => "tag.created",
            AuditAction::TagDeleted => "tag.deleted",
            AuditAction::TenantTagged => "tenant.tagged",
            AuditAction::TenantUntagged => "tenant.untagged",
            AuditAction::ScheduleCreated => "schedule.created",
            AuditAction::ScheduleUpdated => "schedule.updated",
            AuditAction::SchedulePaused => "schedule.paused",
            AuditAction::ScheduleResumed => "schedule.resumed",
            AuditAction::ScheduleDeleted => "schedule.deleted",
            AuditAction::BulkStarted => "bulk.started",
            AuditAction::PasswordChanged => "account.password_changed",
            AuditAction::SessionEnded => "session.ended",
            AuditAction::MfaEnabled => "account.mfa_enabled",
            AuditAction::MfaDisabled => "account.mfa_disabled",
            AuditAction::RecoveryCodesRenewed => "account.recovery_codes_renewed",
            AuditAction::MfaRequirementChanged => "workspace.mfa_requirement_changed",
            AuditAction::SsoLinked => "account.sso_linked",
            AuditAction::SsoUnlinked => "account.sso_unlinked",
            AuditAction::SsoRequirementChanged => "workspace.sso_requirement_changed",
            AuditAction::BaselineCaptured => "baseline.captured",
            AuditAction::BaselineEdited => "baseline.edited",
            AuditAction::BaselineAssigned => "baseline.assigned",
            AuditAction::BaselineUnassigned => "baseline.unassigned",
            AuditAction::BaselineDeleted => "baseline.deleted",
            AuditAction::DeviationAccepted => "baseline.deviation_accepted",
            AuditAction::DeviationRevoked => "baseline.deviation_revoked",
            AuditAction::ReviewPackDownloaded => "review_pack.downloaded",
            AuditAction::ReviewPackExpired => "review_pack.expired",
            AuditAction::RestoreExecuted => "restore.executed",
            AuditAction::OnboardingDraftSaved => "onboarding.draft_saved",
            AuditAction::OnboardingBootstrapStarted => "onboarding.bootstrap_started",
            AuditAction::InvitationCreated => "invitation.created",
            AuditAction::InvitationResent => "invitation.resent",
            AuditAction::InvitationRevoked => "invitation.revoked",
            AuditAction::InvitationAccepted => "invitation.accepted",
            AuditAction::OperationRefused => "operation.refused",
            AuditAction::AlertRuleCreated => "alert_rule.created",
            AuditAction::AlertRuleUpdated => "alert_rule.updated",
            AuditAction::AlertRuleDeleted => "alert_rule.deleted",
            AuditAction::AlertOpened => "alert.opened",
            AuditAction::AlertReopened => "alert.reopened",
            AuditAction::AlertAcknowledged => "alert.acknowledged",
            AuditAction::AlertSnoozed => "alert.snoozed",
            AuditAction::AlertWoke => "alert.woke",
            AuditAction::AlertResolved => "alert.resolved",
            AuditAction::WebhookEndpointCreated => "webhook_endpoint.created",
            AuditAction::WebhookEndpointUpdated => "webhook_endpoint.updated",
            AuditAction::WebhookSecretRotated => "webhook_endpoint.secret_rotated",
            AuditAction::WebhookEndpointDisabled => "webhook_endpoint.disabled",
            AuditAction::WebhookEndpointDeleted => "webhook_endpoint.deleted",
            AuditAction::WebhookRedelivered => "webhook_endpoint.redelivered",
            AuditAction::RetentionChanged => "retention.changed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AuditAction::UserCreated => "Account created",
            AuditAction::SignedIn => "Signed in",
            AuditAction::SignInFailed => "Sign-in failed",
            AuditAction::SignInLimited => "Sign-ins from new browsers paused",
            AuditAction::CodesLimited => "Two-step codes stopped",
            AuditAction::CodesAllowedAgain => "Two-step codes allowed again",
            AuditAction::SignedOut => "Signed out",
            AuditAction::WorkspaceCreated => "Workspace created",
            AuditAction::MemberAdded => "Member added",
            AuditAction::MemberRoleChanged => "Member role changed",
            AuditAction::MemberRemoved => "Member removed",
            AuditAction::TenantCreated => "Tenant added",
            AuditAction::TenantUpdated => "Tenant updated",
            AuditAction::TenantActivated => "Tenant activated",
            AuditAction::TenantDeactivated => "Tenant deactivated",
            AuditAction::TenantAssigned => "Tenant assigned",
            AuditAction::TenantUnassigned => "Tenant unassigned",
            AuditAction::OperationQueued => "Operation queued",
            AuditAction::OperationBlocked => "Operation blocked",
            AuditAction::OperationCancelled => "Operation cancelled",
            AuditAction::ConnectionCreated => "Provider connection added",
            AuditAction::ConnectionUpdated => "Provider connection updated",
            AuditAction::ConnectionSecretRotated => "Client secret rotated",
            AuditAction::ConnectionEnabled => "Provider connection enabled",
            AuditAction::ConnectionDisabled => "Provider connection disabled",
            AuditAction::ConnectionDeleted => "Provider connection deleted",
            AuditAction::ConsentAnswered => "Admin consent answered",
            AuditAction::SupportRequested => "Support requested",
            AuditAction::SupportLinked => "Support ticket linked",
            AuditAction::SupportHandoffFailed => "Support desk handoff failed",
            AuditAction::SupportHandedOff => "Support request handed to the desk",
            AuditAction::TagCreated => "Tag created",
            AuditAction::TagDeleted => "Tag deleted",
            AuditAction::TenantTagged => "Tenant tagged",
            AuditAction::TenantUntagged => "Tag removed from tenant",
            AuditAction::ScheduleCreated => "Schedule created",
            AuditAction::ScheduleUpdated => "Schedule changed",
            AuditAction::SchedulePaused => "Schedule paused",
            AuditAction::ScheduleResumed => "Schedule resumed",
            AuditAction::ScheduleDeleted => "Schedule deleted",
            AuditAction::BulkStarted => "Operation started on many tenants",
            AuditAction::PasswordChanged => "Password changed",
            AuditAction::SessionEnded => "Session ended from the account page",
            AuditAction::MfaEnabled => "Two-step sign-in turned on",
            AuditAction::MfaDisabled => "Two-step sign-in turned off",
            AuditAction::RecoveryCodesRenewed => "New recovery codes made",
            AuditAction::MfaRequirementChanged => "Two-step sign-in requirement changed",
            AuditAction::SsoLinked => "Single sign-on linked",
            AuditAction::SsoUnlinked => "Single sign-on unlinked",
            AuditAction::SsoRequirementChanged => "Single sign-on requirement changed",
            AuditAction::BaselineCaptured => "Baseline captured",
            AuditAction::BaselineEdited => "Baseline edited (new version)",
            AuditAction::BaselineAssigned => "Baseline assigned",
            AuditAction::BaselineUnassigned => "Baseline assignment removed",
            AuditAction::BaselineDeleted => "Baseline deleted",
            AuditAction::DeviationAccepted => "Deviation from a baseline accepted",
            AuditAction::DeviationRevoked => "Accepted deviation revoked",
            AuditAction::ReviewPackDownloaded => "Review pack downloaded",
            AuditAction::ReviewPackExpired => "Review pack expired",
            AuditAction::RestoreExecuted => "Restore executed",
            AuditAction::OnboardingDraftSaved => "Onboarding draft saved",
            AuditAction::OnboardingBootstrapStarted => "Onboarding bootstrap started",
            AuditAction::InvitationCreated => "Invitation sent",
            AuditAction::InvitationResent => "Invitation renewed",
            AuditAction::InvitationRevoked => "Invitation revoked",
            AuditAction::InvitationAccepted => "Invitation accepted",
            AuditAction::OperationRefused => "Operation start refused",
            AuditAction::AlertRuleCreated => "Alert rule created",
            AuditAction::AlertRuleUpdated => "Alert rule changed",
            AuditAction::AlertRuleDeleted => "Alert rule deleted",
            AuditAction::AlertOpened => "Alert opened",
            AuditAction::AlertReopened => "Alert reopened",
            AuditAction::AlertAcknowledged => "Alert acknowledged",
            AuditAction::AlertSnoozed => "Alert snoozed",
            AuditAction::AlertWoke => "Snoozed alert woke up",
            AuditAction::AlertResolved => "Alert resolved",
            AuditAction::WebhookEndpointCreated => "Webhook endpoint added",
            AuditAction::WebhookEndpointUpdated => "Webhook endpoint changed",
            AuditAction::WebhookSecretRotated => "Webhook signing secret rotated",
            AuditAction::WebhookEndpointDisabled => "Webhook endpoint disabled",
            AuditAction::WebhookEndpointDeleted => "Webhook endpoint deleted",
            AuditAction::WebhookRedelivered => "Webhook message sent again",
            AuditAction::RetentionChanged => "Retention changed",
        }
    }
}

impl FromStr for AuditAction {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub id: AuditEntryId,
    pub at: i64,
    pub actor: String,
    pub action: AuditAction,
    pub target: String,
    pub outcome: AuditOutcome,
    pub tenant: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    pub outcome: Option<AuditOutcome>,
    pub tenant: Option<TenantId>,
    /// Keyset cursor: show entries with an id below this one.
    pub before: Option<AuditEntryId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub workspace: WorkspaceRef,
    pub entries: Vec<AuditEntryView>,
    pub next_before: Option<AuditEntryId>,
    pub tenants: Vec<TenantView>,
}

/// A zone's UTC offsets over a span of time: enough to show any instant of
/// that span in the zone without a time zone database (the browser's
/// islands read it from the page). Built on the server from the bundled
/// tzdb (`time_zones::rules`); formats exactly as the server does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneRules {
    pub name: String,
    /// (from ms, offset in seconds, abbreviation), ascending; the first
    /// applies before its start too.
    pub spans: Vec<(i64, i32, String)>,
}

impl ZoneRules {
    /// The zone's offset from UTC at `ms`, in milliseconds.
    pub fn offset_ms_at(&self, ms: i64) -> i64 {
        self.spans
            .iter()
            .rev()
            .find(|s| s.0 <= ms)
            .or_else(|| self.spans.first())
            .map_or(0, |s| i64::from(s.1) * 1000)
    }

    /// `2026-12-01 11:00 CET`.
    pub fn format(&self, ms: i64) -> String {
        let span = self
            .spans
            .iter()
            .rev()
            .find(|s| s.0 <= ms)
            .or_else(|| self.spans.first());
        match span {
            Some((_, offset, abbr)) => {
                let local = format_utc(ms + i64::from(*offset) * 1000);
                format!("{} {abbr}", local.trim_end_matches(" UTC"))
            }
            None => format_utc(ms),
        }
    }
}

/// `ms` in the zone of `rules`, or UTC without one.
pub fn format_in(ms: i64, rules: Option<&ZoneRules>) -> String {
    match rules {
        Some(r) => r.format(ms),
        None => format_utc(ms),
    }
}

/// `ms` as time from `now`, the way people say it: *just now*, *12 min ago*,
/// *3 h ago*, *2 days ago*, *in 5 min*; `None` past a week either way, where
/// only the date helps.
pub fn relative_text(ms: i64, now: i64) -> Option<String> {
    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;
    let gap = now - ms;
    let (past, d) = (gap >= 0, gap.unsigned_abs() as i64);
    let amount = if d < MIN {
        return Some(
            if past {
                "just now"
            } else {
                "in under a minute"
            }
            .to_string(),
        );
    } else if d < HOUR {
        format!("{} min", d / MIN)
    } else if d < DAY {
        format!("{} h", d / HOUR)
    } else if d < 7 * DAY {
        let days = d / DAY;
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    } else {
        return None;
    };
    Some(if past {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    })
}

/// A count with thousands separators: `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats UTC unix milliseconds as `YYYY-MM-DD HH:MM UTC` without a date
/// library, so the same code runs in the browser.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m) = (rem / 3600, (rem % 3600) / 60);
    // Civil-from-days (proleptic Gregorian), Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_795_427_640_000), "2026-11-23 09:54 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn says_how_long_ago() {
        let now = 1_795_427_640_000;
        let min = 60_000;
        assert_eq!(
            relative_text(now - 10_000, now).as_deref(),
            Some("just now")
        );
        assert_eq!(
            relative_text(now + 10_000, now).as_deref(),
            Some("in under a minute")
        );
        assert_eq!(
            relative_text(now - 12 * min, now).as_deref(),
            Some("12 min ago")
        );
        assert_eq!(
            relative_text(now + 5 * min, now).as_deref(),
            Some("in 5 min")
        );
        assert_eq!(
            relative_text(now - 185 * min, now).as_deref(),
            Some("3 h ago")
        );
        assert_eq!(
            relative_text(now - 25 * 60 * min, now).as_deref(),
            Some("1 day ago")
        );
        assert_eq!(
            relative_text(now - 6 * 1440 * min, now).as_deref(),
            Some("6 days ago")
        );
        assert_eq!(
            relative_text(now + 3 * 1440 * min, now).as_deref(),
            Some("in 3 days")
        );
        assert_eq!(relative_text(now - 7 * 1440 * min, now), None);
        assert_eq!(relative_text(now + 30 * 1440 * min, now), None);
    }

    #[test]
    fn separates_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
        assert_eq!(thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn offsets_follow_the_zone_spans() {
        let rules = ZoneRules {
            name: "Europe/Berlin".into(),
            spans: vec![
                (i64::MIN / 2, 3600, "CET".into()),
                (1000, 7200, "CEST".into()),
            ],
        };
        assert_eq!(rules.offset_ms_at(0), 3_600_000);
        assert_eq!(rules.offset_ms_at(1000), 7_200_000);
    }

    #[test]
    fn audit_actions_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
        }
    }
}

// ----- mail delivery (the outbox in `domain::mail`) -----

/// Why a send did not succeed, in our words (the server's never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Connection refused, reset or the name did not resolve.
    Unreachable,
    /// No answer within the deadline.
    TimedOut,
    /// TLS could not be set up.
    Tls,
    /// The server asked to try again later (4xx).
    Deferred,
    /// The server refused for good (5xx): sender, recipient or message.
    Refused,
    /// Our settings are wrong (URL, sender).
    Misconfigured,
}

impl Reason {
    pub fn words(self) -> &'static str {
        match self {
            Reason::Unreachable => "Could not reach the mail server.",
            Reason::TimedOut => "The mail server did not answer in time.",
            Reason::Tls => "A secure connection to the mail server could not be set up.",
            Reason::Deferred => "The mail server asked to try again later.",
            Reason::Refused => "The mail server refused the message.",
            Reason::Misconfigured => "Tenantry's mail settings are not valid.",
        }
    }
}

/// A message's delivery as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Delivery {
    /// Waiting for its first attempt.
    Queued,
    Sent {
        at: i64,
    },
    /// Failed `attempts` times; tries again at `next_at`.
    Retrying {
        attempts: i64,
        next_at: i64,
        reason: Reason,
    },
    /// Given up: copy the link instead.
    Failed {
        attempts: i64,
        reason: Reason,
    },
}

impl Delivery {
    /// The members page's words.
    pub fn words(&self) -> String {
        match self {
            Delivery::Queued => "Mail queued.".into(),
            Delivery::Sent { .. } => "Mail sent.".into(),
            Delivery::Retrying {
                attempts, reason, ..
            } => format!(
                "Mail not sent yet: {} Trying again shortly ({attempts} attempt(s) so far).",
                reason.words()
            ),
            Delivery::Failed { reason, .. } => format!(
                "Mail could not be sent: {} Copy the link and send it yourself.",
                reason.words()
            ),
        }
    }
}

/// A person's colour theme: the system's (light or dark as the device says),
/// or always light, or always dark. Stored as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// The words on its button.
    pub fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    pub fn parse(raw: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}
