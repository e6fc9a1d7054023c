//! A keyed party and the signed events it submits.

use chrono::{Duration, Utc};
use pedigree_schema::checkpoint::{CosignatureSigner, CosignatureVerifier};
use pedigree_schema::event::{
    canonical_item_order, DecommissionReason, Event, EventBody, EventSubmission, ItemSetRef, Role,
    ShipmentPurpose, Timestamp,
};
use pedigree_schema::gs1::{Gln, Gtin, PackId, Sscc};
use pedigree_schema::keys::{PublicKey, SecretKey};
use pedigree_schema::note::KeyName;

use crate::ids::{gln, Batch};

/// A registered (or registrable) party with its signing key.
pub struct Party {
    pub name: &'static str,
    pub gln: Gln,
    pub role: Role,
    pub key: SecretKey,
}

impl Party {
    /// A party with a fresh random key.
    pub fn new(name: &'static str, role: Role, gln_body: &str) -> Self {
        Self {
            name,
            gln: gln(gln_body),
            role,
            key: SecretKey::generate(),
        }
    }

    /// An owned copy of [`Party::key`] (a `SecretKey` is not `Clone`), for what keeps a key:
    /// a `PartyConfig`, a `LedgerClient`.
    pub fn key(&self) -> SecretKey {
        SecretKey::from_seed(&self.key.signing_key().to_bytes())
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The `RegisterParty` body that registers this party with its key.
    pub fn registration(&self) -> EventBody {
        EventBody::RegisterParty {
            party: self.gln.clone(),
            name: self.name.into(),
            role: self.role,
            key: self.public_key(),
            location: None,
        }
    }

    /// An event by this party, now, without items.
    pub fn event(&self, body: EventBody) -> EventSubmission {
        self.event_at(Timestamp::now(), body)
    }

    /// An event by this party at `time`, without items.
    pub fn event_at(&self, time: Timestamp, body: EventBody) -> EventSubmission {
        signed_submission(&self.gln, &self.key, time, body, None)
    }

    /// An event by this party, now, committing to `items` (sorted here).
    pub fn with_items(
        &self,
        items: Vec<String>,
        body: impl FnOnce(ItemSetRef) -> EventBody,
    ) -> EventSubmission {
        self.with_items_at(Timestamp::now(), items, body)
    }

    /// An event by this party at `time`, committing to `items` (sorted here).
    pub fn with_items_at(
        &self,
        time: Timestamp,
        items: Vec<String>,
        body: impl FnOnce(ItemSetRef) -> EventBody,
    ) -> EventSubmission {
        let items = canonical_item_order(items);
        let set = ItemSetRef::commit(&items);
        signed_submission(&self.gln, &self.key, time, body(set), Some(items))
    }

    /// This party as a witness: the cosignature key is its event key and the witness name
    /// its GLN.
    pub fn witness(&self) -> CosignatureSigner {
        CosignatureSigner::new(self.key_name(), self.key.signing_key().clone())
    }

    /// The verifier of this party's cosignatures (see [`Party::witness`]).
    pub fn witness_verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier::new(self.key_name(), *self.public_key().verifying_key())
    }

    fn key_name(&self) -> KeyName {
        KeyName::parse(self.gln.as_str()).expect("a GLN is a valid key name")
    }

    // -- the custody events, as the scenarios use them

    pub fn register_product(&self, gtin: &Gtin, name: &str) -> EventSubmission {
        self.event(EventBody::RegisterProduct {
            gtin: gtin.clone(),
            name: name.into(),
        })
    }

    /// The batch's registration, manufactured 30 days ago.
    pub fn register_batch(&self, batch: &Batch) -> EventSubmission {
        self.event(EventBody::RegisterBatch {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            expiry: batch.expiry.clone(),
            manufactured: Utc::now().date_naive() - Duration::days(30),
        })
    }

    pub fn commission(&self, batch: &Batch, serials: &[&str]) -> EventSubmission {
        let serials = serials.iter().map(|s| s.to_string()).collect();
        self.with_items(serials, |set| EventBody::Commission {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            serials: set,
        })
    }

    pub fn aggregate(&self, case: &Sscc, items: &[String]) -> EventSubmission {
        self.with_items(items.to_vec(), |set| EventBody::Aggregate {
            case: case.clone(),
            contents: set,
        })
    }

    pub fn disaggregate(&self, case: &Sscc) -> EventSubmission {
        self.event(EventBody::Disaggregate { case: case.clone() })
    }

    pub fn ship(
        &self,
        shipment: &str,
        to: &Gln,
        purpose: ShipmentPurpose,
        items: &[String],
    ) -> EventSubmission {
        self.with_items(items.to_vec(), |set| EventBody::Ship {
            shipment: shipment.into(),
            to: to.clone(),
            purpose,
            contents: set,
        })
    }

    pub fn receive(&self, shipment: &str, from: &Gln, items: &[String]) -> EventSubmission {
        self.with_items(items.to_vec(), |set| EventBody::Receive {
            shipment: shipment.into(),
            from: from.clone(),
            received: set,
        })
    }

    pub fn decommission(&self, pack: &PackId, reason: DecommissionReason) -> EventSubmission {
        self.event(EventBody::Decommission {
            pack: pack.clone(),
            reason,
        })
    }

    pub fn reactivate(&self, pack: &PackId) -> EventSubmission {
        self.event(EventBody::Reactivate { pack: pack.clone() })
    }

    pub fn recall(&self, batch: &Batch, reason: &str) -> EventSubmission {
        self.event(EventBody::Recall {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            reason: reason.into(),
            serials: None,
        })
    }

    /// A recall of only the listed serials of `batch`.
    pub fn recall_serials(&self, batch: &Batch, serials: &[&str], reason: &str) -> EventSubmission {
        let serials = serials.iter().map(|s| s.to_string()).collect();
        self.with_items(serials, |set| EventBody::Recall {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            reason: reason.into(),
            serials: Some(set),
        })
    }

    pub fn lift_recall(&self, batch: &Batch, reason: &str) -> EventSubmission {
        self.event(EventBody::LiftRecall {
            gtin: batch.gtin.clone(),
            lot: batch.lot.clone(),
            reason: reason.into(),
        })
    }

    pub fn verify(&self, pack: &PackId) -> EventSubmission {
        self.event(EventBody::Verify {
            pack: pack.clone(),
            lot: None,
            expiry: None,
            location: None,
        })
    }
}

/// A signed submission of `body` by `actor`, signed with `key` (which need not be the
/// actor's: rejection tests sign with the wrong one).
pub fn signed_submission(
    actor: &Gln,
    key: &SecretKey,
    time: Timestamp,
    body: EventBody,
    items: Option<Vec<String>>,
) -> EventSubmission {
    let signed = Event::new(actor.clone(), time, body)
        .sign(key)
        .expect("an event that serialises canonically");
    EventSubmission::new(signed, items)
}
