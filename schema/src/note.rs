//! C2SP signed notes (<https://c2sp.org/signed-note>), the envelope of log
//! checkpoints and witness cosignatures.
//!
//! A signed note is a UTF-8 text ending in a newline, a blank line, then one or
//! more signature lines `— <key name> <base64(key ID || signature)>`. The format,
//! the key ID derivation and the key strings below are byte-compatible with
//! `golang.org/x/mod/sumdb/note` and `github.com/transparency-dev/formats/note`,
//! so checkpoints written here can be read by existing transparency-log tooling
//! and the other way round.
//!
//! Key strings (the "vkey" and "skey" encodings of `sumdb/note`):
//!
//! * verifier key: `<name>+<hex key ID, 8 digits>+<base64(type byte || 32-byte public key)>`
//! * signer key: `PRIVATE+KEY+<name>+<hex key ID>+<base64(type byte || 32-byte seed)>`
//!
//! The type byte is the signed-note signature type (§"Signature types"):
//! [`Ed25519`] (`0x01`) for plain note signatures, [`CosignatureV1`] (`0x04`) for
//! timestamped witness cosignatures (c2sp.org/tlog-cosignature). The type is a
//! type parameter of [`SignerKey`] and [`VerifierKey`], so a cosignature key can
//! never be used where a log key is expected.

use std::fmt;
use std::marker::PhantomData;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The most signature lines a note may carry. The spec (§Format) requires
/// accepting at least 16; `sumdb/note` rejects more than 100, and so do we, to
/// bound the work spent on a hostile note.
pub const MAX_SIGNATURES: usize = 100;

/// The em dash and space that open every signature line (§Format).
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The literal prefix of signer key strings, as in `sumdb/note`.
const SIGNER_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Length of a key ID: the first four bytes of a SHA-256 hash (§Signatures).
const KEY_ID_LEN: usize = 4;

/// Length of an Ed25519 public key or seed (RFC 8032).
const ED25519_KEY_LEN: usize = 32;

/// Everything that can be wrong with a note, a signature line or a key string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error(
        "byte {offset}: control character U+{code:04X} is not allowed in a note (only newline is)"
    )]
    ControlCharacter { offset: usize, code: u32 },
    #[error("note text must end with a newline")]
    TextWithoutFinalNewline,
    #[error("note has no blank line separating its text from its signatures")]
    MissingSeparator,
    #[error("note has no signature lines after the blank line")]
    NoSignatures,
    #[error("note does not end with a newline after its last signature line")]
    UnterminatedSignatures,
    #[error("line {line}: malformed signature line: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    #[error("note has {count} signature lines, more than the {MAX_SIGNATURES} accepted")]
    TooManySignatures { count: usize },
    #[error("invalid key name {name:?}: {reason}")]
    InvalidKeyName { name: String, reason: &'static str },
    #[error("malformed {kind} key string: {reason}")]
    MalformedKey {
        kind: &'static str,
        reason: &'static str,
    },
    #[error(
        "{kind} key has signature type 0x{found:02x}, expected 0x{expected:02x} ({description})"
    )]
    WrongKeyType {
        kind: &'static str,
        found: u8,
        expected: u8,
        description: &'static str,
    },
    #[error("{kind} key string names key ID {found:08x}, but its name and public key give {computed:08x}")]
    KeyIdMismatch {
        kind: &'static str,
        found: u32,
        computed: u32,
    },
    #[error("verifier key holds bytes that are not an Ed25519 public key")]
    InvalidPublicKey,
    #[error("missing signature by {name}+{key_id:08x}")]
    MissingSignature { name: String, key_id: u32 },
    #[error("signature by {name}+{key_id:08x} is invalid")]
    InvalidSignature { name: String, key_id: u32 },
}

/// A key name: non-empty, without Unicode spaces or `+` (§Format). ASCII
/// control characters are refused as well, since a note may not contain them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    /// Validates a key name.
    pub fn parse(name: &str) -> Result<Self, NoteError> {
        let invalid = |reason| NoteError::InvalidKeyName {
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.chars().any(char::is_whitespace) {
            return Err(invalid("it contains a Unicode space"));
        }
        if name.contains('+') {
            return Err(invalid("it contains '+'"));
        }
        if name.chars().any(|c| c < ' ') {
            return Err(invalid("it contains an ASCII control character"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Ed25519 {}
    impl Sealed for super::CosignatureV1 {}
}

/// A signed-note signature type (§"Signature types") whose keys are Ed25519
/// keys. Sealed: only the two types below exist.
pub trait KeyType: sealed::Sealed {
    /// The signature type identifier byte hashed into the key ID and prefixed
    /// to the key material in key strings.
    const SIGNATURE_TYPE: u8;
    /// What the type is, for error messages.
    const DESCRIPTION: &'static str;
}

/// Signature type `0x01`: an Ed25519 signature over the note text
/// (§"Ed25519 signatures"); used by logs to sign checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ed25519 {}

impl KeyType for Ed25519 {
    const SIGNATURE_TYPE: u8 = 0x01;
    const DESCRIPTION: &'static str = "Ed25519 note signature";
}

/// Signature type `0x04`: a timestamped Ed25519 witness cosignature
/// (c2sp.org/tlog-cosignature); the signing itself lives in
/// [`crate::checkpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CosignatureV1 {}

impl KeyType for CosignatureV1 {
    const SIGNATURE_TYPE: u8 = 0x04;
    const DESCRIPTION: &'static str = "Ed25519 cosignature/v1";
}

/// `SHA-256(key name || 0x0A || signature type || public key)[:4]` read as a
/// big-endian `u32` (§Signatures, §"Ed25519 signatures").
pub fn key_id(name: &KeyName, signature_type: u8, public_key: &VerifyingKey) -> u32 {
    let hash = Sha256::new()
        .chain_update(name.as_str())
        .chain_update([b'\n', signature_type])
        .chain_update(public_key.as_bytes())
        .finalize();
    u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]])
}

/// A private Ed25519 key with its name, for signatures of type `T`.
///
/// The secret is zeroized on drop (by `SigningKey`) and never shown by `Debug`.
pub struct SignerKey<T: KeyType> {
    name: KeyName,
    key_id: u32,
    key: SigningKey,
    signature_type: PhantomData<fn() -> T>,
}

/// The log's key: signs checkpoint notes with plain Ed25519 (type `0x01`).
pub type NoteSigner = SignerKey<Ed25519>;

impl<T: KeyType> SignerKey<T> {
    pub fn new(name: KeyName, key: SigningKey) -> Self {
        let key_id = key_id(&name, T::SIGNATURE_TYPE, &key.verifying_key());
        Self {
            name,
            key_id,
            key,
            signature_type: PhantomData,
        }
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>`,
    /// checking the type byte and that the key ID matches the derived public key.
    pub fn parse(skey: &str) -> Result<Self, NoteError> {
        const KIND: &str = "signer";
        let rest = skey
            .strip_prefix(SIGNER_KEY_PREFIX)
            .ok_or(NoteError::MalformedKey {
                kind: KIND,
                reason: "it does not start with PRIVATE+KEY+",
            })?;
        let fields = KeyFields::<T>::parse(rest, KIND)?;
        let signer = Self::new(
            fields.name,
            SigningKey::from_bytes(&key_material(&fields.material)),
        );
        check_key_id(KIND, fields.key_id, signer.key_id)?;
        Ok(signer)
    }

    /// The signer key string. It holds the secret seed, hence `Zeroizing`.
    pub fn to_skey(&self) -> Zeroizing<String> {
        let mut material = Zeroizing::new([0u8; 1 + ED25519_KEY_LEN]);
        material[0] = T::SIGNATURE_TYPE;
        material[1..].copy_from_slice(self.key.as_bytes());
        let encoded = Zeroizing::new(STANDARD.encode(&material[..]));
        Zeroizing::new(format!(
            "{SIGNER_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            encoded.as_str()
        ))
    }

    pub fn name(&self) -> &KeyName {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching public key, to hand to verifiers.
    pub fn verifier(&self) -> VerifierKey<T> {
        VerifierKey::new(self.name.clone(), self.key.verifying_key())
    }

    /// A signature line over `message` (the whole signed message, whose
    /// construction depends on the signature type), with `prefix` placed
    /// between the key ID and the Ed25519 signature.
    pub(crate) fn signature_line(&self, prefix: &[u8], message: &[u8]) -> NoteSignature {
        let mut signature = prefix.to_vec();
        signature.extend_from_slice(&self.key.sign(message).to_bytes());
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        }
    }
}

impl NoteSigner {
    /// Signs a note text (§"Ed25519 signatures": the signature covers the text
    /// including its final newline).
    pub fn sign_text(&self, text: &str) -> Result<NoteSignature, NoteError> {
        check_text(text)?;
        Ok(self.signature_line(&[], text.as_bytes()))
    }
}

impl<T: KeyType> fmt::Debug for SignerKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("type", &T::DESCRIPTION)
            .field("name", &self.name.as_str())
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// A public Ed25519 key with its name, for signatures of type `T`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey<T: KeyType> {
    name: KeyName,
    key_id: u32,
    key: VerifyingKey,
    signature_type: PhantomData<fn() -> T>,
}

/// The log's public key: verifies checkpoint notes.
pub type NoteVerifier = VerifierKey<Ed25519>;

impl<T: KeyType> VerifierKey<T> {
    pub fn new(name: KeyName, key: VerifyingKey) -> Self {
        let key_id = key_id(&name, T::SIGNATURE_TYPE, &key);
        Self {
            name,
            key_id,
            key,
            signature_type: PhantomData,
        }
    }

    /// Parses `<name>+<hex key ID>+<base64(type || public key)>`, checking the
    /// type byte and the key ID.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        const KIND: &str = "verifier";
        let fields = KeyFields::<T>::parse(vkey, KIND)?;
        let key = VerifyingKey::from_bytes(&key_material(&fields.material))
            .map_err(|_| NoteError::InvalidPublicKey)?;
        let verifier = Self::new(fields.name, key);
        check_key_id(KIND, fields.key_id, verifier.key_id)?;
        Ok(verifier)
    }

    pub fn name(&self) -> &KeyName {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether a signature line claims to be by this key: name and key ID
    /// both match (§Signatures: lines matching only one are someone else's).
    pub fn is_key_of(&self, signature: &NoteSignature) -> bool {
        signature.name == self.name && signature.key_id == self.key_id
    }

    /// Strict RFC 8032 verification (rejecting small-order keys and
    /// malleable signatures) of a 64-byte Ed25519 signature.
    pub(crate) fn verify_ed25519(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|signature| self.key.verify_strict(message, &signature).is_ok())
    }

    /// Every line of `note` by this key, failing if there is none.
    fn lines_in<'a>(&self, note: &'a SignedNote) -> Result<Vec<&'a NoteSignature>, NoteError> {
        let lines: Vec<_> = note
            .signatures
            .iter()
            .filter(|s| self.is_key_of(s))
            .collect();
        if lines.is_empty() {
            return Err(NoteError::MissingSignature {
                name: self.name.to_string(),
                key_id: self.key_id,
            });
        }
        Ok(lines)
    }
}

impl<T: KeyType> fmt::Display for VerifierKey<T> {
    /// The verifier key string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = Vec::with_capacity(1 + ED25519_KEY_LEN);
        material.push(T::SIGNATURE_TYPE);
        material.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(material)
        )
    }
}

impl<T: KeyType> fmt::Debug for VerifierKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifierKey")
            .field(&self.to_string())
            .finish()
    }
}

/// The three `+`-separated fields shared by verifier and signer key strings.
struct KeyFields<T> {
    name: KeyName,
    key_id: u32,
    /// The 32 key bytes after the type byte (a seed for signer keys).
    material: Zeroizing<[u8; 1 + ED25519_KEY_LEN]>,
    signature_type: PhantomData<fn() -> T>,
}

impl<T: KeyType> KeyFields<T> {
    fn parse(fields: &str, kind: &'static str) -> Result<Self, NoteError> {
        let malformed = |reason| NoteError::MalformedKey { kind, reason };
        // The name holds no '+', the hex ID neither; base64 may, so it is the rest.
        let (name, rest) = fields
            .split_once('+')
            .ok_or(malformed("expected <name>+<key ID>+<key>"))?;
        let (hex_id, encoded) = rest
            .split_once('+')
            .ok_or(malformed("expected <name>+<key ID>+<key>"))?;
        let name = KeyName::parse(name)?;
        if hex_id.len() != 2 * KEY_ID_LEN || !hex_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("key ID is not 8 hexadecimal digits"));
        }
        let key_id =
            u32::from_str_radix(hex_id, 16).map_err(|_| malformed("key ID is not hexadecimal"))?;
        let mut material = Zeroizing::new([0u8; 1 + ED25519_KEY_LEN]);
        let decoded = STANDARD
            .decode_slice(encoded, &mut material[..])
            .map_err(|_| malformed("key is not base64 of a type byte and 32 key bytes"))?;
        if decoded != material.len() {
            return Err(malformed(
                "key is not base64 of a type byte and 32 key bytes",
            ));
        }
        if material[0] != T::SIGNATURE_TYPE {
            return Err(NoteError::WrongKeyType {
                kind,
                found: material[0],
                expected: T::SIGNATURE_TYPE,
                description: T::DESCRIPTION,
            });
        }
        Ok(Self {
            name,
            key_id,
            material,
            signature_type: PhantomData,
        })
    }
}

/// The 32 key bytes after the type byte, in a buffer that is wiped on drop.
fn key_material(material: &[u8; 1 + ED25519_KEY_LEN]) -> Zeroizing<[u8; ED25519_KEY_LEN]> {
    let mut key = Zeroizing::new([0u8; ED25519_KEY_LEN]);
    key.copy_from_slice(&material[1..]);
    key
}

fn check_key_id(kind: &'static str, found: u32, computed: u32) -> Result<(), NoteError> {
    if found == computed {
        Ok(())
    } else {
        Err(NoteError::KeyIdMismatch {
            kind,
            found,
            computed,
        })
    }
}

/// One signature line: key name, key ID and the signature bytes after the ID
/// (for cosignatures: timestamp and signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: KeyName,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one line `— <name> <base64(key ID || signature)>`, without its
    /// newline (e.g. a line returned by a witness).
    pub fn parse(line: &str) -> Result<Self, NoteError> {
        Self::parse_at(line, 1)
    }

    /// Parses the signature line at (1-based) line number `line_no` of a note.
    fn parse_at(line: &str, line_no: usize) -> Result<Self, NoteError> {
        let malformed = |reason| NoteError::MalformedSignatureLine {
            line: line_no,
            reason,
        };
        let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or(malformed(
            "it does not start with an em dash (U+2014) and a space",
        ))?;
        let (name, encoded) = rest.split_once(' ').ok_or(malformed(
            "expected a key name, a space and a base64 signature",
        ))?;
        let name = KeyName::parse(name).map_err(|_| malformed("invalid key name"))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| malformed("signature is not standard base64"))?;
        if bytes.len() <= KEY_ID_LEN {
            return Err(malformed("signature is shorter than a key ID and one byte"));
        }
        let (id, signature) = bytes.split_at(KEY_ID_LEN);
        Ok(Self {
            name,
            key_id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
            signature: signature.to_vec(),
        })
    }

    pub fn name(&self) -> &KeyName {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

impl fmt::Display for NoteSignature {
    /// The signature line, without its newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        write!(
            f,
            "{SIGNATURE_PREFIX}{} {}",
            self.name,
            STANDARD.encode(bytes)
        )
    }
}

/// A note text and its signature lines, verified or not. `to_string()` gives
/// the note in its wire format; unknown signature lines are kept so that
/// re-serializing never drops a cosignature (§Signatures: verifiers ignore them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses a signed note (§Format). Checks syntax only: the text means
    /// nothing until [`SignedNote::verify`] succeeds.
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        check_characters(note)?;
        // The text ends at the last blank line: signature lines are never empty.
        let split = note.rfind("\n\n").ok_or(NoteError::MissingSeparator)?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        if signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let lines = signatures
            .strip_suffix('\n')
            .ok_or(NoteError::UnterminatedSignatures)?;
        let count = lines.split('\n').count();
        if count > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures { count });
        }
        // Line numbers of the signature lines follow the text and the blank line.
        let first_line = text.matches('\n').count() + 2;
        let signatures = lines
            .split('\n')
            .enumerate()
            .map(|(i, line)| NoteSignature::parse_at(line, first_line + i))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// A note holding `text` signed by `signer`.
    pub fn sign(text: &str, signer: &NoteSigner) -> Result<Self, NoteError> {
        let signature = signer.sign_text(text)?;
        Ok(Self {
            text: text.to_owned(),
            signatures: vec![signature],
        })
    }

    /// Adds a signature line, replacing any line by the same key (name and
    /// key ID), as `sumdb/note`'s `Sign` does.
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        let other_key =
            |s: &NoteSignature| s.name != signature.name || s.key_id != signature.key_id;
        let count = self.signatures.iter().filter(|s| other_key(s)).count() + 1;
        if count > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures { count });
        }
        self.signatures.retain(other_key);
        self.signatures.push(signature);
        Ok(())
    }

    /// Verifies that `verifier` signed the text: at least one line has its
    /// name and key ID, and every such line verifies (§Signatures). Lines by
    /// other keys are ignored.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<(), NoteError> {
        for line in verifier.lines_in(self)? {
            if !verifier.verify_ed25519(self.text.as_bytes(), &line.signature) {
                return Err(NoteError::InvalidSignature {
                    name: line.name.to_string(),
                    key_id: line.key_id,
                });
            }
        }
        Ok(())
    }

    /// The note text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        self.signatures.iter().try_for_each(|s| writeln!(f, "{s}"))
    }
}

/// §Format: no ASCII control character other than newline anywhere in a note.
fn check_characters(note: &str) -> Result<(), NoteError> {
    match note.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        Some((offset, c)) => Err(NoteError::ControlCharacter {
            offset,
            code: u32::from(c),
        }),
        None => Ok(()),
    }
}

/// A text that can be signed: it ends in a newline and holds no control characters.
fn check_text(text: &str) -> Result<(), NoteError> {
    check_characters(text)?;
    if text.ends_with('\n') {
        Ok(())
    } else {
        Err(NoteError::TextWithoutFinalNewline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_follow_the_spec() {
        for good in ["PeterNeumann", "example.com/log42", "oid/1.3.6.1", "é"] {
            assert!(KeyName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\u{1}b",
        ] {
            assert!(KeyName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_id_uses_the_signature_type_byte() {
        let name = KeyName::parse("example.com/w").unwrap();
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let mut input = b"example.com/w\n\x04".to_vec();
        input.extend_from_slice(key.as_bytes());
        let hash = Sha256::digest(&input);
        assert_eq!(
            key_id(&name, 0x04, &key).to_be_bytes(),
            [hash[0], hash[1], hash[2], hash[3]]
        );
        assert_ne!(key_id(&name, 0x04, &key), key_id(&name, 0x01, &key));
    }

    #[test]
    fn signature_line_numbers_count_text_and_blank_line() {
        let err = SignedNote::parse("a\nb\n\n\u{2014} k AAAAAAA=\nbad\n").unwrap_err();
        assert_eq!(
            err,
            NoteError::MalformedSignatureLine {
                line: 5,
                reason: "it does not start with an em dash (U+2014) and a space"
            }
        );
    }

    #[test]
    fn control_characters_are_reported_with_their_offset() {
        assert_eq!(
            SignedNote::parse("a\rb\n\n\u{2014} k AAAAAAA=\n"),
            Err(NoteError::ControlCharacter {
                offset: 1,
                code: 0x0d
            })
        );
    }
}
