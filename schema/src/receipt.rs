//! The proofs the log hands out, in the JSON shapes of its API, and how a
//! client checks them with nothing but the log's public key.

use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::event::EventId;
use crate::merkle::{self, Hash, VerifyError};
use crate::note::NoteVerifier;

/// Why a receipt or a proof does not check out.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the receipt's leaf hash is not the hash of the entry")]
    LeafHash,
    #[error("the proof is for tree size {proof} but the checkpoint is for {checkpoint}")]
    SizeMismatch { proof: u64, checkpoint: u64 },
    #[error("inclusion proof: {0}")]
    Inclusion(VerifyError),
    #[error("consistency proof: {0}")]
    Consistency(VerifyError),
}

/// Proof that the log holds an entry: the ledger's answer to an append.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub event_id: EventId,
    /// The entry's 0-based position in the log.
    pub index: u64,
    #[serde(with = "crate::merkle::hex_hash")]
    pub leaf_hash: Hash,
    /// The signed checkpoint (C2SP signed note) the proof leads to.
    pub checkpoint: String,
    /// RFC 9162 §2.1.3 inclusion proof of `index` in the checkpoint's tree.
    #[serde(with = "crate::merkle::hex_hash::seq")]
    pub inclusion_proof: Vec<Hash>,
}

impl Receipt {
    /// Checks everything a receipt claims: the entry hashes to the leaf,
    /// the checkpoint is signed by the log, and the leaf is in its tree.
    /// Returns the verified checkpoint, for consistency checks.
    pub fn verify(
        &self,
        log: &NoteVerifier,
        entry: &[u8],
    ) -> Result<SignedCheckpoint, ReceiptError> {
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            &merkle::leaf_hash(entry)[..],
            &self.leaf_hash[..],
        )) {
            return Err(ReceiptError::LeafHash);
        }
        let checkpoint = SignedCheckpoint::parse_and_verify(&self.checkpoint, log)?;
        let tree = checkpoint.checkpoint();
        merkle::verify_inclusion(
            &self.leaf_hash,
            self.index,
            tree.size(),
            &self.inclusion_proof,
            tree.root(),
        )
        .map_err(ReceiptError::Inclusion)?;
        Ok(checkpoint)
    }
}

/// A consistency proof between two tree sizes (RFC 9162 §2.1.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    #[serde(with = "crate::merkle::hex_hash::seq")]
    pub proof: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks that the `newer` checkpoint extends the `older` one.
    pub fn verify(
        &self,
        older: &SignedCheckpoint,
        newer: &SignedCheckpoint,
    ) -> Result<(), ReceiptError> {
        let (old, new) = (older.checkpoint(), newer.checkpoint());
        for (proof, checkpoint) in [(self.old_size, old.size()), (self.new_size, new.size())] {
            if proof != checkpoint {
                return Err(ReceiptError::SizeMismatch { proof, checkpoint });
            }
        }
        merkle::verify_consistency(old.size(), new.size(), old.root(), new.root(), &self.proof)
            .map_err(ReceiptError::Consistency)
    }
}

/// An inclusion proof served on request, for an entry and a tree size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    #[serde(with = "crate::merkle::hex_hash")]
    pub leaf_hash: Hash,
    #[serde(with = "crate::merkle::hex_hash::seq")]
    pub proof: Vec<Hash>,
}

impl InclusionProof {
    pub fn verify(&self, root: &Hash) -> Result<(), ReceiptError> {
        merkle::verify_inclusion(
            &self.leaf_hash,
            self.index,
            self.tree_size,
            &self.proof,
            root,
        )
        .map_err(ReceiptError::Inclusion)
    }
}
