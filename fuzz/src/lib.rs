//! The bodies of Pedigree's fuzz targets, one function per target. Each takes arbitrary
//! bytes and must never panic; where a parser accepts its input, the target also checks that
//! what was parsed prints back to something that parses to the same value (a round trip), so
//! a parser and its printer cannot silently disagree.
//!
//! They run under libFuzzer through `fuzz_targets/*.rs` (`cargo fuzz run <target>`) and, on
//! stable Rust, as this library's tests over the seed corpus (`corpus/<target>/`) and seeded
//! mutations of it.

use std::path::Path;

use pedigree_schema::checkpoint::{Checkpoint, CosignatureVerifier, SignedCheckpoint};
use pedigree_schema::event::{EventSubmission, SignedEvent};
use pedigree_schema::gs1::Gs1Data;
use pedigree_schema::itemset::ItemProof;
use pedigree_schema::merkle::{self, Hash, TileRef};
use pedigree_schema::note::{KeyName, NoteSignature, NoteVerifier, SignedNote};
use pedigree_schema::receipt::{ConsistencyProof, InclusionProof, Receipt};

/// A target's body: arbitrary bytes in, a panic on a finding.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (as in `fuzz_targets/` and `corpus/`).
pub const TARGETS: [(&str, Target); 5] = [
    ("gs1_parse", gs1_parse),
    ("event_decode", event_decode),
    ("merkle_proofs", merkle_proofs),
    ("note_checkpoint", note_checkpoint),
    ("image_payload", image_payload),
];

/// The test log's and witness's verifier keys (TEST-ONLY keys of `schema/testdata`), so that
/// the seed checkpoints verify and mutations of them reach the cosignature checks.
const LOG_VKEY: &str = include_str!("../../schema/testdata/checkpoint/log.vkey");
const WITNESS_VKEY: &str = include_str!("../../schema/testdata/checkpoint/witness.vkey");

/// GS1 element strings (with symbology identifiers and GS separators), the bracketed form
/// and Digital Link URIs. What parses prints back, in each syntax, to the same data.
pub fn gs1_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = [
        Gs1Data::parse_any(text),
        Gs1Data::parse_element_string(text),
        Gs1Data::parse_bracketed(text),
        Gs1Data::parse_digital_link(text),
    ];
    for gs1 in parsed.into_iter().flatten() {
        let element_string = gs1.to_element_string();
        assert_eq!(
            Gs1Data::parse_element_string(&element_string).as_ref(),
            Ok(&gs1),
            "element string {element_string:?} of {text:?}"
        );
        let bracketed = gs1.to_bracketed();
        assert_eq!(
            Gs1Data::parse_bracketed(&bracketed).as_ref(),
            Ok(&gs1),
            "bracketed {bracketed:?} of {text:?}"
        );
        if let Ok(link) = gs1.to_digital_link() {
            let again = Gs1Data::parse_digital_link(&link)
                .unwrap_or_else(|e| panic!("digital link {link:?} of {text:?}: {e}"));
            // A Digital Link orders the key qualifiers and attributes by its own rules, and
            // carries an AI repeated with the same value (which element strings allow) once.
            assert_eq!(
                sorted_distinct(&again),
                sorted_distinct(&gs1),
                "digital link {link:?} of {text:?}"
            );
        }
        let _ = gs1.pack_id();
        let _ = gs1.check_associations();
    }
}

fn sorted_distinct(gs1: &Gs1Data) -> Vec<(String, String)> {
    let mut elements: Vec<(String, String)> = gs1
        .elements()
        .iter()
        .map(|e| (e.ai().to_string(), e.value().to_string()))
        .collect();
    elements.sort();
    elements.dedup();
    elements
}

/// Log entries and the API's JSON: an entry that decodes is canonical and re-encodes to the
/// same bytes by both encoders; a signed event parsed from any JSON re-encodes to an entry
/// that decodes to the same event; a submission's items are checked without panicking.
pub fn event_decode(data: &[u8]) {
    if let Ok(signed) = SignedEvent::from_entry_bytes(data) {
        assert_eq!(signed.entry_bytes().expect("re-encodes"), data);
        check_encodings(&signed);
    }
    if let Ok(signed) = serde_json::from_slice::<SignedEvent>(data) {
        check_encodings(&signed);
    }
    if let Ok(submission) = serde_json::from_slice::<EventSubmission>(data) {
        let _ = submission.checked_items();
        check_encodings(&submission.signed);
    }
}

fn check_encodings(signed: &SignedEvent) {
    let _ = signed.event.validate();
    let _ = signed.verify_signature();
    let Ok(entry) = signed.entry_bytes() else {
        return;
    };
    let decoded = SignedEvent::from_entry_bytes(&entry).expect("a canonical entry decodes");
    assert_eq!(&decoded, signed, "the entry decodes to the same event");
    let encoded = signed.encode().expect("encodes as entry_bytes did");
    assert_eq!(encoded.entry, entry, "both encoders agree");
    assert_eq!(Some(encoded.id), signed.id().ok(), "the id is the same");
}

/// Inclusion and consistency proofs with arbitrary sizes, indices, hashes and paths, entry
/// bundles, and the proof-carrying JSON of the API (receipts, inclusion, consistency and item
/// proofs): every check answers, none panics.
///
/// Binary layout: a flags byte, two 8-byte little-endian numbers (each reduced below 1024
/// unless its flag bit is set, so small trees are explored too), two 32-byte hashes, then
/// the proof path in 32-byte hashes.
pub fn merkle_proofs(data: &[u8]) {
    let mut input = Bytes(data);
    let flags = input.byte();
    let number = |input: &mut Bytes, large: bool| {
        let value = input.u64();
        if large {
            value
        } else {
            value % 1024
        }
    };
    let a = number(&mut input, flags & 1 != 0);
    let b = number(&mut input, flags & 2 != 0);
    let first = input.hash();
    let second = input.hash();
    let path: Vec<Hash> = std::iter::from_fn(|| input.next_hash()).collect();

    if let Ok(root) = merkle::root_from_inclusion_proof(&first, a, b, &path) {
        assert!(merkle::verify_inclusion(&first, a, b, &path, &root).is_ok());
    }
    let _ = merkle::verify_inclusion(&first, a, b, &path, &second);
    let _ = merkle::verify_consistency(a, b, &first, &second, &path);
    let _ = ItemProof {
        indices: vec![a],
        leaf_count: b,
        hashes: path.clone(),
    }
    .verify(&first, &[&data[..data.len().min(8)]]);

    // Entry bundles (tlog-tiles) as served: what decodes re-encodes to the same bytes.
    if let Ok(entries) = merkle::decode_entry_bundle(data) {
        assert_eq!(merkle::encode_entry_bundle(&entries).as_deref(), Ok(data));
    }

    // The same checks as the API's JSON carries them.
    if let Ok(proof) = serde_json::from_slice::<InclusionProof>(data) {
        let _ = proof.verify(&first);
    }
    if let Ok(proof) = serde_json::from_slice::<ItemProof>(data) {
        let items: Vec<String> = proof.indices.iter().map(|i| format!("S{i}")).collect();
        let _ = proof.verify(&first, &items);
    }
    let log = log_verifier();
    if let Ok(receipt) = serde_json::from_slice::<Receipt>(data) {
        let _ = receipt.verify(&log, data);
    }
    if let Ok(proof) = serde_json::from_slice::<ConsistencyProof>(data) {
        if let Ok(checkpoint) = SignedCheckpoint::parse_and_verify(SEED_CHECKPOINT, &log) {
            let _ = proof.verify(&checkpoint, &checkpoint);
        }
    }
}

const SEED_CHECKPOINT: &str = include_str!("../../schema/testdata/checkpoint/checkpoint-8.txt");

/// Signed notes, signature lines, verifier keys, checkpoints (with the `pedigree-prev` line
/// and cosignatures) and tile paths. A note that parses prints back to the same note; a
/// checkpoint body that parses prints back to the same body.
pub fn note_checkpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let log = log_verifier();
    if let Ok(note) = SignedNote::parse(text) {
        let printed = note.to_string();
        let again = SignedNote::parse(&printed)
            .unwrap_or_else(|e| panic!("printed note {printed:?} of {text:?}: {e}"));
        assert_eq!(again.text(), note.text());
        assert_eq!(again.signatures(), note.signatures());
        let _ = note.verify(&log);
    }
    if let Ok(checkpoint) = Checkpoint::parse_body(text) {
        let body = checkpoint.to_body();
        assert_eq!(
            Checkpoint::parse_body(&body).as_ref().ok(),
            Some(&checkpoint),
            "body {body:?} of {text:?}"
        );
        if let Ok(seed) = SignedCheckpoint::parse_and_verify(SEED_CHECKPOINT, &log) {
            let _ = checkpoint.follows(seed.checkpoint());
        }
    }
    if let Ok(checkpoint) = SignedCheckpoint::parse_and_verify(text, &log) {
        let witness = CosignatureVerifier::parse(WITNESS_VKEY.trim()).expect("the test witness");
        let _ = checkpoint.verified_cosignatures(&[witness]);
    }
    for line in text.lines() {
        let _ = NoteSignature::parse(line);
        let _ = NoteVerifier::parse(line);
        let _ = CosignatureVerifier::parse(line);
        let _ = KeyName::parse(line);
        if let Ok(tile) = TileRef::parse(line) {
            assert_eq!(TileRef::parse(&tile.to_string()).as_ref().ok(), Some(&tile));
        }
    }
}

fn log_verifier() -> NoteVerifier {
    NoteVerifier::parse(LOG_VKEY.trim()).expect("the test log key")
}

/// The scanner's image path: arbitrary bytes decoded as PNG or JPEG, then searched for QR
/// codes with rqrr, at the scales the scanner uses.
pub fn image_payload(data: &[u8]) {
    let _ = pedigree_scan::input::codes_in_image(data, Path::new("fuzz-input"));
}

/// A reader of fuzz input that pads with zeros when the input runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }

    fn byte(&mut self) -> u8 {
        self.take::<1>()[0]
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    fn hash(&mut self) -> Hash {
        self.take()
    }

    fn next_hash(&mut self) -> Option<Hash> {
        (self.0.len() >= 32).then(|| self.take())
    }
}

#[cfg(test)]
mod tests;
