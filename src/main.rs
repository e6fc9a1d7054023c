//! `pedigree`: the umbrella command. Thin glue over the libraries: parse the
//! arguments, build the settings, call the library, choose the exit code.

mod demo;
mod load;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::builder::BoolishValueParser;
use clap::{Parser, Subcommand};
use pedigree_ledger::dashboard::auth::create_login;
use pedigree_ledger::{audit, Application, Settings};
use pedigree_party::{create_operator_token, Party, PartyApp, PartyConfig};
use pedigree_schema::event::Role;
use pedigree_schema::keys::{PublicKey, SecretKey};
use pedigree_schema::note::{KeyName, NoteSigner, NoteVerifier};
use pedigree_tls::{CertificateFiles, SelfSigned};

#[derive(Parser)]
#[command(
    name = "pedigree",
    version,
    about = "Provable custody of medicine packs"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole network on this machine with demo data (the default).
    Up(demo::UpArgs),
    /// Run the ledger (configured by PEDIGREE_* environment variables; see README).
    Ledger {
        /// Serve plain HTTP on a non-loopback address (TLS is on by default).
        #[arg(long, env = "PEDIGREE_INSECURE_HTTP", value_parser = BoolishValueParser::new())]
        insecure_http: bool,
        /// Create (or replace) the web dashboard login NAME for the regulator
        /// --party, print its token once, and exit.
        #[arg(long, value_name = "NAME", requires = "party")]
        create_dashboard_login: Option<String>,
        /// The regulator's GLN, with --create-dashboard-login.
        #[arg(long, value_name = "GLN", requires = "create_dashboard_login")]
        party: Option<String>,
    },
    /// Run a manufacturer's service (config file and PEDIGREE_PARTY_* variables).
    Manufacturer(PartyArgs),
    /// Run a distributor's (wholesaler's) service.
    Distributor(PartyArgs),
    /// Run a pharmacy's service.
    Pharmacy(PartyArgs),
    /// Make a new Ed25519 key file (mode 0600) and print its public key.
    Keygen {
        /// Where to write the secret key; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Also print the C2SP note verifier key under this name (for a log key,
        /// the log's origin).
        #[arg(long)]
        name: Option<String>,
    },
    /// Make a self-signed TLS certificate and its private key (mode 0600) for
    /// development; clients trust it as their extra CA certificate.
    TlsCert {
        /// Host names or IP addresses the certificate is valid for (repeatable).
        #[arg(long = "host", value_name = "HOST", required = true)]
        hosts: Vec<String>,
        /// Where to write the certificate (PEM); never overwritten.
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// Where to write the private key (PEM, mode 0600); never overwritten.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Apply the database migrations and exit.
    Migrate {
        #[arg(long, env = "PEDIGREE_LEDGER_DATABASE_URL")]
        database_url: String,
    },
    /// Replay the log from genesis and check everything stored against it.
    Audit {
        #[arg(long, env = "PEDIGREE_LEDGER_DATABASE_URL")]
        database_url: String,
        /// The log's C2SP verifier key (`origin+keyid+base64`), as served at /v1/log.
        #[arg(long, env = "PEDIGREE_LOG_VERIFIER_KEY")]
        log_key: String,
        /// The governance party's base64 public key.
        #[arg(long, env = "PEDIGREE_GOVERNANCE_KEY")]
        governance_key: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Simulate a supply chain from a seed: signed events and labelled verifications.
    Simulate {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 200)]
        batches: usize,
        #[arg(long, default_value_t = 60)]
        packs_per_batch: usize,
        /// Write the signed events as JSON lines (ledger submissions, in time order).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Submit the events to this running ledger (empty, started with the
        /// simulation's governance key) at --rate for --seconds: a load generator.
        #[arg(long, value_name = "URL")]
        ledger: Option<String>,
        /// Events per second offered to --ledger.
        #[arg(long, default_value_t = 5_000.0)]
        rate: f64,
        /// How long to offer load to --ledger.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// With --ledger: the simulated timeline is fitted into this many hours
        /// before now (keep it under the ledger's max event age, 72 h).
        #[arg(long, default_value_t = 48)]
        window_hours: i64,
    },
    /// Retrain the risk model and rewrite its file; with --eval, also write the report.
    Train {
        /// Evaluate on held-out seeds and write RISK.md and risk-roc.png into --docs.
        #[arg(long)]
        eval: bool,
        #[arg(long, default_value = "services/risk/model/risk-model.json")]
        model: PathBuf,
        #[arg(long, default_value = "docs")]
        docs: PathBuf,
    },
}

/// How a party service is started.
#[derive(clap::Args)]
struct PartyArgs {
    /// The TOML config file (fields and PEDIGREE_PARTY_* overrides: see README).
    #[arg(long, env = "PEDIGREE_PARTY_CONFIG")]
    config: Option<PathBuf>,
    /// Create an operator token with this name, print it once, and exit.
    #[arg(long, value_name = "NAME")]
    create_token: Option<String>,
    /// Serve plain HTTP on a non-loopback address (TLS is on by default).
    #[arg(long, env = "PEDIGREE_INSECURE_HTTP", value_parser = BoolishValueParser::new())]
    insecure_http: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PEDIGREE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pedigree: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Up(demo::UpArgs::default())) {
        Command::Up(args) => demo::up(args),
        Command::Ledger {
            insecure_http,
            create_dashboard_login,
            party,
        } => {
            let mut settings = Settings::from_env()?;
            if let (Some(name), Some(party)) = (create_dashboard_login, party) {
                let database = pedigree_ledger::open_database(&settings.database_url, 1)?;
                let token = create_login(&database, &name, &party)?;
                // Printed once, here, and stored only as a hash.
                println!("{token}");
                return Ok(ExitCode::SUCCESS);
            }
            settings.tls.insecure_http |= insecure_http;
            serve(settings)
        }
        Command::Manufacturer(args) => {
            run_party(Role::Manufacturer, args, pedigree_manufacturer::routes)
        }
        Command::Distributor(args) => {
            run_party(Role::Distributor, args, pedigree_distributor::routes)
        }
        Command::Pharmacy(args) => run_party(Role::Pharmacy, args, pedigree_pharmacy::routes),
        Command::Keygen { out, name } => keygen(&out, name.as_deref()),
        Command::TlsCert { hosts, cert, key } => {
            let files = CertificateFiles {
                cert_chain: cert,
                private_key: key,
            };
            SelfSigned::generate(&hosts)?.write_new_files(&files)?;
            println!(
                "self-signed certificate for {} written to {} (key: {}, mode 0600)",
                hosts.join(", "),
                files.cert_chain.display(),
                files.private_key.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { database_url } => {
            pedigree_ledger::open_database(&database_url, 1)?;
            println!("migrations applied to {}", redact(&database_url));
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            database_url,
            log_key,
            governance_key,
            json,
        } => run_audit(&database_url, &log_key, &governance_key, json),
        Command::Simulate {
            seed,
            packs_per_batch,
            ledger: Some(ledger),
            rate,
            seconds,
            window_hours,
            ..
        } => {
            let args = load::LoadArgs {
                ledger,
                rate,
                seconds,
                seed,
                packs_per_batch,
                window_hours,
            };
            let report = tokio::runtime::Runtime::new()?.block_on(load::run(args))?;
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            seed,
            batches,
            packs_per_batch,
            out,
            ..
        } => {
            let summary = pedigree_risk::evaluate::run_simulate(
                seed,
                batches,
                packs_per_batch,
                out.as_deref(),
            )?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Train { eval, model, docs } => {
            let summary =
                pedigree_risk::evaluate::run_train(&model, eval.then_some(docs.as_path()))?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs the ledger until Ctrl-C.
fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let app = Application::build(settings)?;
        eprintln!("ledger listening on port {}", app.port());
        app.run_until_stopped().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs one party service until Ctrl-C, or creates an operator token.
fn run_party(
    role: Role,
    args: PartyArgs,
    routes: fn(&mut actix_web::web::ServiceConfig),
) -> anyhow::Result<ExitCode> {
    let mut config = PartyConfig::load(args.config.as_deref())?;
    config.tls.server.insecure_http |= args.insecure_http;
    if config.role != role {
        anyhow::bail!(
            "the config is for a {}, not a {}",
            config.role.as_str(),
            role.as_str()
        );
    }
    if let Some(name) = args.create_token {
        let party = Party::open(config)?;
        let token = create_operator_token(party.db(), &name)?;
        // Printed once, here, and stored only as a hash.
        println!("{token}");
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let app = PartyApp::build(config, routes)?;
        eprintln!("{} service listening on port {}", role.as_str(), app.port());
        app.run_until_stopped().await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn keygen(out: &std::path::Path, name: Option<&str>) -> anyhow::Result<ExitCode> {
    let key = SecretKey::generate();
    key.write_new_file(out)?;
    println!("public key: {}", key.public_key());
    if let Some(name) = name {
        let signer = NoteSigner::new(KeyName::parse(name)?, key.signing_key().clone());
        println!("verifier key: {}", signer.verifier());
    }
    eprintln!("secret key written to {} (mode 0600)", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Exit 0 when the audit is clean, 1 when it found problems.
fn run_audit(
    database_url: &str,
    log_key: &str,
    governance_key: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let verifier = NoteVerifier::parse(log_key).context("--log-key must be a C2SP verifier key")?;
    let governance = PublicKey::parse(governance_key).context("--governance-key")?;
    let database = pedigree_ledger::open_database(database_url, 1)?;
    let mut conn = database.dedicated_connection()?;
    let report = audit::audit(&mut conn, &verifier, governance, &std::env::temp_dir())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} entries and {} checkpoints audited",
            report.entries, report.checkpoints
        );
        match report.first_bad_entry() {
            None if report.is_clean() => println!("OK: everything stored agrees with the log"),
            first => {
                if let Some(entry) = first {
                    println!("FIRST BAD ENTRY: {entry}");
                }
                for finding in &report.findings {
                    let at = finding
                        .entry
                        .map_or_else(|| "-".to_string(), |e| e.to_string());
                    println!("  [{at}] {}", finding.problem);
                }
            }
        }
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A database URL without credentials, for printing.
fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((scheme_and_user, host)) if scheme_and_user.contains("://") => {
            let scheme = scheme_and_user.split("://").next().unwrap_or_default();
            format!("{scheme}://…@{host}")
        }
        _ => url.to_string(),
    }
}
