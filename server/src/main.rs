#![recursion_limit = "256"]
//! `tenantry`: one binary to serve, run workers, migrate and manage accounts
//! (and, with the default `demo` feature, the demo and the benchmarks).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    domain::operations::register();
    let cli = server::cli::Cli::parse();
    let telemetry = match server::logging::init(cli.log_format(), cli.otlp_endpoint()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tenantry: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(server::cli::run(cli));
    // Stop the runtime first, then flush the traces still buffered.
    drop(runtime);
    drop(telemetry);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tenantry: {e}");
            ExitCode::FAILURE
        }
    }
}
