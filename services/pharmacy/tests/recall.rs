//! A batch recall followed through the pharmacy and distributor services, over real HTTP
//! with a real ledger: the recalled pack is refused at the counter, quarantined, returned to
//! the distributor and on to the manufacturer, and the recall's whereabouts
//! (`GET /v1/recalls/{index}` on the ledger) follow each step.

#[path = "../../distributor/tests/common/mod.rs"]
#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::*;
use pedigree_party::db::testing::TestDatabase;
use serde_json::{json, Value};

both_backends!(a_recalled_batch_is_quarantined_and_returned_through_the_services);

/// Each listed pack's whereabouts and holder, by serial.
fn placed(answer: &Value) -> BTreeMap<String, (String, String)> {
    answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            let text = |field: &str| item[field].as_str().expect(field).to_string();
            (text("serial"), (text("whereabouts"), text("custodian")))
        })
        .collect()
}

async fn a_recalled_batch_is_quarantined_and_returned_through_the_services(backend: Backend) {
    let net = Network::new();
    let dbs: [TestDatabase; 3] = [backend.database(), backend.database(), backend.database()];
    let ledger = Ledger::start(net.ledger_settings(&dbs[0]));
    ledger.accept(&net.genesis()).await;
    let m = Manufacturer {
        member: &net.manufacturer,
    };
    let batch = Batch::fresh(&gtin("0950600013435"), "LOT-RC");
    ledger.accept(&m.product_and_batch(&batch)).await;
    let serials = ["S1", "S2", "S3", "S4"];
    ledger.accept(&[m.commission(&batch, &serials)]).await;
    let items: Vec<String> = serials.iter().map(|s| batch.item(s)).collect();
    ledger
        .accept(&[m.ship("M-1", &net.distributor.gln, items)])
        .await;
    let d = RunningParty::start(
        net.party_config(&net.distributor, &dbs[1], &ledger),
        pedigree_distributor::routes,
    );
    let p = RunningParty::start(
        net.party_config(&net.pharmacy, &dbs[2], &ledger),
        pedigree_pharmacy::routes,
    );
    let code = |serial: &str| batch.scan(serial);
    let (mg, dg, pg) = (
        net.manufacturer.gln.to_string(),
        net.distributor.gln.to_string(),
        net.pharmacy.gln.to_string(),
    );

    d.accepted(
        "/v1/receipts",
        &json!({"shipment_id": "M-1", "from": mg, "scanned": serials.map(code)}),
    )
    .await;
    d.accepted(
        "/v1/shipments",
        &json!({"shipment_id": "D-1", "to": pg, "scanned": [code("S1"), code("S2"), code("S3")]}),
    )
    .await;
    p.accepted(
        "/v1/receipts",
        &json!({"shipment_id": "D-1", "from": dg, "scanned": [code("S1"), code("S2"), code("S3")]}),
    )
    .await;

    let recall = ledger
        .accept_one(
            net.manufacturer
                .recall(&batch, "out-of-specification assay"),
        )
        .await;
    let path = format!("/v1/recalls/{}", recall.index);
    let whereabouts = || async { ledger.get_signed(&path, &net.manufacturer.key).await.ok() };
    let at = |w: &str, g: &str| (w.to_string(), g.to_string());
    assert_eq!(
        placed(&whereabouts().await),
        BTreeMap::from([
            ("S1".into(), at("at_custodian", &pg)),
            ("S2".into(), at("at_custodian", &pg)),
            ("S3".into(), at("at_custodian", &pg)),
            ("S4".into(), at("at_custodian", &dg)),
        ])
    );

    // At the counter the recalled pack is refused; the pharmacy sets one aside and sends
    // another back to the distributor.
    p.post("/v1/dispense", &json!({"code": code("S1")}))
        .await
        .assert_error(409, "recalled");
    p.accepted("/v1/quarantine", &json!({"code": code("S1")}))
        .await;
    p.accepted(
        "/v1/returns",
        &json!({"shipment_id": "R-1", "to": dg, "scanned": [code("S2")]}),
    )
    .await;
    let answer = whereabouts().await;
    assert_eq!(placed(&answer)["S1"], at("quarantined", &pg));
    assert_eq!(placed(&answer)["S2"], at("in_transit", &pg));

    // A recalled pack is no saleable return: the distributor receives it as it is, then
    // returns it with its own stock to the manufacturer.
    d.post(
        "/v1/returns/accept",
        &json!({"shipment_id": "R-1", "from": pg, "scanned": [code("S2")]}),
    )
    .await
    .assert_error(409, "recalled");
    d.accepted(
        "/v1/receipts",
        &json!({"shipment_id": "R-1", "from": pg, "scanned": [code("S2")]}),
    )
    .await;
    d.accepted(
        "/v1/returns",
        &json!({"shipment_id": "R-2", "to": mg, "scanned": [code("S2"), code("S4")]}),
    )
    .await;
    let answer = whereabouts().await;
    assert_eq!(placed(&answer)["S2"], at("in_transit", &dg));
    assert_eq!(placed(&answer)["S4"], at("in_transit", &dg));
    let s4 = &answer["items"][3];
    assert_eq!(
        (&s4["purpose"], &s4["in_transit_to"]),
        (&json!("return"), &json!(mg))
    );

    ledger
        .accept_one(net.manufacturer.receive(
            "R-2",
            &net.distributor.gln,
            &[batch.item("S2"), batch.item("S4")],
        ))
        .await;
    let answer = whereabouts().await;
    assert_eq!(
        answer["by_whereabouts"],
        json!({"at_custodian": 1, "quarantined": 1, "returned": 2})
    );
    assert_eq!(placed(&answer)["S3"], at("at_custodian", &pg));

    p.stop().await;
    d.stop().await;
    ledger.stop().await;
}
