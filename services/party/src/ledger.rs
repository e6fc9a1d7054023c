//! The party's client for the ledger's HTTP API (see the ledger's `http` module).
//!
//! Every call has a timeout. Errors say whether retrying can help: an unreachable ledger or a
//! 5xx answer ([`LedgerError::is_retryable`]) may pass, a 4xx refusal will not.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pedigree_schema::event::EventSubmission;
use pedigree_schema::gs1::{Expiry, Lot, PackId};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::receipt::{ConsistencyProof, Receipt};
use pedigree_schema::request_auth::SignedRequest;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How long establishing a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a query (checkpoint, proof, status) may take in all.
const QUERY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long an append may take: a batch may commit a million serials.
const APPEND_TIMEOUT: Duration = Duration::from_secs(300);

/// RFC 3986 §2.3 unreserved characters stay as they are; everything else in a path segment or
/// query value is percent-encoded, so the path the ledger sees (and a signed request covers)
/// is exactly the one built here.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(component: &str) -> String {
    utf8_percent_encode(component, COMPONENT).to_string()
}

/// Why a ledger call failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// No answer: connection refused, timeout, broken connection.
    #[error("the ledger cannot be reached: {0}")]
    Unreachable(String),
    /// The ledger answered with a server error (5xx).
    #[error("the ledger failed with HTTP {status}: {message}")]
    Server { status: u16, message: String },
    /// The ledger refused the request (4xx) with its `{code, message}`.
    #[error("the ledger refused the request (HTTP {status}, {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer is not what the ledger's API promises.
    #[error("the ledger's answer is malformed: {0}")]
    Malformed(String),
    /// The configured CA certificate for the ledger cannot be used.
    #[error("the ledger CA certificate {path}: {reason}")]
    CaCertificate { path: PathBuf, reason: String },
}

impl LedgerError {
    /// Whether the same request may succeed later (the ledger was unreachable or failed).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::Server { .. })
    }
}

/// One event's outcome from `POST /v1/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AppendResult {
    Accepted { receipt: Receipt },
    Rejected { code: String, message: String },
}

#[derive(Serialize)]
struct AppendRequest<'a> {
    events: &'a [EventSubmission],
}

#[derive(Deserialize)]
struct AppendResponse {
    results: Vec<AppendResult>,
}

#[derive(Deserialize)]
struct EntryItems {
    items: Vec<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// A client for one ledger, signing restricted requests with the party's key.
#[derive(Clone, Debug)]
pub struct LedgerClient {
    base: String,
    http: reqwest::Client,
    key: Arc<SecretKey>,
}

impl LedgerClient {
    /// A client for the ledger at `base_url` (e.g. `https://ledger.example:7700`), trusting
    /// the public roots for `https`.
    pub fn new(base_url: &str, key: Arc<SecretKey>) -> Result<Self, LedgerError> {
        Self::build(base_url, key, reqwest::Client::builder())
    }

    /// A client that also trusts the CA certificate(s) in the PEM file `ca_cert` (a private
    /// PKI, a development certificate from `pedigree tls-cert`).
    pub fn with_extra_ca(
        base_url: &str,
        key: Arc<SecretKey>,
        ca_cert: &Path,
    ) -> Result<Self, LedgerError> {
        let unusable = |reason: String| LedgerError::CaCertificate {
            path: ca_cert.to_path_buf(),
            reason,
        };
        let pem = std::fs::read(ca_cert).map_err(|e| unusable(e.to_string()))?;
        let certificates =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| unusable(e.to_string()))?;
        if certificates.is_empty() {
            return Err(unusable("holds no CERTIFICATE block".into()));
        }
        let builder = certificates
            .into_iter()
            .fold(reqwest::Client::builder(), |builder, certificate| {
                builder.add_root_certificate(certificate)
            });
        Self::build(base_url, key, builder)
    }

    fn build(
        base_url: &str,
        key: Arc<SecretKey>,
        builder: reqwest::ClientBuilder,
    ) -> Result<Self, LedgerError> {
        let http = builder
            .use_rustls_tls()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| LedgerError::Unreachable(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            http,
            key,
        })
    }

    /// The ledger's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Appends signed events; one result per submission, in order.
    pub async fn append(
        &self,
        submissions: &[EventSubmission],
    ) -> Result<Vec<AppendResult>, LedgerError> {
        let request = self
            .http
            .post(format!("{}/v1/events", self.base))
            .timeout(APPEND_TIMEOUT)
            .json(&AppendRequest {
                events: submissions,
            });
        let response: AppendResponse = json(send(request).await?).await?;
        if response.results.len() != submissions.len() {
            return Err(LedgerError::Malformed(format!(
                "{} results for {} events",
                response.results.len(),
                submissions.len()
            )));
        }
        Ok(response.results)
    }

    /// The latest signed checkpoint, as text (a C2SP signed note with cosignatures).
    pub async fn checkpoint(&self) -> Result<String, LedgerError> {
        let response = send(self.get("/checkpoint")).await?;
        response.text().await.map_err(unreachable)
    }

    /// The RFC 9162 §2.1.4 consistency proof from tree size `old` to `new`.
    pub async fn consistency(&self, old: u64, new: u64) -> Result<ConsistencyProof, LedgerError> {
        json(send(self.get(&format!("/v1/proofs/consistency?old={old}&new={new}"))).await?).await
    }

    /// Hands the ledger this party's cosignature line for the checkpoint at `size`.
    pub async fn cosign(&self, size: u64, line: &str) -> Result<(), LedgerError> {
        let request = self
            .http
            .post(format!("{}/v1/checkpoints/{size}/cosignatures", self.base))
            .timeout(QUERY_TIMEOUT)
            .json(&serde_json::json!({ "cosignature": line }));
        send(request).await.map(drop)
    }

    /// A pack's public verification status, checking the lot and expiry when given.
    pub async fn pack_status(
        &self,
        pack: &PackId,
        lot: Option<&Lot>,
        expiry: Option<&Expiry>,
    ) -> Result<serde_json::Value, LedgerError> {
        let query: Vec<String> = [
            lot.map(|lot| format!("lot={}", encode(lot.as_str()))),
            expiry.map(|expiry| format!("expiry={}", encode(expiry.as_str()))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut path = pack_path(pack);
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        json(send(self.get(&path)).await?).await
    }

    /// The verification status of a scanned code, as the ledger parses it.
    /// Signed, so the ledger scores the verification for counterfeit risk
    /// in this party's context and folds the score into the verdict.
    pub async fn scan(&self, code: &str) -> Result<serde_json::Value, LedgerError> {
        json(send(self.signed_get(&format!("/v1/scan?code={}", encode(code)))).await?).await
    }

    /// A pack's custody chain with proofs (a signed request: the ledger decides whether this
    /// party may see it).
    pub async fn provenance(&self, pack: &PackId) -> Result<serde_json::Value, LedgerError> {
        let path = format!("{}/provenance", pack_path(pack));
        json(send(self.signed_get(&path)).await?).await
    }

    /// The item list of the log entry at `index` (a signed request).
    pub async fn entry_items(&self, index: u64) -> Result<Vec<String>, LedgerError> {
        let path = format!("/v1/entries/{index}/items");
        let answer: EntryItems = json(send(self.signed_get(&path)).await?).await?;
        Ok(answer.items)
    }

    fn get(&self, path_and_query: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path_and_query}", self.base))
            .timeout(QUERY_TIMEOUT)
    }

    /// A GET carrying the `Pedigree-*` headers: signed with the party key, now.
    fn signed_get(&self, path_and_query: &str) -> reqwest::RequestBuilder {
        let signed = SignedRequest::sign(
            &self.key,
            "GET",
            path_and_query,
            b"",
            chrono::Utc::now().timestamp(),
        );
        signed
            .headers()
            .into_iter()
            .fold(self.get(path_and_query), |request, (name, value)| {
                request.header(name, value)
            })
    }
}

fn pack_path(pack: &PackId) -> String {
    format!(
        "/v1/packs/{}/{}",
        encode(pack.gtin.as_str()),
        encode(pack.serial.as_str())
    )
}

/// Sends a request and sorts the failures: no answer, 5xx, 4xx.
async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, LedgerError> {
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str::<ErrorBody>(&text).ok();
    if status.is_client_error() {
        let (code, message) = body.map_or_else(
            || (format!("http_{}", status.as_u16()), text),
            |b| (b.code, b.message),
        );
        Err(LedgerError::Refused {
            status: status.as_u16(),
            code,
            message,
        })
    } else {
        Err(LedgerError::Server {
            status: status.as_u16(),
            message: body.map_or(text, |b| b.message),
        })
    }
}

/// An unreachable ledger, with the causes (a refused connection, a certificate that does not
/// verify), which reqwest's own message leaves out.
fn unreachable(error: reqwest::Error) -> LedgerError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    LedgerError::Unreachable(message)
}

async fn json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, LedgerError> {
    let bytes = response.bytes().await.map_err(unreachable)?;
    serde_json::from_slice(&bytes).map_err(|e| LedgerError::Malformed(e.to_string()))
}
