//! Tenants: the customer tenants a workspace governs, their groups (tags),
//! and what may be started on many of them at once.

use crate::ids::{TagId, TenantId};
use crate::runs::OperationType;
use crate::views::TagView;
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;
#[cfg(feature = "server")]
pub mod tags;

/// Operations a bulk start may start on many tenants: the read operations.
/// (Review packs are limited per member; restore needs per-tenant choices.)
pub fn bulk_startable() -> Vec<OperationType> {
    crate::runs::model::registered_types()
        .iter()
        .copied()
        .filter(|t| t.spec().bulk_startable)
        .collect()
}

/// The tenants page's tag panel: the tags, who carries them, what may change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagsPanel {
    pub workspace: crate::ids::WorkspaceId,
    pub tags: Vec<TagView>,
    /// (tag, tenant) pairs, for the filter and the chips.
    pub members: Vec<(TagId, TenantId)>,
    pub can_manage: bool,
}
