//! The ledger's configuration, read once from documented environment
//! variables (see README) and passed explicitly: no global state.

use std::net::SocketAddr;
use std::path::PathBuf;

use pedigree_schema::keys::{PublicKey, SecretKey};
use pedigree_tls::{CertificateFiles, ServerTls};

/// Where the ledger's certificate is configured, for the message that asks for one.
pub const TLS_HOW_TO_CONFIGURE: &str = "set PEDIGREE_LEDGER_TLS_CERT to the certificate chain \
     and PEDIGREE_LEDGER_TLS_KEY to its private key (PEM files, the key mode 0600)";

/// Everything the ledger needs to run.
pub struct Settings {
    /// `PEDIGREE_LEDGER_LISTEN`, default `127.0.0.1:7700`. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// `PEDIGREE_LEDGER_DATABASE_URL`: `postgres://…` for PostgreSQL, anything
    /// else is a SQLite file path. Default `pedigree-data/ledger.sqlite`.
    pub database_url: String,
    /// `PEDIGREE_LEDGER_POOL_SIZE`: read connections, default 8.
    pub pool_size: u32,
    /// `PEDIGREE_LOG_ORIGIN`: the checkpoint origin line (the log's name),
    /// default `pedigree.example/log`.
    pub origin: String,
    /// The log's signing key (`PEDIGREE_LOG_KEY_FILE`, a key file made by
    /// `pedigree keygen`).
    pub log_key: SecretKey,
    /// `PEDIGREE_GOVERNANCE_KEY`: base64 public key of the governance
    /// (regulator) party, named at genesis.
    pub governance_key: PublicKey,
    /// `PEDIGREE_LEDGER_MAX_BODY_BYTES`: largest request body, default 64 MiB
    /// (a commissioning of a million serials is about 25 MB).
    pub max_body_bytes: usize,
    /// `PEDIGREE_LEDGER_MAX_GROUP_EVENTS`: most events in one commit, default 20 000.
    pub max_group_events: usize,
    /// `PEDIGREE_LEDGER_REQUEST_WINDOW_SECS`: how far a signed request's time
    /// may be from the ledger's clock, default 300.
    pub request_window_secs: i64,
    /// `PEDIGREE_LEDGER_MAX_EVENT_AGE_HOURS`: how far behind the ledger's
    /// clock an event may be dated, default 72 (late receipts pass; backdating
    /// around expiry, recalls or revocations does not).
    pub max_event_age: chrono::Duration,
    /// TLS: `PEDIGREE_LEDGER_TLS_CERT` (certificate chain, PEM) and
    /// `PEDIGREE_LEDGER_TLS_KEY` (its private key, PEM, mode 0600), both or
    /// neither. Without them the ledger serves plain HTTP only on a loopback
    /// address, or anywhere with `PEDIGREE_INSECURE_HTTP=1`.
    pub tls: ServerTls,
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct SettingsError {
    pub variable: &'static str,
    pub reason: String,
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, SettingsError>
where
    T::Err: std::fmt::Display,
{
    var(name).map_or(Ok(default), |v| {
        v.parse().map_err(|e: T::Err| SettingsError {
            variable: name,
            reason: e.to_string(),
        })
    })
}

/// `PEDIGREE_LEDGER_TLS_CERT` and `PEDIGREE_LEDGER_TLS_KEY` (both or neither), and the
/// `PEDIGREE_INSECURE_HTTP` opt-out.
fn tls_from_env() -> Result<ServerTls, SettingsError> {
    let certificate = match (
        var("PEDIGREE_LEDGER_TLS_CERT"),
        var("PEDIGREE_LEDGER_TLS_KEY"),
    ) {
        (Some(cert_chain), Some(private_key)) => Some(CertificateFiles {
            cert_chain: cert_chain.into(),
            private_key: private_key.into(),
        }),
        (None, None) => None,
        (Some(_), None) => return Err(tls_pair_error("PEDIGREE_LEDGER_TLS_KEY")),
        (None, Some(_)) => return Err(tls_pair_error("PEDIGREE_LEDGER_TLS_CERT")),
    };
    Ok(ServerTls {
        certificate,
        insecure_http: parsed_flag("PEDIGREE_INSECURE_HTTP")?,
    })
}

fn tls_pair_error(missing: &'static str) -> SettingsError {
    SettingsError {
        variable: missing,
        reason: "the TLS certificate chain and private key are set together".into(),
    }
}

/// A yes/no variable: `1`/`true`/`yes` or `0`/`false`/`no`; unset is no.
fn parsed_flag(name: &'static str) -> Result<bool, SettingsError> {
    match var(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(_) => Err(SettingsError {
            variable: name,
            reason: "must be 1, true, yes, 0, false or no".into(),
        }),
    }
}

impl Settings {
    /// Defaults for everything but the keys.
    pub fn new(log_key: SecretKey, governance_key: PublicKey) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7700)),
            database_url: "pedigree-data/ledger.sqlite".into(),
            pool_size: 8,
            origin: "pedigree.example/log".into(),
            log_key,
            governance_key,
            max_body_bytes: 64 << 20,
            max_group_events: 20_000,
            request_window_secs: 300,
            max_event_age: chrono::Duration::hours(72),
            tls: ServerTls::default(),
        }
    }

    /// Reads the settings from the environment (see the field docs).
    pub fn from_env() -> Result<Self, SettingsError> {
        let key_file = var("PEDIGREE_LOG_KEY_FILE").ok_or(SettingsError {
            variable: "PEDIGREE_LOG_KEY_FILE",
            reason: "must name the log's key file (make one with `pedigree keygen`)".into(),
        })?;
        let log_key =
            SecretKey::read_file(&PathBuf::from(key_file)).map_err(|e| SettingsError {
                variable: "PEDIGREE_LOG_KEY_FILE",
                reason: e.to_string(),
            })?;
        let governance_key = var("PEDIGREE_GOVERNANCE_KEY")
            .ok_or_else(|| "must be the base64 public key of the governance party".to_string())
            .and_then(|k| PublicKey::parse(&k).map_err(|e| e.to_string()))
            .map_err(|reason| SettingsError {
                variable: "PEDIGREE_GOVERNANCE_KEY",
                reason,
            })?;
        let defaults = Self::new(log_key, governance_key);
        Ok(Self {
            listen: parsed("PEDIGREE_LEDGER_LISTEN", defaults.listen)?,
            database_url: var("PEDIGREE_LEDGER_DATABASE_URL").unwrap_or(defaults.database_url),
            pool_size: parsed("PEDIGREE_LEDGER_POOL_SIZE", defaults.pool_size)?,
            origin: var("PEDIGREE_LOG_ORIGIN").unwrap_or(defaults.origin),
            max_body_bytes: parsed("PEDIGREE_LEDGER_MAX_BODY_BYTES", defaults.max_body_bytes)?,
            max_group_events: parsed(
                "PEDIGREE_LEDGER_MAX_GROUP_EVENTS",
                defaults.max_group_events,
            )?,
            request_window_secs: parsed(
                "PEDIGREE_LEDGER_REQUEST_WINDOW_SECS",
                defaults.request_window_secs,
            )?,
            max_event_age: chrono::Duration::hours(parsed(
                "PEDIGREE_LEDGER_MAX_EVENT_AGE_HOURS",
                defaults.max_event_age.num_hours(),
            )?),
            tls: tls_from_env()?,
            ..defaults
        })
    }
}
