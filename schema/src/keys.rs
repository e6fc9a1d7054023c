//! Ed25519 keys and signatures, with the handling rules secrets need.
//!
//! * Secret keys are zeroized on drop (ed25519-dalek's `zeroize` feature), are
//!   never shown by `Debug`, and are written to files created with mode 0600.
//! * Verification is always `verify_strict` (no small-order keys or `R`
//!   points, canonical `s`), the rule RFC 8032 leaves to implementations and
//!   the one that makes signatures non-malleable.
//! * Batch verification ([`verify_batch_strict`]) applies the same strictness
//!   to every item, then uses ed25519-dalek's batch equation; on failure it
//!   falls back to single verification to say exactly which items are bad.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Why a key, a signature or a key file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("public key is not valid base64 of 32 bytes")]
    PublicKeyEncoding,
    #[error("public key is not a valid Ed25519 point")]
    PublicKeyPoint,
    #[error("public key has small order (weak key)")]
    WeakPublicKey,
    #[error("signature is not valid base64 of 64 bytes")]
    SignatureEncoding,
    #[error("signature does not verify under this key")]
    BadSignature,
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
}

/// An Ed25519 public key, in JSON as standard base64 of its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses base64 of 32 bytes, refusing invalid points and weak keys.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bytes: [u8; 32] = B64
            .decode(text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::PublicKeyEncoding)?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::PublicKeyPoint)?;
        if key.is_weak() {
            return Err(KeyError::WeakPublicKey);
        }
        Ok(Self(key))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// Strict verification of `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), KeyError> {
        self.0
            .verify_strict(message, &signature.0)
            .map_err(|_| KeyError::BadSignature)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 signature, in JSON as standard base64 of its 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(ed25519_dalek::Signature);

impl Signature {
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bytes: [u8; 64] = B64
            .decode(text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::SignatureEncoding)?;
        Ok(Self(ed25519_dalek::Signature::from_bytes(&bytes)))
    }

    pub fn to_bytes(&self) -> [u8; 64] {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: &[u8; 64]) -> Self {
        Self(ed25519_dalek::Signature::from_bytes(bytes))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.to_bytes()))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// First line of a Pedigree secret key file; the second is base64 of the
/// 32-byte Ed25519 seed.
const KEY_FILE_HEADER: &str = "pedigree-ed25519-secret-key-v1";

/// An Ed25519 secret key. Zeroized on drop; `Debug` shows only the public key.
pub struct SecretKey(SigningKey);

impl SecretKey {
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// A key from a 32-byte seed (deterministic keys for tests and vectors).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message))
    }

    /// The dalek key, for signing C2SP notes and cosignatures.
    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// Writes the key to a new file readable only by its owner (mode 0600).
    /// Refuses to overwrite an existing file, so a key is never lost by
    /// accident.
    pub fn write_new_file(&self, path: &Path) -> Result<(), KeyError> {
        let fail = |reason: String| KeyError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| fail(e.to_string()))?;
        let seed = Zeroizing::new(B64.encode(self.0.to_bytes()));
        let text = Zeroizing::new(format!("{KEY_FILE_HEADER}\n{}\n", seed.as_str()));
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| fail(e.to_string()))
    }

    /// Reads a key file written by [`SecretKey::write_new_file`]. On Unix a
    /// file readable by group or others is refused.
    pub fn read_file(path: &Path) -> Result<Self, KeyError> {
        let fail = |reason: &str| KeyError::KeyFile {
            path: path.display().to_string(),
            reason: reason.to_string(),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| fail(&e.to_string()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(fail(&format!(
                    "permissions {:o} are too open: the file must be readable by its owner only (chmod 600)",
                    mode & 0o777
                )));
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| fail(&e.to_string()))?);
        let mut lines = text.lines();
        if lines.next() != Some(KEY_FILE_HEADER) {
            return Err(fail(&format!("first line must be {KEY_FILE_HEADER}")));
        }
        let seed = lines
            .next()
            .and_then(|line| B64.decode(line.trim()).ok())
            .map(Zeroizing::new)
            .ok_or_else(|| fail("second line must be base64 of the 32-byte seed"))?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            seed.as_slice()
                .try_into()
                .map_err(|_| fail("seed must be exactly 32 bytes"))?,
        );
        Ok(Self::from_seed(&seed))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey(public: {}, secret: <redacted>)",
            self.public_key()
        )
    }
}

/// Verifies many `(message, signature, key)` items with strict semantics and
/// returns, per item, whether it verified. All-valid batches (the common
/// case) cost one batch equation; a failing batch is re-checked item by item.
pub fn verify_batch_strict(items: &[(&[u8], Signature, PublicKey)]) -> Vec<bool> {
    // verify_strict refuses small-order R; the batch equation does not check
    // it, so those items are singled out first (keys are checked on parse).
    let strict_shape: Vec<bool> = items
        .iter()
        .map(|(_, signature, _)| r_is_not_small_order(signature))
        .collect();
    let candidates: Vec<usize> = (0..items.len()).filter(|&i| strict_shape[i]).collect();
    let messages: Vec<&[u8]> = candidates.iter().map(|&i| items[i].0).collect();
    let signatures: Vec<ed25519_dalek::Signature> =
        candidates.iter().map(|&i| items[i].1 .0).collect();
    let keys: Vec<VerifyingKey> = candidates.iter().map(|&i| items[i].2 .0).collect();
    if !candidates.is_empty() && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
    {
        return strict_shape;
    }
    items
        .iter()
        .map(|(message, signature, key)| key.verify(message, signature).is_ok())
        .collect()
}

fn r_is_not_small_order(signature: &Signature) -> bool {
    CompressedEdwardsY(signature.0.r_bytes().to_owned())
        .decompress()
        .is_some_and(|r| !r.is_small_order())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let key = SecretKey::from_seed(&[7; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&B64.encode([7u8; 32])));
    }

    #[test]
    fn key_file_round_trips_and_is_owner_only() {
        let dir = std::env::temp_dir().join(format!("pedigree-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("party.key");
        let _ = std::fs::remove_file(&path);
        let key = SecretKey::generate();
        key.write_new_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(key.write_new_file(&path).is_err(), "must not overwrite");
        let read = SecretKey::read_file(&path).unwrap();
        assert_eq!(read.public_key(), key.public_key());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn batch_verification_names_the_bad_items() {
        let keys: Vec<SecretKey> = (0..8u8).map(|i| SecretKey::from_seed(&[i; 32])).collect();
        let messages: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 10]).collect();
        let mut items: Vec<(&[u8], Signature, PublicKey)> = keys
            .iter()
            .zip(&messages)
            .map(|(k, m)| (m.as_slice(), k.sign(m), k.public_key()))
            .collect();
        assert!(verify_batch_strict(&items).iter().all(|ok| *ok));
        items[3].1 = keys[3].sign(b"something else");
        let verdicts = verify_batch_strict(&items);
        assert_eq!(verdicts.iter().filter(|ok| !**ok).count(), 1);
        assert!(!verdicts[3]);
    }

    #[test]
    fn weak_public_keys_are_refused() {
        // The identity point (small order) encoded as y = 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes(&identity),
            Err(KeyError::WeakPublicKey)
        ));
    }
}
