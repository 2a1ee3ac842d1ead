//! The one configured support desk: HaloPSA (OAuth2 client credentials,
//! `POST /api/Tickets` with a JSON array) or Request Tracker 5 (REST 2, token
//! auth). One call creates a ticket within a hard total timeout; failures
//! become short words of ours, never the desk's payload or a credential.

use crate::secrets::Secret;
use serde_json::{Value, json};
use std::time::Duration;

/// The hard limit on one handoff, token included.
pub const HANDOFF_TIMEOUT: Duration = Duration::from_secs(5);

/// Which desk, where, and how to sign in. Credentials never print.
#[derive(Clone, Default)]
pub enum DeskConfig {
    #[default]
    NotConfigured,
    HaloPsa {
        base_url: String,
        client_id: String,
        client_secret: Secret,
    },
    RequestTracker {
        base_url: String,
        token: Secret,
        queue: String,
    },
}

/// The desk installed in the handle (`NotConfigured` where none was).
pub fn configured(svc: &crate::services::Services) -> std::sync::Arc<DeskConfig> {
    svc.port::<DeskConfig>().unwrap_or_default()
}

impl std::fmt::Debug for DeskConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeskConfig::NotConfigured => "DeskConfig::NotConfigured",
            DeskConfig::HaloPsa { .. } => "DeskConfig::HaloPsa { .. }",
            DeskConfig::RequestTracker { .. } => "DeskConfig::RequestTracker { .. }",
        })
    }
}

impl DeskConfig {
    /// The stored name of the desk kind (`None` when not configured).
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            DeskConfig::NotConfigured => None,
            DeskConfig::HaloPsa { .. } => Some("halopsa"),
            DeskConfig::RequestTracker { .. } => Some("request_tracker"),
        }
    }
}

/// What the desk gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskTicket {
    pub external_id: String,
    pub reference: String,
    pub url: Option<String>,
}

/// What we ask the desk to open.
#[derive(Debug, Clone)]
pub struct TicketRequest<'a> {
    pub subject: &'a str,
    pub body: &'a str,
}

/// Why a handoff failed, in the operator's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeskError {
    #[error("The support desk did not answer within 5 seconds.")]
    Timeout,
    #[error("The support desk refused Tenantry's credentials.")]
    Unauthorized,
    #[error("The support desk could not be reached.")]
    Unreachable,
    #[error("The support desk reported an error while creating the ticket.")]
    DeskError,
    #[error("The support desk answered with something Tenantry could not read.")]
    Unreadable,
    #[error(
        "The support desk answered with a redirect, which Tenantry does not follow: check the desk's URL."
    )]
    Redirected,
}

fn http() -> reqwest::Client {
    // No redirects: the desk token or the ticket never goes elsewhere.
    crate::outbound::client(Duration::from_secs(2))
}

/// A desk's answers are small; nothing larger is read.
const MAX_DESK_BODY: usize = 1024 * 1024;

async fn json_of(response: reqwest::Response) -> Result<Value, DeskError> {
    let body = crate::outbound::read_capped(response, MAX_DESK_BODY)
        .await
        .map_err(|e| match e {
            crate::outbound::BodyError::TooLarge => DeskError::Unreadable,
            crate::outbound::BodyError::Transport(e) => transport(e),
        })?;
    serde_json::from_slice(&body).map_err(|_| DeskError::Unreadable)
}

fn transport(e: reqwest::Error) -> DeskError {
    if e.is_timeout() {
        DeskError::Timeout
    } else {
        DeskError::Unreachable
    }
}

fn status(code: reqwest::StatusCode) -> Result<(), DeskError> {
    match code.as_u16() {
        200..=299 => Ok(()),
        300..=399 => Err(DeskError::Redirected),
        401 | 403 => Err(DeskError::Unauthorized),
        _ => Err(DeskError::DeskError),
    }
}

/// A HaloPSA access token (OAuth2 client credentials).
async fn halo_token(
    client: &reqwest::Client,
    base: &str,
    client_id: &str,
    client_secret: &Secret,
) -> Result<String, DeskError> {
    let token = client
        .post(format!("{base}/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret.expose()),
            ("scope", "all"),
        ])
        .send()
        .await
        .map_err(transport)?;
    status(token.status())?;
    let token: Value = json_of(token).await?;
    token
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(DeskError::Unreadable)
}

/// Creates one ticket, all of it within [`HANDOFF_TIMEOUT`].
#[tracing::instrument(name = "desk.create_ticket", skip_all, fields(desk = config.kind().unwrap_or("none")))]
pub async fn create_ticket(
    config: &DeskConfig,
    ticket: TicketRequest<'_>,
) -> Result<DeskTicket, DeskError> {
    match tokio::time::timeout(HANDOFF_TIMEOUT, create_unbounded(config, ticket)).await {
        Ok(result) => result,
        Err(_) => Err(DeskError::Timeout),
    }
}

async fn create_unbounded(
    config: &DeskConfig,
    ticket: TicketRequest<'_>,
) -> Result<DeskTicket, DeskError> {
    let client = http();
    match config {
        DeskConfig::NotConfigured => Err(DeskError::Unreachable),
        DeskConfig::HaloPsa {
            base_url,
            client_id,
            client_secret,
        } => {
            let base = base_url.trim_end_matches('/');
            let access = halo_token(&client, base, client_id, client_secret).await?;
            let access = access.as_str();
            let created = client
                .post(format!("{base}/api/Tickets"))
                .bearer_auth(access)
                .json(&json!([{ "summary": ticket.subject, "details": ticket.body }]))
                .send()
                .await
                .map_err(transport)?;
            status(created.status())?;
            let body: Value = json_of(created).await?;
            // Halo answers with the ticket (or a one-element array).
            let t = body.as_array().and_then(|a| a.first()).unwrap_or(&body);
            let id = match t.get("id") {
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Err(DeskError::Unreadable),
            };
            Ok(DeskTicket {
                reference: format!("Halo #{id}"),
                url: Some(format!("{base}/ticket?id={id}")),
                external_id: id,
            })
        }
        DeskConfig::RequestTracker {
            base_url,
            token,
            queue,
        } => {
            let base = base_url.trim_end_matches('/');
            let created = client
                .post(format!("{base}/REST/2.0/ticket"))
                .header("Authorization", format!("token {}", token.expose()))
                .json(&json!({ "Queue": queue, "Subject": ticket.subject, "Content": ticket.body }))
                .send()
                .await
                .map_err(transport)?;
            status(created.status())?;
            let body: Value = json_of(created).await?;
            let id = match body.get("id") {
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => return Err(DeskError::Unreadable),
            };
            Ok(DeskTicket {
                reference: format!("RT #{id}"),
                url: Some(format!("{base}/Ticket/Display.html?id={id}")),
                external_id: id,
            })
        }
    }
}

/// Adds a note to a ticket this desk opened (an alert that reopened), all of
/// it within [`HANDOFF_TIMEOUT`].
#[tracing::instrument(name = "desk.add_note", skip_all, fields(desk = config.kind().unwrap_or("none")))]
pub async fn add_note(config: &DeskConfig, external_id: &str, note: &str) -> Result<(), DeskError> {
    match tokio::time::timeout(
        HANDOFF_TIMEOUT,
        add_note_unbounded(config, external_id, note),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(DeskError::Timeout),
    }
}

async fn add_note_unbounded(
    config: &DeskConfig,
    external_id: &str,
    note: &str,
) -> Result<(), DeskError> {
    let client = http();
    match config {
        DeskConfig::NotConfigured => Err(DeskError::Unreachable),
        DeskConfig::HaloPsa {
            base_url,
            client_id,
            client_secret,
        } => {
            let base = base_url.trim_end_matches('/');
            let access = halo_token(&client, base, client_id, client_secret).await?;
            let access = access.as_str();
            let id: i64 = external_id.parse().map_err(|_| DeskError::Unreadable)?;
            let added = client
                .post(format!("{base}/api/Actions"))
                .bearer_auth(access)
                .json(&json!([{ "ticket_id": id, "note": note, "outcome": "Update" }]))
                .send()
                .await
                .map_err(transport)?;
            status(added.status())
        }
        DeskConfig::RequestTracker {
            base_url, token, ..
        } => {
            let base = base_url.trim_end_matches('/');
            let id: i64 = external_id.parse().map_err(|_| DeskError::Unreadable)?;
            let added = client
                .post(format!("{base}/REST/2.0/ticket/{id}/comment"))
                .header("Authorization", format!("token {}", token.expose()))
                .header("Content-Type", "text/plain")
                .body(note.to_string())
                .send()
                .await
                .map_err(transport)?;
            status(added.status())
        }
    }
}
