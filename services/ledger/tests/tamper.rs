//! Tampering with the stored rows, table by table: every table of the log and of the state
//! derived from it has rows edited, deleted and reordered (or swapped, for tables whose rows
//! have no order) directly in the database, and `pedigree audit` must report each change. Each
//! change runs in a transaction the test rolls back, so all start from the same real log.
//!
//! Clients' own checks are tried too: with an entry or a tree node changed in the database, a
//! ledger serves proofs that fail the schema crate's verification (signature, leaf hash and
//! inclusion in the signed checkpoint), as the scanner checks them.
//!
//! Operational tables that the log does not imply cannot be checked by a replay; they are
//! listed in [`OPERATIONAL`] with the reason, and the test fails when a table is in neither
//! list, so a new table has to be classified.

#[macro_use]
mod common;

use std::collections::BTreeSet;

use chrono::Utc;
use common::*;
use diesel::prelude::*;
use diesel::sql_types::Text;
use pedigree_ledger::audit::AuditReport;
use pedigree_ledger::db::schema::{log_entries, tree_nodes};
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::db::DbConnection;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::{DecommissionReason, EventBody, ShipmentPurpose, SignedEvent};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::merkle::{self, hex_hash};
use pedigree_schema::note::NoteVerifier;
use serde_json::json;

both_backends!(every_table_tampered_with_is_caught_by_the_audit_and_by_clients);

/// Tables the audit does not judge but every client does: a cosignature is verified under the
/// witness's key by whoever relies on it (the scanner, the witnesses), so a changed one is
/// refused where it is used (checked below with a ledger serving it).
const CLIENT_CHECKED: [&str; 1] = ["cosignatures"];

/// Tables whose rows the log does not imply, so an audit replaying the log cannot judge them.
const OPERATIONAL: [(&str, &str); 4] = [
    (
        "risk_alerts",
        "the regulators' work queue of risk scores of verifications (scores of a model that may change)",
    ),
    ("risk_alert_notes", "regulators' triage notes on alerts"),
    ("dashboard_logins", "regulator dashboard accounts (hashed tokens)"),
    ("dashboard_sessions", "regulator dashboard sessions (hashed)"),
];

/// One change to the stored rows and what the audit must say about it.
struct Case {
    table: &'static str,
    change: &'static str,
    statements: Vec<String>,
    /// Words one of the audit's findings must contain.
    finding: &'static str,
}

fn case(table: &'static str, change: &'static str, finding: &'static str, sql: &[&str]) -> Case {
    Case {
        table,
        change,
        statements: sql.iter().map(|s| s.to_string()).collect(),
        finding,
    }
}

/// The log the cases tamper with, with rows in every audited table; returns the facts the
/// cases name.
struct World {
    net: Network,
    batch: Batch,
    /// Index of the shipment SHIP-1 (manufacturer → distributor).
    ship_index: u64,
    size: u64,
}

async fn build(ledger: &Ledger, net: Network) -> World {
    let batch = Batch::fresh(&gtin("0950600013435"), "L1");
    let (m, d, p) = (&net.manufacturer, &net.distributor, &net.pharmacy);
    let case = sscc("09506000100000001");
    let item = |s: &str| pack_item(&batch.pack(s));
    let sale = ShipmentPurpose::Sale;
    genesis_with_batch(ledger, &net, &batch).await;
    ledger
        .accept(&[
            m.commission(&batch, &["P1", "P2", "P3", "P4", "P5", "P6"]),
            m.aggregate(&case, &[item("P1"), item("P2")]),
        ])
        .await;
    let ship = m.ship(
        "SHIP-1",
        &d.gln,
        sale,
        &[case_item(&case), item("P3"), item("P4")],
    );
    let ship_index = ledger.accept_one(ship).await.index;
    // P4 does not arrive: a discrepancy.
    ledger
        .accept_one(d.receive("SHIP-1", &m.gln, &[case_item(&case), item("P3")]))
        .await;
    ledger
        .accept(&[
            d.disaggregate(&case),
            d.ship("SHIP-2", &p.gln, sale, &[item("P1")]),
        ])
        .await;
    ledger
        .accept(&[
            p.receive("SHIP-2", &d.gln, &[item("P1")]),
            p.decommission(&batch.pack("P1"), DecommissionReason::Dispensed),
        ])
        .await;
    let rotated = SecretKey::generate();
    ledger
        .accept(&[
            m.recall(&batch, "label misprint"),
            net.governance.event(EventBody::RotateKey {
                party: net.outsider.gln.clone(),
                key: rotated.public_key(),
            }),
        ])
        .await;
    // A cosignature, and a signed read (a nonce).
    let latest = ledger.checkpoint().await;
    let size = latest.checkpoint().size();
    let line = d
        .witness()
        .cosign(latest.checkpoint(), Utc::now().timestamp() as u64)
        .expect("cosign");
    ledger
        .post_json(
            &format!("/v1/checkpoints/{size}/cosignatures"),
            &json!({ "cosignature": line.to_string() }),
        )
        .await
        .ok();
    let provenance = format!("/v1/packs/{}/P1/provenance", batch.gtin);
    ledger.get_signed(&provenance, &p.key).await.ok();
    World {
        net,
        batch,
        ship_index,
        size,
    }
}

/// The changes tried: for every audited table, edits, deletions and reorderings.
fn cases(world: &World) -> Vec<Case> {
    let gtin = world.batch.gtin.as_str().to_string();
    let outsider = world.net.outsider.gln.as_str().to_string();
    let ship = world.ship_index;
    let last = world.size - 1;
    let mut cases = vec![
        // The log.
        case("log_entries", "an entry deleted from the middle", "is missing",
            &[&format!("DELETE FROM log_entries WHERE idx = {ship}")]),
        case("log_entries", "the last entry deleted", "latest checkpoint covers",
            &[&format!("DELETE FROM log_entries WHERE idx = {last}")]),
        case("log_entries", "two entries swapped", "differs from checkpoint", &[
            &format!("UPDATE log_entries SET idx = -1 WHERE idx = {ship}"),
            &format!("UPDATE log_entries SET idx = {ship} WHERE idx = {}", ship + 1),
            &format!("UPDATE log_entries SET idx = {} WHERE idx = -1", ship + 1),
        ]),
        case("log_entries", "an entry's kind column edited", "indexed columns disagree",
            &[&format!("UPDATE log_entries SET kind = 'receive' WHERE idx = {ship}")]),
        case("log_entries", "an entry's actor column edited", "indexed columns disagree",
            &[&format!("UPDATE log_entries SET actor = '{outsider}' WHERE idx = {ship}")]),
        case("log_entries", "a leaf hash replaced by another entry's", "stored leaf hash", &[
            &format!("UPDATE log_entries SET leaf_hash = (SELECT leaf_hash FROM log_entries WHERE idx = 0) WHERE idx = {ship}"),
        ]),
        case("event_items", "an item renamed", "stored items", &[
            &format!("UPDATE event_items SET item = '(00)095060001000000099' WHERE entry_idx = {ship} AND position = 0"),
        ]),
        case("event_items", "an item deleted", "stored items",
            &[&format!("DELETE FROM event_items WHERE entry_idx = {ship} AND position = 1")]),
        case("event_items", "two items reordered", "stored items", &[
            &format!("UPDATE event_items SET position = -1 WHERE entry_idx = {ship} AND position = 0"),
            &format!("UPDATE event_items SET position = 0 WHERE entry_idx = {ship} AND position = 1"),
            &format!("UPDATE event_items SET position = 1 WHERE entry_idx = {ship} AND position = -1"),
        ]),
        case("event_items", "an item added", "event_items", &[
            &format!("INSERT INTO event_items (entry_idx, position, item) VALUES (0, 0, '(01){gtin}(21)P9')"),
        ]),
        case("tree_nodes", "a node's hash replaced by its sibling's", "stored tree", &[
            "UPDATE tree_nodes SET hash = (SELECT hash FROM tree_nodes WHERE level = 1 AND idx = 1) WHERE level = 1 AND idx = 0",
        ]),
        case("tree_nodes", "a node deleted", "stored tree", &["DELETE FROM tree_nodes WHERE level = 2 AND idx = 1"]),
        case("tree_nodes", "two leaves swapped", "stored tree", &[
            "UPDATE tree_nodes SET idx = -1 WHERE level = 0 AND idx = 2",
            "UPDATE tree_nodes SET idx = 2 WHERE level = 0 AND idx = 3",
            "UPDATE tree_nodes SET idx = 3 WHERE level = 0 AND idx = -1",
        ]),
        case("tree_nodes", "a node added", "tree_nodes holds", &[
            "INSERT INTO tree_nodes (level, idx, hash) SELECT 40, 0, hash FROM tree_nodes WHERE level = 0 AND idx = 0",
        ]),
        case("checkpoints", "a checkpoint's root replaced", "disagrees with its signed note", &[
            "UPDATE checkpoints SET root_hash = (SELECT root_hash FROM checkpoints WHERE tree_size = 5) WHERE tree_size = 7",
        ]),
        case("checkpoints", "a checkpoint's note changed", "checkpoint at size", &[
            "UPDATE checkpoints SET note = REPLACE(note, 'pedigree.test/log', 'pedigree.test/lag') WHERE tree_size = 7",
        ]),
        case("checkpoints", "a checkpoint deleted from the chain", "breaks the chain",
            &["DELETE FROM checkpoints WHERE tree_size = 7"]),
        case("checkpoints", "the latest checkpoint deleted", "latest checkpoint covers",
            &[&format!("DELETE FROM checkpoints WHERE tree_size = {}", world.size)]),
        case("checkpoints", "two checkpoints' notes swapped", "disagrees with its signed note", &[
            "UPDATE checkpoints SET note = (SELECT note FROM checkpoints WHERE tree_size = 5) WHERE tree_size = 7",
        ]),
        // The state derived from the log.
        case("parties", "a party's role edited", "parties",
            &[&format!("UPDATE parties SET role = 'regulator' WHERE gln = '{outsider}'")]),
        case("parties", "a party deleted", "parties",
            &[&format!("DELETE FROM parties WHERE gln = '{outsider}'")]),
        case("parties", "a party added", "parties", &[
            "INSERT INTO parties (gln, name, role, registered_idx) VALUES ('9506000000997', 'Ghost', 'pharmacy', 1)",
        ]),
        case("party_keys", "a key's validity extended", "party_keys",
            &["UPDATE party_keys SET valid_until = NULL, ended_idx = NULL, end_reason = NULL WHERE ended_idx IS NOT NULL"]),
        case("party_keys", "a key deleted", "party_keys",
            &[&format!("DELETE FROM party_keys WHERE gln = '{outsider}'")]),
        case("party_keys", "two parties' keys swapped", "party_keys", &[
            &format!("UPDATE party_keys SET gln = 'x' WHERE gln = '{outsider}'"),
            &format!("UPDATE party_keys SET gln = '{outsider}' WHERE gln = '{}'", world.net.pharmacy.gln),
            &format!("UPDATE party_keys SET gln = '{}' WHERE gln = 'x'", world.net.pharmacy.gln),
        ]),
        case("products", "a product given to another owner", "products",
            &[&format!("UPDATE products SET owner = '{outsider}'")]),
        case("products", "a product deleted", "products", &["DELETE FROM products"]),
        case("batches", "a recall lifted", "batches",
            &["UPDATE batches SET recalled_by = NULL, recall_reason = NULL, recall_idx = NULL"]),
        case("batches", "an expiry moved", "batches", &["UPDATE batches SET expiry = '991231'"]),
        case("batches", "a batch deleted", "batches", &["DELETE FROM batches"]),
        case("packs", "a dispensed pack reactivated", "packs", &[
            "UPDATE packs SET status = 'active', decommission_reason = NULL, decommissioned_by = NULL, decommissioned_at = NULL WHERE serial = 'P1'",
        ]),
        case("packs", "a pack handed to someone else", "packs",
            &[&format!("UPDATE packs SET custodian = '{outsider}' WHERE serial = 'P5'")]),
        case("packs", "a pack deleted", "packs", &["DELETE FROM packs WHERE serial = 'P6'"]),
        case("packs", "two packs' custodians swapped", "packs", &[
            "UPDATE packs SET custodian = (SELECT custodian FROM packs WHERE serial = 'P5') WHERE serial = 'P3'",
            &format!("UPDATE packs SET custodian = '{}' WHERE serial = 'P5'", world.net.distributor.gln),
        ]),
        case("cases", "a case's custodian edited", "cases",
            &[&format!("UPDATE cases SET custodian = '{outsider}'")]),
        case("cases", "a case deleted", "cases", &["DELETE FROM cases"]),
        case("shipments", "a shipment redirected", "shipments",
            &[&format!("UPDATE shipments SET receiver = '{outsider}' WHERE shipment_id = 'SHIP-2'")]),
        case("shipments", "a shipment's receipt erased", "shipments",
            &["UPDATE shipments SET status = 'in_transit', receive_idx = NULL WHERE shipment_id = 'SHIP-1'"]),
        case("shipments", "a shipment deleted", "shipments", &["DELETE FROM shipments WHERE shipment_id = 'SHIP-2'"]),
        case("shipment_discrepancies", "a discrepancy erased", "shipment_discrepancies",
            &["DELETE FROM shipment_discrepancies"]),
        case("shipment_discrepancies", "a discrepancy's kind edited", "shipment_discrepancies",
            &["UPDATE shipment_discrepancies SET kind = 'unexpected'"]),
        // The world has no selective recall, so the rows of one are added.
        case("pack_recalls", "a recall of one pack the log does not hold", "pack_recalls", &[
            &format!(
                "INSERT INTO pack_recalls (gtin, serial, lot, recalled_by, recall_idx) \
                 VALUES ('{gtin}', 'P5', 'L1', '{}', {ship})",
                world.net.manufacturer.gln
            ),
        ]),
        case("item_history", "a pack's history entry deleted", "item_history",
            &[&format!("DELETE FROM item_history WHERE entry_idx = {ship}")]),
        case("item_history", "a history entry pointed at another entry", "item_history",
            &[&format!("UPDATE item_history SET entry_idx = 0 WHERE entry_idx = {ship}")]),
    ];
    cases.sort_by_key(|c| c.table);
    cases
}

fn execute(conn: &mut DbConnection, sql: &str) -> usize {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).execute(c),
        DbConnection::Pg(c) => diesel::sql_query(sql).execute(c),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Applies a case's statements, audits, and rolls everything back; returns the report.
fn audit_tampered(conn: &mut DbConnection, net: &Network, case: &Case) -> AuditReport {
    let (changed, report) = audit_after(conn, net, &case.statements);
    assert!(
        changed > 0,
        "{}: {}: no row changed",
        case.table,
        case.change
    );
    report
}

/// Runs `statements`, audits, and rolls everything back; returns the rows changed and the
/// report.
fn audit_after(
    conn: &mut DbConnection,
    net: &Network,
    statements: &[String],
) -> (usize, AuditReport) {
    let mut outcome = None;
    let _ = conn.transaction::<(), _, _>(|c| {
        let changed: usize = statements.iter().map(|sql| execute(c, sql)).sum();
        outcome = Some((changed, run_audit(c, net)));
        Err(diesel::result::Error::RollbackTransaction)
    });
    outcome.expect("the audit ran")
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

fn tables(conn: &mut DbConnection) -> BTreeSet<String> {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .load::<TableName>(c),
        DbConnection::Pg(c) => diesel::sql_query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()",
        )
        .load::<TableName>(c),
    }
    .expect("list tables")
    .into_iter()
    .map(|t| t.name)
    .filter(|name| !name.starts_with("__diesel"))
    .collect()
}

async fn every_table_tampered_with_is_caught_by_the_audit_and_by_clients(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let world = build(&ledger, net).await;
    ledger.stop().await;
    let net = &world.net;
    let mut conn = connect(&db);
    assert!(run_audit(&mut conn, net).is_clean(), "the untouched log");

    let cases = cases(&world);
    let audited: BTreeSet<String> = cases.iter().map(|c| c.table.to_string()).collect();
    let operational: BTreeSet<String> = OPERATIONAL.iter().map(|(t, _)| t.to_string()).collect();
    let unclassified: Vec<_> = tables(&mut conn)
        .into_iter()
        .filter(|t| {
            !audited.contains(t)
                && !operational.contains(t)
                && !CLIENT_CHECKED.contains(&t.as_str())
        })
        .collect();
    assert!(
        unclassified.is_empty(),
        "tables neither tampered with here nor listed as operational: {unclassified:?}"
    );

    let mut missed = Vec::new();
    for case in &cases {
        let report = audit_tampered(&mut conn, net, case);
        let found = report
            .findings
            .iter()
            .any(|f| f.problem.contains(case.finding));
        if !found {
            missed.push(format!(
                "{}: {} (expected a finding with {:?}): {:#?}",
                case.table, case.change, case.finding, report.findings
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "tampering not reported:\n{}",
        missed.join("\n")
    );

    // Operational rows are outside the audit's reach: deleting them is not a finding.
    for (table, _) in OPERATIONAL {
        let report = audit_after(&mut conn, net, &[format!("DELETE FROM {table}")]).1;
        assert!(report.is_clean(), "{table}: {:#?}", report.findings);
    }
    assert!(
        run_audit(&mut conn, net).is_clean(),
        "every change was rolled back"
    );

    clients_refuse_tampered_proofs(&db, &world, &mut conn).await;
}

/// Edits stored entries and tree nodes for real (committed), serves them from a ledger, and
/// checks that the proofs clients check fail.
async fn clients_refuse_tampered_proofs(db: &TestDatabase, world: &World, conn: &mut DbConnection) {
    let net = &world.net;
    let ship = world.ship_index as i64;
    let provenance = format!("/v1/packs/{}/P3/provenance", world.batch.gtin);
    let reader = &net.distributor.key;

    // 1. The shipment entry rewritten (sent elsewhere), its leaf hash column too.
    let original: (Vec<u8>, Vec<u8>) = log_entries::table
        .find(ship)
        .select((log_entries::entry, log_entries::leaf_hash))
        .first(conn)
        .expect("the shipment entry");
    let mut forged = SignedEvent::from_entry_bytes(&original.0).expect("a stored entry");
    if let EventBody::Ship { to, .. } = &mut forged.event.body {
        *to = net.outsider.gln.clone();
    }
    let forged = forged.entry_bytes().expect("canonical bytes");
    diesel::update(log_entries::table.find(ship))
        .set((
            log_entries::entry.eq(&forged),
            log_entries::leaf_hash.eq(merkle::leaf_hash(&forged).to_vec()),
        ))
        .execute(conn)
        .expect("forge the entry");
    let ledger = Ledger::for_network(net, db);
    let answer = ledger.get_signed(&provenance, reader).await.ok();
    let refused = check_provenance(&answer, &net.log_verifier()).expect_err("a forged entry");
    assert!(refused.contains(&format!("entry {ship}")), "{refused}");
    ledger.stop().await;
    diesel::update(log_entries::table.find(ship))
        .set((
            log_entries::entry.eq(&original.0),
            log_entries::leaf_hash.eq(&original.1),
        ))
        .execute(conn)
        .expect("restore the entry");

    // 2. A tree node on the entry's proof path replaced: its inclusion proof fails.
    let sibling = NodeAt(0, ship ^ 1);
    let stored: Vec<u8> = sibling.hash(conn);
    diesel::update(tree_nodes::table.find((sibling.0, sibling.1)))
        .set(tree_nodes::hash.eq(vec![7u8; 32]))
        .execute(conn)
        .expect("tamper with a node");
    let ledger = Ledger::for_network(net, db);
    let answer = ledger.get_signed(&provenance, reader).await.ok();
    let refused = check_provenance(&answer, &net.log_verifier()).expect_err("a forged node");
    assert!(refused.contains("inclusion"), "{refused}");
    ledger.stop().await;
    diesel::update(tree_nodes::table.find((sibling.0, sibling.1)))
        .set(tree_nodes::hash.eq(&stored))
        .execute(conn)
        .expect("restore the node");

    // 3. A cosignature moved to another checkpoint: it no longer verifies where it is served.
    let size = world.size as i64;
    let moved = execute(
        conn,
        &format!("UPDATE cosignatures SET tree_size = 7 WHERE tree_size = {size}"),
    );
    assert_eq!(moved, 1, "the distributor's cosignature");
    let ledger = Ledger::for_network(net, db);
    let served = ledger.checkpoint_at(7).await;
    let witnesses = [net.distributor.witness_verifier()];
    match served.verified_cosignatures(&witnesses) {
        Ok(verified) => assert!(verified.is_empty(), "a moved cosignature verified"),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    ledger.stop().await;
    execute(
        conn,
        &format!("UPDATE cosignatures SET tree_size = {size} WHERE tree_size = 7"),
    );

    // Restored, the same checks pass: the failures above were the tampering.
    let ledger = Ledger::for_network(net, db);
    let answer = ledger.get_signed(&provenance, reader).await.ok();
    check_provenance(&answer, &net.log_verifier()).expect("the genuine provenance verifies");
    ledger.stop().await;
}

/// A stored tree node (level, index).
struct NodeAt(i16, i64);

impl NodeAt {
    fn hash(&self, conn: &mut DbConnection) -> Vec<u8> {
        tree_nodes::table
            .find((self.0, self.1))
            .select(tree_nodes::hash)
            .first(conn)
            .expect("a stored node")
    }
}

/// The checks a client makes on a provenance answer, with the schema crate only: the
/// checkpoint's signature, and for every entry its signature, its leaf hash and its inclusion
/// in the checkpoint's tree. The first failure, naming the entry.
fn check_provenance(answer: &serde_json::Value, log: &NoteVerifier) -> Result<(), String> {
    let checkpoint =
        SignedCheckpoint::parse_and_verify(answer["checkpoint"].as_str().unwrap_or_default(), log)
            .map_err(|e| format!("checkpoint: {e}"))?;
    let tree = checkpoint.checkpoint();
    for entry in answer["entries"].as_array().ok_or("no entries")? {
        let index = entry["index"].as_u64().ok_or("an entry without index")?;
        let signed: SignedEvent = serde_json::from_value(entry["entry"].clone())
            .map_err(|e| format!("entry {index}: {e}"))?;
        signed
            .verify_signature()
            .map_err(|e| format!("entry {index}: signature: {e}"))?;
        let leaf = merkle::leaf_hash(&signed.entry_bytes().map_err(|e| e.to_string())?);
        let served = hex_hash::parse(entry["leaf_hash"].as_str().unwrap_or_default())
            .map_err(|e| format!("entry {index}: leaf hash: {e}"))?;
        if served != leaf {
            return Err(format!("entry {index}: leaf hash is not the entry's"));
        }
        let proof: Vec<merkle::Hash> = entry["inclusion_proof"]
            .as_array()
            .ok_or("no inclusion proof")?
            .iter()
            .map(|h| hex_hash::parse(h.as_str().unwrap_or_default()).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        merkle::verify_inclusion(&leaf, index, tree.size(), &proof, tree.root())
            .map_err(|e| format!("entry {index}: inclusion: {e}"))?;
    }
    Ok(())
}
