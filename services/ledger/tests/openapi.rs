//! The ledger's OpenAPI document (`openapi.json`, served at `GET /openapi.json`) against
//! its real routes: every operation registered through the route recorder is documented and
//! nothing else is, and the document is a structurally valid OpenAPI 3 document.

#[macro_use]
mod common;

use common::*;
use pedigree_openapi::{compare, documented_operations, record};

const DOCUMENT: &str = include_str!("../openapi.json");

#[test]
fn the_document_describes_exactly_the_registered_routes() {
    let registered = record(pedigree_ledger::http::register);
    let documented = documented_operations(DOCUMENT).unwrap_or_else(|e| panic!("{e}"));
    compare(&registered, &documented).unwrap_or_else(|e| panic!("{e}"));
}

both_backends!(the_ledger_serves_its_document);

async fn the_ledger_serves_its_document(db: TestDatabase) {
    let net = Network::new();
    let ledger = Ledger::for_network(&net, &db);
    let (headers, body) = ledger.get_bytes("/openapi.json").await;
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body, DOCUMENT.as_bytes());
    ledger.stop().await;
}
