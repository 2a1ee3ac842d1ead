//! Request support: save (one transaction with the audit entry), then hand
//! off to the desk outside any transaction with a hard 5 s limit, then one
//! bounded finalization write on the same row.

use super::desk::{self, DeskTicket, TicketRequest};
use super::{Handoff, NewSupportRequest, Severity, SupportRequestView};
use crate::access::{self, Actor};
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, SupportRequestId, TenantId, WorkspaceId};
use crate::rbac::Capability;
use crate::runs::service::RunService;
use crate::services::Services;
use crate::validate::Lines;
use crate::views::AuditAction;
use sqlx::Row;

/// Where support was requested from: a tenant dashboard or one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportContext {
    Tenant(TenantId),
    Run(RunId),
}

impl SupportContext {
    /// From a form: the run when there is one, else the tenant.
    pub fn from_ids(tenant: Option<TenantId>, run: Option<RunId>) -> AppResult<SupportContext> {
        match (run, tenant) {
            (Some(r), _) => Ok(SupportContext::Run(r)),
            (None, Some(t)) => Ok(SupportContext::Tenant(t)),
            (None, None) => Err(AppError::invalid("tenant", "Choose a tenant or a run.")),
        }
    }
}

struct Resolved {
    workspace: WorkspaceId,
    tenant: TenantId,
    tenant_name: String,
    run: Option<RunId>,
}

/// The 404/403 rules of PRODUCT.md §4 for a context, with `capability`.
async fn resolve(
    svc: &Services,
    actor: &Actor,
    ctx: SupportContext,
    capability: Capability,
    change: Option<AuditAction>,
) -> AppResult<Resolved> {
    let (tenant, run) = match ctx {
        SupportContext::Tenant(t) => (t, None),
        // The tenant check below decides the run's visibility too (a run is
        // seen exactly when its tenant is), so the run is read unguarded.
        SupportContext::Run(r) => {
            let view = RunService::load(svc, r).await?.ok_or(AppError::NotFound)?;
            (view.tenant_id.ok_or(AppError::NotFound)?, Some(r))
        }
    };
    let access = match change {
        Some(action) => {
            access::tenant_for_change(svc, actor, tenant, capability, action, "Support request")
                .await?
        }
        None => access::tenant(svc, actor, tenant, capability).await?,
    };
    Ok(Resolved {
        workspace: access.workspace.id(),
        tenant,
        tenant_name: access.tenant.display_name,
        run,
    })
}

fn text(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
    what: &str,
    lines: Lines,
) -> AppResult<String> {
    Ok(crate::validate::text(field, what, value, min, max, lines)?)
}

/// An existing desk ticket reference: letters, digits, spaces, `#` and `-`,
/// with at least one digit (e.g. `12345`, `RT #12345`, `Halo #1042`).
fn ticket_reference(value: &str) -> AppResult<String> {
    let v = value.trim();
    let ok = (1..=40).contains(&v.chars().count())
        && v.chars().any(|c| c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '#' | '-'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(AppError::invalid(
            "existing_ticket",
            "Enter the desk's ticket reference, e.g. 12345 or RT #12345.",
        ))
    }
}

fn new_reference() -> String {
    use rand::Rng;
    // No 0/O or 1/I: references are read out on the phone.
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let code: String = (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("SR-{code}")
}

const COLUMNS: &str =
    "r.reference, r.subject, r.severity, r.handoff, r.external_reference, r.external_url,
    r.failure_summary, u.email, r.created_at";

fn view_of(r: &sqlx::any::AnyRow) -> AppResult<SupportRequestView> {
    let bad = |_| AppError::Internal;
    Ok(SupportRequestView {
        reference: r.try_get("reference")?,
        subject: r.try_get("subject")?,
        severity: r
            .try_get::<String, _>("severity")?
            .parse::<Severity>()
            .map_err(bad)?,
        handoff: r
            .try_get::<String, _>("handoff")?
            .parse::<Handoff>()
            .map_err(bad)?,
        desk_reference: r.try_get("external_reference")?,
        desk_url: r.try_get("external_url")?,
        failure_summary: r.try_get("failure_summary")?,
        requested_by: r.try_get("email")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn load(svc: &Services, id: SupportRequestId) -> AppResult<SupportRequestView> {
    let row = sqlx::query(sqlx::AssertSqlSafe(&*format!(
        "SELECT {COLUMNS} FROM support_requests r JOIN users u ON u.id = r.requested_by WHERE r.id = $1"
    )))
    .bind(id.0)
    .fetch_one(&mut *svc.store.read().await?)
    .await?;
    view_of(&row)
}

/// Saves a support request and hands it to the configured desk (or links an
/// existing ticket). The saved request survives every desk failure; the
/// returned view says which outcome happened.
pub async fn request(
    svc: &Services,
    actor: &Actor,
    ctx: SupportContext,
    form: NewSupportRequest,
) -> AppResult<SupportRequestView> {
    let at = resolve(
        svc,
        actor,
        ctx,
        Capability::SupportRequest,
        Some(AuditAction::SupportRequested),
    )
    .await?;
    let subject = text(
        "subject",
        &form.subject,
        3,
        200,
        "a short subject",
        Lines::One,
    )?;
    let description = text(
        "description",
        &form.description,
        1,
        5000,
        "what happened",
        Lines::Many,
    )?;
    let contact = match form.contact.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => Some(text("contact", c, 1, 200, "a contact", Lines::One)?),
        _ => None,
    };
    let existing = match form.existing_ticket.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Some(ticket_reference(t)?),
        _ => None,
    };
    let desk_config = svc.support_desk.clone();
    let handoff = match (&existing, desk_config.kind()) {
        (Some(_), _) => Handoff::Linked,
        (None, None) => Handoff::NotConfigured,
        (None, Some(_)) => Handoff::Pending,
    };
    let reference = new_reference();
    let now = svc.now();

    // 1. The internal request and its audit entry, in one transaction (after
    // the member's hourly allowance, so a flood stores nothing).
    let mut tx = svc.store.begin().await?;
    crate::limits::take(
        &mut tx,
        &svc.settings.limits,
        crate::limits::Limited::SupportRequests,
        actor.user_id,
        now,
    )
    .await?;
    let (raw_id,): (i64,) = sqlx::query_as(
        "INSERT INTO support_requests (workspace_id, tenant_id, run_id, reference, subject, description, severity,
            contact, requested_by, handoff, desk_kind, external_reference, created_at, finalized_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(at.workspace.0)
    .bind(at.tenant.0)
    .bind(at.run.map(|r| r.0))
    .bind(&reference)
    .bind(&subject)
    .bind(&description)
    .bind(form.severity.as_str())
    .bind(contact.as_deref())
    .bind(actor.user_id.0)
    .bind(handoff.as_str())
    .bind(desk_config.kind())
    .bind(existing.as_deref())
    .bind(now)
    .bind((handoff != Handoff::Pending).then_some(now))
    .fetch_one(&mut **tx)
    .await?;
    let id = SupportRequestId(raw_id);
    let target = match at.run {
        Some(r) => format!("{reference} for run #{r} of {}", at.tenant_name),
        None => format!("{reference} for {}", at.tenant_name),
    };
    let action = if existing.is_some() {
        AuditAction::SupportLinked
    } else {
        AuditAction::SupportRequested
    };
    audit::record(
        &mut tx,
        Entry::by_member(
            actor,
            at.workspace,
            Some(at.tenant),
            action,
            target.clone(),
            existing.clone(),
        ),
        now,
    )
    .await?;
    tx.commit().await?;

    if handoff != Handoff::Pending {
        return load(svc, id).await;
    }

    // 2. The desk, outside any transaction, within the hard limit.
    let body = format!(
        "{description}\n\nTenant: {}\nSeverity: {}\nTenantry reference: {reference}{}{}",
        at.tenant_name,
        form.severity.as_str(),
        at.run.map(|r| format!("\nRun: #{r}")).unwrap_or_default(),
        contact
            .as_deref()
            .map(|c| format!("\nContact: {c}"))
            .unwrap_or_default(),
    );
    let result = desk::create_ticket(
        &desk_config,
        TicketRequest {
            subject: &subject,
            body: &body,
        },
    )
    .await;

    // 3. One bounded finalization write on the same row.
    finalize(svc, actor, &at, id, &target, result).await?;
    load(svc, id).await
}

async fn finalize(
    svc: &Services,
    actor: &Actor,
    at: &Resolved,
    id: SupportRequestId,
    target: &str,
    result: Result<DeskTicket, desk::DeskError>,
) -> AppResult<()> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    match result {
        Ok(t) => {
            sqlx::query(
                "UPDATE support_requests SET handoff = 'created', external_id = $1, external_reference = $2,
                    external_url = $3, finalized_at = $4 WHERE id = $5 AND handoff = 'pending'",
            )
            .bind(t.external_id)
            .bind(t.reference)
            .bind(t.url)
            .bind(now)
            .bind(id.0)
            .execute(&mut **tx)
            .await?;
        }
        Err(e) => {
            let summary = e.to_string();
            tracing::warn!(support_request = id.0, failure = %summary, "support desk handoff failed");
            sqlx::query(
                "UPDATE support_requests SET handoff = 'failed', failure_summary = $1, finalized_at = $2
                 WHERE id = $3 AND handoff = 'pending'",
            )
            .bind(&summary)
            .bind(now)
            .bind(id.0)
            .execute(&mut **tx)
            .await?;
            let mut entry = Entry::by_member(
                actor,
                at.workspace,
                Some(at.tenant),
                AuditAction::SupportHandoffFailed,
                target.to_string(),
                Some(summary),
            );
            entry.outcome = crate::views::AuditOutcome::Failed;
            audit::record(&mut tx, entry, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The latest request of exactly this context (the tenant's own requests, or
/// the run's), for the slide-over; `None` when there is none yet.
pub async fn latest(
    svc: &Services,
    actor: &Actor,
    ctx: SupportContext,
) -> AppResult<Option<SupportRequestView>> {
    let at = resolve(svc, actor, ctx, Capability::SupportRequest, None).await?;
    let row = match at.run {
        Some(run) => {
            sqlx::query(sqlx::AssertSqlSafe(&*format!(
                "SELECT {COLUMNS} FROM support_requests r JOIN users u ON u.id = r.requested_by
                 WHERE r.run_id = $1 AND r.tenant_id = $2 ORDER BY r.id DESC LIMIT 1"
            )))
            .bind(run.0)
            .bind(at.tenant.0)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(&*format!(
                "SELECT {COLUMNS} FROM support_requests r JOIN users u ON u.id = r.requested_by
                 WHERE r.tenant_id = $1 AND r.run_id IS NULL ORDER BY r.id DESC LIMIT 1"
            )))
            .bind(at.tenant.0)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?
        }
    };
    row.as_ref().map(view_of).transpose()
}

/// The slide-over's first view: the latest request of this context and the desk.
pub async fn panel(
    svc: &Services,
    actor: &Actor,
    ctx: SupportContext,
) -> AppResult<super::SupportPanel> {
    Ok(super::SupportPanel {
        latest: latest(svc, actor, ctx).await?,
        desk: match svc.support_desk.kind() {
            Some("halopsa") => Some("HaloPSA".into()),
            Some(_) => Some("Request Tracker".into()),
            None => None,
        },
    })
}
