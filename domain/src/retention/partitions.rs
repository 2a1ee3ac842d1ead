//! PostgreSQL's monthly partitions of the tables that expire by age (the
//! audit log and notifications; migration 0030). Each UTC calendar month of
//! `created_at` is one partition named `<table>_mYYYY_MM`; rows outside every
//! month land in `<table>_default`. The sweep keeps this month and the next
//! three created ahead of time, and drops a month whole (detach, then drop,
//! one transaction) once its last instant is older than the longest period
//! any workspace keeps that table: then every row in it has expired in its
//! own workspace, which is what the row-by-row sweep would have deleted, one
//! batch at a time, with far more work. SQLite has no partitions and relies
//! on that row-by-row sweep alone.

use crate::error::AppResult;
use crate::services::Services;
use crate::store::Backend;

/// The partitioned tables.
pub const MONTHLY: [&str; 2] = ["audit_log", "notifications"];
/// Months created beyond the current one.
pub const AHEAD: i64 = 3;
/// A partition change waits at most this long for a lock: the pages reading
/// the table come first, and the next sweep tries again.
const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '2s'";

use crate::clock::DAY_MS;

/// Months since January 1970 (UTC): `0` is 1970-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month(pub i64);

impl Month {
    /// The month an instant (ms since the epoch) falls in.
    pub fn of(ms: i64) -> Month {
        let (year, month, _) = civil_from_days(ms.div_euclid(DAY_MS));
        Month((year - 1970) * 12 + (month - 1))
    }

    fn year_month(self) -> (i64, i64) {
        (1970 + self.0.div_euclid(12), self.0.rem_euclid(12) + 1)
    }

    /// Its first instant (ms since the epoch).
    pub fn start_ms(self) -> i64 {
        let (y, m) = self.year_month();
        days_from_civil(y, m, 1) * DAY_MS
    }

    /// The first instant of the month after.
    pub fn end_ms(self) -> i64 {
        Month(self.0 + 1).start_ms()
    }

    /// `<table>_mYYYY_MM`.
    pub fn partition_of(self, table: &str) -> String {
        let (y, m) = self.year_month();
        format!("{table}_m{y:04}_{m:02}")
    }

    /// The month a partition's name stands for; `None` for anything else
    /// (the default partition, a table someone else made).
    pub fn from_partition(table: &str, name: &str) -> Option<Month> {
        let rest = name.strip_prefix(table)?.strip_prefix("_m")?;
        let (y, m) = rest.split_once('_')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let (y, m): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
        if !(1..=12).contains(&m) || y < 1970 {
            return None;
        }
        Some(Month((y - 1970) * 12 + (m - 1)))
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A table's month partitions, oldest first.
pub async fn months(svc: &Services, table: &str) -> AppResult<Vec<Month>> {
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT c.relname::TEXT FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = $1 AND pg_table_is_visible(p.oid)",
    )
    .bind(table)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut months: Vec<Month> = names
        .iter()
        .filter_map(|(n,)| Month::from_partition(table, n))
        .collect();
    months.sort();
    Ok(months)
}

/// Creates this month's and the next [`AHEAD`] months' partitions where
/// missing; returns how many it made. Rows the default partition already
/// holds for such a month (written while it was missing) move into it in the
/// same transaction.
pub async fn create_ahead(svc: &Services, now: i64) -> AppResult<u64> {
    if svc.store.backend() != Backend::Postgres {
        return Ok(0);
    }
    let mut created = 0;
    for table in MONTHLY {
        let have = months(svc, table).await?;
        let first = Month::of(now);
        for m in (first.0..=first.0 + AHEAD).map(Month) {
            if !have.contains(&m) {
                create(svc, table, m).await?;
                created += 1;
            }
        }
    }
    Ok(created)
}

async fn create(svc: &Services, table: &str, m: Month) -> AppResult<()> {
    let name = m.partition_of(table);
    let (from, to) = (m.start_ms(), m.end_ms());
    let mut tx = svc.store.begin().await?;
    sqlx::query(LOCK_TIMEOUT).execute(&mut **tx).await?;
    let stray: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {table}_default WHERE created_at >= $1 AND created_at < $2"
    )))
    .bind(from)
    .bind(to)
    .fetch_one(&mut **tx)
    .await?;
    if stray.0 == 0 {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ({from}) TO ({to})"
        )))
        .execute(&mut **tx)
        .await?;
    } else {
        // Attaching a month fails while the default partition holds rows of
        // it: move them into a table of the same shape, then attach that.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
             INSERT INTO {name} SELECT * FROM {table}_default WHERE created_at >= {from} AND created_at < {to};
             DELETE FROM {table}_default WHERE created_at >= {from} AND created_at < {to};
             ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({from}) TO ({to})"
        )))
        .execute(&mut **tx)
        .await?;
    }
    svc.failpoint("retention.partition_created")?;
    tx.commit().await?;
    tracing::info!(partition = %name, moved = stray.0, "partition created");
    Ok(())
}

/// What dropping whole months removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub partitions: u64,
    pub rows: u64,
}

/// Detaches and drops each month of `table` that ended before `cutoff`;
/// stops at the first one it cannot lock in time (the next sweep goes on).
pub async fn drop_before(svc: &Services, table: &str, cutoff: i64) -> AppResult<Dropped> {
    let mut dropped = Dropped::default();
    if svc.store.backend() != Backend::Postgres {
        return Ok(dropped);
    }
    for m in months(svc, table).await? {
        if m.end_ms() > cutoff {
            break;
        }
        let name = m.partition_of(table);
        let mut tx = svc.store.begin().await?;
        sqlx::query(LOCK_TIMEOUT).execute(&mut **tx).await?;
        let rows = match count_and_detach(&mut tx, table, &name).await {
            Ok(n) => n,
            Err(e) if is_lock_timeout(&e) => {
                tracing::info!(partition = %name, "partition busy; dropping it next sweep");
                break;
            }
            Err(e) => return Err(e.into()),
        };
        svc.failpoint("retention.partition_detached")?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        tracing::info!(partition = %name, rows, "partition dropped");
        dropped.partitions += 1;
        dropped.rows += rows as u64;
    }
    Ok(dropped)
}

/// The month's rows, counted before it is detached (same transaction).
async fn count_and_detach(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    name: &str,
) -> Result<i64, sqlx::Error> {
    let (rows,): (i64,) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {name}")))
            .fetch_one(&mut **tx)
            .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {table} DETACH PARTITION {name}"
    )))
    .execute(&mut **tx)
    .await?;
    Ok(rows)
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "55P03"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_round_trip_through_their_partition_names() {
        // 2026-12-07T23:27Z
        let m = Month::of(1_796_686_020_000);
        assert_eq!(m.partition_of("audit_log"), "audit_log_m2026_12");
        assert_eq!(m.start_ms(), 1_796_083_200_000); // 2026-12-01
        assert_eq!(m.end_ms(), 1_798_761_600_000); // 2027-01-01
        assert_eq!(
            Month::from_partition("audit_log", "audit_log_m2026_12"),
            Some(m)
        );
        assert_eq!(Month::of(m.end_ms()), Month(m.0 + 1));
        assert_eq!(Month::of(m.end_ms() - 1), m);
        assert_eq!(Month::of(0), Month(0));
        assert_eq!(Month(0).start_ms(), 0);
        // February of a leap year, and the first month of a year.
        let feb = Month::from_partition("t", "t_m2028_02").expect("a month");
        assert_eq!(feb.end_ms() - feb.start_ms(), 29 * DAY_MS);
        assert_eq!(
            Month::from_partition("t", "t_m2027_01").expect("a month").0,
            feb.0 - 13
        );
    }

    #[test]
    fn other_tables_and_default_partitions_are_not_months() {
        for name in [
            "audit_log_default",
            "audit_log_m2026_13",
            "audit_log_m2026_1",
            "audit_log_m26_12",
            "notifications_m2026_12",
            "audit_log_m2026_12x",
        ] {
            assert_eq!(Month::from_partition("audit_log", name), None, "{name}");
        }
    }
}
