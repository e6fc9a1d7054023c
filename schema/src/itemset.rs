//! Large sets of items — the serial numbers of a batch, the packs of a case — committed to by
//! one RFC 9162 Merkle root, with compact multi-item proofs.
//!
//! The tree is built by the `rs_merkle` crate with a hasher that applies RFC 9162 §2.1.1's
//! domain separation (leaf `HASH(0x00 || item)`, node `HASH(0x01 || left || right)`).
//! `rs_merkle` pairs nodes level by level and promotes an odd last node unchanged, which
//! yields exactly RFC 9162's `MTH`, so an item set's root is the tree head a transparency
//! log over the same items would have ([`crate::merkle::root_from_leaf_hashes`]).
//!
//! Sets are ordered: the same items in another order have another root. Callers put items in
//! a canonical order (e.g. sorted serials) before committing, and verifiers use that order.
//! The empty set's root is that of the empty tree, SHA-256 of the empty string.
//!
//! Building a set keeps the whole tree in memory (rs_merkle stores every node with its index
//! and a copy in its commit history): about 160 bytes per item, 160 MB for a million items.

use rs_merkle::{utils::indices::proof_indices_by_layers, MerkleProof, MerkleTree};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::merkle::{empty_root, leaf_hash, node_hash, Hash};

/// RFC 9162 §2.1.1 hashing for `rs_merkle`: [`rs_merkle::Hasher::hash`] is the leaf hash
/// (0x00 prefix) of an item, and interior nodes get the 0x01 prefix.
#[derive(Debug, Clone, Copy)]
pub struct Rfc9162Hasher;

impl rs_merkle::Hasher for Rfc9162Hasher {
    type Hash = Hash;

    fn hash(item: &[u8]) -> Hash {
        leaf_hash(item)
    }

    /// A node without a right sibling is promoted unchanged: that is how RFC 9162 §2.1.1's
    /// split at the largest power of two looks when the tree is built level by level.
    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        match right {
            Some(right) => node_hash(left, right),
            None => *left,
        }
    }
}

/// Why an item proof cannot be made or does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ItemSetError {
    #[error("an item proof must cover at least one item")]
    NoIndices,
    #[error("item index {index} is outside a set of {len} items")]
    IndexOutOfRange { index: u64, len: u64 },
    #[error("item indices must be strictly ascending, but {next} follows {previous}")]
    IndicesNotAscending { previous: u64, next: u64 },
    #[error("a set of {0} items is too large for this platform's memory")]
    TooLarge(u64),
    #[error("the proof covers {indices} items but {items} items were supplied")]
    ItemCountMismatch { indices: usize, items: usize },
    #[error("the proof has {actual} hashes but proving these items takes exactly {expected}")]
    WrongProofLength { expected: usize, actual: usize },
    #[error("the items and the proof do not hash to the committed root")]
    RootMismatch,
}

/// An ordered set of items committed to by one Merkle root.
#[derive(Clone)]
pub struct ItemSet {
    tree: MerkleTree<Rfc9162Hasher>,
    root: Hash,
}

impl ItemSet {
    /// Commits to `items` in the given order.
    pub fn new<I: AsRef<[u8]>>(items: &[I]) -> Self {
        let leaves: Vec<Hash> = items.iter().map(|item| leaf_hash(item.as_ref())).collect();
        let tree = MerkleTree::<Rfc9162Hasher>::from_leaves(&leaves);
        let root = tree.root().unwrap_or_else(empty_root);
        Self { tree, root }
    }

    /// The root committing to every item and its position.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.tree.leaves_len()
    }

    /// Whether the set has no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A proof that the items at `indices` (strictly ascending) are in the set at those
    /// positions. One proof for several items shares the hashes their paths have in common.
    pub fn proof(&self, indices: &[usize]) -> Result<ItemProof, ItemSetError> {
        check_indices(indices, self.len())?;
        Ok(ItemProof {
            indices: indices.iter().map(|&index| index as u64).collect(),
            leaf_count: self.len() as u64,
            hashes: self.tree.proof(indices).proof_hashes().to_vec(),
        })
    }
}

/// Rejects index lists that `rs_merkle` would misprove: empty, unordered, repeated or out of
/// range.
fn check_indices(indices: &[usize], len: usize) -> Result<(), ItemSetError> {
    if indices.is_empty() {
        return Err(ItemSetError::NoIndices);
    }
    for pair in indices.windows(2) {
        if let [previous, next] = *pair {
            if next <= previous {
                return Err(ItemSetError::IndicesNotAscending {
                    previous: previous as u64,
                    next: next as u64,
                });
            }
        }
    }
    match indices.iter().find(|&&index| index >= len) {
        Some(&index) => Err(ItemSetError::IndexOutOfRange {
            index: index as u64,
            len: len as u64,
        }),
        None => Ok(()),
    }
}

/// A multi-item inclusion proof, as exchanged in JSON:
/// `{"indices": [..], "leaf_count": n, "hashes": ["<hex>", ..]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemProof {
    /// Positions of the proven items, strictly ascending.
    pub indices: Vec<u64>,
    /// Number of items in the set.
    pub leaf_count: u64,
    /// The sibling hashes, in `rs_merkle`'s order (level by level, left to right).
    #[serde(with = "crate::merkle::hex_hash::seq")]
    pub hashes: Vec<Hash>,
}

impl ItemProof {
    /// Checks that `items` (in the order of [`ItemProof::indices`]) are the set's items at
    /// those positions, for the set whose root is `root`.
    pub fn verify<I: AsRef<[u8]>>(&self, root: &Hash, items: &[I]) -> Result<(), ItemSetError> {
        let to_usize =
            |value: u64| usize::try_from(value).map_err(|_| ItemSetError::TooLarge(value));
        let leaf_count = to_usize(self.leaf_count)?;
        let indices = self
            .indices
            .iter()
            .map(|&index| {
                to_usize(index).map_err(|_| ItemSetError::IndexOutOfRange {
                    index,
                    len: self.leaf_count,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_indices(&indices, leaf_count)?;
        if items.len() != indices.len() {
            return Err(ItemSetError::ItemCountMismatch {
                indices: indices.len(),
                items: items.len(),
            });
        }
        // rs_merkle ignores surplus hashes; a proof must not carry any.
        let expected: usize = proof_indices_by_layers(&indices, leaf_count)
            .iter()
            .map(Vec::len)
            .sum();
        if self.hashes.len() != expected {
            return Err(ItemSetError::WrongProofLength {
                expected,
                actual: self.hashes.len(),
            });
        }
        let leaves: Vec<Hash> = items.iter().map(|item| leaf_hash(item.as_ref())).collect();
        let computed = MerkleProof::<Rfc9162Hasher>::new(self.hashes.clone())
            .root(&indices, &leaves, leaf_count)
            .map_err(|_| ItemSetError::RootMismatch)?;
        if bool::from(computed[..].ct_eq(&root[..])) {
            Ok(())
        } else {
            Err(ItemSetError::RootMismatch)
        }
    }
}
