//! Operator authentication: `Authorization: Bearer <token>` (RFC 6750 §2.1).
//!
//! A token is 32 random bytes in hex, shown once when created. Only its SHA-256 is stored
//! (`operator_tokens`), so a copy of the database does not let anyone in; and every stored
//! hash is compared in constant time, without an early exit, so the answer's timing does not
//! depend on how close a guess came.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::web::{self, Data};
use actix_web::HttpMessage;
use actix_web::{FromRequest, HttpRequest};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::schema::operator_tokens;
use crate::db::{now_micros, Database};
use crate::error::PartyError;
use crate::Party;

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;
/// Longest operator name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// An authenticated operator of this party service. As a handler argument it requires a valid
/// bearer token and answers 401 JSON otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
}

/// Creates a new operator token for `name` and returns the secret token, which is stored
/// only as its hash: show it to the operator once, it cannot be recovered.
pub fn create_operator_token(db: &Database, name: &str) -> Result<String, PartyError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(PartyError::bad_request(
            "invalid_operator_name",
            format!(
                "an operator name is 1 to {MAX_NAME_CHARS} characters without control characters"
            ),
        ));
    }
    let mut secret = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = hex::encode(secret);
    diesel::insert_into(operator_tokens::table)
        .values((
            operator_tokens::token_hash.eq(token_hash(&token).to_vec()),
            operator_tokens::name.eq(name),
            operator_tokens::created_at.eq(now_micros()),
        ))
        .execute(&mut *db.get()?)?;
    tracing::info!(operator = name, "operator token created");
    Ok(token)
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The operator whose token hashes to a stored hash, comparing against every stored hash.
fn authenticate(db: &Database, token: &str) -> Result<Operator, PartyError> {
    let presented = token_hash(token);
    let stored: Vec<(Vec<u8>, String)> = operator_tokens::table
        .select((operator_tokens::token_hash, operator_tokens::name))
        .load(&mut *db.get()?)?;
    let mut found = None;
    for (hash, name) in stored {
        if bool::from(hash.as_slice().ct_eq(&presented)) {
            found = Some(name);
        }
    }
    found.map(|name| Operator { name }).ok_or_else(|| {
        PartyError::unauthorized(
            "invalid_token",
            "the bearer token is not a valid operator token",
        )
    })
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(request: &HttpRequest) -> Result<String, PartyError> {
    let value = request.headers().get(AUTHORIZATION).ok_or_else(|| {
        PartyError::unauthorized(
            "authentication_required",
            "this endpoint needs an operator token: Authorization: Bearer <token>",
        )
    })?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        // The scheme is case-insensitive (RFC 9110 §11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            PartyError::unauthorized(
                "malformed_authentication",
                "the Authorization header must be: Bearer <token>",
            )
        })
}

/// Middleware: authenticates every `/v1/*` request before any handler runs,
/// so a bad token is always a 401 — never a 400 about a body that a
/// concurrently running extractor read first — and a refused request reads
/// no body at all. The operator is left in the request's extensions.
pub async fn require_operator(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !request.path().starts_with("/v1/") {
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    match Operator::authenticate_request(request.request()).await {
        Ok(operator) => {
            request.extensions_mut().insert(operator);
            Ok(next.call(request).await?.map_into_boxed_body())
        }
        Err(error) => Ok(request.error_response(error).map_into_boxed_body()),
    }
}

impl Operator {
    fn authenticate_request(
        request: &HttpRequest,
    ) -> impl Future<Output = Result<Self, PartyError>> {
        let party = request.app_data::<Data<Party>>().cloned();
        let token = bearer_token(request);
        async move {
            let token = token?;
            let party = party.ok_or_else(|| {
                PartyError::Internal("operator authentication needs web::Data<Party>".into())
            })?;
            web::block(move || authenticate(party.db(), &token)).await?
        }
    }
}

impl FromRequest for Operator {
    type Error = PartyError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PartyError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Under `require_operator` (every `/v1/*` route) the work is done.
        if let Some(operator) = request.extensions().get::<Operator>().cloned() {
            return Box::pin(async move { Ok(operator) });
        }
        let party = request.app_data::<Data<Party>>().cloned();
        let token = bearer_token(request);
        Box::pin(async move {
            let token = token?;
            let party = party.ok_or_else(|| {
                PartyError::Internal("the Operator extractor needs web::Data<Party>".into())
            })?;
            web::block(move || authenticate(party.db(), &token)).await?
        })
    }
}
