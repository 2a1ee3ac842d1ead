//! `tenantry bench search`: the command palette's answer (`domain::search::
//! search`, authorization and ranking included, HTTP excluded) at 1,000
//! tenants and 1,000,000 runs, each tenant with four inventory snapshots of
//! 30 policies (the latest is searched) and 50 groups. Prints p50/p95 per
//! kind of query, and the tenant list's read measured in the same sitting as
//! the baseline. Bounded; 127.0.0.1 or a temporary SQLite file only.

use crate::bench::fresh;
use crate::bench_monitoring::{operator, seed as seed_runs, time};
use domain::store::Backend;
use std::time::Instant;

/// `tenantry bench search` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchBenchOptions {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "postgres")]
    pub backend: String,
    #[arg(long, default_value_t = 1000)]
    pub tenants: usize,
    #[arg(long, default_value_t = 1_000_000)]
    pub runs: i64,
    /// Timed calls per query (after 5 warm-up calls).
    #[arg(long, default_value_t = 100)]
    pub samples: usize,
    /// Leave the last seeded database behind (its URL is printed) to inspect plans.
    #[arg(long)]
    pub keep_database: bool,
    /// Admin connection used to create and drop the benchmark database.
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

const POLICIES: &[&str] = &[
    "BitLocker encryption",
    "Windows Update ring",
    "Defender antivirus",
    "Edge security baseline",
    "Corporate Wi-Fi",
    "Always-on VPN",
    "Password rules",
    "Firewall rules",
    "OneDrive known folders",
    "Kiosk mode",
];
const GROUPS: &[&str] = &[
    "All staff",
    "Sales team",
    "Finance",
    "Helpdesk admins",
    "Remote workers",
];

fn case_of(names: &[&str]) -> String {
    format!(
        "CASE g % {} {} END",
        names.len(),
        names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("WHEN {i} THEN '{n}'"))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// Inventory (four snapshots per tenant, 30 policies each) and groups (50 per
/// tenant), each from a succeeded run of its type, set-based.
pub(crate) async fn seed_provider_data(svc: &domain::services::Services) -> Result<(), String> {
    let series = |n: i64| match svc.store.backend() {
        Backend::Postgres => format!("SELECT g FROM generate_series(1, {n}::bigint) AS s(g)"),
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) SELECT g FROM s"
        ),
    };
    let policy = format!("({} || ' ' || g)", case_of(POLICIES));
    let group = format!("({} || ' ' || g)", case_of(GROUPS));
    let statements = [
        // Per tenant, four succeeded inventory runs and one directory groups
        // run, newer than the seeded history.
        format!(
            "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key,
                context, created_at, started_at, completed_at, available_at, attempts)
             SELECT t.workspace_id, t.id, CASE WHEN g = 5 THEN 'directory_groups_sync' ELSE 'inventory_sync' END,
                'completed', 'succeeded', 'schedule', 'search-bench:' || t.id || ':' || g, '{{}}', g, g, g, g, 1
             FROM tenants t CROSS JOIN ({}) AS gs ORDER BY t.id, g",
            series(5)
        ),
        "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices, attempt)
         SELECT tenant_id, id, created_at, 22, 8, 0, 1 FROM operation_runs
         WHERE scope_key LIKE 'search-bench:%' AND op_type = 'inventory_sync' ORDER BY id"
            .to_string(),
        // Each tenant's 30 policies stored once (unchanged across its four
        // snapshots, as content addressing keeps them); the bench's key
        // stands in for the content hash the writer computes.
        format!(
            "INSERT INTO inventory_bodies (hash, kind, external_id, display_name, search_name, platform, detail, modified, settings)
             SELECT 'search-bench:' || t.id || ':' || g,
                    CASE WHEN g % 4 = 0 THEN 'compliance_policy' ELSE 'device_configuration' END, 'policy-' || g,
                    {policy}, LOWER({policy} || ' windows 10 and later'), 'windows10', 'Windows 10 and later', NULL, NULL
             FROM tenants t CROSS JOIN ({}) AS gs",
            series(30)
        ),
        format!(
            "INSERT INTO inventory_refs (snapshot_id, body_id)
             SELECT s.id, b.id FROM inventory_snapshots s CROSS JOIN ({}) AS gs
             JOIN inventory_bodies b ON b.hash = 'search-bench:' || s.tenant_id || ':' || g
             ORDER BY s.id, g",
            series(30)
        ),
        format!(
            "INSERT INTO directory_groups (tenant_id, external_id, display_name, search_name, description, mail, group_kind, synced_at, run_id, attempt)
             SELECT r.tenant_id, 'group-' || g, {group}, LOWER({group}), '', NULL, 'security', r.created_at, r.id, 1
             FROM operation_runs r CROSS JOIN ({}) AS gs
             WHERE r.scope_key LIKE 'search-bench:%' AND r.op_type = 'directory_groups_sync'",
            series(50)
        ),
    ];
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(svc.store.unguarded_pool())
            .await
            .map_err(|e| format!("seeding provider data: {e}"))?;
    }
    Ok(())
}

pub async fn run(opts: SearchBenchOptions) -> Result<(), String> {
    let backends = match opts.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "both" => vec![Backend::Sqlite, Backend::Postgres],
        _ => vec![Backend::Postgres],
    };
    println!(
        "tenantry bench search: {} tenants, {} runs, 4 × 30 policies and 50 groups per tenant; {} samples per query; ms",
        opts.tenants, opts.runs, opts.samples
    );
    println!();
    println!("| backend | query | p50 ms | p95 ms |");
    println!("|---|---|---|---|");
    for backend in backends {
        let f = fresh(backend, opts.tenants, &opts.pg_admin_url, false).await?;
        let svc = &f.svc;
        let first = f.tenants.first().map(|t| t.0).unwrap_or(1);
        let seeding = Instant::now();
        seed_runs(
            svc,
            opts.runs,
            first,
            opts.tenants as i64,
            f.owner.user_id.0,
            svc.now(),
        )
        .await?;
        seed_provider_data(svc).await?;
        crate::bench::settle(svc).await?;
        let counts: (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM inventory_items), (SELECT COUNT(*) FROM directory_groups)",
        )
        .fetch_one(svc.store.unguarded_pool())
        .await
        .map_err(|e| e.to_string())?;
        eprintln!(
            "{backend:?}: seeded in {:.1} s ({} policies, {} groups)",
            seeding.elapsed().as_secs_f64(),
            counts.0,
            counts.1
        );
        let operator = operator(&f).await?;
        let owner = &f.owner;
        // Every tenant opened once (the recent list has something to show).
        for t in f.tenants.iter().take(20) {
            domain::search::record_tenant_visit(svc, owner, *t)
                .await
                .map_err(|e| e.to_string())?;
        }
        let (max_run,): (i64,) = sqlx::query_as("SELECT MAX(id) FROM operation_runs")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .map_err(|e| e.to_string())?;
        let name = match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        let r = time(opts.samples, |_| {
            domain::tenants::tenants_page(svc, owner, None)
        })
        .await?;
        println!(
            "| {name} | baseline: the tenant list's read | {:.2} | {:.2} |",
            r.0, r.1
        );
        let queries: Vec<(&str, Vec<String>)> = vec![
            ("empty: recent tenants", vec![String::new()]),
            (
                "tenant name prefix",
                (0..10).map(|i| format!("tenant {}", i * 97)).collect(),
            ),
            (
                "tenant name with a typo",
                (0..10).map(|i| format!("tennat {}", i * 31)).collect(),
            ),
            (
                "Microsoft tenant id prefix",
                vec!["00000000-0000-4000-8000-0000000004".into()],
            ),
            (
                "run number",
                (0..10)
                    .map(|i| format!("#{}", 1 + (i * 99_991) % max_run.max(1)))
                    .collect(),
            ),
            (
                "policy, one word",
                vec!["bitlocker".into(), "firewall".into(), "kiosk".into()],
            ),
            (
                "policy, three words",
                vec![
                    "defender antivirus 17".into(),
                    "windows update ring 3".into(),
                ],
            ),
            ("group", vec!["finance".into(), "helpdesk admins".into()]),
            (
                "action: start … on …",
                vec!["start inventory tenant 42".into()],
            ),
            ("no match", vec!["zzqx".into()]),
        ];
        for (label, qs) in &queries {
            let r = time(opts.samples, |i| {
                domain::search::search(svc, owner, &qs[i % qs.len()])
            })
            .await?;
            println!("| {name} | {label} | {:.2} | {:.2} |", r.0, r.1);
        }
        let r = time(opts.samples, |_| {
            domain::search::search(svc, &operator, "bitlocker")
        })
        .await?;
        println!(
            "| {name} | policy, operator assigned 10 tenants | {:.2} | {:.2} |",
            r.0, r.1
        );
        if opts.keep_database {
            eprintln!("kept: {}", f.url());
        } else {
            f.cleanup().await;
        }
    }
    Ok(())
}
