//! Server functions for alerts, their rules and webhook endpoints. Thin:
//! actor → one domain call → typed error; mutations redirect with a notice.
// A rule's form has many fields; the server macro's client function takes
// them one by one.
#![allow(clippy::too_many_arguments)]

#[cfg(feature = "ssr")]
use crate::ctx::{redirect, signed_in};
use crate::error::ApiResult;
use domain::alerts::{AlertDetail, AlertsPage, RulesPage};
use domain::ids::{
    AlertDeliveryId, AlertId, AlertRuleId, TenantId, UserId, WebhookEndpointId, WorkspaceId,
};
use leptos::prelude::*;

/// Where to go back to after answering an alert: the alerts pages only.
#[cfg(feature = "ssr")]
fn back_to(back: Option<String>, alert: AlertId) -> String {
    match back {
        Some(b) if b.starts_with("/admin/alerts") && !b.contains("//") && !b.contains('\\') => b,
        _ => domain::alerts::alert_link(alert),
    }
}

#[cfg(feature = "ssr")]
fn with_notice(path: &str, notice: &str) -> String {
    let (base, fragment) = path.split_once('#').map_or((path, ""), |(b, f)| (b, f));
    let sep = if base.contains('?') { '&' } else { '?' };
    if fragment.is_empty() {
        format!("{base}{sep}notice={notice}")
    } else {
        format!("{base}{sep}notice={notice}#{fragment}")
    }
}

/// The alerts page; `query` is its URL query (filters, tab, page).
#[server(prefix = "/api", endpoint = "alerts")]
pub async fn load_alerts(query: String) -> ApiResult<Option<AlertsPage>> {
    let (svc, actor) = signed_in()?;
    let filter = domain::alerts::AlertFilter::parse_query(&query);
    Ok(domain::alerts::page::page(&svc, &actor, filter).await?)
}

#[server(prefix = "/api", endpoint = "alerts/get")]
pub async fn load_alert(alert: AlertId) -> ApiResult<AlertDetail> {
    let (svc, actor) = signed_in()?;
    Ok(domain::alerts::page::one(&svc, &actor, alert).await?)
}

#[server(prefix = "/api", endpoint = "alerts/acknowledge")]
pub async fn acknowledge_alert(
    alert: AlertId,
    note: Option<String>,
    back: Option<String>,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::respond::acknowledge(&svc, &actor, alert, note.as_deref().unwrap_or(""))
        .await?;
    redirect(&with_notice(&back_to(back, alert), "alert_acknowledged"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/snooze")]
pub async fn snooze_alert(alert: AlertId, hours: String, back: Option<String>) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::respond::snooze(&svc, &actor, alert, &hours).await?;
    redirect(&with_notice(&back_to(back, alert), "alert_snoozed"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/resolve")]
pub async fn resolve_alert(
    alert: AlertId,
    note: Option<String>,
    back: Option<String>,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::respond::resolve(&svc, &actor, alert, note.as_deref().unwrap_or("")).await?;
    redirect(&with_notice(&back_to(back, alert), "alert_resolved"));
    Ok(())
}

/// Acknowledges every open alert the page's filters show (`query`).
#[server(prefix = "/api", endpoint = "alerts/acknowledge_matching")]
pub async fn acknowledge_alerts(
    workspace: WorkspaceId,
    query: String,
    note: Option<String>,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let filter = domain::alerts::AlertFilter::parse_query(&query);
    let n = domain::alerts::respond::acknowledge_matching(
        &svc,
        &actor,
        workspace,
        filter.clone(),
        note.as_deref().unwrap_or(""),
    )
    .await?;
    let link = domain::alerts::AlertFilter {
        after: None,
        ..filter
    }
    .link();
    let sep = if link.contains('?') { '&' } else { '?' };
    redirect(&format!("{link}{sep}notice=alerts_acknowledged&count={n}"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/rules")]
pub async fn load_alert_rules() -> ApiResult<Option<RulesPage>> {
    let (svc, actor) = signed_in()?;
    Ok(domain::alerts::page::rules_page(&svc, &actor).await?)
}

#[cfg(feature = "ssr")]
fn rule_form(
    name: String,
    condition: String,
    op_type: Option<String>,
    count: Option<String>,
    window_hours: Option<String>,
    days: Option<String>,
    percent: Option<String>,
    policy_kind: Option<String>,
    scope: String,
    tenants: Option<Vec<TenantId>>,
    exclude_tenants: Option<Vec<TenantId>>,
    exclude_kinds: Option<Vec<String>>,
    severity: String,
    roles: Option<Vec<String>>,
    users: Option<Vec<UserId>>,
    webhooks: Option<Vec<WebhookEndpointId>>,
    ticket: Option<String>,
    mail: Option<String>,
) -> domain::alerts::rules::RuleForm {
    domain::alerts::rules::RuleForm {
        name,
        condition,
        op_type: op_type.unwrap_or_default(),
        count: count.unwrap_or_default(),
        window_hours: window_hours.unwrap_or_default(),
        days: days.unwrap_or_default(),
        percent: percent.unwrap_or_default(),
        policy_kind: policy_kind.unwrap_or_default(),
        scope,
        tenants: tenants.unwrap_or_default(),
        exclude_tenants: exclude_tenants.unwrap_or_default(),
        exclude_kinds: exclude_kinds.unwrap_or_default(),
        severity,
        roles: roles.unwrap_or_default(),
        users: users.unwrap_or_default(),
        webhooks: webhooks.unwrap_or_default(),
        ticket: ticket.is_some_and(|t| !t.is_empty()),
        mail: mail.unwrap_or_default(),
    }
}

/// Creates a rule, or (with `rule`) saves one.
#[server(prefix = "/api", endpoint = "alerts/rules/save")]
pub async fn save_alert_rule(
    workspace: WorkspaceId,
    rule: Option<AlertRuleId>,
    name: String,
    condition: String,
    op_type: Option<String>,
    count: Option<String>,
    window_hours: Option<String>,
    days: Option<String>,
    percent: Option<String>,
    policy_kind: Option<String>,
    scope: String,
    tenants: Option<Vec<TenantId>>,
    exclude_tenants: Option<Vec<TenantId>>,
    exclude_kinds: Option<Vec<String>>,
    severity: String,
    roles: Option<Vec<String>>,
    users: Option<Vec<UserId>>,
    webhooks: Option<Vec<WebhookEndpointId>>,
    ticket: Option<String>,
    mail: Option<String>,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let form = rule_form(
        name,
        condition,
        op_type,
        count,
        window_hours,
        days,
        percent,
        policy_kind,
        scope,
        tenants,
        exclude_tenants,
        exclude_kinds,
        severity,
        roles,
        users,
        webhooks,
        ticket,
        mail,
    );
    let (id, notice) = match rule {
        Some(rule) => {
            domain::alerts::rules::update(&svc, &actor, workspace, rule, form).await?;
            (rule, "alert_rule_saved")
        }
        None => (
            domain::alerts::rules::create(&svc, &actor, workspace, form).await?,
            "alert_rule_created",
        ),
    };
    redirect(&format!("/admin/alerts/rules?notice={notice}#rule-{id}"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/rules/enabled")]
pub async fn set_alert_rule_enabled(
    workspace: WorkspaceId,
    rule: AlertRuleId,
    enabled: bool,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::rules::set_enabled(&svc, &actor, workspace, rule, enabled).await?;
    let notice = if enabled {
        "alert_rule_resumed"
    } else {
        "alert_rule_paused"
    };
    redirect(&format!("/admin/alerts/rules?notice={notice}#rule-{rule}"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/rules/delete")]
pub async fn delete_alert_rule(workspace: WorkspaceId, rule: AlertRuleId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::rules::delete(&svc, &actor, workspace, rule).await?;
    redirect("/admin/alerts/rules?notice=alert_rule_deleted");
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/endpoints/create")]
pub async fn create_webhook_endpoint(
    workspace: WorkspaceId,
    name: String,
    url: String,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    let id = domain::alerts::webhooks::create(&svc, &actor, workspace, &name, &url).await?;
    redirect(&format!(
        "/admin/alerts/rules?notice=endpoint_created#endpoint-{id}"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/endpoints/rotate")]
pub async fn rotate_webhook_secret(endpoint: WebhookEndpointId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::webhooks::rotate(&svc, &actor, endpoint).await?;
    redirect(&format!(
        "/admin/alerts/rules?notice=endpoint_rotated#endpoint-{endpoint}"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/endpoints/enabled")]
pub async fn set_webhook_endpoint_enabled(
    endpoint: WebhookEndpointId,
    enabled: bool,
) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::webhooks::set_enabled(&svc, &actor, endpoint, enabled).await?;
    let notice = if enabled {
        "endpoint_enabled"
    } else {
        "endpoint_disabled"
    };
    redirect(&format!(
        "/admin/alerts/rules?notice={notice}#endpoint-{endpoint}"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/endpoints/delete")]
pub async fn delete_webhook_endpoint(endpoint: WebhookEndpointId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::webhooks::delete(&svc, &actor, endpoint).await?;
    redirect("/admin/alerts/rules?notice=endpoint_deleted#endpoints");
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/endpoints/test")]
pub async fn test_webhook_endpoint(endpoint: WebhookEndpointId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::webhooks::send_test(&svc, &actor, endpoint).await?;
    redirect(&format!(
        "/admin/alerts/rules?notice=endpoint_tested#endpoint-{endpoint}"
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "alerts/endpoints/redeliver")]
pub async fn redeliver_webhook(delivery: AlertDeliveryId) -> ApiResult<()> {
    let (svc, actor) = signed_in()?;
    domain::alerts::webhooks::redeliver(&svc, &actor, delivery).await?;
    redirect("/admin/alerts/rules?notice=endpoint_redelivered#endpoints");
    Ok(())
}
