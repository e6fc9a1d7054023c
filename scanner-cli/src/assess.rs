//! From what was gathered to a verdict: the offline checks of the code,
//! the service's status, the verified evidence and the pack's state
//! recomputed from it — and never OK when any of them disagree.

use base64::Engine as _;
use chrono::NaiveDate;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::gs1::Gln;
use pedigree_schema::receipt::ConsistencyProof;

use crate::client::HttpError;
use crate::code::{expiry_date, PackCode};
use crate::custody::{PackState, Status};
use crate::evidence::{self, names, Check, Outcome, Trust, Verified};
use crate::report::{
    decide, EventLine, EvidenceInfo, OfflineInfo, PackInfo, Reason, ReasonKind, Report, Risk,
};
use crate::store::{Fetched, Gathered};
use crate::wire::{PackStatus, Provenance};

/// How the consistency with the cached checkpoint is established.
pub enum Mode<'a> {
    /// Online: a consistency proof is fetched when the sizes differ.
    Online(&'a dyn Fn(u64, u64) -> Result<ConsistencyProof, HttpError>),
    /// From a bundle: no network; `fetched_at` dates the evidence (`None`:
    /// no bundle is stored for the pack).
    Offline { fetched_at: Option<&'a str> },
}

/// Everything an assessment needs besides what was gathered.
pub struct Context<'a> {
    pub trust: &'a Trust<'a>,
    /// The checkpoint cached by earlier runs, or why it cannot be used.
    pub cached: Result<Option<SignedCheckpoint>, String>,
    /// This party's GLN: an active pack held by another party is suspect.
    pub party_gln: Option<&'a Gln>,
    pub today: NaiveDate,
    pub mode: Mode<'a>,
}

/// A report, and the checkpoint to cache as the latest seen (when the
/// served one verified, was consistent, and is newer than the cache).
pub struct Assessment {
    pub report: Report,
    pub cache: Option<SignedCheckpoint>,
}

/// Reasons, with codes kept unique: the same fact from the status and from
/// the evidence is said once (the first message stays).
#[derive(Default)]
struct Reasons(Vec<Reason>);

impl Reasons {
    fn add(&mut self, kind: ReasonKind, code: &str, message: impl Into<String>) {
        if !self.0.iter().any(|r| r.code == code && r.kind == kind) {
            self.0.push(Reason::new(kind, code, message));
        }
    }
}

pub fn assess(code: &PackCode, source: &str, gathered: &Gathered, ctx: &Context<'_>) -> Assessment {
    let mut reasons = Reasons::default();
    let mut checks: Vec<Check> = Vec::new();
    let pack = &code.pack;

    if let (Some(true), Some(expiry)) = (code.expired_on(ctx.today), &code.expiry) {
        reasons.add(
            ReasonKind::Refusal,
            "expired",
            format!(
                "the expiry printed on the pack, {}, has passed",
                expiry_date(expiry, ctx.today)
            ),
        );
    }

    let status = match &gathered.status {
        Fetched::Got { value } => {
            status_reasons(value, code, &mut reasons);
            Some(value)
        }
        other => {
            let why = other.as_result().err().unwrap_or_default();
            reasons.add(
                ReasonKind::Unverified,
                "status_unavailable",
                format!(
                    "no verification status from the {}: {why}",
                    gathered.status_source
                ),
            );
            None
        }
    };

    let (verified, cache) = match &gathered.provenance {
        Fetched::Got { value } => {
            let (verified, cache) =
                verify_evidence(value, gathered, ctx, code, &mut checks, &mut reasons);
            (verified, cache)
        }
        Fetched::Failed { error } => {
            provenance_refused(error, status, &mut reasons);
            (None, None)
        }
        Fetched::NotAsked { reason } => {
            reasons.add(
                ReasonKind::Unverified,
                "evidence_unavailable",
                format!("no provenance evidence: {reason}"),
            );
            (None, None)
        }
    };

    if let (Some(status), Some(verified)) = (status, &verified) {
        compare(status, &verified.state, &mut reasons);
    }
    if let Some(verified) = &verified {
        state_reasons(&verified.state, code, ctx, &mut reasons);
    }

    let offline = match ctx.mode {
        Mode::Offline { fetched_at } => Some(OfflineInfo {
            fetched_at: fetched_at.map(str::to_string),
            not_checked: not_checked_offline(fetched_at, &checks),
        }),
        Mode::Online(_) => None,
    };
    let verdict = decide(&reasons.0, verified.is_some() && status.is_some());
    let report = Report {
        verdict,
        headline: verdict.headline(),
        exit_code: verdict.exit().code(),
        source: source.to_string(),
        code: code.payload.clone(),
        pack: PackInfo {
            gtin: pack.gtin.to_string(),
            serial: pack.serial.to_string(),
            lot: code
                .lot
                .as_ref()
                .map(ToString::to_string)
                .or_else(|| {
                    verified
                        .as_ref()
                        .and_then(|v| v.state.lot.as_ref())
                        .map(ToString::to_string)
                })
                .or_else(|| status.and_then(|s| s.lot.clone())),
            expiry: code.expiry.as_ref().map(ToString::to_string),
            expiry_date: code.expiry.as_ref().map(|e| expiry_date(e, ctx.today)),
            product: status.and_then(|s| s.product_name.clone()),
        },
        reasons: reasons.0,
        status_source: gathered.status_source.clone(),
        status: status.cloned(),
        evidence: verified
            .as_ref()
            .zip(match &gathered.provenance {
                Fetched::Got { value } => Some(value),
                _ => None,
            })
            .map(|(v, p)| evidence_info(v, p)),
        checks,
        risk: risk(status, &gathered.status_source),
        offline,
    };
    Assessment { report, cache }
}

fn risk(status: Option<&PackStatus>, source: &str) -> Risk {
    match status.and_then(|s| s.risk.as_ref()) {
        Some(risk) => Risk {
            score: Some(risk.score),
            reasons: risk.reasons.clone(),
            note: format!(
                "risk score {:.3} from the {source}{}",
                risk.score,
                if risk.reasons.is_empty() {
                    String::new()
                } else {
                    format!(": {}", risk.reasons.join("; "))
                }
            ),
        },
        None => Risk {
            score: None,
            reasons: Vec::new(),
            note: "no risk score available".into(),
        },
    }
}

/// The service's alerts are reasons as they stand; a status that says not
/// to supply without saying why is one too. A status about another pack
/// means the answer cannot be trusted at all.
fn status_reasons(status: &PackStatus, code: &PackCode, reasons: &mut Reasons) {
    if status.gtin != code.pack.gtin.as_str() || status.serial != code.pack.serial.as_str() {
        reasons.add(
            ReasonKind::Tampering,
            "status_for_another_pack",
            format!(
                "the status answer is about GTIN {} serial {}, not the scanned pack",
                status.gtin, status.serial
            ),
        );
        return;
    }
    for alert in &status.alerts {
        reasons.add(ReasonKind::Refusal, &alert.code, alert.message.clone());
    }
    if !status.ok_to_supply && status.alerts.is_empty() {
        reasons.add(
            ReasonKind::Refusal,
            "not_ok_to_supply",
            format!("the status is {} and not ok to supply", status.status),
        );
    }
}

/// Checks the evidence and, when it verified, its consistency with the
/// cached checkpoint.
fn verify_evidence(
    provenance: &Provenance,
    gathered: &Gathered,
    ctx: &Context<'_>,
    code: &PackCode,
    checks: &mut Vec<Check>,
    reasons: &mut Reasons,
) -> (Option<Verified>, Option<SignedCheckpoint>) {
    let cosigned = gathered.cosigned_checkpoint.as_result().map(String::as_str);
    let (found, verified) = evidence::check_provenance(provenance, cosigned, ctx.trust, &code.pack);
    checks.extend(found);
    let mut cache = None;
    if let Some(verified) = &verified {
        let served = &verified.checkpoint;
        let consistency = match &ctx.cached {
            Err(reason) => Check::unverifiable(names::CONSISTENCY, reason.clone()),
            Ok(cached) => match ctx.mode {
                Mode::Online(fetch) => evidence::check_consistency(cached.as_ref(), served, |old, new| {
                    fetch(old, new).map_err(|e| e.to_string())
                }),
                Mode::Offline { .. } => match cached {
                    Some(c) if c.checkpoint().size() == served.checkpoint().size() => {
                        evidence::check_consistency(Some(c), served, |_, _| Err(String::new()))
                    }
                    Some(c) => Check::skipped(
                        names::CONSISTENCY,
                        format!(
                            "the consistency of the bundle's checkpoint (size {}) with the cached one (size {}) needs a proof from the ledger",
                            served.checkpoint().size(),
                            c.checkpoint().size()
                        ),
                    ),
                    None => Check::skipped(names::CONSISTENCY, "no checkpoint is cached to compare with"),
                },
            },
        };
        let usable = matches!(consistency.result, Outcome::Passed | Outcome::Skipped);
        if usable && matches!(ctx.mode, Mode::Online(_)) {
            let newer = match &ctx.cached {
                Ok(Some(c)) if c.checkpoint().size() >= served.checkpoint().size() => None,
                _ => Some(served.clone()),
            };
            cache = newer;
        }
        checks.push(consistency);
    }
    for check in checks.iter() {
        match (check.result, check.check) {
            (Outcome::Failed, names::CONSISTENCY) => reasons.add(
                ReasonKind::Tampering,
                "checkpoint_inconsistent",
                check.detail.clone(),
            ),
            (Outcome::Failed, name) => reasons.add(
                ReasonKind::Tampering,
                "evidence_invalid",
                format!("{name}: {}", check.detail),
            ),
            (Outcome::Unverifiable, name) => reasons.add(
                ReasonKind::Unverified,
                "evidence_unverifiable",
                format!("{name}: {}", check.detail),
            ),
            _ => {}
        }
    }
    let consistent = checks
        .iter()
        .all(|c| matches!(c.result, Outcome::Passed | Outcome::Skipped));
    (verified.filter(|_| consistent), cache)
}

/// A provenance request that was refused or failed. A party outside the
/// pack's chain is refused its provenance: for a pharmacy holding the pack
/// that means the log never saw it reach them — a clone or a diversion.
fn provenance_refused(error: &HttpError, status: Option<&PackStatus>, reasons: &mut Reasons) {
    match error.status() {
        Some(403) => reasons.add(
            ReasonKind::Refusal,
            "not_in_custody_chain",
            format!(
                "the ledger shows no custody of this pack by this party ({error}); a pack that never reached you may be a clone or diverted"
            ),
        ),
        Some(404) => {
            // No history: consistent only with a status of "unknown".
            if let Some(status) = status.filter(|s| s.status != Status::Unknown.as_str()) {
                reasons.add(
                    ReasonKind::Refusal,
                    "status_evidence_mismatch",
                    format!(
                        "the status says {} but the ledger has no history for the pack ({error})",
                        status.status
                    ),
                );
            }
            reasons.add(
                ReasonKind::Refusal,
                "serial_unknown",
                format!("the ledger has no history for this pack ({error})"),
            );
        }
        _ => reasons.add(
            ReasonKind::Unverified,
            "evidence_unavailable",
            format!("no provenance evidence: {error}"),
        ),
    }
}

/// The status must say what the verified evidence shows.
fn compare(status: &PackStatus, state: &PackState, reasons: &mut Reasons) {
    let mut disagreements = Vec::new();
    if status.status != state.status.as_str() {
        disagreements.push(format!(
            "the status says {} but the evidence shows {}",
            status.status,
            state.status.as_str()
        ));
    }
    if let Some(reason) = state.decommission_reason {
        if status.decommission_reason.as_deref() != Some(reason.as_str()) {
            disagreements.push(format!(
                "the evidence shows the pack decommissioned as {}, the status says {}",
                reason.as_str(),
                status.decommission_reason.as_deref().unwrap_or("nothing")
            ));
        }
    }
    if let (Some(given), Some(proven)) = (&status.lot, &state.lot) {
        if given != proven.as_str() {
            disagreements.push(format!(
                "the status names batch {given}, the evidence batch {proven}"
            ));
        }
    }
    if let Some(recalled) = state.recalled {
        if recalled != status.recalled {
            disagreements.push(format!(
                "the evidence shows the pack {}recalled, the status says the opposite",
                if recalled { "" } else { "not " }
            ));
        }
    }
    for message in disagreements {
        reasons.add(ReasonKind::Refusal, "status_evidence_mismatch", message);
    }
}

/// What the recomputed state says, whatever the status said.
fn state_reasons(state: &PackState, code: &PackCode, ctx: &Context<'_>, reasons: &mut Reasons) {
    match state.status {
        Status::Active => {}
        Status::Unknown => reasons.add(
            ReasonKind::Refusal,
            "serial_unknown",
            "the evidence holds no commissioning of this pack",
        ),
        Status::InTransit => reasons.add(
            ReasonKind::Refusal,
            "in_transit",
            format!(
                "the evidence shows the pack shipped{} and not yet received",
                state
                    .in_transit_to
                    .as_ref()
                    .map(|to| format!(" to {to}"))
                    .unwrap_or_default()
            ),
        ),
        Status::Decommissioned => reasons.add(
            ReasonKind::Refusal,
            "already_decommissioned",
            format!(
                "the evidence shows the pack decommissioned as {}",
                state.decommission_reason.map_or("unknown", |r| r.as_str())
            ),
        ),
    }
    if let (Some(printed), Some(proven)) = (&code.lot, &state.lot) {
        if printed != proven {
            reasons.add(
                ReasonKind::Refusal,
                "batch_mismatch",
                format!(
                    "the code says batch {printed} but the pack was commissioned in batch {proven}"
                ),
            );
        }
    }
    if let Some(expiry) = &state.expiry {
        if code
            .expiry
            .as_ref()
            .is_some_and(|printed| printed != expiry)
        {
            reasons.add(
                ReasonKind::Refusal,
                "expiry_mismatch",
                format!("the code's expiry differs from the batch's, {expiry}"),
            );
        }
        if expiry.is_expired_on(ctx.today) {
            reasons.add(
                ReasonKind::Refusal,
                "expired",
                format!("the batch expired on {}", expiry_date(expiry, ctx.today)),
            );
        }
    }
    if state.recalled == Some(true) {
        reasons.add(
            ReasonKind::Refusal,
            "recalled",
            "the evidence shows the pack recalled (its batch, or it by serial)",
        );
    }
    if let (Some(ours), Some(holder), Status::Active) =
        (ctx.party_gln, &state.custodian, state.status)
    {
        if ours != holder {
            reasons.add(
                ReasonKind::Refusal,
                "not_custodian",
                format!("the evidence shows the pack held by {holder}, not by this party ({ours}): a pack in your hands that the log places elsewhere may be a clone"),
            );
        }
    }
}

fn evidence_info(verified: &Verified, provenance: &Provenance) -> EvidenceInfo {
    let checkpoint = verified.checkpoint.checkpoint();
    EvidenceInfo {
        log: checkpoint.origin().to_string(),
        tree_size: checkpoint.size(),
        root: base64::engine::general_purpose::STANDARD.encode(checkpoint.root()),
        witnesses: verified.witnesses.clone(),
        other_cosignatures: verified.other_cosignatures,
        events: provenance
            .entries
            .iter()
            .map(|e| EventLine {
                index: e.index,
                kind: e.entry.event.body.kind(),
                actor: e.entry.event.actor.to_string(),
                time: e.entry.event.time.to_string(),
            })
            .collect(),
        state: verified.state.clone(),
    }
}

/// What an offline verification cannot know.
fn not_checked_offline(fetched_at: Option<&str>, checks: &[Check]) -> Vec<String> {
    let Some(fetched_at) = fetched_at else {
        return vec!["everything: there is no usable evidence bundle for this pack".into()];
    };
    let mut list = vec![
        format!("anything recorded after {fetched_at}: a later dispense, decommission, shipment or recall does not show"),
        format!("the status and the batch's recall state are the ledger's answers as of {fetched_at}"),
    ];
    list.extend(
        checks
            .iter()
            .filter(|c| c.result == Outcome::Skipped)
            .map(|c| format!("{}: {}", c.check, c.detail)),
    );
    list
}
