//! The second sign-in step: the code from the authenticator app (or a
//! recovery code) for a sign-in whose password was right. Throttled like
//! passwords (per account and per address, before the code is checked),
//! each waiting sign-in gets `CODE_ATTEMPTS` tries, and wrong app codes
//! have a hard cap per account (`mfa::CODE_FAILURE_CAP`). On success the
//! waiting session is replaced by a full one (a new id).

use super::sessions::{self, SessionToken};
use super::sign_in::{SignedIn, open_session};
use super::throttle;
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::services::Services;
use crate::store::WriteTx;
use crate::views::{AuditAction, AuditOutcome};

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

/// What was counted before the code is looked at.
struct Counted {
    attempts: i64,
    address_locked: bool,
    wait_ms: i64,
    cap: CodeCap,
}

fn expired() -> AppError {
    AppError::invalid(
        "code",
        "This sign-in has timed out or had too many wrong codes. Sign in again.",
    )
}

/// Takes the code for the sign-in waiting behind `waiting`.
pub async fn verify_sign_in_code(
    svc: &Services,
    waiting: &SessionToken,
    code: &str,
    address: &str,
    user_agent: Option<&str>,
    device: Option<&str>,
) -> AppResult<SignedIn> {
    let Some(pending) = sessions::awaiting_code(svc, waiting).await? else {
        return Err(expired());
    };
    let account_key = format!("code:{}", pending.user.0);
    let address_key = format!("address:{address}");
    let counted = count(svc, &pending, code, &account_key, &address_key).await?;
    if counted.attempts > crate::mfa::CODE_ATTEMPTS {
        sessions::revoke(svc, waiting).await?;
        return Err(expired());
    }
    if counted.cap == CodeCap::Stopped {
        return Err(AppError::invalid("code", crate::mfa::CODES_STOPPED_WORDS));
    }
    let checked =
        !counted.address_locked && counted.wait_ms <= svc.settings.account_attempt_max_wait_ms;
    if checked && counted.wait_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(counted.wait_ms as u64)).await;
    }
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let used = if checked {
        crate::mfa::spend_code(&mut tx, svc, pending.user, &pending.email, code).await?
    } else {
        None
    };
    let Some(how) = used else {
        return code_refused(svc, tx, &pending, checked, &counted, now).await;
    };
    throttle::succeeded(&mut tx, Some(&account_key), &address_key).await?;
    crate::mfa::clear_code_failures(&mut tx, pending.user).await?;
    let gone = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND awaiting_code <> 0")
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
        crate::mfa::CodeUsed::Recovery { left } => format!("with a recovery code ({left} left)"),
    };
    let client = sessions::Client {
        address: Some(address),
        user_agent,
    };
    let token = open_session(
        &mut tx,
        pending.user,
        now,
        client,
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
            &svc.secrets,
            device,
            pending.user,
        )),
    })
}

/// Counts the attempt on the address, the account, the waiting sign-in and
/// (app codes) the account's cap, in one transaction, before any check.
async fn count(
    svc: &Services,
    pending: &sessions::AwaitingCode,
    code: &str,
    account_key: &str,
    address_key: &str,
) -> AppResult<Counted> {
    let now = svc.now();
    let settings = &svc.settings;
    let mut tx = svc.store.begin().await?;
    let by_address = throttle::reserve_if_open(
        &mut tx,
        svc,
        address_key,
        settings.address_failure_limit,
        now,
    )
    .await?;
    let by_account = throttle::reserve_attempt(
        &mut tx,
        svc,
        account_key,
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
    Ok(Counted {
        attempts,
        address_locked: by_address.is_none(),
        wait_ms: by_account.wait_ms(now),
        cap,
    })
}

/// A wrong code, or one not checked: audited; the one that fills the cap
/// stops codes and tells the person.
async fn code_refused(
    svc: &Services,
    mut tx: WriteTx,
    pending: &sessions::AwaitingCode,
    checked: bool,
    counted: &Counted,
    now: i64,
) -> AppResult<SignedIn> {
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
    let stopped_now = counted.cap == CodeCap::LastTry;
    if stopped_now {
        crate::mfa::tell_codes_stopped(&mut tx, svc, pending.user, &pending.email, now).await?;
    }
    tx.commit().await?;
    if stopped_now {
        svc.run_signal.notify();
        return Err(AppError::invalid("code", crate::mfa::CODES_STOPPED_WORDS));
    }
    if counted.address_locked {
        return Err(AppError::SignInFailed { throttled: true });
    }
    Err(AppError::invalid(
        "code",
        "That code is not right. Type the six digits the app shows now, or a recovery code.",
    ))
}

/// What the second sign-in step's page needs (404 if there is no sign-in
/// waiting for a code behind this cookie).
pub async fn sign_in_code_page(
    svc: &Services,
    waiting: Option<&SessionToken>,
) -> AppResult<Option<crate::identity::views::SignInCodePage>> {
    let Some(token) = waiting else {
        return Ok(None);
    };
    Ok(sessions::awaiting_code(svc, token)
        .await?
        .map(|p| crate::identity::views::SignInCodePage { email: p.email }))
}
