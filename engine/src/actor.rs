//! Who is asking: the signed-in person of one request. Below the guard and
//! the audit log, which both name it.

use crate::ids::{UserId, WorkspaceId};
pub use crate::views::Theme;

/// The signed-in user of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub email: String,
    pub is_platform_operator: bool,
    pub session_id_hash: String,
    pub current_workspace: Option<WorkspaceId>,
    /// A workspace of theirs requires two-step sign-in and they have not set
    /// it up: only their account page (to set it up) and signing out work.
    pub mfa_owed: bool,
    /// Their time zone for showing times (an IANA name; `None`: UTC).
    pub time_zone: Option<String>,
    /// Their colour theme for pages.
    pub theme: Theme,
}
