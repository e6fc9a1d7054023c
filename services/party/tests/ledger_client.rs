//! The ledger client against a real ledger: each call reaches its endpoint, restricted reads
//! are signed with the party key, and failures say whether a retry can help.

mod common;

use std::sync::Arc;

use common::*;
use pedigree_party::{AppendResult, LedgerClient, LedgerError};
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::{canonical_item_order, EventBody, ItemSetRef};
use pedigree_schema::gs1::{Expiry, Lot, PackId, Serial};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_reaches_its_endpoint_and_failures_are_classified() {
    let net = Network::new();
    let db = Backend::Sqlite.database();
    let ledger = Ledger::start(net.ledger_settings(&db, "127.0.0.1:0".parse().unwrap()));
    ledger.accept(&net.genesis()).await;
    let client = LedgerClient::new(&ledger.base, Arc::new(net.manufacturer.key())).unwrap();

    let product = gtin("0950600013435");
    let lot = Lot::parse("L/1").unwrap();
    let expiry = Expiry::from_date(chrono::Utc::now().date_naive() + chrono::Duration::days(400));
    // Serials and lots may hold characters that must be percent-encoded in a path or query.
    let serials = canonical_item_order(vec!["S/1+x".to_string(), "S2".to_string()]);
    let submissions = vec![
        manufacturer_submission(
            &net,
            EventBody::RegisterProduct {
                gtin: product.clone(),
                name: "Amoxicillin 250 mg".into(),
            },
            None,
        ),
        manufacturer_submission(
            &net,
            EventBody::RegisterBatch {
                gtin: product.clone(),
                lot: lot.clone(),
                expiry: expiry.clone(),
                manufactured: chrono::Utc::now().date_naive(),
            },
            None,
        ),
        manufacturer_submission(
            &net,
            EventBody::Commission {
                gtin: product.clone(),
                lot: lot.clone(),
                serials: ItemSetRef::commit(&serials),
            },
            Some(serials.clone()),
        ),
        // Registered twice: refused by the rules.
        manufacturer_submission(
            &net,
            EventBody::RegisterProduct {
                gtin: product.clone(),
                name: "Amoxicillin 250 mg".into(),
            },
            None,
        ),
    ];
    let results = client.append(&submissions).await.expect("appended");
    assert!(matches!(&results[2], AppendResult::Accepted { receipt } if receipt.index == 4));
    assert!(
        matches!(&results[3], AppendResult::Rejected { code, .. } if code == "product_already_registered"),
        "{results:?}"
    );

    let old =
        SignedCheckpoint::parse_and_verify(&ledger.checkpoint_text().await, &net.log_verifier())
            .unwrap();
    let text = client.checkpoint().await.unwrap();
    let latest = SignedCheckpoint::parse_and_verify(&text, &net.log_verifier()).unwrap();
    assert_eq!(latest, old);
    assert_eq!(latest.checkpoint().size(), 5);
    let proof = client.consistency(2, 5).await.unwrap();
    assert_eq!((proof.old_size, proof.new_size), (2, 5));

    let pack = PackId::new(product.clone(), Serial::parse("S/1+x").unwrap());
    let status = client
        .pack_status(&pack, Some(&lot), Some(&expiry))
        .await
        .unwrap();
    assert_eq!(status["status"], "active", "{status}");
    assert_eq!(
        status["ok_to_supply"], true,
        "lot and expiry match: {status}"
    );
    let wrong_lot = Lot::parse("L2").unwrap();
    let mismatch = client
        .pack_status(&pack, Some(&wrong_lot), None)
        .await
        .unwrap();
    assert_eq!(
        mismatch["alerts"][0]["code"], "batch_mismatch",
        "{mismatch}"
    );
    let code = format!("(01){}(10)L/1(21)S2", product.as_str());
    assert_eq!(client.scan(&code).await.unwrap()["status"], "active");

    // Signed reads: the manufacturer is a party to its commissioning.
    assert_eq!(client.entry_items(4).await.unwrap(), serials);
    let provenance = client.provenance(&pack).await.unwrap();
    assert!(provenance.is_object(), "{provenance}");
    // A key the ledger does not know is refused, and that is not worth retrying.
    let stranger = LedgerClient::new(
        &ledger.base,
        Arc::new(pedigree_schema::keys::SecretKey::generate()),
    )
    .unwrap();
    let refused = stranger.entry_items(4).await.unwrap_err();
    assert!(
        matches!(&refused, LedgerError::Refused { status: 401, code, .. } if code == "unknown_key"),
        "{refused}"
    );
    assert!(!refused.is_retryable());

    let bad = client.consistency(2, 99).await.unwrap_err();
    assert!(
        matches!(&bad, LedgerError::Refused { status: 400, code, .. } if code == "bad_proof_request"),
        "{bad}"
    );
    let base = ledger.base.clone();
    ledger.stop().await;
    let down = LedgerClient::new(&base, Arc::new(net.manufacturer.key()))
        .unwrap()
        .checkpoint()
        .await
        .unwrap_err();
    assert!(matches!(down, LedgerError::Unreachable(_)), "{down}");
    assert!(down.is_retryable());
}
