//! What every handler and page render gets: the domain's service handle,
//! the Leptos options, cookie settings and the accepted hosts. Below the
//! routes that take it and the start-up that builds it.

use app::ctx::CookieSettings;
use axum::extract::FromRef;
use domain::services::Services;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub leptos_options: LeptosOptions,
    pub cookies: Arc<CookieSettings>,
    /// Hosts, origins and proxies the router accepts (from config and the bound port).
    pub allowed: Arc<crate::web::Allowed>,
    /// The browser's files and the key that names this build of them.
    pub assets: crate::assets::Assets,
}

impl FromRef<AppState> for crate::assets::Assets {
    fn from_ref(state: &AppState) -> Self {
        state.assets.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
