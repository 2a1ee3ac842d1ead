//! Webhook endpoints following the Standard Webhooks specification: each
//! has a `whsec_…` signing secret (sealed at rest, shown once to who made
//! it), rotated with a grace period during which both secrets sign; a
//! message is signed as `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

use super::lifecycle;
use super::ssrf::{self, WebhookNetworks};
use super::{DeliveryView, EndpointView};
use crate::access::{self, Actor};
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{AlertDeliveryId, AlertId, WebhookEndpointId, WorkspaceId};
use crate::rbac::Capability;
use crate::secrets::Secret;
use crate::services::Services;
use crate::views::AuditAction;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// How long a rotated secret keeps signing beside the new one.
pub const ROTATION_GRACE_MS: i64 = 24 * 3_600_000;
/// Deliveries listed per endpoint.
const LOG_ROWS: i64 = 20;

/// The networks webhooks may reach although not public (server configuration).
pub fn networks(svc: &Services) -> std::sync::Arc<WebhookNetworks> {
    svc.port::<WebhookNetworks>().unwrap_or_default()
}

/// A new secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut key = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// The signature of one message with one secret (`None`: not a `whsec_` secret).
pub fn sign(secret: &str, message_id: &str, timestamp: i64, body: &str) -> Option<String> {
    use hmac::{Hmac, Mac};
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).ok()?;
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

fn name_of(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::invalid(
            "name",
            "Give the endpoint a name of up to 80 characters.",
        ));
    }
    Ok(name.to_string())
}

/// Adds an endpoint; its secret is shown once on the next page load.
pub async fn create(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    name: &str,
    url: &str,
) -> AppResult<WebhookEndpointId> {
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::AlertsManage,
        AuditAction::WebhookEndpointCreated,
        name.chars().take(80).collect::<String>(),
    )
    .await?;
    let name = name_of(name)?;
    let target = ssrf::check_url(url, &networks(svc)).map_err(|m| AppError::invalid("url", m))?;
    let secret = new_secret();
    let sealed = svc.secrets.seal(&Secret::new(&secret));
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO webhook_endpoints (workspace_id, name, url, secret_sealed, enabled, consecutive_failures, reveal_sealed, reveal_to, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 1, 0, $4, $5, $6, $6) RETURNING id",
    )
    .bind(access.id().0)
    .bind(&name)
    .bind(target.url.as_str())
    .bind(&sealed)
    .bind(actor.user_id.0)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::WebhookEndpointCreated,
        name,
        Some(target.url.to_string()),
    ))
    .await?;
    Ok(WebhookEndpointId(id))
}

/// The endpoint for a change by the actor: 404 unless in a workspace of
/// theirs; 403 (audited) without `alerts.manage`.
async fn for_change(
    svc: &Services,
    actor: &Actor,
    endpoint: WebhookEndpointId,
    action: AuditAction,
) -> AppResult<(WorkspaceId, String)> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT workspace_id, name FROM webhook_endpoints WHERE id = $1")
            .bind(endpoint.0)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?;
    let (ws, name) = row.ok_or(AppError::NotFound)?;
    let ws = WorkspaceId(ws);
    access::workspace(svc, actor, ws, Capability::WorkspaceView).await?;
    access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::AlertsManage,
        action,
        name.clone(),
    )
    .await?;
    Ok((ws, name))
}

/// A new secret; the old one keeps signing for [`ROTATION_GRACE_MS`].
pub async fn rotate(svc: &Services, actor: &Actor, endpoint: WebhookEndpointId) -> AppResult<()> {
    let (ws, name) = for_change(svc, actor, endpoint, AuditAction::WebhookSecretRotated).await?;
    let secret = new_secret();
    let sealed = svc.secrets.seal(&Secret::new(&secret));
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, previous_until = $2, secret_sealed = $3,
            reveal_sealed = $3, reveal_to = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(endpoint.0)
    .bind(now + ROTATION_GRACE_MS)
    .bind(&sealed)
    .bind(actor.user_id.0)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        ws,
        None,
        AuditAction::WebhookSecretRotated,
        name,
        Some("the previous secret signs for 24 h more".into()),
    ))
    .await
}

/// Turns an endpoint on again (its failure count starts over) or off.
pub async fn set_enabled(
    svc: &Services,
    actor: &Actor,
    endpoint: WebhookEndpointId,
    enabled: bool,
) -> AppResult<()> {
    let action = if enabled {
        AuditAction::WebhookEndpointUpdated
    } else {
        AuditAction::WebhookEndpointDisabled
    };
    let (ws, name) = for_change(svc, actor, endpoint, action).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "UPDATE webhook_endpoints SET enabled = $2, consecutive_failures = 0, disabled_reason = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(endpoint.0)
    .bind(i64::from(enabled))
    .bind((!enabled).then_some("Turned off by a member."))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if enabled {
        super::send::endpoint_enabled(&mut tx, svc, ws, endpoint.0).await?;
    }
    tx.commit(Entry::by_member(
        actor,
        ws,
        None,
        action,
        name,
        Some(if enabled { "turned on" } else { "turned off" }.into()),
    ))
    .await
}

/// Deletes an endpoint and its delivery log.
pub async fn delete(svc: &Services, actor: &Actor, endpoint: WebhookEndpointId) -> AppResult<()> {
    let (ws, name) = for_change(svc, actor, endpoint, AuditAction::WebhookEndpointDeleted).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(endpoint.0)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        ws,
        None,
        AuditAction::WebhookEndpointDeleted,
        name,
        None,
    ))
    .await
}

/// Queues a test message (`tenantry.test`) to the endpoint.
pub async fn send_test(
    svc: &Services,
    actor: &Actor,
    endpoint: WebhookEndpointId,
) -> AppResult<()> {
    let (ws, name) = for_change(svc, actor, endpoint, AuditAction::WebhookEndpointUpdated).await?;
    let now = svc.now();
    let payload = serde_json::json!({
        "type": "tenantry.test",
        "timestamp": jiff::Timestamp::from_millisecond(now).map(|t| t.to_string()).unwrap_or_default(),
        "data": { "version": super::PAYLOAD_VERSION, "endpoint": { "id": endpoint.0, "name": name }, "sent_by": actor.email },
    })
    .to_string();
    let mut tx = svc.store.begin().await?;
    lifecycle::enqueue(
        &mut tx,
        ws,
        None,
        Some(endpoint),
        "webhook",
        "tenantry.test",
        &payload,
        now,
    )
    .await?;
    tx.commit().await?;
    super::send::wake();
    Ok(())
}

/// Sends one message again, with its `webhook-id` (receivers that already
/// have it can drop it).
pub async fn redeliver(svc: &Services, actor: &Actor, delivery: AlertDeliveryId) -> AppResult<()> {
    type SentRow = (i64, Option<i64>, Option<i64>, String, String, String);
    let row: Option<SentRow> = sqlx::query_as(
        "SELECT workspace_id, alert_id, endpoint_id, event, message_id, payload FROM alert_deliveries WHERE id = $1 AND channel = 'webhook'",
    )
    .bind(delivery.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let (_, alert, endpoint, event, message_id, payload) = row.ok_or(AppError::NotFound)?;
    let endpoint = WebhookEndpointId(endpoint.ok_or(AppError::NotFound)?);
    let (ws, name) = for_change(svc, actor, endpoint, AuditAction::WebhookRedelivered).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "INSERT INTO alert_deliveries (workspace_id, alert_id, endpoint_id, channel, event, message_id, payload, state, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, 'webhook', $4, $5, $6, 'queued', 0, $7, $7)",
    )
    .bind(ws.0)
    .bind(alert)
    .bind(endpoint.0)
    .bind(&event)
    .bind(&message_id)
    .bind(&payload)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        ws,
        None,
        AuditAction::WebhookRedelivered,
        name,
        Some(message_id),
    ))
    .await?;
    super::send::wake();
    Ok(())
}

/// The secret waiting to be shown to this member (taken: shown once).
pub async fn take_reveal(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
) -> AppResult<Option<(WebhookEndpointId, String)>> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, reveal_sealed FROM webhook_endpoints WHERE workspace_id = $1 AND reveal_to = $2 AND reveal_sealed IS NOT NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(ws.0)
    .bind(actor.user_id.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let Some((id, sealed)) = row else {
        return Ok(None);
    };
    let taken = sqlx::query("UPDATE webhook_endpoints SET reveal_sealed = NULL, reveal_to = NULL WHERE id = $1 AND reveal_to = $2")
        .bind(id)
        .bind(actor.user_id.0)
        .execute(&mut *svc.store.write().await?)
        .await?
        .rows_affected();
    if taken != 1 {
        return Ok(None);
    }
    let secret = svc.secrets.open(&sealed).map_err(|_| AppError::Internal)?;
    Ok(Some((WebhookEndpointId(id), secret.expose().to_string())))
}

type DeliveryRow = (
    i64,
    String,
    String,
    Option<i64>,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// Every endpoint of a workspace with its newest deliveries.
pub(crate) async fn all_in(svc: &Services, ws: WorkspaceId) -> AppResult<Vec<EndpointView>> {
    let mut conn = svc.store.read().await?;
    type EndpointRow = (i64, String, String, i64, Option<String>, i64, Option<i64>);
    let rows: Vec<EndpointRow> = sqlx::query_as(
        "SELECT id, name, url, enabled, disabled_reason, consecutive_failures, previous_until FROM webhook_endpoints
         WHERE workspace_id = $1 ORDER BY name, id",
    )
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let now = svc.now();
    let mut out = Vec::new();
    for (id, name, url, enabled, reason, failures, previous_until) in rows {
        let deliveries: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT d.id, d.message_id, d.event, d.alert_id, d.state, d.attempts, d.next_attempt_at, d.created_at,
                    w.status_code, w.duration_ms, w.outcome, w.response_excerpt
             FROM alert_deliveries d
             LEFT JOIN webhook_attempts w ON w.id = (SELECT MAX(x.id) FROM webhook_attempts x WHERE x.delivery_id = d.id)
             WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2",
        )
        .bind(id)
        .bind(LOG_ROWS)
        .fetch_all(&mut *conn)
        .await?;
        out.push(EndpointView {
            id: WebhookEndpointId(id),
            name,
            url,
            enabled: enabled != 0,
            disabled_reason: reason,
            consecutive_failures: failures,
            previous_until: previous_until.filter(|u| *u > now),
            deliveries: deliveries
                .into_iter()
                .map(
                    |(
                        d,
                        msg,
                        event,
                        alert,
                        state,
                        attempts,
                        next_at,
                        created,
                        status,
                        duration,
                        outcome,
                        excerpt,
                    )| DeliveryView {
                        id: AlertDeliveryId(d),
                        message_id: msg,
                        event,
                        alert: alert.map(AlertId),
                        state,
                        attempts,
                        next_attempt_at: next_at,
                        created_at: created,
                        last_status: status,
                        last_duration_ms: duration,
                        last_outcome: outcome,
                        last_excerpt: excerpt,
                    },
                )
                .collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_specifications_example() {
        // The Standard Webhooks specification's published test vector.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-a-secret", "m", 1, "b"), None);
        assert!(new_secret().starts_with("whsec_"));
        assert_ne!(new_secret(), new_secret());
    }
}
