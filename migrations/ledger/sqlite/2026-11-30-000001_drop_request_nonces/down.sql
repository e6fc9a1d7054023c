CREATE TABLE request_nonces (
    public_key BLOB    NOT NULL,
    nonce      TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (public_key, nonce)
) STRICT;

CREATE INDEX request_nonces_seen ON request_nonces (seen_at);
