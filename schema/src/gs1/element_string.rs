//! Element strings (GS1 General Specifications §7.8) as scanners transmit them,
//! and the bracketed human-readable form (GenSpecs §4.15).
//!
//! ## Separators accepted in element strings
//! A scanner transmits FNC1 separators as GS (ASCII 29). Hand-held scanners in
//! keyboard-wedge mode cannot type GS and are commonly configured to send a
//! substitute instead; the parser accepts these as GS:
//! `<GS>`, `{GS}`, the four characters `\x1d` (or `\x1D`), and `^` (the notation
//! of GS1's test vectors, also used for a leading FNC1).
//! `^`, `{`, `}` and `\` are outside every GS1 character set, so those
//! substitutes are unambiguous. `<GS>` is not: `<`, `G`, `S`, `>` are all in
//! CSET 82. We accept it anyway because scanners send it; the cost is that a
//! value containing the literal text `<GS>` cannot be read from an element string
//! (use the bracketed form or a Digital Link for such a value).

use crate::gs1::{ai, Gs1Data, Gs1Error};

/// ASCII 29, the group separator that stands for FNC1 in transmitted data.
pub const GS: char = '\u{1d}';

/// Texts that keyboard-mode scanners and test notations use in place of GS.
const GS_SUBSTITUTES: &[&str] = &["<GS>", "{GS}", "\\x1d", "\\x1D", "^"];

/// GS1 symbologies, by the symbology identifier (ISO/IEC 15424) that a
/// scanner prefixes to their data to announce GS1 AI data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Symbology {
    /// GS1-128, `]C1`.
    Gs1_128,
    /// GS1 DataMatrix, `]d2`.
    Gs1DataMatrix,
    /// GS1 QR Code, `]Q3`.
    Gs1Qr,
    /// GS1 DataBar, `]e0`.
    Gs1DataBar,
    /// GS1 DotCode, `]J1`.
    Gs1DotCode,
}

impl Symbology {
    /// Every GS1 symbology.
    pub const ALL: [Symbology; 5] = [
        Symbology::Gs1_128,
        Symbology::Gs1DataMatrix,
        Symbology::Gs1Qr,
        Symbology::Gs1DataBar,
        Symbology::Gs1DotCode,
    ];

    /// The symbology identifier, e.g. `]d2`.
    pub fn identifier(self) -> &'static str {
        match self {
            Symbology::Gs1_128 => "]C1",
            Symbology::Gs1DataMatrix => "]d2",
            Symbology::Gs1Qr => "]Q3",
            Symbology::Gs1DataBar => "]e0",
            Symbology::Gs1DotCode => "]J1",
        }
    }

    /// Splits a leading symbology identifier off scanned data. Data without
    /// one is returned whole; an identifier of a non-GS1 mode is an error.
    pub fn split(data: &str) -> Result<(Option<Symbology>, &str), Gs1Error> {
        if !data.starts_with(']') {
            return Ok((None, data));
        }
        Symbology::ALL
            .iter()
            .find_map(|s| {
                data.strip_prefix(s.identifier())
                    .map(|rest| (Some(*s), rest))
            })
            .ok_or_else(|| Gs1Error::UnsupportedSymbology {
                identifier: data.chars().take(3).collect(),
            })
    }
}

/// Escapes `(` in a value for the bracketed form (`\(`), as GS1's syntax engine does.
pub fn escape_bracketed(value: &str) -> String {
    value.replace('(', "\\(")
}

impl Gs1Data {
    /// Parses an element string: optionally a GS1 symbology identifier, then
    /// AIs and values, where a predefined-length AI (flag `*` in the
    /// dictionary) takes its fixed length and any other AI's value ends at GS
    /// or at the end of the data. GS substitutes are accepted (module docs);
    /// one leading FNC1 is ignored.
    pub fn parse_element_string(input: &str) -> Result<Self, Gs1Error> {
        let (_, rest) = Symbology::split(input)?;
        let normalised = GS_SUBSTITUTES
            .iter()
            .fold(rest.to_owned(), |s, sub| s.replace(sub, "\u{1d}"));
        let mut rest = normalised.strip_prefix(GS).unwrap_or(&normalised);
        if rest.is_empty() {
            return Err(Gs1Error::Empty);
        }
        let mut data = Gs1Data::new();
        while !rest.is_empty() {
            let (code, entry) = ai::lookup_prefix(rest).ok_or_else(|| Gs1Error::NoAiAt {
                found: rest.chars().take(8).collect(),
            })?;
            let after = &rest[code.len()..];
            let (value, next) = match entry.fixed_length() {
                Some(n) => {
                    let end = after.char_indices().nth(n).map_or(after.len(), |(i, _)| i);
                    let (value, next) = after.split_at(end);
                    (value, next.strip_prefix(GS).unwrap_or(next))
                }
                None => {
                    let (value, next) = after.split_once(GS).unwrap_or((after, ""));
                    let (actual, max) = (value.chars().count(), entry.length_bounds().1);
                    if actual > max {
                        return Err(Gs1Error::MissingSeparator {
                            ai: code.to_owned(),
                            max,
                            actual,
                        });
                    }
                    (value, next)
                }
            };
            data.push(code, value)?;
            rest = next;
        }
        Ok(data)
    }

    /// Parses the bracketed form, e.g. `(01)09506000134352(10)AB\(1`, where
    /// `\(` stands for a `(` inside a value.
    pub fn parse_bracketed(input: &str) -> Result<Self, Gs1Error> {
        if input.is_empty() {
            return Err(Gs1Error::Empty);
        }
        let mut data = Gs1Data::new();
        let mut rest = input;
        while !rest.is_empty() {
            let open = rest.strip_prefix('(').ok_or(Gs1Error::NotBracketed)?;
            let (code, after) = open.split_once(')').ok_or(Gs1Error::UnclosedAi)?;
            if !(2..=4).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Gs1Error::MalformedAi {
                    found: code.to_owned(),
                });
            }
            let mut value = String::new();
            let mut chars = after.char_indices().peekable();
            rest = "";
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' if chars.peek().is_some_and(|(_, n)| *n == '(') => {
                        value.push('(');
                        chars.next();
                    }
                    '(' => {
                        rest = &after[i..];
                        break;
                    }
                    c => value.push(c),
                }
            }
            data.push(code, &value)?;
        }
        Ok(data)
    }

    /// The element string with GS separators after variable-length values
    /// (no symbology identifier, no leading FNC1).
    pub fn to_element_string(&self) -> String {
        let mut out = String::new();
        let mut separate = false;
        for element in self.elements() {
            if separate {
                out.push(GS);
            }
            out.push_str(element.ai());
            out.push_str(element.value());
            separate = element.needs_separator();
        }
        out
    }

    /// The data as a scanner transmits it: symbology identifier, then the element string.
    pub fn to_scan_data(&self, symbology: Symbology) -> String {
        format!("{}{}", symbology.identifier(), self.to_element_string())
    }

    /// The notation of GS1's test vectors: `^` for the leading FNC1 and for
    /// each GS separator, e.g. `^010950600013435210ABC^21XYZ`.
    pub fn to_caret_notation(&self) -> String {
        format!("^{}", self.to_element_string().replace(GS, "^"))
    }

    /// The bracketed human-readable form, e.g. `(01)09506000134352(10)ABC`.
    pub fn to_bracketed(&self) -> String {
        self.elements()
            .iter()
            .map(|e| format!("({}){}", e.ai(), escape_bracketed(e.value())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED: &str = "^01095060001343521725123110LOT1^21SER1";

    #[test]
    fn fixed_length_ais_need_no_separator() {
        let data = Gs1Data::parse_element_string("01095060001343521725123110LOT1\u{1d}21SER1")
            .expect("parses");
        let pairs: Vec<(&str, &str)> = data
            .elements()
            .iter()
            .map(|e| (e.ai(), e.value()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("01", "09506000134352"),
                ("17", "251231"),
                ("10", "LOT1"),
                ("21", "SER1")
            ]
        );
        assert_eq!(data.to_caret_notation(), EXPECTED);
        assert_eq!(
            data.to_element_string(),
            "01095060001343521725123110LOT1\u{1d}21SER1"
        );
    }

    #[test]
    fn scanner_gs_substitutes() {
        for gs in ["\u{1d}", "<GS>", "{GS}", "\\x1d", "\\x1D", "^"] {
            let input = format!("01095060001343521725123110LOT1{gs}21SER1");
            let data = Gs1Data::parse_element_string(&input).expect(gs);
            assert_eq!(data.to_caret_notation(), EXPECTED, "substitute {gs:?}");
        }
        let leading = Gs1Data::parse_element_string("^01095060001343521725123110LOT1^21SER1")
            .expect("leading FNC1");
        assert_eq!(leading.to_caret_notation(), EXPECTED);
    }

    #[test]
    fn symbology_identifiers() {
        for sym in Symbology::ALL {
            let input = format!(
                "{}01095060001343521725123110LOT1\u{1d}21SER1",
                sym.identifier()
            );
            let data = Gs1Data::parse_element_string(&input);
            let data = data.unwrap_or_else(|e| panic!("{}: {e}", sym.identifier()));
            assert_eq!(data.to_caret_notation(), EXPECTED);
            assert_eq!(data.to_scan_data(sym), input);
        }
        assert_eq!(
            Gs1Data::parse_element_string("]d1010950600013435210X"),
            Err(Gs1Error::UnsupportedSymbology {
                identifier: "]d1".into()
            })
        );
    }

    #[test]
    fn missing_separator_is_named() {
        assert_eq!(
            Gs1Data::parse_element_string("10ABCDEFGHIJKLMNOPQRSTU21X"),
            Err(Gs1Error::MissingSeparator {
                ai: "10".into(),
                max: 20,
                actual: 24
            })
        );
    }

    #[test]
    fn element_string_rejections() {
        assert_eq!(Gs1Data::parse_element_string("]d2"), Err(Gs1Error::Empty));
        assert!(matches!(
            Gs1Data::parse_element_string("0109506000134352\u{1d}\u{1d}10A"),
            Err(Gs1Error::NoAiAt { .. })
        ));
        assert!(matches!(
            Gs1Data::parse_element_string("01095060001343"),
            Err(Gs1Error::TooShort { .. })
        ));
        assert!(matches!(
            Gs1Data::parse_element_string("0109506000134353"),
            Err(Gs1Error::BadCheckDigit { .. })
        ));
    }

    #[test]
    fn bracketed_escapes_round_trip() {
        let data = Gs1Data::parse_bracketed("(10)AB\\(C(21)X").expect("parses");
        assert_eq!(data.value("10"), Some("AB(C"));
        assert_eq!(data.to_bracketed(), "(10)AB\\(C(21)X");
        assert_eq!(
            Gs1Data::parse_bracketed("(10)A(1"),
            Err(Gs1Error::UnclosedAi)
        );
        assert_eq!(
            Gs1Data::parse_bracketed("10)A"),
            Err(Gs1Error::NotBracketed)
        );
    }
}
