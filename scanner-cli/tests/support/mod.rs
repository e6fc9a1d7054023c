//! Test support: a real ledger started in-process on a free port, a small
//! supply chain of keyed parties, QR images drawn for photos, a tiny fake
//! HTTP server for tampered answers, and `pedigree-scan` run as a user runs
//! it (a subprocess, configured through its documented environment).

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use chrono::{Duration, NaiveDate, Utc};
use image::{GrayImage, Luma};
use pedigree_ledger::{Application, Settings};
use pedigree_schema::checkpoint::CosignatureSigner;
use pedigree_schema::event::{
    canonical_item_order, DecommissionReason, Event, EventBody, EventSubmission, Item, ItemSetRef,
    Role, ShipmentPurpose, Timestamp,
};
use pedigree_schema::gs1::{check_digit, Expiry, Gln, Gs1Data, Gtin, Lot, PackId, Serial, Sscc};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteSigner, NoteVerifier};
use pedigree_schema::request_auth::SignedRequest;
use pedigree_tls::{CertificateFiles, ServerTls};
use serde_json::Value;

pub const ORIGIN: &str = "pedigree.test/log";

// ---------------------------------------------------------------- identifiers

pub fn with_check_digit(body: &str) -> String {
    format!("{body}{}", check_digit(body).expect("digits"))
}

pub fn gln(body: &str) -> Gln {
    Gln::parse(&with_check_digit(body)).expect("a GLN")
}

pub fn gtin(body: &str) -> Gtin {
    Gtin::parse(&with_check_digit(body)).expect("a GTIN")
}

pub fn sscc(body: &str) -> Sscc {
    Sscc::parse(&with_check_digit(body)).expect("an SSCC")
}

/// A batch of a product with its expiry.
#[derive(Clone, Debug)]
pub struct Batch {
    pub gtin: Gtin,
    pub lot: Lot,
    pub expiry: Expiry,
}

impl Batch {
    pub fn new(gtin: &Gtin, lot: &str, expiry: NaiveDate) -> Self {
        Self {
            gtin: gtin.clone(),
            lot: Lot::parse(lot).expect("a lot"),
            expiry: Expiry::from_date(expiry),
        }
    }

    /// A batch expiring in about two years.
    pub fn fresh(gtin: &Gtin, lot: &str) -> Self {
        Self::new(gtin, lot, Utc::now().date_naive() + Duration::days(730))
    }

    pub fn pack(&self, serial: &str) -> PackId {
        PackId {
            gtin: self.gtin.clone(),
            serial: Serial::parse(serial).expect("a serial"),
        }
    }

    /// The element string of a pack's code: GTIN, expiry, lot, serial,
    /// with a GS after the variable-length lot.
    pub fn code(&self, serial: &str) -> String {
        self.data(serial).to_element_string()
    }

    /// The same as a GS1 Digital Link URI.
    pub fn link(&self, serial: &str) -> String {
        self.data(serial)
            .to_digital_link_with_stem("https://id.example.com")
            .expect("a digital link")
    }

    fn data(&self, serial: &str) -> Gs1Data {
        let mut data = Gs1Data::new();
        data.push("01", self.gtin.as_str()).expect("gtin");
        data.push("17", self.expiry.as_str()).expect("expiry");
        data.push("10", self.lot.as_str()).expect("lot");
        data.push("21", serial).expect("serial");
        data
    }
}

pub fn pack_item(pack: &PackId) -> String {
    Item::Pack(pack.clone()).to_string()
}

// ---------------------------------------------------------------- parties

pub struct Party {
    pub name: &'static str,
    pub gln: Gln,
    pub role: Role,
    pub key: SecretKey,
}

impl Party {
    fn new(name: &'static str, role: Role, body: &str, seed: u8) -> Self {
        Self {
            name,
            gln: gln(body),
            role,
            key: SecretKey::from_seed(&[seed; 32]),
        }
    }

    pub fn event(&self, time: Timestamp, body: EventBody) -> EventSubmission {
        let signed = Event::new(self.gln.clone(), time, body)
            .sign(&self.key)
            .expect("signs");
        EventSubmission::new(signed, None)
    }

    pub fn with_items(
        &self,
        time: Timestamp,
        items: Vec<String>,
        body: impl FnOnce(ItemSetRef) -> EventBody,
    ) -> EventSubmission {
        let items = canonical_item_order(items);
        let set = ItemSetRef::commit(&items);
        let signed = Event::new(self.gln.clone(), time, body(set))
            .sign(&self.key)
            .expect("signs");
        EventSubmission::new(signed, Some(items))
    }

    /// Writes this party's key to a 0600 key file, as a scanner holds it.
    pub fn key_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.key", self.gln));
        SecretKey::from_seed(&self.key.signing_key().to_bytes())
            .write_new_file(&path)
            .expect("key file");
        path
    }

    /// This party as a witness (cosignature key = its event key, name = GLN).
    pub fn witness(&self) -> CosignatureSigner {
        CosignatureSigner::new(
            KeyName::parse(self.gln.as_str()).expect("a key name"),
            self.key.signing_key().clone(),
        )
    }
}

/// The log key and a supply chain: governance, manufacturer, distributor,
/// pharmacy, and an outsider pharmacy. Keys are fixed per `seed` so that
/// two ledgers can share a network (the fork test).
pub struct Network {
    pub log_seed: [u8; 32],
    pub governance: Party,
    pub manufacturer: Party,
    pub distributor: Party,
    pub pharmacy: Party,
    pub outsider: Party,
}

impl Network {
    pub fn new(seed: u8) -> Self {
        Self {
            log_seed: [seed; 32],
            governance: Party::new(
                "Medicines Agency",
                Role::Regulator,
                "950600000001",
                seed + 1,
            ),
            manufacturer: Party::new("Acme Pharma", Role::Manufacturer, "950600000002", seed + 2),
            distributor: Party::new("Wholesale Ltd", Role::Distributor, "950600000003", seed + 3),
            pharmacy: Party::new("Corner Pharmacy", Role::Pharmacy, "950600000004", seed + 4),
            outsider: Party::new("Other Pharmacy", Role::Pharmacy, "950600000005", seed + 5),
        }
    }

    pub fn log_signer(&self) -> NoteSigner {
        NoteSigner::new(
            KeyName::parse(ORIGIN).expect("origin"),
            SecretKey::from_seed(&self.log_seed).signing_key().clone(),
        )
    }

    /// The log's C2SP verifier key, as the scanner's configuration names it.
    pub fn log_vkey(&self) -> String {
        self.log_signer().verifier().to_string()
    }

    pub fn log_verifier(&self) -> NoteVerifier {
        self.log_signer().verifier()
    }

    /// Genesis at `time`: governance registers itself, then the others.
    pub fn genesis(&self, time: Timestamp) -> Vec<EventSubmission> {
        [
            &self.governance,
            &self.manufacturer,
            &self.distributor,
            &self.pharmacy,
            &self.outsider,
        ]
        .into_iter()
        .map(|p| {
            self.governance.event(
                time,
                EventBody::RegisterParty {
                    party: p.gln.clone(),
                    name: p.name.into(),
                    role: p.role,
                    key: p.key.public_key(),
                    location: None,
                },
            )
        })
        .collect()
    }
}

/// `days` days ago plus `seconds`, as an event time.
pub fn ago(days: i64, seconds: i64) -> Timestamp {
    Timestamp::from(Utc::now() - Duration::days(days) + Duration::seconds(seconds))
}

// ---------------------------------------------------------------- the ledger

/// A ledger serving on a free local port, on a SQLite file in a temporary
/// directory; it runs until the test process ends.
pub struct Ledger {
    pub url: String,
    client: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

impl Ledger {
    /// Starts a ledger for `network` and appends its genesis, dated 20 days
    /// ago so that scenarios may backdate events.
    pub fn start(network: &Network) -> Self {
        Self::start_with_tls(network, None)
    }

    /// [`Ledger::start`], serving https with `certificate` when one is given
    /// (this support's own client trusts it).
    pub fn start_with_tls(network: &Network, certificate: Option<&CertificateFiles>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut settings = Settings::new(
            SecretKey::from_seed(&network.log_seed),
            network.governance.key.public_key(),
        );
        settings.listen = "127.0.0.1:0".parse().expect("an address");
        settings.database_url = dir.path().join("ledger.sqlite").display().to_string();
        settings.origin = ORIGIN.into();
        settings.pool_size = 2;
        settings.max_event_age = Duration::days(30);
        if let Some(certificate) = certificate {
            settings.tls = ServerTls::with_certificate(certificate.clone());
        }
        let scheme = settings.tls.scheme();
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let app = Application::build(settings).expect("the ledger starts");
                port_tx.send(app.port()).expect("the test waits");
                let _ = app.run_until_stopped().await;
            });
        });
        let port = port_rx.recv().expect("the ledger's port");
        let mut client = reqwest::blocking::Client::builder().no_proxy();
        if let Some(certificate) = certificate {
            let pem = std::fs::read(&certificate.cert_chain).expect("the certificate");
            client = client.add_root_certificate(
                reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"),
            );
        }
        let ledger = Self {
            url: format!("{scheme}://127.0.0.1:{port}"),
            client: client.build().expect("a client"),
            _dir: dir,
        };
        ledger.accept(&network.genesis(ago(20, 0)));
        ledger
    }

    /// Appends events that must all be accepted.
    pub fn accept(&self, events: &[EventSubmission]) {
        let response = self
            .client
            .post(format!("{}/v1/events", self.url))
            .json(&serde_json::json!({ "events": events }))
            .send()
            .expect("the ledger answers");
        let body: Value = response.json().expect("JSON");
        for (i, result) in body["results"]
            .as_array()
            .expect("results")
            .iter()
            .enumerate()
        {
            assert_eq!(result["status"], "accepted", "event {i}: {result}");
        }
    }

    pub fn get_text(&self, path: &str) -> String {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .expect("the ledger answers");
        assert!(response.status().is_success(), "GET {path}");
        response.text().expect("text")
    }

    /// A GET signed by `party`, as the scanner signs it.
    pub fn get_signed(&self, path: &str, party: &Party) -> String {
        let signed = SignedRequest::sign(&party.key, "GET", path, b"", Utc::now().timestamp());
        let mut request = self.client.get(format!("{}{path}", self.url));
        for (name, value) in signed.headers() {
            request = request.header(name, value);
        }
        let response = request.send().expect("the ledger answers");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.text().expect("text")
    }

    /// Adds `witness`'s cosignature to the latest checkpoint.
    pub fn cosign_latest(&self, witness: &Party, log: &NoteVerifier) {
        let text = self.get_text("/checkpoint");
        let checkpoint =
            pedigree_schema::checkpoint::SignedCheckpoint::parse_and_verify(&text, log)
                .expect("a checkpoint");
        let size = checkpoint.checkpoint().size();
        let line = witness
            .witness()
            .cosign(checkpoint.checkpoint(), Utc::now().timestamp() as u64)
            .expect("cosigns");
        let response = self
            .client
            .post(format!("{}/v1/checkpoints/{size}/cosignatures", self.url))
            .json(&serde_json::json!({ "cosignature": line.to_string() }))
            .send()
            .expect("the ledger answers");
        assert!(
            response.status().is_success(),
            "cosignature: {}",
            response.text().unwrap_or_default()
        );
    }
}

/// Registers the product and `batch`, commissions `serials`, packs them in
/// a case, ships the case to the distributor, who receives it, opens it
/// and ships the packs on to the pharmacy, who receives them. Events are
/// dated from `start` on, a second apart.
pub fn deliver(
    ledger: &Ledger,
    network: &Network,
    batch: &Batch,
    serials: &[&str],
    case: &Sscc,
    start: Timestamp,
) {
    let at = |n: i64| Timestamp::from(start.as_datetime() + Duration::seconds(n));
    let (m, d, p) = (
        &network.manufacturer,
        &network.distributor,
        &network.pharmacy,
    );
    let packs: Vec<String> = serials.iter().map(|s| pack_item(&batch.pack(s))).collect();
    let case_item = Item::Case(case.clone()).to_string();
    ledger.accept(&[
        m.event(
            at(0),
            EventBody::RegisterProduct {
                gtin: batch.gtin.clone(),
                name: "Paracetamol 500 mg, 16 tablets".into(),
            },
        ),
        m.event(
            at(1),
            EventBody::RegisterBatch {
                gtin: batch.gtin.clone(),
                lot: batch.lot.clone(),
                expiry: batch.expiry.clone(),
                manufactured: start.date() - Duration::days(30),
            },
        ),
        m.with_items(
            at(2),
            serials.iter().map(|s| s.to_string()).collect(),
            |set| EventBody::Commission {
                gtin: batch.gtin.clone(),
                lot: batch.lot.clone(),
                serials: set,
            },
        ),
        m.with_items(at(3), packs.clone(), |set| EventBody::Aggregate {
            case: case.clone(),
            contents: set,
        }),
        m.with_items(at(4), vec![case_item.clone()], |set| EventBody::Ship {
            shipment: format!("S-{}", batch.lot),
            to: d.gln.clone(),
            purpose: ShipmentPurpose::Sale,
            contents: set,
        }),
        d.with_items(at(5), vec![case_item], |set| EventBody::Receive {
            shipment: format!("S-{}", batch.lot),
            from: m.gln.clone(),
            received: set,
        }),
        d.event(at(6), EventBody::Disaggregate { case: case.clone() }),
        d.with_items(at(7), packs.clone(), |set| EventBody::Ship {
            shipment: format!("T-{}", batch.lot),
            to: p.gln.clone(),
            purpose: ShipmentPurpose::Sale,
            contents: set,
        }),
        p.with_items(at(8), packs, |set| EventBody::Receive {
            shipment: format!("T-{}", batch.lot),
            from: d.gln.clone(),
            received: set,
        }),
    ]);
}

pub fn dispense(ledger: &Ledger, network: &Network, pack: &PackId) {
    ledger.accept(&[network.pharmacy.event(
        Timestamp::now(),
        EventBody::Decommission {
            pack: pack.clone(),
            reason: DecommissionReason::Dispensed,
        },
    )]);
}

// ---------------------------------------------------------------- the scanner

/// A scanner's configuration: environment variables and a state directory.
pub struct Scanner {
    pub env: Vec<(String, String)>,
    pub state: tempfile::TempDir,
}

impl Scanner {
    /// A scanner of `party` talking to `ledger_url`, trusting the network's log key.
    pub fn new(network: &Network, party: &Party, ledger_url: &str) -> Self {
        let state = tempfile::tempdir().expect("a state directory");
        let key = party.key_file(state.path());
        let mut scanner = Self {
            env: Vec::new(),
            state,
        };
        scanner.set("PEDIGREE_SCAN_LEDGER_URL", ledger_url);
        scanner.set("PEDIGREE_SCAN_LOG_KEY", &network.log_vkey());
        scanner.set("PEDIGREE_SCAN_PARTY_KEY_FILE", &key.display().to_string());
        scanner.set("PEDIGREE_SCAN_TIMEOUT_SECS", "5");
        scanner
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_string(), value.to_string()));
    }

    pub fn unset(&mut self, name: &str) {
        self.env.retain(|(n, _)| n != name);
    }

    /// Runs `pedigree-scan args…` with this configuration and `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        run_scanner(args, stdin, &self.env, Some(self.state.path()))
    }

    /// `verify --json` of one payload: exit code and the report.
    pub fn verify(&self, payload: &str) -> (i32, Value) {
        let run = self.run(&["verify", "--json", payload], "");
        (run.code, run.json())
    }
}

/// The outcome of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The first line of standard output as JSON.
    pub fn json(&self) -> Value {
        let line = self.stdout.lines().next().unwrap_or("null");
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    /// Every line of standard output as JSON.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// Runs the scanner with exactly the given environment (plus PATH), so a
/// developer's own configuration never leaks into a test.
pub fn run_scanner(
    args: &[&str],
    stdin: &str,
    env: &[(String, String)],
    state: Option<&Path>,
) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pedigree-scan"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(state) = state {
        command.env("PEDIGREE_SCAN_STATE_DIR", state);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run pedigree-scan");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    let output = child.wait_with_output().expect("wait");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The reason codes of a report.
pub fn reason_codes(report: &Value) -> Vec<String> {
    report["reasons"]
        .as_array()
        .map(|reasons| {
            reasons
                .iter()
                .map(|r| r["code"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------- photos

/// A small deterministic generator (xorshift) for noise and layout.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A photo-like background: a lighting gradient, blotches, and grain.
pub fn background(width: u32, height: u32, seed: u64) -> GrayImage {
    let mut noise = Noise::new(seed);
    let mut image = GrayImage::from_fn(width, height, |x, y| {
        let shade = 150.0 + 60.0 * (x as f64 / width as f64) - 30.0 * (y as f64 / height as f64);
        Luma([shade as u8])
    });
    for _ in 0..12 {
        let (cx, cy) = (
            noise.below(width as u64) as i64,
            noise.below(height as u64) as i64,
        );
        let r = 10 + noise.below(60) as i64;
        let tone = 90 + noise.below(120) as u8;
        for y in (cy - r).max(0)..(cy + r).min(height as i64) {
            for x in (cx - r).max(0)..(cx + r).min(width as i64) {
                if (x - cx).pow(2) + (y - cy).pow(2) < r * r {
                    image.put_pixel(x as u32, y as u32, Luma([tone]));
                }
            }
        }
    }
    for pixel in image.pixels_mut() {
        let grain = noise.below(25) as i16 - 12;
        pixel.0[0] = (pixel.0[0] as i16 + grain).clamp(0, 255) as u8;
    }
    image
}

/// Draws a QR code of `payload` onto `image`: `module` pixels per module,
/// with a quiet zone of 4 modules on a printed-label white, centred at
/// (`cx`, `cy`) and rotated by `degrees`. Each pixel takes the share of it
/// the dark modules cover (4x4 samples), as a camera's sensor integrates.
pub fn draw_qr(image: &mut GrayImage, payload: &str, module: f64, degrees: f64, cx: f64, cy: f64) {
    const SAMPLES: u32 = 4;
    let code = qrcode::QrCode::new(payload.as_bytes()).expect("a QR code");
    let modules = code.width() as i64;
    let colors = code.to_colors();
    let quiet = 4i64;
    let side = modules + 2 * quiet;
    // 1.0 for a dark module, 0.0 for light or quiet zone, None outside the label.
    let ink = |u: f64, v: f64| -> Option<f64> {
        let (mu, mv) = (u.floor() as i64 - quiet, v.floor() as i64 - quiet);
        if u < 0.0 || v < 0.0 || u >= side as f64 || v >= side as f64 {
            return None;
        }
        if mu < 0 || mv < 0 || mu >= modules || mv >= modules {
            return Some(0.0);
        }
        Some(match colors[(mv * modules + mu) as usize] {
            qrcode::Color::Dark => 1.0,
            qrcode::Color::Light => 0.0,
        })
    };
    let (sin, cos) = degrees.to_radians().sin_cos();
    let half = side as f64 * module / 2.0;
    let reach = half * std::f64::consts::SQRT_2 + 2.0;
    let (w, h) = (image.width() as f64, image.height() as f64);
    let (x0, x1) = (
        (cx - reach).max(0.0) as u32,
        (cx + reach).min(w - 1.0) as u32,
    );
    let (y0, y1) = (
        (cy - reach).max(0.0) as u32,
        (cy + reach).min(h - 1.0) as u32,
    );
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (mut covered, mut total) = (0.0, 0.0);
            for sy in 0..SAMPLES {
                for sx in 0..SAMPLES {
                    // Into the label's frame, in modules.
                    let dx = x as f64 + (sx as f64 + 0.5) / SAMPLES as f64 - cx;
                    let dy = y as f64 + (sy as f64 + 0.5) / SAMPLES as f64 - cy;
                    let u = (cos * dx + sin * dy + half) / module;
                    let v = (-sin * dx + cos * dy + half) / module;
                    if let Some(dark) = ink(u, v) {
                        covered += dark;
                        total += 1.0;
                    }
                }
            }
            if total == 0.0 {
                continue;
            }
            let share = total / f64::from(SAMPLES * SAMPLES);
            let label = 235.0 - 200.0 * covered / total;
            let under = f64::from(image.get_pixel(x, y).0[0]);
            image.put_pixel(x, y, Luma([(label * share + under * (1.0 - share)) as u8]));
        }
    }
}

/// Writes `image` as PNG or JPEG (by extension) into `dir`.
pub fn save(image: &GrayImage, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    image.save(&path).expect("an image file");
    path
}

// ---------------------------------------------------------------- fake services

/// A request as a fake service received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A tiny HTTP/1.1 server on a free local port: each request is recorded
/// and answered by `handler` with (status, JSON body), then the connection
/// is closed. Serves tampered answers to the scanner, and stands in for the
/// pharmacy service.
pub fn fake_server(
    handler: impl Fn(&Request) -> (u16, String) + Send + 'static,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(request) = read_request(&mut stream) else {
                continue;
            };
            let (status, body) = handler(&request);
            record.lock().expect("the record").push(request);
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, seen)
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buffer[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buffer[..n]),
        }
    }
    let body = String::from_utf8_lossy(&data[head_end..]).into_owned();
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// A fake service answering each path with the first route whose prefix
/// matches; 404 otherwise.
pub fn fake_routes(routes: Vec<(String, u16, String)>) -> String {
    fake_server(move |request| {
        routes
            .iter()
            .find(|(prefix, _, _)| request.path.starts_with(prefix.as_str()))
            .map(|(_, status, body)| (*status, body.clone()))
            .unwrap_or((
                404,
                r#"{"code":"not_found","message":"no such route"}"#.into(),
            ))
    })
    .0
}

/// Percent-encodes a query value as the scanner does.
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
