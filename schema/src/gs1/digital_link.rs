//! GS1 Digital Link URIs (GS1 Digital Link Standard: URI Syntax):
//! `https://<host>[/<prefix>]/<key AI>/<key>[/<qualifier AI>/<value>…][?<AI>=<value>&…]`.
//!
//! Parsing follows GS1's reference syntax engine: the path is searched from its
//! end for the rightmost `/AI/value` pair whose AI is a primary key (`dlpkey` in
//! the dictionary); everything before it is the stem. The key qualifiers that
//! follow must be an ordered subset of one of the key's qualifier sequences
//! (`dlpkey` in the dictionary, e.g. 22, 10, 21 for a GTIN). Query parameters with all-digit names are
//! data attributes: they must be dictionary AIs flagged `?`, must not repeat an
//! AI, and must not be a key qualifier that belongs in the path. Other
//! query parameters and the fragment are ignored. Path values are
//! percent-decoded (RFC 3986 §2.1) with `+` kept literal; query values also
//! decode `+` as space (which no AI value may contain).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::gs1::{ai, Gs1Data, Gs1Error};

/// The canonical Digital Link stem, GS1's resolver.
pub const CANONICAL_STEM: &str = "https://id.gs1.org";

/// Everything except RFC 3986 unreserved characters is percent-encoded in
/// generated path segments and query values.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Characters that may appear in a URI (RFC 3986 §2), besides ASCII letters and digits.
const URI_PUNCTUATION: &str = "-._~:/?#[]@!$&'()*+,;=%";

/// URI characters that may not appear in a host (RFC 3986 §3.2.2).
const BAD_HOST_CHARACTERS: &str = "_~?#@!$&'()*+,;=%";

/// Deprecated "convenience alphas" that early Digital Link versions allowed as
/// path names for AIs (as GS1's syntax engine still accepts on request).
const CONVENIENCE_ALPHAS: &[(&str, &str)] = &[
    ("cpid", "8010"),
    ("cpsn", "8011"),
    ("cpv", "22"),
    ("gcn", "255"),
    ("gdti", "253"),
    ("giai", "8004"),
    ("ginc", "401"),
    ("gln", "414"),
    ("glnx", "254"),
    ("gmn", "8013"),
    ("grai", "8003"),
    ("gsin", "402"),
    ("gsrn", "8018"),
    ("gsrnp", "8017"),
    ("gtin", "01"),
    ("itip", "8006"),
    ("lot", "10"),
    ("party", "417"),
    ("refno", "8020"),
    ("ser", "21"),
    ("srin", "8019"),
    ("sscc", "00"),
];

/// Leniencies of the Digital Link parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigitalLinkOptions {
    /// Accept a GTIN-8, GTIN-12 or GTIN-13 as the value of AI (01) and
    /// normalise it to GTIN-14 by left-padding with zeros. The DL Standard
    /// requires 14 digits, but labels printed from older tools carry short forms.
    pub zero_suppressed_gtin: bool,
    /// Accept the deprecated convenience alphas (`/gtin/`, `/ser/`, `/lot/`, …)
    /// in place of numeric AIs in the path.
    pub convenience_alphas: bool,
}

impl DigitalLinkOptions {
    /// Exactly the DL Standard, as GS1's syntax engine does by default.
    pub const STRICT: Self = Self {
        zero_suppressed_gtin: false,
        convenience_alphas: false,
    };
}

/// Pedigree's default: strict, except that short GTINs are normalised to GTIN-14.
impl Default for DigitalLinkOptions {
    fn default() -> Self {
        Self {
            zero_suppressed_gtin: true,
            ..Self::STRICT
        }
    }
}

/// Whether `s` starts with an http or https scheme, in any case.
pub fn looks_like_uri(s: &str) -> bool {
    ["http://", "https://"].iter().any(|scheme| {
        s.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    })
}

/// Checks the characters, scheme and host of a URI; returns what follows the host.
fn split_authority(uri: &str) -> Result<&str, Gs1Error> {
    if let Some((i, c)) = uri
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || URI_PUNCTUATION.contains(*c)))
    {
        return Err(Gs1Error::IllegalUriCharacter {
            character: c,
            position: i + 1,
        });
    }
    let rest = ["https://", "HTTPS://", "http://", "HTTP://"]
        .iter()
        .find_map(|scheme| uri.strip_prefix(scheme))
        .ok_or(Gs1Error::BadScheme)?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if host.is_empty() {
        return Err(Gs1Error::MissingHost);
    }
    match host.chars().find(|c| BAD_HOST_CHARACTERS.contains(*c)) {
        Some(character) => Err(Gs1Error::IllegalHostCharacter { character }),
        None => Ok(path),
    }
}

/// The AI named by a path segment, honouring convenience alphas if enabled.
fn path_ai(segment: &str, options: DigitalLinkOptions) -> Option<&str> {
    let alpha = options
        .convenience_alphas
        .then(|| CONVENIENCE_ALPHAS.iter().find(|(a, _)| *a == segment))
        .flatten()
        .map(|(_, ai)| *ai);
    alpha.or_else(|| ai::lookup(segment).map(|_| segment))
}

fn is_primary_key(ai: &str) -> bool {
    ai::lookup(ai).is_some_and(|e| e.dl_primary_key.is_some())
}

/// Whether `path` (key AI, then qualifier AIs) is a permitted key-qualifier
/// sequence: the qualifiers are an ordered subset of one of the key's sequences.
fn is_key_sequence(path: &[&str]) -> bool {
    let Some((key, qualifiers)) = path.split_first() else {
        return false;
    };
    let Some(alternatives) = ai::lookup(key).and_then(|e| e.dl_primary_key.as_ref()) else {
        return false;
    };
    alternatives.iter().any(|sequence| {
        let mut allowed = sequence.iter();
        qualifiers.iter().all(|q| allowed.any(|a| a == q))
    })
}

/// Decodes percent-escapes; in a query value `+` also means space.
fn percent_decode(raw: &str, query: bool) -> Result<String, Gs1Error> {
    let bad = |reason| Gs1Error::BadPercentEncoding {
        found: raw.to_owned(),
        reason,
    };
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad("'%' must be followed by two hexadecimal digits"))?;
                if hex == 0 {
                    return Err(bad("it decodes to a NUL character"));
                }
                out.push(hex);
                i += 3;
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad("it does not decode to UTF-8 text"))
}

/// Left-pads a GTIN-8/12/13 given for AI (01) to GTIN-14 when the options allow it.
fn normalise_value(ai: &str, value: String, options: DigitalLinkOptions) -> String {
    if options.zero_suppressed_gtin && ai == "01" && matches!(value.len(), 8 | 12 | 13) {
        format!("{value:0>14}")
    } else {
        value
    }
}

impl Gs1Data {
    /// Parses a Digital Link URI with Pedigree's [`DigitalLinkOptions::default`].
    pub fn parse_digital_link(uri: &str) -> Result<Self, Gs1Error> {
        Self::parse_digital_link_with(uri, DigitalLinkOptions::default())
    }

    /// Parses a Digital Link URI into its AIs: path AIs first, then query
    /// attributes, each in URI order.
    pub fn parse_digital_link_with(
        uri: &str,
        options: DigitalLinkOptions,
    ) -> Result<Self, Gs1Error> {
        if uri.is_empty() {
            return Err(Gs1Error::Empty);
        }
        let after_host = split_authority(uri)?;
        let before_fragment = after_host.split('#').next().unwrap_or_default();
        let (path, query) = before_fragment
            .split_once('?')
            .unwrap_or((before_fragment, ""));
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();

        // The rightmost /AI/value pair whose AI is a primary key starts the DL path.
        let mut start = None;
        let mut i = segments.len();
        while i >= 2 {
            i -= 2;
            match path_ai(segments[i], options) {
                Some(ai) if is_primary_key(ai) => {
                    start = Some(i);
                    break;
                }
                Some(_) => {}
                None => break,
            }
        }
        let start = start.ok_or(Gs1Error::NoPrimaryKey)?;

        let mut data = Gs1Data::new();
        let mut path_ais = Vec::new();
        for pair in segments[start..].chunks_exact(2) {
            let ai = path_ai(pair[0], options).ok_or(Gs1Error::NoPrimaryKey)?;
            if pair[1].is_empty() {
                return Err(Gs1Error::EmptyValue { ai: ai.to_owned() });
            }
            let value = normalise_value(ai, percent_decode(pair[1], false)?, options);
            data.push(ai, &value)?;
            path_ais.push(ai);
        }
        if !is_key_sequence(&path_ais) {
            return Err(Gs1Error::InvalidKeyQualifiers {
                sequence: path_ais.join("/"),
            });
        }

        for param in query.split('&') {
            let Some((name, raw)) = param.split_once('=') else {
                continue; // empty or singleton parameter: not an AI
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue; // non-numeric parameter: not an AI
            }
            let entry = ai::entry(name)?;
            if raw.is_empty() {
                return Err(Gs1Error::EmptyValue {
                    ai: name.to_owned(),
                });
            }
            if data.value(name).is_some() {
                return Err(Gs1Error::DuplicateAi {
                    ai: name.to_owned(),
                });
            }
            if !entry.dl_data_attribute {
                return Err(Gs1Error::NotDataAttribute {
                    ai: name.to_owned(),
                });
            }
            let belongs_in_path = (1..=path_ais.len()).any(|at| {
                let mut trial = path_ais.clone();
                trial.insert(at, name);
                is_key_sequence(&trial)
            });
            if belongs_in_path {
                return Err(Gs1Error::BelongsInPath {
                    ai: name.to_owned(),
                });
            }
            let value = normalise_value(name, percent_decode(raw, true)?, options);
            data.push(name, &value)?;
        }
        Ok(data)
    }

    /// The canonical Digital Link URI on [`CANONICAL_STEM`].
    pub fn to_digital_link(&self) -> Result<String, Gs1Error> {
        self.to_digital_link_with_stem(CANONICAL_STEM)
    }

    /// The canonical Digital Link URI on `stem` (a trailing `/` is dropped):
    /// the first primary-key AI of the data, then the qualifier sequence of
    /// that key matching most AIs of the data (the first listed on a tie), in
    /// sequence order; every other AI as a query parameter, predefined-length
    /// AIs first, each group in data order, repeated AIs once.
    pub fn to_digital_link_with_stem(&self, stem: &str) -> Result<String, Gs1Error> {
        let invalid = |reason: String| Gs1Error::InvalidStem {
            stem: stem.to_owned(),
            reason,
        };
        let stem_path = split_authority(stem).map_err(|e| invalid(e.to_string()))?;
        if stem_path.contains(['?', '#']) {
            return Err(invalid("a stem has no query or fragment".into()));
        }
        let stem = stem.strip_suffix('/').unwrap_or(stem);

        let (key, alternatives) = self
            .elements()
            .iter()
            .find_map(|e| Some((e.ai(), ai::lookup(e.ai())?.dl_primary_key.as_ref()?)))
            .ok_or(Gs1Error::NoPrimaryKey)?;
        let mut qualifiers: Vec<&str> = Vec::new();
        for sequence in alternatives {
            let present: Vec<&str> = sequence
                .iter()
                .map(String::as_str)
                .filter(|q| self.value(q).is_some())
                .collect();
            if present.len() > qualifiers.len() {
                qualifiers = present;
            }
        }

        let mut uri = stem.to_owned();
        let mut placed: Vec<&str> = Vec::new();
        for ai in std::iter::once(key).chain(qualifiers) {
            let value = self.value(ai).unwrap_or_default();
            uri.push_str(&format!("/{ai}/{}", utf8_percent_encode(value, ESCAPED)));
            placed.push(ai);
        }

        let mut params = Vec::new();
        for predefined in [true, false] {
            for element in self.elements() {
                let entry = ai::entry(element.ai())?;
                if entry.predefined_length != predefined || placed.contains(&element.ai()) {
                    continue;
                }
                if !entry.dl_data_attribute {
                    return Err(Gs1Error::NotDataAttribute {
                        ai: element.ai().to_owned(),
                    });
                }
                placed.push(element.ai());
                params.push(format!(
                    "{}={}",
                    element.ai(),
                    utf8_percent_encode(element.value(), ESCAPED)
                ));
            }
        }
        if !params.is_empty() {
            uri.push('?');
            uri.push_str(&params.join("&"));
        }
        Ok(uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pharma_uri_round_trip() {
        let uri = "https://id.gs1.org/01/09506000134352/10/LOT%2F1/21/S1?17=251200";
        let data = Gs1Data::parse_digital_link(uri).expect("parses");
        assert_eq!(
            data.to_caret_notation(),
            "^010950600013435210LOT/1^21S1^17251200"
        );
        assert_eq!(data.to_digital_link().as_deref(), Ok(uri));
    }

    #[test]
    fn short_gtin_is_normalised_by_default_only() {
        let uri = "https://example.com/01/9506000134352";
        let data = Gs1Data::parse_digital_link(uri).expect("lenient default");
        assert_eq!(data.value("01"), Some("09506000134352"));
        assert!(matches!(
            Gs1Data::parse_digital_link_with(uri, DigitalLinkOptions::STRICT),
            Err(Gs1Error::TooShort { .. })
        ));
    }

    #[test]
    fn qualifier_order_and_placement() {
        assert_eq!(
            Gs1Data::parse_digital_link("https://a/01/09506000134352/21/S/10/L"),
            Err(Gs1Error::InvalidKeyQualifiers {
                sequence: "01/21/10".into()
            })
        );
        assert_eq!(
            Gs1Data::parse_digital_link("https://a/01/09506000134352?10=L"),
            Err(Gs1Error::BelongsInPath { ai: "10".into() })
        );
        assert_eq!(
            Gs1Data::parse_digital_link("https://a/01/09506000134352?21=S"),
            Err(Gs1Error::NotDataAttribute { ai: "21".into() })
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("A%2fB+C", false).as_deref(), Ok("A/B+C"));
        assert_eq!(percent_decode("A%2FB+C", true).as_deref(), Ok("A/B C"));
        assert!(matches!(
            percent_decode("A%2", false),
            Err(Gs1Error::BadPercentEncoding { .. })
        ));
        assert!(matches!(
            percent_decode("A%00", false),
            Err(Gs1Error::BadPercentEncoding { .. })
        ));
    }

    #[test]
    fn stem_is_validated() {
        let data = Gs1Data::parse_bracketed("(01)09506000134352").expect("parses");
        assert!(matches!(
            data.to_digital_link_with_stem("ftp://x"),
            Err(Gs1Error::InvalidStem { .. })
        ));
        assert!(matches!(
            data.to_digital_link_with_stem("https://x/?a=b"),
            Err(Gs1Error::InvalidStem { .. })
        ));
        assert_eq!(
            data.to_digital_link_with_stem("https://x/p/").as_deref(),
            Ok("https://x/p/01/09506000134352")
        );
    }
}
