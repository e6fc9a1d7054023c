//! Diesel `table!` definitions for the ledger tables, shared by SQLite and PostgreSQL.
//!
//! They mirror the migrations under `migrations/sqlite` and `migrations/postgres` (the table
//! contract in the ledger design notes). SQLite stores every integer as a 64-bit `INTEGER`, so
//! the SQL types below are the PostgreSQL ones: `BigInt` for BIGINT, `Integer` for INTEGER,
//! `SmallInt` for SMALLINT, `Binary` for BLOB/BYTEA. Times are unix microseconds.

// Migration `2026-11-26-000001_log`: the transparency log itself.

diesel::table! {
    /// One leaf of the log (RFC 9162 §2.1); `idx` is the 0-based leaf index.
    log_entries (idx) {
        idx -> BigInt,
        event_id -> Binary,
        leaf_hash -> Binary,
        kind -> Text,
        actor -> Text,
        event_time -> BigInt,
        entry -> Binary,
    }
}

diesel::table! {
    /// The items (GS1 element strings) an entry names, in the order the event lists them.
    event_items (entry_idx, position) {
        entry_idx -> BigInt,
        position -> Integer,
        item -> Text,
    }
}

diesel::table! {
    /// Cached hashes of complete Merkle subtrees: `level` 0 holds leaf hashes.
    tree_nodes (level, idx) {
        level -> SmallInt,
        idx -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    /// Signed checkpoints (C2SP tlog-checkpoint), one per published tree size.
    checkpoints (tree_size) {
        tree_size -> BigInt,
        root_hash -> Binary,
        body_hash -> Binary,
        note -> Text,
        issued_at -> BigInt,
    }
}

diesel::table! {
    /// Witness cosignatures (C2SP tlog-cosignature) on a checkpoint.
    cosignatures (tree_size, witness) {
        tree_size -> BigInt,
        witness -> Text,
        signature_line -> Text,
        cosigned_at -> BigInt,
        received_at -> BigInt,
    }
}

// Migration `2026-11-26-000002_custody_state`: state derived from the log, rebuildable by
// replay. `*_idx` columns are the leaf index of the entry that set the value.

diesel::table! {
    /// Registered parties, keyed by GLN.
    parties (gln) {
        gln -> Text,
        name -> Text,
        role -> Text,
        lat_e6 -> Nullable<Integer>,
        lon_e6 -> Nullable<Integer>,
        registered_idx -> BigInt,
    }
}

diesel::table! {
    /// Signing keys of parties and the period each is valid for.
    party_keys (public_key) {
        public_key -> Binary,
        gln -> Text,
        valid_from -> BigInt,
        valid_until -> Nullable<BigInt>,
        added_idx -> BigInt,
        ended_idx -> Nullable<BigInt>,
        end_reason -> Nullable<Text>,
    }
}

diesel::table! {
    /// Registered products, keyed by GTIN.
    products (gtin) {
        gtin -> Text,
        owner -> Text,
        name -> Text,
        registered_idx -> BigInt,
    }
}

diesel::table! {
    /// Batches (lots) of a product, and their recall if any.
    batches (gtin, lot) {
        gtin -> Text,
        lot -> Text,
        expiry -> Text,
        manufactured -> Text,
        recalled_by -> Nullable<Text>,
        recall_reason -> Nullable<Text>,
        recall_idx -> Nullable<BigInt>,
        registered_idx -> BigInt,
    }
}

diesel::table! {
    /// Serialised packs (GTIN + serial) and where each one is now.
    packs (gtin, serial) {
        gtin -> Text,
        serial -> Text,
        lot -> Text,
        status -> Text,
        custodian -> Text,
        case_sscc -> Nullable<Text>,
        shipment_sender -> Nullable<Text>,
        shipment_id -> Nullable<Text>,
        decommission_reason -> Nullable<Text>,
        decommissioned_by -> Nullable<Text>,
        decommissioned_at -> Nullable<BigInt>,
        commissioned_idx -> BigInt,
        last_idx -> BigInt,
    }
}

diesel::table! {
    /// Packs under a recall that lists serials, until it is lifted.
    pack_recalls (gtin, serial) {
        gtin -> Text,
        serial -> Text,
        lot -> Text,
        recalled_by -> Text,
        recall_idx -> BigInt,
    }
}

diesel::table! {
    /// Logistic units (SSCC), possibly nested in a parent unit.
    cases (sscc) {
        sscc -> Text,
        status -> Text,
        custodian -> Text,
        parent_sscc -> Nullable<Text>,
        shipment_sender -> Nullable<Text>,
        shipment_id -> Nullable<Text>,
        packed_idx -> BigInt,
        last_idx -> BigInt,
    }
}

diesel::table! {
    /// Shipments, keyed by the sender and the sender's shipment id.
    shipments (sender, shipment_id) {
        sender -> Text,
        shipment_id -> Text,
        receiver -> Text,
        purpose -> Text,
        status -> Text,
        ship_idx -> BigInt,
        receive_idx -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// Items whose receipt did not match what the shipment announced.
    shipment_discrepancies (sender, shipment_id, item) {
        sender -> Text,
        shipment_id -> Text,
        item -> Text,
        kind -> Text,
    }
}

diesel::table! {
    /// Which log entries name an item, for its custody history.
    item_history (item, entry_idx) {
        item -> Text,
        entry_idx -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    log_entries,
    event_items,
    tree_nodes,
    checkpoints,
    cosignatures,
    parties,
    party_keys,
    products,
    batches,
    packs,
    pack_recalls,
    cases,
    shipments,
    shipment_discrepancies,
    item_history,
);
