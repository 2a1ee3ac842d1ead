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
use crate::runs::model::RunView;
use crate::runs::presenter;
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
    workspace_name: String,
    tenant: TenantId,
    tenant_name: String,
    run: Option<RunView>,
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
            (view.tenant_id.ok_or(AppError::NotFound)?, Some(view))
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
        workspace_name: access.workspace.workspace.name,
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
    r.failure_summary, u.email, r.created_at, COALESCE(r.attempt_started_at, r.created_at) AS attempt_at";

fn view_of(svc: &Services, r: &sqlx::any::AnyRow) -> AppResult<SupportRequestView> {
    let bad = |_| AppError::Internal;
    let handoff = r
        .try_get::<String, _>("handoff")?
        .parse::<Handoff>()
        .map_err(bad)?;
    let attempt_at: i64 = r.try_get("attempt_at")?;
    // The same conditions `claim` and `link_existing` write under.
    let open = match handoff {
        Handoff::Failed | Handoff::NotConfigured => true,
        Handoff::Pending => attempt_at <= svc.now() - PENDING_ABANDONED_AFTER_MS,
        Handoff::Created | Handoff::Linked => false,
    };
    Ok(SupportRequestView {
        can_retry: open && crate::support::desk::configured(svc).kind().is_some(),
        can_link: open,
        reference: r.try_get("reference")?,
        subject: r.try_get("subject")?,
        severity: r
            .try_get::<String, _>("severity")?
            .parse::<Severity>()
            .map_err(bad)?,
        handoff,
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
    view_of(svc, &row)
}

/// A request's fields as checked (each error names its field).
struct Checked {
    subject: String,
    description: String,
    contact: Option<String>,
    existing: Option<String>,
}

fn checked(form: &NewSupportRequest) -> AppResult<Checked> {
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
    Ok(Checked {
        subject,
        description,
        contact,
        existing,
    })
}

/// Saves a support request and hands it to the configured desk (or links an
/// existing ticket). The saved request survives every desk failure; the
/// returned view says which outcome happened.
#[tracing::instrument(name = "support.request", skip_all, fields(user_id = actor.user_id.0))]
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
    let Checked {
        subject,
        description,
        contact,
        existing,
    } = checked(&form)?;
    let handoff = match (&existing, crate::support::desk::configured(svc).kind()) {
        (Some(_), _) => Handoff::Linked,
        (None, None) => Handoff::NotConfigured,
        (None, Some(_)) => Handoff::Pending,
    };
    let reference = new_reference();
    let now = svc.now();
    let body = ticket_body(
        svc,
        &at,
        &TicketFacts {
            reference: &reference,
            description: &description,
            severity: form.severity,
            contact: contact.as_deref(),
        },
        now,
    );

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
            contact, requested_by, handoff, desk_kind, external_reference, created_at, finalized_at,
            ticket_body, attempt_started_at, handoff_attempts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id",
    )
    .bind(at.workspace.0)
    .bind(at.tenant.0)
    .bind(at.run.as_ref().map(|r| r.id.0))
    .bind(&reference)
    .bind(&subject)
    .bind(&description)
    .bind(form.severity.as_str())
    .bind(contact.as_deref())
    .bind(actor.user_id.0)
    .bind(handoff.as_str())
    .bind(crate::support::desk::configured(svc).kind())
    .bind(existing.as_deref())
    .bind(now)
    .bind((handoff != Handoff::Pending).then_some(now))
    .bind(&body)
    .bind((handoff == Handoff::Pending).then_some(now))
    .bind(i64::from(handoff == Handoff::Pending))
    .fetch_one(&mut **tx)
    .await?;
    let id = SupportRequestId(raw_id);
    let target = at.target(&reference);
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

    // 2. The desk, outside any transaction, within the hard limit; 3. one
    // bounded finalization write on the same row.
    let audit_at = AuditAt {
        workspace: at.workspace,
        tenant: at.tenant,
        target,
    };
    hand_off(svc, Some(actor), &audit_at, id, now, &subject, &body).await?;
    load(svc, id).await
}

impl Resolved {
    /// How audit entries name the request.
    fn target(&self, reference: &str) -> String {
        match &self.run {
            Some(r) => format!("{reference} for run #{} of {}", r.id, self.tenant_name),
            None => format!("{reference} for {}", self.tenant_name),
        }
    }
}

/// The parts of a ticket the operator wrote.
struct TicketFacts<'a> {
    reference: &'a str,
    description: &'a str,
    severity: Severity,
    contact: Option<&'a str>,
}

/// The desk ticket's text: the operator's words, then what Tenantry knows of
/// the context in its own words (status, reason and failure as the run page
/// says them; never a provider payload) and a link back.
fn ticket_body(svc: &Services, at: &Resolved, facts: &TicketFacts<'_>, now: i64) -> String {
    let mut lines = vec![
        facts.description.to_string(),
        String::new(),
        "-- From Tenantry --".to_string(),
        format!("Tenantry reference: {}", facts.reference),
        format!("Workspace: {}", at.workspace_name),
        format!("Tenant: {}", at.tenant_name),
    ];
    match &at.run {
        Some(run) => {
            lines.push(format!(
                "Operation: {} (run #{})",
                run.truth.op_type.label(),
                run.id
            ));
            lines.push(format!("Status: {}", presenter::headline(run, now).label));
            if let Some(reason) = run.reason {
                lines.push(format!("Reason: {}", reason.message()));
            }
            if let Some(failure) = run.failure_summary.as_deref() {
                lines.push(format!("What failed: {failure}"));
            }
            lines.push(format!(
                "Open the run in Tenantry: {}",
                svc.link(&presenter::run_link(run.id))
            ));
        }
        None => lines.push(format!(
            "Open the tenant in Tenantry: {}",
            svc.link(&format!("/admin/t/{}", at.tenant))
        )),
    }
    lines.push(format!("Severity: {}", facts.severity.as_str()));
    if let Some(c) = facts.contact {
        lines.push(format!("Contact: {c}"));
    }
    lines.join("\n")
}

/// Where a request's audit entries go, and how they name it.
struct AuditAt {
    workspace: WorkspaceId,
    tenant: TenantId,
    target: String,
}

/// Records one attempt's result: exactly one write, and only while this
/// attempt still owns the request (`attempt_started_at`), so a retry and the
/// sweep never both finalize. `actor` is `None` for the sweep (the system).
async fn finalize(
    svc: &Services,
    actor: Option<&Actor>,
    at: &AuditAt,
    id: SupportRequestId,
    attempt: i64,
    result: Result<DeskTicket, desk::DeskError>,
) -> AppResult<()> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let (updated, action, detail, outcome) = match result {
        Ok(t) => {
            let done = sqlx::query(
                "UPDATE support_requests SET handoff = 'created', external_id = $1, external_reference = $2,
                    external_url = $3, failure_summary = NULL, finalized_at = $4
                 WHERE id = $5 AND handoff = 'pending' AND attempt_started_at = $6",
            )
            .bind(t.external_id)
            .bind(&t.reference)
            .bind(t.url)
            .bind(now)
            .bind(id.0)
            .bind(attempt)
            .execute(&mut **tx)
            .await?;
            (
                done.rows_affected(),
                AuditAction::SupportHandedOff,
                t.reference,
                crate::views::AuditOutcome::Succeeded,
            )
        }
        Err(e) => {
            let summary = e.to_string();
            tracing::warn!(support_request = id.0, failure = %summary, "support desk handoff failed");
            let done = sqlx::query(
                "UPDATE support_requests SET handoff = 'failed', failure_summary = $1, finalized_at = $2
                 WHERE id = $3 AND handoff = 'pending' AND attempt_started_at = $4",
            )
            .bind(&summary)
            .bind(now)
            .bind(id.0)
            .bind(attempt)
            .execute(&mut **tx)
            .await?;
            (
                done.rows_affected(),
                AuditAction::SupportHandoffFailed,
                summary,
                crate::views::AuditOutcome::Failed,
            )
        }
    };
    metrics::counter!(
        crate::telemetry::SUPPORT_HANDOFFS,
        "outcome" => if action == AuditAction::SupportHandedOff { "created" } else { "failed" },
    )
    .increment(1);
    if updated == 1 {
        let entry = Entry {
            workspace: Some(at.workspace),
            tenant: Some(at.tenant),
            actor: actor.map(|a| a.user_id),
            actor_label: actor.map_or("system", |a| a.email.as_str()),
            action,
            target: at.target.clone(),
            outcome,
            detail: Some(detail),
        };
        audit::record(&mut tx, entry, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A pending handoff older than this is no longer in anyone's hands (the desk
/// call is bounded to 5 s; the process that made it stopped).
pub const PENDING_ABANDONED_AFTER_MS: i64 = 60_000;

/// Not with the desk and nobody's handoff under way: failed, saved without a
/// desk, or left pending past [`PENDING_ABANDONED_AFTER_MS`] (`$4` is now
/// minus that). `view_of` offers the follow-ups under the same rule.
const OPEN_FOR_FOLLOW_UP: &str = "(handoff IN ('failed', 'not_configured')
    OR (handoff = 'pending' AND COALESCE(attempt_started_at, created_at) <= $4))";

/// The request behind `reference`, with the 404/403 rules of its tenant.
async fn by_reference(
    svc: &Services,
    actor: &Actor,
    reference: &str,
    action: AuditAction,
) -> AppResult<(SupportRequestId, AuditAt)> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT id, tenant_id FROM support_requests WHERE reference = $1")
            .bind(reference.trim())
            .fetch_optional(&mut *svc.store.read().await?)
            .await?;
    let (id, tenant) = row.ok_or(AppError::NotFound)?;
    let access = access::tenant_for_change(
        svc,
        actor,
        TenantId(tenant),
        Capability::SupportRequest,
        action,
        reference.trim(),
    )
    .await?;
    Ok((
        SupportRequestId(id),
        AuditAt {
            workspace: access.workspace.id(),
            tenant: TenantId(tenant),
            target: format!("{} for {}", reference.trim(), access.tenant.display_name),
        },
    ))
}

/// Claims a request for a new handoff attempt when nobody holds it: it
/// failed, was saved while no desk was configured, or was left pending. One
/// conditional write, so two claims of the same request cannot both win.
/// Answers the attempt's stamp, or `None` when it is not claimable.
async fn claim(svc: &Services, id: SupportRequestId, now: i64) -> AppResult<Option<i64>> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE support_requests SET handoff = 'pending', attempt_started_at = $1,
            handoff_attempts = handoff_attempts + 1, desk_kind = $2, failure_summary = NULL, finalized_at = NULL
         WHERE id = $3 AND {OPEN_FOR_FOLLOW_UP}"
    )))
    .bind(now)
    .bind(crate::support::desk::configured(svc).kind())
    .bind(id.0)
    .bind(now - PENDING_ABANDONED_AFTER_MS)
    .execute(&mut *svc.store.write().await?)
    .await?;
    Ok((done.rows_affected() == 1).then_some(now))
}

/// Sends a claimed request again, with the words saved with it (rows saved
/// before the ticket text was stored send their description).
async fn attempt(
    svc: &Services,
    actor: Option<&Actor>,
    at: &AuditAt,
    id: SupportRequestId,
    stamp: i64,
) -> AppResult<()> {
    let (subject, description, body): (String, String, Option<String>) = sqlx::query_as(
        "SELECT subject, description, ticket_body FROM support_requests WHERE id = $1",
    )
    .bind(id.0)
    .fetch_one(&mut *svc.store.read().await?)
    .await?;
    let body = body.unwrap_or(description);
    hand_off(svc, actor, at, id, stamp, &subject, &body).await
}

/// The desk call, outside any transaction within its hard limit, then the
/// attempt's one finalization write.
async fn hand_off(
    svc: &Services,
    actor: Option<&Actor>,
    at: &AuditAt,
    id: SupportRequestId,
    stamp: i64,
    subject: &str,
    body: &str,
) -> AppResult<()> {
    let result = desk::create_ticket(
        &crate::support::desk::configured(svc),
        TicketRequest { subject, body },
    )
    .await;
    finalize(svc, actor, at, id, stamp, result).await
}

/// A follow-up on a request that is with the desk or being handed over.
fn handoff_under_way() -> AppError {
    AppError::Conflict {
        message: "This request is already with the desk, or a handoff is under way. Reload to see where it stands.".into(),
    }
}

/// "Retry the handoff": a request the desk did not take (or that was left
/// pending for over a minute) is sent again, same words, same limits.
#[tracing::instrument(name = "support.retry", skip_all, fields(user_id = actor.user_id.0))]
pub async fn retry(
    svc: &Services,
    actor: &Actor,
    reference: &str,
) -> AppResult<SupportRequestView> {
    let (id, at) = by_reference(svc, actor, reference, AuditAction::SupportRequested).await?;
    if crate::support::desk::configured(svc).kind().is_none() {
        return Err(AppError::Conflict {
            message: "No support desk is configured, so there is nothing to hand it to.".into(),
        });
    }
    let Some(stamp) = claim(svc, id, svc.now()).await? else {
        return Err(handoff_under_way());
    };
    attempt(svc, Some(actor), &at, id, stamp).await?;
    load(svc, id).await
}

/// Links a ticket the desk already has to a request it did not take.
pub async fn link_existing(
    svc: &Services,
    actor: &Actor,
    reference: &str,
    ticket: &str,
) -> AppResult<SupportRequestView> {
    let ticket = ticket_reference(ticket)?;
    let (id, at) = by_reference(svc, actor, reference, AuditAction::SupportLinked).await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE support_requests SET handoff = 'linked', external_reference = $1, external_id = NULL,
            external_url = NULL, failure_summary = NULL, finalized_at = $2
         WHERE id = $3 AND {OPEN_FOR_FOLLOW_UP}"
    )))
    .bind(&ticket)
    .bind(now)
    .bind(id.0)
    .bind(now - PENDING_ABANDONED_AFTER_MS)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(handoff_under_way());
    }
    audit::record(
        &mut tx,
        Entry::by_member(
            actor,
            at.workspace,
            Some(at.tenant),
            AuditAction::SupportLinked,
            at.target.clone(),
            Some(ticket),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    load(svc, id).await
}

/// Finishes requests a stopped process left `pending` for over a minute: each
/// is claimed (so a concurrent retry or another process's sweep skips it) and
/// handed off as the system, with the same 5 s limit. Bounded per beat.
pub async fn sweep_abandoned(svc: &Services) -> AppResult<u64> {
    if crate::support::desk::configured(svc).kind().is_none() {
        return Ok(0);
    }
    let now = svc.now();
    let rows: Vec<(i64, i64, i64, String, String)> = sqlx::query_as(
        "SELECT r.id, r.workspace_id, r.tenant_id, r.reference, t.display_name
         FROM support_requests r JOIN tenants t ON t.id = r.tenant_id
         WHERE r.handoff = 'pending' AND COALESCE(r.attempt_started_at, r.created_at) <= $1
         ORDER BY r.id LIMIT 20",
    )
    .bind(now - PENDING_ABANDONED_AFTER_MS)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut finished = 0;
    for (id, workspace, tenant, reference, tenant_name) in rows {
        let id = SupportRequestId(id);
        let Some(stamp) = claim(svc, id, svc.now()).await? else {
            continue;
        };
        let at = AuditAt {
            workspace: WorkspaceId(workspace),
            tenant: TenantId(tenant),
            target: format!("{reference} for {tenant_name}"),
        };
        attempt(svc, None, &at, id, stamp).await?;
        finished += 1;
    }
    Ok(finished)
}

/// The latest request of exactly this context (the tenant's own requests, or
/// the run's), for the slide-over; `None` when there is none yet.
pub async fn latest(
    svc: &Services,
    actor: &Actor,
    ctx: SupportContext,
) -> AppResult<Option<SupportRequestView>> {
    let at = resolve(svc, actor, ctx, Capability::SupportRequest, None).await?;
    let row = match at.run.as_ref().map(|r| r.id) {
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
    row.as_ref().map(|r| view_of(svc, r)).transpose()
}

/// The slide-over's first view: the latest request of this context and the desk.
pub async fn panel(
    svc: &Services,
    actor: &Actor,
    ctx: SupportContext,
) -> AppResult<super::SupportPanel> {
    Ok(super::SupportPanel {
        latest: latest(svc, actor, ctx).await?,
        desk: match crate::support::desk::configured(svc).kind() {
            Some("halopsa") => Some("HaloPSA".into()),
            Some(_) => Some("Request Tracker".into()),
            None => None,
        },
    })
}
