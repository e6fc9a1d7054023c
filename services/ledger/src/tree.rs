//! The Merkle tree as stored: every complete subtree hash once, in
//! `tree_nodes(level, idx)`. Appends write the O(log n) nodes that
//! [`Frontier::push`] completes; a proof or a root reads the O(log n) nodes
//! its plan names, in one query. Nothing reads all leaves.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use pedigree_schema::merkle::{
    consistency_plan, inclusion_plan, root_plan, Frontier, Hash, MissingNode, NodeId, ProofError,
    ProofPlan,
};

use crate::db::schema::tree_nodes;
use crate::db::DbConnection;

/// Why the stored tree could not answer.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("stored tree is missing {0}")]
    Missing(#[from] MissingNode),
    #[error("stored node has {0} bytes, not 32")]
    Corrupt(usize),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Reads the given nodes in one query.
pub fn fetch_nodes(
    conn: &mut DbConnection,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>, TreeError> {
    let mut by_level: BTreeMap<u8, Vec<i64>> = BTreeMap::new();
    for id in ids {
        by_level.entry(id.level).or_default().push(id.index as i64);
    }
    if by_level.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = tree_nodes::table.into_boxed();
    for (level, indices) in by_level {
        query = query.or_filter(
            tree_nodes::level
                .eq(i16::from(level))
                .and(tree_nodes::idx.eq_any(indices)),
        );
    }
    let rows: Vec<(i16, i64, Vec<u8>)> = query
        .select((tree_nodes::level, tree_nodes::idx, tree_nodes::hash))
        .load(conn)?;
    rows.into_iter()
        .map(|(level, idx, hash)| {
            let len = hash.len();
            let hash: Hash = hash.try_into().map_err(|_| TreeError::Corrupt(len))?;
            Ok((NodeId::new(level as u8, idx as u64), hash))
        })
        .collect()
}

/// Stores newly completed nodes (they never change once written).
pub fn insert_nodes(conn: &mut DbConnection, nodes: &[(NodeId, Hash)]) -> QueryResult<()> {
    for chunk in nodes.chunks(crate::log::MAX_BOUND_PARAMETERS / 3) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(id, hash)| {
                (
                    tree_nodes::level.eq(i16::from(id.level)),
                    tree_nodes::idx.eq(id.index as i64),
                    tree_nodes::hash.eq(hash.to_vec()),
                )
            })
            .collect();
        on_backend!(conn, |c| diesel::insert_into(tree_nodes::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// The right edge of the stored tree of `size` leaves, for appending.
pub fn load_frontier(conn: &mut DbConnection, size: u64) -> Result<Frontier, TreeError> {
    let fetched = fetch_nodes(conn, root_plan(size).nodes())?;
    Ok(Frontier::from_nodes(size, |id| fetched.get(&id).copied())?)
}

/// Assembles a proof plan from stored nodes, taking nodes already in
/// `known` (e.g. just computed, not yet committed) without a read.
pub fn assemble(
    conn: &mut DbConnection,
    plan: &ProofPlan,
    known: &HashMap<NodeId, Hash>,
) -> Result<Vec<Hash>, TreeError> {
    let missing: Vec<NodeId> = plan
        .nodes()
        .into_iter()
        .filter(|id| !known.contains_key(id))
        .collect();
    let fetched = fetch_nodes(conn, &missing)?;
    Ok(plan.assemble(|id| known.get(&id).or_else(|| fetched.get(&id)).copied())?)
}

/// RFC 9162 §2.1.3 inclusion proof of leaf `index` in the tree of `size`.
pub fn inclusion_proof(
    conn: &mut DbConnection,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TreeError> {
    assemble(conn, &inclusion_plan(index, size)?, &HashMap::new())
}

/// RFC 9162 §2.1.4 consistency proof from tree size `old` to `new`.
pub fn consistency_proof(
    conn: &mut DbConnection,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, TreeError> {
    assemble(conn, &consistency_plan(old, new)?, &HashMap::new())
}

/// The root of the first `size` leaves, from stored nodes.
pub fn root(conn: &mut DbConnection, size: u64) -> Result<Hash, TreeError> {
    let plan = root_plan(size);
    let fetched = fetch_nodes(conn, plan.nodes())?;
    Ok(plan.assemble(|id| fetched.get(&id).copied())?)
}

/// The hashes of nodes `[first, first + count)` at `level`, in order.
pub fn node_range(
    conn: &mut DbConnection,
    level: u8,
    first: u64,
    count: u64,
) -> Result<Vec<Hash>, TreeError> {
    let rows: Vec<(i64, Vec<u8>)> = tree_nodes::table
        .filter(tree_nodes::level.eq(i16::from(level)))
        .filter(tree_nodes::idx.ge(first as i64))
        .filter(tree_nodes::idx.lt((first + count) as i64))
        .order(tree_nodes::idx)
        .select((tree_nodes::idx, tree_nodes::hash))
        .load(conn)?;
    if rows.len() as u64 != count {
        let have: std::collections::HashSet<i64> = rows.iter().map(|(i, _)| *i).collect();
        let gap = (first..first + count)
            .find(|i| !have.contains(&(*i as i64)))
            .unwrap_or(first);
        return Err(MissingNode(NodeId::new(level, gap)).into());
    }
    rows.into_iter()
        .map(|(_, hash)| {
            let len = hash.len();
            hash.try_into().map_err(|_| TreeError::Corrupt(len))
        })
        .collect()
}
