//! The regulators' alert queue: alerts raised on verifications by the risk
//! model (source `classifier`) and by the FMD-style rules (source: the
//! rule's code, e.g. `serial_unknown`), their triage, and their notes.
//!
//! Operational data, not derived from the log: the audit neither rebuilds
//! nor compares it. Triage moves an alert through
//! `open → investigating → closed_false_positive | closed_confirmed`; a
//! closed alert may be reopened. Every move, and every note, is kept as
//! history (who, when, from which state to which, what they wrote).

pub mod http;
pub mod region;

use diesel::prelude::*;
use pedigree_schema::event::Role;
use pedigree_schema::gs1::PackId;
use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::error::ApiError;
use crate::log::MAX_BOUND_PARAMETERS;
use crate::queries::{Caller, PackFacts, PackStatus};
use crate::rejection::RejectCode;

diesel::table! {
    /// Alerts raised on verifications (migrations `2026-11-27-000003_risk_alerts` and
    /// `2026-11-28-000041_alert_triage`).
    risk_alerts (id) {
        id -> BigInt,
        created_at -> BigInt,
        gtin -> Text,
        serial -> Text,
        party -> Text,
        score -> Double,
        reasons -> Text,
        state -> Text,
        source -> Text,
        lot -> Nullable<Text>,
        region -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// The triage history of an alert.
    risk_alert_notes (id) {
        id -> BigInt,
        alert_id -> BigInt,
        author -> Text,
        author_party -> Text,
        written_at -> BigInt,
        from_state -> Text,
        to_state -> Text,
        note -> Text,
    }
}

/// Where an alert comes from when the risk model raised it.
pub const CLASSIFIER: &str = "classifier";
/// Longest triage note, in characters.
pub const MAX_NOTE_CHARS: usize = 4_000;
/// Most alerts in one page.
pub const MAX_PAGE: u32 = 1_000;

/// The triage state of an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageState {
    Open,
    Investigating,
    ClosedFalsePositive,
    ClosedConfirmed,
}

impl TriageState {
    pub const ALL: [TriageState; 4] = [
        Self::Open,
        Self::Investigating,
        Self::ClosedFalsePositive,
        Self::ClosedConfirmed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Investigating => "investigating",
            Self::ClosedFalsePositive => "closed_false_positive",
            Self::ClosedConfirmed => "closed_confirmed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A label for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Investigating => "Investigating",
            Self::ClosedFalsePositive => "Closed: false positive",
            Self::ClosedConfirmed => "Closed: confirmed",
        }
    }

    pub fn is_closed(self) -> bool {
        matches!(self, Self::ClosedFalsePositive | Self::ClosedConfirmed)
    }

    /// Whether triage may move an alert from `self` to `to`: forward from
    /// open or investigating, and a closed alert only back to open.
    pub fn may_become(self, to: TriageState) -> bool {
        match self {
            Self::Open => to != Self::Open,
            Self::Investigating => to.is_closed(),
            Self::ClosedFalsePositive | Self::ClosedConfirmed => to == Self::Open,
        }
    }
}

/// The rule codes that raise an alert when a verification finds them. An
/// in-transit pack is not suspicious in itself (FMD raises nothing either).
const ALERTING_RULES: [RejectCode; 7] = [
    RejectCode::ProductUnknown,
    RejectCode::SerialUnknown,
    RejectCode::AlreadyDecommissioned,
    RejectCode::Recalled,
    RejectCode::Expired,
    RejectCode::BatchMismatch,
    RejectCode::ExpiryMismatch,
];

/// A new alert.
pub struct NewAlert {
    /// [`CLASSIFIER`], or the rule's code.
    pub source: String,
    pub pack: PackId,
    /// The batch the pack belongs to (or the one its code names when the
    /// pack is unknown).
    pub lot: Option<String>,
    /// GLN of the verifying party.
    pub party: String,
    pub score: f64,
    pub reasons: Vec<String>,
}

/// Queues alerts, in one multi-row statement per chunk.
pub fn raise(conn: &mut DbConnection, alerts: &[NewAlert]) -> Result<(), ApiError> {
    let now = chrono::Utc::now().timestamp_micros();
    let rows = alerts
        .iter()
        .map(|alert| {
            let reasons = serde_json::to_string(&alert.reasons)
                .map_err(|e| ApiError::Internal(format!("alert reasons: {e}")))?;
            Ok((
                risk_alerts::created_at.eq(now),
                risk_alerts::updated_at.eq(now),
                risk_alerts::source.eq(alert.source.as_str()),
                risk_alerts::gtin.eq(alert.pack.gtin.as_str()),
                risk_alerts::serial.eq(alert.pack.serial.as_str()),
                risk_alerts::lot.eq(alert.lot.as_deref()),
                risk_alerts::party.eq(alert.party.as_str()),
                risk_alerts::region.eq(region::of_gln(&alert.party)),
                risk_alerts::score.eq(alert.score),
                risk_alerts::reasons.eq(reasons),
                risk_alerts::state.eq(TriageState::Open.as_str()),
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    for chunk in rows.chunks(MAX_BOUND_PARAMETERS / 11) {
        on_backend!(conn, |c| diesel::insert_into(risk_alerts::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// The alerts a registered party's verification raises: one per alerting
/// rule the status found. A rule alert is a certainty that the rule fired:
/// it ranks with score 1. A pharmacist verifying a pack it dispensed itself
/// raises nothing for it being decommissioned.
pub fn rule_alerts(
    pack: &PackId,
    party: &str,
    scanned_lot: Option<&str>,
    status: &PackStatus,
    facts: &PackFacts,
) -> Vec<NewAlert> {
    let lot = status.lot.as_deref().or(scanned_lot);
    let dispensed_by_party = facts
        .row
        .as_ref()
        .is_some_and(|row| row.decommissioned_by.as_deref() == Some(party));
    status
        .alerts
        .iter()
        .filter(|a| ALERTING_RULES.contains(&a.code))
        .filter(|a| !(a.code == RejectCode::AlreadyDecommissioned && dispensed_by_party))
        .map(|alert| NewAlert {
            source: alert.code.as_str(),
            pack: pack.clone(),
            lot: lot.map(str::to_string),
            party: party.to_string(),
            score: 1.0,
            reasons: vec![alert.message.clone()],
        })
        .collect()
}

/// A queued alert, as regulators read it.
#[derive(Clone, Debug, Serialize)]
pub struct QueuedAlert {
    pub id: i64,
    /// Unix microseconds.
    pub created_at: i64,
    /// Unix microseconds of the last triage.
    pub updated_at: i64,
    /// `classifier`, or the code of the rule that raised it.
    pub source: String,
    pub gtin: String,
    pub serial: String,
    pub lot: Option<String>,
    /// GLN of the verifying party.
    pub party: String,
    /// See [`region`].
    pub region: Option<String>,
    pub score: f64,
    pub reasons: Vec<String>,
    pub state: TriageState,
}

/// A stored alert, as `risk_alerts` holds it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = risk_alerts)]
struct AlertRow {
    id: i64,
    created_at: i64,
    gtin: String,
    serial: String,
    party: String,
    score: f64,
    reasons: String,
    state: String,
    source: String,
    lot: Option<String>,
    region: Option<String>,
    updated_at: i64,
}

impl QueuedAlert {
    fn from_row(row: AlertRow) -> Result<Self, ApiError> {
        let id = row.id;
        Ok(Self {
            id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            source: row.source,
            gtin: row.gtin,
            serial: row.serial,
            lot: row.lot,
            party: row.party,
            region: row.region,
            score: row.score,
            reasons: serde_json::from_str(&row.reasons)
                .map_err(|e| ApiError::Internal(format!("alert {id}: reasons: {e}")))?,
            state: TriageState::parse(&row.state)
                .ok_or_else(|| ApiError::Internal(format!("alert {id}: state {}", row.state)))?,
        })
    }
}

/// One entry of an alert's triage history.
#[derive(Clone, Debug, Serialize)]
pub struct TriageNote {
    /// The dashboard login, or the GLN of a signed request.
    pub author: String,
    /// GLN of the author's party.
    pub author_party: String,
    /// Unix microseconds.
    pub written_at: i64,
    pub from_state: TriageState,
    pub to_state: TriageState,
    pub note: String,
}

/// An alert with its triage history, oldest first.
#[derive(Clone, Debug, Serialize)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: QueuedAlert,
    pub notes: Vec<TriageNote>,
}

/// Which alerts to list; every field narrows.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertFilter {
    /// A triage state, or `any`; open alerts when absent.
    pub state: Option<String>,
    /// `classifier` or a rule code.
    pub source: Option<String>,
    /// GTIN of the product.
    pub product: Option<String>,
    /// Lot of the batch.
    pub batch: Option<String>,
    /// GLN of the verifying party.
    pub party: Option<String>,
    /// Region code (see [`region`]).
    pub region: Option<String>,
    /// Raised at or after: RFC 3339 date-time, or a date (its start, UTC).
    pub from: Option<String>,
    /// Raised before: RFC 3339 date-time, or a date (through its end, UTC).
    pub to: Option<String>,
    /// Page size, 1 to [`MAX_PAGE`] (100 when absent).
    pub limit: Option<u32>,
    /// The id of the last alert of the previous page.
    pub after: Option<i64>,
}

/// A page of the queue, highest score first (ties: oldest first).
#[derive(Clone, Debug, Serialize)]
pub struct AlertPage {
    pub alerts: Vec<QueuedAlert>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

fn bad_filter(message: String) -> ApiError {
    ApiError::bad_request("bad_filter", message)
}

/// `text` without surrounding blanks, or `None` when nothing is left (an
/// empty form field means "any").
fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// A `from`/`to` bound in unix microseconds; a date's end bound is the
/// start of the next day.
fn time_bound(field: &str, text: &str, end: bool) -> Result<i64, ApiError> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_micros());
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        bad_filter(format!(
            "{field} must be an RFC 3339 date-time or a date (YYYY-MM-DD), got {text:?}"
        ))
    })?;
    let day = if end {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(day
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_micros()))
}

fn require_regulator(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Regulator {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "party {} is not a regulator: only regulators read and triage alerts",
            caller.gln
        )))
    }
}

/// A page of the alert queue (regulators only).
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    filter: &AlertFilter,
) -> Result<AlertPage, ApiError> {
    require_regulator(caller)?;
    let limit = filter.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad_filter(format!(
            "limit must be 1 to {MAX_PAGE}, got {limit}"
        )));
    }
    let mut query = risk_alerts::table.into_boxed();
    match given(&filter.state) {
        Some("any") => {}
        Some(text) => {
            let state = TriageState::parse(text).ok_or_else(|| {
                bad_filter(format!(
                    "state must be open, investigating, closed_false_positive, closed_confirmed or any, got {text:?}"
                ))
            })?;
            query = query.filter(risk_alerts::state.eq(state.as_str()));
        }
        None => query = query.filter(risk_alerts::state.eq(TriageState::Open.as_str())),
    }
    if let Some(source) = given(&filter.source) {
        query = query.filter(risk_alerts::source.eq(source.to_string()));
    }
    if let Some(gtin) = given(&filter.product) {
        query = query.filter(risk_alerts::gtin.eq(gtin.to_string()));
    }
    if let Some(lot) = given(&filter.batch) {
        query = query.filter(risk_alerts::lot.eq(lot.to_string()));
    }
    if let Some(party) = given(&filter.party) {
        query = query.filter(risk_alerts::party.eq(party.to_string()));
    }
    if let Some(code) = given(&filter.region) {
        let code = code.to_ascii_uppercase();
        if !region::is_code(&code) {
            return Err(bad_filter(format!(
                "region must be a two-letter country code, got {code:?}"
            )));
        }
        query = query.filter(risk_alerts::region.eq(code));
    }
    if let Some(from) = given(&filter.from) {
        query = query.filter(risk_alerts::created_at.ge(time_bound("from", from, false)?));
    }
    if let Some(to) = given(&filter.to) {
        query = query.filter(risk_alerts::created_at.lt(time_bound("to", to, true)?));
    }
    if let Some(after) = filter.after {
        let score: f64 = risk_alerts::table
            .find(after)
            .select(risk_alerts::score)
            .first(conn)
            .optional()?
            .ok_or_else(|| bad_filter(format!("after: there is no alert {after}")))?;
        query = query.filter(
            risk_alerts::score
                .lt(score)
                .or(risk_alerts::score.eq(score).and(risk_alerts::id.gt(after))),
        );
    }
    let rows: Vec<AlertRow> = query
        .select(AlertRow::as_select())
        .order((risk_alerts::score.desc(), risk_alerts::id))
        .limit(i64::from(limit) + 1)
        .load(conn)?;
    let mut alerts = rows
        .into_iter()
        .map(QueuedAlert::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next_after = if alerts.len() > limit as usize {
        alerts.truncate(limit as usize);
        alerts.last().map(|a| a.id)
    } else {
        None
    };
    Ok(AlertPage { alerts, next_after })
}

fn load_alert(conn: &mut DbConnection, id: i64) -> Result<QueuedAlert, ApiError> {
    let row: AlertRow = risk_alerts::table
        .find(id)
        .select(AlertRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("there is no alert {id}")))?;
    QueuedAlert::from_row(row)
}

/// An alert and its triage history (regulators only).
pub fn detail(conn: &mut DbConnection, caller: &Caller, id: i64) -> Result<AlertDetail, ApiError> {
    require_regulator(caller)?;
    let alert = load_alert(conn, id)?;
    let rows: Vec<(String, String, i64, String, String, String)> = risk_alert_notes::table
        .filter(risk_alert_notes::alert_id.eq(id))
        .order(risk_alert_notes::id)
        .select((
            risk_alert_notes::author,
            risk_alert_notes::author_party,
            risk_alert_notes::written_at,
            risk_alert_notes::from_state,
            risk_alert_notes::to_state,
            risk_alert_notes::note,
        ))
        .load(conn)?;
    let state = |text: &str| {
        TriageState::parse(text)
            .ok_or_else(|| ApiError::Internal(format!("alert {id}: note state {text}")))
    };
    let notes = rows
        .into_iter()
        .map(|(author, author_party, written_at, from, to, note)| {
            Ok(TriageNote {
                author,
                author_party,
                written_at,
                from_state: state(&from)?,
                to_state: state(&to)?,
                note,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(AlertDetail { alert, notes })
}

/// A triage step: a new state, a note, or both.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Triage {
    /// The state to move to; absent: a note only.
    pub state: Option<TriageState>,
    #[serde(default)]
    pub note: String,
}

/// Applies a triage step by `author` (a dashboard login or a GLN) of the
/// caller's party. Closing or reopening needs a note saying why.
pub fn triage(
    conn: &mut DbConnection,
    caller: &Caller,
    author: &str,
    id: i64,
    step: &Triage,
) -> Result<AlertDetail, ApiError> {
    require_regulator(caller)?;
    let note = step.note.trim();
    if note.chars().count() > MAX_NOTE_CHARS
        || note
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ApiError::unprocessable(
            "invalid_note",
            format!("a note is at most {MAX_NOTE_CHARS} characters, without control characters"),
        ));
    }
    conn.transaction(|conn| {
        let current = load_alert(conn, id)?.state;
        let to = step.state.unwrap_or(current);
        if step.state.is_some() && to == current {
            return Err(ApiError::conflict(
                "already_in_state",
                format!("alert {id} is already {}", current.as_str()),
            ));
        }
        if to != current && !current.may_become(to) {
            return Err(ApiError::conflict(
                "invalid_transition",
                format!(
                    "alert {id} is {} and cannot become {}: {}",
                    current.as_str(),
                    to.as_str(),
                    if current.is_closed() {
                        "a closed alert can only be reopened"
                    } else {
                        "an alert under investigation can only be closed"
                    }
                ),
            ));
        }
        if note.is_empty() && (to == current || to.is_closed() || current.is_closed()) {
            return Err(ApiError::unprocessable(
                "note_required",
                "say why: closing or reopening an alert, or adding to its history, needs a note",
            ));
        }
        let now = chrono::Utc::now().timestamp_micros();
        let moved = diesel::update(
            risk_alerts::table
                .filter(risk_alerts::id.eq(id))
                .filter(risk_alerts::state.eq(current.as_str())),
        )
        .set((
            risk_alerts::state.eq(to.as_str()),
            risk_alerts::updated_at.eq(now),
        ))
        .execute(conn)?;
        if moved != 1 {
            return Err(ApiError::conflict(
                "concurrent_triage",
                format!("alert {id} was triaged by someone else meanwhile; reload it"),
            ));
        }
        diesel::insert_into(risk_alert_notes::table)
            .values((
                risk_alert_notes::alert_id.eq(id),
                risk_alert_notes::author.eq(author),
                risk_alert_notes::author_party.eq(&caller.gln),
                risk_alert_notes::written_at.eq(now),
                risk_alert_notes::from_state.eq(current.as_str()),
                risk_alert_notes::to_state.eq(to.as_str()),
                risk_alert_notes::note.eq(note),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    detail(conn, caller, id)
}

#[cfg(test)]
mod tests {
    use super::TriageState::*;

    #[test]
    fn closed_alerts_only_reopen_and_investigations_only_close() {
        assert!(Open.may_become(Investigating));
        assert!(Open.may_become(ClosedConfirmed));
        assert!(!Open.may_become(Open));
        assert!(Investigating.may_become(ClosedFalsePositive));
        assert!(!Investigating.may_become(Open));
        assert!(ClosedConfirmed.may_become(Open));
        assert!(!ClosedConfirmed.may_become(Investigating));
        assert!(!ClosedFalsePositive.may_become(ClosedConfirmed));
    }
}
