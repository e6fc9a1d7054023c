//! Signed notes, checkpoints and cosignatures against the C2SP specs, the
//! published `golang.org/x/mod/sumdb/note` and transparency-dev examples, and
//! the sample files in `testdata/checkpoint/`.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use pedigree_schema::checkpoint::{
    Checkpoint, CheckpointError, CosignatureSigner, CosignatureVerifier, SignedCheckpoint,
    VerifiedCosignature,
};
use pedigree_schema::note::{
    KeyName, NoteError, NoteSignature, NoteSigner, NoteVerifier, SignedNote,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

// ---- Published vectors of golang.org/x/mod/sumdb/note (note.go, note_test.go) ----

const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

// ---- Published verifier keys of transparency-dev/formats (note/note_cosigv1_test.go) ----

/// A native Ed25519 cosignature/v1 (type 0x04) verifier key.
const REMORA_COSIGNATURE_VKEY: &str =
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";
/// A plain Ed25519 (type 0x01) verifier key.
const TEST_NOTE_VKEY: &str = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6";

// ---- Examples of the C2SP specs ----

/// signed-note §Note: a text with an empty line, signed by an unpublished key.
const SPEC_NOTE: &str = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
/// tlog-cosignature: a checkpoint with the log's signature and a cosignature.
const SPEC_COSIGNED_CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

// ---- Deterministic TEST-ONLY keys and checkpoints (testdata/checkpoint/) ----

const LOG_ORIGIN: &str = "pedigree.example/test-log";
const WITNESS_NAME: &str = "pedigree.example/test-witness";
/// Roots of the first 7 and 8 leaves of testdata/merkle/rfc9162-vectors.json.
const ROOT_7: &str = "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c";
const ROOT_8: &str = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
const COSIGNATURE_TIME: u64 = 1_700_000_000;

fn seed(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label).into())
}

fn log_signer() -> NoteSigner {
    NoteSigner::new(
        KeyName::parse(LOG_ORIGIN).unwrap(),
        seed("pedigree TEST-ONLY log key"),
    )
}

fn witness_signer() -> CosignatureSigner {
    CosignatureSigner::new(
        KeyName::parse(WITNESS_NAME).unwrap(),
        seed("pedigree TEST-ONLY witness key"),
    )
}

fn root(hex_root: &str) -> [u8; 32] {
    hex::decode(hex_root).unwrap().try_into().unwrap()
}

fn first_checkpoint() -> Checkpoint {
    Checkpoint::new(LOG_ORIGIN, 7, root(ROOT_7), None, Vec::new()).unwrap()
}

fn second_checkpoint() -> Checkpoint {
    first_checkpoint().successor(8, root(ROOT_8)).unwrap()
}

fn cosigned_second_checkpoint() -> SignedCheckpoint {
    let witness = witness_signer();
    let mut signed = SignedCheckpoint::sign(second_checkpoint(), &log_signer()).unwrap();
    let cosignature = witness
        .cosign(signed.checkpoint(), COSIGNATURE_TIME)
        .unwrap();
    signed
        .add_cosignature(&witness.verifier(), cosignature)
        .unwrap();
    signed
}

// ---- signed-note ----

#[test]
fn go_example_signer_reproduces_the_published_signature() {
    let signer = NoteSigner::parse(PETER_SKEY).unwrap();
    assert_eq!(signer.key_id(), 0xc74f20a3);
    let note = SignedNote::sign(GO_TEXT, &signer).unwrap();
    assert_eq!(note.to_string(), format!("{GO_TEXT}\n{PETER_SIG}"));
}

#[test]
fn go_example_keys_round_trip() {
    let signer = NoteSigner::parse(PETER_SKEY).unwrap();
    assert_eq!(signer.to_skey().as_str(), PETER_SKEY);
    assert_eq!(signer.verifier().to_string(), PETER_VKEY);
    let verifier = NoteVerifier::parse(PETER_VKEY).unwrap();
    assert_eq!(verifier.key_id(), 0xc74f20a3);
    assert_eq!(verifier.name().as_str(), "PeterNeumann");
    assert_eq!(verifier.to_string(), PETER_VKEY);
    assert_eq!(verifier, signer.verifier());
}

#[test]
fn go_example_verifies_and_keeps_unknown_signature_lines() {
    let message = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let note = SignedNote::parse(&message).unwrap();
    assert_eq!(note.text(), GO_TEXT);
    assert_eq!(note.signatures().len(), 2);
    // Only Peter's key is known: Enoch's line is ignored, and kept.
    note.verify(&NoteVerifier::parse(PETER_VKEY).unwrap())
        .unwrap();
    note.verify(&NoteVerifier::parse(ENOCH_VKEY).unwrap())
        .unwrap();
    assert_eq!(note.to_string(), message);
}

#[test]
fn note_without_a_line_by_the_verifier_is_rejected() {
    let note = SignedNote::parse(&format!("{GO_TEXT}\n{PETER_SIG}")).unwrap();
    assert_eq!(
        note.verify(&NoteVerifier::parse(ENOCH_VKEY).unwrap()),
        Err(NoteError::MissingSignature {
            name: "EnochRoot".into(),
            key_id: 0xaf0cfe78
        })
    );
}

#[test]
fn go_example_invalid_signature_by_known_key_is_rejected() {
    // note_test.go: four base64 characters inserted into Peter's signature.
    let bad = format!("{GO_TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let note = SignedNote::parse(&bad).unwrap();
    assert_eq!(
        note.verify(&NoteVerifier::parse(PETER_VKEY).unwrap()),
        Err(NoteError::InvalidSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3
        })
    );
}

#[test]
fn go_example_malformed_notes_are_rejected() {
    let bad_messages = [
        (GO_TEXT.to_owned(), NoteError::MissingSeparator),
        (format!("{GO_TEXT}\n"), NoteError::NoSignatures),
        (
            format!("{GO_TEXT}\n{}", PETER_SIG.trim_end()),
            NoteError::UnterminatedSignatures,
        ),
        (
            format!("\x01{GO_TEXT}\n{PETER_SIG}"),
            NoteError::ControlCharacter {
                offset: 0,
                code: 1,
            },
        ),
        (
            format!("{GO_TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            NoteError::MalformedSignatureLine {
                line: 4,
                reason: "signature is not standard base64",
            },
        ),
        (
            format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
            NoteError::MalformedSignatureLine {
                line: 5,
                reason: "it does not start with an em dash (U+2014) and a space",
            },
        ),
        (
            format!("{GO_TEXT}\n— PeterNeumann AAAA\n"),
            NoteError::MalformedSignatureLine {
                line: 4,
                reason: "signature is shorter than a key ID and one byte",
            },
        ),
    ];
    for (message, expected) in bad_messages {
        assert_eq!(SignedNote::parse(&message), Err(expected), "{message:?}");
    }
}

#[test]
fn more_than_100_signatures_are_rejected_and_100_accepted() {
    let verifier = NoteVerifier::parse(PETER_VKEY).unwrap();
    let accepted = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(100));
    SignedNote::parse(&accepted)
        .unwrap()
        .verify(&verifier)
        .unwrap();
    let rejected = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(101));
    assert_eq!(
        SignedNote::parse(&rejected),
        Err(NoteError::TooManySignatures { count: 101 })
    );
}

#[test]
fn add_signature_keeps_the_note_within_100_lines() {
    let lines: String = (0..100).map(|i| format!("— k{i} AAAAAAA=\n")).collect();
    let mut note = SignedNote::parse(&format!("{GO_TEXT}\n{lines}")).unwrap();
    let peter = NoteSigner::parse(PETER_SKEY).unwrap();
    assert_eq!(
        note.add_signature(peter.sign_text(GO_TEXT).unwrap()),
        Err(NoteError::TooManySignatures { count: 101 })
    );
    assert_eq!(note.signatures().len(), 100);
    // Replacing the line of a key already present is still allowed.
    let replacement = NoteSignature::parse("— k0 AAAAAAU=").unwrap();
    note.add_signature(replacement.clone()).unwrap();
    assert_eq!(note.signatures().len(), 100);
    assert_eq!(note.signatures().last(), Some(&replacement));
}

#[test]
fn texts_that_cannot_be_signed_are_refused() {
    let signer = NoteSigner::parse(PETER_SKEY).unwrap();
    assert_eq!(
        SignedNote::sign("no newline", &signer),
        Err(NoteError::TextWithoutFinalNewline)
    );
    assert_eq!(
        SignedNote::sign("tab\there\n", &signer),
        Err(NoteError::ControlCharacter { offset: 3, code: 9 })
    );
}

#[test]
fn add_signature_replaces_the_line_of_the_same_key() {
    let peter = NoteSigner::parse(PETER_SKEY).unwrap();
    let other = NoteSigner::new(KeyName::parse("EnochRoot").unwrap(), seed("other"));
    let mut note = SignedNote::sign(GO_TEXT, &peter).unwrap();
    note.add_signature(other.sign_text(GO_TEXT).unwrap())
        .unwrap();
    note.add_signature(peter.sign_text(GO_TEXT).unwrap())
        .unwrap();
    assert_eq!(note.signatures().len(), 2);
    note.verify(&peter.verifier()).unwrap();
    note.verify(&other.verifier()).unwrap();
}

/// Every proper substring and every single-byte increment of a key string is
/// refused (the same manglings as note_test.go's TestNewVerifier/TestNewSigner).
fn assert_manglings_rejected(key: &str, parses: impl Fn(&str) -> bool) {
    let bytes = key.as_bytes();
    for i in 0..bytes.len() {
        for j in i + 1..=bytes.len() {
            if (i, j) != (0, bytes.len()) {
                assert!(!parses(&key[i..j]), "accepted {:?}", &key[i..j]);
            }
        }
    }
    for i in 0..bytes.len() {
        let mut mangled = bytes.to_vec();
        mangled[i] += 1;
        let mangled = String::from_utf8(mangled).unwrap();
        assert!(!parses(&mangled), "accepted {mangled:?}");
    }
}

#[test]
fn mangled_go_verifier_keys_are_rejected() {
    assert_manglings_rejected(PETER_VKEY, |k| NoteVerifier::parse(k).is_ok());
    // note_test.go: wrong key length and unknown algorithm, each with a matching key ID.
    assert!(NoteVerifier::parse(
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    )
    .is_err());
    assert!(matches!(
        NoteVerifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::WrongKeyType { found: 0x65, .. })
    ));
}

#[test]
fn mangled_go_signer_keys_are_rejected() {
    assert_manglings_rejected(PETER_SKEY, |k| NoteSigner::parse(k).is_ok());
}

#[test]
fn key_id_mismatch_is_reported() {
    assert_eq!(
        NoteVerifier::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::KeyIdMismatch {
            kind: "verifier",
            found: 0xc74f20a4,
            computed: 0xc74f20a3
        })
    );
}

#[test]
fn signer_debug_shows_name_and_key_id_but_not_the_secret() {
    let signer = NoteSigner::parse(PETER_SKEY).unwrap();
    let debug = format!("{signer:?}");
    assert!(
        debug.contains("PeterNeumann") && debug.contains("c74f20a3"),
        "{debug}"
    );
    let seed_b64 = PETER_SKEY
        .strip_prefix("PRIVATE+KEY+PeterNeumann+c74f20a3+")
        .unwrap();
    let seed = STANDARD.decode(seed_b64).unwrap();
    assert!(!debug.contains(seed_b64));
    assert!(!debug.contains(&hex::encode(&seed[1..])));
    assert!(!debug.contains(&format!("{:?}", &seed[1..])));
}

#[test]
fn spec_note_example_parses_and_round_trips() {
    let note = SignedNote::parse(SPEC_NOTE).unwrap();
    assert_eq!(
        note.text(),
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(
        note.signatures()[0].name().as_str(),
        "quasimodo.example/salvatore"
    );
    assert_eq!(note.signatures()[0].signature().len(), 64);
    assert_eq!(note.to_string(), SPEC_NOTE);
}

// ---- tlog-cosignature key strings ----

#[test]
fn transparency_dev_cosignature_verifier_key_round_trips() {
    let witness = CosignatureVerifier::parse(REMORA_COSIGNATURE_VKEY).unwrap();
    assert_eq!(witness.key_id(), 0xda77ade7);
    assert_eq!(witness.to_string(), REMORA_COSIGNATURE_VKEY);
    // The key ID uses type byte 0x04: as a plain note key the same bytes are refused.
    assert!(matches!(
        NoteVerifier::parse(REMORA_COSIGNATURE_VKEY),
        Err(NoteError::WrongKeyType {
            found: 0x04,
            expected: 0x01,
            ..
        })
    ));
    assert!(NoteVerifier::parse(TEST_NOTE_VKEY).is_ok());
    assert!(matches!(
        CosignatureVerifier::parse(TEST_NOTE_VKEY),
        Err(NoteError::WrongKeyType {
            found: 0x01,
            expected: 0x04,
            ..
        })
    ));
}

#[test]
fn cosignature_keys_round_trip_and_have_their_own_key_ids() {
    let witness = witness_signer();
    let parsed = CosignatureSigner::parse(&witness.to_skey()).unwrap();
    assert_eq!(parsed.verifier(), witness.verifier());
    let vkey = witness.verifier().to_string();
    assert_eq!(
        CosignatureVerifier::parse(&vkey).unwrap(),
        witness.verifier()
    );
    // The same name and Ed25519 key as a plain note key gets another key ID.
    let same_key_as_log = NoteSigner::new(
        KeyName::parse(WITNESS_NAME).unwrap(),
        seed("pedigree TEST-ONLY witness key"),
    );
    assert_ne!(same_key_as_log.key_id(), witness.key_id());
}

// ---- tlog-checkpoint ----

#[test]
fn spec_cosigned_checkpoint_parses_and_round_trips() {
    let note = SignedNote::parse(SPEC_COSIGNED_CHECKPOINT).unwrap();
    let checkpoint = Checkpoint::parse_body(note.text()).unwrap();
    assert_eq!(checkpoint.origin(), "example.com/behind-the-sofa");
    assert_eq!(checkpoint.size(), 20852163);
    assert_eq!(checkpoint.prev(), None);
    assert_eq!(checkpoint.to_body(), note.text());
    let cosignature = &note.signatures()[1];
    assert_eq!(cosignature.name().as_str(), "witness.example.com/w1");
    assert_eq!(cosignature.signature().len(), 72);
    // Its timestamp is the one of the spec's signed-message example.
    let timestamp = u64::from_be_bytes(cosignature.signature()[..8].try_into().unwrap());
    assert_eq!(timestamp, 1679315147);
    assert_eq!(note.to_string(), SPEC_COSIGNED_CHECKPOINT);
}

#[test]
fn malformed_checkpoint_bodies_are_rejected_precisely() {
    let r = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let cases = [
        (format!("o\n1\n{r}"), CheckpointError::MissingFinalNewline),
        (
            "o\n1\n".to_owned(),
            CheckpointError::TooFewLines { found: 2 },
        ),
        (format!("\n1\n{r}\n"), CheckpointError::EmptyOrigin),
        (
            format!("o\n01\n{r}\n"),
            CheckpointError::SizeNotDecimal { found: "01".into() },
        ),
        (
            "o\n1\nnot base64!\n".to_owned(),
            CheckpointError::RootNotBase64 {
                found: "not base64!".into(),
            },
        ),
        (
            "o\n1\nAAAA\n".to_owned(),
            CheckpointError::RootWrongLength { len: 3 },
        ),
        (
            format!("o\n1\n{r}\n\n"),
            CheckpointError::EmptyExtension { line: 4 },
        ),
        (
            format!("o\n1\n{r}\npedigree-prev AAAA\n"),
            CheckpointError::MalformedPrev { line: 4 },
        ),
        (
            format!("o\n1\n{r}\next\npedigree-prev {r}\n"),
            CheckpointError::MisplacedPrev { line: 5 },
        ),
        (
            format!("o\n1\n{r}\npedigree-prev {r}\npedigree-prev {r}\n"),
            CheckpointError::MisplacedPrev { line: 5 },
        ),
        (
            format!("o\n1\n{r}\nx\u{7}\n"),
            CheckpointError::ControlCharacter { line: 4, code: 7 },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(Checkpoint::parse_body(&body), Err(expected), "{body:?}");
    }
}

#[test]
fn extension_lines_are_kept_after_pedigree_prev() {
    let checkpoint = Checkpoint::new(
        "o",
        3,
        [1; 32],
        Some([2; 32]),
        vec!["first ext".into(), "second".into()],
    )
    .unwrap();
    let body = checkpoint.to_body();
    assert_eq!(
        body,
        format!(
            "o\n3\n{}\npedigree-prev {}\nfirst ext\nsecond\n",
            STANDARD.encode([1; 32]),
            STANDARD.encode([2; 32])
        )
    );
    assert_eq!(Checkpoint::parse_body(&body), Ok(checkpoint));
}

#[test]
fn checkpoint_signed_by_another_key_is_rejected() {
    let signed = SignedCheckpoint::sign(first_checkpoint(), &log_signer()).unwrap();
    let impostor = NoteSigner::new(KeyName::parse(LOG_ORIGIN).unwrap(), seed("impostor"));
    let forged = SignedCheckpoint::sign(first_checkpoint(), &impostor).unwrap();
    let log = log_signer().verifier();
    assert_eq!(
        SignedCheckpoint::parse_and_verify(&signed.to_string(), &log),
        Ok(signed)
    );
    assert_eq!(
        SignedCheckpoint::parse_and_verify(&forged.to_string(), &log),
        Err(CheckpointError::Note(NoteError::MissingSignature {
            name: LOG_ORIGIN.into(),
            key_id: log.key_id()
        }))
    );
    // Same name and key ID but another key: the signature itself fails.
    let mut bytes = log.key_id().to_be_bytes().to_vec();
    bytes.extend_from_slice(forged.note().signatures()[0].signature());
    let relabelled = format!(
        "{}\n— {LOG_ORIGIN} {}\n",
        forged.note().text(),
        STANDARD.encode(bytes)
    );
    assert_eq!(
        SignedCheckpoint::parse_and_verify(&relabelled, &log),
        Err(CheckpointError::Note(NoteError::InvalidSignature {
            name: LOG_ORIGIN.into(),
            key_id: log.key_id()
        }))
    );
}

#[test]
fn body_with_valid_signature_but_bad_syntax_is_rejected_after_verification() {
    let log = log_signer();
    let note = SignedNote::sign("o\n01\nAAAA\n", &log).unwrap();
    assert_eq!(
        SignedCheckpoint::parse_and_verify(&note.to_string(), &log.verifier()),
        Err(CheckpointError::SizeNotDecimal { found: "01".into() })
    );
}

// ---- Pedigree's chain ----

#[test]
fn successor_follows_its_predecessor_and_hash_ignores_cosignatures() {
    let first = first_checkpoint();
    let second = second_checkpoint();
    assert_eq!(second.prev(), Some(&first.body_hash()));
    second.follows(&first).unwrap();
    let cosigned = cosigned_second_checkpoint();
    cosigned.follows(&first).unwrap();
    // The chain hash covers the note text only, not the signature lines.
    assert_eq!(cosigned.checkpoint().body_hash(), second.body_hash());
    assert_eq!(
        second.body_hash(),
        <[u8; 32]>::from(Sha256::digest(cosigned.note().text()))
    );
}

#[test]
fn wrong_prev_breaks_the_chain() {
    let first = first_checkpoint();
    let forged = Checkpoint::new(LOG_ORIGIN, 8, root(ROOT_8), Some([9; 32]), Vec::new()).unwrap();
    assert_eq!(
        forged.follows(&first),
        Err(CheckpointError::ChainBroken {
            expected: STANDARD.encode(first.body_hash()),
            found: STANDARD.encode([9; 32]),
        })
    );
    assert_eq!(first.follows(&first), Err(CheckpointError::MissingPrev));
}

#[test]
fn shrinking_tree_breaks_the_chain() {
    let first = first_checkpoint();
    let smaller =
        Checkpoint::new(LOG_ORIGIN, 6, [0; 32], Some(first.body_hash()), Vec::new()).unwrap();
    assert_eq!(
        smaller.follows(&first),
        Err(CheckpointError::SizeShrank {
            previous: 7,
            current: 6
        })
    );
    assert!(matches!(
        first.successor(6, [0; 32]),
        Err(CheckpointError::SizeShrank { .. })
    ));
}

#[test]
fn other_origin_breaks_the_chain() {
    let first = first_checkpoint();
    let other = Checkpoint::new(
        "other.example/log",
        8,
        root(ROOT_8),
        Some(first.body_hash()),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(
        other.follows(&first),
        Err(CheckpointError::OriginChanged {
            previous: LOG_ORIGIN.into(),
            current: "other.example/log".into()
        })
    );
}

#[test]
fn same_size_with_another_root_is_a_fork() {
    let first = first_checkpoint();
    first.successor(7, root(ROOT_7)).unwrap();
    assert_eq!(
        first.successor(7, root(ROOT_8)),
        Err(CheckpointError::RootChangedAtSameSize { size: 7 })
    );
}

// ---- tlog-cosignature ----

#[test]
fn cosignature_verifies_and_reports_its_timestamp() {
    let witness = witness_signer();
    let checkpoint = second_checkpoint();
    let cosignature = witness.cosign(&checkpoint, COSIGNATURE_TIME).unwrap();
    assert_eq!(cosignature.key_id(), witness.key_id());
    assert_eq!(
        &cosignature.signature()[..8],
        &COSIGNATURE_TIME.to_be_bytes()
    );
    assert_eq!(
        witness.verifier().verify(&checkpoint, &cosignature),
        Ok(COSIGNATURE_TIME)
    );
    // A witness's line, once sent as text, parses back to the same signature.
    assert_eq!(
        NoteSignature::parse(&cosignature.to_string()),
        Ok(cosignature)
    );
}

#[test]
fn cosignature_with_another_timestamp_is_rejected() {
    let witness = witness_signer();
    let checkpoint = second_checkpoint();
    let cosignature = witness.cosign(&checkpoint, COSIGNATURE_TIME).unwrap();
    let mut bytes = cosignature.key_id().to_be_bytes().to_vec();
    bytes.extend_from_slice(&(COSIGNATURE_TIME + 1).to_be_bytes());
    bytes.extend_from_slice(&cosignature.signature()[8..]);
    let line = format!("— {WITNESS_NAME} {}", STANDARD.encode(bytes));
    let retimed = NoteSignature::parse(&line).unwrap();
    assert_eq!(
        witness.verifier().verify(&checkpoint, &retimed),
        Err(CheckpointError::CosignatureInvalid {
            name: WITNESS_NAME.into(),
            key_id: witness.key_id(),
            timestamp: COSIGNATURE_TIME + 1
        })
    );
}

#[test]
fn cosignature_of_another_body_is_rejected() {
    let witness = witness_signer();
    let cosignature = witness
        .cosign(&first_checkpoint(), COSIGNATURE_TIME)
        .unwrap();
    assert!(matches!(
        witness
            .verifier()
            .verify(&second_checkpoint(), &cosignature),
        Err(CheckpointError::CosignatureInvalid { .. })
    ));
    let mut signed = SignedCheckpoint::sign(second_checkpoint(), &log_signer()).unwrap();
    assert!(matches!(
        signed.add_cosignature(&witness.verifier(), cosignature),
        Err(CheckpointError::CosignatureInvalid { .. })
    ));
    assert_eq!(signed.note().signatures().len(), 1);
}

#[test]
fn log_signature_is_not_a_cosignature_and_vice_versa() {
    let signed = SignedCheckpoint::sign(second_checkpoint(), &log_signer()).unwrap();
    let log_line = &signed.note().signatures()[0];
    let witness = witness_signer().verifier();
    assert!(matches!(
        witness.verify(signed.checkpoint(), log_line),
        Err(CheckpointError::NotThisWitness { .. })
    ));
    // A cosignature-typed key with the log's name and seed has another key ID,
    // so its lines never count as the log's signature.
    let as_witness = CosignatureSigner::new(
        KeyName::parse(LOG_ORIGIN).unwrap(),
        seed("pedigree TEST-ONLY log key"),
    );
    let cosignature = as_witness.cosign(signed.checkpoint(), 1).unwrap();
    let mut note = SignedNote::parse(&signed.to_string()).unwrap();
    note.add_signature(cosignature).unwrap();
    assert_eq!(note.signatures().len(), 2);
    note.verify(&log_signer().verifier()).unwrap();
}

#[test]
fn timestamps_above_2_63_are_refused() {
    assert_eq!(
        witness_signer().cosign(&first_checkpoint(), 1 << 63),
        Err(CheckpointError::TimestampTooLarge { timestamp: 1 << 63 })
    );
    assert!(witness_signer()
        .cosign(&first_checkpoint(), (1 << 63) - 1)
        .is_ok());
}

#[test]
fn cosigned_checkpoint_lists_verified_cosignatures_only() {
    let signed = cosigned_second_checkpoint();
    let text = signed.to_string();
    let reparsed = SignedCheckpoint::parse_and_verify(&text, &log_signer().verifier()).unwrap();
    let unknown = CosignatureSigner::new(KeyName::parse("w.example/other").unwrap(), seed("x"));
    assert_eq!(
        reparsed.verified_cosignatures(&[witness_signer().verifier(), unknown.verifier()]),
        Ok(vec![VerifiedCosignature {
            witness: KeyName::parse(WITNESS_NAME).unwrap(),
            key_id: witness_signer().key_id(),
            timestamp: COSIGNATURE_TIME,
        }])
    );
    assert_eq!(
        reparsed.verified_cosignatures(&[unknown.verifier()]),
        Ok(vec![])
    );
}

#[test]
fn invalid_line_by_a_known_witness_fails_the_cosignature_check() {
    let signed = cosigned_second_checkpoint();
    let text = signed.to_string();
    let cosignature_line = text.lines().last().unwrap();
    // Flip one base64 character inside the Ed25519 signature part.
    let flip_at = cosignature_line.len() - 10;
    let mut bad_line = cosignature_line.to_owned();
    let replacement = if &bad_line[flip_at..=flip_at] == "A" {
        "B"
    } else {
        "A"
    };
    bad_line.replace_range(flip_at..=flip_at, replacement);
    let tampered = text.replace(cosignature_line, &bad_line);
    let reparsed = SignedCheckpoint::parse_and_verify(&tampered, &log_signer().verifier()).unwrap();
    assert!(matches!(
        reparsed.verified_cosignatures(&[witness_signer().verifier()]),
        Err(CheckpointError::CosignatureInvalid { .. })
    ));
}

// ---- Sample files for other implementations ----

fn testdata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/checkpoint")
}

/// Every generated file of testdata/checkpoint/ with its expected contents.
fn generated_testdata() -> Vec<(&'static str, String)> {
    let log = log_signer();
    let witness = witness_signer();
    let first = SignedCheckpoint::sign(first_checkpoint(), &log).unwrap();
    vec![
        ("log.vkey", format!("{}\n", log.verifier())),
        (
            "log.TEST-ONLY.skey",
            format!("{}\n", log.to_skey().as_str()),
        ),
        ("witness.vkey", format!("{}\n", witness.verifier())),
        (
            "witness.TEST-ONLY.skey",
            format!("{}\n", witness.to_skey().as_str()),
        ),
        ("checkpoint-7.txt", first.to_string()),
        ("checkpoint-8.txt", cosigned_second_checkpoint().to_string()),
    ]
}

/// Regenerates the sample files from their fixed seeds and compares them byte
/// for byte. `PEDIGREE_REGENERATE_TESTDATA=1` rewrites them instead.
#[test]
fn testdata_files_match_their_regeneration() {
    let dir = testdata_dir();
    let rewrite = std::env::var_os("PEDIGREE_REGENERATE_TESTDATA").is_some();
    for (file, expected) in generated_testdata() {
        let path = dir.join(file);
        if rewrite {
            std::fs::write(&path, &expected).unwrap();
        }
        let actual =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(actual, expected, "{file} differs from its regeneration");
    }
}

#[test]
fn testdata_files_verify_as_a_chain_with_a_cosignature() {
    let read = |file: &str| std::fs::read_to_string(testdata_dir().join(file)).unwrap();
    let log = NoteVerifier::parse(read("log.vkey").trim_end()).unwrap();
    let witness = CosignatureVerifier::parse(read("witness.vkey").trim_end()).unwrap();
    let first = SignedCheckpoint::parse_and_verify(&read("checkpoint-7.txt"), &log).unwrap();
    let second = SignedCheckpoint::parse_and_verify(&read("checkpoint-8.txt"), &log).unwrap();
    second.follows(first.checkpoint()).unwrap();
    assert_eq!(second.checkpoint().root(), &root(ROOT_8));
    assert_eq!(
        second.verified_cosignatures(&[witness]).unwrap()[0].timestamp,
        COSIGNATURE_TIME
    );
}

// ---- Properties ----

fn arb_checkpoint() -> impl Strategy<Value = Checkpoint> {
    (
        "[a-z0-9./-]{1,30}",
        any::<u64>(),
        any::<[u8; 32]>(),
        proptest::option::of(any::<[u8; 32]>()),
        proptest::collection::vec("[a-zA-Z0-9 +/=é-]{1,20}", 0..3),
    )
        .prop_filter_map("extension uses the reserved keyword", |(o, s, r, p, e)| {
            Checkpoint::new(&o, s, r, p, e).ok()
        })
}

/// Replaces the ASCII character at byte `index` (not a newline) by another
/// printable ASCII character derived from `shift`.
fn mutate(text: &str, index: prop::sample::Index, shift: u8) -> Option<String> {
    let positions: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b.is_ascii() && b != b'\n')
        .map(|(i, _)| i)
        .collect();
    let at = positions[index.index(positions.len())];
    let old = text.as_bytes()[at];
    let new = b' ' + (old - b' ' + 1 + shift % 94) % 95;
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = new;
    String::from_utf8(bytes).ok()
}

proptest! {
    #[test]
    fn checkpoint_body_round_trips(checkpoint in arb_checkpoint()) {
        let body = checkpoint.to_body();
        prop_assert_eq!(Checkpoint::parse_body(&body), Ok(checkpoint.clone()));
        let signed = SignedCheckpoint::sign(checkpoint, &log_signer()).unwrap();
        prop_assert_eq!(
            SignedCheckpoint::parse_and_verify(&signed.to_string(), &log_signer().verifier()),
            Ok(signed)
        );
    }

    #[test]
    fn keys_round_trip(seed_bytes in any::<[u8; 32]>(), name in "[a-zA-Z0-9./é-]{1,40}") {
        let name = KeyName::parse(&name).unwrap();
        let signer = NoteSigner::new(name.clone(), SigningKey::from_bytes(&seed_bytes));
        let reparsed = NoteSigner::parse(&signer.to_skey()).unwrap();
        prop_assert_eq!(reparsed.verifier(), signer.verifier());
        prop_assert_eq!(NoteVerifier::parse(&signer.verifier().to_string()), Ok(signer.verifier()));
        let witness = CosignatureSigner::new(name, SigningKey::from_bytes(&seed_bytes));
        let vkey = witness.verifier().to_string();
        prop_assert_eq!(CosignatureVerifier::parse(&vkey), Ok(witness.verifier()));
    }

    #[test]
    fn changed_byte_in_body_or_log_signature_breaks_verification(
        index in any::<prop::sample::Index>(),
        shift in any::<u8>(),
    ) {
        let signed = SignedCheckpoint::sign(second_checkpoint(), &log_signer()).unwrap();
        if let Some(tampered) = mutate(&signed.to_string(), index, shift) {
            prop_assert!(
                SignedCheckpoint::parse_and_verify(&tampered, &log_signer().verifier()).is_err()
            );
        }
    }

    #[test]
    fn changed_byte_in_cosigned_checkpoint_loses_the_cosignature_or_the_log_signature(
        index in any::<prop::sample::Index>(),
        shift in any::<u8>(),
    ) {
        let text = cosigned_second_checkpoint().to_string();
        if let Some(tampered) = mutate(&text, index, shift) {
            let verified = SignedCheckpoint::parse_and_verify(&tampered, &log_signer().verifier())
                .and_then(|c| c.verified_cosignatures(&[witness_signer().verifier()]));
            prop_assert!(!matches!(verified, Ok(list) if !list.is_empty()));
        }
    }

    #[test]
    fn cosignature_does_not_verify_at_another_time(
        time in 0..=i64::MAX as u64,
        other in 0..=i64::MAX as u64,
    ) {
        prop_assume!(time != other);
        let witness = witness_signer();
        let checkpoint = first_checkpoint();
        let cosignature = witness.cosign(&checkpoint, time).unwrap();
        prop_assert_eq!(witness.verifier().verify(&checkpoint, &cosignature), Ok(time));
        let mut bytes = cosignature.key_id().to_be_bytes().to_vec();
        bytes.extend_from_slice(&other.to_be_bytes());
        bytes.extend_from_slice(&cosignature.signature()[8..]);
        let line = format!("— {WITNESS_NAME} {}", STANDARD.encode(bytes));
        let retimed = NoteSignature::parse(&line).unwrap();
        prop_assert!(witness.verifier().verify(&checkpoint, &retimed).is_err());
    }

    #[test]
    fn parsers_never_panic(input in "(?s).{0,300}") {
        let _ = SignedNote::parse(&input);
        let _ = Checkpoint::parse_body(&input);
        let _ = NoteVerifier::parse(&input);
        let _ = NoteSigner::parse(&input);
        let _ = CosignatureVerifier::parse(&input);
        let _ = NoteSignature::parse(&input);
        let _ = SignedCheckpoint::parse_and_verify(&input, &log_signer().verifier());
    }

    #[test]
    fn note_shaped_inputs_never_panic(
        text in "[a-z\n]{0,20}",
        name in "[a-z +]{0,10}",
        sig in "[A-Za-z0-9+/=]{0,100}",
    ) {
        let note = format!("{text}\n\n— {name} {sig}\n");
        if let Ok(parsed) = SignedNote::parse(&note) {
            prop_assert_eq!(parsed.to_string(), note);
            let _ = parsed.verify(&log_signer().verifier());
        }
    }
}
