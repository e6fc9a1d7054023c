//! GS1 identifiers and barcode data: the AI dictionary ([`ai`]), validating
//! identifier newtypes ([`Gtin`], [`Serial`], [`Lot`], [`Expiry`], …), and
//! [`Gs1Data`], the ordered AI/value pairs of one barcode with parsers and
//! formatters for element strings (GS1 General Specifications §7.8), the
//! bracketed human-readable form (GenSpecs §4.15) and GS1 Digital Link URIs
//! (GS1 Digital Link Standard: URI Syntax).
//!
//! Every value is validated against its AI's entry in GS1's Barcode Syntax
//! Dictionary when it enters a [`Gs1Data`], so a `Gs1Data` never holds an
//! unknown AI or a malformed value.

pub mod ai;
pub mod digital_link;
pub mod element_string;
pub mod ids;

use std::fmt;
use std::str::FromStr;

pub use ai::{check_digit, Charset};
pub use digital_link::{DigitalLinkOptions, CANONICAL_STEM};
pub use element_string::Symbology;
pub use ids::{Expiry, Gln, Gtin, Lot, PackId, Serial, Sscc};

/// Everything that can be wrong with GS1 data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Gs1Error {
    /// The input was empty.
    #[error("the input is empty")]
    Empty,
    /// The AI is not in GS1's Barcode Syntax Dictionary.
    #[error("({ai}) is not an Application Identifier in the GS1 syntax dictionary")]
    UnknownAi {
        /// The AI as given.
        ai: String,
    },
    /// Text in an AI position is not 2 to 4 digits.
    #[error("{found:?} is not an Application Identifier: expected 2 to 4 digits")]
    MalformedAi {
        /// The text found where an AI was expected.
        found: String,
    },
    /// No dictionary AI starts the remaining element-string data.
    #[error("no GS1 Application Identifier starts the element at {found:?}")]
    NoAiAt {
        /// The start of the unparsable remainder.
        found: String,
    },
    /// An AI has an empty value.
    #[error("({ai}) has an empty value")]
    EmptyValue {
        /// The AI.
        ai: String,
    },
    /// A value is longer than its AI allows.
    #[error("({ai}) value is {actual} characters long; the maximum is {max}")]
    TooLong {
        /// The AI.
        ai: String,
        /// Maximum length.
        max: usize,
        /// Actual length.
        actual: usize,
    },
    /// A value is shorter than its AI requires.
    #[error("({ai}) value is {actual} characters long; the minimum is {min}")]
    TooShort {
        /// The AI.
        ai: String,
        /// Minimum length.
        min: usize,
        /// Actual length.
        actual: usize,
    },
    /// A variable-length element string value ran past its maximum length.
    #[error(
        "({ai}) value is {actual} characters long, more than its maximum {max}: \
         a GS (FNC1) separator is probably missing after it"
    )]
    MissingSeparator {
        /// The AI.
        ai: String,
        /// Maximum length.
        max: usize,
        /// Length up to the next separator or the end of the data.
        actual: usize,
    },
    /// A character outside the AI's character set.
    #[error(
        "({ai}) value has {character:?} at position {position}; only {charset} are allowed there"
    )]
    InvalidCharacter {
        /// The AI.
        ai: String,
        /// The offending character.
        character: char,
        /// 1-based character position in the value.
        position: usize,
        /// The character set required at that position.
        charset: Charset,
    },
    /// A mod-10 check digit does not match.
    #[error("({ai}) check digit is {found}, but the digits before it give {expected}")]
    BadCheckDigit {
        /// The AI.
        ai: String,
        /// The check digit the data requires.
        expected: char,
        /// The check digit given.
        found: char,
    },
    /// A date that does not exist.
    #[error("({ai}) date {value} is impossible: {reason}")]
    ImpossibleDate {
        /// The AI.
        ai: String,
        /// The date component.
        value: String,
        /// What is impossible about it.
        reason: String,
    },
    /// A dictionary linter rejected a component.
    #[error("({ai}) component {value:?} fails the '{linter}' check: {reason}")]
    LinterFailed {
        /// The AI.
        ai: String,
        /// The linter's dictionary name.
        linter: &'static str,
        /// The component.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A GTIN of a length that is not 8, 12, 13 or 14.
    #[error("a GTIN has 8, 12, 13 or 14 digits, not {actual}")]
    GtinLength {
        /// The number of digits given.
        actual: usize,
    },
    /// Data needed for the requested value is absent.
    #[error("the data has no {what}")]
    Missing {
        /// What is missing, e.g. "(21) serial number".
        what: String,
    },
    /// The same AI occurs twice with different values (GenSpecs §4.14.1).
    #[error("({ai}) occurs twice with different values {first:?} and {second:?}")]
    ConflictingValues {
        /// The AI.
        ai: String,
        /// The first value.
        first: String,
        /// The conflicting later value.
        second: String,
    },
    /// `req`: an AI lacks a mandatory companion (GenSpecs §4.14.2).
    #[error("({ai}) requires {required} in the same data")]
    MissingRequiredAi {
        /// The AI.
        ai: String,
        /// The alternatives, e.g. "(01) or (02)".
        required: String,
    },
    /// `ex`: two AIs that must not occur together (GenSpecs §4.14.1).
    #[error("({ai}) must not occur together with ({other})")]
    ExclusiveAis {
        /// The AI.
        ai: String,
        /// The AI it excludes.
        other: String,
    },
    /// A symbology identifier that does not announce GS1 data.
    #[error(
        "symbology identifier {identifier:?} does not announce GS1 data \
         (expected ]C1, ]d2, ]e0, ]J1 or ]Q3)"
    )]
    UnsupportedSymbology {
        /// The identifier found.
        identifier: String,
    },
    /// Bracketed data must start with `(`.
    #[error("bracketed GS1 data must start with '(' and an AI")]
    NotBracketed,
    /// A `(` with no matching `)`.
    #[error("the AI opened by '(' is not closed by ')'")]
    UnclosedAi,
    /// A character that may not appear in a URI (RFC 3986 §2).
    #[error("URI has {character:?} at position {position}, which is not allowed in a URI")]
    IllegalUriCharacter {
        /// The character.
        character: char,
        /// 1-based character position.
        position: usize,
    },
    /// The URI scheme is not http or https.
    #[error("URI scheme must be http:// or https:// (all lower or all upper case)")]
    BadScheme,
    /// The URI has no host.
    #[error("URI has no host name")]
    MissingHost,
    /// A character that is not allowed in a host name.
    #[error("host name contains {character:?}, which is not allowed in a host name")]
    IllegalHostCharacter {
        /// The character.
        character: char,
    },
    /// No Digital Link primary key in the URI path, or none in the data.
    #[error("no GS1 Digital Link primary key (such as /01/<GTIN>) found")]
    NoPrimaryKey,
    /// A percent-escape that is malformed or decodes to something unusable.
    #[error("bad percent-encoding in {found:?}: {reason}")]
    BadPercentEncoding {
        /// The URI component.
        found: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Path key qualifiers not permitted for the primary key, or out of order.
    #[error(
        "Digital Link path /{sequence} is not a permitted primary key and key qualifier sequence"
    )]
    InvalidKeyQualifiers {
        /// The AI sequence of the path, e.g. "01/10/22".
        sequence: String,
    },
    /// An AI repeated in a Digital Link URI.
    #[error("({ai}) occurs more than once in the Digital Link URI")]
    DuplicateAi {
        /// The AI.
        ai: String,
    },
    /// An AI that may not be a Digital Link data attribute (query parameter).
    #[error("({ai}) is not permitted as a GS1 Digital Link data attribute")]
    NotDataAttribute {
        /// The AI.
        ai: String,
    },
    /// An AI given as a query parameter that is a key qualifier of the path's key.
    #[error("({ai}) is a key qualifier here and must be in the URI path, not the query")]
    BelongsInPath {
        /// The AI.
        ai: String,
    },
    /// An unusable Digital Link stem.
    #[error("Digital Link stem {stem:?} is invalid: {reason}")]
    InvalidStem {
        /// The stem.
        stem: String,
        /// What is wrong.
        reason: String,
    },
}

/// One AI and its value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Element {
    ai: String,
    value: String,
}

impl Element {
    /// The Application Identifier, e.g. `"01"`.
    pub fn ai(&self) -> &str {
        &self.ai
    }

    /// The value, e.g. `"09506000134352"`.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether an FNC1/GS separator must follow this element when another
    /// element follows (GenSpecs §7.8.5: all but the predefined-length AIs).
    pub fn needs_separator(&self) -> bool {
        ai::lookup(&self.ai).is_none_or(|e| !e.predefined_length)
    }
}

/// The data of one GS1 barcode: AI/value pairs in the order of the code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Gs1Data {
    elements: Vec<Element>,
}

impl Gs1Data {
    /// Empty data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `(ai) value` after validating the value against the dictionary.
    /// Repeating an AI is allowed only with the same value (GenSpecs §4.14.1).
    pub fn push(&mut self, ai: &str, value: &str) -> Result<(), Gs1Error> {
        ai::validate_value(ai, value)?;
        if let Some(first) = self.value(ai).filter(|first| *first != value) {
            return Err(Gs1Error::ConflictingValues {
                ai: ai.to_owned(),
                first: first.to_owned(),
                second: value.to_owned(),
            });
        }
        self.elements.push(Element {
            ai: ai.to_owned(),
            value: value.to_owned(),
        });
        Ok(())
    }

    /// The elements in code order.
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }

    /// The value of the first occurrence of `ai`.
    pub fn value(&self, ai: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.as_str())
    }

    /// Parses any of the supported syntaxes: a Digital Link URI (optionally
    /// after the plain-QR/DataMatrix symbology identifiers `]Q1`/`]d1`), bracketed
    /// data (starting with `(`), or an element string (see
    /// [`Gs1Data::parse_element_string`]). Leading and trailing ASCII
    /// whitespace (a keyboard-wedge scanner's CR/LF) is ignored.
    pub fn parse_any(input: &str) -> Result<Self, Gs1Error> {
        let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
        let body = ["]Q1", "]d1"]
            .iter()
            .find_map(|id| s.strip_prefix(id))
            .unwrap_or(s);
        if digital_link::looks_like_uri(body) {
            Self::parse_digital_link(body)
        } else if s.starts_with('(') {
            Self::parse_bracketed(s)
        } else {
            Self::parse_element_string(s)
        }
    }

    /// The GTIN of AI (01).
    pub fn gtin(&self) -> Option<Gtin> {
        self.value("01").and_then(|v| Gtin::parse(v).ok())
    }

    /// The serial number of AI (21).
    pub fn serial(&self) -> Option<Serial> {
        self.value("21").and_then(|v| Serial::parse(v).ok())
    }

    /// The batch/lot number of AI (10).
    pub fn lot(&self) -> Option<Lot> {
        self.value("10").and_then(|v| Lot::parse(v).ok())
    }

    /// The expiry date of AI (17).
    pub fn expiry(&self) -> Option<Expiry> {
        self.value("17").and_then(|v| Expiry::parse(v).ok())
    }

    /// The pack identity, (01) GTIN plus (21) serial; the error names what is missing.
    pub fn pack_id(&self) -> Result<PackId, Gs1Error> {
        match (self.gtin(), self.serial()) {
            (Some(gtin), Some(serial)) => Ok(PackId { gtin, serial }),
            (gtin, serial) => {
                let missing: Vec<&str> = [
                    gtin.is_none().then_some("(01) GTIN"),
                    serial.is_none().then_some("(21) serial number"),
                ]
                .into_iter()
                .flatten()
                .collect();
                Err(Gs1Error::Missing {
                    what: missing.join(" and "),
                })
            }
        }
    }

    /// Checks the dictionary's mandatory (`req`) and invalid (`ex`) AI pairings
    /// over this data (GenSpecs §4.14). Not applied by the parsers: the syntax
    /// dictionary notes that pairings are to be evaluated over the combined
    /// data of all carriers on an item, so call it on a pack's combined data.
    pub fn check_associations(&self) -> Result<(), Gs1Error> {
        let present = |pattern: &str| self.elements.iter().any(|e| ai_matches(pattern, &e.ai));
        for element in &self.elements {
            let entry = ai::entry(&element.ai)?;
            for rule in &entry.requires {
                if !rule.iter().any(|group| group.iter().all(|p| present(p))) {
                    let required: Vec<String> = rule
                        .iter()
                        .map(|g| {
                            g.iter()
                                .map(|p| format!("({p})"))
                                .collect::<Vec<_>>()
                                .join("+")
                        })
                        .collect();
                    return Err(Gs1Error::MissingRequiredAi {
                        ai: element.ai.clone(),
                        required: required.join(" or "),
                    });
                }
            }
            for pattern in &entry.excludes {
                if let Some(other) = self
                    .elements
                    .iter()
                    .find(|e| e.ai != element.ai && ai_matches(pattern, &e.ai))
                {
                    return Err(Gs1Error::ExclusiveAis {
                        ai: element.ai.clone(),
                        other: other.ai.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Whether `ai` matches a dictionary pattern such as `31nn` (`n` = any digit).
fn ai_matches(pattern: &str, ai: &str) -> bool {
    pattern.len() == ai.len()
        && pattern
            .bytes()
            .zip(ai.bytes())
            .all(|(p, a)| p == a || (p == b'n' && a.is_ascii_digit()))
}

impl From<&PackId> for Gs1Data {
    fn from(pack: &PackId) -> Self {
        Gs1Data {
            elements: vec![
                Element {
                    ai: "01".into(),
                    value: pack.gtin.as_str().into(),
                },
                Element {
                    ai: "21".into(),
                    value: pack.serial.as_str().into(),
                },
            ],
        }
    }
}

/// Displays the bracketed human-readable form.
impl fmt::Display for Gs1Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_bracketed())
    }
}

/// Parses with [`Gs1Data::parse_any`].
impl FromStr for Gs1Data {
    type Err = Gs1Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_any(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_id_names_what_is_missing() {
        let data = Gs1Data::parse_bracketed("(10)ABC").expect("parses");
        assert_eq!(
            data.pack_id(),
            Err(Gs1Error::Missing {
                what: "(01) GTIN and (21) serial number".into()
            })
        );
        let data = Gs1Data::parse_bracketed("(01)09506000134352(10)ABC").expect("parses");
        assert_eq!(
            data.pack_id().map_err(|e| e.to_string()),
            Err("the data has no (21) serial number".into())
        );
        let data = Gs1Data::parse_bracketed("(01)09506000134352(21)S1").expect("parses");
        let pack = data.pack_id().expect("complete");
        assert_eq!(pack.to_string(), "(01)09506000134352(21)S1");
        assert_eq!(Gs1Data::from(&pack), data);
    }

    #[test]
    fn typed_accessors() {
        let data =
            Gs1Data::parse_any("]d20109506000134352172512001012345\u{1d}21ABC").expect("parses");
        assert_eq!(
            data.gtin().map(|g| g.to_string()),
            Some("09506000134352".into())
        );
        assert_eq!(data.expiry().map(|e| e.to_string()), Some("251200".into()));
        assert_eq!(data.lot().map(|l| l.to_string()), Some("12345".into()));
        assert_eq!(data.serial().map(|s| s.to_string()), Some("ABC".into()));
    }

    #[test]
    fn repeated_ai_must_repeat_its_value() {
        let mut data = Gs1Data::new();
        data.push("10", "A").expect("first");
        data.push("10", "A").expect("same value again");
        assert_eq!(
            data.push("10", "B"),
            Err(Gs1Error::ConflictingValues {
                ai: "10".into(),
                first: "A".into(),
                second: "B".into()
            })
        );
    }

    #[test]
    fn associations() {
        let ok = Gs1Data::parse_bracketed("(01)09506000134352(17)251231(10)L(21)S").expect("ok");
        assert_eq!(ok.check_associations(), Ok(()));
        let lone_serial = Gs1Data::parse_bracketed("(21)S").expect("parses");
        assert_eq!(
            lone_serial.check_associations(),
            Err(Gs1Error::MissingRequiredAi {
                ai: "21".into(),
                required: "(01) or (03) or (8006)".into()
            })
        );
        let two_weights =
            Gs1Data::parse_bracketed("(01)09506000134352(3102)000100(3103)000010").expect("parses");
        assert_eq!(
            two_weights.check_associations(),
            Err(Gs1Error::ExclusiveAis {
                ai: "3102".into(),
                other: "3103".into()
            })
        );
    }
}
