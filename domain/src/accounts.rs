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

/// What a successful sign-in hands back to the web layer.
#[derive(Debug)]
pub struct SignedIn {
    pub user: UserId,
    pub token: SessionToken,
    /// The password was right and two-step sign-in is on: the token is only
    /// good for giving the code (`verify_sign_in_code`).
    pub needs_code: bool,
}

/// Signs in. `previous` is the session cookie the browser presented, if any:
/// it is revoked so the session id always rotates at sign-in.
///
/// Throttling: the attempt is counted on the client address and on the
/// account *before* the password is checked, in one atomic statement each,
/// so parallel guesses all count. An address over its limit is refused (429:
/// that is the guesser's own address). An account over its limit is slowed,
/// not locked: its attempts get slots `account_attempt_spacing_ms` apart and
/// wait for them; one that would wait longer than
/// `account_attempt_max_wait_ms` is answered like a wrong password without
/// checking it. Its owner is never told (same words, same status) and gets
/// in as soon as the guessing stops.
pub async fn sign_in(
    svc: &Services,
    email_raw: &str,
    password: &str,
    address: &str,
    user_agent: Option<&str>,
    previous: Option<&SessionToken>,
) -> AppResult<SignedIn> {
    let now = svc.now();
    let settings = &svc.settings;
    // An unparseable email still costs a hash and counts against the address.
    let email = Email::parse(email_raw).ok();
    let account_key = email.as_ref().map(|e| format!("account:{e}"));
    let address_key = format!("address:{address}");

    let mut tx = svc.store.begin().await?;
    let by_address = reserve_attempt(&mut tx, svc, &address_key, None, now).await?;
    let by_account = match &account_key {
        Some(k) => {
            Some(reserve_attempt(&mut tx, svc, k, Some(settings.account_failure_limit), now).await?)
        }
        None => None,
    };
    let user: Option<(i64, String)> = match &email {
        Some(e) => {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
                .bind(e.as_str())
                .fetch_optional(&mut **tx)
                .await?
        }
        None => None,
    };
    tx.commit().await?;

    let address_locked = by_address.attempts > settings.address_failure_limit;
    let wait_ms = by_account.map(|a| a.wait_ms(now)).unwrap_or(0);
    let too_long = wait_ms > settings.account_attempt_max_wait_ms;
    let checked = !address_locked && !too_long;
    let password_ok = if checked {
        if wait_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(wait_ms as u64)).await;
        }
        let hash = user.as_ref().map(|(_, h)| h.clone());
        let pw = password.to_string();
        // Unknown accounts cost one verification too (against the decoy).
        with_hashing(move || match hash {
            Some(h) => verify_password(&pw, &h),
            None => verify_password(&pw, decoy_hash()),
        })
        .await?
    } else {
        false
    };

    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if let Some(prev) = previous {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(prev.id_hash())
            .execute(&mut **tx)
            .await?;
    }
    match user {
        Some((user_id, _)) if password_ok => {
            succeeded(&mut tx, account_key.as_deref(), &address_key).await?;
            let user = UserId(user_id);
            if let Some(name) = crate::sso::required_for(&mut tx, svc, user).await? {
                // The password was right, but this workspace signs in elsewhere.
                tx.commit().await?;
                return Err(AppError::conflict(format!(
                    "Your workspace signs in with {name} only: use Sign in with {name}."
                )));
            }
            if crate::mfa::enabled(&mut tx, user).await? {
                // Half a sign-in: the code comes next (audited when it does).
                let token = sessions::insert(
                    &mut tx,
                    user,
                    None,
                    now,
                    sessions::Client {
                        address: Some(address),
                        user_agent,
                    },
                    sessions::Stage::AwaitingCode,
                )
                .await?;
                tx.commit().await?;
                return Ok(SignedIn {
                    user,
                    token,
                    needs_code: true,
                });
            }
            let token = open_session(
                &mut tx,
                user,
                now,
                sessions::Client {
                    address: Some(address),
                    user_agent,
                },
                email.as_ref().map(Email::as_str).unwrap_or(""),
                None,
            )
            .await?;
            tx.commit().await?;
            Ok(SignedIn {
                user,
                token,
                needs_code: false,
            })
        }
        _ => {
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
                    detail: (!checked).then(|| "throttled".to_string()),
                },
                now,
            )
            .await?;
            tx.commit().await?;
            Err(AppError::SignInFailed {
                throttled: address_locked,
            })
        }
    }
}

/// Opens a session for a single sign-on identity's account, audited.
pub(crate) async fn open_sso_session(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
    now: i64,
    client: sessions::Client<'_>,
    email: &str,
) -> AppResult<SessionToken> {
    open_session_as(
        conn,
        user,
        now,
        client,
        email,
        Some("with single sign-on".into()),
        sessions::Stage::Sso,
    )
    .await
}

/// Opens a full session in the person's first workspace and audits the
/// sign-in (`how`: the second step used, if any).
async fn open_session(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
    now: i64,
    client: sessions::Client<'_>,
    email: &str,
    how: Option<String>,
) -> AppResult<SessionToken> {
    open_session_as(conn, user, now, client, email, how, sessions::Stage::Full).await
}

async fn open_session_as(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
    now: i64,
    client: sessions::Client<'_>,
    email: &str,
    how: Option<String>,
    stage: sessions::Stage,
) -> AppResult<SessionToken> {
    let current: Option<(i64,)> = sqlx::query_as(
        "SELECT workspace_id FROM memberships WHERE user_id = $1 ORDER BY workspace_id LIMIT 1",
    )
    .bind(user.0)
    .fetch_optional(&mut *conn)
    .await?;
    let token = sessions::insert(
        &mut *conn,
        user,
        current.map(|c| crate::ids::WorkspaceId(c.0)),
        now,
        client,
        stage,
    )
    .await?;
    audit::record(
        conn,
        Entry {
            workspace: None,
            tenant: None,
            actor: Some(user),
            actor_label: email,
            action: AuditAction::SignedIn,
            target: email.to_string(),
            outcome: AuditOutcome::Succeeded,
            detail: how,
        },
        now,
    )
    .await?;
    Ok(token)
}

/// The second step: the code from the authenticator app (or a recovery
/// code) for a sign-in whose password was right. Throttled like passwords
/// (per account and per address, before the code is checked), and each
/// waiting sign-in gets `CODE_ATTEMPTS` tries before it must start over. On
/// success the waiting session is replaced by a full one (a new id).
pub async fn verify_sign_in_code(
    svc: &Services,
    waiting: &SessionToken,
    code: &str,
    address: &str,
    user_agent: Option<&str>,
) -> AppResult<SignedIn> {
    let expired = || {
        AppError::invalid(
            "code",
            "This sign-in has timed out or had too many wrong codes. Sign in again.",
        )
    };
    let Some(pending) = sessions::awaiting_code(svc, waiting).await? else {
        return Err(expired());
    };
    let now = svc.now();
    let settings = &svc.settings;
    let account_key = format!("code:{}", pending.user.0);
    let address_key = format!("address:{address}");
    let mut tx = svc.store.begin().await?;
    let by_address = reserve_attempt(&mut tx, svc, &address_key, None, now).await?;
    let by_account = reserve_attempt(
        &mut tx,
        svc,
        &account_key,
        Some(settings.account_failure_limit),
        now,
    )
    .await?;
    let (attempts,): (i64,) = sqlx::query_as(
        "UPDATE sessions SET code_attempts = code_attempts + 1 WHERE id_hash = $1 RETURNING code_attempts",
    )
    .bind(&pending.id_hash)
    .fetch_one(&mut **tx)
    .await?;
    tx.commit().await?;
    if attempts > crate::mfa::CODE_ATTEMPTS {
        sessions::revoke(svc, waiting).await?;
        return Err(expired());
    }
    let address_locked = by_address.attempts > settings.address_failure_limit;
    let wait_ms = by_account.wait_ms(now);
    let checked = !address_locked && wait_ms <= settings.account_attempt_max_wait_ms;
    if checked && wait_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms as u64)).await;
    }
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let used = if checked {
        crate::mfa::spend_code(&mut tx, svc, pending.user, &pending.email, code).await?
    } else {
        None
    };
    match used {
        Some(how) => {
            succeeded(&mut tx, Some(&account_key), &address_key).await?;
            let gone =
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND awaiting_code <> 0")
                    .bind(&pending.id_hash)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
            if gone == 0 {
                // A parallel request with another right code finished first.
                return Err(expired());
            }
            let how = match how {
                crate::mfa::CodeUsed::Authenticator => "with an authenticator code".to_string(),
                crate::mfa::CodeUsed::Recovery { left } => {
                    format!("with a recovery code ({left} left)")
                }
            };
            let token = open_session(
                &mut tx,
                pending.user,
                now,
                sessions::Client {
                    address: Some(address),
                    user_agent,
                },
                &pending.email,
                Some(how),
            )
            .await?;
            tx.commit().await?;
            Ok(SignedIn {
                user: pending.user,
                token,
                needs_code: false,
            })
        }
        None => {
            audit::record(
                &mut tx,
                Entry {
                    workspace: None,
                    tenant: None,
                    actor: Some(pending.user),
                    actor_label: "anonymous",
                    action: AuditAction::SignInFailed,
                    target: pending.email.clone(),
                    outcome: AuditOutcome::Denied,
                    detail: Some(
                        if checked {
                            "wrong code"
                        } else {
                            "code throttled"
                        }
                        .into(),
                    ),
                },
                now,
            )
            .await?;
            tx.commit().await?;
            if address_locked {
                return Err(AppError::SignInFailed { throttled: true });
            }
            Err(AppError::invalid(
                "code",
                "That code is not right. Type the six digits the app shows now, or a recovery code.",
            ))
        }
    }
}

/// What the second sign-in step's page needs (404 if there is no sign-in
/// waiting for a code behind this cookie).
pub async fn sign_in_code_page(
    svc: &Services,
    waiting: Option<&SessionToken>,
) -> AppResult<Option<crate::views::SignInCodePage>> {
    let Some(token) = waiting else {
        return Ok(None);
    };
    Ok(sessions::awaiting_code(svc, token)
        .await?
        .map(|p| crate::views::SignInCodePage { email: p.email }))
}

/// A success clears the account's count and gives the address its attempt
/// back (an office behind one address signs in all day).
async fn succeeded(
    conn: &mut sqlx::AnyConnection,
    account_key: Option<&str>,
    address_key: &str,
) -> AppResult<()> {
    if let Some(k) = account_key {
        sqlx::query("DELETE FROM sign_in_throttle WHERE throttle_key = $1")
            .bind(k)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(
        "UPDATE sign_in_throttle SET failures = failures - 1 WHERE throttle_key = $1 AND failures > 0",
    )
    .bind(address_key)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts an attempt on `key` (no spacing); answers the attempts in the
/// current window, this one included.
pub(crate) async fn count_attempt(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    key: &str,
    now: i64,
) -> AppResult<i64> {
    Ok(reserve_attempt(conn, svc, key, None, now).await?.attempts)
}

/// One attempt counted on a throttle key.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    /// Attempts in the current window, this one included.
    attempts: i64,
    /// When this attempt may be checked (0: at once).
    slot_at: i64,
}

impl Attempt {
    fn wait_ms(&self, now: i64) -> i64 {
        (self.slot_at - now).max(0)
    }
}

/// Counts an attempt on `key` atomically and, past `spaced_after` attempts,
/// reserves the next slot for it. One statement, so concurrent attempts on
/// PostgreSQL each see their own count (no read-then-write).
async fn reserve_attempt(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    key: &str,
    spaced_after: Option<i64>,
    now: i64,
) -> AppResult<Attempt> {
    let greatest = match svc.store.backend() {
        crate::store::Backend::Postgres => "GREATEST",
        crate::store::Backend::Sqlite => "MAX",
    };
    let sql = format!(
        "INSERT INTO sign_in_throttle (throttle_key, failures, window_started_at, locked_until, next_attempt_at)
         VALUES ($1, 1, $2, 0, 0)
         ON CONFLICT (throttle_key) DO UPDATE SET
            failures = CASE WHEN sign_in_throttle.window_started_at <= $2 - $3 THEN 1 ELSE sign_in_throttle.failures + 1 END,
            window_started_at = CASE WHEN sign_in_throttle.window_started_at <= $2 - $3 THEN $2 ELSE sign_in_throttle.window_started_at END,
            next_attempt_at = CASE
                WHEN sign_in_throttle.window_started_at > $2 - $3 AND sign_in_throttle.failures + 1 > $4
                THEN {greatest}(sign_in_throttle.next_attempt_at, $2) + $5
                ELSE sign_in_throttle.next_attempt_at END
         RETURNING failures, next_attempt_at"
    );
    let spacing = svc.settings.account_attempt_spacing_ms;
    let (attempts, next_at): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(&*sql))
        .bind(key)
        .bind(now)
        .bind(svc.settings.throttle_window_ms)
        .bind(spaced_after.unwrap_or(i64::MAX))
        .bind(spacing)
        .fetch_one(conn)
        .await?;
    let spaced = spaced_after.is_some_and(|limit| attempts > limit);
    Ok(Attempt {
        attempts,
        slot_at: if spaced { next_at - spacing } else { 0 },
    })
}

// Password hashing is deliberately expensive (argon2id: 19 MiB and tens of
// milliseconds each): a few at a time, and a short queue, so a flood of
// sign-ins cannot exhaust memory or starve the pages of CPU.
static HASH_SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
static HASH_WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
const HASH_QUEUE: usize = 64;

async fn with_hashing<T: Send + 'static>(
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

/// The signed-in person's account page: their sessions still in force, the
/// current one first.
pub async fn account_page(
    svc: &Services,
    actor: &crate::access::Actor,
) -> AppResult<crate::views::AccountPage> {
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
    let mut sessions: Vec<crate::views::SessionView> = rows
        .into_iter()
        .filter_map(|(id, agent, address, created_at, last_seen_at, hash)| {
            Some(crate::views::SessionView {
                // Sessions from before handles existed cannot be ended one by one
                // (ending the others still ends them).
                id: id?,
                current: hash == actor.session_id_hash,
                device: crate::views::device_label(agent.as_deref()),
                address,
                created_at,
                last_seen_at,
            })
        })
        .collect();
    sessions.sort_by_key(|s| !s.current);
    Ok(crate::views::AccountPage {
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
