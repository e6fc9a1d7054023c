//! A ledger `Application` serving on a free local port, and a client for it that checks every
//! receipt and checkpoint it is given under the log key.

use actix_web::dev::ServerHandle;
use chrono::Utc;
use pedigree_ledger::{Application, Settings};
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::EventSubmission;
use pedigree_schema::gs1::PackId;
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteVerifier};
use pedigree_schema::receipt::Receipt;
use serde::Deserialize;
use serde_json::Value;

use crate::http::{answer, client, signed_headers, Answer};

/// One event's outcome as `POST /v1/events` reports it.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    Accepted { receipt: Receipt },
    Rejected { code: String, message: String },
}

impl Outcome {
    /// The receipt of an accepted event.
    ///
    /// # Panics
    /// If the event was rejected.
    pub fn receipt(&self) -> &Receipt {
        match self {
            Outcome::Accepted { receipt } => receipt,
            Outcome::Rejected { code, message } => {
                panic!("expected the event to be accepted, but it was rejected: {code}: {message}")
            }
        }
    }

    /// The code of a rejected event, whose message must not be empty.
    ///
    /// # Panics
    /// If the event was accepted.
    pub fn code(&self) -> &str {
        match self {
            Outcome::Rejected { code, message } => {
                assert!(!message.is_empty(), "rejection {code} has no message");
                code
            }
            Outcome::Accepted { receipt } => {
                panic!(
                    "expected the event to be rejected, but it was accepted at {}",
                    receipt.index
                )
            }
        }
    }
}

/// A ledger serving on a local port, and a client for it.
pub struct Ledger {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    client: reqwest::Client,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    verifier: NoteVerifier,
}

impl Ledger {
    /// Builds and starts a ledger (on a runtime: call from a `#[tokio::test]`). Its receipts
    /// and checkpoints must verify under the key and origin of `settings`.
    pub fn start(settings: Settings) -> Self {
        let name = KeyName::parse(&settings.origin).expect("the origin is a key name");
        let verifier = NoteVerifier::new(name, *settings.log_key.public_key().verifying_key());
        Self::start_with_verifier(settings, verifier)
    }

    /// Builds and starts a ledger whose receipts and checkpoints must verify under
    /// `verifier`.
    pub fn start_with_verifier(settings: Settings, verifier: NoteVerifier) -> Self {
        // The ledger's logs go to the test's captured output, shown on failure.
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let app = Application::build(settings).expect("the ledger starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        Self {
            base,
            client: client(),
            handle,
            task,
            verifier,
        }
    }

    /// Stops the server gracefully and waits for the writer to finish.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.task
            .await
            .expect("the server task completes")
            .expect("the server stops cleanly");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// Posts a batch; asserts HTTP 200 and one outcome per event. Every receipt is checked:
    /// it names the event and verifies against the entry's bytes under the log key.
    pub async fn append(&self, events: &[EventSubmission]) -> Vec<Outcome> {
        let answer = self
            .post_json("/v1/events", &serde_json::json!({ "events": events }))
            .await;
        let body = answer.ok();
        let outcomes: Vec<Outcome> = serde_json::from_value(body["results"].clone())
            .unwrap_or_else(|e| panic!("results do not parse ({e}): {body}"));
        assert_eq!(outcomes.len(), events.len(), "one outcome per event");
        for (event, outcome) in events.iter().zip(&outcomes) {
            if let Outcome::Accepted { receipt } = outcome {
                let entry = event.signed.entry_bytes().expect("entry bytes");
                assert_eq!(receipt.event_id, event.signed.id().expect("event id"));
                let checkpoint = receipt
                    .verify(&self.verifier, &entry)
                    .unwrap_or_else(|e| panic!("receipt {} does not verify: {e}", receipt.index));
                assert!(receipt.index < checkpoint.checkpoint().size());
            }
        }
        outcomes
    }

    /// Appends events that must all be accepted; returns their receipts.
    pub async fn accept(&self, events: &[EventSubmission]) -> Vec<Receipt> {
        self.append(events)
            .await
            .iter()
            .map(|o| o.receipt().clone())
            .collect()
    }

    /// Appends one event that must be accepted.
    pub async fn accept_one(&self, event: EventSubmission) -> Receipt {
        self.accept(&[event]).await.remove(0)
    }

    /// Appends one event that must be rejected; returns its code.
    pub async fn reject_one(&self, event: EventSubmission) -> String {
        self.append(&[event]).await[0].code().to_string()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.post_raw(path, "application/json", body.to_string().into_bytes())
            .await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let response = self
            .client
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("the ledger answers");
        answer(response).await
    }

    /// A GET with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, String)]) -> Answer {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        answer(request.send().await.expect("the ledger answers")).await
    }

    /// A public GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    /// A GET signed with `key` (Pedigree-* headers), made now.
    pub async fn get_signed(&self, path: &str, key: &SecretKey) -> Answer {
        self.get_with(path, &signed_headers(path, key, Utc::now().timestamp()))
            .await
    }

    /// Raw bytes of a GET that must succeed, with its headers.
    pub async fn get_bytes(&self, path: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("the ledger answers");
        assert_eq!(response.status(), 200, "GET {path}");
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body").to_vec();
        (headers, bytes)
    }

    pub async fn get_status(&self, path: &str) -> u16 {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the ledger answers")
            .status()
            .as_u16()
    }

    /// The log size as `GET /v1/log` reports it.
    pub async fn size(&self) -> u64 {
        let info = self.get("/v1/log").await.ok();
        info["tree_size"].as_u64().expect("tree_size")
    }

    /// `GET /checkpoint`, verified under the log key.
    pub async fn checkpoint(&self) -> SignedCheckpoint {
        self.verified_checkpoint("/checkpoint").await
    }

    /// `GET /v1/checkpoints/{size}`, verified under the log key.
    pub async fn checkpoint_at(&self, size: u64) -> SignedCheckpoint {
        self.verified_checkpoint(&format!("/v1/checkpoints/{size}"))
            .await
    }

    /// The text of `GET /checkpoint` as served: the latest checkpoint note with its
    /// cosignatures, unverified.
    pub async fn checkpoint_text(&self) -> String {
        let (_, bytes) = self.get_bytes("/checkpoint").await;
        String::from_utf8(bytes).expect("a UTF-8 checkpoint")
    }

    async fn verified_checkpoint(&self, path: &str) -> SignedCheckpoint {
        let (_, bytes) = self.get_bytes(path).await;
        let text = String::from_utf8(bytes).expect("a UTF-8 checkpoint");
        SignedCheckpoint::parse_and_verify(&text, &self.verifier)
            .unwrap_or_else(|e| panic!("{path} does not verify: {e}\n{text}"))
    }

    /// The public verification status of a pack.
    pub async fn status(&self, pack: &PackId) -> Value {
        self.get(&format!("/v1/packs/{}/{}", pack.gtin, pack.serial))
            .await
            .ok()
    }
}
