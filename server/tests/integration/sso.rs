//! Single sign-on (issue 21) end to end against a real, certified OpenID
//! Provider run by the suite (npm `oidc-provider`, `end2end/oidc-provider.mjs`):
//! an invitation accepted with single sign-on, signing in again, and what
//! must sign nobody in — a replayed code, a callback from another browser,
//! an unknown identity, another person's invitation, a wrong nonce and a
//! tampered ID token.

use crate::both_backends;
use crate::common::{Backend, Browser, TestApp};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::io::{AsyncBufReadExt, BufReader};

const CLIENT_SECRET: &str = "tenantry-sso-test-secret";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The OpenID Provider under node, killed when dropped.
struct Provider {
    _child: tokio::process::Child,
}

async fn start_provider(port: u16, issuer: &str, redirect_uri: &str) -> Provider {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../end2end");
    let mut child = tokio::process::Command::new("node")
        .arg(root.join("oidc-provider.mjs"))
        .args(["--port", &port.to_string(), "--issuer", issuer])
        .args(["--client-id", "tenantry", "--client-secret", CLIENT_SECRET])
        .args(["--redirect-uri", redirect_uri])
        .current_dir(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs end2end/oidc-provider.mjs (scripts/setup.sh installs it)");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("OpenID Provider at") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "the OpenID Provider did not start");
    Provider { _child: child }
}

/// A proxy in front of the provider that can tamper with its token answers.
struct Proxy {
    tamper: Arc<AtomicBool>,
    /// ID tokens changed so far.
    tampered: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    tamper: Arc<AtomicBool>,
    tampered: Arc<AtomicUsize>,
    client: reqwest::Client,
}

async fn forward(State(s): State<ProxyState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut out = s
        .client
        .request(parts.method.clone(), format!("{}{path}", s.upstream))
        .body(body.to_vec());
    for (k, v) in &parts.headers {
        // The Host stays the proxy's (the provider names its endpoints after
        // it); plain bodies back, so the token answer can be read and changed.
        if k != "content-length" && k != "accept-encoding" {
            out = out.header(k, v);
        }
    }
    let Ok(res) = out.send().await else {
        return Response::builder()
            .status(502)
            .body(Body::empty())
            .unwrap_or_default();
    };
    let status = res.status();
    let headers = res.headers().clone();
    let mut bytes = res.bytes().await.unwrap_or_default().to_vec();
    if s.tamper.load(Ordering::SeqCst) && path.starts_with("/token") {
        let before = bytes.len();
        // Change one character of the ID token's payload: same shape, bad signature.
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes)
            && let Some(token) = v["id_token"].as_str()
        {
            let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
            let mut payload: Vec<char> = parts[1].chars().collect();
            payload[10] = if payload[10] == 'A' { 'B' } else { 'A' };
            parts[1] = payload.into_iter().collect();
            v["id_token"] = serde_json::Value::String(parts.join("."));
            bytes = v.to_string().into_bytes();
            s.tampered.fetch_add(1, Ordering::SeqCst);
        }
        assert!(before > 0, "the token answer was read");
    }
    let mut builder = Response::builder().status(status);
    for (k, v) in &headers {
        if k != "content-length" && k != "transfer-encoding" {
            builder = builder.header(k, v);
        }
    }
    builder.body(Body::from(bytes)).unwrap_or_default()
}

async fn start_proxy(port: u16, upstream: String) -> Proxy {
    let tamper = Arc::new(AtomicBool::new(false));
    let tampered = Arc::new(AtomicUsize::new(0));
    let state = ProxyState {
        upstream,
        tamper: tamper.clone(),
        tampered: tampered.clone(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    };
    let app = axum::Router::new().fallback(forward).with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("proxy port");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Proxy {
        tamper,
        tampered,
        task,
    }
}

/// The app with single sign-on through a proxy in front of the provider.
async fn world(backend: Backend) -> (TestApp, Provider, Proxy) {
    let (proxy_port, op_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{proxy_port}");
    let config = domain::sso::SsoConfig::parse(
        &issuer,
        "tenantry",
        domain::secrets::Secret::new(CLIENT_SECRET),
        "Test IdP",
    )
    .expect("settings");
    let app = crate::common::app(backend).sso(config).spawn().await;
    let callback = format!("{}{}", app.address, domain::sso::CALLBACK_PATH);
    let provider = start_provider(op_port, &issuer, &callback).await;
    let proxy = start_proxy(proxy_port, format!("http://127.0.0.1:{op_port}")).await;
    (app, provider, proxy)
}

/// Starts single sign-on in `b`; answers the provider's authorization URL.
async fn begin(b: &Browser, query: &str) -> String {
    let r = b.get(&format!("/sign-in/sso{query}")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap_or("").starts_with("tenantry_sso=")),
        "the login is bound to this browser"
    );
    let url = r.location.expect("to the provider");
    for part in [
        "code_challenge=",
        "code_challenge_method=S256",
        "nonce=",
        "state=",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    url
}

/// Logs in at the provider as `login` (its development forms: login, then
/// consent); answers the callback URL it sends the browser to.
async fn at_provider(authorize_url: &str, login: &str, app: &TestApp) -> String {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut url = authorize_url.to_string();
    let base = authorize_url
        .split('/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/");
    for _ in 0..12 {
        if url.starts_with(&app.address) {
            return url;
        }
        let r = client.get(&url).send().await.expect("provider");
        if r.status().is_redirection() {
            let to = r.headers()["location"].to_str().unwrap_or("").to_string();
            url = if to.starts_with('/') {
                format!("{base}{to}")
            } else {
                to
            };
            continue;
        }
        let html = r.text().await.unwrap_or_default();
        let form: Vec<(&str, &str)> = if html.contains("value=\"login\"") {
            vec![
                ("prompt", "login"),
                ("login", login),
                ("password", "any password"),
            ]
        } else {
            vec![("prompt", "consent")]
        };
        let r = client
            .post(&url)
            .form(&form)
            .send()
            .await
            .expect("provider form");
        let to = r.headers()["location"].to_str().unwrap_or("").to_string();
        url = if to.starts_with('/') {
            format!("{base}{to}")
        } else {
            to
        };
    }
    panic!("the provider never sent the browser back: {url}");
}

fn path_of(app: &TestApp, url: &str) -> String {
    url.trim_start_matches(&app.address).to_string()
}

async fn signed_in_as(b: &Browser) -> Option<String> {
    let r = b.call("/api/account", &[]).await;
    let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    v["email"].as_str().map(str::to_string)
}

async fn sessions(app: &TestApp) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.services.store.unguarded_pool())
        .await
        .expect("count")
        .0
}

async fn invite(owner: &Browser, ws: &str, email: &str) {
    let r = owner
        .call(
            "/api/members/invite",
            &[
                ("workspace", ws.to_string()),
                ("email", email.to_string()),
                ("role", "operator".to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn single_sign_on_end_to_end(backend: Backend) {
    let (app, _provider, proxy) = world(backend).await;
    let (owner_id, owner) = app.user_browser("owner@example.com", false).await;
    let r = owner
        .call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    assert_eq!(r.status, 200);
    let ws = domain::workspaces::list_for_user(&app.services, owner_id)
        .await
        .expect("workspaces")[0]
        .id
        .to_string();
    // The sign-in and invitation pages offer it.
    assert!(
        app.browser()
            .get("/sign-in")
            .await
            .body
            .contains("Sign in with Test IdP")
    );
    invite(&owner, &ws, "tech@example.com").await;
    let token = app.invitation_token("tech@example.com").await;
    assert!(
        app.browser()
            .get(&format!("/invite/{token}"))
            .await
            .body
            .contains("Join with Test IdP")
    );

    // The technician accepts with single sign-on: account, membership, session.
    let tech = app.browser();
    let authorize = begin(&tech, &format!("?invite={token}")).await;
    let callback = at_provider(&authorize, "tech", &app).await;
    let r = tech.get(&path_of(&app, &callback)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some("/admin?notice=invitation_accepted")
    );
    assert_eq!(
        signed_in_as(&tech).await.as_deref(),
        Some("tech@example.com")
    );
    let members: serde_json::Value =
        serde_json::from_str(&owner.call("/api/members", &[]).await.body).expect("members");
    assert!(
        members["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["email"] == "tech@example.com" && m["role"] == "operator"),
        "{members}"
    );
    let (issuer, subject): (String, String) =
        sqlx::query_as("SELECT issuer, subject FROM user_identities")
            .fetch_one(app.services.store.unguarded_pool())
            .await
            .expect("linked");
    assert_eq!(subject, "tech");
    assert!(issuer.starts_with("http://127.0.0.1:"));
    // Their password is nobody's: only single sign-on signs them in.
    assert_eq!(app.browser().sign_in("tech@example.com").await.status, 401);

    // The same callback again (a replayed code): nobody is signed in.
    let before = sessions(&app).await;
    let again = app.browser();
    let r = again.get(&path_of(&app, &callback)).await;
    assert_eq!(r.location.as_deref(), Some("/sign-in?notice=sso_expired"));
    assert_eq!(signed_in_as(&again).await, None);
    assert_eq!(sessions(&app).await, before);

    // Signing in again with single sign-on, back where they wanted to go.
    let later = app.browser();
    let authorize = begin(&later, "?next=/admin/tenants").await;
    let callback = at_provider(&authorize, "tech", &app).await;
    let r = later.get(&path_of(&app, &callback)).await;
    assert_eq!(r.location.as_deref(), Some("/admin/tenants"));
    assert_eq!(
        signed_in_as(&later).await.as_deref(),
        Some("tech@example.com")
    );

    // A callback finished in one browser and opened in another (login CSRF).
    let victim = app.browser();
    let attacker = app.browser();
    let authorize = begin(&attacker, "").await;
    let callback = at_provider(&authorize, "tech", &app).await;
    let r = victim.get(&path_of(&app, &callback)).await;
    assert_eq!(r.location.as_deref(), Some("/sign-in?notice=sso_expired"));
    assert_eq!(signed_in_as(&victim).await, None);

    // Nobody's identity: refused with the way in (an invitation).
    let stranger = app.browser();
    let authorize = begin(&stranger, "").await;
    let callback = at_provider(&authorize, "mallory", &app).await;
    let r = stranger.get(&path_of(&app, &callback)).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/sign-in?notice=sso_no_account")
    );
    assert_eq!(signed_in_as(&stranger).await, None);

    // Someone else's invitation: refused, no account made.
    invite(&owner, &ws, "ann@example.com").await;
    let ann_token = app.invitation_token("ann@example.com").await;
    let bob = app.browser();
    let authorize = begin(&bob, &format!("?invite={ann_token}")).await;
    let callback = at_provider(&authorize, "bob", &app).await;
    let r = bob.get(&path_of(&app, &callback)).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/sign-in?notice=sso_wrong_person")
    );
    assert_eq!(signed_in_as(&bob).await, None);

    // A wrong nonce (the one stored for this login is swapped): refused.
    let b = app.browser();
    let authorize = begin(&b, "").await;
    let forged = app
        .services
        .secrets
        .seal(&domain::secrets::Secret::new("not-the-nonce-sent"));
    sqlx::query("UPDATE sso_logins SET nonce_sealed = $1")
        .bind(forged)
        .execute(app.services.store.unguarded_pool())
        .await
        .expect("swap the nonce");
    let callback = at_provider(&authorize, "tech", &app).await;
    let r = b.get(&path_of(&app, &callback)).await;
    assert_eq!(r.location.as_deref(), Some("/sign-in?notice=sso_untrusted"));
    assert_eq!(signed_in_as(&b).await, None);

    // A tampered ID token (one character of its payload changed): refused.
    proxy.tamper.store(true, Ordering::SeqCst);
    let b = app.browser();
    let authorize = begin(&b, "").await;
    let callback = at_provider(&authorize, "tech", &app).await;
    let r = b.get(&path_of(&app, &callback)).await;
    assert_eq!(r.location.as_deref(), Some("/sign-in?notice=sso_untrusted"));
    assert_eq!(signed_in_as(&b).await, None);
    assert_eq!(
        proxy.tampered.load(Ordering::SeqCst),
        1,
        "the token was changed"
    );
    proxy.tamper.store(false, Ordering::SeqCst);

    // The provider cancelled; a callback without a login: refused alike.
    let r = app
        .browser()
        .get("/sign-in/sso/callback?error=access_denied&state=x")
        .await;
    assert_eq!(r.location.as_deref(), Some("/sign-in?notice=sso_cancelled"));
    let r = app
        .browser()
        .get("/sign-in/sso/callback?code=abc&state=unknown")
        .await;
    assert_eq!(r.location.as_deref(), Some("/sign-in?notice=sso_expired"));

    // Audited: created from the invitation, signed in with single sign-on.
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, detail FROM audit_log WHERE target = 'tech@example.com' AND action IN ('user.created', 'session.signed_in') ORDER BY id",
    )
    .fetch_all(app.services.store.unguarded_pool())
    .await
    .expect("audit");
    assert_eq!(
        rows.first().map(|r| r.1.as_deref()),
        Some(Some("from an invitation, with single sign-on"))
    );
    assert!(
        rows.iter()
            .any(|(a, d)| a == "session.signed_in" && d.as_deref() == Some("with single sign-on"))
    );
}

/// Without `--oidc-issuer` there is no single sign-on: its routes are 404
/// and no page offers it.
async fn without_it_nothing_offers_it(backend: Backend) {
    let app = crate::common::spawn_app(backend).await;
    let b = app.browser();
    assert_eq!(b.get("/sign-in/sso").await.status, 404);
    assert_eq!(
        b.get("/sign-in/sso/callback?code=a&state=b").await.status,
        404
    );
    assert_eq!(b.get("/sign-in/sso/callback").await.status, 404);
    assert!(!b.get("/sign-in").await.body.contains("Sign in with"));
}

/// An existing password account links single sign-on from Your account;
/// an owner then requires single sign-on: passwords stop working and
/// password sessions end, until it is optional again.
async fn linking_and_requiring_it(backend: Backend) {
    let (app, _provider, _proxy) = world(backend).await;
    let (owner_id, owner) = app.user_browser("owner@example.com", false).await;
    let r = owner
        .call("/api/workspaces/create", &[("name", "Acme MSP".into())])
        .await;
    assert_eq!(r.status, 200);
    let ws = domain::workspaces::list_for_user(&app.services, owner_id)
        .await
        .expect("workspaces")[0]
        .id;
    let (_, tech) = app.user_browser("tech@example.com", false).await;
    let owner_actor = app.actor(owner_id, "owner@example.com");
    domain::workspaces::add_member_directly(
        &app.services,
        &owner_actor,
        ws,
        "tech@example.com",
        domain::rbac::Role::Operator,
    )
    .await
    .expect("member");

    // Linking starts from a signed-in session and comes back to the account.
    async fn account(b: &Browser) -> serde_json::Value {
        serde_json::from_str(&b.call("/api/account", &[]).await.body).expect("account")
    }
    assert_eq!(
        account(&owner).await["sso"]["identities"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let authorize = begin(&owner, "?link=1").await;
    let callback = at_provider(&authorize, "owner.idp", &app).await;
    let r = owner.get(&path_of(&app, &callback)).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/admin/account?notice=sso_linked#sso")
    );
    let ids = account(&owner).await["sso"]["identities"].clone();
    assert_eq!(ids.as_array().map(Vec::len), Some(1), "{ids}");
    assert_eq!(ids[0]["email"], "owner.idp@example.com");
    // Anonymous visitors cannot link; another account cannot take the identity.
    let r = app.browser().get("/sign-in/sso?link=1").await;
    assert_eq!(r.location.as_deref(), Some("/sign-in?next=/admin/account"));
    let authorize = begin(&tech, "?link=1").await;
    let callback = at_provider(&authorize, "owner.idp", &app).await;
    let r = tech.get(&path_of(&app, &callback)).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/admin/account?notice=sso_linked_elsewhere#sso")
    );

    // Requiring single sign-on takes an owner signed in with it.
    async fn require(b: &Browser, ws: domain::ids::WorkspaceId, on: &str) -> u16 {
        let form = [("workspace", ws.to_string()), ("required", on.to_string())];
        b.call("/api/members/require_sso", &form).await.status
    }
    assert_eq!(require(&tech, ws, "on").await, 403, "owners only");
    assert_eq!(
        require(&owner, ws, "on").await,
        409,
        "not from a password session"
    );
    let owner_sso = app.browser();
    let authorize = begin(&owner_sso, "").await;
    let callback = at_provider(&authorize, "owner.idp", &app).await;
    let r = owner_sso.get(&path_of(&app, &callback)).await;
    assert_eq!(r.location.as_deref(), Some("/admin"));
    assert_eq!(require(&owner_sso, ws, "on").await, 200);
    // Password sessions end; passwords are refused with the way in.
    assert_eq!(signed_in_as(&tech).await, None);
    assert_eq!(signed_in_as(&owner).await, None);
    assert_eq!(
        signed_in_as(&owner_sso).await.as_deref(),
        Some("owner@example.com")
    );
    let r = app.browser().sign_in("tech@example.com").await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("signs in with Test IdP only"), "{}", r.body);
    let members: serde_json::Value =
        serde_json::from_str(&owner_sso.call("/api/members", &[]).await.body).expect("members");
    assert_eq!(members["require_sso"], true);
    // Optional again: the password works.
    assert_eq!(require(&owner_sso, ws, "off").await, 200);
    assert_eq!(app.browser().sign_in("tech@example.com").await.status, 200);

    // Unlinking takes the password; then the identity signs nobody in.
    let id = account(&owner_sso).await["sso"]["identities"][0]["id"]
        .as_str()
        .expect("handle")
        .to_string();
    let r = owner_sso
        .call(
            "/api/account/sso/unlink",
            &[
                ("identity", id.clone()),
                ("current_password", "wrong password here".into()),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = owner_sso
        .call(
            "/api/account/sso/unlink",
            &[
                ("identity", "0000000000000000".into()),
                ("current_password", crate::common::PASSWORD.into()),
            ],
        )
        .await;
    assert_eq!(r.status, 404, "not one of theirs");
    let r = owner_sso
        .call(
            "/api/account/sso/unlink",
            &[
                ("identity", id),
                ("current_password", crate::common::PASSWORD.into()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = app.browser();
    let authorize = begin(&b, "").await;
    let callback = at_provider(&authorize, "owner.idp", &app).await;
    let r = b.get(&path_of(&app, &callback)).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/sign-in?notice=sso_no_account")
    );
    let actions: Vec<(String,)> = sqlx::query_as(
        "SELECT action FROM audit_log WHERE action LIKE '%sso%' AND outcome = 'succeeded' ORDER BY id",
    )
    .fetch_all(app.services.store.unguarded_pool())
    .await
    .expect("audit");
    let actions: Vec<&str> = actions.iter().map(|(a,)| a.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "account.sso_linked",
            "workspace.sso_requirement_changed",
            "workspace.sso_requirement_changed",
            "account.sso_unlinked",
        ]
    );
}

both_backends!(
    single_sign_on_end_to_end,
    without_it_nothing_offers_it,
    linking_and_requiring_it
);
