//! Generate (through the start gate), read the latest pack for the card,
//! authorise downloads and expire packs past their retention.

use super::{GenerateAnswer, PackFile, PackStatus, ReviewPackCard, ReviewPackView, Section};
use crate::access::{self, Actor};
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{ReviewPackId, RunId, TenantId, WorkspaceId};
use crate::rbac::Capability;
use crate::runs::gate::{Initiator, StartGate, StartRequest};
use crate::runs::model::{ReasonCode, StartDecision};
use crate::runs::presenter;
use crate::services::Services;
use crate::views::{AuditAction, AuditOutcome};
use sqlx::Row;
use std::path::PathBuf;

use crate::clock::DAY_MS;

const COLUMNS: &str = "p.id, p.tenant_id, p.run_id, p.status, p.sections, u.email, p.created_at,
    p.generated_at, p.expires_at, p.html_size, p.zip_size, p.failure_summary,
    r.status AS run_status, r.reason_code, r.failure_summary AS run_failure";

const FROM: &str = "FROM review_packs p JOIN operation_runs r ON r.id = p.run_id
    LEFT JOIN users u ON u.id = p.requested_by";

/// A pack row read as its truth now: a pack whose run ended without making
/// it ready failed (with the run's words); a ready pack past its expiry is
/// expired even before the sweep deleted its files.
fn view_of(row: &sqlx::any::AnyRow, now: i64) -> AppResult<ReviewPackView> {
    let stored: PackStatus = row
        .try_get::<String, _>("status")?
        .parse()
        .map_err(|_| AppError::Internal)?;
    let run_ended = row.try_get::<String, _>("run_status")? == "completed";
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    let mut failure: Option<String> = row.try_get("failure_summary")?;
    let status = match stored {
        PackStatus::Queued | PackStatus::Generating if run_ended => {
            if failure.is_none() {
                let reason: Option<String> = row.try_get("reason_code")?;
                failure = row
                    .try_get::<Option<String>, _>("run_failure")?
                    .or_else(|| {
                        reason
                            .and_then(|r| r.parse::<ReasonCode>().ok())
                            .map(|r| r.message().to_string())
                    });
            }
            PackStatus::Failed
        }
        PackStatus::Queued if row.try_get::<String, _>("run_status")? == "running" => {
            PackStatus::Generating
        }
        PackStatus::Ready if expires_at.is_some_and(|at| at <= now) => PackStatus::Expired,
        s => s,
    };
    let sections: Vec<Section> =
        serde_json::from_str(&row.try_get::<String, _>("sections")?).unwrap_or_default();
    Ok(ReviewPackView {
        id: ReviewPackId(row.try_get("id")?),
        tenant: TenantId(row.try_get("tenant_id")?),
        run: RunId(row.try_get("run_id")?),
        status,
        sections,
        requested_by: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
        generated_at: row.try_get("generated_at")?,
        expires_at,
        html_size: row.try_get("html_size")?,
        zip_size: row.try_get("zip_size")?,
        failure,
    })
}

async fn latest(svc: &Services, tenant: TenantId) -> AppResult<Option<ReviewPackView>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(&*format!(
        "SELECT {COLUMNS} {FROM} WHERE p.tenant_id = $1 ORDER BY p.id DESC LIMIT 1"
    )))
    .bind(tenant.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    row.map(|r| view_of(&r, svc.now())).transpose()
}

fn retention_days(svc: &Services) -> i64 {
    (svc.settings.review_pack_ttl_ms / DAY_MS).max(1)
}

/// The card of a tenant dashboard (and its poll).
pub async fn card(svc: &Services, actor: &Actor, tenant: TenantId) -> AppResult<ReviewPackCard> {
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    Ok(ReviewPackCard {
        tenant,
        latest: latest(svc, tenant).await?,
        can_generate: access.workspace.role().can(Capability::ReviewPackGenerate),
        retention_days: retention_days(svc),
    })
}

/// Starts `review_pack_generate` through the gate; an accepted start gets
/// its pack row (queued) right away so the card shows it at once.
pub async fn generate(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    sections: Vec<Section>,
) -> AppResult<GenerateAnswer> {
    if sections.is_empty() {
        return Err(AppError::invalid(
            "sections",
            "Choose at least one section for the pack.",
        ));
    }
    // Your own allowance, once the gate's rules say you may generate at all.
    access::tenant_for_change(
        svc,
        actor,
        tenant,
        Capability::ReviewPackGenerate,
        AuditAction::OperationRefused,
        "Review pack generation",
    )
    .await?;
    crate::limits::take(
        &mut *svc.store.write().await?,
        &svc.settings.limits,
        crate::limits::Limited::ReviewPacks,
        actor.user_id,
        svc.now(),
    )
    .await?;
    let result = StartGate::start(
        svc,
        Initiator::User(actor),
        StartRequest {
            tenant,
            op_type: crate::review_packs::REVIEW_PACK_GENERATE,
            connection: None,
            args: serde_json::json!({ "sections": sections }),
        },
    )
    .await?;
    if result.decision == StartDecision::Accepted {
        // After the gate's commit: the worker may already have created the row.
        ensure_row(svc, result.run, tenant, Some(actor.user_id.0), &sections).await?;
    }
    Ok(GenerateAnswer {
        toast: presenter::present_start(&result),
        card: card(svc, actor, tenant).await?,
    })
}

/// Creates the pack row of a run once (the card and the handler both may).
pub(super) async fn ensure_row(
    svc: &Services,
    run: RunId,
    tenant: TenantId,
    requested_by: Option<i64>,
    sections: &[Section],
) -> AppResult<()> {
    let sections = serde_json::to_string(sections).map_err(|_| AppError::Internal)?;
    sqlx::query(
        "INSERT INTO review_packs (workspace_id, tenant_id, run_id, requested_by, status, sections, created_at)
         SELECT t.workspace_id, t.id, $2, $3, 'queued', $4, $5 FROM tenants t WHERE t.id = $1
         ON CONFLICT (run_id) DO NOTHING",
    )
    .bind(tenant.0)
    .bind(run.0)
    .bind(requested_by)
    .bind(sections)
    .bind(svc.now())
    .execute(&mut *svc.store.write().await?)
    .await?;
    Ok(())
}

/// What the download route serves.
#[derive(Debug)]
pub enum Download {
    File {
        path: PathBuf,
        file_name: String,
        content_type: &'static str,
    },
    /// The pack expired (its files are, or are about to be, deleted).
    Expired { expired_on: i64 },
}

/// Authorises one file of one pack: 404 unless the pack belongs to a tenant
/// the actor may see; 409 while it is not ready. Audited.
pub async fn download(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    pack: ReviewPackId,
    file: PackFile,
) -> AppResult<Download> {
    let pack = pack.0;
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(&*format!(
        "SELECT {COLUMNS}, p.html_path, p.zip_path {FROM} WHERE p.id = $1 AND p.tenant_id = $2"
    )))
    .bind(pack)
    .bind(tenant.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?
    .ok_or(AppError::NotFound)?;
    let view = view_of(&row, svc.now())?;
    match view.status {
        PackStatus::Ready => {}
        PackStatus::Expired => {
            return Ok(Download::Expired {
                expired_on: view.expires_at.unwrap_or_default(),
            });
        }
        _ => return Err(AppError::conflict("This review pack is not ready.")),
    }
    let relative: Option<String> = row.try_get(match file {
        PackFile::Html => "html_path",
        PackFile::Zip => "zip_path",
    })?;
    let relative = relative.ok_or(AppError::NotFound)?;
    let mut conn = svc.store.write().await?;
    audit::record(
        &mut conn,
        Entry {
            workspace: Some(access.workspace.id()),
            tenant: Some(tenant),
            actor: Some(actor.user_id),
            actor_label: &actor.email,
            action: AuditAction::ReviewPackDownloaded,
            target: format!("Review pack #{pack} ({})", file.route_name()),
            outcome: AuditOutcome::Succeeded,
            detail: None,
        },
        svc.now(),
    )
    .await?;
    // The date in the downloader's zone.
    let date = crate::time_zones::format(
        view.generated_at.unwrap_or(view.created_at),
        actor.time_zone.as_deref(),
    );
    let day = date.get(..10).unwrap_or("report").to_string();
    Ok(Download::File {
        path: svc.data_dir.join(relative),
        file_name: format!(
            "{}-review-pack-{day}.{}",
            slug(&access.tenant.display_name),
            match file {
                PackFile::Html => "html",
                PackFile::Zip => "zip",
            }
        ),
        content_type: file.content_type(),
    })
}

/// A file-name-safe version of a tenant name.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if s.is_empty() { "tenant".into() } else { s }
}

/// (id, workspace, tenant, html path, zip path)
type ExpiringPack = (i64, i64, i64, Option<String>, Option<String>);

/// Deletes the files of ready packs past their expiry and marks them
/// expired (audited). Returns how many packs expired.
pub async fn expire_due(svc: &Services) -> AppResult<u64> {
    let now = svc.now();
    let rows: Vec<ExpiringPack> = sqlx::query_as(
        "SELECT id, workspace_id, tenant_id, html_path, zip_path FROM review_packs
         WHERE status = 'ready' AND expires_at <= $1 ORDER BY expires_at LIMIT 200",
    )
    .bind(now)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut expired = 0;
    'packs: for (id, workspace, tenant, html, zip) in rows {
        for relative in [html, zip].into_iter().flatten() {
            match tokio::fs::remove_file(svc.data_dir.join(&relative)).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Keep the row (it already reads expired); the next sweep tries again.
                    tracing::warn!(pack = id, error = %e, "could not delete an expired review pack file");
                    continue 'packs;
                }
            }
        }
        let mut tx = svc.store.begin().await?;
        let done = sqlx::query(
            "UPDATE review_packs SET status = 'expired', html_path = NULL, zip_path = NULL, expired_at = $2
             WHERE id = $1 AND status = 'ready'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if done == 1 {
            audit::record(
                &mut tx,
                Entry {
                    workspace: Some(WorkspaceId(workspace)),
                    tenant: Some(TenantId(tenant)),
                    actor: None,
                    actor_label: "system",
                    action: AuditAction::ReviewPackExpired,
                    target: format!("Review pack #{id}"),
                    outcome: AuditOutcome::Succeeded,
                    detail: Some("files deleted".into()),
                },
                now,
            )
            .await?;
            expired += 1;
        }
        tx.commit().await?;
    }
    Ok(expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(slug("Contoso Ltd."), "contoso-ltd");
        assert_eq!(slug("../../etc"), "etc");
        assert_eq!(slug("Ünïcode"), "n-code");
    }
}
