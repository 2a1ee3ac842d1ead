//! Each person's time zone: pages show times in it (with UTC on hover).
//! Stored as an IANA name checked against the time zone database compiled
//! into the binary (jiff's bundled tzdb, so no system files are needed).

use crate::access::Actor;
use crate::error::{AppError, AppResult};
use crate::services::Services;

/// Every zone a person may choose, sorted (`UTC` first).
pub fn available() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_string())
        // The database's aliases for UTC and the old POSIX-style names are
        // noise in a picker; each of their places has a real name.
        .filter(|n| n.contains('/') && !n.starts_with("Etc/") && !n.starts_with("SystemV/"))
        .collect();
    names.sort();
    names.dedup();
    names.insert(0, "UTC".to_string());
    names
}

/// Reads a chosen zone: `UTC` or empty is none (UTC); anything else must
/// be a zone in the database (named exactly, as the picker offers it).
pub fn parse(raw: &str) -> AppResult<Option<String>> {
    let name = raw.trim();
    if name.is_empty() || name.eq_ignore_ascii_case("utc") {
        return Ok(None);
    }
    let refused = || AppError::invalid("time_zone", "Choose a time zone from the list.");
    if name.len() > 64 {
        return Err(refused());
    }
    let tz = jiff::tz::db().get(name).map_err(|_| refused())?;
    // The database's own spelling (lookups ignore case).
    Ok(Some(tz.iana_name().unwrap_or(name).to_string()))
}

/// `2026-12-01 11:00 CET` in `zone` (UTC when none or unknown).
pub fn format(ms: i64, zone: Option<&str>) -> String {
    let tz = zone.and_then(|z| jiff::tz::db().get(z).ok());
    let (Some(tz), Ok(ts)) = (tz, jiff::Timestamp::from_millisecond(ms)) else {
        return crate::views::format_utc(ms);
    };
    ts.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

/// The offsets of `zone` around `around` (the engine builds them: its run
/// charts cut days in the reader's zone too).
pub fn rules(zone: Option<&str>, around: i64) -> Option<crate::views::ZoneRules> {
    engine::zones::rules(zone, around)
}

/// `ms` in `zone`, and the UTC instant after it when the zone is not UTC:
/// `2026-12-01 11:00 CET (10:00 UTC)` — for text that leaves Tenantry
/// (files, mail, audit details), read later by others.
pub fn format_with_utc(ms: i64, zone: Option<&str>) -> String {
    let local = format(ms, zone);
    let utc = crate::views::format_utc(ms);
    if local == utc {
        utc
    } else {
        format!("{local} ({})", utc.get(11..).unwrap_or(&utc))
    }
}

/// Saves the signed-in person's time zone.
pub async fn set(svc: &Services, actor: &Actor, raw: &str) -> AppResult<()> {
    let zone = parse(raw)?;
    sqlx::query("UPDATE users SET time_zone = $2 WHERE id = $1")
        .bind(actor.user_id.0)
        .bind(zone)
        .execute(&mut *svc.store.write().await?)
        .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_the_zone_with_its_summer_time() {
        // 2026-12-01 10:00 UTC and 2026-07-01 10:00 UTC.
        let winter = 1_796_119_200_000;
        let summer = 1_782_900_000_000;
        assert_eq!(format(winter, None), "2026-12-01 10:00 UTC");
        assert_eq!(format(winter, Some("Europe/Paris")), "2026-12-01 11:00 CET");
        assert_eq!(
            format(summer, Some("Europe/Paris")),
            "2026-07-01 12:00 CEST"
        );
        assert_eq!(
            format(winter, Some("America/New_York")),
            "2026-12-01 05:00 EST"
        );
        assert_eq!(format(winter, Some("No/Such_Zone")), "2026-12-01 10:00 UTC");
        assert_eq!(
            format_with_utc(winter, Some("Europe/Paris")),
            "2026-12-01 11:00 CET (10:00 UTC)"
        );
        assert_eq!(format_with_utc(winter, None), "2026-12-01 10:00 UTC");
    }

    #[test]
    fn the_islands_rules_format_exactly_like_the_server() {
        let now = 1_796_119_200_000; // 2026-12-01
        for zone in [
            "Europe/Paris",
            "America/New_York",
            "Asia/Tokyo",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "America/St_Johns",
            "Pacific/Chatham",
        ] {
            let rules = rules(Some(zone), now).unwrap();
            // Every six hours for two years around now, transitions included.
            let mut ms = now - 365 * 86_400_000;
            while ms < now + 365 * 86_400_000 {
                assert_eq!(rules.format(ms), format(ms, Some(zone)), "{zone} at {ms}");
                ms += 6 * 3_600_000 + 60_000;
            }
        }
        assert!(rules(None, now).is_none());
        assert!(rules(Some("No/Such_Zone"), now).is_none());
    }

    #[test]
    fn only_known_zones_are_chosen() {
        assert_eq!(
            parse(" Europe/Paris ").ok(),
            Some(Some("Europe/Paris".into()))
        );
        assert_eq!(parse("UTC").ok(), Some(None));
        assert_eq!(parse("").ok(), Some(None));
        assert_eq!(
            parse("europe/paris").ok(),
            Some(Some("Europe/Paris".into()))
        );
        for bad in ["Europe/Atlantis", "../../etc/passwd", "Europe/Paris\u{0}"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let all = available();
        assert_eq!(all[0], "UTC");
        assert!(all.len() > 300, "{}", all.len());
        assert!(all.iter().any(|z| z == "Australia/Sydney"));
        assert!(all.iter().skip(1).all(|z| parse(z).is_ok()));
    }
}
