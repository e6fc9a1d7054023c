//! Read-side questions: a pack's status (public, as with the FMD
//! repositories), its provenance with proofs (parties in the chain and
//! regulators only), a batch's whereabouts, a party's own events.
//!
//! Every answer that carries log entries carries the proofs to check them
//! against a checkpoint signed by the log key.

use std::collections::BTreeMap;

use diesel::prelude::*;
use pedigree_schema::event::{EventBody, Role, SignedEvent};
use pedigree_schema::gs1::{Expiry, Lot, PackId};
use pedigree_schema::itemset::{ItemProof, ItemSet};
use pedigree_schema::merkle::Hash;
use serde::Serialize;

use crate::custody::{self, pack_item, status, BatchRow, PackRow};
use crate::db::schema::{
    checkpoints, event_items, item_history, log_entries, pack_recalls, packs, parties, products,
};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::rejection::RejectCode;
use crate::tree;

/// Who is asking, once authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub gln: String,
    pub role: Role,
}

impl Caller {
    fn is_regulator(&self) -> bool {
        self.role == Role::Regulator
    }
}

/// An FMD-style alert raised by a verification.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Alert {
    pub code: RejectCode,
    pub message: String,
}

/// The public answer to "may this pack be supplied?".
#[derive(Clone, Debug, Serialize)]
pub struct PackStatus {
    pub gtin: String,
    pub serial: String,
    /// `active`, `in_transit`, `decommissioned`, or `unknown`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decommission_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    pub recalled: bool,
    pub expired: bool,
    /// True only when the pack is known, active, in date, not recalled, and
    /// matches the lot and expiry given.
    pub ok_to_supply: bool,
    pub alerts: Vec<Alert>,
    /// The log size this answer reflects.
    pub tree_size: u64,
    /// Counterfeit risk of this verification: only for signed requests by
    /// registered parties (see [`crate::risk`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<pedigree_risk::RiskScore>,
}

impl PackStatus {
    /// Whether the printed lot or expiry differs from the batch's.
    pub fn code_mismatch(&self) -> bool {
        self.alerts
            .iter()
            .any(|a| a.code == RejectCode::BatchMismatch || a.code == RejectCode::ExpiryMismatch)
    }
}

fn alert(code: RejectCode, message: String) -> Alert {
    Alert { code, message }
}

/// Verifies a pack as a pharmacy's scan would: product, serial, batch and
/// expiry as printed, status, recall, expiry date.
pub fn pack_status(
    conn: &mut DbConnection,
    pack: &PackId,
    lot: Option<&Lot>,
    expiry: Option<&Expiry>,
    today: chrono::NaiveDate,
) -> Result<PackStatus, ApiError> {
    pack_status_with_facts(conn, pack, lot, expiry, today).map(|(status, _)| status)
}

/// What the ledger holds on one pack, read once per verification: the
/// status is judged from it, and the risk scoring reuses it rather than
/// reading the same rows again.
pub struct PackFacts {
    pub product_name: Option<String>,
    pub row: Option<PackRow>,
    pub batch: Option<BatchRow>,
    /// Who recalled the pack itself (a recall listing serials).
    pub pack_recall: Option<String>,
}

impl PackFacts {
    pub fn load(conn: &mut DbConnection, pack: &PackId) -> Result<Self, ApiError> {
        let product_name: Option<String> = products::table
            .find(pack.gtin.as_str())
            .select(products::name)
            .first(conn)
            .optional()?;
        let Some(row) = custody::load_pack(conn, pack)? else {
            return Ok(Self {
                product_name,
                row: None,
                batch: None,
                pack_recall: None,
            });
        };
        let batch = custody::load_batch(conn, &row.gtin, &row.lot)?;
        let pack_recall = custody::pack_recalled_by(conn, &row.gtin, &row.serial)?;
        Ok(Self {
            product_name,
            row: Some(row),
            batch,
            pack_recall,
        })
    }

    /// Recalled, as a batch or as a listed serial.
    pub fn recalled(&self) -> bool {
        self.batch.as_ref().is_some_and(|b| b.recalled_by.is_some()) || self.pack_recall.is_some()
    }
}

/// [`pack_status`], with the facts it was judged from.
pub fn pack_status_with_facts(
    conn: &mut DbConnection,
    pack: &PackId,
    lot: Option<&Lot>,
    expiry: Option<&Expiry>,
    today: chrono::NaiveDate,
) -> Result<(PackStatus, PackFacts), ApiError> {
    let tree_size = latest_size(conn)?;
    let facts = PackFacts::load(conn, pack)?;
    let mut answer = PackStatus {
        gtin: pack.gtin.to_string(),
        serial: pack.serial.to_string(),
        status: "unknown".into(),
        decommission_reason: None,
        product_name: facts.product_name.clone(),
        lot: None,
        expiry: None,
        recalled: false,
        expired: false,
        ok_to_supply: false,
        alerts: Vec::new(),
        tree_size,
        risk: None,
    };
    let Some(row) = &facts.row else {
        answer.alerts.push(if answer.product_name.is_none() {
            alert(
                RejectCode::ProductUnknown,
                format!("product {} is not registered", pack.gtin),
            )
        } else {
            alert(
                RejectCode::SerialUnknown,
                format!("pack {pack} is not known (FMD A3)"),
            )
        });
        return Ok((answer, facts));
    };
    answer.status = row.status.clone();
    answer.decommission_reason = row.decommission_reason.clone();
    answer.lot = Some(row.lot.clone());
    if let Some(batch) = &facts.batch {
        answer.expiry = Some(batch.expiry.clone());
        answer.recalled = facts.recalled();
        answer.expired = batch.is_expired_on(today);
    }
    answer.alerts = status_alerts(
        pack,
        row,
        facts.batch.as_ref(),
        facts.pack_recall.as_deref(),
        (lot, expiry),
        answer.expired,
    );
    answer.ok_to_supply = answer.alerts.is_empty() && row.status == status::ACTIVE;
    Ok((answer, facts))
}

/// `pack_recall`: who recalled the pack itself (a recall listing serials);
/// `scanned`: the lot and expiry the code carries.
fn status_alerts(
    pack: &PackId,
    row: &PackRow,
    batch: Option<&BatchRow>,
    pack_recall: Option<&str>,
    (lot, expiry): (Option<&Lot>, Option<&Expiry>),
    expired: bool,
) -> Vec<Alert> {
    let mut alerts = Vec::new();
    if let Some(lot) = lot.filter(|lot| lot.as_str() != row.lot) {
        alerts.push(alert(
            RejectCode::BatchMismatch,
            format!(
                "the code says batch {lot} but pack {pack} belongs to batch {} (FMD A68)",
                row.lot
            ),
        ));
    }
    if let (Some(given), Some(batch)) = (expiry, batch) {
        if given.to_string() != batch.expiry {
            alerts.push(alert(
                RejectCode::ExpiryMismatch,
                format!(
                    "the code says expiry {given} but the batch expires {} (FMD A52)",
                    batch.expiry
                ),
            ));
        }
    }
    if row.status == status::DECOMMISSIONED {
        alerts.push(alert(
            RejectCode::AlreadyDecommissioned,
            format!(
                "pack {pack} is already decommissioned as {} (FMD A7)",
                row.decommission_reason.as_deref().unwrap_or("unknown")
            ),
        ));
    }
    if row.status == status::IN_TRANSIT {
        alerts.push(alert(
            RejectCode::InTransit,
            format!("pack {pack} is in transit and not yet received"),
        ));
    }
    if let Some(by) = batch.and_then(|b| b.recalled_by.as_ref()) {
        alerts.push(alert(
            RejectCode::Recalled,
            format!("batch {} is recalled by {by}", row.lot),
        ));
    } else if let Some(by) = pack_recall {
        alerts.push(alert(
            RejectCode::Recalled,
            format!("pack {pack} of batch {} is recalled by {by}", row.lot),
        ));
    }
    if expired {
        alerts.push(alert(
            RejectCode::Expired,
            format!("batch {} is expired", row.lot),
        ));
    }
    alerts
}

fn latest_size(conn: &mut DbConnection) -> Result<u64, ApiError> {
    Ok(crate::log::tree_size(conn)?)
}

/// One log entry with the proof that it is in the log, and — for events
/// committing to an item set — the proof that the item asked about is in it.
#[derive(Clone, Debug, Serialize)]
pub struct ProvenEntry {
    pub index: u64,
    pub entry: SignedEvent,
    #[serde(with = "pedigree_schema::merkle::hex_hash")]
    pub leaf_hash: Hash,
    #[serde(with = "pedigree_schema::merkle::hex_hash::seq")]
    pub inclusion_proof: Vec<Hash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_proof: Option<ProvenItem>,
}

/// Proof that `item` is in the event's committed item set.
#[derive(Clone, Debug, Serialize)]
pub struct ProvenItem {
    pub item: String,
    pub proof: ItemProof,
}

/// A pack's custody chain with proofs, all against one checkpoint.
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    pub status: PackStatus,
    /// The signed checkpoint every inclusion proof leads to.
    pub checkpoint: String,
    pub tree_size: u64,
    pub entries: Vec<ProvenEntry>,
}

/// The custody chain of a pack: every entry in its history, in log order.
/// Only regulators and the parties that appear in the chain may read it.
pub fn provenance(
    conn: &mut DbConnection,
    caller: &Caller,
    pack: &PackId,
    today: chrono::NaiveDate,
) -> Result<Provenance, ApiError> {
    let item = pack_item(pack);
    // Everything is read as of this checkpoint: appends committed while the
    // answer is assembled must not creep into it, or the proofs would be
    // for a tree the checkpoint does not sign.
    let latest: Option<(i64, String)> = checkpoints::table
        .order(checkpoints::tree_size.desc())
        .select((checkpoints::tree_size, checkpoints::note))
        .first(conn)
        .optional()?;
    let Some((size, checkpoint)) = latest else {
        return Err(ApiError::NotFound("the log is empty".into()));
    };
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = item_history::table
        .inner_join(log_entries::table.on(log_entries::idx.eq(item_history::entry_idx)))
        .filter(item_history::item.eq(&item))
        .filter(item_history::entry_idx.lt(size))
        .order(item_history::entry_idx)
        .select((log_entries::idx, log_entries::entry, log_entries::leaf_hash))
        .load(conn)?;
    if rows.is_empty() {
        return Err(ApiError::NotFound(format!("no history for pack {pack}")));
    }
    let entries: Vec<(u64, SignedEvent, Hash)> = rows
        .into_iter()
        .map(|(idx, entry, leaf)| {
            let signed = SignedEvent::from_entry_bytes(&entry)
                .map_err(|e| ApiError::Internal(format!("entry {idx}: {e}")))?;
            let leaf: Hash = leaf
                .try_into()
                .map_err(|_| ApiError::Internal(format!("entry {idx}: malformed leaf hash")))?;
            Ok((idx as u64, signed, leaf))
        })
        .collect::<Result<_, ApiError>>()?;
    let in_chain = entries.iter().any(|(_, signed, _)| {
        involves(
            &signed.event.body,
            &signed.event.actor.to_string(),
            &caller.gln,
        )
    });
    if !caller.is_regulator() && !in_chain {
        return Err(ApiError::Forbidden(format!(
            "party {} does not appear in the custody chain of pack {pack}",
            caller.gln
        )));
    }
    let tree_size = size as u64;
    let status = pack_status(conn, pack, None, None, today)?;
    let mut proven = Vec::with_capacity(entries.len());
    for (index, entry, leaf_hash) in entries {
        let inclusion_proof = tree::inclusion_proof(conn, index, tree_size)?;
        let item_proof = match entry.event.body.item_set() {
            Some(_) => item_proof(conn, index, pack)?,
            None => None,
        };
        proven.push(ProvenEntry {
            index,
            entry,
            leaf_hash,
            inclusion_proof,
            item_proof,
        });
    }
    Ok(Provenance {
        status,
        checkpoint,
        tree_size,
        entries: proven,
    })
}

/// Whether `gln` is the actor or the counterparty of an event.
pub(crate) fn involves(body: &EventBody, actor: &str, gln: &str) -> bool {
    actor == gln
        || match body {
            EventBody::Ship { to, .. } => to.as_str() == gln,
            EventBody::Receive { from, .. } => from.as_str() == gln,
            _ => false,
        }
}

/// Proof that the pack — or a case it travelled in — is in entry `idx`'s
/// item set. Commissioning lists serials; movements list packs and cases.
/// `None` when the set holds neither (a receipt that reported it missing).
fn item_proof(
    conn: &mut DbConnection,
    idx: u64,
    pack: &PackId,
) -> Result<Option<ProvenItem>, ApiError> {
    let items: Vec<String> = event_items::table
        .filter(event_items::entry_idx.eq(idx as i64))
        .order(event_items::position)
        .select(event_items::item)
        .load(conn)?;
    let mut candidates = vec![pack.serial.to_string(), pack_item(pack)];
    candidates.extend(containers(conn, &pack_item(pack))?);
    let Some(position) = items.iter().position(|i| candidates.contains(i)) else {
        return Ok(None);
    };
    let proof = ItemSet::new(&items)
        .proof(&[position])
        .map_err(|e| ApiError::Internal(format!("entry {idx}: {e}")))?;
    Ok(Some(ProvenItem {
        item: items[position].clone(),
        proof,
    }))
}

/// Every case `item` was ever packed into, directly or through other cases.
fn containers(conn: &mut DbConnection, item: &str) -> Result<Vec<String>, ApiError> {
    let mut found: Vec<String> = Vec::new();
    let mut pending = vec![item.to_string()];
    while let Some(current) = pending.pop() {
        let entries: Vec<Vec<u8>> = item_history::table
            .inner_join(log_entries::table.on(log_entries::idx.eq(item_history::entry_idx)))
            .filter(item_history::item.eq(&current))
            .filter(log_entries::kind.eq("aggregate"))
            .select(log_entries::entry)
            .load(conn)?;
        for entry in entries {
            let signed = SignedEvent::from_entry_bytes(&entry)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            if let EventBody::Aggregate { case, .. } = signed.event.body {
                let case = custody::case_item(&case);
                if case != current && !found.contains(&case) {
                    found.push(case.clone());
                    pending.push(case);
                }
            }
        }
    }
    Ok(found)
}

/// Where the packs of a batch are.
#[derive(Clone, Debug, Serialize)]
pub struct BatchWhereabouts {
    pub gtin: String,
    pub lot: String,
    pub expiry: String,
    pub manufactured: String,
    pub recalled_by: Option<String>,
    pub recall_reason: Option<String>,
    /// Log entries of the recalls in force (of the whole batch, or of some
    /// of its serials): see `GET /v1/recalls/{index}`.
    pub recalls: Vec<u64>,
    pub packs: u64,
    /// Pack counts by status.
    pub by_status: BTreeMap<String, u64>,
    /// Pack counts by custodian, then status.
    pub by_custodian: BTreeMap<String, BTreeMap<String, u64>>,
}

/// A batch's state and where its packs are. The product's owner and
/// regulators may ask.
pub fn batch_whereabouts(
    conn: &mut DbConnection,
    caller: &Caller,
    gtin: &str,
    lot: &str,
) -> Result<BatchWhereabouts, ApiError> {
    let Some(batch) = custody::load_batch(conn, gtin, lot)? else {
        return Err(ApiError::NotFound(format!(
            "batch {lot} of {gtin} is not registered"
        )));
    };
    let owner: String = products::table
        .find(gtin)
        .select(products::owner)
        .first(conn)?;
    if !caller.is_regulator() && caller.gln != owner {
        return Err(ApiError::Forbidden(format!(
            "only {owner} (the product's owner) and regulators may see batch {lot}"
        )));
    }
    let counts: Vec<(String, String, i64)> = packs::table
        .filter(packs::gtin.eq(gtin))
        .filter(packs::lot.eq(lot))
        .group_by((packs::custodian, packs::status))
        .select((packs::custodian, packs::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut recalls: Vec<i64> = pack_recalls::table
        .filter(pack_recalls::gtin.eq(gtin))
        .filter(pack_recalls::lot.eq(lot))
        .select(pack_recalls::recall_idx)
        .distinct()
        .load(conn)?;
    recalls.extend(batch.recall_idx);
    recalls.sort_unstable();
    let mut whereabouts = BatchWhereabouts {
        gtin: batch.gtin,
        lot: batch.lot,
        expiry: batch.expiry,
        manufactured: batch.manufactured,
        recalled_by: batch.recalled_by,
        recall_reason: batch.recall_reason,
        recalls: recalls.into_iter().map(|idx| idx as u64).collect(),
        packs: 0,
        by_status: BTreeMap::new(),
        by_custodian: BTreeMap::new(),
    };
    for (custodian, pack_status, count) in counts {
        let count = count as u64;
        whereabouts.packs += count;
        *whereabouts
            .by_status
            .entry(pack_status.clone())
            .or_default() += count;
        *whereabouts
            .by_custodian
            .entry(custodian)
            .or_default()
            .entry(pack_status)
            .or_default() += count;
    }
    Ok(whereabouts)
}

/// One of a party's own log entries.
#[derive(Clone, Debug, Serialize)]
pub struct OwnEntry {
    pub index: u64,
    pub entry: SignedEvent,
}

/// The caller's own events after log index `after`, oldest first.
pub fn own_events(
    conn: &mut DbConnection,
    caller: &Caller,
    after: Option<u64>,
    limit: u32,
) -> Result<Vec<OwnEntry>, ApiError> {
    let rows: Vec<(i64, Vec<u8>)> = log_entries::table
        .filter(log_entries::actor.eq(&caller.gln))
        .filter(log_entries::idx.gt(after.map_or(-1, |a| a as i64)))
        .order(log_entries::idx)
        .limit(i64::from(limit.clamp(1, 1000)))
        .select((log_entries::idx, log_entries::entry))
        .load(conn)?;
    rows.into_iter()
        .map(|(idx, entry)| {
            Ok(OwnEntry {
                index: idx as u64,
                entry: SignedEvent::from_entry_bytes(&entry)
                    .map_err(|e| ApiError::Internal(format!("entry {idx}: {e}")))?,
            })
        })
        .collect()
}

/// The item list an entry committed to. The actor, its counterparty and
/// regulators may read it.
pub fn event_items(
    conn: &mut DbConnection,
    caller: &Caller,
    idx: u64,
) -> Result<Vec<String>, ApiError> {
    let entry: Option<Vec<u8>> = log_entries::table
        .find(idx as i64)
        .select(log_entries::entry)
        .first(conn)
        .optional()?;
    let Some(entry) = entry else {
        return Err(ApiError::NotFound(format!("no entry {idx}")));
    };
    let signed = SignedEvent::from_entry_bytes(&entry)
        .map_err(|e| ApiError::Internal(format!("entry {idx}: {e}")))?;
    if !caller.is_regulator()
        && !involves(&signed.event.body, signed.event.actor.as_str(), &caller.gln)
    {
        return Err(ApiError::Forbidden(format!(
            "party {} is not a party to entry {idx}",
            caller.gln
        )));
    }
    Ok(event_items::table
        .filter(event_items::entry_idx.eq(idx as i64))
        .order(event_items::position)
        .select(event_items::item)
        .load(conn)?)
}

/// The registered role of a party, if it is registered.
pub fn party_role(conn: &mut DbConnection, gln: &str) -> QueryResult<Option<String>> {
    parties::table
        .find(gln)
        .select(parties::role)
        .first(conn)
        .optional()
}
