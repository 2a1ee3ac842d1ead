//! The one error type that crosses layers and the wire. Each variant maps once
//! to an HTTP status and to words an operator can act on; none carries
//! internals (SQL, provider payloads, secrets).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    /// No valid session.
    #[error("Please sign in to continue.")]
    Unauthenticated,
    /// Not there, or not yours: the two are deliberately indistinguishable.
    #[error("Not found.")]
    NotFound,
    /// Yours, but your role does not allow it.
    #[error("Your role does not allow this.")]
    Forbidden,
    /// Bad input; `field` names the form field when there is one.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// The request conflicts with the current state.
    #[error("{message}")]
    Conflict { message: String },
    /// Sign-in failed (bad credentials or throttled): one generic message.
    #[error("Sign-in failed. Check your email and password, or wait a few minutes and try again.")]
    SignInFailed { throttled: bool },
    /// A workspace of theirs requires two-step sign-in and they have not set it up.
    #[error("Your workspace requires two-step sign-in. Set it up on Your account to go on.")]
    MfaRequired,
    /// A per-member limit is used up for now; try again after `retry_after_secs`.
    #[error("{}", too_many_words(*retry_after_secs))]
    TooManyRequests { retry_after_secs: u64 },
    /// The database (or another dependency) is unreachable.
    #[error("Tenantry is temporarily unavailable. Try again in a moment.")]
    Unavailable,
    /// Anything else. Details go to the server log, never to the page.
    #[error(
        "Something went wrong on our side. Try again; if it persists, contact your administrator."
    )]
    Internal,
}

pub type AppResult<T> = Result<T, AppError>;

fn too_many_words(secs: u64) -> String {
    let minutes = secs.div_ceil(60).max(1);
    let when = if minutes == 1 {
        "a minute".to_string()
    } else {
        format!("{minutes} minutes")
    };
    format!("You have done this often in a short time. Try again in {when}.")
}

/// What a page says while the database is unreachable (the app's error page
/// and the router's, which answers before any page can load).
pub const UNAVAILABLE_PAGE_TITLE: &str = "Tenantry can't reach its database — retrying";
pub const UNAVAILABLE_PAGE_TEXT: &str = "Nothing is lost. This page reloads by itself every few seconds and comes back as soon as the database answers.";
/// How long a client should wait before retrying (Retry-After, page refresh).
pub const UNAVAILABLE_RETRY_SECS: u32 = 5;

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict {
            message: message.into(),
        }
    }

    /// The single HTTP mapping.
    pub fn http_status(&self) -> u16 {
        match self {
            AppError::Unauthenticated => 401,
            AppError::NotFound => 404,
            AppError::Forbidden => 403,
            AppError::MfaRequired => 403,
            AppError::Invalid { .. } => 400,
            AppError::Conflict { .. } => 409,
            AppError::SignInFailed { throttled: false } => 401,
            AppError::SignInFailed { throttled: true } => 429,
            AppError::TooManyRequests { .. } => 429,
            AppError::Unavailable => 503,
            AppError::Internal => 500,
        }
    }

    /// The words shown to the operator.
    pub fn operator_message(&self) -> String {
        self.to_string()
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

impl From<crate::validate::ValidationError> for AppError {
    fn from(e: crate::validate::ValidationError) -> Self {
        AppError::Invalid {
            field: Some(e.field.to_string()),
            message: e.message,
        }
    }
}

/// Connection-level database errors, process-wide (the store reads them to
/// know the database is down; see `store.rs`, "Knowing the database is down").
#[cfg(feature = "server")]
pub(crate) mod connection_errors {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    pub(crate) static CONNECTION_ERRORS: AtomicU64 = AtomicU64::new(0);
    pub(crate) static LAST_CONNECTION_ERROR_MS: AtomicU64 = AtomicU64::new(0);

    pub(crate) fn process_clock_ms() -> u64 {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        // +1 so that 0 keeps meaning "never".
        START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
    }

    /// Records a connection-level database error.
    pub(crate) fn note() {
        LAST_CONNECTION_ERROR_MS.store(process_clock_ms(), Ordering::Release);
        CONNECTION_ERRORS.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(feature = "server")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if e.is_connection_level() {
            connection_errors::note();
            tracing::warn!(error = %e, "database unavailable");
            return AppError::Unavailable;
        }
        match &e {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::Database(db) if db.code().as_deref().is_some_and(is_unstorable_text) => {
                // The boundary's text rule should have refused this already;
                // answer like it would rather than with a 500.
                tracing::warn!(error = %e, "text the database cannot store reached a query");
                AppError::Invalid {
                    field: None,
                    message: "The input contains characters that cannot be stored.".into(),
                }
            }
            _ => {
                // Logged for operators of the server; the page only sees `Internal`.
                tracing::error!(error = %e, "database error");
                AppError::Internal
            }
        }
    }
}

/// PostgreSQL's "invalid byte sequence" / "untranslatable character" codes.
#[cfg(feature = "server")]
fn is_unstorable_text(code: &str) -> bool {
    matches!(code, "22021" | "22P05")
}

/// Errors that say nothing about the query and everything about the
/// connection: the database went away, refused us, or we could not get a
/// connection in time. They answer 503 and never 500.
#[cfg(feature = "server")]
pub trait ConnectionLevel {
    fn is_connection_level(&self) -> bool;
}

#[cfg(feature = "server")]
impl ConnectionLevel for sqlx::Error {
    fn is_connection_level(&self) -> bool {
        match self {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().as_deref().is_some_and(|c| {
                // Class 08: connection exception. 57P01-03: admin shutdown,
                // crash shutdown, cannot connect now. 53300: too many connections.
                c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "53300")
            }),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_house_rules() {
        assert_eq!(AppError::NotFound.http_status(), 404);
        assert_eq!(AppError::Forbidden.http_status(), 403);
        assert_eq!(AppError::invalid("x", "bad").http_status(), 400);
        assert_eq!(AppError::conflict("busy").http_status(), 409);
        assert_eq!(AppError::Unavailable.http_status(), 503);
        let limited = AppError::TooManyRequests {
            retry_after_secs: 125,
        };
        assert_eq!(limited.http_status(), 429);
        assert!(limited.operator_message().contains("3 minutes"));
    }

    #[test]
    fn sign_in_failures_share_one_message() {
        assert_eq!(
            AppError::SignInFailed { throttled: true }.operator_message(),
            AppError::SignInFailed { throttled: false }.operator_message()
        );
    }

    #[test]
    fn round_trips_as_json() {
        let e = AppError::invalid("email", "Enter an email address.");
        let json = serde_json::to_string(&e).expect("serialize");
        assert_eq!(serde_json::from_str::<AppError>(&json).expect("parse"), e);
    }
}
