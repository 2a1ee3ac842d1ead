//! Single sign-on with OpenID Connect (the `openidconnect` crate):
//! authorization code with PKCE, nonce and state; the ID token's signature,
//! issuer, audience, expiry and nonce checked. Microsoft Entra ID works
//! single-tenant (`https://login.microsoftonline.com/{tenant}/v2.0`) and
//! multi-tenant (`…/organizations/v2.0`, the issuer then checked against the
//! token's own `tid`), and so does any standards-compliant issuer.
//!
//! People are linked by the identity provider's stable subject — Entra's
//! `tid` + `oid`, else `iss` + `sub` — never by email alone. An identity
//! signs in the account it is linked to; an unlinked one may only accept an
//! invitation addressed to its (verified) email, creating the account.
//!
//! A login's state row is single use (deleted as it is read), lives ten
//! minutes and is bound to the browser that started it by a cookie, so a
//! callback URL from someone else's login signs nobody in here.
//!
//! The provider is an outbound peer like Graph: no redirects followed,
//! answers capped, deadlines on every call; its words never reach a page.

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::secrets::Secret;
use crate::services::Services;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a started login may take at the identity provider.
pub const LOGIN_TTL_MS: i64 = 10 * 60_000;
/// Largest answer read from the provider (discovery, keys, tokens).
const MAX_BODY: usize = 256 * 1024;
/// Discovery and keys are fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// The cookie binding a login to the browser that started it.
pub const BINDING_COOKIE: &str = "tenantry_sso";

/// How Tenantry reaches the identity provider (`--oidc-*`).
#[derive(Clone)]
pub struct SsoConfig {
    issuer: String,
    client_id: String,
    client_secret: Secret,
    /// The provider's name on buttons (`Sign in with Microsoft`).
    pub name: String,
    timeout: Duration,
    metadata: Arc<tokio::sync::Mutex<Option<(CoreProviderMetadata, Instant)>>>,
}

impl std::fmt::Debug for SsoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"**redacted**")
            .finish()
    }
}

/// Microsoft Entra ID's issuer shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entra {
    /// Any organisation's accounts (`organizations` or `common`).
    MultiTenant,
    /// One directory.
    SingleTenant(String),
}

const ENTRA_HOST: &str = "https://login.microsoftonline.com/";

impl SsoConfig {
    /// Checks the settings: an https issuer (plain http only on this machine,
    /// for tests), a client id, a secret. `name` empty: `Microsoft` for Entra.
    pub fn parse(
        issuer: &str,
        client_id: &str,
        client_secret: Secret,
        name: &str,
    ) -> Result<SsoConfig, String> {
        let issuer = issuer.trim().trim_end_matches('/').to_string();
        let local =
            issuer.starts_with("http://127.0.0.1:") || issuer.starts_with("http://localhost:");
        if !(issuer.starts_with("https://") || local) {
            return Err("the OpenID issuer must be an https:// URL".into());
        }
        IssuerUrl::new(issuer.clone())
            .map_err(|_| "the OpenID issuer is not a valid URL".to_string())?;
        if client_id.trim().is_empty() {
            return Err("single sign-on needs a client id (--oidc-client-id)".into());
        }
        if client_secret.expose().trim().is_empty() {
            return Err("single sign-on needs a client secret (--oidc-client-secret-file)".into());
        }
        let mut config = SsoConfig {
            issuer,
            client_id: client_id.trim().to_string(),
            client_secret,
            name: name.trim().to_string(),
            timeout: Duration::from_secs(10),
            metadata: Arc::default(),
        };
        if config.name.is_empty() {
            config.name = if config.entra().is_some() {
                "Microsoft".into()
            } else {
                "single sign-on".into()
            };
        }
        Ok(config)
    }

    fn entra(&self) -> Option<Entra> {
        let rest = self.issuer.strip_prefix(ENTRA_HOST)?;
        let tenant = rest.strip_suffix("/v2.0")?;
        Some(match tenant {
            "organizations" | "common" => Entra::MultiTenant,
            t => Entra::SingleTenant(t.to_string()),
        })
    }
}

/// Why single sign-on did not sign anyone in, in the operator's words
/// (the sign-in page shows them; the provider's own never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoRefusal {
    /// The state is unknown, used, expired or from another browser.
    Expired,
    /// The provider could not be reached or answered nonsense.
    Unavailable,
    /// The ID token failed a check (signature, issuer, audience, expiry, nonce).
    Untrusted,
    /// The person cancelled or the provider refused them.
    Cancelled,
    /// No account uses this identity and no invitation was being accepted.
    NoAccount,
    /// The invitation is for another address than the identity's.
    WrongPerson,
    /// The invitation's address has an account: sign in with it to accept.
    AccountExists,
    /// Linking: another account already uses this identity.
    LinkedElsewhere,
}

impl SsoRefusal {
    /// The sign-in page's notice key.
    pub fn key(self) -> &'static str {
        match self {
            SsoRefusal::Expired => "sso_expired",
            SsoRefusal::Unavailable => "sso_unavailable",
            SsoRefusal::Untrusted => "sso_untrusted",
            SsoRefusal::Cancelled => "sso_cancelled",
            SsoRefusal::NoAccount => "sso_no_account",
            SsoRefusal::WrongPerson => "sso_wrong_person",
            SsoRefusal::AccountExists => "sso_account_exists",
            SsoRefusal::LinkedElsewhere => "sso_linked_elsewhere",
        }
    }
}

/// What a finished login did.
#[derive(Debug)]
pub enum SsoOutcome {
    SignedIn(crate::accounts::SignedIn, String),
    /// Joined a workspace through an invitation (a new account).
    Joined(crate::accounts::SignedIn),
    /// Linked to the signed-in account (Your account).
    Linked,
    Refused(SsoRefusal),
}

#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error("the identity provider could not be reached")]
    Transport,
    #[error("the identity provider's answer was too large")]
    TooLarge,
}

/// One HTTP exchange with the provider: no redirects, a deadline, a cap.
async fn call(
    client: reqwest::Client,
    timeout: Duration,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string();
    let mut builder = client
        .request(parts.method, url)
        .timeout(timeout)
        .body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await.map_err(|_| HttpError::Transport)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = crate::outbound::read_capped(response, MAX_BODY)
        .await
        .map_err(|e| match e {
            crate::outbound::BodyError::TooLarge => HttpError::TooLarge,
            crate::outbound::BodyError::Transport(_) => HttpError::Transport,
        })?;
    let mut out = http::Response::builder().status(status);
    for (name, value) in &headers {
        out = out.header(name, value);
    }
    out.body(body).map_err(|_| HttpError::Transport)
}

fn http_client(
    config: &SsoConfig,
) -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send>,
> {
    let client = crate::outbound::client(config.timeout);
    let timeout = config.timeout;
    move |request| Box::pin(call(client.clone(), timeout, request))
}

/// The provider's metadata and keys (cached for an hour).
async fn metadata(config: &SsoConfig) -> Result<CoreProviderMetadata, SsoRefusal> {
    let mut cached = config.metadata.lock().await;
    if let Some((m, at)) = cached.as_ref()
        && at.elapsed() < METADATA_TTL
    {
        return Ok(m.clone());
    }
    let http = http_client(config);
    let fetched = match config.entra() {
        // Multi-tenant Entra publishes a templated issuer (`{tenantid}`),
        // which discovery's issuer check cannot match: fetch it as it is
        // and check each token's issuer against its own tenant instead.
        Some(Entra::MultiTenant) => {
            let url = format!("{}/.well-known/openid-configuration", config.issuer);
            let request = http::Request::get(url)
                .header(http::header::ACCEPT, "application/json")
                .body(Vec::new())
                .map_err(|_| SsoRefusal::Unavailable)?;
            let response = http(request).await.map_err(|_| SsoRefusal::Unavailable)?;
            if !response.status().is_success() {
                return Err(SsoRefusal::Unavailable);
            }
            let meta: CoreProviderMetadata =
                serde_json::from_slice(response.body()).map_err(|_| SsoRefusal::Unavailable)?;
            let jwks = openidconnect::JsonWebKeySet::fetch_async(meta.jwks_uri(), &http)
                .await
                .map_err(|_| SsoRefusal::Unavailable)?;
            meta.set_jwks(jwks)
        }
        _ => {
            let issuer =
                IssuerUrl::new(config.issuer.clone()).map_err(|_| SsoRefusal::Unavailable)?;
            CoreProviderMetadata::discover_async(issuer, &http)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "OpenID discovery failed");
                    SsoRefusal::Unavailable
                })?
        }
    };
    *cached = Some((fetched.clone(), Instant::now()));
    Ok(fetched)
}

/// Where the provider sends the browser back (register it at the provider).
pub const CALLBACK_PATH: &str = "/sign-in/sso/callback";

fn redirect_url(origin: &str) -> AppResult<RedirectUrl> {
    RedirectUrl::new(format!("{origin}{CALLBACK_PATH}")).map_err(|_| AppError::Internal)
}

fn hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// A started login: where to send the browser, and the value of the cookie
/// binding the login to it.
#[derive(Debug)]
pub struct Started {
    pub authorize_url: String,
    pub binding: String,
}

/// Starts a login: a state row (single use, ten minutes) with the PKCE
/// verifier and nonce sealed, then the provider's authorization URL.
/// `invitation`: the token of an invitation being accepted.
pub async fn start(
    svc: &Services,
    origin: &str,
    next: &str,
    invitation: Option<&str>,
    link_to: Option<UserId>,
) -> AppResult<Result<Started, SsoRefusal>> {
    let Some(config) = svc.port::<crate::sso::SsoConfig>() else {
        return Err(AppError::NotFound);
    };
    let meta = match metadata(&config).await {
        Ok(m) => m,
        Err(r) => return Ok(Err(r)),
    };
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.expose().to_string())),
    )
    .set_redirect_uri(redirect_url(origin)?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let binding = hex::encode(bytes);
    let seal = |s: &str| svc.secrets.seal(&Secret::new(s));
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    sqlx::query("DELETE FROM sso_logins WHERE created_at < $1")
        .bind(now - LOGIN_TTL_MS)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO sso_logins (state_hash, binding_hash, verifier_sealed, nonce_sealed, next_path, invitation_sealed, created_at, link_user_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(hash(state.secret()))
    .bind(hash(&binding))
    .bind(seal(verifier.secret()))
    .bind(seal(nonce.secret()))
    .bind(crate::validate::safe_next(Some(next)))
    .bind(invitation.map(&seal))
    .bind(now)
    .bind(link_to.map(|u| u.0))
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(Started {
        authorize_url: url.to_string(),
        binding,
    }))
}

/// The identity an ID token vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `entra:{tid}` for Entra, else the token's issuer.
    pub issuer: String,
    /// Entra's `oid`, else `sub`.
    pub subject: String,
    /// A verified email (or Entra's `preferred_username`), lowercased.
    pub email: Option<String>,
}

/// The claims the generic types do not carry (Entra's tenant and object ids).
#[derive(Debug, serde::Deserialize)]
struct EntraIds {
    tid: Option<String>,
    oid: Option<String>,
}

/// Reads the (already verified) token's payload for claims outside the standard set.
fn entra_ids(raw: &str) -> Option<EntraIds> {
    use base64::Engine;
    let payload = raw.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The stable identity from verified claims: Entra's `tid`+`oid` (with the
/// issuer checked against that tenant when multi-tenant), else `iss`+`sub`.
fn identity_of(
    config: &SsoConfig,
    issuer: &str,
    subject: &str,
    email: Option<String>,
    raw_token: &str,
) -> Result<Identity, SsoRefusal> {
    match config.entra() {
        None => Ok(Identity {
            issuer: issuer.to_string(),
            subject: subject.to_string(),
            email,
        }),
        Some(mode) => {
            let ids = entra_ids(raw_token).ok_or(SsoRefusal::Untrusted)?;
            let (Some(tid), Some(oid)) = (ids.tid, ids.oid) else {
                return Err(SsoRefusal::Untrusted);
            };
            if let Entra::SingleTenant(t) = &mode
                && !t.eq_ignore_ascii_case(&tid)
            {
                return Err(SsoRefusal::Untrusted);
            }
            if issuer != format!("{ENTRA_HOST}{tid}/v2.0") {
                return Err(SsoRefusal::Untrusted);
            }
            Ok(Identity {
                issuer: format!("entra:{}", tid.to_ascii_lowercase()),
                subject: oid.to_ascii_lowercase(),
                email,
            })
        }
    }
}

type LoginRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
);

/// Finishes a login at the callback: the state row is taken (single use)
/// and must belong to this browser (`binding`, the cookie), the code is
/// exchanged with the PKCE verifier, the ID token checked, and then the
/// identity signs in its account or accepts the invitation being accepted.
/// The login a callback names, taken once (read and deleted together).
async fn take_login(svc: &Services, state: &str) -> AppResult<Option<LoginRow>> {
    let mut tx = svc.store.begin().await?;
    let row: Option<LoginRow> = sqlx::query_as(
        "SELECT binding_hash, verifier_sealed, nonce_sealed, next_path, invitation_sealed, created_at, link_user_id
         FROM sso_logins WHERE state_hash = $1",
    )
    .bind(hash(state))
    .fetch_optional(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM sso_logins WHERE state_hash = $1")
        .bind(hash(state))
        .execute(&mut **tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// The email an ID token vouches for: a verified one, or (Entra, whose
/// tokens carry no `email_verified`) the email or the preferred username.
fn claimed_email(
    config: &SsoConfig,
    claims: &openidconnect::core::CoreIdTokenClaims,
) -> Option<String> {
    claims
        .email()
        .filter(|_| claims.email_verified().unwrap_or(false) || config.entra().is_some())
        .map(|e| e.as_str().to_string())
        .or_else(|| {
            config
                .entra()
                .and(claims.preferred_username().map(|u| u.as_str().to_string()))
        })
        .map(|e| e.trim().to_lowercase())
}

pub async fn finish(
    svc: &Services,
    origin: &str,
    code: &str,
    state: &str,
    binding: Option<&str>,
    signed_in: Option<&crate::access::Actor>,
    client_info: crate::sessions::Client<'_>,
) -> AppResult<SsoOutcome> {
    let Some(config) = svc.port::<crate::sso::SsoConfig>() else {
        return Err(AppError::NotFound);
    };
    let refused = |r| Ok(SsoOutcome::Refused(r));
    let now = svc.now();
    let Some((binding_hash, verifier, nonce, next, invitation, created_at, link_to)) =
        take_login(svc, state).await?
    else {
        return refused(SsoRefusal::Expired);
    };
    let same_browser = binding
        .is_some_and(|b| crate::secrets::same_secret(hash(b).as_bytes(), binding_hash.as_bytes()));
    if !same_browser || now - created_at >= LOGIN_TTL_MS {
        return refused(SsoRefusal::Expired);
    }
    // Linking is for the account that started it, still signed in here.
    let link_to = match link_to {
        Some(user) if signed_in.map(|a| a.user_id.0) == Some(user) => signed_in,
        Some(_) => return refused(SsoRefusal::Expired),
        None => None,
    };
    let open = |sealed: &str| {
        svc.secrets
            .open(sealed)
            .map(|s| s.expose().to_string())
            .map_err(|_| AppError::Internal)
    };
    let verifier = PkceCodeVerifier::new(open(&verifier)?);
    let nonce = Nonce::new(open(&nonce)?);
    let invitation = invitation.as_deref().map(open).transpose()?;

    let meta = match metadata(&config).await {
        Ok(m) => m,
        Err(r) => return refused(r),
    };
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.expose().to_string())),
    )
    .set_redirect_uri(redirect_url(origin)?);
    let http = http_client(&config);
    let Ok(request) = client.exchange_code(AuthorizationCode::new(code.to_string())) else {
        return refused(SsoRefusal::Unavailable);
    };
    let tokens = match request
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            // A used or forged code, or an unreachable provider: the provider's
            // words stay in this log line's classification only.
            tracing::warn!(
                kind = token_error_kind(&e),
                "the identity provider did not exchange the code"
            );
            return refused(SsoRefusal::Untrusted);
        }
    };
    let Some(id_token) = tokens.id_token() else {
        return refused(SsoRefusal::Untrusted);
    };
    let mut verifier = client.id_token_verifier();
    if config.entra() == Some(Entra::MultiTenant) {
        // Checked against the token's own tenant in `identity_of`.
        verifier = verifier.require_issuer_match(false);
    }
    let claims = match id_token.claims(&verifier, &nonce) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "an ID token failed verification");
            return refused(SsoRefusal::Untrusted);
        }
    };
    let email = claimed_email(&config, claims);
    let identity = match identity_of(
        &config,
        claims.issuer().as_str(),
        claims.subject().as_str(),
        email,
        &id_token.to_string(),
    ) {
        Ok(i) => i,
        Err(r) => return refused(r),
    };
    if let Some(actor) = link_to {
        return link(svc, actor, &identity).await;
    }
    settle(svc, &identity, invitation.as_deref(), next, client_info).await
}

/// Links the identity to the signed-in account (unless another account has it).
async fn link(
    svc: &Services,
    actor: &crate::access::Actor,
    identity: &Identity,
) -> AppResult<SsoOutcome> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let owner: Option<(i64,)> =
        sqlx::query_as("SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2")
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .fetch_optional(&mut **tx)
            .await?;
    match owner {
        Some((user,)) if user != actor.user_id.0 => {
            return Ok(SsoOutcome::Refused(SsoRefusal::LinkedElsewhere));
        }
        Some(_) => return Ok(SsoOutcome::Linked),
        None => {}
    }
    sqlx::query(
        "INSERT INTO user_identities (issuer, subject, user_id, email, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(actor.user_id.0)
    .bind(&identity.email)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    crate::audit::record(
        &mut tx,
        crate::accounts::account_entry(
            actor,
            crate::views::AuditAction::SsoLinked,
            crate::views::AuditOutcome::Succeeded,
            identity.email.clone(),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(SsoOutcome::Linked)
}

/// The provider's name when the person belongs to a workspace that signs in
/// with single sign-on only (their password is refused).
pub(crate) async fn required_for(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    user: UserId,
) -> AppResult<Option<String>> {
    let Some(config) = svc.port::<crate::sso::SsoConfig>() else {
        return Ok(None);
    };
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT w.id FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = $1 AND w.sso_only <> 0 LIMIT 1",
    )
    .bind(user.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|_| config.name.clone()))
}

/// The person's linked identities (Your account).
pub async fn identities(
    svc: &Services,
    actor: &crate::access::Actor,
) -> AppResult<Option<crate::identity::views::SsoAccount>> {
    let Some(config) = svc.port::<crate::sso::SsoConfig>() else {
        return Ok(None);
    };
    type Row = (String, String, Option<String>, i64, Option<i64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT issuer, subject, email, created_at, last_used_at FROM user_identities WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(actor.user_id.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    Ok(Some(crate::identity::views::SsoAccount {
        name: config.name.clone(),
        identities: rows
            .into_iter()
            .map(|(issuer, subject, email, linked_at, last_used_at)| {
                crate::identity::views::IdentityView {
                    id: hash(&format!("{issuer}\n{subject}"))[..16].to_string(),
                    email,
                    linked_at,
                    last_used_at,
                }
            })
            .collect(),
    }))
}

/// Unlinks one of the person's identities (the password first: it is the
/// way back in, and accounts made by single sign-on have none).
pub async fn unlink(
    svc: &Services,
    actor: &crate::access::Actor,
    id: &str,
    current_password: &str,
) -> AppResult<()> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT issuer, subject FROM user_identities WHERE user_id = $1")
            .bind(actor.user_id.0)
            .fetch_all(&mut *svc.store.read().await?)
            .await?;
    let Some((issuer, subject)) = rows
        .into_iter()
        .find(|(i, s)| hash(&format!("{i}\n{s}"))[..16] == *id.trim())
    else {
        return Err(AppError::NotFound);
    };
    crate::accounts::check_current_password(
        svc,
        actor,
        current_password,
        crate::views::AuditAction::SsoUnlinked,
    )
    .await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    sqlx::query("DELETE FROM user_identities WHERE issuer = $1 AND subject = $2 AND user_id = $3")
        .bind(&issuer)
        .bind(&subject)
        .bind(actor.user_id.0)
        .execute(&mut **tx)
        .await?;
    crate::audit::record(
        &mut tx,
        crate::accounts::account_entry(
            actor,
            crate::views::AuditAction::SsoUnlinked,
            crate::views::AuditOutcome::Succeeded,
            None,
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn token_error_kind<RE: std::error::Error + 'static, T: openidconnect::ErrorResponse + 'static>(
    e: &openidconnect::RequestTokenError<RE, T>,
) -> &'static str {
    match e {
        openidconnect::RequestTokenError::ServerResponse(_) => "refused",
        openidconnect::RequestTokenError::Request(_) => "unreachable",
        openidconnect::RequestTokenError::Parse(..) => "unreadable",
        openidconnect::RequestTokenError::Other(_) => "other",
    }
}

/// Signs in the identity's account, or accepts the invitation with it.
async fn settle(
    svc: &Services,
    identity: &Identity,
    invitation: Option<&str>,
    next: String,
    client_info: crate::sessions::Client<'_>,
) -> AppResult<SsoOutcome> {
    let now = svc.now();
    let linked: Option<(i64, String)> = sqlx::query_as(
        "SELECT u.id, u.email FROM user_identities i JOIN users u ON u.id = i.user_id
         WHERE i.issuer = $1 AND i.subject = $2",
    )
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    if let Some((user, email)) = linked {
        let mut tx = svc.store.begin().await?;
        sqlx::query(
            "UPDATE user_identities SET last_used_at = $3 WHERE issuer = $1 AND subject = $2",
        )
        .bind(&identity.issuer)
        .bind(&identity.subject)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let token =
            crate::accounts::open_sso_session(&mut tx, UserId(user), now, client_info, &email)
                .await?;
        tx.commit().await?;
        return Ok(SsoOutcome::SignedIn(
            crate::accounts::SignedIn {
                user: UserId(user),
                token,
                needs_code: false,
                device_cookie: None,
            },
            next,
        ));
    }
    let Some(token) = invitation else {
        return Ok(SsoOutcome::Refused(SsoRefusal::NoAccount));
    };
    match crate::invitations::join_with_identity(svc, token, identity, client_info).await? {
        Ok(signed_in) => Ok(SsoOutcome::Joined(signed_in)),
        Err(r) => Ok(SsoOutcome::Refused(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str) -> SsoConfig {
        SsoConfig::parse(issuer, "client", Secret::new("secret"), "").expect("valid")
    }

    #[test]
    fn settings_are_checked_and_the_secret_never_printed() {
        let c = config("https://login.microsoftonline.com/organizations/v2.0/");
        assert_eq!(c.name, "Microsoft");
        assert_eq!(c.entra(), Some(Entra::MultiTenant));
        assert!(!format!("{c:?}").contains("secret\""));
        let single =
            config("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0");
        assert_eq!(
            single.entra(),
            Some(Entra::SingleTenant(
                "72f988bf-86f1-41af-91ab-2d7cd011db47".into()
            ))
        );
        let generic = config("http://127.0.0.1:4455");
        assert_eq!(
            (generic.entra(), generic.name.as_str()),
            (None, "single sign-on")
        );
        for bad in ["http://idp.example.com", "not a url", "ftp://x"] {
            assert!(
                SsoConfig::parse(bad, "c", Secret::new("s"), "").is_err(),
                "{bad}"
            );
        }
        assert!(SsoConfig::parse("https://idp.example.com", "", Secret::new("s"), "").is_err());
        assert!(SsoConfig::parse("https://idp.example.com", "c", Secret::new(" "), "").is_err());
    }

    fn token_with(payload: serde_json::Value) -> String {
        use base64::Engine;
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.sig", b(b"{}"), b(payload.to_string().as_bytes()))
    }

    #[test]
    fn entra_identities_are_tenant_and_object_ids() {
        let multi = config("https://login.microsoftonline.com/organizations/v2.0");
        let tid = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
        let iss = format!("https://login.microsoftonline.com/{tid}/v2.0");
        let raw = token_with(serde_json::json!({"tid": tid, "oid": "ABC-1"}));
        let id = identity_of(&multi, &iss, "pairwise-sub", None, &raw).expect("valid");
        assert_eq!(
            (id.issuer.as_str(), id.subject.as_str()),
            ("entra:72f988bf-86f1-41af-91ab-2d7cd011db47", "abc-1")
        );
        // A token whose issuer is another tenant than its tid: refused.
        let other = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0";
        assert_eq!(
            identity_of(&multi, other, "s", None, &raw),
            Err(SsoRefusal::Untrusted)
        );
        // Single-tenant: only that tenant.
        let single =
            config("https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0");
        assert_eq!(
            identity_of(&single, &iss, "s", None, &raw),
            Err(SsoRefusal::Untrusted)
        );
        // No oid: refused, never a fallback to the email.
        let no_oid = token_with(serde_json::json!({"tid": tid}));
        assert_eq!(
            identity_of(&multi, &iss, "s", Some("a@b.c".into()), &no_oid),
            Err(SsoRefusal::Untrusted)
        );
        // Any other issuer: iss + sub.
        let generic = config("https://idp.example.com");
        let id = identity_of(&generic, "https://idp.example.com", "sub-1", None, "x.y.z")
            .expect("valid");
        assert_eq!(
            (id.issuer.as_str(), id.subject.as_str()),
            ("https://idp.example.com", "sub-1")
        );
    }
}
