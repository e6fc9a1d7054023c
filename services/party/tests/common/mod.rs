//! Test support of the party service's HTTP tests: the shared kit (`pedigree-testkit`: a
//! real ledger on a throw-away database, keyed parties, party services and clients) set up as
//! these tests' world — governance and a manufacturer whose party service has a test route
//! that submits operations — and direct looks at the party's outbox.
//!
//! Scenarios that touch the database are written once as `async fn scenario(backend)` and run
//! on SQLite and (when `PEDIGREE_TEST_POSTGRES_URL` is set) PostgreSQL by [`both_backends!`].

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::net::SocketAddr;
use std::ops::Deref;

use actix_web::web::{self, Data, Json};
use actix_web::HttpResponse;
use chrono::Utc;
use diesel::prelude::*;
use pedigree_ledger::Settings;
use pedigree_party::db::schema::outbox;
use pedigree_party::{Operation, Operator, Party, PartyConfig, PartyError};
use pedigree_schema::event::{
    canonical_item_order, EventBody, EventSubmission, ItemSetRef, Timestamp,
};
use pedigree_schema::gs1::{Expiry, Gtin, Lot};
pub use pedigree_testkit::*;
use serde::Deserialize;
use serde_json::{json, Value};

// ---------------------------------------------------------------- the network

/// The kit's network of which only governance and the manufacturer are registered, the
/// manufacturer running the party service under test.
pub struct Network(pedigree_testkit::Network);

impl Network {
    pub fn new() -> Self {
        Self(pedigree_testkit::Network::new())
    }

    /// Ledger settings on `db`, listening on `listen` (a ledger restarted on the same port
    /// is the same ledger to the party).
    pub fn ledger_settings(&self, db: &TestDatabase, listen: SocketAddr) -> Settings {
        let mut settings = self.0.ledger_settings(db);
        settings.listen = listen;
        settings
    }

    /// Genesis: governance registers itself, then the manufacturer.
    pub fn genesis(&self) -> Vec<EventSubmission> {
        self.genesis_of(&[&self.governance, &self.manufacturer])
    }

    /// The manufacturer's party service configuration.
    pub fn party_config(&self, db: &TestDatabase, ledger_url: &str) -> PartyConfig {
        self.0.party_config(&self.manufacturer, db, ledger_url)
    }
}

impl Deref for Network {
    type Target = pedigree_testkit::Network;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// An event by the manufacturer, signed now, with its items (in canonical order).
pub fn manufacturer_submission(
    net: &Network,
    body: EventBody,
    items: Option<Vec<String>>,
) -> EventSubmission {
    let m = &net.manufacturer;
    signed_submission(&m.gln, &m.key, Timestamp::now(), body, items)
}

// ---------------------------------------------------------------- operations

/// A product registration, a batch of it, and the commissioning of `serials`.
pub fn product_batch_commission(gtin: &Gtin, lot: &str, serials: &[&str]) -> Vec<Value> {
    let lot = Lot::parse(lot).expect("a valid lot");
    let serials = canonical_item_order(serials.iter().map(|s| s.to_string()).collect());
    let commission = EventBody::Commission {
        gtin: gtin.clone(),
        lot: lot.clone(),
        serials: ItemSetRef::commit(&serials),
    };
    let today = Utc::now().date_naive();
    vec![
        operation(
            &EventBody::RegisterProduct {
                gtin: gtin.clone(),
                name: "Paracetamol 500 mg".into(),
            },
            None,
        ),
        operation(
            &EventBody::RegisterBatch {
                gtin: gtin.clone(),
                lot,
                expiry: Expiry::from_date(today + chrono::Duration::days(730)),
                manufactured: today - chrono::Duration::days(30),
            },
            None,
        ),
        operation(&commission, Some(serials)),
    ]
}

/// One operation as the test route takes it.
pub fn operation(body: &EventBody, items: Option<Vec<String>>) -> Value {
    json!({ "body": body, "items": items })
}

#[derive(Deserialize)]
struct OperationsRequest {
    operations: Vec<OperationJson>,
}

#[derive(Deserialize)]
struct OperationJson {
    body: EventBody,
    items: Option<Vec<String>>,
}

/// The test role's routes: `POST /v1/test/operations` submits operations to the outbox, as a
/// role service's handlers do.
pub fn test_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/test/operations", web::post().to(submit));
}

async fn submit(
    party: Data<Party>,
    _: Operator,
    body: Json<OperationsRequest>,
) -> Result<HttpResponse, PartyError> {
    let operations = body
        .into_inner()
        .operations
        .into_iter()
        .map(|op| Operation {
            body: op.body,
            items: op.items,
        })
        .collect();
    let items = web::block(move || party.outbox().submit(operations)).await??;
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

// ---------------------------------------------------------------- the party

/// The kit's party service with [`test_routes`].
pub struct RunningParty(pedigree_testkit::RunningParty);

impl RunningParty {
    pub fn start(config: PartyConfig) -> Self {
        Self(pedigree_testkit::RunningParty::start(config, test_routes))
    }

    pub async fn stop(self) {
        self.0.stop().await;
    }

    /// Submits operations through the test route; returns the outbox ids.
    pub async fn submit(&self, operations: Vec<Value>) -> Vec<i64> {
        let body = self
            .post("/v1/test/operations", &json!({ "operations": operations }))
            .await
            .ok();
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| {
                assert_eq!(item["status"], "pending", "{item}");
                item["id"].as_i64().expect("an id")
            })
            .collect()
    }
}

impl Deref for RunningParty {
    type Target = pedigree_testkit::RunningParty;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The stored submission of outbox item `id`, read from the party database.
pub fn stored_submission(db: &TestDatabase, id: i64) -> EventSubmission {
    let database = db.open().expect("open the party database");
    let bytes: Vec<u8> = outbox::table
        .find(id)
        .select(outbox::submission)
        .first(&mut *database.get().expect("a connection"))
        .expect("the outbox row");
    serde_json::from_slice(&bytes).expect("a stored submission")
}

/// Sets an outbox item's status directly, as a crash between the ledger's answer and the
/// party's commit would leave it.
pub fn force_status(db: &TestDatabase, id: i64, status: &str) {
    let database = db.open().expect("open the party database");
    diesel::update(outbox::table.find(id))
        .set(outbox::status.eq(status))
        .execute(&mut *database.get().expect("a connection"))
        .expect("update the outbox row");
}
