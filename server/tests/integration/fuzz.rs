//! Fuzzing what an attacker reaches (spec 008; issue 30.10): generated
//! bodies for every registered server function — wrong types, huge numbers,
//! unicode, nested and duplicate keys, invalid percent-encoding, wrong
//! content types — and generated paths and queries for the routes that are
//! not server functions (review-pack downloads, the consent and single
//! sign-on starts and callbacks, setup, invitation acceptance), as every
//! kind of visitor (owner, read-only, operator, platform operator, signed
//! out) on SQLite and as the owner on PostgreSQL. Never a 500, never a
//! dropped connection, never a panic. Each test prints its figures.

use crate::common::{Backend, Browser, TestApp, spawn_app};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Owner,
    Readonly,
    Operator,
    PlatformOperator,
    SignedOut,
}

/// Counts panics in this process (each test runs in its own under nextest).
fn count_panics() -> Arc<AtomicUsize> {
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = panics.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    panics
}

struct Fixture {
    app: TestApp,
    ids: Vec<String>,
    browser: Browser,
    who: Who,
}

async fn fixture(backend: Backend, who: Who) -> Fixture {
    let app = spawn_app(backend).await;
    let w = crate::world::run_world(&app).await;
    let email = match who {
        Who::Owner => Some("owner@example.com"),
        Who::Readonly => Some("readonly@example.com"),
        Who::Operator => {
            app.create_user("operator@example.com", false).await;
            let ws = domain::workspaces::list_for_user(&app.services, w.owner.user_id)
                .await
                .unwrap()[0]
                .id;
            domain::workspaces::add_member_directly(
                &app.services,
                &w.owner,
                ws,
                "operator@example.com",
                domain::rbac::Role::Operator,
            )
            .await
            .unwrap();
            Some("operator@example.com")
        }
        Who::PlatformOperator => {
            app.create_user("platform@example.com", true).await;
            Some("platform@example.com")
        }
        Who::SignedOut => None,
    };
    let browser = app.browser();
    if let Some(email) = email {
        assert_eq!(browser.sign_in(email).await.status, 200);
    }
    Fixture {
        ids: vec![
            w.tenant.to_string(),
            w.connection.to_string(),
            "1".into(),
            "0".into(),
        ],
        app,
        browser,
        who,
    }
}

fn values(ids: &[String]) -> BoxedStrategy<String> {
    prop_oneof![
        Just(ids[0].clone()),
        Just(ids[1].clone()),
        Just("-1".to_string()),
        Just("99999999999999999999999999".to_string()),
        Just("9223372036854775807".to_string()),
        Just("1e308".to_string()),
        Just("NaN".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("[]".to_string()),
        Just("{\"a\":1}".to_string()),
        Just("tenant_verification".to_string()),
        Just(String::new()),
        Just("../../etc/passwd".to_string()),
        Just("ʻŌlelo 日本語 🚀 \u{202e}rtl".to_string()),
        Just("x".repeat(20_000)),
        any::<i64>().prop_map(|n| n.to_string()),
        "\\PC{0,64}",
    ]
    .boxed()
}

fn assert_survived(what: &str, status: u16, text: &str) {
    assert!(
        status < 500 || status == 503,
        "{what} answered {status}: {}",
        text.chars().take(300).collect::<String>()
    );
    assert!(!text.contains("panicked"), "{what}: {text}");
}

/// Every registered server function, `per_function` generated bodies each.
async fn server_functions(f: &Fixture, per_function: usize) -> (usize, BTreeMap<u16, usize>) {
    let names = prop_oneof![
        Just("tenant".to_string()),
        Just("workspace".to_string()),
        Just("run".to_string()),
        Just("connection".to_string()),
        Just("draft".to_string()),
        Just("name".to_string()),
        Just("display_name".to_string()),
        Just("email".to_string()),
        Just("role".to_string()),
        Just("op_type".to_string()),
        Just("items".to_string()),
        Just("snapshot".to_string()),
        Just("confirm_name".to_string()),
        Just("query".to_string()),
        Just("tag".to_string()),
        Just("member".to_string()),
        Just("list[tab]".to_string()),
        Just("subject".to_string()),
        Just("code".to_string()),
        Just("password".to_string()),
        Just("a[b][c][d]".to_string()),
        "[a-z_\\[\\]]{1,24}",
        "\\PC{1,12}",
    ];
    // A body: pairs, percent-encoded, sometimes with raw junk spliced in.
    let body = (
        proptest::collection::vec((names, values(&f.ids)), 0..8),
        prop_oneof![
            Just(""),
            Just("&"),
            Just("%"),
            Just("%zz"),
            Just("%E0%A4%A"),
            Just("%FF%FE"),
            Just("=&=&"),
            Just("a=1&a=2&a=3"),
            Just("+%2B%00"),
        ],
        0usize..3,
    )
        .prop_map(|(pairs, junk, at)| {
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                encoded.append_pair(k, v);
            }
            let mut s = encoded.finish();
            match at {
                0 => s.push_str(junk),
                1 => s.insert_str(0, junk),
                _ => {}
            }
            s
        });
    let content_type = prop_oneof![
        6 => Just(Some("application/x-www-form-urlencoded")),
        1 => Just(Some("application/x-www-form-urlencoded; charset=latin1")),
        1 => Just(Some("application/json")),
        1 => Just(Some("multipart/form-data; boundary=x")),
        1 => Just(Some("text/plain")),
        1 => Just(None),
    ];
    let case = (body, content_type);
    let mut runner = TestRunner::deterministic();
    let mut paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_string())
        .collect();
    paths.sort();
    // Signing out ends the session the rest use: fuzz it last.
    paths.sort_by_key(|p| p.contains("sign_out"));
    let b = &f.browser;
    let mut sent = 0usize;
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for path in &paths {
        for _ in 0..per_function {
            let (body, ct) = case.new_tree(&mut runner).unwrap().current();
            let mut req = b
                .client
                .post(format!("{}{path}", b.base))
                .header("sec-fetch-site", "same-origin")
                .body(body.clone());
            if let Some(ct) = ct {
                req = req.header("content-type", ct);
            }
            let res = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path}: the connection dropped ({e}) for {body:?}"));
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            assert_survived(&format!("{path} ({ct:?} {body:?})"), status, &text);
            *statuses.entry(status).or_default() += 1;
            sent += 1;
        }
        // A function may have signed us out or switched workspace: start fresh.
        if f.who != Who::SignedOut && (path.contains("session") || path.contains("workspaces")) {
            let email = match f.who {
                Who::Owner => "owner@example.com",
                Who::Readonly => "readonly@example.com",
                Who::Operator => "operator@example.com",
                _ => "platform@example.com",
            };
            let _ = b.sign_in(email).await;
        }
    }
    (sent, statuses)
}

/// The routes that are not server functions, `per_route` generated paths
/// and queries each.
async fn routes(f: &Fixture, per_route: usize) -> (usize, BTreeMap<u16, usize>) {
    let segment = values(&f.ids).prop_map(|v| {
        let v: String = v.chars().take(200).collect();
        form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
    });
    let raw = prop_oneof![
        Just("..".to_string()),
        Just("%2e%2e".to_string()),
        Just("%00".to_string()),
        Just("%zz".to_string()),
        Just("a%2Fb".to_string()),
    ];
    let part = prop_oneof![4 => segment, 1 => raw];
    let keys = prop_oneof![
        Just("state"),
        Just("code"),
        Just("error"),
        Just("error_description"),
        Just("admin_consent"),
        Just("tenant"),
        Just("session_state"),
        Just("iss"),
        Just("next"),
    ];
    let query = proptest::collection::vec((keys, values(&f.ids)), 0..6).prop_map(|pairs| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            let v: String = v.chars().take(2_000).collect();
            q.append_pair(k, &v);
        }
        q.finish()
    });
    let case = (part.clone(), part.clone(), part, query);
    let templates: [fn(&str, &str, &str) -> String; 7] = [
        |a, b, c| format!("/admin/t/{a}/review-packs/{b}/{c}"),
        |a, b, _| format!("/admin/t/{a}/connections/{b}/consent"),
        |_, _, _| domain::provider::consent::CALLBACK_PATH.to_string(),
        |_, _, _| "/sign-in/sso".to_string(),
        |_, _, _| domain::sso::CALLBACK_PATH.to_string(),
        |_, _, _| "/setup".to_string(),
        |a, _, _| format!("/invite/{a}"),
    ];
    let mut runner = TestRunner::deterministic();
    let b = &f.browser;
    let mut sent = 0usize;
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for make in templates {
        for _ in 0..per_route {
            let (x, y, z, q) = case.new_tree(&mut runner).unwrap().current();
            let path = make(&x, &y, &z);
            let url = if q.is_empty() {
                format!("{}{path}", b.base)
            } else {
                format!("{}{path}?{q}", b.base)
            };
            let res = b
                .client
                .get(&url)
                .header("sec-fetch-site", "same-origin")
                .send()
                .await
                .unwrap_or_else(|e| panic!("{url}: the connection dropped ({e})"));
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            assert_survived(&url, status, &text);
            *statuses.entry(status).or_default() += 1;
            sent += 1;
        }
    }
    (sent, statuses)
}

async fn fuzz(backend: Backend, who: Who) {
    let full = crate::reliability::full();
    let (per_function, per_route) = if full { (300, 500) } else { (12, 40) };
    let panics = count_panics();
    let f = fixture(backend, who).await;
    let started = Instant::now();
    let (fns, fn_statuses) = server_functions(&f, per_function).await;
    let (rts, route_statuses) = routes(&f, per_route).await;
    assert_eq!(panics.load(Ordering::SeqCst), 0, "a request panicked");
    assert_eq!(
        f.browser.get("/healthz").await.status,
        200,
        "still serving after the fuzzing"
    );
    drop(f.app);
    println!(
        "fuzzing as {who:?} on {backend:?}: {fns} server-function requests (statuses {fn_statuses:?}) and {rts} route requests (statuses {route_statuses:?}) in {:.1} s; 0 × 500, 0 dropped connections, 0 panics",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_on_sqlite() {
    fuzz(Backend::Sqlite, Who::Owner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_on_postgres() {
    fuzz(Backend::Postgres, Who::Owner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_member() {
    fuzz(Backend::Sqlite, Who::Readonly).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator() {
    fuzz(Backend::Sqlite, Who::Operator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_operator() {
    fuzz(Backend::Sqlite, Who::PlatformOperator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out() {
    fuzz(Backend::Sqlite, Who::SignedOut).await;
}
