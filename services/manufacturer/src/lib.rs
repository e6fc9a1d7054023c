//! Pedigree's manufacturer service: a library of routes that `pedigree_party::PartyApp` serves
//! beside the routes every party has.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/products` | register a product (GTIN): stored here, `register_product` submitted |
//! | `GET /v1/products` | the products registered here |
//! | `POST /v1/batches` | register a batch and commission its serials (random or listed); 201 done, or 202 with a job |
//! | `GET /v1/batches/{gtin}/{lot}/serials?offset=&limit=` | the batch's serials, in canonical order |
//! | `GET /v1/jobs/{id}` | a job's progress (`total`, `done`, `status`) |
//! | `POST /v1/cases` | pack items (packs or cases) into a case (`aggregate`) |
//! | `POST /v1/shipments` | ship items to a GLN (`ship`) |
//! | `POST /v1/receipts` | `{shipment_id, from, scanned}`: goods returned to the manufacturer (`receive`) |
//! | `POST /v1/recalls` | recall a batch, or only the listed `serials` of it (`recall`) |
//! | `GET /openapi.json` | this service's OpenAPI document (`openapi.json`, no token) |
//! | `GET /v1/labels/pack/{gtin}/{serial}?format=&syntax=&stem=&lot=&expiry=` | one pack's QR label, PNG or SVG |
//! | `GET /v1/labels/sheet?gtin=&lot=` or `?sscc=`, `&offset=&limit=&columns=&format=&syntax=&stem=` | a printable sheet of labels |
//!
//! Every route needs an operator token (`pedigree_party::Operator`); every operation becomes
//! signed events in the party's outbox, which delivers them to the ledger in order.
//! [`labels`] is pure and public so other tools (`pedigree up`) can print labels too.

pub mod batches;
mod error;
mod http;
mod input;
pub mod items;
pub mod jobs;
pub mod labels;
pub mod movements;
pub mod products;
pub mod serials;

pub use http::{register, routes};
pub use labels::{pack_label_png, pack_label_svg, Encoding, PackLabel};
