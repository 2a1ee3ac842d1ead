//! Server functions for tags and schedules. Thin: actor → one domain call →
//! typed error; mutations redirect back with a notice.
// A schedule's form has eight fields; the server macro's generated client
// function takes them one by one.
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};
use crate::error::ApiResult;
use domain::ids::{BulkStartId, ScheduleId, TagId, TenantId, WorkspaceId};
use domain::schedules::{SchedulesPage, TagsPanel};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn schedule_form(
    name: String,
    op_type: String,
    target: String,
    cron: String,
    time_zone: String,
    spread_seconds: String,
) -> domain::schedules::service::ScheduleForm {
    domain::schedules::service::ScheduleForm {
        name,
        op_type,
        target,
        cron,
        time_zone,
        spread_seconds,
    }
}

#[server(prefix = "/api", endpoint = "tags")]
pub async fn load_tags() -> ApiResult<Option<TagsPanel>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::schedules::tags::panel(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "tags/create")]
pub async fn create_tag(workspace: WorkspaceId, name: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let tag = domain::schedules::tags::create(&svc, &actor, workspace, &name).await?;
    redirect(&format!("/admin/tenants?tag={tag}&notice=tag_created#tags"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "tags/delete")]
pub async fn delete_tag(workspace: WorkspaceId, tag: TagId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::schedules::tags::delete(&svc, &actor, workspace, tag).await?;
    redirect("/admin/tenants?notice=tag_deleted#tags");
    Ok(())
}

#[server(prefix = "/api", endpoint = "tags/add_tenant")]
pub async fn tag_tenant(tenant: TenantId, tag: TagId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::schedules::tags::set_on_tenant(&svc, &actor, tenant, tag, true).await?;
    redirect(&format!("/admin/tenants?tag={tag}#tags"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "tags/remove_tenant")]
pub async fn untag_tenant(tenant: TenantId, tag: TagId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::schedules::tags::set_on_tenant(&svc, &actor, tenant, tag, false).await?;
    redirect(&format!("/admin/tenants?tag={tag}#tags"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "schedules")]
pub async fn load_schedules() -> ApiResult<Option<SchedulesPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::schedules::service::page_for_current(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "schedules/create")]
pub async fn create_schedule(
    workspace: WorkspaceId,
    name: String,
    op_type: String,
    target: String,
    cron: String,
    time_zone: String,
    spread_seconds: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let form = schedule_form(name, op_type, target, cron, time_zone, spread_seconds);
    let id = domain::schedules::service::create(&svc, &actor, workspace, form).await?;
    redirect(&format!(
        "/admin/schedules?notice=schedule_created#schedule-{id}"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "schedules/update")]
pub async fn update_schedule(
    workspace: WorkspaceId,
    schedule: ScheduleId,
    name: String,
    op_type: String,
    target: String,
    cron: String,
    time_zone: String,
    spread_seconds: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let form = schedule_form(name, op_type, target, cron, time_zone, spread_seconds);
    domain::schedules::service::update(&svc, &actor, workspace, schedule, form).await?;
    redirect(&format!(
        "/admin/schedules?notice=schedule_updated#schedule-{schedule}"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "schedules/pause")]
pub async fn pause_schedule(workspace: WorkspaceId, schedule: ScheduleId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::schedules::service::set_enabled(&svc, &actor, workspace, schedule, false).await?;
    redirect(&format!(
        "/admin/schedules?notice=schedule_paused#schedule-{schedule}"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "schedules/resume")]
pub async fn resume_schedule(workspace: WorkspaceId, schedule: ScheduleId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::schedules::service::set_enabled(&svc, &actor, workspace, schedule, true).await?;
    redirect(&format!(
        "/admin/schedules?notice=schedule_resumed#schedule-{schedule}"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "schedules/delete")]
pub async fn delete_schedule(workspace: WorkspaceId, schedule: ScheduleId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::schedules::service::delete(&svc, &actor, workspace, schedule).await?;
    redirect("/admin/schedules?notice=schedule_deleted");
    Ok(())
}

/// One operation on many tenants from the tenant list: `target` is
/// `checked` (the rows' `tenants[i]` checkboxes, re-read on the server),
/// `tag:ID` or `filter:` + the list's query. Answers the toast with counts.
#[server(prefix = "/api", endpoint = "bulk/start")]
pub async fn start_bulk(
    workspace: WorkspaceId,
    op_type: String,
    target: String,
    tenants: Option<Vec<TenantId>>,
) -> ApiResult<domain::runs::presenter::Toast> {
    use domain::schedules::bulk;
    let (svc, actor) = signed_in()?;
    let selection = bulk::Selection::parse(&target, tenants.unwrap_or_default())?;
    let started = bulk::start(&svc, &actor, workspace, &op_type, selection).await?;
    Ok(bulk::present(&started))
}

/// A bulk start's page: counts and every tenant's decision and run.
#[server(prefix = "/api", endpoint = "bulk/get")]
pub async fn load_bulk(bulk: BulkStartId) -> ApiResult<domain::schedules::BulkPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::schedules::bulk::page(&svc, &actor, bulk).await?)
}
