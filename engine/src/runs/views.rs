//! What run pages, the hub, the overlay and notifications show (wasm-safe:
//! the islands read them too).

use crate::ids::{TenantId, UserId};
use crate::views::WorkspaceRef;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: crate::ids::NotificationId,
    /// The presenter's tone (`info`, `success`, `warning`, `danger`, `neutral`).
    pub tone: String,
    pub title: String,
    pub body: String,
    pub link: String,
    pub created_at: i64,
    pub read: bool,
    pub next_steps: Vec<crate::runs::next_steps::NextStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationsPage {
    pub workspace: WorkspaceRef,
    pub items: Vec<NotificationView>,
    pub unread: i64,
}

/// Run detail: the run, its headline from the shared presenter, and what the
/// viewer may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPage {
    pub run: crate::runs::RunView,
    pub headline: crate::runs::presenter::RunHeadline,
    pub can_cancel: bool,
    /// The member's role may send a support request about this run.
    pub can_request_support: bool,
    pub now: i64,
    /// Per-item results, for operations that declare them (restore).
    pub items: Option<RunItems>,
}

/// A run's per-item results as its page shows them: a table with one row
/// per item, in the operation's own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunItems {
    /// The card's heading, e.g. "Policies".
    pub heading: String,
    /// Shown while there are no rows yet.
    pub empty: String,
    /// The table's caption (for screen readers).
    pub caption: String,
    /// The first two columns' headings, e.g. ("Policy", "Kind").
    pub subject: String,
    pub kind: String,
    pub rows: Vec<RunItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunItem {
    pub subject: String,
    pub kind: String,
    pub result: String,
    pub tone: crate::runs::presenter::Tone,
    pub detail: String,
}

/// One run in a list, with the presenter's headline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: crate::ids::RunId,
    pub workspace_name: String,
    pub tenant_id: Option<TenantId>,
    pub tenant_name: Option<String>,
    pub operation: String,
    pub headline: crate::runs::presenter::RunHeadline,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub reason: Option<String>,
    pub reconciled_lineage: bool,
}

/// The operations hub: one keyset page of runs for a filter, with its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubPage {
    pub workspace: WorkspaceRef,
    pub query: crate::runs::filter::HubQuery,
    pub runs: Vec<RunRow>,
    /// The query string of the next (older) page, when there is one.
    pub next: Option<String>,
    /// How many runs match the filter (the same number every summary shows).
    pub count: crate::runs::filter::CappedCount,
    /// Tenants the member may see (filter choices).
    pub tenants: Vec<(TenantId, String)>,
    /// Workspace members (initiator choices).
    pub members: Vec<(UserId, String)>,
    /// The workspace's tags (filter choices).
    pub tags: Vec<(crate::ids::TagId, String)>,
    /// Runs of this filter's tenant, type, initiator and tag that ended per
    /// day over the last 30 days.
    pub trend: RunsPerDay,
}

/// The system plane's run lists: every workspace, same filter and paging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemRunsPage {
    pub query: crate::runs::filter::HubQuery,
    pub runs: Vec<RunRow>,
    pub next: Option<String>,
    pub count: crate::runs::filter::CappedCount,
    /// Active runs a bulk cancel of this list and filter would stop (up to
    /// the limit + 1); `None` on the failures list.
    pub cancellable: Option<i64>,
    /// How long each operation type took over the last 30 days (the first
    /// page of all runs only).
    pub durations: Option<DurationSpread>,
}

/// One summary number and the hub link that shows the same count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiTile {
    pub kpi: crate::runs::filter::Kpi,
    pub count: crate::runs::filter::CappedCount,
    pub link: String,
}

/// A short list of runs with the hub link that shows all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunShortList {
    pub title: String,
    pub runs: Vec<RunRow>,
    pub count: crate::runs::filter::CappedCount,
    pub link: String,
}

/// Run truth for a tenant dashboard or the workspace overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub tiles: Vec<KpiTile>,
    /// Runs that ended per day over the last 30 days. The page draws it
    /// around the live summary, not in it: it never travels to the browser
    /// (a poll's answer carries the default).
    #[serde(skip)]
    pub trend: RunsPerDay,
    /// Needs attention, by problem class: looks stuck, then needs follow-up.
    pub attention: Vec<RunShortList>,
    pub recent: RunShortList,
}

/// An active run in the progress overlay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveRun {
    pub id: crate::ids::RunId,
    pub operation: String,
    pub tenant_name: Option<String>,
    pub headline: crate::runs::presenter::RunHeadline,
}

/// A bulk start in the progress overlay: one entry with done/total while
/// any run it started is active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveBulk {
    pub id: crate::ids::BulkStartId,
    pub operation: String,
    pub selection: String,
    pub done: i64,
    pub total: i64,
    pub link: String,
}

/// The progress overlay: active runs of the current workspace you may see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveRuns {
    /// Active runs not started by a bulk (a bulk is one entry of `bulks`).
    pub runs: Vec<ActiveRun>,
    pub bulks: Vec<ActiveBulk>,
    /// All active runs you may see (the list shows the newest few).
    pub total: i64,
    pub link: String,
}

/// The run page's poll: its run's pulse and, when asked (every 10 s), the
/// overlay's list, so one page makes one stream of polls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPoll {
    pub pulse: RunPulse,
    pub overlay: Option<ActiveRuns>,
}

/// What the run-detail island polls: the changing fields of one run, read
/// by primary key without joins, with the presenter's headline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPulse {
    pub truth: crate::runs::RunTruth,
    pub reason: Option<crate::runs::ReasonCode>,
    pub summary: crate::runs::SummaryCounts,
    pub failure_summary: Option<String>,
    pub completed_at: Option<i64>,
    pub attempts: i64,
    pub cancel_requested: bool,
    pub reconciliation: Option<crate::runs::ReconciliationRecord>,
    pub headline: crate::runs::presenter::RunHeadline,
    pub now: i64,
}

impl RunPage {
    /// Takes a fresher pulse of the same run.
    pub fn apply(&mut self, p: RunPulse) {
        let r = &mut self.run;
        r.truth = p.truth;
        r.reason = p.reason;
        r.summary = p.summary;
        r.failure_summary = p.failure_summary;
        r.completed_at = p.completed_at;
        r.attempts = p.attempts;
        r.cancel_requested = p.cancel_requested;
        r.reconciliation = p.reconciliation;
        self.headline = p.headline;
        self.can_cancel = self.can_cancel && r.truth.is_active();
        self.now = p.now;
    }
}

/// Which system list to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemRunList {
    All,
    Failures,
    Stuck,
}

/// The outcomes a run can end with, in the order charts stack them.
pub const ENDED_OUTCOMES: [crate::runs::model::RunOutcome; 5] = [
    crate::runs::model::RunOutcome::Succeeded,
    crate::runs::model::RunOutcome::PartiallySucceeded,
    crate::runs::model::RunOutcome::Failed,
    crate::runs::model::RunOutcome::Blocked,
    crate::runs::model::RunOutcome::Cancelled,
];

/// Runs that ended per day in the reader's zone, by outcome: the charts on
/// the hub, the overview, the tenant page and the fleet page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunsPerDay {
    /// Oldest first: the local date (`2026-12-01`) and the counts in
    /// [`ENDED_OUTCOMES`] order. The last day is today, so far.
    pub days: Vec<(String, [i64; 5])>,
}

impl RunsPerDay {
    pub fn total(&self) -> i64 {
        self.days.iter().flat_map(|(_, c)| c.iter()).sum()
    }
}

/// How long runs took from start to end, in these buckets (upper bound in
/// milliseconds, words).
pub const DURATION_BUCKETS: [(i64, &str); 6] = [
    (10_000, "under 10 s"),
    (60_000, "10 s to 1 min"),
    (300_000, "1 to 5 min"),
    (900_000, "5 to 15 min"),
    (3_600_000, "15 to 60 min"),
    (i64::MAX, "over 1 h"),
];

/// One operation type's durations over the last 30 days (system plane).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationRow {
    pub operation: String,
    /// Runs per [`DURATION_BUCKETS`] bucket.
    pub counts: [i64; 6],
}

impl DurationRow {
    pub fn total(&self) -> i64 {
        self.counts.iter().sum()
    }

    /// The bucket the `per_cent`-th percentile falls in (its words).
    pub fn percentile(&self, per_cent: i64) -> Option<&'static str> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen * 100 >= total * per_cent {
                return Some(DURATION_BUCKETS[i].1);
            }
        }
        DURATION_BUCKETS.last().map(|b| b.1)
    }
}

/// Durations per operation type, most runs first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DurationSpread {
    pub rows: Vec<DurationRow>,
}
