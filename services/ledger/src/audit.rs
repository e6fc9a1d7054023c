//! `pedigree audit`: trust nothing stored, recompute everything.
//!
//! 1. Every checkpoint's signature (log key) and chain link (`pedigree-prev`).
//! 2. Every entry: contiguous index, canonical bytes, strict signature,
//!    event id, leaf hash and the indexed columns; the tree recomputed
//!    leaf by leaf, each completed node compared with the stored one, and the
//!    root compared with every checkpoint on the way.
//! 3. The state replayed from genesis through the same custody rules
//!    ([`crate::custody::apply`]) into a scratch SQLite database, then
//!    compared table by table with the stored state.
//!
//! The report names the first entry (or row) that disagrees.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::prelude::*;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::{EventSubmission, SignedEvent};
use pedigree_schema::keys::PublicKey;
use pedigree_schema::merkle::{self, Frontier, NodeId};
use pedigree_schema::note::NoteVerifier;
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::custody::{self, ApplyError, AuthCache, BatchRow, CaseRow, PackRow, RuleContext};
use crate::db::schema::{
    checkpoints, event_items, item_history, log_entries, parties, party_keys, products,
    shipment_discrepancies, shipments, tree_nodes,
};
use crate::db::{DbConnection, DbError};
use crate::tree;

/// Entries read and replayed per transaction.
const CHUNK: i64 = 2_000;

/// One thing the audit found wrong.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// The log entry concerned, when one is.
    pub entry: Option<u64>,
    pub problem: String,
}

/// The audit's result. `findings` is empty when everything checks out.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    pub checkpoints: u64,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// The first entry that disagrees, if any.
    pub fn first_bad_entry(&self) -> Option<u64> {
        self.findings.iter().filter_map(|f| f.entry).min()
    }
}

/// Why the audit could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("scratch database: {0}")]
    Scratch(String),
}

fn finding(entry: Option<u64>, problem: impl Into<String>) -> Finding {
    Finding {
        entry,
        problem: problem.into(),
    }
}

/// Audits the ledger in `live`, replaying into a scratch database created
/// in `scratch_dir`.
pub fn audit(
    live: &mut DbConnection,
    log: &NoteVerifier,
    governance_key: PublicKey,
    scratch_dir: &Path,
) -> Result<AuditReport, AuditError> {
    let mut findings = Vec::new();
    let checkpoints = check_checkpoints(live, log, &mut findings)?;
    // Unique per call, not only per process: two audits running at once in
    // one process (tests, a server) must not share a scratch file.
    static AUDITS: AtomicU64 = AtomicU64::new(0);
    let scratch_path = scratch_dir.join(format!(
        "pedigree-audit-{}-{}.sqlite",
        std::process::id(),
        AUDITS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&scratch_path);
    let url = crate::db::DatabaseUrl::parse(&scratch_path.display().to_string())
        .map_err(|e| AuditError::Scratch(e.to_string()))?;
    let mut scratch = DbConnection::open(&url)?;
    crate::db::run_pending_migrations(&mut scratch)?;
    let ctx = RuleContext {
        governance_key,
        clock: None,
    };
    let entries = replay(live, &mut scratch, &ctx, &checkpoints, &mut findings)?;
    compare_state(live, &mut scratch, &mut findings)?;
    drop(scratch);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", scratch_path.display()));
    }
    findings.sort_by_key(|f| f.entry.unwrap_or(u64::MAX));
    Ok(AuditReport {
        entries,
        checkpoints: checkpoints.len() as u64,
        findings,
    })
}

/// Verifies every checkpoint and the chain; returns root by tree size.
fn check_checkpoints(
    conn: &mut DbConnection,
    log: &NoteVerifier,
    findings: &mut Vec<Finding>,
) -> Result<HashMap<u64, [u8; 32]>, AuditError> {
    let rows: Vec<(i64, Vec<u8>, String)> = checkpoints::table
        .order(checkpoints::tree_size)
        .select((
            checkpoints::tree_size,
            checkpoints::root_hash,
            checkpoints::note,
        ))
        .load(conn)?;
    let mut roots = HashMap::new();
    let mut previous: Option<SignedCheckpoint> = None;
    for (size, root, note) in rows {
        let signed = match SignedCheckpoint::parse_and_verify(&note, log) {
            Ok(signed) => signed,
            Err(e) => {
                findings.push(finding(None, format!("checkpoint at size {size}: {e}")));
                continue;
            }
        };
        let body = signed.checkpoint();
        if body.size() != size as u64 || !bool::from(body.root().ct_eq(root.as_slice())) {
            findings.push(finding(
                None,
                format!("checkpoint row {size} disagrees with its signed note"),
            ));
        }
        match &previous {
            Some(prev) => {
                if let Err(e) = signed.follows(prev.checkpoint()) {
                    findings.push(finding(
                        None,
                        format!("checkpoint at size {size} breaks the chain: {e}"),
                    ));
                }
            }
            None if body.prev().is_some() => {
                findings.push(finding(
                    None,
                    format!("first stored checkpoint (size {size}) claims a predecessor"),
                ));
            }
            None => {}
        }
        roots.insert(body.size(), *body.root());
        previous = Some(signed);
    }
    Ok(roots)
}

type EntryRow = (i64, Vec<u8>, Vec<u8>, String, String, i64, Vec<u8>);

/// Re-verifies and replays every entry; returns how many there were.
fn replay(
    live: &mut DbConnection,
    scratch: &mut DbConnection,
    ctx: &RuleContext,
    roots: &HashMap<u64, [u8; 32]>,
    findings: &mut Vec<Finding>,
) -> Result<u64, AuditError> {
    let mut frontier = Frontier::new();
    let mut cache = AuthCache::default();
    let mut mismatched_nodes = HashSet::new();
    let mut next: i64 = 0;
    loop {
        let rows: Vec<EntryRow> = log_entries::table
            .filter(log_entries::idx.ge(next))
            .order(log_entries::idx)
            .limit(CHUNK)
            .select((
                log_entries::idx,
                log_entries::event_id,
                log_entries::leaf_hash,
                log_entries::kind,
                log_entries::actor,
                log_entries::event_time,
                log_entries::entry,
            ))
            .load(live)?;
        let Some(&(last, ..)) = rows.last() else {
            break;
        };
        let mut computed: Vec<(NodeId, [u8; 32])> = Vec::new();
        scratch.transaction(|scratch| {
            for row in &rows {
                let idx = row.0;
                if idx != next {
                    findings.push(finding(Some(next as u64), format!("entry {next} is missing (next stored index is {idx})")));
                    return Err(AuditError::Scratch("the log has a gap; replay stops".into()));
                }
                let leaf = merkle::leaf_hash(&row.6);
                check_entry(live, row, &leaf, scratch, ctx, &mut cache, findings)?;
                computed.extend(frontier.push(leaf).map_err(|e| AuditError::Scratch(e.to_string()))?);
                if let Some(root) = roots.get(&frontier.size()) {
                    if !bool::from(frontier.root().ct_eq(root)) {
                        findings.push(finding(
                            Some(idx as u64),
                            format!("the tree recomputed from the entries differs from checkpoint {}", frontier.size()),
                        ));
                    }
                }
                next += 1;
            }
            Ok::<_, AuditError>(())
        })
        .or_else(|e| match e {
            AuditError::Scratch(_) => Ok(()),
            other => Err(other),
        })?;
        compare_nodes(live, &computed, &mut mismatched_nodes, findings)?;
        if next != last + 1 {
            break;
        }
    }
    let stored_nodes: i64 = tree_nodes::table.count().get_result(live)?;
    let expected_nodes = (0..64).map(|level| frontier.size() >> level).sum::<u64>();
    if stored_nodes as u64 != expected_nodes {
        findings.push(finding(
            None,
            format!(
                "tree_nodes holds {stored_nodes} rows; a tree of {} leaves has {expected_nodes}",
                frontier.size()
            ),
        ));
    }
    if let Some(&latest) = roots.keys().max() {
        if latest != frontier.size() {
            findings.push(finding(
                Some(frontier.size().min(latest)),
                format!(
                    "the latest checkpoint covers {latest} entries but {} are stored",
                    frontier.size()
                ),
            ));
        }
    }
    Ok(frontier.size())
}

/// Checks one entry's bytes, columns and signature, then replays it.
fn check_entry(
    live: &mut DbConnection,
    row: &EntryRow,
    leaf: &[u8; 32],
    scratch: &mut DbConnection,
    ctx: &RuleContext,
    cache: &mut AuthCache,
    findings: &mut Vec<Finding>,
) -> Result<(), AuditError> {
    let (idx, event_id, stored_leaf, kind, actor, time, entry) = row;
    let at = Some(*idx as u64);
    let signed = match SignedEvent::from_entry_bytes(entry) {
        Ok(signed) => signed,
        Err(e) => {
            findings.push(finding(at, format!("entry {idx}: {e}")));
            return Ok(());
        }
    };
    if !bool::from(leaf.ct_eq(stored_leaf.as_slice())) {
        findings.push(finding(
            at,
            format!("entry {idx}: stored leaf hash is not the hash of the entry"),
        ));
    }
    let id = signed.id().map(|id| id.0.to_vec()).unwrap_or_default();
    let event = &signed.event;
    if &id != event_id
        || kind != event.body.kind()
        || actor != event.actor.as_str()
        || *time != event.time.unix_micros()
    {
        findings.push(finding(
            at,
            format!("entry {idx}: indexed columns disagree with the entry"),
        ));
    }
    if let Err(e) = signed.verify_signature() {
        findings.push(finding(at, format!("entry {idx}: {e}")));
    }
    let items: Option<Vec<String>> = match event.body.item_set() {
        Some(_) => Some(
            event_items::table
                .filter(event_items::entry_idx.eq(idx))
                .order(event_items::position)
                .select(event_items::item)
                .load(live)?,
        ),
        None => None,
    };
    let submission = EventSubmission::new(signed, items);
    let list = match submission.checked_items() {
        Ok(list) => list,
        Err(e) => {
            findings.push(finding(at, format!("entry {idx}: stored items: {e}")));
            return Ok(());
        }
    };
    let replayed = scratch.transaction(|c| {
        let touched = custody::apply(c, *idx, &submission.signed, list.as_ref(), ctx, cache)?;
        custody::record_history(c, *idx, &touched)?;
        if let Some(items) = &submission.items {
            let rows: Vec<_> = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    (
                        event_items::entry_idx.eq(idx),
                        event_items::position.eq(i as i32),
                        event_items::item.eq(item),
                    )
                })
                .collect();
            for chunk in rows.chunks(500) {
                on_backend!(c, |c| diesel::insert_into(event_items::table)
                    .values(chunk)
                    .execute(c))?;
            }
        }
        Ok::<_, ApplyError>(())
    });
    match replayed {
        Ok(()) => Ok(()),
        Err(ApplyError::Rejected(r)) => {
            findings.push(finding(
                at,
                format!("entry {idx} breaks the custody rules on replay: {r}"),
            ));
            Ok(())
        }
        Err(ApplyError::Database(e)) => Err(e.into()),
    }
}

/// Compares recomputed tree nodes with the stored ones.
///
/// A node whose child already disagreed is not reported: it differs because
/// of that child (a changed entry changes every node above its leaf), and
/// naming it would blame the first leaf of a large subtree instead of the
/// entry at fault. `mismatched` carries the disagreeing nodes across chunks;
/// `computed` lists children before their parents, as [`Frontier::push`]
/// completes them.
fn compare_nodes(
    live: &mut DbConnection,
    computed: &[(NodeId, [u8; 32])],
    mismatched: &mut HashSet<NodeId>,
    findings: &mut Vec<Finding>,
) -> Result<(), AuditError> {
    let ids: Vec<NodeId> = computed.iter().map(|(id, _)| *id).collect();
    let stored = tree::fetch_nodes(live, &ids).map_err(|e| AuditError::Scratch(e.to_string()))?;
    for (id, hash) in computed {
        if stored.get(id).is_some_and(|s| bool::from(s.ct_eq(hash))) {
            continue;
        }
        mismatched.insert(*id);
        let explained_by_child = id.level > 0
            && [2 * id.index, 2 * id.index + 1]
                .iter()
                .any(|&child| mismatched.contains(&NodeId::new(id.level - 1, child)));
        if !explained_by_child {
            let first_leaf = id.leaves().map_or(0, |r| r.start);
            findings.push(finding(
                Some(first_leaf),
                format!("stored tree {id} is missing or differs from the recomputed one"),
            ));
        }
    }
    Ok(())
}

/// Compares each derived-state table with its replayed twin.
fn compare_state(
    live: &mut DbConnection,
    scratch: &mut DbConnection,
    findings: &mut Vec<Finding>,
) -> Result<(), AuditError> {
    compare(
        "parties",
        live,
        scratch,
        findings,
        |c| {
            parties::table
                .order(parties::gln)
                .select((
                    parties::gln,
                    parties::name,
                    parties::role,
                    parties::lat_e6,
                    parties::lon_e6,
                    parties::registered_idx,
                ))
                .load::<(String, String, String, Option<i32>, Option<i32>, i64)>(c)
        },
        |r| Some(r.5),
    )?;
    compare(
        "party_keys",
        live,
        scratch,
        findings,
        |c| {
            party_keys::table
                .order(party_keys::public_key)
                .select((
                    party_keys::public_key,
                    party_keys::gln,
                    party_keys::valid_from,
                    party_keys::valid_until,
                    party_keys::added_idx,
                    party_keys::ended_idx,
                    party_keys::end_reason,
                ))
                .load::<(
                    Vec<u8>,
                    String,
                    i64,
                    Option<i64>,
                    i64,
                    Option<i64>,
                    Option<String>,
                )>(c)
        },
        |r| Some(r.5.unwrap_or(r.4)),
    )?;
    compare(
        "products",
        live,
        scratch,
        findings,
        |c| {
            products::table
                .order(products::gtin)
                .select((
                    products::gtin,
                    products::owner,
                    products::name,
                    products::registered_idx,
                ))
                .load::<(String, String, String, i64)>(c)
        },
        |r| Some(r.3),
    )?;
    compare(
        "batches",
        live,
        scratch,
        findings,
        |c| {
            crate::db::schema::batches::table
                .order((
                    crate::db::schema::batches::gtin,
                    crate::db::schema::batches::lot,
                ))
                .select(BatchRow::as_select())
                .load(c)
        },
        |r| Some(r.recall_idx.unwrap_or(r.registered_idx)),
    )?;
    compare(
        "packs",
        live,
        scratch,
        findings,
        |c| {
            crate::db::schema::packs::table
                .order((
                    crate::db::schema::packs::gtin,
                    crate::db::schema::packs::serial,
                ))
                .select(PackRow::as_select())
                .load(c)
        },
        |r| Some(r.last_idx),
    )?;
    compare(
        "pack_recalls",
        live,
        scratch,
        findings,
        |c| {
            use crate::db::schema::pack_recalls::dsl::*;
            pack_recalls
                .order((gtin, serial))
                .select((gtin, serial, lot, recalled_by, recall_idx))
                .load::<(String, String, String, String, i64)>(c)
        },
        |r| Some(r.4),
    )?;
    compare(
        "cases",
        live,
        scratch,
        findings,
        |c| {
            crate::db::schema::cases::table
                .order(crate::db::schema::cases::sscc)
                .select(CaseRow::as_select())
                .load(c)
        },
        |r| Some(r.last_idx),
    )?;
    compare(
        "shipments",
        live,
        scratch,
        findings,
        |c| {
            shipments::table
                .order((shipments::sender, shipments::shipment_id))
                .select((
                    shipments::sender,
                    shipments::shipment_id,
                    shipments::receiver,
                    shipments::purpose,
                    shipments::status,
                    shipments::ship_idx,
                    shipments::receive_idx,
                ))
                .load::<(String, String, String, String, String, i64, Option<i64>)>(c)
        },
        |r| Some(r.6.unwrap_or(r.5)),
    )?;
    compare(
        "shipment_discrepancies",
        live,
        scratch,
        findings,
        |c| {
            shipment_discrepancies::table
                .order((
                    shipment_discrepancies::sender,
                    shipment_discrepancies::shipment_id,
                    shipment_discrepancies::item,
                ))
                .select((
                    shipment_discrepancies::sender,
                    shipment_discrepancies::shipment_id,
                    shipment_discrepancies::item,
                    shipment_discrepancies::kind,
                ))
                .load::<(String, String, String, String)>(c)
        },
        |_| None,
    )?;
    compare(
        "item_history",
        live,
        scratch,
        findings,
        |c| {
            item_history::table
                .order((item_history::item, item_history::entry_idx))
                .select((item_history::item, item_history::entry_idx))
                .load::<(String, i64)>(c)
        },
        |r| Some(r.1),
    )?;
    compare(
        "event_items",
        live,
        scratch,
        findings,
        |c| {
            event_items::table
                .order((event_items::entry_idx, event_items::position))
                .select((
                    event_items::entry_idx,
                    event_items::position,
                    event_items::item,
                ))
                .load::<(i64, i32, String)>(c)
        },
        |r| Some(r.0),
    )?;
    Ok(())
}

/// Loads a table from both databases and reports the rows that are not in
/// both: stored rows the log does not imply, and implied rows not stored.
///
/// Rows are sorted here rather than by the databases, whose text collations
/// may differ (SQLite compares bytes, PostgreSQL the database's locale), and
/// matched as a multiset rather than position by position, so that one
/// missing row does not make every later row look changed. The finding names
/// the earliest entry among the disagreeing rows.
fn compare<T: Ord + Debug>(
    table: &str,
    live: &mut DbConnection,
    scratch: &mut DbConnection,
    findings: &mut Vec<Finding>,
    load: impl Fn(&mut DbConnection) -> QueryResult<Vec<T>>,
    entry_of: impl Fn(&T) -> Option<i64>,
) -> Result<(), AuditError> {
    let mut stored = load(live)?;
    let mut derived = load(scratch)?;
    stored.sort_unstable();
    derived.sort_unstable();
    let (mut not_derived, mut not_stored) = (Vec::new(), Vec::new());
    let (mut s, mut d) = (stored.iter().peekable(), derived.iter().peekable());
    loop {
        match (s.peek(), d.peek()) {
            (None, None) => break,
            (Some(a), Some(b)) if a == b => {
                s.next();
                d.next();
            }
            (Some(a), Some(b)) if a < b => {
                not_derived.push(*a);
                s.next();
            }
            (Some(a), None) => {
                not_derived.push(*a);
                s.next();
            }
            (_, Some(b)) => {
                not_stored.push(*b);
                d.next();
            }
        }
    }
    let mut problems = Vec::new();
    if let Some(row) = earliest(&not_derived, &entry_of) {
        problems.push(format!(
            "{} stored row(s) are not derived from the log, e.g. {row:?}",
            not_derived.len()
        ));
    }
    if let Some(row) = earliest(&not_stored, &entry_of) {
        problems.push(format!(
            "{} row(s) the log implies are missing, e.g. {row:?}",
            not_stored.len()
        ));
    }
    if !problems.is_empty() {
        let entry = not_derived
            .iter()
            .chain(&not_stored)
            .filter_map(|r| entry_of(r))
            .min();
        findings.push(finding(
            entry.map(|e| e as u64),
            format!("{table}: {}", problems.join("; ")),
        ));
    }
    Ok(())
}

/// The row naming the earliest entry (rows naming none come last).
fn earliest<'r, T>(rows: &[&'r T], entry_of: &impl Fn(&T) -> Option<i64>) -> Option<&'r T> {
    rows.iter()
        .copied()
        .min_by_key(|row| entry_of(row).unwrap_or(i64::MAX))
}
