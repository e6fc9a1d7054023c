//! Counterfeit-risk scoring of verifications (`pedigree-risk`), and the
//! regulators' queue of risk alerts.
//!
//! A verification is scored when a registered party asks for a pack's status
//! with a signed request, or appends a `verify` event. The features come
//! from the pack's stored history (one indexed query over `item_history`,
//! O(history)), its state row, and the scanning party's registered location;
//! scores at or above the model's alert threshold are queued for regulators
//! ([`crate::alerts`]), as are the rules' findings on the same verification.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use diesel::prelude::*;
use pedigree_risk::{extract, HistoryEvent, PackState, RiskScore, ScanContext, Scorer};
use pedigree_schema::event::{GeoPoint, Role, SignedEvent};
use pedigree_schema::gs1::{Expiry, Lot, PackId};

use crate::alerts::{self, NewAlert, CLASSIFIER};
use crate::custody::pack_item;
use crate::db::schema::{item_history, log_entries, parties};
use crate::db::{write_transaction, DbConnection};
use crate::error::ApiError;
use crate::queries::{self, Alert, PackFacts, PackStatus};
use crate::rejection::RejectCode;

const HOUR_MICROS: i64 = 3_600_000_000;

/// One verification to score.
pub struct Verification<'a> {
    pub pack: &'a PackId,
    /// GLN of the verifying party.
    pub party: &'a str,
    /// Unix microseconds.
    pub time: i64,
    /// Only history entries before this log index count (the verify event
    /// being scored is not its own history); `None`: all of it.
    pub before_idx: Option<i64>,
    /// The scanned lot or expiry differs from the batch's.
    pub code_mismatch: bool,
    /// The lot the scanned code names, if it names one.
    pub scanned_lot: Option<&'a str>,
    pub today: chrono::NaiveDate,
}

/// A verification as asked for: the pack and what its code carries, who
/// verified it and when.
pub struct Scan {
    pub pack: PackId,
    pub lot: Option<Lot>,
    pub expiry: Option<Expiry>,
    /// GLN of the verifying party.
    pub party: String,
    /// Unix microseconds.
    pub time: i64,
    /// See [`Verification::before_idx`].
    pub before_idx: Option<i64>,
}

/// The shipped model and the recent unknown-serial scans per party (kept
/// in memory: a burst detector needs the last hour only).
pub struct RiskEngine {
    scorer: Scorer,
    unknown_scans: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl RiskEngine {
    pub fn new(scorer: Scorer) -> Self {
        Self {
            scorer,
            unknown_scans: Mutex::new(HashMap::new()),
        }
    }

    /// Judges each scan's pack (its FMD status), scores the scan, and queues
    /// the alerts they raise. The reads run in one read transaction (one
    /// snapshot, and no locking per statement); the alerts are written
    /// after it, in one write transaction, so a read transaction never has
    /// to become a writer (which SQLite refuses once another writer has
    /// committed).
    pub fn verify_and_score(
        &self,
        conn: &mut DbConnection,
        scans: &[Scan],
        today: chrono::NaiveDate,
    ) -> Result<Vec<PackStatus>, ApiError> {
        let mut raised = Vec::new();
        let mut parties = PartyRows::default();
        let statuses = conn.transaction(|conn| {
            scans
                .iter()
                .map(|scan| {
                    let (mut status, facts) = queries::pack_status_with_facts(
                        conn,
                        &scan.pack,
                        scan.lot.as_ref(),
                        scan.expiry.as_ref(),
                        today,
                    )?;
                    let verification = Verification {
                        pack: &scan.pack,
                        party: &scan.party,
                        time: scan.time,
                        before_idx: scan.before_idx,
                        code_mismatch: status.code_mismatch(),
                        scanned_lot: scan.lot.as_ref().map(Lot::as_str),
                        today,
                    };
                    self.assess_status(
                        conn,
                        &verification,
                        &facts,
                        &mut parties,
                        &mut status,
                        &mut raised,
                    )?;
                    Ok(status)
                })
                .collect::<Result<Vec<_>, ApiError>>()
        })?;
        if !raised.is_empty() {
            write_transaction(conn, |conn| alerts::raise(conn, &raised))?;
        }
        Ok(statuses)
    }

    /// Scores a verification and folds the score into the status: at or
    /// above the alert threshold the pack is not fit to supply, whatever the
    /// per-pack rules say, and the reasons become a `suspect_counterfeit`
    /// alert. A registered party's verification that the rules alert on is
    /// queued for regulators too (into `raised`).
    fn assess_status(
        &self,
        conn: &mut DbConnection,
        scan: &Verification<'_>,
        facts: &PackFacts,
        parties: &mut PartyRows,
        status: &mut PackStatus,
        raised: &mut Vec<NewAlert>,
    ) -> Result<(), ApiError> {
        status.risk = self.assess(conn, scan, facts, parties, raised)?;
        if status.risk.is_some() {
            raised.extend(alerts::rule_alerts(
                scan.pack,
                scan.party,
                scan.scanned_lot,
                status,
                facts,
            ));
        }
        if let Some(risk) = status
            .risk
            .as_ref()
            .filter(|r| r.score >= self.scorer.alert_threshold())
        {
            status.ok_to_supply = false;
            status.alerts.push(Alert {
                code: RejectCode::SuspectCounterfeit,
                message: format!(
                    "counterfeit risk {:.2}: {}",
                    risk.score,
                    if risk.reasons.is_empty() {
                        "an unusual pattern".to_string()
                    } else {
                        risk.reasons.join("; ")
                    }
                ),
            });
        }
        Ok(())
    }

    /// Counts `party`'s unknown-serial scans in the hour before `time`, and
    /// records this one when `unknown`.
    fn unknown_scans_before(&self, party: &str, time: i64, unknown: bool) -> u32 {
        let mut scans = self
            .unknown_scans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let recent = scans.entry(party.to_string()).or_default();
        while recent.front().is_some_and(|&t| t <= time - HOUR_MICROS) {
            recent.pop_front();
        }
        let count = recent.len() as u32;
        if unknown {
            recent.push_back(time);
        }
        count
    }

    /// Scores a verification of the pack `facts` describe (read for its
    /// status); adds an alert to `raised` when the score reaches the
    /// threshold. `None` when the party is not registered.
    pub fn assess(
        &self,
        conn: &mut DbConnection,
        scan: &Verification<'_>,
        facts: &PackFacts,
        parties: &mut PartyRows,
        raised: &mut Vec<NewAlert>,
    ) -> Result<Option<RiskScore>, ApiError> {
        let Some((role, place)) = parties
            .get(conn, scan.party)?
            .map(|p| (p.role.clone(), p.place))
        else {
            return Ok(None);
        };
        let role = Role::parse(&role)
            .ok_or_else(|| ApiError::Internal(format!("party {} has role {role}", scan.party)))?;
        let history = history(conn, scan.pack, scan.before_idx, parties)?;
        let mut state = PackState {
            product_known: facts.product_name.is_some(),
            ..PackState::default()
        };
        if let Some(row) = &facts.row {
            state.known = true;
            state.recalled = facts.recalled();
            state.expired = facts
                .batch
                .as_ref()
                .is_some_and(|b| b.is_expired_on(scan.today));
            state.custodian_place = parties.place(conn, &row.custodian)?;
            state.custodian = Some(row.custodian.clone());
            state.status = row.status.clone();
        }
        let context = ScanContext {
            party: scan.party.to_string(),
            role,
            place,
            time: scan.time,
            code_mismatch: scan.code_mismatch,
            party_unknown_scans_1h: self.unknown_scans_before(scan.party, scan.time, !state.known),
        };
        let risk = self.scorer.score(&extract(&history, &state, &context));
        if risk.score >= self.scorer.alert_threshold() {
            raised.push(NewAlert {
                source: CLASSIFIER.to_string(),
                pack: scan.pack.clone(),
                lot: facts
                    .row
                    .as_ref()
                    .map(|r| r.lot.clone())
                    .or(scan.scanned_lot.map(str::to_string)),
                party: scan.party.to_string(),
                score: risk.score,
                reasons: risk.reasons.clone(),
            });
        }
        Ok(Some(risk))
    }
}

fn geo(lat: Option<i32>, lon: Option<i32>) -> Option<GeoPoint> {
    Some(GeoPoint {
        lat_e6: lat?,
        lon_e6: lon?,
    })
}

/// Registered parties' roles and places, read once per
/// [`RiskEngine::verify_and_score`]: its reads share one snapshot, so a row
/// cannot change between the scans of a request, and a request of 1 000
/// verifications by one pharmacy reads that pharmacy (and the holders its
/// packs passed through) once. Point queries: their statements stay
/// prepared, where an `IN` list of varying length is prepared anew.
#[derive(Default)]
pub struct PartyRows(HashMap<String, Option<PartyRow>>);

struct PartyRow {
    role: String,
    place: Option<GeoPoint>,
}

impl PartyRows {
    /// `None` when `gln` is not a registered party.
    fn get(&mut self, conn: &mut DbConnection, gln: &str) -> Result<Option<&PartyRow>, ApiError> {
        if !self.0.contains_key(gln) {
            let row: Option<(String, Option<i32>, Option<i32>)> = parties::table
                .find(gln)
                .select((parties::role, parties::lat_e6, parties::lon_e6))
                .first(conn)
                .optional()?;
            let row = row.map(|(role, lat, lon)| PartyRow {
                role,
                place: geo(lat, lon),
            });
            self.0.insert(gln.to_string(), row);
        }
        Ok(self.0.get(gln).and_then(Option::as_ref))
    }

    fn place(&mut self, conn: &mut DbConnection, gln: &str) -> Result<Option<GeoPoint>, ApiError> {
        Ok(self.get(conn, gln)?.and_then(|p| p.place))
    }
}

/// The pack's history in log order, each event placed at its actor.
fn history(
    conn: &mut DbConnection,
    pack: &PackId,
    before_idx: Option<i64>,
    parties: &mut PartyRows,
) -> Result<Vec<HistoryEvent>, ApiError> {
    let indices: Vec<i64> = item_history::table
        .filter(item_history::item.eq(pack_item(pack)))
        .filter(item_history::entry_idx.lt(before_idx.unwrap_or(i64::MAX)))
        .order(item_history::entry_idx)
        .select(item_history::entry_idx)
        .load(conn)?;
    // Point lookups by primary key rather than a join: PostgreSQL keeps a
    // generic plan for a prepared statement, and a join planned while the
    // tables were small went on scanning the log (1.4 ms per verification,
    // measured under the HTTP benchmark). A pack's history is a handful of
    // entries; these statements stay prepared and indexed on both backends.
    indices
        .into_iter()
        .map(|idx| {
            let entry: Vec<u8> = log_entries::table
                .find(idx)
                .select(log_entries::entry)
                .first(conn)?;
            let signed = SignedEvent::from_entry_bytes(&entry)
                .map_err(|e| ApiError::Internal(format!("entry {idx}: {e}")))?;
            let place = parties.place(conn, signed.event.actor.as_str())?;
            Ok(HistoryEvent::from_event(&signed.event, place))
        })
        .collect()
}
