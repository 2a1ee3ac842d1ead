//! `tenantry bench drift`: the change set of a 2,000-policy inventory
//! snapshot. Measures the comparison alone (in memory) and storing a
//! snapshot with its drift against storing the same snapshot with nothing
//! to compare with (the tenant's first), in the same sitting, on SQLite and
//! PostgreSQL. Bounded; 127.0.0.1 or a temporary SQLite file only.

use crate::bench::fresh;
use domain::drift::{PolicyVersion, changes};
use domain::provider::data::{InventoryItem, save_inventory};
use domain::store::Backend;
use std::time::Instant;

/// `tenantry bench drift` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct DriftBenchOptions {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    pub backend: String,
    /// Policies in each snapshot.
    #[arg(long, default_value_t = 2000)]
    pub policies: usize,
    /// Admin connection used to create and drop the benchmark database.
    #[arg(
        long,
        env = "TENANTRY_BENCH_PG",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub pg_admin_url: String,
}

/// A snapshot of `n` policies with 20 settings each; `version` 1 is the
/// earlier one, 2 has 5 % of policies with two settings changed, 1 % removed
/// and 1 % added.
fn snapshot(n: usize, version: u8) -> Vec<InventoryItem> {
    let mut items = Vec::with_capacity(n + n / 100);
    for i in 0..n {
        if version == 2 && i % 100 == 7 {
            continue; // removed
        }
        let mut settings = serde_json::Map::new();
        for s in 0..20 {
            settings.insert(
                format!("setting{s:02}"),
                serde_json::json!(format!("value-{i}-{s}")),
            );
        }
        settings.insert("passwordMinimumLength".into(), serde_json::json!(8));
        if version == 2 && i % 20 == 3 {
            settings.insert("passwordMinimumLength".into(), serde_json::json!(12));
            settings.insert("setting05".into(), serde_json::json!("changed"));
        }
        items.push(policy(i, settings));
    }
    if version == 2 {
        for i in 0..n / 100 {
            items.push(policy(n + i, serde_json::Map::new()));
        }
    }
    items
}

fn policy(i: usize, settings: serde_json::Map<String, serde_json::Value>) -> InventoryItem {
    InventoryItem {
        kind: if i.is_multiple_of(4) {
            "compliance_policy"
        } else {
            "device_configuration"
        },
        external_id: format!("00000000-0000-4000-8000-{i:012}"),
        display_name: format!("Policy {i}"),
        platform: "Windows".into(),
        detail: String::new(),
        modified: None,
        settings: Some(serde_json::Value::Object(settings).to_string()),
    }
}

fn versions(items: &[InventoryItem]) -> Vec<PolicyVersion> {
    items
        .iter()
        .map(|i| PolicyVersion {
            kind: i.kind.to_string(),
            external_id: i.external_id.clone(),
            display_name: i.display_name.clone(),
            settings: i
                .settings
                .as_deref()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default(),
        })
        .collect()
}

pub async fn run(opts: DriftBenchOptions) -> Result<(), String> {
    let backends = match opts.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    let n = opts.policies;
    let (a, b) = (snapshot(n, 1), snapshot(n, 2));
    let (va, vb) = (versions(&a), versions(&b));
    // The comparison alone: the best of five.
    let mut best = f64::MAX;
    let mut found = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        found = changes(&va, &vb);
        best = best.min(started.elapsed().as_secs_f64());
    }
    let count = |k: domain::drift::ChangeKind| found.iter().filter(|c| c.change == k).count();
    println!("tenantry bench drift: a {n}-policy snapshot against the one before it");
    println!();
    println!(
        "comparison in memory: {:.1} ms ({} changed, {} removed, {} added)",
        best * 1000.0,
        count(domain::drift::ChangeKind::Changed),
        count(domain::drift::ChangeKind::Removed),
        count(domain::drift::ChangeKind::Added)
    );
    println!();
    println!(
        "| backend | first snapshot stored (nothing to compare), ms | next snapshot stored with its drift, ms | drift entries | ratio |"
    );
    println!("|---|---|---|---|---|");
    for backend in backends {
        let f = fresh(backend, 1, &opts.pg_admin_url, false).await?;
        let svc = &f.svc;
        let (tenant,): (i64,) = sqlx::query_as("SELECT id FROM tenants ORDER BY id LIMIT 1")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .map_err(|e| e.to_string())?;
        let tenant = domain::ids::TenantId(tenant);
        let mut took = Vec::new();
        for items in [&a, &b] {
            let run = domain::runs::gate::StartGate::start(
                svc,
                domain::runs::gate::Initiator::System,
                domain::runs::gate::StartRequest {
                    tenant,
                    op_type: domain::provider::INVENTORY_SYNC,
                    connection: None,
                    args: serde_json::json!({}),
                },
            )
            .await
            .map_err(|e| e.to_string())?
            .run;
            let started = Instant::now();
            save_inventory(svc, tenant, run, 1, items)
                .await
                .map_err(|e| e.to_string())?;
            took.push(started.elapsed().as_secs_f64() * 1000.0);
            // Published: the run ended successfully with attempt 1.
            sqlx::query(
                "UPDATE operation_runs SET status = 'completed', outcome = 'succeeded', attempts = 1 WHERE id = $1",
            )
            .bind(run.0)
            .execute(svc.store.unguarded_pool())
            .await
            .map_err(|e| e.to_string())?;
        }
        let (entries,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM drift_entries")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "| {} | {:.0} | {:.0} | {entries} | {:.2}× |",
            match backend {
                Backend::Sqlite => "SQLite",
                Backend::Postgres => "PostgreSQL",
            },
            took[0],
            took[1],
            took[1] / took[0].max(0.001)
        );
        f.cleanup().await;
    }
    Ok(())
}
