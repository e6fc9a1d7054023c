//! Crash safety of the ledger: `pedigree ledger` runs as a real child process on a real
//! database while several clients send a supply chain's signed events over HTTP; it is killed
//! with SIGKILL at a random (seeded) moment and restarted on the same database, again and
//! again. After every restart:
//!
//! - the latest checkpoint extends the last one any client was given (consistency proof), so
//!   the log neither shrank nor forked;
//! - every event acknowledged since the previous restart is at the same leaf index with the
//!   same leaf hash (inclusion proof against the new checkpoint); earlier ones follow from the
//!   chain of consistency proofs, and all of them are compared again at the end;
//! - no partial entry exists: entries, items, history, tree nodes and the latest checkpoint
//!   describe the same log (and every `PEDIGREE_CRASH_AUDIT_EVERY` restarts, and at the end
//!   with `pedigree audit`, the whole log is replayed);
//! - the events that were in flight when the ledger died are sent again and accepted once:
//!   those the ledger had committed come back with their existing index.
//!
//! `PEDIGREE_CRASH_KILLS` (default 200) and `PEDIGREE_CRASH_PG_KILLS` (default 20) set the
//! number of kills, `PEDIGREE_CRASH_SEED` the seed (`scripts/crash-soak.sh` runs thousands).

mod crash_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crash_support::*;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::EventId;
use pedigree_schema::merkle::Hash;
use pedigree_schema::note::NoteVerifier;
use pedigree_testkit::{Backend, Network, Outcome};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Clients sending at once.
const CLIENTS: u32 = 4;
/// The longest a ledger runs under load before it is killed.
const MAX_KILL_DELAY_MS: u64 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_loses_no_acknowledged_event_across_random_kills_on_sqlite() {
    let dir = temp_dir("crash-ledger-sqlite");
    let url = dir.join("ledger.sqlite").display().to_string();
    crash_and_check(&dir, &url, env_count("PEDIGREE_CRASH_KILLS", 200)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_loses_no_acknowledged_event_across_random_kills_on_postgres() {
    if !Backend::postgres_is_configured() {
        return;
    }
    let dir = temp_dir("crash-ledger-postgres");
    let db = TestDatabase::postgres().expect("PostgreSQL is configured");
    crash_and_check(
        &dir,
        db.url().as_str(),
        env_count("PEDIGREE_CRASH_PG_KILLS", 20),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// An acknowledged event: where its receipt put it.
#[derive(Clone)]
struct Ack {
    index: u64,
    leaf_hash: Hash,
    event_id: EventId,
    checkpoint: SignedCheckpoint,
}

/// What one client did between a start and a kill.
struct Burst {
    work: Workload,
    acks: Vec<Ack>,
    /// Events in flight that the ledger had already committed, sent again and answered with
    /// their existing index.
    resent_committed: u64,
    /// Events in flight that the ledger had not committed, sent again and appended.
    resent_new: u64,
}

/// What the whole run saw, for the summary.
#[derive(Default)]
struct Figures {
    kills: u64,
    acknowledged: u64,
    resent_committed: u64,
    resent_new: u64,
    audits: u64,
}

async fn crash_and_check(dir: &std::path::Path, database_url: &str, kills: u64) {
    let seed = env_count("PEDIGREE_CRASH_SEED", 9);
    let audit_every = env_count("PEDIGREE_CRASH_AUDIT_EVERY", 50).max(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let net = Arc::new(Network::new());
    let files = LedgerFiles::new(&net, dir, database_url);
    let http = http_client();
    let started = Instant::now();

    let mut ledger = files.start(0);
    let genesis = net.genesis();
    let outcomes = post_events(&http, &ledger.base, &genesis)
        .await
        .expect("genesis is accepted");
    let mut all: BTreeMap<u64, Ack> = BTreeMap::new();
    let mut trusted = None;
    for (event, outcome) in genesis.iter().zip(&outcomes) {
        let ack = acknowledge(&files.verifier, event, outcome).expect("genesis is accepted");
        trusted = newest(trusted, &ack.checkpoint);
        all.insert(ack.index, ack);
    }
    let mut clients: Vec<Workload> = (0..CLIENTS).map(Workload::new).collect();
    let mut figures = Figures::default();

    for cycle in 0..kills {
        // Load, then SIGKILL at a random moment.
        let delay = Duration::from_millis(rng.gen_range(0..=MAX_KILL_DELAY_MS));
        let bursts: Vec<_> = clients
            .drain(..)
            .map(|work| tokio::spawn(burst(net.clone(), http.clone(), ledger.base.clone(), work)))
            .collect();
        tokio::time::sleep(delay).await;
        ledger.kill();
        figures.kills += 1;
        let mut cycle_acks = Vec::new();
        for burst in bursts {
            let burst = burst.await.expect("a client task");
            figures.resent_committed += burst.resent_committed;
            figures.resent_new += burst.resent_new;
            cycle_acks.extend(burst.acks);
            clients.push(burst.work);
        }
        figures.acknowledged += cycle_acks.len() as u64;

        // Restart on the same database and check what survived.
        ledger = files.start(0);
        let checkpoint = latest_checkpoint(&http, &ledger.base, &files.verifier).await;
        for ack in &cycle_acks {
            trusted = newest(trusted, &ack.checkpoint);
        }
        let trusted_now = trusted.as_ref().expect("genesis was acknowledged");
        assert_consistent(&http, &ledger.base, trusted_now, &checkpoint).await;
        for ack in &cycle_acks {
            assert_included(&http, &ledger.base, ack.index, &ack.leaf_hash, &checkpoint).await;
            let previous = all.insert(ack.index, ack.clone());
            assert!(previous.is_none(), "two receipts for entry {}", ack.index);
        }
        let mut conn = files.connect();
        assert_no_partial_entry(&mut conn, checkpoint.checkpoint().size());
        // Where the events in flight are now: resending must agree.
        for work in &mut clients {
            let Some(unacknowledged) = work.unacknowledged() else {
                continue;
            };
            work.expected = unacknowledged
                .iter()
                .map(|e| stored_index(&mut conn, &e.signed.id().expect("an event id")))
                .collect();
        }
        if (cycle + 1) % audit_every == 0 {
            let report = pedigree_ledger::audit::audit(
                &mut conn,
                &files.verifier,
                net.governance.public_key(),
                dir,
            )
            .expect("the audit runs");
            assert!(
                report.is_clean(),
                "after kill {}: {:#?}",
                cycle + 1,
                report.findings
            );
            figures.audits += 1;
        }
        trusted = Some(checkpoint);
    }

    // The last restart's ledger takes what was in flight, then the whole log is checked.
    let bursts: Vec<_> = clients
        .drain(..)
        .map(|work| tokio::spawn(settle(net.clone(), http.clone(), ledger.base.clone(), work)))
        .collect();
    for burst in bursts {
        let burst = burst.await.expect("a client task");
        figures.resent_committed += burst.resent_committed;
        figures.resent_new += burst.resent_new;
        for ack in burst.acks {
            all.insert(ack.index, ack);
        }
    }
    let size = latest_checkpoint(&http, &ledger.base, &files.verifier)
        .await
        .checkpoint()
        .size();
    ledger.kill();
    let mut conn = files.connect();
    assert_no_partial_entry(&mut conn, size);
    for (index, ack) in &all {
        assert_eq!(
            stored_index(&mut conn, &ack.event_id),
            Some(*index),
            "acknowledged event {} moved or vanished",
            ack.event_id
        );
    }
    let audit = files.audit_with_the_command();
    println!(
        "crash harness ({}): seed {seed}, {} kills, {} events acknowledged during the bursts; \
         in flight at a kill: {} already committed (resent: same index), {} not committed \
         (resent: appended); {} library audits + pedigree audit clean; final log {size} \
         entries; {:.1} s\n{audit}",
        if database_url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        figures.kills,
        figures.acknowledged,
        figures.resent_committed,
        figures.resent_new,
        figures.audits,
        started.elapsed().as_secs_f64(),
    );
}

/// The newer of two checkpoints.
fn newest(current: Option<SignedCheckpoint>, seen: &SignedCheckpoint) -> Option<SignedCheckpoint> {
    match current {
        Some(c) if c.checkpoint().size() >= seen.checkpoint().size() => Some(c),
        _ => Some(seen.clone()),
    }
}

/// The acknowledgement in an outcome, its receipt verified against the event's bytes under
/// the log key; `None` for a rejection.
fn acknowledge(
    log: &NoteVerifier,
    event: &pedigree_schema::event::EventSubmission,
    outcome: &Outcome,
) -> Option<Ack> {
    let Outcome::Accepted { receipt } = outcome else {
        return None;
    };
    let entry = event.signed.entry_bytes().expect("entry bytes");
    let checkpoint = receipt
        .verify(log, &entry)
        .unwrap_or_else(|e| panic!("receipt {} does not verify: {e}", receipt.index));
    assert_eq!(receipt.event_id, event.signed.id().expect("an event id"));
    Some(Ack {
        index: receipt.index,
        leaf_hash: receipt.leaf_hash,
        event_id: receipt.event_id,
        checkpoint,
    })
}

/// Sends the client's stream until the ledger stops answering (it was killed).
async fn burst(net: Arc<Network>, http: reqwest::Client, base: String, work: Workload) -> Burst {
    send(net, http, base, work, usize::MAX).await
}

/// Sends whatever the client has in flight, and nothing more.
async fn settle(net: Arc<Network>, http: reqwest::Client, base: String, work: Workload) -> Burst {
    let requests = usize::from(work.unacknowledged().is_some());
    send(net, http, base, work, requests).await
}

async fn send(
    net: Arc<Network>,
    http: reqwest::Client,
    base: String,
    mut work: Workload,
    requests: usize,
) -> Burst {
    let verifier = net.log_verifier();
    let (mut acks, mut resent_committed, mut resent_new) = (Vec::new(), 0, 0);
    for _ in 0..requests {
        let events = work.pending(&net).to_vec();
        let outcomes = match post_events(&http, &base, &events).await {
            Ok(outcomes) => outcomes,
            Err(Failure::Unreachable(_)) => break,
            Err(Failure::Unexpected(answer)) => panic!("the ledger answered {answer}"),
        };
        let expected = std::mem::take(&mut work.expected);
        for (i, (event, outcome)) in events.iter().zip(&outcomes).enumerate() {
            let ack = acknowledge(&verifier, event, outcome).unwrap_or_else(|| {
                panic!(
                    "{} was rejected: {outcome:?}",
                    event.signed.event.body.kind()
                )
            });
            match expected.get(i) {
                Some(Some(index)) => {
                    assert_eq!(ack.index, *index, "a committed event resent");
                    resent_committed += 1;
                }
                Some(None) => resent_new += 1,
                None => {}
            }
            acks.push(ack);
        }
        work.acknowledged();
    }
    Burst {
        work,
        acks,
        resent_committed,
        resent_new,
    }
}
