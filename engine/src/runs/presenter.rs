//! The one presenter: every start result and every run becomes the same
//! words, tone, link and next steps on every surface. Pages never branch on
//! results themselves.

use super::model::{
    Freshness, OperationType, ProblemClass, ReasonCode, RunOutcome, RunStatus, RunTruth, RunView,
    ScopeKind, StartDecision, StartResult,
};
use super::next_steps::{self, NextAction, NextStep, StepContext};
use crate::ids::RunId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Info,
    Success,
    Warning,
    Danger,
    Neutral,
}

impl Tone {
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Info => "info",
            Tone::Success => "success",
            Tone::Warning => "warning",
            Tone::Danger => "danger",
            Tone::Neutral => "neutral",
        }
    }
}

/// What the operator sees for a start or a finished run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toast {
    pub tone: Tone,
    /// One of the public words: Queued, Already running, Scope busy, Blocked —
    /// or, for a finished run, its outcome.
    pub title: String,
    pub body: String,
    pub link: String,
    pub link_label: String,
    pub next_steps: Vec<NextStep>,
}

pub fn run_link(run: RunId) -> String {
    format!("/admin/operations/{run}")
}

/// The public word for a start decision.
pub fn start_word(decision: StartDecision) -> &'static str {
    match decision {
        StartDecision::Accepted => "queued",
        StartDecision::Deduped => "already running",
        StartDecision::ScopeBusy => "scope busy",
        StartDecision::Blocked => "blocked",
    }
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// What the scope of an operation is called in the operator's words.
pub fn scope_words(op: OperationType) -> &'static str {
    match op.spec().scope {
        ScopeKind::ProviderConnection => "this provider connection",
        ScopeKind::Tenant => "this tenant",
    }
}

pub fn present_start(result: &StartResult) -> Toast {
    let label = result.op_type.label();
    let link = run_link(result.run);
    let title = capitalised(start_word(result.decision));
    let ctx = StepContext {
        tenant: Some(result.tenant),
        connection: result.connection,
        running: matches!(
            result.decision,
            StartDecision::Deduped | StartDecision::ScopeBusy
        )
        .then_some(result.run),
    };
    let scope = scope_words(result.op_type);
    match result.decision {
        StartDecision::Accepted => Toast {
            tone: Tone::Info,
            title,
            body: format!("{label} is queued and will start shortly."),
            link,
            link_label: "Watch the run".into(),
            next_steps: vec![],
        },
        StartDecision::Deduped => Toast {
            tone: Tone::Info,
            title,
            body: format!("{label} is already running for {scope}; no second run was started."),
            link,
            link_label: "Open the running operation".into(),
            next_steps: vec![],
        },
        StartDecision::ScopeBusy => {
            let holder = result
                .holder
                .map(OperationType::label)
                .unwrap_or("Another operation");
            Toast {
                tone: Tone::Warning,
                title,
                body: format!(
                    "{holder} is running on {scope}, so {} was not started.",
                    label.to_lowercase()
                ),
                link,
                link_label: "Open the operation holding the scope".into(),
                next_steps: vec![NextStep {
                    text: format!(
                        "Wait for {} to finish, then start again.",
                        holder.to_lowercase()
                    ),
                    link: NextAction::OpenRunningOperation.link(&ctx),
                    start: None,
                }],
            }
        }
        StartDecision::Blocked => {
            let reason = result.reason.unwrap_or(ReasonCode::OperationUnavailable);
            Toast {
                tone: Tone::Danger,
                title,
                body: format!("{label} did not start: {}", reason.message()),
                link,
                link_label: "Open the blocked run".into(),
                next_steps: next_steps::resolve(reason, &ctx),
            }
        }
    }
}

/// The next steps of a finished run, resolved against its tenant and connection.
pub fn run_next_steps(run: &RunView) -> Vec<NextStep> {
    match (run.truth.outcome, run.reason) {
        (RunOutcome::Succeeded, _) | (_, None) => vec![],
        (_, Some(reason)) => next_steps::resolve(
            reason,
            &StepContext {
                tenant: run.tenant_id,
                connection: run.provider_connection_id,
                running: None,
            },
        ),
    }
}

/// A run's headline: a status label and tone from its lifecycle truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunHeadline {
    pub label: String,
    pub tone: Tone,
    pub moving: bool,
    pub freshness: Freshness,
    pub problem: Option<ProblemClass>,
}

pub fn headline(run: &RunView, now: i64) -> RunHeadline {
    headline_of(&run.truth, run.cancel_requested, now)
}

/// What an ended run came to, in words and tone (headlines, chart legends).
pub fn outcome_words(outcome: RunOutcome) -> (&'static str, Tone) {
    match outcome {
        RunOutcome::Succeeded => ("Succeeded", Tone::Success),
        RunOutcome::PartiallySucceeded => ("Partially succeeded", Tone::Warning),
        RunOutcome::Failed => ("Failed", Tone::Danger),
        RunOutcome::Blocked => ("Blocked", Tone::Danger),
        RunOutcome::Cancelled => ("Cancelled", Tone::Neutral),
        RunOutcome::Pending => ("Completed", Tone::Neutral),
    }
}

/// The headline from the lifecycle truth alone (list rows use this).
pub fn headline_of(t: &RunTruth, cancel_requested: bool, now: i64) -> RunHeadline {
    let freshness = t.freshness(now);
    let (label, tone) = match (t.status, t.outcome) {
        (RunStatus::Queued, _) if freshness == Freshness::LikelyStale => {
            ("Queued, waiting long", Tone::Warning)
        }
        (RunStatus::Queued, _) => ("Queued", Tone::Info),
        (RunStatus::Running, _) if cancel_requested => ("Cancelling", Tone::Warning),
        (RunStatus::Running, _) if freshness == Freshness::LikelyStale => {
            ("Running, likely stale", Tone::Warning)
        }
        (RunStatus::Running, _) => ("Running", Tone::Info),
        (RunStatus::Completed, RunOutcome::Failed) if freshness == Freshness::Reconciled => {
            ("Failed after going stale", Tone::Danger)
        }
        (RunStatus::Completed, outcome) => outcome_words(outcome),
    };
    RunHeadline {
        label: label.to_string(),
        tone,
        moving: t.is_active(),
        freshness,
        problem: t.problem_class(now),
    }
}

/// The decision zone's first sentence: is it still moving?
pub fn movement(truth: &RunTruth, headline: &RunHeadline) -> &'static str {
    match (truth.status, headline.freshness) {
        (RunStatus::Completed, Freshness::Reconciled) => {
            "It stopped responding and was closed by the reconciler; it will not change."
        }
        (RunStatus::Completed, _) => "It has finished and will not change.",
        (_, Freshness::LikelyStale) => {
            "It is still marked active but looks stuck: no progress within its expected time."
        }
        (RunStatus::Queued, _) => "It is waiting for a worker.",
        (RunStatus::Running, _) => "It is running now.",
    }
}

/// While a run only *looks* stuck: what the operator can do, and when the
/// reconciler will end it if nothing changes (its type's time limit).
/// `when` words a time in the reader's zone.
pub fn stuck_guidance(truth: &RunTruth, now: i64, when: impl Fn(i64) -> String) -> Option<String> {
    if !truth.is_active() || truth.freshness(now) != Freshness::LikelyStale {
        return None;
    }
    let scope = scope_words(truth.op_type);
    let cancel = format!("Cancel it to free {scope} now");
    Some(match truth.time_limit() {
        Some(at) if at > now => format!(
            "{cancel}, or wait: if it does not finish, Tenantry ends it as failed at {}.",
            when(at)
        ),
        Some(_) => format!("{cancel}, or wait: Tenantry ends it as failed at its next check."),
        // A requeued run waits for a worker again; its limit runs from the requeue.
        None => format!("{cancel}, or wait for a worker to pick it up again."),
    })
}

/// How long the run-detail island waits before its next poll (PRODUCT.md §6):
/// 1 s while the run is younger than 10 s, 5 s until 60 s, then 10 s; `None`
/// once the run is terminal, which stops polling for good.
pub fn poll_delay_ms(truth: &RunTruth, now: i64) -> Option<u32> {
    if !truth.is_active() {
        return None;
    }
    let age = now - truth.created_at;
    Some(if age < 10_000 {
        1_000
    } else if age < 60_000 {
        5_000
    } else {
        10_000
    })
}

/// The overlay and dashboards refresh this often while they show active runs.
pub const ACTIVE_LIST_POLL_MS: u32 = 10_000;

/// The notification for a finished run: the same words as its page.
pub fn present_completion(run: &RunView) -> Toast {
    let h = headline(run, run.completed_at.unwrap_or(0));
    let label = run.truth.op_type.label();
    let tenant = run
        .tenant_name
        .as_deref()
        .map(|n| format!(" for {n}"))
        .unwrap_or_default();
    let body = match (run.truth.outcome, run.reason) {
        (RunOutcome::Succeeded, _) => format!("{label}{tenant} succeeded."),
        (_, Some(reason)) => format!("{label}{tenant}: {}", reason.message()),
        (outcome, None) => format!("{label}{tenant} {}.", outcome.as_str().replace('_', " ")),
    };
    let next_steps = run_next_steps(run);
    Toast {
        tone: h.tone,
        title: format!("{label}: {}", h.label.to_lowercase()),
        body,
        link: run_link(run.id),
        link_label: "Open the run".into(),
        next_steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::model::{OperationSpec, PROVIDER, Prerequisite};

    // Types of the tests' own: the engine's tests name no feature.
    const SYNC_SPEC: OperationSpec =
        OperationSpec::provider("test_sync", "Inventory sync", 30, PROVIDER);
    const SYNC: OperationType = OperationType::registered(&SYNC_SPEC);
    const VERIFY_SPEC: OperationSpec =
        OperationSpec::provider("test_verify", "Tenant verification", 5, PROVIDER);
    const VERIFY: OperationType = OperationType::registered(&VERIFY_SPEC);
    const PACK_SPEC: OperationSpec = OperationSpec {
        scope: ScopeKind::Tenant,
        prerequisites: &[Prerequisite::TenantActive],
        ..OperationSpec::provider("test_pack", "Review pack", 10, PROVIDER)
    };
    const PACK: OperationType = OperationType::registered(&PACK_SPEC);

    fn result(decision: StartDecision) -> StartResult {
        StartResult {
            decision,
            run: RunId(42),
            op_type: SYNC,
            tenant: crate::ids::TenantId(5),
            connection: Some(crate::ids::ProviderConnectionId(6)),
            holder: Some(VERIFY),
            reason: Some(ReasonCode::ConsentMissing),
        }
    }

    #[test]
    fn public_words_are_exact() {
        let titles: Vec<String> = [
            StartDecision::Accepted,
            StartDecision::Deduped,
            StartDecision::ScopeBusy,
            StartDecision::Blocked,
        ]
        .into_iter()
        .map(|d| present_start(&result(d)).title)
        .collect();
        assert_eq!(
            titles,
            ["Queued", "Already running", "Scope busy", "Blocked"]
        );
    }

    #[test]
    fn every_toast_links_to_its_run() {
        for d in [
            StartDecision::Accepted,
            StartDecision::Deduped,
            StartDecision::ScopeBusy,
            StartDecision::Blocked,
        ] {
            assert_eq!(present_start(&result(d)).link, "/admin/operations/42");
        }
    }

    #[test]
    fn run_detail_polls_fast_then_slower_and_never_after_the_end() {
        let mut t = RunTruth {
            op_type: SYNC,
            status: RunStatus::Running,
            outcome: RunOutcome::Pending,
            created_at: 1_000_000,
            started_at: Some(1_000_000),
            lease_expires_at: None,
            reconciled: false,
        };
        let at = |secs: i64| 1_000_000 + secs * 1000;
        assert_eq!(poll_delay_ms(&t, at(0)), Some(1_000));
        assert_eq!(poll_delay_ms(&t, at(9)), Some(1_000));
        assert_eq!(poll_delay_ms(&t, at(10)), Some(5_000));
        assert_eq!(poll_delay_ms(&t, at(59)), Some(5_000));
        assert_eq!(poll_delay_ms(&t, at(60)), Some(10_000));
        assert_eq!(poll_delay_ms(&t, at(3600)), Some(10_000));
        t.status = RunStatus::Queued;
        assert_eq!(poll_delay_ms(&t, at(1)), Some(1_000));
        t.status = RunStatus::Completed;
        for outcome in RunOutcome::ALL {
            t.outcome = *outcome;
            assert_eq!(poll_delay_ms(&t, at(1)), None);
        }
    }

    #[test]
    fn blocked_and_busy_say_what_to_do_next() {
        let blocked = present_start(&result(StartDecision::Blocked));
        assert!(blocked.body.contains("Admin consent"));
        assert!(!blocked.next_steps.is_empty());
        let busy = present_start(&result(StartDecision::ScopeBusy));
        assert!(busy.body.contains("Tenant verification"));
        assert_eq!(busy.next_steps.len(), 1);
    }

    #[test]
    fn next_steps_carry_links_to_the_connection_and_the_running_run() {
        let blocked = present_start(&result(StartDecision::Blocked));
        let hrefs: Vec<String> = blocked
            .next_steps
            .iter()
            .filter_map(|s| s.link.as_ref().map(|l| l.href.clone()))
            .collect();
        assert_eq!(
            hrefs,
            [
                "/admin/t/5/connections/6/consent",
                "/admin/t/5/verification#verify"
            ]
        );
        let busy = present_start(&result(StartDecision::ScopeBusy));
        assert_eq!(
            busy.next_steps[0].link.as_ref().map(|l| l.href.as_str()),
            Some("/admin/operations/42")
        );
    }

    #[test]
    fn stuck_runs_say_when_they_will_be_ended() {
        let spec = SYNC.spec();
        let t = RunTruth {
            op_type: SYNC,
            status: RunStatus::Running,
            outcome: RunOutcome::Pending,
            created_at: 0,
            started_at: Some(0),
            lease_expires_at: Some(i64::MAX),
            reconciled: false,
        };
        assert_eq!(
            stuck_guidance(&t, 1_000, crate::views::format_utc),
            None,
            "moving runs need no advice"
        );
        let late = spec.expected_duration_ms * 2;
        let said = stuck_guidance(&t, late, crate::views::format_utc).expect("stuck");
        assert!(
            said.starts_with("Cancel it to free this provider connection now"),
            "{said}"
        );
        assert!(
            said.contains(&crate::views::format_utc(spec.max_runtime_ms)),
            "{said}"
        );
        let done = RunTruth {
            status: RunStatus::Completed,
            outcome: RunOutcome::Failed,
            ..t
        };
        assert_eq!(stuck_guidance(&done, late, crate::views::format_utc), None);
    }

    #[test]
    fn collisions_name_the_real_scope() {
        let busy = present_start(&result(StartDecision::ScopeBusy));
        assert!(
            busy.body.contains("this provider connection"),
            "{}",
            busy.body
        );
        let mut pack = result(StartDecision::Deduped);
        pack.op_type = PACK;
        pack.connection = None;
        let deduped = present_start(&pack);
        assert!(deduped.body.contains("for this tenant"), "{}", deduped.body);
    }
}
