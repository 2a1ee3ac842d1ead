//! The operations hub's filter, as the URL carries it. Parsed strictly (a bad
//! value names its field) and written back in one canonical order, so every
//! summary number can link to the hub with exactly the filter it counted.
//! Wasm-safe: pages build their drill-through links with it.

use super::model::{OperationType, RunOutcome, RunStatus};
use crate::error::{AppError, AppResult};
use crate::ids::{BulkStartId, ScheduleFireId, TagId, TenantId, UserId};
use serde::{Deserialize, Serialize};

/// At most this many runs are cancelled by one system-plane bulk cancel.
pub const BULK_CANCEL_LIMIT: i64 = 500;

/// Hub tabs: the problem classes of PRODUCT.md §5 plus "all" and "active".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tab {
    #[default]
    All,
    Active,
    /// Terminal follow-up: failed, blocked or partially succeeded.
    FollowUp,
    /// Active stale attention: active runs that look stuck.
    Stale,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::All, Tab::Active, Tab::FollowUp, Tab::Stale];

    pub fn as_str(self) -> &'static str {
        match self {
            Tab::All => "all",
            Tab::Active => "active",
            Tab::FollowUp => "follow_up",
            Tab::Stale => "stale",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Tab::All => "All",
            Tab::Active => "Active",
            Tab::FollowUp => super::model::ProblemClass::TerminalFollowUp.label(),
            Tab::Stale => super::model::ProblemClass::ActiveStaleAttention.label(),
        }
    }

    fn parse(s: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A creation-time window ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    LastHour,
    LastDay,
    LastWeek,
    LastMonth,
}

impl Range {
    pub const ALL: [Range; 4] = [
        Range::LastHour,
        Range::LastDay,
        Range::LastWeek,
        Range::LastMonth,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Range::LastHour => "1h",
            Range::LastDay => "24h",
            Range::LastWeek => "7d",
            Range::LastMonth => "30d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Range::LastHour => "Last hour",
            Range::LastDay => "Last 24 hours",
            Range::LastWeek => "Last 7 days",
            Range::LastMonth => "Last 30 days",
        }
    }

    pub fn millis(self) -> i64 {
        const HOUR: i64 = 3_600_000;
        match self {
            Range::LastHour => HOUR,
            Range::LastDay => 24 * HOUR,
            Range::LastWeek => 7 * 24 * HOUR,
            Range::LastMonth => 30 * 24 * HOUR,
        }
    }

    fn parse(s: &str) -> Option<Range> {
        Range::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Who started the runs: one member, or the scheduler, or the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitiatorFilter {
    User(UserId),
    Schedule,
    System,
}

impl InitiatorFilter {
    pub fn to_param(self) -> String {
        match self {
            InitiatorFilter::User(u) => u.to_string(),
            InitiatorFilter::Schedule => "schedule".into(),
            InitiatorFilter::System => "system".into(),
        }
    }

    fn parse(s: &str) -> Option<InitiatorFilter> {
        match s {
            "schedule" => Some(InitiatorFilter::Schedule),
            "system" => Some(InitiatorFilter::System),
            other => other.parse().ok().map(InitiatorFilter::User),
        }
    }
}

/// Where a keyset page starts: strictly older than this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub created_at: i64,
    pub id: i64,
}

impl Cursor {
    pub fn to_param(self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }

    fn parse(s: &str) -> Option<Cursor> {
        let (at, id) = s.split_once('.')?;
        Some(Cursor {
            created_at: at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// Everything the hub can filter by. Empty means every run you may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunFilter {
    pub tab: Tab,
    pub status: Option<RunStatus>,
    pub outcome: Option<RunOutcome>,
    pub op_type: Option<OperationType>,
    pub tenant: Option<TenantId>,
    pub initiator: Option<InitiatorFilter>,
    pub range: Option<Range>,
    /// Runs on tenants carrying this tag (now).
    pub tag: Option<TagId>,
    /// Runs one schedule fire admitted or found running.
    pub fire: Option<ScheduleFireId>,
    /// Runs one bulk start admitted or found running.
    pub bulk: Option<BulkStartId>,
    /// Only runs no bulk start queued (the overlay shows a bulk as one entry).
    /// Never in a URL.
    #[serde(default)]
    pub outside_bulks: bool,
}

/// A parsed hub URL: the filter and, past the first page, the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HubQuery {
    pub filter: RunFilter,
    pub before: Option<Cursor>,
}

fn bad(field: &str, what: &str) -> AppError {
    AppError::invalid(field, format!("This link has an unknown {what}."))
}

impl HubQuery {
    /// Parses a URL query string (`a=b&c=d`, with or without a leading `?`).
    /// Empty values mean "any" (a GET form sends them); unknown keys are
    /// ignored (`notice`, tracking); a bad value is refused with its field.
    pub fn parse(query: &str) -> AppResult<HubQuery> {
        let mut q = HubQuery::default();
        let f = &mut q.filter;
        for pair in query.trim_start_matches('?').split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() {
                continue;
            }
            match key {
                "tab" => f.tab = Tab::parse(value).ok_or_else(|| bad("tab", "tab"))?,
                "status" => {
                    f.status = Some(value.parse().map_err(|_| bad("status", "status"))?);
                }
                "outcome" => {
                    f.outcome = Some(value.parse().map_err(|_| bad("outcome", "outcome"))?);
                }
                "type" => {
                    let t: OperationType = value.parse().map_err(|_| bad("type", "operation"))?;
                    if t.spec().test_only {
                        return Err(bad("type", "operation"));
                    }
                    f.op_type = Some(t);
                }
                "tenant" => f.tenant = Some(value.parse().map_err(|_| bad("tenant", "tenant"))?),
                "initiator" => {
                    f.initiator = Some(
                        InitiatorFilter::parse(value)
                            .ok_or_else(|| bad("initiator", "initiator"))?,
                    );
                }
                "range" => {
                    f.range = Some(Range::parse(value).ok_or_else(|| bad("range", "time range"))?);
                }
                "tag" => f.tag = Some(value.parse().map_err(|_| bad("tag", "tag"))?),
                "fire" => f.fire = Some(value.parse().map_err(|_| bad("fire", "schedule fire"))?),
                "bulk" => f.bulk = Some(value.parse().map_err(|_| bad("bulk", "bulk start"))?),
                "before" => {
                    q.before = Some(Cursor::parse(value).ok_or_else(|| bad("before", "page"))?);
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

impl HubQuery {
    /// The canonical query string of this page (filter, then cursor).
    pub fn to_query(&self) -> String {
        let mut q = self.filter.to_query();
        if let Some(c) = self.before {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str("before=");
            q.push_str(&c.to_param());
        }
        q
    }
}

impl RunFilter {
    pub fn tab(tab: Tab) -> RunFilter {
        RunFilter {
            tab,
            ..RunFilter::default()
        }
    }

    pub fn for_tenant(self, tenant: Option<TenantId>) -> RunFilter {
        RunFilter { tenant, ..self }
    }

    /// The canonical query string (no leading `?`), defaults left out.
    pub fn to_query(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.tab != Tab::All {
            parts.push(format!("tab={}", self.tab.as_str()));
        }
        if let Some(s) = self.status {
            parts.push(format!("status={}", s.as_str()));
        }
        if let Some(o) = self.outcome {
            parts.push(format!("outcome={}", o.as_str()));
        }
        if let Some(t) = self.op_type {
            parts.push(format!("type={}", t.as_str()));
        }
        if let Some(t) = self.tenant {
            parts.push(format!("tenant={t}"));
        }
        if let Some(i) = self.initiator {
            parts.push(format!("initiator={}", i.to_param()));
        }
        if let Some(r) = self.range {
            parts.push(format!("range={}", r.as_str()));
        }
        if let Some(t) = self.tag {
            parts.push(format!("tag={t}"));
        }
        if let Some(f) = self.fire {
            parts.push(format!("fire={f}"));
        }
        if let Some(b) = self.bulk {
            parts.push(format!("bulk={b}"));
        }
        parts.join("&")
    }

    /// The hub (or another run list at `base`) showing exactly this filter.
    pub fn link(&self, base: &str) -> String {
        let q = self.to_query();
        if q.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{q}")
        }
    }

    /// The admin hub's link for this filter.
    pub fn hub_link(&self) -> String {
        self.link("/admin/operations")
    }

    /// Whether anything narrows the list beyond the tab.
    pub fn is_narrowed(&self) -> bool {
        RunFilter::tab(self.tab) != *self
    }
}

/// The summary numbers dashboards show; each is a hub filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kpi {
    Active,
    FailedLastWeek,
    Stale,
    BlockedLastWeek,
}

impl Kpi {
    pub const ALL: [Kpi; 4] = [
        Kpi::Active,
        Kpi::FailedLastWeek,
        Kpi::Stale,
        Kpi::BlockedLastWeek,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kpi::Active => "Active operations",
            Kpi::FailedLastWeek => "Failed in the last 7 days",
            Kpi::Stale => "Look stuck",
            Kpi::BlockedLastWeek => "Blocked in the last 7 days",
        }
    }

    /// The hub filter this number counts, optionally for one tenant.
    pub fn filter(self, tenant: Option<TenantId>) -> RunFilter {
        let f = match self {
            Kpi::Active => RunFilter::tab(Tab::Active),
            Kpi::Stale => RunFilter::tab(Tab::Stale),
            Kpi::FailedLastWeek => RunFilter {
                outcome: Some(RunOutcome::Failed),
                range: Some(Range::LastWeek),
                ..RunFilter::default()
            },
            Kpi::BlockedLastWeek => RunFilter {
                outcome: Some(RunOutcome::Blocked),
                range: Some(Range::LastWeek),
                ..RunFilter::default()
            },
        };
        f.for_tenant(tenant)
    }
}

/// Counts stop at this many: past it a surface says "10,000+", the same on
/// every surface, so the hub's first page never counts a million rows.
pub const COUNT_CAP: i64 = 10_000;

/// A count that may have stopped at [`COUNT_CAP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CappedCount {
    pub value: i64,
    pub capped: bool,
}

impl CappedCount {
    /// From a count of up to `COUNT_CAP + 1` rows.
    pub fn of(counted: i64) -> CappedCount {
        if counted > COUNT_CAP {
            CappedCount {
                value: COUNT_CAP,
                capped: true,
            }
        } else {
            CappedCount {
                value: counted,
                capped: false,
            }
        }
    }
}

impl std::fmt::Display for CappedCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut grouped = crate::views::thousands(self.value);
        if self.capped {
            grouped.push('+');
        }
        f.write_str(&grouped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_survives_the_url() {
        // A type of the test's own (the engine names no feature's; test-only
        // types are refused in URLs).
        use crate::runs::model::{OperationSpec, PROVIDER};
        const SYNC_SPEC: OperationSpec =
            OperationSpec::provider("test_sync", "Inventory sync", 30, PROVIDER);
        const SYNC: OperationType = OperationType::registered(&SYNC_SPEC);
        crate::runs::model::register_types(&[SYNC]);
        let f = RunFilter {
            tab: Tab::FollowUp,
            status: Some(RunStatus::Completed),
            outcome: Some(RunOutcome::PartiallySucceeded),
            op_type: Some(SYNC),
            tenant: Some(TenantId(7)),
            initiator: Some(InitiatorFilter::User(UserId(3))),
            range: Some(Range::LastWeek),
            tag: Some(TagId(4)),
            fire: Some(ScheduleFireId(9)),
            bulk: Some(BulkStartId(5)),
            outside_bulks: false,
        };
        let q = f.to_query();
        assert_eq!(
            q,
            "tab=follow_up&status=completed&outcome=partially_succeeded&type=test_sync&tenant=7&initiator=3&range=7d&tag=4&fire=9&bulk=5"
        );
        let parsed = HubQuery::parse(&format!("?{q}&before=1700.42&notice=x")).ok();
        assert_eq!(
            parsed,
            Some(HubQuery {
                filter: f,
                before: Some(Cursor {
                    created_at: 1700,
                    id: 42
                })
            })
        );
        for kpi in Kpi::ALL {
            let f = kpi.filter(Some(TenantId(2)));
            assert_eq!(
                HubQuery::parse(&f.to_query()).map(|q| q.filter).ok(),
                Some(f)
            );
        }
    }

    #[test]
    fn empty_values_mean_any_and_bad_values_name_their_field() {
        assert_eq!(
            HubQuery::parse("status=&type=&tab=").ok(),
            Some(HubQuery::default())
        );
        for (q, field) in [
            ("status=paused", "status"),
            ("type=machinery_probe", "type"),
            ("tenant=abc", "tenant"),
            ("range=2y", "range"),
            ("before=12", "before"),
            ("tab=everything", "tab"),
            ("initiator=robot", "initiator"),
        ] {
            assert_eq!(
                HubQuery::parse(q).err().as_ref().and_then(|e| e.field()),
                Some(field),
                "{q}"
            );
        }
        assert_eq!(RunFilter::default().hub_link(), "/admin/operations");
    }

    #[test]
    fn counts_read_the_same_everywhere() {
        assert_eq!(CappedCount::of(0).to_string(), "0");
        assert_eq!(CappedCount::of(1234).to_string(), "1,234");
        assert_eq!(CappedCount::of(COUNT_CAP).to_string(), "10,000");
        assert_eq!(CappedCount::of(COUNT_CAP + 1).to_string(), "10,000+");
    }
}
