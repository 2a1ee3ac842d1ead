//! Sending what alert changes queued, after commit, from every process that
//! runs workers: each row is claimed (a conditional UPDATE, held for two
//! minutes) so two senders never send one at once; a sender killed between
//! the send and its record leaves the row due again, so a receiver may get
//! a message once more, always with the same `webhook-id`.
//!
//! Webhooks: signed (Standard Webhooks), to a pinned public address, no
//! redirect followed, 10 s in all, at most 200 bytes of the answer kept;
//! retried over more than a day with jitter; `410 Gone` or
//! [`DISABLE_AFTER`] failures in a row turn the endpoint off and raise an
//! alert about it. Tickets: one per alert, a note on it when it reopens.

use super::lifecycle::{self, Change, Observation, Raiser};
use super::ssrf;
use super::webhooks::{self, networks};
use super::{ConditionKind, Evidence, Routes, Severity};
use crate::error::AppResult;
use crate::ids::{AlertId, WorkspaceId};
use crate::services::Services;
use std::time::{Duration, Instant};

/// How long a claimed row is held before another sender may try it.
const CLAIM_MS: i64 = 120_000;
/// One webhook attempt, all of it.
pub const WEBHOOK_DEADLINE: Duration = Duration::from_secs(10);
/// Failures in a row that turn an endpoint off.
pub const DISABLE_AFTER: i64 = 10;
/// Bytes of a receiver's answer kept in the delivery log.
pub const EXCERPT_BYTES: usize = 200;

/// The wait after the `attempt`-th failure (Standard Webhooks' schedule:
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — about 28 h in all); `None`:
/// give up.
pub fn webhook_backoff_ms(attempt: i64) -> Option<i64> {
    const MIN: i64 = 60_000;
    const SCHEDULE: [i64; 7] = [
        5_000,
        5 * MIN,
        30 * MIN,
        120 * MIN,
        300 * MIN,
        600 * MIN,
        600 * MIN,
    ];
    usize::try_from(attempt - 1)
        .ok()
        .and_then(|i| SCHEDULE.get(i))
        .copied()
}

/// The longest `Retry-After` a receiver gets honoured: a day (its
/// deliveries are retried for about a day anyway).
pub const RETRY_AFTER_CAP_MS: i64 = 24 * 3_600_000;

/// The wait before the next attempt: the schedule's, or longer when the
/// receiver asked for longer with `Retry-After` (up to a day) — never
/// sooner than the schedule, so `Retry-After: 0` cannot make us hammer it.
pub fn next_wait_ms(scheduled: Option<i64>, asked: Option<Duration>) -> Option<i64> {
    let scheduled = scheduled?;
    let asked = asked
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
        .min(RETRY_AFTER_CAP_MS);
    Some(scheduled.max(asked))
}

/// ±10 % so a receiver that was down is not hit by every retry at once.
fn jitter(ms: i64) -> i64 {
    use rand::Rng;
    let spread = ms / 10;
    if spread == 0 {
        return ms;
    }
    ms + rand::thread_rng().gen_range(-spread..=spread)
}

fn ticket_backoff_ms(attempt: i64) -> Option<i64> {
    const SCHEDULE: [i64; 5] = [30_000, 120_000, 600_000, 1_800_000, 3_600_000];
    usize::try_from(attempt - 1)
        .ok()
        .and_then(|i| SCHEDULE.get(i))
        .copied()
}

/// A claimed row.
struct Claimed {
    id: i64,
    ws: WorkspaceId,
    alert: Option<i64>,
    endpoint: Option<i64>,
    channel: String,
    event: String,
    message_id: String,
    payload: String,
    attempt: i64,
}

/// Receivers talked to at once (each endpoint's messages go one after another).
const PARALLEL: usize = 8;

/// Sends what is due (up to `batch`); answers how many were attempted.
/// Rows are claimed first; then each endpoint's rows are sent in order,
/// up to [`PARALLEL`] endpoints at a time (one slow receiver holds back
/// only its own messages).
pub async fn send_due(svc: &Services, batch: i64) -> AppResult<usize> {
    let now = svc.now();
    let due: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM alert_deliveries WHERE state = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
    )
    .bind(now)
    .bind(batch)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut groups: std::collections::BTreeMap<Option<i64>, Vec<Claimed>> = Default::default();
    let mut attempted = 0;
    for (id,) in due {
        let claimed = sqlx::query(
            "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = $3
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
        type Row = (
            i64,
            Option<i64>,
            Option<i64>,
            String,
            String,
            String,
            String,
            i64,
        );
        let (ws, alert, endpoint, channel, event, message_id, payload, attempt): Row = sqlx::query_as(
            "SELECT workspace_id, alert_id, endpoint_id, channel, event, message_id, payload, attempts FROM alert_deliveries WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *svc.store.read().await?)
        .await?;
        attempted += 1;
        groups.entry(endpoint).or_default().push(Claimed {
            id,
            ws: WorkspaceId(ws),
            alert,
            endpoint,
            channel,
            event,
            message_id,
            payload,
            attempt,
        });
    }
    let mut groups = groups.into_values();
    let mut running = tokio::task::JoinSet::new();
    let mut first_error = None;
    loop {
        while running.len() < PARALLEL {
            let Some(group) = groups.next() else { break };
            let svc = svc.clone();
            running.spawn(async move {
                for c in group {
                    send_one(&svc, c).await?;
                }
                Ok::<(), crate::error::AppError>(())
            });
        }
        match running.join_next().await {
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(e))) => {
                first_error.get_or_insert(e);
            }
            Some(Err(_)) => {
                first_error.get_or_insert(crate::error::AppError::Internal);
            }
            None => break,
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(attempted),
    }
}

async fn send_one(svc: &Services, c: Claimed) -> AppResult<()> {
    match (c.channel.as_str(), c.endpoint, c.alert) {
        ("webhook", Some(endpoint), _) => {
            send_webhook(
                svc,
                c.id,
                c.ws,
                endpoint,
                &c.message_id,
                &c.payload,
                c.attempt,
            )
            .await
        }
        ("ticket", _, Some(alert)) => {
            send_ticket(svc, c.id, AlertId(alert), &c.event, c.attempt).await
        }
        _ => finish(svc, c.id, "failed", Some("nothing to send")).await,
    }
}

async fn finish(svc: &Services, id: i64, state: &str, error: Option<&str>) -> AppResult<()> {
    sqlx::query("UPDATE alert_deliveries SET state = $2, last_error = $3, sent_at = CASE WHEN $2 = 'sent' THEN $4 ELSE sent_at END WHERE id = $1")
        .bind(id)
        .bind(state)
        .bind(error)
        .bind(svc.now())
        .execute(&mut *svc.store.write().await?)
        .await?;
    Ok(())
}

async fn retry_or_fail(svc: &Services, id: i64, wait: Option<i64>, error: &str) -> AppResult<()> {
    match wait {
        Some(ms) => {
            sqlx::query("UPDATE alert_deliveries SET state = 'queued', next_attempt_at = $2, last_error = $3 WHERE id = $1")
                .bind(id)
                .bind(svc.now() + ms)
                .bind(error)
                .execute(&mut *svc.store.write().await?)
                .await?;
            Ok(())
        }
        None => finish(svc, id, "failed", Some(error)).await,
    }
}

/// What one attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempted {
    pub status: Option<u16>,
    pub outcome: &'static str,
    pub excerpt: Option<String>,
    pub refused: Option<String>,
    /// What a 429 or 503 asked for with `Retry-After` (either form).
    pub retry_after: Option<Duration>,
}

/// Text safe to show: printable characters, at most `max` bytes.
fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for c in text.chars().filter(|c| !c.is_control() || *c == ' ') {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// A client that connects `host` only to `addr` (the address just checked)
/// and follows no redirect; one per (host, address), kept so connections
/// to a receiver are reused.
fn pinned_client(
    host: &str,
    addr: std::net::SocketAddr,
) -> Result<reqwest::Client, reqwest::Error> {
    type Clients = std::sync::Mutex<
        std::collections::HashMap<(String, std::net::SocketAddr), reqwest::Client>,
    >;
    static CLIENTS: std::sync::LazyLock<Clients> = std::sync::LazyLock::new(Default::default);
    let key = (host.to_string(), addr);
    if let Some(c) = CLIENTS.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(c);
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(host, addr)
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("Tenantry-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?;
    if let Ok(mut m) = CLIENTS.lock() {
        // Bounded: receivers are few; an address that changes starts afresh.
        if m.len() >= 256 {
            m.clear();
        }
        m.insert(key, client.clone());
    }
    Ok(client)
}

/// One POST to a checked, pinned address with the Standard Webhooks headers.
pub async fn post_signed(
    svc: &Services,
    url: &str,
    signatures: &str,
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> Attempted {
    let refused = |why: String| Attempted {
        status: None,
        outcome: "refused",
        excerpt: None,
        refused: Some(why),
        retry_after: None,
    };
    let nets = networks(svc);
    let target = match ssrf::check_url(url, &nets) {
        Ok(t) => t,
        Err(why) => return refused(why),
    };
    let attempt = async {
        let addr = match ssrf::resolve(&target, &nets).await {
            Ok(a) => a,
            Err(why) => return refused(why),
        };
        let client = match pinned_client(&target.host, addr) {
            Ok(c) => c,
            Err(_) => {
                return Attempted {
                    status: None,
                    outcome: "error",
                    excerpt: None,
                    refused: None,
                    retry_after: None,
                };
            }
        };
        let response = client
            .post(target.url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures)
            .body(body.to_string())
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Attempted {
                    status: None,
                    outcome: "timed_out",
                    excerpt: None,
                    refused: None,
                    retry_after: None,
                };
            }
            Err(_) => {
                return Attempted {
                    status: None,
                    outcome: "unreachable",
                    excerpt: None,
                    refused: None,
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = if matches!(status, 429 | 503) {
            let now = std::time::UNIX_EPOCH
                + Duration::from_millis(u64::try_from(svc.now()).unwrap_or(0));
            crate::outbound::retry_after(response.headers(), now)
        } else {
            None
        };
        // Read no more than the excerpt needs; the rest is never fetched.
        let mut kept = Vec::new();
        while kept.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    kept.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - kept.len())])
                }
                _ => break,
            }
        }
        let outcome = match status {
            200..=299 => "delivered",
            300..=399 => "redirect_not_followed",
            410 => "gone",
            _ => "refused_by_receiver",
        };
        Attempted {
            status: Some(status),
            outcome,
            excerpt: Some(excerpt(&kept, EXCERPT_BYTES)),
            refused: None,
            retry_after,
        }
    };
    match tokio::time::timeout(WEBHOOK_DEADLINE, attempt).await {
        Ok(a) => a,
        Err(_) => Attempted {
            status: None,
            outcome: "timed_out",
            excerpt: None,
            refused: None,
            retry_after: None,
        },
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_webhook(
    svc: &Services,
    id: i64,
    ws: WorkspaceId,
    endpoint: i64,
    message_id: &str,
    payload: &str,
    attempt: i64,
) -> AppResult<()> {
    type EndpointRow = (String, String, String, Option<String>, Option<i64>, i64);
    let row: Option<EndpointRow> = sqlx::query_as(
        "SELECT name, url, secret_sealed, previous_secret_sealed, previous_until, enabled FROM webhook_endpoints WHERE id = $1",
    )
    .bind(endpoint)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let Some((name, url, sealed, previous, previous_until, enabled)) = row else {
        return finish(svc, id, "cancelled", Some("the endpoint was deleted")).await;
    };
    if enabled == 0 {
        return finish(svc, id, "cancelled", Some("the endpoint is turned off")).await;
    }
    let now = svc.now();
    let timestamp = now / 1000;
    let mut signatures = Vec::new();
    for s in std::iter::once(Some(sealed))
        .chain(std::iter::once(
            previous.filter(|_| previous_until.is_some_and(|u| u > now)),
        ))
        .flatten()
    {
        if let Ok(secret) = svc.secrets.open(&s)
            && let Some(sig) = webhooks::sign(secret.expose(), message_id, timestamp, payload)
        {
            signatures.push(sig);
        }
    }
    if signatures.is_empty() {
        return finish(svc, id, "failed", Some("the signing secret cannot be read")).await;
    }
    let started = Instant::now();
    let result = post_signed(
        svc,
        &url,
        &signatures.join(" "),
        message_id,
        timestamp,
        payload,
    )
    .await;
    let duration = started.elapsed().as_millis() as i64;
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, at, duration_ms, status_code, outcome, response_excerpt)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(endpoint)
    .bind(attempt)
    .bind(now)
    .bind(duration)
    .bind(result.status.map(i64::from))
    .bind(result.outcome)
    .bind(result.refused.clone().or(result.excerpt.clone()))
    .execute(&mut *svc.store.write().await?)
    .await?;
    metrics::counter!(crate::telemetry::WEBHOOK_ATTEMPTS, "outcome" => result.outcome).increment(1);
    if result.outcome == "delivered" {
        sqlx::query("UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1")
            .bind(endpoint)
            .execute(&mut *svc.store.write().await?)
            .await?;
        return finish(svc, id, "sent", None).await;
    }
    let words = result
        .refused
        .clone()
        .unwrap_or_else(|| match result.status {
            Some(code) => match result.retry_after {
                Some(d) => format!(
                    "the receiver answered {code} and asked to wait {} s",
                    d.as_secs()
                ),
                None => format!("the receiver answered {code}"),
            },
            None => result.outcome.replace('_', " "),
        });
    if result.outcome == "gone" {
        disable(
            svc,
            ws,
            endpoint,
            &name,
            "The receiver answered 410 Gone: it no longer wants these messages.",
        )
        .await?;
        return finish(svc, id, "failed", Some(&words)).await;
    }
    let wait = next_wait_ms(webhook_backoff_ms(attempt).map(jitter), result.retry_after);
    if result.status == Some(429) {
        // A receiver asking us to slow down is alive: waited for, never
        // counted towards turning it off.
        return retry_or_fail(svc, id, wait, &words).await;
    }
    let (failures,): (i64,) = sqlx::query_as(
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 WHERE id = $1 RETURNING consecutive_failures",
    )
    .bind(endpoint)
    .fetch_one(&mut *svc.store.write().await?)
    .await?;
    if failures >= DISABLE_AFTER {
        disable(
            svc,
            ws,
            endpoint,
            &name,
            &format!("{failures} deliveries in a row failed (last: {words})."),
        )
        .await?;
        return finish(svc, id, "failed", Some(&words)).await;
    }
    retry_or_fail(svc, id, wait, &words).await
}

/// Turns an endpoint off and raises Tenantry's own alert about it (to the
/// workspace's owners and managers), in one transaction.
async fn disable(
    svc: &Services,
    ws: WorkspaceId,
    endpoint: i64,
    name: &str,
    why: &str,
) -> AppResult<()> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let n = sqlx::query(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $2, updated_at = $3 WHERE id = $1 AND enabled = 1",
    )
    .bind(endpoint)
    .bind(why)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 1 {
        crate::audit::record(
            &mut tx,
            crate::audit::Entry {
                workspace: Some(ws),
                tenant: None,
                actor: None,
                actor_label: "Tenantry",
                action: crate::views::AuditAction::WebhookEndpointDisabled,
                target: name.to_string(),
                outcome: crate::views::AuditOutcome::Succeeded,
                detail: Some(why.to_string()),
            },
            now,
        )
        .await?;
        let change = lifecycle::observe(
            &mut tx,
            svc,
            &endpoint_raiser(ws),
            &Observation {
                tenant: None,
                subject: format!("endpoint:{endpoint}"),
                fingerprint: "disabled".into(),
                reference: format!("disabled:{now}"),
                title: format!("Webhook endpoint {name} was turned off"),
                detail: why.to_string(),
                evidence: vec![Evidence {
                    label: "Webhook endpoints".into(),
                    href: "/admin/alerts/rules#endpoints".into(),
                }],
            },
            now,
        )
        .await?;
        tracing::warn!(endpoint, ?change, "webhook endpoint turned off");
    }
    tx.commit().await?;
    Ok(())
}

/// Tenantry's own alerts about webhook endpoints.
pub(crate) fn endpoint_raiser(ws: WorkspaceId) -> Raiser {
    Raiser {
        workspace: ws,
        rule: None,
        condition: ConditionKind::EndpointDisabled,
        severity: Severity::Warning,
        routes: Routes::default(),
    }
}

/// Clears the endpoint's alert (it was turned on again).
pub(crate) async fn endpoint_enabled(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    ws: WorkspaceId,
    endpoint: i64,
) -> AppResult<Change> {
    lifecycle::clear(
        conn,
        svc,
        &endpoint_raiser(ws),
        None,
        &format!("endpoint:{endpoint}"),
        svc.now(),
    )
    .await
}

async fn send_ticket(
    svc: &Services,
    id: i64,
    alert: AlertId,
    event: &str,
    attempt: i64,
) -> AppResult<()> {
    let desk = crate::support::desk::configured(svc);
    if desk.kind().is_none() {
        return finish(svc, id, "failed", Some("no support desk is configured")).await;
    }
    let (announced, existing) = {
        let mut conn = svc.store.read().await?;
        let a = lifecycle::announced(&mut conn, alert).await?;
        let existing: Option<(Option<String>,)> =
            sqlx::query_as("SELECT ticket_external_id FROM alerts WHERE id = $1")
                .bind(alert.0)
                .fetch_optional(&mut *conn)
                .await?;
        (a, existing.and_then(|e| e.0))
    };
    let Some(a) = announced else {
        return finish(svc, id, "cancelled", Some("the alert is gone")).await;
    };
    let (subject, body) = lifecycle::mail_words(
        svc,
        &a,
        if event == "alert.opened" {
            lifecycle::Event::Opened
        } else {
            lifecycle::Event::Reopened
        },
    );
    let result = match &existing {
        Some(ticket) => crate::support::desk::add_note(&desk, ticket, &body)
            .await
            .map(|_| None),
        None => crate::support::desk::create_ticket(
            &desk,
            crate::support::desk::TicketRequest {
                subject: &subject,
                body: &body,
            },
        )
        .await
        .map(Some),
    };
    match result {
        Ok(Some(ticket)) => {
            sqlx::query(
                "UPDATE alerts SET ticket_reference = $2, ticket_url = $3, ticket_external_id = $4 WHERE id = $1 AND ticket_external_id IS NULL",
            )
            .bind(alert.0)
            .bind(&ticket.reference)
            .bind(&ticket.url)
            .bind(&ticket.external_id)
            .execute(&mut *svc.store.write().await?)
            .await?;
            finish(svc, id, "sent", None).await
        }
        Ok(None) => finish(svc, id, "sent", None).await,
        Err(e) => {
            tracing::warn!(alert = alert.0, attempt, error = %e, "alert ticket not sent");
            retry_or_fail(svc, id, ticket_backoff_ms(attempt), &e.to_string()).await
        }
    }
}

/// Wakes this process's senders: something was queued (by evaluation, a
/// test message or a redelivery). Other processes' senders poll.
pub fn wake() {
    WAKE.notify_one();
}

static WAKE: std::sync::LazyLock<tokio::sync::Notify> =
    std::sync::LazyLock::new(tokio::sync::Notify::new);

/// Sends due deliveries until `stop`: at once when woken, else every second.
pub async fn run_periodically(svc: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    crate::store::one_unit(async move {
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                return;
            }
            match send_due(&svc, 50).await {
                // A full batch: there is more waiting; go on at once.
                Ok(50) => {
                    failures = 0;
                    continue;
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if failures <= 3 || failures.is_multiple_of(20) {
                        tracing::warn!(error = %e, failures, "sending alert deliveries failed; retrying");
                    }
                }
            }
            tokio::select! {
                _ = WAKE.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
                _ = stop.changed() => {}
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_last_more_than_a_day_then_stop() {
        let waits: Vec<i64> = (1..).map_while(webhook_backoff_ms).collect();
        assert_eq!(waits.len(), 7);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert!(waits.iter().sum::<i64>() >= 24 * 3_600_000);
        assert_eq!(webhook_backoff_ms(0), None);
        for _ in 0..100 {
            let j = jitter(600_000);
            assert!((540_000..=660_000).contains(&j));
        }
    }

    #[test]
    fn an_excerpt_is_short_and_printable() {
        let long = "é".repeat(300);
        let e = excerpt(long.as_bytes(), EXCERPT_BYTES);
        assert!(e.len() <= EXCERPT_BYTES);
        assert_eq!(excerpt(b"ok\x1b[31m\nfine", 200), "ok[31mfine");
    }

    #[test]
    fn retry_after_lengthens_the_schedule_within_a_day_never_shortens_it() {
        let five_s = Some(5_000);
        assert_eq!(next_wait_ms(five_s, None), Some(5_000));
        assert_eq!(next_wait_ms(five_s, Some(Duration::ZERO)), Some(5_000));
        assert_eq!(
            next_wait_ms(five_s, Some(Duration::from_secs(7_200))),
            Some(7_200_000)
        );
        assert_eq!(
            next_wait_ms(five_s, Some(Duration::from_secs(u64::MAX))),
            Some(RETRY_AFTER_CAP_MS)
        );
        // Given up stays given up, whatever the receiver asks.
        assert_eq!(next_wait_ms(None, Some(Duration::from_secs(60))), None);
    }
}
