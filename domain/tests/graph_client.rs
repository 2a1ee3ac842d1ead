//! The Graph client against the Graph simulator over real HTTP: paging,
//! token caching, Retry-After, timeouts and every classified failure.

use domain::provider::graph::{
    ApiVersion, AppCredentials, GraphClient, GraphEndpoints, GraphError, GraphPolicy,
};
use domain::secrets::Secret;
use simulators::graph::{Fault, GraphSimulator, SimTenant, TenantSize};
use std::time::{Duration, Instant};

const TENANT: &str = "3f0c2b6e-5a1d-4c8e-9b7a-1d2e3f4a5b6c";
const CLIENT: &str = "5e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b";

async fn setup(fault: Fault, policy: GraphPolicy) -> (GraphSimulator, GraphClient) {
    let size = TenantSize {
        groups: 250,
        ..TenantSize::default()
    };
    let sim = GraphSimulator::start(vec![
        SimTenant::healthy(TENANT, "Contoso", CLIENT, "right-secret")
            .with_size(size)
            .with_fault(fault),
    ])
    .await
    .expect("simulator starts");
    let client = GraphClient::new(
        GraphEndpoints {
            authority: sim.authority_url(),
            graph: sim.graph_url(),
        },
        policy,
    );
    (sim, client)
}

fn creds(secret: &str) -> AppCredentials {
    AppCredentials {
        entra_tenant_id: TENANT.into(),
        client_id: CLIENT.into(),
        client_secret: Secret::new(secret),
    }
}

fn quick() -> GraphPolicy {
    GraphPolicy {
        request_timeout: Duration::from_millis(500),
        max_retries: 2,
        max_retry_after: Duration::from_secs(5),
        default_backoff: Duration::from_millis(50),
        ..GraphPolicy::default()
    }
}

#[tokio::test]
async fn pages_are_followed_and_tokens_cached() {
    let (sim, client) = setup(Fault::None, quick()).await;
    let groups = client
        .get_all(&creds("right-secret"), ApiVersion::V1, "groups")
        .await
        .expect("groups");
    assert_eq!(groups.len(), 250);
    assert_eq!(sim.graph_requests(TENANT), 3, "100 + 100 + 50");
    let ids: std::collections::HashSet<_> = groups.iter().map(|g| g["id"].to_string()).collect();
    assert_eq!(ids.len(), 250, "no page repeated");
    client
        .get_all(&creds("right-secret"), ApiVersion::V1, "organization")
        .await
        .expect("organization");
    assert_eq!(sim.token_requests(TENANT), 1, "the token is reused");
    // A rotated secret never reuses the old token.
    let err = client
        .get_all(&creds("new-secret"), ApiVersion::V1, "organization")
        .await;
    assert_eq!(err, Err(GraphError::CredentialsInvalid));
    assert_eq!(sim.token_requests(TENANT), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (sim, client) = setup(
        Fault::Throttle {
            retry_after_secs: 1,
            every: 2,
        },
        quick(),
    )
    .await;
    let started = Instant::now();
    let groups = client
        .get_all(&creds("right-secret"), ApiVersion::V1, "groups")
        .await
        .expect("groups after retries");
    assert_eq!(groups.len(), 250);
    // Requests 2 and 4 are throttled: two waits of one second each.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sim.graph_requests(TENANT), 5);
}

#[tokio::test]
async fn persistent_throttling_gives_up_after_bounded_retries() {
    let (sim, client) = setup(
        Fault::Throttle {
            retry_after_secs: 1,
            every: 1,
        },
        quick(),
    )
    .await;
    let err = client
        .get_all(&creds("right-secret"), ApiVersion::V1, "groups")
        .await;
    assert_eq!(err, Err(GraphError::Throttled { retries: 2 }));
    assert_eq!(sim.graph_requests(TENANT), 3, "first try + 2 retries");
    // A Retry-After longer than the policy allows is not waited for.
    sim.set_fault(
        TENANT,
        Fault::Throttle {
            retry_after_secs: 60,
            every: 1,
        },
    );
    let started = Instant::now();
    let err = client
        .get_all(&creds("right-secret"), ApiVersion::V1, "groups")
        .await;
    assert_eq!(err, Err(GraphError::Throttled { retries: 0 }));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn failures_are_classified() {
    let (sim, client) = setup(Fault::None, quick()).await;
    let c = creds("right-secret");
    let get = || client.get_all(&c, ApiVersion::V1, "groups");

    sim.set_fault(TENANT, Fault::ServerError);
    assert_eq!(get().await, Err(GraphError::Unavailable { status: 500 }));
    sim.set_fault(
        TENANT,
        Fault::Unavailable {
            retry_after_secs: 0,
        },
    );
    assert_eq!(get().await, Err(GraphError::Unavailable { status: 503 }));
    sim.set_fault(TENANT, Fault::MalformedBody);
    assert!(matches!(
        get().await,
        Err(GraphError::UnexpectedResponse { .. })
    ));
    sim.set_fault(TENANT, Fault::Slow { delay_ms: 1500 });
    let started = Instant::now();
    assert!(matches!(get().await, Err(GraphError::Timeout { .. })));
    assert!(started.elapsed() < Duration::from_millis(1400));

    // Consent: the cached token has roles; a fresh client sees a token without them.
    sim.set_fault(TENANT, Fault::ConsentMissing);
    assert_eq!(get().await, Err(GraphError::ConsentMissing));

    let fresh = |fault: Fault| {
        sim.set_fault(TENANT, fault);
        GraphClient::new(client.endpoints().clone(), quick())
    };
    let f = fresh(Fault::BadCredentials);
    assert_eq!(
        f.token(&c).await.err(),
        Some(GraphError::CredentialsInvalid)
    );
    let f = fresh(Fault::ExpiredCredentials);
    assert_eq!(
        f.token(&c).await.err(),
        Some(GraphError::CredentialsExpired)
    );
    let f = fresh(Fault::ConsentMissing);
    assert!(f.token(&c).await.expect("token").roles.is_empty());
    let f = fresh(Fault::None);
    let mut other = creds("right-secret");
    other.entra_tenant_id = "00000000-0000-4000-8000-000000000000".into();
    assert_eq!(
        f.token(&other).await.err(),
        Some(GraphError::TenantNotFound)
    );
    let mut other_app = creds("right-secret");
    other_app.client_id = "00000000-0000-4000-8000-000000000001".into();
    assert_eq!(
        f.token(&other_app).await.err(),
        Some(GraphError::ConsentMissing)
    );
    let token = f.token(&c).await.expect("token");
    // The five read permissions and the policy write permission restore uses.
    assert_eq!(token.roles.len(), 6, "permissions come from the token");
    assert!(
        token
            .roles
            .contains(&simulators::graph::WRITE_PERMISSION.to_string())
    );
}

#[tokio::test]
async fn an_unreachable_graph_is_reported_as_such() {
    let client = GraphClient::new(
        GraphEndpoints {
            authority: "http://127.0.0.1:9".into(),
            graph: "http://127.0.0.1:9/graph".into(),
        },
        quick(),
    );
    assert_eq!(
        client.token(&creds("x")).await.err(),
        Some(GraphError::Unreachable)
    );
}
