//! Validating newtypes for the GS1 identifiers Pedigree works with. Each is
//! checked against its AI's dictionary entry on construction and on
//! deserialisation, so holding one proves it is well-formed.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::gs1::ai::{self, Charset};
use crate::gs1::element_string::escape_bracketed;
use crate::gs1::Gs1Error;

/// The string-like impls shared by every identifier: `as_str`, `Display`,
/// `FromStr` and `TryFrom<String>` (both via `parse`), `From<T> for String`.
macro_rules! string_identifier {
    ($ty:ident, $field:tt) => {
        impl $ty {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.$field
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = Gs1Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = Gs1Error;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.$field
            }
        }
    };
}

/// A Global Trade Item Number, AI (01), held as GTIN-14 (GenSpecs §3.3.2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gtin(String);
string_identifier!(Gtin, 0);

impl Gtin {
    /// Accepts GTIN-8, -12, -13 or -14 digits with a valid mod-10 check digit
    /// (GenSpecs §7.9.1) and normalises to 14 digits by left-padding with zeros,
    /// as AI (01) carries shorter GTINs right-justified (GenSpecs §3.3.2).
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        let chars: Vec<char> = s.chars().collect();
        ai::check_charset("01", &chars, Charset::Numeric, 0)?;
        if !matches!(chars.len(), 8 | 12 | 13 | 14) {
            return Err(Gs1Error::GtinLength {
                actual: chars.len(),
            });
        }
        let gtin14 = format!("{s:0>14}");
        ai::validate_value("01", &gtin14)?;
        Ok(Gtin(gtin14))
    }
}

/// A Global Location Number, e.g. AI (414) (GenSpecs §3.7.9).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gln(String);
string_identifier!(Gln, 0);

impl Gln {
    /// Accepts 13 digits with a valid check digit.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        ai::validate_value("414", s)?;
        Ok(Gln(s.to_owned()))
    }
}

/// A Serial Shipping Container Code, AI (00) (GenSpecs §3.3.1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sscc(String);
string_identifier!(Sscc, 0);

impl Sscc {
    /// Accepts 18 digits with a valid check digit.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        ai::validate_value("00", s)?;
        Ok(Sscc(s.to_owned()))
    }
}

/// A serial number, AI (21): 1–20 characters of CSET 82 (GenSpecs §3.5.2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Serial(String);
string_identifier!(Serial, 0);

impl Serial {
    /// Accepts 1–20 characters of GS1 character set 82.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        ai::validate_value("21", s)?;
        Ok(Serial(s.to_owned()))
    }
}

/// A batch or lot number, AI (10): 1–20 characters of CSET 82 (GenSpecs §3.4.1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Lot(String);
string_identifier!(Lot, 0);

impl Lot {
    /// Accepts 1–20 characters of GS1 character set 82.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        ai::validate_value("10", s)?;
        Ok(Lot(s.to_owned()))
    }
}

/// An expiration date, AI (17), as YYMMDD (GenSpecs §3.4.7). Day `00` means
/// the last day of the month.
///
/// `Ord` compares the YYMMDD text, not the calendar: compare
/// [`Expiry::last_valid_day_with_reference`] results for chronology.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Expiry {
    yymmdd: String,
    yy: u8,
    mm: u8,
    dd: u8,
}
string_identifier!(Expiry, yymmdd);

impl Expiry {
    /// Accepts YYMMDD with a real month and a day that exists in that month,
    /// or day `00`. February 29 is accepted when YY is divisible by 4.
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        ai::validate_value("17", s)?;
        let two = |i: usize| -> Result<u8, Gs1Error> {
            s.get(i..i + 2)
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| Gs1Error::TooShort {
                    ai: "17".into(),
                    min: 6,
                    actual: s.len(),
                })
        };
        Ok(Expiry {
            yymmdd: s.to_owned(),
            yy: two(0)?,
            mm: two(2)?,
            dd: two(4)?,
        })
    }

    /// The expiry of a calendar date (never day `00`). The century is dropped:
    /// it is recovered by the century rule relative to the reference year.
    pub fn from_date(date: NaiveDate) -> Self {
        let yy = date.year().rem_euclid(100);
        let (mm, dd) = (date.month(), date.day());
        Expiry {
            yymmdd: format!("{yy:02}{mm:02}{dd:02}"),
            // In range by construction: yy < 100, mm <= 12, dd <= 31.
            yy: u8::try_from(yy).unwrap_or_default(),
            mm: u8::try_from(mm).unwrap_or_default(),
            dd: u8::try_from(dd).unwrap_or_default(),
        }
    }

    /// The last day on which the pack may be used, with the century chosen
    /// relative to `reference_year` (GenSpecs §7.12: if YY minus the reference
    /// year's last two digits is 51 or more, the previous century; −50 or
    /// less, the next century; otherwise the reference year's century).
    ///
    /// Day `00` gives the last day of the month. February 29 of a resolved
    /// year that is not a leap year (YY = 00 in 1900 or 2100) gives February
    /// 28. Should the year fall outside chrono's range (reference years beyond
    /// ±262,000), the result is `NaiveDate::MIN`, so the pack counts as expired.
    pub fn last_valid_day_with_reference(&self, reference_year: i32) -> NaiveDate {
        let reference_yy = i64::from(reference_year.rem_euclid(100));
        let yy = i64::from(self.yy);
        let shift = match yy - reference_yy {
            d if d >= 51 => -100,
            d if d <= -50 => 100,
            _ => 0,
        };
        let year = i64::from(reference_year) - reference_yy + yy + shift;
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let month = u32::from(self.mm);
        let last = ai::days_in_month(month, leap);
        let day = match u32::from(self.dd) {
            0 => last,
            d => d.min(last),
        };
        i32::try_from(year)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, month, day))
            .unwrap_or(NaiveDate::MIN)
    }

    /// [`Expiry::last_valid_day_with_reference`] relative to the current UTC year.
    pub fn last_valid_day(&self) -> NaiveDate {
        self.last_valid_day_with_reference(Utc::now().year())
    }

    /// Whether the pack is expired on `date`, i.e. `date` is after the last
    /// valid day (a pack expiring today is not yet expired). The century rule
    /// uses `date`'s year as the current year, so the answer depends on
    /// nothing but the arguments.
    pub fn is_expired_on(&self, date: NaiveDate) -> bool {
        date > self.last_valid_day_with_reference(date.year())
    }
}

/// A pack's identity under the EU FMD and US DSCSA: GTIN plus serial number.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackId {
    /// The product's GTIN, AI (01).
    pub gtin: Gtin,
    /// The pack's serial number, AI (21).
    pub serial: Serial,
}

impl PackId {
    /// Pairs a GTIN and a serial.
    pub fn new(gtin: Gtin, serial: Serial) -> Self {
        PackId { gtin, serial }
    }

    /// Reads the pack identity from any GS1 syntax (see `Gs1Data::parse_any`).
    pub fn parse(s: &str) -> Result<Self, Gs1Error> {
        crate::gs1::Gs1Data::parse_any(s)?.pack_id()
    }
}

/// Displays the bracketed form `(01)<gtin>(21)<serial>`.
impl fmt::Display for PackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(01){}(21){}",
            self.gtin,
            escape_bracketed(self.serial.as_str())
        )
    }
}

impl FromStr for PackId {
    type Err = Gs1Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn gtin_forms_normalise_to_14_digits() {
        for form in ["09506000134352", "9506000134352"] {
            assert_eq!(
                Gtin::parse(form).map(String::from).as_deref(),
                Ok("09506000134352")
            );
        }
        assert_eq!(
            Gtin::parse("416000336108").map(String::from).as_deref(),
            Ok("00416000336108")
        );
        assert_eq!(
            Gtin::parse("95060001343"),
            Err(Gs1Error::GtinLength { actual: 11 })
        );
        assert_eq!(
            Gtin::parse("02345673").map(String::from).as_deref(),
            Ok("00000002345673")
        );
    }

    #[test]
    fn gtin_check_digit_and_characters() {
        assert_eq!(
            Gtin::parse("09506000134353"),
            Err(Gs1Error::BadCheckDigit {
                ai: "01".into(),
                expected: '2',
                found: '3'
            })
        );
        assert_eq!(
            Gtin::parse("0950600013435A"),
            Err(Gs1Error::InvalidCharacter {
                ai: "01".into(),
                character: 'A',
                position: 14,
                charset: Charset::Numeric
            })
        );
    }

    #[test]
    fn gln_and_sscc_check_digits() {
        assert!(Gln::parse("9520123456788").is_ok());
        assert!(matches!(
            Gln::parse("9520123456789"),
            Err(Gs1Error::BadCheckDigit { .. })
        ));
        assert!(Sscc::parse("006141411234567890").is_ok());
        assert!(matches!(
            Sscc::parse("006141411234567891"),
            Err(Gs1Error::BadCheckDigit { .. })
        ));
        assert!(matches!(
            Sscc::parse("0061414112345678"),
            Err(Gs1Error::TooShort { .. })
        ));
    }

    #[test]
    fn serial_and_lot_limits() {
        assert!(Serial::parse("ABCDEFGHIJ0123456789").is_ok());
        assert!(matches!(
            Serial::parse("ABCDEFGHIJ0123456789X"),
            Err(Gs1Error::TooLong {
                max: 20,
                actual: 21,
                ..
            })
        ));
        assert_eq!(
            Lot::parse(""),
            Err(Gs1Error::EmptyValue { ai: "10".into() })
        );
        assert!(matches!(
            Lot::parse("A B"),
            Err(Gs1Error::InvalidCharacter {
                character: ' ',
                position: 2,
                ..
            })
        ));
    }

    #[test]
    fn century_rule() {
        let e = Expiry::parse("991231").expect("valid");
        assert_eq!(
            e.last_valid_day_with_reference(2049),
            date(2099, 12, 31),
            "+50: this century"
        );
        assert_eq!(
            e.last_valid_day_with_reference(2048),
            date(1999, 12, 31),
            "+51: previous century"
        );
        assert_eq!(e.last_valid_day_with_reference(2025), date(1999, 12, 31));
        let e = Expiry::parse("001231").expect("valid");
        assert_eq!(
            e.last_valid_day_with_reference(2050),
            date(2100, 12, 31),
            "-50: next century"
        );
        assert_eq!(
            e.last_valid_day_with_reference(2049),
            date(2000, 12, 31),
            "-49: this century"
        );
        let e = Expiry::parse("300101").expect("valid");
        assert_eq!(e.last_valid_day_with_reference(2025), date(2030, 1, 1));
        assert_eq!(e.last_valid_day_with_reference(1990), date(2030, 1, 1));
    }

    #[test]
    fn day_zero_is_end_of_month() {
        let e = Expiry::parse("280200").expect("valid");
        assert_eq!(e.last_valid_day_with_reference(2025), date(2028, 2, 29));
        let e = Expiry::parse("270200").expect("valid");
        assert_eq!(e.last_valid_day_with_reference(2025), date(2027, 2, 28));
        let e = Expiry::parse("250400").expect("valid");
        assert_eq!(e.last_valid_day_with_reference(2025), date(2025, 4, 30));
        assert_eq!(e.to_string(), "250400", "displayed as given");
        let feb29_2100 = Expiry::parse("000229").expect("YY divisible by 4");
        assert_eq!(
            feb29_2100.last_valid_day_with_reference(2060),
            date(2100, 2, 28)
        );
    }

    #[test]
    fn impossible_expiry_dates() {
        for bad in ["251301", "250001", "250431", "250230", "2504", "25043A"] {
            assert!(Expiry::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            Expiry::parse("250431"),
            Err(Gs1Error::ImpossibleDate { .. })
        ));
    }

    #[test]
    fn expiry_comparisons() {
        let e = Expiry::parse("250615").expect("valid");
        assert!(!e.is_expired_on(date(2025, 6, 14)));
        assert!(
            !e.is_expired_on(date(2025, 6, 15)),
            "expiring today is not expired"
        );
        assert!(e.is_expired_on(date(2025, 6, 16)));
        let month_end = Expiry::parse("250600").expect("valid");
        assert!(!month_end.is_expired_on(date(2025, 6, 30)));
        assert!(month_end.is_expired_on(date(2025, 7, 1)));
        let from_date = Expiry::from_date(date(2031, 2, 3));
        assert_eq!(from_date.as_str(), "310203");
        assert_eq!(from_date, Expiry::parse("310203").expect("valid"));
    }

    #[test]
    fn serde_validates() {
        let gtin: Gtin = serde_json::from_str("\"9506000134352\"").expect("valid");
        assert_eq!(
            serde_json::to_string(&gtin).ok().as_deref(),
            Some("\"09506000134352\"")
        );
        assert!(serde_json::from_str::<Gtin>("\"9506000134353\"").is_err());
        assert!(serde_json::from_str::<Expiry>("\"251301\"").is_err());
        let pack = PackId::new(gtin, Serial::parse("S(1").expect("valid"));
        let json = serde_json::to_string(&pack).expect("serialises");
        assert_eq!(json, r#"{"gtin":"09506000134352","serial":"S(1"}"#);
        assert_eq!(
            serde_json::from_str::<PackId>(&json).ok(),
            Some(pack.clone())
        );
        assert_eq!(pack.to_string(), "(01)09506000134352(21)S\\(1");
        assert_eq!(pack.to_string().parse::<PackId>(), Ok(pack));
    }
}
