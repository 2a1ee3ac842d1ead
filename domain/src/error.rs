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
            AppError::Invalid { .. } => 400,
            AppError::Conflict { .. } => 409,
            AppError::SignInFailed { throttled: false } => 401,
            AppError::SignInFailed { throttled: true } => 429,
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

#[cfg(feature = "server")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %e, "database unavailable");
                AppError::Unavailable
            }
            _ => {
                // Logged for operators of the server; the page only sees `Internal`.
                tracing::error!(error = %e, "database error");
                AppError::Internal
            }
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
