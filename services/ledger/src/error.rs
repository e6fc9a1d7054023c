//! The ledger's one API error type, mapped to HTTP in one place.
//!
//! Every error answer is JSON `{"code": "...", "message": "..."}`. Client
//! mistakes get a 4xx with a precise message; server-side failures get a
//! 500 or 503 whose detail goes only to the logs.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::DbError;
use crate::log::LogError;
use crate::tree::TreeError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (syntax, identifiers, parameters).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// Authentication is missing or invalid.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Authenticated, but not allowed to see or do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the current state (e.g. an alert's triage).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Well-formed, but its content is refused (e.g. a missing note).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// Temporarily unable to serve (pool exhausted, writer busy).
    #[error("the ledger is temporarily unavailable; retry shortly")]
    Unavailable(String),
    /// A bug or a broken store; detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// The machine-readable code of the JSON body.
    pub fn code(&self) -> &str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. } => code,
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Unavailable(detail) => tracing::warn!(%detail, "ledger unavailable"),
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            _ => {}
        }
        HttpResponse::build(self.status_code()).json(ErrorBody {
            code: self.code(),
            message: self.to_string(),
        })
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(_) => ApiError::Unavailable(error.to_string()),
            DbError::NotFound => ApiError::NotFound("not found".into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::NotFound => ApiError::NotFound("not found".into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<TreeError> for ApiError {
    fn from(error: TreeError) -> Self {
        match error {
            TreeError::Proof(e) => ApiError::bad_request("bad_proof_request", e.to_string()),
            TreeError::Database(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<LogError> for ApiError {
    fn from(error: LogError) -> Self {
        match error {
            LogError::WriterGone => ApiError::Unavailable(error.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::Unavailable(error.to_string())
    }
}
