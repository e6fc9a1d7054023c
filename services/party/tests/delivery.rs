//! The outbox delivers to a real ledger: receipts are verified and stored, rejections keep
//! their code, the witness cosigns, and nothing is lost or appended twice when the ledger is
//! down or the party restarts.

#[macro_use]
mod common;

use common::*;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::EventBody;
use pedigree_schema::receipt::Receipt;

both_backends!(
    submissions_are_accepted_with_verified_receipts_or_rejected_with_their_code,
    a_ledger_that_is_down_gets_every_event_exactly_once_also_across_a_party_restart,
);

async fn submissions_are_accepted_with_verified_receipts_or_rejected_with_their_code(
    backend: Backend,
) {
    let net = Network::new();
    let (ledger_db, party_db) = (backend.database(), backend.database());
    let ledger = Ledger::start(net.ledger_settings(&ledger_db, "127.0.0.1:0".parse().unwrap()));
    ledger.accept(&net.genesis()).await;
    let party = RunningParty::start(net.party_config(&party_db, &ledger.base));

    let product = gtin("0950600013435");
    let ids = party
        .submit(product_batch_commission(&product, "L1", &["P1", "P2"]))
        .await;
    // A batch of a product nobody registered.
    let unknown = gtin("0950600099999");
    let rejected = party
        .submit(vec![operation(
            &EventBody::RegisterBatch {
                gtin: unknown.clone(),
                lot: pedigree_schema::gs1::Lot::parse("L9").unwrap(),
                expiry: pedigree_schema::gs1::Expiry::parse("301231").unwrap(),
                manufactured: chrono::Utc::now().date_naive(),
            },
            None,
        )])
        .await[0];

    let mut indexes = Vec::new();
    for id in &ids {
        let item = party.settled(*id).await;
        assert_eq!(item["status"], "accepted", "{item}");
        assert!(
            item["rejection_code"].is_null() && item["last_error"].is_null(),
            "{item}"
        );
        // The stored receipt proves the stored, signed event is in the log.
        let receipt: Receipt = serde_json::from_value(item["receipt"].clone()).expect("a receipt");
        let submission = stored_submission(&party_db, *id);
        assert_eq!(receipt.event_id, submission.signed.id().unwrap());
        assert_eq!(item["event_id"], receipt.event_id.to_string());
        assert_eq!(submission.signed.event.actor, net.manufacturer.gln);
        let entry = submission.signed.entry_bytes().unwrap();
        receipt
            .verify(&net.log_verifier(), &entry)
            .expect("the stored receipt verifies under the log key");
        indexes.push(receipt.index);
    }
    assert_eq!(
        indexes,
        [2, 3, 4],
        "appended after genesis, in submission order"
    );

    let item = party.settled(rejected).await;
    assert_eq!(item["status"], "rejected", "{item}");
    assert_eq!(item["rejection_code"], "product_unknown", "{item}");
    assert!(!item["rejection_message"]
        .as_str()
        .unwrap_or_default()
        .is_empty());
    assert!(item["receipt"].is_null());
    assert_eq!(
        ledger.size().await,
        5,
        "the rejected event is not in the log"
    );

    // Listing filters by status, newest first.
    let accepted = party.get("/v1/outbox?status=accepted").await.ok();
    let listed: Vec<i64> = accepted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, ids.iter().rev().copied().collect::<Vec<_>>());
    let all = party.get("/v1/outbox?limit=2").await.ok();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    // The witness verified the log's latest checkpoint and cosigned it at the ledger.
    let witness_verifier = net.manufacturer.witness_verifier();
    let cosigned = eventually(
        "the party's cosignature on the latest checkpoint",
        || async {
            let text = ledger.checkpoint_text().await;
            let checkpoint = SignedCheckpoint::parse_and_verify(&text, &net.log_verifier()).ok()?;
            let verified = checkpoint
                .verified_cosignatures(std::slice::from_ref(&witness_verifier))
                .expect("the party's cosignature verifies");
            (checkpoint.checkpoint().size() == 5 && verified.len() == 1).then_some(text)
        },
    )
    .await;
    assert!(cosigned.contains(&format!("\n— {} ", net.manufacturer.gln)));
    let witness = party.witness().await;
    assert_eq!(witness["tree_size"], 5, "{witness}");
    assert_eq!(witness["halted"], false);

    // Verifying a scanned pack: the ledger's status plus the provenance this party may read.
    let code = format!("(01){}(21)P1", product.as_str());
    let verified = party
        .get(&format!("/v1/verify?code={}", url_encode(&code)))
        .await
        .ok();
    assert_eq!(verified["status"], "active", "{verified}");
    assert!(verified["provenance"].is_object(), "{verified}");
    party
        .get("/v1/verify?code=nonsense")
        .await
        .assert_error(400, "unreadable_code");

    party.stop().await;
    ledger.stop().await;
}

async fn a_ledger_that_is_down_gets_every_event_exactly_once_also_across_a_party_restart(
    backend: Backend,
) {
    let net = Network::new();
    let (ledger_db, party_db) = (backend.database(), backend.database());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}").parse().unwrap();
    let ledger = Ledger::start(net.ledger_settings(&ledger_db, listen));
    ledger.accept(&net.genesis()).await;
    let ledger_url = ledger.base.clone();
    ledger.stop().await;

    // The ledger is down: the party takes submissions and keeps retrying.
    let party = RunningParty::start(net.party_config(&party_db, &ledger_url));
    let first = party
        .submit(product_batch_commission(
            &gtin("0950600013435"),
            "L1",
            &["A1", "A2"],
        ))
        .await;
    let tried = eventually("a failed delivery attempt", || async {
        let item = party.item(first[0]).await;
        (item["attempts"].as_i64() >= Some(2)).then_some(item)
    })
    .await;
    assert_eq!(tried["status"], "pending", "{tried}");
    assert!(
        tried["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot be reached"),
        "{tried}"
    );

    // The ledger comes back on the same database and port: everything lands, in order.
    let ledger = Ledger::start(net.ledger_settings(&ledger_db, listen));
    let mut indexes = Vec::new();
    for id in &first {
        let item = party.settled(*id).await;
        assert_eq!(item["status"], "accepted", "{item}");
        indexes.push(item["receipt"]["index"].as_u64().unwrap());
    }
    assert_eq!(indexes, [2, 3, 4]);
    assert_eq!(ledger.size().await, 5);

    // Down again; the party takes more and is itself restarted before the ledger returns.
    ledger.stop().await;
    let second = party
        .submit(product_batch_commission(
            &gtin("0950600013442"),
            "L2",
            &["B1"],
        ))
        .await;
    party.stop().await;
    let ledger = Ledger::start(net.ledger_settings(&ledger_db, listen));
    // A crash after the ledger's answer but before the party recorded it: the item is
    // pending again though the ledger has it.
    force_status(&party_db, first[2], "pending");
    let party = RunningParty::start(net.party_config(&party_db, &ledger_url));
    for id in &second {
        assert_eq!(party.settled(*id).await["status"], "accepted");
    }
    let resent = party.settled(first[2]).await;
    assert_eq!(resent["status"], "accepted", "{resent}");
    assert_eq!(
        resent["receipt"]["index"], 4,
        "the ledger's existing entry, not a new one"
    );
    assert_eq!(
        ledger.size().await,
        8,
        "genesis (2) + first (3) + second (3): nothing lost, nothing twice"
    );
    let pending = party.get("/v1/outbox?status=pending").await.ok();
    assert_eq!(pending["items"].as_array().unwrap().len(), 0);

    party.stop().await;
    ledger.stop().await;
}
