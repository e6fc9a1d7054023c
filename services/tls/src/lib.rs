//! `pedigree-tls`: TLS for Pedigree's services, with rustls (ring provider; no OpenSSL).
//!
//! - [`ServerTls`] is a service's TLS setting — a certificate chain and private key (PEM
//!   files), or none — and [`ServerTls::rustls_config`] enforces the rule that TLS is on by
//!   default: plain HTTP is served only on a loopback address or after an explicit opt-out.
//! - [`SelfSigned`] makes a development certificate for some hosts (`pedigree tls-cert`, tests).
//!
//! Clients (the party's ledger client, the scanner) use reqwest's rustls backend with an
//! optional extra CA certificate; they need nothing from here.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

pub use rustls::ServerConfig;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error(
        "the private key file {path} is readable by group or others (mode {mode:o}); make it 0600"
    )]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error("the certificate chain and private key cannot be used: {0}")]
    Rustls(#[from] rustls::Error),
    #[error(
        "refusing to serve plain HTTP on {listen}, which is not a loopback address. TLS is on by \
         default: {how_to_configure} (`pedigree tls-cert` makes a self-signed pair for \
         development); or opt out explicitly with --insecure-http (PEDIGREE_INSECURE_HTTP=1)"
    )]
    Required {
        listen: SocketAddr,
        how_to_configure: &'static str,
    },
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A certificate chain (leaf first) and its private key, as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateFiles {
    pub cert_chain: PathBuf,
    pub private_key: PathBuf,
}

/// A service's TLS setting.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerTls {
    /// The certificate the service presents; `None` serves plain HTTP where that is allowed.
    pub certificate: Option<CertificateFiles>,
    /// The explicit opt-out: plain HTTP on a non-loopback address.
    pub insecure_http: bool,
}

impl ServerTls {
    /// A setting that presents `certificate`.
    pub fn with_certificate(certificate: CertificateFiles) -> Self {
        Self {
            certificate: Some(certificate),
            insecure_http: false,
        }
    }

    /// The rustls configuration to serve `listen` with, or `None` for plain HTTP, which is
    /// allowed only on a loopback address or with the opt-out. `how_to_configure` tells the
    /// operator where this service's certificate is set.
    pub fn rustls_config(
        &self,
        listen: SocketAddr,
        how_to_configure: &'static str,
    ) -> Result<Option<ServerConfig>, TlsError> {
        match &self.certificate {
            Some(files) => files.server_config().map(Some),
            None if listen.ip().is_loopback() || self.insecure_http => Ok(None),
            None => Err(TlsError::Required {
                listen,
                how_to_configure,
            }),
        }
    }

    /// `http` or `https`, as this setting serves.
    pub fn scheme(&self) -> &'static str {
        if self.certificate.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

impl CertificateFiles {
    /// Reads both files into a rustls server configuration (TLS 1.2 and 1.3, ring).
    pub fn server_config(&self) -> Result<ServerConfig, TlsError> {
        let chain_pem = read(&self.cert_chain)?;
        let chain = CertificateDer::pem_slice_iter(&chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(&self.cert_chain, e))?;
        if chain.is_empty() {
            return Err(TlsError::Pem {
                path: self.cert_chain.clone(),
                reason: "holds no CERTIFICATE block".into(),
            });
        }
        refuse_shared_key_file(&self.private_key)?;
        let key_pem = Zeroizing::new(read(&self.private_key)?);
        let key =
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| pem_error(&self.private_key, e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn pem_error(path: &Path, error: rustls::pki_types::pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.to_path_buf(),
        reason: format!("not usable PEM: {error:?}"),
    }
}

/// Private keys are 0600, like every key file of Pedigree's.
fn refuse_shared_key_file(path: &Path) -> Result<(), TlsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| TlsError::Read {
                path: path.to_path_buf(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(TlsError::KeyPermissions {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A self-signed certificate for development: clients trust it by configuring the
/// certificate itself as their extra CA.
pub struct SelfSigned {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PEM (PKCS#8, ECDSA P-256).
    pub key_pem: Zeroizing<String>,
}

impl SelfSigned {
    /// A certificate valid for `hosts` (DNS names or IP addresses, e.g. `localhost`,
    /// `127.0.0.1`).
    pub fn generate(hosts: &[String]) -> Result<Self, TlsError> {
        let certified = rcgen::generate_simple_self_signed(hosts.to_vec())?;
        Ok(Self {
            cert_pem: certified.cert.pem(),
            key_pem: Zeroizing::new(certified.signing_key.serialize_pem()),
        })
    }

    /// Writes the certificate and the key (mode 0600) to new files; existing files are never
    /// overwritten.
    pub fn write_new_files(&self, files: &CertificateFiles) -> Result<(), TlsError> {
        write_new(&files.private_key, self.key_pem.as_bytes(), 0o600)?;
        write_new(&files.cert_chain, self.cert_pem.as_bytes(), 0o644)
    }
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options
        .open(path)
        .and_then(|mut file| file.write_all(contents).and_then(|()| file.sync_all()))
        .map_err(|source| TlsError::Write {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOW: &str = "set THE_CERT and THE_KEY";

    fn files_in(dir: &Path) -> CertificateFiles {
        CertificateFiles {
            cert_chain: dir.join("cert.pem"),
            private_key: dir.join("key.pem"),
        }
    }

    #[test]
    fn plain_http_is_allowed_on_loopback_or_with_the_opt_out_only() {
        let none = ServerTls::default();
        for loopback in ["127.0.0.1:0", "[::1]:7700", "127.0.0.2:80"] {
            assert!(none
                .rustls_config(loopback.parse().unwrap(), HOW)
                .unwrap()
                .is_none());
        }
        for open in ["0.0.0.0:7700", "[::]:7700", "192.0.2.10:443"] {
            let error = none.rustls_config(open.parse().unwrap(), HOW).unwrap_err();
            assert!(matches!(error, TlsError::Required { .. }), "{error}");
            let message = error.to_string();
            assert!(
                message.contains(HOW) && message.contains("--insecure-http"),
                "{message}"
            );
        }
        let opted_out = ServerTls {
            certificate: None,
            insecure_http: true,
        };
        assert!(opted_out
            .rustls_config("0.0.0.0:7700".parse().unwrap(), HOW)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_generated_certificate_is_served_and_its_key_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        let generated = SelfSigned::generate(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        generated.write_new_files(&files).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.private_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let tls = ServerTls::with_certificate(files.clone());
        assert!(tls
            .rustls_config("0.0.0.0:0".parse().unwrap(), HOW)
            .unwrap()
            .is_some());
        assert_eq!(tls.scheme(), "https");
        let again = generated.write_new_files(&files).unwrap_err();
        assert!(
            matches!(again, TlsError::Write { .. }),
            "never overwritten: {again}"
        );
    }

    #[test]
    fn unusable_files_are_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        let missing = files.server_config().unwrap_err();
        assert!(matches!(missing, TlsError::Read { .. }), "{missing}");

        SelfSigned::generate(&["localhost".into()])
            .unwrap()
            .write_new_files(&files)
            .unwrap();
        let swapped = CertificateFiles {
            cert_chain: files.private_key.clone(),
            private_key: files.private_key.clone(),
        };
        let error = swapped.server_config().unwrap_err();
        assert!(
            matches!(error, TlsError::Pem { .. }),
            "a key is no certificate: {error}"
        );
        let other = CertificateFiles {
            cert_chain: files.cert_chain.clone(),
            private_key: files.cert_chain.clone(),
        };
        #[cfg(unix)]
        {
            let error = other.server_config().unwrap_err();
            assert!(matches!(error, TlsError::KeyPermissions { .. }), "{error}");
        }
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = files_in(dir.path());
        SelfSigned::generate(&["localhost".into()])
            .unwrap()
            .write_new_files(&files)
            .unwrap();
        let other_dir = tempfile::tempdir().unwrap();
        let other = files_in(other_dir.path());
        SelfSigned::generate(&["localhost".into()])
            .unwrap()
            .write_new_files(&other)
            .unwrap();
        let mixed = CertificateFiles {
            cert_chain: files.cert_chain,
            private_key: other.private_key,
        };
        let error = mixed.server_config().unwrap_err();
        assert!(matches!(error, TlsError::Rustls(_)), "{error}");
    }
}
