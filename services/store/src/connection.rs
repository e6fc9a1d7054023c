//! Connections and the connection pool: one code path for SQLite and PostgreSQL.

use std::num::NonZeroU32;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};

use crate::error::{ConfigError, DbError};
use crate::url::{Backend, DatabaseUrl};

/// A connection to either backend. Queries written with diesel's DSL against a service's `table!`s run on both.
///
/// Open it with [`DbConnection::open`], not `Connection::establish`: the derived `establish`
/// tries each backend in turn, hides why the right one failed, and skips the SQLite pragmas.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl DbConnection {
    /// Opens a new connection to the backend `url` selects; SQLite connections get
    /// [`SQLITE_PRAGMAS`] before they are returned.
    pub fn open(url: &DatabaseUrl) -> Result<Self, DbError> {
        let connect_error = |source| DbError::Connect {
            backend: url.backend(),
            url: url.to_string(),
            source,
        };
        match url.backend() {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(url.as_str()).map_err(connect_error)?;
                configure_sqlite(&mut conn)?;
                Ok(Self::Sqlite(conn))
            }
            Backend::Postgres => PgConnection::establish(url.as_str())
                .map(Self::Pg)
                .map_err(connect_error),
        }
    }

    /// The backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Pg(_) => Backend::Postgres,
        }
    }
}

/// Pragmas set on every SQLite connection (<https://sqlite.org/pragma.html>).
///
/// - `busy_timeout` first, so the statements below and later writes wait up to 5 s for a
///   lock held by another connection instead of failing with `SQLITE_BUSY` at once.
/// - `journal_mode = WAL`: readers do not block the writer nor it them (sqlite.org/wal.html).
/// - `synchronous = FULL`: in WAL mode `NORMAL` only syncs at checkpoints, so transactions
///   committed since the last checkpoint can be lost on power failure. A custody event the
///   ledger has acknowledged to its submitter must survive that, so the WAL is synced on
///   every commit.
/// - `foreign_keys = ON`: SQLite ignores foreign key constraints otherwise.
/// - `cache_size = -32768`: a page cache of up to 32 MiB per connection (negative = KiB).
/// - `temp_store = MEMORY`: sort and index temporaries stay off disk.
pub const SQLITE_PRAGMAS: &str = "\
    PRAGMA busy_timeout = 5000;\
    PRAGMA journal_mode = WAL;\
    PRAGMA synchronous = FULL;\
    PRAGMA foreign_keys = ON;\
    PRAGMA cache_size = -32768;\
    PRAGMA temp_store = MEMORY;";

/// Applies [`SQLITE_PRAGMAS`] and checks that WAL took effect: SQLite reports a journal mode
/// it could not switch to by returning the old one, not by failing.
fn configure_sqlite(conn: &mut SqliteConnection) -> Result<(), DbError> {
    conn.batch_execute(SQLITE_PRAGMAS)?;
    let pragmas = SqlitePragmas::read(conn)?;
    if pragmas.journal_mode != "wal" {
        return Err(DbError::NotWal {
            actual: pragmas.journal_mode,
        });
    }
    Ok(())
}

/// The pragma values in effect on a SQLite connection, as SQLite reports them.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct SqlitePragmas {
    #[diesel(sql_type = Text)]
    pub journal_mode: String,
    /// 0 = OFF, 1 = NORMAL, 2 = FULL, 3 = EXTRA.
    #[diesel(sql_type = BigInt)]
    pub synchronous: i64,
    #[diesel(sql_type = BigInt)]
    pub foreign_keys: i64,
    /// Milliseconds.
    #[diesel(sql_type = BigInt)]
    pub busy_timeout: i64,
    /// Pages if positive, KiB if negative.
    #[diesel(sql_type = BigInt)]
    pub cache_size: i64,
    /// 0 = DEFAULT, 1 = FILE, 2 = MEMORY.
    #[diesel(sql_type = BigInt)]
    pub temp_store: i64,
}

impl SqlitePragmas {
    /// Reads the current values through SQLite's table-valued pragma functions.
    pub fn read(conn: &mut SqliteConnection) -> Result<Self, DbError> {
        Ok(diesel::sql_query(
            "SELECT (SELECT journal_mode FROM pragma_journal_mode) AS journal_mode, \
                    (SELECT synchronous FROM pragma_synchronous) AS synchronous, \
                    (SELECT foreign_keys FROM pragma_foreign_keys) AS foreign_keys, \
                    (SELECT timeout FROM pragma_busy_timeout) AS busy_timeout, \
                    (SELECT cache_size FROM pragma_cache_size) AS cache_size, \
                    (SELECT temp_store FROM pragma_temp_store) AS temp_store",
        )
        .get_result(conn)?)
    }
}

/// An r2d2 manager that opens connections with [`DbConnection::open`].
///
/// diesel's own `ConnectionManager<DbConnection>` would go through the derived `establish`,
/// which falls back from one backend to the other and drops the error that explains a
/// failure; this one connects to exactly the backend the URL names.
#[derive(Debug)]
pub struct DbConnectionManager {
    url: DatabaseUrl,
}

impl DbConnectionManager {
    /// A manager for the database at `url`.
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

impl r2d2::ManageConnection for DbConnectionManager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        DbConnection::open(&self.url)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        Ok(conn.ping()?)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection given back while its thread unwinds may be inside a transaction.
        std::thread::panicking() || conn.is_broken()
    }
}

/// Logs connection failures of the pool's background threads through `tracing`.
#[derive(Debug)]
struct TracingErrorHandler;

impl r2d2::HandleError<DbError> for TracingErrorHandler {
    fn handle_error(&self, error: DbError) {
        tracing::warn!(%error, "database pool could not open a connection");
    }
}

/// The connection pool.
pub type DbPool = r2d2::Pool<DbConnectionManager>;

/// A connection checked out of [`DbPool`]; it dereferences to [`DbConnection`].
pub type DbPooledConnection = r2d2::PooledConnection<DbConnectionManager>;

/// How to reach the database and how many connections to keep.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    url: DatabaseUrl,
    pool_size: NonZeroU32,
    connection_timeout: Duration,
}

impl DatabaseSettings {
    /// Default number of pooled connections.
    pub const DEFAULT_POOL_SIZE: NonZeroU32 = match NonZeroU32::new(8) {
        Some(size) => size,
        None => NonZeroU32::MIN,
    };
    /// Default wait for a free pooled connection before [`DbError::Unavailable`].
    pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

    /// Settings with an explicit pool size and checkout timeout (which must not be zero).
    pub fn new(
        url: DatabaseUrl,
        pool_size: NonZeroU32,
        connection_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        if connection_timeout.is_zero() {
            return Err(ConfigError::ZeroConnectionTimeout);
        }
        Ok(Self {
            url,
            pool_size,
            connection_timeout,
        })
    }

    /// Settings with [`Self::DEFAULT_POOL_SIZE`] and [`Self::DEFAULT_CONNECTION_TIMEOUT`].
    pub fn with_defaults(url: DatabaseUrl) -> Self {
        Self {
            url,
            pool_size: Self::DEFAULT_POOL_SIZE,
            connection_timeout: Self::DEFAULT_CONNECTION_TIMEOUT,
        }
    }

    /// The database URL.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The maximum number of pooled connections.
    pub fn pool_size(&self) -> NonZeroU32 {
        self.pool_size
    }

    /// How long a checkout waits for a free connection.
    pub fn connection_timeout(&self) -> Duration {
        self.connection_timeout
    }
}

/// An open database: its settings and its connection pool.
#[derive(Debug, Clone)]
pub struct Database {
    settings: DatabaseSettings,
    pool: DbPool,
}

impl Database {
    /// Opens the pool described by `settings`. Migrations are not run here; see
    /// [`crate::MigrationSet::run_pending`].
    pub fn open(settings: DatabaseSettings) -> Result<Self, DbError> {
        // Connect once directly first: a wrong URL or password then fails at once with the
        // driver's own message, where the pool would retry until its timeout. For SQLite this
        // also switches the file to WAL before the pool opens connections concurrently.
        drop(DbConnection::open(&settings.url)?);
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size.get())
            .connection_timeout(settings.connection_timeout)
            .error_handler(Box::new(TracingErrorHandler))
            .build(DbConnectionManager::new(settings.url.clone()))?;
        tracing::info!(
            url = %settings.url,
            pool_size = settings.pool_size.get(),
            "database opened"
        );
        Ok(Self { settings, pool })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.settings.url.backend()
    }

    /// The settings the database was opened with.
    pub fn settings(&self) -> &DatabaseSettings {
        &self.settings
    }

    /// The connection pool.
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Checks a connection out of the pool, waiting up to the connection timeout.
    pub fn get(&self) -> Result<DbPooledConnection, DbError> {
        Ok(self.pool.get()?)
    }

    /// Opens a connection outside the pool, configured like the pooled ones, for a
    /// long-lived owner such as the single writer thread: it never competes with request
    /// handlers for a pool slot.
    pub fn dedicated_connection(&self) -> Result<DbConnection, DbError> {
        DbConnection::open(&self.settings.url)
    }
}
