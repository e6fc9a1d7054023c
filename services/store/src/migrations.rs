//! Schema migrations, embedded in the binary: one directory per backend with
//! matching migration names (the vaultwarden layout). Each service that owns
//! a database declares its own [`MigrationSet`].

use diesel::migration::MigrationVersion;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use crate::connection::DbConnection;
use crate::error::DbError;

/// A service's migrations for both backends. `EmbeddedMigrations` is
/// neither `Copy` nor usable by reference, so the set holds the functions
/// that produce the (constant) embedded values.
pub struct MigrationSet {
    pub sqlite: fn() -> EmbeddedMigrations,
    pub postgres: fn() -> EmbeddedMigrations,
}

impl MigrationSet {
    /// Applies the pending migrations for `conn`'s backend; returns the
    /// versions applied.
    pub fn run_pending(&self, conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
        let backend = conn.backend();
        let applied = match conn {
            DbConnection::Sqlite(conn) => conn
                .run_pending_migrations((self.sqlite)())
                .map(version_names),
            DbConnection::Pg(conn) => conn
                .run_pending_migrations((self.postgres)())
                .map(version_names),
        }
        .map_err(|source| DbError::Migration { backend, source })?;
        if !applied.is_empty() {
            tracing::info!(%backend, migrations = ?applied, "applied database migrations");
        }
        Ok(applied)
    }

    /// Reverts every migration (tests of the `down.sql` files).
    pub fn revert_all(&self, conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
        let backend = conn.backend();
        match conn {
            DbConnection::Sqlite(conn) => conn
                .revert_all_migrations((self.sqlite)())
                .map(version_names),
            DbConnection::Pg(conn) => conn
                .revert_all_migrations((self.postgres)())
                .map(version_names),
        }
        .map_err(|source| DbError::Migration { backend, source })
    }
}

fn version_names(versions: Vec<MigrationVersion<'_>>) -> Vec<String> {
    versions.iter().map(ToString::to_string).collect()
}
