//! Provenance as GS1 EPCIS 2.0 JSON-LD (`?format=epcis`): a pack's custody
//! chain, a batch's events and a case's history as an `EPCISDocument`,
//! mapped by `pedigree_schema::epcis`. The access rules are the JSON
//! answers' own (chain parties and regulators for a pack; the owner and
//! regulators for a batch), checked by the same queries. A case's history
//! (`GET /v1/cases/{sscc}/provenance`, JSON with proofs or EPCIS) is for the
//! parties to its events and regulators.
//!
//! An event's item list is written whole for those who may read it
//! (`GET /v1/entries/{index}/items`: its actor, its counterparty,
//! regulators) and otherwise cut to the items of the pack or batch asked
//! about, marked `pedigree:itemsComplete: false`: a batch's serials are not
//! handed to every party that held one pack of it. Every event carries its
//! inclusion proof against the document's `pedigree:checkpoint`.

use std::collections::BTreeMap;

use actix_web::web::Path;
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use pedigree_schema::epcis::{self as mapping, ExportEntry, ExportError};
use pedigree_schema::event::{ItemKind, Role, SignedEvent, Timestamp};
use pedigree_schema::gs1::{Gtin, Lot, PackId, Sscc};
use pedigree_schema::itemset::ItemSet;
use pedigree_schema::merkle::Hash;
use serde_json::Value;

use crate::custody::case_item;
use crate::db::schema::{batches, checkpoints, event_items, item_history, log_entries, packs};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::http::{as_signed_caller, State};
use crate::queries::{self, Caller, ProvenEntry, ProvenItem};
use crate::tree;

/// The media type of an EPCIS 2.0 JSON-LD document.
pub const CONTENT_TYPE: &str = "application/ld+json";

/// Most pack items asked of `item_history` in one query.
const CHUNK: usize = 500;

/// Whether the request asks for EPCIS: `?format=epcis`, or no `format` and an
/// `Accept` header naming `application/ld+json`; `?format=json` or neither
/// is the JSON answer, any other `format` a 400.
pub fn requested(request: &HttpRequest) -> Result<bool, ApiError> {
    let format = request
        .query_string()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "format")
        .map(|(_, value)| value);
    match format {
        None => Ok(request
            .headers()
            .get(actix_web::http::header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains(CONTENT_TYPE))),
        Some("json") => Ok(false),
        Some("epcis") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "unknown_format",
            format!("format {other:?} is not offered: use json (the default) or epcis"),
        )),
    }
}

/// `GET /v1/packs/{gtin}/{serial}/provenance?format=epcis`.
pub async fn pack_provenance(
    state: &State,
    request: &HttpRequest,
    pack: PackId,
) -> Result<HttpResponse, ApiError> {
    let today = chrono::Utc::now().date_naive();
    let document = as_signed_caller(state, request, Vec::new(), move |conn, caller| {
        let provenance = queries::provenance(conn, caller, &pack, today)?;
        let events = proven_events(conn, caller, &provenance.entries)?;
        Ok(with_checkpoint(
            events,
            &provenance.checkpoint,
            provenance.tree_size,
        ))
    })
    .await?;
    Ok(ld_json(document))
}

/// `GET /v1/batches/{gtin}/{lot}?format=epcis`: the batch's registration,
/// commissioning, recalls and every movement of its packs, in log order.
pub async fn batch_events(
    state: &State,
    request: &HttpRequest,
    gtin: Gtin,
    lot: Lot,
) -> Result<HttpResponse, ApiError> {
    let document = as_signed_caller(state, request, Vec::new(), move |conn, caller| {
        // The whereabouts query holds the access rule (owner, regulators).
        queries::batch_whereabouts(conn, caller, gtin.as_str(), lot.as_str())?;
        let (tree_size, checkpoint) = latest_checkpoint(conn)?;
        let pack_items: Vec<String> = packs::table
            .filter(packs::gtin.eq(gtin.as_str()))
            .filter(packs::lot.eq(lot.as_str()))
            .select(packs::serial)
            .load::<String>(conn)?
            .into_iter()
            .map(|serial| format!("(01){gtin}(21){serial}")) // as custody's pack_row_item
            .collect();
        // Which of the batch's packs each entry touched, read in chunks.
        let mut touched: BTreeMap<i64, Vec<String>> = batch_entries(conn, &gtin, &lot, tree_size)?
            .into_iter()
            .map(|index| (index, Vec::new()))
            .collect();
        for chunk in pack_items.chunks(CHUNK) {
            let rows: Vec<(i64, String)> = item_history::table
                .filter(item_history::item.eq_any(chunk))
                .filter(item_history::entry_idx.lt(tree_size as i64))
                .select((item_history::entry_idx, item_history::item))
                .load(conn)?;
            for (index, item) in rows {
                touched.entry(index).or_default().push(item);
            }
        }
        let mut events = Vec::with_capacity(touched.len());
        for (index, packs_touched) in touched {
            let signed = load_entry(conn, index)?;
            let index = index as u64;
            // Commissioning and recalls of serials list serials, not packs.
            let own = match signed.event.body.item_set() {
                Some((ItemKind::Serials, _)) => packs_touched
                    .iter()
                    .filter_map(|item| {
                        item.rsplit_once("(21)")
                            .map(|(_, serial)| serial.to_owned())
                    })
                    .collect(),
                _ => packs_touched,
            };
            let (items, complete) = visible_items(conn, caller, &signed, index, own)?;
            let proof = tree::inclusion_proof(conn, index, tree_size)?;
            events.push(proven_event(
                &ExportEntry {
                    index,
                    signed: &signed,
                    items: &items,
                    items_complete: complete,
                },
                &proof,
            )?);
        }
        Ok(with_checkpoint(events, &checkpoint, tree_size))
    })
    .await?;
    Ok(ld_json(document))
}

/// `GET /v1/cases/{sscc}/provenance[?format=epcis]`: every entry in the
/// case's history (packing, movements, opening) with proofs, as JSON
/// (`checkpoint`, `tree_size`, `entries` like a pack's provenance) or EPCIS.
pub async fn case_provenance(
    state: State,
    request: HttpRequest,
    sscc: Path<String>,
) -> Result<HttpResponse, ApiError> {
    let case = Sscc::parse(&sscc)
        .map_err(|e| ApiError::bad_request("invalid_identifier", format!("sscc: {e}")))?;
    let epcis = requested(&request)?;
    let answer = as_signed_caller(&state, &request, Vec::new(), move |conn, caller| {
        let (tree_size, checkpoint) = latest_checkpoint(conn)?;
        let entries = case_history(conn, caller, &case, tree_size)?;
        if !epcis {
            return Ok(serde_json::json!({
                "case": case,
                "checkpoint": checkpoint,
                "tree_size": tree_size,
                "entries": entries,
            }));
        }
        let events = proven_events(conn, caller, &entries)?;
        Ok(with_checkpoint(events, &checkpoint, tree_size))
    })
    .await?;
    Ok(if epcis {
        ld_json(answer)
    } else {
        HttpResponse::Ok().json(answer)
    })
}

/// The case's entries up to `tree_size`, each with its inclusion proof and
/// the proof that the case is in its item set.
fn case_history(
    conn: &mut DbConnection,
    caller: &Caller,
    case: &Sscc,
    tree_size: u64,
) -> Result<Vec<ProvenEntry>, ApiError> {
    let item = case_item(case);
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = item_history::table
        .inner_join(log_entries::table.on(log_entries::idx.eq(item_history::entry_idx)))
        .filter(item_history::item.eq(&item))
        .filter(item_history::entry_idx.lt(tree_size as i64))
        .order(item_history::entry_idx)
        .select((log_entries::idx, log_entries::entry, log_entries::leaf_hash))
        .load(conn)?;
    if rows.is_empty() {
        return Err(ApiError::NotFound(format!("no history for case {case}")));
    }
    let decoded: Vec<(u64, SignedEvent, Vec<u8>)> = rows
        .into_iter()
        .map(|(index, entry, leaf)| Ok((index as u64, decode(index, &entry)?, leaf)))
        .collect::<Result<_, ApiError>>()?;
    let party = decoded.iter().any(|(_, signed, _)| {
        let event = &signed.event;
        queries::involves(&event.body, event.actor.as_str(), &caller.gln)
    });
    if caller.role != Role::Regulator && !party {
        return Err(ApiError::Forbidden(format!(
            "party {} is not a party to any event of case {case}",
            caller.gln
        )));
    }
    let mut entries = Vec::with_capacity(decoded.len());
    for (index, entry, leaf) in decoded {
        let leaf_hash: Hash = leaf
            .try_into()
            .map_err(|_| ApiError::Internal(format!("entry {index}: malformed leaf hash")))?;
        entries.push(ProvenEntry {
            index,
            inclusion_proof: tree::inclusion_proof(conn, index, tree_size)?,
            item_proof: item_proof(conn, index, &item)?,
            entry,
            leaf_hash,
        });
    }
    Ok(entries)
}

/// Proof that `item` is in entry `index`'s item set (`None` when the entry
/// has no item list or the item is not in it, as for opening the case).
fn item_proof(
    conn: &mut DbConnection,
    index: u64,
    item: &str,
) -> Result<Option<ProvenItem>, ApiError> {
    let items: Vec<String> = event_items::table
        .filter(event_items::entry_idx.eq(index as i64))
        .order(event_items::position)
        .select(event_items::item)
        .load(conn)?;
    let Some(position) = items.iter().position(|i| i == item) else {
        return Ok(None);
    };
    let proof = ItemSet::new(&items)
        .proof(&[position])
        .map_err(|e| ApiError::Internal(format!("entry {index}: {e}")))?;
    Ok(Some(ProvenItem {
        item: item.to_owned(),
        proof,
    }))
}

fn ld_json(document: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(document.to_string())
}

/// The whole item list when the caller may read it, else `own` (the items
/// of what was asked about), kept only if the entry commits to items.
fn visible_items(
    conn: &mut DbConnection,
    caller: &Caller,
    signed: &SignedEvent,
    index: u64,
    own: Vec<String>,
) -> Result<(Vec<String>, bool), ApiError> {
    if signed.event.body.item_set().is_none() {
        return Ok((Vec::new(), true));
    }
    match queries::event_items(conn, caller, index) {
        Ok(items) => Ok((items, true)),
        Err(ApiError::Forbidden(_)) => Ok((own, false)),
        Err(other) => Err(other),
    }
}

/// The EPCIS events of entries proven for an item: each lists the whole
/// item list if the caller may read it, else the proven item.
fn proven_events(
    conn: &mut DbConnection,
    caller: &Caller,
    entries: &[ProvenEntry],
) -> Result<Vec<Value>, ApiError> {
    entries
        .iter()
        .map(|proven| {
            let own = proven.item_proof.iter().map(|p| p.item.clone()).collect();
            let (items, complete) = visible_items(conn, caller, &proven.entry, proven.index, own)?;
            proven_event(
                &ExportEntry {
                    index: proven.index,
                    signed: &proven.entry,
                    items: &items,
                    items_complete: complete,
                },
                &proven.inclusion_proof,
            )
        })
        .collect()
}

/// The EPCIS event with its inclusion proof; governance and master-data
/// entries have no EPCIS form, and none is in a pack's or batch's history.
fn proven_event(entry: &ExportEntry<'_>, proof: &[Hash]) -> Result<Value, ApiError> {
    let mut event = mapping::export_event(entry).map_err(|error| match error {
        ExportError::NoEpcisEquivalent { .. } => {
            ApiError::Internal(format!("entry {}: {error}", entry.index))
        }
        other => ApiError::Internal(other.to_string()),
    })?;
    event["pedigree:inclusionProof"] = proof.iter().map(hex::encode).collect::<Vec<_>>().into();
    Ok(event)
}

fn with_checkpoint(events: Vec<Value>, checkpoint: &str, tree_size: u64) -> Value {
    let mut document = mapping::document(events, Timestamp::now());
    document["pedigree:checkpoint"] = checkpoint.into();
    document["pedigree:treeSize"] = tree_size.into();
    document
}

fn latest_checkpoint(conn: &mut DbConnection) -> Result<(u64, String), ApiError> {
    let latest: Option<(i64, String)> = checkpoints::table
        .order(checkpoints::tree_size.desc())
        .select((checkpoints::tree_size, checkpoints::note))
        .first(conn)
        .optional()?;
    latest
        .map(|(size, note)| (size as u64, note))
        .ok_or_else(|| ApiError::NotFound("the log is empty".into()))
}

/// The batch's registration and its recalls and lifts (recalls are few, so
/// they are read and filtered here).
fn batch_entries(
    conn: &mut DbConnection,
    gtin: &Gtin,
    lot: &Lot,
    tree_size: u64,
) -> Result<Vec<i64>, ApiError> {
    let registered: i64 = batches::table
        .find((gtin.as_str(), lot.as_str()))
        .select(batches::registered_idx)
        .first(conn)?;
    let mut indexes = vec![registered];
    let recalls: Vec<(i64, Vec<u8>)> = log_entries::table
        .filter(log_entries::kind.eq_any(["recall", "lift_recall"]))
        .filter(log_entries::idx.lt(tree_size as i64))
        .select((log_entries::idx, log_entries::entry))
        .load(conn)?;
    for (index, entry) in recalls {
        let signed = decode(index, &entry)?;
        let (recalled_gtin, recalled_lot) = match &signed.event.body {
            pedigree_schema::event::EventBody::Recall { gtin, lot, .. }
            | pedigree_schema::event::EventBody::LiftRecall { gtin, lot, .. } => (gtin, lot),
            _ => continue,
        };
        if recalled_gtin == gtin && recalled_lot == lot {
            indexes.push(index);
        }
    }
    Ok(indexes)
}

fn load_entry(conn: &mut DbConnection, index: i64) -> Result<SignedEvent, ApiError> {
    let entry: Vec<u8> = log_entries::table
        .find(index)
        .select(log_entries::entry)
        .first(conn)?;
    decode(index, &entry)
}

fn decode(index: i64, entry: &[u8]) -> Result<SignedEvent, ApiError> {
    SignedEvent::from_entry_bytes(entry)
        .map_err(|e| ApiError::Internal(format!("entry {index}: {e}")))
}
