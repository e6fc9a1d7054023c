//! `POST /v1/epcis/capture`: a party's existing system hands over an EPCIS
//! 2.0 capture document (`EPCISDocument`, as `application/json` or
//! `application/ld+json`); each event that maps
//! (`pedigree_schema::epcis::import`) is signed with this party's key and
//! queued in the outbox, like any other operation.
//!
//! Events are judged one by one: an event that does not map, that happened
//! at another party's premises (a `readPoint` or `bizLocation` with another
//! GLN: this party signs only what it did), that breaks an event rule, or
//! that repeats an earlier event of the document is refused with its reason
//! and does not sink the others. The events that pass are stored together
//! in one outbox transaction, so a storage failure stores none of them.
//! They are signed at the time of the import (the outbox's clock): the
//! party attests them now; the EPCIS `eventTime` is answered back, not
//! signed.
//!
//! The answer is `202 Accepted` when at least one event was queued, `422`
//! when none was; either way `events` says, per EPCIS event in order,
//! `accepted` with its outbox items (ids, event ids) or `refused` with a
//! code and a reason.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use pedigree_schema::epcis::import::Mapped;
use pedigree_schema::epcis::{import_document, ImportedEvent, Refusal};
use pedigree_schema::event::{Event, Timestamp};
use pedigree_schema::gs1::Gln;
use serde::Serialize;
use serde_json::Value;

use crate::outbox::OutboxItem;
use crate::{Operation, Operator, Party, PartyError, MAX_BODY_BYTES};

/// One EPCIS event's outcome.
#[derive(Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Outcome {
    Accepted {
        position: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        epcis_event_id: Option<String>,
        event_time: Timestamp,
        /// The Pedigree events it became (one per pack for per-pack kinds).
        outbox: Vec<OutboxItem>,
    },
    Refused(Refusal),
}

/// `POST /v1/epcis/capture`.
pub async fn capture(
    party: Data<Party>,
    _: Operator,
    request: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, PartyError> {
    let document = read_document(&request, payload).await?;
    let events = import_document(&document)
        .map_err(|e| PartyError::bad_request("not_epcis_document", e.to_string()))?;
    if events.is_empty() {
        return Err(PartyError::bad_request(
            "empty_document",
            "the document's eventList holds no events",
        ));
    }
    let now = Timestamp::now();
    let mut judged: Vec<Result<ImportedEvent, Refusal>> = Vec::with_capacity(events.len());
    for outcome in events {
        let checked =
            outcome.and_then(|event| admit(&event, party.gln(), now, &judged).map(|()| event));
        judged.push(checked);
    }
    let operations: Vec<Operation> = judged
        .iter()
        .flatten()
        .flat_map(|event| event.mapped.iter())
        .map(|Mapped { body, items }| Operation {
            body: body.clone(),
            items: items.clone(),
        })
        .collect();
    let mut stored = if operations.is_empty() {
        Vec::new()
    } else {
        let party = party.clone();
        web::block(move || party.outbox().submit(operations)).await??
    }
    .into_iter();
    let accepted = judged.iter().filter(|event| event.is_ok()).count();
    let outcomes: Vec<Outcome> = judged
        .into_iter()
        .map(|judged| match judged {
            Ok(event) => Outcome::Accepted {
                position: event.position,
                epcis_event_id: event.epcis_event_id,
                event_time: event.time,
                outbox: stored.by_ref().take(event.mapped.len()).collect(),
            },
            Err(refusal) => Outcome::Refused(refusal),
        })
        .collect();
    let status = if accepted > 0 {
        StatusCode::ACCEPTED
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(HttpResponse::build(status).json(serde_json::json!({
        "accepted": accepted,
        "refused": outcomes.len() - accepted,
        "events": outcomes,
    })))
}

/// The body as JSON: `application/json` or `application/ld+json`, at most
/// [`MAX_BODY_BYTES`], with the same error codes as the JSON extractor.
async fn read_document(request: &HttpRequest, payload: Payload) -> Result<Value, PartyError> {
    let json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            let media = media.trim();
            media.eq_ignore_ascii_case("application/json")
                || media.eq_ignore_ascii_case("application/ld+json")
        });
    if !json {
        return Err(PartyError::bad_request(
            "unsupported_media_type",
            "the body must be an EPCIS document (Content-Type: application/json or application/ld+json)",
        ));
    }
    let body = payload
        .to_bytes_limited(MAX_BODY_BYTES)
        .await
        .map_err(|_| PartyError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        })?
        .map_err(|e| PartyError::bad_request("malformed_body", e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| {
        PartyError::bad_request("malformed_json", format!("the body is not JSON: {e}"))
    })
}

/// Whether this party may sign `event` now: it happened here, each body
/// passes the event rules, and it is not an earlier event of the document
/// again (which the outbox would refuse, sinking the whole batch).
fn admit(
    event: &ImportedEvent,
    own: &Gln,
    now: Timestamp,
    earlier: &[Result<ImportedEvent, Refusal>],
) -> Result<(), Refusal> {
    let refuse = |code: &'static str, reason: String| Refusal {
        position: event.position,
        epcis_event_id: event.epcis_event_id.clone(),
        code,
        reason,
    };
    if let Some(other) = event.locations.iter().find(|gln| *gln != own) {
        return Err(refuse(
            "not_this_party",
            format!("the event happened at {other}, not at this party ({own}); a party signs only its own events"),
        ));
    }
    for (index, mapped) in event.mapped.iter().enumerate() {
        Event::new(own.clone(), now, mapped.body.clone())
            .validate()
            .map_err(|e| refuse("invalid_event", e.to_string()))?;
        let repeated = earlier
            .iter()
            .flatten()
            .flat_map(|e| e.mapped.iter())
            .chain(&event.mapped[..index])
            .any(|m| m == mapped);
        if repeated {
            return Err(refuse(
                "duplicate_event",
                format!(
                    "the same {} event as an earlier event of this document",
                    mapped.body.kind()
                ),
            ));
        }
    }
    Ok(())
}
