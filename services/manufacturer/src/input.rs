//! Checks of request fields shared by the operations, each failing with a 400 whose code and
//! message name the field.

use chrono::NaiveDate;
use pedigree_party::PartyError;
use pedigree_schema::event::MAX_TEXT_LEN;
use pedigree_schema::gs1::{Expiry, Gs1Error};

/// A GS1 identifier parsed from field `field` (`invalid_<field>` on error).
pub fn gs1<T>(field: &'static str, parsed: Result<T, Gs1Error>) -> Result<T, PartyError> {
    parsed.map_err(|e| PartyError::bad_request(format!("invalid_{field}"), format!("{field}: {e}")))
}

/// Free text as events carry it (names, reasons): 1 to [`MAX_TEXT_LEN`] characters without
/// control characters (Unicode category Cc), as `Event::validate` requires; applied to the
/// product's other texts too, so the product record holds no text an event could not.
pub fn text(field: &'static str, value: &str) -> Result<(), PartyError> {
    let len = value.chars().count();
    if len == 0 || len > MAX_TEXT_LEN || value.chars().any(char::is_control) {
        return Err(PartyError::bad_request(
            format!("invalid_{field}"),
            format!("{field} must be 1 to {MAX_TEXT_LEN} characters without control characters"),
        ));
    }
    Ok(())
}

/// A calendar date `YYYY-MM-DD` (ISO 8601 extended format, four-digit year: chrono alone
/// would read `28-12-31` as the year 28).
pub fn date(field: &'static str, value: &str) -> Result<NaiveDate, PartyError> {
    let invalid = |reason: String| {
        PartyError::bad_request(
            format!("invalid_{field}"),
            format!("{field} {value:?} is not a date YYYY-MM-DD: {reason}"),
        )
    };
    let shaped = value.len() == 10
        && value.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(invalid(
            "expected 4, 2 and 2 digits separated by '-'".into(),
        ));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|e| invalid(e.to_string()))
}

/// An expiry as AI (17) `YYMMDD` (day `00` = end of month), or as an ISO date `YYYY-MM-DD`.
pub fn expiry(value: &str) -> Result<Expiry, PartyError> {
    if value.contains('-') {
        date("expiry", value).map(Expiry::from_date)
    } else {
        gs1("expiry", Expiry::parse(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_accepts_yymmdd_and_iso_dates() {
        assert_eq!(expiry("281231").expect("yymmdd").as_str(), "281231");
        assert_eq!(expiry("281200").expect("end of month").as_str(), "281200");
        assert_eq!(expiry("2028-12-31").expect("iso").as_str(), "281231");
        for bad in ["281232", "2028-13-01", "28-12-31", "tomorrow"] {
            let err = expiry(bad).expect_err(bad);
            assert_eq!(err.code(), "invalid_expiry", "{bad}");
        }
    }

    #[test]
    fn text_refuses_empty_long_and_control_characters() {
        assert!(text("name", "Paracetamol 500 mg").is_ok());
        for bad in ["", "tab\there", &"x".repeat(MAX_TEXT_LEN + 1)] {
            assert_eq!(text("name", bad).expect_err(bad).code(), "invalid_name");
        }
    }
}
