//! Regulators' dashboard logins and their sessions.
//!
//! A login belongs to a registered regulator (its GLN) and is a 32-byte
//! random token in hex, printed once by `pedigree ledger
//! --create-dashboard-login NAME --party GLN`; only its SHA-256 is stored,
//! and every stored hash is compared in constant time, without an early
//! exit. Logging in with the token opens a session: another random value,
//! sent as an `HttpOnly`, `SameSite=Strict` cookie (`Secure` over HTTPS),
//! stored as its hash with an expiry. Each session has its own form token,
//! which every POST form must carry (CSRF), on top of `SameSite=Strict`.

use diesel::prelude::*;
use pedigree_schema::event::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::db::{Database, DbConnection};
use crate::error::ApiError;
use crate::queries::{self, Caller};

diesel::table! {
    /// Dashboard logins (migration `2026-11-28-000042_dashboard_logins`).
    dashboard_logins (name) {
        name -> Text,
        party -> Text,
        token_hash -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Open dashboard sessions.
    dashboard_sessions (session_hash) {
        session_hash -> Binary,
        login -> Text,
        form_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pedigree_session";
/// How long a session lasts (a working day).
pub const SESSION_HOURS: i64 = 8;
/// Longest login name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// Why a dashboard login could not be created.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("a login name is 1 to {MAX_NAME_CHARS} characters without control characters")]
    InvalidName,
    #[error("party {0} is not registered in the log")]
    UnknownParty(String),
    #[error("party {0} is not a regulator: only regulators may use the dashboard")]
    NotRegulator(String),
    #[error("{0}")]
    Storage(#[from] ApiError),
}

impl From<diesel::result::Error> for LoginError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Storage(error.into())
    }
}

/// A logged-in regulator.
#[derive(Clone, Debug)]
pub struct Session {
    /// The login's name: the author of triage notes.
    pub login: String,
    /// As whom the pages ask the ledger's questions.
    pub caller: Caller,
    /// The token every POST form must carry.
    pub form_token: String,
}

/// 32 random bytes in hex.
fn random_token() -> String {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    hex::encode(secret)
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Creates (or, for an existing name, replaces, ending its sessions) the
/// dashboard login `name` for the regulator `party`, and returns its token:
/// show it once, only its hash is kept.
pub fn create_login(db: &Database, name: &str, party: &str) -> Result<String, LoginError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(LoginError::InvalidName);
    }
    let mut conn = db.get().map_err(ApiError::from)?;
    let role = queries::party_role(&mut conn, party)?
        .ok_or_else(|| LoginError::UnknownParty(party.to_string()))?;
    if Role::parse(&role) != Some(Role::Regulator) {
        return Err(LoginError::NotRegulator(party.to_string()));
    }
    let token = random_token();
    conn.transaction(|conn| {
        diesel::delete(dashboard_sessions::table.filter(dashboard_sessions::login.eq(name)))
            .execute(conn)?;
        diesel::delete(dashboard_logins::table.find(name)).execute(conn)?;
        diesel::insert_into(dashboard_logins::table)
            .values((
                dashboard_logins::name.eq(name),
                dashboard_logins::party.eq(party),
                dashboard_logins::token_hash.eq(hash(&token)),
                dashboard_logins::created_at.eq(chrono::Utc::now().timestamp_micros()),
            ))
            .execute(conn)
    })?;
    tracing::info!(login = name, party, "dashboard login created");
    Ok(token)
}

fn not_logged_in() -> ApiError {
    ApiError::unauthorized("login_required", "log in to the dashboard first")
}

/// The caller a login acts as: its party must (still) be a regulator.
fn regulator(conn: &mut DbConnection, party: &str) -> Result<Caller, ApiError> {
    let role = queries::party_role(conn, party)?.and_then(|r| Role::parse(&r));
    if role != Some(Role::Regulator) {
        return Err(ApiError::Forbidden(format!(
            "party {party} is not a regulator: only regulators may use the dashboard"
        )));
    }
    Ok(Caller {
        gln: party.to_string(),
        role: Role::Regulator,
    })
}

/// Opens a session for the login whose token this is; returns the session
/// cookie's value.
pub fn log_in(conn: &mut DbConnection, token: &str) -> Result<String, ApiError> {
    let presented = hash(token.trim());
    let logins: Vec<(String, String, Vec<u8>)> = dashboard_logins::table
        .select((
            dashboard_logins::name,
            dashboard_logins::party,
            dashboard_logins::token_hash,
        ))
        .load(conn)?;
    let mut found = None;
    for (name, party, stored) in logins {
        if bool::from(stored.as_slice().ct_eq(&presented)) {
            found = Some((name, party));
        }
    }
    let (name, party) = found.ok_or_else(|| {
        ApiError::unauthorized("invalid_login", "this is not a valid dashboard login token")
    })?;
    regulator(conn, &party)?;
    let now = chrono::Utc::now().timestamp_micros();
    diesel::delete(dashboard_sessions::table.filter(dashboard_sessions::expires_at.le(now)))
        .execute(conn)?;
    let session = random_token();
    diesel::insert_into(dashboard_sessions::table)
        .values((
            dashboard_sessions::session_hash.eq(hash(&session)),
            dashboard_sessions::login.eq(&name),
            dashboard_sessions::form_token.eq(random_token()),
            dashboard_sessions::created_at.eq(now),
            dashboard_sessions::expires_at.eq(now + SESSION_HOURS * 3_600_000_000),
        ))
        .execute(conn)?;
    tracing::info!(login = name, "dashboard session opened");
    Ok(session)
}

/// The session of a cookie value, if it is open.
pub fn session(conn: &mut DbConnection, cookie: Option<&str>) -> Result<Session, ApiError> {
    let cookie = cookie.ok_or_else(not_logged_in)?;
    let now = chrono::Utc::now().timestamp_micros();
    let found: Option<(String, String, String)> = dashboard_sessions::table
        .inner_join(
            dashboard_logins::table.on(dashboard_logins::name.eq(dashboard_sessions::login)),
        )
        .filter(dashboard_sessions::session_hash.eq(hash(cookie)))
        .filter(dashboard_sessions::expires_at.gt(now))
        .select((
            dashboard_sessions::login,
            dashboard_logins::party,
            dashboard_sessions::form_token,
        ))
        .first(conn)
        .optional()?;
    let (login, party, form_token) = found.ok_or_else(not_logged_in)?;
    Ok(Session {
        login,
        caller: regulator(conn, &party)?,
        form_token,
    })
}

/// Ends the session of a cookie value.
pub fn log_out(conn: &mut DbConnection, cookie: &str) -> Result<(), ApiError> {
    diesel::delete(dashboard_sessions::table.find(hash(cookie))).execute(conn)?;
    Ok(())
}

impl Session {
    /// Refuses a form that does not carry this session's form token.
    pub fn check_form_token(&self, given: &str) -> Result<(), ApiError> {
        if bool::from(given.as_bytes().ct_eq(self.form_token.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "the form's token does not match your session: reload the page and try again"
                    .into(),
            ))
        }
    }
}

diesel::allow_tables_to_appear_in_same_query!(dashboard_logins, dashboard_sessions);
