//! Logs: JSON lines for machines (the default when stdout is not a
//! terminal), or pretty text for a person at a terminal. Every line written
//! while a request or a run is handled carries its ids (the request span's
//! `request_id`, the run span's `run_id`/`op_type`/`attempt`), because the
//! formatters print the fields of the spans a line is inside.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, with the fields of every enclosing span.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

impl LogFormat {
    /// JSON unless stdout is a terminal.
    pub fn default_for_stdout() -> LogFormat {
        if std::io::stdout().is_terminal() {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        }
    }
}

/// The filter: `RUST_LOG` when set, else info for Tenantry and warnings
/// for the noisy libraries.
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"))
}

/// The JSON format: the event's fields at the top level and the fields of
/// every enclosing span under `spans` (the tests capture this same format).
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_writer(writer)
        .finish()
}

/// Installs the process-wide subscriber (once, at start-up).
pub fn init(format: LogFormat) {
    use tracing_subscriber::util::SubscriberInitExt;
    match format {
        LogFormat::Json => json_subscriber(filter(), std::io::stdout).init(),
        LogFormat::Pretty => tracing_subscriber::fmt().with_env_filter(filter()).init(),
    }
}
