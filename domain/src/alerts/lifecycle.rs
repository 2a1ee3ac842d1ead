//! One alert per (rule, tenant, subject) and its life: opened, counted,
//! acknowledged, reopened when its subject changes, snoozed, woken, resolved.
//! Every change happens in the caller's transaction with its audit entry and
//! the rows that route it (notifications now; webhook, ticket and mail rows
//! sent after commit), so a change and its announcements exist together.

use super::rules::Rule;
use super::{AlertState, ConditionKind, Evidence, PAYLOAD_VERSION, Routes, Severity};
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{AlertId, AlertRuleId, TenantId, UserId, WebhookEndpointId, WorkspaceId};
use crate::rbac::Role;
use crate::runs::presenter::Tone;
use crate::services::Services;
use crate::store::Backend;
use crate::views::{AuditAction, AuditOutcome};
use sqlx::AnyConnection;

/// Who raises an alert: a member's rule, or Tenantry itself (rule key 0).
#[derive(Debug, Clone)]
pub struct Raiser {
    pub workspace: WorkspaceId,
    pub rule: Option<(AlertRuleId, String)>,
    pub condition: ConditionKind,
    pub severity: Severity,
    pub routes: Routes,
}

impl Raiser {
    pub fn of(rule: &Rule) -> Raiser {
        Raiser {
            workspace: rule.workspace,
            rule: Some((rule.id, rule.name.clone())),
            condition: rule.condition.kind(),
            severity: rule.severity,
            routes: rule.routes.clone(),
        }
    }

    fn rule_key(&self) -> i64 {
        self.rule.as_ref().map_or(0, |r| r.0.0)
    }
}

/// What evaluation saw: the condition holds for this subject.
#[derive(Debug, Clone)]
pub struct Observation {
    pub tenant: Option<TenantId>,
    pub subject: String,
    /// What the subject is now (a failure reason, a setting value): an
    /// acknowledged alert reopens when it changes, not on every repeat.
    pub fingerprint: String,
    /// What was counted (`run:ID`, `fire:ID`…): the same thing counts once.
    pub reference: String,
    pub title: String,
    pub detail: String,
    pub evidence: Vec<Evidence>,
}

/// What an observation or a clearing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Opened(AlertId),
    Reopened(AlertId),
    Counted(AlertId),
    Resolved(AlertId),
    /// Nothing: the same reference again, or nothing to clear.
    None,
}

/// The state change a delivery announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Opened,
    Reopened,
    Acknowledged,
    Woke,
    Resolved,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Opened => "alert.opened",
            Event::Reopened => "alert.reopened",
            Event::Acknowledged => "alert.acknowledged",
            Event::Woke => "alert.woke",
            Event::Resolved => "alert.resolved",
        }
    }
    fn audit(self) -> AuditAction {
        match self {
            Event::Opened => AuditAction::AlertOpened,
            Event::Reopened => AuditAction::AlertReopened,
            Event::Acknowledged => AuditAction::AlertAcknowledged,
            Event::Woke => AuditAction::AlertWoke,
            Event::Resolved => AuditAction::AlertResolved,
        }
    }
}

type KeyRow = (i64, String, String, Option<String>, Option<i64>);

async fn by_key(
    conn: &mut AnyConnection,
    backend: Backend,
    ws: WorkspaceId,
    rule_key: i64,
    tenant_key: i64,
    subject: &str,
) -> AppResult<Option<KeyRow>> {
    // PostgreSQL: lock the row so two processes counting the same key take
    // turns (SQLite's writer already holds the database).
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, state, fingerprint, last_ref, snoozed_until FROM alerts
         WHERE workspace_id = $1 AND rule_key = $2 AND tenant_key = $3 AND subject = $4{lock}"
    )))
    .bind(ws.0)
    .bind(rule_key)
    .bind(tenant_key)
    .bind(subject)
    .fetch_optional(conn)
    .await?)
}

fn evidence_json(e: &[Evidence]) -> String {
    serde_json::to_string(e).unwrap_or_else(|_| "[]".into())
}

/// The condition holds: open, count or reopen the alert for this key.
pub async fn observe(
    conn: &mut AnyConnection,
    svc: &Services,
    raiser: &Raiser,
    obs: &Observation,
    now: i64,
) -> AppResult<Change> {
    let rule_key = raiser.rule_key();
    let tenant_key = obs.tenant.map_or(0, |t| t.0);
    let backend = svc.store.backend();
    let mut found = by_key(
        conn,
        backend,
        raiser.workspace,
        rule_key,
        tenant_key,
        &obs.subject,
    )
    .await?;
    if found.is_none() {
        let inserted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO alerts (workspace_id, rule_key, rule_id, tenant_key, tenant_id, subject, condition, severity, state,
                title, detail, fingerprint, evidence, last_ref, occurrences, first_seen_at, last_seen_at, opened_at, changes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $11, $12, $13, 1, $14, $14, $14, 1)
             ON CONFLICT (workspace_id, rule_key, tenant_key, subject) DO NOTHING RETURNING id",
        )
        .bind(raiser.workspace.0)
        .bind(rule_key)
        .bind(raiser.rule.as_ref().map(|r| r.0.0))
        .bind(tenant_key)
        .bind(obs.tenant.map(|t| t.0))
        .bind(&obs.subject)
        .bind(raiser.condition.as_str())
        .bind(raiser.severity.as_str())
        .bind(&obs.title)
        .bind(&obs.detail)
        .bind(&obs.fingerprint)
        .bind(evidence_json(&obs.evidence))
        .bind(&obs.reference)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((id,)) = inserted {
            let id = AlertId(id);
            announce(conn, svc, id, Event::Opened, None, now).await?;
            metrics::counter!(crate::telemetry::ALERTS_CHANGED, "change" => "opened").increment(1);
            return Ok(Change::Opened(id));
        }
        // Another process inserted it first: count on its row.
        found = by_key(
            conn,
            backend,
            raiser.workspace,
            rule_key,
            tenant_key,
            &obs.subject,
        )
        .await?;
    }
    let Some((id, state, fingerprint, last_ref, _snoozed)) = found else {
        return Err(AppError::Internal);
    };
    let id = AlertId(id);
    if last_ref.as_deref() == Some(obs.reference.as_str()) {
        return Ok(Change::None);
    }
    let reopen = match AlertState::parse(&state) {
        Some(AlertState::Resolved) => true,
        Some(AlertState::Acknowledged) => fingerprint != obs.fingerprint,
        _ => false,
    };
    if reopen {
        // A new episode: counted afresh, nobody's acknowledgement or snooze carried over.
        sqlx::query(
            "UPDATE alerts SET state = 'open', occurrences = 1, opened_at = $2, last_seen_at = $2, resolved_at = NULL,
                acknowledged_by = NULL, acknowledged_label = NULL, acknowledged_at = NULL, ack_note = NULL, snoozed_until = NULL,
                title = $3, detail = $4, fingerprint = $5, evidence = $6, last_ref = $7, severity = $8, changes = changes + 1
             WHERE id = $1",
        )
        .bind(id.0)
        .bind(now)
        .bind(&obs.title)
        .bind(&obs.detail)
        .bind(&obs.fingerprint)
        .bind(evidence_json(&obs.evidence))
        .bind(&obs.reference)
        .bind(raiser.severity.as_str())
        .execute(&mut *conn)
        .await?;
        announce(conn, svc, id, Event::Reopened, None, now).await?;
        metrics::counter!(crate::telemetry::ALERTS_CHANGED, "change" => "reopened").increment(1);
        return Ok(Change::Reopened(id));
    }
    sqlx::query(
        "UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = $2, title = $3, detail = $4, fingerprint = $5,
            evidence = $6, last_ref = $7
         WHERE id = $1",
    )
    .bind(id.0)
    .bind(now)
    .bind(&obs.title)
    .bind(&obs.detail)
    .bind(&obs.fingerprint)
    .bind(evidence_json(&obs.evidence))
    .bind(&obs.reference)
    .execute(&mut *conn)
    .await?;
    Ok(Change::Counted(id))
}

/// The condition no longer holds for this key: resolve it (once).
pub async fn clear(
    conn: &mut AnyConnection,
    svc: &Services,
    raiser: &Raiser,
    tenant: Option<TenantId>,
    subject: &str,
    now: i64,
) -> AppResult<Change> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE alerts SET state = 'resolved', resolved_at = $5, snoozed_until = NULL, changes = changes + 1
         WHERE workspace_id = $1 AND rule_key = $2 AND tenant_key = $3 AND subject = $4 AND state <> 'resolved'
         RETURNING id",
    )
    .bind(raiser.workspace.0)
    .bind(raiser.rule_key())
    .bind(tenant.map_or(0, |t| t.0))
    .bind(subject)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some((id,)) => {
            let id = AlertId(id);
            announce(conn, svc, id, Event::Resolved, None, now).await?;
            metrics::counter!(crate::telemetry::ALERTS_CHANGED, "change" => "resolved")
                .increment(1);
            Ok(Change::Resolved(id))
        }
        None => Ok(Change::None),
    }
}

/// An alert as deliveries word it.
#[derive(Debug, Clone)]
pub(crate) struct Announced {
    pub id: AlertId,
    pub workspace: WorkspaceId,
    pub workspace_name: String,
    pub rule: Option<(AlertRuleId, String)>,
    pub routes: Routes,
    pub tenant: Option<(TenantId, String, String)>,
    pub condition: String,
    pub severity: Severity,
    pub state: String,
    pub title: String,
    pub detail: String,
    pub occurrences: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub snoozed_until: Option<i64>,
    pub evidence: Vec<Evidence>,
}

pub(crate) async fn announced(
    conn: &mut AnyConnection,
    id: AlertId,
) -> AppResult<Option<Announced>> {
    use sqlx::Row;
    let row: Option<sqlx::any::AnyRow> = sqlx::query(
        "SELECT a.id, a.workspace_id, w.name AS workspace_name, a.rule_id, r.name AS rule_name, r.routes, a.tenant_id,
                t.display_name AS tenant_name, t.microsoft_tenant_id, a.condition, a.severity, a.state, a.title, a.detail,
                a.occurrences, a.first_seen_at, a.last_seen_at, a.snoozed_until, a.evidence
         FROM alerts a JOIN workspaces w ON w.id = a.workspace_id
         LEFT JOIN alert_rules r ON r.id = a.rule_id LEFT JOIN tenants t ON t.id = a.tenant_id
         WHERE a.id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let rule_id: Option<i64> = row.try_get("rule_id")?;
    let rule_name: Option<String> = row.try_get("rule_name")?;
    let routes: Option<String> = row.try_get("routes")?;
    let routes: Routes = match (rule_id, routes) {
        (Some(_), Some(r)) => serde_json::from_str(&r).unwrap_or_default(),
        // Tenantry's own alerts reach the workspace's owners and managers.
        _ => Routes {
            roles: vec![Role::Owner, Role::Manager],
            ..Routes::default()
        },
    };
    let tenant: Option<i64> = row.try_get("tenant_id")?;
    let tname: Option<String> = row.try_get("tenant_name")?;
    let mstid: Option<String> = row.try_get("microsoft_tenant_id")?;
    let severity: String = row.try_get("severity")?;
    let evidence: String = row.try_get("evidence")?;
    Ok(Some(Announced {
        id: AlertId(row.try_get("id")?),
        workspace: WorkspaceId(row.try_get("workspace_id")?),
        workspace_name: row.try_get("workspace_name")?,
        rule: rule_id.zip(rule_name).map(|(i, n)| (AlertRuleId(i), n)),
        routes,
        tenant: tenant.map(|t| {
            (
                TenantId(t),
                tname.unwrap_or_default(),
                mstid.unwrap_or_default(),
            )
        }),
        condition: row.try_get("condition")?,
        severity: Severity::parse(&severity).unwrap_or(Severity::Warning),
        state: row.try_get("state")?,
        title: row.try_get("title")?,
        detail: row.try_get("detail")?,
        occurrences: row.try_get("occurrences")?,
        first_seen_at: row.try_get("first_seen_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        snoozed_until: row.try_get("snoozed_until")?,
        evidence: serde_json::from_str(&evidence).unwrap_or_default(),
    }))
}

/// Audits a state change and writes what routes it. A snoozed alert's
/// news waits (except its resolution); an acknowledgement goes to webhooks only.
pub(crate) async fn announce(
    conn: &mut AnyConnection,
    svc: &Services,
    id: AlertId,
    event: Event,
    by: Option<(&crate::access::Actor, Option<&str>)>,
    now: i64,
) -> AppResult<()> {
    let Some(a) = announced(conn, id).await? else {
        return Ok(());
    };
    let (actor, label) = match by {
        Some((actor, _)) => (Some(actor.user_id), actor.email.as_str()),
        None => (None, "Tenantry"),
    };
    audit::record(
        conn,
        Entry {
            workspace: Some(a.workspace),
            tenant: a.tenant.as_ref().map(|t| t.0),
            actor,
            actor_label: label,
            action: event.audit(),
            target: format!("Alert #{} · {}", a.id, a.title),
            outcome: AuditOutcome::Succeeded,
            detail: by.and_then(|b| b.1).map(|n| n.chars().take(500).collect()),
        },
        now,
    )
    .await?;
    if a.snoozed_until.is_some_and(|u| u > now) && event != Event::Resolved {
        return Ok(());
    }
    if event != Event::Acknowledged {
        notify_members(conn, &a, event, now).await?;
        if !a.routes.mail.is_empty() && svc.port::<crate::mail::MailConfig>().is_some() {
            let (subject, body) = mail_words(svc, &a, event);
            for to in &a.routes.mail {
                crate::mail::enqueue(conn, svc, None, to, &subject, &body, now).await?;
            }
        }
        if a.routes.ticket && matches!(event, Event::Opened | Event::Reopened | Event::Woke) {
            enqueue(
                conn,
                a.workspace,
                Some(a.id),
                None,
                "ticket",
                event.as_str(),
                "{}",
                now,
            )
            .await?;
        }
    }
    if !a.routes.webhooks.is_empty() {
        let payload = payload(svc, &a, event, now);
        for endpoint in &a.routes.webhooks {
            let live: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM webhook_endpoints WHERE id = $1 AND workspace_id = $2 AND enabled = 1",
            )
            .bind(endpoint.0)
            .bind(a.workspace.0)
            .fetch_optional(&mut *conn)
            .await?;
            if live.is_some() {
                enqueue(
                    conn,
                    a.workspace,
                    Some(a.id),
                    Some(*endpoint),
                    "webhook",
                    event.as_str(),
                    &payload,
                    now,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// A fresh `webhook-id`: unique per message, the same on every attempt.
pub(crate) fn message_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().r#gen();
    format!("msg_{}", hex::encode(bytes))
}

/// Writes one outbox row (sent after commit by `send`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    alert: Option<AlertId>,
    endpoint: Option<WebhookEndpointId>,
    channel: &str,
    event: &str,
    payload: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO alert_deliveries (workspace_id, alert_id, endpoint_id, channel, event, message_id, payload, state, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $8)",
    )
    .bind(ws.0)
    .bind(alert.map(|a| a.0))
    .bind(endpoint.map(|e| e.0))
    .bind(channel)
    .bind(event)
    .bind(message_id())
    .bind(payload)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The versioned JSON a webhook carries (`type`, `timestamp`, `data`).
pub(crate) fn payload(svc: &Services, a: &Announced, event: Event, now: i64) -> String {
    serde_json::json!({
        "type": event.as_str(),
        "timestamp": rfc3339(now),
        "data": {
            "version": PAYLOAD_VERSION,
            "alert": {
                "id": a.id.0,
                "state": a.state,
                "severity": a.severity.as_str(),
                "condition": a.condition,
                "title": a.title,
                "detail": a.detail,
                "occurrences": a.occurrences,
                "first_seen_at": rfc3339(a.first_seen_at),
                "last_seen_at": rfc3339(a.last_seen_at),
                "url": svc.link(&super::alert_link(a.id)),
            },
            "rule": a.rule.as_ref().map(|(id, name)| serde_json::json!({ "id": id.0, "name": name })),
            "tenant": a.tenant.as_ref().map(|(id, name, ms)| serde_json::json!({
                "id": id.0, "name": name, "microsoft_tenant_id": ms, "url": svc.link(&format!("/admin/t/{id}")),
            })),
            "workspace": { "id": a.workspace.0, "name": a.workspace_name },
            "evidence": a.evidence.iter().map(|e| serde_json::json!({ "label": e.label, "url": svc.link(&e.href) })).collect::<Vec<_>>(),
        }
    })
    .to_string()
}

fn headline(a: &Announced, event: Event) -> String {
    let what = match event {
        Event::Opened => "Alert",
        Event::Reopened => "Alert reopened",
        Event::Acknowledged => "Alert acknowledged",
        Event::Woke => "Snoozed alert still open",
        Event::Resolved => "Alert resolved",
    };
    format!("{what} ({}): {}", a.severity.label(), a.title)
}

pub(crate) fn mail_words(svc: &Services, a: &Announced, event: Event) -> (String, String) {
    let mut body = format!("{}\n\n{}\n", headline(a, event), a.detail);
    if let Some((_, name, _)) = &a.tenant {
        body.push_str(&format!("Tenant: {name}\n"));
    }
    if let Some((_, rule)) = &a.rule {
        body.push_str(&format!("Rule: {rule}\n"));
    }
    body.push_str(&format!(
        "Seen {} time(s).\n\nOpen the alert: {}\n",
        a.occurrences,
        svc.link(&super::alert_link(a.id))
    ));
    (format!("[Tenantry] {}", headline(a, event)), body)
}

/// In-app notifications to the members the rule names by role: operators
/// and read-only members only for tenants assigned to them, and only owners
/// and managers for alerts about the whole workspace.
async fn notify_members(
    conn: &mut AnyConnection,
    a: &Announced,
    event: Event,
    now: i64,
) -> AppResult<()> {
    if a.routes.roles.is_empty() && a.routes.users.is_empty() {
        return Ok(());
    }
    let members: Vec<(i64, String)> =
        sqlx::query_as("SELECT user_id, role FROM memberships WHERE workspace_id = $1")
            .bind(a.workspace.0)
            .fetch_all(&mut *conn)
            .await?;
    let tone = match (event, a.severity) {
        (Event::Resolved, _) => Tone::Success,
        (_, Severity::Critical) => Tone::Danger,
        (_, Severity::Warning) => Tone::Warning,
        (_, Severity::Info) => Tone::Info,
    };
    let title = headline(a, event);
    let link = super::alert_link(a.id);
    for (user, role) in members {
        let Ok(role) = role.parse::<Role>() else {
            continue;
        };
        if !a.routes.roles.contains(&role) {
            continue;
        }
        if !role.sees_all_tenants() {
            let Some((tenant, _, _)) = &a.tenant else {
                continue;
            };
            let assigned: Option<(i64,)> = sqlx::query_as(
                "SELECT tenant_id FROM tenant_assignments WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(tenant.0)
            .bind(user)
            .fetch_optional(&mut *conn)
            .await?;
            if assigned.is_none() {
                continue;
            }
        }
        crate::notifications::insert(
            &mut *conn,
            crate::notifications::NewNotification {
                user: UserId(user),
                workspace: a.workspace,
                run: None,
                tone,
                title: &title,
                body: &a.detail,
                link: &link,
                next_steps: &[],
            },
            now,
        )
        .await?;
    }
    Ok(())
}
