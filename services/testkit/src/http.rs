//! HTTP helpers: a client, JSON answers and their assertions, signed requests, polling.

use std::future::Future;
use std::time::Duration;

use pedigree_schema::keys::SecretKey;
use pedigree_schema::request_auth::SignedRequest;
use serde_json::Value;

/// How long [`eventually`] polls: generous, as its slowest use is a large batch job of the
/// manufacturer on PostgreSQL.
const EVENTUALLY: Duration = Duration::from_secs(60);

/// A JSON answer: HTTP status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// Asserts a JSON error `{code, message}` (and nothing else) with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "unexpected status; body {}", self.body);
        assert_eq!(
            self.body["code"], code,
            "unexpected code; body {}",
            self.body
        );
        let message = self.body["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "error without message: {}", self.body);
        let keys: Vec<&String> = self.body.as_object().map_or(vec![], |o| o.keys().collect());
        assert_eq!(keys, ["code", "message"], "error body {}", self.body);
    }

    /// The body of an answer with `status`.
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status; body {}", self.body);
        self.body
    }

    /// The body of a `200 OK` answer.
    pub fn ok(self) -> Value {
        self.expect(200)
    }

    /// The single outbox item of a party service's `202 Accepted` answer, still pending.
    pub fn outbox_item(self) -> Value {
        let body = self.expect(202);
        let items = body["outbox"].as_array().expect("outbox items");
        assert_eq!(items.len(), 1, "one outbox item: {body}");
        assert_eq!(items[0]["status"], "pending", "{body}");
        items[0].clone()
    }
}

/// An HTTP client that ignores proxy settings: every server under test is local.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// Reads a response that must be JSON (errors included).
pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.expect("a body");
    assert!(
        content_type.starts_with("application/json"),
        "status {status}: expected JSON, got {content_type:?}: {text}"
    );
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    Answer { status, body }
}

/// Polls `probe` every 50 ms until it gives a value, for at most 60 s.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free local port (bound and released: a later bind may take it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `Pedigree-*` headers of a GET of `path` signed with `key` at `time` (Unix seconds).
pub fn signed_headers(path: &str, key: &SecretKey, time: i64) -> Vec<(&'static str, String)> {
    SignedRequest::sign(key, "GET", path, b"", time)
        .headers()
        .to_vec()
}

/// The alert codes of a pack status answer.
pub fn alert_codes(status: &Value) -> Vec<String> {
    status["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["code"].as_str().expect("alert code").to_string())
        .collect()
}
