//! The distributor service over real HTTP, with a real ledger: receiving a
//! manufacturer's shipment (a missing pack recorded as a discrepancy), the
//! open shipments it sees coming, opening a case and shipping whole cases
//! and loose packs, accepting a return only after verifying every pack, and
//! refusing bad input without storing anything.

#[macro_use]
mod common;

use common::*;
use diesel::prelude::*;
use pedigree_ledger::db::schema::shipment_discrepancies;
use pedigree_schema::event::{EventBody, ShipmentPurpose};
use serde_json::{json, Value};

both_backends!(
    receipt_records_discrepancies_and_incoming_follows_the_log,
    a_case_is_opened_and_its_packs_shipped_with_a_whole_case,
    a_return_is_verified_before_it_is_received,
    bad_input_is_refused_and_nothing_is_stored,
);

/// A running ledger and distributor service, and the manufacturer's stock:
/// packs S1–S9 of one batch, S1–S4 in case `c1`, S7–S8 in case `c2`,
/// shipment M-1 (c1, c2, S5, S6) and M-2 (S9) to the distributor.
struct World {
    net: Network,
    batch: Batch,
    c1: pedigree_schema::gs1::Sscc,
    c2: pedigree_schema::gs1::Sscc,
    ledger: Ledger,
    distributor: RunningParty,
    // Dropped last: the databases outlive the services using them.
    ledger_db: pedigree_party::db::testing::TestDatabase,
    _party_db: pedigree_party::db::testing::TestDatabase,
}

impl World {
    async fn new(backend: Backend) -> Self {
        let net = Network::new();
        let (ledger_db, party_db) = (backend.database(), backend.database());
        let ledger = Ledger::start(net.ledger_settings(&ledger_db));
        ledger.accept(&net.genesis()).await;
        let m = Manufacturer {
            member: &net.manufacturer,
        };
        let batch = Batch::fresh(&gtin("0950600013435"), "LOT1");
        let (c1, c2) = (sscc("09506000100000001"), sscc("09506000100000002"));
        ledger.accept(&m.product_and_batch(&batch)).await;
        let serials = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"];
        ledger.accept(&[m.commission(&batch, &serials)]).await;
        let items = |serials: &[&str]| serials.iter().map(|s| batch.item(s)).collect::<Vec<_>>();
        ledger
            .accept(&[
                m.aggregate(&c1, items(&["S1", "S2", "S3", "S4"])),
                m.aggregate(&c2, items(&["S7", "S8"])),
            ])
            .await;
        let to = &net.distributor.gln;
        let mut m1 = items(&["S5", "S6"]);
        m1.extend([case_item(&c1), case_item(&c2)]);
        ledger
            .accept(&[m.ship("M-1", to, m1), m.ship("M-2", to, items(&["S9"]))])
            .await;
        let distributor = RunningParty::start(
            net.party_config(&net.distributor, &party_db, &ledger),
            pedigree_distributor::routes,
        );
        Self {
            net,
            batch,
            c1,
            c2,
            ledger,
            distributor,
            ledger_db,
            _party_db: party_db,
        }
    }

    /// Receives M-1 with S6 missing.
    async fn receive_m1(&self) -> Value {
        self.distributor
            .accepted(
                "/v1/receipts",
                &json!({
                    "shipment_id": "M-1",
                    "from": self.net.manufacturer.gln,
                    "scanned": [
                        scan_case(&self.c1),
                        format!("(00){}", self.c2),
                        self.batch.scan("S5"),
                    ],
                }),
            )
            .await
    }

    async fn status(&self, serial: &str) -> Value {
        self.ledger.status(&self.batch.pack(serial)).await
    }

    async fn stop(self) {
        self.distributor.stop().await;
        self.ledger.stop().await;
    }
}

/// `(shipment_id, from, items, purpose)` of each open incoming shipment.
fn incoming(answer: &Value) -> Vec<(String, String, u64, String)> {
    answer["shipments"]
        .as_array()
        .expect("shipments")
        .iter()
        .map(|s| {
            (
                s["shipment_id"].as_str().expect("id").to_string(),
                s["from"].as_str().expect("from").to_string(),
                s["items"].as_u64().expect("items"),
                s["purpose"].as_str().expect("purpose").to_string(),
            )
        })
        .collect()
}

async fn receipt_records_discrepancies_and_incoming_follows_the_log(backend: Backend) {
    let world = World::new(backend).await;
    let maker = world.net.manufacturer.gln.to_string();
    let before = world.distributor.get("/v1/shipments/incoming").await.ok();
    assert_eq!(
        incoming(&before),
        [
            ("M-1".into(), maker.clone(), 4, "sale".into()),
            ("M-2".into(), maker.clone(), 1, "sale".into()),
        ]
    );

    let receipt = world.receive_m1().await;
    assert_eq!(receipt["kind"], "receive");
    assert!(receipt["receipt"].is_object(), "{receipt}");

    // What arrived is the distributor's, the missing pack stays in transit,
    // and the ledger recorded it as missing.
    for serial in ["S1", "S5", "S7"] {
        assert_eq!(world.status(serial).await["status"], "active", "{serial}");
    }
    assert_eq!(world.status("S6").await["status"], "in_transit");
    let ledger_db = world.ledger_db.open().expect("the ledger database");
    let discrepancies: Vec<(String, String, String)> = shipment_discrepancies::table
        .select((
            shipment_discrepancies::shipment_id,
            shipment_discrepancies::item,
            shipment_discrepancies::kind,
        ))
        .load(&mut *ledger_db.get().expect("a connection"))
        .expect("the discrepancies");
    assert_eq!(
        discrepancies,
        [("M-1".into(), world.batch.item("S6"), "missing".into())]
    );

    let after = world.distributor.get("/v1/shipments/incoming").await.ok();
    assert_eq!(incoming(&after), [("M-2".into(), maker, 1, "sale".into())]);
    assert!(after["tree_size"].as_u64() > before["tree_size"].as_u64());
    world.stop().await;
}

async fn a_case_is_opened_and_its_packs_shipped_with_a_whole_case(backend: Backend) {
    let world = World::new(backend).await;
    world.receive_m1().await;
    let d = &world.distributor;

    // A packed pack cannot move on its own until its case is opened.
    let refused = d
        .post(
            "/v1/shipments",
            &json!({
                "shipment_id": "D-0",
                "to": world.net.pharmacy.gln,
                "scanned": [world.batch.scan("S1")],
            }),
        )
        .await
        .outbox_item();
    let refused = d.settled(refused["id"].as_i64().expect("id")).await;
    assert_eq!(refused["status"], "rejected");
    assert_eq!(refused["rejection_code"], "aggregated");

    let opened = d
        .accepted(&format!("/v1/cases/{}/open", world.c1), &json!({}))
        .await;
    assert_eq!(opened["kind"], "disaggregate");
    let shipped = d
        .accepted(
            "/v1/shipments",
            &json!({
                "shipment_id": "D-1",
                "to": world.net.pharmacy.gln,
                "scanned": [
                    scan_case(&world.c2),
                    world.batch.scan("S1"),
                    format!("https://id.gs1.org/01/{}/21/S2", world.batch.gtin),
                ],
            }),
        )
        .await;
    assert_eq!(shipped["kind"], "ship");
    for (serial, status) in [
        ("S1", "in_transit"),
        ("S2", "in_transit"),
        ("S7", "in_transit"),
        ("S8", "in_transit"),
        ("S3", "active"),
    ] {
        assert_eq!(world.status(serial).await["status"], status, "{serial}");
    }
    world.stop().await;
}

async fn a_return_is_verified_before_it_is_received(backend: Backend) {
    let world = World::new(backend).await;
    world.receive_m1().await;
    let (d, net, batch) = (&world.distributor, &world.net, &world.batch);
    d.accepted(
        "/v1/shipments",
        &json!({
            "shipment_id": "D-1",
            "to": net.pharmacy.gln,
            "scanned": [batch.scan("S5")],
        }),
    )
    .await;
    // The pharmacy (its events straight to the ledger here) receives the
    // pack and sends it back.
    let p = &net.pharmacy;
    let s5 = vec![batch.item("S5")];
    world
        .ledger
        .accept(&[
            p.with_items(s5.clone(), |set| EventBody::Receive {
                shipment: "D-1".into(),
                from: net.distributor.gln.clone(),
                received: set,
            }),
            p.with_items(s5, |set| EventBody::Ship {
                shipment: "R-1".into(),
                to: net.distributor.gln.clone(),
                purpose: ShipmentPurpose::Return,
                contents: set,
            }),
        ])
        .await;
    let open = d.get("/v1/shipments/incoming").await.ok();
    assert!(incoming(&open).contains(&("R-1".into(), p.gln.to_string(), 1, "return".into())));
    let accept = |code: String| json!({"shipment_id": "R-1", "from": p.gln, "scanned": [code]});
    let stored_before = d.outbox().await.len();

    // A code whose lot differs from the pack's batch, an unknown pack, and
    // a pack of a recalled batch are refused with the ledger's alert.
    d.post(
        "/v1/returns/accept",
        &accept(batch.scan_with_lot("S5", "FAKE1")),
    )
    .await
    .assert_error(409, "batch_mismatch");
    d.post("/v1/returns/accept", &accept(batch.scan("S404")))
        .await
        .assert_error(409, "serial_unknown");
    let m = &net.manufacturer;
    let recall = |lift: bool| {
        let (gtin, lot, reason) = (batch.gtin.clone(), batch.lot.clone(), "test".to_string());
        m.event(if lift {
            EventBody::LiftRecall { gtin, lot, reason }
        } else {
            EventBody::Recall {
                gtin,
                lot,
                reason,
                serials: None,
            }
        })
    };
    world.ledger.accept(&[recall(false)]).await;
    d.post("/v1/returns/accept", &accept(batch.scan("S5")))
        .await
        .assert_error(409, "recalled");
    assert_eq!(
        d.outbox().await.len(),
        stored_before,
        "refusals store nothing"
    );

    world.ledger.accept(&[recall(true)]).await;
    let received = d
        .accepted("/v1/returns/accept", &accept(batch.scan("S5")))
        .await;
    assert_eq!(received["kind"], "receive");
    let status = world.status("S5").await;
    assert_eq!(status["status"], "active");
    assert_eq!(status["ok_to_supply"], true);
    let open = d.get("/v1/shipments/incoming").await.ok();
    assert!(incoming(&open).iter().all(|(id, ..)| id != "R-1"));
    world.stop().await;
}

async fn bad_input_is_refused_and_nothing_is_stored(backend: Backend) {
    let world = World::new(backend).await;
    let (d, batch) = (&world.distributor, &world.batch);
    let pharmacy = world.net.pharmacy.gln.to_string();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/v1/receipts",
            json!({"shipment_id": "M-1", "from": world.net.manufacturer.gln, "scanned": ["garbage"]}),
            "unreadable_code",
        ),
        (
            "/v1/receipts",
            json!({"shipment_id": "M-1", "from": "1234", "scanned": []}),
            "malformed_json",
        ),
        (
            "/v1/receipts",
            json!({"shipment_id": "M-1", "from": world.net.manufacturer.gln, "scanned": [], "extra": 1}),
            "malformed_json",
        ),
        (
            "/v1/shipments",
            json!({"shipment_id": "D-1", "to": pharmacy, "scanned": []}),
            "nothing_scanned",
        ),
        (
            "/v1/shipments",
            json!({"shipment_id": "D 1", "to": pharmacy, "scanned": [batch.scan("S5")]}),
            "invalid_operation",
        ),
        (
            "/v1/shipments",
            json!({"shipment_id": "D-1", "to": pharmacy, "scanned": [format!("(01){}(10)LOT1", batch.gtin)]}),
            "not_an_item",
        ),
        ("/v1/cases/123/open", json!({}), "invalid_sscc"),
        (
            "/v1/returns/accept",
            json!({"shipment_id": "R-1", "from": pharmacy, "scanned": [scan_case(&world.c1)]}),
            "not_a_pack",
        ),
        (
            "/v1/returns/accept",
            json!({"shipment_id": "R-1", "from": pharmacy, "scanned": []}),
            "nothing_scanned",
        ),
    ];
    for (path, body, code) in cases {
        d.post(path, &body).await.assert_error(400, code);
    }
    // Without a valid operator token nothing is even looked at.
    let receipt = json!({"shipment_id": "M-1", "from": world.net.manufacturer.gln, "scanned": []});
    for path in ["/v1/receipts", "/v1/shipments", "/v1/returns/accept"] {
        d.post_raw(path, receipt.to_string(), None)
            .await
            .assert_error(401, "authentication_required");
        d.post_raw(path, receipt.to_string(), Some("not-a-token"))
            .await
            .assert_error(401, "invalid_token");
    }
    d.post_raw("/v1/cases/123/open", String::new(), None)
        .await
        .assert_error(401, "authentication_required");
    assert_eq!(
        client()
            .get(format!("{}/v1/shipments/incoming", d.base))
            .send()
            .await
            .expect("the party answers")
            .status(),
        401
    );
    assert_eq!(d.outbox().await, Vec::<Value>::new());
    world.stop().await;
}
