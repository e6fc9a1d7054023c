//! Test support of the distributor's and the pharmacy's HTTP tests (the pharmacy's tests
//! include this file): the shared kit (`pedigree-testkit`: a real ledger on a throw-away
//! database, keyed parties, party services with an operator token, and clients) set up as
//! these tests' world — governance and the trading partners registered, and a manufacturer
//! that submits its events straight to the ledger with its key.
//!
//! Scenarios are written once as `async fn scenario(backend)` and run on SQLite and (when
//! `PEDIGREE_TEST_POSTGRES_URL` is set) PostgreSQL by [`both_backends!`].

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::ops::Deref;

use pedigree_party::PartyConfig;
use pedigree_schema::event::{EventSubmission, ShipmentPurpose};
use pedigree_schema::gs1::{Gln, Sscc};
pub use pedigree_testkit::*;

/// The kit's network of which governance and the trading partners (manufacturer,
/// distributor, pharmacy) are registered.
pub struct Network(pedigree_testkit::Network);

impl Network {
    pub fn new() -> Self {
        Self(pedigree_testkit::Network::new())
    }

    /// Governance registers itself, then every trading partner.
    pub fn genesis(&self) -> Vec<EventSubmission> {
        self.genesis_of(&[
            &self.governance,
            &self.manufacturer,
            &self.distributor,
            &self.pharmacy,
        ])
    }

    /// A party service configuration for `member` on `db`, delivering to `ledger`.
    pub fn party_config(&self, member: &Party, db: &TestDatabase, ledger: &Ledger) -> PartyConfig {
        self.0.party_config(member, db, &ledger.base)
    }
}

impl Deref for Network {
    type Target = pedigree_testkit::Network;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The manufacturer's events, signed with its key and submitted straight to the ledger (its
/// own service is not under test here).
pub struct Manufacturer<'a> {
    pub member: &'a Party,
}

impl Manufacturer<'_> {
    /// The product's and the batch's registrations.
    pub fn product_and_batch(&self, batch: &Batch) -> Vec<EventSubmission> {
        vec![
            self.member
                .register_product(&batch.gtin, "Paracetamol 500 mg, 16 tablets"),
            self.member.register_batch(batch),
        ]
    }

    pub fn commission(&self, batch: &Batch, serials: &[&str]) -> EventSubmission {
        self.member.commission(batch, serials)
    }

    pub fn aggregate(&self, case: &Sscc, items: Vec<String>) -> EventSubmission {
        self.member.aggregate(case, &items)
    }

    /// A sale of `items` to `to`.
    pub fn ship(&self, shipment: &str, to: &Gln, items: Vec<String>) -> EventSubmission {
        self.member
            .ship(shipment, to, ShipmentPurpose::Sale, &items)
    }
}
