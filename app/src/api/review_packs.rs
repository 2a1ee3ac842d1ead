//! Review packs: the card and generating one.

use crate::error::ApiResult;
use domain::ids::TenantId;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};

/// The review pack card (first render and its poll while a pack is generating).
#[server(prefix = "/api", endpoint = "review-packs/card")]
pub async fn load_review_pack_card(
    tenant: TenantId,
) -> ApiResult<domain::review_packs::ReviewPackCard> {
    let (svc, actor) = signed_in()?;
    Ok(domain::review_packs::card(&svc, &actor, tenant).await?)
}

/// Generate a pack through the start gate. One checkbox per section (a form
/// posts only the checked ones). Without JavaScript the browser lands on the run.
#[server(prefix = "/api", endpoint = "review-packs/generate")]
pub async fn generate_review_pack(
    tenant: TenantId,
    section_verification: Option<String>,
    section_inventory: Option<String>,
    section_compliance: Option<String>,
    section_directory: Option<String>,
    section_operations: Option<String>,
    section_changes: Option<String>,
) -> ApiResult<domain::review_packs::GenerateAnswer> {
    use domain::review_packs::Section;
    let (svc, actor) = signed_in()?;
    let sections: Vec<Section> = [
        (Section::Verification, section_verification),
        (Section::Inventory, section_inventory),
        (Section::Compliance, section_compliance),
        (Section::Directory, section_directory),
        (Section::Operations, section_operations),
        (Section::Changes, section_changes),
    ]
    .into_iter()
    .filter_map(|(s, v)| v.map(|_| s))
    .collect();
    let answer = domain::review_packs::generate(&svc, &actor, tenant, sections).await?;
    redirect(&answer.toast.link);
    Ok(answer)
}
