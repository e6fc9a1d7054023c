//! The custody rules, and the state they derive from the log.
//!
//! [`apply`] checks one signed event against the current state and, if it
//! is allowed, writes the state change. It is the only code that writes the
//! state tables, and it runs both when an event is appended and when
//! `pedigree audit` replays the log into a scratch database — so the stored
//! state is, by construction, a function of the log.
//!
//! The rules are modelled on the EU FMD repositories and the US DSCSA; each
//! refusal carries a [`RejectCode`]. Callers run `apply` inside a database
//! transaction (a savepoint per event), so a refused event leaves no trace.

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use pedigree_schema::event::{
    DecommissionReason, EventBody, GeoPoint, Item, ItemList, Role, SignedEvent, Timestamp,
};
use pedigree_schema::gs1::{Expiry, Gln, Gtin, Lot, PackId, Serial, Sscc};
use pedigree_schema::keys::PublicKey;
use subtle::ConstantTimeEq;

use crate::db::schema::{
    batches, cases, item_history, pack_recalls, packs, parties, party_keys, products,
    shipment_discrepancies, shipments,
};
use crate::db::DbConnection;
use crate::rejection::{RejectCode, Rejection};

/// How far an event's time may run ahead of the ledger's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);
/// FMD: a decommissioned pack may be reactivated within this long.
pub const REACTIVATION_WINDOW: Duration = Duration::days(10);
/// Largest `IN (…)` list sent to the database in one statement.
const CHUNK: usize = 500;

pub mod status {
    pub const ACTIVE: &str = "active";
    pub const IN_TRANSIT: &str = "in_transit";
    pub const DECOMMISSIONED: &str = "decommissioned";
    pub const OPENED: &str = "opened";
    pub const OPEN: &str = "open";
    pub const RECEIVED: &str = "received";
    pub const MISSING: &str = "missing";
    pub const EXTRA: &str = "extra";
    pub const SUPERSEDED: &str = "superseded";
    pub const REVOKED: &str = "revoked";
}

/// What the rules know besides the state tables.
#[derive(Clone, Copy, Debug)]
pub struct RuleContext {
    /// The governance (regulator) key named by the genesis configuration.
    pub governance_key: PublicKey,
    /// The ledger's clock at append time. `None` when replaying (audit):
    /// the time checks were made when the event was appended.
    pub clock: Option<Clock>,
}

/// The ledger's clock and the window of event times it accepts around it.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now: Timestamp,
    /// How far behind `now` an event may be dated (late receipts are normal;
    /// backdating past this would dodge the time-based rules).
    pub max_event_age: Duration,
}

/// Why [`apply`] did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

type Result<T, E = ApplyError> = std::result::Result<T, E>;

fn reject<T>(code: RejectCode, message: impl Into<String>) -> Result<T> {
    Err(ApplyError::Rejected(Rejection::new(code, message)))
}

/// Checks `signed` (log position `idx`) against the state and applies it.
/// Returns the items (packs and cases, in bracketed element-string form)
/// whose provenance this event belongs to.
pub fn apply(
    conn: &mut DbConnection,
    idx: i64,
    signed: &SignedEvent,
    items: Option<&ItemList>,
    ctx: &RuleContext,
    cache: &mut AuthCache,
) -> Result<Vec<String>> {
    let event = &signed.event;
    if let Some(Clock { now, max_event_age }) = ctx.clock {
        if event.time.as_datetime() > now.as_datetime() + MAX_CLOCK_SKEW {
            return reject(
                RejectCode::TimeInFuture,
                format!(
                    "event time {} is more than 5 minutes after the ledger's clock ({now})",
                    event.time
                ),
            );
        }
        if event.time.as_datetime() < now.as_datetime() - max_event_age {
            return reject(
                RejectCode::TimeTooOld,
                format!(
                    "event time {} is more than {} hours before the ledger's clock ({now})",
                    event.time,
                    max_event_age.num_hours()
                ),
            );
        }
    }
    let role = authorise(conn, signed, ctx, cache)?;
    let e = Effect {
        conn,
        idx,
        actor: event.actor.as_str(),
        role,
        time: event.time,
    };
    let serials = || match items {
        Some(ItemList::Serials(serials)) => Ok(serials.as_slice()),
        _ => reject(
            RejectCode::MalformedEvent,
            "this event needs a list of serials",
        ),
    };
    let things = || match items {
        Some(ItemList::Items(items)) => Ok(items.as_slice()),
        _ => reject(
            RejectCode::MalformedEvent,
            "this event needs a list of items",
        ),
    };
    let touched = match &event.body {
        EventBody::RegisterParty {
            party,
            name,
            role,
            key,
            location,
        } => e.register_party(party, name, *role, key, location.as_ref()),
        EventBody::RotateKey { party, key } => e.rotate_key(party, key),
        EventBody::RevokeKey {
            party,
            key,
            effective,
            ..
        } => e.revoke_key(party, key, *effective),
        EventBody::RegisterProduct { gtin, name } => e.register_product(gtin, name),
        EventBody::RegisterBatch {
            gtin,
            lot,
            expiry,
            manufactured,
        } => e.register_batch(gtin, lot, expiry, *manufactured),
        EventBody::Commission { gtin, lot, .. } => e.commission(gtin, lot, serials()?),
        EventBody::Aggregate { case, .. } => e.aggregate(case, things()?),
        EventBody::Disaggregate { case } => e.disaggregate(case),
        EventBody::Ship {
            shipment,
            to,
            purpose,
            ..
        } => e.ship(shipment, to, purpose_str(*purpose), things()?),
        EventBody::Receive { shipment, from, .. } => e.receive(shipment, from, things()?),
        EventBody::Decommission { pack, reason } => e.decommission(pack, *reason),
        EventBody::Reactivate { pack } => e.reactivate(pack),
        EventBody::Recall {
            gtin,
            lot,
            reason,
            serials: listed,
        } => match listed {
            None => e.recall(gtin, lot, reason),
            Some(_) => e.recall_serials(gtin, lot, serials()?),
        },
        EventBody::LiftRecall { gtin, lot, .. } => e.lift_recall(gtin, lot),
        EventBody::Verify { pack, .. } => Ok(vec![pack_item(pack)]),
    }?;
    if is_governance_kind(&event.body) {
        cache.clear();
    }
    Ok(touched)
}

/// Whether [`apply`] may write state for an event of this kind. Verify
/// events only read: a refused one has nothing to roll back, so the writer
/// runs them without a savepoint.
pub fn rules_write_state(body: &EventBody) -> bool {
    !matches!(body, EventBody::Verify { .. })
}

fn purpose_str(purpose: pedigree_schema::event::ShipmentPurpose) -> &'static str {
    match purpose {
        pedigree_schema::event::ShipmentPurpose::Sale => "sale",
        pedigree_schema::event::ShipmentPurpose::Return => "return",
    }
}

pub fn pack_item(pack: &PackId) -> String {
    Item::Pack(pack.clone()).to_string()
}

fn pack_row_item(row: &PackRow) -> String {
    format!("(01){}(21){}", row.gtin, row.serial)
}

pub fn case_item(sscc: &Sscc) -> String {
    Item::Case(sscc.clone()).to_string()
}

fn is_governance_kind(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::RegisterParty { .. } | EventBody::RotateKey { .. } | EventBody::RevokeKey { .. }
    )
}

/// Is the signer the actor, with a key valid at the event's time, in a role
/// that may do this? Returns the actor's role.
/// A stored key: its owner, validity and why it ended.
type KeyRecord = (String, i64, Option<i64>, Option<String>);

/// What authorisation reads — parties' roles and keys — cached for one
/// commit group, so a group of events by the same few parties reads each
/// only once. Only governance events change these tables; [`apply`] clears
/// the cache after each one it accepts.
#[derive(Default)]
pub struct AuthCache {
    roles: HashMap<String, Option<String>>,
    keys: HashMap<[u8; 32], Option<KeyRecord>>,
}

impl AuthCache {
    fn role(&mut self, conn: &mut DbConnection, gln: &str) -> QueryResult<Option<String>> {
        if let Some(role) = self.roles.get(gln) {
            return Ok(role.clone());
        }
        let role: Option<String> = parties::table
            .find(gln)
            .select(parties::role)
            .first(conn)
            .optional()?;
        self.roles.insert(gln.to_string(), role.clone());
        Ok(role)
    }

    fn key(&mut self, conn: &mut DbConnection, key: &PublicKey) -> QueryResult<Option<KeyRecord>> {
        if let Some(record) = self.keys.get(key.as_bytes()) {
            return Ok(record.clone());
        }
        let record: Option<KeyRecord> = party_keys::table
            .find(key.as_bytes().to_vec())
            .select((
                party_keys::gln,
                party_keys::valid_from,
                party_keys::valid_until,
                party_keys::end_reason,
            ))
            .first(conn)
            .optional()?;
        self.keys.insert(*key.as_bytes(), record.clone());
        Ok(record)
    }

    fn clear(&mut self) {
        self.roles.clear();
        self.keys.clear();
    }
}

fn authorise(
    conn: &mut DbConnection,
    signed: &SignedEvent,
    ctx: &RuleContext,
    cache: &mut AuthCache,
) -> Result<Role> {
    let event = &signed.event;
    let actor = event.actor.as_str();
    let is_governance_signer: bool = signed
        .signer
        .as_bytes()
        .ct_eq(ctx.governance_key.as_bytes())
        .into();
    if is_governance_kind(&event.body) && !is_governance_signer {
        return reject(
            RejectCode::GovernanceOnly,
            format!(
                "{} events must be signed by the governance key",
                event.body.kind()
            ),
        );
    }
    let Some(role) = cache.role(conn, actor)? else {
        // Genesis: the governance party registers itself with its own key.
        let registers_itself = matches!(&event.body,
            EventBody::RegisterParty { party, role: Role::Regulator, key, .. }
                if party.as_str() == actor && key == &ctx.governance_key);
        if is_governance_signer && registers_itself {
            return Ok(Role::Regulator);
        }
        return reject(
            RejectCode::UnknownParty,
            format!("party {actor} is not registered"),
        );
    };
    let key = cache.key(conn, &signed.signer)?;
    let Some((key_owner, valid_from, valid_until, end_reason)) = key.filter(|k| k.0 == actor)
    else {
        return reject(
            RejectCode::KeyNotAuthorised,
            format!("key {} is not a key of party {actor}", signed.signer),
        );
    };
    debug_assert_eq!(key_owner, actor);
    let at = event.time.unix_micros();
    if at < valid_from {
        return reject(
            RejectCode::KeyNotValidAtTime,
            format!("the key only became valid at {}", fmt_micros(valid_from)),
        );
    }
    if let Some(until) = valid_until.filter(|until| at >= *until) {
        let code = if end_reason.as_deref() == Some(status::REVOKED) {
            RejectCode::KeyRevoked
        } else {
            RejectCode::KeyNotValidAtTime
        };
        return reject(
            code,
            format!("the key stopped being valid at {}", fmt_micros(until)),
        );
    }
    let role = Role::parse(&role).ok_or_else(|| {
        ApplyError::Database(diesel::result::Error::DeserializationError(
            format!("unknown role {role:?} stored for {actor}").into(),
        ))
    })?;
    check_role(role, &event.body)?;
    Ok(role)
}

fn check_role(role: Role, body: &EventBody) -> Result<()> {
    use Role::*;
    let allowed = match body {
        EventBody::RegisterParty { .. }
        | EventBody::RotateKey { .. }
        | EventBody::RevokeKey { .. } => role == Regulator,
        EventBody::RegisterProduct { .. }
        | EventBody::RegisterBatch { .. }
        | EventBody::Commission { .. } => role == Manufacturer,
        EventBody::Aggregate { .. }
        | EventBody::Disaggregate { .. }
        | EventBody::Ship { .. }
        | EventBody::Receive { .. }
        | EventBody::Reactivate { .. } => role != Regulator,
        EventBody::Decommission { reason, .. } => match reason {
            DecommissionReason::Dispensed => role == Pharmacy,
            _ => role != Regulator,
        },
        EventBody::Recall { .. } | EventBody::LiftRecall { .. } => {
            matches!(role, Manufacturer | Regulator)
        }
        EventBody::Verify { .. } => true,
    };
    if allowed {
        Ok(())
    } else {
        reject(
            RejectCode::RoleNotAllowed,
            format!(
                "a {} may not {}",
                role.as_str(),
                body.kind().replace('_', " ")
            ),
        )
    }
}

fn fmt_micros(micros: i64) -> String {
    Timestamp::from_unix_micros(micros).map_or_else(|| micros.to_string(), |t| t.to_string())
}

/// A stored pack.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, PartialEq, Eq, PartialOrd, Ord)]
#[diesel(table_name = packs)]
pub struct PackRow {
    pub gtin: String,
    pub serial: String,
    pub lot: String,
    pub status: String,
    pub custodian: String,
    pub case_sscc: Option<String>,
    pub shipment_sender: Option<String>,
    pub shipment_id: Option<String>,
    pub decommission_reason: Option<String>,
    pub decommissioned_by: Option<String>,
    pub decommissioned_at: Option<i64>,
    pub commissioned_idx: i64,
    pub last_idx: i64,
}

/// A stored case (SSCC).
#[derive(Clone, Debug, Queryable, Selectable, Insertable, PartialEq, Eq, PartialOrd, Ord)]
#[diesel(table_name = cases)]
pub struct CaseRow {
    pub sscc: String,
    pub status: String,
    pub custodian: String,
    pub parent_sscc: Option<String>,
    pub shipment_sender: Option<String>,
    pub shipment_id: Option<String>,
    pub packed_idx: i64,
    pub last_idx: i64,
}

/// A stored batch.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, PartialEq, Eq, PartialOrd, Ord)]
#[diesel(table_name = batches)]
pub struct BatchRow {
    pub gtin: String,
    pub lot: String,
    pub expiry: String,
    pub manufactured: String,
    pub recalled_by: Option<String>,
    pub recall_reason: Option<String>,
    pub recall_idx: Option<i64>,
    pub registered_idx: i64,
}

impl BatchRow {
    /// The last day the batch may be used, if its stored expiry parses.
    pub fn last_valid_day(&self) -> Option<NaiveDate> {
        Expiry::parse(&self.expiry).ok().map(|e| e.last_valid_day())
    }

    /// FMD: a pack is expired the day after its expiry date.
    pub fn is_expired_on(&self, date: NaiveDate) -> bool {
        Expiry::parse(&self.expiry).is_ok_and(|e| e.is_expired_on(date))
    }
}

pub fn load_batch(conn: &mut DbConnection, gtin: &str, lot: &str) -> QueryResult<Option<BatchRow>> {
    batches::table
        .find((gtin, lot))
        .select(BatchRow::as_select())
        .first(conn)
        .optional()
}

pub fn load_pack(conn: &mut DbConnection, pack: &PackId) -> QueryResult<Option<PackRow>> {
    packs::table
        .find((pack.gtin.as_str(), pack.serial.as_str()))
        .select(PackRow::as_select())
        .first(conn)
        .optional()
}

/// Loads the given packs, keyed by `(gtin, serial)`, in chunked queries.
fn load_packs(
    conn: &mut DbConnection,
    ids: &[&PackId],
) -> QueryResult<HashMap<(String, String), PackRow>> {
    let mut by_gtin: HashMap<&str, Vec<&str>> = HashMap::new();
    for id in ids {
        by_gtin
            .entry(id.gtin.as_str())
            .or_default()
            .push(id.serial.as_str());
    }
    let mut found = HashMap::new();
    for (gtin, serials) in by_gtin {
        for chunk in serials.chunks(CHUNK) {
            let rows: Vec<PackRow> = packs::table
                .filter(packs::gtin.eq(gtin))
                .filter(packs::serial.eq_any(chunk))
                .select(PackRow::as_select())
                .load(conn)?;
            found.extend(
                rows.into_iter()
                    .map(|r| ((r.gtin.clone(), r.serial.clone()), r)),
            );
        }
    }
    Ok(found)
}

fn load_cases(conn: &mut DbConnection, ids: &[&str]) -> QueryResult<HashMap<String, CaseRow>> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<CaseRow> = cases::table
            .filter(cases::sscc.eq_any(chunk))
            .select(CaseRow::as_select())
            .load(conn)?;
        found.extend(rows.into_iter().map(|r| (r.sscc.clone(), r)));
    }
    Ok(found)
}

/// Every case nested (at any depth) in `roots`, the roots included.
fn case_closure(conn: &mut DbConnection, roots: Vec<String>) -> QueryResult<Vec<String>> {
    let mut all = roots.clone();
    let mut frontier = roots;
    while !frontier.is_empty() {
        let mut children = Vec::new();
        for chunk in frontier.chunks(CHUNK) {
            children.extend(
                cases::table
                    .filter(cases::parent_sscc.eq_any(chunk))
                    .select(cases::sscc)
                    .load::<String>(conn)?,
            );
        }
        all.extend(children.iter().cloned());
        frontier = children;
    }
    Ok(all)
}

/// The packs directly inside any of `cases`.
fn packs_in_cases(conn: &mut DbConnection, case_ids: &[String]) -> QueryResult<Vec<PackRow>> {
    let mut found = Vec::new();
    for chunk in case_ids.chunks(CHUNK) {
        found.extend(
            packs::table
                .filter(packs::case_sscc.eq_any(chunk))
                .select(PackRow::as_select())
                .load(conn)?,
        );
    }
    Ok(found)
}

/// The packs and the cases among `items`.
fn split_items(items: &[Item]) -> (Vec<&PackId>, Vec<&str>) {
    let mut packs = Vec::new();
    let mut cases = Vec::new();
    for item in items {
        match item {
            Item::Pack(pack) => packs.push(pack),
            Item::Case(sscc) => cases.push(sscc.as_str()),
        }
    }
    (packs, cases)
}

/// The state change of one event, with what it needs to know.
struct Effect<'c> {
    conn: &'c mut DbConnection,
    idx: i64,
    actor: &'c str,
    role: Role,
    time: Timestamp,
}

/// Items that moved as a whole: top-level items, plus the nested content
/// of any case among them.
struct Consignment {
    packs: Vec<PackRow>,
    cases: Vec<CaseRow>,
    /// Every case nested in the consignment's cases (and those cases).
    nested_cases: Vec<String>,
    /// Every pack inside those cases.
    nested_packs: Vec<PackRow>,
}

impl Effect<'_> {
    fn register_party(
        mut self,
        party: &Gln,
        name: &str,
        role: Role,
        key: &PublicKey,
        location: Option<&GeoPoint>,
    ) -> Result<Vec<String>> {
        let exists: i64 = parties::table
            .filter(parties::gln.eq(party.as_str()))
            .count()
            .get_result(self.conn)?;
        if exists > 0 {
            return reject(
                RejectCode::PartyAlreadyRegistered,
                format!("party {party} is already registered"),
            );
        }
        self.ensure_key_is_new(key)?;
        diesel::insert_into(parties::table)
            .values((
                parties::gln.eq(party.as_str()),
                parties::name.eq(name),
                parties::role.eq(role.as_str()),
                parties::lat_e6.eq(location.map(|l| l.lat_e6)),
                parties::lon_e6.eq(location.map(|l| l.lon_e6)),
                parties::registered_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        self.insert_key(party, key)?;
        Ok(Vec::new())
    }

    fn ensure_key_is_new(&mut self, key: &PublicKey) -> Result<()> {
        let exists: i64 = party_keys::table
            .filter(party_keys::public_key.eq(key.as_bytes().to_vec()))
            .count()
            .get_result(self.conn)?;
        if exists > 0 {
            return reject(
                RejectCode::KeyNotAuthorised,
                format!("key {key} is already registered; a key belongs to one party once"),
            );
        }
        Ok(())
    }

    fn insert_key(self, party: &Gln, key: &PublicKey) -> Result<Vec<String>> {
        diesel::insert_into(party_keys::table)
            .values((
                party_keys::public_key.eq(key.as_bytes().to_vec()),
                party_keys::gln.eq(party.as_str()),
                party_keys::valid_from.eq(self.time.unix_micros()),
                party_keys::added_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        Ok(Vec::new())
    }

    fn require_party(&mut self, party: &Gln) -> Result<String> {
        let role: Option<String> = parties::table
            .find(party.as_str())
            .select(parties::role)
            .first(self.conn)
            .optional()?;
        role.ok_or_else(|| {
            Rejection::new(
                RejectCode::UnknownParty,
                format!("party {party} is not registered"),
            )
            .into()
        })
    }

    fn rotate_key(mut self, party: &Gln, key: &PublicKey) -> Result<Vec<String>> {
        self.require_party(party)?;
        self.ensure_key_is_new(key)?;
        let at = self.time.unix_micros();
        diesel::update(
            party_keys::table
                .filter(party_keys::gln.eq(party.as_str()))
                .filter(party_keys::valid_until.is_null()),
        )
        .set((
            party_keys::valid_until.eq(at),
            party_keys::ended_idx.eq(self.idx),
            party_keys::end_reason.eq(status::SUPERSEDED),
        ))
        .execute(self.conn)?;
        self.insert_key(party, key)
    }

    fn revoke_key(
        mut self,
        party: &Gln,
        key: &PublicKey,
        effective: Timestamp,
    ) -> Result<Vec<String>> {
        self.require_party(party)?;
        let row: Option<Option<i64>> = party_keys::table
            .find(key.as_bytes().to_vec())
            .filter(party_keys::gln.eq(party.as_str()))
            .select(party_keys::valid_until)
            .first(self.conn)
            .optional()?;
        let Some(valid_until) = row else {
            return reject(
                RejectCode::KeyNotAuthorised,
                format!("key {key} is not a key of party {party}"),
            );
        };
        let until = valid_until.map_or(effective.unix_micros(), |u| u.min(effective.unix_micros()));
        // The reason stays in the log entry; the state keeps the marker
        // that `authorise` reads.
        diesel::update(party_keys::table.find(key.as_bytes().to_vec()))
            .set((
                party_keys::valid_until.eq(until),
                party_keys::ended_idx.eq(self.idx),
                party_keys::end_reason.eq(status::REVOKED),
            ))
            .execute(self.conn)?;
        Ok(Vec::new())
    }

    fn product_owner(&mut self, gtin: &Gtin) -> Result<String> {
        let owner: Option<String> = products::table
            .find(gtin.as_str())
            .select(products::owner)
            .first(self.conn)
            .optional()?;
        owner.ok_or_else(|| {
            Rejection::new(
                RejectCode::ProductUnknown,
                format!("product {gtin} is not registered"),
            )
            .into()
        })
    }

    fn require_owner(&mut self, gtin: &Gtin) -> Result<()> {
        let owner = self.product_owner(gtin)?;
        if owner != self.actor {
            return reject(
                RejectCode::NotProductOwner,
                format!("product {gtin} belongs to {owner}, not {}", self.actor),
            );
        }
        Ok(())
    }

    fn register_product(mut self, gtin: &Gtin, name: &str) -> Result<Vec<String>> {
        if let Ok(owner) = self.product_owner(gtin) {
            return reject(
                RejectCode::ProductAlreadyRegistered,
                format!("product {gtin} is already registered by {owner}"),
            );
        }
        diesel::insert_into(products::table)
            .values((
                products::gtin.eq(gtin.as_str()),
                products::owner.eq(self.actor),
                products::name.eq(name),
                products::registered_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        Ok(Vec::new())
    }

    fn require_batch(&mut self, gtin: &Gtin, lot: &Lot) -> Result<BatchRow> {
        load_batch(self.conn, gtin.as_str(), lot.as_str())?.ok_or_else(|| {
            Rejection::new(
                RejectCode::BatchUnknown,
                format!("batch {lot} of {gtin} is not registered"),
            )
            .into()
        })
    }

    fn register_batch(
        mut self,
        gtin: &Gtin,
        lot: &Lot,
        expiry: &Expiry,
        manufactured: NaiveDate,
    ) -> Result<Vec<String>> {
        self.require_owner(gtin)?;
        if load_batch(self.conn, gtin.as_str(), lot.as_str())?.is_some() {
            return reject(
                RejectCode::BatchAlreadyRegistered,
                format!("batch {lot} of {gtin} is already registered"),
            );
        }
        diesel::insert_into(batches::table)
            .values(BatchRow {
                gtin: gtin.to_string(),
                lot: lot.to_string(),
                expiry: expiry.to_string(),
                manufactured: manufactured.to_string(),
                recalled_by: None,
                recall_reason: None,
                recall_idx: None,
                registered_idx: self.idx,
            })
            .execute(self.conn)?;
        Ok(Vec::new())
    }

    /// Refuses moving stock of an expired or recalled batch.
    fn require_usable_batch(&self, batch: &BatchRow) -> Result<()> {
        if let Some(by) = &batch.recalled_by {
            return reject(
                RejectCode::Recalled,
                format!("batch {} of {} was recalled by {by}", batch.lot, batch.gtin),
            );
        }
        self.require_unexpired_batch(batch)
    }

    fn require_unexpired_batch(&self, batch: &BatchRow) -> Result<()> {
        if batch.is_expired_on(self.time.date()) {
            return reject(
                RejectCode::Expired,
                format!(
                    "batch {} of {} expired (expiry {})",
                    batch.lot, batch.gtin, batch.expiry
                ),
            );
        }
        Ok(())
    }

    fn commission(mut self, gtin: &Gtin, lot: &Lot, serials: &[Serial]) -> Result<Vec<String>> {
        self.require_owner(gtin)?;
        let batch = self.require_batch(gtin, lot)?;
        self.require_usable_batch(&batch)?;
        let texts: Vec<&str> = serials.iter().map(Serial::as_str).collect();
        for chunk in texts.chunks(CHUNK) {
            let taken: Option<String> = packs::table
                .filter(packs::gtin.eq(gtin.as_str()))
                .filter(packs::serial.eq_any(chunk))
                .select(packs::serial)
                .first(self.conn)
                .optional()?;
            if let Some(serial) = taken {
                return reject(
                    RejectCode::SerialAlreadyCommissioned,
                    format!("serial {serial} of {gtin} is already commissioned"),
                );
            }
        }
        let rows: Vec<PackRow> = texts
            .iter()
            .map(|serial| PackRow {
                gtin: gtin.to_string(),
                serial: serial.to_string(),
                lot: lot.to_string(),
                status: status::ACTIVE.into(),
                custodian: self.actor.into(),
                case_sscc: None,
                shipment_sender: None,
                shipment_id: None,
                decommission_reason: None,
                decommissioned_by: None,
                decommissioned_at: None,
                commissioned_idx: self.idx,
                last_idx: self.idx,
            })
            .collect();
        // As many rows per statement as the bound-parameter limit allows.
        for chunk in rows.chunks(crate::log::MAX_BOUND_PARAMETERS / 13) {
            on_backend!(self.conn, |c| diesel::insert_into(packs::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(serials
            .iter()
            .map(|serial| {
                pack_item(&PackId {
                    gtin: gtin.clone(),
                    serial: serial.clone(),
                })
            })
            .collect())
    }

    /// Loads `items`, checking they exist, are the actor's, are not moving,
    /// not decommissioned, and not packed inside another case.
    fn load_loose_items(&mut self, items: &[Item]) -> Result<Consignment> {
        let (pack_ids, case_ids) = split_items(items);
        let mut packs_found = load_packs(self.conn, &pack_ids)?;
        let mut cases_found = load_cases(self.conn, &case_ids)?;
        let mut consignment = Consignment {
            packs: Vec::with_capacity(pack_ids.len()),
            cases: Vec::with_capacity(case_ids.len()),
            nested_cases: Vec::new(),
            nested_packs: Vec::new(),
        };
        for id in pack_ids {
            let Some(pack) = packs_found.remove(&(id.gtin.to_string(), id.serial.to_string()))
            else {
                return reject(
                    RejectCode::SerialUnknown,
                    format!("pack {id} is not commissioned"),
                );
            };
            self.check_pack_is_loose(&pack, id)?;
            consignment.packs.push(pack);
        }
        for id in case_ids {
            let Some(case) = cases_found.remove(id) else {
                return reject(RejectCode::CaseUnknown, format!("case {id} is not known"));
            };
            self.check_case_is_loose(&case)?;
            consignment.cases.push(case);
        }
        let roots = consignment.cases.iter().map(|c| c.sscc.clone()).collect();
        consignment.nested_cases = case_closure(self.conn, roots)?;
        consignment.nested_packs = packs_in_cases(self.conn, &consignment.nested_cases)?;
        Ok(consignment)
    }

    fn check_pack_is_loose(&self, pack: &PackRow, id: &PackId) -> Result<()> {
        if pack.status == status::DECOMMISSIONED {
            return reject(
                RejectCode::AlreadyDecommissioned,
                format!(
                    "pack {id} was decommissioned ({})",
                    pack.decommission_reason
                        .as_deref()
                        .unwrap_or("unknown reason")
                ),
            );
        }
        if pack.status == status::IN_TRANSIT {
            return reject(RejectCode::InTransit, format!("pack {id} is in transit"));
        }
        if pack.custodian != self.actor {
            return reject(
                RejectCode::NotCustodian,
                format!(
                    "pack {id} is in the custody of {}, not {}",
                    pack.custodian, self.actor
                ),
            );
        }
        if let Some(case) = &pack.case_sscc {
            return reject(
                RejectCode::Aggregated,
                format!("pack {id} is packed in case {case}; move or open the case"),
            );
        }
        Ok(())
    }

    fn check_case_is_loose(&self, case: &CaseRow) -> Result<()> {
        if case.status == status::OPENED {
            return reject(
                RejectCode::CaseUnknown,
                format!("case {} was opened", case.sscc),
            );
        }
        if case.status == status::IN_TRANSIT {
            return reject(
                RejectCode::InTransit,
                format!("case {} is in transit", case.sscc),
            );
        }
        if case.custodian != self.actor {
            return reject(
                RejectCode::NotCustodian,
                format!(
                    "case {} is in the custody of {}, not {}",
                    case.sscc, case.custodian, self.actor
                ),
            );
        }
        if let Some(parent) = &case.parent_sscc {
            return reject(
                RejectCode::Aggregated,
                format!("case {} is packed in case {parent}", case.sscc),
            );
        }
        Ok(())
    }

    /// The batch of stored packs.
    fn batch_of(&mut self, gtin: &str, lot: &str) -> Result<BatchRow> {
        load_batch(self.conn, gtin, lot)?.ok_or_else(|| {
            Rejection::new(
                RejectCode::BatchUnknown,
                format!("batch {lot} of {gtin} is not registered"),
            )
            .into()
        })
    }

    /// Refuses moving expired packs, and recalled ones unless `recall_return`: a
    /// recalled pack may only travel back up the chain (a return shipment).
    fn check_packs_usable(&mut self, packs: &[&PackRow], recall_return: bool) -> Result<()> {
        let batches: BTreeSet<(&str, &str)> = packs
            .iter()
            .map(|p| (p.gtin.as_str(), p.lot.as_str()))
            .collect();
        for (gtin, lot) in batches {
            let batch = self.batch_of(gtin, lot)?;
            if recall_return {
                self.require_unexpired_batch(&batch)?;
            } else {
                self.require_usable_batch(&batch)?;
            }
        }
        if !recall_return {
            if let Some((pack, by)) = recalled_packs(self.conn, packs)?.into_iter().next() {
                return reject(
                    RejectCode::Recalled,
                    format!("pack {pack} was recalled by {by}"),
                );
            }
        }
        Ok(())
    }

    fn aggregate(mut self, case: &Sscc, items: &[Item]) -> Result<Vec<String>> {
        if load_cases(self.conn, &[case.as_str()])?.contains_key(case.as_str()) {
            return reject(
                RejectCode::CaseAlreadyExists,
                format!("case {case} already exists; an SSCC is used once"),
            );
        }
        if items.contains(&Item::Case(case.clone())) {
            return reject(
                RejectCode::MalformedEvent,
                format!("case {case} cannot contain itself"),
            );
        }
        let consignment = self.load_loose_items(items)?;
        diesel::insert_into(cases::table)
            .values(CaseRow {
                sscc: case.to_string(),
                status: status::ACTIVE.into(),
                custodian: self.actor.into(),
                parent_sscc: None,
                shipment_sender: None,
                shipment_id: None,
                packed_idx: self.idx,
                last_idx: self.idx,
            })
            .execute(self.conn)?;
        self.set_pack_case(&consignment.packs, Some(case.as_str()))?;
        let children: Vec<&str> = consignment.cases.iter().map(|c| c.sscc.as_str()).collect();
        for chunk in children.chunks(CHUNK) {
            diesel::update(cases::table.filter(cases::sscc.eq_any(chunk)))
                .set((
                    cases::parent_sscc.eq(case.as_str()),
                    cases::last_idx.eq(self.idx),
                ))
                .execute(self.conn)?;
        }
        // Packing a case into another is part of the custody chain of every
        // pack inside it: without this entry a pack's provenance could not
        // show how it came to travel in the outer case.
        let mut touched = vec![case_item(case)];
        touched.extend(touched_by_consignment(items, &consignment));
        Ok(touched)
    }

    fn set_pack_case(&mut self, rows: &[PackRow], case: Option<&str>) -> Result<()> {
        let mut by_gtin: HashMap<&str, Vec<&str>> = HashMap::new();
        for row in rows {
            by_gtin
                .entry(row.gtin.as_str())
                .or_default()
                .push(row.serial.as_str());
        }
        for (gtin, serials) in by_gtin {
            for chunk in serials.chunks(CHUNK) {
                diesel::update(
                    packs::table
                        .filter(packs::gtin.eq(gtin))
                        .filter(packs::serial.eq_any(chunk)),
                )
                .set((packs::case_sscc.eq(case), packs::last_idx.eq(self.idx)))
                .execute(self.conn)?;
            }
        }
        Ok(())
    }

    fn disaggregate(mut self, case: &Sscc) -> Result<Vec<String>> {
        let Some(row) = load_cases(self.conn, &[case.as_str()])?.remove(case.as_str()) else {
            return reject(RejectCode::CaseUnknown, format!("case {case} is not known"));
        };
        self.check_case_is_loose(&row)?;
        let contents = packs_in_cases(self.conn, std::slice::from_ref(&row.sscc))?;
        let child_cases: Vec<String> = cases::table
            .filter(cases::parent_sscc.eq(case.as_str()))
            .select(cases::sscc)
            .load(self.conn)?;
        self.set_pack_case(&contents, None)?;
        diesel::update(cases::table.filter(cases::parent_sscc.eq(case.as_str())))
            .set((
                cases::parent_sscc.eq(None::<String>),
                cases::last_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        diesel::update(cases::table.find(case.as_str()))
            .set((
                cases::status.eq(status::OPENED),
                cases::last_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        let mut touched = vec![case_item(case)];
        touched.extend(contents.iter().map(pack_row_item));
        touched.extend(child_cases.iter().map(|c| format!("(00){c}")));
        Ok(touched)
    }

    /// Sets status, shipment and (optionally) custodian on everything in a
    /// consignment, nested contents included.
    fn move_consignment(
        &mut self,
        all_cases: &[String],
        all_packs: &[PackRow],
        status_now: &str,
        shipment: Option<(&str, &str)>,
        custodian: &str,
    ) -> Result<()> {
        let (sender, id) = shipment.unzip();
        for chunk in all_cases.chunks(CHUNK) {
            diesel::update(cases::table.filter(cases::sscc.eq_any(chunk)))
                .set((
                    cases::status.eq(status_now),
                    cases::custodian.eq(custodian),
                    cases::shipment_sender.eq(sender),
                    cases::shipment_id.eq(id),
                    cases::last_idx.eq(self.idx),
                ))
                .execute(self.conn)?;
        }
        let mut by_gtin: HashMap<&str, Vec<&str>> = HashMap::new();
        for row in all_packs {
            by_gtin
                .entry(row.gtin.as_str())
                .or_default()
                .push(row.serial.as_str());
        }
        for (gtin, serials) in by_gtin {
            for chunk in serials.chunks(CHUNK) {
                diesel::update(
                    packs::table
                        .filter(packs::gtin.eq(gtin))
                        .filter(packs::serial.eq_any(chunk)),
                )
                .set((
                    packs::status.eq(status_now),
                    packs::custodian.eq(custodian),
                    packs::shipment_sender.eq(sender),
                    packs::shipment_id.eq(id),
                    packs::last_idx.eq(self.idx),
                ))
                .execute(self.conn)?;
            }
        }
        Ok(())
    }

    fn ship(
        mut self,
        shipment: &str,
        to: &Gln,
        purpose: &str,
        items: &[Item],
    ) -> Result<Vec<String>> {
        if to.as_str() == self.actor {
            return reject(RejectCode::ReceiverUnknown, "a party cannot ship to itself");
        }
        let receiver_role = self.require_party(to).map_err(|_| {
            Rejection::new(
                RejectCode::ReceiverUnknown,
                format!("receiver {to} is not registered"),
            )
        })?;
        if receiver_role == Role::Regulator.as_str() {
            return reject(
                RejectCode::ReceiverUnknown,
                format!("receiver {to} is a regulator, not a trading partner"),
            );
        }
        let exists: i64 = shipments::table
            .filter(shipments::sender.eq(self.actor))
            .filter(shipments::shipment_id.eq(shipment))
            .count()
            .get_result(self.conn)?;
        if exists > 0 {
            return reject(
                RejectCode::ShipmentAlreadyExists,
                format!("{} already used shipment id {shipment}", self.actor),
            );
        }
        let c = self.load_loose_items(items)?;
        let moving: Vec<&PackRow> = c.packs.iter().chain(&c.nested_packs).collect();
        self.check_packs_usable(&moving, purpose == "return")?;
        diesel::insert_into(shipments::table)
            .values((
                shipments::sender.eq(self.actor),
                shipments::shipment_id.eq(shipment),
                shipments::receiver.eq(to.as_str()),
                shipments::purpose.eq(purpose),
                shipments::status.eq(status::OPEN),
                shipments::ship_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        let all_packs: Vec<PackRow> = c.packs.iter().chain(&c.nested_packs).cloned().collect();
        let actor = self.actor;
        self.move_consignment(
            &c.nested_cases,
            &all_packs,
            status::IN_TRANSIT,
            Some((actor, shipment)),
            actor,
        )?;
        Ok(touched_by_consignment(items, &c))
    }

    fn receive(mut self, shipment: &str, from: &Gln, received: &[Item]) -> Result<Vec<String>> {
        let open: Option<(String, i64)> = shipments::table
            .find((from.as_str(), shipment))
            .filter(shipments::status.eq(status::OPEN))
            .select((shipments::receiver, shipments::ship_idx))
            .first(self.conn)
            .optional()?;
        let Some((receiver, ship_idx)) = open.filter(|(r, _)| r == self.actor) else {
            return reject(
                RejectCode::NoOpenShipment,
                format!("no open shipment {shipment} from {from} to {}", self.actor),
            );
        };
        debug_assert_eq!(receiver, self.actor);
        let shipped: BTreeSet<String> = crate::db::schema::event_items::table
            .filter(crate::db::schema::event_items::entry_idx.eq(ship_idx))
            .select(crate::db::schema::event_items::item)
            .load::<String>(self.conn)?
            .into_iter()
            .collect();
        let arrived: BTreeSet<String> = received.iter().map(Item::to_string).collect();
        let matched: Vec<Item> = received
            .iter()
            .filter(|item| shipped.contains(&item.to_string()))
            .cloned()
            .collect();
        let discrepancies = shipped
            .difference(&arrived)
            .map(|item| (item, status::MISSING))
            .chain(
                arrived
                    .difference(&shipped)
                    .map(|item| (item, status::EXTRA)),
            );
        for (item, kind) in discrepancies {
            diesel::insert_into(shipment_discrepancies::table)
                .values((
                    shipment_discrepancies::sender.eq(from.as_str()),
                    shipment_discrepancies::shipment_id.eq(shipment),
                    shipment_discrepancies::item.eq(item),
                    shipment_discrepancies::kind.eq(kind),
                ))
                .execute(self.conn)?;
        }
        // What arrived as shipped passes to the receiver; what is missing
        // stays in transit (it cannot be dispensed) until investigated.
        let c = self.load_shipped_items(&matched, from.as_str(), shipment)?;
        let all_packs: Vec<PackRow> = c.packs.iter().chain(&c.nested_packs).cloned().collect();
        let actor = self.actor;
        self.move_consignment(&c.nested_cases, &all_packs, status::ACTIVE, None, actor)?;
        diesel::update(shipments::table.find((from.as_str(), shipment)))
            .set((
                shipments::status.eq(status::RECEIVED),
                shipments::receive_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        Ok(touched_by_consignment(received, &c))
    }

    /// Loads items known to be in shipment `(sender, id)`.
    fn load_shipped_items(
        &mut self,
        items: &[Item],
        sender: &str,
        id: &str,
    ) -> Result<Consignment> {
        let (pack_ids, case_ids) = split_items(items);
        let in_shipment = |s: &Option<String>, i: &Option<String>| {
            s.as_deref() == Some(sender) && i.as_deref() == Some(id)
        };
        let packs: Vec<PackRow> = load_packs(self.conn, &pack_ids)?
            .into_values()
            .filter(|p| in_shipment(&p.shipment_sender, &p.shipment_id))
            .collect();
        let cases: Vec<CaseRow> = load_cases(self.conn, &case_ids)?
            .into_values()
            .filter(|c| in_shipment(&c.shipment_sender, &c.shipment_id))
            .collect();
        let nested_cases = case_closure(self.conn, cases.iter().map(|c| c.sscc.clone()).collect())?;
        let nested_packs = packs_in_cases(self.conn, &nested_cases)?;
        Ok(Consignment {
            packs,
            cases,
            nested_cases,
            nested_packs,
        })
    }

    fn require_pack(&mut self, pack: &PackId) -> Result<PackRow> {
        load_pack(self.conn, pack)?.ok_or_else(|| {
            Rejection::new(
                RejectCode::SerialUnknown,
                format!("pack {pack} is not commissioned"),
            )
            .into()
        })
    }

    fn decommission(mut self, pack: &PackId, reason: DecommissionReason) -> Result<Vec<String>> {
        let row = self.require_pack(pack)?;
        self.check_pack_is_loose(&row, pack)?;
        // Expired or recalled stock may still be destroyed, locked (set
        // aside, e.g. awaiting a recall's collection) or reported stolen —
        // just not supplied, exported or sampled.
        let supplied = matches!(
            reason,
            DecommissionReason::Dispensed
                | DecommissionReason::Exported
                | DecommissionReason::Sample
        );
        if supplied {
            self.check_packs_usable(&[&row], false)?;
        } else {
            self.batch_of(&row.gtin, &row.lot)?;
        }
        diesel::update(packs::table.find((row.gtin.as_str(), row.serial.as_str())))
            .set((
                packs::status.eq(status::DECOMMISSIONED),
                packs::decommission_reason.eq(reason.as_str()),
                packs::decommissioned_by.eq(self.actor),
                packs::decommissioned_at.eq(self.time.unix_micros()),
                packs::last_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        Ok(vec![pack_item(pack)])
    }

    fn reactivate(mut self, pack: &PackId) -> Result<Vec<String>> {
        let row = self.require_pack(pack)?;
        if row.status != status::DECOMMISSIONED {
            return reject(
                RejectCode::StatusChangeNotAllowed,
                format!("pack {pack} is {}, not decommissioned", row.status),
            );
        }
        let reason = row.decommission_reason.as_deref().unwrap_or_default();
        if matches!(reason, "destroyed" | "stolen" | "exported") {
            return reject(
                RejectCode::StatusChangeNotAllowed,
                format!("pack {pack} was {reason}; that cannot be undone"),
            );
        }
        if row.decommissioned_by.as_deref() != Some(self.actor) {
            return reject(
                RejectCode::StatusChangeNotAllowed,
                format!(
                    "only {} (who decommissioned pack {pack}) may reactivate it",
                    row.decommissioned_by
                        .as_deref()
                        .unwrap_or("the decommissioning party")
                ),
            );
        }
        let since = row.decommissioned_at.unwrap_or(i64::MIN);
        if self.time.unix_micros()
            > since.saturating_add(REACTIVATION_WINDOW.num_microseconds().unwrap_or(i64::MAX))
        {
            return reject(
                RejectCode::StatusChangeNotAllowed,
                format!(
                    "pack {pack} was decommissioned at {}, more than 10 days ago",
                    fmt_micros(since)
                ),
            );
        }
        self.check_packs_usable(&[&row], false)?;
        diesel::update(packs::table.find((row.gtin.as_str(), row.serial.as_str())))
            .set((
                packs::status.eq(status::ACTIVE),
                packs::decommission_reason.eq(None::<String>),
                packs::decommissioned_by.eq(None::<String>),
                packs::decommissioned_at.eq(None::<i64>),
                packs::last_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        Ok(vec![pack_item(pack)])
    }

    /// The batch a recall names: the product's owner or a regulator
    /// recalls, and not a batch already recalled as a whole.
    fn require_recallable_batch(&mut self, gtin: &Gtin, lot: &Lot) -> Result<BatchRow> {
        if self.role == Role::Manufacturer {
            self.require_owner(gtin)?;
        }
        let batch = self.require_batch(gtin, lot)?;
        if let Some(by) = &batch.recalled_by {
            return reject(
                RejectCode::AlreadyRecalled,
                format!("batch {lot} of {gtin} is already recalled by {by}"),
            );
        }
        Ok(batch)
    }

    fn recall(mut self, gtin: &Gtin, lot: &Lot, reason: &str) -> Result<Vec<String>> {
        self.require_recallable_batch(gtin, lot)?;
        diesel::update(batches::table.find((gtin.as_str(), lot.as_str())))
            .set((
                batches::recalled_by.eq(self.actor),
                batches::recall_reason.eq(reason),
                batches::recall_idx.eq(self.idx),
            ))
            .execute(self.conn)?;
        Ok(Vec::new())
    }

    /// Recalls only the listed serials of a batch: each must be a pack of
    /// that batch not already under a recall. The packs' histories get the
    /// entry, so their provenance (and the scanner) show the recall.
    fn recall_serials(mut self, gtin: &Gtin, lot: &Lot, serials: &[Serial]) -> Result<Vec<String>> {
        self.require_recallable_batch(gtin, lot)?;
        let ids: Vec<PackId> = serials
            .iter()
            .map(|serial| PackId {
                gtin: gtin.clone(),
                serial: serial.clone(),
            })
            .collect();
        let id_refs: Vec<&PackId> = ids.iter().collect();
        let mut found = load_packs(self.conn, &id_refs)?;
        let mut rows = Vec::with_capacity(ids.len());
        for id in &ids {
            let Some(row) = found.remove(&(id.gtin.to_string(), id.serial.to_string())) else {
                return reject(
                    RejectCode::SerialUnknown,
                    format!("pack {id} is not commissioned"),
                );
            };
            if row.lot != lot.as_str() {
                return reject(
                    RejectCode::BatchMismatch,
                    format!("pack {id} belongs to batch {}, not {lot}", row.lot),
                );
            }
            rows.push(row);
        }
        let row_refs: Vec<&PackRow> = rows.iter().collect();
        if let Some((pack, by)) = recalled_packs(self.conn, &row_refs)?.into_iter().next() {
            return reject(
                RejectCode::AlreadyRecalled,
                format!("pack {pack} is already recalled by {by}"),
            );
        }
        let values: Vec<_> = rows
            .iter()
            .map(|row| {
                (
                    pack_recalls::gtin.eq(&row.gtin),
                    pack_recalls::serial.eq(&row.serial),
                    pack_recalls::lot.eq(&row.lot),
                    pack_recalls::recalled_by.eq(self.actor),
                    pack_recalls::recall_idx.eq(self.idx),
                )
            })
            .collect();
        for chunk in values.chunks(CHUNK / 5) {
            on_backend!(self.conn, |c| diesel::insert_into(pack_recalls::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(ids.iter().map(pack_item).collect())
    }

    /// Lifts the batch's recalls: a regulator lifts them all, anyone else
    /// those it issued. Packs whose selective recall is lifted get the
    /// entry in their histories.
    fn lift_recall(mut self, gtin: &Gtin, lot: &Lot) -> Result<Vec<String>> {
        let batch = self.require_batch(gtin, lot)?;
        let selective: Vec<(String, String)> = pack_recalls::table
            .filter(pack_recalls::gtin.eq(gtin.as_str()))
            .filter(pack_recalls::lot.eq(lot.as_str()))
            .select((pack_recalls::serial, pack_recalls::recalled_by))
            .load(self.conn)?;
        let Some(first_by) = batch
            .recalled_by
            .clone()
            .or_else(|| selective.first().map(|(_, by)| by.clone()))
        else {
            return reject(
                RejectCode::NotRecalled,
                format!("batch {lot} of {gtin} is not recalled"),
            );
        };
        let lifts = |by: &str| self.role == Role::Regulator || by == self.actor;
        let lift_batch = batch.recalled_by.as_deref().is_some_and(lifts);
        let lifted: Vec<&str> = selective
            .iter()
            .filter(|(_, by)| lifts(by))
            .map(|(serial, _)| serial.as_str())
            .collect();
        if !lift_batch && lifted.is_empty() {
            return reject(
                RejectCode::RoleNotAllowed,
                format!(
                    "only {first_by}, who recalled batch {lot}, or a regulator may lift the recall"
                ),
            );
        }
        if lift_batch {
            diesel::update(batches::table.find((gtin.as_str(), lot.as_str())))
                .set((
                    batches::recalled_by.eq(None::<String>),
                    batches::recall_reason.eq(None::<String>),
                    batches::recall_idx.eq(None::<i64>),
                ))
                .execute(self.conn)?;
        }
        for chunk in lifted.chunks(CHUNK) {
            diesel::delete(
                pack_recalls::table
                    .filter(pack_recalls::gtin.eq(gtin.as_str()))
                    .filter(pack_recalls::serial.eq_any(chunk)),
            )
            .execute(self.conn)?;
        }
        Ok(lifted
            .iter()
            .map(|serial| format!("(01){gtin}(21){serial}"))
            .collect())
    }
}

/// Who recalled this pack by a selective recall still in force, if anyone
/// (a recall of its whole batch is on [`BatchRow::recalled_by`]).
pub fn pack_recalled_by(
    conn: &mut DbConnection,
    gtin: &str,
    serial: &str,
) -> QueryResult<Option<String>> {
    pack_recalls::table
        .find((gtin, serial))
        .select(pack_recalls::recalled_by)
        .first(conn)
        .optional()
}

/// Which of `packs` are under a selective recall, with who recalled each,
/// in bracketed element-string form.
pub fn recalled_packs(
    conn: &mut DbConnection,
    packs: &[&PackRow],
) -> QueryResult<Vec<(String, String)>> {
    let mut by_gtin: HashMap<&str, Vec<&str>> = HashMap::new();
    for row in packs {
        by_gtin
            .entry(row.gtin.as_str())
            .or_default()
            .push(row.serial.as_str());
    }
    let mut found = Vec::new();
    for (gtin, serials) in by_gtin {
        for chunk in serials.chunks(CHUNK) {
            let rows: Vec<(String, String)> = pack_recalls::table
                .filter(pack_recalls::gtin.eq(gtin))
                .filter(pack_recalls::serial.eq_any(chunk))
                .select((pack_recalls::serial, pack_recalls::recalled_by))
                .load(conn)?;
            found.extend(
                rows.into_iter()
                    .map(|(serial, by)| (format!("(01){gtin}(21){serial}"), by)),
            );
        }
    }
    found.sort();
    Ok(found)
}

/// The items whose provenance includes a movement: the listed items and
/// everything nested in the cases among them.
fn touched_by_consignment(items: &[Item], c: &Consignment) -> Vec<String> {
    let mut touched: BTreeSet<String> = items.iter().map(Item::to_string).collect();
    touched.extend(c.nested_cases.iter().map(|s| format!("(00){s}")));
    touched.extend(c.nested_packs.iter().map(pack_row_item));
    touched.into_iter().collect()
}

/// Records that entry `idx` belongs to the provenance of `items`.
pub fn record_history(conn: &mut DbConnection, idx: i64, items: &[String]) -> QueryResult<()> {
    for chunk in items.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|item| (item_history::item.eq(item), item_history::entry_idx.eq(idx)))
            .collect();
        on_backend!(conn, |c| diesel::insert_into(item_history::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}
