#![recursion_limit = "256"]
//! The `tenantry` server: configuration, the axum router with its layered
//! middleware (session → CSRF → security headers), static files and the CLI.

pub mod bench;
pub mod bench_monitoring;
pub mod config;
pub mod downloads;
pub mod error_page;
pub mod middleware;
pub mod startup;
pub mod web;

pub use config::{Config, ProviderConfig};
pub use startup::Application;
