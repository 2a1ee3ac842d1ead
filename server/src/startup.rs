//! Builds the application (zero2prod style): `Application::build` binds the
//! listener (port 0 in tests) and wires state, routes and middleware.

use crate::config::Config;
use crate::middleware;
use app::ctx::{ClientAddress, CookieSettings, CurrentActor};
use app::{App, shell};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use domain::AppError;
use domain::runs::reconciler;
use domain::runs::worker::{Worker, WorkerConfig};
use domain::services::Services;
use domain::store::{Store, StoreOptions};
use http::{HeaderValue, StatusCode, header};
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use std::time::Duration;

pub use crate::state::AppState;

pub struct Application {
    /// How long in-flight requests may finish after shutdown is asked.
    drain: std::time::Duration,
    connections: crate::serving::ConnectionLimits,
    port: u16,
    listener: tokio::net::TcpListener,
    router: Router,
    services: Services,
    workers: usize,
    worker: WorkerConfig,
    reconcile_every_ms: u64,
}

const FAVICON: &[u8] = include_bytes!("../../public/favicon.ico");

/// Context every page render and server function gets: domain services,
/// cookie settings, and what the session middleware resolved.
fn request_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let services = state.services.clone();
    let cookies = state.cookies.clone();
    move || {
        provide_context(services.clone());
        provide_context((*cookies).clone());
        if let Some(parts) = use_context::<http::request::Parts>() {
            provide_context(
                parts
                    .extensions
                    .get::<CurrentActor>()
                    .cloned()
                    .unwrap_or(CurrentActor(None)),
            );
            if let Some(a) = parts.extensions.get::<ClientAddress>() {
                provide_context(a.clone());
            }
            if let Some(o) = parts.extensions.get::<app::ctx::SiteOrigin>() {
                provide_context(o.clone());
            }
        }
    }
}

/// Page renders also get a CSP whose nonce matches the hydration script.
fn page_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let base = request_context(state);
    move || {
        base();
        if let (Some(nonce), Some(res)) = (
            leptos::nonce::use_nonce(),
            use_context::<leptos_axum::ResponseOptions>(),
        ) && let Ok(v) = HeaderValue::from_str(&middleware::page_csp(&nonce.to_string()))
        {
            res.insert_header(header::CONTENT_SECURITY_POLICY, v);
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.services.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response(),
    }
}

async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/x-icon")], FAVICON).into_response()
}

/// Starts `workers` in-process workers and the reconciler; they stop when
/// `stop` turns true. On PostgreSQL a listener turns NOTIFY into wake-ups.
pub fn start_background(
    services: &Services,
    workers: usize,
    config: &WorkerConfig,
    reconcile_every_ms: u64,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    domain::runs::wake::start_cross_process(services);
    for _ in 0..workers {
        let worker = Worker::new(services.clone(), config.clone());
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let id = worker.id.clone();
            let report = worker.run(stop).await;
            tracing::info!(worker = %id, ?report, "worker stopped");
        }));
    }
    // Mail goes out from processes that run work (a `serve --workers 0`
    // leaves it to its `tenantry worker` processes).
    if services.port::<domain::mail::MailConfig>().is_some() && workers > 0 {
        tasks.push(tokio::spawn(domain::mail::run_periodically(
            services.clone(),
            stop.clone(),
        )));
    }
    // Alerts: evaluation of ended runs and the deliveries it queues, from
    // processes that run work (any number of them: both are exactly-once
    // per event and per claimed row).
    if workers > 0 {
        tasks.push(tokio::spawn(domain::alerts::evaluate::run_periodically(
            services.clone(),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(domain::alerts::send::run_periodically(
            services.clone(),
            stop.clone(),
        )));
    }
    if reconcile_every_ms > 0 {
        let svc = services.clone();
        tasks.push(tokio::spawn(reconciler::run_periodically(
            svc,
            Duration::from_millis(reconcile_every_ms),
            stop,
        )));
    }
    tasks
}

/// `TENANTRY_FAILPOINTS` (builds with the demo feature only: the suite's
/// crash tests run `tenantry` processes that abort between two writes).
#[cfg(feature = "demo")]
pub(crate) fn with_test_failpoints(services: Services) -> Services {
    match std::env::var("TENANTRY_FAILPOINTS") {
        Ok(spec) => match domain::failpoints::Failpoints::from_spec(&spec) {
            Ok(points) => services.with_failpoints(points),
            Err(e) => {
                tracing::error!(error = %e, "TENANTRY_FAILPOINTS ignored");
                services
            }
        },
        Err(_) => services,
    }
}

#[cfg(not(feature = "demo"))]
pub(crate) fn with_test_failpoints(services: Services) -> Services {
    services
}

impl Application {
    /// Connects and migrates the database, then builds the app.
    pub async fn build(config: Config) -> Result<Application, AppError> {
        let store = Store::connect(
            &config.database_url,
            StoreOptions {
                max_connections: config.db_max_connections,
                ..StoreOptions::default()
            },
        )
        .await?;
        store.migrate().await?;
        let provider = config.provider.runtime().map_err(|e| {
            tracing::error!(error = %e, "provider runtime");
            AppError::Internal
        })?;
        let services = provider
            .installed_in(domain::operations::services(store, config.settings.clone()))
            .with_data_dir(config.provider.data_dir.clone())
            .with_port(config.support_desk.clone())
            .with_optional_port(config.mail.clone())
            .with_optional_port(config.sso.clone())
            .with_port(config.webhook_networks.clone());
        let services = with_test_failpoints(services);
        Self::build_with(config, services).await
    }

    /// Builds the app around ready services (tests inject a manual clock).
    pub async fn build_with(config: Config, services: Services) -> Result<Application, AppError> {
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, bind = %config.bind, "cannot bind");
                AppError::Unavailable
            })?;
        let bound = listener.local_addr().map_err(|_| AppError::Internal)?;
        let port = bound.port();
        // Links that leave Tenantry (desk tickets) point at the public address.
        let services = services.with_public_url(match &config.web.public_url {
            Some(public) => public.origin(),
            None if bound.ip().is_unspecified() => format!("http://localhost:{port}"),
            None => format!("http://{bound}"),
        });
        let assets = crate::assets::Assets::load(&config.site_root.join("pkg"));
        let leptos_options = LeptosOptions::builder()
            .output_name("tenantry")
            .site_root(config.site_root.to_string_lossy().to_string())
            // Pages load this build's files by a path naming their content.
            .site_pkg_dir(assets.versioned_dir())
            .site_addr(config.bind)
            .build();
        let cookies = Arc::new(CookieSettings {
            secure: config.secure_cookies,
            max_age_secs: services.settings.session_absolute_ms / 1000,
        });
        let state = AppState {
            services: services.clone(),
            leptos_options: leptos_options.clone(),
            cookies,
            allowed: Arc::new(crate::web::Allowed::new(&config.web, bound)),
            assets,
        };
        let routes = generate_route_list(App);
        let shell_options = leptos_options.clone();
        let fallback_options = leptos_options.clone();
        let fallback =
            leptos_axum::render_app_async_with_context(page_context(&state), move || {
                shell(fallback_options.clone())
            });
        let router = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/favicon.ico", get(favicon))
            .route(
                "/admin/t/{tenant}/review-packs/{pack}/{file}",
                get(crate::downloads::review_pack_file),
            )
            .route(
                domain::retention::EXPIRING_AUDIT_PATH,
                get(crate::downloads::expiring_audit),
            )
            .route(
                "/admin/t/{tenant}/connections/{connection}/consent",
                get(crate::consent::start),
            )
            .route(
                domain::provider::consent::CALLBACK_PATH,
                get(crate::consent::callback),
            )
            .route("/sign-in/sso", get(crate::sso::start))
            .route(domain::sso::CALLBACK_PATH, get(crate::sso::callback))
            .route("/", get(|| async { Redirect::to("/admin") }))
            .leptos_routes_with_context(&state, routes, page_context(&state), move || {
                shell(shell_options.clone())
            })
            .route("/pkg/{*path}", get(crate::assets::serve))
            .fallback(move |req: axum::extract::Request| {
                let fallback = fallback.clone();
                async move { fallback(req).await }
            })
            .layer(axum::middleware::from_fn(
                middleware::server_fn_error_status,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::plain_form_errors,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::resolve_session,
            ))
            .layer(axum::middleware::from_fn(middleware::clean_queries))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::reject_cross_site,
            ))
            .layer(axum::middleware::from_fn(middleware::one_unit_of_work))
            .layer(axum::middleware::from_fn(middleware::catch_panics))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::allowed_hosts,
            ))
            // Shed and time out inside the security headers (every 503 gets them).
            .layer(axum::middleware::from_fn_with_state(
                crate::shedding::Shedder::new(config.web.limits),
                crate::shedding::shed,
            ))
            // Bodies are read (bounded in size and time) before a slot is taken.
            .layer(axum::middleware::from_fn_with_state(
                config.web.limits.body_timeout,
                middleware::bounded_forms,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::security_headers,
            ))
            .layer(axum::middleware::from_fn(middleware::request_id))
            .with_state(state.clone());

        Ok(Application {
            drain: config.web.limits.drain,
            connections: config.web.connections,
            port,
            listener,
            router,
            services,
            workers: config.workers,
            worker: config.worker.clone(),
            reconcile_every_ms: config.reconcile_every_ms,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let background = start_background(
            &self.services,
            self.workers,
            &self.worker,
            self.reconcile_every_ms,
            stop_rx,
        );
        let served = crate::serving::serve(
            self.listener,
            self.router,
            self.connections,
            self.drain,
            async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            },
        )
        .await;
        for task in background {
            let _ = task.await;
        }
        served
    }
}
