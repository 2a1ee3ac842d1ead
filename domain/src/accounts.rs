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
    /// The browser's device cookie after a full sign-in (this account's
    /// fresh token and its others), to set.
    pub device_cookie: Option<String>,
}

/// Signs in. `previous` is the session cookie the browser presented, if any:
/// it is revoked so the session id always rotates at sign-in. `device` is
/// the browser's device cookie, if any.
///
/// Throttling (`sign_in_throttle`): a browser holding this account's device
/// cookie is limited on its own token only; any other client is limited per
/// address (429) and per account (past the limit answered like a wrong
/// password without the password being checked, and the owner told once).
/// Every attempt is counted before the password is checked.
pub async fn sign_in(
    svc: &Services,
    email_raw: &str,
    password: &str,
    address: &str,
    user_agent: Option<&str>,
    previous: Option<&SessionToken>,
    device: Option<&str>,
) -> AppResult<SignedIn> {
    use crate::sign_in_throttle as throttle;
    let now = svc.now();
    let settings = &svc.settings;
    // An unparseable email still costs a hash and counts against the address.
    let email = Email::parse(email_raw).ok();
    let address_key = format!("address:{address}");

    let mut tx = svc.store.begin().await?;
    let user: Option<(i64, String)> = match &email {
        Some(e) => {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
                .bind(e.as_str())
                .fetch_optional(&mut **tx)
                .await?
        }
        None => None,
    };
    let trusted = user
        .as_ref()
        .and_then(|(id, _)| throttle::trusted_device(&svc.provider.secrets, device, UserId(*id)));
    let gate = match &trusted {
        Some(device_key) => {
            match throttle::reserve_if_open(
                &mut tx,
                svc,
                device_key,
                settings.device_failure_limit,
                now,
            )
            .await?
            {
                Some(_) => Gate::Check {
                    clear: Some(device_key.clone()),
                    refund_address: false,
                    engages: false,
                },
                None => Gate::Refused { status_429: true },
            }
        }
        None => {
            match throttle::reserve_if_open(
                &mut tx,
                svc,
                &address_key,
                settings.address_failure_limit,
                now,
            )
            .await?
            {
                None => Gate::Refused { status_429: true },
                Some(_) => match &email {
                    None => Gate::Check {
                        clear: None,
                        refund_address: true,
                        engages: false,
                    },
                    Some(e) => {
                        let account_key = format!("account:{e}");
                        let limit = settings.account_failure_limit;
                        match throttle::reserve_if_open(&mut tx, svc, &account_key, limit, now)
                            .await?
                        {
                            None => Gate::Refused { status_429: false },
                            Some(n) => Gate::Check {
                                clear: Some(account_key),
                                refund_address: true,
                                engages: n == limit,
                            },
                        }
                    }
                },
            }
        }
    };
    tx.commit().await?;

    let checked = matches!(gate, Gate::Check { .. });
    let password_ok = if checked {
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
    match (user, gate) {
        (
            Some((user_id, _)),
            Gate::Check {
                clear,
                refund_address,
                ..
            },
        ) if password_ok => {
            throttle::succeeded(
                &mut tx,
                clear.as_deref(),
                if refund_address { &address_key } else { "" },
            )
            .await?;
            let user = UserId(user_id);
            if let Some(name) = crate::sso::required_for(&mut tx, svc, user).await? {
                // The password was right, but this workspace signs in elsewhere.
                tx.commit().await?;
                return Err(AppError::conflict(format!(
                    "Your workspace signs in with {name} only: use Sign in with {name}."
                )));
            }
            let client = sessions::Client {
                address: Some(address),
                user_agent,
            };
            if crate::mfa::enabled(&mut tx, user).await? {
                // Half a sign-in: the code comes next (audited when it does);
                // the device cookie comes with the full sign-in.
                let token = sessions::insert(
                    &mut tx,
                    user,
                    None,
                    now,
                    client,
                    sessions::Stage::AwaitingCode,
                )
                .await?;
                tx.commit().await?;
                return Ok(SignedIn {
                    user,
                    token,
                    needs_code: true,
                    device_cookie: None,
                });
            }
            let token = open_session(
                &mut tx,
                user,
                now,
                client,
                email.as_ref().map(Email::as_str).unwrap_or(""),
                None,
            )
            .await?;
            tx.commit().await?;
            Ok(SignedIn {
                user,
                token,
                needs_code: false,
                device_cookie: Some(throttle::device_cookie_value(
                    &svc.provider.secrets,
                    device,
                    user,
                )),
            })
        }
        (user, gate) => {
            let target = email
                .as_ref()
                .map(Email::to_string)
                .unwrap_or_else(|| "(invalid email)".into());
            audit::record(
                &mut tx,
                Entry {
                    workspace: None,
                    tenant: None,
                    actor: user.as_ref().map(|(id, _)| UserId(*id)),
                    actor_label: "anonymous",
                    action: AuditAction::SignInFailed,
                    target: target.clone(),
                    outcome: AuditOutcome::Denied,
                    detail: (!checked).then(|| "throttled".to_string()),
                },
                now,
            )
            .await?;
            if let (Some((id, _)), Gate::Check { engages: true, .. }) = (&user, &gate) {
                throttle::tell_owner_locked(&mut tx, svc, UserId(*id), &target, now).await?;
            }
            tx.commit().await?;
            if matches!(gate, Gate::Check { engages: true, .. }) {
                // Wake this process's mail sender.
                svc.run_signal.notify();
            }
            Err(AppError::SignInFailed {
                throttled: matches!(gate, Gate::Refused { status_429: true }),
            })
        }
    }
}

/// What the throttle decided for one attempt, before the password.
enum Gate {
    /// Check the password; on success clear `clear` (the device's or the
    /// account's count) and give the address its attempt back; `engages`:
    /// a failure now fills the account's limit.
    Check {
        clear: Option<String>,
        refund_address: bool,
        engages: bool,
    },
    /// Not checked: a limit is reached (429 for the address or the device,
    /// the wrong-password answer for the account).
    Refused { status_429: bool },
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
    device: Option<&str>,
) -> AppResult<SignedIn> {
    use crate::sign_in_throttle as throttle;
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
    let by_address = throttle::reserve_if_open(
        &mut tx,
        svc,
        &address_key,
        settings.address_failure_limit,
        now,
    )
    .await?;
    let by_account = throttle::reserve_attempt(
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
    // The hard cap: authenticator codes count against the account across
    // sessions and addresses until one is right or a recovery code is used.
    let cap = if crate::mfa::is_recovery_code(code) {
        CodeCap::NotCounted
    } else {
        match crate::mfa::count_code_failure(&mut tx, pending.user).await? {
            None => CodeCap::Stopped,
            Some(n) if n >= crate::mfa::CODE_FAILURE_CAP => CodeCap::LastTry,
            Some(_) => CodeCap::Counted,
        }
    };
    tx.commit().await?;
    if attempts > crate::mfa::CODE_ATTEMPTS {
        sessions::revoke(svc, waiting).await?;
        return Err(expired());
    }
    if cap == CodeCap::Stopped {
        return Err(AppError::invalid("code", crate::mfa::CODES_STOPPED_WORDS));
    }
    let address_locked = by_address.is_none();
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
            throttle::succeeded(&mut tx, Some(&account_key), &address_key).await?;
            crate::mfa::clear_code_failures(&mut tx, pending.user).await?;
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
                device_cookie: Some(throttle::device_cookie_value(
                    &svc.provider.secrets,
                    device,
                    pending.user,
                )),
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
            let stopped_now = cap == CodeCap::LastTry;
            if stopped_now {
                crate::mfa::tell_codes_stopped(&mut tx, svc, pending.user, &pending.email, now)
                    .await?;
            }
            tx.commit().await?;
            if stopped_now {
                svc.run_signal.notify();
                return Err(AppError::invalid("code", crate::mfa::CODES_STOPPED_WORDS));
            }
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

/// Where a code attempt stands against the account's hard cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeCap {
    /// A recovery code: never stopped.
    NotCounted,
    Counted,
    /// The attempt that fills the cap: wrong, and codes stop.
    LastTry,
    /// Codes are stopped: not checked.
    Stopped,
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
