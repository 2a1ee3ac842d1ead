//! The fleet overview (`/admin/fleet`): every tenant the member may see in
//! one table — last successful inventory, device compliance with its trend,
//! drift in the last 7 days, connection health, active and failed runs — each
//! number linking to the page that explains it. Read with one set-based query
//! per column (never one per tenant), so it stays fast at 1,000 tenants.
//! The views are wasm-safe; the read needs the `server` feature.

use crate::ids::{ProviderConnectionId, TagId, TenantId};
use serde::{Deserialize, Serialize};

/// Compliance snapshots the trend line shows per tenant.
pub const TREND_POINTS: usize = 10;
/// Days the fleet's drift chart covers.
pub const CHART_DAYS: usize = 30;
/// Tenants per page of the table (sorted over the whole fleet first).
pub const FLEET_PAGE_SIZE: usize = 100;
/// The highest page a link may ask for.
const MAX_PAGE: u32 = 10_000;

/// A column to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetSort {
    #[default]
    Name,
    Inventory,
    Compliance,
    Drift,
    Alignment,
    Secret,
    Active,
    Failed,
}

impl FleetSort {
    pub const ALL: [FleetSort; 8] = [
        FleetSort::Name,
        FleetSort::Inventory,
        FleetSort::Compliance,
        FleetSort::Drift,
        FleetSort::Alignment,
        FleetSort::Secret,
        FleetSort::Active,
        FleetSort::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FleetSort::Name => "name",
            FleetSort::Inventory => "inventory",
            FleetSort::Compliance => "compliance",
            FleetSort::Drift => "drift",
            FleetSort::Alignment => "alignment",
            FleetSort::Secret => "secret",
            FleetSort::Active => "active",
            FleetSort::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<FleetSort> {
        FleetSort::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The page's query: sort column and direction, tag filter, page (from 1;
/// 0 reads as 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FleetQuery {
    pub sort: FleetSort,
    pub desc: bool,
    pub tag: Option<TagId>,
    #[serde(default)]
    pub page: u32,
}

impl FleetQuery {
    /// Parses `sort=&dir=asc|desc&tag=`; unknown keys ignored, bad values
    /// refused with their field.
    pub fn parse(query: &str) -> Result<FleetQuery, crate::AppError> {
        let bad = |f: &str| crate::AppError::invalid(f, "This link has a value we do not know.");
        let mut q = FleetQuery::default();
        for pair in query.trim_start_matches('?').split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if v.is_empty() {
                continue;
            }
            match k {
                "sort" => q.sort = FleetSort::parse(v).ok_or_else(|| bad("sort"))?,
                "dir" => {
                    q.desc = match v {
                        "desc" => true,
                        "asc" => false,
                        _ => return Err(bad("dir")),
                    }
                }
                "tag" => q.tag = Some(v.parse().map_err(|_| bad("tag"))?),
                "page" => {
                    q.page = v
                        .parse::<u32>()
                        .ok()
                        .filter(|p| (1..=MAX_PAGE).contains(p))
                        .ok_or_else(|| bad("page"))?
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// This query's page.
    pub fn link(&self) -> String {
        let mut link = format!(
            "/admin/fleet?sort={}&dir={}",
            self.sort.as_str(),
            if self.desc { "desc" } else { "asc" }
        );
        if let Some(t) = self.tag {
            link.push_str(&format!("&tag={t}"));
        }
        if self.page > 1 {
            link.push_str(&format!("&page={}", self.page));
        }
        link
    }

    /// The page shown (from 1).
    pub fn page_number(&self) -> u32 {
        self.page.max(1)
    }

    /// The same query on page `page`.
    pub fn page_link(&self, page: u32) -> String {
        FleetQuery { page, ..*self }.link()
    }

    /// The link that sorts by `sort` (a second click on the current column
    /// turns the direction), keeping the tag.
    pub fn sort_link(&self, sort: FleetSort) -> String {
        let desc = if sort == self.sort {
            !self.desc
        } else {
            sort != FleetSort::Name
        };
        // A new order starts at the first page.
        FleetQuery {
            sort,
            desc,
            tag: self.tag,
            page: 1,
        }
        .link()
    }
}

/// One tenant's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetRow {
    pub tenant: TenantId,
    pub name: String,
    pub active: bool,
    /// When the latest successful inventory was taken.
    pub inventory_at: Option<i64>,
    /// The latest compliance snapshot: compliant devices of all devices.
    pub compliant: Option<(i64, i64)>,
    /// Per cent compliant over the latest snapshots, oldest first.
    pub compliance_trend: Vec<i64>,
    /// Published drift entries found in the last 7 days.
    pub drift_7d: i64,
    /// Aligned cells of all compared cells, over the latest comparison
    /// with each baseline that applies to the tenant (None: none compared).
    pub alignment: Option<(i64, i64)>,
    /// The default connection: its id, consent granted, enabled, secret expiry.
    pub connection: Option<ProviderConnectionId>,
    pub consent: Option<bool>,
    pub connection_enabled: Option<bool>,
    pub secret_expires_at: Option<i64>,
    pub active_runs: i64,
    pub failed_7d: i64,
}

impl FleetRow {
    /// Compliant share in per cent (None: no devices or no snapshot).
    pub fn compliance_percent(&self) -> Option<i64> {
        self.compliant
            .filter(|(_, total)| *total > 0)
            .map(|(ok, total)| ok * 100 / total)
    }

    /// Baseline alignment in per cent (None: nothing compared).
    pub fn alignment_percent(&self) -> Option<i64> {
        self.alignment
            .and_then(|(a, total)| crate::baselines::percent(a, total))
    }

    /// Whole days until the secret expires (negative: expired).
    pub fn secret_days(&self, now: i64) -> Option<i64> {
        self.secret_expires_at
            .map(|at| (at - now).div_euclid(86_400_000))
    }
}

/// The page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetPage {
    pub now: i64,
    pub query: FleetQuery,
    /// This page's rows ([`FLEET_PAGE_SIZE`] at most) of `total`, in the
    /// query's order over the whole fleet.
    pub rows: Vec<FleetRow>,
    /// Tenants listed (all pages).
    pub total: usize,
    pub tags: Vec<(TagId, String)>,
    /// The reader's local dates of the charts' days, oldest first (today last).
    pub days: Vec<String>,
    /// Runs of the listed tenants that ended per day, by outcome.
    pub runs_by_day: crate::runs::views::RunsPerDay,
    /// Drift entries found per day over the last [`CHART_DAYS`] days, oldest first.
    pub drift_by_day: Vec<i64>,
    /// The fleet's baseline alignment per day in per cent (the latest
    /// comparison of each tenant and baseline that day), oldest first;
    /// None: nothing compared that day.
    pub alignment_by_day: Vec<Option<i64>>,
}

/// Sorts rows by the query (unknown values last in either direction).
pub fn sort_rows(rows: &mut [FleetRow], q: FleetQuery, now: i64) {
    use std::cmp::Ordering;
    fn opt<T: Ord>(a: Option<T>, b: Option<T>, desc: bool) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) => {
                if desc {
                    b.cmp(&a)
                } else {
                    a.cmp(&b)
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    rows.sort_by(|a, b| {
        let by = match q.sort {
            FleetSort::Name => opt(
                Some(a.name.to_lowercase()),
                Some(b.name.to_lowercase()),
                q.desc,
            ),
            FleetSort::Inventory => opt(a.inventory_at, b.inventory_at, q.desc),
            FleetSort::Compliance => opt(a.compliance_percent(), b.compliance_percent(), q.desc),
            FleetSort::Drift => opt(Some(a.drift_7d), Some(b.drift_7d), q.desc),
            FleetSort::Alignment => opt(a.alignment_percent(), b.alignment_percent(), q.desc),
            FleetSort::Secret => opt(a.secret_days(now), b.secret_days(now), q.desc),
            FleetSort::Active => opt(Some(a.active_runs), Some(b.active_runs), q.desc),
            FleetSort::Failed => opt(Some(a.failed_7d), Some(b.failed_7d), q.desc),
        };
        by.then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.tenant.0.cmp(&b.tenant.0))
    });
}

#[cfg(feature = "server")]
pub use service::page;

#[cfg(feature = "server")]
mod service {
    use super::*;
    use crate::access::{self, Actor};
    use crate::error::AppResult;
    use crate::rbac::Capability;
    use crate::runs::sql::{published_scalar, tenant_among};
    use crate::runs::trends;
    use crate::services::Services;
    use std::collections::HashMap;

    const DAY: i64 = 86_400_000;

    /// (tenant, name, status) of the tenants the page lists.
    type TenantRow = (i64, String, String);
    /// Per tenant: the latest (compliant, total) and the trend in per cent.
    type Trend = (Option<(i64, i64)>, Vec<i64>);
    /// Per tenant: the default connection's id, consent, status, expiry.
    type ConnectionRow = (i64, String, String, Option<i64>);

    /// The fleet page of the member's current workspace (None: no workspace).
    pub async fn page(svc: &Services, actor: &Actor, query: &str) -> AppResult<Option<FleetPage>> {
        let query = FleetQuery::parse(query)?;
        let Some(access) =
            access::current_workspace_with(svc, actor, Capability::TenantView).await?
        else {
            return Ok(None);
        };
        let ws = access.id().0;
        let now = svc.now();
        let since = now - 7 * DAY;
        let rules = crate::zones::rules(actor.time_zone.as_deref(), now);
        let bounds = trends::local_midnights(rules.as_ref(), now, CHART_DAYS as i64);
        // Before this page's connection: the trend reads on its own.
        let runs_by_day = trends::runs_per_day(
            svc,
            &crate::runs::monitoring::Viewer::member(&access, actor),
            &crate::runs::filter::RunFilter {
                tag: query.tag,
                ..Default::default()
            },
            rules.as_ref(),
            now,
        )
        .await?;
        let mut conn = svc.store.read().await?;
        let tags: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM tags WHERE workspace_id = $1 ORDER BY name")
                .bind(ws)
                .fetch_all(&mut *conn)
                .await?;
        // Another workspace's tag is not there, like its tenants.
        if let Some(t) = query.tag
            && !tags.iter().any(|(id, _)| *id == t.0)
        {
            return Err(crate::AppError::NotFound);
        }
        let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
        let tenants = listed_tenants(&mut conn, ws, visible_to, query.tag).await?;
        // The charts cover the listed tenants: every tenant of the workspace
        // unless the reader sees only some or a tag narrows the list.
        let ids: Vec<i64> = tenants.iter().map(|t| t.0).collect();
        let listed = |alias: &str| match (visible_to, query.tag) {
            (None, None) => String::new(),
            // None listed: a filter nothing passes.
            _ if ids.is_empty() => " AND 1 = 0".to_string(),
            _ => tenant_among(alias, &ids),
        };
        let drift_by_day = drift_chart(&mut conn, ws, &bounds, &listed("d")).await?;
        let alignment_by_day = alignment_chart(&mut conn, ws, &bounds, &listed("r")).await?;
        // The table reads what the page shows: the column it is sorted by
        // for every tenant (to order the whole fleet), every other column
        // for the page's tenants only, once the order is known.
        let sorted_by = Column::of(query.sort);
        let mut columns = Columns::default();
        if let Some(column) = sorted_by {
            columns.read(&mut conn, ws, since, column, None).await?;
        }
        let mut order: Vec<FleetRow> = tenants
            .iter()
            .map(|(id, name, status)| columns.row(*id, name, status))
            .collect();
        sort_rows(&mut order, query, now);
        let total = order.len();
        let skip = (query.page_number() as usize - 1).saturating_mul(FLEET_PAGE_SIZE);
        let on_page: Vec<i64> = order
            .iter()
            .skip(skip)
            .take(FLEET_PAGE_SIZE)
            .map(|r| r.tenant.0)
            .collect();
        for column in Column::ALL {
            if Some(column) != sorted_by {
                columns
                    .read(&mut conn, ws, since, column, Some(&on_page))
                    .await?;
            }
        }
        let names: HashMap<i64, &(i64, String, String)> =
            tenants.iter().map(|t| (t.0, t)).collect();
        let rows: Vec<FleetRow> = on_page
            .iter()
            .filter_map(|id| names.get(id))
            .map(|(id, name, status)| columns.row(*id, name, status))
            .collect();
        Ok(Some(FleetPage {
            now,
            query,
            total,
            rows,
            tags: tags.into_iter().map(|(id, n)| (TagId(id), n)).collect(),
            days: trends::local_dates(&bounds, rules.as_ref()),
            runs_by_day,
            drift_by_day,
            alignment_by_day,
        }))
    }

    /// A column of the table that is read from the database.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Column {
        Inventory,
        Compliance,
        Drift,
        Alignment,
        Connection,
        Active,
        Failed,
    }

    impl Column {
        const ALL: [Column; 7] = [
            Column::Inventory,
            Column::Compliance,
            Column::Drift,
            Column::Alignment,
            Column::Connection,
            Column::Active,
            Column::Failed,
        ];

        /// The column a sort reads (None: the name, already listed).
        fn of(sort: FleetSort) -> Option<Column> {
            match sort {
                FleetSort::Name => None,
                FleetSort::Inventory => Some(Column::Inventory),
                FleetSort::Compliance => Some(Column::Compliance),
                FleetSort::Drift => Some(Column::Drift),
                FleetSort::Alignment => Some(Column::Alignment),
                FleetSort::Secret => Some(Column::Connection),
                FleetSort::Active => Some(Column::Active),
                FleetSort::Failed => Some(Column::Failed),
            }
        }
    }

    /// The table's numbers read so far, per tenant.
    #[derive(Default)]
    struct Columns {
        inventory: HashMap<i64, i64>,
        trends: HashMap<i64, Trend>,
        drift: HashMap<i64, i64>,
        alignment: HashMap<i64, (i64, i64)>,
        connections: HashMap<i64, ConnectionRow>,
        active: HashMap<i64, i64>,
        failed: HashMap<i64, i64>,
    }

    impl Columns {
        /// Reads `column` for `only` these tenants (every tenant of the
        /// workspace when `None`): one grouped query, never one per tenant.
        async fn read(
            &mut self,
            conn: &mut sqlx::AnyConnection,
            ws: i64,
            since: i64,
            column: Column,
            only: Option<&[i64]>,
        ) -> AppResult<()> {
            let among = |alias: &str| only.map_or_else(String::new, |ids| tenant_among(alias, ids));
            if only.is_some_and(<[i64]>::is_empty) {
                return Ok(());
            }
            match column {
                Column::Inventory => {
                    // Each tenant's newest published snapshot, walking its
                    // snapshots newest first (ids follow the time they were
                    // taken): a year of history costs what a week does.
                    self.inventory = per_tenant(
                        conn,
                        &format!(
                            "SELECT x.tenant_id, x.taken_at FROM (
                                 SELECT t.id AS tenant_id,
                                        (SELECT s.taken_at FROM inventory_snapshots s
                                         WHERE s.tenant_id = t.id AND {} ORDER BY s.id DESC LIMIT 1) AS taken_at
                                 FROM tenants t WHERE t.workspace_id = $1{}
                             ) x WHERE x.taken_at IS NOT NULL",
                            published_scalar("s"),
                            only.map_or_else(String::new, |ids| crate::runs::sql::id_among("t.id", ids)),
                        ),
                        ws,
                        None,
                    )
                    .await?
                }
                Column::Compliance => self.trends = compliance_trends(conn, ws, only).await?,
                Column::Drift => {
                    self.drift = per_tenant(
                        conn,
                        &format!(
                            "SELECT d.tenant_id, COUNT(*) FROM drift_entries d
                             WHERE d.workspace_id = $1{} AND d.detected_at >= $2 AND {} GROUP BY d.tenant_id",
                            among("d"),
                            published_scalar("d")
                        ),
                        ws,
                        Some(since),
                    )
                    .await?
                }
                Column::Alignment => {
                    self.alignment = crate::baselines::service::alignment_by_tenant(
                        conn,
                        crate::ids::WorkspaceId(ws),
                        only,
                    )
                    .await?
                }
                Column::Connection => {
                    self.connections = default_connections(conn, ws, &among("c")).await?
                }
                Column::Active => {
                    self.active = per_tenant(
                        conn,
                        &format!(
                            "SELECT r.tenant_id, COUNT(*) FROM operation_runs r
                             WHERE r.workspace_id = $1 AND r.tenant_id IS NOT NULL{} AND {} GROUP BY r.tenant_id",
                            among("r"),
                            crate::runs::sql::active_run!("r"),
                        ),
                        ws,
                        None,
                    )
                    .await?
                }
                Column::Failed => {
                    self.failed = per_tenant(
                        conn,
                        &format!(
                            "SELECT r.tenant_id, COUNT(*) FROM operation_runs r
                             WHERE r.workspace_id = $1 AND r.tenant_id IS NOT NULL{} AND {} AND r.created_at >= $2
                             GROUP BY r.tenant_id",
                            among("r"),
                            crate::runs::sql::ended_failed!("r"),
                        ),
                        ws,
                        Some(since),
                    )
                    .await?
                }
            }
            Ok(())
        }

        /// A tenant's row from what has been read (a column not read yet
        /// reads as unknown or zero: only the sort looks at such rows).
        fn row(&self, id: i64, name: &str, status: &str) -> FleetRow {
            let (compliant, trend) = self.trends.get(&id).cloned().unwrap_or_default();
            let conn = self.connections.get(&id);
            FleetRow {
                tenant: TenantId(id),
                name: name.to_string(),
                active: status == "active",
                inventory_at: self.inventory.get(&id).copied(),
                compliant,
                compliance_trend: trend,
                drift_7d: self.drift.get(&id).copied().unwrap_or(0),
                alignment: self.alignment.get(&id).copied(),
                connection: conn.map(|c| ProviderConnectionId(c.0)),
                consent: conn.map(|c| c.1 == "granted"),
                connection_enabled: conn.map(|c| c.2 == "enabled"),
                secret_expires_at: conn.and_then(|c| c.3),
                active_runs: self.active.get(&id).copied().unwrap_or(0),
                failed_7d: self.failed.get(&id).copied().unwrap_or(0),
            }
        }
    }

    /// The tenants the member may see (operators, read-only: assigned), in the tag.
    async fn listed_tenants(
        conn: &mut sqlx::AnyConnection,
        ws: i64,
        visible_to: Option<crate::ids::UserId>,
        tag: Option<TagId>,
    ) -> AppResult<Vec<TenantRow>> {
        let mut sql = String::from(
            "SELECT t.id, t.display_name, t.status FROM tenants t WHERE t.workspace_id = $1",
        );
        let mut binds = vec![ws];
        if let Some(user) = visible_to {
            binds.push(user.0);
            sql.push_str(&format!(
                " AND t.id IN (SELECT a.tenant_id FROM tenant_assignments a WHERE a.user_id = ${})",
                binds.len()
            ));
        }
        if let Some(t) = tag {
            binds.push(t.0);
            sql.push_str(&format!(
                " AND t.id IN (SELECT tt.tenant_id FROM tenant_tags tt WHERE tt.tag_id = ${})",
                binds.len()
            ));
        }
        let mut q = sqlx::query_as::<_, TenantRow>(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(*b);
        }
        Ok(q.fetch_all(conn).await?)
    }

    /// One grouped (tenant, number) query over the workspace (`$1`), with
    /// `$2` when given.
    async fn per_tenant(
        conn: &mut sqlx::AnyConnection,
        sql: &str,
        ws: i64,
        since: Option<i64>,
    ) -> AppResult<HashMap<i64, i64>> {
        let mut q = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql.to_string())).bind(ws);
        if let Some(s) = since {
            q = q.bind(s);
        }
        Ok(q.fetch_all(conn).await?.into_iter().collect())
    }

    /// Each tenant's latest compliance and its trend (newest last).
    /// The latest published compliance snapshots of `only` these tenants
    /// (every tenant of the workspace when `None`). Each snapshot's run is
    /// checked by its key (a scalar subquery): the planner would otherwise
    /// hash-join every run of the workspace.
    async fn compliance_trends(
        conn: &mut sqlx::AnyConnection,
        ws: i64,
        only: Option<&[i64]>,
    ) -> AppResult<HashMap<i64, Trend>> {
        let among = match only {
            Some([]) => return Ok(HashMap::new()),
            Some(ids) => crate::runs::sql::id_among("t.id", ids),
            None => String::new(),
        };
        // Per tenant, its newest published snapshots only (walked newest
        // first through its index), then numbered: never the whole history.
        let compliance: Vec<(i64, i64, i64, i64, i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT tenant_id, rn, compliant, noncompliant, in_grace_period, other FROM (
                SELECT s.tenant_id, s.compliant, s.noncompliant, s.in_grace_period, s.other,
                       ROW_NUMBER() OVER (PARTITION BY s.tenant_id ORDER BY s.id DESC) AS rn
                FROM tenants t JOIN compliance_snapshots s ON s.tenant_id = t.id
                WHERE t.workspace_id = $1{among} AND s.id IN (
                    SELECT s2.id FROM compliance_snapshots s2
                    WHERE s2.tenant_id = t.id AND {} ORDER BY s2.id DESC LIMIT {TREND_POINTS})
             ) x ORDER BY tenant_id, rn DESC",
                published_scalar("s2")
            )))
            .bind(ws)
            .fetch_all(conn)
            .await?;
        let mut trends: HashMap<i64, Trend> = HashMap::new();
        for (tenant, rn, ok, bad, grace, other) in compliance {
            let total = ok + bad + grace + other;
            let e = trends.entry(tenant).or_default();
            if total > 0 {
                e.1.push(ok * 100 / total);
            }
            if rn == 1 {
                e.0 = Some((ok, total));
            }
        }
        Ok(trends)
    }

    /// Each tenant's default connection (`among`: a tenant filter on `c`).
    async fn default_connections(
        conn: &mut sqlx::AnyConnection,
        ws: i64,
        among: &str,
    ) -> AppResult<HashMap<i64, ConnectionRow>> {
        let rows: Vec<(i64, i64, String, String, Option<i64>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT c.tenant_id, c.id, c.consent, c.status, c.credential_expires_at
                 FROM provider_connections c WHERE c.workspace_id = $1 AND c.is_default = 1{among}"
            )))
            .bind(ws)
            .fetch_all(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(t, id, consent, status, exp)| (t, (id, consent, status, exp)))
            .collect())
    }

    /// The fleet's drift per day, over the listed tenants (`listed`: a
    /// tenant filter on `d`, empty for the whole workspace).
    async fn drift_chart(
        conn: &mut sqlx::AnyConnection,
        ws: i64,
        bounds: &[i64],
        listed: &str,
    ) -> AppResult<Vec<i64>> {
        let (Some(from), Some(until)) = (bounds.first(), bounds.last()) else {
            return Ok(Vec::new());
        };
        let per_day: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} AS day, COUNT(*) FROM drift_entries d
             WHERE d.workspace_id = $1{listed} AND d.detected_at >= $2 AND d.detected_at < $3 AND {}
             GROUP BY 1",
            trends::day_index_sql("d.detected_at", bounds),
            published_scalar("d")
        )))
        .bind(ws)
        .bind(*from)
        .bind(*until)
        .fetch_all(conn)
        .await?;
        let mut by_day = vec![0i64; bounds.len() - 1];
        for (day, n) in per_day {
            if let Some(slot) = usize::try_from(day).ok().and_then(|d| by_day.get_mut(d)) {
                *slot += n;
            }
        }
        Ok(by_day)
    }

    /// The fleet's alignment per day in per cent, over the listed tenants
    /// (`listed`: a tenant filter on `r`).
    async fn alignment_chart(
        conn: &mut sqlx::AnyConnection,
        ws: i64,
        bounds: &[i64],
        listed: &str,
    ) -> AppResult<Vec<Option<i64>>> {
        let (Some(from), Some(until)) = (bounds.first(), bounds.last()) else {
            return Ok(Vec::new());
        };
        let day = |c: &str| trends::day_index_sql(c, bounds);
        // The latest published comparison of each tenant and baseline each
        // day, in one pass (a window: see `alignment_by_tenant`).
        let per_day: Vec<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT x.day, CAST(SUM(x.aligned) AS BIGINT), CAST(SUM(x.compared) AS BIGINT)
             FROM (
                 SELECT {} AS day, r.aligned, r.aligned + r.different + r.missing AS compared,
                        ROW_NUMBER() OVER (PARTITION BY r.tenant_id, r.baseline_id, {} ORDER BY r.id DESC) AS rn
                 FROM baseline_results r
                 WHERE r.workspace_id = $1{listed} AND r.compared_at >= $2 AND r.compared_at < $3 AND {}
             ) x
             WHERE x.rn = 1
             GROUP BY 1",
            day("r.compared_at"),
            day("r.compared_at"),
            published_scalar("r"),
        )))
        .bind(ws)
        .bind(*from)
        .bind(*until)
        .fetch_all(conn)
        .await?;
        let mut by_day = vec![(0i64, 0i64); bounds.len() - 1];
        for (day, aligned, total) in per_day {
            if let Some(slot) = usize::try_from(day).ok().and_then(|d| by_day.get_mut(d)) {
                slot.0 += aligned;
                slot.1 += total;
            }
        }
        Ok(by_day
            .into_iter()
            .map(|(a, n)| crate::baselines::percent(a, n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, name: &str, pct: Option<(i64, i64)>, drift: i64) -> FleetRow {
        FleetRow {
            tenant: TenantId(id),
            name: name.into(),
            active: true,
            inventory_at: None,
            compliant: pct,
            compliance_trend: Vec::new(),
            drift_7d: drift,
            alignment: None,
            connection: None,
            consent: None,
            connection_enabled: None,
            secret_expires_at: None,
            active_runs: 0,
            failed_7d: 0,
        }
    }

    #[test]
    fn sorting_keeps_unknowns_last_and_breaks_ties_by_name() {
        let mut rows = vec![
            row(1, "beta", Some((5, 10)), 2),
            row(2, "Alpha", None, 2),
            row(3, "gamma", Some((9, 10)), 0),
        ];
        let q = |sort, desc| FleetQuery {
            sort,
            desc,
            tag: None,
            page: 0,
        };
        sort_rows(&mut rows, q(FleetSort::Compliance, false), 0);
        assert_eq!(
            rows.iter().map(|r| r.tenant.0).collect::<Vec<_>>(),
            vec![1, 3, 2]
        );
        sort_rows(&mut rows, q(FleetSort::Compliance, true), 0);
        assert_eq!(
            rows.iter().map(|r| r.tenant.0).collect::<Vec<_>>(),
            vec![3, 1, 2]
        );
        sort_rows(&mut rows, q(FleetSort::Drift, true), 0);
        assert_eq!(
            rows.iter().map(|r| r.tenant.0).collect::<Vec<_>>(),
            vec![2, 1, 3]
        );
        sort_rows(&mut rows, q(FleetSort::Name, false), 0);
        assert_eq!(
            rows.iter().map(|r| r.tenant.0).collect::<Vec<_>>(),
            vec![2, 1, 3]
        );
    }

    #[test]
    fn the_query_round_trips_and_refuses_bad_values() {
        let q = FleetQuery::parse("sort=drift&dir=desc&tag=4&x=1").unwrap_or_default();
        assert_eq!(
            q,
            FleetQuery {
                sort: FleetSort::Drift,
                desc: true,
                tag: Some(TagId(4)),
                page: 0,
            }
        );
        assert_eq!(
            q.sort_link(FleetSort::Drift),
            "/admin/fleet?sort=drift&dir=asc&tag=4"
        );
        assert_eq!(
            q.sort_link(FleetSort::Name),
            "/admin/fleet?sort=name&dir=asc&tag=4"
        );
        assert_eq!(
            FleetQuery::parse("page=3").unwrap_or_default().page_link(4),
            "/admin/fleet?sort=name&dir=asc&page=4"
        );
        assert_eq!(
            FleetQuery::parse("page=3&sort=drift")
                .unwrap_or_default()
                .sort_link(FleetSort::Name),
            "/admin/fleet?sort=name&dir=asc"
        );
        for bad in [
            "sort=size",
            "dir=up",
            "tag=x",
            "page=0",
            "page=-1",
            "page=99999999",
            "page=x",
        ] {
            assert!(FleetQuery::parse(bad).is_err(), "{bad}");
        }
    }
}
