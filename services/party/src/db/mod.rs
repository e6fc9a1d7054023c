//! The party's database: its tables ([`schema`]) and migrations (`migrations/party/`), over the
//! shared plumbing of `pedigree-store`. One database and one [`MIGRATIONS`] set serve the
//! common tables and every role's own tables.

pub mod schema;

use std::num::NonZeroU32;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};
pub use pedigree_store::*;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/party/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/party/postgres");

/// The party services' migrations, `migrations/party/{sqlite,postgres}`.
pub const MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: || SQLITE,
    postgres: || POSTGRES,
};

/// Why the party database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("database URL: {0}")]
    Url(#[from] ConfigError),
    #[error("cannot create the directory of the SQLite file {path}: {source}")]
    Directory {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] DbError),
}

/// Opens the party database at `url` with up to `pool_size` pooled connections (0 means the
/// default), creating the SQLite file's directory if needed, and applies pending migrations.
pub fn open(url: &str, pool_size: u32) -> Result<Database, OpenError> {
    let url = DatabaseUrl::parse(url)?;
    if url.backend() == Backend::Sqlite {
        let path = std::path::Path::new(url.as_str().trim_start_matches("sqlite://"));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| OpenError::Directory {
                path: path.display().to_string(),
                source,
            })?;
        }
    }
    let pool_size = NonZeroU32::new(pool_size).unwrap_or(DatabaseSettings::DEFAULT_POOL_SIZE);
    let settings =
        DatabaseSettings::new(url, pool_size, DatabaseSettings::DEFAULT_CONNECTION_TIMEOUT)?;
    let database = Database::open(settings)?;
    MIGRATIONS.run_pending(&mut database.dedicated_connection()?)?;
    Ok(database)
}

/// Now, in unix microseconds: how every time column is stored.
pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Runs `work` with a pooled connection on the blocking thread pool, so database work never
/// stalls the async workers that serve HTTP.
pub async fn blocking<T: Send + 'static>(
    db: &Database,
    work: impl FnOnce(&mut DbConnection) -> Result<T, crate::PartyError> + Send + 'static,
) -> Result<T, crate::PartyError> {
    let db = db.clone();
    actix_web::web::block(move || work(&mut *db.get()?)).await?
}
