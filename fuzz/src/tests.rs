//! The fuzz targets on stable Rust: every seed of `corpus/<target>/`, then seeded random
//! mutations of the seeds (bit flips, byte edits, insertions, deletions, splices, numbers at
//! their edges), so that CI exercises every target without libFuzzer. The same seed gives the
//! same inputs; `PEDIGREE_FUZZ_ITERATIONS` and `PEDIGREE_FUZZ_SEED` run more or others.
//!
//! `write_seed_corpus` (ignored) writes the seed corpus from the repository's test vectors.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Target, TARGETS};

/// Mutated inputs per target in a default run (the image target decodes and searches images,
/// so it runs a tenth of these).
const DEFAULT_ITERATIONS: usize = 3000;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| std::fs::read(path).expect("a corpus file"))
        .collect()
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `target` over its seeds and `iterations` mutations of them. A panic names the input
/// (hex) so that it can be saved as a new corpus file and debugged.
fn run(name: &str, target: Target, iterations: usize) {
    let seeds = seeds(name);
    assert!(!seeds.is_empty(), "{name} has a seed corpus");
    for seed in &seeds {
        run_one(name, target, seed);
    }
    let mut rng = StdRng::seed_from_u64(setting("PEDIGREE_FUZZ_SEED", 0x5eed) ^ hash(name));
    for _ in 0..iterations {
        let input = mutate(&mut rng, &seeds);
        run_one(name, target, &input);
    }
}

fn run_one(name: &str, target: Target, input: &[u8]) {
    if std::panic::catch_unwind(|| target(input)).is_err() {
        panic!("{name} panicked on input (hex) {}", hex(input));
    }
}

fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One input: a seed with one to eight random edits.
fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = seeds[rng.gen_range(0..seeds.len())].clone();
    for _ in 0..rng.gen_range(1..=8) {
        edit(rng, &mut input, seeds);
    }
    input
}

/// Bytes that parsers treat specially: separators, digits, brackets, JSON and note syntax.
const INTERESTING: &[u8] = b"\x00\x1d\n\r \"'()[]{}:,./?=&%+-^01789eEFx\\\xff\x7f\xc3";

fn edit(rng: &mut StdRng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let len = input.len();
    match rng.gen_range(0..8) {
        0 if len > 0 => {
            let i = rng.gen_range(0..len);
            input[i] ^= 1 << rng.gen_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.gen_range(0..len);
            input[i] = INTERESTING[rng.gen_range(0..INTERESTING.len())];
        }
        2 => {
            let i = rng.gen_range(0..=len);
            input.insert(i, INTERESTING[rng.gen_range(0..INTERESTING.len())]);
        }
        3 if len > 0 => {
            let start = rng.gen_range(0..len);
            let end = rng.gen_range(start..=len.min(start + 16));
            input.drain(start..end);
        }
        4 if len > 0 => {
            // Repeat a chunk (nesting, long fields).
            let start = rng.gen_range(0..len);
            let end = rng.gen_range(start..=len.min(start + 32));
            let chunk = input[start..end].to_vec();
            for _ in 0..rng.gen_range(1..=4) {
                input.splice(start..start, chunk.iter().copied());
            }
        }
        5 => {
            // Splice in part of another seed.
            let other = &seeds[rng.gen_range(0..seeds.len())];
            if !other.is_empty() {
                let start = rng.gen_range(0..other.len());
                let end = rng.gen_range(start..=other.len());
                let at = rng.gen_range(0..=len);
                input.splice(at..at, other[start..end].iter().copied());
            }
        }
        6 if len >= 8 => {
            // A number at an edge, little-endian, over eight bytes.
            let edges = [0u64, 1, u64::MAX, u64::MAX / 2 + 1, 255, 256, 1 << 32];
            let value = edges[rng.gen_range(0..edges.len())];
            let i = rng.gen_range(0..=len - 8);
            input[i..i + 8].copy_from_slice(&value.to_le_bytes());
        }
        _ => input.truncate(rng.gen_range(0..=len)),
    }
}

macro_rules! fuzz_tests {
    ($($name:ident: $divisor:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            let target = TARGETS
                .iter()
                .find(|(name, _)| *name == stringify!($name))
                .expect("a target")
                .1;
            let iterations = setting("PEDIGREE_FUZZ_ITERATIONS", DEFAULT_ITERATIONS as u64);
            run(stringify!($name), target, iterations as usize / $divisor);
        }
    )*};
}

fuzz_tests! {
    gs1_parse: 1,
    event_decode: 1,
    merkle_proofs: 1,
    note_checkpoint: 1,
    image_payload: 10,
}

#[test]
fn every_target_has_a_test_and_a_corpus() {
    let tested = [
        "gs1_parse",
        "event_decode",
        "merkle_proofs",
        "note_checkpoint",
        "image_payload",
    ];
    for (name, _) in TARGETS {
        assert!(tested.contains(&name), "{name} has a test");
        assert!(corpus_dir(name).is_dir(), "{name} has a corpus");
        let binary = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz_targets")
            .join(format!("{name}.rs"));
        assert!(binary.is_file(), "{name} has a libFuzzer target");
    }
}

#[test]
fn the_image_seeds_hold_a_readable_code() {
    for seed in seeds("image_payload") {
        let codes = pedigree_scan::input::codes_in_image(&seed, Path::new("seed")).unwrap();
        assert_eq!(codes, ["0109506000134352172806301012AB\x1d21S1"]);
    }
}

/// Writes the seed corpus from the repository's test vectors (run with `--ignored`; the
/// output is committed). Each seed is small: libFuzzer mutates from there.
#[test]
#[ignore]
fn write_seed_corpus() {
    seeds::write_all();
}

mod seeds {
    use super::corpus_dir;
    use pedigree_schema::itemset::ItemSet;
    use pedigree_schema::merkle;
    use serde_json::Value;

    fn testdata(path: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../schema/testdata")
            .join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn json(path: &str) -> Value {
        serde_json::from_str(&testdata(path)).expect("JSON test vectors")
    }

    fn write(target: &str, name: &str, bytes: &[u8]) {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("the corpus directory");
        std::fs::write(dir.join(name), bytes).expect("a seed file");
    }

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    pub fn write_all() {
        gs1();
        events();
        proofs();
        notes();
        images();
    }

    fn gs1() {
        for file in [
            "gs1/element-string-bracketed-parse.json",
            "gs1/digital-link-parse.json",
        ] {
            let prefix = if file.contains("digital") { "dl" } else { "es" };
            for (i, case) in json(file)["cases"].as_array().unwrap().iter().enumerate() {
                let input = case["input"].as_str().unwrap();
                write("gs1_parse", &format!("{prefix}-{i:03}"), input.as_bytes());
                if let Some(expect) = case["expect"].as_str().filter(|e| !e.is_empty()) {
                    // The expected element string as scanned: FNC1 as a symbology
                    // identifier, GS separators as the byte 0x1d.
                    let scanned = format!("]d2{}", &expect[1..]).replace('^', "\x1d");
                    write(
                        "gs1_parse",
                        &format!("{prefix}-{i:03}-scanned"),
                        scanned.as_bytes(),
                    );
                }
            }
        }
    }

    fn events() {
        let vectors = json("events/vectors.json");
        for vector in vectors["vectors"].as_array().unwrap() {
            let name = vector["name"].as_str().unwrap();
            write(
                "event_decode",
                &format!("entry-{name}"),
                &unhex(vector["entry_hex"].as_str().unwrap()),
            );
            let submission = serde_json::to_vec(&vector["submission"]).unwrap();
            write("event_decode", &format!("submission-{name}"), &submission);
        }
    }

    fn proofs() {
        let vectors = json("merkle/rfc9162-vectors.json");
        let hash = |v: &Value| unhex(v.as_str().unwrap());
        let record = |a: u64, b: u64, first: Vec<u8>, second: Vec<u8>, path: &Value| {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(&a.to_le_bytes());
            bytes.extend_from_slice(&b.to_le_bytes());
            bytes.extend(first);
            bytes.extend(second);
            for node in path.as_array().unwrap() {
                bytes.extend(hash(node));
            }
            bytes
        };
        let roots = vectors["roots"].as_array().unwrap();
        let leaves = vectors["leaf_hashes"].as_array().unwrap();
        // Inclusion: leaf `index` of a tree of `size`; consistency: from `old` to `new`.
        for (kind, a_key, b_key, firsts) in [
            ("inclusion", "index", "size", leaves),
            ("consistency", "old", "new", roots),
        ] {
            for case in vectors[kind].as_array().unwrap() {
                let (a, b) = (case[a_key].as_u64().unwrap(), case[b_key].as_u64().unwrap());
                let first = hash(&firsts[a as usize]);
                let bytes = record(a, b, first, hash(&roots[b as usize]), &case["proof"]);
                write("merkle_proofs", &format!("{kind}-{a}-{b}"), &bytes);
            }
        }
        let set = ItemSet::new(&["S1", "S2", "S3", "S4", "S5"]);
        let proof = set.proof(&[0, 3]).unwrap();
        write(
            "merkle_proofs",
            "item-proof.json",
            &serde_json::to_vec(&proof).unwrap(),
        );
        let inclusion = serde_json::json!({
            "index": 2, "tree_size": 3,
            "leaf_hash": vectors["leaf_hashes"][2],
            "proof": [super::hex(&merkle::node_hash(
                &unhex(leaves[0].as_str().unwrap()).try_into().unwrap(),
                &unhex(leaves[1].as_str().unwrap()).try_into().unwrap(),
            ))],
        });
        write(
            "merkle_proofs",
            "inclusion-proof.json",
            &serde_json::to_vec(&inclusion).unwrap(),
        );
        let consistency = serde_json::json!({ "old_size": 8, "new_size": 8, "proof": [] });
        write(
            "merkle_proofs",
            "consistency-proof.json",
            &serde_json::to_vec(&consistency).unwrap(),
        );
        let entries: Vec<Vec<u8>> = vectors["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .map(hash)
            .collect();
        write(
            "merkle_proofs",
            "entry-bundle",
            &merkle::encode_entry_bundle(&entries).unwrap(),
        );
    }

    fn notes() {
        for file in [
            "checkpoint-7.txt",
            "checkpoint-8.txt",
            "log.vkey",
            "witness.vkey",
        ] {
            write(
                "note_checkpoint",
                file,
                testdata(&format!("checkpoint/{file}")).as_bytes(),
            );
        }
        write(
            "note_checkpoint",
            "tile-paths",
            b"tile/0/x001/234\ntile/1/067.p/8\ntile/entries/000.p/1\n",
        );
    }

    fn images() {
        let payload = "0109506000134352172806301012AB\x1d21S1";
        let code = qrcode::QrCode::new(payload.as_bytes()).expect("a QR code");
        let size = code.width() as u32;
        let (module, quiet) = (2u32, 4u32);
        let side = (size + 2 * quiet) * module;
        let image = image::GrayImage::from_fn(side, side, |x, y| {
            let (cx, cy) = (
                (x / module) as i64 - quiet as i64,
                (y / module) as i64 - quiet as i64,
            );
            let dark = cx >= 0
                && cy >= 0
                && (cx as u32) < size
                && (cy as u32) < size
                && code[(cx as usize, cy as usize)] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        });
        for (name, format) in [
            ("qr.png", image::ImageFormat::Png),
            ("qr.jpg", image::ImageFormat::Jpeg),
        ] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            image
                .write_to(&mut bytes, format)
                .expect("an encoded image");
            write("image_payload", name, bytes.get_ref());
        }
    }
}
