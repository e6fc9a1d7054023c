//! TLS between a party service and its ledger, and to the party service's own API: a party
//! configured with the ledger's CA delivers over https; a client without it is refused on a
//! certificate error; without a certificate the service serves plain HTTP only on loopback.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use pedigree_ledger::Application;
use pedigree_party::{create_operator_token, LedgerClient, LedgerError, PartyApp, StartError};
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_tls::TlsError;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_delivers_to_a_tls_ledger_and_serves_its_own_api_over_https() {
    let net = Network::new();
    let ledger_db = Backend::Sqlite.database();
    let ledger_certificate = TestCertificate::new();
    let mut settings = net.ledger_settings(&ledger_db, "127.0.0.1:0".parse().unwrap());
    settings.tls = ledger_certificate.server();
    let ledger = Application::build(settings).expect("the ledger starts with TLS");
    let ledger_base = format!("https://127.0.0.1:{}", ledger.port());
    let ledger_handle = ledger.handle();
    let ledger_task = tokio::spawn(ledger.run_until_stopped());
    let genesis = ledger_certificate
        .trusting_client()
        .post(format!("{ledger_base}/v1/events"))
        .json(&json!({ "events": net.genesis() }))
        .send()
        .await
        .expect("the ledger answers over https");
    assert_eq!(genesis.status(), 200);

    // The party trusts the ledger's certificate as its extra CA, and presents its own.
    let party_db = Backend::Sqlite.database();
    let party_certificate = TestCertificate::new();
    let mut config = net.party_config(&party_db, &ledger_base);
    config.tls.server = party_certificate.server();
    config.tls.ledger_ca_cert = Some(ledger_certificate.ca_cert().to_path_buf());
    let app = PartyApp::build(config, test_routes).expect("the party starts with TLS");
    let token = create_operator_token(app.party().db(), "tester").unwrap();
    let party_base = format!("https://127.0.0.1:{}", app.port());
    let party_handle = app.handle();
    let party_task = tokio::spawn(app.run_until_stopped());

    let operator = party_certificate.trusting_client();
    let submitted: serde_json::Value = operator
        .post(format!("{party_base}/v1/test/operations"))
        .bearer_auth(&token)
        .json(&json!({ "operations": product_batch_commission(&gtin("0950600013435"), "L1", &["S1", "S2"]) }))
        .send()
        .await
        .expect("the party answers over https")
        .json()
        .await
        .expect("JSON");
    let last = submitted["items"][2]["id"].as_i64().expect("an outbox id");
    let item = eventually("the outbox delivers over https", || async {
        let item: serde_json::Value = operator
            .get(format!("{party_base}/v1/outbox/{last}"))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (item["status"] != "pending").then_some(item)
    })
    .await;
    assert_eq!(item["status"], "accepted", "{item}");

    let refused = untrusting_client()
        .get(format!("{party_base}/health"))
        .send()
        .await
        .expect_err("a client without the party's CA is refused");
    assert!(is_certificate_error(&refused), "{refused:?}");

    // The ledger client: with the CA it reads the log; without it, the certificate error is
    // an unreachable ledger (worth retrying once the configuration is fixed).
    let key = Arc::new(net.manufacturer.key());
    let trusting =
        LedgerClient::with_extra_ca(&ledger_base, key.clone(), ledger_certificate.ca_cert())
            .unwrap();
    let text = trusting
        .checkpoint()
        .await
        .expect("a checkpoint over https");
    let checkpoint = SignedCheckpoint::parse_and_verify(&text, &net.log_verifier()).unwrap();
    assert_eq!(
        checkpoint.checkpoint().size(),
        5,
        "genesis and the three events"
    );
    let stranger = LedgerClient::new(&ledger_base, key.clone()).unwrap();
    match stranger.checkpoint().await {
        Err(LedgerError::Unreachable(reason)) => {
            assert!(reason.contains("certificate"), "{reason}")
        }
        other => panic!("expected a certificate error, got {other:?}"),
    }
    let not_a_ca = LedgerClient::with_extra_ca(&ledger_base, key, Path::new("/nonexistent.pem"));
    assert!(
        matches!(not_a_ca, Err(LedgerError::CaCertificate { .. })),
        "{not_a_ca:?}"
    );

    party_handle.stop(true).await;
    party_task.await.unwrap().unwrap();
    ledger_handle.stop(true).await;
    ledger_task.await.unwrap().unwrap();
}

#[test]
fn without_a_certificate_a_party_refuses_to_listen_beyond_loopback() {
    let net = Network::new();
    let db = Backend::Sqlite.database();
    let mut config = net.party_config(&db, "https://ledger.example");
    config.listen = "0.0.0.0:0".parse().unwrap();
    let refused = PartyApp::build(config, test_routes)
        .err()
        .expect("no plain HTTP on an open address");
    assert!(
        matches!(refused, StartError::Tls(TlsError::Required { .. })),
        "{refused}"
    );
    assert_says_how_to_configure_tls(
        &refused,
        &["tls_cert", "PEDIGREE_PARTY_TLS_CERT", "--insecure-http"],
    );
}
