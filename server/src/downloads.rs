//! File downloads that are not pages: review pack files, served only through
//! this authorised route (the session middleware resolved the actor; the
//! domain decides 404/403 and audits the download). Always as attachments:
//! a report never runs under this origin.

use crate::error_page::ErrorPage;
use crate::state::AppState;
use app::ctx::CurrentActor;
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use domain::AppError;
use domain::ids::TenantId;
use domain::review_packs::{Download, PackFile};
use http::{HeaderValue, StatusCode, header};

fn app_error(e: &AppError) -> Response {
    crate::error_page::for_error(e)
}

pub async fn review_pack_file(
    State(state): State<AppState>,
    Extension(actor): Extension<CurrentActor>,
    Path((tenant, pack, file)): Path<(String, String, String)>,
) -> Response {
    let Some(actor) = actor.0 else {
        return app_error(&AppError::Unauthenticated);
    };
    let (Ok(tenant), Ok(pack), Some(file)) = (
        tenant.parse::<TenantId>(),
        pack.parse::<domain::ids::ReviewPackId>(),
        PackFile::from_route_name(&file),
    ) else {
        return app_error(&AppError::NotFound);
    };
    match domain::review_packs::download(&state.services, &actor, tenant, pack, file).await {
        Ok(Download::File {
            path,
            file_name,
            content_type,
        }) => match tokio::fs::read(&path).await {
            Ok(bytes) => {
                let disposition =
                    HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
                        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
                (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                        (header::CONTENT_DISPOSITION, disposition),
                    ],
                    bytes,
                )
                    .into_response()
            }
            Err(e) => {
                tracing::warn!(pack = pack.0, error = %e, "a ready review pack's file is missing");
                ErrorPage {
                    status: StatusCode::GONE,
                    title: "File missing",
                    text: "This pack's file is no longer on the server. Generate a new review pack.",
                    back: Some((&format!("/admin/t/{tenant}"), "Back to the tenant")),
                    retry: false,
                }
                .into_response()
            }
        },
        Ok(Download::Expired { expired_on }) => ErrorPage {
            status: StatusCode::GONE,
            title: "Review pack expired",
            text: &format!(
                "This review pack expired on {} and its files were deleted. Generate a new one from the tenant dashboard.",
                domain::time_zones::format(expired_on, actor.time_zone.as_deref())
            ),
            back: Some((&format!("/admin/t/{tenant}"), "Back to the tenant")),
            retry: false,
        }
        .into_response(),
        Err(e) => app_error(&e),
    }
}

/// The audit entries the next retention sweep removes, as CSV (members who
/// may read the audit log; a GET that changes nothing).
pub async fn expiring_audit(
    State(state): State<AppState>,
    Extension(actor): Extension<CurrentActor>,
) -> Response {
    let Some(actor) = actor.0 else {
        return app_error(&AppError::Unauthenticated);
    };
    match domain::retention::service::expiring_audit_csv(&state.services, &actor).await {
        Ok(Some(csv)) => (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"expiring-audit-entries.csv\""),
                ),
            ],
            csv,
        )
            .into_response(),
        Ok(None) => app_error(&AppError::NotFound),
        Err(e) => app_error(&e),
    }
}
