//! `pedigree-store`: storage plumbing shared by every Pedigree service that
//! keeps a database, through diesel with one code path for SQLite (the
//! embedded default: a file) and PostgreSQL (chosen by a `postgres://` or
//! `postgresql://` URL).
//!
//! - [`Database`] owns the connection pool; [`Database::dedicated_connection`]
//!   gives a single writer a connection of its own.
//! - [`MigrationSet`] applies a service's embedded migrations.
//! - [`DbError`] is the one error type callers map to HTTP statuses.
//! - `testing` (feature `testing`) makes a fresh database per test.

mod connection;
mod error;
mod migrations;
#[cfg(feature = "testing")]
pub mod testing;
mod transaction;
mod url;

pub use connection::{
    Database, DatabaseSettings, DbConnection, DbConnectionManager, DbPool, DbPooledConnection,
    MultiBackend, SqlitePragmas, SQLITE_PRAGMAS,
};
pub use error::{ConfigError, DbError};
pub use migrations::MigrationSet;
pub use transaction::write_transaction;
pub use url::{Backend, DatabaseUrl};
