//! Issue 30.7: a person who chose a time zone sees every time in it, on
//! every page (server-rendered and in the live islands' first state), with
//! the UTC instant only where it is shown on purpose: a `title` on hover, or
//! a schedule's own zone beside the reader's.

use crate::authz_matrix::{PageVisitor, page_visits, world};
use crate::both_backends;
use crate::common::Backend;

/// Times written `YYYY-MM-DD HH:MM UTC` in `text`, with some context.
fn utc_times(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(" UTC") {
        let at = from + i;
        from = at + 4;
        // `YYYY-MM-DD HH:MM` right before it.
        if at < 16 {
            continue;
        }
        let stamp = &bytes[at - 16..at];
        let shape = stamp.iter().enumerate().all(|(k, b)| match k {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 => *b == b':',
            _ => b.is_ascii_digit(),
        });
        if !shape {
            continue;
        }
        let after = &text[at + 4..text.len().min(at + 60)];
        // A schedule's zone beside the reader's: shown on purpose.
        if after.starts_with(" (") && after.contains("for you)") {
            continue;
        }
        found.push(text[at.saturating_sub(80)..text.len().min(at + 20)].to_string());
    }
    found
}

/// The page without its attributes' values (`title="… UTC"` is on purpose).
fn without_attributes(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut quote: Option<char> = None;
    for c in html.chars() {
        match (in_tag, quote, c) {
            (false, _, '<') => {
                in_tag = true;
                out.push(c);
            }
            (true, None, '"' | '\'') => quote = Some(c),
            (true, Some(q), c) if c == q => quote = None,
            (true, Some(_), _) => {}
            (true, None, '>') => {
                in_tag = false;
                out.push(c);
            }
            (true, None, _) => out.push(c),
            (false, _, _) => out.push(c),
        }
    }
    out
}

async fn every_page_shows_times_in_the_readers_zone(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let w = world(&app).await;
    app.create_user("platform.operator@example.com", true).await;
    sqlx::query("UPDATE users SET time_zone = 'Asia/Tokyo'")
        .execute(app.services.store.unguarded_pool())
        .await
        .unwrap();
    let owner = app.browser();
    assert_eq!(owner.sign_in("owner.a@example.com").await.status, 200);
    let operator = app.browser();
    assert_eq!(
        operator
            .sign_in("platform.operator@example.com")
            .await
            .status,
        200
    );
    let mut offending = Vec::new();
    let mut in_zone = 0;
    let visits = page_visits(&w);
    assert!(visits.len() >= 20);
    for (route, path, who) in &visits {
        let b = match who {
            PageVisitor::Owner => &owner,
            PageVisitor::PlatformOperator => &operator,
        };
        let r = b.get(path).await;
        assert_eq!(r.status, 200, "{route}");
        let text = without_attributes(&r.body);
        for hit in utc_times(&text) {
            offending.push(format!("{route}: …{hit}…"));
        }
        // Times read relative to now ("3 h ago") with the exact time in
        // the reader's zone on hover; older ones in the zone as text.
        if r.body.contains(" JST") {
            in_zone += 1;
        }
        // The islands' rules are in the page.
        if path.starts_with("/admin") || path.starts_with("/system") {
            assert!(
                r.body.contains("name=\"tenantry-zone\""),
                "{route}: the zone rules for the islands"
            );
        }
    }
    assert!(
        offending.is_empty(),
        "times in UTC for a reader in Tokyo:\n{}",
        offending.join("\n")
    );
    assert!(in_zone >= 10, "only {in_zone} pages showed a time in JST");
    println!(
        "{} pages walked in Asia/Tokyo: {in_zone} show times in JST (text or hover), none in UTC",
        visits.len()
    );
}

both_backends!(every_page_shows_times_in_the_readers_zone);

#[test]
fn the_scan_finds_utc_times_and_skips_what_is_on_purpose() {
    let page = r#"<p>Created 2026-01-01 09:00 UTC.</p><time title="2026-01-01 00:00 UTC">2026-01-01 09:00 JST</time><li>2026-01-02 03:00 UTC (2026-01-02 12:00 JST for you)</li>"#;
    let hits = utc_times(&without_attributes(page));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].contains("Created"));
}
