//! What the dashboard shows about proofs, checked here on the server with the
//! schema crate's verifiers: each timeline entry against the latest
//! checkpoint, and each witness's last cosigned checkpoint against the
//! latest one.

use std::collections::HashMap;

use diesel::prelude::*;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::merkle;
use pedigree_schema::note::NoteVerifier;
use pedigree_schema::receipt::ConsistencyProof;

use crate::db::schema::{checkpoints, cosignatures, parties};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::queries::{ProvenEntry, Provenance};
use crate::tree;

/// Whether one thing verified, and what exactly was checked or went wrong.
#[derive(Clone, Debug)]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn of(result: Result<String, String>) -> Self {
        match result {
            Ok(detail) => Self { ok: true, detail },
            Err(detail) => Self { ok: false, detail },
        }
    }
}

/// A registered party as the pages name it.
#[derive(Clone, Debug)]
pub struct PartyInfo {
    pub name: String,
    pub role: String,
    /// Degrees, when registered with a location.
    pub place: Option<(f64, f64)>,
}

/// A `parties` row: GLN, name, role, latitude and longitude (micro-degrees).
type PartyRow = (String, String, String, Option<i32>, Option<i32>);

/// The registered parties among `glns`.
pub fn party_names(
    conn: &mut DbConnection,
    glns: &[String],
) -> Result<HashMap<String, PartyInfo>, ApiError> {
    let rows: Vec<PartyRow> = parties::table
        .filter(parties::gln.eq_any(glns))
        .select((
            parties::gln,
            parties::name,
            parties::role,
            parties::lat_e6,
            parties::lon_e6,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(gln, name, role, lat, lon)| {
            let place = lat
                .zip(lon)
                .map(|(lat, lon)| (f64::from(lat) / 1e6, f64::from(lon) / 1e6));
            (gln, PartyInfo { name, role, place })
        })
        .collect())
}

/// Checks every entry of a provenance answer against its checkpoint: the
/// checkpoint's log signature, the event's signature, the leaf hash of its
/// canonical bytes, its inclusion proof, and its item proof if it has one.
pub fn check_provenance(provenance: &Provenance, log: &NoteVerifier) -> Vec<Check> {
    match SignedCheckpoint::parse_and_verify(&provenance.checkpoint, log) {
        Err(error) => provenance
            .entries
            .iter()
            .map(|_| Check {
                ok: false,
                detail: format!("the checkpoint's log signature does not verify: {error}"),
            })
            .collect(),
        Ok(signed) => provenance
            .entries
            .iter()
            .map(|entry| Check::of(check_entry(entry, &signed)))
            .collect(),
    }
}

fn check_entry(entry: &ProvenEntry, signed: &SignedCheckpoint) -> Result<String, String> {
    let tree = signed.checkpoint();
    entry
        .entry
        .verify_signature()
        .map_err(|e| format!("the event's signature does not verify: {e}"))?;
    let bytes = entry
        .entry
        .entry_bytes()
        .map_err(|e| format!("the entry cannot be encoded canonically: {e}"))?;
    if merkle::leaf_hash(&bytes) != entry.leaf_hash {
        return Err("the leaf hash is not the hash of the entry".into());
    }
    merkle::verify_inclusion(
        &entry.leaf_hash,
        entry.index,
        tree.size(),
        &entry.inclusion_proof,
        tree.root(),
    )
    .map_err(|e| format!("not included in the tree of size {}: {e}", tree.size()))?;
    let items = match (entry.entry.event.body.item_set(), &entry.item_proof) {
        (Some((_, set)), Some(item)) => {
            item.proof
                .verify(&set.root, std::slice::from_ref(&item.item))
                .map_err(|e| format!("the item proof for {} does not verify: {e}", item.item))?;
            format!("; {} proven in its item set", item.item)
        }
        _ => String::new(),
    };
    Ok(format!(
        "signature and inclusion in the checkpoint of size {} verified{items}",
        tree.size()
    ))
}

/// A witness's latest cosignature.
#[derive(Clone, Debug)]
pub struct WitnessState {
    pub witness: String,
    pub name: Option<String>,
    /// The largest tree size it cosigned.
    pub tree_size: u64,
    /// Unix seconds, as the witness stated.
    pub cosigned_at: i64,
    /// Whether its checkpoint is a prefix of the latest one.
    pub consistency: Check,
}

/// The log's health as the dashboard shows it.
#[derive(Clone, Debug)]
pub struct LogHealth {
    pub tree_size: u64,
    /// The latest checkpoint's note, its size and issue time (unix micros).
    pub latest: Option<(String, u64, i64)>,
    /// The latest checkpoint's signature under the log key.
    pub signature: Option<Check>,
    pub witnesses: Vec<WitnessState>,
    pub checkpoints: u64,
}

impl LogHealth {
    /// Whether anything failed to verify.
    pub fn inconsistencies(&self) -> usize {
        self.signature.iter().filter(|c| !c.ok).count()
            + self.witnesses.iter().filter(|w| !w.consistency.ok).count()
    }
}

fn checkpoint_note(conn: &mut DbConnection, size: u64) -> Result<String, ApiError> {
    Ok(checkpoints::table
        .find(size as i64)
        .select(checkpoints::note)
        .first(conn)?)
}

/// Reads and checks the log's health: the latest checkpoint's signature,
/// and each witness's latest cosigned checkpoint for consistency with it.
pub fn log_health(conn: &mut DbConnection, log: &NoteVerifier) -> Result<LogHealth, ApiError> {
    let tree_size = crate::log::tree_size(conn)?;
    let count: i64 = checkpoints::table.count().get_result(conn)?;
    let latest: Option<(i64, String, i64)> = checkpoints::table
        .order(checkpoints::tree_size.desc())
        .select((
            checkpoints::tree_size,
            checkpoints::note,
            checkpoints::issued_at,
        ))
        .first(conn)
        .optional()?;
    let mut health = LogHealth {
        tree_size,
        latest: None,
        signature: None,
        witnesses: Vec::new(),
        checkpoints: count as u64,
    };
    let Some((size, note, issued_at)) = latest else {
        return Ok(health);
    };
    let newest = SignedCheckpoint::parse_and_verify(&note, log);
    health.signature = Some(Check::of(
        newest
            .as_ref()
            .map(|_| "signed by the log key".to_string())
            .map_err(|e| e.to_string()),
    ));
    health.latest = Some((note, size as u64, issued_at));
    let cosigned: Vec<(String, i64, i64)> = cosignatures::table
        .order((cosignatures::witness, cosignatures::tree_size.desc()))
        .select((
            cosignatures::witness,
            cosignatures::tree_size,
            cosignatures::cosigned_at,
        ))
        .load(conn)?;
    let mut latest_by_witness: Vec<(String, i64, i64)> = Vec::new();
    for row in cosigned {
        if latest_by_witness.last().is_none_or(|last| last.0 != row.0) {
            latest_by_witness.push(row);
        }
    }
    let glns: Vec<String> = latest_by_witness.iter().map(|w| w.0.clone()).collect();
    let names = party_names(conn, &glns)?;
    for (witness, old_size, cosigned_at) in latest_by_witness {
        let consistency = match &newest {
            Err(_) => Check {
                ok: false,
                detail: "the latest checkpoint does not verify".into(),
            },
            Ok(newer) => Check::of(consistent(conn, log, old_size as u64, newer)?),
        };
        health.witnesses.push(WitnessState {
            name: names.get(&witness).map(|p| p.name.clone()),
            witness,
            tree_size: old_size as u64,
            cosigned_at,
            consistency,
        });
    }
    Ok(health)
}

/// Whether the checkpoint at `old_size` is a prefix of `newer`, by a
/// consistency proof from the stored tree, verified.
fn consistent(
    conn: &mut DbConnection,
    log: &NoteVerifier,
    old_size: u64,
    newer: &SignedCheckpoint,
) -> Result<Result<String, String>, ApiError> {
    let older = match SignedCheckpoint::parse_and_verify(&checkpoint_note(conn, old_size)?, log) {
        Ok(older) => older,
        Err(e) => return Ok(Err(format!("its checkpoint does not verify: {e}"))),
    };
    let new_size = newer.checkpoint().size();
    let proof = ConsistencyProof {
        old_size,
        new_size,
        proof: tree::consistency_proof(conn, old_size, new_size)?,
    };
    Ok(proof
        .verify(&older, newer)
        .map(|()| format!("consistent with the latest checkpoint (size {new_size})"))
        .map_err(|e| format!("INCONSISTENT with the latest checkpoint: {e}")))
}
