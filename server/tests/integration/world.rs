//! The worlds tests start from, shared by every suite: a workspace with an
//! owner, a read-only member and a tenant with a consented connection
//! ([`run_world`]); the same with `n` more tenants ([`fleet`]); a connection
//! added to a tenant ([`add_connection`]). Accounts alone come from
//! `TestApp::owner_of` / `signed_in_owner_of` and `common::owner_with_workspace`.

use crate::common::TestApp;
use domain::access::Actor;
use domain::ids::{ProviderConnectionId, TenantId, WorkspaceId};
use domain::rbac::Role;

pub struct RunWorld {
    pub owner: Actor,
    pub readonly: Actor,
    pub tenant: TenantId,
    pub connection: ProviderConnectionId,
}

pub async fn add_connection(
    app: &TestApp,
    ws: WorkspaceId,
    tenant: TenantId,
    status: &str,
    consent: &str,
    creds: bool,
    expires: Option<i64>,
) -> ProviderConnectionId {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO provider_connections (workspace_id, tenant_id, display_name, status, consent, has_credentials, credential_expires_at, is_default, created_at)
         VALUES ($1, $2, 'Graph app', $3, $4, $5, $6,
            CASE WHEN EXISTS (SELECT 1 FROM provider_connections WHERE tenant_id = $2 AND is_default = 1) THEN 0 ELSE 1 END, 0)
         RETURNING id",
    )
    .bind(ws.0)
    .bind(tenant.0)
    .bind(status)
    .bind(consent)
    .bind(creds as i64)
    .bind(expires)
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    ProviderConnectionId(id)
}

pub async fn run_world(app: &TestApp) -> RunWorld {
    let owner_id = app.create_user("owner@example.com", false).await;
    let ro_id = app.create_user("readonly@example.com", false).await;
    let owner = app.actor(owner_id, "owner@example.com");
    let readonly = app.actor(ro_id, "readonly@example.com");
    let svc = &app.services;
    let workspace = domain::workspaces::create(svc, &owner, "Acme MSP")
        .await
        .unwrap();
    let tenant = domain::tenants::create(
        svc,
        &owner,
        workspace,
        "Fabrikam",
        "11111111-1111-1111-1111-111111111111",
    )
    .await
    .unwrap();
    domain::workspaces::add_member_directly(
        svc,
        &owner,
        workspace,
        "readonly@example.com",
        Role::Readonly,
    )
    .await
    .unwrap();
    domain::tenants::set_assignment(svc, &owner, tenant, ro_id, true)
        .await
        .unwrap();
    let connection = add_connection(app, workspace, tenant, "enabled", "granted", true, None).await;
    RunWorld {
        owner,
        readonly,
        tenant,
        connection,
    }
}

pub struct FleetWorld {
    pub owner: Actor,
    pub readonly: Actor,
    pub ws: WorkspaceId,
    pub tenants: Vec<TenantId>,
}

/// with a consented default connection (written directly: 500 quickly).
pub async fn fleet(app: &TestApp, extra: usize) -> FleetWorld {
    let w = run_world(app).await;
    let ws = domain::workspaces::list_for_user(&app.services, w.owner.user_id)
        .await
        .unwrap()[0]
        .id;
    let pool = app.services.store.unguarded_pool();
    let mut tenants = vec![w.tenant];
    for i in 0..extra {
        let (t,): (i64,) = sqlx::query_as(
            "INSERT INTO tenants (workspace_id, display_name, microsoft_tenant_id, status, created_at, updated_at)
             VALUES ($1, $2, $3, 'active', 0, 0) RETURNING id",
        )
        .bind(ws.0)
        .bind(format!("Tenant {i}"))
        .bind(format!("00000000-0000-4000-8000-{i:012}"))
        .fetch_one(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO provider_connections (workspace_id, tenant_id, display_name, status, consent, has_credentials, is_default, created_at)
             VALUES ($1, $2, 'Graph app', 'enabled', 'granted', 1, 1, 0)",
        )
        .bind(ws.0)
        .bind(t)
        .execute(pool)
        .await
        .unwrap();
        tenants.push(TenantId(t));
    }
    FleetWorld {
        owner: w.owner,
        readonly: w.readonly,
        ws,
        tenants,
    }
}
