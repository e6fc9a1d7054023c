//! `pedigree-scan verify`, `fetch` and `batch` against a real ledger
//! started in-process: packs that may be dispensed are OK; dispensed,
//! recalled, expired, unknown and cloned packs never are; malformed input
//! exits 2; missing credentials or an unreachable ledger exit 3.
//!
//! One ledger (the "world") is set up once for the whole file; tests that
//! append to it use serials of their own.

mod support;

use std::sync::OnceLock;

use chrono::{Duration, Utc};
use pedigree_schema::event::{EventBody, Timestamp};
use serde_json::Value;
use support::*;

struct World {
    network: Network,
    ledger: Ledger,
    fresh: Batch,
    recalled: Batch,
    expired: Batch,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let network = Network::new(40);
        let ledger = Ledger::start(&network);
        let fresh = Batch::fresh(&gtin("950600013435"), "L1");
        let recalled = Batch::fresh(&gtin("950600013435"), "L2");
        let expired = Batch::new(
            &gtin("950600013435"),
            "L3",
            Utc::now().date_naive() - Duration::days(5),
        );
        let serials = ["S1", "S2", "S3", "S4", "S5", "S6", "S7"];
        deliver(
            &ledger,
            &network,
            &fresh,
            &serials,
            &sscc("09506000100000001"),
            ago(10, 0),
        );
        let m = &network.manufacturer;
        // The product is registered once; the other batches reuse it.
        ledger.accept(&[m.event(
            ago(10, 100),
            EventBody::RegisterBatch {
                gtin: recalled.gtin.clone(),
                lot: recalled.lot.clone(),
                expiry: recalled.expiry.clone(),
                manufactured: Utc::now().date_naive() - Duration::days(40),
            },
        )]);
        deliver_registered(
            &ledger,
            &network,
            &recalled,
            &["R1"],
            &sscc("09506000100000002"),
            ago(10, 200),
        );
        ledger.accept(&[m.event(
            Timestamp::now(),
            EventBody::Recall {
                gtin: recalled.gtin.clone(),
                lot: recalled.lot.clone(),
                reason: "out-of-specification assay".into(),
                serials: None,
            },
        )]);
        ledger.accept(&[m.event(
            ago(15, 0),
            EventBody::RegisterBatch {
                gtin: expired.gtin.clone(),
                lot: expired.lot.clone(),
                expiry: expired.expiry.clone(),
                manufactured: Utc::now().date_naive() - Duration::days(400),
            },
        )]);
        deliver_registered(
            &ledger,
            &network,
            &expired,
            &["E1"],
            &sscc("09506000100000003"),
            ago(15, 10),
        );
        dispense(&ledger, &network, &fresh.pack("S2"));
        World {
            network,
            ledger,
            fresh,
            recalled,
            expired,
        }
    })
}

/// [`deliver`] without registering the product and batch again.
fn deliver_registered(
    ledger: &Ledger,
    network: &Network,
    batch: &Batch,
    serials: &[&str],
    case: &pedigree_schema::gs1::Sscc,
    start: Timestamp,
) {
    use pedigree_schema::event::{Item, ShipmentPurpose};
    let at = |n: i64| Timestamp::from(start.as_datetime() + Duration::seconds(n));
    let (m, d, p) = (
        &network.manufacturer,
        &network.distributor,
        &network.pharmacy,
    );
    let packs: Vec<String> = serials.iter().map(|s| pack_item(&batch.pack(s))).collect();
    let case_item = Item::Case(case.clone()).to_string();
    let lot = batch.lot.to_string();
    ledger.accept(&[
        m.with_items(
            at(0),
            serials.iter().map(|s| s.to_string()).collect(),
            |set| EventBody::Commission {
                gtin: batch.gtin.clone(),
                lot: batch.lot.clone(),
                serials: set,
            },
        ),
        m.with_items(at(1), packs.clone(), |set| EventBody::Aggregate {
            case: case.clone(),
            contents: set,
        }),
        m.with_items(at(2), vec![case_item.clone()], |set| EventBody::Ship {
            shipment: format!("S-{lot}"),
            to: d.gln.clone(),
            purpose: ShipmentPurpose::Sale,
            contents: set,
        }),
        d.with_items(at(3), vec![case_item], |set| EventBody::Receive {
            shipment: format!("S-{lot}"),
            from: m.gln.clone(),
            received: set,
        }),
        d.event(at(4), EventBody::Disaggregate { case: case.clone() }),
        d.with_items(at(5), packs.clone(), |set| EventBody::Ship {
            shipment: format!("T-{lot}"),
            to: p.gln.clone(),
            purpose: ShipmentPurpose::Sale,
            contents: set,
        }),
        p.with_items(at(6), packs, |set| EventBody::Receive {
            shipment: format!("T-{lot}"),
            from: d.gln.clone(),
            received: set,
        }),
    ]);
}

fn pharmacy_scanner() -> Scanner {
    let world = world();
    Scanner::new(&world.network, &world.network.pharmacy, &world.ledger.url)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

fn assert_not_ok(code: i32, report: &Value, reason: &str) {
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["verdict"], "do_not_dispense", "{report}");
    assert!(
        reason_codes(report).iter().any(|c| c == reason),
        "expected reason {reason}: {report}"
    );
}

#[test]
fn a_pack_delivered_to_this_pharmacy_is_ok_to_dispense_on_verified_evidence() {
    let world = world();
    let scanner = pharmacy_scanner();
    let (code, report) = scanner.verify(&world.fresh.code("S1"));
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verdict"], "ok_to_dispense");
    assert_eq!(report["headline"], "OK TO DISPENSE");
    assert_eq!(report["reasons"], serde_json::json!([]));
    assert_eq!(report["pack"]["gtin"], world.fresh.gtin.as_str());
    assert_eq!(report["pack"]["serial"], "S1");
    assert_eq!(report["pack"]["lot"], "L1");
    assert_eq!(report["pack"]["product"], "Paracetamol 500 mg, 16 tablets");
    let kinds: Vec<&str> = report["evidence"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        [
            "commission",
            "aggregate",
            "ship",
            "receive",
            "disaggregate",
            "ship",
            "receive"
        ]
    );
    let state = &report["evidence"]["state"];
    assert_eq!(state["status"], "active");
    assert_eq!(state["custodian"], world.network.pharmacy.gln.as_str());
    for name in [
        "checkpoint_signature",
        "event_signatures",
        "inclusion_proofs",
        "item_proofs",
        "pack_history",
    ] {
        assert_eq!(check(&report, name)["result"], "passed", "{name}: {report}");
    }
    // First run: nothing cached to compare with, so this checkpoint is cached.
    assert_eq!(
        check(&report, "checkpoint_consistency")["result"],
        "skipped"
    );
    // The ledger scores verifications signed by a registered party; a
    // score is shown as given, and its absence is said.
    match report["risk"]["score"].as_f64() {
        Some(score) => {
            assert!((0.0..=1.0).contains(&score), "{report}");
            assert!(
                report["risk"]["note"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("risk score"),
                "{report}"
            );
        }
        None => assert_eq!(report["risk"]["note"], "no risk score available"),
    }

    // The same pack as a Digital Link, read by a person.
    let run = scanner.run(&["verify", &world.fresh.link("S1")], "");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("OK TO DISPENSE"), "{}", run.stdout);
    assert!(run.stdout.contains("serial S1, batch L1"), "{}", run.stdout);
    assert!(run.stdout.contains("Risk:      "), "{}", run.stdout);
}

#[test]
fn a_dispensed_pack_is_not_ok_and_the_evidence_shows_why() {
    let world = world();
    let (code, report) = pharmacy_scanner().verify(&world.fresh.code("S2"));
    assert_not_ok(code, &report, "already_decommissioned");
    let reason = report["reasons"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["code"] == "already_decommissioned"))
        .expect("the reason");
    assert_eq!(reason["fmd"], "A7");
    assert_eq!(report["evidence"]["state"]["status"], "decommissioned");
    assert_eq!(
        report["evidence"]["state"]["decommission_reason"],
        "dispensed"
    );
    let run = pharmacy_scanner().run(&["verify", &world.fresh.code("S2")], "");
    assert!(run.stdout.starts_with("DO NOT DISPENSE"), "{}", run.stdout);
    assert!(
        run.stdout.contains("A7 pack already decommissioned"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_pack_of_a_recalled_batch_is_not_ok() {
    let world = world();
    let (code, report) = pharmacy_scanner().verify(&world.recalled.code("R1"));
    assert_not_ok(code, &report, "recalled");
}

#[test]
fn an_expired_pack_is_not_ok() {
    let world = world();
    let (code, report) = pharmacy_scanner().verify(&world.expired.code("E1"));
    assert_not_ok(code, &report, "expired");
    // Said by the code itself, before any service was asked.
    let offline_reason = report["reasons"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["code"] == "expired"))
        .expect("expired");
    assert!(
        offline_reason["message"]
            .as_str()
            .unwrap_or("")
            .contains("printed on the pack"),
        "{report}"
    );
}

#[test]
fn an_unknown_pack_is_not_ok() {
    let world = world();
    let (code, report) = pharmacy_scanner().verify(&world.fresh.code("S99"));
    assert_not_ok(code, &report, "serial_unknown");
    assert!(report["evidence"].is_null(), "{report}");
}

#[test]
fn a_cloned_pack_is_not_ok() {
    let world = world();
    // The real pack is at the Corner Pharmacy; its code copied onto a pack
    // at another pharmacy names a pack the log never sent there.
    let outsider = Scanner::new(&world.network, &world.network.outsider, &world.ledger.url);
    let (code, report) = outsider.verify(&world.fresh.code("S3"));
    assert_not_ok(code, &report, "not_in_custody_chain");
    // A copy printed with a made-up batch and expiry.
    let forged = Batch::new(
        &world.fresh.gtin,
        "FAKE9",
        Utc::now().date_naive() + Duration::days(300),
    );
    let (code, report) = pharmacy_scanner().verify(&forged.code("S3"));
    assert_not_ok(code, &report, "batch_mismatch");
    // With the party's GLN configured, a pack the evidence places with
    // another party is suspect even when that party may read its history.
    let mut distributor = Scanner::new(
        &world.network,
        &world.network.distributor,
        &world.ledger.url,
    );
    distributor.set("PEDIGREE_SCAN_GLN", world.network.distributor.gln.as_str());
    let (code, report) = distributor.verify(&world.fresh.code("S3"));
    assert_not_ok(code, &report, "not_custodian");
}

#[test]
fn malformed_payloads_exit_2_with_an_error_object() {
    let scanner = pharmacy_scanner();
    let (code, out) = scanner.verify("(01)09506000134353(21)X");
    assert_eq!(code, 2);
    assert_eq!(out["error"]["code"], "unreadable_code");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("check digit"),
        "{out}"
    );
    let (code, out) = scanner.verify("(01)09506000134352(10)L1");
    assert_eq!(code, 2);
    assert_eq!(out["error"]["code"], "not_a_pack");
    let run = scanner.run(&["verify"], "\n\n");
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("no payload given"), "{run:?}");
}

#[test]
fn several_payloads_on_stdin_give_one_report_each_and_the_worst_exit_code() {
    let world = world();
    let input = format!("{}\n{}\r\n", world.fresh.code("S4"), world.fresh.code("S2"));
    let run = pharmacy_scanner().run(&["verify", "--json"], &input);
    assert_eq!(run.code, 1, "{run:?}");
    let verdicts: Vec<Value> = run
        .json_lines()
        .iter()
        .map(|r| r["verdict"].clone())
        .collect();
    assert_eq!(verdicts, ["ok_to_dispense", "do_not_dispense"]);
}

#[test]
fn without_a_party_key_or_a_ledger_nothing_is_ok() {
    let world = world();
    let mut scanner = pharmacy_scanner();
    scanner.unset("PEDIGREE_SCAN_PARTY_KEY_FILE");
    let (code, report) = scanner.verify(&world.fresh.code("S1"));
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["verdict"], "cannot_verify");
    assert!(
        reason_codes(&report).contains(&"evidence_unavailable".to_string()),
        "{report}"
    );

    let mut scanner = pharmacy_scanner();
    scanner.set("PEDIGREE_SCAN_LEDGER_URL", "http://127.0.0.1:9");
    let (code, report) = scanner.verify(&world.fresh.code("S1"));
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["verdict"], "cannot_verify");
    assert!(
        reason_codes(&report).contains(&"status_unavailable".to_string()),
        "{report}"
    );
}

#[test]
fn the_next_checkpoint_is_checked_for_consistency_with_the_cached_one() {
    let world = world();
    let scanner = pharmacy_scanner();
    let (code, first) = scanner.verify(&world.fresh.code("S4"));
    assert_eq!(code, 0, "{first}");
    let size = first["evidence"]["tree_size"].as_u64().expect("size");
    // The log grows: a verification event by the pharmacy.
    world.ledger.accept(&[world.network.pharmacy.event(
        Timestamp::now(),
        EventBody::Verify {
            pack: world.fresh.pack("S6"),
            lot: None,
            expiry: None,
            location: None,
        },
    )]);
    let (code, second) = scanner.verify(&world.fresh.code("S4"));
    assert_eq!(code, 0, "{second}");
    assert!(second["evidence"]["tree_size"].as_u64().expect("size") > size);
    let consistency = check(&second, "checkpoint_consistency");
    assert_eq!(consistency["result"], "passed", "{second}");
    assert!(
        consistency["detail"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("size {size}")),
        "{consistency}"
    );
}

#[test]
fn witness_cosignatures_are_checked_against_configured_keys_and_a_quorum() {
    // A ledger of its own: cosigning changes what /checkpoint serves.
    let network = Network::new(70);
    let ledger = Ledger::start(&network);
    let batch = Batch::fresh(&gtin("950600013435"), "W1");
    deliver(
        &ledger,
        &network,
        &batch,
        &["W1"],
        &sscc("09506000100000009"),
        ago(1, 0),
    );
    let witness = &network.distributor;
    let mut scanner = Scanner::new(&network, &network.pharmacy, &ledger.url);
    scanner.set(
        "PEDIGREE_SCAN_WITNESS_KEYS",
        &witness.witness().verifier().to_string(),
    );
    scanner.set("PEDIGREE_SCAN_WITNESS_QUORUM", "1");
    let (code, report) = scanner.verify(&batch.code("W1"));
    assert_eq!(code, 3, "{report}");
    assert_eq!(
        check(&report, "cosignatures")["result"],
        "unverifiable",
        "{report}"
    );
    ledger.cosign_latest(witness, &network.log_verifier());
    let (code, report) = scanner.verify(&batch.code("W1"));
    assert_eq!(code, 0, "{report}");
    assert_eq!(check(&report, "cosignatures")["result"], "passed");
    assert_eq!(
        report["evidence"]["witnesses"],
        serde_json::json!([witness.gln.as_str()])
    );
}

#[test]
fn fetched_evidence_verifies_offline_and_says_what_it_cannot_know() {
    let world = world();
    let scanner = pharmacy_scanner();
    let code = world.fresh.code("S5");
    let run = scanner.run(&["fetch", "--json", &code], "");
    assert_eq!(run.code, 0, "{run:?}");
    let stored = run.json()["stored"]
        .as_str()
        .expect("a bundle path")
        .to_string();
    assert!(std::path::Path::new(&stored).is_file());
    // The pack is dispensed after the fetch: offline, the bundle cannot know.
    dispense(&world.ledger, &world.network, &world.fresh.pack("S5"));
    let mut offline = pharmacy_scanner();
    offline.state = scanner.state;
    offline.set("PEDIGREE_SCAN_LEDGER_URL", "http://127.0.0.1:9");
    let run = offline.run(&["verify", "--offline", "--json", &code], "");
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["verdict"], "ok_to_dispense");
    let not_checked = report["offline"]["not_checked"].to_string();
    assert!(not_checked.contains("a later dispense"), "{report}");
    assert!(report["offline"]["fetched_at"].is_string(), "{report}");
    // Online, the dispense shows.
    let (code_online, online) = pharmacy_scanner().verify(&code);
    assert_not_ok(code_online, &online, "already_decommissioned");
    // A pack without a bundle cannot be verified offline.
    let run = offline.run(
        &["verify", "--offline", "--json", &world.fresh.code("S7")],
        "",
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.json()["verdict"], "cannot_verify");
}

#[test]
fn batch_verifies_a_folder_of_photos_and_writes_csv_and_json_summaries() {
    let world = world();
    let scanner = pharmacy_scanner();
    let photos = tempfile::tempdir().expect("dir");
    let mut one = background(500, 400, 21);
    draw_qr(&mut one, &world.fresh.code("S1"), 4.0, 12.0, 250.0, 200.0);
    save(&one, photos.path(), "a.png");
    let mut two = background(500, 400, 22);
    draw_qr(&mut two, &world.fresh.link("S2"), 3.0, -20.0, 250.0, 200.0);
    save(&two, photos.path(), "b.jpg");
    std::fs::write(photos.path().join("c.png"), b"not an image").expect("write");
    let summary = photos.path().join("summary.csv");
    let run = scanner.run(
        &[
            "batch",
            photos.path().to_str().expect("utf-8"),
            "--output",
            summary.to_str().expect("utf-8"),
        ],
        "",
    );
    // The worst outcome is the unreadable file (2 outranks 1).
    assert_eq!(run.code, 2, "{run:?}");
    let csv = std::fs::read_to_string(&summary).expect("a summary");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "source,code,gtin,serial,lot,expiry,verdict,reasons,detail"
    );
    assert!(
        lines[1].contains("a.png") && lines[1].contains(",ok_to_dispense,"),
        "{csv}"
    );
    assert!(
        lines[2].contains("b.jpg") && lines[2].contains(",do_not_dispense,already_decommissioned"),
        "{csv}"
    );
    assert!(
        lines[3].contains("c.png") && lines[3].contains(",unreadable,unreadable_image"),
        "{csv}"
    );

    let codes = photos.path().join("codes.txt");
    std::fs::write(
        &codes,
        format!(
            "{}\n{}\n",
            world.fresh.code("S1"),
            world.recalled.code("R1")
        ),
    )
    .expect("write");
    let run = scanner.run(
        &["batch", codes.to_str().expect("utf-8"), "--format", "json"],
        "",
    );
    assert_eq!(run.code, 1, "{run:?}");
    let summary: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(summary["summary"]["total"], 2);
    assert_eq!(summary["summary"]["ok_to_dispense"], 1);
    assert_eq!(summary["summary"]["do_not_dispense"], 1);
    assert_eq!(summary["results"][1]["verdict"], "do_not_dispense");
}

#[test]
fn acting_needs_a_pharmacy_service_and_help_shows_examples() {
    let world = world();
    let run = pharmacy_scanner().run(&["dispense", &world.fresh.code("S1")], "");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("no pharmacy service is configured"),
        "{run:?}"
    );
    for command in [
        "parse", "verify", "fetch", "batch", "dispense", "destroy", "return",
    ] {
        let run = run_scanner(&[command, "--help"], "", &[], None);
        assert_eq!(run.code, 0, "{command}: {run:?}");
        assert!(
            run.stdout.contains("Examples:"),
            "{command}: {}",
            run.stdout
        );
    }
}
