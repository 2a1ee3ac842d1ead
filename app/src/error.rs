//! The server-function error: a wire wrapper around the domain's [`AppError`],
//! so the domain crate stays free of Leptos.

use domain::AppError;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiError(pub AppError);

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ApiError {}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Malformed or missing arguments are the caller's fault: 400, not 500.
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_) => ApiError(AppError::Invalid {
                field: None,
                message: "The request was not understood. Reload the page and try again.".into(),
            }),
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => {
                ApiError(AppError::Unavailable)
            }
            _ => ApiError(AppError::Internal),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
