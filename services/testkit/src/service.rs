//! A party service (`PartyApp` with a role's routes) serving on a free local port, with an
//! operator token, and a client for it.

use actix_web::dev::ServerHandle;
use actix_web::web::ServiceConfig;
use pedigree_party::{create_operator_token, PartyApp, PartyConfig};
use serde_json::Value;

use crate::http::{answer, client, eventually, Answer};

/// A party service serving on a local port, with the token of an operator named `tester`.
pub struct RunningParty {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The operator's bearer token.
    pub token: String,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningParty {
    /// Builds and starts the service of `config` with `routes` (on a runtime: call from a
    /// `#[tokio::test]`).
    pub fn start(config: PartyConfig, routes: fn(&mut ServiceConfig)) -> Self {
        // The service's logs go to the test's captured output, shown on failure.
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let app = PartyApp::build(config, routes).expect("the party service starts");
        let token = create_operator_token(app.party().db(), "tester").expect("an operator token");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        Self {
            base,
            token,
            handle,
            task,
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.task
            .await
            .expect("the party task completes")
            .expect("the party stops cleanly");
    }

    /// A GET with the operator token.
    pub async fn get(&self, path: &str) -> Answer {
        answer(
            client()
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("the party answers"),
        )
        .await
    }

    /// A GET with the operator token that must answer 200 with `content_type`; returns the
    /// body.
    pub async fn get_bytes(&self, path: &str, content_type: &str) -> Vec<u8> {
        let response = client()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the party answers");
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.bytes().await.expect("a body").to_vec();
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(kind, content_type, "GET {path}");
        body
    }

    /// A POST of JSON with the operator token.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.post_raw(path, body.to_string(), Some(&self.token))
            .await
    }

    /// A POST of `body` as JSON, with the given bearer token (or none).
    pub async fn post_raw(&self, path: &str, body: String, token: Option<&str>) -> Answer {
        let mut request = client()
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("the party answers")).await
    }

    /// POSTs an operation that must be stored, and waits until the ledger accepted it;
    /// returns the settled outbox item.
    pub async fn accepted(&self, path: &str, body: &Value) -> Value {
        let item = self.post(path, body).await.outbox_item();
        let id = item["id"].as_i64().expect("an outbox id");
        let settled = self.settled(id).await;
        assert_eq!(settled["status"], "accepted", "{path}: {settled}");
        settled
    }

    /// Waits until every outbox item of an answer's `outbox` list is accepted.
    pub async fn all_accepted(&self, created: &Value) {
        for item in created["outbox"].as_array().expect("outbox items") {
            let settled = self.settled(item["id"].as_i64().expect("an id")).await;
            assert_eq!(settled["status"], "accepted", "{settled}");
        }
    }

    /// Outbox item `id`.
    pub async fn item(&self, id: i64) -> Value {
        self.get(&format!("/v1/outbox/{id}")).await.ok()
    }

    /// Waits until outbox item `id` has left `pending`; returns it.
    pub async fn settled(&self, id: i64) -> Value {
        eventually(&format!("outbox item {id} to settle"), || async {
            let item = self.item(id).await;
            (item["status"] != "pending").then_some(item)
        })
        .await
    }

    /// Every outbox item, newest first.
    pub async fn outbox(&self) -> Vec<Value> {
        self.get("/v1/outbox").await.ok()["items"]
            .as_array()
            .expect("items")
            .clone()
    }

    /// The witness's state.
    pub async fn witness(&self) -> Value {
        self.get("/v1/witness").await.ok()
    }

    /// Every alert, newest first.
    pub async fn alerts(&self) -> Vec<Value> {
        self.get("/v1/alerts").await.ok()["alerts"]
            .as_array()
            .expect("alerts")
            .clone()
    }
}
