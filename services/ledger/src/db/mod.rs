//! The ledger's database: its tables ([`schema`]) and migrations
//! (`migrations/ledger/`), over the shared plumbing of `pedigree-store`.

pub mod schema;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};
pub use pedigree_store::*;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/ledger/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/ledger/postgres");

/// The ledger's migrations, `migrations/ledger/{sqlite,postgres}`.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: || SQLITE,
    postgres: || POSTGRES,
};

/// Applies the ledger's pending migrations.
pub fn run_pending_migrations(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    MIGRATIONS.run_pending(conn)
}
