//! Verification of RFC 9162 inclusion (§2.1.3.2) and consistency (§2.1.4.2) proofs.
//!
//! The RFC states both algorithms as a bit-by-bit walk. This is the equivalent decomposition
//! used by transparency-dev/merkle: the path of leaf `index` in a tree of `size` leaves has
//! `inner` levels below the point where it meets the tree's right edge (where a sibling may
//! be on either side) and `border` levels above it (where every sibling is on the left). Its
//! length is known before hashing, so a proof of the wrong length is rejected as such.

use subtle::ConstantTimeEq;
use thiserror::Error;

use super::plan::ProofError;
use super::{empty_root, node_hash, Hash};

/// Why a proof does not prove what it was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// No proof exists for these parameters.
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("proof has {actual} hashes but a proof for these tree sizes has exactly {expected}")]
    WrongProofLength { expected: usize, actual: usize },
    #[error("the inclusion proof leads to a root other than the expected tree head")]
    RootMismatch,
    #[error("the consistency proof does not reproduce the old tree head")]
    OldRootMismatch,
    #[error("the consistency proof does not reproduce the new tree head")]
    NewRootMismatch,
    #[error("the tree sizes are equal but the tree heads differ")]
    SameSizeRootsDiffer,
}

/// Compares two hashes in constant time, so a verifier's timing does not reveal how much of a
/// forged root matched.
fn same(a: &Hash, b: &Hash) -> bool {
    a[..].ct_eq(&b[..]).into()
}

/// Number of bits of `x` up to its highest set bit.
fn bit_length(x: u64) -> usize {
    (u64::BITS - x.leading_zeros()) as usize
}

/// The (`inner`, `border`) split of the path of leaf `index` in a tree of `size > index`
/// leaves (see the module documentation).
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = bit_length(index ^ (size - 1));
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

/// Hashes `seed` up through the inner part of a path; bit `i` of `index` says whether the
/// node at level `i` is a right child (its sibling on the left).
fn chain_inner(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof
        .iter()
        .enumerate()
        .fold(seed, |node, (level, sibling)| {
            if (index >> level) & 1 == 0 {
                node_hash(&node, sibling)
            } else {
                node_hash(sibling, &node)
            }
        })
}

/// Like [`chain_inner`] but skipping right siblings: the hash of the same subtree in the
/// older, smaller tree, which had none of the leaves to the right (RFC 9162 §2.1.4.2's `fr`).
fn chain_inner_right(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof
        .iter()
        .enumerate()
        .fold(seed, |node, (level, sibling)| {
            if (index >> level) & 1 == 1 {
                node_hash(sibling, &node)
            } else {
                node
            }
        })
}

/// Hashes up through the border part of a path, where every sibling is on the left.
fn chain_border(seed: Hash, proof: &[Hash]) -> Hash {
    proof
        .iter()
        .fold(seed, |node, sibling| node_hash(sibling, &node))
}

/// The tree head that an inclusion proof of `leaf_hash` at `index` in a tree of `size`
/// leaves leads to (RFC 9162 §2.1.3.2, steps 1–4); the proof holds if it equals a trusted
/// tree head.
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border {
        return Err(VerifyError::WrongProofLength {
            expected: inner + border,
            actual: proof.len(),
        });
    }
    let (inner_path, border_path) = proof.split_at(inner);
    Ok(chain_border(
        chain_inner(*leaf_hash, inner_path, index),
        border_path,
    ))
}

/// Checks that `proof` proves the leaf `leaf_hash` is entry `index` of the tree of `size`
/// leaves whose head is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if same(&computed, root) {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch)
    }
}

/// Checks that `proof` proves the tree of `old_size` leaves with head `old_root` is a prefix
/// of the tree of `new_size` leaves with head `new_root` (RFC 9162 §2.1.4.2).
///
/// Beyond the RFC, which covers `0 < old_size < new_size`: equal sizes need an empty proof
/// and equal heads, and the empty tree (head SHA-256 of the empty string) is a prefix of
/// every tree with an empty proof.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    let expect_empty = || match proof.len() {
        0 => Ok(()),
        actual => Err(VerifyError::WrongProofLength {
            expected: 0,
            actual,
        }),
    };
    if old_size > new_size {
        return Err(ProofError::OldLargerThanNew {
            old: old_size,
            new: new_size,
        }
        .into());
    }
    if old_size == new_size {
        expect_empty()?;
        return if same(old_root, new_root) {
            Ok(())
        } else {
            Err(VerifyError::SameSizeRootsDiffer)
        };
    }
    if old_size == 0 {
        expect_empty()?;
        return if same(old_root, &empty_root()) {
            Ok(())
        } else {
            Err(VerifyError::OldRootMismatch)
        };
    }

    // The proof is the tail of the inclusion path of leaf old_size - 1 in the new tree,
    // starting at the largest complete subtree that ends at old_size (level `shift`), and
    // preceded by that subtree's hash unless it is the whole old tree (RFC 9162 §2.1.4.2
    // step 2).
    let (inner, border) = decompose(old_size - 1, new_size);
    let shift = old_size.trailing_zeros() as usize;
    let inner = inner - shift; // old_size < new_size implies inner > shift.
    let subtree_is_old_tree = old_size.is_power_of_two();
    let wrong_length = VerifyError::WrongProofLength {
        expected: usize::from(!subtree_is_old_tree) + inner + border,
        actual: proof.len(),
    };
    let (seed, path) = if subtree_is_old_tree {
        (*old_root, proof)
    } else {
        let (first, rest) = proof.split_first().ok_or(wrong_length)?;
        (*first, rest)
    };
    if path.len() != inner + border {
        return Err(wrong_length);
    }
    let (inner_path, border_path) = path.split_at(inner);
    let mask = (old_size - 1) >> shift;

    let old_computed = chain_border(chain_inner_right(seed, inner_path, mask), border_path);
    if !same(&old_computed, old_root) {
        return Err(VerifyError::OldRootMismatch);
    }
    let new_computed = chain_border(chain_inner(seed, inner_path, mask), border_path);
    if !same(&new_computed, new_root) {
        return Err(VerifyError::NewRootMismatch);
    }
    Ok(())
}
