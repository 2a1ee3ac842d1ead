//! The handle every domain call takes: storage, clock, the secret box,
//! policy settings, and the ports features install (the Graph client, the
//! support desk, mail, single sign-on, the engine's catalogue).
//!
//! Below every feature: this module names none. A feature owns its port's
//! type and reads it back by type (`svc.port::<DeskConfig>()`); the
//! composition root (`operations::services`, `tenantry serve`) installs them.

use crate::clock::{Clock, SystemClock};
use crate::secrets::SecretBox;
use crate::signal::RunSignal;
use crate::store::Store;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Settings {
    /// A session unused for this long is over.
    pub session_idle_ms: i64,
    /// A session is over this long after sign-in, used or not.
    pub session_absolute_ms: i64,
    /// Sign-in attempts per account from browsers without its device cookie
    /// within the window; past it they are not checked until the window ends.
    pub account_failure_limit: i64,
    /// Failed sign-ins per client address within the window before it is locked.
    pub address_failure_limit: i64,
    /// Sign-in attempts per device cookie (a browser that signed in to the
    /// account before) within the window; such a browser is held by this
    /// limit only, never by the account's or the address's.
    pub device_failure_limit: i64,
    pub throttle_window_ms: i64,
    pub throttle_lockout_ms: i64,
    /// How long a generated review pack stays downloadable.
    pub review_pack_ttl_ms: i64,
    /// Whether any signed-in account may create a workspace (platform
    /// operators always may). `tenantry serve` leaves it off unless
    /// `--allow-workspace-creation`; the demo and this default (tests) allow it.
    pub allow_workspace_creation: bool,
    /// A targeted account's attempts beyond `account_failure_limit` are spaced
    /// this far apart (a soft lock: slower, never a lockout of its owner)…
    pub account_attempt_spacing_ms: i64,
    /// …and an attempt that would wait longer than this is answered as a
    /// failed sign-in without checking the password.
    pub account_attempt_max_wait_ms: i64,
    /// Per-member limits on support requests, blocked starts and review packs.
    pub limits: crate::limits::AbuseLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_idle_ms: 30 * 60 * 1000,
            session_absolute_ms: 12 * 60 * 60 * 1000,
            account_failure_limit: 5,
            address_failure_limit: 20,
            device_failure_limit: 10,
            throttle_window_ms: 15 * 60 * 1000,
            throttle_lockout_ms: 15 * 60 * 1000,
            review_pack_ttl_ms: 30 * 24 * 60 * 60 * 1000,
            allow_workspace_creation: true,
            account_attempt_spacing_ms: 2_000,
            account_attempt_max_wait_ms: 10_000,
            limits: crate::limits::AbuseLimits::default(),
        }
    }
}

#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Wakes this process's workers when runs are admitted.
    pub run_signal: RunSignal,
    /// Seals what is stored secret (client secrets, two-step keys, mail bodies).
    pub secrets: Arc<SecretBox>,
    /// Where generated files (review packs) live; paths in rows are relative to it.
    pub data_dir: Arc<std::path::PathBuf>,
    /// The address people open (`--public-url`, else the bound address), for
    /// links that leave Tenantry (desk tickets). `None` outside `serve`.
    pub public_url: Option<Arc<str>>,
    /// Points between writes where tests crash this process (none armed in
    /// a real one).
    pub failpoints: Arc<crate::failpoints::Failpoints>,
    /// What features installed, one value per type.
    ports: Ports,
}

/// Values features install in the handle, keyed by their type. Cloning the
/// handle shares them; `with_port` on a clone changes only that clone.
#[derive(Clone, Default)]
struct Ports(Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl Services {
    /// A handle with no ports installed and a throwaway secret key (the
    /// composition root, `operations::services`, installs the catalogue).
    pub fn new(store: Store, settings: Settings) -> Self {
        Services {
            store,
            clock: Arc::new(SystemClock),
            settings: Arc::new(settings),
            run_signal: RunSignal::default(),
            secrets: Arc::new(SecretBox::random()),
            data_dir: Arc::new(std::path::PathBuf::from(".")),
            public_url: None,
            failpoints: Arc::default(),
            ports: Ports::default(),
        }
    }

    /// Installs (or replaces) the port of type `T`.
    pub fn with_port<T: Any + Send + Sync>(mut self, port: T) -> Self {
        Arc::make_mut(&mut self.ports.0).insert(TypeId::of::<T>(), Arc::new(port));
        self
    }

    /// Installs `port` when there is one, removes the type's port otherwise.
    pub fn with_optional_port<T: Any + Send + Sync>(mut self, port: Option<T>) -> Self {
        match port {
            Some(port) => self.with_port(port),
            None => {
                Arc::make_mut(&mut self.ports.0).remove(&TypeId::of::<T>());
                self
            }
        }
    }

    /// The installed port of type `T`, if any.
    pub fn port<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let port = self.ports.0.get(&TypeId::of::<T>())?.clone();
        port.downcast::<T>().ok()
    }

    pub fn with_secrets(mut self, secrets: Arc<SecretBox>) -> Self {
        self.secrets = secrets;
        self
    }

    /// `origin` is scheme and host (`https://tenantry.example.com`), no path.
    pub fn with_public_url(mut self, origin: impl Into<Arc<str>>) -> Self {
        self.public_url = Some(origin.into());
        self
    }

    /// A path inside Tenantry as a link that works outside it (the path
    /// alone when no address is known).
    pub fn link(&self, path: &str) -> String {
        match &self.public_url {
            Some(origin) => format!("{}{path}", origin.trim_end_matches('/')),
            None => path.to_string(),
        }
    }

    pub fn with_data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.data_dir = Arc::new(dir.into());
        self
    }

    pub fn with_failpoints(mut self, failpoints: crate::failpoints::Failpoints) -> Self {
        self.failpoints = Arc::new(failpoints);
        self
    }

    /// A point between two writes (see [`crate::failpoints`]).
    pub fn failpoint(&self, name: &str) -> crate::error::AppResult<()> {
        self.failpoints.hit(name)
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}
