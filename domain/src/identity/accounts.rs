//! Local accounts: argon2id password hashes, creating accounts, signing
//! out, your account's page, password changes and sessions. Signing in is
//! `super::sign_in` (the password) and `super::code` (the second step),
//! re-exported here where callers have always found them.

pub use super::code::{sign_in_code_page, verify_sign_in_code};
pub(crate) use super::sign_in::open_sso_session;
pub use super::sign_in::{SignedIn, sign_in};

use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::services::Services;
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
pub(super) fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(b"decoy password that never matches", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

pub(super) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashes a new password in the bounded hashing pool.
pub(crate) async fn hash_new_password(password: &NewPassword) -> AppResult<String> {
    let pw = password.expose().to_string();
    with_hashing(move || hash_password(&pw)).await?
}

/// Creates an account (the `tenantry user create` path).
pub async fn create_user(
    svc: &Services,
    email: &Email,
    password: &NewPassword,
    platform_operator: bool,
) -> AppResult<UserId> {
    let pw = password.expose().to_string();
    let hash = with_hashing(move || hash_password(&pw)).await??;
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

// Password hashing is deliberately expensive (argon2id: 19 MiB and tens of
// milliseconds each): a few at a time, and a short queue, so a flood of
// sign-ins cannot exhaust memory or starve the pages of CPU.
static HASH_SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();

static HASH_WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

const HASH_QUEUE: usize = 64;

pub(super) async fn with_hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> AppResult<T> {
    use std::sync::atomic::Ordering;
    let slots = HASH_SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores.clamp(1, 4))
    });
    if HASH_WAITING.fetch_add(1, Ordering::AcqRel) >= HASH_QUEUE {
        HASH_WAITING.fetch_sub(1, Ordering::AcqRel);
        tracing::warn!("password hashing queue full; answering 503");
        return Err(AppError::Unavailable);
    }
    let permit = slots.acquire().await;
    HASH_WAITING.fetch_sub(1, Ordering::AcqRel);
    let _permit = permit.map_err(|_| AppError::Internal)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| AppError::Internal)
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

/// Saves the signed-in person's colour theme (`system`, `light` or `dark`);
/// anything else is refused naming the field.
pub async fn set_theme(
    svc: &Services,
    actor: &crate::access::Actor,
    raw: &str,
) -> AppResult<crate::access::Theme> {
    let theme = crate::access::Theme::parse(raw)
        .ok_or_else(|| AppError::invalid("theme", "Choose System, Light or Dark."))?;
    sqlx::query("UPDATE users SET theme = $2 WHERE id = $1")
        .bind(actor.user_id.0)
        .bind(theme.as_str())
        .execute(&mut *svc.store.write().await?)
        .await?;
    Ok(theme)
}

/// The signed-in person's account page: their sessions still in force, the
/// current one first.
pub async fn account_page(
    svc: &Services,
    actor: &crate::access::Actor,
) -> AppResult<crate::identity::views::AccountPage> {
    let now = svc.now();
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        i64,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT public_id, user_agent, address, created_at, last_seen_at, id_hash FROM sessions
         WHERE user_id = $1 AND created_at > $2 AND last_seen_at > $3
         ORDER BY last_seen_at DESC, created_at DESC",
    )
    .bind(actor.user_id.0)
    .bind(now - svc.settings.session_absolute_ms)
    .bind(now - svc.settings.session_idle_ms)
    .fetch_all(&mut *svc.store.read().await?)
    .await?;
    let mut sessions: Vec<crate::identity::views::SessionView> = rows
        .into_iter()
        .filter_map(|(id, agent, address, created_at, last_seen_at, hash)| {
            Some(crate::identity::views::SessionView {
                // Sessions from before handles existed cannot be ended one by one
                // (ending the others still ends them).
                id: id?,
                current: hash == actor.session_id_hash,
                device: crate::identity::views::device_label(agent.as_deref()),
                address,
                created_at,
                last_seen_at,
            })
        })
        .collect();
    sessions.sort_by_key(|s| !s.current);
    Ok(crate::identity::views::AccountPage {
        email: actor.email.clone(),
        sessions,
        min_password: NewPassword::MIN_LEN,
        mfa: crate::mfa::status(svc, actor).await?,
        time_zone: actor.time_zone.clone(),
        time_zones: crate::time_zones::available(),
        sso: crate::sso::identities(svc, actor).await?,
    })
}

pub(crate) fn account_entry<'a>(
    actor: &'a crate::access::Actor,
    action: AuditAction,
    outcome: AuditOutcome,
    detail: Option<String>,
) -> Entry<'a> {
    Entry {
        workspace: None,
        tenant: None,
        actor: Some(actor.user_id),
        actor_label: &actor.email,
        action,
        target: actor.email.clone(),
        outcome,
        detail,
    }
}

/// Changes the signed-in person's password: the current one must be right
/// (checks are limited per hour, a wrong one is audited), the new one must
/// pass the password rule, differ from the current one and be typed twice.
/// Every other session of theirs ends; this one stays. Answers how many ended.
pub async fn change_password(
    svc: &Services,
    actor: &crate::access::Actor,
    current: &str,
    new: &str,
    confirm: &str,
) -> AppResult<u64> {
    check_current_password(svc, actor, current, AuditAction::PasswordChanged).await?;
    let password =
        NewPassword::parse(new).map_err(|e| AppError::invalid("new_password", e.message))?;
    if confirm != new {
        return Err(AppError::invalid(
            "confirm_password",
            "The two new passwords differ: type the same one twice.",
        ));
    }
    if new == current {
        return Err(AppError::invalid(
            "new_password",
            "Choose a password other than the current one.",
        ));
    }
    let new_hash = hash_new_password(&password).await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(actor.user_id.0)
        .bind(new_hash)
        .execute(&mut **tx)
        .await?;
    let ended = end_others_in(&mut tx, actor).await?;
    audit::record(
        &mut tx,
        account_entry(
            actor,
            AuditAction::PasswordChanged,
            AuditOutcome::Succeeded,
            Some(format!("{ended} other session(s) ended")),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// Checks the signed-in person's current password before a sensitive change
/// (`action` names it in the audit): checks are limited per hour, a wrong
/// one is audited as denied and refused on the `current_password` field.
pub(crate) async fn check_current_password(
    svc: &Services,
    actor: &crate::access::Actor,
    current: &str,
    action: AuditAction,
) -> AppResult<()> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    crate::limits::take(
        &mut tx,
        &svc.settings.limits,
        crate::limits::Limited::PasswordChecks,
        actor.user_id,
        now,
    )
    .await?;
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(actor.user_id.0)
        .fetch_one(&mut **tx)
        .await?;
    tx.commit().await?;
    let given = current.to_string();
    if with_hashing(move || verify_password(&given, &hash)).await? {
        return Ok(());
    }
    let mut tx = svc.store.begin().await?;
    audit::record(
        &mut tx,
        account_entry(
            actor,
            action,
            AuditOutcome::Denied,
            Some("the current password was wrong".into()),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Err(AppError::invalid(
        "current_password",
        "That is not your current password.",
    ))
}

/// Ends one of the person's other sessions (404: not theirs, gone, or this one:
/// signing out ends this one).
pub async fn end_session(
    svc: &Services,
    actor: &crate::access::Actor,
    session: &str,
) -> AppResult<()> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let ended =
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND public_id = $2 AND id_hash <> $3")
            .bind(actor.user_id.0)
            .bind(session.trim())
            .bind(&actor.session_id_hash)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    if ended == 0 {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        account_entry(
            actor,
            AuditAction::SessionEnded,
            AuditOutcome::Succeeded,
            None,
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes every session of the person but this one; answers how many.
async fn end_others_in(
    conn: &mut sqlx::AnyConnection,
    actor: &crate::access::Actor,
) -> AppResult<u64> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(actor.user_id.0)
            .bind(&actor.session_id_hash)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Ends every session of the person but this one; answers how many.
pub async fn end_other_sessions(svc: &Services, actor: &crate::access::Actor) -> AppResult<u64> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let ended = end_others_in(&mut tx, actor).await?;
    audit::record(
        &mut tx,
        account_entry(
            actor,
            AuditAction::SessionEnded,
            AuditOutcome::Succeeded,
            Some(format!("{ended} other session(s)")),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}
