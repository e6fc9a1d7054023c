//! Custody events against their byte-level specification (`schema/README.md`):
//! the vectors of `testdata/events/`, round trips of every event kind,
//! strictness of the canonical log entry, signatures, item lists, validation,
//! unknown fields, and receipts.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::SigningKey;
use pedigree_schema::canonical::to_canonical_bytes;
use pedigree_schema::checkpoint::{Checkpoint, SignedCheckpoint};
use pedigree_schema::event::{
    canonical_item_order, item_set_root, DecommissionReason, EntryError, Event, EventBody,
    EventError, EventSubmission, GeoPoint, Item, ItemList, ItemSetRef, Role, ShipmentPurpose,
    SignedEvent, Timestamp, EVENT_VERSION, MAX_TEXT_LEN, SIGNING_DOMAIN,
};
use pedigree_schema::gs1::{check_digit, Expiry, Gln, Gtin, Lot, PackId, Serial, Sscc};
use pedigree_schema::keys::{PublicKey, SecretKey, Signature};
use pedigree_schema::merkle::{self, MemoryTree, VerifyError};
use pedigree_schema::note::{KeyName, NoteSigner};
use pedigree_schema::receipt::{ConsistencyProof, InclusionProof, Receipt, ReceiptError};
use proptest::prelude::*;
use proptest::strategy::Union;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// ---- Fixed TEST-ONLY parties and keys ----

const REGULATOR: &str = "9506000000015";
const MANUFACTURER: &str = "9506000000022";
const DISTRIBUTOR: &str = "9506000000039";
const PHARMACY: &str = "9506000000046";
const GTIN: &str = "09506000134352";
const LOT: &str = "B-2024/07";
const CASE: &str = "950600010000000018";
const LOG_ORIGIN: &str = "pedigree.example/test-log";

/// The names of the TEST-ONLY signing keys; each key's seed is
/// SHA-256("pedigree TEST-ONLY <name> key").
const KEY_NAMES: [&str; 5] = [
    "regulator",
    "manufacturer",
    "manufacturer-2",
    "distributor",
    "pharmacy",
];

fn seed_label(name: &str) -> String {
    format!("pedigree TEST-ONLY {name} key")
}

fn seed(name: &str) -> [u8; 32] {
    Sha256::digest(seed_label(name)).into()
}

fn secret(name: &str) -> SecretKey {
    SecretKey::from_seed(&seed(name))
}

fn public(name: &str) -> PublicKey {
    secret(name).public_key()
}

fn gln(text: &str) -> Gln {
    Gln::parse(text).unwrap()
}

fn gtin() -> Gtin {
    Gtin::parse(GTIN).unwrap()
}

fn lot() -> Lot {
    Lot::parse(LOT).unwrap()
}

fn case() -> Sscc {
    Sscc::parse(CASE).unwrap()
}

fn pack(serial: &str) -> PackId {
    PackId::new(gtin(), Serial::parse(serial).unwrap())
}

fn pack_item(serial: &str) -> String {
    Item::Pack(pack(serial)).to_string()
}

fn time(text: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
        .into()
}

fn committed(items: Vec<String>) -> (ItemSetRef, Vec<String>) {
    let items = canonical_item_order(items);
    (ItemSetRef::commit(&items), items)
}

fn case_item() -> String {
    Item::Case(case()).to_string()
}

/// One event of the vectors: a name, the key that signs it, and its items.
struct Sample {
    name: &'static str,
    signer: &'static str,
    event: Event,
    items: Option<Vec<String>>,
}

fn sample(
    name: &'static str,
    signer: &'static str,
    actor: &str,
    at: &str,
    body: EventBody,
) -> Sample {
    Sample {
        name,
        signer,
        event: Event::new(gln(actor), time(at), body),
        items: None,
    }
}

fn with_items(mut sample: Sample, items: Vec<String>) -> Sample {
    sample.items = Some(items);
    sample
}

/// At least one event of every kind, in the order a log would hold them.
fn samples() -> Vec<Sample> {
    let serials = ["SN0005", "SN0001", "SN0002", "SN0003", "SN0004"];
    let (serials, serial_list) = committed(serials.map(String::from).to_vec());
    let (case_contents, case_list) =
        committed(["SN0002", "SN0001", "SN0005"].map(pack_item).to_vec());
    let (shipped, shipped_list) =
        committed(vec![case_item(), pack_item("SN0004"), pack_item("SN0003")]);
    vec![
        sample(
            "register_party_regulator",
            "regulator",
            REGULATOR,
            "2024-03-01T09:00:00Z",
            EventBody::RegisterParty {
                party: gln(REGULATOR),
                name: "Test Medicines Agency".into(),
                role: Role::Regulator,
                key: public("regulator"),
                location: None,
            },
        ),
        sample(
            "register_party_manufacturer",
            "regulator",
            REGULATOR,
            "2024-03-01T09:00:01.000001Z",
            EventBody::RegisterParty {
                party: gln(MANUFACTURER),
                name: "Pharmacéutica \"Example\" B.V.".into(),
                role: Role::Manufacturer,
                key: public("manufacturer"),
                location: Some(GeoPoint {
                    lat_e6: 52_370_216,
                    lon_e6: 4_895_168,
                }),
            },
        ),
        sample(
            "rotate_key",
            "regulator",
            REGULATOR,
            "2024-03-01T09:00:02Z",
            EventBody::RotateKey {
                party: gln(MANUFACTURER),
                key: public("manufacturer-2"),
            },
        ),
        sample(
            "revoke_key",
            "regulator",
            REGULATOR,
            "2024-03-01T09:00:03Z",
            EventBody::RevokeKey {
                party: gln(MANUFACTURER),
                key: public("manufacturer"),
                effective: time("2024-03-01T09:00:02.5Z"),
                reason: "key rotated; old laptop retired".into(),
            },
        ),
        sample(
            "register_product",
            "manufacturer-2",
            MANUFACTURER,
            "2024-03-01T10:00:00Z",
            EventBody::RegisterProduct {
                gtin: gtin(),
                name: "Paracétamol 500 mg tablets \\ 20 €".into(),
            },
        ),
        sample(
            "register_batch",
            "manufacturer-2",
            MANUFACTURER,
            "2024-03-01T10:00:01Z",
            EventBody::RegisterBatch {
                gtin: gtin(),
                lot: lot(),
                expiry: Expiry::parse("270500").unwrap(),
                manufactured: NaiveDate::from_ymd_opt(2024, 2, 15).unwrap(),
            },
        ),
        with_items(
            sample(
                "commission",
                "manufacturer-2",
                MANUFACTURER,
                "2024-03-01T10:00:02Z",
                EventBody::Commission {
                    gtin: gtin(),
                    lot: lot(),
                    serials,
                },
            ),
            serial_list,
        ),
        with_items(
            sample(
                "aggregate",
                "manufacturer-2",
                MANUFACTURER,
                "2024-03-01T10:00:03Z",
                EventBody::Aggregate {
                    case: case(),
                    contents: case_contents,
                },
            ),
            case_list,
        ),
        with_items(
            sample(
                "ship",
                "manufacturer-2",
                MANUFACTURER,
                "2024-03-01T11:00:00Z",
                EventBody::Ship {
                    shipment: "SHP-2024:0001".into(),
                    to: gln(DISTRIBUTOR),
                    purpose: ShipmentPurpose::Sale,
                    contents: shipped,
                },
            ),
            shipped_list.clone(),
        ),
        with_items(
            sample(
                "receive",
                "distributor",
                DISTRIBUTOR,
                "2024-03-02T08:30:00Z",
                EventBody::Receive {
                    shipment: "SHP-2024:0001".into(),
                    from: gln(MANUFACTURER),
                    received: shipped,
                },
            ),
            shipped_list,
        ),
        sample(
            "disaggregate",
            "distributor",
            DISTRIBUTOR,
            "2024-03-02T08:31:00Z",
            EventBody::Disaggregate { case: case() },
        ),
        with_items(
            sample(
                "ship_return",
                "distributor",
                DISTRIBUTOR,
                "2024-03-02T09:00:00Z",
                EventBody::Ship {
                    shipment: "RET-7".into(),
                    to: gln(MANUFACTURER),
                    purpose: ShipmentPurpose::Return,
                    contents: ItemSetRef::commit(&[pack_item("SN0005")]),
                },
            ),
            vec![pack_item("SN0005")],
        ),
        sample(
            "verify_minimal",
            "pharmacy",
            PHARMACY,
            "2024-03-03T14:00:00Z",
            EventBody::Verify {
                pack: pack("SN0001"),
                lot: None,
                expiry: None,
                location: None,
            },
        ),
        sample(
            "verify",
            "pharmacy",
            PHARMACY,
            "2024-03-03T14:00:00.123456Z",
            EventBody::Verify {
                pack: pack("SN0001"),
                lot: Some(lot()),
                expiry: Some(Expiry::parse("270500").unwrap()),
                location: Some(GeoPoint {
                    lat_e6: -33_868_820,
                    lon_e6: 151_209_296,
                }),
            },
        ),
        sample(
            "decommission",
            "pharmacy",
            PHARMACY,
            "2024-03-03T14:00:01Z",
            EventBody::Decommission {
                pack: pack("SN0001"),
                reason: DecommissionReason::Dispensed,
            },
        ),
        sample(
            "reactivate",
            "pharmacy",
            PHARMACY,
            "2024-03-03T14:05:00Z",
            EventBody::Reactivate {
                pack: pack("SN0001"),
            },
        ),
        sample(
            "recall",
            "manufacturer-2",
            MANUFACTURER,
            "2024-03-04T07:00:00Z",
            EventBody::Recall {
                gtin: gtin(),
                lot: lot(),
                reason: "label misprint: wrong strength".into(),
                serials: None,
            },
        ),
        sample(
            "lift_recall",
            "regulator",
            REGULATOR,
            "2024-03-05T07:00:00Z",
            EventBody::LiftRecall {
                gtin: gtin(),
                lot: lot(),
                reason: "labels corrected".into(),
            },
        ),
        with_items(
            sample(
                "recall_serials",
                "regulator",
                REGULATOR,
                "2024-03-06T07:00:00Z",
                EventBody::Recall {
                    gtin: gtin(),
                    lot: lot(),
                    reason: "tampered packs reported".into(),
                    serials: Some(ItemSetRef::commit(&canonical_item_order(vec![
                        "SN0002".into(),
                        "SN0003".into(),
                    ]))),
                },
            ),
            vec!["SN0002".into(), "SN0003".into()],
        ),
    ]
}

fn signed(sample: &Sample) -> SignedEvent {
    sample.event.clone().sign(&secret(sample.signer)).unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Every derived value of one sample, as written in `vectors.json`.
fn vector(sample: &Sample) -> Value {
    let signed = signed(sample);
    let canonical = sample.event.canonical_bytes().unwrap();
    let entry = signed.entry_bytes().unwrap();
    let (signer, signature) = (signed.signer.to_string(), signed.signature.to_string());
    let submission = EventSubmission::new(signed, sample.items.clone());
    let mut vector = json!({
        "name": sample.name,
        "kind": sample.event.body.kind(),
        "signer": sample.signer,
        "event": serde_json::to_value(&sample.event).unwrap(),
        "canonical": text(&canonical),
        "canonical_hex": hex::encode(&canonical),
        "event_id": sample.event.id().unwrap().to_string(),
        "signer_public_key": signer,
        "signing_message_hex": hex::encode(sample.event.signing_message().unwrap()),
        "signature": signature,
        "entry": text(&entry),
        "entry_hex": hex::encode(&entry),
        "leaf_hash": hex::encode(merkle::leaf_hash(&entry)),
        "submission": serde_json::to_value(submission).unwrap(),
    });
    if let (Some(items), Some(object)) = (&sample.items, vector.as_object_mut()) {
        object.insert("items".into(), json!(items));
        object.insert("item_root".into(), json!(hex::encode(item_set_root(items))));
    }
    vector
}

fn entries() -> Vec<Vec<u8>> {
    samples()
        .iter()
        .map(|s| signed(s).entry_bytes().unwrap())
        .collect()
}

fn log_tree(entries: &[Vec<u8>]) -> MemoryTree {
    MemoryTree::from_leaf_hashes(entries.iter().map(|e| merkle::leaf_hash(e)))
}

fn vectors_file() -> String {
    let entries = entries();
    let tree = log_tree(&entries);
    let document = json!({
        "about": "Pedigree custody-event vectors (schema/README.md). Every key here is a TEST-ONLY key derived from a public seed: never use them for anything but tests. Regenerated and compared byte for byte by schema/tests/events.rs.",
        "signing_domain": text(SIGNING_DOMAIN),
        "keys": KEY_NAMES.iter().map(|name| json!({
            "name": name,
            "seed_label": seed_label(name),
            "seed_hex": hex::encode(seed(name)),
            "public_key": public(name).to_string(),
        })).collect::<Vec<_>>(),
        "vectors": samples().iter().map(vector).collect::<Vec<_>>(),
        "log": {
            "about": "RFC 9162 tree of the vectors' entries in the order listed",
            "size": tree.size(),
            "root": hex::encode(merkle::root(&tree, tree.size()).unwrap()),
        },
    });
    format!("{}\n", serde_json::to_string_pretty(&document).unwrap())
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/events/vectors.json")
}

// ---- Vectors ----

/// Regenerates `vectors.json` from the fixed seeds and compares it byte for
/// byte. `PEDIGREE_REGENERATE_TESTDATA=1` rewrites it instead.
#[test]
fn vectors_file_matches_its_regeneration() {
    let expected = vectors_file();
    let path = vectors_path();
    if std::env::var_os("PEDIGREE_REGENERATE_TESTDATA").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        actual, expected,
        "vectors.json differs from its regeneration"
    );
}

#[test]
fn vectors_cover_every_event_kind() {
    let kinds: std::collections::BTreeSet<&str> =
        samples().iter().map(|s| s.event.body.kind()).collect();
    assert_eq!(kinds.len(), 15, "{kinds:?}");
}

fn field<'a>(vector: &'a Value, name: &str) -> &'a str {
    vector[name]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no string {name}", vector["name"]))
}

/// Checks the file as another implementation would: each stated value is
/// recomputed from the one before it with nothing but the specification.
#[test]
fn vectors_file_is_self_consistent() {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors_path()).unwrap()).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    let mut leaves = Vec::new();
    for vector in vectors {
        let event: Event = serde_json::from_value(vector["event"].clone()).unwrap();
        event.validate().unwrap();
        let canonical = field(vector, "canonical").as_bytes();
        assert_eq!(
            hex::decode(field(vector, "canonical_hex")).unwrap(),
            canonical
        );
        assert_eq!(event.canonical_bytes().unwrap(), canonical);
        assert_eq!(
            hex::encode(Sha256::digest(canonical)),
            field(vector, "event_id")
        );
        let message = [SIGNING_DOMAIN, canonical].concat();
        assert_eq!(hex::encode(&message), field(vector, "signing_message_hex"));
        let key = PublicKey::parse(field(vector, "signer_public_key")).unwrap();
        let signature = Signature::parse(field(vector, "signature")).unwrap();
        key.verify(&message, &signature).unwrap();
        let entry = field(vector, "entry").as_bytes();
        assert_eq!(hex::decode(field(vector, "entry_hex")).unwrap(), entry);
        let expected_entry = format!(
            r#"{{"event":{},"signature":"{}","signer":"{}"}}"#,
            field(vector, "canonical"),
            field(vector, "signature"),
            field(vector, "signer_public_key")
        );
        assert_eq!(entry, expected_entry.as_bytes());
        SignedEvent::from_entry_bytes(entry)
            .unwrap()
            .verify_signature()
            .unwrap();
        let leaf = Sha256::new()
            .chain_update([0u8])
            .chain_update(entry)
            .finalize();
        assert_eq!(hex::encode(leaf), field(vector, "leaf_hash"));
        leaves.push(leaf.into());
        let submission: EventSubmission =
            serde_json::from_value(vector["submission"].clone()).unwrap();
        assert_eq!(submission.signed.entry_bytes().unwrap(), entry);
        let checked = submission.checked_items().unwrap();
        assert_eq!(checked.is_some(), vector.get("items").is_some());
        if let Some(items) = vector.get("items") {
            let items: Vec<String> = serde_json::from_value(items.clone()).unwrap();
            assert_eq!(
                hex::encode(item_set_root(&items)),
                field(vector, "item_root")
            );
            assert_eq!(submission.items.as_ref(), Some(&items));
        }
    }
    let root = merkle::root_from_leaf_hashes(&leaves);
    assert_eq!(file["log"]["size"], json!(vectors.len()));
    assert_eq!(file["log"]["root"], json!(hex::encode(root)));
}

#[test]
fn vector_keys_come_from_their_documented_seeds() {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors_path()).unwrap()).unwrap();
    for key in file["keys"].as_array().unwrap() {
        let seed: [u8; 32] = Sha256::digest(field(key, "seed_label")).into();
        assert_eq!(hex::encode(seed), field(key, "seed_hex"));
        let public = SigningKey::from_bytes(&seed).verifying_key();
        assert_eq!(
            PublicKey::from_bytes(public.as_bytes())
                .unwrap()
                .to_string(),
            field(key, "public_key")
        );
    }
}

// ---- Strategies: arbitrary valid events ----

fn with_check_digit(body: String) -> String {
    let digit = check_digit(&body).expect("digits only");
    format!("{body}{digit}")
}

fn digits(count: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9]{{{count}}}")).unwrap()
}

fn arb_gtin() -> impl Strategy<Value = Gtin> {
    digits(13).prop_map(|body| Gtin::parse(&with_check_digit(body)).unwrap())
}

fn arb_gln() -> impl Strategy<Value = Gln> {
    digits(12).prop_map(|body| Gln::parse(&with_check_digit(body)).unwrap())
}

fn arb_sscc() -> impl Strategy<Value = Sscc> {
    digits(17).prop_map(|body| Sscc::parse(&with_check_digit(body)).unwrap())
}

/// 1–20 characters of GS1 character set 82.
fn cset82() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[!\"%&'()*+,\\-./0-9:;<=>?A-Z_a-z]{1,20}").unwrap()
}

fn arb_serial() -> impl Strategy<Value = Serial> {
    cset82().prop_map(|s| Serial::parse(&s).unwrap())
}

fn arb_lot() -> impl Strategy<Value = Lot> {
    cset82().prop_map(|s| Lot::parse(&s).unwrap())
}

fn arb_pack() -> impl Strategy<Value = PackId> {
    (arb_gtin(), arb_serial()).prop_map(|(gtin, serial)| PackId::new(gtin, serial))
}

fn arb_expiry() -> impl Strategy<Value = Expiry> {
    (0..100u8, 1..=12u8, 0..=28u8)
        .prop_map(|(y, m, d)| Expiry::parse(&format!("{y:02}{m:02}{d:02}")).unwrap())
}

/// Days from 0001-01-01 to 9999-12-31.
fn arb_date() -> impl Strategy<Value = NaiveDate> {
    (1..=3_652_059i32).prop_map(|days| NaiveDate::from_num_days_from_ce_opt(days).unwrap())
}

/// 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z, in microseconds.
fn arb_timestamp() -> impl Strategy<Value = Timestamp> {
    (-62_167_219_200_000_000i64..=253_402_300_799_999_999)
        .prop_map(|micros| Timestamp::from_unix_micros(micros).unwrap())
}

fn arb_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(|seed| SecretKey::from_seed(&seed).public_key())
}

/// Valid free text: no control characters, quotes and non-ASCII welcome.
fn arb_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[\\PC\"\\\\é€𝄞]{1,40}").unwrap()
}

fn arb_geo() -> impl Strategy<Value = GeoPoint> {
    (-90_000_000..=90_000_000i32, -180_000_000..=180_000_000i32)
        .prop_map(|(lat_e6, lon_e6)| GeoPoint { lat_e6, lon_e6 })
}

fn arb_shipment() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9._:-]{1,64}").unwrap()
}

/// Any commitment with a count the canonical form can carry.
fn arb_item_set() -> impl Strategy<Value = ItemSetRef> {
    (any::<[u8; 32]>(), 1..=(1u64 << 53) - 1).prop_map(|(root, count)| ItemSetRef { root, count })
}

fn arb_role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Manufacturer),
        Just(Role::Distributor),
        Just(Role::Pharmacy),
        Just(Role::Regulator),
    ]
}

fn arb_reason() -> impl Strategy<Value = DecommissionReason> {
    prop_oneof![
        Just(DecommissionReason::Dispensed),
        Just(DecommissionReason::Destroyed),
        Just(DecommissionReason::Stolen),
        Just(DecommissionReason::Sample),
        Just(DecommissionReason::Exported),
        Just(DecommissionReason::Locked),
    ]
}

/// Every event kind, each with arbitrary valid fields.
fn arb_body() -> impl Strategy<Value = EventBody> {
    Union::new(vec![
        (
            arb_gln(),
            arb_text(),
            arb_role(),
            arb_key(),
            proptest::option::of(arb_geo()),
        )
            .prop_map(
                |(party, name, role, key, location)| EventBody::RegisterParty {
                    party,
                    name,
                    role,
                    key,
                    location,
                },
            )
            .boxed(),
        (arb_gln(), arb_key())
            .prop_map(|(party, key)| EventBody::RotateKey { party, key })
            .boxed(),
        (arb_gln(), arb_key(), arb_timestamp(), arb_text())
            .prop_map(|(party, key, effective, reason)| EventBody::RevokeKey {
                party,
                key,
                effective,
                reason,
            })
            .boxed(),
        (arb_gtin(), arb_text())
            .prop_map(|(gtin, name)| EventBody::RegisterProduct { gtin, name })
            .boxed(),
        (arb_gtin(), arb_lot(), arb_expiry(), arb_date())
            .prop_map(
                |(gtin, lot, expiry, manufactured)| EventBody::RegisterBatch {
                    gtin,
                    lot,
                    expiry,
                    manufactured,
                },
            )
            .boxed(),
        (arb_gtin(), arb_lot(), arb_item_set())
            .prop_map(|(gtin, lot, serials)| EventBody::Commission { gtin, lot, serials })
            .boxed(),
        (arb_sscc(), arb_item_set())
            .prop_map(|(case, contents)| EventBody::Aggregate { case, contents })
            .boxed(),
        arb_sscc()
            .prop_map(|case| EventBody::Disaggregate { case })
            .boxed(),
        (arb_shipment(), arb_gln(), any::<bool>(), arb_item_set())
            .prop_map(|(shipment, to, sale, contents)| EventBody::Ship {
                shipment,
                to,
                purpose: if sale {
                    ShipmentPurpose::Sale
                } else {
                    ShipmentPurpose::Return
                },
                contents,
            })
            .boxed(),
        (arb_shipment(), arb_gln(), arb_item_set())
            .prop_map(|(shipment, from, received)| EventBody::Receive {
                shipment,
                from,
                received,
            })
            .boxed(),
        (arb_pack(), arb_reason())
            .prop_map(|(pack, reason)| EventBody::Decommission { pack, reason })
            .boxed(),
        arb_pack()
            .prop_map(|pack| EventBody::Reactivate { pack })
            .boxed(),
        (arb_gtin(), arb_lot(), arb_text())
            .prop_map(|(gtin, lot, reason)| EventBody::Recall {
                gtin,
                lot,
                reason,
                serials: None,
            })
            .boxed(),
        (arb_gtin(), arb_lot(), arb_text())
            .prop_map(|(gtin, lot, reason)| EventBody::LiftRecall { gtin, lot, reason })
            .boxed(),
        (
            arb_pack(),
            proptest::option::of(arb_lot()),
            proptest::option::of(arb_expiry()),
            proptest::option::of(arb_geo()),
        )
            .prop_map(|(pack, lot, expiry, location)| EventBody::Verify {
                pack,
                lot,
                expiry,
                location,
            })
            .boxed(),
    ])
}

fn arb_event() -> impl Strategy<Value = Event> {
    (arb_gln(), arb_timestamp(), arb_body())
        .prop_map(|(actor, time, body)| Event::new(actor, time, body))
}

fn arb_signed() -> impl Strategy<Value = SignedEvent> {
    (arb_event(), any::<[u8; 32]>())
        .prop_map(|(event, seed)| event.sign(&SecretKey::from_seed(&seed)).unwrap())
}

/// Writes JSON with every object's keys in reverse order: the same value,
/// not the canonical bytes.
fn reversed_keys(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .rev()
                .map(|(key, item)| format!("{}:{}", json!(key), reversed_keys(item)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(reversed_keys).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

// ---- Round trips and canonical form ----

proptest! {
    #[test]
    fn every_event_kind_round_trips_through_json(event in arb_event()) {
        event.validate().unwrap();
        let text = serde_json::to_string(&event).unwrap();
        prop_assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event.clone());
        let canonical = event.canonical_bytes().unwrap();
        prop_assert_eq!(serde_json::from_slice::<Event>(&canonical).unwrap(), event);
    }

    #[test]
    fn canonical_bytes_are_stable_under_reparsing(event in arb_event()) {
        let canonical = event.canonical_bytes().unwrap();
        let value: Value = serde_json::from_slice(&canonical).unwrap();
        prop_assert_eq!(to_canonical_bytes(&value).unwrap(), canonical.clone());
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let reparsed: Event = serde_json::from_str(&pretty).unwrap();
        prop_assert_eq!(reparsed.canonical_bytes().unwrap(), canonical.clone());
        prop_assert_eq!(
            event.id().unwrap().0,
            <[u8; 32]>::from(Sha256::digest(&canonical))
        );
        prop_assert_eq!(
            event.signing_message().unwrap(),
            [SIGNING_DOMAIN, canonical.as_slice()].concat()
        );
    }

    #[test]
    fn entries_round_trip_and_verify(signed in arb_signed()) {
        let entry = signed.entry_bytes().unwrap();
        let decoded = SignedEvent::from_entry_bytes(&entry).unwrap();
        decoded.verify_signature().unwrap();
        prop_assert_eq!(decoded, signed);
    }

    #[test]
    fn entries_refuse_other_encodings_of_the_same_value(signed in arb_signed()) {
        let entry = signed.entry_bytes().unwrap();
        let value: Value = serde_json::from_slice(&entry).unwrap();
        let reordered = reversed_keys(&value);
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let spaced = text(&entry).replacen(':', ": ", 1);
        let padded = format!(" {}\n", text(&entry));
        for other in [reordered, pretty, spaced, padded] {
            // Each is the same JSON value, so only the canonical check refuses it.
            prop_assert_eq!(serde_json::from_str::<Value>(&other).unwrap(), value.clone());
            prop_assert_eq!(
                SignedEvent::from_entry_bytes(other.as_bytes()),
                Err(EntryError::NotCanonical)
            );
        }
    }

    #[test]
    fn any_changed_entry_byte_breaks_decoding_or_signature(
        signed in arb_signed(),
        position in any::<prop::sample::Index>(),
        flip in 1..=255u8,
    ) {
        let mut entry = signed.entry_bytes().unwrap();
        let at = position.index(entry.len());
        entry[at] ^= flip;
        if let Ok(changed) = SignedEvent::from_entry_bytes(&entry) {
            prop_assert!(changed.verify_signature().is_err(), "byte {} accepted", at);
        }
    }

    /// A verifier decodes the event, re-encodes it and verifies the signature
    /// over that; a changed byte is caught by one or the other.
    #[test]
    fn any_changed_event_byte_breaks_decoding_or_signature(
        signed in arb_signed(),
        position in any::<prop::sample::Index>(),
        flip in 1..=255u8,
    ) {
        let mut bytes = signed.event.canonical_bytes().unwrap();
        let at = position.index(bytes.len());
        bytes[at] ^= flip;
        if let Ok(event) = serde_json::from_slice::<Event>(&bytes) {
            if event.canonical_bytes().unwrap() == bytes {
                let forged = SignedEvent { event, ..signed };
                prop_assert!(forged.verify_signature().is_err(), "byte {} accepted", at);
            }
        }
    }

    #[test]
    fn another_key_does_not_verify(signed in arb_signed(), seed in any::<[u8; 32]>()) {
        let other = SecretKey::from_seed(&seed).public_key();
        prop_assume!(other != signed.signer);
        let swapped = SignedEvent { signer: other, ..signed };
        prop_assert!(matches!(
            swapped.verify_signature(),
            Err(EventError::Signature(_))
        ));
    }

    #[test]
    fn timestamps_round_trip_with_microseconds_and_z(time in arb_timestamp()) {
        let text = serde_json::to_value(time).unwrap();
        let text = text.as_str().unwrap();
        prop_assert_eq!(text.len(), 27, "{}", text);
        prop_assert!(text.ends_with('Z'));
        prop_assert_eq!(&text[19..20], ".");
        prop_assert_eq!(serde_json::from_value::<Timestamp>(json!(text)).unwrap(), time);
        prop_assert_eq!(Timestamp::from_unix_micros(time.unix_micros()), Some(time));
    }
}

#[test]
fn entries_refuse_escaped_and_renamed_forms() {
    let signed = signed(&samples()[1]);
    let entry = text(&signed.entry_bytes().unwrap());
    assert!(entry.contains("Pharmacéutica"));
    for (from, to) in [
        ("é", "\\u00e9"),
        ("\"kind\"", "\"\\u006bind\""),
        ("T09:00:01.000001Z", "T10:00:01.000001+01:00"),
        ("\"v\":1", "\"v\":1 "),
    ] {
        let other = entry.replacen(from, to, 1);
        assert_eq!(
            SignedEvent::from_entry_bytes(other.as_bytes()),
            Err(EntryError::NotCanonical),
            "{to}"
        );
    }
    for number in ["1.0", "1e0", "01", "-0"] {
        let other = entry.replacen("\"v\":1", &format!("\"v\":{number}"), 1);
        assert!(
            SignedEvent::from_entry_bytes(other.as_bytes()).is_err(),
            "{number}"
        );
    }
}

#[test]
fn timestamps_keep_microseconds_and_refuse_what_rfc3339_cannot_write() {
    let t = time("2024-03-01T10:00:01.1234569+01:00");
    assert_eq!(t.to_string(), "2024-03-01T09:00:01.123456Z");
    assert!(serde_json::from_value::<Timestamp>(json!("2024-03-01T12:34:60Z")).is_err());
    assert!(serde_json::from_value::<Timestamp>(json!("2024-03-01")).is_err());
    let leap = DateTime::parse_from_rfc3339("2016-12-31T23:59:60.5Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        Timestamp::from(leap).to_string(),
        "2017-01-01T00:00:00.500000Z"
    );
    for micros in [253_402_300_800_000_000i64, -62_167_219_200_000_001] {
        let outside = Timestamp::from_unix_micros(micros).unwrap();
        assert!(serde_json::to_value(outside).is_err(), "{outside}");
    }
}

#[test]
fn ship_always_writes_its_purpose() {
    let ship = samples()
        .into_iter()
        .find(|s| s.name == "ship")
        .unwrap()
        .event;
    let canonical = text(&ship.canonical_bytes().unwrap());
    assert!(canonical.contains(r#""purpose":"sale""#), "{canonical}");
    let mut value = serde_json::to_value(&ship).unwrap();
    value["body"].as_object_mut().unwrap().remove("purpose");
    let parsed: Event = serde_json::from_value(value).unwrap();
    assert_eq!(parsed, ship);
}

#[test]
fn item_set_root_is_the_rfc9162_tree_head_of_the_item_bytes() {
    let items = ["a", "b", "c"];
    let leaf = |s: &str| merkle::leaf_hash(s.as_bytes());
    let expected = merkle::node_hash(&merkle::node_hash(&leaf("a"), &leaf("b")), &leaf("c"));
    assert_eq!(item_set_root(&items), expected);
    assert_eq!(
        ItemSetRef::commit(&items),
        ItemSetRef {
            root: expected,
            count: 3
        }
    );
}

#[test]
fn item_sets_beyond_the_canonical_integer_range_cannot_be_signed() {
    let event = Event::new(
        gln(MANUFACTURER),
        time("2024-03-01T10:00:00Z"),
        EventBody::Aggregate {
            case: case(),
            contents: ItemSetRef {
                root: [0; 32],
                count: 1 << 53,
            },
        },
    );
    assert!(matches!(
        event.sign(&secret("manufacturer")),
        Err(EventError::Canonical(_))
    ));
}

// ---- Item lists ----

fn arb_item_text() -> impl Strategy<Value = String> {
    prop_oneof![
        arb_pack().prop_map(|p| Item::Pack(p).to_string()),
        arb_sscc().prop_map(|s| Item::Case(s).to_string()),
    ]
}

/// A sorted, duplicate-free list of at least two items of either kind, with
/// whether they are serials.
fn arb_item_list() -> impl Strategy<Value = (bool, Vec<String>)> {
    prop_oneof![
        proptest::collection::vec(arb_item_text(), 2..12).prop_map(|v| (false, v)),
        proptest::collection::vec(cset82(), 2..12).prop_map(|v| (true, v)),
    ]
    .prop_map(|(serials, items)| (serials, canonical_item_order(items)))
    .prop_filter("two distinct items", |(_, items)| items.len() >= 2)
}

fn items_event(serials: bool, set: ItemSetRef) -> Event {
    let body = if serials {
        EventBody::Commission {
            gtin: gtin(),
            lot: lot(),
            serials: set,
        }
    } else {
        EventBody::Ship {
            shipment: "S-1".into(),
            to: gln(DISTRIBUTOR),
            purpose: ShipmentPurpose::Sale,
            contents: set,
        }
    };
    Event::new(gln(MANUFACTURER), time("2024-03-01T10:00:00Z"), body)
}

fn submission(serials: bool, set: ItemSetRef, items: Vec<String>) -> EventSubmission {
    let signed = items_event(serials, set)
        .sign(&secret("manufacturer"))
        .unwrap();
    EventSubmission::new(signed, Some(items))
}

/// Submits `items` under a commitment to exactly those items.
fn committed_submission(serials: bool, items: Vec<String>) -> EventSubmission {
    submission(serials, ItemSetRef::commit(&items), items)
}

proptest! {
    #[test]
    fn correct_item_lists_are_accepted((serials, items) in arb_item_list()) {
        let list = committed_submission(serials, items.clone()).checked_items().unwrap();
        let texts: Vec<String> = match list {
            Some(ItemList::Serials(list)) if serials => list.iter().map(|s| s.to_string()).collect(),
            Some(ItemList::Items(list)) if !serials => list.iter().map(|i| i.to_string()).collect(),
            other => return Err(TestCaseError::fail(format!("wrong list {other:?}"))),
        };
        prop_assert_eq!(texts, items);
    }

    #[test]
    fn unsorted_item_lists_are_refused(
        (serials, mut items) in arb_item_list(),
        position in any::<prop::sample::Index>(),
    ) {
        let at = position.index(items.len() - 1);
        items.swap(at, at + 1);
        let result = committed_submission(serials, items).checked_items();
        prop_assert!(matches!(result, Err(EventError::ItemOrder { index }) if index == at + 1), "{:?}", result);
    }

    #[test]
    fn duplicated_items_are_refused(
        (serials, mut items) in arb_item_list(),
        position in any::<prop::sample::Index>(),
    ) {
        let at = position.index(items.len());
        items.insert(at, items[at].clone());
        let result = committed_submission(serials, items).checked_items();
        prop_assert!(matches!(result, Err(EventError::ItemOrder { index }) if index == at + 1), "{:?}", result);
    }

    #[test]
    fn wrong_item_counts_are_refused((serials, items) in arb_item_list(), more in any::<bool>()) {
        let mut set = ItemSetRef::commit(&items);
        set.count = if more { set.count + 1 } else { set.count - 1 };
        let expected = set.count;
        let result = submission(serials, set, items.clone()).checked_items();
        prop_assert!(matches!(result, Err(EventError::ItemCount { expected: e, given }) if e == expected && given == items.len()), "{:?}", result);
    }

    #[test]
    fn wrong_item_roots_are_refused(
        (serials, items) in arb_item_list(),
        byte in 0..32usize,
        flip in 1..=255u8,
    ) {
        let mut set = ItemSetRef::commit(&items);
        set.root[byte] ^= flip;
        prop_assert!(matches!(
            submission(serials, set, items).checked_items(),
            Err(EventError::ItemRoot)
        ));
    }

    /// Items committed in another order are another set.
    #[test]
    fn roots_of_items_in_another_order_are_refused((serials, items) in arb_item_list()) {
        let reversed: Vec<&String> = items.iter().rev().collect();
        let set = ItemSetRef::commit(&reversed.iter().map(|s| s.as_bytes()).collect::<Vec<_>>());
        prop_assert!(matches!(
            submission(serials, set, items).checked_items(),
            Err(EventError::ItemRoot)
        ));
    }
}

#[test]
fn malformed_items_are_refused_even_when_committed() {
    let pack = pack_item("SN1");
    let bad_check = format!("(01){}(21)SN1", "09506000134353");
    let cases: [(bool, Vec<String>); 7] = [
        (false, vec!["(01)0950600013435(21)SN1".into()]),
        (false, vec![bad_check]),
        (false, vec!["(02)09506000134352".into()]),
        (false, vec![pack.clone(), "(00)950600010000000017".into()]),
        (false, vec![pack.replace("(21)", "(21 )")]),
        (true, vec!["with space".into()]),
        (true, vec!["A".repeat(21)]),
    ];
    for (serials, items) in cases {
        let items = canonical_item_order(items);
        let result = committed_submission(serials, items.clone()).checked_items();
        assert!(
            matches!(
                result,
                Err(EventError::Item { .. } | EventError::ItemSyntax { .. })
            ),
            "{items:?}: {result:?}"
        );
    }
}

#[test]
fn item_lists_must_match_whether_the_kind_commits_to_items() {
    let ship = committed_submission(false, vec![pack_item("SN1")]);
    let missing = EventSubmission::new(ship.signed, None);
    assert!(matches!(
        missing.checked_items(),
        Err(EventError::MissingItems)
    ));
    let recall = signed(samples().iter().find(|s| s.name == "recall").unwrap());
    assert_eq!(
        EventSubmission::new(recall.clone(), None)
            .checked_items()
            .unwrap(),
        None
    );
    assert!(matches!(
        EventSubmission::new(recall, Some(vec![pack_item("SN1")])).checked_items(),
        Err(EventError::UnexpectedItems)
    ));
}

#[test]
fn item_text_form_round_trips() {
    for text in [pack_item("(21)/x"), case_item()] {
        assert_eq!(Item::parse_at(&text, 0).unwrap().to_string(), text);
    }
    assert_eq!(pack_item("A"), "(01)09506000134352(21)A");
    assert_eq!(case_item(), "(00)950600010000000018");
}

// ---- Validation ----

fn valid(name: &str) -> Event {
    samples()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no sample {name}"))
        .event
}

fn invalid(name: &str, change: impl FnOnce(&mut EventBody)) -> EventError {
    let mut event = valid(name);
    change(&mut event.body);
    event.validate().unwrap_err()
}

fn text_field(body: &mut EventBody) -> &mut String {
    match body {
        EventBody::RegisterParty { name, .. } | EventBody::RegisterProduct { name, .. } => name,
        EventBody::RevokeKey { reason, .. }
        | EventBody::Recall { reason, .. }
        | EventBody::LiftRecall { reason, .. } => reason,
        other => panic!("{} has no text field", other.kind()),
    }
}

#[test]
fn every_sample_is_valid() {
    for sample in samples() {
        sample.event.validate().unwrap();
    }
}

#[test]
fn text_fields_must_be_short_nonempty_and_free_of_control_characters() {
    for name in [
        "register_party_manufacturer",
        "register_product",
        "revoke_key",
        "recall",
        "lift_recall",
    ] {
        for bad in [
            String::new(),
            "line\nbreak".into(),
            "tab\there".into(),
            "nul\0".into(),
            "\u{85}next line".into(),
            "é".repeat(MAX_TEXT_LEN + 1),
        ] {
            let err = invalid(name, |body| *text_field(body) = bad.clone());
            assert!(
                matches!(err, EventError::Text { .. }),
                "{name} {bad:?}: {err}"
            );
        }
        let mut event = valid(name);
        *text_field(&mut event.body) = "é".repeat(MAX_TEXT_LEN);
        event.validate().unwrap();
    }
}

#[test]
fn shipment_ids_must_be_1_to_64_safe_characters() {
    for name in ["ship", "receive"] {
        for bad in ["", "has space", "slash/", "é", &"x".repeat(65)] {
            let err = invalid(name, |body| match body {
                EventBody::Ship { shipment, .. } | EventBody::Receive { shipment, .. } => {
                    *shipment = bad.into()
                }
                _ => unreachable!(),
            });
            assert!(matches!(err, EventError::ShipmentId), "{bad:?}: {err}");
        }
    }
}

fn location(body: &mut EventBody) -> &mut Option<GeoPoint> {
    match body {
        EventBody::RegisterParty { location, .. } | EventBody::Verify { location, .. } => location,
        other => panic!("{} has no location", other.kind()),
    }
}

#[test]
fn locations_must_be_on_the_globe() {
    let outside = [
        (90_000_001, 0),
        (-90_000_001, 0),
        (0, 180_000_001),
        (0, -180_000_001),
        (i32::MIN, 0),
        (0, i32::MIN),
        (i32::MAX, i32::MAX),
    ];
    for name in ["register_party_manufacturer", "verify"] {
        for (lat_e6, lon_e6) in outside {
            let err = invalid(name, |body| {
                *location(body) = Some(GeoPoint { lat_e6, lon_e6 })
            });
            assert!(
                matches!(err, EventError::Location),
                "{lat_e6},{lon_e6}: {err}"
            );
        }
        for (lat_e6, lon_e6) in [(90_000_000, -180_000_000), (-90_000_000, 180_000_000)] {
            let mut event = valid(name);
            *location(&mut event.body) = Some(GeoPoint { lat_e6, lon_e6 });
            event.validate().unwrap();
        }
    }
}

#[test]
fn item_sets_must_not_be_empty_except_a_receipt_of_nothing() {
    for name in ["commission", "aggregate", "ship"] {
        let err = invalid(name, |body| match body {
            EventBody::Commission { serials: set, .. }
            | EventBody::Aggregate { contents: set, .. }
            | EventBody::Ship { contents: set, .. } => *set = ItemSetRef::commit::<&str>(&[]),
            _ => unreachable!(),
        });
        assert!(matches!(err, EventError::EmptyItemSet), "{name}: {err}");
    }
    let mut receipt = valid("receive");
    if let EventBody::Receive { received, .. } = &mut receipt.body {
        *received = ItemSetRef::commit::<&str>(&[]);
    }
    receipt
        .validate()
        .expect("an empty receipt records that nothing arrived");
}

#[test]
fn other_versions_are_refused() {
    for sample in samples() {
        let mut event = sample.event;
        event.v = EVENT_VERSION + 1;
        assert!(matches!(event.validate(), Err(EventError::Version(2))));
        event.v = 0;
        assert!(matches!(event.validate(), Err(EventError::Version(0))));
    }
}

// ---- Unknown fields ----

/// Every object inside `value`, as a path of keys, except those under `skip`.
fn object_paths(value: &Value, skip: &str, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Value::Object(map) = value {
        out.push(path.clone());
        for (key, item) in map {
            if key != skip {
                path.push(key.clone());
                object_paths(item, skip, path, out);
                path.pop();
            }
        }
    }
}

fn with_unknown_field(value: &Value, path: &[String]) -> Value {
    let mut changed = value.clone();
    let target = path
        .iter()
        .fold(&mut changed, |v, key| &mut v[key.as_str()]);
    target
        .as_object_mut()
        .unwrap()
        .insert("unknown".into(), json!(0));
    changed
}

fn assert_unknown_fields_refused<T: serde::de::DeserializeOwned>(value: &Value, skip: &str) {
    let mut paths = Vec::new();
    object_paths(value, skip, &mut Vec::new(), &mut paths);
    assert!(!paths.is_empty());
    serde_json::from_value::<T>(value.clone()).unwrap();
    for path in paths {
        let changed = with_unknown_field(value, &path);
        let err = serde_json::from_value::<T>(changed).err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.to_string().contains("unknown")),
            "unknown field at {path:?} accepted ({err:?})"
        );
    }
}

#[test]
fn unknown_fields_are_refused_at_every_level() {
    for sample in samples() {
        let signed = signed(&sample);
        let submission = EventSubmission::new(signed.clone(), sample.items.clone());
        assert_unknown_fields_refused::<Event>(
            &serde_json::to_value(&sample.event).unwrap(),
            "pack",
        );
        assert_unknown_fields_refused::<SignedEvent>(
            &serde_json::to_value(&signed).unwrap(),
            "pack",
        );
        assert_unknown_fields_refused::<EventSubmission>(
            &serde_json::to_value(&submission).unwrap(),
            "pack",
        );
    }
}

/// `PackId` (gs1/ids.rs) derives `Deserialize` without
/// `deny_unknown_fields`, so `{"gtin":…,"serial":…,"x":0}` is accepted as a
/// pack; log entries still refuse it as non-canonical.
#[test]
fn unknown_fields_are_refused_inside_pack_ids() {
    let event = serde_json::to_value(valid("decommission")).unwrap();
    let changed = with_unknown_field(&event, &["body".into(), "pack".into()]);
    assert!(serde_json::from_value::<Event>(changed).is_err());
}

#[test]
fn entries_with_unknown_fields_inside_pack_ids_are_not_canonical() {
    let signed = signed(
        &samples()
            .into_iter()
            .find(|s| s.name == "decommission")
            .unwrap(),
    );
    let value = serde_json::to_value(&signed).unwrap();
    let changed = with_unknown_field(&value, &["event".into(), "body".into(), "pack".into()]);
    let bytes = to_canonical_bytes(&changed).unwrap();
    assert!(SignedEvent::from_entry_bytes(&bytes).is_err());
}

// ---- Receipts ----

fn log_signer(label: &str) -> NoteSigner {
    NoteSigner::new(
        KeyName::parse(LOG_ORIGIN).unwrap(),
        SigningKey::from_bytes(&Sha256::digest(label).into()),
    )
}

struct Log {
    entries: Vec<Vec<u8>>,
    tree: MemoryTree,
}

impl Log {
    fn new() -> Self {
        let entries = entries();
        let tree = log_tree(&entries);
        Self { entries, tree }
    }

    fn checkpoint(&self, size: u64, signer: &NoteSigner) -> SignedCheckpoint {
        let root = merkle::root(&self.tree, size).unwrap();
        let checkpoint = Checkpoint::new(LOG_ORIGIN, size, root, None, Vec::new()).unwrap();
        SignedCheckpoint::sign(checkpoint, signer).unwrap()
    }

    fn receipt(&self, index: u64, checkpoint: &SignedCheckpoint) -> Receipt {
        let entry = &self.entries[index as usize];
        let size = checkpoint.checkpoint().size();
        Receipt {
            event_id: SignedEvent::from_entry_bytes(entry).unwrap().id().unwrap(),
            index,
            leaf_hash: merkle::leaf_hash(entry),
            checkpoint: checkpoint.to_string(),
            inclusion_proof: merkle::inclusion_proof(&self.tree, index, size).unwrap(),
        }
    }
}

#[test]
fn receipts_verify_for_every_entry_and_survive_json() {
    let log = Log::new();
    let signer = log_signer("pedigree TEST-ONLY log key");
    let checkpoint = log.checkpoint(log.tree.size(), &signer);
    for (index, entry) in log.entries.iter().enumerate() {
        let receipt = log.receipt(index as u64, &checkpoint);
        let json = serde_json::to_string(&receipt).unwrap();
        let receipt: Receipt = serde_json::from_str(&json).unwrap();
        let verified = receipt.verify(&signer.verifier(), entry).unwrap();
        assert_eq!(verified.checkpoint(), checkpoint.checkpoint());
    }
}

#[test]
fn receipts_fail_for_another_entry_or_index() {
    let log = Log::new();
    let signer = log_signer("pedigree TEST-ONLY log key");
    let checkpoint = log.checkpoint(log.tree.size(), &signer);
    let receipt = log.receipt(3, &checkpoint);
    assert!(matches!(
        receipt.verify(&signer.verifier(), &log.entries[4]),
        Err(ReceiptError::LeafHash)
    ));
    for index in [2, 4, log.tree.size() - 1] {
        let moved = Receipt {
            index,
            ..receipt.clone()
        };
        assert!(matches!(
            moved.verify(&signer.verifier(), &log.entries[3]),
            Err(ReceiptError::Inclusion(_))
        ));
    }
    let beyond = Receipt {
        index: log.tree.size(),
        ..receipt.clone()
    };
    assert!(matches!(
        beyond.verify(&signer.verifier(), &log.entries[3]),
        Err(ReceiptError::Inclusion(VerifyError::Proof(_)))
    ));
    let mut tampered = receipt;
    tampered.inclusion_proof[0][0] ^= 1;
    assert!(matches!(
        tampered.verify(&signer.verifier(), &log.entries[3]),
        Err(ReceiptError::Inclusion(_))
    ));
}

#[test]
fn receipts_fail_with_a_forged_checkpoint() {
    let log = Log::new();
    let signer = log_signer("pedigree TEST-ONLY log key");
    let forger = log_signer("pedigree TEST-ONLY forger key");
    let forged = log.checkpoint(log.tree.size(), &forger);
    let receipt = log.receipt(3, &forged);
    assert!(matches!(
        receipt.verify(&signer.verifier(), &log.entries[3]),
        Err(ReceiptError::Checkpoint(_))
    ));
    // The genuine note with its size edited no longer carries a valid signature.
    let genuine = log.checkpoint(log.tree.size(), &signer).to_string();
    let size = log.tree.size().to_string();
    let edited = genuine.replacen(&format!("\n{size}\n"), "\n99\n", 1);
    assert_ne!(edited, genuine);
    let receipt = Receipt {
        checkpoint: edited,
        ..log.receipt(3, &log.checkpoint(log.tree.size(), &signer))
    };
    assert!(matches!(
        receipt.verify(&signer.verifier(), &log.entries[3]),
        Err(ReceiptError::Checkpoint(_))
    ));
}

#[test]
fn consistency_and_inclusion_proofs_check_out() {
    let log = Log::new();
    let signer = log_signer("pedigree TEST-ONLY log key");
    let size = log.tree.size();
    let older = log.checkpoint(5, &signer);
    let newer = log.checkpoint(size, &signer);
    let proof = ConsistencyProof {
        old_size: 5,
        new_size: size,
        proof: merkle::consistency_proof(&log.tree, 5, size).unwrap(),
    };
    proof.verify(&older, &newer).unwrap();
    assert!(matches!(
        proof.verify(&newer, &older),
        Err(ReceiptError::SizeMismatch { .. })
    ));
    let inclusion = InclusionProof {
        index: 2,
        tree_size: 5,
        leaf_hash: merkle::leaf_hash(&log.entries[2]),
        proof: merkle::inclusion_proof(&log.tree, 2, 5).unwrap(),
    };
    inclusion.verify(older.checkpoint().root()).unwrap();
    assert!(inclusion.verify(newer.checkpoint().root()).is_err());
}

#[test]
fn proof_documents_refuse_unknown_fields() {
    let log = Log::new();
    let signer = log_signer("pedigree TEST-ONLY log key");
    let receipt = log.receipt(0, &log.checkpoint(log.tree.size(), &signer));
    assert_unknown_fields_refused::<Receipt>(&serde_json::to_value(&receipt).unwrap(), "");
    let proof = ConsistencyProof {
        old_size: 1,
        new_size: 2,
        proof: vec![[0; 32]],
    };
    assert_unknown_fields_refused::<ConsistencyProof>(&serde_json::to_value(&proof).unwrap(), "");
    let inclusion = InclusionProof {
        index: 0,
        tree_size: 1,
        leaf_hash: [0; 32],
        proof: Vec::new(),
    };
    assert_unknown_fields_refused::<InclusionProof>(&serde_json::to_value(&inclusion).unwrap(), "");
}

#[test]
fn encode_agrees_with_the_separate_encodings_for_every_kind() {
    for sample in samples() {
        let signed = signed(&sample);
        let encoded = signed.encode().unwrap();
        assert_eq!(
            encoded.entry,
            signed.entry_bytes().unwrap(),
            "{}",
            sample.name
        );
        assert_eq!(encoded.id, signed.id().unwrap(), "{}", sample.name);
        assert_eq!(
            encoded.signing_message,
            signed.event.signing_message().unwrap(),
            "{}",
            sample.name
        );
    }
}
