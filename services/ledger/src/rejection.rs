//! Why the log refuses an event: one code per rule, FMD alert vocabulary
//! where it has a word for it. The codes are part of the API (README lists
//! them); the message says what exactly went wrong.

use serde::Serialize;

/// A stable, machine-readable rejection code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    // -- the envelope
    /// The event is malformed: version, text fields, item list.
    MalformedEvent,
    /// The Ed25519 signature does not verify (strict).
    BadSignature,
    /// The actor GLN is not a registered party.
    UnknownParty,
    /// The signing key is not one of the actor's keys.
    KeyNotAuthorised,
    /// The signing key was not yet valid, or was superseded, at the event's time.
    KeyNotValidAtTime,
    /// The signing key was revoked before the event's time.
    KeyRevoked,
    /// The actor's role may not do this.
    RoleNotAllowed,
    /// The event is dated too far in the future.
    TimeInFuture,
    /// The event is dated further back than the ledger accepts (time-based
    /// rules — expiry, the reactivation window, revocation — would otherwise
    /// be dodged by backdating).
    TimeTooOld,
    // -- registry
    PartyAlreadyRegistered,
    /// The event must come from governance (the genesis key).
    GovernanceOnly,
    /// FMD: product code unknown.
    ProductUnknown,
    ProductAlreadyRegistered,
    /// Only the manufacturer that owns the GTIN may do this.
    NotProductOwner,
    /// FMD A2: batch not found.
    BatchUnknown,
    BatchAlreadyRegistered,
    /// FMD A68: the lot given does not match the pack's batch.
    BatchMismatch,
    /// FMD A52: the expiry given does not match the batch's.
    ExpiryMismatch,
    // -- packs and cases
    /// FMD A3: serial (pack) not found.
    SerialUnknown,
    SerialAlreadyCommissioned,
    /// FMD A7: the pack is already decommissioned.
    AlreadyDecommissioned,
    /// FMD A24: the status change is not allowed (e.g. reactivation rules).
    StatusChangeNotAllowed,
    /// FMD: the batch is expired.
    Expired,
    /// FMD: the batch is recalled.
    Recalled,
    /// The actor is not the item's current custodian.
    NotCustodian,
    /// The item is in transit in a shipment.
    InTransit,
    /// The item is packed in a case and moves only with it.
    Aggregated,
    CaseUnknown,
    CaseAlreadyExists,
    // -- shipments and recalls
    /// No open shipment with this id from that sender to the actor.
    NoOpenShipment,
    ShipmentAlreadyExists,
    /// The receiver of a shipment is not a registered party (or is the sender).
    ReceiverUnknown,
    NotRecalled,
    AlreadyRecalled,
    // -- verification only
    /// The counterfeit-risk score of a verification reached the alert
    /// threshold (a verification alert, never an event rejection).
    SuspectCounterfeit,
}

impl RejectCode {
    /// The code as it appears in JSON.
    pub fn as_str(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// A refused event: its code and a precise message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
}

impl Rejection {
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
