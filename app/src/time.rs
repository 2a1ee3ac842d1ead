//! Times on pages: said relative to now (*12 min ago*, *in 3 h*; the date
//! past a week), with the exact time in the signed-in person's zone and in
//! UTC on hover (`<time datetime=… title="2026-12-01 11:00 CET (10:00 UTC)">`). On the server the zone comes from
//! the session; live islands in the browser read the zone's rules the shell
//! put in the page (`<meta name="tenantry-zone">`, `domain::views::ZoneRules`),
//! so a re-rendered island shows the same words as the server did.

use leptos::prelude::*;

/// The name of the page's meta element carrying the person's zone rules.
pub const ZONE_META: &str = "tenantry-zone";

/// The person's zone for this request (server only; `None` is UTC).
#[cfg(feature = "ssr")]
fn zone() -> Option<String> {
    use_context::<crate::ctx::CurrentActor>()
        .and_then(|c| c.0)
        .and_then(|a| a.time_zone)
}

/// The zone rules the shell put in the page, read once (browser only).
#[cfg(not(feature = "ssr"))]
fn page_rules() -> Option<domain::views::ZoneRules> {
    thread_local! {
        static RULES: std::cell::OnceCell<Option<domain::views::ZoneRules>> =
            const { std::cell::OnceCell::new() };
    }
    RULES.with(|r| {
        r.get_or_init(|| {
            web_sys::window()?
                .document()?
                .query_selector(&format!("meta[name='{ZONE_META}']"))
                .ok()??
                .get_attribute("content")
                .and_then(|c| serde_json::from_str(&c).ok())
        })
        .clone()
    })
}

/// A time as text in the person's zone (`2026-12-01 11:00 CET`).
pub fn when_text(ms: i64) -> String {
    #[cfg(feature = "ssr")]
    {
        domain::time_zones::format(ms, zone().as_deref())
    }
    #[cfg(not(feature = "ssr"))]
    {
        domain::views::format_in(ms, page_rules().as_ref())
    }
}

/// Now, by the server's clock (the one runs are stamped with) or the
/// browser's in an island.
fn now() -> i64 {
    #[cfg(feature = "ssr")]
    {
        use_context::<domain::services::Services>()
            .map(|s| s.now())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            })
    }
    #[cfg(not(feature = "ssr"))]
    {
        js_sys::Date::now() as i64
    }
}

/// A time said relative to now, with the exact time in the person's zone
/// and UTC on hover; past a week, the time in the person's zone.
pub fn when(ms: i64) -> impl IntoView {
    let utc = domain::views::format_utc(ms);
    let exact = when_text(ms);
    let iso = format!("{}Z", utc.trim_end_matches(" UTC").replace(' ', "T"));
    let title = if exact == utc {
        utc
    } else {
        format!("{exact} ({})", utc.get(11..).unwrap_or(&utc))
    };
    let shown = domain::views::relative_text(ms, now()).unwrap_or(exact);
    view! { <time datetime=iso title=title>{shown}</time> }
}

/// [`when`], or a dash when there is no time.
pub fn when_or_dash(ms: Option<i64>) -> AnyView {
    match ms {
        Some(ms) => when(ms).into_any(),
        None => "—".into_any(),
    }
}

/// The person's zone rules as the shell puts them in the page.
#[component]
pub fn ZoneMeta(rules: Option<domain::views::ZoneRules>) -> impl IntoView {
    rules
        .and_then(|r| serde_json::to_string(&r).ok())
        .map(|json| view! { <leptos_meta::Meta name=ZONE_META content=json/> })
}
