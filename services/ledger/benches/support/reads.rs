//! Read-path benchmarks: verification latency with the risk classifier on,
//! the database side of risk scoring, and proofs against log size.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::db::DbConnection;
use pedigree_ledger::risk::{PartyRows, RiskEngine, Verification};
use pedigree_ledger::{queries, tree};
use pedigree_schema::merkle::{Frontier, Hash, NodeId};
use pedigree_schema::request_auth::SignedRequest;

use crate::support::fixtures::*;

/// A verification as the pharmacy asks it: the pack's status with a signed
/// request, which the ledger scores for counterfeit risk before answering.
async fn verify_once(client: &reqwest::Client, base: &str, p: &Parties, serial: &str) {
    let path = format!("/v1/packs/{GTIN}/{serial}");
    let signed = SignedRequest::sign(&p.pharmacy.1, "GET", &path, b"", Utc::now().timestamp());
    let mut request = client.get(format!("{base}{path}"));
    for (name, value) in signed.headers() {
        request = request.header(name, value);
    }
    let answer = request.send().await.expect("GET status");
    assert!(answer.status().is_success(), "status {}", answer.status());
    let body: serde_json::Value = answer.json().await.expect("json");
    assert!(
        body["risk"].is_object(),
        "the classifier must score: {body}"
    );
}

/// `total` verifications by `concurrency` clients; with `rate`, request
/// `i` is due at `i / rate` seconds and its latency counts from then (so a
/// slow server cannot hide queueing), otherwise as fast as answered.
async fn verification_load(
    base: &str,
    p: Arc<Parties>,
    packs: usize,
    total: usize,
    concurrency: usize,
    rate: Option<f64>,
) -> (Vec<Duration>, Duration) {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let started = tokio::time::Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, base, p, next) =
                (client.clone(), base.to_string(), p.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return latencies;
                    }
                    let due = match rate {
                        Some(rate) => {
                            let due = started + Duration::from_secs_f64(i as f64 / rate);
                            tokio::time::sleep_until(due).await;
                            due
                        }
                        None => tokio::time::Instant::now(),
                    };
                    let serial = shelf_serial((i * 7919 + w) % packs);
                    verify_once(&client, &base, &p, &serial).await;
                    latencies.push(due.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    for worker in workers {
        latencies.extend(worker.await.expect("client"));
    }
    (latencies, started.elapsed())
}

/// Verification latency at `concurrency`, at a fixed offered rate and at
/// the most the server answers.
pub fn verification_latency(packs: usize, concurrency: usize, rate: f64, seconds: u64) {
    let db = TestDatabase::sqlite();
    let p = Arc::new(parties());
    let (runtime, base) = http_ledger(&db, &p);
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let start = Utc::now() - chrono::Duration::minutes(5);
        post_events(&client, &base, genesis(&p, start)).await;
        post_events(&client, &base, stock_pharmacy(&p, packs, start)).await;
        let total = (rate * seconds as f64) as usize;
        let (latencies, elapsed) =
            verification_load(&base, p.clone(), packs, total, concurrency, Some(rate)).await;
        let (p50, p99) = percentiles(latencies);
        report(
            "verification latency p50 / p99 (risk scored)",
            &format!("SQLite, signed GET status, {concurrency} clients, offered {rate:.0}/s for {seconds} s"),
            format!("{} / {}", ms(p50), ms(p99)),
        );
        report(
            "  achieved rate",
            &format!("{total} verifications"),
            format!("{:.0} /s", total as f64 / elapsed.as_secs_f64()),
        );
        let total = 10_000;
        let (latencies, elapsed) =
            verification_load(&base, p.clone(), packs, total, concurrency, None).await;
        let (p50, p99) = percentiles(latencies);
        report(
            "verification latency p50 / p99 at the maximum",
            &format!("SQLite, signed GET status, {concurrency} clients, {total} verifications"),
            format!("{} / {}", ms(p50), ms(p99)),
        );
        report(
            "  maximum rate",
            &format!("{concurrency} clients, closed loop"),
            format!("{:.0} /s", total as f64 / elapsed.as_secs_f64()),
        );
    });
}

/// What risk scoring adds to a verification on the database side: the
/// pack's status alone, then the status plus feature extraction from the
/// stored history and scoring (the signed-status path does both).
pub fn scoring_cost(packs: usize, samples: usize) {
    let db = TestDatabase::sqlite();
    let p = parties();
    let start = Utc::now() - chrono::Duration::minutes(5);
    let (database, mut appender) = ledger_with_genesis(&db, &p, start);
    append_all(&mut appender, stock_pharmacy(&p, packs, start), 100);
    drop(appender);
    let mut conn = database.dedicated_connection().expect("conn");
    let engine = RiskEngine::new(pedigree_risk::Scorer::shipped().expect("model"));
    let today = Utc::now().date_naive();
    let party = p.pharmacy.0.to_string();
    let run = |conn: &mut DbConnection, score: bool| {
        let started = Instant::now();
        for i in 0..samples {
            let id = pack(&shelf_serial((i * 7919) % packs));
            let (status, facts) =
                queries::pack_status_with_facts(conn, &id, None, None, today).expect("status");
            if score {
                let scan = Verification {
                    pack: &id,
                    party: &party,
                    time: Utc::now().timestamp_micros(),
                    before_idx: None,
                    code_mismatch: false,
                    scanned_lot: None,
                    today,
                };
                let risk = engine
                    .assess(
                        conn,
                        &scan,
                        &facts,
                        &mut PartyRows::default(),
                        &mut Vec::new(),
                    )
                    .expect("assess");
                assert!(risk.is_some() && status.status != "unknown");
            }
        }
        started.elapsed().as_secs_f64() * 1e6 / samples as f64
    };
    run(&mut conn, true); // warm the page cache and the statement cache
    let status_only = run(&mut conn, false);
    let with_risk = run(&mut conn, true);
    report(
        "risk scoring added per verification (DB side)",
        &format!("SQLite, {samples} packs with 3-event histories, one connection"),
        format!(
            "{:.1} µs (status {status_only:.1} µs → {with_risk:.1} µs)",
            with_risk - status_only
        ),
    );
    // Each statement outside a transaction is its own read transaction
    // (file locks, WAL index); the same work inside one shows what that costs.
    let in_one = |conn: &mut DbConnection, score: bool| {
        diesel::Connection::transaction::<_, diesel::result::Error, _>(conn, |c| Ok(run(c, score)))
            .expect("read transaction")
    };
    let status_only = in_one(&mut conn, false);
    let with_risk = in_one(&mut conn, true);
    report(
        "  the same inside one read transaction",
        &format!("SQLite, {samples} packs"),
        format!(
            "{:.1} µs (status {status_only:.1} µs → {with_risk:.1} µs)",
            with_risk - status_only
        ),
    );
}

/// Fills `tree_nodes` for a tree of `size` synthetic leaves, in batches.
fn build_tree(conn: &mut DbConnection, size: u64) -> Frontier {
    let mut frontier = Frontier::new();
    let mut nodes: Vec<(NodeId, Hash)> = Vec::with_capacity(200_000);
    for i in 0..size {
        let mut leaf = [0u8; 32];
        leaf[..8].copy_from_slice(&i.to_be_bytes());
        nodes.extend(frontier.push(leaf).expect("push"));
        if nodes.len() >= 200_000 {
            diesel::Connection::transaction(conn, |c| tree::insert_nodes(c, &nodes))
                .expect("insert");
            nodes.clear();
        }
    }
    diesel::Connection::transaction(conn, |c| tree::insert_nodes(c, &nodes)).expect("insert");
    frontier
}

/// Median inclusion and consistency proof times over a tree of `size`.
pub fn proofs(size: u64) {
    let db = TestDatabase::sqlite();
    let database = open(&db);
    let mut conn = database.dedicated_connection().expect("conn");
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
    let (inclusion, _) = percentiles(inclusion);
    let (consistency, _) = percentiles(consistency);
    report(
        "inclusion proof, median of 500",
        &format!("SQLite, {size} entries"),
        ms(inclusion),
    );
    report(
        "consistency proof, median of 500",
        &format!("SQLite, {size} entries"),
        ms(consistency),
    );
    report(
        "tree build (the tree's append path only)",
        &format!("SQLite, {size} entries"),
        format!("{:.0} leaves/s", size as f64 / build_time.as_secs_f64()),
    );
    plot_point("inclusion", size, inclusion.as_secs_f64() * 1e3);
    plot_point("consistency", size, consistency.as_secs_f64() * 1e3);
}
