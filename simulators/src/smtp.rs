//! An SMTP server for tests and the demo: enough of RFC 5321 for a real
//! client (EHLO, AUTH PLAIN, MAIL, RCPT, DATA with dot-stuffing, RSET,
//! NOOP, QUIT), keeping what it receives, with switchable faults (a busy
//! greeting, a recipient refused, the message deferred, a server that never
//! answers) and a small web page listing the mail it got.

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How the simulated server misbehaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SmtpFault {
    #[default]
    None,
    /// Greets with 421 and closes (try again later).
    Busy,
    /// Refuses every recipient with 550 (permanent).
    RejectRecipient,
    /// Takes the message, then answers 451 (try again later).
    Defer,
    /// Accepts the connection and never says a word.
    Silent,
}

/// One message as the server received it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message (headers and body), dot-stuffing undone.
    pub data: String,
}

impl Received {
    /// A header's value (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_string());
            }
        }
        value
    }

    /// The body after the headers, as a mail client shows it (a
    /// quoted-printable body decoded).
    pub fn body(&self) -> String {
        let raw = self
            .data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        let qp = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        if qp {
            decode_quoted_printable(&raw)
        } else {
            raw
        }
    }
}

/// RFC 2045 quoted-printable: `=XX` is a byte, `=` at a line's end joins it
/// to the next.
fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct SmtpState {
    fault: SmtpFault,
    /// `AUTH PLAIN` credentials required, when set.
    credentials: Option<(String, String)>,
    received: Vec<Received>,
    connections: usize,
}

fn lock(m: &Mutex<SmtpState>) -> MutexGuard<'_, SmtpState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running SMTP simulator. Dropping it stops the server.
pub struct SmtpSimulator {
    addr: SocketAddr,
    state: Arc<Mutex<SmtpState>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for SmtpSimulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl SmtpSimulator {
    /// Starts on a free port of 127.0.0.1; with `credentials`, a client must
    /// authenticate (AUTH PLAIN) before sending.
    pub async fn start(credentials: Option<(&str, &str)>) -> std::io::Result<SmtpSimulator> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(SmtpState {
            fault: SmtpFault::None,
            credentials: credentials.map(|(u, p)| (u.to_string(), p.to_string())),
            received: Vec::new(),
            connections: 0,
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = session(stream, state).await;
                });
            }
        });
        Ok(SmtpSimulator {
            addr,
            state,
            tasks: vec![task],
        })
    }

    /// `smtp://127.0.0.1:PORT` (plain; with `user:password@` when it wants them).
    pub fn url(&self) -> String {
        match &lock(&self.state).credentials {
            Some((u, p)) => format!("smtp://{u}:{p}@{}", self.addr),
            None => format!("smtp://{}", self.addr),
        }
    }

    pub fn set_fault(&self, fault: SmtpFault) {
        lock(&self.state).fault = fault;
    }

    /// What was delivered, oldest first.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    /// Connections accepted so far (attempts, delivered or not).
    pub fn connections(&self) -> usize {
        lock(&self.state).connections
    }

    /// Serves a page listing the received mail (newest first) on a free port
    /// of 127.0.0.1; answers its address. JSON at `/messages`.
    pub async fn serve_mailbox_page(&mut self) -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/", get(mailbox_page))
            .route("/messages", get(messages_json))
            .with_state(self.state.clone());
        self.tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
        Ok(format!("http://{addr}"))
    }
}

async fn messages_json(State(state): State<Arc<Mutex<SmtpState>>>) -> impl IntoResponse {
    Json(lock(&state).received.clone())
}

async fn mailbox_page(State(state): State<Arc<Mutex<SmtpState>>>) -> Html<String> {
    let received = lock(&state).received.clone();
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sent mail · Tenantry demo</title>\
         <style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}\
         article{border:1px solid #cbd5e1;border-radius:.5rem;padding:1rem;margin:1rem 0}\
         pre{white-space:pre-wrap}</style></head><body><h1>Sent mail</h1>\
         <p>Mail Tenantry's demo sent through its local SMTP server, newest first.</p>",
    );
    if received.is_empty() {
        html.push_str("<p>No mail yet. Invite someone from Members to send one.</p>");
    }
    for m in received.iter().rev() {
        html.push_str(&format!(
            "<article><p><strong>To:</strong> {}<br><strong>Subject:</strong> {}</p><pre>{}</pre></article>",
            crate::escape_html(&m.to.join(", ")),
            crate::escape_html(&m.header("Subject").unwrap_or_default()),
            crate::escape_html(&m.body()),
        ));
    }
    html.push_str("</body></html>");
    Html(html)
}

/// Undoes dot-stuffing and reads an address out of `MAIL FROM:<a>`.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a)
        .unwrap_or(arg);
    inner.to_string()
}

fn plain_credentials(b64: &str) -> Option<(String, String)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let mut parts = raw.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let user = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let pass = String::from_utf8(parts.next()?.to_vec()).ok()?;
    Some((user, pass))
}

async fn session(
    stream: tokio::net::TcpStream,
    state: Arc<Mutex<SmtpState>>,
) -> std::io::Result<()> {
    let (fault, wants_auth) = {
        let mut s = lock(&state);
        s.connections += 1;
        (s.fault, s.credentials.is_some())
    };
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    match fault {
        SmtpFault::Silent => {
            // Hold the connection open, saying nothing, until the client gives up.
            let mut sink = String::new();
            while lines.read_line(&mut sink).await? > 0 {
                sink.clear();
            }
            return Ok(());
        }
        SmtpFault::Busy => {
            write
                .write_all(b"421 tenantry-sim busy, try again later\r\n")
                .await?;
            return Ok(());
        }
        _ => {}
    }
    write.write_all(b"220 tenantry-sim ESMTP ready\r\n").await?;
    let mut authed = !wants_auth;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            if wants_auth {
                b"250-tenantry-sim\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n"
            } else {
                b"250-tenantry-sim\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            }
        } else if upper.starts_with("HELO") {
            b"250 tenantry-sim\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            let given = plain_credentials(cmd.get(10..).unwrap_or(""));
            let expected = lock(&state).credentials.clone();
            if given.is_some() && given == expected {
                authed = true;
                b"235 2.7.0 Authentication successful\r\n"
            } else {
                b"535 5.7.8 Authentication credentials invalid\r\n"
            }
        } else if upper.starts_with("MAIL FROM:") {
            if !authed {
                b"530 5.7.0 Authentication required\r\n"
            } else {
                from = Some(address(&cmd[10..]));
                to.clear();
                b"250 2.1.0 OK\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            if from.is_none() {
                b"503 5.5.1 MAIL first\r\n"
            } else if lock(&state).fault == SmtpFault::RejectRecipient {
                b"550 5.1.1 No such user here\r\n"
            } else {
                to.push(address(&cmd[8..]));
                b"250 2.1.5 OK\r\n"
            }
        } else if upper == "DATA" {
            if from.is_none() || to.is_empty() {
                b"503 5.5.1 RCPT first\r\n"
            } else {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                let mut l = String::new();
                loop {
                    l.clear();
                    if lines.read_line(&mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" || l == ".\n" {
                        break;
                    }
                    // Dot-stuffing: a leading dot was doubled by the client.
                    let unstuffed = l.strip_prefix('.').unwrap_or(&l);
                    data.push_str(unstuffed);
                    if data.len() > 1_000_000 {
                        write.write_all(b"552 5.3.4 Message too big\r\n").await?;
                        return Ok(());
                    }
                }
                if lock(&state).fault == SmtpFault::Defer {
                    from = None;
                    to.clear();
                    b"451 4.3.0 Try again later\r\n"
                } else {
                    lock(&state).received.push(Received {
                        from: from.take().unwrap_or_default(),
                        to: std::mem::take(&mut to),
                        data,
                    });
                    b"250 2.0.0 Queued\r\n"
                }
            }
        } else if upper == "RSET" {
            from = None;
            to.clear();
            b"250 2.0.0 OK\r\n"
        } else if upper == "NOOP" {
            b"250 2.0.0 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 5.5.2 Command not recognised\r\n"
        };
        write.write_all(reply).await?;
    }
}
