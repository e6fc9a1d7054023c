//! Who is asking: requests signed with a party's own Ed25519 key (see
//! `pedigree_schema::request_auth` for the headers), checked against the
//! registry in the log. A nonce is accepted once per key within the time
//! window, so a captured request cannot be replayed ([`ReplayGuard`]).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use diesel::prelude::*;
use pedigree_schema::event::Role;
use pedigree_schema::request_auth::{AuthError, SignedRequest};

use crate::db::schema::party_keys;
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

/// Authenticates a signed request: signature and time window (the guard's),
/// a key that is registered and valid now, and a nonce not seen before.
pub fn authenticate(
    conn: &mut DbConnection,
    replays: &ReplayGuard,
    request: &SignedRequest,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Caller, ApiError> {
    let window_secs = replays.window_secs;
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
    replays.admit(request, now.timestamp())?;
    Ok(Caller { gln, role })
}

/// The nonces of signed requests accepted within the time window, kept in
/// memory: a signed read must not cost a durable write. A nonce is kept until
/// no request carrying it could pass the window check again (its signing
/// time plus the window). What a restart forgets is covered by a floor:
/// requests signed before this guard was made are refused as stale, so a
/// request captured before a restart cannot be replayed after it.
pub struct ReplayGuard {
    /// Unix seconds; requests signed earlier are refused.
    not_before: i64,
    window_secs: i64,
    seen: Mutex<SeenNonces>,
}

#[derive(Default)]
struct SeenNonces {
    keys: HashSet<([u8; 32], String)>,
    /// (forget after, key, nonce), in order of acceptance.
    expiry: VecDeque<(i64, [u8; 32], String)>,
}

impl ReplayGuard {
    pub fn new(now: chrono::DateTime<chrono::Utc>, window_secs: i64) -> Self {
        Self {
            not_before: now.timestamp(),
            window_secs,
            seen: Mutex::new(SeenNonces::default()),
        }
    }

    /// Admits a request whose signature and time window were checked:
    /// refuses one signed before this process started or whose nonce was
    /// already used with the same key.
    fn admit(&self, request: &SignedRequest, now_secs: i64) -> Result<(), ApiError> {
        if request.time < self.not_before {
            return Err(ApiError::unauthorized(
                "stale_request",
                "this request is dated before the ledger last started (signed before a restart, or by a clock behind the ledger's): sign it anew",
            ));
        }
        let key = *request.key.as_bytes();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Entries are kept in acceptance order and each lives at most two
        // windows past its acceptance, so the front is always the oldest.
        while seen
            .expiry
            .front()
            .is_some_and(|(forget_after, _, _)| *forget_after < now_secs)
        {
            if let Some((_, key, nonce)) = seen.expiry.pop_front() {
                seen.keys.remove(&(key, nonce));
            }
        }
        if !seen.keys.insert((key, request.nonce.clone())) {
            return Err(ApiError::unauthorized(
                "replayed_request",
                "this request's nonce was already used: the request is a replay",
            ));
        }
        // A request passes the window check until `time + window`; keeping it
        // until `now + 2 × window` also covers one signed up to a window ahead.
        let forget_after = now_secs + 2 * self.window_secs;
        seen.expiry
            .push_back((forget_after, key, request.nonce.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use pedigree_schema::keys::SecretKey;

    use super::*;

    const WINDOW: i64 = 300;
    const STARTED: i64 = 1_800_000_000;

    fn guard() -> ReplayGuard {
        ReplayGuard::new(Utc.timestamp_opt(STARTED, 0).unwrap(), WINDOW)
    }

    fn signed_at(time: i64) -> SignedRequest {
        SignedRequest::sign(
            &SecretKey::from_seed(&[7; 32]),
            "GET",
            "/v1/me/events",
            b"",
            time,
        )
    }

    fn code(result: Result<(), ApiError>) -> String {
        result.map_or_else(|e| e.code().to_string(), |()| "admitted".to_string())
    }

    #[test]
    fn a_nonce_is_admitted_once() {
        let (guard, request) = (guard(), signed_at(STARTED + 10));
        assert_eq!(code(guard.admit(&request, STARTED + 10)), "admitted");
        assert_eq!(
            code(guard.admit(&request, STARTED + 11)),
            "replayed_request"
        );
        assert_eq!(
            code(guard.admit(&signed_at(STARTED + 10), STARTED + 11)),
            "admitted",
            "another nonce of the same key"
        );
    }

    #[test]
    fn a_request_signed_before_the_start_is_stale_even_within_the_window() {
        let guard = guard();
        assert_eq!(
            code(guard.admit(&signed_at(STARTED - 1), STARTED + 1)),
            "stale_request"
        );
    }

    #[test]
    fn a_nonce_is_remembered_as_long_as_its_request_could_pass_the_window() {
        let (guard, request) = (guard(), signed_at(STARTED + 10));
        assert_eq!(code(guard.admit(&request, STARTED + 10)), "admitted");
        // Still inside what the window check would let through: refused.
        let last_second = STARTED + 10 + 2 * WINDOW;
        assert_eq!(code(guard.admit(&request, last_second)), "replayed_request");
        // The second refusal did not re-record it; once forgotten, the
        // window check (not this guard) is what refuses the request.
        assert_eq!(
            code(guard.admit(&request, last_second + 1)),
            "admitted",
            "forgotten after two windows"
        );
        assert_eq!(guard.seen.lock().unwrap().keys.len(), 1);
    }
}
