//! Monitoring reads: the operations hub, the summaries dashboards show, the
//! progress overlay, the run-detail pulse and the system plane's lists.
//!
//! Every number and every list goes through one `WHERE` builder, so a count on
//! a dashboard and the hub's count for the same filter are the same query.
//! The problem classes are translated to SQL from the registry (expected
//! durations) and must agree with `RunTruth::problem_class` — the consistency
//! test checks both against each other.

use super::filter::{COUNT_CAP, Range};
use super::filter::{CappedCount, Cursor, HubQuery, InitiatorFilter, Kpi, RunFilter, Tab};
use super::model::ReasonCode;
use super::presenter;
use super::service::{RunService, summary_of_row, truth_of_row};
use crate::access::{self, Actor, WorkspaceAccess};
use crate::error::{AppError, AppResult};
use crate::ids::{RunId, TenantId, UserId, WorkspaceId};
use crate::rbac::{Capability, Role};
use crate::runs::views::{
    ActiveRun, ActiveRuns, HubPage, KpiTile, RunPage, RunPulse, RunRow, RunShortList, RunSummary,
    RunsPerDay, SystemRunList, SystemRunsPage,
};
use crate::services::Services;
use sqlx::Row;

/// Rows per hub page.
pub const HUB_PAGE_SIZE: i64 = 50;
/// Runs the progress overlay lists by name (the rest are counted).
pub const OVERLAY_SIZE: i64 = 5;

/// The run's own columns a list row needs (read from the ordered index scan).
const RUN_COLUMNS: &str = "r.id, r.workspace_id, r.tenant_id, r.op_type, r.status, r.outcome, r.created_at,
    r.started_at, r.completed_at, r.lease_expires_at, r.reason_code, r.reconciliation, r.cancel_requested_at";

/// Whose runs a read may see.
#[derive(Debug, Clone, Copy)]
pub enum Viewer {
    /// A member of one workspace: its runs, and for operators and readonly
    /// members only the runs of tenants assigned to them (plus the
    /// workspace's own tenantless runs, as on the run page).
    Member {
        workspace: WorkspaceId,
        user: UserId,
        all_tenants: bool,
    },
    /// A platform operator on the system plane: every workspace.
    Platform,
}

impl Viewer {
    pub fn member(access: &WorkspaceAccess, actor: &Actor) -> Viewer {
        Viewer::Member {
            workspace: access.id(),
            user: actor.user_id,
            all_tenants: access.role().sees_all_tenants(),
        }
    }
}

/// A `WHERE` clause under construction. Only numbers are bound; enum values
/// are written as literals from our own closed enums (never user text), so
/// PostgreSQL can match the partial indexes.
pub(super) struct Where {
    clauses: Vec<String>,
    binds: Vec<i64>,
}

impl Where {
    fn new() -> Where {
        Where {
            clauses: Vec::new(),
            binds: Vec::new(),
        }
    }

    pub(super) fn bind(&mut self, v: i64) -> String {
        self.binds.push(v);
        format!("${}", self.binds.len())
    }

    pub(super) fn push(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    pub(super) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "1 = 1".into()
        } else {
            self.clauses.join(" AND ")
        }
    }

    /// `sql` is built from this builder's own clauses (values are bound).
    fn query(
        &self,
        sql: String,
    ) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &self.binds {
            q = q.bind(*b);
        }
        q
    }

    /// [`Where::query`] reading rows as `T`.
    pub(super) fn query_as<T>(
        &self,
        sql: String,
    ) -> sqlx::query::QueryAs<'static, sqlx::Any, T, sqlx::any::AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for b in &self.binds {
            q = q.bind(*b);
        }
        q
    }
}

/// The `WHERE` clause of who sees what and `filter` (the charts add theirs).
pub(super) fn where_of(viewer: &Viewer, filter: &RunFilter, now: i64) -> Where {
    build(viewer, filter, None, now)
}

const ACTIVE: &str = super::sql::active_run!("r");
const FOLLOW_UP: &str = "r.outcome IN ('failed', 'blocked', 'partially_succeeded')";

/// Active stale attention in SQL: the same rule as `RunTruth::freshness`
/// (past the type's expected duration since start, or a running run whose
/// lease ran out), with each type's expected duration from the registry.
fn stale(w: &mut Where, now: i64) -> String {
    let mut expected = String::from("CASE r.op_type");
    for t in super::model::registered_types() {
        expected.push_str(&format!(
            " WHEN '{}' THEN {}",
            t.as_str(),
            t.spec().expected_duration_ms
        ));
    }
    expected.push_str(" END");
    let a = w.bind(now);
    let b = w.bind(now);
    format!(
        "{ACTIVE} AND ({a} - COALESCE(r.started_at, r.created_at) > {expected}
          OR (r.status = 'running' AND r.lease_expires_at < {b}))"
    )
}

fn build(viewer: &Viewer, filter: &RunFilter, before: Option<Cursor>, now: i64) -> Where {
    let mut w = Where::new();
    if let Viewer::Member {
        workspace,
        user,
        all_tenants,
    } = *viewer
    {
        let ws = w.bind(workspace.0);
        w.push(format!("r.workspace_id = {ws}"));
        if !all_tenants {
            let u = w.bind(user.0);
            // Their tenants' runs and the workspace's own (tenantless) runs,
            // the same rule as the run page.
            w.push(format!(
                "(r.tenant_id IS NULL OR r.tenant_id IN (SELECT a.tenant_id FROM tenant_assignments a WHERE a.user_id = {u}))"
            ));
        }
    }
    match filter.tab {
        Tab::All => {}
        Tab::Active => w.push(ACTIVE.into()),
        Tab::FollowUp => w.push(FOLLOW_UP.into()),
        Tab::Stale => {
            let s = stale(&mut w, now);
            w.push(s);
        }
    }
    if let Some(s) = filter.status {
        w.push(format!("r.status = '{}'", s.as_str()));
    }
    if let Some(o) = filter.outcome {
        w.push(format!("r.outcome = '{}'", o.as_str()));
    }
    if let Some(t) = filter.op_type {
        w.push(format!("r.op_type = '{}'", t.as_str()));
    }
    if let Some(t) = filter.tenant {
        let p = w.bind(t.0);
        w.push(format!("r.tenant_id = {p}"));
    }
    match filter.initiator {
        None => {}
        Some(InitiatorFilter::User(u)) => {
            let p = w.bind(u.0);
            // Only user runs carry an initiator user id.
            w.push(format!("r.initiator_user_id = {p}"));
        }
        Some(InitiatorFilter::Schedule) => w.push("r.initiator_kind = 'schedule'".into()),
        Some(InitiatorFilter::System) => w.push("r.initiator_kind = 'system'".into()),
    }
    if let Some(r) = filter.range {
        let p = w.bind(now - r.millis());
        w.push(format!("r.created_at >= {p}"));
    }
    if let Some(t) = filter.tag {
        let p = w.bind(t.0);
        w.push(format!(
            "r.tenant_id IN (SELECT tt.tenant_id FROM tenant_tags tt WHERE tt.tag_id = {p})"
        ));
    }
    if let Some(f) = filter.fire {
        let p = w.bind(f.0);
        w.push(format!(
            "r.id IN (SELECT ft.run_id FROM schedule_fire_targets ft WHERE ft.fire_id = {p} AND ft.run_id IS NOT NULL)"
        ));
    }
    if let Some(b) = filter.bulk {
        let p = w.bind(b.0);
        w.push(format!(
            "r.id IN (SELECT bt.run_id FROM bulk_start_targets bt WHERE bt.bulk_id = {p} AND bt.run_id IS NOT NULL)"
        ));
    }
    if filter.outside_bulks {
        w.push(
            "NOT EXISTS (SELECT 1 FROM bulk_start_targets bt WHERE bt.run_id = r.id AND bt.decision = 'queued')"
                .into(),
        );
    }
    if let Some(c) = before {
        // The plain range first: SQLite seeks on it (a row value alone
        // makes it walk the index from the top); the row value then breaks ties.
        let upto = w.bind(c.created_at);
        w.push(format!("r.created_at <= {upto}"));
        let a = w.bind(c.created_at);
        let b = w.bind(c.id);
        w.push(format!("(r.created_at, r.id) < ({a}, {b})"));
    }
    w
}

fn row_of(r: &sqlx::any::AnyRow, now: i64) -> AppResult<RunRow> {
    let (truth, reconciliation, cancel_requested) = truth_of_row(r)?;
    Ok(RunRow {
        id: RunId(r.try_get("id")?),
        workspace_name: r.try_get("workspace_name")?,
        tenant_id: r.try_get::<Option<i64>, _>("tenant_id")?.map(TenantId),
        tenant_name: r.try_get("display_name")?,
        operation: truth.op_type.label().to_string(),
        headline: presenter::headline_of(&truth, cancel_requested, now),
        created_at: truth.created_at,
        completed_at: r.try_get("completed_at")?,
        reason: r
            .try_get::<Option<String>, _>("reason_code")?
            .and_then(|c| c.parse::<ReasonCode>().ok())
            .map(|c| c.message().to_string()),
        reconciled_lineage: reconciliation.is_some(),
    })
}

/// Up to `limit` runs matching, newest first, strictly older than `before`.
pub async fn runs(
    svc: &Services,
    viewer: &Viewer,
    filter: &RunFilter,
    before: Option<Cursor>,
    limit: i64,
    now: i64,
) -> AppResult<Vec<RunRow>> {
    let mut w = build(viewer, filter, before, now);
    let lim = w.bind(limit);
    // The page is cut from operation_runs alone, then named: joined
    // directly, SQLite drives the join from the tiny workspaces table and
    // sorts every matching run instead of reading the index in order.
    let sql = format!(
        "SELECT r.*, w.name AS workspace_name, t.display_name
         FROM (SELECT {RUN_COLUMNS} FROM operation_runs r WHERE {}
               ORDER BY r.created_at DESC, r.id DESC LIMIT {lim}) r
         JOIN workspaces w ON w.id = r.workspace_id
         LEFT JOIN tenants t ON t.id = r.tenant_id
         ORDER BY r.created_at DESC, r.id DESC",
        w.sql()
    );
    let rows = w
        .query(sql)
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
    rows.iter().map(|r| row_of(r, now)).collect()
}

/// How many runs match (stopping at the cap). The one count every surface uses.
pub async fn count(
    svc: &Services,
    viewer: &Viewer,
    filter: &RunFilter,
    now: i64,
) -> AppResult<CappedCount> {
    let w = build(viewer, filter, None, now);
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM operation_runs r WHERE {} LIMIT {}) c",
        w.sql(),
        COUNT_CAP + 1
    );
    let n: i64 = w
        .query(sql)
        .fetch_one(&mut *svc.store.read().await?)
        .await?
        .try_get(0)?;
    Ok(CappedCount::of(n))
}

/// One keyset page and the query string of the next one.
pub async fn page(
    svc: &Services,
    viewer: &Viewer,
    query: &HubQuery,
    now: i64,
) -> AppResult<(Vec<RunRow>, Option<String>)> {
    let mut rows = runs(
        svc,
        viewer,
        &query.filter,
        query.before,
        HUB_PAGE_SIZE + 1,
        now,
    )
    .await?;
    let next = if rows.len() as i64 > HUB_PAGE_SIZE {
        rows.truncate(HUB_PAGE_SIZE as usize);
        rows.last().map(|last| {
            HubQuery {
                filter: query.filter,
                before: Some(Cursor {
                    created_at: last.created_at,
                    id: last.id.0,
                }),
            }
            .to_query()
        })
    } else {
        None
    };
    Ok((rows, next))
}

/// Tenants of the workspace the viewer may see, by name.
async fn visible_tenants(
    svc: &Services,
    access: &WorkspaceAccess,
    actor: &Actor,
) -> AppResult<Vec<(TenantId, String)>> {
    let mut conn = svc.store.read().await?;
    let rows: Vec<(i64, String)> = if access.role().sees_all_tenants() {
        sqlx::query_as(
            "SELECT id, display_name FROM tenants WHERE workspace_id = $1 ORDER BY display_name, id",
        )
        .bind(access.id().0)
        .fetch_all(&mut *conn)
        .await?
    } else {
        sqlx::query_as(
            "SELECT t.id, t.display_name FROM tenants t
             JOIN tenant_assignments a ON a.tenant_id = t.id AND a.user_id = $2
             WHERE t.workspace_id = $1 ORDER BY t.display_name, t.id",
        )
        .bind(access.id().0)
        .bind(actor.user_id.0)
        .fetch_all(&mut *conn)
        .await?
    };
    Ok(rows.into_iter().map(|(id, n)| (TenantId(id), n)).collect())
}

/// The operations hub of the actor's current workspace; `None` without one.
pub async fn hub(svc: &Services, actor: &Actor, raw_query: &str) -> AppResult<Option<HubPage>> {
    let query = HubQuery::parse(raw_query)?;
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::OperationsView).await?
    else {
        return match query.filter.tenant {
            Some(_) => Err(AppError::NotFound),
            None => Ok(None),
        };
    };
    let tenants = visible_tenants(svc, &access, actor).await?;
    // A tenant you may not see is not there (PRODUCT.md §4), not an empty list.
    if let Some(t) = query.filter.tenant
        && !tenants.iter().any(|(id, _)| *id == t)
    {
        return Err(AppError::NotFound);
    }
    let viewer = Viewer::member(&access, actor);
    let now = svc.now();
    let (runs, next) = page(svc, &viewer, &query, now).await?;
    let count = count(svc, &viewer, &query.filter, now).await?;
    let rules = crate::zones::rules(actor.time_zone.as_deref(), now);
    let trend =
        super::trends::runs_per_day(svc, &viewer, &query.filter, rules.as_ref(), now).await?;
    let members: Vec<(i64, String)> = sqlx::query_as(
        "SELECT u.id, u.email FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.workspace_id = $1 ORDER BY u.email",
    )
    .bind(access.id().0)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let tags: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM tags WHERE workspace_id = $1 ORDER BY name")
            .bind(access.id().0)
            .fetch_all(&mut *svc.store.read().await?)
            .await?;
    // Another workspace's tag is not there, like its tenants.
    if let Some(t) = query.filter.tag
        && !tags.iter().any(|(id, _)| *id == t.0)
    {
        return Err(AppError::NotFound);
    }
    // So is another workspace's bulk start.
    if let Some(b) = query.filter.bulk {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM bulk_starts WHERE id = $1 AND workspace_id = $2")
                .bind(b.0)
                .bind(access.id().0)
                .fetch_optional(&mut *svc.store.read().await?)
                .await?;
        if found.is_none() {
            return Err(AppError::NotFound);
        }
    }
    Ok(Some(HubPage {
        tags: tags
            .into_iter()
            .map(|(id, n)| (crate::ids::TagId(id), n))
            .collect(),
        workspace: access.workspace,
        query,
        runs,
        next,
        count,
        tenants,
        members: members.into_iter().map(|(id, e)| (UserId(id), e)).collect(),
        trend,
    }))
}

async fn short_list(
    svc: &Services,
    viewer: &Viewer,
    title: &str,
    filter: RunFilter,
    limit: i64,
    now: i64,
) -> AppResult<RunShortList> {
    Ok(RunShortList {
        title: title.to_string(),
        runs: runs(svc, viewer, &filter, None, limit, now).await?,
        count: count(svc, viewer, &filter, now).await?,
        link: filter.hub_link(),
    })
}

/// What a summary is read for: the page (with its runs-per-day chart) or
/// the live island's refresh (the numbers only: the chart is drawn around
/// the island and a refresh never carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryFor {
    Page,
    Refresh,
}

/// KPI tiles, needs-attention lists and recent runs, for one tenant or (with
/// `tenant = None`) every tenant the viewer may see.
async fn summary(
    svc: &Services,
    viewer: &Viewer,
    actor: &Actor,
    tenant: Option<TenantId>,
    read_for: SummaryFor,
) -> AppResult<RunSummary> {
    let now = svc.now();
    let trend = match read_for {
        SummaryFor::Page => {
            let rules = crate::zones::rules(actor.time_zone.as_deref(), now);
            super::trends::runs_per_day(
                svc,
                viewer,
                &RunFilter::default().for_tenant(tenant),
                rules.as_ref(),
                now,
            )
            .await?
        }
        SummaryFor::Refresh => RunsPerDay::default(),
    };
    let mut tiles = Vec::with_capacity(Kpi::ALL.len());
    for kpi in Kpi::ALL {
        let filter = kpi.filter(tenant);
        tiles.push(KpiTile {
            kpi,
            count: count(svc, viewer, &filter, now).await?,
            link: filter.hub_link(),
        });
    }
    let stuck = RunFilter::tab(Tab::Stale).for_tenant(tenant);
    let follow_up = RunFilter {
        range: Some(Range::LastWeek),
        ..RunFilter::tab(Tab::FollowUp)
    }
    .for_tenant(tenant);
    let attention = vec![
        short_list(svc, viewer, "Looks stuck", stuck, 5, now).await?,
        short_list(
            svc,
            viewer,
            "Needs follow-up (last 7 days)",
            follow_up,
            5,
            now,
        )
        .await?,
    ];
    let recent = short_list(
        svc,
        viewer,
        "Recent operations",
        RunFilter::default().for_tenant(tenant),
        10,
        now,
    )
    .await?;
    Ok(RunSummary {
        tiles,
        trend,
        attention,
        recent,
    })
}

/// The tenant dashboard's run summary.
pub async fn tenant_summary(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
) -> AppResult<RunSummary> {
    tenant_summary_for(svc, actor, tenant, SummaryFor::Page).await
}

/// The tenant dashboard's run summary, for the page or a refresh.
pub async fn tenant_summary_for(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    read_for: SummaryFor,
) -> AppResult<RunSummary> {
    let access = access::tenant(svc, actor, tenant, Capability::OperationsView).await?;
    summary(
        svc,
        &Viewer::member(&access.workspace, actor),
        actor,
        Some(tenant),
        read_for,
    )
    .await
}

/// The workspace overview's run summary across the tenants the actor may see.
pub async fn workspace_summary(svc: &Services, actor: &Actor) -> AppResult<Option<RunSummary>> {
    workspace_summary_for(svc, actor, SummaryFor::Page).await
}

/// The workspace overview's run summary, for the page or a refresh.
pub async fn workspace_summary_for(
    svc: &Services,
    actor: &Actor,
    read_for: SummaryFor,
) -> AppResult<Option<RunSummary>> {
    let Some(access) =
        access::current_workspace_with(svc, actor, Capability::OperationsView).await?
    else {
        return Ok(None);
    };
    Ok(Some(
        summary(svc, &Viewer::member(&access, actor), actor, None, read_for).await?,
    ))
}

/// The progress overlay: active runs of the current workspace you may see.
pub async fn active_runs(svc: &Services, actor: &Actor) -> AppResult<ActiveRuns> {
    match access::current_workspace_with(svc, actor, Capability::OperationsView).await? {
        Some(access) => active_runs_in(svc, &access, actor).await,
        None => Ok(ActiveRuns::default()),
    }
}

/// The overlay's active runs in a workspace the caller already resolved
/// (the shell has it, so the page pays for one membership read, not two).
pub async fn active_runs_in(
    svc: &Services,
    access: &WorkspaceAccess,
    actor: &Actor,
) -> AppResult<ActiveRuns> {
    access.require(Capability::OperationsView)?;
    let viewer = Viewer::member(access, actor);
    let filter = RunFilter {
        outside_bulks: true,
        ..RunFilter::tab(Tab::Active)
    };
    let now = svc.now();
    let rows = runs(svc, &viewer, &filter, None, OVERLAY_SIZE, now).await?;
    let total = if (rows.len() as i64) < OVERLAY_SIZE {
        rows.len() as i64
    } else {
        count(svc, &viewer, &filter, now).await?.value
    };
    Ok(ActiveRuns {
        // Bulk starts add their own entries (`schedules::bulk::overlay_in`).
        bulks: Vec::new(),
        runs: rows
            .into_iter()
            .map(|r| ActiveRun {
                id: r.id,
                operation: r.operation,
                tenant_name: r.tenant_name,
                headline: r.headline,
            })
            .collect(),
        total,
        link: RunFilter::tab(Tab::Active).hub_link(),
    })
}

/// What the run-detail island polls: one primary-key read joined only to the
/// caller's membership row, then (for operators and readonly members) one
/// assignment lookup. 404 for a run you may not see.
pub async fn pulse(svc: &Services, actor: &Actor, run: RunId) -> AppResult<RunPulse> {
    let mut conn = svc.store.read().await?;
    let row = sqlx::query(
        "SELECT r.tenant_id, r.op_type, r.status, r.outcome, r.created_at, r.started_at, r.completed_at,
                r.lease_expires_at, r.reason_code, r.summary, r.failure_summary, r.cancel_requested_at,
                r.attempts, r.reconciliation, m.role
         FROM operation_runs r
         JOIN memberships m ON m.workspace_id = r.workspace_id AND m.user_id = $2
         WHERE r.id = $1",
    )
    .bind(run.0)
    .bind(actor.user_id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let role: Role = row
        .try_get::<String, _>("role")?
        .parse()
        .map_err(|_| AppError::Internal)?;
    let tenant = row.try_get::<Option<i64>, _>("tenant_id")?.map(TenantId);
    let assigned = match tenant {
        Some(t) if !role.sees_all_tenants() => {
            access::tenant_visible(&mut conn, actor.user_id, role, t).await?
        }
        _ => true,
    };
    access::decide_tenant(Some(role), assigned, Capability::OperationsView)?;
    let (truth, reconciliation, cancel_requested) = truth_of_row(&row)?;
    let now = svc.now();
    Ok(RunPulse {
        headline: presenter::headline_of(&truth, cancel_requested, now),
        truth,
        reason: row
            .try_get::<Option<String>, _>("reason_code")?
            .and_then(|c| c.parse().ok()),
        summary: summary_of_row(&row)?,
        failure_summary: row.try_get("failure_summary")?,
        completed_at: row.try_get("completed_at")?,
        attempts: row.try_get("attempts")?,
        cancel_requested,
        reconciliation,
        now,
    })
}

/// The system plane's run lists (platform operators only; 404 otherwise).
/// Failures and stuck are the hub's follow-up and stale tabs over every
/// workspace; the other filters and the paging work the same.
pub async fn system_runs(
    svc: &Services,
    actor: &Actor,
    list: SystemRunList,
    raw_query: &str,
) -> AppResult<SystemRunsPage> {
    if !actor.is_platform_operator {
        return Err(AppError::NotFound);
    }
    let query = system_query(list, raw_query)?;
    let now = svc.now();
    let (runs, next) = page(svc, &Viewer::Platform, &query, now).await?;
    let count = count(svc, &Viewer::Platform, &query.filter, now).await?;
    let cancellable = bulk_cancellable(svc, list, &query.filter, now).await?;
    // The chart heads the first page of all runs (not the filtered lists).
    let durations = if list == SystemRunList::All && query.before.is_none() {
        Some(super::trends::duration_spread(svc, now).await?)
    } else {
        None
    };
    Ok(SystemRunsPage {
        durations,
        query,
        runs,
        next,
        count,
        cancellable,
    })
}

pub use super::filter::BULK_CANCEL_LIMIT;

/// Active runs of every workspace matching `filter`, oldest first, at most
/// `limit` (system-plane bulk cancel: what the count promised, by filter).
pub(crate) async fn active_matching(
    svc: &Services,
    filter: &RunFilter,
    limit: i64,
    now: i64,
) -> AppResult<Vec<RunId>> {
    let mut w = build(&Viewer::Platform, filter, None, now);
    w.push(ACTIVE.into());
    let lim = w.bind(limit);
    let sql = format!(
        "SELECT r.id FROM operation_runs r WHERE {} ORDER BY r.id LIMIT {lim}",
        w.sql()
    );
    let rows = w
        .query(sql)
        .fetch_all(&mut *svc.store.read().await?)
        .await?;
    rows.iter()
        .map(|r| Ok(RunId(r.try_get::<i64, _>(0)?)))
        .collect()
}

/// How many active runs a bulk cancel of this list would stop (up to the
/// limit + 1, so the page can say "more than"); `None` where it cannot
/// apply (the failures list holds only finished runs).
async fn bulk_cancellable(
    svc: &Services,
    list: SystemRunList,
    filter: &RunFilter,
    now: i64,
) -> AppResult<Option<i64>> {
    if list == SystemRunList::Failures {
        return Ok(None);
    }
    Ok(Some(
        active_matching(svc, filter, BULK_CANCEL_LIMIT + 1, now)
            .await?
            .len() as i64,
    ))
}

/// The system list's filter as its page applies it.
pub(crate) fn system_query(list: SystemRunList, raw_query: &str) -> AppResult<HubQuery> {
    let mut query = HubQuery::parse(raw_query)?;
    match list {
        SystemRunList::All => {}
        SystemRunList::Failures => query.filter.tab = Tab::FollowUp,
        SystemRunList::Stuck => query.filter.tab = Tab::Stale,
    }
    Ok(query)
}

/// One run on the system plane, with its reconciliation lineage.
pub async fn system_run(svc: &Services, actor: &Actor, run: RunId) -> AppResult<RunPage> {
    if !actor.is_platform_operator {
        return Err(AppError::NotFound);
    }
    let view = RunService::load(svc, run)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = svc.now();
    let items = crate::runs::catalogue::of(svc)
        .items(svc, view.truth.op_type, run)
        .await?;
    Ok(RunPage {
        headline: presenter::headline(&view, now),
        can_cancel: view.truth.is_active(),
        // The system plane is not a member's context: no support requests.
        can_request_support: false,
        run: view,
        now,
        items,
    })
}
