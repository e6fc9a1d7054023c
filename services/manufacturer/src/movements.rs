//! Packing, shipping and recalling: `aggregate`, `ship` and `recall` events.

use std::collections::HashSet;

use diesel::prelude::*;
use pedigree_party::db::schema::outbox;
use pedigree_party::db::DbConnection;
use pedigree_party::{Operation, OutboxStatus, PartyError};
use pedigree_schema::event::{canonical_item_order, EventBody, Item, ItemSetRef, ShipmentPurpose};
use pedigree_schema::gs1::{Gln, Gtin, Lot, PackId, Sscc};
use serde::Deserialize;
use serde_json::Value;

use crate::items::parse_items;
use crate::{batches, input, serials};

/// How deep cases may nest when their packs are listed (pack → case → pallet → …).
pub const MAX_NESTING: usize = 8;

/// `POST /v1/cases`: the case's SSCC and what goes in it (packs and cases).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    pub sscc: String,
    pub items: Vec<Value>,
}

/// `POST /v1/shipments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentRequest {
    pub shipment_id: String,
    /// The receiver's GLN.
    pub to: String,
    pub items: Vec<Value>,
    /// `sale` (default) or `return`.
    #[serde(default)]
    pub purpose: ShipmentPurpose,
}

/// `POST /v1/recalls`: the whole batch, or only `serials` of it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallRequest {
    pub gtin: String,
    pub lot: String,
    pub reason: String,
    /// Only these serials of the batch (1 to a million, no duplicates); the ledger refuses
    /// serials that are not commissioned in the batch.
    #[serde(default)]
    pub serials: Option<Vec<String>>,
}

impl CaseRequest {
    /// The `aggregate` operation; a case may hold cases (a pallet), never itself.
    pub fn parse(self) -> Result<Operation, PartyError> {
        let case = input::gs1("sscc", Sscc::parse(&self.sscc))?;
        let items = parse_items(&self.items)?;
        if items.contains(&Item::Case(case.clone()).to_string()) {
            return Err(PartyError::bad_request(
                "invalid_item",
                format!("case {case} cannot contain itself"),
            ));
        }
        Ok(Operation {
            body: EventBody::Aggregate {
                case,
                contents: ItemSetRef::commit(&items),
            },
            items: Some(items),
        })
    }
}

impl ShipmentRequest {
    /// The `ship` operation (the shipment id's syntax is checked by the outbox, which
    /// validates every event).
    pub fn parse(self) -> Result<Operation, PartyError> {
        let to = input::gs1("to", Gln::parse(&self.to))?;
        let items = parse_items(&self.items)?;
        Ok(Operation {
            body: EventBody::Ship {
                shipment: self.shipment_id,
                to,
                purpose: self.purpose,
                contents: ItemSetRef::commit(&items),
            },
            items: Some(items),
        })
    }
}

impl RecallRequest {
    /// The `recall` operation, for a batch registered here: of the whole batch, or of the
    /// listed serials (committed as the event's item set).
    pub fn parse(self, conn: &mut DbConnection) -> Result<Operation, PartyError> {
        let gtin = input::gs1("gtin", Gtin::parse(&self.gtin))?;
        let lot = input::gs1("lot", Lot::parse(&self.lot))?;
        input::text("reason", &self.reason)?;
        let items = self
            .serials
            .map(|list| {
                let serials = serials::listed_serials(&list)?;
                Ok::<_, PartyError>(canonical_item_order(
                    serials.into_iter().map(String::from).collect(),
                ))
            })
            .transpose()?;
        batches::require(conn, &gtin, &lot)?;
        Ok(Operation {
            body: EventBody::Recall {
                gtin,
                lot,
                reason: self.reason,
                serials: items.as_deref().map(ItemSetRef::commit),
            },
            items,
        })
    }
}

/// The packs in case `sscc` as packed here, including those in the cases it holds, in
/// canonical order. Reads the `aggregate` events in the outbox that the ledger has not
/// rejected.
pub fn packs_in_case(conn: &mut DbConnection, sscc: &Sscc) -> Result<Vec<PackId>, PartyError> {
    let mut packs = Vec::new();
    let mut seen = HashSet::new();
    let mut level = vec![sscc.clone()];
    for _ in 0..MAX_NESTING {
        if level.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for case in level {
            if !seen.insert(case.clone()) {
                continue;
            }
            let items = case_items(conn, &case)?
                .ok_or_else(|| PartyError::not_found(format!("case {case} was not packed here")))?;
            for (index, text) in items.iter().enumerate() {
                match Item::parse_at(text, index)
                    .map_err(|e| PartyError::Internal(format!("stored item of case {case}: {e}")))?
                {
                    Item::Pack(pack) => packs.push(pack),
                    Item::Case(inner) => next.push(inner),
                }
            }
        }
        level = next;
    }
    packs.sort_unstable();
    packs.dedup();
    Ok(packs)
}

/// The items of the newest non-rejected `aggregate` of `sscc` in the outbox.
fn case_items(conn: &mut DbConnection, sscc: &Sscc) -> Result<Option<Vec<String>>, PartyError> {
    /// The parts of a stored `aggregate` submission needed here.
    #[derive(Deserialize)]
    struct Aggregate {
        event: AggregateEvent,
    }
    #[derive(Deserialize)]
    struct AggregateEvent {
        body: AggregateBody,
    }
    #[derive(Deserialize)]
    struct AggregateBody {
        case: Sscc,
    }
    let ids: Vec<i64> = outbox::table
        .filter(outbox::kind.eq("aggregate"))
        .filter(outbox::status.ne(OutboxStatus::Rejected.as_str()))
        .order(outbox::id.desc())
        .select(outbox::id)
        .load(conn)?;
    for id in ids {
        let blob: Vec<u8> = outbox::table
            .find(id)
            .select(outbox::submission)
            .first(conn)?;
        let aggregate: Aggregate = serde_json::from_slice(&blob)
            .map_err(|e| PartyError::Internal(format!("outbox item {id}: {e}")))?;
        if &aggregate.event.body.case == sscc {
            return batches::submitted_items(conn, id).map(Some);
        }
    }
    Ok(None)
}
