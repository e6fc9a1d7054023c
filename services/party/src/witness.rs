//! The witness: this party checks that the log only ever grows (C2SP tlog-witness, in the
//! pull style), and cosigns each checkpoint it verified (C2SP tlog-cosignature).
//!
//! Every checkpoint the party sees — polled from `/checkpoint`, or carried by a receipt — must
//! be signed by the configured log key and be consistent (RFC 9162 §2.1.4) with the latest
//! checkpoint verified before. A signature failure, a second root for the same size, or a
//! proof that fails is evidence of a misbehaving (e.g. forked) log: it is stored as an alert
//! with both checkpoints and the proof, and the witness halts — it neither verifies nor cosigns,
//! and new receipts are held — until an operator resolves the alert.
//!
//! The first checkpoint the witness sees is its starting point: it need only carry a valid
//! signature of the configured log key (which is never learned from the log itself).

use std::sync::Arc;

use diesel::prelude::*;
use pedigree_schema::checkpoint::{CosignatureSigner, SignedCheckpoint};
use pedigree_schema::event::Timestamp;
use pedigree_schema::gs1::Gln;
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteError, NoteVerifier};
use pedigree_schema::receipt::ConsistencyProof;
use serde::Serialize;
use serde_json::json;

use crate::db::schema::{witness_alerts, witnessed_checkpoints};
use crate::db::{blocking, now_micros, write_transaction, Database, DbConnection};
use crate::error::PartyError;
use crate::ledger::{LedgerClient, LedgerError};

/// Most alerts [`Witness::alerts`] returns.
const MAX_ALERTS: i64 = 1000;

/// Why a witness step did not finish; the next poll tries again.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Local(#[from] PartyError),
}

/// The witness's judgement of a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by the log and consistent with everything verified before.
    Consistent,
    /// The witness is halted by the unresolved alert `alert` (possibly raised just now).
    Halted { alert: i64 },
}

/// How [`Witness::judge`] found a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Judged {
    /// Newer than the latest verified, consistent with it, and now stored.
    New,
    /// Consistent with the latest verified, and not newer.
    Known,
    /// Inconsistent: alert `.0` was raised.
    Halted(i64),
}

impl Judged {
    fn verdict(self) -> Verdict {
        match self {
            Self::New | Self::Known => Verdict::Consistent,
            Self::Halted(alert) => Verdict::Halted { alert },
        }
    }
}

/// What `GET /v1/witness` shows.
#[derive(Clone, Debug, Serialize)]
pub struct WitnessStatus {
    /// The latest verified checkpoint's tree size, its signed note, and when it was verified.
    pub tree_size: Option<u64>,
    pub checkpoint: Option<String>,
    pub verified_at: Option<Timestamp>,
    /// Whether an unresolved alert stops the witness.
    pub halted: bool,
    pub open_alerts: i64,
}

/// Evidence that the log misbehaved.
#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    pub id: i64,
    pub detected_at: Timestamp,
    /// `bad_signature`, `split_view`, `inconsistent` or `bad_receipt`.
    pub kind: String,
    pub message: String,
    /// The checkpoints (and proof, receipt) involved, as JSON.
    pub evidence: serde_json::Value,
    pub resolved_at: Option<Timestamp>,
    pub resolved_by: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = witness_alerts)]
struct AlertRow {
    id: i64,
    detected_at: i64,
    kind: String,
    message: String,
    evidence: String,
    resolved_at: Option<i64>,
    resolved_by: Option<String>,
}

impl TryFrom<AlertRow> for Alert {
    type Error = PartyError;

    fn try_from(row: AlertRow) -> Result<Self, PartyError> {
        let corrupt =
            |what: &str| PartyError::Internal(format!("witness alert {}: {what}", row.id));
        let time = |micros: i64| {
            Timestamp::from_unix_micros(micros).ok_or_else(|| corrupt("stored time out of range"))
        };
        Ok(Self {
            id: row.id,
            detected_at: time(row.detected_at)?,
            evidence: serde_json::from_str(&row.evidence)
                .map_err(|e| corrupt(&format!("stored evidence: {e}")))?,
            resolved_at: row.resolved_at.map(time).transpose()?,
            kind: row.kind,
            message: row.message,
            resolved_by: row.resolved_by,
        })
    }
}

/// A new alert, before it is stored.
struct NewAlert {
    kind: &'static str,
    message: String,
    evidence: serde_json::Value,
}

/// The party's witness of the log. Cheap to clone.
#[derive(Clone)]
pub struct Witness {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    ledger: LedgerClient,
    log: NoteVerifier,
    cosigner: CosignatureSigner,
    /// Serialises checks, so the poller and the outbox sender never judge against a stale
    /// "latest verified" checkpoint.
    lock: tokio::sync::Mutex<()>,
}

impl Witness {
    /// A witness named by the party's GLN, cosigning with the party's key.
    pub(crate) fn new(
        db: Database,
        ledger: LedgerClient,
        log: NoteVerifier,
        gln: &Gln,
        key: &SecretKey,
    ) -> Result<Self, NoteError> {
        let cosigner =
            CosignatureSigner::new(KeyName::parse(gln.as_str())?, key.signing_key().clone());
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                ledger,
                log,
                cosigner,
                lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Fetches the log's latest checkpoint, checks it, and cosigns it if this party has not
    /// yet. Does nothing while halted.
    pub async fn poll(&self) -> Result<Verdict, WitnessError> {
        let _checking = self.inner.lock.lock().await;
        if let Some(alert) = self.open_alert().await? {
            return Ok(Verdict::Halted { alert });
        }
        let text = self.inner.ledger.checkpoint().await?;
        let checkpoint = match SignedCheckpoint::parse_and_verify(&text, &self.inner.log) {
            Ok(checkpoint) => checkpoint,
            Err(e) => {
                let previous = self.latest().await?.map(|c| c.to_string());
                let alert = self
                    .raise(NewAlert {
                        kind: "bad_signature",
                        message: format!(
                            "the log's checkpoint does not verify under the configured log key: {e}"
                        ),
                        evidence: json!({ "previous": previous, "observed": text, "error": e.to_string() }),
                    })
                    .await?;
                return Ok(Verdict::Halted { alert });
            }
        };
        let judged = self.judge(&checkpoint).await?;
        let ours = checkpoint
            .note()
            .signatures()
            .iter()
            .any(|line| self.inner.cosigner.verifier().is_key_of(line));
        if !matches!(judged, Judged::Halted(_)) && !ours {
            self.cosign(&checkpoint).await;
        }
        Ok(judged.verdict())
    }

    /// Checks a checkpoint the party received otherwise (in a receipt), already verified
    /// under the log key.
    pub(crate) async fn check(
        &self,
        checkpoint: &SignedCheckpoint,
    ) -> Result<Verdict, WitnessError> {
        let _checking = self.inner.lock.lock().await;
        if let Some(alert) = self.open_alert().await? {
            return Ok(Verdict::Halted { alert });
        }
        let judged = self.judge(checkpoint).await?;
        if judged == Judged::New {
            self.cosign(checkpoint).await;
        }
        Ok(judged.verdict())
    }

    /// Records a receipt that does not verify as an alert, which halts the witness.
    pub(crate) async fn alert_bad_receipt(
        &self,
        message: String,
        evidence: serde_json::Value,
    ) -> Result<i64, PartyError> {
        let _checking = self.inner.lock.lock().await;
        self.raise(NewAlert {
            kind: "bad_receipt",
            message,
            evidence,
        })
        .await
    }

    /// The latest verified checkpoint and whether the witness is halted.
    pub async fn status(&self) -> Result<WitnessStatus, PartyError> {
        blocking(&self.inner.db, |conn| {
            let latest: Option<(i64, String, i64)> = witnessed_checkpoints::table
                .order(witnessed_checkpoints::tree_size.desc())
                .select((
                    witnessed_checkpoints::tree_size,
                    witnessed_checkpoints::note,
                    witnessed_checkpoints::verified_at,
                ))
                .first(conn)
                .optional()?;
            let open_alerts: i64 = witness_alerts::table
                .filter(witness_alerts::resolved_at.is_null())
                .count()
                .get_result(conn)?;
            let (tree_size, checkpoint, verified_at) = match latest {
                Some((size, note, at)) => (
                    u64::try_from(size).ok(),
                    Some(note),
                    Timestamp::from_unix_micros(at),
                ),
                None => (None, None, None),
            };
            Ok(WitnessStatus {
                tree_size,
                checkpoint,
                verified_at,
                halted: open_alerts > 0,
                open_alerts,
            })
        })
        .await
    }

    /// All alerts, newest first.
    pub async fn alerts(&self) -> Result<Vec<Alert>, PartyError> {
        blocking(&self.inner.db, |conn| {
            let rows: Vec<AlertRow> = witness_alerts::table
                .order(witness_alerts::id.desc())
                .limit(MAX_ALERTS)
                .select(AlertRow::as_select())
                .load(conn)?;
            rows.into_iter().map(Alert::try_from).collect()
        })
        .await
    }

    /// Marks alert `id` resolved by `operator`; returns it. The witness resumes once no
    /// alert is open (it goes on from the latest checkpoint it verified).
    pub async fn resolve(&self, id: i64, operator: &str) -> Result<Alert, PartyError> {
        let operator = operator.to_string();
        let _checking = self.inner.lock.lock().await;
        blocking(&self.inner.db, move |conn| {
            write_transaction(conn, |conn| {
                let row: AlertRow = witness_alerts::table
                    .find(id)
                    .select(AlertRow::as_select())
                    .first(conn)
                    .optional()?
                    .ok_or_else(|| PartyError::not_found(format!("there is no alert {id}")))?;
                if row.resolved_at.is_some() {
                    return Err(PartyError::conflict(format!(
                        "alert {id} is already resolved"
                    )));
                }
                diesel::update(witness_alerts::table.find(id))
                    .set((
                        witness_alerts::resolved_at.eq(now_micros()),
                        witness_alerts::resolved_by.eq(&operator),
                    ))
                    .execute(conn)?;
                tracing::warn!(alert = id, %operator, "witness alert resolved");
                witness_alerts::table
                    .find(id)
                    .select(AlertRow::as_select())
                    .first(conn)?
                    .try_into()
            })
        })
        .await
    }

    /// Whether an unresolved alert halts the witness.
    pub async fn is_halted(&self) -> Result<bool, PartyError> {
        Ok(self.open_alert().await?.is_some())
    }

    /// Judges a verified checkpoint against the latest verified one, storing it when it is
    /// new, raising an alert when it is inconsistent. The caller holds the lock.
    async fn judge(&self, checkpoint: &SignedCheckpoint) -> Result<Judged, WitnessError> {
        let Some(previous) = self.latest().await? else {
            self.store(checkpoint).await?;
            return Ok(Judged::New);
        };
        let (old, new) = (previous.checkpoint(), checkpoint.checkpoint());
        if old.size() == new.size() {
            if old.root() == new.root() {
                return Ok(Judged::Known);
            }
            let alert = self
                .raise(NewAlert {
                    kind: "split_view",
                    message: format!(
                        "the log signed two different roots for tree size {}",
                        new.size()
                    ),
                    evidence: json!({
                        "previous": previous.to_string(),
                        "observed": checkpoint.to_string(),
                    }),
                })
                .await?;
            return Ok(Judged::Halted(alert));
        }
        let (older, newer) = if new.size() > old.size() {
            (&previous, checkpoint)
        } else {
            (checkpoint, &previous)
        };
        // Every tree extends the empty tree; RFC 9162 defines no proof from size 0.
        let proof: Option<ConsistencyProof> = match older.checkpoint().size() {
            0 => None,
            size => Some(
                self.inner
                    .ledger
                    .consistency(size, newer.checkpoint().size())
                    .await?,
            ),
        };
        if let Err(e) = proof.as_ref().map_or(Ok(()), |p| p.verify(older, newer)) {
            let alert = self
                .raise(NewAlert {
                    kind: "inconsistent",
                    message: format!(
                        "the log's checkpoint of size {} is not consistent with the one of size {} verified before: {e}",
                        new.size(),
                        old.size()
                    ),
                    evidence: json!({
                        "previous": previous.to_string(),
                        "observed": checkpoint.to_string(),
                        "proof": proof,
                        "error": e.to_string(),
                    }),
                })
                .await?;
            return Ok(Judged::Halted(alert));
        }
        if new.size() > old.size() {
            self.store(checkpoint).await?;
            return Ok(Judged::New);
        }
        Ok(Judged::Known)
    }

    /// Cosigns a verified checkpoint and hands the line to the ledger. A failure is logged, not
    /// fatal: the poller cosigns the latest checkpoint again while it lacks this party's line.
    async fn cosign(&self, checkpoint: &SignedCheckpoint) {
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
        let size = checkpoint.checkpoint().size();
        let line = match self.inner.cosigner.cosign(checkpoint.checkpoint(), now) {
            Ok(line) => line.to_string(),
            Err(e) => {
                tracing::error!(size, error = %e, "cannot cosign a checkpoint");
                return;
            }
        };
        match self.inner.ledger.cosign(size, &line).await {
            Ok(()) => tracing::debug!(size, "cosigned the log's checkpoint"),
            Err(e) => tracing::warn!(size, error = %e, "the ledger did not take the cosignature"),
        }
    }

    async fn open_alert(&self) -> Result<Option<i64>, PartyError> {
        blocking(&self.inner.db, |conn| {
            Ok(witness_alerts::table
                .filter(witness_alerts::resolved_at.is_null())
                .order(witness_alerts::id)
                .select(witness_alerts::id)
                .first(conn)
                .optional()?)
        })
        .await
    }

    /// The latest verified checkpoint, verified again as read back.
    async fn latest(&self) -> Result<Option<SignedCheckpoint>, PartyError> {
        let log = self.inner.log.clone();
        blocking(&self.inner.db, move |conn| latest(conn, &log)).await
    }

    async fn store(&self, checkpoint: &SignedCheckpoint) -> Result<(), PartyError> {
        let size = i64::try_from(checkpoint.checkpoint().size())
            .map_err(|_| PartyError::Internal("a tree size beyond i64".into()))?;
        let note = checkpoint.to_string();
        blocking(&self.inner.db, move |conn| {
            diesel::insert_into(witnessed_checkpoints::table)
                .values((
                    witnessed_checkpoints::tree_size.eq(size),
                    witnessed_checkpoints::note.eq(note),
                    witnessed_checkpoints::verified_at.eq(now_micros()),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn raise(&self, alert: NewAlert) -> Result<i64, PartyError> {
        tracing::error!(kind = alert.kind, message = %alert.message, "witness alert: the log misbehaved; witness halted");
        blocking(&self.inner.db, move |conn| {
            write_transaction(conn, |conn| {
                diesel::insert_into(witness_alerts::table)
                    .values((
                        witness_alerts::detected_at.eq(now_micros()),
                        witness_alerts::kind.eq(alert.kind),
                        witness_alerts::message.eq(&alert.message),
                        witness_alerts::evidence.eq(alert.evidence.to_string()),
                    ))
                    .execute(conn)?;
                Ok(witness_alerts::table
                    .order(witness_alerts::id.desc())
                    .select(witness_alerts::id)
                    .first(conn)?)
            })
        })
        .await
    }
}

fn latest(
    conn: &mut DbConnection,
    log: &NoteVerifier,
) -> Result<Option<SignedCheckpoint>, PartyError> {
    let note: Option<String> = witnessed_checkpoints::table
        .order(witnessed_checkpoints::tree_size.desc())
        .select(witnessed_checkpoints::note)
        .first(conn)
        .optional()?;
    note.map(|note| {
        SignedCheckpoint::parse_and_verify(&note, log).map_err(|e| {
            PartyError::Internal(format!(
                "a stored witnessed checkpoint does not verify: {e}"
            ))
        })
    })
    .transpose()
}

/// Polls the ledger every `interval` until `stop` turns true (or its sender is gone).
pub(crate) async fn run(
    witness: Witness,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        match witness.poll().await {
            Ok(Verdict::Consistent) => {}
            Ok(Verdict::Halted { alert }) => {
                tracing::debug!(alert, "the witness is halted until the alert is resolved")
            }
            Err(WitnessError::Ledger(LedgerError::Refused { status: 404, .. })) => {
                tracing::debug!("the log has no checkpoint yet")
            }
            Err(WitnessError::Ledger(e)) if e.is_retryable() => {
                tracing::debug!(error = %e, "the witness cannot reach the ledger")
            }
            Err(e) => tracing::warn!(error = %e, "the witness could not check the log"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => {}
        }
    }
}
