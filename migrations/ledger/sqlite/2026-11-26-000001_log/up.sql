-- The transparency log itself: leaves (RFC 9162 §2.1), cached Merkle tree nodes,
-- signed checkpoints (C2SP tlog-checkpoint) and witness cosignatures (C2SP tlog-cosignature).
--
-- SQLite flavour. Tables are STRICT so a value of the wrong type is rejected instead of
-- being stored under SQLite's loose type affinity; STRICT only knows INTEGER (64-bit, so it
-- holds BIGINT and SMALLINT), TEXT and BLOB (= BYTEA). A single-column `INTEGER PRIMARY KEY`
-- is the rowid, so appending by leaf index stays one B-tree with no extra index.
-- Times are unix microseconds.

CREATE TABLE log_entries (
    idx        INTEGER PRIMARY KEY,          -- 0-based leaf index
    event_id   BLOB    NOT NULL UNIQUE,
    leaf_hash  BLOB    NOT NULL,
    kind       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    event_time INTEGER NOT NULL,
    entry      BLOB    NOT NULL
) STRICT;

CREATE INDEX log_entries_actor ON log_entries (actor, idx);

CREATE TABLE event_items (
    entry_idx INTEGER NOT NULL,
    position  INTEGER NOT NULL,
    item      TEXT    NOT NULL,
    PRIMARY KEY (entry_idx, position)
) STRICT;

CREATE TABLE tree_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) STRICT;

CREATE TABLE checkpoints (
    tree_size INTEGER PRIMARY KEY,
    root_hash BLOB    NOT NULL,
    body_hash BLOB    NOT NULL,
    note      TEXT    NOT NULL,
    issued_at INTEGER NOT NULL
) STRICT;

CREATE TABLE cosignatures (
    tree_size      INTEGER NOT NULL,
    witness        TEXT    NOT NULL,
    signature_line TEXT    NOT NULL,
    cosigned_at    INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    PRIMARY KEY (tree_size, witness)
) STRICT;
