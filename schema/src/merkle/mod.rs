//! Merkle tree maths of RFC 9162 (Certificate Transparency 2.0) §2.1, the tree behind
//! Pedigree's append-only custody log.
//!
//! Everything here is pure: hashing, appending through a compact [`Frontier`], proof *plans*
//! (which stored nodes a proof needs) and their assembly, proof verification, and the
//! C2SP `tlog-tiles` addressing of the same tree. Storage stays with the caller: a ledger
//! persists the complete-subtree nodes that [`Frontier::push`] returns, and later reads the
//! O(log n) nodes a [`ProofPlan`] names in a single query.

mod frontier;
pub mod hex_hash;
mod plan;
mod tiles;
mod verify;

use std::fmt;

use sha2::{Digest, Sha256};

pub use frontier::{Frontier, TreeFull};
pub use hex_hash::HexHashError;
pub use plan::{
    consistency_plan, consistency_proof, inclusion_plan, inclusion_proof, root, root_plan,
    HashPlan, MemoryTree, MissingNode, NodeSource, ProofError, ProofPlan, SourceError,
};
pub use tiles::{
    decode_entry_bundle, encode_entry_bundle, entries_path, tile_path, BundleError, TileError,
    TileKind, TileRef, TILE_HEIGHT, TILE_WIDTH,
};
pub use verify::{root_from_inclusion_proof, verify_consistency, verify_inclusion, VerifyError};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree head (RFC 9162 §2.1 fixes
/// the hash algorithm of a log; Pedigree's logs use SHA-256, as C2SP `tlog-tiles` requires).
pub type Hash = [u8; 32];

/// Domain-separation prefix of leaf hashes (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of interior node hashes (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// The leaf hash `MTH({d(0)}) = HASH(0x00 || d(0))` of one log entry (RFC 9162 §2.1.1).
///
/// The 0x00 prefix keeps a leaf from ever colliding with an interior node, so an attacker
/// cannot present an interior node as an entry (second-preimage resistance).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(entry)
        .finalize()
        .into()
}

/// The interior node hash `HASH(0x01 || left || right)` (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([NODE_PREFIX])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of the empty tree, `MTH({}) = HASH()`, i.e. SHA-256 of the empty string
/// (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The Merkle Tree Hash `MTH(D[n])` of a list of leaf hashes, straight from the recursive
/// definition of RFC 9162 §2.1.1: split at the largest power of two `k < n` and hash
/// `MTH(D[0:k])` with `MTH(D[k:n])`.
///
/// Needs all leaves in memory; a log that grows uses [`Frontier`] instead, and a log that
/// serves old tree heads uses [`root_plan`].
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [leaf] => *leaf,
        _ => {
            let (left, right) = leaves.split_at(split_point(leaves.len() as u64) as usize);
            node_hash(&root_from_leaf_hashes(left), &root_from_leaf_hashes(right))
        }
    }
}

/// The largest power of two strictly smaller than `n`, where RFC 9162 §2.1.1 splits a tree of
/// `n` leaves. Callers guarantee `n >= 2`.
fn split_point(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}

/// The root of a complete (perfect) subtree: the node covering the `2^level` leaves
/// `[index·2^level, (index+1)·2^level)`.
///
/// Complete subtrees never change once their last leaf is appended, so they are what a
/// ledger stores and what C2SP `tlog-tiles` serves (tile level `L` holds node level `8·L`).
/// Every other hash of the tree (the right edge of a tree whose size is not a power of two)
/// is recomputed from them, as RFC 9162 §2.1.1 defines `MTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves: 0 is a leaf hash.
    pub level: u8,
    /// Position among the nodes of the same level, from the left, starting at 0.
    pub index: u64,
}

impl NodeId {
    /// The node at `level` and `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// The leaf hash of entry `index`.
    pub const fn leaf(index: u64) -> Self {
        Self::new(0, index)
    }

    /// The leaves `[begin, end)` under this node, or `None` when they do not fit in a 64-bit
    /// tree size (no such node exists in any log).
    pub fn leaves(&self) -> Option<std::ops::Range<u64>> {
        let width = 1u64.checked_shl(u32::from(self.level))?;
        let begin = self.index.checked_mul(width)?;
        Some(begin..begin.checked_add(width)?)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {} at level {}", self.index, self.level)
    }
}
