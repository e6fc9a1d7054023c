//! The serial numbers of a batch: drawn at random, or given as a list.
//!
//! ## Random serials
//! The FMD requires serial numbers whose probability of being guessed is "negligible and in
//! any case lower than one in ten thousand" (Delegated Regulation (EU) 2016/161, Art. 4(b)).
//! A random serial here is [`SERIAL_LEN`] = 12 characters drawn independently and uniformly
//! from the 32 characters of [`ALPHABET`] (Crockford's base 32: digits and upper-case letters
//! without `I`, `L`, `O` and `U`, so no two characters are easily confused when read or typed),
//! i.e. 60 bits from the operating system's CSPRNG. With `n` packs of a GTIN in circulation, a
//! guessed serial is valid with probability n / 2^60: for a million packs about 8.7 × 10^-13,
//! and it would take 1.15 × 10^14 packs of one GTIN to reach the FMD's bound of 10^-4.
//!
//! Serials are unique within a batch by construction (drawn again on a collision). Across
//! batches of the same GTIN the ledger refuses a serial commissioned before; the chance that a
//! million new serials meet any of a hundred million earlier ones is about 10^14 / 2^60
//! ≈ 8.7 × 10^-5, in which case the commission is rejected and the batch is drawn again.

use std::collections::HashSet;

use pedigree_schema::gs1::{Gs1Error, Serial};
use rand::{CryptoRng, RngCore};

/// The characters of a random serial: Crockford's base 32. All are in GS1 character set 82.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a random serial (60 bits).
pub const SERIAL_LEN: usize = 12;
/// Most serials in one batch request.
pub const MAX_SERIALS: usize = 1_000_000;

/// Why a batch's serials are not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    #[error("a batch has 1 to {MAX_SERIALS} serials, not {0}")]
    Count(usize),
    #[error("serial {index}: {source}")]
    Invalid { index: usize, source: Gs1Error },
    #[error("serial {0:?} is listed more than once")]
    Duplicate(String),
}

/// `count` distinct random serials from `rng`, in canonical (byte) order.
///
/// Each character takes the low 5 bits of one random byte: 32 divides 256, so every
/// character of [`ALPHABET`] is equally likely.
pub fn random_serials<R: RngCore + CryptoRng>(
    rng: &mut R,
    count: usize,
) -> Result<Vec<Serial>, SerialError> {
    check_count(count)?;
    let mut drawn: HashSet<[u8; SERIAL_LEN]> = HashSet::with_capacity(count);
    let mut bytes = vec![0u8; SERIAL_LEN * count.min(4096)];
    while drawn.len() < count {
        let wanted = (count - drawn.len()).min(bytes.len() / SERIAL_LEN);
        let block = &mut bytes[..wanted * SERIAL_LEN];
        rng.fill_bytes(block);
        for chunk in block.chunks_exact(SERIAL_LEN) {
            let mut serial = [0u8; SERIAL_LEN];
            for (out, random) in serial.iter_mut().zip(chunk) {
                *out = ALPHABET[usize::from(random & 0x1f)];
            }
            drawn.insert(serial);
        }
    }
    let mut texts: Vec<String> = drawn
        .into_iter()
        .map(|s| s.iter().map(|&b| char::from(b)).collect())
        .collect();
    texts.sort_unstable();
    parse_all(&texts)
}

/// The serials of `list`, validated, in canonical (byte) order; a repeated serial is refused
/// rather than silently dropped, since it is almost certainly a mistake in the list.
pub fn listed_serials(list: &[String]) -> Result<Vec<Serial>, SerialError> {
    check_count(list.len())?;
    let mut serials = parse_all(list)?;
    serials.sort_unstable();
    if let Some(pair) = serials.windows(2).find(|w| w[0] == w[1]) {
        return Err(SerialError::Duplicate(pair[0].to_string()));
    }
    Ok(serials)
}

/// Checks that a batch of `count` serials is allowed.
pub fn check_count(count: usize) -> Result<(), SerialError> {
    if (1..=MAX_SERIALS).contains(&count) {
        Ok(())
    } else {
        Err(SerialError::Count(count))
    }
}

fn parse_all(texts: &[String]) -> Result<Vec<Serial>, SerialError> {
    texts
        .iter()
        .enumerate()
        .map(|(index, s)| Serial::parse(s).map_err(|source| SerialError::Invalid { index, source }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn random_serials_have_the_right_length_and_alphabet_and_are_cs82_valid() {
        let serials = random_serials(&mut OsRng, 1000).expect("serials");
        assert_eq!(serials.len(), 1000);
        for serial in &serials {
            let text = serial.as_str();
            assert_eq!(text.len(), SERIAL_LEN, "{text}");
            assert!(text.bytes().all(|b| ALPHABET.contains(&b)), "{text}");
            assert!(Serial::parse(text).is_ok(), "{text} is CSET 82");
        }
    }

    #[test]
    fn random_serials_are_unique_and_sorted_across_100_000() {
        let serials = random_serials(&mut OsRng, 100_000).expect("serials");
        assert_eq!(serials.len(), 100_000);
        assert!(
            serials.windows(2).all(|w| w[0] < w[1]),
            "strictly ascending, hence unique"
        );
    }

    #[test]
    fn random_serials_use_every_character_of_the_alphabet() {
        let serials = random_serials(&mut OsRng, 1000).expect("serials");
        for &c in ALPHABET {
            assert!(
                serials.iter().any(|s| s.as_str().as_bytes().contains(&c)),
                "{} never drawn in 12 000 characters",
                char::from(c)
            );
        }
    }

    #[test]
    fn ambiguous_characters_are_not_in_the_alphabet() {
        for c in b"ILOUabc" {
            assert!(!ALPHABET.contains(c), "{}", char::from(*c));
        }
    }

    #[test]
    fn counts_outside_one_to_a_million_are_refused() {
        assert!(matches!(
            random_serials(&mut OsRng, 0),
            Err(SerialError::Count(0))
        ));
        assert!(matches!(
            random_serials(&mut OsRng, MAX_SERIALS + 1),
            Err(SerialError::Count(_))
        ));
        assert!(matches!(listed_serials(&[]), Err(SerialError::Count(0))));
    }

    #[test]
    fn listed_serials_are_sorted_and_checked() {
        let list = ["B2", "A1", "C3"].map(String::from);
        let serials = listed_serials(&list).expect("valid");
        let texts: Vec<&str> = serials.iter().map(Serial::as_str).collect();
        assert_eq!(texts, ["A1", "B2", "C3"]);
    }

    #[test]
    fn a_repeated_listed_serial_is_refused() {
        let list = ["A1", "B2", "A1"].map(String::from);
        assert!(matches!(
            listed_serials(&list),
            Err(SerialError::Duplicate(s)) if s == "A1"
        ));
    }

    #[test]
    fn an_invalid_listed_serial_is_refused_with_its_index() {
        let list = ["A1", "no spaces"].map(String::from);
        assert!(matches!(
            listed_serials(&list),
            Err(SerialError::Invalid { index: 1, .. })
        ));
    }
}
