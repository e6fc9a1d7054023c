//! Test support of the ledger's HTTP tests: the shared kit (`pedigree-testkit`: a running
//! ledger on a throw-away database, a small supply-chain network of keyed parties, event
//! builders, signed GET requests), started with the ledger tests' settings, plus direct looks
//! at the stored state and end-to-end checks of the ledger's answers.
//!
//! Every scenario is written once as `async fn scenario(db: TestDatabase)` and run on SQLite
//! and (when `PEDIGREE_TEST_POSTGRES_URL` is set) PostgreSQL by [`both_backends!`].

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::ops::Deref;

use diesel::prelude::*;
use pedigree_ledger::custody::{BatchRow, CaseRow, PackRow};
use pedigree_ledger::db::schema::{
    checkpoints, event_items, item_history, log_entries, parties, party_keys, products,
    shipment_discrepancies, shipments, tree_nodes,
};
use pedigree_ledger::db::DbConnection;
use pedigree_ledger::Settings;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::SignedEvent;
use pedigree_schema::gs1::PackId;
use pedigree_schema::itemset::ItemProof;
use pedigree_schema::merkle::{self, hex_hash};
use pedigree_schema::note::NoteVerifier;
use pedigree_schema::receipt::Receipt;
pub use pedigree_testkit::*;
use serde_json::Value;

/// The settings of the ledger tests' ledgers.
pub trait LedgerSettings {
    /// The kit's ledger settings on `db`, taking events dated up to 30 days back: some
    /// scenarios backdate events by up to 11 days (the reactivation window); the bound
    /// itself is tested with a 31-day-old event.
    fn settings(&self, db: &TestDatabase) -> Settings;
}

impl LedgerSettings for Network {
    fn settings(&self, db: &TestDatabase) -> Settings {
        let mut settings = self.ledger_settings(db);
        settings.max_event_age = chrono::Duration::days(30);
        settings
    }
}

/// The kit's [`pedigree_testkit::Ledger`], started with an explicit log verifier (it
/// dereferences to the kit's client).
pub struct Ledger(pedigree_testkit::Ledger);

impl Ledger {
    /// Builds and starts a ledger; `verifier` is the log key it must sign with.
    pub fn start(settings: Settings, verifier: NoteVerifier) -> Self {
        Self(pedigree_testkit::Ledger::start_with_verifier(
            settings, verifier,
        ))
    }

    /// Starts a ledger for `network` on `db`.
    pub fn for_network(network: &Network, db: &TestDatabase) -> Self {
        Self::start(network.settings(db), network.log_verifier())
    }

    /// Stops the server gracefully and waits for the writer to finish.
    pub async fn stop(self) {
        self.0.stop().await;
    }
}

impl Deref for Ledger {
    type Target = pedigree_testkit::Ledger;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
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

/// `pedigree audit` of the database behind `conn`, as the network's auditor runs it, with its
/// scratch database in the system temporary directory (which the audits of both backends'
/// tests share while running at once).
pub fn run_audit(conn: &mut DbConnection, net: &Network) -> pedigree_ledger::audit::AuditReport {
    pedigree_ledger::audit::audit(
        conn,
        &net.log_verifier(),
        net.governance.public_key(),
        &std::env::temp_dir(),
    )
    .expect("the audit runs to the end")
}

/// The stored row of a pack.
pub fn pack_row(conn: &mut DbConnection, pack: &PackId) -> PackRow {
    pedigree_ledger::custody::load_pack(conn, pack)
        .expect("load pack")
        .unwrap_or_else(|| panic!("pack {pack:?} is not stored"))
}
