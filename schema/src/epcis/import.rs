//! EPCIS 2.0 capture documents → Pedigree event bodies with their item
//! lists. Each event of the document maps on its own: an event that does
//! not map is refused with a precise reason and does not affect the others.
//!
//! The actor is not read from the document: the party that submits the
//! events signs them. The GLNs of `readPoint` and `bizLocation` are handed
//! back ([`ImportedEvent::locations`]) so the submitting party can refuse
//! events that happened at someone else's premises.

use serde_json::{Map, Value};

use super::ids::{self, parse_batch, parse_case, parse_item, parse_location, parse_pack, IdError};
use super::{cbv_term, BIZSTEP_LIFTING_RECALL, BIZSTEP_REACTIVATING, BIZSTEP_RECALLING};
use crate::event::{
    canonical_item_order, DecommissionReason, EventBody, GeoPoint, ItemSetRef, ShipmentPurpose,
    Timestamp,
};
use crate::gs1::{Expiry, Gln, Gtin, Lot, PackId};

/// Why a whole document is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("not an EPCIS capture document: {0}")]
    NotADocument(&'static str),
}

/// One Pedigree event body an EPCIS event maps to, with its item list
/// (canonical order) when the body commits to one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapped {
    pub body: EventBody,
    pub items: Option<Vec<String>>,
}

/// An EPCIS event that maps. One EPCIS event may become several Pedigree
/// events: Pedigree decommissions, reactivates and verifies one pack per
/// event, so an `epcList` of n packs becomes n bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedEvent {
    /// Position in `epcisBody.eventList`.
    pub position: usize,
    pub epcis_event_id: Option<String>,
    pub time: Timestamp,
    /// GLNs named by `readPoint` and `bizLocation`.
    pub locations: Vec<Gln>,
    pub mapped: Vec<Mapped>,
}

/// An EPCIS event that does not map, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    pub position: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epcis_event_id: Option<String>,
    pub code: &'static str,
    pub reason: String,
}

/// A refusal before its position is known.
struct Why {
    code: &'static str,
    reason: String,
}

fn why(code: &'static str, reason: impl Into<String>) -> Why {
    Why {
        code,
        reason: reason.into(),
    }
}

impl From<IdError> for Why {
    fn from(error: IdError) -> Self {
        why("invalid_identifier", error.to_string())
    }
}

/// Maps every event of an `EPCISDocument`, in order.
pub fn import_document(
    document: &Value,
) -> Result<Vec<Result<ImportedEvent, Refusal>>, ImportError> {
    let document = document
        .as_object()
        .ok_or(ImportError::NotADocument("the body is not a JSON object"))?;
    if !document.contains_key("@context") {
        return Err(ImportError::NotADocument(
            "a JSON-LD document needs its \"@context\"",
        ));
    }
    if document.get("type").and_then(Value::as_str) != Some("EPCISDocument") {
        return Err(ImportError::NotADocument(
            "\"type\" must be \"EPCISDocument\"",
        ));
    }
    let events = document
        .get("epcisBody")
        .and_then(|body| body.get("eventList"))
        .and_then(Value::as_array)
        .ok_or(ImportError::NotADocument(
            "\"epcisBody.eventList\" must be an array of events",
        ))?;
    Ok(events
        .iter()
        .enumerate()
        .map(|(position, event)| {
            let epcis_event_id = event
                .get("eventID")
                .and_then(Value::as_str)
                .map(str::to_owned);
            import_event(position, event).map_err(|Why { code, reason }| Refusal {
                position,
                epcis_event_id,
                code,
                reason,
            })
        })
        .collect())
}

/// The event types and business steps Pedigree maps (see the README table).
const SUPPORTED_STEPS: &str = "commissioning, creating_class_instance, packing, unpacking, shipping, receiving, dispensing, destroying, decommissioning, sampling, inspecting, and Pedigree's reactivating, recalling, lifting_recall";

/// CBV 2.0 dispositions (the bare terms).
const CBV_DISPOSITIONS: &[&str] = &[
    "active",
    "available",
    "completeness_inferred",
    "completeness_verified",
    "conformant",
    "container_closed",
    "container_open",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "mismatch_class",
    "mismatch_instance",
    "mismatch_quantity",
    "needs_replacement",
    "no_pedigree_match",
    "non_conformant",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unavailable",
    "unknown",
];

fn import_event(position: usize, event: &Value) -> Result<ImportedEvent, Why> {
    let event = event
        .as_object()
        .ok_or_else(|| why("invalid_event", "the event is not a JSON object"))?;
    let kind = text(event, "type")?;
    if !matches!(kind, "ObjectEvent" | "AggregationEvent") {
        return Err(why(
            "unsupported_event_type",
            format!("{kind} has no Pedigree equivalent: only ObjectEvent and AggregationEvent map to custody events"),
        ));
    }
    if event.contains_key("errorDeclaration") {
        return Err(why(
            "error_declaration",
            "error declarations (corrections of earlier events) are not supported: the log is append-only, so correct with a new event",
        ));
    }
    let time = serde_json::from_value::<Timestamp>(
        event
            .get("eventTime")
            .cloned()
            .ok_or_else(|| why("missing_field", "the event has no eventTime"))?,
    )
    .map_err(|e| why("invalid_field", format!("eventTime: {e}")))?;
    if !event.contains_key("eventTimeZoneOffset") {
        return Err(why("missing_field", "the event has no eventTimeZoneOffset"));
    }
    let action = text(event, "action")?;
    if !matches!(action, "ADD" | "OBSERVE" | "DELETE") {
        return Err(why(
            "invalid_field",
            format!("action {action:?} is not ADD, OBSERVE or DELETE"),
        ));
    }
    let raw_step = event
        .get("bizStep")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            why(
                "missing_field",
                format!("the event has no bizStep; Pedigree maps {SUPPORTED_STEPS}"),
            )
        })?;
    let step = cbv_term(
        raw_step,
        "urn:epcglobal:cbv:bizstep:",
        "https://ref.gs1.org/cbv/BizStep-",
    );
    let disposition = event.get("disposition").and_then(Value::as_str).map(|d| {
        cbv_term(
            d,
            "urn:epcglobal:cbv:disp:",
            "https://ref.gs1.org/cbv/Disp-",
        )
    });
    if let Some(other) = disposition.filter(|d| !CBV_DISPOSITIONS.contains(d) && !d.contains(':')) {
        return Err(why(
            "invalid_field",
            format!("disposition {other:?} is neither a CBV 2.0 disposition nor a URI"),
        ));
    }
    let (expected_kind, actions): (&str, &[&str]) = match step {
        "packing" => ("AggregationEvent", &["ADD"]),
        "unpacking" => ("AggregationEvent", &["DELETE"]),
        "commissioning" | "creating_class_instance" => ("ObjectEvent", &["ADD"]),
        "shipping"
        | "receiving"
        | "inspecting"
        | BIZSTEP_REACTIVATING
        | BIZSTEP_RECALLING
        | BIZSTEP_LIFTING_RECALL => ("ObjectEvent", &["OBSERVE"]),
        "dispensing" | "destroying" | "sampling" => ("ObjectEvent", &["OBSERVE", "DELETE"]),
        "decommissioning" => ("ObjectEvent", &["DELETE"]),
        other => {
            return Err(why(
                "unknown_biz_step",
                format!(
                    "bizStep {other:?} has no Pedigree equivalent; Pedigree maps {SUPPORTED_STEPS}"
                ),
            ))
        }
    };
    if kind != expected_kind {
        return Err(why(
            "unsupported_event_type",
            format!("bizStep {step} is mapped from an {expected_kind}, not an {kind}"),
        ));
    }
    if !actions.contains(&action) {
        return Err(why(
            "unsupported_action",
            format!(
                "action {action} is not supported for bizStep {step} (expected {})",
                actions.join(" or ")
            ),
        ));
    }
    let (locations, geo) = locations(event)?;
    let mapped = match step {
        "commissioning" => vec![commission(event)?],
        "creating_class_instance" => vec![register_batch(event)?],
        "packing" => {
            let case = parse_case(text(event, "parentID")?)?;
            let items = items(event, "childEPCs", true)?;
            vec![with_items(
                |contents| EventBody::Aggregate { case, contents },
                items,
            )]
        }
        "unpacking" => vec![Mapped {
            body: EventBody::Disaggregate {
                case: parse_case(text(event, "parentID")?)?,
            },
            items: None,
        }],
        "shipping" => {
            let items = items(event, "epcList", true)?;
            let shipment = shipment_id(event)?;
            let to = party(event, "destinationList", "destination")?;
            let purpose = match disposition {
                Some("returned") => ShipmentPurpose::Return,
                _ => ShipmentPurpose::Sale,
            };
            vec![with_items(
                |contents| EventBody::Ship {
                    shipment,
                    to,
                    purpose,
                    contents,
                },
                items,
            )]
        }
        "receiving" => {
            // An empty list is a receipt of nothing: every shipped item is missing.
            let items = items(event, "epcList", false)?;
            let shipment = shipment_id(event)?;
            let from = party(event, "sourceList", "source")?;
            vec![with_items(
                |received| EventBody::Receive {
                    shipment,
                    from,
                    received,
                },
                items,
            )]
        }
        "dispensing" | "destroying" | "sampling" | "decommissioning" => {
            let reason = decommission_reason(event, step, disposition)?;
            packs(event)?
                .into_iter()
                .map(|pack| body(EventBody::Decommission { pack, reason }))
                .collect()
        }
        BIZSTEP_REACTIVATING => packs(event)?
            .into_iter()
            .map(|pack| body(EventBody::Reactivate { pack }))
            .collect(),
        "inspecting" => {
            let lot = optional(event, "pedigree:lot", Lot::parse)?;
            let expiry = optional(event, "pedigree:expiry", Expiry::parse)?;
            packs(event)?
                .into_iter()
                .map(|pack| {
                    body(EventBody::Verify {
                        pack,
                        lot: lot.clone(),
                        expiry: expiry.clone(),
                        location: geo,
                    })
                })
                .collect()
        }
        recall_step => vec![recall(event, recall_step == BIZSTEP_RECALLING)?],
    };
    Ok(ImportedEvent {
        position,
        epcis_event_id: event
            .get("eventID")
            .and_then(Value::as_str)
            .map(str::to_owned),
        time,
        locations,
        mapped,
    })
}

fn body(body: EventBody) -> Mapped {
    Mapped { body, items: None }
}

fn with_items(make: impl FnOnce(ItemSetRef) -> EventBody, items: Vec<String>) -> Mapped {
    let items = canonical_item_order(items);
    Mapped {
        body: make(ItemSetRef::commit(&items)),
        items: Some(items),
    }
}

fn text<'a>(event: &'a Map<String, Value>, field: &str) -> Result<&'a str, Why> {
    match event.get(field) {
        None => Err(why("missing_field", format!("the event has no {field}"))),
        Some(value) => value
            .as_str()
            .ok_or_else(|| why("invalid_field", format!("{field} must be a string"))),
    }
}

fn optional<T, E: std::fmt::Display>(
    event: &Map<String, Value>,
    field: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<T>, Why> {
    event
        .get(field)
        .map(|_| {
            let value = text(event, field)?;
            parse(value).map_err(|e| why("invalid_field", format!("{field}: {e}")))
        })
        .transpose()
}

fn uri_list<'a>(
    event: &'a Map<String, Value>,
    field: &str,
    nonempty: bool,
) -> Result<Vec<&'a str>, Why> {
    let list = event
        .get(field)
        .ok_or_else(|| why("missing_field", format!("the event has no {field}")))?
        .as_array()
        .ok_or_else(|| why("invalid_field", format!("{field} must be an array")))?;
    if nonempty && list.is_empty() {
        return Err(why("missing_field", format!("{field} is empty")));
    }
    list.iter()
        .map(|uri| {
            uri.as_str().ok_or_else(|| {
                why(
                    "invalid_field",
                    format!("{field} must hold identifier strings"),
                )
            })
        })
        .collect()
}

/// Packs and cases, in their bracketed item form.
fn items(event: &Map<String, Value>, field: &str, nonempty: bool) -> Result<Vec<String>, Why> {
    uri_list(event, field, nonempty)?
        .into_iter()
        .map(|uri| Ok(parse_item(uri)?.to_string()))
        .collect()
}

fn packs(event: &Map<String, Value>) -> Result<Vec<PackId>, Why> {
    uri_list(event, "epcList", true)?
        .into_iter()
        .map(|uri| Ok(parse_pack(uri)?))
        .collect()
}

/// The one batch `quantityList` must name; `what` starts the refusal.
fn one_batch(event: &Map<String, Value>, what: &str) -> Result<(Gtin, Lot), Why> {
    let mut batches = batches(event)?;
    if batches.len() != 1 {
        return Err(why(
            "invalid_field",
            format!("{what} exactly one batch (one LGTIN in quantityList)"),
        ));
    }
    Ok(batches.remove(0))
}

fn batches(event: &Map<String, Value>) -> Result<Vec<(Gtin, Lot)>, Why> {
    let list = event
        .get("quantityList")
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty())
        .ok_or_else(|| {
            why(
                "missing_field",
                "the batch must be named in quantityList (an LGTIN epcClass)",
            )
        })?;
    list.iter()
        .map(|element| {
            let class = element
                .get("epcClass")
                .and_then(Value::as_str)
                .ok_or_else(|| why("invalid_field", "quantityList elements need an epcClass"))?;
            Ok(parse_batch(class)?)
        })
        .collect()
}

/// An ilmd entry by its local name, whatever namespace prefix it carries
/// (`cbvmda:lotNumber`, `urn:epcglobal:cbv:mda#lotNumber`, …).
fn ilmd<'a>(event: &'a Map<String, Value>, local: &str) -> Option<&'a str> {
    event
        .get("ilmd")?
        .as_object()?
        .iter()
        .find(|(key, _)| key.rsplit([':', '#', '/']).next() == Some(local))
        .and_then(|(_, value)| value.as_str())
}

fn commission(event: &Map<String, Value>) -> Result<Mapped, Why> {
    let packs = packs(event)?;
    let gtin = packs[0].gtin.clone();
    if let Some(other) = packs.iter().find(|pack| pack.gtin != gtin) {
        return Err(why(
            "invalid_field",
            format!(
                "Pedigree commissions one batch per event, but epcList holds GTINs {gtin} and {}",
                other.gtin
            ),
        ));
    }
    let lot = ilmd(event, "lotNumber").ok_or_else(|| {
        why(
            "missing_field",
            "commissioning needs the batch in ilmd \"cbvmda:lotNumber\"",
        )
    })?;
    let lot = Lot::parse(lot).map_err(|e| why("invalid_field", format!("ilmd lotNumber: {e}")))?;
    let serials = packs
        .into_iter()
        .map(|pack| pack.serial.to_string())
        .collect();
    Ok(with_items(
        |serials| EventBody::Commission { gtin, lot, serials },
        serials,
    ))
}

fn register_batch(event: &Map<String, Value>) -> Result<Mapped, Why> {
    let (gtin, lot) = one_batch(event, "creating_class_instance registers")?;
    let expiry = match (ilmd(event, "expiry"), ilmd(event, "itemExpirationDate")) {
        (Some(yymmdd), _) => {
            Expiry::parse(yymmdd).map_err(|e| why("invalid_field", format!("ilmd expiry: {e}")))?
        }
        (None, Some(date)) => Expiry::from_date(date.parse().map_err(|e| {
            why(
                "invalid_field",
                format!("ilmd itemExpirationDate {date:?}: {e}"),
            )
        })?),
        (None, None) => {
            return Err(why(
                "missing_field",
                "a batch needs ilmd \"cbvmda:itemExpirationDate\"",
            ))
        }
    };
    let manufactured = ilmd(event, "manufactured").ok_or_else(|| {
        why(
            "missing_field",
            "a batch needs its manufacturing date in ilmd \"pedigree:manufactured\"",
        )
    })?;
    let manufactured = manufactured.parse().map_err(|e| {
        why(
            "invalid_field",
            format!("ilmd manufactured {manufactured:?}: {e}"),
        )
    })?;
    Ok(body(EventBody::RegisterBatch {
        gtin,
        lot,
        expiry,
        manufactured,
    }))
}

/// The shipment id from the despatch advice `urn:epcglobal:cbv:bt:{gln}:{id}`.
fn shipment_id(event: &Map<String, Value>) -> Result<String, Why> {
    let missing = || {
        why(
            "missing_field",
            "a shipment is identified by a desadv bizTransaction \"urn:epcglobal:cbv:bt:<GLN>:<shipment id>\"",
        )
    };
    let transactions = event
        .get("bizTransactionList")
        .and_then(Value::as_array)
        .ok_or_else(missing)?;
    let desadv = transactions
        .iter()
        .find(|t| {
            t.get("type").and_then(Value::as_str).is_some_and(|kind| {
                cbv_term(
                    kind,
                    "urn:epcglobal:cbv:btt:",
                    "https://ref.gs1.org/cbv/BTT-",
                ) == "desadv"
            })
        })
        .and_then(|t| t.get("bizTransaction"))
        .and_then(Value::as_str)
        .ok_or_else(missing)?;
    let id = desadv
        .strip_prefix("urn:epcglobal:cbv:bt:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(gln, _)| Gln::parse(gln).is_ok())
        .map(|(_, id)| id)
        .ok_or_else(|| {
            why(
                "invalid_field",
                format!("desadv {desadv:?} is not \"urn:epcglobal:cbv:bt:<GLN>:<shipment id>\""),
            )
        })?;
    Ok(id.to_owned())
}

/// The party of a source or destination list: owner first, then possessor, then location.
fn party(event: &Map<String, Value>, list: &str, field: &str) -> Result<Gln, Why> {
    let entries = event.get(list).and_then(Value::as_array).ok_or_else(|| {
        why(
            "missing_field",
            format!("the event has no {list} naming the other party"),
        )
    })?;
    for wanted in ["owning_party", "possessing_party", "location"] {
        let found = entries.iter().find(|entry| {
            entry
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|kind| {
                    cbv_term(
                        kind,
                        "urn:epcglobal:cbv:sdt:",
                        "https://ref.gs1.org/cbv/SDT-",
                    ) == wanted
                })
        });
        if let Some(uri) = found
            .and_then(|entry| entry.get(field))
            .and_then(Value::as_str)
        {
            return Ok(parse_location(uri)?);
        }
    }
    Err(why(
        "missing_field",
        format!("{list} has no owning_party, possessing_party or location"),
    ))
}

/// The GLNs of readPoint and bizLocation, and a readPoint `geo:` position.
fn locations(event: &Map<String, Value>) -> Result<(Vec<Gln>, Option<GeoPoint>), Why> {
    let mut glns = Vec::new();
    let mut geo = None;
    for field in ["readPoint", "bizLocation"] {
        let Some(place) = event.get(field) else {
            continue;
        };
        let id = place
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| why("invalid_field", format!("{field} needs an \"id\"")))?;
        match id.strip_prefix("geo:") {
            Some(position) if field == "readPoint" => {
                geo = Some(geo_point(position).ok_or_else(|| {
                    why(
                        "invalid_field",
                        format!("readPoint {id:?} is not geo:<lat>,<lon>"),
                    )
                })?)
            }
            _ => {
                let gln = ids::parse_location(id)
                    .map_err(|e| why("invalid_identifier", format!("{field}: {e}")))?;
                if !glns.contains(&gln) {
                    glns.push(gln);
                }
            }
        }
    }
    Ok((glns, geo))
}

fn geo_point(position: &str) -> Option<GeoPoint> {
    let coordinates = position.split(';').next()?;
    let (lat, lon) = coordinates.split_once(',')?;
    let lon = lon.split(',').next()?;
    Some(GeoPoint::from_degrees(lat.parse().ok()?, lon.parse().ok()?))
}

fn decommission_reason(
    event: &Map<String, Value>,
    step: &str,
    disposition: Option<&str>,
) -> Result<DecommissionReason, Why> {
    Ok(match (step, disposition) {
        ("dispensing", _) => DecommissionReason::Dispensed,
        ("destroying", _) => DecommissionReason::Destroyed,
        ("sampling", _) => DecommissionReason::Sample,
        (_, Some("stolen")) => DecommissionReason::Stolen,
        // CBV's plain decommissioning: Pedigree's reversible "locked" unless
        // the extension says the pack was exported.
        _ => match event.get("pedigree:decommissionReason").and_then(Value::as_str) {
            None | Some("locked") => DecommissionReason::Locked,
            Some("exported") => DecommissionReason::Exported,
            Some(other) => {
                return Err(why(
                    "invalid_field",
                    format!("pedigree:decommissionReason {other:?} does not go with bizStep decommissioning (expected exported or locked)"),
                ))
            }
        },
    })
}

/// A recall (of a whole batch, or of the serials in `epcList`) or its lifting.
fn recall(event: &Map<String, Value>, recalling: bool) -> Result<Mapped, Why> {
    let reason = text(event, "pedigree:reason")
        .map_err(|_| {
            why(
                "missing_field",
                "a recall or its lifting needs its reason in \"pedigree:reason\"",
            )
        })?
        .to_owned();
    let (gtin, lot) = one_batch(event, "a recall names")?;
    if !recalling {
        return Ok(body(EventBody::LiftRecall { gtin, lot, reason }));
    }
    if !event.contains_key("epcList") {
        return Ok(body(EventBody::Recall {
            gtin,
            lot,
            reason,
            serials: None,
        }));
    }
    let packs = packs(event)?;
    if let Some(other) = packs.iter().find(|pack| pack.gtin != gtin) {
        return Err(why(
            "invalid_field",
            format!("pack {other} recalled in epcList is not of the recalled batch's GTIN {gtin}"),
        ));
    }
    let serials = packs
        .into_iter()
        .map(|pack| pack.serial.to_string())
        .collect();
    Ok(with_items(
        |set| EventBody::Recall {
            gtin,
            lot,
            reason,
            serials: Some(set),
        },
        serials,
    ))
}
