//! Process configuration: flags and `TENANTRY_*` environment variables.

use domain::provider::ProviderRuntime;
use domain::provider::graph::{GraphEndpoints, GraphPolicy};
use domain::runs::worker::WorkerConfig;
use domain::secrets::SecretBox;
use domain::services::Settings;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://tenantry.db` (default) or `postgres://…`.
    pub database_url: String,
    pub bind: SocketAddr,
    /// Where the built site lives (`pkg/` with the wasm, JS and CSS).
    pub site_root: PathBuf,
    /// Serve cookies as `__Host-` + `Secure` (behind https).
    pub secure_cookies: bool,
    pub db_max_connections: u32,
    pub settings: Settings,
    /// In-process workers inside `serve` (0: only separate `tenantry worker` processes run work).
    pub workers: usize,
    pub worker: WorkerConfig,
    /// How often the reconciler sweeps for runs whose lease expired.
    pub reconcile_every_ms: u64,
    pub provider: ProviderConfig,
    /// The one support desk requests are handed to (default: none).
    pub support_desk: domain::support::desk::DeskConfig,
    /// Public URL and trusted proxies.
    pub web: crate::web::WebConfig,
    /// Outgoing mail (`--smtp-url`; none: invitations are not mailed).
    pub mail: Option<domain::mail::MailConfig>,
    /// Single sign-on (`--oidc-issuer`; none: passwords only).
    pub sso: Option<domain::sso::SsoConfig>,
    /// Networks alert webhooks may reach although not public (`--webhook-allow-network`).
    pub webhook_networks: domain::alerts::ssrf::WebhookNetworks,
}

/// Where provider secrets are sealed with and where Graph lives.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// 64 hex characters; when unset, `data_dir/secret.key` (created once).
    /// A `Secret`, so `Debug` of the configuration never prints it.
    pub secret_key: Option<domain::secrets::Secret>,
    pub data_dir: PathBuf,
    pub graph: GraphEndpoints,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            secret_key: None,
            data_dir: PathBuf::from("."),
            graph: GraphEndpoints::default(),
        }
    }
}

impl ProviderConfig {
    /// Opens (or creates) the secret key and builds the Graph client.
    pub fn runtime(&self) -> Result<ProviderRuntime, String> {
        let secrets = SecretBox::load(self.secret_key.as_ref().map(|k| k.expose()), &self.data_dir)
            .map_err(|e| format!("cannot load the secret key: {e}"))?;
        Ok(ProviderRuntime::new(
            secrets,
            self.graph.clone(),
            GraphPolicy::default(),
        ))
    }
}

impl Config {
    pub fn default_site_root() -> PathBuf {
        // Next to the binary's target dir when run from a checkout, else ./site.
        for candidate in ["target/site", "site"] {
            let p = PathBuf::from(candidate);
            if p.join("pkg").exists() {
                return p;
            }
        }
        PathBuf::from("target/site")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::secrets::Secret;

    #[test]
    fn configuration_never_prints_a_secret() {
        let config = Config {
            database_url: "sqlite://x.db".into(),
            bind: "127.0.0.1:0".parse().expect("addr"),
            site_root: PathBuf::from("site"),
            secure_cookies: false,
            db_max_connections: 1,
            settings: Settings::default(),
            workers: 0,
            worker: WorkerConfig::default(),
            reconcile_every_ms: 0,
            provider: ProviderConfig {
                secret_key: Some(Secret::new("a1".repeat(32))),
                ..ProviderConfig::default()
            },
            support_desk: domain::support::desk::DeskConfig::RequestTracker {
                base_url: "http://rt".into(),
                token: Secret::new("rt-token-value-1234"),
                queue: "General".into(),
            },
            webhook_networks: Default::default(),
            web: Default::default(),
            mail: domain::mail::MailConfig::parse(
                "smtps://tenantry:mail-password-value@mail.example.com",
                "Tenantry <tenantry@example.com>",
                std::time::Duration::from_secs(5),
            )
            .ok(),
            sso: None,
        };
        let printed = format!("{config:?}");
        assert!(config.mail.is_some());
        assert!(!printed.contains("mail-password-value"), "{printed}");
        assert!(!printed.contains("a1a1a1"), "{printed}");
        assert!(!printed.contains("rt-token-value"), "{printed}");
        assert!(printed.contains("redacted"));
    }
}
