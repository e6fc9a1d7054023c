//! HTTP routes. Handlers parse, call the domain, and map errors (one
//! mapping, in [`crate::error`]); database work runs on actix's blocking
//! pool so it never stalls the async workers.
//!
//! | route | who | what |
//! |---|---|---|
//! | `POST /v1/events` | anyone (events are signed) | append a batch of signed events |
//! | `GET /checkpoint` | anyone | latest signed checkpoint with cosignatures (C2SP) |
//! | `GET /tile/...` | anyone | C2SP tlog-tiles hash tiles and entry bundles |
//! | `GET /v1/log` | anyone | origin, log verifier key, governance key, size |
//! | `GET /v1/checkpoints/{size}` | anyone | the checkpoint issued at a tree size |
//! | `POST /v1/checkpoints/{size}/cosignatures` | witnesses | add a tlog-cosignature |
//! | `GET /v1/proofs/inclusion` | anyone | `?index=` or `?event_id=&event_time=`, `&tree_size=` |
//! | `GET /v1/proofs/consistency` | anyone | `?old=&new=` |
//! | `GET /v1/packs/{gtin}/{serial}` | anyone | verification status (`?lot=&expiry=`) |
//! | `GET /v1/scan?code=` | anyone | the same from a scanned payload |
//! | `GET /v1/packs/{gtin}/{serial}/provenance` | chain parties, regulators | custody chain with proofs (`?format=epcis`: EPCIS 2.0, [`crate::epcis`]) |
//! | `GET /v1/cases/{sscc}/provenance` | parties to its events, regulators | a case's history with proofs (`?format=epcis` too) |
//! | `GET /v1/scan/provenance?code=` | chain parties, regulators | the same from a scanned payload |
//! | `GET /v1/batches/{gtin}/{lot}` | owner, regulators | where a batch's packs are (`?format=epcis`: its events as EPCIS 2.0) |
//! | `GET /v1/recalls/{index}` | recaller, owner, regulators | where a recall's packs are ([`crate::recalls`]) |
//! | `GET /openapi.json` | anyone | this API's OpenAPI document (`services/ledger/openapi.json`) |
//! | `GET /v1/entries/{index}/items` | parties to it, regulators | an entry's item list |
//! | `GET /v1/me/events` | the caller | its own events (`?after=&limit=`) |
//! | `GET /v1/alerts` | regulators | the alert queue, filtered and paged ([`crate::alerts::http`]) |
//! | `GET /v1/alerts/{id}` | regulators | an alert with its triage history |
//! | `POST /v1/alerts/{id}/triage` | regulators (signed body) | move an alert, add a note |
//! | `/dashboard/...` | regulators' logins | the web dashboard ([`crate::dashboard`]) |
//!
//! A status asked with a signed request, and every accepted `verify` event,
//! is also scored for counterfeit risk ([`crate::risk`]).
//! | `GET /health` | anyone | liveness |

use std::sync::Arc;

use actix_web::http::header::ContentType;
use actix_web::web::{self, Data, Json, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use pedigree_openapi::Routes;
use pedigree_schema::checkpoint::{CosignatureVerifier, SignedCheckpoint};
use pedigree_schema::event::{EventBody, EventId, EventSubmission, Timestamp};
use pedigree_schema::gs1::{Expiry, Gs1Data, Gtin, Lot, PackId, Serial};
use pedigree_schema::keys::PublicKey;
use pedigree_schema::merkle::{encode_entry_bundle, TileKind, TileRef, TILE_HEIGHT, TILE_WIDTH};
use pedigree_schema::note::{KeyName, NoteSignature, NoteVerifier};
use pedigree_schema::receipt::{ConsistencyProof, InclusionProof, Receipt};
use pedigree_schema::request_auth::SignedRequest;
use serde::{Deserialize, Serialize};

use crate::auth;
use crate::db::schema::{checkpoints, cosignatures, log_entries, party_keys};
use crate::db::{Database, DbConnection};
use crate::error::ApiError;
use crate::log::{latest_checkpoint_note, prepare};
use crate::queries::{self, Caller};
use crate::rejection::Rejection;
use crate::risk::{RiskEngine, Scan};
use crate::tree;
use crate::writer::LogWriter;

/// Most events in one `POST /v1/events`.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;

/// What every handler shares.
pub struct AppState {
    pub db: Database,
    pub writer: LogWriter,
    pub origin: String,
    pub log_verifier: NoteVerifier,
    pub governance_key: PublicKey,
    pub risk: RiskEngine,
    /// Bounds the scorings of committed `verify` events running beside the
    /// answers: a request waits for a permit, so a scoring backlog slows
    /// clients down instead of piling up tasks and starving the pool.
    pub scoring: Arc<tokio::sync::Semaphore>,
    /// Nonces of the signed requests accepted within the time window.
    pub replay_guard: crate::auth::ReplayGuard,
}

pub(crate) type State = Data<Arc<AppState>>;

/// Runs `work` with a pooled connection on the blocking pool.
pub(crate) async fn with_conn<T: Send + 'static>(
    state: &State,
    work: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let db = state.db.clone();
    web::block(move || {
        let mut conn = db.get()?;
        work(&mut conn)
    })
    .await?
}

/// Runs `work` for an authenticated caller (signed request headers).
async fn as_caller<T: Send + 'static>(
    state: &State,
    request: &HttpRequest,
    work: impl FnOnce(&mut DbConnection, &Caller) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    as_signed_caller(state, request, Vec::new(), work).await
}

/// Runs `work` for the caller whose signature covers the request and `body`.
pub(crate) async fn as_signed_caller<T: Send + 'static>(
    state: &State,
    request: &HttpRequest,
    body: Vec<u8>,
    work: impl FnOnce(&mut DbConnection, &Caller) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let signed = SignedRequest::from_headers(|name| request.headers().get(name).and_then(|v| v.to_str().ok()))?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "authentication_required",
                "this endpoint needs a request signed with a registered party's key (Pedigree-Key, Pedigree-Time, Pedigree-Nonce, Pedigree-Signature)",
            )
        })?;
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.path().to_string(), |p| p.as_str().to_string());
    let shared = state.clone();
    with_conn(state, move |conn| {
        let caller = auth::authenticate(
            conn,
            &shared.replay_guard,
            &signed,
            &method,
            &path,
            &body,
            chrono::Utc::now(),
        )?;
        work(conn, &caller)
    })
    .await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    register(&mut Routes::new(cfg));
}

/// Every route, through the recorder the OpenAPI test lists (`tests/openapi.rs`); the
/// document is `openapi.json` beside `Cargo.toml`. The dashboard's HTML pages are left out
/// of it on purpose.
pub fn register(routes: &mut Routes<'_>) {
    routes
        .openapi(include_str!("../openapi.json"))
        .get("/health", health)
        .get("/checkpoint", checkpoint)
        .get("/tile/{tail:.*}", tile)
        .get("/v1/log", log_info)
        .post("/v1/events", append_events)
        .get("/v1/checkpoints/{size}", checkpoint_at)
        .post("/v1/checkpoints/{size}/cosignatures", add_cosignature)
        .get("/v1/proofs/inclusion", inclusion)
        .get("/v1/proofs/consistency", consistency)
        .get("/v1/packs/{gtin}/{serial}", pack_status)
        .get("/v1/packs/{gtin}/{serial}/provenance", provenance)
        .get("/v1/cases/{sscc}/provenance", crate::epcis::case_provenance)
        .get("/v1/scan", scan)
        .get("/v1/scan/provenance", scan_provenance)
        .get("/v1/batches/{gtin}/{lot}", batch)
        .get("/v1/recalls/{index}", recall)
        .get("/v1/entries/{index}/items", entry_items)
        .get("/v1/me/events", own_events)
        .configure(crate::alerts::http::register)
        .html_pages(crate::dashboard::routes);
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendRequest {
    events: Vec<EventSubmission>,
}

/// One event's outcome.
#[derive(Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum AppendOutcome {
    Accepted { receipt: Receipt },
    Rejected(Rejection),
}

async fn append_events(state: State, body: Json<AppendRequest>) -> Result<HttpResponse, ApiError> {
    let events = body.into_inner().events;
    if events.is_empty() {
        return Err(ApiError::bad_request(
            "empty_batch",
            "the batch has no events",
        ));
    }
    if events.len() > MAX_EVENTS_PER_REQUEST {
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!(
                "at most {MAX_EVENTS_PER_REQUEST} events per request, got {}",
                events.len()
            ),
        ));
    }
    let verifies: Vec<(usize, Scan)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| verify_scan(e).map(|v| (i, v)))
        .collect();
    let prepared = web::block(move || prepare(events)).await?;
    let outcomes = state.writer.append(prepared).await?;
    // A committed verify event is scored on the history before it.
    let accepted: Vec<Scan> = verifies
        .into_iter()
        .filter_map(|(i, scan)| match outcomes.get(i) {
            Some(Ok(receipt)) => Some(Scan {
                before_idx: Some(receipt.index as i64),
                ..scan
            }),
            _ => None,
        })
        .collect();
    if !accepted.is_empty() {
        // The events are committed: scoring them (and storing any alert)
        // happens beside the answer, so it does not slow appends down while
        // it keeps up; a scoring failure is logged, not turned into an error
        // for the batch. The semaphore is never closed.
        let permit = state.scoring.clone().acquire_owned().await;
        let state = state.clone();
        actix_web::rt::spawn(async move {
            let _permit = permit;
            if let Err(error) = score_verifies(&state, accepted).await {
                tracing::warn!(%error, "risk scoring of verify events failed");
            }
        });
    }
    let results: Vec<AppendOutcome> = outcomes
        .into_iter()
        .map(|o| match o {
            Ok(receipt) => AppendOutcome::Accepted { receipt },
            Err(rejection) => AppendOutcome::Rejected(rejection),
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "results": results })))
}

/// The verification an appended `verify` event records, to be scored once
/// committed.
fn verify_scan(submission: &EventSubmission) -> Option<Scan> {
    let event = &submission.signed.event;
    match &event.body {
        EventBody::Verify {
            pack, lot, expiry, ..
        } => Some(Scan {
            pack: pack.clone(),
            lot: lot.clone(),
            expiry: expiry.clone(),
            party: event.actor.to_string(),
            time: event.time.unix_micros(),
            before_idx: None,
        }),
        _ => None,
    }
}

/// Scores committed verify events (and queues their alerts).
async fn score_verifies(state: &State, accepted: Vec<Scan>) -> Result<(), ApiError> {
    let shared = state.clone();
    let today = chrono::Utc::now().date_naive();
    with_conn(state, move |conn| {
        shared.risk.verify_and_score(conn, &accepted, today)?;
        Ok(())
    })
    .await
}

/// The stored checkpoint at `size` (latest when `None`) with its cosignatures.
fn checkpoint_with_cosignatures(
    conn: &mut DbConnection,
    size: Option<u64>,
) -> Result<Option<String>, ApiError> {
    let note = match size {
        None => latest_checkpoint_note(conn)?,
        Some(size) => checkpoints::table
            .find(size as i64)
            .select(checkpoints::note)
            .first(conn)
            .optional()?,
    };
    let Some(mut note) = note else {
        return Ok(None);
    };
    let tree_size = checkpoints::table
        .filter(checkpoints::note.eq(&note))
        .select(checkpoints::tree_size)
        .first::<i64>(conn)?;
    let lines: Vec<String> = cosignatures::table
        .filter(cosignatures::tree_size.eq(tree_size))
        .order(cosignatures::witness)
        .select(cosignatures::signature_line)
        .load(conn)?;
    for line in lines {
        note.push_str(&line);
        note.push('\n');
    }
    Ok(Some(note))
}

async fn checkpoint(state: State) -> Result<HttpResponse, ApiError> {
    let note = with_conn(&state, |conn| checkpoint_with_cosignatures(conn, None)).await?;
    let note = note.ok_or_else(|| ApiError::NotFound("the log has no checkpoint yet".into()))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .insert_header(("Cache-Control", "no-cache"))
        .body(note))
}

async fn checkpoint_at(state: State, size: Path<u64>) -> Result<HttpResponse, ApiError> {
    let size = size.into_inner();
    let note = with_conn(&state, move |conn| {
        checkpoint_with_cosignatures(conn, Some(size))
    })
    .await?;
    let note = note.ok_or_else(|| {
        ApiError::NotFound(format!("no checkpoint was issued at tree size {size}"))
    })?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(note))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CosignatureRequest {
    /// The cosignature line, `— <witness> <base64>`.
    cosignature: String,
}

/// Accepts a witness's tlog-cosignature of the checkpoint at `size`. The
/// witness name is the party's GLN, and the key one of its valid keys.
async fn add_cosignature(
    state: State,
    size: Path<u64>,
    body: Json<CosignatureRequest>,
) -> Result<HttpResponse, ApiError> {
    let size = size.into_inner();
    let line = body.into_inner().cosignature;
    let verifier = state.log_verifier.clone();
    let timestamp = with_conn(&state, move |conn| {
        let signature = NoteSignature::parse(line.trim_end())
            .map_err(|e| ApiError::bad_request("malformed_cosignature", e.to_string()))?;
        let note: String = checkpoints::table
            .find(size as i64)
            .select(checkpoints::note)
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                ApiError::NotFound(format!("no checkpoint was issued at tree size {size}"))
            })?;
        let mut signed = SignedCheckpoint::parse_and_verify(&note, &verifier)
            .map_err(|e| ApiError::Internal(format!("stored checkpoint {size}: {e}")))?;
        let witness = signature.name().to_string();
        let keys: Vec<Vec<u8>> = party_keys::table
            .filter(party_keys::gln.eq(&witness))
            .filter(party_keys::valid_until.is_null())
            .select(party_keys::public_key)
            .load(conn)?;
        let name = KeyName::parse(&witness)
            .map_err(|e| ApiError::bad_request("malformed_cosignature", e.to_string()))?;
        let timestamp = keys
            .iter()
            .filter_map(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
            .filter_map(|k| PublicKey::from_bytes(&k).ok())
            .map(|key| CosignatureVerifier::new(name.clone(), *key.verifying_key()))
            .find_map(|v| signed.add_cosignature(&v, signature.clone()).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_cosignature",
                    format!(
                        "the cosignature does not verify under any current key of party {witness}"
                    ),
                )
            })?;
        diesel::delete(
            cosignatures::table
                .filter(cosignatures::tree_size.eq(size as i64))
                .filter(cosignatures::witness.eq(&witness)),
        )
        .execute(conn)?;
        diesel::insert_into(cosignatures::table)
            .values((
                cosignatures::tree_size.eq(size as i64),
                cosignatures::witness.eq(&witness),
                cosignatures::signature_line.eq(signature.to_string()),
                cosignatures::cosigned_at.eq(timestamp as i64),
                cosignatures::received_at.eq(chrono::Utc::now().timestamp_micros()),
            ))
            .execute(conn)?;
        Ok(timestamp)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "tree_size": size, "cosigned_at": timestamp })))
}

async fn log_info(state: State) -> Result<HttpResponse, ApiError> {
    let size = with_conn(&state, |conn| Ok(crate::log::tree_size(conn)?)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "origin": state.origin,
        "verifier_key": state.log_verifier.to_string(),
        "governance_key": state.governance_key.to_string(),
        "tree_size": size,
    })))
}

/// Serves a tile of the tree as of the latest checkpoint (C2SP tlog-tiles).
/// Full tiles are immutable and cacheable forever.
async fn tile(state: State, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = request.path().trim_start_matches('/').to_string();
    let tile = TileRef::parse(&path).map_err(|e| ApiError::NotFound(format!("{path}: {e}")))?;
    let body = with_conn(&state, move |conn| {
        let size = crate::log::tree_size(conn)?;
        let level = match tile.kind() {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        };
        let span = 1u64 << (u32::from(level) * u32::from(TILE_HEIGHT));
        let available = size / span;
        let first = tile.index() * u64::from(TILE_WIDTH);
        if first + u64::from(tile.width()) > available {
            return Err(ApiError::NotFound(format!(
                "{path} is beyond the tree of size {size}"
            )));
        }
        match tile.kind() {
            TileKind::Hashes { .. } => {
                let hashes =
                    tree::node_range(conn, level * TILE_HEIGHT, first, u64::from(tile.width()))?;
                Ok(hashes.concat())
            }
            TileKind::Entries => {
                let entries: Vec<Vec<u8>> = log_entries::table
                    .filter(log_entries::idx.ge(first as i64))
                    .filter(log_entries::idx.lt((first + u64::from(tile.width())) as i64))
                    .order(log_entries::idx)
                    .select(log_entries::entry)
                    .load(conn)?;
                encode_entry_bundle(&entries).map_err(|e| ApiError::Internal(e.to_string()))
            }
        }
    })
    .await?;
    let cache = if tile.is_partial() {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("Cache-Control", cache))
        .body(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    index: Option<u64>,
    event_id: Option<String>,
    /// The event's `time`, which its holder knows: events are found by time
    /// and id (see the `event_lookup_by_time` migration).
    event_time: Option<Timestamp>,
    tree_size: Option<u64>,
}

async fn inclusion(state: State, query: Query<InclusionQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let proof = with_conn(&state, move |conn| {
        let current = crate::log::tree_size(conn)?;
        let size = query.tree_size.unwrap_or(current);
        if size > current {
            return Err(ApiError::bad_request(
                "bad_proof_request",
                format!("the log has {current} entries, fewer than tree_size {size}"),
            ));
        }
        let index = match (query.index, query.event_id, query.event_time) {
            (Some(index), None, None) => index,
            (None, Some(id), Some(time)) => {
                let id = EventId::parse(&id).ok_or_else(|| {
                    ApiError::bad_request("malformed_event_id", "event_id must be 64 hex digits")
                })?;
                log_entries::table
                    .filter(log_entries::event_time.eq(time.unix_micros()))
                    .filter(log_entries::event_id.eq(id.0.to_vec()))
                    .select(log_entries::idx)
                    .first::<i64>(conn)
                    .optional()?
                    .ok_or_else(|| {
                        ApiError::NotFound(format!("event {id} at {time} is not in the log"))
                    })? as u64
            }
            _ => {
                return Err(ApiError::bad_request(
                    "bad_query",
                    "give either index, or event_id with the event's event_time",
                ))
            }
        };
        let leaf: Vec<u8> = log_entries::table
            .find(index as i64)
            .select(log_entries::leaf_hash)
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::NotFound(format!("no entry {index}")))?;
        Ok(InclusionProof {
            index,
            tree_size: size,
            leaf_hash: leaf
                .try_into()
                .map_err(|_| ApiError::Internal("malformed leaf hash".into()))?,
            proof: tree::inclusion_proof(conn, index, size)?,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(proof))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    old: u64,
    new: u64,
}

async fn consistency(
    state: State,
    query: Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let ConsistencyQuery { old, new } = query.into_inner();
    let proof = with_conn(&state, move |conn| {
        let size = crate::log::tree_size(conn)?;
        if new > size {
            return Err(ApiError::bad_request(
                "bad_proof_request",
                format!("the log has {size} entries, fewer than {new}"),
            ));
        }
        Ok(ConsistencyProof {
            old_size: old,
            new_size: new,
            proof: tree::consistency_proof(conn, old, new)?,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(proof))
}

fn invalid(field: &'static str) -> impl Fn(pedigree_schema::gs1::Gs1Error) -> ApiError {
    move |e| ApiError::bad_request("invalid_identifier", format!("{field}: {e}"))
}

fn parse_pack(gtin: &str, serial: &str) -> Result<PackId, ApiError> {
    Ok(PackId {
        gtin: Gtin::parse(gtin).map_err(invalid("gtin"))?,
        serial: Serial::parse(serial).map_err(invalid("serial"))?,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    lot: Option<String>,
    expiry: Option<String>,
}

async fn pack_status(
    state: State,
    request: HttpRequest,
    path: Path<(String, String)>,
    query: Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    let (gtin, serial) = path.into_inner();
    let pack = parse_pack(&gtin, &serial)?;
    let query = query.into_inner();
    let lot = query
        .lot
        .as_deref()
        .map(Lot::parse)
        .transpose()
        .map_err(invalid("lot"))?;
    let expiry = query
        .expiry
        .as_deref()
        .map(Expiry::parse)
        .transpose()
        .map_err(invalid("expiry"))?;
    let status = status_for(&state, &request, pack, lot, expiry).await?;
    Ok(HttpResponse::Ok().json(status))
}

/// A pack's status; with a risk score when the request is signed by a
/// registered party (anonymous answers are the public FMD answer, unchanged).
async fn status_for(
    state: &State,
    request: &HttpRequest,
    pack: PackId,
    lot: Option<Lot>,
    expiry: Option<Expiry>,
) -> Result<queries::PackStatus, ApiError> {
    let today = chrono::Utc::now().date_naive();
    let signed = SignedRequest::from_headers(|name| {
        request.headers().get(name).and_then(|v| v.to_str().ok())
    })?;
    if signed.is_none() {
        return with_conn(state, move |conn| {
            queries::pack_status(conn, &pack, lot.as_ref(), expiry.as_ref(), today)
        })
        .await;
    }
    let shared = state.clone();
    as_caller(state, request, move |conn, caller| {
        let scan = Scan {
            pack,
            lot,
            expiry,
            party: caller.gln.clone(),
            time: chrono::Utc::now().timestamp_micros(),
            before_idx: None,
        };
        let mut statuses = shared.risk.verify_and_score(conn, &[scan], today)?;
        statuses
            .pop()
            .ok_or_else(|| ApiError::Internal("no status for the scan".into()))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanQuery {
    code: String,
}

/// Verifies a scanned payload (GS1 element string or Digital Link URI).
/// The pack a scanned payload names, with the lot and expiry printed on it.
fn scanned_pack(code: &str) -> Result<(PackId, Option<Lot>, Option<Expiry>), ApiError> {
    let unreadable =
        |e: pedigree_schema::gs1::Gs1Error| ApiError::bad_request("unreadable_code", e.to_string());
    let data = Gs1Data::parse_any(code).map_err(unreadable)?;
    let pack = data.pack_id().map_err(unreadable)?;
    Ok((pack, data.lot(), data.expiry()))
}

async fn scan(
    state: State,
    request: HttpRequest,
    query: Query<ScanQuery>,
) -> Result<HttpResponse, ApiError> {
    let (pack, lot, expiry) = scanned_pack(&query.code)?;
    let status = status_for(&state, &request, pack, lot, expiry).await?;
    Ok(HttpResponse::Ok().json(status))
}

/// Provenance of the pack a scanned payload names.
async fn scan_provenance(
    state: State,
    request: HttpRequest,
    query: Query<ScanQuery>,
) -> Result<HttpResponse, ApiError> {
    let (pack, _, _) = scanned_pack(&query.code)?;
    let today = chrono::Utc::now().date_naive();
    let answer = as_caller(&state, &request, move |conn, caller| {
        queries::provenance(conn, caller, &pack, today)
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

async fn provenance(
    state: State,
    request: HttpRequest,
    path: Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (gtin, serial) = path.into_inner();
    let pack = parse_pack(&gtin, &serial)?;
    if crate::epcis::requested(&request)? {
        return crate::epcis::pack_provenance(&state, &request, pack).await;
    }
    let today = chrono::Utc::now().date_naive();
    let answer = as_caller(&state, &request, move |conn, caller| {
        queries::provenance(conn, caller, &pack, today)
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

async fn batch(
    state: State,
    request: HttpRequest,
    path: Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (gtin, lot) = path.into_inner();
    let gtin = Gtin::parse(&gtin).map_err(invalid("gtin"))?;
    let lot = Lot::parse(&lot).map_err(invalid("lot"))?;
    if crate::epcis::requested(&request)? {
        return crate::epcis::batch_events(&state, &request, gtin, lot).await;
    }
    let answer = as_caller(&state, &request, move |conn, caller| {
        queries::batch_whereabouts(conn, caller, gtin.as_str(), lot.as_str())
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecallQuery {
    after: Option<String>,
    limit: Option<u32>,
}

/// Where the packs of the recall at log entry `index` are ([`crate::recalls`]).
async fn recall(
    state: State,
    request: HttpRequest,
    index: Path<u64>,
    query: Query<RecallQuery>,
) -> Result<HttpResponse, ApiError> {
    let index = index.into_inner();
    let RecallQuery { after, limit } = query.into_inner();
    let answer = as_caller(&state, &request, move |conn, caller| {
        crate::recalls::whereabouts(
            conn,
            caller,
            index,
            after.as_deref(),
            limit.unwrap_or(crate::recalls::DEFAULT_PAGE),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

async fn entry_items(
    state: State,
    request: HttpRequest,
    index: Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let index = index.into_inner();
    let items = as_caller(&state, &request, move |conn, caller| {
        queries::event_items(conn, caller, index)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "index": index, "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnEventsQuery {
    after: Option<u64>,
    limit: Option<u32>,
}

async fn own_events(
    state: State,
    request: HttpRequest,
    query: Query<OwnEventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let OwnEventsQuery { after, limit } = query.into_inner();
    let events = as_caller(&state, &request, move |conn, caller| {
        queries::own_events(conn, caller, after, limit.unwrap_or(100))
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "events": events })))
}
