-- Custody state derived from the log; every row can be rebuilt by replaying log_entries.
-- `*_idx` columns are the leaf index of the log entry that set the value.
--
-- PostgreSQL flavour. Keys are BYTEA; times are BIGINT unix microseconds.

CREATE TABLE parties (
    gln            TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    lat_e6         INTEGER,
    lon_e6         INTEGER,
    registered_idx BIGINT  NOT NULL
);

CREATE TABLE party_keys (
    public_key  BYTEA  PRIMARY KEY,
    gln         TEXT   NOT NULL,
    valid_from  BIGINT NOT NULL,
    valid_until BIGINT,
    added_idx   BIGINT NOT NULL,
    ended_idx   BIGINT,
    end_reason  TEXT
);

CREATE INDEX party_keys_gln ON party_keys (gln);

CREATE TABLE products (
    gtin           TEXT   PRIMARY KEY,
    owner          TEXT   NOT NULL,
    name           TEXT   NOT NULL,
    registered_idx BIGINT NOT NULL
);

CREATE TABLE batches (
    gtin           TEXT   NOT NULL,
    lot            TEXT   NOT NULL,
    expiry         TEXT   NOT NULL,
    manufactured   TEXT   NOT NULL,
    recalled_by    TEXT,
    recall_reason  TEXT,
    recall_idx     BIGINT,
    registered_idx BIGINT NOT NULL,
    PRIMARY KEY (gtin, lot)
);

CREATE TABLE packs (
    gtin                TEXT   NOT NULL,
    serial              TEXT   NOT NULL,
    lot                 TEXT   NOT NULL,
    status              TEXT   NOT NULL,
    custodian           TEXT   NOT NULL,
    case_sscc           TEXT,
    shipment_sender     TEXT,
    shipment_id         TEXT,
    decommission_reason TEXT,
    decommissioned_by   TEXT,
    decommissioned_at   BIGINT,
    commissioned_idx    BIGINT NOT NULL,
    last_idx            BIGINT NOT NULL,
    PRIMARY KEY (gtin, serial)
);

CREATE INDEX packs_batch ON packs (gtin, lot);
CREATE INDEX packs_case ON packs (case_sscc);
CREATE INDEX packs_custodian ON packs (custodian);

CREATE TABLE cases (
    sscc            TEXT   PRIMARY KEY,
    status          TEXT   NOT NULL,
    custodian       TEXT   NOT NULL,
    parent_sscc     TEXT,
    shipment_sender TEXT,
    shipment_id     TEXT,
    packed_idx      BIGINT NOT NULL,
    last_idx        BIGINT NOT NULL
);

CREATE INDEX cases_parent ON cases (parent_sscc);

CREATE TABLE shipments (
    sender      TEXT   NOT NULL,
    shipment_id TEXT   NOT NULL,
    receiver    TEXT   NOT NULL,
    purpose     TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    ship_idx    BIGINT NOT NULL,
    receive_idx BIGINT,
    PRIMARY KEY (sender, shipment_id)
);

CREATE INDEX shipments_receiver ON shipments (receiver, status);

CREATE TABLE shipment_discrepancies (
    sender      TEXT NOT NULL,
    shipment_id TEXT NOT NULL,
    item        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    PRIMARY KEY (sender, shipment_id, item)
);

CREATE TABLE item_history (
    item      TEXT   NOT NULL,
    entry_idx BIGINT NOT NULL,
    PRIMARY KEY (item, entry_idx)
);

CREATE TABLE request_nonces (
    public_key BYTEA  NOT NULL,
    nonce      TEXT   NOT NULL,
    seen_at    BIGINT NOT NULL,
    PRIMARY KEY (public_key, nonce)
);

CREATE INDEX request_nonces_seen ON request_nonces (seen_at);
