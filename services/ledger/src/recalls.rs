//! Where the packs of a recall are now: `GET /v1/recalls/{index}`, for the recalling party,
//! the product's owner and regulators.
//!
//! A recall is named by its log entry. It covers the whole batch, or only the serials its
//! entry lists. Each affected pack is placed in one of:
//!
//! | whereabouts | the pack is |
//! |---|---|
//! | `at_custodian` | active in a party's hands (the manufacturer's, if it never left) |
//! | `in_transit` | shipped and not yet received (a sale, or a return on its way back) |
//! | `returned` | back with the product's owner after a receipt (a return) |
//! | `quarantined` | set aside: decommissioned as `locked` |
//! | `dispensed` | supplied to a patient |
//! | `decommissioned` | destroyed, stolen, exported or sampled (`decommission_reason` says which) |
//!
//! The counts cover every affected pack; the pack list is paged (`after`, `limit`), in the
//! database's serial order. Everything is derived state, so the answer follows each receipt,
//! return and quarantine as soon as it is in the log.

use std::collections::{BTreeMap, HashSet};

use diesel::prelude::*;
use pedigree_schema::event::{EventBody, Role, SignedEvent, Timestamp};
use serde::Serialize;

use crate::custody::{status, PackRow};
use crate::db::schema::{
    batches, event_items, item_history, log_entries, pack_recalls, packs, products, shipments,
};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::queries::Caller;

/// Packs listed per page when the request names no `limit`.
pub const DEFAULT_PAGE: u32 = 1000;
/// Most packs listed per page.
pub const MAX_PAGE: u32 = 10_000;
/// Packs read per query while counting.
const SCAN: i64 = 5000;
/// Largest `IN (…)` list in one statement.
const CHUNK: usize = 500;

/// A recall and where its packs are.
#[derive(Clone, Debug, Serialize)]
pub struct RecallWhereabouts {
    /// The recall's log entry.
    pub index: u64,
    pub recalled_by: String,
    pub time: Timestamp,
    pub reason: String,
    pub gtin: String,
    pub lot: String,
    /// `batch` (the whole batch) or `serials` (only the listed packs).
    pub scope: &'static str,
    /// False once the recall has been lifted.
    pub in_force: bool,
    /// Every affected pack.
    pub packs: u64,
    /// Pack counts by whereabouts (see the module's table).
    pub by_whereabouts: BTreeMap<&'static str, u64>,
    /// Packs still in circulation (`at_custodian` or `in_transit`) by holder: the
    /// custodian, or the sender while in transit.
    pub by_custodian: BTreeMap<String, u64>,
    /// A page of the affected packs.
    pub items: Vec<RecalledPack>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// One affected pack and where it is.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RecalledPack {
    pub gtin: String,
    pub serial: String,
    pub whereabouts: &'static str,
    /// Who holds it (the sender while in transit; who decommissioned it, once out).
    pub custodian: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_transit_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipment: Option<String>,
    /// `sale` or `return`, while in transit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decommission_reason: Option<String>,
}

/// The recall at log entry `index` and where its packs are; `after` and `limit` page the
/// pack list (serials after `after`, at most `limit`).
pub fn whereabouts(
    conn: &mut DbConnection,
    caller: &Caller,
    index: u64,
    after: Option<&str>,
    limit: u32,
) -> Result<RecallWhereabouts, ApiError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let idx = i64::try_from(index)
        .map_err(|_| ApiError::NotFound(format!("no recall at entry {index}")))?;
    let entry: Option<(String, Vec<u8>)> = log_entries::table
        .find(idx)
        .select((log_entries::kind, log_entries::entry))
        .first(conn)
        .optional()?;
    let Some((_, entry)) = entry.filter(|(kind, _)| kind == "recall") else {
        return Err(ApiError::NotFound(format!("entry {index} is not a recall")));
    };
    let signed = SignedEvent::from_entry_bytes(&entry)
        .map_err(|e| ApiError::Internal(format!("entry {index}: {e}")))?;
    let EventBody::Recall {
        gtin,
        lot,
        reason,
        serials,
    } = signed.event.body
    else {
        return Err(ApiError::Internal(format!(
            "entry {index} is indexed as a recall but is not one"
        )));
    };
    let (gtin, lot) = (gtin.to_string(), lot.to_string());
    let recalled_by = signed.event.actor.to_string();
    let owner: String = products::table
        .find(&gtin)
        .select(products::owner)
        .first(conn)?;
    if caller.role != Role::Regulator && caller.gln != recalled_by && caller.gln != owner {
        return Err(ApiError::Forbidden(format!(
            "only {recalled_by} (who recalled), {owner} (the product's owner) and regulators may see recall {index}"
        )));
    }
    let affected = if serials.is_some() {
        Affected::Listed { idx, gtin: &gtin }
    } else {
        Affected::Batch {
            gtin: &gtin,
            lot: &lot,
        }
    };
    let in_force = match affected {
        Affected::Batch { .. } => {
            let recall_idx: Option<Option<i64>> = batches::table
                .find((&gtin, &lot))
                .select(batches::recall_idx)
                .first(conn)
                .optional()?;
            recall_idx.flatten() == Some(idx)
        }
        Affected::Listed { .. } => {
            let held: i64 = pack_recalls::table
                .filter(pack_recalls::recall_idx.eq(idx))
                .count()
                .get_result(conn)?;
            held > 0
        }
    };
    let owner_receipts: Vec<i64> = log_entries::table
        .filter(log_entries::actor.eq(&owner))
        .filter(log_entries::kind.eq("receive"))
        .select(log_entries::idx)
        .load(conn)?;
    let mut answer = RecallWhereabouts {
        index,
        recalled_by,
        time: signed.event.time,
        reason,
        gtin: gtin.clone(),
        lot: lot.clone(),
        scope: if serials.is_some() {
            "serials"
        } else {
            "batch"
        },
        in_force,
        packs: 0,
        by_whereabouts: BTreeMap::new(),
        by_custodian: BTreeMap::new(),
        items: Vec::new(),
        next_after: None,
    };
    let mut cursor: Option<String> = None;
    loop {
        let placed = affected.placed(conn, cursor.as_deref(), SCAN, &owner, &owner_receipts)?;
        let Some(last) = placed.last() else {
            break;
        };
        cursor = Some(last.serial.clone());
        for pack in placed {
            answer.packs += 1;
            *answer.by_whereabouts.entry(pack.whereabouts).or_default() += 1;
            if matches!(pack.whereabouts, AT_CUSTODIAN | IN_TRANSIT) {
                *answer.by_custodian.entry(pack.custodian).or_default() += 1;
            }
        }
    }
    let mut page = affected.placed(conn, after, i64::from(limit) + 1, &owner, &owner_receipts)?;
    if page.len() > limit as usize {
        page.truncate(limit as usize);
        answer.next_after = page.last().map(|p| p.serial.clone());
    }
    answer.items = page;
    Ok(answer)
}

const AT_CUSTODIAN: &str = "at_custodian";
const IN_TRANSIT: &str = "in_transit";

/// Which packs a recall covers.
#[derive(Clone, Copy)]
enum Affected<'a> {
    Batch {
        gtin: &'a str,
        lot: &'a str,
    },
    /// The serials listed by the recall's entry `idx`.
    Listed {
        idx: i64,
        gtin: &'a str,
    },
}

impl Affected<'_> {
    /// Up to `size` affected packs after serial `after` and where each is.
    fn placed(
        &self,
        conn: &mut DbConnection,
        after: Option<&str>,
        size: i64,
        owner: &str,
        owner_receipts: &[i64],
    ) -> QueryResult<Vec<RecalledPack>> {
        let rows = self.page(conn, after, size)?;
        let returned = returned_serials(conn, &rows, owner, owner_receipts)?;
        rows.into_iter()
            .map(|row| place(conn, row, owner, &returned))
            .collect()
    }

    /// Up to `size` affected packs after serial `after`, in the database's serial order.
    fn page(
        &self,
        conn: &mut DbConnection,
        after: Option<&str>,
        size: i64,
    ) -> QueryResult<Vec<PackRow>> {
        let after = after.unwrap_or("");
        match *self {
            Affected::Batch { gtin, lot } => packs::table
                .filter(packs::gtin.eq(gtin))
                .filter(packs::lot.eq(lot))
                .filter(packs::serial.gt(after))
                .order(packs::serial)
                .limit(size)
                .select(PackRow::as_select())
                .load(conn),
            Affected::Listed { idx, gtin } => {
                let serials: Vec<String> = event_items::table
                    .filter(event_items::entry_idx.eq(idx))
                    .filter(event_items::item.gt(after))
                    .order(event_items::item)
                    .limit(size)
                    .select(event_items::item)
                    .load(conn)?;
                let mut rows = Vec::with_capacity(serials.len());
                for chunk in serials.chunks(CHUNK) {
                    rows.extend(
                        packs::table
                            .filter(packs::gtin.eq(gtin))
                            .filter(packs::serial.eq_any(chunk))
                            .select(PackRow::as_select())
                            .load(conn)?,
                    );
                }
                // The listed order is the database's, as the pages' cursor expects.
                let position: BTreeMap<&str, usize> = serials
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.as_str(), i))
                    .collect();
                rows.sort_by_key(|row| position.get(row.serial.as_str()).copied());
                Ok(rows)
            }
        }
    }
}

/// Serials among `rows` that are active with the product's owner after a receipt of the
/// owner's (entries `owner_receipts`): packs that came back.
fn returned_serials(
    conn: &mut DbConnection,
    rows: &[PackRow],
    owner: &str,
    owner_receipts: &[i64],
) -> QueryResult<HashSet<String>> {
    if owner_receipts.is_empty() {
        return Ok(HashSet::new());
    }
    let candidates: Vec<String> = rows
        .iter()
        .filter(|row| row.status == status::ACTIVE && row.custodian == owner)
        .map(|row| format!("(01){}(21){}", row.gtin, row.serial))
        .collect();
    let mut found = HashSet::new();
    for chunk in candidates.chunks(CHUNK) {
        for receipts in owner_receipts.chunks(CHUNK) {
            found.extend(
                item_history::table
                    .filter(item_history::item.eq_any(chunk))
                    .filter(item_history::entry_idx.eq_any(receipts))
                    .select(item_history::item)
                    .load::<String>(conn)?,
            );
        }
    }
    Ok(found
        .into_iter()
        .filter_map(|item| item.rsplit_once("(21)").map(|(_, s)| s.to_string()))
        .collect())
}

/// Where one pack is.
fn place(
    conn: &mut DbConnection,
    row: PackRow,
    owner: &str,
    returned: &HashSet<String>,
) -> QueryResult<RecalledPack> {
    let mut pack = RecalledPack {
        whereabouts: AT_CUSTODIAN,
        custodian: row.custodian,
        in_transit_to: None,
        shipment: None,
        purpose: None,
        case: row.case_sscc,
        decommission_reason: None,
        gtin: row.gtin,
        serial: row.serial,
    };
    if row.status == status::DECOMMISSIONED {
        let reason = row.decommission_reason.unwrap_or_default();
        pack.whereabouts = match reason.as_str() {
            "dispensed" => "dispensed",
            "locked" => "quarantined",
            _ => "decommissioned",
        };
        if let Some(by) = row.decommissioned_by {
            pack.custodian = by;
        }
        pack.decommission_reason = Some(reason);
    } else if row.status == status::IN_TRANSIT {
        pack.whereabouts = IN_TRANSIT;
        if let (Some(sender), Some(id)) = (row.shipment_sender, row.shipment_id) {
            let shipment: Option<(String, String)> = shipments::table
                .find((&sender, &id))
                .select((shipments::receiver, shipments::purpose))
                .first(conn)
                .optional()?;
            if let Some((receiver, purpose)) = shipment {
                pack.in_transit_to = Some(receiver);
                pack.purpose = Some(purpose);
            }
            pack.shipment = Some(id);
        }
    } else if pack.custodian == owner && returned.contains(&pack.serial) {
        pack.whereabouts = "returned";
    }
    Ok(pack)
}
