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

/// The JSON format as a layer: the event's fields at the top level and the
/// fields of every enclosing span under `spans`.
pub fn json_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_writer(writer)
}

/// The JSON format with its filter (the tests capture this same format).
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    tracing_subscriber::registry()
        .with(filter)
        .with(json_layer(writer))
}

/// What must outlive the process's work: the trace exporter, flushed when
/// this is dropped (after the runtime has stopped).
#[derive(Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    otlp: Option<otlp::Exporter>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(exporter) = self.otlp.take() {
            exporter.shutdown();
        }
    }
}

/// Installs the process-wide subscriber (once, at start-up): the log format
/// and, when an OTLP endpoint is given, the same spans exported as traces.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> Result<Telemetry, String> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let mut telemetry = Telemetry::default();
    let (json, pretty) = match format {
        LogFormat::Json => (Some(json_layer(std::io::stdout)), None),
        LogFormat::Pretty => (None, Some(tracing_subscriber::fmt::layer())),
    };
    let registry = tracing_subscriber::registry()
        .with(filter())
        .with(json)
        .with(pretty);
    match otlp_endpoint.map(str::trim).filter(|e| !e.is_empty()) {
        #[cfg(feature = "otlp")]
        Some(endpoint) => {
            let exporter = otlp::Exporter::new(endpoint, "tenantry")?;
            let layer = exporter.layer();
            telemetry.otlp = Some(exporter);
            registry.with(layer).init();
        }
        #[cfg(not(feature = "otlp"))]
        Some(_) => {
            return Err(
                "this build has no OpenTelemetry export (build with the `otlp` feature)".into(),
            );
        }
        None => registry.init(),
    }
    Ok(telemetry)
}

/// OpenTelemetry export of the same spans the logs are written in (request,
/// run, gate, Graph, desk), as OTLP over HTTP (protobuf) to the user's
/// collector (Jaeger, Tempo, an OpenTelemetry Collector). Spans leave in
/// batches from a background thread; a collector that is away costs
/// dropped spans, never a slower request.
#[cfg(feature = "otlp")]
pub mod otlp {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use std::time::Duration;

    #[derive(Clone)]
    pub struct Exporter {
        provider: SdkTracerProvider,
    }

    /// `http://collector:4318` → `http://collector:4318/v1/traces` (a full
    /// `…/v1/traces` address is kept as it is).
    pub fn traces_url(endpoint: &str) -> Result<String, String> {
        let endpoint = endpoint.trim().trim_end_matches('/');
        let rest = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"))
            .ok_or("--otlp-endpoint must be an http:// or https:// address, e.g. http://127.0.0.1:4318")?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err("--otlp-endpoint needs a host, e.g. http://127.0.0.1:4318".into());
        }
        if endpoint.ends_with("/v1/traces") {
            Ok(endpoint.to_string())
        } else {
            Ok(format!("{endpoint}/v1/traces"))
        }
    }

    /// How long one export may take, all of it.
    const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The exporter's HTTP client: redirects are not followed (spans go to
    /// the configured collector or nowhere) and every export is bounded in
    /// time. Built on a thread of its own: the blocking client may not be
    /// created inside an async runtime.
    fn client() -> Result<reqwest::blocking::Client, String> {
        std::thread::spawn(|| {
            reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(EXPORT_TIMEOUT)
                .build()
        })
        .join()
        .map_err(|_| "OpenTelemetry export: the HTTP client could not be built".to_string())?
        .map_err(|e| format!("OpenTelemetry export: {e}"))
    }

    impl Exporter {
        pub fn new(endpoint: &str, service: &'static str) -> Result<Exporter, String> {
            use opentelemetry_otlp::WithHttpConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(client()?)
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(traces_url(endpoint)?)
                .with_timeout(EXPORT_TIMEOUT)
                .build()
                .map_err(|e| format!("OpenTelemetry export: {e}"))?;
            let resource = opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build();
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build();
            Ok(Exporter { provider })
        }

        /// The tracing layer that hands finished spans to this exporter.
        pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + Send + Sync
        where
            S: tracing::Subscriber
                + for<'a> tracing_subscriber::registry::LookupSpan<'a>
                + Send
                + Sync,
        {
            tracing_opentelemetry::layer().with_tracer(self.provider.tracer("tenantry"))
        }

        /// Sends what is still buffered (bounded by the export timeout).
        pub fn flush(&self) {
            let _ = self.provider.force_flush();
        }

        pub fn shutdown(self) {
            let _ = self.provider.shutdown();
        }
    }

    #[cfg(test)]
    mod tests {
        use super::traces_url;

        #[test]
        fn the_traces_path_is_added_once() {
            assert_eq!(
                traces_url("http://127.0.0.1:4318").as_deref(),
                Ok("http://127.0.0.1:4318/v1/traces")
            );
            assert_eq!(
                traces_url("https://otel.example.com/v1/traces/").as_deref(),
                Ok("https://otel.example.com/v1/traces")
            );
            assert!(traces_url("127.0.0.1:4318").is_err());
            assert!(traces_url("http://").is_err());
        }
    }
}
