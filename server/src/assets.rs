//! The browser's files (islands JS + wasm, the stylesheet) under a path that
//! names their content: `/pkg/<key>/tenantry.js`, where the key is a hash of
//! the three files taken when the process starts. A browser keeps them for a
//! year without asking again (`immutable`); a new build is a new key, so a
//! page never mixes an old wasm with a new stylesheet. Each file is sent
//! precompressed (`.br`, `.gz` written by `scripts/build-site.sh`) when the
//! browser accepts it. Unversioned `/pkg/<file>` stays served, revalidated,
//! for pages that cannot know the key (the static error page).

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// The files a page loads, by the names the build gives them.
pub const FILES: [&str; 3] = ["tenantry.js", "tenantry_bg.wasm", "tenantry.css"];

/// How long a browser keeps a versioned file: a year, never revalidated.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The built site's files and the key that names their content.
#[derive(Debug, Clone)]
pub struct Assets {
    pkg_dir: Arc<PathBuf>,
    key: Arc<str>,
}

impl Assets {
    /// Hashes what `pkg_dir` holds now (a file that is missing hashes as
    /// empty: a development checkout without a built site still serves).
    pub fn load(pkg_dir: &FsPath) -> Assets {
        let mut hash = Sha256::new();
        for name in FILES {
            hash.update(name.as_bytes());
            hash.update(std::fs::read(pkg_dir.join(name)).unwrap_or_default());
        }
        let key = hex::encode(&hash.finalize()[..8]);
        Assets {
            pkg_dir: Arc::new(pkg_dir.to_path_buf()),
            key: key.into(),
        }
    }

    /// The key of this build's files.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The site-relative folder pages load the files from (`pkg/<key>`),
    /// as Leptos's `site_pkg_dir`.
    pub fn versioned_dir(&self) -> String {
        format!("pkg/{}", self.key)
    }
}

/// `GET /pkg/{*path}`. `<key>/<file>`: this build's file, kept a year; any
/// other key is 404 (an old key must not be cached forever with new bytes).
/// `<file>` alone: the current file, revalidated on every use. Nothing but
/// the three files is ever served.
pub async fn serve(
    State(assets): State<Assets>,
    Path(path): Path<String>,
    req: Request,
) -> Response {
    let (file, versioned) = match path.split_once('/') {
        Some((key, file)) if key == &*assets.key => (file, true),
        Some(_) => return StatusCode::NOT_FOUND.into_response(),
        None => (path.as_str(), false),
    };
    if !FILES.contains(&file) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let serve = ServeFile::new(assets.pkg_dir.join(file))
        .precompressed_br()
        .precompressed_gzip();
    let mut res = match serve.oneshot(req).await {
        Ok(res) => res.into_response(),
        Err(never) => match never {},
    };
    // The bytes depend on Accept-Encoding: a shared cache must keep each copy apart.
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if versioned && res.status().is_success() {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    }
    res
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_content() {
        let dir = std::env::temp_dir().join(format!("tenantry-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in FILES {
            std::fs::write(dir.join(name), name).unwrap();
        }
        let first = Assets::load(&dir);
        assert_eq!(first.key().len(), 16);
        assert_eq!(Assets::load(&dir).key(), first.key(), "stable");
        std::fs::write(dir.join("tenantry.css"), "changed").unwrap();
        assert_ne!(Assets::load(&dir).key(), first.key());
        assert_eq!(
            Assets::load(&dir).versioned_dir(),
            format!("pkg/{}", Assets::load(&dir).key())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
