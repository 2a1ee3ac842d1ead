//! The Microsoft Graph client: client-credentials tokens from the Entra
//! authority (cached until shortly before expiry), GETs against v1.0 / beta
//! with `@odata.nextLink` paging, bounded retries that honour `Retry-After`
//! on 429/503, connect and request timeouts, and every failure classified into
//! a [`GraphError`] whose words never include the provider's payload.

use crate::runs::model::ReasonCode;
use crate::secrets::Secret;
use base64::Engine;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the client talks to: Microsoft in production, the simulator in tests and the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEndpoints {
    /// e.g. `https://login.microsoftonline.com`
    pub authority: String,
    /// e.g. `https://graph.microsoft.com`
    pub graph: String,
}

impl Default for GraphEndpoints {
    fn default() -> Self {
        GraphEndpoints {
            authority: "https://login.microsoftonline.com".into(),
            graph: "https://graph.microsoft.com".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GraphPolicy {
    pub connect_timeout: Duration,
    /// Per request (token or page).
    pub request_timeout: Duration,
    /// Retries of one request after 429/503.
    pub max_retries: u32,
    /// A `Retry-After` longer than this is not waited for: the call fails as throttled.
    pub max_retry_after: Duration,
    /// Waited when a 429/503 carries no usable `Retry-After` (doubles per retry).
    pub default_backoff: Duration,
    /// Pages followed at most per collection.
    pub max_pages: usize,
    /// The largest response body read (a page, a token answer); beyond it
    /// the call fails and nothing of it is kept.
    pub max_body_bytes: usize,
}

impl Default for GraphPolicy {
    fn default() -> Self {
        GraphPolicy {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
            max_retry_after: Duration::from_secs(30),
            default_backoff: Duration::from_secs(1),
            max_pages: 500,
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Which Graph API surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

/// The app registration used for one customer tenant.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub entra_tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
}

/// Why a Graph call failed, classified; the text is ours, never the provider's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("admin consent is missing for a required permission")]
    ConsentMissing,
    #[error("the client id or secret was refused")]
    CredentialsInvalid,
    #[error("the client secret has expired")]
    CredentialsExpired,
    #[error("the customer tenant was not found")]
    TenantNotFound,
    #[error("Microsoft Graph kept throttling after {retries} retries")]
    Throttled { retries: u32 },
    #[error("Microsoft Graph did not answer within {seconds} s")]
    Timeout { seconds: u64 },
    #[error("Microsoft Graph is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    #[error("Microsoft Graph could not be reached")]
    Unreachable,
    #[error("Microsoft Graph sent an unexpected response ({what})")]
    UnexpectedResponse { what: &'static str },
    /// The object asked for by id does not exist (deleted in the tenant).
    #[error("the object does not exist in the tenant")]
    NotFound,
}

impl GraphError {
    pub fn reason(&self) -> ReasonCode {
        match self {
            GraphError::ConsentMissing => ReasonCode::ConsentMissing,
            GraphError::CredentialsInvalid => ReasonCode::CredentialsInvalid,
            GraphError::CredentialsExpired => ReasonCode::CredentialsExpired,
            GraphError::TenantNotFound => ReasonCode::ProviderTenantNotFound,
            GraphError::Throttled { .. } => ReasonCode::ProviderThrottled,
            GraphError::Timeout { .. } => ReasonCode::ProviderTimeout,
            GraphError::Unavailable { .. } | GraphError::Unreachable => {
                ReasonCode::ProviderUnavailable
            }
            GraphError::UnexpectedResponse { .. } | GraphError::NotFound => {
                ReasonCode::ProviderUnexpectedResponse
            }
        }
    }

    /// A bounded failure summary for the run: our words plus where it happened.
    pub fn summary(&self, step: &str) -> String {
        let mut s = format!("{step}: {self}.");
        s.truncate(300);
        s
    }
}

/// A token and what it says about granted application permissions.
#[derive(Clone)]
pub struct AccessToken {
    value: Arc<str>,
    pub roles: Vec<String>,
    expires: Instant,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"**redacted**")
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    authority: String,
    tenant: String,
    client_id: String,
    /// A rotated secret must not reuse a token fetched with the old one.
    secret_fingerprint: [u8; 32],
}

#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    endpoints: GraphEndpoints,
    policy: GraphPolicy,
    tokens: Arc<Mutex<HashMap<TokenKey, AccessToken>>>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct AadError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphErrorDetail,
}
#[derive(Deserialize)]
struct GraphErrorDetail {
    #[serde(default)]
    code: String,
}

impl GraphClient {
    pub fn new(endpoints: GraphEndpoints, policy: GraphPolicy) -> GraphClient {
        // No redirects: a 3xx from the token endpoint must not carry the
        // client secret elsewhere, nor one from Graph the token or our trust.
        let http = crate::outbound::client(policy.connect_timeout);
        GraphClient {
            http,
            endpoints,
            policy,
            tokens: Arc::default(),
        }
    }

    pub fn endpoints(&self) -> &GraphEndpoints {
        &self.endpoints
    }

    fn key(&self, creds: &AppCredentials) -> TokenKey {
        use sha2::Digest;
        TokenKey {
            authority: self.endpoints.authority.clone(),
            tenant: creds.entra_tenant_id.to_ascii_lowercase(),
            client_id: creds.client_id.to_ascii_lowercase(),
            secret_fingerprint: sha2::Sha256::digest(creds.client_secret.expose().as_bytes())
                .into(),
        }
    }

    /// A token for the app in the customer tenant, from the cache while valid.
    pub async fn token(&self, creds: &AppCredentials) -> Result<AccessToken, GraphError> {
        let key = self.key(creds);
        if let Ok(cache) = self.tokens.lock()
            && let Some(t) = cache.get(&key)
            && t.expires > Instant::now()
        {
            return Ok(t.clone());
        }
        let token = self.fetch_token(creds).await?;
        if let Ok(mut cache) = self.tokens.lock() {
            cache.insert(key, token.clone());
        }
        Ok(token)
    }

    /// A new token, replacing the cached one: the permissions it carries are
    /// what admin consent grants now (verification confirms a fresh grant; a
    /// token from before it would carry the old, empty, roles).
    pub async fn fresh_token(&self, creds: &AppCredentials) -> Result<AccessToken, GraphError> {
        let token = self.fetch_token(creds).await?;
        if let Ok(mut cache) = self.tokens.lock() {
            cache.insert(self.key(creds), token.clone());
        }
        Ok(token)
    }

    #[tracing::instrument(name = "graph.token", skip_all, fields(entra_tenant = %creds.entra_tenant_id))]
    async fn fetch_token(&self, creds: &AppCredentials) -> Result<AccessToken, GraphError> {
        metrics::counter!(crate::telemetry::GRAPH_TOKEN_FETCHES).increment(1);
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.endpoints.authority.trim_end_matches('/'),
            creds.entra_tenant_id
        );
        let scope = format!("{}/.default", self.endpoints.graph.trim_end_matches('/'));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", creds.client_id.as_str()),
            ("client_secret", creds.client_secret.expose()),
            ("scope", scope.as_str()),
        ];
        let response = self
            .send_with_retries(|| self.http.post(&url).form(&form))
            .await?;
        let status = response.status();
        let body = self.read_body(response).await?;
        if !status.is_success() {
            return Err(classify_token_error(status, &body));
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| GraphError::UnexpectedResponse { what: "token" })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        // Renew a minute early so a token never expires mid-call.
        let expires = Instant::now() + lifetime.saturating_sub(Duration::from_secs(60));
        Ok(AccessToken {
            roles: roles_claim(&parsed.access_token),
            value: parsed.access_token.into(),
            expires,
        })
    }

    /// One object (e.g. `organization` returns a collection; use [`get_all`] there).
    #[tracing::instrument(name = "graph.get", skip_all, fields(path = %path))]
    pub async fn get(
        &self,
        creds: &AppCredentials,
        version: ApiVersion,
        path: &str,
    ) -> Result<Value, GraphError> {
        let token = self.token(creds).await?;
        let url = self.url(version, path)?;
        self.get_json(&token, url).await
    }

    /// Every item of a collection, following `@odata.nextLink` (only to the
    /// configured Graph host: the token is never sent anywhere else). Items
    /// repeated across pages are kept once (by `id`); a next link seen before
    /// ends the read as untrustworthy at once. A read that does not finish is
    /// an error: nothing of it may replace stored data.
    #[tracing::instrument(name = "graph.get_all", skip_all, fields(path = %path))]
    pub async fn get_all(
        &self,
        creds: &AppCredentials,
        version: ApiVersion,
        path: &str,
    ) -> Result<Vec<Value>, GraphError> {
        let token = self.token(creds).await?;
        let mut url = self.url(version, path)?;
        let mut items = Vec::new();
        let mut ids = std::collections::HashSet::new();
        let mut links = std::collections::HashSet::new();
        for _ in 0..self.policy.max_pages {
            let mut page = self.get_json(&token, url).await?;
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(v)) => {
                    for item in v {
                        let fresh = match item.get("id").and_then(Value::as_str) {
                            Some(id) => ids.insert(id.to_string()),
                            None => true,
                        };
                        if fresh {
                            items.push(item);
                        }
                    }
                }
                _ => {
                    return Err(GraphError::UnexpectedResponse {
                        what: "no value list",
                    });
                }
            }
            match page.get("@odata.nextLink").and_then(Value::as_str) {
                Some(next) => {
                    if !links.insert(next.to_string()) {
                        return Err(GraphError::UnexpectedResponse {
                            what: "paging went round in a circle",
                        });
                    }
                    url = self.same_host(next)?;
                }
                None => return Ok(items),
            }
        }
        Err(GraphError::UnexpectedResponse {
            what: "too many pages",
        })
    }

    /// Creates an object (`POST` to a collection); answers what Graph created.
    #[tracing::instrument(name = "graph.create", skip_all, fields(path = %path))]
    pub async fn create(
        &self,
        creds: &AppCredentials,
        version: ApiVersion,
        path: &str,
        body: &Value,
    ) -> Result<Value, GraphError> {
        self.write(creds, reqwest::Method::POST, version, path, body)
            .await
    }

    /// Updates fields of one object (`PATCH`).
    #[tracing::instrument(name = "graph.update", skip_all, fields(path = %path))]
    pub async fn update(
        &self,
        creds: &AppCredentials,
        version: ApiVersion,
        path: &str,
        body: &Value,
    ) -> Result<(), GraphError> {
        self.write(creds, reqwest::Method::PATCH, version, path, body)
            .await
            .map(|_| ())
    }

    /// A JSON write. 429/503 are retried like reads (Graph did not apply
    /// the write); any other failure is reported, never retried blindly.
    async fn write(
        &self,
        creds: &AppCredentials,
        method: reqwest::Method,
        version: ApiVersion,
        path: &str,
        body: &Value,
    ) -> Result<Value, GraphError> {
        let token = self.token(creds).await?;
        let url = self.url(version, path)?;
        let response = self
            .send_with_retries(|| {
                self.http
                    .request(method.clone(), url.clone())
                    .bearer_auth(&*token.value)
                    .header("Accept", "application/json")
                    .json(body)
            })
            .await?;
        let status = response.status();
        let bytes = self.read_body(response).await?;
        if !status.is_success() {
            return Err(classify_graph_error(status, &bytes));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|_| GraphError::UnexpectedResponse {
            what: "body is not JSON",
        })
    }

    fn url(&self, version: ApiVersion, path: &str) -> Result<Url, GraphError> {
        Url::parse(&format!(
            "{}/{}/{}",
            self.endpoints.graph.trim_end_matches('/'),
            version.segment(),
            path.trim_start_matches('/')
        ))
        .map_err(|_| GraphError::UnexpectedResponse { what: "bad url" })
    }

    fn same_host(&self, next: &str) -> Result<Url, GraphError> {
        let next = Url::parse(next).map_err(|_| GraphError::UnexpectedResponse {
            what: "bad next link",
        })?;
        let base = Url::parse(&self.endpoints.graph)
            .map_err(|_| GraphError::UnexpectedResponse { what: "bad url" })?;
        if next.scheme() == base.scheme()
            && next.host_str() == base.host_str()
            && next.port_or_known_default() == base.port_or_known_default()
        {
            Ok(next)
        } else {
            Err(GraphError::UnexpectedResponse {
                what: "next link to another host",
            })
        }
    }

    async fn get_json(&self, token: &AccessToken, url: Url) -> Result<Value, GraphError> {
        let response = self
            .send_with_retries(|| {
                self.http
                    .get(url.clone())
                    .bearer_auth(&*token.value)
                    .header("Accept", "application/json")
            })
            .await?;
        let status = response.status();
        let body = self.read_body(response).await?;
        if !status.is_success() {
            return Err(classify_graph_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|_| GraphError::UnexpectedResponse {
            what: "body is not JSON",
        })
    }

    async fn read_body(&self, response: reqwest::Response) -> Result<Vec<u8>, GraphError> {
        use crate::outbound::{BodyError, read_capped};
        read_capped(response, self.policy.max_body_bytes)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => GraphError::UnexpectedResponse {
                    what: "a response larger than Tenantry reads",
                },
                BodyError::Transport(e) if e.is_timeout() => self.timeout(),
                BodyError::Transport(_) => GraphError::Unreachable,
            })
    }

    fn timeout(&self) -> GraphError {
        GraphError::Timeout {
            seconds: self.policy.request_timeout.as_secs().max(1),
        }
    }

    /// Sends, and on 429/503 waits `Retry-After` (bounded) and tries again.
    async fn send_with_retries(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, GraphError> {
        let mut backoff = self.policy.default_backoff;
        let mut retries = 0;
        loop {
            let response = request()
                .timeout(self.policy.request_timeout)
                .send()
                .await
                .map_err(|e| {
                    if e.is_timeout() {
                        self.timeout()
                    } else {
                        GraphError::Unreachable
                    }
                })?;
            let status = response.status();
            metrics::counter!(
                crate::telemetry::GRAPH_RESPONSES,
                "class" => status_class(status),
            )
            .increment(1);
            if status.is_redirection() {
                return Err(GraphError::UnexpectedResponse {
                    what: "a redirect, which Tenantry does not follow",
                });
            }
            if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE
            {
                return Ok(response);
            }
            let wait =
                crate::outbound::retry_after(response.headers(), std::time::SystemTime::now())
                    .unwrap_or(backoff);
            if retries >= self.policy.max_retries || wait > self.policy.max_retry_after {
                return Err(if status == StatusCode::TOO_MANY_REQUESTS {
                    GraphError::Throttled { retries }
                } else {
                    GraphError::Unavailable {
                        status: status.as_u16(),
                    }
                });
            }
            tracing::debug!(
                status = status.as_u16(),
                wait_ms = wait.as_millis() as u64,
                "graph asked to retry later"
            );
            metrics::counter!(crate::telemetry::GRAPH_RETRIES, "status" => status.as_str().to_string())
                .increment(1);
            tokio::time::sleep(wait).await;
            retries += 1;
            backoff = backoff.saturating_mul(2);
        }
    }
}

/// The metric label of an answer: 429 on its own (throttling is what an
/// operator watches), else the class.
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        429 => "429",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn classify_token_error(status: StatusCode, body: &[u8]) -> GraphError {
    if status.is_server_error() {
        return GraphError::Unavailable {
            status: status.as_u16(),
        };
    }
    let Ok(err) = serde_json::from_slice::<AadError>(body) else {
        return GraphError::UnexpectedResponse {
            what: "token error",
        };
    };
    let has = |code: u64| err.error_codes.contains(&code);
    if has(7000222) {
        GraphError::CredentialsExpired
    } else if has(90002) || has(90023) {
        GraphError::TenantNotFound
    } else if has(65001) || has(700016) || has(7000112) {
        // The app is not consented to (or not provisioned in) the customer tenant.
        GraphError::ConsentMissing
    } else if has(7000215) || err.error == "invalid_client" || err.error == "unauthorized_client" {
        GraphError::CredentialsInvalid
    } else {
        GraphError::UnexpectedResponse {
            what: "token refused",
        }
    }
}

fn classify_graph_error(status: StatusCode, body: &[u8]) -> GraphError {
    let code = serde_json::from_slice::<GraphErrorBody>(body)
        .map(|b| b.error.code)
        .unwrap_or_default();
    match status {
        StatusCode::FORBIDDEN => GraphError::ConsentMissing,
        StatusCode::UNAUTHORIZED => GraphError::CredentialsInvalid,
        StatusCode::NOT_FOUND => GraphError::NotFound,
        s if s.is_server_error() => GraphError::Unavailable { status: s.as_u16() },
        _ if code == "Authorization_RequestDenied" => GraphError::ConsentMissing,
        _ => GraphError::UnexpectedResponse {
            what: "request refused",
        },
    }
}

/// The `roles` claim of an app-only access token: the application permissions
/// admin consent granted. Read, not verified: Graph verifies the token; we
/// only report what it says.
fn roles_claim(token: &str) -> Vec<String> {
    let Some(payload) = token.split('.').nth(1) else {
        return vec![];
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return vec![];
    };
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("roles").cloned())
        .and_then(|r| serde_json::from_value::<Vec<String>>(r).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_are_classified_by_entra_code() {
        let body = |codes: &str, error: &str| {
            format!(
                r#"{{"error":"{error}","error_description":"AADSTS: secret text","error_codes":[{codes}]}}"#
            )
        };
        let c = |s: u16, b: String| {
            classify_token_error(
                StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
                b.as_bytes(),
            )
        };
        assert_eq!(
            c(401, body("7000222", "invalid_client")),
            GraphError::CredentialsExpired
        );
        assert_eq!(
            c(401, body("7000215", "invalid_client")),
            GraphError::CredentialsInvalid
        );
        assert_eq!(
            c(400, body("90002", "invalid_request")),
            GraphError::TenantNotFound
        );
        assert_eq!(
            c(400, body("700016", "unauthorized_client")),
            GraphError::ConsentMissing
        );
        assert_eq!(
            c(503, String::new()),
            GraphError::Unavailable { status: 503 }
        );
        assert!(matches!(
            c(400, "<html>".into()),
            GraphError::UnexpectedResponse { .. }
        ));
    }

    #[test]
    fn failure_summaries_never_carry_the_payload() {
        let e = classify_graph_error(
            StatusCode::FORBIDDEN,
            br#"{"error":{"code":"Authorization_RequestDenied","message":"secret-ish detail"}}"#,
        );
        assert_eq!(e, GraphError::ConsentMissing);
        assert!(!e.summary("Groups").contains("secret-ish"));
        assert_eq!(e.reason(), ReasonCode::ConsentMissing);
    }

    #[test]
    fn next_links_never_leave_the_graph_host() {
        let client = GraphClient::new(GraphEndpoints::default(), GraphPolicy::default());
        assert!(
            client
                .same_host("https://graph.microsoft.com/v1.0/groups?$skiptoken=x")
                .is_ok()
        );
        for other in [
            "https://evil.example/v1.0/groups",
            "http://graph.microsoft.com/v1.0/groups",
            "https://graph.microsoft.com:8443/v1.0/groups",
            "not a url",
        ] {
            assert!(client.same_host(other).is_err(), "{other}");
        }
    }

    #[test]
    fn roles_are_read_from_the_token() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = URL_SAFE_NO_PAD.encode(r#"{"roles":["Group.Read.All"]}"#);
        assert_eq!(
            roles_claim(&format!("h.{payload}.s")),
            vec!["Group.Read.All"]
        );
        assert!(roles_claim("garbage").is_empty());
    }
}
