//! The `tenantry` command line: `serve`, `worker`, `migrate`, `user`, and
//! with the default `demo` feature `demo` and `bench`. Secrets are never flag
//! values (environment or files only).

use crate::{Application, Config, ProviderConfig};
use clap::{Parser, Subcommand};
use domain::provider::graph::GraphEndpoints;
use domain::runs::worker::WorkerConfig;
use domain::services::Settings;
use domain::store::{Store, StoreOptions};
use domain::validate::{Email, NewPassword};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "tenantry",
    version,
    about = "The MSP operations console for Microsoft 365 / Intune tenants"
)]
pub struct Cli {
    /// `sqlite://tenantry.db` (created on first start) or `postgres://…`.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        default_value = "sqlite://tenantry.db"
    )]
    database_url: String,
    /// `json` (one object per line, with request and run ids) or `pretty`;
    /// JSON unless standard output is a terminal.
    #[arg(long, global = true, env = "TENANTRY_LOG_FORMAT", value_enum)]
    log_format: Option<crate::logging::LogFormat>,
    /// Export traces (the spans the logs are written in) by OTLP over HTTP
    /// to this collector, e.g. http://127.0.0.1:4318. Off when unset.
    #[cfg(feature = "otlp")]
    #[arg(long, global = true, env = "TENANTRY_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// The log format asked for, else the default for this terminal.
    pub fn log_format(&self) -> crate::logging::LogFormat {
        self.log_format
            .unwrap_or_else(crate::logging::LogFormat::default_for_stdout)
    }

    /// Where traces go, when anywhere.
    pub fn otlp_endpoint(&self) -> Option<&str> {
        #[cfg(feature = "otlp")]
        return self.otlp_endpoint.as_deref();
        #[cfg(not(feature = "otlp"))]
        None
    }
}

#[derive(Subcommand)]
// Parsed once per process; boxing the flags would only add noise.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Serve the web console (migrates the database first).
    Serve(ServeArgs),
    /// Run operation workers only (scale out next to `serve` on PostgreSQL).
    Worker(WorkerArgs),
    /// Serve a demo: its own SQLite database and an in-process Microsoft Graph
    /// simulator, seeded with accounts, a workspace, three tenants (healthy,
    /// consent missing, throttled) and their provider connections on first start.
    #[cfg(feature = "demo")]
    Demo(crate::demo::DemoArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Copy the database to a file (SQLite: while serving; PostgreSQL:
    /// pg_dump). The secret key is not in it: keep that apart.
    Backup(crate::backup::BackupArgs),
    /// Load a backup into DATABASE_URL (a new SQLite file or an empty
    /// PostgreSQL database), ready to serve.
    Restore(crate::backup::RestoreArgs),
    /// Benchmarks that print figures (see specs/002-operation-runs.md).
    #[cfg(feature = "demo")]
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Manage local accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    #[arg(long, env = "TENANTRY_BIND", default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// Built site (wasm, JS, CSS); defaults to ./target/site.
    #[arg(long, env = "TENANTRY_SITE_ROOT")]
    site_root: Option<PathBuf>,
    /// Set when served over https: cookies become `__Host-` + Secure.
    #[arg(long, env = "TENANTRY_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Minutes a session may stay unused.
    #[arg(long, env = "TENANTRY_SESSION_IDLE_MINUTES", default_value_t = 30)]
    session_idle_minutes: i64,
    /// Hours a session lives at most.
    #[arg(long, env = "TENANTRY_SESSION_ABSOLUTE_HOURS", default_value_t = 12)]
    session_absolute_hours: i64,
    #[arg(long, env = "TENANTRY_DB_MAX_CONNECTIONS", default_value_t = 16)]
    db_max_connections: u32,
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    work: WorkArgs,
    #[command(flatten)]
    provider: ProviderArgs,
    #[command(flatten)]
    desk: DeskArgs,
    #[command(flatten)]
    mail: MailArgs,
    #[command(flatten)]
    sso: SsoArgs,
}

#[derive(clap::Args, Clone)]
struct WorkerArgs {
    #[command(flatten)]
    work: WorkArgs,
    #[command(flatten)]
    provider: ProviderArgs,
    #[command(flatten)]
    desk: DeskArgs,
    #[command(flatten)]
    mail: MailArgs,
}

#[derive(clap::Args, Clone)]
struct ProviderArgs {
    /// Where Tenantry keeps its files (the generated `secret.key`, review packs).
    #[arg(long, env = "TENANTRY_DATA_DIR", default_value = ".")]
    data_dir: PathBuf,
    /// A file holding the key that seals client secrets (64 hex characters;
    /// owner-only permissions). Or set TENANTRY_SECRET_KEY. Neither: the key
    /// in DATA_DIR/secret.key, created on first start. Every `serve`/`worker`
    /// process must use the same key. (Never a flag value: argv is visible to
    /// every user of the machine.)
    #[arg(long, env = "TENANTRY_SECRET_KEY_FILE")]
    secret_key_file: Option<PathBuf>,
    /// The Entra authority client-credentials tokens come from.
    #[arg(
        long,
        env = "TENANTRY_GRAPH_AUTHORITY",
        default_value = "https://login.microsoftonline.com"
    )]
    graph_authority: String,
    /// Microsoft Graph's base URL.
    #[arg(
        long,
        env = "TENANTRY_GRAPH_URL",
        default_value = "https://graph.microsoft.com"
    )]
    graph_url: String,
}

/// A secret from the environment variable `env`, else from the file a
/// `--…-file` flag names (owner-only permissions, surrounding whitespace
/// trimmed). Secrets are never flag values.
fn secret_from(
    env: &str,
    file: Option<&PathBuf>,
) -> Result<Option<domain::secrets::Secret>, String> {
    use domain::secrets::Secret;
    if let Some(path) = file {
        return domain::secrets::read_secret_file(path)
            .map(|s| Some(Secret::new(s)))
            .map_err(|e| e.to_string());
    }
    Ok(std::env::var(env)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| Secret::new(v.trim().to_string())))
}

impl ProviderArgs {
    fn config(&self) -> Result<ProviderConfig, String> {
        Ok(ProviderConfig {
            secret_key: secret_from("TENANTRY_SECRET_KEY", self.secret_key_file.as_ref())?,
            data_dir: self.data_dir.clone(),
            graph: GraphEndpoints {
                authority: self.graph_authority.clone(),
                graph: self.graph_url.clone(),
            },
        })
    }
}

/// Single sign-on with OpenID Connect.
#[derive(clap::Args, Clone)]
struct SsoArgs {
    /// The OpenID issuer: Microsoft Entra ID multi-tenant
    /// https://login.microsoftonline.com/organizations/v2.0, single-tenant
    /// https://login.microsoftonline.com/{tenant-id}/v2.0, or any
    /// standards-compliant issuer. Without it, passwords only.
    #[arg(long, env = "TENANTRY_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// The application (client) id registered at the issuer; register
    /// PUBLIC_URL/sign-in/sso/callback as its redirect URI.
    #[arg(long, env = "TENANTRY_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    /// A file holding the client secret (0600), or set TENANTRY_OIDC_CLIENT_SECRET.
    #[arg(long, env = "TENANTRY_OIDC_CLIENT_SECRET_FILE")]
    oidc_client_secret_file: Option<PathBuf>,
    /// The name on the sign-in button (default: Microsoft for Entra).
    #[arg(long, env = "TENANTRY_OIDC_NAME", default_value = "")]
    oidc_name: String,
}

impl SsoArgs {
    fn config(&self) -> Result<Option<domain::sso::SsoConfig>, String> {
        let Some(issuer) = self.oidc_issuer.as_deref().filter(|i| !i.trim().is_empty()) else {
            return Ok(None);
        };
        let secret = secret_from(
            "TENANTRY_OIDC_CLIENT_SECRET",
            self.oidc_client_secret_file.as_ref(),
        )?
        .ok_or("single sign-on needs TENANTRY_OIDC_CLIENT_SECRET or --oidc-client-secret-file")?;
        domain::sso::SsoConfig::parse(
            issuer,
            self.oidc_client_id.as_deref().unwrap_or(""),
            secret,
            &self.oidc_name,
        )
        .map(Some)
    }
}

/// Outgoing mail (invitations).
#[derive(clap::Args, Clone)]
struct MailArgs {
    /// The SMTP server: smtps://user:password@host:465 (TLS),
    /// smtp://user:password@host:587?tls=required (STARTTLS) or
    /// smtp://host:25 (plain, a relay on this host). Without it invitations
    /// are not mailed: the inviter copies the link. (Or --smtp-url-file.)
    #[arg(long, env = "TENANTRY_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// A file holding the SMTP URL (it carries the password), mode 0600.
    #[arg(long, env = "TENANTRY_SMTP_URL_FILE")]
    smtp_url_file: Option<PathBuf>,
    /// Who mail comes from.
    #[arg(
        long,
        env = "TENANTRY_MAIL_FROM",
        default_value = "Tenantry <tenantry@localhost>"
    )]
    mail_from: String,
    /// Longest one SMTP exchange may take.
    #[arg(long, env = "TENANTRY_SMTP_TIMEOUT_SECS", default_value_t = 15)]
    smtp_timeout_secs: u64,
}

impl MailArgs {
    fn config(&self) -> Result<Option<domain::mail::MailConfig>, String> {
        let url = match &self.smtp_url_file {
            Some(path) => Some(domain::secrets::read_secret_file(path).map_err(|e| e.to_string())?),
            None => self.smtp_url.clone().filter(|u| !u.trim().is_empty()),
        };
        url.map(|u| {
            domain::mail::MailConfig::parse(
                &u,
                &self.mail_from,
                std::time::Duration::from_secs(self.smtp_timeout_secs.clamp(1, 300)),
            )
        })
        .transpose()
    }
}

/// The support desk requests are handed to.
#[derive(clap::Args, Clone)]
struct DeskArgs {
    /// `none`, `halopsa` or `request_tracker`.
    #[arg(long, env = "TENANTRY_SUPPORT_DESK", default_value = "none")]
    support_desk: String,
    /// The desk's base URL (HaloPSA: the instance URL; RT: the server URL).
    #[arg(long, env = "TENANTRY_SUPPORT_DESK_URL")]
    support_desk_url: Option<String>,
    /// HaloPSA API application: client id.
    #[arg(long, env = "TENANTRY_HALO_CLIENT_ID")]
    halo_client_id: Option<String>,
    /// HaloPSA API application: a file holding its client secret (or set
    /// TENANTRY_HALO_CLIENT_SECRET).
    #[arg(long, env = "TENANTRY_HALO_CLIENT_SECRET_FILE")]
    halo_client_secret_file: Option<PathBuf>,
    /// Request Tracker: a file holding the auth token tickets are created
    /// with (or set TENANTRY_RT_TOKEN).
    #[arg(long, env = "TENANTRY_RT_TOKEN_FILE")]
    rt_token_file: Option<PathBuf>,
    /// Request Tracker: the queue new tickets go to.
    #[arg(long, env = "TENANTRY_RT_QUEUE", default_value = "General")]
    rt_queue: String,
}

impl DeskArgs {
    fn config(&self) -> Result<domain::support::desk::DeskConfig, String> {
        use domain::support::desk::DeskConfig;
        let need = |v: &Option<String>, name: &str| {
            v.clone()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| format!("the support desk needs {name}"))
        };
        match self.support_desk.as_str() {
            "none" => Ok(DeskConfig::NotConfigured),
            "halopsa" => Ok(DeskConfig::HaloPsa {
                base_url: need(&self.support_desk_url, "TENANTRY_SUPPORT_DESK_URL")?,
                client_id: need(&self.halo_client_id, "TENANTRY_HALO_CLIENT_ID")?,
                client_secret: secret_from(
                    "TENANTRY_HALO_CLIENT_SECRET",
                    self.halo_client_secret_file.as_ref(),
                )?
                .ok_or("the support desk needs TENANTRY_HALO_CLIENT_SECRET or --halo-client-secret-file")?,
            }),
            "request_tracker" => Ok(DeskConfig::RequestTracker {
                base_url: need(&self.support_desk_url, "TENANTRY_SUPPORT_DESK_URL")?,
                token: secret_from("TENANTRY_RT_TOKEN", self.rt_token_file.as_ref())?
                    .ok_or("the support desk needs TENANTRY_RT_TOKEN or --rt-token-file")?,
                queue: self.rt_queue.clone(),
            }),
            other => Err(format!(
                "unknown support desk {other:?}: use none, halopsa or request_tracker"
            )),
        }
    }
}

#[derive(clap::Args, Clone)]
struct WebArgs {
    /// The address people open, e.g. https://tenantry.example.com: requests
    /// naming another host are refused, and links in tickets point here.
    /// Without it only the bound port on 127.0.0.1/localhost is answered.
    #[arg(long, env = "TENANTRY_PUBLIC_URL")]
    public_url: Option<String>,
    /// Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR
    /// blocks, comma-separated), e.g. 10.0.0.0/8. Others' is ignored.
    #[arg(long, env = "TENANTRY_TRUSTED_PROXIES", default_value = "")]
    trusted_proxies: String,
    /// Requests handled at once; more are answered 503 with Retry-After at
    /// once instead of queueing for the database (health checks and static
    /// files are not counted).
    #[arg(long, env = "TENANTRY_MAX_IN_FLIGHT", default_value_t = 64)]
    max_in_flight: usize,
    /// A request taking longer is answered 503 and its work dropped.
    #[arg(long, env = "TENANTRY_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// On shutdown (SIGTERM, Ctrl-C), how long requests in flight may finish.
    #[arg(long, env = "TENANTRY_SHUTDOWN_DRAIN_SECS", default_value_t = 10)]
    shutdown_drain_secs: u64,
    /// A request's headers must arrive within this many seconds, and a form
    /// body within this many more (slow clients are cut off, not waited for).
    #[arg(long, env = "TENANTRY_CLIENT_TIMEOUT_SECS", default_value_t = 10)]
    client_timeout_secs: u64,
    /// Connections open at once; past this a new one is closed at once.
    #[arg(long, env = "TENANTRY_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Let any signed-in account create workspaces (platform operators always may).
    #[arg(long, env = "TENANTRY_ALLOW_WORKSPACE_CREATION")]
    allow_workspace_creation: bool,
    /// Support requests one member may send per hour.
    #[arg(long, env = "TENANTRY_LIMIT_SUPPORT_REQUESTS", default_value_t = 20)]
    limit_support_requests: i64,
    /// Blocked starts (each recorded as a run) one member may cause per hour.
    #[arg(long, env = "TENANTRY_LIMIT_BLOCKED_STARTS", default_value_t = 60)]
    limit_blocked_starts: i64,
    /// Review packs one member may generate per hour.
    #[arg(long, env = "TENANTRY_LIMIT_REVIEW_PACKS", default_value_t = 20)]
    limit_review_packs: i64,
}

impl WebArgs {
    fn config(&self, secure_cookies: bool) -> Result<crate::web::WebConfig, String> {
        let public_url = self
            .public_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(crate::web::PublicUrl::parse)
            .transpose()?;
        if secure_cookies && public_url.is_none() {
            return Err(
                "--secure-cookies serves over https behind a proxy: also set --public-url (the https address people open)"
                    .into(),
            );
        }
        Ok(crate::web::WebConfig {
            public_url,
            trusted_proxies: crate::web::parse_trusted_proxies(&self.trusted_proxies)?,
            limits: crate::shedding::LoadLimits {
                max_in_flight: self.max_in_flight.max(1),
                request_timeout: std::time::Duration::from_secs(self.request_timeout_secs.max(1)),
                drain: std::time::Duration::from_secs(self.shutdown_drain_secs),
                body_timeout: std::time::Duration::from_secs(self.client_timeout_secs.max(1)),
            },
            connections: crate::serving::ConnectionLimits {
                header_timeout: std::time::Duration::from_secs(self.client_timeout_secs.max(1)),
                max_connections: self.max_connections.max(1),
            },
        })
    }
}

#[derive(clap::Args, Clone)]
struct WorkArgs {
    /// Workers in this process (for `serve`: in-process workers; 0 = none).
    #[arg(long, env = "TENANTRY_WORKERS", default_value_t = 1)]
    workers: usize,
    /// Runs each worker executes at once.
    #[arg(long, env = "TENANTRY_WORKER_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Seconds a claimed run's lease lasts without a heartbeat.
    #[arg(long, env = "TENANTRY_LEASE_SECONDS", default_value_t = 30)]
    lease_seconds: i64,
    /// Seconds between reconciliation sweeps (0 = off in this process).
    #[arg(long, env = "TENANTRY_RECONCILE_SECONDS", default_value_t = 15)]
    reconcile_seconds: u64,
    /// Days a generated review pack stays downloadable; then its files are deleted.
    #[arg(long, env = "TENANTRY_REVIEW_PACK_DAYS", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=3650))]
    review_pack_days: i64,
    /// Serve Prometheus metrics of this process at http://ADDR/metrics
    /// (e.g. 127.0.0.1:9464; keep it private). Off when unset.
    #[arg(long, env = "TENANTRY_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// Networks alert webhooks may reach although they are not public
    /// (e.g. 10.20.0.0/16 for an in-house receiver; repeat or separate with
    /// commas). Loopback, private, link-local and metadata addresses are
    /// refused unless listed here.
    #[arg(long, env = "TENANTRY_WEBHOOK_ALLOW_NETWORK", value_delimiter = ',')]
    webhook_allow_network: Vec<String>,
}

impl WorkArgs {
    fn webhook_networks(&self) -> Result<domain::alerts::ssrf::WebhookNetworks, String> {
        domain::alerts::ssrf::WebhookNetworks::parse(&self.webhook_allow_network)
            .map_err(|e| format!("--webhook-allow-network: {e}"))
    }

    fn review_pack_ttl_ms(&self) -> i64 {
        self.review_pack_days * 24 * 60 * 60 * 1000
    }

    fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            concurrency: self.concurrency.max(1),
            lease_ms: self.lease_seconds.max(2) * 1000,
            heartbeat_ms: (self.lease_seconds.max(2) * 1000 / 3) as u64,
            ..WorkerConfig::default()
        }
    }
}

#[cfg(feature = "demo")]
#[derive(Subcommand)]
enum BenchCommand {
    /// The run machinery: gate admissions, pickup latency, drain throughput.
    Runs(crate::bench::BenchOptions),
    /// Monitoring reads (hub pages, counts, the poll) at 10,000 and 1,000,000 runs.
    Monitoring(crate::bench_monitoring::MonitoringBenchOptions),
    /// The web server at fixed request rates (hub, dashboard, run poll) over
    /// 1,000,000 runs, and shedding under five times that load.
    Http(crate::bench_http::HttpBenchOptions),
    /// One schedule fire over 1,000 and 5,000 tenants: admissions per second.
    FleetStart(crate::bench_fleet::FleetBenchOptions),
    /// Drift of a 2,000-policy inventory snapshot: comparison and storage.
    Drift(crate::bench_drift::DriftBenchOptions),
    /// The fleet overview's read at 1,000 tenants: p50/p95/p99.
    FleetPage(crate::bench_fleet_page::FleetPageBenchOptions),
    /// One 50-policy baseline compared with 1,000 tenants: in memory, as
    /// runs against no-op runs, and the alignment matrix's read.
    BaselineCompare(crate::bench_baselines::BaselineBenchOptions),
    /// Alert evaluation's cost to the run drain, and alert → webhook latency (PostgreSQL).
    Alerts(crate::bench_alerts::AlertsBenchOptions),
    /// The command palette's search at 1,000 tenants and 1,000,000 runs: p50/p95 per query.
    Search(crate::bench_search::SearchBenchOptions),
    /// Every page route over HTTP at 1,000 tenants and 1,000,000 runs:
    /// p50/p95 per route and the slowest five.
    Pages(crate::bench_pages::PagesBenchOptions),
    /// A year of nightly activity at 1,000 tenants, then retention: storage
    /// per table before and after, the sweep's time, and the most read pages.
    Year(crate::bench_year::YearBenchOptions),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: never pass it as an argument).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Grant access to the /system plane.
        #[arg(long)]
        platform_operator: bool,
    },
    /// Turn off someone's two-step sign-in (they lost their phone and their
    /// recovery codes): their sessions end; a workspace that requires it
    /// sends them to set it up again after signing in with the password.
    ResetTwoStep {
        #[arg(long)]
        email: String,
    },
}

async fn open_store(url: &str) -> Result<Store, String> {
    let store = Store::connect(url, StoreOptions::default())
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    Ok(store)
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), String> {
    let url = cli.database_url;
    match cli.command {
        Command::Serve(args) => serve(url, args).await,
        Command::Worker(args) => worker(url, args).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => crate::demo::run(args).await,
        #[cfg(feature = "demo")]
        Command::Bench { command } => bench(command).await,
        Command::Migrate => migrate(url).await,
        Command::Backup(args) => crate::backup::backup(&url, args).await,
        Command::Restore(args) => crate::backup::restore(&url, args).await,
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    password_stdin: _,
                    platform_operator,
                },
        } => create_user(url, email, platform_operator).await,
        Command::User {
            command: UserCommand::ResetTwoStep { email },
        } => reset_two_step(url, email).await,
    }
}

/// `tenantry serve`.
async fn serve(database_url: String, args: ServeArgs) -> Result<(), String> {
    let ServeArgs {
        bind,
        site_root,
        secure_cookies,
        session_idle_minutes,
        session_absolute_hours,
        db_max_connections,
        web,
        work,
        provider,
        desk,
        mail,
        sso,
    } = args;
    let config = Config {
        mail: mail.config()?,
        sso: sso.config()?,
        web: web.config(secure_cookies)?,
        database_url,
        bind,
        site_root: site_root.unwrap_or_else(Config::default_site_root),
        secure_cookies,
        db_max_connections,
        settings: Settings {
            session_idle_ms: session_idle_minutes * 60_000,
            session_absolute_ms: session_absolute_hours * 3_600_000,
            review_pack_ttl_ms: work.review_pack_ttl_ms(),
            allow_workspace_creation: web.allow_workspace_creation,
            limits: domain::limits::AbuseLimits {
                window_ms: 60 * 60 * 1000,
                support_requests: web.limit_support_requests.max(1),
                blocked_starts: web.limit_blocked_starts.max(1),
                review_packs: web.limit_review_packs.max(1),
                ..domain::limits::AbuseLimits::default()
            },
            ..Settings::default()
        },
        workers: work.workers,
        worker: work.worker_config(),
        reconcile_every_ms: work.reconcile_seconds * 1000,
        provider: provider.config()?,
        support_desk: desk.config()?,
        webhook_networks: work.webhook_networks()?,
    };
    if !config.site_root.join("pkg").join("tenantry.js").exists() {
        tracing::warn!(site_root = %config.site_root.display(), "no built site found: pages render without styles and islands; run scripts/build.sh");
    }
    let app = Application::build(config)
        .await
        .map_err(|e| format!("cannot start: {e}"))?;
    if let Some(bind) = work.metrics_bind {
        crate::metrics::serve(bind, app.services().clone()).await?;
    }
    let url = format!("http://127.0.0.1:{}", app.port());
    println!("Tenantry is listening on {url} (sign in at {url}/sign-in)");
    if domain::setup::is_open(app.services())
        .await
        .unwrap_or(false)
    {
        println!(
            "No account yet: open {url}/setup and enter the setup code {} (or run `tenantry user create`).",
            domain::setup::code(app.services())
        );
    }
    app.run_until(crate::serving::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// `tenantry worker`.
async fn worker(database_url: String, args: WorkerArgs) -> Result<(), String> {
    let WorkerArgs {
        work,
        provider,
        desk,
        mail,
    } = args;
    let store = open_store(&database_url).await?;
    let settings = Settings {
        review_pack_ttl_ms: work.review_pack_ttl_ms(),
        ..Settings::default()
    };
    let services = provider.config()?.runtime()?.installed_in(
        domain::operations::services(store, settings)
            .with_data_dir(provider.data_dir.clone())
            .with_port(desk.config()?)
            .with_port(work.webhook_networks()?)
            .with_optional_port(mail.config()?),
    );
    let services = crate::startup::with_test_failpoints(services);
    if let Some(bind) = work.metrics_bind {
        crate::metrics::serve(bind, services.clone()).await?;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tasks = crate::startup::start_background(
        &services,
        work.workers.max(1),
        &work.worker_config(),
        work.reconcile_seconds * 1000,
        stop_rx,
    );
    println!(
        "tenantry worker ready: {} worker(s) × {} concurrent runs",
        work.workers.max(1),
        work.concurrency.max(1)
    );
    crate::serving::shutdown_signal().await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// `tenantry bench …`.
#[cfg(feature = "demo")]
async fn bench(command: BenchCommand) -> Result<(), String> {
    match command {
        BenchCommand::Runs(options) => crate::bench::run(options).await,
        BenchCommand::Alerts(options) => crate::bench_alerts::run(options).await,
        BenchCommand::FleetStart(options) => crate::bench_fleet::run(options).await,
        BenchCommand::Http(options) => crate::bench_http::run(options).await,
        BenchCommand::Drift(options) => crate::bench_drift::run(options).await,
        BenchCommand::FleetPage(options) => crate::bench_fleet_page::run(options).await,
        BenchCommand::BaselineCompare(options) => crate::bench_baselines::run(options).await,
        BenchCommand::Monitoring(options) => crate::bench_monitoring::run(options).await,
        BenchCommand::Search(options) => crate::bench_search::run(options).await,
        BenchCommand::Pages(options) => crate::bench_pages::run(options).await,
        BenchCommand::Year(options) => crate::bench_year::run(options).await,
    }
}

/// `tenantry migrate`.
async fn migrate(database_url: String) -> Result<(), String> {
    let store = Store::connect(&database_url, StoreOptions::default())
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let applied = store
        .migrate()
        .await
        .map_err(|e| format!("cannot migrate: {e}"))?;
    if applied.is_empty() {
        println!("The database is up to date.");
    } else {
        println!("Applied migrations: {applied:?}");
    }
    Ok(())
}

/// `tenantry user create` (the password on standard input).
async fn create_user(
    database_url: String,
    email: String,
    platform_operator: bool,
) -> Result<(), String> {
    let email = Email::parse(&email).map_err(|e| e.to_string())?;
    let mut raw = String::new();
    std::io::stdin()
        .read_to_string(&mut raw)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password =
        NewPassword::parse(raw.trim_end_matches(['\r', '\n'])).map_err(|e| e.to_string())?;
    let store = open_store(&database_url).await?;
    let services = domain::operations::services(store, Settings::default());
    domain::accounts::create_user(&services, &email, &password, platform_operator)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "Created {email}{}.",
        if platform_operator {
            " (platform operator)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `tenantry user reset-two-step`.
async fn reset_two_step(database_url: String, email: String) -> Result<(), String> {
    let email = Email::parse(&email).map_err(|e| e.to_string())?;
    let store = open_store(&database_url).await?;
    let services = domain::operations::services(store, Settings::default());
    let ended = domain::mfa::reset_by_operator(&services, &email)
        .await
        .map_err(|e| e.to_string())?;
    println!("Two-step sign-in of {email} is off; {ended} session(s) ended.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_flag_values() {
        for flag in ["--secret-key", "--halo-client-secret", "--rt-token"] {
            let parsed = Cli::try_parse_from(["tenantry", "serve", flag, "value"]);
            assert!(parsed.is_err(), "{flag} must not be a flag");
        }
        for flag in [
            "--secret-key-file",
            "--halo-client-secret-file",
            "--rt-token-file",
        ] {
            let parsed = Cli::try_parse_from(["tenantry", "serve", flag, "/run/secrets/x"]);
            assert!(parsed.is_ok(), "{flag} names a file");
        }
    }
}
