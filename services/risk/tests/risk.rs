//! Feature extraction on hand-built histories, simulator determinism, and
//! the shipped model.

use pedigree_risk::features::{idx, HistoryKind, NEVER_VERIFIED};
use pedigree_risk::simulate::{simulate, Pattern, SimConfig};
use pedigree_risk::{extract, HistoryEvent, PackState, RiskModel, ScanContext, Scorer};
use pedigree_schema::event::{DecommissionReason, GeoPoint, Role};

const HOUR: i64 = 3_600_000_000;
const LYON: GeoPoint = GeoPoint {
    lat_e6: 45_764_000,
    lon_e6: 4_836_000,
};
const HAMBURG: GeoPoint = GeoPoint {
    lat_e6: 53_551_000,
    lon_e6: 9_994_000,
};

fn event(kind: HistoryKind, actor: &str, hours: i64, place: GeoPoint) -> HistoryEvent {
    HistoryEvent {
        kind,
        actor: actor.into(),
        time: hours * HOUR,
        place: Some(place),
    }
}

/// Made by M, shipped to wholesaler W, to pharmacy P, dispensed by P at hour 100.
fn dispensed_history() -> Vec<HistoryEvent> {
    vec![
        event(HistoryKind::Commission, "M", 0, LYON),
        event(
            HistoryKind::Ship {
                to: "P".into(),
                is_return: false,
            },
            "M",
            10,
            LYON,
        ),
        event(HistoryKind::Receive, "P", 20, LYON),
        event(HistoryKind::Verify, "P", 99, LYON),
        event(
            HistoryKind::Decommission(DecommissionReason::Dispensed),
            "P",
            100,
            LYON,
        ),
    ]
}

fn scan(party: &str, hours: i64, place: GeoPoint) -> ScanContext {
    ScanContext {
        party: party.into(),
        role: Role::Pharmacy,
        place: Some(place),
        time: hours * HOUR,
        code_mismatch: false,
        party_unknown_scans_1h: 0,
    }
}

fn state_of(history: &[HistoryEvent]) -> PackState {
    PackState::replay(history, |_| Some(LYON), false, false)
}

#[test]
fn a_clone_far_away_after_dispensing_shows_distance_and_outsider() {
    let history = dispensed_history();
    let f = extract(&history, &state_of(&history), &scan("Q", 102, HAMBURG));
    assert_eq!(f.0[idx::DECOMMISSIONED], 1.0);
    assert_eq!(f.0[idx::SCANNER_IN_CHAIN], 0.0);
    assert_eq!(f.0[idx::SCANNER_IS_CUSTODIAN], 0.0);
    assert_eq!(f.0[idx::SCANNER_DECOMMISSIONED_IT], 0.0);
    let km = f.0[idx::KM_FROM_CUSTODIAN].exp_m1();
    assert!(
        (930.0..955.0).contains(&km),
        "Lyon–Hamburg is about 940 km, got {km}"
    );
    let hours = f.0[idx::HOURS_SINCE_DECOMMISSION].exp_m1();
    assert!((hours - 2.0).abs() < 1e-9, "{hours}");
    assert_eq!(f.0[idx::MINUTES_SINCE_OWN_VERIFY], NEVER_VERIFIED);
}

#[test]
fn a_second_scan_by_the_dispensing_pharmacist_is_in_chain_and_close() {
    let history = dispensed_history();
    let f = extract(&history, &state_of(&history), &scan("P", 101, LYON));
    assert_eq!(f.0[idx::SCANNER_IN_CHAIN], 1.0);
    assert_eq!(f.0[idx::SCANNER_IS_CUSTODIAN], 1.0);
    assert_eq!(f.0[idx::SCANNER_DECOMMISSIONED_IT], 1.0);
    assert_eq!(f.0[idx::KM_FROM_CUSTODIAN], 0.0);
    assert_eq!(f.0[idx::VERIFICATIONS_24H], 1.0);
    let minutes = f.0[idx::MINUTES_SINCE_OWN_VERIFY].exp_m1();
    assert!((minutes - 120.0).abs() < 1e-6, "{minutes}");
}

#[test]
fn only_history_before_the_scan_counts() {
    let history = dispensed_history();
    // At hour 50 the pack was still on P's shelf: later events are ignored.
    let past: Vec<HistoryEvent> = history
        .iter()
        .filter(|e| e.time < 50 * HOUR)
        .cloned()
        .collect();
    let f = extract(&history, &state_of(&past), &scan("Q", 50, HAMBURG));
    assert_eq!(f.0[idx::DECOMMISSIONED], 0.0);
    assert_eq!(f.0[idx::VERIFICATIONS_24H], 0.0);
    assert_eq!(f.0[idx::HISTORY_LEN], 3f64.ln_1p());
    let speed = f.0[idx::SPEED_KMH].exp_m1();
    assert!(speed > 20.0 && speed < 40.0, "940 km in 30 hours: {speed}");
}

#[test]
fn a_pack_in_transit_to_the_scanner_is_a_late_receipt_not_an_outsider() {
    let history = &dispensed_history()[..2];
    let f = extract(history, &state_of(history), &scan("P", 12, LYON));
    assert_eq!(f.0[idx::IN_TRANSIT], 1.0);
    assert_eq!(f.0[idx::SCANNER_IS_CONSIGNEE], 1.0);
    assert_eq!(f.0[idx::SCANNER_IN_CHAIN], 1.0);
}

#[test]
fn an_unknown_serial_has_no_history_features() {
    let state = PackState::replay(&[], |_| None, false, false);
    let mut context = scan("P", 5, LYON);
    context.party_unknown_scans_1h = 7;
    let f = extract(&[], &state, &context);
    assert_eq!(f.0[idx::SERIAL_UNKNOWN], 1.0);
    assert_eq!(f.0[idx::HISTORY_LEN], 0.0);
    assert_eq!(f.0[idx::PARTY_UNKNOWN_SCANS], 7f64.ln_1p());
}

fn small(seed: u64) -> SimConfig {
    SimConfig {
        batches: 8,
        packs_per_batch: 12,
        pharmacies_per_region: 3,
        ..SimConfig::standard(seed)
    }
}

#[test]
fn the_simulator_is_deterministic_for_a_seed() {
    let a = simulate(&small(5)).expect("simulate");
    let b = simulate(&small(5)).expect("simulate");
    let c = simulate(&small(6)).expect("simulate");
    let json = |s: &pedigree_risk::simulate::Simulation| {
        serde_json::to_string(&s.events).expect("events serialise")
    };
    assert_eq!(json(&a), json(&b));
    assert_ne!(json(&a), json(&c));
    let labels = |s: &pedigree_risk::simulate::Simulation| -> Vec<(Pattern, Vec<u64>)> {
        s.samples
            .iter()
            .map(|x| {
                (
                    x.pattern,
                    x.features.0.iter().map(|v| v.to_bits()).collect(),
                )
            })
            .collect()
    };
    assert_eq!(labels(&a), labels(&b));
}

#[test]
fn simulated_events_are_really_signed_and_in_time_order() {
    let sim = simulate(&small(9)).expect("simulate");
    assert!(!sim.events.is_empty() && !sim.samples.is_empty());
    for e in &sim.events {
        e.signed.verify_signature().expect("a valid signature");
        e.checked_items().expect("items match their commitment");
    }
    assert!(sim
        .events
        .windows(2)
        .all(|w| w[0].signed.event.time <= w[1].signed.event.time));
}

#[test]
fn the_shipped_model_loads_and_scores() {
    let scorer = Scorer::shipped().expect("the shipped model loads");
    let history = dispensed_history();
    let clone = scorer.score(&extract(
        &history,
        &state_of(&history),
        &scan("Q", 102, HAMBURG),
    ));
    let twice = scorer.score(&extract(
        &history,
        &state_of(&history),
        &scan("P", 100, LYON),
    ));
    assert!((0.0..=1.0).contains(&clone.score));
    assert!(
        clone.score > twice.score,
        "clone {clone:?} vs double verification {twice:?}"
    );
    assert!(clone.score >= scorer.alert_threshold(), "{clone:?}");
    assert!(twice.score < scorer.alert_threshold(), "{twice:?}");
    assert!(!clone.reasons.is_empty());
}

#[test]
fn a_model_file_for_other_features_is_refused() {
    let mut model = RiskModel::shipped().expect("shipped");
    model.features.swap(0, 1);
    let text = model.to_json().expect("json");
    assert!(RiskModel::from_json(&text).is_err());
}
