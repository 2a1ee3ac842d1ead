//! Admin consent round trip. *Grant admin consent* sends a manager to
//! Microsoft's admin-consent page for the connection's app in the customer
//! tenant; Microsoft sends the browser back to our callback with the answer.
//! A grant is recorded as *granted, not yet verified*: only a verification
//! (which reads the permissions the token really carries) confirms consent.
//!
//! The `state` that travels through Microsoft is sealed with the server key
//! and names the member, the connection and an expiry, so an answer cannot be
//! forged, replayed by someone else, or applied to another connection.

use crate::access::Actor;
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{ProviderConnectionId, TenantId};
use crate::rbac::Capability;
use crate::secrets::Secret;
use crate::services::Services;
use crate::tenants::guard_manage;
use crate::views::{AuditAction, AuditOutcome};
use serde::{Deserialize, Serialize};

/// How long a consent round trip may take.
pub const STATE_TTL_MS: i64 = 30 * 60_000;

/// The path Microsoft sends the browser back to.
pub const CALLBACK_PATH: &str = "/admin/consent/callback";

#[derive(Debug, Serialize, Deserialize)]
struct ConsentState {
    user: i64,
    tenant: i64,
    connection: i64,
    expires_at: i64,
}

/// What Microsoft's redirect carries (all optional: it is a URL anyone can type).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ConsentAnswer {
    pub admin_consent: Option<String>,
    pub tenant: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// Where the callback leaves the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentOutcome {
    pub tenant: TenantId,
    pub connection: ProviderConnectionId,
    pub granted: bool,
}

fn expired_answer() -> AppError {
    AppError::Conflict {
        message: "This consent answer is not valid for you or has expired. Start again with Grant admin consent on the connection.".into(),
    }
}

/// Microsoft's admin-consent URL for the connection's app, with a sealed
/// state; `callback` is the absolute URL of [`CALLBACK_PATH`] on this site.
pub async fn begin(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    connection: ProviderConnectionId,
    callback: &str,
) -> AppResult<String> {
    guard_manage(
        svc,
        actor,
        tenant,
        AuditAction::ConsentAnswered,
        Capability::ProviderManage,
    )
    .await?;
    let c = super::connections::load(svc, tenant, connection).await?;
    let state = ConsentState {
        user: actor.user_id.0,
        tenant: tenant.0,
        connection: connection.0,
        expires_at: svc.now() + STATE_TTL_MS,
    };
    let sealed = svc.secrets.seal(&Secret::new(
        serde_json::to_string(&state).map_err(|_| AppError::Internal)?,
    ));
    let graph = crate::provider::graph_client(svc);
    let authority = graph.endpoints().authority.trim_end_matches('/');
    // The Entra tenant id and client id were validated as GUIDs when saved.
    reqwest::Url::parse_with_params(
        &format!("{authority}/{}/v2.0/adminconsent", c.entra_tenant_id),
        [
            ("client_id", c.client_id.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
            ("redirect_uri", callback),
            ("state", sealed.as_str()),
        ],
    )
    .map(String::from)
    .map_err(|_| AppError::Internal)
}

/// Takes Microsoft's answer. A grant marks consent *answered* (the gate says
/// *verify to confirm*); a refusal changes nothing. Both are audited.
pub async fn finish(
    svc: &Services,
    actor: &Actor,
    answer: &ConsentAnswer,
) -> AppResult<ConsentOutcome> {
    let now = svc.now();
    let state: ConsentState = answer
        .state
        .as_deref()
        .filter(|s| s.len() <= 2048)
        .and_then(|s| svc.secrets.open(s).ok())
        .and_then(|s| serde_json::from_str(s.expose()).ok())
        .ok_or_else(expired_answer)?;
    if state.user != actor.user_id.0 || state.expires_at < now {
        return Err(expired_answer());
    }
    let tenant = TenantId(state.tenant);
    let connection = ProviderConnectionId(state.connection);
    let access = guard_manage(
        svc,
        actor,
        tenant,
        AuditAction::ConsentAnswered,
        Capability::ProviderManage,
    )
    .await?;
    let c = super::connections::load(svc, tenant, connection).await?;
    let said_yes = answer
        .admin_consent
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let same_tenant = answer
        .tenant
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case(&c.entra_tenant_id));
    let granted = said_yes && same_tenant && answer.error.is_none();
    let detail = if granted {
        "granted in Microsoft; run tenant verification to confirm it".to_string()
    } else if said_yes {
        "granted in a different Entra tenant than the connection's; nothing changed".to_string()
    } else {
        // Only Microsoft's short error code, never free text from the URL.
        let code = answer
            .error
            .as_deref()
            .filter(|e| e.len() <= 64 && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .unwrap_or("no answer");
        format!("not granted ({code})")
    };
    let mut tx = AuditedTx::begin(svc, now).await?;
    if granted {
        sqlx::query(
            "UPDATE provider_connections SET consent_answered_at = $2
             WHERE id = $1 AND consent <> 'granted'",
        )
        .bind(connection.0)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    let mut entry = Entry::by_member(
        actor,
        access.workspace.id(),
        Some(tenant),
        AuditAction::ConsentAnswered,
        c.display_name.clone(),
        Some(detail),
    );
    if !granted {
        entry.outcome = AuditOutcome::Failed;
    }
    tx.commit(entry).await?;
    Ok(ConsentOutcome {
        tenant,
        connection,
        granted,
    })
}
