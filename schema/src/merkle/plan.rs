//! Proof plans: which stored complete subtrees an RFC 9162 proof or tree head needs, so that
//! a database can fetch all of them in one query of O(log n) rows, and the pure assembly of
//! the proof from the fetched hashes.

use thiserror::Error;

use super::{empty_root, node_hash, split_point, Hash, NodeId};

/// Why no proof exists for the requested leaf or tree sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ProofError {
    /// RFC 9162 §2.1.3.1 proves leaf `m` of `D[n]` only for `0 <= m < n`.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    /// RFC 9162 §2.1.4.1 proves that a tree of `m` leaves is a prefix of one of `n` leaves
    /// only for `m <= n`: a log never shrinks.
    #[error("old tree size {old} is larger than new tree size {new}")]
    OldLargerThanNew { old: u64, new: u64 },
}

/// A plan's lookup did not have a node the plan needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the store has no hash for {0}, which the proof needs")]
pub struct MissingNode(pub NodeId);

/// How to compute one hash, `MTH(D[begin:end])` for a subtree that RFC 9162 §2.1.1's
/// recursion produces, from stored complete subtrees.
///
/// Such a subtree starts at a multiple of a power of two at least as large as itself, so it is
/// the complete subtrees of the binary decomposition of its size, largest first. When there
/// are several (a partial subtree on the right edge of the tree), its hash is them folded
/// right-to-left, because `MTH` splits at the largest power of two and so the leftmost
/// complete subtree is always the left child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashPlan {
    nodes: Vec<NodeId>,
}

impl HashPlan {
    /// The plan of `MTH(D[begin:end])`. `begin` must be the start of an RFC 9162 subtree.
    fn range(begin: u64, end: u64) -> Self {
        let mut nodes = Vec::new();
        let mut position = begin;
        while position < end {
            // The largest complete subtree that starts here and does not pass `end`.
            let level = (end - position).ilog2().min(position.trailing_zeros());
            nodes.push(NodeId::new(level as u8, position >> level));
            position += 1 << level;
        }
        Self { nodes }
    }

    /// The complete subtrees to fetch, left to right (strictly decreasing levels).
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// Computes the hash from a fallible lookup of stored nodes (RFC 9162 §2.1.1 `MTH`).
    pub fn try_assemble<E>(
        &self,
        mut lookup: impl FnMut(NodeId) -> Result<Hash, E>,
    ) -> Result<Hash, E> {
        let hashes = self
            .nodes
            .iter()
            .map(|&id| lookup(id))
            .collect::<Result<Vec<_>, E>>()?;
        Ok(fold_subtrees(&hashes))
    }

    /// Computes the hash from fetched nodes, e.g. `|id| fetched.get(&id).copied()`.
    pub fn assemble(
        &self,
        mut lookup: impl FnMut(NodeId) -> Option<Hash>,
    ) -> Result<Hash, MissingNode> {
        self.try_assemble(|id| lookup(id).ok_or(MissingNode(id)))
    }
}

/// `MTH` of consecutive complete subtrees of strictly decreasing size, given left to right:
/// the fold from the right that RFC 9162 §2.1.1's split at the largest power of two implies.
/// No subtrees is the empty tree.
pub(super) fn fold_subtrees(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    }
}

/// The stored nodes behind an RFC 9162 inclusion or consistency proof: one [`HashPlan`] per
/// proof element, in proof order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    elements: Vec<HashPlan>,
}

impl ProofPlan {
    /// One plan per hash of the proof, in proof order.
    pub fn elements(&self) -> &[HashPlan] {
        &self.elements
    }

    /// Number of hashes in the proof.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether the proof is empty (e.g. a leaf in a one-leaf tree, or equal tree sizes).
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Every complete subtree to fetch, in proof order, without repetition: O(log n) nodes
    /// (at most `2·⌈log2 n⌉ + 2`), for one database query.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.elements
            .iter()
            .flat_map(|element| element.nodes.iter().copied())
            .collect()
    }

    /// Builds the proof from a fallible lookup of stored nodes.
    pub fn try_assemble<E>(
        &self,
        mut lookup: impl FnMut(NodeId) -> Result<Hash, E>,
    ) -> Result<Vec<Hash>, E> {
        self.elements
            .iter()
            .map(|element| element.try_assemble(&mut lookup))
            .collect()
    }

    /// Builds the proof from fetched nodes, e.g. `|id| fetched.get(&id).copied()`.
    pub fn assemble(
        &self,
        mut lookup: impl FnMut(NodeId) -> Option<Hash>,
    ) -> Result<Vec<Hash>, MissingNode> {
        self.try_assemble(|id| lookup(id).ok_or(MissingNode(id)))
    }
}

/// The plan of the inclusion proof `PATH(index, D[size])` of RFC 9162 §2.1.3.1.
///
/// Follows the recursion from the root down: at each split the sibling subtree not holding
/// the leaf is a proof element; the elements are listed leaf-side first, as the RFC orders
/// them.
pub fn inclusion_plan(index: u64, size: u64) -> Result<ProofPlan, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut begin, mut end) = (0, size);
    let mut elements = Vec::new();
    while end - begin > 1 {
        let middle = begin + split_point(end - begin);
        if index < middle {
            elements.push(HashPlan::range(middle, end));
            end = middle;
        } else {
            elements.push(HashPlan::range(begin, middle));
            begin = middle;
        }
    }
    elements.reverse();
    Ok(ProofPlan { elements })
}

/// The plan of the consistency proof `PROOF(old, D[new])` of RFC 9162 §2.1.4.1.
///
/// Follows `SUBPROOF(m, D[n], b)` from the root down; `old_root_known` is the RFC's `b`, true
/// while the subtree considered is the whole old tree, whose root the verifier already has.
/// The RFC defines proofs for `0 < old < new`; for `old == 0` and `old == new` the proof is
/// empty (anything is consistent with the empty tree, and a tree with itself).
pub fn consistency_plan(old: u64, new: u64) -> Result<ProofPlan, ProofError> {
    if old > new {
        return Err(ProofError::OldLargerThanNew { old, new });
    }
    let mut elements = Vec::new();
    if old > 0 && old < new {
        let (mut begin, mut end) = (0, new);
        let mut old_root_known = true;
        // Invariant: begin < old <= end, so the loop ends with old == end.
        while old < end {
            let middle = begin + split_point(end - begin);
            if old <= middle {
                elements.push(HashPlan::range(middle, end));
                end = middle;
            } else {
                elements.push(HashPlan::range(begin, middle));
                begin = middle;
                old_root_known = false;
            }
        }
        if !old_root_known {
            elements.push(HashPlan::range(begin, end));
        }
        elements.reverse();
    }
    Ok(ProofPlan { elements })
}

/// The plan of the tree head `MTH(D[size])` (RFC 9162 §2.1.1) of the first `size` leaves:
/// the complete subtrees of the binary decomposition of `size`, the same nodes from which
/// [`Frontier::from_nodes`](super::Frontier::from_nodes) rebuilds an appender.
pub fn root_plan(size: u64) -> HashPlan {
    HashPlan::range(0, size)
}

/// A store of complete-subtree hashes, such as a ledger table keyed by (level, index).
pub trait NodeSource {
    /// Why a node could not be read.
    type Error;

    /// The hash of a complete subtree.
    fn node(&self, id: NodeId) -> Result<Hash, Self::Error>;
}

/// Why a proof could not be produced from a [`NodeSource`].
#[derive(Debug, Error)]
pub enum SourceError<E> {
    /// No such proof exists.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The store failed to return a node the proof needs.
    #[error("reading a stored tree node failed")]
    Source(#[source] E),
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1).
pub fn inclusion_proof<S: NodeSource>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, SourceError<S::Error>> {
    inclusion_plan(index, size)?
        .try_assemble(|id| source.node(id))
        .map_err(SourceError::Source)
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves
/// (RFC 9162 §2.1.4.1).
pub fn consistency_proof<S: NodeSource>(
    source: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, SourceError<S::Error>> {
    consistency_plan(old, new)?
        .try_assemble(|id| source.node(id))
        .map_err(SourceError::Source)
}

/// The tree head of the first `size` leaves (RFC 9162 §2.1.1).
pub fn root<S: NodeSource>(source: &S, size: u64) -> Result<Hash, S::Error> {
    root_plan(size).try_assemble(|id| source.node(id))
}

/// A whole tree in memory, one vector of complete-subtree hashes per level, for tests and for
/// clients that mirror a small log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[l][i]` is the hash of `NodeId { level: l, index: i }`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tree of the given leaf hashes, in order.
    pub fn from_leaf_hashes(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        leaves.into_iter().for_each(|leaf| tree.push(leaf));
        tree
    }

    /// Appends a leaf hash and every complete subtree it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = Some(leaf);
        let mut level = 0;
        while let Some(node) = carry {
            if level == self.levels.len() {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(node);
            // An even count means the node just stored is a right child: its parent is done.
            carry = match row.as_slice() {
                [.., left, right] if row.len() & 1 == 0 => Some(node_hash(left, right)),
                _ => None,
            };
            level += 1;
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;

    fn node(&self, id: NodeId) -> Result<Hash, MissingNode> {
        let index = usize::try_from(id.index).map_err(|_| MissingNode(id))?;
        self.levels
            .get(usize::from(id.level))
            .and_then(|row| row.get(index))
            .copied()
            .ok_or(MissingNode(id))
    }
}
