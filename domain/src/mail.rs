//! Outgoing mail (invitations): written to an outbox in the same transaction
//! as what it announces, sent after commit by the background tasks of any
//! process with SMTP configured, retried with backoff, its delivery state
//! shown where the mail is about (the pending invitation).
//!
//! The SMTP server is a peer we do not trust to behave: every exchange has
//! a deadline, its words never reach a page or a log line (only our
//! classification does), a permanent refusal stops, anything else retries.
//! A message body carries a link with a secret token, so it is sealed in the
//! outbox like other secrets.

use crate::error::AppResult;
use crate::ids::InvitationId;
use crate::secrets::Secret;
use crate::services::Services;
pub use crate::views::{Delivery, Reason};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// How to reach the SMTP server (`--smtp-url`) and who mail is from.
#[derive(Clone)]
pub struct MailConfig {
    /// `smtps://user:pass@host:465` (TLS), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtp://host:25` (plain: only for a relay on this host).
    url: Secret,
    from: Mailbox,
    /// Longest one SMTP exchange may take (connect, each command, the whole send).
    pub timeout: Duration,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("url", &"**redacted**")
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl MailConfig {
    /// Checks the URL (scheme, host, TLS mode) and the sender address.
    pub fn parse(url: &str, from: &str, timeout: Duration) -> Result<MailConfig, String> {
        let url = url.trim();
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err("the SMTP URL must start with smtp:// or smtps://".into());
        }
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| "the SMTP URL is not valid (smtp[s]://[user:password@]host[:port][?tls=required|opportunistic])".to_string())?;
        let from: Mailbox = from
            .parse()
            .map_err(|_| format!("the sender {from:?} is not a valid address"))?;
        Ok(MailConfig {
            url: Secret::new(url),
            from,
            timeout,
        })
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, Attempt> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(self.url.expose())
            .map(|b| b.timeout(Some(self.timeout)).build())
            .map_err(|_| Attempt::Failed(Reason::Misconfigured))
    }
}

/// One attempt's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Sent,
    Retry(Reason),
    Failed(Reason),
}

fn classify(e: &lettre::transport::smtp::Error) -> Attempt {
    if e.is_permanent() {
        Attempt::Failed(Reason::Refused)
    } else if e.is_transient() {
        Attempt::Retry(Reason::Deferred)
    } else if e.is_timeout() {
        Attempt::Retry(Reason::TimedOut)
    } else if e.is_tls() {
        Attempt::Retry(Reason::Tls)
    } else {
        Attempt::Retry(Reason::Unreachable)
    }
}

/// Sends one message; never longer than a few deadlines.
async fn deliver(config: &MailConfig, to: &str, subject: &str, body: String) -> Attempt {
    let Ok(to) = to.parse::<Mailbox>() else {
        return Attempt::Failed(Reason::Refused);
    };
    let message = match Message::builder()
        .from(config.from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
    {
        Ok(m) => m,
        Err(_) => return Attempt::Failed(Reason::Misconfigured),
    };
    let transport = match config.transport() {
        Ok(t) => t,
        Err(a) => return a,
    };
    // Each command has the deadline; the whole exchange gets a few of them,
    // so a server that trickles answers cannot hold the sender for long.
    let started = std::time::Instant::now();
    match tokio::time::timeout(config.timeout * 4, transport.send(message)).await {
        Ok(Ok(_)) => Attempt::Sent,
        // A read that hit the deadline surfaces as an I/O error: name it.
        Ok(Err(e))
            if !e.is_permanent() && !e.is_transient() && started.elapsed() >= config.timeout =>
        {
            Attempt::Retry(Reason::TimedOut)
        }
        Ok(Err(e)) => classify(&e),
        Err(_) => Attempt::Retry(Reason::TimedOut),
    }
}

/// Attempts before a message is given up (over about two hours).
pub const MAX_ATTEMPTS: i64 = 6;
/// How long a claimed message is held by its sender before another may try.
const CLAIM_MS: i64 = 120_000;

/// The wait after the `attempts`-th failed attempt.
fn backoff_ms(attempts: i64) -> i64 {
    match attempts {
        ..=1 => 30_000,
        2 => 2 * 60_000,
        3 => 10 * 60_000,
        4 => 30 * 60_000,
        _ => 60 * 60_000,
    }
}

/// Writes a message to the outbox (in the caller's transaction), sealed.
pub(crate) async fn enqueue(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    invitation: Option<InvitationId>,
    to: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (invitation_id, recipient, subject, body_sealed, state, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $5)",
    )
    .bind(invitation.map(|i| i.0))
    .bind(to)
    .bind(subject)
    .bind(svc.secrets.seal(&Secret::new(body)))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest message about each of these invitations.
pub(crate) async fn delivery_of(
    conn: &mut sqlx::AnyConnection,
    invitations: &[i64],
) -> AppResult<std::collections::HashMap<i64, Delivery>> {
    let mut out = std::collections::HashMap::new();
    if invitations.is_empty() {
        return Ok(out);
    }
    let list = invitations
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "SELECT invitation_id, state, attempts, next_attempt_at, sent_at, last_error FROM mail_outbox
         WHERE invitation_id IN ({list}) ORDER BY id"
    );
    type Row = (i64, String, i64, i64, Option<i64>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?;
    for (inv, state, attempts, next_at, sent_at, error) in rows {
        let reason = error
            .and_then(|e| serde_json::from_value(serde_json::Value::String(e)).ok())
            .unwrap_or(Reason::Unreachable);
        let d = match state.as_str() {
            "queued" if attempts == 0 => Delivery::Queued,
            "queued" => Delivery::Retrying {
                attempts,
                next_at,
                reason,
            },
            "sent" => Delivery::Sent {
                at: sent_at.unwrap_or(next_at),
            },
            "failed" => Delivery::Failed { attempts, reason },
            // Cancelled (the invitation changed): not this invitation's news.
            _ => continue,
        };
        out.insert(inv, d);
    }
    Ok(out)
}

fn reason_text(r: Reason) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Sends what is due (up to `batch`), each claimed first so two senders
/// never send one message twice at once; answers how many were attempted.
pub async fn send_due(svc: &Services, batch: i64) -> AppResult<usize> {
    let Some(config) = svc.port::<crate::mail::MailConfig>().clone() else {
        return Ok(0);
    };
    let now = svc.now();
    let due: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM mail_outbox WHERE state = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(batch)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut attempted = 0;
    for (id,) in due {
        // The claim: one conditional UPDATE; a sender that dies holding it
        // leaves the message due again after CLAIM_MS.
        let claimed = sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $3
             WHERE id = $1 AND state = 'queued' AND next_attempt_at <= $2",
        )
        .bind(id)
        .bind(now)
        .bind(now + CLAIM_MS)
        .execute(&mut *svc.store.write().await?)
        .await?
        .rows_affected();
        if claimed != 1 {
            continue;
        }
        type Row = (Option<i64>, String, String, String, i64, i64);
        let (invitation, to, subject, sealed, attempts, created_at): Row = sqlx::query_as(
            "SELECT invitation_id, recipient, subject, body_sealed, attempts, created_at FROM mail_outbox WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *svc.store.read().await?)
        .await?;
        // An invitation revoked, accepted or renewed since: its link is dead.
        if let Some(inv) = invitation {
            let live: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM invitations WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
                 AND created_at <= $2 AND expires_at > $3",
            )
            .bind(inv)
            .bind(created_at)
            .bind(now)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?;
            if live.is_none() {
                sqlx::query("UPDATE mail_outbox SET state = 'cancelled' WHERE id = $1")
                    .bind(id)
                    .execute(&mut *svc.store.write().await?)
                    .await?;
                continue;
            }
        }
        let outcome = match svc.secrets.open(&sealed) {
            Ok(body) => deliver(&config, &to, &subject, body.expose().to_string()).await,
            Err(_) => Attempt::Failed(Reason::Misconfigured),
        };
        attempted += 1;
        let done = svc.now();
        let mut conn = svc.store.write().await?;
        match outcome {
            Attempt::Sent => {
                tracing::info!(mail = id, "mail sent");
                sqlx::query(
                    "UPDATE mail_outbox SET state = 'sent', sent_at = $2, last_error = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(done)
                .execute(&mut *conn)
                .await?;
            }
            Attempt::Retry(reason) if attempts < MAX_ATTEMPTS => {
                tracing::warn!(
                    mail = id,
                    attempts,
                    reason = reason_text(reason),
                    "mail not sent; will retry"
                );
                sqlx::query(
                    "UPDATE mail_outbox SET state = 'queued', next_attempt_at = $2, last_error = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(done + backoff_ms(attempts))
                .bind(reason_text(reason))
                .execute(&mut *conn)
                .await?;
            }
            Attempt::Retry(reason) | Attempt::Failed(reason) => {
                tracing::warn!(
                    mail = id,
                    attempts,
                    reason = reason_text(reason),
                    "mail given up"
                );
                sqlx::query(
                    "UPDATE mail_outbox SET state = 'failed', last_error = $2 WHERE id = $1",
                )
                .bind(id)
                .bind(reason_text(reason))
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(attempted)
}

/// Sends due mail until `stop`: at once when woken (something was queued in
/// this process), else every few seconds (mail queued by other processes,
/// retries coming due).
pub async fn run_periodically(svc: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    if svc.port::<crate::mail::MailConfig>().is_none() {
        return;
    }
    let mut wake = svc.run_signal.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = crate::store::one_unit(send_due(&svc, 20)).await {
            tracing::warn!(error = %e, "sending mail failed; retrying");
        }
        tokio::select! {
            _ = wake.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// An invitation's mail: subject and body (the link is absolute).
pub(crate) fn invitation_message(
    workspace: &str,
    inviter: &str,
    role: &str,
    link: &str,
    expires: &str,
) -> (String, String) {
    (
        format!("Join {workspace} on Tenantry"),
        format!(
            "{inviter} invited you to join {workspace} on Tenantry as {role}.\n\n\
             Accept the invitation: {link}\n\n\
             The link works once and until {expires}. If you did not expect this mail, ignore it: \
             nobody joins without accepting.\n"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_never_printed() {
        let ok = MailConfig::parse(
            "smtps://user:hunter2@mail.example.com:465",
            "Tenantry <tenantry@example.com>",
            Duration::from_secs(10),
        )
        .expect("valid settings");
        assert!(!format!("{ok:?}").contains("hunter2"));
        for bad in ["http://mail.example.com", "mail.example.com", "smtp://"] {
            assert!(
                MailConfig::parse(bad, "a@example.com", Duration::from_secs(1)).is_err(),
                "{bad}"
            );
        }
        assert!(
            MailConfig::parse(
                "smtp://127.0.0.1:25",
                "not an address",
                Duration::from_secs(1)
            )
            .is_err()
        );
    }

    #[test]
    fn backoff_grows_and_gives_up() {
        let waits: Vec<i64> = (1..=MAX_ATTEMPTS).map(backoff_ms).collect();
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(waits[0], 30_000);
        assert!(waits.iter().sum::<i64>() < 3 * 60 * 60_000);
    }

    #[test]
    fn delivery_words_never_carry_the_servers() {
        let d = Delivery::Failed {
            attempts: 1,
            reason: Reason::Refused,
        };
        assert_eq!(
            d.words(),
            "Mail could not be sent: The mail server refused the message. Copy the link and send it yourself."
        );
    }
}
