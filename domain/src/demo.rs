//! The demo world `tenantry demo` starts with: accounts, a workspace and
//! tenants, created once on an empty database.

use crate::access::Actor;
use crate::error::AppResult;
use crate::rbac::Role;
use crate::services::Services;
use crate::validate::{Email, NewPassword};

pub const DEMO_OWNER: &str = "demo@tenantry.local";
pub const DEMO_OPERATOR: &str = "operator@tenantry.local";
/// Shown by `tenantry demo`; the demo binds to 127.0.0.1 only.
pub const DEMO_PASSWORD: &str = "tenantry-demo-password";

/// A demo tenant and the app registration that reads it (served by the Graph simulator).
#[derive(Clone)]
pub struct DemoTenant {
    pub name: String,
    pub entra_tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// Shown in the demo banner: what the simulator does with this tenant.
    pub behaviour: String,
}

impl std::fmt::Debug for DemoTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoTenant")
            .field("name", &self.name)
            .field("entra_tenant_id", &self.entra_tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"**redacted**")
            .finish_non_exhaustive()
    }
}

/// Seeds the demo world when the database has no accounts yet: accounts, a
/// workspace, the tenants and one provider connection each (secret sealed).
/// Returns whether anything was created.
pub async fn seed(svc: &Services, tenants: &[DemoTenant]) -> AppResult<bool> {
    let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *svc.store.read().await?)
        .await?;
    if users > 0 {
        return Ok(false);
    }
    let password = NewPassword::parse(DEMO_PASSWORD)?;
    let owner =
        crate::accounts::create_user(svc, &Email::parse(DEMO_OWNER)?, &password, true).await?;
    let operator =
        crate::accounts::create_user(svc, &Email::parse(DEMO_OPERATOR)?, &password, false).await?;
    let mut actor = Actor {
        user_id: owner,
        email: DEMO_OWNER.to_string(),
        is_platform_operator: true,
        session_id_hash: String::new(),
        current_workspace: None,
        mfa_owed: false,
        time_zone: None,
        theme: Default::default(),
    };
    let ws = crate::workspaces::create(svc, &actor, "Demo MSP").await?;
    actor.current_workspace = Some(ws);
    let mut first = None;
    let mut created = Vec::new();
    for t in tenants {
        let id = crate::tenants::create(svc, &actor, ws, &t.name, &t.entra_tenant_id).await?;
        crate::provider::connections::create(
            svc,
            &actor,
            id,
            crate::provider::connections::NewConnection {
                display_name: "Tenantry demo app",
                entra_tenant_id: &t.entra_tenant_id,
                client_id: &t.client_id,
                client_secret: &t.client_secret,
                expires_on: "",
                make_default: true,
            },
        )
        .await?;
        first.get_or_insert(id);
        created.push(id);
    }
    // A tag on the first two tenants and a nightly inventory of every tenant.
    let tag = crate::schedules::tags::create(svc, &actor, ws, "Managed services").await?;
    for t in created.iter().take(2) {
        crate::schedules::tags::set_on_tenant(svc, &actor, *t, tag, true).await?;
    }
    crate::schedules::service::create(
        svc,
        &actor,
        ws,
        crate::schedules::service::ScheduleForm {
            name: "Nightly inventory".into(),
            op_type: "inventory_sync".into(),
            target: "all".into(),
            cron: "0 2 * * *".into(),
            time_zone: "UTC".into(),
            spread_seconds: "60".into(),
        },
    )
    .await?;
    crate::workspaces::add_member_directly(svc, &actor, ws, DEMO_OPERATOR, Role::Operator).await?;
    if let Some(t) = first {
        crate::tenants::set_assignment(svc, &actor, t, operator, true).await?;
    }
    Ok(true)
}

/// The demo's baseline: once the tenant (`entra_tenant_id`) has its first
/// inventory, *Contoso standard* is captured from it for the demo owner,
/// unassigned (assigning it is the operator's first step). Does nothing
/// when the workspace has a baseline already or the tenant no inventory.
pub async fn seed_baseline(svc: &Services, entra_tenant_id: &str) -> AppResult<bool> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT t.id, t.workspace_id, u.id FROM tenants t
         JOIN memberships m ON m.workspace_id = t.workspace_id
         JOIN users u ON u.id = m.user_id AND u.email = $2
         WHERE t.microsoft_tenant_id = $1 LIMIT 1",
    )
    .bind(entra_tenant_id)
    .bind(DEMO_OWNER)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let Some((tenant, ws, owner)) = row else {
        return Ok(false);
    };
    let (baselines,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM baselines WHERE workspace_id = $1")
            .bind(ws)
            .fetch_one(&mut *svc.store.read().await?)
            .await?;
    if baselines > 0 {
        return Ok(false);
    }
    let actor = Actor {
        user_id: crate::ids::UserId(owner),
        email: DEMO_OWNER.to_string(),
        is_platform_operator: true,
        session_id_hash: String::new(),
        current_workspace: Some(crate::ids::WorkspaceId(ws)),
        mfa_owed: false,
        time_zone: None,
        theme: Default::default(),
    };
    crate::baselines::service::capture(
        svc,
        &actor,
        crate::ids::WorkspaceId(ws),
        "Contoso standard",
        &tenant.to_string(),
    )
    .await?;
    Ok(true)
}

/// The demo's alerting: a webhook endpoint named "Demo receiver" pointed at
/// `hook_url` (the demo's own receiver, on a new port at every start) and a
/// rule on failed or blocked runs that tells owners and managers in-app,
/// the receiver and the desk. Created once; later starts only repoint the
/// endpoint. Answers the secrets that sign its messages (for the receiver).
pub async fn alerting(svc: &Services, hook_url: &str) -> AppResult<Vec<String>> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT u.id, m.workspace_id FROM users u JOIN memberships m ON m.user_id = u.id
         WHERE u.email = $1 ORDER BY m.workspace_id LIMIT 1",
    )
    .bind(DEMO_OWNER)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let Some((owner, ws)) = row else {
        return Ok(Vec::new());
    };
    let ws = crate::ids::WorkspaceId(ws);
    let actor = Actor {
        user_id: crate::ids::UserId(owner),
        email: DEMO_OWNER.to_string(),
        is_platform_operator: true,
        session_id_hash: String::new(),
        current_workspace: Some(ws),
        mfa_owed: false,
        time_zone: None,
        theme: Default::default(),
    };
    let existing: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM webhook_endpoints WHERE workspace_id = $1 AND name = 'Demo receiver'",
    )
    .bind(ws.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let endpoint = match existing {
        Some((id,)) => {
            sqlx::query("UPDATE webhook_endpoints SET url = $2 WHERE id = $1")
                .bind(id)
                .bind(hook_url)
                .execute(&mut *svc.store.write().await?)
                .await?;
            crate::ids::WebhookEndpointId(id)
        }
        None => {
            let id =
                crate::alerts::webhooks::create(svc, &actor, ws, "Demo receiver", hook_url).await?;
            // Shown to nobody: the demo hands it to its receiver below.
            sqlx::query(
                "UPDATE webhook_endpoints SET reveal_sealed = NULL, reveal_to = NULL WHERE id = $1",
            )
            .bind(id.0)
            .execute(&mut *svc.store.write().await?)
            .await?;
            crate::alerts::rules::create(
                svc,
                &actor,
                ws,
                crate::alerts::rules::RuleForm {
                    name: "Runs failing on a tenant".into(),
                    condition: "run_failures".into(),
                    op_type: "any".into(),
                    count: "1".into(),
                    window_hours: "24".into(),
                    scope: "all".into(),
                    severity: "critical".into(),
                    roles: vec!["owner".into(), "manager".into()],
                    webhooks: vec![id],
                    ticket: crate::support::desk::configured(svc).kind().is_some(),
                    ..Default::default()
                },
            )
            .await?;
            id
        }
    };
    let (current, previous): (String, Option<String>) = sqlx::query_as(
        "SELECT secret_sealed, previous_secret_sealed FROM webhook_endpoints WHERE id = $1",
    )
    .bind(endpoint.0)
    .fetch_one(&mut *svc.store.read().await?)
    .await?;
    Ok([Some(current), previous]
        .into_iter()
        .flatten()
        .filter_map(|s| svc.secrets.open(&s).ok().map(|x| x.expose().to_string()))
        .collect())
}
