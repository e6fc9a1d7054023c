//! Scoring: the model's probability and the factors that raised it, in words.
//!
//! A factor's weight is how much the score's log-odds fall when that one
//! feature is set to what an ordinary verification shows (the pharmacy holding the
//! pack, at its own address, nothing unusual): a perturbation explanation
//! that works the same for trees and the linear model. Only features that
//! differ from ordinary are tried, so scoring stays a handful of model runs.

use serde::Serialize;

use crate::features::{idx, Features, FEATURE_COUNT};
use crate::model::{ModelError, RiskModel};

/// A verification's risk: `score` in `0..=1`, and its top reasons.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RiskScore {
    pub score: f64,
    pub reasons: Vec<String>,
}

/// Most reasons given for one score.
pub const MAX_REASONS: usize = 3;
/// A factor is a reason when removing it lowers the log-odds by at least
/// this (odds divided by about 1.6). Log-odds, not probability: a score
/// near 1 with several strong factors must still name them.
const MIN_CONTRIBUTION: f64 = 0.5;

/// Log-odds of a probability, clamped so that 0 and 1 stay finite.
fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

/// A loaded model, ready to score.
#[derive(Clone, Debug)]
pub struct Scorer {
    model: RiskModel,
}

impl Scorer {
    pub fn new(model: RiskModel) -> Self {
        Self { model }
    }

    /// The model shipped in this build.
    pub fn shipped() -> Result<Self, ModelError> {
        RiskModel::shipped().map(Self::new)
    }

    pub fn model(&self) -> &RiskModel {
        &self.model
    }

    /// Scores at or above this are alerts.
    pub fn alert_threshold(&self) -> f64 {
        self.model.alert_threshold
    }

    /// The probability alone (evaluation uses this).
    pub fn probability(&self, features: &Features) -> f64 {
        self.model.predict(features).clamp(0.0, 1.0)
    }

    /// The score and its reasons.
    pub fn score(&self, features: &Features) -> RiskScore {
        let score = self.probability(features);
        let odds = logit(score);
        let mut factors: Vec<(f64, usize)> = (0..FEATURE_COUNT)
            .filter_map(|i| {
                let ordinary = ordinary(i, features)?;
                if ordinary == features.0[i] {
                    return None;
                }
                let mut changed = *features;
                changed.0[i] = ordinary;
                Some((odds - logit(self.probability(&changed)), i))
            })
            .filter(|(drop, _)| *drop >= MIN_CONTRIBUTION)
            .collect();
        factors.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let reasons = factors
            .into_iter()
            .take(MAX_REASONS)
            .map(|(_, i)| describe(i, features))
            .collect();
        RiskScore { score, reasons }
    }
}

/// What feature `i` is in an ordinary verification; `None` for features
/// that only qualify others (times, sizes) and are never reasons alone.
fn ordinary(i: usize, f: &Features) -> Option<f64> {
    match i {
        idx::SCANNER_IS_CUSTODIAN | idx::SCANNER_IN_CHAIN => Some(1.0),
        idx::DISTINCT_VERIFIERS_7D => Some(f.0[i].min(1.0)),
        idx::SERIAL_UNKNOWN
        | idx::PRODUCT_UNKNOWN
        | idx::DECOMMISSIONED
        | idx::IN_TRANSIT
        | idx::RECALLED
        | idx::EXPIRED
        | idx::CODE_MISMATCH
        | idx::KM_FROM_CUSTODIAN
        | idx::KM_FROM_LAST_EVENT
        | idx::SPEED_KMH
        | idx::VERIFICATIONS_24H
        | idx::RETURNS
        | idx::PARTY_UNKNOWN_SCANS => Some(0.0),
        _ => None,
    }
}

/// Inverts `ln(1 + x)`.
fn unlog(v: f64) -> f64 {
    v.exp_m1().max(0.0)
}

/// A duration in hours, in words.
fn duration(hours: f64) -> String {
    let minutes = (hours * 60.0).round();
    if minutes < 90.0 {
        format!("{minutes:.0} minutes")
    } else if hours < 48.0 {
        format!("{hours:.0} hours")
    } else {
        format!("{:.0} days", hours / 24.0)
    }
}

/// Feature `i` of `f` as a reason, in words.
fn describe(i: usize, f: &Features) -> String {
    let x = &f.0;
    let since_last = duration(unlog(x[idx::HOURS_SINCE_LAST_EVENT]));
    match i {
        idx::SERIAL_UNKNOWN => "the serial number was never commissioned".into(),
        idx::PRODUCT_UNKNOWN => "the product code is not registered".into(),
        idx::DECOMMISSIONED => format!(
            "the pack was already decommissioned {} ago",
            duration(unlog(x[idx::HOURS_SINCE_DECOMMISSION]))
        ),
        idx::IN_TRANSIT => "the pack is still in transit".into(),
        idx::RECALLED => "its batch is recalled".into(),
        idx::EXPIRED => "its batch is expired".into(),
        idx::CODE_MISMATCH => "the printed lot or expiry differs from the batch's".into(),
        idx::SCANNER_IS_CUSTODIAN => "verified by a party that does not hold the pack".into(),
        idx::SCANNER_IN_CHAIN => "verified by a party outside its custody chain".into(),
        idx::KM_FROM_CUSTODIAN => format!(
            "verified {:.0} km from its custodian {since_last} after its last event",
            unlog(x[idx::KM_FROM_CUSTODIAN])
        ),
        idx::KM_FROM_LAST_EVENT => format!(
            "verified {:.0} km from where it was last seen, {since_last} before",
            unlog(x[idx::KM_FROM_LAST_EVENT])
        ),
        idx::SPEED_KMH => format!(
            "it would have travelled at {:.0} km/h since its last event",
            unlog(x[idx::SPEED_KMH])
        ),
        idx::VERIFICATIONS_24H => format!(
            "{:.0} earlier verifications in the last 24 hours",
            x[idx::VERIFICATIONS_24H]
        ),
        idx::DISTINCT_VERIFIERS_7D => format!(
            "verified by {:.0} different parties in 7 days",
            x[idx::DISTINCT_VERIFIERS_7D]
        ),
        idx::RETURNS => format!(
            "{:.0} returns or reactivations in its history",
            x[idx::RETURNS]
        ),
        idx::PARTY_UNKNOWN_SCANS => format!(
            "the same party verified {:.0} unknown serials in the last hour",
            unlog(x[idx::PARTY_UNKNOWN_SCANS])
        ),
        _ => format!("unusual {}", crate::features::FEATURE_NAMES[i]),
    }
}
