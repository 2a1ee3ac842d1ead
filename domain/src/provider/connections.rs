//! Provider connections: add, edit, rotate the secret, enable/disable, make
//! default, delete. Gated by `provider.manage`, audited, and the client secret
//! is sealed before it reaches the database and never read back into a view.

use super::{ConnectionPage, ConnectionView, ConnectionsPage};
use crate::access::{self, Actor, TenantAccess};
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{ProviderConnectionId, RunId, TenantId};
use crate::rbac::Capability;
use crate::secrets::Secret;
use crate::services::Services;
use crate::tenants::guard_manage;
use crate::validate::{ClientSecretInput, ConnectionName, Guid, parse_expiry_date};
use crate::views::AuditAction;
use sqlx::Row;
use sqlx::any::AnyRow;

const COLUMNS: &str = concat!(
    "c.id, c.tenant_id, c.display_name, c.entra_tenant_id, c.client_id, c.status,
    c.consent, c.consent_answered_at, c.has_credentials, c.secret_updated_at, c.credential_expires_at, c.is_default,
    c.last_checked_at, c.last_check_reason, c.granted_permissions, c.created_at,
    (SELECT r.id FROM operation_runs r WHERE r.scope_key = ",
    crate::runs::sql::connection_scope!("c.id"),
    " AND ",
    crate::runs::sql::active_run!("r"),
    ") AS active_run"
);

fn view(row: &AnyRow, now: i64) -> AppResult<ConnectionView> {
    let credential_expires_at: Option<i64> = row.try_get("credential_expires_at")?;
    Ok(ConnectionView {
        id: ProviderConnectionId(row.try_get("id")?),
        tenant_id: TenantId(row.try_get("tenant_id")?),
        display_name: row.try_get("display_name")?,
        entra_tenant_id: row.try_get("entra_tenant_id")?,
        client_id: row.try_get("client_id")?,
        enabled: row.try_get::<String, _>("status")? == "enabled",
        consent_granted: row.try_get::<String, _>("consent")? == "granted",
        consent_unconfirmed: row.try_get::<String, _>("consent")? != "granted"
            && row
                .try_get::<Option<i64>, _>("consent_answered_at")?
                .is_some(),
        has_secret: row.try_get::<i64, _>("has_credentials")? != 0,
        secret_updated_at: row.try_get("secret_updated_at")?,
        credential_expires_at,
        secret_expired: super::secret_expired(credential_expires_at, now),
        is_default: row.try_get::<i64, _>("is_default")? != 0,
        last_checked_at: row.try_get("last_checked_at")?,
        last_check_reason: row
            .try_get::<Option<String>, _>("last_check_reason")?
            .and_then(|r| r.parse().ok()),
        granted_permissions: row
            .try_get::<Option<String>, _>("granted_permissions")?
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default(),
        created_at: row.try_get("created_at")?,
        active_run: row.try_get::<Option<i64>, _>("active_run")?.map(RunId),
    })
}

/// The tenant's connections, default first.
pub async fn list(svc: &Services, tenant: TenantId) -> AppResult<Vec<ConnectionView>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(&*format!(
        "SELECT {COLUMNS} FROM provider_connections c WHERE c.tenant_id = $1 ORDER BY c.is_default DESC, c.display_name, c.id"
    )))
    .bind(tenant.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let now = svc.now();
    rows.iter().map(|r| view(r, now)).collect()
}

pub(crate) async fn load(
    svc: &Services,
    tenant: TenantId,
    connection: ProviderConnectionId,
) -> AppResult<ConnectionView> {
    let row = sqlx::query(sqlx::AssertSqlSafe(&*format!(
        "SELECT {COLUMNS} FROM provider_connections c WHERE c.id = $1 AND c.tenant_id = $2"
    )))
    .bind(connection.0)
    .bind(tenant.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?
    .ok_or(AppError::NotFound)?;
    view(&row, svc.now())
}

pub async fn connections_page(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
) -> AppResult<ConnectionsPage> {
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    Ok(ConnectionsPage {
        can_manage: access.workspace.role().can(Capability::ProviderManage),
        can_run: access.workspace.role().can(Capability::ProviderRun),
        workspace_name: access.workspace.workspace.name.clone(),
        connections: list(svc, tenant).await?,
        tenant: access.tenant,
    })
}

pub async fn connection_page(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    connection: ProviderConnectionId,
) -> AppResult<ConnectionPage> {
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    Ok(ConnectionPage {
        can_manage: access.workspace.role().can(Capability::ProviderManage),
        can_run: access.workspace.role().can(Capability::ProviderRun),
        connection: load(svc, tenant, connection).await?,
        tenant: access.tenant,
    })
}

/// What the add form sends.
pub struct NewConnection<'a> {
    pub display_name: &'a str,
    pub entra_tenant_id: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub expires_on: &'a str,
    pub make_default: bool,
}

impl std::fmt::Debug for NewConnection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnection")
            .field("display_name", &self.display_name)
            .field("entra_tenant_id", &self.entra_tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"**redacted**")
            .field("expires_on", &self.expires_on)
            .field("make_default", &self.make_default)
            .finish()
    }
}

pub async fn create(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    input: NewConnection<'_>,
) -> AppResult<ProviderConnectionId> {
    let access = guard_manage(
        svc,
        actor,
        tenant,
        AuditAction::ConnectionCreated,
        Capability::ProviderManage,
    )
    .await?;
    let name = ConnectionName::parse(input.display_name)?;
    let entra = Guid::parse("entra_tenant_id", "Entra tenant id", input.entra_tenant_id)?;
    let client = Guid::parse("client_id", "application (client) id", input.client_id)?;
    let secret = ClientSecretInput::parse(input.client_secret)?;
    let now = svc.now();
    let expires = parse_expiry_date(input.expires_on, now)?;
    let sealed = svc.secrets.seal(&Secret::new(secret.expose().to_string()));
    let mut tx = AuditedTx::begin(svc, now).await?;
    let (existing,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM provider_connections WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(&mut **tx)
            .await?;
    let default = input.make_default || existing == 0;
    if default {
        sqlx::query("UPDATE provider_connections SET is_default = 0 WHERE tenant_id = $1")
            .bind(tenant.0)
            .execute(&mut **tx)
            .await?;
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO provider_connections (workspace_id, tenant_id, display_name, status, consent,
            has_credentials, credential_expires_at, is_default, created_at, entra_tenant_id, client_id,
            client_secret_sealed, secret_updated_at, updated_at)
         VALUES ($1, $2, $3, 'enabled', 'missing', 1, $4, $5, $6, $7, $8, $9, $6, $6) RETURNING id",
    )
    .bind(access.workspace.id().0)
    .bind(tenant.0)
    .bind(name.as_str())
    .bind(expires)
    .bind(i64::from(default))
    .bind(now)
    .bind(entra.as_str())
    .bind(client.as_str())
    .bind(&sealed)
    .fetch_one(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.workspace.id(),
        Some(access.tenant.id),
        AuditAction::ConnectionCreated,
        name.as_str().to_string(),
        Some(format!(
            "client {}{}",
            client.as_str(),
            if default { ", default" } else { "" }
        )),
    ))
    .await?;
    Ok(ProviderConnectionId(id))
}

/// Guards a change to one connection of the tenant: 404 unless it is the tenant's.
async fn guard_connection(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    connection: ProviderConnectionId,
    action: AuditAction,
) -> AppResult<(TenantAccess, ConnectionView)> {
    let access = guard_manage(svc, actor, tenant, action, Capability::ProviderManage).await?;
    let current = load(svc, tenant, connection).await?;
    Ok((access, current))
}

pub async fn update(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    connection: ProviderConnectionId,
    display_name: &str,
    entra_tenant_id: &str,
    client_id: &str,
) -> AppResult<()> {
    let (access, current) = guard_connection(
        svc,
        actor,
        tenant,
        connection,
        AuditAction::ConnectionUpdated,
    )
    .await?;
    let name = ConnectionName::parse(display_name)?;
    let entra = Guid::parse("entra_tenant_id", "Entra tenant id", entra_tenant_id)?;
    let client = Guid::parse("client_id", "application (client) id", client_id)?;
    // Consent belongs to an app in a tenant: a different app or tenant must be verified again.
    let identity_changed =
        entra.as_str() != current.entra_tenant_id || client.as_str() != current.client_id;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "UPDATE provider_connections SET display_name = $2, entra_tenant_id = $3, client_id = $4,
            consent = CASE WHEN $5 = 1 THEN 'missing' ELSE consent END,
            consent_answered_at = CASE WHEN $5 = 1 THEN NULL ELSE consent_answered_at END,
            granted_permissions = CASE WHEN $5 = 1 THEN NULL ELSE granted_permissions END,
            updated_at = $6
         WHERE id = $1",
    )
    .bind(connection.0)
    .bind(name.as_str())
    .bind(entra.as_str())
    .bind(client.as_str())
    .bind(i64::from(identity_changed))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.workspace.id(),
        Some(access.tenant.id),
        AuditAction::ConnectionUpdated,
        name.as_str().to_string(),
        identity_changed
            .then(|| "tenant or client id changed: consent must be verified again".into()),
    ))
    .await?;
    Ok(())
}

pub async fn rotate_secret(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    connection: ProviderConnectionId,
    client_secret: &str,
    expires_on: &str,
) -> AppResult<()> {
    let (access, current) = guard_connection(
        svc,
        actor,
        tenant,
        connection,
        AuditAction::ConnectionSecretRotated,
    )
    .await?;
    let secret = ClientSecretInput::parse(client_secret)?;
    let now = svc.now();
    let expires = parse_expiry_date(expires_on, now)?;
    let sealed = svc.secrets.seal(&Secret::new(secret.expose().to_string()));
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "UPDATE provider_connections SET client_secret_sealed = $2, has_credentials = 1,
            credential_expires_at = $3, secret_updated_at = $4, updated_at = $4
         WHERE id = $1",
    )
    .bind(connection.0)
    .bind(&sealed)
    .bind(expires)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.workspace.id(),
        Some(access.tenant.id),
        AuditAction::ConnectionSecretRotated,
        current.display_name.clone(),
        None,
    ))
    .await?;
    Ok(())
}

pub async fn set_enabled(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    connection: ProviderConnectionId,
    enabled: bool,
) -> AppResult<()> {
    let action = if enabled {
        AuditAction::ConnectionEnabled
    } else {
        AuditAction::ConnectionDisabled
    };
    let (access, current) = guard_connection(svc, actor, tenant, connection, action).await?;
    if current.enabled == enabled {
        return Ok(());
    }
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query("UPDATE provider_connections SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(connection.0)
        .bind(if enabled { "enabled" } else { "disabled" })
        .bind(now)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        access.workspace.id(),
        Some(access.tenant.id),
        action,
        current.display_name.clone(),
        None,
    ))
    .await?;
    Ok(())
}

pub async fn make_default(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    connection: ProviderConnectionId,
) -> AppResult<()> {
    let (access, current) = guard_connection(
        svc,
        actor,
        tenant,
        connection,
        AuditAction::ConnectionUpdated,
    )
    .await?;
    if current.is_default {
        return Ok(());
    }
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query("UPDATE provider_connections SET is_default = 0 WHERE tenant_id = $1")
        .bind(tenant.0)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE provider_connections SET is_default = 1, updated_at = $2 WHERE id = $1")
        .bind(connection.0)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        access.workspace.id(),
        Some(access.tenant.id),
        AuditAction::ConnectionUpdated,
        current.display_name.clone(),
        Some("made the default connection".into()),
    ))
    .await?;
    Ok(())
}

/// Deletes a connection that no run holds; its runs keep their history.
pub async fn delete(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    connection: ProviderConnectionId,
) -> AppResult<()> {
    let (access, current) = guard_connection(
        svc,
        actor,
        tenant,
        connection,
        AuditAction::ConnectionDeleted,
    )
    .await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let (active,): (i64,) = sqlx::query_as(concat!(
        "SELECT COUNT(*) FROM operation_runs r WHERE scope_key = $1 AND ",
        crate::runs::sql::active_run!("r")
    ))
    .bind(crate::runs::model::connection_scope_key(connection))
    .fetch_one(&mut **tx)
    .await?;
    if active > 0 {
        return Err(AppError::conflict(
            "An operation is using this connection. Wait for it to finish (or cancel it), then delete.",
        ));
    }
    sqlx::query("DELETE FROM provider_connections WHERE id = $1")
        .bind(connection.0)
        .execute(&mut **tx)
        .await?;
    if current.is_default {
        // Keep a default while any connection is left.
        sqlx::query(
            "UPDATE provider_connections SET is_default = 1 WHERE id =
                (SELECT MIN(id) FROM provider_connections WHERE tenant_id = $1)",
        )
        .bind(tenant.0)
        .execute(&mut **tx)
        .await?;
    }
    tx.commit(Entry::by_member(
        actor,
        access.workspace.id(),
        Some(access.tenant.id),
        AuditAction::ConnectionDeleted,
        current.display_name.clone(),
        None,
    ))
    .await?;
    Ok(())
}

/// What the worker needs to call Graph for a run: the pinned connection's
/// identity and its opened secret. Fails typed when the secret cannot be opened.
pub async fn credentials_for_run(
    svc: &Services,
    connection: ProviderConnectionId,
) -> AppResult<Option<super::graph::AppCredentials>> {
    let row: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT entra_tenant_id, client_id, client_secret_sealed FROM provider_connections WHERE id = $1",
    )
    .bind(connection.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let Some((entra_tenant_id, client_id, Some(sealed))) = row else {
        return Ok(None);
    };
    let client_secret = svc.secrets.open(&sealed).map_err(|_| {
        tracing::warn!(
            connection = connection.0,
            "a client secret could not be opened with this key"
        );
        AppError::Internal
    })?;
    Ok(Some(super::graph::AppCredentials {
        entra_tenant_id,
        client_id,
        client_secret,
    }))
}

/// What the handlers learn about a connection, written back after a check.
pub async fn record_check(
    svc: &Services,
    connection: ProviderConnectionId,
    consent_granted: Option<bool>,
    granted_permissions: Option<&[String]>,
    reason: Option<crate::runs::model::ReasonCode>,
) -> AppResult<()> {
    let mut tx = svc.store.begin().await?;
    sqlx::query(
        "UPDATE provider_connections SET last_checked_at = $2, last_check_reason = $3,
            consent = COALESCE($4, consent),
            consent_answered_at = CASE WHEN $4 IS NULL THEN consent_answered_at ELSE NULL END,
            granted_permissions = COALESCE($5, granted_permissions)
         WHERE id = $1",
    )
    .bind(connection.0)
    .bind(svc.now())
    .bind(reason.map(|r| r.as_str()))
    .bind(consent_granted.map(|g| if g { "granted" } else { "missing" }))
    .bind(granted_permissions.and_then(|p| serde_json::to_string(p).ok()))
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
