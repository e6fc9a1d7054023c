-- What every trading-partner service keeps: operator tokens, the outbox of signed events on
-- their way to the ledger, and the witness's verified checkpoints and alerts.
--
-- SQLite flavour: STRICT tables (INTEGER is 64-bit, BLOB = BYTEA). Times are unix microseconds.

CREATE TABLE operator_tokens (
    token_hash BLOB    PRIMARY KEY,          -- SHA-256 of the bearer token; the token is never stored
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,  -- send order
    event_id          BLOB    NOT NULL UNIQUE,
    kind              TEXT    NOT NULL,
    submission        BLOB    NOT NULL,                   -- the signed EventSubmission, JSON
    status            TEXT    NOT NULL,                   -- pending | accepted | rejected | held
    attempts          INTEGER NOT NULL,
    next_attempt_at   INTEGER NOT NULL,
    last_error        TEXT,
    rejection_code    TEXT,
    rejection_message TEXT,
    receipt           TEXT,                               -- the ledger's receipt, JSON
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX outbox_status ON outbox (status, id);

CREATE TABLE witnessed_checkpoints (
    tree_size   INTEGER PRIMARY KEY,
    note        TEXT    NOT NULL,                         -- the signed note as verified
    verified_at INTEGER NOT NULL
) STRICT;

CREATE TABLE witness_alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    detected_at INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    evidence    TEXT    NOT NULL,                         -- JSON: checkpoints and proof
    resolved_at INTEGER,
    resolved_by TEXT
) STRICT;
