//! A real fork, not a forged checkpoint: two ledgers with the same log key start from the same
//! genesis (the same signed entries, so the same checkpoints) and then append different
//! events, as a ledger showing two histories to two parties would. The party's witness, having
//! verified one history, is pointed at the other (its service restarted on the same database):
//! it raises a persisted alert with the two checkpoints as evidence, halts, and holds the
//! receipts of what it submits (it stops trusting the log) across a restart too.
//! (The scanner's cached checkpoint against the same kind of fork is tested in
//! `scanner-cli/tests/tamper.rs`.)

#[macro_use]
mod common;

use common::*;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::EventBody;

both_backends!(a_witness_that_sees_two_real_histories_alerts_and_stops_trusting_the_log);

fn product(gtin_body: &str) -> Vec<serde_json::Value> {
    vec![operation(
        &EventBody::RegisterProduct {
            gtin: gtin(gtin_body),
            name: "Ibuprofen 200 mg".into(),
        },
        None,
    )]
}

async fn a_witness_that_sees_two_real_histories_alerts_and_stops_trusting_the_log(
    backend: Backend,
) {
    let net = Network::new();
    let (db_a, db_b, party_db) = (backend.database(), backend.database(), backend.database());
    let any = || "127.0.0.1:0".parse().unwrap();
    let ledger_a = Ledger::start(net.ledger_settings(&db_a, any()));
    let ledger_b = Ledger::start(net.ledger_settings(&db_b, any()));
    let genesis = net.genesis();
    ledger_a.accept(&genesis).await;
    ledger_b.accept(&genesis).await;
    assert_eq!(
        ledger_a
            .checkpoint_text()
            .await
            .lines()
            .take(3)
            .collect::<Vec<_>>(),
        ledger_b
            .checkpoint_text()
            .await
            .lines()
            .take(3)
            .collect::<Vec<_>>(),
        "one history so far"
    );

    // The party sees history A: its product at index 2, verified and cosigned.
    let party = RunningParty::start(net.party_config(&party_db, &ledger_a.base));
    let first = party.submit(product("0950600013435")).await[0];
    assert_eq!(party.settled(first).await["status"], "accepted");
    eventually("the witness to verify size 3 of history A", || async {
        (party.witness().await["tree_size"] == 3).then_some(())
    })
    .await;
    party.stop().await;

    // History B puts other events of the same signer at index 2 and on.
    let m = &net.manufacturer;
    ledger_b
        .accept(&[
            m.register_product(&gtin("0950600099999"), "Other"),
            m.register_product(&gtin("0950600099982"), "Other"),
        ])
        .await;
    let b_latest =
        SignedCheckpoint::parse_and_verify(&ledger_b.checkpoint_text().await, &net.log_verifier())
            .expect("B's checkpoint is signed by the same log key");
    assert_eq!(b_latest.checkpoint().size(), 4);

    // The same party service (same database) now talks to B.
    let party = RunningParty::start(net.party_config(&party_db, &ledger_b.base));
    let alert = eventually("an alert", || async { party.alerts().await.pop() }).await;
    assert_eq!(alert["kind"], "inconsistent", "{alert}");
    let evidence = &alert["evidence"];
    let previous = SignedCheckpoint::parse_and_verify(
        evidence["previous"]
            .as_str()
            .expect("the verified checkpoint"),
        &net.log_verifier(),
    )
    .expect("evidence: A's checkpoint");
    assert_eq!(previous.checkpoint().size(), 3);
    let observed = SignedCheckpoint::parse_and_verify(
        evidence["observed"]
            .as_str()
            .expect("the observed checkpoint"),
        &net.log_verifier(),
    )
    .expect("evidence: B's checkpoint");
    assert_eq!(observed.checkpoint(), b_latest.checkpoint());
    let witness = party.witness().await;
    assert_eq!(witness["halted"], true, "{witness}");
    assert_eq!(witness["tree_size"], 3, "B's history is not taken");

    // Halted: what the party submits is appended by B but its receipt is held, not trusted,
    // and the party cosigns nothing of B's.
    let second = party.submit(product("0950600013442")).await[0];
    let held = party.settled(second).await;
    assert_eq!(held["status"], "held", "{held}");
    let b_now =
        SignedCheckpoint::parse_and_verify(&ledger_b.checkpoint_text().await, &net.log_verifier())
            .expect("B's checkpoint");
    assert!(b_now
        .verified_cosignatures(&[m.witness_verifier()])
        .expect("cosignatures")
        .is_empty());
    party.stop().await;

    // The alert is stored: a restarted service is still halted and still holds receipts.
    let party = RunningParty::start(net.party_config(&party_db, &ledger_b.base));
    let witness = party.witness().await;
    assert_eq!(witness["halted"], true, "{witness}");
    assert_eq!(witness["open_alerts"], 1, "{witness}");
    let third = party.submit(product("0950600013459")).await[0];
    assert_eq!(party.settled(third).await["status"], "held");
    assert_eq!(party.settled(second).await["status"], "held");

    party.stop().await;
    ledger_a.stop().await;
    ledger_b.stop().await;
}
