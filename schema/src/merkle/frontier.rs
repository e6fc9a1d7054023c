//! Appending to the log in O(log n) without reading anything back: the compact range of the
//! tree's right edge.

use thiserror::Error;

use super::plan::{fold_subtrees, root_plan, MissingNode};
use super::{node_hash, Hash, NodeId};

/// The tree already counts the most leaves a 64-bit size can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the tree already holds 2^64 - 1 leaves, the most a 64-bit tree size can count")]
pub struct TreeFull;

/// The right edge of a tree of `size` leaves: the hashes of the complete subtrees of the
/// binary decomposition of `size` (one per set bit, largest first), a "compact range" of
/// `[0, size)`.
///
/// That is all RFC 9162 §2.1.1's `MTH` needs to compute the tree head, and all an append
/// needs: a new leaf merges with the complete subtrees of equal size on its left, exactly as
/// a binary counter carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Hashes of `root_plan(size).nodes()`, in that order.
    subtrees: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds the frontier of a tree of `size` leaves from its stored complete subtrees
    /// (at most 64 of them: fetch [`root_plan(size).nodes()`](super::root_plan)), e.g. when
    /// a log restarts.
    pub fn from_nodes(
        size: u64,
        mut lookup: impl FnMut(NodeId) -> Option<Hash>,
    ) -> Result<Self, MissingNode> {
        let subtrees = root_plan(size)
            .nodes()
            .iter()
            .map(|&id| lookup(id).ok_or(MissingNode(id)))
            .collect::<Result<_, _>>()?;
        Ok(Self { size, subtrees })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree head `MTH(D[size])` (RFC 9162 §2.1.1).
    pub fn root(&self) -> Hash {
        fold_subtrees(&self.subtrees)
    }

    /// Appends a leaf hash and returns the complete subtrees that now exist and did not
    /// before, lowest first: the leaf itself at level 0, then one node per level the carry
    /// climbs. A store persists exactly these; nothing stored ever changes.
    pub fn push(&mut self, leaf: Hash) -> Result<Vec<(NodeId, Hash)>, TreeFull> {
        let index = self.size;
        let size = index.checked_add(1).ok_or(TreeFull)?;
        // Each trailing one bit of `index` is a complete subtree the new leaf completes a
        // sibling for.
        let merges = index.trailing_ones() as usize;
        let keep = self.subtrees.len().saturating_sub(merges);
        let mut node = leaf;
        let mut completed = Vec::with_capacity(merges + 1);
        completed.push((NodeId::leaf(index), leaf));
        for (level, left) in (1u8..).zip(self.subtrees.drain(keep..).rev()) {
            node = node_hash(&left, &node);
            completed.push((NodeId::new(level, index >> level), node));
        }
        self.subtrees.push(node);
        self.size = size;
        Ok(completed)
    }
}
