//! The provider-backed operation handlers. Each opens the pinned
//! connection's secret, calls Graph through [`super::graph::GraphClient`],
//! stores what it found and reports summary counts. Failures end the run with
//! a reason code and our own bounded words.

use super::connections::{credentials_for_run, record_check};
use super::data::{self, DirectoryTable};
use super::graph::{ApiVersion, AppCredentials, GraphError};
use super::{Check, CheckStatus, REQUIRED_PERMISSIONS, permission_satisfied};
use crate::ids::{ProviderConnectionId, TenantId};
use crate::runs::handlers::{BoxFuture, Handler, RunContext};
use crate::runs::model::{OperationType, ReasonCode, RunOutcome, SummaryCounts};
use crate::runs::service::Completion;
use serde_json::Value;

/// One handler for every provider read operation; the type picks the work.
pub struct ProviderOperation(pub OperationType);

impl Handler for ProviderOperation {
    fn run(&self, ctx: RunContext) -> BoxFuture<Completion> {
        let op = self.0;
        Box::pin(async move { run(op, ctx).await })
    }
}

/// The pinned connection of a run, opened: the tenant, the connection and
/// its credentials (the secret is opened only here, in a worker).
pub struct Target {
    pub tenant: TenantId,
    pub connection: ProviderConnectionId,
    pub creds: AppCredentials,
}

fn counts(pairs: &[(&str, i64)]) -> SummaryCounts {
    SummaryCounts(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
}

/// Opens the run's pinned connection, or the completion that says why not.
pub async fn open_target(ctx: &RunContext) -> Result<Target, Completion> {
    let (Some(tenant), Some(connection)) = (ctx.run.tenant_id, ctx.run.provider_connection_id)
    else {
        return Err(Completion::failed(
            ReasonCode::ConnectionMissing,
            "The run has no pinned provider connection.",
        ));
    };
    let creds = match credentials_for_run(&ctx.svc, connection).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(Completion::failed(
                ReasonCode::CredentialsMissing,
                "The provider connection was deleted or has no client secret.",
            ));
        }
        Err(_) => {
            return Err(Completion::failed(
                ReasonCode::HandlerFailed,
                "The client secret could not be opened with this server's key. Rotate the secret.",
            ));
        }
    };
    Ok(Target {
        tenant,
        connection,
        creds,
    })
}

/// A Graph failure ends the run in our words; what it says about the
/// connection (consent, reason) is kept for readiness.
pub async fn graph_failure(
    ctx: &RunContext,
    target: &Target,
    step: &'static str,
    e: GraphError,
) -> Completion {
    let consent = (e == GraphError::ConsentMissing).then_some(false);
    let _ = record_check(&ctx.svc, target.connection, consent, None, Some(e.reason())).await;
    Completion::failed(e.reason(), e.summary(step))
}

async fn run(op: OperationType, ctx: RunContext) -> Completion {
    let target = match open_target(&ctx).await {
        Ok(t) => t,
        Err(c) => return c,
    };
    let result = match op {
        crate::provider::TENANT_VERIFICATION => verify(&ctx, &target, true).await,
        crate::provider::CONNECTION_CHECK => verify(&ctx, &target, false).await,
        crate::provider::INVENTORY_SYNC => inventory(&ctx, &target).await,
        crate::provider::COMPLIANCE_SNAPSHOT => compliance(&ctx, &target).await,
        crate::provider::DIRECTORY_GROUPS_SYNC => {
            directory(&ctx, &target, DirectoryTable::Groups).await
        }
        crate::provider::ROLE_DEFINITIONS_SYNC => {
            directory(&ctx, &target, DirectoryTable::Roles).await
        }
        _ => Err(Step::Failed(Completion::failed(
            ReasonCode::OperationUnavailable,
            "No provider handler for this operation.",
        ))),
    };
    match result {
        Ok(c) | Err(Step::Failed(c)) => c,
        Err(Step::Graph(step, e)) => graph_failure(&ctx, &target, step, e).await,
    }
}

enum Step {
    Graph(&'static str, GraphError),
    Failed(Completion),
}

fn stored(e: crate::AppError) -> Step {
    tracing::warn!(error = %e, "provider data could not be stored");
    Step::Failed(Completion::failed(
        ReasonCode::HandlerFailed,
        "The results could not be stored.",
    ))
}

async fn fetch(
    ctx: &RunContext,
    t: &Target,
    step: &'static str,
    version: ApiVersion,
    path: &str,
) -> Result<Vec<Value>, Step> {
    if ctx.cancel_requested() {
        return Err(Step::Failed(ctx.cancelled(SummaryCounts::default())));
    }
    crate::provider::graph_client(&ctx.svc)
        .get_all(&t.creds, version, path)
        .await
        .map_err(|e| Step::Graph(step, e))
}

/// Tenant verification (with a stored report) or connection check: token,
/// organization identity, granted permissions; updates consent on the connection.
/// Whether Microsoft answered for the tenant the connection names; the
/// check (with the organization's name and default domain) is added.
fn identity_check(checks: &mut Vec<Check>, org: &[Value], entra_tenant_id: &str) -> bool {
    let first = org.first().cloned().unwrap_or(Value::Null);
    let org_id = data::text(&first, "id").to_ascii_lowercase();
    let identity_ok = org_id == entra_tenant_id.to_ascii_lowercase();
    let domain = first
        .get("verifiedDomains")
        .and_then(Value::as_array)
        .and_then(|d| {
            d.iter()
                .find(|x| x.get("isDefault").and_then(Value::as_bool) == Some(true))
        })
        .map(|d| data::text(d, "name"))
        .unwrap_or_default();
    checks.push(Check {
        name: "Tenant identity".into(),
        status: if identity_ok {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        },
        detail: if identity_ok {
            format!("{} ({domain})", data::text(&first, "displayName"))
        } else {
            "Microsoft answered for a different tenant than the connection names.".into()
        },
    });
    identity_ok
}

async fn verify(ctx: &RunContext, t: &Target, report: bool) -> Result<Completion, Step> {
    let graph = &crate::provider::graph_client(&ctx.svc);
    let mut checks = Vec::new();
    // The report states what is granted now: never a token cached from before a grant.
    let token = if report {
        graph.fresh_token(&t.creds).await
    } else {
        graph.token(&t.creds).await
    };
    let token = match token {
        Ok(token) => token,
        Err(e) => {
            if report {
                checks.push(Check {
                    name: "Sign-in with the client secret".into(),
                    status: CheckStatus::Failed,
                    detail: e.to_string(),
                });
                checks.push(Check {
                    name: "Tenant identity".into(),
                    status: CheckStatus::Skipped,
                    detail: "Needs a successful sign-in.".into(),
                });
                save_failed_report(ctx, t, &checks).await;
            }
            return Err(Step::Graph("Sign-in", e));
        }
    };
    checks.push(Check {
        name: "Sign-in with the client secret".into(),
        status: CheckStatus::Passed,
        detail: "Microsoft issued an app-only token.".into(),
    });
    let org = match graph
        .get_all(&t.creds, ApiVersion::V1, "organization")
        .await
    {
        Ok(org) => org,
        Err(e) => {
            if report {
                checks.push(Check {
                    name: "Tenant identity".into(),
                    status: CheckStatus::Failed,
                    detail: e.to_string(),
                });
                permission_checks(&mut checks, &token.roles);
                save_failed_report(ctx, t, &checks).await;
            }
            return Err(Step::Graph("Organization", e));
        }
    };
    let identity_ok = identity_check(&mut checks, &org, &t.creds.entra_tenant_id);
    let missing = permission_checks(&mut checks, &token.roles);
    let granted = REQUIRED_PERMISSIONS.len() as i64 - missing;
    let (outcome, reason) = if !identity_ok {
        (RunOutcome::Failed, Some(ReasonCode::ProviderTenantNotFound))
    } else if missing > 0 {
        (
            RunOutcome::PartiallySucceeded,
            Some(ReasonCode::PermissionsMissing),
        )
    } else {
        (RunOutcome::Succeeded, None)
    };
    record_check(
        &ctx.svc,
        t.connection,
        Some(identity_ok && !token.roles.is_empty()),
        Some(&token.roles),
        reason,
    )
    .await
    .map_err(stored)?;
    if report {
        data::save_verification(
            &ctx.svc,
            t.tenant,
            ctx.run.id,
            ctx.run.attempt,
            Some(t.connection),
            outcome,
            &checks,
        )
        .await
        .map_err(stored)?;
    }
    let passed = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Passed)
        .count() as i64;
    let summary = counts(&[
        ("checks_passed", passed),
        ("checks_failed", checks.len() as i64 - passed),
        ("permissions_granted", granted),
        ("permissions_missing", missing),
    ]);
    Ok(match outcome {
        RunOutcome::Succeeded => Completion::succeeded(summary),
        _ => Completion {
            outcome,
            summary,
            failure_summary: Some(if identity_ok {
                format!("{missing} required permission(s) are not granted.")
            } else {
                "The connection's tenant id does not match the tenant Microsoft answered for."
                    .into()
            }),
            reason,
        },
    })
}

/// Keeps the report of a verification that could not finish; the run's own
/// failure already says why, so a storage error here is only logged.
async fn save_failed_report(ctx: &RunContext, t: &Target, checks: &[Check]) {
    if let Err(e) = data::save_verification(
        &ctx.svc,
        t.tenant,
        ctx.run.id,
        ctx.run.attempt,
        Some(t.connection),
        RunOutcome::Failed,
        checks,
    )
    .await
    {
        tracing::warn!(error = %e, "verification report could not be stored");
    }
}

/// Adds one check per required permission; returns how many are missing.
fn permission_checks(checks: &mut Vec<Check>, roles: &[String]) -> i64 {
    let mut missing = 0;
    for p in REQUIRED_PERMISSIONS {
        let ok = permission_satisfied(p, roles);
        missing += i64::from(!ok);
        checks.push(Check {
            name: format!("Permission {p}"),
            status: if ok {
                CheckStatus::Passed
            } else {
                CheckStatus::Failed
            },
            detail: if ok {
                "Granted by admin consent.".into()
            } else {
                "Not granted: ask a Global Administrator to grant admin consent.".into()
            },
        });
    }
    missing
}

/// The `args` key of an inventory sync that re-reads only some policies
/// (`{"device_configuration": [ids], "compliance_policy": [ids]}`), e.g.
/// the ones a *bring in line* just wrote.
pub const REREAD: &str = "reread";

async fn inventory(ctx: &RunContext, t: &Target) -> Result<Completion, Step> {
    if let Some(reread) = ctx.run.args.get(REREAD)
        && let Some(done) = inventory_reread(ctx, t, reread).await?
    {
        return Ok(done);
    }
    let configs = fetch(
        ctx,
        t,
        "Device configurations",
        ApiVersion::Beta,
        "deviceManagement/deviceConfigurations",
    )
    .await?;
    let policies = fetch(
        ctx,
        t,
        "Compliance policies",
        ApiVersion::V1,
        "deviceManagement/deviceCompliancePolicies",
    )
    .await?;
    let devices = fetch(
        ctx,
        t,
        "Managed devices",
        ApiVersion::V1,
        "deviceManagement/managedDevices",
    )
    .await?;
    let mut items: Vec<data::InventoryItem> = configs
        .iter()
        .filter_map(|v| data::policy_item("device_configuration", v))
        .collect();
    items.extend(
        policies
            .iter()
            .filter_map(|v| data::policy_item("compliance_policy", v)),
    );
    items.extend(devices.iter().filter_map(data::device_item));
    let skipped = (configs.len() + policies.len() + devices.len() - items.len()) as i64;
    data::save_inventory(&ctx.svc, t.tenant, ctx.run.id, ctx.run.attempt, &items)
        .await
        .map_err(stored)?;
    let n = |k: &str| items.iter().filter(|i| i.kind == k).count() as i64;
    Ok(Completion::succeeded(counts(&[
        ("device_configurations", n("device_configuration")),
        ("compliance_policies", n("compliance_policy")),
        ("managed_devices", n("managed_device")),
        ("skipped_unreadable", skipped),
    ])))
}

/// A new snapshot that is the newest one with the named policies read
/// again by id (one Graph read each; a policy gone from the tenant is gone
/// from the snapshot). Drift and the baseline compare after it see exactly
/// what changed in those policies. `None` without a snapshot yet (the
/// caller then reads everything).
async fn inventory_reread(
    ctx: &RunContext,
    t: &Target,
    reread: &Value,
) -> Result<Option<Completion>, Step> {
    /// More ids than this is a full read's job.
    const MOST: usize = 200;
    let Some(mut items) = data::latest_items(&ctx.svc, t.tenant)
        .await
        .map_err(stored)?
    else {
        return Ok(None);
    };
    let mut read = 0i64;
    for (kind, version, collection) in [
        (
            "device_configuration",
            ApiVersion::Beta,
            "deviceManagement/deviceConfigurations",
        ),
        (
            "compliance_policy",
            ApiVersion::V1,
            "deviceManagement/deviceCompliancePolicies",
        ),
    ] {
        let ids: Vec<&str> = reread
            .get(kind)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).take(MOST).collect())
            .unwrap_or_default();
        for id in ids {
            if ctx.cancel_requested() {
                return Err(Step::Failed(ctx.cancelled(SummaryCounts::default())));
            }
            // Ids go into a path: only Graph's own shape (GUIDs and the like).
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                continue;
            }
            let fresh = match crate::provider::graph_client(&ctx.svc)
                .get(&t.creds, version, &format!("{collection}/{id}"))
                .await
            {
                Ok(v) => data::policy_item(kind, &v),
                Err(GraphError::NotFound) => None,
                Err(e) => return Err(Step::Graph("Reading the restored policies", e)),
            };
            read += 1;
            items.retain(|i| !(i.kind == kind && i.external_id == id));
            if let Some(item) = fresh {
                items.push(item);
            }
        }
    }
    data::save_inventory(&ctx.svc, t.tenant, ctx.run.id, ctx.run.attempt, &items)
        .await
        .map_err(stored)?;
    let n = |k: &str| items.iter().filter(|i| i.kind == k).count() as i64;
    Ok(Some(Completion::succeeded(counts(&[
        ("device_configurations", n("device_configuration")),
        ("compliance_policies", n("compliance_policy")),
        ("managed_devices", n("managed_device")),
        ("policies_read_again", read),
    ]))))
}

async fn compliance(ctx: &RunContext, t: &Target) -> Result<Completion, Step> {
    let devices = fetch(
        ctx,
        t,
        "Managed devices",
        ApiVersion::V1,
        "deviceManagement/managedDevices",
    )
    .await?;
    let states: Vec<data::DeviceState> = devices.iter().filter_map(data::device_state).collect();
    let (compliant, noncompliant, grace, other) =
        data::save_compliance(&ctx.svc, t.tenant, ctx.run.id, ctx.run.attempt, &states)
            .await
            .map_err(stored)?;
    Ok(Completion::succeeded(counts(&[
        ("devices", states.len() as i64),
        ("compliant", compliant),
        ("noncompliant", noncompliant),
        ("in_grace_period", grace),
        ("other", other),
    ])))
}

async fn directory(
    ctx: &RunContext,
    t: &Target,
    table: DirectoryTable,
) -> Result<Completion, Step> {
    let (step, path, parse): (_, _, fn(&Value) -> Option<data::DirectoryRow>) = match table {
        DirectoryTable::Groups => ("Groups", "groups", data::group_row),
        DirectoryTable::Roles => (
            "Role definitions",
            "roleManagement/directory/roleDefinitions",
            data::role_row,
        ),
    };
    let values = fetch(ctx, t, step, ApiVersion::V1, path).await?;
    let rows: Vec<data::DirectoryRow> = values.iter().filter_map(parse).collect();
    let (added, updated, removed, total) = data::replace_directory(
        &ctx.svc,
        t.tenant,
        ctx.run.id,
        ctx.run.attempt,
        table,
        &rows,
    )
    .await
    .map_err(stored)?;
    Ok(Completion::succeeded(counts(&[
        ("total", total),
        ("added", added),
        ("updated", updated),
        ("removed", removed),
    ])))
}
