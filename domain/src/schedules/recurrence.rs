//! When a schedule fires: a five-field cron expression (minute granularity)
//! read in an IANA time zone, so "every day at 03:00 Europe/Berlin" stays at
//! 03:00 local time across daylight-saving changes. A local time that does
//! not exist (the spring-forward gap) fires at the next instant that does;
//! one that happens twice (the autumn fold) fires once.

use crate::error::{AppError, AppResult};
use croner::Cron;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::str::FromStr;

/// The longest cron expression or zone name accepted.
const MAX_LEN: usize = 100;

#[derive(Debug, Clone)]
pub struct Recurrence {
    cron: Cron,
    zone: TimeZone,
    expression: String,
    zone_name: String,
}

impl Recurrence {
    /// Parses and validates; each refusal names its field (`cron`, `time_zone`).
    pub fn parse(expression: &str, zone: &str) -> AppResult<Recurrence> {
        let expression = expression.split_whitespace().collect::<Vec<_>>().join(" ");
        if expression.is_empty() || expression.len() > MAX_LEN {
            return Err(AppError::invalid(
                "cron",
                "Enter a cron expression of five fields, e.g. 0 3 * * * (every day at 03:00).",
            ));
        }
        let fields = expression.split(' ').count();
        if !expression.starts_with('@') && fields != 5 {
            return Err(AppError::invalid(
                "cron",
                "Use five fields: minute, hour, day of month, month, day of week (e.g. 0 3 * * 1-5).",
            ));
        }
        let cron = Cron::from_str(&expression).map_err(|_| {
            AppError::invalid(
                "cron",
                "This is not a valid cron expression. Example: 30 6 * * 1-5 (weekdays at 06:30).",
            )
        })?;
        let zone_name = zone.trim();
        if zone_name.is_empty() || zone_name.len() > MAX_LEN {
            return Err(AppError::invalid(
                "time_zone",
                "Choose a time zone, e.g. Europe/Berlin or UTC.",
            ));
        }
        let tz = TimeZone::get(zone_name).map_err(|_| {
            AppError::invalid(
                "time_zone",
                "Unknown time zone. Use a name like Europe/Berlin, America/New_York or UTC.",
            )
        })?;
        let r = Recurrence {
            cron,
            zone: tz,
            expression,
            zone_name: zone_name.to_string(),
        };
        // A pattern that can never match (31 February) is refused now, not at fire time.
        if r.next_after(0).is_none() {
            return Err(AppError::invalid(
                "cron",
                "This expression never matches a date. Check the day and month fields.",
            ));
        }
        Ok(r)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    fn zoned(&self, ms: i64) -> Option<jiff::Zoned> {
        Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned(self.zone.clone()))
    }

    /// The first slot strictly after `ms` (epoch milliseconds).
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        let at = self.zoned(ms)?;
        self.cron
            .find_next_occurrence(&at, false)
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    }

    /// The latest slot at or before `ms`: the one to fire now, however many
    /// were missed before it.
    pub fn latest_at_or_before(&self, ms: i64) -> Option<i64> {
        let at = self.zoned(ms)?;
        self.cron
            .find_previous_occurrence(&at, true)
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    }

    /// The next `n` slots after `ms` (the form's preview).
    pub fn preview(&self, ms: i64, n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let mut at = ms;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next);
                    at = next;
                }
                None => break,
            }
        }
        out
    }

    /// `ms` as local time in the schedule's zone, e.g. `2026-03-29 03:00 CEST`.
    pub fn local(&self, ms: i64) -> String {
        self.zoned(ms)
            .map(|z| z.strftime("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().expect("timestamp").as_millisecond()
    }

    #[test]
    fn daily_local_time_holds_across_daylight_saving() {
        let r = Recurrence::parse("0 3 * * *", "Europe/Berlin").expect("valid");
        // Berlin: CET (+1) until 2026-03-29 02:00, then CEST (+2).
        let slots = r.preview(ms("2026-03-27T12:00:00Z"), 4);
        assert_eq!(
            slots,
            vec![
                ms("2026-03-28T02:00:00Z"), // 03:00 CET
                ms("2026-03-29T01:00:00Z"), // 03:00 CEST, the day of the change
                ms("2026-03-30T01:00:00Z"),
                ms("2026-03-31T01:00:00Z"),
            ]
        );
        assert_eq!(r.local(slots[1]), "2026-03-29 03:00 CEST");
    }

    #[test]
    fn a_skipped_local_time_fires_once_and_a_repeated_one_once() {
        // 02:30 does not exist in Berlin on 2026-03-29 and happens twice on 2026-10-25.
        let r = Recurrence::parse("30 2 * * *", "Europe/Berlin").expect("valid");
        let spring = r.preview(ms("2026-03-28T12:00:00Z"), 2);
        assert_eq!(spring.len(), 2);
        assert!(spring[0] > ms("2026-03-28T12:00:00Z"));
        assert!(spring[1] - spring[0] >= 22 * 3_600_000, "{spring:?}");
        let autumn = r.preview(ms("2026-10-24T12:00:00Z"), 3);
        let on_the_day = autumn
            .iter()
            .filter(|t| r.local(**t).starts_with("2026-10-25"))
            .count();
        assert_eq!(on_the_day, 1, "{autumn:?}");
    }

    #[test]
    fn missed_slots_fold_into_the_latest() {
        let r = Recurrence::parse("*/15 * * * *", "UTC").expect("valid");
        assert_eq!(
            r.latest_at_or_before(ms("2026-01-01T10:44:59Z")),
            Some(ms("2026-01-01T10:30:00Z"))
        );
        assert_eq!(
            r.latest_at_or_before(ms("2026-01-01T10:45:00Z")),
            Some(ms("2026-01-01T10:45:00Z"))
        );
    }

    #[test]
    fn refusals_name_their_field() {
        for bad in [
            "",
            "* * *",
            "0 3 * * * *",
            "61 * * * *",
            "0 3 31 2 *",
            "nonsense",
        ] {
            let e = Recurrence::parse(bad, "UTC").expect_err(bad);
            assert!(
                matches!(e, AppError::Invalid { field: Some(ref f), .. } if f == "cron"),
                "{bad}: {e:?}"
            );
        }
        for bad in ["", "Mars/Olympus", "Europe/Berlin\u{0}"] {
            let e = Recurrence::parse("0 3 * * *", bad).expect_err(bad);
            assert!(
                matches!(e, AppError::Invalid { field: Some(ref f), .. } if f == "time_zone"),
                "{bad}: {e:?}"
            );
        }
        assert!(Recurrence::parse("@daily", "America/New_York").is_ok());
    }
}
