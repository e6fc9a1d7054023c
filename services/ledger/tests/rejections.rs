//! Refusals, over real HTTP: every rejection code is produced by a request
//! and checked by its code; a refused event leaves no trace while accepted
//! events of the same batch land; resubmission is idempotent; malformed
//! requests get a 4xx with a JSON `{code, message}`.

#[macro_use]
mod common;

use chrono::{Duration, NaiveDate, Utc};
use common::*;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::http::MAX_EVENTS_PER_REQUEST;
use pedigree_ledger::rejection::RejectCode;
use pedigree_schema::event::{
    DecommissionReason, EventBody, EventSubmission, Role, ShipmentPurpose, Timestamp,
};
use pedigree_schema::keys::SecretKey;
use serde_json::json;

both_backends!(
    every_rejection_code_is_produced_and_leaves_no_trace,
    a_mixed_batch_keeps_its_accepted_events_only,
    resubmitting_an_event_returns_its_receipt_again,
    malformed_requests_get_json_errors,
    reactivation_is_allowed_for_ten_days_only,
    a_rotated_key_replaces_the_old_one_from_its_rotation,
);

/// Every [`RejectCode`]; the `match` fails to compile when one is added
/// without being added here (and so to the test below).
fn all_codes() -> Vec<RejectCode> {
    use RejectCode::*;
    let all = vec![
        MalformedEvent,
        BadSignature,
        UnknownParty,
        KeyNotAuthorised,
        KeyNotValidAtTime,
        KeyRevoked,
        RoleNotAllowed,
        TimeInFuture,
        TimeTooOld,
        PartyAlreadyRegistered,
        GovernanceOnly,
        ProductUnknown,
        ProductAlreadyRegistered,
        NotProductOwner,
        BatchUnknown,
        BatchAlreadyRegistered,
        BatchMismatch,
        ExpiryMismatch,
        SerialUnknown,
        SerialAlreadyCommissioned,
        AlreadyDecommissioned,
        StatusChangeNotAllowed,
        Expired,
        Recalled,
        NotCustodian,
        InTransit,
        Aggregated,
        CaseUnknown,
        CaseAlreadyExists,
        NoOpenShipment,
        ShipmentAlreadyExists,
        ReceiverUnknown,
        NotRecalled,
        AlreadyRecalled,
        SuspectCounterfeit,
    ];
    for code in &all {
        match code {
            MalformedEvent
            | BadSignature
            | UnknownParty
            | KeyNotAuthorised
            | KeyNotValidAtTime
            | KeyRevoked
            | RoleNotAllowed
            | TimeInFuture
            | TimeTooOld
            | PartyAlreadyRegistered
            | GovernanceOnly
            | ProductUnknown
            | ProductAlreadyRegistered
            | NotProductOwner
            | BatchUnknown
            | BatchAlreadyRegistered
            | BatchMismatch
            | ExpiryMismatch
            | SerialUnknown
            | SerialAlreadyCommissioned
            | AlreadyDecommissioned
            | StatusChangeNotAllowed
            | Expired
            | Recalled
            | NotCustodian
            | InTransit
            | Aggregated
            | CaseUnknown
            | CaseAlreadyExists
            | NoOpenShipment
            | ShipmentAlreadyExists
            | ReceiverUnknown
            | NotRecalled
            | AlreadyRecalled
            | SuspectCounterfeit => {}
        }
    }
    all
}

/// The state the rejection cases run against.
struct World {
    net: Network,
    /// A second manufacturer, owning no product.
    rival: Party,
    /// Never registered.
    stranger: Party,
    /// The outsider's second key: rotated in, then revoked.
    revoked_key: SecretKey,
    /// Fresh; A1–A6 commissioned; A1, A2 in case `case`; A3 in transit to
    /// the distributor as SHIP-1; A4 destroyed.
    l1: Batch,
    /// Recalled; B1 commissioned.
    l2: Batch,
    /// Expired before anything was commissioned.
    expired: Batch,
    case: pedigree_schema::gs1::Sscc,
}

impl World {
    fn new() -> Self {
        let g1 = gtin("0950600013435");
        Self {
            net: Network::new(),
            rival: Party::new("Rival Generics", Role::Manufacturer, "950600000006"),
            stranger: Party::new("Nobody", Role::Distributor, "950600000007"),
            revoked_key: SecretKey::generate(),
            l1: Batch::fresh(&g1, "L1"),
            l2: Batch::fresh(&g1, "L2"),
            expired: Batch::expiring(
                &g1,
                "LX",
                NaiveDate::from_ymd_opt(2020, 1, 31).expect("a date"),
            ),
            case: sscc("09506000100000001"),
        }
    }

    /// Starts a ledger for this world's network and builds the state.
    async fn start(&self, db: &TestDatabase) -> Ledger {
        let ledger = Ledger::for_network(&self.net, db);
        let (gov, m, d) = (
            &self.net.governance,
            &self.net.manufacturer,
            &self.net.distributor,
        );
        genesis_with_batch(&ledger, &self.net, &self.l1).await;
        let a = |s: &str| pack_item(&self.l1.pack(s));
        ledger
            .accept(&[
                gov.event(self.rival.registration()),
                m.register_batch(&self.l2),
                m.register_batch(&self.expired),
                m.commission(&self.l1, &["A1", "A2", "A3", "A4", "A5", "A6"]),
                m.commission(&self.l2, &["B1"]),
                m.aggregate(&self.case, &[a("A1"), a("A2")]),
                m.ship("SHIP-1", &d.gln, ShipmentPurpose::Sale, &[a("A3")]),
                m.decommission(&self.l1.pack("A4"), DecommissionReason::Destroyed),
                m.recall(&self.l2, "contamination"),
                gov.event(EventBody::RotateKey {
                    party: self.net.outsider.gln.clone(),
                    key: self.revoked_key.public_key(),
                }),
            ])
            .await;
        ledger
            .accept_one(gov.event(EventBody::RevokeKey {
                party: self.net.outsider.gln.clone(),
                key: self.revoked_key.public_key(),
                effective: Timestamp::now(),
                reason: "key compromised".into(),
            }))
            .await;
        ledger
    }
}

/// One refused request per event-level code, each with the code it must get.
fn refused_events(w: &World) -> Vec<(RejectCode, &'static str, EventSubmission)> {
    use RejectCode::*;
    let (gov, m, d, outsider) = (
        &w.net.governance,
        &w.net.manufacturer,
        &w.net.distributor,
        &w.net.outsider,
    );
    let g1 = &w.l1.gtin;
    let g9 = gtin("0950600099999");
    let a = |s: &str| pack_item(&w.l1.pack(s));
    let sale = ShipmentPurpose::Sale;
    let now = Utc::now();
    let product = |name: &str| EventBody::RegisterProduct {
        gtin: g9.clone(),
        name: name.into(),
    };

    let mut tampered = m.register_product(&g9, "Ibuprofen");
    tampered.signed.signature = m.register_product(&g9, "Aspirin").signed.signature;
    let mut wrong_items = m.commission(&w.l1, &["A7", "A8"]);
    wrong_items.items = Some(vec!["A7".into(), "A9".into()]);

    vec![
        (MalformedEvent, "empty product name", m.event(product(""))),
        (MalformedEvent, "items not matching the root", wrong_items),
        (BadSignature, "signature of another event", tampered),
        (
            UnknownParty,
            "unregistered actor",
            w.stranger.event(product("X")),
        ),
        (
            KeyNotAuthorised,
            "signed with another party's key",
            signed_submission(&m.gln, &d.key, Timestamp::now(), product("X"), None),
        ),
        (
            KeyNotValidAtTime,
            "dated before the key was registered",
            m.event_at((now - Duration::hours(1)).into(), product("X")),
        ),
        (
            KeyNotValidAtTime,
            "signed with a superseded key",
            outsider.verify(&w.l1.pack("A5")),
        ),
        (
            KeyRevoked,
            "signed with a revoked key",
            signed_submission(
                &outsider.gln,
                &w.revoked_key,
                Timestamp::now(),
                EventBody::Verify {
                    pack: w.l1.pack("A5"),
                    lot: None,
                    expiry: None,
                    location: None,
                },
                None,
            ),
        ),
        (
            RoleNotAllowed,
            "a distributor registers a product",
            d.event(product("X")),
        ),
        (
            TimeInFuture,
            "dated an hour ahead",
            m.event_at((now + Duration::hours(1)).into(), product("X")),
        ),
        (
            TimeTooOld,
            "dated 31 days back, past the ledger's bound",
            m.event_at((now - Duration::days(31)).into(), product("X")),
        ),
        (
            PartyAlreadyRegistered,
            "registering a party twice",
            gov.event(m.registration()),
        ),
        (
            GovernanceOnly,
            "a manufacturer registers a party",
            m.event(w.stranger.registration()),
        ),
        (
            ProductUnknown,
            "a batch of an unregistered product",
            m.register_batch(&Batch::fresh(&g9, "L9")),
        ),
        (
            ProductAlreadyRegistered,
            "claiming a taken GTIN",
            w.rival.register_product(g1, "Copycat"),
        ),
        (
            NotProductOwner,
            "a batch of another's product",
            w.rival.register_batch(&Batch::fresh(g1, "RIVAL")),
        ),
        (
            BatchUnknown,
            "commissioning into an unregistered batch",
            m.commission(&Batch::fresh(g1, "NOPE"), &["Z1"]),
        ),
        (
            BatchAlreadyRegistered,
            "registering a batch twice",
            m.register_batch(&w.l1),
        ),
        (
            SerialUnknown,
            "shipping an uncommissioned pack",
            m.ship("SHIP-X", &d.gln, sale, &[a("ZZZ")]),
        ),
        (
            SerialAlreadyCommissioned,
            "commissioning a serial twice",
            m.commission(&w.l1, &["A1"]),
        ),
        (
            AlreadyDecommissioned,
            "destroying a destroyed pack",
            m.decommission(&w.l1.pack("A4"), DecommissionReason::Destroyed),
        ),
        (
            StatusChangeNotAllowed,
            "reactivating a destroyed pack",
            m.reactivate(&w.l1.pack("A4")),
        ),
        (
            StatusChangeNotAllowed,
            "reactivating an active pack",
            m.reactivate(&w.l1.pack("A5")),
        ),
        (
            Expired,
            "commissioning into an expired batch",
            m.commission(&w.expired, &["X1"]),
        ),
        (
            Recalled,
            "shipping a recalled pack",
            m.ship("SHIP-X", &d.gln, sale, &[pack_item(&w.l2.pack("B1"))]),
        ),
        (
            NotCustodian,
            "shipping another's pack",
            d.ship("SHIP-X", &m.gln, sale, &[a("A5")]),
        ),
        (
            InTransit,
            "shipping a pack in transit",
            m.ship("SHIP-X", &d.gln, sale, &[a("A3")]),
        ),
        (
            Aggregated,
            "shipping a pack packed in a case",
            m.ship("SHIP-X", &d.gln, sale, &[a("A1")]),
        ),
        (
            CaseUnknown,
            "opening an unknown case",
            m.disaggregate(&sscc("09506000100000099")),
        ),
        (
            CaseAlreadyExists,
            "reusing an SSCC",
            m.aggregate(&w.case, &[a("A5")]),
        ),
        (
            NoOpenShipment,
            "receiving a shipment never sent",
            d.receive("SHIP-9", &m.gln, &[a("A5")]),
        ),
        (
            ShipmentAlreadyExists,
            "reusing a shipment id",
            m.ship("SHIP-1", &d.gln, sale, &[a("A5")]),
        ),
        (
            ReceiverUnknown,
            "shipping to an unregistered party",
            m.ship("SHIP-X", &w.stranger.gln, sale, &[a("A5")]),
        ),
        (
            ReceiverUnknown,
            "shipping to oneself",
            m.ship("SHIP-X", &m.gln, sale, &[a("A5")]),
        ),
        (
            NotRecalled,
            "lifting a recall never made",
            m.lift_recall(&w.l1, "none"),
        ),
        (AlreadyRecalled, "recalling twice", m.recall(&w.l2, "again")),
    ]
}

async fn every_rejection_code_is_produced_and_leaves_no_trace(db: TestDatabase) {
    let w = World::new();
    let ledger = w.start(&db).await;
    let mut conn = connect(&db);
    let mut produced: Vec<RejectCode> = Vec::new();

    for (expected, what, event) in refused_events(&w) {
        let size = ledger.size().await;
        let before = snapshot(&mut conn);
        let code = ledger.reject_one(event).await;
        assert_eq!(code, expected.as_str(), "{what}");
        assert_eq!(ledger.size().await, size, "{what}: the log grew");
        assert_eq!(snapshot(&mut conn), before, "{what}: the state changed");
        produced.push(expected);
    }

    // The batch and expiry mismatches are verification alerts (FMD A68, A52).
    let a5 = w.l1.pack("A5");
    let path = format!(
        "/v1/packs/{}/{}?lot=L2&expiry={}",
        a5.gtin,
        a5.serial,
        pedigree_schema::gs1::Expiry::from_date(Utc::now().date_naive())
    );
    let status = ledger.get(&path).await.ok();
    assert_eq!(status["ok_to_supply"], false);
    let alerts = alert_codes(&status);
    assert_eq!(alerts, ["batch_mismatch", "expiry_mismatch"], "{status}");
    produced.extend([RejectCode::BatchMismatch, RejectCode::ExpiryMismatch]);
    // The risk alert needs a clone scanned far away: produced and checked in
    // tests/risk.rs (`a_clone_far_away_is_flagged_...`).
    produced.push(RejectCode::SuspectCounterfeit);

    let mut missing: Vec<String> = all_codes()
        .into_iter()
        .filter(|code| !produced.contains(code))
        .map(|code| code.as_str())
        .collect();
    missing.sort();
    assert_eq!(missing, Vec::<String>::new(), "codes never produced");

    drop(conn);
    ledger.stop().await;
}

async fn a_mixed_batch_keeps_its_accepted_events_only(db: TestDatabase) {
    let w = World::new();
    let ledger = w.start(&db).await;
    let (m, d) = (&w.net.manufacturer, &w.net.distributor);
    let a = |s: &str| pack_item(&w.l1.pack(s));
    let sale = ShipmentPurpose::Sale;
    let size = ledger.size().await;
    let mut conn = connect(&db);

    let outcomes = ledger
        .append(&[
            m.commission(&w.l1, &["A7"]),
            // A7 landed just before, in the same batch.
            m.commission(&w.l1, &["A8", "A7"]),
            m.ship("SHIP-2", &d.gln, sale, &[a("A5")]),
            // A5 left just before, in the same batch.
            m.ship("SHIP-3", &d.gln, sale, &[a("A5")]),
            d.receive("SHIP-2", &m.gln, &[a("A5")]),
        ])
        .await;
    let indices: Vec<u64> = [&outcomes[0], &outcomes[2], &outcomes[4]]
        .iter()
        .map(|o| o.receipt().index)
        .collect();
    assert_eq!(indices, [size, size + 1, size + 2]);
    assert_eq!(outcomes[1].code(), "serial_already_commissioned");
    assert_eq!(outcomes[3].code(), "in_transit");
    // One group, one checkpoint, covering exactly the accepted events.
    let checkpoint = &outcomes[0].receipt().checkpoint;
    assert_eq!(&outcomes[4].receipt().checkpoint, checkpoint);
    assert_eq!(ledger.size().await, size + 3);
    assert_eq!(ledger.checkpoint().await.checkpoint().size(), size + 3);

    // The refused commissioning created neither of its serials.
    assert_eq!(ledger.status(&w.l1.pack("A8")).await["status"], "unknown");
    assert_eq!(ledger.status(&w.l1.pack("A7")).await["status"], "active");
    // The refused shipment opened nothing; the accepted one was received.
    let a5 = pack_row(&mut conn, &w.l1.pack("A5"));
    assert_eq!(
        (a5.status.as_str(), a5.custodian.as_str()),
        ("active", d.gln.as_str())
    );
    assert_eq!(a5.shipment_id, None);
    let snapshot = snapshot(&mut conn);
    assert!(
        !snapshot.iter().any(|row| row.contains("SHIP-3")),
        "SHIP-3 left a trace"
    );

    drop(conn);
    ledger.stop().await;
}

async fn resubmitting_an_event_returns_its_receipt_again(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let batch = Batch::fresh(&gtin("0950600013435"), "L1");
    genesis_with_batch(&ledger, &net, &batch).await;
    let m = &net.manufacturer;

    let event = m.commission(&batch, &["P1", "P2"]);
    let first = ledger.accept_one(event.clone()).await;
    let size = ledger.size().await;
    // Applied again it would be refused (the serials exist): it is not applied again.
    let again = ledger.accept_one(event.clone()).await;
    assert_eq!((again.index, again.event_id), (first.index, first.event_id));
    assert_eq!(again.leaf_hash, first.leaf_hash);
    assert_eq!(ledger.size().await, size);

    // Twice in one batch, next to an event already in the log.
    let other = m.commission(&batch, &["P3"]);
    let receipts = ledger
        .accept(&[other.clone(), other.clone(), event.clone()])
        .await;
    assert_eq!(receipts[0].index, size);
    assert_eq!(receipts[1].index, size);
    assert_eq!(receipts[2].index, first.index);
    assert_eq!(ledger.size().await, size + 1);

    // And after the log moved on, the receipt proves against the new checkpoint.
    let later = ledger.accept_one(event).await;
    assert_eq!(later.index, first.index);
    assert_ne!(later.checkpoint, first.checkpoint);
    ledger.stop().await;
}

async fn malformed_requests_get_json_errors(db: TestDatabase) {
    let net = Network::new();
    let mut settings = net.settings(&db);
    settings.max_body_bytes = 8 << 20;
    let ledger = Ledger::start(settings, net.log_verifier());
    ledger.accept(&net.genesis()).await;
    let g1 = gtin("0950600013435");
    let valid = net.manufacturer.register_product(&g1, "Aspirin");
    let valid_json = serde_json::to_value(&valid).expect("a submission serialises");
    let size = ledger.size().await;

    let events = "/v1/events";
    let raw = |body: &str| body.as_bytes().to_vec();
    ledger
        .post_raw(events, "application/json", raw("{\"events\": ["))
        .await
        .assert_error(400, "malformed_json");
    ledger
        .post_raw(events, "application/json", raw("[1, 2]"))
        .await
        .assert_error(400, "malformed_json");
    ledger
        .post_raw(events, "text/plain", raw("{\"events\": []}"))
        .await
        .assert_error(400, "unsupported_media_type");
    ledger
        .post_json(events, &json!({ "events": [] }))
        .await
        .assert_error(400, "empty_batch");
    ledger
        .post_json(
            events,
            &json!({ "events": [valid_json], "priority": "high" }),
        )
        .await
        .assert_error(400, "malformed_json");
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut event = valid_json.clone();
        edit(&mut event);
        json!({ "events": [event] })
    };
    let unknown_in_submission = with(&|e| e["colour"] = json!("red"));
    let unknown_in_event = with(&|e| e["event"]["colour"] = json!("red"));
    let unknown_in_body = with(&|e| e["event"]["body"]["colour"] = json!("red"));
    let unknown_kind = with(&|e| e["event"]["body"]["kind"] = json!("teleport"));
    let missing_field = with(&|e| {
        e["event"].as_object_mut().map(|o| o.remove("time"));
    });
    let bad_check_digit = with(&|e| e["event"]["actor"] = json!("9506000000023"));
    let bad_gtin = with(&|e| e["event"]["body"]["gtin"] = json!("09506000134353"));
    let bad_time = with(&|e| e["event"]["time"] = json!("yesterday"));
    let bad_key = with(&|e| e["signer"] = json!("AAAA"));
    for (what, body) in [
        ("unknown field in a submission", unknown_in_submission),
        ("unknown field in an event", unknown_in_event),
        ("unknown field in a body", unknown_in_body),
        ("unknown event kind", unknown_kind),
        ("missing time", missing_field),
        ("GLN with a bad check digit", bad_check_digit),
        ("GTIN with a bad check digit", bad_gtin),
        ("time that is not RFC 3339", bad_time),
        ("signer that is not a key", bad_key),
    ] {
        let answer = ledger.post_json(events, &body).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        answer.assert_error(400, "malformed_json");
    }
    let oversized = format!(
        "{{\"events\": [], \"padding\": \"{}\"}}",
        "x".repeat(9 << 20)
    );
    ledger
        .post_raw(events, "application/json", oversized.into_bytes())
        .await
        .assert_error(413, "payload_too_large");
    let too_many = vec![valid_json.clone(); MAX_EVENTS_PER_REQUEST + 1];
    ledger
        .post_json(events, &json!({ "events": too_many }))
        .await
        .assert_error(400, "batch_too_large");
    assert_eq!(ledger.size().await, size, "nothing malformed was appended");

    // Identifiers, queries and paths of the read side.
    let pack = format!("/v1/packs/{g1}/S1");
    for (path, status, code) in [
        (
            "/v1/packs/09506000134353/S1".to_string(),
            400,
            "invalid_identifier",
        ),
        (
            format!("/v1/packs/{g1}/bad%20serial"),
            400,
            "invalid_identifier",
        ),
        (format!("{pack}?lot=bad%20lot"), 400, "invalid_identifier"),
        (format!("{pack}?expiry=261340"), 400, "invalid_identifier"),
        (format!("{pack}?colour=red"), 400, "bad_query"),
        ("/v1/scan?code=hello".to_string(), 400, "unreadable_code"),
        (
            format!("/v1/scan?code=%2801%29{g1}"),
            400,
            "unreadable_code",
        ),
        ("/v1/scan".to_string(), 400, "bad_query"),
        ("/v1/checkpoints/abc".to_string(), 400, "bad_path"),
        ("/v1/checkpoints/999".to_string(), 404, "not_found"),
        ("/v1/proofs/inclusion?index=x".to_string(), 400, "bad_query"),
        (
            "/v1/proofs/inclusion?index=1&event_id=00".to_string(),
            400,
            "bad_query",
        ),
        (
            "/v1/proofs/inclusion?event_id=00&event_time=2026-11-26T08:00:00Z".to_string(),
            400,
            "malformed_event_id",
        ),
        (
            format!(
                "/v1/proofs/inclusion?event_id={}&event_time=yesterday",
                "ab".repeat(32)
            ),
            400,
            "bad_query",
        ),
        (
            "/v1/proofs/inclusion?index=99".to_string(),
            404,
            "not_found",
        ),
        (
            "/v1/proofs/inclusion?index=1&tree_size=99".to_string(),
            400,
            "bad_proof_request",
        ),
        (
            "/v1/proofs/inclusion?index=3&tree_size=2".to_string(),
            400,
            "bad_proof_request",
        ),
        (
            "/v1/proofs/consistency?old=3&new=2".to_string(),
            400,
            "bad_proof_request",
        ),
        (
            "/v1/proofs/consistency?old=1&new=99".to_string(),
            400,
            "bad_proof_request",
        ),
        ("/v1/nothing-here".to_string(), 404, "not_found"),
        ("/v2/events".to_string(), 404, "not_found"),
        ("/v1/events".to_string(), 404, "not_found"),
    ] {
        ledger.get(&path).await.assert_error(status, code);
    }
    ledger
        .post_json("/v1/nothing-here", &json!({}))
        .await
        .assert_error(404, "not_found");
    ledger.stop().await;
}

async fn reactivation_is_allowed_for_ten_days_only(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let days_ago = |days: i64| Timestamp::from(Utc::now() - Duration::days(days));
    ledger.accept(&net.genesis_at(days_ago(20))).await;
    let m = &net.manufacturer;
    let batch = Batch::fresh(&gtin("0950600013435"), "L1");
    ledger
        .accept(&[
            m.register_product(&batch.gtin, "Aspirin"),
            m.register_batch(&batch),
            m.commission(&batch, &["OLD", "RECENT"]),
        ])
        .await;
    let lock = |serial: &str, days: i64| {
        m.event_at(
            days_ago(days),
            EventBody::Decommission {
                pack: batch.pack(serial),
                reason: DecommissionReason::Locked,
            },
        )
    };
    ledger.accept(&[lock("OLD", 11), lock("RECENT", 9)]).await;

    let code = ledger.reject_one(m.reactivate(&batch.pack("OLD"))).await;
    assert_eq!(code, "status_change_not_allowed");
    assert_eq!(
        ledger.status(&batch.pack("OLD")).await["status"],
        "decommissioned"
    );
    ledger.accept_one(m.reactivate(&batch.pack("RECENT"))).await;
    assert_eq!(
        ledger.status(&batch.pack("RECENT")).await["status"],
        "active"
    );
    // Only the party that decommissioned a pack may reactivate it.
    ledger.accept_one(lock("RECENT", 0)).await;
    let code = ledger
        .reject_one(net.distributor.reactivate(&batch.pack("RECENT")))
        .await;
    assert_eq!(code, "status_change_not_allowed");
    ledger.stop().await;
}

async fn a_rotated_key_replaces_the_old_one_from_its_rotation(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let now = Utc::now();
    ledger
        .accept(&net.genesis_at((now - Duration::hours(1)).into()))
        .await;
    let (gov, m) = (&net.governance, &net.manufacturer);
    let new_key = SecretKey::generate();
    let rotation = gov.event(EventBody::RotateKey {
        party: m.gln.clone(),
        key: new_key.public_key(),
    });
    let rotated_at = rotation.signed.event.time.as_datetime();
    ledger.accept_one(rotation).await;
    let product = |gtin_body: &str| EventBody::RegisterProduct {
        gtin: gtin(gtin_body),
        name: "Aspirin".into(),
    };
    let by = |key: &SecretKey, time: chrono::DateTime<Utc>, body| {
        signed_submission(&m.gln, key, time.into(), body, None)
    };

    // The new key signs from the rotation on; the old one up to it.
    ledger
        .accept_one(by(&new_key, Utc::now(), product("0950600013435")))
        .await;
    let before = rotated_at - Duration::minutes(1);
    ledger
        .accept_one(by(&m.key, before, product("0950600013442")))
        .await;
    for (what, event) in [
        (
            "old key after",
            by(&m.key, Utc::now(), product("0950600013459")),
        ),
        (
            "new key before",
            by(&new_key, before, product("0950600013459")),
        ),
    ] {
        let code = ledger.reject_one(event).await;
        assert_eq!(code, "key_not_valid_at_time", "{what}");
    }

    // Reads are signed with the current key only.
    ledger
        .get_signed("/v1/me/events", &m.key)
        .await
        .assert_error(401, "unknown_key");
    let mine = ledger.get_signed("/v1/me/events", &new_key).await.ok();
    assert_eq!(mine["events"].as_array().map(Vec::len), Some(2));
    ledger.stop().await;
}
