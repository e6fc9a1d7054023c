//! The alert queue's JSON API, for regulators' own tools (the dashboard
//! serves the same through its pages). Every request is signed by a
//! regulator's key; a triage request's signature covers its body.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/alerts` | a page of the queue: `?state=&source=&product=&batch=&party=&region=&from=&to=&limit=&after=` |
//! | `GET /v1/alerts/{id}` | an alert with its triage history |
//! | `POST /v1/alerts/{id}/triage` | `{"state": "investigating", "note": "…"}`: 409 `invalid_transition` / `already_in_state` / `concurrent_triage`, 422 `note_required` / `invalid_note` |

use actix_web::web::{Bytes, Path, Query};
use actix_web::{HttpRequest, HttpResponse};

use super::{AlertFilter, Triage};
use crate::error::ApiError;
use crate::http::{as_signed_caller, State};

/// Registers the alert routes through the ledger's route recorder (see `crate::http::register`).
pub fn register(routes: &mut pedigree_openapi::Routes<'_>) {
    routes
        .get("/v1/alerts", list)
        .get("/v1/alerts/{id}", detail)
        .post("/v1/alerts/{id}/triage", triage);
}

async fn list(
    state: State,
    request: HttpRequest,
    filter: Query<AlertFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = as_signed_caller(&state, &request, Vec::new(), move |conn, caller| {
        super::list(conn, caller, &filter)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

async fn detail(
    state: State,
    request: HttpRequest,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let alert = as_signed_caller(&state, &request, Vec::new(), move |conn, caller| {
        super::detail(conn, caller, id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(alert))
}

async fn triage(
    state: State,
    request: HttpRequest,
    id: Path<i64>,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    // Authenticated first: an unsigned request is a 401 whatever its body.
    let signed_body = body.to_vec();
    let alert = as_signed_caller(&state, &request, signed_body, move |conn, caller| {
        let step: Triage = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("malformed_json", e.to_string()))?;
        super::triage(conn, caller, &caller.gln, id, &step)
    })
    .await?;
    Ok(HttpResponse::Ok().json(alert))
}
