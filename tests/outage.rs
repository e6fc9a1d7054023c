//! A ledger outage: `pedigree ledger` and `pedigree manufacturer` run as real processes; the
//! ledger is stopped (SIGKILL) while operators keep registering products and batches. The
//! party service keeps accepting work and retrying with backoff; when the ledger comes back
//! on the same database and port, everything lands, exactly once, and the witness is content.
//!
//! The outage lasts `PEDIGREE_OUTAGE_SECS` (default 15 s in CI; `scripts/crash-soak.sh` holds
//! it for minutes). The outbox's backoff is capped at 1 s here (`retry_max_ms`) so the test
//! does not wait for the default 30 s cap after the ledger returns.

mod crash_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crash_support::*;
use pedigree_testkit::{free_port, Network};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_service_takes_work_while_the_ledger_is_down_and_all_of_it_lands_once() {
    let outage = Duration::from_secs(env_count("PEDIGREE_OUTAGE_SECS", 15));
    let dir = temp_dir("outage");
    let net = Network::new();
    let port = free_port();
    let setup = ManufacturerSetup::start(&net, &dir, port, 1_000).await;
    let (ledger_files, ledger, party, token) =
        (setup.ledger_files, setup.ledger, setup.party, setup.token);
    let http = http_client();
    let service = party.start();
    let operate = |n: u64| {
        let (http, base, token) = (http.clone(), service.base.clone(), token.clone());
        async move {
            let mut ids = Vec::new();
            for (path, body) in party_operations(0, n) {
                let request = http
                    .post(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .json(&body);
                let answer = json_answer(request)
                    .await
                    .unwrap_or_else(|e| panic!("{path} #{n}: {e:?}"));
                ids.extend(outbox_event_ids(&answer));
            }
            ids
        }
    };
    let mut acknowledged = operate(0).await;

    // Down: the service keeps taking work.
    ledger.kill();
    let before = acknowledged.len();
    let down = Instant::now();
    let mut n = 1;
    while down.elapsed() < outage {
        acknowledged.extend(operate(n).await);
        n += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let outbox = get(
        &http,
        &service.base,
        &token,
        "/v1/outbox?status=pending&limit=1000",
    )
    .await;
    let pending = outbox["items"].as_array().expect("items").len();
    assert!(
        pending > 0,
        "work taken during the outage waits in the outbox"
    );
    let retried = outbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|item| item["attempts"].as_i64() >= Some(2))
        .count();
    assert!(retried > 0, "deliveries were retried during the outage");

    // Back on the same database and port: everything lands, once.
    let ledger = ledger_files.start(port);
    let drained = Instant::now();
    loop {
        let outbox = get(
            &http,
            &service.base,
            &token,
            "/v1/outbox?status=pending&limit=1",
        )
        .await;
        if outbox["items"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        assert!(
            drained.elapsed() < Duration::from_secs(120),
            "the outbox does not drain"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain_time = drained.elapsed();
    let all = get(&http, &service.base, &token, "/v1/outbox?limit=1000").await;
    let items = all["items"].as_array().expect("items");
    assert!(
        items.iter().all(|item| item["status"] == "accepted"),
        "every item accepted: {all}"
    );
    let mut ledger_db = ledger_files.connect();
    let logged = event_ids_by(&mut ledger_db, net.manufacturer.gln.as_str());
    let acknowledged: HashSet<Vec<u8>> = acknowledged.iter().map(|id| id.0.to_vec()).collect();
    assert_eq!(
        logged, acknowledged,
        "the log holds every acknowledged operation once and nothing else"
    );
    let witness = get(&http, &service.base, &token, "/v1/witness").await;
    assert_eq!(witness["halted"], false, "{witness}");
    service.kill();
    ledger.kill();
    ledger_files.audit_with_the_command();
    println!(
        "outage: ledger down {:.0} s, {} operations ({} events) taken meanwhile, {pending} \
         pending at the end of the outage; all delivered exactly once {:.1} s after the \
         ledger came back",
        outage.as_secs_f64(),
        n - 1,
        acknowledged.len() - before,
        drain_time.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

async fn get(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    json_answer(http.get(format!("{base}{path}")).bearer_auth(token))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e:?}"))
}
