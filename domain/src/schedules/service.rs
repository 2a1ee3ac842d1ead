//! Schedules: create, change, pause, delete, list; and the sweep that fires
//! due slots (registered with the engine as the `schedules` sweep, run by
//! every process's reconciler beat).
//!
//! Exactly once: a fire is the row (schedule, slot) under a unique index, so
//! of any number of sweeping processes one inserts it. Missed slots (nothing
//! ran for a while) fold into one fire of the latest slot, which records how
//! many it stands for and says it was late. Targets are admitted through the
//! gate as `Initiator::Schedule`, each run carrying the fire as its origin,
//! and recorded per tenant, so a fire interrupted by a crash (between any two
//! of its writes) is finished by a later sweep after its lease without
//! starting anyone twice. Starts are admitted at once (every gate
//! rule checked at fire time, the scope held) and spread over the
//! schedule's window with the gate's `not_before`.

use super::admission::{self, Ledger, Plan, Starter};
use super::recurrence::Recurrence;
use super::{FireView, LATE_AFTER_MS, ScheduleView, SchedulesPage, Target, schedulable};
use crate::access::{self, Actor};
use crate::audit::{AuditedTx, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::{ScheduleFireId, ScheduleId, TagId, TenantId, WorkspaceId};
use crate::rbac::Capability;
use crate::runs::OperationType;
use crate::services::Services;
use crate::views::AuditAction;
use std::collections::BTreeMap;

/// A fire's lease: a sweep that finds a fire unfinished past this takes it over.
pub const FIRE_LEASE_MS: i64 = 120_000;
/// Schedules fired per sweep (the rest on the next beat).
const DUE_PER_SWEEP: i64 = 100;

/// The form, as typed.
#[derive(Debug, Clone, Default)]
pub struct ScheduleForm {
    pub name: String,
    pub op_type: String,
    pub target: String,
    pub cron: String,
    pub time_zone: String,
    pub spread_seconds: String,
}

struct Valid {
    name: String,
    op_type: OperationType,
    target: Target,
    recurrence: Recurrence,
    spread_ms: i64,
}

async fn validate(svc: &Services, ws: WorkspaceId, form: &ScheduleForm) -> AppResult<Valid> {
    let name = form.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 80 || crate::validate::has_forbidden_control(&name)
    {
        return Err(AppError::invalid(
            "name",
            "Name the schedule in 1 to 80 characters, e.g. Nightly inventory.",
        ));
    }
    let op_type = form
        .op_type
        .parse::<OperationType>()
        .ok()
        .filter(|op| schedulable().contains(op))
        .ok_or_else(|| AppError::invalid("op_type", "Choose an operation a schedule can start."))?;
    let target = Target::parse(&form.target).ok_or_else(|| {
        AppError::invalid("target", "Choose a tenant, a tag, or every active tenant.")
    })?;
    // Another workspace's tenant or tag does not exist here (404, as
    // everywhere); one of ours that cannot be targeted is the form's error.
    {
        let mut conn = svc.store.read().await?;
        match target {
            Target::AllActive => {}
            Target::Tenant(t) => {
                let status: Option<(String,)> = sqlx::query_as(
                    "SELECT status FROM tenants WHERE id = $1 AND workspace_id = $2",
                )
                .bind(t.0)
                .bind(ws.0)
                .fetch_optional(&mut *conn)
                .await?;
                match status {
                    None => return Err(AppError::NotFound),
                    Some((s,)) if s != "active" => {
                        return Err(AppError::invalid(
                            "target",
                            "That tenant is not active: activate it or choose another.",
                        ));
                    }
                    Some(_) => {}
                }
            }
            Target::Tag(t) => {
                let found: Option<(i64,)> =
                    sqlx::query_as("SELECT id FROM tags WHERE id = $1 AND workspace_id = $2")
                        .bind(t.0)
                        .bind(ws.0)
                        .fetch_optional(&mut *conn)
                        .await?;
                if found.is_none() {
                    return Err(AppError::NotFound);
                }
            }
        }
    }
    let recurrence = Recurrence::parse(&form.cron, &form.time_zone)?;
    let spread = form.spread_seconds.trim();
    let spread_ms = if spread.is_empty() {
        60_000
    } else {
        match spread.parse::<i64>() {
            Ok(s) if (0..=3600).contains(&s) => s * 1000,
            _ => {
                return Err(AppError::invalid(
                    "spread_seconds",
                    "Spread the starts over 0 to 3600 seconds.",
                ));
            }
        }
    };
    Ok(Valid {
        name,
        op_type,
        target,
        recurrence,
        spread_ms,
    })
}

/// The stored form of a target: its kind and its tenant or tag column.
pub(crate) fn target_columns(t: Target) -> (&'static str, Option<i64>, Option<i64>) {
    match t {
        Target::Tenant(id) => ("tenant", Some(id.0), None),
        Target::Tag(id) => ("tag", None, Some(id.0)),
        Target::AllActive => ("all", None, None),
    }
}

/// The next five slots, in the schedule's zone, for the form's preview.
pub fn preview(svc: &Services, cron: &str, time_zone: &str) -> AppResult<Vec<String>> {
    let r = Recurrence::parse(cron, time_zone)?;
    Ok(r.preview(svc.now(), 5)
        .into_iter()
        .map(|t| r.local(t))
        .collect())
}

pub async fn create(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    form: ScheduleForm,
) -> AppResult<ScheduleId> {
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::SchedulesManage,
        AuditAction::ScheduleCreated,
        form.name.chars().take(80).collect::<String>(),
    )
    .await?;
    let v = validate(svc, access.id(), &form).await?;
    let now = svc.now();
    let (kind, tenant, tag) = target_columns(v.target);
    let mut tx = AuditedTx::begin(svc, now).await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO schedules (workspace_id, name, op_type, target_kind, target_tenant_id, target_tag_id,
            cron, time_zone, enabled, spread_ms, created_by, created_at, updated_at, next_fire_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $11, $12) RETURNING id",
    )
    .bind(access.id().0)
    .bind(&v.name)
    .bind(v.op_type.as_str())
    .bind(kind)
    .bind(tenant)
    .bind(tag)
    .bind(v.recurrence.expression())
    .bind(v.recurrence.zone_name())
    .bind(v.spread_ms)
    .bind(actor.user_id.0)
    .bind(now)
    .bind(v.recurrence.next_after(now))
    .fetch_one(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::ScheduleCreated,
        v.name,
        Some(format!(
            "{} · {} {}",
            v.op_type.as_str(),
            v.recurrence.expression(),
            v.recurrence.zone_name()
        )),
    ))
    .await?;
    Ok(ScheduleId(id))
}

/// The schedule's name if it belongs to `ws` (404 otherwise), after a view check.
async fn name_of(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    schedule: ScheduleId,
) -> AppResult<String> {
    let access = access::workspace(svc, actor, ws, Capability::WorkspaceView).await?;
    let mut conn = svc.store.read().await?;
    let row: Option<(String,)> =
        sqlx::query_as("SELECT name FROM schedules WHERE id = $1 AND workspace_id = $2")
            .bind(schedule.0)
            .bind(access.id().0)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|r| r.0).ok_or(AppError::NotFound)
}

pub async fn update(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    schedule: ScheduleId,
    form: ScheduleForm,
) -> AppResult<()> {
    let old = name_of(svc, actor, ws, schedule).await?;
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::SchedulesManage,
        AuditAction::ScheduleUpdated,
        old,
    )
    .await?;
    let v = validate(svc, access.id(), &form).await?;
    let now = svc.now();
    let (kind, tenant, tag) = target_columns(v.target);
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "UPDATE schedules SET name = $3, op_type = $4, target_kind = $5, target_tenant_id = $6,
            target_tag_id = $7, cron = $8, time_zone = $9, spread_ms = $10, updated_at = $11,
            next_fire_at = CASE WHEN enabled = 1 THEN $12 ELSE NULL END
         WHERE id = $1 AND workspace_id = $2",
    )
    .bind(schedule.0)
    .bind(access.id().0)
    .bind(&v.name)
    .bind(v.op_type.as_str())
    .bind(kind)
    .bind(tenant)
    .bind(tag)
    .bind(v.recurrence.expression())
    .bind(v.recurrence.zone_name())
    .bind(v.spread_ms)
    .bind(now)
    .bind(v.recurrence.next_after(now))
    .execute(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::ScheduleUpdated,
        v.name,
        Some(format!(
            "{} {}",
            v.recurrence.expression(),
            v.recurrence.zone_name()
        )),
    ))
    .await
}

/// Pauses or resumes. A paused schedule never fires; resuming starts from
/// the next slot (the slots it was paused through are not made up).
pub async fn set_enabled(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    schedule: ScheduleId,
    enabled: bool,
) -> AppResult<()> {
    let action = if enabled {
        AuditAction::ScheduleResumed
    } else {
        AuditAction::SchedulePaused
    };
    let name = name_of(svc, actor, ws, schedule).await?;
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::SchedulesManage,
        action,
        name.clone(),
    )
    .await?;
    let now = svc.now();
    let (cron, zone): (String, String) = {
        let mut conn = svc.store.read().await?;
        sqlx::query_as("SELECT cron, time_zone FROM schedules WHERE id = $1")
            .bind(schedule.0)
            .fetch_one(&mut *conn)
            .await?
    };
    let next = if enabled {
        Recurrence::parse(&cron, &zone)
            .ok()
            .and_then(|r| r.next_after(now))
    } else {
        None
    };
    let mut tx = AuditedTx::begin(svc, now).await?;
    sqlx::query(
        "UPDATE schedules SET enabled = $3, next_fire_at = $4, updated_at = $5 WHERE id = $1 AND workspace_id = $2",
    )
    .bind(schedule.0)
    .bind(access.id().0)
    .bind(i64::from(enabled))
    .bind(next)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        action,
        name,
        None,
    ))
    .await
}

pub async fn delete(
    svc: &Services,
    actor: &Actor,
    ws: WorkspaceId,
    schedule: ScheduleId,
) -> AppResult<()> {
    let name = name_of(svc, actor, ws, schedule).await?;
    let access = access::workspace_for_change(
        svc,
        actor,
        ws,
        Capability::SchedulesManage,
        AuditAction::ScheduleDeleted,
        name.clone(),
    )
    .await?;
    let mut tx = AuditedTx::begin(svc, svc.now()).await?;
    sqlx::query("DELETE FROM schedules WHERE id = $1 AND workspace_id = $2")
        .bind(schedule.0)
        .bind(access.id().0)
        .execute(&mut **tx)
        .await?;
    tx.commit(Entry::by_member(
        actor,
        access.id(),
        None,
        AuditAction::ScheduleDeleted,
        name,
        None,
    ))
    .await
}

type ScheduleRow = (
    i64,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    String,
    String,
    i64,
    i64,
    Option<i64>,
);

/// The schedules page of the member's current workspace (None: no workspace).
pub async fn page_for_current(svc: &Services, actor: &Actor) -> AppResult<Option<SchedulesPage>> {
    match access::current_workspace_with(svc, actor, Capability::WorkspaceView).await? {
        Some(a) => page(svc, actor, a.id()).await.map(Some),
        None => Ok(None),
    }
}

/// The schedules page for a workspace.
pub async fn page(svc: &Services, actor: &Actor, ws: WorkspaceId) -> AppResult<SchedulesPage> {
    let access = access::workspace(svc, actor, ws, Capability::WorkspaceView).await?;
    let can_manage = access.require(Capability::SchedulesManage).is_ok();
    let tags = super::tags::list(svc, actor, ws).await?;
    let mut conn = svc.store.read().await?;
    let rows: Vec<ScheduleRow> = sqlx::query_as(
        "SELECT id, name, op_type, target_kind, target_tenant_id, target_tag_id, cron, time_zone,
                enabled, spread_ms, next_fire_at
         FROM schedules WHERE workspace_id = $1 ORDER BY name, id",
    )
    .bind(access.id().0)
    .fetch_all(&mut *conn)
    .await?;
    let tenants: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, display_name FROM tenants WHERE workspace_id = $1 AND status = 'active' ORDER BY display_name, id",
    )
    .bind(access.id().0)
    .fetch_all(&mut *conn)
    .await?;
    let names: BTreeMap<i64, String> = tenants.iter().cloned().collect();
    let mut schedules = Vec::with_capacity(rows.len());
    for (id, name, op, kind, tenant, tag, cron, zone, enabled, spread, next) in rows {
        let Ok(op_type) = op.parse::<OperationType>() else {
            continue;
        };
        let target = match (kind.as_str(), tenant, tag) {
            ("tenant", Some(t), _) => Target::Tenant(TenantId(t)),
            ("tag", _, Some(t)) => Target::Tag(TagId(t)),
            _ => Target::AllActive,
        };
        let target_label = match target {
            Target::AllActive => "Every active tenant".to_string(),
            Target::Tenant(t) => names
                .get(&t.0)
                .cloned()
                .unwrap_or_else(|| "A tenant no longer active".into()),
            Target::Tag(t) => tags
                .iter()
                .find(|g| g.id == t)
                .map(|g| format!("Tag: {} ({} tenants)", g.name, g.tenants))
                .unwrap_or_else(|| "A deleted tag".into()),
        };
        let last = last_fire(&mut conn, ScheduleId(id)).await?;
        let recurrence = Recurrence::parse(&cron, &zone).ok();
        let upcoming = match (&recurrence, enabled == 1) {
            (Some(r), true) => r
                .preview(svc.now(), 5)
                .into_iter()
                .map(|t| (t, r.local(t)))
                .collect(),
            _ => Vec::new(),
        };
        schedules.push(ScheduleView {
            upcoming,
            id: ScheduleId(id),
            name,
            op_label: op_type.label().to_string(),
            op_type,
            target,
            target_label,
            next_fire_local: next.and_then(|n| recurrence.as_ref().map(|r| r.local(n))),
            cron,
            time_zone: zone,
            enabled: enabled == 1,
            spread_seconds: spread / 1000,
            next_fire_at: next,
            last_fire: last,
        });
    }
    Ok(SchedulesPage {
        workspace: access.id(),
        schedules,
        can_manage,
        tags,
        tenants: tenants
            .into_iter()
            .map(|(id, n)| (TenantId(id), n))
            .collect(),
    })
}

/// The schedule's latest fire.
async fn last_fire(
    conn: &mut sqlx::AnyConnection,
    schedule: ScheduleId,
) -> AppResult<Option<FireView>> {
    let latest: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM schedule_fires WHERE schedule_id = $1 ORDER BY slot_at DESC LIMIT 1",
    )
    .bind(schedule.0)
    .fetch_optional(&mut *conn)
    .await?;
    match latest {
        Some((id,)) => fire_view(conn, ScheduleFireId(id)).await,
        None => Ok(None),
    }
}

/// One fire and its counts by decision.
async fn fire_view(
    conn: &mut sqlx::AnyConnection,
    fire: ScheduleFireId,
) -> AppResult<Option<FireView>> {
    let row: Option<(i64, i64, i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT slot_at, fired_at, missed, targets, finished_at FROM schedule_fires WHERE id = $1",
    )
    .bind(fire.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((slot_at, fired_at, missed, targets, finished)) = row else {
        return Ok(None);
    };
    let mut progress = super::progress::of_ledger(conn, Ledger::Fire(fire), None).await?;
    progress.targets = targets;
    Ok(Some(FireView {
        id: fire,
        slot_at,
        fired_at,
        missed,
        late: fired_at - slot_at > LATE_AFTER_MS,
        targets,
        progress,
        finished: finished.is_some(),
    }))
}

/// One fire's counts, whichever of its schedule's fires it is.
pub async fn fire(svc: &Services, fire: ScheduleFireId) -> AppResult<Option<FireView>> {
    fire_view(&mut *svc.store.read().await?, fire).await
}

/// The sweep: fires every due slot once, then admits the targets of every
/// fire not yet finished whose lease it can take. Answers the fires made.
pub async fn fire_due(svc: Services) -> AppResult<u64> {
    let now = svc.now();
    type DueRow = (i64, i64, String, String, Option<i64>, Option<i64>);
    let due: Vec<DueRow> = {
        let mut conn = svc.store.read().await?;
        sqlx::query_as(
            "SELECT id, workspace_id, cron, time_zone, last_slot_at, next_fire_at FROM schedules
             WHERE enabled = 1 AND next_fire_at <= $1 ORDER BY next_fire_at, id LIMIT $2",
        )
        .bind(now)
        .bind(DUE_PER_SWEEP)
        .fetch_all(&mut *conn)
        .await?
    };
    let mut fired = 0;
    for (id, ws, cron, zone, last_slot, next_fire) in due {
        let Ok(r) = Recurrence::parse(&cron, &zone) else {
            tracing::warn!(
                schedule = id,
                "schedule with an unreadable recurrence skipped"
            );
            continue;
        };
        let Some(slot) = r.latest_at_or_before(now) else {
            continue;
        };
        if last_slot.is_some_and(|l| slot <= l) {
            continue;
        }
        // How many slots this fire stands for (bounded: a year of minutes is plenty).
        let mut missed = 0i64;
        let mut at = next_fire.unwrap_or(slot);
        while at < slot && missed < 600_000 {
            missed += 1;
            match r.next_after(at) {
                Some(n) => at = n,
                None => break,
            }
        }
        let next = r.next_after(now);
        let mut tx = svc.store.begin().await?;
        let inserted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO schedule_fires (schedule_id, workspace_id, slot_at, fired_at, missed, lease_until)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(id)
        .bind(ws)
        .bind(slot)
        .bind(now)
        .bind(missed)
        .bind(now + FIRE_LEASE_MS)
        .fetch_optional(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE schedules SET last_slot_at = $2, next_fire_at = $3
             WHERE id = $1 AND (last_slot_at IS NULL OR last_slot_at < $2)",
        )
        .bind(id)
        .bind(slot)
        .bind(next)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        if let Some((fire,)) = inserted {
            fired += 1;
            svc.failpoint("fire.after_create")?;
            metrics::counter!(crate::telemetry::SCHEDULE_FIRES, "late" => if now - slot > LATE_AFTER_MS { "true" } else { "false" }).increment(1);
            admit(&svc, ScheduleFireId(fire)).await?;
        }
    }
    // Fires a crashed process left unfinished: take the lease and finish them.
    let stale: Vec<(i64,)> = {
        let mut conn = svc.store.read().await?;
        sqlx::query_as(
            "SELECT id FROM schedule_fires WHERE finished_at IS NULL AND lease_until < $1 ORDER BY id LIMIT 20",
        )
        .bind(now)
        .fetch_all(&mut *conn)
        .await?
    };
    for (fire,) in stale {
        let taken = {
            let mut conn = svc.store.write().await?;
            sqlx::query(
                "UPDATE schedule_fires SET lease_until = $2 WHERE id = $1 AND finished_at IS NULL AND lease_until < $3",
            )
            .bind(fire)
            .bind(now + FIRE_LEASE_MS)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        };
        if taken == 1 {
            admit(&svc, ScheduleFireId(fire)).await?;
        }
    }
    Ok(fired)
}

/// Starts the fire's operation on each target not yet recorded, through the
/// gate as the schedule, spread over the window; then marks it finished.
async fn admit(svc: &Services, fire: ScheduleFireId) -> AppResult<()> {
    type FireRow = (i64, i64, String, String, Option<i64>, Option<i64>, i64);
    let ledger = Ledger::Fire(fire);
    let row: Option<FireRow> = {
        let mut conn = svc.store.read().await?;
        sqlx::query_as(
            "SELECT s.workspace_id, f.fired_at, s.op_type, s.target_kind, s.target_tenant_id, s.target_tag_id, s.spread_ms
             FROM schedule_fires f JOIN schedules s ON s.id = f.schedule_id WHERE f.id = $1",
        )
        .bind(fire.0)
        .fetch_optional(&mut *conn)
        .await?
    };
    let Some((ws, fired_at, op, kind, tenant, tag, spread_ms)) = row else {
        return Ok(());
    };
    let done = ledger.recorded(svc).await?;
    let op_type: OperationType = op.parse().map_err(|_| AppError::Internal)?;
    let target = match (kind.as_str(), tenant, tag) {
        ("tenant", Some(t), _) => Target::Tenant(TenantId(t)),
        ("tag", _, Some(g)) => Target::Tag(TagId(g)),
        _ => Target::AllActive,
    };
    let targets = active_targets(svc, WorkspaceId(ws), target, None).await?;
    {
        let mut conn = svc.store.write().await?;
        sqlx::query("UPDATE schedule_fires SET targets = $2 WHERE id = $1")
            .bind(fire.0)
            .bind(targets.len() as i64)
            .execute(&mut *conn)
            .await?;
    }
    svc.failpoint("fire.after_targets")?;
    admission::admit(
        svc,
        ledger,
        Starter::Schedule,
        Plan {
            op_type,
            start_at: fired_at,
            spread_ms,
        },
        &targets,
        &done,
    )
    .await?;
    svc.failpoint("fire.before_finish")?;
    let mut conn = svc.store.write().await?;
    sqlx::query("UPDATE schedule_fires SET finished_at = $2 WHERE id = $1")
        .bind(fire.0)
        .bind(svc.now())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The active tenants of `ws` a target stands for now, by id; with
/// `visible_to`, only those that member may see (operators and read-only
/// members: their assigned tenants).
pub(crate) async fn active_targets(
    svc: &Services,
    ws: WorkspaceId,
    target: Target,
    visible_to: Option<crate::ids::UserId>,
) -> AppResult<Vec<TenantId>> {
    let mut conn = svc.store.read().await?;
    let mut sql = String::from(
        "SELECT t.id FROM tenants t WHERE t.workspace_id = $1 AND t.status = 'active'",
    );
    let mut binds = vec![ws.0];
    match target {
        Target::Tenant(id) => {
            binds.push(id.0);
            sql.push_str(&format!(" AND t.id = ${}", binds.len()));
        }
        Target::Tag(g) => {
            binds.push(g.0);
            sql.push_str(&format!(
                " AND t.id IN (SELECT tt.tenant_id FROM tenant_tags tt WHERE tt.tag_id = ${})",
                binds.len()
            ));
        }
        Target::AllActive => {}
    }
    if let Some(user) = visible_to {
        binds.push(user.0);
        sql.push_str(&format!(
            " AND t.id IN (SELECT a.tenant_id FROM tenant_assignments a WHERE a.user_id = ${})",
            binds.len()
        ));
    }
    sql.push_str(" ORDER BY t.id");
    let mut q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b);
    }
    Ok(q.fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| TenantId(r.0))
        .collect())
}

/// Registers the sweep with the engine.
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    c.with_sweep("schedules", |svc| Box::pin(fire_due(svc)));
}
