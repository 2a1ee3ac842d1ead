//! Runs the Graph simulator alone with the demo tenants:
//! `tenantry-sim [ADDRESS]` (default 127.0.0.1:4010).

use simulators::graph::{GraphSimulator, SimTenant};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4010".to_string());
    let Ok(addr) = addr.parse() else {
        eprintln!("tenantry-sim: '{addr}' is not an address like 127.0.0.1:4010");
        return std::process::ExitCode::FAILURE;
    };
    let sim = match GraphSimulator::start_on(addr, SimTenant::demo_set()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tenantry-sim: cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("Graph simulator on {}", sim.base_url());
    println!("  authority: {}", sim.authority_url());
    println!("  graph:     {}", sim.graph_url());
    for t in SimTenant::demo_set() {
        println!(
            "  tenant {} ({}) client {} fault {:?}",
            t.tenant_id, t.display_name, t.client_id, t.fault
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
