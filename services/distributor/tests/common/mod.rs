//! Test support for the distributor's and the pharmacy's HTTP tests (the
//! pharmacy's tests include this file): a real ledger on a throw-away
//! database, a network of keyed parties registered in it, a manufacturer
//! that submits its events straight to the ledger with its key, and party
//! services (`PartyApp` with a role's routes) with an operator token.
//!
//! Scenarios are written once as `async fn scenario(backend)` and run on
//! SQLite and (when `PEDIGREE_TEST_POSTGRES_URL` is set) PostgreSQL by
//! [`both_backends!`].

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use pedigree_ledger::{Application, Settings};
use pedigree_party::db::testing::TestDatabase;
use pedigree_party::{create_operator_token, PartyApp, PartyConfig};
use pedigree_schema::event::{
    canonical_item_order, Event, EventBody, EventSubmission, Item, ItemSetRef, Role,
    ShipmentPurpose, Timestamp,
};
use pedigree_schema::gs1::{check_digit, Expiry, Gln, Gs1Data, Gtin, Lot, PackId, Serial, Sscc};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteVerifier};
use serde_json::{json, Value};

/// Writes a scenario's `#[tokio::test]`s: `sqlite::<name>` always, and
/// `postgres::<name>` when `PEDIGREE_TEST_POSTGRES_URL` is set (otherwise it
/// prints why it skips).
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

/// Which database engine a scenario's ledger and parties run on.
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

pub fn sscc(body: &str) -> Sscc {
    Sscc::parse(&with_check_digit(body)).expect("a valid SSCC")
}

/// A batch of a product expiring in about two years.
#[derive(Clone, Debug)]
pub struct Batch {
    pub gtin: Gtin,
    pub lot: Lot,
    pub expiry: Expiry,
}

impl Batch {
    pub fn fresh(gtin_body: &str, lot: &str) -> Self {
        let date = chrono::Utc::now().date_naive() + chrono::Duration::days(730);
        Self {
            gtin: Gtin::parse(&with_check_digit(gtin_body)).expect("a valid GTIN"),
            lot: Lot::parse(lot).expect("a valid lot"),
            expiry: Expiry::from_date(date),
        }
    }

    pub fn pack(&self, serial: &str) -> PackId {
        PackId::new(
            self.gtin.clone(),
            Serial::parse(serial).expect("a valid serial"),
        )
    }

    /// A pack's DataMatrix as a scanner types it: an element string with GS
    /// separators (GTIN, expiry, lot, serial).
    pub fn scan(&self, serial: &str) -> String {
        self.data(serial, &self.lot).to_element_string()
    }

    /// The same code printed with another lot (a falsified or mislabelled pack).
    pub fn scan_with_lot(&self, serial: &str, lot: &str) -> String {
        self.data(serial, &Lot::parse(lot).expect("a valid lot"))
            .to_element_string()
    }

    fn data(&self, serial: &str, lot: &Lot) -> Gs1Data {
        let mut data = Gs1Data::new();
        data.push("01", self.gtin.as_str()).expect("GTIN element");
        data.push("17", self.expiry.as_str())
            .expect("expiry element");
        data.push("10", lot.as_str()).expect("lot element");
        data.push("21", serial).expect("serial element");
        data
    }

    /// The item text of a pack, as event item lists hold it.
    pub fn item(&self, serial: &str) -> String {
        Item::Pack(self.pack(serial)).to_string()
    }
}

/// A case's logistic label as scanned: `00` and the SSCC.
pub fn scan_case(case: &Sscc) -> String {
    format!("00{case}")
}

pub fn case_item(case: &Sscc) -> String {
    Item::Case(case.clone()).to_string()
}

// ---------------------------------------------------------------- the network

/// A party of the network with its key seed (a `SecretKey` is not `Clone`).
pub struct Member {
    pub name: &'static str,
    pub gln: Gln,
    pub role: Role,
    seed: [u8; 32],
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

    /// An event by this member, now, signed with its key; `items` are
    /// sorted and committed for the bodies that carry an item set.
    pub fn event(
        &self,
        body: impl FnOnce(ItemSetRef) -> EventBody,
        items: Vec<String>,
    ) -> EventSubmission {
        let items = canonical_item_order(items);
        let body = body(ItemSetRef::commit(&items));
        let items = body.item_set().map(|_| items);
        let signed = Event::new(self.gln.clone(), Timestamp::now(), body)
            .sign(&self.key())
            .expect("a signable event");
        EventSubmission::new(signed, items)
    }

    /// An event without items.
    pub fn plain(&self, body: EventBody) -> EventSubmission {
        self.event(|_| body, vec![])
    }
}

pub const ORIGIN: &str = "pedigree.test/log";

/// The log key, governance and the supply chain's trading partners.
pub struct Network {
    log_seed: [u8; 32],
    pub governance: Member,
    pub manufacturer: Member,
    pub distributor: Member,
    pub pharmacy: Member,
}

impl Network {
    pub fn new() -> Self {
        Self {
            log_seed: SecretKey::generate().signing_key().to_bytes(),
            governance: Member::new("Medicines Agency", Role::Regulator, "950600000001"),
            manufacturer: Member::new("Acme Pharma", Role::Manufacturer, "950600000002"),
            distributor: Member::new("Wholesale Ltd", Role::Distributor, "950600000003"),
            pharmacy: Member::new("Corner Pharmacy", Role::Pharmacy, "950600000004"),
        }
    }

    fn log_key(&self) -> SecretKey {
        SecretKey::from_seed(&self.log_seed)
    }

    pub fn log_verifier(&self) -> NoteVerifier {
        NoteVerifier::new(
            KeyName::parse(ORIGIN).expect("origin is a key name"),
            *self.log_key().public_key().verifying_key(),
        )
    }

    pub fn ledger_settings(&self, db: &TestDatabase) -> Settings {
        let mut settings = Settings::new(self.log_key(), self.governance.key().public_key());
        settings.listen = "127.0.0.1:0".parse().expect("a socket address");
        settings.database_url = db.url().as_str().to_string();
        settings.origin = ORIGIN.into();
        settings.pool_size = 3;
        settings
    }

    /// Governance registers itself, then every trading partner.
    pub fn genesis(&self) -> Vec<EventSubmission> {
        [
            &self.governance,
            &self.manufacturer,
            &self.distributor,
            &self.pharmacy,
        ]
        .into_iter()
        .map(|member| {
            self.governance.plain(EventBody::RegisterParty {
                party: member.gln.clone(),
                name: member.name.into(),
                role: member.role,
                key: member.key().public_key(),
                location: None,
            })
        })
        .collect()
    }

    /// A party service configuration for `member` on `db`.
    pub fn party_config(&self, member: &Member, db: &TestDatabase, ledger: &Ledger) -> PartyConfig {
        PartyConfig {
            role: member.role,
            gln: member.gln.clone(),
            key: Arc::new(member.key()),
            listen: "127.0.0.1:0".parse().expect("a socket address"),
            database_url: db.url().as_str().to_string(),
            pool_size: 3,
            ledger_url: ledger.base.clone(),
            log_verifier: self.log_verifier(),
            witness_interval: Duration::from_millis(100),
            retry_max: Duration::from_millis(200),
        }
    }
}

// ---------------------------------------------------------------- the manufacturer

/// The manufacturer's events, signed with its key and submitted straight
/// to the ledger (its own service is not under test here).
pub struct Manufacturer<'a> {
    pub member: &'a Member,
}

impl Manufacturer<'_> {
    pub fn product_and_batch(&self, batch: &Batch) -> Vec<EventSubmission> {
        let today = chrono::Utc::now().date_naive();
        vec![
            self.member.plain(EventBody::RegisterProduct {
                gtin: batch.gtin.clone(),
                name: "Paracetamol 500 mg, 16 tablets".into(),
            }),
            self.member.plain(EventBody::RegisterBatch {
                gtin: batch.gtin.clone(),
                lot: batch.lot.clone(),
                expiry: batch.expiry.clone(),
                manufactured: today - chrono::Duration::days(30),
            }),
        ]
    }

    pub fn commission(&self, batch: &Batch, serials: &[&str]) -> EventSubmission {
        let serials = serials.iter().map(|s| s.to_string()).collect();
        self.member.event(
            |set| EventBody::Commission {
                gtin: batch.gtin.clone(),
                lot: batch.lot.clone(),
                serials: set,
            },
            serials,
        )
    }

    pub fn aggregate(&self, case: &Sscc, items: Vec<String>) -> EventSubmission {
        self.member.event(
            |set| EventBody::Aggregate {
                case: case.clone(),
                contents: set,
            },
            items,
        )
    }

    pub fn ship(&self, shipment: &str, to: &Gln, items: Vec<String>) -> EventSubmission {
        self.member.event(
            |set| EventBody::Ship {
                shipment: shipment.into(),
                to: to.clone(),
                purpose: ShipmentPurpose::Sale,
                contents: set,
            },
            items,
        )
    }
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

    /// The single outbox item of a `202 Accepted` answer.
    pub fn outbox_item(self) -> Value {
        assert_eq!(self.status, 202, "unexpected status; body {}", self.body);
        let items = self.body["outbox"].as_array().expect("outbox items");
        assert_eq!(items.len(), 1, "one outbox item: {}", self.body);
        assert_eq!(items[0]["status"], "pending", "{}", self.body);
        items[0].clone()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

async fn answer(response: reqwest::Response) -> Answer {
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

// ---------------------------------------------------------------- the ledger

/// A ledger serving on a local port.
pub struct Ledger {
    pub base: String,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Ledger {
    pub fn start(settings: Settings) -> Self {
        let app = Application::build(settings).expect("the ledger starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        Self { base, handle, task }
    }

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

    /// The public verification status of a pack.
    pub async fn status(&self, pack: &PackId) -> Value {
        answer(
            client()
                .get(format!(
                    "{}/v1/packs/{}/{}",
                    self.base, pack.gtin, pack.serial
                ))
                .send()
                .await
                .expect("the ledger answers"),
        )
        .await
        .ok()
    }
}

/// The alert codes of a verification answer.
pub fn alert_codes(status: &Value) -> Vec<String> {
    status["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["code"].as_str().expect("alert code").to_string())
        .collect()
}

// ---------------------------------------------------------------- party services

/// A party service serving on a local port, with an operator token.
pub struct RunningParty {
    pub base: String,
    token: String,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningParty {
    pub fn start(config: PartyConfig, routes: fn(&mut actix_web::web::ServiceConfig)) -> Self {
        let app = PartyApp::build(config, routes).expect("the party service starts");
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

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.post_raw(path, body.to_string(), Some(&self.token))
            .await
    }

    /// A POST of `body` as JSON, with the given bearer token (or none).
    pub async fn post_raw(&self, path: &str, body: String, token: Option<&str>) -> Answer {
        let mut request = client()
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("the party answers")).await
    }

    /// POSTs an operation that must be stored, and waits until the ledger
    /// accepted it; returns the settled outbox item.
    pub async fn accepted(&self, path: &str, body: &Value) -> Value {
        let item = self.post(path, body).await.outbox_item();
        let id = item["id"].as_i64().expect("an outbox id");
        let settled = self.settled(id).await;
        assert_eq!(settled["status"], "accepted", "{path}: {settled}");
        settled
    }

    /// Waits until outbox item `id` has left `pending`; returns it.
    pub async fn settled(&self, id: i64) -> Value {
        eventually(&format!("outbox item {id} to settle"), || async {
            let item = self.get(&format!("/v1/outbox/{id}")).await.ok();
            (item["status"] != "pending").then_some(item)
        })
        .await
    }

    /// Every outbox item, newest first.
    pub async fn outbox(&self) -> Vec<Value> {
        self.get("/v1/outbox").await.ok()["items"]
            .as_array()
            .expect("items")
            .clone()
    }
}
