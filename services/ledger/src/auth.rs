//! Who is asking: requests signed with a party's own Ed25519 key (see
//! `pedigree_schema::request_auth` for the headers), checked against the
//! registry in the log. A nonce is accepted once per key within the time
//! window, so a captured request cannot be replayed.

use diesel::prelude::*;
use pedigree_schema::event::Role;
use pedigree_schema::request_auth::{AuthError, SignedRequest};

use crate::db::schema::{party_keys, request_nonces};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::queries::{self, Caller};

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        let code = match error {
            AuthError::Stale { .. } => "stale_request",
            AuthError::BadSignature => "bad_request_signature",
            AuthError::MissingHeader(_) | AuthError::Malformed { .. } => "malformed_authentication",
        };
        ApiError::unauthorized(code, error.to_string())
    }
}

/// Authenticates a signed request: signature and time window, a key that is
/// registered and valid now, and a nonce not seen before.
pub fn authenticate(
    conn: &mut DbConnection,
    request: &SignedRequest,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
    window_secs: i64,
) -> Result<Caller, ApiError> {
    request.verify(method, path_and_query, body, now.timestamp(), window_secs)?;
    let key = request.key.as_bytes().to_vec();
    let now_micros = now.timestamp_micros();
    let owner: Option<(String, i64, Option<i64>)> = party_keys::table
        .find(&key)
        .select((
            party_keys::gln,
            party_keys::valid_from,
            party_keys::valid_until,
        ))
        .first(conn)
        .optional()?;
    let Some((gln, _, _)) = owner
        .filter(|(_, from, until)| *from <= now_micros && until.is_none_or(|u| now_micros < u))
    else {
        return Err(ApiError::unauthorized(
            "unknown_key",
            "the request's key is not a currently valid key of any registered party",
        ));
    };
    let role = queries::party_role(conn, &gln)?
        .and_then(|r| Role::parse(&r))
        .ok_or_else(|| ApiError::Internal(format!("party {gln} has a key but no valid role")))?;
    let cutoff = now_micros - 2 * window_secs * 1_000_000;
    diesel::delete(request_nonces::table.filter(request_nonces::seen_at.lt(cutoff)))
        .execute(conn)?;
    let inserted = diesel::insert_into(request_nonces::table)
        .values((
            request_nonces::public_key.eq(&key),
            request_nonces::nonce.eq(&request.nonce),
            request_nonces::seen_at.eq(now_micros),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(Caller { gln, role }),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Err(ApiError::unauthorized(
            "replayed_request",
            "this request's nonce was already used: the request is a replay",
        )),
        Err(e) => Err(e.into()),
    }
}
