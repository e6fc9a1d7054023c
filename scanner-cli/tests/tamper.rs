//! Tampered evidence is never reported OK: a changed event, a wrong
//! inclusion or item proof, a checkpoint signed by another key (served by
//! a fake ledger that relays a real ledger's answers, altered), and a log
//! that forked from the checkpoint the scanner cached (a second ledger
//! with the same log key and another history).

mod support;

use pedigree_schema::checkpoint::{Checkpoint, SignedCheckpoint};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteSigner};
use serde_json::Value;
use support::*;

/// A real ledger's answers about one delivered pack.
struct Answers {
    network: Network,
    code: String,
    status: String,
    provenance: Value,
    checkpoint: String,
}

fn answers(seed: u8) -> (Ledger, Answers) {
    let network = Network::new(seed);
    let ledger = Ledger::start(&network);
    let batch = Batch::fresh(&gtin("950600013435"), "T1");
    deliver(
        &ledger,
        &network,
        &batch,
        &["T1", "T2", "T3"],
        &sscc("09506000100000004"),
        ago(2, 0),
    );
    let code = batch.code("T1");
    let status = ledger.get_text(&format!("/v1/scan?code={}", url_encode(&code)));
    let provenance: Value = serde_json::from_str(&ledger.get_signed(
        &format!("/v1/scan/provenance?code={}", url_encode(&code)),
        &network.pharmacy,
    ))
    .expect("JSON");
    let size = provenance["tree_size"].as_u64().expect("size");
    let checkpoint = ledger.get_text(&format!("/v1/checkpoints/{size}"));
    (
        ledger,
        Answers {
            network,
            code,
            status,
            provenance,
            checkpoint,
        },
    )
}

/// Verifies through a fake ledger serving `provenance` and `checkpoint`.
fn verify_served(answers: &Answers, provenance: &Value, checkpoint: &str) -> (i32, Value) {
    let url = fake_routes(vec![
        ("/v1/scan/provenance".into(), 200, provenance.to_string()),
        ("/v1/scan?".into(), 200, answers.status.clone()),
        ("/v1/checkpoints/".into(), 200, checkpoint.to_string()),
    ]);
    Scanner::new(&answers.network, &answers.network.pharmacy, &url).verify(&answers.code)
}

fn failed_checks(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["result"] == "failed")
        .map(|c| c["check"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn assert_tampered(code: i32, report: &Value, check: &str) {
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["verdict"], "cannot_verify", "{report}");
    assert!(
        reason_codes(report).contains(&"evidence_invalid".to_string()),
        "{report}"
    );
    assert!(
        failed_checks(report).contains(&check.to_string()),
        "{report}"
    );
    assert!(report["evidence"].is_null(), "{report}");
}

#[test]
fn the_relayed_answers_unaltered_are_ok_so_each_failure_below_is_the_tampering() {
    let (_ledger, answers) = answers(100);
    let (code, report) = verify_served(&answers, &answers.provenance, &answers.checkpoint);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verdict"], "ok_to_dispense");
}

#[test]
fn a_changed_event_is_caught_by_its_signature() {
    let (_ledger, answers) = answers(110);
    let mut tampered = answers.provenance.clone();
    // The pack's last receipt, now claimed by another shipment.
    let last = tampered["entries"].as_array().expect("entries").len() - 1;
    tampered["entries"][last]["entry"]["event"]["body"]["shipment"] = "T-ELSEWHERE".into();
    let (code, report) = verify_served(&answers, &tampered, &answers.checkpoint);
    assert_tampered(code, &report, "event_signatures");
}

#[test]
fn a_wrong_inclusion_proof_is_caught() {
    let (_ledger, answers) = answers(120);
    let mut tampered = answers.provenance.clone();
    let hash = tampered["entries"][2]["inclusion_proof"][0]
        .as_str()
        .expect("a hash")
        .to_string();
    let flipped = format!(
        "{}{}",
        if hash.starts_with('0') { '1' } else { '0' },
        &hash[1..]
    );
    tampered["entries"][2]["inclusion_proof"][0] = flipped.into();
    let (code, report) = verify_served(&answers, &tampered, &answers.checkpoint);
    assert_tampered(code, &report, "inclusion_proofs");
}

#[test]
fn an_item_proof_for_another_item_is_caught() {
    let (_ledger, answers) = answers(130);
    let mut tampered = answers.provenance.clone();
    // The commissioning's proof, claimed for a serial it does not prove.
    tampered["entries"][0]["item_proof"]["item"] = "T9".into();
    let (code, report) = verify_served(&answers, &tampered, &answers.checkpoint);
    assert_tampered(code, &report, "item_proofs");
}

#[test]
fn a_checkpoint_signed_by_another_key_is_caught() {
    let (_ledger, answers) = answers(140);
    let genuine = SignedCheckpoint::parse_and_verify(
        answers.provenance["checkpoint"]
            .as_str()
            .expect("a checkpoint"),
        &answers.network.log_verifier(),
    )
    .expect("the real checkpoint");
    // Same origin, same body, signed by a key the scanner does not trust.
    let impostor = NoteSigner::new(
        KeyName::parse(ORIGIN).expect("a name"),
        SecretKey::from_seed(&[7; 32]).signing_key().clone(),
    );
    let body = Checkpoint::parse_body(&genuine.checkpoint().to_body()).expect("a body");
    let forged = SignedCheckpoint::sign(body, &impostor)
        .expect("signs")
        .to_string();
    let mut tampered = answers.provenance.clone();
    tampered["checkpoint"] = forged.clone().into();
    let (code, report) = verify_served(&answers, &tampered, &forged);
    assert_tampered(code, &report, "checkpoint_signature");
}

#[test]
fn a_log_that_forked_from_the_cached_checkpoint_is_caught() {
    // Ledger A: the scanner verifies a pack and caches A's checkpoint.
    let (ledger_a, answers) = answers(150);
    let scanner = Scanner::new(&answers.network, &answers.network.pharmacy, &ledger_a.url);
    let (code, first) = scanner.verify(&answers.code);
    assert_eq!(code, 0, "{first}");
    let cached_size = first["evidence"]["tree_size"].as_u64().expect("size");
    // Ledger B: the same log key and parties, another history, longer.
    let network = Network::new(150);
    let ledger_b = Ledger::start(&network);
    let batch = Batch::fresh(&gtin("950600013435"), "T1");
    deliver(
        &ledger_b,
        &network,
        &batch,
        &["T1", "T2", "T3"],
        &sscc("09506000100000004"),
        ago(3, 0),
    );
    deliver_more(&ledger_b, &network);
    let mut forked = scanner;
    forked.set("PEDIGREE_SCAN_LEDGER_URL", &ledger_b.url);
    let (code, report) = forked.verify(&answers.code);
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["verdict"], "cannot_verify");
    assert!(
        reason_codes(&report).contains(&"checkpoint_inconsistent".to_string()),
        "{report}"
    );
    let consistency = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == "checkpoint_consistency"))
        .expect("the check");
    assert_eq!(consistency["result"], "failed");
    assert!(
        consistency["detail"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("cached one of size {cached_size}")),
        "{consistency}"
    );
}

/// A few more entries, so the forked log is longer than the cached one.
fn deliver_more(ledger: &Ledger, network: &Network) {
    let batch = Batch::fresh(&gtin("950600013436"), "X1");
    deliver(
        ledger,
        network,
        &batch,
        &["X1"],
        &sscc("09506000100000005"),
        ago(1, 0),
    );
}
