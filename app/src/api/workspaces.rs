//! The shell, the overview, workspaces, the audit log and the system list.

use crate::error::ApiResult;
use domain::ids::{TenantId, WorkspaceId};
#[cfg(feature = "ssr")]
use domain::views::AuditFilter;
use domain::views::{AuditAction, AuditOutcome, AuditPage};
use domain::workspaces::views::{OverviewPage, ShellView, SystemWorkspaceRow};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};

#[server(prefix = "/api", endpoint = "shell")]
pub async fn load_shell() -> ApiResult<ShellView> {
    let (svc, actor) = signed_in()?;
    Ok(domain::workspaces::shell(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "overview")]
pub async fn load_overview() -> ApiResult<Option<OverviewPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::workspaces::overview(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "audit")]
pub async fn load_audit(
    action: Option<AuditAction>,
    outcome: Option<AuditOutcome>,
    tenant: Option<TenantId>,
    before: Option<domain::ids::AuditEntryId>,
) -> ApiResult<Option<AuditPage>> {
    let (svc, actor) = signed_in()?;
    let filter = AuditFilter {
        action,
        outcome,
        tenant,
        before,
    };
    Ok(domain::workspaces::audit_page(&svc, &actor, &filter).await?)
}

#[server(prefix = "/api", endpoint = "system/workspaces")]
pub async fn load_system_workspaces() -> ApiResult<Vec<SystemWorkspaceRow>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::workspaces::system_list(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "workspaces/create")]
pub async fn create_workspace(name: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::workspaces::create(&svc, &actor, &name).await?;
    redirect("/admin?notice=workspace_created");
    Ok(())
}

#[server(prefix = "/api", endpoint = "workspaces/switch")]
pub async fn switch_workspace(workspace: WorkspaceId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::workspaces::switch(&svc, &actor, workspace).await?;
    redirect("/admin");
    Ok(())
}
