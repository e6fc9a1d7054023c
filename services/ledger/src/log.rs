//! Appending to the log: checking, sequencing, committing, checkpointing.
//!
//! The path of a batch of submissions:
//! 1. [`prepare`] (any thread, CPU-bound, parallel): structural checks, item
//!    lists against their roots, canonical bytes, ids, leaf hashes, and
//!    strict Ed25519 signatures verified in batches spread over the cores.
//! 2. [`Appender::append`] (the single writer): in ONE database
//!    transaction, each event runs the custody rules — in its own savepoint
//!    when its rules may write, so a refused event leaves no trace — then
//!    the accepted events' log entries, history rows and tree nodes are
//!    written in multi-row statements, and a new checkpoint, chained to the
//!    previous one and signed with the log key, covers them. Only after the
//!    commit — durable, see `db` for the pragmas — are receipts returned.
//!
//! The in-memory [`Frontier`] is only replaced after a successful commit, so
//! a failed transaction leaves memory and database in step.

use std::collections::HashMap;

use diesel::prelude::*;
use pedigree_schema::checkpoint::{Checkpoint, SignedCheckpoint};
use pedigree_schema::event::{EventId, EventSubmission, ItemList, SignedEvent, Timestamp};
use pedigree_schema::keys::{verify_batch_strict, PublicKey, Signature};
use pedigree_schema::merkle::{self, inclusion_plan, Frontier, Hash, NodeId};
use pedigree_schema::note::{NoteSigner, NoteVerifier};
use pedigree_schema::receipt::Receipt;

use crate::custody::{self, ApplyError, AuthCache, Clock, RuleContext};
use crate::db::schema::{checkpoints, event_items, item_history, log_entries};
use crate::db::{write_transaction, DbConnection};
use crate::rejection::{RejectCode, Rejection};
use crate::tree::{self, TreeError};

/// The log's identity: its origin line and its signing key.
pub struct LogIdentity {
    pub origin: String,
    pub signer: NoteSigner,
}

impl LogIdentity {
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }
}

/// Why the log could not append (as opposed to refusing an event).
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("stored tree: {0}")]
    Tree(#[from] TreeError),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] pedigree_schema::checkpoint::CheckpointError),
    #[error("stored state is inconsistent: {0}")]
    Inconsistent(String),
    #[error("the log writer has stopped")]
    WriterGone,
}

impl From<ApplyError> for LogError {
    fn from(error: ApplyError) -> Self {
        match error {
            ApplyError::Database(e) => LogError::Database(e),
            ApplyError::Rejected(r) => LogError::Inconsistent(format!("unexpected rejection {r}")),
        }
    }
}

/// A submission that passed every check that needs no log state.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub signed: SignedEvent,
    pub id: EventId,
    pub entry: Vec<u8>,
    pub leaf_hash: Hash,
    pub items: Option<(Vec<String>, ItemList)>,
}

/// Checks submissions independently of the log's state — syntax, item
/// lists against their roots, canonical encodings, strict signatures — on
/// every core, in order-preserving chunks.
pub fn prepare(submissions: Vec<EventSubmission>) -> Vec<Result<Prepared, Rejection>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = submissions.len().div_ceil(threads).max(64);
    let mut chunks: Vec<Vec<EventSubmission>> = Vec::new();
    let mut rest = submissions.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(chunk).collect());
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = chunks
            .into_iter()
            .map(|part| scope.spawn(move || prepare_chunk(part)))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn malformed(error: impl std::fmt::Display) -> Rejection {
    Rejection::new(RejectCode::MalformedEvent, error.to_string())
}

/// A prepared event with the message its signature must cover.
type Checked = (Prepared, Vec<u8>);

fn prepare_one(submission: EventSubmission) -> Result<Checked, Rejection> {
    let signed = &submission.signed;
    signed.event.validate().map_err(malformed)?;
    let list = submission.checked_items().map_err(malformed)?;
    let encoded = signed.encode().map_err(malformed)?;
    Ok((
        Prepared {
            leaf_hash: merkle::leaf_hash(&encoded.entry),
            id: encoded.id,
            entry: encoded.entry,
            items: submission.items.zip(list),
            signed: submission.signed,
        },
        encoded.signing_message,
    ))
}

/// Prepares a chunk and verifies its signatures in one batch.
fn prepare_chunk(part: Vec<EventSubmission>) -> Vec<Result<Prepared, Rejection>> {
    let checked: Vec<Result<Checked, Rejection>> = part.into_iter().map(prepare_one).collect();
    let batch: Vec<(&[u8], Signature, PublicKey)> = checked
        .iter()
        .flatten()
        .map(|(p, message)| (message.as_slice(), p.signed.signature, p.signed.signer))
        .collect();
    let mut verdicts = verify_batch_strict(&batch).into_iter();
    checked
        .into_iter()
        .map(|result| {
            let (prepared, _) = result?;
            if verdicts.next().unwrap_or(false) {
                Ok(prepared)
            } else {
                Err(Rejection::new(
                    RejectCode::BadSignature,
                    "the Ed25519 signature does not verify (strict) for the event and signer key",
                ))
            }
        })
        .collect()
}

/// The single writer of the log.
pub struct Appender {
    conn: DbConnection,
    frontier: Frontier,
    latest: Option<SignedCheckpoint>,
    log: LogIdentity,
    governance_key: PublicKey,
    max_event_age: chrono::Duration,
}

/// The stored form of a checkpoint.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = checkpoints)]
pub struct CheckpointRow {
    pub tree_size: i64,
    pub root_hash: Vec<u8>,
    pub body_hash: Vec<u8>,
    pub note: String,
    pub issued_at: i64,
}

/// The size of the log as of its latest checkpoint: one indexed read,
/// whatever the log's size (never a count of the entries).
pub fn tree_size(conn: &mut DbConnection) -> QueryResult<u64> {
    let size: Option<i64> = checkpoints::table
        .order(checkpoints::tree_size.desc())
        .select(checkpoints::tree_size)
        .first(conn)
        .optional()?;
    Ok(size.map_or(0, |s| s as u64))
}

/// The latest checkpoint's note text, if any.
pub fn latest_checkpoint_note(conn: &mut DbConnection) -> QueryResult<Option<String>> {
    checkpoints::table
        .order(checkpoints::tree_size.desc())
        .select(checkpoints::note)
        .first(conn)
        .optional()
}

impl Appender {
    /// Opens the log in `conn` (migrated), rebuilding the frontier from the
    /// stored tree and checking it against the latest checkpoint.
    pub fn open(
        mut conn: DbConnection,
        log: LogIdentity,
        governance_key: PublicKey,
        max_event_age: chrono::Duration,
    ) -> Result<Self, LogError> {
        let latest = match latest_checkpoint_note(&mut conn)? {
            Some(note) => Some(SignedCheckpoint::parse_and_verify(&note, &log.verifier())?),
            None => None,
        };
        let size = latest.as_ref().map_or(0, |c| c.checkpoint().size());
        let last: Option<i64> = log_entries::table
            .select(diesel::dsl::max(log_entries::idx))
            .first(&mut conn)?;
        let entries = last.map_or(0, |i| i + 1);
        if entries as u64 != size {
            return Err(LogError::Inconsistent(format!(
                "{entries} log entries are stored but the latest checkpoint covers {size}; run `pedigree audit`"
            )));
        }
        let frontier = tree::load_frontier(&mut conn, size)?;
        if let Some(latest) = &latest {
            if frontier.root() != *latest.checkpoint().root() {
                return Err(LogError::Inconsistent(
                    "the stored tree's root differs from the latest checkpoint; run `pedigree audit`".into(),
                ));
            }
        }
        Ok(Self {
            conn,
            frontier,
            latest,
            log,
            governance_key,
            max_event_age,
        })
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn latest_checkpoint(&self) -> Option<&SignedCheckpoint> {
        self.latest.as_ref()
    }

    /// Appends a batch; see the module docs. One outcome per input, in order.
    pub fn append(
        &mut self,
        batch: Vec<Result<Prepared, Rejection>>,
    ) -> Result<Vec<Result<Receipt, Rejection>>, LogError> {
        let ctx = RuleContext {
            governance_key: self.governance_key,
            clock: Some(Clock {
                now: Timestamp::now(),
                max_event_age: self.max_event_age,
            }),
        };
        let mut frontier = self.frontier.clone();
        let log = &self.log;
        let previous = self.latest.clone();
        let (outcomes, checkpoint) = write_transaction(&mut self.conn, |conn| {
            let existing = existing_indices(conn, &batch)?;
            let mut cache = AuthCache::default();
            let mut in_batch: HashMap<EventId, u64> = HashMap::new();
            let mut new_nodes: HashMap<NodeId, Hash> = HashMap::new();
            let mut accepted: Vec<Accepted> = Vec::with_capacity(batch.len());
            let mut outcomes: Vec<Result<(u64, EventId, Hash), Rejection>> =
                Vec::with_capacity(batch.len());
            for prepared in batch {
                let prepared = match prepared {
                    Ok(p) => p,
                    Err(rejection) => {
                        outcomes.push(Err(rejection));
                        continue;
                    }
                };
                if let Some(&(idx, leaf)) = existing.get(&prepared.id) {
                    outcomes.push(Ok((idx, prepared.id, leaf)));
                    continue;
                }
                if let Some(&idx) = in_batch.get(&prepared.id) {
                    outcomes.push(Ok((idx, prepared.id, prepared.leaf_hash)));
                    continue;
                }
                let idx = frontier.size();
                // A refused event must leave no trace: events whose rules may
                // write run in a savepoint; the others (verifications) write
                // nothing before they are accepted, so they need none.
                let applied = if custody::rules_write_state(&prepared.signed.event.body) {
                    conn.transaction(|c| apply_rules(c, idx, &prepared, &ctx, &mut cache))
                } else {
                    apply_rules(conn, idx, &prepared, &ctx, &mut cache)
                };
                match applied {
                    Ok(touched) => {
                        let completed = frontier
                            .push(prepared.leaf_hash)
                            .map_err(|e| LogError::Inconsistent(e.to_string()))?;
                        new_nodes.extend(completed);
                        in_batch.insert(prepared.id, idx);
                        outcomes.push(Ok((idx, prepared.id, prepared.leaf_hash)));
                        accepted.push(Accepted {
                            idx: idx as i64,
                            prepared,
                            touched,
                        });
                    }
                    Err(ApplyError::Rejected(rejection)) => outcomes.push(Err(rejection)),
                    Err(ApplyError::Database(e)) => return Err(LogError::Database(e)),
                }
            }
            insert_entries(conn, &accepted)?;
            let nodes: Vec<(NodeId, Hash)> = new_nodes.iter().map(|(id, h)| (*id, *h)).collect();
            tree::insert_nodes(conn, &nodes)?;
            let checkpoint = if new_nodes.is_empty() {
                previous.clone()
            } else {
                Some(issue_checkpoint(conn, log, previous.as_ref(), &frontier)?)
            };
            let receipts = match &checkpoint {
                Some(checkpoint) => receipts(conn, checkpoint, outcomes, &new_nodes)?,
                // No checkpoint yet means nothing was ever appended, so every
                // outcome here is a rejection.
                None => outcomes
                    .into_iter()
                    .map(|o| match o {
                        Err(rejection) => Ok(Err(rejection)),
                        Ok(_) => Err(LogError::Inconsistent(
                            "accepted event without a checkpoint".into(),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
            };
            Ok::<_, LogError>((receipts, checkpoint))
        })?;
        self.frontier = frontier;
        self.latest = checkpoint;
        Ok(outcomes)
    }
}

/// Indices and leaf hashes of events of the batch already in the log.
///
/// Looked up by time, then matched by id here: the index is on
/// `(event_time, event_id)` (see the `event_lookup_by_time` migration), and
/// both SQLite and PostgreSQL would probe a two-column `IN … AND IN …` as a
/// cross product (250 000 probes for a chunk of 500). Entries sharing a
/// microsecond with an event of the batch are few, and only their ids are
/// read, from the index.
fn existing_indices(
    conn: &mut DbConnection,
    batch: &[Result<Prepared, Rejection>],
) -> Result<HashMap<EventId, (u64, Hash)>, LogError> {
    let wanted: HashMap<EventId, i64> = batch
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .map(|p| (p.id, p.signed.event.time.unix_micros()))
        .collect();
    let mut times: Vec<i64> = wanted.values().copied().collect();
    times.sort_unstable();
    times.dedup();
    let mut found = HashMap::new();
    for chunk in times.chunks(500) {
        let candidates: Vec<(Vec<u8>, i64)> = log_entries::table
            .filter(log_entries::event_time.eq_any(chunk))
            .select((log_entries::event_id, log_entries::idx))
            .load(conn)?;
        for (id, idx) in candidates {
            let Ok(id) = <[u8; 32]>::try_from(id) else {
                return Err(LogError::Inconsistent(format!(
                    "entry {idx} has a malformed id"
                )));
            };
            if !wanted.contains_key(&EventId(id)) {
                continue;
            }
            let leaf: Vec<u8> = log_entries::table
                .find(idx)
                .select(log_entries::leaf_hash)
                .first(conn)?;
            let Ok(leaf) = <[u8; 32]>::try_from(leaf) else {
                return Err(LogError::Inconsistent(format!(
                    "entry {idx} has a malformed leaf hash"
                )));
            };
            found.insert(EventId(id), (idx as u64, leaf));
        }
    }
    Ok(found)
}

/// An event the rules accepted, with the items whose provenance it joins.
struct Accepted {
    idx: i64,
    prepared: Prepared,
    touched: Vec<String>,
}

/// Most bound parameters in one statement: SQLite's limit (PostgreSQL's is
/// 65 535). Multi-row inserts are chunked to stay under it.
pub const MAX_BOUND_PARAMETERS: usize = 32_766;

/// Runs the custody rules for one event and stores its item list (the
/// rules of later events in the group read a shipment's items). Its log
/// entry and history rows are written with the group's, in
/// [`insert_entries`].
fn apply_rules(
    conn: &mut DbConnection,
    idx: u64,
    prepared: &Prepared,
    ctx: &RuleContext,
    cache: &mut AuthCache,
) -> Result<Vec<String>, ApplyError> {
    let idx = idx as i64;
    let items = prepared.items.as_ref().map(|(_, list)| list);
    let touched = custody::apply(conn, idx, &prepared.signed, items, ctx, cache)?;
    if let Some((texts, _)) = &prepared.items {
        let rows: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(position, item)| {
                (
                    event_items::entry_idx.eq(idx),
                    event_items::position.eq(position as i32),
                    event_items::item.eq(item),
                )
            })
            .collect();
        for chunk in rows.chunks(MAX_BOUND_PARAMETERS / 3) {
            on_backend!(conn, |c| diesel::insert_into(event_items::table)
                .values(chunk)
                .execute(c))?;
        }
    }
    Ok(touched)
}

/// A row of `log_entries`, borrowed from its prepared event.
#[derive(Insertable)]
#[diesel(table_name = log_entries)]
struct EntryRow<'a> {
    idx: i64,
    event_id: &'a [u8],
    leaf_hash: &'a [u8],
    kind: &'a str,
    actor: &'a str,
    event_time: i64,
    entry: &'a [u8],
}

/// A row of `item_history`.
#[derive(Insertable)]
#[diesel(table_name = item_history)]
struct HistoryRow<'a> {
    item: &'a str,
    entry_idx: i64,
}

/// Writes the accepted events' log entries and history rows in multi-row
/// statements: a few statements per group instead of two per event.
fn insert_entries(conn: &mut DbConnection, accepted: &[Accepted]) -> QueryResult<()> {
    let entries: Vec<EntryRow<'_>> = accepted
        .iter()
        .map(|a| {
            let event = &a.prepared.signed.event;
            EntryRow {
                idx: a.idx,
                event_id: &a.prepared.id.0,
                leaf_hash: &a.prepared.leaf_hash,
                kind: event.body.kind(),
                actor: event.actor.as_str(),
                event_time: event.time.unix_micros(),
                entry: &a.prepared.entry,
            }
        })
        .collect();
    for chunk in entries.chunks(MAX_BOUND_PARAMETERS / 7) {
        on_backend!(conn, |c| diesel::insert_into(log_entries::table)
            .values(chunk)
            .execute(c))?;
    }
    let history: Vec<HistoryRow<'_>> = accepted
        .iter()
        .flat_map(|a| {
            a.touched.iter().map(|item| HistoryRow {
                item,
                entry_idx: a.idx,
            })
        })
        .collect();
    for chunk in history.chunks(MAX_BOUND_PARAMETERS / 2) {
        on_backend!(conn, |c| diesel::insert_into(item_history::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// Signs and stores the checkpoint of `frontier`, chained to `previous`.
fn issue_checkpoint(
    conn: &mut DbConnection,
    log: &LogIdentity,
    previous: Option<&SignedCheckpoint>,
    frontier: &Frontier,
) -> Result<SignedCheckpoint, LogError> {
    let root = frontier.root();
    let body = match previous {
        Some(previous) => previous.checkpoint().successor(frontier.size(), root)?,
        None => Checkpoint::new(&log.origin, frontier.size(), root, None, Vec::new())?,
    };
    let signed = SignedCheckpoint::sign(body, &log.signer)?;
    diesel::insert_into(checkpoints::table)
        .values(CheckpointRow {
            tree_size: frontier.size() as i64,
            root_hash: root.to_vec(),
            body_hash: signed.checkpoint().body_hash().to_vec(),
            note: signed.to_string(),
            issued_at: Timestamp::now().unix_micros(),
        })
        .execute(conn)?;
    Ok(signed)
}

/// Receipts for the outcomes, against `checkpoint`. Nodes completed in this
/// transaction are taken from `new_nodes`; the few older ones (shared by all
/// proofs of the batch) are read in one query.
fn receipts(
    conn: &mut DbConnection,
    checkpoint: &SignedCheckpoint,
    outcomes: Vec<Result<(u64, EventId, Hash), Rejection>>,
    new_nodes: &HashMap<NodeId, Hash>,
) -> Result<Vec<Result<Receipt, Rejection>>, LogError> {
    let size = checkpoint.checkpoint().size();
    let note = checkpoint.to_string();
    let plans: Vec<Option<_>> = outcomes
        .iter()
        .map(|o| {
            o.as_ref()
                .ok()
                .map(|(idx, _, _)| inclusion_plan(*idx, size))
                .transpose()
        })
        .collect::<Result<_, _>>()
        .map_err(TreeError::from)?;
    let mut wanted: Vec<NodeId> = plans
        .iter()
        .flatten()
        .flat_map(|p| p.nodes())
        .filter(|id| !new_nodes.contains_key(id))
        .collect();
    wanted.sort_unstable_by_key(|id| (id.level, id.index));
    wanted.dedup();
    let mut known = tree::fetch_nodes(conn, &wanted)?;
    known.extend(new_nodes.iter().map(|(id, h)| (*id, *h)));
    outcomes
        .into_iter()
        .zip(plans)
        .map(|(outcome, plan)| match (outcome, plan) {
            (Ok((index, event_id, leaf_hash)), Some(plan)) => Ok(Ok(Receipt {
                event_id,
                index,
                leaf_hash,
                checkpoint: note.clone(),
                inclusion_proof: plan
                    .assemble(|id| known.get(&id).copied())
                    .map_err(TreeError::from)?,
            })),
            (Err(rejection), _) => Ok(Err(rejection)),
            (Ok(_), None) => Err(LogError::Inconsistent(
                "accepted event without a proof plan".into(),
            )),
        })
        .collect()
}
