//! Provenance as EPCIS 2.0 over real HTTP: a pack's custody chain and a
//! batch's events, exported by a real ledger, validate against GS1's schema
//! and import back to the very event bodies in the log; the access rules
//! are those of the JSON answers.

#[macro_use]
mod common;

use chrono::Utc;
use common::*;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::epcis::import_document;
use pedigree_schema::epcis::schema_check::violations;
use pedigree_schema::event::{DecommissionReason, EventBody, ShipmentPurpose, SignedEvent};
use pedigree_schema::itemset::ItemProof;
use pedigree_schema::keys::SecretKey;
use pedigree_schema::merkle::{self, hex_hash};
use serde_json::Value;

both_backends!(
    pack_provenance_exports_valid_epcis_that_imports_back,
    batch_events_export_for_the_owner_and_regulators,
    case_provenance_is_for_its_parties_as_json_or_epcis,
);

/// P1 goes manufacturer → distributor → pharmacy and is dispensed; P3
/// travels in a case; P2 stays home.
async fn chain(ledger: &Ledger, net: &Network) -> Batch {
    let batch = Batch::fresh(&gtin("0950600013435"), "L7");
    let case = the_case();
    genesis_with_batch(ledger, net, &batch).await;
    let (m, d, p) = (&net.manufacturer, &net.distributor, &net.pharmacy);
    let sale = ShipmentPurpose::Sale;
    ledger
        .accept(&[
            m.commission(&batch, &["P1", "P2", "P3"]),
            m.aggregate(&case, &[batch.item("P3")]),
            m.ship(
                "SHIP-1",
                &d.gln,
                sale,
                &[batch.item("P1"), case_item(&case)],
            ),
            d.receive("SHIP-1", &m.gln, &[batch.item("P1"), case_item(&case)]),
            d.ship("SHIP-2", &p.gln, sale, &[batch.item("P1")]),
            p.receive("SHIP-2", &d.gln, &[batch.item("P1")]),
            p.verify(&batch.pack("P1")),
            p.decommission(&batch.pack("P1"), DecommissionReason::Dispensed),
        ])
        .await;
    batch
}

fn the_case() -> pedigree_schema::gs1::Sscc {
    sscc("09506000100000007")
}

/// A signed GET whose answer is EPCIS JSON-LD: status 200, the EPCIS media type.
async fn get_epcis(ledger: &Ledger, path: &str, key: &SecretKey) -> Value {
    get_epcis_accepting(ledger, path, key, "*/*").await
}

async fn get_epcis_accepting(ledger: &Ledger, path: &str, key: &SecretKey, accept: &str) -> Value {
    let mut request = client().get(ledger.url(path)).header("Accept", accept);
    for (name, value) in signed_headers(path, key, Utc::now().timestamp()) {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("the ledger answers");
    assert_eq!(response.status(), 200, "GET {path}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(content_type, "application/ld+json");
    serde_json::from_str(&response.text().await.expect("a body")).expect("JSON")
}

fn events(document: &Value) -> &Vec<Value> {
    document["epcisBody"]["eventList"]
        .as_array()
        .expect("an event list")
}

async fn pack_provenance_exports_valid_epcis_that_imports_back(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let batch = chain(&ledger, &net).await;
    let json_path = format!("/v1/packs/{}/P1/provenance", batch.gtin);
    let epcis_path = format!("{json_path}?format=epcis");

    // The regulator reads every item list whole: the import gives back the log's bodies.
    let document = get_epcis(&ledger, &epcis_path, &net.governance.key).await;
    assert_eq!(violations(&document), Vec::<String>::new(), "{document:#}");
    let logged: Vec<SignedEvent> = ledger
        .get_signed(&json_path, &net.governance.key)
        .await
        .ok()["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| serde_json::from_value(entry["entry"].clone()).expect("a signed event"))
        .collect();
    let kinds: Vec<&str> = logged.iter().map(|s| s.event.body.kind()).collect();
    assert_eq!(
        kinds,
        [
            "commission",
            "ship",
            "receive",
            "ship",
            "receive",
            "verify",
            "decommission"
        ]
    );
    let steps: Vec<&str> = events(&document)
        .iter()
        .map(|event| event["bizStep"].as_str().expect("a bizStep"))
        .collect();
    assert_eq!(
        steps,
        [
            "commissioning",
            "shipping",
            "receiving",
            "shipping",
            "receiving",
            "inspecting",
            "dispensing"
        ]
    );
    let imported = import_document(&document).expect("an EPCIS document");
    for (signed, outcome) in logged.iter().zip(&imported) {
        let event = outcome.as_ref().expect("every exported event maps");
        assert_eq!(event.mapped.len(), 1);
        assert_eq!(event.mapped[0].body, signed.event.body);
        assert_eq!(event.time, signed.event.time);
        assert_eq!(event.locations, vec![signed.event.actor.clone()]);
    }
    assert_eq!(imported.len(), logged.len());
    // The document names the checkpoint its events' inclusion proofs lead to.
    SignedCheckpoint::parse_and_verify(
        document["pedigree:checkpoint"]
            .as_str()
            .expect("a checkpoint"),
        ledger.verifier(),
    )
    .expect("the checkpoint verifies");

    // Without `format`, asking for the EPCIS media type is enough.
    let accepted = get_epcis_accepting(
        &ledger,
        &json_path,
        &net.governance.key,
        "application/ld+json",
    )
    .await;
    assert_eq!(events(&accepted).len(), logged.len());

    // The pharmacy held P1 but was party to neither the commissioning nor SHIP-1: those
    // events list only what concerns P1, and say so.
    let document = get_epcis(&ledger, &epcis_path, &net.pharmacy.key).await;
    assert_eq!(violations(&document), Vec::<String>::new());
    let commissioning = &events(&document)[0];
    assert_eq!(commissioning["pedigree:itemsComplete"], false);
    assert_eq!(
        commissioning["epcList"],
        serde_json::json!([format!("https://id.gs1.org/01/{}/21/P1", batch.gtin)])
    );
    assert_eq!(commissioning["pedigree:itemSet"]["count"], 3);
    assert_eq!(
        events(&document)[3]["pedigree:itemsComplete"],
        true,
        "SHIP-2 is the pharmacy's"
    );

    // The JSON answer's access rules hold, and an unknown format is a 400.
    ledger
        .get(&epcis_path)
        .await
        .assert_error(401, "authentication_required");
    ledger
        .get_signed(&epcis_path, &net.outsider.key)
        .await
        .assert_error(403, "forbidden");
    ledger
        .get_signed(&format!("{json_path}?format=xml"), &net.governance.key)
        .await
        .assert_error(400, "unknown_format");
}

async fn batch_events_export_for_the_owner_and_regulators(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let batch = chain(&ledger, &net).await;
    ledger
        .accept_one(net.manufacturer.recall(&batch, "label misprint"))
        .await;
    let path = format!("/v1/batches/{}/{}?format=epcis", batch.gtin, batch.lot);
    for reader in [&net.manufacturer, &net.governance] {
        let document = get_epcis(&ledger, &path, &reader.key).await;
        assert_eq!(violations(&document), Vec::<String>::new(), "{document:#}");
        let kinds: Vec<&str> = events(&document)
            .iter()
            .map(|event| event["pedigree:kind"].as_str().expect("a kind"))
            .collect();
        assert_eq!(
            kinds,
            [
                "register_batch",
                "commission",
                "aggregate",
                "ship",
                "receive",
                "ship",
                "receive",
                "verify",
                "decommission",
                "recall"
            ],
            "as {}",
            reader.name
        );
        // SHIP-2 (distributor → pharmacy) is listed whole only to the regulator.
        let ship_2 = &events(&document)[5];
        let whole = reader.role == pedigree_schema::event::Role::Regulator;
        assert_eq!(
            ship_2["pedigree:itemsComplete"], whole,
            "as {}",
            reader.name
        );
        assert_eq!(
            ship_2["epcList"],
            serde_json::json!([format!("https://id.gs1.org/01/{}/21/P1", batch.gtin)])
        );
        let imported = import_document(&document).expect("an EPCIS document");
        assert!(imported.iter().all(Result::is_ok), "{imported:?}");
        let EventBody::Recall { ref reason, .. } =
            imported[9].as_ref().expect("maps").mapped[0].body
        else {
            panic!("the last event is the recall");
        };
        assert_eq!(reason, "label misprint");
    }
    ledger
        .get_signed(&path, &net.distributor.key)
        .await
        .assert_error(403, "forbidden");
}

async fn case_provenance_is_for_its_parties_as_json_or_epcis(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let batch = chain(&ledger, &net).await;
    let case = the_case();
    let path = format!("/v1/cases/{case}/provenance");

    let answer = ledger.get_signed(&path, &net.distributor.key).await.ok();
    let entries = answer["entries"].as_array().expect("entries");
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| {
            e["entry"]["event"]["body"]["kind"]
                .as_str()
                .expect("a kind")
        })
        .collect();
    assert_eq!(kinds, ["aggregate", "ship", "receive"]);
    // Every entry is in the log under the signed checkpoint; the movements prove the case
    // is in their item lists.
    let checkpoint = SignedCheckpoint::parse_and_verify(
        answer["checkpoint"].as_str().expect("a checkpoint"),
        ledger.verifier(),
    )
    .expect("the checkpoint verifies");
    let tree = checkpoint.checkpoint();
    for entry in entries {
        let signed: SignedEvent = serde_json::from_value(entry["entry"].clone()).expect("an entry");
        let leaf = merkle::leaf_hash(&signed.entry_bytes().expect("entry bytes"));
        let proof: Vec<merkle::Hash> = entry["inclusion_proof"]
            .as_array()
            .expect("a proof")
            .iter()
            .map(|h| hex_hash::parse(h.as_str().expect("hex")).expect("a hash"))
            .collect();
        let index = entry["index"].as_u64().expect("an index");
        merkle::verify_inclusion(&leaf, index, tree.size(), &proof, tree.root())
            .expect("the inclusion proof verifies");
        if signed.event.body.kind() != "aggregate" {
            let (_, set) = signed.event.body.item_set().expect("an item set");
            assert_eq!(entry["item_proof"]["item"], case_item(&case));
            let proof: ItemProof =
                serde_json::from_value(entry["item_proof"]["proof"].clone()).expect("a proof");
            proof
                .verify(&set.root, &[case_item(&case).as_str()])
                .expect("the item proof verifies");
        }
    }

    let document = get_epcis(
        &ledger,
        &format!("{path}?format=epcis"),
        &net.governance.key,
    )
    .await;
    assert_eq!(violations(&document), Vec::<String>::new(), "{document:#}");
    let steps: Vec<&str> = events(&document)
        .iter()
        .map(|event| event["bizStep"].as_str().expect("a bizStep"))
        .collect();
    assert_eq!(steps, ["packing", "shipping", "receiving"]);
    let imported = import_document(&document).expect("an EPCIS document");
    assert!(imported.iter().all(Result::is_ok), "{imported:?}");
    assert_eq!(
        imported[0].as_ref().expect("maps").mapped[0].items,
        Some(vec![batch.item("P3")])
    );

    // The pharmacy never handled the case.
    ledger
        .get_signed(&path, &net.pharmacy.key)
        .await
        .assert_error(403, "forbidden");
    ledger
        .get_signed("/v1/cases/123/provenance", &net.governance.key)
        .await
        .assert_error(400, "invalid_identifier");
}
