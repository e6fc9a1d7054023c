//! Arguments turned into a validated plan: configuration loaded and
//! checked, keys read, identifiers parsed — so that running a plan fails
//! only for reasons outside the scanner (input, network, services).

use std::path::PathBuf;

use pedigree_schema::gs1::Gln;
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::NoteVerifier;

use crate::cli::{Cli, Command, DestroyReason, Format, Input, Inputs};
use crate::config::{self, Config, ConfigError, Overrides, Pharmacy};

/// Why a command cannot run as given (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("no trusted log key is configured: set log_key in the configuration file or PEDIGREE_SCAN_LOG_KEY to the ledger's C2SP verifier key (`pedigree keygen --name ORIGIN` prints it); it is never taken from the network")]
    NoLogKey,
    #[error("no ledger is configured: set ledger_url in the configuration file or PEDIGREE_SCAN_LEDGER_URL")]
    NoLedger,
    #[error("no pharmacy service is configured: set pharmacy_url and pharmacy_token (or PEDIGREE_SCAN_PHARMACY_URL and PEDIGREE_SCAN_PHARMACY_TOKEN)")]
    NoPharmacy,
    #[error("party key file {path}: {reason}")]
    PartyKey { path: PathBuf, reason: String },
    #[error("--shipment-id {0:?}: must be 1-64 characters of A-Z a-z 0-9 - _ . :")]
    ShipmentId(String),
    #[error("--to {value:?}: {reason}")]
    Gln { value: String, reason: String },
}

/// Where codes come from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    pub payloads: Vec<String>,
    pub images: Vec<PathBuf>,
}

impl From<Inputs> for Sources {
    fn from(inputs: Inputs) -> Self {
        Self {
            payloads: inputs.payloads,
            images: inputs.images,
        }
    }
}

impl From<Input> for Sources {
    fn from(input: Input) -> Self {
        Self {
            payloads: input.payload.into_iter().collect(),
            images: input.image.into_iter().collect(),
        }
    }
}

/// What verification needs: the configuration, the trusted log key, and
/// the party's key when one is configured (online only).
#[derive(Debug)]
pub struct Setup {
    pub config: Config,
    pub log_key: NoteVerifier,
    pub ledger_url: Option<String>,
    pub party_key: Option<SecretKey>,
}

impl Setup {
    fn new(config: Config, online: bool) -> Result<Self, PlanError> {
        let log_key = config.log_key.clone().ok_or(PlanError::NoLogKey)?;
        let ledger_url = match (&config.ledger_url, online) {
            (Some(url), _) => Some(url.clone()),
            (None, true) => return Err(PlanError::NoLedger),
            (None, false) => None,
        };
        let party_key = match (&config.party_key_file, online) {
            (Some(path), true) => {
                Some(SecretKey::read_file(path).map_err(|e| PlanError::PartyKey {
                    path: path.clone(),
                    reason: e.to_string(),
                })?)
            }
            _ => None,
        };
        Ok(Self {
            config,
            log_key,
            ledger_url,
            party_key,
        })
    }

    /// The pharmacy service, required by the commands that act.
    pub fn pharmacy(&self) -> Result<Pharmacy, PlanError> {
        self.config.pharmacy.clone().ok_or(PlanError::NoPharmacy)
    }
}

/// A command, validated.
#[derive(Debug)]
pub enum Plan {
    Parse {
        sources: Sources,
        json: bool,
    },
    Verify {
        sources: Sources,
        json: bool,
        offline: bool,
        setup: Setup,
    },
    Fetch {
        sources: Sources,
        json: bool,
        setup: Setup,
    },
    Batch {
        path: PathBuf,
        format: Format,
        output: Option<PathBuf>,
        offline: bool,
        setup: Setup,
    },
    Dispense {
        sources: Sources,
        json: bool,
        setup: Setup,
        pharmacy: Pharmacy,
    },
    UndoDispense {
        sources: Sources,
        json: bool,
        pharmacy: Pharmacy,
        timeout: std::time::Duration,
        extra_roots: Vec<reqwest::Certificate>,
    },
    Destroy {
        sources: Sources,
        reason: DestroyReason,
        json: bool,
        setup: Setup,
        pharmacy: Pharmacy,
    },
    Return {
        sources: Sources,
        shipment_id: String,
        to: Gln,
        json: bool,
        setup: Setup,
        pharmacy: Pharmacy,
    },
}

impl Plan {
    /// Validates `cli`, reading the configuration through `env`.
    pub fn from_cli(cli: Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, PlanError> {
        let overrides = Overrides {
            config: cli.config,
            state_dir: cli.state_dir,
            ca_cert: cli.ca_cert,
        };
        let load = || config::load(&overrides, env);
        Ok(match cli.command {
            Command::Parse { inputs, json } => Plan::Parse {
                sources: inputs.into(),
                json,
            },
            Command::Verify {
                inputs,
                json,
                offline,
            } => Plan::Verify {
                sources: inputs.into(),
                json,
                offline,
                setup: Setup::new(load()?, !offline)?,
            },
            Command::Fetch { inputs, json } => Plan::Fetch {
                sources: inputs.into(),
                json,
                setup: Setup::new(load()?, true)?,
            },
            Command::Batch {
                path,
                format,
                output,
                offline,
            } => Plan::Batch {
                path,
                format,
                output,
                offline,
                setup: Setup::new(load()?, !offline)?,
            },
            Command::Dispense { input, undo, json } => {
                let config = load()?;
                if undo {
                    Plan::UndoDispense {
                        sources: input.into(),
                        json,
                        pharmacy: config.pharmacy.clone().ok_or(PlanError::NoPharmacy)?,
                        timeout: config.timeout,
                        extra_roots: config.extra_roots,
                    }
                } else {
                    let setup = Setup::new(config, true)?;
                    Plan::Dispense {
                        sources: input.into(),
                        json,
                        pharmacy: setup.pharmacy()?,
                        setup,
                    }
                }
            }
            Command::Destroy {
                input,
                reason,
                json,
            } => {
                let setup = Setup::new(load()?, true)?;
                Plan::Destroy {
                    sources: input.into(),
                    reason,
                    json,
                    pharmacy: setup.pharmacy()?,
                    setup,
                }
            }
            Command::Return {
                inputs,
                shipment_id,
                to,
                json,
            } => {
                if !shipment_id_is_valid(&shipment_id) {
                    return Err(PlanError::ShipmentId(shipment_id));
                }
                let to = Gln::parse(&to).map_err(|e| PlanError::Gln {
                    value: to.clone(),
                    reason: e.to_string(),
                })?;
                let setup = Setup::new(load()?, true)?;
                Plan::Return {
                    sources: inputs.into(),
                    shipment_id,
                    to,
                    json,
                    pharmacy: setup.pharmacy()?,
                    setup,
                }
            }
        })
    }
}

/// Shipment ids as the schema defines them (§2): 1–64 of `A–Z a–z 0–9 - _ . :`.
fn shipment_id_is_valid(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(args: &[&str], env: &[(&str, &str)]) -> Result<Plan, PlanError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let cli = Cli::try_parse_from(std::iter::once("pedigree-scan").chain(args.iter().copied()))
            .expect("parses");
        Plan::from_cli(cli, &lookup)
    }

    #[test]
    fn verify_needs_a_configured_log_key_and_never_fetches_one() {
        let error = plan(&["verify", "X"], &[("HOME", "/nonexistent")]).expect_err("no key");
        assert!(matches!(error, PlanError::NoLogKey), "{error}");
    }

    #[test]
    fn parse_needs_no_configuration_at_all() {
        let parsed = plan(&["parse", "X"], &[("PEDIGREE_SCAN_LOG_KEY", "garbage")]);
        assert!(matches!(parsed, Ok(Plan::Parse { .. })));
    }

    #[test]
    fn return_checks_its_shipment_id_and_gln_before_anything_else() {
        let bad_id = plan(
            &[
                "return",
                "--shipment-id",
                "no spaces",
                "--to",
                "9506000000031",
                "X",
            ],
            &[],
        );
        assert!(matches!(bad_id, Err(PlanError::ShipmentId(_))));
        let bad_gln = plan(
            &[
                "return",
                "--shipment-id",
                "R1",
                "--to",
                "9506000000032",
                "X",
            ],
            &[],
        );
        assert!(matches!(bad_gln, Err(PlanError::Gln { .. })));
        assert!(shipment_id_is_valid("RET-0042:a.b_c"));
        assert!(!shipment_id_is_valid(&"x".repeat(65)));
    }
}
