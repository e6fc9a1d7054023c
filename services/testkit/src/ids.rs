//! GS1 identifiers written in tests by their body, the check digit computed here (GS1 General
//! Specifications §7.9.1), and the batch a scenario's packs belong to.

use chrono::{Duration, NaiveDate, Utc};
use pedigree_schema::event::Item;
use pedigree_schema::gs1::{check_digit, Expiry, Gln, Gs1Data, Gtin, Lot, PackId, Serial, Sscc};

/// `body` followed by its GS1 mod-10 check digit.
pub fn with_check_digit(body: &str) -> String {
    let digit = check_digit(body).expect("a numeric identifier body");
    format!("{body}{digit}")
}

/// A GLN from its 12-digit body.
pub fn gln(body: &str) -> Gln {
    Gln::parse(&with_check_digit(body)).expect("a valid GLN")
}

/// A GTIN-14 from its 13-digit body.
pub fn gtin(body: &str) -> Gtin {
    Gtin::parse(&with_check_digit(body)).expect("a valid GTIN")
}

/// An SSCC from its 17-digit body.
pub fn sscc(body: &str) -> Sscc {
    Sscc::parse(&with_check_digit(body)).expect("a valid SSCC")
}

pub fn lot(text: &str) -> Lot {
    Lot::parse(text).expect("a valid lot")
}

pub fn pack(gtin: &Gtin, serial: &str) -> PackId {
    PackId::new(gtin.clone(), Serial::parse(serial).expect("a valid serial"))
}

/// The item text of a pack, `(01)<gtin>(21)<serial>`, as event item lists hold it.
pub fn pack_item(pack: &PackId) -> String {
    Item::Pack(pack.clone()).to_string()
}

/// The item text of a case, `(00)<sscc>`.
pub fn case_item(case: &Sscc) -> String {
    Item::Case(case.clone()).to_string()
}

/// A case's logistic label as a scanner types it: AI `00` and the SSCC.
pub fn scan_case(case: &Sscc) -> String {
    format!("00{case}")
}

/// A batch of a product, with its expiry.
#[derive(Clone, Debug)]
pub struct Batch {
    pub gtin: Gtin,
    pub lot: Lot,
    pub expiry: Expiry,
}

impl Batch {
    /// A batch expiring about two years from now.
    pub fn fresh(gtin: &Gtin, lot_text: &str) -> Self {
        Self::expiring(
            gtin,
            lot_text,
            Utc::now().date_naive() + Duration::days(730),
        )
    }

    pub fn expiring(gtin: &Gtin, lot_text: &str, date: NaiveDate) -> Self {
        Self {
            gtin: gtin.clone(),
            lot: lot(lot_text),
            expiry: Expiry::from_date(date),
        }
    }

    pub fn pack(&self, serial: &str) -> PackId {
        pack(&self.gtin, serial)
    }

    /// The item text of a pack of this batch.
    pub fn item(&self, serial: &str) -> String {
        pack_item(&self.pack(serial))
    }

    /// What a pack's 2D code carries: GTIN, expiry, lot, serial.
    pub fn code(&self, serial: &str) -> Gs1Data {
        self.code_with_lot(serial, &self.lot)
    }

    /// A pack's DataMatrix as a scanner types it: an element string with GS separators.
    pub fn scan(&self, serial: &str) -> String {
        self.code(serial).to_element_string()
    }

    /// The same code printed with another lot (a falsified or mislabelled pack).
    pub fn scan_with_lot(&self, serial: &str, lot_text: &str) -> String {
        self.code_with_lot(serial, &lot(lot_text))
            .to_element_string()
    }

    fn code_with_lot(&self, serial: &str, lot: &Lot) -> Gs1Data {
        let mut data = Gs1Data::new();
        data.push("01", self.gtin.as_str()).expect("GTIN element");
        data.push("17", self.expiry.as_str())
            .expect("expiry element");
        data.push("10", lot.as_str()).expect("lot element");
        data.push("21", serial).expect("serial element");
        data
    }
}
