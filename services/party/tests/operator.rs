//! Operator authentication and bad input: every refusal is a 4xx JSON `{code, message}` and
//! stores nothing; a fault of the ledger is a 503 whose detail stays in the logs.

mod common;

use common::*;
use diesel::prelude::*;
use pedigree_party::create_operator_token;
use pedigree_party::db::schema::operator_tokens;
use pedigree_schema::event::{EventBody, ItemSetRef};
use pedigree_schema::gs1::Lot;
use serde_json::json;
use sha2::{Digest, Sha256};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_need_a_valid_token_and_bad_input_is_refused_without_storing_anything() {
    let net = Network::new();
    let db = Backend::Sqlite.database();
    // No ledger listens here: nothing submitted below may get that far anyway.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let party = RunningParty::start(net.party_config(&db, &nowhere));
    let http = client();
    let url = |path: &str| format!("{}{path}", party.base);
    let register = json!({ "operations": [operation(
        &EventBody::RegisterProduct { gtin: gtin("0950600013435"), name: "Aspirin".into() },
        None,
    )] });

    // Liveness needs no token.
    let health = answer(http.get(url("/health")).send().await.unwrap()).await;
    assert_eq!(health.ok()["status"], "ok");

    // No token, a wrong token, another scheme: 401, and the scheme is named.
    let response = http.get(url("/v1/outbox")).send().await.unwrap();
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    answer(response)
        .await
        .assert_error(401, "authentication_required");
    let wrong = "ab".repeat(32);
    let answered = answer(
        http.get(url("/v1/outbox"))
            .bearer_auth(&wrong)
            .send()
            .await
            .unwrap(),
    )
    .await;
    answered.assert_error(401, "invalid_token");
    let basic = http
        .get(url("/v1/outbox"))
        .header("Authorization", "Basic dGVzdDp0ZXN0")
        .send()
        .await
        .unwrap();
    answer(basic)
        .await
        .assert_error(401, "malformed_authentication");
    for token in [None, Some(wrong.as_str())] {
        let mut request = http.post(url("/v1/test/operations")).json(&register);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let status = answer(request.send().await.unwrap()).await.status;
        assert_eq!(status, 401, "a submission without a valid token");
    }

    // Malformed bodies.
    let raw = |content_type: &'static str, body: &'static str| {
        http.post(url("/v1/test/operations"))
            .bearer_auth(&party.token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    answer(raw("application/json", "{\"operations\": [").await.unwrap())
        .await
        .assert_error(400, "malformed_json");
    answer(raw("text/plain", "{}").await.unwrap())
        .await
        .assert_error(400, "unsupported_media_type");

    // Operations that are not valid events; a bad one spoils its whole submission.
    let serials = vec!["S1".to_string()];
    let commission = EventBody::Commission {
        gtin: gtin("0950600013435"),
        lot: Lot::parse("L1").unwrap(),
        serials: ItemSetRef::commit(&serials),
    };
    let product = EventBody::RegisterProduct {
        gtin: gtin("0950600013435"),
        name: "Aspirin".into(),
    };
    let unnamed = EventBody::RegisterProduct {
        gtin: gtin("0950600013435"),
        name: String::new(),
    };
    let cases = [
        (json!([]), "empty_submission"),
        (json!([operation(&commission, None)]), "invalid_operation"),
        (
            json!([operation(&commission, Some(vec!["S2".into()]))]),
            "invalid_operation",
        ),
        (
            json!([operation(&product, Some(serials.clone()))]),
            "invalid_operation",
        ),
        (
            json!([operation(&product, None), operation(&unnamed, None)]),
            "invalid_operation",
        ),
        (
            json!([operation(&product, None), operation(&product, None)]),
            "duplicate_operation",
        ),
    ];
    for (operations, code) in cases {
        party
            .post("/v1/test/operations", &json!({ "operations": operations }))
            .await
            .assert_error(400, code);
    }
    let stored = party.get("/v1/outbox").await.ok();
    assert_eq!(stored["items"], json!([]), "nothing was stored");

    // Bad paths and queries.
    party
        .get("/v1/outbox/42")
        .await
        .assert_error(404, "not_found");
    party
        .get("/v1/outbox/abc")
        .await
        .assert_error(400, "bad_path");
    party
        .get("/v1/outbox?status=lost")
        .await
        .assert_error(400, "bad_query");
    party
        .get("/v1/outbox?limit=0")
        .await
        .assert_error(400, "invalid_limit");
    party
        .get("/v1/outbox?limit=1001")
        .await
        .assert_error(400, "invalid_limit");
    party.get("/v1/verify").await.assert_error(400, "bad_query");
    party
        .post("/v1/alerts/7/resolve", &json!({}))
        .await
        .assert_error(404, "not_found");
    party
        .get("/v1/no-such-route")
        .await
        .assert_error(404, "not_found");

    // The ledger is down: a 503 that does not tell why.
    let unavailable = party.get("/v1/verify?code=(01)09506000134352(21)S1").await;
    unavailable.assert_error(503, "unavailable");
    assert!(!unavailable.body["message"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1"));

    // Tokens are stored only as their SHA-256.
    let database = db.open().unwrap();
    let rows: Vec<(Vec<u8>, String)> = operator_tokens::table
        .select((operator_tokens::token_hash, operator_tokens::name))
        .load(&mut *database.get().unwrap())
        .unwrap();
    let hash = Sha256::digest(party.token.as_bytes()).to_vec();
    assert_eq!(rows, [(hash, "tester".to_string())]);
    assert_eq!(party.token.len(), 64, "32 random bytes in hex");
    assert!(party.token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        create_operator_token(&database, "").is_err(),
        "an operator needs a name"
    );
    let second = create_operator_token(&database, "second operator").unwrap();
    assert_ne!(second, party.token);
    let listed = answer(
        http.get(url("/v1/outbox"))
            .bearer_auth(&second)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed.ok()["items"], json!([]), "a new token works at once");

    drop(database);
    party.stop().await;
}
