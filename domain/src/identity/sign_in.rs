//! Signing in with a password: the throttle decides before the password is
//! checked (`super::throttle`), then the session opens — full, or half
//! while the two-step code is owed (`super::code`) — or the failure is
//! audited and, when the account's limit engages, its owner told.

use super::accounts::{decoy_hash, verify_password, with_hashing};
use super::sessions::{self, SessionToken};
use super::throttle;
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::services::Services;
use crate::store::WriteTx;
use crate::validate::Email;
use crate::views::{AuditAction, AuditOutcome};

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

/// The account an attempt names: id and password hash.
type Account = (i64, String);

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
    // An unparseable email still costs a hash and counts against the address.
    let email = Email::parse(email_raw).ok();
    let address_key = format!("address:{address}");
    let (account, gate) = admit_attempt(svc, email.as_ref(), &address_key, device).await?;
    let password_ok = match gate {
        Gate::Check { .. } => {
            let hash = account.as_ref().map(|(_, h)| h.clone());
            let pw = password.to_string();
            // Unknown accounts cost one verification too (against the decoy).
            with_hashing(move || match hash {
                Some(h) => verify_password(&pw, &h),
                None => verify_password(&pw, decoy_hash()),
            })
            .await?
        }
        Gate::Refused { .. } => false,
    };
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if let Some(prev) = previous {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(prev.id_hash())
            .execute(&mut **tx)
            .await?;
    }
    let client = sessions::Client {
        address: Some(address),
        user_agent,
    };
    let email_text = email.as_ref().map(Email::as_str).unwrap_or("");
    match (account, gate) {
        (
            Some((user, _)),
            Gate::Check {
                clear,
                refund_address,
                ..
            },
        ) if password_ok => {
            let refund = if refund_address {
                address_key.as_str()
            } else {
                ""
            };
            throttle::succeeded(&mut tx, clear.as_deref(), refund).await?;
            password_accepted(svc, tx, UserId(user), email_text, client, device, now).await
        }
        (account, gate) => {
            let target = email
                .as_ref()
                .map(Email::to_string)
                .unwrap_or_else(|| "(invalid email)".into());
            password_refused(svc, tx, account.map(|a| UserId(a.0)), &target, gate, now).await
        }
    }
}

/// Counts the attempt where it belongs — on the browser's device token
/// for this account, else on its address and the account — before any
/// password is checked, and says whether to check it.
async fn admit_attempt(
    svc: &Services,
    email: Option<&Email>,
    address_key: &str,
    device: Option<&str>,
) -> AppResult<(Option<Account>, Gate)> {
    let now = svc.now();
    let settings = &svc.settings;
    let mut tx = svc.store.begin().await?;
    let account: Option<Account> = match email {
        Some(e) => {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
                .bind(e.as_str())
                .fetch_optional(&mut **tx)
                .await?
        }
        None => None,
    };
    let trusted = account
        .as_ref()
        .and_then(|(id, _)| throttle::trusted_device(&svc.secrets, device, UserId(*id)));
    let gate = match &trusted {
        Some(device_key) => {
            let limit = settings.device_failure_limit;
            match throttle::reserve_if_open(&mut tx, svc, device_key, limit, now).await? {
                Some(_) => Gate::Check {
                    clear: Some(device_key.clone()),
                    refund_address: false,
                    engages: false,
                },
                None => Gate::Refused { status_429: true },
            }
        }
        None => stranger(&mut tx, svc, email, address_key, now).await?,
    };
    tx.commit().await?;
    Ok((account, gate))
}

/// A client without the account's device cookie: the address, then the
/// account.
async fn stranger(
    tx: &mut WriteTx,
    svc: &Services,
    email: Option<&Email>,
    address_key: &str,
    now: i64,
) -> AppResult<Gate> {
    let settings = &svc.settings;
    let by_address =
        throttle::reserve_if_open(tx, svc, address_key, settings.address_failure_limit, now)
            .await?;
    if by_address.is_none() {
        return Ok(Gate::Refused { status_429: true });
    }
    let Some(e) = email else {
        return Ok(Gate::Check {
            clear: None,
            refund_address: true,
            engages: false,
        });
    };
    let account_key = format!("account:{e}");
    let limit = settings.account_failure_limit;
    Ok(
        match throttle::reserve_if_open(tx, svc, &account_key, limit, now).await? {
            None => Gate::Refused { status_429: false },
            Some(n) => Gate::Check {
                clear: Some(account_key),
                refund_address: true,
                engages: n == limit,
            },
        },
    )
}

/// The right password: a full session, or half of one while the code is
/// owed, or a refusal when the workspace signs in elsewhere only.
async fn password_accepted(
    svc: &Services,
    mut tx: WriteTx,
    user: UserId,
    email: &str,
    client: sessions::Client<'_>,
    device: Option<&str>,
    now: i64,
) -> AppResult<SignedIn> {
    if let Some(name) = crate::sso::required_for(&mut tx, svc, user).await? {
        // The password was right, but this workspace signs in elsewhere.
        tx.commit().await?;
        return Err(AppError::conflict(format!(
            "Your workspace signs in with {name} only: use Sign in with {name}."
        )));
    }
    if crate::mfa::enabled(&mut tx, user).await? {
        // Half a sign-in: the code comes next (audited when it does); the
        // device cookie comes with the full sign-in.
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
    let token = open_session(&mut tx, user, now, client, email, None).await?;
    tx.commit().await?;
    Ok(SignedIn {
        user,
        token,
        needs_code: false,
        device_cookie: Some(throttle::device_cookie_value(&svc.secrets, device, user)),
    })
}

/// A wrong password, or one not checked: audited; when this failure fills
/// the account's limit, its owner is told.
async fn password_refused(
    svc: &Services,
    mut tx: WriteTx,
    user: Option<UserId>,
    target: &str,
    gate: Gate,
    now: i64,
) -> AppResult<SignedIn> {
    let checked = matches!(gate, Gate::Check { .. });
    audit::record(
        &mut tx,
        Entry {
            workspace: None,
            tenant: None,
            actor: user,
            actor_label: "anonymous",
            action: AuditAction::SignInFailed,
            target: target.to_string(),
            outcome: AuditOutcome::Denied,
            detail: (!checked).then(|| "throttled".to_string()),
        },
        now,
    )
    .await?;
    let engages = matches!(gate, Gate::Check { engages: true, .. });
    if let (Some(user), true) = (user, engages) {
        throttle::tell_owner_locked(&mut tx, svc, user, target, now).await?;
    }
    tx.commit().await?;
    if engages {
        // Wake this process's mail sender.
        svc.run_signal.notify();
    }
    Err(AppError::SignInFailed {
        throttled: matches!(gate, Gate::Refused { status_429: true }),
    })
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
pub(super) async fn open_session(
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
