//! Pedigree's distributor service: the role routes a wholesaler's party
//! service adds to the common ones (`pedigree_party::PartyApp`).
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/receipts` | `{shipment_id, from, scanned}` → `receive` of what arrived |
//! | `GET /v1/shipments/incoming` | open shipments to this party, from the public log ([`incoming`]) |
//! | `POST /v1/shipments` | `{shipment_id, to, scanned}` → `ship` (a sale) of whole cases and loose packs |
//! | `POST /v1/cases/{sscc}/open` | `disaggregate`: the case's contents become loose, to split it |
//! | `POST /v1/returns` | `{shipment_id, to, scanned}` → `ship` with purpose `return` (recalled stock too) |
//! | `POST /v1/returns/accept` | `{shipment_id, from, scanned}` → every returned pack verified, then `receive` |
//! | `POST /v1/quarantine` | `{code}` → `decommission` as `locked`: a (recalled) pack set aside |
//! | `GET /openapi.json` | this service's OpenAPI document (`openapi.json`, no token) |
//!
//! Every route needs an operator token (`pedigree_party::Operator`).
//! Operations answer `202 Accepted` with their outbox items (see
//! [`handlers`]). [`scan`] and [`handlers`] are shared with the pharmacy
//! service.

pub mod incoming;

use actix_web::web::{self, Data, Json};
use actix_web::HttpResponse;
use pedigree_openapi::Routes;
use pedigree_party::{Operator, Party};

use crate::incoming::Follower;
use pedigree_party::scan::{scan_pack, Refusal, ScanError};
use pedigree_party::trade::{self as handlers, submit, ReceiptRequest, ServiceError};

/// The distributor's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    register(&mut Routes::new(cfg));
}

/// The distributor's routes, through the recorder its OpenAPI test lists
/// (`tests/openapi.rs`); the document is `openapi.json` beside `Cargo.toml`.
pub fn register(routes: &mut Routes<'_>) {
    // One follower per worker: see `incoming` for why and what it costs.
    routes
        .app_data(Data::new(Follower::default()))
        .openapi(include_str!("../openapi.json"))
        .post("/v1/receipts", handlers::receive)
        .get("/v1/shipments/incoming", incoming::list)
        .post("/v1/shipments", handlers::ship)
        .post("/v1/cases/{sscc}/open", handlers::open_case)
        .post("/v1/returns", handlers::ship_return)
        .post("/v1/returns/accept", accept_return)
        .post("/v1/quarantine", handlers::quarantine);
}

/// `POST /v1/returns/accept`: a saleable return arrives as a shipment with
/// purpose `return`. Before it is received, every returned pack is verified
/// with the ledger (DSCSA §582(c)(4)(D)): it must be known and not
/// decommissioned, recalled or expired, and its code must match its batch.
/// One refused pack refuses the acceptance (409 with the ledger's alert
/// code), and nothing is stored; the goods can still be received as they
/// are with `POST /v1/receipts`, which records the ledger's view.
async fn accept_return(
    party: Data<Party>,
    _: Operator,
    Json(body): Json<ReceiptRequest>,
) -> Result<HttpResponse, ServiceError> {
    if body.scanned.is_empty() {
        return Err(ScanError::NothingScanned.into());
    }
    for (index, code) in body.scanned.iter().enumerate() {
        scan_pack(code).map_err(|source| ScanError::InList {
            index,
            source: Box::new(source),
        })?;
    }
    let operation = body.operation()?;
    for (index, code) in body.scanned.iter().enumerate() {
        let verified = handlers::verify(&party, code).await?;
        if let Some(refusal) = verified.verdict.return_refusal() {
            return Err(ServiceError::Refused(Refusal {
                code: refusal.code,
                message: format!(
                    "scanned code {index} (pack {}): {}",
                    verified.pack, refusal.message
                ),
            }));
        }
    }
    submit(&party, vec![operation]).await
}
