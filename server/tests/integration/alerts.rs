//! Alerts (spec 012): one alert per condition with its lifecycle, exactly
//! once across evaluators, routed to members, the desk and Standard Webhooks
//! receivers that are verified here with an implementation of the
//! specification written in this file, and never sent inside the network.

use crate::both_backends;
use crate::common::{Backend, TestApp, app};
use crate::world::{RunWorld, run_world};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use domain::alerts::rules::RuleForm;
use domain::alerts::ssrf::WebhookNetworks;
use domain::alerts::{evaluate, respond, send, webhooks};
use domain::clock::Clock;
use domain::ids::{AlertId, WorkspaceId};
use domain::rbac::Role;
use domain::runs::gate::{Initiator, StartGate, StartRequest};
use domain::runs::service::{Completion, RunService};
use domain::runs::{ReasonCode, SummaryCounts};
use std::sync::{Arc, Mutex};

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap();
    n
}

async fn workspace_of(app: &TestApp, w: &RunWorld) -> WorkspaceId {
    WorkspaceId(
        scalar(
            app,
            &format!("SELECT workspace_id FROM tenants WHERE id = {}", w.tenant),
        )
        .await,
    )
}

fn failing_probes(count: &str) -> RuleForm {
    RuleForm {
        name: "Probe keeps failing".into(),
        condition: "run_failures".into(),
        op_type: domain::runs::probe::MACHINERY_PROBE.as_str().into(),
        count: count.into(),
        window_hours: "24".into(),
        scope: "all".into(),
        severity: "critical".into(),
        roles: vec!["owner".into()],
        ..RuleForm::default()
    }
}

/// Starts a probe on the tenant and ends it as told.
async fn probe_ends(app: &TestApp, w: &RunWorld, completion: Completion) {
    let svc = &app.services;
    let req = StartRequest {
        tenant: w.tenant,
        op_type: domain::runs::probe::MACHINERY_PROBE,
        connection: None,
        args: serde_json::json!({}),
    };
    StartGate::start(svc, Initiator::Schedule, req)
        .await
        .unwrap();
    let claimed = RunService::claim(svc, "w1", 1, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    RunService::complete(svc, &claimed[0], completion)
        .await
        .unwrap();
    caught_up(svc).await;
}

/// Evaluates every ended run (PostgreSQL: once settled; another database's
/// transaction in flight can hold that back for a moment).
async fn caught_up(svc: &domain::services::Services) -> usize {
    evaluate::catch_up(svc, std::time::Duration::from_secs(30))
        .await
        .unwrap()
}

fn failed(reason: ReasonCode) -> Completion {
    Completion::failed(reason, "Graph said no")
}

async fn the_alert(app: &TestApp) -> (i64, String, i64) {
    let (id, state, n): (i64, String, i64) =
        sqlx::query_as("SELECT id, state, occurrences FROM alerts")
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap();
    (id, state, n)
}

async fn a_condition_opens_counts_reopens_and_resolves_once(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let w = run_world(&app).await;
    let ws = workspace_of(&app, &w).await;
    let svc = &app.services;
    domain::alerts::rules::create(svc, &w.owner, ws, failing_probes("3"))
        .await
        .unwrap();

    // Two failures: under the threshold, nothing.
    for _ in 0..2 {
        probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    }
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM alerts").await, 0);
    // The third opens it; more count on it.
    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    let (id, state, n) = the_alert(&app).await;
    assert_eq!((state.as_str(), n), ("open", 1));
    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    assert_eq!(the_alert(&app).await.2, 2);
    let alert = AlertId(id);
    // The shell's count and the page's Open tab say the same, for every member.
    for member in [&w.owner, &w.readonly] {
        let page = domain::alerts::page::page(svc, member, Default::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(page.counts.open, 1);
        assert_eq!(
            domain::alerts::page::open_count(svc, member).await.unwrap(),
            page.counts.open
        );
    }

    // Read-only members may look but not answer (403, audited); the owner acknowledges.
    assert_eq!(
        respond::acknowledge(svc, &w.readonly, alert, "")
            .await
            .unwrap_err(),
        domain::AppError::Forbidden
    );
    assert!(
        respond::acknowledge(svc, &w.owner, alert, "Looking into it")
            .await
            .unwrap()
    );
    assert!(
        !respond::acknowledge(svc, &w.owner, alert, "")
            .await
            .unwrap(),
        "acknowledged once"
    );
    // The same failure again: counted, still acknowledged (no news).
    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    let (_, state, n) = the_alert(&app).await;
    assert_eq!((state.as_str(), n), ("acknowledged", 3));
    // A different reason: the subject changed, it reopens.
    probe_ends(&app, &w, failed(ReasonCode::CredentialsExpired)).await;
    let (same, state, n) = the_alert(&app).await;
    assert_eq!((same, state.as_str(), n), (id, "open", 1));
    // A success clears it, once.
    probe_ends(&app, &w, Completion::succeeded(SummaryCounts::default())).await;
    assert_eq!(the_alert(&app).await.1, "resolved");
    probe_ends(&app, &w, Completion::succeeded(SummaryCounts::default())).await;
    // Seen again later: the same row opens again.
    for _ in 0..3 {
        probe_ends(&app, &w, failed(ReasonCode::ProviderTimeout)).await;
    }
    let (same, state, _) = the_alert(&app).await;
    assert_eq!((same, state.as_str()), (id, "open"));
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM alerts").await, 1);

    // Every change audited once, by whom; the owner heard of each change
    // that matters (opened, reopened, resolved, opened again), not of repeats.
    let audited = |action: &'static str| {
        let app = &app;
        async move {
            scalar(app, &format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND outcome = 'succeeded'")).await
        }
    };
    assert_eq!(audited("alert.opened").await, 1);
    assert_eq!(audited("alert.reopened").await, 2);
    assert_eq!(audited("alert.acknowledged").await, 1);
    assert_eq!(audited("alert.resolved").await, 1);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM audit_log WHERE action = 'alert.acknowledged' AND outcome = 'denied'").await,
        1
    );
    let owner_notes = scalar(
        &app,
        &format!(
            "SELECT COUNT(*) FROM notifications WHERE user_id = {} AND link = '/admin/alerts/{id}'",
            w.owner.user_id
        ),
    )
    .await;
    assert_eq!(owner_notes, 4);
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT COUNT(*) FROM notifications WHERE user_id = {}",
                w.readonly.user_id
            )
        )
        .await,
        0,
        "the rule names owners only"
    );

    // Snooze: quiet until it ends, then it wakes (still open) once.
    let until = respond::snooze(svc, &w.owner, alert, "2").await.unwrap();
    assert_eq!(until, app.clock.now_ms() + 2 * 3_600_000);
    assert!(respond::snooze(svc, &w.owner, alert, "0").await.is_err());
    assert_eq!(respond::wake_snoozed(svc).await.unwrap(), 0);
    app.clock.advance_ms(2 * 3_600_000 + 1);
    assert_eq!(respond::wake_snoozed(svc).await.unwrap(), 1);
    assert_eq!(respond::wake_snoozed(svc).await.unwrap(), 0);
    assert_eq!(audited("alert.woke").await, 1);
    // A manual resolution by someone who may.
    assert!(
        respond::resolve(svc, &w.owner, alert, "fixed the app registration")
            .await
            .unwrap()
    );
    assert_eq!(the_alert(&app).await.1, "resolved");
}

/// A failed run written straight into the table, with its end mark.
async fn insert_failed_runs(app: &TestApp, w: &RunWorld, ws: WorkspaceId, n: usize) {
    let pool = app.services.store.unguarded_pool();
    for i in 0..n {
        sqlx::query(domain::runs::sql::ending!(
            app.services.store.backend(),
            "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key, context,
                reason_code, created_at, available_at, completed_at, end_mark)
             VALUES ($1, $2, 'machinery_probe', 'completed', 'failed', 'schedule', $3, '{}', 'provider_unavailable', $4, $4, $4, ",
            ")"
        ))
        .bind(ws.0)
        .bind(w.tenant.0)
        .bind(format!("storm:{i}"))
        .bind(app.clock.now_ms())
        .execute(pool)
        .await
        .unwrap();
    }
}

/// An app whose desk is a HaloPSA simulator, with a rule that opens a
/// ticket after `failures` failed probes.
async fn with_desk(
    backend: Backend,
    failures: &str,
) -> (
    TestApp,
    RunWorld,
    WorkspaceId,
    simulators::halopsa::HaloSimulator,
    domain::services::Services,
) {
    let app = crate::common::spawn_app(backend).await;
    let w = run_world(&app).await;
    let ws = workspace_of(&app, &w).await;
    let desk = simulators::halopsa::HaloSimulator::start("tenantry", "halo-secret")
        .await
        .unwrap();
    let svc = app
        .services
        .clone()
        .with_port(domain::support::desk::DeskConfig::HaloPsa {
            base_url: desk.base_url(),
            client_id: "tenantry".into(),
            client_secret: domain::secrets::Secret::new("halo-secret"),
        });
    let mut form = failing_probes(failures);
    form.ticket = true;
    domain::alerts::rules::create(&svc, &w.owner, ws, form)
        .await
        .unwrap();
    (app, w, ws, desk, svc)
}

async fn a_storm_is_one_alert_and_one_ticket_with_two_evaluators(backend: Backend) {
    let (app, w, ws, desk, svc) = with_desk(backend, "3").await;
    insert_failed_runs(&app, &w, ws, 500).await;
    assert_eq!(evaluate::backlog(&svc).await.unwrap(), 500);

    // Two evaluators (as two processes would) take the events at once.
    let evaluator = |svc: domain::services::Services| async move {
        let mut taken = 0;
        // Until nothing is left: the other may hold the cursor a moment.
        while evaluate::backlog(&svc).await.unwrap() > 0 {
            let n = evaluate::evaluate_pending(&svc, 40).await.unwrap();
            taken += n;
            if n == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        taken
    };
    let (a, b) = tokio::join!(
        tokio::spawn(evaluator(svc.clone())),
        tokio::spawn(evaluator(svc.clone()))
    );
    assert_eq!(
        a.unwrap() + b.unwrap(),
        500,
        "every event evaluated exactly once"
    );
    assert_eq!(evaluate::backlog(&svc).await.unwrap(), 0);
    let (_, state, n) = the_alert(&app).await;
    assert_eq!(
        (state.as_str(), n),
        ("open", 500),
        "one alert counting every failure once"
    );
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM alerts").await, 1);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM alert_deliveries WHERE channel = 'ticket'"
        )
        .await,
        1
    );

    // One ticket, linked on the alert; sending again sends nothing more.
    assert_eq!(send::send_due(&svc, 50).await.unwrap(), 1);
    assert_eq!(send::send_due(&svc, 50).await.unwrap(), 0);
    assert_eq!(desk.tickets().len(), 1);
    let reference: Option<String> =
        sqlx::query_as::<_, (Option<String>,)>("SELECT ticket_reference FROM alerts")
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .unwrap()
            .0;
    assert!(reference.is_some_and(|r| r.starts_with("Halo #")));

    // It resolves and reopens: the same ticket gets a note, no second ticket.
    let alert = AlertId(the_alert(&app).await.0);
    respond::resolve(&svc, &w.owner, alert, "").await.unwrap();
    insert_failed_runs(&app, &w, ws, 1).await;
    caught_up(&svc).await;
    assert_eq!(the_alert(&app).await.1, "open");
    send::send_due(&svc, 50).await.unwrap();
    let tickets = desk.tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(
        tickets[0]["actions"].as_array().map(Vec::len),
        Some(1),
        "{tickets:?}"
    );
}

/// A receiver that keeps what it got and answers with the status it is told.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answer: Arc<Mutex<(u16, Option<String>)>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let r = Receiver {
            answer: Arc::new(Mutex::new((204, None))),
            ..Receiver::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let router = axum::Router::new()
            .route("/hooks", post(receive))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (r, url)
    }
    fn answer(&self, status: u16, location: Option<&str>) {
        *self.answer.lock().unwrap() = (status, location.map(str::to_string));
    }
    fn got(&self) -> Vec<(HeaderMap, String)> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    r.got.lock().unwrap().push((headers, body));
    let (status, location) = r.answer.lock().unwrap().clone();
    let mut response = (StatusCode::from_u16(status).unwrap(), "x".repeat(5000)).into_response();
    if let Some(l) = location {
        response
            .headers_mut()
            .insert("location", l.parse().unwrap());
    }
    response
}

/// Standard Webhooks verification by the receiver simulator's own
/// implementation of the specification (it shares no code with the signer).
fn verify(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    simulators::webhooks::verify(
        secret,
        &h("webhook-id"),
        &h("webhook-timestamp"),
        body,
        &h("webhook-signature"),
    )
}

async fn webhook_world(
    app: &TestApp,
    w: &RunWorld,
    url: &str,
) -> (WorkspaceId, domain::ids::WebhookEndpointId, String) {
    let ws = workspace_of(app, w).await;
    let svc = &app.services;
    let endpoint = webhooks::create(svc, &w.owner, ws, "On-call", url)
        .await
        .unwrap();
    let (shown, secret) = webhooks::take_reveal(svc, &w.owner, ws)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shown, endpoint);
    assert!(
        webhooks::take_reveal(svc, &w.owner, ws)
            .await
            .unwrap()
            .is_none(),
        "shown once"
    );
    let mut form = failing_probes("1");
    form.webhooks = vec![endpoint];
    domain::alerts::rules::create(svc, &w.owner, ws, form)
        .await
        .unwrap();
    (ws, endpoint, secret)
}

async fn webhooks_are_signed_retried_and_turned_off(backend: Backend) {
    let app = app(backend)
        .webhooks(WebhookNetworks::parse(&["127.0.0.1/32".into()]).unwrap())
        .spawn()
        .await;
    let w = run_world(&app).await;
    let (receiver, url) = Receiver::start().await;
    let (_, endpoint, secret) = webhook_world(&app, &w, &url).await;
    let svc = &app.services;
    let sealed: String =
        sqlx::query_as::<_, (String,)>("SELECT secret_sealed FROM webhook_endpoints")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .unwrap()
            .0;
    assert!(!sealed.contains(&secret), "the secret is sealed at rest");

    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    assert_eq!(send::send_due(svc, 10).await.unwrap(), 1);
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    assert!(
        verify(&secret, headers, body),
        "signature checks out: {headers:?}"
    );
    assert!(!verify(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        headers,
        body
    ));
    let payload: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["type"], "alert.opened");
    assert_eq!(payload["data"]["alert"]["severity"], "critical");
    assert_eq!(payload["data"]["tenant"]["name"], "Fabrikam");
    assert_eq!(payload["data"]["version"], domain::alerts::PAYLOAD_VERSION);
    let first_id = headers["webhook-id"].to_str().unwrap().to_string();

    // A sender killed after sending but before recording: the row is due
    // again and goes once more with the same webhook-id.
    sqlx::query("UPDATE alert_deliveries SET state = 'queued', next_attempt_at = 0")
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    send::send_due(svc, 10).await.unwrap();
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].0["webhook-id"].to_str().unwrap(), first_id);

    // Rotation: both secrets sign during the grace period.
    webhooks::rotate(svc, &w.owner, endpoint).await.unwrap();
    let ws = workspace_of(&app, &w).await;
    let (_, new_secret) = webhooks::take_reveal(svc, &w.owner, ws)
        .await
        .unwrap()
        .unwrap();
    webhooks::send_test(svc, &w.owner, endpoint).await.unwrap();
    send::send_due(svc, 10).await.unwrap();
    let got = receiver.got();
    let (h, b) = got.last().unwrap();
    assert!(verify(&secret, h, b) && verify(&new_secret, h, b));

    // A receiver that fails: retried on the schedule, every attempt logged
    // with at most 200 bytes of its answer, then the endpoint turns off
    // after 10 failures in a row and an alert says so.
    receiver.answer(500, None);
    probe_ends(&app, &w, Completion::succeeded(SummaryCounts::default())).await;
    let before = receiver.got().len();
    for _ in 0..40 {
        send::send_due(svc, 10).await.unwrap();
        app.clock.advance_ms(11 * 3_600_000);
        respond::wake_snoozed(svc).await.unwrap();
        probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
        probe_ends(&app, &w, Completion::succeeded(SummaryCounts::default())).await;
    }
    assert_eq!(receiver.got().len() - before, send::DISABLE_AFTER as usize);
    assert_eq!(
        scalar(&app, "SELECT enabled FROM webhook_endpoints").await,
        0
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM alerts WHERE condition = 'endpoint_disabled' AND state = 'open'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT MAX(LENGTH(response_excerpt)) FROM webhook_attempts"
        )
        .await,
        200
    );
    // Turned on again: its alert resolves, deliveries flow.
    receiver.answer(410, None);
    webhooks::set_enabled(svc, &w.owner, endpoint, true)
        .await
        .unwrap();
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM alerts WHERE condition = 'endpoint_disabled' AND state = 'open'"
        )
        .await,
        0
    );
    // 410 Gone turns it off at once.
    webhooks::send_test(svc, &w.owner, endpoint).await.unwrap();
    send::send_due(svc, 10).await.unwrap();
    assert_eq!(
        scalar(&app, "SELECT enabled FROM webhook_endpoints").await,
        0
    );
    // Redelivery keeps the message's id.
    let (delivery, msg): (i64, String) =
        sqlx::query_as("SELECT id, message_id FROM alert_deliveries ORDER BY id LIMIT 1")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .unwrap();
    webhooks::redeliver(svc, &w.owner, domain::ids::AlertDeliveryId(delivery))
        .await
        .unwrap();
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT COUNT(*) FROM alert_deliveries WHERE message_id = '{msg}'")
        )
        .await,
        2
    );
    // Read-only members manage nothing (403).
    assert_eq!(
        webhooks::rotate(svc, &w.readonly, endpoint)
            .await
            .unwrap_err(),
        domain::AppError::Forbidden
    );
}

async fn webhooks_never_reach_inside(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let w = run_world(&app).await;
    let ws = workspace_of(&app, &w).await;
    let svc = &app.services;
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "ftp://example.com/",
        "https://user:pw@example.com/",
    ] {
        let e = webhooks::create(svc, &w.owner, ws, "Inside", url)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, domain::AppError::Invalid { field: Some(f), .. } if f == "url"),
            "{url}: {e:?}"
        );
    }
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM webhook_endpoints").await,
        0,
        "nothing half-saved"
    );

    // A name that resolves to 127.0.0.1 passes the shape check but is
    // refused when sending; the receiver hears nothing.
    let (receiver, url) = Receiver::start().await;
    let by_name = url.replace("127.0.0.1", "localhost");
    let (_, _endpoint, _) = webhook_world(&app, &w, &by_name).await;
    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    send::send_due(svc, 10).await.unwrap();
    assert!(receiver.got().is_empty());
    let outcome: String = sqlx::query_as::<_, (String,)>("SELECT outcome FROM webhook_attempts")
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap()
        .0;
    assert_eq!(outcome, "refused");

    // Allowed to reach 127.0.0.1, a redirect to elsewhere is not followed.
    let app = app_allowing_loopback(backend).await;
    let w = run_world(&app).await;
    let (inside, inside_url) = Receiver::start().await;
    let (receiver, url) = Receiver::start().await;
    receiver.answer(302, Some(&inside_url));
    webhook_world(&app, &w, &url).await;
    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    send::send_due(&app.services, 10).await.unwrap();
    assert_eq!(receiver.got().len(), 1);
    assert!(inside.got().is_empty(), "the redirect was followed");
    let outcome: String = sqlx::query_as::<_, (String,)>("SELECT outcome FROM webhook_attempts")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap()
        .0;
    assert_eq!(outcome, "redirect_not_followed");
}

/// Receivers that hang, flood or throttle: every attempt ends within the
/// deadline, reads no more of an answer than its excerpt, and `Retry-After`
/// (seconds or an HTTP-date) lengthens the wait up to a day, never shortens
/// it, and does not count towards turning the endpoint off.
async fn receivers_that_hang_flood_or_throttle(backend: Backend) {
    use axum::extract::Path;
    let app = app_allowing_loopback(backend).await;
    let w = run_world(&app).await;
    let svc = &app.services;
    let asked = Arc::new(Mutex::new(String::from("7200")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route(
            "/hang",
            post(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(300)).await;
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/flood/{code}",
            post(|Path(code): Path<u16>| async move {
                let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
                let endless =
                    futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
                (
                    StatusCode::from_u16(code).unwrap(),
                    axum::body::Body::from_stream(endless),
                )
            }),
        )
        .route(
            "/throttled",
            post({
                let asked = asked.clone();
                move || async move {
                    let wait = asked.lock().unwrap().clone();
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", wait)],
                        "slow down",
                    )
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await });

    let started = std::time::Instant::now();
    let hung = send::post_signed(svc, &format!("{base}/hang"), "v1,x", "msg_hang", 0, "{}").await;
    assert_eq!(hung.outcome, "timed_out");
    assert!(started.elapsed() < send::WEBHOOK_DEADLINE + std::time::Duration::from_secs(3));
    for (code, outcome) in [(500, "refused_by_receiver"), (200, "delivered")] {
        let started = std::time::Instant::now();
        let flooded = send::post_signed(
            svc,
            &format!("{base}/flood/{code}"),
            "v1,x",
            "msg_flood",
            0,
            "{}",
        )
        .await;
        assert_eq!((flooded.status, flooded.outcome), (Some(code), outcome));
        assert!(
            flooded
                .excerpt
                .is_some_and(|e| e.len() <= send::EXCERPT_BYTES)
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "an endless answer is not read to its end"
        );
    }

    let (_, endpoint, _) = webhook_world(&app, &w, &format!("{base}/throttled")).await;
    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    let due = || async {
        sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT state, next_attempt_at, attempts FROM alert_deliveries WHERE channel = 'webhook'",
        )
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap()
    };
    let failures = || async {
        sqlx::query_as::<_, (i64,)>(
            "SELECT consecutive_failures FROM webhook_endpoints WHERE id = $1",
        )
        .bind(endpoint.0)
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap()
        .0
    };
    const HOUR: i64 = 3_600_000;
    // Seconds: two hours instead of the schedule's 5 s.
    assert_eq!(send::send_due(svc, 10).await.unwrap(), 1);
    let (state, next, _) = due().await;
    assert_eq!(state, "queued");
    assert_eq!(next - app.clock.now_ms(), 2 * HOUR);
    // An HTTP-date three hours ahead (of the app's clock).
    app.clock.advance_ms(2 * HOUR);
    let at = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis((app.clock.now_ms() + 3 * HOUR) as u64);
    *asked.lock().unwrap() = httpdate::fmt_http_date(at);
    assert_eq!(send::send_due(svc, 10).await.unwrap(), 1);
    let wait = due().await.1 - app.clock.now_ms();
    assert!((3 * HOUR - 1_000..=3 * HOUR).contains(&wait), "{wait}");
    // Asking for a year gets a day.
    app.clock.advance_ms(3 * HOUR);
    *asked.lock().unwrap() = "31536000".into();
    assert_eq!(send::send_due(svc, 10).await.unwrap(), 1);
    assert_eq!(due().await.1 - app.clock.now_ms(), send::RETRY_AFTER_CAP_MS);
    // Asking for nothing (or nonsense) gets the schedule: attempt 4 waits 2 h ± 10 %.
    app.clock.advance_ms(send::RETRY_AFTER_CAP_MS);
    *asked.lock().unwrap() = "0".into();
    assert_eq!(send::send_due(svc, 10).await.unwrap(), 1);
    let (state, next, attempts) = due().await;
    assert_eq!((state.as_str(), attempts), ("queued", 4));
    let wait = next - app.clock.now_ms();
    assert!(
        (2 * HOUR * 9 / 10..=2 * HOUR * 11 / 10).contains(&wait),
        "{wait}"
    );
    assert_eq!(failures().await, 0, "a throttling receiver is alive");
}

/// A desk that hangs or fails: the ticket waits and is created once when
/// the desk answers again; a reopening's note likewise.
async fn tickets_wait_out_a_desk_that_hangs_or_fails(backend: Backend) {
    use simulators::halopsa::DeskFault;
    let (app, w, _, desk, svc) = with_desk(backend, "1").await;
    let ticket = || async {
        sqlx::query_as::<_, (String, i64, Option<String>)>(
            "SELECT state, next_attempt_at, last_error FROM alert_deliveries WHERE channel = 'ticket' ORDER BY id DESC",
        )
        .fetch_one(svc.store.unguarded_pool())
        .await
        .unwrap()
    };
    desk.set_fault(DeskFault::Slow { delay_ms: 60_000 });
    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    let started = std::time::Instant::now();
    send::send_due(&svc, 10).await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the desk's hang is cut short"
    );
    let (state, next, error) = ticket().await;
    assert_eq!(state, "queued");
    assert!(next > app.clock.now_ms());
    assert!(error.is_some());
    desk.set_fault(DeskFault::ServerError);
    app.clock.advance_ms(next - app.clock.now_ms());
    send::send_due(&svc, 10).await.unwrap();
    let (state, next, error) = ticket().await;
    assert_eq!(state, "queued");
    assert!(
        !error.unwrap_or_default().contains("internal detail"),
        "the desk's words stay out"
    );
    assert!(desk.tickets().is_empty());
    desk.set_fault(DeskFault::None);
    app.clock.advance_ms(next - app.clock.now_ms());
    send::send_due(&svc, 10).await.unwrap();
    assert_eq!(ticket().await.0, "sent");
    assert_eq!(desk.tickets().len(), 1);

    // Resolved and opened again while the desk fails: the note waits too.
    let alert = AlertId(the_alert(&app).await.0);
    respond::resolve(&svc, &w.owner, alert, "").await.unwrap();
    desk.set_fault(DeskFault::ServerError);
    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    send::send_due(&svc, 10).await.unwrap();
    let (state, next, _) = ticket().await;
    assert_eq!(state, "queued");
    desk.set_fault(DeskFault::None);
    app.clock.advance_ms(next - app.clock.now_ms());
    send::send_due(&svc, 10).await.unwrap();
    assert_eq!(ticket().await.0, "sent");
    let tickets = desk.tickets();
    assert_eq!(tickets.len(), 1, "no second ticket");
    assert_eq!(tickets[0]["actions"].as_array().map(Vec::len), Some(1));
}

/// Every way a run ends writes its end mark, and evaluation follows the
/// marks in commit order: on PostgreSQL an end in a transaction still open
/// holds back every later end until it commits (a plain cursor over ids or
/// times would pass it and never come back).
async fn every_end_is_marked_and_followed_in_commit_order(backend: Backend) {
    use domain::runs::model::ReconciliationRecord;
    use domain::runs::{RunStatus, StartDecision};
    let app = crate::common::spawn_app(backend).await;
    let w = run_world(&app).await;
    let ws = workspace_of(&app, &w).await;
    let svc = &app.services;
    domain::alerts::rules::create(svc, &w.owner, ws, failing_probes("1"))
        .await
        .unwrap();
    let record = ReconciliationRecord {
        seen_at: app.clock.now_ms(),
        status_seen: RunStatus::Queued,
        lease_owner: None,
        lease_expired_at: None,
        last_heartbeat_at: None,
        attempts: 0,
        action: "failed".into(),
        why: "seen by the test".into(),
    };
    let start = || async {
        let probe = StartRequest {
            tenant: w.tenant,
            op_type: domain::runs::probe::MACHINERY_PROBE,
            connection: None,
            args: serde_json::json!({}),
        };
        StartGate::start(svc, Initiator::Schedule, probe)
            .await
            .unwrap()
    };
    // By its worker.
    probe_ends(&app, &w, failed(ReasonCode::ProviderUnavailable)).await;
    // Cancelled while queued.
    let queued = start().await.run;
    assert_eq!(
        RunService::cancel(svc, &w.owner, queued).await.unwrap(),
        domain::runs::service::Cancellation::Cancelled
    );
    // Never started, by the reconciler.
    let queued = start().await.run;
    assert!(
        RunService::end_never_started(svc, queued, &record)
            .await
            .unwrap()
    );
    // Over its time limit, and past its lease.
    for stale in [false, true] {
        start().await;
        let claimed = RunService::claim(svc, "w1", 1, 60_000).await.unwrap();
        let (run, attempt) = (claimed[0].id, claimed[0].attempt);
        let ended = if stale {
            app.clock.advance_ms(61_000);
            RunService::fail_stale(svc, run, attempt, &record)
                .await
                .unwrap()
        } else {
            RunService::end_overrun(svc, run, attempt, &record)
                .await
                .unwrap()
        };
        assert!(ended);
    }
    // Blocked at the gate (written ended).
    sqlx::query("UPDATE provider_connections SET consent = 'missing' WHERE id = $1")
        .bind(w.connection.0)
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    assert_eq!(start().await.decision, StartDecision::Blocked);
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM operation_runs WHERE status = 'completed' AND end_mark IS NULL"
        )
        .await,
        0,
        "every end is marked"
    );
    assert_eq!(evaluate::backlog(svc).await.unwrap(), 5);
    assert_eq!(caught_up(svc).await, 5);
    assert_eq!(
        the_alert(&app).await.2,
        5,
        "each failed or blocked end counted once"
    );

    if backend == Backend::Postgres {
        app.clock.advance_ms(1);
        let held = running_run(&app, ws, w.tenant, "machinery_probe").await;
        app.clock.advance_ms(1);
        let later = running_run(&app, ws, w.tenant, "machinery_probe").await;
        let pool = svc.store.unguarded_pool();
        let mut open = pool.begin().await.unwrap();
        sqlx::query(end_statement(svc))
            .bind(held)
            .bind("failed")
            .bind(Some("provider_unavailable"))
            .bind(app.clock.now_ms())
            .execute(&mut *open)
            .await
            .unwrap();
        sqlx::query(end_statement(svc))
            .bind(later)
            .bind("failed")
            .bind(Some("provider_unavailable"))
            .bind(app.clock.now_ms())
            .execute(pool)
            .await
            .unwrap();
        assert_eq!(evaluate::backlog(svc).await.unwrap(), 1);
        assert_eq!(
            evaluate::evaluate_pending(svc, 100).await.unwrap(),
            0,
            "the later end waits for the one still in flight"
        );
        open.commit().await.unwrap();
        assert_eq!(caught_up(svc).await, 2);
        assert_eq!(the_alert(&app).await.2, 7);
    }
}

async fn app_allowing_loopback(backend: Backend) -> TestApp {
    app(backend)
        .webhooks(WebhookNetworks::parse(&["127.0.0.1/32".into()]).unwrap())
        .spawn()
        .await
}

async fn expiring_credentials_and_rules_that_refuse_bad_input(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let w = run_world(&app).await;
    let ws = workspace_of(&app, &w).await;
    let svc = &app.services;
    // Bad input names its field and saves nothing.
    let mut bad = failing_probes("0");
    let e = domain::alerts::rules::create(svc, &w.owner, ws, bad.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(e, domain::AppError::Invalid { field: Some(ref f), .. } if f == "count"),
        "{e:?}"
    );
    bad.count = "3".into();
    bad.mail = "not-an-address".into();
    let e = domain::alerts::rules::create(svc, &w.owner, ws, bad.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(e, domain::AppError::Invalid { field: Some(ref f), .. } if f == "mail"),
        "{e:?}"
    );
    bad.mail.clear();
    bad.ticket = true;
    assert!(
        domain::alerts::rules::create(svc, &w.owner, ws, bad)
            .await
            .is_err(),
        "no desk configured"
    );
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM alert_rules").await, 0);
    assert_eq!(
        domain::alerts::rules::create(svc, &w.readonly, ws, failing_probes("3"))
            .await
            .unwrap_err(),
        domain::AppError::Forbidden
    );

    let form = RuleForm {
        name: "Secrets".into(),
        condition: "credential_expiring".into(),
        days: "14".into(),
        scope: "all".into(),
        severity: "warning".into(),
        roles: vec![Role::Owner.as_str().into()],
        ..RuleForm::default()
    };
    domain::alerts::rules::create(svc, &w.owner, ws, form)
        .await
        .unwrap();
    let now = app.clock.now_ms();
    let day = 24 * 3_600_000;
    sqlx::query("UPDATE provider_connections SET credential_expires_at = $1")
        .bind(now + 20 * day)
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    assert!(evaluate::daily_sweep(svc).await.unwrap());
    assert!(!evaluate::daily_sweep(svc).await.unwrap(), "once a day");
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM alerts").await,
        0,
        "20 days is not within 14"
    );
    app.clock.advance_ms(7 * day);
    assert!(evaluate::daily_sweep(svc).await.unwrap());
    let (_, state, n) = the_alert(&app).await;
    assert_eq!((state.as_str(), n), ("open", 1));
    app.clock.advance_ms(day);
    evaluate::daily_sweep(svc).await.unwrap();
    assert_eq!(the_alert(&app).await.2, 2, "counted once a day");
    // Renewed: it resolves.
    sqlx::query("UPDATE provider_connections SET credential_expires_at = $1")
        .bind(app.clock.now_ms() + 365 * day)
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    app.clock.advance_ms(day);
    evaluate::daily_sweep(svc).await.unwrap();
    assert_eq!(the_alert(&app).await.1, "resolved");
}

both_backends!(
    a_condition_opens_counts_reopens_and_resolves_once,
    a_storm_is_one_alert_and_one_ticket_with_two_evaluators,
    webhooks_are_signed_retried_and_turned_off,
    webhooks_never_reach_inside,
    expiring_credentials_and_rules_that_refuse_bad_input,
    connection_drift_compliance_and_baseline_conditions,
    fire_and_bulk_conditions,
    receivers_that_hang_flood_or_throttle,
    every_end_is_marked_and_followed_in_commit_order,
    tickets_wait_out_a_desk_that_hangs_or_fails,
);

/// A run of `op` on the tenant, left running (its results are written next).
async fn running_run(
    app: &TestApp,
    ws: WorkspaceId,
    tenant: domain::ids::TenantId,
    op: &str,
) -> i64 {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO operation_runs (workspace_id, tenant_id, op_type, status, outcome, initiator_kind, scope_key, context,
            attempts, created_at, available_at, started_at)
         VALUES ($1, $2, $3, 'running', 'pending', 'schedule', $4, '{}', 1, $5, $5, $5) RETURNING id",
    )
    .bind(ws.0)
    .bind(tenant.0)
    .bind(op)
    .bind(format!("{op}:{}", app.clock.now_ms()))
    .bind(app.clock.now_ms())
    .fetch_one(app.services.store.unguarded_pool())
    .await
    .unwrap();
    id
}

/// The statement a test ends a run with, as the engine's own do: with its end mark.
fn end_statement(svc: &domain::services::Services) -> &'static str {
    domain::runs::sql::ending!(
        svc.store.backend(),
        "UPDATE operation_runs SET status = 'completed', outcome = $2, reason_code = $3, completed_at = $4, end_mark = ",
        " WHERE id = $1"
    )
}

/// Ends it and evaluates.
async fn end_run(app: &TestApp, run: i64, outcome: &str, reason: Option<&str>) {
    sqlx::query(end_statement(&app.services))
        .bind(run)
        .bind(outcome)
        .bind(reason)
        .bind(app.clock.now_ms())
        .execute(app.services.store.unguarded_pool())
        .await
        .unwrap();
    caught_up(&app.services).await;
    app.clock.advance_ms(1000);
}

async fn alert_of(app: &TestApp, subject: &str) -> (i64, String, i64) {
    sqlx::query_as("SELECT id, state, occurrences FROM alerts WHERE subject = $1")
        .bind(subject)
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .unwrap()
}

fn rule_of(condition: &str) -> RuleForm {
    RuleForm {
        name: condition.into(),
        condition: condition.into(),
        percent: "80".into(),
        scope: "all".into(),
        severity: "warning".into(),
        ..RuleForm::default()
    }
}

async fn drift_after(
    app: &TestApp,
    ws: WorkspaceId,
    tenant: domain::ids::TenantId,
    snapshot: i64,
    entries: &[(&str, &str, &str)],
) {
    let run = running_run(app, ws, tenant, "inventory_sync").await;
    for (change, id, settings) in entries {
        sqlx::query(
            "INSERT INTO drift_entries (workspace_id, tenant_id, snapshot_id, previous_snapshot_id, run_id, attempt, change, kind,
                external_id, display_name, search_name, settings, detected_at)
             VALUES ($1, $2, $3, $3, $4, 1, $5, 'device_configuration', $6, $6, $6, $7, 0)",
        )
        .bind(ws.0)
        .bind(tenant.0)
        .bind(snapshot)
        .bind(run)
        .bind(*change)
        .bind(*id)
        .bind(*settings)
        .execute(app.services.store.unguarded_pool())
        .await
        .unwrap();
    }
    end_run(app, run, "succeeded", None).await;
}

async fn compliance_after(
    app: &TestApp,
    ws: WorkspaceId,
    tenant: domain::ids::TenantId,
    compliant: i64,
    not: i64,
) {
    let run = running_run(app, ws, tenant, "compliance_snapshot").await;
    sqlx::query(
        "INSERT INTO compliance_snapshots (tenant_id, run_id, taken_at, compliant, noncompliant, in_grace_period, other)
         VALUES ($1, $2, 0, $3, $4, 0, 0)",
    )
    .bind(tenant.0)
    .bind(run)
    .bind(compliant)
    .bind(not)
    .execute(app.services.store.unguarded_pool())
    .await
    .unwrap();
    end_run(app, run, "succeeded", None).await;
}

async fn compare_after(
    app: &TestApp,
    ws: WorkspaceId,
    tenant: domain::ids::TenantId,
    baseline: i64,
    states: [&str; 2],
) {
    let pool = app.services.store.unguarded_pool();
    let run = running_run(app, ws, tenant, "baseline_compare").await;
    let (result,): (i64,) = sqlx::query_as(
        "INSERT INTO baseline_results (workspace_id, tenant_id, baseline_id, version, snapshot_id, run_id, attempt, aligned, different, missing, extras, compared_at)
         VALUES ($1, $2, $3, 1, 0, $4, 1, 0, 0, 0, '[]', 0) RETURNING id",
    )
    .bind(ws.0)
    .bind(tenant.0)
    .bind(baseline)
    .bind(run)
    .fetch_one(pool)
    .await
    .unwrap();
    for (i, state) in states.iter().enumerate() {
        sqlx::query("INSERT INTO baseline_result_items (result_id, item_no, state, settings) VALUES ($1, $2, $3, '[]')")
            .bind(result)
            .bind(i as i64 + 1)
            .bind(*state)
            .execute(pool)
            .await
            .unwrap();
    }
    end_run(app, run, "succeeded", None).await;
}

async fn connection_drift_compliance_and_baseline_conditions(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let w = run_world(&app).await;
    let ws = workspace_of(&app, &w).await;
    let svc = &app.services;
    for c in [
        "connection_failing",
        "drift_detected",
        "compliance_below",
        "baseline_deviation",
    ] {
        domain::alerts::rules::create(svc, &w.owner, ws, rule_of(c))
            .await
            .unwrap();
    }

    // Consent lost: opens, counts, reopens on another reason once acknowledged, resolves on success.
    let probe = domain::runs::probe::MACHINERY_PROBE.as_str();
    let run = running_run(&app, ws, w.tenant, probe).await;
    end_run(&app, run, "blocked", Some("consent_missing")).await;
    let (id, state, _) = alert_of(&app, "connection").await;
    assert_eq!(state, "open");
    let run = running_run(&app, ws, w.tenant, probe).await;
    end_run(&app, run, "blocked", Some("consent_missing")).await;
    assert_eq!(alert_of(&app, "connection").await.2, 2);
    // A failure that is not the connection's does not count.
    let run = running_run(&app, ws, w.tenant, probe).await;
    end_run(&app, run, "failed", Some("provider_timeout")).await;
    assert_eq!(alert_of(&app, "connection").await.2, 2);
    respond::acknowledge(svc, &w.owner, AlertId(id), "")
        .await
        .unwrap();
    let run = running_run(&app, ws, w.tenant, probe).await;
    end_run(&app, run, "failed", Some("credentials_expired")).await;
    assert_eq!(
        alert_of(&app, "connection").await.1,
        "open",
        "a new reason reopens it"
    );
    let run = running_run(&app, ws, w.tenant, probe).await;
    end_run(&app, run, "succeeded", None).await;
    assert_eq!(alert_of(&app, "connection").await.1, "resolved");

    // Drift: the same changes again count; different ones reopen an
    // acknowledged alert; a sync without drift resolves it.
    let (snapshot,): (i64,) = sqlx::query_as(
        "INSERT INTO inventory_snapshots (tenant_id, run_id, taken_at, device_configurations, compliance_policies, managed_devices)
         VALUES ($1, 0, 0, 0, 0, 0) RETURNING id",
    )
    .bind(w.tenant.0)
    .fetch_one(svc.store.unguarded_pool())
    .await
    .unwrap();
    let two = [
        (
            "changed",
            "pol-1",
            r#"[{"setting":"a","before":1,"after":2}]"#,
        ),
        ("added", "pol-2", "[]"),
    ];
    drift_after(&app, ws, w.tenant, snapshot, &two).await;
    let (drift, state, n) = alert_of(&app, "drift:any").await;
    assert_eq!((state.as_str(), n), ("open", 1));
    let title: String =
        sqlx::query_as::<_, (String,)>("SELECT title FROM alerts WHERE subject = 'drift:any'")
            .fetch_one(svc.store.unguarded_pool())
            .await
            .unwrap()
            .0;
    assert_eq!(title, "Drift on Fabrikam: 1 changed, 1 added, 0 removed");
    respond::acknowledge(svc, &w.owner, AlertId(drift), "")
        .await
        .unwrap();
    drift_after(&app, ws, w.tenant, snapshot, &two).await;
    assert_eq!(
        alert_of(&app, "drift:any").await.1,
        "acknowledged",
        "the same drift again is no news"
    );
    drift_after(
        &app,
        ws,
        w.tenant,
        snapshot,
        &[(
            "changed",
            "pol-1",
            r#"[{"setting":"a","before":1,"after":3}]"#,
        )],
    )
    .await;
    assert_eq!(
        alert_of(&app, "drift:any").await.1,
        "open",
        "another value reopens it"
    );
    drift_after(&app, ws, w.tenant, snapshot, &[]).await;
    assert_eq!(alert_of(&app, "drift:any").await.1, "resolved");

    // Compliance under 80 %: opens; over: resolves.
    compliance_after(&app, ws, w.tenant, 5, 5).await;
    assert_eq!(alert_of(&app, "compliance").await.1, "open");
    compliance_after(&app, ws, w.tenant, 6, 4).await;
    assert_eq!(alert_of(&app, "compliance").await.2, 2);
    compliance_after(&app, ws, w.tenant, 9, 1).await;
    assert_eq!(alert_of(&app, "compliance").await.1, "resolved");
    if backend == Backend::Sqlite {
        // A row evaluation cannot read (SQLite stores what it is given):
        // that run is skipped with a log line, the runs beside it are not.
        let poison = running_run(&app, ws, w.tenant, "compliance_snapshot").await;
        sqlx::query(
            "INSERT INTO compliance_snapshots (tenant_id, run_id, taken_at, compliant, noncompliant, in_grace_period, other)
             VALUES ($1, $2, 0, 'many', 1, 0, 0)",
        )
        .bind(w.tenant.0)
        .bind(poison)
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
        let after = running_run(&app, ws, w.tenant, probe).await;
        for (run, outcome, reason) in [
            (poison, "succeeded", None),
            (after, "blocked", Some("consent_missing")),
        ] {
            sqlx::query(end_statement(svc))
                .bind(run)
                .bind(outcome)
                .bind(reason)
                .bind(app.clock.now_ms())
                .execute(svc.store.unguarded_pool())
                .await
                .unwrap();
        }
        assert_eq!(caught_up(svc).await, 2);
        assert_eq!(evaluate::backlog(svc).await.unwrap(), 0);
        assert_eq!(
            alert_of(&app, "connection").await.1,
            "open",
            "the run after the unreadable one was evaluated"
        );
        sqlx::query("DELETE FROM compliance_snapshots WHERE run_id = $1")
            .bind(poison)
            .execute(svc.store.unguarded_pool())
            .await
            .unwrap();
        let run = running_run(&app, ws, w.tenant, probe).await;
        end_run(&app, run, "succeeded", None).await;
    }

    // Baseline items: one alert per deviating item, resolved when aligned.
    let pool = svc.store.unguarded_pool();
    let (baseline,): (i64,) = sqlx::query_as(
        "INSERT INTO baselines (workspace_id, name, search_name, current_version, changed_at, created_at)
         VALUES ($1, 'Standard', 'standard', 1, 0, 0) RETURNING id",
    )
    .bind(ws.0)
    .fetch_one(pool)
    .await
    .unwrap();
    let (version,): (i64,) = sqlx::query_as(
        "INSERT INTO baseline_versions (baseline_id, version, template_name, note, created_at) VALUES ($1, 1, 'x', '', 0) RETURNING id",
    )
    .bind(baseline)
    .fetch_one(pool)
    .await
    .unwrap();
    for (no, name) in [(1, "Passwords"), (2, "BitLocker")] {
        sqlx::query("INSERT INTO baseline_items (version_id, item_no, kind, display_name, settings, rules) VALUES ($1, $2, 'device_configuration', $3, '{}', '{}')")
            .bind(version)
            .bind(no)
            .bind(name)
            .execute(pool)
            .await
            .unwrap();
    }
    compare_after(&app, ws, w.tenant, baseline, ["different", "aligned"]).await;
    let one = format!("baseline:{baseline}:item:1");
    let two = format!("baseline:{baseline}:item:2");
    assert_eq!(alert_of(&app, &one).await.1, "open");
    compare_after(&app, ws, w.tenant, baseline, ["aligned", "missing"]).await;
    assert_eq!(alert_of(&app, &one).await.1, "resolved");
    assert_eq!(alert_of(&app, &two).await.1, "open");
    let title: String =
        sqlx::query_as::<_, (String,)>("SELECT title FROM alerts WHERE subject = $1")
            .bind(&two)
            .fetch_one(pool)
            .await
            .unwrap()
            .0;
    assert_eq!(
        title,
        "BitLocker is missing from baseline Standard on Fabrikam"
    );
    // Exactly once each: openings and resolutions audited once per change.
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'alert.resolved'"
        )
        .await,
        if backend == Backend::Sqlite { 5 } else { 4 }
    );
}

async fn fire_and_bulk_conditions(backend: Backend) {
    use domain::schedules::{bulk, service};
    let app = crate::common::spawn_app(backend).await;
    let w = run_world(&app).await;
    let ws = workspace_of(&app, &w).await;
    let svc = &app.services;
    domain::alerts::rules::create(svc, &w.owner, ws, rule_of("fire_problems"))
        .await
        .unwrap();
    domain::alerts::rules::create(svc, &w.owner, ws, rule_of("bulk_failures"))
        .await
        .unwrap();
    // A workspace-wide condition cannot be narrowed to tenants.
    let mut narrowed = rule_of("bulk_failures");
    narrowed.scope = "tenants".into();
    narrowed.tenants = vec![w.tenant];
    assert!(
        domain::alerts::rules::create(svc, &w.owner, ws, narrowed)
            .await
            .is_err()
    );

    let work_off = |outcome: Completion| {
        let svc = svc.clone();
        async move {
            let claimed = RunService::claim(&svc, "w1", 10, 60_000).await.unwrap();
            assert!(!claimed.is_empty());
            for c in &claimed {
                RunService::complete(&svc, c, outcome.clone())
                    .await
                    .unwrap();
            }
            caught_up(&svc).await;
        }
    };
    // A bulk whose run fails: one alert about the operation's bulks; a clean one resolves it.
    bulk::start(
        svc,
        &w.owner,
        ws,
        "role_definitions_sync",
        bulk::Selection::Matching { tag: None },
    )
    .await
    .unwrap();
    work_off(failed(ReasonCode::ProviderUnavailable)).await;
    let (_, state, n) = alert_of(&app, "bulk:role_definitions_sync").await;
    assert_eq!((state.as_str(), n), ("open", 1));
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM alerts WHERE tenant_id IS NULL").await,
        1,
        "about the workspace"
    );
    // Evaluating the same finished bulk again counts nothing.
    sqlx::query("UPDATE run_end_cursors SET end_mark = 0, run_id = 0")
        .execute(svc.store.unguarded_pool())
        .await
        .unwrap();
    caught_up(svc).await;
    assert_eq!(alert_of(&app, "bulk:role_definitions_sync").await.2, 1);
    bulk::start(
        svc,
        &w.owner,
        ws,
        "role_definitions_sync",
        bulk::Selection::Matching { tag: None },
    )
    .await
    .unwrap();
    work_off(Completion::succeeded(SummaryCounts::default())).await;
    assert_eq!(
        alert_of(&app, "bulk:role_definitions_sync").await.1,
        "resolved"
    );

    // A schedule's fire with a failed start, then a clean one.
    let schedule = service::create(
        svc,
        &w.owner,
        ws,
        service::ScheduleForm {
            name: "Every minute".into(),
            op_type: "role_definitions_sync".into(),
            target: "all".into(),
            cron: "* * * * *".into(),
            time_zone: "UTC".into(),
            spread_seconds: "0".into(),
        },
    )
    .await
    .unwrap();
    app.clock.advance_ms(61_000);
    assert_eq!(service::fire_due(svc.clone()).await.unwrap(), 1);
    work_off(failed(ReasonCode::ProviderTimeout)).await;
    let subject = format!("schedule:{schedule}");
    let (_, state, _) = alert_of(&app, &subject).await;
    assert_eq!(state, "open");
    app.clock.advance_ms(60_000);
    assert_eq!(service::fire_due(svc.clone()).await.unwrap(), 1);
    work_off(Completion::succeeded(SummaryCounts::default())).await;
    assert_eq!(alert_of(&app, &subject).await.1, "resolved");
}
