//! The scanner over https: with the ledger's certificate configured as its extra CA
//! (`--ca-cert` or `PEDIGREE_SCAN_CA_CERT`) it verifies a pack end to end; without it the
//! ledger cannot be trusted and nothing is verified (exit 3, the certificate named).

mod support;

use pedigree_tls::{CertificateFiles, SelfSigned};
use support::*;

#[test]
fn the_scanner_verifies_over_https_only_with_the_ledgers_ca() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = CertificateFiles {
        cert_chain: dir.path().join("ledger.pem"),
        private_key: dir.path().join("ledger.key"),
    };
    SelfSigned::generate(&["127.0.0.1".into()])
        .unwrap()
        .write_new_files(&certificate)
        .unwrap();
    let network = Network::new(70);
    let ledger = Ledger::start_with_tls(&network, Some(&certificate));
    assert!(ledger.url.starts_with("https://"), "{}", ledger.url);
    let batch = Batch::fresh(&gtin("950600013435"), "TLS1");
    deliver(
        &ledger,
        &network,
        &batch,
        &["S1"],
        &sscc("09506000100000070"),
        ago(5, 0),
    );
    let ca = certificate.cert_chain.display().to_string();

    let scanner = Scanner::new(&network, &network.pharmacy, &ledger.url);
    let run = scanner.run(
        &["--ca-cert", &ca, "verify", "--json", &batch.code("S1")],
        "",
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["verdict"], "ok_to_dispense", "{run:?}");

    let mut by_variable = Scanner::new(&network, &network.pharmacy, &ledger.url);
    by_variable.set("PEDIGREE_SCAN_CA_CERT", &ca);
    let (code, report) = by_variable.verify(&batch.code("S1"));
    assert_eq!(code, 0, "{report}");

    let stranger = Scanner::new(&network, &network.pharmacy, &ledger.url);
    let (code, report) = stranger.verify(&batch.code("S1"));
    assert_eq!(code, 3, "{report}");
    assert_eq!(report["verdict"], "cannot_verify", "{report}");
    assert!(
        report.to_string().contains("certificate"),
        "the reason names the certificate: {report}"
    );

    let not_a_certificate = certificate.private_key.display().to_string();
    let run = scanner.run(
        &[
            "--ca-cert",
            &not_a_certificate,
            "verify",
            "--json",
            &batch.code("S1"),
        ],
        "",
    );
    assert_eq!(
        run.code, 2,
        "an unusable CA file is a configuration error: {run:?}"
    );
    assert!(run.stderr.contains("--ca-cert"), "{run:?}");
}
