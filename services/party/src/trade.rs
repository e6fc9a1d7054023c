//! HTTP handlers and request shapes that every receiving, shipping and
//! supplying party shares: receipts, shipments and returns, and the ledger
//! verification of a scanned pack. The distributor and the pharmacy services
//! mount them. Operators are authenticated by the party's middleware before
//! any body is read.
//!
//! Every handler parses and checks its input before anything is stored, so
//! bad input is a 4xx JSON answer and leaves the outbox untouched; accepted
//! operations are signed and stored by the outbox and answered `202
//! Accepted` with the stored items (`{"outbox": [...]}`): the ledger's
//! verdict comes later, in `GET /v1/outbox/{id}`.

use crate::{Operation, Operator, Party, PartyError};
use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Json, Path};
use actix_web::{HttpResponse, ResponseError};
use pedigree_schema::event::{DecommissionReason, EventBody, ItemSetRef, ShipmentPurpose};
use pedigree_schema::gs1::{Gln, PackId, Sscc};
use serde::{Deserialize, Serialize};

use crate::scan::{scan_items, scan_nonempty_items, scan_pack, PackVerdict, Refusal, ScanError};

/// A handler's failure: the party's errors, or a pack the ledger's
/// verification refuses (409 with the ledger's alert code).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Party(#[from] PartyError),
    #[error("{}", .0.message)]
    Refused(Refusal),
}

impl From<ScanError> for ServiceError {
    fn from(error: ScanError) -> Self {
        Self::Party(PartyError::bad_request(error.code(), error.to_string()))
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ResponseError for ServiceError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Party(error) => error.status_code(),
            Self::Refused(_) => StatusCode::CONFLICT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Party(error) => error.error_response(),
            Self::Refused(refusal) => HttpResponse::Conflict().json(ErrorBody {
                code: &refusal.code,
                message: &refusal.message,
            }),
        }
    }
}

/// `POST /v1/receipts`: what arrived of a shipment, as scanned. The list
/// may be empty (nothing arrived); the ledger records missing and extra
/// items as discrepancies.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    pub shipment_id: String,
    pub from: Gln,
    pub scanned: Vec<String>,
}

impl ReceiptRequest {
    /// The `Receive` operation for what was scanned.
    pub fn operation(&self) -> Result<Operation, ScanError> {
        let items = scan_items(&self.scanned)?;
        Ok(Operation {
            body: EventBody::Receive {
                shipment: self.shipment_id.clone(),
                from: self.from.clone(),
                received: ItemSetRef::commit(&items),
            },
            items: Some(items),
        })
    }
}

/// `POST /v1/shipments` and `POST /v1/returns`: goods leaving for `to`,
/// as scanned — whole cases by their SSCC, loose packs (from an opened
/// case) by their codes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentRequest {
    pub shipment_id: String,
    pub to: Gln,
    pub scanned: Vec<String>,
}

impl ShipmentRequest {
    /// The `Ship` operation for what was scanned; at least one item.
    pub fn operation(&self, purpose: ShipmentPurpose) -> Result<Operation, ScanError> {
        let items = scan_nonempty_items(&self.scanned)?;
        Ok(Operation {
            body: EventBody::Ship {
                shipment: self.shipment_id.clone(),
                to: self.to.clone(),
                purpose,
                contents: ItemSetRef::commit(&items),
            },
            items: Some(items),
        })
    }
}

/// A request naming one scanned pack.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub code: String,
}

/// Stores `operations` in the outbox (one transaction, on the blocking
/// pool) and answers `202 Accepted` with the stored items.
pub async fn submit(
    party: &Data<Party>,
    operations: Vec<Operation>,
) -> Result<HttpResponse, ServiceError> {
    let party = party.clone();
    let items = web::block(move || party.outbox().submit(operations))
        .await
        .map_err(PartyError::from)??;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "outbox": items })))
}

/// `POST /v1/receipts`.
pub async fn receive(
    party: Data<Party>,
    _: Operator,
    Json(body): Json<ReceiptRequest>,
) -> Result<HttpResponse, ServiceError> {
    let operation = body.operation()?;
    submit(&party, vec![operation]).await
}

/// `POST /v1/shipments`: a sale to the next party down the chain.
pub async fn ship(
    party: Data<Party>,
    _: Operator,
    Json(body): Json<ShipmentRequest>,
) -> Result<HttpResponse, ServiceError> {
    let operation = body.operation(ShipmentPurpose::Sale)?;
    submit(&party, vec![operation]).await
}

/// `POST /v1/returns`: a saleable return to the supplier (DSCSA), under the
/// same custody rules as a sale.
pub async fn ship_return(
    party: Data<Party>,
    _: Operator,
    Json(body): Json<ShipmentRequest>,
) -> Result<HttpResponse, ServiceError> {
    let operation = body.operation(ShipmentPurpose::Return)?;
    submit(&party, vec![operation]).await
}

/// `POST /v1/quarantine`: a pack is set aside (a recalled pack awaiting
/// collection, a suspect one under investigation): decommissioned as
/// `locked` (FMD), which the ledger allows for recalled stock. A recall's
/// whereabouts list the pack as quarantined; the same party may reactivate
/// it within 10 days once its batch is usable again.
pub async fn quarantine(
    party: Data<Party>,
    _: Operator,
    Json(body): Json<CodeRequest>,
) -> Result<HttpResponse, ServiceError> {
    decommission(&party, &body.code, DecommissionReason::Locked).await
}

/// Stores the `decommission` of the pack `code` names (400 if it names none).
pub async fn decommission(
    party: &Data<Party>,
    code: &str,
    reason: DecommissionReason,
) -> Result<HttpResponse, ServiceError> {
    let pack = scan_pack(code)?;
    submit(
        party,
        vec![Operation {
            body: EventBody::Decommission { pack, reason },
            items: None,
        }],
    )
    .await
}

/// `POST /v1/cases/{sscc}/open`: the case is opened (GS1 disaggregation),
/// so its packs can be shipped, dispensed or returned one by one (the
/// ledger moves a packed pack only with its case).
pub async fn open_case(
    party: Data<Party>,
    _: Operator,
    sscc: Path<String>,
) -> Result<HttpResponse, ServiceError> {
    let case = Sscc::parse(&sscc).map_err(|e| {
        PartyError::bad_request("invalid_sscc", format!("{:?} is not an SSCC: {e}", *sscc))
    })?;
    submit(
        &party,
        vec![Operation {
            body: EventBody::Disaggregate { case },
            items: None,
        }],
    )
    .await
}

/// A scanned pack as the ledger verifies it: its identity, the ledger's
/// whole answer, and the part of it that decides.
pub struct Verified {
    pub pack: PackId,
    pub answer: serde_json::Value,
    pub verdict: PackVerdict,
}

/// Reads the pack `code` names (400 if it names none) and asks the ledger
/// to verify the code as scanned: identity, status, recall and expiry, and
/// the lot and expiry the code carries against the batch's.
pub async fn verify(party: &Party, code: &str) -> Result<Verified, ServiceError> {
    let pack = scan_pack(code)?;
    let answer = party.ledger().scan(code).await.map_err(PartyError::from)?;
    let verdict = serde_json::from_value(answer.clone()).map_err(|e| {
        PartyError::Internal(format!(
            "the ledger's verification answer is malformed: {e}"
        ))
    })?;
    Ok(Verified {
        pack,
        answer,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pedigree_schema::gs1::check_digit;

    fn gln() -> Gln {
        let body = "950600000004";
        Gln::parse(&format!("{body}{}", check_digit(body).expect("digits"))).expect("gln")
    }

    fn pack(serial: &str) -> String {
        format!("(01)09506000134352(21){serial}")
    }

    #[test]
    fn a_receipt_commits_to_the_sorted_scanned_items() {
        let request = ReceiptRequest {
            shipment_id: "S-1".into(),
            from: gln(),
            scanned: vec![pack("B"), pack("A")],
        };
        let operation = request.operation().expect("valid");
        let items = vec![pack("A"), pack("B")];
        assert_eq!(
            operation,
            Operation {
                body: EventBody::Receive {
                    shipment: "S-1".into(),
                    from: gln(),
                    received: ItemSetRef::commit(&items),
                },
                items: Some(items),
            }
        );
    }

    #[test]
    fn an_empty_receipt_is_allowed_but_an_empty_shipment_is_not() {
        let receipt = ReceiptRequest {
            shipment_id: "S-1".into(),
            from: gln(),
            scanned: vec![],
        };
        assert_eq!(
            receipt.operation().map(|o| o.items),
            Ok(Some(Vec::<String>::new()))
        );
        let shipment = ShipmentRequest {
            shipment_id: "S-1".into(),
            to: gln(),
            scanned: vec![],
        };
        assert_eq!(
            shipment.operation(ShipmentPurpose::Sale),
            Err(ScanError::NothingScanned)
        );
    }

    #[test]
    fn a_return_is_a_shipment_with_purpose_return() {
        let request = ShipmentRequest {
            shipment_id: "R-1".into(),
            to: gln(),
            scanned: vec![pack("A")],
        };
        let operation = request.operation(ShipmentPurpose::Return).expect("valid");
        assert!(matches!(
            operation.body,
            EventBody::Ship {
                purpose: ShipmentPurpose::Return,
                ..
            }
        ));
    }

    #[test]
    fn a_refusal_answers_409_with_the_ledgers_code() {
        let error = ServiceError::Refused(Refusal {
            code: "already_decommissioned".into(),
            message: "already_decommissioned: pack … (FMD A7)".into(),
        });
        assert_eq!(error.status_code(), StatusCode::CONFLICT);
        let scan: ServiceError = ScanError::NotAPack.into();
        assert_eq!(scan.status_code(), StatusCode::BAD_REQUEST);
    }
}
