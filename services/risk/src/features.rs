//! The feature vector of one verification: what the pack's custody history
//! and the scan's context say, as [`FEATURE_COUNT`] numbers.
//!
//! Extraction is pure and deterministic: the same history and context give
//! the same vector on the ledger (from its stored history) and in the
//! simulator (from the events it signs). Every feature is documented in
//! `services/risk/README.md`; distances are great-circle kilometres between
//! registered party locations (or a verify event's own location), times are
//! hours. Counts and magnitudes are `ln(1 + x)` so that trees and the linear
//! model see comparable scales.

use pedigree_schema::event::{DecommissionReason, Event, EventBody, GeoPoint, Role};

/// One event of a pack's custody history, reduced to what scoring needs.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEvent {
    pub kind: HistoryKind,
    /// GLN of the acting party.
    pub actor: String,
    /// Unix microseconds (the event's own time).
    pub time: i64,
    /// Where it happened: the verify event's location, else the actor's
    /// registered location.
    pub place: Option<GeoPoint>,
}

/// The custody-relevant kinds of event in a pack's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryKind {
    Commission,
    /// A shipment to `to`; `is_return` for a return up the chain.
    Ship {
        to: String,
        is_return: bool,
    },
    Receive,
    Decommission(DecommissionReason),
    Reactivate,
    Verify,
    /// Packing, unpacking and anything else that does not move custody.
    Other,
}

impl HistoryEvent {
    /// Reduces a custody event; `actor_place` is the actor's registered
    /// location, used unless a verify event carries its own.
    pub fn from_event(event: &Event, actor_place: Option<GeoPoint>) -> Self {
        let (kind, own_place) = match &event.body {
            EventBody::Commission { .. } => (HistoryKind::Commission, None),
            EventBody::Ship { to, purpose, .. } => (
                HistoryKind::Ship {
                    to: to.to_string(),
                    is_return: *purpose == pedigree_schema::event::ShipmentPurpose::Return,
                },
                None,
            ),
            EventBody::Receive { .. } => (HistoryKind::Receive, None),
            EventBody::Decommission { reason, .. } => (HistoryKind::Decommission(*reason), None),
            EventBody::Reactivate { .. } => (HistoryKind::Reactivate, None),
            EventBody::Verify { location, .. } => (HistoryKind::Verify, *location),
            _ => (HistoryKind::Other, None),
        };
        Self {
            kind,
            actor: event.actor.to_string(),
            time: event.time.unix_micros(),
            place: own_place.or(actor_place),
        }
    }
}

/// The pack's state when it is scanned, as the ledger stores it (or as
/// [`PackState::replay`] derives it).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PackState {
    /// False when no such pack was ever commissioned.
    pub known: bool,
    pub product_known: bool,
    /// `active`, `in_transit` or `decommissioned` (the ledger's statuses).
    pub status: String,
    pub custodian: Option<String>,
    pub custodian_place: Option<GeoPoint>,
    pub recalled: bool,
    pub expired: bool,
}

impl PackState {
    /// The state a history leads to, for callers that keep no state table
    /// (the simulator). Recall and expiry are batch facts given by the caller.
    pub fn replay(
        history: &[HistoryEvent],
        place_of: impl Fn(&str) -> Option<GeoPoint>,
        recalled: bool,
        expired: bool,
    ) -> Self {
        let mut state = Self {
            product_known: true,
            recalled,
            expired,
            ..Self::default()
        };
        for event in history {
            match &event.kind {
                HistoryKind::Commission | HistoryKind::Receive | HistoryKind::Reactivate => {
                    state.known = true;
                    state.status = "active".into();
                    state.custodian = Some(event.actor.clone());
                }
                HistoryKind::Ship { .. } => state.status = "in_transit".into(),
                HistoryKind::Decommission(_) => state.status = "decommissioned".into(),
                HistoryKind::Verify | HistoryKind::Other => {}
            }
        }
        state.custodian_place = state.custodian.as_deref().and_then(place_of);
        state
    }
}

/// Who scans, where and when, and what the code said.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanContext {
    /// GLN of the verifying party.
    pub party: String,
    pub role: Role,
    pub place: Option<GeoPoint>,
    /// Unix microseconds.
    pub time: i64,
    /// The lot or expiry printed on the pack differs from the batch's.
    pub code_mismatch: bool,
    /// Verifications of unknown serials by the same party in the hour
    /// before this one (serial guessing comes in bursts, typos do not).
    pub party_unknown_scans_1h: u32,
}

/// Number of features.
pub const FEATURE_COUNT: usize = 24;

/// Feature names, in vector order (documented in `services/risk/README.md`).
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "serial_unknown",
    "product_unknown",
    "decommissioned",
    "in_transit",
    "recalled",
    "expired",
    "code_mismatch",
    "scanner_is_custodian",
    "scanner_in_chain",
    "scanner_is_consignee",
    "scanner_decommissioned_it",
    "log_km_from_custodian",
    "log_km_from_last_event",
    "log_hours_since_last_event",
    "log_speed_kmh",
    "log_hours_since_decommission",
    "verifications_24h",
    "distinct_verifiers_7d",
    "log_distinct_places",
    "returns_and_reactivations",
    "log_minutes_since_own_verify",
    "log_party_unknown_scans_1h",
    "scanner_is_pharmacy",
    "log_history_len",
];

/// A verification's features, in [`FEATURE_NAMES`] order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Features(pub [f64; FEATURE_COUNT]);

/// Indices into [`Features`], so that explanations name features, not numbers.
pub mod idx {
    pub const SERIAL_UNKNOWN: usize = 0;
    pub const PRODUCT_UNKNOWN: usize = 1;
    pub const DECOMMISSIONED: usize = 2;
    pub const IN_TRANSIT: usize = 3;
    pub const RECALLED: usize = 4;
    pub const EXPIRED: usize = 5;
    pub const CODE_MISMATCH: usize = 6;
    pub const SCANNER_IS_CUSTODIAN: usize = 7;
    pub const SCANNER_IN_CHAIN: usize = 8;
    pub const SCANNER_IS_CONSIGNEE: usize = 9;
    pub const SCANNER_DECOMMISSIONED_IT: usize = 10;
    pub const KM_FROM_CUSTODIAN: usize = 11;
    pub const KM_FROM_LAST_EVENT: usize = 12;
    pub const HOURS_SINCE_LAST_EVENT: usize = 13;
    pub const SPEED_KMH: usize = 14;
    pub const HOURS_SINCE_DECOMMISSION: usize = 15;
    pub const VERIFICATIONS_24H: usize = 16;
    pub const DISTINCT_VERIFIERS_7D: usize = 17;
    pub const DISTINCT_PLACES: usize = 18;
    pub const RETURNS: usize = 19;
    pub const MINUTES_SINCE_OWN_VERIFY: usize = 20;
    pub const PARTY_UNKNOWN_SCANS: usize = 21;
    pub const SCANNER_IS_PHARMACY: usize = 22;
    pub const HISTORY_LEN: usize = 23;
}

const MICROS_PER_HOUR: f64 = 3_600_000_000.0;
/// `log_minutes_since_own_verify` when the scanner never verified the pack
/// before: ln(1 + one year in minutes).
pub const NEVER_VERIFIED: f64 = 13.17;

/// Great-circle distance in kilometres (haversine, mean Earth radius).
pub fn distance_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lon1) = (deg(a.lat_e6), deg(a.lon_e6));
    let (lat2, lon2) = (deg(b.lat_e6), deg(b.lon_e6));
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

fn deg(e6: i32) -> f64 {
    (f64::from(e6) / 1e6).to_radians()
}

fn ln1p(x: f64) -> f64 {
    x.max(0.0).ln_1p()
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Extracts the features of a scan. `history` is the pack's history in log
/// order; only events before the scan's time count (a verify event being
/// scored is not its own history). Cost: one pass over the history.
pub fn extract(history: &[HistoryEvent], state: &PackState, scan: &ScanContext) -> Features {
    let past: Vec<&HistoryEvent> = history.iter().filter(|e| e.time < scan.time).collect();
    let mut f = [0.0; FEATURE_COUNT];
    f[idx::SERIAL_UNKNOWN] = flag(!state.known);
    f[idx::PRODUCT_UNKNOWN] = flag(!state.product_known);
    f[idx::DECOMMISSIONED] = flag(state.known && state.status == "decommissioned");
    f[idx::IN_TRANSIT] = flag(state.known && state.status == "in_transit");
    f[idx::RECALLED] = flag(state.recalled);
    f[idx::EXPIRED] = flag(state.expired);
    f[idx::CODE_MISMATCH] = flag(scan.code_mismatch);
    f[idx::SCANNER_IS_CUSTODIAN] = flag(state.custodian.as_deref() == Some(scan.party.as_str()));
    f[idx::SCANNER_IN_CHAIN] = flag(past.iter().any(|e| {
        e.actor == scan.party
            || matches!(&e.kind, HistoryKind::Ship { to, .. } if *to == scan.party)
    }));
    let last_ship_to = past.iter().rev().find_map(|e| match &e.kind {
        HistoryKind::Ship { to, .. } => Some(to.as_str()),
        _ => None,
    });
    f[idx::SCANNER_IS_CONSIGNEE] =
        flag(state.status == "in_transit" && last_ship_to == Some(scan.party.as_str()));
    let decommission = past.iter().rev().find(|e| {
        matches!(
            e.kind,
            HistoryKind::Decommission(_) | HistoryKind::Reactivate
        )
    });
    let decommission = decommission.filter(|e| matches!(e.kind, HistoryKind::Decommission(_)));
    f[idx::SCANNER_DECOMMISSIONED_IT] = flag(decommission.is_some_and(|e| e.actor == scan.party));
    if let (Some(here), Some(custodian)) = (scan.place, state.custodian_place) {
        f[idx::KM_FROM_CUSTODIAN] = ln1p(distance_km(here, custodian));
    }
    if let Some(last) = past.last() {
        let hours = (scan.time - last.time) as f64 / MICROS_PER_HOUR;
        f[idx::HOURS_SINCE_LAST_EVENT] = ln1p(hours);
        if let (Some(here), Some(there)) = (scan.place, last.place) {
            let km = distance_km(here, there);
            f[idx::KM_FROM_LAST_EVENT] = ln1p(km);
            f[idx::SPEED_KMH] = ln1p(km / hours.max(0.05));
        }
    }
    if let Some(d) = decommission {
        f[idx::HOURS_SINCE_DECOMMISSION] = ln1p((scan.time - d.time) as f64 / MICROS_PER_HOUR);
    }
    let day_ago = scan.time - (24.0 * MICROS_PER_HOUR) as i64;
    let week_ago = scan.time - (7.0 * 24.0 * MICROS_PER_HOUR) as i64;
    let verifies = || past.iter().filter(|e| e.kind == HistoryKind::Verify);
    f[idx::VERIFICATIONS_24H] = verifies().filter(|e| e.time >= day_ago).count() as f64;
    let mut verifiers: Vec<&str> = verifies()
        .filter(|e| e.time >= week_ago)
        .map(|e| e.actor.as_str())
        .collect();
    verifiers.sort_unstable();
    verifiers.dedup();
    f[idx::DISTINCT_VERIFIERS_7D] = verifiers.len() as f64;
    let mut places: Vec<&str> = past.iter().map(|e| e.actor.as_str()).collect();
    places.sort_unstable();
    places.dedup();
    f[idx::DISTINCT_PLACES] = ln1p(places.len() as f64);
    f[idx::RETURNS] = past
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                HistoryKind::Reactivate
                    | HistoryKind::Ship {
                        is_return: true,
                        ..
                    }
            )
        })
        .count() as f64;
    f[idx::MINUTES_SINCE_OWN_VERIFY] = verifies()
        .rfind(|e| e.actor == scan.party)
        .map_or(NEVER_VERIFIED, |e| {
            ln1p((scan.time - e.time) as f64 / 60_000_000.0).min(NEVER_VERIFIED)
        });
    f[idx::PARTY_UNKNOWN_SCANS] = ln1p(f64::from(scan.party_unknown_scans_1h));
    f[idx::SCANNER_IS_PHARMACY] = flag(scan.role == Role::Pharmacy);
    f[idx::HISTORY_LEN] = ln1p(past.len() as f64);
    Features(f)
}
