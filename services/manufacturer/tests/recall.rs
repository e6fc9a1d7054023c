//! Recalls through the manufacturer's service, against a real ledger: a recall of selected
//! serials reaches the ledger as one signed event, recalls only those packs, and its
//! whereabouts are readable by the manufacturer; a bad serial list is refused before anything
//! is stored.

#[macro_use]
mod common;

use chrono::{Duration, Utc};
use common::*;
use serde_json::json;

both_backends!(a_recall_of_selected_serials_goes_through_the_manufacturer_service);

async fn a_recall_of_selected_serials_goes_through_the_manufacturer_service(backend: Backend) {
    let net = Network::new();
    let (ledger_db, party_db) = (backend.database(), backend.database());
    let ledger = Ledger::start(net.ledger_settings(&ledger_db));
    ledger.accept(&net.genesis()).await;
    let m = Manufacturer::start(net.party_config(&party_db, &ledger.base));
    let product = gtin("0950600013435");
    let today = Utc::now().date_naive();
    for (path, body) in [
        (
            "/v1/products",
            json!({"gtin": product, "name": "Ibuprofen 200 mg", "strength": "200 mg",
                   "dosage_form": "tablet", "pack_size": 24}),
        ),
        (
            "/v1/batches",
            json!({"gtin": product, "lot": "L7",
                   "expiry": (today + Duration::days(700)).to_string(),
                   "manufactured": (today - Duration::days(10)).to_string(),
                   "serials": {"list": ["A1", "A2", "A3"]}}),
        ),
    ] {
        let created = m.post(path, &body).await.expect(201);
        m.all_accepted(&created).await;
    }

    // Bad lists are refused with a precise code, and nothing is stored.
    let before = m.outbox_len().await;
    for (serials, code) in [
        (json!(["A1", "A1"]), "duplicate_serial"),
        (json!([]), "invalid_serial_count"),
        (json!(["not a serial"]), "invalid_serial"),
    ] {
        m.post(
            "/v1/recalls",
            &json!({"gtin": product, "lot": "L7", "reason": "r", "serials": serials}),
        )
        .await
        .assert_error(400, code);
    }
    assert_eq!(m.outbox_len().await, before);

    let created = m
        .post(
            "/v1/recalls",
            &json!({"gtin": product, "lot": "L7", "reason": "tampered seals",
                    "serials": ["A3", "A2"]}),
        )
        .await
        .expect(201);
    let id = created["outbox"][0]["id"].as_i64().expect("an outbox id");
    let settled = m.settled(id).await;
    assert_eq!(settled["status"], "accepted", "{settled}");
    let index = settled["receipt"]["index"]
        .as_u64()
        .expect("a receipt index");

    for (serial, recalled) in [("A1", false), ("A2", true), ("A3", true)] {
        let status = ledger
            .get(&format!("/v1/packs/{product}/{serial}"))
            .await
            .expect(200);
        assert_eq!(status["recalled"], recalled, "{serial}: {status}");
    }
    let whereabouts = ledger
        .get_signed(&format!("/v1/recalls/{index}"), &net.manufacturer.key)
        .await
        .ok();
    assert_eq!(whereabouts["scope"], "serials");
    assert_eq!(whereabouts["packs"], 2);
    assert_eq!(whereabouts["by_whereabouts"], json!({"at_custodian": 2}));

    m.stop().await;
    ledger.stop().await;
}
