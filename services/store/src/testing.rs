//! Throw-away databases for tests: a SQLite file in a temporary directory, or a freshly
//! created PostgreSQL database when [`POSTGRES_URL_VAR`] names a server.
//!
//! Both are removed when the [`TestDatabase`] is dropped. Setup failures panic with a message
//! saying what went wrong, as test fixtures do.

use std::env::{self, VarError};

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::connection::{Database, DatabaseSettings};
use crate::error::DbError;
use crate::url::{Backend, DatabaseUrl};

/// Environment variable with the URL of a PostgreSQL server the tests may create databases
/// on, e.g. `postgres://postgres@127.0.0.1:5432`. Its database (if any) is only used to
/// create and drop the test databases.
pub const POSTGRES_URL_VAR: &str = "PEDIGREE_TEST_POSTGRES_URL";

/// A database that exists for the lifetime of this value.
#[derive(Debug)]
pub struct TestDatabase {
    url: DatabaseUrl,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    /// Dropping the directory deletes the database file and its `-wal`/`-shm` companions.
    Sqlite { _dir: tempfile::TempDir },
    /// The database to drop, and the server URL to connect to for dropping it.
    Postgres { server_url: String, name: String },
}

impl TestDatabase {
    /// A new, empty SQLite database file in a fresh temporary directory.
    ///
    /// # Panics
    /// If the temporary directory cannot be created or its path is not UTF-8.
    pub fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pedigree-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory for SQLite: {e}"));
        let path = dir.path().join("ledger.sqlite3");
        let url = path
            .to_str()
            .and_then(|path| DatabaseUrl::parse(path).ok())
            .unwrap_or_else(|| panic!("temporary path {} is not valid UTF-8", path.display()));
        Self {
            url,
            cleanup: Cleanup::Sqlite { _dir: dir },
        }
    }

    /// A new, empty database on the PostgreSQL server named by [`POSTGRES_URL_VAR`], or
    /// `None` (after printing why the test is skipped) when the variable is unset or empty.
    ///
    /// # Panics
    /// If the variable is set but is not a PostgreSQL URL, or the database cannot be created:
    /// a configured server that does not work is a failure, not a reason to skip.
    pub fn postgres() -> Option<Self> {
        let server_url = match env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
            Ok(_) | Err(VarError::NotPresent) => {
                eprintln!("skipping the PostgreSQL part of this test: {POSTGRES_URL_VAR} is unset or empty");
                return None;
            }
            Err(VarError::NotUnicode(_)) => panic!("{POSTGRES_URL_VAR} is not valid UTF-8"),
        };
        let server = DatabaseUrl::parse(&server_url)
            .ok()
            .filter(|url| url.backend() == Backend::Postgres)
            .unwrap_or_else(|| panic!("{POSTGRES_URL_VAR} must be a postgres:// URL"));
        let name = format!("pedigree_test_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::establish(server.as_str())
            .unwrap_or_else(|e| panic!("cannot connect to {server} ({POSTGRES_URL_VAR}): {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("cannot create test database {name} on {server}: {e}"));
        let url = DatabaseUrl::parse(&with_database(&server_url, &name))
            .unwrap_or_else(|e| panic!("cannot build the URL of test database {name}: {e}"));
        Some(Self {
            url,
            cleanup: Cleanup::Postgres { server_url, name },
        })
    }

    /// A SQLite database, plus a PostgreSQL one when [`POSTGRES_URL_VAR`] is set: run a test
    /// body against each to cover both backends.
    ///
    /// # Panics
    /// As [`Self::sqlite`] and [`Self::postgres`].
    pub fn every_backend() -> Vec<Self> {
        std::iter::once(Self::sqlite())
            .chain(Self::postgres())
            .collect()
    }

    /// The database's URL.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The database's backend.
    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// Opens a pool with default settings on this database. Drop the pool before this value,
    /// or its PostgreSQL connections are terminated under it.
    pub fn open(&self) -> Result<Database, DbError> {
        Database::open(DatabaseSettings::with_defaults(self.url.clone()))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { server_url, name } = &self.cleanup {
            if let Err(e) = drop_postgres_database(server_url, name) {
                eprintln!("could not drop test database {name}: {e}");
            }
        }
    }
}

/// Terminates the sessions still connected to `name` (which would block the drop), then
/// drops the database.
fn drop_postgres_database(server_url: &str, name: &str) -> Result<(), DbError> {
    let mut admin = PgConnection::establish(server_url).map_err(|source| DbError::Connect {
        backend: Backend::Postgres,
        url: name.to_owned(),
        source,
    })?;
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind::<Text, _>(name)
    .execute(&mut admin)?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))?;
    Ok(())
}

/// `server_url` with its path (the database name) replaced by `database`; the query, if any,
/// is kept.
fn with_database(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + "://".len());
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_appends_a_path_to_a_server_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
    }

    #[test]
    fn with_database_replaces_an_existing_path_and_keeps_the_query() {
        assert_eq!(
            with_database("postgresql://u:p@h/postgres?sslmode=disable", "t1"),
            "postgresql://u:p@h/t1?sslmode=disable"
        );
    }

    #[test]
    fn sqlite_test_database_file_is_removed_on_drop() {
        let db = TestDatabase::sqlite();
        let path = std::path::PathBuf::from(db.url().as_str());
        drop(db.open().expect("open the SQLite test database"));
        assert!(path.exists(), "opening creates the database file");
        drop(db);
        assert!(!path.exists(), "dropping removes the database file");
    }
}
