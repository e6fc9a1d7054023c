//! `POST /v1/epcis/capture` on a real party service with a real ledger: the
//! events of an EPCIS 2.0 capture document that map are signed by this
//! party and land in the log; the others are refused, each with its reason,
//! without sinking the rest.

#[macro_use]
mod common;

use common::*;
use pedigree_schema::epcis::schema_check::violations;
use pedigree_schema::event::EventBody;
use pedigree_schema::gs1::{Gln, Gtin};
use serde_json::{json, Value};

both_backends!(mappable_events_are_signed_by_the_party_and_land_in_the_log,);

fn location(gln: &Gln) -> Value {
    json!({ "id": format!("https://id.gs1.org/414/{gln}") })
}

fn capture(events: Vec<Value>) -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-20T10:00:00Z",
        "epcisBody": { "eventList": events },
    })
}

fn event(step: &str, action: &str, here: &Gln, fields: Value) -> Value {
    let mut event = json!({
        "type": "ObjectEvent",
        "action": action,
        "bizStep": step,
        "eventTime": "2026-11-20T09:30:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "bizLocation": location(here),
    });
    for (name, value) in fields.as_object().expect("fields") {
        event[name] = value.clone();
    }
    event
}

fn pack_uri(gtin: &Gtin, serial: &str) -> String {
    format!("https://id.gs1.org/01/{gtin}/21/{serial}")
}

async fn mappable_events_are_signed_by_the_party_and_land_in_the_log(backend: Backend) {
    let net = Network::new();
    let (ledger_db, party_db) = (backend.database(), backend.database());
    let ledger = Ledger::start(net.ledger_settings(&ledger_db, "127.0.0.1:0".parse().unwrap()));
    ledger.accept(&net.genesis()).await;
    let party = RunningParty::start(net.party_config(&party_db, &ledger.base));
    let m = &net.manufacturer.gln;
    let product = gtin("0950600013435");
    // Products are master data, which EPCIS events do not carry.
    let registered = party
        .submit(vec![operation(
            &EventBody::RegisterProduct {
                gtin: product.clone(),
                name: "Paracetamol 500 mg".into(),
            },
            None,
        )])
        .await;
    party.settled(registered[0]).await;

    let case = sscc("09506000100000003");
    let document = capture(vec![
        event(
            "creating_class_instance",
            "ADD",
            m,
            json!({
                "quantityList": [{ "epcClass": format!("https://id.gs1.org/01/{product}/10/L5") }],
                "ilmd": { "cbvmda:itemExpirationDate": "2029-06-30", "pedigree:manufactured": "2026-11-01" },
            }),
        ),
        event(
            "commissioning",
            "ADD",
            m,
            json!({
                "epcList": [pack_uri(&product, "P1"), pack_uri(&product, "P2")],
                "disposition": "active",
                "ilmd": { "cbvmda:lotNumber": "L5" },
            }),
        ),
        json!({
            "type": "AggregationEvent", "action": "ADD", "bizStep": "packing",
            "eventTime": "2026-11-20T09:40:00Z", "eventTimeZoneOffset": "+00:00",
            "parentID": format!("https://id.gs1.org/00/{case}"),
            "childEPCs": [pack_uri(&product, "P2")],
            "readPoint": location(m),
        }),
        // Another party's premises: not this party's to sign.
        event(
            "inspecting",
            "OBSERVE",
            &net.pharmacy.gln,
            json!({ "epcList": [pack_uri(&product, "P1")] }),
        ),
        event(
            "repairing",
            "OBSERVE",
            m,
            json!({ "epcList": [pack_uri(&product, "P1")] }),
        ),
        // An EPC URN: GTIN 0 + 950600 + 013435 + check digit.
        event(
            "inspecting",
            "OBSERVE",
            m,
            json!({ "epcList": ["urn:epc:id:sgtin:950600.0013435.P1"] }),
        ),
    ]);
    assert_eq!(violations(&document), Vec::<String>::new());

    let answer = party.post("/v1/epcis/capture", &document).await.expect(202);
    assert_eq!(answer["accepted"], 4, "{answer}");
    assert_eq!(answer["refused"], 2, "{answer}");
    let events = answer["events"].as_array().expect("events");
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        ["accepted", "accepted", "accepted", "refused", "refused", "accepted"]
    );
    assert_eq!(events[3]["code"], "not_this_party");
    assert!(events[3]["reason"]
        .as_str()
        .expect("reason")
        .contains(net.pharmacy.gln.as_str()));
    assert_eq!(events[4]["code"], "unknown_biz_step");
    assert!(events[4]["reason"]
        .as_str()
        .expect("reason")
        .contains("repairing"));

    let kinds = ["register_batch", "commission", "aggregate", "verify"];
    let accepted: Vec<&Value> = events
        .iter()
        .filter(|e| e["status"] == "accepted")
        .collect();
    for (event, kind) in accepted.iter().zip(kinds) {
        let items = event["outbox"].as_array().expect("outbox items");
        assert_eq!(items.len(), 1, "{event}");
        let id = items[0]["id"].as_i64().expect("an id");
        let settled = party.settled(id).await;
        assert_eq!(settled["status"], "accepted", "{kind}: {settled}");
        let submission = stored_submission(&party_db, id);
        assert_eq!(submission.signed.event.body.kind(), kind);
        assert_eq!(&submission.signed.event.actor, m);
        assert_eq!(submission.signed.signer, net.manufacturer.public_key());
    }
    let status = ledger.status(&pack(&product, "P1")).await;
    assert_eq!(status["status"], "active", "{status}");
    assert_eq!(status["lot"], "L5", "{status}");

    // A document nothing of which maps stores nothing: 422 with the reasons.
    let before = party.outbox().await.len();
    let nothing = party
        .post(
            "/v1/epcis/capture",
            &capture(vec![json!({ "type": "TransactionEvent", "action": "ADD",
                "eventTime": "2026-11-20T09:30:00Z", "eventTimeZoneOffset": "+00:00",
                "bizTransactionList": [] })]),
        )
        .await
        .expect(422);
    assert_eq!(
        nothing["events"][0]["code"], "unsupported_event_type",
        "{nothing}"
    );
    assert_eq!(party.outbox().await.len(), before);

    // Malformed input and missing operators are 4xx errors.
    party
        .post_raw("/v1/epcis/capture", "{not json".into(), Some(&party.token))
        .await
        .assert_error(400, "malformed_json");
    // JSON-LD's own media type is welcome; other media types are not.
    for (media, status) in [("application/ld+json", 202), ("text/plain", 400)] {
        let answered = common::answer(
            client()
                .post(format!("{}/v1/epcis/capture", party.base))
                .bearer_auth(&party.token)
                .header("Content-Type", media)
                .body(
                    capture(vec![event(
                        "inspecting",
                        "OBSERVE",
                        m,
                        json!({ "epcList": [pack_uri(&product, "P2")] }),
                    )])
                    .to_string(),
                )
                .send()
                .await
                .expect("the party answers"),
        )
        .await;
        assert_eq!(answered.status, status, "{media}: {}", answered.body);
    }
    party
        .post(
            "/v1/epcis/capture",
            &json!({ "type": "EPCISQueryDocument", "@context": [] }),
        )
        .await
        .assert_error(400, "not_epcis_document");
    party
        .post_raw("/v1/epcis/capture", document.to_string(), None)
        .await
        .assert_error(401, "authentication_required");
    party.stop().await;
    ledger.stop().await;
}
