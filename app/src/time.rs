//! Times on pages: in the signed-in person's time zone, with UTC on hover
//! (`<time datetime=… title="… UTC">`). Pages are rendered on the server,
//! where the zone is known; live islands re-render in the browser and show
//! UTC, saying so.

use leptos::prelude::*;

/// The person's zone for this request (server only; `None` is UTC).
fn zone() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::ctx::CurrentActor>()
            .and_then(|c| c.0)
            .and_then(|a| a.time_zone)
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// A time as text in the person's zone (`2026-12-01 11:00 CET`).
pub fn when_text(ms: i64) -> String {
    #[cfg(feature = "ssr")]
    {
        domain::time_zones::format(ms, zone().as_deref())
    }
    #[cfg(not(feature = "ssr"))]
    {
        domain::views::format_utc(ms)
    }
}

/// A time in the person's zone, marked up with its UTC instant on hover.
pub fn when(ms: i64) -> impl IntoView {
    let utc = domain::views::format_utc(ms);
    let shown = if zone().is_some() {
        when_text(ms)
    } else {
        utc.clone()
    };
    let iso = format!("{}Z", utc.trim_end_matches(" UTC").replace(' ', "T"));
    view! { <time datetime=iso title=utc>{shown}</time> }
}

/// [`when`], or a dash when there is no time.
pub fn when_or_dash(ms: Option<i64>) -> AnyView {
    match ms {
        Some(ms) => when(ms).into_any(),
        None => "—".into_any(),
    }
}
