//! Reading alerts: the alerts page (tabs, filters in the URL, keyset pages),
//! one alert, the shell's count and the rules page. Members see the alerts
//! of the tenants they see; alerts about the whole workspace only owners
//! and managers.

use super::{
    AlertFilter, AlertState, AlertView, AlertsPage, ConditionKind, RulesPage, Severity, Tab,
    TabCounts,
};
use crate::access::{self, Actor, WorkspaceAccess};
use crate::error::{AppError, AppResult};
use crate::ids::{AlertId, AlertRuleId, TagId, TenantId};
use crate::rbac::Capability;
use crate::services::Services;
use sqlx::Row;
use sqlx::any::AnyRow;

pub const PAGE: i64 = 50;

/// A query's WHERE with its binds (all i64, so one bind type).
struct Where {
    sql: String,
    binds: Vec<i64>,
}

impl Where {
    fn push(&mut self, clause: &str, values: &[i64]) {
        let mut clause = clause.to_string();
        for v in values {
            self.binds.push(*v);
            clause = clause.replacen('?', &format!("${}", self.binds.len()), 1);
        }
        self.sql.push_str(" AND ");
        self.sql.push_str(&clause);
    }
}

/// Visibility and the filters other than the tab.
fn visible(access: &WorkspaceAccess, actor: &Actor, filter: &AlertFilter) -> Where {
    let mut w = Where {
        sql: String::new(),
        binds: vec![access.id().0],
    };
    w.sql.push_str("a.workspace_id = $1");
    if !access.role().sees_all_tenants() {
        w.push(
            "a.tenant_id IN (SELECT tenant_id FROM tenant_assignments WHERE user_id = ?)",
            &[actor.user_id.0],
        );
    }
    if let Some(s) = filter.severity {
        // Severities are a closed set: spelled out, not bound.
        w.sql
            .push_str(&format!(" AND a.severity = '{}'", s.as_str()));
    }
    if let Some(r) = filter.rule {
        w.push("a.rule_key = ?", &[r.0]);
    }
    if let Some(t) = filter.tenant {
        w.push("a.tenant_id = ?", &[t.0]);
    }
    if let Some(t) = filter.tag {
        w.push(
            "a.tenant_id IN (SELECT tenant_id FROM tenant_tags WHERE tag_id = ?)",
            &[t.0],
        );
    }
    w
}

fn tab_clause(tab: Tab, now: i64) -> String {
    match tab {
        Tab::Open => {
            format!("a.state = 'open' AND (a.snoozed_until IS NULL OR a.snoozed_until <= {now})")
        }
        Tab::Acknowledged => {
            format!(
                "a.state = 'acknowledged' AND (a.snoozed_until IS NULL OR a.snoozed_until <= {now})"
            )
        }
        Tab::Snoozed => format!("a.state <> 'resolved' AND a.snoozed_until > {now}"),
        Tab::Resolved => "a.state = 'resolved'".to_string(),
    }
}

const COLUMNS: &str = "a.id, a.rule_id, r.name AS rule_name, a.tenant_id, t.display_name AS tenant_name, a.condition, a.severity,
    a.state, a.snoozed_until, a.title, a.detail, a.occurrences, a.first_seen_at, a.last_seen_at, a.opened_at, a.resolved_at,
    a.acknowledged_label, a.acknowledged_at, a.ack_note, a.evidence, a.ticket_reference, a.ticket_url";
const FROM: &str = "FROM alerts a LEFT JOIN alert_rules r ON r.id = a.rule_id LEFT JOIN tenants t ON t.id = a.tenant_id";

fn view_of(row: &AnyRow) -> AppResult<AlertView> {
    let rule: Option<i64> = row.try_get("rule_id")?;
    let rname: Option<String> = row.try_get("rule_name")?;
    let tenant: Option<i64> = row.try_get("tenant_id")?;
    let tname: Option<String> = row.try_get("tenant_name")?;
    let condition: String = row.try_get("condition")?;
    let severity: String = row.try_get("severity")?;
    let state: String = row.try_get("state")?;
    let ack_by: Option<String> = row.try_get("acknowledged_label")?;
    let ack_at: Option<i64> = row.try_get("acknowledged_at")?;
    let note: Option<String> = row.try_get("ack_note")?;
    let evidence: String = row.try_get("evidence")?;
    let ticket: Option<String> = row.try_get("ticket_reference")?;
    let ticket_url: Option<String> = row.try_get("ticket_url")?;
    Ok(AlertView {
        id: AlertId(row.try_get("id")?),
        rule: rule.map(|r| (AlertRuleId(r), rname.unwrap_or_default())),
        tenant: tenant.map(|t| (TenantId(t), tname.unwrap_or_default())),
        condition: ConditionKind::parse(&condition).unwrap_or(ConditionKind::RunFailures),
        severity: Severity::parse(&severity).unwrap_or(Severity::Warning),
        state: AlertState::parse(&state).unwrap_or(AlertState::Open),
        snoozed_until: row.try_get("snoozed_until")?,
        title: row.try_get("title")?,
        detail: row.try_get("detail")?,
        occurrences: row.try_get("occurrences")?,
        first_seen_at: row.try_get("first_seen_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        opened_at: row.try_get("opened_at")?,
        resolved_at: row.try_get("resolved_at")?,
        acknowledged: ack_by.zip(ack_at).map(|(by, at)| (by, at, note)),
        evidence: serde_json::from_str(&evidence).unwrap_or_default(),
        ticket: ticket.map(|t| (t, ticket_url)),
    })
}

/// The alerts page for the member's current workspace (None: no workspace yet).
pub async fn page(
    svc: &Services,
    actor: &Actor,
    filter: AlertFilter,
) -> AppResult<Option<AlertsPage>> {
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::WorkspaceView).await?
    else {
        return Ok(None);
    };
    let now = svc.now();
    let tab = filter.tab.unwrap_or(Tab::Open);
    let base = visible(&access, actor, &filter);
    let mut conn = svc.store.read().await?;
    let counts = tab_counts(&mut conn, &base, now).await?;
    let mut w = base;
    w.sql.push_str(&format!(" AND {}", tab_clause(tab, now)));
    if let Some((at, id)) = filter.after {
        w.push(
            "(a.last_seen_at < ? OR (a.last_seen_at = ? AND a.id < ?))",
            &[at, at, id],
        );
    }
    let list_sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE {} ORDER BY a.last_seen_at DESC, a.id DESC LIMIT {}",
        w.sql,
        PAGE + 1
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(list_sql));
    for b in &w.binds {
        q = q.bind(*b);
    }
    let mut alerts = Vec::new();
    for row in q.fetch_all(&mut *conn).await? {
        alerts.push(view_of(&row)?);
    }
    let next = if alerts.len() as i64 > PAGE {
        alerts.truncate(PAGE as usize);
        alerts.last().map(|l| AlertFilter {
            after: Some((l.last_seen_at, l.id.0)),
            tab: Some(tab),
            ..filter.clone()
        })
    } else {
        None
    };
    let rules: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, name FROM alert_rules WHERE workspace_id = $1 ORDER BY name, id",
    )
    .bind(access.id().0)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let (tenants, tags) = choices(svc, actor, &access).await?;
    Ok(Some(AlertsPage {
        workspace: access.workspace.clone(),
        filter: AlertFilter {
            tab: Some(tab),
            ..filter
        },
        counts,
        alerts,
        next,
        can_respond: access.require(Capability::AlertsRespond).is_ok(),
        can_manage: access.require(Capability::AlertsManage).is_ok(),
        rules: rules
            .into_iter()
            .map(|(i, n)| (AlertRuleId(i), n))
            .collect(),
        tenants,
        tags,
        now,
    }))
}

/// The tenants the member sees and the workspace's tags, for filters and forms.
async fn choices(
    svc: &Services,
    actor: &Actor,
    access: &WorkspaceAccess,
) -> AppResult<(Vec<(TenantId, String)>, Vec<(TagId, String)>)> {
    let mut conn = svc.store.read().await?;
    let tenants: Vec<(i64, String)> = if access.role().sees_all_tenants() {
        sqlx::query_as("SELECT id, display_name FROM tenants WHERE workspace_id = $1 ORDER BY display_name, id")
            .bind(access.id().0)
            .fetch_all(&mut *conn)
            .await?
    } else {
        sqlx::query_as(
            "SELECT t.id, t.display_name FROM tenants t JOIN tenant_assignments a ON a.tenant_id = t.id AND a.user_id = $2
             WHERE t.workspace_id = $1 ORDER BY t.display_name, t.id",
        )
        .bind(access.id().0)
        .bind(actor.user_id.0)
        .fetch_all(&mut *conn)
        .await?
    };
    let tags: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM tags WHERE workspace_id = $1 ORDER BY name, id")
            .bind(access.id().0)
            .fetch_all(&mut *conn)
            .await?;
    Ok((
        tenants.into_iter().map(|(i, n)| (TenantId(i), n)).collect(),
        tags.into_iter().map(|(i, n)| (TagId(i), n)).collect(),
    ))
}

/// The ids a filter shows the member (for acknowledging many at once).
pub(crate) async fn matching_ids(
    svc: &Services,
    actor: &Actor,
    access: &WorkspaceAccess,
    filter: &AlertFilter,
    limit: usize,
) -> AppResult<Vec<AlertId>> {
    let now = svc.now();
    let mut w = visible(access, actor, filter);
    w.sql.push_str(&format!(
        " AND {}",
        tab_clause(filter.tab.unwrap_or(Tab::Open), now)
    ));
    let sql = format!(
        "SELECT a.id FROM alerts a WHERE {} ORDER BY a.id LIMIT {limit}",
        w.sql
    );
    let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql));
    for b in &w.binds {
        q = q.bind(*b);
    }
    Ok(q.fetch_all(&mut *svc.store.read().await?)
        .await?
        .into_iter()
        .map(|r| AlertId(r.0))
        .collect())
}

/// One alert, for its page (404 unless the member sees it).
pub async fn one(svc: &Services, actor: &Actor, alert: AlertId) -> AppResult<super::AlertDetail> {
    let row: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT workspace_id, tenant_id FROM alerts WHERE id = $1")
            .bind(alert.0)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?;
    let (ws, tenant) = row.ok_or(AppError::NotFound)?;
    let can_respond = match tenant {
        Some(t) => access::tenant(svc, actor, TenantId(t), Capability::TenantView)
            .await?
            .workspace
            .require(Capability::AlertsRespond)
            .is_ok(),
        None => {
            let a = access::workspace(
                svc,
                actor,
                crate::ids::WorkspaceId(ws),
                Capability::WorkspaceView,
            )
            .await?;
            if !a.role().sees_all_tenants() {
                return Err(AppError::NotFound);
            }
            a.require(Capability::AlertsRespond).is_ok()
        }
    };
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE a.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(alert.0)
        .fetch_optional(&mut *svc.store.read().await?)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(super::AlertDetail {
        alert: view_of(&row)?,
        can_respond,
        now: svc.now(),
    })
}

/// Open alerts (not snoozed) the member sees in their current workspace:
/// the shell's count.
pub async fn open_count(svc: &Services, actor: &Actor) -> AppResult<i64> {
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::WorkspaceView).await?
    else {
        return Ok(0);
    };
    // The same count as the page's Open tab, by the same code.
    let base = visible(&access, actor, &AlertFilter::default());
    let mut conn = svc.store.read().await?;
    Ok(tab_counts(&mut conn, &base, svc.now()).await?.open)
}

/// How many alerts each tab holds among those `base` selects.
async fn tab_counts(
    conn: &mut sqlx::AnyConnection,
    base: &Where,
    now: i64,
) -> AppResult<TabCounts> {
    let sql = format!(
        "SELECT
            COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0)
         FROM alerts a WHERE {}",
        tab_clause(Tab::Open, now),
        tab_clause(Tab::Acknowledged, now),
        tab_clause(Tab::Snoozed, now),
        tab_clause(Tab::Resolved, now),
        base.sql
    );
    let mut q = sqlx::query_as::<_, (i64, i64, i64, i64)>(sqlx::AssertSqlSafe(sql));
    for b in &base.binds {
        q = q.bind(*b);
    }
    let (open, acknowledged, snoozed, resolved) = q.fetch_one(conn).await?;
    Ok(TabCounts {
        open,
        acknowledged,
        snoozed,
        resolved,
    })
}

/// The rules page: every rule and endpoint, and what the forms offer.
pub async fn rules_page(svc: &Services, actor: &Actor) -> AppResult<Option<RulesPage>> {
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::WorkspaceView).await?
    else {
        return Ok(None);
    };
    // Routes name endpoints and addresses: owners and managers only.
    if !access.role().sees_all_tenants() {
        return Err(AppError::Forbidden);
    }
    let (tenants, tags) = choices(svc, actor, &access).await?;
    let members: Vec<(i64, String)> = sqlx::query_as(
        "SELECT u.id, u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY u.email",
    )
    .bind(access.id().0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut operation_types: Vec<(String, String)> = crate::runs::model::registered_types()
        .iter()
        .filter(|t| {
            t.spec().scope == crate::runs::model::ScopeKind::ProviderConnection
                || t.spec().schedulable
        })
        .map(|t| (t.as_str().to_string(), t.label().to_string()))
        .collect();
    operation_types.sort_by(|a, b| a.1.cmp(&b.1));
    operation_types.dedup();
    Ok(Some(RulesPage {
        workspace: access.workspace.clone(),
        can_manage: access.require(Capability::AlertsManage).is_ok(),
        rules: super::rules::all_in(svc, access.id()).await?,
        endpoints: super::webhooks::all_in(svc, access.id()).await?,
        tenants,
        tags,
        members: members
            .into_iter()
            .map(|(i, e)| (crate::ids::UserId(i), e))
            .collect(),
        operation_types,
        policy_kinds: super::rules::POLICY_KINDS
            .iter()
            .map(|k| k.to_string())
            .collect(),
        desk_configured: crate::support::desk::configured(svc).kind().is_some(),
        mail_configured: svc.port::<crate::mail::MailConfig>().is_some(),
        revealed: super::webhooks::take_reveal(svc, actor, access.id()).await?,
    }))
}
