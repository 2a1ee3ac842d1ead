//! `tenantry bench year`: a year of nightly activity written straight into a
//! fresh database (every tenant's inventory, compliance, directory, role and
//! verification syncs each night; a share of policies changing, with their
//! drift; an audit entry per start), then the retention sweep with the
//! default policy. Prints the storage per table before and after, bytes per
//! tenant-year, the sweep's time for the year and for one further night's
//! expiry, and p50/p95 of the pages an operator reads most on the result.

use crate::bench::{Fresh, fresh, percentile};
use domain::inventory::InventoryItem;
use domain::services::Services;
use domain::store::Backend;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const DAY: i64 = 86_400_000;
const SYNCS: [&str; 5] = [
    "inventory_sync",
    "compliance_snapshot",
    "directory_groups_sync",
    "role_definitions_sync",
    "tenant_verification",
];

/// `tenantry bench year` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct YearBenchOptions {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    pub backend: String,
    #[arg(long, default_value_t = 1000)]
    pub tenants: usize,
    /// Policies per tenant.
    #[arg(long, default_value_t = 300)]
    pub policies: i64,
    #[arg(long, default_value_t = 365)]
    pub nights: i64,
    /// One policy in this many changes each night (50: 2 %).
    #[arg(long, default_value_t = 50)]
    pub change_one_in: i64,
    /// Managed devices per tenant (a compliance state each, every night).
    #[arg(long, default_value_t = 50)]
    pub devices: i64,
    /// Directory groups per tenant (all written by every groups sync).
    #[arg(long, default_value_t = 60)]
    pub groups: i64,
    /// Role definitions per tenant.
    #[arg(long, default_value_t = 20)]
    pub roles: i64,
    /// GETs per page (after three warm-up requests).
    #[arg(long, default_value_t = 30)]
    pub samples: usize,
    /// Keep the database afterwards (prints its URL).
    #[arg(long)]
    pub keep_database: bool,
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

fn e<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

pub async fn run(opts: YearBenchOptions) -> Result<(), String> {
    let backends = match opts.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    println!(
        "tenantry bench year: {} tenants × {} nights; {} policies each, one in {} changing a night; {} devices, {} groups, {} roles; syncs nightly: {}",
        opts.tenants,
        opts.nights,
        opts.policies,
        opts.change_one_in,
        opts.devices,
        opts.groups,
        opts.roles,
        SYNCS.join(", ")
    );
    for backend in backends {
        let f = fresh(backend, opts.tenants, &opts.pg_admin_url, false).await?;
        let result = one_backend(&opts, &f).await;
        if opts.keep_database {
            eprintln!("kept: {}", f.url());
        } else {
            f.cleanup().await;
        }
        result?;
    }
    Ok(())
}

async fn one_backend(opts: &YearBenchOptions, f: &Fresh) -> Result<(), String> {
    let svc = &f.svc;
    let backend = svc.store.backend();
    let now = svc.now();
    let first_night = now - (opts.nights + 1) * DAY;
    let mut g = Generator::new(opts, f).await?;
    let started = Instant::now();
    for night in 0..opts.nights {
        let at = first_night + night * DAY + 2 * 3_600_000;
        // The hourly sweep makes the months ahead as the year goes by.
        domain::retention::partitions::create_ahead(svc, at)
            .await
            .map_err(e)?;
        g.night(night, at).await?;
        if night % 30 == 29 {
            if backend == Backend::Postgres {
                // Fresh statistics for tonight's look-ups as the tables grow
                // (autovacuum's analyze lags a bulk load like this one).
                sqlx::query("ANALYZE")
                    .execute(svc.store.unguarded_pool())
                    .await
                    .map_err(e)?;
            }
            eprintln!(
                "{backend:?}: night {} of {} written ({:.0} s)",
                night + 1,
                opts.nights,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let generated = started.elapsed();
    crate::bench::settle(svc).await?;
    let before = sizes(svc).await?;

    // The year's expiry at once (a sweep stops at its time limit; the next
    // goes on), then one more night and its expiry alone.
    let sweeping = Instant::now();
    let mut year = domain::retention::SweepSummary::default();
    loop {
        let s = domain::retention::sweep::sweep(svc, now).await.map_err(e)?;
        year.snapshots += s.snapshots;
        year.runs += s.runs;
        year.directory_rows += s.directory_rows;
        year.inventory_bodies += s.inventory_bodies;
        year.audit_entries += s.audit_entries;
        year.notifications += s.notifications;
        year.partitions += s.partitions;
        if s.complete {
            break;
        }
    }
    let year_sweep = sweeping.elapsed();
    g.night(opts.nights, now - DAY + 3 * 3_600_000).await?;
    let night_started = Instant::now();
    let night = domain::retention::sweep::sweep(svc, now + DAY)
        .await
        .map_err(e)?;
    let night_sweep = night_started.elapsed();
    let after = sizes(svc).await?;
    compact(svc).await?;
    let compacted = sizes(svc).await?;

    println!();
    println!(
        "## {backend:?}: generated in {:.0} s",
        generated.as_secs_f64()
    );
    println!();
    println!(
        "| table (with its indexes) | rows before | MB before | rows after | MB after sweep | MB compacted |"
    );
    println!("|---|---|---|---|---|---|");
    let mut names: Vec<&String> = before.keys().collect();
    names.sort_by(|a, b| before[*b].1.cmp(&before[*a].1));
    for name in names {
        let (rb, bb) = before[name];
        let (ra, ba) = after.get(name).copied().unwrap_or((0, 0));
        let (_, bc) = compacted.get(name).copied().unwrap_or((0, 0));
        if bb < 64 * 1024 && bc < 64 * 1024 {
            continue;
        }
        println!(
            "| {name} | {rb} | {:.1} | {ra} | {:.1} | {:.1} |",
            mb(bb),
            mb(ba),
            mb(bc)
        );
    }
    let total = |m: &HashMap<String, (i64, i64)>| m.values().map(|(_, b)| *b).sum::<i64>();
    let tenant_years = opts.tenants as f64 * opts.nights as f64 / 365.0;
    println!();
    println!(
        "database: {:.1} MB before retention, {:.1} MB after the sweep, {:.1} MB compacted ({}); per tenant-year: {:.2} MB before, {:.2} MB kept (target ≤ 50 MB on PostgreSQL)",
        mb(total(&before)),
        mb(total(&after)),
        mb(total(&compacted)),
        match backend {
            Backend::Postgres => "VACUUM FULL",
            Backend::Sqlite => "VACUUM",
        },
        mb(total(&before)) / tenant_years,
        mb(total(&compacted)) / tenant_years,
    );
    println!(
        "sweep of the year: {:.1} s ({} snapshots, {} directory rows, {} runs, {} bodies, {} audit entries, {} notifications, {} whole months dropped); of one night's expiry: {:.2} s ({} snapshots, {} runs, {} bodies; target < 60 s)",
        year_sweep.as_secs_f64(),
        year.snapshots,
        year.directory_rows,
        year.runs,
        year.inventory_bodies,
        year.audit_entries,
        year.notifications,
        year.partitions,
        night_sweep.as_secs_f64(),
        night.snapshots,
        night.runs,
        night.inventory_bodies,
    );
    crate::bench::settle(svc).await?;
    pages(opts, f).await
}

fn mb(bytes: i64) -> f64 {
    bytes as f64 / 1_000_000.0
}

/// Rows and bytes (table with its indexes) per table.
async fn sizes(svc: &Services) -> Result<HashMap<String, (i64, i64)>, String> {
    let pool = svc.store.unguarded_pool();
    let tables: Vec<(String,)> = match svc.store.backend() {
        Backend::Postgres => {
            // A partitioned table once, its months summed below.
            sqlx::query_as(
                "SELECT relname::text FROM pg_class
                 WHERE relkind IN ('r', 'p') AND NOT relispartition
                   AND relnamespace = 'public'::regnamespace",
            )
        }
        Backend::Sqlite => sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        ),
    }
    .fetch_all(pool)
    .await
    .map_err(e)?;
    let mut out = HashMap::new();
    // The benchmark's own helper tables are not Tenantry's.
    for (table,) in tables.into_iter().filter(|(t,)| !t.starts_with("bench_")) {
        let (rows,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(pool)
                .await
                .map_err(e)?;
        let bytes = match svc.store.backend() {
            Backend::Postgres => {
                sqlx::query_as::<_, (i64,)>(
                    "SELECT COALESCE(SUM(pg_total_relation_size(relid)), 0)::bigint
                     FROM pg_partition_tree(quote_ident($1)::regclass)",
                )
                .bind(&table)
                .fetch_one(pool)
                .await
                .map_err(e)?
                .0
            }
            // dbstat is not built into every SQLite: the table's own and
            // its indexes' pages where it is, else the file's share by rows.
            Backend::Sqlite => sqlx::query_as::<_, (i64,)>(
                "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = $1
                   OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1)",
            )
            .bind(&table)
            .fetch_one(pool)
            .await
            .map(|r| r.0)
            .unwrap_or(-1),
        };
        out.insert(table, (rows, bytes));
    }
    if svc.store.backend() == Backend::Sqlite && out.values().any(|(_, b)| *b < 0) {
        let (pages, size): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT page_count FROM pragma_page_count()), (SELECT page_size FROM pragma_page_size())",
        )
        .fetch_one(pool)
        .await
        .map_err(e)?;
        let rows: i64 = out.values().map(|(r, _)| *r).sum::<i64>().max(1);
        for v in out.values_mut() {
            v.1 = pages * size * v.0 / rows;
        }
    }
    Ok(out)
}

/// What the files hold once the freed space is given back.
async fn compact(svc: &Services) -> Result<(), String> {
    let sql = match svc.store.backend() {
        Backend::Postgres => "VACUUM FULL",
        Backend::Sqlite => "VACUUM",
    };
    sqlx::query(sql)
        .execute(svc.store.unguarded_pool())
        .await
        .map(|_| ())
        .map_err(e)
}

/// Which policies of `tenant` are new on `night`: all on the first, then one
/// in `k` each night, spread over tenants and nights (policy `p` changes
/// when `p + 7 × night + tenant` is a multiple of `k`).
fn changed_policies(policies: i64, k: i64, tenant: i64, night: i64) -> Vec<i64> {
    if night == 0 {
        return (0..policies).collect();
    }
    let k = k.max(1);
    let start = (-(7 * night + tenant)).rem_euclid(k);
    (start..policies).step_by(k as usize).collect()
}

/// The night-by-night writer.
struct Generator<'a> {
    opts: &'a YearBenchOptions,
    svc: &'a Services,
    ws: i64,
    tenants: Vec<i64>,
    /// Each tenant's newest inventory snapshot (drift's "previous").
    previous: HashMap<i64, i64>,
}

impl<'a> Generator<'a> {
    async fn new(opts: &'a YearBenchOptions, f: &'a Fresh) -> Result<Generator<'a>, String> {
        let svc = &f.svc;
        let (ws,): (i64,) = sqlx::query_as("SELECT id FROM workspaces ORDER BY id LIMIT 1")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .map_err(e)?;
        for sql in [
            "CREATE TABLE bench_current (tenant_id BIGINT NOT NULL, policy BIGINT NOT NULL, body_id BIGINT NOT NULL, PRIMARY KEY (tenant_id, policy))",
            "CREATE TABLE bench_series (g BIGINT PRIMARY KEY)",
        ] {
            sqlx::query(sql)
                .execute(svc.store.unguarded_pool())
                .await
                .map_err(e)?;
        }
        let most = opts.devices.max(opts.groups).max(opts.roles);
        for chunk in (1..=most).collect::<Vec<_>>().chunks(500) {
            let sql = format!(
                "INSERT INTO bench_series (g) VALUES {}",
                domain::store::value_rows(chunk.len(), 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for v in chunk {
                q = q.bind(*v);
            }
            q.execute(svc.store.unguarded_pool()).await.map_err(e)?;
        }
        Ok(Generator {
            opts,
            svc,
            ws,
            tenants: f.tenants.iter().map(|t| t.0).collect(),
            previous: HashMap::new(),
        })
    }

    /// The policy as a tenant's inventory holds it at `version`: a realistic
    /// body of about thirty settings.
    fn policy(&self, tenant: i64, policy: i64, version: i64) -> InventoryItem {
        let mut settings = serde_json::Map::new();
        settings.insert(
            "displayName".into(),
            format!("Baseline policy {policy}").into(),
        );
        settings.insert("version".into(), version.into());
        for k in 0..28 {
            settings.insert(
                format!("setting{k:02}"),
                format!("value-{}", (policy * 31 + k) % 7).into(),
            );
        }
        InventoryItem {
            kind: if policy % 4 == 0 {
                "compliance_policy"
            } else {
                "device_configuration"
            },
            external_id: format!("{tenant:08x}-0000-4000-8000-{policy:012}"),
            display_name: format!("Baseline policy {policy}"),
            platform: "Windows".into(),
            detail: "Windows 10 and later".into(),
            modified: Some(format!("night {version}")),
            settings: Some(serde_json::Value::Object(settings).to_string()),
        }
    }

    fn changed(&self, tenant: i64, night: i64) -> Vec<i64> {
        changed_policies(self.opts.policies, self.opts.change_one_in, tenant, night)
    }

    async fn night(&mut self, night: i64, at: i64) -> Result<(), String> {
        let svc = self.svc;
        let pool = svc.store.unguarded_pool();
        let kinds: Vec<String> = SYNCS
            .iter()
            .map(|s| format!("SELECT '{s}' AS op"))
            .collect();
        let exec = |sql: String| async move {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(e)
        };
        let ws = self.ws;
        exec(format!(
            "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key, context,
                created_at, started_at, completed_at, available_at, attempts)
             SELECT t.workspace_id, t.id, k.op, 'completed', 'succeeded', 'schedule', 'year:' || k.op || ':' || t.id || ':{night}', '{{}}',
                {at}, {at}, {at} + 60000, {at}, 1
             FROM tenants t CROSS JOIN ({}) k WHERE t.workspace_id = {ws} ORDER BY t.id",
            kinds.join(" UNION ALL ")
        ))
        .await?;
        let tonight = format!(
            "SELECT id FROM operation_runs WHERE workspace_id = {ws} AND created_at = {at}"
        );
        exec(format!(
            "INSERT INTO audit_log (workspace_id, tenant_id, actor_label, action, target, outcome, detail, created_at)
             SELECT workspace_id, tenant_id, 'Schedule', 'operation.queued', op_type, 'succeeded', NULL, created_at
             FROM operation_runs WHERE id IN ({tonight}) ORDER BY id"
        ))
        .await?;
        let p = self.opts.policies;
        exec(format!(
            "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices, attempt)
             SELECT tenant_id, id, completed_at, {}, {}, {}, 1 FROM operation_runs
             WHERE id IN ({tonight}) AND op_type = 'inventory_sync' ORDER BY id",
            p - p / 4,
            p / 4,
            self.opts.devices
        ))
        .await?;
        let snaps: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT tenant_id, id FROM inventory_snapshots WHERE run_id IN ({tonight})"
        )))
        .fetch_all(pool)
        .await
        .map_err(e)?;
        let run_of: HashMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(
            format!(
                "SELECT tenant_id, id FROM operation_runs WHERE id IN ({tonight}) AND op_type = 'inventory_sync'"
            ),
        ))
        .fetch_all(pool)
        .await
        .map_err(e)?
        .into_iter()
        .collect();

        // Tonight's new bodies through the inventory writer's own path, the
        // current body per policy updated, then every reference set-based.
        let mut changes: Vec<(i64, i64, InventoryItem)> = Vec::new();
        for t in &self.tenants {
            for policy in self.changed(*t, night) {
                changes.push((*t, policy, self.policy(*t, policy, night)));
            }
        }
        let items: Vec<InventoryItem> = changes.iter().map(|c| c.2.clone()).collect();
        let mut tx = svc.store.begin().await.map_err(e)?;
        let bodies = domain::inventory::stored::body_ids(&mut tx, svc.store.backend(), &items)
            .await
            .map_err(e)?;
        for chunk in changes.iter().zip(&bodies).collect::<Vec<_>>().chunks(300) {
            let sql = format!(
                "INSERT INTO bench_current (tenant_id, policy, body_id) VALUES {}
                 ON CONFLICT (tenant_id, policy) DO UPDATE SET body_id = excluded.body_id",
                domain::store::value_rows(chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((t, policy, _), body) in chunk {
                q = q.bind(*t).bind(*policy).bind(**body);
            }
            q.execute(&mut **tx).await.map_err(e)?;
        }
        tx.commit().await.map_err(e)?;
        exec(format!(
            "INSERT INTO inventory_refs (snapshot_id, body_id)
             SELECT s.id, c.body_id FROM inventory_snapshots s JOIN bench_current c ON c.tenant_id = s.tenant_id
             WHERE s.run_id IN ({tonight}) ORDER BY s.id, c.policy"
        ))
        .await?;
        // Drift: one entry per changed policy against the previous night.
        let snap_of: HashMap<i64, i64> = snaps.iter().copied().collect();
        if night > 0 {
            let rows: Vec<(i64, i64, i64, i64, &InventoryItem)> = changes
                .iter()
                .filter_map(|(t, _, item)| {
                    Some((
                        *t,
                        *snap_of.get(t)?,
                        *self.previous.get(t)?,
                        *run_of.get(t)?,
                        item,
                    ))
                })
                .collect();
            for chunk in rows.chunks(60) {
                let sql = format!(
                    "INSERT INTO drift_entries (workspace_id, tenant_id, snapshot_id, previous_snapshot_id, run_id, attempt, change,
                        kind, external_id, display_name, search_name, before_item_id, settings, detected_at)
                     VALUES {}",
                    domain::store::value_rows(chunk.len(), 14)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (t, snap, prev, run, item) in chunk {
                    q = q
                        .bind(ws)
                        .bind(*t)
                        .bind(*snap)
                        .bind(*prev)
                        .bind(*run)
                        .bind(1_i64)
                        .bind("changed")
                        .bind(item.kind)
                        .bind(item.external_id.clone())
                        .bind(item.display_name.clone())
                        .bind(item.display_name.to_lowercase())
                        .bind(None::<i64>)
                        .bind(r#"[{"setting":"version","before":"0","after":"1"}]"#)
                        .bind(at);
                }
                q.execute(pool).await.map_err(e)?;
            }
        }
        self.previous = snap_of;

        let (d, gr, ro) = (self.opts.devices, self.opts.groups, self.opts.roles);
        exec(format!(
            "INSERT INTO compliance_snapshots (tenant_id, run_id, taken_at, compliant, noncompliant, in_grace_period, other, attempt)
             SELECT tenant_id, id, completed_at, {}, {}, 0, 0, 1 FROM operation_runs
             WHERE id IN ({tonight}) AND op_type = 'compliance_snapshot' ORDER BY id",
            d - d / 10,
            d / 10
        ))
        .await?;
        exec(format!(
            "INSERT INTO compliance_devices (snapshot_id, external_id, device_name, search_name, user_principal_name, operating_system, compliance_state, last_sync)
             SELECT s.id, 'device-' || g.g, 'DESKTOP-' || g.g, 'desktop-' || g.g, 'user' || g.g || '@contoso.example', 'Windows',
                    CASE WHEN g.g % 10 = 0 THEN 'noncompliant' ELSE 'compliant' END, NULL
             FROM compliance_snapshots s CROSS JOIN bench_series g
             WHERE g.g <= {d} AND s.run_id IN ({tonight}) ORDER BY s.id, g.g"
        ))
        .await?;
        exec(format!(
            "INSERT INTO directory_groups (tenant_id, external_id, display_name, search_name, description, mail, group_kind, synced_at, run_id, attempt)
             SELECT r.tenant_id, 'group-' || g.g, 'Group ' || g.g, 'group ' || g.g, 'A security group', NULL, 'security', r.completed_at, r.id, 1
             FROM operation_runs r CROSS JOIN bench_series g
             WHERE g.g <= {gr} AND r.id IN ({tonight}) AND r.op_type = 'directory_groups_sync' ORDER BY r.id, g.g"
        ))
        .await?;
        exec(format!(
            "INSERT INTO role_definitions (tenant_id, external_id, display_name, search_name, description, is_builtin, is_enabled, synced_at, run_id, attempt)
             SELECT r.tenant_id, 'role-' || g.g, 'Role ' || g.g, 'role ' || g.g, 'A role', 1, 1, r.completed_at, r.id, 1
             FROM operation_runs r CROSS JOIN bench_series g
             WHERE g.g <= {ro} AND r.id IN ({tonight}) AND r.op_type = 'role_definitions_sync' ORDER BY r.id, g.g"
        ))
        .await?;
        Ok(())
    }
}

/// p50/p95 of the hub, a tenant's page, its drift history and the fleet
/// over HTTP on the database as retention left it.
async fn pages(opts: &YearBenchOptions, f: &Fresh) -> Result<(), String> {
    let (base, stop, server) = crate::bench_http::start_server(f, 16, 64).await?;
    let owner =
        crate::bench_http::signed_in_client(&base, "bench@tenantry.local", "benchmark password")
            .await?;
    let tenant = f.tenants.get(f.tenants.len() / 2).map(|t| t.0).unwrap_or(1);
    let routes = [
        ("hub", "/admin/operations".to_string()),
        ("tenant page", format!("/admin/t/{tenant}")),
        ("drift history", format!("/admin/t/{tenant}/changes")),
        ("fleet", "/admin/fleet".to_string()),
    ];
    println!();
    println!(
        "| page | status | p50 ms | p95 ms |  ({} GETs each over HTTP on 127.0.0.1; target p95 < 50 ms)",
        opts.samples
    );
    println!("|---|---|---|---|");
    for (label, path) in routes {
        let (times, status) = get_times(&owner, &format!("{base}{path}"), opts.samples).await?;
        println!(
            "| {label} `{path}` | {status} | {:.1} | {:.1} |",
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}

async fn get_times(
    client: &reqwest::Client,
    url: &str,
    samples: usize,
) -> Result<(Vec<f64>, u16), String> {
    let mut times = Vec::with_capacity(samples);
    let mut status = 0;
    for i in 0..samples.max(1) + 3 {
        let started = Instant::now();
        let res = client
            .get(url)
            .header("sec-fetch-site", "same-origin")
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(e)?;
        status = res.status().as_u16();
        res.bytes().await.map_err(e)?;
        if i >= 3 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times, status))
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_policy_in_k_changes_each_night() {
        assert_eq!(super::changed_policies(300, 50, 3, 0).len(), 300);
        let mut seen = std::collections::HashSet::new();
        for tenant in [1_i64, 7, 1000] {
            for night in 1..200_i64 {
                let changed = super::changed_policies(300, 50, tenant, night);
                assert_eq!(changed.len(), 6, "2 % of 300");
                for p in changed {
                    assert_eq!((p + 7 * night + tenant).rem_euclid(50), 0);
                    seen.insert(p);
                }
            }
        }
        assert_eq!(seen.len(), 300, "every policy changes some night");
    }
}
