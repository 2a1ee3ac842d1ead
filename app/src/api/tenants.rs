//! Tenants: the list, one tenant, changes, assignments, the fleet page.

use crate::error::ApiResult;
use domain::ids::{TagId, TenantId, UserId, WorkspaceId};
use domain::views::{TenantPage, TenantStatus, TenantsPage};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};

#[server(prefix = "/api", endpoint = "tenants")]
pub async fn load_tenants(tag: Option<TagId>) -> ApiResult<Option<TenantsPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::tenants::tenants_page(&svc, &actor, tag).await?)
}

#[server(prefix = "/api", endpoint = "tenant")]
pub async fn load_tenant(tenant: TenantId) -> ApiResult<TenantPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::tenants::tenant_page(&svc, &actor, tenant).await?)
}

#[server(prefix = "/api", endpoint = "tenants/create")]
pub async fn create_tenant(
    workspace: WorkspaceId,
    display_name: String,
    microsoft_tenant_id: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let id = domain::tenants::create(&svc, &actor, workspace, &display_name, &microsoft_tenant_id)
        .await?;
    redirect(&format!("/admin/t/{id}?notice=tenant_created"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "tenants/rename")]
pub async fn rename_tenant(tenant: TenantId, display_name: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::tenants::rename(&svc, &actor, tenant, &display_name).await?;
    redirect(&format!("/admin/t/{tenant}?notice=tenant_updated"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "tenants/status")]
pub async fn set_tenant_status(tenant: TenantId, status: TenantStatus) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::tenants::set_status(&svc, &actor, tenant, status).await?;
    redirect(&format!("/admin/t/{tenant}?notice=tenant_updated"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "tenants/assign")]
pub async fn assign_tenant(tenant: TenantId, member: UserId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::tenants::set_assignment(&svc, &actor, tenant, member, true).await?;
    redirect("/admin/members?notice=assignment_changed");
    Ok(())
}

#[server(prefix = "/api", endpoint = "tenants/unassign")]
pub async fn unassign_tenant(tenant: TenantId, member: UserId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::tenants::set_assignment(&svc, &actor, tenant, member, false).await?;
    redirect("/admin/members?notice=assignment_changed");
    Ok(())
}

/// The fleet overview of the current workspace; `query` is the page's (sort, dir, tag).
#[server(prefix = "/api", endpoint = "fleet")]
pub async fn load_fleet(query: String) -> ApiResult<Option<domain::fleet::FleetPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::fleet::page(&svc, &actor, &query).await?)
}
