//! The party service's configuration: a TOML file, with `PEDIGREE_PARTY_<FIELD>` environment
//! variables overriding it field by field, read once and passed explicitly.
//!
//! | field | meaning | default |
//! |---|---|---|
//! | `role` | `manufacturer`, `distributor`, `pharmacy` or `regulator` | required |
//! | `gln` | the party's GLN, as registered in the ledger | required |
//! | `key_file` | the party's signing key (`pedigree keygen`); relative to the config file | required |
//! | `listen` | address of the party's HTTP API | `127.0.0.1:7800` |
//! | `database_url` | SQLite file path or `postgres://` URL | `pedigree-data/party.sqlite` |
//! | `pool_size` | pooled database connections | 8 |
//! | `ledger_url` | the ledger's base URL | `http://127.0.0.1:7700` |
//! | `log_verifier_key` | the log's C2SP verifier key `<origin>+<id>+<key>` (configured, never learned from the log) | required |
//! | `witness_interval_ms` | how often the witness polls `/checkpoint` | 2000 |
//! | `retry_max_ms` | the cap of the outbox's retry backoff | 30000 |
//! | `tls_cert` | the certificate chain (PEM) the service presents; relative to the config file | none |
//! | `tls_key` | its private key (PEM, mode 0600), set with `tls_cert` | none |
//! | `ledger_ca_cert` | a CA certificate (PEM) the ledger client trusts beyond the public roots (a private PKI) | none |
//!
//! Without `tls_cert` the service serves plain HTTP only on a loopback address, or anywhere
//! after the explicit opt-out (`--insecure-http`, [`PartyTls::server`]'s `insecure_http`).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pedigree_schema::event::Role;
use pedigree_schema::gs1::Gln;
use pedigree_schema::keys::{KeyError, SecretKey};
use pedigree_schema::note::NoteVerifier;
use pedigree_tls::{CertificateFiles, ServerTls};

/// Prefix of the environment variables that override config file fields.
pub const ENV_PREFIX: &str = "PEDIGREE_PARTY_";

/// The fields a config file may have.
const FIELDS: [&str; 13] = [
    "role",
    "gln",
    "key_file",
    "listen",
    "database_url",
    "pool_size",
    "ledger_url",
    "log_verifier_key",
    "witness_interval_ms",
    "retry_max_ms",
    "tls_cert",
    "tls_key",
    "ledger_ca_cert",
];

/// Where a party service's certificate is configured, for the message that asks for one.
pub const TLS_HOW_TO_CONFIGURE: &str = "set tls_cert to the certificate chain and tls_key to \
     its private key (PEM files, the key mode 0600) in the config file or in \
     PEDIGREE_PARTY_TLS_CERT and PEDIGREE_PARTY_TLS_KEY";

/// Everything a party service needs to run.
#[derive(Clone, Debug)]
pub struct PartyConfig {
    pub role: Role,
    pub gln: Gln,
    /// The party's own signing key: signs its events, its ledger requests and its cosignatures.
    pub key: Arc<SecretKey>,
    /// Port 0 picks a free port.
    pub listen: SocketAddr,
    pub database_url: String,
    pub pool_size: u32,
    pub ledger_url: String,
    /// The log's C2SP verifier key, configured (no trust on first use).
    pub log_verifier: NoteVerifier,
    /// How often the witness polls the ledger's `/checkpoint`.
    pub witness_interval: Duration,
    /// The cap of the outbox's exponential retry backoff.
    pub retry_max: Duration,
    /// The certificate the service presents and the CA its ledger client adds.
    pub tls: PartyTls,
}

/// A party service's TLS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartyTls {
    /// `tls_cert` and `tls_key`, and the plain-HTTP opt-out.
    pub server: ServerTls,
    /// `ledger_ca_cert`: a PEM CA certificate trusted for the ledger beside the public roots.
    pub ledger_ca_cert: Option<PathBuf>,
}

/// Why the configuration could not be read. Values are not repeated (a database URL may carry
/// a password); the field and where it came from are named instead.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid TOML: {source}")]
    Toml {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("the config file {path} has an unknown field {field:?} (known fields: {known})", known = FIELDS.join(", "))]
    UnknownField { path: String, field: String },
    #[error("{field} is required: set it in the config file or in {ENV_PREFIX}{env}", env = field.to_uppercase())]
    Missing { field: &'static str },
    #[error("{field} (from {origin}) is invalid: {reason}")]
    Invalid {
        field: &'static str,
        origin: Origin,
        reason: String,
    },
    #[error("{field} (from {origin}) is set but {missing} is not: they go together")]
    Unpaired {
        field: &'static str,
        origin: Origin,
        missing: &'static str,
    },
    #[error("key_file (from {origin}): {source}")]
    Key {
        origin: Origin,
        #[source]
        source: KeyError,
    },
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The config file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "config file {}", path.display()),
            Self::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

/// A raw value and where it came from.
struct Raw {
    text: String,
    origin: Origin,
}

impl Raw {
    /// The value as a file path; a relative path in a config file is relative to that file.
    fn path(&self) -> PathBuf {
        let path = PathBuf::from(self.text.trim());
        match &self.origin {
            Origin::File(file) if path.is_relative() => file
                .parent()
                .map_or_else(|| path.clone(), |dir| dir.join(&path)),
            _ => path,
        }
    }
}

/// The config file's fields as text, with environment variables looked up through `env`.
struct Sources<'a> {
    file: Option<(PathBuf, toml::Table)>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Sources<'_> {
    fn raw(&self, field: &'static str) -> Result<Option<Raw>, ConfigError> {
        let name = format!("{ENV_PREFIX}{}", field.to_uppercase());
        if let Some(text) = (self.env)(&name).filter(|v| !v.trim().is_empty()) {
            return Ok(Some(Raw {
                text,
                origin: Origin::Env(name),
            }));
        }
        let Some((path, table)) = &self.file else {
            return Ok(None);
        };
        let origin = Origin::File(path.clone());
        let text = match table.get(field) {
            None => return Ok(None),
            Some(toml::Value::String(text)) => text.clone(),
            Some(toml::Value::Integer(number)) => number.to_string(),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    field,
                    origin,
                    reason: "must be a string or an integer".into(),
                })
            }
        };
        Ok(Some(Raw { text, origin }))
    }

    fn required(&self, field: &'static str) -> Result<Raw, ConfigError> {
        self.raw(field)?.ok_or(ConfigError::Missing { field })
    }

    /// Parses a required field with `parse`, whose error becomes the reason.
    fn parse_required<T, E: fmt::Display>(
        &self,
        field: &'static str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        let raw = self.required(field)?;
        parse(raw.text.trim()).map_err(|e| invalid(field, raw.origin, e))
    }

    /// Parses an optional field with `FromStr`, or gives `default`.
    fn parsed<T: std::str::FromStr>(
        &self,
        field: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        self.raw(field)?.map_or(Ok(default), |raw| {
            raw.text
                .trim()
                .parse()
                .map_err(|e| invalid(field, raw.origin, e))
        })
    }

    /// `tls_cert` and `tls_key`, both or neither.
    fn certificate_files(&self) -> Result<Option<CertificateFiles>, ConfigError> {
        match (self.raw("tls_cert")?, self.raw("tls_key")?) {
            (Some(cert), Some(key)) => Ok(Some(CertificateFiles {
                cert_chain: cert.path(),
                private_key: key.path(),
            })),
            (None, None) => Ok(None),
            (Some(cert), None) => Err(ConfigError::Unpaired {
                field: "tls_cert",
                origin: cert.origin,
                missing: "tls_key",
            }),
            (None, Some(key)) => Err(ConfigError::Unpaired {
                field: "tls_key",
                origin: key.origin,
                missing: "tls_cert",
            }),
        }
    }

    /// A positive number of milliseconds, or `default`.
    fn millis(&self, field: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        let Some(raw) = self.raw(field)? else {
            return Ok(default);
        };
        match raw.text.trim().parse::<u64>() {
            Ok(0) => Err(invalid(field, raw.origin, "must be more than 0")),
            Ok(millis) => Ok(Duration::from_millis(millis)),
            Err(e) => Err(invalid(field, raw.origin, e)),
        }
    }
}

fn invalid(field: &'static str, origin: Origin, reason: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        field,
        origin,
        reason: reason.to_string(),
    }
}

impl PartyConfig {
    /// Default listening address.
    pub const DEFAULT_LISTEN: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7800));
    /// Default database: a SQLite file.
    pub const DEFAULT_DATABASE_URL: &'static str = "pedigree-data/party.sqlite";
    /// Default ledger base URL.
    pub const DEFAULT_LEDGER_URL: &'static str = "http://127.0.0.1:7700";
    /// Default pool size.
    pub const DEFAULT_POOL_SIZE: u32 = 8;
    /// Default witness polling interval.
    pub const DEFAULT_WITNESS_INTERVAL: Duration = Duration::from_secs(2);
    /// Default cap of the outbox backoff.
    pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(30);

    /// Reads a TOML config file (fields: role, gln, key_file, listen, database_url, pool_size,
    /// ledger_url, log_verifier_key, witness_interval_ms, retry_max_ms, tls_cert, tls_key,
    /// ledger_ca_cert) with
    /// `PEDIGREE_PARTY_<FIELD>` environment variables overriding it. Without a file, every
    /// required field comes from the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let file = path
            .map(|path| {
                std::fs::read_to_string(path)
                    .map(|text| (path.to_path_buf(), text))
                    .map_err(|source| ConfigError::Read {
                        path: path.display().to_string(),
                        source,
                    })
            })
            .transpose()?;
        let env = |name: &str| std::env::var(name).ok();
        Self::from_sources(file.as_ref().map(|(p, t)| (p.as_path(), t.as_str())), &env)
    }

    /// [`PartyConfig::load`] from a file's path and text and an environment lookup.
    fn from_sources(
        file: Option<(&Path, &str)>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file = file
            .map(|(path, text)| {
                let table: toml::Table = text.parse().map_err(|source| ConfigError::Toml {
                    path: path.display().to_string(),
                    source,
                })?;
                if let Some(field) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
                    return Err(ConfigError::UnknownField {
                        path: path.display().to_string(),
                        field: field.clone(),
                    });
                }
                Ok((path.to_path_buf(), table))
            })
            .transpose()?;
        let sources = Sources { file, env };

        let role = sources.parse_required("role", |text| {
            Role::parse(text).ok_or("must be one of manufacturer, distributor, pharmacy, regulator")
        })?;
        let gln = sources.parse_required("gln", Gln::parse)?;
        let key = {
            let raw = sources.required("key_file")?;
            SecretKey::read_file(&raw.path()).map_err(|source| ConfigError::Key {
                origin: raw.origin,
                source,
            })?
        };
        let log_verifier = sources.parse_required("log_verifier_key", NoteVerifier::parse)?;
        Ok(Self {
            role,
            gln,
            key: Arc::new(key),
            listen: sources.parsed("listen", Self::DEFAULT_LISTEN)?,
            database_url: sources
                .raw("database_url")?
                .map_or_else(|| Self::DEFAULT_DATABASE_URL.to_string(), |raw| raw.text),
            pool_size: sources.parsed("pool_size", Self::DEFAULT_POOL_SIZE)?,
            ledger_url: sources
                .raw("ledger_url")?
                .map_or_else(|| Self::DEFAULT_LEDGER_URL.to_string(), |raw| raw.text),
            log_verifier,
            witness_interval: sources
                .millis("witness_interval_ms", Self::DEFAULT_WITNESS_INTERVAL)?,
            retry_max: sources.millis("retry_max_ms", Self::DEFAULT_RETRY_MAX)?,
            tls: PartyTls {
                server: ServerTls {
                    certificate: sources.certificate_files()?,
                    insecure_http: false,
                },
                ledger_ca_cert: sources.raw("ledger_ca_cert")?.map(|raw| raw.path()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use pedigree_schema::note::NoteSigner;

    use super::*;

    /// A key file in a fresh directory, and the log verifier key of another key.
    struct Fixture {
        dir: PathBuf,
        key: SecretKey,
        verifier: String,
    }

    impl Fixture {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "pedigree-party-config-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let key = SecretKey::generate();
            key.write_new_file(&dir.join("party.key")).unwrap();
            let log = NoteSigner::new(
                pedigree_schema::note::KeyName::parse("pedigree.test/log").unwrap(),
                SecretKey::generate().signing_key().clone(),
            );
            Self {
                dir,
                key,
                verifier: log.verifier().to_string(),
            }
        }

        /// A config file with the required fields, `fields` (raw TOML values) added or
        /// replacing them.
        fn file(&self, fields: &[(&str, &str)]) -> String {
            let verifier = format!("\"{}\"", self.verifier);
            let mut table: std::collections::BTreeMap<&str, &str> = [
                ("role", "\"distributor\""),
                ("gln", "\"9506000000039\""),
                ("key_file", "\"party.key\""),
                ("log_verifier_key", verifier.as_str()),
            ]
            .into_iter()
            .collect();
            table.extend(fields.iter().copied());
            table
                .iter()
                .map(|(field, value)| format!("{field} = {value}\n"))
                .collect()
        }

        fn load(
            &self,
            text: Option<&str>,
            env: &[(&str, &str)],
        ) -> Result<PartyConfig, ConfigError> {
            let env: HashMap<String, String> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let path = self.dir.join("party.toml");
            PartyConfig::from_sources(text.map(|t| (path.as_path(), t)), &|name| {
                env.get(name).cloned()
            })
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let fx = Fixture::new("defaults");
        let config = fx.load(Some(&fx.file(&[])), &[]).unwrap();
        assert_eq!(config.role, Role::Distributor);
        assert_eq!(config.gln.as_str(), "9506000000039");
        assert_eq!(config.key.public_key(), fx.key.public_key());
        assert_eq!(config.log_verifier.to_string(), fx.verifier);
        assert_eq!(config.listen, PartyConfig::DEFAULT_LISTEN);
        assert_eq!(config.database_url, PartyConfig::DEFAULT_DATABASE_URL);
        assert_eq!(config.pool_size, 8);
        assert_eq!(config.ledger_url, "http://127.0.0.1:7700");
        assert_eq!(config.witness_interval, Duration::from_secs(2));
        assert_eq!(config.retry_max, Duration::from_secs(30));
    }

    #[test]
    fn file_values_are_read_and_environment_variables_override_them() {
        let fx = Fixture::new("override");
        let text = fx.file(&[
            ("listen", "\"127.0.0.1:9001\""),
            ("pool_size", "3"),
            ("witness_interval_ms", "500"),
            ("retry_max_ms", "4000"),
            ("ledger_url", "\"http://ledger:7700\""),
        ]);
        let config = fx
            .load(
                Some(&text),
                &[
                    ("PEDIGREE_PARTY_POOL_SIZE", "5"),
                    ("PEDIGREE_PARTY_ROLE", "pharmacy"),
                    ("PEDIGREE_PARTY_DATABASE_URL", "postgres://u:secret@db/p"),
                ],
            )
            .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9001".parse().unwrap());
        assert_eq!(config.pool_size, 5, "the environment wins");
        assert_eq!(config.role, Role::Pharmacy, "the environment wins");
        assert_eq!(config.database_url, "postgres://u:secret@db/p");
        assert_eq!(config.ledger_url, "http://ledger:7700");
        assert_eq!(config.witness_interval, Duration::from_millis(500));
        assert_eq!(config.retry_max, Duration::from_secs(4));
    }

    #[test]
    fn without_a_file_everything_required_comes_from_the_environment() {
        let fx = Fixture::new("env");
        let key_file = fx.dir.join("party.key");
        let env = [
            ("PEDIGREE_PARTY_ROLE", "manufacturer"),
            ("PEDIGREE_PARTY_GLN", "9506000000039"),
            ("PEDIGREE_PARTY_KEY_FILE", key_file.to_str().unwrap()),
            ("PEDIGREE_PARTY_LOG_VERIFIER_KEY", fx.verifier.as_str()),
        ];
        let config = fx.load(None, &env).unwrap();
        assert_eq!(config.role, Role::Manufacturer);
        let error = fx.load(None, &env[1..]).unwrap_err();
        assert!(
            matches!(error, ConfigError::Missing { field: "role" }),
            "{error}"
        );
        assert!(error.to_string().contains("PEDIGREE_PARTY_ROLE"), "{error}");
    }

    #[test]
    fn invalid_values_name_the_field_and_where_it_came_from() {
        let fx = Fixture::new("invalid");
        let in_file = [
            ("gln", "\"x\""),
            ("witness_interval_ms", "0"),
            ("pool_size", "true"),
        ];
        for (field, value) in in_file {
            match fx.load(Some(&fx.file(&[(field, value)])), &[]) {
                Err(ConfigError::Invalid {
                    field: named,
                    origin: Origin::File(_),
                    ..
                }) => {
                    assert_eq!(named, field)
                }
                other => panic!("{field}: expected Invalid from the file, got {other:?}"),
            }
        }
        let in_env = [
            ("role", "PEDIGREE_PARTY_ROLE", "wholesaler"),
            ("listen", "PEDIGREE_PARTY_LISTEN", "localhost"),
            (
                "log_verifier_key",
                "PEDIGREE_PARTY_LOG_VERIFIER_KEY",
                "nope",
            ),
            ("retry_max_ms", "PEDIGREE_PARTY_RETRY_MAX_MS", "-1"),
        ];
        for (field, variable, value) in in_env {
            match fx.load(Some(&fx.file(&[])), &[(variable, value)]) {
                Err(ConfigError::Invalid {
                    field: named,
                    origin: Origin::Env(name),
                    ..
                }) => {
                    assert_eq!((named, name.as_str()), (field, variable))
                }
                other => panic!("{field}: expected Invalid from {variable}, got {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_fields_and_bad_toml_and_bad_key_files_are_refused() {
        let fx = Fixture::new("refused");
        let error = fx
            .load(Some(&fx.file(&[("lisen", "\"x\"")])), &[])
            .unwrap_err();
        assert!(
            matches!(&error, ConfigError::UnknownField { field, .. } if field == "lisen"),
            "{error}"
        );
        let error = fx.load(Some("role = "), &[]).unwrap_err();
        assert!(matches!(error, ConfigError::Toml { .. }), "{error}");
        let error = fx
            .load(
                Some(&fx.file(&[])),
                &[("PEDIGREE_PARTY_KEY_FILE", "/nonexistent/key")],
            )
            .unwrap_err();
        assert!(matches!(error, ConfigError::Key { .. }), "{error}");
    }

    #[test]
    fn errors_do_not_repeat_a_database_url() {
        let fx = Fixture::new("secret");
        let error = fx
            .load(
                Some(&fx.file(&[])),
                &[
                    ("PEDIGREE_PARTY_DATABASE_URL", "postgres://u:hunter2@db/p"),
                    ("PEDIGREE_PARTY_POOL_SIZE", "many"),
                ],
            )
            .unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn tls_files_are_relative_to_the_config_file_and_come_in_pairs() {
        let fx = Fixture::new("tls");
        let config = fx.load(Some(&fx.file(&[])), &[]).unwrap();
        assert_eq!(config.tls, PartyTls::default(), "no TLS unless configured");

        let text = fx.file(&[
            ("tls_cert", "\"tls/cert.pem\""),
            ("tls_key", "\"tls/key.pem\""),
            ("ledger_ca_cert", "\"/etc/pedigree/ledger-ca.pem\""),
        ]);
        let config = fx.load(Some(&text), &[]).unwrap();
        let files = config.tls.server.certificate.expect("configured");
        assert_eq!(files.cert_chain, fx.dir.join("tls/cert.pem"));
        assert_eq!(files.private_key, fx.dir.join("tls/key.pem"));
        assert_eq!(
            config.tls.ledger_ca_cert.as_deref(),
            Some(Path::new("/etc/pedigree/ledger-ca.pem"))
        );
        assert!(!config.tls.server.insecure_http);

        let error = fx
            .load(
                Some(&fx.file(&[])),
                &[("PEDIGREE_PARTY_TLS_CERT", "/etc/pedigree/cert.pem")],
            )
            .unwrap_err();
        assert!(
            matches!(
                &error,
                ConfigError::Unpaired {
                    field: "tls_cert",
                    origin: Origin::Env(_),
                    missing: "tls_key"
                }
            ),
            "{error}"
        );
    }
}
