//! Property tests: every format of GS1 data parses back to what was formatted,
//! and a changed check digit is always rejected.

use chrono::{Datelike, NaiveDate};
use pedigree_schema::gs1::{
    check_digit, DigitalLinkOptions, Expiry, Gln, Gs1Data, Gs1Error, Gtin, Lot, PackId, Serial,
    Sscc, Symbology,
};
use proptest::prelude::*;
use proptest::sample::select;

/// Values of GS1 character set 82, 1 to 20 characters (AIs 10 and 21).
const CSET82_1_TO_20: &str = "[A-Za-z0-9!\"%&'()*+,./:;<=>?_-]{1,20}";

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u32..10, n).prop_map(|ds| {
        ds.into_iter()
            .filter_map(|d| char::from_digit(d, 10))
            .collect()
    })
}

/// `n` digits whose last is the correct check digit.
fn with_check_digit(n: usize) -> impl Strategy<Value = String> {
    digits(n - 1).prop_map(|body| {
        let check = check_digit(&body).expect("digits only");
        format!("{body}{check}")
    })
}

/// A valid GTIN in any of its lengths 8, 12, 13, 14.
fn gtin_text() -> impl Strategy<Value = String> {
    select(vec![8usize, 12, 13, 14]).prop_flat_map(with_check_digit)
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1900i32..2200, 1u32..=12, 1u32..=31)
        .prop_filter_map("real date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

fn stem() -> impl Strategy<Value = String> {
    select(vec![
        "https://id.gs1.org",
        "https://example.com/",
        "https://brand.example.com/some/prefix",
        "http://192.0.2.1:8080",
    ])
    .prop_map(str::to_owned)
}

/// Pharma barcode data: GTIN, then optional lot, serial and expiry.
fn pharma_data() -> impl Strategy<Value = Gs1Data> {
    (
        with_check_digit(14),
        proptest::option::of(CSET82_1_TO_20),
        proptest::option::of(CSET82_1_TO_20),
        proptest::option::of(date()),
    )
        .prop_map(|(gtin, lot, serial, expiry)| {
            let mut data = Gs1Data::new();
            data.push("01", &gtin).expect("valid GTIN");
            if let Some(lot) = lot {
                data.push("10", &lot).expect("valid lot");
            }
            if let Some(serial) = serial {
                data.push("21", &serial).expect("valid serial");
            }
            if let Some(expiry) = expiry {
                data.push("17", Expiry::from_date(expiry).as_str())
                    .expect("valid expiry");
            }
            data
        })
}

/// Replaces the last digit of `s` by a different digit.
fn change_last_digit(s: &str, by: u32) -> String {
    let (body, last) = s.split_at(s.len() - 1);
    let last = last.parse::<u32>().expect("digit");
    format!("{body}{}", (last + by) % 10)
}

fn sorted(data: &Gs1Data) -> Vec<(String, String)> {
    let mut v: Vec<_> = data
        .elements()
        .iter()
        .map(|e| (e.ai().to_owned(), e.value().to_owned()))
        .collect();
    v.sort();
    v
}

proptest! {
    #[test]
    fn gtin_round_trips_in_14_digit_form(text in gtin_text()) {
        let gtin = Gtin::parse(&text).expect("valid GTIN");
        prop_assert_eq!(gtin.as_str(), format!("{text:0>14}"));
        prop_assert_eq!(Gtin::parse(&gtin.to_string()), Ok(gtin.clone()));
        prop_assert_eq!(gtin.as_str().parse::<Gtin>(), Ok(gtin.clone()));
        let json = serde_json::to_string(&gtin).expect("serialises");
        prop_assert_eq!(serde_json::from_str::<Gtin>(&json).ok(), Some(gtin));
    }

    #[test]
    fn gln_and_sscc_round_trip(gln in with_check_digit(13), sscc in with_check_digit(18)) {
        let parsed_gln = Gln::parse(&gln).expect("valid GLN");
        prop_assert_eq!(parsed_gln.to_string(), gln);
        let json = serde_json::to_string(&parsed_gln).expect("serialises");
        prop_assert_eq!(serde_json::from_str::<Gln>(&json).ok(), Some(parsed_gln));
        let parsed_sscc = Sscc::parse(&sscc).expect("valid SSCC");
        prop_assert_eq!(parsed_sscc.to_string(), sscc);
        let json = serde_json::to_string(&parsed_sscc).expect("serialises");
        prop_assert_eq!(serde_json::from_str::<Sscc>(&json).ok(), Some(parsed_sscc));
    }

    #[test]
    fn changed_check_digit_is_rejected(
        gtin in gtin_text(),
        gln in with_check_digit(13),
        sscc in with_check_digit(18),
        by in 1u32..10,
    ) {
        for (changed, result) in [
            (change_last_digit(&gtin, by), Gtin::parse(&change_last_digit(&gtin, by)).map(|_| ())),
            (change_last_digit(&gln, by), Gln::parse(&change_last_digit(&gln, by)).map(|_| ())),
            (change_last_digit(&sscc, by), Sscc::parse(&change_last_digit(&sscc, by)).map(|_| ())),
        ] {
            let is_check_digit_error = matches!(
                &result,
                Err(Gs1Error::BadCheckDigit { found, .. }) if changed.ends_with(*found)
            );
            prop_assert!(is_check_digit_error, "{} gave {:?}", changed, result);
        }
    }

    #[test]
    fn serial_lot_and_pack_id_round_trip(gtin in with_check_digit(14), text in CSET82_1_TO_20) {
        let serial = Serial::parse(&text).expect("valid serial");
        let lot = Lot::parse(&text).expect("valid lot");
        prop_assert_eq!(serial.to_string(), text.clone());
        prop_assert_eq!(lot.to_string(), text.clone());
        prop_assert_eq!(
            serde_json::from_str::<Serial>(&serde_json::to_string(&serial).expect("json")).ok(),
            Some(serial.clone())
        );
        prop_assert_eq!(
            serde_json::from_str::<Lot>(&serde_json::to_string(&lot).expect("json")).ok(),
            Some(lot)
        );
        let pack = PackId::new(Gtin::parse(&gtin).expect("valid"), serial);
        prop_assert_eq!(pack.to_string().parse::<PackId>(), Ok(pack.clone()));
        let json = serde_json::to_string(&pack).expect("serialises");
        prop_assert_eq!(serde_json::from_str::<PackId>(&json).ok(), Some(pack));
    }

    #[test]
    fn expiry_round_trips(day in date()) {
        let expiry = Expiry::from_date(day);
        prop_assert_eq!(Expiry::parse(&expiry.to_string()), Ok(expiry.clone()));
        prop_assert_eq!(expiry.last_valid_day_with_reference(day.year()), day);
        prop_assert!(!expiry.is_expired_on(day));
        prop_assert_eq!(day.succ_opt().map(|next| expiry.is_expired_on(next)), Some(true));
        let json = serde_json::to_string(&expiry).expect("serialises");
        prop_assert_eq!(serde_json::from_str::<Expiry>(&json).ok(), Some(expiry));
    }

    #[test]
    fn day_zero_expiry_is_last_day_of_month(yy in 0u32..100, month in 1u32..=12, reference in 1950i32..2150) {
        let text = format!("{yy:02}{month:02}00");
        let expiry = Expiry::parse(&text).expect("day 00 is valid");
        prop_assert_eq!(expiry.to_string(), text);
        let last = expiry.last_valid_day_with_reference(reference);
        prop_assert_eq!(last.month(), month);
        prop_assert_eq!(last.succ_opt().map(|d| d.month()), Some(month % 12 + 1));
    }

    #[test]
    fn element_strings_round_trip(data in pharma_data(), symbology in select(Symbology::ALL.to_vec())) {
        // "<GS>" is a scanner GS substitute, so a value containing that text
        // cannot travel in an element string (see gs1::element_string docs).
        prop_assume!(data.elements().iter().all(|e| !e.value().contains("<GS>")));
        let plain = data.to_element_string();
        prop_assert_eq!(Gs1Data::parse_element_string(&plain), Ok(data.clone()));
        prop_assert_eq!(Gs1Data::parse_any(&plain), Ok(data.clone()));
        let scanned = data.to_scan_data(symbology);
        prop_assert_eq!(Gs1Data::parse_element_string(&scanned), Ok(data.clone()));
        prop_assert_eq!(Gs1Data::parse_any(&scanned), Ok(data.clone()));
        let caret = data.to_caret_notation();
        prop_assert_eq!(Gs1Data::parse_element_string(&caret), Ok(data));
    }

    #[test]
    fn bracketed_form_round_trips(data in pharma_data()) {
        let bracketed = data.to_bracketed();
        prop_assert_eq!(Gs1Data::parse_bracketed(&bracketed), Ok(data.clone()));
        prop_assert_eq!(bracketed.parse::<Gs1Data>(), Ok(data));
    }

    #[test]
    fn digital_links_round_trip(data in pharma_data(), stem in stem()) {
        let uri = data.to_digital_link_with_stem(&stem).expect("has a GTIN");
        let parsed = Gs1Data::parse_digital_link_with(&uri, DigitalLinkOptions::STRICT);
        // Pharma data is generated in canonical order (01, 10, 21, then 17),
        // so the URI's path-then-query order reproduces it exactly.
        prop_assert_eq!(parsed.as_ref(), Ok(&data), "{}", uri);
        prop_assert_eq!(Gs1Data::parse_any(&uri), Ok(data.clone()));
        prop_assert_eq!(data.to_digital_link().map(|u| u.starts_with("https://id.gs1.org/01/")), Ok(true));
    }

    #[test]
    fn digital_links_keep_data_in_any_order(data in pharma_data(), rotate in 0usize..4) {
        let mut elements = data.elements().to_vec();
        let len = elements.len();
        elements.rotate_left(rotate % len);
        let mut shuffled = Gs1Data::new();
        for e in &elements {
            shuffled.push(e.ai(), e.value()).expect("valid element");
        }
        let uri = shuffled.to_digital_link().expect("has a GTIN");
        let parsed = Gs1Data::parse_digital_link(&uri).expect("generated URI parses");
        prop_assert_eq!(sorted(&parsed), sorted(&data));
    }

    #[test]
    fn arbitrary_input_is_rejected_or_parsed_without_panic(
        input in prop_oneof![
            ".{0,60}",
            "(\\]d2|\\(|https://a/)?[0-9A-Za-z()%/?&=^<>{}\\\\\u{1d}]{0,60}",
        ]
    ) {
        if let Ok(data) = Gs1Data::parse_any(&input) {
            prop_assert!(!data.elements().is_empty());
            prop_assert_eq!(Gs1Data::parse_bracketed(&data.to_bracketed()), Ok(data));
        }
    }
}
