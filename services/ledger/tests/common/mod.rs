//! Test support shared by the ledger's HTTP tests: a running ledger on a
//! throw-away database, a small supply-chain network of keyed parties, event
//! builders, signed GET requests, and direct looks at the stored state.
//!
//! Every scenario is written once as `async fn scenario(db: TestDatabase)`
//! and run on SQLite and (when `PEDIGREE_TEST_POSTGRES_URL` is set)
//! PostgreSQL by [`both_backends!`].

#![allow(dead_code)] // Each test binary uses a different part of this module.

use actix_web::dev::ServerHandle;
use chrono::{Duration, NaiveDate, Utc};
use diesel::prelude::*;
use pedigree_ledger::custody::{BatchRow, CaseRow, PackRow};
use pedigree_ledger::db::schema::{
    checkpoints, event_items, item_history, log_entries, parties, party_keys, products,
    shipment_discrepancies, shipments, tree_nodes,
};
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::db::DbConnection;
use pedigree_ledger::{Application, Settings};
use pedigree_schema::checkpoint::{CosignatureSigner, CosignatureVerifier, SignedCheckpoint};
use pedigree_schema::event::{
    canonical_item_order, DecommissionReason, Event, EventBody, EventSubmission, Item, ItemSetRef,
    Role, ShipmentPurpose, SignedEvent, Timestamp,
};
use pedigree_schema::gs1::{check_digit, Expiry, Gln, Gs1Data, Gtin, Lot, PackId, Serial, Sscc};
use pedigree_schema::itemset::ItemProof;
use pedigree_schema::keys::{PublicKey, SecretKey};
use pedigree_schema::merkle::{self, hex_hash};
use pedigree_schema::note::{KeyName, NoteVerifier};
use pedigree_schema::receipt::Receipt;
use pedigree_schema::request_auth::SignedRequest;
use serde::Deserialize;
use serde_json::Value;

/// Writes a scenario's `#[tokio::test]`s: `sqlite::<name>` always, and
/// `postgres::<name>` which runs when `PEDIGREE_TEST_POSTGRES_URL` is set
/// (and otherwise prints why it skips, see `TestDatabase::postgres`).
macro_rules! both_backends {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(pedigree_ledger::db::testing::TestDatabase::sqlite()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(db) = pedigree_ledger::db::testing::TestDatabase::postgres() {
                        super::$scenario(db).await;
                    }
                }
            )+
        }
    };
}

// ---------------------------------------------------------------- identifiers

/// `body` followed by its GS1 mod-10 check digit.
pub fn with_check_digit(body: &str) -> String {
    let digit = check_digit(body).expect("a numeric identifier body");
    format!("{body}{digit}")
}

/// A GLN from its 12-digit body.
pub fn gln(body: &str) -> Gln {
    Gln::parse(&with_check_digit(body)).expect("a valid GLN")
}

/// A GTIN-14 from its 13-digit body.
pub fn gtin(body: &str) -> Gtin {
    Gtin::parse(&with_check_digit(body)).expect("a valid GTIN")
}

/// An SSCC from its 17-digit body.
pub fn sscc(body: &str) -> Sscc {
    Sscc::parse(&with_check_digit(body)).expect("a valid SSCC")
}

pub fn lot(text: &str) -> Lot {
    Lot::parse(text).expect("a valid lot")
}

pub fn pack(gtin: &Gtin, serial: &str) -> PackId {
    PackId {
        gtin: gtin.clone(),
        serial: Serial::parse(serial).expect("a valid serial"),
    }
}

/// The item text of a pack, `(01)<gtin>(21)<serial>`.
pub fn pack_item(pack: &PackId) -> String {
    Item::Pack(pack.clone()).to_string()
}

/// The item text of a case, `(00)<sscc>`.
pub fn case_item(case: &Sscc) -> String {
    Item::Case(case.clone()).to_string()
}

/// A batch of a product, with its expiry.
#[derive(Clone, Debug)]
pub struct Batch {
    pub gtin: Gtin,
    pub lot: Lot,
    pub expiry: Expiry,
}

impl Batch {
    /// A batch expiring about two years from now.
    pub fn fresh(gtin: &Gtin, lot_text: &str) -> Self {
        Self::expiring(
            gtin,
            lot_text,
            Utc::now().date_naive() + Duration::days(730),
        )
    }

    pub fn expiring(gtin: &Gtin, lot_text: &str, date: NaiveDate) -> Self {
        Self {
            gtin: gtin.clone(),
            lot: lot(lot_text),
            expiry: Expiry::from_date(date),
        }
    }

    pub fn pack(&self, serial: &str) -> PackId {
        pack(&self.gtin, serial)
    }

    /// What a pack's 2D code carries: GTIN, expiry, lot, serial.
    pub fn code(&self, serial: &str) -> Gs1Data {
        let mut data = Gs1Data::new();
        data.push("01", self.gtin.as_str()).expect("GTIN element");
        data.push("17", self.expiry.as_str())
            .expect("expiry element");
        data.push("10", self.lot.as_str()).expect("lot element");
        data.push("21", serial).expect("serial element");
        data
    }
}

// ---------------------------------------------------------------- parties

/// A registered (or registrable) party with its signing key.
pub struct Party {
    pub name: &'static str,
    pub gln: Gln,
    pub role: Role,
    pub key: SecretKey,
}

impl Party {
    pub fn new(name: &'static str, role: Role, gln_body: &str) -> Self {
        Self {
            name,
            gln: gln(gln_body),
            role,
            key: SecretKey::generate(),
        }
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The `RegisterParty` body that registers this party with its key.
    pub fn registration(&self) -> EventBody {
        EventBody::RegisterParty {
            party: self.gln.clone(),
            name: self.name.into(),
            role: self.role,
            key: self.public_key(),
            location: None,
        }
    }

    /// An event by this party, now, without items.
    pub fn event(&self, body: EventBody) -> EventSubmission {
        self.event_at(Timestamp::now(), body)
    }

    /// An event by this party at `time`, without items.
    pub fn event_at(&self, time: Timestamp, body: EventBody) -> EventSubmission {
        signed_submission(&self.gln, &self.key, time, body, None)
    }

    /// An event by this party, now, committing to `items` (sorted here).
    pub fn with_items(
        &self,
        items: Vec<String>,
        body: impl FnOnce(ItemSetRef) -> EventBody,
    ) -> EventSubmission {
        self.with_items_at(Timestamp::now(), items, body)
    }

    /// An event by this party at `time`, committing to `items` (sorted here).
    pub fn with_items_at(
        &self,
        time: Timestamp,
        items: Vec<String>,
        body: impl FnOnce(ItemSetRef) -> EventBody,
    ) -> EventSubmission {
        let items = canonical_item_order(items);
        let set = ItemSetRef::commit(&items);
        signed_submission(&self.gln, &self.key, time, body(set), Some(items))
    }

    /// This party as a witness: the cosignature key is its event key and the
    /// witness name its GLN.
    pub fn witness(&self) -> CosignatureSigner {
        CosignatureSigner::new(self.key_name(), self.key.signing_key().clone())
    }

    pub fn witness_verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier::new(self.key_name(), *self.public_key().verifying_key())
    }

    fn key_name(&self) -> KeyName {
        KeyName::parse(self.gln.as_str()).expect("a GLN is a valid key name")
    }

    // -- the custody events, as the scenarios use them

    pub fn register_product(&self, gtin: &Gtin, name: &str) -> EventSubmission {
        self.event(EventBody::RegisterProduct {
            gtin: gtin.clone(),
            name: name.into(),
        })
    }

    pub fn register_batch(&self, batch: &Batch) -> EventSubmission {
        self.event(EventBody::RegisterBatch {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            expiry: batch.expiry.clone(),
            manufactured: Utc::now().date_naive() - Duration::days(30),
        })
    }

    pub fn commission(&self, batch: &Batch, serials: &[&str]) -> EventSubmission {
        let serials = serials.iter().map(|s| s.to_string()).collect();
        self.with_items(serials, |set| EventBody::Commission {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            serials: set,
        })
    }

    pub fn aggregate(&self, case: &Sscc, items: &[String]) -> EventSubmission {
        self.with_items(items.to_vec(), |set| EventBody::Aggregate {
            case: case.clone(),
            contents: set,
        })
    }

    pub fn disaggregate(&self, case: &Sscc) -> EventSubmission {
        self.event(EventBody::Disaggregate { case: case.clone() })
    }

    pub fn ship(
        &self,
        shipment: &str,
        to: &Gln,
        purpose: ShipmentPurpose,
        items: &[String],
    ) -> EventSubmission {
        self.with_items(items.to_vec(), |set| EventBody::Ship {
            shipment: shipment.into(),
            to: to.clone(),
            purpose,
            contents: set,
        })
    }

    pub fn receive(&self, shipment: &str, from: &Gln, items: &[String]) -> EventSubmission {
        self.with_items(items.to_vec(), |set| EventBody::Receive {
            shipment: shipment.into(),
            from: from.clone(),
            received: set,
        })
    }

    pub fn decommission(&self, pack: &PackId, reason: DecommissionReason) -> EventSubmission {
        self.event(EventBody::Decommission {
            pack: pack.clone(),
            reason,
        })
    }

    pub fn reactivate(&self, pack: &PackId) -> EventSubmission {
        self.event(EventBody::Reactivate { pack: pack.clone() })
    }

    pub fn recall(&self, batch: &Batch, reason: &str) -> EventSubmission {
        self.event(EventBody::Recall {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            reason: reason.into(),
        })
    }

    pub fn lift_recall(&self, batch: &Batch, reason: &str) -> EventSubmission {
        self.event(EventBody::LiftRecall {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            reason: reason.into(),
        })
    }

    pub fn verify(&self, pack: &PackId) -> EventSubmission {
        self.event(EventBody::Verify {
            pack: pack.clone(),
            lot: None,
            expiry: None,
            location: None,
        })
    }
}

/// A signed submission of `body` by `actor`, signed with `key` (which need
/// not be the actor's: rejection tests sign with the wrong one).
pub fn signed_submission(
    actor: &Gln,
    key: &SecretKey,
    time: Timestamp,
    body: EventBody,
    items: Option<Vec<String>>,
) -> EventSubmission {
    let signed = Event::new(actor.clone(), time, body)
        .sign(key)
        .expect("an event that serialises canonically");
    EventSubmission::new(signed, items)
}

/// The log's key and the parties of a small supply chain: governance (a
/// regulator), a manufacturer, a distributor, a pharmacy, and an outsider
/// pharmacy that never handles the goods.
pub struct Network {
    pub log_seed: [u8; 32],
    pub governance: Party,
    pub manufacturer: Party,
    pub distributor: Party,
    pub pharmacy: Party,
    pub outsider: Party,
}

pub const ORIGIN: &str = "pedigree.test/log";

impl Network {
    pub fn new() -> Self {
        Self {
            log_seed: rand_seed(),
            governance: Party::new("Medicines Agency", Role::Regulator, "950600000001"),
            manufacturer: Party::new("Acme Pharma", Role::Manufacturer, "950600000002"),
            distributor: Party::new("Wholesale Ltd", Role::Distributor, "950600000003"),
            pharmacy: Party::new("Corner Pharmacy", Role::Pharmacy, "950600000004"),
            outsider: Party::new("Other Pharmacy", Role::Pharmacy, "950600000005"),
        }
    }

    pub fn log_key(&self) -> SecretKey {
        SecretKey::from_seed(&self.log_seed)
    }

    /// The log's note verifier, derived independently of the ledger.
    pub fn log_verifier(&self) -> NoteVerifier {
        NoteVerifier::new(
            KeyName::parse(ORIGIN).expect("origin is a key name"),
            *self.log_key().public_key().verifying_key(),
        )
    }

    /// Settings for a ledger on `db` listening on a free local port, with a
    /// small pool so that concurrent tests stay within the server's
    /// connection limit.
    pub fn settings(&self, db: &TestDatabase) -> Settings {
        let mut settings = Settings::new(self.log_key(), self.governance.public_key());
        settings.listen = "127.0.0.1:0".parse().expect("a socket address");
        settings.database_url = db.url().as_str().to_string();
        settings.origin = ORIGIN.into();
        settings.pool_size = 3;
        // Some scenarios backdate events by up to 11 days (the reactivation
        // window); the bound itself is tested with a 31-day-old event.
        settings.max_event_age = chrono::Duration::days(30);
        settings
    }

    /// Genesis: governance registers itself (with the configured governance
    /// key), then every other party.
    pub fn genesis(&self) -> Vec<EventSubmission> {
        self.genesis_at(Timestamp::now())
    }

    /// Genesis dated `time`: every key is valid from then on.
    pub fn genesis_at(&self, time: Timestamp) -> Vec<EventSubmission> {
        [
            &self.governance,
            &self.manufacturer,
            &self.distributor,
            &self.pharmacy,
            &self.outsider,
        ]
        .into_iter()
        .map(|party| self.governance.event_at(time, party.registration()))
        .collect()
    }
}

fn rand_seed() -> [u8; 32] {
    let key = SecretKey::generate();
    key.signing_key().to_bytes()
}

// ---------------------------------------------------------------- the ledger

/// One event's outcome as `POST /v1/events` reports it.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    Accepted { receipt: Receipt },
    Rejected { code: String, message: String },
}

impl Outcome {
    pub fn receipt(&self) -> &Receipt {
        match self {
            Outcome::Accepted { receipt } => receipt,
            Outcome::Rejected { code, message } => {
                panic!("expected the event to be accepted, but it was rejected: {code}: {message}")
            }
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Outcome::Rejected { code, message } => {
                assert!(!message.is_empty(), "rejection {code} has no message");
                code
            }
            Outcome::Accepted { receipt } => {
                panic!(
                    "expected the event to be rejected, but it was accepted at {}",
                    receipt.index
                )
            }
        }
    }
}

/// A JSON answer: HTTP status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// Asserts a JSON error `{code, message}` with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "unexpected status; body {}", self.body);
        assert_eq!(
            self.body["code"], code,
            "unexpected code; body {}",
            self.body
        );
        let message = self.body["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "error without message: {}", self.body);
        let keys: Vec<&String> = self.body.as_object().map_or(vec![], |o| o.keys().collect());
        assert_eq!(keys, ["code", "message"], "error body {}", self.body);
    }

    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "unexpected status; body {}", self.body);
        self.body
    }
}

/// A ledger serving on a local port, and a client for it.
pub struct Ledger {
    pub base: String,
    client: reqwest::Client,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    verifier: NoteVerifier,
}

impl Ledger {
    /// Builds and starts a ledger; `verifier` is the log key it must sign with.
    pub fn start(settings: Settings, verifier: NoteVerifier) -> Self {
        // The ledger's logs go to the test's captured output, shown on failure.
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let app = Application::build(settings).expect("the ledger starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        Self {
            base,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
            handle,
            task,
            verifier,
        }
    }

    /// Starts a ledger for `network` on `db`.
    pub fn for_network(network: &Network, db: &TestDatabase) -> Self {
        Self::start(network.settings(db), network.log_verifier())
    }

    /// Stops the server gracefully and waits for the writer to finish.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.task
            .await
            .expect("the server task completes")
            .expect("the server stops cleanly");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// Posts a batch; asserts HTTP 200 and one outcome per event. Every
    /// receipt is checked: it names the event and verifies against the
    /// entry's bytes under the log key.
    pub async fn append(&self, events: &[EventSubmission]) -> Vec<Outcome> {
        let answer = self
            .post_json("/v1/events", &serde_json::json!({ "events": events }))
            .await;
        let body = answer.ok();
        let outcomes: Vec<Outcome> = serde_json::from_value(body["results"].clone())
            .unwrap_or_else(|e| panic!("results do not parse ({e}): {body}"));
        assert_eq!(outcomes.len(), events.len(), "one outcome per event");
        for (event, outcome) in events.iter().zip(&outcomes) {
            if let Outcome::Accepted { receipt } = outcome {
                let entry = event.signed.entry_bytes().expect("entry bytes");
                assert_eq!(receipt.event_id, event.signed.id().expect("event id"));
                let checkpoint = receipt
                    .verify(&self.verifier, &entry)
                    .unwrap_or_else(|e| panic!("receipt {} does not verify: {e}", receipt.index));
                assert!(receipt.index < checkpoint.checkpoint().size());
            }
        }
        outcomes
    }

    /// Appends events that must all be accepted; returns their receipts.
    pub async fn accept(&self, events: &[EventSubmission]) -> Vec<Receipt> {
        self.append(events)
            .await
            .iter()
            .map(|o| o.receipt().clone())
            .collect()
    }

    /// Appends one event that must be accepted.
    pub async fn accept_one(&self, event: EventSubmission) -> Receipt {
        self.accept(&[event]).await.remove(0)
    }

    /// Appends one event that must be rejected; returns its code.
    pub async fn reject_one(&self, event: EventSubmission) -> String {
        self.append(&[event]).await[0].code().to_string()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.post_raw(path, "application/json", body.to_string().into_bytes())
            .await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let response = self
            .client
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("the ledger answers");
        answer(response).await
    }

    /// A GET with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, String)]) -> Answer {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        answer(request.send().await.expect("the ledger answers")).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    /// A GET signed with `key` (Pedigree-* headers), made now.
    pub async fn get_signed(&self, path: &str, key: &SecretKey) -> Answer {
        self.get_with(path, &signed_headers(path, key, Utc::now().timestamp()))
            .await
    }

    /// Raw bytes of a GET that must succeed, with its headers.
    pub async fn get_bytes(&self, path: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("the ledger answers");
        assert_eq!(response.status(), 200, "GET {path}");
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body").to_vec();
        (headers, bytes)
    }

    pub async fn get_status(&self, path: &str) -> u16 {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the ledger answers")
            .status()
            .as_u16()
    }

    /// The log size as `GET /v1/log` reports it.
    pub async fn size(&self) -> u64 {
        let info = self.get("/v1/log").await.ok();
        info["tree_size"].as_u64().expect("tree_size")
    }

    /// `GET /checkpoint`, verified under the log key.
    pub async fn checkpoint(&self) -> SignedCheckpoint {
        self.checkpoint_text("/checkpoint").await
    }

    /// `GET /v1/checkpoints/{size}`, verified under the log key.
    pub async fn checkpoint_at(&self, size: u64) -> SignedCheckpoint {
        self.checkpoint_text(&format!("/v1/checkpoints/{size}"))
            .await
    }

    async fn checkpoint_text(&self, path: &str) -> SignedCheckpoint {
        let (_, bytes) = self.get_bytes(path).await;
        let text = String::from_utf8(bytes).expect("a UTF-8 checkpoint");
        SignedCheckpoint::parse_and_verify(&text, &self.verifier)
            .unwrap_or_else(|e| panic!("{path} does not verify: {e}\n{text}"))
    }

    /// The public verification status of a pack.
    pub async fn status(&self, pack: &PackId) -> Value {
        self.get(&format!("/v1/packs/{}/{}", pack.gtin, pack.serial))
            .await
            .ok()
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.expect("a body");
    assert!(
        content_type.starts_with("application/json"),
        "status {status}: expected JSON, got {content_type:?}: {text}"
    );
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    Answer { status, body }
}

/// The `Pedigree-*` headers of a GET of `path` signed with `key` at `time`.
pub fn signed_headers(path: &str, key: &SecretKey, time: i64) -> Vec<(&'static str, String)> {
    SignedRequest::sign(key, "GET", path, b"", time)
        .headers()
        .to_vec()
}

/// The alert codes of a status answer.
pub fn alert_codes(status: &Value) -> Vec<String> {
    status["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["code"].as_str().expect("alert code").to_string())
        .collect()
}

/// Genesis, a product and a fresh batch: the start of most scenarios.
/// Returns the genesis receipts.
pub async fn genesis_with_batch(ledger: &Ledger, network: &Network, batch: &Batch) -> Vec<Receipt> {
    let genesis = ledger.accept(&network.genesis()).await;
    let m = &network.manufacturer;
    ledger
        .accept(&[
            m.register_product(&batch.gtin, "Paracetamol 500 mg, 16 tablets"),
            m.register_batch(batch),
        ])
        .await;
    genesis
}

/// `GET /v1/scan` of a scanned payload.
pub async fn scan(ledger: &Ledger, code: &str) -> Answer {
    ledger
        .get(&format!("/v1/scan?code={}", url_encode(code)))
        .await
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Checks a provenance answer end to end against the log key; returns the
/// kinds of its entries and the item each item proof proves.
pub fn verify_provenance(
    answer: &Value,
    ledger: &Ledger,
    serial: &str,
    batch: &Batch,
) -> Vec<(String, Option<String>)> {
    let checkpoint = SignedCheckpoint::parse_and_verify(
        answer["checkpoint"].as_str().expect("a checkpoint"),
        ledger.verifier(),
    )
    .expect("the provenance checkpoint verifies");
    let tree = checkpoint.checkpoint();
    assert_eq!(answer["tree_size"], tree.size());
    assert_eq!(answer["status"]["serial"], serial);
    let pack = batch.pack(serial);
    let mut seen = Vec::new();
    for entry in answer["entries"].as_array().expect("entries") {
        let signed: SignedEvent =
            serde_json::from_value(entry["entry"].clone()).expect("a signed event");
        signed.verify_signature().expect("the entry's signature");
        let index = entry["index"].as_u64().expect("an index");
        let leaf = merkle::leaf_hash(&signed.entry_bytes().expect("entry bytes"));
        let stored_leaf =
            hex_hash::parse(entry["leaf_hash"].as_str().expect("a leaf hash")).expect("a hex hash");
        assert_eq!(leaf, stored_leaf, "entry {index}");
        let proof: Vec<merkle::Hash> = entry["inclusion_proof"]
            .as_array()
            .expect("an inclusion proof")
            .iter()
            .map(|h| hex_hash::parse(h.as_str().expect("hex")).expect("a hash"))
            .collect();
        merkle::verify_inclusion(&leaf, index, tree.size(), &proof, tree.root())
            .unwrap_or_else(|e| panic!("entry {index} inclusion: {e}"));
        let proven_item = match signed.event.body.item_set() {
            Some((_, set)) => {
                let item_proof = &entry["item_proof"];
                let item = item_proof["item"]
                    .as_str()
                    .expect("a proven item")
                    .to_string();
                let proof: ItemProof =
                    serde_json::from_value(item_proof["proof"].clone()).expect("an item proof");
                proof
                    .verify(&set.root, &[item.as_str()])
                    .unwrap_or_else(|e| panic!("entry {index} item proof: {e}"));
                assert!(
                    item == serial || item == pack_item(&pack) || item.starts_with("(00)"),
                    "entry {index} proves {item}"
                );
                Some(item)
            }
            None => {
                assert!(entry.get("item_proof").is_none(), "entry {index}");
                None
            }
        };
        seen.push((signed.event.body.kind().to_string(), proven_item));
    }
    seen
}

// ---------------------------------------------------------------- the database

pub fn connect(db: &TestDatabase) -> DbConnection {
    DbConnection::open(db.url()).expect("a direct connection to the test database")
}

/// Every stored row of the log and the derived state, as text, in key order:
/// two equal snapshots mean nothing was written in between.
pub fn snapshot(conn: &mut DbConnection) -> Vec<String> {
    fn rows<T: std::fmt::Debug>(table: &str, loaded: QueryResult<Vec<T>>) -> Vec<String> {
        loaded
            .unwrap_or_else(|e| panic!("load {table}: {e}"))
            .iter()
            .map(|row| format!("{table} {row:?}"))
            .collect()
    }
    let mut all = Vec::new();
    all.extend(rows(
        "log_entries",
        log_entries::table
            .order(log_entries::idx)
            .select((log_entries::idx, log_entries::leaf_hash))
            .load::<(i64, Vec<u8>)>(conn),
    ));
    all.extend(rows(
        "event_items",
        event_items::table
            .order((event_items::entry_idx, event_items::position))
            .select((event_items::entry_idx, event_items::item))
            .load::<(i64, String)>(conn),
    ));
    all.extend(rows(
        "tree_nodes",
        tree_nodes::table
            .order((tree_nodes::level, tree_nodes::idx))
            .select((tree_nodes::level, tree_nodes::idx))
            .load::<(i16, i64)>(conn),
    ));
    all.extend(rows(
        "checkpoints",
        checkpoints::table
            .order(checkpoints::tree_size)
            .select(checkpoints::note)
            .load::<String>(conn),
    ));
    all.extend(rows(
        "parties",
        parties::table
            .order(parties::gln)
            .select((parties::gln, parties::role, parties::registered_idx))
            .load::<(String, String, i64)>(conn),
    ));
    all.extend(rows(
        "party_keys",
        party_keys::table
            .order(party_keys::public_key)
            .select((
                party_keys::gln,
                party_keys::valid_from,
                party_keys::valid_until,
                party_keys::end_reason,
            ))
            .load::<(String, i64, Option<i64>, Option<String>)>(conn),
    ));
    all.extend(rows(
        "products",
        products::table
            .order(products::gtin)
            .select((products::gtin, products::owner, products::name))
            .load::<(String, String, String)>(conn),
    ));
    all.extend(rows(
        "batches",
        pedigree_ledger::db::schema::batches::table
            .order((
                pedigree_ledger::db::schema::batches::gtin,
                pedigree_ledger::db::schema::batches::lot,
            ))
            .select(BatchRow::as_select())
            .load(conn),
    ));
    all.extend(rows(
        "packs",
        pedigree_ledger::db::schema::packs::table
            .order((
                pedigree_ledger::db::schema::packs::gtin,
                pedigree_ledger::db::schema::packs::serial,
            ))
            .select(PackRow::as_select())
            .load(conn),
    ));
    all.extend(rows(
        "cases",
        pedigree_ledger::db::schema::cases::table
            .order(pedigree_ledger::db::schema::cases::sscc)
            .select(CaseRow::as_select())
            .load(conn),
    ));
    all.extend(rows(
        "shipments",
        shipments::table
            .order((shipments::sender, shipments::shipment_id))
            .select((
                shipments::sender,
                shipments::shipment_id,
                shipments::receiver,
                shipments::purpose,
                shipments::status,
                shipments::receive_idx,
            ))
            .load::<(String, String, String, String, String, Option<i64>)>(conn),
    ));
    all.extend(rows(
        "shipment_discrepancies",
        shipment_discrepancies::table
            .order((
                shipment_discrepancies::sender,
                shipment_discrepancies::shipment_id,
                shipment_discrepancies::item,
            ))
            .select((
                shipment_discrepancies::shipment_id,
                shipment_discrepancies::item,
                shipment_discrepancies::kind,
            ))
            .load::<(String, String, String)>(conn),
    ));
    all.extend(rows(
        "item_history",
        item_history::table
            .order((item_history::item, item_history::entry_idx))
            .select((item_history::item, item_history::entry_idx))
            .load::<(String, i64)>(conn),
    ));
    all
}

/// The stored row of a pack.
pub fn pack_row(conn: &mut DbConnection, pack: &PackId) -> PackRow {
    pedigree_ledger::custody::load_pack(conn, pack)
        .expect("load pack")
        .unwrap_or_else(|| panic!("pack {pack:?} is not stored"))
}
