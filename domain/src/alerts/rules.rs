//! Alert rules: a form checked field by field (nothing half-saved: one
//! transaction with its audit entry), and the rules as evaluation reads them.

use super::{Condition, ConditionKind, Exclusions, Routes, RuleView, Scope, Severity};
use crate::access::{self, Actor};
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{AlertRuleId, TagId, TenantId, WebhookEndpointId, WorkspaceId};
use crate::rbac::{Capability, Role};
use crate::services::Services;
use crate::views::AuditAction;
use sqlx::AnyConnection;

/// Policy kinds drift and baseline conditions can name or leave out.
pub const POLICY_KINDS: &[&str] = &["device_configuration", "compliance_policy"];

/// The rule form as posted (every field text, so a bad value is named, not a 400).
#[derive(Debug, Clone, Default)]
pub struct RuleForm {
    pub name: String,
    pub condition: String,
    pub op_type: String,
    pub count: String,
    pub window_hours: String,
    pub days: String,
    pub percent: String,
    pub policy_kind: String,
    /// `all`, `tag:ID` or `tenants` (then `tenants`).
    pub scope: String,
    pub tenants: Vec<TenantId>,
    pub exclude_tenants: Vec<TenantId>,
    pub exclude_kinds: Vec<String>,
    pub severity: String,
    pub roles: Vec<String>,
    pub users: Vec<crate::ids::UserId>,
    pub webhooks: Vec<WebhookEndpointId>,
    pub ticket: bool,
    pub mail: String,
}

/// A checked rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: AlertRuleId,
    pub workspace: WorkspaceId,
    pub name: String,
    pub condition: Condition,
    pub scope: Scope,
    pub exclusions: Exclusions,
    pub severity: Severity,
    pub routes: Routes,
}

fn number(
    raw: &str,
    field: &str,
    what: &str,
    range: std::ops::RangeInclusive<i64>,
) -> AppResult<i64> {
    let n: i64 = raw
        .trim()
        .parse()
        .map_err(|_| AppError::invalid(field, format!("Enter {what} as a whole number.")))?;
    if !range.contains(&n) {
        return Err(AppError::invalid(
            field,
            format!("Enter {what} from {} to {}.", range.start(), range.end()),
        ));
    }
    Ok(n)
}

fn condition_of(form: &RuleForm) -> AppResult<Condition> {
    let kind = ConditionKind::parse(form.condition.trim())
        .filter(|k| ConditionKind::CHOOSABLE.contains(k))
        .ok_or_else(|| AppError::invalid("condition", "Choose what the rule watches."))?;
    Ok(match kind {
        ConditionKind::RunFailures => {
            let op = form.op_type.trim();
            let op_type = if op.is_empty() || op == "any" {
                None
            } else {
                let t: crate::runs::OperationType = op
                    .parse()
                    .map_err(|_| AppError::invalid("op_type", "Choose an operation."))?;
                Some(t.as_str().to_string())
            };
            Condition::RunFailures {
                op_type,
                count: number(&form.count, "count", "how many times", 1..=1000)?,
                window_hours: number(
                    &form.window_hours,
                    "window_hours",
                    "the window in hours",
                    1..=720,
                )?,
            }
        }
        ConditionKind::DriftDetected => {
            let k = form.policy_kind.trim();
            let kind = if k.is_empty() || k == "any" {
                None
            } else if POLICY_KINDS.contains(&k) {
                Some(k.to_string())
            } else {
                return Err(AppError::invalid("policy_kind", "Choose a policy kind."));
            };
            Condition::DriftDetected { kind }
        }
        ConditionKind::CredentialExpiring => Condition::CredentialExpiring {
            days: number(&form.days, "days", "the number of days", 1..=365)?,
        },
        ConditionKind::ComplianceBelow => Condition::ComplianceBelow {
            percent: number(&form.percent, "percent", "the percentage", 1..=100)?,
        },
        ConditionKind::FireProblems => Condition::FireProblems,
        ConditionKind::BaselineDeviation => Condition::BaselineDeviation,
        ConditionKind::ConnectionFailing => Condition::ConnectionFailing,
        ConditionKind::BulkFailures => Condition::BulkFailures,
        ConditionKind::EndpointDisabled => {
            return Err(AppError::invalid(
                "condition",
                "Choose what the rule watches.",
            ));
        }
    })
}

/// What a rule may name, each the workspace's own.
#[derive(Clone, Copy)]
enum Owned {
    Tenants,
    Tags,
    Members,
    Endpoints,
}

impl Owned {
    fn count_sql(self) -> &'static str {
        match self {
            Owned::Tenants => "SELECT COUNT(*) FROM tenants WHERE workspace_id = $1 AND id IN",
            Owned::Tags => "SELECT COUNT(*) FROM tags WHERE workspace_id = $1 AND id IN",
            Owned::Members => {
                "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND user_id IN"
            }
            Owned::Endpoints => {
                "SELECT COUNT(*) FROM webhook_endpoints WHERE workspace_id = $1 AND id IN"
            }
        }
    }
}

/// Every id (distinct) names one of the workspace's own `what`, or 404:
/// another workspace's tenant, tag, member or endpoint is not there.
async fn all_owned(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    what: Owned,
    ids: &[i64],
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    // Ids are parsed numbers: spelled into the list.
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} ({list})",
        what.count_sql()
    )))
    .bind(ws.0)
    .fetch_one(conn)
    .await?;
    if n != ids.len() as i64 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Sorted, without repeats.
fn distinct<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Checks the form against the workspace (its tenants, tags, endpoints).
pub async fn validate(
    svc: &Services,
    ws: WorkspaceId,
    form: &RuleForm,
) -> AppResult<(String, Condition, Scope, Exclusions, Severity, Routes)> {
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::invalid(
            "name",
            "Give the rule a name of up to 80 characters.",
        ));
    }
    let condition = condition_of(form)?;
    let mut conn = svc.store.read().await?;
    let scope = match form.scope.trim() {
        "all" | "" => Scope::All,
        "tenants" => {
            if form.tenants.is_empty() {
                return Err(AppError::invalid(
                    "tenants",
                    "Choose at least one tenant, or apply the rule to all tenants.",
                ));
            }
            let t = distinct(&form.tenants);
            let ids: Vec<i64> = t.iter().map(|t| t.0).collect();
            all_owned(&mut conn, ws, Owned::Tenants, &ids).await?;
            Scope::Tenants(t)
        }
        other => {
            let tag: TagId = other
                .strip_prefix("tag:")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    AppError::invalid("scope", "Choose all tenants, a tag, or tenants.")
                })?;
            all_owned(&mut conn, ws, Owned::Tags, &[tag.0]).await?;
            Scope::Tag(tag)
        }
    };
    if !condition.kind().per_tenant() && scope != Scope::All {
        return Err(AppError::invalid(
            "scope",
            "This condition is about the workspace: apply it to all tenants.",
        ));
    }
    let exclude_tenants = distinct(&form.exclude_tenants);
    let ids: Vec<i64> = exclude_tenants.iter().map(|t| t.0).collect();
    all_owned(&mut conn, ws, Owned::Tenants, &ids).await?;
    let mut kinds = Vec::new();
    for k in &form.exclude_kinds {
        let k = k.trim();
        if !POLICY_KINDS.contains(&k) {
            return Err(AppError::invalid(
                "exclude_kinds",
                "Choose policy kinds from the list.",
            ));
        }
        if !kinds.iter().any(|x: &String| x == k) {
            kinds.push(k.to_string());
        }
    }
    let severity = Severity::parse(form.severity.trim())
        .ok_or_else(|| AppError::invalid("severity", "Choose a severity."))?;
    let mut roles = Vec::new();
    for r in &form.roles {
        let role: Role = r
            .parse()
            .map_err(|_| AppError::invalid("roles", "Choose roles from the list."))?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    let users = distinct(&form.users);
    let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
    all_owned(&mut conn, ws, Owned::Members, &ids).await?;
    let webhooks = distinct(&form.webhooks);
    let ids: Vec<i64> = webhooks.iter().map(|e| e.0).collect();
    all_owned(&mut conn, ws, Owned::Endpoints, &ids).await?;
    let mut mail = Vec::new();
    for part in form
        .mail
        .split([',', ';', '\n', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let email = crate::validate::Email::parse(part)
            .map_err(|_| AppError::invalid("mail", format!("{part:?} is not an email address.")))?;
        if !mail.contains(&email.as_str().to_string()) {
            mail.push(email.as_str().to_string());
        }
    }
    if mail.len() > 20 {
        return Err(AppError::invalid(
            "mail",
            "Send mail to at most 20 addresses.",
        ));
    }
    if form.ticket
        && super::super::support::desk::configured(svc)
            .kind()
            .is_none()
    {
        return Err(AppError::invalid(
            "ticket",
            "No support desk is configured: tickets cannot be opened.",
        ));
    }
    let routes = Routes {
        roles,
        users,
        webhooks,
        ticket: form.ticket,
        mail,
    };
    Ok((
        name,
        condition,
        scope,
        Exclusions {
            tenants: exclude_tenants,
            kinds,
        },
        severity,
        routes,
    ))
}

fn json<T: serde::Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|_| AppError::Internal)
}

/// Creates a rule (owners and managers).
pub async fn create(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    form: RuleForm,
) -> AppResult<AlertRuleId> {
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::AlertsManage,
        AuditAction::AlertRuleCreated,
        form.name.chars().take(80).collect::<String>(),
    )
    .await?;
    let (name, condition, scope, exclusions, severity, routes) =
        validate(svc, access.id(), &form).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO alert_rules (workspace_id, name, condition, params, scope, exclusions, severity, routes, enabled, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $10) RETURNING id",
    )
    .bind(access.id().0)
    .bind(&name)
    .bind(condition.kind().as_str())
    .bind(json(&condition)?)
    .bind(json(&scope)?)
    .bind(json(&exclusions)?)
    .bind(severity.as_str())
    .bind(json(&routes)?)
    .bind(actor.user_id.0)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::AlertRuleCreated,
        name,
        Some(format!("{} · {}", condition.sentence(), severity.as_str())),
    ))
    .await?;
    Ok(AlertRuleId(id))
}

/// A rule of the actor's workspace for a change: 404 unless theirs; 403
/// (audited) without `alerts.manage`. Answers the access and the rule's name.
async fn for_change(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    rule: AlertRuleId,
    action: AuditAction,
) -> AppResult<(access::WorkspaceAccess, String)> {
    let access = access::workspace(svc, actor, ws, Capability::WorkspaceView).await?;
    let name = rule_name(svc, access.id(), rule).await?;
    access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::AlertsManage,
        action,
        name.clone(),
    )
    .await?;
    Ok((access, name))
}

async fn rule_name(svc: &Services, ws: WorkspaceId, rule: AlertRuleId) -> AppResult<String> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT name FROM alert_rules WHERE id = $1 AND workspace_id = $2")
            .bind(rule.0)
            .bind(ws.0)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?;
    row.map(|r| r.0).ok_or(AppError::NotFound)
}

/// Changes a rule; its alerts keep their history.
pub async fn update(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    rule: AlertRuleId,
    form: RuleForm,
) -> AppResult<()> {
    let (access, _) = for_change(svc, actor, ws, rule, AuditAction::AlertRuleUpdated).await?;
    let (name, condition, scope, exclusions, severity, routes) =
        validate(svc, access.id(), &form).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "UPDATE alert_rules SET name = $3, condition = $4, params = $5, scope = $6, exclusions = $7, severity = $8, routes = $9, updated_at = $10
         WHERE id = $1 AND workspace_id = $2",
    )
    .bind(rule.0)
    .bind(access.id().0)
    .bind(&name)
    .bind(condition.kind().as_str())
    .bind(json(&condition)?)
    .bind(json(&scope)?)
    .bind(json(&exclusions)?)
    .bind(severity.as_str())
    .bind(json(&routes)?)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::AlertRuleUpdated,
        name,
        Some(format!("{} · {}", condition.sentence(), severity.as_str())),
    ))
    .await
}

/// Pauses or resumes a rule (a paused rule raises nothing; its open alerts stay).
pub async fn set_enabled(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    rule: AlertRuleId,
    enabled: bool,
) -> AppResult<()> {
    let (access, name) = for_change(svc, actor, ws, rule, AuditAction::AlertRuleUpdated).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "UPDATE alert_rules SET enabled = $3, updated_at = $4 WHERE id = $1 AND workspace_id = $2",
    )
    .bind(rule.0)
    .bind(access.id().0)
    .bind(i64::from(enabled))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::AlertRuleUpdated,
        name,
        Some(if enabled { "resumed" } else { "paused" }.into()),
    ))
    .await
}

/// Deletes a rule and its alerts (the audit log keeps what happened).
pub async fn delete(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    rule: AlertRuleId,
) -> AppResult<()> {
    let (access, name) = for_change(svc, actor, ws, rule, AuditAction::AlertRuleDeleted).await?;
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query("DELETE FROM alerts WHERE rule_id = $1 AND workspace_id = $2")
        .bind(rule.0)
        .bind(access.id().0)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM alert_rules WHERE id = $1 AND workspace_id = $2")
        .bind(rule.0)
        .bind(access.id().0)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::AlertRuleDeleted,
        name,
        None,
    ))
    .await
}

type RuleRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
);

fn rule_of(row: RuleRow) -> Option<(Rule, bool)> {
    let (id, ws, name, params, scope, exclusions, severity, routes, enabled) = row;
    Some((
        Rule {
            id: AlertRuleId(id),
            workspace: WorkspaceId(ws),
            name,
            condition: serde_json::from_str(&params).ok()?,
            scope: serde_json::from_str(&scope).ok()?,
            exclusions: serde_json::from_str(&exclusions).unwrap_or_default(),
            severity: Severity::parse(&severity)?,
            routes: serde_json::from_str(&routes).unwrap_or_default(),
        },
        enabled != 0,
    ))
}

const RULE_COLUMNS: &str =
    "id, workspace_id, name, params, scope, exclusions, severity, routes, enabled";

/// The enabled rules of a workspace (an unreadable row is skipped and logged).
pub async fn enabled_in(conn: &mut AnyConnection, ws: WorkspaceId) -> AppResult<Vec<Rule>> {
    let rows: Vec<RuleRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM alert_rules WHERE workspace_id = $1 AND enabled = 1 ORDER BY id"
    )))
    .bind(ws.0)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let id = r.0;
            let rule = rule_of(r);
            if rule.is_none() {
                tracing::warn!(rule = id, "alert rule unreadable; skipped");
            }
            rule.map(|r| r.0)
        })
        .collect())
}

/// Every rule of a workspace, for its page.
pub(crate) async fn all_in(svc: &Services, ws: WorkspaceId) -> AppResult<Vec<RuleView>> {
    let mut conn = svc.store.read().await?;
    let rows: Vec<RuleRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RULE_COLUMNS} FROM alert_rules WHERE workspace_id = $1 ORDER BY name, id"
    )))
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let open: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT rule_key, COUNT(*) FROM alerts WHERE workspace_id = $1 AND state <> 'resolved' GROUP BY rule_key",
    )
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for row in rows {
        let Some((rule, enabled)) = rule_of(row) else {
            continue;
        };
        let scope_label = match &rule.scope {
            Scope::All => "All tenants".to_string(),
            Scope::Tag(t) => {
                let name: Option<(String,)> = sqlx::query_as("SELECT name FROM tags WHERE id = $1")
                    .bind(t.0)
                    .fetch_optional(&mut *conn)
                    .await?;
                format!("Tag: {}", name.map_or_else(|| "(deleted)".into(), |n| n.0))
            }
            Scope::Tenants(t) => {
                format!("{} tenant{}", t.len(), if t.len() == 1 { "" } else { "s" })
            }
        };
        out.push(RuleView {
            open_alerts: open.iter().find(|o| o.0 == rule.id.0).map_or(0, |o| o.1),
            id: rule.id,
            name: rule.name,
            condition: rule.condition,
            scope: rule.scope,
            scope_label,
            exclusions: rule.exclusions,
            severity: rule.severity,
            routes: rule.routes,
            enabled,
        });
    }
    Ok(out)
}

impl Rule {
    /// Whether the rule watches this tenant (scope, then exclusions).
    pub async fn covers(&self, conn: &mut AnyConnection, tenant: TenantId) -> AppResult<bool> {
        if self.exclusions.tenants.contains(&tenant) {
            return Ok(false);
        }
        Ok(match &self.scope {
            Scope::All => true,
            Scope::Tenants(list) => list.contains(&tenant),
            Scope::Tag(tag) => {
                let row: Option<(i64,)> = sqlx::query_as(
                    "SELECT tenant_id FROM tenant_tags WHERE tag_id = $1 AND tenant_id = $2",
                )
                .bind(tag.0)
                .bind(tenant.0)
                .fetch_optional(conn)
                .await?;
                row.is_some()
            }
        })
    }

    /// Whether a policy kind is left out.
    pub fn excludes_kind(&self, kind: &str) -> bool {
        self.exclusions.kinds.iter().any(|k| k == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(condition: &str) -> RuleForm {
        RuleForm {
            name: "r".into(),
            condition: condition.into(),
            count: "3".into(),
            window_hours: "24".into(),
            days: "14".into(),
            percent: "80".into(),
            ..RuleForm::default()
        }
    }

    #[test]
    fn each_condition_names_the_field_it_refuses() {
        let field = |e: AppError| match e {
            AppError::Invalid { field, .. } => field,
            _ => None,
        };
        assert_eq!(
            condition_of(&form("nonsense")).map_err(field),
            Err(Some("condition".into()))
        );
        assert_eq!(
            condition_of(&form("endpoint_disabled")).map_err(field),
            Err(Some("condition".into()))
        );
        let mut f = form("run_failures");
        f.count = "0".into();
        assert_eq!(condition_of(&f).map_err(field), Err(Some("count".into())));
        f.count = "three".into();
        assert_eq!(condition_of(&f).map_err(field), Err(Some("count".into())));
        let mut f = form("run_failures");
        f.window_hours = "9999".into();
        assert_eq!(
            condition_of(&f).map_err(field),
            Err(Some("window_hours".into()))
        );
        let mut f = form("compliance_below");
        f.percent = "101".into();
        assert_eq!(condition_of(&f).map_err(field), Err(Some("percent".into())));
        let mut f = form("drift_detected");
        f.policy_kind = "'; DROP TABLE x".into();
        assert_eq!(
            condition_of(&f).map_err(field),
            Err(Some("policy_kind".into()))
        );
        assert_eq!(
            condition_of(&form("run_failures")),
            Ok(Condition::RunFailures {
                op_type: None,
                count: 3,
                window_hours: 24
            })
        );
    }

    #[test]
    fn a_stored_condition_reads_back() {
        for c in [
            Condition::RunFailures {
                op_type: Some("inventory_sync".into()),
                count: 2,
                window_hours: 6,
            },
            Condition::DriftDetected { kind: None },
            Condition::CredentialExpiring { days: 30 },
            Condition::BulkFailures,
        ] {
            let s = serde_json::to_string(&c).expect("json");
            assert_eq!(serde_json::from_str::<Condition>(&s).expect("back"), c);
        }
    }
}
