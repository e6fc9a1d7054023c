-- The transparency log itself: leaves (RFC 9162 §2.1), cached Merkle tree nodes,
-- signed checkpoints (C2SP tlog-checkpoint) and witness cosignatures (C2SP tlog-cosignature).
--
-- PostgreSQL flavour. Hashes, keys and encoded entries are BYTEA; times are BIGINT unix
-- microseconds.

CREATE TABLE log_entries (
    idx        BIGINT PRIMARY KEY,           -- 0-based leaf index
    event_id   BYTEA  NOT NULL UNIQUE,
    leaf_hash  BYTEA  NOT NULL,
    kind       TEXT   NOT NULL,
    actor      TEXT   NOT NULL,
    event_time BIGINT NOT NULL,
    entry      BYTEA  NOT NULL
);

CREATE INDEX log_entries_actor ON log_entries (actor, idx);

CREATE TABLE event_items (
    entry_idx BIGINT  NOT NULL,
    position  INTEGER NOT NULL,
    item      TEXT    NOT NULL,
    PRIMARY KEY (entry_idx, position)
);

CREATE TABLE tree_nodes (
    level SMALLINT NOT NULL,
    idx   BIGINT   NOT NULL,
    hash  BYTEA    NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root_hash BYTEA  NOT NULL,
    body_hash BYTEA  NOT NULL,
    note      TEXT   NOT NULL,
    issued_at BIGINT NOT NULL
);

CREATE TABLE cosignatures (
    tree_size      BIGINT NOT NULL,
    witness        TEXT   NOT NULL,
    signature_line TEXT   NOT NULL,
    cosigned_at    BIGINT NOT NULL,
    received_at    BIGINT NOT NULL,
    PRIMARY KEY (tree_size, witness)
);
