//! The inventory room: the policy kinds Tenantry reads and writes, policies
//! as snapshots hold them, and the one setting comparison. Drift, restore,
//! baselines and review packs stand on it; it stands on nothing but serde.

mod policies;
mod settings;

pub use policies::{InventoryItem, PolicyKind, PolicyVersion};
pub use settings::{
    IGNORED, PreviewAction, SettingChange, SettingDelta, diff, same_setting, setting_deltas, shown,
};
