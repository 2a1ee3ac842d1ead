//! The one start gate. Every operator-triggered start of provider-backed work
//! goes through [`StartGate::start`]: authorization first (404/403), then one
//! database transaction that checks prerequisites, dedupes, protects the
//! scope and admits the run. No remote call happens here.

//!
//! Rooms: `snapshot` reads everything a decision needs in one round trip,
//! `verdict` decides on it (pure), `write` is the one admission writer
//! (single starts, bulks and fires), `many` admits many tenants in
//! batches, `readiness` answers the dashboard's rows.

mod many;
mod readiness;
mod snapshot;
mod verdict;
mod write;

use super::model::{InitiatorKind, OperationType, Origin, StartDecision, StartResult};
use crate::access::Actor;
use crate::error::{AppError, AppResult};
use crate::ids::{ProviderConnectionId, RunId, TenantId, UserId};
use crate::services::Services;
use verdict::Verdict;

/// Who is starting the run.
#[derive(Debug, Clone, Copy)]
pub enum Initiator<'a> {
    User(&'a Actor),
    /// A member starting one operation on many tenants: authorised and
    /// recorded per tenant exactly as `User`; the bulk as a whole is
    /// rate-limited (not each blocked start) and notifies once.
    Bulk(&'a Actor),
    /// A schedule: authorised by configuration, never notified.
    Schedule,
    /// The system itself (e.g. onboarding follow-ups): never notified.
    System,
    /// The system on a platform operator's word (system-plane *run again*):
    /// authorised by the system plane, recorded and audited with the
    /// operator as actor, pointing at the run it repeats; never notified.
    Platform {
        operator: &'a Actor,
        rerun_of: RunId,
    },
}

impl Initiator<'_> {
    fn kind(&self) -> InitiatorKind {
        match self {
            Initiator::User(_) | Initiator::Bulk(_) => InitiatorKind::User,
            Initiator::Schedule => InitiatorKind::Schedule,
            Initiator::System | Initiator::Platform { .. } => InitiatorKind::System,
        }
    }
    /// The member whose membership authorises the start.
    fn member(&self) -> Option<UserId> {
        match self {
            Initiator::User(a) | Initiator::Bulk(a) => Some(a.user_id),
            _ => None,
        }
    }
    /// Whether each blocked start counts against the member's limit (one
    /// click, one start); a bulk is limited as a whole.
    fn limited(&self) -> bool {
        matches!(self, Initiator::User(_))
    }
    /// The person recorded on the run and its audit entries.
    fn user(&self) -> Option<UserId> {
        match self {
            Initiator::User(a) | Initiator::Bulk(a) | Initiator::Platform { operator: a, .. } => {
                Some(a.user_id)
            }
            _ => None,
        }
    }
    fn label(&self) -> &str {
        match self {
            Initiator::User(a) | Initiator::Bulk(a) | Initiator::Platform { operator: a, .. } => {
                &a.email
            }
            Initiator::Schedule => "schedule",
            Initiator::System => "system",
        }
    }
    fn rerun_of(&self) -> Option<RunId> {
        match self {
            Initiator::Platform { rerun_of, .. } => Some(*rerun_of),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StartRequest {
    pub tenant: TenantId,
    pub op_type: OperationType,
    /// A specific connection; by default the tenant's default connection.
    pub connection: Option<ProviderConnectionId>,
    /// Operation-specific arguments, stored in the run context.
    pub args: serde_json::Value,
}

pub struct StartGate;

/// An `args` key: `true` when the run is one step of a larger flow that tells
/// its initiator itself when the flow ends (one notification per flow, not
/// one per run). The run engine only honours it.
pub const FLOW_NOTIFIES: &str = "flow_notifies";

/// An `args` key: the earliest time (ms) a worker may pick the run up, so a
/// start for hundreds of tenants is admitted at once (every gate rule checked
/// now, the scope held) and executed spread out. At most an hour ahead.
pub const NOT_BEFORE: &str = "not_before";

fn not_before(args: &serde_json::Value, now: i64) -> i64 {
    args.get(NOT_BEFORE)
        .and_then(|v| v.as_i64())
        .map_or(now, |t| t.clamp(now, now + 3_600_000))
}

impl Initiator<'_> {
    /// Whether the start is authorised by the member's own role (404/403).
    fn member_authorised(&self) -> bool {
        matches!(self, Initiator::User(_) | Initiator::Bulk(_))
    }
}

impl StartGate {
    /// Decides a start: `Accepted` (queued), `Deduped` (already running),
    /// `ScopeBusy` or `Blocked` (recorded, nothing enqueued).
    #[tracing::instrument(name = "gate.start", skip_all, fields(op_type = request.op_type.as_str(), initiator = initiator.kind().as_str()))]
    pub async fn start(
        svc: &Services,
        initiator: Initiator<'_>,
        request: StartRequest,
    ) -> AppResult<StartResult> {
        Self::start_from(svc, initiator, request, None).await
    }

    /// [`StartGate::start`] for a run admitted as part of `origin` (written
    /// with the run, in the same statement).
    async fn start_from(
        svc: &Services,
        initiator: Initiator<'_>,
        request: StartRequest,
        origin: Option<Origin>,
    ) -> AppResult<StartResult> {
        let op = request.op_type;
        let result = Self::decide(svc, initiator, request, origin).await;
        count_start(op, &result);
        if matches!(&result, Ok(r) if matches!(r.decision, StartDecision::Accepted | StartDecision::Blocked))
        {
            // A crash here leaves a committed run its origin has not recorded.
            svc.failpoint("gate.after_admission")?;
        }
        result
    }

    /// Read, decide, write: one snapshot, its verdict, the writer. A scope
    /// freed between the read and the insert is read again (three times).
    async fn decide(
        svc: &Services,
        initiator: Initiator<'_>,
        request: StartRequest,
        origin: Option<Origin>,
    ) -> AppResult<StartResult> {
        let spec = request.op_type.spec();
        let now = svc.now();
        for _ in 0..3 {
            let mut session = write::Session::open(svc).await?;
            let snap = snapshot::snapshot(session.conn(), &request, initiator.member(), spec.scope)
                .await?;
            let named = request.connection.is_some();
            match verdict::verdict(spec, &initiator, &snap, named, now) {
                Verdict::Refuse(e) => {
                    if e == AppError::Forbidden {
                        write::audit_refusal(session, &initiator, &request, &snap, now).await?;
                    }
                    return Err(e);
                }
                Verdict::Block(reason) => {
                    return write::blocked(
                        svc, session, &initiator, &request, &snap, reason, origin, now,
                    )
                    .await;
                }
                Verdict::Occupied(run, holder) => {
                    session.finish().await?;
                    let connection = snap.connection.as_ref().map(|c| c.id);
                    return Ok(verdict::occupied(&request, connection, run, holder));
                }
                Verdict::Admit => {
                    let admitted =
                        write::queued(svc, session, &initiator, &request, &snap, origin, now)
                            .await?;
                    if let Some(result) = admitted {
                        return Ok(result);
                    }
                }
            }
        }
        Err(AppError::conflict(
            "The operation's scope kept changing; try again.",
        ))
    }
}

/// `tenantry_runs_started_total` by operation and result.
fn count_start(op: OperationType, result: &AppResult<StartResult>) {
    let decision = match result {
        Ok(r) => r.decision.word(),
        Err(AppError::Forbidden | AppError::NotFound) => "refused",
        Err(_) => "error",
    };
    metrics::counter!(crate::telemetry::RUNS_STARTED, "op_type" => op.as_str(), "result" => decision)
        .increment(1);
}

/// A tenant's start in a batch: decided (started, joined, blocked) or gone
/// (404/403: nothing started, the caller records it), else the batch stops
/// there, as a crash would (the store is down, a failpoint was reached).
fn stop_unless_settled(result: AppResult<StartResult>) -> AppResult<AppResult<StartResult>> {
    match result {
        Ok(r) => Ok(Ok(r)),
        Err(e @ (AppError::NotFound | AppError::Forbidden)) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}
