//! The pharmacy service over real HTTP, with a real ledger and the
//! distributor service: goods from a manufacturer through the distributor
//! to the pharmacy, verified and dispensed (a second dispense refused with
//! the ledger's alert, the first undone), a pack reported stolen, a return
//! to the distributor that verifies it before receiving it; and bad input
//! refused without storing anything.

#[path = "../../distributor/tests/common/mod.rs"]
#[macro_use]
mod common;

use common::*;
use pedigree_party::db::testing::TestDatabase;
use serde_json::{json, Value};

both_backends!(
    packs_go_from_manufacturer_to_patient_and_back,
    bad_input_is_refused_and_nothing_is_stored,
);

/// A ledger with the network registered, the distributor and pharmacy
/// services, and the manufacturer's batch: S1–S6, S1–S4 packed in `case`.
struct World {
    net: Network,
    batch: Batch,
    case: pedigree_schema::gs1::Sscc,
    ledger: Ledger,
    distributor: RunningParty,
    pharmacy: RunningParty,
    // Dropped last: the databases outlive the services using them.
    _dbs: [TestDatabase; 3],
}

impl World {
    async fn new(backend: Backend) -> Self {
        let net = Network::new();
        let dbs = [backend.database(), backend.database(), backend.database()];
        let ledger = Ledger::start(net.ledger_settings(&dbs[0]));
        ledger.accept(&net.genesis()).await;
        let m = Manufacturer {
            member: &net.manufacturer,
        };
        let batch = Batch::fresh(&gtin("0950600013435"), "LOT1");
        let case = sscc("09506000100000001");
        ledger.accept(&m.product_and_batch(&batch)).await;
        ledger
            .accept(&[m.commission(&batch, &["S1", "S2", "S3", "S4", "S5", "S6"])])
            .await;
        let packed = ["S1", "S2", "S3", "S4"].map(|s| batch.item(s)).to_vec();
        ledger.accept(&[m.aggregate(&case, packed)]).await;
        let shipped = vec![case_item(&case), batch.item("S5"), batch.item("S6")];
        ledger
            .accept(&[m.ship("M-1", &net.distributor.gln, shipped)])
            .await;
        let distributor = RunningParty::start(
            net.party_config(&net.distributor, &dbs[1], &ledger),
            pedigree_distributor::routes,
        );
        let pharmacy = RunningParty::start(
            net.party_config(&net.pharmacy, &dbs[2], &ledger),
            pedigree_pharmacy::routes,
        );
        Self {
            net,
            batch,
            case,
            ledger,
            distributor,
            pharmacy,
            _dbs: dbs,
        }
    }

    async fn status(&self, serial: &str) -> Value {
        self.ledger.status(&self.batch.pack(serial)).await
    }

    /// `POST /v1/verify` at the pharmacy.
    async fn verify(&self, serial: &str) -> Value {
        self.pharmacy
            .post("/v1/verify", &json!({ "code": self.batch.scan(serial) }))
            .await
            .ok()
    }

    async fn stop(self) {
        self.pharmacy.stop().await;
        self.distributor.stop().await;
        self.ledger.stop().await;
    }
}

async fn packs_go_from_manufacturer_to_patient_and_back(backend: Backend) {
    let world = World::new(backend).await;
    let (net, batch) = (&world.net, &world.batch);
    let (d, p) = (&world.distributor, &world.pharmacy);
    let code = |serial: &str| batch.scan(serial);

    // The distributor receives the case and S5 (S6 is missing), and sends
    // the whole case and S5 on to the pharmacy.
    d.accepted(
        "/v1/receipts",
        &json!({
            "shipment_id": "M-1",
            "from": net.manufacturer.gln,
            "scanned": [scan_case(&world.case), code("S5")],
        }),
    )
    .await;
    d.accepted(
        "/v1/shipments",
        &json!({
            "shipment_id": "D-1",
            "to": net.pharmacy.gln,
            "scanned": [scan_case(&world.case), code("S5")],
        }),
    )
    .await;

    // In transit, a pack may not be supplied.
    let in_transit = world.verify("S5").await;
    assert_eq!(in_transit["ok_to_supply"], false);
    assert_eq!(alert_codes(&in_transit), ["in_transit"]);

    // The pharmacy receives everything and opens the case.
    let received = p
        .accepted(
            "/v1/receipts",
            &json!({
                "shipment_id": "D-1",
                "from": net.distributor.gln,
                "scanned": [format!("(00){}", world.case), code("S5")],
            }),
        )
        .await;
    assert_eq!(received["kind"], "receive");
    p.accepted(&format!("/v1/cases/{}/open", world.case), &json!({}))
        .await;

    // Verify, dispense, and a second dispense is refused with the alert.
    let verified = world.verify("S1").await;
    assert_eq!(verified["ok_to_supply"], true, "{verified}");
    assert_eq!(alert_codes(&verified), Vec::<String>::new());
    let dispensed = p
        .accepted("/v1/dispense", &json!({"code": code("S1")}))
        .await;
    assert_eq!(dispensed["kind"], "decommission");
    let status = world.status("S1").await;
    assert_eq!(status["status"], "decommissioned");
    assert_eq!(status["decommission_reason"], "dispensed");
    let stored = p.outbox().await.len();
    p.post("/v1/dispense", &json!({"code": code("S1")}))
        .await
        .assert_error(409, "already_decommissioned");
    assert_eq!(
        p.outbox().await.len(),
        stored,
        "a refused dispense stores nothing"
    );
    assert_eq!(
        alert_codes(&world.verify("S1").await),
        ["already_decommissioned"]
    );

    // The dispense is undone: the pack may be supplied again.
    let undone = p
        .accepted("/v1/dispense/undo", &json!({"code": code("S1")}))
        .await;
    assert_eq!(undone["kind"], "reactivate");
    assert_eq!(world.verify("S1").await["ok_to_supply"], true);

    // A stolen pack is out for good: the ledger refuses reactivating it.
    p.accepted(
        "/v1/decommission",
        &json!({"code": code("S2"), "reason": "stolen"}),
    )
    .await;
    assert_eq!(world.status("S2").await["decommission_reason"], "stolen");
    let undo = p
        .post("/v1/dispense/undo", &json!({"code": code("S2")}))
        .await
        .outbox_item();
    let undo = p.settled(undo["id"].as_i64().expect("an id")).await;
    assert_eq!(undo["status"], "rejected");
    assert_eq!(undo["rejection_code"], "status_change_not_allowed");

    // S1 and S3 go back to the distributor, which verifies them before
    // receiving them; a stolen pack in a return is refused.
    let returned = p
        .accepted(
            "/v1/returns",
            &json!({
                "shipment_id": "R-1",
                "to": net.distributor.gln,
                "scanned": [code("S1"), code("S3")],
            }),
        )
        .await;
    assert_eq!(returned["kind"], "ship");
    assert_eq!(world.status("S1").await["status"], "in_transit");
    let incoming = d.get("/v1/shipments/incoming").await.ok();
    let r1 = incoming["shipments"]
        .as_array()
        .expect("shipments")
        .iter()
        .find(|s| s["shipment_id"] == "R-1")
        .cloned()
        .expect("R-1 is an open incoming shipment");
    assert_eq!(r1["purpose"], "return");
    assert_eq!(r1["from"], net.pharmacy.gln.as_str());
    let accept = |scanned: Vec<String>| json!({"shipment_id": "R-1", "from": net.pharmacy.gln, "scanned": scanned});
    let stored = d.outbox().await.len();
    d.post("/v1/returns/accept", &accept(vec![code("S1"), code("S2")]))
        .await
        .assert_error(409, "already_decommissioned");
    assert_eq!(d.outbox().await.len(), stored);
    let accepted = d
        .accepted("/v1/returns/accept", &accept(vec![code("S1"), code("S3")]))
        .await;
    assert_eq!(accepted["kind"], "receive");
    for serial in ["S1", "S3"] {
        let status = world.status(serial).await;
        assert_eq!(status["status"], "active", "{serial}");
        assert_eq!(status["ok_to_supply"], true, "{serial}");
    }
    world.stop().await;
}

async fn bad_input_is_refused_and_nothing_is_stored(backend: Backend) {
    let world = World::new(backend).await;
    let (p, batch) = (&world.pharmacy, &world.batch);
    let distributor = world.net.distributor.gln.to_string();
    let no_serial = format!("(01){}(10)LOT1", batch.gtin);
    let bad: Vec<(&str, Value, &str)> = vec![
        ("/v1/verify", json!({"code": "garbage"}), "unreadable_code"),
        (
            "/v1/verify",
            json!({"code": scan_case(&world.case)}),
            "not_a_pack",
        ),
        ("/v1/verify", json!({}), "malformed_json"),
        ("/v1/dispense", json!({"code": no_serial}), "not_an_item"),
        (
            "/v1/dispense/undo",
            json!({"code": "01"}),
            "unreadable_code",
        ),
        (
            "/v1/decommission",
            json!({"code": batch.scan("S1"), "reason": "dispensed"}),
            "malformed_json",
        ),
        (
            "/v1/decommission",
            json!({"code": batch.scan("S1")}),
            "malformed_json",
        ),
        (
            "/v1/returns",
            json!({"shipment_id": "R-1", "to": distributor, "scanned": []}),
            "nothing_scanned",
        ),
        (
            "/v1/receipts",
            json!({"shipment_id": "D-1", "from": distributor, "scanned": [batch.scan("S1"), "x"]}),
            "unreadable_code",
        ),
        ("/v1/cases/0/open", json!({}), "invalid_sscc"),
    ];
    for (path, body, code) in bad {
        p.post(path, &body).await.assert_error(400, code);
    }
    // A pack the ledger does not know is refused with its alert (FMD A3).
    p.post("/v1/dispense", &json!({"code": batch.scan("S404")}))
        .await
        .assert_error(409, "serial_unknown");
    // Without a valid operator token nothing is looked at.
    let body = json!({"code": batch.scan("S1")}).to_string();
    for path in [
        "/v1/verify",
        "/v1/dispense",
        "/v1/dispense/undo",
        "/v1/decommission",
        "/v1/returns",
        "/v1/receipts",
    ] {
        p.post_raw(path, body.clone(), None)
            .await
            .assert_error(401, "authentication_required");
        p.post_raw(path, body.clone(), Some("not-a-token"))
            .await
            .assert_error(401, "invalid_token");
    }
    assert_eq!(p.outbox().await, Vec::<Value>::new());
    // The common `GET /v1/verify` still answers beside `POST /v1/verify`.
    let common = p
        .get(&format!(
            "/v1/verify?code={}",
            batch.item("S5").replace('(', "%28").replace(')', "%29")
        ))
        .await;
    assert_eq!(common.status, 200, "{}", common.body);
    world.stop().await;
}
