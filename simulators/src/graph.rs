//! A Microsoft Graph + Entra token endpoint simulator.
//!
//! It serves the client-credentials token endpoint
//! (`{authority}/{tenant}/oauth2/v2.0/token`) and the Graph reads Tenantry's
//! operations use (`{graph}/{v1.0|beta}/…`), with deterministic seeded data per
//! tenant, `@odata.nextLink` paging, application permissions carried in the
//! token's `roles` claim, and per-tenant fault injection that can be changed
//! while it runs (`PUT /_sim/tenants/{tenant}/fault`).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Application permissions an app needs for Tenantry's read operations.
pub const READ_PERMISSIONS: &[&str] = &[
    "Organization.Read.All",
    "Group.Read.All",
    "RoleManagement.Read.Directory",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementManagedDevices.Read.All",
];

/// The application permission restore's writes need (it implies the read).
pub const WRITE_PERMISSION: &str = "DeviceManagementConfiguration.ReadWrite.All";

/// What goes wrong for a tenant, on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    #[default]
    None,
    /// Tokens carry no permissions; every Graph read answers 403.
    ConsentMissing,
    /// The token endpoint refuses the secret (AADSTS7000215).
    BadCredentials,
    /// The token endpoint says the secret expired (AADSTS7000222).
    ExpiredCredentials,
    /// Every `every`-th Graph request (1 = all) answers 429 with `Retry-After`.
    Throttle { retry_after_secs: u64, every: u32 },
    /// Graph answers 503 with `Retry-After`.
    Unavailable { retry_after_secs: u64 },
    /// Every Graph response is delayed.
    Slow { delay_ms: u64 },
    /// Graph answers 500.
    ServerError,
    /// Graph answers 200 with a body that is not JSON.
    MalformedBody,
}

/// How many rows of each kind a tenant has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSize {
    pub groups: usize,
    pub role_definitions: usize,
    pub device_configurations: usize,
    pub compliance_policies: usize,
    pub managed_devices: usize,
}

impl Default for TenantSize {
    fn default() -> Self {
        TenantSize {
            groups: 240,
            role_definitions: 60,
            device_configurations: 36,
            compliance_policies: 12,
            managed_devices: 420,
        }
    }
}

/// One simulated customer tenant and the app registration that may read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimTenant {
    pub tenant_id: String,
    pub display_name: String,
    pub default_domain: String,
    pub client_id: String,
    pub client_secret: String,
    /// Application permissions admin consent granted.
    pub granted: Vec<String>,
    pub size: TenantSize,
    pub fault: Fault,
}

impl SimTenant {
    /// A healthy tenant with every read permission and the policy write permission granted.
    pub fn healthy(tenant_id: &str, display_name: &str, client_id: &str, secret: &str) -> Self {
        let domain: String = display_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        SimTenant {
            tenant_id: tenant_id.to_string(),
            display_name: display_name.to_string(),
            default_domain: format!("{domain}.onmicrosoft.com"),
            client_id: client_id.to_string(),
            client_secret: secret.to_string(),
            granted: READ_PERMISSIONS
                .iter()
                .chain([WRITE_PERMISSION].iter())
                .map(|p| p.to_string())
                .collect(),
            size: TenantSize::default(),
            fault: Fault::None,
        }
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    pub fn with_size(mut self, size: TenantSize) -> Self {
        self.size = size;
        self
    }

    /// The three tenants `tenantry demo` seeds: healthy, consent missing, throttled.
    pub fn demo_set() -> Vec<SimTenant> {
        vec![
            SimTenant::healthy(
                DEMO_TENANTS[0].0,
                DEMO_TENANTS[0].1,
                DEMO_CLIENT_ID,
                DEMO_CLIENT_SECRET,
            ),
            SimTenant::healthy(
                DEMO_TENANTS[1].0,
                DEMO_TENANTS[1].1,
                DEMO_CLIENT_ID,
                DEMO_CLIENT_SECRET,
            )
            .with_fault(Fault::ConsentMissing),
            SimTenant::healthy(
                DEMO_TENANTS[2].0,
                DEMO_TENANTS[2].1,
                DEMO_CLIENT_ID,
                DEMO_CLIENT_SECRET,
            )
            .with_fault(Fault::Throttle {
                retry_after_secs: 1,
                every: 1,
            }),
        ]
    }
}

/// A healthy tenant the demo does not seed: onboard it with the wizard.
pub const DEMO_ONBOARDING_TENANT: (&str, &str) =
    ("5b8e2f14-3c6d-4a7e-9f01-23456789abcd", "Woodgrove Bank");

impl SimTenant {
    /// The tenant `tenantry demo` leaves for the onboarding wizard.
    pub fn demo_onboarding() -> SimTenant {
        SimTenant::healthy(
            DEMO_ONBOARDING_TENANT.0,
            DEMO_ONBOARDING_TENANT.1,
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
        )
    }
}

/// The demo tenants: (Entra tenant id, name).
pub const DEMO_TENANTS: [(&str, &str); 3] = [
    ("3f0c2b6e-5a1d-4c8e-9b7a-1d2e3f4a5b6c", "Contoso Ltd"),
    ("7a9d4e21-8b3c-4f5a-a6d7-2e3f4a5b6c7d", "Fabrikam Inc"),
    ("c1e2d3f4-a5b6-4789-8abc-def012345678", "Northwind Traders"),
];
/// The demo app registration (multi-tenant, consented per tenant).
pub const DEMO_CLIENT_ID: &str = "5e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b";
pub const DEMO_CLIENT_SECRET: &str = "demo-client-secret-not-for-production";

struct TenantState {
    tenant: SimTenant,
    graph_requests: u64,
    token_requests: u64,
    /// Collections that were written to (or changed by a test), by path;
    /// the others are generated from the tenant id on every read.
    objects: HashMap<String, Vec<Value>>,
    /// Every accepted write, in order, for read-back.
    writes: Vec<SimWrite>,
    created: u64,
    /// Admin consents granted on the simulated consent page.
    consents: u64,
}

/// One write the simulator accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimWrite {
    /// `POST` or `PATCH`.
    pub method: String,
    /// The Graph path without the version, e.g. `deviceManagement/deviceConfigurations/{id}`.
    pub path: String,
    pub body: Value,
}

/// The collections restore may write to.
const WRITABLE: &[&str] = &[
    "deviceManagement/deviceConfigurations",
    "deviceManagement/deviceCompliancePolicies",
];

impl TenantState {
    /// A collection as it is now: written-to state, else generated.
    fn rows(&self, path: &str) -> Option<(&'static str, Vec<Value>)> {
        let (permission, generated) = collection(&self.tenant, path)?;
        Some((
            permission,
            self.objects.get(path).cloned().unwrap_or(generated),
        ))
    }

    /// The stored (mutable) list of a writable collection.
    fn materialize(&mut self, path: &str) -> Option<&mut Vec<Value>> {
        if !WRITABLE.contains(&path) {
            return None;
        }
        if !self.objects.contains_key(path) {
            let (_, rows) = collection(&self.tenant, path)?;
            self.objects.insert(path.to_string(), rows);
        }
        self.objects.get_mut(path)
    }
}

struct SimState {
    base_url: Mutex<String>,
    tenants: Mutex<HashMap<String, TenantState>>,
    /// Issued tokens → tenant id.
    tokens: Mutex<HashMap<String, String>>,
    issued: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a simulator lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running simulator. Dropping it stops the server.
pub struct GraphSimulator {
    addr: SocketAddr,
    state: Arc<SimState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GraphSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GraphSimulator {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start(tenants: Vec<SimTenant>) -> std::io::Result<GraphSimulator> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), tenants).await
    }

    pub async fn start_on(
        addr: SocketAddr,
        tenants: Vec<SimTenant>,
    ) -> std::io::Result<GraphSimulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(SimState {
            base_url: Mutex::new(format!("http://{addr}")),
            tenants: Mutex::new(
                tenants
                    .into_iter()
                    .map(|t| {
                        (
                            t.tenant_id.to_ascii_lowercase(),
                            TenantState {
                                tenant: t,
                                graph_requests: 0,
                                token_requests: 0,
                                objects: HashMap::new(),
                                writes: Vec::new(),
                                created: 0,
                                consents: 0,
                            },
                        )
                    })
                    .collect(),
            ),
            tokens: Mutex::new(HashMap::new()),
            issued: Mutex::new(0),
        });
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(GraphSimulator { addr, state, task })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What to configure as the Entra authority.
    pub fn authority_url(&self) -> String {
        self.base_url()
    }

    /// What to configure as the Graph base URL.
    pub fn graph_url(&self) -> String {
        format!("{}/graph", self.base_url())
    }

    pub fn set_fault(&self, tenant_id: &str, fault: Fault) {
        if let Some(t) = lock(&self.state.tenants).get_mut(&tenant_id.to_ascii_lowercase()) {
            t.tenant.fault = fault;
        }
    }

    pub fn set_granted(&self, tenant_id: &str, granted: &[&str]) {
        if let Some(t) = lock(&self.state.tenants).get_mut(&tenant_id.to_ascii_lowercase()) {
            t.tenant.granted = granted.iter().map(|p| p.to_string()).collect();
        }
    }

    /// Graph requests (not token requests) the tenant has received.
    pub fn graph_requests(&self, tenant_id: &str) -> u64 {
        lock(&self.state.tenants)
            .get(&tenant_id.to_ascii_lowercase())
            .map_or(0, |t| t.graph_requests)
    }

    /// The writes a tenant accepted, in order.
    pub fn writes(&self, tenant_id: &str) -> Vec<SimWrite> {
        lock(&self.state.tenants)
            .get(&tenant_id.to_ascii_lowercase())
            .map(|t| t.writes.clone())
            .unwrap_or_default()
    }

    /// One object of a writable collection as Graph would return it now.
    pub fn object(&self, tenant_id: &str, collection: &str, id: &str) -> Option<Value> {
        let tenants = lock(&self.state.tenants);
        let t = tenants.get(&tenant_id.to_ascii_lowercase())?;
        t.rows(collection)?
            .1
            .into_iter()
            .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
    }

    /// Changes an object behind Tenantry's back (drift), not logged as a write.
    pub fn drift(&self, tenant_id: &str, collection: &str, id: &str, changes: Value) -> bool {
        let mut tenants = lock(&self.state.tenants);
        let Some(t) = tenants.get_mut(&tenant_id.to_ascii_lowercase()) else {
            return false;
        };
        let Some(rows) = t.materialize(collection) else {
            return false;
        };
        match rows
            .iter_mut()
            .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
        {
            Some(o) => {
                merge(o, &changes);
                true
            }
            None => false,
        }
    }

    /// Deletes an object behind Tenantry's back (drift).
    pub fn remove(&self, tenant_id: &str, collection: &str, id: &str) -> bool {
        let mut tenants = lock(&self.state.tenants);
        let Some(t) = tenants.get_mut(&tenant_id.to_ascii_lowercase()) else {
            return false;
        };
        let Some(rows) = t.materialize(collection) else {
            return false;
        };
        let before = rows.len();
        rows.retain(|o| o.get("id").and_then(Value::as_str) != Some(id));
        rows.len() < before
    }

    /// Admin consents the tenant's consent page recorded.
    pub fn consents(&self, tenant_id: &str) -> u64 {
        lock(&self.state.tenants)
            .get(&tenant_id.to_ascii_lowercase())
            .map_or(0, |t| t.consents)
    }

    pub fn token_requests(&self, tenant_id: &str) -> u64 {
        lock(&self.state.tenants)
            .get(&tenant_id.to_ascii_lowercase())
            .map_or(0, |t| t.token_requests)
    }
}

fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/v2.0/adminconsent",
            get(consent_page).post(consent_answer),
        )
        .route(
            "/graph/{version}/{*path}",
            get(graph_get).post(graph_post).patch(graph_patch),
        )
        .route("/_sim/tenants/{tenant}/fault", put(put_fault))
        .route("/_sim/tenants/{tenant}/writes", get(get_writes))
        .route("/_sim/tenants/{tenant}/requests", get(get_requests))
        .with_state(state)
}

async fn put_fault(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    Json(fault): Json<Fault>,
) -> StatusCode {
    match lock(&state.tenants).get_mut(&tenant.to_ascii_lowercase()) {
        Some(t) => {
            t.tenant.fault = fault;
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn get_requests(State(state): State<Arc<SimState>>, Path(tenant): Path<String>) -> Response {
    match lock(&state.tenants).get(&tenant.to_ascii_lowercase()) {
        Some(t) => {
            Json(json!({"graph": t.graph_requests, "token": t.token_requests})).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn get_writes(State(state): State<Arc<SimState>>, Path(tenant): Path<String>) -> Response {
    match lock(&state.tenants).get(&tenant.to_ascii_lowercase()) {
        Some(t) => Json(json!(t.writes)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn merge(target: &mut Value, changes: &Value) {
    if let (Some(t), Some(c)) = (target.as_object_mut(), changes.as_object()) {
        for (k, v) in c {
            if k != "id" {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn aad_error(status: StatusCode, error: &str, code: u32, text: &str) -> Response {
    (
        status,
        Json(json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text}"),
            "error_codes": [code],
        })),
    )
        .into_response()
}

async fn token(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let tenant = tenant.to_ascii_lowercase();
    let (tenant_id, roles) = {
        let mut tenants = lock(&state.tenants);
        let Some(t) = tenants.get_mut(&tenant) else {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90002,
                "Tenant not found.",
            );
        };
        t.token_requests += 1;
        if form.grant_type.as_deref() != Some("client_credentials")
            || form
                .scope
                .as_deref()
                .is_none_or(|s| !s.ends_with("/.default"))
        {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain grant_type and a .default scope.",
            );
        }
        if form.client_id.as_deref() != Some(t.tenant.client_id.as_str()) {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700016,
                "Application was not found in the directory.",
            );
        }
        match t.tenant.fault {
            Fault::ExpiredCredentials => {
                return aad_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000222,
                    "The provided client secret keys are expired.",
                );
            }
            Fault::BadCredentials => {
                return aad_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided.",
                );
            }
            _ => {}
        }
        if form.client_secret.as_deref() != Some(t.tenant.client_secret.as_str()) {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided.",
            );
        }
        let roles = if t.tenant.fault == Fault::ConsentMissing {
            vec![]
        } else {
            t.tenant.granted.clone()
        };
        (t.tenant.tenant_id.clone(), roles)
    };
    let serial = {
        let mut n = lock(&state.issued);
        *n += 1;
        *n
    };
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 3599;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = json!({
        "aud": "https://graph.microsoft.com",
        "tid": tenant_id,
        "appid": form.client_id,
        "roles": roles,
        "exp": exp,
        "jti": serial,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let access_token = format!("{header}.{payload}.sim{serial}");
    lock(&state.tokens).insert(access_token.clone(), tenant.clone());
    Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": access_token}))
        .into_response()
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// Authenticates the bearer token, counts the request and applies the
/// tenant's fault. `Ok` carries the tenant key and a copy of its settings.
async fn admit(
    state: &SimState,
    version: &str,
    headers: &HeaderMap,
) -> Result<(String, SimTenant), Response> {
    if version != "v1.0" && version != "beta" {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid version.",
        ));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let tenant = token.and_then(|t| lock(&state.tokens).get(&t).cloned());
    let Some(tenant) = tenant else {
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid.",
        ));
    };
    let (sim, count) = {
        let mut tenants = lock(&state.tenants);
        let Some(t) = tenants.get_mut(&tenant) else {
            return Err(graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Unknown tenant.",
            ));
        };
        t.graph_requests += 1;
        (t.tenant.clone(), t.graph_requests)
    };
    let with_retry_after = |mut r: Response, secs: u64| {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    };
    match sim.fault {
        Fault::Slow { delay_ms } => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
        Fault::Throttle {
            retry_after_secs,
            every,
        } if count % u64::from(every.max(1)) == 0 => {
            return Err(with_retry_after(
                graph_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "Too many requests.",
                ),
                retry_after_secs,
            ));
        }
        Fault::Unavailable { retry_after_secs } => {
            return Err(with_retry_after(
                graph_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "Service unavailable.",
                ),
                retry_after_secs,
            ));
        }
        Fault::ServerError => {
            return Err(graph_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Something went wrong.",
            ));
        }
        Fault::MalformedBody => {
            return Err((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"value\": [{\"id\": ",
            )
                .into_response());
        }
        _ => {}
    }
    Ok((tenant, sim))
}

fn has_permission(sim: &SimTenant, permission: &str) -> bool {
    sim.fault != Fault::ConsentMissing
        && sim.granted.iter().any(|g| {
            g == permission
                || g.replace("ReadWrite", "Read") == permission
                || (permission == "Organization.Read.All" && g == "Directory.Read.All")
        })
}

fn denied() -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn not_found() -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        "Resource not found.",
    )
}

/// `collection/{id}` of a writable collection → (collection, id).
fn object_path(path: &str) -> Option<(&'static str, &str)> {
    let path = path.trim_end_matches('/');
    WRITABLE.iter().find_map(|c| {
        path.strip_prefix(c)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .map(|id| (*c, id))
    })
}

async fn graph_get(
    State(state): State<Arc<SimState>>,
    Path((version, path)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (tenant, sim) = match admit(&state, &version, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    // One object of a writable collection.
    if let Some((coll, id)) = object_path(&path) {
        let rows = lock(&state.tenants).get(&tenant).and_then(|t| t.rows(coll));
        let Some((permission, rows)) = rows else {
            return not_found();
        };
        if !has_permission(&sim, permission) {
            return denied();
        }
        return match rows
            .into_iter()
            .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
        {
            Some(o) => Json(o).into_response(),
            None => not_found(),
        };
    }
    let rows = lock(&state.tenants)
        .get(&tenant)
        .and_then(|t| t.rows(path.trim_end_matches('/')));
    let Some((permission, rows)) = rows else {
        return not_found();
    };
    if !has_permission(&sim, permission) {
        return denied();
    }
    let top = query
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 999);
    let skip = query
        .get("$skiptoken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let end = (skip + top).min(rows.len());
    let page: Vec<Value> = rows
        .get(skip..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut body = json!({
        "@odata.context": format!("{}/graph/{version}/$metadata#{path}", lock(&state.base_url)),
        "value": page,
    });
    if end < rows.len() {
        body["@odata.nextLink"] = json!(format!(
            "{}/graph/{version}/{path}?$top={top}&$skiptoken={end}",
            lock(&state.base_url)
        ));
    }
    Json(body).into_response()
}

/// Creates an object in a writable collection (restore of a deleted policy).
async fn graph_post(
    State(state): State<Arc<SimState>>,
    Path((version, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, sim) = match admit(&state, &version, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let path = path.trim_end_matches('/').to_string();
    if !WRITABLE.contains(&path.as_str()) {
        return not_found();
    }
    if !has_permission(&sim, WRITE_PERMISSION) {
        return denied();
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Body must be a JSON object.",
        );
    };
    if fields
        .get("displayName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
        || fields.get("@odata.type").and_then(Value::as_str).is_none()
    {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "displayName and @odata.type are required.",
        );
    }
    let mut tenants = lock(&state.tenants);
    let Some(t) = tenants.get_mut(&tenant) else {
        return not_found();
    };
    t.created += 1;
    let seed = fnv(&t.tenant.tenant_id);
    let id = guid(seed, 99, t.created as usize);
    let mut object = Value::Object(fields.clone());
    object["id"] = json!(id);
    object["createdDateTime"] = json!("2026-01-01T00:00:00Z");
    object["lastModifiedDateTime"] = json!("2026-01-01T00:00:00Z");
    object["version"] = json!(1);
    let Some(rows) = t.materialize(&path) else {
        return not_found();
    };
    rows.push(object.clone());
    t.writes.push(SimWrite {
        method: "POST".into(),
        path: path.clone(),
        body: Value::Object(fields),
    });
    (StatusCode::CREATED, Json(object)).into_response()
}

/// Updates an object's fields (restore of changed settings).
async fn graph_patch(
    State(state): State<Arc<SimState>>,
    Path((version, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (tenant, sim) = match admit(&state, &version, &headers).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some((coll, id)) = object_path(&path) else {
        return not_found();
    };
    if !has_permission(&sim, WRITE_PERMISSION) {
        return denied();
    }
    let Ok(changes @ Value::Object(_)) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Body must be a JSON object.",
        );
    };
    let mut tenants = lock(&state.tenants);
    let Some(t) = tenants.get_mut(&tenant) else {
        return not_found();
    };
    let Some(rows) = t.materialize(coll) else {
        return not_found();
    };
    let Some(object) = rows
        .iter_mut()
        .find(|o| o.get("id").and_then(Value::as_str) == Some(id))
    else {
        return not_found();
    };
    merge(object, &changes);
    let version = object.get("version").and_then(Value::as_u64).unwrap_or(1) + 1;
    object["version"] = json!(version);
    t.writes.push(SimWrite {
        method: "PATCH".into(),
        path: format!("{coll}/{id}"),
        body: changes,
    });
    StatusCode::NO_CONTENT.into_response()
}

/// The permission a collection needs and its rows, generated from the tenant id.
fn collection(t: &SimTenant, path: &str) -> Option<(&'static str, Vec<Value>)> {
    let seed = fnv(&t.tenant_id);
    Some(match path.trim_end_matches('/') {
        "organization" => (
            "Organization.Read.All",
            vec![json!({
                "id": t.tenant_id,
                "displayName": t.display_name,
                "countryLetterCode": "GB",
                "verifiedDomains": [{"name": t.default_domain, "isDefault": true, "isInitial": true}],
            })],
        ),
        "groups" => (
            "Group.Read.All",
            (0..t.size.groups).map(|i| group(seed, i)).collect(),
        ),
        "roleManagement/directory/roleDefinitions" => (
            "RoleManagement.Read.Directory",
            (0..t.size.role_definitions)
                .map(|i| role(seed, i))
                .collect(),
        ),
        "deviceManagement/deviceConfigurations" => (
            "DeviceManagementConfiguration.Read.All",
            (0..t.size.device_configurations)
                .map(|i| configuration(seed, i))
                .collect(),
        ),
        "deviceManagement/deviceCompliancePolicies" => (
            "DeviceManagementConfiguration.Read.All",
            (0..t.size.compliance_policies)
                .map(|i| compliance_policy(seed, i))
                .collect(),
        ),
        "deviceManagement/managedDevices" => (
            "DeviceManagementManagedDevices.Read.All",
            (0..t.size.managed_devices)
                .map(|i| device(seed, i, &t.default_domain))
                .collect(),
        ),
        _ => return None,
    })
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// splitmix64: a deterministic number for (seed, kind, index).
fn mix(seed: u64, salt: u64, i: usize) -> u64 {
    let mut z = seed
        ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (i as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn guid(seed: u64, salt: u64, i: usize) -> String {
    let a = mix(seed, salt, i);
    let b = mix(seed, salt ^ 0xabcdef, i);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn pick<'a>(items: &[&'a str], n: u64) -> &'a str {
    items[(n % items.len() as u64) as usize]
}

const DEPARTMENTS: &[&str] = &[
    "Finance",
    "Sales",
    "Engineering",
    "Support",
    "Marketing",
    "Legal",
    "Operations",
    "HR",
    "Facilities",
    "Research",
];

fn date(n: u64) -> String {
    format!(
        "2026-{:02}-{:02}T{:02}:{:02}:00Z",
        1 + n % 10,
        1 + (n >> 8) % 28,
        (n >> 16) % 24,
        (n >> 24) % 60
    )
}

fn group(seed: u64, i: usize) -> Value {
    let n = mix(seed, 1, i);
    let kind = n % 3;
    let dept = pick(DEPARTMENTS, n >> 8);
    let (name, types, mail_enabled, security) = match kind {
        0 => (
            format!("{dept} Team {}", i + 1),
            json!(["Unified"]),
            true,
            false,
        ),
        1 => (
            format!("SG-{dept}-Devices-{}", i + 1),
            json!([]),
            false,
            true,
        ),
        _ => (format!("DL {dept} {}", i + 1), json!([]), true, false),
    };
    let mail = mail_enabled.then(|| {
        format!(
            "{}@example.test",
            name.to_ascii_lowercase().replace(' ', ".")
        )
    });
    json!({
        "id": guid(seed, 1, i),
        "displayName": name,
        "description": format!("{dept} group"),
        "mail": mail,
        "mailEnabled": mail_enabled,
        "securityEnabled": security,
        "groupTypes": types,
        "createdDateTime": date(n),
    })
}

const ROLES: &[&str] = &[
    "Global Administrator",
    "Intune Administrator",
    "User Administrator",
    "Helpdesk Administrator",
    "Security Reader",
    "Compliance Administrator",
    "Groups Administrator",
    "Cloud Device Administrator",
    "Reports Reader",
    "Application Administrator",
];

fn role(seed: u64, i: usize) -> Value {
    let n = mix(seed, 2, i);
    let builtin = i < ROLES.len();
    let name = if builtin {
        ROLES[i].to_string()
    } else {
        format!("Custom {} role {}", pick(DEPARTMENTS, n), i + 1)
    };
    json!({
        "id": guid(seed, 2, i),
        "displayName": name,
        "description": format!("Can manage {} resources.", pick(DEPARTMENTS, n >> 4).to_ascii_lowercase()),
        "isBuiltIn": builtin,
        "isEnabled": builtin || !n.is_multiple_of(5),
        "templateId": guid(seed, 22, i),
    })
}

const CONFIG_TYPES: &[(&str, &str)] = &[
    ("#microsoft.graph.windows10GeneralConfiguration", "Windows"),
    ("#microsoft.graph.iosGeneralDeviceConfiguration", "iOS"),
    (
        "#microsoft.graph.androidWorkProfileGeneralDeviceConfiguration",
        "Android",
    ),
    ("#microsoft.graph.macOSGeneralDeviceConfiguration", "macOS"),
];

fn configuration(seed: u64, i: usize) -> Value {
    let n = mix(seed, 3, i);
    let (odata, platform) = CONFIG_TYPES[(n % CONFIG_TYPES.len() as u64) as usize];
    let purpose = pick(
        &[
            "Baseline",
            "Restrictions",
            "Wi-Fi",
            "VPN",
            "Kiosk",
            "Updates",
        ],
        n >> 8,
    );
    json!({
        "@odata.type": odata,
        "id": guid(seed, 3, i),
        "displayName": format!("{platform} – {purpose} {}", i + 1),
        "description": format!("{purpose} settings for {platform} devices."),
        "createdDateTime": date(n),
        "lastModifiedDateTime": date(n >> 3),
        "version": 1 + n % 7,
        "passwordRequired": n.is_multiple_of(2),
        "passwordMinimumLength": 6 + n % 10,
        "cameraBlocked": n.is_multiple_of(3),
        "bluetoothBlocked": n.is_multiple_of(5),
    })
}

const COMPLIANCE_TYPES: &[(&str, &str)] = &[
    ("#microsoft.graph.windows10CompliancePolicy", "Windows"),
    ("#microsoft.graph.iosCompliancePolicy", "iOS"),
    (
        "#microsoft.graph.androidWorkProfileCompliancePolicy",
        "Android",
    ),
    ("#microsoft.graph.macOSCompliancePolicy", "macOS"),
];

fn compliance_policy(seed: u64, i: usize) -> Value {
    let n = mix(seed, 4, i);
    let (odata, platform) = COMPLIANCE_TYPES[(n % COMPLIANCE_TYPES.len() as u64) as usize];
    json!({
        "@odata.type": odata,
        "id": guid(seed, 4, i),
        "displayName": format!("{platform} compliance {}", i + 1),
        "description": format!("Minimum requirements for {platform} devices."),
        "createdDateTime": date(n),
        "lastModifiedDateTime": date(n >> 3),
        "version": 1 + n % 4,
        "passwordRequired": true,
        "osMinimumVersion": format!("{}.0", 10 + n % 5),
        "storageRequireEncryption": !n.is_multiple_of(4),
    })
}

const DEVICE_OS: &[(&str, &str)] = &[
    ("Windows", "DESKTOP"),
    ("Windows", "LAPTOP"),
    ("iOS", "IPHONE"),
    ("Android", "ANDROID"),
    ("macOS", "MAC"),
];
const COMPLIANCE_STATES: &[&str] = &[
    "compliant",
    "compliant",
    "compliant",
    "compliant",
    "noncompliant",
    "inGracePeriod",
    "unknown",
    "compliant",
    "noncompliant",
    "error",
];

fn device(seed: u64, i: usize, domain: &str) -> Value {
    let n = mix(seed, 5, i);
    let (os, prefix) = DEVICE_OS[(n % DEVICE_OS.len() as u64) as usize];
    let user = format!(
        "{}.{}@{domain}",
        pick(
            &["alex", "sam", "kim", "jo", "lee", "max", "ria", "tom"],
            n >> 4
        ),
        i + 1
    );
    json!({
        "id": guid(seed, 5, i),
        "deviceName": format!("{prefix}-{:05X}", (n >> 12) & 0xfffff),
        "operatingSystem": os,
        "osVersion": format!("{}.{}", 10 + (n >> 20) % 8, (n >> 24) % 10),
        "userPrincipalName": user,
        "complianceState": pick(COMPLIANCE_STATES, n >> 28),
        "managedDeviceOwnerType": if n.is_multiple_of(4) { "personal" } else { "company" },
        "lastSyncDateTime": date(n >> 5),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_deterministic_per_tenant() {
        let t = SimTenant::healthy(DEMO_TENANTS[0].0, "Contoso", DEMO_CLIENT_ID, "s");
        let a = collection(&t, "groups").map(|c| c.1);
        let b = collection(&t, "groups").map(|c| c.1);
        assert_eq!(a, b);
        let other = SimTenant::healthy(DEMO_TENANTS[1].0, "Fabrikam", DEMO_CLIENT_ID, "s");
        assert_ne!(a, collection(&other, "groups").map(|c| c.1));
        assert_eq!(a.map(|v| v.len()), Some(TenantSize::default().groups));
    }
}

/// What Microsoft's admin-consent endpoint receives (query on GET, form on POST).
#[derive(Debug, Default, Deserialize)]
struct ConsentRequest {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    /// `accept` or `cancel` (POST only: the button pressed).
    decision: Option<String>,
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn consent_error(code: u32, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>\
             <h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{code}: {}</p></body></html>",
            crate::escape_html(message)
        ),
    )
        .into_response()
}

/// The redirect URI must be an absolute http(s) URL on one line.
fn valid_redirect(uri: &str) -> bool {
    (uri.starts_with("http://") || uri.starts_with("https://"))
        && uri.len() <= 2048
        && !uri.chars().any(|c| c.is_control() || c == '#')
}

/// Checks the tenant and app; `Ok` carries the tenant's display name.
fn consent_target(
    state: &SimState,
    tenant: &str,
    req: &ConsentRequest,
) -> Result<(String, String), (u32, String)> {
    let tenants = lock(&state.tenants);
    let Some(t) = tenants.get(&tenant.to_ascii_lowercase()) else {
        return Err((90002, format!("Tenant '{tenant}' not found.")));
    };
    let client = req.client_id.clone().unwrap_or_default();
    if !client.eq_ignore_ascii_case(&t.tenant.client_id) {
        return Err((
            700016,
            format!("Application with identifier '{client}' was not found in the directory."),
        ));
    }
    match req.redirect_uri.as_deref() {
        Some(r) if valid_redirect(r) => Ok((t.tenant.display_name.clone(), r.to_string())),
        _ => Err((
            50011,
            "The redirect URI specified in the request does not match.".into(),
        )),
    }
}

/// `GET /{tenant}/v2.0/adminconsent`: the permissions the app asks for, with
/// Accept and Cancel (a Global Administrator's view).
async fn consent_page(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    Query(req): Query<ConsentRequest>,
) -> Response {
    let (name, redirect) = match consent_target(&state, &tenant, &req) {
        Ok(t) => t,
        Err((code, message)) => return consent_error(code, &message),
    };
    let hidden = |n: &str, v: &str| {
        format!(
            "<input type=\"hidden\" name=\"{n}\" value=\"{}\">",
            crate::escape_html(v)
        )
    };
    let permissions: String = READ_PERMISSIONS
        .iter()
        .chain([WRITE_PERMISSION].iter())
        .map(|p| format!("<li>{p}</li>"))
        .collect();
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Permissions requested</title></head><body>\
         <main><h1>Permissions requested</h1><p>Accept for your organization, {name}</p>\
         <p>The application <code>{client}</code> asks for these application permissions:</p><ul>{permissions}</ul>\
         <form method=\"post\">{c}{r}{s}\
         <button type=\"submit\" name=\"decision\" value=\"accept\">Accept</button> \
         <button type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button></form></main></body></html>",
        name = crate::escape_html(&name),
        client = crate::escape_html(req.client_id.as_deref().unwrap_or_default()),
        c = hidden("client_id", req.client_id.as_deref().unwrap_or_default()),
        r = hidden("redirect_uri", &redirect),
        s = hidden("state", req.state.as_deref().unwrap_or_default()),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `POST /{tenant}/v2.0/adminconsent`: records the grant (the app's tokens
/// carry every permission from now on) and redirects back as Microsoft does:
/// `admin_consent=True&tenant=…&state=…`, or `error=access_denied…`.
async fn consent_answer(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    Form(req): Form<ConsentRequest>,
) -> Response {
    let (_, redirect) = match consent_target(&state, &tenant, &req) {
        Ok(t) => t,
        Err((code, message)) => return consent_error(code, &message),
    };
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let st = percent_encode(req.state.as_deref().unwrap_or_default());
    let location = if req.decision.as_deref() == Some("accept") {
        if let Some(t) = lock(&state.tenants).get_mut(&tenant.to_ascii_lowercase()) {
            if t.tenant.fault == Fault::ConsentMissing {
                t.tenant.fault = Fault::None;
            }
            t.tenant.granted = READ_PERMISSIONS
                .iter()
                .chain([WRITE_PERMISSION].iter())
                .map(|p| p.to_string())
                .collect();
            t.consents += 1;
        }
        format!(
            "{redirect}{sep}admin_consent=True&tenant={}&state={st}",
            percent_encode(&tenant.to_ascii_lowercase())
        )
    } else {
        format!(
            "{redirect}{sep}error=access_denied&error_description={}&state={st}",
            percent_encode("AADSTS65004: User declined to consent to access the app.")
        )
    };
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}
