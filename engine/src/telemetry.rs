//! Every metric Tenantry records, declared once: its name, kind and help.
//! Code records through these names (`metrics::counter!(telemetry::X, …)`);
//! the server describes them all when it installs its recorder, and the
//! shipped dashboard and alert rules are checked against this list.

/// What a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

macro_rules! metrics_table {
    ($($(#[$doc:meta])* $id:ident = $name:literal, $kind:ident, $help:literal;)*) => {
        $($(#[$doc])* pub const $id: &str = $name;)*
        /// (name, kind, help) of every metric.
        pub const ALL: &[(&str, Kind, &str)] = &[$(($name, Kind::$kind, $help)),*];
    };
}

metrics_table! {
    RUNS_STARTED = "tenantry_runs_started_total", Counter,
        "Starts through the gate, by operation and result (queued, already_running, scope_busy, blocked, refused, error).";
    RUN_PICKUP = "tenantry_run_pickup_seconds", Histogram,
        "Seconds from a run becoming available to a worker claiming it.";
    RUN_DURATION = "tenantry_run_duration_seconds", Histogram,
        "Seconds a run's attempt took, by operation and outcome.";
    RECONCILER_ACTIONS = "tenantry_reconciler_actions_total", Counter,
        "What the reconciler did to runs: requeued or failed after a lost lease, ended past their limits.";
    RUNS_ACTIVE = "tenantry_runs_active", Gauge,
        "Queued and running runs, by status (read at scrape time).";
    QUEUE_OLDEST_AGE = "tenantry_queue_oldest_age_seconds", Gauge,
        "Age of the oldest run that is available and not claimed.";
    METRICS_DATABASE_UP = "tenantry_metrics_database_up", Gauge,
        "1 when the scrape could read the database.";
    DB_POOL_CONNECTIONS = "tenantry_db_pool_connections", Gauge,
        "Database connections in use and idle.";
    DB_POOL_WAITERS = "tenantry_db_pool_waiters", Gauge,
        "Callers waiting for a database connection.";
    DB_POOL_MAX = "tenantry_db_pool_max_connections", Gauge,
        "The most database connections the pool may open.";
    HTTP_REQUESTS = "tenantry_http_requests_total", Counter,
        "Answered requests, by route, method and status.";
    HTTP_DURATION = "tenantry_http_request_duration_seconds", Histogram,
        "Seconds to answer a request, by route and method.";
    BUILD_INFO = "tenantry_build_info", Gauge,
        "1, labelled with the running version.";
    GRAPH_RESPONSES = "tenantry_graph_responses_total", Counter,
        "Microsoft Graph answers, by status class.";
    GRAPH_RETRIES = "tenantry_graph_retries_total", Counter,
        "Microsoft Graph requests retried, by status.";
    GRAPH_TOKEN_FETCHES = "tenantry_graph_token_fetches_total", Counter,
        "App-only tokens fetched from the Entra authority.";
    SUPPORT_HANDOFFS = "tenantry_support_handoffs_total", Counter,
        "Support requests handed to the desk, by outcome.";
    SCHEDULE_FIRES = "tenantry_schedule_fires_total", Counter,
        "Schedule slots fired, by whether the fire was late.";
    BULK_TARGETS_FINISHED = "tenantry_bulk_targets_finished_total", Counter,
        "Targets of finished bulk starts, by result.";
    ALERTS_CHANGED = "tenantry_alerts_changed_total", Counter,
        "Alerts opened, reopened or resolved by evaluation, by change.";
    ALERT_EVENTS_EVALUATED = "tenantry_alert_events_evaluated_total", Counter,
        "Ended runs evaluated against alert rules.";
    WEBHOOK_ATTEMPTS = "tenantry_webhook_attempts_total", Counter,
        "Alert webhook attempts, by outcome (delivered, refused_by_receiver, gone, timed_out, refused…).";
    RETENTION_DELETED = "tenantry_retention_deleted_total", Counter,
        "Rows the retention sweep removed, by kind (snapshots, directory_rows, inventory_bodies, runs, notifications, audit_entries).";
    RETENTION_SWEEP = "tenantry_retention_sweep_seconds", Histogram,
        "Seconds one retention sweep took.";
}

/// Whether `name` (suffixes `_bucket`, `_sum`, `_count` allowed) is declared.
pub fn declared(name: &str) -> bool {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name);
    ALL.iter().any(|(n, _, _)| *n == base || *n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prometheus_names() {
        let mut seen = std::collections::HashSet::new();
        for (name, kind, help) in ALL {
            assert!(seen.insert(*name), "{name} declared twice");
            assert!(name.starts_with("tenantry_"), "{name}");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
            assert_eq!(
                name.ends_with("_total"),
                *kind == Kind::Counter,
                "{name}: counters and only counters end in _total"
            );
            assert!(!help.is_empty());
        }
        assert!(declared("tenantry_run_pickup_seconds_bucket"));
        assert!(!declared("tenantry_nothing"));
    }

    /// Recording goes through these names: no `tenantry_…` metric name is
    /// spelled in code anywhere else (comments are not code).
    #[test]
    fn metrics_are_recorded_only_through_this_list() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let mut offenders = Vec::new();
        let mut stack = vec![
            root.join("domain/src"),
            root.join("engine/src"),
            root.join("server/src"),
            root.join("app/src"),
        ];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.ends_with("telemetry.rs") || p.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or_default();
                    if code.contains("\"tenantry_") && code.contains("_total\"")
                        || ALL
                            .iter()
                            .any(|(name, _, _)| code.contains(&format!("\"{name}\"")))
                    {
                        offenders.push(format!("{}:{}", p.display(), n + 1));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "metric names spelled outside telemetry.rs: {offenders:?}"
        );
    }
}
