//! Hostile HTTP against the ledger and a party service: bodies over the limit (413, refused on
//! the announced length before they are read), invalid UTF-8 and deeply nested JSON (400, no
//! stack overflow), invalid percent-encoding in queries (400), and a slow client that never
//! finishes its request head (dropped after the request timeout, never blocking others).
//! Every refusal is the services' JSON error, never a 500.

mod common;

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The ledger and the manufacturer's party service, on loopback.
struct Services {
    ledger: Ledger,
    party: RunningParty,
    _dbs: (TestDatabase, TestDatabase),
}

async fn services() -> Services {
    let net = Network::new();
    let ledger_db = Backend::Sqlite.database();
    let ledger = Ledger::start(net.ledger_settings(&ledger_db, "127.0.0.1:0".parse().unwrap()));
    ledger.accept(&net.genesis()).await;
    let party_db = Backend::Sqlite.database();
    let party = RunningParty::start(net.party_config(&party_db, &ledger.base));
    Services {
        ledger,
        party,
        _dbs: (ledger_db, party_db),
    }
}

/// One raw HTTP/1.1 exchange on a new connection: `head` (without the blank line), then
/// `body`; returns the status and the JSON body of the answer.
async fn raw(base: &str, head: &str, body: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .expect("a connection");
    stream
        .write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // The server may answer and close before taking the whole body.
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON ({e}): {text:?}"));
    (status, json)
}

fn assert_json_error(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_malformed_and_nested_bodies_are_refused_with_json_errors() {
    let s = services().await;
    let party_post = |length: usize| {
        format!(
            "POST /v1/test/operations HTTP/1.1\r\nHost: party\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}",
            s.party.token
        )
    };
    let ledger_post = |length: usize| {
        format!(
            "POST /v1/events HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n\
             Content-Length: {length}"
        )
    };

    // A body announced beyond the 64 MiB limit is refused before it is read.
    let huge = (64 << 20) + 1;
    let (status, body) = raw(&s.party.base, &party_post(huge), b"{").await;
    assert_json_error(status, &body, 413, "payload_too_large");
    let (status, body) = raw(&s.ledger.base, &ledger_post(huge), b"{").await;
    assert_json_error(status, &body, 413, "payload_too_large");

    // Invalid UTF-8 inside a JSON string, and JSON nested far beyond any real document.
    let invalid_utf8 = b"{\"operations\": [\"\xff\xfe\"], \"events\": [\"\xc3\x28\"]}".to_vec();
    let nested = format!(
        "{{\"operations\": {0}{1}, \"events\": {0}{1}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    )
    .into_bytes();
    for body in [invalid_utf8, nested] {
        let (status, answer) = raw(&s.party.base, &party_post(body.len()), &body).await;
        assert_json_error(status, &answer, 400, "malformed_json");
        let (status, answer) = raw(&s.ledger.base, &ledger_post(body.len()), &body).await;
        assert_json_error(status, &answer, 400, "malformed_json");
    }

    // Invalid percent-encoding (not UTF-8 once decoded) in a query.
    let (status, answer) = raw(
        &s.party.base,
        &format!(
            "GET /v1/verify?code=%FF%FE HTTP/1.1\r\nHost: party\r\nAuthorization: Bearer {}",
            s.party.token
        ),
        b"",
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = raw(
        &s.ledger.base,
        "GET /v1/scan?code=%FF%FE HTTP/1.1\r\nHost: ledger",
        b"",
    )
    .await;
    assert_eq!(status, 400, "{answer}");

    // Both still serve.
    assert_eq!(s.ledger.get_status("/health").await, 200);
    s.party.get("/v1/outbox").await.ok();
    s.party.stop().await;
    s.ledger.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_dropped_and_blocks_no_one() {
    let s = services().await;
    for base in [&s.ledger.base, &s.party.base] {
        // A request head that never ends (slowloris).
        let mut slow = TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .expect("a connection");
        slow.write_all(b"GET /health HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
            .await
            .unwrap();

        // Others are served meanwhile.
        let answer = client()
            .get(format!("{base}/health"))
            .send()
            .await
            .expect("an answer while a slow client waits");
        assert_eq!(answer.status(), 200);

        // The server gives up on the slow client (408, then it closes the connection);
        // the bound only keeps a broken server from hanging the test.
        let mut answer = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            slow.read_to_end(&mut answer),
        )
        .await
        .expect("the server closes a connection whose request head never ends")
        .expect("a clean close");
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text:?}"
        );
    }
    s.party.stop().await;
    s.ledger.stop().await;
}
