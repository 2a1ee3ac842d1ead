//! How pages read back what provider operations stored: browsing a
//! tenant's data, the verification report, the dashboard's provider panel.

use super::super::{
    BrowseKind, BrowsePage, DataSummary, ProviderPanel, TENANT_OPERATIONS, VerificationPage,
};
use super::stored::{COMPLIANCE_STATES, PAGE_SIZE, latest_verification};
use crate::access::{self, Actor};
use crate::error::AppResult;
use crate::ids::{RunId, TenantId};
use crate::rbac::Capability;
use crate::runs::gate::StartGate;
use crate::services::Services;

pub(crate) use crate::runs::sql::published;

/// The id of the tenant's latest published run in a directory table (`$1`
/// is the tenant).
pub fn latest_published_run(table: &str) -> String {
    format!(
        "SELECT MAX(x.run_id) FROM {table} x WHERE x.tenant_id = $1 AND {}",
        published("x")
    )
}

/// The latest published snapshot of a snapshot table: (id, taken_at, run_id).
pub(crate) async fn latest_snapshot(
    conn: &mut sqlx::AnyConnection,
    table: SnapshotTable,
    tenant: TenantId,
) -> AppResult<Option<(i64, i64, i64)>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT id, taken_at, run_id FROM {} s WHERE tenant_id = $1 AND {} ORDER BY id DESC LIMIT 1",
        table.name(),
        published("s")
    )))
    .bind(tenant.0)
    .fetch_optional(conn)
    .await?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnapshotTable {
    Inventory,
    Compliance,
}

impl SnapshotTable {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SnapshotTable::Inventory => "inventory_snapshots",
            SnapshotTable::Compliance => "compliance_snapshots",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum DirectoryTable {
    Groups,
    Roles,
}

impl DirectoryTable {
    pub(super) fn name(self) -> &'static str {
        match self {
            DirectoryTable::Groups => "directory_groups",
            DirectoryTable::Roles => "role_definitions",
        }
    }
}

/// `%term%` for LIKE, with the wildcards in the term escaped.
pub(super) fn like_pattern(q: &str) -> String {
    format!("%{}%", crate::store::like_escaped(&q.to_lowercase()))
}

/// Where a kind's rows come from: the published snapshot, or the published
/// directory run — (key, taken_at, run) and, for directories, the attempt.
async fn browse_source(
    conn: &mut sqlx::AnyConnection,
    kind: BrowseKind,
    tenant: TenantId,
) -> AppResult<(Option<(i64, i64, i64)>, i64)> {
    Ok(match kind {
        BrowseKind::DeviceConfigurations
        | BrowseKind::CompliancePolicies
        | BrowseKind::ManagedDevices => (
            latest_snapshot(conn, SnapshotTable::Inventory, tenant).await?,
            0,
        ),
        BrowseKind::DeviceCompliance => (
            latest_snapshot(conn, SnapshotTable::Compliance, tenant).await?,
            0,
        ),
        BrowseKind::Groups | BrowseKind::Roles => {
            let table = if kind == BrowseKind::Groups {
                DirectoryTable::Groups
            } else {
                DirectoryTable::Roles
            }
            .name();
            let row: Option<(i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
                "SELECT run_id, synced_at, attempt FROM {table} d
                 WHERE tenant_id = $1 AND run_id = ({}) AND {} LIMIT 1",
                latest_published_run(table),
                published("d")
            )))
            .bind(tenant.0)
            .fetch_optional(conn)
            .await?;
            (
                row.map(|(run, at, _)| (run, at, run)),
                row.map_or(0, |r| r.2),
            )
        }
    })
}

/// The fixed SQL fragments of a kind's rows: table, key column, extra
/// condition, the four columns shown, the order.
struct Shape {
    from: &'static str,
    key_col: &'static str,
    extra: String,
    columns: &'static str,
}

fn shape(kind: BrowseKind, attempt: i64) -> Shape {
    const ITEM: &str = "display_name, platform, detail, COALESCE(modified, '')";
    let item = |k: &str| Shape {
        from: "inventory_items",
        key_col: "snapshot_id",
        extra: format!(" AND kind = '{k}'"),
        columns: ITEM,
    };
    // The attempt is an integer read from our own table, never user input.
    let directory = |from: &'static str, columns: &'static str| Shape {
        from,
        key_col: "run_id",
        extra: format!(" AND attempt = {attempt}"),
        columns,
    };
    match kind {
        BrowseKind::DeviceConfigurations => item("device_configuration"),
        BrowseKind::CompliancePolicies => item("compliance_policy"),
        BrowseKind::ManagedDevices => item("managed_device"),
        BrowseKind::DeviceCompliance => Shape {
            from: "compliance_devices",
            key_col: "snapshot_id",
            extra: String::new(),
            columns: "device_name, user_principal_name, operating_system, compliance_state",
        },
        BrowseKind::Groups => directory(
            "directory_groups",
            "display_name, group_kind, COALESCE(mail, ''), description",
        ),
        BrowseKind::Roles => directory(
            "role_definitions",
            "display_name, CASE WHEN is_builtin = 1 THEN 'Yes' ELSE 'No' END, CASE WHEN is_enabled = 1 THEN 'Yes' ELSE 'No' END, description",
        ),
    }
}

/// One page of a tenant's provider data, searchable by name.
pub async fn browse(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
    kind: BrowseKind,
    query: &str,
    state: Option<&str>,
    page: i64,
) -> AppResult<BrowsePage> {
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    let query = query.trim().chars().take(100).collect::<String>();
    let page = page.clamp(1, 100_000);
    let offset = (page - 1) * PAGE_SIZE;
    let mut conn = svc.store.read().await?;
    let search = (!query.is_empty()).then(|| like_pattern(&query));
    let state = state
        .filter(|s| COMPLIANCE_STATES.contains(s))
        .map(str::to_string);
    let (source, attempt) = browse_source(&mut conn, kind, tenant).await?;
    let mut result = BrowsePage {
        tenant: access.tenant,
        kind,
        taken_at: source.map(|s| s.1),
        run_id: source.map(|s| RunId(s.2)),
        query: query.clone(),
        state: state.clone(),
        facets: vec![],
        rows: vec![],
        total: 0,
        page,
        page_size: PAGE_SIZE,
        can_run: access.workspace.role().can(Capability::ProviderRun),
    };
    let Some((key, _, _)) = source else {
        return Ok(result);
    };
    let Shape {
        from,
        key_col,
        extra,
        columns,
    } = shape(kind, attempt);
    let mut filter = format!("{key_col} = $1{extra}");
    if search.is_some() {
        filter.push_str(" AND search_name LIKE $2 ESCAPE '\\'");
    }
    if state.is_some() {
        filter.push_str(if search.is_some() {
            " AND compliance_state = $3"
        } else {
            " AND compliance_state = $2"
        });
    }
    let count_sql = format!("SELECT COUNT(*) FROM {from} WHERE {filter}");
    let rows_sql = format!(
        "SELECT {columns} FROM {from} WHERE {filter} ORDER BY search_name, id LIMIT {PAGE_SIZE} OFFSET {offset}"
    );
    // Built from fixed fragments of this module; values are bound.
    let mut count_q = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(count_sql)).bind(key);
    let mut rows_q =
        sqlx::query_as::<_, (String, String, String, String)>(sqlx::AssertSqlSafe(rows_sql))
            .bind(key);
    for value in [&search, &state].into_iter().flatten() {
        count_q = count_q.bind(value.clone());
        rows_q = rows_q.bind(value.clone());
    }
    result.total = count_q.fetch_one(&mut *conn).await?.0;
    let rows = rows_q.fetch_all(&mut *conn).await?;
    result.rows = rows
        .into_iter()
        .map(|(a, b, c, d)| vec![a, b, c, d])
        .collect();
    if kind == BrowseKind::DeviceCompliance {
        result.facets = sqlx::query_as(
            "SELECT compliance_state, COUNT(*) FROM compliance_devices WHERE snapshot_id = $1
             GROUP BY compliance_state ORDER BY COUNT(*) DESC",
        )
        .bind(key)
        .fetch_all(&mut *conn)
        .await?;
    }
    Ok(result)
}

pub async fn verification_page(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
) -> AppResult<VerificationPage> {
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    Ok(VerificationPage {
        report: latest_verification(svc, tenant).await?,
        can_run: access.workspace.role().can(Capability::ProviderRun),
        tenant: access.tenant,
    })
}

/// A provider operation that would start on a tenant never verified says
/// so ("Not verified yet", with a one-click *Verify now*) instead of
/// "Ready", matching the verification card beside it.
fn not_verified(
    tenant: TenantId,
    r: crate::runs::model::Readiness,
) -> crate::runs::model::Readiness {
    use crate::runs::model::{ReadinessState, ScopeKind};
    use crate::runs::next_steps::{NextAction, NextStep, StepContext};
    let provider_work = r.op_type.spec().scope == ScopeKind::ProviderConnection;
    if r.state != ReadinessState::Ready
        || !provider_work
        || r.op_type == crate::provider::TENANT_VERIFICATION
    {
        return r;
    }
    let ctx = StepContext {
        tenant: Some(tenant),
        ..StepContext::default()
    };
    crate::runs::model::Readiness {
        state: ReadinessState::NotVerified,
        next_steps: vec![NextStep {
            text: "Tenant verification has not run for this tenant yet: verify first, so this does not fail on sign-in or permissions.".into(),
            link: NextAction::VerifyNow.link(&ctx),
            start: NextAction::VerifyNow.start(&ctx),
        }],
        ..r
    }
}

/// The provider part of the tenant dashboard: default connection, readiness
/// of each operation (database only), the latest verification, and what data
/// is stored.
pub async fn provider_panel(
    svc: &Services,
    actor: &Actor,
    tenant: TenantId,
) -> AppResult<ProviderPanel> {
    let access = access::tenant(svc, actor, tenant, Capability::TenantView).await?;
    let readiness = StartGate::readiness(svc, actor, tenant, TENANT_OPERATIONS).await?;
    let connections = crate::provider::connections::list(svc, tenant).await?;
    let mut conn = svc.store.read().await?;
    let mut data = Vec::new();
    let inventory: Option<(i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT taken_at, device_configurations, compliance_policies, managed_devices FROM inventory_snapshots s
         WHERE tenant_id = $1 AND {} ORDER BY id DESC LIMIT 1",
        published("s")
    )))
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((at, configs, policies, devices)) = inventory {
        data.push(DataSummary {
            kind: BrowseKind::DeviceConfigurations,
            count: configs,
            taken_at: at,
        });
        data.push(DataSummary {
            kind: BrowseKind::CompliancePolicies,
            count: policies,
            taken_at: at,
        });
        data.push(DataSummary {
            kind: BrowseKind::ManagedDevices,
            count: devices,
            taken_at: at,
        });
    }
    let compliance: Option<(i64, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(&*format!(
        "SELECT taken_at, compliant, noncompliant, in_grace_period, other FROM compliance_snapshots s
         WHERE tenant_id = $1 AND {} ORDER BY id DESC LIMIT 1",
        published("s")
    )))
    .bind(tenant.0)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((at, a, b, c, d)) = compliance {
        data.push(DataSummary {
            kind: BrowseKind::DeviceCompliance,
            count: a + b + c + d,
            taken_at: at,
        });
    }
    for (kind, table) in [
        (BrowseKind::Groups, "directory_groups"),
        (BrowseKind::Roles, "role_definitions"),
    ] {
        let sql = format!(
            "SELECT COUNT(*), MAX(synced_at) FROM {table} d WHERE tenant_id = $1 AND run_id = ({}) AND {}",
            latest_published_run(table),
            published("d")
        );
        let row: (i64, Option<i64>) = sqlx::query_as(sqlx::AssertSqlSafe(&*sql))
            .bind(tenant.0)
            .fetch_one(&mut *conn)
            .await?;
        if let (count, Some(at)) = row {
            data.push(DataSummary {
                kind,
                count,
                taken_at: at,
            });
        }
    }
    drop(conn);
    let verification = latest_verification(svc, tenant).await?;
    let readiness = if verification.is_none() {
        readiness
            .into_iter()
            .map(|r| not_verified(tenant, r))
            .collect()
    } else {
        readiness
    };
    Ok(ProviderPanel {
        connection_count: connections.len() as i64,
        connection: connections.into_iter().find(|c| c.is_default),
        readiness,
        verification,
        data,
        can_manage: access.workspace.role().can(Capability::ProviderManage),
    })
}
