//! The operation run model: closed enums, the registry of operation types,
//! and the derived truth (freshness, problem classes) every surface shares.
//! Compiles to wasm: the browser islands use the same words.

use crate::ids::{ProviderConnectionId, RunId, TenantId, WorkspaceId};
use crate::rbac::Capability;
use serde::{Deserialize, Serialize};

string_enum!(
    /// Lifecycle status. Only the run service changes it.
    RunStatus { Queued = "queued", Running = "running", Completed = "completed" }
);

string_enum!(
    /// What a run came to. `Pending` exactly while the run is active.
    RunOutcome {
        Pending = "pending",
        Succeeded = "succeeded",
        PartiallySucceeded = "partially_succeeded",
        Failed = "failed",
        Blocked = "blocked",
        Cancelled = "cancelled",
    }
);

string_enum!(
    /// Who started a run. Only user runs notify anyone.
    InitiatorKind { User = "user", Schedule = "schedule", System = "system" }
);

string_enum!(
    /// Why a run was blocked or failed, in words an operator can act on.
    ReasonCode {
        ConnectionMissing = "connection_missing",
        ConnectionDisabled = "connection_disabled",
        ConsentMissing = "consent_missing",
        ConsentUnconfirmed = "consent_unconfirmed",
        CredentialsMissing = "credentials_missing",
        CredentialsExpired = "credentials_expired",
        CredentialsInvalid = "credentials_invalid",
        PermissionsMissing = "permissions_missing",
        ProviderTenantNotFound = "provider_tenant_not_found",
        ProviderThrottled = "provider_throttled",
        ProviderTimeout = "provider_timeout",
        ProviderUnavailable = "provider_unavailable",
        ProviderUnexpectedResponse = "provider_unexpected_response",
        TenantInactive = "tenant_inactive",
        OperationUnavailable = "operation_unavailable",
        LeaseExpired = "lease_expired",
        NeverStarted = "never_started",
        TimeLimitExceeded = "time_limit_exceeded",
        HandlerFailed = "handler_failed",
        Cancelled = "cancelled",
    }
);

/// What a start protects: at most one active run per scope key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScopeKind {
    /// Provider-backed work: the provider connection is the protected scope.
    ProviderConnection,
    /// Tenant-scoped work that does not touch the provider (review packs).
    Tenant,
}

/// A start prerequisite, checked by the gate inside its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prerequisite {
    TenantActive,
    ConnectionEnabled,
    ConsentGranted,
    CredentialsValid,
}

/// One operation type's entry in the catalogue: everything the engine needs
/// to admit, run, requeue and judge a run of it. Declared beside the feature
/// (`crate::catalogue` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationSpec {
    /// The type's key: stored in rows, sent in forms and URLs.
    pub key: &'static str,
    pub label: &'static str,
    pub scope: ScopeKind,
    pub capability: Capability,
    /// Past this, an active run is `likely_stale`.
    pub expected_duration_ms: i64,
    pub prerequisites: &'static [Prerequisite],
    /// Whether a handler exists yet; unavailable types are registered but blocked.
    pub available: bool,
    /// Exercise-the-machinery types: never offered in the UI.
    pub test_only: bool,
    /// Who starts it with a click: from the generic start button, or only
    /// from its own page (which supplies its arguments).
    pub started_from: StartedFrom,
    /// Safe to run again from scratch after a worker lost its lease.
    pub requeue_after_lost_lease: bool,
    pub max_attempts: i64,
    /// A running attempt past this (even with a live lease) is ended as
    /// failed by the reconciler and its handler told to stop: no run holds
    /// its scope for ever.
    pub max_runtime_ms: i64,
    /// A queued run no worker picked up within this is ended as failed.
    pub max_queue_wait_ms: i64,
    /// Schedules may start it on their targets.
    pub schedulable: bool,
    /// A bulk start may start it on many tenants at once.
    pub bulk_startable: bool,
}

/// The default time limits: four times the expected duration (at least ten
/// minutes) running, an hour waiting in the queue.
pub const fn default_max_runtime_ms(expected_duration_ms: i64) -> i64 {
    let four = expected_duration_ms * 4;
    if four < 10 * 60_000 {
        10 * 60_000
    } else {
        four
    }
}
pub const DEFAULT_MAX_QUEUE_WAIT_MS: i64 = 60 * 60_000;

/// Where an operator starts an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartedFrom {
    /// The generic start button (tenant dashboard, provider section).
    AnyStartButton,
    /// Its own page, which supplies the arguments (restore, review packs,
    /// the onboarding wizard); the generic button refuses it.
    OwnPage,
}

/// What a start would do right now, read from the database only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReadinessState {
    Ready,
    /// It would start, but tenant verification has never finished for this
    /// tenant: sign-in, identity and permissions are unchecked.
    NotVerified,
    Blocked {
        reason: ReasonCode,
    },
    /// This operation is already active on the connection.
    Running {
        run: RunId,
    },
    /// Another operation holds the connection.
    Busy {
        run: RunId,
        holder: OperationType,
    },
}

impl ReadinessState {
    /// The word shown before the click; the same words the start toast uses.
    pub fn label(&self) -> &'static str {
        match self {
            ReadinessState::Ready => "Ready",
            ReadinessState::NotVerified => "Not verified yet",
            ReadinessState::Blocked { .. } => "Blocked",
            ReadinessState::Running { .. } => "Already running",
            ReadinessState::Busy { .. } => "Scope busy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub op_type: OperationType,
    pub state: ReadinessState,
    /// The member's role may start it.
    pub allowed: bool,
    /// For a blocked row: what to do, with links (the next-step registry).
    pub next_steps: Vec<super::next_steps::NextStep>,
    /// When the start button is not offered: why, in the operator's words.
    pub not_offered: Option<String>,
}

/// A client secret counts as expired from its recorded expiry on (the
/// `CredentialsValid` prerequisite; readiness and the start share it).
pub fn secret_expired(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_some_and(|e| e <= now)
}

/// The prerequisites of provider work.
pub const PROVIDER: &[Prerequisite] = &[
    Prerequisite::TenantActive,
    Prerequisite::ConnectionEnabled,
    Prerequisite::ConsentGranted,
    Prerequisite::CredentialsValid,
];
/// Verification is how consent gets confirmed, so it does not require it.
pub const VERIFY: &[Prerequisite] = &[
    Prerequisite::TenantActive,
    Prerequisite::ConnectionEnabled,
    Prerequisite::CredentialsValid,
];

impl OperationSpec {
    /// Provider-backed work on the pinned connection: `provider.run`,
    /// requeued up to 3 attempts after a lost lease, startable from any button.
    pub const fn provider(
        key: &'static str,
        label: &'static str,
        minutes: i64,
        prerequisites: &'static [Prerequisite],
    ) -> OperationSpec {
        OperationSpec {
            key,
            label,
            scope: ScopeKind::ProviderConnection,
            capability: Capability::ProviderRun,
            expected_duration_ms: minutes * 60_000,
            prerequisites,
            available: true,
            test_only: false,
            started_from: StartedFrom::AnyStartButton,
            requeue_after_lost_lease: true,
            max_attempts: 3,
            max_runtime_ms: default_max_runtime_ms(minutes * 60_000),
            max_queue_wait_ms: DEFAULT_MAX_QUEUE_WAIT_MS,
            schedulable: false,
            bulk_startable: false,
        }
    }

    /// The same entry, startable by schedules.
    pub const fn schedulable(self) -> OperationSpec {
        OperationSpec {
            schedulable: true,
            ..self
        }
    }

    /// The same entry, startable on many tenants at once (and by schedules).
    pub const fn bulk_startable(self) -> OperationSpec {
        OperationSpec {
            schedulable: true,
            bulk_startable: true,
            ..self
        }
    }

    /// The same entry, registered but refused (no handler ships yet).
    pub const fn unavailable(self) -> OperationSpec {
        OperationSpec {
            available: false,
            ..self
        }
    }

    /// The same entry, started only from its own page.
    pub const fn from_own_page(self) -> OperationSpec {
        OperationSpec {
            started_from: StartedFrom::OwnPage,
            ..self
        }
    }
}

/// An operation type: the key a feature registers its operation under,
/// carrying the operation's spec. Features declare theirs as constants
/// (`provider::INVENTORY_SYNC`); the composition root registers the list
/// (`operations::register`) so keys read back from rows, forms and URLs
/// find their type. The engine names no type but its own test probes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OperationType(&'static OperationSpec);

impl OperationType {
    /// The type declared by `spec` (its key is `spec.key`).
    pub const fn registered(spec: &'static OperationSpec) -> OperationType {
        OperationType(spec)
    }

    /// The key stored in rows and sent in forms (`inventory_sync`).
    pub const fn as_str(self) -> &'static str {
        self.0.key
    }

    /// The type's catalogue entry (declared beside its feature).
    pub const fn spec(self) -> &'static OperationSpec {
        self.0
    }
}

static REGISTERED: std::sync::Mutex<&'static [OperationType]> = std::sync::Mutex::new(&[]);

/// Registers operation types (the composition root registers them all once
/// per process; registering a type again changes nothing).
pub fn register_types(types: &'static [OperationType]) {
    let mut current = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
    if types.iter().all(|t| current.contains(t)) {
        return;
    }
    let mut merged = current.to_vec();
    for t in types {
        if !merged.iter().any(|m| m.as_str() == t.as_str()) {
            merged.push(*t);
        }
    }
    // A handful of types, registered once: the list lives for the process.
    *current = Box::leak(merged.into_boxed_slice());
}

/// Every registered operation type, in the order registered (empty before
/// the composition root registered them).
pub fn registered_types() -> &'static [OperationType] {
    *REGISTERED.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::hash::Hash for OperationType {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl std::fmt::Debug for OperationType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for OperationType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OperationType {
    type Err = ();
    /// A registered type by its key; anything else is no type.
    fn from_str(s: &str) -> Result<Self, ()> {
        registered_types()
            .iter()
            .find(|t| t.as_str() == s)
            .copied()
            .ok_or(())
    }
}

impl Serialize for OperationType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OperationType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let key = String::deserialize(deserializer)?;
        key.parse()
            .map_err(|_| serde::de::Error::custom("unknown operation type"))
    }
}

impl OperationType {
    pub fn label(self) -> &'static str {
        self.spec().label
    }

    /// Whether the generic start button may start it.
    pub fn starts_from_its_own_page(self) -> bool {
        self.spec().started_from == StartedFrom::OwnPage
    }
}

impl ReasonCode {
    /// The operator's words for the reason.
    pub fn message(self) -> &'static str {
        use ReasonCode::*;
        match self {
            ConnectionMissing => "This tenant has no provider connection.",
            ConnectionDisabled => "The tenant's provider connection is disabled.",
            ConsentMissing => "Admin consent has not been granted for the provider connection.",
            ConsentUnconfirmed => {
                "Admin consent was granted in Microsoft but Tenantry has not verified it yet."
            }
            CredentialsMissing => "The provider connection has no client secret.",
            CredentialsExpired => "The provider connection's client secret has expired.",
            CredentialsInvalid => "Microsoft refused the connection's client id or secret.",
            PermissionsMissing => "Admin consent is missing for some permissions Tenantry needs.",
            ProviderTenantNotFound => "Microsoft does not know the connection's tenant id.",
            ProviderThrottled => "Microsoft Graph throttled the requests for this tenant.",
            ProviderTimeout => "Microsoft Graph did not answer in time.",
            ProviderUnavailable => "Microsoft Graph was unavailable.",
            ProviderUnexpectedResponse => {
                "Microsoft Graph sent a response Tenantry could not read."
            }
            TenantInactive => "The tenant is inactive.",
            OperationUnavailable => "This operation is not available yet.",
            LeaseExpired => "The worker running this operation stopped responding.",
            NeverStarted => "No worker picked the operation up in time.",
            TimeLimitExceeded => "The operation ran past its time limit.",
            HandlerFailed => "The operation failed while running.",
            Cancelled => "The operation was cancelled.",
        }
    }
}

/// The protected scope key of a start.
pub fn scope_key(
    kind: ScopeKind,
    tenant: TenantId,
    connection: Option<ProviderConnectionId>,
) -> Option<String> {
    match kind {
        ScopeKind::ProviderConnection => connection.map(connection_scope_key),
        ScopeKind::Tenant => Some(tenant_scope_key(tenant)),
    }
}

/// The scope key of provider work on a connection (`runs::sql::connection_scope` in SQL).
pub fn connection_scope_key(connection: ProviderConnectionId) -> String {
    format!("provider_connection:{connection}")
}

/// The scope key of tenant-scoped work (`runs::sql::tenant_scope` in SQL).
pub fn tenant_scope_key(tenant: TenantId) -> String {
    format!("tenant:{tenant}")
}

/// Derived liveness of a run; never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    Fresh,
    /// Active past its type's expected duration, or its lease ran out.
    LikelyStale,
    /// The reconciler closed it after it went stale; lineage kept.
    Reconciled,
}

/// Derived attention buckets every surface counts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemClass {
    /// Failed, blocked or partially succeeded: somebody should look.
    TerminalFollowUp,
    /// Still active but looks stuck.
    ActiveStaleAttention,
}

impl ProblemClass {
    pub fn label(self) -> &'static str {
        match self {
            ProblemClass::TerminalFollowUp => "Needs follow-up",
            ProblemClass::ActiveStaleAttention => "Looks stuck",
        }
    }
}

/// What the reconciler saw and did; kept on the run for its lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationRecord {
    pub seen_at: i64,
    pub status_seen: RunStatus,
    pub lease_owner: Option<String>,
    pub lease_expired_at: Option<i64>,
    pub last_heartbeat_at: Option<i64>,
    pub attempts: i64,
    /// `requeued` or `failed`.
    pub action: String,
    pub why: String,
}

/// Summary counts a handler reports (bounded: a few named numbers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryCounts(pub Vec<(String, i64)>);

/// The fields the derivations need; every run view carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTruth {
    pub op_type: OperationType,
    pub status: RunStatus,
    pub outcome: RunOutcome,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub lease_expires_at: Option<i64>,
    pub reconciled: bool,
}

impl RunTruth {
    pub fn is_active(&self) -> bool {
        self.status != RunStatus::Completed
    }

    pub fn freshness(&self, now: i64) -> Freshness {
        if !self.is_active() {
            return if self.reconciled {
                Freshness::Reconciled
            } else {
                Freshness::Fresh
            };
        }
        let since = self.started_at.unwrap_or(self.created_at);
        let overdue = now - since > self.op_type.spec().expected_duration_ms;
        let lease_lost =
            self.status == RunStatus::Running && self.lease_expires_at.is_some_and(|l| l < now);
        if overdue || lease_lost {
            Freshness::LikelyStale
        } else {
            Freshness::Fresh
        }
    }

    /// When the reconciler ends this run if it is still active: a running
    /// attempt at `started_at + max_runtime`, a never-started queued run at
    /// `created_at + max_queue_wait` (a requeued one waits up to that long
    /// again from its requeue, which the truth does not carry: `None`).
    pub fn time_limit(&self) -> Option<i64> {
        let spec = self.op_type.spec();
        match (self.status, self.started_at) {
            (RunStatus::Running, Some(started)) => Some(started + spec.max_runtime_ms),
            (RunStatus::Queued, None) => Some(self.created_at + spec.max_queue_wait_ms),
            _ => None,
        }
    }

    pub fn problem_class(&self, now: i64) -> Option<ProblemClass> {
        if self.is_active() {
            (self.freshness(now) == Freshness::LikelyStale)
                .then_some(ProblemClass::ActiveStaleAttention)
        } else {
            matches!(
                self.outcome,
                RunOutcome::Failed | RunOutcome::Blocked | RunOutcome::PartiallySucceeded
            )
            .then_some(ProblemClass::TerminalFollowUp)
        }
    }
}

/// A run as pages and notifications see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    pub id: RunId,
    pub workspace_id: WorkspaceId,
    pub tenant_id: Option<TenantId>,
    pub tenant_name: Option<String>,
    pub truth: RunTruth,
    pub initiator: InitiatorKind,
    pub initiator_label: Option<String>,
    pub provider_connection_id: Option<ProviderConnectionId>,
    pub reason: Option<ReasonCode>,
    pub summary: SummaryCounts,
    pub failure_summary: Option<String>,
    pub completed_at: Option<i64>,
    pub attempts: i64,
    pub cancel_requested: bool,
    pub reconciliation: Option<ReconciliationRecord>,
    /// Started again from the system plane: the run this one repeats.
    pub rerun_of: Option<RunId>,
}

/// What the start gate decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartDecision {
    Accepted,
    Deduped,
    ScopeBusy,
    Blocked,
}

impl StartDecision {
    /// The decision as recorded (fire and bulk targets) and counted (the
    /// `tenantry_runs_started_total` result label).
    pub fn word(self) -> &'static str {
        match self {
            StartDecision::Accepted => "queued",
            StartDecision::Deduped => "already_running",
            StartDecision::ScopeBusy => "scope_busy",
            StartDecision::Blocked => "blocked",
        }
    }
}

/// Where a run came from when a feature admitted it as part of something
/// larger (a schedule's fire, a bulk start): the feature's key and its row.
/// The engine writes it in the run's own INSERT and knows nothing else of
/// it, so the feature can find every run it admitted, even after a crash
/// between the admission and its own bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub kind: &'static str,
    pub id: i64,
}

/// A start result as the presenter needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartResult {
    pub decision: StartDecision,
    /// The new run (accepted, blocked), the same active run (deduped), or the
    /// run holding the scope (scope busy).
    pub run: RunId,
    pub op_type: OperationType,
    /// What the start was for (next steps link to it).
    pub tenant: TenantId,
    pub connection: Option<ProviderConnectionId>,
    /// For scope busy: the operation holding the scope.
    pub holder: Option<OperationType>,
    pub reason: Option<ReasonCode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(status: RunStatus, outcome: RunOutcome) -> RunTruth {
        RunTruth {
            op_type: super::super::probe::MACHINERY_PROBE,
            status,
            outcome,
            created_at: 0,
            started_at: Some(0),
            lease_expires_at: Some(60_000),
            reconciled: false,
        }
    }

    #[test]
    fn every_reason_has_words() {
        for r in ReasonCode::ALL {
            assert!(!r.message().is_empty() && !r.steps().is_empty(), "{r}");
        }
    }

    #[test]
    fn wire_names_are_the_stored_names() {
        for r in ReasonCode::ALL {
            assert_eq!(
                serde_json::to_value(r).ok(),
                Some(serde_json::json!(r.as_str()))
            );
        }
        for o in RunOutcome::ALL {
            assert_eq!(
                serde_json::to_value(o).ok(),
                Some(serde_json::json!(o.as_str()))
            );
        }
    }

    #[test]
    fn freshness_and_problem_classes() {
        let running = truth(RunStatus::Running, RunOutcome::Pending);
        assert_eq!(running.freshness(30_000), Freshness::Fresh);
        assert_eq!(
            running.freshness(61_000),
            Freshness::LikelyStale,
            "lease ran out"
        );
        assert_eq!(
            running.problem_class(61_000),
            Some(ProblemClass::ActiveStaleAttention)
        );
        let mut long = running.clone();
        long.lease_expires_at = Some(i64::MAX);
        assert_eq!(
            long.freshness(31 * 60_000),
            Freshness::LikelyStale,
            "past expected duration"
        );
        let failed = truth(RunStatus::Completed, RunOutcome::Failed);
        assert_eq!(
            failed.problem_class(0),
            Some(ProblemClass::TerminalFollowUp)
        );
        assert_eq!(
            failed.freshness(i64::MAX),
            Freshness::Fresh,
            "terminal runs never go stale"
        );
        let mut reconciled = failed.clone();
        reconciled.reconciled = true;
        assert_eq!(reconciled.freshness(0), Freshness::Reconciled);
        assert_eq!(
            truth(RunStatus::Completed, RunOutcome::Succeeded).problem_class(0),
            None
        );
        assert_eq!(
            truth(RunStatus::Completed, RunOutcome::Cancelled).problem_class(0),
            None
        );
    }

    #[test]
    fn provider_work_is_scoped_by_connection() {
        assert_eq!(
            scope_key(
                ScopeKind::ProviderConnection,
                TenantId(1),
                Some(ProviderConnectionId(7))
            )
            .as_deref(),
            Some("provider_connection:7")
        );
        assert_eq!(
            scope_key(ScopeKind::ProviderConnection, TenantId(1), None),
            None
        );
        assert_eq!(
            scope_key(ScopeKind::Tenant, TenantId(3), None).as_deref(),
            Some("tenant:3")
        );
    }
}
