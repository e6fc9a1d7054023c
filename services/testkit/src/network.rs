//! The log's key and the parties of a small supply chain, and the configuration of a ledger
//! and of party services for them.

use std::sync::Arc;
use std::time::Duration;

use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::Settings;
use pedigree_party::PartyConfig;
use pedigree_schema::event::{EventSubmission, Role, Timestamp};
use pedigree_schema::keys::SecretKey;
use pedigree_schema::note::{KeyName, NoteSigner, NoteVerifier};

use crate::party::Party;

/// The checkpoint origin (the log's name) of every test ledger.
pub const ORIGIN: &str = "pedigree.test/log";

/// The log's key and the parties of a small supply chain: governance (a regulator), a
/// manufacturer, a distributor, a pharmacy, and an outsider pharmacy that never handles the
/// goods. Every key is fresh, so parallel tests never share one.
pub struct Network {
    pub log_seed: [u8; 32],
    pub governance: Party,
    pub manufacturer: Party,
    pub distributor: Party,
    pub pharmacy: Party,
    pub outsider: Party,
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

impl Network {
    pub fn new() -> Self {
        Self {
            log_seed: SecretKey::generate().signing_key().to_bytes(),
            governance: Party::new("Medicines Agency", Role::Regulator, "950600000001"),
            manufacturer: Party::new("Acme Pharma", Role::Manufacturer, "950600000002"),
            distributor: Party::new("Wholesale Ltd", Role::Distributor, "950600000003"),
            pharmacy: Party::new("Corner Pharmacy", Role::Pharmacy, "950600000004"),
            outsider: Party::new("Other Pharmacy", Role::Pharmacy, "950600000005"),
        }
    }

    pub fn log_key(&self) -> SecretKey {
        SecretKey::from_seed(&self.log_seed)
    }

    /// The log's note signer, to forge checkpoints a real ledger would not sign.
    pub fn log_signer(&self) -> NoteSigner {
        NoteSigner::new(origin(), self.log_key().signing_key().clone())
    }

    /// The log's note verifier, derived independently of the ledger.
    pub fn log_verifier(&self) -> NoteVerifier {
        NoteVerifier::new(origin(), *self.log_key().public_key().verifying_key())
    }

    /// Settings for a ledger of this network on `db`, listening on a free local port, with
    /// a small pool so that concurrent tests stay within the server's connection limit.
    pub fn ledger_settings(&self, db: &TestDatabase) -> Settings {
        let mut settings = Settings::new(self.log_key(), self.governance.public_key());
        settings.listen = "127.0.0.1:0".parse().expect("a socket address");
        settings.database_url = db.url().as_str().to_string();
        settings.origin = ORIGIN.into();
        settings.pool_size = 3;
        settings
    }

    /// Genesis: governance registers itself (with the configured governance key), then every
    /// other party.
    pub fn genesis(&self) -> Vec<EventSubmission> {
        self.genesis_at(Timestamp::now())
    }

    /// Genesis dated `time`: every key is valid from then on.
    pub fn genesis_at(&self, time: Timestamp) -> Vec<EventSubmission> {
        self.registrations_at(
            time,
            &[
                &self.governance,
                &self.manufacturer,
                &self.distributor,
                &self.pharmacy,
                &self.outsider,
            ],
        )
    }

    /// Genesis of only some parties, now: `parties` must start with governance, which
    /// signs every registration.
    pub fn genesis_of(&self, parties: &[&Party]) -> Vec<EventSubmission> {
        self.registrations_at(Timestamp::now(), parties)
    }

    fn registrations_at(&self, time: Timestamp, parties: &[&Party]) -> Vec<EventSubmission> {
        parties
            .iter()
            .map(|party| self.governance.event_at(time, party.registration()))
            .collect()
    }

    /// The configuration of `party`'s service on `db`, delivering to the ledger at
    /// `ledger_url`; its witness polls every 100 ms and retries back off to at most 200 ms.
    pub fn party_config(&self, party: &Party, db: &TestDatabase, ledger_url: &str) -> PartyConfig {
        PartyConfig {
            role: party.role,
            gln: party.gln.clone(),
            key: Arc::new(party.key()),
            listen: "127.0.0.1:0".parse().expect("a socket address"),
            database_url: db.url().as_str().to_string(),
            pool_size: 3,
            ledger_url: ledger_url.to_string(),
            log_verifier: self.log_verifier(),
            witness_interval: Duration::from_millis(100),
            retry_max: Duration::from_millis(200),
            tls: Default::default(),
        }
    }
}

fn origin() -> KeyName {
    KeyName::parse(ORIGIN).expect("the origin is a key name")
}
