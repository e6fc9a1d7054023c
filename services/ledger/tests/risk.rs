//! Counterfeit-risk scoring end to end: a dispensed pack's code verified at
//! another pharmacy far away is flagged and queued for regulators; the
//! dispensing pharmacist verifying it twice is not; anonymous answers carry
//! no score.

#[macro_use]
mod common;

use common::*;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_risk::Scorer;
use pedigree_schema::event::{DecommissionReason, EventBody, GeoPoint, ShipmentPurpose};
use serde_json::Value;

both_backends!(a_clone_far_away_is_flagged_and_a_double_verification_is_not);

const LYON: GeoPoint = GeoPoint {
    lat_e6: 45_764_000,
    lon_e6: 4_836_000,
};
const HAMBURG: GeoPoint = GeoPoint {
    lat_e6: 53_551_000,
    lon_e6: 9_994_000,
};

/// Registers `party` at `place`.
fn located(
    net: &Network,
    party: &Party,
    place: GeoPoint,
) -> pedigree_schema::event::EventSubmission {
    let EventBody::RegisterParty {
        party: gln,
        name,
        role,
        key,
        ..
    } = party.registration()
    else {
        unreachable!("registration() is a RegisterParty body");
    };
    net.governance.event(EventBody::RegisterParty {
        party: gln,
        name,
        role,
        key,
        location: Some(place),
    })
}

fn score(status: &Value) -> f64 {
    status["risk"]["score"].as_f64().expect("a risk score")
}

async fn a_clone_far_away_is_flagged_and_a_double_verification_is_not(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let threshold = Scorer::shipped().expect("shipped model").alert_threshold();
    let (m, d, p) = (&net.manufacturer, &net.distributor, &net.pharmacy);
    ledger
        .accept(&[
            located(&net, &net.governance, LYON),
            located(&net, m, LYON),
            located(&net, d, LYON),
            located(&net, p, LYON),
            located(&net, &net.outsider, HAMBURG),
        ])
        .await;
    let batch = Batch::fresh(&gtin("0950600013435"), "LOT-R1");
    let (sold, shelf) = (batch.pack("R1"), batch.pack("R2"));
    let items = vec![pack_item(&sold), pack_item(&shelf)];
    ledger
        .accept(&[
            m.register_product(&batch.gtin, "Paracetamol 500 mg, 16 tablets"),
            m.register_batch(&batch),
            m.commission(&batch, &["R1", "R2"]),
            m.ship("RS1", &d.gln, ShipmentPurpose::Sale, &items),
            d.receive("RS1", &m.gln, &items),
            d.ship("RS2", &p.gln, ShipmentPurpose::Sale, &items),
            p.receive("RS2", &d.gln, &items),
            p.verify(&sold),
            p.decommission(&sold, DecommissionReason::Dispensed),
        ])
        .await;
    let path = format!("/v1/packs/{}/{}", sold.gtin, sold.serial);

    // The public answer is unchanged: no score for anonymous callers.
    let public = ledger.get(&path).await.ok();
    assert!(public.get("risk").is_none(), "{public}");

    // The pharmacist who dispensed it checks it again: no alarm.
    let twice = ledger.get_signed(&path, &p.key()).await.ok();
    assert!(score(&twice) < threshold, "double verification: {twice}");

    // The same code at a pharmacy 900 km away, minutes after dispensing.
    let clone = ledger.get_signed(&path, &net.outsider.key()).await.ok();
    assert!(score(&clone) >= threshold, "clone: {clone}");
    assert!(score(&clone) > 0.9, "clone: {clone}");
    let reasons = clone["risk"]["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty(), "{clone}");

    // A clone of the pack still on the shelf: the rules alone would pass it,
    // the score makes it unfit to supply.
    let shelf_path = format!("/v1/packs/{}/{}", shelf.gtin, shelf.serial);
    let rules_only = ledger.get(&shelf_path).await.ok();
    assert_eq!(rules_only["ok_to_supply"], true, "{rules_only}");
    let suspect = ledger
        .get_signed(&shelf_path, &net.outsider.key())
        .await
        .ok();
    assert_eq!(suspect["ok_to_supply"], false, "{suspect}");
    assert!(
        alert_codes(&suspect).contains(&"suspect_counterfeit".to_string()),
        "{suspect}"
    );

    // The same clone, verified by a verify event.
    ledger.accept(&[net.outsider.verify(&shelf)]).await;

    // Regulators see both, highest score first; others may not look. The
    // verify event is scored beside the append's answer, so its alert
    // arrives shortly after.
    let queue = eventually("both alerts in the queue", || async {
        let queue = ledger
            .get_signed("/v1/alerts", &net.governance.key())
            .await
            .ok();
        let serials: Vec<String> = queue["alerts"]
            .as_array()
            .map(|alerts| {
                alerts
                    .iter()
                    .filter_map(|a| a["serial"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (serials.iter().any(|s| s == "R1") && serials.iter().any(|s| s == "R2")).then_some(queue)
    })
    .await;
    let alerts = queue["alerts"].as_array().expect("alerts");
    assert!(
        alerts
            .iter()
            .all(|a| a["party"] == net.outsider.gln.as_str()),
        "{queue}"
    );
    let scores: Vec<f64> = alerts.iter().filter_map(|a| a["score"].as_f64()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    ledger
        .get_signed("/v1/alerts", &p.key())
        .await
        .assert_error(403, "forbidden");
    ledger.stop().await;
}
