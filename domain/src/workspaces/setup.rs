//! First-run setup: on a server with no account yet, `/setup` creates the
//! first owner (a platform operator) and their workspace, then closes for
//! good. Whoever reaches a fresh server first must not become its owner, so
//! setup also asks for a setup code that `tenantry serve` prints at start:
//! derived from the server's secret key, the same in every process, useless
//! once an account exists.
//!
//! Race-safe: the account is created by one statement that inserts only
//! while no account exists, inside a transaction serialised by a PostgreSQL
//! advisory lock (SQLite's write transactions are serialised already), so
//! of any number of simultaneous setups exactly one succeeds.

use crate::accounts::SignedIn;
use crate::audit::{self, Entry};
use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::services::Services;
use crate::sessions;
use crate::validate::{Email, NewPassword};
use crate::views::{AuditAction, AuditOutcome};

/// Letters and digits of the code (no 0/O, 1/I/L look-alikes).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Wrong codes per address and throttle window before setup stops checking.
const ATTEMPTS: i64 = 10;

/// The setup code, `XXXX-XXXX-XXXX` (about 59 bits).
pub fn code(svc: &Services) -> String {
    let bytes = svc.secrets.derive("first-run setup code");
    let chars: Vec<char> = bytes
        .iter()
        .take(12)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

fn normalise(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether setup is open: no account exists yet.
pub async fn is_open(svc: &Services) -> AppResult<bool> {
    let any: Option<(i64,)> = sqlx::query_as("SELECT id FROM users LIMIT 1")
        .fetch_optional(&mut *svc.store.read().await?)
        .await?;
    Ok(any.is_none())
}

/// What `/setup` needs: `None` once an account exists (then it is a 404).
pub async fn page(svc: &Services) -> AppResult<Option<crate::identity::views::SetupPage>> {
    Ok(is_open(svc)
        .await?
        .then_some(crate::identity::views::SetupPage {
            min_password: NewPassword::MIN_LEN,
        }))
}

/// What the sign-in page offers besides the password.
pub async fn sign_in_options(svc: &Services) -> AppResult<crate::identity::views::SignInOptions> {
    Ok(crate::identity::views::SignInOptions {
        setup_open: is_open(svc).await?,
        sso: svc.port::<crate::sso::SsoConfig>().map(|c| c.name.clone()),
    })
}

/// The first owner's details, as typed.
pub struct FirstOwner<'a> {
    pub code: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub confirm_password: &'a str,
    pub workspace: &'a str,
}

/// Creates the first account (a platform operator), signs them in and
/// creates their workspace. 404 once any account exists (checked first, so
/// a closed setup says nothing about codes).
pub async fn complete(
    svc: &Services,
    given: FirstOwner<'_>,
    client: sessions::Client<'_>,
) -> AppResult<SignedIn> {
    if !is_open(svc).await? {
        return Err(AppError::NotFound);
    }
    // Every attempt counts on the address before the code is compared.
    let address = format!("setup:{}", client.address.unwrap_or("unknown"));
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let attempt = crate::sign_in_throttle::count_attempt(&mut tx, svc, &address, now).await?;
    tx.commit().await?;
    if attempt > ATTEMPTS {
        return Err(AppError::TooManyRequests {
            retry_after_secs: (svc.settings.throttle_window_ms / 1000).max(1) as u64,
        });
    }
    let expected = normalise(&code(svc));
    let typed = normalise(given.code);
    if !crate::secrets::same_secret(typed.as_bytes(), expected.as_bytes()) {
        return Err(AppError::invalid(
            "code",
            "That is not the setup code. It is printed where `tenantry serve` started (its log).",
        ));
    }
    let email = Email::parse(given.email)?;
    let password =
        NewPassword::parse(given.password).map_err(|e| AppError::invalid("password", e.message))?;
    if given.confirm_password != given.password {
        return Err(AppError::invalid(
            "confirm_password",
            "The two passwords differ: type the same one twice.",
        ));
    }
    let workspace = crate::validate::WorkspaceName::parse(given.workspace)?;
    let hash = crate::accounts::hash_new_password(&password).await?;

    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if svc.store.backend() == crate::store::Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7210001)")
            .execute(&mut **tx)
            .await?;
    }
    let created: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO users (email, password_hash, created_at)
         SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING id",
    )
    .bind(email.as_str())
    .bind(hash)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((id,)) = created else {
        // Someone finished setup first.
        return Err(AppError::NotFound);
    };
    let user = UserId(id);
    sqlx::query("INSERT INTO platform_operators (user_id, granted_at) VALUES ($1, $2)")
        .bind(user.0)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    audit::record(
        &mut tx,
        Entry {
            workspace: None,
            tenant: None,
            actor: Some(user),
            actor_label: "first-run setup",
            action: AuditAction::UserCreated,
            target: email.to_string(),
            outcome: AuditOutcome::Succeeded,
            detail: Some("platform operator, first-run setup".into()),
        },
        now,
    )
    .await?;
    let token = sessions::insert(&mut tx, user, None, now, client, sessions::Stage::Full).await?;
    let session_id_hash = token.id_hash();
    tx.commit().await?;
    let actor = crate::access::Actor {
        user_id: user,
        email: email.to_string(),
        is_platform_operator: true,
        session_id_hash,
        current_workspace: None,
        mfa_owed: false,
        time_zone: None,
        theme: Default::default(),
    };
    let ws = crate::workspaces::create(svc, &actor, workspace.as_str()).await?;
    let mut tx = svc.store.begin().await?;
    sessions::set_current_workspace(&mut tx, &actor.session_id_hash, ws).await?;
    tx.commit().await?;
    Ok(SignedIn {
        user,
        token,
        needs_code: false,
        device_cookie: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_grouped_and_read_forgivingly() {
        let svc_code = "ABCD-EFGH-JK23";
        assert_eq!(normalise(" abcd efgh-jk23 "), normalise(svc_code));
        assert_eq!(normalise(svc_code).len(), 12);
    }
}
