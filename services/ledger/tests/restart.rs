//! A stopped and rebuilt ledger on the same database keeps its log, its
//! state and its checkpoint chain, and goes on appending where it stopped.

#[macro_use]
mod common;

use common::*;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::Application;
use pedigree_schema::keys::SecretKey;
use pedigree_schema::receipt::ConsistencyProof;

both_backends!(a_restarted_ledger_keeps_its_log_and_goes_on);

async fn a_restarted_ledger_keeps_its_log_and_goes_on(db: TestDatabase) {
    let net = Network::new();
    let batch = Batch::fresh(&gtin("0950600013435"), "L1");
    let (m, p) = (&net.manufacturer, &net.pharmacy);
    let p1 = batch.pack("P1");

    let ledger = Ledger::for_network(&net, &db);
    genesis_with_batch(&ledger, &net, &batch).await;
    let commission = m.commission(&batch, &["P1", "P2"]);
    let commissioned = ledger.accept_one(commission.clone()).await;
    let before = ledger.checkpoint().await;
    let size = ledger.size().await;
    let status = ledger.status(&p1).await;
    ledger.stop().await;

    // Rebuilt on the same database: same log, same head, same state.
    let ledger = Ledger::for_network(&net, &db);
    assert_eq!(ledger.size().await, size);
    let reopened = ledger.checkpoint().await;
    assert_eq!(reopened, before);
    assert_eq!(ledger.status(&p1).await, status);
    // What was appended before is recognised, not appended again.
    let again = ledger.accept_one(commission).await;
    assert_eq!(again.index, commissioned.index);
    assert_eq!(ledger.size().await, size);

    // Appends continue at the next index, and the chain continues.
    let next = ledger.accept_one(p.verify(&p1)).await;
    assert_eq!(next.index, size);
    let after = ledger.checkpoint().await;
    assert_eq!(after.checkpoint().size(), size + 1);
    after
        .follows(before.checkpoint())
        .expect("the first checkpoint after the restart follows the last before it");
    let path = format!("/v1/proofs/consistency?old={size}&new={}", size + 1);
    let proof: ConsistencyProof =
        serde_json::from_value(ledger.get(&path).await.ok()).expect("a consistency proof");
    proof.verify(&before, &after).expect("the log only grew");
    ledger.stop().await;

    // A ledger with another log key refuses to take over this log.
    let mut foreign = net.settings(&db);
    foreign.log_key = SecretKey::generate();
    assert!(
        Application::build(foreign).is_err(),
        "a ledger must not start on a log signed by another key"
    );

    // A third start still agrees, and the state kept moving with the log.
    let ledger = Ledger::for_network(&net, &db);
    assert_eq!(ledger.checkpoint().await, after);
    ledger
        .accept_one(m.ship(
            "SHIP-1",
            &net.distributor.gln,
            pedigree_schema::event::ShipmentPurpose::Sale,
            &[pack_item(&p1)],
        ))
        .await;
    assert_eq!(ledger.status(&p1).await["status"], "in_transit");
    ledger
        .checkpoint()
        .await
        .follows(after.checkpoint())
        .expect("the chain continues across a second restart");
    ledger.stop().await;
}
