//! Recalls over real HTTP: a batch recall whose packs are spread over the chain, listed by
//! `GET /v1/recalls/{index}` and followed as packs are quarantined and returned; a recall of
//! selected serials that leaves the batch's other packs alone; who may recall and read; and
//! the audit replaying it all.

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::*;
use pedigree_ledger::audit::audit;
use pedigree_schema::event::{DecommissionReason, Role, ShipmentPurpose};
use serde_json::Value;

both_backends!(
    a_batch_recall_lists_every_pack_where_it_is_and_follows_returns,
    a_recall_of_selected_serials_affects_only_those_packs,
    only_the_owner_or_a_regulator_recalls_and_reads_a_recall,
);

/// `whereabouts` of each listed pack by serial, and the holder of each.
fn placed(answer: &Value) -> BTreeMap<String, (String, String)> {
    answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            (
                item["serial"].as_str().expect("serial").to_string(),
                (
                    item["whereabouts"]
                        .as_str()
                        .expect("whereabouts")
                        .to_string(),
                    item["custodian"].as_str().expect("custodian").to_string(),
                ),
            )
        })
        .collect()
}

fn counts(answer: &Value, field: &str) -> BTreeMap<String, u64> {
    serde_json::from_value(answer[field].clone()).expect("counts")
}

fn expected<const N: usize>(pairs: [(&str, u64); N]) -> BTreeMap<String, u64> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

async fn a_batch_recall_lists_every_pack_where_it_is_and_follows_returns(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let (m, d, p) = (&net.manufacturer, &net.distributor, &net.pharmacy);
    let batch = Batch::fresh(&gtin("0950600013435"), "LOT-R1");
    genesis_with_batch(&ledger, &net, &batch).await;
    let serials = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"];
    ledger.accept_one(m.commission(&batch, &serials)).await;
    let items =
        |serials: &[&str]| -> Vec<String> { serials.iter().map(|s| batch.item(s)).collect() };

    // S1, S2 stay at the manufacturer; S3–S7 go to the distributor; S5–S7 on to the
    // pharmacy, which dispenses S7; S4 is on its way to the pharmacy and S8 to the
    // distributor when the recall comes.
    let sale = ShipmentPurpose::Sale;
    let to_distributor = items(&["S3", "S4", "S5", "S6", "S7"]);
    ledger
        .accept(&[
            m.ship("SH-1", &d.gln, sale, &to_distributor),
            d.receive("SH-1", &m.gln, &to_distributor),
            d.ship("SH-2", &p.gln, sale, &items(&["S5", "S6", "S7"])),
            p.receive("SH-2", &d.gln, &items(&["S5", "S6", "S7"])),
            p.decommission(&batch.pack("S7"), DecommissionReason::Dispensed),
            d.ship("SH-3", &p.gln, sale, &items(&["S4"])),
            m.ship("SH-4", &d.gln, sale, &items(&["S8"])),
        ])
        .await;
    let recall = ledger
        .accept_one(m.recall(&batch, "sterility failure"))
        .await;
    let path = format!("/v1/recalls/{}", recall.index);

    let answer = ledger.get_signed(&path, &m.key).await.ok();
    assert_eq!(answer["scope"], "batch");
    assert_eq!(answer["in_force"], true);
    assert_eq!(answer["recalled_by"], m.gln.as_str());
    assert_eq!(answer["reason"], "sterility failure");
    assert_eq!(answer["packs"], 8);
    assert_eq!(
        counts(&answer, "by_whereabouts"),
        expected([("at_custodian", 5), ("dispensed", 1), ("in_transit", 2)])
    );
    assert_eq!(
        counts(&answer, "by_custodian"),
        expected([
            (m.gln.as_str(), 3),
            (d.gln.as_str(), 2),
            (p.gln.as_str(), 2)
        ])
    );
    let (mg, dg, pg) = (m.gln.to_string(), d.gln.to_string(), p.gln.to_string());
    let at = |w: &str, g: &String| (w.to_string(), g.clone());
    assert_eq!(
        placed(&answer),
        BTreeMap::from([
            ("S1".into(), at("at_custodian", &mg)),
            ("S2".into(), at("at_custodian", &mg)),
            ("S3".into(), at("at_custodian", &dg)),
            ("S4".into(), at("in_transit", &dg)),
            ("S5".into(), at("at_custodian", &pg)),
            ("S6".into(), at("at_custodian", &pg)),
            ("S7".into(), at("dispensed", &pg)),
            ("S8".into(), at("in_transit", &mg)),
        ])
    );
    let s4 = &answer["items"].as_array().expect("items")[3];
    assert_eq!(
        (&s4["in_transit_to"], &s4["shipment"], &s4["purpose"]),
        (
            &Value::from(pg.as_str()),
            &Value::from("SH-3"),
            &Value::from("sale")
        )
    );
    let status = ledger.status(&batch.pack("S5")).await;
    assert_eq!(
        (&status["recalled"], &status["ok_to_supply"]),
        (&true.into(), &false.into())
    );

    // Recalled stock goes back up the chain only: a sale is refused, a return is not.
    assert_eq!(
        ledger
            .reject_one(p.ship("SH-5", &net.outsider.gln, sale, &items(&["S6"])))
            .await,
        "recalled"
    );
    let back = ShipmentPurpose::Return;
    ledger
        .accept(&[
            p.decommission(&batch.pack("S5"), DecommissionReason::Locked),
            p.ship("RET-1", &d.gln, back, &items(&["S6"])),
        ])
        .await;
    let answer = ledger.get_signed(&path, &net.governance.key).await.ok();
    assert_eq!(placed(&answer)["S5"], at("quarantined", &pg));
    assert_eq!(placed(&answer)["S6"], at("in_transit", &pg));
    let s6 = &answer["items"].as_array().expect("items")[5];
    assert_eq!(s6["purpose"], "return");
    ledger
        .accept(&[
            d.receive("RET-1", &p.gln, &items(&["S6"])),
            d.ship("RET-2", &m.gln, back, &items(&["S3", "S6"])),
            m.receive("RET-2", &d.gln, &items(&["S3", "S6"])),
        ])
        .await;
    let answer = ledger.get_signed(&path, &m.key).await.ok();
    assert_eq!(
        counts(&answer, "by_whereabouts"),
        expected([
            ("at_custodian", 2),
            ("dispensed", 1),
            ("in_transit", 2),
            ("quarantined", 1),
            ("returned", 2),
        ])
    );
    assert_eq!(placed(&answer)["S3"], at("returned", &mg));
    assert_eq!(placed(&answer)["S6"], at("returned", &mg));
    // Never shipped is not returned.
    assert_eq!(placed(&answer)["S1"], at("at_custodian", &mg));

    // Pages: three packs at a time, every pack once.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let query = if after.is_empty() {
            format!("{path}?limit=3")
        } else {
            format!("{path}?limit=3&after={after}")
        };
        let page = ledger.get_signed(&query, &m.key).await.ok();
        assert_eq!(page["packs"], 8, "counts cover every pack on every page");
        seen.extend(placed(&page).into_keys());
        match page["next_after"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, serials);
    ledger
        .get_signed(&format!("{path}?limit=0"), &m.key)
        .await
        .assert_error(400, "invalid_limit");
    ledger.stop().await;
}

async fn a_recall_of_selected_serials_affects_only_those_packs(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let (m, d, regulator) = (&net.manufacturer, &net.distributor, &net.governance);
    let batch = Batch::fresh(&gtin("0950600013435"), "LOT-R2");
    genesis_with_batch(&ledger, &net, &batch).await;
    ledger
        .accept_one(m.commission(&batch, &["S1", "S2", "S3", "S4"]))
        .await;
    let recall = ledger
        .accept_one(regulator.recall_serials(&batch, &["S2", "S3"], "tampered packs"))
        .await;

    let listed = ledger.status(&batch.pack("S2")).await;
    assert_eq!(listed["recalled"], true);
    assert_eq!(alert_codes(&listed), ["recalled"]);
    let unlisted = ledger.status(&batch.pack("S1")).await;
    assert_eq!(unlisted["recalled"], false);
    assert_eq!(unlisted["ok_to_supply"], true);

    // The listed packs' provenance carries the recall with the proof that lists them; an
    // unlisted pack's does not mention it.
    let provenance = ledger
        .get_signed(&format!("/v1/packs/{}/S2/provenance", batch.gtin), &m.key)
        .await
        .ok();
    let kinds = verify_provenance(&provenance, &ledger, "S2", &batch);
    assert!(
        kinds.contains(&("recall".to_string(), Some("S2".to_string()))),
        "{kinds:?}"
    );
    let provenance = ledger
        .get_signed(&format!("/v1/packs/{}/S1/provenance", batch.gtin), &m.key)
        .await
        .ok();
    let kinds = verify_provenance(&provenance, &ledger, "S1", &batch);
    assert!(kinds.iter().all(|(kind, _)| kind != "recall"), "{kinds:?}");

    let sale = ShipmentPurpose::Sale;
    assert_eq!(
        ledger
            .reject_one(m.ship("SH-1", &d.gln, sale, &[batch.item("S1"), batch.item("S2")]))
            .await,
        "recalled"
    );
    ledger
        .accept_one(m.ship("SH-1", &d.gln, sale, &[batch.item("S1")]))
        .await;

    let path = format!("/v1/recalls/{}", recall.index);
    let answer = ledger.get_signed(&path, &m.key).await.ok();
    assert_eq!(answer["scope"], "serials");
    assert_eq!(answer["packs"], 2);
    let batch_path = format!("/v1/batches/{}/{}", batch.gtin, batch.lot);
    let whereabouts = ledger.get_signed(&batch_path, &m.key).await.ok();
    assert_eq!(whereabouts["recalls"], serde_json::json!([recall.index]));
    assert_eq!(
        whereabouts["recalled_by"],
        Value::Null,
        "the batch itself is not recalled"
    );
    assert_eq!(
        placed(&answer).into_keys().collect::<Vec<_>>(),
        ["S2", "S3"]
    );

    // Recalling a listed pack again, or a serial that is not commissioned, is refused.
    assert_eq!(
        ledger
            .reject_one(regulator.recall_serials(&batch, &["S3", "S4"], "again"))
            .await,
        "already_recalled"
    );
    assert_eq!(
        ledger
            .reject_one(m.recall_serials(&batch, &["S9"], "unknown"))
            .await,
        "serial_unknown"
    );
    // Only who recalled, or a regulator, lifts it.
    assert_eq!(
        ledger.reject_one(m.lift_recall(&batch, "not mine")).await,
        "role_not_allowed"
    );
    ledger
        .accept_one(regulator.lift_recall(&batch, "packs intact"))
        .await;
    assert_eq!(ledger.status(&batch.pack("S2")).await["recalled"], false);
    let answer = ledger.get_signed(&path, &m.key).await.ok();
    assert_eq!(answer["in_force"], false);
    let whereabouts = ledger.get_signed(&batch_path, &m.key).await.ok();
    assert_eq!(whereabouts["recalls"], serde_json::json!([]));
    ledger.stop().await;

    let mut conn = connect(&db);
    let report = audit(
        &mut conn,
        &net.log_verifier(),
        net.governance.public_key(),
        &std::env::temp_dir(),
    )
    .expect("the audit runs");
    assert!(report.is_clean(), "{:#?}", report.findings);
}

async fn only_the_owner_or_a_regulator_recalls_and_reads_a_recall(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let batch = Batch::fresh(&gtin("0950600013435"), "LOT-R3");
    genesis_with_batch(&ledger, &net, &batch).await;
    ledger
        .accept_one(net.manufacturer.commission(&batch, &["S1", "S2"]))
        .await;
    let rival = Party::new("Rival Pharma", Role::Manufacturer, "950600000006");
    ledger
        .accept_one(net.governance.event(rival.registration()))
        .await;

    assert_eq!(
        ledger.reject_one(rival.recall(&batch, "not ours")).await,
        "not_product_owner"
    );
    assert_eq!(
        ledger
            .reject_one(rival.recall_serials(&batch, &["S1"], "not ours"))
            .await,
        "not_product_owner"
    );
    assert_eq!(
        ledger
            .reject_one(net.distributor.recall(&batch, "worried"))
            .await,
        "role_not_allowed"
    );
    assert_eq!(
        ledger
            .reject_one(net.pharmacy.recall_serials(&batch, &["S1"], "worried"))
            .await,
        "role_not_allowed"
    );

    let recall = ledger
        .accept_one(net.governance.recall(&batch, "regulator's order"))
        .await;
    assert_eq!(
        ledger
            .reject_one(net.manufacturer.recall(&batch, "twice"))
            .await,
        "already_recalled"
    );
    let path = format!("/v1/recalls/{}", recall.index);
    // The recaller (a regulator), the product's owner: yes; anyone else: no.
    ledger.get_signed(&path, &net.governance.key).await.ok();
    ledger.get_signed(&path, &net.manufacturer.key).await.ok();
    ledger
        .get_signed(&path, &net.distributor.key)
        .await
        .assert_error(403, "forbidden");
    ledger
        .get(&path)
        .await
        .assert_error(401, "authentication_required");
    // An entry that is not a recall, and one that does not exist.
    ledger
        .get_signed("/v1/recalls/0", &net.governance.key)
        .await
        .assert_error(404, "not_found");
    ledger
        .get_signed("/v1/recalls/999999", &net.governance.key)
        .await
        .assert_error(404, "not_found");
    ledger
        .get_signed("/v1/recalls/x", &net.governance.key)
        .await
        .assert_error(400, "bad_path");
    ledger.stop().await;
}
