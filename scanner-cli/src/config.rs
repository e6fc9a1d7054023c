//! The scanner's configuration: a TOML file and environment variables
//! (which win over the file), resolved once into [`Config`] and passed
//! explicitly. Nothing is trusted on first use: the log's key and the
//! witnesses' keys are whatever the configuration names.
//!
//! | file key | environment variable | meaning |
//! |---|---|---|
//! | — | `PEDIGREE_SCAN_CONFIG` | the configuration file (also `--config`) |
//! | `ledger_url` | `PEDIGREE_SCAN_LEDGER_URL` | the ledger, e.g. `http://127.0.0.1:7700` |
//! | `pharmacy_url` | `PEDIGREE_SCAN_PHARMACY_URL` | the pharmacy service |
//! | `pharmacy_token` | `PEDIGREE_SCAN_PHARMACY_TOKEN` | its operator token |
//! | `log_key` | `PEDIGREE_SCAN_LOG_KEY` | the log's C2SP verifier key |
//! | `witness_keys` | `PEDIGREE_SCAN_WITNESS_KEYS` | witness verifier keys (comma-separated in the variable) |
//! | `witness_quorum` | `PEDIGREE_SCAN_WITNESS_QUORUM` | cosignatures by those witnesses required, default 0 |
//! | `party_key_file` | `PEDIGREE_SCAN_PARTY_KEY_FILE` | the party's key file, to sign provenance requests |
//! | `party_gln` | `PEDIGREE_SCAN_GLN` | the party's GLN: packs held by another party are suspect |
//! | `state_dir` | `PEDIGREE_SCAN_STATE_DIR` | cached checkpoint and evidence bundles (also `--state-dir`) |
//! | `timeout_secs` | `PEDIGREE_SCAN_TIMEOUT_SECS` | per request, default 10 |
//! | `ca_cert` | `PEDIGREE_SCAN_CA_CERT` | CA certificate(s), PEM, trusted beyond the public roots (also `--ca-cert`) |

use std::path::{Path, PathBuf};
use std::time::Duration;

use pedigree_schema::checkpoint::CosignatureVerifier;
use pedigree_schema::gs1::Gln;
use pedigree_schema::note::NoteVerifier;
use serde::Deserialize;

pub const CONFIG_ENV: &str = "PEDIGREE_SCAN_CONFIG";
const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// The configuration file's keys; every one optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    ledger_url: Option<String>,
    pharmacy_url: Option<String>,
    pharmacy_token: Option<String>,
    log_key: Option<String>,
    witness_keys: Option<Vec<String>>,
    witness_quorum: Option<usize>,
    party_key_file: Option<PathBuf>,
    party_gln: Option<String>,
    state_dir: Option<PathBuf>,
    timeout_secs: Option<u64>,
    ca_cert: Option<PathBuf>,
}

/// A setting that could not be used; the message names where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {reason}")]
    Syntax { path: PathBuf, reason: String },
    #[error("{origin}: {reason}")]
    Invalid { origin: String, reason: String },
}

/// The pharmacy service and the token its operator routes need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pharmacy {
    pub url: String,
    pub token: String,
}

/// The resolved configuration.
#[derive(Debug)]
pub struct Config {
    /// Base URL without a trailing slash.
    pub ledger_url: Option<String>,
    pub pharmacy: Option<Pharmacy>,
    pub log_key: Option<NoteVerifier>,
    pub witnesses: Vec<CosignatureVerifier>,
    pub witness_quorum: usize,
    pub party_key_file: Option<PathBuf>,
    pub party_gln: Option<Gln>,
    pub state_dir: PathBuf,
    pub timeout: Duration,
    /// CA certificates trusted for `https` beside the public roots (a private PKI).
    pub extra_roots: Vec<reqwest::Certificate>,
}

/// What the command line says about the configuration.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
}

/// Reads the configuration file (the one named, or the default one if it
/// exists) and the environment, through `env` so that tests need not touch
/// the process environment.
pub fn load(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let named = overrides
        .config
        .clone()
        .or_else(|| env(CONFIG_ENV).map(PathBuf::from));
    let file = match named {
        Some(path) => Some(read_file(&path)?),
        None => match default_config_path(env).filter(|p| p.is_file()) {
            Some(path) => Some(read_file(&path)?),
            None => None,
        },
    };
    resolve(file, overrides, env)
}

fn read_file(path: &Path) -> Result<(PathBuf, String), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((path.to_path_buf(), text))
}

/// `$XDG_CONFIG_HOME/pedigree/scan.toml`, else `~/.config/pedigree/scan.toml`.
fn default_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".config")))
        .map(|dir| dir.join("pedigree").join("scan.toml"))
}

/// `$XDG_STATE_HOME/pedigree-scan`, else `~/.local/state/pedigree-scan`,
/// else `.pedigree-scan` in the working directory.
fn default_state_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    env("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".local").join("state")))
        .map_or_else(
            || PathBuf::from(".pedigree-scan"),
            |d| d.join("pedigree-scan"),
        )
}

/// One setting's raw value and where it came from.
struct Raw {
    origin: String,
    value: String,
}

impl Raw {
    fn invalid(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.clone(),
            reason: reason.into(),
        }
    }
}

/// Resolves the settings: environment first, then the file, then defaults.
/// Relative paths in the file are relative to the file's directory.
fn resolve(
    file: Option<(PathBuf, String)>,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let (path, parsed) = match file {
        Some((path, text)) => {
            let parsed: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            (Some(path), parsed)
        }
        None => (None, FileConfig::default()),
    };
    let base = path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let from_file = |key: &str, value: Option<String>| {
        value.map(|value| Raw {
            origin: format!(
                "{key} in {}",
                path.as_deref().unwrap_or(Path::new("?")).display()
            ),
            value,
        })
    };
    let pick = |variable: &str, key: &str, file_value: Option<String>| -> Option<Raw> {
        env(variable)
            .filter(|v| !v.trim().is_empty())
            .map(|value| Raw {
                origin: variable.to_string(),
                value,
            })
            .or_else(|| from_file(key, file_value))
    };
    let file_path = |p: Option<PathBuf>| p.map(|p| base.join(p).display().to_string());

    let ledger_url = pick("PEDIGREE_SCAN_LEDGER_URL", "ledger_url", parsed.ledger_url)
        .map(|raw| base_url(&raw))
        .transpose()?;
    let pharmacy_url = pick(
        "PEDIGREE_SCAN_PHARMACY_URL",
        "pharmacy_url",
        parsed.pharmacy_url,
    )
    .map(|raw| base_url(&raw))
    .transpose()?;
    let pharmacy_token = pick(
        "PEDIGREE_SCAN_PHARMACY_TOKEN",
        "pharmacy_token",
        parsed.pharmacy_token,
    );
    let pharmacy = match (pharmacy_url, pharmacy_token) {
        (Some(url), Some(token)) => Some(Pharmacy {
            url,
            token: token.value.trim().to_string(),
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::Invalid {
                origin: "pharmacy_token (PEDIGREE_SCAN_PHARMACY_TOKEN)".into(),
                reason: "a pharmacy service is configured but no operator token for it".into(),
            })
        }
        (None, Some(token)) => {
            return Err(token.invalid("an operator token is configured but no pharmacy_url"))
        }
    };
    let log_key = pick("PEDIGREE_SCAN_LOG_KEY", "log_key", parsed.log_key)
        .map(|raw| {
            NoteVerifier::parse(raw.value.trim())
                .map_err(|e| raw.invalid(format!("not a C2SP Ed25519 verifier key: {e}")))
        })
        .transpose()?;
    let witness_raw: Vec<Raw> = match env("PEDIGREE_SCAN_WITNESS_KEYS").filter(|v| !v.is_empty()) {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| Raw {
                origin: "PEDIGREE_SCAN_WITNESS_KEYS".into(),
                value: k.to_string(),
            })
            .collect(),
        None => parsed
            .witness_keys
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| from_file("witness_keys", Some(k)))
            .collect(),
    };
    let witnesses = witness_raw
        .iter()
        .map(|raw| {
            CosignatureVerifier::parse(raw.value.trim()).map_err(|e| {
                raw.invalid(format!(
                    "{:?} is not a C2SP cosignature verifier key: {e}",
                    raw.value
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let witness_quorum = match pick(
        "PEDIGREE_SCAN_WITNESS_QUORUM",
        "witness_quorum",
        parsed.witness_quorum.map(|q| q.to_string()),
    ) {
        Some(raw) => {
            let quorum: usize = raw
                .value
                .trim()
                .parse()
                .map_err(|_| raw.invalid("not a whole number"))?;
            if quorum > witnesses.len() {
                return Err(raw.invalid(format!(
                    "a quorum of {quorum} cannot be met by the {} witness keys configured",
                    witnesses.len()
                )));
            }
            quorum
        }
        None => 0,
    };
    let party_key_file = pick(
        "PEDIGREE_SCAN_PARTY_KEY_FILE",
        "party_key_file",
        file_path(parsed.party_key_file),
    )
    .map(|raw| PathBuf::from(raw.value));
    let party_gln = pick("PEDIGREE_SCAN_GLN", "party_gln", parsed.party_gln)
        .map(|raw| Gln::parse(raw.value.trim()).map_err(|e| raw.invalid(e.to_string())))
        .transpose()?;
    let state_dir = overrides
        .state_dir
        .clone()
        .or_else(|| {
            pick(
                "PEDIGREE_SCAN_STATE_DIR",
                "state_dir",
                file_path(parsed.state_dir),
            )
            .map(|raw| PathBuf::from(raw.value))
        })
        .unwrap_or_else(|| default_state_dir(env));
    let timeout = match pick(
        "PEDIGREE_SCAN_TIMEOUT_SECS",
        "timeout_secs",
        parsed.timeout_secs.map(|t| t.to_string()),
    ) {
        Some(raw) => match raw.value.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Duration::from_secs(secs),
            _ => return Err(raw.invalid("not a positive whole number of seconds")),
        },
        None => Duration::from_secs(DEFAULT_TIMEOUT_SECS),
    };
    let ca_cert = match &overrides.ca_cert {
        Some(path) => Some(Raw {
            origin: "--ca-cert".into(),
            value: path.display().to_string(),
        }),
        None => pick(
            "PEDIGREE_SCAN_CA_CERT",
            "ca_cert",
            file_path(parsed.ca_cert),
        ),
    };
    let extra_roots = ca_cert.map_or(Ok(Vec::new()), |raw| ca_certificates(&raw))?;
    Ok(Config {
        ledger_url,
        pharmacy,
        log_key,
        witnesses,
        witness_quorum,
        party_key_file,
        party_gln,
        state_dir,
        timeout,
        extra_roots,
    })
}

/// The CA certificates in a PEM file, read now so that an unusable file is a configuration
/// error rather than a failed connection.
fn ca_certificates(raw: &Raw) -> Result<Vec<reqwest::Certificate>, ConfigError> {
    let pem = std::fs::read(&raw.value)
        .map_err(|e| raw.invalid(format!("cannot read {}: {e}", raw.value)))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| raw.invalid(format!("{} is not PEM: {e}", raw.value)))?;
    if certificates.is_empty() {
        return Err(raw.invalid(format!("{} holds no CERTIFICATE block", raw.value)));
    }
    Ok(certificates)
}

/// A service's base URL: `https://host[:port][/prefix]` (or `http://`),
/// without the trailing slash.
fn base_url(raw: &Raw) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(raw.value.trim())
        .map_err(|e| raw.invalid(format!("{:?} is not a URL: {e}", raw.value)))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(raw.invalid(format!("scheme {other:?} is not http or https"))),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(raw.invalid("a base URL has no query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn file(text: &str) -> Option<(PathBuf, String)> {
        Some((PathBuf::from("/etc/pedigree/scan.toml"), text.to_string()))
    }

    #[test]
    fn the_environment_wins_over_the_file_and_paths_are_relative_to_the_file() {
        let env = env_of(&[("PEDIGREE_SCAN_LEDGER_URL", "http://ledger.local:7700/")]);
        let config = resolve(
            file("ledger_url = \"http://other:1\"\nparty_key_file = \"keys/party.key\"\n"),
            &Overrides::default(),
            &env,
        )
        .expect("resolves");
        assert_eq!(
            config.ledger_url.as_deref(),
            Some("http://ledger.local:7700")
        );
        assert_eq!(
            config.party_key_file,
            Some(PathBuf::from("/etc/pedigree/keys/party.key"))
        );
        assert_eq!(config.timeout, Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_naming_their_origin() {
        let unknown = resolve(
            file("ledger = \"x\"\n"),
            &Overrides::default(),
            &env_of(&[]),
        );
        assert!(
            matches!(unknown, Err(ConfigError::Syntax { .. })),
            "{unknown:?}"
        );
        let bad = resolve(
            None,
            &Overrides::default(),
            &env_of(&[("PEDIGREE_SCAN_LOG_KEY", "not a key")]),
        )
        .expect_err("bad key");
        assert!(
            bad.to_string().starts_with("PEDIGREE_SCAN_LOG_KEY:"),
            "{bad}"
        );
        let quorum = resolve(
            file("witness_quorum = 1\n"),
            &Overrides::default(),
            &env_of(&[]),
        )
        .expect_err("unmeetable quorum");
        assert!(quorum.to_string().contains("witness_quorum in"), "{quorum}");
    }

    #[test]
    fn a_pharmacy_needs_both_url_and_token() {
        let half = resolve(
            file("pharmacy_url = \"http://pharmacy:7800\"\n"),
            &Overrides::default(),
            &env_of(&[]),
        );
        assert!(half.is_err());
    }

    #[test]
    fn https_urls_are_taken_and_the_ca_certificate_is_read_at_load() {
        let config = resolve(
            file("ledger_url = \"https://ledger.example\"\n"),
            &Overrides::default(),
            &env_of(&[]),
        )
        .expect("https");
        assert_eq!(config.ledger_url.as_deref(), Some("https://ledger.example"));
        assert!(config.extra_roots.is_empty());

        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let files = pedigree_tls::CertificateFiles {
            cert_chain: ca.clone(),
            private_key: dir.path().join("key.pem"),
        };
        pedigree_tls::SelfSigned::generate(&["ledger.example".into()])
            .unwrap()
            .write_new_files(&files)
            .unwrap();
        let overrides = Overrides {
            ca_cert: Some(ca),
            ..Overrides::default()
        };
        let config = resolve(None, &overrides, &env_of(&[])).expect("a CA certificate");
        assert_eq!(config.extra_roots.len(), 1);

        let not_pem = resolve(
            None,
            &Overrides::default(),
            &env_of(&[("PEDIGREE_SCAN_CA_CERT", files.private_key.to_str().unwrap())]),
        )
        .expect_err("a key is no CA certificate");
        assert!(
            not_pem.to_string().starts_with("PEDIGREE_SCAN_CA_CERT:"),
            "{not_pem}"
        );
        let missing = resolve(
            file("ca_cert = \"missing.pem\"\n"),
            &Overrides::default(),
            &env_of(&[]),
        )
        .expect_err("no such file");
        assert!(
            missing.to_string().contains("/etc/pedigree/missing.pem"),
            "relative to the file: {missing}"
        );
    }

    #[test]
    fn the_state_dir_defaults_under_xdg_state_home() {
        let config = resolve(
            None,
            &Overrides::default(),
            &env_of(&[("XDG_STATE_HOME", "/var/state")]),
        )
        .expect("resolves");
        assert_eq!(config.state_dir, PathBuf::from("/var/state/pedigree-scan"));
        assert!(config.log_key.is_none());
    }
}
