//! What a verification concludes, for people (a verdict readable at a
//! glance, then the reasons) and for programs (the JSON object documented
//! in the README, "verify --json").

use std::fmt::Write as _;

use serde::Serialize;

use crate::custody::PackState;
use crate::evidence::{Check, Outcome};
use crate::exit::Exit;
use crate::wire::PackStatus;

/// The answer to "may I hand this pack over?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    OkToDispense,
    DoNotDispense,
    CannotVerify,
}

impl Verdict {
    /// The verdict as serialised: `ok_to_dispense`, `do_not_dispense`,
    /// `cannot_verify`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::OkToDispense => "ok_to_dispense",
            Verdict::DoNotDispense => "do_not_dispense",
            Verdict::CannotVerify => "cannot_verify",
        }
    }

    pub fn headline(self) -> &'static str {
        match self {
            Verdict::OkToDispense => "OK TO DISPENSE",
            Verdict::DoNotDispense => "DO NOT DISPENSE",
            Verdict::CannotVerify => "CANNOT VERIFY",
        }
    }

    pub fn exit(self) -> Exit {
        match self {
            Verdict::OkToDispense => Exit::Ok,
            Verdict::DoNotDispense => Exit::Refused,
            Verdict::CannotVerify => Exit::Unverified,
        }
    }
}

/// What a reason says about the answers received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// The evidence is not what the log signed, or the log forked.
    Tampering,
    /// The pack must not be dispensed (or is suspect).
    Refusal,
    /// Something needed could not be had or checked.
    Unverified,
}

/// One reason for the verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// An FMD-style code in words: `already_decommissioned`, `recalled`…
    pub code: String,
    /// The FMD alert number, where the FMD has one (`A7`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fmd: Option<&'static str>,
    pub kind: ReasonKind,
    pub message: String,
}

impl Reason {
    pub fn new(kind: ReasonKind, code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            fmd: fmd_alert(code),
            kind,
            message: message.into(),
        }
    }

    /// The code as a few words for people.
    pub fn words(&self) -> String {
        match self.code.as_str() {
            "already_decommissioned" => "pack already decommissioned".into(),
            "serial_unknown" => "serial number unknown".into(),
            "batch_unknown" => "batch unknown".into(),
            "product_unknown" => "product unknown".into(),
            "batch_mismatch" => "batch number does not match".into(),
            "expiry_mismatch" => "expiry date does not match".into(),
            "recalled" => "batch recalled".into(),
            "expired" => "pack expired".into(),
            "in_transit" => "pack in transit, not received".into(),
            "not_in_custody_chain" => "pack never reached this party".into(),
            "not_custodian" => "pack held by another party".into(),
            "status_evidence_mismatch" => "status contradicts the evidence".into(),
            "evidence_invalid" => "evidence does not verify".into(),
            "checkpoint_inconsistent" => "log inconsistent with the cached checkpoint".into(),
            other => other.replace('_', " "),
        }
    }
}

/// The FMD alert numbers of the ledger's codes (README, "Rejection codes").
fn fmd_alert(code: &str) -> Option<&'static str> {
    match code {
        "batch_unknown" => Some("A2"),
        "serial_unknown" => Some("A3"),
        "already_decommissioned" => Some("A7"),
        "status_change_not_allowed" => Some("A24"),
        "expiry_mismatch" => Some("A52"),
        "batch_mismatch" => Some("A68"),
        _ => None,
    }
}

/// The verdict the reasons lead to. Tampering outweighs everything (no
/// answer of that service can be trusted); then any refusal; then anything
/// unverified. OK needs no reason at all and fully verified evidence.
pub fn decide(reasons: &[Reason], evidence_verified: bool) -> Verdict {
    let any = |kind| reasons.iter().any(|r| r.kind == kind);
    if any(ReasonKind::Tampering) {
        Verdict::CannotVerify
    } else if any(ReasonKind::Refusal) {
        Verdict::DoNotDispense
    } else if any(ReasonKind::Unverified) || !evidence_verified {
        Verdict::CannotVerify
    } else {
        Verdict::OkToDispense
    }
}

/// The pack as identified by its code (and the product's name, if given).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PackInfo {
    pub gtin: String,
    pub serial: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// `YYMMDD` as printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// The last day of use, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
}

/// One entry of the verified history, in brief.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventLine {
    pub index: u64,
    pub kind: &'static str,
    pub actor: String,
    pub time: String,
}

/// The verified evidence, in brief.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvidenceInfo {
    pub log: String,
    pub tree_size: u64,
    /// Base64 root hash of the checkpoint.
    pub root: String,
    pub witnesses: Vec<String>,
    pub other_cosignatures: usize,
    pub events: Vec<EventLine>,
    /// The pack's state recomputed from the events.
    pub state: PackState,
}

/// The risk score, when a service gives one. Advisory: it is shown, and
/// does not change the verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Risk {
    pub score: Option<f64>,
    pub reasons: Vec<String>,
    pub note: String,
}

/// What an offline verification used and could not check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OfflineInfo {
    /// When the bundle was fetched; `null` when none is stored.
    pub fetched_at: Option<String>,
    pub not_checked: Vec<String>,
}

/// The whole result of verifying one code.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub headline: &'static str,
    pub exit_code: u8,
    pub source: String,
    pub code: String,
    pub pack: PackInfo,
    pub reasons: Vec<Reason>,
    /// Who gave the status: `ledger` or `pharmacy`.
    pub status_source: String,
    pub status: Option<PackStatus>,
    pub evidence: Option<EvidenceInfo>,
    pub checks: Vec<Check>,
    pub risk: Risk,
    pub offline: Option<OfflineInfo>,
}

impl Report {
    /// The report for people: the verdict first, then the pack, reasons,
    /// evidence, anything not checked, and the risk score.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}    [{}]", self.headline, self.source);
        let pack = &self.pack;
        let mut identity = format!("GTIN {}, serial {}", pack.gtin, pack.serial);
        if let Some(lot) = &pack.lot {
            let _ = write!(identity, ", batch {lot}");
        }
        if let Some(date) = &pack.expiry_date {
            let _ = write!(identity, ", expiry {date}");
        }
        match &pack.product {
            Some(product) => {
                let _ = writeln!(out, "  Pack:      {product} — {identity}");
            }
            None => {
                let _ = writeln!(out, "  Pack:      {identity}");
            }
        }
        for reason in &self.reasons {
            let number = reason.fmd.map(|n| format!("{n} ")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  Reason:    {number}{}: {}",
                reason.words(),
                reason.message
            );
        }
        if let Some(evidence) = &self.evidence {
            let _ = writeln!(
                out,
                "  Evidence:  {} event(s) verified against checkpoint {} of {} ({} witness cosignature(s), {} other); recomputed status: {}",
                evidence.events.len(),
                evidence.tree_size,
                evidence.log,
                evidence.witnesses.len(),
                evidence.other_cosignatures,
                evidence.state.status.as_str()
            );
        }
        for check in &self.checks {
            let label = match check.result {
                Outcome::Failed => "Failed:    ",
                Outcome::Unverifiable => "Unchecked: ",
                Outcome::Skipped => "Skipped:   ",
                Outcome::Passed => continue,
            };
            let _ = writeln!(out, "  {label}{}: {}", check.check, check.detail);
        }
        if let Some(offline) = &self.offline {
            let _ = writeln!(
                out,
                "  Offline:   evidence fetched at {}; not checked:",
                offline.fetched_at.as_deref().unwrap_or("(never)")
            );
            for item in &offline.not_checked {
                let _ = writeln!(out, "             - {item}");
            }
        }
        let _ = writeln!(out, "  Risk:      {}", self.risk.note);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(kind: ReasonKind) -> Reason {
        Reason::new(kind, "x", "y")
    }

    #[test]
    fn tampering_outweighs_refusals_and_ok_needs_verified_evidence_and_no_reason() {
        use ReasonKind::*;
        assert_eq!(
            decide(&[reason(Refusal), reason(Tampering)], true),
            Verdict::CannotVerify
        );
        assert_eq!(
            decide(&[reason(Unverified), reason(Refusal)], false),
            Verdict::DoNotDispense
        );
        assert_eq!(decide(&[reason(Unverified)], true), Verdict::CannotVerify);
        assert_eq!(decide(&[], false), Verdict::CannotVerify);
        assert_eq!(decide(&[], true), Verdict::OkToDispense);
    }

    #[test]
    fn ledger_codes_carry_their_fmd_alert_numbers() {
        let reason = Reason::new(ReasonKind::Refusal, "already_decommissioned", "m");
        assert_eq!(reason.fmd, Some("A7"));
        assert_eq!(reason.words(), "pack already decommissioned");
        assert_eq!(Reason::new(ReasonKind::Refusal, "recalled", "m").fmd, None);
        assert_eq!(
            Reason::new(ReasonKind::Refusal, "some_new_code", "m").words(),
            "some new code"
        );
    }
}
