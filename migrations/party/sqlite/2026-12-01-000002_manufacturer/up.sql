-- The manufacturer service's own records: its product master data and long-running jobs
-- (commissioning a million serials reports its progress here). Other roles leave them empty.
--
-- SQLite flavour: STRICT tables. Times are unix microseconds.

CREATE TABLE products (
    gtin        TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    strength    TEXT    NOT NULL,
    dosage_form TEXT    NOT NULL,
    pack_size   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE jobs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    total      INTEGER NOT NULL,
    done       INTEGER NOT NULL,
    detail     TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
