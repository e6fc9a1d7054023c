//! A small supply chain with a history and queued alerts, for the alert
//! queue's and the dashboard's tests: a pack sold at the corner pharmacy, a
//! pack still on its shelf, and two rule alerts — the sold pack's code
//! verified again by a Belgian pharmacy (`already_decommissioned`, region
//! BE), and a made-up serial verified by the outsider (`serial_unknown`).

#![allow(dead_code)] // Each test binary uses a different part of this module.

use pedigree_schema::event::{DecommissionReason, Role, ShipmentPurpose};
use pedigree_schema::gs1::PackId;
use pedigree_schema::keys::SecretKey;
use pedigree_schema::request_auth::SignedRequest;
use pedigree_testkit::{answer, client, gtin, pack_item, Answer, Batch, Network, Party};
use serde_json::Value;

use crate::common::{genesis_with_batch, Ledger};

pub struct Seeded {
    pub batch: Batch,
    /// Dispensed by the network's pharmacy, then verified in Belgium.
    pub sold: PackId,
    /// Active, on the pharmacy's shelf.
    pub shelf: PackId,
    /// A serial the manufacturer never commissioned.
    pub made_up: PackId,
    /// A pharmacy whose GLN prefix (541) is GS1 Belgium & Luxembourg's.
    pub belgian: Party,
}

/// Seeds the chain and raises the two rule alerts (and whatever the risk
/// model adds to them).
pub async fn seed(ledger: &Ledger, net: &Network) -> Seeded {
    let batch = Batch::fresh(&gtin("0950600013435"), "LOT-D1");
    genesis_with_batch(ledger, net, &batch).await;
    let belgian = Party::new("Pharmacie du Sablon", Role::Pharmacy, "541234500003");
    ledger
        .accept(&[net.governance.event(belgian.registration())])
        .await;
    let (m, d, p) = (&net.manufacturer, &net.distributor, &net.pharmacy);
    let (sold, shelf) = (batch.pack("D1"), batch.pack("D2"));
    let items = vec![pack_item(&sold), pack_item(&shelf)];
    ledger
        .accept(&[
            m.commission(&batch, &["D1", "D2"]),
            m.ship("DS1", &d.gln, ShipmentPurpose::Sale, &items),
            d.receive("DS1", &m.gln, &items),
            d.ship("DS2", &p.gln, ShipmentPurpose::Sale, &items),
            p.receive("DS2", &d.gln, &items),
            p.verify(&sold),
            p.decommission(&sold, DecommissionReason::Dispensed),
        ])
        .await;
    let made_up = batch.pack("NOPE1");
    for (pack, who) in [(&sold, &belgian), (&made_up, &net.outsider)] {
        ledger
            .get_signed(
                &format!("/v1/packs/{}/{}", pack.gtin, pack.serial),
                &who.key(),
            )
            .await
            .ok();
    }
    Seeded {
        batch,
        sold,
        shelf,
        made_up,
        belgian,
    }
}

/// A POST of a JSON `body` signed with `key`.
pub async fn post_signed(ledger: &Ledger, path: &str, body: &Value, key: &SecretKey) -> Answer {
    let bytes = serde_json::to_vec(body).expect("JSON");
    let signed = SignedRequest::sign(key, "POST", path, &bytes, chrono::Utc::now().timestamp());
    let mut request = client()
        .post(ledger.url(path))
        .header("content-type", "application/json")
        .body(bytes);
    for (name, value) in signed.headers() {
        request = request.header(name, value);
    }
    answer(request.send().await.expect("the ledger answers")).await
}

/// The alerts of a queue answer.
pub fn alerts(page: &Value) -> Vec<Value> {
    page["alerts"].as_array().expect("alerts").clone()
}

/// The one alert raised by `source`, as regulators list it.
pub async fn alert_from(ledger: &Ledger, net: &Network, source: &str) -> Value {
    let page = ledger
        .get_signed(
            &format!("/v1/alerts?state=any&source={source}"),
            &net.governance.key(),
        )
        .await
        .ok();
    let found = alerts(&page);
    assert_eq!(found.len(), 1, "one {source} alert: {page}");
    found[0].clone()
}
