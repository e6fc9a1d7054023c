//! Verifying a pack's provenance evidence with nothing but configured keys:
//! the checkpoint's signature by the log key and its witness cosignatures
//! (C2SP signed-note, tlog-checkpoint, tlog-cosignature), every event's
//! Ed25519 signature (schema §3), every leaf hash and RFC 9162 inclusion
//! proof against the checkpoint's root (§6), every item-set proof against
//! the event's committed root (§4), and the checkpoint's consistency with
//! the one this scanner saw last (RFC 9162 §2.1.4).
//!
//! Each check reports an [`Outcome`]; only evidence whose every check
//! passed is handed on as [`Verified`].

use pedigree_schema::checkpoint::{CosignatureVerifier, SignedCheckpoint};
use pedigree_schema::event::{EventBody, ItemKind};
use pedigree_schema::gs1::PackId;
use pedigree_schema::merkle;
use pedigree_schema::note::NoteVerifier;
use pedigree_schema::receipt::ConsistencyProof;
use serde::Serialize;

use crate::custody::{self, PackState};
use crate::wire::{ProvenEntry, Provenance};

/// The keys this scanner trusts, all from its configuration.
pub struct Trust<'a> {
    pub log: &'a NoteVerifier,
    pub witnesses: &'a [CosignatureVerifier],
    /// How many of `witnesses` must have cosigned.
    pub quorum: usize,
}

/// The result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// Checked, and wrong: the evidence is not what the log signed.
    Failed,
    /// Needed but could not be done (something was unavailable).
    Unverifiable,
    /// Not needed here, or not possible in this mode (offline).
    Skipped,
}

/// One named check and what came of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub result: Outcome,
    pub detail: String,
}

impl Check {
    fn new(check: &'static str, result: Result<String, String>) -> Self {
        match result {
            Ok(detail) => Self::passed(check, detail),
            Err(detail) => Self::failed(check, detail),
        }
    }

    pub fn passed(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            result: Outcome::Passed,
            detail: detail.into(),
        }
    }

    pub fn failed(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            result: Outcome::Failed,
            detail: detail.into(),
        }
    }

    pub fn unverifiable(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            result: Outcome::Unverifiable,
            detail: detail.into(),
        }
    }

    pub fn skipped(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            result: Outcome::Skipped,
            detail: detail.into(),
        }
    }
}

/// Names of the checks, as they appear in reports.
pub mod names {
    pub const CHECKPOINT_SIGNATURE: &str = "checkpoint_signature";
    pub const COSIGNATURES: &str = "cosignatures";
    pub const EVENT_SIGNATURES: &str = "event_signatures";
    pub const INCLUSION_PROOFS: &str = "inclusion_proofs";
    pub const ITEM_PROOFS: &str = "item_proofs";
    pub const PACK_HISTORY: &str = "pack_history";
    pub const CONSISTENCY: &str = "checkpoint_consistency";
}

/// Evidence whose every check passed.
#[derive(Clone, Debug)]
pub struct Verified {
    pub checkpoint: SignedCheckpoint,
    /// Names of the configured witnesses that cosigned.
    pub witnesses: Vec<String>,
    /// Cosignature lines by keys not configured (counted, not checked).
    pub other_cosignatures: usize,
    pub state: PackState,
}

/// Every check of a provenance answer, and the verified evidence when all
/// passed. `cosigned` is the checkpoint at the same size as served with its
/// cosignatures (`GET /v1/checkpoints/{size}`), when it could be had.
pub fn check_provenance(
    provenance: &Provenance,
    cosigned: Result<&str, String>,
    trust: &Trust<'_>,
    pack: &PackId,
) -> (Vec<Check>, Option<Verified>) {
    use names::*;
    let mut checks = Vec::new();
    let checkpoint = SignedCheckpoint::parse_and_verify(&provenance.checkpoint, trust.log)
        .map_err(|e| format!("the checkpoint is not signed by the configured log key: {e}"))
        .and_then(|signed| {
            let size = signed.checkpoint().size();
            if size == provenance.tree_size {
                Ok(signed)
            } else {
                Err(format!(
                    "the answer claims tree size {} but its checkpoint is for {size}",
                    provenance.tree_size
                ))
            }
        });
    checks.push(Check::new(
        CHECKPOINT_SIGNATURE,
        checkpoint
            .as_ref()
            .map(|c| {
                format!(
                    "{} at tree size {}, signed by {}",
                    c.checkpoint().origin(),
                    c.checkpoint().size(),
                    trust.log.name()
                )
            })
            .map_err(Clone::clone),
    ));
    let cosignatures = match &checkpoint {
        Ok(signed) => check_cosignatures(signed, cosigned, trust),
        Err(_) => Err(Check::unverifiable(
            COSIGNATURES,
            "no checkpoint signed by the log key to check cosignatures of",
        )),
    };
    let (witnesses, other_cosignatures) = match cosignatures {
        Ok((check, witnesses, others)) => {
            checks.push(check);
            (witnesses, others)
        }
        Err(check) => {
            checks.push(check);
            (Vec::new(), 0)
        }
    };
    let entries = &provenance.entries;
    checks.push(Check::new(EVENT_SIGNATURES, check_signatures(entries)));
    checks.push(match &checkpoint {
        Ok(signed) => Check::new(INCLUSION_PROOFS, check_inclusion(entries, signed)),
        Err(_) => Check::unverifiable(
            INCLUSION_PROOFS,
            "no checkpoint signed by the log key to check inclusion against",
        ),
    });
    checks.push(Check::new(ITEM_PROOFS, check_item_proofs(entries)));
    let state = custody::replay(pack, entries);
    checks.push(Check::new(
        PACK_HISTORY,
        state
            .as_ref()
            .map(|s| {
                format!(
                    "{} entries, all about this pack; recomputed status {}",
                    entries.len(),
                    s.status.as_str()
                )
            })
            .map_err(ToString::to_string),
    ));
    let all_passed = checks
        .iter()
        .all(|c| matches!(c.result, Outcome::Passed | Outcome::Skipped));
    let verified = match (checkpoint, state) {
        (Ok(checkpoint), Ok(state)) if all_passed => Some(Verified {
            checkpoint,
            witnesses,
            other_cosignatures,
            state,
        }),
        _ => None,
    };
    (checks, verified)
}

/// The cosignatures of the served checkpoint: the cosigned copy must carry
/// the same note text, every line by a configured witness must verify, at
/// least `quorum` of them must be there; lines by other keys are counted.
fn check_cosignatures(
    signed: &SignedCheckpoint,
    cosigned: Result<&str, String>,
    trust: &Trust<'_>,
) -> Result<(Check, Vec<String>, usize), Check> {
    use names::COSIGNATURES;
    let cosigned = match cosigned {
        Ok(text) => text,
        Err(reason) if trust.quorum == 0 => {
            return Err(Check::skipped(
                COSIGNATURES,
                format!("the cosigned checkpoint could not be had ({reason}); no witness quorum is configured"),
            ))
        }
        Err(reason) => {
            return Err(Check::unverifiable(
                COSIGNATURES,
                format!("the cosigned checkpoint could not be had: {reason}"),
            ))
        }
    };
    let copy = SignedCheckpoint::parse_and_verify(cosigned, trust.log).map_err(|e| {
        Check::failed(
            COSIGNATURES,
            format!("the cosigned checkpoint is not signed by the configured log key: {e}"),
        )
    })?;
    if copy.note().text() != signed.note().text() {
        return Err(Check::failed(
            COSIGNATURES,
            "the cosigned checkpoint at this size differs from the one the evidence leads to",
        ));
    }
    let verified = copy.verified_cosignatures(trust.witnesses).map_err(|e| {
        Check::failed(
            COSIGNATURES,
            format!("a configured witness's cosignature is invalid: {e}"),
        )
    })?;
    let witnesses: Vec<String> = verified.iter().map(|v| v.witness.to_string()).collect();
    let others = copy
        .note()
        .signatures()
        .iter()
        .filter(|line| {
            !trust.log.is_key_of(line) && !trust.witnesses.iter().any(|w| w.is_key_of(line))
        })
        .count();
    let summary = format!(
        "{} of {} configured witnesses cosigned{}; {others} other cosignature(s) not checked",
        witnesses.len(),
        trust.witnesses.len(),
        if witnesses.is_empty() {
            String::new()
        } else {
            format!(" ({})", witnesses.join(", "))
        },
    );
    if witnesses.len() < trust.quorum {
        return Err(Check::unverifiable(
            COSIGNATURES,
            format!("{summary}; the configured quorum is {}", trust.quorum),
        ));
    }
    let result = if trust.witnesses.is_empty() {
        Check::skipped(
            COSIGNATURES,
            format!("no witness keys configured; {others} cosignature(s) not checked"),
        )
    } else {
        Check::passed(COSIGNATURES, summary)
    };
    Ok((result, witnesses, others))
}

fn describe(entry: &ProvenEntry) -> String {
    format!("entry {} ({})", entry.index, entry.entry.event.body.kind())
}

/// Every event's signature by the key it names (strict Ed25519). Whether
/// that key was the actor's at the time is the ledger's rule, which the
/// inclusion proof shows it accepted.
fn check_signatures(entries: &[ProvenEntry]) -> Result<String, String> {
    for entry in entries {
        entry
            .entry
            .verify_signature()
            .map_err(|e| format!("{}: the signature does not verify: {e}", describe(entry)))?;
    }
    Ok(format!("{} event signatures verified", entries.len()))
}

/// Every entry's leaf hash is the hash of its canonical bytes, and that
/// leaf is at its index in the checkpoint's tree; entries are in log order.
fn check_inclusion(entries: &[ProvenEntry], signed: &SignedCheckpoint) -> Result<String, String> {
    let tree = signed.checkpoint();
    let mut previous: Option<u64> = None;
    for entry in entries {
        if previous.is_some_and(|p| p >= entry.index) {
            return Err(format!("{}: entries are not in log order", describe(entry)));
        }
        previous = Some(entry.index);
        let bytes = entry
            .entry
            .entry_bytes()
            .map_err(|e| format!("{}: cannot be encoded canonically: {e}", describe(entry)))?;
        let leaf = merkle::leaf_hash(&bytes);
        if leaf != entry.leaf_hash {
            return Err(format!(
                "{}: the leaf hash given is not the hash of the entry",
                describe(entry)
            ));
        }
        merkle::verify_inclusion(
            &leaf,
            entry.index,
            tree.size(),
            &entry.inclusion_proof,
            tree.root(),
        )
        .map_err(|e| {
            format!(
                "{}: not included in the checkpoint's tree of size {}: {e}",
                describe(entry),
                tree.size()
            )
        })?;
    }
    Ok(format!(
        "{} entries included in the tree of size {}",
        entries.len(),
        tree.size()
    ))
}

/// Every item proof verifies against its event's committed root and count.
/// An event with an item set must prove the item it concerns the pack by,
/// except a receipt, which may not list a missing pack; an event without
/// an item set carries no item proof.
fn check_item_proofs(entries: &[ProvenEntry]) -> Result<String, String> {
    let mut proven = 0;
    for entry in entries {
        let body = &entry.entry.event.body;
        match (body.item_set(), &entry.item_proof) {
            (Some((kind, set)), Some(item)) => {
                if item.proof.leaf_count != set.count {
                    return Err(format!(
                        "{}: the item proof is for {} items but the event committed to {}",
                        describe(entry),
                        item.proof.leaf_count,
                        set.count
                    ));
                }
                if kind == ItemKind::Items && !item.item.starts_with('(') {
                    return Err(format!(
                        "{}: {:?} is not a pack or case item",
                        describe(entry),
                        item.item
                    ));
                }
                item.proof
                    .verify(&set.root, &[item.item.as_str()])
                    .map_err(|e| {
                        format!(
                            "{}: {:?} is not proven to be in the committed item set: {e}",
                            describe(entry),
                            item.item
                        )
                    })?;
                proven += 1;
            }
            (Some(_), None) if matches!(body, EventBody::Receive { .. }) => {}
            (Some(_), None) => {
                return Err(format!(
                    "{}: carries no proof that it concerns the pack",
                    describe(entry)
                ))
            }
            (None, Some(_)) => {
                return Err(format!(
                    "{}: has an item proof but commits to no item set",
                    describe(entry)
                ))
            }
            (None, None) => {}
        }
    }
    Ok(format!("{proven} item-set proofs verified"))
}

/// The served checkpoint against the one cached from an earlier run (both
/// already verified under the log key). Equal sizes must have equal roots;
/// otherwise the smaller tree must be a prefix of the larger, by the proof
/// `proof` (old = smaller size, new = larger), fetched by the caller.
pub fn check_consistency(
    cached: Option<&SignedCheckpoint>,
    served: &SignedCheckpoint,
    proof: impl FnOnce(u64, u64) -> Result<ConsistencyProof, String>,
) -> Check {
    use names::CONSISTENCY;
    let Some(cached) = cached else {
        return Check::skipped(
            CONSISTENCY,
            format!(
                "no checkpoint cached yet: this one (size {}) becomes the reference",
                served.checkpoint().size()
            ),
        );
    };
    let (old, new) = (cached.checkpoint(), served.checkpoint());
    if old.origin() != new.origin() {
        return Check::failed(
            CONSISTENCY,
            format!(
                "the cached checkpoint is of log {:?}, this one of {:?}",
                old.origin(),
                new.origin()
            ),
        );
    }
    if old.size() == new.size() {
        return if old.root() == new.root() {
            Check::passed(
                CONSISTENCY,
                format!("same tree as the cached checkpoint (size {})", new.size()),
            )
        } else {
            Check::failed(
                CONSISTENCY,
                format!(
                    "two different roots for tree size {}: the log has forked (tampering)",
                    new.size()
                ),
            )
        };
    }
    let (older, newer) = if old.size() < new.size() {
        (cached, served)
    } else {
        (served, cached)
    };
    let (from, to) = (older.checkpoint().size(), newer.checkpoint().size());
    match proof(from, to) {
        Err(reason) => Check::unverifiable(
            CONSISTENCY,
            format!("no consistency proof from size {from} to {to} could be had: {reason}"),
        ),
        Ok(proof) => match proof.verify(older, newer) {
            Ok(()) => Check::passed(
                CONSISTENCY,
                format!("the tree of size {from} is a prefix of the tree of size {to} (cached: {})", old.size()),
            ),
            Err(e) => Check::failed(
                CONSISTENCY,
                format!(
                    "the checkpoint of size {} is inconsistent with the cached one of size {}: {e} (tampering)",
                    new.size(),
                    old.size()
                ),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pedigree_schema::checkpoint::Checkpoint;
    use pedigree_schema::keys::SecretKey;
    use pedigree_schema::merkle::MemoryTree;
    use pedigree_schema::note::{KeyName, NoteSigner};

    fn signer() -> NoteSigner {
        NoteSigner::new(
            KeyName::parse("test.example/log").expect("a name"),
            SecretKey::from_seed(&[3; 32]).signing_key().clone(),
        )
    }

    fn tree(leaves: &[&str]) -> MemoryTree {
        MemoryTree::from_leaf_hashes(leaves.iter().map(|l| merkle::leaf_hash(l.as_bytes())))
    }

    fn checkpoint(origin: &str, tree: &MemoryTree) -> SignedCheckpoint {
        let root = merkle::root(tree, tree.size()).expect("a root");
        let body = Checkpoint::new(origin, tree.size(), root, None, Vec::new()).expect("a body");
        SignedCheckpoint::sign(body, &signer()).expect("signs")
    }

    fn proof_from(tree: MemoryTree) -> impl FnOnce(u64, u64) -> Result<ConsistencyProof, String> {
        move |old, new| {
            Ok(ConsistencyProof {
                old_size: old,
                new_size: new,
                proof: merkle::consistency_proof(&tree, old, new).map_err(|e| format!("{e:?}"))?,
            })
        }
    }

    #[test]
    fn a_grown_log_is_consistent_in_either_order_and_a_fork_is_not() {
        let (small, big) = (tree(&["a", "b", "c"]), tree(&["a", "b", "c", "d", "e"]));
        let (old, new) = (checkpoint("o", &small), checkpoint("o", &big));
        let grown = check_consistency(
            Some(&old),
            &new,
            proof_from(tree(&["a", "b", "c", "d", "e"])),
        );
        assert_eq!(grown.result, Outcome::Passed, "{grown:?}");
        let older_served = check_consistency(
            Some(&new),
            &old,
            proof_from(tree(&["a", "b", "c", "d", "e"])),
        );
        assert_eq!(older_served.result, Outcome::Passed, "{older_served:?}");
        // A log whose first three entries differ from what was cached.
        let forked = tree(&["a", "x", "c", "d", "e"]);
        let fork = check_consistency(Some(&old), &checkpoint("o", &forked), proof_from(forked));
        assert_eq!(fork.result, Outcome::Failed, "{fork:?}");
        assert!(fork.detail.contains("tampering"), "{fork:?}");
    }

    #[test]
    fn equal_sizes_need_equal_roots_and_origins_must_match() {
        let cached = checkpoint("o", &tree(&["a", "b"]));
        let same = check_consistency(Some(&cached), &cached.clone(), |_, _| Err("unused".into()));
        assert_eq!(same.result, Outcome::Passed);
        let other = checkpoint("o", &tree(&["a", "c"]));
        let split = check_consistency(Some(&cached), &other, |_, _| Err("unused".into()));
        assert_eq!(split.result, Outcome::Failed);
        assert!(split.detail.contains("forked"), "{split:?}");
        let renamed = checkpoint("p", &tree(&["a", "b"]));
        let origin = check_consistency(Some(&cached), &renamed, |_, _| Err("unused".into()));
        assert_eq!(origin.result, Outcome::Failed);
    }

    #[test]
    fn without_a_cache_or_a_proof_nothing_is_claimed() {
        let served = checkpoint("o", &tree(&["a", "b", "c"]));
        let first = check_consistency(None, &served, |_, _| Err("unused".into()));
        assert_eq!(first.result, Outcome::Skipped);
        let cached = checkpoint("o", &tree(&["a"]));
        let unreachable = check_consistency(Some(&cached), &served, |_, _| Err("refused".into()));
        assert_eq!(unreachable.result, Outcome::Unverifiable);
    }
}
