//! Per-member abuse limits: fixed-window counters taken atomically in the
//! database (one `INSERT … ON CONFLICT … RETURNING`, no read-then-write), so
//! every `serve` process on PostgreSQL counts against the same window. Over
//! the limit the caller gets 429 with how long to wait.

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use sqlx::AnyConnection;

/// What is limited, per member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    SupportRequests,
    BlockedStarts,
    ReviewPacks,
    /// Starts on many tenants (each one up to thousands of gate decisions).
    BulkStarts,
    /// Checks of the current password (changing it): a stolen session cannot guess on.
    PasswordChecks,
}

impl Limited {
    fn key(self, user: UserId) -> String {
        let what = match self {
            Limited::SupportRequests => "support_requests",
            Limited::BlockedStarts => "blocked_starts",
            Limited::ReviewPacks => "review_packs",
            Limited::BulkStarts => "bulk_starts",
            Limited::PasswordChecks => "password_checks",
        };
        format!("{what}:user:{user}")
    }
}

/// How many of each a member may do per window (configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseLimits {
    pub window_ms: i64,
    pub support_requests: i64,
    pub blocked_starts: i64,
    pub review_packs: i64,
    pub bulk_starts: i64,
    pub password_checks: i64,
}

impl Default for AbuseLimits {
    fn default() -> Self {
        AbuseLimits {
            window_ms: 60 * 60 * 1000,
            support_requests: 20,
            blocked_starts: 60,
            review_packs: 20,
            bulk_starts: 30,
            password_checks: 10,
        }
    }
}

impl AbuseLimits {
    fn max(&self, what: Limited) -> i64 {
        match what {
            Limited::SupportRequests => self.support_requests,
            Limited::BlockedStarts => self.blocked_starts,
            Limited::ReviewPacks => self.review_packs,
            Limited::BulkStarts => self.bulk_starts,
            Limited::PasswordChecks => self.password_checks,
        }
    }
}

/// Takes one of `what` for `user` on `conn` (inside the caller's transaction
/// where there is one). 429 with the wait when the window is used up.
pub async fn take(
    conn: &mut AnyConnection,
    limits: &AbuseLimits,
    what: Limited,
    user: UserId,
    now: i64,
) -> AppResult<()> {
    let (used, started): (i64, i64) = sqlx::query_as(
        "INSERT INTO rate_limits (limit_key, window_started_at, used) VALUES ($1, $2, 1)
         ON CONFLICT (limit_key) DO UPDATE SET
            used = CASE WHEN rate_limits.window_started_at <= $2 - $3 THEN 1 ELSE rate_limits.used + 1 END,
            window_started_at = CASE WHEN rate_limits.window_started_at <= $2 - $3 THEN $2 ELSE rate_limits.window_started_at END
         RETURNING used, window_started_at",
    )
    .bind(what.key(user))
    .bind(now)
    .bind(limits.window_ms)
    .fetch_one(conn)
    .await?;
    if used > limits.max(what) {
        let wait_ms = (started + limits.window_ms - now).max(1000);
        return Err(AppError::TooManyRequests {
            retry_after_secs: (wait_ms as u64).div_ceil(1000),
        });
    }
    Ok(())
}
