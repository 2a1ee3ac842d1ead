//! The inventory room: the policy kinds Tenantry reads and writes, policies
//! as snapshots hold them, and the one setting comparison. Drift, restore,
//! baselines and review packs stand on it; it stands on nothing but serde (and, on the server, the store: `stored`).

mod policies;
mod settings;
#[cfg(feature = "server")]
pub mod stored;

pub use policies::{InventoryItem, PolicyKind, PolicyVersion};
pub use settings::{
    IGNORED, PreviewAction, SettingChange, SettingDelta, diff, same_setting, setting_deltas, shown,
};

/// The inventory room's sweep: rows stored before content addressing move
/// into bodies and references, a batch at a time.
#[cfg(feature = "server")]
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    c.with_sweep("inventory bodies", |svc| {
        Box::pin(async move { stored::sweep_legacy(&svc).await })
    });
}
