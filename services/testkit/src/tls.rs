//! TLS for tests: a self-signed certificate for the loopback address, the server settings
//! that present it, and clients that trust it or do not.

use std::path::Path;

use pedigree_tls::{CertificateFiles, SelfSigned, ServerTls};

/// A development certificate for `127.0.0.1` and `localhost`, in a temporary directory that
/// lives as long as this value.
pub struct TestCertificate {
    files: CertificateFiles,
    _dir: tempfile::TempDir,
}

impl TestCertificate {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let files = CertificateFiles {
            cert_chain: dir.path().join("cert.pem"),
            private_key: dir.path().join("key.pem"),
        };
        SelfSigned::generate(&["127.0.0.1".into(), "localhost".into()])
            .expect("a self-signed certificate")
            .write_new_files(&files)
            .expect("the certificate files");
        Self { files, _dir: dir }
    }

    /// The certificate's PEM file: what a client configures as its extra CA.
    pub fn ca_cert(&self) -> &Path {
        &self.files.cert_chain
    }

    /// Server settings presenting this certificate.
    pub fn server(&self) -> ServerTls {
        ServerTls::with_certificate(self.files.clone())
    }

    /// An HTTPS client that trusts this certificate (and ignores proxy settings).
    pub fn trusting_client(&self) -> reqwest::Client {
        let pem = std::fs::read(self.ca_cert()).expect("the certificate file");
        reqwest::Client::builder()
            .no_proxy()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a certificate"))
            .build()
            .expect("an HTTPS client")
    }
}

impl Default for TestCertificate {
    fn default() -> Self {
        Self::new()
    }
}

/// An HTTPS client that trusts only the public roots, as a stranger to a private PKI.
pub fn untrusting_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .use_rustls_tls()
        .build()
        .expect("an HTTPS client")
}

/// Asserts that a service's refusal to serve plain HTTP names every one of `hints` (the
/// settings to configure, the opt-out).
pub fn assert_says_how_to_configure_tls(refusal: &dyn std::fmt::Display, hints: &[&str]) {
    let message = refusal.to_string();
    for hint in hints {
        assert!(message.contains(hint), "{hint} in: {message}");
    }
}

/// Whether `error`'s chain says the server's certificate was not trusted.
pub fn is_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(error) = source {
        let text = error.to_string();
        if text.contains("certificate") || text.contains("UnknownIssuer") {
            return true;
        }
        source = error.source();
    }
    false
}
