//! The outbox: the party's signed events, stored durably before they go to the ledger.
//!
//! [`Outbox::submit`] signs each operation once and stores it in one transaction; the sender
//! ([`crate::sender`]) then delivers the pending items in `id` order. Because the stored event
//! never changes and the ledger is idempotent by event id, a crash or a lost answer at any
//! point can only lead to the same event being sent again, never to it landing twice.
//! (An event keeps the time it was signed at: one that waits longer than the ledger's
//! maximum event age is rejected as `time_too_old`.)
//!
//! The methods here block on the database: call them from `web::block` in a handler.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use pedigree_schema::event::{Event, EventBody, EventId, EventSubmission, Timestamp};
use pedigree_schema::gs1::Gln;
use pedigree_schema::keys::SecretKey;
use pedigree_schema::receipt::Receipt;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::db::schema::outbox;
use crate::db::{now_micros, write_transaction, Database, DbConnection};
use crate::error::PartyError;

/// Most items [`Outbox::list`] returns.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// One thing the party does: an event body and, for bodies that commit to an item set, the
/// items (in canonical order: see `pedigree_schema::event::canonical_item_order`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub body: EventBody,
    pub items: Option<Vec<String>>,
}

/// Where an outbox item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Stored, not yet acknowledged by the ledger.
    Pending,
    /// In the log, with a receipt that verified and a checkpoint the witness agrees with.
    Accepted,
    /// Refused by the ledger's rules; see the rejection code.
    Rejected,
    /// The ledger took it, but its receipt could not be trusted (the witness is halted or the
    /// receipt did not verify); released for another check when the alert is resolved.
    Held,
}

impl OutboxStatus {
    /// The status as stored and as in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Held => "held",
        }
    }

    /// The status named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Rejected, Self::Held]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// An outbox item as the API shows it (without the submission itself, which may be large).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxItem {
    pub id: i64,
    pub event_id: EventId,
    /// The event kind, e.g. `Commission`.
    pub kind: String,
    pub status: OutboxStatus,
    /// Deliveries that failed for want of an answer from the ledger.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub rejection_code: Option<String>,
    pub rejection_message: Option<String>,
    pub receipt: Option<Receipt>,
    pub created_at: Timestamp,
}

/// The stored columns of an [`OutboxItem`].
#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct OutboxRow {
    id: i64,
    event_id: Vec<u8>,
    kind: String,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    rejection_code: Option<String>,
    rejection_message: Option<String>,
    receipt: Option<String>,
    created_at: i64,
}

impl TryFrom<OutboxRow> for OutboxItem {
    type Error = PartyError;

    fn try_from(row: OutboxRow) -> Result<Self, PartyError> {
        let corrupt = |what: &str| PartyError::Internal(format!("outbox item {}: {what}", row.id));
        let event_id = <[u8; 32]>::try_from(row.event_id.as_slice())
            .map(EventId)
            .map_err(|_| corrupt("stored event id is not 32 bytes"))?;
        let status = OutboxStatus::parse(&row.status)
            .ok_or_else(|| corrupt(&format!("unknown stored status {:?}", row.status)))?;
        let receipt = row
            .receipt
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt(&format!("stored receipt: {e}")))?;
        let created_at = Timestamp::from_unix_micros(row.created_at)
            .ok_or_else(|| corrupt("stored creation time is out of range"))?;
        Ok(Self {
            id: row.id,
            event_id,
            kind: row.kind,
            status,
            attempts: row.attempts,
            last_error: row.last_error,
            rejection_code: row.rejection_code,
            rejection_message: row.rejection_message,
            receipt,
            created_at,
        })
    }
}

/// Pending items ready to send, in `id` order.
pub(crate) struct Batch {
    pub ids: Vec<i64>,
    pub submissions: Vec<EventSubmission>,
}

/// What the sender should do next.
pub(crate) enum Due {
    /// Nothing is pending.
    Idle,
    /// Items are pending but all wait for their retry time.
    Wait(Duration),
    /// Send these.
    Send(Batch),
}

/// How a delivered item ended.
pub(crate) enum Outcome {
    Accepted(Receipt),
    Rejected {
        code: String,
        message: String,
    },
    Held {
        receipt: Option<Receipt>,
        reason: String,
    },
}

/// The party's outbox. Cheap to clone: clones share the database and the sender's wake-up.
#[derive(Clone)]
pub struct Outbox {
    db: Database,
    gln: Gln,
    key: Arc<SecretKey>,
    wake: Arc<Notify>,
}

impl Outbox {
    pub(crate) fn new(db: Database, gln: Gln, key: Arc<SecretKey>) -> Self {
        Self {
            db,
            gln,
            key,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Validates each operation (`Event::validate`, `EventSubmission::checked_items`), signs it
    /// with the party key at the current time, stores all of them durably in ONE transaction
    /// (status `pending`) and wakes the sender; returns the stored items in order. Either all
    /// operations are stored or none.
    pub fn submit(&self, operations: Vec<Operation>) -> Result<Vec<OutboxItem>, PartyError> {
        if operations.is_empty() {
            return Err(PartyError::bad_request(
                "empty_submission",
                "there are no operations to submit",
            ));
        }
        let time = Timestamp::now();
        let mut seen = HashSet::new();
        let mut rows = Vec::with_capacity(operations.len());
        for (index, operation) in operations.into_iter().enumerate() {
            let invalid = |e: pedigree_schema::event::EventError| {
                PartyError::bad_request("invalid_operation", format!("operation {index}: {e}"))
            };
            let event = Event::new(self.gln.clone(), time, operation.body);
            event.validate().map_err(invalid)?;
            let kind = event.body.kind().to_string();
            let submission =
                EventSubmission::new(event.sign(&self.key).map_err(invalid)?, operation.items);
            submission.checked_items().map_err(invalid)?;
            let event_id = submission.signed.id().map_err(invalid)?;
            if !seen.insert(event_id.0) {
                return Err(PartyError::bad_request(
                    "duplicate_operation",
                    format!(
                        "operation {index} is the same event as an earlier one in this submission"
                    ),
                ));
            }
            let encoded = serde_json::to_vec(&submission)
                .map_err(|e| PartyError::Internal(format!("encoding operation {index}: {e}")))?;
            rows.push((event_id, kind, encoded));
        }
        let now = now_micros();
        let ids = write_transaction(&mut *self.db.get()?, |conn| {
            rows.iter()
                .map(|(event_id, kind, encoded)| {
                    diesel::insert_into(outbox::table)
                        .values((
                            outbox::event_id.eq(event_id.0.to_vec()),
                            outbox::kind.eq(kind),
                            outbox::submission.eq(encoded),
                            outbox::status.eq(OutboxStatus::Pending.as_str()),
                            outbox::attempts.eq(0),
                            outbox::next_attempt_at.eq(now),
                            outbox::created_at.eq(now),
                            outbox::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    outbox::table
                        .filter(outbox::event_id.eq(event_id.0.to_vec()))
                        .select(outbox::id)
                        .first::<i64>(conn)
                })
                .collect::<Result<Vec<i64>, diesel::result::Error>>()
        })?;
        self.wake.notify_one();
        let rows: Vec<OutboxRow> = outbox::table
            .filter(outbox::id.eq_any(&ids))
            .order(outbox::id)
            .select(OutboxRow::as_select())
            .load(&mut *self.db.get()?)?;
        rows.into_iter().map(OutboxItem::try_from).collect()
    }

    /// The newest items first, optionally only those with `status`; `limit` is 1 to
    /// [`MAX_LIST_LIMIT`].
    pub fn list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, PartyError> {
        if !(1..=MAX_LIST_LIMIT).contains(&limit) {
            return Err(PartyError::bad_request(
                "invalid_limit",
                format!("limit must be 1 to {MAX_LIST_LIMIT}"),
            ));
        }
        let mut query = outbox::table
            .select(OutboxRow::as_select())
            .order(outbox::id.desc())
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(outbox::status.eq(status.as_str()));
        }
        let rows: Vec<OutboxRow> = query.load(&mut *self.db.get()?)?;
        rows.into_iter().map(OutboxItem::try_from).collect()
    }

    /// The item `id`.
    pub fn get(&self, id: i64) -> Result<OutboxItem, PartyError> {
        load(&mut *self.db.get()?, id)
    }

    /// Wakes the sender (new items, or held items released).
    pub(crate) fn wake(&self) -> &Notify {
        &self.wake
    }

    /// The first pending items in `id` order, at most `max_items` and `max_bytes` of
    /// submissions (but always the first item), if any of them is due at `now` (unix µs).
    pub(crate) fn due(&self, max_items: i64, max_bytes: i64, now: i64) -> Result<Due, PartyError> {
        let mut conn = self.db.get()?;
        let heads: Vec<(i64, i64, i64)> = outbox::table
            .filter(outbox::status.eq(OutboxStatus::Pending.as_str()))
            .order(outbox::id)
            .limit(max_items)
            .select((
                outbox::id,
                diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(length(submission) AS BIGINT)"),
                outbox::next_attempt_at,
            ))
            .load(&mut *conn)?;
        let mut total = 0;
        let batch: Vec<(i64, i64)> = heads
            .iter()
            .enumerate()
            .take_while(|(index, (_, len, _))| {
                total += len;
                *index == 0 || total <= max_bytes
            })
            .map(|(_, (id, _, next))| (*id, *next))
            .collect();
        let Some(earliest) = batch.iter().map(|(_, next)| *next).min() else {
            return Ok(Due::Idle);
        };
        if earliest > now {
            let micros = u64::try_from(earliest - now).unwrap_or_default();
            return Ok(Due::Wait(Duration::from_micros(micros)));
        }
        let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
        let stored: Vec<(i64, Vec<u8>)> = outbox::table
            .filter(outbox::id.eq_any(&ids))
            .order(outbox::id)
            .select((outbox::id, outbox::submission))
            .load(&mut *conn)?;
        let mut batch = Batch {
            ids: Vec::with_capacity(stored.len()),
            submissions: Vec::with_capacity(stored.len()),
        };
        for (id, bytes) in stored {
            let submission = serde_json::from_slice(&bytes).map_err(|e| {
                PartyError::Internal(format!("outbox item {id}: stored submission: {e}"))
            })?;
            batch.ids.push(id);
            batch.submissions.push(submission);
        }
        Ok(Due::Send(batch))
    }

    /// Records a delivery that got no answer: one more attempt, retried after `backoff(attempts)`.
    pub(crate) fn record_failure(
        &self,
        ids: &[i64],
        error: &str,
        backoff: impl Fn(i32) -> Duration,
    ) -> Result<(), PartyError> {
        let now = now_micros();
        write_transaction(&mut *self.db.get()?, |conn| {
            for &id in ids {
                let attempts = outbox::table
                    .find(id)
                    .select(outbox::attempts)
                    .first::<i32>(conn)?
                    .saturating_add(1);
                let delay = i64::try_from(backoff(attempts).as_micros()).unwrap_or(i64::MAX);
                diesel::update(outbox::table.find(id))
                    .set((
                        outbox::attempts.eq(attempts),
                        outbox::next_attempt_at.eq(now.saturating_add(delay)),
                        outbox::last_error.eq(error),
                        outbox::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    }

    /// Records how delivered items ended, in one transaction.
    pub(crate) fn record_outcomes(&self, outcomes: &[(i64, Outcome)]) -> Result<(), PartyError> {
        let now = now_micros();
        let encode = |receipt: &Receipt| {
            serde_json::to_string(receipt)
                .map_err(|e| PartyError::Internal(format!("encoding a receipt: {e}")))
        };
        let mut conn = self.db.get()?;
        write_transaction(&mut conn, |conn| {
            for (id, outcome) in outcomes {
                let target = outbox::table
                    .find(*id)
                    .filter(outbox::status.eq(OutboxStatus::Pending.as_str()));
                let changed = match outcome {
                    Outcome::Accepted(receipt) => diesel::update(target)
                        .set((
                            outbox::status.eq(OutboxStatus::Accepted.as_str()),
                            outbox::receipt.eq(Some(encode(receipt)?)),
                            outbox::last_error.eq(None::<String>),
                            outbox::updated_at.eq(now),
                        ))
                        .execute(conn),
                    Outcome::Rejected { code, message } => diesel::update(target)
                        .set((
                            outbox::status.eq(OutboxStatus::Rejected.as_str()),
                            outbox::rejection_code.eq(Some(code)),
                            outbox::rejection_message.eq(Some(message)),
                            outbox::last_error.eq(None::<String>),
                            outbox::updated_at.eq(now),
                        ))
                        .execute(conn),
                    Outcome::Held { receipt, reason } => diesel::update(target)
                        .set((
                            outbox::status.eq(OutboxStatus::Held.as_str()),
                            outbox::receipt.eq(receipt.as_ref().map(encode).transpose()?),
                            outbox::last_error.eq(Some(reason)),
                            outbox::updated_at.eq(now),
                        ))
                        .execute(conn),
                };
                changed.map_err(PartyError::from)?;
            }
            Ok::<_, PartyError>(())
        })
    }

    /// Puts every held item back to pending (after an operator resolved the witness's alerts)
    /// and wakes the sender; returns how many were released.
    pub(crate) fn release_held(&self) -> Result<usize, PartyError> {
        let now = now_micros();
        let released =
            diesel::update(outbox::table.filter(outbox::status.eq(OutboxStatus::Held.as_str())))
                .set((
                    outbox::status.eq(OutboxStatus::Pending.as_str()),
                    outbox::next_attempt_at.eq(now),
                    outbox::updated_at.eq(now),
                ))
                .execute(&mut *self.db.get()?)?;
        if released > 0 {
            self.wake.notify_one();
        }
        Ok(released)
    }
}

fn load(conn: &mut DbConnection, id: i64) -> Result<OutboxItem, PartyError> {
    outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| PartyError::not_found(format!("there is no outbox item {id}")))?
        .try_into()
}
