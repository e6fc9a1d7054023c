//! Serde helpers writing a [`Hash`](type@super::Hash) as 64 lowercase hex digits:
//! `#[serde(with = "crate::merkle::hex_hash")]` for one hash,
//! `#[serde(with = "crate::merkle::hex_hash::seq")]` for a `Vec<Hash>`.
//!
//! Only the lowercase form is accepted back, so every hash has exactly one JSON spelling and
//! documents that carry hashes can be compared and hashed as text.

use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
use thiserror::Error;

use super::Hash;

/// Why a string is not a hash in canonical hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HexHashError {
    #[error("a SHA-256 hash is 64 hex digits, not {0} bytes of text")]
    WrongLength(usize),
    #[error("character {position} of the hash is not a lowercase hex digit (0-9, a-f)")]
    NotLowercaseHex { position: usize },
}

/// Parses 64 lowercase hex digits.
pub fn parse(text: &str) -> Result<Hash, HexHashError> {
    let bytes = text.as_bytes();
    let mut hash = [0u8; 32];
    if bytes.len() != 2 * hash.len() {
        return Err(HexHashError::WrongLength(bytes.len()));
    }
    let digit = |position: usize| {
        let value = match bytes.get(position) {
            Some(c @ b'0'..=b'9') => c - b'0',
            Some(c @ b'a'..=b'f') => c - b'a' + 10,
            _ => return Err(HexHashError::NotLowercaseHex { position }),
        };
        Ok(value)
    };
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = (digit(2 * i)? << 4) | digit(2 * i + 1)?;
    }
    Ok(hash)
}

/// Serialises a hash as lowercase hex.
pub fn serialize<S: Serializer>(hash: &Hash, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(hash))
}

/// Deserialises a hash from lowercase hex.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Hash, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(D::Error::custom)
}

/// The same for a sequence of hashes, e.g. a proof.
pub mod seq {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    use super::{parse, Hash};

    /// Serialises hashes as a sequence of lowercase hex strings.
    pub fn serialize<S: Serializer>(hashes: &[Hash], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(hashes.iter().map(hex::encode))
    }

    /// Deserialises a sequence of lowercase hex strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Hash>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| parse(text).map_err(D::Error::custom))
            .collect()
    }
}
