//! How guessing at sign-in is bounded without letting anyone lock a member
//! out (spec 011, "Sign-in throttling").
//!
//! Three counters, each a row of `sign_in_throttle` counted *before* the
//! secret is checked (one atomic statement each, so parallel guesses all
//! count) over a fixed window:
//! - `address:…` — every attempt from a client address; past its limit
//!   that address is refused (429) — and a refused attempt is not counted,
//!   so it does not extend the refusal;
//! - `account:…` — attempts on an account from clients it does not know;
//!   past its limit, unknown clients are answered like a wrong password
//!   without the password being checked, until the window ends (refused
//!   attempts again do not extend it); when the limit engages, the account's
//!   owner is told (audit entry and mail);
//! - `device:…` — attempts from a browser holding a *device cookie* for that
//!   account: a signed token given to a browser that signed in to it
//!   successfully. Such a browser is throttled on its own token only, never
//!   by the account-wide or the address limit: whoever guesses elsewhere
//!   cannot keep the owner out of their own browser.
//!
//! Bound: per account and window, at most `account_failure_limit` passwords
//! are checked for clients without its device cookie, however many
//! addresses they use (5 per 15 minutes: 480 guesses a day).

use crate::error::AppResult;
use crate::ids::UserId;
use crate::secrets::SecretBox;
use crate::services::Services;

/// Accounts whose device tokens one browser keeps (people who share a
/// browser, or an administrator with two accounts).
const DEVICE_TOKENS_KEPT: usize = 5;

/// Counts an attempt on `key` unless the key is already at `limit` in its
/// window. Answers the attempts now in the window (this one included), or
/// `None` when refused (nothing counted: the refusal does not extend itself).
pub(crate) async fn reserve_if_open(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    key: &str,
    limit: i64,
    now: i64,
) -> AppResult<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO sign_in_throttle (throttle_key, failures, window_started_at, locked_until, next_attempt_at)
         VALUES ($1, 1, $2, 0, 0)
         ON CONFLICT (throttle_key) DO UPDATE SET
            failures = CASE WHEN sign_in_throttle.window_started_at <= $2 - $3 THEN 1 ELSE sign_in_throttle.failures + 1 END,
            window_started_at = CASE WHEN sign_in_throttle.window_started_at <= $2 - $3 THEN $2 ELSE sign_in_throttle.window_started_at END
         WHERE sign_in_throttle.window_started_at <= $2 - $3 OR sign_in_throttle.failures < $4
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(svc.settings.throttle_window_ms)
    .bind(limit)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// A success clears the account's (or device's) count and gives the
/// address its attempt back (an office behind one address signs in all day).
pub(crate) async fn succeeded(
    conn: &mut sqlx::AnyConnection,
    key: Option<&str>,
    address_key: &str,
) -> AppResult<()> {
    if let Some(k) = key {
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

/// One attempt counted on a spaced throttle key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    /// Attempts in the current window, this one included.
    pub attempts: i64,
    /// When this attempt may be checked (0: at once).
    slot_at: i64,
}

impl Attempt {
    pub fn wait_ms(&self, now: i64) -> i64 {
        (self.slot_at - now).max(0)
    }
}

/// Counts an attempt on `key` atomically and, past `spaced_after` attempts,
/// reserves the next slot for it (`account_attempt_spacing_ms` apart). One
/// statement, so concurrent attempts on PostgreSQL each see their own count.
pub(crate) async fn reserve_attempt(
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

/// The device cookie's signature over `user.nonce`.
fn device_mac(secrets: &SecretBox, user: UserId, nonce: &str) -> String {
    hex::encode(secrets.mac(
        "sign-in device cookie v1",
        format!("{user}.{nonce}").as_bytes(),
    ))
}

/// A new device token for `user`: `user.nonce.signature`.
pub(crate) fn new_device_token(secrets: &SecretBox, user: UserId) -> String {
    use rand::RngCore;
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let nonce = hex::encode(nonce);
    let mac = device_mac(secrets, user, &nonce);
    format!("{user}.{nonce}.{mac}")
}

/// The throttle key of the device token for `user` in the cookie, if the
/// cookie holds one this key signed.
pub(crate) fn trusted_device(
    secrets: &SecretBox,
    cookie: Option<&str>,
    user: UserId,
) -> Option<String> {
    cookie?.split('~').find_map(|token| {
        let mut parts = token.split('.');
        let (u, nonce, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || u.parse::<i64>().ok()? != user.0 || nonce.len() != 32 {
            return None;
        }
        let expected = device_mac(secrets, user, nonce);
        crate::secrets::same_secret(expected.as_bytes(), mac.as_bytes())
            .then(|| format!("device:{nonce}"))
    })
}

/// The cookie's value after a sign-in to `user`: a fresh token for them,
/// then the browser's other accounts' tokens (well-formed ones, a few).
pub fn device_cookie_value(secrets: &SecretBox, cookie: Option<&str>, user: UserId) -> String {
    let mut tokens = vec![new_device_token(secrets, user)];
    let others = cookie.unwrap_or("").split('~').filter(|t| {
        let mut parts = t.split('.');
        matches!(
            (parts.next(), parts.next(), parts.next(), parts.next()),
            (Some(u), Some(n), Some(m), None)
                if u.parse::<i64>().is_ok_and(|u| u != user.0)
                    && n.len() == 32 && m.len() == 64
                    && n.chars().chain(m.chars()).all(|c| c.is_ascii_hexdigit())
        )
    });
    tokens.extend(others.take(DEVICE_TOKENS_KEPT - 1).map(str::to_string));
    tokens.join("~")
}

/// What an account's owner is told when a limit engages on it.
pub(crate) struct Telling<'a> {
    pub user: UserId,
    pub email: &'a str,
    pub action: crate::views::AuditAction,
    pub detail: String,
    pub subject: &'a str,
    pub body: String,
}

/// Tells an account's owner: an audit entry, and a mail when mail is
/// configured (in the caller's transaction, sent after commit).
pub(crate) async fn tell_account_owner(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    t: Telling<'_>,
    now: i64,
) -> AppResult<()> {
    crate::audit::record(
        &mut *conn,
        crate::audit::Entry {
            workspace: None,
            tenant: None,
            actor: Some(t.user),
            actor_label: "anonymous",
            action: t.action,
            target: t.email.to_string(),
            outcome: crate::views::AuditOutcome::Denied,
            detail: Some(t.detail),
        },
        now,
    )
    .await?;
    if svc.port::<crate::mail::MailConfig>().is_some() {
        crate::mail::enqueue(conn, svc, None, t.email, t.subject, &t.body, now).await?;
    }
    Ok(())
}

/// Tells an account's owner that unknown clients are refused for now.
pub(crate) async fn tell_owner_locked(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    user: UserId,
    email: &str,
    now: i64,
) -> AppResult<()> {
    let minutes = svc.settings.throttle_window_ms / 60_000;
    let limit = svc.settings.account_failure_limit;
    tell_account_owner(
        conn,
        svc,
        Telling {
            user,
            email,
            action: crate::views::AuditAction::SignInLimited,
            detail: format!(
                "{limit} wrong passwords: new browsers refused for up to {minutes} minutes"
            ),
            subject: "Tenantry: wrong passwords for your account",
            body: format!(
                "Someone typed a wrong password for your Tenantry account {email} {limit} times within \
                 {minutes} minutes.\n\nFor up to {minutes} minutes, sign-ins to your account are only \
                 checked from browsers you have signed in with before; your own browser still gets in. \
                 If this was not you, nothing else is needed: the password was not accepted. If you \
                 think someone knows your password, change it on Your account and turn on two-step \
                 sign-in.\n"
            ),
        },
        now,
    )
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn svc() -> SecretBox {
        SecretBox::random()
    }

    #[test]
    fn a_device_token_is_good_only_for_its_account_and_key() {
        let s = svc();
        let token = new_device_token(&s, UserId(7));
        assert!(trusted_device(&s, Some(&token), UserId(7)).is_some());
        assert!(trusted_device(&s, Some(&token), UserId(8)).is_none());
        // Another key (another deployment) did not sign it.
        assert!(trusted_device(&svc(), Some(&token), UserId(7)).is_none());
        // Tampered: the nonce, the signature, the user.
        let mut bad = token.clone();
        bad.replace_range(3..4, if &token[3..4] == "a" { "b" } else { "a" });
        assert!(trusted_device(&s, Some(&bad), UserId(7)).is_none());
        let forged = token.replacen("7.", "8.", 1);
        assert!(trusted_device(&s, Some(&forged), UserId(8)).is_none());
        assert!(trusted_device(&s, Some("garbage"), UserId(7)).is_none());
        assert!(trusted_device(&s, None, UserId(7)).is_none());
    }

    #[test]
    fn the_cookie_keeps_a_few_accounts_and_drops_junk() {
        let s = svc();
        let mut cookie = String::new();
        for u in 1..=8 {
            cookie = device_cookie_value(&s, Some(&cookie), UserId(u));
        }
        let tokens: Vec<&str> = cookie.split('~').collect();
        assert_eq!(tokens.len(), DEVICE_TOKENS_KEPT);
        assert!(trusted_device(&s, Some(&cookie), UserId(8)).is_some());
        assert!(trusted_device(&s, Some(&cookie), UserId(4)).is_some());
        assert!(trusted_device(&s, Some(&cookie), UserId(3)).is_none());
        // A sign-in again replaces that account's token (one per account).
        let again = device_cookie_value(&s, Some(&cookie), UserId(4));
        assert_eq!(again.split('~').filter(|t| t.starts_with("4.")).count(), 1);
        let junk = device_cookie_value(&s, Some("x~<script>~1.2.3"), UserId(1));
        assert_eq!(junk.split('~').count(), 1);
    }
}
