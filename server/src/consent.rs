//! The admin-consent round trip's two routes (not pages: one redirects to
//! Microsoft, the other takes Microsoft's redirect back). The session
//! middleware signed the member in (or sent them to sign in and back); the
//! domain guards, seals and audits.

use crate::state::AppState;
use app::ctx::{CurrentActor, SiteOrigin};
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::AppError;
use domain::ids::{ProviderConnectionId, TenantId};
use domain::provider::consent::{self, CALLBACK_PATH, ConsentAnswer};

/// `GET /admin/t/{tenant}/connections/{connection}/consent`: to Microsoft.
pub async fn start(
    State(state): State<AppState>,
    Extension(actor): Extension<CurrentActor>,
    Extension(origin): Extension<SiteOrigin>,
    Path((tenant, connection)): Path<(String, String)>,
) -> Response {
    let Some(actor) = actor.0 else {
        return crate::error_page::for_error(&AppError::Unauthenticated);
    };
    let (Ok(tenant), Ok(connection)) = (
        tenant.parse::<TenantId>(),
        connection.parse::<ProviderConnectionId>(),
    ) else {
        return crate::error_page::for_error(&AppError::NotFound);
    };
    let callback = format!("{}{CALLBACK_PATH}", origin.0);
    match consent::begin(&state.services, &actor, tenant, connection, &callback).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => crate::error_page::for_error(&e),
    }
}

/// `GET /admin/consent/callback`: Microsoft's answer, back to the connection.
pub async fn callback(
    State(state): State<AppState>,
    Extension(actor): Extension<CurrentActor>,
    Query(answer): Query<ConsentAnswer>,
) -> Response {
    let Some(actor) = actor.0 else {
        return crate::error_page::for_error(&AppError::Unauthenticated);
    };
    match consent::finish(&state.services, &actor, &answer).await {
        Ok(done) => Redirect::to(&format!(
            "/admin/t/{}/connections/{}?notice={}",
            done.tenant,
            done.connection,
            if done.granted {
                "consent_granted"
            } else {
                "consent_not_granted"
            }
        ))
        .into_response(),
        Err(e) => crate::error_page::for_error(&e),
    }
}
