//! Simulators of the HTTP peers Tenantry talks to. Each runs on its own
//! (`tenantry-sim`) or inside a test or `tenantry demo` on a free port.

pub mod graph;
pub mod halopsa;
pub mod smtp;
pub mod webhooks;
