//! TLS: a ledger presenting a certificate serves its API over https to clients that trust the
//! certificate and to no other; without a certificate it serves plain HTTP only on loopback.

mod common;

use common::*;
use pedigree_ledger::{Application, StartError};
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_tls::TlsError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_served_over_https_to_clients_that_trust_the_certificate() {
    let network = Network::new();
    let db = Backend::Sqlite.database();
    let certificate = TestCertificate::new();
    let mut settings = network.settings(&db);
    settings.tls = certificate.server();
    let app = Application::build(settings).expect("the ledger starts with TLS");
    let port = app.port();
    let base = format!("https://127.0.0.1:{port}");
    let handle = app.handle();
    let task = tokio::spawn(app.run_until_stopped());

    let trusting = certificate.trusting_client();
    let appended = trusting
        .post(format!("{base}/v1/events"))
        .json(&serde_json::json!({ "events": network.genesis() }))
        .send()
        .await
        .expect("an answer over https");
    assert_eq!(appended.status(), 200);
    let text = trusting
        .get(format!("{base}/checkpoint"))
        .send()
        .await
        .expect("an answer over https")
        .text()
        .await
        .expect("a checkpoint");
    let checkpoint = SignedCheckpoint::parse_and_verify(&text, &network.log_verifier())
        .expect("the checkpoint verifies");
    assert_eq!(
        checkpoint.checkpoint().size(),
        5,
        "the genesis was appended"
    );

    let refused = untrusting_client()
        .get(format!("{base}/checkpoint"))
        .send()
        .await
        .expect_err("a client that does not trust the certificate is refused");
    assert!(refused.is_connect(), "{refused:?}");
    assert!(is_certificate_error(&refused), "{refused:?}");

    let plain = client()
        .get(format!("http://127.0.0.1:{port}/checkpoint"))
        .send()
        .await;
    assert!(plain.is_err(), "no plain HTTP answer: {plain:?}");

    handle.stop(true).await;
    task.await.unwrap().unwrap();
}

#[test]
fn without_a_certificate_the_ledger_refuses_to_listen_beyond_loopback() {
    let network = Network::new();
    let db = Backend::Sqlite.database();
    let mut settings = network.settings(&db);
    settings.listen = "0.0.0.0:0".parse().unwrap();
    let refused = Application::build(settings)
        .err()
        .expect("no plain HTTP on an open address");
    assert!(
        matches!(refused, StartError::Tls(TlsError::Required { .. })),
        "{refused}"
    );
    assert_says_how_to_configure_tls(
        &refused,
        &[
            "PEDIGREE_LEDGER_TLS_CERT",
            "PEDIGREE_LEDGER_TLS_KEY",
            "pedigree tls-cert",
            "--insecure-http",
            "PEDIGREE_INSECURE_HTTP=1",
        ],
    );
}
