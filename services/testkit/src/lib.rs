//! Test support shared by the tests of Pedigree's services (ledger, party, manufacturer,
//! distributor, pharmacy): one copy of what every one of them needs to run a supply chain
//! over real HTTP.
//!
//! - [`ids`]: GS1 identifiers from their bodies (the check digit is computed), and [`Batch`].
//! - [`Party`] and [`Network`]: keyed parties (governance, manufacturer, distributor,
//!   pharmacy and an outsider) and the events they sign.
//! - [`Ledger`]: a ledger `Application` on a free local port and a client for it that checks
//!   every receipt and checkpoint it gets under the log key.
//! - [`RunningParty`]: a `PartyApp` with a role's routes and an operator token, and a client.
//! - [`http`]: JSON answers ([`Answer`]), polling ([`eventually`]) and signed requests.
//! - [`TestCertificate`]: a self-signed certificate for the loopback address, and HTTPS
//!   clients that trust it or not.
//! - [`Backend`] and [`both_backends!`]: every scenario runs on SQLite and, when
//!   `PEDIGREE_TEST_POSTGRES_URL` is set, on PostgreSQL.
//!
//! This is a fixture crate: setup failures panic with a message saying what went wrong, as
//! test fixtures do, and so do unexpected answers (the test fails where it went wrong).

pub mod backend;
pub mod http;
pub mod ids;
pub mod ledger;
pub mod network;
pub mod party;
pub mod service;
pub mod tls;

pub use backend::Backend;
pub use http::{
    alert_codes, answer, client, eventually, free_port, signed_headers, url_encode, Answer,
};
pub use ids::{
    case_item, gln, gtin, lot, pack, pack_item, scan_case, sscc, with_check_digit, Batch,
};
pub use ledger::{Ledger, Outcome};
pub use network::{Network, ORIGIN};
pub use party::{signed_submission, Party};
pub use pedigree_ledger::db::testing::TestDatabase;
pub use service::RunningParty;
pub use tls::{
    assert_says_how_to_configure_tls, is_certificate_error, untrusting_client, TestCertificate,
};
