//! Support requests and their handoff to the desk.

use crate::error::ApiResult;
use domain::ids::TenantId;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::signed_in;

/// The support slide-over's first view (latest request of this context).
#[server(prefix = "/api", endpoint = "support/panel")]
pub async fn load_support(
    tenant: Option<TenantId>,
    run: Option<domain::ids::RunId>,
) -> ApiResult<domain::support::SupportPanel> {
    let (svc, actor) = signed_in()?;
    let ctx = domain::support::SupportContext::from_ids(tenant, run)?;
    Ok(domain::support::panel(&svc, &actor, ctx).await?)
}

#[server(prefix = "/api", endpoint = "support/request")]
#[allow(clippy::too_many_arguments)]
pub async fn request_support(
    tenant: Option<TenantId>,
    run: Option<domain::ids::RunId>,
    subject: String,
    description: String,
    severity: domain::support::Severity,
    contact: Option<String>,
    existing_ticket: Option<String>,
) -> ApiResult<domain::support::SupportRequestView> {
    let (svc, actor) = signed_in()?;
    let ctx = domain::support::SupportContext::from_ids(tenant, run)?;
    let form = domain::support::NewSupportRequest {
        subject,
        description,
        severity,
        contact,
        existing_ticket,
    };
    Ok(domain::support::request(&svc, &actor, ctx, form).await?)
}

/// "Retry the handoff" for a request the desk did not take.
#[server(prefix = "/api", endpoint = "support/retry")]
pub async fn retry_support(reference: String) -> ApiResult<domain::support::SupportRequestView> {
    let (svc, actor) = signed_in()?;
    Ok(domain::support::retry(&svc, &actor, &reference).await?)
}

/// Links an existing desk ticket to a request the desk did not take.
#[server(prefix = "/api", endpoint = "support/link")]
pub async fn link_support_ticket(
    reference: String,
    existing_ticket: String,
) -> ApiResult<domain::support::SupportRequestView> {
    let (svc, actor) = signed_in()?;
    Ok(domain::support::link_existing(&svc, &actor, &reference, &existing_ticket).await?)
}
