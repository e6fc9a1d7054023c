//! Custody events: everything the log records, and their signed envelope.
//!
//! An [`Event`] names its actor party (GLN), its UTC time and what it
//! touches. Events that touch many items (the serials of a batch, the
//! contents of a case or a shipment) carry only an [`ItemSetRef`] — the
//! RFC 9162-style root of the sorted item list and its length — so every
//! event stays small; the list itself travels beside the event in an
//! [`EventSubmission`] and is checked against the root.
//!
//! The canonical bytes of an event ([`Event::canonical_bytes`]) are its
//! RFC 8785 form (see [`crate::canonical`]); its [`EventId`] is the SHA-256 of
//! those bytes; its signature is Ed25519 over [`SIGNING_DOMAIN`] followed by
//! those bytes. The log entry is the canonical form of the [`SignedEvent`].

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, SubsecRound, Timelike, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::canonical::{to_canonical_bytes, CanonicalError};
use crate::gs1::{Expiry, Gln, Gs1Error, Gtin, Lot, PackId, Serial, Sscc};
use crate::keys::{KeyError, PublicKey, SecretKey, Signature};
use crate::merkle::Hash;

/// The version of the event encoding, carried in every event as `v`.
pub const EVENT_VERSION: u32 = 1;

/// Prefix of every signed event message, so a Pedigree event signature can
/// never be replayed as a signature over anything else.
pub const SIGNING_DOMAIN: &[u8] = b"pedigree/event/v1\n";

/// Longest free-text field (names, reasons) in characters.
pub const MAX_TEXT_LEN: usize = 200;

/// Why an event is malformed (independently of the log's state).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("unsupported event version {0} (this build speaks version {EVENT_VERSION})")]
    Version(u32),
    #[error("{field} must be 1 to {MAX_TEXT_LEN} characters without control characters")]
    Text { field: &'static str },
    #[error("shipment id must be 1 to 64 characters of A-Z a-z 0-9 - _ . :")]
    ShipmentId,
    #[error("location out of range: latitude must be within ±90° and longitude within ±180°")]
    Location,
    #[error("item set must not be empty")]
    EmptyItemSet,
    #[error("the event commits {expected} items but {given} were submitted")]
    ItemCount { expected: u64, given: usize },
    #[error("submitted items do not match the event's item-set root")]
    ItemRoot,
    #[error("items must be sorted ascending without duplicates (item {index} is out of order or repeated)")]
    ItemOrder { index: usize },
    #[error("item {index}: {source}")]
    Item { index: usize, source: Gs1Error },
    #[error("item {index} {item:?} is neither a pack (01)…(21)… nor a case (00)…")]
    ItemSyntax { index: usize, item: String },
    #[error("this event kind carries no item list, but items were submitted")]
    UnexpectedItems,
    #[error("this event kind needs its item list submitted with it")]
    MissingItems,
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    #[error("signature invalid: {0}")]
    Signature(#[from] KeyError),
}

/// A point in time, UTC, with microsecond precision (the precision both
/// databases keep), written as RFC 3339 with `Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Self::from(Utc::now())
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Microseconds since the Unix epoch (how the databases store it).
    pub fn unix_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        DateTime::from_timestamp_micros(micros).map(Self)
    }

    pub fn date(&self) -> NaiveDate {
        self.0.date_naive()
    }
}

impl From<DateTime<Utc>> for Timestamp {
    /// Truncates to whole microseconds. A leap second (which chrono holds as
    /// a second value of 60) is folded into the next second, as the
    /// databases' microsecond columns would do, so every `Timestamp` equals
    /// `Timestamp::from_unix_micros(t.unix_micros())`.
    fn from(time: DateTime<Utc>) -> Self {
        Self(
            DateTime::from_timestamp_micros(time.timestamp_micros())
                .unwrap_or_else(|| time.trunc_subsecs(6)),
        )
    }
}

/// The years RFC 3339 §5.6 can write (`date-fullyear = 4DIGIT`).
const RFC3339_YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

/// Refuses times outside years 0000–9999: chrono would write them with a
/// sign and more digits, which is not RFC 3339 and would not parse back.
impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !RFC3339_YEARS.contains(&self.0.year()) {
            return Err(serde::ser::Error::custom(format!(
                "time {self} is outside years 0000 to 9999 and has no RFC 3339 form"
            )));
        }
        s.collect_str(self)
    }
}

/// Accepts any RFC 3339 time and converts it to UTC microseconds, except a
/// second value of 60: chrono accepts it at the end of any minute, and it
/// would not survive the databases' microsecond columns.
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let time = DateTime::parse_from_rfc3339(&text)
            .map_err(|e| serde::de::Error::custom(format!("time {text:?} is not RFC 3339: {e}")))?;
        if time.nanosecond() >= 1_000_000_000 {
            return Err(serde::de::Error::custom(format!(
                "time {text:?} is a leap second (second 60), which is not accepted"
            )));
        }
        Ok(Self::from(time.with_timezone(&Utc)))
    }
}

/// The 32-byte id of an event: SHA-256 of its canonical bytes. Lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub Hash);

impl EventId {
    pub fn parse(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("event id must be 64 hex digits"))
    }
}

/// What a registered party may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Manufacturer,
    Distributor,
    Pharmacy,
    /// A regulator: governs the registry, recalls, reads every provenance.
    Regulator,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Manufacturer => "manufacturer",
            Role::Distributor => "distributor",
            Role::Pharmacy => "pharmacy",
            Role::Regulator => "regulator",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Role::Manufacturer,
            Role::Distributor,
            Role::Pharmacy,
            Role::Regulator,
        ]
        .into_iter()
        .find(|role| role.as_str() == text)
    }
}

/// A WGS 84 position in millionths of a degree (integers keep the canonical
/// form free of floating point).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    pub lat_e6: i32,
    pub lon_e6: i32,
}

impl GeoPoint {
    pub fn from_degrees(lat: f64, lon: f64) -> Self {
        Self {
            lat_e6: (lat * 1e6).round() as i32,
            lon_e6: (lon * 1e6).round() as i32,
        }
    }

    fn validate(&self) -> Result<(), EventError> {
        // `unsigned_abs`: `i32::MIN.abs()` overflows.
        if self.lat_e6.unsigned_abs() > 90_000_000 || self.lon_e6.unsigned_abs() > 180_000_000 {
            return Err(EventError::Location);
        }
        Ok(())
    }
}

/// Why a pack leaves the supply chain (FMD pack states set by users).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecommissionReason {
    /// Supplied to the public.
    Dispensed,
    Destroyed,
    Stolen,
    Sample,
    Exported,
    Locked,
}

impl DecommissionReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Dispensed => "dispensed",
            Self::Destroyed => "destroyed",
            Self::Stolen => "stolen",
            Self::Sample => "sample",
            Self::Exported => "exported",
            Self::Locked => "locked",
        }
    }

    /// FMD: a pack destroyed, stolen or exported can never be reactivated.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Destroyed | Self::Stolen | Self::Exported)
    }
}

/// Why goods move: a sale down the chain or a return up it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentPurpose {
    #[default]
    Sale,
    /// A saleable return to a supplier (DSCSA) — same custody rules as a sale.
    Return,
}

/// A commitment to a sorted list of items: the RFC 9162 root over the UTF-8
/// bytes of each item (see [`crate::itemset`]) and the number of items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSetRef {
    #[serde(with = "crate::merkle::hex_hash")]
    pub root: Hash,
    pub count: u64,
}

impl ItemSetRef {
    /// Commits to `items`, which must already be in canonical order.
    pub fn commit<T: AsRef<[u8]>>(items: &[T]) -> Self {
        Self {
            root: item_set_root(items),
            count: items.len() as u64,
        }
    }
}

/// A thing that moves: a serialised pack or an SSCC-labelled case.
///
/// Written as its GS1 element string in brackets, `(01)<gtin>(21)<serial>`
/// or `(00)<sscc>`; item lists are sorted by that text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Item {
    Pack(PackId),
    Case(Sscc),
}

impl Item {
    /// Parses the bracketed form; `index` is only for the error message.
    pub fn parse_at(text: &str, index: usize) -> Result<Self, EventError> {
        let syntax = || EventError::ItemSyntax {
            index,
            item: text.to_string(),
        };
        let gs1 = |source| EventError::Item { index, source };
        if let Some(sscc) = text.strip_prefix("(00)") {
            return Sscc::parse(sscc).map(Item::Case).map_err(gs1);
        }
        let rest = text.strip_prefix("(01)").ok_or_else(syntax)?;
        let (gtin, serial) = rest
            .get(..14)
            .zip(rest.get(14..).and_then(|s| s.strip_prefix("(21)")))
            .ok_or_else(syntax)?;
        Ok(Item::Pack(PackId {
            gtin: Gtin::parse(gtin).map_err(gs1)?,
            serial: Serial::parse(serial).map_err(gs1)?,
        }))
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Pack(pack) => write!(f, "(01){}(21){}", pack.gtin, pack.serial),
            Item::Case(sscc) => write!(f, "(00){sscc}"),
        }
    }
}

impl Serialize for Item {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse_at(&text, 0).map_err(serde::de::Error::custom)
    }
}

/// What an event does. Serialised with a `kind` tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventBody {
    /// Governance registers a trading partner with its first key.
    RegisterParty {
        party: Gln,
        name: String,
        role: Role,
        key: PublicKey,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<GeoPoint>,
    },
    /// Governance adds a key for a party; from `time` it replaces the old keys.
    RotateKey { party: Gln, key: PublicKey },
    /// Governance revokes a key: events it signs dated at or after
    /// `effective` are refused (earlier ones stay valid).
    RevokeKey {
        party: Gln,
        key: PublicKey,
        effective: Timestamp,
        reason: String,
    },
    /// A manufacturer claims a GTIN.
    RegisterProduct { gtin: Gtin, name: String },
    /// The GTIN's owner registers a batch.
    RegisterBatch {
        gtin: Gtin,
        lot: Lot,
        expiry: Expiry,
        manufactured: NaiveDate,
    },
    /// The GTIN's owner commissions serials of a batch; items are the serials.
    Commission {
        gtin: Gtin,
        lot: Lot,
        serials: ItemSetRef,
    },
    /// Packs or cases are packed into a case; items are [`Item`]s.
    Aggregate { case: Sscc, contents: ItemSetRef },
    /// A case is opened; its contents become loose in the custodian's hands.
    Disaggregate { case: Sscc },
    /// Goods leave the actor for `to`; items are the top-level [`Item`]s.
    Ship {
        shipment: String,
        to: Gln,
        #[serde(default)]
        purpose: ShipmentPurpose,
        contents: ItemSetRef,
    },
    /// The receiver confirms a shipment; items are what actually arrived
    /// (differences from what was shipped are recorded as discrepancies).
    Receive {
        shipment: String,
        from: Gln,
        received: ItemSetRef,
    },
    /// A pack leaves the supply chain (FMD decommission).
    Decommission {
        pack: PackId,
        reason: DecommissionReason,
    },
    /// The party that decommissioned a pack undoes it (within 10 days).
    Reactivate { pack: PackId },
    /// A batch is recalled by its manufacturer or a regulator: the whole
    /// batch, or only the serials of the batch that `serials` commits to
    /// (absent for a whole batch, so batch recalls encode as before).
    Recall {
        gtin: Gtin,
        lot: Lot,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serials: Option<ItemSetRef>,
    },
    /// A recall is lifted (by the party that issued it, or a regulator).
    LiftRecall {
        gtin: Gtin,
        lot: Lot,
        reason: String,
    },
    /// A pack was scanned and checked (an observation; changes no state).
    Verify {
        pack: PackId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lot: Option<Lot>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expiry: Option<Expiry>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<GeoPoint>,
    },
}

/// What the submitted item list of an event must contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    Serials,
    Items,
}

/// An item list checked against its event's commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemList {
    Serials(Vec<Serial>),
    Items(Vec<Item>),
}

impl EventBody {
    /// The event kind's name as written in the `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RegisterParty { .. } => "register_party",
            Self::RotateKey { .. } => "rotate_key",
            Self::RevokeKey { .. } => "revoke_key",
            Self::RegisterProduct { .. } => "register_product",
            Self::RegisterBatch { .. } => "register_batch",
            Self::Commission { .. } => "commission",
            Self::Aggregate { .. } => "aggregate",
            Self::Disaggregate { .. } => "disaggregate",
            Self::Ship { .. } => "ship",
            Self::Receive { .. } => "receive",
            Self::Decommission { .. } => "decommission",
            Self::Reactivate { .. } => "reactivate",
            Self::Recall { .. } => "recall",
            Self::LiftRecall { .. } => "lift_recall",
            Self::Verify { .. } => "verify",
        }
    }

    /// The item-set commitment this event carries, and what its items are.
    pub fn item_set(&self) -> Option<(ItemKind, &ItemSetRef)> {
        match self {
            Self::Commission { serials, .. } => Some((ItemKind::Serials, serials)),
            Self::Aggregate { contents, .. } | Self::Ship { contents, .. } => {
                Some((ItemKind::Items, contents))
            }
            Self::Receive { received, .. } => Some((ItemKind::Items, received)),
            Self::Recall {
                serials: Some(serials),
                ..
            } => Some((ItemKind::Serials, serials)),
            _ => None,
        }
    }
}

/// One custody event. `v` is [`EVENT_VERSION`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub v: u32,
    pub actor: Gln,
    pub time: Timestamp,
    pub body: EventBody,
}

impl Event {
    pub fn new(actor: Gln, time: Timestamp, body: EventBody) -> Self {
        Self {
            v: EVENT_VERSION,
            actor,
            time,
            body,
        }
    }

    pub fn canonical_bytes(&self) -> Result<Vec<u8>, EventError> {
        Ok(to_canonical_bytes(self)?)
    }

    pub fn id(&self) -> Result<EventId, EventError> {
        Ok(EventId(Sha256::digest(self.canonical_bytes()?).into()))
    }

    /// The exact bytes an Ed25519 signature covers.
    pub fn signing_message(&self) -> Result<Vec<u8>, EventError> {
        let mut message = SIGNING_DOMAIN.to_vec();
        message.extend(self.canonical_bytes()?);
        Ok(message)
    }

    /// Checks what needs no log state: version, text fields, ranges.
    pub fn validate(&self) -> Result<(), EventError> {
        if self.v != EVENT_VERSION {
            return Err(EventError::Version(self.v));
        }
        match &self.body {
            EventBody::RegisterParty { name, location, .. } => {
                check_text("name", name)?;
                location.as_ref().map_or(Ok(()), GeoPoint::validate)
            }
            EventBody::RegisterProduct { name, .. } => check_text("name", name),
            EventBody::RevokeKey { reason, .. } | EventBody::LiftRecall { reason, .. } => {
                check_text("reason", reason)
            }
            EventBody::Recall {
                reason, serials, ..
            } => {
                check_text("reason", reason)?;
                serials.as_ref().map_or(Ok(()), check_nonempty)
            }
            // A receipt may be empty: nothing of the shipment arrived, and
            // every shipped item is recorded as missing.
            EventBody::Receive { shipment, .. } => check_shipment_id(shipment),
            EventBody::Ship {
                shipment,
                contents: set,
                ..
            } => {
                check_shipment_id(shipment)?;
                check_nonempty(set)
            }
            EventBody::Commission { serials: set, .. }
            | EventBody::Aggregate { contents: set, .. } => check_nonempty(set),
            EventBody::Verify { location, .. } => {
                location.as_ref().map_or(Ok(()), GeoPoint::validate)
            }
            EventBody::RotateKey { .. }
            | EventBody::RegisterBatch { .. }
            | EventBody::Disaggregate { .. }
            | EventBody::Decommission { .. }
            | EventBody::Reactivate { .. } => Ok(()),
        }
    }

    /// Signs the event with `key`.
    pub fn sign(self, key: &SecretKey) -> Result<SignedEvent, EventError> {
        let signature = key.sign(&self.signing_message()?);
        Ok(SignedEvent {
            event: self,
            signer: key.public_key(),
            signature,
        })
    }
}

fn check_text(field: &'static str, text: &str) -> Result<(), EventError> {
    let len = text.chars().count();
    if len == 0 || len > MAX_TEXT_LEN || text.chars().any(char::is_control) {
        return Err(EventError::Text { field });
    }
    Ok(())
}

fn check_shipment_id(id: &str) -> Result<(), EventError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then_some(()).ok_or(EventError::ShipmentId)
}

fn check_nonempty(set: &ItemSetRef) -> Result<(), EventError> {
    (set.count > 0)
        .then_some(())
        .ok_or(EventError::EmptyItemSet)
}

/// An event with its signer's public key and signature. Its canonical form
/// is the log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEvent {
    pub event: Event,
    pub signer: PublicKey,
    pub signature: Signature,
}

impl SignedEvent {
    pub fn id(&self) -> Result<EventId, EventError> {
        self.event.id()
    }

    /// Strict Ed25519 verification against the embedded signer key. Whether
    /// that key belongs to the actor is the log's question, not this one.
    pub fn verify_signature(&self) -> Result<(), EventError> {
        Ok(self
            .signer
            .verify(&self.event.signing_message()?, &self.signature)?)
    }

    /// The log entry: canonical bytes of the whole signed event.
    pub fn entry_bytes(&self) -> Result<Vec<u8>, EventError> {
        Ok(to_canonical_bytes(self)?)
    }

    /// Every encoding the log needs, with the event canonicalised once:
    /// the entry is assembled around the event's canonical bytes (keys
    /// `event` < `signature` < `signer` in order; base64 needs no escaping),
    /// which equals [`SignedEvent::entry_bytes`] (tested).
    pub fn encode(&self) -> Result<EncodedEvent, EventError> {
        let event = self.event.canonical_bytes()?;
        let mut entry = Vec::with_capacity(event.len() + 200);
        entry.extend_from_slice(b"{\"event\":");
        entry.extend_from_slice(&event);
        entry.extend_from_slice(
            format!(
                ",\"signature\":\"{}\",\"signer\":\"{}\"}}",
                self.signature, self.signer
            )
            .as_bytes(),
        );
        let mut signing_message = SIGNING_DOMAIN.to_vec();
        signing_message.extend_from_slice(&event);
        Ok(EncodedEvent {
            id: EventId(Sha256::digest(&event).into()),
            signing_message,
            entry,
        })
    }

    /// Decodes a log entry, refusing bytes that are not exactly canonical
    /// (so one event has exactly one entry encoding).
    pub fn from_entry_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
        let signed: SignedEvent =
            serde_json::from_slice(bytes).map_err(|e| EntryError::Decode(e.to_string()))?;
        if signed
            .entry_bytes()
            .map_err(|e| EntryError::Decode(e.to_string()))?
            != bytes
        {
            return Err(EntryError::NotCanonical);
        }
        Ok(signed)
    }
}

/// A signed event's id, signed message and log entry, computed together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEvent {
    pub id: EventId,
    pub signing_message: Vec<u8>,
    pub entry: Vec<u8>,
}

/// Why bytes are not a valid log entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    #[error("entry is not a signed event: {0}")]
    Decode(String),
    #[error("entry is not in canonical form")]
    NotCanonical,
}

/// What a client submits to the log: a signed event and, for events that
/// commit to an item set, the items themselves (sorted, as committed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSubmission {
    #[serde(flatten)]
    pub signed: SignedEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<String>>,
}

impl EventSubmission {
    /// Pairs a signed event with its item list, taken as given: the items
    /// must already be in canonical order ([`canonical_item_order`]), which
    /// [`EventSubmission::checked_items`] checks rather than repairs.
    pub fn new(signed: SignedEvent, items: Option<Vec<String>>) -> Self {
        Self { signed, items }
    }

    /// Checks the submitted items against the event's commitment: order,
    /// count, root, and each item's syntax.
    pub fn checked_items(&self) -> Result<Option<ItemList>, EventError> {
        let commitment = self.signed.event.body.item_set();
        let (kind, set, items) = match (commitment, &self.items) {
            (None, None) => return Ok(None),
            (None, Some(_)) => return Err(EventError::UnexpectedItems),
            (Some(_), None) => return Err(EventError::MissingItems),
            (Some((kind, set)), Some(items)) => (kind, set, items),
        };
        if let Some(index) = items.windows(2).position(|w| w[0] >= w[1]) {
            return Err(EventError::ItemOrder { index: index + 1 });
        }
        if set.count != items.len() as u64 {
            return Err(EventError::ItemCount {
                expected: set.count,
                given: items.len(),
            });
        }
        let list = match kind {
            ItemKind::Serials => ItemList::Serials(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, s)| {
                        Serial::parse(s).map_err(|source| EventError::Item { index, source })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            ItemKind::Items => ItemList::Items(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, s)| Item::parse_at(s, index))
                    .collect::<Result<_, _>>()?,
            ),
        };
        if !bool::from(item_set_root(items).ct_eq(&set.root)) {
            return Err(EventError::ItemRoot);
        }
        Ok(Some(list))
    }
}

/// The root of an item set: the RFC 9162 tree head over the items, equal to
/// [`crate::itemset::ItemSet`]'s rs_merkle root (tested there) but computed
/// without keeping the tree, so committing a million serials stays cheap.
pub fn item_set_root<T: AsRef<[u8]>>(items: &[T]) -> Hash {
    let leaves: Vec<Hash> = items
        .iter()
        .map(|item| crate::merkle::leaf_hash(item.as_ref()))
        .collect();
    crate::merkle::root_from_leaf_hashes(&leaves)
}

/// Sorts item texts into the canonical (byte) order and removes duplicates,
/// as [`ItemSetRef::commit`] and [`EventSubmission::checked_items`] expect.
pub fn canonical_item_order(mut items: Vec<String>) -> Vec<String> {
    items.sort_unstable();
    items.dedup();
    items
}
