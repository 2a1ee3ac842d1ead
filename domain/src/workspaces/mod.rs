//! Workspaces: creating and switching them, the shell, the overview, the
//! audit page, the platform's list, and first-run setup (the first owner
//! and workspace). Members and their sign-in rules live with identity.

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;
#[cfg(feature = "server")]
pub mod setup;
pub mod views;
