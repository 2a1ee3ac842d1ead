//! Property-based state-machine test of the run lifecycle against the real
//! store: random interleavings of starts, claims, heartbeats, completions
//! (including from fenced-out attempts), cancellations, clock jumps and
//! reconciler sweeps. After every step the invariants must hold.

use crate::common::{Backend, spawn_app};
use crate::runs::probe;
use crate::world::run_world;
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::reconciler;
use domain::runs::service::{ClaimedRun, Completion, RunService};
use domain::runs::{ReasonCode, StartDecision, SummaryCounts};
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Cmd {
    Start { secondary: bool },
    Claim { worker: u8 },
    Heartbeat { pick: usize },
    Complete { pick: usize, fail: bool },
    Cancel { pick: usize },
    Advance { ms: i64 },
    Sweep,
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        2 => any::<bool>().prop_map(|secondary| Cmd::Start { secondary }),
        3 => (0u8..3).prop_map(|worker| Cmd::Claim { worker }),
        1 => any::<usize>().prop_map(|pick| Cmd::Heartbeat { pick }),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(pick, fail)| Cmd::Complete { pick, fail }),
        1 => any::<usize>().prop_map(|pick| Cmd::Cancel { pick }),
        3 => prop_oneof![1 => Just(500i64), 4 => Just(1_500), 1 => Just(40_000)].prop_map(|ms| Cmd::Advance { ms }),
        3 => Just(Cmd::Sweep),
    ]
}

type Row = (i64, String, String, i64, Option<String>);

async fn rows(svc: &domain::services::Services) -> Vec<Row> {
    sqlx::query_as(
        "SELECT id, status, outcome, attempts, lease_owner FROM operation_runs ORDER BY id",
    )
    .fetch_all(svc.store.unguarded_pool())
    .await
    .unwrap()
}

async fn check(backend: Backend, cmds: Vec<Cmd>) {
    let app = spawn_app(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    // Every claim ever handed out, including ones later fenced out.
    let mut held: Vec<ClaimedRun> = Vec::new();
    let mut terminal: HashMap<i64, Row> = HashMap::new();
    let mut attempts_seen: HashMap<i64, i64> = HashMap::new();
    for c in cmds {
        match c {
            Cmd::Start { secondary } => {
                let op = if secondary {
                    domain::runs::probe::MACHINERY_PROBE_SECONDARY
                } else {
                    domain::runs::probe::MACHINERY_PROBE
                };
                let active_before = rows(svc)
                    .await
                    .iter()
                    .filter(|r| r.1 != "completed")
                    .count();
                let r = StartGate::start(
                    svc,
                    Initiator::User(&w.owner),
                    StartRequest {
                        op_type: op,
                        ..probe(w.tenant, serde_json::json!({}))
                    },
                )
                .await
                .unwrap();
                // Admission follows from the scope's state alone.
                assert_eq!(
                    r.decision == StartDecision::Accepted,
                    active_before == 0,
                    "{r:?}"
                );
            }
            Cmd::Claim { worker } => {
                let got = RunService::claim(svc, &format!("w{worker}"), 2, 1_000)
                    .await
                    .unwrap();
                for g in &got {
                    assert!(
                        !held.iter().any(|h| h.id == g.id && h.attempt == g.attempt),
                        "an attempt is handed out once"
                    );
                }
                held.extend(got);
            }
            Cmd::Heartbeat { pick } if !held.is_empty() => {
                let h = &held[pick % held.len()];
                let _ = RunService::heartbeat(svc, h, 1_000).await.unwrap();
            }
            Cmd::Complete { pick, fail } if !held.is_empty() => {
                let h = held[pick % held.len()].clone();
                let current: Option<(String, i64, Option<String>)> = sqlx::query_as(
                    "SELECT status, attempts, lease_owner FROM operation_runs WHERE id = $1",
                )
                .bind(h.id.0)
                .fetch_optional(svc.store.unguarded_pool())
                .await
                .unwrap();
                let holds = current.as_ref().is_some_and(|(s, a, o)| {
                    s == "running" && *a == h.attempt && o.as_deref() == Some(h.worker.as_str())
                });
                let completion = if fail {
                    Completion::failed(ReasonCode::HandlerFailed, "failed")
                } else {
                    Completion::succeeded(SummaryCounts::default())
                };
                let result = RunService::complete(svc, &h, completion).await;
                // Only the attempt that holds the lease can write an outcome.
                assert_eq!(
                    result.is_ok(),
                    holds,
                    "complete by {} attempt {}: {result:?}",
                    h.worker,
                    h.attempt
                );
            }
            Cmd::Cancel { pick } => {
                let all = rows(svc).await;
                if !all.is_empty() {
                    let id = all[pick % all.len()].0;
                    RunService::cancel(svc, &w.owner, domain::ids::RunId(id))
                        .await
                        .unwrap();
                }
            }
            Cmd::Advance { ms } => app.clock.advance_ms(ms),
            Cmd::Sweep => {
                reconciler::sweep(svc).await.unwrap();
            }
            _ => {}
        }
        // Invariants.
        let now_rows = rows(svc).await;
        let active = now_rows.iter().filter(|r| r.1 != "completed").count();
        assert!(active <= 1, "one active run per scope, saw {active}");
        for r in &now_rows {
            assert_eq!(
                r.1 == "completed",
                r.2 != "pending",
                "outcome pending exactly while active: {r:?}"
            );
            if r.1 == "queued" {
                assert!(r.4.is_none(), "a queued run has no lease owner: {r:?}");
            }
            if let Some(before) = terminal.get(&r.0) {
                assert_eq!(before, r, "terminal runs never change");
            } else if r.1 == "completed" {
                terminal.insert(r.0, r.clone());
            }
            let seen = attempts_seen.entry(r.0).or_insert(0);
            assert!(r.3 >= *seen, "attempts never decrease");
            *seen = r.3;
        }
    }
}

fn run(backend: Backend, cases: u32) {
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(cmds in proptest::collection::vec(cmd(), 1..40))| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(check(backend, cmds));
    });
}

#[test]
fn lifecycle_state_machine_sqlite() {
    run(Backend::Sqlite, 120);
}

#[test]
fn lifecycle_state_machine_postgres() {
    run(Backend::Postgres, 32);
}
