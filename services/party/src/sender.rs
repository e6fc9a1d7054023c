//! The outbox sender: a task that delivers pending outbox items to the ledger.
//!
//! Items go in `id` order, in batches of at most [`MAX_BATCH_ITEMS`] (and about
//! [`MAX_BATCH_BYTES`]), and delivery stops at the first transport failure, because order
//! matters (a pack is commissioned before it is shipped). An unreachable ledger or a 5xx
//! answer means another attempt later, after an exponential backoff capped at `retry_max`.
//! Every receipt is verified (`Receipt::verify` under the configured log key) and its
//! checkpoint judged by the witness before the item counts as accepted; otherwise it is held.

use std::collections::BTreeMap;
use std::time::Duration;

use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::EventSubmission;
use pedigree_schema::note::NoteVerifier;
use pedigree_schema::receipt::Receipt;
use serde_json::json;
use tokio::sync::watch;

use crate::db::now_micros;
use crate::error::PartyError;
use crate::ledger::{AppendResult, LedgerClient, LedgerError};
use crate::outbox::{Batch, Due, Outbox, Outcome};
use crate::witness::{Verdict, Witness, WitnessError};

/// Most events in one request to the ledger.
pub const MAX_BATCH_ITEMS: i64 = 1000;
/// Most submission bytes in one request (a single larger item still goes alone); well under
/// the ledger's default 64 MiB body limit.
pub const MAX_BATCH_BYTES: i64 = 16 << 20;
/// The first retry delay; each further failure doubles it, up to `retry_max`.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The delay before attempt `attempts + 1`, after `attempts` (≥ 1) failed deliveries.
fn backoff(retry_max: Duration, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0);
    let factor = 1u32.checked_shl(doublings).unwrap_or(u32::MAX);
    FIRST_RETRY.saturating_mul(factor).min(retry_max)
}

/// What the sender does after a step.
enum Step {
    /// Look again at once.
    Continue,
    /// Nothing to send: wait for a submission.
    Idle,
    /// Wait this long (or for a submission).
    Wait(Duration),
}

/// The sender task's state.
pub(crate) struct Sender {
    pub outbox: Outbox,
    pub ledger: LedgerClient,
    pub witness: Witness,
    pub log: NoteVerifier,
    pub retry_max: Duration,
}

impl Sender {
    /// Delivers until `stop` turns true (or its sender is gone). Wakes on submissions and
    /// when a retry is due.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let wait = match self.step().await {
                Ok(Step::Continue) => continue,
                Ok(Step::Idle) => None,
                Ok(Step::Wait(delay)) => Some(delay),
                Err(e) => {
                    tracing::error!(error = %e, "the outbox sender failed; retrying later");
                    Some(self.retry_max)
                }
            };
            tokio::select! {
                () = self.outbox.wake().notified() => {}
                () = pause(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn step(&self) -> Result<Step, PartyError> {
        match self
            .on_outbox(|outbox| outbox.due(MAX_BATCH_ITEMS, MAX_BATCH_BYTES, now_micros()))
            .await?
        {
            Due::Idle => Ok(Step::Idle),
            Due::Wait(delay) => Ok(Step::Wait(delay)),
            Due::Send(batch) => {
                self.deliver(batch).await?;
                Ok(Step::Continue)
            }
        }
    }

    /// Sends a batch. If the ledger refuses the whole request (one malformed event spoils
    /// it), the items go again one by one, in order, so each gets its own answer.
    async fn deliver(&self, batch: Batch) -> Result<(), PartyError> {
        let Batch { ids, submissions } = batch;
        match self.ledger.append(&submissions).await {
            Ok(results) => self.settle(&ids, &submissions, results).await,
            Err(LedgerError::Refused { .. }) if ids.len() > 1 => {
                for (index, (id, submission)) in ids.iter().zip(&submissions).enumerate() {
                    let one = std::slice::from_ref(submission);
                    match self.ledger.append(one).await {
                        Ok(results) => self.settle(&[*id], one, results).await?,
                        Err(error @ LedgerError::Refused { .. }) => {
                            self.refused_or_failed(&[*id], error).await?
                        }
                        Err(error) => {
                            let rest = ids.get(index..).unwrap_or_default();
                            return self.retry_later(rest, error.to_string()).await;
                        }
                    }
                }
                Ok(())
            }
            Err(error) => self.refused_or_failed(&ids, error).await,
        }
    }

    /// A refused single item is rejected; any other failure means a retry of `ids` later.
    async fn refused_or_failed(&self, ids: &[i64], error: LedgerError) -> Result<(), PartyError> {
        match (error, ids) {
            (LedgerError::Refused { code, message, .. }, [id]) => {
                let outcome = vec![(*id, Outcome::Rejected { code, message })];
                self.on_outbox(move |outbox| outbox.record_outcomes(&outcome))
                    .await
            }
            (error, _) => self.retry_later(ids, error.to_string()).await,
        }
    }

    async fn retry_later(&self, ids: &[i64], error: String) -> Result<(), PartyError> {
        tracing::info!(items = ids.len(), %error, "the ledger did not take the outbox items; will retry");
        let ids = ids.to_vec();
        let retry_max = self.retry_max;
        self.on_outbox(move |outbox| {
            outbox.record_failure(&ids, &error, |attempts| backoff(retry_max, attempts))
        })
        .await
    }

    /// Records the ledger's answers: rejections as they are, acceptances once the receipt
    /// verifies and the witness finds its checkpoint consistent.
    async fn settle(
        &self,
        ids: &[i64],
        submissions: &[EventSubmission],
        results: Vec<AppendResult>,
    ) -> Result<(), PartyError> {
        let mut outcomes = Vec::with_capacity(ids.len());
        let mut to_judge: Vec<(i64, Receipt, SignedCheckpoint)> = Vec::new();
        for ((id, submission), result) in ids.iter().zip(submissions).zip(results) {
            match result {
                AppendResult::Rejected { code, message } => {
                    outcomes.push((*id, Outcome::Rejected { code, message }));
                }
                AppendResult::Accepted { receipt } => {
                    match verify_receipt(&self.log, submission, &receipt) {
                        Ok(checkpoint) => to_judge.push((*id, receipt, checkpoint)),
                        Err(reason) => {
                            let evidence = json!({ "receipt": receipt, "error": reason });
                            let alert = self
                                .witness
                                .alert_bad_receipt(format!("outbox item {id}: {reason}"), evidence)
                                .await?;
                            let reason = format!("{reason} (witness alert {alert})");
                            outcomes.push((
                                *id,
                                Outcome::Held {
                                    receipt: Some(receipt),
                                    reason,
                                },
                            ));
                        }
                    }
                }
            }
        }
        // Each distinct checkpoint is judged once, smallest first.
        to_judge.sort_by_key(|(id, _, checkpoint)| (checkpoint.checkpoint().size(), *id));
        let mut verdicts: BTreeMap<(u64, [u8; 32]), Result<Verdict, String>> = BTreeMap::new();
        let mut unconfirmed = Vec::new();
        for (id, receipt, checkpoint) in to_judge {
            let tree = checkpoint.checkpoint();
            let key = (tree.size(), *tree.root());
            let verdict = match verdicts.get(&key) {
                Some(verdict) => verdict.clone(),
                None => {
                    let verdict = match self.witness.check(&checkpoint).await {
                        Ok(verdict) => Ok(verdict),
                        Err(WitnessError::Ledger(e)) => Err(e.to_string()),
                        Err(WitnessError::Local(e)) => return Err(e),
                    };
                    verdicts.insert(key, verdict.clone());
                    verdict
                }
            };
            match verdict {
                Ok(Verdict::Consistent) => outcomes.push((id, Outcome::Accepted(receipt))),
                Ok(Verdict::Halted { alert }) => outcomes.push((
                    id,
                    Outcome::Held {
                        receipt: Some(receipt),
                        reason: format!(
                            "the witness is halted by alert {alert}: the log's checkpoint cannot be trusted"
                        ),
                    },
                )),
                // The ledger has the event; it is sent again (idempotently) to get a
                // receipt the witness can check.
                Err(error) => unconfirmed.push((id, error)),
            }
        }
        self.on_outbox(move |outbox| outbox.record_outcomes(&outcomes))
            .await?;
        for (id, error) in unconfirmed {
            self.retry_later(
                &[id],
                format!("cannot check the receipt's checkpoint: {error}"),
            )
            .await?;
        }
        Ok(())
    }

    /// Runs `work` on the outbox on the blocking pool.
    async fn on_outbox<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Outbox) -> Result<T, PartyError> + Send + 'static,
    ) -> Result<T, PartyError> {
        let outbox = self.outbox.clone();
        actix_web::web::block(move || work(&outbox)).await?
    }
}

/// Checks that a receipt is for this submission's event and proves it is in a checkpoint
/// signed by the log; returns that checkpoint.
fn verify_receipt(
    log: &NoteVerifier,
    submission: &EventSubmission,
    receipt: &Receipt,
) -> Result<SignedCheckpoint, String> {
    let encoded = submission
        .signed
        .encode()
        .map_err(|e| format!("cannot encode the stored event: {e}"))?;
    if receipt.event_id != encoded.id {
        return Err(format!(
            "the receipt is for event {}, not {}",
            receipt.event_id, encoded.id
        ));
    }
    receipt
        .verify(log, &encoded.entry)
        .map_err(|e| format!("the receipt does not verify: {e}"))
}

/// Sleeps for `wait`, or forever without one.
async fn pause(wait: Option<Duration>) {
    match wait {
        Some(delay) => tokio::time::sleep(delay).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_up_to_the_cap() {
        let cap = Duration::from_secs(30);
        let delays: Vec<u64> = (1..=7).map(|a| backoff(cap, a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(
            backoff(cap, i32::MAX),
            cap,
            "no overflow at huge attempt counts"
        );
        assert_eq!(
            backoff(Duration::from_millis(200), 1),
            Duration::from_millis(200)
        );
    }
}
