//! Scanned codes as the custody events need them, and the ledger's verdict
//! on a scanned pack — shared by every party that receives, ships, returns
//! or supplies goods (the pharmacy service uses this module too).
//!
//! A scanner reads a GS1 element string (a pack's DataMatrix, GenSpecs
//! §7.8), the bracketed human-readable form (§4.15), a GS1 Digital Link URI,
//! or a logistic label's SSCC, AI (00) (§3.3.1). Whatever the syntax, an
//! item's identity is its SSCC or its GTIN plus serial number — the lot and
//! expiry a pack's code also carries are checked by the ledger's
//! verification, not part of the identity — and event item lists hold it in
//! the one text form [`Item`] writes, sorted by [`canonical_item_order`].

use pedigree_schema::event::{canonical_item_order, Item};
use pedigree_schema::gs1::{Gs1Data, Gs1Error, PackId, Sscc};
use serde::{Deserialize, Serialize};

/// Why scanned input cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("the code is not readable GS1 data: {0}")]
    Unreadable(Gs1Error),
    #[error("the code is neither a case ((00) SSCC) nor a serialised pack: {0}")]
    NotAnItem(Gs1Error),
    #[error("the code is a case ((00) SSCC), but a single pack ((01) GTIN and (21) serial) is needed here")]
    NotAPack,
    #[error("scanned code {index} (counting from 0): {source}")]
    InList {
        index: usize,
        #[source]
        source: Box<ScanError>,
    },
    #[error("nothing was scanned: at least one pack or case is needed")]
    NothingScanned,
}

impl ScanError {
    /// A stable machine-readable code for API answers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable(_) => "unreadable_code",
            Self::NotAnItem(_) => "not_an_item",
            Self::NotAPack => "not_a_pack",
            Self::InList { source, .. } => source.code(),
            Self::NothingScanned => "nothing_scanned",
        }
    }
}

/// The item a scanned code identifies: a case when the code carries an
/// SSCC, AI (00) (a logistic label may also carry (02) content and (37)
/// count, which do not change which case it is), otherwise a pack by its
/// (01) GTIN and (21) serial.
pub fn scan_item(code: &str) -> Result<Item, ScanError> {
    let data = Gs1Data::parse_any(code).map_err(ScanError::Unreadable)?;
    match data.value("00") {
        Some(sscc) => Sscc::parse(sscc)
            .map(Item::Case)
            .map_err(ScanError::NotAnItem),
        None => data.pack_id().map(Item::Pack).map_err(ScanError::NotAnItem),
    }
}

/// The pack a scanned code identifies; a case label is refused.
pub fn scan_pack(code: &str) -> Result<PackId, ScanError> {
    match scan_item(code)? {
        Item::Pack(pack) => Ok(pack),
        Item::Case(_) => Err(ScanError::NotAPack),
    }
}

/// The item list of scanned codes, normalised to [`Item`] text in canonical
/// order. A code scanned twice names one item, so duplicates collapse (a
/// hand scanner often reads a label twice). Errors name the code's position.
pub fn scan_items(codes: &[String]) -> Result<Vec<String>, ScanError> {
    let items = codes
        .iter()
        .enumerate()
        .map(|(index, code)| {
            scan_item(code)
                .map(|item| item.to_string())
                .map_err(|source| ScanError::InList {
                    index,
                    source: Box::new(source),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(canonical_item_order(items))
}

/// Like [`scan_items`], for lists that must not be empty (a shipment).
pub fn scan_nonempty_items(codes: &[String]) -> Result<Vec<String>, ScanError> {
    let items = scan_items(codes)?;
    if items.is_empty() {
        return Err(ScanError::NothingScanned);
    }
    Ok(items)
}

/// One alert of the ledger's verification (FMD alert codes where the FMD
/// has one, e.g. `already_decommissioned` for A7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerAlert {
    pub code: String,
    pub message: String,
}

/// The part of the ledger's verification answer (`GET /v1/scan`) that
/// decides whether a pack may be handled.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PackVerdict {
    /// `active`, `in_transit`, `decommissioned` or `unknown`.
    pub status: String,
    pub ok_to_supply: bool,
    pub alerts: Vec<LedgerAlert>,
}

/// Why a verified pack may not be handled: the ledger's first alert code,
/// and every alert in the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

/// The alert a pack in a return shipment carries until it is received.
const IN_TRANSIT: &str = "in_transit";

impl PackVerdict {
    /// Refuses unless the ledger says the pack may be supplied (FMD: a pack
    /// is dispensed only after a verification without alerts).
    pub fn supply_refusal(&self) -> Option<Refusal> {
        if self.ok_to_supply {
            return None;
        }
        Some(self.refusal(&self.alerts).unwrap_or_else(|| Refusal {
            code: "not_ok_to_supply".into(),
            message: format!(
                "the ledger does not allow supplying a pack that is {}",
                self.status
            ),
        }))
    }

    /// Refuses a returned pack that is unknown, decommissioned, recalled,
    /// expired, or whose code does not match its batch: every alert but
    /// `in_transit`, which a returned pack carries until it is received
    /// (DSCSA §582(c)(4)(D): saleable returns are verified before resale).
    pub fn return_refusal(&self) -> Option<Refusal> {
        let blocking: Vec<LedgerAlert> = self
            .alerts
            .iter()
            .filter(|alert| alert.code != IN_TRANSIT)
            .cloned()
            .collect();
        self.refusal(&blocking)
    }

    fn refusal(&self, alerts: &[LedgerAlert]) -> Option<Refusal> {
        let first = alerts.first()?;
        let message = alerts
            .iter()
            .map(|alert| format!("{}: {}", alert.code, alert.message))
            .collect::<Vec<_>>()
            .join("; ");
        Some(Refusal {
            code: first.code.clone(),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pedigree_schema::gs1::{check_digit, Gtin, Serial};

    fn with_check_digit(body: &str) -> String {
        format!("{body}{}", check_digit(body).expect("digits"))
    }

    fn gtin() -> String {
        with_check_digit("0950600013435")
    }

    fn sscc() -> String {
        with_check_digit("09506000100000001")
    }

    fn pack_text(serial: &str) -> String {
        format!("(01){}(21){serial}", gtin())
    }

    #[test]
    fn every_syntax_of_a_pack_code_names_the_same_item() {
        let gtin = gtin();
        let forms = [
            format!("01{gtin}17271231\u{1d}10LOT1\u{1d}21S1"),
            format!("]d201{gtin}21S1\u{1d}10LOT1"),
            format!("(01){gtin}(17)271231(10)LOT1(21)S1"),
            format!("https://id.gs1.org/01/{gtin}/10/LOT1/21/S1?17=271231"),
            format!("{}\r\n", pack_text("S1")),
        ];
        for form in forms {
            assert_eq!(
                scan_item(&form).map(|item| item.to_string()),
                Ok(pack_text("S1")),
                "{form:?}"
            );
        }
    }

    #[test]
    fn an_sscc_label_is_a_case_even_with_content_elements() {
        let sscc = sscc();
        let expected = format!("(00){sscc}");
        for form in [
            format!("00{sscc}"),
            format!("(00){sscc}(02){}(37)12", gtin()),
        ] {
            assert_eq!(
                scan_item(&form).map(|item| item.to_string()),
                Ok(expected.clone())
            );
        }
    }

    #[test]
    fn unreadable_and_unserialised_codes_are_refused_with_their_reason() {
        assert!(matches!(
            scan_item("not a barcode"),
            Err(ScanError::Unreadable(_))
        ));
        assert!(matches!(
            scan_item(&format!("(01){}(10)LOT1", gtin())),
            Err(ScanError::NotAnItem(Gs1Error::Missing { .. }))
        ));
        let bad_sscc = format!("(00){}", "123456789012345678");
        assert!(matches!(
            scan_item(&bad_sscc),
            Err(ScanError::Unreadable(_) | ScanError::NotAnItem(_))
        ));
    }

    #[test]
    fn scan_pack_refuses_a_case_label() {
        assert_eq!(
            scan_pack(&format!("(00){}", sscc())),
            Err(ScanError::NotAPack)
        );
        assert_eq!(
            scan_pack(&pack_text("S9")),
            Ok(PackId::new(
                Gtin::parse(&gtin()).expect("gtin"),
                Serial::parse("S9").expect("serial")
            ))
        );
    }

    #[test]
    fn scanned_lists_are_sorted_and_deduplicated() {
        let codes = vec![
            pack_text("S2"),
            format!("00{}", sscc()),
            format!("01{}21S1", gtin()),
            pack_text("S2"),
        ];
        assert_eq!(
            scan_items(&codes),
            Ok(vec![
                format!("(00){}", sscc()),
                pack_text("S1"),
                pack_text("S2")
            ])
        );
    }

    #[test]
    fn list_errors_name_the_position_and_keep_the_code() {
        let codes = vec![pack_text("S1"), "garbage".to_string()];
        let error = scan_items(&codes).expect_err("the second code is unreadable");
        assert!(matches!(error, ScanError::InList { index: 1, .. }));
        assert_eq!(error.code(), "unreadable_code");
        assert!(error.to_string().starts_with("scanned code 1"));
    }

    #[test]
    fn an_empty_scan_is_allowed_for_receipts_but_not_shipments() {
        assert_eq!(scan_items(&[]), Ok(vec![]));
        assert_eq!(scan_nonempty_items(&[]), Err(ScanError::NothingScanned));
    }

    fn verdict(status: &str, ok: bool, codes: &[&str]) -> PackVerdict {
        PackVerdict {
            status: status.into(),
            ok_to_supply: ok,
            alerts: codes
                .iter()
                .map(|code| LedgerAlert {
                    code: code.to_string(),
                    message: format!("{code} happened"),
                })
                .collect(),
        }
    }

    #[test]
    fn supply_is_refused_with_the_ledgers_alerts() {
        assert_eq!(verdict("active", true, &[]).supply_refusal(), None);
        let refusal = verdict(
            "decommissioned",
            false,
            &["already_decommissioned", "recalled"],
        )
        .supply_refusal()
        .expect("refused");
        assert_eq!(refusal.code, "already_decommissioned");
        assert_eq!(
            refusal.message,
            "already_decommissioned: already_decommissioned happened; recalled: recalled happened"
        );
        assert_eq!(
            verdict("active", false, &[])
                .supply_refusal()
                .map(|r| r.code),
            Some("not_ok_to_supply".into())
        );
    }

    #[test]
    fn a_return_in_transit_is_acceptable_but_nothing_else() {
        assert_eq!(
            verdict("in_transit", false, &["in_transit"]).return_refusal(),
            None
        );
        assert_eq!(verdict("active", true, &[]).return_refusal(), None);
        for code in [
            "serial_unknown",
            "already_decommissioned",
            "recalled",
            "expired",
            "batch_mismatch",
        ] {
            let refusal = verdict("in_transit", false, &["in_transit", code]).return_refusal();
            assert_eq!(refusal.map(|r| r.code), Some(code.to_string()));
        }
    }

    #[test]
    fn the_ledgers_status_answer_parses_with_extra_fields() {
        let answer = serde_json::json!({
            "gtin": gtin(), "serial": "S1", "status": "active", "recalled": false,
            "expired": false, "ok_to_supply": true, "alerts": [], "tree_size": 9
        });
        let parsed: PackVerdict = serde_json::from_value(answer).expect("parses");
        assert_eq!(parsed, verdict("active", true, &[]));
    }
}
