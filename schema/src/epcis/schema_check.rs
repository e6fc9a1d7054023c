//! Validation against GS1's EPCIS 2.0 JSON schema, vendored in
//! `schema/testdata/epcis/` (feature `epcis-schema`, for tests). The schema
//! is draft 7 and refers only to its own definitions, so validation needs
//! no network.

use serde_json::Value;

/// The vendored `EPCIS-JSON-Schema.json`.
pub const SCHEMA: &str = include_str!("../../testdata/epcis/EPCIS-JSON-Schema.json");

/// Every way `document` breaks the schema (formats such as `uri` and
/// `date-time` are checked too), as "path: message" lines.
pub fn violations(document: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the vendored schema is JSON");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the vendored schema compiles");
    validator
        .iter_errors(document)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}
