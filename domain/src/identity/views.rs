//! What the account, sign-in, setup, invitation and members pages show
//! (wasm-safe).

use crate::ids::{TenantId, UserId};
use crate::rbac::Role;
use crate::views::{Delivery, TenantView, WorkspaceRef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub joined_at: i64,
    /// Assigned tenants; meaningful for operator and readonly members.
    pub assigned_tenants: Vec<TenantId>,
    /// Whether they sign in with an authenticator code too.
    pub mfa: bool,
    /// Whether they sign in with single sign-on (their provider's factors).
    pub sso: bool,
    /// Too many wrong two-step codes: only recovery codes work for them.
    pub codes_stopped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersPage {
    pub workspace: WorkspaceRef,
    pub members: Vec<MemberView>,
    /// Pending invitations (only for members who manage members).
    pub invitations: Vec<InvitationView>,
    pub tenants: Vec<TenantView>,
    pub can_manage: bool,
    pub viewer: UserId,
    /// Members must use two-step sign-in (only owners change it).
    pub require_mfa: bool,
    /// Members must sign in with single sign-on (`None`: not configured).
    pub require_sso: Option<bool>,
    /// The provider's name when single sign-on is configured.
    pub sso_name: Option<String>,
    pub viewer_is_owner: bool,
}

/// A pending invitation as the members page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub id: crate::ids::InvitationId,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The path of the invitation link (`/invite/…`), for the inviter to copy.
    pub link: String,
    /// Its mail's delivery, when mail is configured.
    pub mail: Option<Delivery>,
    /// The tenants they will see (operators and read-only members).
    pub tenants: Vec<String>,
}

/// What the person holding an invitation link sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationLanding {
    pub workspace_name: String,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<String>,
    pub expires_at: i64,
    /// The signed-in account's email, when someone is signed in.
    pub signed_in_as: Option<String>,
    /// Single sign-on's name when configured (*Join with Microsoft*).
    pub sso: Option<String>,
}

/// What the sign-in page offers besides the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptions {
    /// No account exists yet: point at `/setup`.
    pub setup_open: bool,
    /// Single sign-on's name when configured.
    pub sso: Option<String>,
}

/// One of the signed-in person's sessions, as their account page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// A public handle (never the session's secret or its hash).
    pub id: String,
    /// The session of this very page.
    pub current: bool,
    pub device: String,
    pub address: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// `/admin/account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountPage {
    pub email: String,
    pub sessions: Vec<SessionView>,
    pub min_password: usize,
    pub mfa: MfaStatus,
    /// Their time zone (`None`: UTC) and every zone they may choose.
    pub time_zone: Option<String>,
    pub time_zones: Vec<String>,
    /// Single sign-on, when configured: the linked identities.
    pub sso: Option<SsoAccount>,
}

/// Your account's single sign-on card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoAccount {
    /// The provider's name (`Microsoft`).
    pub name: String,
    pub identities: Vec<IdentityView>,
}

/// One linked identity, named by a handle (its subject stays private).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityView {
    pub id: String,
    pub email: Option<String>,
    pub linked_at: i64,
    pub last_used_at: Option<i64>,
}

/// Where a person's two-step sign-in stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaStatus {
    /// Since when an authenticator app's codes are asked at sign-in.
    pub enabled_at: Option<i64>,
    /// Enrolment started and not confirmed yet.
    pub enrolling: bool,
    /// Unused recovery codes.
    pub recovery_left: i64,
    /// Workspaces of theirs that require it (named, for the banner).
    pub required_by: Vec<String>,
}

/// The enrolment page: what the authenticator app needs, or the recovery
/// codes to write down (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MfaEnrolPage {
    /// Scan this (or type the key) and confirm with a code.
    Scan {
        /// The QR code of the `otpauth://` address, as an SVG document.
        qr_svg: String,
        /// The secret in groups of four, for typing in by hand.
        key: String,
        account: String,
    },
    /// Just confirmed: the ten recovery codes, shown this once.
    RecoveryCodes(Vec<String>),
    /// On already, codes shown before.
    Enabled,
    /// Not started (go back to the account page to start).
    NotStarted,
}

/// The first-run setup page (only while no account exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupPage {
    pub min_password: usize,
}

/// The second sign-in step's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInCodePage {
    /// Whose sign-in waits for a code (so they know which account).
    pub email: String,
}

/// A short name for a user agent: `Firefox on Windows`, `Chrome on Android`.
pub fn device_label(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else {
        return "Unknown device".into();
    };
    let browser = if ua.contains("Edg/") {
        Some("Edge")
    } else if ua.contains("Firefox/") {
        Some("Firefox")
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        Some("Chrome")
    } else if ua.contains("Safari/") {
        Some("Safari")
    } else {
        None
    };
    let system = if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        Some("iOS")
    } else if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        Some("macOS")
    } else if ua.contains("Linux") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => ua.chars().take(40).collect(),
    }
}

#[cfg(test)]
mod device_tests {
    use super::device_label;

    #[test]
    fn user_agents_get_short_names() {
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0";
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        let edge =
            "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0";
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_label(Some(firefox)), "Firefox on Windows");
        assert_eq!(device_label(Some(chrome)), "Chrome on Linux");
        assert_eq!(device_label(Some(edge)), "Edge on Windows");
        assert_eq!(device_label(Some(safari)), "Safari on iOS");
        assert_eq!(device_label(Some("curl/8.0")), "curl/8.0");
        assert_eq!(device_label(None), "Unknown device");
        assert_eq!(device_label(Some("  ")), "Unknown device");
    }
}
