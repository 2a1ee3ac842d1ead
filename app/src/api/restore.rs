//! Restore: the preview page and the execution.

use crate::error::ApiResult;
use domain::ids::TenantId;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};

/// The restore page; `query` is the page's URL query (`snapshot`, `item`…).
#[server(prefix = "/api", endpoint = "restore/page")]
pub async fn load_restore(
    tenant: TenantId,
    query: String,
) -> ApiResult<domain::restore::RestorePage> {
    let (svc, actor) = signed_in()?;
    let query = query.trim_start_matches('?');
    Ok(domain::restore::page(&svc, &actor, tenant, query).await?)
}

/// A confirmed restore through the start gate: the presenter's toast.
/// Without JavaScript the browser lands on the run.
#[server(prefix = "/api", endpoint = "restore/execute")]
pub async fn execute_restore(
    tenant: TenantId,
    snapshot: domain::ids::SnapshotId,
    items: String,
    confirm_name: String,
) -> ApiResult<domain::runs::presenter::Toast> {
    let (svc, actor) = signed_in()?;
    let result =
        domain::restore::execute(&svc, &actor, tenant, snapshot, &items, &confirm_name).await?;
    let toast = domain::runs::presenter::present_start(&result);
    redirect(&toast.link);
    Ok(toast)
}
