//! Simulators of the HTTP peers Tenantry talks to. Each runs on its own
//! (`tenantry-sim`) or inside a test or `tenantry demo` on a free port.

pub mod graph;
pub mod halopsa;
pub mod smtp;
pub mod webhooks;

/// Text safe inside HTML (the simulators' pages show what peers sent).
pub(crate) fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
