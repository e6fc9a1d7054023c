//! The whole custody lifecycle of packs and cases, over real HTTP: genesis,
//! product and batch, commissioning, aggregation, shipping and receiving
//! (with a missing pack), disaggregation, verification by scan, dispensing,
//! reactivation, a return, and a recall that stops shipping until lifted.

#[macro_use]
mod common;

use common::*;
use diesel::prelude::*;
use pedigree_ledger::db::schema::{shipment_discrepancies, shipments};
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_schema::event::{DecommissionReason, ShipmentPurpose};
use pedigree_schema::gs1::Symbology;

both_backends!(
    custody_lifecycle_of_packs_and_cases,
    a_receipt_of_nothing_records_every_item_missing,
);

async fn custody_lifecycle_of_packs_and_cases(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let (m, d, p) = (&net.manufacturer, &net.distributor, &net.pharmacy);
    let batch = Batch::fresh(&gtin("0950600013435"), "LOT-A1");
    let serials = ["S1", "S2", "S3", "S4", "S5", "S6"];
    let packs: Vec<_> = serials.iter().map(|s| batch.pack(s)).collect();
    let items: Vec<String> = packs.iter().map(pack_item).collect();

    // Genesis: governance first registers itself, then the trading partners.
    let genesis = genesis_with_batch(&ledger, &net, &batch).await;
    assert_eq!(
        genesis.iter().map(|r| r.index).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(ledger.size().await, 7);

    // Before commissioning, a pack is unknown (FMD A3).
    let unknown = ledger.status(&packs[0]).await;
    assert_eq!(unknown["status"], "unknown");
    assert_eq!(alert_codes(&unknown), ["serial_unknown"]);

    ledger.accept_one(m.commission(&batch, &serials)).await;
    let fresh = ledger.status(&packs[0]).await;
    assert_eq!(fresh["status"], "active");
    assert_eq!(fresh["ok_to_supply"], true);
    assert_eq!(fresh["lot"], batch.lot.as_str());
    assert_eq!(fresh["expiry"], batch.expiry.as_str());
    assert_eq!(fresh["product_name"], "Paracetamol 500 mg, 16 tablets");

    // S1–S4 go into a case; the case and the loose S5 ship to the distributor.
    let case = sscc("09506000100000001");
    ledger.accept_one(m.aggregate(&case, &items[..4])).await;
    let shipped = vec![case_item(&case), items[4].clone()];
    ledger
        .accept_one(m.ship("SHIP-1", &d.gln, ShipmentPurpose::Sale, &shipped))
        .await;
    for pack in &packs[..5] {
        let status = ledger.status(pack).await;
        assert_eq!(status["status"], "in_transit", "{pack:?}");
        assert_eq!(status["ok_to_supply"], false);
        assert!(alert_codes(&status).contains(&"in_transit".to_string()));
    }
    assert_eq!(ledger.status(&packs[5]).await["status"], "active");

    // Only the case arrives: S5 is recorded missing and stays in transit.
    ledger
        .accept_one(d.receive("SHIP-1", &m.gln, &[case_item(&case)]))
        .await;
    let mut conn = connect(&db);
    let discrepancies: Vec<(String, String, String)> = shipment_discrepancies::table
        .select((
            shipment_discrepancies::shipment_id,
            shipment_discrepancies::item,
            shipment_discrepancies::kind,
        ))
        .load(&mut conn)
        .expect("load discrepancies");
    assert_eq!(
        discrepancies,
        [(
            "SHIP-1".to_string(),
            items[4].clone(),
            "missing".to_string()
        )]
    );
    assert_eq!(ledger.status(&packs[4]).await["status"], "in_transit");
    for pack in &packs[..4] {
        assert_eq!(ledger.status(pack).await["status"], "active");
        let row = pack_row(&mut conn, pack);
        assert_eq!(row.custodian, d.gln.as_str());
        assert_eq!(row.case_sscc.as_deref(), Some(case.as_str()));
    }
    // Packed in the case, S1 cannot move on its own.
    let code = ledger
        .reject_one(d.ship("SHIP-2", &p.gln, ShipmentPurpose::Sale, &items[..1]))
        .await;
    assert_eq!(code, "aggregated");

    // The distributor opens the case and ships S1 and S2 to the pharmacy.
    ledger.accept_one(d.disaggregate(&case)).await;
    assert_eq!(pack_row(&mut conn, &packs[0]).case_sscc, None);
    ledger
        .accept_one(d.ship("SHIP-2", &p.gln, ShipmentPurpose::Sale, &items[..2]))
        .await;
    ledger
        .accept_one(p.receive("SHIP-2", &d.gln, &items[..2]))
        .await;
    assert_eq!(pack_row(&mut conn, &packs[0]).custodian, p.gln.as_str());

    // The pharmacy verifies S1 by its status and by scanning its code, both
    // as a GS1 element string and as a Digital Link URI.
    let status = ledger.status(&packs[0]).await;
    assert_eq!(status["status"], "active");
    assert_eq!(status["ok_to_supply"], true);
    assert_eq!(alert_codes(&status), Vec::<String>::new());
    let code = batch.code("S1");
    let element_string = code.to_scan_data(Symbology::Gs1DataMatrix);
    let digital_link = code.to_digital_link().expect("a Digital Link URI");
    for scanned in [element_string, digital_link] {
        let answer = scan(&ledger, &scanned).await.ok();
        assert_eq!(answer["gtin"], batch.gtin.as_str(), "{scanned}");
        assert_eq!(answer["serial"], "S1", "{scanned}");
        assert_eq!(answer["ok_to_supply"], true, "{scanned}: {answer}");
    }
    ledger.accept_one(p.verify(&packs[0])).await;

    // Dispensing decommissions S1: verification now raises FMD A7.
    ledger
        .accept_one(p.decommission(&packs[0], DecommissionReason::Dispensed))
        .await;
    let dispensed = ledger.status(&packs[0]).await;
    assert_eq!(dispensed["status"], "decommissioned");
    assert_eq!(dispensed["decommission_reason"], "dispensed");
    assert_eq!(dispensed["ok_to_supply"], false);
    assert_eq!(alert_codes(&dispensed), ["already_decommissioned"]);
    let scanned = scan(&ledger, &batch.code("S1").to_element_string())
        .await
        .ok();
    assert_eq!(alert_codes(&scanned), ["already_decommissioned"]);
    let code = ledger
        .reject_one(p.decommission(&packs[0], DecommissionReason::Dispensed))
        .await;
    assert_eq!(code, "already_decommissioned");

    // Within the 10-day window the pharmacy may undo it.
    ledger.accept_one(p.reactivate(&packs[0])).await;
    let reactivated = ledger.status(&packs[0]).await;
    assert_eq!(reactivated["status"], "active");
    assert_eq!(reactivated["ok_to_supply"], true);

    // A saleable return of S2 to the distributor.
    ledger
        .accept_one(p.ship("RETURN-1", &d.gln, ShipmentPurpose::Return, &items[1..2]))
        .await;
    ledger
        .accept_one(d.receive("RETURN-1", &p.gln, &items[1..2]))
        .await;
    let purpose: String = shipments::table
        .find((p.gln.as_str(), "RETURN-1"))
        .select(shipments::purpose)
        .first(&mut conn)
        .expect("the return shipment");
    assert_eq!(purpose, "return");
    assert_eq!(pack_row(&mut conn, &packs[1]).custodian, d.gln.as_str());

    // The manufacturer recalls the batch: nothing of it ships or is dispensed.
    ledger
        .accept_one(m.recall(&batch, "out-of-specification dissolution"))
        .await;
    let recalled = ledger.status(&packs[2]).await;
    assert_eq!(recalled["recalled"], true);
    assert_eq!(recalled["ok_to_supply"], false);
    assert_eq!(alert_codes(&recalled), ["recalled"]);
    let refused_ship = d.ship("SHIP-3", &p.gln, ShipmentPurpose::Sale, &items[2..3]);
    assert_eq!(ledger.reject_one(refused_ship).await, "recalled");
    let refused_dispense = p.decommission(&packs[0], DecommissionReason::Dispensed);
    assert_eq!(ledger.reject_one(refused_dispense).await, "recalled");

    // Lifted, the batch moves again.
    ledger
        .accept_one(m.lift_recall(&batch, "retest passed"))
        .await;
    assert_eq!(ledger.status(&packs[2]).await["recalled"], false);
    ledger
        .accept_one(d.ship("SHIP-3", &p.gln, ShipmentPurpose::Sale, &items[2..3]))
        .await;
    ledger
        .accept_one(p.receive("SHIP-3", &d.gln, &items[2..3]))
        .await;
    assert_eq!(pack_row(&mut conn, &packs[2]).custodian, p.gln.as_str());

    // The manufacturer sees where the batch is.
    let path = format!("/v1/batches/{}/{}", batch.gtin, batch.lot);
    let whereabouts = ledger.get_signed(&path, &m.key).await.ok();
    assert_eq!(whereabouts["packs"], 6);
    let by_custodian = &whereabouts["by_custodian"];
    assert_eq!(by_custodian[p.gln.as_str()]["active"], 2, "{whereabouts}");
    assert_eq!(by_custodian[d.gln.as_str()]["active"], 2, "{whereabouts}");
    assert_eq!(
        by_custodian[m.gln.as_str()]["in_transit"],
        1,
        "{whereabouts}"
    );
    assert_eq!(by_custodian[m.gln.as_str()]["active"], 1, "{whereabouts}");

    // Cases in cases: S6 goes into case C2, C2 onto a pallet; the pallet
    // ships, is opened at the distributor, and C2 goes on to the pharmacy.
    let (c2, pallet) = (sscc("09506000100000002"), sscc("09506000100000003"));
    let s6 = &packs[5];
    ledger
        .accept(&[
            m.aggregate(&c2, &items[5..6]),
            m.aggregate(&pallet, &[case_item(&c2)]),
            m.ship(
                "SHIP-P",
                &d.gln,
                ShipmentPurpose::Sale,
                &[case_item(&pallet)],
            ),
        ])
        .await;
    assert_eq!(ledger.status(s6).await["status"], "in_transit");
    ledger
        .accept(&[
            d.receive("SHIP-P", &m.gln, &[case_item(&pallet)]),
            d.disaggregate(&pallet),
            d.ship("SHIP-C2", &p.gln, ShipmentPurpose::Sale, &[case_item(&c2)]),
            p.receive("SHIP-C2", &d.gln, &[case_item(&c2)]),
            p.disaggregate(&c2),
        ])
        .await;
    let row = pack_row(&mut conn, s6);
    assert_eq!(
        (row.custodian.as_str(), row.case_sscc),
        (p.gln.as_str(), None)
    );
    ledger
        .accept_one(p.decommission(s6, DecommissionReason::Dispensed))
        .await;
    assert_eq!(ledger.status(s6).await["status"], "decommissioned");

    // S6's custody chain proves every step, the pallet included.
    let path = format!("/v1/packs/{}/S6/provenance", batch.gtin);
    let answer = ledger.get_signed(&path, &p.key).await.ok();
    let chain = verify_provenance(&answer, &ledger, "S6", &batch);
    let proven = |kind: &str, item: Option<String>| (kind.to_string(), item);
    assert_eq!(
        chain,
        [
            proven("commission", Some("S6".into())),
            proven("aggregate", Some(items[5].clone())),
            proven("aggregate", Some(case_item(&c2))),
            proven("ship", Some(case_item(&pallet))),
            proven("receive", Some(case_item(&pallet))),
            proven("ship", Some(case_item(&c2))),
            proven("receive", Some(case_item(&c2))),
            proven("disaggregate", None),
            proven("decommission", None),
        ]
    );

    drop(conn);
    ledger.stop().await;
}

async fn a_receipt_of_nothing_records_every_item_missing(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let (m, d) = (&net.manufacturer, &net.distributor);
    let batch = Batch::fresh(&gtin("0950600013435"), "LOT-E1");
    genesis_with_batch(&ledger, &net, &batch).await;
    ledger.accept_one(m.commission(&batch, &["E1", "E2"])).await;
    let items: Vec<String> = ["E1", "E2"]
        .iter()
        .map(|s| pack_item(&batch.pack(s)))
        .collect();
    ledger
        .accept_one(m.ship("SHIP-E", &d.gln, ShipmentPurpose::Sale, &items))
        .await;

    ledger.accept_one(d.receive("SHIP-E", &m.gln, &[])).await;

    let mut conn = connect(&db);
    let mut missing: Vec<(String, String)> = shipment_discrepancies::table
        .select((shipment_discrepancies::item, shipment_discrepancies::kind))
        .load(&mut conn)
        .expect("load discrepancies");
    missing.sort();
    let expected: Vec<(String, String)> = items
        .iter()
        .map(|i| (i.clone(), "missing".to_string()))
        .collect();
    assert_eq!(missing, expected);
    for serial in ["E1", "E2"] {
        assert_eq!(
            ledger.status(&batch.pack(serial)).await["status"],
            "in_transit"
        );
    }
}
