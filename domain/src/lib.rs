//! Everything Tenantry knows, without web or UI code.
//!
//! The crate has two layers:
//! - always compiled (also to wasm for the browser islands): ids, closed enums,
//!   the capability table, validated input newtypes, view types and the typed
//!   [`AppError`] that crosses the wire;
//! - behind the `server` feature: storage (SQLite + PostgreSQL), accounts and
//!   sessions, workspaces, tenants, the access guard and the audit log.

#[macro_use]
mod enums;

pub mod baselines;
pub mod drift;
pub mod error;
pub mod fleet;
pub mod ids;
pub mod inventory;
pub mod operations;
pub mod provider;
pub mod rbac;
pub mod restore;
pub mod review_packs;
pub mod runs;
pub mod schedules;
pub mod support;
pub mod validate;
pub mod views;

#[cfg(feature = "server")]
pub mod access;
#[cfg(feature = "server")]
pub mod actor;
#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod clock;
#[cfg(feature = "server")]
pub mod demo;
#[cfg(feature = "server")]
pub mod failpoints;
pub mod identity;
#[cfg(feature = "server")]
pub use identity::throttle as sign_in_throttle;
#[cfg(feature = "server")]
pub use identity::{accounts, invitations, mfa, sessions, sso};
#[cfg(feature = "server")]
pub use workspaces::setup;
#[cfg(feature = "server")]
pub mod limits;
#[cfg(feature = "server")]
pub mod mail;
#[cfg(feature = "server")]
pub mod notifications;
pub mod onboarding;
#[cfg(feature = "server")]
pub mod outbound;
#[cfg(feature = "server")]
pub mod secrets;
#[cfg(feature = "server")]
pub mod services;
#[cfg(feature = "server")]
pub mod signal;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod telemetry;
pub mod tenants;
#[cfg(feature = "server")]
pub mod time_zones;
pub mod workspaces;

pub use error::{AppError, AppResult};
