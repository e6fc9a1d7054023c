//! The party services' one API error type, mapped to HTTP in one place.
//!
//! Every error answer is JSON `{"code": "...", "message": "..."}`. Client mistakes get a 4xx
//! with a precise message; server-side failures get a 500 or 503 whose detail goes only to the
//! logs.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::DbError;
use crate::ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum PartyError {
    /// The request is malformed or asks for something impossible.
    #[error("{message}")]
    BadRequest { code: String, message: String },
    /// Operator authentication is missing or wrong.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// The ledger does not let this party see or do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored (a duplicate, a state that does not allow it).
    #[error("{0}")]
    Conflict(String),
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// Temporarily unable to serve (database pool exhausted, ledger unreachable); the detail is
    /// logged, never sent.
    #[error("the service is temporarily unavailable; retry shortly")]
    Unavailable(String),
    /// A bug or a broken store; the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

impl PartyError {
    /// A 400 with a machine-readable `code` and a message saying what is wrong.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: code.into(),
            message: message.into(),
        }
    }

    /// A 404 saying what does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// A 409 saying what conflicts.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    pub(crate) fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            message: message.into(),
        }
    }

    /// The machine-readable code sent with the error.
    pub fn code(&self) -> &str {
        match self {
            Self::BadRequest { code, .. } => code,
            Self::Unauthorized { code, .. } => code,
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl ResponseError for PartyError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Unavailable(detail) => tracing::warn!(%detail, "service unavailable"),
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Self::Unauthorized { .. } = self {
            // RFC 6750 §3: a 401 names the scheme the client must use.
            response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(ErrorBody {
            code: self.code(),
            message: self.to_string(),
        })
    }
}

impl From<DbError> for PartyError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(_) => Self::Unavailable(error.to_string()),
            DbError::NotFound => Self::NotFound("not found".into()),
            DbError::UniqueViolation { .. } => {
                Self::Conflict("a record with the same key already exists".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for PartyError {
    fn from(error: diesel::result::Error) -> Self {
        DbError::from(error).into()
    }
}

impl From<actix_web::error::BlockingError> for PartyError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// A ledger the party cannot reach is a temporary fault of this service (503); what the ledger
/// refuses as a bad request is passed on with the ledger's own code and message.
impl From<LedgerError> for PartyError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::Refused {
                status: 404,
                message,
                ..
            } => Self::NotFound(message),
            LedgerError::Refused {
                status: 401 | 403,
                message,
                ..
            } => Self::Forbidden(format!("the ledger refused this party: {message}")),
            LedgerError::Refused { code, message, .. } => Self::BadRequest { code, message },
            LedgerError::Unreachable(_) | LedgerError::Server { .. } => {
                Self::Unavailable(error.to_string())
            }
            LedgerError::Malformed(_) | LedgerError::CaCertificate { .. } => {
                Self::Internal(error.to_string())
            }
        }
    }
}
