//! A person's time zone as offsets over a span of time (`views::ZoneRules`),
//! from the time zone database compiled into the binary (jiff's bundled
//! tzdb): the pages hand them to their islands, and the run charts cut
//! their days at the reader's midnight.

use crate::views::ZoneRules;

/// The offsets of `zone` from three years before `around` to two after
/// (every transition in between, with its abbreviation); `None` for UTC or
/// an unknown zone.
pub fn rules(zone: Option<&str>, around: i64) -> Option<ZoneRules> {
    const YEAR_MS: i64 = 366 * 24 * 3_600_000;
    let name = zone?;
    let tz = jiff::tz::db().get(name).ok()?;
    let from = jiff::Timestamp::from_millisecond(around - 3 * YEAR_MS).ok()?;
    let until = around + 2 * YEAR_MS;
    let info = tz.to_offset_info(from);
    let mut spans = vec![(
        i64::MIN / 2,
        info.offset().seconds(),
        info.abbreviation().to_string(),
    )];
    for t in tz.following(from) {
        let at = t.timestamp().as_millisecond();
        if at > until || spans.len() >= 64 {
            break;
        }
        spans.push((at, t.offset().seconds(), t.abbreviation().to_string()));
    }
    Some(ZoneRules {
        name: name.to_string(),
        spans,
    })
}
