//! Server functions for baselines: capture, edit (a new version each time),
//! assignments, the matrix and a tenant's alignment, accepted deviations,
//! *compare now* and *bring in line*. Thin: actor → one domain call → typed
//! error; mutations redirect back with a notice, starts answer the toast.

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};
use crate::error::ApiResult;
use domain::baselines::{AlignPreview, BaselinePage, BaselinesPage, EditPage, TenantAlignment};
use domain::ids::{BaselineId, TenantId, WorkspaceId};
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "baselines")]
pub async fn load_baselines() -> ApiResult<Option<BaselinesPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::baselines::service::list_for_current(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "baselines/capture")]
pub async fn capture_baseline(
    workspace: WorkspaceId,
    name: String,
    template: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let id = domain::baselines::service::capture(&svc, &actor, workspace, &name, &template).await?;
    redirect(&format!(
        "/admin/baselines/{id}?notice=baseline_captured#assignments"
    ));
    Ok(())
}

/// The matrix page (the page's query: tag, state, after).
#[server(prefix = "/api", endpoint = "baselines/get")]
pub async fn load_baseline(baseline: BaselineId, query: String) -> ApiResult<BaselinePage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::baselines::service::page(&svc, &actor, baseline, &query).await?)
}

#[server(prefix = "/api", endpoint = "baselines/edit_page")]
pub async fn load_baseline_edit(baseline: BaselineId) -> ApiResult<EditPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::baselines::service::edit_page(&svc, &actor, baseline).await?)
}

/// One item's rules (`rules[i]` = `setting=rule`): a new version.
#[server(prefix = "/api", endpoint = "baselines/rules")]
pub async fn set_baseline_rules(
    baseline: BaselineId,
    version: i64,
    item: i64,
    rules: Option<Vec<String>>,
    note: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::baselines::service::set_rules(
        &svc,
        &actor,
        baseline,
        version,
        item,
        &rules.unwrap_or_default(),
        &note,
    )
    .await?;
    redirect(&format!(
        "/admin/baselines/{baseline}/edit?notice=baseline_edited#item-{item}"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "baselines/drop_item")]
pub async fn drop_baseline_item(baseline: BaselineId, version: i64, item: i64) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::baselines::service::drop_item(&svc, &actor, baseline, version, item).await?;
    redirect(&format!(
        "/admin/baselines/{baseline}/edit?notice=baseline_edited"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "baselines/assign")]
pub async fn assign_baseline(baseline: BaselineId, target: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::baselines::service::assign(&svc, &actor, baseline, &target).await?;
    redirect(&format!(
        "/admin/baselines/{baseline}?notice=baseline_assigned#assignments"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "baselines/unassign")]
pub async fn unassign_baseline(baseline: BaselineId, assignment: i64) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::baselines::service::unassign(&svc, &actor, baseline, assignment).await?;
    redirect(&format!(
        "/admin/baselines/{baseline}?notice=baseline_unassigned#assignments"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "baselines/delete")]
pub async fn delete_baseline(baseline: BaselineId, confirm_name: String) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::baselines::service::delete(&svc, &actor, baseline, &confirm_name).await?;
    redirect("/admin/baselines?notice=baseline_deleted");
    Ok(())
}

#[server(prefix = "/api", endpoint = "baselines/tenant")]
pub async fn load_tenant_alignment(
    baseline: BaselineId,
    tenant: TenantId,
) -> ApiResult<TenantAlignment> {
    let (svc, actor) = signed_in()?;
    Ok(domain::baselines::service::tenant_alignment(&svc, &actor, baseline, tenant).await?)
}

/// Accepts the deviations of the checked items (`items[i]`; none: every
/// deviation of the tenant) with a note and an optional expiry date.
#[server(prefix = "/api", endpoint = "baselines/accept")]
pub async fn accept_deviation(
    baseline: BaselineId,
    tenant: TenantId,
    items: Option<Vec<i64>>,
    note: String,
    expires_on: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::baselines::service::accept(
        &svc,
        &actor,
        baseline,
        tenant,
        &items.unwrap_or_default(),
        &note,
        &expires_on,
    )
    .await?;
    redirect(&format!(
        "/admin/baselines/{baseline}/t/{tenant}?notice=deviation_accepted"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "baselines/revoke")]
pub async fn revoke_acceptance(baseline: BaselineId, acceptance: i64) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let tenant = domain::baselines::service::revoke(&svc, &actor, baseline, acceptance).await?;
    redirect(&format!(
        "/admin/baselines/{baseline}/t/{tenant}?notice=acceptance_revoked"
    ));
    Ok(())
}

/// What bringing the chosen cells (`tenant:item,…`) in line would write.
#[server(prefix = "/api", endpoint = "baselines/align_preview")]
pub async fn load_align_preview(baseline: BaselineId, cells: String) -> ApiResult<AlignPreview> {
    let (svc, actor) = signed_in()?;
    Ok(domain::baselines::service::align_preview(&svc, &actor, baseline, &cells).await?)
}

/// Brings the cells in line: one restore run per tenant through a bulk start.
#[server(prefix = "/api", endpoint = "baselines/align")]
pub async fn bring_in_line(
    baseline: BaselineId,
    cells: String,
    confirm_name: String,
) -> ApiResult<domain::runs::presenter::Toast> {
    let (svc, actor) = signed_in()?;
    let started =
        domain::baselines::service::align(&svc, &actor, baseline, &cells, &confirm_name).await?;
    Ok(domain::schedules::bulk::present(&started))
}

/// Compares every tenant the baseline applies to, now (a bulk start).
#[server(prefix = "/api", endpoint = "baselines/compare")]
pub async fn compare_baseline_now(
    baseline: BaselineId,
) -> ApiResult<domain::runs::presenter::Toast> {
    let (svc, actor) = signed_in()?;
    let started = domain::baselines::service::compare_now(&svc, &actor, baseline).await?;
    Ok(domain::schedules::bulk::present(&started))
}
