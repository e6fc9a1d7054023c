//! Pedigree's pharmacy service: the role routes a pharmacy's party service
//! adds to the common ones (`pedigree_party::PartyApp`).
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/receipts` | `{shipment_id, from, scanned}` → `receive` of what arrived |
//! | `POST /v1/cases/{sscc}/open` | `disaggregate`: a received case is opened so its packs can be dispensed |
//! | `POST /v1/verify` | `{code}` → the ledger's verification: `ok_to_supply` and the alerts |
//! | `POST /v1/dispense` | `{code}` → verified, then `decommission` as dispensed (409 with the ledger's alert if not) |
//! | `POST /v1/dispense/undo` | `{code}` → `reactivate` (the ledger allows it for 10 days) |
//! | `POST /v1/decommission` | `{code, reason}` → `decommission` as `destroyed` or `stolen` |
//! | `POST /v1/quarantine` | `{code}` → `decommission` as `locked`: a (recalled) pack set aside |
//! | `POST /v1/returns` | `{shipment_id, to, scanned}` → `ship` with purpose `return` (recalled stock too) |
//! | `GET /openapi.json` | this service's OpenAPI document (`openapi.json`, no token) |
//!
//! Every route needs an operator token (`pedigree_party::Operator`).
//! Operations answer `202 Accepted` with their outbox items; the shared
//! request shapes and handlers are `pedigree_party::trade`.

use actix_web::web::{self, Data, Json};
use actix_web::HttpResponse;
use pedigree_openapi::Routes;
use pedigree_party::scan::scan_pack;
use pedigree_party::trade::{self as handlers, submit, CodeRequest, ServiceError};
use pedigree_party::{Operation, Operator, Party};
use pedigree_schema::event::{DecommissionReason, EventBody};
use serde::Deserialize;

/// The pharmacy's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    register(&mut Routes::new(cfg));
}

/// The pharmacy's routes, through the recorder its OpenAPI test lists
/// (`tests/openapi.rs`); the document is `openapi.json` beside `Cargo.toml`.
pub fn register(routes: &mut Routes<'_>) {
    routes
        .openapi(include_str!("../openapi.json"))
        .post("/v1/receipts", handlers::receive)
        .post("/v1/cases/{sscc}/open", handlers::open_case)
        .post("/v1/verify", verify)
        .post("/v1/dispense", dispense)
        .post("/v1/dispense/undo", undo_dispense)
        .post("/v1/decommission", decommission)
        .post("/v1/quarantine", handlers::quarantine)
        .post("/v1/returns", handlers::ship_return);
}

/// `POST /v1/verify`: the ledger's answer for the scanned code, as the
/// scanner shows it. Verifying stores nothing.
async fn verify(
    party: Data<Party>,
    _: Operator,
    Json(body): Json<CodeRequest>,
) -> Result<HttpResponse, ServiceError> {
    let verified = handlers::verify(&party, &body.code).await?;
    Ok(HttpResponse::Ok().json(verified.answer))
}

/// `POST /v1/dispense`: FMD supply to the public — the pack is verified
/// first and decommissioned as dispensed only when the ledger says it may
/// be supplied; otherwise 409 with the ledger's first alert code (e.g.
/// `already_decommissioned`, FMD A7) and every alert in the message.
async fn dispense(
    party: Data<Party>,
    _: Operator,
    Json(body): Json<CodeRequest>,
) -> Result<HttpResponse, ServiceError> {
    let verified = handlers::verify(&party, &body.code).await?;
    if let Some(refusal) = verified.verdict.supply_refusal() {
        return Err(ServiceError::Refused(refusal));
    }
    submit(
        &party,
        vec![Operation {
            body: EventBody::Decommission {
                pack: verified.pack,
                reason: DecommissionReason::Dispensed,
            },
            items: None,
        }],
    )
    .await
}

/// `POST /v1/dispense/undo`: reactivates a pack this pharmacy dispensed by
/// mistake; the ledger refuses it after 10 days or for another party's
/// decommission (FMD A24).
async fn undo_dispense(
    party: Data<Party>,
    _: Operator,
    Json(body): Json<CodeRequest>,
) -> Result<HttpResponse, ServiceError> {
    let pack = scan_pack(&body.code)?;
    submit(
        &party,
        vec![Operation {
            body: EventBody::Reactivate { pack },
            items: None,
        }],
    )
    .await
}

/// Why a pharmacy takes a pack out of the chain other than by dispensing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LossReason {
    Destroyed,
    Stolen,
}

impl From<LossReason> for DecommissionReason {
    fn from(reason: LossReason) -> Self {
        match reason {
            LossReason::Destroyed => Self::Destroyed,
            LossReason::Stolen => Self::Stolen,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecommissionRequest {
    code: String,
    reason: LossReason,
}

/// `POST /v1/decommission`: a pack destroyed or stolen (final: FMD allows
/// no reactivation). The ledger allows it for recalled or expired stock too.
async fn decommission(
    party: Data<Party>,
    _: Operator,
    Json(body): Json<DecommissionRequest>,
) -> Result<HttpResponse, ServiceError> {
    handlers::decommission(&party, &body.code, body.reason.into()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_destroyed_and_stolen_are_accepted_as_loss_reasons() {
        for (text, reason) in [
            ("destroyed", DecommissionReason::Destroyed),
            ("stolen", DecommissionReason::Stolen),
        ] {
            let parsed: LossReason = serde_json::from_value(text.into()).expect("accepted");
            assert_eq!(DecommissionReason::from(parsed), reason);
        }
        for text in ["dispensed", "exported", "locked", "sample", "Destroyed"] {
            assert!(serde_json::from_value::<LossReason>(text.into()).is_err());
        }
    }
}
