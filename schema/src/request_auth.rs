//! Signed HTTP requests: how a party proves who is asking, with its own
//! Ed25519 key and no passwords.
//!
//! The client sends four headers:
//!
//! | header | value |
//! |---|---|
//! | `Pedigree-Key` | base64 public key of the requesting party |
//! | `Pedigree-Time` | Unix time in seconds when the request was signed |
//! | `Pedigree-Nonce` | 16–64 characters `[A-Za-z0-9_-]`, never reused |
//! | `Pedigree-Signature` | base64 Ed25519 signature over the message below |
//!
//! The signed message is [`REQUEST_DOMAIN`] then, each followed by `\n`: the
//! method in upper case, the path with its query string, the time, the
//! nonce, and the lowercase hex SHA-256 of the body. The server refuses a
//! time outside its window (stale or from the future) and a nonce it has
//! already seen for that key within the window (a replay); together these
//! bound the nonce store it must keep.

use sha2::{Digest, Sha256};

use crate::keys::{KeyError, PublicKey, SecretKey, Signature};

/// Prefix of every signed request message.
pub const REQUEST_DOMAIN: &[u8] = b"pedigree/request/v1\n";

pub const KEY_HEADER: &str = "Pedigree-Key";
pub const TIME_HEADER: &str = "Pedigree-Time";
pub const NONCE_HEADER: &str = "Pedigree-Nonce";
pub const SIGNATURE_HEADER: &str = "Pedigree-Signature";

/// Why a request's authentication was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {header} is malformed: {reason}")]
    Malformed {
        header: &'static str,
        reason: &'static str,
    },
    #[error("request time {time} is outside the accepted window of ±{window} s around {now}")]
    Stale { time: i64, now: i64, window: i64 },
    #[error("request signature does not verify")]
    BadSignature,
}

/// The authentication of one request, as carried in its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRequest {
    pub key: PublicKey,
    pub time: i64,
    pub nonce: String,
    pub signature: Signature,
}

fn message(method: &str, path_and_query: &str, time: i64, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = REQUEST_DOMAIN.to_vec();
    message.extend_from_slice(
        format!(
            "{}\n{path_and_query}\n{time}\n{nonce}\n{}\n",
            method.to_ascii_uppercase(),
            hex::encode(Sha256::digest(body))
        )
        .as_bytes(),
    );
    message
}

fn nonce_is_well_formed(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl SignedRequest {
    /// Signs a request at `time` (Unix seconds) with a fresh random nonce.
    pub fn sign(
        key: &SecretKey,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        time: i64,
    ) -> Self {
        use rand::RngCore;
        let mut random = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let nonce = hex::encode(random);
        let signature = key.sign(&message(method, path_and_query, time, &nonce, body));
        Self {
            key: key.public_key(),
            time,
            nonce,
            signature,
        }
    }

    /// The headers to send, as `(name, value)` pairs.
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            (KEY_HEADER, self.key.to_string()),
            (TIME_HEADER, self.time.to_string()),
            (NONCE_HEADER, self.nonce.clone()),
            (SIGNATURE_HEADER, self.signature.to_string()),
        ]
    }

    /// Reads the four headers through `header` (a lookup by name).
    /// `Ok(None)` when none of them is present: an anonymous request.
    pub fn from_headers<'a>(
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Option<Self>, AuthError> {
        let names = [KEY_HEADER, TIME_HEADER, NONCE_HEADER, SIGNATURE_HEADER];
        if names.iter().all(|name| header(name).is_none()) {
            return Ok(None);
        }
        let get = |name: &'static str| header(name).ok_or(AuthError::MissingHeader(name));
        let key = PublicKey::parse(get(KEY_HEADER)?).map_err(|_| AuthError::Malformed {
            header: KEY_HEADER,
            reason: "not a base64 Ed25519 public key",
        })?;
        let time = get(TIME_HEADER)?
            .parse()
            .map_err(|_| AuthError::Malformed {
                header: TIME_HEADER,
                reason: "not a Unix time in seconds",
            })?;
        let nonce = get(NONCE_HEADER)?;
        if !nonce_is_well_formed(nonce) {
            return Err(AuthError::Malformed {
                header: NONCE_HEADER,
                reason: "must be 16 to 64 characters of A-Z a-z 0-9 - _",
            });
        }
        let signature = Signature::parse(get(SIGNATURE_HEADER)?).map_err(|_: KeyError| {
            AuthError::Malformed {
                header: SIGNATURE_HEADER,
                reason: "not a base64 Ed25519 signature",
            }
        })?;
        Ok(Some(Self {
            key,
            time,
            nonce: nonce.to_string(),
            signature,
        }))
    }

    /// Checks the time window and the signature. The caller still checks the
    /// nonce against those it has seen, and who the key belongs to.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now: i64,
        window_secs: i64,
    ) -> Result<(), AuthError> {
        if (self.time - now).abs() > window_secs {
            return Err(AuthError::Stale {
                time: self.time,
                now,
                window: window_secs,
            });
        }
        self.key
            .verify(
                &message(method, path_and_query, self.time, &self.nonce, body),
                &self.signature,
            )
            .map_err(|_| AuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed() -> (SignedRequest, SecretKey) {
        let key = SecretKey::from_seed(&[9; 32]);
        (
            SignedRequest::sign(&key, "get", "/v1/packs/x?y=1", b"", 1_000),
            key,
        )
    }

    fn round_trip(request: &SignedRequest) -> SignedRequest {
        let headers = request.headers();
        SignedRequest::from_headers(|name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        })
        .unwrap()
        .unwrap()
    }

    #[test]
    fn a_signed_request_verifies_after_travelling_as_headers() {
        let (request, _) = signed();
        round_trip(&request)
            .verify("GET", "/v1/packs/x?y=1", b"", 1_010, 300)
            .unwrap();
    }

    #[test]
    fn any_change_to_what_was_signed_is_refused() {
        let (request, _) = signed();
        let request = round_trip(&request);
        assert_eq!(
            request.verify("POST", "/v1/packs/x?y=1", b"", 1_000, 300),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            request.verify("GET", "/v1/packs/x?y=2", b"", 1_000, 300),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            request.verify("GET", "/v1/packs/x?y=1", b"body", 1_000, 300),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn stale_and_future_times_are_refused() {
        let (request, _) = signed();
        assert!(matches!(
            request.verify("GET", "/v1/packs/x?y=1", b"", 1_301, 300),
            Err(AuthError::Stale { .. })
        ));
        assert!(matches!(
            request.verify("GET", "/v1/packs/x?y=1", b"", 699, 300),
            Err(AuthError::Stale { .. })
        ));
    }

    #[test]
    fn no_headers_is_anonymous_and_partial_headers_are_an_error() {
        assert_eq!(SignedRequest::from_headers(|_| None), Ok(None));
        let err =
            SignedRequest::from_headers(|name| (name == TIME_HEADER).then_some("1")).unwrap_err();
        assert_eq!(err, AuthError::MissingHeader(KEY_HEADER));
    }
}
