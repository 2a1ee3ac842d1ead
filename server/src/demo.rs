//! `tenantry demo`: the app on its own SQLite file with an in-process
//! Microsoft Graph simulator and HaloPSA simulator, a seeded workspace, and a
//! stand-in administrator who changes a tenant's policies (so drift and
//! restore have something to show). Compiled in with the default `demo`
//! feature; `--no-default-features` builds a production binary without it.

use crate::serving::shutdown_signal;
use crate::{Application, Config, ProviderConfig};
use domain::provider::graph::GraphEndpoints;
use domain::runs::worker::WorkerConfig;
use domain::services::{Services, Settings};
use std::net::SocketAddr;
use std::path::PathBuf;

/// What `tenantry demo` takes.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    #[arg(long, env = "TENANTRY_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,
    #[arg(
        long,
        env = "TENANTRY_DEMO_DATABASE_URL",
        default_value = "sqlite://tenantry-demo.db"
    )]
    pub demo_database_url: String,
    #[arg(long, env = "TENANTRY_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
    /// Where the demo keeps its secret key.
    #[arg(long, env = "TENANTRY_DATA_DIR", default_value = ".")]
    pub data_dir: PathBuf,
    /// Seconds between reconciliation sweeps, which also fire due schedules
    /// (a short beat shows an every-minute schedule firing on time).
    #[arg(long, env = "TENANTRY_RECONCILE_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub reconcile_seconds: u64,
}

/// The demo's simulated HaloPSA API application.
const DEMO_DESK_CLIENT: &str = "tenantry-demo-desk";
const DEMO_DESK_SECRET: &str = "demo-desk-client-secret";

/// The demo's stand-in for an administrator editing Contoso's policies in
/// the Intune portal: once Contoso has an inventory snapshot (from which the
/// demo's baseline *Contoso standard* is captured first), two settings of
/// its first device configuration change and its first compliance policy is
/// deleted in the simulator (once per simulator start), so a second sync and
/// a restore from the first snapshot have something to show.
async fn demo_drift(svc: Services, sim: std::sync::Arc<simulators::graph::GraphSimulator>) {
    let contoso = simulators::graph::DEMO_TENANTS[0].0;
    let first = |kind: &'static str| {
        let svc = svc.clone();
        async move {
            let mut conn = svc.store.read().await.ok()?;
            sqlx::query_as::<_, (String, Option<String>)>(
                "SELECT i.external_id, i.settings FROM inventory_items i
                 JOIN inventory_snapshots s ON s.id = i.snapshot_id
                 JOIN tenants t ON t.id = s.tenant_id
                 WHERE t.microsoft_tenant_id = $1 AND i.kind = $2 ORDER BY s.id, i.id LIMIT 1",
            )
            .bind(contoso)
            .bind(kind)
            .fetch_optional(&mut *conn)
            .await
            .ok()
            .flatten()
        }
    };
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let (Some((config, settings)), Some((policy, _))) = (
            first("device_configuration").await,
            first("compliance_policy").await,
        ) else {
            continue;
        };
        // The workspace's standard is Contoso as it was first synced.
        if let Err(e) = domain::demo::seed_baseline(&svc, contoso).await {
            tracing::warn!(error = %e, "demo baseline not captured yet");
            continue;
        }
        let camera = settings
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v.get("cameraBlocked").and_then(serde_json::Value::as_bool))
            .unwrap_or(false);
        sim.drift(
            contoso,
            "deviceManagement/deviceConfigurations",
            &config,
            serde_json::json!({ "passwordMinimumLength": 4, "cameraBlocked": !camera }),
        );
        sim.remove(
            contoso,
            "deviceManagement/deviceCompliancePolicies",
            &policy,
        );
        return;
    }
}

/// Starts the simulators, the app and the seeding, prints how to sign in,
/// and serves until Ctrl-C.
/// What the demo prints: where it runs, who to sign in as, what each
/// simulated tenant does.
fn print_banner(
    url: &str,
    graph: &str,
    demo_tenants: &[domain::demo::DemoTenant],
    desk: &str,
    mailbox: &str,
) {
    println!();
    println!("  Tenantry demo is running at {url}");
    println!(
        "  Sign in at {url}/sign-in as {} (owner, platform operator)",
        domain::demo::DEMO_OWNER
    );
    println!(
        "  or as {} (operator, one assigned tenant)",
        domain::demo::DEMO_OPERATOR
    );
    println!("  password: {}", domain::demo::DEMO_PASSWORD);
    println!("  Microsoft Graph simulator at {}:", graph);
    for t in demo_tenants {
        println!("    {} — {}", t.name, t.behaviour);
    }
    println!(
        "  HaloPSA simulator (support desk) at {}; \"Request support\" hands tickets to it.",
        desk
    );
    let (woodgrove, name) = simulators::graph::DEMO_ONBOARDING_TENANT;
    println!("    {name} — healthy, not onboarded yet: Onboarding › tenant id {woodgrove},");
    println!(
        "      client id {}, secret {}",
        simulators::graph::DEMO_CLIENT_ID,
        simulators::graph::DEMO_CLIENT_SECRET
    );
    println!(
        "  After Contoso's first inventory sync, an \"admin\" changes two of its policies and deletes one:"
    );
    println!("    sync again, then Restore shows the difference and puts them back.");
    println!(
        "  Its first inventory also becomes the baseline \"Contoso standard\" (Baselines): assign it to every tenant."
    );
    println!("  Invitations are mailed through a local SMTP server: sent mail at {mailbox}");
    println!("  Start with tenant verification on each tenant's dashboard.");
}

pub async fn run(args: DemoArgs) -> Result<(), String> {
    let DemoArgs {
        bind,
        demo_database_url,
        site_root,
        data_dir,
        reconcile_seconds,
    } = args;

    use simulators::graph::{GraphSimulator, SimTenant};
    let mut simulated = SimTenant::demo_set();
    simulated.push(SimTenant::demo_onboarding());
    let sim = std::sync::Arc::new(
        GraphSimulator::start(simulated)
            .await
            .map_err(|e| format!("cannot start the Graph simulator: {e}"))?,
    );
    let desk = simulators::halopsa::HaloSimulator::start(DEMO_DESK_CLIENT, DEMO_DESK_SECRET)
        .await
        .map_err(|e| format!("cannot start the HaloPSA simulator: {e}"))?;
    // A local SMTP server whose mailbox page shows what the demo mails.
    let mut smtp = simulators::smtp::SmtpSimulator::start(Some(("demo", "demo-smtp-password")))
        .await
        .map_err(|e| format!("cannot start the mail simulator: {e}"))?;
    let mailbox = smtp
        .serve_mailbox_page()
        .await
        .map_err(|e| format!("cannot start the mailbox page: {e}"))?;
    let config = Config {
        sso: None,
        // The demo's webhook receivers live on this machine.
        webhook_networks: domain::alerts::ssrf::WebhookNetworks::parse(&["127.0.0.1/32".into()])?,
        mail: Some(domain::mail::MailConfig::parse(
            &smtp.url(),
            "Tenantry demo <tenantry@demo.local>",
            std::time::Duration::from_secs(10),
        )?),
        database_url: demo_database_url,
        bind,
        site_root: site_root.unwrap_or_else(Config::default_site_root),
        secure_cookies: false,
        db_max_connections: 8,
        web: Default::default(),
        // The demo lets every account create workspaces.
        settings: Settings {
            allow_workspace_creation: true,
            ..Settings::default()
        },
        workers: 1,
        worker: WorkerConfig::default(),
        reconcile_every_ms: reconcile_seconds * 1000,
        provider: ProviderConfig {
            secret_key: None,
            data_dir,
            graph: GraphEndpoints {
                authority: sim.authority_url(),
                graph: sim.graph_url(),
            },
        },
        support_desk: domain::support::desk::DeskConfig::HaloPsa {
            base_url: desk.base_url(),
            client_id: DEMO_DESK_CLIENT.into(),
            client_secret: domain::secrets::Secret::new(DEMO_DESK_SECRET),
        },
    };
    let app = Application::build(config)
        .await
        .map_err(|e| format!("cannot start: {e}"))?;
    let demo_tenants: Vec<domain::demo::DemoTenant> = SimTenant::demo_set()
        .into_iter()
        .map(|t| domain::demo::DemoTenant {
            behaviour: match t.fault {
                simulators::graph::Fault::None => "healthy".into(),
                simulators::graph::Fault::ConsentMissing => "admin consent missing".into(),
                simulators::graph::Fault::Throttle { .. } => "Graph throttles every request".into(),
                other => format!("{other:?}"),
            },
            name: t.display_name,
            entra_tenant_id: t.tenant_id,
            client_id: t.client_id,
            client_secret: t.client_secret,
        })
        .collect();
    let seeded = domain::demo::seed(app.services(), &demo_tenants)
        .await
        .map_err(|e| format!("cannot seed the demo: {e}"))?;
    // The demo's webhook receiver: its rule's alerts arrive there, signed.
    let receiver = simulators::webhooks::WebhookReceiver::start()
        .await
        .map_err(|e| format!("cannot start the webhook receiver: {e}"))?;
    let secrets = domain::demo::alerting(app.services(), &receiver.hook_url())
        .await
        .map_err(|e| format!("cannot set up the demo's alerts: {e}"))?;
    receiver.set_secrets(secrets);
    let url = format!("http://127.0.0.1:{}", app.port());
    print_banner(
        &url,
        &sim.base_url(),
        &demo_tenants,
        &desk.base_url(),
        &mailbox,
    );
    println!(
        "  Alerts: the rule Runs failing on a tenant sends to the webhook receiver at {} and opens desk tickets",
        receiver.page_url()
    );
    tokio::spawn(demo_drift(app.services().clone(), sim.clone()));
    if !seeded {
        println!("  (existing demo database kept; delete tenantry-demo.db to start over)");
    }
    println!("  Press Ctrl-C to stop.");
    println!();
    let served = app.run_until(shutdown_signal()).await;
    // The mail simulator and the receiver serve until the console stops.
    drop(smtp);
    drop(receiver);
    served.map_err(|e| e.to_string())
}
