//! EPCIS identifiers: GS1 Digital Link URIs on `https://id.gs1.org` (what
//! Pedigree writes) and EPC URNs (TDS 2.x pure identities, also read).

use crate::event::Item;
use crate::gs1::{check_digit, Gln, Gs1Data, Gs1Error, Gtin, Lot, PackId, Sscc};

/// Why a string is not an identifier Pedigree can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{uri:?} is neither a GS1 Digital Link URI nor an EPC URN")]
    Unrecognised { uri: String },
    #[error("{uri:?}: {source}")]
    Gs1 { uri: String, source: Gs1Error },
    #[error("{uri:?} is malformed: {reason}")]
    Malformed { uri: String, reason: &'static str },
    #[error("{uri:?} identifies {found}, but {expected} is needed here")]
    WrongKind {
        uri: String,
        found: &'static str,
        expected: &'static str,
    },
}

/// An identifier as read from an EPCIS document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identifier {
    Pack(PackId),
    Case(Sscc),
    /// A GLN, with its extension (AI 254 / the SGLN extension) dropped.
    Location(Gln),
    /// A batch: GTIN and lot (LGTIN class).
    Batch(Gtin, Lot),
}

impl Identifier {
    fn describe(&self) -> &'static str {
        match self {
            Self::Pack(_) => "a pack (SGTIN)",
            Self::Case(_) => "a case (SSCC)",
            Self::Location(_) => "a location (GLN)",
            Self::Batch(..) => "a batch (LGTIN)",
        }
    }

    /// Parses a Digital Link URI or an EPC URN (`sgtin`, `sscc`, `sgln`,
    /// `lgtin`); check digits are verified (Digital Link) or computed from
    /// the company prefix and reference (URNs carry none).
    pub fn parse(uri: &str) -> Result<Self, IdError> {
        if let Some(rest) = uri.strip_prefix("urn:epc:id:") {
            return parse_urn(uri, rest, false);
        }
        if let Some(rest) = uri.strip_prefix("urn:epc:class:") {
            return parse_urn(uri, rest, true);
        }
        if !crate::gs1::digital_link::looks_like_uri(uri) {
            return Err(IdError::Unrecognised { uri: uri.into() });
        }
        let gs1 = |source| IdError::Gs1 {
            uri: uri.into(),
            source,
        };
        let data = Gs1Data::parse_digital_link(uri).map_err(gs1)?;
        if let Some(sscc) = data.value("00") {
            return Sscc::parse(sscc).map(Self::Case).map_err(gs1);
        }
        if let Some(gln) = data.value("414") {
            return Gln::parse(gln).map(Self::Location).map_err(gs1);
        }
        if data.value("21").is_some() {
            return data.pack_id().map(Self::Pack).map_err(gs1);
        }
        match (data.gtin(), data.lot()) {
            (Some(gtin), Some(lot)) => Ok(Self::Batch(gtin, lot)),
            _ => Err(IdError::Malformed {
                uri: uri.into(),
                reason: "a Digital Link here must name a pack (/01/…/21/…), a batch (/01/…/10/…), a case (/00/…) or a location (/414/…)",
            }),
        }
    }

    fn wrong(self, uri: &str, expected: &'static str) -> IdError {
        IdError::WrongKind {
            uri: uri.into(),
            found: self.describe(),
            expected,
        }
    }
}

/// A pack or a case, as item lists hold them.
pub fn parse_item(uri: &str) -> Result<Item, IdError> {
    match Identifier::parse(uri)? {
        Identifier::Pack(pack) => Ok(Item::Pack(pack)),
        Identifier::Case(sscc) => Ok(Item::Case(sscc)),
        other => Err(other.wrong(uri, "a pack (SGTIN) or a case (SSCC)")),
    }
}

pub fn parse_pack(uri: &str) -> Result<PackId, IdError> {
    match Identifier::parse(uri)? {
        Identifier::Pack(pack) => Ok(pack),
        other => Err(other.wrong(uri, "a pack (SGTIN)")),
    }
}

pub fn parse_case(uri: &str) -> Result<Sscc, IdError> {
    match Identifier::parse(uri)? {
        Identifier::Case(sscc) => Ok(sscc),
        other => Err(other.wrong(uri, "a case (SSCC)")),
    }
}

pub fn parse_location(uri: &str) -> Result<Gln, IdError> {
    match Identifier::parse(uri)? {
        Identifier::Location(gln) => Ok(gln),
        other => Err(other.wrong(uri, "a location or party (GLN)")),
    }
}

pub fn parse_batch(uri: &str) -> Result<(Gtin, Lot), IdError> {
    match Identifier::parse(uri)? {
        Identifier::Batch(gtin, lot) => Ok((gtin, lot)),
        other => Err(other.wrong(uri, "a batch (LGTIN)")),
    }
}

/// `urn:epc:id:{sgtin,sscc,sgln}:…` and `urn:epc:class:lgtin:…` (TDS §6).
fn parse_urn(uri: &str, rest: &str, class: bool) -> Result<Identifier, IdError> {
    let malformed = |reason| IdError::Malformed {
        uri: uri.into(),
        reason,
    };
    let gs1 = |source| IdError::Gs1 {
        uri: uri.into(),
        source,
    };
    let (scheme, body) = rest
        .split_once(':')
        .ok_or(malformed("no scheme after urn:epc:"))?;
    let parts: Vec<&str> = body.split('.').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match (class, scheme, parts.as_slice()) {
        (false, "sgtin", [prefix, reference, serial]) | (true, "lgtin", [prefix, reference, serial])
            if digits(prefix) && digits(reference) && prefix.len() + reference.len() == 13 =>
        {
            // The indicator digit leads the item reference and the GTIN.
            let body = format!("{}{prefix}{}", &reference[..1], &reference[1..]);
            let gtin = Gtin::parse(&with_check_digit(&body)).map_err(gs1)?;
            let value = decode_urn_escapes(serial).ok_or(malformed("bad %-escape"))?;
            if class {
                Ok(Identifier::Batch(gtin, Lot::parse(&value).map_err(gs1)?))
            } else {
                let serial = crate::gs1::Serial::parse(&value).map_err(gs1)?;
                Ok(Identifier::Pack(PackId { gtin, serial }))
            }
        }
        (false, "sscc", [prefix, reference])
            if digits(prefix) && digits(reference) && prefix.len() + reference.len() == 17 =>
        {
            // The extension digit leads the serial reference and the SSCC.
            let body = format!("{}{prefix}{}", &reference[..1], &reference[1..]);
            Sscc::parse(&with_check_digit(&body))
                .map(Identifier::Case)
                .map_err(gs1)
        }
        (false, "sgln", [prefix, reference, _extension])
            if digits(prefix) && prefix.len() + reference.len() == 12 && (reference.is_empty() || digits(reference)) =>
        {
            Gln::parse(&with_check_digit(&format!("{prefix}{reference}")))
                .map(Identifier::Location)
                .map_err(gs1)
        }
        (_, "sgtin" | "lgtin" | "sscc" | "sgln", _) => Err(malformed(
            "the company prefix and reference do not have the digits this EPC scheme needs",
        )),
        _ => Err(malformed(
            "only the EPC schemes sgtin, sscc, sgln (urn:epc:id:) and lgtin (urn:epc:class:) name things Pedigree tracks",
        )),
    }
}

fn with_check_digit(body: &str) -> String {
    let digit = check_digit(body).unwrap_or('0');
    format!("{body}{digit}")
}

/// EPC URNs escape `"`, `%`, `&`, `/`, `<`, `>`, `?` as `%XX` (TDS §5).
fn decode_urn_escapes(text: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()?;
    let bare_percent = text.match_indices('%').any(|(i, _)| {
        !text
            .get(i + 1..i + 3)
            .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    (!bare_percent).then(|| decoded.into_owned())
}

/// `https://id.gs1.org/01/{gtin}/21/{serial}` (serial percent-encoded).
pub fn pack_uri(pack: &PackId) -> Result<String, Gs1Error> {
    Gs1Data::from(pack).to_digital_link()
}

/// `https://id.gs1.org/00/{sscc}`.
pub fn case_uri(sscc: &Sscc) -> String {
    format!("{}/00/{sscc}", crate::gs1::CANONICAL_STEM)
}

/// `https://id.gs1.org/414/{gln}`.
pub fn location_uri(gln: &Gln) -> String {
    format!("{}/414/{gln}", crate::gs1::CANONICAL_STEM)
}

/// The LGTIN class `https://id.gs1.org/01/{gtin}/10/{lot}`.
pub fn batch_uri(gtin: &Gtin, lot: &Lot) -> Result<String, Gs1Error> {
    let mut data = Gs1Data::new();
    data.push("01", gtin.as_str())?;
    data.push("10", lot.as_str())?;
    data.to_digital_link()
}

pub fn item_uri(item: &Item) -> Result<String, Gs1Error> {
    match item {
        Item::Pack(pack) => pack_uri(pack),
        Item::Case(sscc) => Ok(case_uri(sscc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epc_urns_become_gs1_keys_with_computed_check_digits() {
        assert_eq!(
            Identifier::parse("urn:epc:id:sgtin:0614141.107346.2017").unwrap(),
            Identifier::Pack(PackId::parse("(01)10614141073464(21)2017").unwrap())
        );
        assert_eq!(
            Identifier::parse("urn:epc:id:sscc:0614141.1234567890").unwrap(),
            Identifier::Case(Sscc::parse("106141412345678908").unwrap())
        );
        assert_eq!(
            Identifier::parse("urn:epc:id:sgln:0614141.07346.1234").unwrap(),
            Identifier::Location(Gln::parse("0614141073467").unwrap())
        );
        assert_eq!(
            Identifier::parse("urn:epc:class:lgtin:4012345.012345.998877").unwrap(),
            Identifier::Batch(
                Gtin::parse("04012345123456").unwrap(),
                Lot::parse("998877").unwrap()
            )
        );
        assert_eq!(
            Identifier::parse("urn:epc:id:sgtin:0614141.107346.A%2FB").unwrap(),
            Identifier::Pack(PackId::parse("(01)10614141073464(21)A/B").unwrap())
        );
    }

    #[test]
    fn digital_links_round_trip_and_check_digits_are_checked() {
        let pack = PackId::parse("(01)09506000134352(21)A/B%1").unwrap();
        let uri = pack_uri(&pack).unwrap();
        assert_eq!(uri, "https://id.gs1.org/01/09506000134352/21/A%2FB%251");
        assert_eq!(parse_pack(&uri).unwrap(), pack);
        let bad = Identifier::parse("https://id.gs1.org/01/09506000134353/21/X").unwrap_err();
        assert!(bad.to_string().contains("check digit"), "{bad}");
        let wrong = parse_pack("https://id.gs1.org/414/9506000000008").unwrap_err();
        assert!(matches!(wrong, IdError::WrongKind { .. }), "{wrong}");
        assert!(matches!(
            Identifier::parse("urn:epc:id:giai:0614141.12345"),
            Err(IdError::Malformed { .. })
        ));
        assert!(matches!(
            Identifier::parse("urn:epc:id:sgtin:0614141.10734.2017"),
            Err(IdError::Malformed { .. })
        ));
    }
}
