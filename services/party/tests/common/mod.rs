//! Test support for the party service's HTTP tests: a real ledger on a throw-away database, a
//! small network of keyed parties, a party service with a test route that submits operations,
//! and a client for both.
//!
//! Scenarios that touch the database are written once as `async fn scenario(backend)` and run
//! on SQLite and (when `PEDIGREE_TEST_POSTGRES_URL` is set) PostgreSQL by [`both_backends!`].

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::web::{self, Data, Json};
use actix_web::HttpResponse;
use chrono::Utc;
use diesel::prelude::*;
use pedigree_ledger::{Application, Settings};
use pedigree_party::db::schema::outbox;
use pedigree_party::db::testing::TestDatabase;
use pedigree_party::{
    create_operator_token, Operation, Operator, Party, PartyApp, PartyConfig, PartyError,
};
use pedigree_schema::checkpoint::CosignatureVerifier;
use pedigree_schema::event::{
    canonical_item_order, Event, EventBody, EventSubmission, ItemSetRef, Role, Timestamp,
};
use pedigree_schema::gs1::{check_digit, Expiry, Gln, Gtin, Lot};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteSigner, NoteVerifier};
use serde::Deserialize;
use serde_json::{json, Value};

/// Writes a scenario's `#[tokio::test]`s: `sqlite::<name>` always, and `postgres::<name>`
/// when `PEDIGREE_TEST_POSTGRES_URL` is set.
#[allow(unused_macros)] // Not every test binary runs on both backends.
macro_rules! both_backends {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::common::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if super::common::Backend::postgres_is_configured() {
                        super::$scenario(super::common::Backend::Postgres).await;
                    }
                }
            )+
        }
    };
}

/// Which database engine a scenario runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn postgres_is_configured() -> bool {
        let set = std::env::var(pedigree_party::db::testing::POSTGRES_URL_VAR)
            .is_ok_and(|url| !url.trim().is_empty());
        if !set {
            eprintln!(
                "skipping the PostgreSQL part of this test: PEDIGREE_TEST_POSTGRES_URL is unset"
            );
        }
        set
    }

    /// A fresh database on this backend.
    pub fn database(self) -> TestDatabase {
        match self {
            Self::Sqlite => TestDatabase::sqlite(),
            Self::Postgres => TestDatabase::postgres().expect("PostgreSQL is configured"),
        }
    }
}

// ---------------------------------------------------------------- identifiers

fn with_check_digit(body: &str) -> String {
    let digit = check_digit(body).expect("a numeric identifier body");
    format!("{body}{digit}")
}

pub fn gln(body: &str) -> Gln {
    Gln::parse(&with_check_digit(body)).expect("a valid GLN")
}

pub fn gtin(body: &str) -> Gtin {
    Gtin::parse(&with_check_digit(body)).expect("a valid GTIN")
}

// ---------------------------------------------------------------- the network

/// A party of the network with its key seed (a `SecretKey` is not `Clone`).
pub struct Member {
    pub name: &'static str,
    pub gln: Gln,
    pub role: Role,
    pub seed: [u8; 32],
}

impl Member {
    fn new(name: &'static str, role: Role, gln_body: &str) -> Self {
        Self {
            name,
            gln: gln(gln_body),
            role,
            seed: SecretKey::generate().signing_key().to_bytes(),
        }
    }

    pub fn key(&self) -> SecretKey {
        SecretKey::from_seed(&self.seed)
    }

    /// This party's cosignature verifier: its GLN as the witness name, its key.
    pub fn witness_verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier::new(
            KeyName::parse(self.gln.as_str()).expect("a GLN is a key name"),
            *self.key().public_key().verifying_key(),
        )
    }
}

pub const ORIGIN: &str = "pedigree.test/log";

/// The log key, governance and a manufacturer.
pub struct Network {
    pub log_seed: [u8; 32],
    pub governance: Member,
    pub manufacturer: Member,
}

impl Network {
    pub fn new() -> Self {
        Self {
            log_seed: SecretKey::generate().signing_key().to_bytes(),
            governance: Member::new("Medicines Agency", Role::Regulator, "950600000001"),
            manufacturer: Member::new("Acme Pharma", Role::Manufacturer, "950600000002"),
        }
    }

    pub fn log_key(&self) -> SecretKey {
        SecretKey::from_seed(&self.log_seed)
    }

    pub fn log_signer(&self) -> NoteSigner {
        NoteSigner::new(
            KeyName::parse(ORIGIN).expect("origin is a key name"),
            self.log_key().signing_key().clone(),
        )
    }

    pub fn log_verifier(&self) -> NoteVerifier {
        self.log_signer().verifier()
    }

    /// Ledger settings on `db`, listening on `listen`.
    pub fn ledger_settings(&self, db: &TestDatabase, listen: SocketAddr) -> Settings {
        let mut settings = Settings::new(self.log_key(), self.governance.key().public_key());
        settings.listen = listen;
        settings.database_url = db.url().as_str().to_string();
        settings.origin = ORIGIN.into();
        settings.pool_size = 3;
        settings
    }

    /// Genesis: governance registers itself, then the manufacturer.
    pub fn genesis(&self) -> Vec<EventSubmission> {
        [&self.governance, &self.manufacturer]
            .into_iter()
            .map(|member| {
                let body = EventBody::RegisterParty {
                    party: member.gln.clone(),
                    name: member.name.into(),
                    role: member.role,
                    key: member.key().public_key(),
                    location: None,
                };
                let signed = Event::new(self.governance.gln.clone(), Timestamp::now(), body)
                    .sign(&self.governance.key())
                    .expect("a signable event");
                EventSubmission::new(signed, None)
            })
            .collect()
    }

    /// The manufacturer's party service configuration.
    pub fn party_config(&self, db: &TestDatabase, ledger_url: &str) -> PartyConfig {
        PartyConfig {
            role: self.manufacturer.role,
            gln: self.manufacturer.gln.clone(),
            key: Arc::new(self.manufacturer.key()),
            listen: "127.0.0.1:0".parse().expect("a socket address"),
            database_url: db.url().as_str().to_string(),
            pool_size: 3,
            ledger_url: ledger_url.to_string(),
            log_verifier: self.log_verifier(),
            witness_interval: Duration::from_millis(100),
            retry_max: Duration::from_millis(200),
        }
    }
}

// ---------------------------------------------------------------- operations

/// A product registration, a batch of it, and the commissioning of `serials`.
pub fn product_batch_commission(gtin: &Gtin, lot: &str, serials: &[&str]) -> Vec<Value> {
    let lot = Lot::parse(lot).expect("a valid lot");
    let serials = canonical_item_order(serials.iter().map(|s| s.to_string()).collect());
    let commission = EventBody::Commission {
        gtin: gtin.clone(),
        lot: lot.clone(),
        serials: ItemSetRef::commit(&serials),
    };
    let today = Utc::now().date_naive();
    vec![
        operation(
            &EventBody::RegisterProduct {
                gtin: gtin.clone(),
                name: "Paracetamol 500 mg".into(),
            },
            None,
        ),
        operation(
            &EventBody::RegisterBatch {
                gtin: gtin.clone(),
                lot,
                expiry: Expiry::from_date(today + chrono::Duration::days(730)),
                manufactured: today - chrono::Duration::days(30),
            },
            None,
        ),
        operation(&commission, Some(serials)),
    ]
}

/// One operation as the test route takes it.
pub fn operation(body: &EventBody, items: Option<Vec<String>>) -> Value {
    json!({ "body": body, "items": items })
}

#[derive(Deserialize)]
struct OperationsRequest {
    operations: Vec<OperationJson>,
}

#[derive(Deserialize)]
struct OperationJson {
    body: EventBody,
    items: Option<Vec<String>>,
}

/// The test role's routes: `POST /v1/test/operations` submits operations to the outbox, as a
/// role service's handlers do.
pub fn test_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/test/operations", web::post().to(submit));
}

async fn submit(
    party: Data<Party>,
    _: Operator,
    body: Json<OperationsRequest>,
) -> Result<HttpResponse, PartyError> {
    let operations = body
        .into_inner()
        .operations
        .into_iter()
        .map(|op| Operation {
            body: op.body,
            items: op.items,
        })
        .collect();
    let items = web::block(move || party.outbox().submit(operations)).await??;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

// ---------------------------------------------------------------- HTTP

/// A JSON answer: HTTP status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// Asserts a JSON error `{code, message}` with this status and code.
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

    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "unexpected status; body {}", self.body);
        self.body
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

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

/// Polls `probe` every 50 ms until it gives a value, for at most 20 s.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
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

// ---------------------------------------------------------------- the ledger

/// A ledger serving on a local port.
pub struct Ledger {
    pub base: String,
    pub port: u16,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Ledger {
    pub fn start(settings: Settings) -> Self {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let app = Application::build(settings).expect("the ledger starts");
        let port = app.port();
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        Self {
            base: format!("http://127.0.0.1:{port}"),
            port,
            handle,
            task,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.task
            .await
            .expect("the ledger task completes")
            .expect("the ledger stops cleanly");
    }

    /// Appends events that must all be accepted.
    pub async fn accept(&self, events: &[EventSubmission]) {
        let body = answer(
            client()
                .post(format!("{}/v1/events", self.base))
                .json(&json!({ "events": events }))
                .send()
                .await
                .expect("the ledger answers"),
        )
        .await
        .ok();
        for result in body["results"].as_array().expect("results") {
            assert_eq!(result["status"], "accepted", "{result}");
        }
    }

    /// The log size.
    pub async fn size(&self) -> u64 {
        let info = answer(
            client()
                .get(format!("{}/v1/log", self.base))
                .send()
                .await
                .expect("the ledger answers"),
        )
        .await
        .ok();
        info["tree_size"].as_u64().expect("tree_size")
    }

    /// The latest checkpoint note with its cosignatures.
    pub async fn checkpoint_text(&self) -> String {
        client()
            .get(format!("{}/checkpoint", self.base))
            .send()
            .await
            .expect("the ledger answers")
            .text()
            .await
            .expect("a checkpoint")
    }
}

// ---------------------------------------------------------------- the party

/// A party service serving on a local port, with an operator token.
pub struct RunningParty {
    pub base: String,
    pub token: String,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningParty {
    pub fn start(config: PartyConfig) -> Self {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let app = PartyApp::build(config, test_routes).expect("the party service starts");
        let token = create_operator_token(app.party().db(), "tester").expect("an operator token");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        Self {
            base,
            token,
            handle,
            task,
        }
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.task
            .await
            .expect("the party task completes")
            .expect("the party stops cleanly");
    }

    /// A GET with the operator token.
    pub async fn get(&self, path: &str) -> Answer {
        answer(
            client()
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("the party answers"),
        )
        .await
    }

    /// A POST of JSON with the operator token.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        answer(
            client()
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .json(body)
                .send()
                .await
                .expect("the party answers"),
        )
        .await
    }

    /// Submits operations through the test route; returns the outbox ids.
    pub async fn submit(&self, operations: Vec<Value>) -> Vec<i64> {
        let body = self
            .post("/v1/test/operations", &json!({ "operations": operations }))
            .await
            .ok();
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| {
                assert_eq!(item["status"], "pending", "{item}");
                item["id"].as_i64().expect("an id")
            })
            .collect()
    }

    pub async fn item(&self, id: i64) -> Value {
        self.get(&format!("/v1/outbox/{id}")).await.ok()
    }

    /// Waits until item `id` has left `pending`; returns it.
    pub async fn settled(&self, id: i64) -> Value {
        eventually(&format!("outbox item {id} to settle"), || async {
            let item = self.item(id).await;
            (item["status"] != "pending").then_some(item)
        })
        .await
    }

    pub async fn witness(&self) -> Value {
        self.get("/v1/witness").await.ok()
    }

    pub async fn alerts(&self) -> Vec<Value> {
        self.get("/v1/alerts").await.ok()["alerts"]
            .as_array()
            .expect("alerts")
            .clone()
    }
}

/// The stored submission of outbox item `id`, read from the party database.
pub fn stored_submission(db: &TestDatabase, id: i64) -> EventSubmission {
    let database = db.open().expect("open the party database");
    let bytes: Vec<u8> = outbox::table
        .find(id)
        .select(outbox::submission)
        .first(&mut *database.get().expect("a connection"))
        .expect("the outbox row");
    serde_json::from_slice(&bytes).expect("a stored submission")
}

/// Sets an outbox item's status directly, as a crash between the ledger's answer and the
/// party's commit would leave it.
pub fn force_status(db: &TestDatabase, id: i64, status: &str) {
    let database = db.open().expect("open the party database");
    diesel::update(outbox::table.find(id))
        .set(outbox::status.eq(status))
        .execute(&mut *database.get().expect("a connection"))
        .expect("update the outbox row");
}

/// An event by the manufacturer, signed now, with its items (in canonical order).
pub fn manufacturer_submission(
    net: &Network,
    body: EventBody,
    items: Option<Vec<String>>,
) -> EventSubmission {
    let signed = Event::new(net.manufacturer.gln.clone(), Timestamp::now(), body)
        .sign(&net.manufacturer.key())
        .expect("a signable event");
    EventSubmission::new(signed, items)
}
