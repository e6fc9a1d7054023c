//! A pack's state recomputed from its verified history, by the custody
//! rules as far as they concern one pack (ARCHITECTURE.md, "Decisions"):
//! commissioned active in the manufacturer's hands; a shipment puts it in
//! transit until a receipt that lists it (or a case holding it); a
//! decommission takes it out of the supply chain until a reactivation; a
//! recall of its batch — or a recall listing its serial — stands until
//! lifted. A recall listing serials counts only with a proof that the
//! pack's serial is among them: a pack of the same batch that is not
//! listed is not recalled (and the entry does not belong in its evidence).
//!
//! The replay also checks that every entry concerns the pack — by its
//! identity, its batch, or a case proven to hold it — so a service cannot
//! pad the evidence with unrelated entries.

use std::collections::BTreeSet;

use pedigree_schema::event::{DecommissionReason, EventBody, Item};
use pedigree_schema::gs1::{Expiry, Gln, Lot, PackId};
use serde::Serialize;

use crate::wire::ProvenEntry;

/// Where a pack stands in the supply chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No commissioning in the evidence.
    Unknown,
    Active,
    InTransit,
    Decommissioned,
}

impl Status {
    /// The word the ledger's status answer uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Active => "active",
            Status::InTransit => "in_transit",
            Status::Decommissioned => "decommissioned",
        }
    }
}

/// The pack's state after its last entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackState {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decommission_reason: Option<DecommissionReason>,
    /// Who holds the pack (the sender, while in transit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custodian: Option<Gln>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_transit_to: Option<Gln>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<Lot>,
    /// From a batch registration in the evidence, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<Expiry>,
    /// `None` when the evidence holds no recall or lift of the batch: the
    /// ledger does not list whole-batch recalls in a pack's history (only
    /// recalls listing the pack's serial, and their lifts), so then only
    /// its status answer tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recalled: Option<bool>,
}

/// Why the evidence cannot be replayed for this pack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("entry {index} ({kind}) does not concern pack {pack}")]
    Unrelated {
        index: u64,
        kind: &'static str,
        pack: String,
    },
    #[error("entry {index} commissions the pack again (first at entry {first})")]
    CommissionedTwice { index: u64, first: u64 },
    #[error("entry {index} ({kind}) comes before the pack was commissioned")]
    BeforeCommission { index: u64, kind: &'static str },
}

/// Replays `entries` (already verified: signatures, inclusion and item
/// proofs) in log order.
pub fn replay(pack: &PackId, entries: &[ProvenEntry]) -> Result<PackState, ReplayError> {
    let pack_item = Item::Pack(pack.clone()).to_string();
    // The batch is named by the commissioning, which may come after the
    // batch's own registration: find it first.
    let batch_lot = entries.iter().find_map(|e| match &e.entry.event.body {
        EventBody::Commission { gtin, lot, .. } if *gtin == pack.gtin => Some(lot.clone()),
        _ => None,
    });
    let mut state = PackState {
        status: Status::Unknown,
        decommission_reason: None,
        custodian: None,
        in_transit_to: None,
        lot: None,
        expiry: None,
        recalled: None,
    };
    let mut commissioned_at: Option<u64> = None;
    // Cases currently holding the pack, directly or through other cases,
    // as item texts `(00)<sscc>`.
    let mut cases: BTreeSet<String> = BTreeSet::new();
    for entry in entries {
        let index = entry.index;
        let event = &entry.entry.event;
        let kind = event.body.kind();
        let unrelated = || ReplayError::Unrelated {
            index,
            kind,
            pack: pack.to_string(),
        };
        let proven = entry.item_proof.as_ref().map(|p| p.item.as_str());
        let holds = |item: &str| item == pack_item || cases.contains(item);
        let same_batch = |gtin: &pedigree_schema::gs1::Gtin, lot: &Lot| {
            *gtin == pack.gtin && batch_lot.as_ref() == Some(lot)
        };
        let needs_commissioning = !matches!(
            event.body,
            EventBody::Commission { .. }
                | EventBody::RegisterProduct { .. }
                | EventBody::RegisterBatch { .. }
                | EventBody::Recall { .. }
                | EventBody::LiftRecall { .. }
        );
        if needs_commissioning && commissioned_at.is_none() {
            return Err(ReplayError::BeforeCommission { index, kind });
        }
        match &event.body {
            EventBody::Commission { gtin, lot, .. } => {
                if *gtin != pack.gtin || proven != Some(pack.serial.as_str()) {
                    return Err(unrelated());
                }
                if let Some(first) = commissioned_at {
                    return Err(ReplayError::CommissionedTwice { index, first });
                }
                commissioned_at = Some(index);
                state.status = Status::Active;
                state.custodian = Some(event.actor.clone());
                state.lot = Some(lot.clone());
            }
            EventBody::Aggregate { case, .. } => {
                if !proven.is_some_and(holds) {
                    return Err(unrelated());
                }
                cases.insert(Item::Case(case.clone()).to_string());
            }
            EventBody::Disaggregate { case } => {
                if !cases.remove(&Item::Case(case.clone()).to_string()) {
                    return Err(unrelated());
                }
            }
            EventBody::Ship { to, .. } => {
                if !proven.is_some_and(holds) {
                    return Err(unrelated());
                }
                state.status = Status::InTransit;
                state.in_transit_to = Some(to.clone());
            }
            EventBody::Receive { .. } => match proven {
                Some(item) if holds(item) => {
                    state.status = Status::Active;
                    state.custodian = Some(event.actor.clone());
                    state.in_transit_to = None;
                }
                Some(_) => return Err(unrelated()),
                // A receipt that does not list the pack: it stays in
                // transit (missing items cannot be dispensed).
                None if state.status == Status::InTransit => {}
                None => return Err(unrelated()),
            },
            EventBody::Decommission { pack: p, reason } => {
                if p != pack {
                    return Err(unrelated());
                }
                state.status = Status::Decommissioned;
                state.decommission_reason = Some(*reason);
            }
            EventBody::Reactivate { pack: p } => {
                if p != pack {
                    return Err(unrelated());
                }
                state.status = Status::Active;
                state.decommission_reason = None;
            }
            EventBody::Verify { pack: p, .. } => {
                if p != pack {
                    return Err(unrelated());
                }
            }
            EventBody::Recall {
                gtin, lot, serials, ..
            } => {
                let lists_pack = proven == Some(pack.serial.as_str());
                if !same_batch(gtin, lot) || (serials.is_some() && !lists_pack) {
                    return Err(unrelated());
                }
                state.recalled = Some(true);
            }
            EventBody::LiftRecall { gtin, lot, .. } => {
                if !same_batch(gtin, lot) {
                    return Err(unrelated());
                }
                state.recalled = Some(false);
            }
            EventBody::RegisterBatch {
                gtin, lot, expiry, ..
            } => {
                if !same_batch(gtin, lot) {
                    return Err(unrelated());
                }
                state.expiry = Some(expiry.clone());
            }
            EventBody::RegisterProduct { gtin, .. } => {
                if *gtin != pack.gtin {
                    return Err(unrelated());
                }
            }
            EventBody::RegisterParty { .. }
            | EventBody::RotateKey { .. }
            | EventBody::RevokeKey { .. } => return Err(unrelated()),
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pedigree_schema::event::{
        canonical_item_order, Event, ItemSetRef, ShipmentPurpose, Timestamp,
    };
    use pedigree_schema::gs1::{Gtin, Serial, Sscc};
    use pedigree_schema::itemset::ItemSet;
    use pedigree_schema::keys::SecretKey;

    use crate::wire::ProvenItem;

    fn gln(n: u8) -> Gln {
        let body = format!("95060000000{n}");
        let digit = pedigree_schema::gs1::check_digit(&body).expect("digits");
        Gln::parse(&format!("{body}{digit}")).expect("gln")
    }

    fn pack() -> PackId {
        PackId {
            gtin: Gtin::parse("09506000134352").expect("gtin"),
            serial: Serial::parse("S1").expect("serial"),
        }
    }

    fn case() -> Sscc {
        let body = "09506000100000001";
        let digit = pedigree_schema::gs1::check_digit(body).expect("digits");
        Sscc::parse(&format!("{body}{digit}")).expect("sscc")
    }

    /// An entry at `index` by party `actor`; for item-set kinds the set is
    /// `items` and the proof is for `proven`.
    fn entry(
        index: u64,
        actor: u8,
        items: &[String],
        proven: Option<&str>,
        body: impl FnOnce(ItemSetRef) -> EventBody,
    ) -> ProvenEntry {
        let items = canonical_item_order(items.to_vec());
        let set = ItemSetRef::commit(&items);
        let signed = Event::new(gln(actor), Timestamp::now(), body(set))
            .sign(&SecretKey::generate())
            .expect("signs");
        let item_proof = proven.map(|item| {
            let position = items.iter().position(|i| i == item).expect("in set");
            ProvenItem {
                item: item.to_string(),
                proof: ItemSet::new(&items).proof(&[position]).expect("proof"),
            }
        });
        ProvenEntry {
            index,
            leaf_hash: [0; 32],
            inclusion_proof: Vec::new(),
            entry: signed,
            item_proof,
        }
    }

    fn commission(index: u64) -> ProvenEntry {
        entry(index, 2, &["S0".into(), "S1".into()], Some("S1"), |set| {
            EventBody::Commission {
                gtin: pack().gtin,
                lot: Lot::parse("L1").expect("lot"),
                serials: set,
            }
        })
    }

    fn pack_item() -> String {
        Item::Pack(pack()).to_string()
    }

    fn case_item() -> String {
        Item::Case(case()).to_string()
    }

    #[test]
    fn a_case_shipped_and_received_carries_the_pack_to_the_receiver() {
        let entries = [
            commission(5),
            entry(6, 2, &[pack_item()], Some(&pack_item()), |set| {
                EventBody::Aggregate {
                    case: case(),
                    contents: set,
                }
            }),
            entry(7, 2, &[case_item()], Some(&case_item()), |set| {
                EventBody::Ship {
                    shipment: "SH1".into(),
                    to: gln(3),
                    purpose: ShipmentPurpose::Sale,
                    contents: set,
                }
            }),
        ];
        let in_transit = replay(&pack(), &entries).expect("replays");
        assert_eq!(in_transit.status, Status::InTransit);
        assert_eq!(in_transit.in_transit_to, Some(gln(3)));
        assert_eq!(in_transit.custodian, Some(gln(2)));
        let mut received = entries.to_vec();
        received.push(entry(8, 3, &[case_item()], Some(&case_item()), |set| {
            EventBody::Receive {
                shipment: "SH1".into(),
                from: gln(2),
                received: set,
            }
        }));
        let state = replay(&pack(), &received).expect("replays");
        assert_eq!(state.status, Status::Active);
        assert_eq!(state.custodian, Some(gln(3)));
        assert_eq!(state.lot, Some(Lot::parse("L1").expect("lot")));
    }

    #[test]
    fn the_last_decommission_without_a_later_reactivation_decides() {
        let decommission = |index| {
            entry(index, 2, &[], None, |_| EventBody::Decommission {
                pack: pack(),
                reason: DecommissionReason::Dispensed,
            })
        };
        let reactivate = entry(11, 2, &[], None, |_| EventBody::Reactivate { pack: pack() });
        let undone = replay(
            &pack(),
            &[commission(1), decommission(10), reactivate.clone()],
        )
        .expect("replays");
        assert_eq!(undone.status, Status::Active);
        let again = replay(
            &pack(),
            &[
                commission(1),
                decommission(10),
                reactivate,
                decommission(12),
            ],
        )
        .expect("replays");
        assert_eq!(again.status, Status::Decommissioned);
        assert_eq!(
            again.decommission_reason,
            Some(DecommissionReason::Dispensed)
        );
    }

    #[test]
    fn a_recall_of_the_pack_s_batch_in_the_evidence_counts_until_lifted() {
        let recall = entry(3, 1, &[], None, |_| EventBody::Recall {
            gtin: pack().gtin,
            lot: Lot::parse("L1").expect("lot"),
            reason: "contamination".into(),
            serials: None,
        });
        let state = replay(&pack(), &[commission(2), recall]).expect("replays");
        assert_eq!(state.recalled, Some(true));
        let other_batch = entry(3, 1, &[], None, |_| EventBody::Recall {
            gtin: pack().gtin,
            lot: Lot::parse("L2").expect("lot"),
            reason: "contamination".into(),
            serials: None,
        });
        assert!(matches!(
            replay(&pack(), &[commission(2), other_batch]),
            Err(ReplayError::Unrelated { index: 3, .. })
        ));
    }

    fn selective_recall(proven: &str) -> ProvenEntry {
        entry(3, 1, &["S0".into(), "S1".into()], Some(proven), |set| {
            EventBody::Recall {
                gtin: pack().gtin,
                lot: Lot::parse("L1").expect("lot"),
                reason: "tampered packs".into(),
                serials: Some(set),
            }
        })
    }

    #[test]
    fn a_recall_listing_serials_counts_only_for_a_listed_pack() {
        let state = replay(&pack(), &[commission(2), selective_recall("S1")]).expect("replays");
        assert_eq!(state.recalled, Some(true));
        // The entry proves another serial of the batch: it does not concern
        // this pack, which must not show as recalled.
        assert!(matches!(
            replay(&pack(), &[commission(2), selective_recall("S0")]),
            Err(ReplayError::Unrelated { index: 3, .. })
        ));
        let state = replay(&pack(), &[commission(2)]).expect("replays");
        assert_eq!(state.recalled, None);
    }

    #[test]
    fn entries_about_other_packs_or_before_commissioning_are_refused() {
        let other = PackId {
            serial: Serial::parse("S9").expect("serial"),
            ..pack()
        };
        let foreign = entry(4, 2, &[], None, |_| EventBody::Decommission {
            pack: other,
            reason: DecommissionReason::Destroyed,
        });
        assert!(matches!(
            replay(&pack(), &[commission(1), foreign]),
            Err(ReplayError::Unrelated { index: 4, .. })
        ));
        let early = entry(0, 2, &[], None, |_| EventBody::Verify {
            pack: pack(),
            lot: None,
            expiry: None,
            location: None,
        });
        assert_eq!(
            replay(&pack(), &[early, commission(1)]),
            Err(ReplayError::BeforeCommission {
                index: 0,
                kind: "verify"
            })
        );
        // A commissioning whose proof is for another serial is not this pack's.
        let wrong = entry(1, 2, &["S0".into(), "S1".into()], Some("S0"), |set| {
            EventBody::Commission {
                gtin: pack().gtin,
                lot: Lot::parse("L1").expect("lot"),
                serials: set,
            }
        });
        assert!(replay(&pack(), &[wrong]).is_err());
        assert_eq!(replay(&pack(), &[]).expect("empty").status, Status::Unknown);
    }
}
