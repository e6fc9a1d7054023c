//! Known answers: the RFC 9162 vectors of the transparency-dev/merkle reference tree
//! (testdata/merkle/rfc9162-vectors.json) and the examples of the C2SP tlog-tiles spec.

use pedigree_schema::merkle::{
    consistency_proof, decode_entry_bundle, empty_root, encode_entry_bundle, entries_path,
    inclusion_proof, leaf_hash, root, root_from_leaf_hashes, tile_path, verify_consistency,
    verify_inclusion, BundleError, Frontier, Hash, MemoryTree, NodeId, TileError, TileKind,
    TileRef,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    leaves: Vec<String>,
    leaf_hashes: Vec<String>,
    roots: Vec<String>,
    inclusion: Vec<InclusionCase>,
    consistency: Vec<ConsistencyCase>,
}

#[derive(Deserialize)]
struct InclusionCase {
    size: u64,
    index: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct ConsistencyCase {
    old: u64,
    new: u64,
    proof: Vec<String>,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../testdata/merkle/rfc9162-vectors.json"))
        .expect("the vector file is valid JSON of the documented shape")
}

fn hash(text: &str) -> Hash {
    hex::decode(text)
        .expect("vector hashes are hex")
        .try_into()
        .expect("vector hashes are 32 bytes")
}

fn hashes(texts: &[String]) -> Vec<Hash> {
    texts.iter().map(|text| hash(text)).collect()
}

fn leaf_hashes(vectors: &Vectors) -> Vec<Hash> {
    vectors
        .leaves
        .iter()
        .map(|leaf| leaf_hash(&hex::decode(leaf).expect("vector leaves are hex")))
        .collect()
}

fn reference_tree(vectors: &Vectors) -> MemoryTree {
    MemoryTree::from_leaf_hashes(leaf_hashes(vectors))
}

#[test]
fn vector_file_covers_the_whole_reference_tree() {
    let vectors = vectors();
    assert_eq!(vectors.leaves.len(), 8);
    assert_eq!(vectors.roots.len(), 9);
    assert_eq!(
        vectors.inclusion.len(),
        36,
        "every (index, size) with size <= 8"
    );
    assert!(!vectors.consistency.is_empty());
}

#[test]
fn leaf_hashes_match_vectors() {
    let vectors = vectors();
    assert_eq!(leaf_hashes(&vectors), hashes(&vectors.leaf_hashes));
}

#[test]
fn empty_root_is_sha256_of_empty_string() {
    assert_eq!(
        hex::encode(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn roots_of_every_size_match_vectors_by_every_method() {
    let vectors = vectors();
    let leaves = leaf_hashes(&vectors);
    let tree = reference_tree(&vectors);
    let mut frontier = Frontier::new();
    for (size, expected) in hashes(&vectors.roots).iter().enumerate() {
        assert_eq!(
            &root_from_leaf_hashes(&leaves[..size]),
            expected,
            "MTH, size {size}"
        );
        assert_eq!(
            &root(&tree, size as u64).unwrap(),
            expected,
            "root plan, size {size}"
        );
        assert_eq!(&frontier.root(), expected, "frontier, size {size}");
        if let Some(&leaf) = leaves.get(size) {
            frontier.push(leaf).unwrap();
        }
    }
    assert_eq!(
        hex::encode(root_from_leaf_hashes(&leaves)),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
}

#[test]
fn inclusion_proofs_generated_from_memory_tree_match_vectors() {
    let vectors = vectors();
    let tree = reference_tree(&vectors);
    for case in &vectors.inclusion {
        assert_eq!(
            inclusion_proof(&tree, case.index, case.size).unwrap(),
            hashes(&case.proof),
            "index {} size {}",
            case.index,
            case.size
        );
    }
}

#[test]
fn inclusion_vectors_verify() {
    let vectors = vectors();
    let leaves = hashes(&vectors.leaf_hashes);
    let roots = hashes(&vectors.roots);
    for case in &vectors.inclusion {
        verify_inclusion(
            &leaves[case.index as usize],
            case.index,
            case.size,
            &hashes(&case.proof),
            &roots[case.size as usize],
        )
        .unwrap_or_else(|e| panic!("index {} size {}: {e}", case.index, case.size));
    }
}

#[test]
fn consistency_proofs_generated_from_memory_tree_match_vectors() {
    let vectors = vectors();
    let tree = reference_tree(&vectors);
    for case in &vectors.consistency {
        assert_eq!(
            consistency_proof(&tree, case.old, case.new).unwrap(),
            hashes(&case.proof),
            "old {} new {}",
            case.old,
            case.new
        );
    }
}

#[test]
fn consistency_vectors_verify() {
    let vectors = vectors();
    let roots = hashes(&vectors.roots);
    for case in &vectors.consistency {
        verify_consistency(
            case.old,
            case.new,
            &roots[case.old as usize],
            &roots[case.new as usize],
            &hashes(&case.proof),
        )
        .unwrap_or_else(|e| panic!("old {} new {}: {e}", case.old, case.new));
    }
}

#[test]
fn tile_paths_follow_the_spec_examples() {
    assert_eq!(
        tile_path(0, 1_234_067, 256).unwrap(),
        "tile/0/x001/x234/067"
    );
    assert_eq!(tile_path(1, 0, 256).unwrap(), "tile/1/000");
    assert_eq!(tile_path(2, 5, 17).unwrap(), "tile/2/005.p/17");
    assert_eq!(tile_path(0, 1000, 1).unwrap(), "tile/0/x001/000.p/1");
    assert_eq!(entries_path(273, 112).unwrap(), "tile/entries/273.p/112");
    assert_eq!(
        entries_path(u64::MAX, 256).unwrap(),
        "tile/entries/x018/x446/x744/x073/x709/x551/615"
    );
}

#[test]
fn tile_paths_parse_back() {
    let tile = TileRef::parse("tile/0/x001/x234/067").unwrap();
    assert_eq!(tile.kind(), TileKind::Hashes { level: 0 });
    assert_eq!(
        (tile.index(), tile.width(), tile.is_partial()),
        (1_234_067, 256, false)
    );

    let tile: TileRef = "tile/entries/x001/000.p/255".parse().unwrap();
    assert_eq!(tile.kind(), TileKind::Entries);
    assert_eq!(
        (tile.index(), tile.width(), tile.is_partial()),
        (1000, 255, true)
    );

    let tile = TileRef::parse("tile/63/999").unwrap();
    assert_eq!(tile.kind(), TileKind::Hashes { level: 63 });
}

#[test]
fn malformed_tile_paths_are_rejected_precisely() {
    let cases: &[(&str, TileError)] = &[
        ("tiles/0/000", TileError::NotATilePath),
        ("/tile/0/000", TileError::NotATilePath),
        ("tile/00/000", TileError::BadLevel("00".into())),
        ("tile/64/000", TileError::BadLevel("64".into())),
        ("tile/+1/000", TileError::BadLevel("+1".into())),
        ("tile/0", TileError::BadIndexElement(String::new())),
        ("tile/0/", TileError::BadIndexElement(String::new())),
        ("tile/0/67", TileError::BadIndexElement("67".into())),
        ("tile/0/0067", TileError::BadIndexElement("0067".into())),
        ("tile/0/001/234", TileError::BadIndexElement("001".into())),
        ("tile/0/x234", TileError::BadIndexElement("x234".into())),
        ("tile/0/x000/001", TileError::NonCanonicalIndex),
        (
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            TileError::IndexTooLarge,
        ),
        ("tile/0/000.p/256", TileError::BadWidth("256".into())),
        ("tile/0/000.p/0", TileError::BadWidth("0".into())),
        ("tile/0/000.p/08", TileError::BadWidth("08".into())),
        ("tile/0/000.p/", TileError::BadWidth(String::new())),
        ("tile/0/000.p/8/", TileError::BadWidth("8/".into())),
    ];
    for (path, error) in cases {
        assert_eq!(TileRef::parse(path).as_ref(), Err(error), "{path}");
    }
}

#[test]
fn tile_constructors_reject_bad_levels_and_widths() {
    assert_eq!(tile_path(64, 0, 256), Err(TileError::LevelTooHigh(64)));
    assert_eq!(tile_path(0, 0, 0), Err(TileError::WidthOutOfRange(0)));
    assert_eq!(entries_path(0, 257), Err(TileError::WidthOutOfRange(257)));
}

#[test]
fn tiles_hold_the_nodes_the_spec_defines() {
    // Tile 3 at level 1 holds MTH(D[(3·256 + i)·256 : (3·256 + i + 1)·256]): node level 8.
    let tile = TileRef::hashes(1, 3, 256).unwrap();
    let nodes = tile.nodes().unwrap();
    assert_eq!(nodes.len(), 256);
    assert_eq!(nodes[0], NodeId::new(8, 768));
    assert_eq!(nodes[0].leaves(), Some(768 * 256..769 * 256));
    assert_eq!(nodes[255], NodeId::new(8, 1023));

    let bundle = TileRef::entries(2, 5).unwrap();
    let leaves: Vec<NodeId> = (512..517).map(NodeId::leaf).collect();
    assert_eq!(bundle.nodes().unwrap(), leaves);

    // Level 8 would hold nodes of level 64, which no 64-bit tree has.
    assert_eq!(
        TileRef::hashes(8, 0, 1).unwrap().nodes(),
        Err(TileError::BeyondTree { level: 8, index: 0 })
    );
    assert!(TileRef::hashes(7, 0, 255).unwrap().nodes().is_ok());
    assert_eq!(
        TileRef::hashes(7, 0, 256).unwrap().nodes(),
        Err(TileError::BeyondTree { level: 7, index: 0 })
    );
}

#[test]
fn entry_bundles_use_big_endian_u16_length_prefixes() {
    let bundle = encode_entry_bundle(&[&b"ab"[..], b"", &[7u8; 300]]).unwrap();
    assert_eq!(&bundle[..6], &[0, 2, b'a', b'b', 0, 0]);
    assert_eq!(&bundle[6..8], &[0x01, 0x2c]);
    assert_eq!(bundle.len(), 8 + 300);
    let entries = decode_entry_bundle(&bundle).unwrap();
    assert_eq!(entries, vec![&b"ab"[..], b"", &[7u8; 300]]);
}

#[test]
fn malformed_entry_bundles_are_rejected_precisely() {
    assert_eq!(decode_entry_bundle(&[]), Err(BundleError::EntryCount(0)));
    assert_eq!(
        decode_entry_bundle(&[0, 1, 9, 0]),
        Err(BundleError::TruncatedLength { position: 1 })
    );
    assert_eq!(
        decode_entry_bundle(&[0, 3, 9, 9]),
        Err(BundleError::TruncatedEntry {
            position: 0,
            len: 3,
            available: 2
        })
    );
    assert_eq!(
        decode_entry_bundle(&[0, 0].repeat(257)),
        Err(BundleError::EntryCount(257))
    );
    let no_entries: &[&[u8]] = &[];
    assert_eq!(
        encode_entry_bundle(no_entries),
        Err(BundleError::EntryCount(0))
    );
    assert_eq!(
        encode_entry_bundle(&[vec![0u8; 65_536]]),
        Err(BundleError::EntryTooLong {
            position: 0,
            len: 65_536
        })
    );
    assert_eq!(
        encode_entry_bundle(&vec![b"x"; 257]),
        Err(BundleError::EntryCount(257))
    );
}
