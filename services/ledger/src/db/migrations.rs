//! Schema migrations, embedded in the binary: one set per backend, with the same names.
//!
//! Paths are relative to the ledger crate's manifest directory (`services/ledger`).

use diesel::migration::MigrationVersion;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::db::connection::DbConnection;
use crate::db::error::DbError;

/// Migrations for SQLite (`migrations/sqlite`).
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Migrations for PostgreSQL (`migrations/postgres`).
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Applies every migration not yet applied, each in its own transaction, using the set that
/// matches the connection's backend. Returns the versions applied, oldest first.
pub fn run_pending_migrations(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let backend = conn.backend();
    let applied = match conn {
        DbConnection::Sqlite(conn) => conn
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(version_names),
        DbConnection::Pg(conn) => conn
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(version_names),
    }
    .map_err(|source| DbError::Migration { backend, source })?;
    if !applied.is_empty() {
        tracing::info!(%backend, migrations = ?applied, "applied database migrations");
    }
    Ok(applied)
}

/// Reverts every applied migration, newest first, dropping all ledger tables. Returns the
/// versions reverted. For tests: production databases are never migrated down.
#[cfg(any(test, feature = "testing"))]
pub fn revert_all(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let backend = conn.backend();
    match conn {
        DbConnection::Sqlite(conn) => conn
            .revert_all_migrations(SQLITE_MIGRATIONS)
            .map(version_names),
        DbConnection::Pg(conn) => conn
            .revert_all_migrations(POSTGRES_MIGRATIONS)
            .map(version_names),
    }
    .map_err(|source| DbError::Migration { backend, source })
}

fn version_names(versions: Vec<MigrationVersion<'_>>) -> Vec<String> {
    versions.iter().map(ToString::to_string).collect()
}
