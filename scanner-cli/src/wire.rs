//! The services' answers, as this scanner reads them. Status answers are
//! read leniently (a service may add fields, such as a risk score, without
//! breaking older scanners); log entries and proofs strictly, by the
//! schema's own types.

use pedigree_schema::event::SignedEvent;
use pedigree_schema::itemset::ItemProof;
use pedigree_schema::merkle::Hash;
use serde::{Deserialize, Serialize};

/// An FMD-style alert of a verification: `already_decommissioned`,
/// `recalled`, `batch_mismatch`…, with a sentence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub code: String,
    pub message: String,
}

/// A pack's public verification status (`GET /v1/scan`, or the pharmacy
/// service's `POST /v1/verify`, which relays the ledger's answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackStatus {
    pub gtin: String,
    pub serial: String,
    /// `active`, `in_transit`, `decommissioned` or `unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decommission_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    pub recalled: bool,
    pub expired: bool,
    pub ok_to_supply: bool,
    pub alerts: Vec<Alert>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    /// The counterfeit risk of this verification, when the service gives
    /// one (the ledger does for requests signed by a registered party).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskScore>,
}

/// A risk score in `0..=1` and the factors that raised it, in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskScore {
    pub score: f64,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// Proof that an item is in an event's committed item set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenItem {
    pub item: String,
    pub proof: ItemProof,
}

/// One log entry of a pack's history with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenEntry {
    pub index: u64,
    pub entry: SignedEvent,
    #[serde(with = "pedigree_schema::merkle::hex_hash")]
    pub leaf_hash: Hash,
    #[serde(with = "pedigree_schema::merkle::hex_hash::seq")]
    pub inclusion_proof: Vec<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_proof: Option<ProvenItem>,
}

/// `GET /v1/scan/provenance`: every entry of the pack's history, each with
/// an inclusion proof leading to one signed checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub status: PackStatus,
    /// The signed checkpoint (C2SP signed note) every proof leads to.
    pub checkpoint: String,
    pub tree_size: u64,
    pub entries: Vec<ProvenEntry>,
}
