//! Access control of the read side, over real HTTP: provenance, batch
//! whereabouts, entry items and a party's own events need a request signed
//! by a registered party's key; only the parties concerned and regulators
//! may read; answers carry proofs that verify; replayed and stale requests
//! are refused.

#[macro_use]
mod common;

use chrono::Utc;
use common::*;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_schema::event::{EventBody, ShipmentPurpose, Timestamp};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::request_auth::KEY_HEADER;
use serde_json::Value;

both_backends!(
    provenance_is_for_the_chain_and_regulators_with_proofs,
    batches_entries_and_own_events_are_guarded,
    replayed_stale_and_forged_requests_are_refused,
    revoked_and_superseded_keys_and_wrong_roles_are_refused,
);

/// P1 travels manufacturer → distributor → pharmacy loose; P3 travels to
/// the distributor in a case; P2 stays with the manufacturer.
struct Chain {
    net: Network,
    batch: Batch,
    case: pedigree_schema::gs1::Sscc,
    /// Log index of SHIP-1 (P1, manufacturer → distributor).
    ship_index: u64,
}

impl Chain {
    async fn build(ledger: &Ledger, net: Network) -> Self {
        let batch = Batch::fresh(&gtin("0950600013435"), "L1");
        let case = sscc("09506000100000001");
        genesis_with_batch(ledger, &net, &batch).await;
        let (m, d, p) = (&net.manufacturer, &net.distributor, &net.pharmacy);
        let item = |s: &str| pack_item(&batch.pack(s));
        let sale = ShipmentPurpose::Sale;
        ledger
            .accept(&[
                m.commission(&batch, &["P1", "P2", "P3"]),
                m.aggregate(&case, &[item("P3")]),
            ])
            .await;
        let ship_index = ledger
            .accept_one(m.ship("SHIP-1", &d.gln, sale, &[item("P1")]))
            .await
            .index;
        ledger
            .accept(&[
                d.receive("SHIP-1", &m.gln, &[item("P1")]),
                d.ship("SHIP-2", &p.gln, sale, &[item("P1")]),
                p.receive("SHIP-2", &d.gln, &[item("P1")]),
                m.ship("SHIP-3", &d.gln, sale, &[case_item(&case)]),
                d.receive("SHIP-3", &m.gln, &[case_item(&case)]),
            ])
            .await;
        Self {
            net,
            batch,
            case,
            ship_index,
        }
    }

    fn provenance_path(&self, serial: &str) -> String {
        format!("/v1/packs/{}/{serial}/provenance", self.batch.gtin)
    }
}

async fn provenance_is_for_the_chain_and_regulators_with_proofs(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let chain = Chain::build(&ledger, net).await;
    let net = &chain.net;
    let p1 = chain.provenance_path("P1");

    ledger
        .get(&p1)
        .await
        .assert_error(401, "authentication_required");
    ledger
        .get_signed(&p1, &net.outsider.key)
        .await
        .assert_error(403, "forbidden");
    let stranger = Party::new("Stranger", net.pharmacy.role, "950600000009");
    ledger
        .get_signed(&p1, &stranger.key)
        .await
        .assert_error(401, "unknown_key");

    let p1_item = pack_item(&chain.batch.pack("P1"));
    let expected = vec![
        ("commission".to_string(), Some("P1".to_string())),
        ("ship".to_string(), Some(p1_item.clone())),
        ("receive".to_string(), Some(p1_item.clone())),
        ("ship".to_string(), Some(p1_item.clone())),
        ("receive".to_string(), Some(p1_item.clone())),
    ];
    for reader in [
        &net.manufacturer,
        &net.distributor,
        &net.pharmacy,
        &net.governance,
    ] {
        let answer = ledger.get_signed(&p1, &reader.key).await.ok();
        let seen = verify_provenance(&answer, &ledger, "P1", &chain.batch);
        assert_eq!(seen, expected, "as {}", reader.name);
        assert_eq!(answer["status"]["status"], "active");
    }

    // The same chain, asked for by a scanned code (a GS1 Digital Link).
    let scanned = format!(
        "/v1/scan/provenance?code=https://id.gs1.org/01/{}/21/P1",
        chain.batch.gtin
    );
    ledger
        .get(&scanned)
        .await
        .assert_error(401, "authentication_required");
    let answer = ledger.get_signed(&scanned, &net.pharmacy.key).await.ok();
    let seen = verify_provenance(&answer, &ledger, "P1", &chain.batch);
    assert_eq!(seen, expected, "by scanned code");

    // P3 moved inside a case: the movements prove the case.
    let case = case_item(&chain.case);
    let answer = ledger
        .get_signed(&chain.provenance_path("P3"), &net.distributor.key)
        .await
        .ok();
    let seen = verify_provenance(&answer, &ledger, "P3", &chain.batch);
    let p3_item = pack_item(&chain.batch.pack("P3"));
    assert_eq!(
        seen,
        [
            ("commission".to_string(), Some("P3".to_string())),
            ("aggregate".to_string(), Some(p3_item)),
            ("ship".to_string(), Some(case.clone())),
            ("receive".to_string(), Some(case)),
        ]
    );

    // P2 never left the manufacturer: the distributor is not in its chain.
    let p2 = chain.provenance_path("P2");
    ledger
        .get_signed(&p2, &net.distributor.key)
        .await
        .assert_error(403, "forbidden");
    ledger.get_signed(&p2, &net.manufacturer.key).await.ok();
    ledger
        .get_signed(&chain.provenance_path("P9"), &net.governance.key)
        .await
        .assert_error(404, "not_found");
    ledger.stop().await;
}

async fn batches_entries_and_own_events_are_guarded(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let chain = Chain::build(&ledger, net).await;
    let net = &chain.net;

    // A batch: its product's owner and regulators.
    let batch = format!("/v1/batches/{}/{}", chain.batch.gtin, chain.batch.lot);
    ledger
        .get(&batch)
        .await
        .assert_error(401, "authentication_required");
    for outsider in [&net.distributor, &net.outsider] {
        ledger
            .get_signed(&batch, &outsider.key)
            .await
            .assert_error(403, "forbidden");
    }
    for reader in [&net.manufacturer, &net.governance] {
        let answer = ledger.get_signed(&batch, &reader.key).await.ok();
        assert_eq!(answer["packs"], 3);
        assert_eq!(answer["by_status"]["active"], 3);
    }
    let unknown = format!("/v1/batches/{}/NOPE", chain.batch.gtin);
    ledger
        .get_signed(&unknown, &net.governance.key)
        .await
        .assert_error(404, "not_found");

    // An entry's items: its actor, its counterparty and regulators.
    let items = format!("/v1/entries/{}/items", chain.ship_index);
    ledger
        .get(&items)
        .await
        .assert_error(401, "authentication_required");
    ledger
        .get_signed(&items, &net.pharmacy.key)
        .await
        .assert_error(403, "forbidden");
    for reader in [&net.manufacturer, &net.distributor, &net.governance] {
        let answer = ledger.get_signed(&items, &reader.key).await.ok();
        assert_eq!(answer["index"], chain.ship_index);
        assert_eq!(
            answer["items"],
            serde_json::json!([pack_item(&chain.batch.pack("P1"))])
        );
    }
    ledger
        .get_signed("/v1/entries/999/items", &net.governance.key)
        .await
        .assert_error(404, "not_found");

    // Own events: the caller's, in log order, paged.
    let own = "/v1/me/events";
    ledger
        .get(own)
        .await
        .assert_error(401, "authentication_required");
    let mine = ledger.get_signed(own, &net.distributor.key).await.ok();
    let indices = event_indices(&mine);
    assert_eq!(indices.len(), 3, "{mine}");
    for event in mine["events"].as_array().expect("events") {
        assert_eq!(
            event["entry"]["event"]["actor"],
            net.distributor.gln.as_str()
        );
    }
    let page = format!("{own}?after={}&limit=1", indices[0]);
    let next = ledger.get_signed(&page, &net.distributor.key).await.ok();
    assert_eq!(event_indices(&next), [indices[1]]);
    let none = ledger.get_signed(own, &net.outsider.key).await.ok();
    assert_eq!(event_indices(&none), Vec::<u64>::new());
    ledger.stop().await;
}

fn event_indices(answer: &Value) -> Vec<u64> {
    answer["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["index"].as_u64().expect("an index"))
        .collect()
}

async fn replayed_stale_and_forged_requests_are_refused(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let chain = Chain::build(&ledger, net).await;
    let net = &chain.net;
    let path = chain.provenance_path("P1");
    let key = &net.pharmacy.key;
    let now = Utc::now().timestamp();

    let headers = signed_headers(&path, key, now);
    ledger.get_with(&path, &headers).await.ok();
    ledger
        .get_with(&path, &headers)
        .await
        .assert_error(401, "replayed_request");

    for stale in [now - 3600, now + 3600] {
        ledger
            .get_with(&path, &signed_headers(&path, key, stale))
            .await
            .assert_error(401, "stale_request");
    }
    let elsewhere = signed_headers(&chain.provenance_path("P2"), key, now);
    ledger
        .get_with(&path, &elsewhere)
        .await
        .assert_error(401, "bad_request_signature");
    let partial: Vec<(&str, String)> = headers
        .iter()
        .filter(|(name, _)| *name == KEY_HEADER)
        .cloned()
        .collect();
    ledger
        .get_with(&path, &partial)
        .await
        .assert_error(401, "malformed_authentication");
    // A fresh request by the same key still works.
    ledger.get_signed(&path, key).await.ok();
    ledger.stop().await;
}

/// Keys that were valid are refused once revoked or rotated away, with the same code as a key
/// never registered (a request is judged by the keys valid now); the rotated-in key reads.
/// Regulator-only reads refuse other roles.
async fn revoked_and_superseded_keys_and_wrong_roles_are_refused(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let chain = Chain::build(&ledger, net).await;
    let net = &chain.net;
    let path = chain.provenance_path("P1");
    let (d, p, gov) = (&net.distributor, &net.pharmacy, &net.governance);
    ledger.get_signed(&path, &p.key).await.ok();
    ledger.get_signed(&path, &d.key).await.ok();

    let rotated = SecretKey::generate();
    ledger
        .accept(&[
            gov.event(EventBody::RevokeKey {
                party: p.gln.clone(),
                key: p.public_key(),
                effective: Timestamp::now(),
                reason: "stolen laptop".into(),
            }),
            gov.event(EventBody::RotateKey {
                party: d.gln.clone(),
                key: rotated.public_key(),
            }),
        ])
        .await;
    ledger
        .get_signed(&path, &p.key)
        .await
        .assert_error(401, "unknown_key");
    ledger
        .get_signed(&path, &d.key)
        .await
        .assert_error(401, "unknown_key");
    ledger.get_signed(&path, &rotated).await.ok();

    // The alert queue is for regulators: a registered party of another role is refused.
    ledger
        .get("/v1/alerts")
        .await
        .assert_error(401, "authentication_required");
    ledger
        .get_signed("/v1/alerts", &net.manufacturer.key)
        .await
        .assert_error(403, "forbidden");
    ledger.get_signed("/v1/alerts", &gov.key).await.ok();
    ledger.stop().await;
}
