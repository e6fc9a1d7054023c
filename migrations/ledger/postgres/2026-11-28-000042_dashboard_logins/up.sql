-- Regulators' logins to the ledger's web dashboard, and their sessions. Operational data,
-- not derived from the log. A login token and a session id are secrets: only their SHA-256
-- is stored. The form token (CSRF) is bound to its session and is not a credential alone.
--
-- Times are unix microseconds.

CREATE TABLE dashboard_logins (
    name       TEXT   PRIMARY KEY,
    party      TEXT   NOT NULL,
    token_hash BYTEA  NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE dashboard_sessions (
    session_hash BYTEA  PRIMARY KEY,
    login        TEXT   NOT NULL REFERENCES dashboard_logins (name) ON DELETE CASCADE,
    form_token   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
