//! Server-side sessions. The cookie carries a random token; the database keeps
//! only its SHA-256, so a leaked table does not leak live sessions.

use crate::access::{Actor, Theme};
use crate::error::AppResult;
use crate::ids::{UserId, WorkspaceId};
use crate::services::Services;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// Last-seen is written at most this often, so every request is not a write.
const TOUCH_EVERY_MS: i64 = 60_000;

/// The secret in the cookie. Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SessionToken(hex::encode(bytes))
    }

    /// Accepts only the shape we issue, so junk cookies never reach the database.
    pub fn from_cookie(raw: &str) -> Option<Self> {
        (raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| SessionToken(raw.to_ascii_lowercase()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn id_hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(**redacted**)")
    }
}

/// Where a session was opened from, as the account page shows it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Client<'a> {
    pub address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// At most this much of a user agent is kept (no control characters).
const USER_AGENT_MAX: usize = 300;

fn clean(raw: Option<&str>, max: usize) -> Option<String> {
    let s: String = raw?.chars().filter(|c| !c.is_control()).take(max).collect();
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// What a new session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Signed in.
    Full,
    /// The password was right; an authenticator code is still owed. Such a
    /// session signs nothing in (`resolve` ignores it) and lives
    /// `crate::mfa::CODE_WAIT_MS` at most.
    AwaitingCode,
    /// Signed in with single sign-on: the identity provider asked for its
    /// own factors, so a workspace's two-step requirement is met.
    Sso,
}

pub(crate) async fn insert(
    conn: &mut AnyConnection,
    user: UserId,
    current_workspace: Option<WorkspaceId>,
    now: i64,
    client: Client<'_>,
    stage: Stage,
) -> AppResult<SessionToken> {
    let token = SessionToken::generate();
    // A public handle for the account page (the id hash never leaves the server).
    let public_id = {
        let mut b = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut b);
        hex::encode(b)
    };
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, current_workspace_id, created_at, last_seen_at, public_id, user_agent, address, awaiting_code, via_sso)
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)",
    )
    .bind(token.id_hash())
    .bind(user.0)
    .bind(current_workspace.map(|w| w.0))
    .bind(now)
    .bind(public_id)
    .bind(clean(client.user_agent, USER_AGENT_MAX))
    .bind(clean(client.address, 64))
    .bind(i64::from(stage == Stage::AwaitingCode))
    .bind(i64::from(stage == Stage::Sso))
    .execute(conn)
    .await?;
    Ok(token)
}

type SessionRow = (
    i64,
    String,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
    i64,
    i64,
    Option<String>,
    i64,
    String,
);

/// Resolves a cookie token to the signed-in actor, enforcing the idle and
/// absolute timeouts. An expired session is deleted on sight.
pub async fn resolve(svc: &Services, token: &SessionToken) -> AppResult<Option<Actor>> {
    let now = svc.now();
    let id_hash = token.id_hash();
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.user_id, u.email, s.current_workspace_id, s.created_at, s.last_seen_at, p.user_id,
                s.awaiting_code,
                CASE WHEN s.via_sso = 0 AND EXISTS (SELECT 1 FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
                                  WHERE m.user_id = s.user_id AND w.require_mfa <> 0)
                      AND NOT EXISTS (SELECT 1 FROM user_totp t
                                      WHERE t.user_id = s.user_id AND t.confirmed_at IS NOT NULL)
                     THEN 1 ELSE 0 END,
                u.time_zone,
                CASE WHEN s.via_sso = 0 AND EXISTS (SELECT 1 FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
                                                    WHERE m.user_id = s.user_id AND w.sso_only <> 0)
                     THEN 1 ELSE 0 END,
                u.theme
         FROM sessions s JOIN users u ON u.id = s.user_id
         LEFT JOIN platform_operators p ON p.user_id = s.user_id
         WHERE s.id_hash = $1",
    )
    .bind(&id_hash)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let Some((
        user_id,
        email,
        current,
        created_at,
        last_seen_at,
        operator,
        awaiting,
        owed,
        zone,
        password_session_in_sso_workspace,
        theme,
    )) = row
    else {
        return Ok(None);
    };
    if awaiting != 0 {
        // Half a sign-in signs nothing in (see `awaiting_code`).
        return Ok(None);
    }
    // A password session of someone whose workspace now signs in with single
    // sign-on only ends like an expired one.
    let expired = now - created_at >= svc.settings.session_absolute_ms
        || now - last_seen_at >= svc.settings.session_idle_ms
        || password_session_in_sso_workspace != 0;
    if expired {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(&id_hash)
            .execute(&mut *svc.store.write().await?)
            .await?;
        return Ok(None);
    }
    if now - last_seen_at >= TOUCH_EVERY_MS {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(&id_hash)
            .bind(now)
            .execute(&mut *svc.store.write().await?)
            .await?;
    }
    Ok(Some(Actor {
        user_id: UserId(user_id),
        email,
        is_platform_operator: operator.is_some(),
        session_id_hash: id_hash,
        current_workspace: current.map(WorkspaceId),
        mfa_owed: owed != 0,
        time_zone: zone,
        theme: Theme::parse(&theme).unwrap_or_default(),
    }))
}

/// A sign-in waiting for its authenticator code.
#[derive(Debug, Clone)]
pub struct AwaitingCode {
    pub user: UserId,
    pub email: String,
    pub id_hash: String,
    pub attempts: i64,
}

/// Resolves a cookie token to a sign-in still owing its code (and not timed
/// out: `crate::mfa::CODE_WAIT_MS`). A timed-out one is deleted on sight.
pub async fn awaiting_code(
    svc: &Services,
    token: &SessionToken,
) -> AppResult<Option<AwaitingCode>> {
    let id_hash = token.id_hash();
    let row: Option<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT s.user_id, u.email, s.created_at, s.code_attempts FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_hash = $1 AND s.awaiting_code <> 0",
    )
    .bind(&id_hash)
    .fetch_optional(&mut *svc.store.read().await?)
    .await?;
    let Some((user, email, created_at, attempts)) = row else {
        return Ok(None);
    };
    if svc.now() - created_at >= crate::mfa::CODE_WAIT_MS {
        revoke(svc, token).await?;
        return Ok(None);
    }
    Ok(Some(AwaitingCode {
        user: UserId(user),
        email,
        id_hash,
        attempts,
    }))
}

pub async fn revoke(svc: &Services, token: &SessionToken) -> AppResult<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(token.id_hash())
        .execute(&mut *svc.store.write().await?)
        .await?;
    Ok(())
}

pub(crate) async fn set_current_workspace(
    conn: &mut AnyConnection,
    session_id_hash: &str,
    workspace: WorkspaceId,
) -> AppResult<()> {
    sqlx::query("UPDATE sessions SET current_workspace_id = $2 WHERE id_hash = $1")
        .bind(session_id_hash)
        .bind(workspace.0)
        .execute(conn)
        .await?;
    Ok(())
}
