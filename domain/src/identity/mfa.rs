//! Two-step sign-in: one authenticator app per person (TOTP, RFC 6238: SHA-1,
//! six digits, 30-second steps, one step of clock skew either way) and ten
//! single-use recovery codes.
//!
//! The TOTP secret is sealed like provider secrets and never shown again once
//! enrolment is confirmed. A code is accepted once: the step it belongs to
//! must be later than the last accepted one (`user_totp.last_step`), written
//! by a conditional UPDATE so two requests racing with one code cannot both
//! win. Recovery codes are random (50 bits), stored as SHA-256, spent by a
//! conditional UPDATE too.

use crate::access::Actor;
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::identity::views::{MfaEnrolPage, MfaStatus};
use crate::ids::UserId;
use crate::secrets::Secret;
use crate::services::Services;
use crate::views::{AuditAction, AuditOutcome};
use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};

/// How long a sign-in whose password was right waits for its code.
pub const CODE_WAIT_MS: i64 = 5 * 60_000;
/// Wrong codes one waiting sign-in may try before it must start over.
pub const CODE_ATTEMPTS: i64 = 5;

/// Wrong authenticator codes in a row (across sign-ins and addresses)
/// after which codes are not checked for the account any more, until a
/// recovery code is used or two-step sign-in is reset.
pub const CODE_FAILURE_CAP: i64 = 10;

/// The sign-in page's words once codes are stopped.
pub const CODES_STOPPED_WORDS: &str = "Too many wrong codes: codes from the app are not accepted for this account any more. \
Sign in with one of your recovery codes, or ask an owner of your workspace (or the server's operator) to reset your two-step sign-in.";

/// Whether `raw` has the shape of a recovery code (those are never stopped).
pub(crate) fn is_recovery_code(raw: &str) -> bool {
    matches!(parse_code(raw), Some(Typed::Recovery(_)))
}

/// Counts a code attempt against the account's cap before it is checked;
/// `None` when the cap is already reached (not checked, not counted).
pub(crate) async fn count_code_failure(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
) -> AppResult<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE users SET code_failures = code_failures + 1 WHERE id = $1 AND code_failures < $2 RETURNING code_failures",
    )
    .bind(user.0)
    .bind(CODE_FAILURE_CAP)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// A right code (or a reset) starts the count again.
pub(crate) async fn clear_code_failures(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
) -> AppResult<()> {
    sqlx::query("UPDATE users SET code_failures = 0 WHERE id = $1")
        .bind(user.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Codes just stopped for this account: its owner is told (audit entry,
/// and a mail when mail is configured).
pub(crate) async fn tell_codes_stopped(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    user: UserId,
    email: &str,
    now: i64,
) -> AppResult<()> {
    crate::sign_in_throttle::tell_account_owner(
        conn,
        svc,
        crate::sign_in_throttle::Telling {
            user,
            email,
            action: AuditAction::CodesLimited,
            detail: format!(
                "{CODE_FAILURE_CAP} wrong codes in a row: only recovery codes are accepted"
            ),
            subject: "Tenantry: two-step codes stopped for your account",
            body: format!(
                "Someone who knew the password of your Tenantry account {email} typed {CODE_FAILURE_CAP} \
                 wrong two-step codes in a row.\n\nCodes from your authenticator app are no longer \
                 accepted for your account. Sign in with one of your recovery codes (it turns codes on \
                 again), or ask an owner of your workspace to reset your two-step sign-in. If this was \
                 not you, change your password now: someone knows it.\n"
            ),
        },
        now,
    )
    .await
}

/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;

const ISSUER: &str = "Tenantry";
const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;

fn totp(secret: Vec<u8>, account: &str) -> AppResult<TOTP> {
    // The otpauth label may not hold ':'; such an (odd) email is named without it.
    let label = account.replace(':', "");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret,
        Some(ISSUER.to_string()),
        label,
    )
    .map_err(|e| {
        tracing::error!(error = %e, "authenticator secret refused");
        AppError::Internal
    })
}

fn step_of(now_ms: i64) -> u64 {
    (now_ms.max(0) as u64 / 1000) / STEP_SECS
}

/// What the person typed, once spaces and dashes are understood.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Typed {
    /// Six digits from the app.
    Totp(String),
    /// A recovery code, normalised (lowercase, no dash).
    Recovery(String),
}

fn parse_code(raw: &str) -> Option<Typed> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    if compact.len() == DIGITS && compact.bytes().all(|b| b.is_ascii_digit()) {
        Some(Typed::Totp(compact))
    } else if compact.len() == 10 && compact.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Some(Typed::Recovery(compact))
    } else {
        None
    }
}

/// The step a six-digit code belongs to, if it is one of the steps around
/// `now` and later than `last_step` (each step's code works once).
fn matching_step(totp: &TOTP, code: &str, now_ms: i64, last_step: u64) -> Option<u64> {
    let now = step_of(now_ms);
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .filter(|step| *step > last_step)
        .find(|step| {
            let expected = totp.generate(step * STEP_SECS);
            crate::secrets::same_secret(expected.as_bytes(), code.as_bytes())
        })
}

fn recovery_hash(user: UserId, normalised: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{}:{normalised}", user.0).as_bytes(),
    ))
}

/// Ten codes like `k7qm2-x9d4p` (lowercase letters and digits without the
/// look-alikes 0/o, 1/l/i: about 50 bits each).
fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut code = String::with_capacity(11);
            for i in 0..10 {
                if i == 5 {
                    code.push('-');
                }
                let pick = (rng.next_u32() as usize) % ALPHABET.len();
                code.push(char::from(ALPHABET[pick]));
            }
            code
        })
        .collect()
}

/// How a code was given at sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeUsed {
    Authenticator,
    /// A recovery code; this many are left.
    Recovery {
        left: i64,
    },
}

/// Checks a code of a person with two-step sign-in on, spending it (a TOTP
/// step or a recovery code) when right. `None`: wrong, already used, or
/// they have no authenticator.
pub(crate) async fn spend_code(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    user: UserId,
    email: &str,
    raw: &str,
) -> AppResult<Option<CodeUsed>> {
    let Some(typed) = parse_code(raw) else {
        return Ok(None);
    };
    match typed {
        Typed::Totp(code) => {
            let row: Option<(String, i64)> = sqlx::query_as(
                "SELECT secret_sealed, last_step FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
            )
            .bind(user.0)
            .fetch_optional(&mut *conn)
            .await?;
            let Some((sealed, last_step)) = row else {
                return Ok(None);
            };
            let totp = totp(open_secret(svc, &sealed)?, email)?;
            let Some(step) = matching_step(&totp, &code, svc.now(), last_step.max(0) as u64) else {
                return Ok(None);
            };
            let won = sqlx::query(
                "UPDATE user_totp SET last_step = $2 WHERE user_id = $1 AND last_step < $2",
            )
            .bind(user.0)
            .bind(step as i64)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            Ok((won == 1).then_some(CodeUsed::Authenticator))
        }
        Typed::Recovery(code) => {
            let spent = sqlx::query(
                "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            )
            .bind(user.0)
            .bind(recovery_hash(user, &code))
            .bind(svc.now())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if spent != 1 {
                return Ok(None);
            }
            let left = recovery_left(conn, user).await?;
            Ok(Some(CodeUsed::Recovery { left }))
        }
    }
}

fn open_secret(svc: &Services, sealed: &str) -> AppResult<Vec<u8>> {
    let secret = svc.secrets.open(sealed).map_err(|_| {
        tracing::error!("an authenticator secret could not be opened (was the key changed?)");
        AppError::Internal
    })?;
    hex::decode(secret.expose()).map_err(|_| AppError::Internal)
}

async fn recovery_left(conn: &mut sqlx::AnyConnection, user: UserId) -> AppResult<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user.0)
    .fetch_one(conn)
    .await?;
    Ok(n)
}

/// Whether the person has two-step sign-in on (their sign-in asks for a code).
pub(crate) async fn enabled(conn: &mut sqlx::AnyConnection, user: UserId) -> AppResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT user_id FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(user.0)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// The account page's two-step section.
pub async fn status(svc: &Services, actor: &Actor) -> AppResult<MfaStatus> {
    let mut conn = svc.store.read().await?;
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT confirmed_at FROM user_totp WHERE user_id = $1")
            .bind(actor.user_id.0)
            .fetch_optional(&mut *conn)
            .await?;
    let required_by: Vec<(String,)> = sqlx::query_as(
        "SELECT w.name FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
         WHERE m.user_id = $1 AND w.require_mfa <> 0 ORDER BY w.name",
    )
    .bind(actor.user_id.0)
    .fetch_all(&mut *conn)
    .await?;
    let recovery_left = recovery_left(&mut conn, actor.user_id).await?;
    Ok(MfaStatus {
        enabled_at: row.and_then(|(c,)| c),
        enrolling: matches!(row, Some((None,))),
        recovery_left,
        required_by: required_by.into_iter().map(|(n,)| n).collect(),
    })
}

fn entry<'a>(actor: &'a Actor, action: AuditAction, detail: Option<String>) -> Entry<'a> {
    crate::accounts::account_entry(actor, action, AuditOutcome::Succeeded, detail)
}

/// Starts (or restarts) enrolment with a fresh secret. Refused while two-step
/// sign-in is on: turning it off (with the password) comes first.
pub async fn begin_enrolment(svc: &Services, actor: &Actor) -> AppResult<()> {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let sealed = svc.secrets.seal(&Secret::new(hex::encode(bytes)));
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if enabled(&mut tx, actor.user_id).await? {
        return Err(AppError::conflict(
            "Two-step sign-in is already on. Turn it off first to move it to another app.",
        ));
    }
    sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
        .bind(actor.user_id.0)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO user_totp (user_id, secret_sealed, created_at, confirmed_at, last_step) VALUES ($1, $2, $3, NULL, 0)",
    )
    .bind(actor.user_id.0)
    .bind(sealed)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What the enrolment page shows: the QR code while enrolling; the recovery
/// codes once, right after confirming (reading them forgets them).
pub async fn enrolment_page(svc: &Services, actor: &Actor) -> AppResult<MfaEnrolPage> {
    let mut tx = svc.store.begin().await?;
    let row: Option<(String, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT secret_sealed, confirmed_at, codes_to_show FROM user_totp WHERE user_id = $1",
    )
    .bind(actor.user_id.0)
    .fetch_optional(&mut **tx)
    .await?;
    let page = match row {
        None => MfaEnrolPage::NotStarted,
        Some((sealed, None, _)) => {
            let totp = totp(open_secret(svc, &sealed)?, &actor.email)?;
            let qr =
                qrcode::QrCode::new(totp.get_url().as_bytes()).map_err(|_| AppError::Internal)?;
            let qr_svg = qr
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .dark_color(qrcode::render::svg::Color("#000000"))
                .light_color(qrcode::render::svg::Color("#ffffff"))
                .build();
            let key = totp
                .get_secret_base32()
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            MfaEnrolPage::Scan {
                qr_svg,
                key,
                account: actor.email.clone(),
            }
        }
        Some((_, Some(_), Some(sealed_codes))) => {
            sqlx::query("UPDATE user_totp SET codes_to_show = NULL WHERE user_id = $1")
                .bind(actor.user_id.0)
                .execute(&mut **tx)
                .await?;
            let codes = svc
                .secrets
                .open(&sealed_codes)
                .map_err(|_| AppError::Internal)?;
            MfaEnrolPage::RecoveryCodes(codes.expose().split(' ').map(str::to_string).collect())
        }
        Some((_, Some(_), None)) => MfaEnrolPage::Enabled,
    };
    tx.commit().await?;
    Ok(page)
}

/// Replaces the person's recovery codes with ten new ones, kept sealed for
/// their one showing.
async fn replace_recovery_codes(
    conn: &mut sqlx::AnyConnection,
    svc: &Services,
    user: UserId,
) -> AppResult<()> {
    let codes = new_recovery_codes();
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user.0)
        .execute(&mut *conn)
        .await?;
    for code in &codes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)",
        )
        .bind(user.0)
        .bind(recovery_hash(user, &code.replace('-', "")))
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("UPDATE user_totp SET codes_to_show = $2 WHERE user_id = $1")
        .bind(user.0)
        .bind(svc.secrets.seal(&Secret::new(codes.join(" "))))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Confirms enrolment with a code from the app: two-step sign-in is on from
/// now, ten recovery codes are made (shown once on the enrolment page).
pub async fn confirm_enrolment(svc: &Services, actor: &Actor, code: &str) -> AppResult<()> {
    let refused = || {
        AppError::invalid(
            "code",
            "That code is not right. Check the app shows Tenantry for this account and type its current six digits.",
        )
    };
    let Some(Typed::Totp(code)) = parse_code(code) else {
        return Err(refused());
    };
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
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT secret_sealed FROM user_totp WHERE user_id = $1 AND confirmed_at IS NULL",
    )
    .bind(actor.user_id.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((sealed,)) = row else {
        // Limit taken, keep it (guesses count even against nothing to confirm).
        tx.commit().await?;
        return Err(AppError::conflict(
            "There is no set-up to confirm: start again from Your account.",
        ));
    };
    let totp = totp(open_secret(svc, &sealed)?, &actor.email)?;
    let Some(step) = matching_step(&totp, &code, now, 0) else {
        tx.commit().await?;
        return Err(refused());
    };
    sqlx::query(
        "UPDATE user_totp SET confirmed_at = $2, last_step = $3 WHERE user_id = $1 AND confirmed_at IS NULL",
    )
    .bind(actor.user_id.0)
    .bind(now)
    .bind(step as i64)
    .execute(&mut **tx)
    .await?;
    replace_recovery_codes(&mut tx, svc, actor.user_id).await?;
    audit::record(&mut tx, entry(actor, AuditAction::MfaEnabled, None), now).await?;
    tx.commit().await?;
    Ok(())
}

/// Ten new recovery codes (the old ones stop working): the password first.
pub async fn renew_recovery_codes(
    svc: &Services,
    actor: &Actor,
    current_password: &str,
) -> AppResult<()> {
    crate::accounts::check_current_password(
        svc,
        actor,
        current_password,
        AuditAction::RecoveryCodesRenewed,
    )
    .await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if !enabled(&mut tx, actor.user_id).await? {
        return Err(AppError::conflict(
            "Two-step sign-in is off: there are no codes to renew.",
        ));
    }
    replace_recovery_codes(&mut tx, svc, actor.user_id).await?;
    audit::record(
        &mut tx,
        entry(actor, AuditAction::RecoveryCodesRenewed, None),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Turns two-step sign-in off (or abandons an unfinished enrolment): the
/// password first. A workspace that requires it sends them to set it up again.
pub async fn disable(svc: &Services, actor: &Actor, current_password: &str) -> AppResult<()> {
    crate::accounts::check_current_password(svc, actor, current_password, AuditAction::MfaDisabled)
        .await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let removed = sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
        .bind(actor.user_id.0)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(AppError::conflict("Two-step sign-in is already off."));
    }
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(actor.user_id.0)
        .execute(&mut **tx)
        .await?;
    clear_code_failures(&mut tx, actor.user_id).await?;
    audit::record(&mut tx, entry(actor, AuditAction::MfaDisabled, None), now).await?;
    tx.commit().await?;
    Ok(())
}

/// Turns off someone's two-step sign-in from the server's command line (they
/// lost the phone and the recovery codes): their sessions end, audited as
/// done by the command line. 404 for an unknown email; answers how many
/// sessions ended.
pub async fn reset_by_operator(svc: &Services, email: &crate::validate::Email) -> AppResult<u64> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let user: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let (user,) = user.ok_or(AppError::NotFound)?;
    sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
        .bind(user)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user)
        .execute(&mut **tx)
        .await?;
    clear_code_failures(&mut tx, UserId(user)).await?;
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    audit::record(
        &mut tx,
        Entry {
            workspace: None,
            tenant: None,
            actor: None,
            actor_label: "command line",
            action: AuditAction::MfaDisabled,
            target: email.to_string(),
            outcome: AuditOutcome::Succeeded,
            detail: Some(format!(
                "reset by the server's operator; {ended} session(s) ended"
            )),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// The current code of a secret (tests and the demo play the authenticator app).
pub fn code_for(secret_base32: &str, now_ms: i64) -> Option<String> {
    let secret = totp_rs::Secret::Encoded(secret_base32.replace(' ', ""))
        .to_bytes()
        .ok()?;
    let totp = TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret,
        None,
        String::new(),
    );
    Some(totp.generate(step_of(now_ms) * STEP_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_with_spaces_and_dashes() {
        assert_eq!(parse_code(" 123 456 "), Some(Typed::Totp("123456".into())));
        assert_eq!(
            parse_code("K7QM2-X9D4P"),
            Some(Typed::Recovery("k7qm2x9d4p".into()))
        );
        assert_eq!(parse_code("12345"), None);
        assert_eq!(parse_code("1234567"), None);
        assert_eq!(parse_code("k7qm2-x9d4"), None);
        assert_eq!(parse_code("k7qm2-x9d4!"), None);
    }

    #[test]
    fn a_code_matches_its_step_and_the_neighbours_once() {
        // RFC 6238's SHA-1 test secret: at 59 s the eight-digit code is 94287082.
        let t = TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            1,
            30,
            b"12345678901234567890".to_vec(),
            None,
            String::new(),
        );
        assert_eq!(t.generate(59), "287082");
        let now = 59_000;
        assert_eq!(matching_step(&t, "287082", now, 0), Some(1));
        // The step was used: the same code is refused.
        assert_eq!(matching_step(&t, "287082", now, 1), None);
        // One step later still accepts it (clock skew), two do not.
        assert_eq!(matching_step(&t, "287082", now + 30_000, 0), Some(1));
        assert_eq!(matching_step(&t, "287082", now + 60_000, 0), None);
        assert_eq!(matching_step(&t, "000000", now, 0), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_readable_codes() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(parse_code(c), Some(Typed::Recovery(c.replace('-', ""))));
            assert!(!c.contains(['0', 'o', '1', 'l', 'i']));
        }
    }

    #[test]
    fn code_for_plays_the_app() {
        let secret = totp_rs::Secret::Raw(b"12345678901234567890".to_vec()).to_encoded();
        let totp_rs::Secret::Encoded(b32) = secret else {
            panic!("encoded")
        };
        assert_eq!(code_for(&b32, 59_000).as_deref(), Some("287082"));
    }
}
