//! Operation runs: the model and presenter (wasm-safe), and behind the
//! `server` feature the start gate, run service, workers and reconciler.

pub mod filter;
pub mod model;
pub mod next_steps;
pub mod presenter;
pub mod probe;
pub mod views;

#[cfg(feature = "server")]
pub mod catalogue;
#[cfg(feature = "server")]
pub mod end_marks;
#[cfg(feature = "server")]
pub mod gate;
#[cfg(feature = "server")]
pub mod handlers;
#[cfg(feature = "server")]
pub mod monitoring;
#[cfg(feature = "server")]
pub mod reconciler;
#[cfg(feature = "server")]
pub mod service;
#[cfg(feature = "server")]
pub mod sql;
#[cfg(feature = "server")]
pub mod trends;
#[cfg(feature = "server")]
pub mod triage;
#[cfg(feature = "server")]
pub mod wake;
#[cfg(feature = "server")]
pub mod worker;

pub use model::*;
