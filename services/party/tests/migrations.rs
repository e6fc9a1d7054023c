//! The party migrations apply, revert and re-apply on every backend, and each table takes
//! and gives back a row through its `table!` definition.

use diesel::prelude::*;
use pedigree_party::db::schema::{
    jobs, operator_tokens, outbox, products, witness_alerts, witnessed_checkpoints,
};
use pedigree_party::db::testing::TestDatabase;
use pedigree_party::db::{DbConnection, MIGRATIONS};

const MICROS: i64 = 1_764_115_200_000_000;
const BIG: i64 = (1 << 40) + 7;

/// Inserts a row in every table and reads it back unchanged.
fn round_trip_every_table(conn: &mut DbConnection, backend: &str) {
    let hash: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37)).collect();
    diesel::insert_into(operator_tokens::table)
        .values((
            operator_tokens::token_hash.eq(&hash),
            operator_tokens::name.eq("alice"),
            operator_tokens::created_at.eq(MICROS),
        ))
        .execute(conn)
        .unwrap_or_else(|e| panic!("{backend}: operator_tokens: {e}"));
    let token: (Vec<u8>, String, i64) = operator_tokens::table.first(conn).unwrap();
    assert_eq!(token, (hash.clone(), "alice".into(), MICROS), "{backend}");

    for event_id in [hash.clone(), vec![0xff; 32]] {
        diesel::insert_into(outbox::table)
            .values((
                outbox::event_id.eq(event_id),
                outbox::kind.eq("commission"),
                outbox::submission.eq(vec![0u8, 0xff, b'{']),
                outbox::status.eq("pending"),
                outbox::attempts.eq(i32::MAX),
                outbox::next_attempt_at.eq(BIG),
                outbox::last_error.eq(Some("unreachable")),
                outbox::created_at.eq(MICROS),
                outbox::updated_at.eq(MICROS + 1),
            ))
            .execute(conn)
            .unwrap_or_else(|e| panic!("{backend}: outbox: {e}"));
    }
    let ids: Vec<i64> = outbox::table
        .select(outbox::id)
        .order(outbox::id)
        .load(conn)
        .unwrap();
    assert!(
        ids[0] < ids[1],
        "{backend}: ids increase in insertion order"
    );
    let row: (Vec<u8>, i32, i64, Option<String>, Option<String>) = outbox::table
        .find(ids[0])
        .select((
            outbox::submission,
            outbox::attempts,
            outbox::next_attempt_at,
            outbox::last_error,
            outbox::receipt,
        ))
        .first(conn)
        .unwrap();
    assert_eq!(
        row,
        (
            vec![0, 0xff, b'{'],
            i32::MAX,
            BIG,
            Some("unreachable".into()),
            None
        ),
        "{backend}"
    );
    let duplicate = diesel::insert_into(outbox::table)
        .values((
            outbox::event_id.eq(&hash),
            outbox::kind.eq("ship"),
            outbox::submission.eq(vec![1u8]),
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(0),
            outbox::created_at.eq(0),
            outbox::updated_at.eq(0),
        ))
        .execute(conn);
    assert!(
        duplicate.is_err(),
        "{backend}: an event is in the outbox at most once"
    );

    diesel::insert_into(witnessed_checkpoints::table)
        .values((
            witnessed_checkpoints::tree_size.eq(BIG),
            witnessed_checkpoints::note.eq("pedigree.test/log\n1\nAAAA\n\n— sig\n"),
            witnessed_checkpoints::verified_at.eq(MICROS),
        ))
        .execute(conn)
        .unwrap_or_else(|e| panic!("{backend}: witnessed_checkpoints: {e}"));
    let size: i64 = witnessed_checkpoints::table
        .select(witnessed_checkpoints::tree_size)
        .first(conn)
        .unwrap();
    assert_eq!(size, BIG, "{backend}");

    diesel::insert_into(witness_alerts::table)
        .values((
            witness_alerts::detected_at.eq(MICROS),
            witness_alerts::kind.eq("split_view"),
            witness_alerts::message.eq("two roots"),
            witness_alerts::evidence.eq("{}"),
        ))
        .execute(conn)
        .unwrap_or_else(|e| panic!("{backend}: witness_alerts: {e}"));
    let alert: (i64, Option<i64>, Option<String>) = witness_alerts::table
        .select((
            witness_alerts::id,
            witness_alerts::resolved_at,
            witness_alerts::resolved_by,
        ))
        .first(conn)
        .unwrap();
    assert_eq!((alert.1, alert.2), (None, None), "{backend}");

    diesel::insert_into(products::table)
        .values((
            products::gtin.eq("09506000134352"),
            products::name.eq("Paracetamol"),
            products::strength.eq("500 mg"),
            products::dosage_form.eq("tablet"),
            products::pack_size.eq(20),
            products::created_at.eq(MICROS),
        ))
        .execute(conn)
        .unwrap_or_else(|e| panic!("{backend}: products: {e}"));
    let product: (String, String, String, String, i32, i64) = products::table.first(conn).unwrap();
    assert_eq!(product.4, 20, "{backend}");

    diesel::insert_into(jobs::table)
        .values((
            jobs::kind.eq("commission"),
            jobs::status.eq("running"),
            jobs::total.eq(BIG),
            jobs::done.eq(1),
            jobs::created_at.eq(MICROS),
            jobs::updated_at.eq(MICROS),
        ))
        .execute(conn)
        .unwrap_or_else(|e| panic!("{backend}: jobs: {e}"));
    let job: (i64, i64, Option<String>) = jobs::table
        .select((jobs::total, jobs::done, jobs::detail))
        .first(conn)
        .unwrap();
    assert_eq!(job, (BIG, 1, None), "{backend}");
}

#[test]
fn migrations_apply_revert_and_apply_again_on_every_backend() {
    for db in TestDatabase::every_backend() {
        let backend = db.backend().to_string();
        let database = db.open().expect("open");
        let conn = &mut database.dedicated_connection().expect("a connection");

        let applied = MIGRATIONS.run_pending(conn).expect("migrate up");
        assert_eq!(applied.len(), 2, "{backend}: {applied:?}");
        round_trip_every_table(conn, &backend);

        let reverted = MIGRATIONS.revert_all(conn).expect("migrate down");
        assert_eq!(reverted.len(), 2, "{backend}: {reverted:?}");
        assert!(
            outbox::table.count().get_result::<i64>(conn).is_err(),
            "{backend}: down.sql dropped the tables"
        );

        let again = MIGRATIONS.run_pending(conn).expect("migrate up again");
        assert_eq!(again, applied, "{backend}");
        let empty: i64 = outbox::table.count().get_result(conn).unwrap();
        assert_eq!(empty, 0, "{backend}: fresh tables");
        round_trip_every_table(conn, &backend);
        assert!(
            MIGRATIONS.run_pending(conn).unwrap().is_empty(),
            "{backend}: nothing pending"
        );
    }
}
