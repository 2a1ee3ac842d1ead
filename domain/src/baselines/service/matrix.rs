//! Reading alignment: the list, the matrix, one tenant's row.

use super::super::{
    AcceptanceView, AssignmentView, BaselinePage, BaselineSummary, BaselinesPage, CellState,
    CellView, ItemHead, MATRIX_PAGE, MatrixFilter, MatrixRow, StateCounts, TemplateChoice,
    TenantAlignment, VersionView, percent,
};
use crate::access::{self, Actor};
use crate::drift::SettingDelta;
use crate::error::{AppError, AppResult};
use crate::ids::{BaselineId, RunId, TagId, TenantId, UserId, WorkspaceId};
use crate::rbac::Capability;
use crate::runs::sql::published;
use crate::services::Services;
use sqlx::AnyConnection;
use std::collections::HashMap;

use super::common::*;

/// `/admin/baselines` for the member's current workspace.
pub async fn list_for_current(svc: &Services, actor: &Actor) -> AppResult<Option<BaselinesPage>> {
    match access::current_workspace_with(svc, actor, Capability::WorkspaceView).await? {
        Some(a) => list(svc, actor, a.id()).await.map(Some),
        None => Ok(None),
    }
}

/// Every baseline of a workspace with its alignment.
pub async fn list(svc: &Services, actor: &Actor, ws: WorkspaceId) -> AppResult<BaselinesPage> {
    let access = access::workspace(svc, actor, ws, Capability::WorkspaceView).await?;
    let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
    let mut conn = svc.store.read().await?;
    let rows: Vec<(i64, String, i64, i64, String, i64)> = sqlx::query_as(
        "SELECT b.id, b.name, b.current_version,
                (SELECT COUNT(*) FROM baseline_items bi WHERE bi.version_id = v.id),
                v.template_name, b.changed_at
         FROM baselines b JOIN baseline_versions v ON v.baseline_id = b.id AND v.version = b.current_version
         WHERE b.workspace_id = $1 ORDER BY b.search_name, b.id",
    )
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    // Assigned tenants and the latest comparisons' cells, per baseline, in two grouped queries.
    let assigned_counts: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT b.id, COUNT(t.id) FROM baselines b JOIN tenants t ON t.workspace_id = b.workspace_id
         WHERE b.workspace_id = $1 AND t.status = 'active' AND {}{} GROUP BY b.id",
        assigned("b.id", "t"),
        visible_clause(visible_to, "t")
    )))
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let alignment: Vec<(i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.baseline_id, COUNT(*), CAST(COALESCE(SUM(r.aligned), 0) AS BIGINT), CAST(COALESCE(SUM(r.aligned + r.different + r.missing), 0) AS BIGINT)
         FROM baseline_results r JOIN tenants t ON t.id = r.tenant_id
         JOIN baselines b ON b.id = r.baseline_id
         WHERE r.workspace_id = $1 AND t.status = 'active' AND {} AND {}{}
           AND r.id = (SELECT MAX(r2.id) FROM baseline_results r2 WHERE r2.baseline_id = r.baseline_id AND r2.tenant_id = r.tenant_id AND {})
         GROUP BY r.baseline_id",
        assigned("b.id", "t"),
        published("r"),
        visible_clause(visible_to, "t"),
        published("r2"),
    )))
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let templates: Vec<(i64, String, Option<i64>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id, t.display_name,
                (SELECT s.device_configurations + s.compliance_policies FROM inventory_snapshots s
                 WHERE s.tenant_id = t.id AND {} ORDER BY s.id DESC LIMIT 1)
         FROM tenants t WHERE t.workspace_id = $1 AND t.status = 'active'{}
         ORDER BY t.display_name, t.id",
        published("s"),
        visible_clause(visible_to, "t")
    )))
    .bind(ws.0)
    .fetch_all(&mut *conn)
    .await?;
    let baselines = rows
        .into_iter()
        .map(|(id, name, version, items, template_name, changed_at)| {
            let assigned_tenants = assigned_counts
                .iter()
                .find(|a| a.0 == id)
                .map_or(0, |a| a.1);
            let (compared, aligned, total) = alignment
                .iter()
                .find(|a| a.0 == id)
                .map_or((0, 0, 0), |a| (a.1, a.2, a.3));
            BaselineSummary {
                id: BaselineId(id),
                name,
                version,
                items,
                template_name,
                assigned_tenants,
                compared_tenants: compared,
                aligned_percent: percent(aligned, total),
                changed_at,
            }
        })
        .collect();
    Ok(BaselinesPage {
        workspace: ws,
        can_manage: access.require(Capability::BaselinesManage).is_ok(),
        baselines,
        templates: templates
            .into_iter()
            .map(|(id, name, policies)| TemplateChoice {
                tenant: TenantId(id),
                name,
                policies,
            })
            .collect(),
    })
}

/// The tenants of the matrix: assigned, active, visible, in the tag; by name.
pub(super) async fn matrix_tenants(
    conn: &mut AnyConnection,
    baseline: BaselineId,
    ws: WorkspaceId,
    visible_to: Option<UserId>,
    tag: Option<TagId>,
) -> AppResult<Vec<(i64, String)>> {
    let tag_clause = match tag {
        Some(g) => format!(
            " AND t.id IN (SELECT tt2.tenant_id FROM tenant_tags tt2 WHERE tt2.tag_id = {})",
            g.0
        ),
        None => String::new(),
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id, t.display_name FROM tenants t
         WHERE t.workspace_id = $2 AND t.status = 'active' AND {}{}{}
         ORDER BY LOWER(t.display_name), t.id",
        assigned("$1", "t"),
        visible_clause(visible_to, "t"),
        tag_clause
    )))
    .bind(baseline.0)
    .bind(ws.0)
    .fetch_all(conn)
    .await?)
}

/// Every cell of the latest published comparisons with `baseline`, with
/// acceptances in force at `now` laid over: (tenant, item) → state.
pub(super) async fn matrix_cells(
    conn: &mut AnyConnection,
    baseline: BaselineId,
    now: i64,
) -> AppResult<(
    HashMap<(i64, i64), CellState>,
    HashMap<i64, (i64, i64, i64, i64)>,
)> {
    let results: Vec<(i64, i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.tenant_id, r.version, r.compared_at, r.run_id, r.extras FROM baseline_results r
             WHERE r.id IN ({})",
        latest_results()
    )))
    .bind(baseline.0)
    .fetch_all(&mut *conn)
    .await?;
    let cells: Vec<(i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.tenant_id, i.item_no,
                CASE WHEN i.state <> 'aligned' AND {} THEN 'accepted' ELSE i.state END
         FROM baseline_result_items i JOIN baseline_results r ON r.id = i.result_id
         WHERE r.id IN ({})",
        accepted("r", "i", "$2"),
        latest_results()
    )))
    .bind(baseline.0)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let states = cells
        .into_iter()
        .filter_map(|(t, no, s)| Some(((t, no), CellState::parse(&s)?)))
        .collect();
    let heads = results
        .into_iter()
        .map(|(t, version, at, run, extras)| {
            let extras = serde_json::from_str::<Vec<String>>(&extras).map_or(0, |e| e.len() as i64);
            (t, (version, at, run, extras))
        })
        .collect();
    Ok((states, heads))
}

/// The baseline's page: the alignment matrix (tenants × items, filtered by
/// tag and state, 50 tenants a page), counts per row and per column (over
/// every tenant the filter keeps), versions and assignments.
pub async fn page(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    query: &str,
) -> AppResult<BaselinePage> {
    let (access, h) = baseline_access(svc, actor, baseline, Capability::WorkspaceView).await?;
    let filter = MatrixFilter::parse(query)?;
    let visible_to = (!access.role().sees_all_tenants()).then_some(actor.user_id);
    let mut conn = svc.store.read().await?;
    if let Some(tag) = filter.tag {
        let ok: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM tags WHERE id = $1 AND workspace_id = $2")
                .bind(tag.0)
                .bind(h.ws.0)
                .fetch_optional(&mut *conn)
                .await?;
        if ok.is_none() {
            return Err(AppError::NotFound);
        }
    }
    let items = items_of(&mut conn, h.version_id).await?;
    let tenants = matrix_tenants(&mut conn, baseline, h.ws, visible_to, filter.tag).await?;
    let (states, heads) = matrix_cells(&mut conn, baseline, svc.now()).await?;
    let aligning = crate::baselines::aligning::cells(
        &mut conn,
        baseline,
        h.ws,
        &heads.iter().map(|(t, h)| (*t, h.1)).collect(),
        svc.now(),
    )
    .await?;
    let nos: Vec<i64> = items.iter().map(|i| i.no).collect();
    let m = matrix(&nos, tenants, &states, &heads, &aligning, filter.state);
    let total_rows = m.rows.len() as i64;
    let (rows, next) = one_page(m.rows, &filter)?;
    let can_manage = access.require(Capability::BaselinesManage).is_ok();
    let about = about(&mut conn, baseline, h.ws, can_manage).await?;
    Ok(BaselinePage {
        id: baseline,
        workspace: h.ws,
        name: h.name,
        version: h.version,
        can_manage,
        can_align: access.require(Capability::RestoreExecute).is_ok(),
        can_compare: access.require(Capability::ProviderRun).is_ok(),
        items: items
            .into_iter()
            .map(|i| ItemHead {
                no: i.no,
                kind: i.kind,
                display_name: i.display_name,
            })
            .collect(),
        rows,
        columns: m.columns,
        totals: m.totals,
        tenants: total_rows,
        filter,
        next,
        tags: about.tags,
        assignments: about.assignments,
        targets: about.targets,
        versions: about.versions,
    })
}

/// Every row the filter keeps, with counts per row, per column and in all.
struct Matrix {
    rows: Vec<MatrixRow>,
    columns: Vec<StateCounts>,
    totals: StateCounts,
}

/// (version, compared at, run, extras) of each tenant's latest comparison.
type Heads = HashMap<i64, (i64, i64, i64, i64)>;

fn matrix(
    nos: &[i64],
    tenants: Vec<(i64, String)>,
    states: &HashMap<(i64, i64), CellState>,
    heads: &Heads,
    aligning: &std::collections::HashSet<(i64, i64)>,
    only: Option<CellState>,
) -> Matrix {
    let mut m = Matrix {
        rows: Vec::new(),
        columns: vec![StateCounts::default(); nos.len()],
        totals: StateCounts::default(),
    };
    for (t, name) in tenants {
        let cells: Vec<CellState> = nos
            .iter()
            .map(|no| {
                states
                    .get(&(t, *no))
                    .copied()
                    .unwrap_or(CellState::NotCompared)
            })
            .collect();
        if let Some(s) = only
            && !cells.contains(&s)
        {
            continue;
        }
        let mut counts = StateCounts::default();
        for (c, col) in cells.iter().zip(m.columns.iter_mut()) {
            counts.add(*c, 1);
            col.add(*c, 1);
            m.totals.add(*c, 1);
        }
        let head = heads.get(&t);
        m.rows.push(MatrixRow {
            aligning: nos.iter().map(|no| aligning.contains(&(t, *no))).collect(),
            tenant: TenantId(t),
            name,
            compared_at: head.map(|h| h.1),
            compared_version: head.map(|h| h.0),
            run: head.map(|h| RunId(h.2)),
            cells,
            counts,
            extras: head.map_or(0, |h| h.3),
        });
    }
    m
}

/// The filter's page of rows (keyset on the tenant), and the next page's query.
fn one_page(
    kept: Vec<MatrixRow>,
    filter: &MatrixFilter,
) -> AppResult<(Vec<MatrixRow>, Option<String>)> {
    let start = match filter.after {
        Some(after) => kept
            .iter()
            .position(|r| r.tenant == after)
            .map(|p| p + 1)
            .ok_or_else(|| {
                AppError::invalid(
                    "after",
                    "That page position is gone: start from the first page.",
                )
            })?,
        None => 0,
    };
    let mut rows: Vec<MatrixRow> = kept.into_iter().skip(start).take(MATRIX_PAGE + 1).collect();
    let next = (rows.len() > MATRIX_PAGE).then(|| {
        rows.truncate(MATRIX_PAGE);
        filter.to_query(rows.last().map(|r| r.tenant))
    });
    Ok((rows, next))
}

/// What the page shows about the baseline besides the matrix.
struct About {
    tags: Vec<(TagId, String)>,
    assignments: Vec<AssignmentView>,
    targets: Vec<(String, String)>,
    versions: Vec<VersionView>,
}

async fn about(
    conn: &mut AnyConnection,
    baseline: BaselineId,
    ws: WorkspaceId,
    can_manage: bool,
) -> AppResult<About> {
    let tags: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM tags WHERE workspace_id = $1 ORDER BY name, id")
            .bind(ws.0)
            .fetch_all(&mut *conn)
            .await?;
    let assignments: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT ba.id, ba.target_kind, t.display_name, g.name FROM baseline_assignments ba
         LEFT JOIN tenants t ON t.id = ba.tenant_id LEFT JOIN tags g ON g.id = ba.tag_id
         WHERE ba.baseline_id = $1 ORDER BY ba.id",
    )
    .bind(baseline.0)
    .fetch_all(&mut *conn)
    .await?;
    let versions: Vec<(i64, String, String, i64, Option<String>, i64)> = sqlx::query_as(
        "SELECT v.version, v.note, v.template_name, v.created_at, u.email,
                (SELECT COUNT(*) FROM baseline_items bi WHERE bi.version_id = v.id)
         FROM baseline_versions v LEFT JOIN users u ON u.id = v.created_by
         WHERE v.baseline_id = $1 ORDER BY v.version DESC LIMIT 20",
    )
    .bind(baseline.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut targets = Vec::new();
    if can_manage {
        targets.push(("all".to_string(), "Every active tenant".to_string()));
        for (id, name) in &tags {
            targets.push((format!("tag:{id}"), format!("Tag: {name}")));
        }
        let all: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, display_name FROM tenants WHERE workspace_id = $1 AND status = 'active' ORDER BY display_name, id",
        )
        .bind(ws.0)
        .fetch_all(&mut *conn)
        .await?;
        for (id, name) in all {
            targets.push((format!("tenant:{id}"), name));
        }
    }
    Ok(About {
        tags: tags.into_iter().map(|(id, n)| (TagId(id), n)).collect(),
        assignments: assignments
            .into_iter()
            .map(|(id, kind, tenant, tag)| AssignmentView {
                id,
                label: match kind.as_str() {
                    "all" => "Every active tenant".to_string(),
                    "tag" => format!("Tag: {}", tag.unwrap_or_default()),
                    _ => tenant.unwrap_or_default(),
                },
            })
            .collect(),
        targets,
        versions: versions
            .into_iter()
            .map(
                |(version, note, template_name, created_at, by, items)| VersionView {
                    version,
                    note,
                    template_name,
                    items,
                    created_at,
                    created_by: by,
                },
            )
            .collect(),
    })
}

/// One tenant's row of the matrix in full: each item's state, the settings
/// that differ, acceptances, the extra policies.
/// A comparison's cells: item number → (state, setting deltas as stored).
async fn result_items(
    conn: &mut AnyConnection,
    result: i64,
) -> AppResult<HashMap<i64, (CellState, String)>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT item_no, state, settings FROM baseline_result_items WHERE result_id = $1",
    )
    .bind(result)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(no, state, settings)| Some((no, (CellState::parse(&state)?, settings))))
        .collect())
}

pub async fn tenant_alignment(
    svc: &Services,
    actor: &Actor,
    baseline: BaselineId,
    tenant: TenantId,
) -> AppResult<TenantAlignment> {
    let (access, h) = baseline_access(svc, actor, baseline, Capability::WorkspaceView).await?;
    let t = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    if t.workspace.id() != h.ws {
        return Err(AppError::NotFound);
    }
    let now = svc.now();
    let mut conn = svc.store.read().await?;
    let is_assigned: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id FROM tenants t WHERE t.id = $2 AND {}",
        assigned("$1", "t")
    )))
    .bind(baseline.0)
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    let items = items_of(&mut conn, h.version_id).await?;
    let latest = latest_result(&mut conn, baseline, tenant).await?;
    let stored = match &latest {
        Some(l) => result_items(&mut conn, l.id).await?,
        None => HashMap::new(),
    };
    let acceptances: Vec<AcceptanceRow> = sqlx::query_as(
        "SELECT a.id, a.item_no, a.note, a.expires_at, u.email, a.accepted_at
         FROM baseline_acceptances a LEFT JOIN users u ON u.id = a.accepted_by
         WHERE a.baseline_id = $1 AND a.tenant_id = $2 AND a.revoked_at IS NULL
           AND (a.expires_at IS NULL OR a.expires_at > $3)
         ORDER BY a.id DESC",
    )
    .bind(baseline.0)
    .bind(tenant.0)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let aligning = crate::baselines::aligning::cells(
        &mut conn,
        baseline,
        h.ws,
        &latest
            .as_ref()
            .map(|l| (tenant.0, l.compared_at))
            .into_iter()
            .collect(),
        now,
    )
    .await?;
    let mut counts = StateCounts::default();
    let cells: Vec<CellView> = items
        .into_iter()
        .map(|i| {
            let (compared_state, settings) = match stored.get(&i.no) {
                Some((s, raw)) => (
                    *s,
                    serde_json::from_str::<Vec<SettingDelta>>(raw).unwrap_or_default(),
                ),
                None => (CellState::NotCompared, Vec::new()),
            };
            let acceptance = acceptances
                .iter()
                .find(|a| a.1 == i.no)
                .map(|a| AcceptanceView {
                    id: a.0,
                    note: a.2.clone(),
                    expires_at: a.3,
                    accepted_by: a.4.clone(),
                    accepted_at: a.5,
                });
            let state = if compared_state.deviates() && acceptance.is_some() {
                CellState::Accepted
            } else {
                compared_state
            };
            counts.add(state, 1);
            CellView {
                aligning: aligning.contains(&(tenant.0, i.no)),
                no: i.no,
                kind: i.kind,
                display_name: i.display_name,
                state,
                compared_state,
                settings,
                acceptance: acceptance.filter(|_| compared_state.deviates()),
            }
        })
        .collect();
    Ok(TenantAlignment {
        baseline,
        baseline_name: h.name,
        version: h.version,
        tenant,
        tenant_name: t.tenant.display_name,
        assigned: is_assigned.is_some(),
        compared_at: latest.as_ref().map(|l| l.compared_at),
        compared_version: latest.as_ref().map(|l| l.version),
        run: latest.as_ref().map(|l| RunId(l.run)),
        cells,
        counts,
        extras: latest
            .as_ref()
            .and_then(|l| serde_json::from_str(&l.extras).ok())
            .unwrap_or_default(),
        can_manage: access.require(Capability::BaselinesManage).is_ok(),
        can_align: access.require(Capability::RestoreExecute).is_ok(),
        can_compare: access.require(Capability::ProviderRun).is_ok(),
    })
}
