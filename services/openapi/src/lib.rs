//! Route registration that records what it registers, and the checks that keep a service's
//! OpenAPI document equal to its real routes.
//!
//! Every service registers its routes through [`Routes`] (`routes.get("/v1/x", handler)`),
//! which calls actix's `ServiceConfig::route` and remembers the (method, path template). A
//! test per service lists the registered operations with [`record`] and compares them with
//! the operations its document describes ([`documented_operations`]), so a route added
//! without documentation (or documentation of a route that is gone) fails CI.
//!
//! HTML pages for people (the ledger's dashboard) are registered with
//! [`Routes::html_pages`]: they are served but deliberately left out of the API document.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpResponse, Responder};
use serde_json::Value;

/// Where every service serves its OpenAPI document.
pub const DOCUMENT_PATH: &str = "/openapi.json";

/// The schema every 4xx/5xx JSON body must use (every service answers errors as
/// `{"code", "message"}`).
pub const ERROR_SCHEMA_REF: &str = "#/components/schemas/error";

/// Marks a 4xx response whose body is a per-item outcome report rather than an error (an
/// EPCIS capture of which no event could be accepted answers 422 with every event's reason).
pub const OUTCOME_MARKER: &str = "x-pedigree-outcome-report";

/// One HTTP operation: a lowercase method and an OpenAPI path template (`/v1/x/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation {
    pub method: String,
    pub path: String,
}

impl Operation {
    /// The operation for an actix route: `{name:regex}` segments become `{name}`.
    pub fn new(method: &Method, actix_path: &str) -> Self {
        Self {
            method: method.as_str().to_ascii_lowercase(),
            path: openapi_path(actix_path),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.to_ascii_uppercase(), self.path)
    }
}

/// An actix path pattern as an OpenAPI path template: `/tile/{tail:.*}` → `/tile/{tail}`.
pub fn openapi_path(actix_path: &str) -> String {
    let mut out = String::with_capacity(actix_path.len());
    let mut rest = actix_path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let segment = &rest[open + 1..open + close];
        let name = segment.split_once(':').map_or(segment, |(name, _)| name);
        out.push('{');
        out.push_str(name);
        out.push('}');
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// A `ServiceConfig` that records every route registered through it.
pub struct Routes<'c> {
    cfg: &'c mut web::ServiceConfig,
    recorded: BTreeSet<Operation>,
}

impl<'c> Routes<'c> {
    pub fn new(cfg: &'c mut web::ServiceConfig) -> Self {
        Self {
            cfg,
            recorded: BTreeSet::new(),
        }
    }

    /// Registers `handler` for `method` on `path` (an actix pattern) and records it.
    pub fn route<F, Args>(&mut self, method: Method, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.recorded.insert(Operation::new(&method, path));
        self.cfg.route(path, web::method(method).to(handler));
        self
    }

    pub fn get<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::GET, path, handler)
    }

    pub fn post<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::POST, path, handler)
    }

    /// Registers the routes of a sub-module (which records them too).
    pub fn configure(&mut self, register: impl FnOnce(&mut Routes<'_>)) -> &mut Self {
        register(self);
        self
    }

    /// Registers HTML pages for people, which the API document deliberately leaves out.
    /// Only pages belong here: a JSON route registered this way escapes the drift check.
    pub fn html_pages(&mut self, register: impl FnOnce(&mut web::ServiceConfig)) -> &mut Self {
        register(self.cfg);
        self
    }

    /// Application data for the handlers registered here.
    pub fn app_data<U: 'static>(&mut self, data: U) -> &mut Self {
        self.cfg.app_data(data);
        self
    }

    /// Serves `document` (the service's OpenAPI JSON) at [`DOCUMENT_PATH`].
    pub fn openapi(&mut self, document: &'static str) -> &mut Self {
        self.get(DOCUMENT_PATH, move || async move {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(document)
        })
    }

    /// What has been registered through this recorder so far.
    pub fn operations(&self) -> &BTreeSet<Operation> {
        &self.recorded
    }
}

/// The operations `register` registers, as a real actix application configures them.
pub fn record(register: impl FnOnce(&mut Routes<'_>)) -> BTreeSet<Operation> {
    let mut operations = BTreeSet::new();
    let _app = actix_web::App::new().configure(|cfg| {
        let mut routes = Routes::new(cfg);
        register(&mut routes);
        operations = routes.recorded;
    });
    operations
}

/// Why a document is not a usable OpenAPI 3 document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the document is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the document does not parse as OpenAPI 3: {0}")]
    OpenApi(serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Checks that `document` is a structurally valid OpenAPI 3.x document and returns the
/// operations it describes.
///
/// Beyond parsing with the `openapiv3` crate it checks what makes the document useful: an
/// `info` title and version; every operation has a unique `operationId` and responses;
/// every path template parameter is declared as a required path parameter and no other
/// path parameter is; every `$ref` resolves; every 4xx/5xx JSON body uses
/// [`ERROR_SCHEMA_REF`], unless marked as an outcome report ([`OUTCOME_MARKER`]).
pub fn documented_operations(document: &str) -> Result<BTreeSet<Operation>, DocumentError> {
    let value: Value = serde_json::from_str(document)?;
    serde_json::from_value::<openapiv3::OpenAPI>(value.clone()).map_err(DocumentError::OpenApi)?;
    let invalid = |message: String| Err(DocumentError::Invalid(message));
    let version = value["openapi"].as_str().unwrap_or_default();
    if !version.starts_with("3.") {
        return invalid(format!("openapi must be 3.x, not {version:?}"));
    }
    for field in ["title", "version"] {
        if value["info"][field].as_str().is_none_or(str::is_empty) {
            return invalid(format!("info.{field} is missing"));
        }
    }
    check_refs(&value, &value)?;
    let Some(paths) = value["paths"].as_object() else {
        return invalid("paths is missing".into());
    };
    let mut operations = BTreeSet::new();
    let mut ids = BTreeMap::new();
    for (path, item) in paths {
        let item = resolve(&value, item);
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let op = Operation {
                method: method.into(),
                path: path.clone(),
            };
            check_operation(&value, item, operation, &op, &mut ids)?;
            operations.insert(op);
        }
    }
    Ok(operations)
}

fn check_operation(
    root: &Value,
    item: &Value,
    operation: &Value,
    op: &Operation,
    ids: &mut BTreeMap<String, Operation>,
) -> Result<(), DocumentError> {
    let invalid = |message: String| Err(DocumentError::Invalid(format!("{op}: {message}")));
    let Some(id) = operation["operationId"].as_str() else {
        return invalid("no operationId".into());
    };
    if let Some(other) = ids.insert(id.to_string(), op.clone()) {
        return invalid(format!("operationId {id} is also used by {other}"));
    }
    let Some(responses) = operation["responses"].as_object().filter(|r| !r.is_empty()) else {
        return invalid("no responses".into());
    };
    for (status, response) in responses {
        let response = resolve(root, response);
        let outcome_report = response[OUTCOME_MARKER] == true;
        if (status.starts_with('4') || status.starts_with('5')) && !outcome_report {
            let schema = &response["content"]["application/json"]["schema"]["$ref"];
            if schema.as_str() != Some(ERROR_SCHEMA_REF) {
                return invalid(format!(
                    "response {status} does not use the error schema {ERROR_SCHEMA_REF}"
                ));
            }
        }
    }
    let in_template: BTreeSet<&str> = op
        .path
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    let mut declared = BTreeSet::new();
    let parameters = item["parameters"]
        .as_array()
        .into_iter()
        .chain(operation["parameters"].as_array())
        .flatten();
    for parameter in parameters {
        let parameter = resolve(root, parameter);
        if parameter["in"] == "path" {
            let name = parameter["name"].as_str().unwrap_or_default();
            if parameter["required"] != true {
                return invalid(format!("path parameter {name} must be required"));
            }
            declared.insert(name);
        }
    }
    if declared != in_template {
        return invalid(format!(
            "path parameters declared {declared:?} but the template has {in_template:?}"
        ));
    }
    Ok(())
}

/// Follows a local `$ref` (one level, which is all the documents use for responses and
/// parameters); anything else is returned as is.
fn resolve<'v>(root: &'v Value, value: &'v Value) -> &'v Value {
    value["$ref"]
        .as_str()
        .and_then(|reference| reference.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
        .unwrap_or(value)
}

fn check_refs(root: &Value, value: &Value) -> Result<(), DocumentError> {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                let found = reference
                    .strip_prefix('#')
                    .and_then(|pointer| root.pointer(pointer));
                if found.is_none() {
                    return Err(DocumentError::Invalid(format!(
                        "$ref {reference} does not resolve within the document"
                    )));
                }
            }
            map.values().try_for_each(|v| check_refs(root, v))
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_refs(root, v)),
        _ => Ok(()),
    }
}

/// Compares what a service registers with what its document describes; `Err` names every
/// difference.
pub fn compare(
    registered: &BTreeSet<Operation>,
    documented: &BTreeSet<Operation>,
) -> Result<(), String> {
    let undocumented: Vec<String> = registered
        .difference(documented)
        .map(ToString::to_string)
        .collect();
    let stale: Vec<String> = documented
        .difference(registered)
        .map(ToString::to_string)
        .collect();
    if undocumented.is_empty() && stale.is_empty() {
        return Ok(());
    }
    Err(format!(
        "registered but not documented: {undocumented:?}; documented but not registered: {stale:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn ok() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[test]
    fn actix_patterns_become_openapi_templates() {
        assert_eq!(openapi_path("/tile/{tail:.*}"), "/tile/{tail}");
        assert_eq!(openapi_path("/v1/a/{x}/b/{y:\\d+}"), "/v1/a/{x}/b/{y}");
        assert_eq!(openapi_path("/health"), "/health");
    }

    #[test]
    fn the_recorder_lists_what_it_registers_but_not_html_pages() {
        let operations = record(|routes| {
            routes
                .get("/v1/things/{id}", ok)
                .post("/v1/things", ok)
                .configure(|nested| {
                    nested.get("/tile/{tail:.*}", ok);
                })
                .html_pages(|cfg| {
                    cfg.route("/dashboard", web::get().to(ok));
                });
        });
        let listed: Vec<String> = operations.iter().map(ToString::to_string).collect();
        assert_eq!(
            listed,
            ["GET /tile/{tail}", "GET /v1/things/{id}", "POST /v1/things"]
        );
    }

    fn document(parameters: Value, error_ref: &str) -> String {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {"/v1/things/{id}": {"get": {
                "operationId": "thing",
                "parameters": parameters,
                "responses": {
                    "200": {"description": "the thing"},
                    "404": {"description": "no such thing", "content": {"application/json": {
                        "schema": {"$ref": error_ref}}}}
                }
            }}},
            "components": {"schemas": {"error": {"type": "object"}}}
        })
        .to_string()
    }

    #[test]
    fn a_sound_document_lists_its_operations() {
        let doc = document(
            json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]),
            ERROR_SCHEMA_REF,
        );
        let operations = documented_operations(&doc).expect("valid");
        assert_eq!(
            operations.into_iter().collect::<Vec<_>>(),
            [Operation {
                method: "get".into(),
                path: "/v1/things/{id}".into()
            }]
        );
    }

    #[test]
    fn undeclared_path_parameters_broken_refs_and_other_error_bodies_are_refused() {
        let undeclared = document(json!([]), ERROR_SCHEMA_REF);
        assert!(documented_operations(&undeclared)
            .unwrap_err()
            .to_string()
            .contains("path parameters"));
        let params =
            json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
        let broken = document(params.clone(), "#/components/schemas/nope");
        assert!(documented_operations(&broken)
            .unwrap_err()
            .to_string()
            .contains("does not resolve"));
        let mut other =
            serde_json::from_str::<Value>(&document(params, ERROR_SCHEMA_REF)).expect("json");
        other["components"]["schemas"]["other"] = json!({"type": "object"});
        other["paths"]["/v1/things/{id}"]["get"]["responses"]["404"]["content"]
            ["application/json"]["schema"]["$ref"] = json!("#/components/schemas/other");
        assert!(documented_operations(&other.to_string())
            .unwrap_err()
            .to_string()
            .contains("error schema"));
        assert!(documented_operations("{\"openapi\": \"2.0\"}").is_err());
    }

    #[test]
    fn differences_are_named_both_ways() {
        let op = |m: &str, p: &str| Operation {
            method: m.into(),
            path: p.into(),
        };
        let registered = BTreeSet::from([op("get", "/a"), op("post", "/b")]);
        let documented = BTreeSet::from([op("get", "/a"), op("get", "/c")]);
        let message = compare(&registered, &documented).unwrap_err();
        assert!(
            message.contains("POST /b") && message.contains("GET /c"),
            "{message}"
        );
        assert!(compare(&registered, &registered).is_ok());
    }
}
