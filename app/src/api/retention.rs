//! What the workspace keeps, and how long (spec 014).

use crate::error::ApiResult;
use domain::retention::RetentionPage;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};

#[server(prefix = "/api", endpoint = "retention")]
pub async fn load_retention() -> ApiResult<Option<RetentionPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::retention::service::page(&svc, &actor).await?)
}

#[server(prefix = "/api", endpoint = "retention/save")]
pub async fn save_retention(
    runs_days: String,
    snapshots_last: String,
    snapshots_weeks: String,
    snapshots_months: String,
    notifications_days: String,
    audit_days: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let policy = domain::retention::RetentionPolicy::from_texts([
        &runs_days,
        &snapshots_last,
        &snapshots_weeks,
        &snapshots_months,
        &notifications_days,
        &audit_days,
    ])?;
    domain::retention::service::save(&svc, &actor, policy).await?;
    redirect("/admin/retention?notice=retention_saved");
    Ok(())
}
