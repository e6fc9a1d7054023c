//! Errors of the storage layer, shaped so the HTTP layer can map them in one place.

use diesel::result::{ConnectionError, DatabaseErrorKind, Error as DieselError};

use crate::url::Backend;

/// Invalid database settings, found before any connection is made.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The database URL is empty or only whitespace.
    #[error("the database URL is empty: give a SQLite file path or a postgres:// URL")]
    EmptyUrl,
    /// A zero connection timeout would make every pool checkout fail at once.
    #[error("the database connection timeout must be longer than zero")]
    ZeroConnectionTimeout,
}

/// A storage failure.
///
/// Suggested HTTP mapping: [`DbError::Unavailable`] → 503, [`DbError::NotFound`] → 404,
/// [`DbError::UniqueViolation`] → 409, everything else → 500.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The settings are invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A new connection could not be established.
    #[error("could not connect to the {backend} database {url}: {source}")]
    Connect {
        backend: Backend,
        /// The URL without credentials.
        url: String,
        #[source]
        source: ConnectionError,
    },
    /// SQLite did not switch to write-ahead logging, so the durability and concurrency the
    /// ledger relies on are not there.
    #[error(
        "SQLite kept journal_mode={actual} instead of wal \
         (an in-memory database, or a file system without shared memory, cannot use WAL)"
    )]
    NotWal { actual: String },
    /// No pooled connection became free within the pool's connection timeout: every
    /// connection is busy, or the database cannot be reached. Retrying later may succeed.
    #[error("no database connection became available in time: {0}")]
    Unavailable(#[from] r2d2::Error),
    /// The query expected a row and there was none.
    #[error("the requested row does not exist")]
    NotFound,
    /// A row with the same primary key or unique column value already exists.
    #[error("a row with the same unique key already exists: {message}")]
    UniqueViolation {
        /// The violated constraint, when the backend names it (PostgreSQL does, SQLite not).
        constraint: Option<String>,
        /// The backend's own message.
        message: String,
    },
    /// Any other failure reported by the database or the driver.
    #[error("database query failed: {0}")]
    Query(DieselError),
    /// Applying or reverting schema migrations failed.
    #[error("{backend} schema migration failed: {source}")]
    Migration {
        backend: Backend,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::UniqueViolation {
                    constraint: info.constraint_name().map(str::to_owned),
                    message: info.message().to_owned(),
                }
            }
            other => Self::Query(other),
        }
    }
}
