//! The `review_pack_generate` handler: reads what Tenantry stored about the
//! tenant (no provider call), renders the HTML report and the data ZIP off
//! the async threads, writes both under the data directory (temporary file,
//! then rename) and marks the pack ready with sizes and expiry.

use super::Section;
use super::render::{self, PackData, SectionData, Table};
use crate::error::{AppError, AppResult};
use crate::ids::TenantId;
use crate::runs::handlers::{BoxFuture, Handler, RunContext};
use crate::runs::model::{ReasonCode, SummaryCounts};
use crate::runs::presenter;
use crate::runs::service::{Completion, truth_of_row};
use crate::services::Services;
use sqlx::Row;
use std::path::{Path, PathBuf};

pub struct ReviewPackGenerate;

impl Handler for ReviewPackGenerate {
    fn run(&self, ctx: RunContext) -> BoxFuture<Completion> {
        Box::pin(async move { generate(ctx).await })
    }
}

fn sections_of(args: &serde_json::Value) -> Vec<Section> {
    let chosen: Vec<Section> = args
        .get("sections")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    if chosen.is_empty() {
        Section::ALL.to_vec()
    } else {
        chosen
    }
}

async fn generate(ctx: RunContext) -> Completion {
    let Some(tenant) = ctx.run.tenant_id else {
        return Completion::failed(ReasonCode::HandlerFailed, "The run names no tenant.");
    };
    let sections = sections_of(&ctx.run.args);
    match produce(&ctx, tenant, &sections).await {
        Ok(c) => c,
        Err(words) => {
            if let Ok(mut conn) = ctx.svc.store.write().await {
                let _ = sqlx::query(
                    "UPDATE review_packs SET status = 'failed', failure_summary = $2
                     WHERE run_id = $1 AND status IN ('queued', 'generating')",
                )
                .bind(ctx.run.id.0)
                .bind(words)
                .execute(&mut *conn)
                .await;
            }
            Completion::failed(ReasonCode::HandlerFailed, words)
        }
    }
}

fn stored(e: AppError) -> &'static str {
    tracing::warn!(error = %e, "review pack data could not be read or stored");
    "The pack's data could not be read or stored."
}

async fn produce(
    ctx: &RunContext,
    tenant: TenantId,
    sections: &[Section],
) -> Result<Completion, &'static str> {
    let svc = &ctx.svc;
    super::service::ensure_row(
        svc,
        ctx.run.id,
        tenant,
        ctx.run.initiator_user.map(|u| u.0),
        sections,
    )
    .await
    .map_err(stored)?;
    let (pack,): (i64,) = sqlx::query_as(
        "UPDATE review_packs SET status = 'generating' WHERE run_id = $1 RETURNING id",
    )
    .bind(ctx.run.id.0)
    .fetch_one(&mut *svc.store.write().await.map_err(stored)?)
    .await
    .map_err(|e| stored(e.into()))?;

    // Times in the requester's zone (scheduled packs: UTC).
    let zone: Option<String> = match ctx.run.initiator_user {
        Some(user) => {
            sqlx::query_as::<_, (Option<String>,)>("SELECT time_zone FROM users WHERE id = $1")
                .bind(user.0)
                .fetch_optional(&mut *svc.store.read().await.map_err(stored)?)
                .await
                .map_err(|e| stored(e.into()))?
                .and_then(|r| r.0)
        }
        None => None,
    };
    let data = gather(svc, tenant, sections, zone.as_deref())
        .await
        .map_err(stored)?;
    if ctx.cancel_requested() {
        return Ok(ctx.cancelled(SummaryCounts::default()));
    }
    let rows: i64 = data
        .sections
        .iter()
        .flat_map(|s| &s.tables)
        .map(|t| t.rows.len() as i64)
        .sum();
    let (html, zip) = tokio::task::spawn_blocking(move || {
        let html = render::html(&data);
        render::zip(&data).map(|zip| (html.into_bytes(), zip))
    })
    .await
    .map_err(|_| "The report could not be rendered.")?
    .map_err(|_| "The data archive could not be written.")?;

    let token = {
        use rand::Rng;
        format!("{:016x}", rand::thread_rng().r#gen::<u64>())
    };
    let dir = PathBuf::from("review-packs").join(tenant.to_string());
    let html_rel = dir.join(format!("{pack}-{token}.html"));
    let zip_rel = dir.join(format!("{pack}-{token}.zip"));
    for (rel, bytes) in [(&html_rel, &html), (&zip_rel, &zip)] {
        write_file(&svc.data_dir, rel, bytes).await.map_err(|e| {
            tracing::warn!(error = %e, "review pack file could not be written");
            "The pack's files could not be written to the data directory."
        })?;
    }
    let now = svc.now();
    let summary = serde_json::json!({ "rows": rows }).to_string();
    let updated = sqlx::query(
        "UPDATE review_packs SET status = 'ready', html_path = $2, html_size = $3, zip_path = $4,
             zip_size = $5, generated_at = $6, expires_at = $7, summary = $8, failure_summary = NULL
         WHERE id = $1 AND status = 'generating'",
    )
    .bind(pack)
    .bind(html_rel.to_string_lossy().to_string())
    .bind(html.len() as i64)
    .bind(zip_rel.to_string_lossy().to_string())
    .bind(zip.len() as i64)
    .bind(now)
    .bind(now + svc.settings.review_pack_ttl_ms)
    .bind(summary)
    .execute(&mut *svc.store.write().await.map_err(stored)?)
    .await
    .map_err(|e| stored(e.into()))?
    .rows_affected();
    if updated == 0 {
        for rel in [&html_rel, &zip_rel] {
            let _ = tokio::fs::remove_file(svc.data_dir.join(rel)).await;
        }
        return Err("The pack changed while it was generated.");
    }
    Ok(Completion::succeeded(SummaryCounts(vec![
        ("sections".into(), sections.len() as i64),
        ("rows".into(), rows),
        ("html_bytes".into(), html.len() as i64),
        ("zip_bytes".into(), zip.len() as i64),
    ])))
}

async fn write_file(root: &Path, rel: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let tmp = path.with_extension("partial");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, &path).await
}

/// A time in the requester's zone with its UTC instant (packs leave
/// Tenantry and are read later, by others).
fn shown(ms: i64, zone: Option<&str>) -> String {
    crate::time_zones::format_with_utc(ms, zone)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// Everything the chosen sections show, read from what Tenantry stored.
async fn gather(
    svc: &Services,
    tenant: TenantId,
    sections: &[Section],
    zone: Option<&str>,
) -> AppResult<PackData> {
    let (name, ms_id, ws_name): (String, String, String) = sqlx::query_as(
        "SELECT t.display_name, t.microsoft_tenant_id, w.name FROM tenants t
         JOIN workspaces w ON w.id = t.workspace_id WHERE t.id = $1",
    )
    .bind(tenant.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?
    .ok_or(AppError::NotFound)?;
    let mut out = Vec::new();
    for section in sections {
        let data = match section {
            Section::Verification => verification(svc, tenant, zone).await?,
            Section::Inventory => inventory(svc, tenant, zone).await?,
            Section::Compliance => compliance(svc, tenant, zone).await?,
            Section::Directory => directory(svc, tenant, zone).await?,
            Section::Operations => operations(svc, tenant, zone).await?,
            Section::Changes => changes(svc, tenant, zone).await?,
        };
        out.push(data);
    }
    Ok(PackData {
        tenant_name: name,
        microsoft_tenant_id: ms_id,
        workspace_name: ws_name,
        generated_at: svc.now(),
        zone: zone.map(str::to_string),
        sections: out,
    })
}

fn section(section: Section) -> SectionData {
    SectionData {
        section,
        facts: Vec::new(),
        empty: None,
        tables: Vec::new(),
    }
}

async fn verification(
    svc: &Services,
    tenant: TenantId,
    zone: Option<&str>,
) -> AppResult<SectionData> {
    let mut s = section(Section::Verification);
    let row: Option<(i64, i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT run_id, checked_at, outcome, report FROM verification_reports v
             WHERE tenant_id = $1 AND {} ORDER BY id DESC LIMIT 1",
        crate::runs::sql::finished("v")
    )))
    .bind(tenant.0)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let Some((run, at, outcome, report)) = row else {
        s.empty = Some("The tenant has not been verified yet.".into());
        return Ok(s);
    };
    let checks: Vec<crate::provider::Check> =
        serde_json::from_str(&report).map_err(|_| AppError::Internal)?;
    s.facts = vec![
        ("Checked".into(), shown(at, zone)),
        ("Outcome".into(), outcome.replace('_', " ")),
        ("Run".into(), format!("#{run}")),
    ];
    s.tables.push(Table {
        file: "verification",
        title: "Checks",
        columns: vec!["check", "result", "detail"],
        rows: checks
            .into_iter()
            .map(|c| vec![c.name, c.status.label().to_string(), c.detail])
            .collect(),
    });
    Ok(s)
}

async fn inventory(svc: &Services, tenant: TenantId, zone: Option<&str>) -> AppResult<SectionData> {
    let mut s = section(Section::Inventory);
    let snap: Option<(i64, i64, i64, i64, i64, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT id, run_id, taken_at, device_configurations, compliance_policies, managed_devices
         FROM inventory_snapshots s WHERE tenant_id = $1 AND {} ORDER BY id DESC LIMIT 1",
        crate::runs::sql::published("s")
    )))
        .bind(tenant.0)
        .fetch_optional(&mut *svc.store.read().await?)
        .await?;
    let Some((id, run, at, configs, policies, devices)) = snap else {
        s.empty = Some("No inventory sync has finished for this tenant yet.".into());
        return Ok(s);
    };
    s.facts = vec![
        ("As of".into(), shown(at, zone)),
        ("Inventory run".into(), format!("#{run}")),
        ("Device configurations".into(), configs.to_string()),
        ("Compliance policies".into(), policies.to_string()),
        ("Managed devices".into(), devices.to_string()),
    ];
    let rows: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT kind, external_id, display_name, platform, detail, modified FROM inventory_items
         WHERE snapshot_id = $1 ORDER BY kind, display_name, id",
    )
    .bind(id)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let (policy_rows, device_rows): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|r| r.0 != "managed_device");
    s.tables.push(Table {
        file: "policies",
        title: "Policies",
        columns: vec!["kind", "id", "name", "platform", "description", "modified"],
        rows: policy_rows
            .into_iter()
            .map(|(k, id, n, p, d, m)| {
                vec![k.replace('_', " "), id, n, p, d, m.unwrap_or_default()]
            })
            .collect(),
    });
    s.tables.push(Table {
        file: "devices",
        title: "Managed devices",
        columns: vec!["id", "name", "platform", "user", "last_sync"],
        rows: device_rows
            .into_iter()
            .map(|(_, id, n, p, d, m)| vec![id, n, p, d, m.unwrap_or_default()])
            .collect(),
    });
    Ok(s)
}

async fn compliance(
    svc: &Services,
    tenant: TenantId,
    zone: Option<&str>,
) -> AppResult<SectionData> {
    let mut s = section(Section::Compliance);
    let snap: Option<(i64, i64, i64, i64, i64, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
            "SELECT id, taken_at, compliant, noncompliant, in_grace_period, other
         FROM compliance_snapshots s WHERE tenant_id = $1 AND {} ORDER BY id DESC LIMIT 1",
            crate::runs::sql::published("s")
        )))
        .bind(tenant.0)
        .fetch_optional(&mut *svc.store.read().await?)
        .await?;
    let Some((id, at, ok, bad, grace, other)) = snap else {
        s.empty = Some("No compliance snapshot has been taken for this tenant yet.".into());
        return Ok(s);
    };
    s.facts = vec![
        ("As of".into(), shown(at, zone)),
        ("Compliant".into(), ok.to_string()),
        ("Not compliant".into(), bad.to_string()),
        ("In grace period".into(), grace.to_string()),
        ("Other states".into(), other.to_string()),
    ];
    let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT device_name, user_principal_name, operating_system, compliance_state, last_sync
         FROM compliance_devices WHERE snapshot_id = $1
         ORDER BY CASE WHEN compliance_state = 'compliant' THEN 1 ELSE 0 END, device_name, id",
    )
    .bind(id)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    s.tables.push(Table {
        file: "compliance",
        title: "Devices (not compliant first)",
        columns: vec!["device", "user", "os", "state", "last_sync"],
        rows: rows
            .into_iter()
            .map(|(d, u, o, st, l)| vec![d, u, o, st, l.unwrap_or_default()])
            .collect(),
    });
    Ok(s)
}

async fn directory(
    svc: &Services,
    tenant: TenantId,
    _zone: Option<&str>,
) -> AppResult<SectionData> {
    let mut s = section(Section::Directory);
    use crate::provider::data::latest_published_run;
    use crate::runs::sql::published;
    let groups: Vec<(String, String, String, Option<String>, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT external_id, display_name, group_kind, mail, description FROM directory_groups d
         WHERE tenant_id = $1 AND run_id = ({}) AND {} ORDER BY search_name, id",
        latest_published_run("directory_groups"),
        published("d")
    )))
        .bind(tenant.0)
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
    let roles: Vec<(String, String, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT external_id, display_name, is_builtin, is_enabled, description FROM role_definitions d
         WHERE tenant_id = $1 AND run_id = ({}) AND {} ORDER BY search_name, id",
        latest_published_run("role_definitions"),
        published("d")
    )))
    .bind(tenant.0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    if groups.is_empty() && roles.is_empty() {
        s.empty = Some("Groups and role definitions have not been synced yet.".into());
    }
    s.facts = vec![
        ("Groups".into(), groups.len().to_string()),
        ("Role definitions".into(), roles.len().to_string()),
    ];
    s.tables.push(Table {
        file: "groups",
        title: "Groups",
        columns: vec!["id", "name", "kind", "mail", "description"],
        rows: groups
            .into_iter()
            .map(|(id, n, k, m, d)| vec![id, n, k, m.unwrap_or_default(), d])
            .collect(),
    });
    s.tables.push(Table {
        file: "roles",
        title: "Role definitions",
        columns: vec!["id", "name", "built_in", "enabled", "description"],
        rows: roles
            .into_iter()
            .map(|(id, n, b, e, d)| vec![id, n, yes_no(b != 0), yes_no(e != 0), d])
            .collect(),
    });
    Ok(s)
}

/// What the inventory syncs of the last 30 days found changed: one row per
/// setting of a changed policy, one per added or removed policy.
async fn changes(svc: &Services, tenant: TenantId, zone: Option<&str>) -> AppResult<SectionData> {
    let mut s = section(Section::Changes);
    let since = svc.now() - 30 * 24 * 60 * 60 * 1000;
    let rows: Vec<(i64, String, String, String, String, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
            "SELECT d.detected_at, d.change, d.kind, d.external_id, d.display_name, d.settings
             FROM drift_entries d WHERE d.tenant_id = $1 AND d.detected_at >= $2 AND {}
             ORDER BY d.detected_at DESC, d.id DESC LIMIT 5000",
            crate::runs::sql::published("d")
        )))
        .bind(tenant.0)
        .bind(since)
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
    if rows.is_empty() {
        s.empty = Some(
            "No policy changed in the last 30 days (or fewer than two inventory syncs ran).".into(),
        );
        return Ok(s);
    }
    let count = |c: &str| rows.iter().filter(|r| r.1 == c).count().to_string();
    s.facts = vec![
        ("Added".into(), count("added")),
        ("Removed".into(), count("removed")),
        ("Changed".into(), count("changed")),
    ];
    let mut table = Vec::new();
    for (at, change, kind, id, name, settings) in rows {
        let deltas: Vec<crate::drift::SettingDelta> =
            serde_json::from_str(&settings).unwrap_or_default();
        let base = |setting: String, before: String, after: String| {
            vec![
                shown(at, zone),
                change.clone(),
                kind.replace('_', " "),
                id.clone(),
                name.clone(),
                setting,
                before,
                after,
            ]
        };
        if deltas.is_empty() {
            table.push(base(String::new(), String::new(), String::new()));
        }
        for d in deltas {
            table.push(base(
                d.setting,
                d.before.unwrap_or_default(),
                d.after.unwrap_or_default(),
            ));
        }
    }
    s.tables.push(Table {
        file: "changes",
        title: "Policy changes",
        columns: vec![
            "found", "change", "kind", "id", "name", "setting", "before", "after",
        ],
        rows: table,
    });
    Ok(s)
}

async fn operations(
    svc: &Services,
    tenant: TenantId,
    zone: Option<&str>,
) -> AppResult<SectionData> {
    let mut s = section(Section::Operations);
    let now = svc.now();
    let since = now - 30 * 24 * 60 * 60 * 1000;
    let rows = sqlx::query(
        "SELECT r.id, r.op_type, r.status, r.outcome, r.created_at, r.started_at, r.lease_expires_at,
                r.reconciliation, r.cancel_requested_at, r.reason_code, r.initiator_kind, u.email
         FROM operation_runs r LEFT JOIN users u ON u.id = r.initiator_user_id
         WHERE r.tenant_id = $1 AND r.created_at >= $2 ORDER BY r.created_at DESC, r.id DESC LIMIT 5000",
    )
    .bind(tenant.0)
    .bind(since)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut table = Vec::with_capacity(rows.len());
    let mut follow_up = 0;
    for r in &rows {
        let (truth, _, cancel) = truth_of_row(r)?;
        if truth.problem_class(now).is_some() {
            follow_up += 1;
        }
        let headline = presenter::headline_of(&truth, cancel, now);
        let reason = r
            .try_get::<Option<String>, _>("reason_code")?
            .and_then(|c| c.parse::<ReasonCode>().ok())
            .map(|c| c.message().to_string())
            .unwrap_or_default();
        let by = r
            .try_get::<Option<String>, _>("email")?
            .unwrap_or_else(|| r.try_get::<String, _>("initiator_kind").unwrap_or_default());
        table.push(vec![
            format!("#{}", r.try_get::<i64, _>("id")?),
            truth.op_type.label().to_string(),
            headline.label,
            shown(truth.created_at, zone),
            by,
            reason,
        ]);
    }
    s.facts = vec![
        (
            "Operations in the last 30 days".into(),
            rows.len().to_string(),
        ),
        (
            "Needing follow-up or looking stuck".into(),
            follow_up.to_string(),
        ),
    ];
    s.tables.push(Table {
        file: "operations",
        title: "Operations",
        columns: vec!["run", "operation", "status", "started", "by", "reason"],
        rows: table,
    });
    Ok(s)
}
