//! Pedigree log entries → EPCIS 2.0 events and an `EPCISDocument`.

use serde_json::{json, Map, Value};

use super::ids::{batch_uri, case_uri, item_uri, location_uri, pack_uri};
use super::{context, BIZSTEP_LIFTING_RECALL, BIZSTEP_REACTIVATING, BIZSTEP_RECALLING};
use crate::event::{
    DecommissionReason, EventBody, EventError, GeoPoint, Item, ShipmentPurpose, SignedEvent,
    Timestamp,
};
use crate::gs1::{Gln, Gs1Error, Gtin, PackId, Serial};

/// Why an entry has no EPCIS form.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Governance and master data (parties, keys, products) are not EPCIS events.
    #[error("a {kind} event is master data or governance, which EPCIS events do not carry")]
    NoEpcisEquivalent { kind: &'static str },
    #[error("entry {index}: an item of a {kind} event has no GS1 identifier: {source}")]
    Item {
        index: u64,
        kind: &'static str,
        source: EventError,
    },
    #[error("entry {index}: {source}")]
    Identifier { index: u64, source: Gs1Error },
    #[error("entry {index}: {source}")]
    Event { index: u64, source: EventError },
}

/// One log entry to export, with the item list the reader may see.
pub struct ExportEntry<'a> {
    /// The entry's leaf index in the log.
    pub index: u64,
    pub signed: &'a SignedEvent,
    /// The committed items (serials for `commission`, GS1 items otherwise),
    /// all of them or the subset the reader may see.
    pub items: &'a [String],
    /// Whether `items` is the whole committed list (written as
    /// `pedigree:itemsComplete`; the commitment itself is always written).
    pub items_complete: bool,
}

/// A CBV ObjectEvent's or AggregationEvent's defining fields.
struct Shape {
    kind: &'static str,
    action: &'static str,
    biz_step: &'static str,
    disposition: Option<&'static str>,
}

const fn shape(
    kind: &'static str,
    action: &'static str,
    biz_step: &'static str,
    disposition: Option<&'static str>,
) -> Shape {
    Shape {
        kind,
        action,
        biz_step,
        disposition,
    }
}

/// How each decommission reason is written: bizStep, disposition, action.
pub(crate) fn decommission_shape(
    reason: DecommissionReason,
) -> (&'static str, &'static str, &'static str) {
    match reason {
        DecommissionReason::Dispensed => ("dispensing", "dispensed", "OBSERVE"),
        DecommissionReason::Destroyed => ("destroying", "destroyed", "DELETE"),
        DecommissionReason::Stolen => ("decommissioning", "stolen", "DELETE"),
        DecommissionReason::Sample => ("sampling", "non_sellable_other", "DELETE"),
        DecommissionReason::Exported | DecommissionReason::Locked => {
            ("decommissioning", "inactive", "DELETE")
        }
    }
}

/// The EPCIS 2.0 form of one log entry.
pub fn export_event(entry: &ExportEntry<'_>) -> Result<Value, ExportError> {
    let index = entry.index;
    let event = &entry.signed.event;
    let id_error = |source| ExportError::Identifier { index, source };
    let actor = location_uri(&event.actor);
    let mut out = Map::new();
    let shape = match &event.body {
        EventBody::RegisterParty { .. }
        | EventBody::RotateKey { .. }
        | EventBody::RevokeKey { .. }
        | EventBody::RegisterProduct { .. } => {
            return Err(ExportError::NoEpcisEquivalent {
                kind: event.body.kind(),
            })
        }
        EventBody::RegisterBatch {
            gtin,
            lot,
            expiry,
            manufactured,
        } => {
            out.insert(
                "quantityList".into(),
                json!([{ "epcClass": batch_uri(gtin, lot).map_err(id_error)? }]),
            );
            out.insert(
                "ilmd".into(),
                json!({
                    "cbvmda:lotNumber": lot.as_str(),
                    "cbvmda:itemExpirationDate": expiry.last_valid_day().to_string(),
                    "pedigree:expiry": expiry.to_string(),
                    "pedigree:manufactured": manufactured.to_string(),
                }),
            );
            shape(
                "ObjectEvent",
                "ADD",
                "creating_class_instance",
                Some("active"),
            )
        }
        EventBody::Commission { gtin, lot, .. } => {
            out.insert("epcList".into(), Value::Array(serial_uris(entry, gtin)?));
            out.insert("ilmd".into(), json!({ "cbvmda:lotNumber": lot.as_str() }));
            shape("ObjectEvent", "ADD", "commissioning", Some("active"))
        }
        EventBody::Aggregate { case, .. } => {
            out.insert("parentID".into(), case_uri(case).into());
            out.insert("childEPCs".into(), Value::Array(item_uris(entry)?));
            shape("AggregationEvent", "ADD", "packing", Some("in_progress"))
        }
        EventBody::Disaggregate { case } => {
            out.insert("parentID".into(), case_uri(case).into());
            shape(
                "AggregationEvent",
                "DELETE",
                "unpacking",
                Some("in_progress"),
            )
        }
        EventBody::Ship {
            shipment,
            to,
            purpose,
            ..
        } => {
            out.insert("epcList".into(), Value::Array(item_uris(entry)?));
            insert_trade(&mut out, shipment, &event.actor, &event.actor, to);
            let disposition = match purpose {
                ShipmentPurpose::Sale => "in_transit",
                ShipmentPurpose::Return => "returned",
            };
            shape("ObjectEvent", "OBSERVE", "shipping", Some(disposition))
        }
        EventBody::Receive { shipment, from, .. } => {
            out.insert("epcList".into(), Value::Array(item_uris(entry)?));
            insert_trade(&mut out, shipment, from, from, &event.actor);
            shape("ObjectEvent", "OBSERVE", "receiving", Some("in_progress"))
        }
        EventBody::Decommission { pack, reason } => {
            out.insert("epcList".into(), json!([pack_uri(pack).map_err(id_error)?]));
            out.insert("pedigree:decommissionReason".into(), reason.as_str().into());
            let (biz_step, disposition, action) = decommission_shape(*reason);
            shape("ObjectEvent", action, biz_step, Some(disposition))
        }
        EventBody::Reactivate { pack } => {
            out.insert("epcList".into(), json!([pack_uri(pack).map_err(id_error)?]));
            shape(
                "ObjectEvent",
                "OBSERVE",
                BIZSTEP_REACTIVATING,
                Some("active"),
            )
        }
        EventBody::Recall {
            gtin, lot, reason, ..
        }
        | EventBody::LiftRecall { gtin, lot, reason } => {
            let lifting = matches!(event.body, EventBody::LiftRecall { .. });
            // A recall of selected serials lists them; a batch recall only its class.
            if event.body.item_set().is_some() {
                out.insert("epcList".into(), Value::Array(serial_uris(entry, gtin)?));
            }
            out.insert(
                "quantityList".into(),
                json!([{ "epcClass": batch_uri(gtin, lot).map_err(id_error)? }]),
            );
            out.insert(
                "persistentDisposition".into(),
                json!({ if lifting { "unset" } else { "set" }: ["recalled"] }),
            );
            out.insert("pedigree:reason".into(), reason.as_str().into());
            if lifting {
                shape(
                    "ObjectEvent",
                    "OBSERVE",
                    BIZSTEP_LIFTING_RECALL,
                    Some("active"),
                )
            } else {
                shape(
                    "ObjectEvent",
                    "OBSERVE",
                    BIZSTEP_RECALLING,
                    Some("recalled"),
                )
            }
        }
        EventBody::Verify {
            pack,
            lot,
            expiry,
            location,
        } => {
            out.insert("epcList".into(), json!([pack_uri(pack).map_err(id_error)?]));
            if let Some(lot) = lot {
                out.insert("pedigree:lot".into(), lot.as_str().into());
            }
            if let Some(expiry) = expiry {
                out.insert("pedigree:expiry".into(), expiry.to_string().into());
            }
            if let Some(point) = location {
                out.insert("readPoint".into(), json!({ "id": geo_uri(point) }));
            }
            shape("ObjectEvent", "OBSERVE", "inspecting", None)
        }
    };
    let event_id = entry
        .signed
        .id()
        .map_err(|source| ExportError::Event { index, source })?;
    out.insert("type".into(), shape.kind.into());
    out.insert("eventID".into(), event_id_uri(&event_id.0).into());
    out.insert("eventTime".into(), event.time.to_string().into());
    out.insert("eventTimeZoneOffset".into(), "+00:00".into());
    out.insert("action".into(), shape.action.into());
    out.insert("bizStep".into(), shape.biz_step.into());
    if let Some(disposition) = shape.disposition {
        out.insert("disposition".into(), disposition.into());
    }
    out.entry("readPoint")
        .or_insert_with(|| json!({ "id": actor.clone() }));
    // Goods that were shipped are in transit: no business location (CBV).
    if !matches!(event.body, EventBody::Ship { .. }) {
        out.insert("bizLocation".into(), json!({ "id": actor }));
    }
    out.insert("pedigree:leafIndex".into(), index.into());
    out.insert("pedigree:eventId".into(), event_id.to_string().into());
    out.insert("pedigree:kind".into(), event.body.kind().into());
    out.insert("pedigree:actor".into(), event.actor.as_str().into());
    out.insert(
        "pedigree:signer".into(),
        entry.signed.signer.to_string().into(),
    );
    out.insert(
        "pedigree:signature".into(),
        entry.signed.signature.to_string().into(),
    );
    if let Some((_, set)) = event.body.item_set() {
        out.insert(
            "pedigree:itemSet".into(),
            json!({ "root": hex::encode(set.root), "count": set.count }),
        );
        out.insert("pedigree:itemsComplete".into(), entry.items_complete.into());
    }
    Ok(Value::Object(out))
}

/// An `EPCISDocument` holding `events`, created at `created`.
pub fn document(events: Vec<Value>, created: Timestamp) -> Value {
    json!({
        "@context": context(),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created.to_string(),
        "epcisBody": { "eventList": events },
    })
}

/// A deterministic `urn:uuid:` from the event id's first 16 bytes, marked
/// as an RFC 9562 version 8 (custom) UUID; the full id is `pedigree:eventId`.
pub fn event_id_uri(id: &[u8; 32]) -> String {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&id[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// RFC 5870 `geo:` URI, degrees to six decimals.
pub(crate) fn geo_uri(point: &GeoPoint) -> String {
    let degrees = |e6: i32| {
        let sign = if e6 < 0 { "-" } else { "" };
        let abs = e6.unsigned_abs();
        format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
    };
    format!("geo:{},{}", degrees(point.lat_e6), degrees(point.lon_e6))
}

/// The shipment as a despatch advice, the parties as owners.
fn insert_trade(out: &mut Map<String, Value>, shipment: &str, issuer: &Gln, from: &Gln, to: &Gln) {
    out.insert(
        "bizTransactionList".into(),
        json!([{ "type": "desadv", "bizTransaction": format!("urn:epcglobal:cbv:bt:{issuer}:{shipment}") }]),
    );
    out.insert(
        "sourceList".into(),
        json!([{ "type": "owning_party", "source": location_uri(from) }]),
    );
    out.insert(
        "destinationList".into(),
        json!([{ "type": "owning_party", "destination": location_uri(to) }]),
    );
}

fn item_uris(entry: &ExportEntry<'_>) -> Result<Vec<Value>, ExportError> {
    let kind = entry.signed.event.body.kind();
    entry
        .items
        .iter()
        .enumerate()
        .map(|(position, text)| {
            let item = Item::parse_at(text, position).map_err(|source| ExportError::Item {
                index: entry.index,
                kind,
                source,
            })?;
            item_uri(&item)
                .map(Value::from)
                .map_err(|source| ExportError::Identifier {
                    index: entry.index,
                    source,
                })
        })
        .collect()
}

fn serial_uris(entry: &ExportEntry<'_>, gtin: &Gtin) -> Result<Vec<Value>, ExportError> {
    entry
        .items
        .iter()
        .enumerate()
        .map(|(position, text)| {
            let serial = Serial::parse(text).map_err(|source| ExportError::Item {
                index: entry.index,
                kind: entry.signed.event.body.kind(),
                source: EventError::Item {
                    index: position,
                    source,
                },
            })?;
            pack_uri(&PackId::new(gtin.clone(), serial))
                .map(Value::from)
                .map_err(|source| ExportError::Identifier {
                    index: entry.index,
                    source,
                })
        })
        .collect()
}
