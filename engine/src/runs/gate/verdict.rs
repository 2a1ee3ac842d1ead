//! The gate's verdict: a pure function of one snapshot. No database, no
//! clock of its own: the same snapshot always gets the same answer, so the
//! single start, the batch of a bulk or fire, and readiness all decide alike.

use super::snapshot::{Connection, Snapshot, Tenant};
use super::{Initiator, StartRequest};
use crate::access;
use crate::error::AppError;
use crate::ids::{ProviderConnectionId, RunId};
use crate::runs::model::{
    OperationSpec, OperationType, Prerequisite, ReasonCode, ScopeKind, StartDecision, StartResult,
};

/// What a start would do, decided before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Not theirs (404) or not allowed (403, audited by the caller).
    Refuse(AppError),
    /// A prerequisite fails: recorded as a blocked run, nothing enqueued.
    Block(ReasonCode),
    /// The scope is held: by this operation (already running) or another.
    Occupied(RunId, OperationType),
    /// Admit it: a queued run.
    Admit,
}

/// The verdict for a start of `spec` by `initiator` on what `snap` holds;
/// `named_connection`: the request named a connection explicitly.
pub(super) fn verdict(
    spec: &OperationSpec,
    initiator: &Initiator<'_>,
    snap: &Snapshot,
    named_connection: bool,
    now: i64,
) -> Verdict {
    // Authorization before anything else: 404 for not yours, 403 for not allowed.
    if initiator.member_authorised()
        && let Err(e) = access::decide_tenant(snap.role, snap.assigned, spec.capability)
    {
        return Verdict::Refuse(e);
    }
    if named_connection && snap.connection.is_none() {
        // A connection named explicitly must exist on this tenant.
        return Verdict::Refuse(AppError::NotFound);
    }
    if let Some(reason) = first_blocker(spec, &snap.tenant, snap.connection.as_ref(), now) {
        return Verdict::Block(reason);
    }
    match snap.active {
        Some((run, holder)) => Verdict::Occupied(run, holder),
        None => Verdict::Admit,
    }
}

/// Why a start of this type would be blocked now: not available yet, or the
/// first failing prerequisite in the registry's order.
pub(super) fn first_blocker(
    spec: &OperationSpec,
    tenant: &Tenant,
    connection: Option<&Connection>,
    now: i64,
) -> Option<ReasonCode> {
    if !spec.available {
        return Some(ReasonCode::OperationUnavailable);
    }
    for p in spec.prerequisites {
        let blocked = match p {
            Prerequisite::TenantActive => (!tenant.active).then_some(ReasonCode::TenantInactive),
            Prerequisite::ConnectionEnabled => match connection {
                None => Some(ReasonCode::ConnectionMissing),
                Some(c) if !c.enabled => Some(ReasonCode::ConnectionDisabled),
                _ => None,
            },
            Prerequisite::ConsentGranted => match connection {
                Some(c) if !c.consent && c.consent_answered => Some(ReasonCode::ConsentUnconfirmed),
                Some(c) if !c.consent => Some(ReasonCode::ConsentMissing),
                _ => None,
            },
            Prerequisite::CredentialsValid => match connection {
                Some(c) if !c.has_credentials => Some(ReasonCode::CredentialsMissing),
                Some(c) if crate::runs::model::secret_expired(c.expires_at, now) => {
                    Some(ReasonCode::CredentialsExpired)
                }
                _ => None,
            },
        };
        if blocked.is_some() {
            return blocked;
        }
    }
    if spec.scope == ScopeKind::ProviderConnection && connection.is_none() {
        return Some(ReasonCode::ConnectionMissing);
    }
    None
}

/// The answer for an occupied scope: already running (same operation) or
/// scope busy (another holds it).
pub(super) fn occupied(
    request: &StartRequest,
    connection: Option<ProviderConnectionId>,
    run: RunId,
    holder: OperationType,
) -> StartResult {
    StartResult {
        decision: if holder == request.op_type {
            StartDecision::Deduped
        } else {
            StartDecision::ScopeBusy
        },
        run,
        op_type: request.op_type,
        tenant: request.tenant,
        connection,
        holder: Some(holder),
        reason: None,
    }
}
