//! Properties of the RFC 9162 tree, its proofs, the append frontier, tiles and item sets.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use pedigree_schema::itemset::{ItemProof, ItemSet, ItemSetError};
use pedigree_schema::merkle::{
    consistency_plan, consistency_proof, decode_entry_bundle, encode_entry_bundle, hex_hash,
    inclusion_plan, inclusion_proof, leaf_hash, node_hash, root, root_from_leaf_hashes, root_plan,
    verify_consistency, verify_inclusion, Frontier, Hash, HexHashError, MemoryTree, MissingNode,
    NodeId, NodeSource, ProofError, TileRef, TreeFull, VerifyError,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

const MAX: u64 = 300;

struct Reference {
    entries: Vec<Vec<u8>>,
    leaves: Vec<Hash>,
    tree: MemoryTree,
}

/// One shared tree of 300 entries; every smaller tree is a prefix of it.
fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let entries: Vec<Vec<u8>> = (0..MAX)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        let leaves: Vec<Hash> = entries.iter().map(|entry| leaf_hash(entry)).collect();
        let tree = MemoryTree::from_leaf_hashes(leaves.iter().copied());
        Reference {
            entries,
            leaves,
            tree,
        }
    })
}

fn tree_root(size: u64) -> Hash {
    root(&reference().tree, size).unwrap()
}

/// `2·⌈log2 n⌉ + 2`, the bound on the nodes a plan may fetch.
fn node_bound(n: u64) -> usize {
    let ceil_log2 = if n <= 1 {
        0
    } else {
        u64::BITS - (n - 1).leading_zeros()
    };
    2 * ceil_log2 as usize + 2
}

fn flip(hash: &mut Hash, bit: usize) {
    hash[bit / 8 % 32] ^= 1 << (bit % 8);
}

// ---- RFC 9162 reference recursion, straight from §2.1.3.1 and §2.1.4.1 ----

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn rfc_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = split(leaves.len());
    let (left, right) = leaves.split_at(k);
    if m < k {
        let mut path = rfc_path(m, left);
        path.push(root_from_leaf_hashes(right));
        path
    } else {
        let mut path = rfc_path(m - k, right);
        path.push(root_from_leaf_hashes(left));
        path
    }
}

fn rfc_subproof(m: usize, leaves: &[Hash], whole_old_tree: bool) -> Vec<Hash> {
    if m == leaves.len() {
        return if whole_old_tree {
            Vec::new()
        } else {
            vec![root_from_leaf_hashes(leaves)]
        };
    }
    let k = split(leaves.len());
    let (left, right) = leaves.split_at(k);
    if m <= k {
        let mut proof = rfc_subproof(m, left, whole_old_tree);
        proof.push(root_from_leaf_hashes(right));
        proof
    } else {
        let mut proof = rfc_subproof(m - k, right, false);
        proof.push(root_from_leaf_hashes(left));
        proof
    }
}

#[test]
fn proofs_equal_the_rfc_recursion_up_to_64_leaves() {
    let reference = reference();
    for size in 1..=64usize {
        let leaves = &reference.leaves[..size];
        for index in 0..size {
            assert_eq!(
                inclusion_proof(&reference.tree, index as u64, size as u64).unwrap(),
                rfc_path(index, leaves),
                "inclusion of {index} in {size}"
            );
        }
        for old in 1..size {
            assert_eq!(
                consistency_proof(&reference.tree, old as u64, size as u64).unwrap(),
                rfc_subproof(old, leaves, true),
                "consistency {old} -> {size}"
            );
        }
    }
}

#[test]
fn every_inclusion_proof_up_to_300_leaves_verifies() {
    let reference = reference();
    for size in 1..=MAX {
        let head = tree_root(size);
        assert_eq!(
            head,
            root_from_leaf_hashes(&reference.leaves[..size as usize])
        );
        for index in 0..size {
            let proof = inclusion_proof(&reference.tree, index, size).unwrap();
            verify_inclusion(
                &reference.leaves[index as usize],
                index,
                size,
                &proof,
                &head,
            )
            .unwrap_or_else(|e| panic!("leaf {index} of {size}: {e}"));
        }
    }
}

#[test]
fn every_consistency_proof_up_to_300_leaves_verifies() {
    let reference = reference();
    let heads: Vec<Hash> = (0..=MAX).map(tree_root).collect();
    for new in 0..=MAX {
        for old in 0..=new {
            let proof = consistency_proof(&reference.tree, old, new).unwrap();
            verify_consistency(old, new, &heads[old as usize], &heads[new as usize], &proof)
                .unwrap_or_else(|e| panic!("{old} -> {new}: {e}"));
        }
    }
}

#[test]
fn plans_fetch_logarithmically_many_distinct_nodes_for_small_trees() {
    for size in 1..=MAX {
        for index in 0..size {
            let nodes = inclusion_plan(index, size).unwrap().nodes();
            assert!(nodes.len() <= node_bound(size), "leaf {index} of {size}");
            assert_eq!(nodes.iter().collect::<BTreeSet<_>>().len(), nodes.len());
        }
        for old in 0..=size {
            let nodes = consistency_plan(old, size).unwrap().nodes();
            assert!(nodes.len() <= node_bound(size), "{old} -> {size}");
            assert_eq!(nodes.iter().collect::<BTreeSet<_>>().len(), nodes.len());
        }
        assert_eq!(root_plan(size).nodes().len(), size.count_ones() as usize);
    }
}

#[test]
fn impossible_proofs_are_refused() {
    let tree = &reference().tree;
    assert_eq!(
        inclusion_plan(0, 0),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        inclusion_plan(5, 5),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        consistency_plan(3, 2),
        Err(ProofError::OldLargerThanNew { old: 3, new: 2 })
    );
    let leaf = reference().leaves[0];
    assert_eq!(
        verify_inclusion(&leaf, 1, 1, &[], &leaf),
        Err(VerifyError::Proof(ProofError::IndexOutOfRange {
            index: 1,
            size: 1
        }))
    );
    assert_eq!(
        verify_consistency(3, 2, &leaf, &leaf, &[]),
        Err(VerifyError::Proof(ProofError::OldLargerThanNew {
            old: 3,
            new: 2
        }))
    );
    // The tree only holds 300 leaves: a larger tree's nodes are missing, and say which.
    let missing = inclusion_proof(tree, 0, 301).unwrap_err();
    assert!(matches!(
        missing,
        pedigree_schema::merkle::SourceError::Source(MissingNode(NodeId {
            level: 0,
            index: 300
        }))
    ));
}

#[test]
fn trivial_consistency_cases_check_what_they_can() {
    let head = tree_root(5);
    let other = tree_root(6);
    verify_consistency(5, 5, &head, &head, &[]).unwrap();
    assert_eq!(
        verify_consistency(5, 5, &head, &other, &[]),
        Err(VerifyError::SameSizeRootsDiffer)
    );
    assert_eq!(
        verify_consistency(5, 5, &head, &head, &[head]),
        Err(VerifyError::WrongProofLength {
            expected: 0,
            actual: 1
        })
    );
    verify_consistency(0, 5, &tree_root(0), &head, &[]).unwrap();
    assert_eq!(
        verify_consistency(0, 5, &head, &head, &[]),
        Err(VerifyError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(3, 5, &tree_root(3), &head, &[]),
        Err(VerifyError::WrongProofLength {
            expected: 4,
            actual: 0
        })
    );
}

#[test]
fn assembly_reports_the_missing_node() {
    let plan = inclusion_plan(6, 7).unwrap();
    let tree = &reference().tree;
    let absent = plan.nodes()[1];
    let result = plan.assemble(|id| (id != absent).then(|| tree.node(id).unwrap()));
    assert_eq!(result, Err(MissingNode(absent)));
}

#[test]
fn frontier_refuses_to_overflow_the_tree_size() {
    let mut frontier = Frontier::from_nodes(u64::MAX, |_| Some([7; 32])).unwrap();
    assert_eq!(frontier.push([0; 32]), Err(TreeFull));
    assert_eq!(frontier.size(), u64::MAX);
}

fn inclusion_case() -> impl Strategy<Value = (u64, u64)> {
    (1..=MAX).prop_flat_map(|size| (Just(size), 0..size))
}

fn growth_case() -> impl Strategy<Value = (u64, u64)> {
    (1..MAX).prop_flat_map(|old| (Just(old), old + 1..=MAX))
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Entry,
    ProofElement(usize),
    Root,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        Just(Target::Entry),
        any::<usize>().prop_map(Target::ProofElement),
        Just(Target::Root),
    ]
}

#[derive(Debug, Clone, Copy)]
enum HeadOrProof {
    OldRoot,
    NewRoot,
    ProofElement(usize),
}

fn head_or_proof() -> impl Strategy<Value = HeadOrProof> {
    prop_oneof![
        Just(HeadOrProof::OldRoot),
        Just(HeadOrProof::NewRoot),
        any::<usize>().prop_map(HeadOrProof::ProofElement),
    ]
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Carrier {
    #[serde(with = "hex_hash")]
    hash: Hash,
}

proptest! {
    #[test]
    fn flipping_any_bit_breaks_an_inclusion_proof(
        (size, index) in inclusion_case(),
        target in target(),
        bit in 0usize..256,
    ) {
        let reference = reference();
        let mut entry = reference.entries[index as usize].clone();
        let mut proof = inclusion_proof(&reference.tree, index, size).unwrap();
        let mut head = tree_root(size);
        match target {
            Target::Entry => {
                let position = bit / 8 % entry.len();
                entry[position] ^= 1 << (bit % 8);
            }
            Target::ProofElement(which) => {
                prop_assume!(!proof.is_empty());
                let len = proof.len();
                flip(&mut proof[which % len], bit);
            }
            Target::Root => flip(&mut head, bit),
        }
        prop_assert_eq!(
            verify_inclusion(&leaf_hash(&entry), index, size, &proof, &head),
            Err(VerifyError::RootMismatch)
        );
    }

    #[test]
    fn flipping_any_bit_breaks_a_consistency_proof(
        (old, new) in growth_case(),
        target in head_or_proof(),
        bit in 0usize..256,
    ) {
        let mut proof = consistency_proof(&reference().tree, old, new).unwrap();
        let (mut old_head, mut new_head) = (tree_root(old), tree_root(new));
        match target {
            HeadOrProof::OldRoot => flip(&mut old_head, bit),
            HeadOrProof::NewRoot => flip(&mut new_head, bit),
            HeadOrProof::ProofElement(which) => {
                let len = proof.len();
                flip(&mut proof[which % len], bit);
            }
        }
        let result = verify_consistency(old, new, &old_head, &new_head, &proof);
        prop_assert!(
            matches!(result, Err(VerifyError::OldRootMismatch | VerifyError::NewRootMismatch)),
            "{:?}", result
        );
    }

    #[test]
    fn proofs_of_the_wrong_length_are_rejected_as_such(
        (old, new) in growth_case(),
        extra in any::<bool>(),
    ) {
        let tree = &reference().tree;
        let mut proof = consistency_proof(tree, old, new).unwrap();
        let expected = proof.len();
        if extra { proof.push([0; 32]) } else { proof.pop(); }
        prop_assert_eq!(
            verify_consistency(old, new, &tree_root(old), &tree_root(new), &proof),
            Err(VerifyError::WrongProofLength { expected, actual: proof.len() })
        );
        let index = old; // any leaf index below `new`
        let mut proof = inclusion_proof(tree, index, new).unwrap();
        let expected = proof.len();
        if extra || proof.is_empty() { proof.push([0; 32]) } else { proof.pop(); }
        prop_assert_eq!(
            verify_inclusion(&reference().leaves[index as usize], index, new, &proof, &tree_root(new)),
            Err(VerifyError::WrongProofLength { expected, actual: proof.len() })
        );
    }

    #[test]
    fn plans_of_huge_trees_stay_logarithmic_and_agree_with_the_verifier(
        size in 1..=u64::MAX,
        index_seed in any::<u64>(),
        old_seed in any::<u64>(),
    ) {
        let index = index_seed % size;
        let plan = inclusion_plan(index, size).unwrap();
        prop_assert!(plan.nodes().len() <= node_bound(size));
        // The verifier states the proof length it wants; it must be the plan's.
        let too_long = vec![[0u8; 32]; plan.len() + 1];
        prop_assert_eq!(
            verify_inclusion(&[0; 32], index, size, &too_long, &[0; 32]),
            Err(VerifyError::WrongProofLength { expected: plan.len(), actual: plan.len() + 1 })
        );

        let old = old_seed % size; // old < size
        let plan = consistency_plan(old, size).unwrap();
        prop_assert!(plan.nodes().len() <= node_bound(size));
        let too_long = vec![[0u8; 32]; plan.len() + 1];
        prop_assert_eq!(
            verify_consistency(old, size, &[0; 32], &[0; 32], &too_long),
            Err(VerifyError::WrongProofLength { expected: plan.len(), actual: plan.len() + 1 })
        );
    }

    #[test]
    fn frontier_restart_names_a_missing_node(size in 1u64..=u64::MAX, which in any::<usize>()) {
        let needed = root_plan(size).nodes().to_vec();
        let absent = needed[which % needed.len()];
        prop_assert_eq!(
            Frontier::from_nodes(size, |id| (id != absent).then_some([1; 32])),
            Err(MissingNode(absent))
        );
    }

    #[test]
    fn item_set_multi_proofs_verify_and_survive_json(
        (items, indices) in (1usize..=MAX as usize).prop_flat_map(|n| (
            Just((0..n).map(|i| format!("serial-{i:05}")).collect::<Vec<_>>()),
            proptest::collection::btree_set(0..n, 1..=n.min(20)),
        )),
    ) {
        let set = ItemSet::new(&items);
        let indices: Vec<usize> = indices.into_iter().collect();
        let proof = set.proof(&indices).unwrap();
        let proven: Vec<&String> = indices.iter().map(|&i| &items[i]).collect();
        proof.verify(&set.root(), &proven).unwrap();

        let json = serde_json::to_string(&proof).unwrap();
        let back: ItemProof = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &proof);
        back.verify(&set.root(), &proven).unwrap();
    }

    #[test]
    fn tampered_item_proofs_fail(
        (items, indices) in (2usize..=MAX as usize).prop_flat_map(|n| (
            Just((0..n).map(|i| format!("serial-{i:05}")).collect::<Vec<_>>()),
            proptest::collection::btree_set(0..n, 1..n.min(20)),
        )),
        which in any::<usize>(),
        bit in 0usize..256,
    ) {
        let set = ItemSet::new(&items);
        let root = set.root();
        let indices: Vec<usize> = indices.into_iter().collect();
        let proof = set.proof(&indices).unwrap();
        let proven: Vec<String> = indices.iter().map(|&i| items[i].clone()).collect();

        // Another item in place of a proven one.
        let mut wrong_items = proven.clone();
        wrong_items[which % proven.len()].push('x');
        prop_assert_eq!(proof.verify(&root, &wrong_items), Err(ItemSetError::RootMismatch));

        // A flipped bit in the committed root.
        let mut wrong_root = root;
        flip(&mut wrong_root, bit);
        prop_assert_eq!(proof.verify(&wrong_root, &proven), Err(ItemSetError::RootMismatch));

        // A flipped bit in a proof hash.
        if !proof.hashes.is_empty() {
            let mut tampered = proof.clone();
            let len = tampered.hashes.len();
            flip(&mut tampered.hashes[which % len], bit);
            prop_assert_eq!(tampered.verify(&root, &proven), Err(ItemSetError::RootMismatch));
        }

        // A surplus hash.
        let mut padded = proof.clone();
        padded.hashes.push([0; 32]);
        prop_assert_eq!(
            padded.verify(&root, &proven),
            Err(ItemSetError::WrongProofLength { expected: proof.hashes.len(), actual: proof.hashes.len() + 1 })
        );

        // The proven items claimed at a position they are not at.
        let unused = (0..items.len()).find(|i| !indices.contains(i)).unwrap();
        let mut moved = proof.clone();
        moved.indices[which % indices.len()] = unused as u64;
        moved.indices.sort_unstable();
        prop_assert!(moved.verify(&root, &proven).is_err());
    }

    #[test]
    fn tile_paths_round_trip(
        level in 0u8..=63,
        index in any::<u64>(),
        width in 1u16..=256,
        entries in any::<bool>(),
    ) {
        let tile = if entries {
            TileRef::entries(index, width).unwrap()
        } else {
            TileRef::hashes(level, index, width).unwrap()
        };
        prop_assert_eq!(TileRef::parse(&tile.to_string()), Ok(tile));
    }

    #[test]
    fn entry_bundles_round_trip(
        entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 1..=256),
    ) {
        let bundle = encode_entry_bundle(&entries).unwrap();
        let decoded = decode_entry_bundle(&bundle).unwrap();
        prop_assert_eq!(decoded, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn hashes_serialise_as_lowercase_hex(hash in any::<[u8; 32]>()) {
        let json = serde_json::to_string(&Carrier { hash }).unwrap();
        prop_assert_eq!(&json, &format!("{{\"hash\":\"{}\"}}", hex::encode(hash)));
        prop_assert_eq!(serde_json::from_str::<Carrier>(&json).unwrap(), Carrier { hash });
    }
}

proptest! {
    // Each case appends up to 1500 leaves: fewer cases keep the debug run short.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn frontier_tracks_the_tree_head_and_rebuilds_from_stored_nodes(
        size in 0usize..1500,
        restart_seed in any::<usize>(),
    ) {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mirror = MemoryTree::from_leaf_hashes(leaves.iter().copied());
        let mut frontier = Frontier::new();
        let mut stored: HashMap<NodeId, Hash> = HashMap::new();
        for (index, leaf) in leaves.iter().enumerate() {
            let completed = frontier.push(*leaf).unwrap();
            // The leaf, then one node per carry, each a node of the full tree.
            prop_assert_eq!(completed.len(), index.trailing_ones() as usize + 1);
            for (level, (id, hash)) in completed.iter().enumerate() {
                prop_assert_eq!(id.level as usize, level);
                prop_assert_eq!(mirror.node(*id), Ok(*hash));
                prop_assert!(stored.insert(*id, *hash).is_none(), "{} stored twice", id);
            }
        }
        prop_assert_eq!(frontier.size(), size as u64);
        prop_assert_eq!(frontier.root(), root_from_leaf_hashes(&leaves));
        // Every complete subtree was handed out exactly once.
        prop_assert_eq!(stored.len(), 2 * size - size.count_ones() as usize);

        let rebuilt = Frontier::from_nodes(size as u64, |id| stored.get(&id).copied()).unwrap();
        prop_assert_eq!(&rebuilt, &frontier);

        // Restarting at an earlier size reproduces that tree head and appends identically.
        let restart = restart_seed % (size + 1);
        let mut resumed = Frontier::from_nodes(restart as u64, |id| stored.get(&id).copied()).unwrap();
        prop_assert_eq!(resumed.root(), root_from_leaf_hashes(&leaves[..restart]));
        for leaf in &leaves[restart..] {
            resumed.push(*leaf).unwrap();
        }
        prop_assert_eq!(resumed, frontier);
    }
}

#[test]
fn item_set_roots_equal_rfc9162_roots_up_to_300_items() {
    for n in 0..=MAX as usize {
        let items: Vec<Vec<u8>> = (0..n).map(|i| (i as u32).to_be_bytes().to_vec()).collect();
        let set = ItemSet::new(&items);
        let leaves: Vec<Hash> = items.iter().map(|item| leaf_hash(item)).collect();
        assert_eq!(set.root(), root_from_leaf_hashes(&leaves), "{n} items");
        assert_eq!(set.len(), n);
    }
}

#[test]
fn item_sets_are_order_sensitive() {
    let forward = ItemSet::new(&["a", "b"]);
    let backward = ItemSet::new(&["b", "a"]);
    assert_ne!(forward.root(), backward.root());
    assert_eq!(
        forward.root(),
        node_hash(&leaf_hash(b"a"), &leaf_hash(b"b"))
    );
}

#[test]
fn item_proof_requests_are_validated() {
    let set = ItemSet::new(&["a", "b", "c"]);
    assert_eq!(set.proof(&[]), Err(ItemSetError::NoIndices));
    assert_eq!(
        set.proof(&[1, 1]),
        Err(ItemSetError::IndicesNotAscending {
            previous: 1,
            next: 1
        })
    );
    assert_eq!(
        set.proof(&[2, 0]),
        Err(ItemSetError::IndicesNotAscending {
            previous: 2,
            next: 0
        })
    );
    assert_eq!(
        set.proof(&[3]),
        Err(ItemSetError::IndexOutOfRange { index: 3, len: 3 })
    );
    let empty = ItemSet::new::<&str>(&[]);
    assert!(empty.is_empty());
    assert_eq!(empty.root(), pedigree_schema::merkle::empty_root());
    assert_eq!(
        empty.proof(&[0]),
        Err(ItemSetError::IndexOutOfRange { index: 0, len: 0 })
    );

    let proof = set.proof(&[0, 2]).unwrap();
    assert_eq!(
        proof.verify(&set.root(), &["a"]),
        Err(ItemSetError::ItemCountMismatch {
            indices: 2,
            items: 1
        })
    );
    let mut lying = proof.clone();
    lying.leaf_count = 2;
    assert_eq!(
        lying.verify(&set.root(), &["a", "c"]),
        Err(ItemSetError::IndexOutOfRange { index: 2, len: 2 })
    );
}

#[test]
fn item_proof_json_is_strict() {
    let set = ItemSet::new(&["a", "b", "c"]);
    let proof = set.proof(&[1]).unwrap();
    let json = serde_json::to_value(&proof).unwrap();
    assert_eq!(json["indices"], serde_json::json!([1]));
    assert_eq!(json["leaf_count"], serde_json::json!(3));
    assert_eq!(
        json["hashes"][0],
        serde_json::json!(hex::encode(leaf_hash(b"a")))
    );

    let lower = hex::encode(leaf_hash(b"a"));
    let upper = json.to_string().replace(&lower, &lower.to_uppercase());
    assert!(serde_json::from_str::<ItemProof>(&upper).is_err());
    let mut unknown = json.clone();
    unknown["extra"] = serde_json::json!(true);
    assert!(serde_json::from_value::<ItemProof>(unknown).is_err());
}

#[test]
fn hex_hashes_must_be_64_lowercase_digits() {
    let good = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_eq!(
        hex_hash::parse(good),
        Ok(pedigree_schema::merkle::empty_root())
    );
    assert_eq!(
        hex_hash::parse(&good[..62]),
        Err(HexHashError::WrongLength(62))
    );
    assert_eq!(
        hex_hash::parse(&good.replacen('e', "E", 1)),
        Err(HexHashError::NotLowercaseHex { position: 0 })
    );
    assert_eq!(
        hex_hash::parse(&format!("{}g", &good[..63])),
        Err(HexHashError::NotLowercaseHex { position: 63 })
    );
    assert_eq!(
        hex_hash::parse(&format!("{}é", &good[..62])),
        Err(HexHashError::NotLowercaseHex { position: 62 })
    );
}
