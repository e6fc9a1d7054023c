//! C2SP transparency-log checkpoints (<https://c2sp.org/tlog-checkpoint>) and
//! Ed25519 witness cosignatures (<https://c2sp.org/tlog-cosignature>, v1).
//!
//! A checkpoint is a signed note (see [`crate::note`]) whose text is the log's
//! origin, its tree size, its base64 RFC 6962 root hash and optional extension
//! lines. Pedigree chains its checkpoints: every checkpoint after the first
//! carries one extension line `pedigree-prev <base64 SHA-256 of the previous
//! checkpoint's note text>`. The hash covers the note text only, so adding
//! cosignatures to a checkpoint never changes the chain.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::note::{
    CosignatureV1, KeyName, NoteError, NoteSignature, NoteSigner, NoteVerifier, SignedNote,
    SignerKey, VerifierKey,
};

/// The keyword of Pedigree's chaining extension line.
pub const PREV_KEYWORD: &str = "pedigree-prev";

/// A witness's private key: signs `cosignature/v1` cosignatures (type `0x04`).
pub type CosignatureSigner = SignerKey<CosignatureV1>;

/// A witness's public key, as a vkey with signature type `0x04`
/// (tlog-cosignature §Format).
pub type CosignatureVerifier = VerifierKey<CosignatureV1>;

/// Largest cosignature timestamp allowed: 2^63 - 1 (tlog-cosignature §Format).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Length of the timestamp before the Ed25519 signature in a cosignature.
const TIMESTAMP_LEN: usize = 8;

/// Length of an Ed25519 signature.
const ED25519_SIGNATURE_LEN: usize = 64;

/// Everything that can be wrong with a checkpoint, its chain link or a cosignature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    #[error("checkpoint body must end with a newline")]
    MissingFinalNewline,
    #[error("checkpoint body has {found} lines, needs at least 3 (origin, tree size, root hash)")]
    TooFewLines { found: usize },
    #[error("line 1: origin must be non-empty")]
    EmptyOrigin,
    #[error("line {line}: control character U+{code:04X} is not allowed")]
    ControlCharacter { line: usize, code: u32 },
    #[error("line 2: tree size {found:?} is not a decimal number without leading zeroes")]
    SizeNotDecimal { found: String },
    #[error("line 3: root hash {found:?} is not standard base64")]
    RootNotBase64 { found: String },
    #[error("line 3: root hash is {len} bytes, expected 32")]
    RootWrongLength { len: usize },
    #[error("line {line}: extension lines must be non-empty")]
    EmptyExtension { line: usize },
    #[error("line {line}: malformed {PREV_KEYWORD} line, expected `{PREV_KEYWORD} <base64 of 32 bytes>`")]
    MalformedPrev { line: usize },
    #[error(
        "line {line}: {PREV_KEYWORD} may appear only once, as the first extension line (line 4)"
    )]
    MisplacedPrev { line: usize },
    #[error("checkpoint has no {PREV_KEYWORD} line, so it cannot follow another checkpoint")]
    MissingPrev,
    #[error("chain broken: expected prev {expected} got {found}")]
    ChainBroken { expected: String, found: String },
    #[error("tree size shrank from {previous} to {current}")]
    SizeShrank { previous: u64, current: u64 },
    #[error("origin changed from {previous:?} to {current:?}")]
    OriginChanged { previous: String, current: String },
    #[error("tree size {size} is unchanged but the root hash differs: the log forked")]
    RootChangedAtSameSize { size: u64 },
    #[error("cosignature timestamp {timestamp} exceeds 2^63 - 1")]
    TimestampTooLarge { timestamp: u64 },
    #[error(
        "signature line by {name}+{key_id:08x} is not by witness {witness}+{witness_key_id:08x}"
    )]
    NotThisWitness {
        name: String,
        key_id: u32,
        witness: String,
        witness_key_id: u32,
    },
    #[error("cosignature by {name}+{key_id:08x} is {len} bytes, expected 72 (8-byte timestamp, 64-byte Ed25519 signature)")]
    CosignatureWrongLength {
        name: String,
        key_id: u32,
        len: usize,
    },
    #[error(
        "cosignature by {name}+{key_id:08x} at time {timestamp} is invalid for this checkpoint"
    )]
    CosignatureInvalid {
        name: String,
        key_id: u32,
        timestamp: u64,
    },
}

/// A checkpoint body (tlog-checkpoint §"Note text"). Fields are private so that
/// every value is valid and `parse_body(to_body())` gives it back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: [u8; 32],
    prev: Option<[u8; 32]>,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// Validates a checkpoint: the origin is non-empty; `prev` is the hash of
    /// the previous checkpoint's body (`None` only for the first); other
    /// extension lines are non-empty and do not use the [`PREV_KEYWORD`].
    /// Neither may contain control characters (signed-note §Format).
    pub fn new(
        origin: &str,
        size: u64,
        root: [u8; 32],
        prev: Option<[u8; 32]>,
        extensions: Vec<String>,
    ) -> Result<Self, CheckpointError> {
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        check_characters(1, origin)?;
        let first_extension_line = 4 + usize::from(prev.is_some());
        for (i, extension) in extensions.iter().enumerate() {
            let line = first_extension_line + i;
            if extension.is_empty() {
                return Err(CheckpointError::EmptyExtension { line });
            }
            check_characters(line, extension)?;
            if is_prev_line(extension) {
                return Err(CheckpointError::MisplacedPrev { line });
            }
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            prev,
            extensions,
        })
    }

    /// The next checkpoint of the same log, chained to this one.
    pub fn successor(&self, size: u64, root: [u8; 32]) -> Result<Self, CheckpointError> {
        let next = Self::new(&self.origin, size, root, Some(self.body_hash()), Vec::new())?;
        next.follows(self)?;
        Ok(next)
    }

    /// Parses a checkpoint note text (tlog-checkpoint §"Note text").
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let body = body
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, rest @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines { found: lines.len() });
        };
        let size = parse_size(size)?;
        let root = match decode_hash(root) {
            Ok(root) => root,
            Err(Some(len)) => return Err(CheckpointError::RootWrongLength { len }),
            Err(None) => {
                return Err(CheckpointError::RootNotBase64 {
                    found: (*root).to_owned(),
                })
            }
        };
        let (prev, extensions) = match rest {
            [first, others @ ..] if is_prev_line(first) => (Some(parse_prev(first)?), others),
            _ => (None, rest),
        };
        let extensions = extensions.iter().map(|line| (*line).to_owned()).collect();
        Self::new(origin, size, root, prev, extensions)
    }

    /// The note text: origin, size, root, then the `pedigree-prev` line if
    /// any and the other extension lines, each ending in a newline.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        if let Some(prev) = &self.prev {
            body.push_str(&format!("{PREV_KEYWORD} {}\n", STANDARD.encode(prev)));
        }
        for extension in &self.extensions {
            body.push_str(extension);
            body.push('\n');
        }
        body
    }

    /// SHA-256 of the note text: what the next checkpoint's `pedigree-prev` holds.
    pub fn body_hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_body()).into()
    }

    /// Checks that this checkpoint is the next link after `previous`: same
    /// origin, `pedigree-prev` equal to `previous.body_hash()` (compared in
    /// constant time), a tree that did not shrink, and, at equal size, the same
    /// root (two roots for one size prove a fork, tlog-checkpoint §Signatures).
    pub fn follows(&self, previous: &Checkpoint) -> Result<(), CheckpointError> {
        if self.origin != previous.origin {
            return Err(CheckpointError::OriginChanged {
                previous: previous.origin.clone(),
                current: self.origin.clone(),
            });
        }
        let prev = self.prev.ok_or(CheckpointError::MissingPrev)?;
        let expected = previous.body_hash();
        if !bool::from(prev.ct_eq(&expected)) {
            return Err(CheckpointError::ChainBroken {
                expected: STANDARD.encode(expected),
                found: STANDARD.encode(prev),
            });
        }
        if self.size < previous.size {
            return Err(CheckpointError::SizeShrank {
                previous: previous.size,
                current: self.size,
            });
        }
        if self.size == previous.size && self.root != previous.root {
            return Err(CheckpointError::RootChangedAtSameSize { size: self.size });
        }
        Ok(())
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> &[u8; 32] {
        &self.root
    }

    pub fn prev(&self) -> Option<&[u8; 32]> {
        self.prev.as_ref()
    }

    /// Extension lines other than `pedigree-prev`, in order.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

fn check_characters(line: usize, text: &str) -> Result<(), CheckpointError> {
    match text.chars().find(|&c| c < ' ') {
        Some(c) => Err(CheckpointError::ControlCharacter {
            line,
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

/// §"Note text" item 2: ASCII decimal, no leading zeroes except for `0`.
fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    canonical
        .then(|| line.parse().ok())
        .flatten()
        .ok_or_else(|| CheckpointError::SizeNotDecimal {
            found: line.to_owned(),
        })
}

/// Decodes a base64 SHA-256 hash; the error is the decoded length if the
/// text was base64 of the wrong length, `None` if it was not base64.
fn decode_hash(encoded: &str) -> Result<[u8; 32], Option<usize>> {
    let bytes = STANDARD.decode(encoded).map_err(|_| None)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| Some(bytes.len()))
}

fn is_prev_line(line: &str) -> bool {
    line.split(' ').next() == Some(PREV_KEYWORD)
}

/// Parses `pedigree-prev <base64 hash>`, which is always line 4.
fn parse_prev(line: &str) -> Result<[u8; 32], CheckpointError> {
    const LINE: usize = 4;
    line.strip_prefix(PREV_KEYWORD)
        .and_then(|rest| rest.strip_prefix(' '))
        .and_then(|encoded| decode_hash(encoded).ok())
        .ok_or(CheckpointError::MalformedPrev { line: LINE })
}

/// A checkpoint with its signed note: the log's signature and any cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: SignedNote,
}

impl SignedCheckpoint {
    /// Signs a checkpoint with the log's key.
    pub fn sign(checkpoint: Checkpoint, log: &NoteSigner) -> Result<Self, CheckpointError> {
        let note = SignedNote::sign(&checkpoint.to_body(), log)?;
        Ok(Self { checkpoint, note })
    }

    /// Parses a signed checkpoint and verifies the log's signature before
    /// reading the body (signed-note: the text MUST be ignored until then).
    /// Signature lines by other keys, such as cosignatures, are kept.
    pub fn parse_and_verify(text: &str, log: &NoteVerifier) -> Result<Self, CheckpointError> {
        let note = SignedNote::parse(text)?;
        note.verify(log)?;
        let checkpoint = Checkpoint::parse_body(note.text())?;
        Ok(Self { checkpoint, note })
    }

    /// See [`Checkpoint::follows`].
    pub fn follows(&self, previous: &Checkpoint) -> Result<(), CheckpointError> {
        self.checkpoint.follows(previous)
    }

    /// Verifies a witness's cosignature and attaches it as a signature line,
    /// replacing an earlier one by the same witness. Returns its timestamp.
    pub fn add_cosignature(
        &mut self,
        witness: &CosignatureVerifier,
        cosignature: NoteSignature,
    ) -> Result<u64, CheckpointError> {
        let timestamp = witness.verify(&self.checkpoint, &cosignature)?;
        self.note.add_signature(cosignature)?;
        Ok(timestamp)
    }

    /// The cosignatures present by the given witnesses, all verified. A
    /// witness without a line is left out; a witness line that fails to
    /// verify fails the whole checkpoint (signed-note §Signatures).
    pub fn verified_cosignatures(
        &self,
        witnesses: &[CosignatureVerifier],
    ) -> Result<Vec<VerifiedCosignature>, CheckpointError> {
        let mut verified = Vec::new();
        for witness in witnesses {
            let mut timestamps = self
                .note
                .signatures()
                .iter()
                .filter(|line| witness.is_key_of(line))
                .map(|line| witness.verify(&self.checkpoint, line));
            if let Some(first) = timestamps.next() {
                let timestamp = first?;
                timestamps.try_for_each(|t| t.map(drop))?;
                verified.push(VerifiedCosignature {
                    witness: witness.name().clone(),
                    key_id: witness.key_id(),
                    timestamp,
                });
            }
        }
        Ok(verified)
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    pub fn note(&self) -> &SignedNote {
        &self.note
    }
}

impl fmt::Display for SignedCheckpoint {
    /// The checkpoint in signed-note wire format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.note.fmt(f)
    }
}

/// A cosignature that verified: which witness, and when it saw the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCosignature {
    pub witness: KeyName,
    pub key_id: u32,
    /// POSIX seconds at which the witness cosigned.
    pub timestamp: u64,
}

/// tlog-cosignature §"Ed25519 signed message": `cosignature/v1`, `time <t>`,
/// then the whole checkpoint note text.
fn cosigned_message(timestamp: u64, checkpoint: &Checkpoint) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{}", checkpoint.to_body()).into_bytes()
}

impl CosignatureSigner {
    /// Cosigns `checkpoint` as of `timestamp` (POSIX seconds). The line's
    /// signature bytes are `timestamp (8 bytes, big-endian) || Ed25519 signature`.
    pub fn cosign(
        &self,
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<NoteSignature, CheckpointError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(CheckpointError::TimestampTooLarge { timestamp });
        }
        Ok(self.signature_line(
            &timestamp.to_be_bytes(),
            &cosigned_message(timestamp, checkpoint),
        ))
    }
}

impl CosignatureVerifier {
    /// Verifies that `cosignature` is this witness's cosignature of
    /// `checkpoint` and returns its timestamp.
    pub fn verify(
        &self,
        checkpoint: &Checkpoint,
        cosignature: &NoteSignature,
    ) -> Result<u64, CheckpointError> {
        let name = cosignature.name().to_string();
        let key_id = cosignature.key_id();
        if !self.is_key_of(cosignature) {
            return Err(CheckpointError::NotThisWitness {
                name,
                key_id,
                witness: self.name().to_string(),
                witness_key_id: self.key_id(),
            });
        }
        let bytes = cosignature.signature();
        let Some((timestamp, signature)) = bytes
            .split_first_chunk::<TIMESTAMP_LEN>()
            .filter(|(_, signature)| signature.len() == ED25519_SIGNATURE_LEN)
        else {
            return Err(CheckpointError::CosignatureWrongLength {
                name,
                key_id,
                len: bytes.len(),
            });
        };
        let timestamp = u64::from_be_bytes(*timestamp);
        if timestamp > MAX_TIMESTAMP {
            return Err(CheckpointError::TimestampTooLarge { timestamp });
        }
        if !self.verify_ed25519(&cosigned_message(timestamp, checkpoint), signature) {
            return Err(CheckpointError::CosignatureInvalid {
                name,
                key_id,
                timestamp,
            });
        }
        Ok(timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checkpoint of the tlog-checkpoint and tlog-cosignature examples.
    const SPEC_BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn cosigned_message_matches_the_spec_example() {
        let checkpoint = Checkpoint::parse_body(SPEC_BODY).unwrap();
        assert_eq!(
            cosigned_message(1679315147, &checkpoint),
            format!("cosignature/v1\ntime 1679315147\n{SPEC_BODY}").into_bytes()
        );
    }

    #[test]
    fn tree_size_must_be_canonical_decimal() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "0x10",
            "18446744073709551616",
            "１",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prev_keyword_is_reserved_in_other_extension_lines() {
        let root = [0; 32];
        assert_eq!(
            Checkpoint::new("o", 1, root, None, vec!["pedigree-prev x".into()]),
            Err(CheckpointError::MisplacedPrev { line: 4 })
        );
        assert!(Checkpoint::new("o", 1, root, None, vec!["pedigree-prevx".into()]).is_ok());
    }
}
