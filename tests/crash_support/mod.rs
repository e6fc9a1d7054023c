//! Support of the crash and outage tests (`tests/crash_*.rs`, `tests/outage.rs`): the real
//! `pedigree` binary run as child processes on real databases (killed with SIGKILL, restarted
//! on the same files), the key and config files they read, a supply-chain workload of signed
//! events, and direct looks at the ledger's database.
//!
//! Fixture code: setup failures panic with a message saying what went wrong.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use pedigree_ledger::db::schema::{
    checkpoints, event_items, item_history, log_entries, tree_nodes,
};
use pedigree_ledger::db::{DatabaseUrl, DbConnection};
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::{DecommissionReason, EventId, EventSubmission, ShipmentPurpose};
use pedigree_schema::merkle::Hash;
use pedigree_schema::note::NoteVerifier;
use pedigree_schema::receipt::{ConsistencyProof, InclusionProof};
use pedigree_testkit::{case_item, gtin, sscc, Batch, Network, Outcome, Party, ORIGIN};
use serde_json::{json, Value};

/// A fresh directory for one test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pedigree-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// A count from an environment variable (the scripts' longer runs), or `default`.
pub fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------- processes

/// A `pedigree` child process serving HTTP. Killed (SIGKILL) when dropped.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Service {
    /// Spawns `command` and waits for the line on stderr saying `<what> listening on port N`.
    /// The rest of its stderr is appended to `log`.
    fn spawn(mut command: Command, log: &Path) -> Self {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pedigree");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = String::new();
        let port = loop {
            let Some(Ok(line)) = lines.next() else {
                let status = child.wait().expect("wait for pedigree");
                panic!("pedigree exited ({status}) before listening:\n{seen}");
            };
            seen.push_str(&line);
            seen.push('\n');
            if let Some((_, port)) = line.split_once("listening on port ") {
                break port.trim().to_string();
            }
        };
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("the service log file");
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
            }
        });
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The process id (to sample its memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait until the process is gone.
    pub fn kill(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill_now();
    }
}

pub fn pedigree() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pedigree"))
}

/// The files and settings a `pedigree ledger` process of a network is started with.
pub struct LedgerFiles {
    pub dir: PathBuf,
    pub key_file: PathBuf,
    pub database_url: String,
    /// The governance party's public key, base64.
    pub governance_key: String,
    /// The log's C2SP verifier key, as `pedigree audit --log-key` takes it.
    pub verifier_key: String,
    pub verifier: NoteVerifier,
    /// `PEDIGREE_LEDGER_POOL_SIZE`: 2 (a process that starts fast) unless set.
    pub pool_size: u32,
}

impl LedgerFiles {
    /// Writes the log key of `net` into `dir` (0600) for a ledger on `database_url`.
    pub fn new(net: &Network, dir: &Path, database_url: &str) -> Self {
        let key_file = dir.join("log.key");
        net.log_key()
            .write_new_file(&key_file)
            .expect("write the log key");
        Self {
            dir: dir.to_path_buf(),
            key_file,
            database_url: database_url.to_string(),
            governance_key: net.governance.public_key().to_string(),
            verifier_key: net.log_signer().verifier().to_string(),
            verifier: net.log_verifier(),
            pool_size: 2,
        }
    }

    /// `pedigree ledger` on these files, listening on `port` (0: any free port).
    pub fn start(&self, port: u16) -> Service {
        let mut command = pedigree();
        command
            .arg("ledger")
            .env("PEDIGREE_LOG_KEY_FILE", &self.key_file)
            .env("PEDIGREE_GOVERNANCE_KEY", &self.governance_key)
            .env("PEDIGREE_LEDGER_DATABASE_URL", &self.database_url)
            .env("PEDIGREE_LEDGER_LISTEN", format!("127.0.0.1:{port}"))
            .env("PEDIGREE_LEDGER_POOL_SIZE", self.pool_size.to_string())
            .env("PEDIGREE_LOG_ORIGIN", ORIGIN)
            .env("PEDIGREE_LOG", "warn");
        Service::spawn(command, &self.log())
    }

    /// Where the ledger's log lines go (after its start).
    pub fn log(&self) -> PathBuf {
        self.dir.join("ledger.log")
    }

    pub fn connect(&self) -> DbConnection {
        let url = DatabaseUrl::parse(&self.database_url).expect("a database URL");
        DbConnection::open(&url).expect("a direct connection to the ledger's database")
    }

    /// `pedigree audit` on the ledger's database: asserts exit 0 and the OK line; returns
    /// its output.
    pub fn audit_with_the_command(&self) -> String {
        let output = pedigree()
            .args(["audit", "--database-url", &self.database_url])
            .args(["--log-key", &self.verifier_key])
            .args(["--governance-key", &self.governance_key])
            .env("PEDIGREE_LOG", "warn")
            .output()
            .expect("run pedigree audit");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success() && stdout.contains("OK: everything stored agrees"),
            "pedigree audit failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }
}

/// The files a `pedigree <role>` party service process is started with.
pub struct PartyFiles {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub database_url: String,
    role: &'static str,
}

impl PartyFiles {
    /// Writes `party`'s key and a config file into `dir`: its database `party.sqlite`,
    /// delivering to `ledger_url`; the witness polls every 100 ms and delivery retries back
    /// off to at most `retry_max_ms`.
    pub fn new(
        party: &Party,
        dir: &Path,
        ledger: &LedgerFiles,
        ledger_url: &str,
        retry_max_ms: u64,
    ) -> Self {
        std::fs::create_dir_all(dir).expect("the party's dir");
        party
            .key
            .write_new_file(&dir.join("party.key"))
            .expect("write the party key");
        let database_url = dir.join("party.sqlite").display().to_string();
        let config = dir.join("party.toml");
        let text = format!(
            "role = {role:?}\ngln = {gln:?}\nkey_file = \"party.key\"\nlisten = \"127.0.0.1:0\"\n\
             database_url = {database_url:?}\npool_size = 3\nledger_url = {ledger_url:?}\n\
             log_verifier_key = {verifier:?}\nwitness_interval_ms = 100\nretry_max_ms = {retry_max_ms}\n",
            role = party.role.as_str(),
            gln = party.gln.as_str(),
            verifier = ledger.verifier_key,
        );
        std::fs::write(&config, text).expect("write the party config");
        Self {
            dir: dir.to_path_buf(),
            config,
            database_url,
            role: party.role.as_str(),
        }
    }

    fn command(&self) -> Command {
        let mut command = pedigree();
        command
            .arg(self.role)
            .arg("--config")
            .arg(&self.config)
            .env("PEDIGREE_LOG", "warn");
        command
    }

    /// `pedigree <role> --config … --create-token <name>`: the printed token.
    pub fn create_token(&self, name: &str) -> String {
        let output = self
            .command()
            .args(["--create-token", name])
            .output()
            .expect("create an operator token");
        assert!(
            output.status.success(),
            "--create-token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("a UTF-8 token")
            .trim()
            .to_string()
    }

    pub fn start(&self) -> Service {
        Service::spawn(self.command(), &self.dir.join("party.log"))
    }
}

/// A `pedigree ledger` process on a SQLite file in `dir` that took `net`'s genesis, and the
/// files of the manufacturer's party service delivering to it, with an operator token.
pub struct ManufacturerSetup {
    pub ledger_files: LedgerFiles,
    pub ledger: Service,
    pub party: PartyFiles,
    pub token: String,
}

impl ManufacturerSetup {
    /// The ledger listens on `port` (0: any); the party's retries back off to at most
    /// `retry_max_ms`.
    pub async fn start(net: &Network, dir: &Path, port: u16, retry_max_ms: u64) -> Self {
        let ledger_files =
            LedgerFiles::new(net, dir, &dir.join("ledger.sqlite").display().to_string());
        let ledger = ledger_files.start(port);
        post_events(&http_client(), &ledger.base, &net.genesis())
            .await
            .expect("genesis");
        let party = PartyFiles::new(
            &net.manufacturer,
            &dir.join("manufacturer"),
            &ledger_files,
            &ledger.base,
            retry_max_ms,
        );
        let token = party.create_token("tester");
        Self {
            ledger_files,
            ledger,
            party,
            token,
        }
    }
}

// ---------------------------------------------------------------- HTTP

/// A client whose requests fail rather than hang when a process is gone.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Why a request got no usable answer.
#[derive(Debug)]
pub enum Failure {
    /// No (complete) answer: the process is down or was killed mid-request.
    Unreachable(String),
    /// An answer, but not the expected one: a bug.
    Unexpected(String),
}

/// Sends `request`; a 2xx JSON answer, or why not.
pub async fn json_answer(request: reqwest::RequestBuilder) -> Result<Value, Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    if !status.is_success() {
        return Err(Failure::Unexpected(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| Failure::Unexpected(format!("HTTP {status}, not JSON ({e})")))
}

/// `POST /v1/events`: one outcome per event, or why not.
pub async fn post_events(
    http: &reqwest::Client,
    base: &str,
    events: &[EventSubmission],
) -> Result<Vec<Outcome>, Failure> {
    let body = json_answer(
        http.post(format!("{base}/v1/events"))
            .json(&json!({ "events": events })),
    )
    .await?;
    let outcomes: Vec<Outcome> = serde_json::from_value(body["results"].clone())
        .map_err(|e| Failure::Unexpected(format!("results do not parse ({e}): {body}")))?;
    if outcomes.len() != events.len() {
        return Err(Failure::Unexpected(format!(
            "{} outcomes for {} events",
            outcomes.len(),
            events.len()
        )));
    }
    Ok(outcomes)
}

/// `GET /checkpoint`, verified under the log key.
pub async fn latest_checkpoint(
    http: &reqwest::Client,
    base: &str,
    log: &NoteVerifier,
) -> SignedCheckpoint {
    let text = http
        .get(format!("{base}/checkpoint"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("GET /checkpoint")
        .text()
        .await
        .expect("a checkpoint");
    SignedCheckpoint::parse_and_verify(&text, log)
        .unwrap_or_else(|e| panic!("the latest checkpoint does not verify: {e}\n{text}"))
}

/// Asserts that `newer` extends `older`, by the ledger's consistency proof.
pub async fn assert_consistent(
    http: &reqwest::Client,
    base: &str,
    older: &SignedCheckpoint,
    newer: &SignedCheckpoint,
) {
    let (old, new) = (older.checkpoint(), newer.checkpoint());
    assert!(
        new.size() >= old.size(),
        "the log shrank from {} to {} entries",
        old.size(),
        new.size()
    );
    let answer = json_answer(http.get(format!(
        "{base}/v1/proofs/consistency?old={}&new={}",
        old.size(),
        new.size()
    )))
    .await
    .unwrap_or_else(|e| panic!("consistency proof: {e:?}"));
    let proof: ConsistencyProof = serde_json::from_value(answer).expect("a consistency proof");
    proof.verify(older, newer).unwrap_or_else(|e| {
        panic!(
            "checkpoint {} does not extend {}: {e}",
            new.size(),
            old.size()
        )
    });
}

/// Asserts that the entry at `index` has `leaf_hash` and is in `checkpoint`'s tree, by the
/// ledger's inclusion proof.
pub async fn assert_included(
    http: &reqwest::Client,
    base: &str,
    index: u64,
    leaf_hash: &Hash,
    checkpoint: &SignedCheckpoint,
) {
    let tree = checkpoint.checkpoint();
    let answer = json_answer(http.get(format!(
        "{base}/v1/proofs/inclusion?index={index}&tree_size={}",
        tree.size()
    )))
    .await
    .unwrap_or_else(|e| panic!("inclusion proof of {index}: {e:?}"));
    let proof: InclusionProof = serde_json::from_value(answer).expect("an inclusion proof");
    assert_eq!(&proof.leaf_hash, leaf_hash, "entry {index} changed");
    proof
        .verify(tree.root())
        .unwrap_or_else(|e| panic!("entry {index} is not in tree {}: {e}", tree.size()));
}

// ---------------------------------------------------------------- the ledger's database

/// The stored log's shape, read directly: asserts that it holds exactly the entries, items,
/// history and tree nodes of a log of `size` entries and that its latest checkpoint covers
/// `size` (a partial write would leave more or fewer).
pub fn assert_no_partial_entry(conn: &mut DbConnection, size: u64) {
    let size = size as i64;
    let entries: i64 = log_entries::table
        .select(count_star())
        .get_result(conn)
        .expect("count entries");
    let last: Option<i64> = log_entries::table
        .select(max(log_entries::idx))
        .get_result(conn)
        .expect("the last entry");
    assert_eq!(
        (entries, last),
        (size, size.checked_sub(1).filter(|&l| l >= 0)),
        "entries vs the latest checkpoint"
    );
    let covered: Option<i64> = checkpoints::table
        .select(max(checkpoints::tree_size))
        .get_result(conn)
        .expect("the latest checkpoint");
    assert_eq!(covered, Some(size), "the latest stored checkpoint");
    let nodes: i64 = tree_nodes::table
        .select(count_star())
        .get_result(conn)
        .expect("count tree nodes");
    let expected: i64 = (0..63).map(|level| size >> level).sum();
    assert_eq!(nodes, expected, "tree nodes of a tree of {size} leaves");
    let items: Option<i64> = event_items::table
        .select(max(event_items::entry_idx))
        .get_result(conn)
        .expect("event items");
    let history: Option<i64> = item_history::table
        .select(max(item_history::entry_idx))
        .get_result(conn)
        .expect("item history");
    for (table, last) in [("event_items", items), ("item_history", history)] {
        assert!(
            last.is_none_or(|l| l < size),
            "{table} names entry {last:?} beyond the log's {size} entries"
        );
    }
}

/// The size of the latest stored checkpoint (0 for an empty log).
pub fn latest_stored_size(conn: &mut DbConnection) -> u64 {
    let size: Option<i64> = checkpoints::table
        .select(max(checkpoints::tree_size))
        .get_result(conn)
        .expect("the latest checkpoint");
    size.unwrap_or(0) as u64
}

/// Where the log holds the event `id`, if it does; asserts it holds it at most once.
pub fn stored_index(conn: &mut DbConnection, id: &EventId) -> Option<u64> {
    let found: Vec<i64> = log_entries::table
        .filter(log_entries::event_id.eq(id.0.to_vec()))
        .select(log_entries::idx)
        .load(conn)
        .expect("look up an event id");
    assert!(found.len() <= 1, "event {id} is in the log {found:?} times");
    found.first().map(|&i| i as u64)
}

/// The event ids of every entry by `actor`, asserting none appears twice.
pub fn event_ids_by(conn: &mut DbConnection, actor: &str) -> HashSet<Vec<u8>> {
    let ids: Vec<Vec<u8>> = log_entries::table
        .filter(log_entries::actor.eq(actor))
        .select(log_entries::event_id)
        .load(conn)
        .expect("entries by actor");
    let unique: HashSet<Vec<u8>> = ids.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "an event of {actor} is in the log twice"
    );
    unique
}

// ---------------------------------------------------------------- the workload

/// Events of one request in a client's stream.
pub const STEPS: usize = 7;

/// One client's stream of custody events, as a supply chain makes them: each round registers a
/// product and a batch, commissions 12 packs, packs 6 into a case, ships the case and 6 loose
/// packs to the distributor, who receives, unpacks and ships 2 packs to the pharmacy, who
/// receives them and dispenses one. Each step is one request; a step not acknowledged is
/// sent again, with the same signed events (the ledger is idempotent by event id).
pub struct Workload {
    client: u32,
    round: u64,
    step: usize,
    pending: Option<Vec<EventSubmission>>,
    /// Where the log already holds the pending events (found after a crash): resending them
    /// must give these same indices.
    pub expected: Vec<Option<u64>>,
}

impl Workload {
    /// Client `client` (below 9: its number is part of the identifiers).
    pub fn new(client: u32) -> Self {
        assert!(client < 9, "client numbers are one digit");
        Self {
            client,
            round: 0,
            step: 0,
            pending: None,
            expected: Vec::new(),
        }
    }

    /// The events of the current request: the unacknowledged ones, or the next step's.
    pub fn pending(&mut self, net: &Network) -> &[EventSubmission] {
        let (client, round, step) = (self.client, self.round, self.step);
        self.pending
            .get_or_insert_with(|| step_events(net, client, round, step))
    }

    /// The events sent but not acknowledged, if any.
    pub fn unacknowledged(&self) -> Option<&[EventSubmission]> {
        self.pending.as_deref()
    }

    /// The current request was acknowledged: on to the next step.
    pub fn acknowledged(&mut self) {
        self.pending = None;
        self.expected.clear();
        self.step += 1;
        if self.step == STEPS {
            self.step = 0;
            self.round += 1;
        }
    }
}

fn step_events(net: &Network, client: u32, round: u64, step: usize) -> Vec<EventSubmission> {
    let (m, d, p) = (&net.manufacturer, &net.distributor, &net.pharmacy);
    let tag = client + 1;
    let batch = Batch::fresh(&gtin(&format!("0{tag}{round:011}")), &format!("L{round}"));
    let case = sscc(&format!("0{tag}{round:015}"));
    let serial = |i: usize| format!("C{tag}R{round}N{i}");
    let item = |i: usize| batch.item(&serial(i));
    let shipment = format!("S{tag}-{round}");
    let delivery = format!("D{tag}-{round}");
    let sale = ShipmentPurpose::Sale;
    match step {
        0 => vec![
            m.register_product(&batch.gtin, "Amoxicillin 500 mg, 20 capsules"),
            m.register_batch(&batch),
        ],
        1 => {
            let serials: Vec<String> = (0..12).map(serial).collect();
            let serials: Vec<&str> = serials.iter().map(String::as_str).collect();
            vec![m.commission(&batch, &serials)]
        }
        2 => vec![m.aggregate(&case, &(0..6).map(item).collect::<Vec<_>>())],
        3 => {
            let mut contents = vec![case_item(&case)];
            contents.extend((6..12).map(item));
            vec![m.ship(&shipment, &d.gln, sale, &contents)]
        }
        4 => {
            let mut contents = vec![case_item(&case)];
            contents.extend((6..12).map(item));
            vec![d.receive(&shipment, &m.gln, &contents)]
        }
        5 => vec![
            d.disaggregate(&case),
            d.ship(&delivery, &p.gln, sale, &[item(0), item(1)]),
        ],
        _ => vec![
            p.receive(&delivery, &d.gln, &[item(0), item(1)]),
            p.decommission(&batch.pack(&serial(0)), DecommissionReason::Dispensed),
        ],
    }
}

/// Operations for a manufacturer's party service: product `n` of client `client` and a batch
/// of it with 4 listed serials (registration, batch registration, commissioning: 3 events).
pub fn party_operations(client: u32, n: u64) -> [(&'static str, Value); 2] {
    let gtin = gtin(&format!("1{}{n:011}", client + 1));
    let today = chrono::Utc::now().date_naive();
    [
        (
            "/v1/products",
            json!({
                "gtin": gtin.as_str(), "name": "Ibuprofen 400 mg", "strength": "400 mg",
                "dosage_form": "tablet", "pack_size": 24
            }),
        ),
        (
            "/v1/batches",
            json!({
                "gtin": gtin.as_str(), "lot": format!("B{n}"),
                "expiry": (today + chrono::Duration::days(700)).to_string(),
                "manufactured": (today - chrono::Duration::days(10)).to_string(),
                "serials": { "list": (0..4).map(|i| format!("K{n}X{i}")).collect::<Vec<_>>() }
            }),
        ),
    ]
}

/// The event ids of an answer's outbox items (`outbox` list), as stored by the party.
pub fn outbox_event_ids(answer: &Value) -> Vec<EventId> {
    answer["outbox"]
        .as_array()
        .unwrap_or_else(|| panic!("an answer with outbox items: {answer}"))
        .iter()
        .map(|item| {
            EventId::parse(item["event_id"].as_str().expect("an event id")).expect("a hex event id")
        })
        .collect()
}
