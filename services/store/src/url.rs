//! Which database to use, chosen from the URL alone.

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;

/// The database engine behind a [`DatabaseUrl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An embedded SQLite file: the default, needing no server.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        })
    }
}

/// URI schemes libpq accepts for a connection URI (PostgreSQL docs, "Connection URIs").
const POSTGRES_SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

/// A database URL and the backend it selects.
///
/// `postgres://` and `postgresql://` URLs select PostgreSQL; anything else (a file path, or a
/// `sqlite://path` URL) is a SQLite database file. `Display` and `Debug` hide the user name,
/// password and query parameters of PostgreSQL URLs so the URL can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Parses a database URL; surrounding whitespace (e.g. from an env file) is ignored.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(ConfigError::EmptyUrl);
        }
        // URI schemes are case-insensitive (RFC 3986 §3.1); treating `POSTGRES://` as a file
        // name would silently create a stray SQLite database instead of failing to connect.
        let is_postgres = POSTGRES_SCHEMES.iter().any(|scheme| {
            raw.get(..scheme.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
        });
        let backend = if is_postgres {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        Ok(Self {
            raw: raw.to_owned(),
            backend,
        })
    }

    /// The backend this URL selects.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL exactly as given to the driver, credentials included: do not log it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The URL without credentials or query parameters, for logs and error messages.
    fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => self.raw.clone(),
            Backend::Postgres => {
                let without_query = self.raw.split_once('?').map_or(&*self.raw, |(url, _)| url);
                let Some((scheme, rest)) = without_query.split_once("://") else {
                    return without_query.to_owned();
                };
                let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
                // userinfo ends at the last `@` of the authority (RFC 3986 §3.2.1).
                let host = authority
                    .rsplit_once('@')
                    .map_or(authority, |(_, host)| host);
                format!("{scheme}://{host}{path}")
            }
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = ConfigError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("url", &self.redacted())
            .field("backend", &self.backend)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend_of(raw: &str) -> Backend {
        DatabaseUrl::parse(raw).map(|url| url.backend()).unwrap()
    }

    #[test]
    fn postgres_schemes_select_postgres_in_any_case() {
        assert_eq!(backend_of("postgres://u@h/db"), Backend::Postgres);
        assert_eq!(backend_of("postgresql://u@h/db"), Backend::Postgres);
        assert_eq!(backend_of("PostgreSQL://h"), Backend::Postgres);
    }

    #[test]
    fn paths_and_sqlite_urls_select_sqlite() {
        assert_eq!(backend_of("/var/lib/pedigree/ledger.db"), Backend::Sqlite);
        assert_eq!(backend_of("ledger.db"), Backend::Sqlite);
        assert_eq!(backend_of("sqlite://ledger.db"), Backend::Sqlite);
        // A prefix of a PostgreSQL scheme is not that scheme.
        assert_eq!(backend_of("postgres:/x"), Backend::Sqlite);
        assert_eq!(backend_of("postgres"), Backend::Sqlite);
    }

    #[test]
    fn blank_url_is_rejected() {
        assert!(matches!(
            DatabaseUrl::parse(" \n"),
            Err(ConfigError::EmptyUrl)
        ));
    }

    #[test]
    fn surrounding_whitespace_is_dropped() {
        let url = DatabaseUrl::parse("  ledger.db\n").unwrap();
        assert_eq!(url.as_str(), "ledger.db");
    }

    #[test]
    fn display_hides_postgres_credentials_and_query() {
        let url =
            DatabaseUrl::parse("postgres://user:s3cret@db.example:5432/ledger?password=x").unwrap();
        assert_eq!(url.to_string(), "postgres://db.example:5432/ledger");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            url.as_str(),
            "postgres://user:s3cret@db.example:5432/ledger?password=x"
        );
    }

    #[test]
    fn display_of_postgres_url_without_path_or_user_keeps_host() {
        let url = DatabaseUrl::parse("postgresql://127.0.0.1:5432").unwrap();
        assert_eq!(url.to_string(), "postgresql://127.0.0.1:5432");
    }

    #[test]
    fn display_of_sqlite_path_is_the_path() {
        assert_eq!(
            DatabaseUrl::parse("/tmp/l.db").unwrap().to_string(),
            "/tmp/l.db"
        );
    }
}
