//! Test harness: a fresh database per test on SQLite or PostgreSQL, the real
//! application on port 0, and an HTTP client that behaves like a browser
//! (same-origin headers, cookie jar).

use domain::access::Actor;
use domain::clock::ManualClock;
use domain::ids::{UserId, WorkspaceId};
use domain::services::{Services, Settings};
use domain::store::{Store, StoreOptions};
use domain::validate::{Email, NewPassword};
use rand::Rng;
use server::{Application, Config};
use std::path::PathBuf;
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery staple";
/// 2026-01-01T00:00:00Z: tests start from a fixed instant.
pub const T0: i64 = 1_767_225_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn pg_admin_url() -> String {
    std::env::var("TENANTRY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database that exists for one test and is dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    backend: Backend,
    name: String,
    sqlite_path: Option<PathBuf>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        let name = format!("tenantry_t_{:016x}", rand::thread_rng().r#gen::<u64>());
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                TestDatabase {
                    url: format!("sqlite://{}", path.display()),
                    backend,
                    name,
                    sqlite_path: Some(path),
                }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = pg_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin).await.expect(
                    "PostgreSQL must be running at 127.0.0.1:5432 for the PostgreSQL tests",
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or(admin);
                TestDatabase {
                    url: format!("{base}/{name}"),
                    backend,
                    name,
                    sqlite_path: None,
                }
            }
        }
    }
}

impl TestDatabase {
    /// The test's own data directory (generated files), removed with the database.
    pub fn data_dir(&self) -> PathBuf {
        std::env::temp_dir().join(format!("{}-data", self.name))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.data_dir());
        match self.backend {
            Backend::Sqlite => {
                if let Some(p) = &self.sqlite_path {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
                    }
                }
            }
            Backend::Postgres => {
                let name = self.name.clone();
                // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    rt.block_on(async move {
                        use sqlx::Connection;
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut conn)
                            .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub services: Services,
    pub clock: ManualClock,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    // Dropped last: the database outlives the server.
    _db: TestDatabase,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn open_store(url: &str) -> Store {
    open_store_with(
        url,
        StoreOptions {
            max_connections: 8,
            ..StoreOptions::default()
        },
    )
    .await
}

pub async fn open_store_with(url: &str, options: StoreOptions) -> Store {
    let store = Store::connect(url, options)
        .await
        .expect("connect test database");
    store.migrate().await.expect("migrate test database");
    store
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    app(backend).spawn().await
}

/// The one way tests build an app: a fresh database on `backend`, a manual
/// clock at [`T0`], no workers or reconciler (tests drive them), and what the
/// test adds: settings, a Graph, mail, single sign-on, web settings, pool
/// options, or a database reached through a proxy the test controls.
pub fn app(backend: Backend) -> AppBuilder {
    AppBuilder {
        backend,
        settings: Settings::default(),
        provider: None,
        web: Default::default(),
        mail: None,
        sso: None,
        webhook_networks: Default::default(),
        site_root: PathBuf::from("target/site"),
        pool: StoreOptions {
            max_connections: 8,
            ..StoreOptions::default()
        },
    }
}

pub struct AppBuilder {
    backend: Backend,
    settings: Settings,
    provider: Option<domain::provider::ProviderRuntime>,
    web: server::web::WebConfig,
    mail: Option<domain::mail::MailConfig>,
    sso: Option<domain::sso::SsoConfig>,
    pool: StoreOptions,
    webhook_networks: domain::alerts::ssrf::WebhookNetworks,
    site_root: PathBuf,
}

impl AppBuilder {
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Provider work talks to this Graph (a simulator) with this key.
    pub fn provider(mut self, provider: domain::provider::ProviderRuntime) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Public URL, trusted proxies.
    pub fn web(mut self, web: server::web::WebConfig) -> Self {
        self.web = web;
        self
    }

    /// Invitations are mailed through this server (no background sender:
    /// tests send with `domain::mail::send_due`).
    pub fn mail(mut self, mail: domain::mail::MailConfig) -> Self {
        self.mail = Some(mail);
        self
    }

    /// Single sign-on against this issuer (discovery happens at the first
    /// sign-in, so the provider may start after the app).
    pub fn sso(mut self, sso: domain::sso::SsoConfig) -> Self {
        self.sso = Some(sso);
        self
    }

    /// Alert webhooks may reach these networks (a receiver on 127.0.0.1).
    /// Where the built site is (default: the checkout's `target/site`).
    pub fn site(mut self, root: PathBuf) -> Self {
        self.site_root = root;
        self
    }

    pub fn webhooks(mut self, networks: domain::alerts::ssrf::WebhookNetworks) -> Self {
        self.webhook_networks = networks;
        self
    }

    /// The database pool's options (the concurrency test uses `serve`'s).
    pub fn pool(mut self, options: StoreOptions) -> Self {
        self.pool = options;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let db = TestDatabase::create(self.backend).await;
        let store = open_store_with(&db.url, self.pool.clone()).await;
        self.serve(db, store).await
    }

    /// An app on a database the test prepared (a restored backup).
    pub async fn spawn_on(self, db: TestDatabase) -> TestApp {
        let store = open_store_with(&db.url, self.pool.clone()).await;
        self.serve(db, store).await
    }

    /// On PostgreSQL, with the app reaching its database through a TCP proxy
    /// the test controls (to stop and restart "the database" under it).
    pub async fn spawn_via_proxy(self) -> (TestApp, crate::tcp_proxy::TcpProxy) {
        assert_eq!(
            self.backend,
            Backend::Postgres,
            "a proxy stands before PostgreSQL"
        );
        let db = TestDatabase::create(Backend::Postgres).await;
        // Migrate directly, then let the app connect through the proxy.
        drop(open_store(&db.url).await);
        let upstream: std::net::SocketAddr = "127.0.0.1:5432".parse().expect("addr");
        let proxy = crate::tcp_proxy::TcpProxy::start(upstream).await;
        let via = db
            .url
            .replacen("127.0.0.1:5432", &proxy.addr.to_string(), 1);
        assert_ne!(via, db.url, "the test database URL names 127.0.0.1:5432");
        let store = open_store_with(&via, StoreOptions::default()).await;
        (self.serve(db, store).await, proxy)
    }

    async fn serve(self, db: TestDatabase, store: Store) -> TestApp {
        let clock = ManualClock::new(T0);
        let mut services = domain::operations::services(store, self.settings.clone())
            .with_clock(Arc::new(clock.clone()))
            .with_data_dir(db.data_dir())
            .with_optional_port(self.mail)
            .with_optional_port(self.sso)
            .with_port(self.webhook_networks.clone());
        if let Some(p) = self.provider {
            services = p.installed_in(services);
        }
        let config = Config {
            database_url: db.url.clone(),
            bind: "127.0.0.1:0".parse().expect("addr"),
            site_root: self.site_root.clone(),
            secure_cookies: false,
            db_max_connections: 8,
            settings: self.settings,
            workers: 0,
            worker: Default::default(),
            reconcile_every_ms: 0,
            provider: Default::default(),
            support_desk: Default::default(),
            mail: None,
            sso: None,
            webhook_networks: Default::default(),
            web: self.web,
        };
        let app = Application::build_with(config, services.clone())
            .await
            .expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            address,
            services,
            clock,
            shutdown: Some(tx),
            _db: db,
        }
    }
}

/// A browser-like client: its own cookie jar, never follows redirects (tests
/// assert on them), sends same-origin fetch metadata on every request.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Self::with_agent(app, "")
    }

    /// A browser sending `agent` as its User-Agent (none when empty).
    pub fn with_agent(app: &TestApp, agent: &str) -> Browser {
        let mut builder = reqwest::Client::builder();
        if !agent.is_empty() {
            builder = builder.user_agent(agent.to_string());
        }
        Browser {
            client: builder
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                // A server that never answers fails the test with the request
                // named, instead of hanging the suite.
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .expect("client"),
            base: app.address.clone(),
        }
    }

    async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = res.text().await.unwrap_or_default();
        Reply {
            status,
            location,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .expect("GET");
        Self::reply(res).await
    }

    /// Calls a server function the way the form island does.
    pub async fn call(&self, path: &str, form: &[(&str, String)]) -> Reply {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .expect("POST");
        Self::reply(res).await
    }

    /// Posts a form the way the browser itself does (no script: it asks
    /// for HTML, not JSON).
    pub async fn post_plainly(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("sec-fetch-site", "same-origin")
            .header("accept", "text/html,application/xhtml+xml")
            .form(form)
            .send()
            .await
            .expect("POST");
        Self::reply(res).await
    }

    pub async fn sign_in(&self, email: &str) -> Reply {
        self.call(
            "/api/session/sign_in",
            &[
                ("email", email.to_string()),
                ("password", PASSWORD.to_string()),
            ],
        )
        .await
    }
}

impl TestApp {
    pub fn browser(&self) -> Browser {
        Browser::new(self)
    }

    pub async fn create_user(&self, email: &str, platform_operator: bool) -> UserId {
        domain::accounts::create_user(
            &self.services,
            &Email::parse(email).expect("email"),
            &NewPassword::parse(PASSWORD).expect("password"),
            platform_operator,
        )
        .await
        .expect("create user")
    }

    /// A signed-in browser for a new account.
    pub async fn user_browser(&self, email: &str, platform_operator: bool) -> (UserId, Browser) {
        let id = self.create_user(email, platform_operator).await;
        let b = self.browser();
        let r = b.sign_in(email).await;
        assert_eq!(r.status, 200, "sign in {email}: {}", r.body);
        (id, b)
    }

    /// An actor for calling the domain directly in test setup (no session).
    pub fn actor(&self, user: UserId, email: &str) -> Actor {
        setup_actor(user, email)
    }

    /// A new account owning a new workspace, both made through the domain.
    pub async fn owner_of(&self, email: &str, workspace: &str) -> (Actor, WorkspaceId) {
        let id = self.create_user(email, false).await;
        let owner = self.actor(id, email);
        let ws = domain::workspaces::create(&self.services, &owner, workspace)
            .await
            .expect("create workspace");
        (owner, ws)
    }

    /// The same, with the owner signed in through HTTP in a browser of their own.
    pub async fn signed_in_owner_of(
        &self,
        email: &str,
        workspace: &str,
    ) -> (Actor, Browser, WorkspaceId) {
        let (owner, ws) = self.owner_of(email, workspace).await;
        let b = self.browser();
        let r = b.sign_in(email).await;
        assert_eq!(r.status, 200, "sign in {email}: {}", r.body);
        (owner, b, ws)
    }
}

/// An owner signed in through HTTP who made a workspace through HTTP (the
/// invitation and mail suites): their browser and the workspace id as a
/// form value.
pub async fn owner_with_workspace(app: &TestApp) -> (Browser, String) {
    let (owner, b) = app.user_browser("owner@example.com", false).await;
    let r = b
        .call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ws = domain::workspaces::list_for_user(&app.services, owner)
        .await
        .expect("workspaces")[0]
        .id
        .to_string();
    (b, ws)
}

/// An actor for calling the domain directly (no session): test setup here
/// and in the multi-process suites, which have no `TestApp`.
pub fn setup_actor(user: UserId, email: &str) -> Actor {
    Actor {
        user_id: user,
        email: email.to_string(),
        is_platform_operator: false,
        session_id_hash: "test-setup".into(),
        current_workspace: None,
        mfa_owed: false,
        time_zone: None,
        theme: Default::default(),
    }
}

/// Runs one async test body on both backends, as two named tests.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Backend::Postgres).await }
            )*
        }
    };
}

impl TestApp {
    pub fn db_url(&self) -> &str {
        &self._db.url
    }

    /// Looks up a user id by email (for assertions).
    pub async fn services_user(&self, email: &str) -> UserId {
        let (id,): (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(self.services.store.unguarded_pool())
            .await
            .expect("user exists");
        UserId(id)
    }
}

impl TestApp {
    /// The token of the newest pending invitation for `email` (what the
    /// link carries), read back as the inviter's page would.
    pub async fn invitation_token(&self, email: &str) -> String {
        let (sealed,): (String,) = sqlx::query_as(
            "SELECT token_sealed FROM invitations WHERE email = $1 AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(email)
        .fetch_one(self.services.store.unguarded_pool())
        .await
        .expect("a pending invitation");
        self.services
            .secrets
            .open(&sealed)
            .expect("open the invitation token")
            .expose()
            .to_string()
    }

    /// `inviter` invites `email` to `workspace`; when that succeeds, the
    /// account `email` (which must exist) signs in and accepts. Returns the
    /// invitation's reply.
    pub async fn invite_and_accept(
        &self,
        inviter: &Browser,
        workspace: &str,
        email: &str,
        role: &str,
    ) -> Reply {
        let r = inviter
            .call(
                "/api/members/invite",
                &[
                    ("workspace", workspace.to_string()),
                    ("email", email.to_string()),
                    ("role", role.to_string()),
                ],
            )
            .await;
        if r.status == 200 {
            let token = self.invitation_token(email).await;
            let invitee = self.browser();
            assert_eq!(invitee.sign_in(email).await.status, 200, "sign in {email}");
            let accepted = invitee
                .call("/api/invitations/accept", &[("token", token)])
                .await;
            assert_eq!(accepted.status, 200, "accept: {}", accepted.body);
        }
        r
    }
}

impl TestApp {
    /// A run that already ended successfully with its first attempt (test
    /// fixtures attach stored results to it, which are then published).
    pub async fn finished_run(
        &self,
        workspace: domain::ids::WorkspaceId,
        tenant: domain::ids::TenantId,
        op_type: &str,
    ) -> domain::ids::RunId {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key, context, created_at, completed_at, available_at, attempts)
             VALUES ($1, $2, $3, 'completed', 'succeeded', 'system', $4, '{}', 0, 0, 0, 1) RETURNING id",
        )
        .bind(workspace.0)
        .bind(tenant.0)
        .bind(op_type)
        .bind(format!("fixture:{tenant}"))
        .fetch_one(self.services.store.unguarded_pool())
        .await
        .expect("insert a finished run");
        domain::ids::RunId(id)
    }

    /// Stores one inventory item in a snapshot through the inventory writer
    /// (body stored once, a reference per snapshot) and returns its id as
    /// `inventory_items` shows it.
    pub async fn store_item(
        &self,
        snapshot: i64,
        kind: &str,
        external_id: &str,
        display_name: &str,
        settings: Option<String>,
    ) -> i64 {
        let item = domain::inventory::InventoryItem {
            kind: domain::inventory::stored::kind_named(kind).expect("a known kind"),
            external_id: external_id.into(),
            display_name: display_name.into(),
            platform: "Windows".into(),
            detail: String::new(),
            modified: None,
            settings,
        };
        let store = &self.services.store;
        let mut tx = store.begin().await.expect("begin");
        domain::inventory::stored::write_items(&mut tx, store.backend(), snapshot, &[item])
            .await
            .expect("store an inventory item");
        tx.commit().await.expect("commit");
        let (id,): (i64,) =
            sqlx::query_as("SELECT MAX(id) FROM inventory_refs WHERE snapshot_id = $1")
                .bind(snapshot)
                .fetch_one(store.unguarded_pool())
                .await
                .expect("the stored item's id");
        id
    }
}

/// Every product source file (`engine/src`, `domain/src`, `app/src`, `server/src`) with
/// its text, for the tests that scan the source for a rule.
pub fn product_sources() -> Vec<(PathBuf, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    let mut stack = vec![
        root.join("engine/src"),
        root.join("domain/src"),
        root.join("app/src"),
        root.join("server/src"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .expect("read a source folder")
            .flatten()
        {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).expect("read a source file");
                out.push((p, text));
            }
        }
    }
    out
}
