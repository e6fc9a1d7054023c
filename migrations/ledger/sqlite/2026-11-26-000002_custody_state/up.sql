-- Custody state derived from the log; every row can be rebuilt by replaying log_entries.
-- `*_idx` columns are the leaf index of the log entry that set the value.
--
-- SQLite flavour: STRICT tables, INTEGER for BIGINT (see the log migration). Times are unix
-- microseconds.

CREATE TABLE parties (
    gln            TEXT    PRIMARY KEY NOT NULL,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    lat_e6         INTEGER,
    lon_e6         INTEGER,
    registered_idx INTEGER NOT NULL
) STRICT;

CREATE TABLE party_keys (
    public_key BLOB    PRIMARY KEY NOT NULL,
    gln        TEXT    NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_until INTEGER,
    added_idx  INTEGER NOT NULL,
    ended_idx  INTEGER,
    end_reason TEXT
) STRICT;

CREATE INDEX party_keys_gln ON party_keys (gln);

CREATE TABLE products (
    gtin           TEXT    PRIMARY KEY NOT NULL,
    owner          TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    registered_idx INTEGER NOT NULL
) STRICT;

CREATE TABLE batches (
    gtin           TEXT    NOT NULL,
    lot            TEXT    NOT NULL,
    expiry         TEXT    NOT NULL,
    manufactured   TEXT    NOT NULL,
    recalled_by    TEXT,
    recall_reason  TEXT,
    recall_idx     INTEGER,
    registered_idx INTEGER NOT NULL,
    PRIMARY KEY (gtin, lot)
) STRICT;

CREATE TABLE packs (
    gtin                TEXT    NOT NULL,
    serial              TEXT    NOT NULL,
    lot                 TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    custodian           TEXT    NOT NULL,
    case_sscc           TEXT,
    shipment_sender     TEXT,
    shipment_id         TEXT,
    decommission_reason TEXT,
    decommissioned_by   TEXT,
    decommissioned_at   INTEGER,
    commissioned_idx    INTEGER NOT NULL,
    last_idx            INTEGER NOT NULL,
    PRIMARY KEY (gtin, serial)
) STRICT;

CREATE INDEX packs_batch ON packs (gtin, lot);
CREATE INDEX packs_case ON packs (case_sscc);
CREATE INDEX packs_custodian ON packs (custodian);

CREATE TABLE cases (
    sscc            TEXT    PRIMARY KEY NOT NULL,
    status          TEXT    NOT NULL,
    custodian       TEXT    NOT NULL,
    parent_sscc     TEXT,
    shipment_sender TEXT,
    shipment_id     TEXT,
    packed_idx      INTEGER NOT NULL,
    last_idx        INTEGER NOT NULL
) STRICT;

CREATE INDEX cases_parent ON cases (parent_sscc);

CREATE TABLE shipments (
    sender      TEXT    NOT NULL,
    shipment_id TEXT    NOT NULL,
    receiver    TEXT    NOT NULL,
    purpose     TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    ship_idx    INTEGER NOT NULL,
    receive_idx INTEGER,
    PRIMARY KEY (sender, shipment_id)
) STRICT;

CREATE INDEX shipments_receiver ON shipments (receiver, status);

CREATE TABLE shipment_discrepancies (
    sender      TEXT NOT NULL,
    shipment_id TEXT NOT NULL,
    item        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    PRIMARY KEY (sender, shipment_id, item)
) STRICT;

CREATE TABLE item_history (
    item      TEXT    NOT NULL,
    entry_idx INTEGER NOT NULL,
    PRIMARY KEY (item, entry_idx)
) STRICT;

CREATE TABLE request_nonces (
    public_key BLOB    NOT NULL,
    nonce      TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (public_key, nonce)
) STRICT;

CREATE INDEX request_nonces_seen ON request_nonces (seen_at);
