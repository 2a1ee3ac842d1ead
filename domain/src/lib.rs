//! Everything Tenantry knows, without web or UI code: the features, standing
//! on the run engine and the bottom layer (the `engine` crate, re-exported
//! here under their old paths so `crate::store`, `crate::runs` … still read).
//!
//! Always compiled (also to wasm for the browser islands): view types, specs
//! and the presenter's inputs; behind the `server` feature: storage, the
//! features' services, handlers and sweeps.

pub mod alerts;
pub mod baselines;
pub mod drift;
pub mod fleet;
pub mod inventory;
pub mod operations;
pub mod provider;
pub mod restore;
pub mod retention;
pub mod review_packs;
pub mod schedules;
pub mod search;
pub mod support;

#[cfg(feature = "server")]
pub mod demo;
pub mod identity;
#[cfg(feature = "server")]
pub use identity::throttle as sign_in_throttle;
#[cfg(feature = "server")]
pub use identity::{accounts, invitations, mfa, sessions, sso};
#[cfg(feature = "server")]
pub use workspaces::setup;
#[cfg(feature = "server")]
pub mod mail;
#[cfg(feature = "server")]
pub mod notifications;
pub mod onboarding;
#[cfg(feature = "server")]
pub mod outbound;
pub mod tenants;
#[cfg(feature = "server")]
pub mod time_zones;
pub mod workspaces;

#[cfg(feature = "server")]
pub use engine::{
    access, actor, audit, clock, failpoints, limits, secrets, services, signal, store, telemetry,
    zones,
};
pub use engine::{error, ids, rbac, runs, validate, views};

pub use error::{AppError, AppResult};
