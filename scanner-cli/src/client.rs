//! HTTP clients for the ledger and the pharmacy service (blocking: a
//! scanner does one thing at a time). Every answer is size-capped and
//! decoded into the types of [`crate::wire`] or the schema; nothing here
//! decides whether an answer is true — [`crate::evidence`] does.

use std::io::Read;
use std::time::Duration;

use pedigree_schema::keys::SecretKey;
use pedigree_schema::receipt::ConsistencyProof;
use pedigree_schema::request_auth::SignedRequest;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::Certificate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Pharmacy;
use crate::wire::{PackStatus, Provenance};

/// Largest answer read (a provenance of a long chain is a few hundred kB).
const MAX_BODY_BYTES: u64 = 32 << 20;

/// Everything but RFC 3986 unreserved characters is percent-encoded in a
/// query value, so the path signed is the path sent, byte for byte.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a request did not give the expected answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HttpError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Refused {
        url: String,
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("{url} gave an answer that cannot be read: {reason}")]
    Malformed { url: String, reason: String },
    /// No request could be made (no HTTP client, no service configured).
    #[error("no request was made: {reason}")]
    NotSent { reason: String },
}

impl HttpError {
    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The services' error body, `{"code": "...", "message": "..."}`.
#[derive(Deserialize)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

/// One HTTP client, shared by the ledger and pharmacy clients.
pub struct Http {
    client: Client,
}

impl Http {
    /// A client trusting the public roots and `extra_roots` for `https`.
    pub fn new(timeout: Duration, extra_roots: &[Certificate]) -> Result<Self, HttpError> {
        let client = extra_roots
            .iter()
            .fold(Client::builder(), |builder, root| {
                builder.add_root_certificate(root.clone())
            })
            .use_rustls_tls()
            .timeout(timeout)
            .user_agent(concat!("pedigree-scan/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::NotSent {
                reason: format!("cannot set up an HTTP client: {e}"),
            })?;
        Ok(Self { client })
    }

    /// Sends `request` to `url` and returns the body of a 2xx answer.
    fn send(&self, url: &str, request: RequestBuilder) -> Result<Vec<u8>, HttpError> {
        let response = request.send().map_err(|e| HttpError::Unreachable {
            url: url.to_string(),
            reason: error_chain(&e),
        })?;
        let status = response.status();
        let mut body = Vec::new();
        response
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| HttpError::Unreachable {
                url: url.to_string(),
                reason: format!("the answer broke off: {e}"),
            })?;
        if body.len() as u64 > MAX_BODY_BYTES {
            return Err(HttpError::Malformed {
                url: url.to_string(),
                reason: format!("the answer is larger than {MAX_BODY_BYTES} bytes"),
            });
        }
        if status.is_success() {
            return Ok(body);
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
        let text = String::from_utf8_lossy(&body)
            .trim()
            .chars()
            .take(300)
            .collect();
        Err(HttpError::Refused {
            url: url.to_string(),
            status: status.as_u16(),
            code: parsed.as_ref().and_then(|b| b.code.clone()),
            message: parsed.and_then(|b| b.message).unwrap_or(text),
        })
    }

    fn json<T: DeserializeOwned>(
        &self,
        url: &str,
        request: RequestBuilder,
    ) -> Result<T, HttpError> {
        let body = self.send(url, request)?;
        serde_json::from_slice(&body).map_err(|e| HttpError::Malformed {
            url: url.to_string(),
            reason: e.to_string(),
        })
    }

    fn text(&self, url: &str, request: RequestBuilder) -> Result<String, HttpError> {
        let body = self.send(url, request)?;
        String::from_utf8(body).map_err(|_| HttpError::Malformed {
            url: url.to_string(),
            reason: "the answer is not UTF-8 text".into(),
        })
    }
}

/// The error and its causes on one line (reqwest's own message alone says
/// only "error sending request").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The ledger's public and party routes.
pub struct Ledger<'h> {
    http: &'h Http,
    base: String,
}

impl<'h> Ledger<'h> {
    pub fn new(http: &'h Http, base: &str) -> Self {
        Self {
            http,
            base: base.to_string(),
        }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// `GET /v1/scan?code=`: the public verification status. Signed with
    /// the party's key when there is one, for which the ledger adds a risk
    /// score; anonymous otherwise.
    pub fn scan(&self, code: &str, key: Option<&SecretKey>) -> Result<PackStatus, HttpError> {
        self.get_json(&format!("/v1/scan?code={}", encode(code)), key)
    }

    /// `GET /v1/scan/provenance?code=`, signed with the party's key.
    pub fn provenance(&self, code: &str, key: &SecretKey) -> Result<Provenance, HttpError> {
        self.get_json(
            &format!("/v1/scan/provenance?code={}", encode(code)),
            Some(key),
        )
    }

    /// A GET, signed (schema §8) when `key` is given: the message covers
    /// the path and query exactly as sent.
    fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
        key: Option<&SecretKey>,
    ) -> Result<T, HttpError> {
        let url = self.url(path_and_query);
        let parsed = reqwest::Url::parse(&url).map_err(|e| HttpError::Malformed {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let mut request = self.http.client.get(parsed.clone());
        if let Some(key) = key {
            let sent = match parsed.query() {
                Some(query) => format!("{}?{query}", parsed.path()),
                None => parsed.path().to_string(),
            };
            let signed =
                SignedRequest::sign(key, "GET", &sent, b"", chrono::Utc::now().timestamp());
            for (name, value) in signed.headers() {
                request = request.header(name, value);
            }
        }
        self.http.json(&url, request)
    }

    /// `GET /v1/checkpoints/{size}`: the checkpoint issued at `size`, with
    /// the witnesses' cosignatures.
    pub fn checkpoint_at(&self, size: u64) -> Result<String, HttpError> {
        let url = self.url(&format!("/v1/checkpoints/{size}"));
        self.http.text(&url, self.http.client.get(&url))
    }

    /// `GET /v1/proofs/consistency?old=&new=`.
    pub fn consistency(&self, old: u64, new: u64) -> Result<ConsistencyProof, HttpError> {
        let url = self.url(&format!("/v1/proofs/consistency?old={old}&new={new}"));
        self.http.json(&url, self.http.client.get(&url))
    }
}

/// The pharmacy service's operator routes (bearer token).
pub struct PharmacyService<'h> {
    http: &'h Http,
    pharmacy: Pharmacy,
}

impl<'h> PharmacyService<'h> {
    pub fn new(http: &'h Http, pharmacy: &Pharmacy) -> Self {
        Self {
            http,
            pharmacy: pharmacy.clone(),
        }
    }

    fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, HttpError> {
        let url = format!("{}{path}", self.pharmacy.url);
        let request = self
            .http
            .client
            .post(&url)
            .bearer_auth(&self.pharmacy.token)
            .json(body);
        self.http.json(&url, request)
    }

    /// `POST /v1/verify {code}`: the ledger's status, relayed.
    pub fn verify(&self, code: &str) -> Result<PackStatus, HttpError> {
        self.post("/v1/verify", &serde_json::json!({ "code": code }))
    }

    /// `POST /v1/dispense {code}`.
    pub fn dispense(&self, code: &str) -> Result<serde_json::Value, HttpError> {
        self.post("/v1/dispense", &serde_json::json!({ "code": code }))
    }

    /// `POST /v1/dispense/undo {code}`.
    pub fn undo_dispense(&self, code: &str) -> Result<serde_json::Value, HttpError> {
        self.post("/v1/dispense/undo", &serde_json::json!({ "code": code }))
    }

    /// `POST /v1/decommission {code, reason}` (`destroyed` or `stolen`).
    pub fn decommission(&self, code: &str, reason: &str) -> Result<serde_json::Value, HttpError> {
        self.post(
            "/v1/decommission",
            &serde_json::json!({ "code": code, "reason": reason }),
        )
    }

    /// `POST /v1/returns {shipment_id, to, scanned}`.
    pub fn returns(
        &self,
        shipment_id: &str,
        to: &str,
        scanned: &[String],
    ) -> Result<serde_json::Value, HttpError> {
        self.post(
            "/v1/returns",
            &serde_json::json!({ "shipment_id": shipment_id, "to": to, "scanned": scanned }),
        )
    }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_keep_only_unreserved_characters() {
        assert_eq!(
            encode("(01)09506000134352(21)A/B\u{1d}10 L~1"),
            "%2801%2909506000134352%2821%29A%2FB%1D10%20L~1"
        );
    }
}
