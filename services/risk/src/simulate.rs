//! A seeded, reproducible supply chain: manufacturers, one distributor per
//! region and pharmacies around it (real coordinates), products, batches,
//! shipments, dispensing, returns, recalls and expiries — every step a real
//! event signed by its actor's key — and labelled verifications, among them
//! the fraud patterns and the benign noise the risk model must tell apart.
//!
//! The same seed gives the same parties, keys, events and samples. The
//! signed events double as load for a ledger (`pedigree simulate --out`, or
//! `--ledger` to submit them): [`simulate_until`] fits the timeline into a
//! window ending at a given time (the ledger refuses events older than its
//! `max_event_age`), compressing it when the simulated months do not fit.
//! Events are signed once the whole timeline is known, at their place on
//! the clock.

use std::collections::{HashMap, HashSet};

use pedigree_schema::event::{
    canonical_item_order, DecommissionReason, Event, EventBody, EventError, EventSubmission,
    GeoPoint, Item, ItemSetRef, Role, ShipmentPurpose, Timestamp,
};
use pedigree_schema::gs1::{check_digit, Expiry, Gln, Gs1Error, Gtin, Lot, PackId, Serial};
use pedigree_schema::keys::SecretKey;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::features::{distance_km, extract, idx, Features, HistoryEvent, PackState, ScanContext};

/// Why a simulation could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("a simulated identifier is invalid: {0}")]
    Identifier(#[from] Gs1Error),
    #[error("a simulated event could not be signed: {0}")]
    Event(#[from] EventError),
    #[error("the configuration asks for {asked} regions; at most {max} are defined")]
    TooManyRegions { asked: usize, max: usize },
    #[error("identifier body {0:?} is not numeric")]
    NotNumeric(String),
    #[error("the configuration needs at least one {0}")]
    Empty(&'static str),
}

/// Regions: a city and its coordinates (degrees).
pub const REGIONS: [(&str, f64, f64); 6] = [
    ("Lyon", 45.764, 4.836),
    ("Hamburg", 53.551, 9.994),
    ("Milano", 45.464, 9.190),
    ("Madrid", 40.417, -3.704),
    ("Warszawa", 52.230, 21.011),
    ("Wien", 48.208, 16.373),
];

/// Per-pack (or per-batch where said) rates of each pattern.
#[derive(Clone, Debug, Serialize)]
pub struct Rates {
    pub clone_before_dispense: f64,
    pub clone_after_dispense: f64,
    pub diversion: f64,
    pub reintroduction: f64,
    pub impossible_route: f64,
    /// Per batch: a burst of made-up serials of its product.
    pub serial_guessing: f64,
    /// Per batch: recalled while packs are still in pharmacies.
    pub recalled_batch: f64,
    /// Per batch: expires while packs are still in pharmacies.
    pub expired_batch: f64,
    pub double_verification: f64,
    pub legit_return: f64,
    pub typo: f64,
    /// Per pharmacy shipment: the receipt is recorded hours late.
    pub late_receipt: f64,
}

impl Default for Rates {
    fn default() -> Self {
        Self {
            clone_before_dispense: 0.01,
            clone_after_dispense: 0.01,
            diversion: 0.01,
            reintroduction: 0.005,
            impossible_route: 0.005,
            serial_guessing: 0.05,
            recalled_batch: 0.03,
            expired_batch: 0.03,
            double_verification: 0.05,
            legit_return: 0.02,
            typo: 0.01,
            late_receipt: 0.1,
        }
    }
}

/// The shape of the simulated network.
#[derive(Clone, Debug, Serialize)]
pub struct SimConfig {
    pub seed: u64,
    pub regions: usize,
    pub pharmacies_per_region: usize,
    pub manufacturers: usize,
    pub batches: usize,
    pub packs_per_batch: usize,
    pub rates: Rates,
}

impl SimConfig {
    /// The training-size network: 6 regions, 48 pharmacies, 200 batches of
    /// 60 packs (about 12 000 packs and 20 000 verifications).
    pub fn standard(seed: u64) -> Self {
        Self {
            seed,
            regions: REGIONS.len(),
            pharmacies_per_region: 8,
            manufacturers: 4,
            batches: 200,
            packs_per_batch: 60,
            rates: Rates::default(),
        }
    }
}

/// What a verification really was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    Normal,
    DoubleVerification,
    LegitReturn,
    Typo,
    LateReceipt,
    CloneBeforeDispense,
    CloneAfterDispense,
    Diversion,
    Reintroduction,
    ImpossibleRoute,
    SerialGuessing,
    ExpiredOrRecalled,
}

impl Pattern {
    pub const ALL: [Pattern; 12] = [
        Pattern::Normal,
        Pattern::DoubleVerification,
        Pattern::LegitReturn,
        Pattern::Typo,
        Pattern::LateReceipt,
        Pattern::CloneBeforeDispense,
        Pattern::CloneAfterDispense,
        Pattern::Diversion,
        Pattern::Reintroduction,
        Pattern::ImpossibleRoute,
        Pattern::SerialGuessing,
        Pattern::ExpiredOrRecalled,
    ];

    pub fn is_fraud(self) -> bool {
        !matches!(
            self,
            Pattern::Normal
                | Pattern::DoubleVerification
                | Pattern::LegitReturn
                | Pattern::Typo
                | Pattern::LateReceipt
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Pattern::Normal => "normal",
            Pattern::DoubleVerification => "double verification",
            Pattern::LegitReturn => "legitimate return",
            Pattern::Typo => "typing error",
            Pattern::LateReceipt => "late receipt",
            Pattern::CloneBeforeDispense => "clone before dispense",
            Pattern::CloneAfterDispense => "clone after dispense",
            Pattern::Diversion => "diversion",
            Pattern::Reintroduction => "reintroduction",
            Pattern::ImpossibleRoute => "impossible route",
            Pattern::SerialGuessing => "serial guessing",
            Pattern::ExpiredOrRecalled => "expired or recalled stock",
        }
    }
}

/// One labelled verification.
#[derive(Clone, Debug)]
pub struct Sample {
    pub features: Features,
    pub pattern: Pattern,
    /// Whether the FMD rule checks alone raise an alert (unknown serial,
    /// decommissioned, in transit, recalled, expired, lot/expiry mismatch).
    pub rules_alert: bool,
}

/// A simulated party with its key.
pub struct SimParty {
    pub gln: Gln,
    pub name: String,
    pub role: Role,
    pub place: GeoPoint,
    pub region: usize,
    pub key: SecretKey,
}

/// The result: parties, the signed log in time order, labelled samples.
pub struct Simulation {
    pub parties: Vec<SimParty>,
    pub events: Vec<EventSubmission>,
    pub samples: Vec<Sample>,
}

/// Whether the rule checks alone raise an FMD alert for these features.
pub fn rules_alert(f: &Features) -> bool {
    [
        idx::SERIAL_UNKNOWN,
        idx::DECOMMISSIONED,
        idx::IN_TRANSIT,
        idx::RECALLED,
        idx::EXPIRED,
        idx::CODE_MISMATCH,
    ]
    .iter()
    .any(|&i| f.0[i] > 0.5)
}

const HOUR: i64 = 3_600_000_000;
const MINUTE: i64 = 60_000_000;
const DAY: i64 = 24 * HOUR;
/// 2026-01-05T00:00:00Z: the simulated clock starts here.
const T0: i64 = 1_767_571_200_000_000;
const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// An event of the timeline, signed once the clock is known.
struct Entry {
    actor: usize,
    event: Event,
    items: Option<Vec<String>>,
    history: HistoryEvent,
    /// A batch registration's expiry, as simulated time: its date is taken
    /// on the output clock.
    expires_at: Option<i64>,
}

/// Maps simulated time onto the time the events are signed with.
#[derive(Clone, Copy, Debug)]
struct Clock {
    origin: i64,
    start: i64,
    scale: f64,
}

impl Clock {
    /// Simulated time as is.
    const IDENTITY: Clock = Clock {
        origin: 0,
        start: 0,
        scale: 1.0,
    };

    /// The simulated span `[origin, last]` fitted into the `window` ending at
    /// `end` (compressed when longer, never stretched).
    fn fitted(origin: i64, last: i64, end: i64, window: i64) -> Self {
        let span = (last - origin).max(1);
        let scale = (window as f64 / span as f64).min(1.0);
        Self {
            origin,
            start: end - (span as f64 * scale) as i64,
            scale,
        }
    }

    fn map(&self, time: i64) -> i64 {
        self.start + ((time - self.origin) as f64 * self.scale) as i64
    }
}

struct Batch {
    recalled_at: Option<i64>,
    expires_at: i64,
}

struct Pack {
    id: PackId,
    batch: usize,
    history: Vec<usize>,
}

/// A verification to be turned into a sample once all events exist.
struct Scan {
    pack: Option<usize>,
    party: usize,
    time: i64,
    pattern: Pattern,
    entry: usize,
}

struct World {
    rng: ChaCha8Rng,
    parties: Vec<SimParty>,
    entries: Vec<Entry>,
    batches: Vec<Batch>,
    packs: Vec<Pack>,
    scans: Vec<Scan>,
    distributors: Vec<usize>,
    pharmacies: Vec<Vec<usize>>,
    shipments: u64,
    products: HashSet<Gtin>,
}

fn gs1_body(prefix: &str, n: usize, width: usize) -> Result<String, SimError> {
    let body = format!("{prefix}{n:0width$}");
    let digit = check_digit(&body).ok_or(SimError::NotNumeric(body.clone()))?;
    Ok(format!("{body}{digit}"))
}

impl World {
    fn new(config: &SimConfig) -> Result<Self, SimError> {
        if config.regions > REGIONS.len() {
            return Err(SimError::TooManyRegions {
                asked: config.regions,
                max: REGIONS.len(),
            });
        }
        if config.regions == 0 || config.pharmacies_per_region == 0 {
            return Err(SimError::Empty("region with a pharmacy"));
        }
        if config.manufacturers == 0 || config.packs_per_batch == 0 {
            return Err(SimError::Empty("manufacturer and pack per batch"));
        }
        let mut world = Self {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            parties: Vec::new(),
            entries: Vec::new(),
            batches: Vec::new(),
            packs: Vec::new(),
            scans: Vec::new(),
            distributors: Vec::new(),
            pharmacies: Vec::new(),
            shipments: 0,
            products: HashSet::new(),
        };
        world.add_party("Medicines Agency", Role::Regulator, 0, 0.0)?;
        for m in 0..config.manufacturers {
            world.add_party(
                &format!("Manufacturer {m}"),
                Role::Manufacturer,
                m % config.regions,
                15.0,
            )?;
        }
        for (r, (city, _, _)) in REGIONS.iter().enumerate().take(config.regions) {
            let d = world.add_party(&format!("Wholesaler {city}"), Role::Distributor, r, 10.0)?;
            world.distributors.push(d);
            let mut here = Vec::new();
            for p in 0..config.pharmacies_per_region {
                here.push(world.add_party(
                    &format!("Pharmacy {city} {p}"),
                    Role::Pharmacy,
                    r,
                    30.0,
                )?);
            }
            world.pharmacies.push(here);
        }
        let governance = 0;
        for p in 0..world.parties.len() {
            let party = &world.parties[p];
            let body = EventBody::RegisterParty {
                party: party.gln.clone(),
                name: party.name.clone(),
                role: party.role,
                key: party.key.public_key(),
                location: Some(party.place),
            };
            world.push(governance, T0 - DAY + p as i64 * MINUTE, body, None)?;
        }
        Ok(world)
    }

    fn add_party(
        &mut self,
        name: &str,
        role: Role,
        region: usize,
        spread_km: f64,
    ) -> Result<usize, SimError> {
        let n = self.parties.len();
        let (_, lat, lon) = REGIONS[region];
        let dlat = self.rng.gen_range(-1.0..=1.0) * spread_km / 111.0;
        let dlon = self.rng.gen_range(-1.0..=1.0) * spread_km / (111.0 * lat.to_radians().cos());
        let seed: [u8; 32] = self.rng.gen();
        self.parties.push(SimParty {
            gln: Gln::parse(&gs1_body("9506", n, 8)?)?,
            name: name.into(),
            role,
            place: GeoPoint::from_degrees(lat + dlat, lon + dlon),
            region,
            key: SecretKey::from_seed(&seed),
        });
        Ok(n)
    }

    /// Appends `body` as party `actor`'s event at `time` (signed later).
    fn push(
        &mut self,
        actor: usize,
        time: i64,
        body: EventBody,
        items: Option<Vec<String>>,
    ) -> Result<usize, SimError> {
        let party = &self.parties[actor];
        let timestamp = Timestamp::from_unix_micros(time).unwrap_or_else(Timestamp::now);
        let event = Event::new(party.gln.clone(), timestamp, body);
        let history = HistoryEvent::from_event(&event, Some(party.place));
        self.entries.push(Entry {
            actor,
            event,
            items,
            history,
            expires_at: None,
        });
        Ok(self.entries.len() - 1)
    }

    /// An event committing to an item list (sorted here).
    fn push_items(
        &mut self,
        actor: usize,
        time: i64,
        items: Vec<String>,
        body: impl FnOnce(ItemSetRef) -> EventBody,
    ) -> Result<usize, SimError> {
        let items = canonical_item_order(items);
        let set = ItemSetRef::commit(&items);
        self.push(actor, time, body(set), Some(items))
    }

    fn pack_items(&self, packs: &[usize]) -> Vec<String> {
        packs
            .iter()
            .map(|&p| Item::Pack(self.packs[p].id.clone()).to_string())
            .collect()
    }

    /// Ships `packs` from `from` to `to` and receives them `delay` later.
    /// Returns (ship time, receive time).
    fn consign(
        &mut self,
        packs: &[usize],
        from: usize,
        to: usize,
        at: i64,
        delay: i64,
        purpose: ShipmentPurpose,
    ) -> Result<(i64, i64), SimError> {
        self.shipments += 1;
        let shipment = format!("S{}", self.shipments);
        let items = self.pack_items(packs);
        let to_gln = self.parties[to].gln.clone();
        let from_gln = self.parties[from].gln.clone();
        let ship = self.push_items(from, at, items.clone(), |set| EventBody::Ship {
            shipment: shipment.clone(),
            to: to_gln,
            purpose,
            contents: set,
        })?;
        let received = at + delay;
        let receive = self.push_items(to, received, items, |set| EventBody::Receive {
            shipment,
            from: from_gln,
            received: set,
        })?;
        for &p in packs {
            self.packs[p].history.extend([ship, receive]);
        }
        Ok((at, received))
    }

    fn transit(&mut self, from: usize, to: usize, km_per_hour: f64) -> i64 {
        let km = distance_km(self.parties[from].place, self.parties[to].place);
        ((km / km_per_hour) * HOUR as f64) as i64 + self.rng.gen_range(HOUR..6 * HOUR)
    }

    /// A verify event by `party` (of `pack`, or of a serial that names no
    /// pack) and the scan to label.
    fn verify(
        &mut self,
        party: usize,
        pack: Option<usize>,
        id: PackId,
        time: i64,
        pattern: Pattern,
    ) -> Result<(), SimError> {
        let entry = self.push(
            party,
            time,
            EventBody::Verify {
                pack: id,
                lot: None,
                expiry: None,
                location: None,
            },
            None,
        )?;
        if let Some(p) = pack {
            self.packs[p].history.push(entry);
        }
        self.scans.push(Scan {
            pack,
            party,
            time,
            pattern,
            entry,
        });
        Ok(())
    }

    fn verify_pack(
        &mut self,
        party: usize,
        pack: usize,
        time: i64,
        pattern: Pattern,
    ) -> Result<(), SimError> {
        let id = self.packs[pack].id.clone();
        self.verify(party, Some(pack), id, time, pattern)
    }

    fn random_serial(&mut self) -> Result<Serial, SimError> {
        let text: String = (0..12)
            .map(|_| CROCKFORD[self.rng.gen_range(0..CROCKFORD.len())] as char)
            .collect();
        Ok(Serial::parse(&text)?)
    }

    /// A pharmacy other than `not`, anywhere (or, with `far`, in another region).
    fn other_pharmacy(&mut self, not: usize, far: bool) -> usize {
        let region = self.parties[not].region;
        let candidates: Vec<usize> = self
            .pharmacies
            .iter()
            .flatten()
            .copied()
            .filter(|&p| p != not && (!far || self.parties[p].region != region))
            .collect();
        candidates.choose(&mut self.rng).copied().unwrap_or(not)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    fn between(&mut self, from: i64, to: i64) -> i64 {
        if to <= from {
            from
        } else {
            self.rng.gen_range(from..to)
        }
    }

    fn run_batch(&mut self, config: &SimConfig, b: usize) -> Result<(), SimError> {
        let rates = &config.rates;
        let maker = 1 + b % config.manufacturers;
        let start = T0 + b as i64 * 6 * HOUR;
        let gtin = Gtin::parse(&gs1_body("095060", maker * 100 + b % 3, 7)?)?;
        let lot = Lot::parse(&format!("L{b:05}"))?;
        let expired = self.chance(rates.expired_batch);
        let expires_at = if expired {
            start + self.rng.gen_range(8 * DAY..20 * DAY)
        } else {
            start + 700 * DAY
        };
        let recalled_at = self
            .chance(rates.recalled_batch)
            .then(|| start + self.rng.gen_range(6 * DAY..20 * DAY));
        if self.products.insert(gtin.clone()) {
            let name = format!("Product {gtin}");
            self.push(
                maker,
                start,
                EventBody::RegisterProduct {
                    gtin: gtin.clone(),
                    name,
                },
                None,
            )?;
        }
        let (expiry, manufactured) = batch_dates(&Clock::IDENTITY, expires_at);
        let registration = self.push(
            maker,
            start,
            EventBody::RegisterBatch {
                gtin: gtin.clone(),
                lot: lot.clone(),
                expiry,
                manufactured,
            },
            None,
        )?;
        self.entries[registration].expires_at = Some(expires_at);
        let batch = self.batches.len();
        self.batches.push(Batch {
            recalled_at,
            expires_at,
        });
        let first = self.packs.len();
        let mut serials = Vec::new();
        for _ in 0..config.packs_per_batch {
            let serial = self.random_serial()?;
            serials.push(serial.to_string());
            self.packs.push(Pack {
                id: PackId {
                    gtin: gtin.clone(),
                    serial,
                },
                batch,
                history: Vec::new(),
            });
        }
        let commission =
            self.push_items(maker, start + HOUR, serials, |set| EventBody::Commission {
                gtin: gtin.clone(),
                lot: lot.clone(),
                serials: set,
            })?;
        let packs: Vec<usize> = (first..self.packs.len()).collect();
        for &p in &packs {
            self.packs[p].history.push(commission);
        }
        if let Some(at) = recalled_at {
            self.push(
                maker,
                at,
                EventBody::Recall {
                    gtin: gtin.clone(),
                    lot: lot.clone(),
                    reason: "simulated quality defect".into(),
                    serials: None,
                },
                None,
            )?;
        }
        if self.chance(rates.serial_guessing) {
            self.guessing_burst(&gtin, start)?;
        }
        for chunk in packs.chunks(30) {
            let region = self.rng.gen_range(0..config.regions);
            let distributor = self.distributors[region];
            let delay = self.transit(maker, distributor, 60.0);
            let at = start + self.rng.gen_range(2 * HOUR..24 * HOUR);
            let (_, arrived) =
                self.consign(chunk, maker, distributor, at, delay, ShipmentPurpose::Sale)?;
            for sub in chunk.chunks(6) {
                self.deliver_to_pharmacy(config, sub, region, arrived)?;
            }
        }
        Ok(())
    }

    fn guessing_burst(&mut self, gtin: &Gtin, start: i64) -> Result<(), SimError> {
        let region = self.rng.gen_range(0..self.pharmacies.len());
        let Some(&rogue) = self.pharmacies[region].choose(&mut self.rng) else {
            return Ok(());
        };
        let mut time = start + self.rng.gen_range(DAY..20 * DAY);
        for _ in 0..self.rng.gen_range(10..40) {
            time += self.rng.gen_range(10_000_000..120_000_000);
            let id = PackId {
                gtin: gtin.clone(),
                serial: self.random_serial()?,
            };
            self.verify(rogue, None, id, time, Pattern::SerialGuessing)?;
        }
        Ok(())
    }

    /// From the region's distributor to one of its pharmacies, then each
    /// pack's life there.
    fn deliver_to_pharmacy(
        &mut self,
        config: &SimConfig,
        packs: &[usize],
        region: usize,
        arrived: i64,
    ) -> Result<(), SimError> {
        let rates = &config.rates;
        let distributor = self.distributors[region];
        let Some(&pharmacy) = self.pharmacies[region].choose(&mut self.rng) else {
            return Ok(());
        };
        let shipped = arrived + self.rng.gen_range(2 * HOUR..72 * HOUR);
        let mut delay = self.transit(distributor, pharmacy, 40.0);
        let late = self.chance(rates.late_receipt);
        if late {
            delay += self.rng.gen_range(12 * HOUR..48 * HOUR);
        }
        for &p in packs {
            if self.chance(rates.diversion) {
                let thief = self.other_pharmacy(pharmacy, true);
                let at = self.between(arrived + HOUR, shipped + delay);
                self.verify_pack(thief, p, at, Pattern::Diversion)?;
            }
        }
        let (_, received) = self.consign(
            packs,
            distributor,
            pharmacy,
            shipped,
            delay,
            ShipmentPurpose::Sale,
        )?;
        if late {
            if let Some(&p) = packs.first() {
                let at = self.between(received - 10 * HOUR, received - HOUR);
                self.verify_pack(pharmacy, p, at, Pattern::LateReceipt)?;
            }
        }
        for &p in packs {
            self.pack_life(config, p, pharmacy, received)?;
        }
        Ok(())
    }

    /// A pack at `pharmacy` from `received`: checked, dispensed, and the
    /// patterns that may befall it.
    fn pack_life(
        &mut self,
        config: &SimConfig,
        p: usize,
        pharmacy: usize,
        received: i64,
    ) -> Result<(), SimError> {
        let rates = &config.rates;
        let batch = &self.batches[self.packs[p].batch];
        let stop_at = batch.recalled_at.unwrap_or(i64::MAX).min(batch.expires_at);
        let shelf = self.rng.gen_range(2 * HOUR..25 * DAY);
        let mut dispense_at = received + shelf;
        // Ordinary stock checks happen while the stock is still fit to supply.
        let sellable_until = dispense_at.min(stop_at);
        if self.chance(0.3) {
            let at = self.between(received + HOUR, sellable_until - HOUR);
            self.verify_pack(pharmacy, p, at, Pattern::Normal)?;
        }
        if self.chance(rates.clone_before_dispense) {
            let clone = self.other_pharmacy(pharmacy, false);
            let at = self.between(received + HOUR, dispense_at - HOUR);
            self.verify_pack(clone, p, at, Pattern::CloneBeforeDispense)?;
        }
        if self.chance(rates.impossible_route) {
            let at = self.between(received + HOUR, dispense_at - 3 * HOUR);
            self.verify_pack(pharmacy, p, at, Pattern::Normal)?;
            let far = self.other_pharmacy(pharmacy, true);
            let later = at + self.rng.gen_range(5 * MINUTE..120 * MINUTE);
            self.verify_pack(far, p, later, Pattern::ImpossibleRoute)?;
        }
        if self.chance(rates.typo) {
            let mut text: Vec<u8> = self.packs[p].id.serial.as_str().as_bytes().to_vec();
            let at = self.rng.gen_range(0..text.len());
            text[at] = CROCKFORD[self.rng.gen_range(0..CROCKFORD.len())];
            let serial = Serial::parse(&String::from_utf8_lossy(&text))?;
            if serial != self.packs[p].id.serial {
                let id = PackId {
                    gtin: self.packs[p].id.gtin.clone(),
                    serial,
                };
                let time = self.between(received + HOUR, dispense_at);
                self.verify(pharmacy, None, id, time, Pattern::Typo)?;
            }
        }
        if dispense_at >= stop_at {
            // Stock that is recalled or expired before it sells, scanned to
            // be supplied anyway.
            let at = self.between(stop_at + HOUR, stop_at + 10 * DAY);
            return self.verify_pack(pharmacy, p, at, Pattern::ExpiredOrRecalled);
        }
        if self.chance(rates.legit_return) {
            if self.chance(0.5) {
                // A saleable return to the wholesaler, resold elsewhere.
                let region = self.parties[pharmacy].region;
                let distributor = self.distributors[region];
                let back = self.transit(pharmacy, distributor, 40.0);
                let (_, at_wholesaler) = self.consign(
                    &[p],
                    pharmacy,
                    distributor,
                    dispense_at,
                    back,
                    ShipmentPurpose::Return,
                )?;
                let check = at_wholesaler + self.rng.gen_range(HOUR..24 * HOUR);
                self.verify_pack(distributor, p, check, Pattern::LegitReturn)?;
                let Some(&next) = self.pharmacies[region].choose(&mut self.rng) else {
                    return Ok(());
                };
                let delay = self.transit(distributor, next, 40.0);
                let (_, again) = self.consign(
                    &[p],
                    distributor,
                    next,
                    check + HOUR,
                    delay,
                    ShipmentPurpose::Sale,
                )?;
                let at = again + self.rng.gen_range(HOUR..5 * DAY);
                self.verify_pack(next, p, at, Pattern::LegitReturn)?;
                return self.dispense(next, p, at + 5 * MINUTE);
            }
            // Dispensed, brought back unopened, reactivated within 10 days.
            self.dispense(pharmacy, p, dispense_at)?;
            let undo = dispense_at + self.rng.gen_range(HOUR..9 * DAY);
            let id = self.packs[p].id.clone();
            let entry = self.push(pharmacy, undo, EventBody::Reactivate { pack: id }, None)?;
            self.packs[p].history.push(entry);
            dispense_at = undo + self.rng.gen_range(HOUR..5 * DAY);
            let at = dispense_at - self.rng.gen_range(MINUTE..10 * MINUTE);
            self.verify_pack(pharmacy, p, at, Pattern::LegitReturn)?;
        } else {
            let at = dispense_at - self.rng.gen_range(MINUTE..10 * MINUTE);
            self.verify_pack(pharmacy, p, at, Pattern::Normal)?;
            if self.chance(rates.double_verification) {
                let again = at + self.rng.gen_range(MINUTE / 2..30 * MINUTE);
                self.verify_pack(pharmacy, p, again, Pattern::DoubleVerification)?;
            }
        }
        self.dispense(pharmacy, p, dispense_at)?;
        if self.chance(rates.clone_after_dispense) {
            let clone = self.other_pharmacy(pharmacy, false);
            let at = dispense_at + self.rng.gen_range(HOUR..60 * DAY);
            self.verify_pack(clone, p, at, Pattern::CloneAfterDispense)?;
        }
        if self.chance(rates.reintroduction) {
            let who = if self.chance(0.5) {
                pharmacy
            } else {
                self.other_pharmacy(pharmacy, false)
            };
            let at = dispense_at + self.rng.gen_range(11 * DAY..90 * DAY);
            self.verify_pack(who, p, at, Pattern::Reintroduction)?;
        }
        Ok(())
    }

    fn dispense(&mut self, pharmacy: usize, p: usize, at: i64) -> Result<(), SimError> {
        let body = EventBody::Decommission {
            pack: self.packs[p].id.clone(),
            reason: DecommissionReason::Dispensed,
        };
        let entry = self.push(pharmacy, at, body, None)?;
        self.packs[p].history.push(entry);
        Ok(())
    }

    /// Turns the scans into samples, in time order (the per-party count of
    /// unknown serials needs the past).
    fn samples(&mut self) -> Vec<Sample> {
        let places: HashMap<String, GeoPoint> = self
            .parties
            .iter()
            .map(|p| (p.gln.to_string(), p.place))
            .collect();
        let place_of = |gln: &str| places.get(gln).copied();
        for pack in &mut self.packs {
            let entries = &self.entries;
            pack.history.sort_by_key(|&e| (entries[e].history.time, e));
        }
        self.scans.sort_by_key(|s| (s.time, s.entry));
        let mut unknown: HashMap<usize, Vec<i64>> = HashMap::new();
        let mut samples = Vec::with_capacity(self.scans.len());
        for scan in &self.scans {
            let party = &self.parties[scan.party];
            let recent = unknown.entry(scan.party).or_default();
            recent.retain(|&t| t > scan.time - HOUR);
            let context = ScanContext {
                party: party.gln.to_string(),
                role: party.role,
                place: Some(party.place),
                time: scan.time,
                code_mismatch: false,
                party_unknown_scans_1h: recent.len() as u32,
            };
            let (history, state) = match scan.pack {
                Some(p) => {
                    let pack = &self.packs[p];
                    let history: Vec<HistoryEvent> = pack
                        .history
                        .iter()
                        .map(|&e| self.entries[e].history.clone())
                        .filter(|e| e.time < scan.time)
                        .collect();
                    let batch = &self.batches[pack.batch];
                    let recalled = batch.recalled_at.is_some_and(|t| t <= scan.time);
                    let expired = batch.expires_at <= scan.time;
                    let state = PackState::replay(&history, place_of, recalled, expired);
                    (history, state)
                }
                None => {
                    recent.push(scan.time);
                    (Vec::new(), PackState::replay(&[], place_of, false, false))
                }
            };
            let features = extract(&history, &state, &context);
            samples.push(Sample {
                rules_alert: rules_alert(&features),
                features,
                pattern: scan.pattern,
            });
        }
        samples
    }
}

/// A batch's expiry date (the day its expiry time falls on, on `clock`) and
/// manufacturing date (two years before).
fn batch_dates(clock: &Clock, expires_at: i64) -> (Expiry, chrono::NaiveDate) {
    let date = Timestamp::from_unix_micros(clock.map(expires_at))
        .unwrap_or_else(Timestamp::now)
        .date();
    (Expiry::from_date(date), date - chrono::Days::new(730))
}

/// Runs the simulation described by `config`, on the simulated calendar
/// (from 2026-01-04).
pub fn simulate(config: &SimConfig) -> Result<Simulation, SimError> {
    run(config, |_, _| Clock::IDENTITY)
}

/// Runs the simulation with every event time (and batch expiry) moved into
/// the `window` microseconds before `end` (Unix microseconds), order kept:
/// load for a live ledger. Labels and features are those of [`simulate`].
pub fn simulate_until(config: &SimConfig, end: i64, window: i64) -> Result<Simulation, SimError> {
    run(config, |first, last| {
        Clock::fitted(first, last, end, window)
    })
}

fn run(config: &SimConfig, clock: impl FnOnce(i64, i64) -> Clock) -> Result<Simulation, SimError> {
    let mut world = World::new(config)?;
    for b in 0..config.batches {
        world.run_batch(config, b)?;
    }
    let samples = world.samples();
    let mut order: Vec<usize> = (0..world.entries.len()).collect();
    order.sort_by_key(|&e| (world.entries[e].history.time, e));
    let time_of = |e: Option<&usize>| e.map_or(T0, |&e| world.entries[e].history.time);
    let clock = clock(time_of(order.first()), time_of(order.last()));
    let mut entries: Vec<Option<Entry>> = world.entries.into_iter().map(Some).collect();
    let mut events = Vec::with_capacity(order.len());
    for e in order {
        if let Some(entry) = entries[e].take() {
            events.push(sign(&world.parties, &clock, entry)?);
        }
    }
    Ok(Simulation {
        parties: world.parties,
        events,
        samples,
    })
}

/// Signs an entry at its time on `clock`.
fn sign(parties: &[SimParty], clock: &Clock, entry: Entry) -> Result<EventSubmission, SimError> {
    let Entry {
        actor,
        mut event,
        items,
        expires_at,
        ..
    } = entry;
    event.time = Timestamp::from_unix_micros(clock.map(event.time.unix_micros()))
        .unwrap_or_else(Timestamp::now);
    if let (
        Some(at),
        EventBody::RegisterBatch {
            expiry,
            manufactured,
            ..
        },
    ) = (expires_at, &mut event.body)
    {
        (*expiry, *manufactured) = batch_dates(clock, at);
    }
    Ok(EventSubmission::new(
        event.sign(&parties[actor].key)?,
        items,
    ))
}
