//! Server functions, one file per feature. Each is thin: resolve the actor,
//! make one domain call, map the typed error. Mutations are POST (the macro
//! default); loaders are POST too, so no state is readable cross-site. A
//! function's path is declared once, in its `#[server]` attribute; forms
//! and islands name it through `crate::forms::target::<F>()`.

/// Where every server function lives (each `#[server(prefix = "/api")]`).
pub const PREFIX: &str = "/api/";

/// The path of server function `F` (declared once, in its attribute).
pub fn path_of<F: leptos::server_fn::ServerFn>() -> &'static str {
    F::PATH
}

mod account;
pub mod alerts;
pub mod baselines;
mod members;
mod onboarding;
pub mod provider;
mod restore;
mod retention;
mod review_packs;
mod runs;
pub mod schedules;
mod search;
mod session;
mod support;
mod tenants;
mod workspaces;

pub use account::*;
pub use members::*;
pub use onboarding::*;
pub use restore::*;
pub use retention::*;
pub use review_packs::*;
pub use runs::*;
pub use search::*;
pub use session::*;
pub use support::*;
pub use tenants::*;
pub use workspaces::*;
