//! The run engine and the bottom layer it stands on: ids, errors, validated
//! input, the capability table, shared view types, storage, the clock,
//! secrets, the service handle and its ports, the guard and the audit log,
//! and `runs` (the start gate, run service, workers, reconciler, catalogue,
//! presenter). It depends on no feature: features register their operation
//! types and their handlers, hooks and sweeps with it (`domain::operations`).
//!
//! Always compiled (also to wasm for the browser islands): ids, closed enums,
//! the capability table, validated input newtypes, view types, operation
//! specs and the presenter; behind the `server` feature: everything that
//! touches the database, the network or the clock.

#[macro_use]
mod enums;

pub mod error;
pub mod ids;
pub mod rbac;
pub mod runs;
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
pub mod failpoints;
#[cfg(feature = "server")]
pub mod limits;
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
#[cfg(feature = "server")]
pub mod zones;

pub use error::{AppError, AppResult};
