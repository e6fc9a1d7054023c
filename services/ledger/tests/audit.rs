//! `pedigree audit` on a real log built over HTTP: clean as written, and
//! each kind of tampering with the stored rows is found, naming the entry
//! concerned where there is one.

#[macro_use]
mod common;

use common::*;
use diesel::prelude::*;
use pedigree_ledger::audit::AuditReport;
use pedigree_ledger::db::schema::{checkpoints, log_entries, packs, tree_nodes};
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_schema::event::{DecommissionReason, ShipmentPurpose, SignedEvent};

both_backends!(audit_is_clean_on_a_real_log_and_finds_tampering);

/// Asserts that `report` has findings, the first naming `entry` (`None`:
/// none names an entry) and mentioning `words`.
fn assert_found(report: &AuditReport, entry: Option<u64>, words: &str) {
    assert!(!report.is_clean(), "tampering went unnoticed");
    assert_eq!(report.first_bad_entry(), entry, "{:#?}", report.findings);
    assert!(
        report.findings.iter().any(|f| f.problem.contains(words)),
        "no finding mentions {words:?}: {:#?}",
        report.findings
    );
}

async fn audit_is_clean_on_a_real_log_and_finds_tampering(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let batch = Batch::fresh(&gtin("0950600013435"), "L1");
    let (m, d, p) = (&net.manufacturer, &net.distributor, &net.pharmacy);
    let case = sscc("09506000100000001");
    let item = |s: &str| pack_item(&batch.pack(s));
    let sale = ShipmentPurpose::Sale;
    genesis_with_batch(&ledger, &net, &batch).await;
    ledger
        .accept(&[
            m.commission(&batch, &["P1", "P2", "P3", "P4"]),
            m.aggregate(&case, &[item("P1"), item("P2")]),
        ])
        .await;
    let ship = m.ship("SHIP-1", &d.gln, sale, &[case_item(&case), item("P3")]);
    let ship_index = ledger.accept_one(ship).await.index;
    ledger
        .accept_one(d.receive("SHIP-1", &m.gln, &[case_item(&case)]))
        .await;
    ledger.accept_one(d.disaggregate(&case)).await;
    ledger
        .accept_one(d.ship("SHIP-2", &p.gln, sale, &[item("P1")]))
        .await;
    ledger
        .accept(&[
            p.receive("SHIP-2", &d.gln, &[item("P1")]),
            p.decommission(&batch.pack("P1"), DecommissionReason::Dispensed),
            m.recall(&batch, "label misprint"),
        ])
        .await;
    let size = ledger.size().await;
    let checkpoint_count = 8;
    ledger.stop().await;

    let mut conn = connect(&db);
    let clean = run_audit(&mut conn, &net);
    assert!(clean.is_clean(), "{:#?}", clean.findings);
    assert_eq!(clean.entries, size);
    assert_eq!(clean.checkpoints, checkpoint_count);

    // 1. A pack handed to someone else behind the log's back.
    let p4 = batch.pack("P4");
    let p4_row = pack_row(&mut conn, &p4);
    let p4_key = packs::table.find((p4.gtin.as_str(), p4.serial.as_str()));
    diesel::update(p4_key)
        .set(packs::custodian.eq(net.outsider.gln.as_str()))
        .execute(&mut conn)
        .expect("tamper with a custodian");
    assert_found(
        &run_audit(&mut conn, &net),
        Some(p4_row.last_idx as u64),
        "packs",
    );
    diesel::update(p4_key)
        .set(packs::custodian.eq(&p4_row.custodian))
        .execute(&mut conn)
        .expect("restore the custodian");
    assert!(run_audit(&mut conn, &net).is_clean());

    // 2. An entry rewritten: the shipment sent somewhere else.
    let entry_key = log_entries::table.find(ship_index as i64);
    let original: Vec<u8> = entry_key
        .select(log_entries::entry)
        .first(&mut conn)
        .expect("the shipment entry");
    let mut forged = SignedEvent::from_entry_bytes(&original).expect("a stored entry");
    if let pedigree_schema::event::EventBody::Ship { to, .. } = &mut forged.event.body {
        *to = net.outsider.gln.clone();
    }
    let forged = forged.entry_bytes().expect("canonical bytes");
    assert_ne!(forged, original);
    diesel::update(entry_key)
        .set(log_entries::entry.eq(&forged))
        .execute(&mut conn)
        .expect("tamper with an entry");
    let report = run_audit(&mut conn, &net);
    assert_found(&report, Some(ship_index), "leaf hash");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.entry == Some(ship_index) && f.problem.contains("signature")),
        "the forged entry's signature: {:#?}",
        report.findings
    );
    diesel::update(entry_key)
        .set(log_entries::entry.eq(&original))
        .execute(&mut conn)
        .expect("restore the entry");
    assert!(run_audit(&mut conn, &net).is_clean());

    // 3. A stored tree node lost: the subtree over leaves 4..8.
    let node_key = tree_nodes::table.find((2i16, 1i64));
    let hash: Vec<u8> = node_key
        .select(tree_nodes::hash)
        .first(&mut conn)
        .expect("node 1 at level 2");
    diesel::delete(node_key)
        .execute(&mut conn)
        .expect("delete a tree node");
    assert_found(&run_audit(&mut conn, &net), Some(4), "node 1 at level 2");
    diesel::insert_into(tree_nodes::table)
        .values((
            tree_nodes::level.eq(2i16),
            tree_nodes::idx.eq(1i64),
            tree_nodes::hash.eq(&hash),
        ))
        .execute(&mut conn)
        .expect("restore the tree node");
    assert!(run_audit(&mut conn, &net).is_clean());

    // 4. A checkpoint rewritten: its root, then its signed note.
    let sizes: Vec<i64> = checkpoints::table
        .order(checkpoints::tree_size)
        .select(checkpoints::tree_size)
        .load(&mut conn)
        .expect("checkpoint sizes");
    let middle = sizes[sizes.len() / 2];
    let checkpoint_key = checkpoints::table.find(middle);
    let (root, note): (Vec<u8>, String) = checkpoint_key
        .select((checkpoints::root_hash, checkpoints::note))
        .first(&mut conn)
        .expect("a checkpoint");
    diesel::update(checkpoint_key)
        .set(checkpoints::root_hash.eq(vec![0u8; 32]))
        .execute(&mut conn)
        .expect("tamper with a checkpoint's root");
    assert_found(
        &run_audit(&mut conn, &net),
        None,
        &format!("checkpoint row {middle}"),
    );
    diesel::update(checkpoint_key)
        .set(checkpoints::root_hash.eq(&root))
        .execute(&mut conn)
        .expect("restore the root");
    let forged_note = note.replacen(&format!("\n{middle}\n"), &format!("\n{}\n", middle + 1), 1);
    assert_ne!(forged_note, note);
    diesel::update(checkpoint_key)
        .set(checkpoints::note.eq(&forged_note))
        .execute(&mut conn)
        .expect("tamper with a checkpoint's note");
    assert_found(
        &run_audit(&mut conn, &net),
        None,
        &format!("checkpoint at size {middle}"),
    );
    diesel::update(checkpoint_key)
        .set(checkpoints::note.eq(&note))
        .execute(&mut conn)
        .expect("restore the note");
    assert!(run_audit(&mut conn, &net).is_clean());
}
