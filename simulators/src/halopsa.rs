//! A HaloPSA simulator: the OAuth2 client-credentials token endpoint
//! (`POST /auth/token`) and ticket creation (`POST /api/Tickets` with a JSON
//! array), with switchable faults (slow, 401, 500, malformed body) and the
//! received tickets kept for read-back.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How the simulated desk misbehaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeskFault {
    #[default]
    None,
    /// Every answer (token and ticket) waits this long.
    Slow { delay_ms: u64 },
    /// The token endpoint refuses the client credentials.
    Unauthorized,
    /// Ticket creation answers 500.
    ServerError,
    /// Ticket creation answers 201 with a body that is not JSON.
    MalformedBody,
}

struct DeskState {
    client_id: String,
    client_secret: String,
    fault: DeskFault,
    tokens: Vec<String>,
    tickets: Vec<Value>,
    next_id: i64,
}

fn lock(m: &Mutex<DeskState>) -> MutexGuard<'_, DeskState> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running HaloPSA simulator. Dropping it stops the server.
pub struct HaloSimulator {
    addr: SocketAddr,
    state: Arc<Mutex<DeskState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HaloSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HaloSimulator {
    /// Starts on a free port of 127.0.0.1, accepting these client credentials.
    pub async fn start(client_id: &str, client_secret: &str) -> std::io::Result<HaloSimulator> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(DeskState {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            fault: DeskFault::None,
            tokens: Vec::new(),
            tickets: Vec::new(),
            next_id: 1000,
        }));
        let app = Router::new()
            .route("/auth/token", post(token))
            .route("/api/Tickets", post(create_tickets))
            .route("/api/Actions", post(create_actions))
            .route("/_sim/fault", put(put_fault))
            .route("/_sim/tickets", get(list_tickets))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(HaloSimulator { addr, state, task })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_fault(&self, fault: DeskFault) {
        lock(&self.state).fault = fault;
    }

    /// The tickets the desk accepted, as it received them (plus their `id`).
    pub fn tickets(&self) -> Vec<Value> {
        lock(&self.state).tickets.clone()
    }
}

async fn delay(state: &Arc<Mutex<DeskState>>) -> DeskFault {
    let fault = lock(state).fault;
    if let DeskFault::Slow { delay_ms } = fault {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    fault
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(State(state): State<Arc<Mutex<DeskState>>>, Form(f): Form<TokenForm>) -> Response {
    let fault = delay(&state).await;
    let mut s = lock(&state);
    let valid = f.grant_type.as_deref() == Some("client_credentials")
        && f.client_id.as_deref() == Some(s.client_id.as_str())
        && f.client_secret.as_deref() == Some(s.client_secret.as_str());
    if fault == DeskFault::Unauthorized || !valid {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "Client authentication failed."})),
        )
            .into_response();
    }
    let token = format!("halo-sim-token-{}", s.tokens.len() + 1);
    s.tokens.push(token.clone());
    Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600})).into_response()
}

/// Whether the request carries a token this desk issued.
fn bearer_known(s: &DeskState, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| s.tokens.iter().any(|k| k == t))
}

async fn create_tickets(
    State(state): State<Arc<Mutex<DeskState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let fault = delay(&state).await;
    let mut s = lock(&state);
    if !bearer_known(&s, &headers) {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    match fault {
        DeskFault::ServerError => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "System.NullReferenceException at Halo.Tickets.Create (internal detail)",
            )
                .into_response();
        }
        DeskFault::MalformedBody => {
            return (StatusCode::CREATED, "<html>not json</html>").into_response();
        }
        _ => {}
    }
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "Expected a JSON array of tickets.").into_response();
    };
    let Some(Value::Object(first)) = items.into_iter().next() else {
        return (StatusCode::BAD_REQUEST, "Expected a ticket.").into_response();
    };
    if !first.get("summary").is_some_and(Value::is_string) {
        return (StatusCode::BAD_REQUEST, "A ticket needs a summary.").into_response();
    }
    s.next_id += 1;
    let mut ticket = first;
    ticket.insert("id".into(), json!(s.next_id));
    let ticket = Value::Object(ticket);
    s.tickets.push(ticket.clone());
    (StatusCode::CREATED, Json(ticket)).into_response()
}

/// `POST /api/Actions`: notes added to tickets (`[{ticket_id, note}]`),
/// kept on the ticket under `actions`.
async fn create_actions(
    State(state): State<Arc<Mutex<DeskState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let fault = delay(&state).await;
    let mut s = lock(&state);
    if !bearer_known(&s, &headers) {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    if fault == DeskFault::ServerError {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal detail").into_response();
    }
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "Expected a JSON array of actions.").into_response();
    };
    let Some(action) = items.into_iter().next() else {
        return (StatusCode::BAD_REQUEST, "Expected an action.").into_response();
    };
    let Some(id) = action.get("ticket_id").and_then(Value::as_i64) else {
        return (StatusCode::BAD_REQUEST, "An action needs a ticket_id.").into_response();
    };
    let Some(ticket) = s
        .tickets
        .iter_mut()
        .find(|t| t.get("id").and_then(Value::as_i64) == Some(id))
    else {
        return (StatusCode::NOT_FOUND, "No such ticket.").into_response();
    };
    if let Some(obj) = ticket.as_object_mut() {
        let list = obj.entry("actions").or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut() {
            a.push(action.clone());
        }
    }
    (StatusCode::CREATED, Json(action)).into_response()
}

async fn put_fault(
    State(state): State<Arc<Mutex<DeskState>>>,
    Json(f): Json<DeskFault>,
) -> StatusCode {
    lock(&state).fault = f;
    StatusCode::NO_CONTENT
}

async fn list_tickets(State(state): State<Arc<Mutex<DeskState>>>) -> Json<Vec<Value>> {
    Json(lock(&state).tickets.clone())
}
