//! A recall of selected serials, as the scanner sees it against a real ledger: the listed
//! pack is not to be dispensed, on evidence that proves the recall lists it; a pack of the
//! same batch that is not listed stays fit to dispense.

mod support;

use pedigree_schema::event::{EventBody, Timestamp};
use support::*;

#[test]
fn a_recall_of_selected_serials_stops_only_the_listed_packs() {
    let network = Network::new(41);
    let ledger = Ledger::start(&network);
    let batch = Batch::fresh(&gtin("950600013435"), "L9");
    deliver(
        &ledger,
        &network,
        &batch,
        &["P1", "P2", "P3"],
        &sscc("09506000100000009"),
        ago(1, 0),
    );
    ledger.accept(&[network.manufacturer.with_items(
        Timestamp::now(),
        vec!["P2".into(), "P3".into()],
        |set| EventBody::Recall {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            reason: "tampered seals reported".into(),
            serials: Some(set),
        },
    )]);
    let scanner = Scanner::new(&network, &network.pharmacy, &ledger.url);

    let (code, report) = scanner.verify(&batch.code("P2"));
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["verdict"], "do_not_dispense", "{report}");
    assert!(
        reason_codes(&report).iter().any(|c| c == "recalled"),
        "{report}"
    );
    let kinds: Vec<&str> = report["evidence"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default())
        .collect();
    assert!(
        kinds.contains(&"recall"),
        "the evidence holds the recall: {kinds:?}"
    );

    let (code, report) = scanner.verify(&batch.code("P1"));
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verdict"], "ok_to_dispense", "{report}");
    assert!(reason_codes(&report).is_empty(), "{report}");
}
