//! `dispense`, `destroy` and `return` go through the pharmacy service
//! (`POST /v1/dispense`, `/v1/dispense/undo`, `/v1/decommission`,
//! `/v1/returns`, bearer token), and only after a verification against a
//! real ledger. The pharmacy service is a fake here that relays the
//! ledger's status for `POST /v1/verify` and records every request.

mod support;

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use support::*;

const TOKEN: &str = "operator-token-for-tests";

struct Counter {
    network: Network,
    /// Kept for the test's length: its database lives as long as it does.
    _ledger: Ledger,
    batch: Batch,
    scanner: Scanner,
    seen: Arc<Mutex<Vec<Request>>>,
}

/// A ledger with P1–P5 delivered to the pharmacy and P2 dispensed, and a
/// fake pharmacy service that refuses (409) anything about P5.
fn counter(seed: u8) -> Counter {
    let network = Network::new(seed);
    let ledger = Ledger::start(&network);
    let batch = Batch::fresh(&gtin("950600013435"), "A1");
    deliver(
        &ledger,
        &network,
        &batch,
        &["P1", "P2", "P3", "P4", "P5"],
        &sscc("09506000100000006"),
        ago(2, 0),
    );
    dispense(&ledger, &network, &batch.pack("P2"));
    let ledger_url = ledger.url.clone();
    let refused = batch.code("P5");
    let (url, seen) = fake_server(move |request| {
        if request.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            return (
                401,
                json!({"code": "invalid_token", "message": "bad token"}).to_string(),
            );
        }
        let code = request.json()["code"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match request.path.as_str() {
            "/v1/verify" => {
                let status = reqwest::blocking::get(format!(
                    "{ledger_url}/v1/scan?code={}",
                    url_encode(&code)
                ))
                .and_then(|r| r.text())
                .unwrap_or_default();
                (200, status)
            }
            _ if code == refused => (
                409,
                json!({"code": "already_decommissioned", "message": "refused by the test"})
                    .to_string(),
            ),
            _ => (202, json!({"outbox": [1]}).to_string()),
        }
    });
    let mut scanner = Scanner::new(&network, &network.pharmacy, &ledger.url);
    scanner.set("PEDIGREE_SCAN_PHARMACY_URL", &url);
    scanner.set("PEDIGREE_SCAN_PHARMACY_TOKEN", TOKEN);
    Counter {
        network,
        _ledger: ledger,
        batch,
        scanner,
        seen,
    }
}

impl Counter {
    /// The requests made to a path other than `/v1/verify`.
    fn acts(&self) -> Vec<Request> {
        self.seen
            .lock()
            .expect("the record")
            .iter()
            .filter(|r| r.path != "/v1/verify")
            .cloned()
            .collect()
    }
}

#[test]
fn a_pack_that_verifies_ok_is_dispensed_through_the_pharmacy_service() {
    let c = counter(60);
    let code = c.batch.code("P1");
    let run = c.scanner.run(&["dispense", "--json", &code], "");
    assert_eq!(run.code, 0, "{run:?}");
    let out = run.json();
    assert_eq!(out["done"], true, "{out}");
    assert_eq!(out["verification"][0]["verdict"], "ok_to_dispense");
    // The status came from the pharmacy service, which relays the ledger's.
    assert_eq!(out["verification"][0]["status_source"], "pharmacy");
    let acts = c.acts();
    assert_eq!(acts.len(), 1);
    assert_eq!(
        (acts[0].method.as_str(), acts[0].path.as_str()),
        ("POST", "/v1/dispense")
    );
    assert_eq!(acts[0].json(), json!({ "code": code }));
}

#[test]
fn a_pack_that_does_not_verify_ok_is_never_sent_for_dispensing() {
    let c = counter(61);
    let run = c.scanner.run(&["dispense", &c.batch.code("P2")], "");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.starts_with("DO NOT DISPENSE"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("NOT DONE: the verification says DO NOT DISPENSE"),
        "{}",
        run.stdout
    );
    assert!(c.acts().is_empty(), "{:?}", c.acts());
    // A refusal by the service is a refusal (exit 1), with its reason.
    let run = c
        .scanner
        .run(&["dispense", "--json", &c.batch.code("P5")], "");
    assert_eq!(run.code, 1, "{run:?}");
    let out = run.json();
    assert_eq!(out["done"], false);
    assert_eq!(out["error"]["status"], 409);
    assert_eq!(out["error"]["code"], "already_decommissioned");
}

#[test]
fn undo_destroy_and_return_send_what_the_api_documents() {
    let c = counter(62);
    let run = c
        .scanner
        .run(&["dispense", "--undo", &c.batch.code("P2")], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("DISPENSE UNDONE"), "{}", run.stdout);
    // A dispensed pack may still be destroyed: it verifies, it is just not saleable.
    let run = c.scanner.run(
        &["destroy", "--reason", "destroyed", &c.batch.code("P2")],
        "",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let (p3, p4) = (c.batch.code("P3"), c.batch.code("P4"));
    let distributor = c.network.distributor.gln.to_string();
    let run = c.scanner.run(
        &[
            "return",
            "--shipment-id",
            "RET-1",
            "--to",
            &distributor,
            &p3,
            &p4,
        ],
        "",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let acts = c.acts();
    let bodies: Vec<(&str, Value)> = acts.iter().map(|r| (r.path.as_str(), r.json())).collect();
    assert_eq!(
        bodies,
        [
            ("/v1/dispense/undo", json!({ "code": c.batch.code("P2") })),
            (
                "/v1/decommission",
                json!({ "code": c.batch.code("P2"), "reason": "destroyed" })
            ),
            (
                "/v1/returns",
                json!({ "shipment_id": "RET-1", "to": distributor, "scanned": [p3, p4] })
            ),
        ]
    );
}

#[test]
fn a_return_with_any_unsaleable_pack_returns_nothing() {
    let c = counter(63);
    let distributor = c.network.distributor.gln.to_string();
    let run = c.scanner.run(
        &[
            "return",
            "--json",
            "--shipment-id",
            "RET-2",
            "--to",
            &distributor,
            &c.batch.code("P3"),
            &c.batch.code("P2"),
        ],
        "",
    );
    assert_eq!(run.code, 1, "{run:?}");
    let out = run.json();
    assert_eq!(out["done"], false);
    assert_eq!(out["verification"][1]["verdict"], "do_not_dispense");
    assert!(c.acts().is_empty(), "{:?}", c.acts());
}
