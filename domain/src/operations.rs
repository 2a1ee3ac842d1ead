//! The composition root: every operation type Tenantry knows, and the
//! service handle with every feature's ports. A type is declared once beside
//! its feature: its spec (key, label, scope, capability, expected duration,
//! prerequisites, where it is started from, whether schedules and bulk starts
//! may start it) and its `OperationType` constant; its handler, run-page
//! items, after-run hook and periodic sweep in the feature's `register`. The
//! run engine (the `engine` crate) knows none of them: [`register`] makes the
//! keys known, and it gets the assembled [`catalogue`] at start-up.
//!
//! Adding an operation type: declare its spec and constant in its feature
//! module, add it to [`ALL`] and the feature's `register` call to
//! [`catalogue`] (specs/002-operation-runs.md shows one).

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
    crate::inventory::register(&mut c);
    crate::retention::register(&mut c);
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

/// The run engine depends on no feature: it is the `engine` crate, which
/// cannot name this one. Features register with it through [`register`] and
/// [`catalogue`]; the engine calls what they registered.
#[cfg(test)]
mod engine_imports {
    /// The compiler refuses a back-arrow now (the engine is a crate that
    /// cannot see this one); this keeps it so: the engine's manifest names
    /// no crate of ours.
    #[test]
    fn the_engine_crate_depends_on_no_feature() {
        let manifest =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        assert!(text.contains("name = \"engine\""), "{}", manifest.display());
        // Only dependency tables count (`server` is also a feature's name).
        let mut in_dependencies = false;
        let mut named = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.starts_with('[') {
                in_dependencies = line.ends_with("dependencies]");
                continue;
            }
            let name = line.split(['=', ' ', '.']).next().unwrap_or_default();
            if in_dependencies
                && (["domain", "app", "server", "simulators", "frontend"].contains(&name)
                    || line.contains("path = \"../"))
            {
                named.push(line.to_string());
            }
        }
        assert!(named.is_empty(), "the engine's Cargo.toml names {named:?}");
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
