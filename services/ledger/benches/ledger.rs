//! Ledger benchmarks: `cargo bench -p pedigree-ledger --bench ledger`.
//!
//! Prints one line per figure with its setting. Sizes are kept so a run takes
//! a few minutes on a 2-core machine; `PEDIGREE_BENCH_10M=1` adds the proof
//! timings at 10 million entries (building that tree takes several minutes).
//! Figures and the machine they came from are in `docs/BENCHMARKS.md`.

use std::time::{Duration, Instant};

use chrono::Utc;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::db::DbConnection;
use pedigree_ledger::log::{prepare, Appender, LogIdentity};
use pedigree_ledger::{tree, Application, Settings};
use pedigree_schema::event::{
    canonical_item_order, Event, EventBody, EventSubmission, ItemSetRef, Role, Timestamp,
};
use pedigree_schema::gs1::{ai::check_digit, Expiry, Gln, Gtin, Lot, PackId, Serial};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::merkle::{Frontier, Hash, NodeId};
use pedigree_schema::note::{KeyName, NoteSigner};

fn gln(body: &str) -> Gln {
    Gln::parse(&format!("{body}{}", check_digit(body).expect("digits"))).expect("valid GLN")
}

struct Parties {
    governance: (Gln, SecretKey),
    maker: (Gln, SecretKey),
    pharmacy: (Gln, SecretKey),
}

fn parties() -> Parties {
    Parties {
        governance: (gln("400000000000"), SecretKey::from_seed(&[1; 32])),
        maker: (gln("400000000001"), SecretKey::from_seed(&[2; 32])),
        pharmacy: (gln("400000000002"), SecretKey::from_seed(&[3; 32])),
    }
}

fn submission(
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

/// Genesis, the parties, a product and a batch.
fn genesis(p: &Parties, start: chrono::DateTime<Utc>) -> Vec<EventSubmission> {
    let register = |who: &(Gln, SecretKey), role: Role, minute: i64| {
        submission(
            &p.governance,
            Timestamp::from(start + chrono::Duration::seconds(minute)),
            EventBody::RegisterParty {
                party: who.0.clone(),
                name: format!("party {}", who.0),
                role,
                key: who.1.public_key(),
                location: None,
            },
            None,
        )
    };
    let later = Timestamp::from(start + chrono::Duration::seconds(10));
    vec![
        register(&p.governance, Role::Regulator, 0),
        register(&p.maker, Role::Manufacturer, 1),
        register(&p.pharmacy, Role::Pharmacy, 2),
        submission(
            &p.maker,
            later,
            EventBody::RegisterProduct {
                gtin: Gtin::parse("09506000134352").expect("gtin"),
                name: "Bench product".into(),
            },
            None,
        ),
        submission(
            &p.maker,
            later,
            EventBody::RegisterBatch {
                gtin: Gtin::parse("09506000134352").expect("gtin"),
                lot: Lot::parse("BENCH1").expect("lot"),
                expiry: Expiry::from_date(Utc::now().date_naive() + chrono::Duration::days(700)),
                manufactured: Utc::now().date_naive(),
            },
            None,
        ),
    ]
}

/// `count` distinct signed verification observations by the pharmacy.
fn verifications(p: &Parties, count: usize, start: chrono::DateTime<Utc>) -> Vec<EventSubmission> {
    let gtin = Gtin::parse("09506000134352").expect("gtin");
    (0..count)
        .map(|i| {
            submission(
                &p.pharmacy,
                Timestamp::from(
                    start
                        + chrono::Duration::seconds(20)
                        + chrono::Duration::microseconds(i as i64),
                ),
                EventBody::Verify {
                    pack: PackId::new(
                        gtin.clone(),
                        Serial::parse(&format!("V{i:09}")).expect("serial"),
                    ),
                    lot: None,
                    expiry: None,
                    location: None,
                },
                None,
            )
        })
        .collect()
}

fn identity() -> LogIdentity {
    LogIdentity {
        origin: "bench.example/log".into(),
        signer: NoteSigner::new(
            KeyName::parse("bench.example/log").expect("name"),
            SecretKey::from_seed(&[9; 32]).signing_key().clone(),
        ),
    }
}

/// A fresh SQLite ledger holding the genesis events; keep the database
/// value alive as long as the appender.
fn ledger_with_genesis(p: &Parties, start: chrono::DateTime<Utc>) -> (TestDatabase, Appender) {
    let db = TestDatabase::sqlite();
    let database = db.open().expect("open");
    pedigree_ledger::db::run_pending_migrations(
        &mut database.dedicated_connection().expect("conn"),
    )
    .expect("migrate");
    let mut appender = Appender::open(
        database.dedicated_connection().expect("conn"),
        identity(),
        p.governance.1.public_key(),
        chrono::Duration::hours(72),
    )
    .expect("open");
    append_all(&mut appender, genesis(p, start), 100);
    (db, appender)
}

fn append_all(appender: &mut Appender, events: Vec<EventSubmission>, batch: usize) -> Duration {
    let started = Instant::now();
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<EventSubmission> = events.by_ref().take(batch).collect();
        let outcomes = appender.append(prepare(chunk)).expect("append");
        assert!(
            outcomes.iter().all(Result::is_ok),
            "bench events must be accepted"
        );
    }
    started.elapsed()
}

fn report(name: &str, setting: &str, value: String) {
    println!("{name:<44} {setting:<40} {value}");
}

fn bench_library_append(count: usize) {
    let p = parties();
    let start = Utc::now() - chrono::Duration::minutes(5);
    let (_db, mut appender) = ledger_with_genesis(&p, start);
    let events = verifications(&p, count, start);
    let elapsed = append_all(&mut appender, events, 5_000);
    report(
        "append, library path (prepare + commit)",
        &format!("SQLite, {count} events, batches of 5000"),
        format!("{:.0} events/s", count as f64 / elapsed.as_secs_f64()),
    );
}

fn bench_commission(serials: usize) {
    let p = parties();
    let start = Utc::now() - chrono::Duration::minutes(5);
    let (_db, mut appender) = ledger_with_genesis(&p, start);
    let items = canonical_item_order((0..serials).map(|i| format!("C{i:012}")).collect());
    let body = EventBody::Commission {
        gtin: Gtin::parse("09506000134352").expect("gtin"),
        lot: Lot::parse("BENCH1").expect("lot"),
        serials: ItemSetRef::commit(&items),
    };
    let event = submission(
        &p.maker,
        Timestamp::from(start + chrono::Duration::seconds(30)),
        body,
        Some(items),
    );
    let elapsed = append_all(&mut appender, vec![event], 1);
    report(
        "commission serials in one event",
        &format!("SQLite, {serials} serials"),
        format!("{:.2} s", elapsed.as_secs_f64()),
    );
}

fn bench_http_append(count: usize, clients: usize) {
    let db = TestDatabase::sqlite();
    let p = parties();
    let mut settings = Settings::new(SecretKey::from_seed(&[9; 32]), p.governance.1.public_key());
    settings.listen = ([127, 0, 0, 1], 0).into();
    settings.database_url = db.url().as_str().to_string();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let app = Application::build(settings).expect("build");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::new();
        let start = Utc::now() - chrono::Duration::minutes(5);
        let post = |events: Vec<EventSubmission>| {
            let client = client.clone();
            let url = format!("{base}/v1/events");
            async move {
                let answer: serde_json::Value = client
                    .post(url)
                    .json(&serde_json::json!({ "events": events }))
                    .send()
                    .await
                    .expect("post")
                    .json()
                    .await
                    .expect("json");
                let results = answer["results"].as_array().expect("results");
                assert!(
                    results.iter().all(|r| r["status"] == "accepted"),
                    "bench events must be accepted"
                );
            }
        };
        post(genesis(&p, start)).await;
        let events = verifications(&p, count, start);
        let batches: Vec<Vec<EventSubmission>> = events.chunks(1_000).map(<[_]>::to_vec).collect();
        let started = Instant::now();
        let mut pending = batches.into_iter();
        loop {
            let round: Vec<_> = pending.by_ref().take(clients).map(&post).collect();
            if round.is_empty() {
                break;
            }
            futures_join_all(round).await;
        }
        let elapsed = started.elapsed();
        report(
            "append over HTTP",
            &format!("SQLite, {count} events, {clients} clients x 1000"),
            format!("{:.0} events/s", count as f64 / elapsed.as_secs_f64()),
        );
    });
}

async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(futures: Vec<F>) {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    for handle in handles {
        handle.await.expect("task");
    }
}

/// Fills `tree_nodes` for a tree of `size` synthetic leaves, in batches.
fn build_tree(conn: &mut DbConnection, size: u64) -> Frontier {
    let mut frontier = Frontier::new();
    let mut nodes: Vec<(NodeId, Hash)> = Vec::with_capacity(40_000);
    for i in 0..size {
        let mut leaf = [0u8; 32];
        leaf[..8].copy_from_slice(&i.to_be_bytes());
        nodes.extend(frontier.push(leaf).expect("push"));
        if nodes.len() >= 40_000 {
            diesel::Connection::transaction(conn, |c| tree::insert_nodes(c, &nodes))
                .expect("insert");
            nodes.clear();
        }
    }
    diesel::Connection::transaction(conn, |c| tree::insert_nodes(c, &nodes)).expect("insert");
    frontier
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn bench_proofs(size: u64) {
    let db = TestDatabase::sqlite();
    let database = db.open().expect("open");
    let mut conn = database.dedicated_connection().expect("conn");
    pedigree_ledger::db::run_pending_migrations(&mut conn).expect("migrate");
    let built = Instant::now();
    let frontier = build_tree(&mut conn, size);
    let build_time = built.elapsed();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    for _ in 0..500 {
        let index = next() % size;
        let started = Instant::now();
        let proof = tree::inclusion_proof(&mut conn, index, size).expect("proof");
        inclusion.push(started.elapsed());
        assert!(!proof.is_empty() || size == 1);
        let old = 1 + next() % size;
        let started = Instant::now();
        tree::consistency_proof(&mut conn, old, size).expect("proof");
        consistency.push(started.elapsed());
    }
    assert_eq!(tree::root(&mut conn, size).expect("root"), frontier.root());
    report(
        "inclusion proof, median of 500",
        &format!("SQLite, {size} entries"),
        format!("{:.3} ms", median(inclusion).as_secs_f64() * 1e3),
    );
    report(
        "consistency proof, median of 500",
        &format!("SQLite, {size} entries"),
        format!("{:.3} ms", median(consistency).as_secs_f64() * 1e3),
    );
    report(
        "tree build (append path of the tree only)",
        &format!("SQLite, {size} entries"),
        format!("{:.0} leaves/s", size as f64 / build_time.as_secs_f64()),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks benchmarks.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    println!("{:<44} {:<40} result", "benchmark", "setting");
    if wanted("library") {
        bench_library_append(50_000);
    }
    if wanted("http") {
        bench_http_append(20_000, 4);
    }
    if wanted("commission") {
        bench_commission(1_000_000);
    }
    if wanted("proofs") {
        bench_proofs(10_000);
        bench_proofs(1_000_000);
        if std::env::var_os("PEDIGREE_BENCH_10M").is_some() {
            bench_proofs(10_000_000);
        }
    }
}
