//! Diesel `table!` definitions for the party tables, shared by SQLite and PostgreSQL.
//!
//! They mirror `migrations/party/{sqlite,postgres}`. SQLite stores every integer as a 64-bit
//! `INTEGER`, so the SQL types below are the PostgreSQL ones: `BigInt` for BIGINT, `Integer`
//! for INTEGER, `Binary` for BLOB/BYTEA. Times are unix microseconds.

// Migration `2026-12-01-000001_party`: what every party service keeps.

diesel::table! {
    /// Operators' bearer tokens, by the SHA-256 of the token (the token itself is never stored).
    operator_tokens (token_hash) {
        token_hash -> Binary,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Signed events on their way to the ledger, sent in `id` order.
    outbox (id) {
        id -> BigInt,
        event_id -> Binary,
        kind -> Text,
        /// The signed `EventSubmission`, JSON.
        submission -> Binary,
        /// `pending`, `accepted`, `rejected` or `held`.
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        rejection_code -> Nullable<Text>,
        rejection_message -> Nullable<Text>,
        /// The ledger's receipt, JSON.
        receipt -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// Checkpoints of the log this party verified (signature and consistency) as a witness.
    witnessed_checkpoints (tree_size) {
        tree_size -> BigInt,
        note -> Text,
        verified_at -> BigInt,
    }
}

diesel::table! {
    /// Evidence that the log misbehaved; an unresolved alert halts the witness.
    witness_alerts (id) {
        id -> BigInt,
        detected_at -> BigInt,
        kind -> Text,
        message -> Text,
        /// JSON: the checkpoints and the proof involved.
        evidence -> Text,
        resolved_at -> Nullable<BigInt>,
        resolved_by -> Nullable<Text>,
    }
}

// Migration `2026-12-01-000002_manufacturer`: the manufacturer service's own records.

diesel::table! {
    /// The manufacturer's product master data.
    products (gtin) {
        gtin -> Text,
        name -> Text,
        strength -> Text,
        dosage_form -> Text,
        pack_size -> Integer,
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Long-running jobs and their progress.
    jobs (id) {
        id -> BigInt,
        kind -> Text,
        status -> Text,
        total -> BigInt,
        done -> BigInt,
        detail -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    operator_tokens,
    outbox,
    witnessed_checkpoints,
    witness_alerts,
    products,
    jobs,
);
