//! What the gate decides on, read in one round trip: the tenant, the
//! actor's membership and assignment, the connection (explicit or default)
//! and the run holding the protected scope, if any.

use super::super::model::{OperationType, ScopeKind};
use super::super::sql::{active_run, connection_scope, tenant_scope};
use super::StartRequest;
use crate::error::{AppError, AppResult};
use crate::ids::{ProviderConnectionId, RunId, UserId, WorkspaceId};
use crate::rbac::Role;
use crate::views::TenantStatus;
use sqlx::AnyConnection;

pub(super) struct Connection {
    pub(super) id: ProviderConnectionId,
    pub(super) enabled: bool,
    pub(super) consent: bool,
    /// Microsoft reported a grant that no verification has confirmed yet.
    pub(super) consent_answered: bool,
    pub(super) has_credentials: bool,
    pub(super) expires_at: Option<i64>,
}

pub(super) struct Tenant {
    pub(super) workspace: WorkspaceId,
    pub(super) name: String,
    pub(super) active: bool,
}

/// Everything the gate decides on, read in one query.
pub(super) struct Snapshot {
    pub(super) tenant: Tenant,
    pub(super) role: Option<Role>,
    pub(super) assigned: bool,
    pub(super) connection: Option<Connection>,
    pub(super) active: Option<(RunId, OperationType)>,
}

pub(super) const SNAPSHOT: &str = concat!(
    "SELECT t.workspace_id, t.display_name, t.status, m.role,
        (SELECT COUNT(*) FROM tenant_assignments a WHERE a.tenant_id = t.id AND a.user_id = $2) AS assigned,
        c.id AS connection_id, c.status AS connection_status, c.consent, c.consent_answered_at, c.has_credentials, c.credential_expires_at,
        r.id AS active_id, r.op_type AS active_type
     FROM tenants t
     LEFT JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = $2
     LEFT JOIN provider_connections c ON c.id = (
         SELECT pc.id FROM provider_connections pc WHERE pc.tenant_id = t.id AND ($3 IS NULL OR pc.id = $3)
         ORDER BY pc.is_default DESC, pc.id LIMIT 1)
     LEFT JOIN operation_runs r ON ",
    active_run!("r"),
    " AND r.scope_key =
         CASE WHEN $4 = 'tenant' THEN ",
    tenant_scope!("t.id"),
    " ELSE ",
    connection_scope!("c.id"),
    " END
     WHERE t.id = $1"
);

pub(super) async fn snapshot(
    conn: &mut AnyConnection,
    request: &StartRequest,
    user: Option<UserId>,
    scope: ScopeKind,
) -> AppResult<Snapshot> {
    let row = sqlx::query(SNAPSHOT)
        .bind(request.tenant.0)
        .bind(user.map(|u| u.0))
        .bind(request.connection.map(|c| c.0))
        .bind(scope_param(scope))
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    snapshot_of(&row)
}

pub(super) fn scope_param(scope: ScopeKind) -> &'static str {
    match scope {
        ScopeKind::Tenant => "tenant",
        ScopeKind::ProviderConnection => "provider",
    }
}

pub(super) fn snapshot_of(row: &sqlx::any::AnyRow) -> AppResult<Snapshot> {
    use sqlx::Row;
    let connection = match row.try_get::<Option<i64>, _>("connection_id")? {
        Some(id) => Some(Connection {
            id: ProviderConnectionId(id),
            enabled: row.try_get::<String, _>("connection_status")? == "enabled",
            consent: row.try_get::<String, _>("consent")? == "granted",
            consent_answered: row
                .try_get::<Option<i64>, _>("consent_answered_at")?
                .is_some(),
            has_credentials: row.try_get::<i64, _>("has_credentials")? != 0,
            expires_at: row.try_get("credential_expires_at")?,
        }),
        None => None,
    };
    let active = match row.try_get::<Option<i64>, _>("active_id")? {
        Some(id) => Some((
            RunId(id),
            row.try_get::<String, _>("active_type")?
                .parse()
                .map_err(|_| AppError::Internal)?,
        )),
        None => None,
    };
    Ok(Snapshot {
        tenant: Tenant {
            workspace: WorkspaceId(row.try_get("workspace_id")?),
            name: row.try_get("display_name")?,
            active: row.try_get::<String, _>("status")?.parse::<TenantStatus>()
                == Ok(TenantStatus::Active),
        },
        role: row
            .try_get::<Option<String>, _>("role")?
            .and_then(|r| r.parse().ok()),
        assigned: row.try_get::<i64, _>("assigned")? > 0,
        connection,
        active,
    })
}

pub(super) async fn active_on_scope(
    conn: &mut AnyConnection,
    scope: &str,
) -> AppResult<Option<(RunId, OperationType)>> {
    let row: Option<(i64, String)> = sqlx::query_as(concat!(
        "SELECT id, op_type FROM operation_runs r WHERE scope_key = $1 AND ",
        active_run!("r")
    ))
    .bind(scope)
    .fetch_optional(conn)
    .await?;
    match row {
        Some((id, t)) => Ok(Some((
            RunId(id),
            t.parse().map_err(|_| AppError::Internal)?,
        ))),
        None => Ok(None),
    }
}
