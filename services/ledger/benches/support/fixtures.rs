//! What the benchmarks share: the parties and their signed events, ledgers
//! on a fresh SQLite file or PostgreSQL database, the figure lines.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::db::{Backend, Database, DbConnection};
use pedigree_ledger::log::{prepare, Appender, LogIdentity};
use pedigree_ledger::{Application, Settings};
use pedigree_schema::event::{
    canonical_item_order, Event, EventBody, EventSubmission, GeoPoint, Item, ItemSetRef, Role,
    Timestamp,
};
use pedigree_schema::gs1::{ai::check_digit, Expiry, Gln, Gtin, Lot, PackId, Serial, Sscc};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteSigner};

pub const GTIN: &str = "09506000134352";
pub const LOT: &str = "BENCH1";

/// Prints one figure with its setting and the machine's load at the time
/// (other work on the machine makes figures pessimistic).
pub fn report(name: &str, setting: &str, value: String) {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    println!("{name:<46} {setting:<52} {value:<22} load {load}");
}

/// A value for the scaling plot, read by the driver (not printed to the reader).
pub fn plot_point(series: &str, log_size: u64, value: f64) {
    println!("@plot {series} {log_size} {value}");
}

/// A GLN from its 12-digit body.
pub fn gln(body: &str) -> Gln {
    Gln::parse(&format!("{body}{}", check_digit(body).expect("digits"))).expect("valid GLN")
}

/// An SSCC from its number (extension digit 0, company prefix 9506000).
pub fn sscc(n: u64) -> Sscc {
    let body = format!("09506000{n:09}");
    Sscc::parse(&format!("{body}{}", check_digit(&body).expect("digits"))).expect("valid SSCC")
}

pub struct Parties {
    pub governance: (Gln, SecretKey),
    pub maker: (Gln, SecretKey),
    pub pharmacy: (Gln, SecretKey),
}

pub fn parties() -> Parties {
    Parties {
        governance: (gln("400000000000"), SecretKey::from_seed(&[1; 32])),
        maker: (gln("400000000001"), SecretKey::from_seed(&[2; 32])),
        pharmacy: (gln("400000000002"), SecretKey::from_seed(&[3; 32])),
    }
}

pub fn submission(
    actor: &(Gln, SecretKey),
    time: Timestamp,
    body: EventBody,
    items: Option<Vec<String>>,
) -> EventSubmission {
    let signed = Event::new(actor.0.clone(), time, body)
        .sign(&actor.1)
        .expect("sign");
    EventSubmission::new(signed, items)
}

/// `start + seconds + micros`, as an event time.
pub fn at(start: DateTime<Utc>, seconds: i64, micros: i64) -> Timestamp {
    Timestamp::from(
        start + chrono::Duration::seconds(seconds) + chrono::Duration::microseconds(micros),
    )
}

/// Genesis, the parties, a product and a batch.
pub fn genesis(p: &Parties, start: DateTime<Utc>) -> Vec<EventSubmission> {
    let register = |who: &(Gln, SecretKey), role: Role, second: i64| {
        submission(
            &p.governance,
            at(start, second, 0),
            EventBody::RegisterParty {
                party: who.0.clone(),
                name: format!("party {}", who.0),
                role,
                key: who.1.public_key(),
                // All in Lyon, as a wholesaler's region would be.
                location: Some(GeoPoint::from_degrees(45.76 + second as f64 * 0.01, 4.84)),
            },
            None,
        )
    };
    let gtin = Gtin::parse(GTIN).expect("gtin");
    vec![
        register(&p.governance, Role::Regulator, 0),
        register(&p.maker, Role::Manufacturer, 1),
        register(&p.pharmacy, Role::Pharmacy, 2),
        submission(
            &p.maker,
            at(start, 10, 0),
            EventBody::RegisterProduct {
                gtin: gtin.clone(),
                name: "Bench product".into(),
            },
            None,
        ),
        submission(
            &p.maker,
            at(start, 10, 0),
            EventBody::RegisterBatch {
                gtin,
                lot: Lot::parse(LOT).expect("lot"),
                expiry: Expiry::from_date(Utc::now().date_naive() + chrono::Duration::days(700)),
                manufactured: Utc::now().date_naive(),
            },
            None,
        ),
    ]
}

pub fn pack(serial: &str) -> PackId {
    PackId::new(
        Gtin::parse(GTIN).expect("gtin"),
        Serial::parse(serial).expect("serial"),
    )
}

/// `count` distinct signed verifications by the pharmacy, of serials
/// `serial(i)` (which need not exist: a verify event is an observation).
pub fn verifications(
    p: &Parties,
    count: usize,
    start: DateTime<Utc>,
    serial: impl Fn(usize) -> String,
) -> Vec<EventSubmission> {
    (0..count)
        .map(|i| {
            submission(
                &p.pharmacy,
                at(start, 20, i as i64),
                EventBody::Verify {
                    pack: pack(&serial(i)),
                    lot: None,
                    expiry: None,
                    location: None,
                },
                None,
            )
        })
        .collect()
}

/// The maker commissions `serials` into the bench batch.
pub fn commission(p: &Parties, serials: Vec<String>, time: Timestamp) -> EventSubmission {
    let items = canonical_item_order(serials);
    submission(
        &p.maker,
        time,
        EventBody::Commission {
            gtin: Gtin::parse(GTIN).expect("gtin"),
            lot: Lot::parse(LOT).expect("lot"),
            serials: ItemSetRef::commit(&items),
        },
        Some(items),
    )
}

/// A shipment of `items` from the maker to the pharmacy and its receipt.
pub fn ship_and_receive(
    p: &Parties,
    shipment: &str,
    items: Vec<Item>,
    time: Timestamp,
) -> (EventSubmission, EventSubmission) {
    let items = canonical_item_order(items.iter().map(Item::to_string).collect());
    let set = ItemSetRef::commit(&items);
    let ship = submission(
        &p.maker,
        time,
        EventBody::Ship {
            shipment: shipment.into(),
            to: p.pharmacy.0.clone(),
            purpose: pedigree_schema::event::ShipmentPurpose::Sale,
            contents: set,
        },
        Some(items.clone()),
    );
    let receive = submission(
        &p.pharmacy,
        time,
        EventBody::Receive {
            shipment: shipment.into(),
            from: p.maker.0.clone(),
            received: set,
        },
        Some(items),
    );
    (ship, receive)
}

pub fn identity() -> LogIdentity {
    LogIdentity {
        origin: "bench.example/log".into(),
        signer: NoteSigner::new(
            KeyName::parse("bench.example/log").expect("name"),
            SecretKey::from_seed(&[9; 32]).signing_key().clone(),
        ),
    }
}

/// A scratch database of the named backend ("sqlite" or "postgres"); for
/// PostgreSQL `None` (and a note) when `PEDIGREE_TEST_POSTGRES_URL` is unset.
pub fn scratch_database(backend: &str) -> Option<TestDatabase> {
    match backend {
        "postgres" => {
            let db = TestDatabase::postgres();
            if db.is_none() {
                report(
                    "(PostgreSQL figures skipped)",
                    "set PEDIGREE_TEST_POSTGRES_URL",
                    "-".into(),
                );
            }
            db
        }
        _ => Some(TestDatabase::sqlite()),
    }
}

pub fn backend_name(db: &TestDatabase) -> &'static str {
    match db.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

/// Opens and migrates `db`.
pub fn open(db: &TestDatabase) -> Database {
    let database = db.open().expect("open");
    pedigree_ledger::db::run_pending_migrations(
        &mut database.dedicated_connection().expect("conn"),
    )
    .expect("migrate");
    database
}

/// An appender on `database`, as the ledger's writer opens it.
pub fn open_appender(database: &Database, p: &Parties) -> Appender {
    Appender::open(
        database.dedicated_connection().expect("conn"),
        identity(),
        p.governance.1.public_key(),
        chrono::Duration::hours(72),
    )
    .expect("open the log")
}

/// A ledger on `db` holding the genesis events; keep `db` and the returned
/// pool alive as long as the appender.
pub fn ledger_with_genesis(
    db: &TestDatabase,
    p: &Parties,
    start: DateTime<Utc>,
) -> (Database, Appender) {
    let database = open(db);
    let mut appender = open_appender(&database, p);
    append_all(&mut appender, genesis(p, start), 100);
    (database, appender)
}

/// Prepares and appends `events` in batches of `batch`; every event must be
/// accepted. Returns the time taken.
pub fn append_all(appender: &mut Appender, events: Vec<EventSubmission>, batch: usize) -> Duration {
    let (prepare, commit) = append_timed(appender, events, batch);
    prepare + commit
}

/// As [`append_all`], returning the time spent preparing (signatures and
/// encodings, on every core) and appending (the single writer).
pub fn append_timed(
    appender: &mut Appender,
    events: Vec<EventSubmission>,
    batch: usize,
) -> (Duration, Duration) {
    let (mut preparing, mut appending) = (Duration::ZERO, Duration::ZERO);
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<EventSubmission> = events.by_ref().take(batch).collect();
        let started = Instant::now();
        let prepared = prepare(chunk);
        let prepared_at = Instant::now();
        let outcomes = appender.append(prepared).expect("append");
        appending += prepared_at.elapsed();
        preparing += prepared_at - started;
        if let Some(Err(rejection)) = outcomes.iter().find(|o| o.is_err()) {
            panic!("bench events must be accepted: {rejection}");
        }
    }
    (preparing, appending)
}

/// As [`append_all`], but the next batch is prepared on other threads while
/// the writer appends the current one — the ledger's own HTTP path overlaps
/// them the same way.
pub fn append_pipelined(
    appender: &mut Appender,
    events: Vec<EventSubmission>,
    batch: usize,
) -> Duration {
    let started = Instant::now();
    let (prepared, ready) = std::sync::mpsc::sync_channel(1);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut events = events.into_iter().peekable();
            while events.peek().is_some() {
                let chunk: Vec<EventSubmission> = events.by_ref().take(batch).collect();
                if prepared.send(prepare(chunk)).is_err() {
                    return;
                }
            }
        });
        for batch in ready {
            let outcomes = appender.append(batch).expect("append");
            if let Some(Err(rejection)) = outcomes.iter().find(|o| o.is_err()) {
                panic!("bench events must be accepted: {rejection}");
            }
        }
    });
    started.elapsed()
}

/// A running ledger on `db`, its base URL, and the runtime it runs on.
pub fn http_ledger(db: &TestDatabase, p: &Parties) -> (tokio::runtime::Runtime, String) {
    let mut settings = Settings::new(SecretKey::from_seed(&[9; 32]), p.governance.1.public_key());
    settings.listen = ([127, 0, 0, 1], 0).into();
    settings.database_url = db.url().as_str().to_string();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let base = runtime.block_on(async {
        let app = Application::build(settings).expect("build");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        base
    });
    (runtime, base)
}

/// Posts a batch of events; every event must be accepted.
pub async fn post_events(client: &reqwest::Client, base: &str, events: Vec<EventSubmission>) {
    let answer: serde_json::Value = client
        .post(format!("{base}/v1/events"))
        .json(&serde_json::json!({ "events": events }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let results = answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("the ledger did not append: {answer}"));
    if let Some(refused) = results.iter().find(|r| r["status"] != "accepted") {
        panic!("bench events must be accepted: {refused}");
    }
}

/// Bytes the database takes on disk (SQLite: the file after a WAL
/// checkpoint; PostgreSQL: `pg_database_size`).
pub fn database_bytes(db: &TestDatabase, conn: &mut DbConnection) -> u64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Size {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    match db.backend() {
        Backend::Sqlite => {
            diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(conn)
                .expect("checkpoint the WAL");
            let path = db
                .url()
                .as_str()
                .trim_start_matches("sqlite://")
                .to_string();
            let size = |p: &str| std::fs::metadata(p).map_or(0, |m| m.len());
            size(&path) + size(&format!("{path}-wal"))
        }
        Backend::Postgres => {
            let size: Size =
                diesel::sql_query("SELECT pg_database_size(current_database()) AS bytes")
                    .get_result(conn)
                    .expect("pg_database_size");
            size.bytes as u64
        }
    }
}

/// Median and 99th percentile of `samples`.
pub fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Serials of the packs [`stock_pharmacy`] puts on the pharmacy's shelf.
pub fn shelf_serial(i: usize) -> String {
    format!("P{i:011}")
}

/// Events that give `packs` packs a history: commissioned by the maker,
/// shipped to the pharmacy in shipments of 1000, received there.
pub fn stock_pharmacy(p: &Parties, packs: usize, start: DateTime<Utc>) -> Vec<EventSubmission> {
    let serials: Vec<String> = (0..packs).map(shelf_serial).collect();
    let mut events = vec![commission(p, serials.clone(), at(start, 30, 0))];
    let (ships, receives): (Vec<_>, Vec<_>) = serials
        .chunks(1_000)
        .enumerate()
        .map(|(n, chunk)| {
            let items = chunk.iter().map(|s| Item::Pack(pack(s))).collect();
            ship_and_receive(p, &format!("STOCK{n}"), items, at(start, 40, n as i64))
        })
        .unzip();
    events.extend(ships);
    events.extend(receives);
    events
}
