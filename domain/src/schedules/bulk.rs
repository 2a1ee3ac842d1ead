//! One start of an operation on many tenants, from the tenant list. The
//! tenants are decided here on the server: a tag, the list's filter ("all
//! matching"), or checked rows re-read as active tenants of this workspace the
//! member may see (a row that is not theirs makes the whole request 404).
//! Each tenant then goes through the gate as the member (`Initiator::Bulk`);
//! the bulk record keeps every decision, its page lists them, the overlay
//! shows it as one entry, and its member gets one notification when every run
//! it started has ended (the `bulk_starts` sweep), not one per run.

use super::admission::{self, Ledger, Plan, Starter};
use super::service::active_targets;
use super::{BulkChild, BulkPage, BulkView, Target, bulk_startable};
use crate::access::{self, Actor};
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{BulkStartId, TagId, TenantId, UserId, WorkspaceId};
use crate::rbac::Capability;
use crate::runs::OperationType;
use crate::runs::filter::RunFilter;
use crate::runs::monitoring::Viewer;
use crate::runs::next_steps::{NextStep, StepLink};
use crate::runs::presenter::{Toast, Tone};
use crate::services::Services;
use crate::views::AuditAction;
use std::collections::HashMap;
use std::sync::Arc;

/// A bulk not admitted this long after it began was cut short.
const INTERRUPTED_AFTER_MS: i64 = 10 * 60_000;

/// The most tenants one bulk may name by checked rows.
const MAX_CHECKED: usize = 5_000;

/// Which tenants, as the form said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The rows the member checked (re-read on the server).
    Checked(Vec<TenantId>),
    /// Every tenant carrying the tag.
    Tag(TagId),
    /// Everything the tenant list shows under its filter (`tag=ID` or none).
    Matching { tag: Option<TagId> },
}

impl Selection {
    /// The form's `target` (`checked`, `tag:ID`, `filter:` + the list's
    /// query) and the checked rows.
    pub fn parse(target: &str, checked: Vec<TenantId>) -> AppResult<Selection> {
        let refuse = || AppError::invalid("target", "Choose which tenants to start it on.");
        let target = target.trim();
        if target == "checked" {
            if checked.is_empty() {
                return Err(AppError::invalid(
                    "target",
                    "Check at least one tenant in the list, or choose a tag or every tenant listed.",
                ));
            }
            if checked.len() > MAX_CHECKED {
                return Err(AppError::invalid(
                    "target",
                    "Too many rows checked: choose a tag or every tenant listed instead.",
                ));
            }
            return Ok(Selection::Checked(checked));
        }
        if let Some(id) = target.strip_prefix("tag:") {
            return id.parse().map(Selection::Tag).map_err(|_| refuse());
        }
        if let Some(query) = target.strip_prefix("filter:") {
            let mut tag = None;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("tag", v)) if !v.is_empty() => {
                        tag = Some(v.parse().map_err(|_| refuse())?)
                    }
                    Some(("tag", _)) => {}
                    _ => return Err(refuse()),
                }
            }
            return Ok(Selection::Matching { tag });
        }
        Err(refuse())
    }
}

/// The tenants a selection stands for, decided here, in id order, with the
/// selection in words. 404 for a tag or a checked row that is not this
/// member's to see.
async fn resolve(
    svc: &Services,
    ws: WorkspaceId,
    visible_to: Option<UserId>,
    selection: &Selection,
) -> AppResult<(Vec<TenantId>, String)> {
    let tag_name = |tag: TagId| async move {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT name FROM tags WHERE id = $1 AND workspace_id = $2")
                .bind(tag.0)
                .bind(ws.0)
                .fetch_optional(&mut *svc.store.read().await?)
                .await?;
        row.map(|r| r.0).ok_or(AppError::NotFound)
    };
    match selection {
        Selection::Tag(tag) => {
            let name = tag_name(*tag).await?;
            let tenants = active_targets(svc, ws, Target::Tag(*tag), visible_to).await?;
            Ok((tenants, format!("Tag: {name}")))
        }
        Selection::Matching { tag: Some(tag) } => {
            let name = tag_name(*tag).await?;
            let tenants = active_targets(svc, ws, Target::Tag(*tag), visible_to).await?;
            Ok((tenants, format!("Every tenant listed with the tag {name}")))
        }
        Selection::Matching { tag: None } => {
            let tenants = active_targets(svc, ws, Target::AllActive, visible_to).await?;
            Ok((tenants, "Every tenant listed".into()))
        }
        Selection::Checked(ids) => {
            let mut wanted: Vec<TenantId> = ids.clone();
            wanted.sort_by_key(|t| t.0);
            wanted.dedup();
            // Every checked row must be a tenant of this workspace the member
            // may see; inactive ones are kept so the gate records them blocked.
            let mut conn = svc.store.read().await?;
            let mut found = Vec::with_capacity(wanted.len());
            for chunk in wanted.chunks(500) {
                let mut sql = String::from("SELECT t.id FROM tenants t WHERE t.workspace_id = $1");
                if visible_to.is_some() {
                    sql.push_str(
                        " AND t.id IN (SELECT a.tenant_id FROM tenant_assignments a WHERE a.user_id = $2)",
                    );
                }
                let first = if visible_to.is_some() { 3 } else { 2 };
                let list: Vec<String> = (0..chunk.len())
                    .map(|i| format!("${}", first + i))
                    .collect();
                sql.push_str(&format!(" AND t.id IN ({}) ORDER BY t.id", list.join(", ")));
                let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(ws.0);
                if let Some(u) = visible_to {
                    q = q.bind(u.0);
                }
                for t in chunk {
                    q = q.bind(t.0);
                }
                found.extend(
                    q.fetch_all(&mut *conn)
                        .await?
                        .into_iter()
                        .map(|r| TenantId(r.0)),
                );
            }
            if found.len() != wanted.len() {
                return Err(AppError::NotFound);
            }
            let words = match found.len() {
                1 => "1 checked tenant".to_string(),
                n => format!("{n} checked tenants"),
            };
            Ok((found, words))
        }
    }
}

/// Starts `op_type` on every tenant of `selection`: authorization first (404
/// for another workspace, 403 for a role that may not start it), one limited
/// bulk per member, then each tenant through the gate. Answers the bulk.
pub async fn start(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    op_type: &str,
    selection: Selection,
) -> AppResult<BulkView> {
    let op_type = op_type
        .parse::<OperationType>()
        .ok()
        .filter(|op| bulk_startable().contains(op))
        .ok_or_else(|| AppError::invalid("op_type", "Choose an operation to start."))?;
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        op_type.spec().capability,
        AuditAction::BulkStarted,
        op_type.label(),
    )
    .await?;
    let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
    let (tenants, words) = resolve(svc, access.id(), visible_to, &selection).await?;
    start_admitted(
        svc,
        actor,
        &access,
        op_type,
        tenants,
        words,
        serde_json::json!({}),
    )
    .await
}

/// Starts `op_type` with `args` on `tenants` the member was authorised for
/// (`access` holds the operation's capability; every tenant is one they
/// may see): one limited bulk record, then admission on its own task.
pub(crate) async fn start_admitted(
    svc: &Services,
    actor: &Actor,
    access: &access::WorkspaceAccess,
    op_type: OperationType,
    tenants: Vec<TenantId>,
    words: String,
    args: serde_json::Value,
) -> AppResult<BulkView> {
    if tenants.is_empty() {
        return Err(AppError::invalid(
            "target",
            "No active tenant matches that choice: nothing to start.",
        ));
    }
    let now = svc.now();
    let mut tx = AuditedTx::begin(svc, now).await?;
    crate::limits::take(
        &mut tx,
        &svc.settings.limits,
        crate::limits::Limited::BulkStarts,
        actor.user_id,
        now,
    )
    .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO bulk_starts (workspace_id, op_type, selection, initiator_user_id, created_at, targets)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(access.id().0)
    .bind(op_type.as_str())
    .bind(&words)
    .bind(actor.user_id.0)
    .bind(now)
    .bind(tenants.len() as i64)
    .fetch_one(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::BulkStarted,
        format!("{} on {words}", op_type.label()),
        Some(format!("{} tenants · bulk #{id}", tenants.len())),
    ))
    .await?;
    let bulk = BulkStartId(id);
    // Admission runs on its own task: a member who closes the tab (or a
    // request timeout) does not cut a bulk off halfway; the answer waits for it.
    let task_svc = svc.clone();
    let member = Arc::new(actor.clone());
    let admitting = tokio::spawn(crate::store::one_unit(async move {
        admission::admit(
            &task_svc,
            Ledger::Bulk(bulk),
            Starter::Member(member, Arc::new(args)),
            Plan {
                op_type,
                start_at: now,
                spread_ms: 0,
            },
            &tenants,
            &Default::default(),
        )
        .await?;
        sqlx::query("UPDATE bulk_starts SET admitted_at = $2 WHERE id = $1")
            .bind(id)
            .bind(task_svc.now())
            .execute(&mut *task_svc.store.write().await?)
            .await?;
        AppResult::Ok(())
    }));
    admitting.await.map_err(|_| AppError::Internal)??;
    view_of(svc, access.id(), bulk, None)
        .await?
        .ok_or(AppError::Internal)
}

/// The bulk with its progress (None: not in this workspace); with
/// `visible_to`, over the targets that member may see.
pub(crate) async fn view_of(
    svc: &Services,
    ws: WorkspaceId,
    bulk: BulkStartId,
    visible_to: Option<UserId>,
) -> AppResult<Option<BulkView>> {
    let mut conn = svc.store.read().await?;
    type Row = (String, String, Option<String>, i64, i64, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT b.op_type, b.selection, u.email, b.created_at, b.targets, b.admitted_at
         FROM bulk_starts b LEFT JOIN users u ON u.id = b.initiator_user_id
         WHERE b.id = $1 AND b.workspace_id = $2",
    )
    .bind(bulk.0)
    .bind(ws.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((op, selection, email, created_at, targets, admitted)) = row else {
        return Ok(None);
    };
    let op_type: OperationType = op.parse().map_err(|_| AppError::Internal)?;
    let mut progress = super::progress::of_ledger(&mut conn, Ledger::Bulk(bulk), None).await?;
    progress.targets = targets;
    if let Some(user) = visible_to {
        // The member's share: their tenants only (the others are counted
        // as "not assigned to you" on the page).
        let mine = super::progress::of_ledger(&mut conn, Ledger::Bulk(bulk), Some(user)).await?;
        let hidden = progress.decided_total() - mine.decided_total();
        progress = super::progress::Progress {
            targets: (targets - hidden).max(mine.decided_total()),
            ..mine
        };
    }
    Ok(Some(BulkView {
        id: bulk,
        op_label: op_type.label().to_string(),
        op_type,
        selection,
        started_by: email,
        created_at,
        targets,
        progress,
        admitted: admitted.is_some(),
    }))
}

/// The bulk's page: its counts and every tenant's decision with its run's
/// headline, for the tenants this member may see (404: not in this workspace).
pub async fn page(svc: &Services, actor: &Actor, bulk: BulkStartId) -> AppResult<BulkPage> {
    let ws: Option<(i64,)> = sqlx::query_as("SELECT workspace_id FROM bulk_starts WHERE id = $1")
        .bind(bulk.0)
        .fetch_optional(&mut *svc.store.read().await?)
        .await?;
    let ws = WorkspaceId(ws.ok_or(AppError::NotFound)?.0);
    let access = access::workspace(svc, actor, ws, Capability::OperationsView)
        .await
        // Not a member there: the bulk is not theirs to know about.
        .map_err(|e| {
            if e == AppError::Forbidden {
                e
            } else {
                AppError::NotFound
            }
        })?;
    let everyone = view_of(svc, ws, bulk, None)
        .await?
        .ok_or(AppError::NotFound)?;
    let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
    let view = match visible_to {
        Some(_) => view_of(svc, ws, bulk, visible_to)
            .await?
            .ok_or(AppError::NotFound)?,
        None => everyone.clone(),
    };
    let viewer = Viewer::member(&access, actor);
    let filter = RunFilter {
        bulk: Some(bulk),
        ..RunFilter::default()
    };
    let now = svc.now();
    let runs = crate::runs::monitoring::runs(svc, &viewer, &filter, None, view.targets.max(1), now)
        .await?;
    let mut by_id: HashMap<i64, crate::runs::views::RunRow> =
        runs.into_iter().map(|r| (r.id.0, r)).collect();
    let rows: Vec<(i64, String, String, Option<i64>)> = {
        let mut sql = String::from(
            "SELECT bt.tenant_id, COALESCE(t.display_name, ''), bt.decision, bt.run_id
             FROM bulk_start_targets bt LEFT JOIN tenants t ON t.id = bt.tenant_id
             WHERE bt.bulk_id = $1",
        );
        if !access.role().sees_all_tenants() {
            sql.push_str(" AND bt.tenant_id IN (SELECT a.tenant_id FROM tenant_assignments a WHERE a.user_id = $2)");
        }
        sql.push_str(" ORDER BY t.display_name, bt.tenant_id");
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(bulk.0);
        if !access.role().sees_all_tenants() {
            q = q.bind(actor.user_id.0);
        }
        q.fetch_all(&mut *svc.store.read().await?).await?
    };
    let hidden = everyone.progress.decided_total() - rows.len() as i64;
    let children = rows
        .into_iter()
        .map(|(tenant, name, decision, run)| BulkChild {
            tenant: TenantId(tenant),
            tenant_name: name,
            decision,
            run: run.and_then(|r| by_id.remove(&r)),
        })
        .collect();
    Ok(BulkPage {
        bulk: view,
        children,
        hidden,
    })
}

/// The toast of a bulk start: the public words with their counts, a link
/// to the bulk and one to each kind of tenant that did not start.
pub fn present(bulk: &BulkView) -> Toast {
    let d = bulk.progress.decided;
    let tenants = |n: i64| {
        if n == 1 {
            "1 tenant".to_string()
        } else {
            format!("{n} tenants")
        }
    };
    // "Started on 0 tenants" says nothing: the counts that are there say it all.
    let mut parts = Vec::new();
    if d.queued > 0 {
        parts.push(format!("Started on {}", tenants(d.queued)));
    }
    for (n, word) in [
        (d.already_running, "already running"),
        (d.scope_busy, "scope busy"),
        (d.blocked, "blocked"),
        (d.skipped, "skipped (no longer there)"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let mut next_steps = Vec::new();
    let hub = bulk.hub_link();
    if d.already_running + d.scope_busy > 0 {
        next_steps.push(NextStep {
            text: "Tenants already busy keep the run they had; see them in the list.".into(),
            link: Some(StepLink {
                label: "See the runs that were already there".into(),
                href: format!("{hub}&tab=active"),
            }),
            start: None,
        });
    }
    if d.blocked > 0 {
        next_steps.push(NextStep {
            text: "Blocked tenants need their connection fixed first; each blocked run says what to do.".into(),
            link: Some(StepLink {
                label: "See the blocked tenants".into(),
                href: format!("{hub}&outcome=blocked"),
            }),
            start: None,
        });
    }
    let (title, tone) = if d.queued > 0 {
        ("Queued", Tone::Info)
    } else if d.already_running > 0 {
        ("Already running", Tone::Neutral)
    } else if d.scope_busy > 0 {
        ("Scope busy", Tone::Warning)
    } else {
        ("Blocked", Tone::Danger)
    };
    Toast {
        tone,
        title: title.into(),
        body: format!("{} · {}.", bulk.op_label, parts.join(" · ")),
        link: bulk.link(),
        link_label: "See progress for every tenant".into(),
        next_steps,
    }
}

/// The sweep: for each bulk not yet reported whose every target has ended
/// (its run, the run it joined or the run holding its scope; and its
/// admission, or the admission was cut short), one notification to its
/// member with every target's result, then it is reported, once. A bulk
/// whose starts were all blocked is reported too.
pub async fn notify_finished(svc: Services) -> AppResult<u64> {
    let candidates: Vec<(i64, i64, Option<i64>, Option<i64>)> = sqlx::query_as(concat!(
        "SELECT b.id, b.workspace_id, b.initiator_user_id, b.admitted_at FROM bulk_starts b
         WHERE b.notified_at IS NULL AND (b.admitted_at IS NOT NULL OR b.created_at < $1)
           AND NOT EXISTS (SELECT 1 FROM bulk_start_targets bt JOIN operation_runs r ON r.id = bt.run_id
                           WHERE bt.bulk_id = b.id AND bt.decision <> 'blocked' AND ",
        crate::runs::sql::active_run!("r"),
        ")
         ORDER BY b.id LIMIT 50"
    ))
    // An admission cut short (the request's process died) is reported on
    // what it reached, once it is clearly not going on.
    .bind(svc.now() - INTERRUPTED_AFTER_MS)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut sent = 0;
    for (id, ws, user, admitted) in candidates {
        if admitted.is_none() {
            // Runs its admission started but never recorded count too.
            Ledger::Bulk(BulkStartId(id)).recorded(&svc).await?;
        }
        let Some(view) = view_of(&svc, WorkspaceId(ws), BulkStartId(id), None).await? else {
            continue;
        };
        if view.progress.running > 0 {
            // A recovered run is still going: next beat.
            continue;
        }
        let now = svc.now();
        let mut tx = svc.store.begin().await?;
        // One reporter, whichever process sweeps first.
        let claimed = sqlx::query(
            "UPDATE bulk_starts SET notified_at = $2 WHERE id = $1 AND notified_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if claimed == 1 {
            let p = view.progress;
            if let Some(user) = user {
                let tone = if p.headline() == "Succeeded" {
                    Tone::Success
                } else {
                    Tone::Warning
                };
                let body = format!(
                    "{} on {}: {}.{}",
                    view.op_label,
                    view.selection,
                    p.tally(),
                    if view.admitted {
                        ""
                    } else {
                        " The start was interrupted: the tenants it did not reach were not started."
                    }
                );
                let link = view.link();
                crate::notifications::insert(
                    &mut tx,
                    crate::notifications::NewNotification {
                        user: UserId(user),
                        workspace: WorkspaceId(ws),
                        run: None,
                        tone,
                        title: p.headline(),
                        body: &body,
                        link: &link,
                        next_steps: &[],
                    },
                    now,
                )
                .await?;
                sent += 1;
            }
            tx.commit().await?;
            count_finished(&p);
        } else {
            tx.commit().await?;
        }
    }
    Ok(sent)
}

/// `tenantry_bulk_targets_finished_total` by result, once per finished bulk
/// (the same [`super::progress::Progress`] the notification words).
fn count_finished(p: &super::progress::Progress) {
    for (result, n) in [
        ("succeeded", p.succeeded),
        ("partially_succeeded", p.partially_succeeded),
        ("failed", p.failed),
        ("cancelled", p.cancelled),
        ("blocked", p.blocked),
        ("not_started", p.not_started),
        ("skipped", p.skipped),
    ] {
        if n > 0 {
            metrics::counter!(crate::telemetry::BULK_TARGETS_FINISHED, "result" => result)
                .increment(n as u64);
        }
    }
}

/// The progress overlay: the member's active runs, with each bulk start
/// still moving as one entry (its bar: targets ended of targets, from the
/// same [`super::progress::Progress`] as its page and notification).
pub async fn overlay(svc: &Services, actor: &Actor) -> AppResult<crate::runs::views::ActiveRuns> {
    match access::current_workspace_with(svc, actor, Capability::OperationsView).await? {
        Some(access) => overlay_in(svc, &access, actor).await,
        None => Ok(Default::default()),
    }
}

/// [`overlay`] in a workspace the caller already resolved.
pub async fn overlay_in(
    svc: &Services,
    access: &access::WorkspaceAccess,
    actor: &Actor,
) -> AppResult<crate::runs::views::ActiveRuns> {
    let mut overlay = crate::runs::monitoring::active_runs_in(svc, access, actor).await?;
    overlay.bulks = moving_bulks(svc, access, actor).await?;
    Ok(overlay)
}

/// Bulk starts not yet reported that are still moving, newest first.
async fn moving_bulks(
    svc: &Services,
    access: &access::WorkspaceAccess,
    actor: &Actor,
) -> AppResult<Vec<crate::runs::views::ActiveBulk>> {
    const SHOWN: usize = 5;
    let sees_all = access.role().sees_all_tenants();
    let mut conn = svc.store.read().await?;
    let bulks: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, op_type, selection, targets, admitted_at FROM bulk_starts
         WHERE workspace_id = $1 AND notified_at IS NULL ORDER BY id DESC LIMIT 50",
    )
    .bind(access.id().0)
    .fetch_all(&mut *conn)
    .await?;
    if bulks.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = String::from(
        "SELECT b.id, bt.decision, r.status, r.outcome, COUNT(*)
         FROM bulk_starts b JOIN bulk_start_targets bt ON bt.bulk_id = b.id
         LEFT JOIN operation_runs r ON r.id = bt.run_id
         WHERE b.workspace_id = $1 AND b.notified_at IS NULL",
    );
    if !sees_all {
        sql.push_str(
            " AND bt.tenant_id IN (SELECT a.tenant_id FROM tenant_assignments a WHERE a.user_id = $2)",
        );
    }
    sql.push_str(" GROUP BY b.id, bt.decision, r.status, r.outcome");
    let mut q = sqlx::query_as::<_, super::progress::Row<i64>>(sqlx::AssertSqlSafe(sql))
        .bind(access.id().0);
    if !sees_all {
        q = q.bind(actor.user_id.0);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let mut progress = super::progress::fold_rows(&rows);
    let mut out = Vec::new();
    for (id, op, selection, targets, admitted) in bulks {
        let Ok(op) = op.parse::<OperationType>() else {
            continue;
        };
        let mut p = progress.remove(&id).unwrap_or_default();
        // Members who see every tenant see the whole bulk (tenants not
        // decided yet included); others their own tenants of it.
        p.targets = if sees_all { targets } else { p.decided_total() };
        if !p.moving(admitted.is_some()) || p.targets == 0 {
            continue;
        }
        out.push(crate::runs::views::ActiveBulk {
            id: BulkStartId(id),
            operation: op.label().to_string(),
            selection,
            done: p.ended(),
            total: p.targets.max(p.decided_total()),
            link: format!("/admin/bulk/{id}"),
        });
        if out.len() == SHOWN {
            break;
        }
    }
    Ok(out)
}

/// Registers the sweep with the engine.
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    c.with_sweep("bulk_starts", |svc| Box::pin(notify_finished(svc)));
}
