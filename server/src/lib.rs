#![recursion_limit = "256"]
//! The `tenantry` server: configuration, the axum router with its layered
//! middleware (session → CSRF → security headers), static files and the CLI.

pub mod assets;
pub mod backup;
#[cfg(feature = "demo")]
pub mod bench;
#[cfg(feature = "demo")]
pub mod bench_alerts;
#[cfg(feature = "demo")]
pub mod bench_baselines;
#[cfg(feature = "demo")]
pub mod bench_drift;
#[cfg(feature = "demo")]
pub mod bench_fleet;
#[cfg(feature = "demo")]
pub mod bench_fleet_page;
#[cfg(feature = "demo")]
pub mod bench_http;
#[cfg(feature = "demo")]
pub mod bench_monitoring;
#[cfg(feature = "demo")]
pub mod bench_pages;
#[cfg(feature = "demo")]
pub mod bench_search;
#[cfg(feature = "demo")]
pub mod bench_year;
pub mod cli;
pub mod config;
pub mod consent;
#[cfg(feature = "demo")]
pub mod demo;
pub mod downloads;
pub mod error_page;
pub mod logging;
pub mod metrics;
pub mod middleware;
pub mod serving;
pub mod shedding;
pub mod sso;
pub mod startup;
pub mod state;
pub mod web;

pub use config::{Config, ProviderConfig};
pub use startup::Application;
