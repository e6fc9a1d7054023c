//! Test support: a real ledger on a throw-away database, a network of keyed parties, the
//! manufacturer's party service (`PartyApp` with this crate's routes) and a client for both;
//! and reading labels back (PNG with rqrr, SVG rasterised with resvg, then rqrr).
//!
//! Scenarios that touch the database are written once as `async fn scenario(backend)` and run
//! on SQLite and (when `PEDIGREE_TEST_POSTGRES_URL` is set) PostgreSQL by [`both_backends!`].

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use image::GrayImage;
use pedigree_ledger::{Application, Settings};
use pedigree_party::db::testing::TestDatabase;
use pedigree_party::{create_operator_token, PartyApp, PartyConfig};
use pedigree_schema::event::{Event, EventBody, EventSubmission, Role, Timestamp};
use pedigree_schema::gs1::{check_digit, Gln, Gtin, Sscc};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteVerifier};
use serde_json::{json, Value};

/// Writes a scenario's `#[tokio::test]`s: `sqlite::<name>` always, and `postgres::<name>`
/// when `PEDIGREE_TEST_POSTGRES_URL` is set (otherwise it says why it skips).
#[allow(unused_macros)] // Not every test binary runs scenarios.
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

pub fn sscc(body: &str) -> Sscc {
    Sscc::parse(&with_check_digit(body)).expect("a valid SSCC")
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
}

pub const ORIGIN: &str = "pedigree.test/log";

/// The log key, governance, the manufacturer and a wholesaler to ship to.
pub struct Network {
    pub log_seed: [u8; 32],
    pub governance: Member,
    pub manufacturer: Member,
    pub distributor: Member,
}

impl Network {
    pub fn new() -> Self {
        Self {
            log_seed: SecretKey::generate().signing_key().to_bytes(),
            governance: Member::new("Medicines Agency", Role::Regulator, "950600000001"),
            manufacturer: Member::new("Acme Pharma", Role::Manufacturer, "950600000002"),
            distributor: Member::new("Wholesale Ltd", Role::Distributor, "950600000003"),
        }
    }

    pub fn log_key(&self) -> SecretKey {
        SecretKey::from_seed(&self.log_seed)
    }

    pub fn log_verifier(&self) -> NoteVerifier {
        NoteVerifier::new(
            KeyName::parse(ORIGIN).expect("origin is a key name"),
            *self.log_key().public_key().verifying_key(),
        )
    }

    /// Ledger settings on `db`, on a free local port.
    pub fn ledger_settings(&self, db: &TestDatabase) -> Settings {
        let mut settings = Settings::new(self.log_key(), self.governance.key().public_key());
        settings.listen = "127.0.0.1:0".parse().expect("a socket address");
        settings.database_url = db.url().as_str().to_string();
        settings.origin = ORIGIN.into();
        settings.pool_size = 3;
        settings
    }

    /// Genesis: governance registers itself, then the other parties.
    pub fn genesis(&self) -> Vec<EventSubmission> {
        [&self.governance, &self.manufacturer, &self.distributor]
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

    /// The body of an answer with `status`.
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status; body {}", self.body);
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

/// Polls `probe` every 50 ms until it gives a value, for at most 60 s.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
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
        .expect(200);
        for result in body["results"].as_array().expect("results") {
            assert_eq!(result["status"], "accepted", "{result}");
        }
    }

    /// A public GET.
    pub async fn get(&self, path: &str) -> Answer {
        answer(
            client()
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .expect("the ledger answers"),
        )
        .await
    }
}

// ---------------------------------------------------------------- the manufacturer

/// The manufacturer's party service on a local port, with an operator token.
pub struct Manufacturer {
    pub base: String,
    pub token: String,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Manufacturer {
    pub fn start(config: PartyConfig) -> Self {
        let app = PartyApp::build(config, pedigree_manufacturer::routes)
            .expect("the manufacturer service starts");
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
            .expect("the service task completes")
            .expect("the service stops cleanly");
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(
            client()
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("the service answers"),
        )
        .await
    }

    /// A GET that must answer 200 with `content_type`; returns the body.
    pub async fn get_bytes(&self, path: &str, content_type: &str) -> Vec<u8> {
        let response = client()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the service answers");
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.bytes().await.expect("a body").to_vec();
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(kind, content_type, "GET {path}");
        body
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        answer(
            client()
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .json(body)
                .send()
                .await
                .expect("the service answers"),
        )
        .await
    }

    /// Waits until every outbox item of a created-answer's `outbox` is accepted.
    pub async fn all_accepted(&self, created: &Value) {
        for item in created["outbox"].as_array().expect("outbox items") {
            let id = item["id"].as_i64().expect("an id");
            let settled = eventually(&format!("outbox item {id} to settle"), || async {
                let item = self.get(&format!("/v1/outbox/{id}")).await.expect(200);
                (item["status"] != "pending").then_some(item)
            })
            .await;
            assert_eq!(settled["status"], "accepted", "{settled}");
        }
    }

    /// The number of outbox items.
    pub async fn outbox_len(&self) -> usize {
        self.get("/v1/outbox").await.expect(200)["items"]
            .as_array()
            .expect("items")
            .len()
    }
}

// ---------------------------------------------------------------- reading labels

pub fn decode_png(png: &[u8]) -> GrayImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("a PNG")
        .to_luma8()
}

/// Rasterises an SVG at its own size (text is not rendered: resvg is built without fonts).
pub fn rasterise_svg(svg: &str) -> GrayImage {
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).expect("SVG");
    let size = tree.size().to_int_size();
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width(), size.height()).expect("non-empty SVG");
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    GrayImage::from_fn(size.width(), size.height(), |x, y| {
        let pixel = pixmap.pixel(x, y).expect("in bounds").demultiply();
        image::Luma([pixel.red()])
    })
}

/// The text of the one QR Code in the image, and the bottom of its bounds.
pub fn read_one_code(image: GrayImage) -> (String, i32) {
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one code on a label");
    let (_, text) = grids[0].decode().expect("the code decodes");
    let bottom = grids[0].bounds.iter().map(|p| p.y).max().unwrap_or(0);
    (text, bottom)
}

/// The code of every cell of a sheet of `count` labels in `columns` columns, each cell read on
/// its own as a scanner aimed at one label would (read whole, rqrr also proposes grids made of
/// finder patterns of neighbouring codes).
pub fn read_sheet(sheet: &GrayImage, count: u32, columns: u32) -> BTreeSet<String> {
    let columns = columns.min(count);
    let rows = count.div_ceil(columns);
    let (w, h) = (sheet.width() / columns, sheet.height() / rows);
    assert_eq!(
        (sheet.width() % columns, sheet.height() % rows),
        (0, 0),
        "the sheet is a grid of {count} cells in {columns} columns"
    );
    (0..count)
        .map(|i| {
            let cell = image::imageops::crop_imm(sheet, (i % columns) * w, (i / columns) * h, w, h);
            read_one_code(cell.to_image()).0
        })
        .collect()
}
