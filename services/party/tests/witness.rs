//! The witness against a forked log: a fake ledger in front of the real one serves
//! checkpoints signed with the real log key but with another history. The witness records an
//! alert with the evidence and halts (receipts are held, nothing is cosigned); an operator
//! resolving the alert resumes it and the held items are checked again.

mod common;

use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::web::{self, Bytes, Data};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use common::*;
use pedigree_schema::checkpoint::{Checkpoint, SignedCheckpoint};
use pedigree_schema::event::EventBody;
use serde_json::{json, Value};

/// A ledger's front that forwards everything to the real ledger, except that, while a forged
/// checkpoint is set, `/checkpoint` serves it and consistency proofs are made up.
struct Fork {
    real: String,
    client: reqwest::Client,
    forged: Mutex<Option<String>>,
}

impl Fork {
    fn forged(&self) -> Option<String> {
        self.forged.lock().expect("the lock").clone()
    }
}

async fn checkpoint(fork: Data<Arc<Fork>>, request: HttpRequest, body: Bytes) -> HttpResponse {
    match fork.forged() {
        Some(text) => HttpResponse::Ok().content_type("text/plain").body(text),
        None => forward(fork, request, body).await,
    }
}

async fn consistency(fork: Data<Arc<Fork>>, request: HttpRequest, body: Bytes) -> HttpResponse {
    if fork.forged().is_none() {
        return forward(fork, request, body).await;
    }
    let query: Value = serde_json::to_value(
        web::Query::<std::collections::HashMap<String, u64>>::from_query(request.query_string())
            .expect("old and new")
            .into_inner(),
    )
    .expect("a query");
    HttpResponse::Ok().json(json!({
        "old_size": query["old"],
        "new_size": query["new"],
        "proof": [hex(&rand::random::<[u8; 32]>())],
    }))
}

async fn forward(fork: Data<Arc<Fork>>, request: HttpRequest, body: Bytes) -> HttpResponse {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let method =
        reqwest::Method::from_bytes(request.method().as_str().as_bytes()).expect("a method");
    let mut outgoing = fork
        .client
        .request(method, format!("{}{path}", fork.real))
        .body(body.to_vec());
    for (name, value) in request.headers() {
        let name = name.as_str();
        if name == "content-type" || name.starts_with("pedigree-") {
            outgoing = outgoing.header(name, value.as_bytes());
        }
    }
    match outgoing.send().await {
        Ok(response) => {
            let status = actix_web::http::StatusCode::from_u16(response.status().as_u16())
                .expect("a status");
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            let bytes = response.bytes().await.unwrap_or_default();
            HttpResponse::build(status)
                .content_type(content_type)
                .body(bytes)
        }
        Err(e) => HttpResponse::BadGateway().body(e.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts the fork in front of `real`; returns it, its base URL and its server's handle.
fn start_fork(real: &str) -> (Arc<Fork>, String, ServerHandle) {
    let fork = Arc::new(Fork {
        real: real.to_string(),
        client: client(),
        forged: Mutex::new(None),
    });
    let state = Data::new(fork.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/checkpoint", web::get().to(checkpoint))
            .route("/v1/proofs/consistency", web::get().to(consistency))
            .default_service(web::to(forward))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind the fork");
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (fork, format!("http://127.0.0.1:{port}"), handle)
}

/// A checkpoint of `size` with a random root, signed with the real log key.
fn forged_checkpoint(net: &Network, size: u64) -> String {
    let body = Checkpoint::new(ORIGIN, size, rand::random(), None, vec![]).expect("a checkpoint");
    SignedCheckpoint::sign(body, &net.log_signer())
        .expect("signed")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_log_raises_an_alert_halts_the_witness_and_resolving_resumes_it() {
    let net = Network::new();
    let (ledger_db, party_db) = (Backend::Sqlite.database(), Backend::Sqlite.database());
    let ledger = Ledger::start(net.ledger_settings(&ledger_db, "127.0.0.1:0".parse().unwrap()));
    ledger.accept(&net.genesis()).await;
    let (fork, fork_url, fork_handle) = start_fork(&ledger.base);
    let party = RunningParty::start(net.party_config(&party_db, &fork_url));
    let register = |gtin_body: &str| {
        vec![operation(
            &EventBody::RegisterProduct {
                gtin: gtin(gtin_body),
                name: "Ibuprofen 200 mg".into(),
            },
            None,
        )]
    };

    let first = party.submit(register("0950600013435")).await[0];
    assert_eq!(party.settled(first).await["status"], "accepted");
    eventually("the witness to verify size 3", || async {
        (party.witness().await["tree_size"] == 3).then_some(())
    })
    .await;

    // The log shows this party a checkpoint of size 4 whose root no real history has.
    let forged = forged_checkpoint(&net, 4);
    *fork.forged.lock().unwrap() = Some(forged.clone());
    let alert = eventually("an alert", || async { party.alerts().await.pop() }).await;
    assert_eq!(alert["kind"], "inconsistent", "{alert}");
    assert!(alert["resolved_at"].is_null());
    let evidence = &alert["evidence"];
    assert_eq!(evidence["observed"], forged, "{evidence}");
    let previous = evidence["previous"]
        .as_str()
        .expect("the previous checkpoint");
    let previous = SignedCheckpoint::parse_and_verify(previous, &net.log_verifier()).unwrap();
    assert_eq!(previous.checkpoint().size(), 3);
    assert_eq!(evidence["proof"]["old_size"], 3, "{evidence}");
    assert_eq!(evidence["proof"]["new_size"], 4, "{evidence}");
    let witness = party.witness().await;
    assert_eq!(witness["halted"], true, "{witness}");
    assert_eq!(witness["open_alerts"], 1);
    assert_eq!(
        witness["tree_size"], 3,
        "the forged checkpoint is not taken"
    );

    // Halted: the ledger takes the next event, but the party holds its receipt and cosigns
    // nothing.
    let second = party.submit(register("0950600013442")).await[0];
    let held = party.settled(second).await;
    assert_eq!(held["status"], "held", "{held}");
    assert!(held["receipt"].is_object(), "{held}");
    let reason = held["last_error"].as_str().unwrap_or_default();
    assert!(reason.contains(&format!("alert {}", alert["id"])), "{held}");
    assert_eq!(ledger.size().await, 4);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let latest =
        SignedCheckpoint::parse_and_verify(&ledger.checkpoint_text().await, &net.log_verifier())
            .unwrap();
    assert_eq!(latest.checkpoint().size(), 4);
    assert!(
        latest
            .verified_cosignatures(&[net.manufacturer.witness_verifier()])
            .unwrap()
            .is_empty(),
        "a halted witness cosigns nothing"
    );

    // The log is honest again; the operator resolves the alert and the witness resumes.
    *fork.forged.lock().unwrap() = None;
    let path = format!("/v1/alerts/{}/resolve", alert["id"]);
    let resolved = party.post(&path, &json!({})).await.ok();
    assert_eq!(resolved["halted"], false, "{resolved}");
    assert_eq!(resolved["released"], 1, "{resolved}");
    assert_eq!(resolved["alert"]["resolved_by"], "tester");
    let released = party.settled(second).await;
    assert_eq!(released["status"], "accepted", "{released}");
    assert_eq!(
        released["receipt"]["index"], 3,
        "the same entry, not a second one"
    );
    assert_eq!(ledger.size().await, 4);
    eventually("the witness to verify and cosign size 4", || async {
        let text = ledger.checkpoint_text().await;
        let latest = SignedCheckpoint::parse_and_verify(&text, &net.log_verifier()).ok()?;
        let cosigned = latest
            .verified_cosignatures(&[net.manufacturer.witness_verifier()])
            .ok()?;
        (party.witness().await["tree_size"] == 4 && cosigned.len() == 1).then_some(())
    })
    .await;
    party
        .post(&path, &json!({}))
        .await
        .assert_error(409, "conflict");
    party
        .post("/v1/alerts/999/resolve", &json!({}))
        .await
        .assert_error(404, "not_found");

    // Another root for the size the witness already verified: a split view.
    *fork.forged.lock().unwrap() = Some(forged_checkpoint(&net, 4));
    let split = eventually("a second alert", || async {
        let alerts = party.alerts().await;
        (alerts.len() == 2).then(|| alerts[0].clone())
    })
    .await;
    assert_eq!(split["kind"], "split_view", "{split}");
    assert_eq!(party.witness().await["halted"], true);

    party.stop().await;
    fork_handle.stop(true).await;
    ledger.stop().await;
}
