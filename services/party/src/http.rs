//! The routes every party service has. Handlers parse, call the domain, and map errors
//! through [`PartyError`]; database work runs on the blocking pool.
//!
//! | route | what |
//! |---|---|
//! | `GET /health` | liveness (no token) |
//! | `GET /v1/outbox[?status=&limit=]` | outbox items, newest first |
//! | `GET /v1/outbox/{id}` | one outbox item |
//! | `GET /v1/witness` | the latest verified checkpoint, and whether the witness is halted |
//! | `GET /v1/alerts` | the witness's alerts, newest first |
//! | `POST /v1/alerts/{id}/resolve` | an operator resolves an alert; held items are checked again |
//! | `GET /v1/verify?code=` | a scanned code's status from the ledger, with the provenance when allowed |
//! | `POST /v1/epcis/capture` | an EPCIS 2.0 capture document, each mappable event signed and queued ([`crate::epcis`]) |
//!
//! Every `/v1/*` route needs an [`Operator`].

use actix_web::web::{self, Data, Path, Query};
use actix_web::HttpResponse;
use pedigree_openapi::Routes;
use pedigree_schema::gs1::Gs1Data;
use serde::Deserialize;

use crate::error::PartyError;
use crate::operator::Operator;
use crate::outbox::OutboxStatus;
use crate::Party;

/// Items `GET /v1/outbox` returns without a `limit`.
const DEFAULT_LIST_LIMIT: u32 = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    register(&mut Routes::new(cfg));
}

/// Registers the common routes through the recorder, so each role's OpenAPI test can list them.
pub fn register(routes: &mut Routes<'_>) {
    routes
        .get("/health", health)
        .get("/v1/outbox", list_outbox)
        .get("/v1/outbox/{id}", outbox_item)
        .get("/v1/witness", witness)
        .get("/v1/alerts", alerts)
        .post("/v1/alerts/{id}/resolve", resolve_alert)
        .get("/v1/verify", verify)
        .post("/v1/epcis/capture", crate::epcis::capture);
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    status: Option<OutboxStatus>,
    limit: Option<u32>,
}

async fn list_outbox(
    party: Data<Party>,
    _: Operator,
    query: Query<OutboxQuery>,
) -> Result<HttpResponse, PartyError> {
    let OutboxQuery { status, limit } = query.into_inner();
    let items = web::block(move || {
        party
            .outbox()
            .list(status, limit.unwrap_or(DEFAULT_LIST_LIMIT))
    })
    .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

async fn outbox_item(
    party: Data<Party>,
    _: Operator,
    id: Path<i64>,
) -> Result<HttpResponse, PartyError> {
    let id = id.into_inner();
    let item = web::block(move || party.outbox().get(id)).await??;
    Ok(HttpResponse::Ok().json(item))
}

async fn witness(party: Data<Party>, _: Operator) -> Result<HttpResponse, PartyError> {
    Ok(HttpResponse::Ok().json(party.witness().status().await?))
}

async fn alerts(party: Data<Party>, _: Operator) -> Result<HttpResponse, PartyError> {
    let alerts = party.witness().alerts().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "alerts": alerts })))
}

/// Resolves an alert. Once none is open the witness resumes, and the items held meanwhile go
/// back to pending: they are sent again (the ledger answers with their existing receipts)
/// and each receipt is checked afresh.
async fn resolve_alert(
    party: Data<Party>,
    operator: Operator,
    id: Path<i64>,
) -> Result<HttpResponse, PartyError> {
    let alert = party
        .witness()
        .resolve(id.into_inner(), &operator.name)
        .await?;
    let halted = party.witness().is_halted().await?;
    let released = if halted {
        0
    } else {
        let party = party.clone();
        web::block(move || party.outbox().release_held()).await??
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "alert": alert,
        "halted": halted,
        "released": released,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyQuery {
    code: String,
}

/// The ledger's status of a scanned pack, plus its provenance when the ledger lets this party
/// read it (a party that never held the pack may not).
async fn verify(
    party: Data<Party>,
    _: Operator,
    query: Query<VerifyQuery>,
) -> Result<HttpResponse, PartyError> {
    let code = query.into_inner().code;
    let pack = Gs1Data::parse_any(&code)
        .and_then(|data| data.pack_id())
        .map_err(|e| PartyError::bad_request("unreadable_code", e.to_string()))?;
    let mut status = party.ledger().scan(&code).await?;
    match party.ledger().provenance(&pack).await {
        Ok(provenance) => {
            if let Some(object) = status.as_object_mut() {
                object.insert("provenance".into(), provenance);
            }
        }
        Err(e) => tracing::debug!(error = %e, %pack, "no provenance for this party"),
    }
    Ok(HttpResponse::Ok().json(status))
}
