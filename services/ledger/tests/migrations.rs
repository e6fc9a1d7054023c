//! Migrations, connection setup and the `table!` definitions, checked against a real SQLite
//! file and, when `PEDIGREE_TEST_POSTGRES_URL` names a server, a real PostgreSQL database.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::Duration;

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use diesel::{ExpressionMethods, QueryDsl, QueryableByName, RunQueryDsl};
use pedigree_ledger::db::schema::*;
use pedigree_ledger::db::testing::TestDatabase;
use pedigree_ledger::db::MIGRATIONS;
use pedigree_ledger::db::{
    run_pending_migrations, Backend, ConfigError, Database, DatabaseSettings, DatabaseUrl,
    DbConnection, DbError, SqlitePragmas,
};

const MIGRATION_NAMES: &[&str] = &[
    "2026-11-26-000001_log",
    "2026-11-26-000002_custody_state",
    "2026-11-27-000003_risk_alerts",
    "2026-11-28-000041_alert_triage",
    "2026-11-28-000042_dashboard_logins",
    "2026-11-29-000010_pack_recalls",
    "2026-11-30-000001_drop_request_nonces",
    "2026-12-01-000001_event_lookup_by_time",
];
const MIGRATION_VERSIONS: &[&str] = &[
    "20261126000001",
    "20261126000002",
    "20261127000003",
    "20261128000041",
    "20261128000042",
    "20261129000010",
    "20261130000001",
    "20261201000001",
];

/// Every table and index the migrations create, by name (the ledger table contract).
const SCHEMA_OBJECTS: &[&str] = &[
    // 2026-11-26-000001_log
    "log_entries",
    "log_entries_actor",
    "event_items",
    "tree_nodes",
    "checkpoints",
    "cosignatures",
    // 2026-11-26-000002_custody_state
    "parties",
    "party_keys",
    "party_keys_gln",
    "products",
    "batches",
    "packs",
    "packs_batch",
    "packs_case",
    "packs_custodian",
    "cases",
    "cases_parent",
    "shipments",
    "shipments_receiver",
    "shipment_discrepancies",
    "item_history",
    // (request_nonces and its index: dropped by 2026-11-30-000001)
    // 2026-11-27-000003_risk_alerts
    "risk_alerts",
    "risk_alerts_queue",
    // 2026-11-28-000041_alert_triage
    "risk_alerts_created",
    "risk_alert_notes",
    "risk_alert_notes_alert",
    // 2026-11-28-000042_dashboard_logins
    "dashboard_logins",
    "dashboard_sessions",
    "dashboard_sessions_expiry",
    // 2026-11-29-000010_pack_recalls
    "pack_recalls",
    "pack_recalls_batch",
    "pack_recalls_recall",
    // 2026-12-01-000001_event_lookup_by_time
    "log_entries_time_id",
];

#[derive(QueryableByName)]
struct ObjectName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Names of the tables and explicitly created indexes in the database, leaving out diesel's
/// own `__diesel_schema_migrations` and the indexes backends create for key constraints.
fn schema_objects(conn: &mut DbConnection) -> BTreeSet<String> {
    let rows = match conn {
        DbConnection::Sqlite(conn) => diesel::sql_query(
            "SELECT name FROM sqlite_master \
             WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .load::<ObjectName>(conn),
        DbConnection::Pg(conn) => diesel::sql_query(
            "SELECT c.relname AS name FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i') \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)",
        )
        .load::<ObjectName>(conn),
    }
    .expect("list schema objects");
    rows.into_iter()
        .map(|row| row.name)
        .filter(|name| !name.starts_with("__diesel"))
        .collect()
}

fn contract_objects() -> BTreeSet<String> {
    SCHEMA_OBJECTS.iter().map(|name| name.to_string()).collect()
}

fn open_migrated(db: &TestDatabase) -> Database {
    let database = db.open().expect("open the test database");
    let mut conn = database.get().expect("check out a connection");
    run_pending_migrations(&mut conn).expect("apply migrations");
    drop(conn);
    database
}

#[test]
fn both_backends_embed_the_same_migrations() {
    let sqlite: Vec<String> = MigrationSource::<Sqlite>::migrations(&(MIGRATIONS.sqlite)())
        .expect("read SQLite migrations")
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    let postgres: Vec<String> = MigrationSource::<Pg>::migrations(&(MIGRATIONS.postgres)())
        .expect("read PostgreSQL migrations")
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    assert_eq!(sqlite, MIGRATION_NAMES);
    assert_eq!(postgres, MIGRATION_NAMES);
}

#[test]
fn migrations_apply_revert_and_reapply_on_every_backend() {
    for db in TestDatabase::every_backend() {
        let backend = db.backend();
        let database = db.open().expect("open the test database");
        assert_eq!(database.backend(), backend);
        let mut conn = database.get().expect("check out a connection");
        assert_eq!(conn.backend(), backend);
        assert!(
            schema_objects(&mut conn).is_empty(),
            "{backend}: fresh database"
        );

        let applied = run_pending_migrations(&mut conn).expect("apply migrations");
        assert_eq!(applied, MIGRATION_VERSIONS, "{backend}: first run");
        assert_eq!(
            schema_objects(&mut conn),
            contract_objects(),
            "{backend}: after up"
        );
        let again = run_pending_migrations(&mut conn).expect("re-run migrations");
        assert!(again.is_empty(), "{backend}: nothing left to apply");

        let reverted = MIGRATIONS.revert_all(&mut conn).expect("revert migrations");
        let newest_first: Vec<&str> = MIGRATION_VERSIONS.iter().rev().copied().collect();
        assert_eq!(reverted, newest_first, "{backend}");
        assert!(
            schema_objects(&mut conn).is_empty(),
            "{backend}: down.sql left {:?}",
            schema_objects(&mut conn)
        );

        let reapplied = run_pending_migrations(&mut conn).expect("re-apply migrations");
        assert_eq!(reapplied, MIGRATION_VERSIONS, "{backend}: after revert");
        assert_eq!(
            schema_objects(&mut conn),
            contract_objects(),
            "{backend}: up again"
        );
    }
}

#[test]
fn sqlite_pragmas_are_in_effect_on_every_pooled_and_dedicated_connection() {
    let db = TestDatabase::sqlite();
    let pool_size = NonZeroU32::new(3).expect("3 is not zero");
    let settings = DatabaseSettings::new(db.url().clone(), pool_size, Duration::from_secs(5))
        .expect("valid settings");
    let database = Database::open(settings).expect("open SQLite");
    let expected = SqlitePragmas {
        journal_mode: "wal".to_owned(),
        synchronous: 2, // FULL
        foreign_keys: 1,
        busy_timeout: 5000,
        cache_size: -32768,
        temp_store: 2, // MEMORY
    };
    // Hold every pooled connection at once, so each one is a distinct connection.
    let mut pooled: Vec<_> = (0..pool_size.get())
        .map(|_| database.get().expect("check out a connection"))
        .collect();
    let mut dedicated = database
        .dedicated_connection()
        .expect("dedicated connection");
    for conn in pooled.iter_mut().map(|c| &mut **c).chain([&mut dedicated]) {
        let DbConnection::Sqlite(conn) = conn else {
            panic!("a SQLite URL gave a {} connection", conn.backend());
        };
        assert_eq!(SqlitePragmas::read(conn).expect("read pragmas"), expected);
    }
}

#[test]
fn sqlite_scheme_url_opens_the_file_it_names() {
    let db = TestDatabase::sqlite();
    let url = DatabaseUrl::parse(&format!("sqlite://{}", db.url().as_str())).expect("url");
    assert_eq!(url.backend(), Backend::Sqlite);
    let database = Database::open(DatabaseSettings::with_defaults(url)).expect("open");
    run_pending_migrations(&mut database.get().expect("connection")).expect("migrate");
    assert!(std::path::Path::new(db.url().as_str()).is_file());
}

#[test]
fn postgres_url_never_falls_back_to_sqlite() {
    // Nothing listens on port 1: the connection is refused at once.
    let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:1/ledger").expect("url");
    let error = Database::open(DatabaseSettings::with_defaults(url)).expect_err("no server");
    assert!(
        matches!(
            error,
            DbError::Connect {
                backend: Backend::Postgres,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        !std::path::Path::new("postgres:").exists(),
        "no stray SQLite file"
    );
}

#[test]
fn zero_connection_timeout_is_rejected() {
    let db = TestDatabase::sqlite();
    let result = DatabaseSettings::new(db.url().clone(), NonZeroU32::MIN, Duration::ZERO);
    assert!(matches!(result, Err(ConfigError::ZeroConnectionTimeout)));
}

/// Inserts one row into `$table` through its `table!` columns and reads each column back by
/// name: each value must survive the backend's storage unchanged.
macro_rules! assert_round_trip {
    ($conn:expr, $backend:expr, $table:ident { $($col:ident: $ty:ty = $val:expr),+ $(,)? }) => {{
        $(let $col: $ty = $val;)+
        diesel::insert_into($table::table)
            .values(($($table::$col.eq($col.clone()),)+))
            .execute($conn)
            .unwrap_or_else(|e| panic!("{}: insert into {}: {e}", $backend, stringify!($table)));
        $(
            let stored: $ty = $table::table
                .select($table::$col)
                .first($conn)
                .unwrap_or_else(|e| panic!("{}: select {}.{}: {e}", $backend, stringify!($table), stringify!($col)));
            assert_eq!(stored, $col, "{}: {}.{}", $backend, stringify!($table), stringify!($col));
        )+
        // Loading the whole row into this tuple type only compiles if the list above names
        // every `table!` column, in order, with its Rust type.
        let rows: Vec<($($ty,)+)> = $table::table
            .load($conn)
            .unwrap_or_else(|e| panic!("{}: select from {}: {e}", $backend, stringify!($table)));
        assert_eq!(rows.len(), 1, "{}: {} rows", $backend, stringify!($table));
    }};
}

/// 32 bytes covering 0x00 and 0xff, which a text conversion would mangle.
fn hash(seed: u8) -> Vec<u8> {
    (0..32u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(seed))
        .collect()
}

const MICROS: i64 = 1_764_115_200_000_000; // 2025-11-26T00:00:00Z in unix microseconds
const BIG_IDX: i64 = (1 << 40) + 7; // beyond 32 bits

fn s(text: &str) -> String {
    text.to_owned()
}

#[test]
fn every_table_round_trips_on_every_backend() {
    for db in TestDatabase::every_backend() {
        let backend = db.backend();
        let database = open_migrated(&db);
        let conn = &mut *database.get().expect("check out a connection");

        assert_round_trip!(conn, backend, log_entries {
            idx: i64 = BIG_IDX,
            event_id: Vec<u8> = hash(1)[..16].to_vec(),
            leaf_hash: Vec<u8> = hash(2),
            kind: String = s("ObjectEvent/ADD"),
            actor: String = s("4012345000009"),
            event_time: i64 = MICROS,
            entry: Vec<u8> = vec![0, 0xff, b'{', 0],
        });
        assert_round_trip!(
            conn,
            backend,
            event_items {
                entry_idx: i64 = BIG_IDX,
                position: i32 = i32::MAX,
                item: String = s("(01)09506000134352(21)ABC123"),
            }
        );
        assert_round_trip!(conn, backend, tree_nodes {
            level: i16 = i16::MAX,
            idx: i64 = BIG_IDX,
            hash: Vec<u8> = hash(3),
        });
        assert_round_trip!(conn, backend, checkpoints {
            tree_size: i64 = BIG_IDX + 1,
            root_hash: Vec<u8> = hash(4),
            body_hash: Vec<u8> = hash(5),
            note: String = s("pedigree.example/log\n1099511627784\nAAAA\n\n— sig\n"),
            issued_at: i64 = MICROS,
        });
        assert_round_trip!(
            conn,
            backend,
            cosignatures {
                tree_size: i64 = BIG_IDX + 1,
                witness: String = s("witness.example"),
                signature_line: String = s("— witness.example AAAA"),
                cosigned_at: i64 = MICROS - 1,
                received_at: i64 = MICROS + 1,
            }
        );
        assert_round_trip!(conn, backend, parties {
            gln: String = s("4012345000009"),
            name: String = s("Pharma GmbH"),
            role: String = s("manufacturer"),
            lat_e6: Option<i32> = Some(-33_868_800),
            lon_e6: Option<i32> = None,
            registered_idx: i64 = 0,
        });
        assert_round_trip!(conn, backend, party_keys {
            public_key: Vec<u8> = hash(6),
            gln: String = s("4012345000009"),
            valid_from: i64 = MICROS,
            valid_until: Option<i64> = Some(MICROS * 2),
            added_idx: i64 = 0,
            ended_idx: Option<i64> = None,
            end_reason: Option<String> = Some(s("rotated")),
        });
        assert_round_trip!(
            conn,
            backend,
            products {
                gtin: String = s("09506000134352"),
                owner: String = s("4012345000009"),
                name: String = s("Paracetamol 500 mg"),
                registered_idx: i64 = 1,
            }
        );
        assert_round_trip!(conn, backend, batches {
            gtin: String = s("09506000134352"),
            lot: String = s("L0T-1"),
            expiry: String = s("2027-11-30"),
            manufactured: String = s("2025-11-01"),
            recalled_by: Option<String> = None,
            recall_reason: Option<String> = Some(s("contamination")),
            recall_idx: Option<i64> = Some(BIG_IDX),
            registered_idx: i64 = 2,
        });
        assert_round_trip!(conn, backend, packs {
            gtin: String = s("09506000134352"),
            serial: String = s("ABC123"),
            lot: String = s("L0T-1"),
            status: String = s("active"),
            custodian: String = s("4012345000009"),
            case_sscc: Option<String> = Some(s("340123450000000007")),
            shipment_sender: Option<String> = None,
            shipment_id: Option<String> = Some(s("SHIP-1")),
            decommission_reason: Option<String> = None,
            decommissioned_by: Option<String> = Some(s("4012345000016")),
            decommissioned_at: Option<i64> = Some(MICROS),
            commissioned_idx: i64 = 3,
            last_idx: i64 = BIG_IDX,
        });
        assert_round_trip!(conn, backend, cases {
            sscc: String = s("340123450000000007"),
            status: String = s("packed"),
            custodian: String = s("4012345000009"),
            parent_sscc: Option<String> = None,
            shipment_sender: Option<String> = Some(s("4012345000009")),
            shipment_id: Option<String> = None,
            packed_idx: i64 = 4,
            last_idx: i64 = 5,
        });
        assert_round_trip!(conn, backend, shipments {
            sender: String = s("4012345000009"),
            shipment_id: String = s("SHIP-1"),
            receiver: String = s("4012345000016"),
            purpose: String = s("sale"),
            status: String = s("in_transit"),
            ship_idx: i64 = 6,
            receive_idx: Option<i64> = None,
        });
        assert_round_trip!(
            conn,
            backend,
            shipment_discrepancies {
                sender: String = s("4012345000009"),
                shipment_id: String = s("SHIP-1"),
                item: String = s("(01)09506000134352(21)ABC123"),
                kind: String = s("missing"),
            }
        );
        assert_round_trip!(
            conn,
            backend,
            item_history {
                item: String = s("(01)09506000134352(21)ABC123"),
                entry_idx: i64 = BIG_IDX,
            }
        );
    }
}

fn insert_log_entry(
    conn: &mut DbConnection,
    idx: i64,
    event_id: Vec<u8>,
) -> Result<usize, DbError> {
    Ok(diesel::insert_into(log_entries::table)
        .values((
            log_entries::idx.eq(idx),
            log_entries::event_id.eq(event_id),
            log_entries::leaf_hash.eq(hash(0)),
            log_entries::kind.eq("ObjectEvent/ADD"),
            log_entries::actor.eq("4012345000009"),
            log_entries::event_time.eq(MICROS),
            log_entries::entry.eq(vec![1u8]),
        ))
        .execute(conn)?)
}

#[test]
fn duplicate_keys_and_missing_rows_map_to_their_db_errors() {
    for db in TestDatabase::every_backend() {
        let backend = db.backend();
        let database = open_migrated(&db);
        let conn = &mut *database.get().expect("check out a connection");
        insert_log_entry(conn, 0, vec![1]).expect("first insert");

        for (idx, event_id, constraint) in [
            (0, vec![2], "log_entries_pkey"),
            (1, vec![1], "log_entries_time_id"),
        ] {
            match insert_log_entry(conn, idx, event_id) {
                Err(DbError::UniqueViolation {
                    constraint: name, ..
                }) => {
                    // PostgreSQL names the constraint; SQLite does not.
                    let expected = (backend == Backend::Postgres).then(|| constraint.to_owned());
                    assert_eq!(name, expected, "{backend}");
                }
                other => panic!("{backend}: duplicate {constraint} gave {other:?}"),
            }
        }

        let missing = log_entries::table
            .find(1_i64)
            .select(log_entries::idx)
            .first::<i64>(conn)
            .map_err(DbError::from);
        assert!(
            matches!(missing, Err(DbError::NotFound)),
            "{backend}: {missing:?}"
        );
    }
}

#[test]
fn exhausted_pool_reports_unavailable_until_a_connection_returns() {
    for db in TestDatabase::every_backend() {
        let backend = db.backend();
        let settings = DatabaseSettings::new(
            db.url().clone(),
            NonZeroU32::MIN,
            Duration::from_millis(200),
        )
        .expect("valid settings");
        let database = Database::open(settings).expect("open");
        let held = database.get().expect("the only connection");
        let second = database.get();
        assert!(
            matches!(second, Err(DbError::Unavailable(_))),
            "{backend}: {:?}",
            second.err()
        );
        drop(held);
        assert!(
            database.get().is_ok(),
            "{backend}: connection returned to the pool"
        );
    }
}
