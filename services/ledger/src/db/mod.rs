//! Storage for the ledger through diesel, with one code path for SQLite (the embedded
//! default: a file) and PostgreSQL (chosen by a `postgres://` or `postgresql://` URL).
//!
//! - [`Database`] owns the connection pool; [`Database::dedicated_connection`] gives the
//!   single writer a connection of its own.
//! - [`schema`] holds the `table!` definitions; [`migrations`] the embedded SQL that creates
//!   them, one directory per backend with matching migration names.
//! - [`DbError`] is the one error type callers map to HTTP statuses.

mod connection;
mod error;
pub mod migrations;
pub mod schema;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod url;

pub use connection::{
    Database, DatabaseSettings, DbConnection, DbConnectionManager, DbPool, DbPooledConnection,
    MultiBackend, SqlitePragmas, SQLITE_PRAGMAS,
};
pub use error::{ConfigError, DbError};
pub use migrations::run_pending_migrations;
pub use url::{Backend, DatabaseUrl};
