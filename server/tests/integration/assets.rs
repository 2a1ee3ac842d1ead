//! The browser's files (issue 33, "light on the wire"): pages load them
//! under a path naming their content, they are kept a year, sent as the
//! build's brotli or gzip copy when the browser accepts it, and nothing else
//! is reachable under a key.

use crate::common::{Backend, app};

/// A built site with known bytes, and "compressed" copies that say which
/// one was sent.
fn site() -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!(
        "tenantry-site-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    for (name, body) in [
        ("tenantry.js", "export default function init() {}"),
        ("tenantry_bg.wasm", "\0asm-bytes"),
        ("tenantry.css", "body{margin:0}"),
    ] {
        std::fs::write(pkg.join(name), body).unwrap();
        std::fs::write(pkg.join(format!("{name}.br")), format!("br:{name}")).unwrap();
        std::fs::write(pkg.join(format!("{name}.gz")), format!("gz:{name}")).unwrap();
    }
    std::fs::write(root.join("secret.key"), "not for the web").unwrap();
    std::fs::write(pkg.join("sizes.txt"), "only the three files are served").unwrap();
    root
}

fn url_is_file(path: &str) -> bool {
    path.starts_with("/pkg/")
}

#[tokio::test]
async fn site_files_are_versioned_precompressed_and_kept_a_year() {
    let root = site();
    let app = app(Backend::Sqlite).site(root.clone()).spawn().await;
    let key = server::assets::Assets::load(&root.join("pkg"))
        .key()
        .to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: String, encoding: Option<&'static str>| {
        let client = client.clone();
        let url = format!("{}{path}", app.address);
        async move {
            let mut req = client.get(url);
            if let Some(e) = encoding {
                req = req.header("accept-encoding", e);
            }
            let res = req.send().await.unwrap();
            let header = |n: &str| {
                res.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let (cache, content_encoding) = (header("cache-control"), header("content-encoding"));
            if res.status().is_success() && url_is_file(res.url().path()) {
                assert_eq!(header("vary"), "accept-encoding", "{}", res.url());
            }
            (
                res.status().as_u16(),
                cache,
                content_encoding,
                res.text().await.unwrap(),
            )
        }
    };

    // A page names this build's files and is never stored; the sign-in
    // page only the stylesheet (it loads no script; the console's pages
    // name the islands' two files under the same key, see weight.test.mjs).
    let (status, cache, _, page) = get("/sign-in".into(), Some("br, gzip")).await;
    assert_eq!(status, 200);
    assert_eq!(cache, "no-store");
    assert!(
        page.contains(&format!("/pkg/{key}/tenantry.css")),
        "the page loads the stylesheet under the key: {page}"
    );
    for file in ["tenantry.js", "tenantry_bg.wasm"] {
        assert!(!page.contains(file), "the sign-in page loads no {file}");
    }

    // Each file: the brotli copy, else the gzip one, else the file; a year.
    for file in ["tenantry.css", "tenantry.js", "tenantry_bg.wasm"] {
        let path = format!("/pkg/{key}/{file}");
        let (status, cache, encoding, body) = get(path.clone(), Some("gzip, deflate, br")).await;
        assert_eq!((status, encoding.as_str()), (200, "br"), "{file}");
        assert_eq!(body, format!("br:{file}"));
        assert_eq!(cache, "public, max-age=31536000, immutable");
        let (_, _, encoding, body) = get(path.clone(), Some("gzip")).await;
        assert_eq!((encoding.as_str(), body), ("gzip", format!("gz:{file}")));
        let (_, cache, encoding, body) = get(path, None).await;
        assert_eq!(encoding, "");
        assert!(!body.starts_with("br:") && !body.starts_with("gz:"));
        assert_eq!(cache, "public, max-age=31536000, immutable");
    }

    // Another key (an older build) or any other file under a key: 404, so
    // nothing is kept a year with bytes it does not name.
    for path in [
        "/pkg/0123456789abcdef/tenantry.css".to_string(),
        format!("/pkg/{key}/tenantry.css.br"),
        format!("/pkg/{key}/secret.key"),
        format!("/pkg/{key}/..%2Fsecret.key"),
        format!("/pkg/{key}/%2E%2E%2F%2E%2E%2Fsecret.key"),
        "/pkg/sizes.txt".to_string(),
        "/pkg/../secret.key".to_string(),
    ] {
        let (status, cache, _, _) = get(path.clone(), Some("br")).await;
        assert_eq!(status, 404, "{path}");
        assert_ne!(cache, "public, max-age=31536000, immutable", "{path}");
    }
    assert_eq!(get("/secret.key".into(), None).await.0, 404);

    // Unversioned (the static error page's stylesheet): revalidated.
    let (status, cache, encoding, _) = get("/pkg/tenantry.css".into(), Some("br")).await;
    assert_eq!(
        (status, cache.as_str(), encoding.as_str()),
        (200, "no-cache", "br")
    );
    let _ = std::fs::remove_dir_all(&root);
}
