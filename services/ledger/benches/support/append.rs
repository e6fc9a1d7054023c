//! Write-path benchmarks: appends (library and HTTP), aggregated
//! shipments, commissioning, and appends into a log that is already large.

use std::time::Instant;

use chrono::Utc;
use diesel::prelude::*;
use pedigree_ledger::db::schema::checkpoints;
use pedigree_ledger::db::DbConnection;
use pedigree_ledger::log::{CheckpointRow, MAX_BOUND_PARAMETERS};
use pedigree_ledger::tree;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::{EventBody, EventSubmission, Item, Timestamp};
use pedigree_schema::merkle::{Hash, NodeId};

use crate::support::fixtures::*;

/// Signed verifications appended through the library (prepare, then the
/// writer's durable commit), in batches; then the database's size per event.
pub fn library(backend: &str, count: usize) {
    let Some(db) = scratch_database(backend) else {
        return;
    };
    let p = parties();
    let start = Utc::now() - chrono::Duration::minutes(5);
    let (database, mut appender) = ledger_with_genesis(&db, &p, start);
    let events = verifications(&p, count, start, |i| format!("V{i:09}"));
    let (preparing, appending) = append_timed(&mut appender, events, 5_000);
    let name = backend_name(&db);
    let per_event = |d: std::time::Duration| d.as_secs_f64() * 1e6 / count as f64;
    report(
        "append, library path (prepare + durable commit)",
        &format!("{name}, {count} verify events, batches of 5000"),
        format!(
            "{:.0} events/s",
            count as f64 / (preparing + appending).as_secs_f64()
        ),
    );
    report(
        "  of which prepare (all cores) / append (writer)",
        "µs per event, wall clock",
        format!(
            "{:.1} / {:.1} µs",
            per_event(preparing),
            per_event(appending)
        ),
    );
    let overlapped = verifications(&p, count, start, |i| format!("W{i:09}"));
    let elapsed = append_pipelined(&mut appender, overlapped, 5_000);
    report(
        "append, library path, prepare overlapping append",
        &format!("{name}, {count} more verify events, batches of 5000"),
        format!("{:.0} events/s", count as f64 / elapsed.as_secs_f64()),
    );
    drop(appender);
    let mut conn = database.dedicated_connection().expect("conn");
    let bytes = database_bytes(&db, &mut conn);
    report(
        "storage per event (whole database / events)",
        &format!("{name}, {} verify events", 2 * count),
        format!("{:.0} bytes", bytes as f64 / (2 * count + 5) as f64),
    );
}

/// Signed verifications posted by concurrent clients in requests of 1000.
pub fn http(backend: &str, count: usize, clients: usize) {
    let Some(db) = scratch_database(backend) else {
        return;
    };
    let p = parties();
    let (runtime, base) = http_ledger(&db, &p);
    let elapsed = runtime.block_on(async {
        let client = reqwest::Client::new();
        let start = Utc::now() - chrono::Duration::minutes(5);
        post_events(&client, &base, genesis(&p, start)).await;
        // Pharmacies verify the packs on their shelves: a verification of an
        // unknown serial is an alert (a durable write), not the everyday load.
        post_events(&client, &base, stock_pharmacy(&p, count, start)).await;
        let events = verifications(&p, count, start, shelf_serial);
        let mut batches = events
            .chunks(1_000)
            .map(<[_]>::to_vec)
            .collect::<Vec<_>>()
            .into_iter();
        let started = Instant::now();
        loop {
            let round: Vec<_> = batches
                .by_ref()
                .take(clients)
                .map(|batch| {
                    let (client, base) = (client.clone(), base.clone());
                    tokio::spawn(async move { post_events(&client, &base, batch).await })
                })
                .collect();
            if round.is_empty() {
                break;
            }
            for task in round {
                task.await.expect("client");
            }
        }
        started.elapsed()
    });
    report(
        "append over HTTP",
        &format!(
            "{}, {count} verify events of stocked packs, {clients} clients x 1000",
            backend_name(&db)
        ),
        format!("{:.0} events/s", count as f64 / elapsed.as_secs_f64()),
    );
}

/// Cases of `per_case` packs shipped and received in shipments of
/// `cases_per_shipment` cases: each pack moved counts as one operation.
pub fn aggregated_shipments(
    backend: &str,
    cases: usize,
    per_case: usize,
    cases_per_shipment: usize,
) {
    let Some(db) = scratch_database(backend) else {
        return;
    };
    let p = parties();
    let start = Utc::now() - chrono::Duration::minutes(5);
    let (_database, mut appender) = ledger_with_genesis(&db, &p, start);
    let serials: Vec<String> = (0..cases * per_case).map(|i| format!("A{i:011}")).collect();
    append_all(
        &mut appender,
        vec![commission(&p, serials.clone(), at(start, 30, 0))],
        1,
    );
    let packing: Vec<EventSubmission> = serials
        .chunks(per_case)
        .enumerate()
        .map(|(c, chunk)| {
            let items = pedigree_schema::event::canonical_item_order(
                chunk
                    .iter()
                    .map(|s| Item::Pack(pack(s)).to_string())
                    .collect(),
            );
            submission(
                &p.maker,
                at(start, 40, c as i64),
                EventBody::Aggregate {
                    case: sscc(c as u64),
                    contents: pedigree_schema::event::ItemSetRef::commit(&items),
                },
                Some(items),
            )
        })
        .collect();
    append_all(&mut appender, packing, 1_000);
    let case_items: Vec<Item> = (0..cases as u64).map(|c| Item::Case(sscc(c))).collect();
    let (ships, receives): (Vec<_>, Vec<_>) = case_items
        .chunks(cases_per_shipment)
        .enumerate()
        .map(|(n, chunk)| {
            ship_and_receive(
                &p,
                &format!("SH{n}"),
                chunk.to_vec(),
                at(start, 50, n as i64),
            )
        })
        .unzip();
    let elapsed =
        append_all(&mut appender, ships, 1_000) + append_all(&mut appender, receives, 1_000);
    let operations = 2 * cases * per_case;
    report(
        "pack operations, aggregated shipments",
        &format!(
            "{}, {cases} cases x {per_case} packs, {cases_per_shipment} cases/shipment, ship+receive",
            backend_name(&db)
        ),
        format!("{:.0} pack ops/s", operations as f64 / elapsed.as_secs_f64()),
    );
}

/// One event commissioning `serials` serials.
pub fn commission_serials(serials: usize) {
    let db = pedigree_ledger::db::testing::TestDatabase::sqlite();
    let p = parties();
    let start = Utc::now() - chrono::Duration::minutes(5);
    let (_database, mut appender) = ledger_with_genesis(&db, &p, start);
    let event = commission(
        &p,
        (0..serials).map(|i| format!("C{i:012}")).collect(),
        at(start, 30, 0),
    );
    let elapsed = append_all(&mut appender, vec![event], 1);
    report(
        "commission serials in one event",
        &format!("SQLite, {serials} serials"),
        format!("{:.2} s", elapsed.as_secs_f64()),
    );
}

/// Which packs the verifications appended into a large log name.
#[derive(Clone, Copy)]
pub enum Packs {
    /// Serials adjacent in key order, as when a new batch reaches the
    /// shelves: the history index takes their rows at one place.
    Adjacent,
    /// Serials scattered over the key space of the padding's packs, as when
    /// packs of every batch ever made are verified: each event's history row
    /// lands on an index page of its own.
    Scattered,
}

impl Packs {
    fn serial(self, i: usize) -> String {
        match self {
            Packs::Adjacent => format!("S{i:09}"),
            // 12 hex digits, like the padding's serials (SplitMix64 spreads them).
            Packs::Scattered => {
                let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                format!("{:012X}", (z ^ (z >> 31)) >> 16)
            }
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Packs::Adjacent => "packs adjacent in key order",
            Packs::Scattered => "packs scattered over the history",
        }
    }

    fn plot_series(self) -> &'static str {
        match self {
            Packs::Adjacent => "append",
            Packs::Scattered => "append-scattered",
        }
    }
}

/// Appends `count` verifications to a SQLite log already holding `size`
/// entries. The padding entries are synthetic rows (random ids, times
/// increasing with the index and ending before the appended events, bytes
/// of a typical entry's size, one history row each for a pack with a random
/// serial, a consistent tree and a signed checkpoint over it): they cost
/// what real entries cost in the indexes the append path writes to, without
/// signing millions of events.
pub fn append_at_size(size: u64, count: usize, packs: Packs) {
    let db = pedigree_ledger::db::testing::TestDatabase::sqlite();
    let p = parties();
    let start = Utc::now() - chrono::Duration::minutes(5);
    let (database, appender) = ledger_with_genesis(&db, &p, start);
    let previous = appender
        .latest_checkpoint()
        .expect("genesis checkpoint")
        .clone();
    drop(appender);
    let built = Instant::now();
    let mut conn = database.dedicated_connection().expect("conn");
    pad_log(&mut conn, &previous, size, Timestamp::from(start));
    let build_time = built.elapsed();
    drop(conn);
    let mut appender = open_appender(&database, &p);
    assert_eq!(appender.size(), size);
    let events = verifications(&p, count, start, |i| packs.serial(i));
    let elapsed = append_all(&mut appender, events, 5_000);
    let rate = count as f64 / elapsed.as_secs_f64();
    report(
        "append, library path, into a log of given size",
        &format!(
            "SQLite, {size} entries, {count} verify events of {} (padding built in {:.0} s)",
            packs.describe(),
            build_time.as_secs_f64()
        ),
        format!("{rate:.0} events/s"),
    );
    plot_point(packs.plot_series(), size, rate);
}

/// Extends the log from its genesis entries to `size` entries of padding,
/// dated one microsecond apart up to `before`.
fn pad_log(conn: &mut DbConnection, previous: &SignedCheckpoint, size: u64, before: Timestamp) {
    let first_time = before.unix_micros() - size as i64;
    let first = previous.checkpoint().size();
    let mut frontier = tree::load_frontier(conn, first).expect("frontier");
    let mut next = first;
    let per_statement = (MAX_BOUND_PARAMETERS / 7) as u64;
    while next < size {
        let end = (next + 100_000).min(size);
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            let mut nodes: Vec<(NodeId, Hash)> = Vec::new();
            for i in next..end {
                let mut leaf = [0u8; 32];
                leaf[..8].copy_from_slice(&i.to_be_bytes());
                nodes.extend(frontier.push(leaf).expect("push"));
            }
            tree::insert_nodes(c, &nodes)?;
            let mut from = next;
            while from < end {
                let to = (from + per_statement).min(end);
                diesel::sql_query(format!(
                    "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {to}) \
                     INSERT INTO log_entries (idx, event_id, leaf_hash, kind, actor, event_time, entry) \
                     SELECT i, randomblob(32), randomblob(32), 'verify', '4000000000026', {first_time} + i, randomblob(420) FROM n"
                ))
                .execute(c)?;
                diesel::sql_query(format!(
                    "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {to}) \
                     INSERT INTO item_history (item, entry_idx) \
                     SELECT '(01){GTIN}(21)' || hex(randomblob(6)), i FROM n"
                ))
                .execute(c)?;
                from = to;
            }
            Ok(())
        })
        .expect("pad the log");
        next = end;
    }
    let body = previous
        .checkpoint()
        .successor(size, frontier.root())
        .expect("successor");
    let signed = SignedCheckpoint::sign(body, &identity().signer).expect("sign");
    diesel::insert_into(checkpoints::table)
        .values(CheckpointRow {
            tree_size: size as i64,
            root_hash: frontier.root().to_vec(),
            body_hash: signed.checkpoint().body_hash().to_vec(),
            note: signed.to_string(),
            issued_at: Timestamp::now().unix_micros(),
        })
        .execute(conn)
        .expect("checkpoint");
}
