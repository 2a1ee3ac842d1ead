//! A Standard Webhooks receiver: keeps what it is sent, checks each
//! message's signature with the secrets it was given (an implementation of
//! the specification of its own, HMAC-SHA256 written out from RFC 2104), and
//! shows them on a page (`GET /`) and as JSON (`GET /received`).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Json};
use axum::routing::{get, post};
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| block.iter().map(|k| k ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Whether any `v1,` signature in `signatures` is this secret's signature of
/// `id.timestamp.body` (the key: the base64 after `whsec_`).
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &str, signatures: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Ok(key) = b64.decode(secret.trim_start_matches("whsec_")) else {
        return false;
    };
    let expected = b64.encode(hmac_sha256(
        &key,
        format!("{id}.{timestamp}.{body}").as_bytes(),
    ));
    signatures
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

/// One message as received.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature_valid: bool,
    pub body: String,
}

#[derive(Default)]
struct ReceiverState {
    secrets: Vec<String>,
    received: Vec<Received>,
}

fn lock(m: &Mutex<ReceiverState>) -> MutexGuard<'_, ReceiverState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running receiver. Dropping it stops the server.
pub struct WebhookReceiver {
    addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookReceiver {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<WebhookReceiver> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let app = Router::new()
            .route("/", get(page))
            .route("/received", get(received))
            .route("/hooks", post(receive))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(WebhookReceiver { addr, state, task })
    }

    /// Where to send messages.
    pub fn hook_url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    /// The page listing what was received.
    pub fn page_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The secrets signatures are checked with (an endpoint's, both during a rotation).
    pub fn set_secrets(&self, secrets: Vec<String>) {
        lock(&self.state).secrets = secrets;
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (id, timestamp, signatures) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let mut s = lock(&state);
    let signature_valid = s
        .secrets
        .iter()
        .any(|secret| verify(secret, &id, &timestamp, &body, &signatures));
    s.received.push(Received {
        id,
        timestamp,
        signature_valid,
        body,
    });
    StatusCode::NO_CONTENT
}

async fn received(State(state): State<Arc<Mutex<ReceiverState>>>) -> impl IntoResponse {
    Json(lock(&state).received.clone())
}

async fn page(State(state): State<Arc<Mutex<ReceiverState>>>) -> Html<String> {
    let received = lock(&state).received.clone();
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Webhook receiver · Tenantry demo</title>\
         <style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}\
         article{border:1px solid #cbd5e1;border-radius:.5rem;padding:1rem;margin:1rem 0}\
         pre{white-space:pre-wrap;word-break:break-all}.ok{color:#166534}.bad{color:#b91c1c}</style></head><body>\
         <h1>Webhook receiver</h1><p>Messages Tenantry's demo sent to its webhook endpoint, newest first, each \
         with the result of checking its signature (Standard Webhooks).</p>",
    );
    if received.is_empty() {
        html.push_str("<p>Nothing received yet. Alerts of the demo's rule, and <em>Send test</em> on the rules page, arrive here.</p>");
    }
    for m in received.iter().rev() {
        let pretty = serde_json::from_str::<serde_json::Value>(&m.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| m.body.clone());
        let (class, verdict) = if m.signature_valid {
            ("ok", "Signature valid")
        } else {
            ("bad", "Signature NOT valid")
        };
        html.push_str(&format!(
            "<article data-webhook-id=\"{id}\"><p><strong>webhook-id:</strong> <code>{id}</code><br>\
             <strong>webhook-timestamp:</strong> {ts}<br><strong class=\"{class}\" data-signature=\"{class}\">{verdict}</strong></p>\
             <pre>{body}</pre></article>",
            id = crate::escape_html(&m.id),
            ts = crate::escape_html(&m.timestamp),
            body = crate::escape_html(&pretty),
        ));
    }
    html.push_str("</body></html>");
    Html(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_example_verifies() {
        assert!(verify(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#,
            "v1,bm9ldHZhbGlk v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ));
        assert!(!verify(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265331",
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ));
    }
}
