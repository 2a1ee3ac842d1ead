//! Drafts, the wizard's steps and the bootstrap sequencer.

use super::{
    BOOTSTRAP_OPERATIONS, BootstrapEntry, DraftRow, DraftView, OnboardingList, Step, StepRun,
};
use crate::access::{self, Actor};
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{OnboardingDraftId, ProviderConnectionId, RunId, TenantId, WorkspaceId};
use crate::provider::connections::{self, NewConnection};
use crate::rbac::Capability;
use crate::runs::gate::{Initiator, StartGate, StartRequest};
use crate::runs::model::{OperationType, RunOutcome, StartDecision, StartResult};
use crate::runs::presenter;
use crate::runs::service::{ClaimedRun, RunService};
use crate::services::Services;
use crate::views::{AuditAction, AuditOutcome};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// How long one advancer holds a draft; a crash frees it after this.
const ADVANCE_LEASE_MS: i64 = 30_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Started {
    op: OperationType,
    run: i64,
}

struct Draft {
    id: i64,
    workspace: WorkspaceId,
    created_by: Option<String>,
    tenant: Option<(TenantId, String, String)>,
    connection: Option<(ProviderConnectionId, String)>,
    verification_run: Option<RunId>,
    /// The verification run ended with a usable report (succeeded or partly).
    verified: bool,
    status: String,
    selected: Vec<OperationType>,
    pending: Vec<OperationType>,
    runs: Vec<Started>,
    waiting_on: Option<RunId>,
    stopped_reason: Option<String>,
    updated_at: i64,
}

const SELECT: &str = "SELECT d.id, d.workspace_id, u.email, d.tenant_id, t.display_name AS tenant_name,
        t.microsoft_tenant_id, d.connection_id, c.display_name AS connection_name, d.verification_run_id,
        d.status, d.selected, d.pending, d.runs, d.waiting_on, d.stopped_reason, d.updated_at,
        v.status AS verification_status, v.outcome AS verification_outcome
     FROM onboarding_drafts d
     LEFT JOIN operation_runs v ON v.id = d.verification_run_id
     LEFT JOIN users u ON u.id = d.created_by
     LEFT JOIN tenants t ON t.id = d.tenant_id
     LEFT JOIN provider_connections c ON c.id = d.connection_id";

fn json_list<T: serde::de::DeserializeOwned>(s: &str) -> Vec<T> {
    serde_json::from_str(s).unwrap_or_default()
}

fn draft_of(r: &sqlx::any::AnyRow) -> AppResult<Draft> {
    let tenant = match r.try_get::<Option<i64>, _>("tenant_id")? {
        Some(t) => Some((
            TenantId(t),
            r.try_get::<Option<String>, _>("tenant_name")?
                .unwrap_or_default(),
            r.try_get::<Option<String>, _>("microsoft_tenant_id")?
                .unwrap_or_default(),
        )),
        None => None,
    };
    let connection = match r.try_get::<Option<i64>, _>("connection_id")? {
        Some(c) => Some((
            ProviderConnectionId(c),
            r.try_get::<Option<String>, _>("connection_name")?
                .unwrap_or_default(),
        )),
        None => None,
    };
    Ok(Draft {
        id: r.try_get("id")?,
        workspace: WorkspaceId(r.try_get("workspace_id")?),
        created_by: r.try_get("email")?,
        tenant,
        connection,
        verification_run: r
            .try_get::<Option<i64>, _>("verification_run_id")?
            .map(RunId),
        verified: r
            .try_get::<Option<String>, _>("verification_status")?
            .as_deref()
            == Some("completed")
            && matches!(
                r.try_get::<Option<String>, _>("verification_outcome")?
                    .as_deref(),
                Some("succeeded" | "partially_succeeded")
            ),
        status: r.try_get("status")?,
        selected: json_list(&r.try_get::<String, _>("selected")?),
        pending: json_list(&r.try_get::<String, _>("pending")?),
        runs: json_list(&r.try_get::<String, _>("runs")?),
        waiting_on: r.try_get::<Option<i64>, _>("waiting_on")?.map(RunId),
        stopped_reason: r.try_get("stopped_reason")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn load(svc: &Services, id: i64) -> AppResult<Option<Draft>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(&*format!("{SELECT} WHERE d.id = $1")))
        .bind(id)
        .fetch_optional(&mut *svc.store.read().await?)
        .await?;
    row.map(|r| draft_of(&r)).transpose()
}

/// 404 unless the draft is in a workspace the actor belongs to; 403
/// without `tenant.manage`.
async fn guard(svc: &Services, actor: &Actor, id: i64) -> AppResult<Draft> {
    let d = load(svc, id).await?.ok_or(AppError::NotFound)?;
    access::workspace(svc, actor, d.workspace, Capability::TenantManage).await?;
    Ok(d)
}

/// [`guard`] for a change to the draft: a refusal is audited.
async fn guard_change(
    svc: &Services,
    actor: &Actor,
    id: i64,
    action: AuditAction,
) -> AppResult<Draft> {
    let d = load(svc, id).await?.ok_or(AppError::NotFound)?;
    access::workspace_for_change(
        svc,
        actor,
        d.workspace,
        Capability::TenantManage,
        action,
        format!("Onboarding draft #{id}"),
    )
    .await?;
    Ok(d)
}

async fn step_run(svc: &Services, run: RunId) -> AppResult<Option<StepRun>> {
    let Some(view) = RunService::load(svc, run).await? else {
        return Ok(None);
    };
    let now = svc.now();
    Ok(Some(StepRun {
        run,
        headline: presenter::headline(&view, now),
        active: view.truth.is_active(),
        usable: matches!(
            view.truth.outcome,
            RunOutcome::Succeeded | RunOutcome::PartiallySucceeded
        ),
        reason: view
            .failure_summary
            .clone()
            .or_else(|| view.reason.map(|r| r.message().to_string())),
    }))
}

fn step_of(d: &Draft) -> Step {
    if d.status == "completed" {
        Step::Done
    } else if d.status == "bootstrapping" {
        Step::Bootstrap
    } else if d.tenant.is_none() {
        Step::Tenant
    } else if d.connection.is_none() {
        Step::Connection
    } else if d.verified {
        Step::Choose
    } else {
        Step::Verify
    }
}

async fn view(svc: &Services, d: Draft) -> AppResult<DraftView> {
    let verification = match d.verification_run {
        Some(r) => step_run(svc, r).await?,
        None => None,
    };
    let mut entries = Vec::new();
    for op in &d.selected {
        let run = match d.runs.iter().find(|s| s.op == *op) {
            Some(s) => step_run(svc, RunId(s.run)).await?,
            None => None,
        };
        entries.push(BootstrapEntry { op: *op, run });
    }
    Ok(DraftView {
        id: OnboardingDraftId(d.id),
        workspace: d.workspace,
        step: step_of(&d),
        discarded: d.status == "discarded",
        tenant: d.tenant,
        connection: d.connection,
        verification,
        entries,
        waiting_on: d.waiting_on,
        stopped: d.stopped_reason,
        created_by: d.created_by,
        updated_at: d.updated_at,
    })
}

/// The current workspace's drafts: open ones to resume, then finished ones.
pub async fn list(svc: &Services, actor: &Actor) -> AppResult<Option<OnboardingList>> {
    let Some(access) = access::current_workspace_with(svc, actor, Capability::TenantManage).await?
    else {
        return Ok(None);
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(&*format!(
        "{SELECT} WHERE d.workspace_id = $1 AND d.status <> 'discarded' ORDER BY d.updated_at DESC, d.id DESC LIMIT 100"
    )))
    .bind(access.id().0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut open = Vec::new();
    let mut finished = Vec::new();
    for r in &rows {
        let d = draft_of(r)?;
        let row = DraftRow {
            id: OnboardingDraftId(d.id),
            tenant_name: d.tenant.as_ref().map(|t| t.1.clone()),
            step: step_of(&d),
            updated_at: d.updated_at,
            created_by: d.created_by.clone(),
        };
        if row.step == Step::Done {
            finished.push(row);
        } else {
            open.push(row);
        }
    }
    Ok(Some(OnboardingList {
        workspace: access.workspace,
        open,
        finished,
    }))
}

/// Step 1: creates the tenant (audited like any tenant) and its draft.
pub async fn start(
    svc: &Services,
    actor: &Actor,
    workspace: WorkspaceId,
    display_name: &str,
    microsoft_tenant_id: &str,
) -> AppResult<OnboardingDraftId> {
    let tenant =
        crate::tenants::create(svc, actor, workspace, display_name, microsoft_tenant_id).await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO onboarding_drafts (workspace_id, created_by, tenant_id, status, created_at, updated_at)
         VALUES ($1, $2, $3, 'open', $4, $4) RETURNING id",
    )
    .bind(workspace.0)
    .bind(actor.user_id.0)
    .bind(tenant.0)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    audit::record(
        &mut tx,
        Entry {
            workspace: Some(workspace),
            tenant: Some(tenant),
            actor: Some(actor.user_id),
            actor_label: &actor.email,
            action: AuditAction::OnboardingDraftSaved,
            target: format!("Onboarding #{id} ({})", display_name.trim()),
            outcome: AuditOutcome::Succeeded,
            detail: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(OnboardingDraftId(id))
}

pub async fn draft(svc: &Services, actor: &Actor, id: OnboardingDraftId) -> AppResult<DraftView> {
    let id = id.0;
    let d = guard(svc, actor, id).await?;
    view(svc, d).await
}

fn open_draft(d: &Draft) -> AppResult<(TenantId, String)> {
    if d.status != "open" {
        return Err(AppError::conflict(
            "This onboarding has moved past this step.",
        ));
    }
    let (tenant, name, _) = d.tenant.clone().ok_or(AppError::NotFound)?;
    Ok((tenant, name))
}

async fn touch(svc: &Services, id: i64, set: &str, bind: Option<i64>) -> AppResult<()> {
    sqlx::query(sqlx::AssertSqlSafe(&*format!(
        "UPDATE onboarding_drafts SET {set} = $2, updated_at = $3 WHERE id = $1"
    )))
    .bind(id)
    .bind(bind)
    .bind(svc.now())
    .execute(&mut *svc.store.write().await?)
    .await?;
    Ok(())
}

/// Step 2: the tenant's provider connection (sealed secret, audited).
pub async fn add_connection(
    svc: &Services,
    actor: &Actor,
    id: OnboardingDraftId,
    input: NewConnection<'_>,
) -> AppResult<()> {
    let id = id.0;
    let d = guard_change(svc, actor, id, AuditAction::OnboardingDraftSaved).await?;
    let (tenant, _) = open_draft(&d)?;
    if d.connection.is_some() {
        return Err(AppError::conflict(
            "This onboarding already has a provider connection.",
        ));
    }
    let connection = connections::create(svc, actor, tenant, input).await?;
    touch(svc, id, "connection_id", Some(connection.0)).await
}

/// Step 3: tenant verification through the gate, pinned to the draft's connection.
pub async fn verify(
    svc: &Services,
    actor: &Actor,
    id: OnboardingDraftId,
) -> AppResult<StartResult> {
    let id = id.0;
    let d = guard_change(svc, actor, id, AuditAction::OperationRefused).await?;
    let (tenant, _) = open_draft(&d)?;
    let (connection, _) = d
        .connection
        .clone()
        .ok_or_else(|| AppError::conflict("Add the provider connection before verifying."))?;
    let result = StartGate::start(
        svc,
        Initiator::User(actor),
        StartRequest {
            tenant,
            op_type: crate::onboarding::ONBOARDING_VERIFICATION,
            connection: Some(connection),
            args: serde_json::json!({ "onboarding_draft": id }),
        },
    )
    .await?;
    if result.decision != StartDecision::ScopeBusy {
        touch(svc, id, "verification_run_id", Some(result.run.0)).await?;
    }
    Ok(result)
}

/// Steps 4–5: saves the chosen operations in the draft and starts the first.
pub async fn bootstrap(
    svc: &Services,
    actor: &Actor,
    id: OnboardingDraftId,
    chosen: &[OperationType],
) -> AppResult<StartResult> {
    let id = id.0;
    let d = guard_change(svc, actor, id, AuditAction::OnboardingBootstrapStarted).await?;
    let (tenant, _) = open_draft(&d)?;
    if !d.verified {
        return Err(AppError::conflict(
            "Verify the tenant successfully before the bootstrap.",
        ));
    }
    let ops: Vec<OperationType> = BOOTSTRAP_OPERATIONS
        .into_iter()
        .filter(|o| chosen.contains(o))
        .collect();
    if ops.is_empty() {
        return Err(AppError::invalid(
            "operations",
            "Choose at least one operation for the bootstrap.",
        ));
    }
    let list = serde_json::to_string(&ops).map_err(|_| AppError::Internal)?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let moved = sqlx::query(
        "UPDATE onboarding_drafts SET status = 'bootstrapping', selected = $2, pending = $2, runs = '[]',
            updated_at = $3, bootstrapped_by = $4 WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(&list)
    .bind(now)
    .bind(actor.user_id.0)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(AppError::conflict("The bootstrap has already started."));
    }
    audit::record(
        &mut tx,
        Entry {
            workspace: Some(d.workspace),
            tenant: Some(tenant),
            actor: Some(actor.user_id),
            actor_label: &actor.email,
            action: AuditAction::OnboardingBootstrapStarted,
            target: format!("Onboarding #{id}"),
            outcome: AuditOutcome::Succeeded,
            detail: Some(
                ops.iter()
                    .map(|o| o.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    advance(svc, id, Some(actor))
        .await?
        .ok_or_else(|| AppError::conflict("The bootstrap is already starting; reload the page."))
}

/// Discards a draft (the tenant and connection it created stay).
pub async fn discard(svc: &Services, actor: &Actor, id: OnboardingDraftId) -> AppResult<()> {
    let id = id.0;
    let d = guard_change(svc, actor, id, AuditAction::OnboardingDraftSaved).await?;
    if d.status == "completed" {
        return Err(AppError::conflict(
            "A finished onboarding cannot be discarded.",
        ));
    }
    sqlx::query(
        "UPDATE onboarding_drafts SET status = 'discarded', pending = '[]', updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(svc.now())
    .execute(&mut *svc.store.write().await?)
    .await?;
    Ok(())
}

/// Starts the draft's next bootstrap operation when the previous one has
/// ended: at most one accepted run at a time (the gate's scope holds the
/// connection; the claim keeps two advancers from racing on the draft). A
/// blocked start is recorded and the next one is tried; a busy connection
/// is waited for. Returns the first start it made.
pub async fn advance(
    svc: &Services,
    id: i64,
    mut by: Option<&Actor>,
) -> AppResult<Option<StartResult>> {
    let mut first = None;
    // Each turn holds the lease; a run that ends meanwhile (its hook finds
    // the lease taken) asks for one more turn instead of being lost.
    loop {
        let now = svc.now();
        let claimed = sqlx::query(
            "UPDATE onboarding_drafts SET advancing_until = $2, advance_again = 0
             WHERE id = $1 AND status = 'bootstrapping' AND (advancing_until IS NULL OR advancing_until < $3)",
        )
        .bind(id)
        .bind(now + ADVANCE_LEASE_MS)
        .bind(now)
        .execute(&mut *svc.store.write().await?)
        .await?
        .rows_affected();
        if claimed == 0 {
            // Someone holds the lease: leave them a note. If they released it
            // in between, the note finds no holder and we try the claim again.
            let noted = sqlx::query(
                "UPDATE onboarding_drafts SET advance_again = 1
                 WHERE id = $1 AND status = 'bootstrapping' AND advancing_until IS NOT NULL AND advancing_until >= $2",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *svc.store.write().await?)
            .await?
            .rows_affected();
            let still_bootstrapping: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM onboarding_drafts WHERE id = $1 AND status = 'bootstrapping'",
            )
            .bind(id)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?;
            if noted == 1 || still_bootstrapping.is_none() {
                return Ok(first);
            }
            continue;
        }
        let result = advance_claimed(svc, id, by).await;
        // Release and read the note in one statement, so a note left before
        // the release is always seen.
        let again: Option<(i64,)> = sqlx::query_as(
            "UPDATE onboarding_drafts SET advancing_until = NULL WHERE id = $1 RETURNING advance_again",
        )
        .bind(id)
        .fetch_optional(&mut *svc.store.write().await?)
        .await?;
        let started = result?;
        if first.is_none() {
            first = started;
            by = None;
        }
        let asked_again = again.is_some_and(|(a,)| a == 1);
        if !asked_again {
            return Ok(first);
        }
    }
}

async fn advance_claimed(
    svc: &Services,
    id: i64,
    mut by: Option<&Actor>,
) -> AppResult<Option<StartResult>> {
    let mut first = None;
    for _ in 0..=BOOTSTRAP_OPERATIONS.len() {
        let Some(mut d) = load(svc, id).await? else {
            break;
        };
        if let Some(last) = d.runs.last()
            && step_run(svc, RunId(last.run))
                .await?
                .is_some_and(|r| r.active)
        {
            break;
        }
        let (Some((tenant, _, _)), Some((connection, _))) =
            (d.tenant.clone(), d.connection.clone())
        else {
            // The connection (or the tenant) was deleted mid-bootstrap: nothing
            // more can start, so end the draft and say why instead of leaving
            // it "waiting" for ever.
            let reason = if d.tenant.is_none() {
                "The tenant was removed before every operation started."
            } else {
                "The provider connection was deleted before every operation started."
            };
            finish(svc, &d, Some(reason)).await?;
            break;
        };
        if d.pending.is_empty() {
            finish(svc, &d, None).await?;
            break;
        }
        let op = d.pending[0];
        let initiator = match by {
            Some(actor) => Initiator::User(actor),
            None => Initiator::System,
        };
        // The bootstrap tells its starter once, when it ends.
        let mut args = serde_json::json!({ "onboarding_draft": id });
        args[crate::runs::gate::FLOW_NOTIFIES] = serde_json::Value::Bool(true);
        let result = StartGate::start(
            svc,
            initiator,
            StartRequest {
                tenant,
                op_type: op,
                connection: Some(connection),
                args,
            },
        )
        .await?;
        by = None;
        let busy = result.decision == StartDecision::ScopeBusy;
        if busy {
            d.waiting_on = Some(result.run);
        } else {
            d.pending.remove(0);
            d.runs.push(Started {
                op,
                run: result.run.0,
            });
            d.waiting_on = None;
        }
        sqlx::query(
            "UPDATE onboarding_drafts SET pending = $2, runs = $3, waiting_on = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(serde_json::to_string(&d.pending).map_err(|_| AppError::Internal)?)
        .bind(serde_json::to_string(&d.runs).map_err(|_| AppError::Internal)?)
        .bind(d.waiting_on.map(|r| r.0))
        .bind(svc.now())
        .execute(&mut *svc.store.write().await?)
        .await?;
        let decision = result.decision;
        first.get_or_insert(result);
        // A blocked start ended at once: try the next operation now.
        if decision != StartDecision::Blocked {
            break;
        }
    }
    Ok(first)
}

/// Ends a bootstrap (every chosen operation ran, or `stopped` says why not)
/// and, in the same transaction, tells the member who started it: one
/// notification with the counts and the link. Only the write that ends it
/// notifies, so concurrent advancers cannot send two.
async fn finish(svc: &Services, d: &Draft, stopped: Option<&str>) -> AppResult<()> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let ended = sqlx::query(
        "UPDATE onboarding_drafts SET status = 'completed', pending = '[]',
            waiting_on = NULL, stopped_reason = $2, updated_at = $3
         WHERE id = $1 AND status = 'bootstrapping'",
    )
    .bind(d.id)
    .bind(stopped)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if ended == 1 {
        let (by,): (Option<i64>,) =
            sqlx::query_as("SELECT bootstrapped_by FROM onboarding_drafts WHERE id = $1")
                .bind(d.id)
                .fetch_one(&mut **tx)
                .await?;
        if let Some(user) = by {
            let mut outcomes = Vec::new();
            for started in &d.runs {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT outcome FROM operation_runs WHERE id = $1")
                        .bind(started.run)
                        .fetch_optional(&mut **tx)
                        .await?;
                if let Some((o,)) = row
                    && let Ok(o) = o.parse::<crate::runs::RunOutcome>()
                {
                    outcomes.push(o);
                }
            }
            let tenant = d
                .tenant
                .as_ref()
                .map_or_else(|| format!("draft #{}", d.id), |t| t.1.clone());
            let words = completion_words(&tenant, &outcomes, stopped);
            crate::notifications::insert(
                &mut tx,
                crate::notifications::NewNotification {
                    user: crate::ids::UserId(user),
                    workspace: d.workspace,
                    run: None,
                    tone: words.tone,
                    title: &words.title,
                    body: &words.body,
                    link: &format!("/admin/onboarding/{}", d.id),
                    next_steps: &[],
                },
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// What the end-of-bootstrap notification says.
struct CompletionWords {
    tone: crate::runs::presenter::Tone,
    title: String,
    body: String,
}

/// "Onboarding of Fabrikam finished" with the runs counted by outcome.
fn completion_words(
    tenant: &str,
    outcomes: &[crate::runs::RunOutcome],
    stopped: Option<&str>,
) -> CompletionWords {
    use crate::runs::RunOutcome as O;
    use crate::runs::presenter::Tone;
    let count = |want: &[O]| outcomes.iter().filter(|o| want.contains(o)).count();
    let succeeded = count(&[O::Succeeded]);
    let partly = count(&[O::PartiallySucceeded]);
    let failed = count(&[O::Failed, O::Blocked]);
    let cancelled = count(&[O::Cancelled]);
    let mut parts = vec![format!("{succeeded} succeeded")];
    if partly > 0 {
        parts.push(format!("{partly} partially succeeded"));
    }
    if failed > 0 {
        parts.push(format!("{failed} failed or blocked"));
    }
    if cancelled > 0 {
        parts.push(format!("{cancelled} cancelled"));
    }
    let n = outcomes.len();
    let ran = format!(
        "{n} operation{} ran: {}.",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    );
    let (title, body, tone) = match stopped {
        Some(why) => (
            format!("Onboarding of {tenant} stopped"),
            format!("{why} {ran}"),
            Tone::Warning,
        ),
        None => (
            format!("Onboarding of {tenant} finished"),
            ran,
            if failed > 0 {
                Tone::Danger
            } else if partly > 0 || cancelled > 0 {
                Tone::Warning
            } else {
                Tone::Success
            },
        ),
    };
    CompletionWords { tone, title, body }
}

/// The worker's completion hook: a run of a draft ended, start the next.
pub async fn after_run(svc: &Services, run: &ClaimedRun) {
    let Some(id) = run
        .args
        .get("onboarding_draft")
        .and_then(serde_json::Value::as_i64)
    else {
        return;
    };
    if let Err(e) = advance(svc, id, None).await {
        tracing::warn!(draft = id, error = %e, "onboarding could not start its next operation");
    }
}

/// The periodic sweep: advances every bootstrapping draft (covers runs that
/// ended without the hook — a restart, a cancellation, a busy connection).
pub async fn advance_due(svc: &Services) -> AppResult<u64> {
    let ids: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM onboarding_drafts WHERE status = 'bootstrapping' ORDER BY id LIMIT 200",
    )
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut started = 0;
    for (id,) in ids {
        if advance(svc, id, None).await?.is_some() {
            started += 1;
        }
    }
    Ok(started)
}
