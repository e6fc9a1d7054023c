-- Regulators' logins to the ledger's web dashboard, and their sessions. Operational data,
-- not derived from the log. A login token and a session id are secrets: only their SHA-256
-- is stored. The form token (CSRF) is bound to its session and is not a credential alone.
--
-- SQLite flavour: STRICT, INTEGER for BIGINT, BLOB for BYTEA. Times are unix microseconds.

CREATE TABLE dashboard_logins (
    name       TEXT    PRIMARY KEY NOT NULL,
    party      TEXT    NOT NULL,
    token_hash BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE dashboard_sessions (
    session_hash BLOB    PRIMARY KEY NOT NULL,
    login        TEXT    NOT NULL REFERENCES dashboard_logins (name) ON DELETE CASCADE,
    form_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
