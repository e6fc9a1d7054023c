//! The log as a verifier sees it, over real HTTP: receipts, inclusion and
//! consistency proofs against fetched checkpoints, the checkpoint chain,
//! C2SP tiles and entry bundles rebuilding the signed root, and witness
//! cosignatures.

#[macro_use]
mod common;

use chrono::Utc;
use common::*;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_schema::checkpoint::SignedCheckpoint;
use pedigree_schema::event::{EventBody, EventSubmission, GeoPoint, Timestamp};
use pedigree_schema::merkle::{
    decode_entry_bundle, leaf_hash, root_from_leaf_hashes, root_plan, Hash, NodeId,
};
use pedigree_schema::receipt::{ConsistencyProof, InclusionProof};
use serde_json::json;

both_backends!(
    proofs_verify_against_chained_checkpoints,
    tiles_and_bundles_rebuild_the_signed_root,
    cosignatures_by_registered_parties_are_served,
    concurrent_appends_and_reads_keep_one_chain,
);

/// Appends `batches` one request each; returns every submission in log
/// order and the checkpoint sizes issued.
async fn append_batches(
    ledger: &Ledger,
    batches: Vec<Vec<EventSubmission>>,
) -> (Vec<EventSubmission>, Vec<u64>) {
    let mut log = Vec::new();
    let mut sizes = Vec::new();
    for batch in batches {
        let receipts = ledger.accept(&batch).await;
        for (receipt, event) in receipts.iter().zip(&batch) {
            assert_eq!(
                receipt.index,
                log.len() as u64,
                "entries are numbered in order"
            );
            log.push(event.clone());
        }
        sizes.push(log.len() as u64);
    }
    (log, sizes)
}

async fn proofs_verify_against_chained_checkpoints(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let batch = Batch::fresh(&gtin("0950600013435"), "L1");
    let (m, p) = (&net.manufacturer, &net.pharmacy);

    // An empty log has no checkpoint and no tiles yet.
    assert_eq!(ledger.get("/health").await.ok()["status"], "ok");
    assert_eq!(ledger.size().await, 0);
    ledger
        .get("/checkpoint")
        .await
        .assert_error(404, "not_found");
    ledger
        .get("/tile/0/000.p/1")
        .await
        .assert_error(404, "not_found");

    let (log, sizes) = append_batches(
        &ledger,
        vec![
            net.genesis(),
            vec![
                m.register_product(&batch.gtin, "Aspirin"),
                m.register_batch(&batch),
            ],
            vec![m.commission(&batch, &["P1", "P2", "P3"])],
            vec![p.verify(&batch.pack("P1"))],
            vec![p.verify(&batch.pack("P2")), p.verify(&batch.pack("P3"))],
        ],
    )
    .await;
    assert_eq!(sizes, [5, 7, 8, 9, 11]);

    // /v1/log describes the log as the test network configured it.
    let info = ledger.get("/v1/log").await.ok();
    assert_eq!(info["origin"], ORIGIN);
    assert_eq!(info["verifier_key"], net.log_verifier().to_string());
    assert_eq!(
        info["governance_key"],
        net.governance.public_key().to_string()
    );
    assert_eq!(info["tree_size"], 11);

    // One checkpoint per commit, each chained to the one before.
    let mut checkpoints: Vec<SignedCheckpoint> = Vec::new();
    for &size in &sizes {
        let checkpoint = ledger.checkpoint_at(size).await;
        assert_eq!(checkpoint.checkpoint().size(), size);
        assert_eq!(checkpoint.checkpoint().origin(), ORIGIN);
        match checkpoints.last() {
            None => assert_eq!(checkpoint.checkpoint().prev(), None),
            Some(previous) => checkpoint
                .follows(previous.checkpoint())
                .unwrap_or_else(|e| panic!("checkpoint {size} does not follow: {e}")),
        }
        checkpoints.push(checkpoint);
    }
    assert_eq!(ledger.checkpoint().await, checkpoints[4]);
    assert_eq!(ledger.get_status("/v1/checkpoints/6").await, 404);

    // Inclusion of every entry, by index, in every tree that holds it.
    for checkpoint in &checkpoints {
        let size = checkpoint.checkpoint().size();
        for (index, event) in log.iter().enumerate().take(size as usize) {
            let path = format!("/v1/proofs/inclusion?index={index}&tree_size={size}");
            let proof: InclusionProof =
                serde_json::from_value(ledger.get(&path).await.ok()).expect("an inclusion proof");
            assert_eq!((proof.index, proof.tree_size), (index as u64, size));
            let entry = event.signed.entry_bytes().expect("entry bytes");
            assert_eq!(proof.leaf_hash, leaf_hash(&entry), "{path}");
            proof
                .verify(checkpoint.checkpoint().root())
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
    // By event id and time, against the latest checkpoint.
    let latest = &checkpoints[4];
    for (index, event) in log.iter().enumerate() {
        let id = event.signed.id().expect("event id");
        let time = event.signed.event.time;
        let path = format!("/v1/proofs/inclusion?event_id={id}&event_time={time}");
        let proof: InclusionProof =
            serde_json::from_value(ledger.get(&path).await.ok()).expect("an inclusion proof");
        assert_eq!((proof.index, proof.tree_size), (index as u64, 11));
        proof
            .verify(latest.checkpoint().root())
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let (first_id, first_time) = (
        log[0].signed.id().expect("event id"),
        log[0].signed.event.time,
    );
    let unknown = format!(
        "/v1/proofs/inclusion?event_id={}&event_time={first_time}",
        "ab".repeat(32)
    );
    ledger.get(&unknown).await.assert_error(404, "not_found");
    // The id alone does not find an event: the log looks events up by time and id.
    let later = Timestamp::from_unix_micros(first_time.unix_micros() + 1).expect("a time");
    let wrong_time = format!("/v1/proofs/inclusion?event_id={first_id}&event_time={later}");
    ledger.get(&wrong_time).await.assert_error(404, "not_found");
    let without_time = format!("/v1/proofs/inclusion?event_id={first_id}");
    ledger
        .get(&without_time)
        .await
        .assert_error(400, "bad_query");

    // Consistency between every pair of checkpoints.
    for (i, older) in checkpoints.iter().enumerate() {
        for newer in &checkpoints[i..] {
            let (old, new) = (older.checkpoint().size(), newer.checkpoint().size());
            let path = format!("/v1/proofs/consistency?old={old}&new={new}");
            let proof: ConsistencyProof =
                serde_json::from_value(ledger.get(&path).await.ok()).expect("a consistency proof");
            proof
                .verify(older, newer)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }
    // A proof does not verify against the wrong pair.
    let path = "/v1/proofs/consistency?old=5&new=8";
    let proof: ConsistencyProof =
        serde_json::from_value(ledger.get(path).await.ok()).expect("a consistency proof");
    assert!(proof.verify(&checkpoints[0], &checkpoints[3]).is_err());
    ledger.stop().await;
}

async fn tiles_and_bundles_rebuild_the_signed_root(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let batch = Batch::fresh(&gtin("0950600013435"), "L1");
    let (m, p) = (&net.manufacturer, &net.pharmacy);
    // Signed after the genesis events, so after the pharmacy's key is valid.
    let mut batches = vec![
        net.genesis(),
        vec![
            m.register_product(&batch.gtin, "Aspirin"),
            m.register_batch(&batch),
        ],
    ];
    let verifications: Vec<EventSubmission> = (0..300)
        .map(|i| p.verify(&batch.pack(&format!("V{i}"))))
        .collect();
    batches.extend(verifications.chunks(100).map(<[_]>::to_vec));
    let (log, sizes) = append_batches(&ledger, batches).await;
    let size = 307u64;
    assert_eq!(sizes.last(), Some(&size));
    let checkpoint = ledger.checkpoint().await;
    assert_eq!(checkpoint.checkpoint().size(), size);
    let root = *checkpoint.checkpoint().root();

    // Level 0: one full tile of 256 leaf hashes and a partial one of 51.
    let (headers, full) = ledger.get_bytes("/tile/0/000").await;
    assert_eq!(full.len(), 256 * 32);
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let (headers, partial) = ledger.get_bytes("/tile/0/001.p/51").await;
    assert_eq!(partial.len(), 51 * 32);
    assert_eq!(headers["cache-control"], "no-cache");
    let leaves: Vec<Hash> = full
        .chunks(32)
        .chain(partial.chunks(32))
        .map(|h| h.try_into().expect("32 bytes"))
        .collect();
    assert_eq!(
        root_from_leaf_hashes(&leaves),
        root,
        "tile/0 rebuilds the root"
    );

    // Entry bundles hold the very entries, whose hashes are the leaves.
    let (_, bundle0) = ledger.get_bytes("/tile/entries/000").await;
    let (_, bundle1) = ledger.get_bytes("/tile/entries/001.p/51").await;
    let entries: Vec<&[u8]> = decode_entry_bundle(&bundle0)
        .expect("bundle 0")
        .into_iter()
        .chain(decode_entry_bundle(&bundle1).expect("bundle 1"))
        .collect();
    assert_eq!(entries.len(), 307);
    for (index, (entry, event)) in entries.iter().zip(&log).enumerate() {
        assert_eq!(
            *entry,
            event.signed.entry_bytes().expect("entry bytes").as_slice(),
            "entry {index}"
        );
        assert_eq!(leaf_hash(entry), leaves[index], "leaf {index}");
    }

    // Level 1: the hash of the first 256 leaves, from which (with the
    // right-edge leaves) the root is rebuilt through the root plan.
    let (_, level1) = ledger.get_bytes("/tile/1/000.p/1").await;
    let level8: Hash = level1.as_slice().try_into().expect("one hash");
    assert_eq!(level8, root_from_leaf_hashes(&leaves[..256]));
    let plan = root_plan(size);
    assert!(plan.nodes().contains(&NodeId::new(8, 0)));
    let rebuilt = plan
        .assemble(|id| match id.level {
            8 if id.index == 0 => Some(level8),
            level if level < 8 => {
                let range = id.leaves()?;
                Some(root_from_leaf_hashes(
                    leaves.get(range.start as usize..range.end as usize)?,
                ))
            }
            _ => None,
        })
        .expect("the plan needs only tile/1 and leaves");
    assert_eq!(rebuilt, root, "tile/1 and tile/0 rebuild the root");

    // Tiles beyond the tree are not found (as JSON errors).
    for beyond in [
        "/tile/0/001",
        "/tile/0/001.p/52",
        "/tile/entries/001",
        "/tile/1/000",
        "/tile/1/000.p/2",
        "/tile/2/000.p/1",
        "/tile/0/1",
        "/tile/x/000",
    ] {
        ledger.get(beyond).await.assert_error(404, "not_found");
    }

    // Proofs at this size still verify.
    let path = format!("/v1/proofs/inclusion?index=300&tree_size={size}");
    let proof: InclusionProof =
        serde_json::from_value(ledger.get(&path).await.ok()).expect("an inclusion proof");
    proof.verify(&root).expect("inclusion of entry 300");
    let older = ledger.checkpoint_at(sizes[2]).await;
    let path = format!("/v1/proofs/consistency?old={}&new={size}", sizes[2]);
    let proof: ConsistencyProof =
        serde_json::from_value(ledger.get(&path).await.ok()).expect("a consistency proof");
    proof
        .verify(&older, &checkpoint)
        .expect("consistency across the tile boundary");
    ledger.stop().await;
}

async fn cosignatures_by_registered_parties_are_served(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    ledger.accept(&net.genesis()).await;
    let d = &net.distributor;
    let latest = ledger.checkpoint().await;
    let size = latest.checkpoint().size();
    let now = Utc::now().timestamp() as u64;
    let path = format!("/v1/checkpoints/{size}/cosignatures");
    let post = |line: String| {
        let path = path.clone();
        let ledger = &ledger;
        async move {
            ledger
                .post_json(&path, &json!({ "cosignature": line }))
                .await
        }
    };

    let good = d
        .witness()
        .cosign(latest.checkpoint(), now)
        .expect("cosign");
    let accepted = post(good.to_string()).await.ok();
    assert_eq!(accepted["tree_size"], size);
    assert_eq!(accepted["cosigned_at"], now);

    // Served with the checkpoint, at /checkpoint and at its size.
    for served in [ledger.checkpoint().await, ledger.checkpoint_at(size).await] {
        let cosignatures = served
            .verified_cosignatures(&[d.witness_verifier(), net.pharmacy.witness_verifier()])
            .expect("served cosignatures verify");
        assert_eq!(cosignatures.len(), 1);
        assert_eq!(cosignatures[0].witness.as_str(), d.gln.as_str());
        assert_eq!(cosignatures[0].timestamp, now);
        assert_eq!(served.checkpoint(), latest.checkpoint());
    }

    // Refused: the GLN's name with a key that is not the party's, a party
    // that is not registered, a cosignature of another checkpoint, and a
    // line that is not a cosignature.
    let impostor = Party {
        key: pedigree_schema::keys::SecretKey::generate(),
        ..Party::new("Impostor", d.role, "950600000003")
    };
    let stranger = Party::new("Stranger", d.role, "950600000009");
    ledger.accept_one(d.verify(&gtin_pack())).await;
    let newer = ledger.checkpoint().await;
    let of_newer = d.witness().cosign(newer.checkpoint(), now).expect("cosign");
    for (what, line, code) in [
        (
            "impostor key",
            impostor
                .witness()
                .cosign(latest.checkpoint(), now)
                .expect("cosign")
                .to_string(),
            "bad_cosignature",
        ),
        (
            "unregistered witness",
            stranger
                .witness()
                .cosign(latest.checkpoint(), now)
                .expect("cosign")
                .to_string(),
            "bad_cosignature",
        ),
        (
            "another checkpoint",
            of_newer.to_string(),
            "bad_cosignature",
        ),
        (
            "not a signature line",
            "hello".to_string(),
            "malformed_cosignature",
        ),
    ] {
        let answer = post(line).await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.body);
        answer.assert_error(400, code);
    }
    let served = ledger.checkpoint_at(size).await;
    assert_eq!(
        served.note().signatures().len(),
        2,
        "log signature and one cosignature"
    );
    ledger
        .post_json(
            "/v1/checkpoints/999/cosignatures",
            &json!({ "cosignature": good.to_string() }),
        )
        .await
        .assert_error(404, "not_found");
    ledger.stop().await;
}

fn gtin_pack() -> pedigree_schema::gs1::PackId {
    pack(&gtin("0950600013435"), "W1")
}

/// Many clients at once: appends from several parties interleaved with
/// signed reads (which write request nonces) and public reads. Every event
/// lands once, at a distinct index, and the checkpoints form one chain.
async fn concurrent_appends_and_reads_keep_one_chain(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let batch = Batch::fresh(&gtin("0950600013435"), "L1");
    genesis_with_batch(&ledger, &net, &batch).await;
    let parties = [
        &net.manufacturer,
        &net.distributor,
        &net.pharmacy,
        &net.outsider,
    ];
    // Every append touches pack HOT, whose provenance is read meanwhile.
    let hot = batch.pack("HOT");
    ledger
        .accept(&[
            net.manufacturer.commission(&batch, &["HOT"]),
            net.pharmacy.verify(&hot),
        ])
        .await;
    let start = ledger.size().await;
    let requests: Vec<Vec<EventSubmission>> = (0..12)
        .map(|i| {
            let party = parties[i % parties.len()];
            (0..5)
                .map(|j| {
                    party.event(EventBody::Verify {
                        pack: hot.clone(),
                        lot: None,
                        expiry: None,
                        location: Some(GeoPoint {
                            lat_e6: i as i32,
                            lon_e6: j,
                        }),
                    })
                })
                .collect()
        })
        .collect();
    let shared = &ledger;
    let provenance = format!("/v1/packs/{}/HOT/provenance", batch.gtin);
    let (provenance, batch, reader) = (&provenance, &batch, &net.pharmacy.key);
    let appends = join_all(requests.iter().map(|events| shared.append(events)));
    let reads = join_all((0..24).map(|i| async move {
        let party = parties[i % parties.len()];
        match i % 3 {
            0 => shared.get_signed("/v1/me/events", &party.key).await.status,
            1 => shared.get("/v1/log").await.status,
            _ => {
                let answer = shared.get_signed(provenance, reader).await;
                let status = answer.status;
                verify_provenance(&answer.ok(), shared, "HOT", batch);
                status
            }
        }
    }));
    let (outcomes, statuses) = tokio::join!(appends, reads);
    assert!(statuses.iter().all(|s| *s == 200), "reads: {statuses:?}");
    let mut indices: Vec<u64> = outcomes
        .iter()
        .flatten()
        .map(|o| o.receipt().index)
        .collect();
    indices.sort_unstable();
    let expected: Vec<u64> = (start..start + 60).collect();
    assert_eq!(indices, expected, "every event once, no gaps");
    assert_eq!(ledger.size().await, start + 60);

    // Whatever the grouping, the checkpoints issued form one chain.
    let mut sizes: Vec<u64> = outcomes
        .iter()
        .flatten()
        .map(|o| {
            SignedCheckpoint::parse_and_verify(&o.receipt().checkpoint, ledger.verifier())
                .expect("a receipt checkpoint")
                .checkpoint()
                .size()
        })
        .collect();
    sizes.push(start);
    sizes.sort_unstable();
    sizes.dedup();
    for pair in sizes.windows(2) {
        let (older, newer) = (
            ledger.checkpoint_at(pair[0]).await,
            ledger.checkpoint_at(pair[1]).await,
        );
        newer
            .follows(older.checkpoint())
            .unwrap_or_else(|e| panic!("checkpoint {} after {}: {e}", pair[1], pair[0]));
    }
    ledger.stop().await;
}

/// Runs futures concurrently on this task; their outputs in order.
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(Poll::Ready(value)) = slot.as_mut().map(|f| f.as_mut().poll(cx)) {
                *output = Some(value);
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
