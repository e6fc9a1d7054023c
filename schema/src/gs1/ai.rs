//! The GS1 Application Identifier dictionary, read from GS1's machine-readable
//! *Barcode Syntax Dictionary* (`data/gs1-syntax-dictionary.txt`, Apache-2.0).
//!
//! Every AI that Pedigree accepts comes from this table: its character sets and
//! lengths (GS1 General Specifications §3), whether it is a predefined-length AI
//! that needs no FNC1 separator (GenSpecs §7.8.5, Figure 7.8.5-2), whether it may
//! be a GS1 Digital Link data attribute, its Digital Link primary-key qualifier
//! sequences (GS1 Digital Link Standard: URI Syntax), its mandatory (`req`) and invalid
//! (`ex`) pairings (GenSpecs §4.14), and the "linters" that check its content.
//!
//! Linters checked here: `csum` (GenSpecs §7.9.1 mod-10), the date and time
//! linters `yymmd0`, `yymmdd`, `yyyymmd0`, `yyyymmdd`, `hh`, `hhmi`, `mi`, `ss`,
//! and `zero`, `nonzero`, `yesno`, `hyphen`, `nozeroprefix`, `pieceoftotal`,
//! `posinseqslash`, `hasnondigit`, `pcenc`, `latitude`, `longitude`, `winding`,
//! `iso5218`; the character sets N, X (CSET 82), Y (CSET 39) and Z (CSET 64) are
//! always checked. Linters that need external code lists (GS1 Company Prefix
//! ranges, ISO 3166 / ISO 4217 lists, IBAN, package types, coupon structures,
//! alphanumeric check-character pairs) are recognised but **not checked**; see
//! [`Linter::NotChecked`]. None of them affects the pharma AIs (01), (10), (17),
//! (21) or (71x).

use std::sync::OnceLock;

use crate::gs1::Gs1Error;

/// The embedded GS1 Barcode Syntax Dictionary.
const DICTIONARY: &str = include_str!("../../data/gs1-syntax-dictionary.txt");

/// Linter names of the dictionary that this module recognises but cannot check
/// without external reference lists.
const NOT_CHECKED: &[&str] = &[
    "gcppos1",
    "gcppos2",
    "csumalpha",
    "iso3166",
    "iso3166999",
    "iso3166alpha2",
    "iso4217",
    "iban",
    "importeridx",
    "mediatype",
    "packagetype",
    "couponcode",
    "couponposoffer",
];

/// A character set an AI component is drawn from (GenSpecs §7.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Charset {
    /// `N`: digits 0–9.
    Numeric,
    /// `X`: GS1 AI encodable character set 82 (GenSpecs Figure 7.11-1).
    Cset82,
    /// `Y`: GS1 AI encodable character set 39 (GenSpecs Figure 7.11-2).
    Cset39,
    /// `Z`: GS1 AI encodable character set 64, URI-safe base64 (GenSpecs Figure 7.11-3).
    Cset64,
}

impl Charset {
    /// Whether `c` belongs to the set (CSET 64 padding `=` is handled by the caller).
    pub fn contains(self, c: char) -> bool {
        match self {
            Charset::Numeric => c.is_ascii_digit(),
            Charset::Cset82 => c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c),
            Charset::Cset39 => c.is_ascii_digit() || c.is_ascii_uppercase() || "#-/".contains(c),
            Charset::Cset64 => c.is_ascii_alphanumeric() || c == '-' || c == '_',
        }
    }

    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Numeric => "digits (N)",
            Charset::Cset82 => "GS1 character set 82 (X)",
            Charset::Cset39 => "GS1 character set 39 (Y)",
            Charset::Cset64 => "GS1 character set 64 (Z)",
        }
    }
}

impl std::fmt::Display for Charset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A content check named in the dictionary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Linter {
    /// `csum`: the last digit is the GS1 mod-10 check digit (GenSpecs §7.9.1).
    CheckDigit,
    /// `yymmd0`: a date YYMMDD whose day may be `00` (end of month, GenSpecs §3.4.7).
    Yymmd0,
    /// `yymmdd`: a date YYMMDD.
    Yymmdd,
    /// `yyyymmd0`: a date YYYYMMDD whose day may be `00`.
    Yyyymmd0,
    /// `yyyymmdd`: a date YYYYMMDD.
    Yyyymmdd,
    /// `hh`: an hour 00–23.
    Hh,
    /// `hhmi`: a time HHMI.
    Hhmi,
    /// `mi`: minutes 00–59.
    Mi,
    /// `ss`: seconds 00–59.
    Ss,
    /// `zero`: the digit 0.
    Zero,
    /// `nonzero`: not all zeros.
    NonZero,
    /// `yesno`: 0 or 1.
    YesNo,
    /// `hyphen`: the character `-`.
    Hyphen,
    /// `nozeroprefix`: no leading zero unless the value is `0`.
    NoZeroPrefix,
    /// `pieceoftotal`: NNMM, piece NN of total MM, 1 ≤ NN ≤ MM.
    PieceOfTotal,
    /// `posinseqslash`: `pos/end` with 1 ≤ pos ≤ end, no zero prefixes.
    PosInSeqSlash,
    /// `hasnondigit`: at least one character that is not a digit.
    HasNonDigit,
    /// `pcenc`: every `%` starts a valid percent-escape.
    PercentEncoding,
    /// `latitude`: 10 digits, at most 1800000000.
    Latitude,
    /// `longitude`: 10 digits, at most 3600000000.
    Longitude,
    /// `winding`: 0, 1 or 9.
    Winding,
    /// `iso5218`: sex code 0, 1, 2 or 9.
    Iso5218,
    /// A linter that needs an external reference list and is not checked (see the module docs).
    NotChecked(&'static str),
}

impl Linter {
    fn from_name(name: &str) -> Option<Linter> {
        Some(match name {
            "csum" => Linter::CheckDigit,
            "yymmd0" => Linter::Yymmd0,
            "yymmdd" => Linter::Yymmdd,
            "yyyymmd0" => Linter::Yyyymmd0,
            "yyyymmdd" => Linter::Yyyymmdd,
            "hh" => Linter::Hh,
            "hhmi" => Linter::Hhmi,
            "mi" => Linter::Mi,
            "ss" => Linter::Ss,
            "zero" => Linter::Zero,
            "nonzero" => Linter::NonZero,
            "yesno" => Linter::YesNo,
            "hyphen" => Linter::Hyphen,
            "nozeroprefix" => Linter::NoZeroPrefix,
            "pieceoftotal" => Linter::PieceOfTotal,
            "posinseqslash" => Linter::PosInSeqSlash,
            "hasnondigit" => Linter::HasNonDigit,
            "pcenc" => Linter::PercentEncoding,
            "latitude" => Linter::Latitude,
            "longitude" => Linter::Longitude,
            "winding" => Linter::Winding,
            "iso5218" => Linter::Iso5218,
            other => Linter::NotChecked(NOT_CHECKED.iter().find(|n| **n == other)?),
        })
    }

    /// The dictionary's name of this linter.
    pub fn name(&self) -> &'static str {
        match self {
            Linter::CheckDigit => "csum",
            Linter::Yymmd0 => "yymmd0",
            Linter::Yymmdd => "yymmdd",
            Linter::Yyyymmd0 => "yyyymmd0",
            Linter::Yyyymmdd => "yyyymmdd",
            Linter::Hh => "hh",
            Linter::Hhmi => "hhmi",
            Linter::Mi => "mi",
            Linter::Ss => "ss",
            Linter::Zero => "zero",
            Linter::NonZero => "nonzero",
            Linter::YesNo => "yesno",
            Linter::Hyphen => "hyphen",
            Linter::NoZeroPrefix => "nozeroprefix",
            Linter::PieceOfTotal => "pieceoftotal",
            Linter::PosInSeqSlash => "posinseqslash",
            Linter::HasNonDigit => "hasnondigit",
            Linter::PercentEncoding => "pcenc",
            Linter::Latitude => "latitude",
            Linter::Longitude => "longitude",
            Linter::Winding => "winding",
            Linter::Iso5218 => "iso5218",
            Linter::NotChecked(name) => name,
        }
    }

    /// Checks one component (already known to be within its character set).
    fn check(&self, ai: &str, part: &str) -> Result<(), Gs1Error> {
        let fail = |reason: &str| Gs1Error::LinterFailed {
            ai: ai.to_owned(),
            linter: self.name(),
            value: part.to_owned(),
            reason: reason.to_owned(),
        };
        let date = |reason: String| Gs1Error::ImpossibleDate {
            ai: ai.to_owned(),
            value: part.to_owned(),
            reason,
        };
        match self {
            Linter::CheckDigit => check_digit_of(ai, part),
            Linter::Yymmd0 => check_yymmdd(part, true).map_err(date),
            Linter::Yymmdd => check_yymmdd(part, false).map_err(date),
            Linter::Yyyymmd0 => check_yyyymmdd(part, true).map_err(date),
            Linter::Yyyymmdd => check_yyyymmdd(part, false).map_err(date),
            Linter::Hh => in_range(part, 0, 23).ok_or_else(|| fail("hour is not 00-23")),
            Linter::Mi => in_range(part, 0, 59).ok_or_else(|| fail("minute is not 00-59")),
            Linter::Ss => in_range(part, 0, 59).ok_or_else(|| fail("second is not 00-59")),
            Linter::Hhmi => match (part.get(..2), part.get(2..)) {
                (Some(h), Some(m)) if in_range(h, 0, 23).is_some() => {
                    in_range(m, 0, 59).ok_or_else(|| fail("minute is not 00-59"))
                }
                _ => Err(fail("hour is not 00-23")),
            },
            Linter::Zero => (part == "0").then_some(()).ok_or_else(|| fail("must be 0")),
            Linter::NonZero => part
                .bytes()
                .any(|b| b != b'0')
                .then_some(())
                .ok_or_else(|| fail("must not be zero")),
            Linter::YesNo => matches!(part, "0" | "1")
                .then_some(())
                .ok_or_else(|| fail("must be 0 (no) or 1 (yes)")),
            Linter::Hyphen => (part == "-")
                .then_some(())
                .ok_or_else(|| fail("must be '-'")),
            Linter::NoZeroPrefix => (part == "0" || !part.starts_with('0'))
                .then_some(())
                .ok_or_else(|| fail("must not start with 0")),
            Linter::PieceOfTotal => match (number(part.get(..2)), number(part.get(2..))) {
                (Some(piece), Some(total)) if piece >= 1 && piece <= total => Ok(()),
                _ => Err(fail("piece number must be 1 to the total count")),
            },
            Linter::PosInSeqSlash => check_position_in_sequence(part)
                .then_some(())
                .ok_or_else(|| fail("must be <pos>/<end> with 1 <= pos <= end, no leading zeros")),
            Linter::HasNonDigit => part
                .bytes()
                .any(|b| !b.is_ascii_digit())
                .then_some(())
                .ok_or_else(|| fail("must contain a character that is not a digit")),
            Linter::PercentEncoding => percent_escapes_valid(part)
                .then_some(())
                .ok_or_else(|| fail("'%' must be followed by two hexadecimal digits")),
            Linter::Latitude => {
                in_range(part, 0, 1_800_000_000).ok_or_else(|| fail("latitude exceeds 1800000000"))
            }
            Linter::Longitude => {
                in_range(part, 0, 3_600_000_000).ok_or_else(|| fail("longitude exceeds 3600000000"))
            }
            Linter::Winding => matches!(part, "0" | "1" | "9")
                .then_some(())
                .ok_or_else(|| fail("winding direction must be 0, 1 or 9")),
            Linter::Iso5218 => matches!(part, "0" | "1" | "2" | "9")
                .then_some(())
                .ok_or_else(|| fail("ISO/IEC 5218 sex code must be 0, 1, 2 or 9")),
            Linter::NotChecked(_) => Ok(()),
        }
    }
}

/// One component of an AI's data field, e.g. `N13,csum` or `[X..17]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// The character set.
    pub charset: Charset,
    /// Minimum length (equal to `max` for a fixed-length component).
    pub min: usize,
    /// Maximum length.
    pub max: usize,
    /// Whether the component is optional (`[...]`).
    pub optional: bool,
    /// Content checks applied to this component.
    pub linters: Vec<Linter>,
}

/// One dictionary entry: a solitary AI or a range of AIs sharing a definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AiEntry {
    /// First AI of the range (the AI itself for a solitary AI).
    pub first: String,
    /// Last AI of the range (the AI itself for a solitary AI).
    pub last: String,
    /// Flag `*`: predefined length, no FNC1 separator needed after it.
    pub predefined_length: bool,
    /// Flag `?`: permitted as a GS1 Digital Link data attribute.
    pub dl_data_attribute: bool,
    /// The data field's components, applied in order.
    pub components: Vec<Component>,
    /// `req=` attributes: each must be satisfied by one of its alternative AI groups.
    pub requires: Vec<Vec<Vec<String>>>,
    /// `ex=` attributes: AI patterns (`n` = any digit) that must not occur with this AI.
    pub excludes: Vec<String>,
    /// `dlpkey`: `Some` if this AI is a Digital Link primary key, holding its
    /// alternative ordered qualifier sequences (one empty sequence for a bare `dlpkey`).
    pub dl_primary_key: Option<Vec<Vec<String>>>,
    /// The short title.
    pub title: String,
}

impl AiEntry {
    /// Whether this entry defines `ai`.
    pub fn covers(&self, ai: &str) -> bool {
        ai.len() == self.first.len()
            && ai.bytes().all(|b| b.is_ascii_digit())
            && self.first.as_str() <= ai
            && ai <= self.last.as_str()
    }

    /// The value length of a predefined-length AI (sum of its fixed components).
    pub fn fixed_length(&self) -> Option<usize> {
        self.predefined_length
            .then(|| self.components.iter().map(|c| c.max).sum())
    }

    /// Minimum and maximum value length.
    pub fn length_bounds(&self) -> (usize, usize) {
        let min = self
            .components
            .iter()
            .filter(|c| !c.optional)
            .map(|c| c.min)
            .sum();
        (min, self.components.iter().map(|c| c.max).sum())
    }
}

/// Why the dictionary text could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DictionaryError {
    /// A line did not follow the dictionary syntax.
    #[error("dictionary line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Parses the text of a GS1 Barcode Syntax Dictionary.
pub fn parse_dictionary(text: &str) -> Result<Vec<AiEntry>, DictionaryError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            parse_entry(l).map_err(|reason| DictionaryError::BadLine {
                line: i + 1,
                reason,
            })
        })
        .collect()
}

fn parse_entry(line: &str) -> Result<AiEntry, String> {
    let (spec, title) = line.split_once('#').unwrap_or((line, ""));
    let mut tokens = spec.split_whitespace().peekable();
    let ais = tokens.next().ok_or("no AI")?;
    let (first, last) = ais.split_once('-').unwrap_or((ais, ais));
    let valid_ai = |a: &str| (2..=4).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_digit());
    if !valid_ai(first) || !valid_ai(last) || first.len() != last.len() || first > last {
        return Err(format!("bad AI or AI range {ais:?}"));
    }
    let flags = match tokens.peek() {
        Some(t)
            if t.chars()
                .all(|c| "*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~".contains(c)) =>
        {
            tokens.next().unwrap_or_default()
        }
        _ => "",
    };
    let mut entry = AiEntry {
        first: first.to_owned(),
        last: last.to_owned(),
        predefined_length: flags.contains('*'),
        dl_data_attribute: flags.contains('?'),
        components: Vec::new(),
        requires: Vec::new(),
        excludes: Vec::new(),
        dl_primary_key: None,
        title: title.trim().to_owned(),
    };
    for token in tokens {
        if let Some(list) = token.strip_prefix("req=") {
            entry.requires.push(
                list.split(',')
                    .map(|g| g.split('+').map(str::to_owned).collect())
                    .collect(),
            );
        } else if let Some(list) = token.strip_prefix("ex=") {
            entry.excludes.extend(list.split(',').map(str::to_owned));
        } else if token == "dlpkey" {
            entry.dl_primary_key = Some(vec![Vec::new()]);
        } else if let Some(list) = token.strip_prefix("dlpkey=") {
            entry.dl_primary_key = Some(
                list.split('|')
                    .map(|seq| seq.split(',').map(str::to_owned).collect())
                    .collect(),
            );
        } else if token.contains('=') {
            return Err(format!("unknown attribute {token:?}"));
        } else {
            entry.components.push(parse_component(token)?);
        }
    }
    if entry.components.is_empty() {
        return Err("no data components".into());
    }
    if entry.predefined_length
        && entry
            .components
            .iter()
            .any(|c| c.min != c.max || c.optional)
    {
        return Err("a predefined-length AI must have only fixed, mandatory components".into());
    }
    Ok(entry)
}

fn parse_component(token: &str) -> Result<Component, String> {
    let mut parts = token.split(',');
    let ty = parts.next().unwrap_or_default();
    let (optional, ty) = match ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) => (true, inner),
        None => (false, ty),
    };
    let mut chars = ty.chars();
    let charset = match chars.next() {
        Some('N') => Charset::Numeric,
        Some('X') => Charset::Cset82,
        Some('Y') => Charset::Cset39,
        Some('Z') => Charset::Cset64,
        _ => return Err(format!("bad component type in {token:?}")),
    };
    let len = chars.as_str();
    let (min, max) = match len.strip_prefix("..") {
        Some(max) => (1, max),
        None => (0, len),
    };
    let max: usize = max
        .parse()
        .map_err(|_| format!("bad component length in {token:?}"))?;
    let linters = parts
        .map(|name| Linter::from_name(name).ok_or_else(|| format!("unknown linter {name:?}")))
        .collect::<Result<_, _>>()?;
    Ok(Component {
        charset,
        min: if min == 0 { max } else { min },
        max,
        optional,
        linters,
    })
}

/// The embedded dictionary's entries, parsed once.
///
/// Fails closed: were the embedded text unparsable, the table would be empty
/// and every AI rejected. The unit test `embedded_dictionary_parses_completely`
/// proves that it parses.
pub fn table() -> &'static [AiEntry] {
    static TABLE: OnceLock<Vec<AiEntry>> = OnceLock::new();
    TABLE.get_or_init(|| parse_dictionary(DICTIONARY).unwrap_or_default())
}

/// The dictionary entry defining `ai` (exact AI, e.g. `"3103"`).
pub fn lookup(ai: &str) -> Option<&'static AiEntry> {
    table().iter().find(|e| e.covers(ai))
}

/// The entry for `ai`, or [`Gs1Error::UnknownAi`].
pub fn entry(ai: &str) -> Result<&'static AiEntry, Gs1Error> {
    lookup(ai).ok_or_else(|| Gs1Error::UnknownAi { ai: ai.to_owned() })
}

/// Finds the AI at the start of unbracketed data. GS1 AIs are prefix-free
/// by design of the AI table, so at most one of the 2-, 3- and 4-digit prefixes is an AI.
pub fn lookup_prefix(data: &str) -> Option<(&str, &'static AiEntry)> {
    (2..=4).find_map(|n| {
        let ai = data.get(..n)?;
        lookup(ai).map(|e| (ai, e))
    })
}

/// Validates `value` as the data field of `ai`: its length, character sets and
/// every checked linter, component by component (syntax dictionary rules: each
/// component consumes its prescribed length; optional components may be absent
/// once the data is exhausted).
pub fn validate_value(ai: &str, value: &str) -> Result<(), Gs1Error> {
    let entry = entry(ai)?;
    if value.is_empty() {
        return Err(Gs1Error::EmptyValue { ai: ai.to_owned() });
    }
    let chars: Vec<char> = value.chars().collect();
    let (min, max) = entry.length_bounds();
    let mut pos = 0;
    for component in &entry.components {
        let remaining = chars.len() - pos;
        if remaining == 0 && component.optional {
            break;
        }
        if remaining < component.min {
            return Err(Gs1Error::TooShort {
                ai: ai.to_owned(),
                min,
                actual: chars.len(),
            });
        }
        let take = remaining.min(component.max);
        let part = &chars[pos..pos + take];
        check_charset(ai, part, component.charset, pos)?;
        let part: String = part.iter().collect();
        for linter in &component.linters {
            linter.check(ai, &part)?;
        }
        pos += take;
    }
    if pos < chars.len() {
        return Err(Gs1Error::TooLong {
            ai: ai.to_owned(),
            max,
            actual: chars.len(),
        });
    }
    Ok(())
}

/// Checks that every character of `part` (starting at character `offset` of
/// the value) is in `charset`; CSET 64 allows `=` padding at the end.
pub(crate) fn check_charset(
    ai: &str,
    part: &[char],
    charset: Charset,
    offset: usize,
) -> Result<(), Gs1Error> {
    let body = match charset {
        Charset::Cset64 => cset64_body(part),
        _ => part,
    };
    match body
        .iter()
        .enumerate()
        .find(|(_, c)| !charset.contains(**c))
    {
        Some((i, c)) => Err(Gs1Error::InvalidCharacter {
            ai: ai.to_owned(),
            character: *c,
            position: offset + i + 1,
            charset,
        }),
        None => Ok(()),
    }
}

/// The part of a CSET 64 component before valid `=` padding (at most two pads,
/// and only if they complete a multiple of three characters).
fn cset64_body(part: &[char]) -> &[char] {
    let pads = part.iter().rev().take_while(|c| **c == '=').count();
    if (1..=2).contains(&pads) && part.len().is_multiple_of(3) {
        &part[..part.len() - pads]
    } else {
        part
    }
}

/// The GS1 mod-10 check digit for `body` (digits only; GenSpecs §7.9.1:
/// weights 3, 1, 3, … from the rightmost digit of the body). `None` if `body`
/// contains a non-digit.
pub fn check_digit(body: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, b) in body.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        sum = (sum + u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 }) % 10;
    }
    char::from_digit((10 - sum % 10) % 10, 10)
}

/// Checks that the last digit of `digits` is the check digit of the rest.
pub(crate) fn check_digit_of(ai: &str, digits: &str) -> Result<(), Gs1Error> {
    let split = digits.len().saturating_sub(1);
    let (body, found) = (digits.get(..split), digits.get(split..));
    let expected = body.and_then(check_digit);
    match (expected, found.and_then(|f| f.chars().next())) {
        (Some(expected), Some(found)) if expected == found => Ok(()),
        (Some(expected), Some(found)) => Err(Gs1Error::BadCheckDigit {
            ai: ai.to_owned(),
            expected,
            found,
        }),
        _ => Err(Gs1Error::TooShort {
            ai: ai.to_owned(),
            min: 2,
            actual: digits.len(),
        }),
    }
}

fn number(s: Option<&str>) -> Option<u64> {
    s.filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()
}

fn in_range(s: &str, lo: u64, hi: u64) -> Option<()> {
    number(Some(s))
        .filter(|n| (lo..=hi).contains(n))
        .map(|_| ())
}

/// Days in `month` of a year that is a leap year iff `leap`.
pub(crate) fn days_in_month(month: u32, leap: bool) -> u32 {
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn check_date(
    month: Option<u64>,
    day: Option<u64>,
    leap: bool,
    day_zero: bool,
) -> Result<(), String> {
    let (Some(month), Some(day)) = (month, day) else {
        return Err("not all digits".into());
    };
    let Some(month) = u32::try_from(month).ok().filter(|m| (1..=12).contains(m)) else {
        return Err(format!("month {month:02} is not 01-12"));
    };
    let last = days_in_month(month, leap);
    if (day == 0 && !day_zero) || day > u64::from(last) {
        let allowed = if day_zero { "00" } else { "01" };
        return Err(format!(
            "day {day:02} is not {allowed}-{last} in month {month:02}"
        ));
    }
    Ok(())
}

/// Checks a YYMMDD date. The year's leap status is taken as YY divisible by 4,
/// as in the GS1 reference linters (the century is not known here).
pub(crate) fn check_yymmdd(part: &str, day_zero: bool) -> Result<(), String> {
    let yy = number(part.get(..2)).ok_or("year is not two digits")?;
    check_date(
        number(part.get(2..4)),
        number(part.get(4..6)),
        yy % 4 == 0,
        day_zero,
    )
}

fn check_yyyymmdd(part: &str, day_zero: bool) -> Result<(), String> {
    let y = number(part.get(..4)).ok_or("year is not four digits")?;
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    check_date(
        number(part.get(4..6)),
        number(part.get(6..8)),
        leap,
        day_zero,
    )
}

fn check_position_in_sequence(part: &str) -> bool {
    let Some((pos, end)) = part.split_once('/') else {
        return false;
    };
    let well_formed = |s: &str| !s.starts_with('0') && number(Some(s)).is_some();
    well_formed(pos) && well_formed(end) && number(Some(pos)) <= number(Some(end))
}

fn percent_escapes_valid(part: &str) -> bool {
    let b = part.as_bytes();
    b.iter().enumerate().all(|(i, c)| {
        *c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_dictionary_parses_completely() {
        let entries = parse_dictionary(DICTIONARY).expect("dictionary parses");
        let lines = DICTIONARY
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(entries.len(), lines);
        assert_eq!(table().len(), lines);
    }

    #[test]
    fn dictionary_entries_carry_flags_specs_and_attributes() {
        let gtin = lookup("01").expect("01");
        assert!(gtin.predefined_length && gtin.dl_data_attribute);
        assert_eq!(gtin.fixed_length(), Some(14));
        assert_eq!(gtin.components[0].linters[0], Linter::CheckDigit);
        assert_eq!(
            gtin.dl_primary_key,
            Some(vec![
                vec!["22".to_owned(), "10".to_owned(), "21".to_owned()],
                vec!["235".to_owned()]
            ])
        );
        assert_eq!(gtin.title, "GTIN");
        let serial = lookup("21").expect("21");
        assert!(!serial.predefined_length && !serial.dl_data_attribute);
        assert_eq!(serial.length_bounds(), (1, 20));
        assert_eq!(serial.excludes, vec!["235".to_owned()]);
        let net_weight = lookup("3103").expect("3103 in range 3100-3105");
        assert_eq!(net_weight.first, "3100");
        assert!(lookup("3106").is_none());
        let gdti = lookup("253").expect("253");
        assert!(gdti.components[1].optional);
        assert_eq!(gdti.length_bounds(), (13, 30));
    }

    #[test]
    fn ais_are_prefix_free() {
        for entry in table() {
            for ai in [&entry.first, &entry.last] {
                for n in 2..ai.len() {
                    assert!(
                        lookup(&ai[..n]).is_none(),
                        "{} is a prefix of {ai}",
                        &ai[..n]
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_linter_or_attribute_is_rejected() {
        assert!(parse_dictionary("01 * N14,bogus # X").is_err());
        assert!(parse_dictionary("01 * N14 foo=1 # X").is_err());
        assert!(parse_dictionary("01 * N..14 # X").is_err());
    }

    #[test]
    fn check_digits() {
        assert_eq!(check_digit("0950600013435"), Some('2'));
        assert_eq!(check_digit("1231231231233"), Some('3'));
        assert_eq!(check_digit("12A"), None);
        assert_eq!(validate_value("01", "09506000134352"), Ok(()));
        assert_eq!(
            validate_value("01", "09506000134353"),
            Err(Gs1Error::BadCheckDigit {
                ai: "01".into(),
                expected: '2',
                found: '3'
            })
        );
    }

    #[test]
    fn date_linters() {
        assert!(
            validate_value("17", "250200").is_ok(),
            "day 00 allowed in (17)"
        );
        assert!(
            validate_value("7006", "250200").is_err(),
            "day 00 not allowed by yymmdd"
        );
        assert!(validate_value("17", "240229").is_ok());
        assert!(matches!(
            validate_value("17", "250229"),
            Err(Gs1Error::ImpossibleDate { .. })
        ));
        assert!(validate_value("17", "251301").is_err());
        assert!(validate_value("7250", "20000229").is_ok());
        assert!(validate_value("7250", "19000229").is_err());
    }

    #[test]
    fn character_sets() {
        assert_eq!(
            validate_value("10", "AB^C"),
            Err(Gs1Error::InvalidCharacter {
                ai: "10".into(),
                character: '^',
                position: 3,
                charset: Charset::Cset82
            })
        );
        assert!(validate_value("8010", "ABC-/#123").is_ok());
        assert!(
            validate_value("8010", "abc").is_err(),
            "CSET 39 has no lower case"
        );
        assert!(validate_value("8030", "ab_-c=").is_ok());
        assert!(validate_value("8030", "abc=").is_err(), "bad padding");
        assert!(validate_value("8030", "a+b").is_err());
    }

    #[test]
    fn lengths_and_optional_components() {
        assert!(validate_value("253", "1231231231232").is_ok());
        assert!(validate_value("253", "1231231231232TEST5678901234567").is_ok());
        assert_eq!(
            validate_value("253", "1231231231232TEST56789012345678"),
            Err(Gs1Error::TooLong {
                ai: "253".into(),
                max: 30,
                actual: 31
            })
        );
        assert_eq!(
            validate_value("17", "9"),
            Err(Gs1Error::TooShort {
                ai: "17".into(),
                min: 6,
                actual: 1
            })
        );
        assert_eq!(
            validate_value("10", ""),
            Err(Gs1Error::EmptyValue { ai: "10".into() })
        );
        assert_eq!(
            validate_value("89", "X"),
            Err(Gs1Error::UnknownAi { ai: "89".into() })
        );
    }

    #[test]
    fn other_linters() {
        assert!(validate_value("8006", "123123123123330102").is_ok());
        assert!(validate_value("8006", "123123123123330302").is_err());
        assert!(validate_value("7258", "1/3").is_ok());
        assert!(validate_value("7258", "4/3").is_err());
        assert!(validate_value("8011", "0").is_ok());
        assert!(validate_value("8011", "01").is_err());
        assert!(validate_value("4300", "A%20B").is_ok());
        assert!(validate_value("4300", "A%2").is_err());
        assert!(validate_value("4324", "2501012359").is_ok());
        assert!(validate_value("4324", "2501012460").is_err());
    }
}
