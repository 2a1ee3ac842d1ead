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

/// Seeds the demo world when the database has no accounts yet.
/// Returns whether anything was created.
pub async fn seed(svc: &Services) -> AppResult<bool> {
    let (users,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(svc.store.pool())
        .await?;
    if users > 0 {
        return Ok(false);
    }
    let password = NewPassword::parse(DEMO_PASSWORD)?;
    let owner =
        crate::accounts::create_user(svc, &Email::parse(DEMO_OWNER)?, &password, true).await?;
    let operator =
        crate::accounts::create_user(svc, &Email::parse(DEMO_OPERATOR)?, &password, false).await?;
    let actor = Actor {
        user_id: owner,
        email: DEMO_OWNER.to_string(),
        is_platform_operator: true,
        session_id_hash: String::new(),
        current_workspace: None,
    };
    let ws = crate::workspaces::create(svc, &actor, "Demo MSP").await?;
    let mut first = None;
    for (name, guid) in [
        (
            "Contoso Pharmaceuticals",
            "6f1c2a4e-3b7d-4c9a-9e2f-1a2b3c4d5e6f",
        ),
        (
            "Fabrikam Manufacturing",
            "2d9e8f7a-6b5c-4d3e-8f1a-0b9c8d7e6f5a",
        ),
        ("Northwind Traders", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"),
    ] {
        let t = crate::tenants::create(svc, &actor, ws, name, guid).await?;
        first.get_or_insert(t);
    }
    crate::workspaces::add_member(svc, &actor, ws, DEMO_OPERATOR, Role::Operator).await?;
    if let Some(t) = first {
        crate::tenants::set_assignment(svc, &actor, t, operator, true).await?;
    }
    Ok(true)
}
