//! Server functions for provider connections, provider data and starting
//! operations. Thin: actor → one domain call → typed error.

#[cfg(feature = "ssr")]
use crate::ctx::signed_in;
use crate::error::ApiResult;
use domain::ids::{ProviderConnectionId, TenantId};
use domain::provider::{
    BrowseKind, BrowsePage, ConnectionPage, ConnectionsPage, ProviderPanel, VerificationPage,
};
use domain::runs::OperationType;
use domain::runs::presenter::Toast;
use leptos::prelude::*;

#[server(prefix = "/api", endpoint = "provider/panel")]
pub async fn load_provider_panel(tenant: TenantId) -> ApiResult<ProviderPanel> {
    let (svc, actor) = signed_in()?;
    Ok(domain::provider::data::provider_panel(&svc, &actor, tenant).await?)
}

#[server(prefix = "/api", endpoint = "provider/connections")]
pub async fn load_connections(tenant: TenantId) -> ApiResult<ConnectionsPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::provider::connections::connections_page(&svc, &actor, tenant).await?)
}

#[server(prefix = "/api", endpoint = "provider/connection")]
pub async fn load_connection(
    tenant: TenantId,
    connection: ProviderConnectionId,
) -> ApiResult<ConnectionPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::provider::connections::connection_page(&svc, &actor, tenant, connection).await?)
}

#[server(prefix = "/api", endpoint = "provider/browse")]
pub async fn load_browse(
    tenant: TenantId,
    kind: BrowseKind,
    q: Option<String>,
    state: Option<String>,
    page: Option<i64>,
) -> ApiResult<BrowsePage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::provider::data::browse(
        &svc,
        &actor,
        tenant,
        kind,
        q.as_deref().unwrap_or_default(),
        state.as_deref(),
        page.unwrap_or(1),
    )
    .await?)
}

#[server(prefix = "/api", endpoint = "provider/verification")]
pub async fn load_verification(tenant: TenantId) -> ApiResult<VerificationPage> {
    let (svc, actor) = signed_in()?;
    Ok(domain::provider::data::verification_page(&svc, &actor, tenant).await?)
}

#[cfg(feature = "ssr")]
fn connection_url(tenant: TenantId, connection: ProviderConnectionId, notice: &str) -> String {
    format!("/admin/t/{tenant}/connections/{connection}?notice={notice}")
}

#[server(prefix = "/api", endpoint = "connections/create")]
pub async fn create_connection(
    tenant: TenantId,
    display_name: String,
    entra_tenant_id: String,
    client_id: String,
    client_secret: String,
    expires_on: Option<String>,
    make_default: Option<String>,
) -> ApiResult<()> {
    use domain::provider::connections::{NewConnection, create};
    let (svc, actor) = signed_in()?;
    let id = create(
        &svc,
        &actor,
        tenant,
        NewConnection {
            display_name: &display_name,
            entra_tenant_id: &entra_tenant_id,
            client_id: &client_id,
            client_secret: &client_secret,
            expires_on: expires_on.as_deref().unwrap_or_default(),
            make_default: make_default.is_some(),
        },
    )
    .await?;
    crate::ctx::redirect(&connection_url(tenant, id, "connection_added"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "connections/update")]
pub async fn update_connection(
    tenant: TenantId,
    connection: ProviderConnectionId,
    display_name: String,
    entra_tenant_id: String,
    client_id: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::provider::connections::update(
        &svc,
        &actor,
        tenant,
        connection,
        &display_name,
        &entra_tenant_id,
        &client_id,
    )
    .await?;
    crate::ctx::redirect(&connection_url(tenant, connection, "connection_saved"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "connections/rotate")]
pub async fn rotate_connection_secret(
    tenant: TenantId,
    connection: ProviderConnectionId,
    client_secret: String,
    expires_on: Option<String>,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::provider::connections::rotate_secret(
        &svc,
        &actor,
        tenant,
        connection,
        &client_secret,
        expires_on.as_deref().unwrap_or_default(),
    )
    .await?;
    crate::ctx::redirect(&connection_url(tenant, connection, "secret_rotated"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "connections/status")]
pub async fn set_connection_status(
    tenant: TenantId,
    connection: ProviderConnectionId,
    enabled: bool,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::provider::connections::set_enabled(&svc, &actor, tenant, connection, enabled).await?;
    let notice = if enabled {
        "connection_enabled"
    } else {
        "connection_disabled"
    };
    crate::ctx::redirect(&connection_url(tenant, connection, notice));
    Ok(())
}

#[server(prefix = "/api", endpoint = "connections/default")]
pub async fn make_default_connection(
    tenant: TenantId,
    connection: ProviderConnectionId,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::provider::connections::make_default(&svc, &actor, tenant, connection).await?;
    crate::ctx::redirect(&connection_url(tenant, connection, "connection_default"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "connections/delete")]
pub async fn delete_connection(
    tenant: TenantId,
    connection: ProviderConnectionId,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::provider::connections::delete(&svc, &actor, tenant, connection).await?;
    crate::ctx::redirect(&format!(
        "/admin/t/{tenant}/connections?notice=connection_deleted"
    ));
    Ok(())
}

/// The one start entry point of the UI: the gate decides, the presenter words
/// the toast. Without JavaScript the browser is sent to the run.
#[server(prefix = "/api", endpoint = "operations/start")]
pub async fn start_operation(
    tenant: TenantId,
    op_type: OperationType,
    connection: Option<ProviderConnectionId>,
) -> ApiResult<Toast> {
    use domain::runs::gate::{Initiator, StartGate, StartRequest};
    let (svc, actor) = signed_in()?;
    if op_type.spec().test_only || op_type.starts_from_its_own_page() {
        return Err(
            domain::AppError::invalid("op_type", "This operation cannot be started here.").into(),
        );
    }
    let result = StartGate::start(
        &svc,
        Initiator::User(&actor),
        StartRequest {
            tenant,
            op_type,
            connection,
            args: serde_json::Value::Null,
        },
    )
    .await?;
    let toast = domain::runs::presenter::present_start(&result);
    crate::ctx::redirect(&toast.link);
    Ok(toast)
}

/// The tenant page's *Changes since the last sync* card.
#[server(prefix = "/api", endpoint = "drift/card")]
pub async fn load_drift_card(tenant: TenantId) -> ApiResult<domain::drift::DriftCard> {
    let (svc, actor) = signed_in()?;
    Ok(domain::drift::service::card(&svc, &actor, tenant).await?)
}

/// A tenant's change history (the page's query: change, kind, policy, days, before).
#[server(prefix = "/api", endpoint = "drift/history")]
pub async fn load_drift_history(
    tenant: TenantId,
    query: String,
) -> ApiResult<domain::drift::DriftHistory> {
    let (svc, actor) = signed_in()?;
    Ok(domain::drift::service::history(&svc, &actor, tenant, &query).await?)
}
