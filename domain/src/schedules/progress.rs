//! How far a bulk start or a schedule's fire has got, defined once: every
//! target, by what the gate said for it and by where the run it created or
//! joined stands now. The toast, the bulk's page, the schedules page, the
//! overlay's bar, the completion notification and the metrics all read this
//! one [`Progress`] (spec 009, "Progress of many starts").
//!
//! Per target:
//! - *queued* or *already running*: the run it started or joined; running
//!   while that run is active, then that run's outcome;
//! - *scope busy*: waiting while the run holding its scope is active, then
//!   *not started* (its own operation never ran);
//! - *blocked*: ended at once, blocked; *skipped* (gone before its turn):
//!   ended at once.

use serde::{Deserialize, Serialize};

/// What the gate said, per target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decisions {
    pub queued: i64,
    pub already_running: i64,
    pub scope_busy: i64,
    pub blocked: i64,
    pub skipped: i64,
}

impl Decisions {
    pub fn total(&self) -> i64 {
        self.queued + self.already_running + self.scope_busy + self.blocked + self.skipped
    }
}

/// One bulk's or fire's progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Tenants it set out to start on.
    pub targets: i64,
    pub decided: Decisions,
    /// Targets whose run (or the run holding their scope) is still active.
    pub running: i64,
    pub succeeded: i64,
    pub partially_succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Blocked at the gate, or the run ended blocked.
    pub blocked: i64,
    /// Their scope was busy with another operation, which has ended.
    pub not_started: i64,
    /// Gone (or no longer yours) between the choice and their turn.
    pub skipped: i64,
}

impl Progress {
    /// Adds `n` targets with this decision and (where it has one) the run's
    /// status and outcome as stored.
    pub fn add(&mut self, decision: &str, status: Option<&str>, outcome: Option<&str>, n: i64) {
        match decision {
            "queued" => self.decided.queued += n,
            "already_running" => self.decided.already_running += n,
            "scope_busy" => self.decided.scope_busy += n,
            "blocked" => self.decided.blocked += n,
            _ => self.decided.skipped += n,
        }
        let active = matches!(status, Some("queued" | "running"));
        match decision {
            "blocked" => self.blocked += n,
            "queued" | "already_running" | "scope_busy" if active => self.running += n,
            "scope_busy" => self.not_started += n,
            "queued" | "already_running" => match outcome {
                Some("succeeded") => self.succeeded += n,
                Some("partially_succeeded") => self.partially_succeeded += n,
                Some("blocked") => self.blocked += n,
                Some("cancelled") => self.cancelled += n,
                // Failed, or the run is gone: it did not do its work.
                _ => self.failed += n,
            },
            _ => self.skipped += n,
        }
    }

    /// Targets decided so far.
    pub fn decided_total(&self) -> i64 {
        self.decided.total()
    }

    /// Targets whose part is over.
    pub fn ended(&self) -> i64 {
        self.decided_total() - self.running
    }

    /// Whether anything is still moving (a run, or targets not decided yet
    /// while the admission goes on).
    pub fn moving(&self, admission_over: bool) -> bool {
        self.running > 0 || (!admission_over && self.decided_total() < self.targets)
    }

    /// Ended targets that did not simply succeed.
    pub fn problems(&self) -> i64 {
        self.ended() - self.succeeded
    }

    /// The notification's title once it has ended.
    pub fn headline(&self) -> &'static str {
        if self.problems() == 0 && self.succeeded > 0 {
            "Succeeded"
        } else {
            "Finished with problems"
        }
    }

    /// Every non-zero result in words: "3 succeeded, 7 blocked".
    pub fn tally(&self) -> String {
        let parts: Vec<String> = [
            (self.succeeded, "succeeded"),
            (self.partially_succeeded, "partially succeeded"),
            (self.failed, "failed"),
            (self.cancelled, "cancelled"),
            (self.blocked, "blocked"),
            (self.not_started, "not started (scope busy)"),
            (self.skipped, "skipped (no longer there)"),
            (self.running, "still running"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
        if parts.is_empty() {
            "nothing to start".into()
        } else {
            parts.join(", ")
        }
    }

    /// The bar's words: "4 of 10 tenants done".
    pub fn bar_label(&self) -> String {
        let of = self.targets.max(self.decided_total());
        format!(
            "{} of {of} {} done",
            self.ended(),
            if of == 1 { "tenant" } else { "tenants" }
        )
    }
}

#[cfg(feature = "server")]
pub(crate) use store::{Row, fold_rows, of_ledger};

#[cfg(feature = "server")]
mod store {
    use super::Progress;
    use crate::error::AppResult;
    use crate::ids::UserId;
    use crate::schedules::admission::Ledger;

    /// (group key, decision, run status, run outcome, count).
    pub(crate) type Row<K> = (K, String, Option<String>, Option<String>, i64);

    /// Grouped rows folded into one progress per key.
    pub(crate) fn fold_rows<K: Ord + Copy>(
        rows: &[Row<K>],
    ) -> std::collections::BTreeMap<K, Progress> {
        let mut out: std::collections::BTreeMap<K, Progress> = Default::default();
        for (key, decision, status, outcome, n) in rows {
            out.entry(*key)
                .or_default()
                .add(decision, status.as_deref(), outcome.as_deref(), *n);
        }
        out
    }

    /// A ledger's progress from one grouped query; with `visible_to`, only
    /// the targets that member may see. `targets` is filled in by the caller.
    pub(crate) async fn of_ledger(
        conn: &mut sqlx::AnyConnection,
        ledger: Ledger,
        visible_to: Option<UserId>,
    ) -> AppResult<Progress> {
        let (table, key, id) = ledger.table();
        let mut sql = format!(
            "SELECT 0 AS k, x.decision, r.status, r.outcome, COUNT(*)
             FROM {table} x LEFT JOIN operation_runs r ON r.id = x.run_id
             WHERE x.{key} = $1"
        );
        if visible_to.is_some() {
            sql.push_str(
                " AND x.tenant_id IN (SELECT a.tenant_id FROM tenant_assignments a WHERE a.user_id = $2)",
            );
        }
        sql.push_str(" GROUP BY x.decision, r.status, r.outcome");
        let mut q = sqlx::query_as::<_, Row<i64>>(sqlx::AssertSqlSafe(sql)).bind(id);
        if let Some(u) = visible_to {
            q = q.bind(u.0);
        }
        let rows = q.fetch_all(conn).await?;
        Ok(fold_rows(&rows).remove(&0).unwrap_or_default())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_target_counts_by_decision_and_by_its_run() {
        let mut p = Progress {
            targets: 12,
            ..Default::default()
        };
        p.add("queued", Some("completed"), Some("succeeded"), 3);
        p.add("blocked", Some("completed"), Some("blocked"), 7);
        assert_eq!(p.tally(), "3 succeeded, 7 blocked");
        assert_eq!(p.headline(), "Finished with problems");
        assert!(p.moving(false), "two targets not decided yet");
        assert!(!p.moving(true));
        // A joined run still going, a busy scope still held: both running.
        p.add("already_running", Some("running"), Some("pending"), 1);
        p.add("scope_busy", Some("queued"), Some("pending"), 1);
        assert_eq!((p.running, p.ended(), p.decided_total()), (2, 10, 12));
        assert!(p.moving(true));
        assert_eq!(p.bar_label(), "10 of 12 tenants done");
    }

    #[test]
    fn a_busy_scope_that_ended_is_not_a_success_of_this_start() {
        let mut p = Progress::default();
        p.add("scope_busy", Some("completed"), Some("succeeded"), 2);
        p.add("already_running", Some("completed"), Some("failed"), 1);
        p.add("skipped", None, None, 1);
        assert_eq!(p.succeeded, 0);
        assert_eq!(
            p.tally(),
            "1 failed, 2 not started (scope busy), 1 skipped (no longer there)"
        );
        assert_eq!(p.problems(), 4);
    }

    #[test]
    fn all_succeeded_reads_succeeded() {
        let mut p = Progress::default();
        p.add("queued", Some("completed"), Some("succeeded"), 10);
        assert_eq!(p.headline(), "Succeeded");
        assert_eq!(p.tally(), "10 succeeded");
        let nothing = Progress::default();
        assert_eq!(nothing.headline(), "Finished with problems");
    }
}
