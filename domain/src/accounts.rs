//! Local accounts: argon2id password hashes and throttled sign-in.

use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::services::Services;
use crate::sessions::{self, SessionToken};
use crate::store::is_unique_violation;
use crate::validate::{Email, NewPassword};
use crate::views::{AuditAction, AuditOutcome};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::OnceLock;

fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AppError::Internal)
}

/// A hash of a random password, verified against when the email is unknown so
/// that "no such account" costs as much time as "wrong password".
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(b"decoy password that never matches", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Creates an account (the `tenantry user create` path).
pub async fn create_user(
    svc: &Services,
    email: &Email,
    password: &NewPassword,
    platform_operator: bool,
) -> AppResult<UserId> {
    let pw = password.expose().to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|_| AppError::Internal)??;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let id: (i64,) = sqlx::query_as(
        "INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(email.as_str())
    .bind(hash)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AppError::conflict("An account with this email already exists.")
        } else {
            e.into()
        }
    })?;
    if platform_operator {
        sqlx::query("INSERT INTO platform_operators (user_id, granted_at) VALUES ($1, $2)")
            .bind(id.0)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    audit::record(
        &mut tx,
        Entry {
            workspace: None,
            tenant: None,
            actor: None,
            actor_label: "command line",
            action: AuditAction::UserCreated,
            target: email.to_string(),
            outcome: AuditOutcome::Succeeded,
            detail: platform_operator.then(|| "platform operator".to_string()),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(UserId(id.0))
}

/// What a successful sign-in hands back to the web layer.
#[derive(Debug)]
pub struct SignedIn {
    pub user: UserId,
    pub token: SessionToken,
}

/// Signs in. `previous` is the session cookie the browser presented, if any:
/// it is revoked so the session id always rotates at sign-in.
pub async fn sign_in(
    svc: &Services,
    email_raw: &str,
    password: &str,
    address: &str,
    previous: Option<&SessionToken>,
) -> AppResult<SignedIn> {
    let now = svc.now();
    // An unparseable email still costs a hash and counts against the address.
    let email = Email::parse(email_raw).ok();
    let account_key = email.as_ref().map(|e| format!("account:{e}"));
    let address_key = format!("address:{address}");

    let locked = is_locked(svc, &address_key, now).await?
        || match &account_key {
            Some(k) => is_locked(svc, k, now).await?,
            None => false,
        };

    let user: Option<(i64, String)> = match &email {
        Some(e) => {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
                .bind(e.as_str())
                .fetch_optional(&mut *svc.store.read().await?)
                .await?
        }
        None => None,
    };
    let hash = user
        .as_ref()
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| decoy_hash().to_string());
    let pw = password.to_string();
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(|_| AppError::Internal)?;

    let mut tx = svc.store.begin().await?;
    if let Some(prev) = previous {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(prev.id_hash())
            .execute(&mut **tx)
            .await?;
    }
    match user {
        Some((user_id, _)) if password_ok && !locked => {
            if let Some(k) = &account_key {
                sqlx::query("DELETE FROM sign_in_throttle WHERE throttle_key = $1")
                    .bind(k)
                    .execute(&mut **tx)
                    .await?;
            }
            let user = UserId(user_id);
            let current: Option<(i64,)> = sqlx::query_as(
                "SELECT workspace_id FROM memberships WHERE user_id = $1 ORDER BY workspace_id LIMIT 1",
            )
            .bind(user.0)
            .fetch_optional(&mut **tx)
            .await?;
            let token = sessions::insert(
                &mut tx,
                user,
                current.map(|c| crate::ids::WorkspaceId(c.0)),
                now,
            )
            .await?;
            audit::record(
                &mut tx,
                Entry {
                    workspace: None,
                    tenant: None,
                    actor: Some(user),
                    actor_label: email.as_ref().map(Email::as_str).unwrap_or(""),
                    action: AuditAction::SignedIn,
                    target: email.as_ref().map(Email::to_string).unwrap_or_default(),
                    outcome: AuditOutcome::Succeeded,
                    detail: None,
                },
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(SignedIn { user, token })
        }
        _ => {
            // A failed attempt while locked does not extend the lock further
            // than the policy allows; it is still counted and audited.
            record_failure(
                svc,
                &mut tx,
                &address_key,
                svc.settings.address_failure_limit,
                now,
            )
            .await?;
            if let Some(k) = &account_key {
                record_failure(svc, &mut tx, k, svc.settings.account_failure_limit, now).await?;
            }
            audit::record(
                &mut tx,
                Entry {
                    workspace: None,
                    tenant: None,
                    actor: user.as_ref().map(|(id, _)| UserId(*id)),
                    actor_label: "anonymous",
                    action: AuditAction::SignInFailed,
                    target: email
                        .as_ref()
                        .map(Email::to_string)
                        .unwrap_or_else(|| "(invalid email)".into()),
                    outcome: AuditOutcome::Denied,
                    detail: locked.then(|| "throttled".to_string()),
                },
                now,
            )
            .await?;
            tx.commit().await?;
            Err(AppError::SignInFailed { throttled: locked })
        }
    }
}

async fn is_locked(svc: &Services, key: &str, now: i64) -> AppResult<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT locked_until FROM sign_in_throttle WHERE throttle_key = $1")
            .bind(key)
            .fetch_optional(&mut *svc.store.read().await?)
            .await?;
    Ok(row.is_some_and(|(until,)| until > now))
}

async fn record_failure(
    svc: &Services,
    conn: &mut sqlx::AnyConnection,
    key: &str,
    limit: i64,
    now: i64,
) -> AppResult<()> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT failures, window_started_at, locked_until FROM sign_in_throttle WHERE throttle_key = $1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    let (failures, window_start, locked_until) = match row {
        Some((f, w, l)) if now - w < svc.settings.throttle_window_ms => (f + 1, w, l),
        Some((_, _, l)) => (1, now, l),
        None => (1, now, 0),
    };
    let locked_until = if failures >= limit && locked_until <= now {
        now + svc.settings.throttle_lockout_ms
    } else {
        locked_until
    };
    sqlx::query(
        "INSERT INTO sign_in_throttle (throttle_key, failures, window_started_at, locked_until)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (throttle_key) DO UPDATE SET failures = $2, window_started_at = $3, locked_until = $4",
    )
    .bind(key)
    .bind(failures)
    .bind(window_start)
    .bind(locked_until)
    .execute(conn)
    .await?;
    Ok(())
}

/// Signs out: the server-side session is gone, whatever the browser keeps.
pub async fn sign_out(svc: &Services, actor: &crate::access::Actor) -> AppResult<()> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(&actor.session_id_hash)
        .execute(&mut **tx)
        .await?;
    audit::record(
        &mut tx,
        Entry {
            workspace: None,
            tenant: None,
            actor: Some(actor.user_id),
            actor_label: &actor.email,
            action: AuditAction::SignedOut,
            target: actor.email.clone(),
            outcome: AuditOutcome::Succeeded,
            detail: None,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
