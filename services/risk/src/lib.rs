//! `pedigree-risk`: a counterfeit-risk score for every verification of a
//! pack, with the few reasons behind it in words.
//!
//! - [`features`]: the documented feature vector of a scan, from the pack's
//!   history and who scans where and when (pure; the ledger and the
//!   simulator share it).
//! - [`model`]: the shipped model (`model/risk-model.json`, compiled in) and,
//!   with feature `train`, fitting with smartcore.
//! - [`score`]: [`Scorer`], score plus reasons.
//! - [`simulate`]: a seeded supply chain that signs real events and labels
//!   verification contexts with the pattern they belong to.
//! - `evaluate` (feature `train`): training, metrics, report and plot.
//! - `plot` (feature `plot`): PNG line charts with bitmap-font text.
//!
//! No database or HTTP here: the ledger feeds histories in.

pub mod features;
pub mod model;
pub mod score;
pub mod simulate;

#[cfg(feature = "train")]
pub mod evaluate;
#[cfg(feature = "plot")]
pub mod plot;

pub use features::{extract, Features, HistoryEvent, HistoryKind, PackState, ScanContext};
pub use model::{ModelError, RiskModel};
pub use score::{RiskScore, Scorer};
