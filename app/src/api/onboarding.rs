//! The onboarding wizard.

use crate::error::ApiResult;
use domain::ids::WorkspaceId;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};

#[server(prefix = "/api", endpoint = "onboarding/list")]
pub async fn load_onboarding() -> ApiResult<Option<domain::onboarding::OnboardingList>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::onboarding::list(&svc, &actor).await?)
}

/// Step 1: the tenant; the browser goes on to the draft's wizard.
#[server(prefix = "/api", endpoint = "onboarding/start")]
pub async fn start_onboarding(
    workspace: WorkspaceId,
    display_name: String,
    microsoft_tenant_id: String,
) -> ApiResult<domain::ids::OnboardingDraftId> {
    let (svc, actor) = signed_in()?;
    let id =
        domain::onboarding::start(&svc, &actor, workspace, &display_name, &microsoft_tenant_id)
            .await?;
    redirect(&format!("/admin/onboarding/{id}"));
    Ok(id)
}

/// The wizard's state (first render and its refresh while a run moves).
#[server(prefix = "/api", endpoint = "onboarding/get")]
pub async fn load_onboarding_draft(
    draft: domain::ids::OnboardingDraftId,
) -> ApiResult<domain::onboarding::DraftView> {
    let (svc, actor) = signed_in()?;
    Ok(domain::onboarding::draft(&svc, &actor, draft).await?)
}

#[server(prefix = "/api", endpoint = "onboarding/connection")]
pub async fn onboarding_connection(
    draft: domain::ids::OnboardingDraftId,
    display_name: String,
    entra_tenant_id: String,
    client_id: String,
    client_secret: String,
    expires_on: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::onboarding::add_connection(
        &svc,
        &actor,
        draft,
        domain::provider::connections::NewConnection {
            display_name: &display_name,
            entra_tenant_id: &entra_tenant_id,
            client_id: &client_id,
            client_secret: &client_secret,
            expires_on: &expires_on,
            make_default: true,
        },
    )
    .await?;
    redirect(&format!("/admin/onboarding/{draft}"));
    Ok(())
}

/// Step 3 through the gate: the presenter's toast.
#[server(prefix = "/api", endpoint = "onboarding/verify")]
pub async fn onboarding_verify(
    draft: domain::ids::OnboardingDraftId,
) -> ApiResult<domain::runs::presenter::Toast> {
    let (svc, actor) = signed_in()?;
    let result = domain::onboarding::verify(&svc, &actor, draft).await?;
    redirect(&format!("/admin/onboarding/{draft}"));
    Ok(domain::runs::presenter::present_start(&result))
}

/// Steps 4–5: the chosen operations (one checkbox each); the toast of the
/// first start. The rest start one after another by themselves.
#[server(prefix = "/api", endpoint = "onboarding/bootstrap")]
pub async fn onboarding_bootstrap(
    draft: domain::ids::OnboardingDraftId,
    op_inventory_sync: Option<String>,
    op_compliance_snapshot: Option<String>,
    op_directory_groups_sync: Option<String>,
    op_role_definitions_sync: Option<String>,
) -> ApiResult<domain::runs::presenter::Toast> {
    use domain::provider::{
        COMPLIANCE_SNAPSHOT, DIRECTORY_GROUPS_SYNC, INVENTORY_SYNC, ROLE_DEFINITIONS_SYNC,
    };
    let (svc, actor) = signed_in()?;
    let chosen: Vec<domain::runs::OperationType> = [
        (INVENTORY_SYNC, op_inventory_sync),
        (COMPLIANCE_SNAPSHOT, op_compliance_snapshot),
        (DIRECTORY_GROUPS_SYNC, op_directory_groups_sync),
        (ROLE_DEFINITIONS_SYNC, op_role_definitions_sync),
    ]
    .into_iter()
    .filter_map(|(op, v)| v.map(|_| op))
    .collect();
    let result = domain::onboarding::bootstrap(&svc, &actor, draft, &chosen).await?;
    redirect(&format!("/admin/onboarding/{draft}"));
    Ok(domain::runs::presenter::present_start(&result))
}

#[server(prefix = "/api", endpoint = "onboarding/discard")]
pub async fn onboarding_discard(draft: domain::ids::OnboardingDraftId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::onboarding::discard(&svc, &actor, draft).await?;
    redirect("/admin/onboarding");
    Ok(())
}
