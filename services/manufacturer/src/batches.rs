//! Batches: `register_batch`, then `commission` of the batch's serials, submitted together.
//!
//! ## Commissioning as a job
//! Every batch request becomes a row of `jobs` (kind [`JOB_KIND`], detail a [`BatchRecord`]).
//! Up to [`INLINE_MAX`] serials the job runs within the request; larger batches (up to a
//! million serials) run on a background thread and the request answers at once with the job,
//! whose `done` counts the serials prepared so far (`GET /v1/jobs/{id}`).
//!
//! The serials are committed in `commission` events of at most [`COMMISSION_CHUNK`] serials
//! each (taken in canonical order, so the chunks' lists concatenated are the batch's sorted
//! list), which keeps every event and ledger write bounded. The batch's `register_batch` and
//! all its `commission` events are submitted to the outbox in ONE call, so a batch is stored
//! whole or not at all. A job stopped half-way by a crash stays `running` (this crate has no
//! hook at service start to mark it failed) and its batch is refused as a duplicate; whether
//! it stored anything shows in the outbox (`register_batch`).
//!
//! ## The serial list
//! The list is read back from the outbox: the job's record keeps the outbox ids of the
//! `commission` events, and each stored submission holds its item list. So it is available as
//! soon as the batch is submitted, without the ledger, and a page of serials reads only the
//! chunks it covers. (The ledger's `GET /v1/entries/{index}/items` holds the same lists once
//! accepted.)
//!
//! The job record is also this service's index of its batches: it answers "is this batch
//! already registered here" (a duplicate is refused before anything is stored) and gives the
//! lot and expiry printed on labels.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use pedigree_party::db::schema::outbox;
use pedigree_party::db::write_transaction;
use pedigree_party::db::DbConnection;
use pedigree_party::{Operation, OutboxItem, Party, PartyError};
use pedigree_schema::event::{canonical_item_order, EventBody, ItemSetRef};
use pedigree_schema::gs1::{Expiry, Gtin, Lot, PackId, Serial};
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

use crate::jobs::{self, JobRow, JobStatus};
use crate::serials;
use crate::{input, products};

/// The `jobs.kind` of commissioning a batch.
pub const JOB_KIND: &str = "commission";
/// Most serials in one `commission` event.
pub const COMMISSION_CHUNK: usize = 10_000;
/// Most serials commissioned within the request; more run as a background job.
pub const INLINE_MAX: usize = COMMISSION_CHUNK;
/// Most serials in one page of `GET /v1/batches/{gtin}/{lot}/serials`.
pub const MAX_SERIAL_PAGE: usize = 10_000;

/// `POST /v1/batches`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub gtin: String,
    pub lot: String,
    /// `YYMMDD` (AI 17) or `YYYY-MM-DD`.
    pub expiry: String,
    /// `YYYY-MM-DD`.
    pub manufactured: String,
    pub serials: SerialsRequest,
}

/// `{"random": N}` or `{"list": ["…", …]}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SerialsRequest {
    Random(usize),
    List(Vec<String>),
}

/// Where a batch's serials come from, checked.
#[derive(Debug)]
pub enum Serials {
    /// This many random serials, drawn when the job runs (see [`crate::serials`]).
    Random(usize),
    /// These serials, validated, in canonical order, without duplicates.
    Listed(Vec<Serial>),
}

impl Serials {
    pub fn count(&self) -> usize {
        match self {
            Self::Random(count) => *count,
            Self::Listed(list) => list.len(),
        }
    }
}

/// A batch request, checked.
#[derive(Debug)]
pub struct BatchOrder {
    pub record: BatchRecord,
    pub serials: Serials,
}

/// What this service keeps about a batch (a commissioning job's detail).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub gtin: Gtin,
    pub lot: Lot,
    pub expiry: Expiry,
    pub manufactured: NaiveDate,
    /// Serials per `commission` event.
    pub chunk_size: usize,
    /// Outbox id of the `register_batch` event, once submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_batch: Option<i64>,
    /// Outbox ids of the `commission` events, in the order of their serials.
    #[serde(default)]
    pub commission: Vec<i64>,
    /// Why the job failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl BatchRequest {
    /// Checks every field; nothing is stored.
    pub fn parse(self) -> Result<BatchOrder, PartyError> {
        let gtin = input::gs1("gtin", Gtin::parse(&self.gtin))?;
        let lot = input::gs1("lot", Lot::parse(&self.lot))?;
        let expiry = input::expiry(&self.expiry)?;
        let manufactured = input::date("manufactured", &self.manufactured)?;
        let last_day = expiry.last_valid_day_with_reference(manufactured.year());
        if last_day < manufactured {
            return Err(PartyError::bad_request(
                "invalid_expiry",
                format!(
                    "expiry {expiry} ({last_day}) is before the manufacturing date {manufactured}"
                ),
            ));
        }
        let serials = match self.serials {
            SerialsRequest::Random(count) => {
                serials::check_count(count)?;
                Serials::Random(count)
            }
            SerialsRequest::List(list) => Serials::Listed(serials::listed_serials(&list)?),
        };
        Ok(BatchOrder {
            record: BatchRecord {
                gtin,
                lot,
                expiry,
                manufactured,
                chunk_size: COMMISSION_CHUNK,
                register_batch: None,
                commission: Vec::new(),
                error: None,
            },
            serials,
        })
    }
}

/// Checks the batch against what is stored (the product is registered here, the batch is
/// not) and creates its job; returns the job id. Nothing is submitted yet: see [`run`].
pub fn start(party: &Party, order: &BatchOrder) -> Result<i64, PartyError> {
    let record = &order.record;
    let mut conn = party.db().get()?;
    products::require(&mut conn, &record.gtin)?;
    write_transaction(&mut conn, |conn| {
        if let Some((row, _)) = find(conn, &record.gtin, &record.lot)? {
            return Err(PartyError::conflict(format!(
                "batch {} of {} is already registered here (job {})",
                record.lot, record.gtin, row.id
            )));
        }
        // At most a million serials: the count fits in i64.
        jobs::create(conn, JOB_KIND, order.serials.count() as i64, record)
    })
}

/// Runs the batch's job: draws or takes the serials, prepares the `commission` events chunk by
/// chunk (reporting progress), submits `register_batch` and every `commission` in one outbox
/// call, and records the outcome in the job.
pub fn run(
    party: &Party,
    job: i64,
    mut record: BatchRecord,
    serials: Serials,
) -> Result<Vec<OutboxItem>, PartyError> {
    let total = serials.count() as i64;
    match commission(party, job, &record, serials) {
        Ok(items) => {
            record.register_batch = items.first().map(|item| item.id);
            record.commission = items.iter().skip(1).map(|item| item.id).collect();
            jobs::finish(party.db(), job, JobStatus::Done, total, &record)?;
            Ok(items)
        }
        Err(error) => {
            // The public message only: server faults keep their detail for the log.
            record.error = Some(error.to_string());
            if let Err(e) = jobs::finish(party.db(), job, JobStatus::Failed, 0, &record) {
                tracing::error!(job, error = %e, "could not record that a job failed");
            }
            Err(error)
        }
    }
}

fn commission(
    party: &Party,
    job: i64,
    record: &BatchRecord,
    serials: Serials,
) -> Result<Vec<OutboxItem>, PartyError> {
    let serials = match serials {
        Serials::Random(count) => serials::random_serials(&mut OsRng, count)?,
        Serials::Listed(list) => list,
    };
    // Already sorted and unique, so this only states the order the chunks rely on.
    let texts = canonical_item_order(serials.into_iter().map(String::from).collect());
    let mut operations = vec![Operation {
        body: EventBody::RegisterBatch {
            gtin: record.gtin.clone(),
            lot: record.lot.clone(),
            expiry: record.expiry.clone(),
            manufactured: record.manufactured,
        },
        items: None,
    }];
    let mut prepared = 0;
    for chunk in texts.chunks(record.chunk_size) {
        operations.push(Operation {
            body: EventBody::Commission {
                gtin: record.gtin.clone(),
                lot: record.lot.clone(),
                serials: ItemSetRef::commit(chunk),
            },
            items: Some(chunk.to_vec()),
        });
        prepared += chunk.len() as i64;
        jobs::progress(party.db(), job, prepared)?;
    }
    party.outbox().submit(operations)
}

/// The batch `gtin`/`lot` known here and its job (the newest that did not fail).
fn find(
    conn: &mut DbConnection,
    gtin: &Gtin,
    lot: &Lot,
) -> Result<Option<(JobRow, BatchRecord)>, PartyError> {
    Ok(records(conn)?.into_iter().rev().find(|(row, record)| {
        &record.gtin == gtin && &record.lot == lot && row.status != JobStatus::Failed.as_str()
    }))
}

/// Every commissioning job with its record, oldest first.
fn records(conn: &mut DbConnection) -> Result<Vec<(JobRow, BatchRecord)>, PartyError> {
    jobs::of_kind(conn, JOB_KIND)?
        .into_iter()
        .map(|row| {
            let record = row
                .detail
                .as_deref()
                .map(serde_json::from_str::<BatchRecord>)
                .transpose()
                .map_err(|e| PartyError::Internal(format!("job {} detail: {e}", row.id)))?
                .ok_or_else(|| PartyError::Internal(format!("job {} has no detail", row.id)))?;
            Ok((row, record))
        })
        .collect()
}

/// The batch `gtin`/`lot`, which must have been submitted whole (its job done).
pub fn require(
    conn: &mut DbConnection,
    gtin: &Gtin,
    lot: &Lot,
) -> Result<(JobRow, BatchRecord), PartyError> {
    match find(conn, gtin, lot)? {
        None => Err(PartyError::not_found(format!(
            "batch {lot} of {gtin} is not registered here"
        ))),
        Some((row, _)) if row.status == JobStatus::Running.as_str() => {
            Err(PartyError::conflict(format!(
                "batch {lot} of {gtin} is still being commissioned (job {})",
                row.id
            )))
        }
        Some(found) => Ok(found),
    }
}

/// A page of a batch's serials, in canonical order.
#[derive(Debug, Serialize)]
pub struct SerialPage {
    pub gtin: Gtin,
    pub lot: Lot,
    pub expiry: Expiry,
    pub total: i64,
    pub offset: usize,
    pub serials: Vec<String>,
}

/// Serials `offset..offset + limit` of the batch (`limit` 1 to [`MAX_SERIAL_PAGE`]).
pub fn serial_page(
    conn: &mut DbConnection,
    gtin: &Gtin,
    lot: &Lot,
    offset: usize,
    limit: usize,
) -> Result<SerialPage, PartyError> {
    if !(1..=MAX_SERIAL_PAGE).contains(&limit) {
        return Err(PartyError::bad_request(
            "invalid_limit",
            format!("limit must be 1 to {MAX_SERIAL_PAGE}"),
        ));
    }
    let (row, record) = require(conn, gtin, lot)?;
    let total = usize::try_from(row.total).unwrap_or(0);
    let end = total.min(offset.saturating_add(limit));
    let mut serials = Vec::with_capacity(end.saturating_sub(offset));
    let mut position = offset;
    while position < end {
        let (chunk, within) = (position / record.chunk_size, position % record.chunk_size);
        let id = record.commission.get(chunk).ok_or_else(|| {
            PartyError::Internal(format!(
                "job {}: no commission event for chunk {chunk}",
                row.id
            ))
        })?;
        let items = submitted_items(conn, *id)?;
        if items.len() <= within {
            return Err(PartyError::Internal(format!(
                "outbox item {id} holds {} serials, fewer than its chunk's {within}",
                items.len()
            )));
        }
        serials.extend(items.into_iter().skip(within).take(end - position));
        position = offset + serials.len();
    }
    Ok(SerialPage {
        gtin: record.gtin,
        lot: record.lot,
        expiry: record.expiry,
        total: row.total,
        offset,
        serials,
    })
}

/// The item list stored with outbox item `id`.
pub fn submitted_items(conn: &mut DbConnection, id: i64) -> Result<Vec<String>, PartyError> {
    /// The part of a stored `EventSubmission` needed here.
    #[derive(Deserialize)]
    struct Submitted {
        items: Option<Vec<String>>,
    }
    let blob: Vec<u8> = outbox::table
        .find(id)
        .select(outbox::submission)
        .first(conn)?;
    serde_json::from_slice::<Submitted>(&blob)
        .map_err(|e| PartyError::Internal(format!("outbox item {id}: {e}")))?
        .items
        .ok_or_else(|| PartyError::Internal(format!("outbox item {id} has no item list")))
}

/// The lot and expiry of each pack among `packs` commissioned here (packs from no batch of
/// this service are left out). Reads the serial lists of the packs' GTINs' batches, chunk by
/// chunk, until every pack is found.
pub fn batches_of(
    conn: &mut DbConnection,
    packs: &[PackId],
) -> Result<HashMap<PackId, (Lot, Expiry)>, PartyError> {
    let mut wanted: HashSet<&PackId> = packs.iter().collect();
    let mut found = HashMap::new();
    for (row, record) in records(conn)? {
        if row.status != JobStatus::Done.as_str()
            || !wanted.iter().any(|pack| pack.gtin == record.gtin)
        {
            continue;
        }
        for id in &record.commission {
            let serials = submitted_items(conn, *id)?;
            wanted.retain(|pack| {
                let hit = pack.gtin == record.gtin
                    && serials
                        .binary_search_by(|s| s.as_str().cmp(pack.serial.as_str()))
                        .is_ok();
                if hit {
                    found.insert((*pack).clone(), (record.lot.clone(), record.expiry.clone()));
                }
                !hit
            });
            if wanted.is_empty() {
                return Ok(found);
            }
        }
    }
    Ok(found)
}
