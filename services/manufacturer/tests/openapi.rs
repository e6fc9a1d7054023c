//! The manufacturer service's OpenAPI document (`openapi.json`, served at `GET /openapi.json`)
//! against its real routes — the routes every party service has and the manufacturer's own, as
//! registered through the route recorder: every operation is documented and nothing else
//! is, and the document is a structurally valid OpenAPI 3 document.

use pedigree_openapi::{compare, documented_operations, record};

#[test]
fn the_document_describes_exactly_the_registered_routes() {
    let registered = record(|routes| {
        pedigree_party::http::register(routes);
        pedigree_manufacturer::register(routes);
    });
    let documented =
        documented_operations(include_str!("../openapi.json")).unwrap_or_else(|e| panic!("{e}"));
    compare(&registered, &documented).unwrap_or_else(|e| panic!("{e}"));
}
