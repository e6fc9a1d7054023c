//! EPCIS 2.0 export and import: every exportable kind validates against
//! GS1's vendored schema and imports back to the same body; the vendored
//! capture documents map or are refused with a precise reason.

use std::path::PathBuf;

use chrono::NaiveDate;
use pedigree_schema::epcis::schema_check::violations;
use pedigree_schema::epcis::{document, export_event, import_document, ExportEntry, ExportError};
use pedigree_schema::event::{
    canonical_item_order, DecommissionReason, Event, EventBody, GeoPoint, ItemSetRef, Role,
    ShipmentPurpose, SignedEvent, Timestamp,
};
use pedigree_schema::gs1::{check_digit, Expiry, Gln, Gtin, Lot, PackId, Serial, Sscc};
use pedigree_schema::keys::SecretKey;
use serde_json::{json, Value};

fn digits(body: &str) -> String {
    format!("{body}{}", check_digit(body).expect("digits"))
}

fn gln(body: &str) -> Gln {
    Gln::parse(&digits(body)).expect("gln")
}

fn gtin() -> Gtin {
    Gtin::parse(&digits("0950600013435")).expect("gtin")
}

fn lot() -> Lot {
    Lot::parse("L-42/A").expect("lot")
}

fn sscc(body: &str) -> Sscc {
    Sscc::parse(&digits(body)).expect("sscc")
}

fn pack(serial: &str) -> PackId {
    PackId::new(gtin(), Serial::parse(serial).expect("serial"))
}

fn item(serial: &str) -> String {
    format!("(01){}(21){serial}", gtin())
}

/// A body with its canonical item list.
fn with_items(
    items: &[String],
    make: impl FnOnce(ItemSetRef) -> EventBody,
) -> (EventBody, Vec<String>) {
    let items = canonical_item_order(items.to_vec());
    (make(ItemSetRef::commit(&items)), items)
}

/// One body of every exportable kind (and every decommission reason).
fn exportable() -> Vec<(EventBody, Vec<String>)> {
    let serials: Vec<String> = ["A1", "A2", "B%3"].map(String::from).to_vec();
    let case = sscc("09506000000000001");
    let shipped = vec![format!("(00){case}"), item("A2")];
    let mut bodies = vec![
        (
            EventBody::RegisterBatch {
                gtin: gtin(),
                lot: lot(),
                expiry: Expiry::parse("271100").expect("expiry"),
                manufactured: NaiveDate::from_ymd_opt(2026, 1, 5).expect("date"),
            },
            vec![],
        ),
        with_items(&serials, |serials| EventBody::Commission {
            gtin: gtin(),
            lot: lot(),
            serials,
        }),
        with_items(&[item("A1")], |contents| EventBody::Aggregate {
            case: case.clone(),
            contents,
        }),
        (EventBody::Disaggregate { case: case.clone() }, vec![]),
        with_items(&shipped, |contents| EventBody::Ship {
            shipment: "SHP-1:x".into(),
            to: gln("950600000004"),
            purpose: ShipmentPurpose::Sale,
            contents,
        }),
        with_items(&shipped, |contents| EventBody::Ship {
            shipment: "RET-7".into(),
            to: gln("950600000002"),
            purpose: ShipmentPurpose::Return,
            contents,
        }),
        with_items(&shipped[..1], |received| EventBody::Receive {
            shipment: "SHP-1:x".into(),
            from: gln("950600000002"),
            received,
        }),
        with_items(&[], |received| EventBody::Receive {
            shipment: "SHP-2".into(),
            from: gln("950600000002"),
            received,
        }),
        (EventBody::Reactivate { pack: pack("A1") }, vec![]),
        (
            EventBody::Recall {
                gtin: gtin(),
                lot: lot(),
                reason: "contamination".into(),
                serials: None,
            },
            vec![],
        ),
        with_items(&serials[..2], |set| EventBody::Recall {
            gtin: gtin(),
            lot: lot(),
            reason: "two packs tampered".into(),
            serials: Some(set),
        }),
        (
            EventBody::LiftRecall {
                gtin: gtin(),
                lot: lot(),
                reason: "cleared".into(),
            },
            vec![],
        ),
        (
            EventBody::Verify {
                pack: pack("A1"),
                lot: Some(lot()),
                expiry: Some(Expiry::parse("271100").expect("expiry")),
                location: Some(GeoPoint::from_degrees(-33.868_82, 151.209_296)),
            },
            vec![],
        ),
        (
            EventBody::Verify {
                pack: pack("A2"),
                lot: None,
                expiry: None,
                location: None,
            },
            vec![],
        ),
    ];
    for reason in [
        DecommissionReason::Dispensed,
        DecommissionReason::Destroyed,
        DecommissionReason::Stolen,
        DecommissionReason::Sample,
        DecommissionReason::Exported,
        DecommissionReason::Locked,
    ] {
        bodies.push((
            EventBody::Decommission {
                pack: pack("A1"),
                reason,
            },
            vec![],
        ));
    }
    bodies
}

fn sign(body: EventBody) -> SignedEvent {
    let time = Timestamp::from(
        chrono::DateTime::parse_from_rfc3339("2026-11-20T10:15:30.123456Z")
            .expect("time")
            .with_timezone(&chrono::Utc),
    );
    Event::new(gln("950600000003"), time, body)
        .sign(&SecretKey::generate())
        .expect("signs")
}

fn export_all(bodies: &[(EventBody, Vec<String>)]) -> Value {
    let signed: Vec<SignedEvent> = bodies.iter().map(|(body, _)| sign(body.clone())).collect();
    let events = signed
        .iter()
        .zip(bodies)
        .enumerate()
        .map(|(index, (signed, (_, items)))| {
            export_event(&ExportEntry {
                index: index as u64,
                signed,
                items,
                items_complete: true,
            })
            .expect("exports")
        })
        .collect();
    document(events, Timestamp::now())
}

#[test]
fn every_custody_kind_exports_valid_epcis_and_imports_back() {
    let bodies = exportable();
    let document = export_all(&bodies);
    assert_eq!(violations(&document), Vec::<String>::new(), "{document:#}");
    let imported = import_document(&document).expect("a document");
    assert_eq!(imported.len(), bodies.len());
    for ((body, items), outcome) in bodies.iter().zip(imported) {
        let event =
            outcome.unwrap_or_else(|refusal| panic!("{} refused: {refusal:?}", body.kind()));
        assert_eq!(event.mapped.len(), 1, "{}", body.kind());
        assert_eq!(&event.mapped[0].body, body);
        let expected_items = body.item_set().map(|_| items.clone());
        assert_eq!(event.mapped[0].items, expected_items, "{}", body.kind());
        assert_eq!(
            event.locations,
            vec![gln("950600000003")],
            "{}",
            body.kind()
        );
    }
}

#[test]
fn exported_events_carry_cbv_vocabulary_digital_links_and_pedigree_facts() {
    let bodies = exportable();
    let document = export_all(&bodies);
    let events = document["epcisBody"]["eventList"]
        .as_array()
        .expect("events");
    let commission = &events[1];
    assert_eq!(commission["type"], "ObjectEvent");
    assert_eq!(commission["action"], "ADD");
    assert_eq!(commission["bizStep"], "commissioning");
    assert_eq!(commission["disposition"], "active");
    assert_eq!(commission["ilmd"]["cbvmda:lotNumber"], "L-42/A");
    assert!(commission["epcList"]
        .as_array()
        .expect("list")
        .contains(&json!(format!("https://id.gs1.org/01/{}/21/B%253", gtin()))));
    assert_eq!(commission["pedigree:leafIndex"], 1);
    assert_eq!(commission["pedigree:itemSet"]["count"], 3);
    assert!(commission["eventID"]
        .as_str()
        .expect("id")
        .starts_with("urn:uuid:"));
    let packing = &events[2];
    assert_eq!(packing["type"], "AggregationEvent");
    assert_eq!(packing["bizStep"], "packing");
    assert_eq!(
        packing["parentID"],
        format!("https://id.gs1.org/00/{}", sscc("09506000000000001"))
    );
    let shipping = &events[4];
    assert_eq!(shipping["disposition"], "in_transit");
    assert_eq!(
        shipping["destinationList"][0]["destination"],
        format!("https://id.gs1.org/414/{}", gln("950600000004"))
    );
    assert!(shipping.get("bizLocation").is_none());
    assert_eq!(shipping["eventTime"], "2026-11-20T10:15:30.123456Z");
    assert_eq!(shipping["eventTimeZoneOffset"], "+00:00");
    let recall = &events[9];
    assert_eq!(recall["disposition"], "recalled");
    assert_eq!(
        recall["quantityList"][0]["epcClass"],
        format!("https://id.gs1.org/01/{}/10/L-42%2FA", gtin())
    );
    // The same entry always gets the same eventID.
    let again = export_all(&bodies[..1]);
    let first = export_all(&bodies[..1]);
    assert_ne!(again["epcisBody"]["eventList"][0]["eventID"], Value::Null);
    assert_eq!(
        again["epcisBody"]["eventList"][0]["pedigree:kind"],
        first["epcisBody"]["eventList"][0]["pedigree:kind"]
    );
}

#[test]
fn governance_and_master_data_have_no_epcis_form() {
    let key = SecretKey::generate();
    let bodies = [
        EventBody::RegisterParty {
            party: gln("950600000003"),
            name: "Wholesale".into(),
            role: Role::Distributor,
            key: key.public_key(),
            location: None,
        },
        EventBody::RotateKey {
            party: gln("950600000003"),
            key: key.public_key(),
        },
        EventBody::RegisterProduct {
            gtin: gtin(),
            name: "Aspirin".into(),
        },
    ];
    for body in bodies {
        let signed = sign(body);
        let error = export_event(&ExportEntry {
            index: 0,
            signed: &signed,
            items: &[],
            items_complete: true,
        })
        .expect_err("no EPCIS form");
        assert!(
            matches!(error, ExportError::NoEpcisEquivalent { .. }),
            "{error}"
        );
    }
}

#[test]
fn epc_urns_import_like_digital_links() {
    // urn:epc:id:sgtin:950600.0013435.A1 is GTIN 0 + 950600 + 013435 + check digit.
    let capture = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-20T10:00:00Z",
        "epcisBody": { "eventList": [{
            "type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
            "eventTime": "2026-11-20T11:00:00+01:00", "eventTimeZoneOffset": "+01:00",
            "epcList": ["urn:epc:id:sgtin:950600.0013435.A1", "urn:epc:id:sscc:950600.00000000001"],
            "readPoint": { "id": "urn:epc:id:sgln:950600.000000.0" },
            "bizTransactionList": [{ "type": "desadv", "bizTransaction": format!("urn:epcglobal:cbv:bt:{}:S-9", gln("950600000003")) }],
            "destinationList": [{ "type": "owning_party", "destination": "urn:epc:id:sgln:950600.000000.0" }]
        }]}
    });
    assert_eq!(violations(&capture), Vec::<String>::new());
    let event = import_document(&capture)
        .expect("document")
        .remove(0)
        .expect("maps");
    let (expected, items) = with_items(
        &[format!("(00){}", sscc("09506000000000001")), item("A1")],
        |contents| EventBody::Ship {
            shipment: "S-9".into(),
            to: gln("950600000000"),
            purpose: ShipmentPurpose::Sale,
            contents,
        },
    );
    assert_eq!(event.mapped[0].body, expected);
    assert_eq!(event.mapped[0].items, Some(items));
    assert_eq!(event.locations, vec![gln("950600000000")]);
    // CBV 1.x URNs for the vocabulary (outside the 2.0 schema, but still sent) map the same.
    let mut urn_vocabulary = capture.clone();
    urn_vocabulary["epcisBody"]["eventList"][0]["bizStep"] =
        json!("urn:epcglobal:cbv:bizstep:shipping");
    urn_vocabulary["epcisBody"]["eventList"][0]["disposition"] =
        json!("urn:epcglobal:cbv:disp:in_transit");
    let again = import_document(&urn_vocabulary)
        .expect("document")
        .remove(0)
        .expect("maps");
    assert_eq!(again.mapped[0].body, expected);
}

#[test]
fn unmappable_events_are_refused_with_precise_reasons() {
    let base = json!({
        "type": "ObjectEvent", "action": "OBSERVE", "bizStep": "dispensing",
        "eventTime": "2026-11-20T11:00:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": [format!("https://id.gs1.org/01/{}/21/A1", gtin())]
    });
    let variant = |field: &str, value: Value| {
        let mut event = base.clone();
        if value.is_null() {
            event.as_object_mut().expect("object").remove(field);
        } else {
            event[field] = value;
        }
        event
    };
    let cases = [
        (
            variant("bizStep", json!("repairing")),
            "unknown_biz_step",
            "repairing",
        ),
        (
            variant("action", json!("ADD")),
            "unsupported_action",
            "ADD is not supported for bizStep dispensing",
        ),
        (
            variant("epcList", Value::Null),
            "missing_field",
            "no epcList",
        ),
        (
            variant(
                "epcList",
                json!(["https://id.gs1.org/01/09506000134353/21/A1"]),
            ),
            "invalid_identifier",
            "check digit",
        ),
        (
            variant("epcList", json!(["urn:epc:id:grai:0614141.12345.400"])),
            "invalid_identifier",
            "only the EPC schemes",
        ),
        (
            variant(
                "epcList",
                json!([format!(
                    "https://id.gs1.org/00/{}",
                    sscc("09506000000000001")
                )]),
            ),
            "invalid_identifier",
            "a pack (SGTIN) is needed",
        ),
        (
            variant("type", json!("TransformationEvent")),
            "unsupported_event_type",
            "TransformationEvent",
        ),
        (
            variant("bizStep", json!("packing")),
            "unsupported_event_type",
            "AggregationEvent",
        ),
        (
            variant("eventTime", json!("yesterday")),
            "invalid_field",
            "eventTime",
        ),
        (
            variant("disposition", json!("in_transport")),
            "invalid_field",
            "in_transport",
        ),
    ];
    let capture = json!({
        "@context": "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-20T10:00:00Z",
        "epcisBody": { "eventList": cases.iter().map(|(event, _, _)| event.clone()).chain([base.clone()]).collect::<Vec<_>>() }
    });
    let outcomes = import_document(&capture).expect("document");
    for ((_, code, words), outcome) in cases.iter().zip(&outcomes) {
        let refusal = outcome.as_ref().expect_err(code);
        assert_eq!(refusal.code, *code, "{refusal:?}");
        assert!(
            refusal.reason.contains(words),
            "{refusal:?} should say {words:?}"
        );
    }
    // Refusals do not sink the event that maps.
    let last = outcomes.last().expect("last").as_ref().expect("maps");
    assert_eq!(
        last.mapped[0].body,
        EventBody::Decommission {
            pack: pack("A1"),
            reason: DecommissionReason::Dispensed
        }
    );
}

fn testdata(dir: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/epcis")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("testdata")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, serde_json::from_str(&text).expect("JSON"))
        })
        .collect()
}

#[test]
fn vendored_valid_captures_pass_the_schema_and_map_or_are_refused_precisely() {
    let documents = testdata("capture-valid");
    assert!(documents.len() >= 5);
    let mut mapped = 0;
    for (name, capture) in documents {
        assert_eq!(violations(&capture), Vec::<String>::new(), "{name}");
        for outcome in import_document(&capture).unwrap_or_else(|e| panic!("{name}: {e}")) {
            match outcome {
                Ok(event) => {
                    assert!(!event.mapped.is_empty(), "{name}");
                    mapped += 1;
                }
                Err(refusal) => assert!(
                    [
                        "unsupported_event_type",
                        "unknown_biz_step",
                        "missing_field",
                        "invalid_field",
                        "error_declaration",
                        "invalid_identifier"
                    ]
                    .contains(&refusal.code)
                        && refusal.reason.len() > 20,
                    "{name}: {refusal:?}"
                ),
            }
        }
    }
    // ObjectEvent_with_sensorData.json's inspecting event maps to a verification.
    assert!(mapped >= 1);
    let object_event = &testdata("capture-valid")
        .into_iter()
        .find(|(name, _)| name == "ObjectEvent.json")
        .expect("ObjectEvent.json")
        .1;
    let reasons: Vec<String> = import_document(object_event)
        .expect("document")
        .into_iter()
        .map(|outcome| outcome.expect_err("refused").reason)
        .collect();
    assert!(reasons[0].contains("desadv"), "{reasons:?}");
    assert!(reasons[1].contains("sourceList"), "{reasons:?}");
}

#[test]
fn vendored_invalid_captures_fail_the_schema_and_are_refused() {
    let documents = testdata("capture-invalid");
    assert!(documents.len() >= 5);
    for (name, capture) in documents {
        assert!(
            !violations(&capture).is_empty(),
            "{name} should break the schema"
        );
        match import_document(&capture) {
            Err(_) => {}
            Ok(outcomes) => assert!(
                outcomes.iter().any(Result::is_err),
                "{name}: some event should be refused"
            ),
        }
    }
}
