//! The writes of a restore run. Reads the tenant's live policies once per
//! kind, then per item: unchanged (nothing written), PATCH of the settings
//! that differ, or POST when the policy is gone. A policy is matched by id,
//! else by name and type — so a re-run after a create finds what it created
//! and writes nothing: restore is safe to run again.

use super::service::{StoredPolicy, policies_of};
use super::{ItemAction, PolicyKind, diff};
use crate::audit::{self, Entry};
use crate::error::AppResult;
use crate::ids::TenantId;
use crate::provider::graph::{ApiVersion, AppCredentials, GraphError};
use crate::runs::handlers::RunContext;
use crate::runs::model::{ReasonCode, RunOutcome, SummaryCounts};
use crate::runs::service::Completion;
use crate::views::{AuditAction, AuditOutcome};
use serde_json::{Map, Value};

fn version(kind: PolicyKind) -> ApiVersion {
    match kind {
        PolicyKind::DeviceConfiguration => ApiVersion::Beta,
        PolicyKind::CompliancePolicy => ApiVersion::V1,
    }
}

struct Outcome {
    policy: StoredPolicy,
    action: ItemAction,
    detail: String,
    written_id: Option<String>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Runs a restore. `Err` only when the tenant's live policies could not be
/// read at all (then nothing was written).
/// The restore handler: opens the pinned connection (provider's helper) and
/// writes what differs.
pub struct RestoreExecute;

impl crate::runs::handlers::Handler for RestoreExecute {
    fn run(&self, ctx: RunContext) -> crate::runs::handlers::BoxFuture<Completion> {
        Box::pin(async move {
            use crate::provider::handlers::{graph_failure, open_target};
            let target = match open_target(&ctx).await {
                Ok(t) => t,
                Err(c) => return c,
            };
            match run(&ctx, target.tenant, &target.creds).await {
                Ok(c) => c,
                Err((step, e)) => graph_failure(&ctx, &target, step, e).await,
            }
        })
    }
}

pub async fn run(
    ctx: &RunContext,
    tenant: TenantId,
    creds: &AppCredentials,
) -> Result<Completion, (&'static str, GraphError)> {
    let chosen = match desired(ctx, tenant).await {
        Ok(c) => c,
        Err(words) => return Ok(Completion::failed(ReasonCode::HandlerFailed, words)),
    };
    let graph = &crate::provider::graph_client(&ctx.svc);
    let mut live: Vec<(PolicyKind, Vec<Value>)> = Vec::new();
    for kind in [
        PolicyKind::DeviceConfiguration,
        PolicyKind::CompliancePolicy,
    ] {
        if chosen.iter().any(|p| p.kind == kind) {
            let rows = graph
                .get_all(creds, version(kind), kind.collection())
                .await
                .map_err(|e| ("Reading the tenant's policies", e))?;
            live.push((kind, rows));
        }
    }
    let mut outcomes = Vec::new();
    for policy in chosen {
        if ctx.cancel_requested() {
            let summary = counts(&outcomes);
            save(ctx, &outcomes).await;
            return Ok(ctx.cancelled(summary));
        }
        let rows = live
            .iter()
            .find(|(k, _)| *k == policy.kind)
            .map(|(_, r)| r.as_slice())
            .unwrap_or_default();
        outcomes.push(restore_one(graph, creds, policy, rows).await);
    }
    save(ctx, &outcomes).await;
    let summary = counts(&outcomes);
    let n = |a: ItemAction| outcomes.iter().filter(|o| o.action == a).count();
    let failed = n(ItemAction::Failed);
    audit_done(ctx, tenant, &outcomes).await;
    Ok(if failed == 0 {
        Completion::succeeded(summary)
    } else {
        Completion {
            outcome: if failed == outcomes.len() {
                RunOutcome::Failed
            } else {
                RunOutcome::PartiallySucceeded
            },
            summary,
            failure_summary: Some(format!(
                "{failed} of {} policies could not be restored; see each item below.",
                outcomes.len()
            )),
            reason: Some(ReasonCode::HandlerFailed),
        }
    })
}

/// Writes one policy back: changes the settings that differ on the
/// tenant's policy of the same id (or kind and name), or creates it when
/// it is missing; the tenant's object id is kept either way.
async fn restore_one(
    graph: &crate::provider::graph::GraphClient,
    creds: &AppCredentials,
    policy: StoredPolicy,
    rows: &[Value],
) -> Outcome {
    let odata = policy
        .settings
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let current = rows
        .iter()
        .find(|o| text(o, "id") == policy.external_id)
        .or_else(|| {
            // Matched by name the way baselines match (trimmed, any case).
            let name = policy.display_name.trim().to_lowercase();
            rows.iter().find(|o| {
                text(o, "displayName").trim().to_lowercase() == name
                    && text(o, "@odata.type") == odata
            })
        });
    match current {
        Some(object) => {
            let id = text(object, "id");
            let now = object.as_object().cloned().unwrap_or_default();
            // A must-exist setting the tenant has (any value) is kept.
            let mut policy = policy;
            for k in std::mem::take(&mut policy.exist_only) {
                if now.get(&k).is_some_and(|v| !v.is_null()) {
                    policy.settings.remove(&k);
                }
            }
            let changes = diff(&policy.settings, &now);
            if changes.is_empty() {
                Outcome {
                    policy,
                    action: ItemAction::Unchanged,
                    detail: "The tenant already has these settings; nothing was written.".into(),
                    // The tenant's object, so a bring in line reads it again.
                    written_id: Some(id),
                }
            } else {
                let mut body = Map::new();
                body.insert("@odata.type".into(), Value::String(odata.clone()));
                for c in &changes {
                    if let Some(v) = policy.settings.get(&c.setting) {
                        body.insert(c.setting.clone(), v.clone());
                    }
                }
                let path = format!("{}/{id}", policy.kind.collection());
                match graph
                    .update(creds, version(policy.kind), &path, &Value::Object(body))
                    .await
                {
                    Ok(()) => Outcome {
                        detail: format!(
                            "Restored {} setting(s): {}.",
                            changes.len(),
                            changes
                                .iter()
                                .map(|c| c.setting.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        policy,
                        action: ItemAction::Updated,
                        written_id: Some(id),
                    },
                    Err(e) => failed(policy, e),
                }
            }
        }
        None => {
            let body = Value::Object(policy.settings.clone());
            match graph
                .create(creds, version(policy.kind), policy.kind.collection(), &body)
                .await
            {
                Ok(created) => Outcome {
                    detail: "The policy was missing from the tenant and was created again.".into(),
                    written_id: Some(text(&created, "id")).filter(|s| !s.is_empty()),
                    policy,
                    action: ItemAction::Created,
                },
                Err(e) => failed(policy, e),
            }
        }
    }
}

/// What the run writes: the chosen policies of a tenant's snapshot, or a
/// baseline's items (*bring in line*; the run's arguments name them).
async fn desired(ctx: &RunContext, tenant: TenantId) -> Result<Vec<StoredPolicy>, &'static str> {
    let source = ctx.svc.port::<super::DesiredSource>();
    let other = match source {
        Some(source) => (source.0)(ctx.svc.clone(), tenant, ctx.run.args.clone()).await,
        None => Ok(None),
    };
    match other {
        Err(_) => return Err("The baseline's policies could not be read."),
        Ok(Some(items)) if items.is_empty() => {
            return Err("None of the chosen policies is in the baseline version any more.");
        }
        Ok(Some(items)) => {
            return Ok(items
                .into_iter()
                .filter_map(|i| {
                    Some(StoredPolicy {
                        item: crate::ids::InventoryItemId(i.no),
                        kind: PolicyKind::parse(&i.kind)?,
                        external_id: String::new(),
                        display_name: i.display_name,
                        platform: String::new(),
                        modified: None,
                        exist_only: i.exist_only,
                        settings: i.settings,
                    })
                })
                .collect());
        }
        Ok(None) => {}
    }
    let snapshot = ctx.run.args.get("snapshot").and_then(Value::as_i64);
    let items: Vec<crate::ids::InventoryItemId> = ctx
        .run
        .args
        .get("items")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let Some(snapshot) = snapshot else {
        return Err("The restore names no snapshot.");
    };
    let stored = policies_of(&ctx.svc, tenant, crate::ids::SnapshotId(snapshot))
        .await
        .map_err(|_| "The snapshot's policies could not be read.")?;
    let chosen: Vec<StoredPolicy> = stored
        .into_iter()
        .filter(|p| items.contains(&p.item))
        .collect();
    if chosen.is_empty() {
        return Err("None of the chosen policies is in the snapshot any more.");
    }
    Ok(chosen)
}

fn failed(policy: StoredPolicy, e: GraphError) -> Outcome {
    Outcome {
        policy,
        action: ItemAction::Failed,
        detail: format!("Not written: {e}."),
        written_id: None,
    }
}

fn counts(outcomes: &[Outcome]) -> SummaryCounts {
    let n = |a: ItemAction| outcomes.iter().filter(|o| o.action == a).count() as i64;
    SummaryCounts(vec![
        ("policies".into(), outcomes.len() as i64),
        ("created".into(), n(ItemAction::Created)),
        ("updated".into(), n(ItemAction::Updated)),
        ("unchanged".into(), n(ItemAction::Unchanged)),
        ("failed".into(), n(ItemAction::Failed)),
    ])
}

/// Keeps the per-item results (replacing an earlier attempt's).
async fn save(ctx: &RunContext, outcomes: &[Outcome]) {
    if let Err(e) = store_results(ctx, outcomes).await {
        tracing::warn!(error = %e, "restore results could not be stored");
    }
}

async fn store_results(ctx: &RunContext, outcomes: &[Outcome]) -> AppResult<()> {
    let mut tx = ctx.svc.store.begin().await?;
    sqlx::query("DELETE FROM restore_results WHERE run_id = $1")
        .bind(ctx.run.id.0)
        .execute(&mut **tx)
        .await?;
    for o in outcomes {
        sqlx::query(
            "INSERT INTO restore_results (run_id, kind, external_id, display_name, action, detail, written_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ctx.run.id.0)
        .bind(o.policy.kind.as_str())
        .bind(&o.policy.external_id)
        .bind(&o.policy.display_name)
        .bind(o.action.as_str())
        .bind(&o.detail)
        .bind(&o.written_id)
        .execute(&mut **tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn audit_done(ctx: &RunContext, tenant: TenantId, outcomes: &[Outcome]) {
    let n = |a: ItemAction| outcomes.iter().filter(|o| o.action == a).count();
    let detail = format!(
        "created {}, updated {}, unchanged {}, failed {}",
        n(ItemAction::Created),
        n(ItemAction::Updated),
        n(ItemAction::Unchanged),
        n(ItemAction::Failed)
    );
    let result = async {
        let mut conn = ctx.svc.store.write().await?;
        audit::record(
            &mut conn,
            Entry {
                workspace: Some(ctx.run.workspace_id),
                tenant: Some(tenant),
                actor: ctx.run.initiator_user,
                actor_label: "restore run",
                action: AuditAction::RestoreExecuted,
                target: format!("Restore #{} ({} policies)", ctx.run.id, outcomes.len()),
                outcome: if n(ItemAction::Failed) == 0 {
                    AuditOutcome::Succeeded
                } else {
                    AuditOutcome::Failed
                },
                detail: Some(detail),
            },
            ctx.svc.now(),
        )
        .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "restore audit entry could not be written");
    }
}
