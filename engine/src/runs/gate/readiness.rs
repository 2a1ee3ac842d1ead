//! What each operation would do if started now: the readiness rows of a
//! tenant's dashboard, from the same snapshot and verdict as a start.

use super::StartGate;
use super::StartRequest;
use super::snapshot::snapshot;
use super::verdict::first_blocker;
use crate::access::{self, Actor};
use crate::error::AppResult;
use crate::ids::TenantId;
use crate::runs::model::{OperationType, ScopeKind};
use crate::services::Services;

impl StartGate {
    /// What each tenant operation would do if started now, from the database
    /// only (the same snapshot and prerequisite order as [`StartGate::start`]).
    pub async fn readiness(
        svc: &Services,
        actor: &Actor,
        tenant: TenantId,
        operations: &[OperationType],
    ) -> AppResult<Vec<crate::runs::model::Readiness>> {
        use crate::runs::model::{Readiness, ReadinessState};
        let request = StartRequest {
            tenant,
            // The snapshot reads the tenant and its connection, never the type.
            op_type: operations
                .first()
                .copied()
                .unwrap_or(crate::runs::probe::MACHINERY_PROBE),
            connection: None,
            args: serde_json::Value::Null,
        };
        let mut conn = svc.store.read().await?;
        let snap = snapshot(
            &mut conn,
            &request,
            Some(actor.user_id),
            ScopeKind::ProviderConnection,
        )
        .await?;
        let role = access::decide_tenant(
            snap.role,
            snap.assigned,
            crate::rbac::Capability::TenantView,
        )?;
        let now = svc.now();
        Ok(operations
            .iter()
            .map(|op| {
                let spec = op.spec();
                let blocker = first_blocker(spec, &snap.tenant, snap.connection.as_ref(), now);
                let state = match (blocker, snap.active) {
                    (Some(reason), _) => ReadinessState::Blocked { reason },
                    (None, Some((run, holder))) if holder == *op => ReadinessState::Running { run },
                    (None, Some((run, holder))) => ReadinessState::Busy { run, holder },
                    (None, None) => ReadinessState::Ready,
                };
                let allowed = role.can(spec.capability);
                let next_steps = match &state {
                    ReadinessState::Blocked { reason } => crate::runs::next_steps::resolve(
                        *reason,
                        &crate::runs::next_steps::StepContext {
                            tenant: Some(tenant),
                            connection: snap.connection.as_ref().map(|c| c.id),
                            running: None,
                        },
                    ),
                    _ => vec![],
                };
                Readiness {
                    op_type: *op,
                    state,
                    allowed,
                    next_steps,
                    not_offered: (!allowed).then(|| {
                        format!(
                            "Not offered: the {} role cannot start {}.",
                            role.label(),
                            op.label().to_lowercase()
                        )
                    }),
                }
            })
            .collect())
    }
}
