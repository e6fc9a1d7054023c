//! A scanned payload read as a pack's code: GS1 element string (with GS
//! separators or their keyboard-wedge substitutes) or GS1 Digital Link URI,
//! and what can be checked about it with no network at all.

use chrono::NaiveDate;
use pedigree_schema::gs1::{ai, Expiry, Gs1Data, Gs1Error, Lot, PackId};
use serde::Serialize;

/// Why a payload is not a usable pack code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not GS1 data at all, or GS1 data that breaks a rule of the syntax
    /// dictionary (a check digit, a length, a date).
    #[error("{0}")]
    Unreadable(Gs1Error),
    /// Readable GS1 data without a pack's identity, (01) GTIN and (21)
    /// serial number (FMD unique identifier, GenSpecs §2.1.13).
    #[error("this code does not identify a single pack: {0}")]
    NotAPack(Gs1Error),
}

impl CodeError {
    /// The machine-readable code of the `error` object.
    pub fn code(&self) -> &'static str {
        match self {
            CodeError::Unreadable(_) => "unreadable_code",
            CodeError::NotAPack(_) => "not_a_pack",
        }
    }
}

/// One application identifier of a code, as `parse` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParsedAi {
    pub ai: String,
    pub value: String,
    /// The AI's title from GS1's syntax dictionary.
    pub title: String,
}

/// Every AI of a payload in code order, GTINs as 14 digits.
pub fn parse_ais(payload: &str) -> Result<Vec<ParsedAi>, CodeError> {
    let data = Gs1Data::parse_any(payload).map_err(CodeError::Unreadable)?;
    Ok(data
        .elements()
        .iter()
        .map(|element| ParsedAi {
            ai: element.ai().to_string(),
            value: element.value().to_string(),
            title: ai::lookup(element.ai())
                .map(|entry| entry.title.clone())
                .unwrap_or_default(),
        })
        .collect())
}

/// A pack's code: its identity and the batch and expiry printed on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackCode {
    /// The payload as scanned (what is sent to the services).
    pub payload: String,
    pub pack: PackId,
    pub lot: Option<Lot>,
    pub expiry: Option<Expiry>,
}

impl PackCode {
    /// Reads a payload. Check digits, lengths, character sets and dates are
    /// checked by the schema's GS1 parser against the syntax dictionary.
    pub fn read(payload: &str) -> Result<Self, CodeError> {
        let payload = payload.trim_matches(|c: char| c.is_ascii_whitespace());
        let data = Gs1Data::parse_any(payload).map_err(CodeError::Unreadable)?;
        let pack = data.pack_id().map_err(CodeError::NotAPack)?;
        Ok(Self {
            payload: payload.to_string(),
            pack,
            lot: data.lot(),
            expiry: data.expiry(),
        })
    }

    /// Whether the expiry printed on the pack has passed on `today` (a pack
    /// expiring today is still in date; day `00` means the month's end).
    /// `None` when the code carries no expiry.
    pub fn expired_on(&self, today: NaiveDate) -> Option<bool> {
        self.expiry.as_ref().map(|e| e.is_expired_on(today))
    }
}

/// An expiry as a calendar date, `YYYY-MM-DD`, for people (the century by
/// GenSpecs §7.12 relative to `today`).
pub fn expiry_date(expiry: &Expiry, today: NaiveDate) -> String {
    use chrono::Datelike;
    expiry
        .last_valid_day_with_reference(today.year())
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn element_string_and_digital_link_name_the_same_pack() {
        let a = PackCode::read("0109506000134352172806301012AB\u{1d}21S1").expect("reads");
        let b = PackCode::read("https://id.example/01/9506000134352/10/12AB/21/S1?17=280630")
            .expect("reads");
        assert_eq!(a.pack, b.pack);
        assert_eq!(a.lot, b.lot);
        assert_eq!(a.expiry, b.expiry);
        assert_eq!(a.pack.gtin.as_str(), "09506000134352");
    }

    #[test]
    fn a_code_without_serial_is_not_a_pack() {
        let error = PackCode::read("(01)09506000134352(10)L1").expect_err("no serial");
        assert_eq!(error.code(), "not_a_pack");
        assert!(error.to_string().contains("serial"), "{error}");
    }

    #[test]
    fn a_bad_check_digit_is_unreadable() {
        let error = PackCode::read("(01)09506000134353(21)X").expect_err("bad digit");
        assert_eq!(error.code(), "unreadable_code");
    }

    #[test]
    fn expiry_is_judged_inclusively_and_day_00_is_the_months_end() {
        let code = PackCode::read("(01)09506000134352(17)280600(21)X").expect("reads");
        assert_eq!(code.expired_on(day(2028, 6, 30)), Some(false));
        assert_eq!(code.expired_on(day(2028, 7, 1)), Some(true));
        let expiry = code.expiry.as_ref().expect("expiry");
        assert_eq!(expiry_date(expiry, day(2026, 1, 1)), "2028-06-30");
        let none = PackCode::read("(01)09506000134352(21)X").expect("reads");
        assert_eq!(none.expired_on(day(2028, 7, 1)), None);
    }
}
