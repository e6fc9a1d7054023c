//! The command line, as clap parses it. Nothing here is checked beyond
//! syntax: [`crate::plan`] turns it into a validated plan.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const CONFIGURATION: &str = "\
Configuration (a TOML file; environment variables win over it):
  file key         environment variable            meaning
  -                PEDIGREE_SCAN_CONFIG             the file (default ~/.config/pedigree/scan.toml)
  ledger_url       PEDIGREE_SCAN_LEDGER_URL         the ledger, e.g. http://127.0.0.1:7700
  pharmacy_url     PEDIGREE_SCAN_PHARMACY_URL       the pharmacy service (dispense, destroy, return)
  pharmacy_token   PEDIGREE_SCAN_PHARMACY_TOKEN     its operator token
  log_key          PEDIGREE_SCAN_LOG_KEY            the log's C2SP verifier key (required to verify)
  witness_keys     PEDIGREE_SCAN_WITNESS_KEYS       witness verifier keys (comma-separated)
  witness_quorum   PEDIGREE_SCAN_WITNESS_QUORUM     cosignatures required from them (default 0)
  party_key_file   PEDIGREE_SCAN_PARTY_KEY_FILE     the party's key file (signs provenance requests)
  party_gln        PEDIGREE_SCAN_GLN                the party's GLN (packs held elsewhere are suspect)
  state_dir        PEDIGREE_SCAN_STATE_DIR          cached checkpoint and evidence bundles
  timeout_secs     PEDIGREE_SCAN_TIMEOUT_SECS       per request (default 10)
  ca_cert          PEDIGREE_SCAN_CA_CERT            CA certificate(s), PEM, for https (also --ca-cert)

Exit codes: 0 OK, 1 suspect or not to be dispensed (or refused by the service),
2 bad usage or unreadable input, 3 could not reach a service or could not verify.";

#[derive(Debug, Parser)]
#[command(
    name = "pedigree-scan",
    version,
    about = "Read a medicine pack's GS1 code and verify it against the Pedigree log",
    after_help = "Examples:\n  pedigree-scan parse '(01)09506000134352(17)280630(10)L1(21)S1'\n  pedigree-scan verify --image photo.jpg\n  pedigree-scan batch scans/ --format json --output summary.json",
    after_long_help = CONFIGURATION
)]
pub struct Cli {
    /// Configuration file (TOML); default $PEDIGREE_SCAN_CONFIG, then
    /// ~/.config/pedigree/scan.toml if it exists.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the cached checkpoint and evidence bundles.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// A CA certificate (PEM) trusted for https beside the public roots:
    /// a private CA, or a development certificate from `pedigree tls-cert`.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Where codes come from: arguments, images, or else standard input.
#[derive(Debug, Args)]
pub struct Inputs {
    /// Scanned payloads (GS1 element string, bracketed, or Digital Link).
    /// Without payloads or --image, one payload per line is read from
    /// standard input, as a scanner in keyboard mode types it.
    #[arg(value_name = "PAYLOAD")]
    pub payloads: Vec<String>,
    /// A PNG or JPEG image holding one or more QR codes (repeatable).
    #[arg(long = "image", value_name = "FILE")]
    pub images: Vec<PathBuf>,
}

/// One code, from an argument, an image, or standard input.
#[derive(Debug, Args)]
pub struct Input {
    /// The scanned payload; without it (and without --image) one line is
    /// read from standard input.
    #[arg(value_name = "PAYLOAD")]
    pub payload: Option<String>,
    /// A PNG or JPEG image holding exactly one QR code.
    #[arg(long = "image", value_name = "FILE", conflicts_with = "payload")]
    pub image: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DestroyReason {
    Destroyed,
    Stolen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show, offline, what a code contains: every AI with its title.
    #[command(
        after_help = "Examples:\n  pedigree-scan parse '0109506000134352172806301012AB<GS>21S1'\n  pedigree-scan parse --json 'https://id.gs1.org/01/09506000134352/21/S1?17=280630'\n  pedigree-scan parse --image label.png\n  scanner-in-keyboard-mode | pedigree-scan parse --json\n\nWith --json: one object per code, {\"ais\": [{\"ai\", \"value\", \"title\"}]}, or\n{\"error\": {\"code\", \"message\", \"source\"}} for an unreadable code (exit 2)."
    )]
    Parse {
        #[command(flatten)]
        inputs: Inputs,
        /// One JSON object per code.
        #[arg(long)]
        json: bool,
    },
    /// Verify packs: offline checks, the service's status, and the log's
    /// evidence, checked with the configured keys.
    #[command(
        after_help = "Examples:\n  pedigree-scan verify '(01)09506000134352(17)280630(10)L1(21)S1'\n  pedigree-scan verify --image counter-photo.jpg --json\n  pedigree-scan verify --offline '(01)09506000134352(21)S1'\n\nPrints OK TO DISPENSE, DO NOT DISPENSE or CANNOT VERIFY with the reasons.\n--json prints one object per code (scanner-cli/README.md, \"verify --json\").\nExit: 0 all OK, 1 some pack not to be dispensed, 2 unreadable input,\n3 could not reach a service or could not verify."
    )]
    Verify {
        #[command(flatten)]
        inputs: Inputs,
        /// One JSON object per code.
        #[arg(long)]
        json: bool,
        /// Use the evidence bundles stored by `fetch` instead of the network.
        #[arg(long)]
        offline: bool,
    },
    /// Fetch and store evidence bundles for offline verification.
    #[command(
        after_help = "Examples:\n  pedigree-scan fetch '(01)09506000134352(21)S1' '(01)09506000134352(21)S2'\n  pedigree-scan fetch < todays-deliveries.txt\n\nEach bundle is verified when fetched and stored under <state_dir>/bundles/."
    )]
    Fetch {
        #[command(flatten)]
        inputs: Inputs,
        /// One JSON object per code.
        #[arg(long)]
        json: bool,
    },
    /// Verify a folder of images or a file of payloads, with a progress bar,
    /// and write a summary.
    #[command(
        after_help = "Examples:\n  pedigree-scan batch photos/ --output summary.csv\n  pedigree-scan batch codes.txt --format json\n  pedigree-scan batch photos/ --offline --format json --output summary.json\n\nA folder is read for *.png, *.jpg and *.jpeg; a file holds one payload per line.\nThe exit code is the worst of all codes' (3 > 2 > 1 > 0)."
    )]
    Batch {
        /// A folder of PNG/JPEG images, or a text file with one payload per line.
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// Summary format.
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Where to write the summary (default: standard output).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Use stored evidence bundles instead of the network.
        #[arg(long)]
        offline: bool,
    },
    /// Verify a pack, then dispense it through the pharmacy service.
    #[command(
        after_help = "Examples:\n  pedigree-scan dispense '(01)09506000134352(17)280630(10)L1(21)S1'\n  pedigree-scan dispense --image pack.jpg\n  pedigree-scan dispense --undo '(01)09506000134352(21)S1'\n\nThe pack is dispensed only when the verification says OK TO DISPENSE.\n--undo reactivates a pack dispensed by mistake (the ledger allows 10 days)."
    )]
    Dispense {
        #[command(flatten)]
        input: Input,
        /// Undo a dispense instead (no verification needed).
        #[arg(long)]
        undo: bool,
        #[arg(long)]
        json: bool,
    },
    /// Verify a pack, then decommission it as destroyed or stolen.
    #[command(
        after_help = "Examples:\n  pedigree-scan destroy --reason destroyed '(01)09506000134352(21)S1'\n  pedigree-scan destroy --reason stolen --image pack.png\n\nExpired or recalled packs may be destroyed; a pack whose evidence cannot be\nverified is not (exit 3)."
    )]
    Destroy {
        #[command(flatten)]
        input: Input,
        #[arg(long, value_enum)]
        reason: DestroyReason,
        #[arg(long)]
        json: bool,
    },
    /// Verify packs, then ship them back to a supplier (a saleable return).
    #[command(
        after_help = "Examples:\n  pedigree-scan return --shipment-id RET-0042 --to 9506000000031 \\\n      '(01)09506000134352(21)S1' '(01)09506000134352(21)S2'\n  pedigree-scan return --shipment-id RET-0043 --to 9506000000031 --image tray.jpg\n\nEvery pack must verify OK TO DISPENSE (saleable) or nothing is returned."
    )]
    Return {
        #[command(flatten)]
        inputs: Inputs,
        /// The return shipment's id (1-64 of A-Z a-z 0-9 - _ . :).
        #[arg(long, value_name = "ID")]
        shipment_id: String,
        /// The GLN of the party the packs go back to.
        #[arg(long, value_name = "GLN")]
        to: String,
        #[arg(long)]
        json: bool,
    },
}
