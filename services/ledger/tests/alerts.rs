//! The regulators' alert queue over the JSON API: rule alerts enter it
//! beside the classifier's, every filter narrows it, paging covers it
//! exactly, and triage follows its state machine with a kept history.

#[macro_use]
mod common;
mod alerts_support;

use alerts_support::{alert_from, alerts, post_signed, seed};
use common::*;
use pedigree_ledger::db::testing::TestDatabase;
use serde_json::json;

both_backends!(
    rule_alerts_are_queued_and_filtered,
    triage_follows_the_state_machine
);

async fn rule_alerts_are_queued_and_filtered(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let seeded = seed(&ledger, &net).await;
    let regulator = net.governance.key();
    let list = |query: &str| {
        let path = format!("/v1/alerts?state=any{query}");
        let (ledger, key) = (&ledger, &regulator);
        async move { alerts(&ledger.get_signed(&path, key).await.ok()) }
    };

    // Each rule that fired is queued once, with what it found and where.
    let decommissioned = alert_from(&ledger, &net, "already_decommissioned").await;
    assert_eq!(decommissioned["serial"], seeded.sold.serial.as_str());
    assert_eq!(decommissioned["lot"], "LOT-D1");
    assert_eq!(decommissioned["party"], seeded.belgian.gln.as_str());
    assert_eq!(decommissioned["region"], "BE");
    assert_eq!(decommissioned["state"], "open");
    assert_eq!(decommissioned["score"], 1.0);
    let unknown = alert_from(&ledger, &net, "serial_unknown").await;
    assert_eq!(unknown["serial"], "NOPE1");
    assert_eq!(unknown["party"], net.outsider.gln.as_str());
    assert!(unknown["region"].is_null(), "{unknown}");
    // The pharmacist who dispensed the pack verified it too: no alert for that.
    assert!(list(&format!("&party={}", net.pharmacy.gln))
        .await
        .is_empty());

    // Filters.
    let every = list("").await;
    assert!(every.len() >= 2);
    let ids = |found: &[serde_json::Value]| -> Vec<i64> {
        found
            .iter()
            .map(|a| a["id"].as_i64().expect("id"))
            .collect()
    };
    let in_belgium = list("&region=be").await;
    assert!(!in_belgium.is_empty());
    assert!(in_belgium.iter().all(|a| a["region"] == "BE"));
    assert!(
        list(&format!("&product={}&batch=LOT-D1", seeded.batch.gtin))
            .await
            .iter()
            .all(|a| a["lot"] == "LOT-D1")
    );
    assert!(list("&batch=NO-SUCH-LOT").await.is_empty());
    let today = chrono::Utc::now().date_naive();
    assert_eq!(
        ids(&list(&format!("&from={today}&to={today}")).await),
        ids(&every)
    );
    assert!(list("&to=2000-01-01").await.is_empty());
    assert!(list("&from=2999-01-01T00:00:00Z").await.is_empty());
    assert_eq!(list("&source=classifier").await.len() + 2, every.len());
    let key = &regulator;
    for bad in [
        "state=shelved",
        "region=Belgium",
        "from=yesterday",
        "limit=0",
        "after=999999",
    ] {
        ledger
            .get_signed(&format!("/v1/alerts?{bad}"), key)
            .await
            .assert_error(400, "bad_filter");
    }

    // Paging walks the whole queue in order, each alert once.
    let mut paged = Vec::new();
    let mut after = None::<i64>;
    loop {
        let cursor = after.map(|a| format!("&after={a}")).unwrap_or_default();
        let page = ledger
            .get_signed(&format!("/v1/alerts?state=any&limit=1{cursor}"), key)
            .await
            .ok();
        paged.extend(ids(&alerts(&page)));
        match page["next_after"].as_i64() {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, ids(&every));

    // Regulators only.
    ledger
        .get_signed("/v1/alerts", &net.pharmacy.key())
        .await
        .assert_error(403, "forbidden");
    ledger
        .get("/v1/alerts")
        .await
        .assert_error(401, "authentication_required");
    ledger.stop().await;
}

async fn triage_follows_the_state_machine(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    seed(&ledger, &net).await;
    let key = net.governance.key();
    let id = alert_from(&ledger, &net, "serial_unknown").await["id"]
        .as_i64()
        .expect("id");
    let path = format!("/v1/alerts/{id}/triage");
    let step = |state: Option<&str>, note: &str| json!({ "state": state, "note": note });

    // Open → investigating needs no note.
    let detail = post_signed(&ledger, &path, &step(Some("investigating"), ""), &key)
        .await
        .ok();
    assert_eq!(detail["state"], "investigating");
    post_signed(&ledger, &path, &step(Some("investigating"), "again"), &key)
        .await
        .assert_error(409, "already_in_state");
    post_signed(&ledger, &path, &step(Some("open"), "back"), &key)
        .await
        .assert_error(409, "invalid_transition");
    post_signed(&ledger, &path, &step(Some("closed_confirmed"), "  "), &key)
        .await
        .assert_error(422, "note_required");
    post_signed(&ledger, &path, &step(None, "bell\u{7}"), &key)
        .await
        .assert_error(422, "invalid_note");
    post_signed(&ledger, &path, &json!({ "state": "shelved" }), &key)
        .await
        .assert_error(400, "malformed_json");
    post_signed(
        &ledger,
        &path,
        &step(
            Some("closed_confirmed"),
            "serial never commissioned; seized",
        ),
        &key,
    )
    .await
    .ok();
    post_signed(
        &ledger,
        &path,
        &step(Some("closed_false_positive"), "oops"),
        &key,
    )
    .await
    .assert_error(409, "invalid_transition");
    post_signed(&ledger, &path, &step(None, "case file 2026/114"), &key)
        .await
        .ok();
    let reopened = post_signed(&ledger, &path, &step(Some("open"), "new evidence"), &key)
        .await
        .ok();
    assert_eq!(reopened["state"], "open");

    // Every step is in the history, in order, with its author.
    let detail = ledger
        .get_signed(&format!("/v1/alerts/{id}"), &key)
        .await
        .ok();
    let history: Vec<(String, String, String)> = detail["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|n| {
            assert_eq!(n["author"], net.governance.gln.as_str());
            (
                n["from_state"].as_str().unwrap_or_default().to_string(),
                n["to_state"].as_str().unwrap_or_default().to_string(),
                n["note"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected = [
        ("open", "investigating", ""),
        (
            "investigating",
            "closed_confirmed",
            "serial never commissioned; seized",
        ),
        ("closed_confirmed", "closed_confirmed", "case file 2026/114"),
        ("closed_confirmed", "open", "new evidence"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(history, expected);

    // Only regulators, only signed, only over the body that was signed, only known alerts.
    post_signed(
        &ledger,
        &path,
        &step(Some("investigating"), ""),
        &net.pharmacy.key(),
    )
    .await
    .assert_error(403, "forbidden");
    ledger
        .post_json(&path, &step(Some("investigating"), ""))
        .await
        .assert_error(401, "authentication_required");
    post_signed(
        &ledger,
        "/v1/alerts/999999/triage",
        &step(Some("investigating"), ""),
        &key,
    )
    .await
    .assert_error(404, "not_found");
    let signed = pedigree_schema::request_auth::SignedRequest::sign(
        &key,
        "POST",
        &path,
        br#"{"state":"investigating","note":""}"#,
        chrono::Utc::now().timestamp(),
    );
    let mut tampered = client()
        .post(ledger.url(&path))
        .header("content-type", "application/json")
        .body(r#"{"state":"closed_false_positive","note":"x"}"#);
    for (name, value) in signed.headers() {
        tampered = tampered.header(name, value);
    }
    answer(tampered.send().await.expect("an answer"))
        .await
        .assert_error(401, "bad_request_signature");
    let after = ledger
        .get_signed(&format!("/v1/alerts/{id}"), &key)
        .await
        .ok();
    assert_eq!(after["state"], "open", "refused requests change nothing");
    ledger.stop().await;
}
