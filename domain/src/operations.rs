//! The operation catalogue: every operation type Tenantry knows, one row
//! each. A type's behaviour is declared once beside its feature: its spec
//! (label, scope, capability, expected duration, prerequisites, where it is
//! started from), its handler, its run-page items, its after-run hook and its
//! periodic sweep. The run engine (`crate::runs`) knows none of them: it gets
//! the assembled [`catalogue`] at start-up.
//!
//! Adding an operation type: write its feature module (a `SPEC` and a
//! `register` function), add its row to `operation_catalogue!` below and its
//! `register` call to [`catalogue`] (specs/002-operation-runs.md shows one).

use crate::runs::model::OperationType;

/// Every operation Tenantry knows, in the order pages list them. Each is
/// declared beside its feature; this list registers them.
pub const ALL: &[OperationType] = &[
    crate::provider::INVENTORY_SYNC,
    crate::provider::COMPLIANCE_SNAPSHOT,
    crate::provider::TENANT_VERIFICATION,
    crate::provider::CONNECTION_CHECK,
    crate::provider::DIRECTORY_GROUPS_SYNC,
    crate::provider::ROLE_DEFINITIONS_SYNC,
    crate::baselines::BASELINE_COMPARE,
    crate::review_packs::REVIEW_PACK_GENERATE,
    crate::restore::RESTORE_EXECUTE,
    crate::onboarding::ONBOARDING_VERIFICATION,
    crate::onboarding::ONBOARDING_BOOTSTRAP,
    crate::runs::probe::MACHINERY_PROBE,
    crate::runs::probe::MACHINERY_PROBE_SECONDARY,
];

/// Registers every operation type with the engine, so keys read from rows,
/// forms and URLs find their type. Idempotent; [`catalogue`] and
/// [`services`] call it, and the browser's hydrate entry.
pub fn register() {
    crate::runs::model::register_types(ALL);
}

/// Every feature's runtime parts (handlers, run-page items, after-run hooks,
/// sweeps), assembled once: `tenantry serve`/`worker` and the test harness
/// hand this to the workers, the reconciler and the run pages.
#[cfg(feature = "server")]
pub fn catalogue() -> crate::runs::catalogue::Catalogue {
    register();
    let mut c = crate::runs::catalogue::Catalogue::default();
    crate::provider::register(&mut c);
    crate::restore::register(&mut c);
    crate::onboarding::register(&mut c);
    crate::review_packs::register(&mut c);
    crate::runs::probe::register(&mut c);
    crate::support::register(&mut c);
    crate::schedules::service::register(&mut c);
    crate::schedules::bulk::register(&mut c);
    crate::baselines::register(&mut c);
    c
}

/// A service handle with every feature's catalogue installed: what
/// `tenantry serve`/`worker`, the command line and the tests start from
/// (ports for Graph, the desk, mail and single sign-on are added by them).
#[cfg(feature = "server")]
pub fn services(
    store: crate::store::Store,
    settings: crate::services::Settings,
) -> crate::services::Services {
    crate::services::Services::new(store, settings)
        .with_port(catalogue())
        .with_port(crate::restore::DesiredSource(
            crate::baselines::service::desired_items,
        ))
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_read_back() {
        register();
        for (i, op) in ALL.iter().enumerate() {
            assert!(ALL[..i].iter().all(|o| o.as_str() != op.as_str()), "{op}");
            assert_eq!(op.as_str().parse::<OperationType>(), Ok(*op));
            assert!(!op.label().is_empty() && op.spec().expected_duration_ms > 0);
            assert_eq!(
                serde_json::from_str::<OperationType>(&format!("\"{op}\"")).ok(),
                Some(*op)
            );
        }
        assert!("no_such_operation".parse::<OperationType>().is_err());
    }

    #[test]
    fn every_available_type_has_a_handler() {
        let c = catalogue();
        for op in ALL {
            assert_eq!(
                c.handler(*op).is_some(),
                op.spec().available,
                "{op}: a handler exactly when the spec says it is available"
            );
        }
    }
}

/// The run engine depends on no feature: nothing under `src/runs/` names a
/// feature module (same style as the enqueue guard). Features register with
/// the engine through [`catalogue`]; the engine calls what they registered.
#[cfg(test)]
mod engine_imports {
    /// What the engine may name: the bottom layer it stands on (not even
    /// the operation list: types register with it). Every other module of the crate is a
    /// feature (derived from `lib.rs`, so a new feature is covered at once).
    const BELOW_THE_ENGINE: &[&str] = &[
        "runs",
        "ids",
        "views",
        "error",
        "services",
        "store",
        "rbac",
        "access",
        "audit",
        "limits",
        "telemetry",
        "failpoints",
        "clock",
        "signal",
        "actor",
        "secrets",
        "validate",
        "enums",
    ];

    /// Every module `lib.rs` declares (`pub mod x;` / `mod x;`), comments ignored.
    fn crate_modules() -> Vec<String> {
        let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
        let text = std::fs::read_to_string(lib).unwrap_or_default();
        text.lines()
            .map(|l| l.split("//").next().unwrap_or_default().trim())
            .filter_map(|l| {
                l.strip_prefix("pub mod ")
                    .or_else(|| l.strip_prefix("mod "))
                    .map(|m| m.trim_end_matches(';').trim().to_string())
            })
            .collect()
    }

    fn features() -> Vec<String> {
        crate_modules()
            .into_iter()
            .filter(|m| !BELOW_THE_ENGINE.contains(&m.as_str()))
            .collect()
    }

    #[test]
    fn the_feature_list_is_derived_from_the_crate() {
        let f = features();
        for expected in [
            "schedules",
            "identity",
            "mail",
            "fleet",
            "baselines",
            "provider",
        ] {
            assert!(
                f.iter().any(|m| m == expected),
                "{expected} is a feature: {f:?}"
            );
        }
    }

    #[test]
    fn the_run_engine_imports_no_feature_module() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runs");
        let mut offenders = Vec::new();
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&p) else {
                    continue;
                };
                let features = features();
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or_default();
                    for feature in &features {
                        let named = code.contains(&format!("crate::{feature}"))
                            || code.contains(&format!("super::super::{feature}"))
                            || (code.contains("use crate::{") && code.contains(feature));
                        if named {
                            offenders.push(format!("{}:{}: {}", p.display(), n + 1, line.trim()));
                        }
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "the run engine names a feature module:\n{}",
            offenders.join("\n")
        );
    }

    /// Run-table knowledge has one home: outside `src/runs/` nobody spells
    /// out which statuses are active or how a scope key is made.
    #[test]
    fn run_table_knowledge_lives_in_the_engine() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let runs = src.join("runs");
        let mut offenders = Vec::new();
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.starts_with(&runs) {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                // Code only: what a comment says is not knowledge.
                let code: String = text
                    .lines()
                    .map(|l| l.split("//").next().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n");
                // Spelled in pieces so this test does not find itself.
                let patterns = [
                    format!("'queued',{}'running'", " "),
                    format!("'queued',{}", "'running'"),
                    format!("provider_{}:", "connection"),
                    format!("outcome IN ({}", "'succeeded'"),
                    format!("outcome = {}", "'failed'"),
                    format!("outcome = {}", "'blocked'"),
                    format!("outcome = {}", "'succeeded'"),
                ];
                for pattern in &patterns {
                    if code.contains(pattern.as_str()) {
                        offenders.push(format!("{}: {pattern}", p.display()));
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:?}");
    }
}
