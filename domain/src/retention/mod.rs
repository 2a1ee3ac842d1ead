//! Retention: how long a workspace keeps what grows every night (runs,
//! snapshots, notifications, audit entries), the page that says so, and the
//! sweep that removes what has expired in small batches (spec 014).

use crate::error::{AppError, AppResult};
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
pub mod partitions;
#[cfg(feature = "server")]
pub mod service;
#[cfg(feature = "server")]
pub mod sweep;

/// The audit entries the next sweep removes, as a CSV download.
pub const EXPIRING_AUDIT_PATH: &str = "/admin/retention/expiring-audit.csv";

/// What one workspace keeps. Counts of ended runs per day, tenant, type and
/// outcome are kept forever whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Ended runs and what belongs to them, in days after they ended.
    pub runs_days: i64,
    /// Inventory and compliance snapshots: the newest this many per tenant…
    pub snapshots_last: i64,
    /// …plus the newest of each of this many recent weeks (UTC, from Monday)…
    pub snapshots_weeks: i64,
    /// …plus the newest of each of this many recent months (UTC).
    pub snapshots_months: i64,
    /// Notifications, in days after they were sent.
    pub notifications_days: i64,
    /// Audit entries, in days after they were written.
    pub audit_days: i64,
}

/// One setting of the policy: its form name, label and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub field: &'static str,
    pub label: &'static str,
    pub min: i64,
    pub max: i64,
}

impl RetentionPolicy {
    /// What a workspace keeps until someone changes it.
    pub const DEFAULT: RetentionPolicy = RetentionPolicy {
        runs_days: 180,
        snapshots_last: 14,
        snapshots_weeks: 8,
        snapshots_months: 12,
        notifications_days: 90,
        audit_days: 400,
    };

    pub const SETTINGS: [Setting; 6] = [
        Setting {
            field: "runs_days",
            label: "Runs, days after they ended",
            min: 30,
            max: 3650,
        },
        Setting {
            field: "snapshots_last",
            label: "Snapshots: the newest, per tenant",
            min: 2,
            max: 365,
        },
        Setting {
            field: "snapshots_weeks",
            label: "Snapshots: one a week, for weeks",
            min: 0,
            max: 260,
        },
        Setting {
            field: "snapshots_months",
            label: "Snapshots: one a month, for months",
            min: 0,
            max: 120,
        },
        Setting {
            field: "notifications_days",
            label: "Notifications, days",
            min: 7,
            max: 3650,
        },
        Setting {
            field: "audit_days",
            label: "Audit entries, days",
            min: 90,
            max: 3650,
        },
    ];

    /// The values in the order of [`Self::SETTINGS`].
    pub fn values(&self) -> [i64; 6] {
        [
            self.runs_days,
            self.snapshots_last,
            self.snapshots_weeks,
            self.snapshots_months,
            self.notifications_days,
            self.audit_days,
        ]
    }

    /// A policy from the settings form's six texts, in the order of
    /// [`Self::SETTINGS`]; a text that is not a whole number is refused with
    /// its field named.
    pub fn from_texts(texts: [&str; 6]) -> AppResult<RetentionPolicy> {
        let mut v = [0_i64; 6];
        for ((slot, text), setting) in v.iter_mut().zip(texts).zip(Self::SETTINGS) {
            *slot = text.trim().parse().map_err(|_| {
                AppError::invalid(
                    setting.field,
                    format!("{} must be a whole number.", setting.label),
                )
            })?;
        }
        let policy = RetentionPolicy {
            runs_days: v[0],
            snapshots_last: v[1],
            snapshots_weeks: v[2],
            snapshots_months: v[3],
            notifications_days: v[4],
            audit_days: v[5],
        };
        policy.check()?;
        Ok(policy)
    }

    /// Every value within its bounds, and audit entries kept at least as
    /// long as runs (they are the record of what the runs did).
    pub fn check(&self) -> AppResult<()> {
        for (setting, value) in Self::SETTINGS.iter().zip(self.values()) {
            if !(setting.min..=setting.max).contains(&value) {
                return Err(AppError::invalid(
                    setting.field,
                    format!(
                        "{} must be between {} and {}.",
                        setting.label, setting.min, setting.max
                    ),
                ));
            }
        }
        if self.audit_days < self.runs_days {
            return Err(AppError::invalid(
                "audit_days",
                "Audit entries must be kept at least as long as runs.",
            ));
        }
        Ok(())
    }

    /// The rules in the operator's words, one line each.
    pub fn described(&self) -> Vec<String> {
        let plural = |n: i64, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        vec![
            format!(
                "Runs and their results: {} after they end. How many ran each day, per tenant, type and outcome, is kept for the charts.",
                plural(self.runs_days, "day", "days")
            ),
            format!(
                "Inventory and compliance snapshots, per tenant: the newest {}, plus the newest of each of the last {} and of the last {}. A snapshot a baseline was captured from or an open restore reads is never removed; drift entries go with their snapshots.",
                self.snapshots_last,
                plural(self.snapshots_weeks, "week", "weeks"),
                plural(self.snapshots_months, "month", "months")
            ),
            "Groups and role definitions: those of the newest sync (older syncs' lists are removed at the next sweep).".to_string(),
            format!(
                "Notifications: {}.",
                plural(self.notifications_days, "day", "days")
            ),
            format!(
                "Audit entries: {} (export them before they go).",
                plural(self.audit_days, "day", "days")
            ),
        ]
    }
}

/// What the last sweep removed, across every workspace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepSummary {
    pub snapshots: u64,
    /// Groups and role definitions of syncs a newer one replaced.
    #[serde(default)]
    pub directory_rows: u64,
    pub inventory_bodies: u64,
    pub runs: u64,
    pub notifications: u64,
    pub audit_entries: u64,
    /// Whole months of audit entries and notifications dropped (PostgreSQL;
    /// their rows are counted above too).
    #[serde(default)]
    pub partitions: u64,
    pub millis: u64,
    /// False when the sweep stopped at its time limit (the next goes on).
    pub complete: bool,
}

impl SweepSummary {
    /// Everything the sweep removed (a dropped month's rows are in the
    /// notifications and audit counts).
    pub fn rows_removed(&self) -> u64 {
        self.snapshots
            + self.directory_rows
            + self.inventory_bodies
            + self.runs
            + self.notifications
            + self.audit_entries
    }
}

/// The retention settings page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionPage {
    pub policy: RetentionPolicy,
    /// True when the workspace has changed the defaults.
    pub customised: bool,
    pub can_manage: bool,
    pub can_export_audit: bool,
    /// What the next sweep would remove that can be counted cheaply.
    pub expiring_notifications: i64,
    pub expiring_audit_entries: i64,
    /// Ended runs older than the runs' days (some stay: the newest of each
    /// kind per tenant and those a kept snapshot or open request needs).
    pub runs_past_their_days: i64,
    pub last_sweep_at: Option<i64>,
    pub last_sweep: Option<SweepSummary>,
}

/// The retention sweep, on the reconciler's beat (it runs at most hourly).
#[cfg(feature = "server")]
pub fn register(c: &mut crate::runs::catalogue::Catalogue) {
    c.with_sweep("retention", |svc| {
        Box::pin(async move { sweep::sweep_when_due(&svc).await })
    });
}
