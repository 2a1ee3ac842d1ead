//! Outbound HTTP that distrusts the peer, shared by the Graph and support-desk
//! clients: redirects are never followed (a redirect is an answer we report,
//! not a place we send a secret or a token), bodies are read up to a cap,
//! and `Retry-After` is understood in both of its forms.

use std::time::{Duration, SystemTime};

/// A client that follows no redirect.
pub fn client(connect_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Tenantry/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the cap (declared, or found while streaming).
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads a body chunk by chunk, giving up as soon as it passes `max` bytes
/// (or declares more up front): a huge or endless answer costs at most `max`.
pub async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `Retry-After` as seconds or as an HTTP-date (RFC 9110 §10.2.3), as the
/// time to wait from `now`. A date in the past means "now".
pub fn retry_after(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        if let Ok(v) = reqwest::header::HeaderValue::from_str(value) {
            h.insert(reqwest::header::RETRY_AFTER, v);
        }
        h
    }

    #[test]
    fn retry_after_in_both_forms() {
        let now = httpdate::parse_http_date("Tue, 01 Dec 2026 10:00:00 GMT").expect("date");
        assert_eq!(retry_after(&with("7"), now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after(&with("Tue, 01 Dec 2026 10:00:12 GMT"), now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            retry_after(&with("Tue, 01 Dec 2026 09:59:00 GMT"), now),
            Some(Duration::ZERO),
            "a date in the past: at once"
        );
        assert_eq!(retry_after(&with("soon"), now), None);
        assert_eq!(retry_after(&with("-3"), now), None);
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new(), now), None);
    }
}
