//! Crash safety of a party service and its outbox: `pedigree manufacturer` runs as a real
//! child process on a SQLite file, delivering to a real `pedigree ledger` process, while
//! operators register products and batches over HTTP from several clients; it is killed with
//! SIGKILL at random (seeded) moments and restarted on the same database. In the end every
//! operation the service acknowledged (answered 201 with its outbox items) is in the log
//! exactly once, by event id, and the log holds nothing of the manufacturer's that the
//! service did not store.
//!
//! `PEDIGREE_CRASH_PARTY_KILLS` (default 30) sets the number of kills.

mod crash_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crash_support::*;
use diesel::prelude::*;
use pedigree_party::db::schema::outbox;
use pedigree_schema::event::EventId;
use pedigree_testkit::Network;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CLIENTS: u32 = 3;
const MAX_KILL_DELAY_MS: u64 = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_a_killed_party_service_acknowledged_lands_exactly_once() {
    let kills = env_count("PEDIGREE_CRASH_PARTY_KILLS", 30);
    let mut rng = StdRng::seed_from_u64(env_count("PEDIGREE_CRASH_SEED", 9));
    let dir = temp_dir("crash-party");
    let net = Network::new();
    let setup = ManufacturerSetup::start(&net, &dir, 0, 200).await;
    let (ledger_files, ledger, party) = (setup.ledger_files, setup.ledger, setup.party);
    let token = Arc::new(setup.token);
    let http = http_client();
    let started = Instant::now();

    let mut next = vec![0u64; CLIENTS as usize];
    let mut acknowledged: Vec<EventId> = Vec::new();
    for _ in 0..kills {
        let service = party.start();
        let runs: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (http, base, token) = (http.clone(), service.base.clone(), token.clone());
                let first = next[client as usize];
                tokio::spawn(operate(http, base, token, client, first))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=MAX_KILL_DELAY_MS))).await;
        service.kill();
        for (client, run) in runs.into_iter().enumerate() {
            let (done, ids) = run.await.expect("a client task");
            // An operation cut off by the kill is not retried: a new number is used, so an
            // operation stored without an answer stays what it is (stored, delivered) and the
            // retry is not refused as a duplicate product.
            next[client] = done + 1;
            acknowledged.extend(ids);
        }
    }

    // Restarted once more, the service drains its outbox.
    let service = party.start();
    let mut party_db = {
        let url = pedigree_party::db::DatabaseUrl::parse(&party.database_url).expect("a URL");
        pedigree_party::db::DbConnection::open(&url).expect("the party's database")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending: i64 = outbox::table
            .filter(outbox::status.eq("pending"))
            .count()
            .get_result(&mut party_db)
            .expect("count pending");
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} outbox items still pending"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored: Vec<(Vec<u8>, String)> = outbox::table
        .select((outbox::event_id, outbox::status))
        .load(&mut party_db)
        .expect("the outbox");
    let not_accepted: Vec<_> = stored.iter().filter(|(_, s)| s != "accepted").collect();
    assert!(
        not_accepted.is_empty(),
        "{} items not accepted",
        not_accepted.len()
    );
    let stored: HashSet<Vec<u8>> = stored.into_iter().map(|(id, _)| id).collect();
    service.kill();

    let mut ledger_db = ledger_files.connect();
    let logged = event_ids_by(&mut ledger_db, net.manufacturer.gln.as_str());
    for id in &acknowledged {
        assert!(
            logged.contains(id.0.as_slice()),
            "acknowledged operation {id} is not in the log"
        );
    }
    assert_eq!(
        logged, stored,
        "the log holds the manufacturer's stored operations, each once, and nothing else"
    );
    ledger.kill();
    ledger_files.audit_with_the_command();
    println!(
        "party crash harness: {kills} kills, {} events acknowledged by the service, {} stored \
         in its outbox ({} of them stored but cut off before their answer), all in the log \
         exactly once; {:.1} s",
        acknowledged.len(),
        stored.len(),
        stored.len() - acknowledged.len(),
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Registers products and their batches from number `first` on until the service stops
/// answering; returns the number of the operation cut off and the event ids acknowledged.
async fn operate(
    http: reqwest::Client,
    base: String,
    token: Arc<String>,
    client: u32,
    first: u64,
) -> (u64, Vec<EventId>) {
    let mut acknowledged = Vec::new();
    let mut n = first;
    loop {
        for (path, body) in party_operations(client, n) {
            let request = http
                .post(format!("{base}{path}"))
                .bearer_auth(token.as_str())
                .json(&body);
            match json_answer(request).await {
                Ok(answer) => acknowledged.extend(outbox_event_ids(&answer)),
                Err(Failure::Unreachable(_)) => return (n, acknowledged),
                Err(Failure::Unexpected(answer)) => {
                    panic!("the party service answered {path} #{n} with {answer}")
                }
            }
        }
        n += 1;
    }
}
